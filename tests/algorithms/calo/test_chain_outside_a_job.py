"""The cell chain and the response algorithm run on hand-made particles with hepreco.framework.testing."""
import awkward as ak
import numpy as np

from hepreco.algorithms.calo.cell_chain import CaloCellBuilder, CaloDigitiser, FastCaloSim
from hepreco.algorithms.calo.response import CaloResponse
from hepreco.framework import testing

SERVICES = {"GeometrySvc": {"geometry": "small"}}


def photons(n, energy=50.0, eta=0.3, phi=0.5):
    """One photon of ``energy`` GeV per event, all in the same direction."""
    pt = energy / np.cosh(eta)
    one = {"pdg_id": 22, "charge": 0.0, "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
           "E": energy}
    return ak.Array([[one]] * n)


def chain():
    return [FastCaloSim(), CaloDigitiser(), CaloCellBuilder(), CaloResponse(energies=[20.0, 50.0, 100.0],
                                                                            pdg_ids=[22])]


def test_chain_with_real_geometry_conditions_and_random_services_on_hand_made_photons():
    result = testing.run(chain(), inputs={"TruthParticles": photons(20)}, services=SERVICES, seed=3)
    cells = result["CaloCells"]
    assert cells.shape[0] == 20 and cells.shape[1] == result.services.get("GeometrySvc").geom.n_cells
    total = cells.sum(axis=1)
    assert (total > 0.6 * 50).all() and (total < 1.2 * 50).all(), total
    # the response's sums sit in the 50 GeV bin: n, sum r, sum r^2
    n, s1, s2 = result.accumulators["CaloResponse/moments_gamma"].value[1]
    assert n == 20 and 0.6 < s1 / n < 1.1 and s2 > 0
    assert result.accumulators["CaloResponse/moments_gamma"].value[[0, 2]].sum() == 0


def test_chain_results_do_not_depend_on_chunking():
    whole = testing.run(chain(), inputs={"TruthParticles": photons(12)}, services=SERVICES, seed=3)
    chunked = testing.run(chain(), inputs={"TruthParticles": photons(12)}, services=SERVICES, seed=3, chunk_size=5)
    np.testing.assert_array_equal(whole["CaloRawADC"], chunked["CaloRawADC"])
    np.testing.assert_array_equal(whole["CaloCells"], chunked["CaloCells"])
    np.testing.assert_allclose(whole.accumulators["CaloResponse/moments_gamma"].value,
                               chunked.accumulators["CaloResponse/moments_gamma"].value, rtol=1e-12)
