"""In-time pile-up: Poisson draws, the overlay product, its independence of chunking and executors, the library."""
import math
import os

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms import _random
from hepreco.algorithms.generation import kernels, minbias
from hepreco.algorithms.generation.pileup import PileupOverlay
from hepreco.framework import testing
from hepreco.framework.artefacts import ArtefactSvc, read_metadata
from hepreco.framework.errors import ArtefactError
from hepreco.framework.io import read

from ...conftest import run_job

#: transverse momentum of every particle of the toy library, GeV
TOY_PT = 1.5


def toy_columns(n_events: int = 100, seed: int = 3):
    """Library columns of ``n_events`` interactions of 1 .. 5 photons of pT 1.5 GeV within |eta| < 0.8."""
    rng = np.random.default_rng(seed)
    counts = 1 + np.arange(n_events) % 5
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    n = int(offsets[-1])
    eta, phi = rng.uniform(-0.8, 0.8, n), rng.uniform(-np.pi, np.pi, n)
    columns = {"pdg_id": np.full(n, 22), "charge": np.zeros(n), "px": TOY_PT * np.cos(phi),
               "py": TOY_PT * np.sin(phi), "pz": TOY_PT * np.sinh(eta), "E": TOY_PT * np.cosh(eta)}
    return columns, offsets


@pytest.fixture(scope="module")
def toy_library(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("minbias") / "toy-minbias.h5")
    columns, offsets = toy_columns()
    return minbias.write_library(path, columns, offsets, {"name": "toy-minbias", "version": 3})


def hard_scatter(n_events: int, seed: int = 9) -> ak.Array:
    """Events of 0 .. 3 charged pions with a status field (which the overlay does not carry)."""
    rng = np.random.default_rng(seed)
    counts = np.arange(n_events) % 4
    n = int(counts.sum())
    fields = {"pdg_id": rng.choice([211, -211], n).astype(np.int32), "charge": rng.choice([1.0, -1.0], n).astype(
        np.float32), "px": rng.normal(0, 20, n), "py": rng.normal(0, 20, n), "pz": rng.normal(0, 40, n)}
    fields["E"] = np.sqrt(fields["px"] ** 2 + fields["py"] ** 2 + fields["pz"] ** 2 + 0.0195)
    fields["status"] = np.full(n, 1, dtype=np.int32)
    return ak.unflatten(ak.zip(fields), counts)


@pytest.mark.parametrize("mu", [0.0, 3.0, 20.0, 60.0, 200.0])
def test_number_of_interactions_follows_poisson(mu):
    columns, offsets = toy_columns(50)
    one = {k: v[offsets[:-1]] for k, v in columns.items()}  # one particle per interaction: counts stay small
    n_events = 4000
    empty = {k: np.zeros(0) for k in kernels.COLUMNS}
    _, out_offsets, n_pileup, drawn = kernels.overlay(empty, np.zeros(n_events + 1, dtype=np.int64), one,
                                                      np.arange(51), _random.standalone_seeds(11, n_events), mu)
    assert n_pileup.dtype == np.int32 and len(drawn) == n_pileup.sum() == out_offsets[-1]
    if mu == 0:
        assert n_pileup.sum() == 0
        return
    mean, var = n_pileup.mean(), n_pileup.var(ddof=1)
    assert abs(mean - mu) < 4 * math.sqrt(mu / n_events), mean
    # variance of the sample variance of a Poisson law: (mu + 2 mu^2 (n / (n - 1))) / n
    assert abs(var - mu) < 4 * math.sqrt((mu + 2 * mu * mu) / n_events), var
    # the library interactions are drawn uniformly
    counts = np.bincount(drawn, minlength=50)
    assert counts.min() > 0 and abs(counts.mean() - len(drawn) / 50) < 1e-9


def test_hard_scatter_is_unchanged_and_pileup_particles_are_flagged(toy_library):
    hs = hard_scatter(40)
    result = testing.run(PileupOverlay(mu=20.0, library=toy_library), inputs={"TruthParticles": hs}, seed=4)
    combined, n_pileup = result["TruthParticlesWithPileup"], result["PileupInteractions"]
    assert ak.fields(combined) == ["pdg_id", "charge", "px", "py", "pz", "E", "pileup"]
    assert ak.to_list(result["TruthParticles"]) == ak.to_list(hs)  # the input collection as it was
    assert n_pileup.dtype == np.int32 and n_pileup.shape == (40,) and n_pileup.sum() > 0
    library = minbias.read_library(toy_library)
    sizes = np.diff(library.offsets)
    for e in range(40):
        event = combined[e]
        n_hs = len(hs[e])
        assert ak.to_list(event.pileup[:n_hs]) == [0] * n_hs
        for name in kernels.COLUMNS:  # hard scatter first, value for value
            assert ak.to_list(event[name][:n_hs]) == pytest.approx(ak.to_list(hs[e][name]))
        pileup = ak.to_numpy(event.pileup[n_hs:])
        assert np.all(np.diff(pileup) >= 0) and set(pileup) == set(range(1, n_pileup[e] + 1))
        # every pile-up interaction is a whole library interaction: 1 .. 5 photons of pT 1.5 GeV
        k_counts = np.bincount(pileup, minlength=n_pileup[e] + 1)[1:]
        assert set(k_counts) <= set(sizes)
        pt = np.hypot(ak.to_numpy(event.px[n_hs:]), ak.to_numpy(event.py[n_hs:]))
        np.testing.assert_allclose(pt, TOY_PT, rtol=1e-6)
        assert set(ak.to_numpy(event.pdg_id[n_hs:])) <= {22}


