"""Checks for notebook 09 — experiment tracking and sweeps, offline first.

Nothing here touches the network or wandb: the mode rule is compared with :func:`resolve_mode` under a fake server
probe, training functions log into a recording fake tracker (and report into a fake sweep trial) on a tiny simulated
data set (50 light curves, 12 observations each, a one-layer MLP), sweep configs are read through the library's own
translation, and results tables are small hand-written DataFrames.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import optuna
import pandas as pd
import torch

from exowavenet_lib.checks._core import (
    CheckFailed,
    attempt,
    check,
    describe_outcome,
    expect,
    expect_error,
    outcome,
    show,
)
from exowavenet_lib.data import LightCurveDataset
from exowavenet_lib.metrics import MetricsTracker
from exowavenet_lib.models import LightCurveLSTM, SimplePhotometryMLP
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES, simulate_transients
from exowavenet_lib.tracking import TrialPruned, resolve_mode, translate_pruner, translate_search_space

_KEY = "0123456789abcdef" * 2 + "01234567"  # 40 characters, like a W&B API key
_NO_NETRC = {"HOME": "/nonexistent-exowavenet-home"}  # resolve_mode must not find a real netrc


# ---------------------------------------------------------------------------------------------------------- 1a

_MODE_CASES = [
    # (explicit, env, server answers, why)
    (None, {}, True, "no key: offline, and the server is never contacted"),
    (None, {"WANDB_API_KEY": _KEY}, True, "a key and a server that answers: online"),
    (None, {"WANDB_API_KEY": _KEY}, False, "a key but no answer: offline"),
    (None, {"WANDB_MODE": "offline", "WANDB_API_KEY": _KEY}, True, "WANDB_MODE=offline is granted at once"),
    (None, {"WANDB_MODE": "disabled", "WANDB_API_KEY": _KEY}, True, "WANDB_MODE=disabled is granted at once"),
    (None, {"WANDB_MODE": "online"}, True, "online asked for, but no key: offline without a network call"),
    (None, {"WANDB_MODE": "online", "WANDB_API_KEY": _KEY}, False, "online asked for, the server is silent: offline"),
    ("offline", {"WANDB_MODE": "online", "WANDB_API_KEY": _KEY}, True, "the explicit mode wins over WANDB_MODE"),
    ("online", {"WANDB_MODE": "disabled", "WANDB_API_KEY": _KEY}, True, "the explicit mode wins over WANDB_MODE"),
    ("disabled", {"WANDB_API_KEY": _KEY}, True, "an explicit 'disabled' is granted at once"),
    ("online", {"WANDB_API_KEY": _KEY}, False, "an explicit 'online' still needs the server to answer"),
    (None, {"WANDB_MODE": "", "WANDB_API_KEY": _KEY}, True, "an empty WANDB_MODE counts as unset"),
]


class _Server:
    """A fake 'does the W&B server answer?' function that counts its calls."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self, *args, **kwargs) -> bool:
        self.calls += 1
        return self.answer


def _env_text(env: Mapping[str, str]) -> str:
    return show({k: ("<key>" if k == "WANDB_API_KEY" else v) for k, v in env.items()})


@check("09", "1a", hint="First the request: `explicit` if it is not None, else env.get('WANDB_MODE') (an empty string "
       "counts as None). 'offline' and 'disabled' are returned at once, without calling server_answers(). For "
       "everything else (online asked for, or nothing asked): no WANDB_API_KEY in env -> 'offline' (do not call "
       "server_answers); with a key, 'online' if server_answers() else 'offline'.")
