"""Plausible wrong answers for notebook 11 (final project: a ZTF transient classification system).

Each mutant is a correct answer (as in the solution notebook) with one thing changed; its docstring says what.
"""

import math
import time

import numpy as np

# ---------------------------------------------------------------------------------------------------------- 1a


def _row_mask(df, max_sigmapsf, *, strict_error=False, negative=True):
    jd, mag, err = (df[c].to_numpy(dtype=float) for c in ("jd", "magpsf", "sigmapsf"))
    good = np.isfinite(jd) & np.isfinite(mag) & np.isfinite(err) & (err > 0)
    good &= df["fid"].isin([1, 2]).to_numpy()
    if negative:
        good &= (df["isdiffpos"] != "f").to_numpy()
    good &= (err < max_sigmapsf) if strict_error else (err <= max_sigmapsf)
    return good


def _object_cut(rows, min_detections):
    counts = rows.groupby("oid")["oid"].transform("size")
    return rows[counts >= min_detections].reset_index(drop=True)


def clean_detections_counts_first(df, max_sigmapsf=0.5, min_detections=5):
    """Counts each object's detections BEFORE the row cuts: an object left with 4 good rows out of 6 is kept."""
    counts = df.groupby("oid")["oid"].transform("size")
    rows = df[(counts >= min_detections).to_numpy() & _row_mask(df, max_sigmapsf)]
    return rows[~rows["candid"].duplicated()].reset_index(drop=True)


def clean_detections_strict_error(df, max_sigmapsf=0.5, min_detections=5):
    """`sigmapsf < max_sigmapsf`: drops the detection whose error is exactly at the limit."""
    rows = df[_row_mask(df, max_sigmapsf, strict_error=True)]
    return _object_cut(rows[~rows["candid"].duplicated()], min_detections)


def clean_detections_keeps_negative(df, max_sigmapsf=0.5, min_detections=5):
    """Ignores isdiffpos: negative differences (source fainter than the reference) are kept."""
    rows = df[_row_mask(df, max_sigmapsf, negative=False)]
    return _object_cut(rows[~rows["candid"].duplicated()], min_detections)


def clean_detections_keeps_repeats(df, max_sigmapsf=0.5, min_detections=5):
    """No deduplication by candid: an alert received twice counts as two detections."""
    return _object_cut(df[_row_mask(df, max_sigmapsf)], min_detections)


def clean_detections_adds_column(df, max_sigmapsf=0.5, min_detections=5):
    """Stores its mask as a new column of the caller's frame (df["good"] = ...): the input is modified."""
    df["good"] = _row_mask(df, max_sigmapsf)
    rows = df[df["good"]]
    return _object_cut(rows[~rows["candid"].duplicated()], min_detections)


def clean_detections_more_than_min(df, max_sigmapsf=0.5, min_detections=5):
    """`counts > min_detections`: objects with exactly min_detections detections are dropped."""
    rows = df[_row_mask(df, max_sigmapsf)]
    rows = rows[~rows["candid"].duplicated()]
    counts = rows.groupby("oid")["oid"].transform("size")
    return rows[counts > min_detections].reset_index(drop=True)


def clean_detections_default_arguments(df, max_sigmapsf=0.5, min_detections=5):
    """Ignores its arguments: always cuts at 0.5 mag and 5 detections."""
    rows = df[_row_mask(df, 0.5)]
    return _object_cut(rows[~rows["candid"].duplicated()], 5)


# ---------------------------------------------------------------------------------------------------------- 2a


def ms_per_lightcurve_no_warmup(predict, lightcurves, batch_size=256, repeats=3, clock=time.perf_counter):
    """No warm-up call: the first timed run pays the one-off start-up cost."""
    best = math.inf
    for _ in range(repeats):
        start = clock()
        for i in range(0, len(lightcurves), batch_size):
            predict(lightcurves[i:i + batch_size])
        best = min(best, clock() - start)
    return 1e3 * best / len(lightcurves)


def ms_per_lightcurve_one_at_a_time(predict, lightcurves, batch_size=256, repeats=3, clock=time.perf_counter):
    """Ignores batch_size: classifies one light curve per call, paying the per-call overhead every time."""
    predict(lightcurves[:1])
    best = math.inf
    for _ in range(repeats):
        start = clock()
        for lc in lightcurves:
            predict([lc])
        best = min(best, clock() - start)
    return 1e3 * best / len(lightcurves)


