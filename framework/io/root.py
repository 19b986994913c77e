"""ROOT files through uproot: TTree output (``mktree``/``extend``) and input.

Layout written by :class:`RootOutput` (tree ``events`` by default):
``run`` and ``event`` branches; a jagged collection ``C`` of records becomes
the branches ``C_<field>`` with the counter ``nC`` (uproot's convention,
which ``tree.arrays(how="zip")`` and ROOT's RDataFrame understand); dense
numpy collections become fixed-size array branches.

A record field ``f`` that holds a list per object (jet constituents, energy
per calorimeter layer), which a TTree cannot hold inside a jagged record,
is written the way experiment ntuples do: the per-object count ``C_nf``
(int32, counted by ``nC``) and the branch ``C_f`` with the values of all
objects of the event one after the other (counted by ``nC_f``).
:func:`read_tree` (used by :class:`RootSource`) nests them again, so the
collection reads back as it was written (fixed-size lists come back as
variable-length lists of the same values).
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


def _branches(key: str, value: Any, log, taken: set, warned: set | None = None) -> dict[str, Any]:
    """TTree branches of one collection: lists inside jagged records become counts plus flattened values.

    Returns ``{branch name: array}``; ``taken`` holds the names already used.
    Fields nested deeper than a list per object are dropped with a warning.
    """
    if not isinstance(value, ak.Array) or not ak.fields(value):
        return {key: value}
    jagged = ak.to_layout(value).is_list
    fields = ak.fields(value)
    keep, extra, dropped = {}, {}, []
    for field in fields:
        column = value[field]
        layout = ak.to_layout(column)
        uniform = layout.minmax_depth[0] == layout.minmax_depth[1]
        flat_name = f"{key}_{field}"
        if layout.purelist_depth <= 2 and uniform:
            keep[field] = column
        elif (jagged and uniform and layout.purelist_depth == 3 and not ak.fields(column)
              and f"n{field}" not in fields and flat_name not in taken and flat_name not in extra):
            keep[f"n{field}"] = ak.values_astype(ak.num(column, axis=2), np.int32)
            extra[flat_name] = ak.flatten(column, axis=2)
        else:
            dropped.append(field)
    if dropped and (warned is None or key not in warned):
        if warned is not None:
            warned.add(key)
        log.warning("%s: fields %s of %r are nested deeper than a list per object, which a TTree cannot hold; "
                    "not written (Hdf5Output keeps them)", "RootOutput", dropped, key)
    if not keep:
        return {key: value}
    return {key: ak.zip(keep, depth_limit=None if jagged else 1), **extra}


def _flattened_lists(names: list[str]) -> dict[str, tuple[str, str]]:
    """Branches RootOutput wrote as flattened lists: ``{branch C_f: (collection C, field f)}``."""
    present = set(names)
    found = {}
    for name in names:
        for i, char in enumerate(name):
            if char == "_":
                coll, field = name[:i], name[i + 1:]
                if f"n{coll}" in present and f"{coll}_n{field}" in present and f"n{name}" in present:
                    found[name] = (coll, field)
                    break
    return found


def read_tree(tree, start: int, stop: int) -> ak.Array:
    """Entries ``start`` .. ``stop - 1`` of ``tree`` as one record per event, collections zipped.

    Like ``tree.arrays(how="zip")``: jagged branches ``C_<field>`` counted by
    ``nC`` become the collection ``C`` of records; unlike it, branches are
    grouped by their counter branch, so an empty range or a file without
    entries gives the same fields as a full one.  RootOutput's flattened
    lists are nested again: the count field ``nf`` of ``C`` and the branch
    ``C_f`` become the list field ``f`` of ``C`` (in the place of ``nf``).
    """
    names = tree.keys()
    flat = _flattened_lists(names)
    counters = {f"n{branch}" for branch in flat}
    wanted = [n for n in names if n not in counters]
    arrays = tree.arrays(wanted, entry_start=start, entry_stop=stop, how=dict) if wanted else {}
    columns: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for name in wanted:
        if name in flat:
            continue
        count = tree[name].count_branch
        coll = count.name[1:] if count is not None and count.name.startswith("n") else None
        if coll and name.startswith(coll + "_") and coll not in names:
            groups.setdefault(coll, {})[name[len(coll) + 1:]] = arrays[name]
        else:
            columns[name] = arrays[name]
    for coll, fields in groups.items():
        columns[coll] = ak.zip(fields, depth_limit=2)
    for branch, (coll, field) in flat.items():
        objects = columns.get(coll)
        count = f"n{field}"
        if objects is None or count not in ak.fields(objects) or \
                not ak.all(ak.sum(objects[count], axis=1) == ak.num(arrays[branch], axis=1)):
            columns[branch] = arrays[branch]  # not the layout RootOutput writes: leave it as it is
            continue
        per_object = ak.unflatten(ak.flatten(arrays[branch], axis=1), ak.flatten(objects[count], axis=1))
        nested = ak.unflatten(per_object, ak.num(objects, axis=1))
        columns[coll] = ak.zip({(field if f == count else f): (nested if f == count else objects[f])
                                for f in ak.fields(objects)}, depth_limit=2)
    return ak.zip(columns, depth_limit=1)


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
            arrays.update(_branches(key, value, self.log, set(arrays) | set(data),
                                    self.__dict__.setdefault("_warned", set())))
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
        fields = ak.fields(read_tree(tree, 0, 0))
        return {f: f for f in fields if f not in ("run", "event")}

    def provides(self) -> list[str]:
        return list(self._mapping())

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> list[WorkItem]:
        counts = [(path, self._tree(path).num_entries) for path in self._files()]
        return items_over_files(self.name, counts, evt_max, chunk_size, run)

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        tree = self._tree(item.input)
        arrays = read_tree(tree, item.first, item.last)
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