def q1a(choose_mode):
    """choose_mode(explicit, env, server_answers) follows the rule and calls the server only when it matters."""
    explicit, env, answer, _ = _MODE_CASES[0]
    attempt(choose_mode, explicit, dict(env), _Server(answer))
    for explicit, env, answer, why in _MODE_CASES:
        expected_probe = _Server(answer)
        want, _reason = resolve_mode(explicit, {**_NO_NETRC, **env}, probe=expected_probe)
        server, given = _Server(answer), dict(env)
        got = choose_mode(explicit, given, server)
        call = f"choose_mode({explicit!r}, {_env_text(env)}, server answers {answer})"
        expect(got == want, f"{call} -> {want!r} ({why})", got)
        expect(given == env, f"{call} to leave env unchanged", _env_text(given))
        if expected_probe.calls == 0:
            expect(server.calls == 0, f"{call} not to call server_answers() ({why}): a call can take 2 s, or hang, "
                   "and is useless here", f"{server.calls} call(s)")
        else:
            expect(server.calls == 1, f"{call} to call server_answers() exactly once", f"{server.calls} call(s)")
    return (f"all {len(_MODE_CASES)} cases agree with resolve_mode, and the server is asked only when a key exists "
            "and online is possible")


# ---------------------------------------------------------------------------------------------------------- 2a

_N_FEATURES, _N_CLASSES = 5, 4


def _forward(model, what: str) -> None:
    x = torch.randn(3, 7, _N_FEATURES)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    try:
        with torch.no_grad():
            out = model.eval()(x, mask)
    except Exception as err:  # noqa: BLE001 - reported to the learner
        raise CheckFailed(f"expected {what} to accept x (3, 7, {_N_FEATURES}) and a mask; got "
                          f"{type(err).__name__}: {err}") from err
    expect(tuple(out.shape) == (3, _N_CLASSES), f"{what} to return logits of shape (3, {_N_CLASSES})",
           tuple(out.shape))


def _mlp_layers(model) -> tuple[list[int], list[float]]:
    linear = [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)]
    dropout = [m.p for m in model.encoder if isinstance(m, torch.nn.Dropout)]
    return linear, dropout


@check("09", "2a", hint="Read the four keys, then `if config['model'] == 'mlp': return SimplePhotometryMLP(n_features, "
       "n_classes, hidden=(hidden_size,) * num_layers, dropout=dropout, pooling='meanmax')`; for 'gru': "
       "`LightCurveLSTM(n_features, n_classes, hidden_size=..., num_layers=..., dropout=..., cell='gru')` (the default "
       "cell is an LSTM). Anything else: `raise ValueError(f\"config['model'] must be 'mlp' or 'gru', got ...\")`.")
def q2a(make_model):
    """make_model builds the MLP or GRU the config describes, and rejects unknown model names."""
    gru_config = {"model": "gru", "hidden_size": 12, "num_layers": 2, "dropout": 0.3, "lr": 1e-3, "epochs": 3}
    given = dict(gru_config)
    gru = attempt(make_model, given, _N_FEATURES, _N_CLASSES)
    expect(given == gru_config, "make_model to leave config unchanged", given)
    expect(isinstance(gru, LightCurveLSTM), "config['model'] == 'gru' to give a LightCurveLSTM", type(gru).__name__)
    expect(gru.cell == "gru", "a GRU cell (cell='gru'; LightCurveLSTM's default is an LSTM)", f"cell={gru.cell!r}")
    expect(gru.rnn.input_size == _N_FEATURES and gru.head.out_features == _N_CLASSES,
           f"n_features={_N_FEATURES} inputs and n_classes={_N_CLASSES} outputs",
           (gru.rnn.input_size, gru.head.out_features))
    expect(gru.rnn.hidden_size == 12, "hidden_size=12 from the config", gru.rnn.hidden_size)
    expect(gru.rnn.num_layers == 2, "num_layers=2 from the config", gru.rnn.num_layers)
    expect(math.isclose(gru.dropout.p, 0.3), "dropout=0.3 from the config", gru.dropout.p)
    _forward(gru, "the GRU")

    mlp_config = {"model": "mlp", "hidden_size": 10, "num_layers": 3, "dropout": 0.2, "batch_size": 32}
    mlp = make_model(dict(mlp_config), _N_FEATURES, _N_CLASSES)
    expect(isinstance(mlp, SimplePhotometryMLP), "config['model'] == 'mlp' to give a SimplePhotometryMLP",
           type(mlp).__name__)
    widths, dropouts = _mlp_layers(mlp)
    expect(widths == [10, 10, 10], "hidden=(10, 10, 10): num_layers=3 hidden layers of hidden_size=10", widths)
    expect(dropouts and all(math.isclose(p, 0.2) for p in dropouts), "dropout=0.2 after every hidden layer",
           dropouts)
    expect(mlp.pooling == "meanmax", "pooling='meanmax'", mlp.pooling)
    expect(mlp.head.out_features == _N_CLASSES, f"{_N_CLASSES} output classes", mlp.head.out_features)
    _forward(mlp, "the MLP")
    one = make_model({"model": "mlp", "hidden_size": 24, "num_layers": 1, "dropout": 0.0}, _N_FEATURES, _N_CLASSES)
    expect(_mlp_layers(one)[0] == [24], "num_layers=1, hidden_size=24 -> hidden=(24,)", _mlp_layers(one)[0])

    expect_error(ValueError, "config['model'] == 'cnn'", make_model,
                 {"model": "cnn", "hidden_size": 8, "num_layers": 1, "dropout": 0.0}, _N_FEATURES, _N_CLASSES,
                 mentions="model")
    return "the config's model, width, depth and dropout are used, and an unknown model fails loudly"


