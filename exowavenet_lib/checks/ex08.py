"""Checks for notebook 08 — learning from imbalanced transient classes.

Each check builds its own small inputs: hand-written label sets (compared with scikit-learn), label arrays with a
50:10:2 imbalance, sequences of monitored values, and a tiny simulated data set (60 light curves, 16 observations
each, a one-layer MLP) on which the learner's training function runs in well under a second per call.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

from exowavenet_lib.checks._core import CheckFailed, attempt, check, expect, expect_error, show
from exowavenet_lib.data import LightCurveDataset, class_weights, collate_lightcurves
from exowavenet_lib.metrics import MetricsTracker
from exowavenet_lib.models import FocalLoss, SimplePhotometryMLP
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES, simulate_transients

# A small label set with an asymmetric confusion matrix: rows (true) and columns (predicted) differ.
_TRUE = [0, 0, 1, 2, 2, 2]
_PRED = [0, 1, 1, 2, 0, 2]
_MATRIX = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def _matrix_of(tracker, what: str) -> np.ndarray:
    matrix = getattr(tracker, "matrix", None)
    expect(matrix is not None, f"{what}.matrix (set by reset())", "no attribute .matrix")
    try:
        return np.asarray(matrix)
    except Exception as err:  # noqa: BLE001 - reported to the learner
        raise CheckFailed(f"expected {what}.matrix to be an array; got {type(matrix).__name__}") from err


def _rows(matrix) -> str:
    return show(np.asarray(matrix).tolist())


# ---------------------------------------------------------------------------------------------------------- 1a


@check("08", "1a", hint="reset(): `self.matrix = np.zeros((k, k), dtype=np.int64)` with k = len(self.classes). "
       "update(): rows are TRUE classes and columns PREDICTED ones, so add 1 at [y_true[i], y_pred[i]] for every "
       "pair. `self.matrix[y_true, y_pred] += 1` is a trap: with a repeated (true, predicted) pair in one batch, "
       "fancy indexing adds 1 only once. Use `np.add.at(self.matrix, (y_true, y_pred), 1)` (or a loop), and add "
       "to the matrix rather than replacing it, so batches accumulate.")
def q1a(SimpleMetricsTracker):
    """SimpleMetricsTracker: reset() makes a k x k zero matrix; update() accumulates (true, predicted) counts."""
    tracker = attempt(SimpleMetricsTracker, ["A", "B", "C"])
    matrix = _matrix_of(tracker, "SimpleMetricsTracker(['A', 'B', 'C'])")
    expect(matrix.shape == (3, 3) and not matrix.any(), "a 3 x 3 matrix of zeros before any update",
           _rows(matrix))
    expect(np.issubdtype(matrix.dtype, np.integer), "an integer matrix (counts)", str(matrix.dtype))
    y_true, y_pred = list(_TRUE), list(_PRED)
    attempt(lambda: tracker.update(y_true, y_pred) or "called")
    expect(y_true == _TRUE and y_pred == _PRED, "update() to leave its inputs unchanged", (y_true, y_pred))
    got = _matrix_of(tracker, "tracker")
    expect(np.array_equal(got, _MATRIX),
           f"after update(true={_TRUE}, pred={_PRED}): rows = true class, columns = predicted class, "
           f"{_MATRIX}", _rows(got) + (" (that is the transpose: rows must be the TRUE class)"
                                      if np.array_equal(got, np.transpose(_MATRIX)) else ""))
    tracker.update(np.array([2, 2, 2, 1]), np.array([0, 0, 0, 1]))  # a repeated pair: (2 -> 0) three times
    got = _matrix_of(tracker, "tracker")
    want = np.array(_MATRIX) + [[0, 0, 0], [0, 1, 0], [3, 0, 0]]
    expect(np.array_equal(got, want),
           "a second update() to ADD to the counts, each repeated (true, predicted) pair counted every time "
           f"(three 2 -> 0 here): {want.tolist()}", _rows(got))
    expect(int(got.sum()) == 10, "the matrix to sum to the 10 labels seen", int(got.sum()))
    tracker.reset()
    got = _matrix_of(tracker, "tracker after reset()")
    expect(got.shape == (3, 3) and not got.any(), "reset() to zero the matrix", _rows(got))
    five = SimpleMetricsTracker(list("abcde"))
    five.update([4], [0])
    got = _matrix_of(five, "a 5-class tracker")
    expect(got.shape == (5, 5) and got[4, 0] == 1 and got.sum() == 1,
           "a 5 x 5 matrix for 5 classes, even when some classes never occur, with a 1 at [4, 0]", _rows(got))
    return "the confusion matrix has true classes in rows, accumulates over batches and counts repeated pairs"


# ---------------------------------------------------------------------------------------------------------- 1b


def _sklearn_reference(y_true, y_pred, k):
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)), zero_division=0)
    return p, r, f, s


def _array(result, key, k):
    value = result.get(key) if isinstance(result, dict) else None
    expect(value is not None, f"compute()['{key}']", f"keys {sorted(result) if isinstance(result, dict) else result}")
    arr = np.asarray(value, dtype=float)
    expect(arr.shape == (k,), f"compute()['{key}'] to hold one value per class ({k})", show(value))
    return arr


@check("08", "1b", hint="With M the confusion matrix: tp = diag(M); precision = tp / column sums (how many of "
       "the objects PREDICTED as c really are c), recall = tp / row sums (how many of the TRUE c were found); "
       "a zero denominator gives 0, not NaN (`np.divide(..., out=np.zeros_like(tp), where=den > 0)`). "
       "F1 = 2PR / (P + R) (0 when P + R = 0). macro_f1 is the plain mean of the per-class F1 — every class counts "
       "the same, however rare. rare_recall maps each name in self.rare_classes to ITS recall "
       "(`recall[self.classes.index(name)]`).")
def q1b(SimpleMetricsTracker):
    """compute(): accuracy, per-class precision/recall/F1 (zero division -> 0), unweighted macro-F1, rare recall."""
    classes = ["SNIa", "SNII", "CV", "TDE"]
    # Class 3 (TDE) is never predicted: its precision has a zero denominator. Class 1 is predicted but never right.
    y_true = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3]
    y_pred = [0, 0, 0, 0, 1, 2, 0, 0, 2, 2, 0, 2]
    tracker = SimpleMetricsTracker(classes, rare_classes=["TDE", "CV"])
    tracker.update(y_true[:5], y_pred[:5])
    tracker.update(y_true[5:], y_pred[5:])
    result = attempt(tracker.compute)
    expect(isinstance(result, dict), "compute() to return a dict", type(result).__name__)
    p, r, f, s = _sklearn_reference(y_true, y_pred, 4)
    acc = result.get("accuracy")
    expect(acc is not None and math.isclose(float(acc), 6 / 12), "accuracy 6/12 = 0.5 (correct / all)", acc)
    precision = _array(result, "precision", 4)
    recall = _array(result, "recall", 4)
    expect(not (np.isnan(precision).any() or np.isnan(recall).any()),
           "0.0, not NaN, where a denominator is zero (TDE is never predicted, so its precision is 0/0)",
           f"precision {show(precision.tolist())}")
    swapped = np.allclose(precision, r) and np.allclose(recall, p)
    expect(np.allclose(precision, p), f"precision per class = tp / predicted count = {np.round(p, 4).tolist()}",
           f"{np.round(precision, 4).tolist()}" + (" (precision and recall are swapped: precision divides by the "
                                                   "column sum, the number PREDICTED as the class)" if swapped else ""))
    expect(np.allclose(recall, r), f"recall per class = tp / true count = {np.round(r, 4).tolist()}",
           np.round(recall, 4).tolist())
    f1 = _array(result, "f1", 4)
    expect(np.allclose(f1, f), f"F1 per class = 2PR/(P+R) = {np.round(f, 4).tolist()}", np.round(f1, 4).tolist())
    macro = result.get("macro_f1")
    weighted = float((f * s).sum() / s.sum())
    expect(macro is not None and math.isclose(float(macro), float(f.mean()), abs_tol=1e-9),
           f"macro_f1 = unweighted mean of the per-class F1 = {f.mean():.4f}",
           f"{macro}" + (f" (that is weighted by support, {weighted:.4f}: macro gives rare classes equal weight)"
                         if macro is not None and math.isclose(float(macro), weighted, abs_tol=1e-9) else ""))
    rare = result.get("rare_recall")
    expect(isinstance(rare, dict) and set(rare) == {"TDE", "CV"},
           "rare_recall as a dict {class name: recall} for the rare classes TDE and CV", show(rare))
    expect(math.isclose(float(rare["TDE"]), 0.0, abs_tol=1e-12) and math.isclose(float(rare["CV"]), 1.0),
           "rare_recall {'TDE': 0.0, 'CV': 1.0}: each rare class's own recall", show(rare))
    # A different rare class and a perfect classifier.
    perfect = SimpleMetricsTracker(["a", "b", "c"], rare_classes=["b"])
    perfect.update([0, 1, 2, 2], [0, 1, 2, 2])
    res = perfect.compute()
    expect(math.isclose(float(res["macro_f1"]), 1.0) and math.isclose(float(res["accuracy"]), 1.0)
           and res["rare_recall"] == {"b": 1.0}, "macro_f1 = accuracy = 1 and rare_recall {'b': 1.0} when every "
           "prediction is right", show({k: res[k] for k in ("accuracy", "macro_f1", "rare_recall")}))
    return (f"precision, recall and F1 match scikit-learn (zero division -> 0), macro-F1 {f.mean():.3f} counts "
            "every class alike, rare recall is per class")


# ---------------------------------------------------------------------------------------------------------- 2a


def _labels_50_10_2() -> np.ndarray:
    labels = np.array([0] * 50 + [1] * 10 + [2] * 2)
    return labels[np.random.default_rng(5).permutation(len(labels))]


def _batches(sampler, what: str) -> list[list[int]]:
    try:
        batches = [[int(i) for i in batch] for batch in sampler]
    except TypeError as err:
        raise CheckFailed(f"expected iterating {what} to yield lists of indices; got TypeError: {err}") from err
    return batches


@check("08", "2a", hint="Group the indices by class once (`np.flatnonzero(labels == c)` for each class of "
       "np.unique). Per batch, every class gets batch_size // n_classes places, and the remainder goes to "
       "randomly chosen classes (one extra each). For each class walk through a random permutation of its indices "
       "and draw a fresh permutation whenever it runs out — rare classes then repeat (oversampling) and no class "
       "ever runs dry; common classes are subsampled without repeats within a pass. __len__ is num_batches, by "
       "default ceil(len(labels) / batch_size). Use one `np.random.default_rng(seed)` made in __init__.")
def q2a(BalancedSampler):
    """BalancedSampler(labels, batch_size, num_batches=None, seed=None): balanced batches, rare classes oversampled."""
    labels = _labels_50_10_2()
    sampler = attempt(BalancedSampler, labels, 6, seed=0)
    n = attempt(len, sampler)
    expect(n == 11, "len(sampler) = number of batches = ceil(62 / 6) = 11", n)
    batches = _batches(sampler, "BalancedSampler(labels, 6, seed=0)")
    expect(len(batches) == 11, "11 batches per iteration (an epoch as long as a shuffled pass)", len(batches))
    for b, batch in enumerate(batches):
        expect(len(batch) == 6, f"batch {b} to hold batch_size = 6 indices", len(batch))
        expect(all(0 <= i < len(labels) for i in batch), f"indices of batch {b} in [0, 62)", batch)
        counts = Counter(labels[batch].tolist())
        expect(counts == Counter({0: 2, 1: 2, 2: 2}),
               f"batch {b} balanced: 2 of each class (the rare class 2 has only 2 members, so they must be "
               "reused in every batch)", dict(sorted(counts.items())))
    used = Counter(i for batch in batches for i in batch)
    rare = np.flatnonzero(labels == 2)
    expect(all(used[i] == 11 for i in rare),
           "both members of the 2-member class used 11 times each (walk a permutation, re-draw it when used up)",
           {int(i): used[i] for i in rare})
    common = [i for i in np.flatnonzero(labels == 0)]
    repeats = [i for i in common if used[i] > 1]
    expect(not repeats, "no index of the 50-member class drawn twice in one epoch (22 draws walk a permutation)",
           f"{len(repeats)} repeated indices")

    odd = _batches(BalancedSampler(labels, 7, num_batches=5, seed=1), "BalancedSampler(labels, 7, num_batches=5)")
    expect(len(odd) == 5 and all(len(batch) == 7 for batch in odd),
           "num_batches=5 batches of 7 indices each (7 is not a multiple of 3 classes: share out the remainder)",
           [len(batch) for batch in odd])
    for batch in odd:
        counts = sorted(Counter(labels[batch].tolist()).values())
        expect(counts == [2, 2, 3], "every batch of 7 to hold 2, 2 and 3 of the three classes", counts)
    first = _batches(BalancedSampler(labels, 6, seed=3), "sampler")
    again = _batches(BalancedSampler(labels, 6, seed=3), "sampler")
    expect(first == again, "the same seed to give the same batches", "different batches")
    twice = BalancedSampler(labels, 6, seed=3)
    epoch1, epoch2 = _batches(twice, "sampler"), _batches(twice, "sampler")
    expect(epoch1 != epoch2, "two iterations (epochs) of one sampler to give different batches", "identical epochs")
    return "every batch is balanced, rare classes are reused, common ones subsampled without repeats, seeded"


# ---------------------------------------------------------------------------------------------------------- 3a


def _run(stopper, values) -> list[bool]:
    return [bool(stopper.step(v)) for v in values]


@check("08", "3a", hint="On each step(value): count the epoch (from 1); the first value always improves; "
       "otherwise mode 'min' improves when value < best - min_delta and mode 'max' when value > best + min_delta. "
       "An improvement stores best, best_epoch and resets num_bad_epochs to 0; anything else — a tie, a tiny "
       "change, a step back — adds 1. Compare with the BEST value, never with the previous one. Return True "
       "when num_bad_epochs >= patience (and this epoch did not improve). Unknown mode -> ValueError naming 'mode'.")
def q3a(EarlyStopping):
    """EarlyStopping(patience, min_delta, mode).step(value) -> stop?; best, best_epoch (1-based), num_bad_epochs."""
    stopper = attempt(EarlyStopping, patience=2, mode="min")
    values = [1.0, 0.9, 0.95, 0.93, 0.94]
    got = _run(stopper, values)
    expect(got[:4] == [False, False, False, True],
           f"mode='min', patience=2 on {values[:4]}: stop at epoch 4 (epochs 3 and 4 are worse than the best 0.9, "
           "even though 0.93 beats the previous 0.95)", got[:4])
    expect(stopper.best == 0.9 and stopper.best_epoch == 2,
           "best 0.9 at best_epoch 2 (epochs count from 1)", f"best {stopper.best}, best_epoch {stopper.best_epoch}")
    expect(stopper.num_bad_epochs == 3, "num_bad_epochs 3 after a fifth non-improving value", stopper.num_bad_epochs)

    up = EarlyStopping(patience=1, mode="max")
    got = _run(up, [0.5, 0.6, 0.6, 0.7, 0.65])
    expect(got == [False, False, True, False, True],
           "mode='max', patience=1 on [0.5, 0.6, 0.6, 0.7, 0.65]: higher is better, a tie is no improvement "
           "→ [False, False, True, False, True]", got)
    expect(up.best == 0.7 and up.best_epoch == 4, "best 0.7 at epoch 4 in mode 'max'",
           f"best {up.best}, best_epoch {up.best_epoch}")

    delta = EarlyStopping(patience=3, min_delta=0.05, mode="min")
    got = _run(delta, [1.0, 0.97, 0.94, 0.93])
    expect(delta.best == 0.94 and delta.best_epoch == 3 and delta.num_bad_epochs == 1,
           "min_delta=0.05 on [1.0, 0.97, 0.94, 0.93]: 0.97 is not enough (needs < 0.95), 0.94 is; then 0.93 is not "
           "(needs < 0.89) → best 0.94 at epoch 3, num_bad_epochs 1",
           f"best {delta.best}, best_epoch {delta.best_epoch}, num_bad_epochs {delta.num_bad_epochs}")

    zero = EarlyStopping(patience=0, mode="max")
    got = _run(zero, [0.3, 0.4, 0.35])
    expect(got == [False, False, True], "patience=0: stop at the first epoch that does not improve", got)

    fresh = EarlyStopping(patience=2, mode="max")
    expect(fresh.best is None and fresh.best_epoch is None and fresh.num_bad_epochs == 0,
           "a new EarlyStopping with best None, best_epoch None, num_bad_epochs 0",
           f"best {fresh.best}, best_epoch {fresh.best_epoch}, num_bad_epochs {fresh.num_bad_epochs}")
    expect_error(ValueError, "EarlyStopping(patience=2, mode='maximum')", EarlyStopping, patience=2, mode="maximum",
                 mentions="mode")
    return "improvement is measured against the best value, with min_delta and the right sign in both modes"


# ---------------------------------------------------------------------------------------------------------- 4a


def _loss_value(loss_fn, logits, y) -> float:
    out = loss_fn(logits, y)
    expect(isinstance(out, torch.Tensor) and out.dim() == 0, "the loss to return a scalar tensor (the batch mean)",
           show(out))
    return float(out)


@check("08", "4a", hint="Count each class in targets (`np.bincount(targets, minlength=n_classes)`); the weights "
       "are 1 / count for the classes present (0 for an absent class), rescaled to average 1. 'weighted_ce' → "
       "nn.CrossEntropyLoss(weight=w); 'focal' → FocalLoss(gamma=focal_gamma, alpha=w); 'ce' and "
       "'balanced_sampler' → plain nn.CrossEntropyLoss() (the sampler already balances: weighting too would "
       "correct twice). Anything else → ValueError naming the strategy. Weights must be a float32 tensor.")
def q4a(make_loss):
    """make_loss(strategy, targets, n_classes, focal_gamma=2.0): plain/weighted CE or focal loss with 1/count."""
    targets = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = torch.tensor([1 / 3, 2 / 3, 2.0])  # 1/count, normalised to mean 1
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 3, generator=gen) * 2
    y = torch.tensor([0, 1, 2, 2, 0, 1, 2])
    loss = attempt(make_loss, "weighted_ce", targets, 3)
    got = _loss_value(loss, logits, y)
    want = float(F.cross_entropy(logits, y, weight=w))
    plain = float(F.cross_entropy(logits, y))
    by_count = float(F.cross_entropy(logits, y, weight=torch.tensor([6.0, 3.0, 1.0])))
    expect(math.isclose(got, want, rel_tol=1e-4),
           f"weighted_ce = cross-entropy with class weights ∝ 1/count ([6, 3, 1] objects → {w.numpy().round(3)}): "
           f"{want:.4f}", f"{got:.4f}" + (" (that is the unweighted loss)" if math.isclose(got, plain, rel_tol=1e-4)
                                          else " (weights ∝ count: the frequent class weighs most)"
                                          if math.isclose(got, by_count, rel_tol=1e-4) else ""))
    focal = make_loss("focal", targets, 3, focal_gamma=2.0)
    log_p = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
    per = -(1 - log_p.exp()) ** 2 * log_p * w[y]
    want_focal = float(per.sum() / w[y].sum())
    got = _loss_value(focal, logits, y)
    expect(math.isclose(got, want_focal, rel_tol=1e-4),
           f"focal = FocalLoss(gamma=2, alpha=the same weights): {want_focal:.4f}", f"{got:.4f}")
    got = _loss_value(make_loss("focal", targets, 3, focal_gamma=0.5), logits, y)
    per = -(1 - log_p.exp()) ** 0.5 * log_p * w[y]
    expect(math.isclose(got, float(per.sum() / w[y].sum()), rel_tol=1e-4), "focal_gamma=0.5 to be used",
           f"{got:.4f}")
    for strategy in ("ce", "balanced_sampler"):
        got = _loss_value(make_loss(strategy, targets, 3), logits, y)
        expect(math.isclose(got, plain, rel_tol=1e-4),
               f"'{strategy}' = plain, unweighted cross-entropy {plain:.4f}"
               + (" (the balanced sampler already evens out the classes)" if strategy != "ce" else ""), f"{got:.4f}")
    four = make_loss("weighted_ce", np.array([0, 0, 0, 1, 3]), 4)
    logits4, y4 = torch.randn(4, 4, generator=gen), torch.tensor([0, 1, 3, 3])
    want4 = float(F.cross_entropy(logits4, y4, weight=torch.tensor([1 / 3, 1.0, 0.0, 1.0]) * 3 / (7 / 3)))
    got4 = _loss_value(four, logits4, y4)
    expect(math.isclose(got4, want4, rel_tol=1e-4),
           f"n_classes=4 with class 2 absent from targets: weights [1/3, 1, 0, 1] (rescaled), loss {want4:.4f}",
           f"{got4:.4f}")
    expect_error(ValueError, "make_loss('smote', targets, 3)", make_loss, "smote", targets, 3, mentions="smote")
    return "plain, weighted and focal losses with weights ∝ 1/count, and no double correction for the sampler"


# ---------------------------------------------------------------------------------------------------------- 4b


class _Recording(LightCurveDataset):
    """A LightCurveDataset that logs every index it serves (``item`` reads without logging)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.served: list[int] = []

    def __getitem__(self, index):
        self.served.append(int(index))
        return super().__getitem__(index)

    def whole_batch(self) -> dict:
        """Every item in one padded batch, without logging."""
        return collate_lightcurves([super(_Recording, self).__getitem__(i) for i in range(len(self))])


