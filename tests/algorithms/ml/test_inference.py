"""Inference plugins: in a job they equal the bare model; mismatched, corrupt or unusable models are refused
when the job is built."""
import os
import re
import shutil

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hepreco.algorithms.ml import artefact, models  # noqa: E402
from hepreco.algorithms.ml.inference import CaloEnergyRegression, JetTagger  # noqa: E402
from hepreco.framework import extras, testing  # noqa: E402
from hepreco.framework.artefacts import read_metadata, write_metadata  # noqa: E402
from hepreco.framework.errors import ArtefactError, ConfigurationError, MissingDependency  # noqa: E402
from hepreco.framework.io import read  # noqa: E402

from ...conftest import build_job, run_job  # noqa: E402

JOB = """\
job:
  name: tag
  output_dir: {out}
  chunk_size: 70
  progress: false
source:
  type: Hdf5Source
  files: [{dataset}]
  collections: [JetDataset]
algorithms:
  - type: JetTagger
    name: Tagger
    model: {model}
    batch_size: 33
{extra}
outputs:
  - type: Hdf5Output
    name: Scores
    collections: [TaggerScores]
"""


def bare_model_scores(path, records):
    """Class probabilities computed by hand: standardise with the metadata, run the module, softmax."""
    meta = read_metadata(path)
    module = models.build(meta["model"])
    module.load_state_dict({k: torch.from_numpy(v) for k, v in artefact.read_weights(path).items()})
    module.eval()
    flat = ak.flatten(records, axis=1)
    x = np.stack([(ak.to_numpy(flat[f]).astype(np.float64) - meta["preprocessing"][f]["mean"])
                  / meta["preprocessing"][f]["std"] for f in meta["inputs"]["fields"]], axis=1)
    with torch.no_grad():
        probs = torch.softmax(module(torch.from_numpy(x.astype(np.float32))), dim=1).numpy()
    return probs


def test_inference_in_a_job_equals_the_bare_model_on_the_same_inputs(trained_mlp, dataset, write_job, tmp_path):
    path, _ = trained_mlp
    out = tmp_path / "out"
    job = write_job(JOB.format(out=out, dataset=dataset, model=path, extra="    fields: [m, pt, tau21, n_const]"))
    report = run_job(job)
    assert report["status"] == "ok"
    scores = read(str(out / "Scores"))["TaggerScores"]
    records = read(dataset)["JetDataset"]
    assert ak.all(ak.num(scores, axis=1) == ak.num(records, axis=1))  # aligned with the input objects
    assert ak.fields(scores) == ["qcd", "w"]
    expected = bare_model_scores(path, records)
    flat = ak.flatten(scores, axis=1)
    np.testing.assert_allclose(np.stack([ak.to_numpy(flat.qcd), ak.to_numpy(flat.w)], axis=1), expected,
                               rtol=1e-5, atol=1e-6)
    used = report["artefacts"]["Tagger.model"]
    assert (used["name"], used["kind"], used["path"]) == ("toy-mlp", "model", path)


def test_inference_does_not_depend_on_chunks_or_batches(trained_mlp, dataset):
    path, _ = trained_mlp
    records = read(dataset)["JetDataset"]
    one = testing.run(JetTagger(model=path), inputs={"JetDataset": records})["JetTaggerScores"]
    many = testing.run(JetTagger(model=path, batch_size=5), inputs={"JetDataset": records},
                       chunk_size=37)["JetTaggerScores"]
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(many.w)), ak.to_numpy(ak.flatten(one.w)), rtol=1e-5,
                               atol=1e-6)
    empty = testing.run(JetTagger(model=path), inputs={"JetDataset": records[:3][:, :0]})["JetTaggerScores"]
    assert ak.to_list(empty) == [[], [], []]


