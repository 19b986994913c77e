"""Jet images: a numpy reference built on FastJet subjets, and invariance properties.

Jets: anti-kt R = 1.0 (FastJet) on visible final-state particles of Pythia 8
dijet events (13.6 TeV, HardQCD:all, pTHatMin 300 GeV).  The reference
subjets are FastJet's inclusive kt subjets (R = 0.3, ``pt_scheme``) of the
constituents taken as massless (pt, eta, phi), as the image kernel defines
them.
"""
from __future__ import annotations


import numpy as np
import pytest

from hepreco.algorithms.jets import images as im
from hepreco.algorithms.generation.pythia_source import generate, visible_momenta

fastjet = pytest.importorskip("fastjet")
ak = pytest.importorskip("awkward")

NPIX = 25
SIZE = 0.1
CENTRE = NPIX // 2


# ----------------------------------------------------------------------------
# events and jets
# ----------------------------------------------------------------------------
def generate_pythia(n_events, seed, pthat_min=300.0):
    """Visible final-state four-momenta (GeV), one (n, 4) array per event."""
    _, particles = generate(n_events, ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {pthat_min}"], seed=seed)
    return visible_momenta(particles)


def to_awkward(px, py, pz, E, counts):
    fields = {k: ak.unflatten(np.asarray(v, dtype=np.float64), counts) for k, v in
              zip(("px", "py", "pz", "E"), (px, py, pz, E))}
    return ak.zip(fields, with_name="Momentum4D")


def pt_eta_phi(px, py, pz):
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / pt), np.arctan2(py, px)


def wrap(d):
    """Angles folded into [-pi, pi)."""
    return d - 2.0 * np.pi * np.floor((d + np.pi) / (2.0 * np.pi))


class Jets:
    """Constituents of anti-kt R=1 jets: four-momenta, (pt, eta, phi), offsets."""

    def __init__(self, events, ptmin=200.0):
        counts = np.array([len(e) for e in events])
        data = to_awkward(*np.concatenate(events).T, counts)
        cs = fastjet.ClusterSequence(data, fastjet.JetDefinition(fastjet.antikt_algorithm, 1.0))
        cons = ak.flatten(cs.constituents(min_pt=ptmin), axis=1)
        self.counts = np.asarray(ak.num(cons), dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        c = ak.flatten(cons)
        self.p4 = tuple(np.asarray(c[k], dtype=np.float64) for k in ("px", "py", "pz", "E"))
        self.pt, self.eta, self.phi = pt_eta_phi(*self.p4[:3])

    @property
    def n_jets(self):
        return len(self.counts)

    def slices(self):
        return [slice(self.offsets[j], self.offsets[j + 1]) for j in range(self.n_jets)]

    def images(self, eta=None, phi=None, **kw):
        return im.jet_images(self.pt, self.eta if eta is None else eta, self.phi if phi is None else phi,
                             self.offsets, **kw)


@pytest.fixture(scope="module")
def jets():
    j = Jets(generate_pythia(30, seed=7))
    assert j.n_jets >= 40
    return j


@pytest.fixture(scope="module")
def preprocessed(jets):
    return jets.images(return_frame=True)


# ----------------------------------------------------------------------------
# numpy reference on FastJet subjets
# ----------------------------------------------------------------------------
def fastjet_subjets(pt, eta, phi, offsets, R=0.3):
    """Inclusive kt subjets (pt_scheme) per jet, as lists of (pt, eta, phi) sorted by pt."""
    counts = np.diff(offsets)
    data = to_awkward(pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta), counts)
    sub = fastjet.ClusterSequence(data, fastjet.JetDefinition(fastjet.kt_algorithm, R, fastjet.pt_scheme))
    out = []
    for jet in sub.inclusive_jets():
        spt, seta, sphi = pt_eta_phi(*(np.asarray(jet[k], dtype=np.float64) for k in ("px", "py", "pz")))
        order = np.argsort(-spt, kind="stable")
        out.append(np.column_stack([spt, seta, sphi])[order])
    return out


