"""The e/gamma kernels in one namespace: pure functions, arrays in, arrays out.

==========================  =================================================
:func:`shower_shapes`       ATLAS shower shapes of clusters (:mod:`.shapes`)
:func:`middle_shapes`       R_eta, R_phi, w_eta2 of a 7 x 7 middle window
:func:`strip_shapes`        w_stot, E_ratio of a strip profile
:func:`cell_windows`        cells in an eta x phi window per layer
                            (:mod:`.windows`)
:func:`phi_at_radius`       azimuth of a (charged) particle at a radius
                            (:mod:`.matching`)
:func:`leading_matched`     highest-energy cluster near a direction
==========================  =================================================
"""
from .matching import leading_matched, phi_at_radius
from .shapes import SHAPE_NAMES, middle_shapes, shower_shapes, strip_shapes
from .windows import cell_windows

__all__ = ["SHAPE_NAMES", "cell_windows", "leading_matched", "middle_shapes", "phi_at_radius", "shower_shapes",
           "strip_shapes"]