@pytest.mark.parametrize("extra,message", [
    ("    classes: [qcd, top]", r"toy-mlp@1 \(.*\) has classes \['qcd', 'w'\], the job expects \['qcd', 'top'\]"),
    ("    fields: [m, pt]", r"toy-mlp@1 \(.*\) reads 'tau21', which the input 'JetDataset' does not provide "
                           r"\(fields: m, pt\)"),
    ("    shapes: {m: [2]}", r"toy-mlp@1 .* reads 'm' of shape \[\], the input 'JetDataset' provides shape \[2\]"),
])
def test_a_model_that_does_not_fit_the_job_is_refused_at_build_time(trained_mlp, dataset, write_job, tmp_path,
                                                                    extra, message):
    path, _ = trained_mlp
    job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=path, extra=extra))
    with pytest.raises(ArtefactError, match=rf"job.yaml:13: Tagger.model: {message}$"):
        build_job(job)


def test_a_model_given_on_the_command_line_is_refused_there(trained_mlp, dataset, write_job, tmp_path):
    path, _ = trained_mlp
    job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=path, extra=""))
    # the error points at the --set that gave the value, not at the job file's model: line
    with pytest.raises(ArtefactError, match=r"^--set Tagger.model=.*: '.*' is a folder, not an artefact file; "
                                            r"give the artefact file inside it: '.*toy-mlp@1.safetensors'"):
        build_job(job, f"Tagger.model={os.path.dirname(path)}")
    with pytest.raises(ArtefactError, match=r"^--set Tagger.model=/no/such.safetensors: Tagger.model: "
                                            r"no artefact /no/such.safetensors"):
        build_job(job, "Tagger.model=/no/such.safetensors")


def test_a_classifier_is_refused_where_a_regression_is_needed(trained_mlp):
    path, _ = trained_mlp
    with pytest.raises(ArtefactError, match=r"toy-mlp@1 .* is a classification model; CaloEnergyRegression needs a "
                                            r"regression model"):
        testing.run(CaloEnergyRegression(model=path), inputs={"RegressionDataset": [[]]})


def test_a_record_collection_without_the_model_fields_fails_with_their_names(trained_mlp):
    path, _ = trained_mlp
    records = ak.Array([[{"m": 1.0, "pt": 400.0}]])
    with pytest.raises(ConfigurationError, match=r"JetTagger: the model reads 'tau21', which the records of "
                                                 r"'JetDataset' do not have \(fields: m, pt\)"):
        testing.run(JetTagger(model=path), inputs={"JetDataset": records})


def _copy(path, folder, name="copy"):
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, f"{name}@1.safetensors")
    shutil.copyfile(path, target)
    meta = read_metadata(path)
    meta["name"] = name
    write_metadata(target, meta)
    return target, meta


def test_corrupt_weights_are_refused_at_build_time(trained_mlp, dataset, write_job, tmp_path):
    path, _ = trained_mlp
    bad, _ = _copy(path, tmp_path / "bad")
    with open(bad, "r+b") as f:
        f.write(b"\xff" * 16)  # a damaged header
    job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=bad, extra=""))
    with pytest.raises(ArtefactError, match=r"job.yaml:13: Tagger.model: model artefact .*copy@1.safetensors: the "
                                            r"weights are not a valid safetensors file"):
        build_job(job)


def test_weights_that_do_not_fit_the_model_of_their_metadata_are_refused_at_build_time(trained_mlp, dataset,
                                                                                        write_job, tmp_path):
    path, _ = trained_mlp
    bad, meta = _copy(path, tmp_path / "shape")
    meta["model"]["hidden"] = [16, 8]
    write_metadata(bad, meta)
    job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=bad, extra=""))
    with pytest.raises(ArtefactError, match=r"Tagger.model: model artefact .*: tensor 'net.2.weight' has shape "
                                            r"\[16, 16\], but the model of its metadata needs \[8, 16\]"):
        build_job(job)
    meta["model"]["type"] = "pfn"
    write_metadata(bad, meta)
    with pytest.raises(ArtefactError, match=r"cannot build the model"):
        artefact.check_file(bad)


def test_an_artefact_of_another_kind_is_refused(trained_mlp, tmp_path):
    path, _ = trained_mlp
    other, meta = _copy(path, tmp_path / "kind")
    meta["kind"] = "jes"
    write_metadata(other, meta)
    with pytest.raises(ArtefactError, match=r"is a 'jes' artefact; JetTagger.model needs a 'model' artefact"):
        testing.run(JetTagger(model=other), inputs={"JetDataset": [[]]})


