"""Plausible wrong answers for notebook 03 (class design for astronomy surveys)."""

import contextlib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from exowavenet_lib.lightcurves import KNOWN_BANDS, TransientLightCurve

_FLUXCAL = 27.5
_MAG_PER_LN_FLUX = 2.5 / math.log(10.0)

# ---------------------------------------------------------------- 1a SurveyConfig


def _validate_config(cfg, *, empty=True, unknown=True, duplicates=True, case=True, finite=True, cadence_strict=True):
    if not isinstance(cfg.name, str) or not cfg.name:
        raise ValueError(f"name must be a non-empty string, got {cfg.name!r}")
    if empty and not cfg.bands:
        raise ValueError("bands must not be empty")
    known = KNOWN_BANDS if case else [b.upper() for b in KNOWN_BANDS] + list(KNOWN_BANDS)
    if unknown and any(b not in known for b in cfg.bands):
        raise ValueError(f"bands must be in {KNOWN_BANDS}")
    if duplicates and len(set(cfg.bands)) != len(cfg.bands):
        raise ValueError("bands must be distinct")
    if finite:
        for field in ("zeropoint", "mag_limit"):
            if not math.isfinite(getattr(cfg, field)):
                raise ValueError(f"{field} must be finite")
    if (cadence_strict and not cfg.cadence_days > 0) or (not cadence_strict and cfg.cadence_days < 0):
        raise ValueError("cadence_days must be > 0")


class ConfigPlainClass:
    """A plain class with its own __init__: validates, but has no __eq__ (compares identity) and no readable repr."""

    def __init__(self, name, bands, zeropoint, mag_limit, cadence_days):
        self.name, self.bands, self.zeropoint = name, tuple(bands), zeropoint
        self.mag_limit, self.cadence_days = mag_limit, cadence_days
        _validate_config(self)


@dataclass
class ConfigNotFrozen:
    """A dataclass without frozen=True: anyone can change the zeropoint mid-night, and it is not hashable."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        self.bands = tuple(self.bands)
        _validate_config(self)


@dataclass(frozen=True)
class ConfigNoBandValidation:
    """Never checks the bands: ('g', 'q') or an empty tuple pass."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        object.__setattr__(self, "bands", tuple(self.bands))
        _validate_config(self, empty=False, unknown=False, duplicates=False, case=False)


@dataclass(frozen=True)
class ConfigAcceptsEmptyBands:
    """Checks each band but not that there is at least one."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        object.__setattr__(self, "bands", tuple(self.bands))
        _validate_config(self, empty=False)


@dataclass(frozen=True)
class ConfigZeroCadence:
    """Tests cadence_days < 0 instead of <= 0, so a cadence of 0 days passes."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        object.__setattr__(self, "bands", tuple(self.bands))
        _validate_config(self, cadence_strict=False)


@dataclass(frozen=True)
class ConfigKeepsListBands:
    """Stores a list of bands as given: the config is then unhashable and unequal to the tuple version."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        _validate_config(self)


@dataclass(frozen=True)
class ConfigAcceptsDuplicates:
    """Accepts ('g', 'r', 'g'): one band listed twice."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        object.__setattr__(self, "bands", tuple(self.bands))
        _validate_config(self, duplicates=False)


@dataclass(frozen=True)
class ConfigCaseInsensitiveBands:
    """Compares bands case-insensitively, so Gaia's 'G' is accepted as ZTF's 'g'."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        object.__setattr__(self, "bands", tuple(self.bands))
        _validate_config(self, case=False)


@dataclass(frozen=True)
class ConfigAcceptsNaN:
    """Never checks that zeropoint and mag_limit are finite numbers."""

    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float

    def __post_init__(self):
        object.__setattr__(self, "bands", tuple(self.bands))
        _validate_config(self, finite=False)


# ---------------------------------------------------------------- 2a/2b SurveyProcessor (the reference, then variants)


@dataclass(frozen=True)
class _Config:
    name: str
    bands: tuple
    zeropoint: float
    mag_limit: float
    cadence_days: float


class _RefProcessor(ABC):
    survey_name: ClassVar[str]
    SUPPORTED_FORMATS: ClassVar[tuple] = ()
    _registry: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "survey_name" in cls.__dict__:
            _RefProcessor._registry[cls.survey_name.lower()] = cls

    def __init__(self, config):
        self.config = config
        self._processed = 0

    @classmethod
    def from_survey_name(cls, name):
        key = name.lower() if isinstance(name, str) else name
        if key not in cls._registry:
            raise ValueError(f"unknown survey {name!r}; known surveys are {sorted(cls._registry)}")
        return cls._registry[key]()

    @staticmethod
    def validate_photometry(mjd, flux, flux_err):
        mjd, flux, flux_err = (np.asarray(v, dtype=float) for v in (mjd, flux, flux_err))
        if not len(mjd) == len(flux) == len(flux_err):
            raise ValueError("mjd, flux and flux_err must have equal lengths")
        return np.isfinite(mjd) & np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0)

    @property
    def processed_count(self):
        return self._processed

    @abstractmethod
    def process_lightcurve(self, records):
        """Turn one object's records into a TransientLightCurve."""


