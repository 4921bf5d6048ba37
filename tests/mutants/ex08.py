"""Plausible wrong answers for notebook 08 (learning from imbalanced transient classes).

``_Tracker``, ``_Sampler``, ``_Stopper``, ``_make_loss`` and ``_train`` are correct (they follow the solution
notebook); each mutant changes one thing and its docstring says what.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from exowavenet_lib.data import collate_lightcurves
from exowavenet_lib.models import FocalLoss

# ---------------------------------------------------------------------------------------------------------- 1a/1b


class _Tracker:
    """A correct metrics tracker (parts 1a and 1b)."""

    def __init__(self, classes, rare_classes=()):
        self.classes = list(classes)
        self.rare_classes = list(rare_classes)
        self.reset()

    def reset(self):
        k = len(self.classes)
        self.matrix = np.zeros((k, k), dtype=np.int64)

    def update(self, y_true, y_pred):
        np.add.at(self.matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)

    def _ratios(self):
        tp = np.diag(self.matrix).astype(float)
        support, predicted = self.matrix.sum(axis=1), self.matrix.sum(axis=0)
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
        return tp, support, precision, recall

    @staticmethod
    def _f1(precision, recall):
        total = precision + recall
        return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)

    def _result(self, tp, support, precision, recall, f1, macro_f1=None, rare_recall=None):
        if rare_recall is None:
            rare_recall = {name: float(recall[self.classes.index(name)]) for name in self.rare_classes}
        return {"accuracy": float(tp.sum() / self.matrix.sum()), "precision": precision, "recall": recall, "f1": f1,
                "support": support, "macro_f1": float(f1.mean()) if macro_f1 is None else macro_f1,
                "rare_recall": rare_recall}

    def compute(self):
        tp, support, precision, recall = self._ratios()
        return self._result(tp, support, precision, recall, self._f1(precision, recall))


class TransposedMatrix(_Tracker):
    """Counts at [predicted, true]: the confusion matrix is transposed (rows must be the true class)."""

    def update(self, y_true, y_pred):
        np.add.at(self.matrix, (np.asarray(y_pred), np.asarray(y_true)), 1)


class FancyIndexUpdate(_Tracker):
    """`matrix[y_true, y_pred] += 1`: a (true, predicted) pair repeated in one batch is counted only once."""

    def update(self, y_true, y_pred):
        self.matrix[np.asarray(y_true), np.asarray(y_pred)] += 1


class OverwritingUpdate(_Tracker):
    """Each update replaces the matrix with the batch's counts instead of adding to it."""

    def update(self, y_true, y_pred):
        self.reset()
        super().update(y_true, y_pred)


class ResetKeepsCounts(_Tracker):
    """reset() only creates the matrix the first time, so it never clears the counts."""

    def reset(self):
        if not hasattr(self, "matrix"):
            super().reset()


class SwappedPrecisionRecall(_Tracker):
    """Precision divides by the true count and recall by the predicted count: the two are swapped."""

    def compute(self):
        tp, support, precision, recall = self._ratios()
        return self._result(tp, support, recall, precision, self._f1(precision, recall))


class SupportWeightedMacro(_Tracker):
    """macro_f1 weights each class's F1 by its support: the rare classes all but vanish from it."""

    def compute(self):
        tp, support, precision, recall = self._ratios()
        f1 = self._f1(precision, recall)
        return self._result(tp, support, precision, recall, f1, macro_f1=float((f1 * support).sum() / support.sum()))


class RareRecallOverAllClasses(_Tracker):
    """rare_recall gives every rare class the mean recall over all classes, not its own recall."""

    def compute(self):
        tp, support, precision, recall = self._ratios()
        rare = {name: float(recall.mean()) for name in self.rare_classes}
        return self._result(tp, support, precision, recall, self._f1(precision, recall), rare_recall=rare)


class NanOnZeroDivision(_Tracker):
    """Plain division: a class that is never predicted gets precision NaN (and NaN poisons the macro-F1)."""

    def compute(self):
        tp = np.diag(self.matrix).astype(float)
        support, predicted = self.matrix.sum(axis=1), self.matrix.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision, recall = tp / predicted, tp / support
            f1 = 2 * precision * recall / (precision + recall)
        return self._result(tp, support, precision, recall, f1)


class ArithmeticMeanF1(_Tracker):
    """F1 as the arithmetic mean (P + R) / 2 instead of the harmonic mean 2PR / (P + R)."""

    def compute(self):
        tp, support, precision, recall = self._ratios()
        return self._result(tp, support, precision, recall, (precision + recall) / 2)


