"""ML model speed: inference inside the framework against a bare torch loop, and training's data pipeline.

Run:  python benchmarks/taggers.py [--objects N] [--threads N] [--repeat N]

On a synthetic dataset in the layout of the dataset jobs (an Hdf5Output part
of per-event records, ``--objects`` jets with 20 features, the pT, a 25 x 25 image,
50 constituents of four fields and four cell layers), for each model type of
``jobs/ml/train_*.yaml`` (at the sizes of those configurations):

- objects/s of the inference plugin inside the framework (``execute`` on the
  event store of each chunk of ``--chunk`` events (500), as the event loop calls it: reading
  the records from the store, preprocessing, batched forward passes, the
  per-event output; the plugin initialised once, as in a job; the chunks are
  sliced from the dataset beforehand, as a source delivers them), against a bare
  torch loop over the same preprocessed tensors in the same batches, in the same
  run, with the same torch threads, the two alternating in each of ``--repeat``
  rounds (each the best of them); the ratio is the goal (>= 0.9);
- training samples/s of one epoch of ``hepreco train`` counted with the data
  pipeline (reading the HDF5 files, selecting, preprocessing) against the same
  epoch on the tensors already in memory; each the best of ``--repeat``, after
  an untimed first load and training of the model (one-time costs).

The weights come from one short training (they do not change the speed).
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile

import awkward as ak
import numpy as np

from hepreco.algorithms.ml import config, data, training
from hepreco.algorithms.ml.splits import split_of
from hepreco.framework import allocator, testing
from hepreco.framework import threads as thread_policy
from hepreco.framework.event_store import EventStore, make_event_ids
from hepreco.framework.io import read
from hepreco.framework.io.hdf5 import write_hdf5
from _timing import best_alternating  # noqa: E402

FEATURES = [f"f{i}" for i in range(20)]
LAYERS = {"cells_PreSampler": (5, 5), "cells_EMB1": (3, 17), "cells_EMB2": (7, 7), "cells_EMB3": (7, 5)}
CONSTITUENTS = ["const_pt_frac", "const_deta", "const_dphi", "const_e_frac"]
MODELS = {  # kind, fields, sizes, plugin, globals
    "mlp": ("features", FEATURES, "hidden: [64, 64, 32]", "JetTagger", []),
    "cnn": ("image", ["image"], "channels: [8, 16, 32]\n  dense: [64]", "JetTagger", ["pt"]),
    "efn": ("set", ["const_deta", "const_dphi"], "phi: [64, 64]\n  latent: 32\n  f: [64, 64]", "JetTagger", ["pt"]),
    "pfn": ("set", CONSTITUENTS, "phi: [64, 64]\n  latent: 32\n  f: [64, 64]", "JetTagger", ["pt"]),
    "particlenet": ("set", CONSTITUENTS[1:3] + CONSTITUENTS[:1] + CONSTITUENTS[3:],
                    "k: 8\n  edge: [[32, 32], [64, 64]]\n  f: [64]", "JetTagger", ["pt"]),
    "cellnet": ("cells", list(LAYERS), "channels: [8]\n  dense: [64, 32]", "EgammaIdentifier", []),
}
CONFIG = """\
name: bench-{type}
data: {{files: [{files}], collection: Records, labels: [bkg, sig], classes: [bkg, sig]}}
inputs:
  kind: {kind}
  fields: {fields}
  globals: {globals_}
{weight}
model:
  type: {type}
  {sizes}