_TINY: dict = {}


def _tiny_sets() -> tuple[_Recording, _Recording]:
    """A tiny simulated training set (TDE rare) and a validation set, fresh recording datasets each call."""
    if not _TINY:
        weights = {"SNIa": 0.4, "SNII": 0.3, "CV": 0.1, "AGN": 0.12, "TDE": 0.08}
        _TINY["train"] = simulate_transients(50, seed=11, class_weights=weights)
        _TINY["val"] = simulate_transients(25, seed=12)
    kw = {"classes": TRANSIENT_CLASSES, "max_sequence_length": 16}
    return _Recording(*_TINY["train"], **kw), _Recording(*_TINY["val"], **kw)


def _model(seed: int = 0) -> SimplePhotometryMLP:
    torch.manual_seed(seed)
    return SimplePhotometryMLP(5, 5, hidden=(16,), dropout=0.0, pooling="meanmax")


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _macro_f1(model, dataset: _Recording) -> float:
    batch = dataset.whole_batch()
    was = model.training
    model.eval()
    with torch.no_grad():
        pred = model(batch["x"].to(_device(model)), batch["mask"].to(_device(model))).argmax(1).cpu()
    model.train(was)
    tracker = MetricsTracker(5)
    tracker.update(batch["y"], pred)
    return tracker.compute()["macro_f1"]


