"""Checks for notebook 04 — design patterns for an astronomy pipeline.

The pipeline checks build their own fakes (a processor, a classifier, a broker) so that each requirement can be tested
alone, give every logger they create a unique name, and remove its handlers (and restore the root logger) afterwards.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import io
import logging
import math
import re
import tempfile
import time
import typing
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from exowavenet_lib.checks._core import (
    CheckFailed,
    attempt,
    check,
    describe_outcome,
    expect,
    expect_error,
    outcome,
    show,
)
from exowavenet_lib.lightcurves import TransientLightCurve
from exowavenet_lib.simulate import TRANSIENT_CLASSES, bazin, simulate_transients
from exowavenet_lib.surveys import ZTFProcessor, to_ztf_alerts

_ZP = 27.5
_FEATURES = ("peak_mag", "rise_time", "decline_rate", "colour", "duration", "amplitude")


# ---------------------------------------------------------------------------------------------------------- 1a


class _Duck:
    """Has both members; inherits from nothing."""

    classes = ("SNIa", "TDE")

    def predict(self, lc):
        return "SNIa"


class _InstanceDuck:
    """Sets `classes` in __init__: an instance attribute counts as well."""

    def __init__(self):
        self.classes = ("AGN",)

    def predict(self, lc):
        return "AGN"


class _Richer(_Duck):
    """More members than the protocol asks for."""

    def fit(self, lcs, labels):
        return self

    def predict_proba(self, lc):
        return {"SNIa": 1.0}


class _PredictOnly:
    def predict(self, lc):
        return "SNIa"


class _ClassesOnly:
    classes = ("SNIa",)


@check("04", "1a", hint="`from typing import Protocol, runtime_checkable`; then `@runtime_checkable` above `class "
       "Classifier(Protocol):` and, in its body, the annotation `classes: tuple[str, ...]` (no value) and `def "
       "predict(self, lc) -> str: ...`. No base class other than Protocol, no abstract methods: an object "
       "qualifies by having the members, not by inheriting.")
def q1a(Classifier):  # noqa: N803 - the notebook's class name
    """Classifier: a runtime-checkable typing.Protocol with `classes` and `predict(lc) -> str`."""
    expect(isinstance(Classifier, type), "Classifier to be a class (class Classifier(Protocol): ...)",
           type(Classifier).__name__)
    expect(bool(getattr(Classifier, "_is_protocol", False)),
           "Classifier to be a typing.Protocol: class Classifier(Protocol) (an ABC or a plain base class needs "
           "inheritance; a protocol does not)", f"bases {[b.__name__ for b in Classifier.__mro__[1:]]}")
    try:
        duck = isinstance(_Duck(), Classifier)
    except TypeError as err:
        raise CheckFailed("expected isinstance(obj, Classifier) to work: decorate the class with "
                          f"@runtime_checkable; got TypeError: {err}") from err
    expect(duck is True, "an object with `classes` and `predict(lc)` that does not inherit from Classifier to be a "
           "Classifier (structural typing)", f"isinstance(...) = {duck}")
    expect(isinstance(_InstanceDuck(), Classifier), "an object that sets `self.classes` in __init__ to be a "
           "Classifier too", "False")
    expect(isinstance(_Richer(), Classifier), "an object with extra methods (fit, predict_proba) to be a Classifier: "
           "the protocol asks only for `classes` and `predict`", "False (does your protocol require more?)")
    expect(not isinstance(_PredictOnly(), Classifier), "an object with `predict` but no `classes` NOT to be a "
           "Classifier: declare `classes: tuple[str, ...]` in the protocol", "True")
    expect(not isinstance(_ClassesOnly(), Classifier), "an object with `classes` but no `predict` NOT to be a "
           "Classifier", "True")
    expect(not isinstance(object(), Classifier), "object() NOT to be a Classifier", "True")
    expect(not isinstance(lambda lc: "SNIa", Classifier), "a plain function NOT to be a Classifier", "True")
    predict = getattr(Classifier, "predict", None)
    expect(callable(predict), "the protocol to declare a method predict(self, lc)", show(predict))
    params = list(inspect.signature(predict).parameters)
    expect(len(params) == 2, "predict(self, lc): self and one light curve", f"parameters {params}")
    hints = typing.get_type_hints(predict)
    expect(hints.get("return") is str, "predict annotated `-> str` (type checkers read the annotations)",
           f"return annotation {hints.get('return', 'missing')!r}")
    return "a runtime-checkable protocol: any object with `classes` and `predict` qualifies, nothing else does"


# ---------------------------------------------------------------------------------------------------------- 2a


def _lc(points: list[tuple[float, float, str]], object_id: str = "check-04") -> TransientLightCurve:
    """A light curve from (mjd, magnitude, band) points; 2 % flux errors."""
    mjd = np.array([p[0] for p in points], dtype=float)
    flux = 10.0 ** (-0.4 * (np.array([p[1] for p in points], dtype=float) - _ZP))
    return TransientLightCurve(mjd, flux, 0.02 * flux, [p[2] for p in points], object_id=object_id)


def _reference_features(lc: TransientLightCurve) -> dict[str, float]:
    """The notebook's definition of the six features (see the table of part 2a)."""
    mag = _ZP - 2.5 * np.log10(lc.flux)
    brightest = int(np.argmax(lc.flux))
    peak_mjd, peak_band = float(lc.mjd[brightest]), lc.band[brightest]
    in_band = lc.band == peak_band
    t, flux, m = lc.mjd[in_band], lc.flux[in_band], mag[in_band]
    k = int(np.argmax(flux))
    first = k
    while first > 0 and flux[first - 1] >= 0.5 * flux[k]:
        first -= 1
    after = (t >= peak_mjd) & (t <= peak_mjd + 30.0)
    decline = float(np.polyfit(t[after], m[after], 1)[0]) if after.sum() >= 2 else math.nan
    near = np.abs(lc.mjd - peak_mjd) <= 10.0
    g, r = near & (lc.band == "g"), near & (lc.band == "r")
    if g.any() and r.any():
        colour = float(np.median(mag[g]) - np.median(mag[r]))
    else:
        colour = lc.peak_magnitude("g") - lc.peak_magnitude("r")
    return {"peak_mag": float(mag[brightest]), "rise_time": float(peak_mjd - t[first]), "decline_rate": decline,
            "colour": colour, "duration": lc.duration, "amplitude": float(m.max() - m.min())}


