"""torch at run time: the job's thread policy for torch, determinism, and batched forward passes.

Importing this module imports torch (through :mod:`hepreco.framework.extras`)
and registers ``torch.set_num_threads`` as the ``"torch"`` applier of
:mod:`hepreco.framework.threads`, so training and inference follow the one
thread policy of the job (``job.threads``).
"""
from __future__ import annotations

import numpy as np

from hepreco.framework import extras
from hepreco.framework import threads as thread_policy

torch = extras.torch(needed_by="the ML taggers and training (hepreco.algorithms.ml)")


def _apply_threads(n: int) -> int:
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


thread_policy.register("torch", _apply_threads)


def predict(module, arrays: list[np.ndarray], batch_size: int, probabilities: bool = False) -> np.ndarray:
    """``module(*batch)`` over all rows of ``arrays`` in batches, under ``torch.inference_mode()``; float32 numpy.

    ``probabilities``: the softmax of the outputs (over the last axis), taken in torch.
    """
    n = len(arrays[0]) if arrays else 0
    # copied into torch's own memory: the same forward pass on tensors wrapping numpy arrays made for each
    # chunk ran 10-25% slower (the set networks in benchmarks/taggers.py); the copy costs far less
    tensors = [torch.from_numpy(np.ascontiguousarray(a)).clone() for a in arrays]
    outs = []
    with torch.inference_mode():
        if 0 < n <= batch_size:  # one batch: no slicing and no concatenation
            out = module(*tensors)
        else:
            for first in range(0, n, batch_size):
                outs.append(module(*(t[first:first + batch_size] for t in tensors)))
            if not outs:
                return np.zeros((0, 0), np.float32)
            out = torch.cat(outs)
        return (torch.softmax(out, dim=-1) if probabilities else out).float().numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits (numpy, numerically stable)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
