"""Two extensions of the ExoWaveNet detector: depth/duration regression heads and masked-span pretraining.

**Multi-task heads.** :class:`TransitParameterHeads` wraps an :class:`~exowavenet_lib.transit.model.ExoWaveNet` and
adds, next to its window logit and per-sample logits, a regression of the transit's depth and duration from the
same masked mean + max pooled skip features. Units: ``log_depth`` is the natural log of the depth as a relative flux
deficit (``ln 1e-3`` = 1000 ppm) and ``log_duration`` the natural log of the total (first to fourth contact) duration
in hours — the ``depth`` and ``duration_hours`` columns of :func:`~exowavenet_lib.simulate.simulate_transits`.
:func:`multitask_loss` is :func:`~exowavenet_lib.transit.train.detector_loss` plus a weighted Huber loss on those
two numbers, counted only on windows that contain a transit; :func:`parameter_targets` builds the targets from a
window set and the simulator's parameter table; :func:`train_multitask` is a short seeded AdamW loop.

**Masked-span pretraining (a sketch).** :func:`pretrain_masked_reconstruction` is self-supervised pretraining in
the spirit of a masked autoencoder: contiguous spans of each window's flux are hidden (:func:`masked_span_mask`;
the flux is set to 0 and the mask to False there, so the model sees exactly what it sees in a data gap), the
backbone's :meth:`~exowavenet_lib.transit.model.ExoWaveNet.features` feed a 1×1 convolution
(:class:`ReconstructionHead`) that predicts the flux at every sample, and the mean squared error is taken over the
hidden samples that were valid before hiding. The backbone is trained in place, so the same model object is then
fine-tuned with ``train_detector(train, val, model=model)``. This is a sketch: it runs and is tested on tiny data,
but no shipped model uses it and no claim is made that it improves detection.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from exowavenet_lib.transit.model import ExoWaveNet, masked_max, masked_mean
from exowavenet_lib.transit.preprocess import Windows
from exowavenet_lib.transit.train import _tensors, detector_loss

__all__ = [
    "ParameterTargets",
    "PretrainResult",
    "ReconstructionHead",
    "TransitParameterHeads",
    "masked_reconstruction_loss",
    "masked_span_mask",
    "multitask_loss",
    "parameter_targets",
    "predict_hidden",
    "pretrain_masked_reconstruction",
    "regression_loss",
    "train_multitask",
]


# ------------------------------------------------------------------------------------------------ argument checks
def _check_windows(windows: Any) -> Windows:
    if not isinstance(windows, Windows):
        raise TypeError(f"windows must be a Windows, got {type(windows).__name__}")
    if len(windows) == 0:
        raise ValueError("windows is empty")
    return windows


def _check_model(model: Any) -> ExoWaveNet:
    if not isinstance(model, ExoWaveNet):
        raise TypeError(f"model must be an ExoWaveNet, got {type(model).__name__}")
    return model


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator for the block and restore it afterwards (no global state leaks out)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# ---------------------------------------------------------------------------------------------- multi-task heads
class TransitParameterHeads(nn.Module):
    """An :class:`ExoWaveNet` plus an MLP regressing ``log_depth`` and ``log_duration`` from its pooled features.

    ``forward(x, mask)`` returns the backbone's dict (``logit``, ``per_sample``) plus ``log_depth`` (B,), the natural
    log of the depth as a relative flux deficit, and ``log_duration`` (B,), the natural log of the transit duration in
    hours. The MLP (``2 · skip_channels → hidden → 2``) sees the masked mean and max of the skip features; its output
    bias starts at ``ln depth_init`` and ``ln duration_init_hours``, typical values, so training starts near them. The
    backbone runs once (:meth:`ExoWaveNet.features`, then its own heads and the regressor on the same features). The
    regression is meaningful only for windows that contain a transit.
    """

    def __init__(self, backbone: ExoWaveNet, hidden: int | None = None, depth_init: float = 1e-3,
                 duration_init_hours: float = 3.0) -> None:
        super().__init__()
        self.backbone = _check_model(backbone)
        channels = int(backbone.config["skip_channels"])
        hidden = channels if hidden is None else _positive_int("hidden", hidden)
        for name, value in (("depth_init", depth_init), ("duration_init_hours", duration_init_hours)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.regressor = nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        with torch.no_grad():
            self.regressor[-1].bias.copy_(torch.tensor([math.log(depth_init), math.log(duration_init_hours)]))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``x`` (B, L) or (B, C, L), ``mask`` (B, L) → backbone outputs + ``log_depth``, ``log_duration`` (B,)."""
        z, zmask = self.backbone.features(x, mask)
        out = self.backbone.heads(z, zmask, x.shape[-1])
        params = self.regressor(torch.cat([masked_mean(z, zmask), masked_max(z, zmask)], dim=1))
        out["log_depth"], out["log_duration"] = params[:, 0], params[:, 1]
        return out


