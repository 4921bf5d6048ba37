"""How ZTF observes: detection threshold and photometric noise (numbers from astro-facts.md)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from exowavenet_lib.photometry import FLUXCAL_ZEROPOINT, MAG_PER_LN_FLUX, mag_to_flux

#: Simulation convention for the alert 5-sigma limiting magnitude (the real median is 20.2).
ZTF_MAG_LIMIT = 20.5
# Median alert magnitude error in bins of magnitude (bin centres): 0.038 @16-17 ... 0.26 @20.5-21.
_MAG_GRID = np.array([16.5, 17.5, 18.5, 19.5, 20.25, 20.75])
_MAG_ERR_GRID = np.array([0.038, 0.054, 0.088, 0.144, 0.21, 0.26])
#: Sky-noise floor in FLUXCAL units: a 5-sigma detection at the limiting magnitude.
SKY_FLUX_ERR = float(mag_to_flux(ZTF_MAG_LIMIT)) / 5.0


def ztf_flux_error(flux: ArrayLike) -> np.ndarray:
    """Typical ZTF flux error (FLUXCAL) for a true flux: the measured mag-error relation, floored by sky noise.

    Non-positive or faint fluxes get the sky-noise floor, as in forced photometry of an empty sky.
    """
    f = np.asarray(flux, dtype=float)
    if not np.all(np.isfinite(f)):
        raise ValueError("flux contains NaN or infinite values")
    positive = np.clip(f, 1e-3, None)
    mag = FLUXCAL_ZEROPOINT - 2.5 * np.log10(positive)
    relative = np.interp(mag, _MAG_GRID, _MAG_ERR_GRID) / MAG_PER_LN_FLUX
    return np.maximum(positive * relative, SKY_FLUX_ERR)
