"""Job options: YAML files (the main form) and Python files, one model for both.

A job options file has up to five sections, and may include others::

    include:      job options file(s) this one starts from and changes (see composition.py)
    job:          settings of the job (see JobSettings: evt_max, chunk_size, seed, executor, ...)
    source:       the event source, {type: ..., <property>: ...}
    algorithms:   list of {type: ..., name: ..., <property or data key>: ...};
                  {type: Sequence, name: ..., mode: all|and|or, invert: bool, members: [...]}
    services:     {ServiceName: {<property>: ...}}
    outputs:      list of output streams {type: RootOutput, name: ..., collections: [...]}

Parsing keeps the file and line of every entry and key, so that every
validation error can point at the line to fix.  A Python job options file
builds the same model with :func:`Job`, :func:`Alg`, :func:`Seq`,
:func:`Source`, :func:`Svc` and :func:`Stream` and binds it to ``job``;
``Job(include=...)`` composes like ``include:``.
"""
from __future__ import annotations

import os
import runpy
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import allocator
from .component import Component, Property
from .errors import ConfigurationError, Location, UnknownNameError

SECTIONS = ("include", "job", "source", "algorithms", "services", "outputs")
EXECUTORS = ("sequential", "processes", "dask")


class JobSettings(Component):
    """Settings of the job as a whole (the ``job:`` section)."""

    type_name = "job"
    label = "job"
    kind = "job"

    name = Property("job", doc="name of the job, shown in the report")
    evt_max = Property(-1, doc="events to process (-1: the whole input)", ge=-1)
    chunk_size = Property(500, doc="events per chunk (one work item, one event store)", gt=0)
    seed = Property(12345, doc="global random seed; every per-event stream derives from it", ge=0)
    run = Property(1, doc="run number given to generated events", ge=0)
    output_dir = Property("output", doc="folder receiving outputs, histograms and report.json")
    executor = Property("sequential", doc="how work items are run", choices=EXECUTORS)
    workers = Property(1, doc="worker processes (processes, dask)", ge=1)
    threads = Property(0, doc="threads per worker process for numba, torch, BLAS and algorithm thread pools "
                              "(0: usable cores / workers, at least 1)", ge=0)
    scheduler = Property("", doc="dask scheduler address (empty: a LocalCluster on this machine)")
    scheduling = Property("declared", doc="algorithm order: as declared, or derived from inputs/outputs",
                          choices=("declared", "dataflow"))
    mode = Property("all", doc="mode of the top-level sequence (all | and | or)", choices=("all", "and", "or"))
    max_retries = Property(2, doc="retries of a work item whose worker died", ge=0)
    plugins = Property([], doc="extra plugin modules to import (besides the entry points)", items=str)
    progress = Property(True, doc="show a progress bar")
    malloc = Property(allocator.DEFAULT, doc="memory allocator policy: 'reuse' keeps freed large blocks in the "
                                             "process for the next chunk (glibc thresholds raised), 'system' leaves "
                                             "glibc's defaults", choices=allocator.POLICIES)

    def __init__(self, **values):
        super().__init__(None, **values)


#: settings that change how a job runs but not what it computes (left out of the physics hash)
EXECUTION_SETTINGS = ("output_dir", "executor", "workers", "threads", "scheduler", "max_retries", "progress",
                      "malloc")


# -- the model ----------------------------------------------------------------
@dataclass
class Spec:
    """One configured component as written: type, name, values and where each was written."""

    type: str
    name: str
    values: dict[str, Any]
    where: Location
    where_of: dict[str, Location] = field(default_factory=dict)
    members: list["Spec"] | None = None

    def locate(self, key: str) -> Location:
        return self.where_of.get(key, self.where)

    def walk(self):
        yield self
        for m in self.members or []:
            yield from m.walk()


@dataclass
class JobOptions:
    """A parsed (not yet validated) job options file."""

    file: str
    job: Spec
    source: Spec | None
    algorithms: list[Spec]
    services: list[Spec]
    outputs: list[Spec]
    included: dict[str, Location] = field(default_factory=dict)  # file -> where it was included

    def components(self):
        """Every spec with a name that ``--set`` can address."""
        yield self.job
        if self.source:
            yield self.source
        for s in self.algorithms:
            yield from s.walk()
        yield from self.services
        yield from self.outputs


# -- YAML with line numbers ---------------------------------------------------
class _LineDict(dict):
    line = 0
    lines: dict


