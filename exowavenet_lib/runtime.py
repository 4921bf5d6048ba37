"""Run-time basics every notebook needs: reproducible seeds, a device, the smoke switch, and atomic file writes."""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; if the block succeeds, the file is synced and moved onto ``path``.

    A crash or an exception mid-write leaves any previous ``path`` intact and no temporary file behind::

        with atomic_path("best.pt") as tmp:
            torch.save(state, tmp)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by None, in nested dicts, lists and tuples (for strict JSON)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_json_atomic(path: str | os.PathLike, obj: Any, **dump_kwargs: Any) -> Path:
    """Write ``obj`` as JSON (indent 2 unless given, trailing newline) to ``path`` atomically; return the path."""
    dump_kwargs.setdefault("indent", 2)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, **dump_kwargs) + "\n", encoding="utf-8")
    return Path(path)
