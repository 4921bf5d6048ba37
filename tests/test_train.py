"""The training loop (fit, train_epoch, evaluate_model, EarlyStopping, checkpoints, DDP) and MetricsTracker.

Until the data and model packages land, the tests use small stand-ins that follow the shared contract: a dataset of
random sequences whose class is readable from the mean flux and flux_err, a padding collate, and a masked-mean +
linear model. The torchrun test imports them from this module.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import f1_score, precision_recall_fscore_support
from torch import nn
from torch.utils.data import DataLoader, Dataset

from exowavenet_lib import train as train_mod
from exowavenet_lib.metrics import MetricsTracker
from exowavenet_lib.train import (
    DistributedContext,
    EarlyStopping,
    History,
    distributed_context,
    distributed_env,
    evaluate_model,
    fit,
    load_checkpoint,
    mixup_batch,
    save_checkpoint,
    train_epoch,
)

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
N_FEATURES = 5  # t, flux, flux_err, band_g, band_r
N_CLASSES = 3


# ------------------------------------------------------------------------------------------------- contract stand-ins


class ToyDataset(Dataset):
    """Random irregular sequences: class 0 has flux near -1, class 1 near +1, class 2 near 0 with large flux_err."""

    def __init__(self, n: int, *, seed: int = 0, max_len: int = 12, flip_labels: bool = False) -> None:
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(n):
            y = int(rng.integers(0, N_CLASSES))
            length = int(rng.integers(1, max_len + 1))
            t = np.sort(rng.uniform(0.0, 1.0, length))
            flux = rng.normal((-1.0, 1.0, 0.0)[y], 0.3, length)
            err = rng.uniform(0.05, 0.15, length) + (1.0 if y == 2 else 0.0)
            band = np.eye(2)[rng.integers(0, 2, length)]
            x = np.column_stack([t, flux, err, band]).astype(np.float32)
            self.items.append({"x": torch.from_numpy(x), "length": length, "y": (y + 1) % N_CLASSES if flip_labels
                               else y})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


class RecordingDataset(Dataset):
    """Wraps a dataset and logs every index it serves."""

    def __init__(self, base: Dataset) -> None:
        self.base, self.log = base, []

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict:
        self.log.append(int(i))
        return self.base[i]


def collate(items: list[dict]) -> dict:
    """Zero-pad to the longest sequence; mask True on real steps."""
    lengths = torch.tensor([it["length"] for it in items], dtype=torch.int64)
    x = torch.zeros(len(items), int(lengths.max()), items[0]["x"].shape[1])
    for i, it in enumerate(items):
        x[i, : it["length"]] = it["x"]
    mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
    return {"x": x, "mask": mask, "lengths": lengths, "y": torch.tensor([it["y"] for it in items])}


class MeanLinear(nn.Module):
    """Masked mean over valid steps, then a linear layer: ``forward(x, mask) -> logits``."""

    def __init__(self, n_features: int = N_FEATURES, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)
        return self.linear((x * m).sum(1) / m.sum(1).clamp_min(1.0))


def loaders(n_train: int = 96, n_val: int = 48, *, batch_size: int = 16, shuffle: bool = False, **val_kw):
    train = DataLoader(ToyDataset(n_train, seed=0), batch_size=batch_size, shuffle=shuffle, collate_fn=collate)
    val = DataLoader(ToyDataset(n_val, seed=1, **val_kw), batch_size=32, collate_fn=collate)
    return train, val


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------------------------- fit


def test_fit_learns_the_separable_toy_set_and_reports_a_history():
    torch.manual_seed(0)
    model = MeanLinear()
    train, val = loaders(shuffle=True)
    history = fit(model, train, val, epochs=25, lr=0.05, device="cpu", progress=False)
    assert len(history) == 25 and history.epochs[0] == 1
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]
    assert max(history.val_accuracy) >= 0.9 and history.extra["val_macro_f1"][-1] >= 0.85
    result = evaluate_model(model, val, nn.CrossEntropyLoss(), "cpu")  # the model holds the best epoch's weights
    assert result.loss == pytest.approx(min(history.val_loss), rel=1e-6)
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1 and not history.stopped_early

    table = history.to_pandas()
    assert list(table.columns) == ["train_loss", "val_loss", "val_accuracy", "val_macro_f1", "lr"]
    assert table.index.name == "epoch" and table.index[0] == 1 and len(table) == 25
    fig = history.plot()
    ax_loss, ax_score = fig.axes
    assert (ax_loss.get_xlabel(), ax_score.get_xlabel()) == ("Epoch", "Epoch")
    assert "Loss" in ax_loss.get_ylabel() and ax_score.get_ylabel()
    assert {t.get_text() for t in ax_score.get_legend().get_texts()} >= {"validation accuracy", "validation macro f1"}
    matplotlib.pyplot.close(fig)


def test_evaluate_model_runs_in_eval_mode_without_gradients_and_restores_the_mode():
    seen = []

    class Spy(MeanLinear):
        def forward(self, x, mask):
            seen.append((self.training, torch.is_grad_enabled()))
            return super().forward(x, mask)

    torch.manual_seed(0)
    model = Spy()
    _, val = loaders()
    result = evaluate_model(model, val, nn.CrossEntropyLoss(), torch.device("cpu"))
    assert seen and all(mode == (False, False) for mode in seen) and model.training
    assert result.probs.shape == (48, N_CLASSES) and np.allclose(result.probs.sum(1), 1.0, atol=1e-6)
    assert np.array_equal(result.y_pred, result.probs.argmax(1))
    assert np.array_equal(result.y_true, [it["y"] for it in val.dataset.items])
    assert result.accuracy == pytest.approx((result.y_pred == result.y_true).mean())
    with torch.no_grad():
        batch = collate(val.dataset.items)
        expected = nn.functional.cross_entropy(MeanLinear.forward(model, batch["x"], batch["mask"]), batch["y"])
    assert result.loss == pytest.approx(float(expected), rel=1e-5)  # mean over samples, not over batches


def test_best_weights_are_restored_and_early_stopping_ends_the_run(tmp_path):
    torch.manual_seed(0)
    model = MeanLinear()
    train, val = loaders(flip_labels=True)  # learning the training rule makes validation worse
    stopper = EarlyStopping(patience=2)
    ckpt = tmp_path / "best.pt"
    history = fit(model, train, val, epochs=30, lr=0.05, early_stopping=stopper, checkpoint_path=ckpt,
                  device="cpu", progress=False)
    assert history.stopped_early and len(history) == history.best_epoch + 2 < 30
    assert history.val_loss[-1] > history.best_value == min(history.val_loss)
    loss_fn = nn.CrossEntropyLoss()
    assert evaluate_model(model, val, loss_fn, "cpu").loss == pytest.approx(history.best_value, rel=1e-6)
    restored = MeanLinear()
    extra = load_checkpoint(ckpt, restored)
    assert same_weights(weights(restored), weights(model))
    assert extra["epoch"] == history.best_epoch and extra["monitor"] == "val_loss"
    assert extra["history"]["val_loss"] == history.val_loss[: history.best_epoch]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


def test_monitoring_a_max_metric_and_argument_validation():
    torch.manual_seed(0)
    train, val = loaders()
    history = fit(MeanLinear(), train, val, epochs=3, monitor="val_macro_f1", progress=False,
                  early_stopping=EarlyStopping(mode="max"), device="cpu")
    assert history.best_value == max(history.extra["val_macro_f1"]) and history.monitor == "val_macro_f1"
    with pytest.raises(ValueError, match="early_stopping.mode='min'"):
        fit(MeanLinear(), train, val, epochs=1, monitor="val_accuracy", early_stopping=EarlyStopping())
    for kwargs, match in [({"epochs": 0}, "epochs"), ({"epochs": 1, "monitor": "loss"}, "monitor"),
                          ({"epochs": 1, "scheduler": "step"}, "scheduler"), ({"epochs": 1, "lr": -1.0}, "lr"),
                          ({"epochs": 1, "mixup_alpha": -0.5}, "mixup_alpha"), ({"epochs": 1, "grad_clip": 0}, "grad")]:
        with pytest.raises(ValueError, match=match):
            fit(MeanLinear(), train, val, progress=False, **kwargs)
    with pytest.raises(TypeError, match="val_loader"):
        fit(MeanLinear(), train, [collate(val.dataset.items)], epochs=1)
    with pytest.raises(ValueError, match="missing key"):
        train_epoch(MeanLinear(), DataLoader([{"x": torch.zeros(2, 5)}], batch_size=None), nn.CrossEntropyLoss(),
                    torch.optim.SGD(MeanLinear().parameters(), lr=0.1), "cpu")


def test_diverging_training_raises_a_clear_error():
    class Exploding(MeanLinear):
        def forward(self, x, mask):
            return super().forward(x, mask) * float("nan")

    train, val = loaders()
    with pytest.raises(FloatingPointError, match="diverged"):
        fit(Exploding(), train, val, epochs=2, progress=False, device="cpu")


# ------------------------------------------------------------------------------------------------- early stopping


def test_early_stopping_min_mode_counts_patience_from_the_last_improvement():
    stop = EarlyStopping(patience=2)
    assert [stop.step(v) for v in [5.0, 4.0, 4.5, 3.0, 3.1, 3.2]] == [False, False, False, False, False, True]
    assert (stop.best, stop.best_epoch, stop.num_bad_epochs) == (3.0, 4, 2)


def test_early_stopping_max_mode_and_min_delta():
    stop = EarlyStopping(patience=1, min_delta=0.1, mode="max")
    assert not stop.step(0.5) and stop.improved
    assert not stop.step(0.65) and stop.improved  # +0.15 > min_delta
    assert stop.step(0.7) and not stop.improved  # +0.05 is not an improvement: patience 1 exhausted
    assert (stop.best, stop.best_epoch) == (0.65, 2)
    zero = EarlyStopping(patience=0)
    assert not zero.step(torch.tensor(1.0)) and zero.step(1.0)  # equal is not better; patience 0 stops at once
    zero.reset()
    assert zero.best is None and zero.best_epoch is None and not zero.step(2.0)


@pytest.mark.parametrize(("kwargs", "error"), [({"patience": -1}, ValueError), ({"patience": 1.5}, ValueError),
                                               ({"min_delta": -0.1}, ValueError), ({"mode": "minimum"}, ValueError)])
def test_early_stopping_validates_its_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        EarlyStopping(**kwargs)


def test_early_stopping_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        EarlyStopping().step(float("nan"))


# ---------------------------------------------------------------------------------------------------- schedulers


def test_plateau_scheduler_halves_the_lr_after_patience_epochs_without_improvement(tmp_path):
    torch.manual_seed(0)
    train, val = loaders(n_train=32, n_val=16)
    frozen = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)  # steps a parameter the model does not use
    history = fit(MeanLinear(), train, val, epochs=8, optimizer=frozen, scheduler="plateau", device="cpu",
                  progress=False, checkpoint_path=tmp_path / "best.pt")
    assert len(set(history.val_loss)) == 1  # a perfect plateau
    assert history.lr == pytest.approx([0.1] * 4 + [0.05] * 3 + [0.025], rel=1e-12)
    extra = load_checkpoint(tmp_path / "best.pt", MeanLinear())  # the scheduler state survives weights_only
    assert extra["epoch"] == 1 and extra["scheduler"]["patience"] == 2


def test_cosine_scheduler_follows_the_cosine_over_all_epochs():
    torch.manual_seed(0)
    train, val = loaders(n_train=32, n_val=16)
    history = fit(MeanLinear(), train, val, epochs=6, lr=0.1, scheduler="cosine", device="cpu", progress=False)
    expected = [0.1 * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(6)]
    assert history.lr == pytest.approx(expected, rel=1e-9)


def test_a_scheduler_instance_must_belong_to_the_optimizer():
    model = MeanLinear()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    other = torch.optim.lr_scheduler.StepLR(torch.optim.SGD(MeanLinear().parameters(), lr=0.1), step_size=1)
    train, val = loaders(n_train=16, n_val=8)
    with pytest.raises(ValueError, match="different optimizer"):
        fit(model, train, val, epochs=1, optimizer=opt, scheduler=other, progress=False)
    history = fit(model, train, val, epochs=2, optimizer=opt, progress=False, device="cpu",
                  scheduler=torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    assert history.lr == pytest.approx([0.1, 0.05])


# --------------------------------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = MeanLinear()
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    train, _ = loaders(n_train=32)
    train_epoch(model, train, nn.CrossEntropyLoss(), opt, "cpu")
    path = save_checkpoint(tmp_path / "sub" / "model.pt", model, opt, epoch=3, note="hi",
                           history=History(train_loss=[1.0]).to_dict(), scores=(0.5, None))
    raw = torch.load(path, weights_only=True)  # nothing but state dicts and plain Python inside
    assert raw["extra"]["epoch"] == 3
    other, other_opt = MeanLinear(), torch.optim.AdamW(MeanLinear().parameters(), lr=0.5)
    extra = load_checkpoint(path, other, other_opt)
    assert extra == {"epoch": 3, "note": "hi", "history": History(train_loss=[1.0]).to_dict(), "scores": (0.5, None)}
    assert same_weights(weights(other), weights(model))
    assert other_opt.state_dict()["param_groups"][0]["lr"] == 0.01
    assert torch.equal(other_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(save_checkpoint(tmp_path / "w.pt", model), other, other_opt)
    with pytest.raises(TypeError, match=r"extra\['stats'\]\['mean'\] is a numpy"):
        save_checkpoint(tmp_path / "bad.pt", model, stats={"mean": np.float64(1.0)})
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt", other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.pt", "sub", "w.pt"]


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()])
def test_a_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch, crash):
    torch.manual_seed(0)
    model = MeanLinear()
    path = save_checkpoint(tmp_path / "best.pt", model, epoch=1)
    before = path.read_bytes()
    real_save = torch.save

    def half_written(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as handle:
            handle.truncate(10)  # a torn write, then the crash
        raise crash

    monkeypatch.setattr(torch, "save", half_written)
    with torch.no_grad():
        model.linear.weight.add_(1.0)
    with pytest.raises(type(crash)):
        save_checkpoint(path, model, epoch=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]  # the temporary file is gone
    monkeypatch.undo()
    assert load_checkpoint(path, MeanLinear()) == {"epoch": 1}


# ----------------------------------------------------------------------------------------------------------- mixup


def manual_epoch(model, loader, opt):
    """The textbook loop: what train_epoch without mixup must do."""
    model.train()
    for batch in loader:
        opt.zero_grad()
        nn.functional.cross_entropy(model(batch["x"], batch["mask"]), batch["y"]).backward()
        opt.step()


def test_mixup_alpha_zero_is_plain_training_and_positive_alpha_differs():
    train, _ = loaders()
    states = {}
    for name in ("manual", "alpha0", "alpha0.4"):
        torch.manual_seed(0)
        model = MeanLinear()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        if name == "manual":
            manual_epoch(model, train, opt)
        else:
            loss = train_epoch(model, train, nn.CrossEntropyLoss(), opt, "cpu", mixup_alpha=float(name[5:]))
            assert math.isfinite(loss)
        states[name] = weights(model)
    assert same_weights(states["manual"], states["alpha0"])
    assert not same_weights(states["alpha0"], states["alpha0.4"])


def test_mixup_batch_mixes_features_takes_the_mask_union_and_pairs_labels():
    batch = collate(ToyDataset(8, seed=3).items)
    torch.manual_seed(5)
    x, mask, y_a, y_b, lam = mixup_batch(batch["x"], batch["mask"], batch["y"], 0.4)
    torch.manual_seed(5)
    torch.distributions.Beta(0.4, 0.4).sample()
    perm = torch.randperm(8)
    assert 0.0 <= lam <= 1.0
    assert torch.allclose(x, lam * batch["x"] + (1 - lam) * batch["x"][perm])
    assert torch.equal(mask, batch["mask"] | batch["mask"][perm])
    assert torch.equal(y_a, batch["y"]) and torch.equal(y_b, batch["y"][perm])
    with pytest.raises(ValueError, match="alpha"):
        mixup_batch(batch["x"], batch["mask"], batch["y"], 0.0)


def test_mixup_loss_is_the_lambda_weighted_sum_of_both_label_losses(monkeypatch):
    calls = []

    def spy(x, mask, y, alpha):
        out = mixup_batch(x, mask, y, alpha)
        calls.append(out)
        return out

    monkeypatch.setattr(train_mod, "mixup_batch", spy)
    torch.manual_seed(0)
    model = MeanLinear()
    batch = collate(ToyDataset(16, seed=4).items)
    loader = DataLoader([batch], batch_size=None)
    before = MeanLinear()
    before.load_state_dict(model.state_dict())
    loss = train_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.0), "cpu",
                       mixup_alpha=1.0)
    (x, mask, y_a, y_b, lam), = calls
    logits = before(x, mask)
    expected = lam * nn.functional.cross_entropy(logits, y_a) + (1 - lam) * nn.functional.cross_entropy(logits, y_b)
    assert loss == pytest.approx(expected.item(), rel=1e-6)


def test_grad_clip_bounds_the_step():
    torch.manual_seed(0)
    model = MeanLinear()
    with torch.no_grad():
        model.linear.weight.mul_(50.0)  # large logits, large gradients
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    loader = DataLoader([collate(ToyDataset(16, seed=2).items)], batch_size=None)
    train_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=1.0), "cpu",
                grad_clip=0.01)
    step = torch.cat([p.detach().flatten() for p in model.parameters()]) - before
    assert 0 < float(step.norm()) <= 0.01 + 1e-6


# ---------------------------------------------------------------------------------------------------------- metrics

labels_and_batches = st.integers(2, 5).flatmap(lambda k: st.tuples(
    st.just(k),
    st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60),
    st.integers(1, 7),
))


@given(labels_and_batches)
def test_metrics_tracker_equals_scikit_learn(case):
    k, pairs, n_batches = case
    y_true = np.array([t for t, _ in pairs])
    y_pred = np.array([p for _, p in pairs])
    tracker = MetricsTracker(k)
    for part in np.array_split(np.arange(len(pairs)), n_batches):  # batches, some maybe empty
        tracker.update(y_true[part], torch.from_numpy(y_pred[part]))
    m = tracker.compute()
    labels = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per = [m["per_class"][str(i)] for i in labels]
    assert np.allclose([c["precision"] for c in per], p) and np.allclose([c["recall"] for c in per], r)
    assert np.allclose([c["f1"] for c in per], f) and [c["support"] for c in per] == s.tolist()
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert m["weighted_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0))
    assert m["accuracy"] == pytest.approx((y_true == y_pred).mean()) and m["n"] == len(pairs)
    assert np.array_equal(tracker.confusion_matrix(), sk_confusion_matrix(y_true, y_pred, labels=labels))
    for norm in ("true", "pred", "all"):
        assert np.allclose(tracker.confusion_matrix(norm),
                           sk_confusion_matrix(y_true, y_pred, labels=labels, normalize=norm))


def test_rare_class_recall_report_log_loss_and_reset():
    classes = ["SNIa", "SNII", "CV", "AGN", "TDE"]
    tracker = MetricsTracker(classes, rare_classes=["TDE", 2])
    y_true = ["SNIa", "SNIa", "SNII", "CV", "CV", "CV", "TDE", "TDE", "TDE", "TDE"]
    y_pred = ["SNIa", "SNII", "SNII", "CV", "SNIa", "SNIa", "TDE", "TDE", "TDE", "AGN"]
    probs = np.full((10, 5), 0.1)
    probs[np.arange(10), [classes.index(c) for c in y_true]] = 0.6
    tracker.update(y_true[:4], y_pred[:4], probs[:4])
    tracker.update(y_true[4:], y_pred[4:], probs[4:])
    m = tracker.compute()
    assert m["rare_recall"] == {"TDE": 0.75, "CV": pytest.approx(1 / 3)}
    assert m["rare_macro_recall"] == pytest.approx((0.75 + 1 / 3) / 2)
    assert m["per_class"]["AGN"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["log_loss"] == pytest.approx(-math.log(0.6))
    table = tracker.report()
    assert list(table.index) == [*classes, "macro avg", "weighted avg"]
    assert list(table.columns) == ["precision", "recall", "f1", "support"]
    assert table.loc["weighted avg", "support"] == 10 and table.loc["TDE", "recall"] == 0.75
    assert table.loc["macro avg", "f1"] == pytest.approx(m["macro_f1"])
    with pytest.raises(ValueError, match="probs with every update"):
        tracker.update([0], [0])
    tracker.reset()
    with pytest.raises(ValueError, match="no samples"):
        tracker.compute()


def test_confusion_matrix_plot_is_labelled():
    tracker = MetricsTracker(["SNIa", "SNII", "TDE"])
    tracker.update([0, 1, 2, 2, 1], [0, 1, 2, 0, 1])
    fig = tracker.plot_confusion_matrix()
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted class", "True class")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SNIa", "SNII", "TDE"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["SNIa", "SNII", "TDE"]
    assert "Confusion matrix" in ax.get_title() and "true class" in ax.get_title()
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: MetricsTracker(1), ValueError, "classes"),
    (lambda: MetricsTracker("abc"), TypeError, "classes"),
    (lambda: MetricsTracker(["a", "a"]), ValueError, "repeat"),
    (lambda: MetricsTracker(["a", "b"], rare_classes=["c"]), ValueError, "rare_classes"),
    (lambda: MetricsTracker(2).update([0, 1], [0]), ValueError, "y_pred has 1"),
    (lambda: MetricsTracker(2).update([0, 2], [0, 1]), ValueError, "y_true contains class index 2"),
    (lambda: MetricsTracker(2).update([0.5], [0]), TypeError, "y_true"),
    (lambda: MetricsTracker(2).update([0], [0], [[2.0, -1.0]]), ValueError, "probs"),
    (lambda: MetricsTracker(2).update([0], [0], [[0.2, 0.2]]), ValueError, "sum to 1"),
    (lambda: MetricsTracker(2).confusion_matrix("rows"), ValueError, "normalize"),
])
def test_metrics_tracker_validates_its_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------------------------ distributed


def test_without_torchrun_the_context_is_single_process(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed_env() == (1, 0, 0)
    with distributed_context() as ctx:
        assert ctx == DistributedContext() and ctx.is_main and not ctx.is_distributed
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
        distributed_env()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="inconsistent"):
        distributed_env()


DDP_SCRIPT = """
import json, sys, time
from pathlib import Path

