"""Artefacts: calibration tables, conditions, model weights and other files a job reads.

An artefact is a data file (HDF5, JSON, YAML, safetensors; never pickled
code) that carries its own metadata: ``name``, ``version`` (an integer),
``kind`` (``"lcw"``, ``"jes"``, ``"conditions"``, ...), ``schema`` (format
and its version, ``"hepreco-lcw/1"``), usually the ``geometry`` it was made
for, and ``derived`` (what made it: job, configuration hash, events, date,
hepreco version).  HDF5 files hold the metadata as the JSON attribute
``hepreco_artefact`` of the root group; any other file has a JSON sidecar
``<file>.json``.

A component names the artefacts it reads with :class:`ArtefactProperty`.
Job options give a name (``jes-small``), a name and version
(``jes-small@2``), a path (``tables/jes.h5``), or a mapping that also pins
the content, ``{name: jes-small, version: 2, sha256: 3f2a9c...}`` or
``{path: tables/jes.h5, sha256: ...}``.  The :class:`ArtefactSvc` resolves
every one of them when the job is built (so ``hepreco validate`` reports a
missing, corrupt or mismatched artefact), searching in this order:

1. a path given in the job;
2. the user's artefact folder (``$HEPRECO_ARTEFACTS``, default
   ``<cache>/artefacts`` with the cache folder ``$HEPRECO_CACHE``, default
   ``~/.cache/hepreco``);
3. the files and folders returned by plugins through
   ``hepreco_register_artefacts``;
4. hepreco's built-ins (registered by the built-in plugin through the same hook).

The first location that has the name wins; within it the highest version
(or the one asked for).  The sha256 of each resolved file enters the
configuration hash, the provenance of the products of the component that
uses it, and ``report.json``.  Files are hashed and loaded once per process.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable

from .component import Property
from .errors import ArtefactError, ConfigurationError, MissingArtefact, PropertyError, nearest
from .io.output import sha256
from .services import Service

log = logging.getLogger("hepreco.ArtefactSvc")

ARTEFACTS_ENV = "HEPRECO_ARTEFACTS"
CACHE_ENV = "HEPRECO_CACHE"
#: HDF5 root attribute holding the metadata (a JSON string)
H5_ATTRIBUTE = "hepreco_artefact"
SIDECAR = ".json"
H5_SUFFIXES = (".h5", ".hdf5")
#: suffixes that make a string a path rather than an artefact name
FILE_SUFFIXES = (*H5_SUFFIXES, ".json", ".yaml", ".yml", ".safetensors", ".pt", ".npz", ".onnx")
REQUIRED = ("name", "version", "kind", "schema")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SHA = re.compile(r"^[0-9a-f]{8,64}$")


def cache_dir() -> str:
    """Folder for files made once and reused (``$HEPRECO_CACHE``, default ``~/.cache/hepreco``)."""
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "hepreco")


def user_folder() -> str:
    """The user's artefact folder (``$HEPRECO_ARTEFACTS``, default ``<cache>/artefacts``)."""
    return os.environ.get(ARTEFACTS_ENV) or os.path.join(cache_dir(), "artefacts")


