"""ALeRCE-style light-curve features of ZTF transients: one row of numbers per object for a random forest.

:func:`extract_features` turns one :class:`~exowavenet_lib.lightcurves.TransientLightCurve` into a dict of
:data:`FEATURE_NAMES` → float; :func:`features_table` does it for many (one row per light curve, ``object_id`` index).

Per band ``b`` in :data:`FEATURE_BANDS` (``g`` and ``r``; the names are prefixed ``g_`` / ``r_``):

* ``n_det`` — number of detections; ``peak_mag`` — brightest magnitude; ``mean_mag``; ``amplitude`` — faintest
  minus brightest magnitude;
* ``rise_time`` — days from the half-maximum crossing before the peak to the peak, ``decline_time`` — days from the
  peak to the half-maximum crossing after it (flux space, the crossing linearly interpolated between the two
  detections around it). When the light curve never drops below half the peak on that side the value is a lower
  bound, the time to the first (last) detection, and ``rise_censored`` (``decline_censored``) is 1;
* ``half_max_duration`` — days between the first and last detection with at least half the peak flux;
* variability of the magnitudes: ``std``, ``mad`` (median absolute deviation), ``skew``, ``eta`` (von Neumann
  ratio: mean squared successive difference over the variance; small for smooth curves), ``stetson_k``
  (Stetson's robust kurtosis of error-normalised residuals, 0.798 for Gaussian noise), ``beyond_1std`` (fraction of
  points more than one standard deviation from the mean), ``reduced_chi2`` about the weighted mean, and ``slope``
  (least-squares linear trend, mag/day; positive when fading).

Across bands:

* ``n_det`` and ``baseline`` (days from the first to the last detection, all bands), ``peak_mag`` (brightest),
  ``rise_time``/``decline_time`` (and censoring flags) of the band holding the brightest detection;
* colours g − r (mag): ``colour_max`` (peak g minus peak r magnitude), ``colour_mean`` (mean g minus mean r
  magnitude), ``colour_peak`` (g − r at the time of the brightest detection, each band interpolated in time) and
  ``colour_change`` (g − r :data:`COLOUR_LAG_DAYS` days later minus ``colour_peak``; positive when reddening);
  a band's magnitude at a time is defined only when it has a detection within :data:`COLOUR_MAX_GAP_DAYS` of it;
* ``peak_lag`` — time of the g peak minus time of the r peak (days).

Magnitudes use the FLUXCAL zeropoint (``mag = 27.5 − 2.5 log10 flux``) and only positive fluxes; fluxes of other
bands (e.g. ZTF ``i``) count in ``n_det`` and ``baseline`` only.

Never NaN: a feature that cannot be computed — its band is missing or has no positive flux, too few points
(``skew``, ``eta`` need 3; ``std``-based ones, ``slope`` and ``stetson_k`` 2), a colour without both bands near the
time — is :data:`FILL_VALUE` (−999), far outside every real value so that a tree can split it off; ``n_det = 0``
and the ``*_censored`` flags say why. Features that are 0 by definition (the ``std`` or ``amplitude`` of one point)
are 0, not filled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from exowavenet_lib.lightcurves import LightCurve
from exowavenet_lib.photometry import FLUXCAL_ZEROPOINT, MAG_PER_LN_FLUX

__all__ = [
    "COLOUR_LAG_DAYS",
    "COLOUR_MAX_GAP_DAYS",
    "FEATURE_BANDS",
    "FEATURE_NAMES",
    "FILL_VALUE",
    "extract_features",
    "features_table",
]

#: Value of a feature that cannot be computed for a light curve (see the module docstring).
FILL_VALUE = -999.0
#: Bands with their own features.
FEATURE_BANDS: tuple[str, ...] = ("g", "r")
#: ``colour_change`` compares g − r this many days after the brightest detection with g − r at it.
COLOUR_LAG_DAYS = 20.0
#: A band's magnitude at a time is interpolated only when the band has a detection within this many days of it.
COLOUR_MAX_GAP_DAYS = 5.0

_BAND_FEATURES: tuple[str, ...] = (
    "n_det", "peak_mag", "mean_mag", "amplitude", "rise_time", "rise_censored", "decline_time", "decline_censored",
    "half_max_duration", "std", "mad", "skew", "eta", "stetson_k", "beyond_1std", "reduced_chi2", "slope",
)
_GLOBAL_FEATURES: tuple[str, ...] = (
    "n_det", "baseline", "peak_mag", "rise_time", "rise_censored", "decline_time", "decline_censored",
    "colour_max", "colour_mean", "colour_peak", "colour_change", "peak_lag",
)
#: Every feature, in the column order of :func:`features_table`.
FEATURE_NAMES: tuple[str, ...] = (
    *(f"{b}_{name}" for b in FEATURE_BANDS for name in _BAND_FEATURES),
    *_GLOBAL_FEATURES,
)


def _half_max_times(t: np.ndarray, f: np.ndarray, k: int) -> tuple[float, float, float, float, float]:
    """Rise, rise censored, decline, decline censored and half-max duration around the peak at index ``k``."""
    half = 0.5 * f[k]
    below = f < half
    before = np.flatnonzero(below[:k])
    if before.size:
        j = int(before[-1])
        cross = t[j] + (half - f[j]) / (f[j + 1] - f[j]) * (t[j + 1] - t[j])
        rise, rise_censored = t[k] - cross, 0.0
    else:
        rise, rise_censored = t[k] - t[0], 1.0
    after = np.flatnonzero(below[k + 1:])
    if after.size:
        j = k + 1 + int(after[0])
        cross = t[j - 1] + (f[j - 1] - half) / (f[j - 1] - f[j]) * (t[j] - t[j - 1])
        decline, decline_censored = cross - t[k], 0.0
    else:
        decline, decline_censored = t[-1] - t[k], 1.0
    above = np.flatnonzero(~below)
    return float(rise), rise_censored, float(decline), decline_censored, float(t[above[-1]] - t[above[0]])


def _magnitude_stats(t: np.ndarray, m: np.ndarray, e: np.ndarray) -> dict[str, float]:
    """Variability statistics of magnitudes ``m`` (errors ``e``) at times ``t``; FILL_VALUE when too few points."""
    n = len(m)
    out = {"mean_mag": float(m.mean()), "amplitude": float(m.max() - m.min()), "std": 0.0,
           "mad": float(np.median(np.abs(m - np.median(m)))), "skew": FILL_VALUE, "eta": FILL_VALUE,
           "stetson_k": FILL_VALUE, "beyond_1std": 0.0, "reduced_chi2": FILL_VALUE, "slope": FILL_VALUE}
    if n < 2:
        return out
    resid = m - out["mean_mag"]
    var = float(np.mean(resid**2))
    std = math.sqrt(var * n / (n - 1))
    out["std"] = std
    out["beyond_1std"] = float(np.mean(np.abs(resid) > std))
    err = np.clip(e, 1e-6, 1e6)
    w = 1.0 / err**2
    out["reduced_chi2"] = float(np.sum(w * (m - np.sum(w * m) / np.sum(w)) ** 2) / (n - 1))
    delta = math.sqrt(n / (n - 1)) * resid / err
    out["stetson_k"] = float(np.mean(np.abs(delta)) / math.sqrt(np.mean(delta**2))) if np.any(delta) else 0.0
    dt = t - t.mean()
    span = float(np.sum(dt**2))
    out["slope"] = float(np.sum(dt * resid) / span) if span > 0 else 0.0
    if n >= 3:
        if var > 0:
            out["skew"] = float(np.mean(resid**3) / var**1.5)
            out["eta"] = float(np.sum(np.diff(m) ** 2) / (var * n))
        else:
            out["skew"], out["eta"] = 0.0, 0.0
    return out


def _band_features(t: np.ndarray, f: np.ndarray, e: np.ndarray) -> tuple[dict[str, float], float, float]:
    """Features of one band's detections (sorted by time), its peak time and its peak flux."""
    out = dict.fromkeys(_BAND_FEATURES, FILL_VALUE)
    out["n_det"] = float(len(t))
    if len(t) == 0:
        return out, math.nan, -math.inf
    k = int(np.argmax(f))
    peak_flux = float(f[k])
    if peak_flux <= 0:
        return out, float(t[k]), peak_flux
    (out["rise_time"], out["rise_censored"], out["decline_time"], out["decline_censored"],
     out["half_max_duration"]) = _half_max_times(t, f, k)
    positive = f > 0
    tp, fp = t[positive], f[positive]
    m = FLUXCAL_ZEROPOINT - 2.5 * np.log10(fp)
    out["peak_mag"] = float(FLUXCAL_ZEROPOINT - 2.5 * math.log10(peak_flux))
    with np.errstate(over="ignore"):  # a flux of ~1e-308 gives an infinite magnitude error, clipped later
        mag_err = MAG_PER_LN_FLUX * e[positive] / fp
    out.update(_magnitude_stats(tp, m, mag_err))
    return out, float(t[k]), peak_flux


