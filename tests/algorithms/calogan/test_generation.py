"""CaloGanSimulation: per-event reproducible showers under any chunking or executor; weights; training."""
import glob
import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")

from hepreco.algorithms.calo.outputs import write_calogan  # noqa: E402
from hepreco.algorithms.calogan import safetensors_io, train  # noqa: E402
from hepreco.algorithms.calogan.generator import load  # noqa: E402
from hepreco.algorithms.calogan.noise import latent_normals  # noqa: E402
from hepreco.framework import ConfigurationError  # noqa: E402

from ...algorithms.calo.test_calo_chain import read_stream  # noqa: E402
from ...conftest import run_job  # noqa: E402


def synthetic_data(folder, n=120, seed=0):
    """Small CaloGAN files per particle: random showers, energies 1-100 GeV."""
    rng = np.random.default_rng(seed)
    entries = []
    for pdg, name in ((-11, "eplus"), (22, "gamma"), (211, "piplus")):
        os.makedirs(folder / name, exist_ok=True)
        energy = rng.uniform(1, 100, n)
        cells = (rng.random((n, 504)) < 0.1) * rng.exponential(0.01, (n, 504)) * energy[:, None]
        write_calogan(str(folder / name / "part-0.h5"), cells, energy, np.full(n, pdg))
        entries.append({"pdg_id": pdg, "files": [str(folder / name)]})
    return entries


def config(tmp_path, output="w.safetensors", **training):
    return {"data": synthetic_data(tmp_path / "data"), "model": {"latent": 4, "hidden": 16},
            "training": {"epochs": 1, "batch_size": 32, "seed": 3, **training},
            "artefact": {"name": "calogan-test", "version": 2, "output": str(tmp_path / output)}}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("weights")
    return train.train(train.check_config(config(tmp)), log=lambda *a: None)


def test_training_is_deterministic_for_a_seed_and_writes_an_artefact(tmp_path, weights):
    again = train.train(train.check_config(config(tmp_path, "again.safetensors")), log=lambda *a: None)
    a, _ = safetensors_io.load(weights)
    b, _ = safetensors_io.load(again)
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    with open(weights + ".json") as f:
        meta = json.load(f)
    assert (meta["name"], meta["version"], meta["kind"], meta["schema"], meta["geometry"]) == \
        ("calogan-test", 2, "calogan", "hepreco-calogan/1", "calogan")
    assert meta["model"]["particles"] == [-11, 22, 211] and meta["derived"]["events"] == 360
    other = train.train(train.check_config(config(tmp_path, "other.safetensors", seed=4)), log=lambda *a: None)
    assert not np.array_equal(safetensors_io.load(other)[0]["trunk.0.weight"], a["trunk.0.weight"])


