"""Execute notebooks in a fresh Jupyter kernel: papermill for parameterised runs, nbclient to survive errors."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

from exowavenet_lib.runtime import SMOKE_ENV


@contextmanager
def _environ(overrides: Mapping[str, str]) -> Iterator[None]:
    """Temporarily set environment variables (a kernel inherits them when it starts)."""
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_notebook(
    path: Path,
    *,
    output_dir: Path = Path("build"),
    smoke: bool = False,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Path:
    """Run a notebook top to bottom with papermill; the executed copy goes to ``output_dir/<folder>/<name>``.

    Raises ``papermill.PapermillExecutionError`` when a cell fails (the executed copy still shows where).
    """
    import papermill  # imported here: it is slow to import and only this function needs it

    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"path must be an existing .ipynb file, got {path}")
    output = Path(output_dir) / path.parent.name / path.name
    output.parent.mkdir(parents=True, exist_ok=True)
    overrides = {**(env or {}), **({SMOKE_ENV: "1"} if smoke else {})}
    with _environ(overrides):
        papermill.execute_notebook(
            str(path), str(output), parameters=dict(parameters or {}), cwd=str(path.parent),
            execution_timeout=timeout, progress_bar=False,
        )
    return output


def execute_allowing_errors(
    path: Path, *, env: Mapping[str, str] | None = None, timeout: float | None = 600
) -> NotebookNode:
    """Run every cell even after errors (as a learner clicking 'Run all' then reading) and return the notebook."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env={**os.environ, **(env or {})})
    return nb


def cell_errors(nb: NotebookNode) -> list[tuple[int, str, str]]:
    """``(cell index, exception name, message)`` for every error output in an executed notebook."""
    return [
        (index, out.get("ename", ""), out.get("evalue", ""))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
