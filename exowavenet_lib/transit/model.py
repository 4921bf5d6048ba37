"""ExoWaveNet: a discriminative WaveNet-style transit detector (dilated residual stacks, gated activations).

Input: standardised flux and its validity mask on a uniform grid, ``forward(x, mask)`` with ``x`` (B, L) flux or
(B, C, L) channels and ``mask`` (B, L) bool. Output: ``{"logit": (B,), "per_sample": (B, L)}`` — a window logit
("contains a transit") from masked global pooling (mean + max, or attention + max) of the skip features, and a
per-sample in-transit logit from a 1×1 convolution head. Dilations ``1, 2, 4, …, 2^(layers_per_stack−1)`` repeat
``n_stacks`` times; non-causal ("same") padding by default, left padding with ``causal=True``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ExoWaveNet", "ResidualBlock", "masked_max", "masked_mean"]

ACTIVATIONS = ("gated", "relu")
HEADS = ("both", "classification", "segmentation")


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``h`` (B, C, L) over the valid samples of ``mask`` (B, L); 0 for a window with none."""
    m = mask.to(h.dtype).unsqueeze(1)
    return (h * m).sum(-1) / m.sum(-1).clamp_min(1.0)


def masked_max(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max of ``h`` (B, C, L) over the valid samples; 0 for a window with none."""
    m = mask.unsqueeze(1)
    out = h.masked_fill(~m, torch.finfo(h.dtype).min).amax(-1)
    return torch.where(m.any(-1), out, torch.zeros_like(out))


class ResidualBlock(nn.Module):
    """Dilated conv → gated tanh·sigmoid (or ReLU) → dropout → 1×1 residual and 1×1 skip outputs."""

    def __init__(self, channels: int, skip_channels: int, kernel_size: int, dilation: int, activation: str,
                 causal: bool, dropout: float) -> None:
        super().__init__()
        self.activation, self.causal = activation, causal
        self.pad_total = (kernel_size - 1) * dilation
        out = 2 * channels if activation == "gated" else channels
        self.conv = nn.Conv1d(channels, out, kernel_size, dilation=dilation)
        self.drop = nn.Dropout(dropout)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        left = self.pad_total if self.causal else self.pad_total // 2
        h = self.conv(F.pad(x, (left, self.pad_total - left)))
        if self.activation == "gated":
            a, b = h.chunk(2, dim=1)
            h = torch.tanh(a) * torch.sigmoid(b)
        else:
            h = F.relu(h)
        h = self.drop(h)
        return (x + self.res(h)) * math.sqrt(0.5), self.skip(h)


class ExoWaveNet(nn.Module):
    """WaveNet-style transit detector; see the module docstring. ``config`` rebuilds it: ``ExoWaveNet(**config)``."""

    def __init__(
        self,
        in_channels: int = 2,
        residual_channels: int = 32,
        skip_channels: int = 64,
        n_stacks: int = 2,
        layers_per_stack: int = 8,
        kernel_size: int = 3,
        activation: str = "gated",
        causal: bool = False,
        head: str = "both",
        attention_pooling: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        for name, value in (("in_channels", in_channels), ("residual_channels", residual_channels),
                            ("skip_channels", skip_channels), ("n_stacks", n_stacks),
                            ("layers_per_stack", layers_per_stack), ("kernel_size", kernel_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.config: dict[str, Any] = {
            "in_channels": in_channels, "residual_channels": residual_channels, "skip_channels": skip_channels,
            "n_stacks": n_stacks, "layers_per_stack": layers_per_stack, "kernel_size": kernel_size,
            "activation": activation, "causal": causal, "head": head, "attention_pooling": attention_pooling,
            "dropout": float(dropout),
        }
        self.in_channels, self.head, self.attention_pooling = in_channels, head, attention_pooling
        self.dilations = [2**i for _ in range(n_stacks) for i in range(layers_per_stack)]
        self.kernel_size = kernel_size
        self.inp = nn.Conv1d(in_channels, residual_channels, 1)
        self.blocks = nn.ModuleList(
            ResidualBlock(residual_channels, skip_channels, kernel_size, d, activation, causal, dropout)
            for d in self.dilations
        )
        self.post = nn.Conv1d(skip_channels, skip_channels, 1)
        if head in ("both", "segmentation"):
            self.seg = nn.Conv1d(skip_channels, 1, 1)
        if head in ("both", "classification"):
            if attention_pooling:
                self.attn = nn.Conv1d(skip_channels, 1, 1)
            self.cls = nn.Sequential(nn.Linear(2 * skip_channels, skip_channels), nn.ReLU(),
                                     nn.Dropout(dropout), nn.Linear(skip_channels, 1))

    @property
    def receptive_field(self) -> int:
        """Samples that can influence one output sample: ``1 + (kernel_size − 1) · Σ dilations``."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _inputs(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            flux = x * mask.to(x.dtype)
            chans = [flux, mask.to(x.dtype)] if self.in_channels == 2 else [flux]
            if len(chans) != self.in_channels:
                raise ValueError(f"a (B, L) input builds 1 or 2 channels; this model takes {self.in_channels}")
            return torch.stack(chans, dim=1)
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must be (B, L) or (B, {self.in_channels}, L), got {tuple(x.shape)}")
        return x

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``x`` (B, L) or (B, C, L), ``mask`` (B, L) bool (default: all valid) → ``logit`` (B,), ``per_sample``."""
        if mask is None:
            mask = torch.ones(x.shape[0], x.shape[-1], dtype=torch.bool, device=x.device)
        mask = mask.bool()
        h = self.inp(self._inputs(x, mask))
        skips = torch.zeros(h.shape[0], self.post.in_channels, h.shape[-1], dtype=h.dtype, device=h.device)
        for block in self.blocks:
            h, s = block(h)
            skips = skips + s
        z = F.relu(self.post(F.relu(skips)))
        out: dict[str, torch.Tensor] = {}
        if self.head in ("both", "classification"):
            if self.attention_pooling:
                w = self.attn(z).squeeze(1).masked_fill(~mask, -1e9)
                w = torch.softmax(w, dim=-1) * mask.any(-1, keepdim=True).to(z.dtype)
                pooled = (z * w.unsqueeze(1)).sum(-1)
            else:
                pooled = masked_mean(z, mask)
            out["logit"] = self.cls(torch.cat([pooled, masked_max(z, mask)], dim=1)).squeeze(-1)
        if self.head in ("both", "segmentation"):
            out["per_sample"] = self.seg(z).squeeze(1)
        return out