def _mag_at(t: np.ndarray, m: np.ndarray, when: float) -> float:
    """Magnitude interpolated at ``when``, or NaN when no detection lies within COLOUR_MAX_GAP_DAYS (internal)."""
    if len(t) == 0 or float(np.min(np.abs(t - when))) > COLOUR_MAX_GAP_DAYS:
        return math.nan
    return float(np.interp(when, t, m))


def extract_features(lc: LightCurve) -> dict[str, float]:
    """ALeRCE-style features of one light curve, in the order of :data:`FEATURE_NAMES` (never NaN; see the module)."""
    if not isinstance(lc, LightCurve):
        raise TypeError(f"lc must be a TransientLightCurve, got {type(lc).__name__}")
    mjd, flux, flux_err, band = lc.mjd, lc.flux, lc.flux_err, lc.band
    out: dict[str, float] = {}
    per_band: dict[str, tuple[np.ndarray, np.ndarray, float, float, dict[str, float]]] = {}
    for b in FEATURE_BANDS:
        sel = band == b
        t, f = mjd[sel], flux[sel]
        feats, t_peak, f_peak = _band_features(t, f, flux_err[sel])
        positive = f > 0
        per_band[b] = (t[positive], FLUXCAL_ZEROPOINT - 2.5 * np.log10(f[positive]), t_peak, f_peak, feats)
        out.update({f"{b}_{name}": value for name, value in feats.items()})

    g, r = per_band["g"], per_band["r"]
    glob = dict.fromkeys(_GLOBAL_FEATURES, FILL_VALUE)
    glob["n_det"] = float(len(mjd))
    glob["baseline"] = float(mjd[-1] - mjd[0])
    peak_band = max(FEATURE_BANDS, key=lambda b: per_band[b][3])
    t_ref = per_band[peak_band][2]
    if per_band[peak_band][3] > 0:
        feats = per_band[peak_band][4]
        glob["peak_mag"] = min(per_band[b][4]["peak_mag"] for b in FEATURE_BANDS if per_band[b][3] > 0)
        for name in ("rise_time", "rise_censored", "decline_time", "decline_censored"):
            glob[name] = feats[name]
    if g[3] > 0 and r[3] > 0:
        glob["colour_max"] = g[4]["peak_mag"] - r[4]["peak_mag"]
        glob["colour_mean"] = g[4]["mean_mag"] - r[4]["mean_mag"]
        glob["peak_lag"] = g[2] - r[2]
        colour_peak = _mag_at(g[0], g[1], t_ref) - _mag_at(r[0], r[1], t_ref)
        colour_late = _mag_at(g[0], g[1], t_ref + COLOUR_LAG_DAYS) - _mag_at(r[0], r[1], t_ref + COLOUR_LAG_DAYS)
        if not math.isnan(colour_peak):
            glob["colour_peak"] = colour_peak
            if not math.isnan(colour_late):
                glob["colour_change"] = colour_late - colour_peak
    out.update(glob)
    return {name: float(out[name]) for name in FEATURE_NAMES}


