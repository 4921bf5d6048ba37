"""Compare architectures on one split: accuracy, macro-F1, rare-class F1, MC-dropout uncertainty, ECE, size, time.

::

    from exowavenet_lib.comparison import ModelComparison, default_architectures

    comparison = ModelComparison(default_architectures(n_features, len(classes)), train_loader, val_loader,
                                 test_loader, classes, rare_classes=("TDE",), epochs=20)
    comparison.table()        # trains every model on first use
    comparison.plot()
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from exowavenet_lib.calibration import expected_calibration_error
from exowavenet_lib.models._common import positive_int
from exowavenet_lib.models.cnn_lstm import CNNLSTMClassifier
from exowavenet_lib.models.rnn import LightCurveLSTM
from exowavenet_lib.models.transformer import Time2VecTransformerEncoder
from exowavenet_lib.runtime import get_device, seed_everything
from exowavenet_lib.train import EvalResult, History, evaluate_model, fit
from exowavenet_lib.uncertainty import BayesianTransformerEncoder, MCResult, mc_predict

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from exowavenet_lib.tracking import Tracker

__all__ = ["COLUMNS", "ComparisonResult", "ModelComparison", "default_architectures"]

#: Columns of :meth:`ModelComparison.table`, in order (one row per architecture).
COLUMNS = (
    "accuracy", "macro_f1", "rare_f1", "mean_uncertainty", "mean_epistemic", "ece", "n_parameters", "train_time_s",
)
_PLOTTED = {
    "accuracy": "Test accuracy", "macro_f1": "Macro F1", "rare_f1": "Rare-class F1",
    "ece": "ECE (lower is better)", "mean_uncertainty": "Mean predictive entropy (MC, nats)",
    "train_time_s": "Training time (s)",
}


def default_architectures(
    n_features: int, n_classes: int, *, width: int = 64, dropout: float = 0.1
) -> dict[str, Callable[[], nn.Module]]:
    """Factories for the four architectures the curriculum compares, of similar width.

    ``"LSTM"`` (:class:`~exowavenet_lib.models.LightCurveLSTM`), ``"Transformer"`` (Time2Vec transformer),
    ``"Bayesian transformer"`` (:class:`~exowavenet_lib.uncertainty.BayesianTransformerEncoder`, MC dropout at
    inference) and ``"CNN-LSTM"`` (:class:`~exowavenet_lib.models.cnn_lstm.CNNLSTMClassifier`). ``width`` is the
    LSTM hidden size / transformer ``d_model`` (even; heads = 4 if it divides, else 2); every model gets ``dropout``
    so that MC dropout has something to sample.
    """
    n_features = positive_int("n_features", n_features)
    n_classes = positive_int("n_classes", n_classes)
    width = positive_int("width", width)
    if width % 2:
        raise ValueError(f"width must be even (transformer heads), got {width}")
    heads = 4 if width % 4 == 0 else 2
    transformer = {"d_model": width, "n_heads": heads, "n_layers": 2, "dim_feedforward": 2 * width,
                   "dropout": dropout, "time2vec_dim": max(2, width // 4)}
    return {
        "LSTM": lambda: LightCurveLSTM(n_features, n_classes, hidden_size=width, dropout=dropout),
        "Transformer": lambda: Time2VecTransformerEncoder(n_features, n_classes, **transformer),
        "Bayesian transformer": lambda: BayesianTransformerEncoder(n_features, n_classes, **transformer),
        "CNN-LSTM": lambda: CNNLSTMClassifier(
            n_features, n_classes, conv_channels=(width // 2, width // 2), hidden_size=width, dropout=dropout
        ),
    }


@dataclass
class ComparisonResult:
    """One architecture's run: the trained model, its history, test evaluation, MC-dropout result and metrics."""

    name: str
    model: nn.Module
    history: History
    evaluation: EvalResult
    mc: MCResult
    metrics: dict[str, float]