def test_weights_files_are_safetensors(weights):
    st = pytest.importorskip("safetensors.numpy")
    ours, _ = safetensors_io.load(weights)
    theirs = st.load_file(weights)
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key])
    st.save_file({"x": np.arange(6, dtype=np.float32).reshape(2, 3)}, weights + ".other")
    np.testing.assert_array_equal(safetensors_io.load(weights + ".other")[0]["x"], [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("bad, message", [
    ({"data": []}, r"t.yaml: data must be a list of \{pdg_id: ID, files"),
    ({"trainig": {}}, r"t.yaml: unknown section\(s\) \['trainig'\]"),
    ({"training": {"epochs": 0}}, r"t.yaml: training: epochs must be positive, got 0"),
    ({"training": {"lr": "fast"}}, r"t.yaml: training: lr must be a number, got 'fast'"),
    ({"model": {"width": 3}}, r"t.yaml: model: unknown key\(s\) \['width'\]"),
    ({"artefact": {"name": "x", "output": "x.pt"}}, r"artefact.output must end in .safetensors"),
])
def test_training_configuration_errors_name_the_file_and_the_problem(tmp_path, bad, message):
    import yaml

    good = {"data": [{"pdg_id": 22, "files": ["a.h5"]}], "artefact": {"name": "x", "output": "x.safetensors"}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({**good, **bad}))
    with pytest.raises(ConfigurationError, match=message):
        train.load_config(str(path))


def test_latent_noise_depends_on_the_event_seed_alone():
    seeds = np.array([1, 2, 3, 2**63 + 5], dtype=np.uint64)
    z = latent_normals(seeds, 5)
    assert z.shape == (4, 5) and z.dtype == np.float32
    np.testing.assert_array_equal(latent_normals(seeds[[3, 1]], 5), z[[3, 1]])
    big = latent_normals(np.arange(20000, dtype=np.uint64), 16)
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01


JOB = """\
job: {{evt_max: 23, chunk_size: {chunk}, output_dir: {out}, progress: false, executor: {executor}, workers: 2}}
source:
  type: ParticleGunSource
  pdg_ids: [-11, 22, 211, 11]
  energy_range: [1.0, 100.0]
  eta_range: [0.0, 0.0]
  phi_range: [0.0, 0.0]
services: {{GeometrySvc: {{geometry: calogan}}}}
algorithms: [{{type: CaloGanSimulation, weights: {weights}, batch_size: {batch}}}]
outputs: [{{type: Hdf5Output, name: Hits, collections: [CaloHits]}}]
"""


def test_same_event_same_shower_under_any_chunking_or_executor(tmp_path, write_job, weights):
    runs = []
    for i, (chunk, batch, executor) in enumerate(((23, 1024, "sequential"), (4, 3, "sequential"),
                                                  (5, 2, "processes"))):
        out = tmp_path / f"out{i}"
        run_job(write_job(JOB.format(chunk=chunk, out=out, executor=executor, weights=weights, batch=batch),
                          f"job{i}.yaml"))
        runs.append(read_stream(out, "Hits"))
    hits = runs[0]["CaloHits"]
    assert hits.shape == (23, 504) and (hits.sum(1) > 0).all()
    assert len({hits[i].tobytes() for i in range(23)}) == 23  # every event its own shower
    for other in runs[1:]:
        assert other["event"].tolist() == list(range(23))
        np.testing.assert_array_equal(other["CaloHits"], hits)


def test_generator_refuses_particles_it_was_not_trained_for(weights):
    gen = load(weights)
    with pytest.raises(ValueError, match=r"no shower generator for particles \[13\]; this one was trained for "
                       r"\[-11, 22, 211\]"):
        gen.generate(np.array([10.0]), np.array([13]), np.zeros((1, gen.latent)))


def test_hepreco_train_trains_a_generator_configuration(tmp_path, capsys):
    import yaml

    from hepreco.framework.cli import main

    cfg = {"task": "generation", **config(tmp_path, "first.safetensors", epochs=3)}
    path = tmp_path / "gan.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "trained"
    assert main(["train", str(path), "-o", str(out), "--set", "training.epochs=1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    weights = out / "first.safetensors"
    assert f"install it with: hepreco artefacts install {weights}" in printed and "1 epoch(s)" in printed
    with open(str(weights) + ".json") as f:
        meta = json.load(f)
    assert meta["derived"]["command"] == f"hepreco train {path} --set training.epochs=1"
    assert meta["derived"]["training"]["epochs"] == 1
    # the same training as through the module's own entry point
    direct = train.train(train.check_config(config(tmp_path, "direct.safetensors")), log=lambda *a: None)
    a, b = safetensors_io.load(str(weights))[0], safetensors_io.load(direct)[0]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert main(["train", str(path), "--set", "optimizer.lr=1"]) == 2
    assert "expected SECTION.KEY=VALUE with SECTION one of ['artefact', 'model', 'training']" in \
        capsys.readouterr().err
    assert main(["train", str(path), "--set", "training.epoch=1"]) == 2
    assert "hepreco: error: --set training.epoch=1: unknown key 'epoch' in training; did you mean 'epochs'?" in \
        capsys.readouterr().err
    path.write_text(yaml.safe_dump({**cfg, "training": {"epoch": 1}}))
    assert main(["train", str(path)]) == 2
    assert "training: unknown key(s) ['epoch']; did you mean 'epochs'?" in capsys.readouterr().err
