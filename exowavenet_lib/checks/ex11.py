"""Checks for notebook 11 — Final project: a ZTF transient classification system.

Every check builds its own small inputs: a hand-written frame of ZTF alert rows with one problem per row (compared
with :class:`exowavenet_lib.ztf.pipeline.QualityCuts`), a fake prediction function that advances a fake clock (so a
latency measurement is checked exactly, without timing anything), score lists with ties, classification results as
:meth:`~exowavenet_lib.ztf.classifier.ProductionTransientClassifier.classify_with_uncertainty` returns them with
:class:`~exowavenet_lib.ztf.alerts.AlertRule` objects, and small probability tables. Each check runs in milliseconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from exowavenet_lib.checks._core import CheckFailed, attempt, check, expect, show
from exowavenet_lib.ztf.alerts import AlertRule
from exowavenet_lib.ztf.pipeline import QualityCuts

# ---------------------------------------------------------------------------------------------------------- 1a

_COLUMNS = ("oid", "candid", "jd", "fid", "magpsf", "sigmapsf", "isdiffpos")


def _alert_rows() -> pd.DataFrame:
    """Four objects; each bad row has exactly one problem (the comment says which)."""
    jd0 = 2_459_000.5
    rows = [
        # A: five good detections (one with sigmapsf exactly 0.5, the limit) and five bad rows -> kept with 5 rows
        ("ZTF21aaaaaaa", 101, jd0 + 0.0, 1, 19.8, 0.10, "t"),
        ("ZTF21aaaaaaa", 102, jd0 + 1.0, 2, 19.6, 0.12, "t"),
        ("ZTF21aaaaaaa", 103, jd0 + 2.0, 1, np.nan, 0.10, "t"),    # NaN magnitude
        ("ZTF21aaaaaaa", 104, jd0 + 3.0, 3, 19.2, 0.08, "t"),      # i band (fid 3)
        ("ZTF21aaaaaaa", 105, jd0 + 4.0, 2, 19.1, 0.50, "t"),      # sigmapsf == max_sigmapsf: kept
        ("ZTF21aaaaaaa", 106, jd0 + 5.0, 1, 19.3, 0.09, "f"),      # negative difference
        ("ZTF21aaaaaaa", 107, jd0 + 6.0, 2, 19.4, 0.20, "t"),
        ("ZTF21aaaaaaa", 108, jd0 + 7.0, 1, 20.4, 0.62, "t"),      # error too large
        ("ZTF21aaaaaaa", 102, jd0 + 1.0, 2, 19.6, 0.12, "t"),      # the same alert twice (candid 102)
        ("ZTF21aaaaaaa", 109, jd0 + 8.0, 1, 19.9, 0.25, "t"),
        # B: six rows, two of them unusable -> 4 good rows, fewer than 5: the object goes
        ("ZTF21bbbbbbb", 201, jd0 + 0.5, 1, 18.5, 0.05, "t"),
        ("ZTF21bbbbbbb", 202, jd0 + 1.5, 2, 18.4, 0.0, "t"),       # sigmapsf 0: no valid error
        ("ZTF21bbbbbbb", 203, jd0 + 2.5, 1, 18.3, 0.05, "t"),
        ("ZTF21bbbbbbb", 204, np.inf, 2, 18.2, 0.05, "t"),         # infinite time
        ("ZTF21bbbbbbb", 205, jd0 + 4.5, 1, 18.6, 0.06, "t"),
        ("ZTF21bbbbbbb", 206, jd0 + 5.5, 2, 18.7, 0.07, "t"),
        # C: five good rows and a repeated alert -> kept with 5 rows
        ("ZTF21ccccccc", 301, jd0 + 0.2, 2, 17.5, 0.03, "t"),
        ("ZTF21ccccccc", 302, jd0 + 1.2, 1, 17.4, 0.03, "t"),
        ("ZTF21ccccccc", 303, jd0 + 2.2, 2, 17.6, 0.04, "t"),
        ("ZTF21ccccccc", 303, jd0 + 2.2, 2, 17.6, 0.04, "t"),      # the same alert twice (candid 303)
        ("ZTF21ccccccc", 304, jd0 + 3.2, 1, 17.9, 0.35, "t"),
        ("ZTF21ccccccc", 305, jd0 + 4.2, 2, 18.1, 0.45, "t"),
        # D: three good rows -> too few, the object goes
        ("ZTF21ddddddd", 401, jd0 + 0.7, 1, 20.0, 0.15, "t"),
        ("ZTF21ddddddd", 402, jd0 + 1.7, 2, 20.1, 0.16, "t"),
        ("ZTF21ddddddd", 403, jd0 + 2.7, 1, 20.2, 0.17, "t"),
    ]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


def _candids(frame: pd.DataFrame) -> list[int]:
    return [int(c) for c in frame["candid"].tolist()]


@check("11", "1a", hint="Build one boolean mask `good` over the rows, in steps: finite jd, magpsf and sigmapsf "
       "(np.isfinite) with sigmapsf > 0; fid in (1, 2) (`df['fid'].isin([1, 2])`); isdiffpos != 'f'; sigmapsf <= "
       "max_sigmapsf (the limit itself is kept). Then drop repeated alerts among the good rows: `rows = df[good]; "
       "rows = rows[~rows['candid'].duplicated()]`. Only then count the detections left per object: "
       "`counts = rows.groupby('oid')['oid'].transform('size')` and keep `counts >= min_detections`. Never modify "
       "`df` itself (no inplace=True); return the new frame with `.reset_index(drop=True)`.")
def q1a(clean_detections):
    """clean_detections(df, max_sigmapsf, min_detections): the rows and objects QualityCuts keeps, input untouched."""
    df = _alert_rows()
    before = df.copy()
    got = attempt(clean_detections, df, max_sigmapsf=0.5, min_detections=5)
    expect(isinstance(got, pd.DataFrame), "a pandas DataFrame of the rows that pass", type(got).__name__)
    expect(df.equals(before), "the input frame left unchanged (work on a copy or a boolean mask)",
           "clean_detections changed df")
    expect(set(_COLUMNS) <= set(got.columns), f"the alert columns kept: {list(_COLUMNS)}", list(got.columns))
    want = QualityCuts(min_detections=5, max_sigmapsf=0.5).apply(df)
    got_c, want_c = _candids(got), _candids(want)
    for candid, why in ((103, "a NaN magpsf"), (104, "fid 3 (i band)"), (106, "isdiffpos 'f' (a negative difference)"),
                        (108, "sigmapsf 0.62 > max_sigmapsf 0.5")):
        expect(candid not in got_c, f"the row with {why} (candid {candid}) dropped", f"candids {got_c}")
    kept_a = any(c // 100 == 1 for c in got_c)
    expect(kept_a or any(c // 100 == 3 for c in got_c),
           "objects ZTF21aaaaaaa and ZTF21ccccccc kept: each has exactly min_detections = 5 good detections, and "
           "min_detections is the smallest number that is kept (>=, not >)", f"candids {got_c}")
    expect(105 in got_c, "the row with sigmapsf exactly 0.5 kept (the limit itself passes: <= max_sigmapsf); "
           + ("" if kept_a else "without it ZTF21aaaaaaa has 4 detections and is dropped"), f"candids {got_c}")
    expect(got_c.count(102) <= 1 and got_c.count(303) <= 1,
           "each alert (candid) once: the repeated alerts 102 and 303 dropped", f"candids {got_c}")
    expect(not any(c // 100 == 2 for c in got_c),
           "object ZTF21bbbbbbb dropped: 2 of its 6 rows are unusable (sigmapsf 0, infinite jd), which leaves 4 < 5 "
           "detections — count detections AFTER the row cuts", f"candids {got_c}")
    expect(not any(c // 100 == 4 for c in got_c), "object ZTF21ddddddd (3 detections < 5) dropped", f"candids {got_c}")
    expect(got_c == want_c, f"the rows {want_c} (objects A and C, exactly 5 detections each: min_detections is "
           "the smallest number kept), in their original order", f"candids {got_c}")
    again = clean_detections(df, max_sigmapsf=0.3, min_detections=3)
    want_again = _candids(QualityCuts(min_detections=3, max_sigmapsf=0.3).apply(df))
    expect(isinstance(again, pd.DataFrame) and _candids(again) == want_again,
           f"with max_sigmapsf=0.3 and min_detections=3 the rows {want_again} (use the arguments, not 0.5 and 5)",
           f"candids {_candids(again) if isinstance(again, pd.DataFrame) else again}")
    return "bad values, i band, negative differences, large errors and repeated alerts dropped, then short objects"


# ---------------------------------------------------------------------------------------------------------- 2a


class _FakeClock:
    """A clock that only moves when the fake classifier 'works'."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _FakePredict:
    """Costs 20 ms per call plus 0.5 ms per light curve, and 400 ms more on its very first call (warm-up).

    With ``busy`` every call that starts between 0.50 s and 0.56 s on the fake clock costs 100 ms more (another
    process took the CPU): one timed pass is slowed, whatever the warm-up was.
    """

    OVERHEAD, PER_ITEM, WARMUP, BUSY = 0.020, 0.0005, 0.400, 0.100

    def __init__(self, clock: _FakeClock, busy: bool = False) -> None:
        self.clock = clock
        self.busy = busy
        self.calls: list[int] = []

    def __call__(self, batch: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        n = len(batch)
        cost = self.OVERHEAD + self.PER_ITEM * n + (self.WARMUP if not self.calls else 0.0)
        if self.busy and 0.50 <= self.clock.now < 0.56:
            cost += self.BUSY
        self.calls.append(n)
        self.clock.now += cost
        return np.full((n, 5), 0.2)


def _pass_ms(n: int, batch_size: int) -> float:
    """Milliseconds per light curve of one batched pass over n light curves."""
    batches = math.ceil(n / batch_size)
    return 1e3 * (batches * _FakePredict.OVERHEAD + n * _FakePredict.PER_ITEM) / n


def _measure(ms_per_lightcurve, n: int, batch_size: int, repeats: int, busy: bool) -> tuple[float, _FakePredict]:
    clock = _FakeClock()
    predict = _FakePredict(clock, busy=busy)
    lightcurves = [f"lc{i}" for i in range(n)]
    got = ms_per_lightcurve(predict, lightcurves, batch_size=batch_size, repeats=repeats, clock=clock)
    try:
        value = float(got)
    except (TypeError, ValueError) as err:
        raise CheckFailed(f"expected a number of milliseconds per light curve; got {show(got)}") from err
    return value, predict


@check("11", "2a", hint="Warm up first with one untimed call (`predict(lightcurves[:batch_size])`): the first call "
       "pays one-off costs. Then, `repeats` times: `start = clock()`, call predict on each slice "
       "`lightcurves[i:i + batch_size]` (i in range(0, n, batch_size)), `elapsed = clock() - start`. Keep the "
       "SMALLEST elapsed time (the other runs were slowed by something else on the machine) and return "
       "`1000 * best / len(lightcurves)`: milliseconds per light curve, not seconds, not per batch.")
def q2a(ms_per_lightcurve):
    """ms_per_lightcurve(predict, lightcurves, batch_size, repeats, clock): untimed warm-up, batches, best run, ms."""
    clock = _FakeClock()
    predict = _FakePredict(clock)
    got = attempt(ms_per_lightcurve, predict, [f"lc{i}" for i in range(10)], batch_size=4, repeats=1, clock=clock)
    expect(isinstance(got, (int, float, np.floating)) and not isinstance(got, bool),
           "a number (milliseconds per light curve)", type(got).__name__)
    expect(bool(predict.calls) and max(predict.calls) <= 4,
           "predict called on batches of at most batch_size = 4 light curves", f"calls with {predict.calls}")
    expect(sum(predict.calls) > 10, "an untimed warm-up call, then a timed run over all 10 light curves (predict "
           "was called for 10 light curves in all)", f"calls with {predict.calls}")
    want = _pass_ms(10, 4)
    expect(math.isclose(float(got), want, rel_tol=1e-6),
           f"{want:.2f} ms per light curve for 10 light curves in batches of 4 with repeats=1 (3 calls of 20 ms "
           f"+ 10 × 0.5 ms = 65 ms; the first call's extra 400 ms belongs to an untimed warm-up)",
           f"{float(got):.4g}" + (" (in seconds instead of milliseconds? or timed with time.perf_counter instead "
                                   "of the clock argument?)" if float(got) < 0.1 else ""))
    value, predict = _measure(ms_per_lightcurve, 10, 4, 3, busy=True)
    expect(math.isclose(value, want, rel_tol=1e-6),
           f"{want:.2f} ms per light curve with repeats=3 when one of the runs is slowed by 100 ms per call by "
           "another process: keep the best (smallest) run, not the mean", f"{value:.4g}")
    value, predict = _measure(ms_per_lightcurve, 10, 256, 2, busy=False)
    want = _pass_ms(10, 256)
    expect(math.isclose(value, want, rel_tol=1e-6),
           f"{want:.2f} ms per light curve when batch_size = 256 holds all 10 light curves (one call per run)",
           f"{value:.4g} (calls with {predict.calls})")
    return f"warm-up untimed, batched calls, best of the repeats, in ms per light curve ({want:.2f} ms here)"


# ---------------------------------------------------------------------------------------------------------- 3a

_SCORES = np.array([0.95, 0.9, 0.85, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
_TARGET = np.array([1, 1, 0, 1, 0, 1, 1, 0, 0, 1], dtype=bool)


def _precision_table(scores: np.ndarray, target: np.ndarray) -> str:
    rows = [f"≥{t:g}: {target[scores >= t].sum()}/{(scores >= t).sum()}" for t in sorted(set(scores), reverse=True)]
    return ", ".join(rows)


def _threshold(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise CheckFailed(f"expected a threshold (a number, or math.inf); got {show(value)}") from err


@check("11", "3a", hint="Try every distinct score as the threshold t, from the highest down. The alerts of t are "
       "ALL objects with score >= t (tied scores go together), and precision(t) = (targets among them) / (number "
       "of them). Do not stop at the first t that fails: precision is not monotonic, it can recover lower down. "
       "Return the smallest t whose precision >= target_precision (the most recall at that precision), and "
       "math.inf when no t reaches it (then the rule never fires).")
def q3a(threshold_for_precision):
    """threshold_for_precision(scores, is_target, target_precision): the lowest threshold that keeps the precision."""
    got = _threshold(attempt(threshold_for_precision, _SCORES.copy(), _TARGET.copy(), 0.7))
    table = _precision_table(_SCORES, _TARGET)
    expect(math.isclose(got, 0.6), "0.6 for target precision 0.7: the LOWEST threshold whose precision is >= 0.7 "
           f"(most recall); precision is not monotonic in the threshold, so keep going past thresholds that fail "
           f"({table})", got)
    scores = np.array([0.9, 0.8, 0.8, 0.8, 0.2])
    target = np.array([1, 1, 0, 0, 1], dtype=bool)
    got = _threshold(threshold_for_precision(scores, target, 0.9))
    expect(math.isclose(got, 0.9), "0.9 for target precision 0.9 when three objects tie at 0.8 (one of them a "
           "target): a threshold of 0.8 alerts on all three, precision 2/4 — tied scores go together "
           f"({_precision_table(scores, target)})", got)
    got = _threshold(threshold_for_precision(_SCORES.copy(), _TARGET.copy(), 0.6))
    expect(math.isclose(got, 0.3), f"0.3 for target precision 0.6: every object alerted gives 6/10 ({table})", got)
    got = _threshold(threshold_for_precision(np.array([0.9, 0.4]), np.array([False, True]), 0.75))
    expect(math.isinf(got) and got > 0, "math.inf when no threshold reaches the target precision (0.9 is not a "
           "target, 0.9 and 0.4 together give 1/2 < 0.75)", got)
    return "the lowest threshold that keeps the precision, ties together, inf when none does"


# ---------------------------------------------------------------------------------------------------------- 3b


def _result(object_id: str, probabilities: dict[str, float], uncertainty: float) -> dict[str, Any]:
    full = {"SNIa": 0.0, "SNII": 0.0, "CV": 0.0, "AGN": 0.0, "TDE": 0.0, **probabilities}
    best = max(full, key=full.get)
    return {"object_id": object_id, "predicted_class": best, "probabilities": full, "confidence": full[best],
            "entropy": uncertainty * math.log(5), "mutual_information": 0.01, "uncertainty": uncertainty}


def _keys(value: Any) -> list[tuple[str, str]]:
    try:
        return [tuple(k) for k in value]
    except TypeError as err:
        raise CheckFailed(f"expected a list of (object_id, class_name) pairs; got {show(value)}") from err


@check("11", "3b", hint="Loop over the results, and for each over the rules: a rule fires when "
       "`result['probabilities'].get(rule.class_name, 0.0) >= rule.min_probability` and "
       "`result['uncertainty'] <= rule.max_uncertainty` (both limits inclusive; the class need not be the top "
       "class). The key is `(result['object_id'], rule.class_name)`. Skip it when it is in already_sent or "
       "already in your answer (keep a local set `seen = set(already_sent)`), and never add to already_sent "
       "itself: the caller records a key only once the notifier has accepted the alert.")
def q3b(alerts_to_send):
    """alerts_to_send(results, rules, already_sent): new (object_id, class) keys in order, each once, input intact."""
    rules = [AlertRule("TDE", 0.8, 0.4), AlertRule("SNIa", 0.6, 0.5), AlertRule("TDE", 0.2, 0.35)]
    results = [
        _result("ZTF1", {"TDE": 0.90, "SNIa": 0.05, "SNII": 0.05}, 0.20),   # TDE (both TDE rules: one alert)
        _result("ZTF2", {"TDE": 0.80, "SNII": 0.20}, 0.40),                  # TDE, exactly at the first rule's limits
        _result("ZTF3", {"TDE": 0.95, "AGN": 0.05}, 0.60),                   # too uncertain for every rule
        _result("ZTF1", {"TDE": 0.92, "SNIa": 0.08}, 0.15),                  # ZTF1 again, later: no new alert
        _result("ZTF4", {"SNIa": 0.70, "TDE": 0.25, "SNII": 0.05}, 0.30),    # SNIa, and TDE by the loose rule
        _result("ZTF5", {"TDE": 0.85, "SNIa": 0.15}, 0.10),                  # TDE, but it was sent already
    ]
    already = {("ZTF5", "TDE"), ("ZTF9", "SNIa")}
    before = set(already)
    got = _keys(attempt(alerts_to_send, results, rules, already))
    want = [("ZTF1", "TDE"), ("ZTF2", "TDE"), ("ZTF4", "SNIa"), ("ZTF4", "TDE")]
    expect(already == before, "already_sent left unchanged (a key is recorded only after delivery)",
           f"already_sent became {sorted(already)}")
    expect(("ZTF3", "TDE") not in got, "no alert for ZTF3: p(TDE) = 0.95 but its uncertainty 0.60 is above every "
           "rule's max_uncertainty", got)
    expect(("ZTF2", "TDE") in got, "an alert for ZTF2: p(TDE) = 0.80 and uncertainty 0.40 sit exactly on the rule's "
           "limits, which are inclusive (>= min_probability, <= max_uncertainty)", got)
    expect(("ZTF5", "TDE") not in got, "no alert for ZTF5/TDE: it is in already_sent", got)
    expect(len(got) == len(set(got)), "each key once, even when two rules of one class match or the object comes "
           "twice in the results", got)
    expect(("ZTF4", "TDE") in got, "an alert for ZTF4/TDE: p(TDE) = 0.25 passes the loose TDE rule (0.2) even "
           "though SNIa is the top class; deduplicate by (object_id, class_name), not by object", got)
    expect(got == want, f"{want}: in the order of the results, then of the rules", got)
    expect(_keys(alerts_to_send([], rules, set())) == [], "an empty list for no results", "something else")
    return "rules with inclusive limits, one alert per (object, class), nothing sent twice, already_sent untouched"


# ---------------------------------------------------------------------------------------------------------- 4a

# Six objects, three classes. Correct: rows 0, 2, 4. Wrong: 1 (confidence 0.50), 3 (0.90), 5 (0.70).
# Ranked by the probability given to the TRUE class instead, the order of the errors would be 3, 1, 5.
_PROBS = np.array([
    [0.95, 0.03, 0.02],
    [0.25, 0.50, 0.25],
    [0.10, 0.60, 0.30],
    [0.05, 0.05, 0.90],
    [0.20, 0.20, 0.60],
    [0.70, 0.00, 0.30],
])
_TRUE = np.array([0, 0, 1, 1, 2, 2])


def _indices(value: Any) -> list[int]:
    try:
        return [int(i) for i in np.asarray(value).ravel()]
    except (TypeError, ValueError) as err:
        raise CheckFailed(f"expected an array of row indices; got {show(value)}") from err


@check("11", "4a", hint="`predicted = probabilities.argmax(axis=1)`, `confidence = probabilities.max(axis=1)`; the "
       "failures are `np.flatnonzero(predicted != y_true)`. Order them by confidence, highest first: "
       "`failures[np.argsort(-confidence[failures], kind='stable')]`, and keep the first k (fewer when there are "
       "fewer failures). The confident mistakes are the dangerous ones: an alert would go out for them.")
def q4a(hardest_failures):
    """hardest_failures(probabilities, y_true, k): indices of the k most confident wrong predictions, most first."""
    got = _indices(attempt(hardest_failures, _PROBS.copy(), _TRUE.copy(), 2))
    expect(not set(got) & {0, 2, 4}, "only misclassified rows (1, 3 and 5 are wrong; 0, 2 and 4 are right)", got)
    expect(got == [3, 5], "[3, 5]: the two wrong predictions made with the highest confidence (0.90 and 0.70), "
           "most confident first", got)
    got = _indices(hardest_failures(_PROBS.copy(), _TRUE.copy(), 5))
    expect(got == [3, 5, 1], "[3, 5, 1] for k = 5: all three failures and no more (k is an upper limit)", got)
    probs = np.array([[0.6, 0.4], [0.3, 0.7], [0.1, 0.9], [0.8, 0.2]])
    got = _indices(hardest_failures(probs, np.array([1, 0, 1, 1]), 3))
    expect(got == [3, 1, 0], "[3, 1, 0] for a two-class table whose failures (rows 3, 1, 0) have confidences 0.8, "
           "0.7 and 0.6", got)
    return "the most confident mistakes, highest confidence first, at most k"
