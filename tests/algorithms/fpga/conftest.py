"""Networks, precisions and inputs shared by the FPGA tests; compiled hls4ml models are cached per session.

hls4ml compiles a model in about 11 s, once: the project is kept in
``$HEPRECO_CACHE/hls4ml/<hash>`` and later sessions load it.  The default
run uses the two models of :data:`PRECISIONS`; the ``slow`` tests compile more.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hls4ml")
torch = pytest.importorskip("torch")

from hepreco.algorithms.fpga import hls  # noqa: E402

#: two precisions, each mixing both rounding and both overflow modes
PRECISIONS = {
    "16b": hls.Precision(
        input="ap_fixed<16,6,AP_RND,AP_SAT>", weight="ap_fixed<16,6,AP_RND,AP_SAT>",
        bias="ap_fixed<16,6,AP_RND,AP_SAT>", accum="ap_fixed<16,6,AP_TRN,AP_WRAP>",
        result="ap_fixed<16,6,AP_RND,AP_SAT>", activation="ap_fixed<12,5,AP_RND,AP_SAT>",
        softmax_result="ap_fixed<16,6,AP_RND,AP_SAT>",
        # accumulators holding the exact products: a wrapping one and a saturating one (clamped at each sum)
        layers={"_4": {"accum": "ap_fixed<32,12,AP_TRN,AP_WRAP>"}, "_6": {"accum": "ap_fixed<26,6,AP_RND,AP_SAT>"}}),
    "8b": hls.Precision(
        input="ap_fixed<8,3,AP_TRN,AP_WRAP>", weight="ap_fixed<8,2,AP_RND,AP_SAT>",
        bias="ap_fixed<8,3,AP_TRN,AP_WRAP>", accum="ap_fixed<8,3,AP_RND,AP_SAT>",
        result="ap_fixed<8,3,AP_TRN,AP_WRAP>", activation="ap_fixed<8,3,AP_RND,AP_SAT>",
        softmax_result="ap_fixed<8,3,AP_TRN,AP_SAT>", softmax_accum="ap_fixed<12,5,AP_TRN,AP_SAT>",
        exp_table="ap_fixed<12,5,AP_RND,AP_SAT>", inv_table="ap_fixed<12,5,AP_RND,AP_SAT>",
        inv_inp="ap_fixed<12,5,AP_TRN,AP_SAT>", table_size=256),
}


def jet_network(seed: int = 0, scale: float = 3.0):
    """16-64-32-32-5 (ReLU, softmax) with random weights scaled up so that sums overflow."""
    from hepreco.algorithms.fpga.derive import make_network

    torch.manual_seed(seed)
    model = make_network()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    return model.eval()


def inputs(n: int, seed: int) -> np.ndarray:
    """Float32 inputs from 0.1 to 100 in scale: many beyond the input types' range (saturation, wrap)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)) * rng.choice([0.1, 1.0, 4.0, 30.0, 100.0], size=(n, 1))
    return x.astype(np.float32)


_COMPILED = {}


def compiled(key: str, precision=None, seed: int = 0):
    """``(hls model, emulator network, record)`` of the test network at a precision (cached in the session)."""
    if key not in _COMPILED:
        model = jet_network(seed)
        precision = precision or PRECISIONS[key]
        hm, folder = hls.compiled(model, precision, 16)
        net, record = hls.read_project(folder)
        _COMPILED[key] = (hm, net, record)
    return _COMPILED[key]


@pytest.fixture(params=sorted(PRECISIONS))
def compiled_model(request):
    return compiled(request.param)
