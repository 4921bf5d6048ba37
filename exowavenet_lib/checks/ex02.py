"""Checks for notebook 02 — light-curve classes and magic methods.

Every check takes the learner's class and builds its own small light curves. A check only uses the methods of its
own part and of earlier parts, and compares ``.data`` DataFrames itself rather than trusting the learner's ``__eq__``.
"""

from __future__ import annotations

import copy
import math
import operator
import random
import re

import numpy as np
import pandas as pd

from exowavenet_lib.checks._core import attempt, check, expect, expect_error, outcome, show

COLUMNS = ["mjd", "flux", "flux_err", "band"]

# A tiny hand-written light curve: unsorted, three bands, two observations at the same time (g and r at MJD 11), a
# negative flux, and a duration (7.5 d) that differs from the number of observations (6).
_OBS = [
    {"mjd": 12.0, "flux": 25.0, "flux_err": 1.5, "band": "r"},
    {"mjd": 10.0, "flux": 15.0, "flux_err": 1.0, "band": "g"},
    {"mjd": 14.5, "flux": 19.0, "flux_err": 0.5, "band": "i"},
    {"mjd": 11.0, "flux": 30.0, "flux_err": 2.0, "band": "r"},
    {"mjd": 11.0, "flux": 28.0, "flux_err": 3.0, "band": "g"},
    {"mjd": 17.5, "flux": -4.0, "flux_err": 2.5, "band": "g"},
]
# The same observations sorted by time, then band.
_SORTED = sorted(_OBS, key=lambda o: (o["mjd"], o["band"]))


def _obs() -> list[dict]:
    return copy.deepcopy(_OBS)


def _with(index: int, **changes) -> list[dict]:
    """A copy of the observations with one of them changed (a value of None deletes the key)."""
    obs = _obs()
    obs[index].update(changes)
    for key, value in changes.items():
        if value is None:
            del obs[index][key]
    return obs


def _sample(seed: int, bands=("g", "r", "i")) -> list[dict]:
    from exowavenet_lib.simulate import sample_observations

    return sample_observations(seed=seed, bands=bands)


def _shuffled(records: list[dict], seed: int) -> list[dict]:
    out = copy.deepcopy(records)
    random.Random(seed).shuffle(out)
    return out


def _records(data) -> list[dict] | str:
    """A DataFrame's rows as plain dicts (for comparison), or a short description of what it is instead."""
    if not isinstance(data, pd.DataFrame):
        return f"a {type(data).__name__}, not a DataFrame"
    return data.to_dict("records")


def _mjds(data) -> list | str:
    return list(data["mjd"]) if isinstance(data, pd.DataFrame) and "mjd" in data else show(data)


def _data_of(lc, what: str) -> pd.DataFrame:
    data = getattr(lc, "data", None)
    expect(isinstance(data, pd.DataFrame), f"{what}.data to be a pandas DataFrame",
           f"{type(data).__name__}" if data is not None else "no attribute .data")
    return data


def _brief(value) -> str:
    """A one-line, short repr (DataFrame and Series reprs span several lines)."""
    return " ".join(show(value).split())[:80]


def _is(value, truth: bool) -> bool:
    """True when ``value`` is a plain (or numpy) boolean equal to ``truth`` — not a DataFrame, not None."""
    return isinstance(value, (bool, np.bool_)) and bool(value) is truth


def _mag(flux: float) -> float:
    return 27.5 - 2.5 * math.log10(flux)


# ---------------------------------------------------------------------------------------------------------- 1a


@check("02", "1a", hint="Validate before building: `if not observations: raise ValueError('... empty ...')`; for "
       "each dict, `missing = [c for c in self.COLUMNS if c not in obs]` → ValueError naming them. Then "
       "`pd.DataFrame(observations, columns=self.COLUMNS)`, `.astype(float)` on mjd, flux and flux_err, "
       "`.isna().any()` → ValueError with 'NaN' and the column, `(flux_err < 0).any()` → ValueError with "
       "'negative'. Finally `sort_values(['mjd', 'band'], kind='stable').reset_index(drop=True)` into self.data "
       "(sorting a new DataFrame leaves the caller's list alone). `__len__` is the number of rows: len(self.data).")
