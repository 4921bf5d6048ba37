"""Flux and magnitude conversions with one flux convention for the whole library.

Convention: SNANA ``FLUXCAL`` as used by PLAsTiCC/ELAsTiCC, ``mag = 27.5 - 2.5 log10(flux)``.
A source of magnitude 27.5 has flux 1; a 20th-magnitude source has flux 10**3 = 1000.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

FLUXCAL_ZEROPOINT = 27.5
#: d(mag)/d(ln flux) = 2.5 / ln(10) ≈ 1.0857; turns a fractional flux error into a magnitude error.
MAG_PER_LN_FLUX = 2.5 / np.log(10.0)


def _finite(name: str, values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def mag_to_flux(mag: ArrayLike, zeropoint: float = FLUXCAL_ZEROPOINT) -> np.ndarray:
    """Convert magnitudes to fluxes on the given zeropoint (FLUXCAL by default)."""
    return 10.0 ** (-0.4 * (_finite("mag", mag) - zeropoint))


def flux_to_mag(flux: ArrayLike, zeropoint: float = FLUXCAL_ZEROPOINT) -> np.ndarray:
    """Convert strictly positive fluxes to magnitudes; non-positive flux raises ``ValueError``."""
    arr = _finite("flux", flux)
    if np.any(arr <= 0):
        raise ValueError(
            "flux must be > 0 to have a magnitude (a non-detection has none); "
            f"got {int(np.sum(arr <= 0))} non-positive value(s)"
        )
    return zeropoint - 2.5 * np.log10(arr)


def mag_err_to_flux_err(mag_err: ArrayLike, flux: ArrayLike) -> np.ndarray:
    """First-order error propagation: sigma_F = F * sigma_m / 1.0857."""
    err = _finite("mag_err", mag_err)
    if np.any(err < 0):
        raise ValueError("mag_err must be non-negative")
    return np.abs(_finite("flux", flux)) * err / MAG_PER_LN_FLUX


def flux_err_to_mag_err(flux_err: ArrayLike, flux: ArrayLike) -> np.ndarray:
    """First-order error propagation: sigma_m = 1.0857 * sigma_F / F (flux must be > 0)."""
    err = _finite("flux_err", flux_err)
    arr = _finite("flux", flux)
    if np.any(err < 0):
        raise ValueError("flux_err must be non-negative")
    if np.any(arr <= 0):
        raise ValueError("flux must be > 0 to propagate an error into magnitudes")
    return MAG_PER_LN_FLUX * err / arr
