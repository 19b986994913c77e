"""Calorimeter cell geometry with a neighbour graph.

A geometry is a stack of *layers* (samplings), each a regular grid in
pseudorapidity and azimuth, described by a small YAML file (see
``data/atlas-like.yaml``).  :func:`load_geometry` reads the file and returns
a :class:`Geometry`: plain, read-only numpy arrays (picklable, cheap to ship
to worker processes), one entry per cell, plus per-layer tables and the
neighbour graph in CSR form.

Idealisation
------------
Every layer is a cylinder of fixed radius (front ``r[0]``, back ``r[1]``, in
mm) that covers its whole eta range, i.e. there is no separate end-cap: a
cell at pseudorapidity eta sits at radius ``r`` (the mid radius of its layer)
and ``z = r sinh(eta)``.  Depths in radiation lengths (X0) and interaction
lengths (lambda) are measured along a straight line from the interaction
point and are taken as eta independent (a projective calorimeter designed
for constant depth).  Cells are ordered layer by layer, then eta index, then
phi index, and a cell's id is its index:
``id = layer_offsets[layer] + ieta * n_phi + iphi``.

Neighbour modes
---------------
``"all2D"``
    The up to 8 cells around a cell in its own layer (phi wraps around, so an
    interior cell has 8 and a cell on the eta edge of its layer 5).
``"all3D"``
    ``all2D`` plus every cell of the previous and next layer (in file order)
    whose eta-phi rectangle overlaps the cell's rectangle with non-zero area
    (the ATLAS "all3D" option).  Cells that only touch along an edge or at a
    corner are not neighbours across layers.

Both graphs are symmetric (``j`` in N(``i``) if and only if ``i`` in
N(``j``)), have no self-loops and list each row in increasing cell index.
They are built by numba kernels in a few milliseconds for 200k cells.
"""
from __future__ import annotations

import hashlib
import math
import os
from importlib import resources

import numpy as np
import yaml

from .._numba import jit

#: Valid neighbour modes.
NEIGHBOUR_MODES = ("all2D", "all3D")

#: Layer kinds; selects the sampling and constant terms and the lateral
#: shower profile used by the simulation for showers of that kind.
LAYER_KINDS = {"em": 0, "had": 1}

#: Tolerance, in units of a cell size, below which an eta-phi overlap of two
#: cells in adjacent layers counts as an edge contact only.
_OVERLAP_TOL = 1e-6

_REQUIRED_LAYER_KEYS = ("name", "kind", "eta", "deta", "n_phi", "r", "x0", "lambda")
_OPTIONAL_LAYER_KEYS = ("noise", "gain", "description")
_TOP_KEYS = ("name", "description", "layers", "neighbours", "phi_min")