def q1a(LightCurve):
    """LightCurve(observations): validated, float columns, sorted by (mjd, band), index 0..n-1; len = rows."""
    obs = _obs()
    lc = attempt(LightCurve, obs)
    expect(obs == _OBS, "the input list left unchanged (sort a new DataFrame, not the caller's list)",
           f"mjd {[o.get('mjd') for o in obs]} after the call")
    data = _data_of(lc, "lc")
    expect(list(data.columns) == COLUMNS, f"lc.data columns {COLUMNS}, in this order", list(data.columns))
    n = len(lc)
    expect(n == 6, "len(lc) == 6, the number of observations (rows, not columns)", n)
    expect(list(data["mjd"]) == [o["mjd"] for o in _SORTED], f"rows sorted by time: mjd {[o['mjd'] for o in _SORTED]}",
           f"mjd {list(data['mjd'])}")
    expect(list(data["band"]) == [o["band"] for o in _SORTED],
           "observations at the same time ordered by band: sort by ['mjd', 'band'] → bands "
           f"{[o['band'] for o in _SORTED]}", f"bands {list(data['band'])}")
    expect(list(data.index) == list(range(n)), "the index 0..5 after sorting (reset_index(drop=True))",
           list(data.index))
    expect(_records(data) == _SORTED, "each row to keep its own flux, flux_err and band when sorted",
           _records(data))
    ints = [{"mjd": 3, "flux": 100, "flux_err": 2, "band": "r"}, {"mjd": 1, "flux": 50, "flux_err": 1, "band": "g"}]
    data = _data_of(LightCurve(ints), "LightCurve(integer values)")
    kinds = {c: str(data[c].dtype) for c in COLUMNS[:3]}
    expect(all(data[c].dtype == np.float64 for c in COLUMNS[:3]),
           "float64 mjd, flux and flux_err even for integer input (so equal light curves have equal data)", kinds)
    extra = [{"band": "g", "flux_err": 0.5, "flux": 3.0, "mjd": 1.0, "mag": 26.3}]
    data = _data_of(LightCurve(extra), "LightCurve(records with keys in another order and an extra 'mag')")
    expect(list(data.columns) == COLUMNS,
           f"exactly the columns {COLUMNS} whatever the key order, extra keys dropped", list(data.columns))
    expect(len(LightCurve(extra)) == 1, "len 1 for a single observation", len(LightCurve(extra)))
    sample = _sample(4)
    lc = LightCurve(_shuffled(sample, 4))
    expect(len(lc) == len(sample), f"len {len(sample)} for the simulated g, r, i light curve", len(lc))
    expect(_records(lc.data) == sample, "the shuffled simulated light curve sorted back into time order",
           f"mjd {_mjds(lc.data)[:6]}…")
    expect_error(ValueError, "an empty list", LightCurve, [], mentions=("empty",))
    expect_error(ValueError, "an observation without 'flux_err'", LightCurve, _with(2, flux_err=None),
                  mentions=("flux_err",))
    expect_error(ValueError, "a last observation without 'band' (check every observation, not just the first)",
                  LightCurve, _with(5, band=None), mentions=("band",))
    expect_error(ValueError, "flux = NaN", LightCurve, _with(3, flux=float("nan")), mentions=("NaN", "flux"))
    expect_error(ValueError, "mjd = NaN", LightCurve, _with(0, mjd=float("nan")), mentions=("NaN", "mjd"))
    expect_error(ValueError, "flux_err = NaN", LightCurve, _with(1, flux_err=float("nan")),
                  mentions=("NaN", "flux_err"))
    expect_error(ValueError, "flux_err = -1.5", LightCurve, _with(4, flux_err=-1.5), mentions=("negative",))
    return "validated, sorted by time then band, float columns, clear errors for bad input"


# ---------------------------------------------------------------------------------------------------------- 1b


@check("02", "1b", hint="For an int key: `self.data.iloc[key].to_dict()` (iloc counts positions, so -1 is the last "
       "row and a too-large index raises IndexError). For a str key: `rows = self.data[self.data['band'] == key]`; "
       "if rows is empty raise KeyError(key); else return `LightCurve(rows.to_dict('records'))` — a light curve, "
       "not a DataFrame. Properties (with @property): `sorted(self.data['band'].unique())`, and the last mjd minus "
       "the first of the sorted data, as a float.")
