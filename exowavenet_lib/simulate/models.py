"""Parametric light-curve shapes used by the simulators."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


def bazin(
    t: ArrayLike,
    amplitude: float,
    t0: float,
    tau_rise: float,
    tau_fall: float,
    baseline: float = 0.0,
) -> np.ndarray:
    """Bazin et al. (2009) flux model ``A exp(-(t-t0)/tau_fall) / (1 + exp(-(t-t0)/tau_rise)) + B``.

    The flux peaks at ``t0 + tau_rise * ln(tau_fall / tau_rise - 1)`` when ``tau_fall > tau_rise``.
    Evaluated in a numerically stable form, so times far from ``t0`` give 0 rather than overflow.
    """
    if tau_rise <= 0 or tau_fall <= 0:
        raise ValueError(f"tau_rise and tau_fall must be > 0 days, got {tau_rise}, {tau_fall}")
    x = np.asarray(t, dtype=float) - t0
    if not np.all(np.isfinite(x)):
        raise ValueError("t contains NaN or infinite values")
    # A e^{-x/τf} / (1 + e^{-x/τr}) = A exp(-x/τf - log(1 + e^{-x/τr})), with logaddexp for stability.
    return amplitude * np.exp(-x / tau_fall - np.logaddexp(0.0, -x / tau_rise)) + baseline


# ---------------------------------------------------------------------------------------------------------------------
# Array-parameter shapes for the population simulators: every parameter may be an array broadcast against ``t``.
# Each ``*_unit`` shape is normalised to 1 at its maximum, at ``t_peak``.


def _log_bazin(x: np.ndarray, tau_rise: ArrayLike, tau_fall: ArrayLike) -> np.ndarray:
    """``log[e^{-x/τf} / (1 + e^{-x/τr})]``, stable for any ``x``."""
    return -x / tau_fall - np.logaddexp(0.0, -x / tau_rise)


def bazin_peak_offset(tau_rise: ArrayLike, tau_fall: ArrayLike) -> np.ndarray:
    """Time from the Bazin ``t0`` to its maximum, ``τr ln(τf/τr − 1)`` (needs ``τf > τr``; negative when τf < 2τr)."""
    tau_rise, tau_fall = np.asarray(tau_rise, dtype=float), np.asarray(tau_fall, dtype=float)
    if np.any(tau_rise <= 0) or np.any(tau_fall <= tau_rise):
        raise ValueError("Bazin time scales need 0 < tau_rise < tau_fall for a maximum")
    return tau_rise * np.log(tau_fall / tau_rise - 1.0)


def bazin_unit(t: ArrayLike, t_peak: ArrayLike, tau_rise: ArrayLike, tau_fall: ArrayLike) -> np.ndarray:
    """The :func:`bazin` shape with its maximum (of 1) placed at ``t_peak``; parameters may be arrays."""
    offset = bazin_peak_offset(tau_rise, tau_fall)
    x = np.asarray(t, dtype=float) - t_peak + offset
    return np.exp(_log_bazin(x, tau_rise, tau_fall) - _log_bazin(offset, tau_rise, tau_fall))


def _bisect(func: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, iterations: int) -> np.ndarray:
    """Root of a function increasing from ``lo`` to ``hi``, element-wise, by bisection."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = func(mid) > 0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


