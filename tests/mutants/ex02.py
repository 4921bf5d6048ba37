"""Plausible wrong answers for notebook 02 (light-curve classes and magic methods).

Each mutant is a class that differs from a correct light curve in one mistake of one part. ``_LightCurve`` and
``_Transient`` are correct (they follow the solution notebook); a mutant overrides only what it gets wrong.
"""

import numpy as np
import pandas as pd

COLUMNS = ["mjd", "flux", "flux_err", "band"]
NUMERIC = ["mjd", "flux", "flux_err"]


def _validated(observations, *, check_nan=True, check_negative=True, every_key=True, as_float=True):
    if len(observations) == 0:
        raise ValueError("observations is empty")
    for i, obs in enumerate(observations if every_key else observations[:1]):
        missing = [c for c in COLUMNS if c not in obs]
        if missing:
            raise ValueError(f"observation {i} lacks the key(s) {missing}")
    data = pd.DataFrame(observations, columns=COLUMNS)
    if as_float:
        data[NUMERIC] = data[NUMERIC].astype(float)
    for column in NUMERIC if check_nan else []:
        if data[column].isna().any():
            raise ValueError(f"{column} contains NaN")
    if check_negative and (data["flux_err"] < 0).any():
        raise ValueError("flux_err must not be negative")
    return data


def _sorted(data):
    return data.sort_values(["mjd", "band"], kind="stable").reset_index(drop=True)


class _LightCurve:
    """A correct light curve (parts 1a-2a)."""

    def __init__(self, observations):
        self.data = _sorted(_validated(observations))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, key):
        if isinstance(key, str):
            rows = self.data[self.data["band"] == key]
            if rows.empty:
                raise KeyError(key)
            return type(self)(rows.to_dict("records"))
        return self.data.iloc[key].to_dict()

    @property
    def bands(self):
        return sorted(self.data["band"].unique())

    @property
    def duration(self):
        return float(self.data["mjd"].iloc[-1] - self.data["mjd"].iloc[0])

    def __str__(self):
        return f"{type(self).__name__}: {len(self)} observations, bands {', '.join(self.bands)}, {self.duration:.1f} d"

    def __repr__(self):
        return f"{type(self).__name__}({self.data.to_dict('records')!r})"

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.data.equals(other.data)

    def __iter__(self):
        yield from self.data.to_dict("records")

    def __add__(self, other):
        if not isinstance(other, _LightCurve):
            return NotImplemented
        both = pd.concat([self.data, other.data], ignore_index=True).drop_duplicates()
        return type(self)(both.to_dict("records"))