def _history(result, epochs: int) -> dict:
    expect(isinstance(result, dict), "a dict history with 'train_loss', 'val_macro_f1', 'lr' and 'best_epoch'",
           type(result).__name__)
    for key in ("train_loss", "val_macro_f1", "lr", "best_epoch"):
        expect(key in result, f"the history to have the key {key!r}", sorted(result))
    n = len(result["train_loss"])
    expect(1 <= n <= epochs and len(result["val_macro_f1"]) == n and len(result["lr"]) == n,
           f"train_loss, val_macro_f1 and lr lists of the same length, one value per epoch run (1 to {epochs})",
           {k: len(result[k]) for k in ("train_loss", "val_macro_f1", "lr")})
    return result


def _expected_loss(strategy: str, model, dataset: _Recording) -> float:
    batch = dataset.whole_batch()
    w = class_weights(dataset.targets, 5)
    with torch.no_grad():
        logits = model(batch["x"], batch["mask"])
        if strategy == "weighted_ce":
            return float(F.cross_entropy(logits, batch["y"], weight=w))
        if strategy == "focal":
            return float(FocalLoss(2.0, alpha=w)(logits, batch["y"]))
        return float(F.cross_entropy(logits, batch["y"]))


@check("08", "4b", hint="Build the training loader from the strategy (BalancedSampler as batch_sampler for "
       "'balanced_sampler', shuffle=True otherwise) and the loss with make_loss(strategy, train_set.targets, "
       "train_set.n_classes). Per epoch: record the current lr, train over the loader (mean loss per sample), "
       "step the cosine scheduler ONCE, compute the validation macro-F1 with SimpleMetricsTracker, and call "
       "stopper.step(macro_f1) with EarlyStopping(patience, mode='max'). When an epoch is the best so far, keep a "
       "copy of the state dict (and torch.save it to checkpoint_path). Stop when the stopper says so; at the end "
       "load the best state back into the model.")
