"""Training under class imbalance (exowavenet_lib.imbalance) and the classifier benchmark, on tiny simulated data."""

from __future__ import annotations

import json
from collections import Counter

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from exowavenet_lib.data import LightCurveDataset
from exowavenet_lib.imbalance import (
    MODELS,
    STRATEGIES,
    ImbalanceResult,
    build_model,
    comparison_table,
    make_loss,
    make_train_loader,
    plot_strategy_comparison,
    train_with_imbalance_handling,
)
from exowavenet_lib.models import FocalLoss
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES, simulate_transients

matplotlib.use("Agg")
TINY = {"epochs": 2, "batch_size": 16, "max_sequence_length": 24, "progress": False, "device": "cpu",
        "model_kwargs": {"hidden": (16,)}}


@pytest.fixture(scope="module")
def tiny_split():
    """A small imbalanced training set (TDE rare) and a validation set with every class."""
    weights = {"SNIa": 0.45, "SNII": 0.25, "CV": 0.1, "AGN": 0.1, "TDE": 0.1}
    train_lcs, train_labels = simulate_transients(60, seed=1, class_weights=weights)
    val_lcs, val_labels = simulate_transients(20, seed=2)
    return train_lcs, train_labels, val_lcs, val_labels


@pytest.fixture(scope="module")
def runs(tiny_split):
    """One tiny run per strategy."""
    return {s: train_with_imbalance_handling(*tiny_split, strategy=s, seed=3, **TINY) for s in STRATEGIES}


def test_every_strategy_runs_and_reports_consistent_metrics(runs, tiny_split):
    _, _, val_lcs, val_labels = tiny_split
    for strategy, result in runs.items():
        assert isinstance(result, ImbalanceResult) and result.strategy == strategy
        assert 1 <= len(result.history) <= 2 and result.history.monitor == "val_macro_f1"
        assert result.classes == TRANSIENT_CLASSES and result.rare_classes == ("TDE",)
        assert result.wall_time_s > 0 and not result.model.training
        expected = [TRANSIENT_CLASSES.index(label) for label in val_labels]
        assert np.array_equal(result.val.y_true, expected)
        summary = result.summary()
        m = result.metrics.compute()
        assert summary["accuracy"] == pytest.approx(float(np.mean(result.val.y_pred == result.val.y_true)))
        assert summary["accuracy"] == pytest.approx(result.val.accuracy) == pytest.approx(m["accuracy"])
        assert summary["macro_f1"] == pytest.approx(m["macro_f1"])
        # The kept epoch is the best one, and its validation macro-F1 is what the model now scores.
        best = result.history.best_epoch
        assert result.history.extra["val_macro_f1"][best - 1] == pytest.approx(summary["macro_f1"])
        tde = TRANSIENT_CLASSES.index("TDE")
        is_tde = result.val.y_true == tde
        assert summary["rare_recall"]["TDE"] == pytest.approx(float(np.mean(result.val.y_pred[is_tde] == tde)))
        assert summary["recall"]["TDE"] == summary["rare_recall"]["TDE"] == summary["rare_macro_recall"]
        assert summary["epochs"] == len(result.history) and summary["best_epoch"] == best
        # Evaluating the same light curves again reproduces the validation predictions.
        again = result.evaluate(val_lcs, val_labels)
        assert np.array_equal(again.y_pred, result.val.y_pred)
        assert result.test_metrics(val_lcs, val_labels).compute()["macro_f1"] == pytest.approx(summary["macro_f1"])


def test_runs_are_reproducible_with_the_same_seed(tiny_split, runs):
    again = train_with_imbalance_handling(*tiny_split, strategy="balanced_sampler", seed=3, **TINY)
    first = runs["balanced_sampler"]
    assert again.history.train_loss == pytest.approx(first.history.train_loss)
    assert np.allclose(again.val.probs, first.val.probs, atol=1e-6)


def test_comparison_table_and_plot(runs):
    table = comparison_table(runs)
    assert list(table.index) == list(STRATEGIES) and table.index.name == "strategy"
    assert {"accuracy", "macro_f1", "TDE_recall", "rare_recall", "epochs", "wall_time_s"} <= set(table.columns)
    for strategy, result in runs.items():
        assert table.loc[strategy, "TDE_recall"] == pytest.approx(result.summary()["rare_recall"]["TDE"])
        assert table.loc[strategy, "macro_f1"] == pytest.approx(result.summary()["macro_f1"])
    fig = plot_strategy_comparison(table)
    ax = fig.axes[0]
    assert ax.get_xlabel() and "0 to 1" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == [s.replace("_", " ") for s in STRATEGIES]
    assert len(ax.patches) == len(STRATEGIES) * 3  # macro-F1, accuracy, TDE recall
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="metrics"):
        plot_strategy_comparison(table, metrics=["nope"])
    with pytest.raises(ValueError, match="results"):
        comparison_table([])


