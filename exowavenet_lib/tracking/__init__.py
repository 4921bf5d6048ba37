"""Experiment tracking, offline-first: W&B runs that never block (:class:`Tracker`) and sweeps from one W&B config
that run on the W&B server when online and with optuna when not (:func:`run_sweep`).

::

    from exowavenet_lib.tracking import Tracker, run_sweep, resolve_mode

    mode, reason = resolve_mode()          # "online" | "offline" | "disabled", and why
    with Tracker("exowavenet", config=cfg) as run:
        run.log_history(history)

See :mod:`exowavenet_lib.tracking.tracker`, :mod:`~exowavenet_lib.tracking.mode` and
:mod:`~exowavenet_lib.tracking.sweeps` for the rules.
"""

from exowavenet_lib.tracking.mode import MODES, find_api_key, probe_wandb_server, resolve_mode
from exowavenet_lib.tracking.registry import LocalModelRegistry, beats, promote_wandb_artifact
from exowavenet_lib.tracking.sweeps import (
    METHODS,
    SUPPORTED_DISTRIBUTIONS,
    SweepResult,
    SweepTrial,
    TrialPruned,
    run_sweep,
    translate_pruner,
    translate_sampler,
    translate_search_space,
)
from exowavenet_lib.tracking.tracker import Tracker, WandBExperimentTracker, keep_wandb_files_in

__all__ = [
    "METHODS",
    "LocalModelRegistry",
    "MODES",
    "SUPPORTED_DISTRIBUTIONS",
    "SweepResult",
    "SweepTrial",
    "Tracker",
    "TrialPruned",
    "WandBExperimentTracker",
    "beats",
    "find_api_key",
    "keep_wandb_files_in",
    "probe_wandb_server",
    "promote_wandb_artifact",
    "resolve_mode",
    "run_sweep",
    "translate_pruner",
    "translate_sampler",
    "translate_search_space",
]