@functools.cache
def _bazin_half_max_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-max rise and fade of the Bazin shape in units of ``τr``, on a grid of ``k = τf/τr``."""
    k = np.geomspace(1.0 + 1e-3, 1e4, 4000)
    x_peak = np.log(k - 1.0)
    half = _log_bazin(x_peak, 1.0, k) - np.log(2.0)
    # The log-flux climbs at most (1 - 1/k) per τr on the rise and falls at 1/k per τr late in the decline.
    x_rise = _bisect(lambda x: _log_bazin(x, 1.0, k) - half, x_peak - 40.0 - 40.0 / (1.0 - 1.0 / k), x_peak, 80)
    x_fade = _bisect(lambda x: half - _log_bazin(x, 1.0, k), x_peak, x_peak + 40.0 * k + 40.0, 80)
    return k, x_peak - x_rise, x_fade - x_peak


def bazin_time_scales(rise: ArrayLike, fade: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Bazin ``(tau_rise, tau_fall)`` whose half-max → peak rise and peak → half-max fade are ``rise`` and ``fade``.

    Parameters
    ----------
    rise, fade : array-like of float
        Half-max rise and fade times (days, > 0). Every ratio ``rise / fade`` between about 0.002 and 100 is
        reachable (outside, the nearest is used).

    Returns
    -------
    tau_rise, tau_fall : ndarray
        Time scales (days) for :func:`bazin` or :func:`bazin_unit`, ``tau_fall > tau_rise``.
    """
    rise, fade = np.asarray(rise, dtype=float), np.asarray(fade, dtype=float)
    if not (np.all(np.isfinite(rise) & (rise > 0)) and np.all(np.isfinite(fade) & (fade > 0))):
        raise ValueError("rise and fade must be finite and > 0 days")
    k, rise_unit, fade_unit = _bazin_half_max_table()
    ratio = rise_unit / fade_unit  # decreases as k grows
    k_used = np.interp(np.log(rise / fade), np.log(ratio[::-1]), k[::-1])
    tau_rise = rise / np.interp(k_used, k, rise_unit)
    return tau_rise, k_used * tau_rise


def villar(
    t: ArrayLike,
    amplitude: ArrayLike,
    t0: ArrayLike,
    gamma: ArrayLike,
    beta: ArrayLike,
    tau_rise: ArrayLike,
    tau_fall: ArrayLike,
) -> np.ndarray:
    """Villar et al. (2019) plateau model in the ALeRCE parametrisation (Sánchez-Sáez et al. 2021).

    ``A (1 − β (t−t0)/γ) / (1 + e^{−(t−t0)/τr})`` before ``t0 + γ``, then
    ``A (1 − β) e^{−(t−t0−γ)/τf} / (1 + e^{−(t−t0)/τr})``; continuous at ``t0 + γ``.

    Parameters
    ----------
    t : array-like of float
        Times (days).
    amplitude, t0 : array-like of float
        Plateau flux scale and the time of half the logistic rise.
    gamma, beta : array-like of float
        Plateau length (days from ``t0``) and the fraction of flux it loses over that time (0-1).
    tau_rise, tau_fall : array-like of float
        Rise time scale and the e-folding time of the drop after the plateau (days).
        All parameters broadcast against ``t``.
    """
    x = np.asarray(t, dtype=float) - t0
    rise = np.exp(-np.logaddexp(0.0, -x / tau_rise))
    plateau = 1.0 - beta * x / gamma
    tail = (1.0 - beta) * np.exp(-np.clip(x - gamma, 0.0, None) / tau_fall)
    return amplitude * np.where(x < gamma, plateau, tail) * rise


def tde_unit(t: ArrayLike, t_peak: ArrayLike, sigma_rise: ArrayLike, t0_fall: ArrayLike,
             index: float = 5.0 / 3.0) -> np.ndarray:
    """TDE shape of van Velzen et al. (2021): Gaussian rise, then ``((t − t_peak + t0)/t0)^(−5/3)``; 1 at ``t_peak``.

    Parameters
    ----------
    t, t_peak : array-like of float
        Times and the time of peak (days).
    sigma_rise : array-like of float
        Width of the Gaussian rise (days): the half-max rise is ``σ √(2 ln 2)``.
    t0_fall : array-like of float
        Scale of the power-law decline (days): the half-max fade is ``t0 (2^{1/index} − 1)``.
    index : float
        Power-law index of the decline (5/3 for fallback accretion).
    """
    dt = np.asarray(t, dtype=float) - t_peak
    rise = np.exp(-0.5 * (np.minimum(dt, 0.0) / sigma_rise) ** 2)
    decline = (1.0 + np.maximum(dt, 0.0) / t0_fall) ** (-index)
    return np.where(dt < 0, rise, decline)