import torch
import torch.distributed as dist
import tqdm.auto
from torch.utils.data import BatchSampler, DataLoader, WeightedRandomSampler

from exowavenet_lib import train as train_mod
from exowavenet_lib.train import EarlyStopping, distributed_env, fit
from tests.test_train import MeanLinear, RecordingDataset, ToyDataset, collate

out = Path(sys.argv[1])
world, rank, _ = distributed_env()
saves, bars = [], []
real_save, real_tqdm = train_mod.save_checkpoint, tqdm.auto.tqdm
train_mod.save_checkpoint = lambda *a, **k: saves.append(k["epoch"]) or real_save(*a, **k)
tqdm.auto.tqdm = lambda *a, **k: bars.append(not k["disable"]) or real_tqdm(*a, **k)

train, val = ToyDataset(64, seed=0), ToyDataset(41, seed=1)  # 41: uneven validation shards (21 / 20)
torch.manual_seed(100 + rank)  # different initial weights per rank: DDP must broadcast rank 0's
model = MeanLinear()
init = {k: v.tolist() for k, v in model.state_dict().items()}
# Run 1: fit creates (and destroys) the process group; no shuffling, so it must equal one process with batch 16.
h1 = fit(model, DataLoader(train, batch_size=8, collate_fn=collate), DataLoader(val, batch_size=10, collate_fn=collate),
         epochs=4, lr=0.05, checkpoint_path=out / "ckpt" / "best.pt", progress=True)
