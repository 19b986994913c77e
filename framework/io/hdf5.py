"""HDF5 files through h5py, with an exact round trip for awkward arrays.

Layout of a part written by :class:`Hdf5Output`::

    /run, /event                 int64 datasets (one entry per event)
    /<key>                       numpy collection: a dataset (n_events, ...)
    /<key>/                      awkward collection: a group with attributes
                                 form (JSON) and length, one dataset per buffer
                                 (awkward's to_buffers / from_buffers)
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


def read_hdf5(path: str, keys: list[str] | None = None, start: int = 0, stop: int | None = None):
    """Read ``(event_ids, {key: array})`` for events ``start`` .. ``stop - 1``."""
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
                buffers = {name: node[name][()] for name in node}
                whole = ak.from_buffers(form, int(node.attrs["length"]), buffers)
                data[key] = whole[start:stop]
        return ids, data


def collections(f) -> list[str]:
    return [k for k in f if k not in ("run", "event")]


class Hdf5Output(OutputStream):
    """Writes collections of accepted events to HDF5 part files."""

    extension = ".h5"
    compression = Property("lzf", doc="h5py compression filter: lzf, gzip or none ('' is none too)",
                           choices=("lzf", "gzip", "none", ""))

    def write_part(self, path: str, event_ids: np.ndarray, data: dict[str, Any]) -> None:
        write_hdf5(path, event_ids, data, self.compression)


class Hdf5Source(EventSource):
    """Reads events from HDF5 files written by Hdf5Output."""

    files = Property([], doc="files, glob patterns or folders (all *.h5 inside, sorted)", items=str)
    collections = Property([], doc="keys to read (empty: all in the file)", items=str)

    def _files(self) -> list[str]:
        return expand_files(self.files, ".h5", self.name)

    def _open(self, path: str):
        import h5py

        try:
            return h5py.File(path, "r")
        except OSError as exc:
            raise ConfigurationError(f"{self.name}: cannot open {path!r}: {exc}") from None

    def provides(self) -> list[str]:
        if self.collections:
            return list(self.collections)
        with self._open(self._files()[0]) as f:
            return collections(f)

    def work_items(self, evt_max: int, chunk_size: int, run: int) -> list[WorkItem]:
        counts = []
        for path in self._files():
            with self._open(path) as f:
                counts.append((path, int(f.attrs.get("n_events", len(f["event"])))))
        return items_over_files(self.name, counts, evt_max, chunk_size, run)

    def read(self, item: WorkItem) -> tuple[np.ndarray, dict[str, Any]]:
        return read_hdf5(item.input, self.provides(), item.first, item.last)
