"""Training loop for :class:`~exowavenet_lib.transit.model.ExoWaveNet` on :class:`~.preprocess.Windows`.

:func:`exowavenet_lib.train.fit` expects class-index targets and one logit tensor, so the detector has its own small
loop: loss = BCE(window logit, window label) + ``seg_weight`` · BCE(per-sample logits, in-transit labels) averaged
over valid samples only; per epoch it records train loss, validation loss, window ROC-AUC and precision/recall at
``threshold`` and recall at 1 % false-positive rate; the last epoch is checkpointed atomically
(:func:`exowavenet_lib.train.save_checkpoint`, with the best weights so far) and a run resumes from it exactly:
each epoch draws its shuffling, crops and augmentation from its own seeded stream, so checkpoint + resume gives the
same weights as an uninterrupted run. Options for a stronger recipe: a warm-up + cosine learning-rate schedule, a
curriculum over per-window SNR (:func:`window_snr`), time-reversal augmentation.

:func:`simulated_windows` builds a training/evaluation window set from
:func:`~exowavenet_lib.simulate.simulate_transits` light curves with the detector's preprocessing and a controlled
*per-window* SNR; :func:`save_windows` / :func:`load_windows` store window sets as ``.npz``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from exowavenet_lib.runtime import atomic_path
from exowavenet_lib.train import load_checkpoint, save_checkpoint
from exowavenet_lib.transit.injection import NOISE_KINDS, recall_at_fpr
from exowavenet_lib.transit.model import ExoWaveNet
from exowavenet_lib.transit.preprocess import _CLIP, KEPLER_CADENCE_DAYS, Windows, concat_windows, prepare, segment

__all__ = [
    "TRAINING_NOISE",
    "TrainResult",
    "detector_loss",
    "inject_transits",
    "load_windows",
    "precision_recall",
    "predict_windows",
    "roc_auc",
    "save_windows",
    "simulated_windows",
    "train_detector",
    "window_snr",
]

#: Noise configurations of :func:`simulated_windows` (switches of ``simulate_transits``): the injection–recovery
#: kinds of :mod:`~exowavenet_lib.transit.injection` ("white" there keeps the gaps: "white_gaps" here) plus pure
#: white noise without gaps.
TRAINING_NOISE: dict[str, dict[str, bool]] = {  # the benchmark's noise kinds (with gaps), plus white without gaps
    "white": {**NOISE_KINDS["white"], "gaps": False},
    "white_gaps": {**NOISE_KINDS["white"], "gaps": True},
    "variable": {**NOISE_KINDS["variable"], "gaps": True},
}


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


def _tensors(w: Windows, index: np.ndarray, crop: int | None, rng: np.random.Generator, augment: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    x, mask, labels = w.x[index], w.mask[index], w.labels[index]
    if crop is not None and crop < x.shape[1]:
        start = int(rng.integers(0, x.shape[1] - crop + 1))
        x, mask, labels = x[:, start:start + crop], mask[:, start:start + crop], labels[:, start:start + crop]
        y = labels.any(axis=1).astype(np.float32)
    else:
        y = w.y[index]
    if augment:  # time reversal: a transit is (nearly) symmetric, the noise statistics are unchanged
        flip = rng.random(len(index)) < 0.5
        x, mask, labels = (np.where(flip[:, None], a[:, ::-1], a) for a in (x, mask, labels))
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
        if 0 < w.y.sum() < len(w):
            out["val_recall_at_1fpr"] = recall_at_fpr(score[w.y == 0], score[w.y == 1], 0.01)
    if not np.isnan(per).all() and seg_weight > 0:
        p = np.clip(per, eps, 1 - eps)
        bce = -(w.labels * np.log(p) + (~w.labels) * np.log(1 - p))
        loss += seg_weight * float(bce[w.mask].mean()) if w.mask.any() else 0.0
        out["val_sample_auc"] = roc_auc(w.labels[w.mask], per[w.mask])
    out["val_loss"] = loss
    return out


def _lr_factor(schedule: str, step: int, total: int, warmup: int, time_fraction: float = 0.0) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based) of ``total``.

    The cosine runs over the steps after the warm-up, or over the time budget when ``time_fraction`` (elapsed /
    budget) is further along.
    """
    if schedule == "constant":
        return 1.0
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_fraction))
    return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress))


