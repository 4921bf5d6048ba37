"""One realistic multi-band sample light curve for the early notebooks (01-04)."""

from __future__ import annotations

import numpy as np

from exowavenet_lib.photometry import mag_to_flux
from exowavenet_lib.simulate.models import bazin
from exowavenet_lib.simulate.ztf import SKY_FLUX_ERR, ztf_flux_error

# SN Ia-like shape per band: (tau_rise d, tau_fall d, peak mag minus g peak, peak delay d after g).
# r and i fade more slowly and peak later than g, so g - r reddens after maximum.
_SHAPE = {"g": (3.0, 18.0, 0.0, 0.0), "r": (3.5, 28.0, 0.05, 1.0), "i": (3.8, 32.0, 0.25, 3.0)}


def sample_observations(
    *,
    seed: int | None = 0,
    bands: tuple[str, ...] = ("g", "r"),
    peak_mag: float = 18.3,
    peak_mjd: float = 60_200.0,
    cadence_days: float = 3.0,
    detections_only: bool = True,
) -> list[dict]:
    """Simulate one SN Ia-like transient as ZTF sees it, as a list of observation records.

    Each record is ``{"mjd", "flux", "flux_err", "band"}`` with flux in FLUXCAL units
    (zeropoint 27.5). Nights are ``cadence_days`` apart with jitter; each band is lost to weather
    20 % of the time; errors follow the measured ZTF magnitude-error relation.

    Parameters
    ----------
    seed : int or None
        Seed of the random generator (None: different every call).
    bands : tuple of str
        Any of ``"g"``, ``"r"``, ``"i"``.
    peak_mag : float
        Apparent peak magnitude in ``g`` (a bright-transient-survey object is brighter than 18.5).
    peak_mjd : float
        Time of ``g``-band maximum (MJD).
    cadence_days : float
        Mean gap between visits (days).
    detections_only : bool, default True
        Keep only detections brighter than the alert limit (5 sigma of the sky noise, magnitude 20.5), like
        alert photometry. ``False`` returns forced photometry
        from 30 days before explosion, including non-positive fluxes of the empty sky.
    """
    unknown = [b for b in bands if b not in _SHAPE]
    if not bands or unknown:
        raise ValueError(f"bands must be a non-empty subset of {sorted(_SHAPE)}, got {bands!r}")
    if cadence_days <= 0:
        raise ValueError(f"cadence_days must be > 0, got {cadence_days}")
    rng = np.random.default_rng(seed)
    start = peak_mjd - 45.0
    n_nights = int(np.ceil(130.0 / cadence_days))
    nights = start + np.cumsum(rng.uniform(0.5, 1.5, n_nights) * cadence_days)
    records = []
    for band in bands:
        tau_rise, tau_fall, colour, delay = _SHAPE[band]
        t_peak = peak_mjd + delay
        t0 = t_peak - tau_rise * np.log(tau_fall / tau_rise - 1.0)  # Bazin maximum lands on t_peak
        amplitude = float(mag_to_flux(peak_mag + colour)) / float(bazin(t_peak, 1.0, t0, tau_rise, tau_fall))
        seen = rng.random(n_nights) > 0.2
        mjd = nights[seen] + rng.uniform(0.0, 0.15, seen.sum())
        truth = bazin(mjd, amplitude, t0, tau_rise, tau_fall)
        flux_err = ztf_flux_error(truth)
        flux = truth + rng.normal(0.0, flux_err)
        keep = flux > 5.0 * SKY_FLUX_ERR if detections_only else np.ones_like(flux, dtype=bool)
        records += [
            {"mjd": round(float(m), 5), "flux": round(float(f), 3), "flux_err": round(float(e), 3), "band": band}
            for m, f, e in zip(mjd[keep], flux[keep], flux_err[keep], strict=True)
        ]
    return sorted(records, key=lambda r: (r["mjd"], r["band"]))
