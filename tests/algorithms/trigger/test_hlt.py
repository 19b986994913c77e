"""HLT chains: filtered sequences seeded by L1 items (reconstruction only on seeded events), chain prescales
and streams, the HLT level of the TriggerDecision, hypotheses, missing E_T, and the HLT summary with its cost."""
import json
import re
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest

from hepreco.algorithms.trigger.hlt import (HLTEgammaHypo, HLTHTHypo, HLTJetHypo, HLTMETHypo, HLTSeed,
                                            HLTTriggerMenu, MissingETMaker)
from hepreco.algorithms.trigger.menu import load_menu
from hepreco.framework import ConfigurationError, testing
from hepreco.framework.io import read
from hepreco.framework.sequence import Sequence

from ...conftest import run_job
from .components import L1JetsAsJets, geometry_path

MENU = """\
name: hlt_test
streams: [physics, express]
items:
  L1_J30:  {type: JET, threshold: 30.0}
  L1_XE20: {type: XE, threshold: 20.0}
chains:
  HLT_j40:  {seed: L1_J30, streams: [physics, express]}
  HLT_xe30: {seed: [L1_XE20, L1_J30], prescale: 1}
default_prescale_set: Nominal
prescale_sets:
  Nominal: {}
  NoXE: {HLT_xe30: -1}
  Half: {HLT_j40: 2}
"""


