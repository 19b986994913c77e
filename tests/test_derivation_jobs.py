"""Derivation jobs write their artefacts into their output folder and nothing into the package or the sources."""
import hashlib
import os

import h5py

from hepreco.framework.artefacts import read_metadata
from hepreco.framework.report import summary

from .conftest import ROOT, run_job

WATCHED = ("algorithms", "framework", "plugins", "jobs")


def snapshot() -> dict:
    """Every file below the package and job folders (Python's bytecode aside) with its size, mtime and sha256.

    numba's kernel cache files (``.nbi``, ``.nbc``) count: they go to the user's cache folder.
    """
    files = {}
    for top in WATCHED:
        for folder, dirs, names in os.walk(os.path.join(ROOT, top)):
            for name in names:
                if name.endswith(".pyc"):
                    continue
                path = os.path.join(folder, name)
                st = os.stat(path)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, ROOT)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(f.read()).hexdigest())
    return files


def test_calibration_jobs_write_artefacts_into_their_output_folder_only(tmp_path):
    before = snapshot()
    assert "algorithms/clusters/data/lcw-atlas-like.h5" in before
    clusters = run_job(os.path.join(ROOT, "jobs", "calibrate_clusters.yaml"), "job.evt_max=6", "job.chunk_size=3",
                       f"job.output_dir={tmp_path / 'clusters'}", "job.progress=false")
    jets = run_job(os.path.join(ROOT, "jobs", "calibrate_jets.yaml"), "job.evt_max=30", "job.chunk_size=15",
                   f"job.output_dir={tmp_path / 'jets'}", "job.progress=false")
    assert snapshot() == before
    for report, name, folder in ((clusters, "lcw-atlas-like", "clusters"), (jets, "jes-small", "jets")):
        path = str(tmp_path / folder / f"{name}.h5")
        (derived,) = report["artefacts_derived"]
        assert derived["path"] == path and derived["install"] == f"hepreco artefacts install {path}"
        assert f"  artefact {name}@1 ({name[:3]}, sha256 {derived['sha256'][:12]}); install it with: " \
               f"hepreco artefacts install {path}" in summary(report).splitlines()
        meta = read_metadata(path)
        assert (meta["name"], meta["version"], meta["geometry"]) == (name, 1, name.partition("-")[2])
        assert meta["derived"]["config_hash"] == report["physics_hash"]
        assert meta["derived"]["job"] == report["job"] and meta["derived"]["events"] == report["events"]["read"]
        assert meta["derived"]["job_options"] == os.path.join(ROOT, "jobs", f"calibrate_{folder}.yaml")
        with h5py.File(path) as f:
            assert f.attrs["format"] in ("hepreco-lcw", "hepreco-jes")