def _bazin_lc() -> TransientLightCurve:
    """A noiseless Bazin supernova (tau_rise 3 d, tau_fall 20 d) sampled daily in g and r; g - r = -0.2 (blue)."""
    t = 60_000.0 + np.arange(-10.0, 61.0)
    flux_r = bazin(t, 5_000.0, 60_000.0, 3.0, 20.0)
    flux_g = flux_r * 10.0 ** (0.4 * 0.2)
    mjd = np.concatenate([t, t])
    flux = np.concatenate([flux_g, flux_r])
    band = ["g"] * len(t) + ["r"] * len(t)
    return TransientLightCurve(mjd, flux, 0.02 * flux, band, object_id="check-bazin")


# A red object peaking in r at MJD 100 (18.0 mag) and fading linearly by 0.05 mag/day for 30 days, with an early faint
# detection (MJD 60) and a late one off the line (MJD 160); g is 0.4 mag fainter at the same times.
_LINEAR_R = [(60.0, 19.9), (96.0, 19.5), (98.0, 18.6), (100.0, 18.0), (104.0, 18.2), (110.0, 18.5), (118.0, 18.9),
             (130.0, 19.5), (160.0, 19.0)]
_LINEAR_G = [(t, m + 0.4) for t, m in _LINEAR_R if 96.0 <= t <= 110.0]
# A dwarf-nova-like outburst: nothing detected within 30 days after the peak (decline rate unknown).
_OUTBURST = [(10.0, 19.8, "r"), (40.0, 15.0, "r"), (80.0, 19.7, "r"), (10.0, 19.9, "g"), (40.0, 15.2, "g"),
             (80.0, 19.8, "g")]
# g detections only far from the r peak (MJD 20): the colour falls back to the difference of the peak magnitudes.
_FAR_G = [(0.0, 19.0, "r"), (20.0, 18.0, "r"), (25.0, 18.3, "r"), (35.0, 18.8, "r"), (50.0, 19.4, "g"),
          (60.0, 19.8, "g")]


@functools.cache
def _simulated(n: int, seed: int) -> tuple[tuple[TransientLightCurve, ...], tuple[str, ...]]:
    """Simulated objects as the pipeline sees them: through ZTF alert rows and the library's processor."""
    lcs, labels = simulate_transients(n, seed=seed)
    processor = ZTFProcessor()
    return tuple(processor.process_lightcurve(to_ztf_alerts(lc)) for lc in lcs), tuple(labels)


def _same(a: Any, b: float) -> bool:
    if isinstance(a, bool) or not isinstance(a, (int, float, np.floating, np.integer)):
        return False
    if math.isnan(b):
        return math.isnan(a)
    return not math.isnan(a) and abs(a - b) <= 1e-6 * max(1.0, abs(b))


def _expect_features(got: Any, want: dict[str, float], what: str, explain: dict[str, str]) -> None:
    expect(isinstance(got, dict), f"transient_features({what}) to return a dict", type(got).__name__)
    expect(set(got) == set(_FEATURES), f"exactly the keys {list(_FEATURES)}", sorted(got))
    for key in _FEATURES:
        expect(_same(got[key], want[key]), f"{key} = {want[key]:.6g} for {what}"
               + (f" ({explain[key]})" if key in explain else ""), got[key])


@check("04", "2a", hint="mag = 27.5 - 2.5*np.log10(lc.flux); the peak is np.argmax(lc.flux) (any band), and "
       "`in_band = lc.band == lc.band[peak]` selects the peak band. Rise: from the peak's index in that band, step "
       "back while the previous flux is >= half the peak flux; rise_time = peak_mjd - t[first]. Decline: "
       "np.polyfit(t, m, 1)[0] over the peak band's points with peak_mjd <= t <= peak_mjd + 30 (positive when "
       "fading; math.nan with fewer than 2 points). Colour: np.median of g mags minus np.median of r mags within 10 d "
       "of the peak (any band), else lc.peak_magnitude('g') - lc.peak_magnitude('r'). amplitude = m.max() - m.min() "
       "in the peak band.")