@pytest.fixture
def menu_path(tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text(MENU)
    return str(path)


def l1_decision(j30, xe20):
    j30, xe20 = np.asarray(j30, bool), np.asarray(xe20, bool)
    return ak.Array([{"L1": {"accept": bool(a or b), "after_prescale": {"L1_J30": bool(a), "L1_XE20": bool(b)},
                             "before_prescale": {"L1_J30": bool(a), "L1_XE20": bool(b)}}}
                     for a, b in zip(j30, xe20)])


def jets(pts):
    return ak.Array([[{"pt": float(p), "eta": 0.1} for p in event] for event in pts])


def test_menu_chains_seeds_prescales_and_streams(menu_path):
    menu = load_menu(menu_path)
    assert menu.chain_names == ["HLT_j40", "HLT_xe30"]
    assert menu.chains[0].seeds == ("L1_J30",) and menu.chains[0].streams == ("physics", "express")
    assert menu.chains[1].seeds == ("L1_XE20", "L1_J30") and menu.chains[1].streams == ("physics",)
    assert load_menu(menu_path, "NoXE").chains[1].prescale == -1


@pytest.mark.parametrize("old, new, message", [
    ("seed: L1_J30, streams", "seed: L1_J31, streams", r"menu.yaml:7: unknown L1 item 'L1_J31' in seed of HLT_j40; "
                                                       r"did you mean 'L1_J30'"),
    ("HLT_j40:", "j40:", r"menu.yaml:7: chain name 'j40' must look like HLT_j420"),
    ("{seed: [L1_XE20, L1_J30], prescale: 1}", "{prescale: 1}", r"menu.yaml:8: chain HLT_xe30 needs a 'seed'"),
    ("NoXE: {HLT_xe30: -1}", "NoXE: {HLT_xe31: -1}", r"unknown item 'HLT_xe31' in prescale set 'NoXE'; did you mean "
                                                   r"'HLT_xe30'"),
    ("prescale: 1}", "prescale: 0.5}", r"HLT_xe30 prescale = 0.5: a prescale is >= 1"),
])
def test_chain_errors_name_the_menu_file_and_line(menu_path, old, new, message):
    with open(menu_path) as f:
        text = f.read()
    assert old in text
    with open(menu_path, "w") as f:
        f.write(text.replace(old, new))
    with pytest.raises(ConfigurationError, match=message):
        load_menu(menu_path)


def hlt(menu_path, j30, xe20, pts, prescale_set="", with_xe=True):
    seen = L1JetsAsJets("Step", l1_jets="L1Jets", jets="StepJets")
    j40 = Sequence("HLT_j40", mode="and", members=[HLTSeed("HLT_j40_Seed", items=["L1_J30"]), seen,
                                                    HLTJetHypo("HLT_j40_Hypo", jets="StepJets", threshold=40.0)])
    chains = [j40]
    if with_xe:
        chains.append(Sequence("HLT_xe30", mode="and", members=[
            HLTSeed("HLT_xe30_Seed", items=["L1_XE20", "L1_J30"]),
            MissingETMaker("HLT_MET", clusters="Clusters", met="HLTMissingET"),
            HLTMETHypo("HLT_xe30_Hypo", met="HLTMissingET", threshold=30.0)]))
    top = Sequence("HLT", mode="all", members=chains)
    menu = HLTTriggerMenu("HLTMenu", menu=menu_path, prescale_set=prescale_set)
    n = len(j30)
    l1_jets = ak.Array([[{"et": float(p), "eta": 0.1} for p in event] for event in pts])
    # one cluster per event: px = 35 GeV in events 0 and 2, 10 GeV otherwise
    clusters = ak.Array([[{"px": 35.0 if i in (0, 2) else 10.0, "py": 0.0, "eta": 0.0}] for i in range(n)])
    return testing.run([top, menu], inputs={"L1Decision": l1_decision(j30, xe20), "L1Jets": l1_jets,
                                             "Clusters": clusters}), seen


def test_chain_reconstruction_runs_only_on_events_its_seed_accepted(menu_path):
    j30 = [1, 0, 1, 0, 1, 0]
    xe20 = [1, 1, 0, 0, 0, 0]
    pts = [[50.0], [60.0], [35.0], [], [45.0, 41.0], [80.0]]
    result, seen = hlt(menu_path, j30, xe20, pts)
    # the step of HLT_j40 saw the 3 events L1_J30 accepted, not the 6 of the chunk
    assert result.accumulators["Step/seen"].value == 3
    step_jets = ak.to_list(result["StepJets"].pt)
    assert step_jets == [[50.0], [], [35.0], [], [45.0, 41.0], []]
    # missing E_T only where L1_XE20 or L1_J30 accepted (events 0, 1, 2, 4); no record elsewhere
    met = ak.to_list(result["HLTMissingET"].met)
    assert [m is None for m in met] == [False, False, False, True, False, True]
    assert [m for m in met if m is not None] == pytest.approx([35.0, 10.0, 35.0, 10.0])
    decision = result["TriggerDecision"]
    hlt_level = decision.HLT
    assert ak.to_list(hlt_level.seeded.HLT_j40) == [True, False, True, False, True, False]
    assert ak.to_list(hlt_level.before_prescale.HLT_j40) == [True, False, False, False, True, False]
    assert ak.to_list(hlt_level.after_prescale.HLT_j40) == [True, False, False, False, True, False]
    assert ak.to_list(hlt_level.seeded.HLT_xe30) == [True, True, True, False, True, False]
    assert ak.to_list(hlt_level.before_prescale.HLT_xe30) == [True, False, True, False, False, False]
    assert ak.to_list(hlt_level.accept) == [True, False, True, False, True, False]
    assert ak.to_list(decision.streams.express) == [True, False, False, False, True, False]
    assert ak.to_list(decision.streams.physics) == [True, False, True, False, True, False]
    # the L1 level is carried over unchanged
    assert ak.to_list(decision.L1.after_prescale.L1_XE20) == [True, True, False, False, False, False]
    assert result["HLTMenuPassed"].tolist() == ak.to_list(hlt_level.accept)
    counts = result.accumulators["HLTMenu/chains"].value.tolist()
    assert counts == [[6, 3, 2, 2], [6, 4, 2, 2]]
    assert result.accumulators["HLTMenu/l1_accepted"].value == 4


def test_disabled_chain_is_evaluated_but_never_accepts(menu_path):
    result, _ = hlt(menu_path, [1, 1], [1, 1], [[10.0], [10.0]], prescale_set="NoXE")
    hlt_level = result["TriggerDecision"].HLT
    assert ak.to_list(hlt_level.before_prescale.HLT_xe30) == [True, False]
    assert ak.to_list(hlt_level.after_prescale.HLT_xe30) == [False, False]
    assert ak.to_list(hlt_level.prescale.HLT_xe30) == [-1.0, -1.0]


def test_a_chain_without_its_sequence_is_an_error(menu_path):
    with pytest.raises(Exception, match=r"chain HLT_xe30 of menu .*menu.yaml has no decision 'HLT_xe30Passed': add "
                                        r"a filtered sequence named HLT_xe30"):
        hlt(menu_path, [1], [1], [[50.0]], with_xe=False)


def test_a_chain_passing_events_its_seed_did_not_accept_is_an_error(menu_path):
    # HLT_j40 in mode 'all': its hypothesis sees every event, including those L1_J30 rejected
    j40 = Sequence("HLT_j40", mode="all", members=[HLTJetHypo("Hypo", jets="Jets", threshold=40.0)])
    xe = Sequence("HLT_xe30", mode="and", members=[HLTSeed("XeSeed", items=["L1_XE20"])])
    with pytest.raises(Exception, match=r"chain HLT_j40 passed events its seed \['L1_J30'\] did not accept at L1"):
        testing.run([j40, xe, HLTTriggerMenu("HLTMenu", menu=menu_path)],
                    inputs={"L1Decision": l1_decision([0], [1]), "Jets": jets([[50.0]])})


def test_hlt_seed_needs_items():
    with pytest.raises(Exception, match=r"Seed.items: an HLT seed needs its L1 items"):
        HLTSeed("Seed").check(None)


def test_jet_and_ht_hypotheses_count_jets_above_threshold_within_eta():
    data = ak.Array([[{"pt": 120.0, "eta": 0.5}, {"pt": 110.0, "eta": 3.0}],
                     [{"pt": 120.0, "eta": 0.5}, {"pt": 101.0, "eta": -1.0}],
                     []])
    r = testing.run([HLTJetHypo("Two", jets="J", threshold=100.0, multiplicity=2, eta_max=2.5),
                     HLTHTHypo("HT", jets="J", threshold=200.0, jet_pt_min=105.0, eta_max=3.2)],
                    inputs={"J": data})
    assert r["TwoPassed"].tolist() == [False, True, False]
    # HT: 120 + 110 = 230 > 200; 120 only (101 below jet_pt_min); none
    assert r["HTPassed"].tolist() == [True, False, False]


def test_missing_et_of_clusters_with_cuts():
    clusters = ak.Array([[{"px": 30.0, "py": 40.0, "eta": 0.0}, {"px": 0.5, "py": 0.0, "eta": 0.0},
                          {"px": -100.0, "py": 0.0, "eta": 4.0}], []])
    r = testing.run([MissingETMaker("MET", clusters="C", et_min=1.0, eta_max=3.0)], inputs={"C": clusters})
    met = r["MissingET"]
    assert ak.to_list(met.met) == pytest.approx([50.0, 0.0])
    assert ak.to_list(met.ex) == pytest.approx([-30.0, 0.0])
    assert ak.to_list(met.sum_et) == pytest.approx([50.0, 0.0])


def test_egamma_hypothesis_cuts_on_et_and_shower_shapes():
    # E_T = E / cosh(eta): 30 GeV at eta 0; the second cluster fails R_had, the third E_T
    clusters = ak.Array([[{"E": 30.0, "eta": 0.0}], [{"E": 30.0, "eta": 0.0}], [{"E": 20.0, "eta": 0.0}]])
    shapes = ak.Array([[{"R_had": 0.01, "R_eta": 0.97, "w_eta2": 0.010}],
                       [{"R_had": 0.30, "R_eta": 0.97, "w_eta2": 0.010}],
                       [{"R_had": 0.01, "R_eta": 0.97, "w_eta2": 0.010}]])
    r = testing.run([HLTEgammaHypo("E26", clusters="C", shapes="S", threshold=26.0)],
                    inputs={"C": clusters, "S": shapes})
    assert r["E26Passed"].tolist() == [True, False, False]


JOB = """\
job:
  name: hlttest
  evt_max: 120
  chunk_size: 40
  seed: 5
  output_dir: {out}
  progress: false
  plugins: [tests.algorithms.trigger.components]
source:
  type: RandomCellSource
services:
  GeometrySvc: {{geometry: {geometry}}}
algorithms:
  - {{type: L1CaloTrigger, name: L1Calo}}
  - {{type: L1TriggerMenu, name: L1Menu, menu: {menu}, trigger_decision: L1Decision}}
  - type: Sequence
    name: HLT
    members:
      - type: Sequence
        name: HLT_j40
        mode: and
        members:
          - {{type: HLTSeed, name: HLT_j40_Seed, items: [L1_J30]}}
          - {{type: L1JetsAsJets, name: Step}}
          - {{type: HLTJetHypo, name: HLT_j40_Hypo, jets: StepJets, threshold: 40.0}}
      - type: Sequence
        name: HLT_xe30
        mode: and
        members:
          - {{type: HLTSeed, name: HLT_xe30_Seed, items: [L1_XE20, L1_J30]}}
  - {{type: HLTTriggerMenu, name: HLTMenu, menu: {menu}}}
  - {{type: TriggerRates, name: Rates}}
  - {{type: TriggerDecisionFilter, name: J40, items: [HLT_j40]}}
outputs:
  - {{type: Hdf5Output, name: All, collections: [TriggerDecision]}}
"""


def run_hlt_job(tmp_path, menu_path, *overrides, tag="out"):
    out = tmp_path / tag
    job = tmp_path / f"{tag}.yaml"
    job.write_text(JOB.format(out=out, geometry=geometry_path(), menu=menu_path))
    report = run_job(str(job), *overrides)
    return report, read(str(out / "All"), ["TriggerDecision"]).TriggerDecision


def test_hlt_summary_counts_steps_and_cost_per_l1_accepted_event(tmp_path, menu_path):
    report, decision = run_hlt_job(tmp_path, menu_path)
    table = report["trigger"]["HLTMenu"]
    assert table["level"] == "HLT" and table["events"] == 120
    l1_accepted = int(ak.sum(decision.L1.accept))
    assert table["l1_accepted"] == l1_accepted == report["trigger"]["L1Menu"]["accepted"]
    assert table["accepted"] == int(ak.sum(decision.HLT.accept)) == report["decisions"]["HLTMenu"]
    j40 = table["chains"][0]
    seeded = int(ak.sum(decision.L1.after_prescale.L1_J30))
    assert 0 < seeded < 120
    assert j40["seeded"] == seeded == int(ak.sum(decision.HLT.seeded.HLT_j40))
    assert j40["passed_after_prescale"] == int(ak.sum(decision.HLT.after_prescale.HLT_j40)) == report["decisions"]["J40"]
    # the chain's steps: the seed sees every event, the later steps only the seeded ones (early rejection)
    steps = {s["name"]: s for s in j40["steps"]}
    assert [s["name"] for s in j40["steps"]] == ["HLT_j40_Seed", "Step", "HLT_j40_Hypo"]
    assert steps["HLT_j40_Seed"]["events"] == 120 and steps["HLT_j40_Seed"]["passed"] == seeded
    assert steps["Step"]["events"] == seeded == report["accumulators"]["Step"]["seen"]["value"]
    assert steps["HLT_j40_Hypo"]["passed"] == j40["passed_before_prescale"]
    seconds = sum(report["timing"][n]["seconds"] for n in ("HLT_j40_Seed", "Step", "HLT_j40_Hypo", "HLT_xe30_Seed"))
    assert table["seconds"] == pytest.approx(seconds)
    assert table["ms_per_l1_accepted_event"] == pytest.approx(1e3 * seconds / l1_accepted)
    assert table["ms_per_event"] == pytest.approx(1e3 * seconds / 120)
    from hepreco.framework.report import summary

    text = summary(report)
    assert "HLT menu 'hlt_test' (HLTMenu)" in text and "ms per L1-accepted event" in text


def test_the_menu_content_is_in_the_configuration_hash(tmp_path, menu_path):
    from hepreco.framework import config
    from hepreco.framework.job import build

    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(out=tmp_path / "out", geometry=geometry_path(), menu=menu_path))
    before = build(config.load(str(job)))
    assert before.artefacts()["HLTMenu.menu"].path == menu_path
    with open(menu_path, "a") as f:
        f.write("# an edit that changes nothing but the file\n")
    after = build(config.load(str(job)))
    assert after.config_hash() != before.config_hash()
    assert after.artefacts()["L1Menu.menu"].sha256 != before.artefacts()["L1Menu.menu"].sha256
    assert build(config.load(str(job))).config_hash() == after.config_hash()


