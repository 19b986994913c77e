"""ROOT files through uproot: TTree output (``mktree``/``extend``) and input.

Layout written by :class:`RootOutput` (tree ``events`` by default):
``run`` and ``event`` branches; a jagged collection ``C`` of records becomes
the branches ``C_<field>`` with the counter ``nC`` (uproot's convention,
which ``tree.arrays(how="zip")`` and ROOT's RDataFrame understand); dense
numpy collections become fixed-size array branches.
"""
from __future__ import annotations

import os
from typing import Any

import awkward as ak
import numpy as np

from ..component import Property
from ..errors import ConfigurationError, InputFileError, suggestion
from ..event_store import make_event_ids
from .output import OutputStream
from .source import OTHER_FORMAT, FileSource, InputFile, WorkItem, file_format


def _writable(key: str, value: Any, log, warned: set | None = None) -> Any:
    """Drop record fields a TTree cannot hold (lists inside jagged records), with a warning."""
    if not isinstance(value, ak.Array) or not ak.fields(value):
        return value
    keep, dropped = {}, []
    for field in ak.fields(value):
        layout = ak.to_layout(value[field])
        depth = layout.purelist_depth
        if depth <= 2 and layout.minmax_depth[0] == layout.minmax_depth[1]:
            keep[field] = value[field]
        else:
            dropped.append(field)
    if dropped and (warned is None or key not in warned):
        if warned is not None:
            warned.add(key)
        log.warning("%s: fields %s of %r are lists inside records, which a TTree cannot hold; not written "
                    "(Hdf5Output keeps them)", "RootOutput", dropped, key)
    return ak.zip(keep, depth_limit=None if ak.to_layout(value).is_list else 1) if keep else value


def _branch_type(value: Any):
    if isinstance(value, np.ndarray):
        return (value.dtype, value.shape[1:]) if value.ndim > 1 else value.dtype
    return value.type.content


class RootOutput(OutputStream):
    """Writes collections of accepted events to ROOT TTree part files."""

    extension = ".root"
    tree = Property("events", doc="TTree name")

    def write_part(self, path: str, event_ids: np.ndarray, data: dict[str, Any]) -> None:
        import uproot

        arrays = {"run": np.ascontiguousarray(event_ids["run"]), "event": np.ascontiguousarray(event_ids["event"])}
        for key, value in data.items():
            if isinstance(value, ak.Array) and ak.to_layout(value).is_numpy:
                value = ak.to_numpy(value)
            arrays[key] = _writable(key, value, self.log, self.__dict__.setdefault("_warned", set()))
        with uproot.recreate(path) as f:
            tree = f.mktree(self.tree, {k: _branch_type(v) for k, v in arrays.items()})
            if len(event_ids):
                tree.extend(arrays)


class RootSource(FileSource):
    """Reads events from ROOT TTrees (e.g. parts written by RootOutput) through uproot.

    Every file is checked when the job is built (a ROOT file, complete, with
    the tree and the requested branches).  Files without an ``event`` branch
    get event numbers counted across the file list (0, 1, ... over all
    files in order) and the job's run number.
    """

    files = Property([], doc="files, glob patterns or folders (all *.root inside, sorted)", items=str)
    tree = Property("events", doc="TTree name")
    branches = Property({}, doc="store key -> branch (jagged branches sharing a counter are zipped into "
                        "records by prefix); empty: every collection in the file under its own name")

    extension = ".root"
    what = "branch"
    what_property = "branches"

    def requested(self) -> dict[str, str] | None:
        return dict(self.branches) if self.branches else None

    def inspect(self, path: str) -> InputFile:
        import uproot

        fmt = file_format(path, self.name)
        if fmt != "ROOT":
            raise InputFileError(self.name, path, f"not a ROOT file ({OTHER_FORMAT[fmt]})")
        size = os.path.getsize(path)
        try:
            with uproot.open(path) as f:
                if size < f.file.fEND:
                    raise InputFileError(self.name, path, f"truncated ROOT file ({size} of {f.file.fEND} bytes; "
                                         "was it copied or written completely?)")
                classes = {k.rsplit(";", 1)[0]: v for k, v in f.classnames().items()}
                kind = classes.get(self.tree)
                if kind is None:
                    trees = [k for k, v in classes.items() if v in _TREE_CLASSES]
                    held = ", ".join(f"{k} ({v})" for k, v in list(classes.items())[:5]) or "nothing"
                    holds = suggestion(self.tree, trees) if trees else f"it holds no TTree ({held})"
                    raise InputFileError(self.name, path, f"no tree {self.tree!r}; {holds}")
                if "RNTuple" in kind:
                    raise InputFileError(self.name, path, f"{self.tree!r} is an RNTuple ({kind}), which RootSource "
                                         "does not read: it reads TTrees (as RootOutput writes them)")
                if kind not in _TREE_CLASSES:
                    raise InputFileError(self.name, path, f"{self.tree!r} is a {kind}, not a TTree")
                tree = f[self.tree]
                branches = tuple(tree.keys(recursive=False))
                cache = self.__dict__.setdefault("_fields", {})
                if branches not in cache:  # files written alike have the same branches: interpret them once
                    cache[branches] = tuple(ak.fields(tree.arrays(how="zip", entry_stop=0)))
                fields = tuple(k for k in cache[branches] if k not in ("run", "event"))
                return InputFile(path, int(tree.num_entries), fields, "event" in branches)
        except InputFileError:
            raise
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise InputFileError(self.name, path, f"damaged ROOT file ({type(exc).__name__}: {text})") from None

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        import uproot

        with uproot.open(item.input) as f:
            arrays = f[self.tree].arrays(how="zip", entry_start=item.first, entry_stop=item.last)
        fields = ak.fields(arrays)
        if "event" in fields:
            ids = make_event_ids(ak.to_numpy(arrays["run"]) if "run" in fields else item.run,
                                 ak.to_numpy(arrays["event"]))
        else:  # numbered across the file list, so that two files never share an id
            ids = make_event_ids(item.run, item.event_offset + np.arange(item.first, item.last))
        data = {}
        for key, branch in self.mapping().items():
            if branch not in fields:
                raise ConfigurationError(f"{self.name}: {item.input}: no branch {branch!r}; "
                                         f"{suggestion(branch, fields)}")
            value = arrays[branch]
            layout = ak.to_layout(value)
            data[key] = ak.to_numpy(value) if layout.is_numpy or layout.is_regular else value
        return ids, data


_TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")