def _lengths_equal(*arrays):
    if len({len(a) for a in arrays}) != 1:
        raise ValueError("lengths differ")


class ProcessorValidateAcceptsZeroError(_RefProcessor):
    """validate_photometry tests flux_err >= 0, so a zero error (a bogus measurement) passes."""

    @staticmethod
    def validate_photometry(mjd, flux, flux_err):
        mjd, flux, flux_err = (np.asarray(v, dtype=float) for v in (mjd, flux, flux_err))
        _lengths_equal(mjd, flux, flux_err)
        return np.isfinite(mjd) & np.isfinite(flux) & np.isfinite(flux_err) & (flux_err >= 0)


class ProcessorValidateIsnanOnly(_RefProcessor):
    """validate_photometry uses ~np.isnan, so infinite values pass."""

    @staticmethod
    def validate_photometry(mjd, flux, flux_err):
        mjd, flux, flux_err = (np.asarray(v, dtype=float) for v in (mjd, flux, flux_err))
        _lengths_equal(mjd, flux, flux_err)
        return ~np.isnan(mjd) & ~np.isnan(flux) & ~np.isnan(flux_err) & (flux_err > 0)


class ProcessorValidateDropsNegativeFlux(_RefProcessor):
    """validate_photometry requires flux > 0, throwing away real negative difference fluxes."""

    @staticmethod
    def validate_photometry(mjd, flux, flux_err):
        mjd, flux, flux_err = (np.asarray(v, dtype=float) for v in (mjd, flux, flux_err))
        _lengths_equal(mjd, flux, flux_err)
        return np.isfinite(mjd) & np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0) & (flux > 0)


class ProcessorValidateIgnoresTime(_RefProcessor):
    """validate_photometry checks flux and error only: a NaN time passes."""

    @staticmethod
    def validate_photometry(mjd, flux, flux_err):
        mjd, flux, flux_err = (np.asarray(v, dtype=float) for v in (mjd, flux, flux_err))
        _lengths_equal(mjd, flux, flux_err)
        return np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0)


class ProcessorValidateBroadcasts(_RefProcessor):
    """validate_photometry never compares lengths: a 1-element flux broadcasts silently against 3 times."""

    @staticmethod
    def validate_photometry(mjd, flux, flux_err):
        mjd, flux, flux_err = (np.asarray(v, dtype=float) for v in (mjd, flux, flux_err))
        return np.isfinite(mjd) & np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0)


class ProcessorValidateNotStatic(_RefProcessor):
    """validate_photometry is an ordinary method (self first): SurveyProcessor.validate_photometry(m, f, e) breaks."""

    def validate_photometry(self, mjd, flux, flux_err):
        return _RefProcessor.validate_photometry(mjd, flux, flux_err)


class ProcessorCountIsMethod(_RefProcessor):
    """processed_count is a plain method: proc.processed_count is a bound method, not a number."""

    def processed_count(self):
        return self._processed


class ProcessorCountSettable(_RefProcessor):
    """processed_count has a setter, so callers can overwrite the count."""

    @property
    def processed_count(self):
        return self._processed

    @processed_count.setter
    def processed_count(self, value):
        self._processed = value


class ProcessorNotAbstract(_RefProcessor):
    """process_lightcurve raises NotImplementedError instead of being abstract: incomplete subclasses instantiate."""

    def process_lightcurve(self, records):
        raise NotImplementedError("subclasses must implement process_lightcurve")


