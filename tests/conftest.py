"""Shared test fixtures: repository paths and in-process loading of solution notebooks."""

from __future__ import annotations

import functools
import sys
import types
from pathlib import Path

import matplotlib
import nbformat
import pytest
from hypothesis import settings

# Correctness, not speed: no per-example deadline on this noisy 2-core machine.
settings.register_profile("exowavenet", deadline=None)
settings.load_profile("exowavenet")

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@functools.cache
def solution_namespace(number: str) -> dict:
    """Execute a solution notebook's code cells in this process (smoke mode) and return its globals."""
    matplotlib.use("Agg")  # in-process only; notebook runs in kernels keep the inline backend
    (path,) = [p for p in SOLUTIONS if p.name.startswith(f"{number}_")]
    # A registered module, so that dataclasses, pickling and typing can find the notebook's classes.
    module = types.ModuleType(f"solution_{number}")
    sys.modules[module.__name__] = module
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{path.name}[{cell.id}]", "exec", dont_inherit=True), module.__dict__)  # noqa: S102
    return module.__dict__


@pytest.fixture
def smoke(monkeypatch: pytest.MonkeyPatch) -> None:
    """Smoke mode for in-process notebook code."""
    monkeypatch.setenv("EXOWAVENET_SMOKE", "1")
