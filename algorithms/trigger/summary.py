"""The trigger summary (like CMS's HLTrigReport): per item events seen, passed, after prescale, rate, time.

Built in the client from the merged accumulators of each ``L1TriggerMenu``
and ``HLTTriggerMenu`` (so it is the same under every executor, worker count
and chunk size), by ``end_of_job`` (``trigger_summary_<menu>.json``: the
counts; for the HLT without the steps and cost, which need the job's
timing) and by the built-in plugin's ``hepreco_job_end`` hook, which adds it
to ``report.json`` under ``"trigger"`` (printed at the end of the job).

Rate
----
``rate = f x colliding_bunches x revolution_frequency`` with ``f`` the
fraction of events accepted after prescale, and the binomial error
``sqrt(f (1 - f) / N) x colliding_bunches x revolution_frequency`` over the
``N`` events seen.  This is a rate only when every event is a bunch
crossing drawn without bias (a minimum-bias sample with the pileup of the
conditions); on a hard-scatter sample (dijets) the column is not a rate.
"""
from __future__ import annotations

import math

#: algorithm types whose accumulators make a trigger summary
MENU_TYPES = ("L1TriggerMenu", "HLTTriggerMenu")


def menu_summary(name: str, settings: dict, accumulators: dict, us_per_event: float | None) -> dict:
    """The summary table of one menu from its accumulators' JSON (``report.json`` form)."""
    from .menu import load_menu

    menu = load_menu(settings["menu"], settings.get("prescale_set", ""))
    crossing_hz = float(settings["colliding_bunches"]) * float(settings["revolution_frequency"])
    counts = accumulators.get("items", {}).get("value") or [[0, 0, 0]] * len(menu.items)
    seconds = accumulators.get("item_seconds", {}).get("value") or [0.0] * len(menu.items)
    streams = accumulators.get("streams", {}).get("value") or [0] * len(menu.streams)
    events = int(accumulators.get("events", {}).get("value", 0))
    accepted = int(accumulators.get("accepted", {}).get("value", 0))

    def rate(k: int, n: int) -> tuple[float, float]:
        if n <= 0:
            return 0.0, 0.0
        f = k / n
        return f * crossing_hz, math.sqrt(f * (1.0 - f) / n) * crossing_hz

    rows = []
    for item, (seen, before, after), sec in zip(menu.items, counts, seconds):
        r, dr = rate(int(after), int(seen))
        rows.append({"name": item.name, "prescale": item.prescale, "seen": int(seen),
                     "passed_before_prescale": int(before), "passed_after_prescale": int(after),
                     "rate_hz": r, "rate_error_hz": dr,
                     "us_per_event": 1e6 * sec / seen if seen else 0.0, "streams": list(item.streams)})
    total, total_err = rate(accepted, events)
    return {"level": "L1", "algorithm": name, "menu": menu.name, "menu_file": menu.path,
            "menu_sha256": menu.sha256,
            "prescale_set": menu.prescale_set, "events": events, "accepted": accepted,
            "rate_hz": total, "rate_error_hz": total_err, "crossing_rate_hz": crossing_hz,
            "us_per_event": us_per_event, "items": rows,
            "streams": {s: int(n) for s, n in zip(menu.streams, streams)},
            "rate_note": "rate = fraction accepted x colliding bunches x revolution frequency; "
                         "valid for a minimum-bias sample only"}


def _binomial_rate(k: int, n: int, crossing_hz: float) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 0.0
    f = k / n
    return f * crossing_hz, math.sqrt(f * (1.0 - f) / n) * crossing_hz


def _find(entries, name):
    for entry in _algorithms(entries):
        if entry.get("name") == name:
            return entry
    return None


def _leaves(entry):
    if "members" not in entry:
        return [entry]
    return [leaf for m in entry["members"] for leaf in _leaves(m)]


def _seconds(entries, timing) -> float:
    return sum(timing.get(leaf["name"], {}).get("seconds", 0.0) for e in entries for leaf in _leaves(e))


