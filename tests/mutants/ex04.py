"""Plausible wrong answers for notebook 04 (design patterns for an astronomy pipeline).

The private helpers are correct versions that follow the solution notebook (a Classifier protocol, the features, the
classifier, the pipeline through parts 3a-3c, the event bus); each mutant differs from them in one mistake.
"""

import asyncio
import logging
import math
import random
import sys
from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

import numpy as np

from exowavenet_lib.decorators import timing_decorator

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
CLASSES = ("SNIa", "SNII", "CV", "AGN", "TDE")

# ---------------------------------------------------------------- 1a the Classifier protocol


class ClassifierABC(ABC):
    """An abstract base class: only subclasses count, so a duck-typed classifier is not a Classifier."""

    classes: tuple

    @abstractmethod
    def predict(self, lc) -> str:
        """One of self.classes."""


class ClassifierNotRuntimeCheckable(Protocol):
    """Forgets @runtime_checkable: isinstance(obj, Classifier) raises TypeError."""

    classes: tuple[str, ...]

    def predict(self, lc) -> str: ...


@runtime_checkable
class ClassifierWithoutClasses(Protocol):
    """Declares only predict: an object without `classes` passes."""

    def predict(self, lc) -> str: ...


class ClassifierPlainBase:
    """A plain base class with the members: isinstance needs inheritance."""

    classes: tuple[str, ...] = ()

    def predict(self, lc) -> str:
        raise NotImplementedError


@runtime_checkable
class ClassifierRequiresFit(Protocol):
    """Also demands a fit method: a classifier with rules and no training is refused."""

    classes: tuple[str, ...]

    def predict(self, lc) -> str: ...

    def fit(self, lcs, labels): ...


@runtime_checkable
class ClassifierNoReturnType(Protocol):
    """Leaves predict unannotated: a type checker cannot know that it returns a class name."""

    classes: tuple[str, ...]

    def predict(self, lc): ...


@runtime_checkable
class _Classifier(Protocol):
    classes: tuple[str, ...]

    def predict(self, lc) -> str: ...


# ---------------------------------------------------------------- 2a features


def _features(lc, *, colour_sign=1.0, decline_sign=1.0, rise_from_first=False, window=30.0, nan_as_zero=False,
              fallback=True, all_bands=False, faintest=False):
    mag = 27.5 - 2.5 * np.log10(lc.flux)
    brightest = int(np.argmin(lc.flux) if faintest else np.argmax(lc.flux))
    peak_mjd, peak_band = float(lc.mjd[brightest]), lc.band[brightest]
    in_band = np.ones(len(lc), dtype=bool) if all_bands else lc.band == peak_band
    t, flux, m = lc.mjd[in_band], lc.flux[in_band], mag[in_band]
    k = int(np.flatnonzero(t == peak_mjd)[0])
    first = k
    while first > 0 and flux[first - 1] >= 0.5 * flux[k]:
        first -= 1
    rise = peak_mjd - (lc.mjd[0] if rise_from_first else t[first])
    after = (t >= peak_mjd) & (t <= peak_mjd + window)
    if after.sum() >= 2:
        decline = decline_sign * float(np.polyfit(t[after], m[after], 1)[0])
    else:
        decline = 0.0 if nan_as_zero else math.nan
    near = np.abs(lc.mjd - peak_mjd) <= 10.0
    g, r = near & (lc.band == "g"), near & (lc.band == "r")
    if g.any() and r.any():
        colour = float(np.median(mag[g]) - np.median(mag[r]))
    elif fallback:
        colour = lc.peak_magnitude("g") - lc.peak_magnitude("r")
    else:
        colour = math.nan
    return {"peak_mag": float(mag[brightest]), "rise_time": float(rise), "decline_rate": decline,
            "colour": colour_sign * colour, "duration": lc.duration, "amplitude": float(m.max() - m.min())}