def reference_image(pt, eta, phi, subjets):
    """Translate to subjet 1, rotate subjet 2 to -phi', pixelise, flip, L2-normalise (numpy)."""
    d_eta = eta - subjets[0, 1]
    d_phi = wrap(phi - subjets[0, 2])
    angle = np.arctan2(wrap(subjets[1, 2] - subjets[0, 2]), subjets[1, 1] - subjets[0, 1])
    rot = -0.5 * np.pi - angle
    x = np.cos(rot) * d_eta - np.sin(rot) * d_phi
    y = np.sin(rot) * d_eta + np.cos(rot) * d_phi
    edges = (np.arange(NPIX + 1) - NPIX / 2) * SIZE
    image, _, _ = np.histogram2d(y, x, bins=[edges, edges], weights=pt)
    if image[:, :CENTRE].sum() > image[:, CENTRE + 1:].sum():
        image = image[:, ::-1]
    return image / np.sqrt(np.sum(image ** 2))


def check_against_reference(jets, images):
    subjets = fastjet_subjets(jets.pt, jets.eta, jets.phi, jets.offsets)
    compared = 0
    for j, sl in enumerate(jets.slices()):
        if len(subjets[j]) < 2:
            continue
        ref = reference_image(jets.pt[sl], jets.eta[sl], jets.phi[sl], subjets[j])
        np.testing.assert_allclose(images[j], ref, atol=1e-6, err_msg=f"jet {j}")
        compared += 1
    assert compared >= 0.9 * jets.n_jets
    return compared


def test_images_match_numpy_reference_on_fastjet_subjets(jets, preprocessed):
    check_against_reference(jets, preprocessed[0])


def test_images_are_float32_with_unit_l2_norm(jets, preprocessed):
    images, _ = preprocessed
    assert images.dtype == np.float32
    assert images.shape == (jets.n_jets, NPIX, NPIX)
    np.testing.assert_allclose(np.sum(images.astype(np.float64) ** 2, axis=(1, 2)), 1.0, rtol=1e-6)
    assert np.all(images >= 0.0)


def test_leading_subjet_is_the_centre_pixel_and_subleading_lies_straight_below(jets, preprocessed):
    images, frame = preprocessed
    subjets = fastjet_subjets(jets.pt, jets.eta, jets.phi, jets.offsets)
    np.testing.assert_array_equal(frame.n_subjets, [len(s) for s in subjets])
    two = np.array([len(s) >= 2 for s in subjets])
    lead = np.array([s[0] for s in subjets])
    np.testing.assert_allclose(frame.eta0, lead[:, 1], atol=1e-12)
    np.testing.assert_allclose(wrap(frame.phi0 - lead[:, 2]), 0.0, atol=1e-12)
    x1, y1 = im.image_coordinates(lead[:, 1], lead[:, 2], np.arange(jets.n_jets + 1), frame)
    np.testing.assert_allclose(np.column_stack([x1, y1]), 0.0, atol=1e-12)
    np.testing.assert_array_equal(np.floor(x1 / SIZE + NPIX / 2), CENTRE)
    np.testing.assert_array_equal(np.floor(y1 / SIZE + NPIX / 2), CENTRE)
    sub = np.array([s[1] for s, t in zip(subjets, two) if t])
    x2, y2 = im.image_coordinates(sub[:, 1], sub[:, 2], np.arange(two.sum() + 1),
                                  im.ImageFrame(*(np.asarray(a)[two] for a in frame)))
    np.testing.assert_allclose(x2, 0.0, atol=1e-12)
    dr = np.hypot(sub[:, 1] - lead[two, 1], wrap(sub[:, 2] - lead[two, 2]))
    np.testing.assert_allclose(y2, -dr, rtol=1e-12)
    assert np.all(dr > 0.0)
    # the centre pixel holds the leading subjet's core: it is the brightest pixel of most jets
    assert np.mean(images.reshape(len(images), -1).argmax(axis=1) == CENTRE * NPIX + CENTRE) > 0.5