# ---------------------------------------------------------------------------------------------------------- 2b


@functools.cache
def _tiny_lightcurves() -> tuple[tuple, tuple]:
    lightcurves, labels = simulate_transients(50, seed=3)
    return tuple(lightcurves), tuple(labels)


def _tiny_sets() -> tuple[LightCurveDataset, LightCurveDataset]:
    lightcurves, labels = _tiny_lightcurves()
    classes = list(TRANSIENT_CLASSES)
    train = LightCurveDataset(list(lightcurves[:35]), list(labels[:35]), classes=classes, max_sequence_length=12)
    val = LightCurveDataset(list(lightcurves[35:]), list(labels[35:]), classes=classes, max_sequence_length=12)
    return train, val


class _Recorder:
    """A fake Tracker that records what is logged (the methods train_with_wandb may call)."""

    def __init__(self, config=None, name=None) -> None:
        self.config = dict(config or {})
        self.name = name
        self.metrics: list[tuple[dict, int | None]] = []
        self.matrices: list[tuple[list, list, list]] = []
        self.figures: list[tuple[str, object]] = []
        self.other: list[str] = []
        self.summary: dict = {}
        self.starts = 0
        self.finishes = 0
        self.mode = "disabled"
        self.run = None

    # lifecycle
    def start(self):
        self.starts += 1
        return self

    def finish(self, exit_code: int = 0) -> None:
        self.finishes += 1

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.finish()

    # logging
    def log_metrics(self, metrics, step=None) -> None:
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a dict of name -> value, got {type(metrics).__name__}")
        clean = {}
        for key, value in metrics.items():
            if hasattr(value, "item"):
                value = value.item()
            clean[key] = value
        self.metrics.append((clean, step))
        self.summary.update({k: v for k, v in clean.items() if isinstance(v, (int, float))})

    def log_confusion_matrix(self, y_true, y_pred, class_names, **kwargs):
        y_true = np.asarray(y_true).tolist()
        y_pred = np.asarray(y_pred).tolist()
        self.matrices.append((y_true, y_pred, list(class_names)))
        k = len(class_names)
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
        return matrix

    def log_figure(self, name, figure, **kwargs) -> None:
        self.figures.append((name, figure))

    def log_config(self, config) -> None:
        self.config.update(config)

    def log_table(self, name, table) -> None:
        self.other.append(f"table {name}")

    def log_history(self, history, **kwargs) -> None:
        self.other.append("history")

    def series(self, key: str) -> list:
        return [metrics.get(key) for metrics, _ in self.metrics]


