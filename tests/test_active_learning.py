"""Active learning: acquisition scores, top-k selection, and a loop that gives every strategy the same budget."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from exowavenet_lib.active_learning import (
    acquisition_scores,
    plot_learning_curves,
    run_active_learning,
    select_top_k,
)
from exowavenet_lib.simulate import simulate_transients
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES

matplotlib.use("Agg")

# Three inputs, two samples, two classes: confident agreement, confident disagreement, shared ambiguity.
PROBS = np.array([
    [[0.99, 0.01], [0.99, 0.01], [0.5, 0.5]],
    [[0.99, 0.01], [0.01, 0.99], [0.5, 0.5]],
])


def test_entropy_and_bald_scores():
    entropy = acquisition_scores(PROBS, "entropy")
    bald = acquisition_scores(PROBS, "bald")
    assert entropy[1] == pytest.approx(np.log(2)) and entropy[2] == pytest.approx(np.log(2))
    assert bald[2] == pytest.approx(0.0, abs=1e-12), "shared ambiguity is aleatoric, not epistemic"
    assert bald[1] > 0.5 and bald[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="strategy"):
        acquisition_scores(PROBS, "std")


def test_select_top_k():
    assert select_top_k([0.1, 0.9, 0.5, 0.9], 3).tolist() == [1, 3, 2]
    with pytest.raises(ValueError, match="larger"):
        select_top_k([0.1], 2)


@pytest.fixture(scope="module")
def tiny():
    lcs, labels = simulate_transients(70, seed=3)
    return lcs[:50], labels[:50], lcs[50:], labels[50:]


def _run(tiny, **kwargs):
    pool_lcs, pool_labels, eval_lcs, eval_labels = tiny
    options = {"classes": list(TRANSIENT_CLASSES), "initial": 10, "query_size": 5, "rounds": 3, "seeds": (0,),
               "epochs": 2, "mc_samples": 3, "max_sequence_length": 16, "device": "cpu", "progress": False}
    return run_active_learning(pool_lcs, pool_labels, eval_lcs, eval_labels, **{**options, **kwargs})


def test_loop_gives_every_strategy_the_same_start_and_budget(tiny):
    curves = _run(tiny, strategies=("random", "entropy", "bald"), seeds=(0, 1))
    assert list(curves.columns) == ["strategy", "seed", "round", "n_labelled", "macro_f1"]
    assert len(curves) == 3 * 2 * 3
    assert sorted(curves["n_labelled"].unique().tolist()) == [10, 15, 20]
    assert curves["macro_f1"].between(0, 1).all()
    first = curves[curves["round"] == 0].groupby("seed")["macro_f1"].nunique()
    assert (first == 1).all(), "round 0 (same labelled set, same initialisation) must not depend on the strategy"


def test_custom_selector_is_called_and_validated(tiny):
    calls = []

    def first_k(probs, k):
        calls.append(probs.shape)
        return np.arange(k)

    curves = _run(tiny, strategies={"first": first_k})
    assert len(curves) == 3 and calls == [(3, 40, 5), (3, 35, 5)], "MC samples of the unlabelled pool only"
    with pytest.raises(ValueError, match="distinct"):
        _run(tiny, strategies={"bad": lambda probs, k: np.zeros(k, dtype=int)})


def test_validation(tiny):
    with pytest.raises(ValueError, match="pool size"):
        _run(tiny, initial=40, query_size=10)
    with pytest.raises(ValueError, match="strategy"):
        _run(tiny, strategies=("margin",))


def test_plot(tiny):
    fig = plot_learning_curves(_run(tiny, strategies=("random",), rounds=2))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Labelled light curves" and len(ax.lines) == 1