# -- metadata on files ------------------------------------------------------------------
def ordinary_file_mode(path: str) -> None:
    """Give a written artefact the permissions of any new file (0666 less the umask): writers that go through a
    private temporary file (safetensors does) leave it readable by its owner only."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def write_metadata(path: str, metadata: dict, hdf5: bool | None = None) -> None:
    """Attach ``metadata`` to the artefact file ``path`` (HDF5 attribute, else JSON sidecar).

    ``hdf5`` says whether the file is HDF5 (default: from its suffix), e.g. for a
    temporary file renamed afterwards.
    """
    missing = [k for k in REQUIRED if k not in metadata]
    if missing:
        raise ValueError(f"artefact metadata needs {', '.join(REQUIRED)}; missing {', '.join(missing)}")
    text = json.dumps(metadata, sort_keys=True, default=str)
    if hdf5 if hdf5 is not None else path.endswith(H5_SUFFIXES):
        import h5py

        with h5py.File(path, "a") as f:
            f.attrs[H5_ATTRIBUTE] = text
    else:
        with open(path + SIDECAR, "w") as f:
            f.write(text + "\n")


def read_metadata(path: str) -> dict | None:
    """The metadata of an artefact file, or None when it has none; :class:`ArtefactError` when unreadable."""
    try:
        if os.path.exists(path + SIDECAR):
            with open(path + SIDECAR) as f:
                meta = json.load(f)
        elif path.endswith(H5_SUFFIXES):
            import h5py

            with h5py.File(path, "r") as f:
                text = f.attrs.get(H5_ATTRIBUTE)
            if text is None:
                return None
            meta = json.loads(text if isinstance(text, str) else bytes(text).decode())
        else:
            return None
    except (OSError, ValueError) as exc:
        raise ArtefactError(f"artefact file {path!r} cannot be read: {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict) or any(k not in meta for k in REQUIRED):
        raise ArtefactError(f"artefact file {path!r} has invalid metadata (needs {', '.join(REQUIRED)}): {meta!r}")
    return meta


_SHA_CACHE: dict[tuple, str] = {}
_META_CACHE: dict[tuple, dict | None] = {}
_LOADED: dict[tuple, Any] = {}


def _stat_key(path: str) -> tuple:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_mtime_ns, st.st_size)


def file_sha256(path: str) -> str:
    """SHA-256 of a file's content (computed once per process while the file is unchanged)."""
    key = _stat_key(path)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256(path)
    return _SHA_CACHE[key]


def _cached_metadata(path: str) -> dict | None:
    key = _stat_key(path)
    if key not in _META_CACHE:
        _META_CACHE[key] = read_metadata(path)
    return _META_CACHE[key]


@dataclass(frozen=True)
class Artefact:
    """A resolved artefact: where it is, its content hash and its metadata."""

    name: str
    version: int
    kind: str
    schema: str
    path: str
    sha256: str
    origin: str
    metadata: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def geometry(self) -> str:
        return str(self.metadata.get("geometry", ""))

    def summary(self) -> dict:
        """Plain data for the report."""
        return {"name": self.name, "version": self.version, "kind": self.kind, "schema": self.schema,
                "geometry": self.geometry, "sha256": self.sha256, "path": self.path, "origin": self.origin}


def _is_artefact(path: str) -> bool:
    try:
        return os.path.isfile(path) and _cached_metadata(path) is not None
    except ArtefactError:
        return False


def describe_file(path: str, origin: str = "job") -> Artefact:
    """The :class:`Artefact` of one file (metadata read, content hashed)."""
    if os.path.isdir(path):
        inside = sorted(f for f in os.listdir(path) if not f.endswith(SIDECAR) and _is_artefact(os.path.join(path, f)))
        hint = (f"give the artefact file inside it: {', '.join(repr(os.path.join(path, f)) for f in inside)}"
                if inside else "it holds no artefact file")
        raise ArtefactError(f"{path!r} is a folder, not an artefact file; {hint}")
    meta = _cached_metadata(path)
    if meta is None:
        raise ArtefactError(f"{path!r} is not a hepreco artefact: it has no metadata (HDF5 attribute "
                            f"{H5_ATTRIBUTE!r} or a sidecar {os.path.basename(path) + SIDECAR!r})")
    return Artefact(str(meta["name"]), int(meta["version"]), str(meta["kind"]), str(meta["schema"]),
                    os.path.abspath(path), file_sha256(path), origin, meta)


# -- requests: what job options say ---------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """An artefact as named in job options: a name (and version) or a path, optionally a sha256 pin."""

    name: str = ""
    version: int | None = None
    path: str = ""
    sha256: str = ""

    def __str__(self) -> str:
        text = self.path or (self.name + (f"@{self.version}" if self.version is not None else ""))
        return text + (f" (sha256 {self.sha256})" if self.sha256 else "")


def _is_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith(FILE_SUFFIXES)


