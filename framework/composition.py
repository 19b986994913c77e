"""Job composition: a job options file that includes another and changes it.

``include:`` names one job options file or a list of them (YAML or Python).
They are read first, in order (each later one merged onto the earlier
ones), and the including file is merged onto the result:

================  ===============================================================
section           how an entry of the including file is merged
================  ===============================================================
``job:``          each setting given overrides the included one
``source:``       without ``type:`` or with the same type: its properties
                  override the included source's; another type replaces it
``services:``     by name: properties override; a new name adds a service
``algorithms:``   by name, anywhere in the tree of sequences: properties of an
                  existing algorithm override its included values (``type:``
                  may be left out); a new name is appended, or inserted with
                  ``before: Name`` / ``after: Name`` next to an existing one
                  (also inside a sequence); ``before:``/``after:`` on an
                  existing name moves it; ``replace: true`` replaces the entry
                  as a whole; ``remove: true`` removes it; ``members:`` of an
                  existing sequence are merged by the same rules
``outputs:``      by name, as algorithms
================  ===============================================================

A property's value is replaced as a whole (a list such as ``collections`` is
not concatenated).  ``before``, ``after``, ``replace`` and ``remove`` are
reserved keys; they are errors in a file without ``include:``.

An included file is named by a path relative to the including file, an
absolute path, or ``package:path/in/package.yaml`` -- a path inside an
installed Python package (a module or distribution name), e.g.
``hepreco:jobs/main.yaml``.  Includes nest; a cycle is an error.  Errors name
the including file and line and the included file; an error at a line of an
included file adds where that file was included.  Python job options compose
with ``Job(include=..., algorithms=[Alg("X", after="Y"), Alg(name="Z", remove=True)])``.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
from typing import Any

from .config import JobOptions, Spec, _with, load
from .errors import ConfigurationError, Location, _rebuild, nearest

#: ``type:`` of an entry of an including file that gave none (it updates an included entry)
INHERIT = "<inherited>"
DIRECTIVES = ("before", "after", "replace", "remove")

_PACKAGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\-]*):(?![\\/])(.+)$")
_STACK: list[tuple[str, Location]] = []  # files being loaded through include, for cycle detection


# -- finding included files --------------------------------------------------------
def _package_dirs(name: str) -> list[str]:
    """Folders of an importable package ``name`` (regular or namespace)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [p for p in spec.submodule_search_locations if os.path.isdir(p)]


def _resource(package: str, path: str) -> str | None:
    """``path`` inside the installed package (or distribution) ``package``, if it exists."""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    modules = [package.replace("-", "_")]
    try:
        dist = importlib.metadata.distribution(package)
        top = dist.read_text("top_level.txt") or ""
        modules += [m for m in top.split() if m not in modules]
        modules += sorted({f.parts[0] for f in dist.files or [] if len(f.parts) > 1 and f.parts[0].isidentifier()}
                          - set(modules))
    except importlib.metadata.PackageNotFoundError:
        pass
    for module in modules:
        # the longest importable prefix first: hepreco:jobs/main.yaml is main.yaml of hepreco.jobs
        for cut in range(len(parts) - 1, -1, -1):
            if not all(p.isidentifier() for p in parts[:cut]):
                continue
            for folder in _package_dirs(".".join([module, *parts[:cut]])):
                candidate = os.path.join(folder, *parts[cut:])
                if os.path.isfile(candidate):
                    return candidate
    return None


def package_file(text: str) -> str | None:
    """The file that ``package:path`` names, or None (not of that form, or not found)."""
    match = _PACKAGE.match(text)
    if not match or len(match.group(1)) < 2:
        return None
    return _resource(match.group(1), match.group(2))


def resolve(text: str, including: str, where: Location) -> str:
    """The file an ``include:`` entry names, relative to the including file ``including``."""
    match = _PACKAGE.match(text)
    if match and len(match.group(1)) > 1 and not os.path.isfile(text):
        found = _resource(match.group(1), match.group(2))
        if found is None:
            raise ConfigurationError(f"included job options {text!r} not found: no file {match.group(2)!r} in an "
                                     f"installed package {match.group(1)!r} (is it installed?)", where)
        return found
    path = os.path.expanduser(text)
    if not os.path.isabs(path) and os.path.isfile(including):
        path = os.path.join(os.path.dirname(os.path.abspath(including)), path)
    if not os.path.isfile(path):
        raise ConfigurationError(f"included job options file {text!r} does not exist "
                                 f"(looked for {os.path.abspath(path)})", where)
    return path


