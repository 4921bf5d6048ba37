"""Plausible wrong answers for notebook 09 (experiment tracking and sweeps, offline first).

``_make_model``, ``_train`` and ``_objective_factory`` are correct (they follow the solution notebook); each mutant
changes one thing and its docstring says what.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from exowavenet_lib.data import collate_lightcurves
from exowavenet_lib.models import LightCurveLSTM, SimplePhotometryMLP
from exowavenet_lib.tracking import TrialPruned
from exowavenet_lib.train import evaluate_model, train_epoch

# ---------------------------------------------------------------------------------------------------------- 1a


def env_mode_beats_explicit(explicit, env, server_answers):
    """WANDB_MODE is read before the explicit argument: the precedence is reversed."""
    requested = env.get("WANDB_MODE") or explicit
    if requested in ("offline", "disabled"):
        return requested
    if not env.get("WANDB_API_KEY"):
        return "offline"
    return "online" if server_answers() else "offline"


def online_without_key(explicit, env, server_answers):
    """Never looks for a key: goes online whenever the server answers (and contacts it without a key)."""
    requested = explicit if explicit is not None else (env.get("WANDB_MODE") or None)
    if requested in ("offline", "disabled"):
        return requested
    return "online" if server_answers() else "offline"


def trusts_requested_online(explicit, env, server_answers):
    """An explicit or WANDB_MODE 'online' with a key is granted without asking the server (the ~100 s hang)."""
    requested = explicit if explicit is not None else (env.get("WANDB_MODE") or None)
    if requested in ("offline", "disabled"):
        return requested
    if not env.get("WANDB_API_KEY"):
        return "offline"
    if requested == "online":
        return "online"
    return "online" if server_answers() else "offline"


def probes_first(explicit, env, server_answers):
    """Asks the server before reading the request: right modes, but a 2-s network call even for offline runs."""
    answers = server_answers()
    requested = explicit if explicit is not None else (env.get("WANDB_MODE") or None)
    if requested in ("offline", "disabled"):
        return requested
    if not env.get("WANDB_API_KEY"):
        return "offline"
    return "online" if answers else "offline"


# ---------------------------------------------------------------------------------------------------------- 2a


def _make_model(config, n_features, n_classes):
    kind, width, layers, dropout = config["model"], config["hidden_size"], config["num_layers"], config["dropout"]
    if kind == "mlp":
        return SimplePhotometryMLP(n_features, n_classes, hidden=(width,) * layers, dropout=dropout,
                                   pooling="meanmax")
    if kind == "gru":
        return LightCurveLSTM(n_features, n_classes, hidden_size=width, num_layers=layers, dropout=dropout,
                              cell="gru")
    raise ValueError(f"config['model'] must be 'mlp' or 'gru', got {kind!r}")


def ignores_num_layers(config, n_features, n_classes):
    """One hidden layer / one recurrent layer whatever config['num_layers'] says."""
    return _make_model({**config, "num_layers": 1}, n_features, n_classes)


def lstm_cell(config, n_features, n_classes):
    """'gru' builds LightCurveLSTM with its default cell: an LSTM, not a GRU."""
    if config["model"] == "gru":
        return LightCurveLSTM(n_features, n_classes, hidden_size=config["hidden_size"],
                              num_layers=config["num_layers"], dropout=config["dropout"])
    return _make_model(config, n_features, n_classes)


def ignores_dropout(config, n_features, n_classes):
    """config['dropout'] is never passed: the models keep their default dropout."""
    if config["model"] == "mlp":
        return SimplePhotometryMLP(n_features, n_classes, hidden=(config["hidden_size"],) * config["num_layers"],
                                   pooling="meanmax")
    return _make_model(config, n_features, n_classes)


def unknown_model_falls_back(config, n_features, n_classes):
    """Any model name other than 'gru' silently gives an MLP: a typo in a sweep trains the wrong network."""
    if config["model"] == "gru":
        return _make_model(config, n_features, n_classes)
    return _make_model({**config, "model": "mlp"}, n_features, n_classes)


# ---------------------------------------------------------------------------------------------------------- 2b


def _quick_figure():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set(xlabel="Days since first observation", ylabel="Flux")
    return fig


def _train(config, tracker, train_set, val_set, trial=None, *, lr=None, step_offset=0, report="val_macro_f1",
           matrix_set="val", returns="best"):
    """The reference train_with_wandb, with switches for the mutants below."""
    classes = list(train_set.classes)
    model = _make_model(config, train_set[0]["x"].shape[-1], len(classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"] if lr is None else lr)
    loss_fn = nn.CrossEntropyLoss()
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True, collate_fn=collate_lightcurves)
    val_loader = DataLoader(val_set, batch_size=256, collate_fn=collate_lightcurves)
    best_f1, best_result, last = -math.inf, None, None
    for epoch in range(1, config["epochs"] + 1):
        train_loss = train_epoch(model, train_loader, loss_fn, optimizer, "cpu")
        result = evaluate_model(model, val_loader, loss_fn, "cpu")
        macro_f1 = float(result.metrics(classes).compute()["macro_f1"])
        logged = {"epoch": epoch - step_offset, "train_loss": train_loss, "val_loss": result.loss,
                  "val_accuracy": result.accuracy, "val_macro_f1": macro_f1}
        tracker.log_metrics(logged, step=epoch - step_offset)
        if macro_f1 > best_f1:
            best_f1, best_result = macro_f1, result
        last = logged
        if trial is not None and report is not None:
            trial.report(epoch, logged[report])
    if matrix_set == "train":
        shown = evaluate_model(model, DataLoader(train_set, batch_size=256, collate_fn=collate_lightcurves),
                               loss_fn, "cpu")
    else:
        shown = best_result
    tracker.log_confusion_matrix(shown.y_true, shown.y_pred, classes)
    tracker.log_figure("light_curve_predictions", _quick_figure())
    return {"best": best_f1, "last": last["val_macro_f1"], "accuracy": last["val_accuracy"]}[returns]


def returns_last_epoch(config, tracker, train_set, val_set, trial=None):
    """Returns the last epoch's macro-F1, not the best one."""
    return _train(config, tracker, train_set, val_set, trial, returns="last")


