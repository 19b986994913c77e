"""The Level-1 calorimeter trigger as a plugin: cells in, towers and L1 objects out."""
from __future__ import annotations

import math

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property, ServiceProperty

from .kernels import EM_TAU_FIELDS, JET_FIELDS, em_tau, energy_sums, jet_elements, jets, tower_counts, tower_map
from .products import jagged_records, records


def _counts(gev: float, lsb: float) -> int:
    """Smallest count whose E_T (count x lsb) reaches ``gev``."""
    return max(0, math.ceil(gev / lsb - 1e-9))


class L1CaloTrigger(Algorithm):
    """Level-1 calorimeter trigger: trigger towers, EM/tau objects, jets and energy sums.

    Cells are summed into EM and hadronic trigger towers of ``tower_deta`` x
    ``2 pi / tower_n_phi`` (transverse energy, quantised in counts of ``lsb``
    with a noise cut and saturation), then the EM/tau algorithm (4 x 4 tower
    windows, 2 x 2 cores, local maxima), jets (0.8 x 0.8 sliding windows of
    0.2 x 0.2 jet elements) and energy sums (missing E_T, total E_T, HT) run
    on the counts.  Every E_T is given in counts and in GeV (counts x
    ``lsb``); eta and phi are the centres of the regions of interest.
    See the README section "Level-1 calorimeter trigger".
    """

    cells = Input("CaloCells", doc="calibrated cell energies, dense (event, cell) [GeV]")
    towers = Output("L1CaloTowers", doc="tower counts, int32 (event, 2, eta, phi): EM [0] and hadronic [1]")
    em_tau_objects = Output("L1EmTau", doc="jagged EM/tau objects: eta, phi, E_T of the EM and tau clusters, "
                                           "isolation (counts and GeV)")
    jet_objects = Output("L1Jets", doc="jagged L1 jets: eta, phi, E_T of the 0.8 x 0.8 window (counts and GeV)")
    sums = Output("L1EnergySums", doc="one record per event: met, met_phi, ex, ey, sum_et, ht (GeV; *_counts too)")
    tower_deta = Property(0.1, doc="tower size in eta", gt=0)
    tower_n_phi = Property(64, doc="towers in phi over 2 pi (64: 0.098 rad); must be even", gt=1)
    lsb = Property(0.5, doc="transverse energy of one tower count", unit="GeV", gt=0)
    noise_cut = Property(2, doc="tower counts below this are set to 0", unit="counts", ge=0)
    max_count = Property(255, doc="tower saturation (255: 8 bits)", unit="counts", ge=1)
    jet_element_max = Property(1023, doc="jet element saturation", unit="counts", ge=1)
    em_tau_min = Property(2.0, doc="keep EM/tau objects whose EM or tau cluster reaches this E_T", unit="GeV", ge=0)
    jet_min = Property(5.0, doc="keep L1 jets whose window E_T reaches this", unit="GeV", ge=0)
    ht_jet_min = Property(20.0, doc="HT sums the L1 jets with E_T above this", unit="GeV", ge=0)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def check(self, registry) -> None:
        if self.tower_n_phi % 2:
            from hepreco.framework import PropertyError

            raise PropertyError(self.name, "tower_n_phi", f"must be even (jet elements are 2 x 2 towers), "
                                                          f"got {self.tower_n_phi}")

    def initialize(self) -> None:
        self.map = tower_map(self.services.get(self.geometry_svc).geom, self.tower_deta, self.tower_n_phi)

    def execute(self, store) -> None:
        m = self.map
        cells = store[self.cells]
        if cells.dtype not in (np.float32, np.float64):
            cells = cells.astype(np.float32)
        towers = tower_counts(np.ascontiguousarray(cells), *m.tables(), m.n_eta, m.n_phi, float(self.lsb),
                              int(self.noise_cut), int(self.max_count))
        store.put(self.towers, towers)
        store.put(self.em_tau_objects, self._em_tau(towers))
        elements = jet_elements(towers, int(self.jet_element_max))
        l1_jets, jet_counts, jet_offsets = self._jets(elements)
        store.put(self.jet_objects, l1_jets)
        store.put(self.sums, self._sums(elements, jet_counts, jet_offsets))

    # -- products ------------------------------------------------------------
    def _em_tau(self, towers):
        m, lsb = self.map, self.lsb
        offsets, values = em_tau(towers, _counts(self.em_tau_min, lsb))
        v = dict(zip(EM_TAU_FIELDS, values))
        columns = {"eta": m.eta_min + (v["ieta"] + 1) * m.deta,
                   "phi": _wrap(m.phi_min + (v["iphi"] + 1) * m.dphi),
                   "ieta": v["ieta"].astype(np.int32), "iphi": v["iphi"].astype(np.int32)}
        for name in ("em", "tau", "em_isol", "had_core", "had_isol", "core"):
            columns[f"{name}_counts"] = v[name].astype(np.int32)
            columns[f"{name}_et" if name in ("em", "tau") else name] = v[name] * lsb
        return jagged_records(columns, offsets)

    def _jets(self, elements):
        m, lsb = self.map, self.lsb
        offsets, values = jets(elements, _counts(self.jet_min, lsb))
        v = dict(zip(JET_FIELDS, values))
        columns = {"eta": m.eta_min + (v["ieta"] + 1) * 2 * m.deta,
                   "phi": _wrap(m.phi_min + (v["iphi"] + 1) * 2 * m.dphi),
                   "ieta": v["ieta"].astype(np.int32), "iphi": v["iphi"].astype(np.int32),
                   "et_counts": v["et"].astype(np.int32), "et": v["et"] * lsb,
                   "core_counts": v["core"].astype(np.int32)}
        return jagged_records(columns, offsets), v["et"], offsets

    def _sums(self, elements, jet_counts, jet_offsets):
        m, lsb = self.map, self.lsb
        n_phi = elements.shape[2]
        phi = m.phi_min + (2 * np.arange(n_phi) + 1) * m.dphi
        s = energy_sums(elements, phi)
        n_events = elements.shape[0]
        event = np.repeat(np.arange(n_events), np.diff(jet_offsets))
        above = jet_counts * lsb > self.ht_jet_min
        ht_counts = np.bincount(event[above], weights=jet_counts[above], minlength=n_events).astype(np.int64)
        met_counts = s[:, 2].astype(np.int64)
        return ak.Array(records({"met": met_counts * lsb, "met_phi": np.arctan2(s[:, 1], s[:, 0]),
                       "ex": s[:, 0] * lsb, "ey": s[:, 1] * lsb, "sum_et": s[:, 3] * lsb, "ht": ht_counts * lsb,
                       "met_counts": met_counts, "sum_et_counts": s[:, 3].astype(np.int64),
                       "ht_counts": ht_counts}))


def _wrap(phi):
    return (np.asarray(phi) + math.pi) % (2.0 * math.pi) - math.pi