def includes_of(value: Any, file: str, where: Location) -> list[tuple[str, Location]]:
    """The ``include:`` value as ``[(text, location)]``: one file name or a list of them."""
    if isinstance(value, str):
        return [(value, where)]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        item_lines = getattr(value, "lines", [where.line] * len(value))
        return [(v, Location(file, ln)) for v, ln in zip(value, item_lines)]
    raise ConfigurationError("'include' must be a job options file or a list of them, e.g. "
                             "include: hepreco:jobs/main.yaml", where)


def _load_included(text: str, where: Location, including: str) -> JobOptions:
    path = resolve(text, including, where)
    key = os.path.realpath(path)
    for i, (seen, _) in enumerate(_STACK):
        if seen == key:
            chain = [f"{loc} includes {os.path.basename(p)}" for p, loc in _STACK[i + 1:]]
            chain.append(f"{where} includes {text}")
            raise ConfigurationError("include cycle: " + ", ".join(chain), where)
    _STACK.append((key, where))
    try:
        return load(path)
    except ConfigurationError as exc:
        if exc.reason.startswith("include cycle: "):
            raise
        raise _included_at(exc, where) from None
    finally:
        _STACK.pop()


# -- marking entries that update included ones -----------------------------------------
def mark_partial(doc: dict) -> dict:
    """Give entries of an including file without ``type:`` the placeholder type :data:`INHERIT`."""
    def entry(e: Any, need_name: bool = True) -> Any:
        if not isinstance(e, dict):
            return e
        if "members" in e and isinstance(e["members"], list):
            members = type(e["members"])(entry(m) for m in e["members"])
            members.__dict__.update(getattr(e["members"], "__dict__", {}))
            e = _with(e, "members", members)
        if "type" not in e and ("name" in e or not need_name):
            e = _with(e, "type", "Sequence" if "members" in e else INHERIT)
        return e

    out = _with(doc, "include", doc.get("include"))
    if isinstance(doc.get("source"), dict):
        out["source"] = entry(doc["source"], need_name=False)
    for section in ("algorithms", "outputs"):
        raw = doc.get(section)
        if isinstance(raw, list):
            marked = type(raw)(entry(e) for e in raw)
            marked.__dict__.update(getattr(raw, "__dict__", {}))
            out[section] = marked
    return out


# -- merging ---------------------------------------------------------------------------
def _index(specs: list[Spec], spec: Spec) -> int:
    """Position of ``spec`` itself (specs compare by value; names are what must be unique)."""
    return next(i for i, s in enumerate(specs) if s is spec)


def _pop_directives(spec: Spec) -> dict[str, tuple[Any, Location]]:
    return {k: (spec.values.pop(k), spec.locate(k)) for k in DIRECTIVES if k in spec.values}


def reject_directives(options: JobOptions) -> None:
    """``before``/``after``/``replace``/``remove`` and type-less entries need an ``include:``."""
    for spec in options.components():
        for key in DIRECTIVES:
            if key in spec.values:
                raise ConfigurationError(f"{spec.name}: '{key}:' changes an included job, but this job includes "
                                         "none (add include: FILE)", spec.locate(key))
        if spec.type == INHERIT:
            raise ConfigurationError(f"{spec.name!r} needs a 'type:' naming the component type", spec.where)