def test_overlay_draws_depend_on_the_event_only(toy_library):
    hs = hard_scatter(30)
    whole = testing.run(PileupOverlay(mu=60.0, library=toy_library), inputs={"TruthParticles": hs}, seed=8)
    chunked = testing.run(PileupOverlay(mu=60.0, library=toy_library), inputs={"TruthParticles": hs}, seed=8,
                          chunk_size=7)
    assert ak.to_list(whole["TruthParticlesWithPileup"]) == ak.to_list(chunked["TruthParticlesWithPileup"])
    np.testing.assert_array_equal(whole["PileupInteractions"], chunked["PileupInteractions"])
    other = testing.run(PileupOverlay(mu=60.0, library=toy_library), inputs={"TruthParticles": hs}, seed=9)
    assert not np.array_equal(whole["PileupInteractions"], other["PileupInteractions"])


JOB = """\
job:
  name: pileup
  evt_max: 24
  chunk_size: 8
  seed: 17
  output_dir: {out}
  progress: false
source:
  type: ParticleGunSource
  pdg_ids: [211, 22]
  eta_range: [-0.9, 0.9]
algorithms:
  - type: PileupOverlay
    mu: 20.0
    library: {library}
outputs:
  - type: Hdf5Output
    name: Events
    collections: [TruthParticles, TruthParticlesWithPileup, PileupInteractions]
"""


@pytest.mark.parametrize("executor, chunk_size", [("sequential", 5), ("processes", 3)])
def test_overlay_is_identical_under_executors_and_chunk_sizes(toy_library, write_job, tmp_path, executor,
                                                              chunk_size):
    job = write_job(JOB.format(out=tmp_path / "reference", library=toy_library))
    run_job(job)
    reference = read(str(tmp_path / "reference" / "Events"))
    run_job(job, f"job.executor={executor}", "job.workers=2", f"job.chunk_size={chunk_size}",
            f"job.output_dir={tmp_path / 'other'}")
    other = read(str(tmp_path / "other" / "Events"))
    assert len(reference) == len(other) == 24
    assert ak.to_list(reference) == ak.to_list(other)
    assert np.asarray(reference.PileupInteractions).sum() > 0