class ProcessorCaseSensitive(_RefProcessor):
    """from_survey_name looks up the name as typed: 'CheckSurvey' or 'ZTF' are not found."""

    @classmethod
    def from_survey_name(cls, name):
        if name not in cls._registry:
            raise ValueError(f"unknown survey {name!r}; known surveys are {sorted(cls._registry)}")
        return cls._registry[name]()


class ProcessorUnknownReturnsNone(_RefProcessor):
    """from_survey_name returns None for an unknown survey, which fails later, far from the typo."""

    @classmethod
    def from_survey_name(cls, name):
        found = cls._registry.get(name.lower())
        return None if found is None else found()


class ProcessorUnknownKeyError(_RefProcessor):
    """from_survey_name lets the dict raise a bare KeyError instead of a ValueError listing the known surveys."""

    @classmethod
    def from_survey_name(cls, name):
        return cls._registry[name.lower()]()


class ProcessorErrorListsNothing(_RefProcessor):
    """The ValueError names the bad survey but not the known ones."""

    @classmethod
    def from_survey_name(cls, name):
        if name.lower() not in cls._registry:
            raise ValueError(f"unknown survey {name!r}")
        return cls._registry[name.lower()]()


class ProcessorReturnsClass(_RefProcessor):
    """from_survey_name returns the class instead of an instance of it."""

    @classmethod
    def from_survey_name(cls, name):
        if name.lower() not in cls._registry:
            raise ValueError(f"unknown survey {name!r}; known surveys are {sorted(cls._registry)}")
        return cls._registry[name.lower()]


class ProcessorSharedInstance(_RefProcessor):
    """from_survey_name caches one instance per survey, so every caller shares one processed_count."""

    _instances: ClassVar[dict] = {}

    @classmethod
    def from_survey_name(cls, name):
        if name.lower() not in cls._registry:
            raise ValueError(f"unknown survey {name!r}; known surveys are {sorted(cls._registry)}")
        if name.lower() not in cls._instances:
            cls._instances[name.lower()] = cls._registry[name.lower()]()
        return cls._instances[name.lower()]


class ProcessorStaticFactory(_RefProcessor):
    """from_survey_name is a staticmethod hard-wired to the base registry and ignores which class it is called on."""

    @staticmethod
    def from_survey_name(name):
        if name.lower() not in _RefProcessor._registry:
            raise ValueError(f"unknown survey {name!r}; known surveys are {sorted(_RefProcessor._registry)}")
        return _RefProcessor._registry[name.lower()]()


# ---------------------------------------------------------------- 3a ZTFProcessor

_FID = {1: "g", 2: "r", 3: "i"}


def _ztf(self, records, *, jd_offset=2_400_000.5, fid_map=None, use_isdiffpos=True, negative=("f", "0", "-1"),
         count_on_failure=False, count=True, err_factor=1.0 / _MAG_PER_LN_FLUX, drop_bad=True, check_columns=True,
         check_fid=True, mutate=False):
    fid_map = fid_map or _FID
    df = records if (mutate and isinstance(records, pd.DataFrame)) else pd.DataFrame(records)
    if count_on_failure:
        self._processed += 1
    if check_columns:
        missing = [c for c in ("oid", "fid", "magpsf", "sigmapsf") if c not in df.columns]
        if missing:
            raise ValueError(f"missing columns {missing}")
    fid = df["fid"].to_numpy()
    if check_fid:
        unknown = sorted(set(fid.tolist()) - set(fid_map))
        if unknown:
            raise ValueError(f"unknown fid {unknown}")
    else:
        keep_fid = np.isin(fid, list(fid_map))
        df, fid = df[keep_fid], fid[keep_fid]
    mjd = df["mjd"].to_numpy(dtype=float) if "mjd" in df.columns else df["jd"].to_numpy(dtype=float) - jd_offset
    flux = 10.0 ** (-0.4 * (df["magpsf"].to_numpy(dtype=float) - _FLUXCAL))
    flux_err = flux * df["sigmapsf"].to_numpy(dtype=float) * err_factor
    if use_isdiffpos and "isdiffpos" in df.columns:
        neg = df["isdiffpos"].astype(str).str.lower().isin(list(negative)).to_numpy()
        flux = np.where(neg, -flux, flux)
    if mutate:
        df["flux"] = flux
    good = _RefProcessor.validate_photometry(mjd, flux, flux_err) if drop_bad else np.ones(len(df), dtype=bool)
    if not good.any():
        raise ValueError("no usable rows")
    band = np.array([fid_map[int(f)] for f in fid])
    lc = TransientLightCurve(mjd[good], flux[good], flux_err[good], band[good], object_id=str(df["oid"].iloc[0]))
    if count and not count_on_failure:
        self._processed += 1
    return lc


