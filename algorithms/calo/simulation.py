"""Parametrised (fast) calorimeter simulation of truth particles.

:func:`simulate` turns the stable truth particles of a chunk of events into
the visible energy of every cell, at the electromagnetic (EM) scale: a cell
reads the energy that an electron shower would have to deposit there to give
the same signal.  Deposits of hadrons are therefore lower than their energy
(non-compensation).  The result is a dense ``float32[n_events, n_cells]``
array in GeV, before noise and digitisation.

Model, per particle (production vertex at the origin)
-----------------------------------------------------
Propagation
    Straight line from the origin.  With a field ``b_field`` (T) a charged
    particle follows a helix inside the solenoid (radius
    ``solenoid_radius``, mm) and a straight line along its exit direction
    beyond it: the position angle at radius r inside the field is
    ``phi0 - q sign(B) asin(0.3 |B| r / (2 pT))`` (r in m, pT in GeV).  A
    particle whose helix cannot leave the field region (or reach the first
    layer, if that is inside the field) curls and deposits nothing.  Eta at
    each layer follows from the transverse path length.  Particles whose eta
    is outside every layer's range, particles with pT = 0, neutrinos (12, 14,
    16) and the invisible SUSY particles 1000022 and 1000039 are skipped.
Electrons, photons (and pi0 if present)
    Longitudinal Gamma profile in X0 (Longo; Grindhammer & Peters):
    ``T_max = ln(E / E_c) + C`` with ``C = -0.5`` (e) or ``+0.5`` (gamma),
    ``alpha = 1 + b T_max``, ``b = em_profile_b``; ``ln T_max`` and
    ``ln alpha`` fluctuate shower by shower with the correlated widths of
    Grindhammer & Peters.  Lateral: two Gaussian components (core and tail,
    widths in units of the Moliere radius), integrated exactly over the cells
    of each layer.
Hadrons
    First interaction at an exponentially distributed depth (lambda); before
    it the particle ionises like a MIP.  The shower splits into an EM part,
    fraction ``f_em`` drawn from a Beta law of mean
    ``min(fem_slope ln(E / fem_scale), fem_max)`` (clipped at 0) and spread
    ``fem_sigma``, showering like a photon from the interaction point, and a
    hadronic part with a Gamma profile in lambda (``t_max = had_tmax_slope
    ln E + had_tmax_offset`` after the interaction) and a wide lateral
    profile.  The hadronic part is seen with ``h/e = 1 / e_over_h`` at the EM
    scale.  Baryons deposit their kinetic energy, anti-baryons ``E + m``.
    Energy beyond the last layer leaks out.
Muons
    A Moyal (Landau-like) deposit per layer with mean
    ``mip_per_lambda * thickness`` (lambda) and width ``mip_width`` times the
    mean, in the cell crossed at the layer's mid radius.
Resolution
    The visible energy of each shower is drawn once,
    ``E_vis = E * response * s`` with ``s`` a Gamma variate of mean 1 and
    variance ``a^2 / E + c^2`` (EM terms for e/gamma showers, hadronic terms
    for hadron showers; E in GeV), and then distributed over layers and
    cells.  Single-electron sums therefore have exactly the configured
    resolution, and the shower-shape fluctuations move energy between cells
    without changing the sum.  Hadron showers add the ``f_em`` fluctuation
    on top.

Randomness: event ``i`` draws only from ``seeds[i]`` (stream
:data:`STREAM`), so results do not depend on how events are grouped into
chunks or on the number of threads.
"""
from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np

from .. import _random as rnd
from .._numba import jit
from .profiles import gammainc_lower, gaussian_cell_weights
from .geometry import find_cell_kernel

#: Stream id mixed into the event seeds by :func:`simulate`.
STREAM = 0x43414C4F53494D  # "CALOSIM"