def q1b(LightCurve):
    """lc[i] → dict, lc['g'] → LightCurve of that band (KeyError if absent); bands sorted; duration in days."""
    lc = LightCurve(_obs())
    first = attempt(lc.__getitem__, 0)
    expect(isinstance(first, dict), "lc[0] to be a dict {'mjd': …, 'flux': …, 'flux_err': …, 'band': …}",
           type(first).__name__)
    expect(first == _SORTED[0], f"lc[0] to be the earliest observation {_SORTED[0]}", first)
    expect(lc[3] == _SORTED[3], f"lc[3] == {_SORTED[3]}", lc[3])
    expect(lc[-1] == _SORTED[-1], f"lc[-1] to be the last observation {_SORTED[-1]}", lc[-1])
    expect_error(IndexError, "lc[6] on 6 observations", lc.__getitem__, 6)
    g = lc["g"]
    expect(isinstance(g, LightCurve), f"lc['g'] to be a {LightCurve.__name__} (so it has len, bands, …), "
           "not a DataFrame", type(g).__name__)
    want = [o for o in _SORTED if o["band"] == "g"]
    expect(_records(_data_of(g, "lc['g']")) == want, f"lc['g'] to hold the 3 g-band observations, mjd "
           f"{[o['mjd'] for o in want]}", _records(g.data))
    expect(len(g) == 3 and len(lc["i"]) == 1, "3 observations in lc['g'] and 1 in lc['i']", (len(g), len(lc["i"])))
    expect(_records(lc.data) == _SORTED, "lc itself unchanged by lc['g']", _mjds(lc.data))
    expect_error(KeyError, "lc['z'], a band with no observations", lc.__getitem__, "z", mentions=("z",))
    bands = lc.bands
    expect(isinstance(bands, (list, tuple)) and list(bands) == ["g", "i", "r"],
           "lc.bands == ['g', 'i', 'r']: each band once, sorted", bands)
    expect(list(g.bands) == ["g"], "lc['g'].bands == ['g']", g.bands)
    duration = lc.duration
    expect(not callable(duration), "duration to be a property (lc.duration, no parentheses): add @property",
           "a method")
    expect(isinstance(duration, float) and duration == 7.5,
           "lc.duration == 7.5 days (last minus first observation of the sorted data)", duration)
    expect(lc["r"].duration == 1.0 and lc["i"].duration == 0.0, "durations 1.0 for r and 0.0 for a single i point",
           (lc["r"].duration, lc["i"].duration))
    sample = _sample(5)
    lc = LightCurve(_shuffled(sample, 5))
    mjd = [o["mjd"] for o in sample]
    expect(abs(lc.duration - (max(mjd) - min(mjd))) < 1e-9,
           f"duration {max(mjd) - min(mjd):.3f} d for the shuffled simulated light curve", lc.duration)
    per_band = {b: len(lc[b]) for b in lc.bands}
    want = {b: sum(o["band"] == b for o in sample) for b in ("g", "i", "r")}
    expect(per_band == want, f"observations per band {want} for the simulated light curve", per_band)
    return f"indexing by position and by band; {len(lc)} simulated observations over {lc.duration:.1f} days"


# ---------------------------------------------------------------------------------------------------------- 1c


@check("02", "1c", hint="`__repr__`: f\"{type(self).__name__}({self.data.to_dict('records')!r})\" — the call that "
       "would rebuild it. `__str__`: a sentence for people with len(self), the bands and the duration formatted "
       "with :.1f. `__eq__`: `if type(other) is not type(self): return NotImplemented`, then "
       "`return self.data.equals(other.data)` (`==` on DataFrames is element-wise and fails for different "
       "lengths). Do not define __hash__: Python sets it to None for you.")