def features_colour_r_minus_g(lc):
    """Colour computed as r - g: a blue object gets a positive colour."""
    return _features(lc, colour_sign=-1.0)


def features_decline_sign_flipped(lc):
    """Decline rate with the wrong sign: a fading object gets a negative rate (magnitudes grow as it fades)."""
    return _features(lc, decline_sign=-1.0)


def features_rise_from_first_detection(lc):
    """Rise time measured from the first detection, not from half maximum (an early faint point makes it huge)."""
    return _features(lc, rise_from_first=True)


def features_decline_all_points(lc):
    """Fits the decline to every point after the peak instead of the 30 days after it."""
    return _features(lc, window=math.inf)


def features_nan_decline_as_zero(lc):
    """Returns 0.0 instead of NaN when the decline cannot be measured: 'not fading' instead of 'unknown'."""
    return _features(lc, nan_as_zero=True)


def features_no_colour_fallback(lc):
    """Returns NaN for the colour when a band has no point near the peak, instead of the peak-magnitude difference."""
    return _features(lc, fallback=False)


def features_mixes_bands(lc):
    """Measures rise, decline and amplitude on g and r points together, as if they were one band."""
    return _features(lc, all_bands=True)


def features_peak_is_faintest(lc):
    """Takes the peak at the smallest flux (confusing 'brightest' with 'smallest magnitude' the wrong way round)."""
    return _features(lc, faintest=True)


# ---------------------------------------------------------------- 2b the classifier


class _Rules:
    classes = CLASSES
    features = staticmethod(_features)

    def predict(self, lc):
        f = self.features(lc)
        decline = f["decline_rate"]
        fast = f["rise_time"] < 1.0 if math.isnan(decline) else decline > 0.15
        if fast:
            return "CV"
        if f["duration"] > 300.0:
            if f["amplitude"] < 1.5:
                return "AGN"
            return "TDE" if f["colour"] < 0.0 else "CV"
        if math.isnan(decline) or decline < 0.04:
            return "TDE" if f["colour"] < 0.0 else "SNII"
        return "SNII" if f["colour"] > 0.15 else "SNIa"


class AlwaysMajority(_Rules):
    """Always predicts the most common class, SN Ia: chance level on balanced data."""

    def predict(self, lc):
        return "SNIa"


class RandomGuess(_Rules):
    """Guesses a class at random: chance level, and not even repeatable."""

    def predict(self, lc):
        return random.choice(self.classes)


class SwapsSNeIaAndII(_Rules):
    """Swaps the SN labels: red, slow supernovae called Ia and blue, fast ones II."""

    def predict(self, lc):
        label = super().predict(lc)
        return {"SNIa": "SNII", "SNII": "SNIa"}.get(label, label)


class UsesRMinusG(_Rules):
    """Uses r - g as the colour, so blue TDEs look red and red SNe II look blue."""

    features = staticmethod(features_colour_r_minus_g)


class IgnoresDuration(_Rules):
    """Skips the long-duration rule: AGN, which barely fade, are called TDE or SN II."""

    def predict(self, lc):
        f = self.features(lc)
        decline = f["decline_rate"]
        fast = f["rise_time"] < 1.0 if math.isnan(decline) else decline > 0.15
        if fast:
            return "CV"
        if math.isnan(decline) or decline < 0.04:
            return "TDE" if f["colour"] < 0.0 else "SNII"
        return "SNII" if f["colour"] > 0.15 else "SNIa"


class DeclineSignFlipped(_Rules):
    """Uses the features with the decline rate's sign flipped: every fading object looks 'slow'."""

    features = staticmethod(features_decline_sign_flipped)


class ReturnsClassIndex(_Rules):
    """Returns the index of the class in `classes` instead of its name."""

    def predict(self, lc):
        return self.classes.index(super().predict(lc))


class ClassesAsList(_Rules):
    """Stores classes as a list (mutable) in another order with a lower-case name."""

    classes = ["snia", "SNII", "CV", "AGN", "TDE"]