class ModelComparison:
    """Train several architectures on the same split with :func:`~exowavenet_lib.train.fit` and compare them.

    Parameters
    ----------
    models : dict of name -> factory
        Zero-argument callables that build a fresh model (``model(x, mask) -> logits``), e.g.
        :func:`default_architectures`. Each is built right after ``seed_everything(seed)``, so every architecture
        starts from the same RNG state (same batch order, reproducible initialisation).
    train_loader, val_loader, test_loader : DataLoader
        Contract batches. The validation loader picks the best epoch; the test loader is only used for the table.
    classes : sequence of str
        Class names in label-index order.
    rare_classes : sequence of str, default ("TDE",)
        Their F1 is reported (mean over them when several) as ``rare_f1``.
    epochs : int
        Epochs per model (``fit`` restores the best validation epoch).
    tracker : Tracker, optional
        A *running* :class:`~exowavenet_lib.tracking.Tracker`: each model's history (prefix ``"<name>/"``) and test
        metrics are logged as it finishes, then the table and the figure.
    mc_samples : int, default 20
        MC-dropout passes for the uncertainty columns.
    seed : int, default 0
    device : torch.device or str, optional
        Default :func:`~exowavenet_lib.get_device`.
    fit_kwargs : dict, optional
        More keyword arguments for ``fit`` (``lr``, ``scheduler``, ``early_stopping`` ...); ``progress`` defaults
        to False.

    Metrics
    -------
    ``accuracy``, ``macro_f1``, ``rare_f1`` and ``ece`` (15 equal-width bins) come from the model's point
    prediction: ``evaluate_model`` (eval mode), except for models with ``mc_dropout = True`` (the Bayesian
    transformer), whose prediction *is* the MC-dropout mean. ``mean_uncertainty`` is the mean total predictive
    entropy and ``mean_epistemic`` the mean mutual information over ``mc_samples`` MC-dropout passes on the test set
    (nats; 0 for a model without dropout). ``n_parameters`` counts trainable parameters; ``train_time_s`` is the
    wall time of ``fit`` (validation included).
    """

    def __init__(
        self,
        models: Mapping[str, Callable[[], nn.Module]],
        train_loader: DataLoader,
        val_loader: DataLoader,
        test_loader: DataLoader,
        classes: Sequence[str],
        *,
        rare_classes: Sequence[str] = ("TDE",),
        epochs: int,
        tracker: Tracker | None = None,
        mc_samples: int = 20,
        seed: int = 0,
        device: torch.device | str | None = None,
        fit_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(models, Mapping) or not models:
            raise TypeError("models must be a non-empty dict of name -> zero-argument model factory")
        for name, factory in models.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"model names must be non-empty strings, got {name!r}")
            if isinstance(factory, nn.Module) or not callable(factory):
                raise TypeError(f"models[{name!r}] must be a factory (e.g. a lambda) that builds a fresh model, "
                                f"got {type(factory).__name__}")
        for loader_name, loader in (("train_loader", train_loader), ("val_loader", val_loader),
                                    ("test_loader", test_loader)):
            if not isinstance(loader, DataLoader):
                raise TypeError(f"{loader_name} must be a torch.utils.data.DataLoader, got {type(loader).__name__}")
        if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) < 2:
            raise TypeError(f"classes must be a sequence of at least 2 class names, got {classes!r}")
        self.classes = tuple(str(c) for c in classes)
        if isinstance(rare_classes, str) or not isinstance(rare_classes, Sequence):
            raise TypeError(f"rare_classes must be a sequence of class names, got {rare_classes!r}")
        unknown = [c for c in rare_classes if c not in self.classes]
        if unknown:
            raise ValueError(f"rare_classes {unknown} are not in classes {list(self.classes)}")
        if tracker is not None and not (hasattr(tracker, "log_metrics") and hasattr(tracker, "log_table")):
            raise TypeError(f"tracker must be an exowavenet_lib.tracking.Tracker, got {type(tracker).__name__}")
        if fit_kwargs is not None and not isinstance(fit_kwargs, Mapping):
            raise TypeError(f"fit_kwargs must be a dict, got {type(fit_kwargs).__name__}")
        reserved = {"epochs", "device"} & set(fit_kwargs or {})
        if reserved:
            raise ValueError(f"fit_kwargs must not set {sorted(reserved)}; pass them to ModelComparison")
        self.models = dict(models)
        self.train_loader, self.val_loader, self.test_loader = train_loader, val_loader, test_loader
        self.rare_classes = tuple(rare_classes)
        self.epochs = positive_int("epochs", epochs)
        self.tracker = tracker
        self.mc_samples = positive_int("mc_samples", mc_samples)
        self.seed = seed
        self.device = get_device() if device is None else torch.device(device)
        self.fit_kwargs = {"progress": False, **(fit_kwargs or {})}
        self.results: dict[str, ComparisonResult] = {}

    def _run_one(self, name: str) -> ComparisonResult:
        seed_everything(self.seed)
        model = self.models[name]()
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}]() must return an nn.Module, got {type(model).__name__}")
        start = time.perf_counter()
        history = fit(model, self.train_loader, self.val_loader, epochs=self.epochs, device=self.device,
                      **self.fit_kwargs)
        train_time = time.perf_counter() - start
        evaluation = evaluate_model(model, self.test_loader, nn.CrossEntropyLoss(), self.device)
        if evaluation.probs.shape[1] != len(self.classes):
            raise ValueError(f"models[{name!r}] predicts {evaluation.probs.shape[1]} classes, but classes has "
                             f"{len(self.classes)}")
        mc = mc_predict(model, self.test_loader, self.mc_samples, self.device, seed=self.seed)
        probs = mc.mean_probs if getattr(model, "mc_dropout", False) else evaluation.probs
        point = EvalResult(evaluation.loss, float((probs.argmax(1) == evaluation.y_true).mean()),
                           evaluation.y_true, probs.argmax(1), probs)
        scores = point.metrics(list(self.classes), list(self.rare_classes)).compute()
        rare_f1 = [scores["per_class"][c]["f1"] for c in self.rare_classes]
        metrics = {
            "accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
            "rare_f1": float(np.mean(rare_f1)) if rare_f1 else math.nan,
            "mean_uncertainty": float(mc.total.mean()),
            "mean_epistemic": float(mc.epistemic.mean()),
            "ece": expected_calibration_error(probs, point.y_true),
            "n_parameters": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
            "train_time_s": train_time,
        }
        if self.tracker is not None:
            self.tracker.log_history(history, prefix=f"{name}/")
            self.tracker.log_metrics({f"{name}/test_{key}": value for key, value in metrics.items()})
        return ComparisonResult(name, model, history, point, mc, metrics)

    def run(self) -> ModelComparison:
        """Train and evaluate every architecture not yet run (in the dict's order); returns ``self``."""
        for name in self.models:
            if name not in self.results:
                self.results[name] = self._run_one(name)
        if self.tracker is not None:
            import matplotlib.pyplot as plt

            self.tracker.log_table("model_comparison", self.table())
            figure = self.plot()
            self.tracker.log_figure("model_comparison", figure)
            plt.close(figure)
        return self

    def table(self) -> pd.DataFrame:
        """One row per architecture (index ``model``) with :data:`COLUMNS`; runs the comparison first if needed."""
        import pandas as pd

        if len(self.results) < len(self.models):
            self.run()
        table = pd.DataFrame.from_dict({name: r.metrics for name, r in self.results.items()}, orient="index")
        table = table[list(COLUMNS)]
        table.index.name = "model"
        return table

    def plot(self) -> Figure:
        """Bar charts of accuracy, macro-F1, rare-class F1, ECE, mean uncertainty and training time per model."""
        import matplotlib.pyplot as plt

        table = self.table()
        fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ax, (column, label) in zip(axes.flat, _PLOTTED.items(), strict=True):
            values = table[column].to_numpy(dtype=float)
            bars = ax.bar(table.index, values, color=[colours[i % len(colours)] for i in range(len(table))])
            ax.bar_label(bars, fmt="%.3g", fontsize=8)
            ax.set_title(label)
            ax.set_ylabel(label)
            if column in ("accuracy", "macro_f1", "rare_f1"):
                ax.set_ylim(0, 1.05)
            ax.tick_params(axis="x", labelrotation=30)
        rare = ", ".join(self.rare_classes) or "none"
        fig.suptitle(f"Model comparison on the test set (n = {len(next(iter(self.results.values())).mc.total)}, "
                     f"{self.epochs} epochs, rare: {rare})")
        return fig
