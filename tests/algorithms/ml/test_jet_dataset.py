"""The large-R jet dataset: record layout, splits by event, invariance of images and sets, the dataset jobs."""
from __future__ import annotations

import glob
import os

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.generation.pythia_source import generate_collections
from hepreco.algorithms.jets.jet_datasets import SCALAR_FEATURES, JetDatasetMaker, JetTruthLabeller, pt_flat_weights
from hepreco.algorithms.jets.jet_finder import AntiKtJetFinder, JetTruthMatcher
from hepreco.algorithms.ml.splits import split_of
from hepreco.framework import ConfigurationError, PropertyError
from hepreco.framework.io import read
from hepreco.framework.testing import run

from ...conftest import build_job, run_job

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WPRIME = ["NewGaugeBoson:ffbar2Wprime = on", "34:m0 = 1500.", "Wprime:coup2WZ = 1.", "34:onMode = off",
          "34:onIfAll = 23 24", "24:onMode = off", "24:onIfAny = 1 2 3 4 5", "23:onMode = off",
          "23:onIfAny = 1 2 3 4 5"]


def chain(**maker):
    """Truth-level chain: R = 1.0 truth jets are both the jets and their own truth (true_pt == pt)."""
    return [AntiKtJetFinder(name="AntiKt10Truth", R=1.0, ptmin=200.0, exclude_pdg=[12, 14, 16, 13]),
            JetTruthMatcher(name="Matcher", jets="AntiKt10TruthJets", truth="AntiKt10TruthJets",
                            matched="AntiKt10Match"),
            JetTruthLabeller(name="JetTruthLabels", jets="AntiKt10TruthJets"),
            JetDatasetMaker(jets="AntiKt10TruthJets", inputs="TruthParticles", constituent_moments=[], **maker)]


@pytest.fixture(scope="module")
def events():
    _, data = generate_collections(24, WPRIME, seed=2, run=7)
    return data


@pytest.fixture(scope="module")
def dataset(events):
    return run(chain(), inputs=events, run=7, events=range(100, 124))


def test_records_have_the_contract_layout(dataset):
    per_event = dataset["JetDataset"]
    assert len(per_event) == 24
    jets = ak.flatten(per_event, axis=1)
    assert len(jets) >= 24
    types = {"label": np.int32, "weight": np.float32, "split": np.int8, "run": np.int64, "event": np.int64,
             "n_const": np.int32, "true_pt": np.float32, **{name: np.float32 for name in SCALAR_FEATURES}}
    for name, dtype in types.items():
        assert ak.to_numpy(jets[name]).dtype == dtype, name
    for name in ("sqrt_d12", "sqrt_d23", "kt_dr", "z_cut", "qw", "planar_flow", "angularity", "aplanarity",
                 "fox_wolfram_r2", "tau21", "d2", "sd_m"):
        assert name in SCALAR_FEATURES
    image = ak.to_numpy(jets.image)
    assert image.shape == (len(jets), 25, 25) and image.dtype == np.float32
    np.testing.assert_allclose((image.astype(np.float64) ** 2).sum(axis=(1, 2)), 1.0, rtol=1e-5)
    n_const = ak.to_numpy(jets.n_const)
    for name in ("pt_frac", "deta", "dphi", "e_frac"):
        values = ak.to_numpy(jets[f"const_{name}"])
        assert values.shape == (len(jets), 50) and values.dtype == np.float32
        assert all((values[j, n:] == 0).all() and (values[j, :n] != 0).any() for j, n in enumerate(n_const))
    assert not any(f.startswith("const_") and f[6:] not in ("pt_frac", "deta", "dphi", "e_frac")
                   for f in ak.fields(jets))
    # selection, labels (W' jets: W or Z), weight 1, true pT of the jet itself
    pt = ak.to_numpy(jets.pt)
    assert (pt >= 350).all() and (pt < 1000).all() and (np.abs(ak.to_numpy(jets.eta)) < 2.0).all()
    assert set(ak.to_numpy(jets.label).tolist()) <= {1, 2} and (ak.to_numpy(jets.weight) == 1).all()
    np.testing.assert_allclose(ak.to_numpy(jets.true_pt), pt, rtol=1e-6)
    assert (ak.to_numpy(jets.m) > 40).mean() > 0.7 and (ak.to_numpy(jets.sqrt_d12) > 0).all()


def test_split_is_the_shared_function_of_run_and_event_so_no_event_is_in_two_splits(dataset):
    jets = ak.flatten(dataset["JetDataset"], axis=1)
    run_, event, split = (ak.to_numpy(jets[f]) for f in ("run", "event", "split"))
    assert (run_ == 7).all() and set(event.tolist()) <= set(range(100, 124))
    assert np.array_equal(split, split_of(run_, event))
    for e in np.unique(event):
        assert len(set(split[event == e].tolist())) == 1
    # over many events the fractions are the configured ones
    many = split_of(np.full(200_000, 7), np.arange(200_000))
    np.testing.assert_allclose(np.bincount(many) / many.size, [0.8, 0.1, 0.1], atol=0.005)


