"""The L1 calorimeter trigger on simulated showers (atlas-like geometry): electrons make isolated EM
objects with the electron's transverse energy, charged pions make tau-like objects with hadronic energy."""
import awkward as ak
import numpy as np
import pytest

from hepreco.framework.io import read

from ...conftest import run_job

JOB = """\
job: {{name: showers, evt_max: 30, chunk_size: 15, seed: 5, output_dir: {out}, progress: false}}
source:
  type: ParticleGunSource
  pdg_ids: [{pdg}]
  energies: [60.0]
  eta_range: [-1.0, 1.0]
services:
  GeometrySvc: {{geometry: atlas-like}}
  ConditionsSvc: {{}}
algorithms:
  - {{type: FastCaloSim, b_field: 0.0}}
  - type: CaloDigitiser
  - type: CaloCellBuilder
  - {{type: L1CaloTrigger, name: L1Calo}}
outputs:
  - {{type: Hdf5Output, name: L1, collections: [TruthParticles, L1EmTau, L1Jets, L1EnergySums]}}
"""


def leading(tmp_path, pdg):
    job = tmp_path / f"gun{pdg}.yaml"
    job.write_text(JOB.format(out=tmp_path / f"out{pdg}", pdg=pdg))
    run_job(str(job))
    events = read(str(tmp_path / f"out{pdg}" / "L1"))
    truth = events.TruthParticles[:, 0]
    et_true = ak.to_numpy(truth.E / np.cosh(np.arcsinh(truth.pz / np.hypot(truth.px, truth.py))))
    objects = events.L1EmTau
    best = objects[ak.argsort(objects.tau_et, axis=1, ascending=False)][:, 0]   # every event has one
    return events, truth, et_true, best


def test_electrons_make_isolated_em_objects_with_their_transverse_energy(tmp_path):
    events, truth, et_true, best = leading(tmp_path, 11)
    ratio = ak.to_numpy(best.em_et) / et_true
    # the best 2-tower pair holds most of the shower, truncated to 0.5 GeV counts, at the EM scale
    assert 0.90 < np.median(ratio) < 1.0 and ratio.min() > 0.85 and ratio.max() < 1.02
    assert np.median(ak.to_numpy(best.em_isol / best.em_et)) < 0.1
    assert np.median(ak.to_numpy(best.had_core)) <= 1.0
    eta_true = np.arcsinh(ak.to_numpy(truth.pz) / np.hypot(ak.to_numpy(truth.px), ak.to_numpy(truth.py)))
    assert np.all(np.abs(ak.to_numpy(best.eta) - eta_true) < 0.15)      # the RoI is within a tower
    assert np.all(ak.to_numpy(events.L1EnergySums.sum_et) > 0.8 * et_true)


def test_charged_pions_put_hadronic_energy_in_the_tau_cluster(tmp_path):
    _, _, et_true, best = leading(tmp_path, 211)
    had = ak.to_numpy(best.had_core)
    assert np.median(had) > 5.0
    tau = ak.to_numpy(best.tau_et) / et_true
    assert np.median(tau) > np.median(ak.to_numpy(best.em_et) / et_true)
    assert 0.5 < np.median(tau) < 0.8          # the calorimeter's non-compensation (e/h) at the EM scale