class _Trial:
    """A fake sweep trial: records report(step, value); optionally prunes at a step."""

    def __init__(self, number: int = 0, prune_at: int | None = None) -> None:
        self.number = number
        self.params: dict = {}
        self.prune_at = prune_at
        self.reports: list[tuple[int, float]] = []

    def report(self, step, value) -> None:
        self.reports.append((int(step), float(value)))
        if self.prune_at is not None and step >= self.prune_at:
            raise TrialPruned(f"trial {self.number} pruned at step {step}")

    __call__ = report

    def should_prune(self) -> bool:
        return False

    def log(self, metrics) -> None:
        pass


_CONFIG = {"model": "mlp", "hidden_size": 16, "num_layers": 1, "dropout": 0.0, "lr": 1e-2, "batch_size": 16,
           "epochs": 3}
_REQUIRED = ("epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1")


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _expect_epoch_logs(recorder: _Recorder, epochs: int, what: str) -> list[float]:
    expect(len(recorder.metrics) == epochs, f"{what}: one tracker.log_metrics call per epoch ({epochs})",
           f"{len(recorder.metrics)} call(s)")
    for k, (metrics, step) in enumerate(recorder.metrics, start=1):
        missing = [key for key in _REQUIRED if key not in metrics]
        expect(not missing, f"every epoch's dict to hold {list(_REQUIRED)}", f"epoch {k} lacks {missing}")
        bad = {key: metrics[key] for key in _REQUIRED if not (_is_real(metrics[key]) and math.isfinite(metrics[key]))}
        expect(not bad, "finite numbers (use float(...) or .item())", bad)
        expect(metrics["epoch"] == k and step == k, f"epoch {k} logged with 'epoch': {k} and step={k} (epochs "
               "count from 1, and an explicit step keeps W&B's x axis = epoch)",
               f"'epoch': {metrics['epoch']}, step={step!r}")
        expect(0.0 <= metrics["val_macro_f1"] <= 1.0 and 0.0 <= metrics["val_accuracy"] <= 1.0,
               "val_macro_f1 and val_accuracy between 0 and 1", (metrics["val_macro_f1"], metrics["val_accuracy"]))
    return [float(v) for v in recorder.series("val_macro_f1")]


@check("09", "2b", hint="Loop `for epoch in range(1, config['epochs'] + 1)`: loss = train_epoch(model, train_loader, "
       "loss_fn, optimizer, device); result = evaluate_model(model, val_loader, loss_fn, device); f1 = "
       "result.metrics(classes).compute()['macro_f1']; tracker.log_metrics({'epoch': epoch, 'train_loss': loss, "
       "'val_loss': result.loss, 'val_accuracy': result.accuracy, 'val_macro_f1': f1}, step=epoch); keep the "
       "result with the highest f1; `if trial is not None: trial.report(epoch, f1)`. After the loop, log the best "
       "result's confusion matrix (y_true, y_pred, classes) and figure, and return the best f1. The optimiser must "
       "use config['lr'].")
