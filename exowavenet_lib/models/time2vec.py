"""Time2Vec (Kazemi et al. 2019): a learnable representation of irregular observation times.

``Time2Vec(t)[0] = omega_0 * t + phi_0`` (non-periodic trend) and ``Time2Vec(t)[i] = sin(omega_i * t + phi_i)`` for
``i >= 1`` (learnable periods). Unlike index-based positional encodings it uses the actual times, so gaps between
observations matter, which is what irregularly sampled light curves need.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from exowavenet_lib.models._common import positive_int


class Time2Vec(nn.Module):
    """Map times (B, T) or (B, T, 1) to (B, T, out_features): one linear component, then sinusoids.

    Parameters
    ----------
    out_features : int
        Output width ``k``: 1 linear + ``k - 1`` periodic components.
    min_period, max_period : float, default 0.05 and 5.0
        Initial periods of the sinusoids are spaced geometrically from ``max_period`` down to ``min_period`` (in
        the units of ``t``: with the library's ``TIME_SCALE`` of 100 days, 5 days to 500 days). Phases start
        uniform in [0, 2 pi); the linear part starts as the identity. All of them are learned.
    """

    def __init__(self, out_features: int, *, min_period: float = 0.05, max_period: float = 5.0) -> None:
        super().__init__()
        self.out_features = positive_int("out_features", out_features)
        if not (0 < min_period <= max_period < math.inf):
            raise ValueError(f"need 0 < min_period <= max_period < inf, got min_period={min_period}, "
                             f"max_period={max_period}")
        periods = torch.logspace(math.log10(max_period), math.log10(min_period), self.out_features - 1)
        self.omega = nn.Parameter(torch.cat([torch.ones(1), 2 * math.pi / periods]))
        self.phi = nn.Parameter(torch.cat([torch.zeros(1), torch.rand(self.out_features - 1) * 2 * math.pi]))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Return the Time2Vec embedding (B, T, out_features) of times ``t`` (B, T) or (B, T, 1)."""
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"t must be a float tensor, got {type(t).__name__} {getattr(t, 'dtype', '')}")
        if t.dim() == 3 and t.shape[-1] == 1:
            t = t.squeeze(-1)
        if t.dim() != 2:
            raise ValueError(f"t must have shape (batch, time) or (batch, time, 1), got {tuple(t.shape)}")
        z = t.unsqueeze(-1) * self.omega + self.phi
        return torch.cat([z[..., :1], torch.sin(z[..., 1:])], dim=-1)

    def extra_repr(self) -> str:
        """Show the width in ``repr``."""
        return f"out_features={self.out_features}"


class PositionalTime2Vec(nn.Module):
    """Time2Vec of the observation times, linearly projected to ``d_model``: a learned "positional" encoding.

    The result (B, T, d_model) is meant to be *added* to the per-step feature embedding, as sinusoidal positional
    encodings are in a Transformer. When that embedding is linear this is the same model as concatenating Time2Vec(t)
    with the features and projecting the concatenation (``W [f; tau] = W_f f + W_tau tau``), at lower cost.

    Parameters
    ----------
    out_features : int
        Width of the underlying :class:`Time2Vec`.
    d_model : int
        Output width (the model's embedding width).
    **time2vec_kwargs
        Passed to :class:`Time2Vec` (``min_period``, ``max_period``).
    """

    def __init__(self, out_features: int, d_model: int, **time2vec_kwargs: float) -> None:
        super().__init__()
        self.time2vec = Time2Vec(out_features, **time2vec_kwargs)
        self.projection = nn.Linear(self.time2vec.out_features, positive_int("d_model", d_model))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Return (B, T, d_model) for times ``t`` (B, T) or (B, T, 1)."""
        return self.projection(self.time2vec(t))