def _floor(snr_floor: float | Sequence[float] | None, epoch: int) -> float:
    if snr_floor is None:
        return 0.0
    if isinstance(snr_floor, (int, float)):
        return float(snr_floor)
    return float(snr_floor[min(epoch, len(snr_floor)) - 1])


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
    lr_schedule: str = "constant",
    warmup_steps: int = 0,
    augment: bool = False,
    train_snr: np.ndarray | None = None,
    snr_floor: float | Sequence[float] | None = None,
    monitor: str = "val_auc",
) -> TrainResult:
    """Train an :class:`ExoWaveNet` on window sets; returns the weights of the best epoch by ``monitor``.

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
        Save model + optimizer + history (+ the best weights so far) after every epoch; with ``resume=True`` and an
        existing file, continue from the epoch after the saved one (the saved ``model_config`` rebuilds the model
        when none is given). Resuming gives the same result as an uninterrupted run with the same arguments.
    time_budget_s : float, optional
        Stop (after evaluating) once this many seconds of training have passed (counted across resumes).
    lr_schedule : {"constant", "cosine"}
        ``"cosine"``: linear warm-up over ``warmup_steps`` optimizer steps, then cosine decay to 2 % of ``lr`` at the
        end of epoch ``epochs`` — or at the end of ``time_budget_s`` if that comes first (then the schedule follows
        the clock, and a resumed run is no longer bit-identical to an uninterrupted one).
    augment : bool
        Reverse each training window in time with probability 1/2.
    train_snr, snr_floor
        Curriculum: per-window SNR of the training windows (:func:`window_snr`, 0 for negatives) and the minimum SNR
        of the positive windows used in each epoch (a number, or one value per epoch, the last one repeating);
        positives below the floor sit that epoch out.
    monitor : str
        History key (higher is better) that picks the returned epoch, e.g. ``"val_auc"`` or ``"val_recall_at_1fpr"``.
    """
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if train_snr is not None:
        train_snr = np.asarray(train_snr, dtype=float)
        if train_snr.shape != (len(train_windows),):
            raise ValueError(f"train_snr has shape {train_snr.shape}, expected ({len(train_windows)},)")
    elif snr_floor is not None:
        raise ValueError("snr_floor needs train_snr (the per-window SNR of the training windows)")
    torch.manual_seed(seed)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    start_epoch, history, elapsed = 1, [], 0.0
    saved: dict[str, Any] | None = None
    if resume and path is not None and path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model_config = model_config or saved["extra"].get("model_config")
    if model is None:
        model = ExoWaveNet(**(model_config or {}))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    best_value, best_state, best_epoch = -math.inf, None, None
    if saved is not None:
        extra = load_checkpoint(path, model, optimizer)
        start_epoch = int(extra["epoch"]) + 1
        history = list(extra.get("history", []))
        best_epoch = extra.get("best_epoch")
        best_value = float(extra.get("best_value", extra.get("best_auc", -math.inf)))
        best_state = extra.get("best_state")
        elapsed = float(extra.get("elapsed_s", history[-1]["seconds"] if history else 0.0))
    steps_per_epoch = math.ceil(len(train_windows) / batch_size)
    total_steps = epochs * steps_per_epoch
    t0 = time.monotonic() - elapsed
    out_of_time = False
    for epoch in range(start_epoch, epochs + 1):
        model.train()
        rng = np.random.default_rng([seed, epoch])  # one stream per epoch: resuming replays it exactly
        use = np.arange(len(train_windows))
        floor = _floor(snr_floor, epoch)
        if train_snr is not None and floor > 0:
            use = use[(train_windows.y == 0) | (train_snr >= floor)]
        order = rng.permutation(use)
        total, count = 0.0, 0
        for b, i in enumerate(range(0, len(order), batch_size)):
            fraction = 0.0 if time_budget_s is None else (time.monotonic() - t0) / time_budget_s
            factor = _lr_factor(lr_schedule, (epoch - 1) * steps_per_epoch + b, total_steps, warmup_steps, fraction)
            for group in optimizer.param_groups:
                group["lr"] = lr * factor
            x, mask, y, labels = _tensors(train_windows, order[i:i + batch_size], crop, rng, augment)
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
               "lr": lr * factor if count else lr, "snr_floor": floor,
               **_evaluate(model, val_windows, seg_weight, threshold, 2 * batch_size)}
        row = {k: float(v) for k, v in row.items()}
        history.append(row)
        if verbose:
            print(" ".join(f"{k}={v:.4g}" for k, v in row.items()), flush=True)
        value = row.get(monitor, row.get("val_auc", -row["val_loss"]))
        if not math.isnan(value) and value > best_value:
            best_value, best_epoch = value, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if path is not None:
            save_checkpoint(path, model, optimizer, epoch=epoch, history=history, model_config=dict(model.config),
                            best_epoch=best_epoch, best_value=float(best_value), best_state=best_state,
                            elapsed_s=float(row["seconds"]))
        if out_of_time:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model=model, history=history, best_epoch=best_epoch, stopped_on_time=out_of_time)


