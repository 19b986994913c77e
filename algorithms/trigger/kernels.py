"""The Level-1 calorimeter kernels in one namespace (pure functions on arrays)."""
from .em_tau import FIELDS as EM_TAU_FIELDS
from .em_tau import em_tau
from .jet_elements import FIELDS as JET_FIELDS
from .jet_elements import energy_sums, jet_elements, jets
from .towers import EM, HAD, TowerMap, tower_counts, tower_map
from .windows import core_sum, core_sums, is_local_max, local_maxima, pad_cores, set_core_row, window_sum

__all__ = ["EM", "HAD", "EM_TAU_FIELDS", "JET_FIELDS", "TowerMap", "core_sum", "core_sums", "em_tau",
           "energy_sums", "is_local_max", "jet_elements", "jets", "local_maxima", "pad_cores", "set_core_row",
           "tower_counts", "tower_map", "window_sum"]