class _ZTFBase(_RefProcessor):
    SUPPORTED_FORMATS = ("alert",)

    def __init__(self):
        super().__init__(_Config("ZTF", ("g", "r", "i"), 30.0, 20.5, 3.0))


class ZTFForgetsJdToMjd(_ZTFBase):
    """Uses jd as if it were mjd: times are 2 400 000.5 days off."""

    def process_lightcurve(self, records):
        return _ztf(self, records, jd_offset=0.0)


class ZTFSubtractsMjdOffsetWrongly(_ZTFBase):
    """Subtracts 2 400 000 instead of 2 400 000.5 (JD days start at noon, MJD days at midnight)."""

    def process_lightcurve(self, records):
        return _ztf(self, records, jd_offset=2_400_000.0)


class ZTFFidOneIsR(_ZTFBase):
    """Maps fid 1 -> 'r' and 2 -> 'g': the g and r light curves are swapped."""

    def process_lightcurve(self, records):
        return _ztf(self, records, fid_map={1: "r", 2: "g", 3: "i"})


class ZTFIgnoresIsdiffpos(_ZTFBase):
    """Ignores isdiffpos: negative differences become positive fluxes."""

    def process_lightcurve(self, records):
        return _ztf(self, records, use_isdiffpos=False)


class ZTFIsdiffposStringsOnly(_ZTFBase):
    """Only understands isdiffpos 't'/'f', not ALeRCE's 1/-1."""

    def process_lightcurve(self, records):
        return _ztf(self, records, negative=("f",))


class ZTFCountsFailures(_ZTFBase):
    """Increments processed_count before processing, so refused tables are counted too."""

    def process_lightcurve(self, records):
        return _ztf(self, records, count_on_failure=True)


class ZTFNeverCounts(_ZTFBase):
    """Forgets to increment processed_count."""

    def process_lightcurve(self, records):
        return _ztf(self, records, count=False)


class ZTFErrorWithoutFactor(_ZTFBase):
    """Uses flux_err = flux * sigmapsf, forgetting the factor 1/1.0857 (= ln 10 / 2.5)."""

    def process_lightcurve(self, records):
        return _ztf(self, records, err_factor=1.0)


class ZTFKeepsBadRows(_ZTFBase):
    """Does not drop rows with NaN magnitudes; TransientLightCurve then refuses the whole object."""

    def process_lightcurve(self, records):
        return _ztf(self, records, drop_bad=False)


class ZTFMissingColumnKeyError(_ZTFBase):
    """Does not check the columns: a table without magpsf raises a bare KeyError."""

    def process_lightcurve(self, records):
        return _ztf(self, records, check_columns=False)


class ZTFDropsUnknownFid(_ZTFBase):
    """Silently drops rows with an unknown fid instead of refusing the corrupted table."""

    def process_lightcurve(self, records):
        return _ztf(self, records, check_fid=False)


class ZTFMutatesInput(_ZTFBase):
    """Adds a 'flux' column to the caller's DataFrame."""

    def process_lightcurve(self, records):
        return _ztf(self, records, mutate=True)


class ZTFUsesSurveyZeropoint(_ZTFBase):
    """Converts magpsf with the config's zeropoint 30.0 instead of FLUXCAL's 27.5: fluxes 10x too large."""

    def process_lightcurve(self, records):
        lc = _ztf(self, records)
        scale = 10 ** (0.4 * (self.config.zeropoint - _FLUXCAL))
        return TransientLightCurve(lc.mjd, lc.flux * scale, lc.flux_err * scale, lc.band, object_id=lc.object_id)


# ---------------------------------------------------------------- 3b LSSTProcessor

_LSST_BANDS = ("u", "g", "r", "i", "z", "y")