class MacroOverPredictedClasses(_Tracker):
    """macro_f1 averages only the classes that were predicted at least once, hiding a rare class never found."""

    def compute(self):
        tp, support, precision, recall = self._ratios()
        f1 = self._f1(precision, recall)
        seen = self.matrix.sum(axis=0) > 0
        return self._result(tp, support, precision, recall, f1, macro_f1=float(f1[seen].mean()))


# ---------------------------------------------------------------------------------------------------------- 2a


class _Sampler:
    """A correct balanced sampler (part 2a)."""

    def __init__(self, labels, batch_size, num_batches=None, seed=None):
        self.labels = np.asarray(labels)
        self.batch_size = int(batch_size)
        self.num_batches = math.ceil(len(self.labels) / self.batch_size) if num_batches is None else int(num_batches)
        self.rng = np.random.default_rng(seed)
        self.members = [np.flatnonzero(self.labels == c) for c in np.unique(self.labels)]

    def __len__(self):
        return self.num_batches

    def _counts(self):
        base, extra = divmod(self.batch_size, len(self.members))
        counts = np.full(len(self.members), base)
        counts[self.rng.choice(len(self.members), size=extra, replace=False)] += 1
        return counts

    def __iter__(self):
        queues = [self.rng.permutation(m) for m in self.members]
        positions = [0] * len(self.members)
        for _ in range(self.num_batches):
            batch = []
            for c, count in enumerate(self._counts()):
                for _ in range(count):
                    if positions[c] == len(queues[c]):
                        queues[c], positions[c] = self.rng.permutation(self.members[c]), 0
                    batch.append(int(queues[c][positions[c]]))
                    positions[c] += 1
            yield [batch[j] for j in self.rng.permutation(len(batch))]


class WithoutReplacementRare(_Sampler):
    """Each class is drawn from one permutation per epoch; once a rare class is used up, the largest class fills its
    places, so batches after the first few are no longer balanced."""

    def __iter__(self):
        queues = [list(self.rng.permutation(m)) for m in self.members]
        largest = int(np.argmax([len(m) for m in self.members]))
        for _ in range(self.num_batches):
            batch = []
            for c, count in enumerate(self._counts()):
                for _ in range(count):
                    source = c if queues[c] else largest
                    if not queues[source]:
                        queues[source] = list(self.rng.permutation(self.members[source]))
                    batch.append(int(queues[source].pop()))
            yield batch


class LenCountsSamples(_Sampler):
    """__len__ returns the number of samples instead of the number of batches."""

    def __len__(self):
        return len(self.labels)


class NaturalMixBatches(_Sampler):
    """Batches drawn uniformly from all indices: they follow the natural (imbalanced) mix."""

    def __iter__(self):
        for _ in range(self.num_batches):
            yield [int(i) for i in self.rng.choice(len(self.labels), size=self.batch_size, replace=False)]


