"""Preprocessing for the transit detector: normalise, detrend (transit-preserving), clip, grid and segment.

The pipeline of :func:`prepare` is ``normalize → detrend → clean``; :func:`segment` then puts the cadences on a
uniform grid at the mission cadence, standardises the flux by its white-noise level and cuts fixed-length sliding
windows, each with a per-sample validity mask (False in gaps and padding) and, when an in-transit mask is given
(e.g. from :func:`~exowavenet_lib.simulate.simulate_transits`), per-sample and per-window labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from exowavenet_lib.lightcurves import LightCurve

__all__ = [
    "KEPLER_CADENCE_DAYS",
    "Windows",
    "clean",
    "concat_windows",
    "detrend",
    "grid",
    "normalize",
    "prepare",
    "robust_sigma",
    "segment",
    "windows_around",
]

#: Kepler long cadence, 29.4244 min, in days.
KEPLER_CADENCE_DAYS = 29.4243814 / 1440.0
_CLIP = 20.0  # standardised flux is clipped to ±_CLIP σ


def robust_sigma(flux: ArrayLike) -> float:
    """White-noise σ per point from the point-to-point scatter (1.4826 · MAD of differences / √2)."""
    f = np.asarray(flux, dtype=float)
    if len(f) < 3:
        return float(np.std(f)) if len(f) > 1 else 0.0
    d = np.diff(f)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _single_band(lc: LightCurve) -> None:
    if not isinstance(lc, LightCurve):
        raise TypeError(f"expected a LightCurve, got {type(lc).__name__}")
    if len(lc.bands) != 1:
        raise ValueError(f"the transit pipeline needs a single-band light curve; this one has {lc.bands}")


def _with_flux(lc: LightCurve, flux: np.ndarray, err: np.ndarray, **meta: object) -> LightCurve:
    new = LightCurve(lc.mjd, flux, err, lc.band, meta=lc.meta)
    new.meta.update(meta)
    return new


def normalize(lc: LightCurve) -> LightCurve:
    """Divide flux and error by the median flux (median becomes 1)."""
    _single_band(lc)
    return lc.normalize("median")


def _running_nanmedian(values: np.ndarray, width: int) -> np.ndarray:
    """Centred running median over ``width`` points (odd), ignoring NaN; NaN where a window holds no value."""
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    windows = sliding_window_view(padded, width)
    out = np.full(len(values), np.nan)
    has = np.isfinite(windows).any(axis=1)
    if has.any():
        out[has] = np.nanmedian(windows[has], axis=1)
    return out


def _fill_nan(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    ok = np.isfinite(y)
    if ok.all():
        return y
    if not ok.any():
        return np.ones_like(y)
    return np.interp(t, t[ok], y[ok])


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    if k <= 0 or not mask.any():
        return mask
    padded = np.concatenate([np.zeros(k, bool), mask, np.zeros(k, bool)])
    return sliding_window_view(padded, 2 * k + 1).any(axis=1)


def _local_polynomial_trend(t: np.ndarray, f: np.ndarray, keep: np.ndarray, width: int, degree: int) -> np.ndarray:
    """Local (LOESS-like, box kernel) polynomial of ``degree`` fitted around every point to the kept points of
    its ``width``-point neighbourhood, evaluated at that point; vectorised as batched normal equations."""
    half = width // 2
    pad = np.full(half, np.nan)
    tw = sliding_window_view(np.concatenate([pad, t, pad]), width)
    fw = sliding_window_view(np.concatenate([pad, np.where(keep, f, np.nan), pad]), width)
    ok = np.isfinite(tw) & np.isfinite(fw)
    scale = max(float(np.median(np.diff(t))) * half, 1e-12) if len(t) > 1 else 1.0
    x = np.where(ok, (tw - t[:, None]) / scale, 0.0)
    y = np.where(ok, fw, 0.0)
    w = ok.astype(float)
    moments = np.empty((len(t), 2 * degree + 1))
    rhs = np.empty((len(t), degree + 1))
    xk = w.copy()  # w · x^k
    for k in range(2 * degree + 1):
        moments[:, k] = xk.sum(axis=1)
        if k <= degree:
            rhs[:, k] = (xk * y).sum(axis=1)
        xk *= x
    idx = np.arange(degree + 1)
    normal = moments[:, idx[:, None] + idx[None, :]]
    good = ok.sum(axis=1) >= max(3 * (degree + 1), width // 3)  # too few neighbours (edges, gaps): local mean
    trend = np.full(len(t), np.nan)
    if good.any():
        normal_g = normal[good] + 1e-9 * np.eye(degree + 1)
        trend[good] = np.linalg.solve(normal_g, rhs[good][..., None])[:, 0, 0]
    some = ~good & (ok.sum(axis=1) > 0)
    trend[some] = (w[some] * y[some]).sum(axis=1) / w[some].sum(axis=1)
    return trend


def detrend(
    lc: LightCurve,
    method: str = "polynomial",
    window_days: float = 1.5,
    *,
    n_sigma: float = 3.0,
    iterations: int = 3,
    degree: int = 2,
    return_trend: bool = False,
) -> LightCurve | tuple[LightCurve, np.ndarray]:
    """Divide out slow variability (rotation, instrumental drifts) while keeping transits intact.

    The trend is fitted iteratively: after each pass, points more than ``n_sigma`` σ below the trend (σ from the
    point-to-point scatter; and, symmetrically, outliers above) are masked, together with their neighbours (a
    ninth of the window on each side, for ingress/egress), and the trend is refitted to the rest. Transits
    therefore do not drag the trend down, and their depth survives the division.

    Parameters
    ----------
    lc : LightCurve
        Single-band, ideally normalised (median 1).
    method : {"polynomial", "median"}
        ``"median"``: running median over ``window_days`` (in cadences at the median spacing, NaN-aware so masked
        points are skipped); ``"polynomial"``: a local polynomial of ``degree`` (default 2) fitted by least squares
        to the kept points within ``window_days`` around each point (follows strong rotation with less bias than
        the median).
    window_days : float
        Trend time scale; make it at least ~3 × the longest transit duration you want to keep.
    return_trend : bool
        Also return the trend (in the light curve's flux units).
    """
    _single_band(lc)
    if method not in ("median", "polynomial"):
        raise ValueError(f"method must be 'median' or 'polynomial', got {method!r}")
    if not window_days > 0:
        raise ValueError(f"window_days must be > 0, got {window_days!r}")
    t, f = np.asarray(lc.mjd), np.asarray(lc.flux)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else KEPLER_CADENCE_DAYS
    width = max(3, int(round(window_days / dt)) | 1)
    sigma = robust_sigma(f) or 1e-12
    keep = np.ones(len(f), dtype=bool)
    trend = np.full(len(f), np.median(f))
    for _ in range(max(1, iterations)):
        if method == "median":
            trend = _fill_nan(t, _running_nanmedian(np.where(keep, f, np.nan), width))
        else:
            trend = _fill_nan(t, _local_polynomial_trend(t, f, keep, width, degree))
        resid = f - trend
        spread = max(sigma, float(1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep])))))
        bad = (resid < -n_sigma * spread) | (resid > 2 * n_sigma * spread)
        new_keep = ~_dilate(bad, max(1, width // 9))
        if new_keep.sum() < 0.5 * len(f):  # never mask most of the light curve
            break
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    trend = np.where(np.abs(trend) > 0, trend, np.median(f) or 1.0)
    out = _with_flux(lc, f / trend, np.asarray(lc.flux_err) / np.abs(trend), detrended=method)
    out.meta["flux_unit"] = "relative (detrended)"
    return (out, trend) if return_trend else out


def clean(lc: LightCurve, n_sigma: float = 5.0, window_days: float = 0.5) -> LightCurve:
    """Remove positive outliers (cosmic rays, flare peaks) more than ``n_sigma`` σ above a running median.

    Only upward excursions are clipped, so transits (downward) are kept. σ is the point-to-point scatter.
    """
    _single_band(lc)
    t, f = np.asarray(lc.mjd), np.asarray(lc.flux)
    if len(f) < 5:
        return lc
    dt = float(np.median(np.diff(t)))
    width = max(3, int(round(window_days / dt)) | 1)
    med = _running_nanmedian(f, width)
    resid = f - med
    sigma = robust_sigma(f) or 1e-12
    keep = resid <= n_sigma * sigma
    if keep.all() or not keep.any():
        return lc
    return lc[keep]


def prepare(
    lc: LightCurve, *, method: str = "polynomial", window_days: float = 1.5, clip_sigma: float = 5.0,
    in_transit: ArrayLike | None = None,
) -> LightCurve | tuple[LightCurve, np.ndarray]:
    """The detector's preprocessing: :func:`normalize` → :func:`detrend` → :func:`clean`.

    With ``in_transit`` (bool per cadence of ``lc``), also return the mask restricted to the cadences kept.
    """
    out = clean(detrend(normalize(lc), method=method, window_days=window_days), n_sigma=clip_sigma)
    if in_transit is None:
        return out
    mask = np.asarray(in_transit, dtype=bool)
    if mask.shape != (len(lc),):
        raise ValueError(f"in_transit has shape {mask.shape}, expected ({len(lc)},)")
    return out, np.isin(out.mjd, lc.mjd[mask])


# ------------------------------------------------------------------------------------------------ grid and windows
def grid(
    mjd: ArrayLike, flux: ArrayLike, cadence_days: float = KEPLER_CADENCE_DAYS, labels: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Put time-ordered samples on a uniform grid ``t0 + k · cadence``: ``(t, flux, valid, labels)``.

    Each sample goes to its nearest grid point (several are averaged); grid points with no sample are linearly
    interpolated from their neighbours and marked invalid. Labels (bool per input sample) are OR-ed per grid point.
    """
    t = np.asarray(mjd, dtype=float)
    f = np.asarray(flux, dtype=float)
    if len(t) == 0:
        raise ValueError("cannot grid an empty light curve")
    idx = np.round((t - t[0]) / cadence_days).astype(np.int64)
    n = int(idx[-1]) + 1
    count = np.bincount(idx, minlength=n)
    valid = count > 0
    sums = np.bincount(idx, weights=f, minlength=n)
    tg = t[0] + cadence_days * np.arange(n)
    fg = np.interp(tg, tg[valid], sums[valid] / count[valid])
    lab = np.zeros(n, dtype=bool)
    if labels is not None:
        lab_in = np.asarray(labels, dtype=bool)
        if lab_in.shape != t.shape:
            raise ValueError(f"labels has shape {lab_in.shape}, expected {t.shape}")
        lab = np.bincount(idx, weights=lab_in.astype(float), minlength=n) > 0
    return tg, fg, valid, lab


@dataclass
class Windows:
    """Fixed-length windows cut from one or more light curves (``n`` windows of ``length`` samples).

    ``x`` (n, L) float32 standardised flux ((flux − 1) / σ, 0 where invalid), ``mask`` (n, L) bool validity,
    ``t`` (n, L) float64 MJD of each sample (padding extrapolates the grid), ``labels`` (n, L) bool in-transit,
    ``y`` (n,) float32 window label (1 = contains an in-transit valid sample), ``start_mjd``/``end_mjd`` (n,) first
    and last grid time inside the light curve, ``source`` (n,) index of the light curve each window came from.
    """

    x: np.ndarray
    mask: np.ndarray
    t: np.ndarray
    labels: np.ndarray
    y: np.ndarray
    start_mjd: np.ndarray
    end_mjd: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index: ArrayLike) -> Windows:
        """The windows at ``index`` (int array or bool mask)."""
        return Windows(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})


