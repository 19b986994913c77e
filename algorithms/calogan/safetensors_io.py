"""The safetensors file format in plain numpy: weights without pickles and without an extra dependency.

A safetensors file is an 8-byte little-endian header length, a JSON header
``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
"__metadata__": {str: str}}`` and the raw little-endian tensor bytes.  The
files written here are read by ``safetensors.numpy.load_file`` and
``safetensors.torch.load_file`` (tested), and files written by those are read here.
"""
from __future__ import annotations

import json
import os
import struct

import numpy as np

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "BOOL": "?"}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (numpy arrays) to ``path`` atomically (temporary name, then rename)."""
    header: dict = {"__metadata__": {str(k): str(v) for k, v in (metadata or {}).items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if np.dtype(dtype) not in _NAMES:
            raise ValueError(f"safetensors: {name!r} has dtype {array.dtype}, not one of {sorted(_DTYPES)}")
        data = array.astype(dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype).tobytes()
        header[name] = {"dtype": _NAMES[np.dtype(dtype)], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    os.replace(tmp, path)


def load(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file; ValueError naming the file when it is not one."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        (size,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + size])
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a safetensors file ({exc})") from None
    metadata = header.pop("__metadata__", {}) or {}
    body = raw[8 + size:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if info["dtype"] not in _DTYPES or end > len(body):
            raise ValueError(f"{path}: tensor {name!r} is damaged or of an unknown dtype {info['dtype']!r}")
        tensors[name] = np.frombuffer(body[begin:end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return tensors, metadata
