"""Job composition: include another job file and override, insert, move, replace, remove."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from hepreco.framework import ConfigurationError, PropertyError
from hepreco.framework import config
from hepreco.framework.cli import main
from hepreco.framework.job import build

from ..conftest import ROOT, build_job

BASE = """\
job:
  name: base
  evt_max: 10
  plugins: [tests.framework.components]
source:
  type: ToySource
algorithms:
  - type: SumPt
  - type: HardParticles
    cut: 4.0
  - type: Sequence
    name: Selected
    mode: and
    members:
      - {type: SumPtFilter, threshold: 90.0}
      - {type: Smear}
services:
  MessageSvc: {level: WARNING}
outputs:
  - {type: RootOutput, name: Root, collections: [HardParticles, SumPt], accept: [Selected]}
  - {type: Hdf5Output, name: H5, collections: [SumPt]}
"""


@pytest.fixture
def base(write_job):
    return write_job(BASE, "base.yaml")


def tree(job):
    """Algorithm names in order, a sequence as (name, [members])."""
    def entry(c):
        return (c.name, [entry(m) for m in c.members]) if hasattr(c, "members") else c.name
    return [entry(m) for m in job.top.members]


def test_include_alone_is_the_included_job(base, write_job):
    job = build_job(write_job("include: base.yaml\n"))
    assert job.resolved() == build_job(base).resolved()


def test_settings_and_properties_are_overridden_where_written(base, write_job):
    path = write_job("include: base.yaml\njob:\n  evt_max: 3\nsource:\n  mean_multiplicity: 7.0\n"
                     "algorithms:\n  - {name: HardParticles, cut: 6.5}\n  - {type: SumPtFilter, threshold: 50.0}\n"
                     "services:\n  MessageSvc: {level: DEBUG}\n"
                     "outputs:\n  - {name: H5, collections: [HardParticles]}\n")
    job = build_job(path)
    assert job.settings.evt_max == 3 and job.settings.name == "base"
    assert job.source.mean_multiplicity == 7.0
    algs = {a.name: a for a in job.algorithms()}
    assert algs["HardParticles"].cut == 6.5 and algs["SumPtFilter"].threshold == 50.0
    assert job.services.messages.level == "DEBUG"
    assert [o.collections for o in job.outputs] == [["HardParticles", "SumPt"], ["HardParticles"]]
    assert tree(job) == ["SumPt", "HardParticles", ("Selected", ["SumPtFilter", "Smear"])]
    # a value that fails validation names the line of the including file that set it
    path = write_job("include: base.yaml\nalgorithms:\n  - {name: HardParticles, cut: hard}\n", "bad.yaml")
    with pytest.raises(PropertyError, match=re.escape(f"{path}:3: HardParticles.cut: expected float")):
        build_job(path)
    # ... and an included value names the included file
    broken = write_job(BASE.replace("cut: 4.0", "cut: soft"), "broken.yaml")
    path = write_job("include: broken.yaml\njob: {evt_max: 2}\n", "uses_broken.yaml")
    with pytest.raises(PropertyError, match=re.escape(f"{broken}:10: HardParticles.cut: expected float, got 'soft' "
                                                      f"(str) (included at {path}:1)")):
        build_job(path)


def test_algorithms_appended_or_inserted_before_and_after(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n"
                     "  - {type: Touch, name: Last}\n"
                     "  - {type: Touch, name: First, src: Particles, before: SumPt}\n"
                     "  - {type: Touch, name: InSequence, after: SumPtFilter}\n"
                     "  - {type: Counter, after: HardParticles}\n")
    job = build_job(path)
    assert tree(job) == ["First", "SumPt", "HardParticles", "Counter",
                         ("Selected", ["SumPtFilter", "InSequence", "Smear"]), "Last"]


def test_existing_algorithm_moves_with_after_and_replace_swaps_its_type(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n  - {name: HardParticles, after: Smear}\n"
                     "  - {type: Exploder, name: SumPtFilter, replace: true}\n")
    job = build_job(path, "job.scheduling=dataflow")
    assert tree(job) == ["SumPt", ("Selected", ["SumPtFilter", "Smear", "HardParticles"])]
    assert type(job.algorithms()[1]).__name__ == "Exploder"
    assert job.algorithms()[-1].cut == 4.0, "moving keeps the included properties"


def test_sequence_members_merge_by_the_same_rules(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n  - name: Selected\n    mode: or\n    members:\n"
                     "      - {name: Smear, remove: true}\n      - {type: Touch, name: Extra}\n"
                     "      - {name: SumPtFilter, threshold: 10.0}\n")
    job = build_job(path)
    assert tree(job) == ["SumPt", "HardParticles", ("Selected", ["SumPtFilter", "Extra"])]
    selected = job.top.members[2]
    assert selected.mode == "or" and selected.members[0].threshold == 10.0


def test_remove_algorithm_service_and_output(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n  - {name: Selected, remove: true}\n"
                     "services:\n  MessageSvc: {remove: true}\noutputs:\n  - {name: Root, remove: true}\n"
                     "  - {type: RootOutput, name: Flat, collections: [HardParticles]}\n")
    job = build_job(path)
    assert tree(job) == ["SumPt", "HardParticles"]
    assert [o.name for o in job.outputs] == ["H5", "Flat"]
    assert job.services.messages.level == "INFO", "a removed service runs with its defaults"


def test_services_merge_by_name_and_new_ones_are_added(base, write_job):
    path = write_job("include: base.yaml\nservices:\n  HistogramSvc: {png: false}\n"
                     "  MessageSvc: {levels: {SumPt: DEBUG}}\n")
    job = build_job(path)
    assert job.services.messages.level == "WARNING" and job.services.messages.levels == {"SumPt": "DEBUG"}
    assert job.services.histograms.png is False


def test_nested_includes_and_a_list_of_includes(base, write_job, tmp_path):
    os.mkdir(tmp_path / "sub")
    write_job("include: ../base.yaml\njob: {name: middle, evt_max: 5}\nalgorithms:\n  - {type: Touch, name: Mid}\n",
              "sub/middle.yaml")
    write_job("algorithms:\n  - {type: Touch, name: Other}\njob: {seed: 99}\n", "extra.yaml")
    path = write_job("include: sub/middle.yaml\njob: {evt_max: 2}\n", "top.yaml")
    job = build_job(path)
    assert job.settings.name == "middle" and job.settings.evt_max == 2
    assert tree(job)[-1] == "Mid"
    both = write_job("include: [sub/middle.yaml, extra.yaml]\nalgorithms:\n  - {name: Other, after: SumPt}\n",
                     "both.yaml")
    job = build_job(both)
    assert job.settings.seed == 99 and job.settings.name == "middle"
    assert tree(job)[:2] == ["SumPt", "Other"] and tree(job)[-1] == "Mid"


# -- errors name both files and lines ------------------------------------------------------
def test_missing_included_file(write_job, tmp_path):
    path = write_job("job: {evt_max: 1}\ninclude: nope.yaml\n")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:2: included job options file 'nope.yaml' does not exist "
            f"(looked for {tmp_path / 'nope.yaml'})")):
        build_job(path)
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:2: included job options 'hepreco:jobs/nope.yaml' not found: no file 'jobs/nope.yaml' "
            "in an installed package 'hepreco'")):
        build_job(write_job("job: {evt_max: 1}\ninclude: hepreco:jobs/nope.yaml\n"))


def test_include_cycle_lists_each_step(write_job):
    a = write_job("include: b.yaml\n", "a.yaml")
    b = write_job("job: {evt_max: 1}\ninclude: [c.yaml]\n", "b.yaml")
    write_job("include: a.yaml\n", "c.yaml")
    c = a.replace("a.yaml", "c.yaml")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{c}:1: include cycle: {a}:1 includes b.yaml, {b}:2 includes c.yaml, {c}:1 includes a.yaml") + "$"):
        build_job(a)
    itself = write_job("job: {evt_max: 1}\ninclude: itself.yaml\n", "itself.yaml")
    with pytest.raises(ConfigurationError, match=re.escape(f"{itself}:2: include cycle: {itself}:2 includes "
                                                           "itself.yaml") + "$"):
        build_job(itself)


def test_error_inside_an_included_file_says_where_it_was_included(write_job):
    inner = write_job("job:\n  evt_max: 1\n  bad: [\n", "inner.yaml")
    outer = write_job("\ninclude: inner.yaml\n", "outer.yaml")
    with pytest.raises(ConfigurationError, match=re.escape(f"{inner}:4: YAML syntax error") + ".*" +
                       re.escape(f"(included at {outer}:2)")):
        build_job(outer)


def test_unknown_anchor_names_the_line_and_the_included_file(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n  - {type: Touch, name: New,\n     after: SumPtFiltr}\n")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:4: cannot insert 'New' after 'SumPtFiltr': the included job base.yaml (included at {path}:1) "
            "has no algorithm 'SumPtFiltr'; did you mean 'SumPtFilter'")):
        build_job(path)


def test_removing_or_changing_what_is_not_there(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n  - {name: Smaer, remove: true}\n")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:3: cannot remove 'Smaer': the included job base.yaml (included at {path}:1) has no algorithm "
            "'Smaer'; did you mean 'Smear'")):
        build_job(path)
    path = write_job("include: base.yaml\noutputs:\n  - {name: Hdf5, remove: true}\n", "out.yaml")
    with pytest.raises(ConfigurationError, match=r"out.yaml:3: cannot remove 'Hdf5': .* has no output stream 'Hdf5'"):
        build_job(path)
    path = write_job("include: base.yaml\nalgorithms:\n  - {name: HardParticle, cut: 1.0}\n", "typo.yaml")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:3: 'HardParticle' has no 'type:', so it changes an included algorithm, but: the included job "
            f"base.yaml (included at {path}:1) has no algorithm 'HardParticle'; did you mean 'HardParticles'?")):
        build_job(path)


def test_same_name_with_another_type_needs_replace(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n  - {type: Touch, name: SumPt}\n")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:3: 'SumPt' is a SumPt in the included job ({base}:8); an entry of the same name changes its "
            "properties and cannot make it a Touch: add 'replace: true'")):
        build_job(path)


def test_entry_twice_or_moved_into_itself_is_an_error(base, write_job):
    path = write_job("include: base.yaml\nalgorithms:\n  - {name: SumPt}\n  - {type: Touch, name: T}\n"
                     "  - {name: T, after: Smear}\n")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:5: the algorithm 'T' appears twice in this job (first at {path}:4)")):
        build_job(path)
    path = write_job("include: base.yaml\nalgorithms:\n  - {name: Selected, after: Smear}\n", "into.yaml")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:3: cannot move 'Selected' after 'Smear', which is one of its members")):
        build_job(path)


def test_directives_without_include_are_errors(write_job):
    path = write_job("job: {evt_max: 1}\nsource: {type: ToySource}\nalgorithms:\n  - {type: SumPt,\n     after: X}\n")
    with pytest.raises(ConfigurationError, match=re.escape(
            f"{path}:5: SumPt: 'after:' changes an included job, but this job includes none (add include: FILE)")):
        build_job(path)
    with pytest.raises(ConfigurationError, match=r":2: 'include' must be a job options file or a list of them"):
        build_job(write_job("job: {evt_max: 1}\ninclude: {file: base.yaml}\n"))


# -- Python form, installed jobs, dumps ------------------------------------------------------
PY = """\
from hepreco.framework.config import Alg, Job, Svc

