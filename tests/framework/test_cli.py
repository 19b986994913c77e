"""The hepreco command line: run, validate, plugins, describe, dump-config, clean errors."""
import json
import os
import subprocess
import sys

import pytest

from hepreco.framework.cli import main


def cli(*args):
    return subprocess.run([sys.executable, "-m", "hepreco.framework.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_validate_prints_ok_and_graph(toy_job, tmp_path, capsys):
    path = toy_job(str(tmp_path / "out"))
    assert main(["validate", path, "--graph", "--dot", str(tmp_path / "g.dot")]) == 0
    out = capsys.readouterr().out
    assert "OK (4 algorithms, source ToySource, 2 output stream(s)" in out
    assert "SumPtFilter [SumPtFilter]\n      in:  SumPt <- SumPt" in out
    assert '"key:SumPt" -> "SumPtFilter";' in (tmp_path / "g.dot").read_text()
    assert not (tmp_path / "out").exists(), "validate processes no events"


def test_configuration_error_is_one_line_without_traceback(toy_job, tmp_path):
    proc = cli("run", toy_job(str(tmp_path / "out")), "--set", "HardParticles.cutt=2")
    assert proc.returncode == 2
    assert proc.stderr.startswith("hepreco: error: --set HardParticles.cutt=2: unknown property 'cutt'")
    assert "Traceback" not in proc.stderr


def test_dump_config_output_runs_again_unchanged(toy_job, tmp_path):
    path = toy_job(str(tmp_path / "out"), evt_max=20, chunk_size=10)
    dumped = tmp_path / "resolved.yaml"
    assert main(["run", path, "--set", "HardParticles.cut=6.0", "--evt-max", "20", "--dump-config", str(dumped)]) == 0
    assert main(["run", str(dumped), "--quiet"]) == 0
    with open(tmp_path / "out" / "report.json") as f:
        report = json.load(f)
    again = tmp_path / "again.yaml"
    assert main(["run", str(dumped), "--dump-config", str(again)]) == 0
    assert again.read_text() == dumped.read_text()
    assert report["config"]["algorithms"][1]["cut"] == 6.0


def test_run_prints_summary_and_writes_report(toy_job, tmp_path):
    proc = cli("run", toy_job(str(tmp_path / "out"), evt_max=30, chunk_size=10), "--executor", "processes",
               "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "hepreco: job 'toy' ok" in proc.stderr and "read 30" in proc.stderr
    with open(tmp_path / "out" / "report.json") as f:
        report = json.load(f)
    for key in ("config", "config_hash", "versions", "plugins", "events", "timing", "errors", "outputs"):
        assert key in report
    assert report["versions"]["numpy"] and report["timing"]["HardParticles"]["events"] == 30
    with open(tmp_path / "out" / "manifest.json") as f:
        manifest = json.load(f)
    # the manifest holds the physics hash (what --resume compares), under that name
    assert manifest["physics_hash"] == report["physics_hash"] != report["config_hash"]
    parts = [p for item in manifest["items"].values() for p in item["parts"]]
    for p in parts:
        assert os.path.getsize(tmp_path / "out" / p["file"]) == p["bytes"] and len(p["sha256"]) == 64
    streams = {p["stream"] for p in parts}
    assert [(o["stream"], o["files"], o["events"], o["bytes"]) for o in report["outputs"]] == [
        (s, sum(p["stream"] == s for p in parts), sum(p["events"] for p in parts if p["stream"] == s),
         sum(p["bytes"] for p in parts if p["stream"] == s)) for s in sorted(streams)]
    assert len(parts) == 2 * 3  # two streams, three items


def test_plugins_and_describe(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "builtin  (hepreco" in out and "PythiaSource" in out
    assert main(["describe", "PythiaSource"]) == 0
    out = capsys.readouterr().out
    assert "PythiaSource  (source, from plugin 'builtin'" in out
    assert "beam_energy : float, default 6800.0 [GeV] (> 0)" in out
    assert "particles : store key, default 'TruthParticles'" in out


def test_describe_unknown_name_suggests(capsys):
    assert main(["describe", "PythiaSrc"]) == 2
    assert "did you mean 'PythiaSource'" in capsys.readouterr().err


def test_overlay_draws_histograms_of_several_jobs(toy_job, tmp_path, capsys):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main(["run", toy_job(a, evt_max=20, chunk_size=10), "--quiet"]) == 0
    assert main(["run", toy_job(b, evt_max=30, chunk_size=10), "--quiet"]) == 0
    png = tmp_path / "o.png"
    assert main(["overlay", "--label", f"A={a}", "--label", f"B={b}", "--hist", "HardParticles/pt", "--hist",
                 "HardParticles/n", "-o", str(png)]) == 0
    assert png.stat().st_size > 1000
    capsys.readouterr()
    assert main(["overlay", "--label", f"A={a}", "--hist", "HardParticles/ptt", "-o", str(png)]) == 2
    err = capsys.readouterr().err
    assert f"no histogram 'HardParticles/ptt' in {a}/histograms.root; did you mean 'HardParticles/pt'" in err


def test_describe_sequence_prints_its_modes_and_members(capsys):
    assert main(["describe", "Sequence"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sequence  (sequence, from the framework; hepreco.framework.sequence.Sequence)")
    assert "mode : str, default 'all' (one of 'all', 'and', 'or')" in out
    assert "members: [...]" in out and "decision : store key, default '{name}Passed'" in out
    assert main(["describe", "Sequense"]) == 2
    assert "unknown component 'Sequense'; did you mean 'Sequence'" in capsys.readouterr().err


def test_graph_explains_the_mark_of_an_input_without_producer(tmp_path, write_job, capsys):
    path = write_job("job:\n  evt_max: 4\n  plugins: [tests.framework.components]\nsource: {type: ToySource}\n"
                     "algorithms:\n  - {type: SumPt}\n  - {type: JetHistograms, jets: Particles}\n")
    assert main(["validate", path, "--graph"]) == 0
    out = capsys.readouterr().out
    assert "    in:  JetSubstructure <- ?\n" in out
    assert out.rstrip().endswith("?: an optional input that neither the source nor an earlier algorithm produces "
                                 "(the algorithm runs without it)")
    # every input resolved: no mark, no legend
    plain = write_job("job:\n  evt_max: 4\n  plugins: [tests.framework.components]\nsource: {type: ToySource}\n"
                      "algorithms:\n  - {type: SumPt}\n", "plain.yaml")
    assert main(["validate", plain, "--graph"]) == 0
    assert "?" not in capsys.readouterr().out
PY_JOB = """\
from hepreco.framework.config import Alg, Job, Source

def helper():
    return foo + 1

job = Job(name="py", evt_max=10, progress=False, plugins=["tests.framework.components"],
          source=Source("ToySource"), algorithms=[Alg("SumPt")], output_dir={out!r})
{extra}
"""


def test_python_job_options_that_raise_name_the_file_line_and_exception(tmp_path):
    path = tmp_path / "opts.py"
    path.write_text(PY_JOB.format(out=str(tmp_path / "out"), extra="helper()"))
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    assert proc.stderr == f"hepreco: error: {path}:4: NameError: name 'foo' is not defined\n"


def test_python_job_options_with_a_syntax_error_name_the_line(tmp_path):
    path = tmp_path / "opts.py"
    path.write_text(PY_JOB.format(out=str(tmp_path / "out"), extra="if True\n    pass"))
    proc = cli("run", str(path))
    assert proc.returncode == 2
    assert proc.stderr == f"hepreco: error: {path}:8: SyntaxError: expected ':'\n"
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_python_job_options_error_inside_an_imported_call_points_at_the_job_line(tmp_path, capsys):
    path = tmp_path / "opts.py"
    path.write_text(PY_JOB.format(out=str(tmp_path / "out"), extra="Alg()"))
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (f"hepreco: error: {path}:8: Alg() needs a type, or the name of an included "
                                       "entry to change\n")


def test_dump_config_says_it_only_wrote_the_configuration(toy_job, tmp_path):
    dumped = tmp_path / "resolved.yaml"
    proc = cli("run", toy_job(str(tmp_path / "out")), "--dump-config", str(dumped))
    assert proc.returncode == 0
    assert proc.stderr == (f"hepreco: wrote the resolved configuration to {dumped}; no events were processed "
                           f"(run it with: hepreco run {dumped})\n")
    assert dumped.exists() and not (tmp_path / "out").exists()
    proc = cli("run", toy_job(str(tmp_path / "out")), "--dump-config", "-")
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout.startswith("job:\n  name: toy\n")


def test_exit_codes_ok_failed_and_configuration_error(toy_job, tmp_path, capsys):
    assert main(["run", toy_job(str(tmp_path / "ok"), evt_max=20, chunk_size=10), "--quiet"]) == 0
    aborting = toy_job(str(tmp_path / "abort"), evt_max=20, chunk_size=10,
                       algorithms="  - {type: Exploder, bad_events: [3]}\n")
    assert main(["run", aborting, "--quiet"]) == 1
    assert "hepreco: error: job aborted: Exploder failed on event (run 1, event 3)" in capsys.readouterr().err
    dying = toy_job(str(tmp_path / "dies"), evt_max=20, chunk_size=10,
                    algorithms="  - {type: Crasher, event: 13}\n")
    assert main(["run", dying, "--quiet", "--executor", "processes", "--workers", "2",
                 "--set", "job.max_retries=0"]) == 1
    assert main(["run", aborting, "--set", "Exploder.bad_events=oops"]) == 2
    assert "Exploder.bad_events: expected list" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run"])
    assert exc.value.code == 2