def test_missing_torch_gives_the_install_hint_at_build_time(trained_mlp, dataset, write_job, tmp_path, monkeypatch):
    path, _ = trained_mlp
    job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=path, extra=""))
    real = extras.available
    monkeypatch.setattr(extras, "available", lambda module: module != "torch" and real(module))
    with pytest.raises(MissingDependency, match=re.escape("job.yaml:11: Tagger (JetTagger) needs the optional package "
                                                          "'torch', which is not installed; install it with: pip "
                                                          "install torch==2.13.0 (the CPU build), or pip install "
                                                          '"hepreco[ml]"')):
        build_job(job)


def test_missing_safetensors_gives_its_install_hint(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_safetensors(name, *args, **kwargs):
        if name.split(".")[0] == "safetensors":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_safetensors)
    with pytest.raises(MissingDependency, match=r"reading the model weights x needs the optional package "
                                                r"'safetensors'.*pip install \"hepreco\[ml\]\""):
        artefact.weight_shapes("x")


def test_hepreco_validate_lists_the_model_artefact(trained_mlp, dataset, write_job, tmp_path, capsys):
    from hepreco.framework.cli import main

    path, _ = trained_mlp
    job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=path, extra=""))
    assert main(["validate", job]) == 0
    assert re.search(r"artefact Tagger.model = toy-mlp@1 \(model, sha256 [0-9a-f]{12}, job: ", capsys.readouterr().out)


def test_energy_regression_in_the_chain_equals_the_bare_model_times_the_summed_cells(dataset, tmp_path,
                                                                                      write_config):
    from hepreco.algorithms.ml import config, training

    from .test_training import REGRESSION

    cfg = config.load(write_config(REGRESSION.format(files=dataset, epochs=2, seed=1)))
    path = training.train(cfg, str(tmp_path / "reg"), progress=False, plots=False)["artefact"]
    records = read(dataset)["JetDataset"]
    energies = testing.run(CaloEnergyRegression(model=path, fields=["cells_em1", "cells_em2"]),
                           inputs={"RegressionDataset": records}, chunk_size=90)["CaloEnergyRegressionEnergy"]
    assert ak.fields(energies) == ["energy"]
    assert ak.all(ak.num(energies, axis=1) == ak.num(records, axis=1))

    meta = read_metadata(path)
    module = models.build(meta["model"])
    module.load_state_dict({k: torch.from_numpy(v) for k, v in artefact.read_weights(path).items()})
    module.eval()
    flat = ak.flatten(records, axis=1)
    layers = [ak.to_numpy(flat[f]) for f in ("cells_em1", "cells_em2")]
    scaled = [torch.from_numpy((x / meta["preprocessing"][f]["std"]).astype(np.float32))
              for x, f in zip(layers, ("cells_em1", "cells_em2"))]
    with torch.no_grad():
        out = module(*scaled)[:, 0].numpy().astype(np.float64)
    target = meta["preprocessing"]["__target__"]
    total = sum(x.reshape(len(x), -1).sum(axis=1, dtype=np.float64) for x in layers)
    expected = np.exp(out * target["std"] + target["mean"]) * np.maximum(total, 0.1)  # the log-ratio target
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(energies.energy)), expected, rtol=1e-5)
    true = ak.to_numpy(flat.true_e)
    assert np.median(expected / true) == pytest.approx(1.0, abs=0.05)


