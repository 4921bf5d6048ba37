"""Pool-based active learning on simulated light curves: which objects should a spectrograph classify next?

::

    from exowavenet_lib.active_learning import run_active_learning, plot_learning_curves

    curves = run_active_learning(pool_lcs, pool_labels, eval_lcs, eval_labels, classes=CLASSES,
                                 strategies=("random", "entropy", "bald"), initial=20, query_size=20, rounds=6,
                                 seeds=(0, 1, 2))
    plot_learning_curves(curves)

The loop, for every seed and strategy: start from the same ``initial`` randomly chosen labelled objects (same for
every strategy of a seed); then ``rounds`` times train a fresh small model on the labelled objects, measure its
macro-F1 on the evaluation set, score the unlabelled pool with ``mc_samples`` MC-dropout passes and "label" the
``query_size`` objects the strategy picks (their labels were known all along: this is a simulation). Every strategy
gets the same budget, the same training recipe and the same model initialisation per round, so the learning curves
differ only by *which* objects were labelled.

Strategies (scores from the MC-dropout samples ``probs`` (S, N, C), see :mod:`exowavenet_lib.uncertainty`):

- ``"random"``: a uniform draw from the pool (the baseline);
- ``"entropy"``: the largest predictive entropy ``H(mean_s p_s)`` (total uncertainty);
- ``"bald"``: the largest mutual information ``H(mean_s p_s) - mean_s H(p_s)`` (Houlsby et al. 2011): objects the
  sampled models *disagree* on, not those that are merely ambiguous;
- any callable ``select(probs, k) -> indices`` (positions in the pool, best first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from exowavenet_lib.data import LightCurveDataset, collate_lightcurves
from exowavenet_lib.metrics import MetricsTracker
from exowavenet_lib.models import SimplePhotometryMLP
from exowavenet_lib.models._common import positive_int
from exowavenet_lib.runtime import get_device, seed_everything
from exowavenet_lib.train import evaluate_model, train_epoch
from exowavenet_lib.uncertainty import decompose_uncertainty, mc_predict

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ACQUISITIONS", "acquisition_scores", "plot_learning_curves", "run_active_learning", "select_top_k"]

#: Built-in strategies of :func:`run_active_learning`.
ACQUISITIONS = ("random", "entropy", "bald")
Selector = Callable[[np.ndarray, int], Any]


def acquisition_scores(probs: Any, strategy: str) -> np.ndarray:
    """Score every input of MC samples ``probs`` (S, N, C): ``"entropy"`` (total) or ``"bald"`` (mutual information)."""
    if strategy not in ("entropy", "bald"):
        raise ValueError(f"strategy must be 'entropy' or 'bald', got {strategy!r}")
    result = decompose_uncertainty(probs)
    return result.total if strategy == "entropy" else result.epistemic


def select_top_k(scores: Any, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``scores``, largest first (ties: the lower index first)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    k = positive_int("k", k)
    if k > len(scores):
        raise ValueError(f"k ({k}) is larger than the number of scores ({len(scores)})")
    return np.argsort(-scores, kind="stable")[:k]


def _default_model(n_features: int, n_classes: int) -> nn.Module:
    return SimplePhotometryMLP(n_features, n_classes, hidden=(32, 32), dropout=0.2, pooling="meanmax")


def _selector(name: str, strategy: str | Selector) -> Selector | None:
    if callable(strategy):
        return strategy
    if strategy == "random":
        return None
    if strategy in ACQUISITIONS:
        return lambda probs, k: select_top_k(acquisition_scores(probs, strategy), k)
    raise ValueError(f"strategy {name!r} must be one of {list(ACQUISITIONS)} or a callable select(probs, k)")


def _macro_f1(model: nn.Module, loader: DataLoader, n_classes: int, device: torch.device) -> float:
    result = evaluate_model(model, loader, nn.CrossEntropyLoss(), device)
    tracker = MetricsTracker(n_classes)
    tracker.update(result.y_true, result.y_pred)
    return float(tracker.compute()["macro_f1"])


def run_active_learning(
    pool_lightcurves: Sequence[Any],
    pool_labels: Sequence[Any],
    eval_lightcurves: Sequence[Any],
    eval_labels: Sequence[Any],
    *,
    classes: Sequence[str],
    strategies: Sequence[str] | Mapping[str, str | Selector] = ("random", "bald"),
    initial: int = 20,
    query_size: int = 20,
    rounds: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    model_factory: Callable[[int, int], nn.Module] | None = None,
    epochs: int = 30,
    lr: float = 3e-3,
    batch_size: int = 32,
    mc_samples: int = 10,
    max_sequence_length: int | None = 64,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run the active-learning loop for every strategy and seed; one row per (strategy, seed, round).

    Parameters
    ----------
    pool_lightcurves, pool_labels
        The unlabelled pool (labels revealed only when an object is queried).
    eval_lightcurves, eval_labels
        A fixed, labelled evaluation set (never queried).
    classes : sequence of str
        Class names in label-index order.
    strategies : names, or dict of display name -> name or callable ``select(probs, k) -> indices``
        See the module docstring.
    initial, query_size, rounds : int
        Labelled objects at the start, objects labelled per round, and models trained per run (the last round
        is evaluated, not queried): a run ends with ``initial + (rounds - 1) * query_size`` labels.
    seeds : sequence of int
        One run per seed and strategy; the seed picks the initial set and the initialisation of every model.
    model_factory : callable ``(n_features, n_classes) -> nn.Module``, optional
        A small classifier *with dropout* (MC dropout scores the pool). Default: a 2-layer MLP (32 units, dropout
        0.2, mean+max pooling).
    epochs, lr, batch_size : training recipe of every round (AdamW, cross-entropy, fixed number of epochs).
    mc_samples : int
        MC-dropout passes to score the pool.
    max_sequence_length : int, optional
        Observations kept per light curve.
    device, progress : where to train; a ``tqdm.auto`` bar over runs.

    Returns
    -------
    DataFrame
        Columns ``strategy, seed, round, n_labelled, macro_f1`` (macro-F1 on the evaluation set, in [0, 1]).
    """
    from tqdm.auto import tqdm

    if len(pool_lightcurves) != len(pool_labels) or len(eval_lightcurves) != len(eval_labels):
        raise ValueError("pool_lightcurves/pool_labels and eval_lightcurves/eval_labels must have equal lengths")
    if isinstance(classes, str) or len(classes) < 2:
        raise ValueError(f"classes must be a sequence of at least 2 class names, got {classes!r}")
    named = dict(strategies) if isinstance(strategies, Mapping) else {str(s): s for s in strategies}
    if not named:
        raise ValueError("strategies must not be empty")
    selectors = {name: _selector(name, s) for name, s in named.items()}
    initial, query_size, rounds = (positive_int(n, v) for n, v in
                                   (("initial", initial), ("query_size", query_size), ("rounds", rounds)))
    epochs, batch_size, mc_samples = (positive_int(n, v) for n, v in
                                      (("epochs", epochs), ("batch_size", batch_size), ("mc_samples", mc_samples)))
    budget = initial + (rounds - 1) * query_size
    if budget > len(pool_lightcurves):
        raise ValueError(f"initial + (rounds - 1) * query_size = {budget} exceeds the pool size "
                         f"{len(pool_lightcurves)}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty")
    device = get_device() if device is None else torch.device(device)
    factory = model_factory or _default_model
    classes = list(classes)
    kwargs = {"classes": classes, "max_sequence_length": max_sequence_length}
    pool = LightCurveDataset(list(pool_lightcurves), list(pool_labels), **kwargs)
    evaluation = LightCurveDataset(list(eval_lightcurves), list(eval_labels), **kwargs)
    eval_loader = DataLoader(evaluation, batch_size=256, collate_fn=collate_lightcurves)
    n_features = int(pool[0]["x"].shape[-1])

    rows = []
    runs = [(seed, name) for seed in seeds for name in named]
    for seed, name in tqdm(runs, desc="active learning", disable=not progress):
        rng = np.random.default_rng(seed)
        labelled = list(rng.choice(len(pool), size=initial, replace=False))
        for round_ in range(rounds):
            seed_everything(seed * 1000 + round_)
            model = factory(n_features, len(classes)).to(device)
            generator = torch.Generator().manual_seed(seed * 1000 + round_)
            loader = DataLoader(Subset(pool, labelled), batch_size=batch_size, shuffle=True,
                                collate_fn=collate_lightcurves, generator=generator)
            optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
            loss_fn = nn.CrossEntropyLoss()
            for _ in range(epochs):
                train_epoch(model, loader, loss_fn, optimizer, device)
            rows.append({"strategy": name, "seed": seed, "round": round_, "n_labelled": len(labelled),
                         "macro_f1": _macro_f1(model, eval_loader, len(classes), device)})
            if round_ == rounds - 1:
                break
            taken = set(labelled)
            unlabelled = np.array([i for i in range(len(pool)) if i not in taken])
            selector = selectors[name]
            if selector is None:
                picked = rng.choice(len(unlabelled), size=query_size, replace=False)
            else:
                loader = DataLoader(Subset(pool, unlabelled.tolist()), batch_size=256,
                                    collate_fn=collate_lightcurves)
                probs = mc_predict(model, loader, mc_samples, device, seed=seed * 1000 + round_).probs
                picked = np.asarray(selector(probs, query_size), dtype=np.int64).reshape(-1)
                if len(picked) != query_size or len(set(picked.tolist())) != query_size or \
                        picked.min() < 0 or picked.max() >= len(unlabelled):
                    raise ValueError(f"strategy {name!r} must return {query_size} distinct pool positions in "
                                     f"[0, {len(unlabelled)}), got {picked.tolist()}")
            labelled.extend(unlabelled[picked].tolist())
    return pd.DataFrame(rows, columns=["strategy", "seed", "round", "n_labelled", "macro_f1"])


def plot_learning_curves(curves: pd.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Macro-F1 against labelled objects per strategy: mean over seeds, with the min–max range shaded."""
    import matplotlib.pyplot as plt

    if not isinstance(curves, pd.DataFrame) or not {"strategy", "n_labelled", "macro_f1", "seed"} <= set(curves):
        raise TypeError("curves must be the DataFrame returned by run_active_learning")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    else:
        fig = ax.figure
    for name, group in curves.groupby("strategy", sort=False):
        stats = group.groupby("n_labelled")["macro_f1"].agg(["mean", "min", "max"])
        n_seeds = group["seed"].nunique()
        label = f"{name} (mean of {n_seeds} seeds)" if n_seeds > 1 else f"{name} (1 seed)"
        line, = ax.plot(stats.index, stats["mean"], marker="o", label=label)
        ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("Labelled light curves")
    ax.set_ylabel("Macro-F1 on the evaluation set")
    ax.set_title(title or "Active learning: uncertainty-driven vs random labelling")
    ax.legend()
    return fig
