"""Shared fixtures: a clean plugin environment and helpers to run jobs."""
from __future__ import annotations

import logging
import os
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# child processes (worker pools, dask workers, the CLI) must import tests.framework.components
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# artefacts the user installed must not change what the tests see: an empty user folder (children inherit it)
os.environ["HEPRECO_ARTEFACTS"] = os.path.join(tempfile.mkdtemp(prefix="hepreco-test-artefacts-"), "artefacts")


@pytest.fixture
def write_job(tmp_path):
    """Write YAML text to a job file and return its path."""
    def write(text: str, name: str = "job.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


TOY_JOB = """\
job:
  name: toy
  evt_max: {evt_max}
  chunk_size: {chunk_size}
  seed: 7
  output_dir: {out}
  progress: false
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
      - type: SumPtFilter
        threshold: 90.0
      - type: Smear
outputs:
  - type: RootOutput
    name: Root
    collections: [HardParticles, SumPt, SmearedVector, Vector]
    accept: [Selected]
  - type: Hdf5Output
    name: H5
    collections: [HardParticles, SumPt, SmearedVector, Vector]
"""


@pytest.fixture
def toy_job(tmp_path):
    """Path of the toy job options file; format with evt_max, chunk_size, out."""
    def make(out: str, evt_max: int = 60, chunk_size: int = 25, algorithms: str = "") -> str:
        """``algorithms``: YAML list entries appended to the algorithms section."""
        path = tmp_path / f"toy_{abs(hash((out, evt_max, chunk_size, algorithms)))}.yaml"
        text = TOY_JOB.format(evt_max=evt_max, chunk_size=chunk_size, out=out)
        path.write_text(text.replace("outputs:\n", algorithms + "outputs:\n"))
        return str(path)
    return make


def build_job(path: str, *overrides: str):
    from hepreco.framework import config
    from hepreco.framework.job import build

    options = config.load(path)
    for text in overrides:
        config.apply_override(options, text)
    return build(options)


def run_job(path: str, *overrides: str, resume: bool = False, overwrite: bool = False) -> dict:
    from hepreco.framework.event_loop import run_job as run

    return run(build_job(path, *overrides), resume=resume, quiet=True, overwrite=overwrite)


@pytest.fixture
def hepreco_log(caplog):
    """``caplog`` that sees hepreco's messages, also while a job's MessageSvc keeps them from the root logger."""
    logger = logging.getLogger("hepreco")
    propagate, logger.propagate = logger.propagate, False  # each record reaches caplog once, as in a job
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.propagate = propagate
