"""Run-time basics every notebook needs: reproducible seeds, a device, and the smoke switch."""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: notebooks that never touch it start faster.
    import torch

SMOKE_ENV = "EXOWAVENET_SMOKE"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def smoke_mode() -> bool:
    """Return True when ``EXOWAVENET_SMOKE`` asks for a small, fast run (CI sets it; learners do not)."""
    raw = os.environ.get(SMOKE_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"environment variable {SMOKE_ENV}={os.environ[SMOKE_ENV]!r} is not a boolean; "
        f"use one of {sorted(_TRUE)} or {sorted(_FALSE - {''})}"
    )


def seed_everything(seed: int, *, deterministic: bool = False) -> int:
    """Seed Python, NumPy and PyTorch so that the same seed gives the same numbers on CPU.

    Parameters
    ----------
    seed : int
        Non-negative integer below 2**32.
    deterministic : bool, default False
        Also ask PyTorch for deterministic algorithms (slower; errors on ops that have none).

    Returns
    -------
    int
        The seed, so a notebook can log it.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    return seed


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    Parameters
    ----------
    prefer : {"cuda", "mps", "cpu"}, optional
        Ask for one device explicitly; raises ``ValueError`` if it is not available here.
    """
    import torch

    available = {
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None:
        if not isinstance(prefer, str) or prefer.lower() not in available:
            raise ValueError(f"prefer must be one of {sorted(available)} or None, got {prefer!r}")
        if not available[prefer.lower()]:
            raise ValueError(f"prefer={prefer!r} but that device is not available on this machine")
        return torch.device(prefer.lower())
    return torch.device(next(name for name, ok in available.items() if ok))
