"""ROOT files through uproot: TTree output (``mktree``/``extend``) and input.

Layout written by :class:`RootOutput` (tree ``events`` by default):
``run`` and ``event`` branches; a jagged collection ``C`` of records becomes
the branches ``C_<field>`` with the counter ``nC`` (uproot's convention,
which ``tree.arrays(how="zip")`` and ROOT's RDataFrame understand); dense
numpy collections become fixed-size array branches.
"""
from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from ..component import Property
from ..errors import ConfigurationError
from ..event_store import make_event_ids
from .output import OutputStream
from .source import EventSource, WorkItem, expand_files, items_over_files


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


class RootSource(EventSource):
    """Reads events from ROOT TTrees (e.g. parts written by RootOutput) through uproot."""

    files = Property([], doc="files, glob patterns or folders (all *.root inside, sorted)", items=str)
    tree = Property("events", doc="TTree name")
    branches = Property({}, doc="store key -> branch (jagged branches sharing a counter are zipped into "
                        "records by prefix); empty: every collection in the file under its own name")

    def _files(self) -> list[str]:
        return expand_files(self.files, ".root", self.name)

    def _tree(self, path: str):
        import uproot

        try:
            return uproot.open(path)[self.tree]
        except FileNotFoundError:
            raise ConfigurationError(f"{self.name}: cannot open {path!r}") from None
        except KeyError:
            raise ConfigurationError(f"{self.name}: no tree {self.tree!r} in {path!r}") from None

    def _mapping(self) -> dict[str, str]:
        if self.branches:
            return dict(self.branches)
        tree = self._tree(self._files()[0])
        fields = ak.fields(tree.arrays(how="zip", entry_stop=0))
        return {f: f for f in fields if f not in ("run", "event")}

    def provides(self) -> list[str]:
        return list(self._mapping())

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> list[WorkItem]:
        counts = [(path, self._tree(path).num_entries) for path in self._files()]
        return items_over_files(self.name, counts, evt_max, chunk_size, run)

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        tree = self._tree(item.input)
        arrays = tree.arrays(how="zip", entry_start=item.first, entry_stop=item.last)
        fields = ak.fields(arrays)
        if "event" in fields:
            ids = make_event_ids(ak.to_numpy(arrays["run"]) if "run" in fields else item.run,
                                 ak.to_numpy(arrays["event"]))
        else:
            ids = make_event_ids(item.run, np.arange(item.first, item.last))
        data = {}
        for key, branch in self._mapping().items():
            if branch not in fields:
                raise ConfigurationError(f"{self.name}: no branch {branch!r} in {item.input!r}; "
                                         f"it has {', '.join(fields)}")
            value = arrays[branch]
            layout = ak.to_layout(value)
            data[key] = ak.to_numpy(value) if layout.is_numpy or layout.is_regular else value
        return ids, data