def test_balanced_sampler_batches_are_balanced_and_the_epoch_is_as_long(tiny_split):
    train_lcs, train_labels, _, _ = tiny_split
    dataset = LightCurveDataset(train_lcs, train_labels, classes=TRANSIENT_CLASSES, max_sequence_length=8)
    counts = Counter(train_labels)
    assert counts["TDE"] <= 6 < counts["SNIa"]
    loader = make_train_loader(dataset, "balanced_sampler", 20, seed=0)
    batches = list(loader)
    assert len(batches) == 3  # ceil(60 / 20): as many examples per epoch as a shuffled pass
    for batch in batches:
        per_class = np.bincount(batch["y"].numpy(), minlength=5)
        assert list(per_class) == [4, 4, 4, 4, 4]
    plain = list(make_train_loader(dataset, "weighted_ce", 20, seed=0))
    assert sorted(torch.cat([b["y"] for b in plain]).tolist()) == sorted(dataset.targets.tolist())


def test_weighted_losses_weight_rare_classes_more(tiny_split):
    train_lcs, train_labels, _, _ = tiny_split
    targets = np.array([TRANSIENT_CLASSES.index(v) for v in train_labels])
    weighted = make_loss("weighted_ce", targets, 5)
    assert isinstance(weighted, nn.CrossEntropyLoss)
    w = weighted.weight
    counts = np.bincount(targets, minlength=5)
    order = np.argsort(counts)
    assert np.all(np.diff(w.numpy()[order]) <= 1e-6), "rarer classes must weigh at least as much"
    assert w[TRANSIENT_CLASSES.index("TDE")] > 2 * w[TRANSIENT_CLASSES.index("SNIa")]
    assert w.numpy() * counts == pytest.approx(np.full(5, (w.numpy() * counts)[0]))  # every class contributes alike
    focal = make_loss("focal", targets, 5, focal_gamma=1.5)
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.5 and torch.allclose(focal.alpha, w)
    for plain in ("ce", "balanced_sampler"):
        loss = make_loss(plain, targets, 5)
        assert isinstance(loss, nn.CrossEntropyLoss) and loss.weight is None
    # On a batch where the model is equally unsure of everything, missing a TDE costs more than missing a SN Ia.
    logits = torch.zeros(2, 5)
    tde, ia = TRANSIENT_CLASSES.index("TDE"), TRANSIENT_CLASSES.index("SNIa")
    per_example = nn.functional.cross_entropy(logits, torch.tensor([tde, ia]), weight=w, reduction="none")
    assert per_example[0] > per_example[1]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_kind_builds_and_classifies(model):
    net = build_model(model, 5, 5, {"hidden": (8,)} if model == "mlp" else None)
    x, mask = torch.randn(3, 7, 5), torch.ones(3, 7, dtype=torch.bool)
    assert net(x, mask).shape == (3, 5)


def test_checkpoint_and_other_models(tiny_split, tmp_path):
    path = tmp_path / "best.pt"
    result = train_with_imbalance_handling(*tiny_split, strategy="focal", model="lstm", epochs=1, batch_size=32,
                                           max_sequence_length=12, progress=False, device="cpu", checkpoint_path=path,
                                           model_kwargs={"hidden_size": 8}, scheduler="plateau", mixup_alpha=0.2)
    assert path.exists() and result.settings["model"] == "lstm" and result.settings["mixup_alpha"] == 0.2
    assert json.dumps(result.settings, default=list)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"strategy": "smote"}, "strategy"),
    ({"model": "cnn"}, "model"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"lr": -1.0}, "lr"),
    ({"scheduler": "step"}, "scheduler"),
    ({"patience": -1}, "patience"),
    ({"mixup_alpha": -0.1}, "mixup_alpha"),
    ({"max_sequence_length": 0}, "max_sequence_length"),
    ({"seed": -1}, "seed"),
    ({"classes": ["SNIa"]}, "classes"),
    ({"rare_classes": ["KN"]}, "rare_classes"),
    ({"focal_gamma": -2.0, "strategy": "focal"}, "focal_gamma"),
])
def test_bad_arguments_raise_value_error_naming_the_argument(tiny_split, kwargs, name):
    with pytest.raises(ValueError, match=name):
        train_with_imbalance_handling(*tiny_split, **{**TINY, **kwargs})