class DropsRemainder(_Sampler):
    """Every class gets batch_size // n_classes places and the remainder is dropped: batches come up short."""

    def _counts(self):
        return np.full(len(self.members), self.batch_size // len(self.members))


class IndependentDraws(_Sampler):
    """Each place draws an index of its class with replacement: common-class objects repeat within an epoch while
    others go unseen (walk a permutation instead)."""

    def __iter__(self):
        for _ in range(self.num_batches):
            batch = [int(self.rng.choice(self.members[c])) for c, count in enumerate(self._counts())
                     for _ in range(count)]
            yield batch


class SameEveryEpoch(_Sampler):
    """The generator is re-created from the seed in __iter__, so every epoch repeats the same batches."""

    def __init__(self, labels, batch_size, num_batches=None, seed=None):
        super().__init__(labels, batch_size, num_batches, seed)
        self.seed = seed

    def __iter__(self):
        self.rng = np.random.default_rng(self.seed)
        yield from super().__iter__()


# ---------------------------------------------------------------------------------------------------------- 3a


class _Stopper:
    """A correct early stopping (part 3a)."""

    def __init__(self, patience=5, min_delta=0.0, mode="min"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best = self.best_epoch = None
        self.epoch = self.num_bad_epochs = 0
        self.previous = None

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _stop(self, improved):
        return self.num_bad_epochs >= self.patience and not improved

    def step(self, value):
        self.epoch += 1
        improved = self._improved(value)
        if improved:
            self.best, self.best_epoch, self.num_bad_epochs = value, self.epoch, 0
        else:
            self.num_bad_epochs += 1
        self.previous = value
        return self._stop(improved)


class ResetsOnAnyChange(_Stopper):
    """Patience restarts whenever the value beats the PREVIOUS epoch's, not the best one: a wobbling metric never
    stops."""

    def step(self, value):
        if self.previous is not None and self.best is not None:
            better = value < self.previous if self.mode == "min" else value > self.previous
            if better and not self._improved(value):
                self.epoch += 1
                self.num_bad_epochs = 0
                self.previous = value
                return False
        return super().step(value)


class WrongSignInMaxMode(_Stopper):
    """mode='max' compares like mode='min': a rising metric counts as getting worse."""

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best - self.min_delta


class IgnoresMinDelta(_Stopper):
    """min_delta is ignored: any tiny improvement resets the patience."""

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best


class OffByOnePatience(_Stopper):
    """Stops only when the bad epochs EXCEED patience: one epoch too late."""

    def _stop(self, improved):
        return self.num_bad_epochs > self.patience


class ZeroBasedBestEpoch(_Stopper):
    """best_epoch counts from 0, so it is one less than the epoch number fit reports."""

    def step(self, value):
        stop = super().step(value)
        if self.best_epoch == self.epoch:
            self.best_epoch = self.epoch - 1
        return stop


class TieCountsAsImprovement(_Stopper):
    """A value equal to the best counts as an improvement (>= instead of >): a plateau never stops."""

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value <= self.best - self.min_delta
        return value >= self.best + self.min_delta


# ---------------------------------------------------------------------------------------------------------- 4a


def _inverse_weights(targets, n_classes):
    counts = np.bincount(np.asarray(targets), minlength=n_classes).astype(float)
    weights = np.zeros(n_classes)
    weights[counts > 0] = 1.0 / counts[counts > 0]
    return torch.tensor(weights * (counts > 0).sum() / weights.sum(), dtype=torch.float32)


def _make_loss(strategy, targets, n_classes, focal_gamma=2.0):
    """A correct make_loss (part 4a)."""
    if strategy in ("ce", "balanced_sampler"):
        return nn.CrossEntropyLoss()
    if strategy not in ("weighted_ce", "focal"):
        raise ValueError(f"unknown strategy {strategy!r}")
    weights = _inverse_weights(targets, n_classes)
    if strategy == "weighted_ce":
        return nn.CrossEntropyLoss(weight=weights)
    return FocalLoss(gamma=focal_gamma, alpha=weights)


def weights_proportional_to_count(strategy, targets, n_classes, focal_gamma=2.0):
    """Weights ∝ class count instead of 1/count: the frequent class weighs most, making the imbalance worse."""
    if strategy in ("weighted_ce", "focal"):
        counts = torch.tensor(np.bincount(np.asarray(targets), minlength=n_classes), dtype=torch.float32)
        weights = counts * n_classes / counts.sum()
        return nn.CrossEntropyLoss(weight=weights) if strategy == "weighted_ce" else FocalLoss(focal_gamma, weights)
    return _make_loss(strategy, targets, n_classes, focal_gamma)


def sampler_also_weighted(strategy, targets, n_classes, focal_gamma=2.0):
    """'balanced_sampler' also weights the loss: balanced batches corrected a second time over-favour rare classes."""
    if strategy == "balanced_sampler":
        return nn.CrossEntropyLoss(weight=_inverse_weights(targets, n_classes))
    return _make_loss(strategy, targets, n_classes, focal_gamma)


def focal_without_alpha(strategy, targets, n_classes, focal_gamma=2.0):
    """The focal loss forgets the class weights (alpha): only the focusing term remains."""
    if strategy == "focal":
        return FocalLoss(gamma=focal_gamma)
    return _make_loss(strategy, targets, n_classes, focal_gamma)


def focal_ignores_gamma(strategy, targets, n_classes, focal_gamma=2.0):
    """focal_gamma is ignored: the focal loss always uses gamma = 2."""
    return _make_loss(strategy, targets, n_classes, 2.0)


def never_weighted(strategy, targets, n_classes, focal_gamma=2.0):
    """Every strategy gets plain cross-entropy: 'weighted_ce' and 'focal' do nothing against the imbalance."""
    if strategy not in ("ce", "balanced_sampler", "weighted_ce", "focal"):
        raise ValueError(f"unknown strategy {strategy!r}")
    return nn.CrossEntropyLoss()


# ---------------------------------------------------------------------------------------------------------- 4b


def _macro_f1(model, loader, n_classes):
    model.eval()
    tracker = _Tracker(range(n_classes))
    with torch.no_grad():
        for batch in loader:
            tracker.update(batch["y"].numpy(), model(batch["x"], batch["mask"]).argmax(1).numpy())
    return tracker.compute()["macro_f1"]


def _train(model, train_set, val_set, *, strategy="weighted_ce", epochs=20, batch_size=64, lr=3e-3, patience=5,
           checkpoint_path=None, seed=0, restore=True, loss_strategy=None, per_batch_schedule=False,
           use_sampler=True, stop_mode="max", save_every_epoch=False):
    """A correct training loop (part 4b) whose keyword flags let one thing go wrong."""
    torch.manual_seed(seed)
    if strategy == "balanced_sampler" and use_sampler:
        loader = DataLoader(train_set, batch_sampler=_Sampler(train_set.targets, batch_size, seed=seed),
                            collate_fn=collate_lightcurves)
    else:
        loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, collate_fn=collate_lightcurves)
    val_loader = DataLoader(val_set, batch_size=256, collate_fn=collate_lightcurves)
    loss_fn = _make_loss(loss_strategy or strategy, train_set.targets, train_set.n_classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    stopper = _Stopper(patience=patience, mode=stop_mode)
    history = {"train_loss": [], "val_macro_f1": [], "lr": [], "best_epoch": None}
    best_state = None
    for epoch in range(1, epochs + 1):
        history["lr"].append(optimizer.param_groups[0]["lr"])
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(batch["x"], batch["mask"]), batch["y"])
            loss.backward()
            optimizer.step()
            if per_batch_schedule:
                scheduler.step()
            total += loss.item() * len(batch["y"])
            count += len(batch["y"])
        if not per_batch_schedule:
            scheduler.step()
        macro_f1 = _macro_f1(model, val_loader, train_set.n_classes)
        history["train_loss"].append(total / count)
        history["val_macro_f1"].append(macro_f1)
        stop = stopper.step(macro_f1)
        if stopper.best_epoch == epoch:
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            history["best_epoch"] = epoch
            if checkpoint_path is not None and not save_every_epoch:
                torch.save(best_state, checkpoint_path)
        if checkpoint_path is not None and save_every_epoch:
            torch.save(model.state_dict(), checkpoint_path)
        if stop:
            break
    if restore:
        model.load_state_dict(best_state)
    return history


def keeps_last_weights(model, train_set, val_set, **kwargs):
    """The best state is recorded but never loaded back: the model ends with the last epoch's weights."""
    return _train(model, train_set, val_set, restore=False, **kwargs)


def ignores_strategy_loss(model, train_set, val_set, **kwargs):
    """Always trains with plain cross-entropy: 'weighted_ce' and 'focal' change nothing."""
    return _train(model, train_set, val_set, loss_strategy="ce", **kwargs)


def scheduler_per_batch(model, train_set, val_set, **kwargs):
    """The cosine scheduler is stepped after every batch, so the learning rate anneals epochs too early."""
    return _train(model, train_set, val_set, per_batch_schedule=True, **kwargs)


def shuffle_instead_of_sampler(model, train_set, val_set, **kwargs):
    """'balanced_sampler' builds a plain shuffled loader: the batches keep the natural imbalance."""
    return _train(model, train_set, val_set, use_sampler=False, **kwargs)


def stops_in_min_mode(model, train_set, val_set, **kwargs):
    """EarlyStopping in mode 'min' on the macro-F1: the lowest F1 counts as best."""
    return _train(model, train_set, val_set, stop_mode="min", **kwargs)


def checkpoint_every_epoch(model, train_set, val_set, **kwargs):
    """The checkpoint is overwritten every epoch, so it holds the last epoch, not the best one."""
    return _train(model, train_set, val_set, save_every_epoch=True, **kwargs)


MUTANTS = {
    "1a": [TransposedMatrix, FancyIndexUpdate, OverwritingUpdate, ResetKeepsCounts],
    "1b": [SwappedPrecisionRecall, SupportWeightedMacro, RareRecallOverAllClasses, NanOnZeroDivision,
           ArithmeticMeanF1, MacroOverPredictedClasses],
    "2a": [WithoutReplacementRare, LenCountsSamples, NaturalMixBatches, DropsRemainder, IndependentDraws,
           SameEveryEpoch],
    "3a": [ResetsOnAnyChange, WrongSignInMaxMode, IgnoresMinDelta, OffByOnePatience, ZeroBasedBestEpoch,
           TieCountsAsImprovement],
    "4a": [weights_proportional_to_count, sampler_also_weighted, focal_without_alpha, focal_ignores_gamma,
           never_weighted],
    "4b": [keeps_last_weights, ignores_strategy_loss, scheduler_per_batch, shuffle_instead_of_sampler,
           stops_in_min_mode, checkpoint_every_epoch],
}