def parse_request(value: Any, context: dict | None = None) -> Request:
    """A :class:`Request` from a property value; ``{key}`` placeholders are filled from ``context``.

    Raises ValueError with the accepted forms when the value has none of them.
    """
    forms = ("expected an artefact name 'NAME' or 'NAME@VERSION', a path, or a mapping "
             "{name: NAME, version: N, sha256: HEX} / {path: FILE, sha256: HEX}")
    if isinstance(value, str):
        entry = {"path": value} if _is_path(value) else {"name": value}
        if "name" in entry and "@" in value:
            name, _, version = value.rpartition("@")
            entry = {"name": name, "version": version}
    elif isinstance(value, dict):
        unknown = sorted(set(value) - {"name", "version", "path", "sha256"})
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}; {forms}")
        entry = dict(value)
        if ("name" in entry) == ("path" in entry):
            raise ValueError(f"give either 'name' or 'path'; {forms}")
        if "path" in entry and "version" in entry:
            raise ValueError("'version' goes with 'name', not with 'path' (a file is one version)")
    else:
        raise ValueError(f"{forms}, got {value!r} ({type(value).__name__})")

    def fill(text: Any, key: str) -> str:
        if not isinstance(text, str):
            raise ValueError(f"'{key}' must be a string, got {text!r}")
        if context is None:
            return text
        try:
            return text.format_map(context)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{text!r}: cannot fill the placeholder {exc} (known: "
                             f"{', '.join('{' + k + '}' for k in context) or 'none'})") from None

    name = fill(entry.get("name", ""), "name")
    path = fill(entry.get("path", ""), "path")
    version = entry.get("version")
    if version is not None:
        try:
            version = int(version)
            if version < 1:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f"artefact version must be a positive integer, got {entry['version']!r}") from None
    if name and "{" not in name and not _NAME.match(name):
        raise ValueError(f"{name!r} is not an artefact name (letters, digits, '.', '_', '+', '-'); {forms}")
    if "path" in entry and not path:
        raise ValueError("'path' is empty")
    sha = entry.get("sha256", "")
    if sha:
        sha = str(sha).lower()
        if not _SHA.match(sha):
            raise ValueError(f"sha256 must be 8 to 64 hexadecimal digits, got {entry['sha256']!r}")
    return Request(name, version, path, sha)


class ArtefactProperty(Property):
    """A property naming an artefact the component reads; resolved when the job is built.

    Parameters
    ----------
    kind
        The artefact kind the component needs (``"jes"``): another kind is an error.
    default
        Default name, with placeholders filled from the component's
        :meth:`~hepreco.framework.component.Component.artefact_context`
        (``"jes-{geometry}"``).  Empty: the component makes the artefact
        itself (:meth:`~hepreco.framework.component.Component.generate_artefact`).
    doc
        One line saying what the artefact is for.
    schema
        Schemas the component reads (``"hepreco-jes/1"``); empty accepts any.
    derive
        The command that derives the artefact, placeholders as in ``default``;
        shown when it is missing.
    """

    def __init__(self, kind: str, default: Any = "", doc: str = "", *, schema: str | tuple = (),
                 derive: str = ""):
        super().__init__(default, doc)
        self.type = None
        self.kind = kind
        self.schemas = (schema,) if isinstance(schema, str) else tuple(schema)
        self.derive = derive

    @property
    def type_name(self) -> str:
        return f"artefact ({self.kind})"

    def validate(self, value: Any, owner: str = "?") -> Any:
        if value == "" or value is None:
            return ""
        try:
            parse_request(value)
        except ValueError as exc:
            raise PropertyError(owner, self.name, str(exc)) from None
        return dict(value) if isinstance(value, dict) else value


def artefact_properties(component) -> dict[str, ArtefactProperty]:
    """The :class:`ArtefactProperty` declarations of a component (by attribute name)."""
    return {k: p for k, p in type(component)._properties.items() if isinstance(p, ArtefactProperty)}


