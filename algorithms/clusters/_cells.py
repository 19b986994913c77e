"""Per-cell tables derived from a geometry, shared by the splitter and the moments.

Any object with the attributes of :class:`~hepreco.algorithms.calo.geometry.Geometry`
used here (``n_cells``, ``n_layers``, ``layer_names``, ``layer_kind``,
``layer_r_front``, ``layer``, ``eta``, ``phi``, ``deta``, ``dphi``, ``r``,
``z``) will do, e.g. a ``types.SimpleNamespace`` in a test.
"""
from __future__ import annotations

import weakref

import numpy as np

_XYZ = weakref.WeakKeyDictionary()


def cell_xyz(geometry):
    """Cell centres in Cartesian coordinates, mm: ``(x, y, z)`` float64 arrays.

    ``x = r cos(phi)``, ``y = r sin(phi)``, ``z`` as in the geometry.  Cached
    per geometry object (weakly) when the object allows it.
    """
    try:
        cached = _XYZ.get(geometry)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    r = np.asarray(geometry.r, dtype=np.float64)
    phi = np.asarray(geometry.phi, dtype=np.float64)
    xyz = (np.ascontiguousarray(r * np.cos(phi)), np.ascontiguousarray(r * np.sin(phi)),
           np.ascontiguousarray(geometry.z, dtype=np.float64))
    try:
        _XYZ[geometry] = xyz
    except TypeError:
        pass
    return xyz


def layer_indices(geometry, layers, what):
    """Layer indices of ``layers`` (names or indices) as a sorted int64 array."""
    out = []
    for layer in layers:
        if isinstance(layer, str):
            try:
                out.append(geometry.layer_names.index(layer))
            except ValueError:
                raise KeyError(f"{what}: no layer {layer!r} in geometry "
                               f"{getattr(geometry, 'name', '?')!r}; layers are "
                               f"{list(geometry.layer_names)}") from None
        else:
            index = int(layer)
            if not 0 <= index < geometry.n_layers:
                raise KeyError(f"{what}: layer index {layer!r} outside [0, "
                               f"{geometry.n_layers})")
            out.append(index)
    return np.unique(np.array(out, dtype=np.int64))


def per_cell(name, values, n_cells, dtype):
    """``values`` as a contiguous array of one entry per cell."""
    array = np.ascontiguousarray(values, dtype=dtype)
    if array.shape != (n_cells,):
        raise ValueError(f"geometry.{name} must have shape ({n_cells},), got {array.shape}")
    return array
