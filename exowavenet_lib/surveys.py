"""Survey processors: raw survey records in, validated :class:`TransientLightCurve` out (FLUXCAL fluxes).

``SurveyProcessor.from_survey_name("ztf")`` picks a processor from a registry that every concrete subclass joins
when it is defined, so a new survey is one new class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from exowavenet_lib.lightcurves import KNOWN_BANDS, TransientLightCurve
from exowavenet_lib.photometry import (
    ZEROPOINTS,
    ZTF_BAND_TO_FID,
    ZTF_FID_TO_BAND,
    flux_err_to_mag_err,
    flux_to_mag,
    mag_err_to_flux_err,
    mag_to_flux,
    rescale_flux,
)

Records = pd.DataFrame | Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class SurveyConfig:
    """What a survey observes: bands, flux zeropoint, single-visit depth and typical revisit time."""

    name: str
    bands: tuple[str, ...]
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self) -> None:
        unknown = [b for b in self.bands if b not in KNOWN_BANDS]
        if not self.bands or unknown:
            raise ValueError(f"bands must be a non-empty subset of {list(KNOWN_BANDS)}, got {self.bands!r}")
        if not self.cadence_days > 0:
            raise ValueError(f"cadence_days must be > 0, got {self.cadence_days!r}")


class SurveyProcessor(ABC):
    """Turn one object's raw survey records into a :class:`TransientLightCurve`.

    Subclasses set ``config`` and ``SUPPORTED_FORMATS`` and implement :meth:`_to_columns`; concrete subclasses
    register themselves under ``config.name`` (case-insensitive) for :meth:`from_survey_name`.
    """

    config: ClassVar[SurveyConfig]
    SUPPORTED_FORMATS: ClassVar[tuple[str, ...]] = ()
    _registry: ClassVar[dict[str, type[SurveyProcessor]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "config" in cls.__dict__:
            SurveyProcessor._registry[cls.config.name.lower()] = cls

    def __init__(self) -> None:
        self._processed = 0
        self._rejected = 0

    @classmethod
    def from_survey_name(cls, name: str) -> SurveyProcessor:
        """A processor for the survey called ``name`` (case-insensitive)."""
        if not isinstance(name, str) or name.lower() not in cls._registry:
            raise ValueError(f"unknown survey {name!r}; known surveys are {sorted(cls._registry)}")
        return cls._registry[name.lower()]()

    @staticmethod
    def validate_photometry(mjd: np.ndarray, flux: np.ndarray, flux_err: np.ndarray) -> np.ndarray:
        """Boolean mask of usable rows: finite time, flux and error, and error > 0."""
        arrays = [np.asarray(a, dtype=float) for a in (mjd, flux, flux_err)]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"mjd, flux and flux_err must have equal lengths, got {[len(a) for a in arrays]}")
        t, f, e = arrays
        return np.isfinite(t) & np.isfinite(f) & np.isfinite(e) & (e > 0)

    @property
    def processed_count(self) -> int:
        """Light curves this processor has produced."""
        return self._processed

    @property
    def rejected_count(self) -> int:
        """Rows dropped as unusable (only with ``drop_invalid=True``)."""
        return self._rejected

    def process_lightcurve(
        self, records: Records, *, object_id: str | None = None, drop_invalid: bool = False
    ) -> TransientLightCurve:
        """Convert one object's records; invalid rows raise ``ValueError`` unless ``drop_invalid``."""
        df = _as_frame(records)
        columns = self._to_columns(df)
        good = self.validate_photometry(columns["mjd"], columns["flux"], columns["flux_err"])
        if not good.all():
            bad = int(np.sum(~good))
            if not drop_invalid:
                raise ValueError(
                    f"records contain {bad} unusable row(s) (NaN/inf or non-positive error), first at row "
                    f"{int(np.argmax(~good))}; pass drop_invalid=True to drop them"
                )
            self._rejected += bad
            if not good.any():
                raise ValueError("records contain no usable rows")
        columns = {k: np.asarray(v)[good] for k, v in columns.items()}
        oid = object_id or self._object_id(df)
        lc = TransientLightCurve(
            columns["mjd"], columns["flux"], columns["flux_err"], columns["band"], object_id=oid,
            meta={"survey": self.config.name},
        )
        self._processed += 1
        return lc

    @abstractmethod
    def _to_columns(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """Map raw columns to ``mjd, flux, flux_err, band`` in FLUXCAL units."""

    def _object_id(self, df: pd.DataFrame) -> str:
        for column in ("oid", "objectId", "diaObjectId", "object_id"):
            if column in df.columns and df[column].nunique() == 1:
                return str(df[column].iloc[0])
        return f"{self.config.name.lower()}-{self._processed:06d}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(processed={self._processed}, rejected={self._rejected})"


def _as_frame(records: Records) -> pd.DataFrame:
    if isinstance(records, pd.DataFrame):
        df = records
    elif isinstance(records, Sequence) and not isinstance(records, (str, bytes)):
        df = pd.DataFrame(list(records))
    else:
        raise TypeError(f"records must be a DataFrame or a list of dicts, got {type(records).__name__}")
    if df.empty:
        raise ValueError("records are empty: a light curve needs at least one observation")
    return df


def _require(df: pd.DataFrame, columns: Sequence[str], survey: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{survey} records lack the column(s) {missing}; found {list(df.columns)}")


class ZTFProcessor(SurveyProcessor):
    """ZTF alert detections (ALeRCE/Lasair format): ``mjd`` or ``jd``, ``fid``, ``magpsf``, ``sigmapsf``.

    An optional ``isdiffpos`` ('t'/'f', 1/0) marks negative differences, whose flux becomes negative.
    """

    config = SurveyConfig("ZTF", ("g", "r", "i"), ZEROPOINTS["ztf"], mag_limit=20.5, cadence_days=3.0)
    SUPPORTED_FORMATS = ("alert",)

    def _to_columns(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        _require(df, ["fid", "magpsf", "sigmapsf"], "ZTF")
        if "mjd" in df.columns:
            mjd = df["mjd"].to_numpy(dtype=float)
        elif "jd" in df.columns:
            mjd = df["jd"].to_numpy(dtype=float) - 2_400_000.5
        else:
            raise ValueError(f"ZTF records need an 'mjd' or 'jd' column; found {list(df.columns)}")
        fid = df["fid"].to_numpy()
        unknown = sorted(set(fid.tolist()) - set(ZTF_FID_TO_BAND))
        if unknown:
            raise ValueError(f"fid contains unknown filter id(s) {unknown}; ZTF uses 1 (g), 2 (r), 3 (i)")
        mag = df["magpsf"].to_numpy(dtype=float)
        mag_err = df["sigmapsf"].to_numpy(dtype=float)
        ok = np.isfinite(mag) & np.isfinite(mag_err) & (mag_err >= 0)
        flux = np.full(len(df), np.nan)
        flux_err = np.full(len(df), np.nan)
        flux[ok] = mag_to_flux(mag[ok])
        flux_err[ok] = mag_err_to_flux_err(mag_err[ok], flux[ok])
        if "isdiffpos" in df.columns:
            negative = df["isdiffpos"].astype(str).str.lower().isin(["f", "0", "false", "-1"]).to_numpy()
            flux[negative] *= -1.0
        band = np.array([ZTF_FID_TO_BAND[int(f)] for f in fid])
        return {"mjd": mjd, "flux": flux, "flux_err": flux_err, "band": band}


class LSSTProcessor(SurveyProcessor):
    """Rubin/LSST DIA sources: ``midpointMjdTai`` (or ``mjd``), ``band``, ``psfFlux``, ``psfFluxErr`` in nJy."""

    config = SurveyConfig("LSST", ("u", "g", "r", "i", "z", "y"), ZEROPOINTS["lsst"], mag_limit=24.0,
                          cadence_days=3.0)
    SUPPORTED_FORMATS = ("dia_source",)

    def _to_columns(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        _require(df, ["band", "psfFlux", "psfFluxErr"], "LSST")
        time_column = "midpointMjdTai" if "midpointMjdTai" in df.columns else "mjd"
        _require(df, [time_column], "LSST")
        band = df["band"].astype(str).to_numpy()
        unknown = sorted(set(band.tolist()) - set(self.config.bands))
        if unknown:
            raise ValueError(f"band contains {unknown}, not LSST bands {list(self.config.bands)}")
        flux = df["psfFlux"].to_numpy(dtype=float)
        flux_err = df["psfFluxErr"].to_numpy(dtype=float)
        ok = np.isfinite(flux) & np.isfinite(flux_err)
        scaled, scaled_err = np.full(len(df), np.nan), np.full(len(df), np.nan)
        scaled[ok] = rescale_flux(flux[ok], self.config.zeropoint)
        scaled_err[ok] = rescale_flux(flux_err[ok], self.config.zeropoint)
        return {"mjd": df[time_column].to_numpy(dtype=float), "flux": scaled, "flux_err": scaled_err, "band": band}


def to_ztf_alerts(lc: TransientLightCurve) -> pd.DataFrame:
    """The inverse of :class:`ZTFProcessor`: a light curve as ZTF alert rows (``oid, jd, fid, magpsf, sigmapsf,
    isdiffpos``), e.g. to feed simulated objects through the real processing code."""
    if not isinstance(lc, TransientLightCurve):
        raise TypeError(f"lc must be a TransientLightCurve, got {type(lc).__name__}")
    not_ztf = sorted(set(lc.bands) - set(ZTFProcessor.config.bands))
    if not_ztf:
        raise ValueError(f"lc has band(s) {not_ztf} that ZTF does not observe")
    magnitude = np.abs(lc.flux)
    if np.any(magnitude == 0):
        raise ValueError("lc has zero fluxes, which have no magnitude; ZTF alerts never contain them")
    return pd.DataFrame(
        {
            "oid": lc.object_id,
            "jd": lc.mjd + 2_400_000.5,
            "fid": [ZTF_BAND_TO_FID[b] for b in lc.band],
            "magpsf": flux_to_mag(magnitude),
            "sigmapsf": flux_err_to_mag_err(lc.flux_err, magnitude),
            "isdiffpos": np.where(lc.flux > 0, "t", "f"),
        }
    )
