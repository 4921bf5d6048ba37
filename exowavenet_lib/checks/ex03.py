"""Checks for notebook 03 — class design for astronomy surveys."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from exowavenet_lib.checks._core import (
    CheckFailed,
    attempt,
    check,
    describe_outcome,
    expect,
    expect_error,
    outcome,
)
from exowavenet_lib.lightcurves import TransientLightCurve
from exowavenet_lib.surveys import SurveyConfig as _LibraryConfig
from exowavenet_lib.surveys import to_ztf_alerts

_NAN, _INF = float("nan"), float("inf")
_NJY_TO_FLUXCAL = 10.0 ** (-0.4 * (31.4 - 27.5))  # 1 nJy in FLUXCAL units
_TOY_CONFIG = _LibraryConfig("CheckSurvey", ("g", "r"), 27.5, mag_limit=21.0, cadence_days=2.0)
_GOOD_CONFIG = {"name": "ZTF", "bands": ("g", "r", "i"), "zeropoint": 30.0, "mag_limit": 20.5, "cadence_days": 3.0}


# ---------------------------------------------------------------------------------------------------- 1a


@check("03", "1a", hint="Decorate the class with `@dataclass(frozen=True)` and declare the five fields with types. "
       "In `__post_init__`, turn `bands` into a tuple with `object.__setattr__(self, 'bands', tuple(self.bands))` (a "
       "frozen instance refuses normal assignment), then raise ValueError naming the field when: name is empty, bands "
       "is empty, has duplicates or a band not in KNOWN_BANDS, zeropoint or mag_limit is not finite, "
       "cadence_days <= 0.")
def q1a(SurveyConfig):  # noqa: N803 - the notebook's class name
    """SurveyConfig: a frozen dataclass (name, bands, zeropoint, mag_limit, cadence_days) validated on creation."""
    cfg = attempt(SurveyConfig, "ZTF", ("g", "r", "i"), 30.0, 20.5, 3.0)
    expect(dataclasses.is_dataclass(SurveyConfig), "SurveyConfig to be a @dataclass (it writes __init__, __repr__ and "
           "__eq__ for you)", f"a plain class {SurveyConfig.__name__}")
    names = [f.name for f in dataclasses.fields(SurveyConfig)]
    want_names = list(_GOOD_CONFIG)
    expect(names == want_names, f"the fields {want_names}, in this order", names)
    got = tuple(getattr(cfg, n) for n in want_names)
    expect(got == tuple(_GOOD_CONFIG.values()), f"the values given, {tuple(_GOOD_CONFIG.values())}", got)
    same = SurveyConfig(**_GOOD_CONFIG)
    expect(same == cfg, "two configs with equal fields to compare equal (dataclass __eq__)", f"{same!r} != {cfg!r}")
    other = SurveyConfig(**{**_GOOD_CONFIG, "bands": ("g", "r")})
    expect(other != cfg, "configs with different bands to compare unequal", f"{other!r} == {cfg!r}")
    cls_name = SurveyConfig.__name__
    expect(repr(cfg).startswith(f"{cls_name}(") and "name='ZTF'" in repr(cfg),
           f"a readable repr such as {cls_name}(name='ZTF', bands=('g', 'r', 'i'), ...)", repr(cfg))
    try:
        cfg.zeropoint = 27.5
    except AttributeError:  # dataclasses.FrozenInstanceError is an AttributeError
        pass
    else:
        raise CheckFailed("expected assigning cfg.zeropoint = 27.5 to raise FrozenInstanceError "
                          "(use @dataclass(frozen=True)); got the config changed")
    listed, err = outcome(SurveyConfig, **{**_GOOD_CONFIG, "bands": ["g", "r", "i"]})
    expect(err is None and isinstance(listed.bands, tuple) and listed.bands == ("g", "r", "i"),
           "bands=['g', 'r', 'i'] (a list) to be stored as the tuple ('g', 'r', 'i')",
           describe_outcome(None if listed is None else listed.bands, err))
    _, err = outcome(hash, listed)
    expect(err is None and listed == cfg,
           "a config made with a list of bands to be hashable and equal to the tuple one",
           describe_outcome(listed, err))
    bad_cases = [
        ("bands", ()), ("bands", ("g", "q")), ("bands", ("G", "r")), ("bands", ("g", "r", "g")),
        ("cadence_days", 0.0), ("cadence_days", -3.0), ("zeropoint", _NAN), ("mag_limit", _INF), ("name", ""),
    ]
    for field, value in bad_cases:
        expect_error(ValueError, f"SurveyConfig(..., {field}={value!r})", SurveyConfig, mentions=field,
                            **{**_GOOD_CONFIG, field: value})
    lsst = SurveyConfig("LSST", ("u", "g", "r", "i", "z", "y"), 31.4, 24.0, 3.0)
    expect(len(lsst.bands) == 6, "the six LSST bands u g r i z y to be accepted", lsst.bands)
    return "a frozen, validated dataclass: equal configs compare equal, bad ones fail on creation"


# ---------------------------------------------------------------------------------------------------- 2a

# (mjd, flux, flux_err, usable?, why)
_VALIDATION_ROWS = [
    (60000.0, 1500.0, 30.0, True, "an ordinary detection"),
    (60001.0, -250.0, 40.0, True, "negative flux: a real measurement in difference imaging"),
    (60002.0, 0.0, 35.0, True, "zero flux with a positive error"),
    (_NAN, 900.0, 30.0, False, "NaN mjd"),
    (60004.0, _NAN, 30.0, False, "NaN flux"),
    (60005.0, 800.0, _NAN, False, "NaN flux_err"),
    (60006.0, 700.0, 0.0, False, "flux_err == 0 (no measurement has zero error)"),
    (60007.0, 600.0, -5.0, False, "negative flux_err"),
    (_INF, 500.0, 30.0, False, "infinite mjd"),
    (60009.0, _INF, 30.0, False, "infinite flux"),
]


def _validation_inputs() -> tuple[list[float], list[float], list[float]]:
    return tuple([row[i] for row in _VALIDATION_ROWS] for i in range(3))  # type: ignore[return-value]


@check("03", "2a", hint="`validate_photometry` is a @staticmethod (no self): convert the three inputs with "
       "`np.asarray(x, dtype=float)`, raise ValueError if their lengths differ, and return "
       "`np.isfinite(mjd) & np.isfinite(flux) & np.isfinite(flux_err) & (flux_err > 0)` — negative flux is fine. "
       "`processed_count` is a @property returning `self._processed` (no setter, so it is read-only).")
def q2a(SurveyProcessor):  # noqa: N803 - the notebook's class name
    """SurveyProcessor contract: abstract process_lightcurve, static validate_photometry, read-only processed_count."""
    static = inspect.getattr_static(SurveyProcessor, "validate_photometry", None)
    expect(isinstance(static, staticmethod), "validate_photometry to be a @staticmethod (it needs neither self nor "
           "cls)", type(static).__name__)
    mjd, flux, flux_err = _validation_inputs()
    mask = attempt(SurveyProcessor.validate_photometry, mjd, flux, flux_err)
    expect(isinstance(mask, np.ndarray) and mask.dtype == bool and mask.shape == (len(mjd),),
           f"a boolean NumPy array of {len(mjd)} values (True = usable row)", mask)
    for i, (*_, usable, why) in enumerate(_VALIDATION_ROWS):
        expect(bool(mask[i]) == usable, f"row {i} ({why}) to be {'kept' if usable else 'rejected'}",
               f"{'kept' if mask[i] else 'rejected'}; full mask {mask.tolist()}")
    arrays = [np.array(mjd), np.array(flux), np.array(flux_err)]
    copies = [a.copy() for a in arrays]
    again = SurveyProcessor.validate_photometry(*arrays)
    expect(np.array_equal(again, mask), "the same mask for NumPy arrays as for lists", again)
    expect(all(np.array_equal(a, c, equal_nan=True) for a, c in zip(arrays, copies, strict=True)),
           "the input arrays to be left unchanged", "they were modified")
    expect_error(ValueError, "validate_photometry with 3 times but 1 flux and 1 error (lengths differ)",
                        SurveyProcessor.validate_photometry, [60000.0, 60001.0, 60002.0], [100.0], [10.0])

    expect(inspect.isabstract(SurveyProcessor) and "process_lightcurve" in SurveyProcessor.__abstractmethods__,
           "process_lightcurve to be an @abstractmethod of SurveyProcessor(ABC)",
           f"abstract methods {sorted(getattr(SurveyProcessor, '__abstractmethods__', ()))}")
    _, err = outcome(SurveyProcessor, _TOY_CONFIG)
    expect(isinstance(err, TypeError), "SurveyProcessor(config) to raise TypeError: an abstract class cannot be "
           "instantiated", describe_outcome(_, err))

    class _Incomplete(SurveyProcessor):
        pass

    _, err = outcome(_Incomplete, _TOY_CONFIG)
    expect(isinstance(err, TypeError), "a subclass without process_lightcurve to raise TypeError when instantiated",
           describe_outcome(_, err))

    class _Toy(SurveyProcessor):
        def process_lightcurve(self, records):
            self._processed += 1
            return records

    toy = _Toy(_TOY_CONFIG)
    expect(toy.config is _TOY_CONFIG, "the config passed to __init__ to be kept as self.config", toy.config)
    expect(isinstance(inspect.getattr_static(SurveyProcessor, "processed_count", None), property),
           "processed_count to be a @property (read as toy.processed_count, without parentheses)",
           type(inspect.getattr_static(SurveyProcessor, "processed_count", None)).__name__)
    expect(toy.processed_count == 0, "processed_count == 0 for a new processor", toy.processed_count)
    toy.process_lightcurve([])
    toy.process_lightcurve([])
    expect(toy.processed_count == 2, "processed_count == 2 after two light curves (read self._processed)",
           toy.processed_count)
    try:
        toy.processed_count = 99
    except AttributeError:
        pass
    else:
        raise CheckFailed("expected `toy.processed_count = 99` to raise AttributeError (a property without a "
                          f"setter is read-only); got processed_count == {toy.processed_count!r}")
    expect(toy.validate_photometry(mjd, flux, flux_err).tolist() == mask.tolist(),
           "validate_photometry to work on an instance too (a static method ignores the instance)", "a different mask")
    return "an abstract contract with a static validator and a read-only counter"


# ---------------------------------------------------------------------------------------------------- 2b


@check("03", "2b", hint="`from_survey_name` is a @classmethod: look up `name.lower()` in `cls._registry` (the "
       "keys are lower-case), and return a *new instance* `cls._registry[key]()`. For an unknown name raise "
       "ValueError naming it and listing `sorted(cls._registry)`.")
def q2b(SurveyProcessor):  # noqa: N803 - the notebook's class name
    """from_survey_name: case-insensitive registry lookup returning a new processor; unknown names raise ValueError."""
    registry = getattr(SurveyProcessor, "_registry", None)
    expect(isinstance(registry, dict), "the class attribute SurveyProcessor._registry (a dict) from the template",
           registry)
    expect(isinstance(inspect.getattr_static(SurveyProcessor, "from_survey_name", None), classmethod),
           "from_survey_name to be a @classmethod (it reads cls._registry)",
           type(inspect.getattr_static(SurveyProcessor, "from_survey_name", None)).__name__)

    class CheckSurveyProcessor(SurveyProcessor):
        survey_name = "CheckSurvey"
        SUPPORTED_FORMATS = ("toy",)

        def __init__(self):
            super().__init__(_TOY_CONFIG)

        def process_lightcurve(self, records):
            return records

    try:
        expect(registry.get("checksurvey") is CheckSurveyProcessor, "defining a subclass with survey_name = "
               "'CheckSurvey' to register it under 'checksurvey' (the template's __init_subclass__ does this)",
               sorted(registry))
        got = attempt(SurveyProcessor.from_survey_name, "checksurvey")
        expect(type(got) is CheckSurveyProcessor, "from_survey_name('checksurvey') to return an instance of the "
               "registered class CheckSurveyProcessor", got)
        for name in ("CheckSurvey", "CHECKSURVEY", "cHeCkSuRvEy"):
            got, err = outcome(SurveyProcessor.from_survey_name, name)
            expect(type(got) is CheckSurveyProcessor, f"from_survey_name({name!r}) to work too (names are "
                   "case-insensitive)", describe_outcome(got, err))
        first, second = SurveyProcessor.from_survey_name("checksurvey"), SurveyProcessor.from_survey_name("checksurvey")
        expect(first is not second, "a new processor for every call (each has its own processed_count)",
               "the same object twice")
        err = expect_error(ValueError, "from_survey_name('PanSTARRS') (an unknown survey must fail loudly, not return "
                                  "None)", SurveyProcessor.from_survey_name, "PanSTARRS")
        message = str(err)
        expect("PanSTARRS" in message, "the ValueError to name the unknown survey 'PanSTARRS'", message)
        missing = [key for key in registry if key not in message.lower()]
        expect(not missing, f"the ValueError to list the known surveys {sorted(registry)}", message)
        sub, err = outcome(CheckSurveyProcessor.from_survey_name, "CheckSurvey")
        expect(type(sub) is CheckSurveyProcessor, "the factory to work when called on a subclass too",
               describe_outcome(sub, err))
    finally:
        registry.pop("checksurvey", None)
    return "one registry, case-insensitive names, a new processor per call, a clear error for unknown surveys"


# ---------------------------------------------------------------------------------------------------- 3a


def _ztf_truth() -> TransientLightCurve:
    return TransientLightCurve(
        [60200.12, 60201.35, 60203.08, 60204.41, 60206.77, 60209.03],
        [1000.0, 2500.0, -400.0, 1800.0, 650.0, 3200.0],
        [30.0, 45.0, 60.0, 40.0, 25.0, 55.0],
        ["g", "r", "g", "i", "r", "g"],
        object_id="ZTF24aabcdef",
    )


def _compare_lightcurve(lc: Any, truth: TransientLightCurve, what: str) -> None:
    expect(isinstance(lc, TransientLightCurve), f"{what} to return a TransientLightCurve", type(lc).__name__)
    expect(len(lc) == len(truth), f"{what}: {len(truth)} observations", f"{len(lc)}")
    expect(lc.object_id == truth.object_id, f"{what}: object_id {truth.object_id!r}", lc.object_id)
    expect(np.allclose(lc.mjd, truth.mjd, rtol=0, atol=1e-6), f"{what}: mjd {truth.mjd.tolist()}", lc.mjd.tolist())
    expect(lc.band.tolist() == truth.band.tolist(), f"{what}: bands {truth.band.tolist()}", lc.band.tolist())
    expect(np.allclose(np.abs(lc.flux), np.abs(truth.flux), rtol=1e-9),
           f"{what}: FLUXCAL fluxes of size {np.abs(truth.flux).tolist()}", lc.flux.tolist())
    expect(np.allclose(lc.flux, truth.flux, rtol=1e-9),
           f"{what}: fluxes {truth.flux.tolist()} (negative where the difference is negative)", lc.flux.tolist())
    expect(np.allclose(lc.flux_err, truth.flux_err, rtol=1e-9), f"{what}: flux errors {truth.flux_err.tolist()}",
           lc.flux_err.tolist())


@check("03", "3a", hint="Read the rows with `pd.DataFrame(records)` (works for a DataFrame or a list of dicts; do "
       "not modify the caller's table). mjd = jd - 2400000.5 (or the `mjd` column); band from {1: 'g', 2: 'r', "
       "3: 'i'}; flux = 10**(-0.4 * (magpsf - 27.5)); flux_err = flux * sigmapsf / 1.0857; negate the flux where "
       "isdiffpos is 'f', '0' or '-1'. Drop rows that validate_photometry rejects, add 1 to self._processed only "
       "on success, and raise ValueError for a missing column, an unknown fid or no usable rows.")
def q3a(ZTFProcessor):  # noqa: N803 - the notebook's class name
    """ZTFProcessor: ZTF alert rows (jd or mjd, fid, magpsf, sigmapsf, isdiffpos) -> TransientLightCurve in FLUXCAL."""
    proc = attempt(ZTFProcessor)
    cfg = proc.config
    expect(cfg.name == "ZTF" and tuple(cfg.bands) == ("g", "r", "i"), "config name 'ZTF' with bands ('g', 'r', 'i')",
           cfg)
    expect("alert" in ZTFProcessor.SUPPORTED_FORMATS, "'alert' in ZTFProcessor.SUPPORTED_FORMATS",
           ZTFProcessor.SUPPORTED_FORMATS)
    expect(proc.processed_count == 0, "processed_count == 0 before any light curve", proc.processed_count)
    truth = _ztf_truth()
    alerts = to_ztf_alerts(truth)
    untouched = alerts.copy()
    lc = proc.process_lightcurve(alerts)
    _compare_lightcurve(lc, truth, "alert rows with jd and isdiffpos 't'/'f'")
    expect(alerts.equals(untouched), "the caller's alert table to be left unchanged",
           f"columns now {list(alerts.columns)}")
    expect(proc.processed_count == 1, "processed_count == 1 after one light curve", proc.processed_count)

    alerce = alerts.drop(columns=["jd"]).assign(mjd=truth.mjd, isdiffpos=np.where(truth.flux > 0, 1, -1))
    lc = proc.process_lightcurve(alerce.to_dict("records"))
    _compare_lightcurve(lc, truth, "ALeRCE-style rows (a list of dicts with mjd, isdiffpos 1/-1)")

    bad = pd.DataFrame([
        {"oid": "ZTF24aabcdef", "jd": 2460208.5, "fid": 1, "magpsf": _NAN, "sigmapsf": 0.1, "isdiffpos": "t"},
        {"oid": "ZTF24aabcdef", "jd": 2460208.6, "fid": 2, "magpsf": 18.9, "sigmapsf": _NAN, "isdiffpos": "t"},
    ])
    lc, err = outcome(proc.process_lightcurve, pd.concat([alerts, bad], ignore_index=True))
    expect(err is None, "rows with NaN magpsf or sigmapsf to be dropped (validate_photometry), not to stop the "
           "object", describe_outcome(lc, err))
    _compare_lightcurve(lc, truth, "alerts plus two NaN rows")
    expect(proc.processed_count == 3, "processed_count == 3 after three light curves", proc.processed_count)

    unknown_fid = pd.concat([alerts, bad.iloc[:1].assign(magpsf=19.0, fid=4)], ignore_index=True)
    expect_error(ValueError, "a table with a row of unknown fid 4 (a corrupted record: refuse the table)",
                        proc.process_lightcurve, unknown_fid, mentions="4")
    expect_error(ValueError, "a table without the magpsf column", proc.process_lightcurve,
                        alerts.drop(columns=["magpsf"]), mentions="magpsf")
    expect_error(ValueError, "a table whose rows are all unusable (NaN)", proc.process_lightcurve, bad)
    expect(proc.processed_count == 3, "processed_count to stay 3 after three failed calls (count successes only)",
           proc.processed_count)
    fresh = ZTFProcessor()
    expect(fresh.processed_count == 0, "each processor to count its own light curves", fresh.processed_count)
    return "jd→mjd, fid→band, magnitudes→FLUXCAL with signs, bad rows dropped, bad tables refused"


# ---------------------------------------------------------------------------------------------------- 3b


def _dia_rows() -> list[dict]:
    # (midpointMjdTai, band, psfFlux nJy, psfFluxErr nJy): 36 307.8 nJy is magnitude 20, i.e. 1000 FLUXCAL.
    rows = [(60300.05, "u", 9120.0, 610.0), (60302.11, "g", 36307.8, 420.0), (60303.98, "r", 41000.0, 380.0),
            (60306.02, "i", 39500.0, 450.0), (60309.20, "z", 30100.0, 700.0), (60311.07, "y", 21000.0, 1300.0),
            (60313.15, "r", -820.0, 390.0)]
    return [{"diaSourceId": 9000 + k, "diaObjectId": 1234567, "midpointMjdTai": t, "band": b, "psfFlux": f,
             "psfFluxErr": e} for k, (t, b, f, e) in enumerate(rows)]


def _dia_truth() -> TransientLightCurve:
    df = pd.DataFrame(_dia_rows())
    return TransientLightCurve(df["midpointMjdTai"], df["psfFlux"] * _NJY_TO_FLUXCAL,
                               df["psfFluxErr"] * _NJY_TO_FLUXCAL, df["band"].tolist(), object_id="1234567")


@check("03", "3b", hint="Same recipe as ZTF, in flux: mjd = midpointMjdTai, and both psfFlux and psfFluxErr (nJy) "
       "are multiplied by 10**(-0.4 * (self.config.zeropoint - 27.5)) with zeropoint 31.4 — a 20th-magnitude source "
       "is 36 308 nJy and 1000 FLUXCAL. Keep negative fluxes, accept all six bands u g r i z y, object_id = "
       "str(diaObjectId), and count only successful light curves.")
def q3b(LSSTProcessor):  # noqa: N803 - the notebook's class name
    """LSSTProcessor: DIA sources (midpointMjdTai, band, psfFlux, psfFluxErr in nJy) -> TransientLightCurve."""
    proc = attempt(LSSTProcessor)
    cfg = proc.config
    expect(cfg.name == "LSST" and tuple(cfg.bands) == ("u", "g", "r", "i", "z", "y"),
           "config name 'LSST' with bands ('u', 'g', 'r', 'i', 'z', 'y')", cfg)
    expect(math.isclose(cfg.zeropoint, 31.4), "zeropoint 31.4 (fluxes in nJy: m = 31.4 - 2.5 log10(f / nJy))",
           cfg.zeropoint)
    expect(23.0 <= cfg.mag_limit <= 25.5 and cfg.cadence_days > 0,
           "LSST's own depth (single-visit 5σ limit ≈ 24) and a positive cadence", cfg)
    expect("dia_source" in LSSTProcessor.SUPPORTED_FORMATS, "'dia_source' in LSSTProcessor.SUPPORTED_FORMATS",
           LSSTProcessor.SUPPORTED_FORMATS)
    rows = _dia_rows()
    truth = _dia_truth()
    lc, err = outcome(proc.process_lightcurve, pd.DataFrame(rows))
    expect(isinstance(lc, TransientLightCurve), "a TransientLightCurve from DIA sources in all six bands u g r i z y",
           describe_outcome(lc, err))
    expect(lc.bands == ("u", "g", "r", "i", "z", "y"), "all six LSST bands kept", lc.bands)
    g = np.flatnonzero(lc.band == "g")
    got_g = float(lc.flux[g[0]]) if len(g) else None
    expect(got_g is not None and math.isclose(got_g, 1000.0, rel_tol=1e-4),
           "36 307.8 nJy (magnitude 20) to become 1000 FLUXCAL: multiply by 10**(-0.4 * (31.4 - 27.5))", got_g)
    _compare_lightcurve(lc, truth, "DIA sources in nJy")
    expect(proc.processed_count == 1, "processed_count == 1 after one light curve", proc.processed_count)
    nan_row = {**rows[0], "diaSourceId": 1, "midpointMjdTai": 60315.0, "psfFlux": _NAN}
    lc, err = outcome(proc.process_lightcurve, [*rows, nan_row])
    expect(err is None, "a row with NaN psfFlux to be dropped, not to stop the object", describe_outcome(lc, err))
    _compare_lightcurve(lc, truth, "DIA sources plus a NaN row")
    expect_error(ValueError, "a row in band 'Y' (not an LSST band; bands are lower case)", proc.process_lightcurve,
                        [*rows, {**rows[0], "band": "Y"}])
    no_error_column = [{k: v for k, v in r.items() if k != "psfFluxErr"} for r in rows]
    expect_error(ValueError, "rows without psfFluxErr", proc.process_lightcurve, no_error_column, mentions="psfFluxErr")
    expect(proc.processed_count == 2, "processed_count == 2 after two light curves and two failures",
           proc.processed_count)
    return "nJy → FLUXCAL with LSST's own zeropoint, six bands, negative fluxes kept"


# ---------------------------------------------------------------------------------------------------- 4a


def _stats_lightcurves() -> list[TransientLightCurve]:
    # Same-band gaps: a/g 2, 3; a/r 3, 30; b/g 3; b/i 4 -> median 3.0 (mixing bands or objects gives less).
    a = TransientLightCurve([60000.0, 60001.0, 60002.0, 60004.0, 60005.0, 60034.0], [5.0] * 6, [1.0] * 6,
                            ["g", "r", "g", "r", "g", "r"], object_id="a")
    b = TransientLightCurve([60000.5, 60001.5, 60003.5, 60005.5], [5.0] * 4, [1.0] * 4, ["g", "i", "g", "i"],
                            object_id="b")
    return [a, b]


@check("03", "4a", hint="Compute every statistic inside its @property from self._lightcurves, so it is always up to "
       "date. detections_per_band: {band: count} for every band of self.config.bands, zeros included. "
       "median_revisit_days: np.diff of the sorted times of each band *within each light curve*, pooled, then "
       "np.median (None without any pair).")
def q4a(SurveyStatistics):  # noqa: N803 - the notebook's class name
    """SurveyStatistics: n_objects, detections_per_band and median_revisit_days as always-current properties."""
    config = _LibraryConfig("ZTF", ("g", "r", "i", "z"), 30.0, 20.5, 3.0)
    stats = SurveyStatistics(config)
    names = ("n_objects", "detections_per_band", "median_revisit_days")
    not_properties = [n for n in names if not isinstance(inspect.getattr_static(SurveyStatistics, n, None), property)]
    expect(not not_properties, f"{list(names)} to be @property methods", f"not properties: {not_properties}")
    expect(attempt(lambda: stats.n_objects + 1) == 1, "n_objects == 0 before any light curve is added",
           stats.n_objects)
    empty_counts = stats.detections_per_band
    expect(empty_counts == {"g": 0, "r": 0, "i": 0, "z": 0}, "{'g': 0, 'r': 0, 'i': 0, 'z': 0} with no light curves",
           empty_counts)
    expect(stats.median_revisit_days is None, "median_revisit_days None with no light curves",
           stats.median_revisit_days)
    a, b = _stats_lightcurves()
    stats.add(a)
    expect(stats.n_objects == 1, "n_objects == 1 after add(): compute it in the property, don't store it in "
           "__init__", stats.n_objects)
    got = stats.median_revisit_days
    expect(got is not None and math.isclose(got, 3.0), "median_revisit_days 3.0 for one object (same-band gaps "
           "2, 3, 3, 30: the median, not the mean, and never across bands)", got)
    stats.add(b)
    counts = stats.detections_per_band
    want = {"g": 5, "r": 3, "i": 2, "z": 0}
    expect(counts == want, f"{want} after two objects (every configured band, zeros included)", counts)
    expect(list(counts) == ["g", "r", "i", "z"], "the bands in the config's order", list(counts))
    got = stats.median_revisit_days
    expect(got is not None and math.isclose(got, 3.0) and isinstance(got, float),
           "median_revisit_days 3.0 (a float) for two objects: gaps within each object and band only", got)
    expect(stats.n_objects == 2, "n_objects == 2", stats.n_objects)
    lonely = SurveyStatistics(config)
    lonely.add(TransientLightCurve([60000.0, 60001.0], [5.0, 5.0], [1.0, 1.0], ["g", "r"], object_id="c"))
    expect(lonely.median_revisit_days is None, "None when no band has two observations of one object",
           lonely.median_revisit_days)
    return f"statistics that follow the data: {counts}, median revisit {stats.median_revisit_days:.1f} d"


# ---------------------------------------------------------------------------------------------------- 4b


class _FakeLog:
    """A log file stand-in: records lines, refuses writes after close (like a real file)."""

    def __init__(self) -> None:
        self.text = ""
        self.closed = False

    def write(self, text: str) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        self.text += text
        return len(text)

    def close(self) -> None:
        self.closed = True

    def flush(self) -> None:
        pass


class _FakeConfig:
    name = "Fake"


class _FakeProcessor:
    """process_lightcurve('ok…') works, 'bad…' raises ValueError (a bad object), 'bug' raises RuntimeError."""

    config = _FakeConfig()

    def process_lightcurve(self, records):
        if records.startswith("bad"):
            raise ValueError(f"unusable records {records!r}")
        if records == "bug":
            raise RuntimeError("a bug, not bad data")
        return f"lightcurve of {records}"


_SUMMARY = re.compile(r"Fake: processed (\d+), rejected (\d+)")


def _summary(log: _FakeLog) -> tuple[int, int] | None:
    lines = log.text.strip().splitlines()
    match = _SUMMARY.fullmatch(lines[-1].strip()) if lines else None
    return None if match is None else (int(match.group(1)), int(match.group(2)))


@check("03", "4b", hint="With @contextlib.contextmanager: keep two counters, define `process(records)` that calls "
       "processor.process_lightcurve and, on ValueError only, writes 'rejected: <reason>' to the log, counts a "
       "rejection and returns None. Then `try: yield process` / `finally:` write "
       "f'{processor.config.name}: processed {n}, rejected {m}' as the last line and close the log. Do not catch "
       "the exception around the yield: `finally` cleans up and lets it propagate.")
def q4b(batch_processing):
    """batch_processing: counts processed/rejected objects, logs a summary and closes the log on every exit."""
    proc = _FakeProcessor()
    log = _FakeLog()
    manager = attempt(batch_processing, proc, log)
    try:
        with manager as process:
            expect(callable(process), "`with batch_processing(...) as process` to give a function process(records)",
                   process)
            results = [process("ok-1"), process("bad-1"), process("ok-2"), process("ok-3"), process("bad-2")]
            expect(not log.closed, "the log to stay open inside the with block", "closed already")
    except ValueError as err:
        if "unusable records" in str(err):
            raise CheckFailed("expected process('bad-1') to catch the processor's ValueError, log it and return None "
                              f"(one bad object must not stop the batch); got ValueError: {err}") from err
        raise CheckFailed("expected the with block to end cleanly (write the summary line, then close the log); "
                          f"got ValueError: {err}") from err
    expect(results == ["lightcurve of ok-1", None, "lightcurve of ok-2", "lightcurve of ok-3", None],
           "process() to return the light curve, or None for a rejected object", results)
    expect(log.closed, "the log to be closed when the block ends", "still open")
    expect(_summary(log) == (3, 2), "the last log line 'Fake: processed 3, rejected 2'", log.text.strip())
    expect("unusable records 'bad-1'" in log.text, "each rejection's reason (the ValueError message) in the log",
           log.text.strip())

    log = _FakeLog()
    raised = None
    try:
        with batch_processing(proc, log) as process:
            process("ok-1")
            process("bad-1")
            raise KeyError("simulated crash inside the with block")
    except KeyError as err:
        raised = err
    expect(raised is not None, "an exception raised inside the with block to propagate (a context manager must not "
           "swallow it)", "it was swallowed")
    expect(log.closed, "the log to be closed even when the block raises (try/finally)", "still open")
    expect(_summary(log) == (1, 1), "the summary 'Fake: processed 1, rejected 1' written even when the block raises",
           log.text.strip())

    log = _FakeLog()
    raised = None
    try:
        with batch_processing(proc, log) as process:
            process("ok-1")
            process("bug")
    except RuntimeError as err:
        raised = err
    expect(raised is not None, "a RuntimeError from the processor (a bug, not bad data) to propagate: catch "
           "ValueError only", "it was caught")
    expect(log.closed and _summary(log) == (1, 0), "after the bug: log closed, last line 'Fake: processed 1, "
           "rejected 0'", f"closed={log.closed}, log {log.text.strip()!r}")
    return "counts and logs rejections, closes the log on every exit, and lets exceptions through"
