"""The job's manifest: which work items are complete and what they wrote.

``<output dir>/manifest.json`` lists every completed work item with its
output parts (file, events, size, SHA-256); the item's full result
(histograms, timing, counters) is kept beside it in
``<output dir>/.hepreco/items/<item>.pkl``.  Both are replaced atomically
(temporary name, then rename), so a job killed at any moment leaves a
consistent manifest, and ``--resume`` runs only the items it does not list.
"""
from __future__ import annotations

import glob
import json
import os
import pickle
import shutil

from .errors import ConfigurationError

STATE_DIR = ".hepreco"


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Manifest:
    """Completed work items of one job in ``output_dir``."""

    def __init__(self, output_dir: str, config_hash: str, streams: list[str], resume: bool = False):
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, "manifest.json")
        self.items_dir = os.path.join(output_dir, STATE_DIR, "items")
        self.config_hash = config_hash
        self.items: dict[str, dict] = {}
        os.makedirs(output_dir, exist_ok=True)
        if resume and os.path.exists(self.path):
            with open(self.path) as f:
                old = json.load(f)
            if old.get("config_hash") != config_hash:
                raise ConfigurationError(
                    f"cannot resume in {output_dir!r}: it holds a job with another configuration "
                    f"(hash {old.get('config_hash', '?')[:12]}, this job {config_hash[:12]}); "
                    "use another --output-dir or run without --resume")
            self.items = {k: v for k, v in old.get("items", {}).items()
                          if os.path.exists(os.path.join(self.items_dir, f"{k}.pkl"))}
        else:
            # a fresh run: forget earlier state and parts so no stale file is read later
            shutil.rmtree(os.path.join(output_dir, STATE_DIR), ignore_errors=True)
            for stream in streams:
                for old_part in glob.glob(os.path.join(output_dir, stream, "part-*")):
                    os.remove(old_part)
        for leftover in glob.glob(os.path.join(output_dir, "*", "part-*.tmp*")):
            os.remove(leftover)
        os.makedirs(self.items_dir, exist_ok=True)

    def completed(self) -> set[str]:
        return set(self.items)

    def load_result(self, key: str):
        with open(os.path.join(self.items_dir, f"{key}.pkl"), "rb") as f:
            return pickle.load(f)

    def record(self, key: str, result) -> None:
        """Store an item's result, then list it (in that order: the listing is the commit)."""
        _atomic_write(os.path.join(self.items_dir, f"{key}.pkl"), pickle.dumps(result))
        self.items[key] = {"first": result.first, "last": result.last, "events": result.n_read,
                           "accepted": result.n_accepted, "parts": result.parts}
        self.save()

    def save(self, complete: bool = False) -> None:
        doc = {"config_hash": self.config_hash, "complete": complete,
               "items": dict(sorted(self.items.items()))}
        _atomic_write(self.path, json.dumps(doc, indent=1).encode())
