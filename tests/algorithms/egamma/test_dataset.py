"""The e/gamma and regression datasets: jobs, record layout, splits, truth, and shower-shape physics on gun events."""
import glob
import os

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.egamma.kernels import SHAPE_NAMES
from hepreco.algorithms.ml.splits import split_of
from hepreco.framework import ConfigurationError
from hepreco.framework.io import read

from ...conftest import build_job, run_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
JOBS = {"egamma_gamma_pi0.yaml": ("EgammaDataset", ["pi0", "photon"]),
        "egamma_e_pi.yaml": ("EgammaDataset", ["pion", "electron"]),
        "egamma_e_gamma.yaml": ("EgammaDataset", ["jet", "electron", "photon"]),
        "regression.yaml": ("RegressionDataset", [])}
PDG = {"pi0": 111, "photon": 22, "pion": 211, "electron": 11, "jet": 0}
ATLAS_WINDOWS = {"PreSampler": (9, 3), "EMB1": (65, 3), "EMB2": (9, 9), "EMB3": (5, 9), "TileBar0": (3, 3),
                 "TileBar1": (3, 3), "TileBar2": (3, 3)}


@pytest.mark.parametrize("job", sorted(JOBS))
def test_dataset_job_writes_one_record_per_matched_event_in_the_shared_format(job, tmp_path):
    collection, classes = JOBS[job]
    report = run_job(os.path.join(ROOT, "jobs", "ml", job), "job.evt_max=12", "job.chunk_size=4",
                     f"job.output_dir={tmp_path}", "job.progress=false")
    assert report["status"] == "ok" and report["events"]["read"] == 12
    files = sorted(glob.glob(str(tmp_path / collection / "*.h5")))
    assert len(files) == 1 and not glob.glob(str(tmp_path / collection / "part-*"))  # combined by events_per_file
    events = read(str(tmp_path / collection))
    rows = ak.flatten(events[collection], axis=1)
    assert len(events) == 12 and 10 <= len(rows) <= 12 and ak.all(ak.num(events[collection]) <= 1)
    types = {f: str(rows[f].type.content) for f in rows.fields}
    for field, dtype in (("label", "int32"), ("weight", "float32"), ("split", "int8"), ("run", "int64"),
                         ("event", "int64"), ("e", "float32"), ("eta", "float32"), ("true_e", "float32"),
                         ("true_pdg", "int32")):
        assert types[field] == dtype, field
    for name in SHAPE_NAMES:
        assert types[name] == "float32"
    for layer, (h, w) in ATLAS_WINDOWS.items():
        assert types[f"cells_{layer}"] == f"{h} * {w} * float32"
    assert ak.all(rows.weight == 1.0)
    assert ak.all(rows.event == ak.flatten(ak.broadcast_arrays(events.event, events[collection].label)[0], axis=1))
    np.testing.assert_array_equal(ak.to_numpy(rows.split), split_of(ak.to_numpy(rows.run), ak.to_numpy(rows.event)))
    if classes:
        expected = [classes.index(next(c for c in classes if PDG[c] == abs(p))) for p in rows.true_pdg.tolist()]
        assert rows.label.tolist() == expected
    else:
        assert ak.all(rows.label == 0)
    # the windows hold the cluster: most of its raw energy is inside them
    inside = sum(ak.to_numpy(ak.sum(ak.sum(rows[f"cells_{layer}"], axis=-1), axis=-1)) for layer in ATLAS_WINDOWS)
    assert np.median(inside / ak.to_numpy(rows.e)) > 0.9


def test_qcd_cluster_dataset_labels_every_energetic_central_cluster_as_jet_with_its_truth(tmp_path):
    report = run_job(os.path.join(ROOT, "jobs", "ml", "egamma_jets.yaml"), "job.evt_max=40", "job.chunk_size=20",
                     f"job.output_dir={tmp_path}", "job.progress=false")
    assert report["status"] == "ok"
    events = read(str(tmp_path / "EgammaDataset"))
    rows = ak.flatten(events.EgammaDataset, axis=1)
    assert len(events) == 40 and len(rows) >= 3
    assert ak.all(rows.label == 0) and ak.all(rows.weight == 1.0)
    assert ak.all(rows.e / np.cosh(rows.eta) > 10.0) and ak.all(abs(rows.eta) < 1.4)
    assert str(rows.cells_EMB1.type.content) == "65 * 3 * float32"
    np.testing.assert_array_equal(ak.to_numpy(rows.split), split_of(ak.to_numpy(rows.run), ak.to_numpy(rows.event)))
    matched = rows[rows.true_pdg != 0]
    assert len(matched) >= len(rows) // 2 and ak.all(matched.true_e > 0)
    assert ak.all(abs(matched.true_eta - matched.eta) < 0.1)


