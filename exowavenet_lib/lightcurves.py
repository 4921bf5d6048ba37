"""Multi-band light curves: :class:`LightCurve` and :class:`TransientLightCurve`.

A light curve is four aligned columns — ``mjd`` (days), ``flux``, ``flux_err`` (FLUXCAL unless ``meta["flux_unit"]``
says otherwise) and ``band`` — validated once, sorted by time, and read-only afterwards. Methods return new objects,
so they chain: ``lc["g"].normalize().phase_fold(period)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from exowavenet_lib.photometry import BAND_WAVELENGTH_NM, FLUXCAL_ZEROPOINT

COLUMNS = ("mjd", "flux", "flux_err", "band")
KNOWN_BANDS = tuple(BAND_WAVELENGTH_NM)


def _numeric(name: str, values: Any, n: int | None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf" or arr.dtype == bool:
        raise TypeError(f"{name} must be numeric, got values of dtype {arr.dtype}")
    arr = np.atleast_1d(arr.astype(float))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} values but mjd has {n}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s), first at position {int(np.argmax(bad))}"
        )
    return arr


def _bands(values: Any, n: int) -> np.ndarray:
    if isinstance(values, str):
        values = [values] * n
    arr = np.asarray(values)
    if arr.dtype.kind not in "UO" or (arr.dtype.kind == "O" and not all(isinstance(b, str) for b in arr)):
        raise TypeError(f"band must hold strings such as 'g', got values of dtype {arr.dtype}")
    arr = np.atleast_1d(arr.astype(str))
    if len(arr) != n:
        raise ValueError(f"band has {len(arr)} values but mjd has {n}")
    unknown = sorted(set(arr.tolist()) - set(KNOWN_BANDS))
    if unknown:
        raise ValueError(f"band contains unknown band(s) {unknown}; known bands are {list(KNOWN_BANDS)}")
    return arr


class LightCurve:
    """A validated, time-sorted, multi-band light curve.

    Parameters
    ----------
    mjd, flux, flux_err : array-like of float
        Times (MJD, days), fluxes and their 1-sigma errors; finite, ``flux_err >= 0``.
    band : str or array-like of str
        One band for all points or one per point; any of :data:`KNOWN_BANDS`.
    meta : mapping, optional
        Free-form metadata kept through slicing and merging (``flux_unit`` defaults to ``"FLUXCAL"``).
    """

    _extra_fields: tuple[str, ...] = ()

    def __init__(
        self,
        mjd: ArrayLike,
        flux: ArrayLike,
        flux_err: ArrayLike,
        band: str | Sequence[str] | np.ndarray,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        t = _numeric("mjd", mjd, None)
        if len(t) == 0:
            raise ValueError("a light curve needs at least one observation; mjd is empty")
        f = _numeric("flux", flux, len(t))
        e = _numeric("flux_err", flux_err, len(t))
        if np.any(e < 0):
            raise ValueError(f"flux_err must be >= 0; {int(np.sum(e < 0))} value(s) are negative")
        b = _bands(band, len(t))
        order = np.lexsort((b, t))  # by time, then band
        self._columns = {"mjd": t[order], "flux": f[order], "flux_err": e[order], "band": b[order]}
        for arr in self._columns.values():
            arr.flags.writeable = False
        self.meta: dict[str, Any] = {"flux_unit": "FLUXCAL", **dict(meta or {})}

    # ------------------------------------------------------------------ constructors and converters
    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]], **kwargs: Any) -> LightCurve:
        """Build from a list of observation dicts with keys ``mjd, flux, flux_err, band``."""
        if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
            raise TypeError(f"records must be a list of dicts, got {type(records).__name__}")
        missing = {c for r in records for c in COLUMNS if c not in r}
        if missing:
            raise ValueError(f"records lack the key(s) {sorted(missing)}; each needs {list(COLUMNS)}")
        cols = {c: [r[c] for r in records] for c in COLUMNS}
        return cls(cols["mjd"], cols["flux"], cols["flux_err"], cols["band"], **kwargs)

    @classmethod
    def from_pandas(cls, df: pd.DataFrame, **kwargs: Any) -> LightCurve:
        """Build from a DataFrame with columns ``mjd, flux, flux_err, band`` (extra columns are ignored)."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"df lacks the column(s) {missing}; it needs {list(COLUMNS)}")
        return cls(*(df[c].to_numpy() for c in COLUMNS), **kwargs)

    @classmethod
    def from_table(cls, table: Any, **kwargs: Any) -> LightCurve:
        """Build from an astropy ``Table`` with the four columns; its ``meta`` is kept."""
        from astropy.table import Table

        if not isinstance(table, Table):
            raise TypeError(f"table must be an astropy Table, got {type(table).__name__}")
        missing = [c for c in COLUMNS if c not in table.colnames]
        if missing:
            raise ValueError(f"table lacks the column(s) {missing}; it needs {list(COLUMNS)}")
        meta = {**table.meta, **kwargs.pop("meta", {})}
        return cls(*(np.asarray(table[c]) for c in COLUMNS), meta=meta, **kwargs)

    @classmethod
    def from_lightkurve(cls, lc: Any, band: str = "kepler") -> LightCurve:
        """Build from a ``lightkurve.LightCurve`` (optional dependency); times become MJD."""
        time = lc.time.mjd if hasattr(lc.time, "mjd") else np.asarray(lc.time)
        flux = np.asarray(getattr(lc.flux, "value", lc.flux), dtype=float)
        err = np.asarray(getattr(lc.flux_err, "value", lc.flux_err), dtype=float)
        unit = str(getattr(lc.flux, "unit", "")) or "relative"
        return cls(time, flux, err, band, meta={"flux_unit": unit})

    def to_pandas(self) -> pd.DataFrame:
        """The four columns as a new DataFrame."""
        return pd.DataFrame({c: np.array(v) for c, v in self._columns.items()})

    def to_table(self) -> Any:
        """The four columns as an astropy ``Table`` (MJD in days), with ``meta`` copied."""
        from astropy.table import Table

        return Table({c: np.array(v) for c, v in self._columns.items()}, meta=dict(self.meta))

    def to_lightkurve(self) -> Any:
        """A ``lightkurve.LightCurve`` (requires the optional ``lightkurve`` package); single-band only."""
        try:
            import lightkurve
        except ImportError as err:
            raise ImportError("to_lightkurve needs the optional package lightkurve: pip install lightkurve") from err
        from astropy.time import Time

        if len(self.bands) != 1:
            raise ValueError(f"to_lightkurve needs a single-band light curve; select one of {self.bands} first")
        return lightkurve.LightCurve(time=Time(self.mjd, format="mjd"), flux=self.flux, flux_err=self.flux_err)

    def to_records(self) -> list[dict[str, Any]]:
        """The observations as a list of plain dicts (the format of notebook 01)."""
        return list(self)

    # ------------------------------------------------------------------ columns and properties
    @property
    def mjd(self) -> np.ndarray:
        """Observation times (MJD, days), sorted."""
        return self._columns["mjd"]

    @property
    def flux(self) -> np.ndarray:
        """Fluxes."""
        return self._columns["flux"]

    @property
    def flux_err(self) -> np.ndarray:
        """1-sigma flux errors."""
        return self._columns["flux_err"]

    @property
    def band(self) -> np.ndarray:
        """Band of each observation."""
        return self._columns["band"]

    @property
    def bands(self) -> tuple[str, ...]:
        """Bands present, ordered blue to red."""
        present = set(self.band.tolist())
        return tuple(b for b in KNOWN_BANDS if b in present)

    @property
    def duration(self) -> float:
        """Time between the first and last observation (days)."""
        return float(self.mjd[-1] - self.mjd[0])

    # ------------------------------------------------------------------ container protocol
    def __len__(self) -> int:
        return len(self.mjd)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self._observation(i)

    def __getitem__(self, key: int | slice | str | ArrayLike) -> Any:
        """``lc[0]`` → one observation (dict); ``lc[2:5]``, ``lc["g"]``, ``lc[mask]`` → a new light curve."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not -len(self) <= key < len(self):
                raise IndexError(f"index {key} is out of range for a light curve of {len(self)} observations")
            return self._observation(int(key))
        if isinstance(key, str):
            if key not in KNOWN_BANDS:
                raise KeyError(f"unknown band {key!r}; known bands are {list(KNOWN_BANDS)}")
            if key not in self.bands:
                raise KeyError(f"band {key!r} has no observations; this light curve has {list(self.bands)}")
            return self._select(self.band == key)
        if isinstance(key, slice):
            return self._select(np.arange(len(self))[key])
        index = np.asarray(key)
        if index.dtype == bool and index.shape != (len(self),):
            raise IndexError(f"a boolean mask must have {len(self)} values, got shape {index.shape}")
        if index.dtype != bool and index.dtype.kind not in "iu":
            raise TypeError(f"cannot index a light curve with {type(key).__name__}")
        return self._select(index)

    def _observation(self, i: int) -> dict[str, Any]:
        return {c: (v[i].item() if c != "band" else str(v[i])) for c, v in self._columns.items()}

    def _select(self, index: np.ndarray) -> LightCurve:
        cols = {c: v[index] for c, v in self._columns.items()}
        if len(cols["mjd"]) == 0:
            raise ValueError("the selection is empty; a light curve needs at least one observation")
        return self._like(**cols)

    def _like(self, **columns: np.ndarray) -> LightCurve:
        """A new object of the same class and metadata with other columns."""
        extra = {name: getattr(self, name) for name in self._extra_fields}
        return type(self)(**columns, meta=self.meta, **extra)

    # ------------------------------------------------------------------ operations
    def __add__(self, other: LightCurve) -> LightCurve:
        """Merge two light curves: time-sorted, exact duplicates (same mjd and band) kept once."""
        if not isinstance(other, LightCurve):
            return NotImplemented
        if self.meta.get("flux_unit") != other.meta.get("flux_unit"):
            raise ValueError(
                f"cannot merge flux units {self.meta.get('flux_unit')!r} and {other.meta.get('flux_unit')!r}"
            )
        cols = {c: np.concatenate([self._columns[c], other._columns[c]]) for c in COLUMNS}
        _, first = np.unique(np.rec.fromarrays([cols["mjd"], cols["band"]]), return_index=True)
        keep = np.sort(first)
        return self._like(**{c: v[keep] for c, v in cols.items()})

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or len(other) != len(self):
            return False
        same_columns = all(np.array_equal(self._columns[c], other._columns[c]) for c in COLUMNS)
        return same_columns and self.meta == other.meta and all(
            getattr(self, f) == getattr(other, f) for f in self._extra_fields
        )

    __hash__ = None  # equal light curves must hash alike, and metadata is mutable: not hashable

    def normalize(self, method: str = "median") -> LightCurve:
        """Divide each band's flux and error by that band's median (or max) flux."""
        if method not in ("median", "max"):
            raise ValueError(f"method must be 'median' or 'max', got {method!r}")
        flux, err = self.flux.copy(), self.flux_err.copy()
        for b in self.bands:
            sel = self.band == b
            ref = np.median(flux[sel]) if method == "median" else np.max(flux[sel])
            if ref <= 0:
                raise ValueError(f"cannot normalize band {b!r}: its {method} flux is {ref:.4g} (must be > 0)")
            flux[sel] /= ref
            err[sel] /= ref
        new = self._like(mjd=self.mjd, flux=flux, flux_err=err, band=self.band)
        new.meta["flux_unit"] = f"relative to {method}"
        return new

    def phase_fold(self, period: float, epoch: float | None = None) -> pd.DataFrame:
        """Fold on ``period`` (days) around ``epoch`` (MJD; default the first time): phase in [-0.5, 0.5).

        Returns a DataFrame with ``phase`` and the four columns, sorted by phase.
        """
        if isinstance(period, bool) or not isinstance(period, (int, float, np.floating)) or not period > 0:
            raise ValueError(f"period must be a positive number of days, got {period!r}")
        t0 = self.mjd[0] if epoch is None else float(epoch)
        phase = ((self.mjd - t0) / period + 0.5) % 1.0 - 0.5
        df = self.to_pandas()
        df.insert(0, "phase", phase)
        return df.sort_values(["phase", "band"], kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {len(self)} obs, bands {' '.join(self.bands)}, "
            f"MJD {self.mjd[0]:.3f}–{self.mjd[-1]:.3f}{self._repr_extra()}>"
        )

    def _repr_extra(self) -> str:
        return ""

    def __str__(self) -> str:
        return f"{self!r}\n{self.to_pandas().to_string(max_rows=10)}"


class TransientLightCurve(LightCurve):
    """A light curve of one transient: an id, a (possibly unknown) class, a peak time and optional redshift."""

    _extra_fields = ("object_id", "transient_type", "peak_mjd", "redshift")

    def __init__(
        self,
        mjd: ArrayLike,
        flux: ArrayLike,
        flux_err: ArrayLike,
        band: str | Sequence[str] | np.ndarray,
        *,
        object_id: str,
        transient_type: str | None = None,
        peak_mjd: float | None = None,
        redshift: float | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(mjd, flux, flux_err, band, meta=meta)
        if not isinstance(object_id, str) or not object_id:
            raise TypeError(f"object_id must be a non-empty string, got {object_id!r}")
        if transient_type is not None and not isinstance(transient_type, str):
            raise TypeError(f"transient_type must be a string or None, got {type(transient_type).__name__}")
        if redshift is not None and not (np.isfinite(redshift) and redshift >= 0):
            raise ValueError(f"redshift must be a finite number >= 0 or None, got {redshift!r}")
        self.object_id = object_id
        self.transient_type = transient_type
        self.redshift = None if redshift is None else float(redshift)
        if peak_mjd is None:
            peak_mjd = float(self.mjd[np.argmax(self.flux)])
        elif not np.isfinite(peak_mjd):
            raise ValueError(f"peak_mjd must be finite, got {peak_mjd!r}")
        self.peak_mjd = float(peak_mjd)

    def peak_magnitude(self, band: str) -> float:
        """Brightest magnitude observed in ``band`` (FLUXCAL zeropoint 27.5)."""
        if band not in self.bands:
            raise ValueError(f"band {band!r} has no observations; this light curve has {list(self.bands)}")
        peak = float(np.max(self.flux[self.band == band]))
        if peak <= 0:
            raise ValueError(f"band {band!r} has no positive flux, so no magnitude")
        return FLUXCAL_ZEROPOINT - 2.5 * float(np.log10(peak))

    @property
    def peak_magnitudes(self) -> dict[str, float]:
        """Brightest observed magnitude per band (bands without positive flux are left out)."""
        return {b: self.peak_magnitude(b) for b in self.bands if np.max(self.flux[self.band == b]) > 0}

    def _repr_extra(self) -> str:
        kind = self.transient_type or "unclassified"
        return f", {self.object_id} ({kind}), peak MJD {self.peak_mjd:.2f}"
