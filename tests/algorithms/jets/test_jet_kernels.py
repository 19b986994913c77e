"""The numba generalised-kt kernels against FastJet (the reference implementation).

Jets are compared event by event: same number of jets, identical constituent
index sets, and pt, rapidity, phi and mass equal to 1e-9 relative (phi modulo
2*pi, m**2 with an absolute tolerance of 1e-9 E**2).  Larger sweeps are marked
``slow`` (run with ``-m slow``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from hepreco.algorithms.jets import kernels
from hepreco.algorithms.generation.pythia_source import generate, visible_momenta

fastjet = pytest.importorskip("fastjet")
ak = pytest.importorskip("awkward")


# ----------------------------------------------------------------------------
# events: Pythia 8 dijets with pile-up top-up, generated once per session
# ----------------------------------------------------------------------------
PION_MASS = 0.13957  # GeV


def generate_pythia(n_events, seed):
    """Visible final-state four-momenta (GeV) of Pythia 8 dijet events (pTHatMin 100 GeV)."""
    _, particles = generate(n_events, ["HardQCD:all = on", "PhaseSpace:pTHatMin = 100."], seed=seed)
    return visible_momenta(particles)


def pileup(n, rng, ymax=4.5, mean_pt=0.5):
    """``n`` soft particles uniform in rapidity and phi, exponential pt (GeV)."""
    pt = rng.exponential(mean_pt, n)
    y = rng.uniform(-ymax, ymax, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    mt = np.sqrt(pt * pt + PION_MASS * PION_MASS)
    return np.column_stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y), mt * np.cosh(y)])


def resize(event, target, rng):
    """Keep the ``target`` hardest particles, or top up with pile-up to ``target``."""
    if target is None:
        return event
    if len(event) >= target:
        pt2 = event[:, 0] ** 2 + event[:, 1] ** 2
        return event[np.sort(np.argsort(-pt2, kind="stable")[:target])]
    return np.concatenate([event, pileup(target - len(event), rng)])


class Chunk:
    """Events of one chunk as flat arrays plus offsets, and per-event views."""

    def __init__(self, events):
        self.events = [np.asarray(e, dtype=np.float64).reshape(-1, 4) for e in events]
        flat = np.concatenate(self.events) if self.events else np.empty((0, 4))
        self.px, self.py, self.pz, self.E = (np.ascontiguousarray(flat[:, k]) for k in range(4))
        self.offsets = np.concatenate([[0], np.cumsum([len(e) for e in self.events])]).astype(np.int64)

    @property
    def arrays(self):
        return self.px, self.py, self.pz, self.E, self.offsets

    def __len__(self):
        return len(self.events)


def build_chunk(hard, sizes, seed):
    rng = np.random.default_rng(seed)
    return Chunk([resize(event, size, rng) for event, size in zip(hard, sizes)])


#: multiplicities of the default chunk: every FastJet strategy of ``Best`` is
#: exercised at R = 0.4 and 1.0 (None keeps the Pythia event as generated)
DEFAULT_SIZES = [0, 12, 25, 45, 90, 200, None, None, 800, 1200, 2000, 3200,
                 1, 18, 35, 70, 150, None, 500, 1000, 1700, 2500, 4500, None]


@pytest.fixture(scope="session")
def pythia_hard():
    """Forty Pythia dijet events (visible final state), fixed seed."""
    return generate_pythia(40, seed=20240611)


@pytest.fixture(scope="session")
def default_chunk(pythia_hard):
    """24 events from empty to 4,500 inputs (Pythia, truncated or topped up)."""
    return build_chunk(pythia_hard, DEFAULT_SIZES, seed=7)


@pytest.fixture(scope="session")
def medium_chunk(pythia_hard):
    """A dozen events of 40 to 700 inputs, for the forced-strategy comparisons."""
    sizes = [40, 60, 100, 150, 250, None, 400, 500, 600, 700, 300, 120]
    return build_chunk(pythia_hard[24:36], sizes, seed=11)


@pytest.fixture(scope="session")
def large_chunk():
    """A few hundred Pythia events from 50 to 5,000 inputs (slow tests)."""
    hard = generate_pythia(300, seed=97531)
    cycle = [50, 100, 200, None, 400, 700, 1000, 1600, 2500, 3500, 5000, None]
    return build_chunk(hard, [cycle[i % len(cycle)] for i in range(len(hard))], seed=3)


ALGORITHMS = {-1.0: "antikt", 0.0: "cambridge", 1.0: "kt"}
FJ_ALGORITHM = {-1.0: fastjet.antikt_algorithm, 0.0: fastjet.cambridge_algorithm, 1.0: fastjet.kt_algorithm}
FJ_STRATEGY = {"N2Plain": fastjet.N2Plain, "N2Tiled": fastjet.N2Tiled, "N2MinHeapTiled": fastjet.N2MinHeapTiled,
               "N2MHTLazy9": fastjet.N2MHTLazy9, "N2MHTLazy25": fastjet.N2MHTLazy25}
#: exclusive dcut per algorithm, in the units of FastJet's d_ij
DCUT = {-1.0: 0.002, 0.0: 0.3, 1.0: 400.0}

P_VALUES = pytest.mark.parametrize("p", list(ALGORITHMS), ids=list(ALGORITHMS.values()))
RADII = pytest.mark.parametrize("R", [0.4, 1.0])


# ----------------------------------------------------------------------------
# FastJet reference
# ----------------------------------------------------------------------------
def jet_definition(p, R, strategy=None):
    if p not in FJ_ALGORITHM:
        return fastjet.JetDefinition(fastjet.genkt_algorithm, R, p)
    if strategy is None:
        return fastjet.JetDefinition(FJ_ALGORITHM[p], R)
    return fastjet.JetDefinition(FJ_ALGORITHM[p], R, FJ_STRATEGY[strategy], fastjet.E_scheme)


def awkward_events(chunk):
    layout = ak.contents.ListOffsetArray(
        ak.index.Index64(chunk.offsets),
        ak.contents.RecordArray([ak.contents.NumpyArray(a) for a in (chunk.px, chunk.py, chunk.pz, chunk.E)],
                                ["px", "py", "pz", "E"], parameters={"__record__": "Momentum4D"}))
    return ak.Array(layout)


def canonical_fastjet(jets, constituents):
    """Per event: {sorted constituent indices: (px, py, pz, E)}."""
    out = []
    for ev_jets, ev_const in zip(ak.to_list(jets), ak.to_list(constituents)):
        out.append({tuple(sorted(c)): (j["px"], j["py"], j["pz"], j["E"]) for j, c in zip(ev_jets, ev_const)})
    return out


def fastjet_inclusive(chunk, p, R, ptmin=0.0, strategy=None):
    cs = fastjet.ClusterSequence(awkward_events(chunk), jet_definition(p, R, strategy))
    return canonical_fastjet(cs.inclusive_jets(ptmin), cs.constituent_index(ptmin))


def fastjet_exclusive_n(chunk, p, R, n_jets, strategy=None):
    cs = fastjet.ClusterSequence(awkward_events(chunk), jet_definition(p, R, strategy))
    with warnings.catch_warnings():
        # fastjet-python warns about exclusive jets for every algorithm
        warnings.simplefilter("ignore", UserWarning)
        jets = cs.exclusive_jets(n_jets=n_jets)
        constituents = cs.exclusive_jets_constituent_index(n_jets)
    return canonical_fastjet(jets, constituents)


def fastjet_single_events(chunk, p, R, select):
    """``select(cluster_sequence)`` per event through the single-event interface.

    Used where the multi-event interface has no constituents (exclusive dcut)
    or raises (exclusive_jets_up_to with its constituents).
    """
    jetdef = jet_definition(p, R)
    out = []
    for event in chunk.events:
        particles = []
        for i, (px, py, pz, e) in enumerate(event.tolist()):
            particle = fastjet.PseudoJet(px, py, pz, e)
            particle.set_user_index(i)
            particles.append(particle)
        cs = fastjet.ClusterSequence(particles, jetdef)
        out.append({tuple(sorted(c.user_index() for c in jet.constituents())): (jet.px(), jet.py(), jet.pz(), jet.E())
                    for jet in select(cs)})
    return out


def fastjet_exclusive_dcut(chunk, p, R, dcut):
    return fastjet_single_events(chunk, p, R, lambda cs: cs.exclusive_jets(dcut))


# ----------------------------------------------------------------------------
# comparison
# ----------------------------------------------------------------------------
def canonical_ours(result, n_events):
    jet_px, jet_py, jet_pz, jet_e, jet_offsets, const_index, const_offsets = result
    assert jet_offsets.shape == (n_events + 1,)
    out = []
    for ev in range(n_events):
        jets = {}
        for j in range(jet_offsets[ev], jet_offsets[ev + 1]):
            key = tuple(const_index[const_offsets[j]:const_offsets[j + 1]].tolist())
            assert list(key) == sorted(key), "constituent indices must be ascending"
            jets[key] = (jet_px[j], jet_py[j], jet_pz[j], jet_e[j])
        assert len(jets) == jet_offsets[ev + 1] - jet_offsets[ev], "two jets share a constituent set"
        out.append(jets)
    return out


def assert_pt_sorted(result):
    jet_px, jet_py, _, _, jet_offsets, _, _ = result
    pt2 = jet_px * jet_px + jet_py * jet_py
    for ev in range(jet_offsets.shape[0] - 1):
        block = pt2[jet_offsets[ev]:jet_offsets[ev + 1]]
        assert np.all(block[1:] <= block[:-1]), f"event {ev}: jets not sorted by pt"


def assert_kinematics_close(ours, ref):
    """pt, rapidity, phi (mod 2 pi), mass (via m**2 for tiny masses) within 1e-9."""
    if len(ours) == 0:
        return
    ours = np.asarray(ours, dtype=np.float64).reshape(-1, 4)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, 4)
    pt_a, y_a, phi_a, m_a = kernels.jet_kinematics(*ours.T)
    pt_b, y_b, phi_b, m_b = kernels.jet_kinematics(*ref.T)
    np.testing.assert_allclose(pt_a, pt_b, rtol=1e-9, atol=0)
    np.testing.assert_allclose(y_a, y_b, rtol=1e-9, atol=1e-12)
    dphi = np.remainder(phi_a - phi_b + np.pi, 2 * np.pi) - np.pi
    np.testing.assert_allclose(dphi, 0.0, atol=2 * np.pi * 1e-9)
    e2 = ref[:, 3] ** 2
    np.testing.assert_allclose(m_a * np.abs(m_a), m_b * np.abs(m_b), rtol=1e-9, atol=0)
    m2_a = (ours[:, 3] + ours[:, 2]) * (ours[:, 3] - ours[:, 2]) - pt_a ** 2
    m2_b = (ref[:, 3] + ref[:, 2]) * (ref[:, 3] - ref[:, 2]) - pt_b ** 2
    assert np.all(np.abs(m2_a - m2_b) <= 1e-9 * e2 + 1e-300)
    np.testing.assert_allclose(ours[:, 3], ref[:, 3], rtol=1e-9, atol=0)


def assert_same_jets(result, reference, n_events):
    ours = canonical_ours(result, n_events)
    assert len(ours) == len(reference)
    mine, theirs = [], []
    for ev, (a, b) in enumerate(zip(ours, reference)):
        assert len(a) == len(b), f"event {ev}: {len(a)} jets, FastJet has {len(b)}"
        assert a.keys() == b.keys(), f"event {ev}: constituent sets differ from FastJet"
        for key, momentum in a.items():
            mine.append(momentum)
            theirs.append(b[key])
    assert_kinematics_close(mine, theirs)
    assert_pt_sorted(result)


def check_inclusive(chunk, p, R, ptmin=0.0, strategy=None):
    result = kernels.inclusive_jets(*chunk.arrays, R, p, ptmin, strategy=strategy)
    assert_same_jets(result, fastjet_inclusive(chunk, p, R, ptmin, strategy), len(chunk))
    return result


def check_exclusive_n(chunk, p, R, n_jets, strategy=None):
    result = kernels.exclusive_jets(*chunk.arrays, R, p, n_jets=n_jets, strategy=strategy)
    assert_same_jets(result, fastjet_exclusive_n(chunk, p, R, n_jets, strategy), len(chunk))
    return result


def check_exclusive_dcut(chunk, p, R, dcut):
    result = kernels.exclusive_jets(*chunk.arrays, R, p, dcut=dcut)
    assert_same_jets(result, fastjet_exclusive_dcut(chunk, p, R, dcut), len(chunk))
    return result


def at_least(chunk, n):
    return Chunk([e for e in chunk.events if len(e) >= n])


def massless(pt, y, phi):
    return (pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(y), pt * math.cosh(y))


# ----------------------------------------------------------------------------
# Pythia events
# ----------------------------------------------------------------------------
@P_VALUES
@RADII
def test_inclusive_jets_match_fastjet_on_pythia_events(default_chunk, p, R):
    check_inclusive(default_chunk, p, R)


@P_VALUES
def test_inclusive_jets_with_ptmin_match_fastjet(default_chunk, p):
    result = check_inclusive(default_chunk, p, 0.4, ptmin=5.0)
    pt = np.hypot(result[0], result[1])
    assert np.all(pt >= 5.0)


@P_VALUES
@RADII
@pytest.mark.parametrize("n_jets", [2, 3])
def test_exclusive_n_jets_match_fastjet(default_chunk, p, R, n_jets):
    check_exclusive_n(at_least(default_chunk, n_jets), p, R, n_jets)


@P_VALUES
@RADII
def test_exclusive_dcut_jets_match_fastjet(default_chunk, p, R):
    check_exclusive_dcut(default_chunk, p, R, DCUT[p])


@pytest.mark.parametrize("p, R", [(0.5, 0.6), (-0.5, 0.8)])
def test_generalised_kt_with_other_exponents_matches_fastjet(default_chunk, p, R):
    check_inclusive(default_chunk, p, R)


@pytest.mark.parametrize("strategy", kernels.STRATEGIES)
@P_VALUES
@RADII
def test_every_strategy_matches_the_same_fastjet_strategy(medium_chunk, strategy, p, R):
    # exclusive jets below the inclusive multiplicity expose the order in which
    # exactly equal distances (all C/A beam distances) are resolved
    check_inclusive(medium_chunk, p, R, strategy=strategy)
    check_exclusive_n(medium_chunk, p, R, 2, strategy=strategy)


def test_cambridge_exclusive_jets_probe_tie_breaking(medium_chunk):
    """The forced-strategy comparison above is sensitive to tie-breaking."""
    results = [kernels.exclusive_jets(*medium_chunk.arrays, 1.0, 0.0, n_jets=2, strategy=s)
               for s in ("N2Plain", "N2MHTLazy9")]
    a, b = (canonical_ours(r, len(medium_chunk)) for r in results)
    assert any(x.keys() != y.keys() for x, y in zip(a, b))


@pytest.mark.parametrize("n, R, p", [(20, 0.4, -1.0), (45, 0.4, -1.0), (300, 0.4, 1.0), (1000, 0.4, 0.0),
                                     (2000, 0.4, -1.0), (300, 1.0, -1.0), (1500, 1.0, 1.0), (3500, 1.0, -1.0),
                                     (100, 2.0, -1.0), (900, 2.0, 0.0)])
def test_strategy_choice_is_fastjets_best(n, R, p):
    rng = np.random.default_rng(n)
    particles = [fastjet.PseudoJet(*massless(pt, y, phi))
                 for pt, y, phi in zip(rng.exponential(2.0, n), rng.uniform(-4, 4, n), rng.uniform(0, 6.28, n))]
    cs = fastjet.ClusterSequence(particles, jet_definition(p, R))
    assert kernels.best_strategy(n, R, p) == cs.strategy_string()


# ----------------------------------------------------------------------------
# hand-made edge cases
# ----------------------------------------------------------------------------
def check_all(chunk, R=0.4, exclusive=True):
    for p in ALGORITHMS:
        check_inclusive(chunk, p, R)
        if exclusive:
            check_exclusive_n(at_least(chunk, 2), p, R, 2)


def test_no_events_and_empty_events():
    none = Chunk([])
    for p in ALGORITHMS:
        result = kernels.inclusive_jets(*none.arrays, 0.4, p)
        assert result[4].tolist() == [0] and result[6].tolist() == [0]
        assert all(a.shape == (0,) for a in result[:4] + (result[5],))
    empties = Chunk([np.empty((0, 4))] * 3)
    result = kernels.inclusive_jets(*empties.arrays, 0.4, -1.0)
    assert result[4].tolist() == [0, 0, 0, 0]
    result = kernels.exclusive_jets(*empties.arrays, 0.4, 1.0, n_jets=2)
    assert result[4].tolist() == [0, 0, 0, 0]
    mixed = Chunk([np.empty((0, 4)), [massless(10.0, 0.5, 1.0)], np.empty((0, 4)), [massless(3.0, -1.0, 2.0)]])
    check_all(mixed, exclusive=False)


def test_single_particle_is_one_jet():
    chunk = Chunk([[massless(25.0, 1.2, 4.0)]])
    check_all(chunk, exclusive=False)
    result = kernels.inclusive_jets(*chunk.arrays, 0.4, -1.0)
    assert result[4].tolist() == [0, 1] and result[5].tolist() == [0]


def test_two_particles_at_exactly_delta_r_equal_to_r():
    # y = 0 exactly for pz = 0; nudge py until the computed Delta R**2 is R**2 to the bit
    R = 0.4
    px, py = math.cos(R), math.sin(R)
    found = None
    for _ in range(200):
        phi = math.atan2(py, px)
        if phi * phi == R * R:
            found = py
            break
        py = np.nextafter(py, -np.inf if phi * phi > R * R else np.inf)
    assert found is not None
    boundary = [(1.0, 0.0, 0.0, 1.0), (px, found, 0.0, math.hypot(px, found))]
    inside = [(1.0, 0.0, 0.0, 1.0), massless(1.0, 0.0, R * (1 - 1e-12))]
    outside = [(2.0, 0.0, 0.0, 2.0), massless(1.0, 0.0, R * (1 + 1e-12))]
    chunk = Chunk([boundary, inside, outside])
    check_all(chunk, R=R)
    for p in ALGORITHMS:
        # d_ij == d_iB * R**2 / R**2 is not a nearest-neighbour (strict <): two jets
        assert np.diff(kernels.inclusive_jets(*chunk.arrays, R, p)[4]).tolist() == [2, 1, 2]


def test_massless_particles_along_the_beam():
    rng = np.random.default_rng(1)
    beam = [(0.0, 0.0, 120.0, 120.0), (0.0, 0.0, -80.0, 80.0), (0.0, 0.0, 120.0, 120.0), (0.0, 0.0, 0.3, 0.3),
            (0.0, 0.0, -0.1, 0.1), (0.0, 0.0, 5.0, 7.0)]  # the last one is massive (finite rapidity)
    hard = [massless(pt, y, phi) for pt, y, phi in
            zip(rng.exponential(5.0, 12), rng.uniform(-3, 3, 12), rng.uniform(0, 2 * np.pi, 12))]
    small = Chunk([beam, beam[:3], beam + hard])  # N2Plain
    check_all(small)
    soft = pileup(400, rng)
    large = Chunk([np.concatenate([soft[:200], np.array(beam), soft[200:]]),
                   np.concatenate([np.array(beam * 5), soft])])
    check_all(large)  # tiled strategies; TilingExtent ignores E == |pz|
    for R in (0.4, 1.0):
        check_exclusive_dcut(large, 1.0, R, 4.0)


def test_particles_on_both_sides_of_phi_zero():
    eps = 1e-13
    tiny = [(50.0, 0.0, 1.0, 50.02), (40.0, -eps, 0.0, 40.0), (30.0, -0.0, -2.0, 30.1), (20.0, -1e-300, 0.5, 20.1),
            (10.0, eps, 0.2, 10.01), (15.0, -15.0 * math.sin(0.3), 0.0, 16.0)]
    chunk = Chunk([tiny, tiny[1:4], [tiny[0], tiny[3]]])
    check_all(chunk)
    _, _, phi, _ = kernels.jet_kinematics(*np.array(tiny).T)
    assert np.all((phi >= 0.0) & (phi < 2 * np.pi))
    assert phi[3] == 0.0  # -1e-300 + 2 pi rounds to 2 pi and wraps to 0 (as FastJet)
    rng = np.random.default_rng(5)
    around = np.array([massless(pt, y, phi) for pt, y, phi in
                       zip(rng.exponential(3.0, 900), rng.uniform(-3, 3, 900),
                           np.concatenate([rng.uniform(-0.2, 0.0, 450) % (2 * np.pi), rng.uniform(0, 0.2, 450)]))])
    check_all(Chunk([around]), R=0.4)
    check_all(Chunk([around]), R=1.0)


def test_identical_particles_resolve_ties_like_fastjet(medium_chunk):
    rng = np.random.default_rng(9)
    base = np.array([massless(pt, y, phi) for pt, y, phi in
                     zip(rng.exponential(4.0, 8), rng.uniform(-2, 2, 8), rng.uniform(0, 2 * np.pi, 8))])
    small = Chunk([np.concatenate([base, base]), np.repeat(base[:3], 4, axis=0)])
    check_all(small)
    event = medium_chunk.events[7]
    large = Chunk([np.concatenate([event, event[::3]]), np.repeat(event[:200], 3, axis=0)])
    for strategy in kernels.STRATEGIES:
        for p in ALGORITHMS:
            check_inclusive(large, p, 0.4, strategy=strategy)
            check_exclusive_n(large, p, 0.4, 3, strategy=strategy)


def test_exclusive_jets_with_fewer_particles_than_requested_returns_all():
    chunk = Chunk([[massless(10.0, 0.0, 0.0), massless(5.0, 2.0, 2.0)], [massless(7.0, 1.0, 1.0)], np.empty((0, 4))])
    result = kernels.exclusive_jets(*chunk.arrays, 0.4, 1.0, n_jets=3)
    assert np.diff(result[4]).tolist() == [2, 1, 0]
    # FastJet's exclusive_jets(3) raises here; exclusive_jets_up_to(3) is what we return
    assert_same_jets(result, fastjet_single_events(chunk, 1.0, 0.4, lambda cs: cs.exclusive_jets_up_to(3)),
                     len(chunk))


# ----------------------------------------------------------------------------
# layout, determinism, validation
# ----------------------------------------------------------------------------
def test_output_layout_and_partition_of_the_particles(default_chunk):
    result = kernels.inclusive_jets(*default_chunk.arrays, 0.4, -1.0, 0.0)
    jet_px, jet_py, jet_pz, jet_e, jet_offsets, const_index, const_offsets = result
    for a in (jet_px, jet_py, jet_pz, jet_e):
        assert a.dtype == np.float64 and a.shape == (jet_offsets[-1],)
    for a in (jet_offsets, const_index, const_offsets):
        assert a.dtype == np.int64
    assert const_offsets.shape == (jet_offsets[-1] + 1,) and const_offsets[0] == 0 and jet_offsets[0] == 0
    for ev, event in enumerate(default_chunk.events):
        j0, j1 = jet_offsets[ev], jet_offsets[ev + 1]
        members = const_index[const_offsets[j0]:const_offsets[j1]]
        assert np.array_equal(np.sort(members), np.arange(len(event)))  # ptmin = 0: every particle once
        for j in range(j0, j1):
            momentum = event[const_index[const_offsets[j]:const_offsets[j + 1]]].sum(axis=0)
            np.testing.assert_allclose([jet_px[j], jet_py[j], jet_pz[j], jet_e[j]], momentum,
                                       rtol=1e-9, atol=1e-9 * jet_e[j])


def test_results_do_not_depend_on_threads_or_chunking(default_chunk):
    numba = pytest.importorskip("numba")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = kernels.inclusive_jets(*default_chunk.arrays, 0.4, -1.0)
    finally:
        numba.set_num_threads(before)
    parallel = kernels.inclusive_jets(*default_chunk.arrays, 0.4, -1.0)
    for a, b in zip(serial, parallel):
        assert np.array_equal(a, b)
    half = len(default_chunk) // 2
    first, second = Chunk(default_chunk.events[:half]), Chunk(default_chunk.events[half:])
    split = [kernels.inclusive_jets(*c.arrays, 0.4, -1.0) for c in (first, second)]
    assert np.array_equal(np.concatenate([split[0][0], split[1][0]]), parallel[0])
    assert np.array_equal(np.concatenate([split[0][5], split[1][5]]), parallel[5])


def test_offsets_may_index_into_a_larger_array(default_chunk):
    px, py, pz, e, offsets = default_chunk.arrays
    lo, hi = 5, 9
    sub = kernels.inclusive_jets(px, py, pz, e, offsets[lo:hi + 1], 0.4, -1.0)
    ref = kernels.inclusive_jets(*Chunk(default_chunk.events[lo:hi]).arrays, 0.4, -1.0)
    for a, b in zip(sub, ref):
        assert np.array_equal(a, b)


def test_invalid_arguments_are_rejected():
    z = np.zeros(3)
    off = np.array([0, 3])
    with pytest.raises(ValueError, match="same length"):
        kernels.inclusive_jets(z, z, z, np.zeros(2), off, 0.4, -1)
    with pytest.raises(ValueError, match="offsets must be non-decreasing"):
        kernels.inclusive_jets(z, z, z, z, np.array([0, 4]), 0.4, -1)
    with pytest.raises(ValueError, match="R must be a positive"):
        kernels.inclusive_jets(z, z, z, z, off, 0.0, -1)
    with pytest.raises(ValueError, match="either n_jets or dcut, not both"):
        kernels.exclusive_jets(z, z, z, z, off, 0.4, 1, n_jets=2, dcut=1.0)
    with pytest.raises(ValueError, match="give either n_jets"):
        kernels.exclusive_jets(z, z, z, z, off, 0.4, 1)
    with pytest.raises(ValueError, match="n_jets must be >= 1"):
        kernels.exclusive_jets(z, z, z, z, off, 0.4, 1, n_jets=0)
    with pytest.raises(ValueError, match="dcut must be"):
        kernels.exclusive_jets(z, z, z, z, off, 0.4, 1, dcut=-3.0)


def test_jet_kinematics_follow_pseudojet_conventions():
    vectors = [(3.0, 4.0, 12.0, 13.5), (0.0, 0.0, 7.0, 7.0), (0.0, 0.0, -7.0, 7.0), (0.0, 0.0, 2.0, 3.0),
               (1.0, -1e-12, -5.0, 5.2), (1.0, 1.0, 1.0, 1.0), (-2.0, -3.0, 0.0, 4.0), (0.0, 0.0, 0.0, 0.0),
               (1e-3, 2e-3, 1e3, 1e3 + 1e-6), (5.0, 0.0, -1e4, 1.00000001e4)]
    pt, y, phi, m = kernels.jet_kinematics(*np.array(vectors).T)
    for i, v in enumerate(vectors):
        pj = fastjet.PseudoJet(*v)
        assert pt[i] == pj.pt()
        assert y[i] == pj.rap()
        assert phi[i] == pj.phi()
        assert m[i] == pj.m()
    assert y[1] == 1e5 + 7.0 and y[2] == -(1e5 + 7.0)
    assert m[5] < 0  # tachyonic: -sqrt(-m2)


# ----------------------------------------------------------------------------
# large sweeps (run with -m slow)
# ----------------------------------------------------------------------------
@pytest.mark.slow
@P_VALUES
@RADII
def test_large_sweep_inclusive_jets(large_chunk, p, R):
    check_inclusive(large_chunk, p, R)
    check_inclusive(large_chunk, p, R, ptmin=20.0)


@pytest.mark.slow
@P_VALUES
@RADII
def test_large_sweep_exclusive_jets(large_chunk, p, R):
    for n_jets in (2, 3):
        check_exclusive_n(large_chunk, p, R, n_jets)
    check_exclusive_dcut(large_chunk, p, R, DCUT[p])


@pytest.mark.slow
@pytest.mark.parametrize("strategy", kernels.STRATEGIES)
def test_large_sweep_every_strategy(pythia_hard, strategy):
    chunk = build_chunk(pythia_hard, [None, 300, 800, 1500, 2500, 3500] * 2, seed=17)
    for p in ALGORITHMS:
        for R in (0.4, 1.0):
            check_inclusive(chunk, p, R, strategy=strategy)
            check_exclusive_n(chunk, p, R, 3, strategy=strategy)


@pytest.mark.slow
def test_large_sweep_random_seeds_small_events():
    hard = generate_pythia(60, seed=424242)
    chunk = build_chunk(hard, [5 + 7 * i for i in range(60)], seed=5)
    for p in ALGORITHMS:
        for R in (0.4, 1.0):
            check_inclusive(chunk, p, R)
            check_exclusive_n(at_least(chunk, 3), p, R, 3)
            check_exclusive_dcut(chunk, p, R, DCUT[p])