class _Transient(_LightCurve):
    """A correct transient light curve (parts 3a-3b)."""

    def __init__(self, observations, transient_type, peak_mjd=None):
        super().__init__(observations)
        self.transient_type = transient_type
        if peak_mjd is None:
            peak_mjd = self.data.loc[self.data["flux"].idxmax(), "mjd"]
        self.peak_mjd = float(peak_mjd)

    def _band_flux(self, band):
        flux = self.data.loc[self.data["band"] == band, "flux"]
        if flux.empty:
            raise KeyError(band)
        return flux

    def get_peak_magnitude(self, band):
        peak = self._band_flux(band).max()
        if peak <= 0:
            raise ValueError(f"band {band!r} has no positive flux")
        return float(27.5 - 2.5 * np.log10(peak))

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        folded = self.data.copy()
        folded["phase"] = ((folded["mjd"] - self.peak_mjd) / period) % 1.0
        return folded.sort_values("phase", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- 1a __init__ and __len__


class LCUnsorted(_LightCurve):
    """Forgets to sort: the observations stay in input order."""

    def __init__(self, observations):
        self.data = _validated(observations)


class LCSortedByTimeOnly(_LightCurve):
    """Sorts by mjd only, so simultaneous g and r points keep their input order (and a + b may differ from b + a)."""

    def __init__(self, observations):
        self.data = _validated(observations).sort_values("mjd", kind="stable").reset_index(drop=True)


class LCIndexNotReset(_LightCurve):
    """Sorts but keeps the old index, so .loc[0] is no longer the first observation."""

    def __init__(self, observations):
        self.data = _validated(observations).sort_values(["mjd", "band"], kind="stable")


class LCSortsCallersList(_LightCurve):
    """Sorts the caller's list in place before building the DataFrame."""

    def __init__(self, observations):
        observations.sort(key=lambda o: (o.get("mjd", 0), o.get("band", "")))
        self.data = _sorted(_validated(observations))


class LCLenCountsColumns(_LightCurve):
    """__len__ counts the columns of the DataFrame (always 4)."""

    def __len__(self):
        return len(self.data.columns)


class LCNoNaNCheck(_LightCurve):
    """Does not look for NaN: pandas stores it silently."""

    def __init__(self, observations):
        self.data = _sorted(_validated(observations, check_nan=False))


class LCNegativeErrorsAllowed(_LightCurve):
    """Accepts negative flux errors."""

    def __init__(self, observations):
        self.data = _sorted(_validated(observations, check_negative=False))


class LCChecksFirstKeysOnly(_LightCurve):
    """Checks the keys of the first observation only; a later one without 'band' gets NaN."""

    def __init__(self, observations):
        self.data = _sorted(_validated(observations, every_key=False))


class LCEmptyKeyError(_LightCurve):
    """Lets an empty list fail with a KeyError from pandas instead of a ValueError saying it is empty."""

    def __init__(self, observations):
        data = pd.DataFrame(observations)[COLUMNS]
        self.data = _sorted(_validated(data.to_dict("records")))


class LCKeepsIntegers(_LightCurve):
    """Never converts to float: integer input stays int64, so equal light curves can have unequal data."""

    def __init__(self, observations):
        self.data = _sorted(_validated(observations, as_float=False))


class LCKeepsExtraKeys(_LightCurve):
    """Builds the DataFrame from every key, so extra keys become columns and the column order follows the input."""

    def __init__(self, observations):
        super().__init__(observations)
        self.data = _sorted(pd.DataFrame(observations).astype({c: float for c in NUMERIC}))


# ---------------------------------------------------------------- 1b __getitem__, bands, duration


class LCBandReturnsDataFrame(_LightCurve):
    """lc['g'] returns the selected DataFrame rows instead of a LightCurve."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.data[self.data["band"] == key]
        return super().__getitem__(key)


class LCIndexReturnsSeries(_LightCurve):
    """lc[0] returns a pandas Series instead of a dict."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.data.iloc[key]


class LCIndexUsesLoc(_LightCurve):
    """Indexes rows by label with .loc, so lc[-1] fails."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.data.loc[key].to_dict()


class LCMissingBandEmpty(_LightCurve):
    """lc['z'] builds a light curve from no rows (a ValueError) instead of raising KeyError."""

    def __getitem__(self, key):
        if isinstance(key, str):
            return type(self)(self.data[self.data["band"] == key].to_dict("records"))
        return super().__getitem__(key)


class LCBandsInOrderOfAppearance(_LightCurve):
    """bands lists each band once, but in order of first appearance, not sorted."""

    @property
    def bands(self):
        return list(self.data["band"].unique())


class LCBandsPerObservation(_LightCurve):
    """bands returns the band of every observation, with repeats."""

    @property
    def bands(self):
        return sorted(self.data["band"])


class LCDurationNotProperty(_LightCurve):
    """Forgets @property: lc.duration is a bound method."""

    def duration(self):
        return float(self.data["mjd"].iloc[-1] - self.data["mjd"].iloc[0])


class LCDurationOfInputOrder(_LightCurve):
    """Takes the first and last observation of the unsorted input."""

    def __init__(self, observations):
        super().__init__(observations)
        self._observations = observations

    @property
    def duration(self):
        return float(self._observations[-1]["mjd"] - self._observations[0]["mjd"])


# ---------------------------------------------------------------- 1c __str__, __repr__, __eq__


class LCReprSummary(_LightCurve):
    """repr is a summary like <LightCurve 6 obs>, which eval cannot rebuild."""

    def __repr__(self):
        return f"<{type(self).__name__} {len(self)} obs, bands {self.bands}>"


class LCReprOfDataFrame(_LightCurve):
    """repr shows the DataFrame's table."""

    def __repr__(self):
        return repr(self.data)


class LCReprHardcodedName(_LightCurve):
    """repr always says LightCurve(...), whatever the class (wrong for subclasses)."""

    def __repr__(self):
        return f"LightCurve({self.data.to_dict('records')!r})"


class LCEqIdentity(_LightCurve):
    """__eq__ compares identity, so a rebuilt copy is never equal."""

    def __eq__(self, other):
        return self is other

    __hash__ = None


class LCEqElementwise(_LightCurve):
    """__eq__ uses == on the DataFrames, which fails for light curves of different lengths."""

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return bool((self.data == other.data).all().all())


class LCEqAttributeError(_LightCurve):
    """__eq__ assumes the other object is a light curve: lc == 42 raises AttributeError."""

    def __eq__(self, other):
        return self.data.equals(other.data)


class LCEqLengthOnly(_LightCurve):
    """__eq__ compares the number of observations only."""

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return len(self) == len(other)


class LCHashable(_LightCurve):
    """Restores object.__hash__: equal light curves get different hashes (two 'equal' members in one set)."""

    __hash__ = object.__hash__


class LCHashByLength(_LightCurve):
    """Defines __hash__ from the length, making a mutable object hashable."""

    def __hash__(self):
        return hash(len(self))


class LCStrSameAsRepr(_LightCurve):
    """Defines no __str__ of its own: str(lc) is the long repr."""

    def __str__(self):
        return repr(self)


class LCStrWithoutDuration(_LightCurve):
    """str gives the count and bands but not the duration."""

    def __str__(self):
        return f"{type(self).__name__}: {len(self)} observations in {', '.join(self.bands)}"


# ---------------------------------------------------------------- 2a __iter__ and __add__


class LCIterColumns(_LightCurve):
    """__iter__ iterates over the DataFrame, which yields its column names."""

    def __iter__(self):
        return iter(self.data)


class LCIterRows(_LightCurve):
    """__iter__ returns iterrows(): (index, Series) tuples instead of observation dicts."""

    def __iter__(self):
        return self.data.iterrows()


class LCIterOnce(_LightCurve):
    """__iter__ hands out one shared iterator, so a second loop is empty."""

    def __init__(self, observations):
        super().__init__(observations)
        self._rows = iter(self.data.to_dict("records"))

    def __iter__(self):
        return self._rows


class LCAddMutatesSelf(_LightCurve):
    """__add__ appends the other light curve to self and returns self."""

    def __add__(self, other):
        if not isinstance(other, _LightCurve):
            return NotImplemented
        both = pd.concat([self.data, other.data], ignore_index=True).drop_duplicates()
        self.data = _sorted(both)
        return self


class LCAddKeepsDuplicates(_LightCurve):
    """__add__ concatenates without removing duplicates."""

    def __add__(self, other):
        if not isinstance(other, _LightCurve):
            return NotImplemented
        return type(self)(pd.concat([self.data, other.data]).to_dict("records"))


class LCAddUnsorted(_LightCurve):
    """__add__ sets the concatenated rows directly, skipping the constructor's sort."""

    def __add__(self, other):
        if not isinstance(other, _LightCurve):
            return NotImplemented
        new = type(self)(self.data.to_dict("records"))
        new.data = pd.concat([self.data, other.data], ignore_index=True).drop_duplicates().reset_index(drop=True)
        return new


class LCAddDedupOnTime(_LightCurve):
    """__add__ drops rows with a repeated mjd, losing simultaneous points in other bands."""

    def __add__(self, other):
        if not isinstance(other, _LightCurve):
            return NotImplemented
        both = pd.concat([self.data, other.data]).drop_duplicates(subset=["mjd"])
        return type(self)(both.to_dict("records"))


class LCAddReturnsDataFrame(_LightCurve):
    """__add__ returns the merged DataFrame instead of a light curve."""

    def __add__(self, other):
        if not isinstance(other, _LightCurve):
            return NotImplemented
        return _sorted(pd.concat([self.data, other.data]).drop_duplicates())


class LCAddNoNotImplemented(_LightCurve):
    """__add__ assumes a light curve: lc + 5 raises AttributeError instead of TypeError."""

    def __add__(self, other):
        both = pd.concat([self.data, other.data], ignore_index=True).drop_duplicates()
        return type(self)(both.to_dict("records"))


# ---------------------------------------------------------------- 3a TransientLightCurve: __init__, get_peak_magnitude


class TransientCopiesParentBadly(_Transient):
    """Builds self.data itself instead of calling super().__init__: unsorted and unvalidated."""

    def __init__(self, observations, transient_type, peak_mjd=None):
        self.data = pd.DataFrame(observations, columns=COLUMNS)
        self.transient_type = transient_type
        self.peak_mjd = float(self.data.loc[self.data["flux"].idxmax(), "mjd"] if peak_mjd is None else peak_mjd)


class TransientForgetsSuper(_Transient):
    """Never calls super().__init__, so there is no self.data."""

    def __init__(self, observations, transient_type, peak_mjd=None):
        self.transient_type = transient_type
        self.peak_mjd = peak_mjd


class TransientPeakAtFirstObservation(_Transient):
    """Uses the first observation's time as the default peak."""

    def __init__(self, observations, transient_type, peak_mjd=None):
        super().__init__(observations, transient_type, peak_mjd)
        if peak_mjd is None:
            self.peak_mjd = float(self.data["mjd"].iloc[0])


class TransientPeakAtFaintest(_Transient):
    """Takes the time of the smallest flux as the peak."""

    def __init__(self, observations, transient_type, peak_mjd=None):
        super().__init__(observations, transient_type, peak_mjd)
        if peak_mjd is None:
            self.peak_mjd = float(self.data.loc[self.data["flux"].idxmin(), "mjd"])


class TransientIgnoresPeakArgument(_Transient):
    """Always computes peak_mjd, ignoring the value passed in."""

    def __init__(self, observations, transient_type, peak_mjd=None):
        super().__init__(observations, transient_type)


class TransientPeakFromInputPosition(_Transient):
    """Finds the brightest row in the unsorted input, then reads that position of the sorted data."""

    def __init__(self, observations, transient_type, peak_mjd=None):
        super().__init__(observations, transient_type, peak_mjd)
        if peak_mjd is None:
            position = int(np.argmax([o["flux"] for o in observations]))
            self.peak_mjd = float(self.data["mjd"].iloc[position])


class PeakMagFaintest(_Transient):
    """Returns the largest magnitude, which is the faintest point."""

    def get_peak_magnitude(self, band):
        flux = self._band_flux(band)
        return float((27.5 - 2.5 * np.log10(flux[flux > 0])).max())


class PeakMagNaturalLog(_Transient):
    """Uses the natural logarithm."""

    def get_peak_magnitude(self, band):
        return float(27.5 - 2.5 * np.log(self._band_flux(band).max()))


class PeakMagIgnoresBand(_Transient):
    """Uses the largest flux of all bands."""

    def get_peak_magnitude(self, band):
        self._band_flux(band)
        return float(27.5 - 2.5 * np.log10(self.data["flux"].max()))


class PeakMagNaNForNegative(_Transient):
    """Returns NaN (with a RuntimeWarning) when the band has no positive flux."""

    def get_peak_magnitude(self, band):
        with np.errstate(invalid="ignore"):
            return float(27.5 - 2.5 * np.log10(self._band_flux(band).max()))


class PeakMagNaNForMissingBand(_Transient):
    """Filters without checking: an absent band gives NaN instead of a KeyError."""

    def get_peak_magnitude(self, band):
        peak = self.data.loc[self.data["band"] == band, "flux"].max()
        if peak <= 0:
            raise ValueError("no positive flux")
        return float(27.5 - 2.5 * np.log10(peak))


# ---------------------------------------------------------------- 3b phase_fold


def _fold(lc, phase, *, sort=True):
    folded = lc.data.copy()
    folded["phase"] = phase
    return folded.sort_values("phase", kind="stable").reset_index(drop=True) if sort else folded


class FoldNoModulo(_Transient):
    """Forgets the modulo: phases are cycles since the peak, negative before it and above 1 later."""

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        return _fold(self, (self.data["mjd"] - self.peak_mjd) / period)


class FoldIgnoresPeriod(_Transient):
    """Forgets to divide by the period: folds on one day whatever the period."""

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        return _fold(self, (self.data["mjd"] - self.peak_mjd) % 1.0)


class FoldPhaseInDays(_Transient):
    """Returns the time since the last peak in days, (mjd - peak) % period, not a phase in [0, 1)."""

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        return _fold(self, (self.data["mjd"] - self.peak_mjd) % period)


class FoldEpochZero(_Transient):
    """Folds around MJD 0 instead of peak_mjd."""

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        return _fold(self, (self.data["mjd"] / period) % 1.0)


class FoldWithFmod(_Transient):
    """Uses np.fmod, which keeps the sign: points before the peak get negative phases."""

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        return _fold(self, np.fmod((self.data["mjd"] - self.peak_mjd) / period, 1.0))


class FoldMutatesData(_Transient):
    """Adds the phase column to self.data and returns it."""

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        self.data["phase"] = ((self.data["mjd"] - self.peak_mjd) / period) % 1.0
        return self.data.sort_values("phase")


class FoldUnsorted(_Transient):
    """Returns the rows in time order instead of sorted by phase."""

    def phase_fold(self, period):
        if not period > 0:
            raise ValueError("period must be > 0")
        return _fold(self, ((self.data["mjd"] - self.peak_mjd) / period) % 1.0, sort=False)


class FoldAcceptsZeroPeriod(_Transient):
    """Does not validate the period: 0 gives NaN phases (and a warning) instead of a ValueError."""

    def phase_fold(self, period):
        with np.errstate(divide="ignore", invalid="ignore"):
            return _fold(self, ((self.data["mjd"] - self.peak_mjd) / period) % 1.0)


MUTANTS = {
    "1a": [LCUnsorted, LCSortedByTimeOnly, LCIndexNotReset, LCSortsCallersList, LCLenCountsColumns, LCNoNaNCheck,
           LCNegativeErrorsAllowed, LCChecksFirstKeysOnly, LCEmptyKeyError, LCKeepsIntegers, LCKeepsExtraKeys],
    "1b": [LCBandReturnsDataFrame, LCIndexReturnsSeries, LCIndexUsesLoc, LCMissingBandEmpty,
           LCBandsInOrderOfAppearance, LCBandsPerObservation, LCDurationNotProperty, LCDurationOfInputOrder],
    "1c": [LCReprSummary, LCReprOfDataFrame, LCReprHardcodedName, LCEqIdentity, LCEqElementwise, LCEqAttributeError,
           LCEqLengthOnly, LCHashable, LCHashByLength, LCStrSameAsRepr, LCStrWithoutDuration],
    "2a": [LCIterColumns, LCIterRows, LCIterOnce, LCAddMutatesSelf, LCAddKeepsDuplicates, LCAddUnsorted,
           LCAddDedupOnTime, LCAddReturnsDataFrame, LCAddNoNotImplemented],
    "3a": [TransientCopiesParentBadly, TransientForgetsSuper, TransientPeakAtFirstObservation, TransientPeakAtFaintest,
           TransientIgnoresPeakArgument, TransientPeakFromInputPosition, PeakMagFaintest, PeakMagNaturalLog,
           PeakMagIgnoresBand, PeakMagNaNForNegative, PeakMagNaNForMissingBand],
    "3b": [FoldNoModulo, FoldIgnoresPeriod, FoldPhaseInDays, FoldEpochZero, FoldWithFmod, FoldMutatesData,
           FoldUnsorted, FoldAcceptsZeroPeriod],
}
