"""Hyperparameter sweeps from one W&B sweep config: on the W&B server when online, with optuna when not.

::

    sweep_config = {
        "method": "bayes",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
            "hidden": {"values": [32, 64, 128]},
            "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
        },
        "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 3},
    }

    def objective(params, trial):              # or objective(params) without intermediate reports
        for epoch in range(1, 10):
            val_loss = ...train one epoch with params["lr"], ...
            trial.report(epoch, val_loss)      # optuna may stop the trial here (hyperband)
        return val_loss                        # or {"val_loss": ..., "val_accuracy": ...}, or a History

    result = run_sweep(sweep_config, objective, n_trials=20, seed=0)
    result.trials, result.best_params, result.best_value
    result.plot_optimization_history(); result.plot_param_importances(); result.plot_parallel_coordinates()

**The same objective runs in both backends.** Online (``backend="wandb"``, the default when
:func:`~exowavenet_lib.tracking.resolve_mode` says "online"), the config goes unchanged to ``wandb.sweep`` and
``wandb.agent`` calls the objective once per run with ``dict(run.config)``. Otherwise (``backend="optuna"``) the config
is translated once (:func:`translate_search_space`, :func:`translate_sampler`, :func:`translate_pruner`) and optuna
samples it:

=================================  ===========================================================================
W&B                                optuna
=================================  ===========================================================================
``method: grid``                   ``GridSampler`` (the full grid; ``n_trials`` defaults to its size)
``method: random``                 ``RandomSampler(seed)``
``method: bayes``                  ``TPESampler(seed)``
``values: [...]`` / ``value``      ``CategoricalDistribution`` (lists and dicts are stored as JSON text)
``uniform`` (min, max)             ``FloatDistribution(min, max)``
``int_uniform`` (min, max)         ``IntDistribution(min, max)``
``log_uniform_values`` (min, max)  ``FloatDistribution(min, max, log=True)``
``log_uniform`` (min, max)         ``FloatDistribution(e**min, e**max, log=True)`` (W&B's bounds are exponents)
``q_uniform`` (min, max, q)        ``IntDistribution(step=q)`` if all integers, else ``FloatDistribution(step=q)``
``q_log_uniform_values``           ``IntDistribution(log=True)`` for integers with q = 1, else
                                   ``FloatDistribution(log=True)`` and the value rounded to a multiple of q
``normal`` (mu, sigma)             ``FloatDistribution(0, 1)`` = the normal quantile u; the objective gets
                                   ``mu + sigma * Phi^-1(u)`` (optuna has no normal distribution)
``early_terminate: hyperband``     ``HyperbandPruner(min_iter, max_iter or "auto", eta)``; ``max_iter`` with
                                   ``s`` brackets gives ``min_resource = max_iter / eta**s``
``metric.target``                  the study stops once a trial reaches it
``run_cap``                        at most that many trials in the study
=================================  ===========================================================================

A missing ``distribution`` is inferred as W&B does (integer bounds: ``int_uniform``, float bounds: ``uniform``).
Anything else (another distribution, ``probabilities``, nested ``parameters``, an unknown key) raises ``ValueError``
naming it, in both backends, before anything runs.

Parallel workers share one study through ``storage`` (an optuna storage URL such as ``sqlite:///sweep.db``, with a
``study_name``): run the same ``run_sweep`` call in several processes; each adds ``n_trials`` trials to the study.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from exowavenet_lib.tracking.mode import resolve_mode
from exowavenet_lib.tracking.tracker import INIT_TIMEOUT, _scalar

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "METHODS",
    "SUPPORTED_DISTRIBUTIONS",
    "SweepResult",
    "SweepTrial",
    "TrialPruned",
    "run_sweep",
    "translate_pruner",
    "translate_sampler",
    "translate_search_space",
]

#: Sweep methods and the optuna sampler each becomes.
METHODS = {"grid": "GridSampler", "random": "RandomSampler", "bayes": "TPESampler"}
#: W&B distributions the optuna backend reproduces.
SUPPORTED_DISTRIBUTIONS = (
    "categorical", "constant", "uniform", "int_uniform", "log_uniform_values", "log_uniform", "q_uniform",
    "q_log_uniform_values", "normal",
)
#: Raised by :meth:`SweepTrial.report` when the pruner stops a trial (optuna's own exception).
TrialPruned = optuna.TrialPruned

_TOP_KEYS = {"method", "metric", "parameters", "early_terminate", "name", "description", "project", "entity", "run_cap"}
_METRIC_KEYS = {"name", "goal", "target"}
_HYPERBAND_KEYS = {"type", "min_iter", "max_iter", "s", "eta"}
_KEYS_OF = {
    "categorical": {"values"},
    "constant": {"value"},
    "uniform": {"min", "max"},
    "int_uniform": {"min", "max"},
    "log_uniform_values": {"min", "max"},
    "log_uniform": {"min", "max"},
    "q_uniform": {"min", "max", "q"},
    "q_log_uniform_values": {"min", "max", "q"},
    "normal": {"mu", "sigma"},
}
_RESERVED_COLUMNS = {"number", "state", "steps", "duration_s"}
_MAX_GRID = 100_000
_PRIMITIVE = (type(None), bool, int, float, str)


# ------------------------------------------------------------------------------------------------ config parsing


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _identity(x: Any) -> Any:
    return x


@dataclass(frozen=True)
class _Param:
    """One parameter: the optuna distribution sampled, how a sample becomes the value, grid points if discrete."""

    name: str
    kind: str
    distribution: BaseDistribution
    decode: Callable[[Any], Any] = _identity
    grid: tuple[Any, ...] | None = None
    log: bool = False


def _number(name: str, spec: Mapping[str, Any], key: str, default: Any = None) -> Any:
    if key not in spec:
        if default is None:
            raise ValueError(f"parameter {name!r} needs {key!r}")
        return default
    value = spec[key]
    if not _is_number(value) or not math.isfinite(float(value)):
        raise ValueError(f"parameter {name!r}: {key!r} must be a finite number, got {value!r}")
    return int(value) if _is_int(value) else float(value)


def _bounds(name: str, spec: Mapping[str, Any], *, positive: bool = False) -> tuple[Any, Any]:
    lo, hi = _number(name, spec, "min"), _number(name, spec, "max")
    if lo > hi:
        raise ValueError(f"parameter {name!r}: min ({lo}) must not exceed max ({hi})")
    if positive and lo <= 0:
        raise ValueError(f"parameter {name!r}: a log distribution needs min > 0, got {lo}")
    return lo, hi


def _categorical(name: str, kind: str, choices: Sequence[Any]) -> _Param:
    choices = list(choices)
    if not choices:
        raise ValueError(f"parameter {name!r}: 'values' must be a non-empty list")
    if all(isinstance(c, _PRIMITIVE) for c in choices):
        encoded, decode = choices, _identity
    else:  # optuna stores only None/bool/int/float/str: keep lists and dicts as JSON text
        try:
            encoded = [json.dumps(c, sort_keys=True) for c in choices]
        except TypeError as err:
            raise ValueError(f"parameter {name!r}: values must be JSON-serialisable ({err})") from None
        decode = json.loads
    if len({json.dumps(c, sort_keys=True) for c in encoded}) != len(encoded):
        raise ValueError(f"parameter {name!r}: 'values' must not repeat a value, got {choices!r}")
    return _Param(name, kind, CategoricalDistribution(encoded), decode, tuple(encoded))


def _quantizer(lo: Any, hi: Any, q: Any) -> Callable[[float], Any]:
    as_int = _is_int(lo) and _is_int(hi) and _is_int(q)
    first, last = math.ceil(lo / q - 1e-9), math.floor(hi / q + 1e-9)

    def quantize(x: float) -> Any:
        k = min(max(round(x / q), first), last)  # W&B rounds to a multiple of q; keep it inside [min, max]
        return int(k * q) if as_int else float(k * q)

    return quantize


def _normal_decoder(mu: float, sigma: float) -> Callable[[float], float]:
    dist = NormalDist(mu, sigma)

    def decode(u: float) -> float:
        return float(dist.inv_cdf(min(max(float(u), 1e-12), 1.0 - 1e-12)))

    return decode


def _parse_param(name: Any, spec: Any) -> _Param:
    if not isinstance(name, str) or not name:
        raise ValueError(f"parameter names must be non-empty strings, got {name!r}")
    if not isinstance(spec, Mapping):
        raise ValueError(f"parameter {name!r} must be a dict such as {{'values': [...]}}, got {spec!r}")
    if "parameters" in spec:
        raise ValueError(f"parameter {name!r}: nested 'parameters' are not supported; flatten them into top-level "
                         "names")
    if "value" in spec:
        kind = spec.get("distribution", "constant")
    elif "values" in spec:
        kind = spec.get("distribution", "categorical")
    elif "distribution" in spec:
        kind = spec["distribution"]
    elif "min" in spec and "max" in spec:  # W&B infers the distribution from the bounds' types
        lo, hi = spec["min"], spec["max"]
        if _is_int(lo) and _is_int(hi):
            kind = "int_uniform"
        elif isinstance(lo, (float, np.floating)) and isinstance(hi, (float, np.floating)):
            kind = "uniform"
        else:
            raise ValueError(f"parameter {name!r} is ambiguous: give min and max both as ints (int_uniform) or both "
                             f"as floats (uniform), or name the distribution; got min={lo!r}, max={hi!r}")
    else:
        raise ValueError(f"parameter {name!r} needs 'values', 'value', 'distribution' or 'min'/'max', got {spec!r}")
    if kind not in _KEYS_OF:
        raise ValueError(f"parameter {name!r}: distribution {kind!r} is not supported; supported: "
                         f"{list(SUPPORTED_DISTRIBUTIONS)}")
    extra = set(spec) - _KEYS_OF[kind] - {"distribution"}
    if extra:
        raise ValueError(f"parameter {name!r}: key(s) {sorted(extra)} not supported for distribution {kind!r} "
                         f"(allowed: {sorted(_KEYS_OF[kind] | {'distribution'})})")
    if kind == "categorical":
        if "values" not in spec:
            raise ValueError(f"parameter {name!r}: distribution 'categorical' needs 'values'")
        values = spec["values"]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ValueError(f"parameter {name!r}: 'values' must be a list, got {values!r}")
        return _categorical(name, kind, values)
    if kind == "constant":
        if "value" not in spec:
            raise ValueError(f"parameter {name!r}: distribution 'constant' needs 'value'")
        return _categorical(name, kind, [spec["value"]])
    if kind == "uniform":
        lo, hi = _bounds(name, spec)
        return _Param(name, kind, FloatDistribution(float(lo), float(hi)))
    if kind == "int_uniform":
        lo, hi = _bounds(name, spec)
        if not (_is_int(lo) and _is_int(hi)):
            raise ValueError(f"parameter {name!r}: int_uniform needs integer min and max, got {lo!r}, {hi!r}")
        return _Param(name, kind, IntDistribution(lo, hi), grid=tuple(range(lo, hi + 1)))
    if kind == "log_uniform_values":
        lo, hi = _bounds(name, spec, positive=True)
        return _Param(name, kind, FloatDistribution(float(lo), float(hi), log=True), log=True)
    if kind == "log_uniform":
        lo, hi = _bounds(name, spec)
        return _Param(name, kind, FloatDistribution(math.exp(lo), math.exp(hi), log=True), log=True)
    if kind == "q_uniform":
        lo, hi = _bounds(name, spec)
        q = _number(name, spec, "q", 1)
        if q <= 0:
            raise ValueError(f"parameter {name!r}: q must be positive, got {q}")
        n_steps = (hi - lo) / q
        if abs(n_steps - round(n_steps)) > 1e-9 * max(1.0, abs(n_steps)):
            raise ValueError(f"parameter {name!r}: q_uniform needs max - min to be a multiple of q "
                             f"(min={lo}, max={hi}, q={q})")
        if _is_int(lo) and _is_int(hi) and _is_int(q):
            return _Param(name, kind, IntDistribution(lo, hi, step=q), grid=tuple(range(lo, hi + 1, q)))
        grid = tuple(float(lo + k * q) for k in range(round(n_steps) + 1))
        return _Param(name, kind, FloatDistribution(float(lo), float(hi), step=float(q)), grid=grid)
    if kind == "q_log_uniform_values":
        lo, hi = _bounds(name, spec, positive=True)
        q = _number(name, spec, "q", 1)
        if q <= 0:
            raise ValueError(f"parameter {name!r}: q must be positive, got {q}")
        if math.floor(hi / q + 1e-9) < math.ceil(lo / q - 1e-9):
            raise ValueError(f"parameter {name!r}: no multiple of q={q} lies in [{lo}, {hi}]")
        if _is_int(lo) and _is_int(hi) and q == 1 and lo >= 1:
            return _Param(name, kind, IntDistribution(lo, hi, log=True), log=True)
        return _Param(name, kind, FloatDistribution(float(lo), float(hi), log=True), _quantizer(lo, hi, q), log=True)
    # normal
    mu, sigma = float(_number(name, spec, "mu", 0.0)), float(_number(name, spec, "sigma", 1.0))
    if sigma <= 0:
        raise ValueError(f"parameter {name!r}: sigma must be positive, got {sigma}")
    return _Param(name, kind, FloatDistribution(0.0, 1.0), _normal_decoder(mu, sigma))


@dataclass(frozen=True)
class _Sweep:
    method: str
    metric: str
    goal: str
    target: float | None
    params: dict[str, _Param]
    early_terminate: dict[str, Any] | None
    run_cap: int | None

    @property
    def direction(self) -> str:
        return "minimize" if self.goal == "minimize" else "maximize"


def _parse(config: Any) -> _Sweep:
    if not isinstance(config, Mapping):
        raise TypeError(f"sweep_config must be a dict (a W&B sweep configuration), got {type(config).__name__}")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        raise ValueError(f"unsupported sweep config key(s) {sorted(unknown)}; supported: {sorted(_TOP_KEYS)}")
    method = config.get("method")
    if method not in METHODS:
        raise ValueError(f"sweep_config['method'] must be one of {list(METHODS)}, got {method!r}")
    metric = config.get("metric")
    if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str) or not metric.get("name"):
        raise ValueError("sweep_config needs 'metric': {'name': <what the objective returns>, 'goal': "
                         f"'minimize' | 'maximize'}}, got {metric!r}")
    unknown = set(metric) - _METRIC_KEYS
    if unknown:
        raise ValueError(f"unsupported metric key(s) {sorted(unknown)}; supported: {sorted(_METRIC_KEYS)}")
    goal = metric.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise ValueError(f"metric goal must be 'minimize' or 'maximize', got {goal!r}")
    target = metric.get("target")
    if target is not None and not (_is_number(target) and math.isfinite(float(target))):
        raise ValueError(f"metric target must be a finite number, got {target!r}")
    parameters = config.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError("sweep_config needs a non-empty 'parameters' dict")
    params = {name: _parse_param(name, spec) for name, spec in parameters.items()}
    clash = (set(params) & (_RESERVED_COLUMNS | {metric["name"]}))
    if clash:
        raise ValueError(f"parameter name(s) {sorted(clash)} clash with the metric or the trials table's columns "
                         f"{sorted(_RESERVED_COLUMNS)}; rename them")
    if method == "grid":
        continuous = [f"{p.name} ({p.kind})" for p in params.values() if p.grid is None]
        if continuous:
            raise ValueError(f"grid search needs discrete parameters ('values', 'value', 'int_uniform' or "
                             f"'q_uniform'); continuous: {continuous}")
        size = math.prod(len(p.grid) for p in params.values())  # type: ignore[arg-type]
        if size > _MAX_GRID:
            raise ValueError(f"the grid has {size} points (more than {_MAX_GRID}); use method 'random' or 'bayes'")
    early = config.get("early_terminate")
    if early is not None:
        early = _parse_early_terminate(early)
    run_cap = config.get("run_cap")
    if run_cap is not None and (not _is_int(run_cap) or run_cap < 1):
        raise ValueError(f"run_cap must be a positive integer, got {run_cap!r}")
    return _Sweep(method, metric["name"], goal, None if target is None else float(target), params, early,
                  None if run_cap is None else int(run_cap))


def _parse_early_terminate(early: Any) -> dict[str, Any]:
    if not isinstance(early, Mapping):
        raise ValueError(f"early_terminate must be a dict such as {{'type': 'hyperband', 'min_iter': 1}}, "
                         f"got {early!r}")
    if early.get("type") != "hyperband":
        raise ValueError(f"early_terminate type must be 'hyperband' (the only type W&B has), got {early.get('type')!r}")
    unknown = set(early) - _HYPERBAND_KEYS
    if unknown:
        raise ValueError(f"unsupported early_terminate key(s) {sorted(unknown)}; supported: {sorted(_HYPERBAND_KEYS)}")
    out: dict[str, Any] = {}
    for key in ("min_iter", "max_iter", "s"):
        if key in early:
            if not _is_int(early[key]) or early[key] < 1:
                raise ValueError(f"early_terminate {key} must be a positive integer, got {early[key]!r}")
            out[key] = int(early[key])
    eta = early.get("eta", 3)
    if not _is_int(eta) or eta < 2:
        raise ValueError(f"early_terminate eta must be an integer >= 2, got {eta!r}")
    out["eta"] = int(eta)
    if "min_iter" not in out and not ("max_iter" in out and "s" in out):
        raise ValueError("hyperband needs 'min_iter', or 'max_iter' together with 's' (the number of brackets)")
    if "min_iter" in out and "max_iter" in out and out["min_iter"] >= out["max_iter"]:
        raise ValueError(f"early_terminate min_iter ({out['min_iter']}) must be below max_iter ({out['max_iter']})")
    return out


def translate_search_space(config: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    """The optuna distributions the offline backend samples for a W&B sweep config (name -> distribution).

    The whole config is validated (method, metric, early_terminate too): unsupported keys or distributions raise
    ``ValueError`` naming them. See the module docstring for the mapping; for ``q_log_uniform_values`` with float
    bounds or ``q != 1`` the sample is then rounded to a multiple of ``q``, and for ``normal`` the distribution is
    the quantile ``u`` in [0, 1] that becomes ``mu + sigma * Phi^-1(u)``.
    """
    return {name: p.distribution for name, p in _parse(config).params.items()}


def translate_sampler(config: Mapping[str, Any], seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The optuna sampler for ``config['method']``: grid -> GridSampler, random -> RandomSampler, bayes -> TPE."""
    return _sampler(_parse(config), seed)