def q2b(train_with_wandb):
    """train_with_wandb logs each epoch, the best epoch's confusion matrix and a figure; returns the best macro-F1."""
    import matplotlib.pyplot as plt

    train, val = _tiny_sets()
    torch.manual_seed(0)
    recorder, config = _Recorder(), dict(_CONFIG)
    got = attempt(train_with_wandb, config, recorder, train, val)
    expect(config == _CONFIG, "train_with_wandb to leave config unchanged", config)
    expect(_is_real(got) and 0.0 <= float(got) <= 1.0, "the best validation macro-F1, a number in [0, 1]", got)
    f1 = _expect_epoch_logs(recorder, 3, "with config['epochs'] == 3")
    best = max(f1)
    note = " (the last epoch's value, not the best)" if math.isclose(float(got), f1[-1]) else ""
    note = note or (" (that is the val_accuracy)" if math.isclose(float(got), recorder.series("val_accuracy")[-1])
                    else "")
    expect(math.isclose(float(got), best, abs_tol=1e-9),
           f"the best of the logged val_macro_f1 values {show([round(v, 4) for v in f1])}: {best:.4f}",
           f"{float(got):.4f}{note}")

    expect(len(recorder.matrices) == 1, "exactly one tracker.log_confusion_matrix call, after training",
           f"{len(recorder.matrices)} call(s)")
    y_true, y_pred, names = recorder.matrices[0]
    expect(y_true == val.targets.tolist(), f"the confusion matrix of the VALIDATION set: y_true = its {len(val)} "
           "labels, in order (an unshuffled validation loader)", f"y_true of length {len(y_true)}")
    expect(len(y_pred) == len(val), f"{len(val)} predictions", len(y_pred))
    expect(names == list(val.classes), f"the class names {list(val.classes)}", names)
    tracker = MetricsTracker(list(val.classes))
    tracker.update(y_true, y_pred)
    cm_f1 = float(tracker.compute()["macro_f1"])
    expect(math.isclose(cm_f1, best, abs_tol=1e-9), "the confusion matrix of the BEST epoch's predictions (their "
           f"macro-F1 = the returned {best:.4f})", f"predictions with macro-F1 {cm_f1:.4f}")
    expect(len(recorder.figures) >= 1, "a figure logged with tracker.log_figure('light_curve_predictions', fig)",
           "no log_figure call")
    name, figure = recorder.figures[0]
    expect(hasattr(figure, "axes") and hasattr(figure, "savefig") and figure.axes,
           "a matplotlib Figure with axes (from plot_predictions)", type(figure).__name__)
    for _, fig in recorder.figures:
        plt.close(fig)

    trial, recorder = _Trial(number=1), _Recorder()
    train_with_wandb({**_CONFIG, "epochs": 2}, recorder, train, val, trial=trial)
    f1 = _expect_epoch_logs(recorder, 2, "with config['epochs'] == 2")
    expect([s for s, _ in trial.reports] == [1, 2], "trial.report(epoch, val_macro_f1) after each epoch, epochs 1 "
           "and 2 (hyperband needs every epoch)", trial.reports)
    expect(all(math.isclose(v, w, abs_tol=1e-9) for (_, v), w in zip(trial.reports, f1, strict=True)),
           f"the reported values to be the val_macro_f1 values {show([round(v, 4) for v in f1])}",
           [round(v, 4) for _, v in trial.reports])
    for _, fig in recorder.figures:
        plt.close(fig)

    recorder = _Recorder()
    train_with_wandb({**_CONFIG, "lr": 1e-9}, recorder, train, val)
    losses = [float(v) for v in recorder.series("val_loss")]
    spread = max(losses) - min(losses)
    expect(spread < 1e-5, "the optimiser to use config['lr']: with lr=1e-9 the validation loss cannot move",
           f"val_loss values {show([round(v, 5) for v in losses])}")
    for _, fig in recorder.figures:
        plt.close(fig)
    return (f"one log per epoch, step = epoch, the best epoch's confusion matrix and a figure, reports to the trial; "
            f"best macro-F1 {best:.3f} on the tiny data")


# ---------------------------------------------------------------------------------------------------------- 3a

_PARAMETERS = ("model", "lr", "hidden_size", "num_layers", "dropout", "batch_size", "epochs")


def _close(a, b) -> bool:
    return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


@check("09", "3a", hint="{'method': 'bayes', 'metric': {'name': 'val_macro_f1', 'goal': 'maximize'}, 'parameters': "
       "{'model': {'values': [...]}, 'lr': {'distribution': 'log_uniform_values', 'min': 3e-4, 'max': 3e-2}, "
       "'hidden_size': {'distribution': 'q_log_uniform_values', 'min': 8, 'max': 128, 'q': 8}, 'num_layers': "
       "{'distribution': 'int_uniform', 'min': 1, 'max': 2} (integers!), 'dropout': {'distribution': 'q_uniform', "
       "'min': 0.0, 'max': 0.4, 'q': 0.1}, 'batch_size': {'values': [32, 64]}, 'epochs': {'value': epochs}}, "
       "'early_terminate': {'type': 'hyperband', 'min_iter': 2, 'eta': 2}}. 'log_uniform' (without _values) takes "
       "exponents, not values.")
