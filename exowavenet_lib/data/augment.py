"""Light-curve augmentations: each takes a light curve and returns a new, randomly perturbed one.

They never mutate their input (light-curve columns are read-only anyway) and compose with :class:`Compose`::

    augment = Compose([DropPoints(0.2, seed=1), TimeStretch(seed=2), AddNoise(0.5, seed=3)])
    dataset = LightCurveDataset(light_curves, labels, augment=augment)

Randomness
----------
Every augmentation owns a ``numpy.random.Generator``, built from ``seed`` (an int, a ``SeedSequence``, a
``Generator`` that is used as is, or None for fresh OS entropy). In the main process the same seed gives the same
sequence of perturbations. A ``DataLoader`` with ``num_workers > 0`` copies the augmentation into every worker, which
would make the workers repeat each other's "random" draws; so inside a worker the generator is re-seeded once, from
the augmentation's seed *and* the worker's seed (``get_worker_info().seed``: PyTorch derives it from its global
generator for each epoch's workers). Workers therefore draw different numbers, epochs differ, and the whole run is
reproducible after :func:`exowavenet_lib.seed_everything` — no ``worker_init_fn`` needed.

Note that the curriculum's features measure time from the first observation, so a :class:`TimeShift` of the whole
light curve does not change them; it matters for features that use absolute time (MJD, season, moon phase).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from exowavenet_lib.lightcurves import LightCurve, TransientLightCurve

__all__ = ["AddNoise", "Augmentation", "Compose", "DetectionThreshold", "DropPoints", "RandomApply",
           "ReferenceSubtraction", "SeedLike", "TimeShift", "TimeStretch", "TruncateEarly", "WorkerRNG"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def _worker_seed() -> int | None:
    """The current DataLoader worker's seed, or None in the main process (torch is not imported for this)."""
    torch = sys.modules.get("torch")
    if torch is None:  # no torch loaded, so certainly no DataLoader worker
        return None
    info = torch.utils.data.get_worker_info()
    return None if info is None else int(info.seed)


class WorkerRNG:
    """A NumPy generator that re-seeds itself once per DataLoader worker (see the module docstring)."""

    def __init__(self, seed: SeedLike = None, *, name: str = "seed") -> None:
        if isinstance(seed, np.random.Generator):
            self._generator = seed
            entropy = seed.bit_generator.seed_seq
            self._seed_seq = entropy if isinstance(entropy, np.random.SeedSequence) else None
        elif seed is None or isinstance(seed, np.random.SeedSequence):
            self._seed_seq = seed if seed is not None else np.random.SeedSequence()
            self._generator = np.random.default_rng(self._seed_seq)
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            if seed < 0:
                raise ValueError(f"{name} must be a non-negative int, got {seed}")
            self._seed_seq = np.random.SeedSequence(int(seed))
            self._generator = np.random.default_rng(self._seed_seq)
        else:
            raise TypeError(f"{name} must be an int, a numpy SeedSequence or Generator, or None; got {seed!r}")
        if self._seed_seq is None:  # a Generator without a SeedSequence: draw the entropy for workers from it
            self._seed_seq = np.random.SeedSequence(int(self._generator.integers(2**63)))
        self._worker_seed: int | None = None

    @property
    def generator(self) -> np.random.Generator:
        """The generator to draw from in this process (re-seeded the first time it is used in a new worker)."""
        worker_seed = _worker_seed()
        if worker_seed is not None and worker_seed != self._worker_seed:
            seq = np.random.SeedSequence(self._seed_seq.entropy, spawn_key=(*self._seed_seq.spawn_key, worker_seed))
            self._generator = np.random.default_rng(seq)
            self._worker_seed = worker_seed
        return self._generator


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _replace(lc: LightCurve, *, peak_mjd: float | None = None, **columns: np.ndarray) -> LightCurve:
    """A new light curve of the same kind and metadata with some columns (and the peak time) replaced."""
    cols = {"mjd": lc.mjd, "flux": lc.flux, "flux_err": lc.flux_err, "band": lc.band, **columns}
    if isinstance(lc, TransientLightCurve):
        return TransientLightCurve(
            **cols,
            object_id=lc.object_id,
            transient_type=lc.transient_type,
            peak_mjd=lc.peak_mjd if peak_mjd is None else peak_mjd,
            redshift=lc.redshift,
            meta=dict(lc.meta),
        )
    return LightCurve(**cols, meta=dict(lc.meta))


