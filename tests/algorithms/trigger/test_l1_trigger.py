"""L1CaloTrigger and L1TriggerMenu in jobs: objects in GeV, isolation, the TriggerDecision, stream selection,
prescales identical under every executor, worker count and chunk size, and the trigger summary."""
import hashlib
import json
import math

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.trigger.decision import L1TriggerMenu, TriggerDecisionFilter
from hepreco.algorithms.trigger.l1calo import L1CaloTrigger
from hepreco.framework import ConfigurationError, testing
from hepreco.framework.io import read

from ...conftest import run_job
from .components import deposit, geometry, geometry_path, tower_centre

MENU = """\
name: test_menu
streams: [physics, express]
isolation:
  Iso: {em_isol: 0.1, offset: 0.5}
items:
  L1_EM10:  {type: EM, threshold: 10.0}
  L1_EM10I: {type: EM, threshold: 10.0, isolation: Iso, streams: [express]}
  L1_2EM5:  {type: EM, threshold: 5.0, multiplicity: 2}
  L1_TAU20: {type: TAU, threshold: 20.0}
  L1_J30:   {type: JET, threshold: 30.0}
  L1_XE20:  {type: XE, threshold: 20.0}
  L1_TE100: {type: TE, threshold: 100.0, streams: [express]}
  L1_HT30:  {type: HT, threshold: 30.0}
default_prescale_set: Nominal
prescale_sets:
  Nominal: {L1_EM10: 2.5, L1_J30: 3, L1_TE100: 1.7}
  Unprescaled: {}
"""