def _sampler(sweep: _Sweep, seed: int | None) -> optuna.samplers.BaseSampler:
    if sweep.method == "grid":
        return optuna.samplers.GridSampler({n: list(p.grid) for n, p in sweep.params.items()},  # type: ignore[arg-type]
                                           seed=seed)
    if sweep.method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def translate_pruner(config: Mapping[str, Any]) -> optuna.pruners.BasePruner | None:
    """``HyperbandPruner`` for ``early_terminate: {type: hyperband, ...}``, else None (no pruning)."""
    return _pruner(_parse(config))


def _pruner(sweep: _Sweep) -> optuna.pruners.BasePruner | None:
    early = sweep.early_terminate
    if early is None:
        return None
    eta = early["eta"]
    if "min_iter" in early:
        min_resource = early["min_iter"]
    else:
        min_resource = max(1, round(early["max_iter"] / eta ** early["s"]))
    return optuna.pruners.HyperbandPruner(
        min_resource=min_resource, max_resource=early.get("max_iter", "auto"), reduction_factor=eta
    )


# ---------------------------------------------------------------------------------------------------- objective


class SweepTrial:
    """What an objective with a second argument receives: ``params``, ``number``, ``report``, ``log``.

    ``trial.report(step, value)`` (or ``trial(step, value)``: the handle is also a plain callback) records an
    intermediate value of the sweep metric. With optuna and ``early_terminate``, it raises :data:`TrialPruned`
    when hyperband stops the trial (let it propagate); with W&B it logs the value, and the W&B server decides.
    ``trial.log(metrics)`` logs extra numbers (to the W&B run, or into the trials table).
    """

    def __init__(self, number: int, params: dict[str, Any], *, backend: str, metric: str,
                 optuna_trial: optuna.Trial | None = None, run: Any = None) -> None:
        self.number = number
        self.params = params
        self.backend = backend
        self.metric = metric
        self.intermediate: dict[int, float] = {}
        self.logged: dict[str, float] = {}
        self._trial = optuna_trial
        self._run = run

    def __repr__(self) -> str:
        return f"SweepTrial(number={self.number}, backend={self.backend!r}, params={self.params})"

    def report(self, step: int, value: float) -> None:
        """Record the metric's value after ``step`` (an epoch, >= 0); may raise :data:`TrialPruned`."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        value = _scalar(value)
        if not _is_number(value):
            raise TypeError(f"value must be a number, got {type(value).__name__}")
        step, value = int(step), float(value)
        self.intermediate[step] = value
        if self._trial is not None:
            self._trial.report(value, step)
            if self._trial.should_prune():
                raise TrialPruned(f"trial {self.number} pruned at step {step} ({self.metric} = {value:.4g})")
        elif self._run is not None:
            self._run.log({self.metric: value, "iteration": step})

    __call__ = report

    def should_prune(self) -> bool:
        """Whether the pruner would stop the trial now (always False on W&B, whose server stops runs itself)."""
        return bool(self._trial is not None and self._trial.should_prune())

    def log(self, metrics: Mapping[str, Any]) -> None:
        """Log extra numbers for this trial (the last value of each shows in :attr:`SweepResult.trials`)."""
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
        clean = {str(k): _scalar(v) for k, v in metrics.items()}
        self.logged.update({k: float(v) for k, v in clean.items() if _is_number(v)})
        if self._run is not None:
            self._run.log(clean)


def _call_objective(objective: Callable[..., Any], params: dict[str, Any], handle: SweepTrial) -> Any:
    """``objective(params, handle)`` if it takes two positional arguments, ``report=``/``trial=`` if it names one."""
    try:
        sig = inspect.signature(objective)
    except (TypeError, ValueError):
        return objective(params)
    kinds = [p.kind for p in sig.parameters.values()]
    positional = sum(k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds)
    if positional >= 2 or inspect.Parameter.VAR_POSITIONAL in kinds:
        return objective(params, handle)
    for keyword in ("trial", "report"):
        if keyword in sig.parameters and sig.parameters[keyword].kind == inspect.Parameter.KEYWORD_ONLY:
            return objective(params, **{keyword: handle})
    return objective(params)


def _objective_value(out: Any, metric: str, goal: str) -> tuple[float, dict[str, float]]:
    """The metric's value from what the objective returned (number, dict, or History) and any extra numbers."""
    out = _scalar(out)
    if _is_number(out):
        return float(out), {}
    if isinstance(out, Mapping):
        if metric not in out:
            raise ValueError(f"the objective returned a dict without the sweep metric {metric!r}: keys {sorted(out)}")
        extras = {}
        for key, item in out.items():
            item = _scalar(item)
            if key != metric and _is_number(item):
                extras[str(key)] = float(item)
        value = _scalar(out[metric])
        if not _is_number(value):
            raise TypeError(f"the objective's {metric!r} must be a number, got {type(value).__name__}")
        return float(value), extras
    if hasattr(out, "metric") and hasattr(out, "epochs"):  # a train.History: its best epoch for the metric
        values = np.asarray(out.metric(metric), dtype=float)
        finite = np.flatnonzero(np.isfinite(values))
        if finite.size == 0:
            return math.nan, {}
        best = finite[np.argmin(values[finite]) if goal == "minimize" else np.argmax(values[finite])]
        return float(values[best]), {"best_epoch": float(best + 1)}
    raise TypeError(f"the objective must return a number, a dict holding {metric!r}, or a History; got "
                    f"{type(out).__name__}")