class _Merge:
    """Merge one job's options (``over``) onto another's (``base``, changed in place)."""

    def __init__(self, base: JobOptions, over: JobOptions, included: str):
        self.base = base
        self.over = over
        self.included = included  # "x.yaml (included at job.yaml:1)" for messages
        self.seen: dict[tuple[str, str], Location] = {}  # entries of ``over`` by (what, name)

    def run(self) -> JobOptions:
        base, over = self.base, self.over
        for key, value in over.job.values.items():
            base.job.values[key] = value
            base.job.where_of[key] = over.job.locate(key)
        self.source()
        self.flat(base.services, over.services, "service", ordered=False)
        self.flat(base.outputs, over.outputs, "output stream", ordered=True)
        for spec in over.algorithms:
            self.algorithm(spec, base.algorithms)
        base.file = over.file
        return base

    # where each name lives in the base: (the list holding it, its spec)
    def _find(self, name: str, tree: list[Spec]) -> tuple[list[Spec], Spec] | None:
        for spec in tree:
            if spec.name == name:
                return tree, spec
            if spec.members is not None:
                found = self._find(name, spec.members)
                if found:
                    return found
        return None

    def _names(self, tree: list[Spec]) -> list[str]:
        return [s.name for top in tree for s in top.walk()]

    def _missing(self, what: str, name: str, names: list[str], where: Location, doing: str) -> ConfigurationError:
        close = nearest(name, names)
        hint = ("; did you mean " + " or ".join(repr(c) for c in close) + "?") if close else \
            (f"; it has {', '.join(repr(n) for n in names[:12])}" if names else "; it has none")
        return ConfigurationError(
            f"{doing}: the included job {self.included} has no {what} {name!r}{hint}", where)

    def _update(self, old: Spec, new: Spec, what: str) -> None:
        if new.type not in (INHERIT, old.type):
            raise ConfigurationError(
                f"{new.name!r} is a {old.type} in the included job ({old.where}); an entry of the same name changes "
                f"its properties and cannot make it a {new.type}: add 'replace: true' to replace it, or give the new "
                f"{what} another name", new.where)
        for key, value in new.values.items():
            old.values[key] = value
            old.where_of[key] = new.locate(key)

    def source(self) -> None:
        base, new = self.base, self.over.source
        if new is None:
            return
        directives = _pop_directives(new)
        if directives:
            key, (_, where) = next(iter(directives.items()))
            raise ConfigurationError(f"'{key}:' does not apply to the source (a job has one source)", where)
        if base.source is None or new.type not in (INHERIT, base.source.type):
            if new.type == INHERIT:
                raise ConfigurationError(f"the source needs a 'type:' ({self.included} has no source)", new.where)
            base.source = new
            return
        self._update(base.source, new, "source")

    def flat(self, base: list[Spec], over: list[Spec], what: str, ordered: bool) -> None:
        for new in over:
            directives = _pop_directives(new)
            found = self._find(new.name, base)
            if not ordered:
                for key in ("before", "after"):
                    if key in directives:
                        raise ConfigurationError(f"'{key}:' does not apply to a {what} ({what}s have no order)",
                                                 directives[key][1])
            self.place(new, found, directives, base, what, lambda name: self._find(name, base),
                       lambda: [s.name for s in base])

    def algorithm(self, new: Spec, container: list[Spec]) -> None:
        directives = _pop_directives(new)
        found = self._find(new.name, self.base.algorithms)
        members = new.members
        if found is not None and members is not None and "replace" not in directives:
            new.members = None
        self.place(new, found, directives, container, "algorithm",
                   lambda name: self._find(name, self.base.algorithms), lambda: self._names(self.base.algorithms))
        if found is not None and members is not None and "replace" not in directives and \
                not directives.get("remove", (False,))[0]:
            old = found[1]
            if old.members is None:
                raise ConfigurationError(f"{new.name!r} is a {old.type} in the included job ({old.where}), not a "
                                         "sequence: it has no members", new.locate("members"))
            for m in members:
                self.algorithm(m, old.members)
        elif found is None and members is not None:
            for m in new.walk():
                if m is not new and (m.type == INHERIT or any(k in m.values for k in DIRECTIVES)):
                    raise ConfigurationError(f"{m.name!r} is a member of the new sequence {new.name!r}: it needs a "
                                             f"'type:' and takes none of {', '.join(DIRECTIVES)}", m.where)

    def place(self, new: Spec, found, directives: dict, container: list[Spec], what: str, find, names) -> None:
        """Update, replace, remove, move or add ``new`` according to its directives."""
        first = self.seen.setdefault((what, new.name), new.where)
        if first is not new.where:
            raise ConfigurationError(f"the {what} {new.name!r} appears twice in this job (first at {first}); "
                                     "change it in one entry", new.where)
        if "before" in directives and "after" in directives:
            raise ConfigurationError(f"{new.name!r}: give 'before:' or 'after:', not both", directives["after"][1])
        for key in ("replace", "remove"):
            if key in directives and not isinstance(directives[key][0], bool):
                raise ConfigurationError(f"{new.name!r}: '{key}:' takes true or false, got {directives[key][0]!r}",
                                         directives[key][1])
        remove = directives.get("remove", (False, None))
        replace = directives.get("replace", (False, None))
        if remove[0]:
            if found is None:
                raise self._missing(what, new.name, names(), remove[1], f"cannot remove {new.name!r}")
            if new.values or replace[0] or len(directives) > 1:
                extra = next(iter(new.values), None) or next(k for k in directives if k != "remove")
                raise ConfigurationError(f"{new.name!r}: 'remove: true' takes no other keys (got {extra!r})",
                                         new.locate(extra) if extra in new.where_of else remove[1])
            del found[0][_index(found[0], found[1])]
            return
        anchor = directives.get("before") or directives.get("after")
        if replace[0] and found is None:
            raise self._missing(what, new.name, names(), replace[1], f"cannot replace {new.name!r}")
        if found is None and new.type == INHERIT:
            raise self._missing(what, new.name, names(), new.where,
                                f"{new.name!r} has no 'type:', so it changes an included {what}, but")
        if anchor is not None:
            side = "before" if "before" in directives else "after"
            target, where = anchor
            if not isinstance(target, str) or target == new.name:
                raise ConfigurationError(f"{new.name!r}: '{side}:' names another {what}, got {target!r}", where)
            if find(target) is None:
                raise self._missing(what, target, names(), where, f"cannot insert {new.name!r} {side} {target!r}")
            if found is not None and any(s.name == target for s in found[1].walk()):
                raise ConfigurationError(f"cannot move {new.name!r} {side} {target!r}, which is one of its members",
                                         where)
        if found is not None:
            if replace[0]:
                if new.type == INHERIT:
                    raise ConfigurationError(f"{new.name!r}: 'replace: true' needs the 'type:' of the new {what}",
                                             replace[1])
                holder, old = found
                holder[_index(holder, old)] = new
                current = new
            else:
                self._update(found[1], new, what)
                current = found[1]
            if anchor is None:
                return
            del found[0][_index(found[0], current)]
        else:
            current = new
        if anchor is None:
            container.append(current)
            return
        holder, target_spec = find(anchor[0])
        index = _index(holder, target_spec)
        holder.insert(index if "before" in directives else index + 1, current)


