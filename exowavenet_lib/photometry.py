"""Flux and magnitude conversions, zeropoints and band names: one flux convention for the whole library.

Convention: SNANA ``FLUXCAL`` as used by PLAsTiCC/ELAsTiCC, ``mag = 27.5 - 2.5 log10(flux)``.
A source of magnitude 27.5 has flux 1; a 20th-magnitude source has flux 10**3 = 1000.
Survey processors convert from their own zeropoints with :func:`rescale_flux`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

FLUXCAL_ZEROPOINT = 27.5
#: d(mag)/d(ln flux) = 2.5 / ln(10) ≈ 1.0857; turns a fractional flux error into a magnitude error.
MAG_PER_LN_FLUX = 2.5 / np.log(10.0)

#: Zeropoints (AB or the mission's own system) of the flux units each survey publishes.
ZEROPOINTS: dict[str, float] = {
    "fluxcal": FLUXCAL_ZEROPOINT,  # SNANA / PLAsTiCC / ELAsTiCC
    "ztf": 30.0,  # simsurvey-style ZTF difference-image fluxes (skynoise ≈ 1261 at this zeropoint)
    "lsst": 31.4,  # Rubin DIA fluxes in nJy: m_AB = 31.4 - 2.5 log10(f / nJy)
    "kepler": 25.10,  # Kepler magnitude Kp = 12 gives 1.74e5 e-/s
    "tess": 20.44,  # TESS magnitude T = 10 gives 1.5e4 e-/s
}

#: Every band the library knows, ordered blue to red, with its central wavelength in nm.
BAND_WAVELENGTH_NM: dict[str, float] = {
    "u": 367.0, "g": 482.0, "r": 622.0, "kepler": 640.0, "i": 755.0, "tess": 787.0, "z": 869.0, "y": 971.0,
}
#: ZTF filter ids (``fid`` in alert packets) and the bands they stand for.
ZTF_FID_TO_BAND: dict[int, str] = {1: "g", 2: "r", 3: "i"}
ZTF_BAND_TO_FID: dict[str, int] = {band: fid for fid, band in ZTF_FID_TO_BAND.items()}


def _finite(name: str, values: ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric, got {type(values).__name__}") from err
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
    """First-order error propagation: sigma_F = |F| * sigma_m / 1.0857."""
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


def rescale_flux(flux: ArrayLike, from_zeropoint: float, to_zeropoint: float = FLUXCAL_ZEROPOINT) -> np.ndarray:
    """Express fluxes (or flux errors) measured on ``from_zeropoint`` on ``to_zeropoint`` (FLUXCAL by default)."""
    return _finite("flux", flux) * 10.0 ** (-0.4 * (from_zeropoint - to_zeropoint))


def zeropoint(survey: str) -> float:
    """Zeropoint of a survey's published flux unit (case-insensitive name; see :data:`ZEROPOINTS`)."""
    if not isinstance(survey, str) or survey.lower() not in ZEROPOINTS:
        raise ValueError(f"survey must be one of {sorted(ZEROPOINTS)}, got {survey!r}")
    return ZEROPOINTS[survey.lower()]


def ztf_band(fid: int) -> str:
    """Band name of a ZTF filter id: 1 → 'g', 2 → 'r', 3 → 'i'."""
    if isinstance(fid, bool) or not isinstance(fid, (int, np.integer)) or int(fid) not in ZTF_FID_TO_BAND:
        raise ValueError(f"fid must be one of {sorted(ZTF_FID_TO_BAND)} (ZTF g, r, i), got {fid!r}")
    return ZTF_FID_TO_BAND[int(fid)]


def ztf_fid(band: str) -> int:
    """ZTF filter id of a band name: 'g' → 1, 'r' → 2, 'i' → 3."""
    if band not in ZTF_BAND_TO_FID:
        raise ValueError(f"band must be one of {sorted(ZTF_BAND_TO_FID)} for ZTF, got {band!r}")
    return ZTF_BAND_TO_FID[band]
