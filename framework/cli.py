"""The ``hepreco`` command line.

::

    hepreco run JOB [--set Alg.prop=value ...] [--evt-max N] [--workers N] [--threads N] [--executor E]
                    [--chunk-size N] [--output-dir D] [--resume | --overwrite] [--dump-config FILE]
    hepreco validate JOB [--set ...] [--graph] [--dot FILE]
    hepreco plugins
    hepreco describe NAME
    hepreco overlay --label A=DIR --label B=DIR --hist Owner/name [-o FILE]
    hepreco merge STREAM_DIR -o DEST (--events-per-file N | --size-mb M)
    hepreco artefacts [list | show NAME[@VERSION] | install FILE [--force]]
    hepreco train CONFIG.yaml [--set section.key=value ...] [-o OUTPUT_DIR] [--quiet]

Configuration and data errors are printed as one message (file, line,
suggestion) without a traceback; ``--debug`` shows the traceback.

Exit codes: 0 the job completed; 1 it ran but did not complete (aborted,
work items failed, or an input or output failed); 2 a usage or
configuration error (as argparse), nothing was run; 128 + signal number when
interrupted by Ctrl-C (130) or SIGTERM (143), after writing ``report.json``
(continue with ``--resume``).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import threading

from .errors import ConfigurationError, HeprecoError, Interrupted

#: exit codes (see the module docstring)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hepreco", description="chunked, plugin-based event processing")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    def job_args(sp):
        sp.add_argument("job", help="job options file (.yaml or .py)")
        sp.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME.PROP=VALUE",
                        help="override a property (value in YAML syntax); NAME is a component or 'job'")
        sp.add_argument("--evt-max", type=int, help="events to process (job.evt_max)")
        sp.add_argument("--chunk-size", type=int, help="events per chunk (job.chunk_size)")
        sp.add_argument("--workers", type=int, help="worker processes (job.workers)")
        sp.add_argument("--threads", type=int, help="threads per worker process (job.threads; 0: cores / workers)")
        sp.add_argument("--executor", help="sequential | processes | dask (job.executor)")
        sp.add_argument("--output-dir", help="output folder (job.output_dir)")
        sp.add_argument("--seed", type=int, help="global random seed (job.seed)")

    run = sub.add_parser("run", help="run a job")
    job_args(run)
    again = run.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an earlier run in the output folder: "
                       "skip the work items the manifest lists as complete (their parts are checked)")
    again.add_argument("--overwrite", action="store_true", help="replace an earlier run in the output folder "
                       "(deletes the files it wrote); without --resume or --overwrite an earlier run is an error")
    run.add_argument("--dump-config", metavar="FILE", help="write the resolved configuration ('-' for stdout) "
                     "and exit without processing")
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary")

    val = sub.add_parser("validate", help="check a job without processing events")
    job_args(val)
    val.add_argument("--graph", action="store_true", help="print the data-flow graph")
    val.add_argument("--dot", metavar="FILE", help="write the data-flow graph as Graphviz DOT")

    ov = sub.add_parser("overlay", help="overlay histograms of several finished jobs")
    ov.add_argument("--label", action="append", required=True, metavar="LABEL=OUTPUT_DIR",
                    help="a legend label and a job's output folder (repeat)")
    ov.add_argument("--hist", action="append", required=True, metavar="OWNER/NAME", help="histogram (repeat)")
    ov.add_argument("-o", "--output", default="overlay.png", help="PNG file to write")
    ov.add_argument("--no-normalise", action="store_true", help="draw entries instead of unit-area shapes")

    art = sub.add_parser("artefacts", help="list, show and install artefacts (calibration tables, conditions, ...)")
    art_sub = art.add_subparsers(dest="action")
    art_sub.add_parser("list", help="every artefact found, in search order (the default)")
    show = art_sub.add_parser("show", help="metadata of an artefact (what a job would resolve)")
    show.add_argument("name", help="NAME, NAME@VERSION or a path")
    inst = art_sub.add_parser("install", help="copy an artefact file into the user's folder ($HEPRECO_ARTEFACTS)")
    inst.add_argument("file", help="artefact file, e.g. one written by a derivation job into its output folder")
    inst.add_argument("--force", action="store_true", help="replace another file of the same name and version")

    tr = sub.add_parser("train", help="train an ML model on a dataset and write its artefact, metrics and plots")
    tr.add_argument("config", help="training configuration (.yaml), e.g. jobs/ml/train_jets_mlp.yaml")
    tr.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a key of the configuration (value in YAML syntax), e.g. training.epochs=5")
    tr.add_argument("-o", "--output-dir", help="folder receiving the artefact, metrics.json and plots "
                    "(default output/train/<name>)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("plugins", help="list plugins and what they provide")
    desc = sub.add_parser("describe", help="inputs, outputs and properties of a component")
    desc.add_argument("name")

    mrg = sub.add_parser("merge", help="combine a finished stream's parts into fewer, larger files")
    mrg.add_argument("stream", help="stream folder of a finished job (e.g. output/main/Ntuple)")
    mrg.add_argument("-o", "--output", required=True, help="new folder receiving the files and their manifest")
    size = mrg.add_mutually_exclusive_group(required=True)
    size.add_argument("--events-per-file", type=int, default=0, help="events per file (parts are not split)")
    size.add_argument("--size-mb", type=float, default=0.0, help="target file size in MB (parts are not split)")
    mrg.add_argument("--tree", default="events", help="TTree name of ROOT parts")
    return p


def load_job(args):
    from . import config
    from .job import build

    options = config.load(args.job)
    flags = {"evt_max": args.evt_max, "chunk_size": args.chunk_size, "workers": args.workers,
             "threads": args.threads, "executor": args.executor, "output_dir": args.output_dir, "seed": args.seed}
    for key, value in flags.items():
        if value is not None:
            config.apply_override(options, f"job.{key}={value}")
    for text in args.overrides:
        config.apply_override(options, text)
    return build(options)


def cmd_run(args) -> int:
    from .config import dump_yaml
    from . import job as job_module
    from .event_loop import run_job

    job_module.freeze_after_build = args.dedicated  # this process exists to run the job (see job.prepare)
    job = load_job(args)
    if args.dump_config:
        text = dump_yaml(job.resolved())
        if args.dump_config == "-":
            sys.stdout.write(text)
        else:
            with open(args.dump_config, "w") as f:
                f.write(text)
            print(f"hepreco: wrote the resolved configuration to {args.dump_config}; no events were processed "
                  f"(run it with: hepreco run {args.dump_config})", file=sys.stderr)
        return EXIT_OK
    report = run_job(job, resume=args.resume, quiet=args.quiet, overwrite=args.overwrite)
    return EXIT_OK if report["status"] == "ok" else EXIT_FAILED


def cmd_validate(args) -> int:
    from . import dataflow

    job = load_job(args)
    n_alg = len(job.algorithms())
    print(f"{args.job}: OK ({n_alg} algorithms, source {job.source.name}, {len(job.outputs)} output stream(s), "
          f"physics hash {job.config_hash()[:12]})")
    for who, art in job.artefacts().items():
        print(f"  artefact {who} = {art.label} ({art.kind}, sha256 {art.sha256[:12]}, {art.origin}: {art.path})")
    if args.graph:
        print(dataflow.graph_text(job.source, job.top))
    if args.dot:
        with open(args.dot, "w") as f:
            f.write(dataflow.graph_dot(job.source, job.top) + "\n")
    return 0


def cmd_plugins(args) -> int:
    from .plugins import get_registry

    registry = get_registry()
    for info in registry.plugins:
        origin = f"{info.distribution} {info.version}".strip() or info.module
        print(f"{info.name}  ({origin}; {info.module})")
        for kind, names in sorted(info.provides.items()):
            plural = {"geometry": "geometries"}.get(kind, kind + "s")
            print(f"    {plural:12} {', '.join(sorted(names))}")
    return 0


def cmd_describe(args) -> int:
    import inspect

    from .config import JobSettings
    from .errors import UnknownNameError
    from .plugins import get_registry
    from .sequence import Sequence

    framework = {"Sequence": ("sequence", Sequence), "job": ("job settings", JobSettings)}
    if args.name in framework:
        kind, obj = framework[args.name]
        print(f"{args.name}  ({kind}, from the framework; {obj.__module__}.{obj.__qualname__})\n")
        print(inspect.getdoc(obj) or "(no documentation)")
        return 0
    try:
        kind, obj = get_registry().find(args.name)
    except UnknownNameError as exc:
        raise UnknownNameError("component", args.name, [*exc.candidates, *framework]) from None
    if kind == "geometry":
        print(f"{args.name} (geometry): {obj}")
        return 0
    plugin = get_registry().origin[(kind, args.name)]
    print(f"{args.name}  ({kind}, from plugin {plugin!r}; {obj.__module__}.{obj.__qualname__})\n")
    print(inspect.getdoc(obj) or "(no documentation)")
    return 0


def cmd_overlay(args) -> int:
    import os

    from .errors import ConfigurationError
    from .services.plotting import overlay

    outputs = {}
    for text in args.label:
        label, sep, folder = text.partition("=")
        if not sep or not label or not os.path.exists(os.path.join(folder, "histograms.root")):
            raise ConfigurationError(f"--label {text!r}: expected LABEL=OUTPUT_DIR of a finished job "
                                     "(a folder with histograms.root)")
        outputs[label] = folder
    try:
        overlay(outputs, args.hist, args.output, normalise=not args.no_normalise)
    except KeyError as exc:
        raise ConfigurationError(str(exc.args[0])) from None
    print(f"wrote {args.output}")
    return 0


def cmd_merge(args) -> int:
    from .io.merge import merge_stream

    files = merge_stream(args.stream, args.output, events_per_file=args.events_per_file, size_mb=args.size_mb,
                         tree=args.tree)
    events = sum(f["events"] for f in files)
    size = sum(f["bytes"] for f in files) / 1e6
    print(f"merged {sum(len(f['parts']) for f in files)} part(s) of {args.stream} into {len(files)} file(s) in "
          f"{args.output}: {events} events, {size:.2f} MB (manifest.json lists them)")
    return 0


def cmd_artefacts(args) -> int:
    import json
    import os
    import types

    from .artefacts import ArtefactSvc, describe_file, install, parse_request, user_folder
    from .errors import ConfigurationError, MissingArtefact, suggestion
    from .plugins import get_registry

    svc = ArtefactSvc()
    svc.services = types.SimpleNamespace(registry=get_registry())
    action = args.action or "list"
    if action == "install":
        if not os.path.isfile(args.file):
            raise MissingArtefact("install", args.file, "the file does not exist")
        target = install(args.file, force=args.force)
        art = describe_file(target, "user")
        print(f"installed {art.label} ({art.kind}, sha256 {art.sha256[:12]}) as {target}")
        shadowed = [a for a in svc.available() if a.origin != "user" and (a.name, a.version) == (art.name, art.version)
                    and a.sha256 != art.sha256]
        for other in shadowed:
            print(f"hepreco: warning: it takes the place of the {other.origin} {other.label} ({other.path}) in every "
                  f"job that asks for {art.name} or {art.label}; remove {target} to get that one back",
                  file=sys.stderr)
        return 0
    found = svc.available()
    if action == "list":
        rows = [(a.name, str(a.version), a.kind, a.geometry or "-", a.sha256[:12], a.origin, a.path) for a in found]
        header = ("NAME", "VERSION", "KIND", "GEOMETRY", "SHA256", "WHERE", "PATH")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
        print(f"(user folder: {user_folder()}; a name resolves to the first place that has it, its highest version)")
        return 0
    try:
        request = parse_request(args.name)
    except ValueError as exc:
        raise ConfigurationError(f"artefacts show {args.name!r}: {exc}") from None
    if request.path:
        art = describe_file(request.path, "job")
    else:
        matches = [a for a in found if a.name == request.name and request.version in (None, a.version)]
        if not matches:
            raise MissingArtefact("artefacts show", str(request),
                                  suggestion(request.name, {a.name for a in found}))
        first = [a for a in matches if a.origin == matches[0].origin]
        art = max(first, key=lambda a: a.version)
    shown = {"name": art.name, "version": art.version, "kind": art.kind, "schema": art.schema,
             "sha256": art.sha256, "where": art.origin, "path": art.path,
             **{k: v for k, v in art.metadata.items() if k not in ("name", "version", "kind", "schema")}}
    print(json.dumps(shown, indent=2, default=str))
    return 0


#: fewer test objects than this make ``hepreco train`` say its figures are a rough indication
SMALL_TEST = 1000


def cmd_train(args) -> int:
    from hepreco.algorithms.ml import training  # torch and the ML code only for this command

    result = training.main(args.config, args.overrides, args.output_dir, progress=not args.quiet)
    test = result["metrics"].get("test", {})
    figures = {k: v for k, v in test.items() if isinstance(v, (int, float))}
    print(f"trained {os.path.basename(result['artefact'])}: {result['metrics']['epochs']} epoch(s), best "
          f"{result['metrics']['best_epoch']}, " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))
    n_test = result["metrics"].get("objects", {}).get(result["metrics"].get("evaluated_on", "test"), 0)
    if 0 < n_test < SMALL_TEST:
        # binomial error of an accuracy near 0.8 on n objects: sqrt(0.16 / n)
        print(f"  note: these figures come from {n_test} {result['metrics'].get('evaluated_on', 'test')} objects "
              f"(an accuracy is uncertain by about {(0.16 / n_test) ** 0.5:.2f}); make more events for a measurement")
    for path in result["files"]:
        print(f"  wrote {path}")
    print(f"install it with: hepreco artefacts install {result['artefact']}")
    return 0


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "plugins": cmd_plugins, "describe": cmd_describe,
            "overlay": cmd_overlay, "merge": cmd_merge, "artefacts": cmd_artefacts,
            "train": cmd_train}


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM stops the job as Ctrl-C does (a second SIGTERM kills at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None, dedicated: bool = False) -> int:
    """Run one command; ``dedicated``: this process exists for it (the console script), see :func:`entry_point`."""
    args = _parser().parse_args(argv)
    args.dedicated = dedicated
    try:
        with _sigterm_as_interrupt():
            return COMMANDS[args.command](args)
    except HeprecoError as exc:
        if args.debug:
            raise
        print(f"hepreco: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigurationError) else EXIT_FAILED
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        report = getattr(exc, "report", None)
        where = f"; what completed is recorded in {report}" if report else ""
        print(f"hepreco: interrupted by {signal.Signals(signum).name}{where}; rerun with --resume to continue",
              file=sys.stderr)
        return 128 + signum


def entry_point() -> None:
    """The ``hepreco`` console script: :func:`main`, then a quick exit.

    A job run this way freezes its long-lived objects once built (see
    :func:`hepreco.framework.job.prepare`); a job run through :func:`main`
    from Python (a test, a notebook) does not, as it would keep that
    process's cyclic garbage.  Everything a command writes is closed when
    :func:`main` returns.  The
    objects still alive then (numba's, torch's, matplotlib's: ~600,000) are
    frozen, so the interpreter's final garbage collections do not walk them
    (about 1 s at every exit of a job otherwise).
    """
    code = main(dedicated=True)
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry_point()