def test_dataset_does_not_depend_on_chunking(events, dataset):
    chunked = run(chain(), inputs=events, run=7, events=range(100, 124), chunk_size=5)
    assert ak.to_list(chunked["JetDataset"]) == ak.to_list(dataset["JetDataset"])


def rotated(collection, angle):
    c, s = np.cos(angle), np.sin(angle)
    return ak.with_field(ak.with_field(collection, c * collection.px - s * collection.py, "px"),
                         s * collection.px + c * collection.py, "py")


def test_images_sets_and_features_are_invariant_under_a_rotation_of_the_event(events, dataset):
    turned = {**events, "TruthParticles": rotated(events["TruthParticles"], 2.4),
              "TruthHardProcess": rotated(events["TruthHardProcess"], 2.4)}
    other = ak.flatten(run(chain(), inputs=turned, run=7, events=range(100, 124))["JetDataset"], axis=1)
    jets = ak.flatten(dataset["JetDataset"], axis=1)
    assert len(other) == len(jets)
    np.testing.assert_allclose(ak.to_numpy(other.image), ak.to_numpy(jets.image), atol=1e-5)
    for name in ("const_pt_frac", "const_deta", "const_dphi", "const_e_frac", *SCALAR_FEATURES):
        np.testing.assert_allclose(ak.to_numpy(other[name]), ak.to_numpy(jets[name]), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_configuration_errors_are_caught_when_the_job_is_built(events):
    job = os.path.join(ROOT, "jobs", "ml", "jets_qcd.yaml")
    with pytest.raises(ConfigurationError, match=r"JetDatasetMaker: pt_range must be \[min, max\]"):
        build_job(job, "JetDatasetMaker.pt_range=[500.0, 400.0]")
    with pytest.raises(ConfigurationError, match=r"n_pixels must be odd"):
        build_job(job, "JetDatasetMaker.n_pixels=24")
    with pytest.raises(PropertyError, match=r"the labels index \['qcd', 'w', 'z', 'top'\]"):
        JetDatasetMaker(classes=["w", "qcd"])
    maker = chain()[-1]
    maker.constituent_moments = ["center_lambda"]
    with pytest.raises(KeyError, match="TruthParticles has no field center_lambda for constituent_moments"):
        run(chain()[:-1] + [maker], inputs=events)


def test_pt_flat_weights_flatten_every_class_with_mean_one():
    rng = np.random.default_rng(1)
    pt = np.concatenate([350 + rng.exponential(100, 5000), rng.uniform(350, 1000, 2000)])
    label = np.concatenate([np.zeros(5000, int), np.ones(2000, int)])
    bins = np.linspace(350, 1000, 14)
    w = pt_flat_weights(pt, label, bins)
    assert w.dtype == np.float32
    for c in (0, 1):
        mine = (label == c) & (pt < 1000)
        h, _ = np.histogram(pt[mine], bins, weights=w[mine].astype(np.float64))
        filled = h > 0
        np.testing.assert_allclose(h[filled], h[filled].mean(), rtol=1e-5)
        assert w[mine].mean() == pytest.approx(1.0, rel=1e-5)
    assert (w[pt > 1000] == 0).all()
    with pytest.raises(ValueError, match="bins must be increasing pT edges"):
        pt_flat_weights(pt, label, [400.0, 350.0])


@pytest.mark.parametrize("sample", ["wz", "top", "qcd"])
def test_dataset_job_writes_one_hdf5_file_with_the_records(sample, tmp_path):
    job = os.path.join(ROOT, "jobs", "ml", f"jets_{sample}.yaml")
    report = run_job(job, "job.evt_max=6", "job.chunk_size=3", f"job.output_dir={tmp_path}", "job.progress=false")
    assert report["status"] == "ok" and report["events"]["read"] == 6
    assert [os.path.basename(f) for f in glob.glob(str(tmp_path / "JetDataset" / "*.h5"))] == ["file-00000.h5"]
    records = read(str(tmp_path / "JetDataset")).JetDataset
    assert len(records) == 6
    jets = ak.flatten(records, axis=1)
    assert {"label", "weight", "split", "image", "const_center_lambda", "const_em_fraction",
            "true_pt"} <= set(ak.fields(jets))
    expected = {"wz": {1, 2}, "top": {3}, "qcd": {0}}[sample]
    assert set(ak.to_numpy(jets.label).tolist()) <= expected


def test_a_chunk_without_selected_jets_keeps_the_record_layout(events, dataset):
    empty = run(chain(pt_range=[5000.0, 6000.0]), inputs=events)["JetDataset"]
    assert ak.num(empty).tolist() == [0] * len(events["TruthParticles"])
    assert str(empty.type.content) == str(dataset["JetDataset"].type.content)