def q1c(LightCurve):
    """repr round-trips through eval; str is a readable summary; == compares data; instances are unhashable."""
    lc = LightCurve(_obs())
    text = attempt(lc.__repr__)
    expect(isinstance(text, str), "repr(lc) to be a string", text)
    namespace = {LightCurve.__name__: LightCurve, "np": np, "numpy": np}
    try:
        rebuilt = eval(text, namespace)  # noqa: S307 - the point of the exercise
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001
        expect(False, f"eval(repr(lc)) to rebuild the light curve, e.g. {LightCurve.__name__}([{{'mjd': 10.0, …}}])",
               f"{type(err).__name__}: {err} for repr {show(text)}")
    expect(isinstance(rebuilt, LightCurve) and rebuilt is not lc,
           f"eval(repr(lc)) to build a new {LightCurve.__name__}", type(rebuilt).__name__)
    expect(_records(_data_of(rebuilt, "eval(repr(lc))")) == _SORTED, "eval(repr(lc)) to hold the same observations",
           _mjds(rebuilt.data))
    same = rebuilt == lc
    expect(_is(same, True),
           "eval(repr(lc)) == lc to be True (compare the data, not the identity)", same)
    other = LightCurve(_with(1, flux=15.5))
    expect(_is(lc == other, False), "lc == other to be False when one flux differs", lc == other)
    expect(_is(lc != other, True), "lc != other to be True when one flux differs", lc != other)
    shorter = LightCurve(_obs()[:3])
    expect(_is(lc == shorter, False), "lc == shorter to be False for light curves of different lengths (not an "
           "error)", lc == shorter)
    expect(_is(lc == "a light curve", False) and _is(lc == 42, False),
           "lc == 'a light curve' and lc == 42 to be False (return NotImplemented for other types)",
           (lc == "a light curve", lc == 42))

    class Sub(LightCurve):
        pass

    sub_text = repr(Sub(_obs()))
    expect(sub_text.startswith("Sub("), "a subclass's repr to start with its own name, 'Sub(' "
           "(use type(self).__name__)", sub_text[:40])
    _, err = outcome(hash, lc)
    expect(isinstance(err, TypeError), "hash(lc) to raise TypeError: a class defining __eq__ gets __hash__ = None, "
           "and a mutable light curve must not be hashable", f"hash {hash(lc)}" if err is None else err)
    summary = str(lc)
    expect(isinstance(summary, str) and summary != text,
           "str(lc) to be a short summary for people, different from repr", show(summary))
    expect(re.search(r"\b6\b", summary) is not None, "str(lc) to give the number of observations, 6", summary)
    expect(all(b in summary for b in "gri"), "str(lc) to list the bands g, i, r", summary)
    expect("7.5" in summary, "str(lc) to give the duration, 7.5 (days)", summary)
    sample = LightCurve(_sample(6, bands=("g", "r")))
    expect(_is(eval(repr(sample), namespace) == sample, True), "eval(repr(lc)) == lc for a simulated light curve too",
           repr(sample)[:80])
    return "repr round-trips, == compares observations, str summarises, and hash() refuses"


# ---------------------------------------------------------------------------------------------------------- 2a

_OBS_B = [
    {"mjd": 12.0, "flux": 25.0, "flux_err": 1.5, "band": "r"},  # exact duplicate of an observation in _OBS
    {"mjd": 10.0, "flux": 15.0, "flux_err": 1.0, "band": "g"},  # exact duplicate
    {"mjd": 11.0, "flux": 30.5, "flux_err": 2.0, "band": "r"},  # same time and band, another flux: not a duplicate
    {"mjd": 9.0, "flux": 8.0, "flux_err": 1.0, "band": "i"},  # new, earliest
    {"mjd": 14.5, "flux": 18.0, "flux_err": 0.7, "band": "g"},  # same time as the i point, another band
]


@check("02", "2a", hint="`__iter__`: `yield from self.data.to_dict('records')` (iterating over a DataFrame itself "
       "gives its column names). `__add__`: `if not isinstance(other, LightCurve): return NotImplemented`; then "
       "`pd.concat([self.data, other.data]).drop_duplicates()` (all four columns) and build a new LightCurve from "
       "its records — the constructor validates and sorts. Never assign to self.data.")