def test_a_set_tagger_in_the_chain_gives_the_same_scores_for_permuted_constituents(dataset, tmp_path, write_config):
    from hepreco.algorithms.ml import config, training

    from .test_training import CASES, SET_CONFIG

    inputs, model = CASES["pfn"]
    cfg = config.load(write_config(SET_CONFIG.format(type="pfn", inputs=inputs, model=model).format(
        files=dataset, epochs=1, seed=1)))
    path = training.train(cfg, str(tmp_path / "pfn"), progress=False, plots=False)["artefact"]
    records = read(dataset)["JetDataset"]
    flat = ak.flatten(records, axis=1)
    permuted = {f: ak.to_numpy(flat[f]) for f in ak.fields(flat)}
    # the real constituents stay the first n_const entries (the padding convention), in another order
    n = permuted["n_const"]
    order = np.argsort(np.where(np.arange(10)[None, :] < n[:, None],
                                np.random.default_rng(3).random((len(n), 10)), 2.0), axis=1)
    for f in ("const_pt_frac", "const_deta", "const_dphi"):
        permuted[f] = np.take_along_axis(ak.to_numpy(flat[f]), order, axis=1)
    shuffled = ak.unflatten(ak.zip({k: ak.from_numpy(v, regulararray=True) for k, v in permuted.items()},
                                   depth_limit=1), ak.num(records, axis=1))
    tagger = dict(model=path, fields=["const_pt_frac", "const_deta", "const_dphi", "n_const"],
                  shapes={"const_deta": [10]})
    one = testing.run(JetTagger(**tagger), inputs={"JetDataset": records})["JetTaggerScores"]
    two = testing.run(JetTagger(**tagger), inputs={"JetDataset": shuffled})["JetTaggerScores"]
    assert not np.array_equal(ak.to_numpy(ak.flatten(shuffled.const_deta, axis=1)),
                              ak.to_numpy(ak.flatten(records.const_deta, axis=1)))
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(two.w)), ak.to_numpy(ak.flatten(one.w)), rtol=1e-5,
                               atol=1e-6)


def test_a_set_tagger_with_globals_in_the_chain_equals_the_bare_model(dataset, tmp_path, write_config, write_job):
    from hepreco.algorithms.ml import config, training

    from .test_training import CASES, SET_CONFIG

    inputs, model = CASES["pfn"]
    cfg = config.load(write_config(SET_CONFIG.format(type="pfn", inputs=inputs + "\n  globals: [m, pt]",
                                                     model=model).format(files=dataset, epochs=1, seed=1)))
    path = training.train(cfg, str(tmp_path / "pfn"), progress=False, plots=False)["artefact"]
    loaded = artefact.load(path)
    assert loaded.spec.globals == ["m", "pt"] and loaded.spec.shapes["pt"] == []
    assert loaded.meta["model"]["n_globals"] == 2
    records = read(dataset)["JetDataset"]
    flat = ak.flatten(records, axis=1)
    # the bare model, preprocessing written out from the artefact's numbers
    prep = loaded.preprocessing
    n = ak.to_numpy(flat.n_const)
    mask = (np.arange(10)[None, :] < n[:, None]).astype(np.float32)
    x = np.stack([(ak.to_numpy(flat[f]) - prep[f]["mean"]) / prep[f]["std"] * mask
                  for f in ("const_pt_frac", "const_deta", "const_dphi")], axis=-1).astype(np.float32)
    g = np.stack([(ak.to_numpy(flat[f]) - prep[f]["mean"]) / prep[f]["std"] for f in ("m", "pt")],
                 axis=1).astype(np.float32)
    with torch.no_grad():
        bare = torch.softmax(loaded.module(torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(g)),
                             dim=1).numpy()
    tagger = JetTagger(model=path, fields=["const_pt_frac", "const_deta", "const_dphi", "n_const", "m", "pt"])
    scores = testing.run(tagger, inputs={"JetDataset": records})["JetTaggerScores"]
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(scores.w)), bare[:, 1], rtol=1e-5, atol=1e-6)
    # a job whose records lack a global is refused at build time with its name
    job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=path,
                               extra="    fields: [const_pt_frac, const_deta, const_dphi, n_const, m]"))
    with pytest.raises(ArtefactError, match=r"Tagger.model: .* reads 'pt', which the input 'JetDataset' does not "
                                            r"provide"):
        build_job(job)


