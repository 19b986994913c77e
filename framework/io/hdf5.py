"""HDF5 files through h5py, with an exact round trip for awkward arrays.

Layout of a part written by :class:`Hdf5Output`::

    /run, /event                 int64 datasets (one entry per event)
    /<key>                       numpy collection: a dataset (n_events, ...)
    /<key>/                      awkward collection: a group with attributes
                                 form (JSON) and length, one dataset per buffer
                                 (awkward's to_buffers / from_buffers)
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Sequence

import awkward as ak
import numpy as np

from ..component import Property
from ..errors import InputFileError
from ..event_store import make_event_ids
from .output import OutputStream
from .source import OTHER_FORMAT, FileSource, InputFile, WorkItem, file_format

FORMAT = "hepreco-hdf5/1"


def write_hdf5(path: str, event_ids: np.ndarray, data: dict[str, Any], compression: str | None = "lzf") -> None:
    """Write event ids and collections to a new HDF5 file at ``path``."""
    import h5py

    comp = None if compression in (None, "", "none") else compression
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["n_events"] = len(event_ids)
        f.create_dataset("run", data=np.ascontiguousarray(event_ids["run"]))
        f.create_dataset("event", data=np.ascontiguousarray(event_ids["event"]))
        for key, value in data.items():
            if isinstance(value, np.ndarray):
                f.create_dataset(key, data=value, compression=comp if value.size else None)
                continue
            form, length, buffers = ak.to_buffers(ak.to_packed(value))
            group = f.create_group(key)
            group.attrs["form"] = form.to_json()
            group.attrs["length"] = length
            for name, buf in buffers.items():
                buf = np.asarray(buf)
                group.create_dataset(name, data=buf, compression=comp if buf.size else None)


def read_hdf5(path: str, keys: list[str] | None = None, start: int = 0, stop: int | None = None,
              fields: dict[str, Sequence[str]] | None = None):
    """Read ``(event_ids, {key: array})`` for events ``start`` .. ``stop - 1``.

    ``fields``: for some keys, the record fields to read (those the
    collection has; the others are not read from the file at all).
    """
    import h5py

    with h5py.File(path, "r") as f:
        stop = int(f.attrs.get("n_events", len(f["event"]))) if stop is None else stop
        ids = make_event_ids(f["run"][start:stop], f["event"][start:stop])
        data = {}
        for key in keys if keys is not None else collections(f):
            node = f[key]
            if hasattr(node, "shape"):
                data[key] = node[start:stop]
            else:
                form = ak.forms.from_json(node.attrs["form"])
                if fields and key in fields:
                    form = _project(form, fields[key])
                # only the buffers of the (projected) form are read
                whole = ak.from_buffers(form, int(node.attrs["length"]), _Buffers(node))
                data[key] = whole[start:stop]
        return ids, data


class _Buffers(Mapping):
    """The datasets of a collection's group, each read when awkward asks for it."""

    def __init__(self, group):
        self._group = group

    def __getitem__(self, name: str) -> np.ndarray:
        return self._group[name][()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._group)

    def __len__(self) -> int:
        return len(self._group)


def _records(form):
    """The RecordForm of a collection's records (per event or not), or None for a collection of no records."""
    record = form.content if isinstance(form, ak.forms.ListOffsetForm) else form
    return record if isinstance(record, ak.forms.RecordForm) else None


def record_fields(path: str, key: str) -> list[str]:
    """The record fields of collection ``key`` of a part (from its schema; no data is read)."""
    import h5py

    with h5py.File(path, "r") as f:
        node = f[key]
        if hasattr(node, "shape"):
            return []
        record = _records(ak.forms.from_json(node.attrs["form"]))
    return list(record.fields) if record is not None else []


def _project(form, names: Sequence[str]):
    """``form`` with only the record fields ``names`` (those it has) of its records (per event or not)."""
    record = _records(form)
    if record is None:
        return form
    keep = [n for n in dict.fromkeys(names) if n in record.fields]
    projected = ak.forms.RecordForm([record.content(n) for n in keep], keep, parameters=record.parameters,
                                    form_key=record.form_key)
    return form.copy(content=projected) if record is not form else projected


def collections(f) -> list[str]:
    return [k for k in f if k not in ("run", "event")]


class Hdf5Output(OutputStream):
    """Writes collections of accepted events to HDF5 part files."""

    extension = ".h5"
    compression = Property("lzf", doc="h5py compression filter: lzf, gzip or none ('' is none too)",
                           choices=("lzf", "gzip", "none", ""))

    def write_part(self, path: str, event_ids: np.ndarray, data: dict[str, Any]) -> None:
        write_hdf5(path, event_ids, data, self.compression)


class Hdf5Source(FileSource):
    """Reads events from HDF5 files written by Hdf5Output.

    Every file is checked when the job is built (an HDF5 file written by
    Hdf5Output, with the requested collections).
    """

    files = Property([], doc="files, glob patterns or folders (all *.h5 inside, sorted)", items=str)
    collections = Property([], doc="keys to read (empty: all in the file)", items=str)

    extension = ".h5"
    what = "collection"
    what_property = "collections"

    def requested(self) -> dict[str, str] | None:
        return {k: k for k in self.collections} if self.collections else None

    def inspect(self, path: str) -> InputFile:
        import h5py

        fmt = file_format(path, self.name)
        if fmt != "HDF5":
            # HDF5 allows a user block before the signature: only refuse what is surely something else
            if fmt is not None:
                raise InputFileError(self.name, path, f"not an HDF5 file ({OTHER_FORMAT[fmt]})")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            detail = re.search(r"\((.*)\)", str(exc))
            problem = "not an HDF5 file" if fmt is None else "damaged or truncated HDF5 file"
            raise InputFileError(self.name, path, f"{problem} ({detail.group(1) if detail else exc})") from None
        with f:
            written = f.attrs.get("format")
            if isinstance(written, bytes):
                written = written.decode(errors="replace")
            if written != FORMAT:
                found = ", ".join(repr(k) for k in list(f)[:6]) or "nothing"
                why = (f"its 'format' attribute is {written!r}, this version reads {FORMAT!r}" if written else
                       f"no 'format' attribute {FORMAT!r}; it holds {found}")
                raise InputFileError(self.name, path, f"HDF5 file not written by Hdf5Output ({why}); other layouts "
                                     "need their own source (CaloGanSource reads CaloGAN files)")
            if "event" not in f or "run" not in f:
                raise InputFileError(self.name, path, "damaged Hdf5Output file: no 'run'/'event' datasets")
            return InputFile(path, int(f.attrs.get("n_events", len(f["event"]))), tuple(collections(f)))

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        return read_hdf5(item.input, self.provides(), item.first, item.last)