# ---------------------------------------------------------------- 3a-3c the pipeline


class _Pipeline:
    """Correct parts 3a-3c."""

    def __init__(self, processor, classifier, *, name="exowavenet.pipeline", stream=None, level=logging.INFO):
        self._check(classifier)
        self.processor = processor
        self.classifier = classifier
        self._setup_logger(name, stream, level)
        self.process_and_classify = timing_decorator(logger=self.logger)(self.process_and_classify)

    def _check(self, classifier):
        if not isinstance(classifier, _Classifier):
            raise TypeError(f"classifier must be a Classifier, got {type(classifier).__name__}")

    def _setup_logger(self, name, stream, level):
        self.logger = logging.getLogger(name)
        self.logger.setLevel(level)
        self.logger.propagate = False
        for old in list(self.logger.handlers):
            self.logger.removeHandler(old)
            old.close()
        self.handler = logging.StreamHandler(sys.stdout if stream is None else stream)
        self.handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
        self.logger.addHandler(self.handler)

    def __call__(self, records):
        lc = self.processor.process_lightcurve(records)
        label = self.classifier.predict(lc)
        self.logger.debug("%s: %d detections -> %s", lc.object_id, len(lc), label)
        return {"object_id": lc.object_id, "n_detections": len(lc), "classification": label}

    def batch_processing_session(self, log_path=None):
        return _Session(self, log_path)

    def process_and_classify(self, alert_tables):
        with self.batch_processing_session() as session:
            return [session.process(rows) for rows in alert_tables]


class _Session:
    """A correct batch session (part 3b)."""

    def __init__(self, pipeline, log_path=None):
        self.pipeline = pipeline
        self.log_path = log_path
        self.file_handler = None
        self.processed = 0
        self.failed = 0

    def __enter__(self):
        if self.log_path is not None:
            self.file_handler = logging.FileHandler(self.log_path, encoding="utf-8")
            self.file_handler.setFormatter(self.pipeline.handler.formatter)
            self.pipeline.logger.addHandler(self.file_handler)
        self.pipeline.logger.info("batch session started")
        return self

    def process(self, records):
        try:
            result = self.pipeline(records)
        except ValueError as err:
            self.failed += 1
            self.pipeline.logger.warning("failed: %s", err)
            return None
        self.processed += 1
        return result

    def _summary(self, exc_type, exc):
        if exc_type is not None:
            self.pipeline.logger.error("batch session interrupted by %s: %s", exc_type.__name__, exc)
        self.pipeline.logger.info("batch session summary: processed %d, failed %d", self.processed, self.failed)

    def _cleanup(self):
        if self.file_handler is not None:
            self.pipeline.logger.removeHandler(self.file_handler)
            self.file_handler.close()

    def __exit__(self, exc_type, exc, tb):
        try:
            self._summary(exc_type, exc)
        finally:
            self._cleanup()
        return False


# 3a


class PipelineConfiguresRoot(_Pipeline):
    """Sends its lines through the root logger (as logging.basicConfig would): every library's output changes."""

    def _setup_logger(self, name, stream, level):
        self.logger = logging.getLogger(name)
        self.logger.setLevel(level)
        self.handler = logging.StreamHandler(sys.stdout if stream is None else stream)
        self.handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(self.handler)


class PipelinePropagates(_Pipeline):
    """Leaves propagate on: whoever configured the root logger prints every line a second time."""

    def _setup_logger(self, name, stream, level):
        super()._setup_logger(name, stream, level)
        self.logger.propagate = True


class PipelineDuplicatesHandlers(_Pipeline):
    """Adds a handler without removing the old ones: a re-run cell prints every line twice."""

    def _setup_logger(self, name, stream, level):
        self.logger = logging.getLogger(name)
        self.logger.setLevel(level)
        self.logger.propagate = False
        self.handler = logging.StreamHandler(sys.stdout if stream is None else stream)
        self.handler.setFormatter(logging.Formatter(LOG_FORMAT))
        self.logger.addHandler(self.handler)