def test_bad_data_raise_value_error_naming_the_argument(tiny_split):
    train_lcs, train_labels, val_lcs, val_labels = tiny_split
    with pytest.raises(ValueError, match="train_labels"):
        train_with_imbalance_handling(train_lcs, train_labels[:-1], val_lcs, val_labels, **TINY)
    with pytest.raises(ValueError, match="val_lcs"):
        train_with_imbalance_handling(train_lcs, train_labels, [], [], **TINY)
    with pytest.raises(ValueError, match="not in classes"):
        train_with_imbalance_handling(train_lcs, train_labels, val_lcs, ["KN"] * len(val_lcs), **TINY)
    with pytest.raises(ValueError, match="strategies"):
        from exowavenet_lib.imbalance import compare_strategies

        compare_strategies(train_lcs, train_labels, val_lcs, val_labels, strategies=["ce", "ce"])


def test_bench_classifier_writes_json_and_plots(tmp_path):
    from exowavenet_lib.bench.classifier import SMOKE_PARAMETERS, bench_classifier

    report = bench_classifier(n_objects=150, seed=0, output_dir=tmp_path, parameters={**SMOKE_PARAMETERS, "epochs": 1})
    saved = json.loads((tmp_path / "classifier.json").read_text())
    assert saved["test"]["macro_f1"] == pytest.approx(report["test"]["macro_f1"])
    assert set(saved["test"]["recall"]) == set(TRANSIENT_CLASSES) and "TDE" in saved["test"]["rare_recall"]
    assert saved["split"]["test"]["TDE"] >= 1 and saved["wall_time_s"] > 0 and saved["machine"]["cpus"]
    assert saved["parameters"]["epochs"] == 1 and "load_average" in saved
    for name in ("classifier_confusion.png", "classifier_history.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert isinstance(pd.DataFrame(saved["history"]), pd.DataFrame)
    with pytest.raises(ValueError, match="n_objects"):
        bench_classifier(n_objects=10, seed=0, output_dir=tmp_path)
    with pytest.raises(ValueError, match="strategy"):
        bench_classifier(n_objects=200, seed=0, strategy="smote", output_dir=tmp_path)


@pytest.mark.parametrize("smoke", [False, True])
def test_notebook_08_parameters_are_the_benchmark_parameters(smoke):
    import nbformat

    from exowavenet_lib.bench.classifier import FULL_PARAMETERS, SMOKE_PARAMETERS
    from tests.conftest import ROOT

    nb = nbformat.read(ROOT / "solutions" / "08_class_imbalance.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    namespace = {"smoke_mode": lambda: smoke}
    exec(cell.source, namespace)  # noqa: S102 - our own notebook's parameters cell
    expected = SMOKE_PARAMETERS if smoke else FULL_PARAMETERS
    names = {"n_objects": "N_OBJECTS", "model": "MODEL", "model_kwargs": "MODEL_KWARGS", "strategy": "STRATEGY",
             "weight_scheme": "WEIGHT_SCHEME", "beta": "BETA",
             "epochs": "EPOCHS", "batch_size": "BATCH_SIZE", "lr": "LR", "scheduler": "SCHEDULER",
             "patience": "PATIENCE", "max_sequence_length": "MAX_SEQUENCE_LENGTH"}
    assert set(names) == set(expected)
    assert {key: namespace[name] for key, name in names.items()} == expected


def test_cli_bench_classifier_dispatches_with_seed_and_smoke_parameters(tmp_path, capsys, monkeypatch):
    from exowavenet_lib.bench import classifier
    from exowavenet_lib.cli import main

    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return {"benchmark": "classifier"}

    monkeypatch.setattr(classifier, "bench_classifier", fake)
    assert main(["bench", "classifier", "--smoke", "--seed", "2", "--output-dir", str(tmp_path)]) == 0
    assert main(["bench", "classifier", "--output-dir", str(tmp_path)]) == 0
    assert calls == [{"seed": 2, "output_dir": tmp_path, "parameters": classifier.SMOKE_PARAMETERS},
                     {"seed": 0, "output_dir": tmp_path, "parameters": None}]
    assert json.loads(capsys.readouterr().out.split("\n}\n")[0] + "}")["benchmark"] == "classifier"
