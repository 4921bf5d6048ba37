"""Kepler/TESS-like light curves with injected transiting planets: the training data of the ExoWaveNet detector.

The simulator aims at what a detector will meet in *real* Kepler long-cadence (PDCSAP) light curves, not at a clean
textbook signal:

* **Time sampling** — a regular grid at the mission cadence (Kepler long cadence 29.4244 min; TESS 30 min by default)
  in MJD (Kepler ``BKJD + 54832.5``, TESS ``BTJD + 56999.5``) that starts at a random time within the mission. Cadences
  lost to data downlinks (Kepler: about monthly, TESS: every 13.7-d orbit, ~1 d each), rare multi-day safe modes,
  momentum dumps (one cadence every few days) and scattered quality-flagged cadences are *removed*, as they are after
  dropping the NaNs of a ``*_llc.fits`` file.
* **Noise** — white noise of ``σ`` (log-uniform, default 50–500 ppm per cadence, i.e. Kepler magnitudes ~10–15.5);
  instrumental red noise, an Ornstein–Uhlenbeck (AR(1)) process with a 2 h – 3 d timescale and 5–50 % of ``σ``, plus
  thermal-settling ramps after the long gaps; stellar granulation ("flicker", Bastien et al. 2013), a Harvey-profile
  process of 10–100 ppm on 0.25–4 h; quasi-periodic rotational modulation by evolving star spots (McQuillan et al.
  2014: periods 1–40 d, amplitudes 10²–10⁴ ppm), whose amplitude and phase wander on 1–5 rotation periods (spot
  lifetimes, Giles et al. 2017).
* **Outliers** — a few single-cadence spikes per light curve (80 % positive, like residual cosmic rays; 20 % negative),
  and on one star in ten a handful of flares (instant rise, exponential decay of 0.2–2 h).
* **Planets** — period log-uniform, impact parameter uniform on [0, 0.9] (not grazing), duration from Kepler's third
  law for a main-sequence-like star, ``13 h · (P / 365 d)^{1/3} · √(1 − b²) · (ρ★/ρ☉)^{-1/3}``, and a depth solved from
  a sampled signal-to-noise ratio ``SNR = (depth / σ) · √n_in_transit`` (the Kepler pipeline's threshold is 7.1σ).
  The transit is a limb-darkened trapezoid (see :func:`transit_model`) whose ingress follows from ``Rp/R★ ≈ √depth``
  and ``b``, integrated over the exposure time like real long-cadence data.

Everything is seeded: the same ``seed`` gives bit-identical output with the same NumPy/SciPy build (the random
streams themselves are platform-independent; FFT round-off may differ in the last bit elsewhere). Each light curve
draws from its own child stream (``SeedSequence.spawn``), so it is vectorised per object and a loop over objects
costs ~3 ms per 4096-cadence light curve.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.signal import lfilter

from exowavenet_lib.lightcurves import LightCurve

__all__ = [
    "KEPLER_LONG_CADENCE_MINUTES",
    "KEPLER_MJD_OFFSET",
    "MISSIONS",
    "SHAPES",
    "TESS_MJD_OFFSET",
    "MissionConfig",
    "TransitSimulation",
    "in_transit_mask",
    "simulate_transits",
    "transit_model",
    "transit_snr",
]

#: MJD = BKJD + KEPLER_MJD_OFFSET (BKJD = BJD − 2454833, MJD = JD − 2400000.5).
KEPLER_MJD_OFFSET = 54832.5
#: MJD = BTJD + TESS_MJD_OFFSET (BTJD = BJD − 2457000).
TESS_MJD_OFFSET = 56999.5
#: Kepler long cadence: 270 co-added 6.02-s frames + readout = 1765.46 s.
KEPLER_LONG_CADENCE_MINUTES = 1765.46 / 60.0
#: Transit shapes :func:`transit_model` knows.
SHAPES = ("box", "trapezoid")

_PPM = 1e-6
_MINUTES_PER_DAY = 1440.0
_HOURS_PER_DAY = 24.0
_MIN_CADENCES = 64
#: Depth above which a sampled planet is rejected (Rp/R★ ≈ 0.22; deeper is the realm of eclipsing binaries).
_MAX_DEPTH = 0.05
_MAX_PLANET_ATTEMPTS = 1000
#: Planet population and stellar-noise priors (see the module docstring for sources).
_IMPACT_PARAMETER_MAX = 0.9
_STELLAR_DENSITY_FACTOR = (0.8, 1.5)  # (ρ★/ρ☉)^(-1/3): K dwarfs ... subgiants
_DURATION_HOURS_MIN = 0.5
_DURATION_MAX_FRACTION_OF_PERIOD = 0.12  # a/R★ ≳ 2.6
_SUN_DURATION_HOURS_AT_1_YEAR = 13.0
_RED_NOISE_RATIO = (0.05, 0.5)  # OU rms / white σ
_RED_NOISE_TIMESCALE_DAYS = (2.0 / 24.0, 3.0)
_RAMP_TIMESCALE_DAYS = (0.1, 1.0)
_GRANULATION_PPM = (10.0, 100.0)
_GRANULATION_TIMESCALE_HOURS = (0.25, 4.0)
_ROTATION_PERIOD_DAYS = (1.0, 40.0)
_ROTATION_AMPLITUDE_PPM = (1e2, 1e4)
_SPOT_LIFETIME_IN_PERIODS = (1.0, 5.0)
_OUTLIER_FRACTION = (5e-4, 5e-3)
_OUTLIER_POSITIVE_PROBABILITY = 0.8
_FLARE_STAR_PROBABILITY = 0.1
_FLARE_RATE_PER_DAY = (0.02, 0.3)
_FLARE_AMPLITUDE_SIGMA = (3.0, 30.0)
_FLARE_DECAY_HOURS = (0.2, 2.0)
_SUPERSAMPLE_MINUTES = 2.0


@dataclass(frozen=True)
class MissionConfig:
    """Observing realism of one mission (times in the mission's own BJD-based system, in days).

    Attributes
    ----------
    name, band : str
        Mission name and the :class:`~exowavenet_lib.lightcurves.LightCurve` band of its photometry.
    mjd_offset : float
        ``MJD = mission time + mjd_offset``.
    cadence_minutes : float
        Default cadence.
    default_span_days : float
        Time covered by the default number of cadences.
    start_range : tuple of float
        First and last possible start of a light curve (mission time).
    downlink_interval_days, downlink_gap_days : tuple of float
        Uniform ranges of the time between data downlinks and of the gap each leaves.
    after_downlink_gap_days, after_downlink_probability : tuple of float, float
        Extra cadences lost after a downlink (TESS scattered light at the start of an orbit), with this probability.
    safe_mode_rate_per_day, safe_mode_days : float, tuple of float
        Poisson rate of safe-mode events and the log-uniform range of their length.
    momentum_dump_interval_days : tuple of float
        Range of the (per-light-curve) time between reaction-wheel momentum dumps; each costs one cadence.
    missing_fraction : tuple of float
        Log-uniform range of the fraction of scattered, quality-flagged single cadences.
    limb_darkening : tuple of float
        Quadratic limb-darkening coefficients (u1, u2) of a Sun-like star in the band.
    """

    name: str
    band: str
    mjd_offset: float
    cadence_minutes: float
    default_span_days: float
    start_range: tuple[float, float]
    downlink_interval_days: tuple[float, float]
    downlink_gap_days: tuple[float, float]
    after_downlink_gap_days: tuple[float, float]
    after_downlink_probability: float
    safe_mode_rate_per_day: float
    safe_mode_days: tuple[float, float]
    momentum_dump_interval_days: tuple[float, float]
    missing_fraction: tuple[float, float]
    limb_darkening: tuple[float, float]


#: Kepler: quarters of ~93 d with monthly downlinks and quarterly rolls (~1 d gaps each), momentum dumps every ~3 d,
#: a dozen safe modes in four years; start within Q1–Q17 (BKJD 131.5–1591). Limb darkening: Claret & Bloemen (2011),
#: Kepler band, Teff 5750 K, log g 4.5. TESS: 13.7-d orbits with a ~1-d downlink gap at perigee, often more lost to
#: scattered light at the start of an orbit, momentum dumps every 2.5–5 d; sectors from BTJD 1325 (2018 July).
#: Limb darkening: Claret (2017), TESS band, Sun-like star.
MISSIONS: dict[str, MissionConfig] = {
    "kepler": MissionConfig(
        name="kepler", band="kepler", mjd_offset=KEPLER_MJD_OFFSET, cadence_minutes=KEPLER_LONG_CADENCE_MINUTES,
        default_span_days=4096 * KEPLER_LONG_CADENCE_MINUTES / _MINUTES_PER_DAY, start_range=(131.5, 1591.0),
        downlink_interval_days=(29.0, 33.0), downlink_gap_days=(0.7, 1.5), after_downlink_gap_days=(0.0, 0.0),
        after_downlink_probability=0.0, safe_mode_rate_per_day=1.0 / 150.0, safe_mode_days=(2.0, 8.0),
        momentum_dump_interval_days=(2.9, 3.1), missing_fraction=(0.005, 0.02), limb_darkening=(0.40, 0.26),
    ),
    "tess": MissionConfig(
        name="tess", band="tess", mjd_offset=TESS_MJD_OFFSET, cadence_minutes=30.0, default_span_days=27.4,
        start_range=(1325.3, 3400.0), downlink_interval_days=(13.0, 14.4), downlink_gap_days=(0.7, 1.5),
        after_downlink_gap_days=(0.2, 1.5), after_downlink_probability=0.5, safe_mode_rate_per_day=1.0 / 300.0,
        safe_mode_days=(2.0, 6.0), momentum_dump_interval_days=(2.5, 5.0), missing_fraction=(0.005, 0.02),
        limb_darkening=(0.32, 0.22),
    ),
}


class TransitSimulation(NamedTuple):
    """What :func:`simulate_transits` returns; unpacks as ``lcs, masks, params``."""

    lightcurves: list[LightCurve]
    masks: list[np.ndarray]
    params: pd.DataFrame


# ---------------------------------------------------------------------------------------------- argument checks
def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _positive(name: str, value: Any) -> float:
    value = _number(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def _integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _positive_range(name: str, value: Any, upper: float = math.inf) -> tuple[float, float]:
    """A ``(low, high)`` pair with ``0 < low <= high < upper``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{name} must be a (low, high) pair of numbers, got {value!r}")
    low, high = (_number(name, v) for v in value)
    if low <= 0:
        raise ValueError(f"{name} must be positive, got low = {low}")
    if low > high:
        raise ValueError(f"{name} is inverted: low = {low} > high = {high}")
    if high >= upper:
        raise ValueError(f"{name} must stay below {upper}, got high = {high}")
    return low, high


def _times(t: ArrayLike) -> np.ndarray:
    arr = np.asarray(t)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"t must be numeric times in days, got values of dtype {arr.dtype}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("t contains NaN or infinite values")
    return arr


def _limb_darkening(value: Any) -> tuple[float, float]:
    """Quadratic coefficients inside the physical region of Kipping (2013): u1 > 0, u1 + u2 < 1, u1 + 2 u2 > 0."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"limb_darkening must be a (u1, u2) pair of numbers, got {value!r}")
    u1, u2 = (_number("limb_darkening", v) for v in value)
    if not (u1 > 0 and u1 + u2 < 1 and u1 + 2 * u2 > 0):
        raise ValueError(
            f"limb_darkening (u1, u2) = ({u1}, {u2}) is unphysical: need u1 > 0, u1 + u2 < 1 and u1 + 2 u2 > 0"
        )
    return u1, u2


def _ephemeris(period: Any, epoch: Any, duration: Any) -> tuple[float, float, float]:
    period = _positive("period", period)
    epoch = _number("epoch", epoch)
    duration = _positive("duration", duration)
    if duration >= period:
        raise ValueError(f"duration must be shorter than period, got duration {duration} >= period {period}")
    return period, epoch, duration


# ---------------------------------------------------------------------------------------------- transit model
def _time_from_mid_transit(t: np.ndarray, period: float, epoch: float) -> np.ndarray:
    """Signed time (days) to the nearest mid-transit, in [-period/2, period/2)."""
    return np.mod(t - epoch + 0.5 * period, period) - 0.5 * period


def _quadratic_intensity(mu: np.ndarray, u1: float, u2: float) -> np.ndarray:
    """Quadratic limb-darkening law I(μ)/I(1) = 1 − u1 (1 − μ) − u2 (1 − μ)²."""
    return 1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2


def _trapezoid_deficit(
    s: np.ndarray, ingress_fraction: float, limb_darkening: tuple[float, float], impact_parameter: float
) -> np.ndarray:
    """Flux deficit / depth at ``s = |t − t_mid| / (duration / 2)``, for ``s < 1`` (the caller masks the rest).

    The bottom (``s <= 1 − 2f``) follows the small-planet approximation: the deficit is proportional to the stellar
    intensity behind the planet's centre, whose distance from the disc centre along the chord is
    ``r² = b² + (1 − b²) (s / (1 − f))²`` (mid-ingress, ``s = 1 − f``, is on the limb). Dividing by the intensity at
    the chord's centre makes the central deficit exactly 1. Ingress and egress are linear ramps from the bottom's
    edge value to 0 at first/fourth contact.
    """
    u1, u2 = limb_darkening
    f = ingress_fraction
    b2 = impact_parameter**2
    s_bottom = 1.0 - 2.0 * f

    def bottom(x: np.ndarray) -> np.ndarray:
        scale = 1.0 / (1.0 - f) if f < 1.0 else 0.0
        r2 = b2 + (1.0 - b2) * (x * scale) ** 2
        mu = np.sqrt(np.clip(1.0 - r2, 0.0, None))
        return _quadratic_intensity(mu, u1, u2) / _quadratic_intensity(np.sqrt(1.0 - b2), u1, u2)

    edge = bottom(np.asarray(s_bottom))
    ramp = edge * (1.0 - s) / max(1.0 - s_bottom, 1e-300)
    return np.where(s <= s_bottom, bottom(np.minimum(s, s_bottom)), ramp)


def transit_model(
    t: ArrayLike,
    *,
    period: float,
    epoch: float,
    depth: float,
    duration: float,
    shape: str = "trapezoid",
    ingress_fraction: float = 0.15,
    limb_darkening: tuple[float, float] = (0.4, 0.25),
    impact_parameter: float = 0.0,
    exposure_time: float = 0.0,
    supersample: int | None = None,
) -> np.ndarray:
    """Relative flux of a star with a transiting planet: 1 out of transit, ``1 − depth`` at mid-transit.

    Parameters
    ----------
    t : array-like of float
        Times (days, any zero point shared with ``epoch``).
    period : float
        Orbital period (days, > 0).
    epoch : float
        Time of one mid-transit (days).
    depth : float
        Central depth, relative flux in (0, 1).
    duration : float
        Total duration, first to fourth contact (days, ``0 < duration < period``).
    shape : {"trapezoid", "box"}
        ``"box"``: flat-bottomed, ``1 − depth`` for ``|t − t_mid| < duration / 2``. ``"trapezoid"``: linear ingress
        and egress of ``ingress_fraction × duration`` each and a curved, limb-darkened bottom (below).
    ingress_fraction : float
        Ingress (= egress) duration as a fraction of ``duration``, in [0, 0.5]; 0.5 is a V shape. A small planet on a
        central chord has ``f ≈ (Rp/R★) / (1 + Rp/R★)``. Ignored for ``"box"``.
    limb_darkening : (u1, u2)
        Quadratic limb-darkening coefficients ``I(μ) = 1 − u1 (1 − μ) − u2 (1 − μ)²`` (Sun in the Kepler band ≈
        (0.40, 0.26)); must satisfy u1 > 0, u1 + u2 < 1, u1 + 2 u2 > 0. Ignored for ``"box"``.
    impact_parameter : float
        Sky-projected distance of the chord from the disc centre in stellar radii, in [0, 1); a larger value flattens
        the bottom (the chord stays near the limb). Ignored for ``"box"``.
    exposure_time : float
        Integration time of each sample (days, 0 = instantaneous, < period). Kepler long cadence integrates 29.4 min,
        which rounds a short transit's corners; the model is then averaged over ``supersample`` sub-exposures.
    supersample : int, optional
        Sub-exposures per sample when ``exposure_time > 0`` (default: one per 2 minutes, at least 3).

    Returns
    -------
    numpy.ndarray
        Relative flux, same shape as ``t``.

    Notes
    -----
    The trapezoid is an approximation of the Mandel & Agol (2002) light curve, good for ``Rp/R★ ≲ 0.1``: the bottom
    uses the small-planet approximation (deficit ∝ intensity behind the planet's centre, Mandel & Agol §5) along the
    chord ``r² = b² + (1 − b²) (s / (1 − f))²`` with ``s = |t − t_mid| / (duration / 2)``, normalised so that the
    deficit at mid-transit is exactly ``depth``; the partial occultation during ingress/egress is a straight line
    instead of the true S-curve. For a Sun-like star in the Kepler band (u1, u2 = 0.40, 0.26) the bottom's edge is
    22 % (f = 0.15) to 54 % (f = 0.01) shallower than its centre, and the mean deficit between first and fourth
    contact is 0.77 (f = 0.15) to 0.88 (f = 0.01) of ``depth``, nearly independent of ``b``.
    """
    t = _times(t)
    period, epoch, duration = _ephemeris(period, epoch, duration)
    depth = _number("depth", depth)
    if not 0 < depth < 1:
        raise ValueError(f"depth must be in (0, 1) (a relative flux deficit), got {depth}")
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {list(SHAPES)}, got {shape!r}")
    ingress_fraction = _number("ingress_fraction", ingress_fraction)
    if not 0 <= ingress_fraction <= 0.5:
        raise ValueError(f"ingress_fraction must be in [0, 0.5], got {ingress_fraction}")
    limb_darkening = _limb_darkening(limb_darkening)
    impact_parameter = _number("impact_parameter", impact_parameter)
    if not 0 <= impact_parameter < 1:
        raise ValueError(f"impact_parameter must be in [0, 1), got {impact_parameter}")
    exposure_time = _number("exposure_time", exposure_time)
    if not 0 <= exposure_time < period:
        raise ValueError(f"exposure_time must be in [0, period), got {exposure_time}")
    if supersample is None:
        supersample = max(3, math.ceil(exposure_time * _MINUTES_PER_DAY / _SUPERSAMPLE_MINUTES))
    supersample = _integer("supersample", supersample, 1)

    if exposure_time > 0 and supersample > 1:
        offsets = ((np.arange(supersample) + 0.5) / supersample - 0.5) * exposure_time
        sub = t[..., None] + offsets
    else:
        sub = t[..., None]
    s = np.abs(_time_from_mid_transit(sub, period, epoch)) / (0.5 * duration)
    inside = s < 1.0
    deficit = np.zeros_like(s)
    if shape == "box":
        deficit[inside] = 1.0
    else:
        deficit[inside] = _trapezoid_deficit(s[inside], ingress_fraction, limb_darkening, impact_parameter)
    return 1.0 - depth * deficit.mean(axis=-1)


def in_transit_mask(t: ArrayLike, *, period: float, epoch: float, duration: float) -> np.ndarray:
    """Boolean mask, True where ``t`` lies strictly between first and fourth contact of a transit.

    Parameters
    ----------
    t : array-like of float
        Times (days).
    period, epoch, duration : float
        Orbital period, one mid-transit time and total transit duration (days, ``0 < duration < period``).
    """
    t = _times(t)
    period, epoch, duration = _ephemeris(period, epoch, duration)
    return np.abs(_time_from_mid_transit(t, period, epoch)) < 0.5 * duration


def transit_snr(depth: ArrayLike, sigma: ArrayLike, n_in_transit: ArrayLike) -> np.ndarray | float:
    """Transit signal-to-noise ratio ``(depth / sigma) · √n_in_transit`` (white noise, box-shaped transit).

    Parameters
    ----------
    depth : float or array-like
        Transit depth (relative flux, >= 0).
    sigma : float or array-like
        Per-cadence white-noise standard deviation (relative flux, > 0).
    n_in_transit : int or array-like
        Number of observed in-transit cadences (>= 0).

    Returns
    -------
    float or numpy.ndarray
        A float for scalar input, otherwise an array of the broadcast shape.
    """
    arrays = {}
    for name, value in (("depth", depth), ("sigma", sigma), ("n_in_transit", n_in_transit)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be numeric, got values of dtype {arr.dtype}")
        arr = arr.astype(float)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
        arrays[name] = arr
    if np.any(arrays["depth"] < 0):
        raise ValueError("depth must be >= 0")
    if np.any(arrays["sigma"] <= 0):
        raise ValueError("sigma must be > 0")
    if np.any(arrays["n_in_transit"] < 0):
        raise ValueError("n_in_transit must be >= 0")
    snr = arrays["depth"] / arrays["sigma"] * np.sqrt(arrays["n_in_transit"])
    return float(snr) if snr.ndim == 0 else snr


# ---------------------------------------------------------------------------------------------- random processes
def _log_uniform(rng: np.random.Generator, low: float, high: float, size: int | None = None) -> Any:
    return np.exp(rng.uniform(math.log(low), math.log(high), size))


def _ou_process(rng: np.random.Generator, n: int, sigma: float, timescale_cadences: float) -> np.ndarray:
    """Stationary AR(1) samples of an Ornstein–Uhlenbeck process: rms ``sigma``, e-folding ``timescale_cadences``."""
    phi = math.exp(-1.0 / timescale_cadences)
    innovations = rng.standard_normal(n)
    innovations[0] /= math.sqrt(1.0 - phi**2)  # start from the stationary distribution
    return lfilter([sigma * math.sqrt(1.0 - phi**2)], [1.0, -phi], innovations)


def _stationary_noise(rng: np.random.Generator, n: int, dt: float, spectra: list[Callable]) -> np.ndarray:
    """Unit-variance stationary Gaussian processes with given spectral shapes, one row each (FFT synthesis).

    ``spectra`` holds callables ``psd(frequency_per_day) -> power`` (any normalisation). White noise of
    twice the length is filtered in the Fourier domain and the first ``n`` samples kept, so the ends of the series do
    not wrap around into each other.
    """
    m = 2 * n
    freq = np.fft.rfftfreq(m, d=dt)
    evaluated: dict[int, np.ndarray] = {}  # a spectrum shared by several rows is evaluated once
    power = np.stack([evaluated.setdefault(id(psd), np.broadcast_to(psd(freq), freq.shape)) for psd in spectra])
    weights = np.full(freq.shape, 2.0)
    weights[0] = 1.0
    weights[-1] = 1.0  # m is even: the Nyquist bin appears once
    variance = (power * weights).sum(axis=1, keepdims=True) / m
    gain = np.sqrt(power / variance)
    spectrum = np.fft.rfft(rng.standard_normal((len(spectra), m)), axis=1)
    return np.fft.irfft(spectrum * gain, n=m, axis=1)[:, :n]


def _harvey_psd(timescale_days: float) -> Callable:
    """Harvey (1985) granulation profile with exponent 4: ``1 / (1 + (2π f τ)^4)``."""
    return lambda f: 1.0 / (1.0 + (2.0 * np.pi * f * timescale_days) ** 4)


def _squared_exponential_psd(lengthscale_days: float) -> Callable:
    """Spectrum of the covariance ``exp(−Δt² / 2ℓ²)``: ``exp(−2π² f² ℓ²)``, a smooth low-pass."""
    return lambda f: np.exp(-2.0 * (np.pi * f * lengthscale_days) ** 2)


@dataclass(frozen=True)
class _Star:
    """Stellar variability drawn for one light curve (relative flux, multiplies the transit model)."""

    signal: np.ndarray
    rotation_period: float
    rotation_amplitude_ppm: float
    granulation_ppm: float
    granulation_timescale_hours: float


def _stellar_variability(rng: np.random.Generator, t: np.ndarray, dt: float) -> _Star:
    """Spot modulation (fundamental + first harmonic with evolving complex amplitudes) plus granulation flicker.

    The rotation signal is ``Σ_h w_h Re[a_h(t) exp(2πi h t / P)]`` with ``a_h`` complex, smooth Gaussian processes
    whose timescale is the spot lifetime; its amplitude is reported as √2 × its expected rms (the semi-amplitude of a
    sinusoid of the same power).
    """
    period = float(_log_uniform(rng, *_ROTATION_PERIOD_DAYS))
    amplitude = float(_log_uniform(rng, *_ROTATION_AMPLITUDE_PPM)) * _PPM
    lifetime = period * float(_log_uniform(rng, *_SPOT_LIFETIME_IN_PERIODS))
    harmonic_weights = np.array([1.0, rng.uniform(0.0, 0.6)])
    granulation = float(_log_uniform(rng, *_GRANULATION_PPM)) * _PPM
    granulation_tau = float(_log_uniform(rng, *_GRANULATION_TIMESCALE_HOURS)) / _HOURS_PER_DAY

    spot_psd = _squared_exponential_psd(lifetime)
    rows = _stationary_noise(rng, len(t), dt, [spot_psd] * 4 + [_harvey_psd(granulation_tau)])
    phase = 2.0 * np.pi * (t - t[0]) / period
    rotation = sum(
        w * (rows[2 * h] * np.cos((h + 1) * phase) - rows[2 * h + 1] * np.sin((h + 1) * phase))
        for h, w in enumerate(harmonic_weights)
    )
    rotation *= amplitude / math.sqrt(2.0) / math.sqrt(float(np.sum(harmonic_weights**2)))
    return _Star(
        signal=rotation + granulation * rows[4],
        rotation_period=period,
        rotation_amplitude_ppm=amplitude / _PPM,
        granulation_ppm=granulation / _PPM,
        granulation_timescale_hours=granulation_tau * _HOURS_PER_DAY,
    )


# ---------------------------------------------------------------------------------------------- observing window
def _intervals_to_mask(t: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True where ``t`` falls inside any ``[start, end)``."""
    if len(starts) == 0:
        return np.zeros(t.shape, dtype=bool)
    return ((t[:, None] >= starts) & (t[:, None] < ends)).any(axis=1)


def _gaps(rng: np.random.Generator, config: MissionConfig, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which grid cadences are lost, and the end times of the long gaps (where thermal ramps start).

    Long gaps: periodic downlinks (random phase, jittered interval), optional extra loss after each (TESS scattered
    light), Poisson safe modes. Single cadences: momentum dumps at a regular interval and scattered flagged cadences.
    """
    n = len(t)
    t0, t1 = t[0], t[-1]
    interval = rng.uniform(*config.downlink_interval_days, size=max(2, int((t1 - t0) / 10.0) + 2))
    downlinks = t0 - rng.uniform(0.0, interval[0]) + np.cumsum(interval)
    downlinks = downlinks[downlinks < t1]
    lengths = rng.uniform(*config.downlink_gap_days, size=len(downlinks))
    extra = np.where(
        rng.random(len(downlinks)) < config.after_downlink_probability,
        rng.uniform(*config.after_downlink_gap_days, size=len(downlinks)),
        0.0,
    )
    n_safe = rng.poisson(config.safe_mode_rate_per_day * (t1 - t0))
    safe_starts = rng.uniform(t0, t1, size=n_safe)
    safe_lengths = _log_uniform(rng, *config.safe_mode_days, size=n_safe)
    starts = np.concatenate([downlinks, safe_starts])
    ends = np.concatenate([downlinks + lengths + extra, safe_starts + safe_lengths])
    lost = _intervals_to_mask(t, starts, ends)

    dt = t[1] - t[0]
    dump_every = rng.uniform(*config.momentum_dump_interval_days)
    dumps = t0 + rng.uniform(0.0, dump_every) + np.arange(0.0, t1 - t0, dump_every)
    lost[np.clip(np.round((dumps - t0) / dt).astype(int), 0, n - 1)] = True
    lost |= rng.random(n) < _log_uniform(rng, *config.missing_fraction)
    return lost, np.sort(ends[ends < t1])


def _thermal_ramps(rng: np.random.Generator, t: np.ndarray, gap_ends: np.ndarray, sigma: float) -> np.ndarray:
    """Exponential settling ramps after long gaps (residual of PDC's systematics correction), random sign."""
    if len(gap_ends) == 0 or sigma == 0:
        return np.zeros_like(t)
    amplitude = sigma * _log_uniform(rng, 1.0, 4.0, len(gap_ends)) * rng.choice([-1.0, 1.0], len(gap_ends))
    tau = _log_uniform(rng, *_RAMP_TIMESCALE_DAYS, len(gap_ends))
    since = t[:, None] - gap_ends
    return np.where(since >= 0, amplitude * np.exp(-np.clip(since, 0, None) / tau), 0.0).sum(axis=1)


def _outliers(rng: np.random.Generator, n: int, sigma: float) -> tuple[np.ndarray, int]:
    """Single-cadence spikes of 4σ and more (exponential tail), mostly positive; at least one."""
    count = min(n, max(1, rng.poisson(float(_log_uniform(rng, *_OUTLIER_FRACTION)) * n)))
    where = rng.choice(n, size=count, replace=False)
    sign = np.where(rng.random(count) < _OUTLIER_POSITIVE_PROBABILITY, 1.0, -1.0)
    spikes = np.zeros(n)
    spikes[where] = sign * sigma * (4.0 + rng.exponential(4.0, count))
    return spikes, count


def _flares(rng: np.random.Generator, t: np.ndarray, sigma: float) -> tuple[np.ndarray, int]:
    """On one star in ten, Poisson flares: instant rise, exponential decay."""
    if rng.random() >= _FLARE_STAR_PROBABILITY:
        return np.zeros_like(t), 0
    count = rng.poisson(float(_log_uniform(rng, *_FLARE_RATE_PER_DAY)) * (t[-1] - t[0]))
    if count == 0:
        return np.zeros_like(t), 0
    peaks = rng.uniform(t[0], t[-1], count)
    amplitude = sigma * _log_uniform(rng, *_FLARE_AMPLITUDE_SIGMA, count)
    tau = _log_uniform(rng, *_FLARE_DECAY_HOURS, count) / _HOURS_PER_DAY
    since = t[:, None] - peaks
    return np.where(since >= 0, amplitude * np.exp(-np.clip(since, 0, None) / tau), 0.0).sum(axis=1), count


# ---------------------------------------------------------------------------------------------- planets
@dataclass(frozen=True)
class _Settings:
    """Validated arguments of :func:`simulate_transits`."""

    config: MissionConfig
    cadence_days: float
    n_grid: int
    shape: str
    snr_range: tuple[float, float]
    period_range: tuple[float, float]
    noise_range: tuple[float, float]
    red_noise: bool
    variability: bool
    gaps: bool
    outliers: bool


@dataclass(frozen=True)
class _Planet:
    period: float
    epoch: float
    depth: float
    duration: float
    impact_parameter: float
    ingress_fraction: float
    snr: float
    n_transits_observed: int
    n_in_transit: int


def _transit_duration(period: float, impact_parameter: float, density_factor: float, cadence_days: float) -> float:
    """Duration (days) of a central-ish transit of a small planet on a circular orbit, clipped to sensible limits."""
    hours = (
        _SUN_DURATION_HOURS_AT_1_YEAR * (period / 365.25) ** (1.0 / 3.0)
        * math.sqrt(1.0 - impact_parameter**2) * density_factor
    )
    minimum = max(_DURATION_HOURS_MIN / _HOURS_PER_DAY, cadence_days)
    return min(max(hours / _HOURS_PER_DAY, minimum), _DURATION_MAX_FRACTION_OF_PERIOD * period)


def _ingress_fraction(depth: float, impact_parameter: float, limb_darkening: tuple[float, float]) -> float:
    """``(T14 − T23) / (2 T14)`` for a planet with ``Rp/R★`` from the limb-darkened depth and impact parameter ``b``."""
    u1, u2 = limb_darkening
    mu_c = math.sqrt(1.0 - impact_parameter**2)
    central = float(_quadratic_intensity(np.asarray(mu_c), u1, u2))
    k = math.sqrt(depth * (1.0 - u1 / 3.0 - u2 / 6.0) / central)  # depth ≈ k² I(μc) / <I>
    b2 = impact_parameter**2
    t14 = math.sqrt((1.0 + k) ** 2 - b2)
    t23 = math.sqrt(max((1.0 - k) ** 2 - b2, 0.0))
    return 0.5 * (t14 - t23) / t14


def _observed_transits(t_grid: np.ndarray, keep: np.ndarray, period: float, epoch: float, duration: float) -> int:
    """Transits with at least half of their in-window cadences observed (and at least one)."""
    in_grid = in_transit_mask(t_grid, period=period, epoch=epoch, duration=duration)
    event = np.round((t_grid[in_grid] - epoch) / period).astype(int)
    if len(event) == 0:
        return 0
    event -= event.min()
    expected = np.bincount(event)
    seen = np.bincount(event, weights=keep[in_grid].astype(float), minlength=len(expected))
    return int(np.sum((expected > 0) & (seen >= np.maximum(1, np.ceil(expected / 2)))))


def _sample_planet(
    rng: np.random.Generator, t_grid: np.ndarray, keep: np.ndarray, sigma: float, settings: _Settings,
    limb_darkening: tuple[float, float],
) -> _Planet:
    """Draw a planet with >= 2 observed transits and an SNR in ``snr_range``; resample until both hold."""
    t_obs = t_grid[keep]
    for _ in range(_MAX_PLANET_ATTEMPTS):
        period = float(_log_uniform(rng, *settings.period_range))
        epoch = t_grid[0] + rng.uniform(0.0, period)
        b = rng.uniform(0.0, _IMPACT_PARAMETER_MAX)
        duration = _transit_duration(
            period, b, float(_log_uniform(rng, *_STELLAR_DENSITY_FACTOR)), settings.cadence_days
        )
        n_transits = _observed_transits(t_grid, keep, period, epoch, duration)
        n_in = int(in_transit_mask(t_obs, period=period, epoch=epoch, duration=duration).sum())
        if n_transits < 2 or n_in == 0:
            continue
        snr = float(_log_uniform(rng, *settings.snr_range))
        depth = snr * sigma / math.sqrt(n_in)
        if depth >= _MAX_DEPTH:
            continue
        return _Planet(
            period=period, epoch=epoch, depth=depth, duration=duration, impact_parameter=b,
            ingress_fraction=_ingress_fraction(depth, b, limb_darkening) if settings.shape == "trapezoid" else 0.0,
            snr=snr,
            n_transits_observed=n_transits, n_in_transit=n_in,
        )
    raise ValueError(
        f"could not place a planet with >= 2 observed transits and depth < {_MAX_DEPTH} in "
        f"{_MAX_PLANET_ATTEMPTS} tries: period_range {settings.period_range} is too long for a window of "
        f"{t_grid[-1] - t_grid[0]:.1f} d, or snr_range {settings.snr_range} too high for the noise"
    )


# ---------------------------------------------------------------------------------------------- one light curve
def _simulate_one(
    rng: np.random.Generator, settings: _Settings, object_id: str, has_transit: bool
) -> tuple[LightCurve, np.ndarray, dict[str, Any]]:
    config, dt, n = settings.config, settings.cadence_days, settings.n_grid
    span = n * dt
    latest_start = max(config.start_range[0], config.start_range[1] - span)
    t = rng.uniform(config.start_range[0], latest_start) + dt * np.arange(n)  # mission time (BKJD/BTJD)

    sigma = float(_log_uniform(rng, *settings.noise_range)) * _PPM
    if settings.gaps:
        lost, gap_ends = _gaps(rng, config, t)
        if lost.all():
            lost[:] = False
    else:
        lost, gap_ends = np.zeros(n, dtype=bool), np.empty(0)
    keep = ~lost

    star = _stellar_variability(rng, t, dt) if settings.variability else None
    stellar = star.signal if star is not None else np.zeros(n)
    red_ppm, red_tau = 0.0, math.nan
    red = np.zeros(n)
    if settings.red_noise:
        red_ppm = sigma * float(_log_uniform(rng, *_RED_NOISE_RATIO)) / _PPM
        red_tau = float(_log_uniform(rng, *_RED_NOISE_TIMESCALE_DAYS))
        red = _ou_process(rng, n, red_ppm * _PPM, red_tau / dt) + _thermal_ramps(rng, t, gap_ends, red_ppm * _PPM)

    t_obs = t[keep]
    planet = _sample_planet(rng, t, keep, sigma, settings, config.limb_darkening) if has_transit else None
    transit = np.ones(len(t_obs))
    mask = np.zeros(len(t_obs), dtype=bool)
    if planet is not None:
        mask = in_transit_mask(t_obs, period=planet.period, epoch=planet.epoch, duration=planet.duration)
        near = np.abs(_time_from_mid_transit(t_obs, planet.period, planet.epoch)) < 0.5 * planet.duration + dt
        transit[near] = transit_model(
            t_obs[near], period=planet.period, epoch=planet.epoch, depth=planet.depth, duration=planet.duration,
            shape=settings.shape, ingress_fraction=planet.ingress_fraction, limb_darkening=config.limb_darkening,
            impact_parameter=planet.impact_parameter, exposure_time=dt,
        )

    clean = transit * (1.0 + stellar[keep])
    flux = clean + red[keep] + sigma * np.sqrt(clean) * rng.standard_normal(len(t_obs))
    n_outliers = n_flares = 0
    if settings.outliers:
        spikes, n_outliers = _outliers(rng, len(t_obs), sigma)
        flares, n_flares = _flares(rng, t_obs, sigma)
        flux += spikes + flares
    flux_err = sigma * np.sqrt(np.clip(clean, 0.5, None))

    mjd = t_obs + config.mjd_offset
    meta = {"flux_unit": "relative", "mission": config.name, "object_id": object_id}
    lc = LightCurve(mjd, flux, flux_err, config.band, meta=meta)
    nan = math.nan
    row = {
        "object_id": object_id,
        "mission": config.name,
        "has_transit": planet is not None,
        "period": planet.period if planet else nan,
        "epoch": planet.epoch + config.mjd_offset if planet else nan,
        "depth": planet.depth if planet else nan,
        "duration_hours": planet.duration * _HOURS_PER_DAY if planet else nan,
        "shape": settings.shape if planet else None,
        "snr": planet.snr if planet else nan,
        "n_transits_observed": planet.n_transits_observed if planet else 0,
        "n_in_transit": planet.n_in_transit if planet else 0,
        "noise_ppm": sigma / _PPM,
        "red_noise_ppm": red_ppm,
        "rotation_period": star.rotation_period if star else nan,
        "rotation_amplitude_ppm": star.rotation_amplitude_ppm if star else 0.0,
        "n_cadences": len(t_obs),
        "n_outliers": n_outliers,
        # extras: the rest of the truth, for analysis and curriculum exercises
        "impact_parameter": planet.impact_parameter if planet else nan,
        "ingress_fraction": planet.ingress_fraction if planet else nan,
        "red_noise_timescale_hours": red_tau * _HOURS_PER_DAY,
        "granulation_ppm": star.granulation_ppm if star else 0.0,
        "granulation_timescale_hours": star.granulation_timescale_hours if star else nan,
        "n_flares": n_flares,
        "gap_fraction": 1.0 - len(t_obs) / n,
        "cadence_minutes": dt * _MINUTES_PER_DAY,
        "mjd_start": t[0] + config.mjd_offset,
    }
    return lc, mask, row


def _settings(
    mission: Any, n_cadences: Any, cadence_minutes: Any, shape: Any, snr_range: Any, period_range: Any,
    noise_ppm_range: Any, flags: dict[str, Any],
) -> _Settings:
    if not isinstance(mission, str) or mission.lower() not in MISSIONS:
        raise ValueError(f"mission must be one of {sorted(MISSIONS)}, got {mission!r}")
    config = MISSIONS[mission.lower()]
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {list(SHAPES)}, got {shape!r}")
    cadence_minutes = config.cadence_minutes if cadence_minutes is None else _positive(
        "cadence_minutes", cadence_minutes
    )
    cadence_days = cadence_minutes / _MINUTES_PER_DAY
    if n_cadences is None:
        n_cadences = max(_MIN_CADENCES, round(config.default_span_days / cadence_days))
    n_cadences = _integer("n_cadences", n_cadences, _MIN_CADENCES)
    period_range = _positive_range("period_range", period_range)
    span = n_cadences * cadence_days
    if period_range[0] >= span:
        raise ValueError(
            f"period_range starts at {period_range[0]} d, but two transits need a period shorter than the "
            f"{span:.1f}-d window (n_cadences = {n_cadences})"
        )
    return _Settings(
        config=config, cadence_days=cadence_days, n_grid=n_cadences, shape=shape,
        snr_range=_positive_range("snr_range", snr_range),
        period_range=period_range,
        noise_range=_positive_range("noise_ppm_range", noise_ppm_range, upper=1e6),
        **{name: _flag(name, value) for name, value in flags.items()},
    )


def simulate_transits(
    n: int,
    *,
    seed: int | None = None,
    mission: str = "kepler",
    n_cadences: int | None = None,
    transit_fraction: float = 0.5,
    shape: str = "trapezoid",
    snr_range: tuple[float, float] = (7.0, 30.0),
    period_range: tuple[float, float] = (0.5, 20.0),
    noise_ppm_range: tuple[float, float] = (50.0, 500.0),
    red_noise: bool = True,
    variability: bool = True,
    gaps: bool = True,
    outliers: bool = True,
    cadence_minutes: float | None = None,
) -> TransitSimulation:
    """Simulate ``n`` Kepler- or TESS-like light curves, a fraction of them with a transiting planet.

    Parameters
    ----------
    n : int
        Number of light curves (> 0).
    seed : int, optional
        Seed; the same seed gives the same output, None a fresh one each call.
    mission : {"kepler", "tess"}
        Sets band, time system (MJD from BKJD or BTJD), cadence, gap pattern and limb darkening (see :data:`MISSIONS`).
    n_cadences : int, optional
        Length of the regular time grid *before* gaps are removed (>= 64). Default: 4096 for Kepler (≈ 83.7 d at
        29.4 min), one 27.4-d sector for TESS (1315 cadences at 30 min). The light curves are shorter by the gaps.
    transit_fraction : float
        Fraction of light curves with a planet, in [0, 1]; the count is ``n × transit_fraction`` rounded up or down
        at random (exact in expectation), assigned to random light curves.
    shape : {"trapezoid", "box"}
        Transit shape injected (see :func:`transit_model`).
    snr_range : (float, float)
        Range of the white-noise SNR ``(depth / σ) · √n_in_transit``, sampled log-uniformly; depth is solved from it.
    period_range : (float, float)
        Orbital periods (days), sampled log-uniformly; planets with fewer than two observed transits are redrawn.
    noise_ppm_range : (float, float)
        White noise per cadence (ppm), sampled log-uniformly.
    red_noise, variability, gaps, outliers : bool
        Switch on instrumental red noise (OU process and post-gap ramps), stellar variability (rotation and
        granulation), data gaps, and outliers (spikes and flares).
    cadence_minutes : float, optional
        Override the mission's cadence (e.g. 2 or 10 for TESS).

    Returns
    -------
    TransitSimulation
        ``(lightcurves, masks, params)``: :class:`LightCurve` objects in relative flux with
        ``meta = {"flux_unit": "relative", "mission", "object_id"}``; one boolean in-transit mask per light curve
        (all False without a planet); and a DataFrame with one row per light curve — ``object_id, mission,
        has_transit, period, epoch`` (MJD of a mid-transit), ``depth, duration_hours, shape, snr,
        n_transits_observed`` (transits with at least half their cadences observed), ``n_in_transit, noise_ppm,
        red_noise_ppm, rotation_period, rotation_amplitude_ppm, n_cadences`` (observed), ``n_outliers`` — plus
        ``impact_parameter, ingress_fraction, red_noise_timescale_hours, granulation_ppm,
        granulation_timescale_hours, n_flares, gap_fraction, cadence_minutes, mjd_start``.

    Examples
    --------
    >>> lcs, masks, params = simulate_transits(4, seed=1, transit_fraction=0.5)
    >>> len(lcs), int(params.has_transit.sum())
    (4, 2)
    """
    n = _integer("n", n, 1)
    if seed is not None:
        seed = _integer("seed", seed, 0)
    transit_fraction = _number("transit_fraction", transit_fraction)
    if not 0 <= transit_fraction <= 1:
        raise ValueError(f"transit_fraction must be in [0, 1], got {transit_fraction}")
    settings = _settings(
        mission, n_cadences, cadence_minutes, shape, snr_range, period_range, noise_ppm_range,
        {"red_noise": red_noise, "variability": variability, "gaps": gaps, "outliers": outliers},
    )

    root = np.random.SeedSequence(seed)
    rng = np.random.default_rng(root)
    n_planets = int(math.floor(n * transit_fraction + rng.random()))
    has_transit = np.zeros(n, dtype=bool)
    has_transit[rng.permutation(n)[:n_planets]] = True
    width = max(5, len(str(n - 1)))

    lightcurves, masks, rows = [], [], []
    for i, child in enumerate(root.spawn(n)):
        object_id = f"{settings.config.name}-sim-{i:0{width}d}"
        lc, mask, row = _simulate_one(np.random.default_rng(child), settings, object_id, bool(has_transit[i]))
        lightcurves.append(lc)
        masks.append(mask)
        rows.append(row)
    return TransitSimulation(lightcurves, masks, pd.DataFrame(rows))