def concat_windows(parts: Sequence[Windows]) -> Windows:
    """Concatenate window sets (``source`` is kept as is)."""
    if not parts:
        raise ValueError("nothing to concatenate")
    return Windows(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in Windows.__dataclass_fields__})


def _standardise(fg: np.ndarray, valid: np.ndarray) -> np.ndarray:
    ref = fg[valid]
    sigma = robust_sigma(ref) or float(np.std(ref)) or 1.0
    x = np.clip((fg - np.median(ref)) / sigma, -_CLIP, _CLIP)
    return np.where(valid, x, 0.0).astype(np.float32)


def _cut(starts: np.ndarray, window: int, tg: np.ndarray, xs: np.ndarray, valid: np.ndarray, lab: np.ndarray,
         cadence_days: float, min_in_transit: int, source: int) -> Windows:
    n = len(tg)
    idx = starts[:, None] + np.arange(window)[None, :]
    inside = (idx >= 0) & (idx < n)
    safe = np.clip(idx, 0, n - 1)
    mask = inside & valid[safe]
    labels = inside & lab[safe] & mask
    t = tg[0] + cadence_days * idx
    first = np.clip(starts, 0, n - 1)
    last = np.clip(starts + window - 1, 0, n - 1)
    return Windows(
        x=np.where(mask, xs[safe], 0.0).astype(np.float32), mask=mask, t=t, labels=labels,
        y=(labels.sum(axis=1) >= min_in_transit).astype(np.float32),
        start_mjd=tg[first], end_mjd=tg[last], source=np.full(len(starts), source, dtype=np.int64),
    )


