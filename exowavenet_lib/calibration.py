"""Calibration: does a predicted probability of 0.8 come true 80 % of the time?

Scores (lower is better): top-label expected calibration error :func:`expected_calibration_error` (equal-width or
equal-mass bins), multi-class :func:`brier_score`, :func:`negative_log_likelihood`; the picture:
:func:`reliability_diagram`; the fix: :class:`TemperatureScaler` (Guo et al. 2017), one temperature fitted on
validation logits; and :func:`deep_ensemble_predict` (Lakshminarayanan et al. 2017), which averages independently
trained models and decomposes their disagreement like MC dropout does.

``probs`` are (N, C) class probabilities (rows sum to 1) and ``y`` (N,) class indices; NumPy arrays or tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from exowavenet_lib.models._common import choice, positive_int
from exowavenet_lib.uncertainty import MCResult, _predict_probs, _restore_modes, decompose_uncertainty

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "STRATEGIES",
    "CalibrationBins",
    "TemperatureScaler",
    "UncertaintyCalibration",
    "brier_score",
    "calibration_bins",
    "deep_ensemble_predict",
    "expected_calibration_error",
    "negative_log_likelihood",
    "reliability_diagram",
]

#: Binning strategies of :func:`expected_calibration_error`.
STRATEGIES = ("uniform", "adaptive")
_PROB_SUM_TOL = 1e-3


def _as_tensor(values: Any) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu()
    return torch.as_tensor(np.asarray(values))


def _check_probs_labels(probs: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``probs`` (N, C) and ``y`` (N,); return them as CPU tensors (float probs keep their dtype)."""
    p = _as_tensor(probs)
    if p.dim() != 2 or p.shape[1] < 2 or p.shape[0] == 0:
        raise ValueError(f"probs must have shape (N, C) with N >= 1 and C >= 2, got {tuple(p.shape)}")
    if not p.is_floating_point():
        p = p.double()
    if not bool(torch.isfinite(p).all()) or bool((p < 0).any()) or bool((p > 1).any()):
        raise ValueError("probs must be finite probabilities in [0, 1] (pass softmax(logits), not logits)")
    if not torch.allclose(p.sum(dim=1).double(), torch.ones(p.shape[0], dtype=torch.float64), atol=_PROB_SUM_TOL):
        raise ValueError("probs rows must sum to 1 (pass softmax(logits), not logits)")
    t = _as_tensor(y)
    if t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"y must hold integer class indices, got dtype {t.dtype}")
    t = t.long()
    if t.shape != (p.shape[0],):
        raise ValueError(f"y must have shape ({p.shape[0]},) to match probs, got {tuple(t.shape)}")
    if bool(((t < 0) | (t >= p.shape[1])).any()):
        raise ValueError(f"y must hold class indices in [0, {p.shape[1]}), got values from {int(t.min())} to "
                         f"{int(t.max())}")
    return p, t


@dataclass
class CalibrationBins:
    """Per-bin statistics of the top-label confidence (what the ECE and the reliability diagram are made of).

    ``lower``/``upper`` are each bin's edges, ``count`` its number of samples, ``accuracy`` and ``confidence`` the
    mean correctness and mean top-label probability of those samples (0 for an empty bin). ``n`` is the total.
    """

    lower: np.ndarray
    upper: np.ndarray
    count: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray
    n: int

    @property
    def ece(self) -> float:
        """``sum_b count_b / n * |accuracy_b - confidence_b|``."""
        return float((self.count / self.n * np.abs(self.accuracy - self.confidence)).sum())


def _bin_stats(conf: torch.Tensor, correct: torch.Tensor, index: torch.Tensor, n_bins: int) -> tuple[np.ndarray, ...]:
    count = torch.zeros(n_bins, dtype=conf.dtype).scatter_add_(0, index, torch.ones_like(conf))
    conf_sum = torch.zeros(n_bins, dtype=conf.dtype).scatter_add_(0, index, conf)
    acc_sum = torch.zeros(n_bins, dtype=conf.dtype).scatter_add_(0, index, correct)
    safe = count.clamp_min(1)
    return count.numpy(), torch.nan_to_num(acc_sum / safe).numpy(), torch.nan_to_num(conf_sum / safe).numpy()