def _lsst(self, records, *, zeropoint=None, scale_err=True, invert=False, drop_negative=False, bands=_LSST_BANDS,
          count=True, int_id=False):
    df = pd.DataFrame(records)
    missing = [c for c in ("diaObjectId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr") if c not in df.columns]
    if missing:
        raise ValueError(f"missing columns {missing}")
    band = df["band"].astype(str).to_numpy()
    if set(band.tolist()) - set(bands):
        raise ValueError(f"bands must be in {bands}")
    zp = self.config.zeropoint if zeropoint is None else zeropoint
    factor = 10.0 ** (-0.4 * (zp - _FLUXCAL))
    if invert:
        factor = 1.0 / factor
    mjd = df["midpointMjdTai"].to_numpy(dtype=float)
    flux = df["psfFlux"].to_numpy(dtype=float) * factor
    flux_err = df["psfFluxErr"].to_numpy(dtype=float) * (factor if scale_err else 1.0)
    good = _RefProcessor.validate_photometry(mjd, flux, flux_err)
    if drop_negative:
        good &= flux > 0
    oid = df["diaObjectId"].iloc[0]
    lc = TransientLightCurve(mjd[good], flux[good], flux_err[good], band[good], object_id=oid if int_id else str(oid))
    if count:
        self._processed += 1
    return lc


class _LSSTBase(_RefProcessor):
    SUPPORTED_FORMATS = ("dia_source",)

    def __init__(self):
        super().__init__(_Config("LSST", _LSST_BANDS, 31.4, 24.0, 3.0))


class LSSTZeropoint275(_LSSTBase):
    """Treats nJy as FLUXCAL (zeropoint 27.5 instead of 31.4): fluxes 36x too large."""

    def process_lightcurve(self, records):
        return _lsst(self, records, zeropoint=27.5)


class LSSTConfigZeropoint275(_RefProcessor):
    """Declares LSST's config with zeropoint 27.5 (copied from FLUXCAL), so the conversion does nothing."""

    SUPPORTED_FORMATS = ("dia_source",)

    def __init__(self):
        super().__init__(_Config("LSST", _LSST_BANDS, 27.5, 24.0, 3.0))

    def process_lightcurve(self, records):
        return _lsst(self, records)


class LSSTErrorNotRescaled(_LSSTBase):
    """Rescales the flux but leaves psfFluxErr in nJy."""

    def process_lightcurve(self, records):
        return _lsst(self, records, scale_err=False)


class LSSTInvertedFactor(_LSSTBase):
    """Multiplies by 10**(+0.4 (31.4 - 27.5)) instead of dividing: fluxes 1300x too large."""

    def process_lightcurve(self, records):
        return _lsst(self, records, invert=True)


class LSSTDropsNegativeFlux(_LSSTBase):
    """Drops negative fluxes, as if converting through magnitudes."""

    def process_lightcurve(self, records):
        return _lsst(self, records, drop_negative=True)


class LSSTZTFBands(_LSSTBase):
    """Accepts only ZTF's g, r, i: u, z and y are refused."""

    def process_lightcurve(self, records):
        return _lsst(self, records, bands=("g", "r", "i"))


class LSSTNeverCounts(_LSSTBase):
    """Forgets to increment processed_count."""

    def process_lightcurve(self, records):
        return _lsst(self, records, count=False)


class LSSTReusesZTFConfig(_RefProcessor):
    """Copies ZTF's config (name, bands, zeropoint, depth) into the LSST processor."""

    SUPPORTED_FORMATS = ("dia_source",)

    def __init__(self):
        super().__init__(_Config("ZTF", ("g", "r", "i"), 30.0, 20.5, 3.0))

    def process_lightcurve(self, records):
        return _lsst(self, records, zeropoint=31.4, bands=_LSST_BANDS)


# ---------------------------------------------------------------- 4a SurveyStatistics


class _StatsBase:
    def __init__(self, config):
        self.config = config
        self._lightcurves = []

    def add(self, lightcurve):
        self._lightcurves.append(lightcurve)

    @property
    def n_objects(self):
        return len(self._lightcurves)

    @property
    def detections_per_band(self):
        return {b: int(sum(np.sum(lc.band == b) for lc in self._lightcurves)) for b in self.config.bands}

    @property
    def median_revisit_days(self):
        gaps = [np.diff(lc.mjd[lc.band == b]) for lc in self._lightcurves for b in lc.bands]
        gaps = np.concatenate(gaps) if gaps else np.array([])
        return float(np.median(gaps)) if gaps.size else None


class StatsStoredAtInit(_StatsBase):
    """Computes the statistics once in __init__ and stores them: they describe the empty collection forever."""

    def __init__(self, config):
        super().__init__(config)
        self._n = 0
        self._counts = {b: 0 for b in config.bands}

    @property
    def n_objects(self):
        return self._n

    @property
    def detections_per_band(self):
        return dict(self._counts)