class ParameterTargets(NamedTuple):
    """Regression targets per window: ``log_depth``, ``log_duration`` (float32, 0 where ``positive`` is False)."""

    log_depth: np.ndarray
    log_duration: np.ndarray
    positive: np.ndarray


def parameter_targets(windows: Windows, params: Any) -> ParameterTargets:
    """Targets for :class:`TransitParameterHeads`: ln(depth) and ln(duration / h) of each window's transit.

    ``params`` is the table of :func:`~exowavenet_lib.simulate.simulate_transits` (a DataFrame or a mapping of
    arrays with ``depth``, a relative flux deficit, and ``duration_hours``), one row per light curve and indexed by
    ``windows.source``, as :func:`~exowavenet_lib.transit.train.window_snr` does. Positive windows (``y`` = 1) need a
    finite depth in (0, 1) and a finite duration > 0; negatives get targets 0 and ``positive`` False.
    """
    windows = _check_windows(windows)
    if not (isinstance(params, Mapping) or hasattr(params, "columns")):
        raise TypeError(f"params must be a DataFrame or a mapping of columns, got {type(params).__name__}")
    keys = params.columns if hasattr(params, "columns") else params.keys()
    missing = [c for c in ("depth", "duration_hours") if c not in keys]
    if missing:
        raise ValueError(f"params lacks the column(s) {missing} (need 'depth' and 'duration_hours')")
    depth = np.asarray(params["depth"], dtype=float)
    duration = np.asarray(params["duration_hours"], dtype=float)
    if depth.ndim != 1 or depth.shape != duration.shape:
        raise ValueError(f"params columns 'depth' and 'duration_hours' must be 1-d of equal length, got "
                         f"{depth.shape} and {duration.shape}")
    source = np.asarray(windows.source)
    if len(source) and (source.min() < 0 or source.max() >= len(depth)):
        raise ValueError(f"params has {len(depth)} rows but windows.source refers to rows "
                         f"{int(source.min())}…{int(source.max())}: pass the table the windows were cut from")
    positive = np.asarray(windows.y) > 0.5
    d, h = depth[source][positive], duration[source][positive]
    bad = ~(np.isfinite(d) & (d > 0) & (d < 1))
    if bad.any():
        raise ValueError(f"params['depth'] must be finite and in (0, 1) for windows with a transit; "
                         f"window {int(np.flatnonzero(positive)[bad][0])} has depth {d[bad][0]!r}")
    bad = ~(np.isfinite(h) & (h > 0))
    if bad.any():
        raise ValueError(f"params['duration_hours'] must be finite and > 0 for windows with a transit; "
                         f"window {int(np.flatnonzero(positive)[bad][0])} has duration {h[bad][0]!r}")
    log_depth, log_duration = np.zeros(len(windows), np.float32), np.zeros(len(windows), np.float32)
    log_depth[positive], log_duration[positive] = np.log(d), np.log(h)
    return ParameterTargets(log_depth, log_duration, positive)


def regression_loss(out: dict[str, torch.Tensor], log_depth: torch.Tensor, log_duration: torch.Tensor,
                    positive: torch.Tensor, *, depth_weight: float = 1.0, duration_weight: float = 1.0,
                    delta: float = 1.0) -> torch.Tensor:
    """Weighted Huber loss of ``log_depth`` and ``log_duration``, averaged over the ``positive`` windows only.

    Targets of negative windows are ignored entirely (they may be anything, NaN included); 0 when the batch has no
    positive window.
    """
    positive = positive.bool()
    loss = torch.zeros((), device=positive.device)
    n = positive.sum().clamp_min(1)
    for key, target, weight in (("log_depth", log_depth, depth_weight), ("log_duration", log_duration,
                                                                        duration_weight)):
        pred = out[key]
        target = torch.where(positive, target.to(pred.dtype), pred.detach())  # negatives: zero loss, zero gradient
        loss = loss + weight * F.huber_loss(pred, target, reduction="none", delta=delta).sum() / n
    return loss


def multitask_loss(out: dict[str, torch.Tensor], y: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                   log_depth: torch.Tensor, log_duration: torch.Tensor, *, seg_weight: float = 1.0,
                   pos_weight: float | None = None, depth_weight: float = 1.0, duration_weight: float = 1.0,
                   delta: float = 1.0) -> torch.Tensor:
    """:func:`~exowavenet_lib.transit.train.detector_loss` + :func:`regression_loss` on the windows with ``y`` = 1."""
    return (detector_loss(out, y, labels, mask, seg_weight, pos_weight)
            + regression_loss(out, log_depth, log_duration, y > 0.5, depth_weight=depth_weight,
                              duration_weight=duration_weight, delta=delta))