def q3a(make_sweep_config):
    """make_sweep_config(epochs) is the notebook's W&B sweep: method, metric, seven parameters, hyperband."""
    config = attempt(make_sweep_config, 5)
    expect(isinstance(config, Mapping), "a dict (a W&B sweep configuration)", type(config).__name__)
    expect(config.get("method") == "bayes", "'method': 'bayes'", config.get("method"))
    metric = config.get("metric")
    expect(isinstance(metric, Mapping) and metric.get("name") == "val_macro_f1",
           "'metric': {'name': 'val_macro_f1', ...} (the key train_with_wandb's objective returns)", metric)
    expect(metric.get("goal") == "maximize", "goal 'maximize' (a higher macro-F1 is better)", metric.get("goal"))
    params = config.get("parameters")
    expect(isinstance(params, Mapping) and set(params) == set(_PARAMETERS),
           f"'parameters' with exactly the keys {list(_PARAMETERS)}",
           sorted(params) if isinstance(params, Mapping) else params)
    space, err = outcome(translate_search_space, config)
    expect(err is None, "a config W&B (and translate_search_space) accepts", describe_outcome(space, err))
    d = optuna.distributions

    model = space["model"]
    expect(isinstance(model, d.CategoricalDistribution) and sorted(model.choices) == ["gru", "mlp"],
           "model: {'values': ['mlp', 'gru']}", params["model"])
    lr, lr_spec = space["lr"], params["lr"]
    exponents = " ('log_uniform' reads min and max as natural-log EXPONENTS: that samples lr between e**3e-4 and " \
                "e**3e-2, about 1.0; use 'log_uniform_values')" if lr_spec.get("distribution") == "log_uniform" else ""
    expect(isinstance(lr, d.FloatDistribution) and lr.log and _close(lr.low, 3e-4) and _close(lr.high, 3e-2),
           "lr log-uniform between the values 3e-4 and 3e-2", f"{lr_spec} -> {lr}{exponents}")
    hidden_spec = params["hidden_size"]
    expect(hidden_spec.get("distribution") == "q_log_uniform_values" and hidden_spec.get("min") == 8
           and hidden_spec.get("max") == 128 and hidden_spec.get("q") == 8,
           "hidden_size: {'distribution': 'q_log_uniform_values', 'min': 8, 'max': 128, 'q': 8}", hidden_spec)
    layers = space["num_layers"]
    floats = " (float bounds make W&B draw uniform floats such as 1.37: write the integers 1 and 2)" \
        if isinstance(layers, d.FloatDistribution) else ""
    expect(isinstance(layers, d.IntDistribution) and layers.low == 1 and layers.high == 2 and layers.step == 1,
           "num_layers: an integer from 1 to 2 (int_uniform)", f"{params['num_layers']} -> {layers}{floats}")
    dropout = space["dropout"]
    expect(isinstance(dropout, d.FloatDistribution) and _close(dropout.low, 0.0) and _close(dropout.high, 0.4)
           and _close(dropout.step, 0.1) and not dropout.log,
           "dropout: q_uniform from 0.0 to 0.4 with q=0.1", f"{params['dropout']} -> {dropout}")
    batch = space["batch_size"]
    expect(isinstance(batch, d.CategoricalDistribution) and sorted(batch.choices) == [32, 64],
           "batch_size: {'values': [32, 64]}", params["batch_size"])
    epochs = space["epochs"]
    expect(isinstance(epochs, d.CategoricalDistribution) and list(epochs.choices) == [5],
           "epochs: {'value': epochs}, a constant (5 for make_sweep_config(5))", params["epochs"])
    three = make_sweep_config(3)["parameters"]["epochs"]
    expect(three.get("value") == 3, "make_sweep_config(3) to hold 'epochs': {'value': 3}", three)

    early = config.get("early_terminate")
    expect(isinstance(early, Mapping) and early.get("type") == "hyperband" and early.get("min_iter") == 2
           and early.get("eta") == 2, "'early_terminate': {'type': 'hyperband', 'min_iter': 2, 'eta': 2}", early)
    pruner = translate_pruner(config)
    expect(isinstance(pruner, optuna.pruners.HyperbandPruner), "hyperband pruning in the optuna translation",
           type(pruner).__name__)
    return "bayes on val_macro_f1 (maximize), seven parameters with the right distributions, hyperband from epoch 2"