def features_table(lightcurves: Iterable[LightCurve], *, progress: bool = False) -> pd.DataFrame:
    """Features of many light curves: one row per light curve (index ``object_id``), columns :data:`FEATURE_NAMES`.

    Parameters
    ----------
    lightcurves : iterable of TransientLightCurve
        Light curves with an ``object_id`` (plain :class:`LightCurve` rows are numbered ``"0"``, ``"1"``, ...).
    progress : bool, default False
        Show a ``tqdm.auto`` progress bar.
    """
    if isinstance(lightcurves, (str, bytes, LightCurve, pd.DataFrame)) or not isinstance(lightcurves, Iterable):
        raise TypeError(f"lightcurves must be a list of TransientLightCurve, got {type(lightcurves).__name__}")
    items: Sequence[Any] = list(lightcurves)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="features", unit="lc")
    rows, ids = [], []
    for i, lc in enumerate(items):
        if not isinstance(lc, LightCurve):
            raise TypeError(f"lightcurves[{i}] must be a TransientLightCurve, got {type(lc).__name__}")
        rows.append(list(extract_features(lc).values()))
        ids.append(getattr(lc, "object_id", None) or str(i))
    values = np.asarray(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))
    return pd.DataFrame(values, index=pd.Index(ids, name="object_id"), columns=list(FEATURE_NAMES))