class PipelineSkipsProcessor(_Pipeline):
    """Hands the raw rows straight to the classifier, skipping the processor."""

    def __call__(self, records):
        label = self.classifier.predict(records)
        return {"object_id": getattr(records, "name", "?"), "n_detections": 0, "classification": label}


class PipelineNoClassifierCheck(_Pipeline):
    """Accepts anything as a classifier: a function fails only at the first alert."""

    def _check(self, classifier):
        pass


class PipelineLogsEveryObjectAtInfo(_Pipeline):
    """Logs the per-object line at INFO: a thousand lines per batch even in normal operation."""

    def __call__(self, records):
        lc = self.processor.process_lightcurve(records)
        label = self.classifier.predict(lc)
        self.logger.info("%s: %d detections -> %s", lc.object_id, len(lc), label)
        return {"object_id": lc.object_id, "n_detections": len(lc), "classification": label}


class PipelineSwallowsErrors(_Pipeline):
    """Catches the processor's ValueError in __call__ and returns None: the session can no longer count failures."""

    def __call__(self, records):
        try:
            return super().__call__(records)
        except ValueError:
            return None


class PipelineWrongKeys(_Pipeline):
    """Returns {'id': ..., 'label': ...} instead of the documented keys."""

    def __call__(self, records):
        result = super().__call__(records)
        return {"id": result["object_id"], "label": result["classification"]}


class PipelineIgnoresLevel(_Pipeline):
    """Sets the logger to DEBUG whatever level is asked for."""

    def _setup_logger(self, name, stream, level):
        super()._setup_logger(name, stream, logging.DEBUG)


# 3b


class _SessionSummaryOnSuccess(_Session):
    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._summary(exc_type, exc)
        self._cleanup()
        return False


class SessionSummaryOnlyOnSuccess(_Pipeline):
    """Logs the summary only when the block ends normally: a crashed night has no summary."""

    def batch_processing_session(self, log_path=None):
        return _SessionSummaryOnSuccess(self, log_path)


class _SessionSwallows(_Session):
    def __exit__(self, exc_type, exc, tb):
        super().__exit__(exc_type, exc, tb)
        return True


class SessionSwallowsExceptions(_Pipeline):
    """__exit__ returns True: a crash inside the with block disappears silently."""

    def batch_processing_session(self, log_path=None):
        return _SessionSwallows(self, log_path)


class _SessionCountsFailuresAsProcessed(_Session):
    def process(self, records):
        self.processed += 1
        try:
            return self.pipeline(records)
        except ValueError as err:
            self.failed += 1
            self.pipeline.logger.warning("failed: %s", err)
            return None


class SessionCountsFailuresAsProcessed(_Pipeline):
    """Counts every object as processed before trying it, failures included."""

    def batch_processing_session(self, log_path=None):
        return _SessionCountsFailuresAsProcessed(self, log_path)


class _SessionCatchesEverything(_Session):
    def process(self, records):
        try:
            result = self.pipeline(records)
        except Exception as err:  # noqa: BLE001 - the mistake
            self.failed += 1
            self.pipeline.logger.warning("failed: %s", err)
            return None
        self.processed += 1
        return result


class SessionCatchesEverything(_Pipeline):
    """Catches every exception as a failure: a bug (RuntimeError) is hidden as bad data."""

    def batch_processing_session(self, log_path=None):
        return _SessionCatchesEverything(self, log_path)


class _SessionKeepsFile(_Session):
    def _cleanup(self):
        pass


class SessionKeepsFileHandler(_Pipeline):
    """Never removes or closes the file handler: every later line still goes to last night's file."""

    def batch_processing_session(self, log_path=None):
        return _SessionKeepsFile(self, log_path)


class _SessionClosesOnly(_Session):
    def _cleanup(self):
        if self.file_handler is not None:
            self.file_handler.close()