def test_selecting_a_chain_of_a_decision_without_an_hlt_level_is_an_error():
    from hepreco.algorithms.trigger.decision import TriggerDecisionFilter

    with pytest.raises(Exception, match=r"unknown item 'HLT_j40' in F \(TriggerDecision has no HLT level\)"):
        testing.run([TriggerDecisionFilter("F", items=["HLT_j40"])],
                    inputs={"TriggerDecision": l1_decision([1], [0])})


def test_hlt_summary_file_counts_equal_those_of_the_decisions_written(tmp_path, menu_path):
    report, decision = run_hlt_job(tmp_path, menu_path, "HLTMenu.prescale_set=Half")
    path = tmp_path / "out" / "trigger_summary_HLTMenu.json"
    assert "trigger_summary_HLTMenu.json" in report["summaries"]
    table = json.loads(path.read_text())
    assert table["level"] == "HLT" and table["menu"] == "hlt_test" and table["menu_file"] == menu_path
    assert table["prescale_set"] == "Half"
    assert table["events"] == len(decision) == 120
    assert table["l1_accepted"] == int(ak.sum(decision.L1.accept))
    assert table["accepted"] == int(ak.sum(decision.HLT.accept))
    hlt_level = decision.HLT
    for row in table["chains"]:
        chain = row["name"]
        assert row["seen"] == 120
        assert row["seeded"] == int(ak.sum(hlt_level.seeded[chain]))
        assert row["passed_before_prescale"] == int(ak.sum(hlt_level.before_prescale[chain]))
        assert row["passed_after_prescale"] == int(ak.sum(hlt_level.after_prescale[chain]))
        assert row["prescale"] == ak.to_list(hlt_level.prescale[chain])[0]
    assert [row["name"] for row in table["chains"]] == ["HLT_j40", "HLT_xe30"]
    j40 = table["chains"][0]
    # the prescale of 2 of the set 'Half' removed events (otherwise the columns could be swapped unnoticed)
    assert j40["prescale"] == 2 and 0 < j40["passed_after_prescale"] < j40["passed_before_prescale"]
    assert table["streams"] == {s: int(ak.sum(decision.streams[s])) for s in ("physics", "express")}
    assert table["streams"]["express"] == j40["passed_after_prescale"] < table["streams"]["physics"]
    # the counts of the report's summary (which adds steps and cost) are those of the file
    full = report["trigger"]["HLTMenu"]
    assert {k: full[k] for k in table if k != "chains"} == {k: v for k, v in table.items() if k != "chains"}
    for row, full_row in zip(table["chains"], full["chains"]):
        assert row == {k: full_row[k] for k in row}


