"""The job's manifest: which work items are complete and what they wrote.

Every completed work item is appended to a journal,
``<output dir>/.hepreco/journal``: one length-prefixed record per item
holding its full result (output parts with sizes and SHA-256, histograms,
timing, counters).  Appending is cheap and a record is only valid once
complete, so a job killed at any moment (even with SIGKILL) leaves a journal
whose complete records are exactly the finished items; ``--resume`` runs
only the others, after checking that every part they wrote is still there
with its size and SHA-256 (items with a missing or damaged part run again).
``<output dir>/manifest.json`` is the readable summary, rewritten atomically
every few seconds and at the end.

A stream with a target file size (``events_per_file``, ``file_size_mb``)
has the parts of consecutive items combined into files as the items
complete (:class:`~hepreco.framework.io.merge.Combiner`); each combined file
is a journal record of its own (:class:`CombinedFile`) written before its
parts are deleted, and ``manifest.json`` lists it under ``files``.

Workers write parts under temporary names; the client renames a part to its
final name only after its item is in the journal, so every final part is
listed, whatever happens to the job (abort, kill, a worker still running).
The manifest deletes only files it lists (parts of an earlier run, with
``overwrite``) and its own temporary files; it refuses to replace an earlier
run unless asked to, and to write into a stream folder holding files it
did not write.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import pickle
import shutil
import struct
import time
from dataclasses import asdict, dataclass, field

from .errors import ConfigurationError, HeprecoError, OutputError
from .io.output import sha256

STATE_DIR = ".hepreco"
_HEADER = struct.Struct("<Q")


@contextlib.contextmanager
def writing(folder: str):
    """Turn an :class:`OSError` raised inside the block into an :class:`OutputError` about ``folder``."""
    try:
        yield
    except HeprecoError:
        raise
    except OSError as exc:
        raise OutputError.from_os_error(folder, exc) from None


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def atomic_write_json(path: str, doc, **options) -> None:
    """Write ``doc`` as JSON (``json.dumps(doc, **options)``, UTF-8) to ``path`` through a temporary file.

    The text goes to the file piece by piece as it is encoded, never whole
    in memory: a manifest or report of a million work items stays cheap.
    """
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            json.dump(doc, f, **options)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _part_problem(path: str, part: dict) -> str | None:
    """What is wrong with the part file at ``path`` compared with its manifest entry (None: nothing)."""
    if not os.path.isfile(path):
        return "missing"
    size = os.path.getsize(path)
    if size != part["bytes"]:
        return f"{size} bytes instead of {part['bytes']}"
    if sha256(path) != part["sha256"]:
        return "checksum differs"
    return None


@dataclass
class CombinedFile:
    """A file holding the parts of consecutive work items of one stream (a journal record)."""

    stream: str
    file: str  # relative to the output folder
    events: int
    bytes: int
    sha256: str
    items: list[str] = field(default_factory=list)  # keys of the items whose parts it holds, in order
    parts: list[str] = field(default_factory=list)  # the part files it replaced


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
    """Completed work items of one job in ``output_dir``.

    ``resume``: keep the items the journal lists (re-checking their parts);
    otherwise an earlier run found in ``output_dir`` is an error unless
    ``overwrite``, which deletes the files that run listed.  ``damaged``
    lists the parts found missing or damaged on resume, ``rerun`` the keys
    of the items that therefore run again.
    """

    def __init__(self, output_dir: str, config_hash: str, streams: list[str], resume: bool = False,
                 save_interval: float = 5.0, overwrite: bool = False):
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, "manifest.json")
        state = os.path.join(output_dir, STATE_DIR)
        self.journal_path = os.path.join(state, "journal")
        self.hash_path = os.path.join(state, "config_hash")
        self.config_hash = config_hash
        self.streams = list(streams)
        self.save_interval = save_interval
        self.items: dict[str, dict] = {}
        self.results: dict[str, object] = {}
        self.damaged: list[dict] = []
        self.rerun: list[str] = []
        self._listed: set[str] = set()  # part files the journal lists (damaged ones too: they get rewritten)
        #: combined files per stream, in item order
        self.combined: dict[str, list[CombinedFile]] = {}
        self._last_save = 0.0
        self._journal = None
        with writing(output_dir):
            os.makedirs(output_dir, exist_ok=True)
            earlier: set[str] = set()
            resumed = resume and os.path.exists(self.hash_path)
            if resumed:
                with open(self.hash_path) as f:
                    old_hash = f.read().strip()
                if old_hash != config_hash:
                    raise ConfigurationError(
                        f"cannot resume in {output_dir!r}: it holds a job with another configuration "
                        f"(hash {old_hash[:12]}, this job {config_hash[:12]}); "
                        "use another --output-dir, or --overwrite to replace it")
                self._read_journal()
                self._verify()
            else:
                earlier, n_items, complete = self._earlier_parts()
                if n_items and not overwrite:
                    raise ConfigurationError(
                        f"output folder {output_dir} already holds the output of an earlier run "
                        f"({'complete' if complete else 'incomplete'}, {n_items} work item(s)); rerun with "
                        "--resume to continue it, or with --overwrite to replace it (or choose another --output-dir)")
            self.discard_unrecorded()
            self._check_stream_folders(self._listed | earlier)
            if not resumed:
                self._remove_earlier_run(earlier)
            for stream in self.streams:
                os.makedirs(os.path.join(output_dir, stream), exist_ok=True)
            os.makedirs(state, exist_ok=True)
            with open(self.hash_path, "w") as f:
                f.write(config_hash)
            self._journal = open(self.journal_path, "ab", buffering=0)

    def _earlier_parts(self) -> tuple[set[str], int, bool]:
        """Part files an earlier run in this folder listed, its number of items, and whether it completed."""
        results, _ = read_journal(self.journal_path)
        files = {r.file for r in results if isinstance(r, CombinedFile)}
        results = [r for r in results if not isinstance(r, CombinedFile)]
        files |= {p["file"] for r in results for p in r.parts}
        keys = {r.index for r in results}
        complete = False
        if os.path.exists(self.path):
            try:
                with open(self.path) as f:
                    doc = json.load(f)
                complete = bool(doc.get("complete"))
                for key, item in doc.get("items", {}).items():
                    keys.add(int(key))
                    files.update(p["file"] for p in item.get("parts", []))
                files.update(f["file"] for entries in doc.get("files", {}).values() for f in entries)
            except (ValueError, KeyError, TypeError, AttributeError):
                pass  # not a manifest this version wrote: its files are not listed, so none is deleted
        return files, len(keys), complete

    def _remove_earlier_run(self, files: set[str]) -> None:
        """Delete what an earlier run listed (``files``: its parts) and its state; nothing else."""
        for name in files:
            path = os.path.normpath(os.path.join(self.output_dir, name))
            if os.path.dirname(os.path.dirname(path)) == os.path.normpath(self.output_dir):
                _remove(path)
        for name in ("manifest.json", "report.json"):
            _remove(os.path.join(self.output_dir, name))
        shutil.rmtree(os.path.join(self.output_dir, STATE_DIR), ignore_errors=True)

    def _check_stream_folders(self, ours: set[str]) -> None:
        """Refuse stream folders holding files other than ``ours`` (part files hepreco listed)."""
        listed = {os.path.normpath(f) for f in ours}
        for stream in self.streams:
            folder = os.path.join(self.output_dir, stream)
            if not os.path.isdir(folder):
                continue
            strangers = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n))
                               and os.path.join(stream, n) not in listed)
            if strangers:
                shown = ", ".join(strangers[:5]) + (f" and {len(strangers) - 5} more" if len(strangers) > 5 else "")
                raise ConfigurationError(
                    f"output folder {folder} holds files this job did not write ({shown}); a reader of the "
                    "folder would mix them with the job's parts, and hepreco deletes only files it wrote: "
                    "move them away or choose another --output-dir")

    def _read_journal(self) -> None:
        results, valid = read_journal(self.journal_path)
        for result in results:
            if isinstance(result, CombinedFile):  # a later record of the same file (rewritten on resume) wins
                files = [cf for cf in self.combined.get(result.stream, []) if cf.file != result.file]
                self.combined[result.stream] = [*files, result]
                self._listed.add(result.file)
                continue
            self._add(f"{result.index:05d}", result, keep=True)
            self._listed.update(p["file"] for p in result.parts)
        if os.path.exists(self.journal_path) and valid < os.path.getsize(self.journal_path):
            with open(self.journal_path, "r+b") as f:
                f.truncate(valid)  # drop a record cut short by a kill

    def _verify(self) -> None:
        """Drop the items whose parts (or combined files) are missing or damaged, so that they run again."""
        problems_of: dict[str, list] = {}
        covered: set[str] = set()  # part files replaced by a combined file
        for stream, files in self.combined.items():
            kept = []
            for cf in files:
                problem = _part_problem(os.path.join(self.output_dir, cf.file), asdict(cf))
                if problem:
                    for key in cf.items:
                        problems_of.setdefault(key, []).append({"file": cf.file, "problem": problem})
                else:
                    kept.append(cf)
                    covered.update(cf.parts)
            self.combined[stream] = kept
        for name in covered:  # the combining was recorded but the job stopped before deleting them
            _remove(os.path.join(self.output_dir, name))
        for key in sorted(self.items):
            problems = problems_of.get(key, [])
            for part in self.items[key]["parts"]:
                if part["file"] in covered:
                    continue
                problem = _part_problem(os.path.join(self.output_dir, part["file"]), part)
                if problem:
                    problems.append({"file": part["file"], "problem": problem})
            if problems:
                self.damaged += problems
                self.rerun.append(key)
                del self.items[key]
                self.results.pop(key, None)

    def discard_unrecorded(self) -> None:
        """Remove temporary part files: parts of items that never reached the journal."""
        for stream in self.streams:
            folder = glob.escape(os.path.join(self.output_dir, stream))
            for pattern in ("part-*.tmp*", "file-*.tmp*"):
                for leftover in glob.glob(os.path.join(folder, pattern)):
                    _remove(leftover)

    def _add(self, key: str, result, keep: bool = False) -> None:
        if keep:  # a result of an earlier run, until the client takes it (load_result)
            self.results[key] = result
        self.items[key] = {"first": result.first, "last": result.last, "events": result.n_read,
                           "accepted": result.n_accepted, "parts": result.parts}

    def completed(self) -> set[str]:
        return set(self.items)

    def load_result(self, key: str):
        """The result of an item of an earlier run (given once: the manifest keeps no results)."""
        return self.results.pop(key)

    def _append(self, record) -> None:
        """Append one length-prefixed record to the journal; a failed write leaves no partial record."""
        blob = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        start = self._journal.tell()
        data = memoryview(_HEADER.pack(len(blob)) + blob)
        try:
            while data:
                data = data[self._journal.write(data):]
        except OSError:
            self._journal.truncate(start)
            raise

    def record(self, key: str, result) -> None:
        """Append an item's result to the journal (the commit point), then give its parts their final names.

        Refreshes manifest.json now and then.  A part entry's ``tmp`` (the
        temporary name its worker wrote) is removed from the entry.
        """
        pending = [(p.pop("tmp"), p["file"]) for p in result.parts if "tmp" in p]
        if pending:  # copies sized for the entries left: the manifest keeps one per part until the end
            result.parts[:] = [dict(p) for p in result.parts]
        with writing(self.output_dir):
            self._append(result)
            self._add(key, result)
            for tmp, final in pending:
                os.replace(os.path.join(self.output_dir, tmp), os.path.join(self.output_dir, final))
            if time.monotonic() - self._last_save > self.save_interval:
                self.save()

    def record_combined(self, cf: CombinedFile) -> None:
        """Append a combined file to the journal (the commit point), then delete the parts it replaced."""
        with writing(self.output_dir):
            self._append(cf)
            self.combined.setdefault(cf.stream, []).append(cf)
            self._listed.add(cf.file)
            for name in cf.parts:
                _remove(os.path.join(self.output_dir, name))

    def outputs(self) -> list[dict]:
        """Every output file of the job as it stands: combined files and the parts not combined, in item order."""
        combined_parts = {p for files in self.combined.values() for cf in files for p in cf.parts}
        rows = [(cf.items[0], {k: v for k, v in asdict(cf).items() if k != "parts"})
                for files in self.combined.values() for cf in files]
        rows += [(key, part) for key, item in self.items.items() for part in item["parts"]
                 if part["file"] not in combined_parts]
        return [entry for _, entry in sorted(rows, key=lambda row: (row[0], row[1]["stream"]))]

    def save(self, complete: bool = False) -> None:
        doc = {"config_hash": self.config_hash, "complete": complete,
               "items": dict(sorted(self.items.items()))}
        if self.combined:
            doc["files"] = {stream: [{k: v for k, v in asdict(cf).items() if k != "stream"} for cf in files]
                            for stream, files in sorted(self.combined.items())}
        with writing(self.output_dir):
            atomic_write_json(self.path, doc, indent=1)
        self._last_save = time.monotonic()

    def close(self, complete: bool, raising: bool = True) -> None:
        """Write manifest.json and close the journal; ``raising=False`` (on the way out after an error)
        leaves manifest.json as it was when it cannot be written."""
        try:
            self.save(complete)
        except OutputError:
            if raising:
                raise
        finally:
            if self._journal is not None:
                self._journal.close()
