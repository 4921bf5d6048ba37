"""Training loop for :class:`~exowavenet_lib.transit.model.ExoWaveNet` on :class:`~.preprocess.Windows`.

:func:`exowavenet_lib.train.fit` expects class-index targets and one logit tensor, so the detector has its own small
loop: loss = BCE(window logit, window label) + ``seg_weight`` · BCE(per-sample logits, in-transit labels) averaged
over valid samples only; per epoch it records train loss, validation loss, window ROC-AUC and precision/recall at
``threshold``; the last epoch is checkpointed atomically (:func:`exowavenet_lib.train.save_checkpoint`) and a run
can resume from it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from exowavenet_lib.train import load_checkpoint, save_checkpoint
from exowavenet_lib.transit.model import ExoWaveNet
from exowavenet_lib.transit.preprocess import Windows

__all__ = ["TrainResult", "detector_loss", "roc_auc", "precision_recall", "predict_windows", "train_detector"]


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties averaged); NaN when only one class is present."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(np.asarray(score, dtype=float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def precision_recall(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> tuple[float, float]:
    """Precision and recall of ``score >= threshold`` (precision NaN when nothing is predicted positive)."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(score) >= threshold
    tp = int((pred & y).sum())
    precision = tp / int(pred.sum()) if pred.any() else math.nan
    recall = tp / int(y.sum()) if y.any() else math.nan
    return precision, recall


def detector_loss(out: dict[str, torch.Tensor], y: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                  seg_weight: float = 1.0, pos_weight: float | None = None) -> torch.Tensor:
    """Window BCE plus ``seg_weight`` × per-sample BCE averaged over the valid samples."""
    loss = torch.zeros((), device=y.device)
    if "logit" in out:
        pw = None if pos_weight is None else torch.tensor(pos_weight, device=y.device)
        loss = loss + F.binary_cross_entropy_with_logits(out["logit"], y, pos_weight=pw)
    if "per_sample" in out and seg_weight > 0:
        m = mask.float()
        per = F.binary_cross_entropy_with_logits(out["per_sample"], labels.float(), reduction="none")
        loss = loss + seg_weight * (per * m).sum() / m.sum().clamp_min(1.0)
    return loss


def _tensors(w: Windows, index: np.ndarray, crop: int | None, rng: np.random.Generator
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    x, mask, labels = w.x[index], w.mask[index], w.labels[index]
    if crop is not None and crop < x.shape[1]:
        start = int(rng.integers(0, x.shape[1] - crop + 1))
        x, mask, labels = x[:, start:start + crop], mask[:, start:start + crop], labels[:, start:start + crop]
        y = labels.any(axis=1).astype(np.float32)
    else:
        y = w.y[index]
    return (torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(mask)),
            torch.from_numpy(np.ascontiguousarray(y)), torch.from_numpy(np.ascontiguousarray(labels)))


