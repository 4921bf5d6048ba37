"""Box Least Squares (BLS) baseline for the transit detector: astropy ``BoxLeastSquares`` on windows and light curves.

BLS is the matched filter for a box-shaped dip in white noise (Kovács et al. 2002): it folds the flux at each trial
period and finds the phase and duration whose in-transit mean is lowest relative to the out-of-transit mean. Its
signal-to-noise ratio is ``depth / σ_depth ≈ (depth / σ) · √n_in`` — the same SNR the simulator injects
(:func:`~exowavenet_lib.simulate.transits.transit_snr`).

* :func:`bls_window_scores` scores the detector's own :class:`~exowavenet_lib.transit.preprocess.Windows` (already
  normalised, detrended by the transit-preserving local polynomial, clipped and standardised by the point-to-point
  σ), so BLS and ExoWaveNet see exactly the same samples; invalid (masked) samples are ignored. The period grid
  reaches the window's span, so a single transit inside a window is found too.
* :func:`bls_search` runs a period search on a whole light curve (by default after the detector's preprocessing,
  :func:`~exowavenet_lib.transit.preprocess.prepare`) and returns the best period, mid-transit time, duration, depth
  and SNR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from exowavenet_lib.lightcurves import LightCurve
from exowavenet_lib.transit.preprocess import KEPLER_CADENCE_DAYS, Windows, prepare, robust_sigma

__all__ = ["DEFAULT_DURATION_CADENCES", "OBJECTIVES", "bls_period_grid", "bls_search", "bls_window_scores"]

#: Objectives of astropy's BLS: ``"snr"`` (depth / its uncertainty) or ``"likelihood"`` (Δ log-likelihood).
OBJECTIVES = ("snr", "likelihood")
#: Default trial durations, in cadences: 0.5–7.8 h at Kepler long cadence (the simulator's transits last 0.5–7.4 h).
DEFAULT_DURATION_CADENCES = (1, 2, 3, 4, 6, 8, 12, 16)
_MIN_VALID = 16  # fewer valid samples than this: no search, score 0


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _objective(objective: Any) -> str:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    return objective


def _durations(durations: Sequence[float] | None, cadence_days: float, minimum_period: float) -> np.ndarray:
    if durations is None:
        d = cadence_days * np.asarray(DEFAULT_DURATION_CADENCES, dtype=float)
    else:
        try:
            d = np.atleast_1d(np.asarray(durations, dtype=float))
        except (TypeError, ValueError) as err:
            raise TypeError(f"durations must be a sequence of numbers (days), got {durations!r}") from err
        if d.ndim != 1 or len(d) == 0:
            raise ValueError(f"durations must be a non-empty 1-D sequence of days, got {durations!r}")
        if not np.all(np.isfinite(d) & (d > 0)):
            raise ValueError(f"durations must be finite and > 0 (days), got {durations!r}")
    d = np.unique(d)
    if d.max() >= minimum_period:
        raise ValueError(f"durations must be shorter than minimum_period ({minimum_period} d); longest {d.max()} d")
    return d


def bls_period_grid(span_days: float, minimum_period: float, maximum_period: float, min_duration: float,
                    frequency_factor: float = 1.0) -> np.ndarray:
    """Trial periods (days), uniform in log-period with step ``frequency_factor · min_duration / span_days``.

    Between neighbouring trial periods, the transits at the two ends of the baseline drift apart by
    ``span · Δln P`` — at most ``frequency_factor`` × the shortest trial duration — whatever the period; a grid
    uniform in frequency with the same guarantee at the shortest period would be ``span / P_min`` times denser.
    """
    span_days, min_duration = _positive("span_days", span_days), _positive("min_duration", min_duration)
    minimum_period, maximum_period = _positive("minimum_period", minimum_period), _positive("maximum_period",
                                                                                             maximum_period)
    frequency_factor = _positive("frequency_factor", frequency_factor)
    if maximum_period <= minimum_period:
        raise ValueError(f"maximum_period ({maximum_period}) must exceed minimum_period ({minimum_period})")
    step = frequency_factor * min_duration / span_days
    n = max(2, int(math.ceil(math.log(maximum_period / minimum_period) / step)) + 1)
    return np.exp(np.linspace(math.log(minimum_period), math.log(maximum_period), n))


def bls_window_scores(
    windows: Windows,
    *,
    durations: Sequence[float] | None = None,
    cadence_days: float = KEPLER_CADENCE_DAYS,
    objective: str = "snr",
    minimum_period: float = 0.5,
    frequency_factor: float = 1.0,
    oversample: int = 3,
) -> np.ndarray:
    """One BLS detection statistic per window (higher = more transit-like): the periodogram's maximum.

    Parameters
    ----------
    windows : Windows
        The detector's windows (:meth:`TransitDetector.windows` or :func:`~exowavenet_lib.transit.preprocess.segment`):
        standardised flux, σ ≈ 1 per sample; only samples with ``mask`` True are used.
    durations : sequence of float, optional
        Trial durations (days); default :data:`DEFAULT_DURATION_CADENCES` × ``cadence_days``.
    cadence_days : float
        Grid spacing of the windows (days).
    objective : {"snr", "likelihood"}
        ``"snr"``: depth / its uncertainty with unit per-sample σ, i.e. ``depth/σ · √(n_in n_out / (n_in + n_out))``;
        ``"likelihood"``: the log-likelihood gain of the box model (∝ SNR²).
    minimum_period : float
        Shortest trial period (days); the longest is the window's span, so single transits count.
    frequency_factor : float
        Coarseness of the period grid (:func:`bls_period_grid`; 1 = drift of one shortest duration end to end).
    oversample : int
        Phase bins per shortest duration (astropy's ``oversample``).

    Returns
    -------
    numpy.ndarray
        ``(len(windows),)`` float64; 0 for a window with fewer than 16 valid samples.
    """
    if not isinstance(windows, Windows):
        raise TypeError(f"windows must be a Windows, got {type(windows).__name__}")
    from astropy.timeseries import BoxLeastSquares

    cadence_days = _positive("cadence_days", cadence_days)
    objective = _objective(objective)
    minimum_period = _positive("minimum_period", minimum_period)
    if isinstance(oversample, bool) or not isinstance(oversample, int) or oversample < 1:
        raise ValueError(f"oversample must be a positive integer, got {oversample!r}")
    d = _durations(durations, cadence_days, minimum_period)
    span = windows.x.shape[1] * cadence_days
    if span <= minimum_period:
        raise ValueError(f"windows span {span:.3g} d, not more than minimum_period ({minimum_period} d)")
    periods = bls_period_grid(span, minimum_period, span, float(d.min()), frequency_factor)
    scores = np.zeros(len(windows))
    for i in range(len(windows)):
        valid = windows.mask[i]
        if valid.sum() < _MIN_VALID:
            continue
        t = windows.t[i, valid].astype(float)
        y = windows.x[i, valid].astype(float)
        model = BoxLeastSquares(t - t[0], y, dy=np.ones_like(y))
        result = model.power(periods, d, objective=objective, oversample=oversample)
        power = np.asarray(result.power, dtype=float)
        scores[i] = float(np.nanmax(power)) if np.isfinite(power).any() else 0.0
    return scores


def bls_search(
    lc: LightCurve,
    *,
    durations: Sequence[float] | None = None,
    period_range: tuple[float, float] | None = None,
    minimum_n_transit: int = 2,
    objective: str = "snr",
    frequency_factor: float = 1.0,
    oversample: int = 5,
    preprocess: bool = True,
    cadence_days: float = KEPLER_CADENCE_DAYS,
    **prepare_kwargs: Any,
) -> dict[str, float]:
    """BLS period search on a whole light curve; returns the strongest box-shaped dip.

    Parameters
    ----------
    lc : LightCurve
        Single-band light curve (any flux unit when ``preprocess`` is True).
    durations : sequence of float, optional
        Trial durations (days); default :data:`DEFAULT_DURATION_CADENCES` × ``cadence_days``.
    period_range : (float, float), optional
        Trial periods (days); default from 0.5 d to the time span / ``minimum_n_transit``.
    minimum_n_transit : int
        Transits that the longest default period must fit in the span (1 allows a single transit).
    objective, frequency_factor, oversample
        As in :func:`bls_window_scores`.
    preprocess : bool
        First run the detector's preprocessing, :func:`~exowavenet_lib.transit.preprocess.prepare` (normalise,
        transit-preserving detrend, clip), with ``prepare_kwargs`` (``method``, ``window_days``, ``clip_sigma``);
        when False, ``lc.flux`` must already be relative flux around 1.

    Returns
    -------
    dict
        ``period`` (d), ``t0`` (MJD of a mid-transit), ``duration`` (d), ``depth`` (relative flux), ``snr`` (depth /
        its uncertainty, σ per point from the point-to-point scatter), ``power`` (the objective at the peak),
        ``log_likelihood`` and ``n_periods`` (size of the grid).
    """
    if not isinstance(lc, LightCurve):
        raise TypeError(f"lc must be a LightCurve, got {type(lc).__name__}")
    from astropy.timeseries import BoxLeastSquares

    objective = _objective(objective)
    cadence_days = _positive("cadence_days", cadence_days)
    if isinstance(minimum_n_transit, bool) or not isinstance(minimum_n_transit, int) or minimum_n_transit < 1:
        raise ValueError(f"minimum_n_transit must be a positive integer, got {minimum_n_transit!r}")
    if isinstance(oversample, bool) or not isinstance(oversample, int) or oversample < 1:
        raise ValueError(f"oversample must be a positive integer, got {oversample!r}")
    if len(lc) < _MIN_VALID:
        raise ValueError(f"lc has {len(lc)} points; BLS needs at least {_MIN_VALID}")
    flat = prepare(lc, **prepare_kwargs) if preprocess else lc
    t, y = np.asarray(flat.mjd, dtype=float), np.asarray(flat.flux, dtype=float)
    span = float(t[-1] - t[0])
    if period_range is None:
        period_range = (0.5, span / minimum_n_transit)
    if isinstance(period_range, (str, bytes)) or not isinstance(period_range, Sequence) or len(period_range) != 2:
        raise ValueError(f"period_range must be a (low, high) pair of days, got {period_range!r}")
    low, high = (_positive("period_range", p) for p in period_range)
    if high <= low:
        raise ValueError(f"period_range must have low < high, got {period_range!r}")
    d = _durations(durations, cadence_days, low)
    periods = bls_period_grid(span, low, high, float(d.min()), frequency_factor)
    sigma = robust_sigma(y) or float(np.std(y)) or 1.0
    model = BoxLeastSquares(t, y, dy=np.full_like(y, sigma))
    result = model.power(periods, d, objective=objective, oversample=oversample)
    k = int(np.nanargmax(np.asarray(result.power, dtype=float)))
    return {
        "period": float(result.period[k]), "t0": float(result.transit_time[k]), "duration": float(result.duration[k]),
        "depth": float(result.depth[k]), "snr": float(result.depth_snr[k]), "power": float(result.power[k]),
        "log_likelihood": float(result.log_likelihood[k]), "n_periods": len(periods),
    }
