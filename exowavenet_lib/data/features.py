"""Per-observation features of a light curve: the one encoding every dataset and model of the curriculum shares.

Each observation becomes ``[t, flux, flux_err, onehot(band)...]``:

* ``t`` — days since the object's first observation divided by :data:`TIME_SCALE` (100 d → 1.0);
* ``flux``, ``flux_err`` — divided by the object's maximum ``|flux|`` over all bands together, so the brightest
  point has ``|flux| == 1`` and colours (band ratios) survive;
* one-hot over the dataset's band list (:data:`DEFAULT_BANDS` unless told otherwise).

So ``n_features(bands) == 3 + len(bands)``. This module uses NumPy only; :mod:`exowavenet_lib.data.dataset` turns the
arrays into tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from exowavenet_lib.lightcurves import KNOWN_BANDS, LightCurve

__all__ = [
    "BASE_FEATURES",
    "DEFAULT_BANDS",
    "FEATURE_NAMES",
    "TIME_SCALE",
    "band_indices",
    "check_bands",
    "encode_columns",
    "feature_names",
    "lightcurve_features",
    "n_features",
]

#: Days per unit of the time feature: ``t = (mjd - mjd[0]) / TIME_SCALE``.
TIME_SCALE = 100.0
#: The ZTF alert bands the simulated training data have.
DEFAULT_BANDS: tuple[str, ...] = ("g", "r")
#: The band-independent features, in order, before the one-hot band columns.
BASE_FEATURES: tuple[str, ...] = ("t", "flux", "flux_err")


def check_bands(bands: Any) -> tuple[str, ...]:
    """Validate a band list (non-empty, unique, known band names) and return it as a tuple."""
    if isinstance(bands, str) or not isinstance(bands, Sequence):
        raise TypeError(f"bands must be a sequence of band names such as ('g', 'r'), got {bands!r}")
    bands = tuple(bands)
    if not bands:
        raise ValueError("bands must name at least one band, got an empty sequence")
    if not all(isinstance(b, str) for b in bands):
        raise TypeError(f"bands must hold strings such as 'g', got {bands!r}")
    unknown = [b for b in bands if b not in KNOWN_BANDS]
    if unknown:
        raise ValueError(f"bands contains unknown band(s) {unknown}; known bands are {list(KNOWN_BANDS)}")
    if len(set(bands)) != len(bands):
        raise ValueError(f"bands must not repeat a band, got {bands!r}")
    return bands


def feature_names(bands: Sequence[str] = DEFAULT_BANDS) -> tuple[str, ...]:
    """Names of the feature columns for a band list: ``("t", "flux", "flux_err", "band_g", ...)``."""
    return BASE_FEATURES + tuple(f"band_{b}" for b in check_bands(bands))


#: Feature names for :data:`DEFAULT_BANDS`: ``("t", "flux", "flux_err", "band_g", "band_r")``.
FEATURE_NAMES: tuple[str, ...] = feature_names(DEFAULT_BANDS)


def n_features(bands: Sequence[str] = DEFAULT_BANDS) -> int:
    """Number of features per time step for a band list: ``3 + len(bands)``."""
    return len(BASE_FEATURES) + len(check_bands(bands))


def band_indices(lc: LightCurve, bands: tuple[str, ...]) -> np.ndarray:
    """Index of each observation's band in ``bands`` (validated); raises ValueError for a band not in the list."""
    unknown = sorted(set(lc.bands) - set(bands))
    if unknown:
        name = getattr(lc, "object_id", None)
        where = f"light curve {name!r}" if name else "the light curve"
        raise ValueError(f"{where} has band(s) {unknown} that are not in the dataset bands {list(bands)}")
    lookup = {b: i for i, b in enumerate(bands)}
    return np.fromiter((lookup[b] for b in lc.band.tolist()), dtype=np.int64, count=len(lc))


def encode_columns(
    mjd: np.ndarray, flux: np.ndarray, flux_err: np.ndarray, band_index: np.ndarray, n_bands: int, *, name: str = ""
) -> np.ndarray:
    """Features (float32, shape (T, 3 + n_bands)) from time-sorted columns and band indices (no validation)."""
    scale = float(np.max(np.abs(flux)))
    if scale == 0.0:
        where = f"light curve {name!r}" if name else "the light curve"
        raise ValueError(f"{where} has all-zero flux, so it cannot be scaled by its maximum |flux|")
    x = np.zeros((len(mjd), len(BASE_FEATURES) + n_bands), dtype=np.float32)
    x[:, 0] = (mjd - mjd[0]) / TIME_SCALE
    x[:, 1] = flux / scale
    x[:, 2] = flux_err / scale
    x[np.arange(len(mjd)), len(BASE_FEATURES) + band_index] = 1.0
    return x


def lightcurve_features(lc: LightCurve, bands: Sequence[str] = DEFAULT_BANDS) -> np.ndarray:
    """Features of one light curve, float32 of shape (T, 3 + len(bands)); see the module docstring.

    Raises ``ValueError`` when the flux is zero everywhere or the light curve has a band that ``bands`` lacks.
    """
    if not isinstance(lc, LightCurve):
        raise TypeError(f"lc must be a LightCurve or TransientLightCurve, got {type(lc).__name__}")
    bands = check_bands(bands)
    index = band_indices(lc, bands)
    return encode_columns(lc.mjd, lc.flux, lc.flux_err, index, len(bands), name=getattr(lc, "object_id", ""))