class SessionClosesButKeepsHandler(_Pipeline):
    """Closes the file handler but leaves it on the logger: the logger's handlers are not restored."""

    def batch_processing_session(self, log_path=None):
        return _SessionClosesOnly(self, log_path)


class _SessionNoFinally(_Session):
    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            return False
        self._summary(exc_type, exc)
        self._cleanup()
        return False


class SessionCleansUpOnlyOnSuccess(_Pipeline):
    """Returns early from __exit__ on an exception: no summary, file handler left open."""

    def batch_processing_session(self, log_path=None):
        return _SessionNoFinally(self, log_path)


class _SessionSilentOnError(_Session):
    def _summary(self, exc_type, exc):
        self.pipeline.logger.info("batch session summary: processed %d, failed %d", self.processed, self.failed)


class SessionDoesNotLogTheError(_Pipeline):
    """Does not say why the session ended: no ERROR line for the exception."""

    def batch_processing_session(self, log_path=None):
        return _SessionSilentOnError(self, log_path)


class _SessionNoFile(_Session):
    def __enter__(self):
        self.pipeline.logger.info("batch session started")
        return self


class SessionIgnoresLogPath(_Pipeline):
    """Never opens the log file: log_path is silently ignored."""

    def batch_processing_session(self, log_path=None):
        return _SessionNoFile(self, log_path)


class _SessionReturnsNone(_Session):
    def __enter__(self):
        super().__enter__()


class SessionEnterReturnsNone(_Pipeline):
    """__enter__ returns nothing, so `with ... as session` binds None."""

    def batch_processing_session(self, log_path=None):
        return _SessionReturnsNone(self, log_path)


# 3c


class _Untimed(_Pipeline):
    def __init__(self, processor, classifier, *, name="exowavenet.pipeline", stream=None, level=logging.INFO):
        self._check(classifier)
        self.processor = processor
        self.classifier = classifier
        self._setup_logger(name, stream, level)


class TimedAtDefinition(_Untimed):
    """Decorates process_and_classify above the def: one wrapper (and one last_elapsed) for all pipelines, printed."""

    @timing_decorator
    def process_and_classify(self, alert_tables):
        with self.batch_processing_session() as session:
            return [session.process(rows) for rows in alert_tables]


class TimedWithModuleLogger(_Untimed):
    """Decorates above the def with a fixed module logger: not this pipeline's log, and a shared timer."""

    @timing_decorator(logger=logging.getLogger("exowavenet.mutant.timing"))
    def process_and_classify(self, alert_tables):
        with self.batch_processing_session() as session:
            return [session.process(rows) for rows in alert_tables]


class TimedWithPrint(_Untimed):
    """Wraps per instance, but with the bare decorator: the time is printed, not logged."""

    def __init__(self, processor, classifier, **options):
        super().__init__(processor, classifier, **options)
        self.process_and_classify = timing_decorator(self.process_and_classify)


class NotTimed(_Untimed):
    """Forgets the timing altogether."""


class BatchWithoutSession(_Pipeline):
    """Loops over the tables without a session: the first bad object stops the batch with a ValueError."""

    def process_and_classify(self, alert_tables):
        return [self(rows) for rows in alert_tables]


class BatchDropsFailures(_Pipeline):
    """Leaves failed objects out of the results, so results no longer line up with the input tables."""

    def process_and_classify(self, alert_tables):
        with self.batch_processing_session() as session:
            return [r for r in (session.process(rows) for rows in alert_tables) if r is not None]


# ---------------------------------------------------------------- 4a bounded concurrency


async def concurrent_runs_sequentially(pipeline, broker, object_ids, max_concurrency):
    """Awaits each fetch in a loop: correct results, but one request at a time."""
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be >= 1")
    return [pipeline(await broker.fetch(object_id)) for object_id in object_ids]


