"""Plots and parameter importances of a :class:`~exowavenet_lib.tracking.SweepResult` (either backend).

They are drawn from :attr:`SweepResult.trials`, so a sweep run on W&B and one run with optuna plot the same way.
Importances are optuna's fANOVA, computed on a throw-away in-memory study rebuilt from the completed trials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from exowavenet_lib.tracking.sweeps import SweepResult

__all__ = ["param_importances", "plot_optimization_history", "plot_parallel_coordinates", "plot_param_importances"]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _is_numeric(values: pd.Series) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
               for v in values)


def _varying(result: SweepResult, done: pd.DataFrame, params: Sequence[str] | None) -> list[str]:
    names = list(result.param_names if params is None else params)
    unknown = [n for n in names if n not in result.param_names]
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; the sweep has {result.param_names}")
    return [n for n in names if len({json.dumps(_plain(v), sort_keys=True) for v in done[n]}) > 1]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_log(result: SweepResult, name: str, values: pd.Series) -> bool:
    spec = result._params.get(name)
    return bool(getattr(spec, "log", False)) and _is_numeric(values) and float(values.min()) > 0


def param_importances(result: SweepResult, *, seed: int = 0) -> pd.Series:
    """fANOVA importance of every parameter that varied across completed trials, largest first (sums to 1)."""
    done = result.completed
    if len(done) < 2:
        raise ValueError(f"parameter importances need at least 2 completed trials, got {len(done)}")
    names = _varying(result, done, None)
    if not names:
        raise ValueError("no parameter varied across the completed trials")
    distributions: dict[str, optuna.distributions.BaseDistribution] = {}
    encoders: dict[str, Any] = {}
    for name in names:
        values = done[name]
        if _is_numeric(values):
            lo, hi = values.min(), values.max()
            log = _is_log(result, name, values)
            if all(isinstance(v, (int, np.integer)) for v in values):
                distributions[name] = optuna.distributions.IntDistribution(int(lo), int(hi), log=log)
                encoders[name] = int
            else:
                distributions[name] = optuna.distributions.FloatDistribution(float(lo), float(hi), log=log)
                encoders[name] = float
        else:
            choices = sorted({json.dumps(_plain(v), sort_keys=True) for v in values})
            distributions[name] = optuna.distributions.CategoricalDistribution(choices)
            encoders[name] = lambda v: json.dumps(_plain(v), sort_keys=True)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the throw-away study need not announce itself
    try:
        study = optuna.create_study(direction="minimize" if result.goal == "minimize" else "maximize")
        for _, row in done.iterrows():
            study.add_trial(optuna.trial.create_trial(
                params={n: encoders[n](row[n]) for n in names}, distributions=distributions,
                value=float(row[result.metric]),
            ))
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        scores = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    finally:
        optuna.logging.set_verbosity(verbosity)
    series = pd.Series(scores, name="importance", dtype=float).sort_values(ascending=False)
    series.index.name = "parameter"
    return series


def plot_optimization_history(result: SweepResult, *, ax: Axes | None = None) -> Figure:
    """Metric of each completed trial vs trial number, with the best value so far as a step line."""
    done = result.completed.sort_values("number")
    if done.empty:
        raise ValueError("no completed trial to plot")
    fig, ax = _axes(ax, (7, 4))
    values = done[result.metric].astype(float).to_numpy()
    best = np.minimum.accumulate(values) if result.goal == "minimize" else np.maximum.accumulate(values)
    ax.scatter(done["number"], values, s=25, color="tab:blue", label=f"{result.metric} of a completed trial")
    ax.step(done["number"], best, where="post", color="tab:red", label=f"best so far ({result.goal})")
    n_pruned = int((result.trials["state"] == "PRUNED").sum())
    n_failed = int((result.trials["state"] == "FAIL").sum())
    ax.set(xlabel="Trial number", ylabel=result.metric,
           title=f"Optimisation history: {len(done)} completed, {n_pruned} pruned, {n_failed} failed "
                 f"({result.backend}, {result.method})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_param_importances(result: SweepResult, *, ax: Axes | None = None, seed: int = 0) -> Figure:
    """Horizontal bars of :func:`param_importances`, most important at the top."""
    scores = param_importances(result, seed=seed)
    fig, ax = _axes(ax, (7, 0.8 + 0.45 * len(scores)))
    ax.barh(scores.index[::-1], scores.to_numpy()[::-1], color="tab:blue")
    for y, value in enumerate(scores.to_numpy()[::-1]):
        ax.text(value, y, f" {value:.2f}", va="center")
    ax.set(xlabel="Importance (fANOVA: fraction of the metric's variance)", ylabel="Parameter", xlim=(0, 1.1),
           title=f"Parameter importance for {result.metric} ({len(result.completed)} completed trials)")
    fig.tight_layout()
    return fig


def plot_parallel_coordinates(result: SweepResult, params: Sequence[str] | None = None, *,
                              ax: Axes | None = None) -> Figure:
    """One line per completed trial through every (varying) parameter axis and the metric, coloured by the metric.

    Each axis is scaled to its own range (log10 for log-distributed parameters; categories evenly spaced), with
    the extreme values (or the categories) written on the axis.
    """
    import matplotlib as mpl
    from matplotlib.collections import LineCollection

    done = result.completed.sort_values("number")
    if done.empty:
        raise ValueError("no completed trial to plot")
    if params is None:
        names = _varying(result, done, None)
    else:
        _varying(result, done, params)  # raises on unknown names
        names = list(params)
    columns = [*names, result.metric]
    fig, ax = _axes(ax, (1.8 * len(columns) + 2.5, 4.5))
    scaled = np.zeros((len(done), len(columns)))
    for j, name in enumerate(columns):
        values = done[name]
        if name == result.metric or _is_numeric(values):
            log = name != result.metric and _is_log(result, name, values)
            x = np.asarray(values, dtype=float)
            x = np.log10(x) if log else x
            lo, hi = float(x.min()), float(x.max())
            scaled[:, j] = 0.5 if hi == lo else (x - lo) / (hi - lo)
            low_text, high_text = (f"{10**lo:.3g}", f"{10**hi:.3g}") if log else (f"{lo:.3g}", f"{hi:.3g}")
            ax.text(j, -0.06, low_text, ha="center", va="top", fontsize=8)
            ax.text(j, 1.06, high_text, ha="center", va="bottom", fontsize=8)
        else:
            keys = [json.dumps(_plain(v), sort_keys=True) for v in values]
            categories = sorted(set(keys))
            spread = max(len(categories) - 1, 1)
            position = {c: (i / spread if len(categories) > 1 else 0.5) for i, c in enumerate(categories)}
            scaled[:, j] = [position[k] for k in keys]
            for c, y in position.items():
                ax.text(j + 0.04, y, c, ha="left", va="center", fontsize=8)
    metric = done[result.metric].astype(float).to_numpy()
    norm = mpl.colors.Normalize(vmin=float(metric.min()), vmax=float(metric.max()) + (1e-12 if np.ptp(metric) == 0
                                                                                       else 0.0))
    cmap = mpl.colormaps["viridis_r" if result.goal == "minimize" else "viridis"]
    segments = [np.column_stack([np.arange(len(columns)), row]) for row in scaled]
    lines = LineCollection(segments, colors=cmap(norm(metric)), linewidths=1.2, alpha=0.8)
    ax.add_collection(lines)
    best = int(np.argmin(metric) if result.goal == "minimize" else np.argmax(metric))
    ax.plot(np.arange(len(columns)), scaled[best], color="tab:red", linewidth=2.5, label="best trial")
    for j in range(len(columns)):
        ax.axvline(j, color="black", linewidth=0.8)
    labels = [f"{n}\n(log scale)" if n != result.metric and _is_log(result, n, done[n]) else n for n in columns]
    ax.set_xticks(range(len(columns)), labels)
    ax.set_xlim(-0.3, len(columns) - 0.3)
    ax.set_ylim(-0.2, 1.2)
    ax.set_yticks([])
    ax.set_ylabel("Position on each axis (own range)")
    ax.set_title(f"Parallel coordinates: {len(done)} completed trials, colour = {result.metric} "
                 f"(brighter is better)")
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=result.metric)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.12), fontsize=8)
    fig.tight_layout()
    return fig