def test_library_round_trips_with_its_metadata(toy_library):
    columns, offsets = toy_columns()
    library = minbias.read_library(toy_library)
    np.testing.assert_array_equal(library.offsets, offsets)
    for name, dtype in minbias.STORED.items():
        assert library.columns[name].dtype == dtype
        np.testing.assert_allclose(library.columns[name], columns[name], rtol=1e-6, atol=1e-6)
    meta = read_metadata(toy_library)
    assert (meta["name"], meta["version"], meta["kind"], meta["schema"]) == ("toy-minbias", 3, "minbias",
                                                                             "hepreco-minbias/1")
    assert (meta["n_events"], meta["n_particles"]) == (100, int(offsets[-1]))
    # the same content gives the same file, byte for byte (no time stamps)
    again = minbias.write_library(toy_library + ".again.h5", columns, offsets, {"name": "toy-minbias", "version": 3})
    with open(toy_library, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()
    os.remove(again)


def test_library_with_a_wrong_sha256_is_refused(toy_library):
    svc = ArtefactSvc()
    good = svc.resolve(PileupOverlay(library=toy_library), "library")
    assert (good.kind, good.label) == ("minbias", "toy-minbias@3")
    pinned = PileupOverlay(library={"path": toy_library, "sha256": good.sha256[:12]})
    assert svc.resolve(pinned, "library").sha256 == good.sha256
    wrong = "0" * 12 if not good.sha256.startswith("0" * 12) else "1" * 12
    with pytest.raises(ArtefactError, match=rf"PileupOverlay.library: artefact toy-minbias@3 .* pins {wrong}"):
        svc.resolve(PileupOverlay(library={"path": toy_library, "sha256": wrong}), "library")


def small_geometry():
    from hepreco.algorithms.calo.geometry import load_geometry
    from hepreco.plugins.builtin import hepreco_register_geometries

    return load_geometry(hepreco_register_geometries()["small"])


def test_an_artefact_of_another_kind_is_refused(tmp_path):
    from hepreco.algorithms.calo.conditions import make_conditions
    from hepreco.algorithms.calo.services import write_conditions

    geometry = small_geometry()
    path = str(tmp_path / "conditions.h5")
    write_conditions(path, geometry, [(0, -1, make_conditions(geometry, 1))])
    with pytest.raises(ArtefactError, match="is a 'conditions' artefact; PileupOverlay.library needs a 'minbias'"):
        ArtefactSvc().resolve(PileupOverlay(library=path), "library")


def test_calorimeter_energy_grows_linearly_with_mu(toy_library):
    """Mean summed cell ET of noise-free hits: hard scatter + mu x (mean ET of one interaction)."""
    from hepreco.algorithms.calo.cell_chain import FastCaloSim

    n_events = 60
    hs = hard_scatter(n_events)
    geometry_svc = {"GeometrySvc": {"geometry": "small"}}
    geometry = small_geometry()
    library = minbias.read_library(toy_library)
    et_per_interaction = TOY_PT * np.diff(library.offsets).mean()
    mean_et = {}
    for mu in (0.0, 5.0, 10.0, 20.0):
        result = testing.run([PileupOverlay(mu=mu, library=toy_library),
                              FastCaloSim(particles="TruthParticlesWithPileup", b_field=0.0)],
                             inputs={"TruthParticles": hs}, services=geometry_svc, seed=5)
        hits = result["CaloHits"]
        et = (hits / np.cosh(geometry.eta)[None, :]).sum(axis=1)
        mean_et[mu] = (et.mean(), et.std() / math.sqrt(n_events), result["PileupInteractions"].mean())
    base = mean_et[0.0][0]
    for mu in (5.0, 10.0, 20.0):
        mean, error, n_mean = mean_et[mu]
        # photons are measured at the EM scale within a few per cent (sampling fluctuations, leakage)
        expected = base + n_mean * et_per_interaction
        assert mean == pytest.approx(expected, rel=0.06), (mu, mean, expected, error)
    slope = np.polyfit([0.0, 5.0, 10.0, 20.0], [mean_et[m][0] for m in (0.0, 5.0, 10.0, 20.0)], 1)[0]
    assert slope == pytest.approx(et_per_interaction, rel=0.08)


@pytest.mark.slow
def test_cell_energy_of_pythia_pileup_is_linear_in_mu(tmp_path, monkeypatch):
    """Mean summed cell ET (cells with noise, small geometry) at mu = 0, 20, 60 from a Pythia library: a line."""
    from hepreco.algorithms.calo.cell_chain import CaloCellBuilder, CaloDigitiser, FastCaloSim

    monkeypatch.setenv("HEPRECO_CACHE", str(tmp_path / "cache"))
    n_events = 150
    empty = ak.unflatten(ak.zip({k: np.zeros(0, dtype=v) for k, v in kernels.DTYPES.items()}),
                         np.zeros(n_events, dtype=np.int64))
    geometry = small_geometry()
    mus = (0.0, 20.0, 60.0)
    means = []
    for mu in mus:
        chain = [PileupOverlay(mu=mu, library_events=300), FastCaloSim(particles="TruthParticlesWithPileup"),
                 CaloDigitiser(), CaloCellBuilder()]
        result = testing.run(chain, inputs={"TruthParticles": empty},
                             services={"GeometrySvc": {"geometry": "small"}}, seed=21)
        et = (result["CaloCells"] / np.cosh(geometry.eta)[None, :]).sum(axis=1)
        means.append((et.mean(), et.std(ddof=1) / math.sqrt(n_events), result["PileupInteractions"].mean()))
    print("mean summed cell ET [GeV] at mu = 0, 20, 60:", [f"{m:.2f} +- {e:.2f}" for m, e, _ in means])
    (e0, s0, _), (e20, s20, n20), (e60, s60, n60) = means
    assert abs(e0) < 4 * s0 + 0.5  # noise only: centred on zero
    per_interaction = (e60 - e0) / n60
    assert per_interaction > 1.0  # a non-diffractive interaction leaves GeV of ET in |eta| < 1
    # linear: the mu = 20 point lies on the line through the other two, within its statistical error
    assert abs(e20 - (e0 + n20 * per_interaction)) < 4 * math.hypot(s20, (n20 / n60) * math.hypot(s60, s0))