# ---------------------------------------------------------------------------------------------------------- 4a

_TRIAL_PARAMS = {"model": "mlp", "hidden_size": 8, "num_layers": 1, "dropout": 0.0, "lr": 1e-2, "batch_size": 16,
                 "epochs": 2}


class _Factory:
    """A fake start_tracker(config, name) that records its calls and hands out recording trackers."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict, object]] = []
        self.trackers: list[_Recorder] = []

    def __call__(self, config, name):
        self.calls.append((dict(config), name))
        tracker = _Recorder(config, name)
        self.trackers.append(tracker)
        return tracker


def _close_figures(factory: _Factory) -> None:
    import matplotlib.pyplot as plt

    for tracker in factory.trackers:
        for _, fig in tracker.figures:
            plt.close(fig)


@check("09", "4a", hint="def objective(params, trial): config = dict(params); with start_tracker(config, "
       "f'trial-{trial.number}') as tracker: best = train_with_wandb(config, tracker, train_set, val_set, "
       "trial=trial); return {'val_macro_f1': best}. Then `return objective`. Open a new tracker inside objective "
       "(one run per trial), pass trial through, and let TrialPruned propagate.")
def q4a(make_objective):
    """make_objective's objective opens one tracker per trial, passes the trial on, and returns the best macro-F1."""
    train, val = _tiny_sets()
    factory = _Factory()
    objective = attempt(make_objective, train, val, factory)
    expect(callable(objective), "make_objective to return a function objective(params, trial)", objective)
    expect(not factory.calls, "no tracker opened by make_objective itself (one run per trial, opened in objective)",
           f"{len(factory.calls)} start_tracker call(s)")
    torch.manual_seed(0)
    params, trial = dict(_TRIAL_PARAMS), _Trial(number=5)
    out = attempt(objective, params, trial)
    expect(params == _TRIAL_PARAMS, "objective to leave params unchanged", params)
    expect(len(factory.calls) == 1, "one start_tracker(config, name) call per trial", f"{len(factory.calls)} call(s)")
    config, name = factory.calls[0]
    expect(config == _TRIAL_PARAMS, "start_tracker to receive the trial's params as config", config)
    expect(name == "trial-5", "name = f'trial-{trial.number}': 'trial-5'", name)
    tracker = factory.trackers[0]
    expect(tracker.starts == 1 and tracker.finishes == 1, "the tracker started and finished once (a with block)",
           f"{tracker.starts} start(s), {tracker.finishes} finish(es)")
    expect(len(tracker.metrics) == 2, "train_with_wandb to log into the trial's tracker (2 epochs)",
           f"{len(tracker.metrics)} log_metrics call(s)")
    f1 = [float(v) for v in tracker.series("val_macro_f1")]
    expect(len(trial.reports) == 2, "trial passed on to train_with_wandb (one report per epoch): hyperband needs it",
           f"{len(trial.reports)} report(s)")
    expect(isinstance(out, Mapping) and "val_macro_f1" in out, "a dict {'val_macro_f1': best}", out)
    value = out["val_macro_f1"]
    expect(_is_real(value) and math.isclose(float(value), max(f1), abs_tol=1e-9),
           f"the best macro-F1 as it is ({max(f1):.4f}): run_sweep maximises it itself", value)

    objective(dict(_TRIAL_PARAMS), _Trial(number=6))
    expect(len(factory.calls) == 2 and factory.calls[1][1] == "trial-6" and factory.trackers[1] is not tracker,
           "a second trial to open its own tracker, named 'trial-6'", [n for _, n in factory.calls])

    pruned = _Trial(number=7, prune_at=1)
    got, err = outcome(objective, dict(_TRIAL_PARAMS), pruned)
    expect(isinstance(err, TrialPruned), "TrialPruned from trial.report to propagate out of objective (the sweep "
           "records the trial as pruned)", describe_outcome(got, err))
    last = factory.trackers[-1]
    expect(len(factory.calls) == 3 and last.finishes == 1, "the pruned trial's tracker finished anyway (a with "
           "block finishes on an exception)", f"{last.finishes} finish(es)")
    _close_figures(factory)
    return "one tracker per trial, finished even when pruned; the trial reaches train_with_wandb; the best macro-F1"