class StatsRevisitMixesBands(_StatsBase):
    """Measures gaps between consecutive observations in any band, not the same band."""

    @property
    def median_revisit_days(self):
        gaps = [np.diff(lc.mjd) for lc in self._lightcurves if len(lc) > 1]
        return float(np.median(np.concatenate(gaps))) if gaps else None


class StatsRevisitAcrossObjects(_StatsBase):
    """Pools the times of all objects per band before taking gaps, mixing objects."""

    @property
    def median_revisit_days(self):
        gaps = []
        for b in self.config.bands:
            times = np.sort(np.concatenate([lc.mjd[lc.band == b] for lc in self._lightcurves] or [np.array([])]))
            gaps.append(np.diff(times))
        gaps = np.concatenate(gaps) if gaps else np.array([])
        return float(np.median(gaps)) if gaps.size else None


class StatsRevisitMean(_StatsBase):
    """Uses the mean gap, which one seasonal gap drags far from the typical revisit."""

    @property
    def median_revisit_days(self):
        gaps = [np.diff(lc.mjd[lc.band == b]) for lc in self._lightcurves for b in lc.bands]
        gaps = np.concatenate(gaps) if gaps else np.array([])
        return float(np.mean(gaps)) if gaps.size else None


class StatsOmitsEmptyBands(_StatsBase):
    """Counts only the bands present in the data, hiding a band that delivered nothing."""

    @property
    def detections_per_band(self):
        counts = {}
        for lc in self._lightcurves:
            for b in lc.band:
                counts[str(b)] = counts.get(str(b), 0) + 1
        return counts


class StatsCountsObjectsPerBand(_StatsBase):
    """Counts objects with the band instead of observations in it."""

    @property
    def detections_per_band(self):
        return {b: sum(b in lc.bands for lc in self._lightcurves) for b in self.config.bands}


class StatsNotProperties(_StatsBase):
    """Plain methods instead of properties: stats.n_objects is a bound method."""

    def n_objects(self):
        return len(self._lightcurves)

    def detections_per_band(self):
        return _StatsBase.detections_per_band.fget(self)

    def median_revisit_days(self):
        return _StatsBase.median_revisit_days.fget(self)


class StatsRevisitZeroWhenEmpty(_StatsBase):
    """Returns 0.0 instead of None when there is no pair of observations: a revisit time that never happened."""

    @property
    def median_revisit_days(self):
        value = _StatsBase.median_revisit_days.fget(self)
        return 0.0 if value is None else value


# ---------------------------------------------------------------- 4b batch_processing


def _processor_call(processor, log, counts, records, *, catch=(ValueError,), log_reason=True, count_first=False):
    if count_first:
        counts["processed"] += 1
    try:
        lc = processor.process_lightcurve(records)
    except catch as err:
        counts["rejected"] += 1
        if log_reason:
            log.write(f"rejected: {err}\n")
        return None
    if not count_first:
        counts["processed"] += 1
    return lc


def _summary(processor, counts):
    return f"{processor.config.name}: processed {counts['processed']}, rejected {counts['rejected']}\n"


@contextlib.contextmanager
def batch_no_finally(processor, log):
    """Writes the summary and closes the log after the yield without try/finally: skipped when the block raises."""
    counts = {"processed": 0, "rejected": 0}
    yield lambda records: _processor_call(processor, log, counts, records)
    log.write(_summary(processor, counts))
    log.close()


@contextlib.contextmanager
def batch_swallows_exception(processor, log):
    """Catches every exception around the yield and does not re-raise it: crashes vanish."""
    counts = {"processed": 0, "rejected": 0}
    try:
        yield lambda records: _processor_call(processor, log, counts, records)
    except Exception:  # noqa: BLE001 - the mistake on purpose
        pass
    finally:
        log.write(_summary(processor, counts))
        log.close()


@contextlib.contextmanager
def batch_catches_everything(processor, log):
    """Counts any exception from the processor as a rejection, hiding bugs as bad data."""
    counts = {"processed": 0, "rejected": 0}
    try:
        yield lambda records: _processor_call(processor, log, counts, records, catch=(Exception,))
    finally:
        log.write(_summary(processor, counts))
        log.close()


