"""Job options: YAML and Python forms, validation errors with file and line, overrides, dumps."""
import os
import re

import pytest

from hepreco.framework import ConfigurationError, DataFlowError, PropertyError, UnknownNameError
from hepreco.framework import config
from hepreco.framework.job import build

from ..conftest import build_job, run_job

HEAD = """\
job:
  evt_max: 10
  plugins: [tests.framework.components]
source:
  type: ToySource
"""


def test_unknown_algorithm_type_names_file_line_and_suggestion(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: SumPT\n")
    with pytest.raises(UnknownNameError, match=re.escape(f"{path}:7: unknown algorithm type 'SumPT'; "
                                                         "did you mean 'SumPt'")):
        build_job(path)


def test_unknown_property_names_line_of_the_key(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: SumPt\n  - type: HardParticles\n    cutt: 3.0\n")
    with pytest.raises(UnknownNameError, match=re.escape(f"{path}:9: unknown property 'cutt' in HardParticles "
                                                         "(HardParticles); did you mean 'cut'")):
        build_job(path)


def test_wrong_type_names_property_type_and_value(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: SumPt\n  - type: HardParticles\n    cut: five\n")
    with pytest.raises(PropertyError, match=re.escape(f"{path}:9: HardParticles.cut: expected float, "
                                                      "got 'five' (str)")):
        build_job(path)


def test_unknown_section_and_job_setting(write_job):
    with pytest.raises(UnknownNameError, match=r":6: unknown section 'algorithm'; did you mean 'algorithms'"):
        build_job(write_job(HEAD + "algorithm: []\n"))
    with pytest.raises(UnknownNameError, match=r":2: unknown property 'evtmax' in job.*did you mean 'evt_max'"):
        build_job(write_job("job:\n  evtmax: 3\nsource: {type: ToySource}\n"))


def test_unknown_service_and_service_property(write_job):
    with pytest.raises(UnknownNameError, match=r":7: unknown service type 'MessageSrv'; did you mean 'MessageSvc'"):
        build_job(write_job(HEAD + "services:\n  MessageSrv: {level: DEBUG}\n"))
    with pytest.raises(PropertyError, match=r":7: MessageSvc.level: 'LOUD' is not one of"):
        build_job(write_job(HEAD + "services:\n  MessageSvc: {level: LOUD}\n"))


def test_duplicate_names_and_keys(write_job):
    with pytest.raises(ConfigurationError, match=r":8: the name 'SumPt' \(algorithm\) is already used at .*:7"):
        build_job(write_job(HEAD + "algorithms:\n  - type: SumPt\n  - type: SumPt\n"))
    with pytest.raises(ConfigurationError, match=r":3: key 'evt_max' appears twice"):
        build_job(write_job("job:\n  evt_max: 1\n  evt_max: 2\n"))


def test_yaml_syntax_error_has_line(write_job):
    with pytest.raises(ConfigurationError, match=r":3: YAML syntax error"):
        build_job(write_job("job:\n  evt_max: 1\n   bad: [\n"))


def test_missing_source_and_missing_file(write_job, tmp_path):
    with pytest.raises(ConfigurationError, match="no 'source:' section"):
        build_job(write_job("job: {evt_max: 1}\n"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        build_job(str(tmp_path / "nope.yaml"))


def test_output_accept_must_name_a_filter(write_job):
    text = HEAD + ("algorithms:\n  - type: SumPt\n  - type: SumPtFilter\noutputs:\n"
                   "  - type: RootOutput\n    collections: [SumPt]\n    accept: [SumPtFiltr]\n")
    with pytest.raises(UnknownNameError, match=r":12: unknown filter or sequence 'SumPtFiltr'.*did you mean 'SumPtFilter'"):
        build_job(write_job(text))


# -- data flow ----------------------------------------------------------------------
def test_input_without_producer_is_an_error(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: SumPtFilter\n")
    with pytest.raises(DataFlowError, match=re.escape(f"{path}:7: SumPtFilter reads 'SumPt' (sumpt), but neither "
                                                      "the source nor an earlier algorithm produces it")):
        build_job(path)


def test_consumer_before_producer_suggests_dataflow_scheduling(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: SumPtFilter\n  - type: SumPt\n")
    with pytest.raises(DataFlowError, match="'SumPt' produces only later; move 'SumPt' before 'SumPtFilter' or "
                                            "set job.scheduling: dataflow"):
        build_job(path)
    job = build_job(path, "job.scheduling=dataflow")
    assert [a.name for a in job.algorithms()] == ["SumPt", "SumPtFilter"]


def test_two_producers_of_one_key(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: SumPt\n  - type: SumPt\n    name: Again\n")
    with pytest.raises(DataFlowError, match=r":8: 'SumPt' is produced by both 'SumPt' and 'Again'"):
        build_job(path)


def test_cycle_is_reported_with_its_path(write_job):
    text = HEAD + ("algorithms:\n  - {type: Touch, name: A, src: BOut}\n  - {type: Touch, name: B, src: AOut}\n"
                   "job:\n") 
    text = text.replace("job:\n  evt_max: 10\n", "job:\n  evt_max: 10\n  scheduling: dataflow\n", 1)
    text = text.rsplit("job:\n", 1)[0]
    with pytest.raises(DataFlowError, match=r"cycle: (A -> B -> A|B -> A -> B)"):
        build_job(write_job(text))


def test_output_of_unproduced_collection(write_job):
    text = HEAD + "outputs:\n  - type: RootOutput\n    collections: [Jets]\n"
    with pytest.raises(DataFlowError, match="output RootOutput writes 'Jets', which nothing produces"):
        build_job(write_job(text))


# -- overrides, Python job options, dumps -----------------------------------------
def test_set_override_goes_through_the_same_checks(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: SumPt\n  - type: HardParticles\n")
    job = build_job(path, "HardParticles.cut=7.5", "job.evt_max=3")
    assert job.algorithms()[1].cut == 7.5 and job.settings.evt_max == 3
    with pytest.raises(PropertyError, match=r"--set HardParticles.cut=\[1\]: HardParticles.cut: expected float"):
        build_job(path, "HardParticles.cut=[1]")
    with pytest.raises(UnknownNameError, match=r"unknown component 'HardParticle' in --set; did you mean 'HardParticles'"):
        build_job(path, "HardParticle.cut=1")
    with pytest.raises(ConfigurationError, match="expected --set Component.property=value"):
        build_job(path, "HardParticles=1")


PY_JOB = """\
from hepreco.framework.config import Alg, Job, Seq, Source, Stream

job = Job(
    source=Source("ToySource"),
    algorithms=[
        Alg("SumPt"),
        Alg("HardParticles", cut=4.0),
        Seq("Selected", [Alg("SumPtFilter", threshold=90.0), Alg("Smear")], mode="and"),
    ],
    outputs=[Stream("RootOutput", name="Root", collections=["HardParticles", "SumPt"], accept=["Selected"])],
    evt_max=10, plugins=["tests.framework.components"],
)
"""

YAML_JOB = HEAD + """\
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
outputs:
  - {type: RootOutput, name: Root, collections: [HardParticles, SumPt], accept: [Selected]}
"""


def test_python_and_yaml_job_options_build_the_same_job(write_job):
    py = build_job(write_job(PY_JOB, "job.py"))
    yml = build_job(write_job(YAML_JOB))
    assert py.resolved() == yml.resolved()
    assert py.config_hash() == yml.config_hash()


def test_python_job_options_errors_name_the_python_line(write_job):
    path = write_job(PY_JOB.replace('cut=4.0', 'cut="x"'), "job.py")
    with pytest.raises(PropertyError, match=re.escape(f"{path}:7: HardParticles.cut: expected float")):
        build_job(path)


def test_dump_config_runs_again_unchanged(write_job, tmp_path):
    job = build_job(write_job(YAML_JOB), "Smear.on_error=skip_event")
    dumped = tmp_path / "dumped.yaml"
    dumped.write_text(config.dump_yaml(job.resolved()))
    again = build(config.load(str(dumped)))
    assert again.resolved() == job.resolved()
    assert again.algorithms()[-1].on_error == "skip_event"
    # the dump holds every property, defaults included
    assert "threshold: 90.0" in dumped.read_text() and "mean_multiplicity: 20.0" in dumped.read_text()


def test_generator_without_evt_max_is_refused_at_build_time(write_job):
    path = write_job("job:\n  chunk_size: 5\n  plugins: [tests.framework.components]\n"
                     "source:\n  type: ToyGenerator\n")
    with pytest.raises(ConfigurationError, match=re.escape(f"{path}:1: ToyGenerator generates events, so "
                                                           "job.evt_max must be a number of events")):
        build_job(path)
    with pytest.raises(ConfigurationError, match=re.escape("--set job.evt_max=-1: ToyGenerator generates events")):
        build_job(path, "job.evt_max=-1")
    assert build_job(path, "job.evt_max=10").source.generator
    assert not build_job(write_job(HEAD, "reader.yaml"), "job.evt_max=-1").source.generator  # reads all its input


def test_preflight_refusal_names_the_property_line(write_job):
    path = write_job(HEAD + "algorithms:\n  - type: Preflighted\n    log: ''\n    refuse: true\n")
    with pytest.raises(PropertyError, match=re.escape(f"{path}:9: Preflighted.refuse: the external check says no")):
        build_job(path)


def test_preflight_runs_once_in_the_client_not_in_workers(write_job, tmp_path):
    log = tmp_path / "preflight.log"
    path = write_job(HEAD.replace("evt_max: 10", f"evt_max: 20\n  chunk_size: 5\n  output_dir: {tmp_path / 'out'}\n"
                                  "  progress: false")
                     + f"algorithms:\n  - type: Preflighted\n    log: {log}\n")
    report = run_job(path, "job.executor=processes", "job.workers=2")
    assert report["status"] == "ok" and report["items"]["completed"] == 4
    assert log.read_text() == f"{os.getpid()}\n"