def test_globals_must_be_scalars_per_object(dataset, tmp_path, write_config):
    from hepreco.algorithms.ml import config, training

    from .test_training import CASES, SET_CONFIG

    inputs, model = CASES["pfn"]
    cfg = config.load(write_config(SET_CONFIG.format(type="pfn", inputs=inputs + "\n  globals: [const_deta]",
                                                     model=model).format(files=dataset, epochs=1, seed=1)))
    with pytest.raises(ConfigurationError, match=r"train.yaml:\d+: inputs.globals: globals must be scalars per object; "
                                                 r"'const_deta' has shape \[10\] per object$"):
        training.load_dataset(cfg)


def test_flat_columns_of_sliced_and_reordered_records_equal_awkward_flatten(dataset):
    from hepreco.algorithms.ml.inference import flat_columns

    records = read(dataset)["JetDataset"]
    for view in (records, records[5:17], records[np.array([9, 2, 2, 0])], records[ak.num(records, axis=1) > 1]):
        cols = flat_columns(view, ["m", "image", "n_const"])
        flat = ak.flatten(view, axis=1)
        for f in ("m", "image", "n_const"):
            np.testing.assert_array_equal(cols[f], ak.to_numpy(flat[f]))
    # fixed-size arrays whose buffer runs past what they use (awkward allows it)
    windows = ak.contents.RegularArray(ak.contents.NumpyArray(np.arange(10.0)), 3)
    layout = ak.contents.ListOffsetArray(ak.index.Index64(np.array([0, 2, 3])),
                                         ak.contents.RecordArray([windows], ["w"]))
    np.testing.assert_array_equal(flat_columns(ak.Array(layout), ["w"])["w"], np.arange(9.0).reshape(3, 3))


def test_inference_follows_the_thread_policy_of_the_job(trained_mlp, dataset, write_job, tmp_path):
    path, _ = trained_mlp
    before = torch.get_num_threads()
    try:
        job = write_job(JOB.format(out=tmp_path / "out", dataset=dataset, model=path, extra=""))
        report = run_job(job, "job.threads=1")
        assert report["threads"]["applied"][0]["torch"] == 1
        assert torch.get_num_threads() == 1
    finally:
        from hepreco.framework import threads

        threads.apply(before)
    assert torch.get_num_threads() == before


def test_egamma_identifier_on_cell_windows_equals_the_bare_model(dataset, tmp_path, write_config):
    from hepreco.algorithms.ml import config, training
    from hepreco.algorithms.ml.inference import EgammaIdentifier

    from .test_training import CASES, SET_CONFIG

    inputs, model = CASES["cellnet"]
    cfg = config.load(write_config(SET_CONFIG.format(type="cellnet", inputs=inputs, model=model).format(
        files=dataset, epochs=1, seed=1)))
    path = training.train(cfg, str(tmp_path / "cells"), progress=False, plots=False)["artefact"]
    records = read(dataset)["JetDataset"]
    alg = EgammaIdentifier(model=path, classes=["qcd", "w"], shapes={"cells_em1": [3, 7], "cells_em2": [5, 5]})
    scores = testing.run(alg, inputs={"EgammaDataset": records}, chunk_size=150)["EgammaIdentifierScores"]
    meta = read_metadata(path)
    module = models.build(meta["model"])
    module.load_state_dict({k: torch.from_numpy(v) for k, v in artefact.read_weights(path).items()})
    module.eval()
    flat = ak.flatten(records, axis=1)
    layers = [torch.from_numpy(ak.to_numpy(flat[f]) / np.float32(meta["preprocessing"][f]["std"]))
              for f in ("cells_em1", "cells_em2")]
    with torch.no_grad():
        expected = torch.softmax(module(*layers), dim=1).numpy()
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(scores.w)), expected[:, 1], rtol=1e-5, atol=1e-6)
    wrong = EgammaIdentifier(model=path, shapes={"cells_em2": [7, 7]})
    with pytest.raises(ArtefactError, match=r"reads 'cells_em2' of shape \[5, 5\], the input 'EgammaDataset' "
                                            r"provides shape \[7, 7\]"):
        testing.run(wrong, inputs={"EgammaDataset": records})
