"""The ``hepreco`` command line.

::

    hepreco run JOB [--set Alg.prop=value ...] [--evt-max N] [--workers N] [--threads N] [--executor E]
                    [--chunk-size N] [--output-dir D] [--resume] [--dump-config FILE]
    hepreco validate JOB [--set ...] [--graph] [--dot FILE]
    hepreco plugins
    hepreco describe NAME
    hepreco overlay --label A=DIR --label B=DIR --hist Owner/name [-o FILE]

Configuration and data errors are printed as one message (file, line,
suggestion) without a traceback; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import sys

from .errors import HeprecoError


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
    run.add_argument("--resume", action="store_true", help="skip work items the manifest lists as complete")
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

    sub.add_parser("plugins", help="list plugins and what they provide")
    desc = sub.add_parser("describe", help="inputs, outputs and properties of a component")
    desc.add_argument("name")
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
    from .event_loop import run_job

    job = load_job(args)
    if args.dump_config:
        text = dump_yaml(job.resolved())
        if args.dump_config == "-":
            sys.stdout.write(text)
        else:
            with open(args.dump_config, "w") as f:
                f.write(text)
        return 0
    report = run_job(job, resume=args.resume, quiet=args.quiet)
    return 0 if report["status"] == "ok" else 1


def cmd_validate(args) -> int:
    from . import dataflow

    job = load_job(args)
    n_alg = len(job.algorithms())
    print(f"{args.job}: OK ({n_alg} algorithms, source {job.source.name}, {len(job.outputs)} output stream(s), "
          f"physics hash {job.config_hash()[:12]})")
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

    from .plugins import get_registry

    kind, obj = get_registry().find(args.name)
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


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "plugins": cmd_plugins, "describe": cmd_describe,
            "overlay": cmd_overlay}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except HeprecoError as exc:
        if args.debug:
            raise
        print(f"hepreco: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hepreco: interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