GUN = """\
job: {{evt_max: {n}, chunk_size: 200, output_dir: {out}, progress: false, seed: 5}}
source: {{type: ParticleGunSource, pdg_ids: [22, 111, 211, 11], energies: [{energy}], eta_range: [-1.0, 1.0]}}
services:
  GeometrySvc: {{geometry: atlas-like}}
  ConditionsSvc: {{dead_fraction: 0.0}}
  HistogramSvc: {{png: false}}
algorithms:
  - {{type: FastCaloSim}}
  - {{type: CaloDigitiser}}
  - {{type: CaloCellBuilder}}
  - {{type: TopoClusterMaker}}
  - {{type: EgammaShowerShapes}}
  - {{type: EgammaDatasetMaker, classes: [photon, pi0, pion, electron]{extra}}}
outputs:
  - {{type: Hdf5Output, name: Data, collections: [EgammaDataset]}}
"""


@pytest.fixture(scope="module")
def gun_candidates(tmp_path_factory):
    out = tmp_path_factory.mktemp("egamma")
    path = out / "gun.yaml"
    path.write_text(GUN.format(n=400, out=out, energy=20.0, extra=""))
    run_job(str(path))
    rows = ak.flatten(read(str(out / "Data")).EgammaDataset, axis=1)
    return {name: rows[rows.label == k] for k, name in enumerate(["photon", "pi0", "pion", "electron"])}


def median(rows, field):
    return float(np.median(ak.to_numpy(rows[field])))


def test_every_gun_particle_of_20_gev_gives_a_candidate_with_its_energy(gun_candidates):
    for name, rows in gun_candidates.items():
        assert len(rows) >= 95, name
        assert ak.all(rows.true_e == 20.0) and ak.all(abs(rows.true_pdg) == PDG[name])
    for name in ("photon", "electron", "pi0"):  # EM showers at the EM scale
        assert median(gun_candidates[name], "e") == pytest.approx(20.0, rel=0.05)


def test_photons_are_narrow_and_compact_in_the_middle_layer(gun_candidates):
    photon, pion = gun_candidates["photon"], gun_candidates["pion"]
    assert median(photon, "R_eta") > 0.93 and median(photon, "R_phi") > 0.93
    assert median(photon, "R_eta") > median(pion, "R_eta") + 0.03
    assert median(photon, "w_eta2") < 0.011 and median(photon, "w_eta2") < median(pion, "w_eta2") - 0.002


def test_pi0s_of_20_gev_show_two_strip_maxima_and_a_wider_strip_shower_than_photons(gun_candidates):
    photon, pi0 = gun_candidates["photon"], gun_candidates["pi0"]
    assert median(photon, "E_ratio") > 0.9
    assert median(pi0, "E_ratio") < 0.6
    assert median(pi0, "w_stot") > median(photon, "w_stot") + 0.3


def test_hadrons_leak_into_the_hadronic_layer_and_em_showers_hardly(gun_candidates):
    assert median(gun_candidates["pion"], "R_had") > 0.2
    for name in ("photon", "electron"):
        assert median(gun_candidates[name], "R_had") < 0.05
        assert median(gun_candidates[name], "f1") > 0.03 and median(gun_candidates[name], "f3") < 0.05


def test_dataset_maker_names_the_geometry_layers_when_one_is_unknown(write_job, tmp_path):
    path = write_job(GUN.format(n=4, out=tmp_path, energy=20.0, extra=", cells_shape: {EMB9: [3, 3]}"))
    with pytest.raises(ConfigurationError, match=r"EgammaDatasetMaker: cells_shape names \['EMB9'\], not layers "
                                                  r"of geometry 'atlas-like'; its layers are \['PreSampler', 'EMB1'"):
        build_job(path)


def test_dataset_maker_refuses_an_unknown_class_when_the_job_is_built(write_job, tmp_path):
    path = write_job(GUN.format(n=4, out=tmp_path, energy=20.0, extra="").replace("pion, electron", "pion, tau"))
    with pytest.raises(ConfigurationError, match=r"unknown classes \['tau'\]; known: \['electron'"):
        build_job(path)


def test_shower_shapes_name_the_geometry_layers_when_a_layer_is_unknown(write_job, tmp_path):
    path = write_job(GUN.format(n=4, out=tmp_path, energy=20.0, extra="").replace(
        "{type: EgammaShowerShapes}", "{type: EgammaShowerShapes, middle_layer: EM2}"))
    with pytest.raises(ConfigurationError, match=r"EgammaShowerShapes: middle_layer 'EM2' is not a layer of geometry "
                                                  r"'atlas-like'; its layers are \['PreSampler', 'EMB1', 'EMB2'"):
        build_job(path)


def test_cluster_dataset_maker_refuses_a_label_outside_its_classes(write_job, tmp_path):
    path = write_job(GUN.format(n=4, out=tmp_path, energy=20.0, extra="").replace(
        "type: EgammaDatasetMaker, classes: [photon, pi0, pion, electron]",
        "type: ClusterDatasetMaker, classes: [electron, photon], label_as: jet").replace(
        "ParticleGunSource, pdg_ids", "ParticleGunSource, pdg_ids"))
    with pytest.raises(ConfigurationError, match=r"ClusterDatasetMaker: label_as 'jet' is not one of classes "
                                                  r"\['electron', 'photon'\]"):
        build_job(path)
