"""The Pythia 8 source: per-event seeding, conservation laws, configuration errors."""
import os

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.generation.pythia_source import PythiaSource
from hepreco.framework import ConfigurationError
from hepreco.framework.cli import main
from hepreco.framework.services.random import RandomSvc

from ...conftest import run_job
from ...framework.outputs import histograms, root_stream

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class _Services:
    def __init__(self, seed):
        self.random = RandomSvc(seed=seed)


def make_source(seed=5, **values):
    src = PythiaSource(**values)
    src.services = _Services(seed)
    src.initialize()
    return src


@pytest.fixture(scope="module")
def source():
    return make_source()


def read_all(src, items):
    ids, parts, weights = [], [], []
    for item in items:
        i, data = src.read(item)
        ids.append(i)
        parts.append(data["TruthParticles"])
        weights.append(data["EventWeights"])
    return np.concatenate(ids), ak.concatenate(parts), np.concatenate(weights)


def test_events_do_not_depend_on_chunking(source):
    ids_a, parts_a, w_a = read_all(source, source.work_items(9, 9, run=3))
    ids_b, parts_b, w_b = read_all(source, source.work_items(9, 4, run=3)[::-1])  # other chunks, other order
    order = np.argsort(ids_b["event"])
    assert ids_a["event"].tolist() == list(range(9)) and (ids_a["run"] == 3).all()
    assert ak.to_list(parts_a) == ak.to_list(parts_b[order])
    assert (w_a == w_b[order]).all() and (w_a == 1.0).all()


def test_a_fresh_generator_in_another_process_state_gives_the_same_event(source):
    _, first, _ = read_all(source, source.work_items(3, 3, run=1))
    other = make_source()
    item = other.work_items(3, 3, run=1)[0]
    _, data = other.read(type(item)(0, item.source, None, 2, 3, 1))
    assert ak.to_list(data["TruthParticles"][0]) == ak.to_list(first[2])


def test_final_state_conserves_four_momentum_and_charge(source):
    _, parts, _ = read_all(source, source.work_items(6, 6, run=1))
    e_sum = ak.to_numpy(ak.sum(parts.E, axis=1))
    np.testing.assert_allclose(e_sum, 13600.0, rtol=1e-9)
    for comp in ("px", "py", "pz"):
        np.testing.assert_allclose(ak.to_numpy(ak.sum(parts[comp], axis=1)), 0.0, atol=1e-6 * 13600)
    np.testing.assert_allclose(ak.to_numpy(ak.sum(parts.charge, axis=1)), 2.0, atol=1e-6)  # two protons
    assert ak.all(parts.status > 0)
    # no coloured partons in the final state
    assert not ak.any((abs(parts.pdg_id) <= 6) | (parts.pdg_id == 21))


TTBAR = ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "PhaseSpace:pTHatMin = 300.", "24:onMode = off",
         "24:onIfAny = 1 2 3 4 5"]


def test_hard_process_holds_tops_with_their_b_and_w_and_the_w_quarks_conserving_momentum():
    src = make_source(settings=TTBAR)
    _, data = src.read(src.work_items(3, 3, run=1)[0])
    for event in ak.to_list(data["TruthHardProcess"]):
        tops = [k for k, r in enumerate(event) if r["parent"] == -1]
        assert sorted(event[k]["pdg_id"] for k in tops) == [-6, 6]
        for t in tops:
            children = [k for k, r in enumerate(event) if r["parent"] == t]
            assert sorted(abs(event[k]["pdg_id"]) for k in children) == [5, 24]
            w = next(k for k in children if abs(event[k]["pdg_id"]) == 24)
            quarks = [r for r in event if r["parent"] == w]
            assert len(quarks) == 2 and all(1 <= abs(q["pdg_id"]) <= 5 for q in quarks)
            p4 = lambda rows: np.sum([[r[f] for f in ("px", "py", "pz", "E")] for r in rows], axis=0)  # noqa: E731
            # the W's last copy decays into its quarks; the top's last copy into its b and the W's first copy
            np.testing.assert_allclose(p4(quarks), p4([event[w]]), atol=1e-6 * event[w]["E"] + 1e-9)
            mass = np.sqrt(max(event[t]["E"] ** 2 - sum(event[t][f] ** 2 for f in ("px", "py", "pz")), 0))
            assert 150 < mass < 200
    # final-state particles are untouched by it, and it can be switched off
    off = make_source(settings=TTBAR, hard_process=False)
    _, plain = off.read(off.work_items(3, 3, run=1)[0])
    assert ak.to_list(plain["TruthParticles"]) == ak.to_list(data["TruthParticles"])
    assert ak.num(plain["TruthHardProcess"]).tolist() == [0, 0, 0]


