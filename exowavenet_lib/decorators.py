"""Decorators the notebooks reuse (notebook 01 teaches how they work)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def timing_decorator(func: F | None = None, *, logger: logging.Logger | None = None) -> Any:
    """Report how long each call of ``func`` takes; keeps its name and docstring.

    Use bare (``@timing_decorator``: prints ``name took 0.0123 s``) or with a logger
    (``@timing_decorator(logger=log)``: logs the same line at INFO level). The last elapsed time in seconds is
    also kept on the wrapper as ``last_elapsed``.
    """

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                wrapper.last_elapsed = time.perf_counter() - start  # type: ignore[attr-defined]
                message = f"{f.__name__} took {wrapper.last_elapsed:.4f} s"  # type: ignore[attr-defined]
                if logger is None:
                    print(message)
                else:
                    logger.info(message)

        wrapper.last_elapsed = None  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if func is None:
        return decorate
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    return decorate(func)