def epochs_from_zero(config, tracker, train_set, val_set, trial=None):
    """Logs epoch and step from 0 (epoch - 1): the x axis is off by one against History and the sweep."""
    return _train(config, tracker, train_set, val_set, trial, step_offset=1)


def ignores_learning_rate(config, tracker, train_set, val_set, trial=None):
    """The optimiser uses a fixed lr=1e-3 instead of config['lr']: a sweep over lr changes nothing."""
    return _train(config, tracker, train_set, val_set, trial, lr=1e-3)


def reports_validation_loss(config, tracker, train_set, val_set, trial=None):
    """Reports val_loss to the trial although the sweep maximises val_macro_f1: hyperband prunes the wrong trials."""
    return _train(config, tracker, train_set, val_set, trial, report="val_loss")


def never_reports(config, tracker, train_set, val_set, trial=None):
    """Ignores `trial`: no intermediate reports, so hyperband can never stop a trial."""
    return _train(config, tracker, train_set, val_set, trial, report=None)


def confusion_matrix_of_training_set(config, tracker, train_set, val_set, trial=None):
    """Logs the confusion matrix of the training set (optimistic), not of the validation set."""
    return _train(config, tracker, train_set, val_set, trial, matrix_set="train")


# ---------------------------------------------------------------------------------------------------------- 3a


def _sweep(epochs):
    return {
        "name": "exowavenet-09-sweep",
        "method": "bayes",
        "metric": {"name": "val_macro_f1", "goal": "maximize"},
        "parameters": {
            "model": {"values": ["mlp", "gru"]},
            "lr": {"distribution": "log_uniform_values", "min": 3e-4, "max": 3e-2},
            "hidden_size": {"distribution": "q_log_uniform_values", "min": 8, "max": 128, "q": 8},
            "num_layers": {"distribution": "int_uniform", "min": 1, "max": 2},
            "dropout": {"distribution": "q_uniform", "min": 0.0, "max": 0.4, "q": 0.1},
            "batch_size": {"values": [32, 64]},
            "epochs": {"value": epochs},
        },
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    }


def minimizes_macro_f1(epochs):
    """goal 'minimize' for macro-F1: the sweep hunts for the worst model."""
    config = _sweep(epochs)
    config["metric"]["goal"] = "minimize"
    return config


def log_uniform_exponents(epochs):
    """'log_uniform' with min 3e-4, max 3e-2: W&B reads them as exponents, so lr is drawn between 1.0003 and 1.03."""
    config = _sweep(epochs)
    config["parameters"]["lr"] = {"distribution": "log_uniform", "min": 3e-4, "max": 3e-2}
    return config


def float_bounds_for_layers(epochs):
    """num_layers with bounds 1.0 and 2.0 and no distribution: W&B infers 'uniform' and draws floats like 1.37."""
    config = _sweep(epochs)
    config["parameters"]["num_layers"] = {"min": 1.0, "max": 2.0}
    return config


def no_early_termination(epochs):
    """Forgets early_terminate: every trial runs all its epochs, hopeless ones too."""
    config = _sweep(epochs)
    del config["early_terminate"]
    return config


def fixed_epochs(epochs):
    """Ignores the argument: epochs is always the constant 8."""
    return _sweep(8)