def q2a(LightCurve):
    """iter(lc) yields observation dicts in time order; a + b merges: sorted, exact duplicates once, inputs kept."""
    lc = LightCurve(_obs())
    iterator = attempt(iter, lc)
    got = list(iterator)
    expect(bool(got) and all(isinstance(o, dict) for o in got), "iterating to give observation dicts",
           f"{type(got[0]).__name__} items such as {_brief(got[0])}" if got else "nothing")
    expect(got == _SORTED, f"the {len(_SORTED)} observations in time order", got)
    expect(list(lc) == _SORTED, "a second loop over lc to give the observations again", list(lc))
    a, b = LightCurve(_obs()), LightCurve(copy.deepcopy(_OBS_B))
    a_before, b_before = a.data.copy(), b.data.copy()
    merged = a + b
    expect(a.data.equals(a_before) and b.data.equals(b_before), "a + b to leave a and b unchanged",
           f"len(a) {len(a.data)}, len(b) {len(b.data)} after the addition (were 6 and 5)")
    expect(isinstance(merged, LightCurve) and merged is not a and merged is not b,
           f"a + b to be a new {LightCurve.__name__}", type(merged).__name__)
    want = sorted(_OBS + _OBS_B[2:], key=lambda o: (o["mjd"], o["band"]))
    data = _data_of(merged, "a + b")
    expect(len(data) == len(want), f"{len(want)} observations in a + b: 6 + 5 minus the 2 exact duplicates (a point "
           "at the same time and band with another flux is kept)", len(data))
    expect(list(data["mjd"]) == [o["mjd"] for o in want], f"a + b sorted by time: mjd {[o['mjd'] for o in want]}",
           list(data["mjd"]))
    expect(sorted(map(str, _records(data))) == sorted(map(str, want)),
           "a + b to hold exactly the distinct observations", _records(data))
    expect(list(data.index) == list(range(len(want))), "a + b to have the index 0..n-1", list(data.index))
    expect(len(a + a) == 6, "len(a + a) == len(a): adding a light curve to itself adds nothing new", len(a + a))
    expect_error(TypeError, "lc + 5 (return NotImplemented for anything that is not a light curve)",
                  operator.add, a, 5)
    sample = _sample(7)
    half = len(sample) // 2
    early, late = LightCurve(sample[: half + 5]), LightCurve(sample[half - 5:])
    whole = early + late
    expect(_records(whole.data) == sample, "two overlapping halves of a simulated light curve to merge back into "
           f"the {len(sample)} original observations", f"{len(whole.data)} observations")
    return f"iteration and merging work: two overlapping halves give back all {len(sample)} observations"


# ---------------------------------------------------------------------------------------------------------- 3a


@check("02", "3a", hint="Start `__init__` with `super().__init__(observations)`: it validates, sorts and sets "
       "self.data. Store transient_type; if peak_mjd is None use the mjd of the largest flux, "
       "`self.data.loc[self.data['flux'].idxmax(), 'mjd']`, stored as a float. get_peak_magnitude: the brightest "
       "point has the largest flux (and the smallest magnitude): `flux = self[band].data['flux'].max()` (KeyError for "
       "an absent band), ValueError if flux <= 0, else `27.5 - 2.5 * np.log10(flux)`. If self[band] complains about a "
       "missing transient_type, your LightCurve.__getitem__ builds type(self)(...): make it build a plain "
       "LightCurve(...) (see the introduction of Part 3).")
def q3a(TransientLightCurve):
    """TransientLightCurve(obs, transient_type, peak_mjd=None) via super(); get_peak_magnitude(band), FLUXCAL."""
    obs = _obs()
    sn = attempt(TransientLightCurve, obs, "SN Ia")
    expect(obs == _OBS, "the input list left unchanged", f"mjd {[o.get('mjd') for o in obs]}")
    expect(getattr(sn, "transient_type", None) == "SN Ia", "sn.transient_type == 'SN Ia'",
           getattr(sn, "transient_type", "no attribute transient_type"))
    data = _data_of(sn, "sn")
    expect(_records(data) == _SORTED, "the observations validated and sorted as in LightCurve: call "
           "super().__init__(observations)", f"mjd {_mjds(data)}")
    expect(len(sn) == 6, "len(sn) == 6 (inherited)", len(sn))
    peak = getattr(sn, "peak_mjd", "no attribute peak_mjd")
    expect(isinstance(peak, float) and peak == 11.0,
           "peak_mjd == 11.0 by default: the time of the largest flux (30.0, r band)", peak)
    given = TransientLightCurve(_obs(), transient_type="SN II", peak_mjd=12.5)
    expect(given.peak_mjd == 12.5 and given.transient_type == "SN II",
           "peak_mjd=12.5 and transient_type='SN II' kept when given (also by keyword)",
           (given.peak_mjd, given.transient_type))
    expect_error(ValueError, "TransientLightCurve([], 'SN Ia') (the parent's validation)", TransientLightCurve, [],
                  "SN Ia", mentions=("empty",))
    expect_error(ValueError, "a negative flux_err (the parent's validation)", TransientLightCurve,
                  _with(4, flux_err=-1.5), "SN Ia", mentions=("negative",))
    for band, flux in (("g", 28.0), ("r", 30.0), ("i", 19.0)):
        got = sn.get_peak_magnitude(band)
        expect(isinstance(got, (int, float)) and abs(got - _mag(flux)) < 1e-9,
               f"get_peak_magnitude({band!r}) == {_mag(flux):.4f}: 27.5 - 2.5 log10 of the largest {band} flux, "
               f"{flux}", got)
    expect_error(KeyError, "get_peak_magnitude('z'), a band with no observations", sn.get_peak_magnitude, "z")
    faint = TransientLightCurve(_with(2, flux=-3.0), "SN Ia")
    expect_error(ValueError, "get_peak_magnitude('i') when the only i flux is -3 (no magnitude exists)",
                  faint.get_peak_magnitude, "i")
    sample = _sample(8)
    real = TransientLightCurve(_shuffled(sample, 8), "SN Ia")
    brightest = max(sample, key=lambda o: o["flux"])
    expect(real.peak_mjd == brightest["mjd"], f"peak_mjd {brightest['mjd']} for the simulated supernova",
           real.peak_mjd)
    for band in ("g", "r", "i"):
        want = _mag(max(o["flux"] for o in sample if o["band"] == band))
        got = real.get_peak_magnitude(band)
        expect(isinstance(got, (int, float)) and abs(got - want) < 1e-9,
               f"peak magnitude {want:.3f} in {band} for the simulated supernova", got)
    return f"inherits validation; simulated SN peaks at MJD {real.peak_mjd:.1f}, g = {real.get_peak_magnitude('g'):.2f}"


