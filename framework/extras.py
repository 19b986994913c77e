"""Optional heavy dependencies, each behind one small function.

The default chain needs only what ``install_requires`` lists.  Every other
package is imported here and nowhere else, so that a missing one gives a
single line saying what to install instead of a traceback in a worker:

===================  ====================  =================================================
function             extra                 needed by
===================  ====================  =================================================
:func:`fastjet`      ``hepreco[fastjet]``  ``JetFinder`` with ``backend: fastjet``
:func:`vector`       ``hepreco[fastjet]``  the same (fastjet's awkward interface)
:func:`dask`         ``hepreco[dask]``     the ``dask`` executor
:func:`distributed`  ``hepreco[dask]``     the same
:func:`torch`        ``hepreco[ml]``       ML taggers and training (the CPU build is enough)
:func:`safetensors`  ``hepreco[ml]``       model weights of the ML artefacts (no pickles)
:func:`hls4ml`       ``hepreco[fpga]``     the hls4ml bridge of the L1 network
:func:`brevitas`     ``hepreco[fpga]``     quantisation-aware training of the L1 network
===================  ====================  =================================================

Each function imports its package and returns the module, or raises
:class:`~hepreco.framework.errors.MissingDependency` (a ``ModuleNotFoundError``
and a ``ConfigurationError``) naming the extra to install.  :func:`available`
answers without importing anything (``importlib.util.find_spec``) and
:func:`require` raises the same error: components call it from ``check()``, so
``hepreco validate`` and ``hepreco run`` refuse a job before its first event.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from .errors import MissingDependency


@dataclass(frozen=True)
class Extra:
    """How to install one optional package: the hepreco extra and the command."""

    module: str
    extra: str
    install: str


def _pip(extra: str) -> str:
    return f'pip install "hepreco[{extra}]"'


#: every optional package by its top-level module name
PACKAGES: dict[str, Extra] = {
    "fastjet": Extra("fastjet", "fastjet", _pip("fastjet")),
    "vector": Extra("vector", "fastjet", _pip("fastjet")),
    "dask": Extra("dask", "dask", _pip("dask")),
    "distributed": Extra("distributed", "dask", _pip("dask")),
    "torch": Extra("torch", "ml", f"pip install torch==2.13.0 (the CPU build), or {_pip('ml')}"),
    "safetensors": Extra("safetensors", "ml", _pip("ml")),
    "hls4ml": Extra("hls4ml", "fpga", _pip("fpga")),
    "brevitas": Extra("brevitas", "fpga", _pip("fpga")),
}


def available(module: str) -> bool:
    """Whether the optional package ``module`` is installed; imports nothing."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing, or a module without a spec
        return False


def require(*modules: str, needed_by: str = "") -> None:
    """Raise :class:`MissingDependency` for the first of ``modules`` that is not installed.

    Imports nothing, so it is cheap to call while a job is built.  ``needed_by``
    names who needs the package (``"AntiKt4: backend fastjet"``).
    """
    for module in modules:
        if not available(module):
            raise missing(module, needed_by)


def missing(module: str, needed_by: str = "", cause: ImportError | None = None) -> MissingDependency:
    """The error for an optional package that is absent (or, given ``cause``, failed to import)."""
    info = PACKAGES[module]
    detail = ""
    if cause is not None and not (isinstance(cause, ModuleNotFoundError)
                                  and (cause.name or "").split(".")[0] == module):
        detail = f"{type(cause).__name__}: {cause}"  # installed, but broken (or one of its own imports is)
    return MissingDependency(module, info.extra, info.install, needed_by, detail=detail)


def fastjet(needed_by: str = ""):
    """The ``fastjet`` package (scikit-hep's bindings of FastJet)."""
    try:
        import fastjet
    except ImportError as exc:
        raise missing("fastjet", needed_by, exc) from exc
    return fastjet


def vector(needed_by: str = ""):
    """The ``vector`` package (Lorentz vectors for awkward arrays, used with fastjet)."""
    try:
        import vector
    except ImportError as exc:
        raise missing("vector", needed_by, exc) from exc
    return vector


def dask(needed_by: str = ""):
    """The ``dask`` package."""
    try:
        import dask
    except ImportError as exc:
        raise missing("dask", needed_by, exc) from exc
    return dask


def distributed(needed_by: str = ""):
    """The ``distributed`` package (dask's cluster scheduler), with ``distributed.scheduler`` loaded."""
    try:
        import distributed
        import distributed.scheduler  # noqa: F401  (KilledWorker)
    except ImportError as exc:
        raise missing("distributed", needed_by, exc) from exc
    return distributed


def torch(needed_by: str = ""):
    """The ``torch`` package (PyTorch; the CPU build is enough)."""
    try:
        import torch
    except ImportError as exc:
        raise missing("torch", needed_by, exc) from exc
    return torch


def safetensors(needed_by: str = ""):
    """The ``safetensors`` package with ``safetensors.numpy`` loaded (tensor files that hold no code)."""
    try:
        import safetensors
        import safetensors.numpy  # noqa: F401  (read and write without torch)
    except ImportError as exc:
        raise missing("safetensors", needed_by, exc) from exc
    return safetensors


def hls4ml(needed_by: str = ""):
    """The ``hls4ml`` package (neural networks to FPGA firmware, fixed-point emulation)."""
    try:
        import hls4ml
    except ImportError as exc:
        raise missing("hls4ml", needed_by, exc) from exc
    return hls4ml


def brevitas(needed_by: str = ""):
    """The ``brevitas`` package (quantisation-aware training in PyTorch)."""
    try:
        import brevitas
    except ImportError as exc:
        raise missing("brevitas", needed_by, exc) from exc
    return brevitas
