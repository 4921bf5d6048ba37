"""Injection–recovery: recall at a fixed false-positive rate against transit SNR, for ExoWaveNet and BLS.

The experiment of :func:`injection_recovery`, for one noise kind:

* **Negatives** — light curves of exactly one window (``window`` Kepler long cadences before gaps) without a transit,
  simulated by :func:`~exowavenet_lib.simulate.transits.simulate_transits` with that noise kind.
* **Positives** — for each SNR value, light curves of the same length and noise kind with one injected planet (at
  least two transits, the simulator's trapezoid limb-darkened shape) whose depth is solved from
  ``SNR = (depth / σ) · √n_in_transit`` with ``σ`` the white noise per cadence and ``n_in_transit`` the observed
  in-transit cadences. Because each light curve *is* one window, this is the SNR **inside the scored window**
  (the simulator's own ``snr`` is over the whole light curve, usually much longer than a window); the table's
  ``snr_window_median`` recomputes it from the in-transit samples that survive preprocessing. All SNR values use
  the same seed, so the same stars and planets recur with deeper transits (a paired design).
* Every light curve goes through the detector's preprocessing (:func:`~exowavenet_lib.transit.preprocess.prepare`:
  normalise, transit-preserving polynomial detrend, clip) and :func:`~exowavenet_lib.transit.preprocess.segment`;
  ExoWaveNet (window logit) and BLS (:func:`~exowavenet_lib.transit.bls.bls_window_scores`) score the *same*
  windows.
* Each method's threshold is set on its own negatives at the requested false-positive rate
  (:func:`threshold_at_fpr`); recall is the fraction of positives scoring above it. Nothing is tuned on the
  positives.

Noise kinds (:data:`NOISE_KINDS`): ``"white"`` — white Gaussian noise only (Kepler-like gaps kept: they are the
observing window, not noise); ``"variable"`` — the simulator's full realism: instrumental red noise and post-gap
ramps, stellar rotation and granulation, outliers and flares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from exowavenet_lib.transit.preprocess import Windows, concat_windows, prepare, segment

if TYPE_CHECKING:  # torch stays out of this module's import
    from matplotlib.axes import Axes

    from exowavenet_lib.transit.detector import TransitDetector

__all__ = [
    "METHODS",
    "NOISE_KINDS",
    "injection_recovery",
    "make_injection_windows",
    "plot_injection_recovery",
    "recall_at_fpr",
    "threshold_at_fpr",
    "wilson_interval",
]

#: Simulator switches of each noise kind (gaps are on in both).
NOISE_KINDS: dict[str, dict[str, bool]] = {
    "white": {"red_noise": False, "variability": False, "outliers": False},
    "variable": {"red_noise": True, "variability": True, "outliers": True},
}
METHODS = ("ExoWaveNet", "BLS")
_MIN_WINDOW = 128


def _scores(name: str, values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf" or arr.dtype == bool:
        raise TypeError(f"{name} must be numeric scores, got values of dtype {arr.dtype}")
    arr = arr.astype(float)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite scores")
    return arr


def _fpr(fpr: Any) -> float:
    if isinstance(fpr, bool) or not isinstance(fpr, Real) or not 0 < float(fpr) < 1:
        raise ValueError(f"fpr must be a number in (0, 1), got {fpr!r}")
    return float(fpr)


def threshold_at_fpr(neg_scores: ArrayLike, fpr: float = 0.01) -> float:
    """The (1 − ``fpr``) empirical quantile of the negatives: at most ⌊fpr · n⌋ of them score strictly above it."""
    neg = np.sort(_scores("neg_scores", neg_scores))
    allowed = int(math.floor(_fpr(fpr) * len(neg) + 1e-9))
    return float(neg[len(neg) - 1 - allowed])


def recall_at_fpr(neg_scores: ArrayLike, pos_scores: ArrayLike, fpr: float = 0.01) -> float:
    """Fraction of ``pos_scores`` strictly above the threshold that lets through ``fpr`` of ``neg_scores``.

    The threshold is :func:`threshold_at_fpr` (from the negatives only); ties with it count as not detected, so a
    scorer that gives every window the same score has recall 0.
    """
    threshold = threshold_at_fpr(neg_scores, fpr)
    return float(np.mean(_scores("pos_scores", pos_scores) > threshold))


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (95 % for ``z = 1.96``)."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def make_injection_windows(
    n: int, *, noise: str = "white", snr: float | None = None, window: int = 1024, seed: int = 0,
    detrend_method: str = "polynomial", detrend_window_days: float = 1.5, clip_sigma: float = 5.0,
) -> tuple[Windows, pd.DataFrame]:
    """``n`` one-window light curves of a noise kind, preprocessed like the detector's input, and their parameters.

    ``snr=None`` gives negatives (no transit); a number gives one planet per window at that per-window SNR. The
    returned table is :func:`simulate_transits`'s ``params`` plus ``snr_window`` (``depth/σ · √n``, with ``n`` the
    valid in-transit samples of the window after preprocessing; 0 for negatives).
    """
    from exowavenet_lib.simulate.transits import simulate_transits

    if noise not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {list(NOISE_KINDS)}, got {noise!r}")
    n = _positive_int("n", n)
    window = _positive_int("window", window, _MIN_WINDOW)
    if snr is not None and (isinstance(snr, bool) or not isinstance(snr, Real) or not float(snr) > 0):
        raise ValueError(f"snr must be a number > 0 or None, got {snr!r}")
    has_planet = snr is not None
    sim = simulate_transits(
        n, seed=seed, mission="kepler", n_cadences=window, transit_fraction=1.0 if has_planet else 0.0,
        snr_range=(float(snr), float(snr)) if has_planet else (7.0, 30.0), **NOISE_KINDS[noise],
    )
    parts = []
    for i, (lc, mask) in enumerate(zip(sim.lightcurves, sim.masks, strict=True)):
        flat, m = prepare(lc, method=detrend_method, window_days=detrend_window_days, clip_sigma=clip_sigma,
                          in_transit=mask)
        w = segment(flat, window, window, in_transit=m, source=i)
        parts.append(w.subset(np.array([0])))  # the light curve spans at most one window
    windows = concat_windows(parts)
    params = sim.params.copy()
    n_in = windows.labels.sum(axis=1)
    depth = params["depth"].to_numpy(dtype=float)
    params["snr_window"] = np.where(n_in > 0, np.nan_to_num(depth) / (params["noise_ppm"] * 1e-6) * np.sqrt(n_in),
                                    0.0)
    return windows, params


def _network_scores(detector: TransitDetector, windows: Windows, batch_size: int = 64) -> np.ndarray:
    """Window logits (ranking-equivalent to the detector's probabilities, without float32 saturation at 1)."""
    import torch

    model = detector.model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            x = torch.from_numpy(windows.x[i:i + batch_size])
            mask = torch.from_numpy(windows.mask[i:i + batch_size])
            res = model(x, mask)
            if "logit" in res:
                out.append(res["logit"].double().numpy())
            else:  # segmentation-only model: the most transit-like valid sample, as TransitDetector does
                per = res["per_sample"].double().masked_fill(~mask, -math.inf)
                out.append(torch.where(mask.any(-1), per.amax(-1), torch.zeros(())).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def injection_recovery(
    detector: TransitDetector,
    *,
    snr_values: Sequence[float],
    n_per_snr: int,
    noise: str = "white",
    window: int = 1024,
    seed: int = 0,
    include_bls: bool = True,
    n_negatives: int | None = None,
    fpr: float = 0.01,
    bls_kwargs: dict[str, Any] | None = None,
    return_scores: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Recall at a fixed false-positive rate against per-window SNR for ExoWaveNet (and BLS); see the module docstring.

    Parameters
    ----------
    detector : TransitDetector
        Scores windows with its model's window logit; its preprocessing settings build the windows.
    snr_values : sequence of float
        Per-window SNRs ``(depth / σ) · √n_in_transit`` to inject (each > 0).
    n_per_snr : int
        Positive windows per SNR value.
    noise : {"white", "variable"}
        Noise kind of both negatives and positives (:data:`NOISE_KINDS`).
    window : int
        Window length in cadences (>= 128).
    seed : int
        Seeds the negatives and the positives (different streams).
    include_bls : bool
        Also score the windows with BLS (:func:`~exowavenet_lib.transit.bls.bls_window_scores`).
    n_negatives : int, optional
        Negative windows; default ``max(500, n_per_snr · len(snr_values))``. The threshold at ``fpr`` needs
        ``n_negatives · fpr`` of them above it to be stable (500 at 1 % gives 5).
    fpr : float
        False-positive rate at which each method's threshold is set on its own negatives.
    bls_kwargs : dict, optional
        Extra arguments of :func:`bls_window_scores` (durations, frequency_factor, …).
    return_scores : bool
        Also return the raw scores ``{method: {"negatives": (n_neg,), "positives": (n_snr, n_per_snr)}}``.

    Returns
    -------
    pandas.DataFrame
        One row per method and SNR: ``method, noise, snr, recall, fpr`` (achieved on the negatives), ``threshold,
        n`` (positives), ``n_negatives, recall_low, recall_high`` (95 % Wilson interval) and ``snr_window_median``.
    """
    from exowavenet_lib.transit.bls import bls_window_scores
    from exowavenet_lib.transit.detector import TransitDetector

    if not isinstance(detector, TransitDetector):
        raise TypeError(f"detector must be a TransitDetector, got {type(detector).__name__}")
    if noise not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {list(NOISE_KINDS)}, got {noise!r}")
    if isinstance(snr_values, (str, bytes)) or not isinstance(snr_values, Sequence) or len(snr_values) == 0:
        raise ValueError(f"snr_values must be a non-empty sequence of numbers, got {snr_values!r}")
    for value in snr_values:
        if isinstance(value, bool) or not isinstance(value, Real) or not float(value) > 0:
            raise ValueError(f"snr_values must all be numbers > 0, got {value!r}")
    n_per_snr = _positive_int("n_per_snr", n_per_snr)
    window = _positive_int("window", window, _MIN_WINDOW)
    seed = _positive_int("seed", seed, 0)
    fpr = _fpr(fpr)
    n_negatives = max(500, n_per_snr * len(snr_values)) if n_negatives is None else _positive_int(
        "n_negatives", n_negatives)
    prep = {"detrend_method": detector.detrend_method, "detrend_window_days": detector.detrend_window_days,
            "clip_sigma": detector.clip_sigma}
    neg_seed, pos_seed = (int(s) for s in np.random.SeedSequence([seed, list(NOISE_KINDS).index(noise)])
                          .generate_state(2) % (2**31))
    neg_w, _ = make_injection_windows(n_negatives, noise=noise, window=window, seed=neg_seed, **prep)
    pos = [make_injection_windows(n_per_snr, noise=noise, snr=float(s), window=window, seed=pos_seed, **prep)
           for s in snr_values]

    scorers = {"ExoWaveNet": lambda w: _network_scores(detector, w)}
    if include_bls:
        kwargs = {"cadence_days": detector.cadence_days, **(bls_kwargs or {})}
        scorers["BLS"] = lambda w: bls_window_scores(w, **kwargs)
    rows, raw = [], {}
    for method, score in scorers.items():
        neg = score(neg_w)
        threshold = threshold_at_fpr(neg, fpr)
        pos_scores = np.stack([score(w) for w, _ in pos])
        raw[method] = {"negatives": neg, "positives": pos_scores}
        for s, (_, params), ps in zip(snr_values, pos, pos_scores, strict=True):
            k = int(np.sum(ps > threshold))
            low, high = wilson_interval(k, len(ps))
            rows.append({
                "method": method, "noise": noise, "snr": float(s), "recall": k / len(ps),
                "fpr": float(np.mean(neg > threshold)), "threshold": threshold, "n": len(ps),
                "n_negatives": len(neg), "recall_low": low, "recall_high": high,
                "snr_window_median": float(np.median(params["snr_window"])),
            })
    df = pd.DataFrame(rows)
    return (df, raw) if return_scores else df


def plot_injection_recovery(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Recall against per-window SNR, one line per method and noise kind, with 95 % Wilson intervals."""
    import matplotlib.pyplot as plt

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a DataFrame from injection_recovery, got {type(df).__name__}")
    missing = sorted({"method", "noise", "snr", "recall"} - set(df.columns))
    if missing:
        raise ValueError(f"df lacks column(s) {missing}; pass the output of injection_recovery")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 4.0))
    styles = {"white": "-", "variable": "--"}
    colours = {"ExoWaveNet": "C0", "BLS": "C1"}
    for (method, noise), part in df.groupby(["method", "noise"], sort=False):
        part = part.sort_values("snr")
        kw = {"color": colours.get(method), "linestyle": styles.get(noise, ":"), "marker": "o",
              "label": f"{method}, {noise} noise"}
        if {"recall_low", "recall_high"} <= set(part.columns):
            err = np.vstack([part["recall"] - part["recall_low"], part["recall_high"] - part["recall"]])
            ax.errorbar(part["snr"], part["recall"], yerr=np.clip(err, 0, None), capsize=3, **kw)
        else:
            ax.plot(part["snr"], part["recall"], **kw)
    ax.set_xlabel("injected transit SNR in the window, (depth/σ)·√n_in (dimensionless)")
    ax.set_ylabel("recall at fixed false-positive rate (fraction)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