def test_a_failing_summary_write_leaves_the_earlier_file_whole_and_nothing_else(tmp_path, menu_path, monkeypatch):
    from hepreco.algorithms.trigger import summary
    from hepreco.framework import config
    from hepreco.framework.job import build

    run_hlt_job(tmp_path, menu_path)
    path = tmp_path / "out" / "trigger_summary_HLTMenu.json"
    before = path.read_text()
    menu = next(a for a in build(config.load(str(tmp_path / "out.yaml"))).algorithms() if a.name == "HLTMenu")
    # a table that cannot be encoded half-way through
    monkeypatch.setattr(summary, "hlt_counts", lambda *a: {"events": 120, "chains": [{"name": "x", "bad": object()}]})
    with pytest.raises(TypeError, match="not JSON serializable"):
        menu.end_of_job({}, str(tmp_path / "out"), {})
    assert path.read_text() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if "trigger_summary" in p.name) == [
        "trigger_summary_HLTMenu.json", "trigger_summary_L1Menu.json"]


def test_hlt_summary_file_is_the_same_under_processes_with_two_workers(tmp_path, menu_path):
    run_hlt_job(tmp_path, menu_path, "HLTMenu.prescale_set=Half", tag="seq")
    report, _ = run_hlt_job(tmp_path, menu_path, "HLTMenu.prescale_set=Half", "job.executor=processes",
                            "job.workers=2", "job.chunk_size=25", tag="proc2")
    assert report["executor"]["name"] == "processes" and report["executor"]["workers"] == 2
    assert report["items"]["completed"] == 5
    seq = json.loads((tmp_path / "seq" / "trigger_summary_HLTMenu.json").read_text())
    proc = json.loads((tmp_path / "proc2" / "trigger_summary_HLTMenu.json").read_text())
    assert proc["events"] == 120 and proc["chains"][0]["passed_after_prescale"] > 0
    assert proc == seq


