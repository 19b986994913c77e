"""Jet plugins in jobs: our finder against the fastjet backend, constituents, matching, substructure, images."""
import glob
import os
import re
import sys

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.jets.jet_finder import match_jets
from hepreco.framework import MissingDependency
from hepreco.framework.cli import main
from hepreco.framework.io.hdf5 import read_hdf5

from ...conftest import build_job, run_job

JOB = """\
job: {{evt_max: 8, chunk_size: 3, output_dir: {out}, progress: false}}
source: {{type: PythiaSource, settings: ["HardQCD:all = on", "PhaseSpace:pTHatMin = 300."]}}
algorithms:
{algorithms}
outputs:
  - {{type: Hdf5Output, name: Jets, collections: {collections}}}
"""


def read(out):
    merged = {}
    for path in sorted(glob.glob(os.path.join(out, "Jets", "*.h5"))):
        for k, v in read_hdf5(path)[1].items():
            merged.setdefault(k, []).append(v)
    return {k: ak.concatenate(v) for k, v in merged.items()}


@pytest.mark.parametrize("finder,R", [("AntiKtJetFinder", 0.4), ("KtJetFinder", 1.0), ("CambridgeJetFinder", 0.4)])
def test_numba_backend_equals_fastjet_backend_in_a_job(write_job, tmp_path, finder, R):
    algorithms = (f"  - {{type: {finder}, name: Ours, R: {R}, ptmin: 10.0, exclude_pdg: [12, 14, 16, 13]}}\n"
                  f"  - {{type: {finder}, name: Theirs, R: {R}, ptmin: 10.0, exclude_pdg: [12, 14, 16, 13], "
                  "backend: fastjet}\n")
    out = str(tmp_path / "out")
    run_job(write_job(JOB.format(out=out, algorithms=algorithms, collections="[OursJets, TheirsJets]")))
    data = read(out)
    ours, theirs = data["OursJets"], data["TheirsJets"]
    assert ak.num(ours).tolist() == ak.num(theirs).tolist() and ak.sum(ak.num(ours)) > 8
    for field in ("pt", "y", "phi", "m"):
        np.testing.assert_allclose(ak.to_numpy(ak.flatten(ours[field])), ak.to_numpy(ak.flatten(theirs[field])),
                                   rtol=1e-9, atol=1e-9)
    assert ak.all(ours.constituents == theirs.constituents)


@pytest.mark.parametrize("module", ["fastjet", "vector"])
def test_fastjet_backend_without_fastjet_is_refused_when_the_job_is_built(monkeypatch, write_job, tmp_path, capsys,
                                                                          module):
    monkeypatch.setitem(sys.modules, module, None)
    algorithms = "  - {type: AntiKtJetFinder, name: Theirs, backend: fastjet}\n"
    out = str(tmp_path / "out")
    path = write_job(JOB.format(out=out, algorithms=algorithms, collections="[TheirsJets]"))
    hint = (f"Theirs \\(backend: fastjet\\) needs the optional package '{module}', which is not installed; "
            'install it with: pip install "hepreco\\[fastjet\\]"')
    with pytest.raises(MissingDependency, match=rf"^{re.escape(path)}:4: {hint}$"):
        build_job(path)
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err.startswith(f"hepreco: error: {path}:4: Theirs (backend: fastjet) needs the "
                                              f"optional package '{module}'")
    assert not os.path.exists(out)


def test_constituent_indices_point_into_the_input_collection(write_job, tmp_path):
    algorithms = "  - {type: AntiKtJetFinder, name: Truth, R: 0.4, ptmin: 20.0, exclude_pdg: [12, 14, 16, 13]}\n"
    out = str(tmp_path / "out")
    run_job(write_job(JOB.format(out=out, algorithms=algorithms, collections="[TruthJets, TruthParticles]")))
    data = read(out)
    jets, parts = data["TruthJets"], data["TruthParticles"]
    for e in range(len(jets)):
        for jet in jets[e]:
            members = parts[e][jet.constituents]
            assert not ak.any(abs(members.pdg_id) == 12) and not ak.any(abs(members.pdg_id) == 13)
            np.testing.assert_allclose([ak.sum(members.px), ak.sum(members.E)], [jet.px, jet.E], rtol=1e-12)


def test_substructure_and_images_in_a_job(write_job, tmp_path):
    algorithms = ("  - {type: AntiKtJetFinder, name: AntiKt10, R: 1.0, ptmin: 200.0, exclude_pdg: [12, 14, 16, 13]}\n"
                  "  - {type: JetSubstructure, name: Sub, jets: AntiKt10Jets}\n"
                  "  - {type: JetImages, name: Images, jets: AntiKt10Jets, pt_min: 0.0}\n")
    out = str(tmp_path / "out")
    run_job(write_job(JOB.format(out=out, algorithms=algorithms, collections="[AntiKt10Jets, Sub, Images]")))
    data = read(out)
    jets, sub, images = data["AntiKt10Jets"], data["Sub"], data["Images"]
    assert ak.num(sub).tolist() == ak.num(jets).tolist() == ak.num(images).tolist()
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(sub.m)), ak.to_numpy(ak.flatten(jets.m)), rtol=1e-9, atol=1e-6)
    flat = ak.flatten(sub)
    assert ak.all(flat.sd_m <= flat.m + 1e-9) and ak.all(flat.tau21 >= 0) and ak.all(flat.tau1 > 0)
    np.testing.assert_allclose(ak.to_numpy(flat.d2), ak.to_numpy(flat.e3 / flat.e2 ** 3), rtol=1e-12)
    pix = ak.to_numpy(ak.flatten(images, axis=1))
    assert pix.shape[1:] == (25, 25)
    np.testing.assert_allclose(np.sqrt((pix.astype(np.float64) ** 2).sum(axis=(1, 2))), 1.0, rtol=1e-5)
    # the leading subjet is centred: the brightest pixel sits in the central 3 x 3 for most jets
    brightest = np.array(np.unravel_index(pix.reshape(len(pix), -1).argmax(axis=1), (25, 25))).T
    assert (np.abs(brightest - 12).max(axis=1) <= 1).mean() >= 0.8


def test_match_jets_picks_the_closest_within_delta_r():
    idx, dr = match_jets(np.array([0.0, 1.0, 2.0]), np.array([0.0, 3.1, 0.0]), np.array([0, 3]),
                         np.array([1.05, 0.1, -3.0]), np.array([-3.1, 0.0, 0.0]), np.array([0, 3]), 0.3)
    assert idx.tolist() == [1, 0, -1]
    np.testing.assert_allclose(dr[:2], [0.1, np.hypot(0.05, 2 * np.pi - 6.2)], rtol=1e-9)


def test_substructure_radius_must_match_the_jet_finder(write_job):
    from hepreco.framework import DataFlowError

    from ...conftest import build_job

    path = write_job("""\
job: {evt_max: 4}
source: {type: PythiaSource, settings: ["HardQCD:all = on", "PhaseSpace:pTHatMin = 200."]}
algorithms:
  - {type: AntiKtJetFinder, name: AntiKt10Truth, R: 1.0, ptmin: 100.0}
  - {type: JetSubstructure, name: Shapes, jets: AntiKt10TruthJets, R: 0.4}
""")
    with pytest.raises(DataFlowError, match=r"Shapes.R = 0.4, but its input 'AntiKt10TruthJets' \(jets\) was made "
                                            r"by 'AntiKt10Truth' with R = 1.0; set Shapes.R: 1.0"):
        build_job(path)