def train_multitask(
    windows: Windows,
    params: Any,
    *,
    model: TransitParameterHeads | None = None,
    model_config: dict[str, Any] | None = None,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    seg_weight: float = 1.0,
    depth_weight: float = 1.0,
    duration_weight: float = 1.0,
    seed: int = 0,
) -> tuple[TransitParameterHeads, list[dict[str, float]]]:
    """Train :class:`TransitParameterHeads` with :func:`multitask_loss` (AdamW, gradient clipping at 1, seeded).

    ``params`` is passed to :func:`parameter_targets`. Without ``model``, one is built from ``model_config`` (the
    :class:`ExoWaveNet` arguments) with the torch seed ``seed``. Returns the model (in eval mode; trained in place)
    and one history row per epoch: ``epoch``, ``loss`` and ``regression_loss`` (means over windows). No validation,
    checkpoints or schedule: for those, see :func:`~exowavenet_lib.transit.train.train_detector`.
    """
    windows = _check_windows(windows)
    targets = parameter_targets(windows, params)
    epochs, batch_size = _positive_int("epochs", epochs), _positive_int("batch_size", batch_size)
    if model is not None and not isinstance(model, TransitParameterHeads):
        raise TypeError(f"model must be a TransitParameterHeads, got {type(model).__name__}")
    history: list[dict[str, float]] = []
    with _seeded(seed):
        if model is None:
            model = TransitParameterHeads(ExoWaveNet(**(model_config or {})))
        device = next(model.parameters()).device
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        log_depth, log_duration = torch.from_numpy(targets.log_depth), torch.from_numpy(targets.log_duration)
        for epoch in range(1, epochs + 1):
            model.train()
            rng = np.random.default_rng([seed, epoch])
            order = rng.permutation(len(windows))
            total = reg_total = 0.0
            for i in range(0, len(order), batch_size):
                index = order[i:i + batch_size]
                x, mask, y, labels = (t.to(device) for t in _tensors(windows, index, None, rng))
                idx = torch.from_numpy(index)
                ld, lt = log_depth[idx].to(device), log_duration[idx].to(device)
                optimizer.zero_grad(set_to_none=True)
                out = model(x, mask)
                reg = regression_loss(out, ld, lt, y > 0.5, depth_weight=depth_weight,
                                      duration_weight=duration_weight)
                loss = detector_loss(out, y, labels, mask, seg_weight) + reg
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                total += float(loss.detach()) * len(index)
                reg_total += float(reg.detach()) * len(index)
            history.append({"epoch": float(epoch), "loss": total / len(order),
                            "regression_loss": reg_total / len(order)})
    model.eval()
    return model, history