@pytest.fixture
def menu_path(tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text(MENU)
    return str(path)


def l1(menu_path, cells, prescale_set="Unprescaled", **calo):
    algs = [L1CaloTrigger(**calo), L1TriggerMenu(menu=menu_path, prescale_set=prescale_set),
            TriggerDecisionFilter("Express", streams=["express"])]
    return testing.run(algs, inputs={"CaloCells": np.asarray(cells, dtype=np.float32)},
                       services={"GeometrySvc": {"geometry": geometry_path()}})


def test_objects_in_gev_at_their_regions_of_interest_and_the_decision(menu_path):
    g = geometry()
    cells = np.zeros((3, g.n_cells))
    # event 0: an isolated 12 GeV EM deposit (12.2 GeV truncated to 24 counts) in tower (5, 10) with 9 GeV of hadronic energy behind it
    deposit(cells[0], g, "EM", *tower_centre(5, 10), 12.2)
    deposit(cells[0], g, "HAD", *tower_centre(5, 10), 9.2)
    # event 1: the same EM deposit with 4 GeV in a ring tower: it fails the isolation
    deposit(cells[1], g, "EM", *tower_centre(5, 10), 12.2)
    deposit(cells[1], g, "EM", *tower_centre(3, 11), 4.2)
    # event 2: nothing
    result = l1(menu_path, cells)
    em = result["L1EmTau"]
    assert ak.num(em).tolist() == [1, 2, 0]
    first = em[0][0]
    # single tower: the object sits at its first core (4, 9), whose centre is the tower's lower corner
    assert (first.ieta, first.iphi) == (4, 9)
    assert first.eta == pytest.approx(-0.8 + 5 * 0.1) and first.phi == pytest.approx(-math.pi + 10 * 2 * math.pi / 64)
    assert (first.em_counts, first.em_et, first.had_core_counts, first.tau_et, first.em_isol) == (24, 12.0, 18, 21.0, 0.0)
    iso_fail = em[1][ak.argmax(em[1].em_et)]
    assert iso_fail.em_et == 12.0 and iso_fail.em_isol == 4.0
    towers = result["L1CaloTowers"]
    assert towers.shape == (3, 2, 16, 64) and towers[0, 0, 5, 10] == 24 and towers[0, 1, 5, 10] == 18
    jets = result["L1Jets"]
    assert ak.num(jets).tolist() == [1, 1, 0]
    assert jets[0].et.tolist() == [21.0] and jets[1].et.tolist() == [16.0]
    sums = result["L1EnergySums"]
    assert sums.sum_et.tolist() == [21.0, 16.0, 0.0]
    assert sums.met.tolist() == [21.0, pytest.approx(15.5, abs=0.6), 0.0]

    decision = result["TriggerDecision"]
    before = decision.L1.before_prescale
    assert before.L1_EM10.tolist() == [True, True, False]
    assert before.L1_EM10I.tolist() == [True, False, False]          # isolation fails in event 1
    assert before.L1_TAU20.tolist() == [True, False, False]          # 12 + 9 GeV
    assert before.L1_2EM5.tolist() == [False, False, False]
    assert before.L1_XE20.tolist() == [True, False, False]
    assert decision.L1.after_prescale.L1_EM10I.tolist() == [True, False, False]
    assert decision.L1.accept.tolist() == [True, True, False]
    assert decision.streams.express.tolist() == [True, False, False]
    assert decision.streams.physics.tolist() == [True, True, False]
    assert decision.L1.prescale.L1_EM10.tolist() == [1.0] * 3
    assert result["L1TriggerMenuPassed"].tolist() == [True, True, False]
    assert result["ExpressPassed"].tolist() == [True, False, False]


def test_two_em_objects_and_ht_from_jets_above_threshold(menu_path):
    g = geometry()
    cells = np.zeros((1, g.n_cells))
    deposit(cells[0], g, "EM", *tower_centre(2, 5), 6.2)
    deposit(cells[0], g, "EM", *tower_centre(12, 40), 7.2)
    deposit(cells[0], g, "HAD", *tower_centre(8, 20), 40.2)
    result = l1(menu_path, cells, ht_jet_min=6.5)
    em_tau = result["L1EmTau"][0]
    # the hadronic deposit is a tau candidate (EM cluster 0, tau cluster 40 GeV)
    assert sorted(zip(ak.to_list(em_tau.em_et), ak.to_list(em_tau.tau_et))) == [(0.0, 40.0), (6.0, 6.0), (7.0, 7.0)]
    assert sorted(ak.to_list(result["L1Jets"][0].et)) == [6.0, 7.0, 40.0]
    assert result["L1EnergySums"].ht.tolist() == [47.0]        # jets above 6.5 GeV
    before = result["TriggerDecision"].L1.before_prescale
    assert before.L1_2EM5.tolist() == [True] and before.L1_J30.tolist() == [True]
    assert before.L1_HT30.tolist() == [True] and before.L1_TE100.tolist() == [False]


def test_trigger_decision_filter_by_item_and_unknown_names(menu_path):
    g = geometry()
    cells = np.zeros((2, g.n_cells))
    deposit(cells[1], g, "HAD", *tower_centre(8, 20), 40.2)
    algs = [L1CaloTrigger(), L1TriggerMenu(menu=menu_path, prescale_set="Unprescaled"),
            TriggerDecisionFilter("Seed", items=["L1_J30"])]
    result = testing.run(algs, inputs={"CaloCells": cells.astype(np.float32)},
                         services={"GeometrySvc": {"geometry": geometry_path()}})
    assert result["SeedPassed"].tolist() == [False, True]
    algs[2] = TriggerDecisionFilter("Seed", items=["L1_J31"])
    with pytest.raises(Exception, match=r"unknown item 'L1_J31'.*did you mean 'L1_J30'"):
        testing.run(algs, inputs={"CaloCells": cells.astype(np.float32)},
                    services={"GeometrySvc": {"geometry": geometry_path()}})


JOB = """\
job:
  name: l1test
  evt_max: {evt_max}
  chunk_size: {chunk_size}
  executor: {executor}
  workers: {workers}
  seed: 3
  output_dir: {out}
  progress: false
  plugins: [tests.algorithms.trigger.components]
source:
  type: RandomCellSource
services:
  GeometrySvc: {{geometry: {geometry}}}
algorithms:
  - {{type: L1CaloTrigger, name: L1Calo}}
  - {{type: L1TriggerMenu, name: L1Menu, menu: {menu}}}
  - {{type: TriggerDecisionFilter, name: Express, streams: [express]}}
outputs:
  - {{type: Hdf5Output, name: All, collections: [TriggerDecision, L1EnergySums]}}
  - {{type: Hdf5Output, name: ExpressStream, collections: [TriggerDecision], accept: [Express]}}
"""


def run_l1_job(tmp_path, menu_path, tag, evt_max=300, chunk_size=50, executor="sequential", workers=1, *extra):
    out = tmp_path / tag
    job = tmp_path / f"{tag}.yaml"
    job.write_text(JOB.format(evt_max=evt_max, chunk_size=chunk_size, executor=executor, workers=workers, out=out,
                              geometry=geometry_path(), menu=menu_path))
    report = run_job(str(job), *extra)
    return report, read(str(out / "All"), ["TriggerDecision"]), out


def _plain(decision):
    return {(k, f): ak.to_numpy(decision.L1[k][f]) for k in ("before_prescale", "after_prescale")
            for f in ak.fields(decision.L1[k])}


def test_prescaled_decisions_do_not_depend_on_chunking(tmp_path, menu_path):
    _, a, _ = run_l1_job(tmp_path, menu_path, "c50", chunk_size=50)
    _, b, _ = run_l1_job(tmp_path, menu_path, "c7", chunk_size=7)
    assert a.event.tolist() == b.event.tolist() == list(range(300))
    da, db = _plain(a.TriggerDecision), _plain(b.TriggerDecision)
    assert all(np.array_equal(da[k], db[k]) for k in da)
    assert len(da) == 16
    # the prescales did remove events (the test would not see a chunk dependence otherwise)
    before = a.TriggerDecision.L1.before_prescale
    after = a.TriggerDecision.L1.after_prescale
    assert ak.sum(after.L1_EM10) < ak.sum(before.L1_EM10) and ak.sum(after.L1_J30) < ak.sum(before.L1_J30)


def test_prescaled_decisions_identical_under_processes_with_two_workers(tmp_path, menu_path):
    _, a, _ = run_l1_job(tmp_path, menu_path, "seq", chunk_size=50)
    _, b, _ = run_l1_job(tmp_path, menu_path, "proc2", 300, 30, "processes", 2)
    assert b.event.tolist() == a.event.tolist()
    da, db = _plain(a.TriggerDecision), _plain(b.TriggerDecision)
    assert all(np.array_equal(da[k], db[k]) for k in da)


@pytest.mark.slow
def test_prescaled_decisions_identical_under_processes_with_one_worker_and_dask(tmp_path, menu_path):
    _, a, _ = run_l1_job(tmp_path, menu_path, "seq", chunk_size=50)
    _, b, _ = run_l1_job(tmp_path, menu_path, "proc1", 300, 100, "processes", 1)
    _, c, _ = run_l1_job(tmp_path, menu_path, "dask2", 300, 60, "dask", 2)
    da = _plain(a.TriggerDecision)
    for other in (b, c):
        assert other.event.tolist() == a.event.tolist()
        do = _plain(other.TriggerDecision)
        assert all(np.array_equal(da[k], do[k]) for k in da)


def test_trigger_summary_counts_equal_a_direct_count(tmp_path, menu_path):
    report, events, out = run_l1_job(tmp_path, menu_path, "summary", 240, 40)
    decision = events.TriggerDecision
    table = report["trigger"]["L1Menu"]
    assert table["events"] == 240 and table["prescale_set"] == "Nominal" and table["menu"] == "test_menu"
    with open(menu_path, "rb") as f:
        assert table["menu_sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert table["accepted"] == int(ak.sum(decision.L1.accept)) == report["decisions"]["L1Menu"]
    crossing = 2544 * 11245.5
    assert table["crossing_rate_hz"] == pytest.approx(crossing)
    for row in table["items"]:
        name = row["name"]
        after = int(ak.sum(decision.L1.after_prescale[name]))
        assert row["seen"] == 240
        assert row["passed_before_prescale"] == int(ak.sum(decision.L1.before_prescale[name]))
        assert row["passed_after_prescale"] == after
        f = after / 240
        assert row["rate_hz"] == pytest.approx(f * crossing)
        assert row["rate_error_hz"] == pytest.approx(math.sqrt(f * (1 - f) / 240) * crossing)
        assert row["us_per_event"] > 0
    assert table["streams"]["express"] == int(ak.sum(decision.streams.express))
    express = read(str(out / "ExpressStream"), ["TriggerDecision"])
    assert len(express) == table["streams"]["express"] > 0
    assert ak.all(express.TriggerDecision.streams.express)
    with open(out / "report.json") as f:
        assert json.load(f)["trigger"] == report["trigger"]
    with open(out / "trigger_summary_L1Menu.json") as f:
        written = json.load(f)
    assert written["items"] == [{**row, "us_per_event": written["items"][k]["us_per_event"]}
                                for k, row in enumerate(table["items"])]
    assert "us_per_event" not in written and table["us_per_event"] > 0  # the menu's own time: report.json only


def test_prescale_set_chosen_on_the_command_line_and_an_unknown_one(tmp_path, menu_path):
    report, events, _ = run_l1_job(tmp_path, menu_path, "unprescaled", 60, 30, "sequential", 1,
                                   "L1Menu.prescale_set=Unprescaled")
    decision = events.TriggerDecision.L1
    assert report["trigger"]["L1Menu"]["prescale_set"] == "Unprescaled"
    for name in ak.fields(decision.before_prescale):
        assert ak.all(decision.before_prescale[name] == decision.after_prescale[name])
    from hepreco.framework.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"L1Menu.*unknown prescale set 'Unprescald'.*did you mean "
                                                 r"'Unprescaled'"):
        run_l1_job(tmp_path, menu_path, "bad", 10, 10, "sequential", 1, "L1Menu.prescale_set=Unprescald")


def test_a_menu_error_is_reported_at_the_menu_file_line_when_the_job_is_built(tmp_path, menu_path):
    from hepreco.framework.errors import ConfigurationError

    from ...conftest import build_job

    with open(menu_path, "w") as f:
        f.write(MENU.replace("L1_J30:   {type: JET, threshold: 30.0}", "L1_J30:   {type: JET, treshold: 30.0}"))
    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(evt_max=10, chunk_size=10, executor="sequential", workers=1, out=tmp_path / "out",
                              geometry=geometry_path(), menu=menu_path))
    with pytest.raises(ConfigurationError, match=rf"^{menu_path}:10: unknown key of item L1_J30 'treshold'; "
                                                 r"did you mean 'threshold'"):
        build_job(str(job))
    job.write_text(JOB.format(evt_max=10, chunk_size=10, executor="sequential", workers=1, out=tmp_path / "out",
                              geometry=geometry_path(), menu="no_such_menu"))
    with pytest.raises(ConfigurationError, match=rf"^{job}:17: L1Menu.menu: trigger menu 'no_such_menu' not found"):
        build_job(str(job))


