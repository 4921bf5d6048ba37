"""Training under class imbalance: plain vs weighted cross-entropy, focal loss and class-balanced batches.

One call trains a light-curve classifier with one strategy against imbalance and reports what matters when classes
are rare (macro-F1 and the recall of the rare classes, not accuracy)::

    from exowavenet_lib.imbalance import train_with_imbalance_handling, compare_strategies

    result = train_with_imbalance_handling(train_lcs, train_labels, val_lcs, val_labels, strategy="focal")
    result.summary()["macro_f1"], result.summary()["rare_recall"]["TDE"]
    table = compare_strategies(train_lcs, train_labels, val_lcs, val_labels, epochs=20)  # one row per strategy

Strategies (:data:`STRATEGIES`):

* ``"ce"`` — plain cross-entropy on the natural mix: the baseline that imbalance hurts;
* ``"weighted_ce"`` — cross-entropy with per-class weights ∝ 1 / class count (``class_weights(..., "inverse")``),
  so every class contributes equally to the loss in expectation;
* ``"focal"`` — focal loss (Lin et al. 2017) with the same weights as ``alpha`` and ``gamma = focal_gamma``:
  weighted CE that also down-weights examples the model already gets right;
* ``"balanced_sampler"`` — plain cross-entropy on class-balanced batches (:class:`~exowavenet_lib.data.
  BalancedBatchSampler`): rare classes are oversampled (repeated), common ones subsampled.

Training uses :func:`exowavenet_lib.train.fit` with early stopping on the validation macro-F1, which also picks the
epoch whose weights the model keeps. The validation loss that ``fit`` records uses the strategy's own loss, so loss
values are not comparable across strategies; macro-F1 and recalls are.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from exowavenet_lib.data import (
    CLASS_WEIGHT_SCHEMES,
    BalancedBatchSampler,
    LightCurveDataset,
    class_weights,
    collate_lightcurves,
    n_features,
)
from exowavenet_lib.data.features import DEFAULT_BANDS
from exowavenet_lib.metrics import MetricsTracker
from exowavenet_lib.models import FocalLoss, LightCurveLSTM, SimplePhotometryMLP, Time2VecTransformerEncoder
from exowavenet_lib.runtime import get_device, seed_everything
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES
from exowavenet_lib.train import EarlyStopping, EvalResult, History, evaluate_model, fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from exowavenet_lib.lightcurves import LightCurve

__all__ = [
    "MODELS",
    "MODEL_DEFAULTS",
    "SCHEDULERS",
    "STRATEGIES",
    "ImbalanceResult",
    "build_model",
    "compare_strategies",
    "comparison_table",
    "make_loss",
    "make_train_loader",
    "plot_strategy_comparison",
    "summarise",
    "train_with_imbalance_handling",
]

#: Strategies against class imbalance, in the order tables and plots show them.
STRATEGIES: tuple[str, ...] = ("ce", "weighted_ce", "focal", "balanced_sampler")
#: Model kinds :func:`build_model` knows.
MODELS: tuple[str, ...] = ("transformer", "lstm", "mlp")
#: Learning-rate schedules :func:`train_with_imbalance_handling` accepts (None: constant).
SCHEDULERS: tuple[str | None, ...] = (None, "plateau", "cosine")
#: Constructor arguments of each model kind beyond ``n_features`` and ``n_classes`` (override with ``model_kwargs``).
MODEL_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "mlp": {"hidden": (128, 128), "dropout": 0.1, "pooling": "meanmax"},
    "lstm": {"hidden_size": 64, "num_layers": 1, "dropout": 0.1},
    "transformer": {"d_model": 32, "n_heads": 4, "n_layers": 2, "dim_feedforward": 64, "dropout": 0.1},
}
_EVAL_BATCH_SIZE = 256


# ------------------------------------------------------------------------------------------------------ validation


def _choice(name: str, value: Any, options: Sequence[Any]) -> Any:
    if not any(value is o or (isinstance(value, str) and value == o) for o in options):
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _number(name: str, value: Any, *, positive: bool) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        raise ValueError(f"{name} must be a {'positive' if positive else 'non-negative'} finite number, got {value!r}")
    return float(value)


def _check_split(lcs_name: str, lcs: Any, labels_name: str, labels: Any) -> None:
    if isinstance(lcs, (str, bytes)) or not isinstance(lcs, Sequence) or len(lcs) == 0:
        raise ValueError(f"{lcs_name} must be a non-empty list of light curves, got {type(lcs).__name__}")
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
        raise ValueError(f"{labels_name} must be a sequence of class labels, got {type(labels).__name__}")
    if len(labels) != len(lcs):
        raise ValueError(f"{labels_name} has {len(labels)} labels but {lcs_name} has {len(lcs)} light curves")


def _check_classes(classes: Any) -> tuple[str, ...]:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or len(classes) < 2:
        raise ValueError(f"classes must be a sequence of at least two class names, got {classes!r}")
    names = tuple(classes)
    if len(set(names)) != len(names):
        raise ValueError(f"classes must not repeat a class, got {list(names)}")
    return names


def _default_rare(classes: tuple[str, ...]) -> tuple[str, ...]:
    return ("TDE",) if "TDE" in classes else ()


# ---------------------------------------------------------------------------------------------------------- pieces


def build_model(
    model: str, n_features: int, n_classes: int, model_kwargs: Mapping[str, Any] | None = None
) -> nn.Module:
    """A classifier of kind ``model`` (see :data:`MODELS`) with :data:`MODEL_DEFAULTS` updated by ``model_kwargs``."""
    _choice("model", model, MODELS)
    if model_kwargs is not None and not isinstance(model_kwargs, Mapping):
        raise ValueError(f"model_kwargs must be a mapping of constructor arguments or None, got {model_kwargs!r}")
    kwargs = {**MODEL_DEFAULTS[model], **(model_kwargs or {})}
    cls = {"mlp": SimplePhotometryMLP, "lstm": LightCurveLSTM, "transformer": Time2VecTransformerEncoder}[model]
    if model == "transformer":
        kwargs.setdefault("n_bands", n_features - 3)
    return cls(n_features, n_classes, **kwargs)


def make_loss(
    strategy: str,
    targets: Sequence[int] | np.ndarray,
    n_classes: int,
    *,
    focal_gamma: float = 2.0,
    weight_scheme: str = "inverse",
    beta: float = 0.999,
) -> nn.Module:
    """The loss of ``strategy`` for training labels ``targets`` (class indices).

    ``"ce"`` and ``"balanced_sampler"``: plain ``CrossEntropyLoss`` (the sampler does the balancing);
    ``"weighted_ce"``: ``CrossEntropyLoss(weight=w)``; ``"focal"``: ``FocalLoss(focal_gamma, alpha=w)``, with
    ``w = class_weights(targets, n_classes, weight_scheme, beta)``: ``"inverse"`` weights ∝ 1 / class count,
    ``"effective"`` the gentler inverse effective number ``(1 - beta) / (1 - beta**count)`` (Cui et al. 2019; with
    ``beta = 0.999`` a class of 280 weighs about 4 times one of 7000, against 25 times for ``"inverse"``).
    """
    _choice("strategy", strategy, STRATEGIES)
    gamma = _number("focal_gamma", focal_gamma, positive=False)
    _choice("weight_scheme", weight_scheme, CLASS_WEIGHT_SCHEMES)
    if isinstance(beta, bool) or not isinstance(beta, Real) or not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be a number in [0, 1), got {beta!r}")
    if strategy in ("ce", "balanced_sampler"):
        return nn.CrossEntropyLoss()
    weights = class_weights(np.asarray(targets, dtype=np.int64), n_classes, scheme=weight_scheme, beta=beta)
    if strategy == "weighted_ce":
        return nn.CrossEntropyLoss(weight=weights)
    return FocalLoss(gamma=gamma, alpha=weights)


def make_train_loader(dataset: LightCurveDataset, strategy: str, batch_size: int, *, seed: int = 0) -> DataLoader:
    """The training DataLoader: class-balanced batches for ``"balanced_sampler"``, shuffled batches otherwise.

    Either way an epoch has ``ceil(len(dataset) / batch_size)`` batches, so strategies see as many examples.
    """
    _choice("strategy", strategy, STRATEGIES)
    batch_size = _positive_int("batch_size", batch_size)
    if strategy == "balanced_sampler":
        sampler = BalancedBatchSampler(dataset.targets, batch_size, seed=seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_lightcurves)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate_lightcurves,
                      generator=generator)


# ---------------------------------------------------------------------------------------------------------- result


@dataclass
class ImbalanceResult:
    """What :func:`train_with_imbalance_handling` returns.

    Attributes
    ----------
    strategy : str
    model : nn.Module
        The trained model, holding the weights of its best validation epoch (in eval mode).
    history : History
        Per-epoch losses, validation accuracy and macro-F1; ``best_epoch`` is the epoch kept.
    val : EvalResult
        Predictions of the kept model on the validation set.
    metrics : MetricsTracker
        ``val`` as a tracker (class names, rare classes): ``.compute()``, ``.report()``, ``.plot_confusion_matrix()``.
    wall_time_s : float
        Seconds spent building the data and training (including the final validation pass).
    classes, rare_classes : tuple of str
    settings : dict
        The arguments of the run (model, epochs, batch size, lr, ...), JSON-friendly.
    """

    strategy: str
    model: nn.Module
    history: History
    val: EvalResult
    metrics: MetricsTracker
    wall_time_s: float
    classes: tuple[str, ...]
    rare_classes: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Validation figures as plain numbers: accuracy, macro-F1, per-class recall, rare-class recall, epochs."""
        return summarise(self.metrics, history=self.history, wall_time_s=self.wall_time_s, strategy=self.strategy)

    def evaluate(self, lightcurves: Sequence[LightCurve], labels: Sequence[Any]) -> EvalResult:
        """Predictions of the trained model on other light curves (e.g. the test split), encoded like training."""
        _check_split("lightcurves", lightcurves, "labels", labels)
        dataset = LightCurveDataset(list(lightcurves), list(labels), classes=self.classes,
                                    bands=self.settings.get("bands", DEFAULT_BANDS),
                                    max_sequence_length=self.settings.get("max_sequence_length"))
        loader = DataLoader(dataset, batch_size=_EVAL_BATCH_SIZE, collate_fn=collate_lightcurves)
        device = next(self.model.parameters()).device
        return evaluate_model(self.model, loader, nn.CrossEntropyLoss(), device)

    def test_metrics(self, lightcurves: Sequence[LightCurve], labels: Sequence[Any]) -> MetricsTracker:
        """:meth:`evaluate` as a :class:`MetricsTracker` with this run's classes and rare classes."""
        return self.evaluate(lightcurves, labels).metrics(list(self.classes), list(self.rare_classes))