# -- the chains' sequences are checked when the job is built -------------------------------------------------
XE_SEQUENCE = """\
      - type: Sequence
        name: HLT_xe30
        mode: and
        members:
          - {type: HLTSeed, name: HLT_xe30_Seed, items: [L1_XE20, L1_J30]}
"""


def chain_problem_job(tmp_path, menu_path, problem):
    """The test job with one problem in the sequences of the menu's chains; returns its path."""
    l1_menu = f"  - {{type: L1TriggerMenu, name: L1Menu, menu: {menu_path}, trigger_decision: L1Decision}}\n"
    hlt_menu = f"  - {{type: HLTTriggerMenu, name: HLTMenu, menu: {menu_path}}}\n"
    hlt_sequence = "  - type: Sequence\n    name: HLT\n"
    edits = {
        "missing": [(XE_SEQUENCE, "")],
        "not a sequence": [(XE_SEQUENCE, "      - {type: HLTSeed, name: HLT_xe30, items: [L1_XE20, L1_J30]}\n")],
        "after the menu": [(hlt_menu, ""), (hlt_sequence, hlt_menu + hlt_sequence)],
        "mode": [("name: HLT_xe30\n        mode: and", "name: HLT_xe30\n        mode: all")],
        "items": [("items: [L1_XE20, L1_J30]", "items: [L1_XE20]")],
        "first member": [("          - {type: HLTSeed, name: HLT_j40_Seed, items: [L1_J30]}\n", "")],
        "other L1 decision": [
            (l1_menu, l1_menu + l1_menu.replace("L1Menu", "L1Other").replace("L1Decision", "L1Other")),
            ("items: [L1_XE20, L1_J30]}", "items: [L1_XE20, L1_J30], trigger_decision: L1Other}")],
    }
    text = JOB.format(out=tmp_path / "out", geometry=geometry_path(), menu=menu_path)
    for old, new in edits.get(problem, []):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / f"{problem.replace(' ', '_')}.yaml"
    path.write_text(text)
    return str(path)