class GeometryError(ValueError):
    """An invalid geometry description; says which file, layer and key."""

    def __init__(self, message, source=None, layer=None, key=None):
        where = []
        if source is not None:
            where.append(str(source))
        if layer is not None:
            where.append(f"layer {layer!r}")
        if key is not None:
            where.append(f"key {key!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.source = source
        self.layer = layer
        self.key = key


# --------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------
@jit
def find_cell_kernel(layer, eta, phi, layer_offsets, n_eta, n_phi, eta_min,
                     deta, phi_min, dphi):
    """Index of the cell of ``layer`` containing (eta, phi), or -1.

    Scalar kernel for use inside other kernels.  ``phi`` may be any real
    number (it is wrapped); an ``eta`` outside the layer, a non-finite
    coordinate or an invalid layer gives -1.
    """
    if layer < 0 or layer >= n_eta.shape[0]:
        return -1
    u = (eta - eta_min[layer]) / deta[layer]
    if not (u >= 0.0 and u < n_eta[layer]):
        return -1
    v = (phi - phi_min[layer]) / dphi[layer]
    if not math.isfinite(v):
        return -1
    i = np.int64(math.floor(u))
    if i >= n_eta[layer]:
        i = n_eta[layer] - 1
    j = np.int64(math.floor(v)) % n_phi[layer]
    return layer_offsets[layer] + i * n_phi[layer] + j


@jit
def _find_cells(layer, eta, phi, layer_offsets, n_eta, n_phi, eta_min, deta,
                phi_min, dphi):
    out = np.empty(eta.shape[0], dtype=np.int64)
    for k in range(eta.shape[0]):
        out[k] = find_cell_kernel(layer[k], eta[k], phi[k], layer_offsets, n_eta,
                                  n_phi, eta_min, deta, phi_min, dphi)
    return out


@jit
def _eta_overlap(i, l, m, n_eta, eta_min, deta, tol):
    """Range [lo, hi] of eta indices of layer m overlapping eta row i of l."""
    e0 = eta_min[l] + i * deta[l]
    e1 = e0 + deta[l]
    lo = np.int64(math.floor((e0 - eta_min[m]) / deta[m] + tol))
    hi = np.int64(math.ceil((e1 - eta_min[m]) / deta[m] - tol)) - 1
    if lo < 0:
        lo = 0
    if hi > n_eta[m] - 1:
        hi = n_eta[m] - 1
    return lo, hi


@jit
def _phi_overlap(j, l, m, n_phi, phi_min, dphi, tol):
    """First phi index (unwrapped) and count of layer m cells overlapping
    phi column j of layer l."""
    p0 = phi_min[l] + j * dphi[l]
    p1 = p0 + dphi[l]
    lo = np.int64(math.floor((p0 - phi_min[m]) / dphi[m] + tol))
    hi = np.int64(math.ceil((p1 - phi_min[m]) / dphi[m] - tol)) - 1
    count = hi - lo + 1
    if count >= n_phi[m]:
        return np.int64(0), n_phi[m]
    if count < 0:
        count = 0
    return lo, count


@jit
def _build_neighbours(layer_offsets, n_eta, n_phi, eta_min, deta, phi_min, dphi,
                      adjacent, tol):
    n_layers = n_eta.shape[0]
    n_cells = layer_offsets[n_layers]
    counts = np.zeros(n_cells, dtype=np.int64)
    # in-layer: 3x3 block minus the cell itself, rows clipped at the eta edges
    for l in range(n_layers):
        ne = n_eta[l]
        nph = n_phi[l]
        for i in range(ne):
            rows = 1
            if i > 0:
                rows += 1
            if i < ne - 1:
                rows += 1
            base = layer_offsets[l] + i * nph
            for j in range(nph):
                counts[base + j] = 3 * rows - 1
    # across adjacent layers, counted once per pair and added both ways
    if adjacent:
        for l in range(n_layers - 1):
            m = l + 1
            for i in range(n_eta[l]):
                ilo, ihi = _eta_overlap(i, l, m, n_eta, eta_min, deta, tol)
                if ihi < ilo:
                    continue
                for j in range(n_phi[l]):
                    jlo, jn = _phi_overlap(j, l, m, n_phi, phi_min, dphi, tol)
                    a = layer_offsets[l] + i * n_phi[l] + j
                    for ii in range(ilo, ihi + 1):
                        for jj in range(jlo, jlo + jn):
                            b = layer_offsets[m] + ii * n_phi[m] + jj % n_phi[m]
                            counts[a] += 1
                            counts[b] += 1
    offsets = np.zeros(n_cells + 1, dtype=np.int64)
    for c in range(n_cells):
        offsets[c + 1] = offsets[c] + counts[c]
    index = np.empty(offsets[n_cells], dtype=np.int64)
    cursor = offsets[:-1].copy()
    for l in range(n_layers):
        ne = n_eta[l]
        nph = n_phi[l]
        for i in range(ne):
            for j in range(nph):
                c = layer_offsets[l] + i * nph + j
                for di in range(-1, 2):
                    ii = i + di
                    if ii < 0 or ii >= ne:
                        continue
                    for dj in range(-1, 2):
                        if di == 0 and dj == 0:
                            continue
                        jj = (j + dj) % nph
                        index[cursor[c]] = layer_offsets[l] + ii * nph + jj
                        cursor[c] += 1
    if adjacent:
        for l in range(n_layers - 1):
            m = l + 1
            for i in range(n_eta[l]):
                ilo, ihi = _eta_overlap(i, l, m, n_eta, eta_min, deta, tol)
                if ihi < ilo:
                    continue
                for j in range(n_phi[l]):
                    jlo, jn = _phi_overlap(j, l, m, n_phi, phi_min, dphi, tol)
                    a = layer_offsets[l] + i * n_phi[l] + j
                    for ii in range(ilo, ihi + 1):
                        for jj in range(jlo, jlo + jn):
                            b = layer_offsets[m] + ii * n_phi[m] + jj % n_phi[m]
                            index[cursor[a]] = b
                            cursor[a] += 1
                            index[cursor[b]] = a
                            cursor[b] += 1
    for c in range(n_cells):
        index[offsets[c]:offsets[c + 1]] = np.sort(index[offsets[c]:offsets[c + 1]])
    return offsets, index


# --------------------------------------------------------------------------
# the geometry container
# --------------------------------------------------------------------------
def _readonly(array):
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


class Geometry:
    """A calorimeter cell geometry: read-only numpy arrays, picklable.

    Build it with :func:`load_geometry` (from a YAML file) or
    :func:`build_geometry` (from the equivalent dictionary).

    Attributes
    ----------
    name, description : str
        From the description file.
    source : str or None
        Path of the YAML file, if any.
    source_sha256 : str
        SHA-256 of the description (file bytes, or the canonical YAML dump
        of a dictionary); identifies the geometry in caches and reports.
    n_cells, n_layers : int
    layer_names : tuple of str
    layer_kind : int8[n_layers]
        0 for electromagnetic, 1 for hadronic layers (:data:`LAYER_KINDS`).
    layer_offsets : int64[n_layers + 1]
        First cell index of each layer; the last entry is ``n_cells``.
    layer_n_eta, layer_n_phi : int64[n_layers]
    layer_eta_min, layer_eta_max, layer_deta : float64[n_layers]
        Eta range and cell size.
    layer_phi_min, layer_dphi : float64[n_layers]
        Lower phi edge of phi index 0 and cell size, radians.
    layer_r_front, layer_r_back, layer_r : float64[n_layers]
        Front, back and mid radius, mm.
    layer_x0_front, layer_x0_back : float64[n_layers]
        Depth of the front and back face in radiation lengths X0.
    layer_lambda_front, layer_lambda_back : float64[n_layers]
        Depth of the front and back face in interaction lengths lambda.
    layer_noise : float64[n_layers]
        Nominal electronic noise per cell, GeV (NaN where not given).
    layer_gain : float64[n_layers]
        Nominal ADC gain, GeV per count (NaN where not given).
    cell_id, layer, ieta, iphi : int arrays[n_cells]
        ``cell_id`` equals the cell index.
    eta, phi, deta, dphi : float64[n_cells]
        Cell centre and size; phi in radians, in [-pi, pi) for the default
        ``phi_min = -pi``.
    r, z : float64[n_cells]
        Cell centre radius and z, mm (``z = r sinh(eta)``).
    x0_front, x0_back, lambda_front, lambda_back : float64[n_cells]
        The depths of the cell's layer, per cell.
    neighbour_mode : str
        Mode of :attr:`neighbour_offsets` / :attr:`neighbour_index`.
    neighbour_offsets : int64[n_cells + 1]
    neighbour_index : int64[n_neighbour_pairs]
        CSR neighbour graph: the neighbours of cell ``c`` are
        ``neighbour_index[neighbour_offsets[c]:neighbour_offsets[c + 1]]``.
    """

    def __init__(self, description, source=None, source_sha256=None,
                 neighbour_mode=None):
        layers = _validate(description, source)
        self.name = str(description.get("name", "unnamed"))
        self.description = str(description.get("description", "")).strip()
        self.source = None if source is None else str(source)
        if source_sha256 is None:
            dumped = yaml.safe_dump(description, sort_keys=True).encode()
            source_sha256 = hashlib.sha256(dumped).hexdigest()
        self.source_sha256 = source_sha256
        phi_min = float(description.get("phi_min", -math.pi))

        n_layers = len(layers)
        self.n_layers = n_layers
        self.layer_names = tuple(layer["name"] for layer in layers)
        self.layer_kind = _readonly(np.array(
            [LAYER_KINDS[layer["kind"]] for layer in layers], dtype=np.int8))
        eta_lo = np.array([layer["eta"][0] for layer in layers], dtype=np.float64)
        eta_hi = np.array([layer["eta"][1] for layer in layers], dtype=np.float64)
        deta = np.array([layer["deta"] for layer in layers], dtype=np.float64)
        n_eta = np.rint((eta_hi - eta_lo) / deta).astype(np.int64)
        n_phi = np.array([layer["n_phi"] for layer in layers], dtype=np.int64)
        self.layer_n_eta = _readonly(n_eta)
        self.layer_n_phi = _readonly(n_phi)
        self.layer_eta_min = _readonly(eta_lo)
        self.layer_eta_max = _readonly(eta_lo + n_eta * deta)
        self.layer_deta = _readonly(deta)
        self.layer_phi_min = _readonly(np.full(n_layers, phi_min))
        self.layer_dphi = _readonly(2.0 * math.pi / n_phi)
        self.layer_r_front = _readonly(np.array([l_["r"][0] for l_ in layers], float))
        self.layer_r_back = _readonly(np.array([l_["r"][1] for l_ in layers], float))
        self.layer_r = _readonly(0.5 * (self.layer_r_front + self.layer_r_back))
        self.layer_x0_front = _readonly(np.array([l_["x0"][0] for l_ in layers], float))
        self.layer_x0_back = _readonly(np.array([l_["x0"][1] for l_ in layers], float))
        self.layer_lambda_front = _readonly(
            np.array([l_["lambda"][0] for l_ in layers], float))
        self.layer_lambda_back = _readonly(
            np.array([l_["lambda"][1] for l_ in layers], float))
        self.layer_noise = _readonly(
            np.array([l_.get("noise", np.nan) for l_ in layers], float))
        self.layer_gain = _readonly(
            np.array([l_.get("gain", np.nan) for l_ in layers], float))
        sizes = n_eta * n_phi
        offsets = np.zeros(n_layers + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        self.layer_offsets = _readonly(offsets)
        self.n_cells = int(offsets[-1])

        layer_of = np.repeat(np.arange(n_layers, dtype=np.int32), sizes)
        local = np.arange(self.n_cells, dtype=np.int64) - offsets[layer_of]
        nphi_c = n_phi[layer_of]
        ieta = local // nphi_c
        iphi = local % nphi_c
        self.cell_id = _readonly(np.arange(self.n_cells, dtype=np.int64))
        self.layer = _readonly(layer_of)
        self.ieta = _readonly(ieta.astype(np.int32))
        self.iphi = _readonly(iphi.astype(np.int32))
        self.deta = _readonly(deta[layer_of])
        self.dphi = _readonly(self.layer_dphi[layer_of])
        self.eta = _readonly(eta_lo[layer_of] + (ieta + 0.5) * self.deta)
        self.phi = _readonly(phi_min + (iphi + 0.5) * self.dphi)
        self.r = _readonly(self.layer_r[layer_of])
        self.z = _readonly(self.r * np.sinh(self.eta))
        self.x0_front = _readonly(self.layer_x0_front[layer_of])
        self.x0_back = _readonly(self.layer_x0_back[layer_of])
        self.lambda_front = _readonly(self.layer_lambda_front[layer_of])
        self.lambda_back = _readonly(self.layer_lambda_back[layer_of])

        self._neighbours = {}
        mode = neighbour_mode or description.get("neighbours", "all3D")
        self.neighbour_mode = _check_mode(mode, source)
        self.neighbour_offsets, self.neighbour_index = self.neighbours(mode)

    # ------------------------------------------------------------------
    def neighbours(self, mode="all3D"):
        """The neighbour graph of one mode, in CSR form.

        Parameters
        ----------
        mode : {"all2D", "all3D"}
            See the module docstring.

        Returns
        -------
        offsets : int64[n_cells + 1]
        index : int64[offsets[-1]]
            Read-only arrays; built once per geometry and mode.
        """
        mode = _check_mode(mode, self.source)
        if mode not in self._neighbours:
            offsets, index = _build_neighbours(
                self.layer_offsets, self.layer_n_eta, self.layer_n_phi,
                self.layer_eta_min, self.layer_deta, self.layer_phi_min,
                self.layer_dphi, mode == "all3D", _OVERLAP_TOL)
            self._neighbours[mode] = (_readonly(offsets), _readonly(index))
        return self._neighbours[mode]

    def find_cell(self, layer, eta, phi):
        """Cells containing the points (layer, eta, phi); vectorised.

        Parameters
        ----------
        layer : int or array_like of int
            Layer index (0 .. n_layers - 1).
        eta : float or array_like
            Pseudorapidity.
        phi : float or array_like
            Azimuth, radians; any value (wrapped into the layer's range).

        Returns
        -------
        numpy.ndarray of int64
            Cell index, -1 where the point is outside the layer's eta range
            (or the layer does not exist).  Broadcast shape of the inputs.
        """
        layer_b, eta_b, phi_b = np.broadcast_arrays(
            np.asarray(layer, dtype=np.int64), np.asarray(eta, dtype=np.float64),
            np.asarray(phi, dtype=np.float64))
        shape = layer_b.shape
        out = _find_cells(np.ascontiguousarray(layer_b).ravel(),
                          np.ascontiguousarray(eta_b).ravel(),
                          np.ascontiguousarray(phi_b).ravel(),
                          *self.layer_tables())
        return out.reshape(shape)

    def layer_tables(self):
        """The tables :func:`find_cell_kernel` takes after (layer, eta, phi)."""
        return (self.layer_offsets, self.layer_n_eta, self.layer_n_phi,
                self.layer_eta_min, self.layer_deta, self.layer_phi_min,
                self.layer_dphi)

    def layer_index(self, name):
        """Index of the layer called ``name`` (KeyError naming the valid ones)."""
        try:
            return self.layer_names.index(name)
        except ValueError:
            raise KeyError(f"no layer {name!r} in geometry {self.name!r}; "
                           f"layers are {list(self.layer_names)}") from None

    def layer_slice(self, layer):
        """``slice`` of the cell indices of one layer (index or name)."""
        if isinstance(layer, str):
            layer = self.layer_index(layer)
        return slice(int(self.layer_offsets[layer]), int(self.layer_offsets[layer + 1]))

    def __repr__(self):
        return (f"<Geometry {self.name!r}: {self.n_cells} cells in "
                f"{self.n_layers} layers, neighbours {self.neighbour_mode}>")


# --------------------------------------------------------------------------
# loading and validation
# --------------------------------------------------------------------------
def _check_mode(mode, source):
    if mode not in NEIGHBOUR_MODES:
        raise GeometryError(f"unknown neighbour mode {mode!r}; expected one of "
                            f"{list(NEIGHBOUR_MODES)}", source=source, key="neighbours")
    return mode


def _pair(value, source, name, key, cast=float):
    form = "[eta_min, eta_max]" if key == "eta" else "[front, back]"
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise GeometryError(f"expected a {form} pair, got {value!r}", source, name, key)
    try:
        lo, hi = cast(value[0]), cast(value[1])
    except (TypeError, ValueError):
        raise GeometryError(f"expected two numbers, got {value!r}",
                            source, name, key) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise GeometryError(f"expected finite values {form} with the first smaller, "
                            f"got {value!r}", source, name, key)
    return [lo, hi]


def _validate(description, source):
    if not isinstance(description, dict):
        raise GeometryError("the description must be a mapping with a 'layers' list",
                            source)
    unknown = set(description) - set(_TOP_KEYS)
    if unknown:
        raise GeometryError(f"unknown top-level keys {sorted(unknown)}; valid keys are "
                            f"{list(_TOP_KEYS)}", source)
    layers_in = description.get("layers")
    if not isinstance(layers_in, list) or not layers_in:
        raise GeometryError("'layers' must be a non-empty list", source, key="layers")
    layers = []
    names = set()
    for k, raw in enumerate(layers_in):
        if not isinstance(raw, dict):
            raise GeometryError("each layer must be a mapping", source, k)
        name = raw.get("name", k)
        missing = [key for key in _REQUIRED_LAYER_KEYS if key not in raw]
        if missing:
            raise GeometryError(f"missing keys {missing}", source, name)
        unknown = set(raw) - set(_REQUIRED_LAYER_KEYS) - set(_OPTIONAL_LAYER_KEYS)
        if unknown:
            raise GeometryError(f"unknown keys {sorted(unknown)}; valid keys are "
                                f"{list(_REQUIRED_LAYER_KEYS + _OPTIONAL_LAYER_KEYS)}",
                                source, name)
        name = str(name)
        if name in names:
            raise GeometryError("duplicate layer name", source, name, "name")
        names.add(name)
        if raw["kind"] not in LAYER_KINDS:
            raise GeometryError(f"kind must be one of {list(LAYER_KINDS)}, got "
                                f"{raw['kind']!r}", source, name, "kind")
        layer = {"name": name, "kind": raw["kind"]}
        for key in ("eta", "r", "x0", "lambda"):
            layer[key] = _pair(raw[key], source, name, key)
        try:
            deta = float(raw["deta"])
            n_phi = raw["n_phi"]
        except (TypeError, ValueError):
            raise GeometryError("deta must be a number", source, name, "deta") from None
        if not (deta > 0 and math.isfinite(deta)):
            raise GeometryError(f"deta must be positive, got {raw['deta']!r}",
                                source, name, "deta")
        if not (isinstance(n_phi, int) and not isinstance(n_phi, bool) and n_phi >= 3):
            raise GeometryError(f"n_phi must be an integer >= 3, got {n_phi!r}",
                                source, name, "n_phi")
        span = (layer["eta"][1] - layer["eta"][0]) / deta
        if abs(span - round(span)) > 1e-6 * max(1.0, span):
            raise GeometryError(f"the eta range {layer['eta']} is not a whole number of "
                                f"cells of deta {deta} ({span:.6f})", source, name, "eta")
        layer["deta"] = deta
        layer["n_phi"] = n_phi
        for key in ("noise", "gain"):
            if key in raw:
                value = float(raw[key])
                if not (value > 0 and math.isfinite(value)):
                    raise GeometryError(f"{key} must be positive, got {raw[key]!r}",
                                        source, name, key)
                layer[key] = value
        if layers:
            prev = layers[-1]
            for key in ("r", "x0", "lambda"):
                if layer[key][0] < prev[key][1] - 1e-9:
                    raise GeometryError(
                        f"front {key} {layer[key][0]} is inside the previous layer "
                        f"{prev['name']!r} (back {prev[key][1]}); layers must be listed "
                        "from the inside out", source, name, key)
        if layer["r"][0] <= 0 or layer["x0"][0] < 0 or layer["lambda"][0] < 0:
            raise GeometryError("radii must be positive and depths non-negative",
                                source, name)
        layers.append(layer)
    return layers


def build_geometry(description, neighbours=None, source=None, source_sha256=None):
    """Build a :class:`Geometry` from a description dictionary.

    Parameters
    ----------
    description : dict
        The parsed YAML document (see ``data/atlas-like.yaml`` for the
        format).
    neighbours : {"all2D", "all3D"}, optional
        Mode of the default neighbour graph; default the description's
        ``neighbours`` key, else ``"all3D"``.
    source : str, optional
        Where the description came from, for error messages.
    source_sha256 : str, optional
        Hash identifying the description; computed when omitted.

    Returns
    -------
    Geometry
    """
    return Geometry(description, source=source, source_sha256=source_sha256,
                    neighbour_mode=neighbours)


_CACHE = {}


def data_path(name):
    """Path of a geometry file shipped with hepreco (``"atlas-like.yaml"``)."""
    return str(resources.files(__package__).joinpath("data", name))


def load_geometry(path, neighbours=None):
    """Read a geometry description file and build its :class:`Geometry`.

    Parameters
    ----------
    path : str or os.PathLike
        A YAML file, or the bare name of a file shipped in
        ``hepreco/algorithms/calo/data`` (``"atlas-like"``, ``"small.yaml"``).
    neighbours : {"all2D", "all3D"}, optional
        Mode of the default neighbour graph (both stay available through
        :meth:`Geometry.neighbours`).

    Returns
    -------
    Geometry
        Cached in the process by (file content hash, mode): loading the same
        file again returns the same read-only object.

    Raises
    ------
    FileNotFoundError
        If the file does not exist (the message lists the shipped ones).
    GeometryError
        If the description is invalid (the message names file, layer, key).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        shipped = os.path.basename(path)
        if not shipped.endswith(".yaml"):
            shipped += ".yaml"
        candidate = data_path(shipped)
        if os.path.dirname(path) == "" and os.path.exists(candidate):
            path = candidate
        else:
            available = sorted(p.name for p in resources.files(__package__)
                               .joinpath("data").iterdir() if p.name.endswith(".yaml"))
            raise FileNotFoundError(f"geometry file {path!r} not found; shipped "
                                    f"geometries are {available}")
    with open(path, "rb") as handle:
        raw = handle.read()
    digest = hashlib.sha256(raw).hexdigest()
    key = (digest, neighbours)
    if key not in _CACHE:
        try:
            description = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise GeometryError(f"not valid YAML: {err}", source=path) from None
        _CACHE[key] = build_geometry(description, neighbours=neighbours, source=path,
                                     source_sha256=digest)
    return _CACHE[key]