def q2a(transient_features):
    """transient_features(lc): peak_mag, rise_time, decline_rate, colour, duration, amplitude, as defined in 2a."""
    linear = _lc([(t, m, "r") for t, m in _LINEAR_R] + [(t, m, "g") for t, m in _LINEAR_G], "check-linear")
    got = attempt(transient_features, linear)
    _expect_features(got, _reference_features(linear), "a red supernova-like object (peak r = 18.0 at MJD 100)", {
        "peak_mag": "the magnitude of the largest flux",
        "rise_time": "MJD 100 - 98: the point at MJD 96 is below half the peak flux, and the first detection at "
                     "MJD 60 is not part of the rise",
        "decline_rate": "it fades by 0.05 mag/day for 30 days: positive when fading; the point at MJD 160 lies "
                        "outside the 30-day window",
        "colour": "g is 0.4 mag fainter than r: g - r = +0.4 (red)",
        "duration": "MJD 160 - 60",
        "amplitude": "19.9 - 18.0 in r, the peak band",
    })
    blue = _bazin_lc()
    want = _reference_features(blue)
    _expect_features(transient_features(blue), want, "a blue Bazin supernova (g - r = -0.2, sampled daily)", {
        "rise_time": f"the first daily point at >= half the peak flux is {want['rise_time']:.0f} d before the peak",
        "decline_rate": "the least-squares slope of the g magnitudes over the 30 days from the peak",
        "colour": "g - r = -0.2: negative means blue",
    })
    outburst = _lc(_OUTBURST, "check-outburst")
    _expect_features(transient_features(outburst), _reference_features(outburst),
                     "an outburst with no detection in the 30 days after its peak", {
                         "decline_rate": "NaN: fewer than two points from the peak to 30 days later",
                         "rise_time": "0: the detection before the peak is far below half its flux",
                     })
    far = _lc(_FAR_G, "check-far-g")
    _expect_features(transient_features(far), _reference_features(far),
                     "an object whose g detections are all more than 10 d from the peak", {
                         "colour": "no g point within 10 d: fall back to peak_magnitude('g') - peak_magnitude('r') "
                                   "= 19.4 - 18.0",
                     })
    lcs, labels = _simulated(60, 4)
    for lc, label in zip(lcs[:30], labels[:30], strict=True):
        _expect_features(transient_features(lc), _reference_features(lc), f"simulated {label} {lc.object_id}", {})
    return (f"all six features right; the blue Bazin supernova rises in {want['rise_time']:.0f} d, fades at "
            f"{want['decline_rate']:.3f} mag/day, g - r = {want['colour']:+.2f}")


# ---------------------------------------------------------------------------------------------------------- 2b

_CHECK_SET = (250, 404)  # objects and seed of the fixed evaluation set
_MIN_ACCURACY = 0.6  # chance is 0.2; the reference rules get ~0.75
_MIN_RECALL = 0.4


@check("04", "2b", hint="Start predict with `f = transient_features(lc)`. fast = f['decline_rate'] > "
       "self.FAST_DECLINE, or, when the decline rate is NaN (math.isnan), f['rise_time'] < self.FAST_RISE; fast → "
       "'CV'. Then duration > self.LONG_DURATION: amplitude < self.AGN_MAX_AMPLITUDE → 'AGN', else colour < self.BLUE "
       "→ 'TDE', else 'CV'. Then a slow (or NaN) decline: colour < self.BLUE → 'TDE' else 'SNII'. Otherwise colour > "
       "self.RED → 'SNII' else 'SNIa'. Return the class name as a string.")
def q2b(SimpleTransientClassifier):  # noqa: N803 - the notebook's class name
    """SimpleTransientClassifier: five classes; accuracy and per-class recall well above chance on simulated data."""
    clf = attempt(SimpleTransientClassifier)
    classes = getattr(clf, "classes", None)
    expect(isinstance(classes, tuple) and sorted(classes) == sorted(TRANSIENT_CLASSES),
           f"classes = {TRANSIENT_CLASSES}", show(classes))
    lcs, labels = _simulated(*_CHECK_SET)
    first = attempt(clf.predict, lcs[0])
    expect(isinstance(first, str) and first in TRANSIENT_CLASSES,
           f"predict(lc) to return one of the class names {TRANSIENT_CLASSES}, as a string", first)
    predictions = [clf.predict(lc) for lc in lcs]
    odd = sorted({repr(p) for p in predictions if not (isinstance(p, str) and p in TRANSIENT_CLASSES)})
    expect(not odd, f"every prediction one of {TRANSIENT_CLASSES}", ", ".join(odd))
    again = [clf.predict(lc) for lc in lcs[:20]]
    expect(again == predictions[:20], "the same prediction for the same light curve (no randomness)",
           f"{sum(a != b for a, b in zip(again, predictions, strict=False))} of 20 changed")
    accuracy = float(np.mean([p == y for p, y in zip(predictions, labels, strict=True)]))
    recall = {name: float(np.mean([p == name for p, y in zip(predictions, labels, strict=True) if y == name]))
              for name in TRANSIENT_CLASSES}
    found = Counter(predictions)
    recall_text = ", ".join(f"{k} {v:.2f}" for k, v in recall.items())
    expect(accuracy >= _MIN_ACCURACY, f"accuracy >= {_MIN_ACCURACY} on {len(lcs)} simulated objects (chance is 0.20; "
           "the reference rules reach about 0.75)", f"{accuracy:.3f} (recall {recall_text}; predicted {dict(found)})")
    weak = {k: round(v, 2) for k, v in recall.items() if v < _MIN_RECALL}
    expect(not weak, f"recall >= {_MIN_RECALL} for every class (accuracy can hide a class the rules never find)",
           f"recall {recall_text}; too low: {weak}")
    return f"accuracy {accuracy:.2f} on {len(lcs)} simulated objects (chance 0.20); recall {recall_text}"


