"""The minimum-bias library: the derivation job, the generated and cached default, and how PileupOverlay finds it."""
import os

import numpy as np
import pytest

from hepreco.algorithms.generation import minbias
from hepreco.algorithms.generation.pileup import PileupOverlay
from hepreco.framework.artefacts import ArtefactSvc, read_metadata

from ...conftest import ROOT, run_job


def test_derivation_job_writes_the_library_of_its_events(tmp_path):
    out = tmp_path / "library"
    report = run_job(os.path.join(ROOT, "jobs", "minbias_library.yaml"), "job.evt_max=12", "job.chunk_size=5",
                     f"job.output_dir={out}", "job.progress=false")
    path = str(out / "minbias.h5")
    (derived,) = report["artefacts_derived"]
    assert derived["path"] == path and derived["install"] == f"hepreco artefacts install {path}"
    meta = read_metadata(path)
    assert (meta["kind"], meta["schema"], meta["n_events"]) == ("minbias", "hepreco-minbias/1", 12)
    assert meta["settings"] == ["SoftQCD:nonDiffractive = on"] and meta["beam_energy"] == 6800.0
    assert meta["derived"]["config_hash"] == report["physics_hash"] and meta["derived"]["events"] == 12
    # three work items, put back in event order: the interactions make_library generates from the same seed
    library = minbias.read_library(path)
    columns, offsets = minbias.generate_library(12, 20240901)
    np.testing.assert_array_equal(library.offsets, offsets)
    for name in minbias.STORED:
        np.testing.assert_array_equal(library.columns[name], columns[name])
    assert set(np.unique(library.columns["charge"])) <= {-1, 0, 1}
    assert library.n_particles > 12 * 50  # non-diffractive interactions have hundreds of final-state particles


def test_generated_library_is_made_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HEPRECO_CACHE", str(tmp_path / "cache"))
    overlay = PileupOverlay(library_events=6, library_seed=5)
    art = ArtefactSvc().resolve(overlay, "library")
    assert art.origin == "generated" and art.path.startswith(str(tmp_path / "cache" / "minbias"))
    assert (art.kind, art.metadata["n_events"], art.metadata["seed"]) == ("minbias", 6, 5)
    mtime = os.stat(art.path).st_mtime_ns
    again = ArtefactSvc().resolve(PileupOverlay(library_events=6, library_seed=5), "library")
    assert again.path == art.path and again.sha256 == art.sha256 and os.stat(art.path).st_mtime_ns == mtime
    other = ArtefactSvc().resolve(PileupOverlay(library_events=6, library_seed=6), "library")
    assert other.path != art.path and other.sha256 != art.sha256


def test_a_missing_library_says_how_to_derive_it():
    from hepreco.framework.errors import MissingArtefact

    with pytest.raises(MissingArtefact, match="hepreco run jobs/minbias_library.yaml"):
        ArtefactSvc().resolve(PileupOverlay(library="minbias-nowhere"), "library")


def test_a_setting_pythia_refuses_names_the_library_settings(tmp_path, monkeypatch):
    from hepreco.framework.errors import PropertyError

    monkeypatch.setenv("HEPRECO_CACHE", str(tmp_path / "cache"))
    overlay = PileupOverlay(library_events=2, library_settings=["SoftQCD:nonDifractive = on"])
    with pytest.raises(PropertyError, match=r"PileupOverlay.library_settings: Pythia does not know the setting "
                                            r"'SoftQCD:nonDifractive'.*SoftQCD:nonDiffractive"):
        ArtefactSvc().resolve(overlay, "library")
    assert not os.listdir(tmp_path / "cache" / "minbias")  # nothing half-made is left
