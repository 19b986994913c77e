"""The job report (``report.json``) and the summary printed at the end."""
from __future__ import annotations

import importlib.metadata
import platform
import sys

PACKAGES = ("hepreco", "numpy", "numba", "awkward", "uproot", "h5py", "hist", "pluggy", "pyyaml", "pythia8mc",
            "torch", "hls4ml", "fastjet", "dask", "distributed")


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def summary(report: dict) -> str:
    """A short human summary of a report."""
    ev = report["events"]
    wall = report["wall_seconds"]
    rate = ev["processed"] / wall if wall > 0 else 0.0
    lines = [f"hepreco: job {report['job']!r} {report['status']} in {wall:.1f} s "
             f"({report['executor']['name']}, {report['executor']['workers']} worker(s))",
             f"  events   read {ev['read']}, accepted {ev['accepted']}, failed {ev['failed']}"
             f"  ({rate:,.0f} events/s this run)"]
    if report["items"]["resumed"]:
        lines.append(f"  items    {report['items']['total']} ({report['items']['resumed']} reused from an earlier run)")
    timing = sorted(report["timing"].items(), key=lambda kv: -kv[1]["seconds"])
    if timing:
        lines.append("  time     " + ", ".join(f"{name} {row['us_per_event']:.1f} us/evt" for name, row in timing[:5])
                     + "  (largest total first; per event the algorithm ran on)")
    decisions = report.get("decisions", {})
    if decisions:
        shown = [f"{k} {v}" for k, v in decisions.items() if k != "TopSequence"]
        if shown:
            more = f", ... ({len(shown) - 8} more in report.json)" if len(shown) > 8 else ""
            lines.append("  passed   " + ", ".join(shown[:8]) + more)
    for table in report.get("trigger", {}).values():
        lines.extend(trigger_lines(table))
    counts = {name: row for name, row in report["messages"].items()}
    if counts:
        lines.append("  messages " + ", ".join(f"{name}: " + " ".join(f"{lvl} {n}" for lvl, n in row.items())
                                              for name, row in counts.items()))
    if report["errors"]:
        lines.append(f"  errors   {len(report['errors'])} (see report.json):")
        for err in report["errors"][:5]:
            evs = err["events"]
            span = f"event {evs[0]}" if len(evs) == 1 else f"{len(evs)} events"
            lines.append(f"           {err['algorithm']} [{err['policy']}] {span}: {err['exception']}: {err['message']}")
    failed = {f["index"] for f in report["failed_items"]}
    for entry in report.get("retried_items", []):
        if entry["index"] not in failed:
            lines.append(f"  retried  item {entry['index']} (events {entry['first']}..{entry['last'] - 1}) completed "
                         f"after {entry['attempts']} attempts: {entry['reasons'][-1]}")
    for failure in report["failed_items"]:
        lines.append(f"  FAILED   item {failure['index']} (events {failure['first']}..{failure['last'] - 1}): "
                     f"{failure['reason']} after {failure['attempts']} attempts")
    n_files = sum(row["files"] for row in report["outputs"])
    if n_files:
        streams = [row["stream"] for row in report["outputs"] if row["files"]]
        size = sum(row["bytes"] for row in report["outputs"])
        lines.append(f"  outputs  {', '.join(streams)}: {n_files} file(s), {size / 1e6:.2f} MB")
    if report["histograms"]:
        lines.append(f"  hists    {len(report['histograms'])} file(s) in {report['output_dir']}")
    for path in report.get("summaries", []):
        lines.append(f"  summary  {report['output_dir']}/{path}")
    # artefacts the user installed: they take the place of built-in ones of the same name and version
    mine = [(who, a) for who, a in report.get("artefacts", {}).items() if a.get("origin") == "user"]
    if mine:
        lines.append("  artefact " + ", ".join(f"{a['name']}@{a['version']} for {who}" for who, a in mine)
                     + " from your artefact folder (hepreco artefacts list)")
    for art in report.get("artefacts_derived", []):
        lines.append(f"  artefact {art['name']}@{art['version']} ({art['kind']}, sha256 {art['sha256'][:12]}); "
                     f"install it with: {art['install']}")
    lines.append(f"  report   {report['output_dir']}/report.json")
    return "\n".join(lines)


def trigger_lines(table: dict) -> list[str]:
    """A trigger summary (``report["trigger"][menu]``) as text, like CMS's HLTrigReport."""
    if table.get("level") == "HLT":
        return _hlt_lines(table)
    lines = [f"  trigger  {table['level']} menu {table['menu']!r} ({table['algorithm']}), prescale set "
             f"{table['prescale_set'] or '-'}: {table['accepted']} of {table['events']} events accepted",
             f"           {'item':<20} {'prescale':>8} {'seen':>8} {'passed':>8} {'after PS':>8} "
             f"{'rate [Hz]':>11} {'+-':>9} {'us/evt':>7}"]
    for row in table["items"]:
        lines.append(f"           {row['name']:<20} {row['prescale']:>8g} {row['seen']:>8} "
                     f"{row['passed_before_prescale']:>8} {row['passed_after_prescale']:>8} "
                     f"{row['rate_hz']:>11.4g} {row['rate_error_hz']:>9.3g} {row['us_per_event']:>7.2f}")
    lines.append(f"           rate = accepted fraction x {table['crossing_rate_hz']:.4g} Hz of crossings "
                 f"(a minimum-bias sample only); streams: "
                 + ", ".join(f"{s} {n}" for s, n in table.get("streams", {}).items()))
    return lines


def _hlt_lines(table: dict) -> list[str]:
    lines = [f"  trigger  HLT menu {table['menu']!r} ({table['algorithm']}), prescale set "
             f"{table['prescale_set'] or '-'}: {table['accepted']} of {table['l1_accepted']} L1-accepted events "
             f"accepted ({table['events']} events)",
             f"           {'chain':<20} {'prescale':>8} {'seeded':>8} {'passed':>8} {'after PS':>8} "
             f"{'rate [Hz]':>11} {'+-':>9} {'ms/seeded':>9}"]
    for row in table["chains"]:
        lines.append(f"           {row['name']:<20} {row['prescale']:>8g} {row['seeded']:>8} "
                     f"{row['passed_before_prescale']:>8} {row['passed_after_prescale']:>8} "
                     f"{row['rate_hz']:>11.4g} {row['rate_error_hz']:>9.3g} {row['ms_per_seeded_event']:>9.2f}")
    lines.append(f"           HLT time {table['ms_per_l1_accepted_event']:.2f} ms per L1-accepted event "
                 f"({table['ms_per_event']:.2f} ms per event); streams: "
                 + ", ".join(f"{s} {n}" for s, n in table.get("streams", {}).items()))
    return lines