# ---------------------------------------------------------------------------------------------------------- 3a-3c


class _Rows:
    """Stands in for one object's raw alert rows: 'ok…' rows work, 'bad…' are unusable data, 'bug' crashes."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<rows of {self.name}>"


class _FakeProcessor:
    """Turns _Rows into a TransientLightCurve (ValueError for 'bad…', RuntimeError for 'bug'); records its calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[Any] = []
        self.made: list[TransientLightCurve] = []

    def process_lightcurve(self, records):
        self.calls.append(records)
        if self.delay:
            time.sleep(self.delay)
        name = getattr(records, "name", "")
        if name.startswith("bad"):
            raise ValueError(f"unusable records {name!r}")
        if name == "bug":
            raise RuntimeError("a bug, not bad data")
        n = 5 + len(name)
        lc = TransientLightCurve(60_000.0 + np.arange(n), np.full(n, 1_000.0), np.full(n, 10.0),
                                 ["g", "r"] * (n // 2) + ["g"] * (n % 2), object_id=name or "unnamed")
        self.made.append(lc)
        return lc


class _FakeClassifier:
    """'TDE' for objects whose id ends in 'tde', 'SNIa' otherwise; records what it was given."""

    classes = ("SNIa", "TDE")

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def predict(self, lc):
        self.calls.append(lc)
        return "TDE" if str(getattr(lc, "object_id", "")).endswith("tde") else "SNIa"


def _expected(name: str) -> dict[str, Any]:
    return {"object_id": name, "n_detections": 5 + len(name), "classification": "TDE" if name.endswith("tde")
            else "SNIa"}


@contextlib.contextmanager
def _scratch_loggers(part: str) -> Iterator[Any]:
    """Yields new_name() for unique logger names; afterwards removes their handlers and restores the root logger."""
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    names: list[str] = []

    def new_name() -> str:
        names.append(f"exowavenet.check04.{part}.{uuid.uuid4().hex[:8]}")
        return names[-1]

    try:
        yield new_name
    finally:
        for name in names:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
                handler.close()
            logging.Logger.manager.loggerDict.pop(name, None)
        for handler in list(root.handlers):
            if handler not in root_handlers:
                root.removeHandler(handler)
        for handler in root_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(root_level)


def _lines(stream: io.StringIO, start: int = 0) -> list[str]:
    return stream.getvalue()[start:].splitlines()


@check("04", "3a", hint="In __init__: `if not isinstance(classifier, Classifier): raise TypeError(...)`; keep "
       "processor and classifier; `self.logger = logging.getLogger(name)`, `.setLevel(level)`, `.propagate = False`; "
       "remove (and close) every handler in `list(self.logger.handlers)`; then `self.handler = "
       "logging.StreamHandler(sys.stdout if stream is None else stream)`, setFormatter(logging.Formatter(LOG_FORMAT, "
       "datefmt='%H:%M:%S')), addHandler. Never touch the root logger (no basicConfig). __call__: lc = "
       "self.processor.process_lightcurve(records); label = self.classifier.predict(lc); self.logger.debug(...) with "
       "the object id and the label; return the dict. Let exceptions through.")
def q3a(AstronomyPipeline):  # noqa: N803 - the notebook's class name
    """AstronomyPipeline: validates the classifier, owns a named logger, and __call__ runs processor -> classifier."""
    with _scratch_loggers("3a") as new_name:
        root = logging.getLogger()
        root_before = (list(root.handlers), root.level)
        proc, clf, stream, name = _FakeProcessor(), _FakeClassifier(), io.StringIO(), new_name()
        pipe = attempt(AstronomyPipeline, proc, clf, name=name, stream=stream, level=logging.DEBUG)
        expect((list(root.handlers), root.level) == root_before, "the root logger left alone: no "
               "logging.basicConfig, no handler added to it", f"root handlers {root.handlers}, level {root.level}")
        expect(getattr(pipe, "processor", None) is proc and getattr(pipe, "classifier", None) is clf,
               "self.processor and self.classifier to be the objects given", "something else")
        logger = getattr(pipe, "logger", None)
        expect(isinstance(logger, logging.Logger) and logger.name == name,
               f"self.logger = logging.getLogger(name), here the logger {name!r}", show(logger))
        expect(logger.propagate is False, "logger.propagate = False, so the root logger does not print each line a "
               "second time", f"propagate = {logger.propagate}")
        expect(logger.level == logging.DEBUG, "the logger's level set to `level` (DEBUG here)",
               logging.getLevelName(logger.level))
        handler = getattr(pipe, "handler", None)
        expect(isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is stream,
               "self.handler: a logging.StreamHandler writing to the `stream` given", show(handler))
        expect(logger.handlers == [handler], "exactly one handler on the logger, self.handler", logger.handlers)

        rows = _Rows("ZTF-check-tde")
        result = pipe(rows)
        expect(len(proc.calls) == 1 and proc.calls[0] is rows,
               "pipeline(rows) to call processor.process_lightcurve once, with the raw rows themselves",
               f"{len(proc.calls)} call(s) with {show(proc.calls)}")
        expect(len(clf.calls) == 1 and clf.calls[0] is proc.made[0],
               "the classifier's predict to get the light curve the processor made", show(clf.calls))
        expect(result == _expected(rows.name), f"the result {_expected(rows.name)}", result)
        lines = _lines(stream)
        expect(len(lines) == 1, "one DEBUG line per object at level DEBUG", lines)
        expect(rows.name in lines[0] and "TDE" in lines[0], "the line to name the object and its class", lines[0])
        expect("DEBUG" in lines[0], "the per-object line logged with self.logger.debug (DEBUG: hidden at the "
               "default level INFO)", lines[0])
        expect(name in lines[0], "the line formatted with LOG_FORMAT (it shows the logger's name)", lines[0])
        got, err = outcome(pipe, _Rows("bad-table"))
        expect(isinstance(err, ValueError), "a ValueError from the processor to propagate out of pipeline(rows) "
               "(the batch session of 3b decides what to do with it)", describe_outcome(got, err))

        again = io.StringIO()
        pipe2 = AstronomyPipeline(proc, clf, name=name, stream=again, level=logging.DEBUG)
        size = len(stream.getvalue())
        pipe2(_Rows("ZTF-check-b"))
        expect(len(stream.getvalue()) == size and len(_lines(again)) == 1,
               "a second pipeline with the same logger name (a re-run cell) to remove the old handler: its line "
               "written once, to the new stream only",
               f"{len(_lines(again))} line(s) in the new stream, {len(stream.getvalue()) - size} characters more in "
               "the old one")
        expect(len(logger.handlers) == 1, "still exactly one handler after re-creating the pipeline", logger.handlers)

        quiet = io.StringIO()
        pipe3 = AstronomyPipeline(proc, clf, name=new_name(), stream=quiet)
        expect(pipe3.logger.level == logging.INFO, "level INFO by default", logging.getLevelName(pipe3.logger.level))
        result = pipe3(_Rows("ZTF-check-c"))
        expect(result == _expected("ZTF-check-c"), f"the result {_expected('ZTF-check-c')}", result)
        expect(quiet.getvalue() == "", "no per-object line at the default level INFO (log it with .debug)",
               quiet.getvalue().strip())
        for bad, what in ((lambda lc: "SNIa", "a plain function"), ("SNIa", "a string")):
            expect_error(TypeError, f"AstronomyPipeline(processor, {what}) (not a Classifier)", AstronomyPipeline,
                          proc, bad, name=new_name(), stream=io.StringIO())
    return "named logger with one handler, root untouched, rows -> processor -> classifier -> result"


_SUMMARY = re.compile(r"processed (\d+), failed (\d+)")


def _summary(line: str) -> tuple[int, int] | None:
    match = _SUMMARY.search(line)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def _file_handlers(logger: logging.Logger) -> list[logging.FileHandler]:
    return [h for h in logger.handlers if isinstance(h, logging.FileHandler)]


def _close(handlers: list[logging.FileHandler], logger: logging.Logger) -> None:
    for handler in handlers:
        if handler in logger.handlers:
            logger.removeHandler(handler)
        handler.close()


@check("04", "3b", hint="__enter__: if self.log_path, create logging.FileHandler(self.log_path, encoding='utf-8'), "
       "setFormatter(self.pipeline.handler.formatter), add it to self.pipeline.logger and keep it in "
       "self.file_handler; log 'batch session started' (info); return self. process: try result = "
       "self.pipeline(records) / except ValueError as err: self.failed += 1, logger.warning('failed: %s', err), "
       "return None; else self.processed += 1 and return the result. __exit__: try: (if exc_type: logger.error(...)) "
       "logger.info('batch session summary: processed %d, failed %d', ...) finally: removeHandler and close the "
       "file handler; return False.")
def q3b(AstronomyPipeline):  # noqa: N803 - the notebook's class name
    """batch_processing_session: counts processed/failed, logs a summary, restores the handlers on every exit."""
    opened: list[logging.FileHandler] = []
    with _scratch_loggers("3b") as new_name, tempfile.TemporaryDirectory() as tmp:
        stream = io.StringIO()
        pipe = attempt(AstronomyPipeline, _FakeProcessor(), _FakeClassifier(), name=new_name(), stream=stream)
        logger = pipe.logger
        before = list(logger.handlers)
        path = Path(tmp) / "session.log"
        session = attempt(pipe.batch_processing_session, log_path=path)
        try:
            try:
                with session as active:
                    expect(callable(getattr(active, "process", None)),
                           "`with pipeline.batch_processing_session() as session` to bind the session (return self "
                           "from __enter__)", show(active))
                    opened = _file_handlers(logger)
                    expect(len(opened) == 1 and Path(opened[0].baseFilename) == path.resolve(),
                           "inside the block, one logging.FileHandler for log_path on the pipeline's logger",
                           logger.handlers)
                    names = ["ok-1", "bad-1", "ok-2", "ok-tde", "bad-2"]
                    results = [active.process(_Rows(n)) for n in names]
            except ValueError as err:
                raise CheckFailed("expected session.process(rows) to catch the ValueError of an unusable object, "
                                  f"count it and return None; got ValueError: {err}") from err
            want = [None if n.startswith("bad") else _expected(n) for n in names]
            expect(results == want, "session.process to return the pipeline's result, or None for unusable data",
                   results)
            expect((active.processed, active.failed) == (3, 2), "session.processed == 3 and session.failed == 2",
                   (active.processed, active.failed))
            expect(logger.handlers == before, "the logger's handlers after the block exactly as before it (remove "
                   "the file handler)", logger.handlers)
            expect(opened[0].stream is None, "the FileHandler closed after the block", "still open")
            lines = _lines(stream)
            expect(any("started" in line and "INFO" in line for line in lines[:1]),
                   "an INFO line 'batch session started' first", lines[:1])
            expect(bool(lines) and _summary(lines[-1]) == (3, 2),
                   "the last line: 'batch session summary: processed 3, failed 2' (INFO)", lines[-1:])
            warned = [line for line in lines if "unusable records 'bad-1'" in line]
            expect(len(warned) == 1 and "WARNING" in warned[0],
                   "one WARNING line per failure, with the error message", lines)
            text = path.read_text(encoding="utf-8")
            expect(_summary(text.strip().splitlines()[-1] if text.strip() else "") == (3, 2)
                   and "unusable records 'bad-2'" in text,
                   "the log file to hold the session's lines too, failures and summary", text.strip()[-200:])

            start = len(stream.getvalue())
            raised = None
            try:
                with pipe.batch_processing_session(log_path=Path(tmp) / "crash.log") as crashed:
                    opened = _file_handlers(logger)
                    crashed.process(_Rows("ok-1"))
                    crashed.process(_Rows("bad-1"))
                    raise KeyError("simulated crash inside the with block")
            except KeyError as err:
                raised = err
            expect(raised is not None, "an exception inside the with block to propagate (__exit__ returns False)",
                   "it was swallowed")
            lines = _lines(stream, start)
            expect(bool(lines) and _summary(lines[-1]) == (1, 1),
                   "the summary 'processed 1, failed 1' logged last even when the block raises", lines[-2:])
            expect(any("ERROR" in line and "KeyError" in line for line in lines),
                   "an ERROR line naming the exception (KeyError) that interrupted the session", lines)
            expect(logger.handlers == before and all(h.stream is None for h in opened),
                   "after an exception too: the file handler removed and closed", logger.handlers)

            start = len(stream.getvalue())
            raised = None
            try:
                with pipe.batch_processing_session() as buggy:
                    expect(not _file_handlers(logger), "no FileHandler without a log_path", logger.handlers)
                    buggy.process(_Rows("ok-1"))
                    buggy.process(_Rows("bug"))
            except RuntimeError as err:
                raised = err
            expect(raised is not None, "a RuntimeError from the processor (a bug, not bad data) to propagate: catch "
                   "ValueError only", "it was caught")
            lines = _lines(stream, start)
            expect((buggy.processed, buggy.failed) == (1, 0) and bool(lines) and _summary(lines[-1]) == (1, 0),
                   "the bug not counted as a failure: summary 'processed 1, failed 0'",
                   f"processed {buggy.processed}, failed {buggy.failed}; {lines[-1:]}")
        finally:
            _close(opened + _file_handlers(logger), logger)
    return "counts, warns, logs its summary and closes its file on every exit, and lets exceptions through"


@check("04", "3c", hint="In __init__, after super().__init__: `self.process_and_classify = "
       "timing_decorator(logger=self.logger)(self.process_and_classify)` (the bound method, wrapped for this "
       "instance). process_and_classify: `with self.batch_processing_session() as session: return "
       "[session.process(rows) for rows in alert_tables]`.")
def q3c(AstronomyPipeline):  # noqa: N803 - the notebook's class name
    """process_and_classify: one batch session, results in order, timed per instance through the pipeline's logger."""
    with _scratch_loggers("3c") as new_name:
        stream, other_stream = io.StringIO(), io.StringIO()
        pipe = attempt(AstronomyPipeline, _FakeProcessor(delay=0.01), _FakeClassifier(), name=new_name(),
                       stream=stream)
        other = AstronomyPipeline(_FakeProcessor(), _FakeClassifier(), name=new_name(), stream=other_stream)
        method = pipe.process_and_classify
        expect(getattr(method, "last_elapsed", "missing") is None,
               "pipeline.process_and_classify wrapped by the library's timing_decorator (it has .last_elapsed, None "
               "before the first call)", getattr(method, "last_elapsed", "no attribute last_elapsed"))
        expect(getattr(method, "__name__", None) == "process_and_classify",
               "the wrapped method to keep its name (timing_decorator uses functools.wraps)",
               getattr(method, "__name__", None))
        names = ["ok-1", "bad-1", "ok-tde"]
        try:
            results = attempt(pipe.process_and_classify, [_Rows(n) for n in names])
        except ValueError as err:
            raise CheckFailed("expected process_and_classify to go on after an unusable object (classify each one "
                              f"with session.process inside a batch session); got ValueError: {err}") from err
        want = [None if n.startswith("bad") else _expected(n) for n in names]
        expect(results == want, "one result per object, in order, None where the object failed (use the batch "
               "session's process)", results)
        elapsed = getattr(pipe.process_and_classify, "last_elapsed", None)
        expect(isinstance(elapsed, float) and 0.025 <= elapsed < 10.0,
               "last_elapsed about 0.03 s: the whole batch of three 0.01-s objects, timed at call time", elapsed)
        lines = _lines(stream)
        timed = [line for line in lines if "process_and_classify took" in line]
        expect(len(timed) == 1 and "INFO" in timed[0], "one INFO line 'process_and_classify took … s' in this "
               "pipeline's log: timing_decorator(logger=self.logger)", lines)
        expect(any(_summary(line) == (2, 1) for line in lines),
               "the batch session's summary 'processed 2, failed 1' in the log", lines)
        expect(getattr(other.process_and_classify, "last_elapsed", "missing") is None and other_stream.getvalue() == "",
               "another pipeline's timer untouched: wrap in __init__, per instance, not above the def (which runs "
               "once, for all pipelines)", f"last_elapsed {getattr(other.process_and_classify, 'last_elapsed', '?')}, "
               f"its log {other_stream.getvalue().strip()!r}")
        expect(pipe.process_and_classify([]) == [], "an empty batch to give []", "something else")
    return f"a timed batch: {elapsed:.3f} s logged through the pipeline's own logger, failures as None"


# ---------------------------------------------------------------------------------------------------------- 4a

_TIMEOUT = 10.0


def _run(coroutine: Any, timeout: float = _TIMEOUT) -> Any:
    """Run a coroutine with a time limit, also when an event loop is already running here (Jupyter)."""

    async def limited():
        return await asyncio.wait_for(coroutine, timeout)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(limited())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, limited()).result()


class _Broker:
    """Fetch waits a per-object delay and records how many fetches were in flight at once."""

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays
        self.in_flight = 0
        self.max_in_flight = 0
        self.fetched: list[str] = []

    async def fetch(self, object_id):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delays[object_id])
            self.fetched.append(object_id)
            return _Rows(object_id)
        finally:
            self.in_flight -= 1