job = Job(
    include="base.yaml",
    algorithms=[Alg("Touch", name="Early", before="HardParticles"), Alg(name="HardParticles", cut=2.5),
                Alg(name="Smear", remove=True)],
    services=[Svc("MessageSvc", level="WARNING")],
    evt_max=4,
)
"""


def test_python_job_options_include_with_the_same_rules(base, write_job):
    job = build_job(write_job(PY, "job.py"))
    yaml_job = build_job(write_job(
        "include: base.yaml\njob: {evt_max: 4}\nalgorithms:\n  - {type: Touch, name: Early, before: HardParticles}\n"
        "  - {name: HardParticles, cut: 2.5}\n  - {name: Smear, remove: true}\nservices:\n"
        "  MessageSvc: {level: WARNING}\n", "same.yaml"))
    assert tree(job) == ["SumPt", "Early", "HardParticles", ("Selected", ["SumPtFilter"])]
    assert job.resolved() == yaml_job.resolved()
    path = write_job(PY.replace('name="Smear"', 'name="Smaer"'), "bad.py")
    with pytest.raises(ConfigurationError, match=re.escape(f"{path}:6: cannot remove 'Smaer'")):
        build_job(path)


def test_installed_main_job_is_included_by_package_name(write_job, tmp_path):
    path = write_job("include: hepreco:jobs/main.yaml\njob: {name: mine, evt_max: 2}\nalgorithms:\n"
                     "  - {type: JetHistograms, name: AntiKt4LCTopoHistograms, jets: AntiKt4LCTopoJets,\n"
                     "     after: AntiKt4Calibrated}\n  - {name: CaloEventDisplay, remove: true}\n")
    job = build_job(path)
    main_job = build_job(os.path.join(ROOT, "jobs", "main.yaml"))
    expected = [a.name for a in main_job.algorithms() if a.name != "CaloEventDisplay"]
    expected.insert(expected.index("AntiKt4Calibrated") + 1, "AntiKt4LCTopoHistograms")
    assert [a.name for a in job.algorithms()] == expected
    assert job.settings.name == "mine" and job.settings.chunk_size == main_job.settings.chunk_size
    assert job.source.settings == main_job.source.settings


def test_dump_of_an_including_job_runs_again_with_the_same_hash(base, write_job, tmp_path):
    path = write_job("include: base.yaml\njob: {evt_max: 6, chunk_size: 3, progress: false, "
                     f"output_dir: {tmp_path / 'out'}}}\nalgorithms:\n  - {{type: Touch, name: T, after: SumPt}}\n"
                     "  - {name: Smear, remove: true}\n")
    dumped = tmp_path / "flat.yaml"
    assert main(["run", path, "--dump-config", str(dumped)]) == 0
    text = dumped.read_text()
    assert "include" not in text and "after" not in text and "name: T" in text
    job, again = build_job(path), build(config.load(str(dumped)))
    assert again.config_hash() == job.config_hash() and again.resolved() == job.resolved()
    assert main(["run", str(dumped), "--quiet"]) == 0
    assert os.path.exists(tmp_path / "out" / "report.json")


def test_regular_install_ships_the_jobs_as_package_data(tmp_path):
    source, target = tmp_path / "src", tmp_path / "site"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "output")
    for name in ("framework", "algorithms", "plugins", "jobs"):
        shutil.copytree(os.path.join(ROOT, name), source / name, ignore=ignore)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)
    with open(os.path.join(ROOT, "jobs", "main.yaml")) as f:
        assert (target / "hepreco" / "jobs" / "main.yaml").read_text() == f.read()
    code = ("from hepreco.framework.composition import resolve; from hepreco.framework.errors import Location; "
            "print(resolve('hepreco:jobs/main.yaml', 'x.yaml', Location('x.yaml', 1)))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == str(target / "hepreco" / "jobs" / "main.yaml")


def test_plugin_package_ships_a_job_that_extends_the_main_job(tmp_path):
    source, target = tmp_path / "example", tmp_path / "site"
    shutil.copytree(os.path.join(ROOT, "plugins", "examples", "hepreco-example-plugin"), source,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    env.pop("HEPRECO_DISABLE_PLUGIN_AUTOLOAD", None)
    main_job = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "validate",
                               os.path.join(ROOT, "jobs", "main.yaml")], capture_output=True, text=True, timeout=300)
    n_main = int(re.search(r"OK \((\d+) algorithms", main_job.stdout).group(1))
    # by module and by distribution name, run from a folder that holds no job files
    for job in ("hepreco_example:jobs/main_met.yaml", "hepreco-example-plugin:jobs/main_met.yaml"):
        proc = subprocess.run([sys.executable, "-m", "hepreco.framework.cli", "validate", job, "--graph"], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"{job}: OK ({n_main + 1} algorithms, source PythiaSource, 2 output stream(s)")
        assert "TruthHistograms [TruthHistograms]" in proc.stdout
        graph = proc.stdout.split("\n")
        met = graph.index("TruthMissingET [TruthMissingET]")
        assert graph[met - 3] == "TruthHistograms [TruthHistograms]" and graph[met + 3] == "FastCaloSim [FastCaloSim]"


def test_readme_composition_examples_build_as_described(tmp_path):
    with open(os.path.join(ROOT, "README.md")) as f:
        section = f.read().split("## Job composition\n", 1)[1].split("\n## ", 1)[0]
    yaml_text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    py_text = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "plus.yaml").write_text(yaml_text)
    (tmp_path / "plus.py").write_text(py_text)
    from_yaml, from_python = build_job(str(tmp_path / "plus.yaml")), build_job(str(tmp_path / "plus.py"))
    for job in (from_yaml, from_python):
        names = [a.name for a in job.algorithms()]
        assert names[names.index("AntiKt4Calibrated") + 1] == "AntiKt4LCTopoHistograms"
        assert "CaloEventDisplay" not in names and job.algorithms()[names.index("AntiKt4LCTopo")].ptmin == 20.0
    assert from_yaml.outputs[0].collections == ["AntiKt4CalibratedJets", "AntiKt4TruthJets"]
    # the error quoted in the section
    quoted = re.search(r"`(job\.yaml:9: cannot remove .*?)`", section).group(1)
    (tmp_path / "job.yaml").write_text(yaml_text.replace("CaloEventDisplay", "CaloEventDisplai"))
    with pytest.raises(ConfigurationError) as info:
        build_job(str(tmp_path / "job.yaml"))
    assert str(info.value).replace(str(tmp_path / "job.yaml"), "job.yaml") == quoted