CHAIN_PROBLEMS = {
    "missing": r"HLTMenu: chain HLT_xe30 of menu \S*menu\.yaml: the job has no sequence HLT_xe30; add a filtered "
               r"sequence named HLT_xe30 \(mode: and, starting with HLTSeed items \['L1_XE20', 'L1_J30'\]\) "
               r"before HLTMenu$",
    "not a sequence": r"HLTMenu: chain HLT_xe30 of menu \S*menu\.yaml: HLT_xe30 is a HLTSeed, not a filtered "
                      r"sequence; make it a Sequence \(mode: and, starting with HLTSeed items "
                      r"\['L1_XE20', 'L1_J30'\]\)$",
    "after the menu": r"HLTMenu: chain HLT_j40 of menu \S*menu\.yaml: its sequence HLT_j40 runs after HLTMenu; "
                      r"move it before HLTMenu$",
    "mode": r"HLTMenu: chain HLT_xe30 of menu \S*menu\.yaml: its sequence must start with HLTSeed items "
            r"\['L1_XE20', 'L1_J30'\] in mode 'and' \(it has mode 'all'\)$",
    "items": r"HLTMenu: chain HLT_xe30 of menu \S*menu\.yaml: its sequence must start with HLTSeed items "
             r"\['L1_XE20', 'L1_J30'\] in mode 'and' \(its HLTSeed HLT_xe30_Seed has items \['L1_XE20'\]\)$",
    "first member": r"HLTMenu: chain HLT_j40 of menu \S*menu\.yaml: its sequence must start with HLTSeed items "
                    r"\['L1_J30'\] in mode 'and' \(it starts with Step \(L1JetsAsJets\)\)$",
    "other L1 decision": r"HLTMenu: chain HLT_xe30 of menu \S*menu\.yaml: its HLTSeed HLT_xe30_Seed reads "
                         r"'L1Other', HLTMenu reads 'L1Decision'; set HLT_xe30_Seed.trigger_decision: L1Decision$",
}


