"""A per-step MLP with masked pooling: the simplest light-curve classifier (a "deep set" over observations)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from exowavenet_lib.models._common import check_batch, choice, positive_int, probability
from exowavenet_lib.models.pooling import masked_max, masked_mean

POOLINGS = ("mean", "max", "meanmax")


class SimplePhotometryMLP(nn.Module):
    """Encode every observation with the same MLP, pool over the valid steps, classify the pooled vector.

    The model sees each observation independently (order only enters through the time feature), so it is
    invariant to permutations of the valid steps and to padding.

    Parameters
    ----------
    n_features : int
        Features per time step (``3 + n_bands`` for the standard layout ``[t, flux, flux_err, onehot(band)...]``).
    n_classes : int
        Number of classes (output logits).
    hidden : sequence of int, default (64, 64)
        Widths of the per-step encoder layers (Linear -> ReLU -> Dropout each); at least one.
    dropout : float, default 0.1
        Dropout after every encoder layer.
    pooling : {"mean", "max", "meanmax"}, default "mean"
        Masked mean, masked max, or both concatenated (doubling the head's input width).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: Sequence[int] = (64, 64),
        dropout: float = 0.1,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        self.n_features = positive_int("n_features", n_features)
        self.n_classes = positive_int("n_classes", n_classes)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(f"hidden must be a sequence of layer widths such as (64, 64), got {hidden!r}")
        if len(hidden) == 0:
            raise ValueError("hidden must hold at least one layer width, got an empty sequence")
        widths = [positive_int(f"hidden[{i}]", width) for i, width in enumerate(hidden)]
        dropout = probability("dropout", dropout)
        self.pooling = choice("pooling", pooling, POOLINGS)

        layers: list[nn.Module] = []
        for width_in, width_out in zip([self.n_features, *widths[:-1]], widths, strict=True):
            layers += [nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(dropout)]
        self.encoder = nn.Sequential(*layers)
        self.embedding_dim = widths[-1] * (2 if self.pooling == "meanmax" else 1)
        self.head = nn.Linear(self.embedding_dim, self.n_classes)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the pooled representation (B, embedding_dim) of a padded batch."""
        x, _ = check_batch(x, mask, self.n_features)
        h = self.encoder(x)
        if self.pooling == "mean":
            return masked_mean(h, mask)
        if self.pooling == "max":
            return masked_max(h, mask)
        return torch.cat([masked_mean(h, mask), masked_max(h, mask)], dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return logits (B, n_classes) for ``x`` (B, T, n_features) with ``mask`` (B, T) True on valid steps."""
        return self.head(self.encode(x, mask))
