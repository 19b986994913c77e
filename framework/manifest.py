"""The job's manifest: which work items are complete and what they wrote.

Every completed work item is appended to a journal,
``<output dir>/.hepreco/journal``: one length-prefixed record per item
holding its full result (output parts with sizes and SHA-256, histograms,
timing, counters).  Appending is cheap and a record is only valid once
complete, so a job killed at any moment (even with SIGKILL) leaves a journal
whose complete records are exactly the finished items; ``--resume`` runs
only the others.  ``<output dir>/manifest.json`` is the readable summary,
rewritten atomically every few seconds and at the end.
"""
from __future__ import annotations

import glob
import json
import os
import pickle
import shutil
import struct
import time

from .errors import ConfigurationError

STATE_DIR = ".hepreco"
_HEADER = struct.Struct("<Q")


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_journal(path: str) -> tuple[list, int]:
    """Complete item results in the journal at ``path``, and the byte length they span."""
    if not os.path.exists(path):
        return [], 0
    with open(path, "rb") as f:
        data = f.read()
    results, pos = [], 0
    while pos + _HEADER.size <= len(data):
        (size,) = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + size
        if end > len(data):
            break
        results.append(pickle.loads(data[pos + _HEADER.size:end]))
        pos = end
    return results, pos


class Manifest:
    """Completed work items of one job in ``output_dir``."""

    def __init__(self, output_dir: str, config_hash: str, streams: list[str], resume: bool = False,
                 save_interval: float = 5.0):
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, "manifest.json")
        state = os.path.join(output_dir, STATE_DIR)
        self.journal_path = os.path.join(state, "journal")
        self.hash_path = os.path.join(state, "config_hash")
        self.config_hash = config_hash
        self.save_interval = save_interval
        self.items: dict[str, dict] = {}
        self.results: dict[str, object] = {}
        self._last_save = 0.0
        os.makedirs(output_dir, exist_ok=True)
        if resume and os.path.exists(self.hash_path):
            with open(self.hash_path) as f:
                old_hash = f.read().strip()
            if old_hash != config_hash:
                raise ConfigurationError(
                    f"cannot resume in {output_dir!r}: it holds a job with another configuration "
                    f"(hash {old_hash[:12]}, this job {config_hash[:12]}); "
                    "use another --output-dir or run without --resume")
            self._read_journal()
        else:
            # a fresh run: forget earlier state and parts so no stale file is read later
            shutil.rmtree(state, ignore_errors=True)
            for stream in streams:
                for old_part in glob.glob(os.path.join(output_dir, stream, "part-*")):
                    os.remove(old_part)
        for leftover in glob.glob(os.path.join(output_dir, "*", "part-*.tmp*")):
            os.remove(leftover)
        os.makedirs(state, exist_ok=True)
        with open(self.hash_path, "w") as f:
            f.write(config_hash)
        self._journal = open(self.journal_path, "ab")

    def _read_journal(self) -> None:
        results, valid = read_journal(self.journal_path)
        for result in results:
            self._add(f"{result.index:05d}", result)
        if os.path.exists(self.journal_path) and valid < os.path.getsize(self.journal_path):
            with open(self.journal_path, "r+b") as f:
                f.truncate(valid)  # drop a record cut short by a kill

    def _add(self, key: str, result) -> None:
        self.results[key] = result
        self.items[key] = {"first": result.first, "last": result.last, "events": result.n_read,
                           "accepted": result.n_accepted, "parts": result.parts}

    def completed(self) -> set[str]:
        return set(self.items)

    def load_result(self, key: str):
        return self.results[key]

    def record(self, key: str, result) -> None:
        """Append an item's result to the journal (the commit point), refresh manifest.json now and then."""
        blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        self._journal.write(_HEADER.pack(len(blob)) + blob)
        self._journal.flush()
        self._add(key, result)
        if time.monotonic() - self._last_save > self.save_interval:
            self.save()

    def save(self, complete: bool = False) -> None:
        doc = {"config_hash": self.config_hash, "complete": complete,
               "items": dict(sorted(self.items.items()))}
        _atomic_write(self.path, json.dumps(doc, indent=1).encode())
        self._last_save = time.monotonic()

    def close(self, complete: bool) -> None:
        self.save(complete)
        self._journal.close()