@dataclasses.dataclass(frozen=True)
class SimulationParameters:
    """Parameters of :func:`simulate` (energies in GeV, lengths in mm).

    Attributes
    ----------
    b_field : float
        Solenoid field along +z, tesla; 0 disables bending.
    solenoid_radius : float
        Radius of the field region, mm.
    em_sampling, em_constant : float
        Stochastic term (GeV^1/2) and constant term of EM showers.
    had_sampling, had_constant : float
        The same for hadronic showers.
    e_over_h : float
        Ratio of the EM-scale response to the EM and to the purely hadronic
        shower component (> 1 for a non-compensating calorimeter).
    fem_slope, fem_scale, fem_max, fem_sigma : float
        Mean EM fraction of hadron showers
        ``clip(fem_slope ln(E / fem_scale), 0, fem_max)`` (``fem_scale`` in
        GeV) and its shower-to-shower spread.
    critical_energy : float
        Effective critical energy E_c of the EM calorimeter, GeV.
    em_profile_b : float
        Gamma-profile slope b of EM showers, per X0.
    em_c_electron, em_c_photon : float
        The constant C in ``T_max = ln(E / E_c) + C``.
    em_profile_fluctuations : bool
        Fluctuate the EM longitudinal profile shower by shower.
    moliere_radius : float
        Moliere radius of the EM calorimeter, mm.
    em_core_fraction, em_core_width, em_tail_width : float
        Lateral EM profile: fraction in the core and Gaussian widths of core
        and tail in units of the Moliere radius.  The defaults contain 87% of
        the energy within one and 93% within two Moliere radii, and put
        about 95% of the EMB2 energy of an electron into 3 x 3 of the
        shipped geometry's 0.025 x 0.025 cells (the rest within 7 x 7).
    had_tmax_slope, had_tmax_offset : float
        Shower maximum of the hadronic component after the first
        interaction: ``had_tmax_slope ln(E/GeV) + had_tmax_offset`` lambda.
    had_profile_b : float
        Gamma-profile slope of the hadronic component, per lambda.
    had_core_fraction, had_core_sigma, had_tail_sigma : float
        Lateral hadronic profile: core fraction and Gaussian widths, mm.
    mip_per_lambda : float
        Mean visible (EM-scale) energy of a minimum-ionising particle per
        interaction length, GeV (0.26 gives about 0.3 GeV in a 1.2-lambda EM
        calorimeter and 1.9 GeV in 7.4 lambda of hadronic calorimeter).
    mip_width : float
        Moyal width of the MIP deposit relative to its mean.
    lateral_n_sigma : float
        The lateral deposit is computed in a window of this many widths of
        the widest component; the tails outside are added to the window's
        edge cells (nothing is lost except beyond the layer's eta range).
    min_spread_energy : float
        Lateral components carrying less energy than this (GeV) in a layer
        are put into the cell on the shower axis instead of being spread
        (saves time; far below any cell noise).
    min_energy : float
        Particles with less available energy are ignored, GeV.
    """

    b_field: float = 2.0
    solenoid_radius: float = 1150.0
    em_sampling: float = 0.10
    em_constant: float = 0.007
    had_sampling: float = 0.50
    had_constant: float = 0.03
    e_over_h: float = 1.9
    fem_slope: float = 0.11
    fem_scale: float = 1.0
    fem_max: float = 0.95
    fem_sigma: float = 0.10
    critical_energy: float = 0.010
    em_profile_b: float = 0.5
    em_c_electron: float = -0.5
    em_c_photon: float = 0.5
    em_profile_fluctuations: bool = True
    moliere_radius: float = 30.0
    em_core_fraction: float = 0.85
    em_core_width: float = 0.3
    em_tail_width: float = 1.6
    had_tmax_slope: float = 0.2
    had_tmax_offset: float = 0.7
    had_profile_b: float = 1.0
    had_core_fraction: float = 0.65
    had_core_sigma: float = 50.0
    had_tail_sigma: float = 150.0
    mip_per_lambda: float = 0.26
    mip_width: float = 0.1
    lateral_n_sigma: float = 3.5
    min_spread_energy: float = 1e-4
    min_energy: float = 0.001

    _POSITIVE = ("solenoid_radius", "e_over_h", "fem_scale", "critical_energy",
                 "em_profile_b", "moliere_radius", "em_core_width", "em_tail_width",
                 "had_profile_b", "had_core_sigma", "had_tail_sigma",
                 "lateral_n_sigma")
    _NON_NEGATIVE = ("em_sampling", "em_constant", "had_sampling", "had_constant",
                     "fem_slope", "fem_sigma", "had_tmax_slope", "mip_per_lambda",
                     "mip_width", "min_spread_energy", "min_energy")
    _FRACTIONS = ("fem_max", "em_core_fraction", "had_core_fraction")

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "em_profile_fluctuations":
                if not isinstance(value, (bool, np.bool_)):
                    raise TypeError(f"SimulationParameters.{field.name} must be a bool, "
                                    f"got {value!r}")
                continue
            if not isinstance(value, (int, float, np.integer, np.floating)) or \
                    isinstance(value, bool) or not math.isfinite(value):
                raise TypeError(f"SimulationParameters.{field.name} must be a finite "
                                f"number, got {value!r}")
        for name in self._POSITIVE:
            if not getattr(self, name) > 0:
                raise ValueError(f"SimulationParameters.{name} must be > 0, "
                                 f"got {getattr(self, name)!r}")
        for name in self._NON_NEGATIVE:
            if not getattr(self, name) >= 0:
                raise ValueError(f"SimulationParameters.{name} must be >= 0, "
                                 f"got {getattr(self, name)!r}")
        for name in self._FRACTIONS:
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"SimulationParameters.{name} must be in [0, 1], "
                                 f"got {getattr(self, name)!r}")

    def as_array(self):
        """The parameters as ``float64[n]`` in field order (for the kernel)."""
        return np.array([float(getattr(self, f.name)) for f in dataclasses.fields(self)],
                        dtype=np.float64)