# -------------------------------------------------------------------------------------- masked-span pretraining
def masked_span_mask(shape: tuple[int, int], span: int, fraction: float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Random contiguous spans to hide: a (B, L) bool tensor, True = hidden.

    Each row gets ``k = round(fraction · L / span)`` spans (at least 1, at most ``L // span``) of exactly ``span``
    samples that do not overlap (neighbours may touch and form a longer hidden run), placed uniformly at random,
    so ``k · span`` samples are hidden: within ``span / L`` of ``fraction · L``. ``generator`` (a CPU
    ``torch.Generator``) makes it reproducible; None uses torch's global generator.
    """
    if (isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape)):
        raise ValueError(f"shape must be a (batch, length) pair of positive integers, got {shape!r}")
    batch, length = int(shape[0]), int(shape[1])
    span = _positive_int("span", span)
    if span > length:
        raise ValueError(f"span must be at most the length {length}, got {span}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    k = min(max(1, round(fraction * length / span)), length // span)
    free = length - k * span  # visible samples; stars and bars: k spans among free + k slots
    slots = torch.rand(batch, free + k, generator=generator).argsort(dim=-1)[:, :k].sort(dim=-1).values
    starts = slots + torch.arange(k) * (span - 1)
    index = (starts.unsqueeze(-1) + torch.arange(span)).reshape(batch, -1)
    hidden = torch.zeros(batch, length, dtype=torch.bool)
    return hidden.scatter_(1, index, True)


class ReconstructionHead(nn.Module):
    """1×1 convolution from skip features (B, C, L') to flux (B, L), linearly upsampled when ``downsample > 1``.

    Build it for a backbone with ``ReconstructionHead(model.config["skip_channels"], model.downsample)``.
    """

    def __init__(self, skip_channels: int, downsample: int = 1) -> None:
        super().__init__()
        self.downsample = _positive_int("downsample", downsample)
        self.proj = nn.Conv1d(_positive_int("skip_channels", skip_channels), 1, 1)

    def forward(self, z: torch.Tensor, length: int) -> torch.Tensor:
        """Skip features ``z`` (B, C, L') → predicted standardised flux (B, ``length``)."""
        h = self.proj(z)
        if self.downsample > 1:
            h = F.interpolate(h, scale_factor=float(self.downsample), mode="linear", align_corners=False)
        return h[..., :length].squeeze(1)


def predict_hidden(model: ExoWaveNet, head: ReconstructionHead, x: torch.Tensor, mask: torch.Tensor,
                   hidden: torch.Tensor) -> torch.Tensor:
    """Hide ``hidden`` samples of ``x`` (B, L) (flux 0, mask False), run ``model.features`` and ``head``: (B, L)."""
    if x.dim() != 2 or mask.shape != x.shape or hidden.shape != x.shape:
        raise ValueError(f"x, mask and hidden must all be (B, L), got {tuple(x.shape)}, {tuple(mask.shape)}, "
                         f"{tuple(hidden.shape)}")
    hidden = hidden.bool()
    visible = mask.bool() & ~hidden
    z, _ = model.features(torch.where(visible, x, torch.zeros_like(x)), visible)
    return head(z, x.shape[-1])


def masked_reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, hidden: torch.Tensor,
                               mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the samples that are hidden and were valid (``hidden & mask``); 0 if there are none."""
    counted = hidden.bool() & mask.bool()
    err = torch.where(counted, pred - target, torch.zeros_like(pred))  # (a linear op: no NaN gradient leaks)
    return (err**2).sum() / counted.sum().clamp_min(1)


@dataclass
class PretrainResult:
    """What :func:`pretrain_masked_reconstruction` returns: the backbone (trained in place), the head, the history."""

    model: ExoWaveNet
    head: ReconstructionHead
    history: list[float] = field(default_factory=list)


def pretrain_masked_reconstruction(
    model: ExoWaveNet,
    windows: Windows,
    *,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    span: int = 16,
    fraction: float = 0.15,
    head: ReconstructionHead | None = None,
    seed: int = 0,
) -> PretrainResult:
    """Self-supervised masked-span reconstruction of ``windows.x`` (a sketch; see the module docstring).

    Every batch hides spans of ``span`` samples (about ``fraction`` of each window, :func:`masked_span_mask`),
    predicts the flux with ``head`` (a new :class:`ReconstructionHead` if None, initialised with ``seed``) and
    minimises :func:`masked_reconstruction_loss` with AdamW over the backbone and the head. Labels are not used. The
    backbone's detection heads (``cls``, ``seg``) get no gradient and stay as they were. ``history`` holds the mean
    training loss of each epoch. Fine-tune afterwards with ``train_detector(train, val, model=result.model)``, or
    save ``result.model.state_dict()`` and load it into ``ExoWaveNet(**result.model.config)``.
    """
    model, windows = _check_model(model), _check_windows(windows)
    epochs, batch_size = _positive_int("epochs", epochs), _positive_int("batch_size", batch_size)
    lr, weight_decay = _non_negative("lr", lr), _non_negative("weight_decay", weight_decay)
    masked_span_mask((1, windows.x.shape[1]), span, fraction, torch.Generator())  # validates span and fraction
    device = next(model.parameters()).device
    history: list[float] = []
    with _seeded(seed):
        if head is None:
            head = ReconstructionHead(int(model.config["skip_channels"]), model.downsample).to(device)
        elif not isinstance(head, ReconstructionHead):
            raise TypeError(f"head must be a ReconstructionHead or None, got {type(head).__name__}")
        optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=lr, weight_decay=weight_decay)
        spans = torch.Generator().manual_seed(seed)
        for epoch in range(1, epochs + 1):
            model.train()
            head.train()
            order = np.random.default_rng([seed, epoch]).permutation(len(windows))
            total = 0.0
            for i in range(0, len(order), batch_size):
                index = order[i:i + batch_size]
                x = torch.from_numpy(windows.x[index]).to(device)
                mask = torch.from_numpy(windows.mask[index]).to(device)
                hidden = masked_span_mask(tuple(x.shape), span, fraction, spans).to(device)
                optimizer.zero_grad(set_to_none=True)
                loss = masked_reconstruction_loss(predict_hidden(model, head, x, mask, hidden), x, hidden, mask)
                loss.backward()
                torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], 1.0)
                optimizer.step()
                total += float(loss.detach()) * len(index)
            history.append(total / len(order))
    model.eval()
    head.eval()
    return PretrainResult(model=model, head=head, history=history)