async def concurrent_unbounded(pipeline, broker, object_ids, max_concurrency):
    """Gathers without a semaphore: every request in flight at once."""
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be >= 1")

    async def one(object_id):
        return pipeline(await broker.fetch(object_id))

    return await asyncio.gather(*(one(object_id) for object_id in object_ids))


async def concurrent_semaphore_per_task(pipeline, broker, object_ids, max_concurrency):
    """Creates a new Semaphore inside each task: each guards only itself, so nothing is bounded."""
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be >= 1")

    async def one(object_id):
        async with asyncio.Semaphore(max_concurrency):
            rows = await broker.fetch(object_id)
        return pipeline(rows)

    return await asyncio.gather(*(one(object_id) for object_id in object_ids))


async def concurrent_completion_order(pipeline, broker, object_ids, max_concurrency):
    """Collects results with as_completed: in the order they finish, not the order of object_ids."""
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be >= 1")
    semaphore = asyncio.Semaphore(max_concurrency)

    async def one(object_id):
        async with semaphore:
            rows = await broker.fetch(object_id)
        return pipeline(rows)

    return [await task for task in asyncio.as_completed([one(object_id) for object_id in object_ids])]


async def concurrent_off_by_one(pipeline, broker, object_ids, max_concurrency):
    """Uses Semaphore(max_concurrency + 1): one request more than allowed."""
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be >= 1")
    semaphore = asyncio.Semaphore(max_concurrency + 1)

    async def one(object_id):
        async with semaphore:
            rows = await broker.fetch(object_id)
        return pipeline(rows)

    return await asyncio.gather(*(one(object_id) for object_id in object_ids))


async def concurrent_fetch_outside_semaphore(pipeline, broker, object_ids, max_concurrency):
    """Fetches before acquiring the semaphore, which then guards only the (instant) classification."""
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be >= 1")
    semaphore = asyncio.Semaphore(max_concurrency)

    async def one(object_id):
        rows = await broker.fetch(object_id)
        async with semaphore:
            return pipeline(rows)

    return await asyncio.gather(*(one(object_id) for object_id in object_ids))


async def concurrent_no_validation(pipeline, broker, object_ids, max_concurrency):
    """Accepts max_concurrency=0: Semaphore(0) lets nobody in, and the batch waits forever."""
    semaphore = asyncio.Semaphore(max_concurrency)

    async def one(object_id):
        async with semaphore:
            rows = await broker.fetch(object_id)
        return pipeline(rows)

    return await asyncio.gather(*(one(object_id) for object_id in object_ids))


def concurrent_not_async(pipeline, broker, object_ids, max_concurrency):
    """A plain def that runs its own event loop: it cannot be awaited by a caller that already has one."""
    return asyncio.run(concurrent_unbounded(pipeline, broker, object_ids, max_concurrency))


# ---------------------------------------------------------------- 4b observers


class _Events:
    EVENTS = ("processed", "classified", "failed")

    def __init__(self):
        self._subscribers = {event: [] for event in self.EVENTS}

    def _callbacks(self, event):
        if event not in self._subscribers:
            raise ValueError(f"unknown event {event!r}; the events are {list(self.EVENTS)}")
        return self._subscribers[event]

    def subscribe(self, event, callback):
        self._callbacks(event).append(callback)
        return callback

    def unsubscribe(self, event, callback):
        callbacks = self._callbacks(event)
        if callback not in callbacks:
            raise ValueError(f"{callback!r} is not subscribed to {event!r}")
        callbacks.remove(callback)

    def emit(self, event, **payload):
        for callback in list(self._callbacks(event)):
            callback(event, **payload)


class EventsFirstSubscriberOnly(_Events):
    """Notifies only the first subscriber of an event."""

    def emit(self, event, **payload):
        callbacks = self._callbacks(event)
        if callbacks:
            callbacks[0](event, **payload)


class EventsUnsubscribeDoesNothing(_Events):
    """unsubscribe checks the callback but never removes it."""

    def unsubscribe(self, event, callback):
        if callback not in self._callbacks(event):
            raise ValueError(f"{callback!r} is not subscribed to {event!r}")