_INDEX = {f.name: i for i, f in enumerate(dataclasses.fields(SimulationParameters))}
_B_FIELD = _INDEX["b_field"]
_R_SOL = _INDEX["solenoid_radius"]
_EM_A = _INDEX["em_sampling"]
_EM_C = _INDEX["em_constant"]
_HAD_A = _INDEX["had_sampling"]
_HAD_C = _INDEX["had_constant"]
_E_OVER_H = _INDEX["e_over_h"]
_FEM_SLOPE = _INDEX["fem_slope"]
_FEM_SCALE = _INDEX["fem_scale"]
_FEM_MAX = _INDEX["fem_max"]
_FEM_SIGMA = _INDEX["fem_sigma"]
_EC = _INDEX["critical_energy"]
_EM_B = _INDEX["em_profile_b"]
_C_E = _INDEX["em_c_electron"]
_C_G = _INDEX["em_c_photon"]
_EM_FLUCT = _INDEX["em_profile_fluctuations"]
_RM = _INDEX["moliere_radius"]
_EM_CORE_F = _INDEX["em_core_fraction"]
_EM_CORE_W = _INDEX["em_core_width"]
_EM_TAIL_W = _INDEX["em_tail_width"]
_HAD_TMAX_S = _INDEX["had_tmax_slope"]
_HAD_TMAX_O = _INDEX["had_tmax_offset"]
_HAD_B = _INDEX["had_profile_b"]
_HAD_CORE_F = _INDEX["had_core_fraction"]
_HAD_CORE_S = _INDEX["had_core_sigma"]
_HAD_TAIL_S = _INDEX["had_tail_sigma"]
_MIP = _INDEX["mip_per_lambda"]
_MIP_W = _INDEX["mip_width"]
_NSIG = _INDEX["lateral_n_sigma"]
_MIN_SPREAD = _INDEX["min_spread_energy"]
_EMIN = _INDEX["min_energy"]

_KIND_SKIP = 0
_KIND_EM = 1
_KIND_HAD = 2
_KIND_MUON = 3

_N_COMP = 4  # lateral components: EM core, EM tail, hadronic core, hadronic tail


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------
@jit
def _particle_kind(apdg):
    if apdg == 12 or apdg == 14 or apdg == 16 or apdg == 1000022 or apdg == 1000039:
        return _KIND_SKIP
    if apdg == 11 or apdg == 22 or apdg == 111:
        return _KIND_EM
    if apdg == 13:
        return _KIND_MUON
    return _KIND_HAD


