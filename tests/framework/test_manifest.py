"""Writing the manifest's files."""
from __future__ import annotations

import json

from hepreco.framework.manifest import atomic_write_json


def test_json_written_piece_by_piece_is_byte_for_byte_what_json_dumps_gives(tmp_path):
    doc = {"items": {f"{i:05d}": {"first": i, "parts": [{"file": "é/part", "sha256": "ab" * 32}]} for i in range(3)},
           "when": object, "ratio": 0.5, "none": None}
    path = tmp_path / "doc.json"
    atomic_write_json(str(path), doc, indent=1, default=str)
    assert path.read_bytes() == json.dumps(doc, indent=1, default=str).encode()
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]  # no temporary file left
