"""Plugin classes of the calorimeter chain: simulation, digitisation, cell building.

Thin wrappers: read the store, call the kernels of
:mod:`~hepreco.algorithms.calo.simulation` and
:mod:`~hepreco.algorithms.calo.digitisation` (imported from :mod:`.kernels`)
over the whole chunk, put the dense ``(events, cells)`` products.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from hepreco.framework import Algorithm, ConfigurationError, Input, Output, Property, ServiceProperty

from ..arrays import flatten_jagged
from .kernels import SimulationParameters, build_cells, cell_status, digitise, noise_cut, simulate

_SIM_FIELDS = {f.name for f in dataclasses.fields(SimulationParameters)}


def _check_parameters(value: dict) -> None:
    unknown = sorted(set(value) - _SIM_FIELDS)
    if unknown:
        raise ValueError(f"unknown simulation parameters {unknown}; valid: {sorted(_SIM_FIELDS)}")


class FastCaloSim(Algorithm):
    """Parametrised calorimeter simulation of truth particles into cells.

    EM showers (Gamma longitudinal profile in X0, two-component lateral
    profile), hadron showers (profile in lambda, non-compensation with a
    fluctuating EM fraction), MIP muons, no deposit from neutrinos; optional
    solenoid bending of charged particles.  Noise free, EM scale, GeV.
    """

    particles = Input("TruthParticles", doc="truth particles: pdg_id, charge, px, py, pz, E [GeV]")
    hits = Output("CaloHits", doc="visible energy per cell, dense float32 (event, cell) [GeV]")
    b_field = Property(2.0, doc="solenoid field (0: straight lines)", unit="T", ge=0)
    em_sampling = Property(0.10, doc="EM stochastic term a in a/sqrt(E)", unit="GeV^1/2", ge=0)
    em_constant = Property(0.007, doc="EM constant term c", ge=0)
    had_sampling = Property(0.50, doc="hadronic stochastic term", unit="GeV^1/2", ge=0)
    had_constant = Property(0.03, doc="hadronic constant term", ge=0)
    e_over_h = Property(1.9, doc="e/h of the non-compensating calorimeter", gt=0)
    parameters = Property({}, doc="any other SimulationParameters field by name", validator=_check_parameters)
    geometry_svc = ServiceProperty("GeometrySvc", doc="name of the geometry service")

    def initialize(self) -> None:
        self.geometry = self.services.get(self.geometry_svc).geom
        try:
            self.params = SimulationParameters(b_field=self.b_field, em_sampling=self.em_sampling,
                                               em_constant=self.em_constant, had_sampling=self.had_sampling,
                                               had_constant=self.had_constant, e_over_h=self.e_over_h,
                                               **self.parameters)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"{self.name}: {exc}") from None

    def execute(self, store) -> None:
        p, offsets = flatten_jagged(store[self.particles], ("pdg_id", "charge", "px", "py", "pz", "E"))
        hits = simulate(p["pdg_id"], p["charge"], p["px"], p["py"], p["pz"], p["E"], offsets,
                        self.geometry, self.seeds(store), self.params)
        store.put(self.hits, hits)


def _no_pileup_noise(value: float) -> None:
    if value != 0:
        raise ValueError(f"was removed (got {value!r}): pile-up now enters as particles, overlaid by PileupOverlay "
                         "before FastCaloSim (set PileupOverlay.mu and FastCaloSim.particles: "
                         "TruthParticlesWithPileup); remove this setting")


class CaloDigitiser(Algorithm):
    """Electronic noise, then ADC counts with pedestal, gain and saturation.

    Pile-up is not a noise term here: it comes as energy in ``CaloHits`` from
    the minimum-bias particles that ``PileupOverlay`` adds before the
    simulation.
    """

    hits = Input("CaloHits", doc="noise-free cell energies [GeV]")
    adc = Output("CaloRawADC", doc="ADC counts, dense uint16 (event, cell)")
    pileup_noise = Property(0.0, doc="removed, only 0 is accepted: pile-up comes from PileupOverlay", unit="GeV",
                            validator=_no_pileup_noise)
    conditions_svc = ServiceProperty("ConditionsSvc", doc="name of the conditions service")

    def initialize(self) -> None:
        self.conditions = self.services.get(self.conditions_svc)

    def execute(self, store) -> None:
        hits = store[self.hits]
        seeds = self.seeds(store)
        groups = self.conditions.runs_of(store)
        out = None
        for run, rows in groups:
            cond = self.conditions.for_run(run)
            adc = digitise(hits if len(groups) == 1 else hits[rows], cond["pedestal"], cond["gain"],
                           cond["noise_sigma"], seeds[rows], adc_max=cond["adc_max"])
            if len(groups) == 1:
                out = adc
            else:
                out = np.empty(hits.shape, dtype=adc.dtype) if out is None else out
                out[rows] = adc
        store.put(self.adc, out if out is not None else np.zeros(hits.shape, dtype=np.uint16))


class CaloCellBuilder(Algorithm):
    """ADC to calibrated cell energies with the conditions; dead cells zeroed and flagged.

    The per-cell noise (``ConditionsSvc.for_run(run)["cell_noise"]``) is the
    sigma used by the optional noise cut and by topological clustering.
    """

    adc = Input("CaloRawADC", doc="ADC counts (event, cell)")
    cells = Output("CaloCells", doc="calibrated cell energies, dense float32 (event, cell) [GeV]")
    status = Output("CaloCellStatus", doc="uint8 flags per cell: 1 dead, 2 saturated, 4 above the noise cut")
    em_scale = Property(1.0, doc="global EM-scale factor (calibration.derive_em_scale)", gt=0)
    noise_cut = Property(0.0, doc="zero cells with |E| <= noise_cut x sigma (0: keep all)", unit="sigma", ge=0)
    absolute = Property(True, doc="cut on |E| (True) or on E (False)")
    conditions_svc = ServiceProperty("ConditionsSvc", doc="name of the conditions service")

    DEAD, SATURATED, ABOVE_CUT = 1, 2, 4

    def initialize(self) -> None:
        self.conditions = self.services.get(self.conditions_svc)

    def execute(self, store) -> None:
        adc = store[self.adc]
        cells = np.empty(adc.shape, dtype=np.float32)
        status = np.zeros(adc.shape, dtype=np.uint8)
        for run, rows in self.conditions.runs_of(store):
            cond = self.conditions.for_run(run)
            whole = len(rows) == adc.shape[0]
            part = adc if whole else adc[rows]
            e = build_cells(part, cond["pedestal"], cond["gain"], cond["dead_mask"], em_scale=self.em_scale,
                            out=cells if whole else None)
            if self.noise_cut > 0:
                e = noise_cut(e, cond["cell_noise"] * self.em_scale, self.noise_cut, self.absolute, out=e)
            flags = cell_status(part, cond["adc_max"], cond["dead_mask"], e if self.noise_cut > 0 else None)
            if whole:
                status = flags
            else:
                cells[rows] = e
                status[rows] = flags
        store.put(self.cells, cells)
        store.put(self.status, status)
