"""Argument and batch validation shared by the models (private: the public API is in ``models/__init__``)."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int after checking that it is a positive integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def probability(name: str, value: object) -> float:
    """Return ``value`` as a float after checking that it is a dropout rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def non_negative_float(name: str, value: object) -> float:
    """Return ``value`` as a float after checking that it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def choice(name: str, value: object, options: tuple[str, ...]) -> str:
    """Return ``value`` after checking that it is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value  # type: ignore[return-value]


def check_batch(x: torch.Tensor, mask: torch.Tensor, n_features: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a ``(x, mask)`` batch and return ``x`` with padded steps zeroed, and the lengths (int64, (B,)).

    ``x`` is float (B, T, n_features); ``mask`` is bool (B, T), True on the first ``length`` steps of each row and
    False after (padding only at the end, as ``collate_lightcurves`` makes it), with at least one valid step per row.
    Valid steps must be finite. Zeroing the padded steps makes every model independent of what the padding holds.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    if x.dim() != 3 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor of shape (batch, time, features), got {x.dtype} {tuple(x.shape)}")
    if x.shape[-1] != n_features:
        raise ValueError(f"x has {x.shape[-1]} features per step but the model was built with n_features={n_features}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True on valid steps), got dtype {mask.dtype}")
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask must have shape (batch, time) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must hold at least one sequence and one time step, got shape {tuple(x.shape)}")
    lengths = mask.sum(dim=1)
    if not bool((lengths > 0).all()):
        raise ValueError(f"mask: every sequence needs at least one valid step; rows {_rows(lengths == 0)} have none")
    steps = torch.arange(mask.shape[1], device=mask.device)
    prefix = steps.unsqueeze(0) < lengths.unsqueeze(1)
    if not torch.equal(prefix, mask):
        bad = (prefix != mask).any(dim=1)
        raise ValueError(
            f"mask must be True on the first `length` steps of each row and False after (padding at the end only); "
            f"rows {_rows(bad)} are not"
        )
    valid = mask.unsqueeze(-1)
    if not bool(torch.isfinite(x).logical_or(~valid).all()):
        raise ValueError("x contains NaN or infinite values on valid (mask=True) steps")
    return torch.where(valid, x, torch.zeros((), dtype=x.dtype, device=x.device)), lengths


def _rows(flags: torch.Tensor, limit: int = 5) -> list[int]:
    return torch.nonzero(flags).flatten()[:limit].tolist()
