"""Classification metrics accumulated over batches: :class:`MetricsTracker`.

The tracker keeps a confusion matrix (and, when given, the predicted probabilities) so that batches can be fed one at
a time and every metric is computed once from the totals. Conventions follow scikit-learn's
``precision_recall_fscore_support(..., labels=range(K), zero_division=0)``: a ratio whose denominator is zero (a
class never predicted, a class absent from the labels) counts as 0.0, and ``support`` says when that happened.

This module needs no PyTorch: tensors are accepted through their ``.detach().cpu().numpy()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["NORMALIZE_OPTIONS", "MetricsTracker"]

#: Accepted ``normalize`` values of :meth:`MetricsTracker.confusion_matrix` (as in scikit-learn).
NORMALIZE_OPTIONS = (None, "true", "pred", "all")
_PROB_SUM_TOL = 1e-3


def _as_numpy(name: str, values: Any) -> np.ndarray:
    """Convert array-likes and tensors (any device) to NumPy."""
    if hasattr(values, "detach"):  # torch.Tensor, without importing torch
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise ``num / den`` with 0.0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


class MetricsTracker:
    """Accumulate predictions over batches and report accuracy, per-class and averaged precision/recall/F1.

    Parameters
    ----------
    classes : int or sequence of str
        The class names in label-index order (e.g. ``TRANSIENT_CLASSES``), or the number of classes (names
        ``"0"``, ``"1"``, ...). Labels passed to :meth:`update` are indices into this list, or the names themselves.
    rare_classes : sequence of str or int, optional
        Classes whose recall is reported separately by :meth:`compute` (``rare_recall``, ``rare_macro_recall``).

    Examples
    --------
    >>> tracker = MetricsTracker(["SNIa", "SNII", "TDE"], rare_classes=["TDE"])
    >>> tracker.update([0, 1, 2, 2], [0, 1, 2, 0])
    >>> tracker.compute()["rare_recall"]
    {'TDE': 0.5}
    """

    def __init__(self, classes: int | Sequence[str], rare_classes: Sequence[str | int] | None = None) -> None:
        if isinstance(classes, (bool, np.bool_)):
            raise TypeError("classes must be a number of classes or a sequence of class names, got a bool")
        if isinstance(classes, (int, np.integer)):
            if classes < 2:
                raise ValueError(f"classes must be at least 2, got {classes}")
            names = tuple(str(i) for i in range(int(classes)))
        elif isinstance(classes, str) or not isinstance(classes, (Sequence, np.ndarray)):
            raise TypeError(f"classes must be a number of classes or a sequence of class names, got {classes!r}")
        else:
            names = tuple(str(c) for c in classes)
            if len(names) < 2:
                raise ValueError(f"classes must name at least 2 classes, got {list(names)}")
            if len(set(names)) != len(names):
                raise ValueError(f"classes must not repeat a name, got {list(names)}")
        self.classes: tuple[str, ...] = names
        self._index = {name: i for i, name in enumerate(names)}
        if rare_classes is None:
            rare: tuple[int, ...] = ()
        elif isinstance(rare_classes, str) or not isinstance(rare_classes, (Sequence, np.ndarray)):
            raise TypeError(f"rare_classes must be a sequence of class names or indices, got {rare_classes!r}")
        else:
            rare = tuple(self._class_index("rare_classes", c) for c in rare_classes)
            if len(set(rare)) != len(rare):
                raise ValueError(f"rare_classes must not repeat a class, got {list(rare_classes)}")
        self.rare_classes: tuple[str, ...] = tuple(names[i] for i in rare)
        self.reset()

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def n_samples(self) -> int:
        """Number of samples seen since the last :meth:`reset`."""
        return int(self._cm.sum())

    def _class_index(self, name: str, c: Any) -> int:
        if isinstance(c, (str, np.str_)):
            if str(c) not in self._index:
                raise ValueError(f"{name} contains unknown class {c!r}; classes are {list(self.classes)}")
            return self._index[str(c)]
        if isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)):
            if not 0 <= c < len(self.classes):
                raise ValueError(f"{name} contains class index {c}, outside [0, {len(self.classes)})")
            return int(c)
        raise TypeError(f"{name} must hold class names or integer indices, got {c!r}")

    def _labels(self, name: str, values: Any) -> np.ndarray:
        arr = np.atleast_1d(_as_numpy(name, values))
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
        if arr.dtype.kind in "US" or (arr.dtype.kind == "O" and all(isinstance(v, str) for v in arr)):
            return np.array([self._class_index(name, v) for v in arr.astype(str)], dtype=np.int64)
        if arr.dtype.kind not in "iu":
            if arr.size == 0 and arr.dtype.kind == "f":
                return arr.astype(np.int64)
            raise TypeError(f"{name} must hold integer class indices or class names, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_classes):
            bad = arr[(arr < 0) | (arr >= self.n_classes)][0]
            raise ValueError(f"{name} contains class index {bad}, outside [0, {self.n_classes})")
        return arr.astype(np.int64)

    def update(self, y_true: Any, y_pred: Any, probs: Any = None) -> None:
        """Add a batch: true and predicted labels (indices or names), optionally probabilities of shape (n, K)."""
        t = self._labels("y_true", y_true)
        p = self._labels("y_pred", y_pred)
        if len(t) != len(p):
            raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}")
        if probs is not None:
            pr = _as_numpy("probs", probs)
            if pr.dtype.kind not in "fiu":
                raise TypeError(f"probs must be numeric, got dtype {pr.dtype}")
            pr = pr.astype(float)
            if pr.shape != (len(t), self.n_classes):
                raise ValueError(f"probs must have shape ({len(t)}, {self.n_classes}), got {pr.shape}")
            if not np.isfinite(pr).all() or (pr < 0).any():
                raise ValueError("probs must be finite and non-negative")
            if len(pr) and not np.allclose(pr.sum(axis=1), 1.0, atol=_PROB_SUM_TOL):
                raise ValueError("probs rows must sum to 1 (pass softmax(logits), not logits)")
        if self._has_probs is not None and self._has_probs != (probs is not None) and len(t):
            raise ValueError("pass probs with every update or with none (some earlier batches differ)")
        if len(t) == 0:
            return
        self._has_probs = probs is not None
        self._cm += np.bincount(t * self.n_classes + p, minlength=self.n_classes**2).reshape(self._cm.shape)
        if probs is not None:
            self._true_prob.append(pr[np.arange(len(t)), t])

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._cm = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)
        self._true_prob: list[np.ndarray] = []
        self._has_probs: bool | None = None

    def confusion_matrix(self, normalize: str | None = None) -> np.ndarray:
        """Confusion matrix (rows: true class, columns: predicted class), counts or normalised like scikit-learn.

        Parameters
        ----------
        normalize : {None, "true", "pred", "all"}
            ``"true"`` divides each row by its support (recall on the diagonal), ``"pred"`` each column,
            ``"all"`` by the total; empty rows/columns give 0.
        """
        if normalize not in NORMALIZE_OPTIONS:
            raise ValueError(f"normalize must be one of {list(NORMALIZE_OPTIONS)}, got {normalize!r}")
        cm = self._cm.copy()
        if normalize is None:
            return cm
        if normalize == "true":
            return _divide(cm, cm.sum(axis=1, keepdims=True))
        if normalize == "pred":
            return _divide(cm, cm.sum(axis=0, keepdims=True))
        return _divide(cm, cm.sum())

    def _require_data(self) -> None:
        if self.n_samples == 0:
            raise ValueError("no samples yet: call update(y_true, y_pred) before computing metrics")

    def compute(self) -> dict[str, Any]:
        """Every metric as plain Python numbers.

        Returns
        -------
        dict
            ``n``, ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``, ``weighted_f1``,
            ``per_class`` (name -> precision, recall, f1, support), ``rare_recall`` (name -> recall for each rare
            class), ``rare_macro_recall`` (their mean, or None without rare classes) and, when probabilities were
            given, ``log_loss`` (mean negative log-probability of the true class).
        """
        self._require_data()
        cm = self._cm
        tp = np.diag(cm).astype(float)
        support = cm.sum(axis=1)
        predicted = cm.sum(axis=0)
        precision = _divide(tp, predicted)
        recall = _divide(tp, support)
        f1 = _divide(2 * tp, support + predicted)  # = 2PR/(P+R), scikit-learn's formula
        n = int(support.sum())
        per_class = {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(self.classes)
        }
        rare_recall = {name: per_class[name]["recall"] for name in self.rare_classes}
        out: dict[str, Any] = {
            "n": n,
            "accuracy": float(tp.sum() / n),
            "macro_precision": float(precision.mean()),
            "macro_recall": float(recall.mean()),
            "macro_f1": float(f1.mean()),
            "weighted_f1": float((f1 * support).sum() / n),
            "per_class": per_class,
            "rare_recall": rare_recall,
            "rare_macro_recall": float(np.mean(list(rare_recall.values()))) if rare_recall else None,
        }
        if self._has_probs:
            p_true = np.concatenate(self._true_prob)
            out["log_loss"] = float(-np.log(np.clip(p_true, 1e-15, 1.0)).mean())
        return out

    def report(self) -> pd.DataFrame:
        """Per-class precision, recall, F1 and support, then the macro and weighted averages (like sklearn)."""
        m = self.compute()
        rows = {name: m["per_class"][name] for name in self.classes}
        table = pd.DataFrame.from_dict(rows, orient="index")[["precision", "recall", "f1", "support"]]
        table.loc["macro avg"] = [m["macro_precision"], m["macro_recall"], m["macro_f1"], m["n"]]
        support = table.loc[list(self.classes), "support"].to_numpy(dtype=float)
        weighted = [float((table.loc[list(self.classes), c].to_numpy() * support).sum() / m["n"])
                    for c in ("precision", "recall")]
        table.loc["weighted avg"] = [*weighted, m["weighted_f1"], m["n"]]
        table["support"] = table["support"].astype(int)
        table.index.name = "class"
        return table

    def plot_confusion_matrix(
        self, normalize: str | None = "true", *, ax: Axes | None = None, title: str | None = None
    ) -> Figure:
        """Heat map of the confusion matrix with class names on both axes; returns the Figure."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        cm = self.confusion_matrix(normalize)
        self._require_data()
        if ax is None:
            size = 1.0 + 0.8 * self.n_classes
            fig, ax = plt.subplots(figsize=(size + 1.5, size))
        else:
            fig = ax.figure
        sns.heatmap(
            cm, annot=True, fmt="d" if normalize is None else ".2f", cmap="Blues", square=True, ax=ax,
            xticklabels=list(self.classes), yticklabels=list(self.classes),
            vmin=0.0, vmax=None if normalize is None else 1.0,
            cbar_kws={"label": "count" if normalize is None else "fraction"},
        )
        ax.set_xlabel("Predicted class")
        ax.set_ylabel("True class")
        if title is None:
            what = {None: "counts", "true": "normalised over true class (recall on diagonal)",
                    "pred": "normalised over predicted class (precision on diagonal)", "all": "fraction of all"}
            title = f"Confusion matrix, {what[normalize]} (n = {self.n_samples})"
        ax.set_title(title)
        fig.tight_layout()
        return fig
