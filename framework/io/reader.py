"""Read a job's output streams back as awkward arrays, outside any job.

:func:`read` takes a part file, a stream folder (``output/main/Ntuple``) or a
list of them, and returns one awkward array with a record per event: ``run``,
``event`` and the stream's collections, all parts in event order.  The parts
of a stream folder are those its job's ``manifest.json`` lists, in work-item
order (so a part left by a crash is never read); without a manifest, every
part file in the folder, sorted by name.  A folder written by ``hepreco
merge`` lists its files in its own ``manifest.json``.  The readers are those of the event
sources (:class:`~hepreco.framework.io.hdf5.Hdf5Source`,
:class:`~hepreco.framework.io.root.RootSource`), so a file reads the same in
a job and here.
"""
from __future__ import annotations

import json
import os
from typing import Sequence

import awkward as ak
import numpy as np

from ..errors import ConfigurationError, suggestion

_EXTENSIONS = (".h5", ".root")


def stream_parts(path: str) -> list[str]:
    """The part files of a stream folder, in event order (manifest order where there is one)."""
    folder = os.path.abspath(path)
    merged = os.path.join(folder, "manifest.json")
    if os.path.exists(merged):  # a folder written by hepreco merge
        with open(merged) as f:
            return [os.path.join(folder, entry["file"]) for entry in json.load(f)["files"]]
    manifest = os.path.join(os.path.dirname(folder), "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            doc = json.load(f)
        stream = os.path.basename(folder)
        combined = doc.get("files", {}).get(stream, [])  # parts combined while the job ran
        replaced = {p for entry in combined for p in entry.get("parts", [])}
        rows = [(entry["items"][0], entry["file"]) for entry in combined]
        rows += [(key, part["file"]) for key, item in doc.get("items", {}).items() for part in item.get("parts", [])
                 if part.get("stream") == stream and part["file"] not in replaced]
        if rows:
            return [os.path.join(os.path.dirname(folder), name) for _, name in sorted(rows)]
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.startswith("part-") and f.endswith(_EXTENSIONS))


def _files(paths: str | Sequence[str]) -> list[str]:
    files: list[str] = []
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            files.extend(stream_parts(path))
        elif os.path.exists(path):
            files.append(path)
        else:
            raise ConfigurationError(f"hepreco.io.read: {path!r} does not exist")
    if not files:
        raise ConfigurationError(f"hepreco.io.read: no part files in {paths!r}")
    kinds = {os.path.splitext(f)[1] for f in files}
    if len(kinds) > 1 or not kinds <= set(_EXTENSIONS):
        raise ConfigurationError(f"hepreco.io.read: expected .h5 or .root parts of one format, got {sorted(kinds)}")
    return files


def part_source(files: list[str], collections: Sequence[str] = (), tree: str = "events"):
    """The event source (HDF5 or ROOT, by the first file's extension) that reads these part files."""
    from .hdf5 import Hdf5Source
    from .root import RootSource

    if files[0].endswith(".h5"):
        return Hdf5Source(name="read", files=files, collections=list(collections))
    return RootSource(name="read", files=files, tree=tree, branches={k: k for k in collections})


def read_parts(files: list[str], collections: Sequence[str] | None = None, *, tree: str = "events",
               fields: dict[str, Sequence[str]] | None = None):
    """``(event_ids, {key: array})`` of part files of one format, concatenated in the order given.

    ``fields`` (HDF5 parts): for some collections, the record fields to read.
    """
    from .hdf5 import read_hdf5

    wanted = list(collections or [])
    source = part_source(files, wanted, tree)
    items = source.work_items(-1, 1 << 62, 0)
    hdf5 = files[0].endswith(".h5")
    if fields is not None:
        fields = _checked_fields(fields, source.provides(), files[0])
    ids, parts = [], []
    for item in items:
        if fields and hdf5:
            item_ids, data = read_hdf5(item.input, source.provides(), item.first, item.last, fields)
        else:
            item_ids, data = source.read(item)
        ids.append(item_ids)
        parts.append(data)
    keys = list(parts[0]) if parts else wanted
    event_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=[("run", np.int64), ("event", np.int64)])
    data = {}
    for key in keys:
        values = [p[key] for p in parts]
        data[key] = np.concatenate(values) if isinstance(values[0], np.ndarray) else ak.concatenate(values)
    if fields and not hdf5:  # ROOT: the whole collections were read; keep the fields asked for
        for key, names in fields.items():
            _check_names(key, names, list(ak.fields(data[key])), files[0])
            data[key] = data[key][names]
    return event_ids, data


def _checked_fields(fields, collections: Sequence[str], first: str) -> dict[str, list[str]]:
    """``fields`` as ``{collection: [field, ...]}``, every collection read and every field in it (by the
    first file's schema), else a ConfigurationError naming the field (``.field``, ``.have``)."""
    if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(f, str) for f in v)
            for k, v in fields.items()):
        raise ConfigurationError(f"hepreco.io.read: fields must map collections to lists of field names, "
                                 f"e.g. {{'JetDataset': ['m', 'tau21']}}; got {fields!r}")
    out = {}
    for key, names in fields.items():
        if key not in collections:
            raise ConfigurationError(f"hepreco.io.read: fields names collection {key!r}, which is not read; "
                                     f"{suggestion(key, collections)}")
        if first.endswith(".h5"):  # ROOT parts: checked once read
            from .hdf5 import record_fields

            _check_names(key, names, record_fields(first, key), first)
        out[key] = list(dict.fromkeys(names))
    return out


def _check_names(key: str, names: Sequence[str], have: list[str], path: str) -> None:
    for name in names:
        if name not in have:
            exc = ConfigurationError(f"hepreco.io.read: collection {key!r} has no field {name!r} (in {path}); "
                                     f"{suggestion(name, have) if have else 'it is not a collection of records'}")
            exc.field, exc.have = name, have
            raise exc


def read(paths: str | Sequence[str], collections: Sequence[str] | None = None, *, tree: str = "events",
         fields: dict[str, Sequence[str]] | None = None) -> ak.Array:
    """Events of output parts as one awkward array of records (``run``, ``event``, collections).

    Parameters
    ----------
    paths
        A part file, a stream folder, or a list of them.
    collections
        Store keys to read (default: all in the files).
    tree
        TTree name of ROOT parts.
    fields
        For some collections, the record fields to keep
        (``{"JetDataset": ["m", "tau21"]}``).  From HDF5 parts the other
        fields are not read at all; from ROOT parts the collections are
        read whole and then cut to these fields.  A collection that is
        not read, or a field it does not have, is an error.

    Examples
    --------
    >>> events = read("output/main/Ntuple", ["AntiKt4CalibratedJets"])
    >>> events.AntiKt4CalibratedJets.pt          # jagged, one list per event [GeV]
    """
    event_ids, data = read_parts(_files(paths), collections, tree=tree, fields=fields)
    return ak.zip({"run": event_ids["run"], "event": event_ids["event"], **data}, depth_limit=1)