def _fake_pipeline(calls: list[Any]) -> Any:
    def pipeline(rows):
        calls.append(rows)
        return {"object_id": rows.name, "classification": "SNIa"}

    return pipeline


def _concurrent_run(func: Any, n: int, k: int, *, first: bool = False) -> tuple[Any, _Broker, list[Any], Any]:
    ids = [f"obj-{i:02d}" for i in range(n)]
    broker = _Broker({oid: (0.06, 0.01, 0.035)[i % 3] for i, oid in enumerate(ids)})
    calls: list[Any] = []
    coroutine = attempt(func, _fake_pipeline(calls), broker, ids, k) if first else func(
        _fake_pipeline(calls), broker, ids, k)
    if not inspect.iscoroutine(coroutine):
        raise CheckFailed("expected classify_concurrently to be an `async def` (calling it gives a coroutine to "
                          f"await); got {type(coroutine).__name__}")
    try:
        results = _run(coroutine)
    except (asyncio.TimeoutError, TimeoutError) as err:
        raise CheckFailed(f"expected {n} objects with max_concurrency={k} to finish in well under a second; it was "
                          f"still waiting after {_TIMEOUT:.0f} s (is every semaphore released?)") from err
    return ids, broker, calls, results


@check("04", "4a", hint="`if max_concurrency < 1: raise ValueError(...)`; `semaphore = "
       "asyncio.Semaphore(max_concurrency)` once, outside the inner function. `async def one(object_id): async with "
       "semaphore: rows = await broker.fetch(object_id)` then `return pipeline(rows)`. Finally `return await "
       "asyncio.gather(*(one(i) for i in object_ids))`: gather keeps the input order.")
