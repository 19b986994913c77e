"""The CaloGAN shower-shape variables against a plain per-shower numpy reference on hand-made images."""
import numpy as np
import pytest

from hepreco.algorithms.calogan.shapes import (VARIABLES, response_resolution, shower_shapes,
                                               wasserstein_normalised)


def reference_shapes(layers):
    """One shower at a time, straight from the definitions."""
    out = {v: [] for v in VARIABLES}
    for n in range(len(layers[0])):
        e = [float(img[n].sum()) for img in layers]
        tot = sum(e)
        for i in range(3):
            out[f"E_{i}"].append(e[i])
            out[f"f_{i}"].append(e[i] / tot if tot > 0 else 0.0)
            cells = sorted(layers[i][n].ravel().tolist(), reverse=True)
            out[f"E_ratio_{i}"].append((cells[0] - cells[1]) / (cells[0] + cells[1]) if cells[0] + cells[1] > 0
                                       else 0.0)
            col = layers[i][n].sum(axis=0)
            if col.sum() > 0:
                x = np.arange(len(col))
                m = (col * x).sum() / col.sum()
                out[f"width_{i}"].append(np.sqrt((col * (x - m) ** 2).sum() / col.sum()))
            else:
                out[f"width_{i}"].append(0.0)
        out["E_tot"].append(tot)
        out["d"].append(max([i for i in range(3) if e[i] > 0], default=0))
        ld = sum(i * e[i] for i in range(3))
        out["l_d"].append(ld)
        sd = ld / tot if tot > 0 else 0.0
        out["s_d"].append(sd)
        out["sigma_sd"].append(np.sqrt(sum((i - sd) ** 2 * e[i] for i in range(3)) / tot) if tot > 0 else 0.0)
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def hand_made():
    layers = [np.zeros((4, 3, 96)), np.zeros((4, 12, 12)), np.zeros((4, 12, 6))]
    # shower 0: one cell per layer
    layers[0][0, 1, 40] = 10.0
    layers[1][0, 5, 6] = 100.0
    layers[2][0, 5, 3] = 5.0
    # shower 1: two columns in layer 0 (width 0.5 cells), nothing in layer 2 (deepest layer 1)
    layers[0][1, 1, 10] = 3.0
    layers[0][1, 1, 11] = 3.0
    layers[1][1, 6, 2] = 8.0
    layers[1][1, 6, 3] = 2.0
    # shower 2: empty
    # shower 3: random
    rng = np.random.default_rng(5)
    for img in layers:
        img[3] = rng.exponential(1.0, img.shape[1:]) * (rng.random(img.shape[1:]) < 0.3)
    return layers


def test_shower_shapes_agree_with_a_plain_reference_on_hand_made_images():
    layers = hand_made()
    got, want = shower_shapes(layers), reference_shapes(layers)
    assert list(got) == list(VARIABLES)
    for var in VARIABLES:
        np.testing.assert_allclose(got[var], want[var], rtol=1e-12, atol=1e-12, err_msg=var)
    # a few values worked out by hand
    assert got["E_tot"][0] == 115.0 and got["f_1"][0] == pytest.approx(100 / 115)
    assert got["E_ratio_0"][0] == 1.0 and got["E_ratio_1"][1] == pytest.approx(0.6)
    assert got["width_0"][1] == pytest.approx(0.5) and got["width_0"][0] == 0.0
    assert got["d"].tolist()[:3] == [2.0, 1.0, 0.0]
    assert got["s_d"][0] == pytest.approx(110 / 115)
    assert got["s_d"][2] == 0.0 and got["sigma_sd"][2] == 0.0


def test_wasserstein_is_in_units_of_the_reference_spread():
    ref = np.random.default_rng(1).normal(0.0, 2.0, 200_000)
    assert wasserstein_normalised(ref, ref) == 0.0
    assert wasserstein_normalised(ref + 1.0, ref) == pytest.approx(0.5, rel=0.01)
    # a constant reference is compared in relative terms (1% of its magnitude)
    assert wasserstein_normalised(np.full(10, 10.1), np.full(10, 10.0)) == pytest.approx(1.0)


def test_response_and_resolution_per_energy_bin():
    energy = np.array([5.0, 5.0, 50.0, 50.0])
    total = np.array([4.0, 6.0, 45.0, 45.0])
    r = response_resolution(total, energy, np.array([1.0, 10.0, 100.0]))
    np.testing.assert_allclose(r["response"], [1.0, 0.9])
    np.testing.assert_allclose(r["resolution"], [0.2, 0.0])