# ---------------------------------------------------------------------------------------------------------- 3b


def _phase(mjd: float, epoch: float, period: float) -> float:
    return ((mjd - epoch) / period) % 1.0


@check("02", "3b", hint="`folded = self.data.copy()`, then `folded['phase'] = ((folded['mjd'] - self.peak_mjd) / "
       "period) % 1.0` — Python's and numpy's % give a result with the sign of the divisor, so points before the "
       "peak land in [0, 1) too (np.fmod would not). Return `folded.sort_values('phase')`. Raise ValueError when "
       "period <= 0.")
def q3b(TransientLightCurve):
    """phase_fold(period): a new DataFrame with 'phase' = ((mjd - peak_mjd) / period) mod 1, sorted by phase."""
    star = TransientLightCurve(_obs(), "RR Lyrae", peak_mjd=10.25)
    before = star.data.copy()
    folded = attempt(star.phase_fold, 2.0)
    expect(isinstance(folded, pd.DataFrame), "phase_fold to return a DataFrame", type(folded).__name__)
    expect(star.data.equals(before), "phase_fold to leave self.data unchanged (add the column to a copy)",
           f"self.data columns {list(star.data.columns)}")
    expect(folded is not star.data, "a new DataFrame, not self.data itself", "self.data")
    expect("phase" in folded.columns and all(c in folded.columns for c in COLUMNS),
           f"the columns {COLUMNS} plus 'phase'", list(folded.columns))
    expect(len(folded) == 6, "all 6 observations folded", len(folded))
    phases = [float(p) for p in folded["phase"]]
    expect(all(0.0 <= p < 1.0 for p in phases), "every phase in [0, 1), also before the peak", phases)
    expect(phases == sorted(phases), "rows sorted by phase", phases)
    want = sorted(_phase(o["mjd"], 10.25, 2.0) for o in _OBS)
    expect(np.allclose(phases, want), f"phases {want} for period 2 d and peak_mjd 10.25: "
           "((mjd - peak_mjd) / period) % 1", phases)
    pairs = sorted(zip(folded["mjd"], folded["phase"], strict=True))
    expect(all(abs(p - _phase(m, 10.25, 2.0)) < 1e-9 for m, p in pairs),
           "each observation's phase computed from its own mjd", pairs)
    phases = sorted(float(p) for p in star.phase_fold(3.0)["phase"])
    want = sorted(_phase(o["mjd"], 10.25, 3.0) for o in _OBS)
    expect(np.allclose(phases, want), f"phases {want} for period 3 d (the period matters)", phases)
    expect_error(ValueError, "period = 0", star.phase_fold, 0.0)
    expect_error(ValueError, "period = -2", star.phase_fold, -2.0)
    sample = _sample(9, bands=("g", "r"))
    sn = TransientLightCurve(sample, "SN Ia")
    folded = sn.phase_fold(17.3)
    got = sorted(zip(folded["mjd"], folded["phase"], strict=True))
    want = sorted((o["mjd"], _phase(o["mjd"], sn.peak_mjd, 17.3)) for o in sample)
    expect(np.allclose(np.array(got), np.array(want)), "the simulated light curve folded on 17.3 d around its peak",
           got[:3])
    return "phases in [0, 1) around peak_mjd, sorted, with self.data untouched"