# ------------------------------------------------------------------------------------------------ training data
def window_snr(windows: Windows, params: Any) -> np.ndarray:
    """White-noise SNR of the transit part inside each window: ``depth / σ · √(valid in-transit samples)``.

    ``params`` is the DataFrame of :func:`~exowavenet_lib.simulate.simulate_transits` (columns ``depth`` and
    ``noise_ppm``), indexed by ``windows.source``; 0 for a window without in-transit samples.
    """
    depth = np.nan_to_num(np.asarray(params["depth"], dtype=float))[windows.source]
    sigma = np.asarray(params["noise_ppm"], dtype=float)[windows.source] * 1e-6
    return depth / sigma * np.sqrt(windows.labels.sum(axis=1))


def simulated_windows(
    n: int,
    *,
    seed: int = 0,
    window: int = 1024,
    stride: int = 512,
    n_cadences: int | None = None,
    snr_range: tuple[float, float] = (4.0, 40.0),
    noise: str = "variable",
    transit_fraction: float = 0.5,
    period_range: tuple[float, float] = (0.5, 20.0),
    detrend_method: str = "polynomial",
    detrend_window_days: float = 1.5,
    clip_sigma: float = 5.0,
    progress: bool = False,
) -> tuple[Windows, np.ndarray, Any]:
    """Simulated Kepler light curves → the detector's preprocessing → labelled windows and their per-window SNR.

    With the default ``n_cadences = window`` each light curve is one window and ``snr_range`` is the *per-window*
    SNR (:func:`window_snr`); longer light curves give several windows each, with the SNR of the part of the
    signal each holds. ``noise`` picks a :data:`TRAINING_NOISE` configuration. Returns ``(windows, snr, params)``.
    """
    from exowavenet_lib.simulate.transits import simulate_transits

    if noise not in TRAINING_NOISE:
        raise ValueError(f"noise must be one of {sorted(TRAINING_NOISE)}, got {noise!r}")
    sim = simulate_transits(n, seed=seed, mission="kepler", n_cadences=n_cadences or window, snr_range=snr_range,
                            transit_fraction=transit_fraction, period_range=period_range, **TRAINING_NOISE[noise])
    parts = []
    items = zip(sim.lightcurves, sim.masks, strict=True)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, total=n, desc=f"windows ({noise})", leave=False)
    for i, (lc, mask) in enumerate(items):
        flat, m = prepare(lc, method=detrend_method, window_days=detrend_window_days, clip_sigma=clip_sigma,
                          in_transit=mask)
        parts.append(segment(flat, window, stride, in_transit=m, cadence_days=KEPLER_CADENCE_DAYS, source=i))
    w = concat_windows(parts)
    return w, window_snr(w, sim.params), sim.params