@torch.no_grad()
def predict_windows(model: ExoWaveNet, w: Windows, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Window probabilities (n,) and per-sample probabilities (n, L) (NaN for a head the model lacks)."""
    was = model.training
    model.eval()
    scores, samples = [], []
    try:
        for i in range(0, len(w), batch_size):
            out = model(torch.from_numpy(w.x[i:i + batch_size]), torch.from_numpy(w.mask[i:i + batch_size]))
            n, length = w.x[i:i + batch_size].shape
            scores.append(torch.sigmoid(out["logit"]).numpy() if "logit" in out else np.full(n, np.nan))
            samples.append(torch.sigmoid(out["per_sample"]).numpy() if "per_sample" in out
                           else np.full((n, length), np.nan))
    finally:
        model.train(was)
    if not scores:
        return np.zeros(0), np.zeros((0, w.x.shape[1]))
    return np.concatenate(scores), np.concatenate(samples)


@dataclass
class TrainResult:
    """What :func:`train_detector` returns: the (best) model, per-epoch history and where it stopped."""

    model: ExoWaveNet
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_on_time: bool = False


def _evaluate(model: ExoWaveNet, w: Windows, seg_weight: float, threshold: float, batch_size: int
              ) -> dict[str, float]:
    score, per = predict_windows(model, w, batch_size)
    eps = 1e-7
    out: dict[str, float] = {}
    loss = 0.0
    if not np.isnan(score).all():
        s = np.clip(score, eps, 1 - eps)
        loss += float(-np.mean(w.y * np.log(s) + (1 - w.y) * np.log(1 - s)))
        out["val_auc"] = roc_auc(w.y, score)
        out["val_precision"], out["val_recall"] = precision_recall(w.y, score, threshold)
    if not np.isnan(per).all() and seg_weight > 0:
        p = np.clip(per, eps, 1 - eps)
        bce = -(w.labels * np.log(p) + (~w.labels) * np.log(1 - p))
        loss += seg_weight * float(bce[w.mask].mean()) if w.mask.any() else 0.0
        out["val_sample_auc"] = roc_auc(w.labels[w.mask], per[w.mask])
    out["val_loss"] = loss
    return out


def train_detector(
    train_windows: Windows,
    val_windows: Windows,
    *,
    model: ExoWaveNet | None = None,
    model_config: dict[str, Any] | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    seg_weight: float = 1.0,
    pos_weight: float | None = None,
    crop: int | None = None,
    threshold: float = 0.5,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = False,
    time_budget_s: float | None = None,
    seed: int = 0,
    verbose: bool = False,
) -> TrainResult:
    """Train an :class:`ExoWaveNet` on window sets; returns the weights of the best epoch by validation ROC-AUC.

    Parameters
    ----------
    train_windows, val_windows : Windows
        From :func:`~exowavenet_lib.transit.preprocess.segment` with labels.
    model, model_config
        A model to train, or the config to build one (default :class:`ExoWaveNet` defaults).
    crop : int, optional
        Train on random crops of this many samples (one offset per batch; labels recomputed) — faster on CPU;
        the network is fully convolutional, so it still scores full windows.
    checkpoint_path, resume
        Save model + optimizer + history after every epoch; with ``resume=True`` and an existing file, continue
        from the epoch after the saved one (the saved ``model_config`` rebuilds the model when none is given).
    time_budget_s : float, optional
        Stop (after evaluating) once this many seconds of training have passed.
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    start_epoch, history = 1, []
    saved: dict[str, Any] | None = None
    if resume and path is not None and path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model_config = model_config or saved["extra"].get("model_config")
    if model is None:
        model = ExoWaveNet(**(model_config or {}))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    best_auc, best_state, best_epoch = -math.inf, None, None
    if saved is not None:
        extra = load_checkpoint(path, model, optimizer)
        start_epoch = int(extra["epoch"]) + 1
        history = list(extra.get("history", []))
        best_epoch = extra.get("best_epoch")
        best_auc = float(extra.get("best_auc", -math.inf))
    t0 = time.monotonic()
    out_of_time = False
    for epoch in range(start_epoch, epochs + 1):
        model.train()
        order = rng.permutation(len(train_windows))
        total, count = 0.0, 0
        for i in range(0, len(order), batch_size):
            x, mask, y, labels = _tensors(train_windows, order[i:i + batch_size], crop, rng)
            optimizer.zero_grad(set_to_none=True)
            loss = detector_loss(model(x, mask), y, labels, mask, seg_weight, pos_weight)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += float(loss.detach()) * len(y)
            count += len(y)
            if time_budget_s is not None and time.monotonic() - t0 > time_budget_s:
                out_of_time = True
                break
        row = {"epoch": epoch, "train_loss": total / max(count, 1), "seconds": time.monotonic() - t0,
               **_evaluate(model, val_windows, seg_weight, threshold, 2 * batch_size)}
        row = {k: float(v) for k, v in row.items()}
        history.append(row)
        if verbose:
            print(" ".join(f"{k}={v:.4g}" for k, v in row.items()), flush=True)
        auc = row.get("val_auc", -row["val_loss"])
        if not math.isnan(auc) and auc > best_auc:
            best_auc, best_epoch = auc, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if path is not None:
            save_checkpoint(path, model, optimizer, epoch=epoch, history=history, model_config=dict(model.config),
                            best_epoch=best_epoch, best_auc=float(best_auc))
        if out_of_time:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model=model, history=history, best_epoch=best_epoch, stopped_on_time=out_of_time)