def q4a(classify_concurrently):
    """classify_concurrently: at most max_concurrency fetches in flight, all objects classified, input order kept."""
    ids, broker, calls, results = _concurrent_run(classify_concurrently, 12, 3, first=True)
    expect(isinstance(results, list) and [r.get("object_id") if isinstance(r, dict) else r for r in results] == ids,
           "one result per object, in the order of object_ids (asyncio.gather keeps it; completion order differs "
           "here because the delays differ)",
           [r.get("object_id") if isinstance(r, dict) else r for r in results] if isinstance(results, list)
           else results)
    expect(sorted(broker.fetched) == ids, "every object fetched exactly once", broker.fetched)
    expect(sorted(getattr(c, "name", c) for c in calls) == ids, "the pipeline called on every object's fetched rows",
           calls)
    expect(broker.max_in_flight == 3, "exactly 3 fetches in flight at the busiest moment with max_concurrency=3 (fewer "
           "means they ran one after another: gather them; more means the semaphore does not bound them: share one "
           "Semaphore and fetch inside `async with`)", f"{broker.max_in_flight} at once")
    for n, k in ((4, 1), (5, 10)):
        _, broker, _, results = _concurrent_run(classify_concurrently, n, k)
        expect(broker.max_in_flight == min(n, k), f"at most {min(n, k)} (and then exactly {min(n, k)}) fetches in "
               f"flight for {n} objects with max_concurrency={k}", f"{broker.max_in_flight} at once")
        expect(len(results) == n, f"{n} results", len(results))
    coroutine, err = outcome(classify_concurrently, _fake_pipeline([]), _Broker({}), ["x"], 0)
    if err is None and inspect.iscoroutine(coroutine):
        try:
            _, err = outcome(_run, coroutine, 2.0)
        except (asyncio.TimeoutError, TimeoutError):  # pragma: no cover - _outcome already catches it
            err = TimeoutError()
    waited = isinstance(err, (asyncio.TimeoutError, TimeoutError))
    expect(isinstance(err, ValueError), "max_concurrency=0 to raise ValueError (a Semaphore(0) lets nobody in)",
           "it waited forever" if waited else describe_outcome(coroutine, err))
    return "bounded concurrency: exactly max_concurrency fetches in flight, results in input order"


