"""The calorimeter kernels in one namespace: pure functions, arrays in, arrays out.

Plugin classes import from here; the implementations live in one module per
idea:

========================  ===================================================
:func:`simulate`          truth particles -> visible cell energy (GeV)
                          (:mod:`.simulation`)
:func:`digitise`          cell energy -> ADC counts with noise
                          (:mod:`.digitisation`)
:func:`build_cells`       ADC counts -> cell energy, dead cells zeroed
:func:`noise_cut`         zero the cells with ``|E| <= n sigma``
:func:`cell_noise`        total noise of a built cell, GeV
:func:`make_conditions`   pedestals, gains, noise, dead cells
                          (:mod:`.conditions`)
:func:`derive_em_scale`   global EM-scale constant from single e/gamma
                          (:mod:`.calibration`)
:func:`particle_gun`      single-particle inputs for tests (:mod:`.gun`)
========================  ===================================================
"""
from .calibration import derive_em_scale, em_response
from .conditions import make_conditions
from .digitisation import adc_dtype, build_cells, cell_noise, digitise, noise_cut
from .gun import particle_gun
from .simulation import (SimulationParameters, mean_pion_response, muon_mean_deposit,
                         simulate)

__all__ = [
    "SimulationParameters",
    "adc_dtype",
    "build_cells",
    "cell_noise",
    "derive_em_scale",
    "digitise",
    "em_response",
    "make_conditions",
    "mean_pion_response",
    "muon_mean_deposit",
    "noise_cut",
    "particle_gun",
    "simulate",
]