@jit
def _smear_factor(state, a, c, energy):
    """Gamma variate of mean 1 and variance a^2/E + c^2."""
    var = a * a / energy + c * c
    if var <= 0.0:
        return 1.0
    k = 1.0 / var
    return rnd.gamma(state, k) / k


@jit
def _em_profile(state, energy, c_const, p):
    """(alpha, b) of a (fluctuated) EM longitudinal Gamma profile in X0."""
    lny = math.log(max(energy / p[_EC], 1.0))
    tmax = max(lny + c_const, 0.25)
    alpha = 1.0 + p[_EM_B] * tmax
    if p[_EM_FLUCT] != 0.0 and lny > 1.0:
        d_t = -1.4 + 1.26 * lny
        d_a = -0.58 + 0.86 * lny
        s_t = 1.0 / d_t if d_t > 2.0 else 0.5
        s_a = 1.0 / d_a if d_a > 2.0 else 0.5
        rho = min(max(0.705 - 0.023 * lny, 0.0), 0.95)
        z1, z2 = rnd.normal_pair(state)
        tmax = tmax * math.exp(s_t * z1)
        alpha = alpha * math.exp(s_a * (rho * z1 + math.sqrt(1.0 - rho * rho) * z2))
        if alpha < 1.05:
            alpha = 1.05
        tmax = max(tmax, 0.05)
    return alpha, (alpha - 1.0) / tmax


@jit
def _depth_x0(t_lambda, lam_f, lam_b, x0_f, x0_b):
    """Depth in X0 at depth ``t_lambda`` (lambda), piecewise linear."""
    n = lam_f.shape[0]
    if t_lambda <= lam_f[0]:
        return x0_f[0] * t_lambda / lam_f[0] if lam_f[0] > 0.0 else x0_f[0]
    for l in range(n):
        if t_lambda <= lam_b[l]:
            if t_lambda >= lam_f[l]:
                return x0_f[l] + (t_lambda - lam_f[l]) * (x0_b[l] - x0_f[l]) / (
                    lam_b[l] - lam_f[l])
            # in the gap before layer l
            return x0_b[l - 1] + (t_lambda - lam_b[l - 1]) * (x0_f[l] - x0_b[l - 1]) / (
                lam_f[l] - lam_b[l - 1])
    return x0_b[n - 1] + (t_lambda - lam_b[n - 1]) * (x0_b[n - 1] - x0_f[n - 1]) / (
        lam_b[n - 1] - lam_f[n - 1])


@jit
def _spread(row, l, eta_c, phi_c, e_comp, s_comp, n_sigma, layer_offsets, n_eta, n_phi,
            eta_min, deta, phi_min, dphi, w_eta, w_phi):
    """Add a separable multi-Gaussian deposit centred at (eta_c, phi_c) to
    layer ``l`` of ``row``.

    ``e_comp``: energy per component (GeV), ``s_comp``: its width in eta and
    phi units.  Each component is integrated over the cells within
    ``n_sigma`` of its own width, its tails folded into the edge cells of
    that range; only what falls beyond the layer's eta range is lost.
    """
    s_max = 0.0
    for k in range(_N_COMP):
        if e_comp[k] > 0.0 and s_comp[k] > s_max:
            s_max = s_comp[k]
    if s_max <= 0.0:
        return
    ne = n_eta[l]
    nph = n_phi[l]
    de = deta[l]
    dp = dphi[l]
    ic = np.int64(math.floor((eta_c - eta_min[l]) / de))
    jc = np.int64(math.floor((phi_c - phi_min[l]) / dp))
    half = np.int64(math.ceil(n_sigma * s_max / de))
    i0 = max(ic - half, 0)
    i1 = min(ic + half, ne - 1)
    if i1 < i0:
        return
    n_i = i1 - i0 + 1
    half_p = np.int64(math.ceil(n_sigma * s_max / dp))
    if 2 * half_p + 1 >= nph:
        j0 = jc - nph // 2
        n_j = nph
    else:
        j0 = jc - half_p
        n_j = 2 * half_p + 1
    for k in range(_N_COMP):
        if e_comp[k] <= 0.0:
            continue
        w_eta[k, :n_i] = 0.0
        w_phi[k, :n_j] = 0.0
        h = np.int64(math.ceil(n_sigma * s_comp[k] / de))
        a0 = max(ic - h, i0)
        a1 = min(ic + h, i1)
        if a1 >= a0:
            gaussian_cell_weights(eta_c, s_comp[k], eta_min[l] + a0 * de, de,
                                  a1 - a0 + 1, a0 > 0, a1 < ne - 1, w_eta[k, a0 - i0:])
        hp = np.int64(math.ceil(n_sigma * s_comp[k] / dp))
        if 2 * hp + 1 >= n_j:
            b0 = 0
            nb = n_j
        else:
            b0 = jc - hp - j0
            nb = 2 * hp + 1
        gaussian_cell_weights(phi_c, s_comp[k], phi_min[l] + (j0 + b0) * dp, dp, nb,
                              True, True, w_phi[k, b0:])
    for k in range(_N_COMP):
        if e_comp[k] <= 0.0:  # unused components contribute exact zeros
            w_eta[k, :n_i] = 0.0
            w_phi[k, :n_j] = 0.0
    base = layer_offsets[l]
    j_first = j0 % nph
    for a in range(n_i):
        c0 = e_comp[0] * w_eta[0, a]
        c1 = e_comp[1] * w_eta[1, a]
        c2 = e_comp[2] * w_eta[2, a]
        c3 = e_comp[3] * w_eta[3, a]
        if c0 + c1 + c2 + c3 <= 0.0:
            continue
        rowbase = base + (i0 + a) * nph
        j = j_first
        for b in range(n_j):
            v = c0 * w_phi[0, b] + c1 * w_phi[1, b] + c2 * w_phi[2, b] + c3 * w_phi[3, b]
            if v > 0.0:
                row[rowbase + j] += np.float32(v)
            j += 1
            if j == nph:
                j = 0


