"""``L1NNEventInputs``: one record of 16 Level-1 quantities per event, the inputs of an L1 network item.

From the ``L1CaloTrigger`` products: the E_T (GeV) and eta of the six
leading L1 jets (``j1_et, j1_eta, ..., j6_et, j6_eta``; zero where an event
has fewer jets), the missing E_T ``met``, ``ht`` and the total ``sum_et``
(GeV), and ``n_jets``, the number of L1 jets above ``jet_min_et``.  The
network item of the menu (:mod:`hepreco.algorithms.trigger.menu`, type
``NN``) reads the scores ``L1NeuralNetwork`` computes from these records.
"""
from __future__ import annotations

import awkward as ak
import numpy as np

from hepreco.framework import Algorithm, Input, Output, Property

from ..arrays import flatten_jagged

#: the leading L1 jets taken
N_JETS = 6
#: the record fields, in network input order
FIELDS = tuple(f"j{k + 1}_{q}" for k in range(N_JETS) for q in ("et", "eta")) + ("met", "ht", "sum_et", "n_jets")


def leading_jets(et, eta, offsets, n: int = N_JETS):
    """``(et, eta)`` of the ``n`` highest-E_T objects of each event, ``(n_events, n)``, zero padded.

    Ties keep the input order (a stable sort on -E_T).
    """
    n_events = len(offsets) - 1
    counts = np.diff(offsets)
    event = np.repeat(np.arange(n_events), counts)
    order = np.lexsort((-et, event))                 # by event, then E_T descending (stable)
    rank = np.arange(len(et)) - np.repeat(offsets[:-1], counts)
    out_et = np.zeros((n_events, n))
    out_eta = np.zeros((n_events, n))
    keep = rank < n
    out_et[event[keep], rank[keep]] = et[order][keep]
    out_eta[event[keep], rank[keep]] = eta[order][keep]
    return out_et, out_eta


class L1NNEventInputs(Algorithm):
    """Per event, the 16 inputs of the L1 network item: six leading L1 jets (E_T, eta), met, ht, sum_et, n_jets."""

    jets = Input("L1Jets", doc="L1 jets (L1CaloTrigger): et [GeV], eta")
    sums = Input("L1EnergySums", doc="L1 energy sums (L1CaloTrigger): met, ht, sum_et [GeV]")
    inputs = Output("L1NNEventInputs", doc="one record per event, fields " + ", ".join(FIELDS))
    jet_min_et = Property(20.0, doc="E_T above which an L1 jet counts in n_jets", unit="GeV", ge=0)

    def execute(self, store) -> None:
        columns, offsets = flatten_jagged(store[self.jets], ("et", "eta"), dtype=np.float64)
        et, eta = leading_jets(columns["et"], columns["eta"], offsets)
        sums = store[self.sums]
        event = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        n_jets = np.bincount(event[columns["et"] > self.jet_min_et], minlength=len(offsets) - 1)
        fields = {}
        for k in range(N_JETS):
            fields[f"j{k + 1}_et"] = et[:, k].astype(np.float32)
            fields[f"j{k + 1}_eta"] = eta[:, k].astype(np.float32)
        for name in ("met", "ht", "sum_et"):
            fields[name] = ak.to_numpy(sums[name]).astype(np.float32)
        fields["n_jets"] = n_jets.astype(np.float32)
        store.put(self.inputs, ak.zip(fields))
