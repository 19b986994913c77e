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
from the journal now and then (less often as the journal grows) and at the
end.  The client keeps no per-item state: the completed items are a bitmap
of their indices and the output totals are running sums, so its memory stays
flat however many items a job has; the lists of items and files are read
back from the journal when they are written.

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


def iter_journal(path: str):
    """``(record, end offset)`` for each complete record of the journal at ``path``, read one at a time."""
    if not os.path.exists(path):
        return
    with open(path, "rb") as f:
        pos = 0
        while True:
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size:
                return
            (size,) = _HEADER.unpack(head)
            blob = f.read(size)
            if len(blob) < size:
                return  # a record cut short by a kill
            pos += _HEADER.size + size
            yield pickle.loads(blob), pos


def read_journal(path: str) -> tuple[list, int]:
    """Complete records in the journal at ``path``, and the byte length they span."""
    results, valid = [], 0
    for record, valid in iter_journal(path):
        results.append(record)
    return results, valid


class CompletedItems:
    """The indices of the completed work items: one bit each.  ``key in done`` takes a key (``"00042"``) or index."""

    __slots__ = ("_bits", "_n")

    def __init__(self):
        self._bits = bytearray()
        self._n = 0

    @staticmethod
    def _index(key) -> int:
        return int(key)

    def add(self, key) -> None:
        i = self._index(key)
        if i >= 8 * len(self._bits):
            self._bits.extend(bytes(max(i // 8 + 1 - len(self._bits), len(self._bits))))
        if not self._bits[i >> 3] & (1 << (i & 7)):
            self._bits[i >> 3] |= 1 << (i & 7)
            self._n += 1

    def discard(self, key) -> None:
        i = self._index(key)
        if i < 8 * len(self._bits) and self._bits[i >> 3] & (1 << (i & 7)):
            self._bits[i >> 3] &= ~(1 << (i & 7)) & 0xFF
            self._n -= 1

    def __contains__(self, key) -> bool:
        i = self._index(key)
        return 0 <= i < 8 * len(self._bits) and bool(self._bits[i >> 3] & (1 << (i & 7)))

    def __len__(self) -> int:
        return self._n

    def __iter__(self):
        for i in range(8 * len(self._bits)):
            if self._bits[i >> 3] & (1 << (i & 7)):
                yield f"{i:05d}"


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
        self._interval = save_interval  # grows with the time a save takes: saving stays a small part of the run
        self.done = CompletedItems()
        #: per stream: files, events and bytes of its outputs as they stand (parts, then combined files)
        self.totals: dict[str, dict[str, int]] = {stream: {"files": 0, "events": 0, "bytes": 0}
                                                   for stream in self.streams}
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
        self.items: dict[str, dict] = {}  # while resuming only: the items of the earlier run, until verified
        for result, _ in iter_journal(self.journal_path):
            if isinstance(result, CombinedFile):  # a later record of the same file (rewritten on resume) wins
                files = [cf for cf in self.combined.get(result.stream, []) if cf.file != result.file]
                self.combined[result.stream] = [*files, result]
                self._listed.add(result.file)
                continue
            key = f"{result.index:05d}"
            self.results[key] = result  # until the client takes it (load_result)
            self.items[key] = result
            self._listed.update(p["file"] for p in result.parts)

    def _verify(self) -> None:
        """Drop the items whose parts (or combined files) are missing or damaged, so that they run again;
        then rewrite the journal with the records kept, each item and file once."""
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
            for part in self.items[key].parts:
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
        tmp = f"{self.journal_path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            self._journal = f
            for key in sorted(self.items):
                self._append(self.items[key])
                self._count(self.items[key].parts, covered)
            for stream in sorted(self.combined):
                for cf in self.combined[stream]:
                    self._append(cf)
                    self._count_combined(cf, None)
            self._journal = None
        os.replace(tmp, self.journal_path)
        for key in self.items:
            self.done.add(key)
        del self.items

    def _count(self, parts, covered=()) -> None:
        for part in parts:
            if part["file"] not in covered:
                row = self.totals.setdefault(part["stream"], {"files": 0, "events": 0, "bytes": 0})
                row["files"] += 1
                row["events"] += part["events"]
                row["bytes"] += part["bytes"]

    def _count_combined(self, cf: "CombinedFile", replaced: list[dict] | None) -> None:
        row = self.totals.setdefault(cf.stream, {"files": 0, "events": 0, "bytes": 0})
        row["files"] += 1
        row["events"] += cf.events
        row["bytes"] += cf.bytes
        for part in replaced or ():
            row["files"] -= 1
            row["events"] -= part["events"]
            row["bytes"] -= part["bytes"]

    def discard_unrecorded(self) -> None:
        """Remove temporary part files: parts of items that never reached the journal."""
        for stream in self.streams:
            folder = glob.escape(os.path.join(self.output_dir, stream))
            for pattern in ("part-*.tmp*", "file-*.tmp*"):
                for leftover in glob.glob(os.path.join(folder, pattern)):
                    _remove(leftover)

    def completed(self) -> CompletedItems:
        return self.done

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
        with writing(self.output_dir):
            self._append(result)
            self.done.add(key)
            self._count(result.parts)
            for tmp, final in pending:
                os.replace(os.path.join(self.output_dir, tmp), os.path.join(self.output_dir, final))
            if time.monotonic() - self._last_save > self._interval:
                self.save()

    def record_combined(self, cf: CombinedFile, replaced: list[dict]) -> None:
        """Append a combined file to the journal (the commit point), then delete the parts it replaced
        (``replaced``: their entries, with events and bytes)."""
        with writing(self.output_dir):
            self._append(cf)
            self._count_combined(cf, replaced)
            for name in cf.parts:
                _remove(os.path.join(self.output_dir, name))

    def outputs(self) -> list[dict]:
        """Per stream: its folder and the files, events and bytes of its outputs as they stand
        (each file, with its sha256, is listed in manifest.json)."""
        return [{"stream": stream, "folder": stream, **row} for stream, row in sorted(self.totals.items())]

    def save(self, complete: bool = False) -> None:
        """Write manifest.json from the journal: the items with their parts, then the combined files per stream."""
        t0 = time.monotonic()
        if self._journal is not None:
            self._journal.flush()
        with writing(self.output_dir):
            tmp = f"{self.path}.tmp{os.getpid()}"
            try:
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    f.write(f'{{\n "physics_hash": {json.dumps(self.config_hash)},\n "complete": {json.dumps(complete)},'
                            '\n "items": {')
                    sep = "\n  "
                    streams = set()
                    for record, _ in iter_journal(self.journal_path):
                        if isinstance(record, CombinedFile):
                            streams.add(record.stream)
                            continue
                        entry = {"first": record.first, "last": record.last, "events": record.n_read,
                                 "accepted": record.n_accepted,
                                 "parts": [{k: v for k, v in p.items() if k != "tmp"} for p in record.parts]}
                        f.write(f"{sep}{json.dumps(f'{record.index:05d}')}: {json.dumps(entry)}")
                        sep = ",\n  "
                    f.write("\n }")
                    if streams:
                        f.write(',\n "files": {')
                        for n, stream in enumerate(sorted(streams)):
                            f.write(f'{"," if n else ""}\n  {json.dumps(stream)}: [')
                            sep = "\n   "
                            for record, _ in iter_journal(self.journal_path):
                                if isinstance(record, CombinedFile) and record.stream == stream:
                                    entry = {k: v for k, v in asdict(record).items() if k != "stream"}
                                    f.write(f"{sep}{json.dumps(entry)}")
                                    sep = ",\n   "
                            f.write("\n  ]")
                        f.write("\n }")
                    f.write("\n}\n")
                os.replace(tmp, self.path)
            except BaseException:
                _remove(tmp)
                raise
        self._last_save = time.monotonic()
        # a save reads the whole journal: as it grows, save less often, so saving stays ~5% of the run
        self._interval = max(self.save_interval, 20.0 * (self._last_save - t0))

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