def build_file(path):
    from hepreco.framework import config
    from hepreco.framework.job import build

    return build(config.load(path))


def line_of(path, text):
    """1-based number of the first line of ``path`` that is ``text``."""
    with open(path) as f:
        return f.read().splitlines().index(text) + 1


@pytest.mark.parametrize("problem", list(CHAIN_PROBLEMS))
def test_chain_sequence_problems_are_errors_when_the_job_is_built(tmp_path, menu_path, problem):
    path = chain_problem_job(tmp_path, menu_path, problem)
    with pytest.raises(ConfigurationError, match=r"^\S+\.yaml:\d+: " + CHAIN_PROBLEMS[problem]):
        build_file(path)


def test_the_job_with_every_chain_sequence_builds(tmp_path, menu_path):
    job = build_file(chain_problem_job(tmp_path, menu_path, "none"))
    assert [c.name for c in job.top.walk()][-4:] == ["HLT_xe30_Seed", "HLTMenu", "Rates", "J40"]


def test_dataflow_scheduling_puts_the_chains_before_the_menu_that_reads_their_decisions(tmp_path, menu_path):
    from hepreco.framework import config, dataflow
    from hepreco.framework.job import build

    path = chain_problem_job(tmp_path, menu_path, "after the menu")
    options = config.load(path)
    config.apply_override(options, "job.scheduling=dataflow")
    job = build(options)
    names = [c.name for c in job.top.members]
    assert names.index("HLT") < names.index("HLTMenu")  # listed after it in the file
    graph = dataflow.graph_text(job.source, job.top)
    menu = graph[graph.index("HLTMenu [HLTTriggerMenu]"):]
    assert "in:  HLT_j40Passed <- HLT_j40" in menu and "in:  HLT_xe30Passed <- HLT_xe30" in menu
    assert '"key:HLT_j40Passed" -> "HLTMenu"' in dataflow.graph_dot(job.source, job.top)


def test_chain_errors_point_at_the_menu_algorithm_or_the_chain_sequence(tmp_path, menu_path):
    missing = chain_problem_job(tmp_path, menu_path, "missing")
    menu_line = line_of(missing, f"  - {{type: HLTTriggerMenu, name: HLTMenu, menu: {menu_path}}}")
    with pytest.raises(ConfigurationError, match=rf"^{re.escape(missing)}:{menu_line}: HLTMenu: chain HLT_xe30"):
        build_file(missing)
    mode = chain_problem_job(tmp_path, menu_path, "mode")
    sequence_line = line_of(mode, "        name: HLT_xe30") - 1  # its '- type: Sequence' line
    with pytest.raises(ConfigurationError, match=rf"^{re.escape(mode)}:{sequence_line}: HLTMenu: chain HLT_xe30"):
        build_file(mode)


@pytest.mark.parametrize("command, problem", [("validate", "missing"), ("run", "first member")])
def test_chain_sequence_problems_are_one_line_cli_errors(tmp_path, menu_path, command, problem):
    path = chain_problem_job(tmp_path, menu_path, problem)
    proc = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", command, path], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert re.match(rf"^hepreco: error: {re.escape(path)}:\d+: " + CHAIN_PROBLEMS[problem], proc.stderr.strip())
    assert not (tmp_path / "out").exists(), "no event was processed"
