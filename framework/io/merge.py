"""Combine the per-chunk parts of an output stream into fewer, larger files.

A job writes one part per work item and stream; at chunks of 100, a million
events are 10,000 files.  :func:`merge_stream` combines the parts a stream's
manifest lists, in event order, into files of about ``events_per_file``
events or ``size_mb`` megabytes each (parts are never split), written
atomically (temporary name, then rename) into a destination folder with its
own ``manifest.json`` listing every file with its events, size and SHA-256.
The parts are left as they are; :func:`~hepreco.framework.io.reader.read`
reads the merged folder like the parts.  ``hepreco merge`` is the command.
"""
from __future__ import annotations

import json
import os

from ..errors import ConfigurationError
from .output import sha256
from .reader import read_parts, stream_parts

MANIFEST = "manifest.json"


def _groups(parts: list[str], events: list[int], events_per_file: int, size_mb: float) -> list[list[int]]:
    """Consecutive part indices per output file."""
    groups, current, n, size = [], [], 0, 0
    for i, path in enumerate(parts):
        current.append(i)
        n += events[i]
        size += os.path.getsize(path)
        if (events_per_file and n >= events_per_file) or (size_mb and size >= size_mb * 1e6):
            groups.append(current)
            current, n, size = [], 0, 0
    if current:
        groups.append(current)
    return groups


def _n_events(path: str, tree: str) -> int:
    if path.endswith(".h5"):
        import h5py

        with h5py.File(path, "r") as f:
            return int(f.attrs.get("n_events", len(f["event"])))
    import uproot

    with uproot.open(path) as f:
        return int(f[tree].num_entries)


def _write(path: str, extension: str, event_ids, data: dict, tree: str) -> None:
    if extension == ".h5":
        from .hdf5 import write_hdf5

        write_hdf5(path, event_ids, data)
    else:
        from .root import RootOutput

        RootOutput(name="merge", tree=tree).write_part(path, event_ids, data)


def merge_stream(stream_dir: str, destination: str, *, events_per_file: int = 0, size_mb: float = 0.0,
                 tree: str = "events") -> list[dict]:
    """Combine the parts of ``stream_dir`` into files in ``destination``; return their manifest entries."""
    if (events_per_file > 0) == (size_mb > 0):
        raise ConfigurationError("merge: give one of events_per_file or size_mb (a positive number)")
    if not os.path.isdir(stream_dir):
        raise ConfigurationError(f"merge: {stream_dir!r} is not a stream folder")
    parts = stream_parts(stream_dir)
    if not parts:
        raise ConfigurationError(f"merge: no part files in {stream_dir!r}")
    if os.path.realpath(destination) == os.path.realpath(stream_dir):
        raise ConfigurationError("merge: the destination must be another folder than the parts' own")
    if os.path.exists(os.path.join(destination, MANIFEST)) or (os.path.isdir(destination) and os.listdir(destination)):
        raise ConfigurationError(f"merge: {destination!r} is not empty; choose a new folder")
    extension = os.path.splitext(parts[0])[1]
    counts = [_n_events(p, tree) for p in parts]
    os.makedirs(destination, exist_ok=True)
    files = []
    for number, group in enumerate(_groups(parts, counts, events_per_file, size_mb)):
        ids, data = read_parts([parts[i] for i in group], tree=tree)
        path = os.path.join(destination, f"file-{number:05d}{extension}")
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            _write(tmp, extension, ids, data, tree)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        files.append({"file": os.path.basename(path), "events": int(len(ids)), "bytes": os.path.getsize(path),
                      "sha256": sha256(path), "parts": [os.path.basename(parts[i]) for i in group]})
    doc = {"merged_from": os.path.abspath(stream_dir), "files": files}
    tmp = os.path.join(destination, MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, os.path.join(destination, MANIFEST))
    return files
