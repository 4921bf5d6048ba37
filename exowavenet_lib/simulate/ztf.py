"""How ZTF observes: cadence, seasons, depth, detection threshold and photometric noise (numbers from astro-facts.md).

* :func:`ztf_flux_error` — the measured alert magnitude-error relation, optionally scaled to an epoch's depth.
* :func:`ztf_epochs` — when a field is observed in ``g`` and ``r`` (cadence, weather, seasons) and how deep each
  exposure goes (:func:`ztf_limiting_magnitude`, with the lunar cycle).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from exowavenet_lib.photometry import FLUXCAL_ZEROPOINT, MAG_PER_LN_FLUX, mag_to_flux

#: Simulation convention for the alert 5-sigma limiting magnitude (the real median is 20.2).
ZTF_MAG_LIMIT = 20.5
# Median alert magnitude error in bins of magnitude (bin centres): 0.038 @16-17 ... 0.26 @20.5-21.
_MAG_GRID = np.array([16.5, 17.5, 18.5, 19.5, 20.25, 20.75])
_MAG_ERR_GRID = np.array([0.038, 0.054, 0.088, 0.144, 0.21, 0.26])
#: Sky-noise floor in FLUXCAL units: a 5-sigma detection at the limiting magnitude.
SKY_FLUX_ERR = float(mag_to_flux(ZTF_MAG_LIMIT)) / 5.0

#: Median alert 5-sigma limiting magnitude, and the sky noise of such an epoch (FLUXCAL).
ZTF_MEDIAN_MAG_LIMIT = 20.2
_MEDIAN_SKY_FLUX_ERR = float(mag_to_flux(ZTF_MEDIAN_MAG_LIMIT)) / 5.0

#: The two public-survey bands, in the order of the integer band codes used by :class:`ZTFEpochs`.
ZTF_BANDS: tuple[str, str] = ("g", "r")
#: Public alert stream: from June 2018 (MJD 58270) to May 2025 (MJD 60800).
ZTF_SURVEY_START_MJD = 58_270.0
ZTF_SURVEY_END_MJD = 60_800.0

_YEAR_DAYS = 365.25
# Nominal revisit of a field in nights (3: ZTF-I public survey, 2: ZTF-II) and its probability; the scheduler moves a
# visit by a night now and then. Weather and per-band losses then stretch the same-band gaps to median 3 d, IQR 2-4 d.
_CADENCE_NIGHTS = np.array([2, 3])
_CADENCE_PROB = np.array([0.65, 0.35])
_JITTER_PROB = 0.15  # chance that a visit comes a night early, and that it comes a night late
_CLEAR_NIGHT_PROB = 0.8  # Palomar: about four nights in five are usable
_BAND_VISIT_PROB = 0.9  # a scheduled g or r exposure of a field that is skipped on a clear night
_NIGHT_START, _NIGHT_END = 0.12, 0.45  # MJD fraction of a Palomar night (UT 03:00-11:00)
_PAIR_SEPARATION = (0.02, 0.06)  # days between the g and r exposures of one night (>= 30 min)
# Seasonal gap of a field (days), a piecewise-linear quantile function. The gap between the last detection of a
# season and the first of the next is a few days longer (cadence, weather), so these sit ~5 d below the measured
# median 111 d and 10-90 % range 70-196 d of alert light curves (the ends are ours).
_SEASON_GAP_QUANTILES = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
_SEASON_GAP_DAYS = np.array([45.0, 65.0, 105.0, 190.0, 235.0])
# Alert 5-sigma limiting magnitude: quantile function through the measured median 20.2 and 10-90 % range 19.2-20.8
# (quartiles and ends are ours; the deepest epoch is 21.0).
_MAG_LIMIT_QUANTILES = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
_MAG_LIMIT_VALUES = np.array([18.3, 19.2, 19.75, ZTF_MEDIAN_MAG_LIMIT, 20.55, 20.8, 21.0])
#: Faintest limiting magnitude :func:`ztf_limiting_magnitude` returns: no simulated detection is fainter.
ZTF_DEEPEST_MAG_LIMIT = float(_MAG_LIMIT_VALUES[-1])
_SYNODIC_MONTH_DAYS = 29.530589
_NEW_MOON_MJD = 51_549.76  # 2000 January 6, 18:14 UT
# Correlation of the depth with the Moon (g suffers more from moonlight than r) and between a night's two exposures.
_MOON_WEIGHT = np.array([0.55, 0.4])
_SAME_NIGHT_WEIGHT = 0.6


def ztf_flux_error(flux: ArrayLike, mag_limit: ArrayLike | None = None) -> np.ndarray:
    """Typical ZTF flux error (FLUXCAL) for a true flux: the measured mag-error relation, floored by sky noise.

    Non-positive or faint fluxes get the sky-noise floor, as in forced photometry of an empty sky.

    Parameters
    ----------
    flux : array-like of float
        True fluxes (FLUXCAL).
    mag_limit : array-like of float, optional
        The 5-sigma limiting magnitude of each epoch. Without it the sky noise is that of the convention
        :data:`ZTF_MAG_LIMIT`. With it the measured relation, a median over real epochs, is split in quadrature
        into the sky noise of the median epoch (limit :data:`ZTF_MEDIAN_MAG_LIMIT`) and a source part; the sky
        part becomes ``flux(mag_limit) / 5``. Bright sources keep the measured errors, faint ones get the noise of
        their epoch, and an epoch of median depth reproduces the measured relation.
    """
    f = np.asarray(flux, dtype=float)
    if not np.all(np.isfinite(f)):
        raise ValueError("flux contains NaN or infinite values")
    positive = np.clip(f, 1e-3, None)
    mag = FLUXCAL_ZEROPOINT - 2.5 * np.log10(positive)
    relative = np.interp(mag, _MAG_GRID, _MAG_ERR_GRID) / MAG_PER_LN_FLUX
    measured = positive * relative
    if mag_limit is None:
        return np.maximum(measured, SKY_FLUX_ERR)
    try:
        sky = mag_to_flux(mag_limit) / 5.0
    except (TypeError, ValueError) as err:
        raise ValueError(f"mag_limit must be finite magnitudes: {err}") from err
    source_variance = np.clip(measured**2 - _MEDIAN_SKY_FLUX_ERR**2, 0.0, None)
    return np.sqrt(source_variance + sky**2)


def ztf_limiting_magnitude(quantile: ArrayLike) -> np.ndarray:
    """Alert 5-sigma limiting magnitude at a quantile (0-1) of its distribution: median 20.2, 10-90 % 19.2-20.8.

    Feed it uniform random numbers to draw depths (:func:`ztf_epochs` feeds it correlated ones).
    """
    q = np.asarray(quantile, dtype=float)
    if not np.all((q >= 0) & (q <= 1)):
        raise ValueError("quantile must lie in [0, 1]")
    return np.interp(q, _MAG_LIMIT_QUANTILES, _MAG_LIMIT_VALUES)


def lunar_phase(mjd: ArrayLike) -> np.ndarray:
    """Fraction of the synodic month since new moon (0 new, 0.5 full) at ``mjd``."""
    return ((np.asarray(mjd, dtype=float) - _NEW_MOON_MJD) / _SYNODIC_MONTH_DAYS) % 1.0


class ZTFEpochs(NamedTuple):
    """Exposures of many fields, flat and sorted by object then time.

    Attributes
    ----------
    obj : ndarray of int
        Index of the object (field) each exposure belongs to, ascending.
    mjd : ndarray of float
        Exposure time (MJD), ascending within an object.
    band : ndarray of int8
        Band code, an index into :data:`ZTF_BANDS` (0 = g, 1 = r).
    mag_limit : ndarray of float
        5-sigma limiting magnitude of the exposure.
    """

    obj: np.ndarray
    mjd: np.ndarray
    band: np.ndarray
    mag_limit: np.ndarray


def ztf_epochs(t_start: ArrayLike, t_end: ArrayLike, *, rng: np.random.Generator) -> ZTFEpochs:
    """When ZTF observes each of many objects between ``t_start`` and ``t_end``, and how deep.

    Each object's field gets a nominal cadence of 2 or 3 nights (moved by a night now and then), a seasonal gap
    (median 111 d, 10-90 % 70-196 d) at a random time of year, weather losses (both bands of a night) and
    occasional single-band losses. A night's ``g`` and ``r`` exposures are 30-90 min apart, in random order.
    Depths follow :func:`ztf_limiting_magnitude`, shallower near full moon (more so in ``g``) and correlated
    within a night.

    Parameters
    ----------
    t_start, t_end : array-like of float
        Per object, the first and last time (MJD) that may be observed; ``t_end >= t_start``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ZTFEpochs
        Flat arrays sorted by object, then time.
    """
    start, end = _check_window(t_start, t_end)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n = len(start)
    cadence = rng.choice(_CADENCE_NIGHTS, size=n, p=_CADENCE_PROB)
    season_gap = np.interp(rng.random(n), _SEASON_GAP_QUANTILES, _SEASON_GAP_DAYS)
    season_start = rng.uniform(0.0, _YEAR_DAYS, n)
    # Scheduled nights, (objects, visits): enough visits to pass t_end, each gap the cadence moved by a night
    # now and then (the first one lands somewhere in the first cadence interval).
    n_visits = int(np.ceil(np.max((end - start) / cadence, initial=0.0) * 1.2)) + 4
    u = rng.random((n, n_visits))
    gaps = cadence[:, None] + (u > 1.0 - _JITTER_PROB).astype(int) - (u < _JITTER_PROB)
    gaps[:, 0] = rng.integers(0, cadence)
    nights = np.floor(start)[:, None] + np.cumsum(gaps, axis=1)
    obj, visit = np.nonzero((nights + 1.0 >= start[:, None]) & (nights <= end[:, None]))  # sorted by object, night
    nights = nights[obj, visit]
    usable = (nights - season_start[obj]) % _YEAR_DAYS < _YEAR_DAYS - season_gap[obj]
    usable &= rng.random(len(nights)) < _CLEAR_NIGHT_PROB
    obj, nights = obj[usable], nights[usable]
    # Two exposures per clear night, in time order and random band order, each taken with _BAND_VISIT_PROB.
    first = nights + rng.uniform(_NIGHT_START, _NIGHT_END, len(nights))
    first_band = rng.integers(0, 2, len(nights), dtype=np.int8)
    mjd = np.stack([first, first + rng.uniform(*_PAIR_SEPARATION, len(nights))], axis=1).ravel()
    band = np.stack([first_band, 1 - first_band], axis=1).ravel()
    night_weather = np.repeat(rng.standard_normal(len(nights)), 2)
    obj = np.repeat(obj, 2)
    taken = (rng.random(len(mjd)) < _BAND_VISIT_PROB) & (mjd >= start[obj]) & (mjd <= end[obj])
    obj, mjd, band, night_weather = obj[taken], mjd[taken], band[taken], night_weather[taken]
    weather = np.sqrt(_SAME_NIGHT_WEIGHT) * night_weather
    weather += np.sqrt(1.0 - _SAME_NIGHT_WEIGHT) * rng.standard_normal(len(mjd))
    moon = np.sqrt(2.0) * np.cos(2.0 * np.pi * lunar_phase(mjd))  # +√2 at new moon (dark), −√2 at full moon
    weight = _MOON_WEIGHT[band]
    depth = ztf_limiting_magnitude(ndtr(weight * moon + np.sqrt(1.0 - weight**2) * weather))
    return ZTFEpochs(obj.astype(np.int64), mjd, band, depth)


def _check_window(t_start: ArrayLike, t_end: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    start = np.atleast_1d(np.asarray(t_start, dtype=float))
    end = np.atleast_1d(np.asarray(t_end, dtype=float))
    if start.ndim != 1 or start.shape != end.shape:
        raise ValueError(f"t_start and t_end must be 1-D of one length, got shapes {start.shape} and {end.shape}")
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(end))):
        raise ValueError("t_start and t_end must be finite")
    if np.any(end < start):
        raise ValueError(f"t_end must be >= t_start; {int(np.sum(end < start))} window(s) end before they start")
    return start, end