# -------------------------------------------------------------------------------------------------------- result


class SweepResult:
    """A finished sweep: :attr:`trials` (one row per trial), the best trial, and plots.

    ``trials`` columns: ``number``, ``state`` (``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING``), the metric
    (NaN unless complete), one column per parameter (the value the objective received), extra numbers the objective
    returned or logged, ``steps`` (intermediate reports) and ``duration_s``.
    """

    def __init__(self, trials: pd.DataFrame, *, metric: str, goal: str, method: str, backend: str,
                 params: Mapping[str, Any], study: optuna.Study | None = None, sweep_id: str | None = None) -> None:
        self.trials = trials
        self.metric = metric
        self.goal = goal
        self.method = method
        self.backend = backend
        self.param_names = list(params)
        self._params = dict(params)
        self.study = study
        self.sweep_id = sweep_id

    def __repr__(self) -> str:
        n_done = int((self.trials["state"] == "COMPLETE").sum()) if len(self.trials) else 0
        best = f", best {self.metric}={self.best_value:.4g}" if n_done else ""
        return (f"SweepResult(backend={self.backend!r}, method={self.method!r}, {len(self.trials)} trials, "
                f"{n_done} complete{best})")

    @property
    def completed(self) -> pd.DataFrame:
        """The rows of completed trials with a finite metric."""
        t = self.trials
        return t[(t["state"] == "COMPLETE") & np.isfinite(t[self.metric].astype(float))]

    @property
    def best_trial(self) -> pd.Series:
        """The completed trial with the lowest (minimize) or highest (maximize) metric."""
        done = self.completed
        if done.empty:
            raise ValueError("no trial completed, so there is no best trial; look at result.trials['state']")
        values = done[self.metric].astype(float)
        return done.loc[values.idxmin() if self.goal == "minimize" else values.idxmax()]

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of :attr:`best_trial` (as the objective received them)."""
        row = self.best_trial
        return {name: _python(row[name]) for name in self.param_names}

    @property
    def best_value(self) -> float:
        """The metric of :attr:`best_trial`."""
        return float(self.best_trial[self.metric])

    def param_importances(self, seed: int = 0) -> pd.Series:
        """fANOVA importance of each varying parameter (fractions summing to 1), largest first."""
        from exowavenet_lib.tracking.sweep_plots import param_importances

        return param_importances(self, seed=seed)

    def plot_optimization_history(self, *, ax: Axes | None = None) -> Figure:
        """Metric of every completed trial vs trial number, with the best-so-far line."""
        from exowavenet_lib.tracking.sweep_plots import plot_optimization_history

        return plot_optimization_history(self, ax=ax)

    def plot_param_importances(self, *, ax: Axes | None = None, seed: int = 0) -> Figure:
        """Horizontal bars of :meth:`param_importances`."""
        from exowavenet_lib.tracking.sweep_plots import plot_param_importances

        return plot_param_importances(self, ax=ax, seed=seed)

    def plot_parallel_coordinates(self, params: Sequence[str] | None = None, *, ax: Axes | None = None) -> Figure:
        """One line per completed trial across the parameter axes and the metric, coloured by the metric."""
        from exowavenet_lib.tracking.sweep_plots import plot_parallel_coordinates

        return plot_parallel_coordinates(self, params, ax=ax)


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _trials_frame(rows: list[dict[str, Any]], sweep: _Sweep) -> pd.DataFrame:
    params = list(sweep.params)
    extras = sorted({k for row in rows for k in row.get("extras", {})})
    records = []
    for row in rows:
        record = {"number": row["number"], "state": row["state"], sweep.metric: row["value"]}
        record.update({p: row["params"].get(p) for p in params})
        for key in extras:
            column = key if key not in record else f"metric_{key}"
            record[column] = row.get("extras", {}).get(key, math.nan)
        record["steps"] = row["steps"]
        record["duration_s"] = row["duration_s"]
        records.append(record)
    columns = ["number", "state", sweep.metric, *params]
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=[*columns, "steps", "duration_s"])
    frame[sweep.metric] = frame[sweep.metric].astype(float)
    return frame.sort_values("number", ignore_index=True)


# -------------------------------------------------------------------------------------------------------- backends


def _resolve_backend(backend: str | None, storage: Any) -> str:
    if backend not in (None, "wandb", "optuna"):
        raise ValueError(f"backend must be None, 'wandb' or 'optuna', got {backend!r}")
    if backend == "optuna":
        return backend
    if storage is not None:
        if backend == "wandb":
            raise ValueError("storage is an optuna study storage; it cannot be used with backend='wandb'")
        return "optuna"
    mode, reason = resolve_mode(None if backend is None else "online")
    if mode == "online":
        return "wandb"
    if backend == "wandb":
        raise RuntimeError(f"backend='wandb' needs the W&B server, but {reason}. Use backend='optuna' (or None) to "
                           "run the same sweep locally.")
    print(f"Sweep runs locally with optuna: {reason}.", flush=True)
    return "optuna"


def run_sweep(
    sweep_config: Mapping[str, Any],
    objective: Callable[..., Any],
    *,
    n_trials: int | None = None,
    backend: str | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    project: str | None = None,
    entity: str | None = None,
) -> SweepResult:
    """Run a W&B sweep config with W&B's agent when online, with optuna otherwise; same objective either way.

    Parameters
    ----------
    sweep_config : dict
        A W&B sweep configuration (``method``, ``metric``, ``parameters``, optional ``early_terminate``,
        ``run_cap``, ``name``, ``description``, ``project``, ``entity``). Validated before anything runs.
    objective : callable
        ``objective(params) -> result`` or ``objective(params, trial) -> result`` (``trial`` is a
        :class:`SweepTrial`: ``trial.report(step, value)`` for hyperband; keyword-only ``report``/``trial`` also
        work). ``result`` is the metric as a number, a dict holding the metric (other numbers become columns of
        :attr:`SweepResult.trials`), or a :class:`~exowavenet_lib.train.History` (its best epoch's value of the
        metric). Exceptions propagate (the trial is recorded as failed); NaN marks the trial failed.
    n_trials : int, optional
        Trials to run in this call. Required for ``random``/``bayes``; a grid defaults to its size (and never
        runs more).
    backend : {None, "wandb", "optuna"}
        ``None``: ``"wandb"`` if :func:`~exowavenet_lib.tracking.resolve_mode` says online (and no ``storage``),
        else ``"optuna"`` (with one printed line saying why). ``"wandb"`` without a reachable server raises
        ``RuntimeError`` rather than wait.
    storage : str or optuna storage, optional
        Optuna storage shared by several processes, e.g. ``"sqlite:///sweep.db"``; needs ``study_name`` (or the
        config's ``name``). Each process adds its ``n_trials`` to the same study; the result lists all of them.
    study_name : str, optional
        Optuna study name (default: the config's ``name``); an existing study of that name is continued.
    seed : int, optional
        Seeds the optuna sampler (the grid's order, random draws, TPE). With ``storage``, random/bayes samplers mix
        in the process id and the study's trial count so parallel workers do not repeat each other's draws. Without
        a study name, the study is named after the seed, so that hyperband's brackets (a hash of the study name) are
        reproducible too. Ignored by W&B, whose server samples.
    project, entity : str, optional
        W&B project and entity of the sweep (default: the config's ``project``/``entity``).
    """
    sweep = _parse(sweep_config)
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    if n_trials is not None and (not _is_int(n_trials) or n_trials < 1):
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if n_trials is None:
        if sweep.method != "grid":
            raise ValueError(f"n_trials is required for method {sweep.method!r} (only a grid has a natural size)")
        n_trials = math.prod(len(p.grid) for p in sweep.params.values())  # type: ignore[arg-type]
    if seed is not None and not _is_int(seed):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    if study_name is not None and (not isinstance(study_name, str) or not study_name):
        raise ValueError(f"study_name must be a non-empty string, got {study_name!r}")
    chosen = _resolve_backend(backend, storage)
    if chosen == "wandb":
        return _run_wandb(sweep, dict(sweep_config), objective, int(n_trials),
                          project or sweep_config.get("project"), entity or sweep_config.get("entity"))
    return _run_optuna(sweep, objective, int(n_trials), storage, study_name or sweep_config.get("name"), seed)


def _storage(storage: Any) -> Any:
    if not (isinstance(storage, str) and storage.startswith("sqlite")):
        return storage
    import sqlalchemy.exc

    # Several processes on one SQLite file: wait for its lock instead of failing after 5 s, and retry the first
    # connection, where two workers started together race to create the tables ("table ... already exists",
    # "UNIQUE constraint failed: alembic_version"): the loser finds them made on the next try.
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(storage, engine_kwargs={"connect_args": {"timeout": 60}})
        except sqlalchemy.exc.DBAPIError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _frozen_row(t: optuna.trial.FrozenTrial, sweep: _Sweep) -> dict[str, Any]:
    params = t.user_attrs.get("params")
    if params is None:
        params = {n: sweep.params[n].decode(v) if n in sweep.params else v for n, v in t.params.items()}
    return {
        "number": t.number,
        "state": t.state.name,
        "value": t.value if t.state == TrialState.COMPLETE and t.value is not None else math.nan,
        "params": params,
        "extras": dict(t.user_attrs.get("metrics", {})),
        "steps": len(t.intermediate_values),
        "duration_s": t.duration.total_seconds() if t.duration is not None else math.nan,
    }


def _run_optuna(sweep: _Sweep, objective: Callable[..., Any], n_trials: int, storage: Any,
                study_name: str | None, seed: int | None) -> SweepResult:
    if storage is not None and not study_name:
        raise ValueError("a shared storage needs study_name (or a 'name' in the sweep config), so that every "
                         "process joins the same study")
    pruner = _pruner(sweep) or optuna.pruners.NopPruner()
    if study_name is None and seed is not None:  # hyperband assigns brackets by a hash of the study name
        study_name = f"exowavenet-sweep-seed-{seed}"
    study = optuna.create_study(storage=_storage(storage), study_name=study_name, direction=sweep.direction,
                                sampler=_sampler(sweep, seed), pruner=pruner, load_if_exists=True)
    if storage is not None and seed is not None and sweep.method != "grid":
        # same seed in every worker would repeat the same draws; the grid needs one shared order instead
        mixed = int(np.random.SeedSequence([seed, os.getpid(), len(study.trials)]).generate_state(1)[0])
        study.sampler = _sampler(sweep, mixed)

    def optuna_objective(trial: optuna.Trial) -> float:
        params = {}
        for name, p in sweep.params.items():
            d = p.distribution
            if isinstance(d, CategoricalDistribution):
                raw = trial.suggest_categorical(name, d.choices)
            elif isinstance(d, IntDistribution):
                raw = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
            else:
                raw = trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)  # type: ignore[union-attr]
            params[name] = p.decode(raw)
        trial.set_user_attr("params", params)
        handle = SweepTrial(trial.number, dict(params), backend="optuna", metric=sweep.metric, optuna_trial=trial)
        try:
            value, extras = _objective_value(_call_objective(objective, dict(params), handle), sweep.metric,
                                             sweep.goal)
        finally:
            if handle.logged:
                trial.set_user_attr("metrics", dict(handle.logged))
        if extras:
            trial.set_user_attr("metrics", {**handle.logged, **extras})
        return value

    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = []
    if sweep.target is not None:
        target = sweep.target

        def stop_at_target(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            if trial.state == TrialState.COMPLETE and trial.value is not None and (
                trial.value <= target if sweep.goal == "minimize" else trial.value >= target
            ):
                study.stop()

        callbacks.append(stop_at_target)
    if sweep.run_cap is not None:
        callbacks.append(optuna.study.MaxTrialsCallback(sweep.run_cap, states=None))
    study.optimize(optuna_objective, n_trials=n_trials, callbacks=callbacks, gc_after_trial=False)
    rows = [_frozen_row(t, sweep) for t in study.get_trials(deepcopy=False)]
    return SweepResult(_trials_frame(rows, sweep), metric=sweep.metric, goal=sweep.goal, method=sweep.method,
                       backend="optuna", params=sweep.params, study=study)


def _run_wandb(sweep: _Sweep, config: dict[str, Any], objective: Callable[..., Any], n_trials: int,
               project: str | None, entity: str | None) -> SweepResult:
    import wandb

    sweep_id = wandb.sweep(sweep=config, project=project, entity=entity)
    rows: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def agent_function() -> None:
        run = wandb.init(settings=wandb.Settings(init_timeout=INIT_TIMEOUT))
        start = time.monotonic()
        params = {name: run.config[name] for name in sweep.params if name in run.config}  # no wandb internals
        handle = SweepTrial(len(rows), dict(params), backend="wandb", metric=sweep.metric, run=run)
        row: dict[str, Any] = {"number": len(rows), "state": "FAIL", "value": math.nan, "params": params,
                               "extras": {}, "steps": 0, "duration_s": math.nan}
        try:
            value, extras = _objective_value(_call_objective(objective, dict(params), handle), sweep.metric,
                                             sweep.goal)
            run.log({sweep.metric: value, **extras})
            run.summary[sweep.metric] = value
            row.update(state="COMPLETE" if math.isfinite(value) else "FAIL", value=value,
                       extras={**handle.logged, **extras})
        except Exception as err:
            errors.append(err)
            raise
        finally:
            row.update(steps=len(handle.intermediate), duration_s=time.monotonic() - start)
            rows.append(row)
            run.finish(exit_code=0 if row["state"] == "COMPLETE" else 1)

    wandb.agent(sweep_id, function=agent_function, count=n_trials, project=project, entity=entity)
    if errors and not any(r["state"] == "COMPLETE" for r in rows):
        raise errors[0]  # the agent only logs exceptions; a sweep where every run crashed is a bug to show
    return SweepResult(_trials_frame(rows, sweep), metric=sweep.metric, goal=sweep.goal, method=sweep.method,
                       backend="wandb", params=sweep.params, sweep_id=sweep_id)