class EventsSharedSubscribers(_Events):
    """Keeps the subscribers in a class attribute: every bus shares them (and every test leaks into the next)."""

    _shared = {event: [] for event in _Events.EVENTS}

    def __init__(self):
        self._subscribers = self._shared


class EventsIterateLiveList(_Events):
    """Loops over the live list: a callback that unsubscribes itself makes the loop skip the next one."""

    def emit(self, event, **payload):
        for callback in self._callbacks(event):
            callback(event, **payload)


class EventsIgnoreEventName(_Events):
    """Calls every subscriber of every event on each emit."""

    def emit(self, event, **payload):
        self._callbacks(event)
        for callbacks in self._subscribers.values():
            for callback in list(callbacks):
                callback(event, **payload)


class EventsAcceptAnyName(_Events):
    """Creates a new event for any name, so a typo ('clasified') subscribes to an event nobody emits."""

    def _callbacks(self, event):
        return self._subscribers.setdefault(event, [])


class EventsSubscribeReturnsNone(_Events):
    """subscribe returns None, so `alert = events.subscribe(..., TDEAlert())` loses the observer."""

    def subscribe(self, event, callback):
        self._callbacks(event).append(callback)


class EventsPayloadAsDict(_Events):
    """Calls callback(event, payload) with a dict instead of keyword arguments."""

    def emit(self, event, **payload):
        for callback in list(self._callbacks(event)):
            callback(event, payload)


class EventsLastSubscriberFirst(_Events):
    """Calls subscribers newest first."""

    def emit(self, event, **payload):
        for callback in reversed(list(self._callbacks(event))):
            callback(event, **payload)


MUTANTS = {
    "1a": [ClassifierABC, ClassifierNotRuntimeCheckable, ClassifierWithoutClasses, ClassifierPlainBase,
           ClassifierRequiresFit, ClassifierNoReturnType],
    "2a": [features_colour_r_minus_g, features_decline_sign_flipped, features_rise_from_first_detection,
           features_decline_all_points, features_nan_decline_as_zero, features_no_colour_fallback,
           features_mixes_bands, features_peak_is_faintest],
    "2b": [AlwaysMajority, RandomGuess, SwapsSNeIaAndII, UsesRMinusG, IgnoresDuration, DeclineSignFlipped,
           ReturnsClassIndex, ClassesAsList],
    "3a": [PipelineConfiguresRoot, PipelinePropagates, PipelineDuplicatesHandlers, PipelineSkipsProcessor,
           PipelineNoClassifierCheck, PipelineLogsEveryObjectAtInfo, PipelineSwallowsErrors, PipelineWrongKeys,
           PipelineIgnoresLevel],
    "3b": [SessionSummaryOnlyOnSuccess, SessionSwallowsExceptions, SessionCountsFailuresAsProcessed,
           SessionCatchesEverything, SessionKeepsFileHandler, SessionClosesButKeepsHandler,
           SessionCleansUpOnlyOnSuccess, SessionDoesNotLogTheError, SessionIgnoresLogPath, SessionEnterReturnsNone],
    "3c": [TimedAtDefinition, TimedWithModuleLogger, TimedWithPrint, NotTimed, BatchWithoutSession,
           BatchDropsFailures],
    "4a": [concurrent_runs_sequentially, concurrent_unbounded, concurrent_semaphore_per_task,
           concurrent_completion_order, concurrent_off_by_one, concurrent_fetch_outside_semaphore,
           concurrent_no_validation, concurrent_not_async],
    "4b": [EventsFirstSubscriberOnly, EventsUnsubscribeDoesNothing, EventsSharedSubscribers, EventsIterateLiveList,
           EventsIgnoreEventName, EventsAcceptAnyName, EventsSubscribeReturnsNone, EventsPayloadAsDict,
           EventsLastSubscriberFirst],
}