def q4b(train_with_imbalance_handling):
    """Loss and sampler from the strategy, cosine lr per epoch, early stopping on val macro-F1, best weights kept."""
    # 1. The loss really is the strategy's: one batch holding the whole set and a learning rate too small to move.
    for strategy in ("weighted_ce", "focal", "ce"):
        train_set, val_set = _tiny_sets()
        model = _model(1)
        want = _expected_loss(strategy, model, train_set)
        hist = _history(attempt(train_with_imbalance_handling, model, train_set, val_set, strategy=strategy,
                                epochs=1, batch_size=len(train_set), lr=1e-12, patience=3), 1)
        got = float(hist["train_loss"][0])
        expect(math.isclose(got, want, rel_tol=1e-3),
               f"strategy={strategy!r}: the epoch-1 training loss of an unchanged model on one batch of the whole "
               f"set = the {strategy} loss of its initial weights, {want:.4f}", f"{got:.4f}")

    # 2. The sampler: balanced batches for 'balanced_sampler', the natural mix otherwise.
    train_set, val_set = _tiny_sets()
    train_with_imbalance_handling(_model(2), train_set, val_set, strategy="balanced_sampler", epochs=2,
                                  batch_size=10, lr=1e-3, patience=5)
    served = Counter(train_set.targets[train_set.served].tolist())
    natural = Counter(train_set.targets.tolist())
    expect(all(served[c] == 2 * 5 * 2 for c in range(5)),
           "strategy='balanced_sampler': each of the 5 classes served 2 per batch × 5 batches × 2 epochs = 20 times "
           f"(the natural mix is {dict(sorted(natural.items()))})", dict(sorted(served.items())))
    train_set, val_set = _tiny_sets()
    train_with_imbalance_handling(_model(2), train_set, val_set, strategy="weighted_ce", epochs=2, batch_size=10,
                                  lr=1e-3, patience=5)
    served = Counter(train_set.targets[train_set.served].tolist())
    expect(served == Counter({c: 2 * n for c, n in natural.items()}),
           "strategy='weighted_ce': every training object served once per epoch (shuffled, natural mix)",
           dict(sorted(served.items())))

    # 3. Cosine schedule, early stopping on the validation macro-F1, best weights and the checkpoint.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "best.pt")
        train_set, val_set = _tiny_sets()
        model = _model(3)
        epochs, patience = 12, 2
        hist = _history(train_with_imbalance_handling(model, train_set, val_set, strategy="focal", epochs=epochs,
                                                      batch_size=8, lr=0.05, patience=patience,
                                                      checkpoint_path=path), epochs)
        lrs = [float(v) for v in hist["lr"]]
        cosine = [0.05 * (1 + math.cos(math.pi * e / epochs)) / 2 for e in range(len(lrs))]
        expect(np.allclose(lrs, cosine, rtol=1e-6),
               f"lr per epoch following CosineAnnealingLR(T_max=epochs) stepped once per epoch: "
               f"{np.round(cosine, 5).tolist()}", np.round(lrs, 5).tolist())
        f1s = [float(v) for v in hist["val_macro_f1"]]
        best = int(np.argmax(f1s)) + 1
        expect(hist["best_epoch"] == best, f"best_epoch = the (first) epoch of the highest val_macro_f1 = {best} "
               f"(val_macro_f1 {np.round(f1s, 3).tolist()})", hist["best_epoch"])
        n = len(f1s)
        expect(n == epochs or n == best + patience,
               f"training to stop {patience} epochs after the best one (epoch {best + patience}), or run all {epochs}",
               f"{n} epochs with val_macro_f1 {np.round(f1s, 3).tolist()}")
        now = _macro_f1(model, val_set)
        expect(math.isclose(now, max(f1s), abs_tol=1e-9),
               f"the model to hold the best epoch's weights at the end: validation macro-F1 {max(f1s):.4f}",
               f"{now:.4f}")
        expect(os.path.exists(path), "a checkpoint written to checkpoint_path", "no file")
        saved = torch.load(path, map_location="cpu", weights_only=True)
        state = saved.get("model", saved) if isinstance(saved, dict) else saved
        expect(isinstance(state, dict) and set(state) == set(model.state_dict())
               and all(torch.equal(state[k], v.cpu()) for k, v in model.state_dict().items()),
               "the checkpoint to hold the best epoch's state dict (torch.save(model.state_dict(), path))",
               "different weights" if isinstance(state, dict) else type(state).__name__)
    return "the loss and sampler follow the strategy, lr follows the cosine, the best epoch is kept and saved"