def test_flip_puts_the_harder_half_on_the_right(jets, preprocessed):
    images, frame = preprocessed
    left = images[:, :, :CENTRE].astype(np.float64).sum(axis=(1, 2))
    right = images[:, :, CENTRE + 1:].astype(np.float64).sum(axis=(1, 2))
    assert np.all(right >= left)
    assert 0 < frame.flipped.sum() < jets.n_jets
    # constituents mapped with the frame land in the pixels that hold their pt
    x, y = im.image_coordinates(jets.eta, jets.phi, jets.offsets, frame)
    col = np.floor(x / SIZE + NPIX / 2).astype(int)
    row = np.floor(y / SIZE + NPIX / 2).astype(int)
    inside = (col >= 0) & (col < NPIX) & (row >= 0) & (row < NPIX)
    jet = np.repeat(np.arange(jets.n_jets), jets.counts)
    rebuilt = np.zeros(images.shape)
    np.add.at(rebuilt, (jet[inside], row[inside], col[inside]), jets.pt[inside])
    rebuilt /= np.sqrt(np.sum(rebuilt ** 2, axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(images, rebuilt, atol=1e-6)


# ----------------------------------------------------------------------------
# invariances
# ----------------------------------------------------------------------------
def jet_centres(jets):
    """pt-weighted (eta, phi) centroid of every jet, per constituent."""
    jet = np.repeat(np.arange(jets.n_jets), jets.counts)
    ref_phi = jets.phi[jets.offsets[:-1]][jet]
    d_phi = wrap(jets.phi - ref_phi)
    sum_pt = np.add.reduceat(jets.pt, jets.offsets[:-1])
    c_eta = np.add.reduceat(jets.pt * jets.eta, jets.offsets[:-1]) / sum_pt
    c_phi = np.add.reduceat(jets.pt * d_phi, jets.offsets[:-1]) / sum_pt + jets.phi[jets.offsets[:-1]]
    return c_eta[jet], c_phi[jet]


def rotate(jets, cos, sin):
    """Rotate every jet's constituents about the jet centroid in the (eta, phi) plane."""
    c_eta, c_phi = jet_centres(jets)
    d_eta = jets.eta - c_eta
    d_phi = wrap(jets.phi - c_phi)
    return c_eta + cos * d_eta - sin * d_phi, wrap(c_phi + sin * d_eta + cos * d_phi)


@pytest.mark.parametrize("d_eta, d_phi", [(0.3, 0.0), (0.0, -0.2), (-1.1, 2.5), (0.5, 3.1)])
def test_translation_by_whole_pixels_gives_the_same_image(jets, preprocessed, d_eta, d_phi):
    moved = jets.images(eta=jets.eta + d_eta, phi=wrap(jets.phi + d_phi))
    np.testing.assert_allclose(moved, preprocessed[0], atol=1e-6)


def test_translation_by_arbitrary_amounts_gives_the_same_image(jets, preprocessed):
    rng = np.random.default_rng(5)
    for d_eta, d_phi in rng.uniform(-1.5, 1.5, (3, 2)):
        moved = jets.images(eta=jets.eta + d_eta, phi=wrap(jets.phi + d_phi))
        np.testing.assert_allclose(moved, preprocessed[0], atol=1e-6)


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_rotation_by_right_angles_gives_the_same_image(jets, preprocessed, quarter_turns):
    cos, sin = [(0, 1), (-1, 0), (0, -1)][quarter_turns - 1]
    eta, phi = rotate(jets, cos, sin)
    np.testing.assert_allclose(jets.images(eta=eta, phi=phi), preprocessed[0], atol=1e-6)


def test_rotation_by_arbitrary_angles_and_reflection_give_the_same_image(jets, preprocessed):
    for angle in (0.3, 2.0, -1.234):
        eta, phi = rotate(jets, np.cos(angle), np.sin(angle))
        np.testing.assert_allclose(jets.images(eta=eta, phi=phi), preprocessed[0], atol=1e-6)
    # mirror image in eta: the flip undoes it
    c_eta, _ = jet_centres(jets)
    np.testing.assert_allclose(jets.images(eta=2.0 * c_eta - jets.eta), preprocessed[0], atol=1e-6)


def test_longitudinal_boost_changes_massive_images_only_slightly(jets, preprocessed):
    """A boost shifts rapidity, not pseudorapidity, uniformly: invariance up to mass effects.

    Hadron masses move soft constituents by up to a pixel, and in a few jets
    they change which subjet is subleading (hence the rotation): the bulk of
    the images is unchanged, a minority changes a lot.
    """
    px, py, pz, E = jets.p4
    dy = 0.5
    pz_b = pz * np.cosh(dy) + E * np.sinh(dy)
    _, eta_b, _ = pt_eta_phi(px, py, pz_b)
    assert np.std(eta_b - jets.eta - dy) > 1e-3  # not a plain translation
    boosted = jets.images(eta=eta_b)
    diff = np.sqrt(np.sum((boosted.astype(np.float64) - preprocessed[0]) ** 2, axis=(1, 2)))
    assert np.median(diff) < 0.03
    assert np.mean(diff < 0.1) >= 0.8
    # massless constituents: the boost is an exact translation in eta
    np.testing.assert_allclose(jets.images(eta=jets.eta + dy), preprocessed[0], atol=1e-6)


# ----------------------------------------------------------------------------
# small jets by hand
# ----------------------------------------------------------------------------
def test_two_subjet_jet_by_hand():
    pt = np.array([100.0, 50.0, 0.0])
    eta = np.array([0.2, 0.5, 0.2])
    phi = np.array([3.0, 3.4, 3.0])
    images, frame = im.jet_images(pt, eta, phi, np.array([0, 3, 3]), return_frame=True)
    expected = np.zeros((NPIX, NPIX))
    expected[CENTRE, CENTRE] = 100.0
    expected[CENTRE - 5, CENTRE] = 50.0  # Delta R = 0.5, straight down: phi' = -0.5
    np.testing.assert_allclose(images[0], expected / np.hypot(100.0, 50.0), rtol=1e-6)
    np.testing.assert_array_equal(images[1], 0.0)  # a jet without constituents
    np.testing.assert_array_equal(frame.n_subjets, [2, 0])
    np.testing.assert_allclose([frame.ux[0], frame.uy[0]], [0.6, 0.8], rtol=1e-12)


def test_single_subjet_jet_is_aligned_with_its_principal_axis():
    rng = np.random.default_rng(2)
    t = rng.uniform(-0.1, 0.1, 30)
    angle = 0.6
    pt = rng.exponential(5.0, 30) + 1.0
    eta = 1.0 + t * np.cos(angle) + rng.normal(0, 0.005, 30)
    phi = -2.0 + t * np.sin(angle) + rng.normal(0, 0.005, 30)
    images, frame = im.jet_images(pt, eta, phi, np.array([0, 30]), return_frame=True)
    assert frame.n_subjets[0] == 1
    x, y = im.image_coordinates(eta, phi, np.array([0, 30]), frame)
    x0, y0 = np.average(x, weights=pt), np.average(y, weights=pt)
    cov = np.cov(np.vstack([x - x0, y - y0]), aweights=pt)
    assert abs(cov[0, 1]) < 1e-12 and cov[1, 1] > 10 * cov[0, 0]
    assert np.sum(pt * (y - y0) ** 3) <= 0.0  # the longer tail points down
    np.testing.assert_allclose(np.sum(images[0].astype(np.float64) ** 2), 1.0, rtol=1e-6)


def test_threads_give_identical_images(jets, preprocessed):
    np.testing.assert_array_equal(jets.images(n_threads=1), jets.images(n_threads=3))
    np.testing.assert_array_equal(jets.images(n_threads=1), preprocessed[0])


def test_input_errors_name_the_argument():
    x = np.zeros(2)
    with pytest.raises(ValueError, match="n_pixels must be a positive odd number, got 24"):
        im.jet_images(x, x, x, np.array([0, 2]), n_pixels=24)
    with pytest.raises(ValueError, match="pt, eta, phi must have the same length"):
        im.jet_images(x, x, np.zeros(3), np.array([0, 2]))
    with pytest.raises(ValueError, match="subjet_R must be a positive finite number"):
        im.jet_images(x, x, x, np.array([0, 2]), subjet_R=0.0)


@pytest.mark.slow
def test_image_sweep_matches_numpy_reference():
    jets = Jets(generate_pythia(200, seed=21, pthat_min=500.0), ptmin=300.0)
    images = jets.images()
    assert check_against_reference(jets, images) > 300