def inject_transits(
    windows: Windows,
    *,
    seed: int = 0,
    snr_range: tuple[float, float] = (4.0, 40.0),
    period_range: tuple[float, float] = (0.5, 20.0),
    noise_ppm_range: tuple[float, float] = (50.0, 500.0),
    min_in_transit: int = 3,
    cadence_days: float = KEPLER_CADENCE_DAYS,
) -> tuple[Windows, np.ndarray]:
    """Copies of (preprocessed, transit-free) windows with a transit added in standardised flux: cheap extra positives.

    Each window gets a limb-darkened trapezoid (:func:`~exowavenet_lib.simulate.transit_model`, the simulator's
    planet population: log-uniform period in ``period_range`` — one or several transits, at least
    ``min_in_transit`` valid in-transit samples — impact parameter, duration from Kepler's third law, long-cadence
    integration) whose per-window SNR ``depth/σ·√n_in`` is log-uniform in ``snr_range``; since the flux is already
    in units of σ, the depth is ``SNR/√n_in``. This skips the detrending a real transit goes through, so mix it with
    windows from :func:`simulated_windows`. Returns ``(windows, snr)``; ``y`` is 1 everywhere.
    """
    from exowavenet_lib.simulate.transits import (
        _STELLAR_DENSITY_FACTOR,
        MISSIONS,
        _ingress_fraction,
        _transit_duration,
        in_transit_mask,
        transit_model,
    )

    if windows.labels.any():
        raise ValueError("inject_transits needs transit-free windows (some windows already have in-transit labels)")
    rng = np.random.default_rng(seed)
    limb = MISSIONS["kepler"].limb_darkening

    def log_uniform(lo: float, hi: float) -> float:
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))

    x, labels = windows.x.copy(), np.zeros_like(windows.labels)
    snr = np.zeros(len(windows))
    for i in range(len(windows)):
        t, valid = windows.t[i], windows.mask[i]
        if valid.sum() < min_in_transit:
            raise ValueError(f"window {i} has fewer than {min_in_transit} valid samples")
        for _ in range(1000):
            period = log_uniform(*period_range)
            epoch = t[0] + rng.uniform(0.0, period)
            b = rng.uniform(0.0, 0.9)
            duration = _transit_duration(period, b, log_uniform(*_STELLAR_DENSITY_FACTOR), cadence_days)
            inside = in_transit_mask(t, period=period, epoch=epoch, duration=duration) & valid
            if inside.sum() >= min_in_transit:
                break
        else:
            raise ValueError(f"could not place a transit with {min_in_transit} valid samples in window {i}")
        snr[i] = log_uniform(*snr_range)
        depth_sigma = snr[i] / np.sqrt(inside.sum())
        depth = min(depth_sigma * log_uniform(*noise_ppm_range) * 1e-6, 0.04)  # only sets the ingress shape
        near = np.abs((t - epoch + 0.5 * period) % period - 0.5 * period) < 0.5 * duration + cadence_days
        deficit = np.zeros(len(t))
        deficit[near] = (1.0 - transit_model(
            t[near], period=period, epoch=epoch, depth=depth, duration=duration, shape="trapezoid",
            ingress_fraction=_ingress_fraction(depth, b, limb), limb_darkening=limb, impact_parameter=b,
            exposure_time=cadence_days)) / depth
        x[i] = np.where(valid, np.clip(x[i] - depth_sigma * deficit, -_CLIP, _CLIP), 0.0)
        labels[i] = inside
    out = Windows(x=x.astype(np.float32), mask=windows.mask.copy(), t=windows.t.copy(), labels=labels,
                  y=np.ones(len(windows), dtype=np.float32), start_mjd=windows.start_mjd.copy(),
                  end_mjd=windows.end_mjd.copy(), source=windows.source.copy())
    return out, snr


def save_windows(path: str | os.PathLike, windows: Windows, **arrays: np.ndarray) -> Path:
    """Write a window set (and extra per-window ``arrays``, e.g. ``snr``) to a compressed ``.npz`` atomically."""
    path = Path(path)
    clash = set(arrays) & {*Windows.__dataclass_fields__, "file", "allow_pickle"}
    if clash:
        raise ValueError(f"extra arrays may not be named {sorted(clash)} (Windows fields, np.savez arguments)")
    for name, value in arrays.items():
        if len(np.asarray(value)) != len(windows):
            raise ValueError(f"array {name!r} has {len(np.asarray(value))} rows, expected {len(windows)}")
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **{k: getattr(windows, k) for k in Windows.__dataclass_fields__},
                            **{k: np.asarray(v) for k, v in arrays.items()})
    return path


def load_windows(path: str | os.PathLike) -> tuple[Windows, dict[str, np.ndarray]]:
    """Read a :func:`save_windows` file: ``(windows, extra arrays)``."""
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in Windows.__dataclass_fields__ if k not in data.files]
        if missing:
            raise ValueError(f"{Path(path).name}: not a window set (missing {missing})")
        w = Windows(**{k: np.asarray(data[k]) for k in Windows.__dataclass_fields__})
        extra = {k: np.asarray(data[k]) for k in data.files if k not in Windows.__dataclass_fields__}
    return w, extra