def test_truth_partons_are_the_two_outgoing_partons_of_a_qcd_scattering_and_none_of_a_top_decay():
    src = make_source(settings=["HardQCD:all = on", "PhaseSpace:pTHatMin = 400."])
    _, data = src.read(src.work_items(4, 4, run=1)[0])
    for event in ak.to_list(data["TruthPartons"]):
        assert len(event) == 2 and all(abs(p["pdg_id"]) <= 5 or p["pdg_id"] == 21 for p in event)
        # back to back in the transverse plane, each above the pTHat cut (before any radiation)
        assert event[0]["px"] == pytest.approx(-event[1]["px"]) and event[0]["py"] == pytest.approx(-event[1]["py"])
        assert np.hypot(event[0]["px"], event[0]["py"]) > 400
    top = make_source(settings=TTBAR)
    _, tt = top.read(top.work_items(3, 3, run=1)[0])
    assert ak.num(tt["TruthPartons"]).tolist() == [0, 0, 0]   # the tops are resonances, their quarks decay products


def test_hard_scatter_respects_the_pthat_cut(source):
    _, parts, _ = read_all(source, source.work_items(6, 6, run=1))
    pt = np.sqrt(parts.px ** 2 + parts.py ** 2)
    # each event carries at least ~pTHatMin of transverse momentum on both sides (dijets)
    assert (ak.to_numpy(ak.sum(pt, axis=1)) > 50.0).all()


def test_bad_setting_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="Pythia does not know the setting 'HardQCD:al' "
                                                 r"\(in 'HardQCD:al = on'\); did you mean 'HardQCD:all'"):
        make_source(settings=["HardQCD:al = on"])


GEN_JOB = """\
job:
  evt_max: {evt_max}
source:
  type: PythiaSource
  settings:
    - "HardQCD:all = on"
    - {setting!r}
"""


@pytest.mark.parametrize("setting,message", [
    ("HardQCD:al = on", "Pythia does not know the setting 'HardQCD:al' (in 'HardQCD:al = on'); did you mean "
                        "'HardQCD:all'"),
    ("PhaseSpace:pTHatMin = -5", "Pythia rejects the value in 'PhaseSpace:pTHatMin = -5' (not meaningful or out of "
                                 "range for 'PhaseSpace:pTHatMin')"),
    ("HardQCD all", "Pythia does not understand 'HardQCD all' (expected 'Name = value'"),
])
def test_validate_refuses_settings_pythia_does_not_understand(write_job, capsys, setting, message):
    path = write_job(GEN_JOB.format(evt_max=10, setting=setting))
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err.startswith(f"hepreco: error: {path}:5: PythiaSource.settings: {message}")


def test_validate_refuses_a_generator_without_evt_max(write_job, capsys):
    path = write_job(GEN_JOB.format(evt_max=-1, setting="PhaseSpace:pTHatMin = 50."))
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err.startswith(f"hepreco: error: {path}:2: PythiaSource generates events, so "
                                              "job.evt_max must be a number of events")
    assert main(["validate", path, "--evt-max", "10"]) == 0


def test_generator_needs_evt_max(source):
    with pytest.raises(ConfigurationError, match="set job.evt_max"):
        source.work_items(-1, 10, run=1)


@pytest.mark.parametrize("executor,workers,chunk", [("processes", 2, 4), ("dask", 2, 5), ("sequential", 1, 3)])
def test_main_job_is_identical_under_executors_and_chunk_sizes(tmp_path, executor, workers, chunk):
    job = os.path.join(ROOT, "jobs", "generate.yaml")
    ref, out = str(tmp_path / "ref"), str(tmp_path / "out")
    run_job(job, "job.evt_max=12", "job.chunk_size=6", f"job.output_dir={ref}", "job.progress=false")
    run_job(job, "job.evt_max=12", f"job.chunk_size={chunk}", f"job.output_dir={out}", "job.progress=false",
            f"job.executor={executor}", f"job.workers={workers}")
    assert root_stream(out, "Truth") == root_stream(ref, "Truth")
    assert histograms(out) == histograms(ref)
    assert sorted(histograms(out)) == ["TruthHistograms/eta", "TruthHistograms/multiplicity", "TruthHistograms/pt"]