training: {{epochs: 1, batch_size: 256, seed: 1, threads: {threads}}}
"""


def write_dataset(folder: str, n_objects: int, seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    n_events = n_objects // 2
    counts = np.full(n_events, 2)
    n = int(counts.sum())
    ev = np.repeat(np.arange(n_events), counts)
    label = rng.integers(0, 2, n).astype(np.int32)
    fields = {"label": label, "weight": np.ones(n, np.float32), "split": split_of(1, ev),
              "pt": rng.uniform(350.0, 1000.0, n).astype(np.float32),
              **{f: (rng.normal(size=n) + 0.5 * label).astype(np.float32) for f in FEATURES},
              "image": rng.exponential(0.01, (n, 25, 25)).astype(np.float32),
              "n_const": rng.integers(10, 51, n).astype(np.int32),
              **{k: rng.exponential(1.0, (n, *s)).astype(np.float32) for k, s in LAYERS.items()}}
    real = np.arange(50)[None, :] < fields["n_const"][:, None]
    for name in CONSTITUENTS:
        fields[name] = (rng.normal(size=(n, 50)) * real).astype(np.float32)
    flat = ak.zip({k: ak.from_numpy(v, regulararray=True) for k, v in fields.items()}, depth_limit=1)
    os.makedirs(folder, exist_ok=True)
    write_hdf5(os.path.join(folder, "part-00000.h5"), make_event_ids(1, np.arange(n_events)),
               {"Records": ak.unflatten(flat, counts)})
    return folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--objects", type=int, default=20000, help="objects (jets) in the synthetic dataset")
    p.add_argument("--threads", type=int, default=1, help="torch threads on both sides")
    p.add_argument("--repeat", type=int, default=3, help="repeats (best is reported)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated model types")
    p.add_argument("--malloc", default=allocator.DEFAULT, choices=allocator.POLICIES,
                   help="allocator policy of this process (job.malloc), for both sides")
    p.add_argument("--chunk", type=int, default=500, help="events per chunk (the per-chunk work of the plugin is "
                   "fixed: small models need large chunks)")
    args = p.parse_args()

    from hepreco.algorithms.ml import artefact, runtime
    from hepreco.algorithms.ml import inference

    torch = runtime.torch
    thread_policy.apply(args.threads)
    malloc = allocator.apply(args.malloc)
    tmp = tempfile.mkdtemp(prefix="hepreco-bench-ml-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    folder = write_dataset(os.path.join(tmp, "Records"), args.objects)
    records = read(folder)["Records"]
    n_obj = int(ak.sum(ak.num(records, axis=1)))
    print(f"{n_obj} objects, {len(records)} events in chunks of {args.chunk}, torch {torch.__version__} on "
          f"{args.threads} thread(s), allocator policy {malloc}")
    print(f"{'model':12} {'params':>8} {'framework obj/s':>16} {'bare obj/s':>12} {'ratio':>6}   "
          f"{'train pipeline/s':>16} {'in memory/s':>12} {'ratio':>6}")
    for kind_type in args.models.split(","):
        kind, fields, sizes, plugin, globals_ = MODELS[kind_type]
        weight = "  weight: const_pt_frac" if kind_type == "efn" else ""
        path = os.path.join(tmp, f"{kind_type}.yaml")
        with open(path, "w") as f:
            f.write(CONFIG.format(type=kind_type, files=folder, kind=kind, fields=fields, weight=weight,
                                  sizes=sizes, threads=args.threads, globals_=globals_))
        cfg = config.load(path)
        out = os.path.join(tmp, kind_type)
        # training: one epoch with the data pipeline against the same epoch on tensors in memory; a first
        # untimed load and training pay the one-time costs (imports, torch's first calls for this model)
        ds = training.load_dataset(cfg)
        training.train(cfg, out, progress=False, dataset=ds, plots=False)
        t_load, t_train = best_alternating([lambda: training.load_dataset(cfg),
                                            lambda: training.train(cfg, out, progress=False, dataset=ds, plots=False)],
                                           args.repeat)
        n_train = len(ds.splits[0])
        model = artefact.load(os.path.join(out, f"bench-{kind_type}@1.safetensors"))

        alg = getattr(inference, plugin)(model=os.path.join(out, f"bench-{kind_type}@1.safetensors"),
                                         objects="Records", batch_size=4096)
        testing.run(alg, inputs={"Records": records[:2]})  # services, initialize (model loaded once per process)
        alg.initialize()
        # the chunks as a source delivers them (its reading is not the plugin's work)
        chunks = [(make_event_ids(1, np.arange(first, min(first + args.chunk, len(records)))),
                   records[first:first + args.chunk]) for first in range(0, len(records), args.chunk)]

        def framework():
            for ids, chunk in chunks:
                store = EventStore(ids)
                store.put("Records", chunk, "source")
                alg.execute(store.view(None, alg))

        flat = ak.flatten(records, axis=1)
        cols = data.columns_of(flat, model.spec.needed())
        # torch's own memory (forward passes on tensors wrapping numpy arrays can be slower)
        arrays = [torch.from_numpy(a).clone() for a in data.model_inputs(cols, model.spec, model.preprocessing)]
        counts = ak.to_numpy(ak.num(records, axis=1))
        bounds = np.r_[0, np.cumsum([counts[i:i + args.chunk].sum() for i in range(0, len(counts), args.chunk)])]

        def bare():
            with torch.inference_mode():
                for a, b in zip(bounds[:-1], bounds[1:]):
                    for first in range(a, b, 4096):
                        model.module(*(t[first:min(first + 4096, b)] for t in arrays))

        t_fw, t_bare = best_alternating([framework, bare], args.repeat)
        print(f"{kind_type:12} {sum(p.numel() for p in model.module.parameters()):8d} {n_obj / t_fw:16.0f} "
              f"{n_obj / t_bare:12.0f} {t_bare / t_fw:6.2f}   {n_train / (t_load + t_train):16.0f} "
              f"{n_train / t_train:12.0f} {t_train / (t_load + t_train):6.2f}")
        sys.stdout.flush()
    print("(the bare loop runs on tensors preprocessed beforehand; the framework's time includes reading the "
          "records from the store, preprocessing and the per-event output; training 'pipeline' counts reading "
          "the HDF5 part, selection and preprocessing once per training, here over one epoch)")


if __name__ == "__main__":
    main()