def segment(
    lc: LightCurve,
    window: int = 1024,
    stride: int = 512,
    *,
    in_transit: ArrayLike | None = None,
    cadence_days: float = KEPLER_CADENCE_DAYS,
    min_in_transit: int = 1,
    source: int = 0,
) -> Windows:
    """Cut a (preprocessed) light curve into sliding windows of ``window`` grid samples every ``stride``.

    The cadences are put on a uniform grid (:func:`grid`), standardised by the point-to-point σ, and windows start
    at 0, stride, 2·stride, …; a last window ending at the final sample is added when the stride leaves a tail
    uncovered. A light curve shorter than a window gives one window, zero-padded and masked at the end.
    ``in_transit`` (bool per cadence of ``lc``, e.g. the simulator's mask) gives the labels; windows with at least
    ``min_in_transit`` valid in-transit samples get ``y = 1``.
    """
    _single_band(lc)
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window}, {stride}")
    tg, fg, valid, lab = grid(lc.mjd, lc.flux, cadence_days, in_transit)
    xs = _standardise(fg, valid)
    n = len(tg)
    if n <= window:
        starts = np.zeros(1, dtype=np.int64)
    else:
        starts = np.arange(0, n - window + 1, stride, dtype=np.int64)
        if starts[-1] + window < n:
            starts = np.append(starts, n - window)
    return _cut(starts, window, tg, xs, valid, lab, cadence_days, min_in_transit, source)


def windows_around(
    lc: LightCurve,
    epochs: ArrayLike,
    window: int = 1024,
    *,
    in_transit: ArrayLike | None = None,
    cadence_days: float = KEPLER_CADENCE_DAYS,
    min_in_transit: int = 1,
) -> Windows:
    """One window of ``window`` samples centred on each candidate epoch (MJD); out-of-range samples are masked."""
    _single_band(lc)
    tg, fg, valid, lab = grid(lc.mjd, lc.flux, cadence_days, in_transit)
    xs = _standardise(fg, valid)
    centre = np.round((np.atleast_1d(np.asarray(epochs, dtype=float)) - tg[0]) / cadence_days).astype(np.int64)
    return _cut(centre - window // 2, window, tg, xs, valid, lab, cadence_days, min_in_transit, 0)