def uniform_learning_rate(epochs):
    """lr uniform between 3e-4 and 3e-2: nine draws in ten above 3e-3, small learning rates barely tried."""
    config = _sweep(epochs)
    config["parameters"]["lr"] = {"distribution": "uniform", "min": 3e-4, "max": 3e-2}
    return config


# ---------------------------------------------------------------------------------------------------------- 4a


def _objective_factory(train_set, val_set, start_tracker, *, transform=lambda best: best, pass_trial=True):
    def objective(params, trial):
        config = dict(params)
        with start_tracker(config, f"trial-{trial.number}") as tracker:
            best = _train(config, tracker, train_set, val_set, trial=trial if pass_trial else None)
        return {"val_macro_f1": transform(best)}

    return objective


def shares_one_tracker(train_set, val_set, start_tracker):
    """Opens one tracker in make_objective and logs every trial into it: all trials end up in one run."""
    tracker = start_tracker({}, "sweep").start()

    def objective(params, trial):
        best = _train(dict(params), tracker, train_set, val_set, trial=trial)
        return {"val_macro_f1": best}

    return objective


def does_not_pass_trial(train_set, val_set, start_tracker):
    """Calls train_with_wandb without trial=: no reports, so hyperband never prunes."""
    return _objective_factory(train_set, val_set, start_tracker, pass_trial=False)


def negates_metric(train_set, val_set, start_tracker):
    """Returns -best 'because optuna minimises': run_sweep already maximises, so the sweep picks the worst."""
    return _objective_factory(train_set, val_set, start_tracker, transform=lambda best: -best)


def swallows_pruning(train_set, val_set, start_tracker):
    """Catches TrialPruned and returns 0: pruned trials are recorded as completed with macro-F1 0."""
    inner = _objective_factory(train_set, val_set, start_tracker)

    def objective(params, trial):
        try:
            return inner(params, trial)
        except TrialPruned:
            return {"val_macro_f1": 0.0}

    return objective


def no_with_block(train_set, val_set, start_tracker):
    """start() ... finish() without a with block: a pruned trial's run is never finished."""

    def objective(params, trial):
        config = dict(params)
        tracker = start_tracker(config, f"trial-{trial.number}").start()
        best = _train(config, tracker, train_set, val_set, trial=trial)
        tracker.finish()
        return {"val_macro_f1": best}

    return objective


# ---------------------------------------------------------------------------------------------------------- 4b


def includes_pruned(trials, metric, goal, k=3):
    """Sorts every trial with a finite metric, pruned and failed ones included."""
    done = trials[np.isfinite(trials[metric].astype(float))]
    return done.sort_values(metric, ascending=(goal == "minimize")).head(k)


def ignores_goal(trials, metric, goal, k=3):
    """Always highest first: wrong for a metric to minimise such as val_loss."""
    done = trials[(trials["state"] == "COMPLETE") & np.isfinite(trials[metric].astype(float))]
    return done.sort_values(metric, ascending=False).head(k)


def hardcoded_metric(trials, metric, goal, k=3):
    """Sorts by 'val_macro_f1' whatever `metric` says."""
    done = trials[trials["state"] == "COMPLETE"].dropna(subset=["val_macro_f1"])
    return done.sort_values("val_macro_f1", ascending=(goal == "minimize")).head(k)


def keeps_nan(trials, metric, goal, k=3):
    """Filters on state only: a completed trial with a NaN metric is kept (sorted last)."""
    done = trials[trials["state"] == "COMPLETE"]
    return done.sort_values(metric, ascending=(goal == "minimize")).head(k)


def fills_nan_in_place(trials, metric, goal, k=3):
    """Replaces NaN metrics by -inf in the caller's table (to sort them last): the sweep's results are altered."""
    trials[metric] = trials[metric].astype(float).fillna(-np.inf if goal == "maximize" else np.inf)
    done = trials[(trials["state"] == "COMPLETE") & np.isfinite(trials[metric])]
    return done.sort_values(metric, ascending=(goal == "minimize")).head(k)


MUTANTS = {
    "1a": [env_mode_beats_explicit, online_without_key, trusts_requested_online, probes_first],
    "2a": [ignores_num_layers, lstm_cell, ignores_dropout, unknown_model_falls_back],
    "2b": [returns_last_epoch, epochs_from_zero, ignores_learning_rate, reports_validation_loss, never_reports,
           confusion_matrix_of_training_set],
    "3a": [minimizes_macro_f1, log_uniform_exponents, float_bounds_for_layers, no_early_termination, fixed_epochs,
           uniform_learning_rate],
    "4a": [shares_one_tracker, does_not_pass_trial, negates_metric, swallows_pruning, no_with_block],
    "4b": [includes_pruned, ignores_goal, hardcoded_metric, keeps_nan, fills_nan_in_place],
}