# ---------------------------------------------------------------------------------------------------------- 4b


def _recorder(tag: str, calls: list[Any]) -> Any:
    def callback(event, **payload):
        calls.append((tag, event, payload))

    callback.__name__ = f"callback_{tag}"
    return callback


@check("04", "4b", hint="In __init__: `self._subscribers = {event: [] for event in self.EVENTS}` (per instance). "
       "A helper that returns the list of an event or raises ValueError naming the known events. subscribe: append "
       "and `return callback`. unsubscribe: ValueError if absent, else list.remove. emit: `for callback in "
       "list(callbacks): callback(event, **payload)` — iterate over a copy.")
def q4b(PipelineEvents):  # noqa: N803 - the notebook's class name
    """PipelineEvents: subscribe/unsubscribe/emit per event, every subscriber in order, per-instance subscribers."""
    bus = attempt(PipelineEvents)
    calls: list[Any] = []
    a, b, c = (_recorder(tag, calls) for tag in "abc")
    returned = bus.subscribe("classified", a)
    expect(returned is a, "subscribe to return the callback (so that an observer can be created and subscribed in "
           "one line)", returned)
    bus.subscribe("classified", b)
    bus.subscribe("classified", c)
    bus.subscribe("failed", a)
    result = {"object_id": "ZTF-x", "classification": "TDE"}
    bus.emit("classified", result=result)
    expect(calls == [(tag, "classified", {"result": result}) for tag in "abc"],
           "emit('classified', result=...) to call every subscriber of 'classified', in subscription order, as "
           "callback('classified', result=...)", calls)
    calls.clear()
    bus.emit("processed", lightcurve="lc")
    expect(calls == [], "emit('processed') to call nobody: nobody subscribed to it", calls)
    bus.emit("failed", records="rows", error="boom")
    expect(calls == [("a", "failed", {"records": "rows", "error": "boom"})],
           "emit('failed', ...) to call only the subscribers of 'failed'", calls)
    calls.clear()
    bus.unsubscribe("classified", b)
    bus.emit("classified", result=result)
    expect([tag for tag, _, _ in calls] == ["a", "c"], "after unsubscribe('classified', b), only a and c called",
           [tag for tag, _, _ in calls])
    calls.clear()
    bus.emit("failed", records="rows", error="boom")
    expect([tag for tag, _, _ in calls] == ["a"], "unsubscribing b from 'classified' to leave 'failed' alone",
           [tag for tag, _, _ in calls])
    expect_error(ValueError, "unsubscribe('classified', b) when b is no longer subscribed", bus.unsubscribe,
                  "classified", b)
    expect_error(ValueError, "subscribe('clasified', ...), a typo", bus.subscribe, "clasified", a,
                  mentions="classified")
    expect_error(ValueError, "emit('started'), an unknown event", bus.emit, "started")

    calls.clear()
    other = PipelineEvents()
    other.emit("classified", result=result)
    expect(calls == [], "a new PipelineEvents() to start with no subscribers (create the dict in __init__, not as a "
           "class attribute shared by every bus)", calls)

    once_bus = PipelineEvents()

    def once(event, **payload):
        calls.append(("once", event, payload))
        once_bus.unsubscribe(event, once)

    once_bus.subscribe("processed", once)
    once_bus.subscribe("processed", c)
    once_bus.emit("processed", lightcurve="lc-1")
    once_bus.emit("processed", lightcurve="lc-2")
    expect([(tag, p["lightcurve"]) for tag, _, p in calls] == [("once", "lc-1"), ("c", "lc-1"), ("c", "lc-2")],
           "an observer that unsubscribes itself while notified not to make emit skip the next one (loop over a "
           "copy of the list): once and c for lc-1, then only c", [(tag, p.get("lightcurve")) for tag, _, p in calls])
    return "every subscriber called in order, unsubscribe works, typos refused, one-shot observers are safe"