# -- the service -----------------------------------------------------------------------------
class ArtefactSvc(Service):
    """Finds, checks, hashes and loads artefacts (once per process); records what a job used and derived.

    It has nothing to configure: the user's folder is ``$HEPRECO_ARTEFACTS``.
    """

    def __init__(self, name: str | None = None, **values: Any):
        super().__init__(name, **values)
        #: ``{"Component.property": Artefact}`` resolved for this job
        self.used: dict[str, Artefact] = {}
        #: artefacts written by derivation jobs in this process (paths)
        self.derived: list[Artefact] = []
        #: what a derivation records in ``derived`` (job, configuration hash, events, date, version)
        self.derivation: dict = {}

    # -- where -----------------------------------------------------------------------------
    def locations(self) -> list[tuple[str, str]]:
        """``[(origin, file or folder)]`` in search order (the job's paths come before all of them)."""
        out = [("user", user_folder())]
        registry = getattr(self.services, "registry", None)
        if registry is None:  # a component used outside a job: the process's plugins
            from .plugins import get_registry

            registry = get_registry()
        if registry is not None:
            plugins = [(o, p) for o, p in registry.artefact_locations if o != "builtin"]
            builtin = [(o, p) for o, p in registry.artefact_locations if o == "builtin"]
            out += [(f"plugin {o}", p) for o, p in plugins] + builtin
        return out

    def available(self) -> list[Artefact]:
        """Every artefact found in the search locations, in search order (unreadable files are skipped)."""
        found = []
        for origin, location in self.locations():
            for path in _files(location):
                try:
                    if _cached_metadata(path) is None:
                        continue
                    found.append(describe_file(path, origin))
                except ArtefactError as exc:
                    log.warning("skipping %s", exc)
        return found

    # -- resolution ------------------------------------------------------------------------
    def resolve(self, component, prop: str) -> Artefact:
        """Resolve ``component.prop`` (an :class:`ArtefactProperty`), check it and record it."""
        descr = artefact_properties(component)[prop]
        who = f"{component.name}.{prop}"
        value = getattr(component, prop)
        context = component.artefact_context()
        if value == "" and descr.default == "":
            path = component.generate_artefact(prop)
            if not path:
                raise ArtefactError(f"{who}: no artefact given; set it to an artefact name or a path")
            request, art = Request(path=path), describe_file(path, "generated")
        else:
            try:
                request = parse_request(value if value != "" else descr.default, context)
            except ValueError as exc:
                raise PropertyError(component.name, prop, str(exc)) from None
            art = self.find(request, descr, who, context)
        if request.sha256 and not art.sha256.startswith(request.sha256):
            raise ArtefactError(f"{who}: artefact {art.label} at {art.path} has sha256 {art.sha256}, but the job "
                                f"pins {request.sha256}; the file is corrupt or another version: restore it, or "
                                "update the pinned sha256 if the change is intended")
        self.check_fit(art, descr, who, context)
        return self.record(component, prop, art)

    def record(self, component, prop: str, art: Artefact) -> Artefact:
        """Record ``art`` as what ``component.prop`` uses: in the component's provenance and configuration hash,
        and in the job's (for a file a component reads itself, such as a trigger menu)."""
        component.__dict__.setdefault("_artefacts", {})[prop] = art
        component.__dict__.pop("_hash", None)
        self.used[f"{component.name}.{prop}"] = art
        return art

    def find(self, request: Request, descr: ArtefactProperty, who: str, context: dict) -> Artefact:
        if request.path:
            if not os.path.exists(request.path):
                raise MissingArtefact(who, str(request), f"the file {request.path!r} does not exist",
                                      self._derive_hint(descr, context))
            return describe_file(request.path, "job")
        searched = []
        names = set()
        for origin, location in self.locations():
            matches = []
            for path in _files(location):
                try:
                    meta = _cached_metadata(path)
                except ArtefactError as exc:
                    log.warning("skipping %s", exc)
                    continue
                if meta is None:
                    continue
                names.add(str(meta["name"]))
                if meta["name"] == request.name and (request.version is None or
                                                      int(meta["version"]) == request.version):
                    matches.append((int(meta["version"]), path))
            if matches:
                return describe_file(max(matches)[1], origin)
            searched.append(f"{origin} {location}")
        close = nearest(request.name, names)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise MissingArtefact(who, str(request), "not found in " + "; ".join(searched) + hint,
                              self._derive_hint(descr, context))

    @staticmethod
    def _derive_hint(descr: ArtefactProperty, context: dict) -> str:
        if not descr.derive:
            return ""
        try:
            command = descr.derive.format_map(context)
        except (KeyError, ValueError):
            command = descr.derive
        return f"derive it with '{command}' and install it with 'hepreco artefacts install FILE'"

    @staticmethod
    def check_fit(art: Artefact, descr: ArtefactProperty, who: str, context: dict) -> None:
        """Kind, schema and the context (geometry, ...) of a resolved artefact against what the component needs."""
        if art.kind != descr.kind:
            raise ArtefactError(f"{who}: {art.label} at {art.path} is a {art.kind!r} artefact; "
                                f"{who} needs a {descr.kind!r} artefact")
        if descr.schemas and art.schema not in descr.schemas:
            raise ArtefactError(f"{who}: {art.label} at {art.path} has schema {art.schema!r}; this version of "
                                f"hepreco reads {', '.join(map(repr, descr.schemas))} (derive it again)")
        for key, wanted in context.items():
            have = art.metadata.get(key)
            if have is not None and str(have) != str(wanted):
                raise ArtefactError(f"{who}: {art.label} was made for {key} {have!r} (metadata of {art.path}), "
                                    f"not for {str(wanted)!r}, the {key} of this job")

    def resolve_all(self, component) -> dict[str, Artefact]:
        """Resolve every artefact property of ``component``."""
        return {prop: self.resolve(component, prop) for prop in artefact_properties(component)}

    # -- loading ---------------------------------------------------------------------------
    @staticmethod
    def load(artefact: Artefact, loader: Callable[[str], Any]) -> Any:
        """``loader(path)``, called once per process for a given content and loader."""
        key = (artefact.sha256, getattr(loader, "__module__", ""), getattr(loader, "__qualname__", repr(loader)))
        if key not in _LOADED:
            if file_sha256(artefact.path) != artefact.sha256:
                raise ArtefactError(f"artefact {artefact.label} at {artefact.path} changed since the job was built "
                                    f"(sha256 {file_sha256(artefact.path)}, expected {artefact.sha256})")
            _LOADED[key] = loader(artefact.path)
        return _LOADED[key]

    # -- derivation ------------------------------------------------------------------------
    def derived_by(self) -> dict:
        """The ``derived`` metadata of an artefact made by the running job: job, job options, configuration
        hash, events, date, hepreco version."""
        derived = dict(self.derivation)
        derived.setdefault("date", datetime.datetime.now().isoformat(timespec="seconds"))
        return derived

    def record_derived(self, path: str) -> Artefact:
        """Note an artefact written by a derivation job (listed in the report, with its install command)."""
        art = describe_file(path, "derived")
        self.derived.append(art)
        return art


