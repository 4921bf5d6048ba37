"""Focal loss (Lin et al. 2017) for multi-class logits: cross-entropy that down-weights easy examples."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

from exowavenet_lib.models._common import choice, non_negative_float

REDUCTIONS = ("mean", "sum", "none")


class FocalLoss(nn.Module):
    """Multi-class focal loss ``-alpha[y] * (1 - p_y)**gamma * log p_y`` computed from logits.

    ``log p_y`` comes from ``log_softmax`` and ``1 - p_y`` from ``-expm1(log p_y)``, so extreme logits give finite
    values and gradients. With ``gamma=0`` it is exactly ``F.cross_entropy(logits, y, weight=alpha)``, for every
    reduction.

    Parameters
    ----------
    gamma : float, default 2.0
        Focusing parameter (>= 0); larger values shrink the loss of well-classified examples more.
    alpha : sequence of float, 1-D array or tensor, optional
        Per-class weights (>= 0, one per class), e.g. inverse class frequencies; ``None`` weights all classes 1.
        Stored as a buffer (moves with ``.to(device)``, saved in the state dict).
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` is normalised by the weights like ``F.cross_entropy(weight=...)``:
        ``sum_i alpha[y_i] * focal_i / sum_i alpha[y_i]`` (a plain mean when ``alpha`` is None).
        ``"none"`` returns the weighted per-example losses (N,).
    """

    alpha: torch.Tensor | None

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Sequence[float] | torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.gamma = non_negative_float("gamma", gamma)
        self.reduction = choice("reduction", reduction, REDUCTIONS)
        self.register_buffer("alpha", None if alpha is None else _class_weights(alpha))

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return the loss for ``logits`` (N, C) and integer class indices ``y`` (N,)."""
        _check_inputs(logits, y, self.alpha)
        log_p = F.log_softmax(logits, dim=-1).gather(1, y.unsqueeze(1)).squeeze(1)
        loss = -log_p
        if self.gamma != 0.0:
            # 1 - p_y without cancellation; the floor keeps the gradient of (1 - p)**gamma finite for gamma < 1.
            one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
            loss = one_minus_p.pow(self.gamma) * loss
        if self.alpha is None:
            weights = None
        else:
            weights = self.alpha.to(device=loss.device, dtype=loss.dtype)[y]  # even if the loss was not moved
            loss = weights * loss
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.mean() if weights is None else loss.sum() / weights.sum()

    def extra_repr(self) -> str:
        """Show the settings in ``repr``."""
        alpha = None if self.alpha is None else [round(a, 4) for a in self.alpha.tolist()]
        return f"gamma={self.gamma}, alpha={alpha}, reduction={self.reduction!r}"


def _class_weights(alpha: Sequence[float] | torch.Tensor) -> torch.Tensor:
    if isinstance(alpha, (str, bytes, Real)):
        raise TypeError(f"alpha must be None or a sequence/1-D tensor of per-class weights, got {type(alpha).__name__}")
    try:
        weights = torch.as_tensor(alpha, dtype=torch.float32).detach().clone()
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"alpha must hold numbers, got {alpha!r}") from error
    if weights.dim() != 1 or weights.numel() == 0:
        raise ValueError(f"alpha must be one-dimensional with one weight per class, got shape {tuple(weights.shape)}")
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
        raise ValueError(f"alpha must hold finite weights >= 0, got {weights.tolist()}")
    return weights


def _check_inputs(logits: torch.Tensor, y: torch.Tensor, alpha: torch.Tensor | None) -> None:
    if not isinstance(logits, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("logits and y must be torch.Tensors")
    if logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be a float tensor of shape (N, C), got {logits.dtype} {tuple(logits.shape)}")
    if y.dtype != torch.long:
        raise TypeError(f"y must hold int64 class indices, got dtype {y.dtype}")
    if y.shape != logits.shape[:1]:
        raise ValueError(f"y must have shape ({logits.shape[0]},) to match logits, got {tuple(y.shape)}")
    n_classes = logits.shape[1]
    if y.numel() and not bool(((y >= 0) & (y < n_classes)).all()):
        raise ValueError(
            f"y must hold class indices in [0, {n_classes}), got values from {int(y.min())} to {int(y.max())}"
        )
    if alpha is not None and alpha.numel() != n_classes:
        raise ValueError(f"alpha has {alpha.numel()} class weights but logits have {n_classes} classes")