# ---------------------------------------------------------------------------------------------------------- 4b


def _results_table(metric: str = "val_macro_f1") -> pd.DataFrame:
    return pd.DataFrame({
        "number": [0, 1, 2, 3, 4, 5, 6, 7],
        "state": ["COMPLETE", "PRUNED", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE", "COMPLETE", "RUNNING"],
        metric: [0.50, 0.90, 0.70, 0.95, np.nan, 0.62, 0.41, 0.99],
        "lr": [1e-3, 3e-2, 2e-3, 1e-2, 5e-4, 4e-3, 8e-4, 1e-3],
        "model": ["gru", "mlp", "gru", "gru", "mlp", "gru", "mlp", "gru"],
        "steps": [8, 2, 8, 3, 8, 8, 8, 1],
        "duration_s": [10.0, 2.0, 11.0, 3.0, 9.0, 10.5, 8.0, 1.0],
    }, index=pd.RangeIndex(8))


def _numbers(frame) -> list:
    return frame["number"].tolist() if isinstance(frame, pd.DataFrame) and "number" in frame else frame


@check("09", "4b", hint="Keep the rows with `(trials['state'] == 'COMPLETE') & np.isfinite(trials[metric])`, then "
       "`.sort_values(metric, ascending=(goal == 'minimize')).head(k)`. Use the `metric` argument, not a fixed "
       "column name, and do not sort `trials` in place.")
def q4b(best_trials):
    """best_trials keeps completed trials with a finite metric and sorts them by the goal."""
    table = _results_table()
    original = table.copy()
    top = attempt(best_trials, table, "val_macro_f1", "maximize", k=3)
    expect(table.equals(original), "best_trials to leave the trials table unchanged (no in-place sort, fill or "
           "drop)", f"number {_numbers(table)}, val_macro_f1 {table['val_macro_f1'].tolist()}")
    expect(isinstance(top, pd.DataFrame), "a DataFrame", type(top).__name__)
    expect(list(top.columns) == list(table.columns), f"the same columns {list(table.columns)}", list(top.columns))
    got = _numbers(top)
    why = ""
    if 1 in got or 3 in got or 7 in got:
        why = " (trials 1, 3 and 7 are PRUNED, FAIL and RUNNING: only COMPLETE trials count)"
    expect(got == [2, 5, 0], "trials [2, 5, 0] for goal 'maximize', k=3 (highest completed first)", f"{got}{why}")
    every = _numbers(best_trials(table, "val_macro_f1", "maximize", k=10))
    expect(every == [2, 5, 0, 6], "k=10 to give all 4 completed trials with a finite metric, [2, 5, 0, 6] (trial 4's "
           "metric is NaN)", every)
    low = _numbers(best_trials(table, "val_macro_f1", "minimize", k=2))
    expect(low == [6, 0], "trials [6, 0] for goal 'minimize', k=2 (lowest first)", low)
    loss = _results_table("val_loss")
    by_loss = _numbers(best_trials(loss, "val_loss", "minimize", k=1))
    expect(by_loss == [6], "the `metric` argument used: 'val_loss', minimize, k=1 -> [6]", by_loss)
    return "only completed trials with a finite metric, best first for either goal, input untouched"