def ms_per_lightcurve_mean(predict, lightcurves, batch_size=256, repeats=3, clock=time.perf_counter):
    """Averages the runs instead of keeping the best: a run slowed by another process inflates the figure."""
    predict(lightcurves[:batch_size])
    total = 0.0
    for _ in range(repeats):
        start = clock()
        for i in range(0, len(lightcurves), batch_size):
            predict(lightcurves[i:i + batch_size])
        total += clock() - start
    return 1e3 * total / repeats / len(lightcurves)


def ms_per_lightcurve_seconds(predict, lightcurves, batch_size=256, repeats=3, clock=time.perf_counter):
    """Returns seconds per light curve (forgets the factor 1000)."""
    predict(lightcurves[:batch_size])
    best = math.inf
    for _ in range(repeats):
        start = clock()
        for i in range(0, len(lightcurves), batch_size):
            predict(lightcurves[i:i + batch_size])
        best = min(best, clock() - start)
    return best / len(lightcurves)


def ms_per_lightcurve_per_batch(predict, lightcurves, batch_size=256, repeats=3, clock=time.perf_counter):
    """Divides by the number of batches: milliseconds per batch, not per light curve."""
    predict(lightcurves[:batch_size])
    best = math.inf
    n_batches = math.ceil(len(lightcurves) / batch_size)
    for _ in range(repeats):
        start = clock()
        for i in range(0, len(lightcurves), batch_size):
            predict(lightcurves[i:i + batch_size])
        best = min(best, clock() - start)
    return 1e3 * best / n_batches


# ---------------------------------------------------------------------------------------------------------- 3a


def threshold_for_precision_stops_early(scores, is_target, target_precision):
    """Walks down from the top and stops at the first threshold that fails: misses where precision recovers."""
    scores, is_target = np.asarray(scores, float), np.asarray(is_target, bool)
    best = math.inf
    for t in np.unique(scores)[::-1]:
        if is_target[scores >= t].mean() < target_precision:
            break
        best = float(t)
    return best