def _files(location: str) -> list[str]:
    """Artefact candidates of a search location: the file itself, or the files of a folder (sorted)."""
    if os.path.isfile(location):
        return [location]
    if not os.path.isdir(location):
        return []
    entries = sorted(os.listdir(location))
    names = set(entries)
    out = []
    for entry in entries:
        path = os.path.join(location, entry)
        sidecar = entry.endswith(SIDECAR) and entry[:-len(SIDECAR)] in names
        if entry.startswith(".") or entry.endswith(".tmp") or sidecar or not os.path.isfile(path):
            continue
        out.append(path)
    return out


def install(path: str, folder: str | None = None, force: bool = False) -> str:
    """Copy the artefact file ``path`` (and its sidecar) into the user's folder as ``NAME@VERSION<suffix>``."""
    art = describe_file(path)
    folder = folder or user_folder()
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    target = os.path.join(folder, f"{art.name}@{art.version}{suffix}")
    if os.path.exists(target) and not force:
        if file_sha256(target) == art.sha256:
            return target
        raise ConfigurationError(f"{target} already holds another {art.label} (sha256 {file_sha256(target)[:12]}); "
                                 "give the new one another version, or use --force to replace it")
    for src, dst in ((path, target), (path + SIDECAR, target + SIDECAR)):
        if os.path.exists(src):
            shutil.copyfile(src, dst + ".tmp")
            os.replace(dst + ".tmp", dst)
    return target


def package_root_of(module_name: str) -> str:
    """Folder of an installed package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(module_name)
    return list(spec.submodule_search_locations)[0]