def colour_evolution(dt: ArrayLike, colour_peak: ArrayLike, change: ArrayLike, timescale: ArrayLike,
                     power: ArrayLike = 1.0) -> np.ndarray:
    """A colour (e.g. g − r) that is ``colour_peak`` until peak, then moves by ``change`` as ``1 − e^{−(dt/τ)^p}``.

    Parameters
    ----------
    dt : array-like of float
        Time since peak (days).
    colour_peak, change : array-like of float
        Colour at peak and its total change long after (mag).
    timescale, power : array-like of float
        ``τ`` (days) and ``p``: ``p = 1`` changes at once after peak (SN II), ``p = 2`` stays put a few days first
        (SN Ia).
    """
    x = np.maximum(np.asarray(dt, dtype=float), 0.0) / timescale
    return colour_peak + change * -np.expm1(-(x**power))


def dwarf_nova_outburst(dt: ArrayLike, amplitude: ArrayLike, t_rise: ArrayLike, t_plateau: ArrayLike,
                        plateau_decline: ArrayLike, decline_days_per_mag: ArrayLike) -> np.ndarray:
    """Brightening (magnitudes above quiescence, >= 0) of a dwarf-nova outburst ``dt`` days after its onset.

    Linear in magnitude: a rise to ``amplitude``, a top that fades slowly, then the final decline to quiescence.

    Parameters
    ----------
    dt : array-like of float
        Time since the onset (days); 0 before it.
    amplitude : array-like of float
        Outburst amplitude (mag).
    t_rise, t_plateau : array-like of float
        Duration of the rise and of the top (days; 1-2 weeks for an SU UMa superoutburst).
    plateau_decline : array-like of float
        Fading along the top (mag/d; about 0.1 on a superoutburst plateau).
    decline_days_per_mag : array-like of float
        Final decline (d/mag; Bailey's relation, ~1-3).
    """
    dt = np.asarray(dt, dtype=float)
    after_top = np.maximum(dt - t_rise - t_plateau, 0.0)
    top = amplitude - plateau_decline * np.clip(dt - t_rise, 0.0, t_plateau)
    bright = np.where(dt < t_rise, amplitude * dt / t_rise, top - after_top / decline_days_per_mag)
    return np.where(dt < 0, 0.0, np.maximum(bright, 0.0))


def peak_time(shape: Callable[[np.ndarray], np.ndarray], lo: ArrayLike, hi: ArrayLike,
              iterations: int = 40) -> np.ndarray:
    """Time of maximum of a unimodal ``shape`` by golden-section search, element-wise.

    Parameters
    ----------
    shape : callable
        Maps an array of times (one per element of ``lo``) to the values of as many shapes.
    lo, hi : array-like of float
        Search interval of each shape.
    iterations : int
        Each shrinks the interval by 0.618.
    """
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    inv_phi = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(iterations):
        a, b = hi - inv_phi * (hi - lo), lo + inv_phi * (hi - lo)
        left_higher = shape(a) > shape(b)
        hi = np.where(left_higher, b, hi)
        lo = np.where(left_higher, lo, a)
    return 0.5 * (lo + hi)


def level_crossings(shape: Callable[[np.ndarray], np.ndarray], t_peak: ArrayLike, level: float = 0.5, *,
                    before: float = 400.0, after: float = 2000.0) -> tuple[np.ndarray, np.ndarray]:
    """Times before and after ``t_peak`` where a unimodal ``shape`` crosses ``level`` times its peak value.

    Parameters
    ----------
    shape : callable
        Maps an array of times (one per element of ``t_peak``) to the values of as many shapes.
    t_peak : array-like of float
        Time of each shape's maximum.
    level : float
        Fraction of the peak, in (0, 1); half-max rise and fade are ``t_peak − first`` and ``last − t_peak``.
    before, after : float
        Search range (days); a crossing not reached there is returned as the search limit.

    Returns
    -------
    first, last : ndarray
        The crossing times on the rise and on the decline.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    t_peak = np.asarray(t_peak, dtype=float)
    target = level * shape(t_peak)
    first = _bisect(lambda t: shape(t) - target, t_peak - before, t_peak, 40)
    last = _bisect(lambda t: target - shape(t), t_peak, t_peak + after, 40)
    return first, last