@jit
def _layer_fractions(alpha, b, start, front, back, energy, out):
    """``out[l] = energy * `` fraction of a Gamma profile starting at depth
    ``start`` inside layer ``l``; the profile's cumulative value is computed
    once per distinct layer boundary."""
    previous_depth = -1.0
    previous_cdf = 0.0
    for l in range(front.shape[0]):
        if front[l] == previous_depth:
            lower = previous_cdf
        else:
            lower = gammainc_lower(alpha, b * (front[l] - start)) if front[l] > start \
                else 0.0
        upper = gammainc_lower(alpha, b * (back[l] - start)) if back[l] > start else 0.0
        out[l] = energy * max(upper - lower, 0.0)
        previous_depth = back[l]
        previous_cdf = upper


@jit
def _mip_deposit(state, mean, width):
    if mean <= 0.0:
        return 0.0
    xi = width * mean
    return max(0.0, mean + xi * (rnd.moyal(state) - rnd.MOYAL_MEAN))


@jit
def _simulate_event(row, state, pdg, charge, px, py, pz, energy, first, last, p,
                    layer_offsets, n_eta, n_phi, eta_min, eta_max, deta, phi_min, dphi,
                    layer_r, x0_f, x0_b, lam_f, lam_b):
    n_layers = n_eta.shape[0]
    eta_l = np.empty(n_layers)
    phi_l = np.empty(n_layers)
    reach = np.empty(n_layers, dtype=np.bool_)
    frac_em = np.empty(n_layers)
    frac_had = np.empty(n_layers)
    w_eta = np.empty((_N_COMP, n_eta.max()))
    w_phi = np.empty((_N_COMP, n_phi.max()))
    e_comp = np.empty(_N_COMP)
    s_comp = np.empty(_N_COMP)
    cover_lo = eta_min.min()
    cover_hi = eta_max.max()
    b_field = p[_B_FIELD]
    r_sol = p[_R_SOL]
    n_sigma = p[_NSIG]
    h_over_e = 1.0 / p[_E_OVER_H]
    rm = p[_RM]
    min_spread = p[_MIN_SPREAD]

    for k in range(first, last):
        apdg = abs(pdg[k])
        kind = _particle_kind(apdg)
        if kind == _KIND_SKIP:
            continue
        pt = math.hypot(px[k], py[k])
        if not pt > 0.0:
            continue
        e_avail = energy[k]
        if kind == _KIND_HAD and apdg < 1000000 and (apdg // 1000) % 10 != 0:
            mass = math.sqrt(max(energy[k] ** 2 - px[k] ** 2 - py[k] ** 2 - pz[k] ** 2,
                                 0.0))
            e_avail = energy[k] - mass if pdg[k] > 0 else energy[k] + mass
        if not e_avail >= p[_EMIN]:
            continue
        eta0 = math.asinh(pz[k] / pt)
        if eta0 < cover_lo or eta0 > cover_hi:
            continue
        phi0 = math.atan2(py[k], px[k])

        # --- propagation to each layer's mid radius -----------------------
        q = charge[k]
        if q != 0.0 and b_field != 0.0:
            curv = 0.3 * abs(b_field * q) / (2.0 * pt) * 1e-3  # 1/mm
            sign = 1.0 if q * b_field > 0.0 else -1.0
            if curv * min(r_sol, layer_r[0]) >= 1.0:
                continue  # curls inside the field before the calorimeter
            a_exit = math.asin(min(curv * r_sol, 1.0))
            for l in range(n_layers):
                rad = layer_r[l]
                if rad <= r_sol:
                    if curv * rad >= 1.0:
                        reach[l] = False
                        continue
                    a_l = math.asin(curv * rad)
                    phi_l[l] = phi0 - sign * a_l
                    s_t = a_l / curv
                else:
                    phi_s = phi0 - sign * a_exit
                    phi_d = phi0 - 2.0 * sign * a_exit
                    ps_u = r_sol * math.cos(a_exit)
                    t = -ps_u + math.sqrt(ps_u * ps_u - r_sol * r_sol + rad * rad)
                    x = r_sol * math.cos(phi_s) + t * math.cos(phi_d)
                    y = r_sol * math.sin(phi_s) + t * math.sin(phi_d)
                    phi_l[l] = math.atan2(y, x)
                    s_t = a_exit / curv + t
                eta_l[l] = math.asinh(s_t * pz[k] / (pt * rad))
                reach[l] = True
        else:
            for l in range(n_layers):
                phi_l[l] = phi0
                eta_l[l] = eta0
                reach[l] = True

        # --- muons: ionisation only ---------------------------------------
        if kind == _KIND_MUON:
            left = e_avail
            for l in range(n_layers):
                if not reach[l] or left <= 0.0:
                    continue
                dep = min(_mip_deposit(state, p[_MIP] * (lam_b[l] - lam_f[l]),
                                       p[_MIP_W]), left)
                left -= dep
                c = find_cell_kernel(l, eta_l[l], phi_l[l], layer_offsets, n_eta,
                                     n_phi, eta_min, deta, phi_min, dphi)
                if c >= 0:
                    row[c] += np.float32(dep)
            continue

        # --- showers: longitudinal split ------------------------------------
        if kind == _KIND_EM:
            c_const = p[_C_G] if apdg != 11 else p[_C_E]
            smear = _smear_factor(state, p[_EM_A], p[_EM_C], e_avail)
            alpha, b = _em_profile(state, e_avail, c_const, p)
            e_vis = e_avail * smear
            _layer_fractions(alpha, b, 0.0, x0_f, x0_b, e_vis, frac_em)
            frac_had[:] = 0.0
        else:
            t0 = rnd.exponential(state)
            e_shower = e_avail
            for l in range(n_layers):
                frac_em[l] = 0.0
                frac_had[l] = 0.0
                if lam_f[l] >= t0 or not reach[l]:
                    continue
                thick = min(lam_b[l], t0) - lam_f[l]
                dep = min(_mip_deposit(state, p[_MIP] * thick, p[_MIP_W]), e_shower)
                e_shower -= dep
                c = find_cell_kernel(l, eta_l[l], phi_l[l], layer_offsets, n_eta,
                                     n_phi, eta_min, deta, phi_min, dphi)
                if c >= 0:
                    row[c] += np.float32(dep)
            if t0 >= lam_b[n_layers - 1] or e_shower <= 0.0:
                continue  # punch-through or nothing left
            fem_mean = p[_FEM_SLOPE] * math.log(e_shower / p[_FEM_SCALE])
            fem_mean = min(max(fem_mean, 0.0), p[_FEM_MAX])
            f_em = 0.0
            if fem_mean > 1e-3:
                f_em = fem_mean
                sig = min(p[_FEM_SIGMA], 0.5 * math.sqrt(fem_mean * (1.0 - fem_mean)))
                if sig > 0.0:
                    nu = fem_mean * (1.0 - fem_mean) / (sig * sig) - 1.0
                    f_em = rnd.beta(state, fem_mean * nu, (1.0 - fem_mean) * nu)
            smear = _smear_factor(state, p[_HAD_A], p[_HAD_C], e_shower)
            e_em = e_shower * f_em * smear
            e_h = e_shower * (1.0 - f_em) * h_over_e * smear
            if e_em > 0.0:
                alpha, b = _em_profile(state, e_shower * f_em, p[_C_G], p)
                x_start = _depth_x0(t0, lam_f, lam_b, x0_f, x0_b)
                _layer_fractions(alpha, b, x_start, x0_f, x0_b, e_em, frac_em)
            tmax = max(p[_HAD_TMAX_S] * math.log(max(e_shower, 1.0)) + p[_HAD_TMAX_O],
                       0.1)
            alpha_h = 1.0 + p[_HAD_B] * tmax
            _layer_fractions(alpha_h, p[_HAD_B], t0, lam_f, lam_b, e_h, frac_had)

        # --- lateral spread in every reachable layer ------------------------
        for l in range(n_layers):
            if not reach[l]:
                continue
            if frac_em[l] <= 0.0 and frac_had[l] <= 0.0:
                continue
            inv_r = 1.0 / layer_r[l]
            e_comp[0] = frac_em[l] * p[_EM_CORE_F]
            e_comp[1] = frac_em[l] * (1.0 - p[_EM_CORE_F])
            e_comp[2] = frac_had[l] * p[_HAD_CORE_F]
            e_comp[3] = frac_had[l] * (1.0 - p[_HAD_CORE_F])
            s_comp[0] = p[_EM_CORE_W] * rm * inv_r
            s_comp[1] = p[_EM_TAIL_W] * rm * inv_r
            s_comp[2] = p[_HAD_CORE_S] * inv_r
            s_comp[3] = p[_HAD_TAIL_S] * inv_r
            on_axis = 0.0
            for m in range(_N_COMP):
                if e_comp[m] < min_spread:
                    on_axis += e_comp[m]
                    e_comp[m] = 0.0
            if on_axis > 0.0:
                c = find_cell_kernel(l, eta_l[l], phi_l[l], layer_offsets, n_eta, n_phi,
                                     eta_min, deta, phi_min, dphi)
                if c >= 0:
                    row[c] += np.float32(on_axis)
            _spread(row, l, eta_l[l], phi_l[l], e_comp, s_comp, n_sigma, layer_offsets,
                    n_eta, n_phi, eta_min, deta, phi_min, dphi, w_eta, w_phi)


@jit(parallel=True)
def _simulate_kernel(pdg, charge, px, py, pz, energy, offsets, seeds, p, layer_offsets,
                     n_eta, n_phi, eta_min, eta_max, deta, phi_min, dphi, layer_r,
                     x0_f, x0_b, lam_f, lam_b, out):
    n_events = offsets.shape[0] - 1
    for e in numba.prange(n_events):
        state = rnd.new_state(seeds[e], STREAM)
        _simulate_event(out[e], state, pdg, charge, px, py, pz, energy, offsets[e],
                        offsets[e + 1], p, layer_offsets, n_eta, n_phi, eta_min, eta_max,
                        deta, phi_min, dphi, layer_r, x0_f, x0_b, lam_f, lam_b)


# --------------------------------------------------------------------------
# public interface
# --------------------------------------------------------------------------
def _as_flat(name, values, dtype, n):
    array = np.ascontiguousarray(values, dtype=dtype)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"simulate: {name} must be a flat array of length {n} "
                         f"(one entry per particle), got shape {array.shape}")
    return array