class _LineList(list):
    line = 0
    lines: list


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigurationError(f"key {key!r} appears twice in one mapping (first on line {out.lines[key]})",
                                     Location(loader.name, key_node.start_mark.line + 1))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    out = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _plain(value: Any) -> Any:
    """Strip line bookkeeping: plain dicts and lists all the way down."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _spec_from_mapping(entry: Any, file: str, line: int, what: str, default_type: str | None = None) -> Spec:
    where = Location(file, getattr(entry, "line", line) or line)
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{what} must be a mapping like {{type: Name, ...}}, got {entry!r}", where)
    lines = getattr(entry, "lines", {})
    where_of = {k: Location(file, lines.get(k, where.line)) for k in entry}
    type_ = entry.get("type", default_type)
    if not isinstance(type_, str) or not type_:
        raise ConfigurationError(f"{what} needs a 'type:' naming the component type", where)
    name = entry.get("name", type_)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{what}: 'name' must be a non-empty string, got {name!r}", where_of.get("name", where))
    values = {k: _plain(v) for k, v in entry.items() if k not in ("type", "name", "members")}
    members = None
    if type_ == "Sequence":
        raw = entry.get("members", [])
        if not isinstance(raw, list):
            raise ConfigurationError(f"sequence {name!r}: 'members' must be a list", where_of.get("members", where))
        member_lines = getattr(raw, "lines", [where.line] * len(raw))
        members = [_spec_from_mapping(m, file, ln, f"member {i + 1} of sequence {name!r}")
                   for i, (m, ln) in enumerate(zip(raw, member_lines))]
    elif "members" in entry:
        raise ConfigurationError(f"{what}: only a Sequence has 'members' ({type_!r} is no sequence)",
                                 where_of["members"])
    return Spec(type_, name, values, where, where_of, members)


def options_from_dict(doc: Any, file: str) -> JobOptions:
    """Build :class:`JobOptions` from a (line-annotated) mapping."""
    if doc is None:
        doc = _LineDict()
    if not isinstance(doc, dict):
        raise ConfigurationError("job options must be a mapping with sections " + ", ".join(SECTIONS),
                                 Location(file, 1))
    lines = getattr(doc, "lines", {})
    for key in doc:
        if key not in SECTIONS:
            raise UnknownNameError("section", key, SECTIONS, Location(file, lines.get(key)))
    from . import composition

    includes = []
    if doc.get("include") is not None:
        includes = composition.includes_of(doc["include"], file, Location(file, lines.get("include")))
        doc = composition.mark_partial(doc)

    job_entry = doc.get("job") or _LineDict()
    if not isinstance(job_entry, dict):
        raise ConfigurationError("'job' must be a mapping of settings", Location(file, lines.get("job")))
    job_lines = getattr(job_entry, "lines", {})
    job = Spec("job", "job", {k: _plain(v) for k, v in job_entry.items()}, Location(file, lines.get("job")),
               {k: Location(file, job_lines.get(k)) for k in job_entry})

    source = None
    if doc.get("source") is not None:
        source = _spec_from_mapping(doc["source"], file, lines.get("source", 1), "source")

    def listed(section: str) -> list[Spec]:
        raw = doc.get(section) or []
        if not isinstance(raw, list):
            raise ConfigurationError(f"'{section}' must be a list of entries", Location(file, lines.get(section)))
        entry_lines = getattr(raw, "lines", [lines.get(section, 1)] * len(raw))
        return [_spec_from_mapping(e, file, ln, f"entry {i + 1} of {section}")
                for i, (e, ln) in enumerate(zip(raw, entry_lines))]

    services = []
    raw_services = doc.get("services") or {}
    if not isinstance(raw_services, dict):
        raise ConfigurationError("'services' must be a mapping {ServiceName: {property: value}}",
                                 Location(file, lines.get("services")))
    svc_lines = getattr(raw_services, "lines", {})
    for name, entry in raw_services.items():
        entry = entry if entry is not None else _LineDict()
        if isinstance(entry, dict) and "name" not in entry:
            entry = _with(entry, "name", name)
        services.append(_spec_from_mapping(entry, file, svc_lines.get(name, 1), f"service {name!r}",
                                           default_type=name))
    return composition.compose(JobOptions(file, job, source, listed("algorithms"), services, listed("outputs")),
                               includes)


def _with(entry: dict, key: str, value: Any) -> dict:
    out = _LineDict(entry)
    out.line = getattr(entry, "line", 0)
    out.lines = dict(getattr(entry, "lines", {}))
    out[key] = value
    return out


def read_yaml(path: str, what: str = "job options file") -> Any:
    """A YAML file whose mappings and lists record their lines (``.line``, ``.lines``), for located errors.

    Other configuration files (a trigger menu) are read with it too, so that
    their errors name the file and line like those of job options.
    """
    try:
        with open(path) as f:
            loader = _Loader(f)
            loader.name = path
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
    except FileNotFoundError:
        raise ConfigurationError(f"{what} {path!r} does not exist") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigurationError(f"YAML syntax error: {exc.problem}", Location(path, mark.line + 1 if mark else None)) \
            from None


def load_yaml(path: str) -> JobOptions:
    return options_from_dict(read_yaml(path), path)


# -- Python job options ---------------------------------------------------------
def _caller(depth: int = 2) -> Location:
    frame = sys._getframe(depth)
    return Location(frame.f_code.co_filename, frame.f_lineno)


def _entry(kind: str):
    def make(type: str | None = None, name: str | None = None, **values: Any) -> Spec:
        where = _caller()
        if not type and not name:
            raise ConfigurationError(f"{kind}() needs a type, or the name of an included entry to change", where)
        if not type:
            from .composition import INHERIT
            type = INHERIT
        return Spec(type, name or type, values, where, {k: where for k in values})

    make.__name__ = make.__qualname__ = kind
    make.__doc__ = (f"An entry of Python job options: {kind}(type, name=None, **properties); "
                    f"{kind}(name=..., **properties) changes an included entry.")
    return make


#: Python job options entries (their errors point at the calling line)
Alg, Source, Svc, Stream = _entry("Alg"), _entry("Source"), _entry("Svc"), _entry("Stream")


def Seq(name: str, members: list[Spec], mode: str | None = None, invert: bool | None = None,
        **directives: Any) -> Spec:
    """A sequence entry in Python job options (mode ``all`` and no inversion unless given)."""
    where = _caller()
    values = {k: v for k, v in (("mode", mode), ("invert", invert)) if v is not None}
    values.update(directives)
    return Spec("Sequence", name, values, where, {k: where for k in values}, list(members))


def Job(source: Spec | None = None, algorithms: list[Spec] = (), services: list[Spec] = (),
        outputs: list[Spec] = (), include: str | list[str] | None = None, **settings: Any) -> JobOptions:
    """A whole job in Python job options: ``job = Job(source=..., algorithms=[...], evt_max=100)``.

    ``include`` names job options file(s) to start from, as ``include:`` in YAML; then
    ``algorithms`` etc. change them with the same rules (``Alg("MyAlg", after="Other")``,
    ``Alg(name="Other", remove=True)``, ``Svc("GeometrySvc", geometry="...")``).
    """
    from . import composition

    where = _caller()
    job = Spec("job", "job", settings, where, {k: where for k in settings})
    options = JobOptions(where.file, job, source, list(algorithms), list(services), list(outputs))
    includes = composition.includes_of(include, where.file, where) if include is not None else []
    return composition.compose(options, includes)


def _failing_line(path: str, tb) -> int | None:
    """The line of the innermost traceback frame that lies in the job options file ``path``."""
    target = os.path.abspath(path)
    line = None
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def load_python(path: str) -> JobOptions:
    """Run a Python job options file (with the user's rights, like any Python file) and return its ``job``.

    A syntax error or an exception in the file becomes a
    :class:`ConfigurationError` naming the file, the line and the exception.
    """
    if not os.path.exists(path):
        raise ConfigurationError(f"job options file {path!r} does not exist")
    try:
        namespace = runpy.run_path(path, run_name="__hepreco_joboptions__")
    except SyntaxError as exc:
        where = Location(exc.filename or path, exc.lineno)
        raise ConfigurationError(f"SyntaxError: {exc.msg}", where) from None
    except ConfigurationError as exc:
        if exc.location is not None:
            raise
        raise exc.at(Location(path, _failing_line(path, exc.__traceback__))) from None
    except Exception as exc:
        where = Location(path, _failing_line(path, exc.__traceback__))
        raise ConfigurationError(f"{type(exc).__name__}: {exc}", where) from None
    job = namespace.get("job")
    if not isinstance(job, JobOptions):
        raise ConfigurationError("a Python job options file must bind 'job' to "
                                 "hepreco.framework.config.Job(...)", Location(path))
    job.file = path
    return job


def load(path: str) -> JobOptions:
    """Parse a job options file (``.yaml``/``.yml`` or ``.py``; or ``package:path`` inside an installed package)."""
    if not os.path.exists(path) and ":" in path:
        from .composition import package_file

        path = package_file(path) or path
    ext = os.path.splitext(path)[1].lower()
    if ext == ".py":
        return load_python(path)
    if ext in (".yaml", ".yml", ".json"):
        return load_yaml(path)
    raise ConfigurationError(f"job options must be .yaml, .yml or .py files, got {path!r}")


# -- overrides --------------------------------------------------------------------
def apply_override(options: JobOptions, text: str) -> None:
    """Apply ``Target.prop=value`` (value in YAML syntax) to the parsed options."""
    where = Location(f"--set {text}")
    target, sep, value_text = text.partition("=")
    name, dot, prop = target.strip().rpartition(".")
    if not sep or not dot or not name or not prop:
        raise ConfigurationError("expected --set Component.property=value, e.g. --set job.evt_max=100", where)
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"cannot parse the value {value_text!r}: {exc}", where) from None
    specs = {s.name: s for s in options.components()}
    if name not in specs and name.endswith("Svc"):
        # a service the job file does not configure (it runs with its defaults): configure it now
        specs[name] = Spec(name, name, {}, where)
        options.services.append(specs[name])
    if name not in specs:
        raise UnknownNameError("component", name, list(specs), where, context="--set")
    spec = specs[name]
    spec.values[prop] = value
    spec.where_of[prop] = where


# -- dumping --------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    pass


def dump_yaml(resolved: dict) -> str:
    """YAML text of a resolved configuration (runs again as it is)."""
    return yaml.dump(resolved, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)
