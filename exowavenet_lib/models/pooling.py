"""Pooling over the valid steps of padded sequences: padded steps never contribute."""

from __future__ import annotations

import torch


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``h`` (B, T, D) over the steps where ``mask`` (B, T) is True -> (B, D); rows without one give 0."""
    valid = mask.unsqueeze(-1)
    total = torch.where(valid, h, torch.zeros((), dtype=h.dtype, device=h.device)).sum(dim=1)
    count = mask.sum(dim=1, keepdim=True).clamp_min(1).to(h.dtype)
    return total / count


def masked_max(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Maximum of ``h`` (B, T, D) over the steps where ``mask`` (B, T) is True -> (B, D); rows without one give 0."""
    valid = mask.unsqueeze(-1)
    lowest = torch.finfo(h.dtype).min
    pooled = torch.where(valid, h, torch.full((), lowest, dtype=h.dtype, device=h.device)).amax(dim=1)
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros((), dtype=h.dtype, device=h.device))


def masked_cumulative_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Running mean of ``h`` (B, T, D) over the valid steps up to and including each step -> (B, T, D).

    After a sequence ends the value stays at the mean over all its valid steps, i.e. at :func:`masked_mean`.
    """
    valid = mask.unsqueeze(-1)
    total = torch.where(valid, h, torch.zeros((), dtype=h.dtype, device=h.device)).cumsum(dim=1)
    count = valid.cumsum(dim=1).clamp_min(1).to(h.dtype)
    return total / count
