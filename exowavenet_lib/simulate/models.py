"""Parametric light-curve shapes used by the simulators."""

from __future__ import annotations

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
