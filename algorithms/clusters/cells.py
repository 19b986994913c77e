"""Per-cell inputs shared by the clustering, the splitter and the moments.

Checks of the dense cell energies, the noise and the neighbour graph (with
the calling kernel's name in their messages), and per-cell tables derived
from a geometry.

Any object with the attributes of :class:`~hepreco.algorithms.calo.geometry.Geometry`
used here (``n_cells``, ``n_layers``, ``layer_names``, ``layer_kind``,
``layer_r_front``, ``layer``, ``eta``, ``phi``, ``deta``, ``dphi``, ``r``,
``z``) will do, e.g. a ``types.SimpleNamespace`` in a test.
"""
from __future__ import annotations

import weakref

import numpy as np


def dense_energy(energy, func):
    """Cell energies as a C-contiguous float32 ``(n_events, n_cells)`` array, GeV."""
    array = np.asarray(energy)
    if array.ndim != 2:
        raise ValueError(f"{func}: energy must be a dense (n_events, n_cells) array, "
                         f"got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def effective_noise(noise, n_cells, dead_mask, func):
    """Noise per cell as float32, 0 where the cell is dead."""
    noise = np.ascontiguousarray(noise, dtype=np.float32)
    if noise.shape != (n_cells,):
        raise ValueError(f"{func}: noise must have shape ({n_cells},) (one sigma per "
                         f"cell, GeV), got {noise.shape}")
    if dead_mask is not None:
        dead = np.asarray(dead_mask, dtype=bool)
        if dead.shape != (n_cells,):
            raise ValueError(f"{func}: dead_mask must have shape ({n_cells},), got "
                             f"{dead.shape}")
        noise = np.where(dead, np.float32(0.0), noise)
    return noise


#: Read-only graphs already validated: (id, id) -> weak references to them.
_VALID_GRAPHS = {}


def check_graph(nb_offsets, nb_index, n_cells, func):
    """Validate a CSR neighbour graph; return it as contiguous int64 arrays.

    The full check reads every entry (milliseconds for the atlas-like
    graph), so read-only graphs that passed once (those of a
    :class:`~hepreco.algorithms.calo.geometry.Geometry`) are remembered.
    """
    frozen = all(isinstance(a, np.ndarray) and a.dtype == np.int64 and a.ndim == 1
                 and a.flags.c_contiguous and not a.flags.writeable
                 for a in (nb_offsets, nb_index))
    key = (id(nb_offsets), id(nb_index))
    if frozen:
        known = _VALID_GRAPHS.get(key)
        if (known is not None and known[0]() is nb_offsets and known[1]() is nb_index
                and nb_offsets.shape == (n_cells + 1,)):
            return nb_offsets, nb_index
    originals = (nb_offsets, nb_index)
    nb_offsets = np.ascontiguousarray(nb_offsets, dtype=np.int64)
    nb_index = np.ascontiguousarray(nb_index, dtype=np.int64)
    if nb_offsets.shape != (n_cells + 1,):
        raise ValueError(f"{func}: nb_offsets must have shape ({n_cells + 1},) "
                         f"(n_cells + 1), got {nb_offsets.shape}")
    if nb_index.ndim != 1 or nb_offsets[0] != 0 or nb_offsets[-1] != nb_index.shape[0] \
            or np.any(np.diff(nb_offsets) < 0):
        raise ValueError(f"{func}: (nb_offsets, nb_index) is not a CSR graph: offsets "
                         f"must start at 0, not decrease and end at len(nb_index) = "
                         f"{nb_index.shape[0]}")
    if nb_index.shape[0] and (nb_index.min() < 0 or nb_index.max() >= n_cells):
        raise ValueError(f"{func}: nb_index holds cell indices outside [0, {n_cells})")
    if frozen:
        if len(_VALID_GRAPHS) > 64:
            _VALID_GRAPHS.clear()
        _VALID_GRAPHS[key] = (weakref.ref(originals[0]), weakref.ref(originals[1]))
    return nb_offsets, nb_index


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