group_after_run1 = dist.is_initialized()

# Run 2: the caller owns the group; shuffled sampler, mixup, plateau, early stopping.
dist.init_process_group("gloo")
rec = RecordingDataset(train)
model2 = MeanLinear()
h2 = fit(model2, DataLoader(rec, batch_size=8, shuffle=True, collate_fn=collate),
         DataLoader(val, batch_size=10, collate_fn=collate), epochs=3, lr=0.05, mixup_alpha=0.4,
         scheduler="plateau", early_stopping=EarlyStopping(patience=5), progress=False)
group_after_run2 = dist.is_initialized()
balanced = BatchSampler(WeightedRandomSampler([1.0] * 64, 64), batch_size=8, drop_last=False)
try:
    fit(model2, DataLoader(train, batch_sampler=balanced, collate_fn=collate),
        DataLoader(val, batch_size=10, collate_fn=collate), epochs=1, progress=False)
    sampler_error = None
except ValueError as exc:
    sampler_error = str(exc)
dist.destroy_process_group()
# Run 3: fit creates a group again in the same script (a fresh store prefix: no stale rendezvous keys).
h3 = fit(MeanLinear(), DataLoader(train, batch_size=8, collate_fn=collate), DataLoader(val, batch_size=10,
         collate_fn=collate), epochs=1, progress=False)