def summarise(
    tracker: MetricsTracker, *, history: History | None = None, wall_time_s: float | None = None,
    strategy: str | None = None,
) -> dict[str, Any]:
    """The figures a comparison of strategies needs, from a metrics tracker (and a run's history and time)."""
    m = tracker.compute()
    out: dict[str, Any] = {
        "n": m["n"],
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "macro_recall": m["macro_recall"],
        "recall": {name: values["recall"] for name, values in m["per_class"].items()},
        "precision": {name: values["precision"] for name, values in m["per_class"].items()},
        "rare_recall": m["rare_recall"],
        "rare_macro_recall": m["rare_macro_recall"],
    }
    if strategy is not None:
        out = {"strategy": strategy, **out}
    if history is not None:
        out["epochs"] = len(history)
        out["best_epoch"] = history.best_epoch
        out["stopped_early"] = history.stopped_early
    if wall_time_s is not None:
        out["wall_time_s"] = float(wall_time_s)
    return out


# ---------------------------------------------------------------------------------------------------------- train


def train_with_imbalance_handling(
    train_lcs: Sequence[LightCurve],
    train_labels: Sequence[Any],
    val_lcs: Sequence[LightCurve],
    val_labels: Sequence[Any],
    *,
    strategy: str = "weighted_ce",
    model: str = "mlp",
    classes: Sequence[str] = TRANSIENT_CLASSES,
    rare_classes: Sequence[str] | None = None,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    scheduler: str | None = "cosine",
    patience: int = 8,
    focal_gamma: float = 2.0,
    weight_scheme: str = "inverse",
    beta: float = 0.999,
    model_kwargs: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    mixup_alpha: float = 0.0,
    seed: int = 0,
    max_sequence_length: int | None = 64,
    bands: Sequence[str] = DEFAULT_BANDS,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> ImbalanceResult:
    """Train a light-curve classifier with one strategy against class imbalance; keep the best validation epoch.

    Parameters
    ----------
    train_lcs, train_labels, val_lcs, val_labels
        Light curves and their class names (an object-level split, e.g. from
        :func:`exowavenet_lib.data.stratified_split`).
    strategy : {"ce", "weighted_ce", "focal", "balanced_sampler"}
        See the module docstring.
    model : {"transformer", "lstm", "mlp"}
        Built by :func:`build_model` with :data:`MODEL_DEFAULTS` updated by ``model_kwargs``.
    classes : sequence of str
        The class list in model output order (default ``TRANSIENT_CLASSES``).
    rare_classes : sequence of str, optional
        Classes whose recall is reported separately; default ``("TDE",)`` when TDE is a class.
    epochs, batch_size, lr, weight_decay
        At most ``epochs`` epochs of AdamW.
    scheduler : {None, "plateau", "cosine"}
        Learning-rate schedule (see :func:`exowavenet_lib.train.fit`).
    patience : int
        Early stopping: stop after this many epochs without a better validation macro-F1.
    focal_gamma : float
        Focusing parameter of the focal loss (``strategy="focal"`` only).
    weight_scheme : {"inverse", "effective"}, beta : float
        Class weights of ``"weighted_ce"`` and ``"focal"`` (see :func:`make_loss`).
    checkpoint_path : path, optional
        Where ``fit`` saves the best epoch (atomically).
    mixup_alpha : float
        ``> 0`` trains on mixed pairs (see :func:`exowavenet_lib.train.mixup_batch` and its caveat).
    seed : int
        Seeds weights, shuffling and the balanced sampler (``seed_everything(seed)`` is called).
    max_sequence_length : int or None
        Keep the first ``max_sequence_length`` observations of each light curve (None: all).
    bands : sequence of str
        Band list of the one-hot features.
    device : torch.device or str, optional
        Default :func:`exowavenet_lib.get_device`.
    progress : bool
        Show a progress bar over epochs.

    Returns
    -------
    ImbalanceResult
    """
    _check_split("train_lcs", train_lcs, "train_labels", train_labels)
    _check_split("val_lcs", val_lcs, "val_labels", val_labels)
    _choice("strategy", strategy, STRATEGIES)
    _choice("model", model, MODELS)
    classes = _check_classes(classes)
    unknown = sorted({str(v) for v in [*train_labels, *val_labels]} - set(classes))
    if unknown:
        raise ValueError(f"train_labels/val_labels contain {unknown}, which are not in classes {list(classes)}")
    if rare_classes is None:
        rare = _default_rare(classes)
    elif isinstance(rare_classes, str) or not isinstance(rare_classes, Sequence):
        raise ValueError(f"rare_classes must be a sequence of class names or None, got {rare_classes!r}")
    else:
        rare = tuple(rare_classes)
        missing = [c for c in rare if c not in classes]
        if missing:
            raise ValueError(f"rare_classes contains {missing}, which are not in classes {list(classes)}")
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    lr = _number("lr", lr, positive=True)
    weight_decay = _number("weight_decay", weight_decay, positive=False)
    _choice("scheduler", scheduler, SCHEDULERS)
    patience = _non_negative_int("patience", patience)
    mixup_alpha = _number("mixup_alpha", mixup_alpha, positive=False)
    _choice("weight_scheme", weight_scheme, CLASS_WEIGHT_SCHEMES)
    seed = _non_negative_int("seed", seed)
    if max_sequence_length is not None:
        max_sequence_length = _positive_int("max_sequence_length", max_sequence_length)
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be a bool, got {progress!r}")
    device = get_device() if device is None else torch.device(device)

    start = time.perf_counter()
    seed_everything(seed)
    encode = {"classes": classes, "bands": tuple(bands), "max_sequence_length": max_sequence_length}
    train_set = LightCurveDataset(list(train_lcs), list(train_labels), **encode)
    val_set = LightCurveDataset(list(val_lcs), list(val_labels), **encode)
    train_loader = make_train_loader(train_set, strategy, batch_size, seed=seed)
    val_loader = DataLoader(val_set, batch_size=_EVAL_BATCH_SIZE, collate_fn=collate_lightcurves)
    loss_fn = make_loss(strategy, train_set.targets, len(classes), focal_gamma=focal_gamma,
                        weight_scheme=weight_scheme, beta=beta)
    net = build_model(model, n_features(tuple(bands)), len(classes), model_kwargs)

    history = fit(
        net, train_loader, val_loader, epochs=epochs, lr=lr, weight_decay=weight_decay, loss_fn=loss_fn,
        scheduler=scheduler, early_stopping=EarlyStopping(patience=patience, mode="max"), monitor="val_macro_f1",
        checkpoint_path=checkpoint_path, device=device, mixup_alpha=mixup_alpha, progress=progress,
    )
    net.eval()
    val = evaluate_model(net, val_loader, nn.CrossEntropyLoss(), device)
    wall = time.perf_counter() - start
    settings = {
        "strategy": strategy, "model": model, "model_kwargs": {**MODEL_DEFAULTS[model], **(model_kwargs or {})},
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "scheduler": scheduler,
        "patience": patience, "focal_gamma": focal_gamma, "weight_scheme": weight_scheme, "beta": beta,
        "mixup_alpha": mixup_alpha, "seed": seed,
        "max_sequence_length": max_sequence_length, "bands": tuple(bands), "device": str(device),
        "n_train": len(train_set), "n_val": len(val_set),
    }
    return ImbalanceResult(
        strategy=strategy, model=net, history=history, val=val, metrics=val.metrics(list(classes), list(rare)),
        wall_time_s=wall, classes=classes, rare_classes=rare, settings=settings,
    )


# ------------------------------------------------------------------------------------------------------- compare


def comparison_table(results: Mapping[str, ImbalanceResult] | Sequence[ImbalanceResult]) -> pd.DataFrame:
    """One row per run (index: strategy): accuracy, macro-F1, each rare class's recall, rare macro-recall, epochs,
    best epoch and wall time — the figures that tell strategies apart under imbalance."""
    runs = list(results.values()) if isinstance(results, Mapping) else list(results)
    if not runs or not all(isinstance(r, ImbalanceResult) for r in runs):
        raise ValueError("results must be a non-empty collection of ImbalanceResult")
    rows = []
    for run in runs:
        s = run.summary()
        row = {"accuracy": s["accuracy"], "macro_f1": s["macro_f1"]}
        row.update({f"{name}_recall": value for name, value in s["rare_recall"].items()})
        row.update({"rare_recall": s["rare_macro_recall"], "epochs": s["epochs"], "best_epoch": s["best_epoch"],
                    "wall_time_s": s["wall_time_s"]})
        rows.append(pd.Series(row, name=run.strategy))
    table = pd.DataFrame(rows)
    table.index.name = "strategy"
    return table


def compare_strategies(
    train_lcs: Sequence[LightCurve],
    train_labels: Sequence[Any],
    val_lcs: Sequence[LightCurve],
    val_labels: Sequence[Any],
    *,
    strategies: Sequence[str] = STRATEGIES,
    **kwargs: Any,
) -> pd.DataFrame:
    """Train once per strategy (same data, model, seed and budget) and return :func:`comparison_table`.

    ``kwargs`` go to :func:`train_with_imbalance_handling` (not ``strategy``). To keep the trained models and
    histories too, train them yourself and pass the runs to :func:`comparison_table`::

        runs = {s: train_with_imbalance_handling(..., strategy=s) for s in STRATEGIES}
        table = comparison_table(runs)
    """
    if isinstance(strategies, str) or not isinstance(strategies, Sequence) or len(strategies) == 0:
        raise ValueError(f"strategies must be a non-empty sequence drawn from {list(STRATEGIES)}, got {strategies!r}")
    for s in strategies:
        _choice("strategies", s, STRATEGIES)
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"strategies must not repeat a strategy, got {list(strategies)}")
    if "strategy" in kwargs:
        raise ValueError("pass strategies=[...] to compare_strategies, not strategy=")
    return comparison_table([train_with_imbalance_handling(train_lcs, train_labels, val_lcs, val_labels, strategy=s,
                                                           **kwargs) for s in strategies])


def plot_strategy_comparison(
    table: pd.DataFrame, *, metrics: Sequence[str] | None = None, title: str | None = None
) -> Figure:
    """Grouped bars: one group per strategy, one bar per metric (default macro-F1, accuracy and each rare recall)."""
    import matplotlib.pyplot as plt

    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("table must be a non-empty DataFrame from comparison_table/compare_strategies")
    if metrics is None:
        metrics = ["macro_f1", "accuracy", *[c for c in table.columns if c.endswith("_recall") and c != "rare_recall"]]
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        raise ValueError(f"metrics {missing} are not columns of table ({list(table.columns)})")
    n_metrics = len(metrics)
    width = 0.8 / n_metrics
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.8 * len(table) + 2.0), 4.2))
    for k, metric in enumerate(metrics):
        values = table[metric].to_numpy(dtype=float)
        bars = ax.bar(x + (k - (n_metrics - 1) / 2) * width, values, width, label=metric.replace("_", " "))
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, [str(s).replace("_", " ") for s in table.index])
    ax.set(xlabel="Strategy against class imbalance", ylabel="Score on the validation set (0 to 1)", ylim=(0, 1.1),
           title=title or "Accuracy hides what the rare class recall and macro-F1 show")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
