"""The calorimeter kernels in one namespace: pure functions, arrays in, arrays out.

Plugin classes import from here; the implementations live in one module per
idea:

========================  ===================================================
:func:`simulate`          truth particles -> visible cell energy (GeV)
                          (:mod:`.simulation`)
:func:`digitise`          cell energy -> ADC counts with noise
                          (:mod:`.digitisation`)
:func:`build_cells`       ADC counts -> cell energy, dead cells zeroed
:func:`cell_status`       per-cell flags: dead, saturated, kept by a cut
:func:`noise_cut`         zero the cells with ``|E| <= n sigma``
:func:`cell_noise`        total noise of a built cell, GeV
:func:`make_conditions`   pedestals, gains, noise, dead cells
                          (:mod:`.conditions`)
:func:`derive_em_scale`   global EM-scale constant from single e/gamma
                          (:mod:`.calibration`)
:func:`particle_gun`      single-particle inputs for tests (:mod:`.gun`)
:func:`two_body_decay_massless`  isotropic decay into two massless daughters
                          (pi0 -> gamma gamma)
:func:`min_opening_angle` smallest opening angle of that decay, 2 asin(m/E)
:func:`cone_sums`         energy within Delta R of a direction, per event
                          (:mod:`.resolution`)
:func:`fit_resolution`    fit of sigma/E = a/sqrt(E) (+) b/E (+) c
:func:`resolution_model`  that model evaluated
========================  ===================================================
"""
from .calibration import derive_em_scale, em_response
from .conditions import make_conditions
from .digitisation import adc_dtype, build_cells, cell_noise, cell_status, digitise, noise_cut
from .gun import min_opening_angle, particle_gun, two_body_decay_massless
from .resolution import cone_sums, fit_resolution, resolution_model
from .simulation import (SimulationParameters, mean_pion_response, muon_mean_deposit,
                         simulate)

__all__ = [
    "SimulationParameters",
    "adc_dtype",
    "build_cells",
    "cell_noise",
    "cell_status",
    "cone_sums",
    "derive_em_scale",
    "digitise",
    "em_response",
    "fit_resolution",
    "make_conditions",
    "mean_pion_response",
    "min_opening_angle",
    "muon_mean_deposit",
    "noise_cut",
    "particle_gun",
    "resolution_model",
    "simulate",
    "two_body_decay_massless",
]