(out / f"rank{rank}.json").write_text(json.dumps({
    "world": world, "init": init, "h1": h1.to_dict(), "h2": h2.to_dict(),
    "w1": {k: v.tolist() for k, v in model.state_dict().items()},
    "w2": {k: v.tolist() for k, v in model2.state_dict().items()},
    "saves": saves, "bars": bars, "seen": rec.log,
    "group_after_run1": group_after_run1, "group_after_run2": group_after_run2, "h3": h3.to_dict(),
    "group_after_run3": dist.is_initialized(), "sampler_error": sampler_error,
}))
# Stay alive until every rank has finished: a rank that exits while a peer is still tearing down its last gloo group
# can leave that peer blocked forever in the group's destructor (seen under load in CI).
while not all((out / f"rank{r}.json").exists() for r in range(world)):
    time.sleep(0.05)
"""


def test_fit_under_torchrun_with_two_processes(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    torchrun = Path(sys.executable).with_name("torchrun")
    start = time.perf_counter()
    # ~10 s alone; the generous limit is for a 2-core CI machine that runs notebook kernels beside it. The workers
    # get their own session so that a timeout kills them all, not just torchrun.
    proc = subprocess.Popen([str(torchrun), "--nproc_per_node=2", "--standalone", str(script), str(tmp_path)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"torchrun did not finish in 300 s:\n{stderr[-4000:]}")
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, stderr[-4000:]
    print(f"torchrun fit with 2 processes: {elapsed:.1f} s")
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["init"] != r1["init"]

    # Every rank ends with the same weights and the same history, also with rank-specific mixup draws.
    for key in ("w1", "w2", "h1", "h2", "h3"):
        assert r0[key] == r1[key], key
    # Only rank 0 wrote checkpoints (one file, no temporary files) and showed a progress bar.
    assert r0["saves"] and r1["saves"] == [] and r0["bars"] == [True, False, False]
    assert r1["bars"] == [False, False, False]
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["best.pt"]
    restored = MeanLinear()
    extra = load_checkpoint(tmp_path / "ckpt" / "best.pt", restored)
    assert extra["epoch"] == r0["h1"]["best_epoch"] == r0["saves"][-1]
    assert {k: v.tolist() for k, v in restored.state_dict().items()} == r0["w1"]
    # fit destroyed the group it created and left the caller's group alone.
    assert not r0["group_after_run1"] and r0["group_after_run2"] and r1["group_after_run2"]
    assert r0["h3"] == r1["h3"] and len(r0["h3"]["val_loss"]) == 1 and not r0["group_after_run3"]
    assert "custom sampler (WeightedRandomSampler)" in r0["sampler_error"] == r1["sampler_error"]

    # The shuffled training set is split into disjoint halves that cover it, reshuffled every epoch (set_epoch).
    epochs = [(r0["seen"][32 * e: 32 * (e + 1)], r1["seen"][32 * e: 32 * (e + 1)]) for e in range(3)]
    assert len(r0["seen"]) == len(r1["seen"]) == 96
    for a, b in epochs:
        assert sorted(a + b) == list(range(64))
    assert epochs[0] != epochs[1] != epochs[2]

    # Two ranks x batch 8 without shuffling is one process with batch 16 (DDP averages the gradients).
    model = MeanLinear()
    model.load_state_dict({k: torch.tensor(v) for k, v in r0["init"].items()})
    train = DataLoader(ToyDataset(64, seed=0), batch_size=16, collate_fn=collate)
    val = DataLoader(ToyDataset(41, seed=1), batch_size=41, collate_fn=collate)
    single = fit(model, train, val, epochs=4, lr=0.05, device="cpu", progress=False)
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert np.allclose(getattr(single, key), r0["h1"][key], rtol=1e-5, atol=1e-6), key
    assert single.best_epoch == r0["h1"]["best_epoch"]
    for k, v in model.state_dict().items():
        assert np.allclose(v.numpy(), r0["w1"][k], atol=1e-5), k