def calibration_bins(probs: Any, y: Any, n_bins: int = 15, strategy: str = "uniform") -> CalibrationBins:
    """Bin the top-label confidences ``max_k probs[:, k]`` and return per-bin accuracy, confidence and count.

    Parameters
    ----------
    probs : (N, C) array or tensor
        Class probabilities; the computation stays in their floating dtype.
    y : (N,) array or tensor of int
    n_bins : int, default 15
    strategy : {"uniform", "adaptive"}
        ``"uniform"``: equal-width bins over [0, 1] with edges ``torch.linspace(0, 1, n_bins + 1)``, bin ``k`` is
        ``[edge_k, edge_{k+1})`` — exactly torchmetrics' rule (``torch.bucketize(..., right=True) - 1``), including
        its one quirk: a confidence of exactly 1.0 falls past the last edge and forms a bin of its own
        ``[1, 1]`` (returned as an extra, ``n_bins + 1``-th bin only when such samples exist). ``"adaptive"``:
        equal-mass bins — the samples sorted by confidence (ties broken by input order) and split into ``n_bins``
        consecutive groups whose sizes differ by at most one (``np.array_split``); edges are the groups' smallest
        and largest confidence. With fewer samples than bins, empty groups are dropped.

    The predicted class is ``probs.max(dim=1)``'s index (the first of tied maxima), as in torchmetrics.
    """
    p, t = _check_probs_labels(probs, y)
    n_bins = positive_int("n_bins", n_bins)
    strategy = choice("strategy", strategy, STRATEGIES)
    conf, pred = p.max(dim=1)
    correct = pred.eq(t).to(conf.dtype)
    n = int(conf.numel())
    if strategy == "uniform":
        edges = torch.linspace(0, 1, n_bins + 1, dtype=conf.dtype)
        index = torch.bucketize(conf, edges, right=True) - 1  # in [0, n_bins]; n_bins only for conf == 1.0
        n_out = n_bins + 1 if bool((index == n_bins).any()) else n_bins
        count, acc, mean_conf = _bin_stats(conf, correct, index, n_out)
        upper = torch.cat([edges[1:], edges[-1:]])[:n_out]
        return CalibrationBins(edges[:n_out].numpy(), upper.numpy(), count, acc, mean_conf, n)
    order = torch.from_numpy(np.argsort(conf.numpy(), kind="stable"))
    groups = [g for g in np.array_split(order.numpy(), n_bins) if len(g)]
    index = torch.empty(n, dtype=torch.long)
    for k, group in enumerate(groups):
        index[torch.from_numpy(group)] = k
    count, acc, mean_conf = _bin_stats(conf, correct, index, len(groups))
    lower = np.array([float(conf[g].min()) for g in groups])
    upper = np.array([float(conf[g].max()) for g in groups])
    return CalibrationBins(lower, upper, count, acc, mean_conf, n)


def expected_calibration_error(probs: Any, y: Any, n_bins: int = 15, strategy: str = "uniform") -> float:
    """Top-label expected calibration error ``sum_b n_b / N * |accuracy_b - confidence_b|`` (0 = calibrated).

    With ``strategy="uniform"`` this equals torchmetrics' ``MulticlassCalibrationError(num_classes, n_bins,
    norm="l1")`` (same bins, see :func:`calibration_bins`; pass float32 probabilities for bit-level agreement, since
    torchmetrics works in float32). ``"adaptive"`` uses equal-mass bins, which spend resolution where the
    confidences are (usually near 1 for a trained network). Either way the estimate is biased upwards for small N.
    """
    return calibration_bins(probs, y, n_bins, strategy).ece