@contextlib.contextmanager
def batch_counts_before_processing(processor, log):
    """Counts an object as processed before knowing whether it succeeds."""
    counts = {"processed": 0, "rejected": 0}
    try:
        yield lambda records: _processor_call(processor, log, counts, records, count_first=True)
    finally:
        log.write(_summary(processor, counts))
        log.close()


@contextlib.contextmanager
def batch_never_closes(processor, log):
    """Writes the summary but never closes the log."""
    counts = {"processed": 0, "rejected": 0}
    try:
        yield lambda records: _processor_call(processor, log, counts, records)
    finally:
        log.write(_summary(processor, counts))


@contextlib.contextmanager
def batch_closes_then_writes(processor, log):
    """Closes the log before writing the summary, so the write fails."""
    counts = {"processed": 0, "rejected": 0}
    try:
        yield lambda records: _processor_call(processor, log, counts, records)
    finally:
        log.close()
        log.write(_summary(processor, counts))


@contextlib.contextmanager
def batch_no_reasons(processor, log):
    """Counts rejections but never logs why an object was rejected."""
    counts = {"processed": 0, "rejected": 0}
    try:
        yield lambda records: _processor_call(processor, log, counts, records, log_reason=False)
    finally:
        log.write(_summary(processor, counts))
        log.close()


@contextlib.contextmanager
def batch_does_not_catch(processor, log):
    """Lets the processor's ValueError escape from process(): one bad object stops the whole batch."""
    counts = {"processed": 0, "rejected": 0}
    try:
        yield lambda records: _processor_call(processor, log, counts, records, catch=())
    finally:
        log.write(_summary(processor, counts))
        log.close()


class BatchClassSwallows:
    """A class-based manager whose __exit__ returns True: every exception in the block is suppressed."""

    def __init__(self, processor, log):
        self.processor, self.log = processor, log
        self.counts = {"processed": 0, "rejected": 0}

    def __enter__(self):
        return lambda records: _processor_call(self.processor, self.log, self.counts, records)

    def __exit__(self, exc_type, exc, tb):
        self.log.write(_summary(self.processor, self.counts))
        self.log.close()
        return True


MUTANTS = {
    "1a": [ConfigPlainClass, ConfigNotFrozen, ConfigNoBandValidation, ConfigAcceptsEmptyBands, ConfigZeroCadence,
           ConfigKeepsListBands, ConfigAcceptsDuplicates, ConfigCaseInsensitiveBands, ConfigAcceptsNaN],
    "2a": [ProcessorValidateAcceptsZeroError, ProcessorValidateIsnanOnly, ProcessorValidateDropsNegativeFlux,
           ProcessorValidateIgnoresTime, ProcessorValidateBroadcasts, ProcessorValidateNotStatic,
           ProcessorCountIsMethod, ProcessorCountSettable, ProcessorNotAbstract],
    "2b": [ProcessorCaseSensitive, ProcessorUnknownReturnsNone, ProcessorUnknownKeyError, ProcessorErrorListsNothing,
           ProcessorReturnsClass, ProcessorSharedInstance, ProcessorStaticFactory],
    "3a": [ZTFForgetsJdToMjd, ZTFSubtractsMjdOffsetWrongly, ZTFFidOneIsR, ZTFIgnoresIsdiffpos, ZTFIsdiffposStringsOnly,
           ZTFCountsFailures, ZTFNeverCounts, ZTFErrorWithoutFactor, ZTFKeepsBadRows, ZTFMissingColumnKeyError,
           ZTFDropsUnknownFid, ZTFMutatesInput, ZTFUsesSurveyZeropoint],
    "3b": [LSSTZeropoint275, LSSTConfigZeropoint275, LSSTErrorNotRescaled, LSSTInvertedFactor, LSSTDropsNegativeFlux,
           LSSTZTFBands, LSSTNeverCounts, LSSTReusesZTFConfig],
    "4a": [StatsStoredAtInit, StatsRevisitMixesBands, StatsRevisitAcrossObjects, StatsRevisitMean, StatsOmitsEmptyBands,
           StatsCountsObjectsPerBand, StatsNotProperties, StatsRevisitZeroWhenEmpty],
    "4b": [batch_no_finally, batch_swallows_exception, batch_catches_everything, batch_counts_before_processing,
           batch_never_closes, batch_closes_then_writes, batch_no_reasons, batch_does_not_catch, BatchClassSwallows],
}