def simulate(pdg_id, charge, px, py, pz, energy, offsets, geometry, seeds, params=None):
    """Simulate the calorimeter response to the truth particles of a chunk.

    Parameters
    ----------
    pdg_id : array_like of int, shape (n_particles,)
        PDG particle codes of stable final-state particles.
    charge : array_like of float, shape (n_particles,)
        Electric charge in units of e.
    px, py, pz, energy : array_like of float, shape (n_particles,)
        Four-momentum at the origin, GeV.
    offsets : array_like of int64, shape (n_events + 1,)
        Particles of event ``i`` are ``offsets[i]:offsets[i + 1]``;
        ``offsets[0]`` need not be 0.
    geometry : Geometry
        Cell geometry (:func:`~.geometry.load_geometry`).
    seeds : array_like of uint64, shape (n_events,)
        One seed per event; an event's result depends only on its own seed
        and particles.
    params : SimulationParameters, optional
        Physics parameters; the defaults when omitted.

    Returns
    -------
    numpy.ndarray
        ``float32[n_events, n_cells]``: visible energy per cell at the EM
        scale, GeV, noise free.
    """
    params = SimulationParameters() if params is None else params
    if not isinstance(params, SimulationParameters):
        raise TypeError(f"simulate: params must be SimulationParameters, got "
                        f"{type(params).__name__}")
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise ValueError("simulate: offsets must be a flat int64 array of length "
                         "n_events + 1")
    if np.any(np.diff(offsets) < 0):
        raise ValueError("simulate: offsets must be non-decreasing")
    n = np.asarray(pdg_id).shape[0] if np.ndim(pdg_id) == 1 else -1
    pdg_id = _as_flat("pdg_id", pdg_id, np.int64, n)
    if offsets[0] < 0 or offsets[-1] > n:
        raise ValueError(f"simulate: offsets span [{offsets[0]}, {offsets[-1]}) but there "
                         f"are {n} particles")
    charge = _as_flat("charge", charge, np.float64, n)
    px = _as_flat("px", px, np.float64, n)
    py = _as_flat("py", py, np.float64, n)
    pz = _as_flat("pz", pz, np.float64, n)
    energy = _as_flat("energy", energy, np.float64, n)
    n_events = offsets.shape[0] - 1
    seeds = np.ascontiguousarray(seeds, dtype=np.uint64)
    if seeds.shape != (n_events,):
        raise ValueError(f"simulate: seeds must have shape ({n_events},) (one per event), "
                         f"got {seeds.shape}")
    g = geometry
    out = np.zeros((n_events, g.n_cells), dtype=np.float32)
    if n_events:
        _simulate_kernel(pdg_id, charge, px, py, pz, energy, offsets, seeds,
                         params.as_array(), g.layer_offsets, g.layer_n_eta,
                         g.layer_n_phi, g.layer_eta_min, g.layer_eta_max, g.layer_deta,
                         g.layer_phi_min, g.layer_dphi, g.layer_r,
                         g.layer_x0_front, g.layer_x0_back, g.layer_lambda_front,
                         g.layer_lambda_back, out)
    return out


def mean_pion_response(energy, params=None):
    """Expected EM-scale response <E_vis>/E of a hadron shower of energy E.

    ``<f_em> + (1 - <f_em>) / e_over_h`` with
    ``<f_em> = clip(fem_slope ln(E / fem_scale), 0, fem_max)``.  It ignores
    the small MIP track before the first interaction (seen with response 1)
    and longitudinal leakage, which :func:`simulate` both include.

    Parameters
    ----------
    energy : float or array_like
        Shower energy, GeV.
    params : SimulationParameters, optional

    Returns
    -------
    float or numpy.ndarray
    """
    params = SimulationParameters() if params is None else params
    energy = np.asarray(energy, dtype=np.float64)
    fem = np.clip(params.fem_slope * np.log(energy / params.fem_scale), 0.0,
                  params.fem_max)
    return fem + (1.0 - fem) / params.e_over_h


def muon_mean_deposit(geometry, params=None):
    """Mean visible energy of a muon per layer, GeV (``float64[n_layers]``)."""
    params = SimulationParameters() if params is None else params
    return params.mip_per_lambda * (geometry.layer_lambda_back -
                                    geometry.layer_lambda_front)
