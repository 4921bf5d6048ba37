"""ExoWaveNet: a discriminative WaveNet-style transit detector (dilated residual stacks, gated activations).

Input: standardised flux and its validity mask on a uniform grid, ``forward(x, mask)`` with ``x`` (B, L) flux or
(B, C, L) channels and ``mask`` (B, L) bool. Output: ``{"logit": (B,), "per_sample": (B, L)}`` — a window logit
("contains a transit") from masked global pooling (mean + max, or attention + max) of the skip features, and a
per-sample in-transit logit from a 1×1 convolution head. Dilations ``1, 2, 4, …, 2^(layers_per_stack−1)`` repeat
``n_stacks`` times; non-causal ("same") padding by default, left padding with ``causal=True``.

Two options make a fast, BLS-grade detector. ``downsample=k`` runs the stacks at 1/k of the input rate (a strided
"patch" convolution in, linear interpolation of the per-sample logits back out). ``fold_pooling=True`` adds the
evidence of *periodic* transits to the window logit: a convolutional network sees a window through a fixed receptive
field, and pooling (mean, max, attention) adds up evidence only incoherently, so many shallow transits of one planet
stay invisible to it, while box least squares folds the light curve at trial periods and adds them coherently.
:class:`FoldPooling` does the same fold on the network's own per-sample evidence (the segmentation logits): the
window logit sees the largest standardised phase-folded sum over a grid of trial periods.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ExoWaveNet", "FoldPooling", "ResidualBlock", "fold_index", "masked_max", "masked_mean"]

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


def fold_index(length: int, min_period: float, max_period: float, tolerance: float) -> list[np.ndarray]:
    """Phase-fold groups for samples ``0 … length−1``: one ``(rows, c)`` index array per member count ``c ≥ 2``.

    Trial periods (in samples) run geometrically from ``min_period`` to ``max_period`` with step
    ``1 + tolerance / length``, so that a true period between two trials drifts by at most ``tolerance`` samples over
    the window. A row is one (period, phase bin) pair: the samples ``i`` with ``floor(i mod P)`` equal to the bin.
    """
    if not 1.0 < min_period < max_period:
        raise ValueError(f"need 1 < min_period < max_period, got {min_period!r}, {max_period!r}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
    n = int(math.ceil(math.log(max_period / min_period) / math.log1p(tolerance / length))) + 1
    periods = min_period * (1.0 + tolerance / length) ** np.arange(n)
    i = np.arange(length)
    offsets = np.concatenate([[0], np.cumsum(np.ceil(periods).astype(np.int64))[:-1]])
    rows = (offsets[:, None] + np.floor(np.mod(i[None, :], periods[:, None])).astype(np.int64)).ravel()
    members = np.broadcast_to(i, (n, length)).ravel()[np.argsort(rows, kind="stable")]
    counts = np.bincount(rows)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return [members[starts[counts == c][:, None] + np.arange(c)] for c in np.unique(counts) if c >= 2]


class FoldPooling(nn.Module):
    """Largest standardised phase-folded sum of per-sample evidence over trial periods: BLS on learned evidence.

    ``forward(evidence (B, L), mask (B, L))`` → ``(B,)``: the evidence is standardised over the valid samples of
    each window (invalid ones count 0), summed over the members of every (period, phase) row of :func:`fold_index`,
    divided by √members, and the maximum over rows is returned (≈ the significance of the best periodic signal);
    the same is done for sums of adjacent samples (÷√2), so that events straddling a phase-bin edge are not split.
    Periods are in samples of the evidence; index tables are built once per length and kept (not saved).
    """

    def __init__(self, min_period: float, max_fraction: float = 0.6, tolerance: float = 1.0) -> None:
        super().__init__()
        if not min_period > 1.0:
            raise ValueError(f"min_period must be > 1 sample, got {min_period!r}")
        if not 0.0 < max_fraction <= 1.0:
            raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction!r}")
        if not tolerance > 0:
            raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
        self.min_period, self.max_fraction, self.tolerance = float(min_period), float(max_fraction), float(tolerance)
        self._tables: dict[tuple[int, str], list[torch.Tensor]] = {}

    def tables(self, length: int, device: torch.device) -> list[torch.Tensor]:
        """The (cached) :func:`fold_index` groups for ``length`` samples, as tensors on ``device``."""
        key = (int(length), str(device))
        if key not in self._tables:
            max_period = self.max_fraction * length
            if max_period <= self.min_period:
                raise ValueError(f"a window of {length} samples is too short to fold at periods ≥ "
                                 f"{self.min_period:g} samples (max_fraction {self.max_fraction:g})")
            groups = fold_index(int(length), self.min_period, max_period, self.tolerance)
            self._tables[key] = [torch.as_tensor(g, device=device) for g in groups]
        return self._tables[key]

    def forward(self, evidence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``evidence`` (B, L), ``mask`` (B, L) bool → (B,) largest folded significance."""
        m = mask.to(evidence.dtype)
        count = m.sum(-1, keepdim=True).clamp_min(1.0)
        mean = (evidence * m).sum(-1, keepdim=True) / count
        var = (((evidence - mean) * m) ** 2).sum(-1, keepdim=True) / count
        z = ((evidence - mean) * m / var.clamp_min(1e-6).sqrt()).t().contiguous()  # (L, B): gathers whole rows
        n, batch = int(z.shape[0]), z.shape[1]
        z = z.reshape(n, batch)  # n is a constant in a trace: the traced model fails loudly at another length
        # widths of one and two samples: an event whose phase falls on a bin edge splits between two rows
        pairs = torch.cat([(z[1:] + z[:-1]) * math.sqrt(0.5), torch.zeros_like(z[:1])])
        z = torch.cat([z, pairs], dim=1)
        best = [torch.index_select(z, 0, idx.view(-1)).view(*idx.shape, -1).sum(1).amax(0) / math.sqrt(idx.shape[1])
                for idx in self.tables(n, z.device)]
        return torch.stack(best, dim=-1).amax(-1).view(2, batch).amax(0)


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
        downsample: int = 1,
        fold_pooling: bool = False,
        fold_bin: int = 4,
        fold_min_period: float = 24.0,
        fold_tolerance: float = 1.0,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        for name, value in (("in_channels", in_channels), ("residual_channels", residual_channels),
                            ("skip_channels", skip_channels), ("n_stacks", n_stacks),
                            ("layers_per_stack", layers_per_stack), ("kernel_size", kernel_size),
                            ("downsample", downsample), ("fold_bin", fold_bin)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if fold_pooling and fold_bin % downsample:
            raise ValueError(f"fold_bin ({fold_bin}) must be a multiple of downsample ({downsample})")
        if fold_pooling and not fold_min_period >= 2 * fold_bin:
            raise ValueError(f"fold_min_period must be at least 2 × fold_bin, got {fold_min_period!r}")
        if fold_pooling and not fold_tolerance > 0:
            raise ValueError(f"fold_tolerance must be > 0 (bins of drift over the window), got {fold_tolerance!r}")
        self.config: dict[str, Any] = {
            "in_channels": in_channels, "residual_channels": residual_channels, "skip_channels": skip_channels,
            "n_stacks": n_stacks, "layers_per_stack": layers_per_stack, "kernel_size": kernel_size,
            "activation": activation, "causal": causal, "head": head, "attention_pooling": attention_pooling,
            "dropout": float(dropout), "downsample": downsample, "fold_pooling": fold_pooling,
            "fold_bin": fold_bin, "fold_min_period": float(fold_min_period), "fold_tolerance": float(fold_tolerance),
        }
        self.in_channels, self.head, self.attention_pooling = in_channels, head, attention_pooling
        self.downsample, self.fold_bin = downsample, fold_bin
        self.dilations = [2**i for _ in range(n_stacks) for i in range(layers_per_stack)]
        self.kernel_size = kernel_size
        self.inp = nn.Conv1d(in_channels, residual_channels, downsample, stride=downsample)
        self.blocks = nn.ModuleList(
            ResidualBlock(residual_channels, skip_channels, kernel_size, d, activation, causal, dropout)
            for d in self.dilations
        )
        self.post = nn.Conv1d(skip_channels, skip_channels, 1)
        if head in ("both", "segmentation") or fold_pooling:
            self.seg = nn.Conv1d(skip_channels, 1, 1)
        self.fold = FoldPooling(fold_min_period / fold_bin, tolerance=fold_tolerance) if fold_pooling else None
        if head in ("both", "classification"):
            if attention_pooling:
                self.attn = nn.Conv1d(skip_channels, 1, 1)
            self.cls = nn.Sequential(nn.Linear(2 * skip_channels + int(fold_pooling), skip_channels), nn.ReLU(),
                                     nn.Dropout(dropout), nn.Linear(skip_channels, 1))

    @property
    def receptive_field(self) -> int:
        """Input samples that can influence one output sample: ``downsample · (1 + (kernel_size − 1) · Σ dilations)``.

        (Without fold pooling; the fold adds up evidence from the whole window.)
        """
        return self.downsample * (1 + (self.kernel_size - 1) * sum(self.dilations))

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

    def features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Skip features (B, skip_channels, L') after the stacks, L' = ⌈L / downsample⌉, and their mask (B, L')."""
        if mask is None:
            mask = torch.ones(x.shape[0], x.shape[-1], dtype=torch.bool, device=x.device)
        mask = mask.bool()
        length = x.shape[-1]
        inputs = self._inputs(x, mask)
        if self.downsample > 1:  # pad to whole patches; a patch is valid when any of its samples is
            pad = (-length) % self.downsample
            inputs = F.pad(inputs, (0, pad))
            mask = F.max_pool1d(F.pad(mask.to(x.dtype), (0, pad)).unsqueeze(1), self.downsample).squeeze(1) > 0
        h = self.inp(inputs)
        skips = torch.zeros(h.shape[0], self.post.in_channels, h.shape[-1], dtype=h.dtype, device=h.device)
        for block in self.blocks:
            h, s = block(h)
            skips = skips + s
        return F.relu(self.post(F.relu(skips))), mask

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``x`` (B, L) or (B, C, L), ``mask`` (B, L) bool (default: all valid) → ``logit`` (B,), ``per_sample``."""
        z, zmask = self.features(x, mask)
        return self.heads(z, zmask, x.shape[-1])

    def heads(self, z: torch.Tensor, mask: torch.Tensor, length: int) -> dict[str, torch.Tensor]:
        """The outputs of :meth:`forward` from :meth:`features`' output; ``length`` is the input length."""
        seg = self.seg(z) if hasattr(self, "seg") else None
        out: dict[str, torch.Tensor] = {}
        if self.head in ("both", "classification"):
            if self.attention_pooling:
                w = self.attn(z).squeeze(1).masked_fill(~mask, -1e9)
                w = torch.softmax(w, dim=-1) * mask.any(-1, keepdim=True).to(z.dtype)
                pooled = (z * w.unsqueeze(1)).sum(-1)
            else:
                pooled = masked_mean(z, mask)
            features = [pooled, masked_max(z, mask)]
            if self.fold is not None:
                features.append(self._folded(seg, mask).unsqueeze(-1))
            out["logit"] = self.cls(torch.cat(features, dim=1)).squeeze(-1)
        if self.head in ("both", "segmentation"):
            if self.downsample > 1:
                seg = F.interpolate(seg, scale_factor=float(self.downsample), mode="linear", align_corners=False)
            out["per_sample"] = seg[..., :length].squeeze(1)
        return out

    def fold_significance(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """What fold pooling adds to the window logit (B,): the best standardised folded sum of per-sample logits."""
        if self.fold is None:
            raise ValueError("this model has no fold pooling (built with fold_pooling=False)")
        z, mask = self.features(x, mask)
        return self._folded(self.seg(z), mask)

    def _folded(self, seg: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Fold significance of the segmentation logits (B, 1, L'), averaged into bins of ``fold_bin`` samples."""
        k = self.fold_bin // self.downsample
        m = mask.to(seg.dtype).unsqueeze(1)
        if k > 1:
            pad = (-seg.shape[-1]) % k
            total = F.avg_pool1d(F.pad(seg * m, (0, pad)), k)
            m = F.avg_pool1d(F.pad(m, (0, pad)), k)
            seg = total / m.clamp_min(1e-6)
        return self.fold(seg.squeeze(1), m.squeeze(1) > 0)