def brier_score(probs: Any, y: Any) -> float:
    """Multi-class Brier score: mean over samples of ``sum_k (probs[k] - onehot(y)[k])**2`` (0 best, 2 worst)."""
    p, t = _check_probs_labels(probs, y)
    p = p.double()
    onehot = F.one_hot(t, p.shape[1]).double()
    return float(((p - onehot) ** 2).sum(dim=1).mean())


def negative_log_likelihood(probs: Any, y: Any, eps: float = 1e-15) -> float:
    """Mean of ``-log probs[i, y_i]`` (natural log), probabilities clipped to ``[eps, 1]`` so a 0 stays finite."""
    p, t = _check_probs_labels(probs, y)
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    p_true = p.double()[torch.arange(len(t)), t].clamp(eps, 1.0)
    return float(-p_true.log().mean())


def reliability_diagram(
    probs: Any, y: Any, n_bins: int = 15, *, strategy: str = "uniform", title: str | None = None
) -> Figure:
    """Reliability diagram: per-bin accuracy against confidence, with the gap to the diagonal shaded.

    Top panel: accuracy bars per bin (at the bin's edges), the gap between each bin's accuracy and its mean
    confidence shaded red, the diagonal of perfect calibration, and ECE in the title. Bottom panel: the number of
    samples per bin (log scale), which says how much each bar can be trusted. Confidences of exactly 1.0 (their own
    bin in the ECE, see :func:`calibration_bins`) are drawn merged into the last bar. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    bins = calibration_bins(probs, y, n_bins, strategy)
    ece = bins.ece  # before any merging for display
    if strategy == "uniform" and len(bins.count) > n_bins:  # show the {1.0} bin merged into the last bar
        c = bins.count[-2:]
        total = max(c.sum(), 1.0)
        merged = [np.append(v[:-2], (v[-2:] * c).sum() / total) for v in (bins.accuracy, bins.confidence)]
        bins = CalibrationBins(bins.lower[:-1], bins.upper[:-1], np.append(bins.count[:-2], c.sum()), *merged,
                               n=bins.n)
    lower, upper = bins.lower, bins.upper
    width = np.maximum(upper - lower, 1e-3)
    filled = bins.count > 0
    fig, (ax, ax_count) = plt.subplots(
        2, 1, figsize=(6, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}, constrained_layout=True
    )
    ax.bar(lower[filled], bins.accuracy[filled], width=width[filled], align="edge", color="tab:blue",
           edgecolor="black", alpha=0.8, label="accuracy")
    gap_bottom = np.minimum(bins.accuracy, bins.confidence)[filled]
    gap_height = np.abs(bins.accuracy - bins.confidence)[filled]
    ax.bar(lower[filled], gap_height, bottom=gap_bottom, width=width[filled], align="edge", color="tab:red",
           alpha=0.35, hatch="//", edgecolor="tab:red", label="gap |accuracy - confidence|")
    ax.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Accuracy (fraction correct)")
    ax.legend(loc="upper left")
    kind = "equal-width" if strategy == "uniform" else "equal-mass"
    ax.set_title(title or f"Reliability diagram ({kind} bins): ECE = {ece:.4f}, n = {bins.n}")
    ax_count.bar(lower[filled], bins.count[filled], width=width[filled], align="edge", color="grey",
                 edgecolor="black")
    ax_count.set_yscale("log")
    ax_count.set_xlabel("Confidence (top-label predicted probability)")
    ax_count.set_ylabel("Samples per bin")
    return fig


class UncertaintyCalibration:
    """How trustworthy one set of predictions is: calibration metrics, reliability diagram and a rejection curve.

    Parameters
    ----------
    probs : (N, C) array or tensor
        Predicted class probabilities (e.g. ``MCResult.mean_probs``).
    y : (N,) array
        True class indices.
    uncertainty : (N,) array, optional
        A score that should be high where the prediction is wrong (e.g. ``MCResult.total``); default
        ``1 - max probability``. Used by :meth:`rejection_curve`.
    n_bins : int, default 15
        Bins of the ECE and the reliability diagram.

    Use :meth:`from_mc` for an :class:`~exowavenet_lib.uncertainty.MCResult` (MC dropout or a deep ensemble).
    """

    def __init__(self, probs: Any, y: Any, uncertainty: Any = None, n_bins: int = 15) -> None:
        p, t = _check_probs_labels(probs, y)
        self.probs, self.y = p.double().numpy(), t.numpy()
        self.n_bins = positive_int("n_bins", n_bins)
        if uncertainty is None:
            uncertainty = 1.0 - self.probs.max(axis=1)
        u = np.asarray(uncertainty, dtype=np.float64)
        if u.shape != self.y.shape or not np.isfinite(u).all():
            raise ValueError(f"uncertainty must be {self.y.shape[0]} finite numbers, got shape {u.shape}")
        self.uncertainty = u

    @classmethod
    def from_mc(
        cls, result: MCResult, y: Any = None, *, score: str = "total", n_bins: int = 15
    ) -> UncertaintyCalibration:
        """From an MCResult: its mean probabilities, its labels (or ``y``) and uncertainty ``score``."""
        score = choice("score", score, ("total", "aleatoric", "epistemic", "std"))
        labels = result.y_true if y is None else y
        if labels is None:
            raise ValueError("y is required when the MCResult has no labels")
        return cls(result.mean_probs, labels, getattr(result, score), n_bins)

    def metrics(self) -> dict[str, float]:
        """Accuracy, ECE (equal-width and equal-mass bins), Brier score, NLL and mean uncertainty."""
        return {
            "accuracy": float((self.probs.argmax(1) == self.y).mean()),
            "ece": expected_calibration_error(self.probs, self.y, self.n_bins),
            "ece_adaptive": expected_calibration_error(self.probs, self.y, self.n_bins, "adaptive"),
            "brier": brier_score(self.probs, self.y),
            "nll": negative_log_likelihood(self.probs, self.y),
            "mean_uncertainty": float(self.uncertainty.mean()),
        }

    def reliability_diagram(self, *, strategy: str = "uniform", title: str | None = None) -> Figure:
        """:func:`reliability_diagram` of these predictions."""
        return reliability_diagram(self.probs, self.y, self.n_bins, strategy=strategy, title=title)

    def rejection_curve(self, fractions: Any = None) -> Any:
        """Accuracy of the predictions kept when the most uncertain fraction is rejected (a DataFrame).

        A useful uncertainty makes the curve rise: the rejected predictions were the wrong ones. Ties in the score
        are broken by position (stable sort).
        """
        import pandas as pd

        fractions = np.linspace(0.0, 0.9, 10) if fractions is None else np.asarray(fractions, dtype=np.float64)
        if fractions.ndim != 1 or ((fractions < 0) | (fractions >= 1)).any():
            raise ValueError("fractions must be a 1-D array of numbers in [0, 1)")
        order = np.argsort(self.uncertainty, kind="stable")  # most certain first
        correct = (self.probs.argmax(1) == self.y)[order]
        n = len(correct)
        kept = np.maximum(1, np.round((1.0 - fractions) * n).astype(int))
        return pd.DataFrame({"fraction_rejected": fractions, "n_kept": kept,
                             "accuracy": [float(correct[:k].mean()) for k in kept]})


class TemperatureScaler:
    """Temperature scaling: divide logits by one scalar ``T`` fitted on validation data to minimise the NLL.

    ``T > 1`` softens over-confident predictions, ``T < 1`` sharpens under-confident ones; the argmax (so accuracy)
    never changes. Fit on a held-out validation set, never on the test set.

    Parameters
    ----------
    max_iter : int, default 200
        LBFGS iterations (strong-Wolfe line search); the problem is one-dimensional and convex in ``1/T``.

    Attributes
    ----------
    temperature : float
        The fitted ``T`` (1.0 before :meth:`fit`).
    """

    def __init__(self, max_iter: int = 200) -> None:
        self.max_iter = positive_int("max_iter", max_iter)
        self.temperature = 1.0
        self.fitted = False

    def __repr__(self) -> str:
        return f"TemperatureScaler(temperature={self.temperature:.4f}, fitted={self.fitted})"

    @staticmethod
    def _logits(logits: Any) -> torch.Tensor:
        z = _as_tensor(logits)
        if z.dim() != 2 or z.shape[1] < 2 or not z.is_floating_point():
            raise ValueError(f"logits must be a float array of shape (N, C) with C >= 2, got {z.dtype} "
                             f"{tuple(z.shape)}")
        if not bool(torch.isfinite(z).all()):
            raise ValueError("logits must be finite")
        return z.double()

    def fit(self, logits: Any, y: Any) -> TemperatureScaler:
        """Fit ``T`` on validation ``logits`` (N, C) and labels ``y`` (N,) by LBFGS on the NLL; returns ``self``."""
        z = self._logits(logits)
        _, t = _check_probs_labels(torch.softmax(z, dim=1), y)
        log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # T = exp(log_t) stays positive
        optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=self.max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = F.cross_entropy(z / log_t.exp(), t)
            loss.backward()
            return loss

        optimizer.step(closure)
        temperature = float(log_t.detach().exp())
        if not np.isfinite(temperature):
            raise RuntimeError("temperature scaling diverged (are the labels all of one class with huge logits?)")
        self.temperature = temperature
        self.fitted = True
        return self

    def transform(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / T)`` (N, C) as float64 NumPy."""
        return torch.softmax(self._logits(logits) / self.temperature, dim=1).numpy()

    def fit_transform(self, logits: Any, y: Any) -> np.ndarray:
        """:meth:`fit`, then :meth:`transform` the same logits."""
        return self.fit(logits, y).transform(logits)


