"""The generator's weights files: safetensors (tensors and string metadata, no code) through the package.

Read and written with ``safetensors.numpy`` (the ``ml`` extra, through
:mod:`hepreco.framework.extras`), as the model artefacts of
:mod:`hepreco.algorithms.ml.artefact` are.
"""
from __future__ import annotations

import os

import numpy as np

from hepreco.framework import extras
from hepreco.framework.artefacts import ordinary_file_mode


def save(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (numpy arrays) to ``path`` atomically (temporary name, then rename)."""
    st = extras.safetensors(needed_by="writing the CaloGAN weights")
    tmp = f"{path}.tmp{os.getpid()}"
    st.numpy.save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp,
                       metadata={str(k): str(v) for k, v in (metadata or {}).items()})
    ordinary_file_mode(tmp)
    os.replace(tmp, path)


def load(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file; ValueError naming the file when it is not one."""
    st = extras.safetensors(needed_by=f"reading the CaloGAN weights {path}")
    try:
        with st.safe_open(path, framework="np") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own SafetensorError, or OSError
        raise ValueError(f"{path}: not a safetensors file ({type(exc).__name__}: {exc})") from None