def threshold_for_precision_ignores_ties(scores, is_target, target_precision):
    """Treats each sorted position as a threshold: a tied score counts only the objects above it in the list."""
    scores, is_target = np.asarray(scores, float), np.asarray(is_target, bool)
    order = np.argsort(-scores, kind="stable")
    precision = np.cumsum(is_target[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(precision >= target_precision)
    return float(scores[order][ok[-1]]) if len(ok) else math.inf


def threshold_for_precision_highest(scores, is_target, target_precision):
    """Returns the HIGHEST threshold that reaches the precision (least recall) instead of the lowest."""
    scores, is_target = np.asarray(scores, float), np.asarray(is_target, bool)
    for t in np.unique(scores)[::-1]:
        if is_target[scores >= t].mean() >= target_precision:
            return float(t)
    return math.inf


def threshold_for_precision_recall(scores, is_target, target_precision):
    """Divides by the number of targets (that is recall, not precision)."""
    scores, is_target = np.asarray(scores, float), np.asarray(is_target, bool)
    best = math.inf
    for t in np.unique(scores)[::-1]:
        if is_target[scores >= t].sum() / max(is_target.sum(), 1) >= target_precision:
            best = float(t)
    return best


def threshold_for_precision_no_inf(scores, is_target, target_precision):
    """When no threshold reaches the precision, returns the highest score (the rule still fires) instead of inf."""
    scores, is_target = np.asarray(scores, float), np.asarray(is_target, bool)
    best = float(scores.max())
    for t in np.unique(scores)[::-1]:
        if is_target[scores >= t].mean() >= target_precision:
            best = float(t)
    return best


# ---------------------------------------------------------------------------------------------------------- 3b


def _fires(result, rule, *, strict=False, use_uncertainty=True):
    p = result["probabilities"].get(rule.class_name, 0.0)
    u = result["uncertainty"]
    if strict:
        return p > rule.min_probability and (u < rule.max_uncertainty or not use_uncertainty)
    return p >= rule.min_probability and (u <= rule.max_uncertainty or not use_uncertainty)


def _deduplicated(results, rules, already_sent, fires):
    """The right loop (one alert per (object, class), already_sent untouched) around a predicate ``fires``."""
    seen, out = set(already_sent), []
    for result in results:
        for rule in rules:
            key = (result["object_id"], rule.class_name)
            if key not in seen and fires(result, rule):
                seen.add(key)
                out.append(key)
    return out


def alerts_to_send_ignores_uncertainty(results, rules, already_sent):
    """Never looks at max_uncertainty: a confident-looking but uncertain classification is alerted."""
    return _deduplicated(results, rules, already_sent, lambda r, rule: _fires(r, rule, use_uncertainty=False))


def alerts_to_send_strict(results, rules, already_sent):
    """Strict limits (`>` and `<`): a result exactly at a rule's limits is not alerted."""
    return _deduplicated(results, rules, already_sent, lambda r, rule: _fires(r, rule, strict=True))


def alerts_to_send_top_class_only(results, rules, already_sent):
    """Only considers the rule of the predicted (top) class: a TDE at p = 0.25 behind an SN Ia is missed."""
    return _deduplicated(results, rules, already_sent,
                         lambda r, rule: rule.class_name == r["predicted_class"] and _fires(r, rule))


def alerts_to_send_no_dedup(results, rules, already_sent):
    """Checks already_sent but not its own answer: an object matched twice is alerted twice."""
    out = []
    for result in results:
        for rule in rules:
            key = (result["object_id"], rule.class_name)
            if key not in already_sent and _fires(result, rule):
                out.append(key)
    return out


def alerts_to_send_marks_sent(results, rules, already_sent):
    """Adds the keys to already_sent itself: if delivery then fails, the alert is lost for good."""
    out = []
    for result in results:
        for rule in rules:
            key = (result["object_id"], rule.class_name)
            if key not in already_sent and _fires(result, rule):
                already_sent.add(key)
                out.append(key)
    return out


def alerts_to_send_by_object(results, rules, already_sent):
    """Deduplicates by object only: a second class for the same object is never alerted."""
    seen_objects = {object_id for object_id, _ in already_sent}
    out = []
    for result in results:
        for rule in rules:
            key = (result["object_id"], rule.class_name)
            if key not in already_sent and result["object_id"] not in seen_objects and _fires(result, rule):
                seen_objects.add(result["object_id"])
                out.append(key)
    return out


# ---------------------------------------------------------------------------------------------------------- 4a


def hardest_failures_includes_correct(probabilities, y_true, k):
    """Ranks every prediction by confidence, right or wrong: correct confident predictions come first."""
    confidence = np.asarray(probabilities).max(axis=1)
    return np.argsort(-confidence, kind="stable")[:k]


def hardest_failures_ascending(probabilities, y_true, k):
    """Sorts the failures by confidence in ascending order: the least confident (least dangerous) come first."""
    probabilities, y_true = np.asarray(probabilities), np.asarray(y_true)
    failures = np.flatnonzero(probabilities.argmax(axis=1) != y_true)
    return failures[np.argsort(probabilities.max(axis=1)[failures], kind="stable")][:k]


def hardest_failures_true_class(probabilities, y_true, k):
    """Ranks the failures by the probability of the TRUE class (lowest first), not by the confidence of the error."""
    probabilities, y_true = np.asarray(probabilities), np.asarray(y_true)
    failures = np.flatnonzero(probabilities.argmax(axis=1) != y_true)
    p_true = probabilities[failures, y_true[failures]]
    return failures[np.argsort(p_true, kind="stable")][:k]


def hardest_failures_pads(probabilities, y_true, k):
    """Always returns k rows: fills up with correct predictions when there are fewer than k failures."""
    probabilities, y_true = np.asarray(probabilities), np.asarray(y_true)
    confidence = probabilities.max(axis=1)
    wrong = probabilities.argmax(axis=1) != y_true
    order = np.lexsort((-confidence, ~wrong))
    return order[:k]


MUTANTS = {
    "1a": [clean_detections_counts_first, clean_detections_strict_error, clean_detections_keeps_negative,
           clean_detections_keeps_repeats, clean_detections_adds_column, clean_detections_more_than_min,
           clean_detections_default_arguments],
    "2a": [ms_per_lightcurve_no_warmup, ms_per_lightcurve_one_at_a_time, ms_per_lightcurve_mean,
           ms_per_lightcurve_seconds, ms_per_lightcurve_per_batch],
    "3a": [threshold_for_precision_stops_early, threshold_for_precision_ignores_ties, threshold_for_precision_highest,
           threshold_for_precision_recall, threshold_for_precision_no_inf],
    "3b": [alerts_to_send_ignores_uncertainty, alerts_to_send_strict, alerts_to_send_top_class_only,
           alerts_to_send_no_dedup, alerts_to_send_marks_sent, alerts_to_send_by_object],
    "4a": [hardest_failures_includes_correct, hardest_failures_ascending, hardest_failures_true_class,
           hardest_failures_pads],
}
