"""ROOT files through uproot: TTree output (``mktree``/``extend``) and input.

Layout written by :class:`RootOutput` (tree ``events`` by default):
``run`` and ``event`` branches; a jagged collection ``C`` of records becomes
the branches ``C_<field>`` with the counter ``nC`` (uproot's convention,
which ``tree.arrays(how="zip")`` and ROOT's RDataFrame understand); dense
numpy collections become fixed-size array branches.  A per-event record
whose fields are records (``TriggerDecision``: ``L1``, ``HLT``, ``streams``)
is written as flat branches ``C_<field>_<subfield>...`` (e.g.
``TriggerDecision_L1_after_prescale_L1_J100``, one per event), which
:func:`read_tree` reads back as flat records, not nested again.

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

import os
from typing import Any

import awkward as ak
import numpy as np

from ..component import Property
from ..errors import ConfigurationError, InputFileError, suggestion
from ..event_store import make_event_ids
from .output import OutputStream
from .source import OTHER_FORMAT, FileSource, InputFile, WorkItem, file_format


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
        if not jagged and layout.purelist_depth == 1 and ak.fields(column):
            # a record inside a per-event record (a trigger decision's levels): its own branches, key_field_...
            extra.update(_branches(flat_name, column, log, taken | set(extra), warned))
        elif layout.purelist_depth <= 2 and uniform:
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
        return extra or {key: value}
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
                    cache[branches] = tuple(ak.fields(read_tree(tree, 0, 0)))
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
            arrays = read_tree(f[self.tree], item.first, item.last)
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
