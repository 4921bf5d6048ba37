"""``exowavenet bench notebooks``: wall time of every solution notebook in a fresh kernel."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from exowavenet_lib.bench._common import machine, write_json
from exowavenet_lib.curriculum.execute import run_notebook


def _timed_run(path: Path, output_dir: Path, smoke: bool) -> float:
    start = time.perf_counter()
    run_notebook(path, output_dir=output_dir, smoke=smoke)
    return time.perf_counter() - start


def bench_notebooks(paths: list[Path], *, smoke: bool, repeats: int, output_dir: Path) -> dict:
    """Median wall time of each notebook (kernel start included) and of an empty notebook, as JSON + bar plot."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not paths:
        raise ValueError("paths must name at least one notebook")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nb = new_notebook(cells=[new_code_cell("pass")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, empty)
        baseline = [_timed_run(empty, Path(tmp), smoke) for _ in range(repeats)]
        runs = {Path(p).stem: [_timed_run(Path(p), Path(tmp), smoke) for _ in range(repeats)] for p in paths}
    report = {
        "benchmark": "notebooks",
        "smoke": smoke,
        "repeats": repeats,
        "machine": machine(),
        "empty_notebook_median_s": statistics.median(baseline),
        "notebooks": {name: {"median_s": statistics.median(t), "runs_s": t} for name, t in runs.items()},
        "total_median_s": sum(statistics.median(t) for t in runs.values()),
    }
    write_json(report, output_dir / "notebooks.json")
    _plot(report, output_dir / "notebooks.png")
    return report


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; this never runs inside a notebook
    import matplotlib.pyplot as plt

    names = list(report["notebooks"])
    medians = [report["notebooks"][n]["median_s"] for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5))
    ax.barh(names, medians, color="tab:blue")
    ax.axvline(report["empty_notebook_median_s"], color="grey", ls="--", label="empty notebook (kernel start)")
    ax.invert_yaxis()
    mode = "smoke" if report["smoke"] else "full"
    ax.set(xlabel="Wall time, median (s)", title=f"Solution notebooks, {mode} run, median of {report['repeats']}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