def test_a_network_item_reads_the_per_event_scores_and_without_them_the_menu_says_what_to_add(tmp_path):
    path = tmp_path / "nn_menu.yaml"
    path.write_text("name: nn\nitems:\n  L1_NNX: {type: NN, threshold: 0.5, score: signal}\n"
                    "  L1_XE20: {type: XE, threshold: 20.0}\n")
    cells = np.zeros((4, geometry().n_cells), dtype=np.float32)
    scores = ak.zip({"background": [0.9, 0.2, 0.5, 0.0], "signal": [0.1, 0.8, 0.5, 1.0]})
    result = testing.run([L1CaloTrigger(), L1TriggerMenu(menu=str(path))],
                         inputs={"CaloCells": cells, "L1NNScores": scores},
                         services={"GeometrySvc": {"geometry": geometry_path()}})
    decision = result["TriggerDecision"]
    assert ak.to_list(decision.L1.before_prescale.L1_NNX) == [False, True, False, True]
    assert ak.to_list(decision.L1.accept) == [False, True, False, True]
    with pytest.raises(ConfigurationError, match=r"L1TriggerMenu: the menu nn has NN items \(L1_NNX\) but no "
                                                 r"L1NNScores is produced; add an L1NeuralNetwork"):
        testing.run([L1CaloTrigger(), L1TriggerMenu(menu=str(path))], inputs={"CaloCells": cells},
                    services={"GeometrySvc": {"geometry": geometry_path()}})