def hlt_counts(name: str, settings: dict, accumulators: dict) -> dict:
    """The counts of one ``HLTTriggerMenu`` from its accumulators' JSON (``report.json`` form).

    Per chain the events seen, seeded (a seed item of the chain accepted the
    event at L1, after the L1 prescale), passed before and after the chain
    prescale, and the rate column; per stream the events accepted; with the
    prescale set of ``settings``.  This is ``trigger_summary_<name>.json``;
    :func:`hlt_summary` adds the steps and the cost from the job's timing.
    """
    from .menu import load_menu

    menu = load_menu(settings["menu"], settings.get("prescale_set", ""))
    crossing_hz = float(settings["colliding_bunches"]) * float(settings["revolution_frequency"])
    counts = accumulators.get("chains", {}).get("value") or [[0, 0, 0, 0]] * len(menu.chains)
    streams = accumulators.get("streams", {}).get("value") or [0] * len(menu.streams)
    events = int(accumulators.get("events", {}).get("value", 0))
    l1_accepted = int(accumulators.get("l1_accepted", {}).get("value", 0))
    accepted = int(accumulators.get("accepted", {}).get("value", 0))
    rows = []
    for chain, (seen, seeded, passed, after) in zip(menu.chains, counts):
        r, dr = _binomial_rate(int(after), int(seen), crossing_hz)
        rows.append({"name": chain.name, "seeds": list(chain.seeds), "prescale": chain.prescale, "seen": int(seen),
                     "seeded": int(seeded), "passed_before_prescale": int(passed),
                     "passed_after_prescale": int(after), "rate_hz": r, "rate_error_hz": dr,
                     "streams": list(chain.streams)})
    rate, rate_err = _binomial_rate(accepted, events, crossing_hz)
    return {"level": "HLT", "algorithm": name, "menu": menu.name, "menu_file": menu.path,
            "menu_sha256": menu.sha256, "prescale_set": menu.prescale_set, "events": events,
            "l1_accepted": l1_accepted, "accepted": accepted, "rate_hz": rate, "rate_error_hz": rate_err,
            "crossing_rate_hz": crossing_hz, "chains": rows,
            "streams": {s: int(n) for s, n in zip(menu.streams, streams)},
            "rate_note": "rate = fraction accepted x colliding bunches x revolution frequency; "
                         "valid for a minimum-bias sample only"}


def hlt_summary(name: str, settings: dict, accumulators: dict, report: dict) -> dict:
    """The HLT summary of one ``HLTTriggerMenu``: :func:`hlt_counts` plus each chain's steps and the cost.

    The cost comes from the job's timing: a chain's is the time of the
    algorithms of its sequence, per event it was seeded with; the HLT's is the
    time of every algorithm of the sequence ``settings["sequence"]`` (shared
    reconstruction included; the chains' sequences when there is no such
    sequence), per event and per L1-accepted event.
    """
    table = hlt_counts(name, settings, accumulators)
    tree = report.get("config", {}).get("algorithms", [])
    timing = report.get("timing", {})
    decisions = report.get("decisions", {})
    chain_entries = []
    for row in table["chains"]:
        entry = _find(tree, row["name"])
        steps = []
        seconds = 0.0
        if entry is not None:
            chain_entries.append(entry)
            for leaf in _leaves(entry):
                t = timing.get(leaf["name"], {})
                seconds += t.get("seconds", 0.0)
                steps.append({"name": leaf["name"], "type": leaf.get("type", ""), "events": int(t.get("events", 0)),
                              "passed": decisions.get(leaf["name"]), "ms": 1e3 * t.get("seconds", 0.0)})
        row["ms_per_seeded_event"] = 1e3 * seconds / row["seeded"] if row["seeded"] else 0.0
        row["steps"] = steps
    hlt = _find(tree, settings.get("sequence", "HLT"))
    total = _seconds([hlt] if hlt is not None else chain_entries, timing)
    events, l1_accepted = table["events"], table["l1_accepted"]
    table.update({"seconds": total, "ms_per_event": 1e3 * total / events if events else 0.0,
                  "ms_per_l1_accepted_event": 1e3 * total / l1_accepted if l1_accepted else 0.0})
    return table


def _algorithms(entries):
    for entry in entries:
        yield entry
        yield from _algorithms(entry.get("members", []))


def trigger_report(report: dict) -> dict:
    """``{menu algorithm: summary}`` for every trigger menu of a finished job's report."""
    out = {}
    for entry in _algorithms(report.get("config", {}).get("algorithms", [])):
        if entry.get("type") not in MENU_TYPES:
            continue
        name = entry["name"]
        acc = report.get("accumulators", {}).get(name)
        if not acc:
            continue
        if entry["type"] == "HLTTriggerMenu":
            out[name] = hlt_summary(name, entry, acc, report)
            continue
        timing = report.get("timing", {}).get(name, {})
        out[name] = menu_summary(name, entry, acc, timing.get("us_per_event"))
    return out