def deep_ensemble_predict(
    models: Sequence[nn.Module], loader_or_batch: Any, device: torch.device | str | None = None
) -> MCResult:
    """Average the softmax outputs of independently trained ``models`` (a deep ensemble), each in eval mode.

    Returns the same :class:`~exowavenet_lib.uncertainty.MCResult` as MC dropout, with one "sample" per member:
    ``probs`` (M, N, C), ``mean_probs`` the ensemble prediction, ``epistemic`` the mutual information (the members'
    disagreement). Every member runs once in ``eval()`` mode (dropout off, except in a
:class:`~exowavenet_lib.uncertainty.BayesianTransformerEncoder` with ``mc_dropout``) and gets its mode back after.
    ``loader_or_batch`` must yield the same batches in the same order on every pass (no shuffling).
    """
    if isinstance(models, nn.Module) or not isinstance(models, Sequence) or len(models) == 0:
        raise TypeError("models must be a non-empty list of nn.Module ensemble members")
    outputs, labels = [], None
    for i, model in enumerate(models):
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{i}] must be a torch.nn.Module, got {type(model).__name__}")
        dev = torch.device(device) if device is not None else next(iter(model.parameters())).device
        model.to(dev)
        with _restore_modes(model):
            model.eval()
            probs, y_true = _predict_probs(model, loader_or_batch, 1, dev)
        if outputs and probs[0].shape != outputs[0].shape:
            raise ValueError(f"models[{i}] gave outputs of shape {tuple(probs[0].shape)}, the first member "
                             f"{tuple(outputs[0].shape)}")
        if labels is not None and y_true is not None and not np.array_equal(labels, y_true):
            raise ValueError("the loader yielded different labels on different passes; use shuffle=False")
        outputs.append(probs[0])
        labels = y_true
    return decompose_uncertainty(torch.stack(outputs), labels)
