"""ZTF alert light curves of five classes — SN Ia, SN II, dwarf novae (CV), AGN and TDEs — for training classifiers.

Models trained here are judged on *real* ZTF alert photometry, so the simulator copies how ZTF sees the sky
(numbers from ``astro-facts.md``; sources in the comments by each parameter):

* **Observing** (:func:`~exowavenet_lib.simulate.ztf.ztf_epochs`) — ``g`` and ``r`` only, a 2- or 3-night cadence with
  weather and single-band losses (same-band revisit median ~3 d), seasonal gaps (median 111 d) and a per-exposure
  5σ limiting magnitude (median 20.2, 10–90 % 19.2–20.8, shallower near full moon).
* **Photometry** — fluxes in FLUXCAL (zeropoint 27.5) with errors from the measured ZTF magnitude-error relation
  (:func:`~exowavenet_lib.simulate.ztf.ztf_flux_error`, scaled to each exposure's depth) and Gaussian noise.
  Alert light curves hold **detections only**: measured flux above the exposure's 5σ limit, no upper limits.
* **Selection** — an object is kept when it has at least :data:`MIN_DETECTIONS` detections, at least one in each
  band; rejected objects are replaced by new draws, as in a real selected sample. Explosive transients are also
  kept with the classification completeness of their peak magnitude (labels come from spectra, which the Bright
  Transient Survey takes of nearly everything brighter than 18.5 mag and of ever fewer fainter objects).
* **Physics** — explosive transients have a peak absolute magnitude, a redshift drawn from the comoving volume
  (Planck18, times the class's rate evolution) and hence a distance modulus, observer-frame half-max rise and fade
  times drawn around the published medians (stretched by ``1 + z``), and a g − r colour that evolves after peak.
  SN Ia: Bazin shape, blue at peak, reddening ~1 mag in a month, brighter when broader. SN II: Bazin (II-L-like)
  or Villar et al. (2019) plateau (IIP, ~100 d), redder and reddening at once. TDE: Gaussian rise and
  ``t^(−5/3)`` decline (van Velzen et al. 2021), blue and slowly evolving. AGN: damped random walk in magnitude
  (MacLeod et al. 2010). CV: dwarf-nova outbursts from a quiescence usually below the limit, with SU UMa
  superoutbursts. Luminosity means and time-scale medians are set so that the *selected* sample has the
  published values (selection favours bright, broad objects).

Each explosive transient has a light-curve model in a "model band" and a colour: ``m_g = m_model + w·(g−r)`` and
``m_r = m_model − (1−w)·(g−r)``. The model band is the mean of the g and r magnitudes (``w = 1/2``), except for SN
IIP, whose plateau model is the r band (``w = 1``, so r stays flat and g fades off the plateau). The ``rise_time``
and ``fade_time`` in ``meta`` are measured on the g/r mean in every case.

Fluxes are the source's total flux, as in reference-corrected ("magpsf_corr"-like) light curves. For transients
this equals the difference-image flux of alerts; for AGN and for CVs seen in quiescence, real alert fluxes are
differences from a reference image instead.

Everything is vectorised over objects and epochs, and seeded: the same ``seed`` gives the same light curves.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from exowavenet_lib.lightcurves import TransientLightCurve
from exowavenet_lib.photometry import mag_to_flux
from exowavenet_lib.simulate.models import (
    bazin_time_scales,
    bazin_unit,
    colour_evolution,
    dwarf_nova_outburst,
    level_crossings,
    peak_time,
    tde_unit,
    villar,
)
from exowavenet_lib.simulate.ztf import (
    ZTF_BANDS,
    ZTF_DEEPEST_MAG_LIMIT,
    ZTF_SURVEY_END_MJD,
    ZTF_SURVEY_START_MJD,
    ztf_epochs,
    ztf_flux_error,
)

__all__ = ["MIN_DETECTIONS", "REALISTIC_CLASS_WEIGHTS", "TRANSIENT_CLASSES", "simulate_transients"]

TRANSIENT_CLASSES: tuple[str, ...] = ("SNIa", "SNII", "CV", "AGN", "TDE")
#: Class mix of a classified alert-stream sample (``class_weights="realistic"``), approximate. SN Ia outnumber SN II
#: about 2:1 to 3:1 in magnitude-limited samples (the ZTF Bright Transient Survey, Perley et al. 2020, classifies
#: roughly three quarters of its SNe as Ia; fainter samples hold relatively more SN II); AGN and dwarf novae each
#: make about a tenth of the alert-stream sources labelled by cross-match; TDEs are rare, a few tens a year against
#: more than a thousand classified SNe (van Velzen et al. 2021, Hammerstein et al. 2023): ~2 %.
REALISTIC_CLASS_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"SNIa": 0.50, "SNII": 0.25, "CV": 0.11, "AGN": 0.12, "TDE": 0.02}
)
#: An object is kept when it has at least this many detections, at least one in each of g and r.
MIN_DETECTIONS = 5

_Z90 = 1.2815515655446004  # standard-normal 90 % quantile
_BAND_SIGN = np.array([1.0, -1.0])  # CV: m_g = m + colour/2, m_r = m − colour/2
_PEAK_MARGIN_DAYS = 60.0  # peaks fall at least this far inside the survey
_MAX_ROUNDS = 100
_CLASSIFIED_HALF_MAG, _CLASSIFIED_WIDTH_MAG = 19.1, 0.3  # see _classified_fraction


# ----------------------------------------------------------------------------------------------------- public API
def simulate_transients(
    n: int,
    *,
    seed: int | None = None,
    class_weights: str | Mapping[str, float] | None = None,
) -> tuple[list[TransientLightCurve], list[str]]:
    """Simulate ``n`` ZTF alert light curves of the classes in :data:`TRANSIENT_CLASSES`.

    Parameters
    ----------
    n : int
        Number of light curves (> 0).
    seed : int or None
        Seed of the random generator; the same seed gives the same light curves, None a fresh draw.
    class_weights : None, "realistic" or mapping of class name to weight
        None: a balanced mix (``n // 5`` of each class, the remainder spread at random). ``"realistic"``:
        :data:`REALISTIC_CLASS_WEIGHTS` (TDEs rare). A mapping: non-negative weights for some or all classes
        (missing classes get 0). Counts are the weights' shares of ``n``, rounded by largest remainder.

    Returns
    -------
    light_curves : list of TransientLightCurve
        In random class order, ids ``"sim-<seed tag>-<index>"``. Bands ``"g"``/``"r"``, FLUXCAL fluxes, detections
        only. ``peak_mjd`` is the true time of peak (AGN and CV: of the brightest detected epoch), ``redshift`` is
        set for SNIa, SNII, TDE and AGN and None for CV (Galactic). ``meta`` holds the true parameters:
        ``class``, ``subtype``; explosive classes ``distance_modulus``, ``peak_abs_mag``, ``peak_mag_g``,
        ``peak_mag_r``, ``colour_peak`` (g − r), ``rise_time`` and ``fade_time`` (observer-frame days, half max of
        the g/r-mean magnitude), ``onset_mjd`` (model at 1 % of peak: stands in for explosion or disruption),
        SN II ``plateau_days`` (None unless IIP); AGN ``distance_modulus``, ``mean_mag_g``, ``mean_mag_r``,
        ``mean_abs_mag_r``, ``tau_rest``, ``tau_obs`` (days), ``sf_inf_g``, ``sf_inf_r`` (mag); CV
        ``quiescent_mag``, ``outburst_peak_mag``, ``amplitude``, ``recurrence_days``, ``supercycle_days`` (None
        unless SU UMa). Subtypes: SNIa ``Ia``; SNII ``II``, ``IIP``; CV ``U Gem``, ``SU UMa``, ``WZ Sge``.
    labels : list of str
        ``labels[i] == light_curves[i].transient_type``.

    Raises
    ------
    TypeError, ValueError
        For an ``n`` that is not a positive int, a bad ``seed`` or bad ``class_weights`` (unknown class,
        negative, NaN or all-zero weights).
    """
    n = _check_n(n)
    _check_seed(seed)
    weights = _class_weight_vector(class_weights)
    rng = np.random.default_rng(seed)
    tag = f"{int(rng.integers(2**32)):08x}"
    counts = _allocate(n, weights, rng)
    order = rng.permutation(np.repeat(np.arange(len(TRANSIENT_CLASSES)), counts))
    light_curves: list[TransientLightCurve | None] = [None] * n
    for code, name in enumerate(TRANSIENT_CLASSES):
        if counts[code] == 0:
            continue
        slots = np.flatnonzero(order == code)
        ids = [f"sim-{tag}-{slot:06d}" for slot in slots]
        for slot, lc in zip(slots, _simulate_class(_POPULATIONS[name], ids, rng), strict=True):
            light_curves[slot] = lc
    labels = [TRANSIENT_CLASSES[code] for code in order]
    return light_curves, labels  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------------- validation
def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"n must be a positive int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be a positive int, got {n}")
    return int(n)


def _check_seed(seed: Any) -> None:
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be a non-negative int or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed}")


def _class_weight_vector(class_weights: Any) -> np.ndarray:
    """Weights in the order of :data:`TRANSIENT_CLASSES`, validated."""
    if class_weights is None:
        return np.ones(len(TRANSIENT_CLASSES))
    if isinstance(class_weights, str):
        if class_weights != "realistic":
            raise ValueError(f"class_weights must be None, 'realistic' or a mapping of class to weight, "
                             f"got {class_weights!r}")
        class_weights = REALISTIC_CLASS_WEIGHTS
    if not isinstance(class_weights, Mapping):
        raise TypeError(f"class_weights must be None, 'realistic' or a mapping of class to weight, "
                        f"got {type(class_weights).__name__}")
    unknown = sorted(map(repr, set(class_weights) - set(TRANSIENT_CLASSES)))
    if unknown:
        raise ValueError(f"class_weights has unknown class(es) {', '.join(unknown)}; "
                         f"known classes are {list(TRANSIENT_CLASSES)}")
    for name, weight in class_weights.items():
        if isinstance(weight, bool) or not isinstance(weight, Real):
            raise TypeError(f"class_weights[{name!r}] must be a number, got {type(weight).__name__}")
        if not (np.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weights[{name!r}] must be a finite number >= 0, got {weight!r}")
    weights = np.array([float(class_weights.get(name, 0.0)) for name in TRANSIENT_CLASSES])
    if weights.sum() <= 0:
        raise ValueError("class_weights must give at least one class a weight > 0")
    return weights


def _allocate(n: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer counts summing to ``n`` in proportion to ``weights`` (largest remainder, ties broken at random)."""
    expected = n * weights / weights.sum()
    counts = np.floor(expected).astype(int)
    remainder = np.where(weights > 0, expected - counts, -1.0)
    ranked = np.lexsort((rng.random(len(weights)), -remainder))
    counts[ranked[: n - counts.sum()]] += 1
    return counts


# ----------------------------------------------------------------------------------------------------- cosmology
@functools.cache
def _cosmology_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Redshift grid with Planck18 distance modulus and comoving volume per unit redshift (computed once)."""
    from astropy.cosmology import Planck18

    z = np.geomspace(1e-4, 5.0, 2000)
    return z, Planck18.distmod(z).value, Planck18.differential_comoving_volume(z).value


def _distance_modulus(z: np.ndarray) -> np.ndarray:
    grid, mu, _ = _cosmology_grid()
    return np.interp(np.log(z), np.log(grid), mu)


@functools.cache
def _redshift_cdf(z_max: float, rate_index: float) -> tuple[np.ndarray, np.ndarray]:
    """CDF of ``dV/dz · (1+z)^(rate_index − 1)`` on ``(0, z_max]``: volumetric rate with evolution, time-dilated."""
    grid, _, volume = _cosmology_grid()
    keep = grid <= z_max
    z, density = grid[keep], volume[keep] * (1.0 + grid[keep]) ** (rate_index - 1.0)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(z))])
    return z, cdf / cdf[-1]


def _draw_redshift(rng: np.random.Generator, size: int, z_max: float, rate_index: float) -> np.ndarray:
    z, cdf = _redshift_cdf(z_max, rate_index)
    return np.interp(rng.random(size), cdf, z)


# ----------------------------------------------------------------------------------------------------- distributions
@dataclass(frozen=True)
class _Skewed:
    """Two-piece lognormal with a given median and 10-90 % range: reproduces three published quantiles exactly."""

    median: float
    low: float
    high: float

    def at(self, z: np.ndarray) -> np.ndarray:
        """Values at standard-normal scores ``z``."""
        sigma = np.where(z < 0, np.log(self.median / self.low), np.log(self.high / self.median)) / _Z90
        return self.median * np.exp(np.clip(z, -3.0, 3.0) * sigma)


def _correlated_normals(rng: np.random.Generator, size: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    a, b = rng.standard_normal((2, size))
    return a, rho * a + np.sqrt(1.0 - rho**2) * b


def _log_uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _clipped_normal(rng: np.random.Generator, mean: float, sd: float, low: float, high: float,
                    size: int) -> np.ndarray:
    return np.clip(rng.normal(mean, sd, size), low, high)


# ----------------------------------------------------------------------------------------------------- observing
Params = dict[str, np.ndarray]


class _Rows(NamedTuple):
    """Detections of the accepted objects, flat and sorted by object then time."""

    obj: np.ndarray
    mjd: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    band: np.ndarray
    truth: np.ndarray

    def take(self, keep: np.ndarray) -> _Rows:
        """The rows selected by ``keep``."""
        return _Rows(*(column[keep] for column in self))


class _Population:
    """One class: draws parameters, gives true fluxes at epochs, and describes accepted objects."""

    name: str
    expected_acceptance: float = 0.5

    def draw(self, rng: np.random.Generator, size: int) -> Params:
        """Per-object parameters, including the observing window ``t_start``/``t_end`` (MJD)."""
        raise NotImplementedError

    def flux(self, p: Params, obj: np.ndarray, mjd: np.ndarray, band: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        """True FLUXCAL flux of object ``obj`` at ``mjd`` in band code ``band`` (0 = g, 1 = r)."""
        raise NotImplementedError

    def describe(self, p: Params, rows: _Rows) -> tuple[np.ndarray, list[float | None], list[dict[str, Any]]]:
        """Per accepted object: true peak time, redshift (None for Galactic classes) and metadata."""
        raise NotImplementedError


_PSF_NOISE_MAG = 2.5 * np.log10(1.25)  # sky noise 1.25x the nominal limit's: the limit sits at S/N 4


def _observe(population: _Population, p: Params, rng: np.random.Generator) -> tuple[np.ndarray, _Rows]:
    """Observe a batch as ZTF alerts: which objects pass selection, and the detections of those that do."""
    epochs = ztf_epochs(p["t_start"], p["t_end"], rng=rng)
    truth = population.flux(p, epochs.obj, epochs.mjd, epochs.band, rng)
    # Real alerts reach magnitude errors of 0.26 at 20.5-21 (astro-facts): the PSF-fit noise of a detection at the
    # alert limit is ~1.25x the nominal 5-sigma sky noise, i.e. alerts fire at S/N ~4 of the reported error.
    flux_err = ztf_flux_error(truth, mag_limit=epochs.mag_limit - _PSF_NOISE_MAG)
    flux = truth + flux_err * rng.standard_normal(len(truth))
    detected = flux >= mag_to_flux(epochs.mag_limit)  # the exposure's alert limit
    size = len(p["t_start"])
    n_band = [np.bincount(epochs.obj[detected & (epochs.band == b)], minlength=size) for b in range(len(ZTF_BANDS))]
    accepted = (sum(n_band) >= MIN_DETECTIONS) & np.all(np.array(n_band) > 0, axis=0)
    keep = detected & accepted[epochs.obj]
    new_index = np.cumsum(accepted) - 1
    rows = _Rows(new_index[epochs.obj[keep]], epochs.mjd[keep], flux[keep], flux_err[keep], epochs.band[keep],
                 truth[keep])
    return accepted, rows


def _simulate_class(population: _Population, ids: list[str], rng: np.random.Generator) -> list[TransientLightCurve]:
    """Draw, observe and select objects of one class until ``len(ids)`` pass, then build their light curves."""
    count = len(ids)
    params: list[Params] = []
    rows: list[_Rows] = []
    have, rate = 0, population.expected_acceptance
    for _ in range(_MAX_ROUNDS):
        if have >= count:
            break
        size = int(np.ceil((count - have) / rate * 1.05)) + 8
        p = population.draw(rng, size)
        accepted, batch_rows = _observe(population, p, rng)
        params.append({key: value[accepted] for key, value in p.items()})
        rows.append(batch_rows._replace(obj=batch_rows.obj + have))
        have += int(accepted.sum())
        rate = max((accepted.sum() + 1.0) / (size + 1.0), 0.02)
    else:
        raise RuntimeError(f"could not select {count} {population.name} light curves in {_MAX_ROUNDS} rounds")
    p = {key: np.concatenate([batch[key] for batch in params])[:count] for key in params[0]}
    all_rows = _Rows(*(np.concatenate(column) for column in zip(*rows, strict=True)))
    all_rows = all_rows.take(all_rows.obj < count)
    peak_mjd, redshift, meta = population.describe(p, all_rows)
    return _light_curves(population.name, ids, all_rows, peak_mjd, redshift, meta)


def _light_curves(name: str, ids: list[str], rows: _Rows, peak_mjd: np.ndarray, redshift: list[float | None],
                  meta: list[dict[str, Any]]) -> list[TransientLightCurve]:
    bounds = np.cumsum(np.bincount(rows.obj, minlength=len(ids)))[:-1]
    band_names = np.array(ZTF_BANDS)[rows.band]
    columns = [np.split(column, bounds) for column in (rows.mjd, rows.flux, rows.flux_err, band_names)]
    return [
        TransientLightCurve(mjd, flux, err, band, object_id=oid, transient_type=name, peak_mjd=peak, redshift=z,
                            meta=info)
        for mjd, flux, err, band, oid, peak, z, info in zip(*columns, ids, peak_mjd.tolist(), redshift, meta,
                                                             strict=True)
    ]


def _segment_cumsum(values: np.ndarray, obj: np.ndarray) -> np.ndarray:
    """Cumulative sum restarted at every new value of the sorted index ``obj``."""
    total = np.cumsum(values)
    new = np.r_[True, obj[1:] != obj[:-1]]
    first = np.flatnonzero(new)
    return total - (total[first] - values[first])[np.cumsum(new) - 1]


def _brightest_detection(rows: _Rows, count: int) -> np.ndarray:
    """Row index of each object's (first) detection with the largest true flux; every object has detections."""
    starts = np.searchsorted(rows.obj, np.arange(count))
    brightest = np.flatnonzero(rows.truth == np.maximum.reduceat(rows.truth, starts)[rows.obj])
    return brightest[np.unique(rows.obj[brightest], return_index=True)[1]]


def _records(columns: Mapping[str, Any], count: int) -> list[dict[str, Any]]:
    """Per-object metadata dicts from columns (arrays, or one constant) of plain Python values."""
    lists = {key: (value.tolist() if isinstance(value, np.ndarray) else [value] * count)
             for key, value in columns.items()}
    for key, values in lists.items():  # NaN means "not applicable": None reads better and survives JSON
        if any(v != v for v in values):
            lists[key] = [None if v != v else v for v in values]
    return [dict(zip(lists, values, strict=True)) for values in zip(*lists.values(), strict=True)]


def _classified_fraction(peak_mag: np.ndarray) -> np.ndarray:
    """Share of explosive transients of a given peak magnitude that end up in a labelled (classified) sample.

    Labels come from spectra: the Bright Transient Survey classifies nearly everything brighter than 18.5 mag
    (Fremling et al. 2020, Perley et al. 2020) and fainter objects ever more rarely. A logistic with half
    completeness at 19.1 mag gives the typical labelled transient ~26 detections over ~50 d (astro-facts.md).
    """
    return 1.0 / (1.0 + np.exp((peak_mag - _CLASSIFIED_HALF_MAG) / _CLASSIFIED_WIDTH_MAG))


# ----------------------------------------------------------------------------------------------------- explosive
@dataclass(frozen=True)
class _ExplosiveSpec:
    """Population parameters of an explosive transient class (observer frame unless named ``_rest``)."""

    rise: _Skewed  # half max → peak, days (astro-facts.md)
    fade: _Skewed  # peak → half max, days
    rise_fade_correlation: float
    z_max: float  # nothing brighter than the deepest limit lies beyond
    rate_index: float  # volumetric rate ∝ (1 + z)^index
    z_typical: float  # median redshift of the detected sample: the published times are at this 1 + z
    colour_peak: tuple[float, float, float, float]  # g − r at peak: mean, sd, min, max
    colour_change: tuple[float, float]  # reddening after peak: mean, sd (mag)
    colour_timescale_rest: tuple[float, float]  # uniform range (days, rest frame)
    colour_power: float  # 2: stays blue a few days after peak; 1: reddens at once


class _Explosive(_Population):
    """SN-like classes: a unit-peak shape in the g/r-mean band, a peak magnitude from distance, a colour."""

    spec: _ExplosiveSpec

    def draw(self, rng: np.random.Generator, size: int) -> Params:
        p = self._draw_visible(rng, size)
        dilation = (1.0 + p["redshift"]) / (1.0 + self.spec.z_typical)
        p["rise_target"] = self.spec.rise.at(p.pop("rise_score")) * dilation
        p["fade_target"] = self.spec.fade.at(p.pop("fade_score")) * dilation
        self._draw_shape(rng, p)
        spec = self.spec
        p["colour_peak"] = _clipped_normal(rng, *spec.colour_peak, size)
        p["colour_change"] = rng.normal(*spec.colour_change, size)
        p["colour_timescale"] = rng.uniform(*spec.colour_timescale_rest, size) * (1.0 + p["redshift"])
        p["colour_weight"] = self._colour_weight(p)
        p["peak_mjd"] = rng.uniform(ZTF_SURVEY_START_MJD + _PEAK_MARGIN_DAYS, ZTF_SURVEY_END_MJD - _PEAK_MARGIN_DAYS,
                                    size)
        before, after = self._window(p)
        p["t_start"] = np.maximum(p["peak_mjd"] - before, ZTF_SURVEY_START_MJD)
        p["t_end"] = np.minimum(p["peak_mjd"] + after, ZTF_SURVEY_END_MJD)
        return p

    def _draw_visible(self, rng: np.random.Generator, size: int) -> Params:
        """Subtype, luminosity, redshift and light-curve width scores of objects that can enter the sample.

        Cheap cuts on the model peak before anything is observed: an object fainter than the deepest limit can
        never pass selection, and a labelled sample keeps an object with the classification completeness of its
        peak magnitude (:func:`_classified_fraction`).
        """
        chunks: list[Params] = []
        have, rate = 0, 0.2
        while have < size:
            trial = int((size - have) / rate * 1.2) + 16
            subtype, abs_mag = self._draw_luminosity(rng, trial)
            rise_score, fade_score = _correlated_normals(rng, trial, self.spec.rise_fade_correlation)
            abs_mag = abs_mag + self._luminosity_width(fade_score)
            z = _draw_redshift(rng, trial, self.spec.z_max, self.spec.rate_index)
            mu = _distance_modulus(z)
            peak_mag = abs_mag + mu
            visible = (peak_mag - 0.3 < ZTF_DEEPEST_MAG_LIMIT) & (rng.random(trial) < _classified_fraction(peak_mag))
            chunk = {"subtype": subtype, "peak_abs_mag": abs_mag, "redshift": z, "distance_modulus": mu,
                     "peak_mag": peak_mag, "rise_score": rise_score, "fade_score": fade_score}
            chunks.append({key: value[visible] for key, value in chunk.items()})
            have += int(visible.sum())
            rate = max((visible.sum() + 1.0) / trial, 1e-3)
        return {key: np.concatenate([c[key] for c in chunks])[:size] for key in chunks[0]}

    def _draw_luminosity(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Subtype label and peak absolute magnitude (g/r mean) before any stretch correlation."""
        raise NotImplementedError

    def _luminosity_width(self, z_fade: np.ndarray) -> np.ndarray | float:
        """Magnitude offset tied to the light-curve width (the Phillips relation for SN Ia)."""
        return 0.0

    def _draw_shape(self, rng: np.random.Generator, p: Params) -> None:
        """Add the shape parameters to ``p`` (unit peak at ``peak_mjd``)."""
        raise NotImplementedError

    def _colour_weight(self, p: Params) -> np.ndarray:
        """Share ``w`` of the colour carried by g: 0.5 when the model band is the g/r mean, 1 when it is r."""
        return np.full(len(p["redshift"]), 0.5)

    def _window(self, p: Params) -> tuple[np.ndarray, np.ndarray]:
        """Days before and after peak within which the object can be detected at all."""
        return 8.0 * p["rise_target"] + 30.0, np.minimum(15.0 * p["fade_target"] + 60.0, 700.0)

    def _unit(self, p: Params, obj: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The shape, 1 at ``peak_mjd``, of objects ``obj`` at times ``t``."""
        raise NotImplementedError

    def _colour(self, p: Params, obj: np.ndarray, t: np.ndarray) -> np.ndarray:
        return colour_evolution(t - p["peak_mjd"][obj], p["colour_peak"][obj], p["colour_change"][obj],
                                p["colour_timescale"][obj], self.spec.colour_power)

    def _band_offset(self, p: Params, obj: np.ndarray, t: np.ndarray, band: np.ndarray) -> np.ndarray:
        """Magnitude of each band minus the model band: ``w·(g−r)`` for g and ``−(1−w)·(g−r)`` for r."""
        colour, weight = self._colour(p, obj, t), p["colour_weight"][obj]
        return np.where(band == 0, weight, weight - 1.0) * colour

    def flux(self, p: Params, obj: np.ndarray, mjd: np.ndarray, band: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        offset = self._band_offset(p, obj, mjd, band)
        return mag_to_flux(p["peak_mag"][obj] + offset) * self._unit(p, obj, mjd)

    def describe(self, p: Params, rows: _Rows) -> tuple[np.ndarray, list[float | None], list[dict[str, Any]]]:
        count = len(p["peak_mjd"])
        index = np.arange(count)
        g_band, r_band = np.zeros(count, dtype=int), np.ones(count, dtype=int)

        def model_band(t: np.ndarray) -> np.ndarray:
            return self._unit(p, index, t)

        def mean_band(t: np.ndarray) -> np.ndarray:  # flux of the g/r-mean magnitude, in model-band units
            offset = self._band_offset(p, index, t, g_band) + self._band_offset(p, index, t, r_band)
            return model_band(t) * 10.0 ** (-0.2 * offset)

        window = 5.0 * (1.0 + p["redshift"])  # the g/r mean peaks within days of the model band
        mean_peak = peak_time(mean_band, p["peak_mjd"] - window, p["peak_mjd"] + window)
        half_before, half_after = level_crossings(mean_band, mean_peak, 0.5)
        onset, _ = level_crossings(model_band, p["peak_mjd"], 0.01)
        peak_g, peak_r = (p["peak_mag"] + self._band_offset(p, index, p["peak_mjd"], band) for band in (g_band, r_band))
        columns = {
            "class": self.name, "subtype": p["subtype"], "redshift": p["redshift"],
            "distance_modulus": p["distance_modulus"], "peak_abs_mag": 0.5 * (peak_g + peak_r) - p["distance_modulus"],
            "peak_mag_g": peak_g, "peak_mag_r": peak_r, "colour_peak": peak_g - peak_r,
            "rise_time": mean_peak - half_before, "fade_time": half_after - mean_peak, "onset_mjd": onset,
            **self._extra_meta(p),
        }
        return p["peak_mjd"], p["redshift"].tolist(), _records(columns, count)

    def _extra_meta(self, p: Params) -> dict[str, np.ndarray]:
        return {}


class _BazinShaped(_Explosive):
    """Explosive transients with a Bazin shape whose half-max rise and fade are the drawn ones."""

    def _draw_shape(self, rng: np.random.Generator, p: Params) -> None:
        p["tau_rise"], p["tau_fall"] = bazin_time_scales(p["rise_target"], p["fade_target"])

    def _unit(self, p: Params, obj: np.ndarray, t: np.ndarray) -> np.ndarray:
        return bazin_unit(t, p["peak_mjd"][obj], p["tau_rise"][obj], p["tau_fall"][obj])


class _SNIa(_BazinShaped):
    name = "SNIa"
    expected_acceptance = 0.7
    spec = _ExplosiveSpec(
        # Published 9.7 [6.6, 13.9] and 14.3 [9.8, 20.6] d hold for the *selected* sample, where broad (bright) SNe
        # Ia are favoured; drawing ~10 % shorter reproduces them after selection.
        rise=_Skewed(8.8, 6.0, 12.6), fade=_Skewed(12.8, 8.8, 18.5),
        rise_fade_correlation=0.6,  # one stretch sets both (broader SNe Ia rise and decline slower)
        z_max=0.3, rate_index=1.5,  # SN Ia rate ∝ (1 + z)^1.5 at low z (Dilday et al. 2010)
        z_typical=0.07,
        colour_peak=(-0.07, 0.08, -0.3, 0.25),  # g − r ≈ −0.1…0 at maximum
        colour_change=(1.05, 0.12),  # ~1 mag redder a month after maximum
        colour_timescale_rest=(16.0, 21.0), colour_power=2.0,
    )
    _MEAN_ABS_MAG, _INTRINSIC_SCATTER = -19.05, 0.2  # astro-facts −19.2 for the detected sample
    _PHILLIPS_MAG_PER_SIGMA = 0.25  # slower-declining SNe Ia are brighter (Phillips 1993)

    def _draw_luminosity(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(size, "Ia"), rng.normal(self._MEAN_ABS_MAG, self._INTRINSIC_SCATTER, size)

    def _luminosity_width(self, z_fade: np.ndarray) -> np.ndarray:
        return -self._PHILLIPS_MAG_PER_SIGMA * z_fade


class _SNII(_BazinShaped):
    """SN II: a plateau (IIP, Villar model) for a fraction, a Bazin shape (II-L-like, IIb, IIn) for the rest."""

    name = "SNII"
    expected_acceptance = 0.75
    spec = _ExplosiveSpec(
        # The published fade range (11.8–50 d) covers all SN II; the plateau SNe make its long tail, so the Bazin
        # part is drawn a little faster: with the plateaus the mix has the published median and range.
        rise=_Skewed(11.3, 4.1, 28.1), fade=_Skewed(20.0, 10.5, 38.0),
        rise_fade_correlation=0.3,
        z_max=0.2, rate_index=2.7,  # core-collapse rate follows star formation, ∝ (1 + z)^2.7 (Madau & Dickinson 2014)
        z_typical=0.035,
        colour_peak=(0.05, 0.12, -0.25, 0.4),  # redder than SN Ia at maximum
        colour_change=(1.0, 0.2),
        colour_timescale_rest=(10.0, 25.0), colour_power=1.0,  # reddens from maximum on
    )
    _PLATEAU_FRACTION = 0.3
    # Peak absolute magnitudes (g/r mean): IIP fainter than II-L (Richardson et al. 2014: −16.8 and −18.0 in B,
    # volume-limited); set so that the detected SN II average the astro-facts −17.7.
    _ABS_MAG = {"IIP": (-16.4, 0.8), "II": (-16.9, 0.8)}

    def _draw_luminosity(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        plateau = rng.random(size) < self._PLATEAU_FRACTION
        abs_mag = np.where(plateau, rng.normal(*self._ABS_MAG["IIP"], size), rng.normal(*self._ABS_MAG["II"], size))
        return np.where(plateau, "IIP", "II"), abs_mag

    def _draw_shape(self, rng: np.random.Generator, p: Params) -> None:
        super()._draw_shape(rng, p)
        size, stretch = len(p["redshift"]), 1.0 + p["redshift"]
        # Villar et al. (2019) plateau in r (rest frame): a rise of 1-5 d (τr), a ~100 d plateau from mid-rise (γ)
        # losing 20-70 % of its flux (0.25-1.3 mag per 100 d, as observed r-band plateau slopes), then the drop off
        # the plateau. g follows with the reddening colour, so it fades ~1 mag more in the first month.
        p["plateau_tau_rise"] = _log_uniform(rng, 1.0, 5.0, size) * stretch
        p["plateau_days"] = _clipped_normal(rng, 100.0, 15.0, 60.0, 140.0, size) * stretch
        p["plateau_beta"] = rng.uniform(0.2, 0.7, size)
        p["plateau_tau_fall"] = rng.uniform(5.0, 20.0, size) * stretch

        def unit_at_zero_t0(x: np.ndarray) -> np.ndarray:
            return villar(x, 1.0, 0.0, p["plateau_days"], p["plateau_beta"], p["plateau_tau_rise"],
                          p["plateau_tau_fall"])

        p["plateau_peak_offset"] = peak_time(unit_at_zero_t0, -10.0 * p["plateau_tau_rise"], p["plateau_days"])
        p["plateau_norm"] = unit_at_zero_t0(p["plateau_peak_offset"])

    def _colour_weight(self, p: Params) -> np.ndarray:
        return np.where(p["subtype"] == "IIP", 1.0, 0.5)  # the plateau model is the r band; g fades off it

    def _window(self, p: Params) -> tuple[np.ndarray, np.ndarray]:
        before, after = super()._window(p)
        plateau = p["subtype"] == "IIP"
        before = np.where(plateau, 10.0 * p["plateau_tau_rise"] + 40.0, before)
        after = np.where(plateau, p["plateau_days"] + 15.0 * p["plateau_tau_fall"] + 60.0, after)
        return before, after

    def _unit(self, p: Params, obj: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = super()._unit(p, obj, t)
        plateau = p["subtype"][obj] == "IIP"
        o = obj[plateau]
        out[plateau] = villar(t[plateau], 1.0 / p["plateau_norm"][o], p["peak_mjd"][o] - p["plateau_peak_offset"][o],
                              p["plateau_days"][o], p["plateau_beta"][o], p["plateau_tau_rise"][o],
                              p["plateau_tau_fall"][o])
        return out

    def _extra_meta(self, p: Params) -> dict[str, np.ndarray]:
        return {"plateau_days": np.where(p["subtype"] == "IIP", p["plateau_days"], np.nan)}


class _TDE(_Explosive):
    name = "TDE"
    expected_acceptance = 0.85
    spec = _ExplosiveSpec(
        # Published 12.8 [7.8, 25.7] and 32.4 [17.3, 58.8] d, drawn ~6 % shorter: longer TDEs pass selection more.
        rise=_Skewed(12.0, 7.3, 24.2), fade=_Skewed(30.0, 16.0, 54.4),
        rise_fade_correlation=0.4,
        z_max=0.45, rate_index=0.0,  # no strong evolution at z < 0.45
        z_typical=0.08,
        colour_peak=(-0.2, 0.06, -0.35, -0.05),  # blue: g − r ≈ −0.3…−0.1 (T ~ 2-4 × 10^4 K)
        colour_change=(0.1, 0.08),  # slow colour evolution: a tenth of a magnitude over months
        colour_timescale_rest=(60.0, 150.0), colour_power=1.0,
    )
    _ABS_MAG = (-19.2, 0.5)  # astro-facts −19.5 for the detected sample

    def _draw_luminosity(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(size, "TDE"), rng.normal(*self._ABS_MAG, size)

    def _draw_shape(self, rng: np.random.Generator, p: Params) -> None:
        p["sigma_rise"] = p["rise_target"] / np.sqrt(2.0 * np.log(2.0))
        p["t0_fall"] = p["fade_target"] / (2.0 ** (3.0 / 5.0) - 1.0)

    def _unit(self, p: Params, obj: np.ndarray, t: np.ndarray) -> np.ndarray:
        return tde_unit(t, p["peak_mjd"][obj], p["sigma_rise"][obj], p["t0_fall"][obj])


# ----------------------------------------------------------------------------------------------------- stochastic
_AGN_SF_G_OVER_R = (482.0 / 622.0) ** -0.479  # SF ∝ λ^−0.479 (MacLeod et al. 2010): larger in g


def _multi_year_window(rng: np.random.Generator, size: int, years: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Windows of ``years`` (uniform) ending within 200 d of the survey end, clipped to the survey start."""
    end = ZTF_SURVEY_END_MJD - rng.uniform(0.0, 200.0, size)
    start = np.maximum(end - 365.25 * rng.uniform(*years, size), ZTF_SURVEY_START_MJD)
    return start, end


class _AGN(_Population):
    """Damped random walk in magnitude around a mean that is detected most of the time."""

    name = "AGN"
    expected_acceptance = 0.99

    def draw(self, rng: np.random.Generator, size: int) -> Params:
        z = np.clip(rng.lognormal(np.log(0.7), 0.6, size), 0.03, 3.5)  # ZTF-detected AGN: Seyferts to quasars
        mean_r = rng.uniform(17.5, 19.9, size)  # bright enough to be detected in most epochs
        sf_r = rng.uniform(0.20, 0.35, size)  # SF∞ (mag), MacLeod et al. (2010)
        t_start, t_end = _multi_year_window(rng, size, (1.2, 4.0))
        tau_rest = rng.uniform(300.0, 400.0, size)  # DRW τ in the rest frame (days), MacLeod et al. (2010)
        return {
            "redshift": z, "distance_modulus": _distance_modulus(z), "mean_mag_r": mean_r,
            "mean_mag_g": mean_r + _clipped_normal(rng, 0.25, 0.15, -0.2, 0.8, size),
            "sf_inf_r": sf_r, "sf_inf_g": sf_r * _AGN_SF_G_OVER_R, "tau_rest": tau_rest,
            "tau_obs": tau_rest * (1.0 + z), "t_start": t_start, "t_end": t_end,
        }

    def flux(self, p: Params, obj: np.ndarray, mjd: np.ndarray, band: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        walk = _damped_random_walk(obj, mjd, p["tau_obs"], rng)  # one process for both bands: g and r move together
        mean = np.where(band == 0, p["mean_mag_g"][obj], p["mean_mag_r"][obj])
        sf = np.where(band == 0, p["sf_inf_g"][obj], p["sf_inf_r"][obj])
        return mag_to_flux(mean + sf / np.sqrt(2.0) * walk)  # stationary sd = SF∞ / √2

    def describe(self, p: Params, rows: _Rows) -> tuple[np.ndarray, list[float | None], list[dict[str, Any]]]:
        count = len(p["redshift"])
        brightest = _brightest_detection(rows, count)
        keys = ("redshift", "distance_modulus", "mean_mag_g", "mean_mag_r", "tau_rest", "tau_obs", "sf_inf_g",
                "sf_inf_r")
        columns = {"class": self.name, "subtype": "AGN", **{key: p[key] for key in keys},
                   "mean_abs_mag_r": p["mean_mag_r"] - p["distance_modulus"]}  # no K-correction
        return rows.mjd[brightest], p["redshift"].tolist(), _records(columns, count)


def _damped_random_walk(obj: np.ndarray, t: np.ndarray, tau: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck process at sorted times ``t`` of each object, exactly sampled.

    ``x_k = a_k x_{k−1} + √(1 − a_k²) ε_k`` with ``a_k = e^{−Δt/τ}``, solved for all objects at once as a cumulative
    sum of ``√(1 − a_k²) ε_k e^{(t_k − t_0)/τ}`` (the exponent stays below ~10 for multi-year windows and τ ≥ 300 d).
    """
    new = np.r_[True, obj[1:] != obj[:-1]]
    first_t = t[new][np.cumsum(new) - 1]
    scale = np.exp((t - first_t) / tau[obj])
    step = np.maximum(np.diff(t, prepend=t[:1]), 0.0) / tau[obj]  # the first time of an object has no step
    innovation = np.where(new, 1.0, np.sqrt(-np.expm1(-2.0 * step)))
    return _segment_cumsum(innovation * rng.standard_normal(len(t)) * scale, obj) / scale


class _CV(_Population):
    """Dwarf novae: outbursts of 2-9 mag from a quiescence that is usually below the detection limit."""

    name = "CV"
    expected_acceptance = 0.7
    _SU_UMA_FRACTION = 0.4  # short-period dwarf novae with superoutbursts
    _WZ_SGE_RECURRENCE = 700.0  # SU UMa stars recurring slower than this show only (super)outbursts: WZ Sge-like
    _KEY_SCALE = 1e6  # days: time keys ``object · scale + (t − first onset)`` sort all objects at once

    def draw(self, rng: np.random.Generator, size: int) -> Params:
        recurrence = _log_uniform(rng, 12.0, 2000.0, size)  # weeks to years
        # Kukarkin-Parenago relation A = 0.7 + 1.9 log10 T_n (Warner 1995): rarer outbursts are larger.
        amplitude = np.clip(0.7 + 1.9 * np.log10(recurrence) + rng.normal(0.0, 0.4, size), 2.0, 9.0)
        # Outburst peak (g/r mean): Galactic counts N(<m) ∝ 10^{0.3 m} between 13.5 (ZTF saturation) and 19.5.
        peak = 13.5 + np.log10(1.0 + rng.random(size) * (10.0 ** (0.3 * 6.0) - 1.0)) / 0.3
        su_uma = rng.random(size) < self._SU_UMA_FRACTION
        wz_sge = su_uma & (recurrence > self._WZ_SGE_RECURRENCE)
        supercycle = np.where(su_uma, np.maximum(recurrence * rng.uniform(4.0, 10.0, size), 80.0), np.inf)
        t_start, t_end = _multi_year_window(rng, size, (1.0, 4.0))
        return {
            "subtype": np.where(wz_sge, "WZ Sge", np.where(su_uma, "SU UMa", "U Gem")),
            "recurrence_days": recurrence, "amplitude": amplitude, "outburst_peak_mag": peak,
            "quiescent_mag": peak + amplitude, "su_uma": su_uma, "wz_sge": wz_sge, "supercycle_days": supercycle,
            "supercycle_phase": rng.uniform(0.0, 1.0, size) * np.where(su_uma, supercycle, 1.0),
            "first_onset": t_start - rng.uniform(0.0, 1.0, size) * recurrence,
            "rise_days": rng.uniform(0.5, 2.0, size), "top_days": rng.uniform(0.5, 3.0, size),
            "top_decline": rng.uniform(0.05, 0.15, size),  # mag/d
            "decline_days_per_mag": rng.uniform(0.7, 3.0, size),  # Bailey relation range
            "super_extra_mag": rng.uniform(0.5, 1.0, size),  # superoutbursts are brighter ...
            "super_plateau_days": rng.uniform(8.0, 16.0, size),  # ... and plateau for 1-2 weeks
            "super_plateau_decline": rng.uniform(0.05, 0.12, size),
            "colour_outburst": rng.normal(0.0, 0.1, size),  # g − r: hot disc in outburst ...
            "colour_quiescence": rng.normal(0.5, 0.2, size),  # ... redder in quiescence
            "t_start": t_start, "t_end": t_end,
        }

    def _outbursts(self, p: Params, rng: np.random.Generator) -> Params:
        """Quasi-periodic outburst onsets (recurrence ±40 %) covering each window, flat and sorted by object."""
        recurrence = p["recurrence_days"]
        n_per = np.ceil((p["t_end"] - p["first_onset"]) / (0.6 * recurrence)).astype(int) + 1
        obj = np.repeat(np.arange(len(recurrence)), n_per)
        gaps = recurrence[obj] * rng.uniform(0.6, 1.4, len(obj))
        gaps[np.r_[True, obj[1:] != obj[:-1]]] = 0.0
        onset = p["first_onset"][obj] + _segment_cumsum(gaps, obj)
        cycle = np.floor((onset - p["supercycle_phase"][obj]) / np.where(p["su_uma"], p["supercycle_days"], 1.0)[obj])
        previous = np.r_[cycle[:1], cycle[:-1]]
        first = np.r_[True, obj[1:] != obj[:-1]]
        chance_first = rng.random(len(obj)) < recurrence[obj] / p["supercycle_days"][obj]
        new_cycle = np.where(first, chance_first, cycle != previous)
        is_super = p["su_uma"][obj] & (new_cycle | p["wz_sge"][obj])
        amplitude = np.maximum(p["amplitude"][obj] + rng.normal(0.0, 0.3, len(obj)), 1.5)
        return {
            "obj": obj, "onset": onset,
            "amplitude": amplitude + np.where(is_super, p["super_extra_mag"][obj], 0.0),
            "rise": p["rise_days"][obj],
            "top": np.where(is_super, p["super_plateau_days"][obj], p["top_days"][obj]),
            "top_decline": np.where(is_super, p["super_plateau_decline"][obj], p["top_decline"][obj]),
            "decline": p["decline_days_per_mag"][obj],
        }

    def flux(self, p: Params, obj: np.ndarray, mjd: np.ndarray, band: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        bursts = self._outbursts(p, rng)
        first = p["first_onset"]
        keys = bursts["obj"] * self._KEY_SCALE + (bursts["onset"] - first[bursts["obj"]])
        latest = np.searchsorted(keys, obj * self._KEY_SCALE + (mjd - first[obj]), side="right") - 1
        brightening = np.zeros(len(mjd))
        for index in (latest, latest - 1):  # the latest outburst and the one before, which may still be fading
            valid = (index >= 0) & (bursts["obj"][np.maximum(index, 0)] == obj)
            i = index[valid]
            brightening[valid] = np.maximum(brightening[valid], dwarf_nova_outburst(
                mjd[valid] - bursts["onset"][i], bursts["amplitude"][i], bursts["rise"][i], bursts["top"][i],
                bursts["top_decline"][i], bursts["decline"][i]))
        fraction = np.clip(brightening / p["amplitude"][obj], 0.0, 1.0)
        colour = p["colour_quiescence"][obj] + (p["colour_outburst"][obj] - p["colour_quiescence"][obj]) * fraction
        return mag_to_flux(p["quiescent_mag"][obj] - brightening + 0.5 * _BAND_SIGN[band] * colour)

    def describe(self, p: Params, rows: _Rows) -> tuple[np.ndarray, list[float | None], list[dict[str, Any]]]:
        count = len(p["amplitude"])
        brightest = _brightest_detection(rows, count)
        keys = ("subtype", "quiescent_mag", "outburst_peak_mag", "amplitude", "recurrence_days")
        columns = {"class": self.name, **{key: p[key] for key in keys},
                   "supercycle_days": np.where(p["su_uma"], p["supercycle_days"], np.nan)}
        return rows.mjd[brightest], [None] * count, _records(columns, count)


_POPULATIONS: dict[str, _Population] = {pop.name: pop for pop in (_SNIa(), _SNII(), _CV(), _AGN(), _TDE())}