def compose(options: JobOptions, includes: list[tuple[str, Location]]) -> JobOptions:
    """``options`` merged onto the job options it includes (or checked, when it includes none)."""
    if not includes:
        reject_directives(options)
        return options
    base = None
    included_at: dict[str, Location] = {}
    root = not _STACK
    if root:  # the file that starts the chain of includes
        _STACK.append((os.path.realpath(options.file), Location(options.file)))
    try:
        for text, where in includes:
            included = _load_included(text, where, options.file)
            included_at.update(included.included)
            included_at.setdefault(included.file, where)
            if base is None:
                base = included
            else:
                base = _Merge(base, included, f"{text} (included at {where})").run()
    finally:
        if root:
            _STACK.pop()
    described = ", ".join(f"{text}" for text, _ in includes)
    at = includes[0][1]
    merged = _Merge(base, options, f"{described} (included at {at})").run()
    merged.included = included_at
    return merged


def _included_at(exc: ConfigurationError, where: Location) -> ConfigurationError:
    """The same error saying where its file was included (once: by the innermost include)."""
    if "(included at " in exc.reason:
        return exc
    reason = f"{exc.reason} (included at {where})"
    return _rebuild(type(exc), {**exc.__dict__, "reason": reason},
                    f"{exc.location}: {reason}" if exc.location else reason)


def placed(exc: ConfigurationError, options: JobOptions) -> ConfigurationError:
    """``exc`` of a built job, saying where its file was included when it points into an included file."""
    where = options.included.get(exc.location.file) if exc.location is not None else None
    return exc if where is None else _included_at(exc, where)