class Augmentation:
    """Base class: a seeded, non-mutating transformation ``lc -> new lc`` (subclasses define :meth:`apply`)."""

    def __init__(self, seed: SeedLike = None) -> None:
        self._rng = WorkerRNG(seed)

    @property
    def rng(self) -> np.random.Generator:
        """This augmentation's generator (per DataLoader worker)."""
        return self._rng.generator

    def __call__(self, lc: LightCurve) -> LightCurve:
        if not isinstance(lc, LightCurve):
            raise TypeError(f"lc must be a LightCurve or TransientLightCurve, got {type(lc).__name__}")
        return self.apply(lc, self.rng)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """Return the perturbed copy of ``lc``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class AddNoise(Augmentation):
    """Add Gaussian noise of standard deviation ``scale * flux_err`` to every flux (``scale=0``: identity).

    With ``inflate_errors=True`` the errors grow to ``flux_err * sqrt(1 + scale**2)``, the total noise of the new
    fluxes; by default they are kept as reported, like a re-observation with the same instrument.
    """

    def __init__(self, scale: float = 1.0, *, inflate_errors: bool = False, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.scale = _positive("scale", scale, allow_zero=True)
        self.inflate_errors = bool(inflate_errors)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """Noisy copy of ``lc``."""
        flux = lc.flux + self.scale * lc.flux_err * rng.standard_normal(len(lc))
        err = lc.flux_err * np.sqrt(1.0 + self.scale**2) if self.inflate_errors else lc.flux_err
        return _replace(lc, flux=flux, flux_err=err)


class TimeShift(Augmentation):
    """Shift all times (and the peak time) by one offset drawn uniformly from ``[-max_days, max_days]``."""

    def __init__(self, max_days: float, *, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.max_days = _positive("max_days", max_days, allow_zero=True)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """Time-shifted copy of ``lc``."""
        shift = rng.uniform(-self.max_days, self.max_days)
        peak = getattr(lc, "peak_mjd", None)
        return _replace(lc, mjd=lc.mjd + shift, peak_mjd=None if peak is None else peak + shift)


class TimeStretch(Augmentation):
    """Stretch times about the first observation by a factor drawn log-uniformly from ``range`` (low, high).

    A proxy for redshift time dilation (durations scale with ``1 + z``): a factor ``s`` maps ``t`` to
    ``t0 + s * (t - t0)``, so every duration is multiplied by ``s``. Log-uniform makes ``s`` and ``1 / s`` equally
    likely for the default ``(0.8, 1.25)``. Fluxes and ``redshift`` are left unchanged.
    """

    def __init__(self, range: tuple[float, float] = (0.8, 1.25), *, seed: SeedLike = None) -> None:
        super().__init__(seed)
        if not isinstance(range, Sequence) or isinstance(range, str) or len(range) != 2:
            raise TypeError(f"range must be a (low, high) pair of stretch factors, got {range!r}")
        low, high = (_positive("range", r) for r in range)
        if low > high:
            raise ValueError(f"range must have low <= high, got {range!r}")
        self.range = (low, high)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """Time-stretched copy of ``lc``."""
        low, high = self.range
        factor = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        t0 = lc.mjd[0]
        peak = getattr(lc, "peak_mjd", None)
        new_peak = None if peak is None else t0 + factor * (peak - t0)
        return _replace(lc, mjd=t0 + factor * (lc.mjd - t0), peak_mjd=new_peak)


class DropPoints(Augmentation):
    """Drop each observation independently with probability ``fraction`` (in [0, 1)), always keeping at least one.

    When every point would be dropped, one point chosen at random survives, so a light curve of ``n`` points loses
    ``fraction * n`` points on average (a little less for tiny ``n``) and never becomes empty.
    """

    def __init__(self, fraction: float, *, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.fraction = _positive("fraction", fraction, allow_zero=True)
        if self.fraction >= 1.0:
            raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """Copy of ``lc`` with some observations removed."""
        keep = rng.random(len(lc)) >= self.fraction
        if not keep.any():
            keep[rng.integers(len(lc))] = True
        return lc[keep]


class RandomApply(Augmentation):
    """Apply ``transform`` with probability ``p``, else return the light curve unchanged."""

    def __init__(self, transform: Callable[[LightCurve], LightCurve], p: float, *, seed: SeedLike = None) -> None:
        super().__init__(seed)
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        self.transform, self.p = transform, float(p)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """``transform(lc)`` with probability ``p``."""
        return self.transform(lc) if rng.random() < self.p else lc


class TruncateEarly(Augmentation):
    """Keep only the first ``k`` observations, ``k`` uniform in ``[min_points, len(lc)]`` (an early alert stream)."""

    def __init__(self, min_points: int = 3, *, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.min_points = _count("min_points", min_points)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """The first ``k`` observations of ``lc``."""
        if len(lc) <= self.min_points:
            return lc
        k = int(rng.integers(self.min_points, len(lc) + 1))
        return lc[np.arange(len(lc)) < k]


class DetectionThreshold(Augmentation):
    """Drop observations below a detection threshold ``|flux| / flux_err`` drawn uniformly from ``snr_range``.

    A brighter threshold than the simulator's mimics shallower exposures or a more distant object: fewer detections,
    all close to peak. Returns ``lc`` unchanged when fewer than ``min_points`` would survive.
    """

    def __init__(self, snr_range: tuple[float, float] = (5.0, 10.0), min_points: int = 3, *,
                 seed: SeedLike = None) -> None:
        super().__init__(seed)
        low, high = (float(v) for v in snr_range)
        if not 0.0 <= low <= high:
            raise ValueError(f"snr_range must be (low, high) with 0 <= low <= high, got {snr_range!r}")
        self.snr_range, self.min_points = (low, high), _count("min_points", min_points)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """``lc`` without its observations below the drawn S/N."""
        keep = np.abs(lc.flux) >= rng.uniform(*self.snr_range) * lc.flux_err
        return lc[keep] if keep.sum() >= self.min_points else lc


class ReferenceSubtraction(Augmentation):
    """Turn total fluxes of the given classes into alert difference fluxes (AGN: variability about a reference).

    The reference is a per-band quantile (drawn uniformly from ``quantile_range``) of the fluxes; only differences
    detected at ``|diff| >= 5 flux_err`` are kept, and with probability ``p_abs`` their sign is lost (an alert
    file without ``isdiffpos``). Unchanged when fewer than ``min_points`` survive or the class is not listed.
    """

    def __init__(self, classes: Sequence[str] = ("AGN",), quantile_range: tuple[float, float] = (0.1, 0.7),
                 p_abs: float = 0.3, min_points: int = 3, *, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.classes = tuple(classes)
        self.quantile_range = (float(quantile_range[0]), float(quantile_range[1]))
        self.p_abs, self.min_points = float(p_abs), _count("min_points", min_points)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """Reference-subtracted copy of ``lc`` (or ``lc`` itself)."""
        if getattr(lc, "transient_type", None) not in self.classes:
            return lc
        q = rng.uniform(*self.quantile_range)
        diff = lc.flux.copy()
        for band in lc.bands:
            sel = lc.band == band
            diff[sel] -= np.quantile(lc.flux[sel], q)
        keep = np.abs(diff) >= 5.0 * lc.flux_err
        if keep.sum() < self.min_points:
            return lc
        if rng.random() < self.p_abs:
            diff = np.abs(diff)
        return _replace(lc, flux=diff)[keep]


class Compose:
    """Apply several augmentations (any callables ``lc -> lc``) one after the other."""

    def __init__(self, transforms: Sequence[Callable[[LightCurve], LightCurve]]) -> None:
        if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Sequence):
            raise TypeError(f"transforms must be a list of augmentations, got {type(transforms).__name__}")
        bad = [i for i, t in enumerate(transforms) if not callable(t)]
        if bad:
            raise TypeError(f"transforms[{bad[0]}] is not callable: {transforms[bad[0]]!r}")
        self.transforms = list(transforms)

    def __call__(self, lc: LightCurve) -> LightCurve:
        for transform in self.transforms:
            lc = transform(lc)
            if not isinstance(lc, LightCurve):
                raise TypeError(f"{transform!r} returned {type(lc).__name__}, not a light curve")
        return lc

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"
