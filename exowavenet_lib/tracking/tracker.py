"""One W&B run, offline-first: :class:`Tracker` (the curriculum's ``WandBExperimentTracker``).

::

    with Tracker("exowavenet-ztf", config={"lr": 1e-3}, dir="runs") as run:
        history = fit(model, train_loader, val_loader, ...)
        run.log_history(history)
        run.log_confusion_matrix(result.y_true, result.y_pred, TRANSIENT_CLASSES)
        run.log_figure("light_curve_predictions", fig)
        run.log_checkpoint("checkpoints/best.pt", "ztf-classifier", aliases=("latest", "best"))

The mode comes from :func:`~exowavenet_lib.tracking.resolve_mode` (explicit ``mode=`` > ``WANDB_MODE`` > "online if
a key exists and the server answers within 2 s" > "offline"); one printed line says which and why. Nothing here can
hang a notebook: the server is probed with a hard timeout before ``wandb.init`` is ever called, ``wandb.init`` gets
``init_timeout`` (20 s) even online, and an online start that fails falls back to offline.

- **offline**: the run is written under ``<dir>/wandb/offline-run-*`` (``dir`` defaults to the working directory,
  or ``WANDB_DIR``); upload it later with ``wandb sync <that folder>`` (:attr:`Tracker.sync_command`).
- **disabled**: wandb is not even imported; every logging call validates its arguments and returns at once, and no
  file is written.

Whatever the mode, :attr:`Tracker.summary` keeps the last value of every numeric metric logged (like W&B's run
summary), so a notebook can read its results back without a server.
"""

from __future__ import annotations

import io
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exowavenet_lib.tracking.mode import MODES, PROBE_TIMEOUT, Probe, probe_wandb_server, resolve_mode

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["INIT_TIMEOUT", "Tracker", "WandBExperimentTracker", "keep_wandb_files_in"]

#: Seconds ``wandb.init`` may take in online mode before the tracker falls back to offline.
INIT_TIMEOUT = 20.0
#: wandb's folders outside the run folder (by default in the home folder), and their sub-folder names.
_WANDB_DIR_VARIABLES = {"WANDB_CACHE_DIR": "cache", "WANDB_DATA_DIR": "data", "WANDB_ARTIFACT_DIR": "artifacts",
                        "WANDB_CONFIG_DIR": "config"}


def keep_wandb_files_in(root: str | os.PathLike, environ: dict[str, str] | None = None) -> Path:
    """Point wandb's cache, data, artifact and config folders under ``root`` (variables already set are kept)."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path, got {type(root).__name__}")
    environ = os.environ if environ is None else environ
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for variable, folder in _WANDB_DIR_VARIABLES.items():
        environ.setdefault(variable, str(root / folder))
    return root


_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_BAD_PROJECT_CHARS = set("/\\#?%:")


def _wandb() -> Any:
    import wandb

    return wandb


def _reinit_value(wandb: Any) -> Any:
    """``reinit="create_new"`` (several independent runs per process) where wandb supports it (>= 0.19.10)."""
    try:
        version = tuple(int(part) for part in wandb.__version__.split(".")[:3])
    except (AttributeError, ValueError):
        return "create_new"
    return "create_new" if version >= (0, 19, 10) else True


def _scalar(value: Any) -> Any:
    """0-d tensors and NumPy scalars to Python numbers; everything else unchanged."""
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch
        value = value.detach().cpu()
        if value.numel() == 1:
            return value.item()
        return value.numpy()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.item()
    return value


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{kind} must be a non-empty string, got {name!r}")
    return name


class Tracker:
    """An experiment run that logs to W&B when it can, to local files when it cannot, and to nothing when disabled.

    Parameters
    ----------
    project : str
        W&B project name (no ``/ \\ # ? % :``).
    mode : {"online", "offline", "disabled"}, optional
        Overrides ``WANDB_MODE``; ``None`` decides automatically (see the module docstring).
    config : dict, optional
        Hyperparameters; more can be added with :meth:`log_config`.
    name, entity, tags
        Passed to ``wandb.init`` (run display name, team/user, list of tags).
    dir : str or Path, optional
        Parent folder of the ``wandb/`` run folders (created if missing). Default: the working directory.
    init_timeout : float, default 20
        Seconds ``wandb.init`` may take before the run falls back to offline.
    probe : callable ``(url, timeout) -> bool``, optional
        Replaces the server check (tests); see :func:`~exowavenet_lib.tracking.resolve_mode`.
    verbose : bool, default True
        Print the one line that says which mode was chosen and why (and how to sync an offline run).

    Attributes
    ----------
    mode, reason : str
        The mode in effect once started, and why it was chosen.
    run
        The ``wandb`` run (None when disabled or not started).
    summary : dict
        Last value of every numeric metric logged, in every mode.
    """

    def __init__(
        self,
        project: str,
        *,
        mode: str | None = None,
        config: Mapping[str, Any] | None = None,
        name: str | None = None,
        dir: str | os.PathLike[str] | None = None,  # noqa: A002 - wandb.init's own name
        entity: str | None = None,
        tags: Sequence[str] | None = None,
        init_timeout: float = INIT_TIMEOUT,
        probe: Probe | None = None,
        verbose: bool = True,
    ) -> None:
        _check_name("project", project)
        if set(project) & _BAD_PROJECT_CHARS or len(project) > 128:
            raise ValueError(f"project must be at most 128 characters without any of / \\ # ? % :, got {project!r}")
        if mode is not None and (not isinstance(mode, str) or mode.lower() not in (*MODES, "dryrun", "run")):
            raise ValueError(f"mode must be one of {list(MODES)} or None, got {mode!r}")
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict (or None), got {type(config).__name__}")
        if name is not None:
            _check_name("name", name)
        if entity is not None:
            _check_name("entity", entity)
        if tags is not None:
            if isinstance(tags, str) or not all(isinstance(t, str) and 0 < len(t) <= 64 for t in tags):
                raise ValueError(f"tags must be a list of strings of 1 to 64 characters, got {tags!r}")
            tags = list(tags)
        if isinstance(init_timeout, bool) or not isinstance(init_timeout, (int, float)) or not init_timeout > 0:
            raise ValueError(f"init_timeout must be a positive number of seconds, got {init_timeout!r}")
        self.project = project
        self.requested_mode = mode
        self.config: dict[str, Any] = dict(config or {})
        self.name = name
        self.dir = None if dir is None else Path(dir)
        self.entity = entity
        self.tags = tags
        self.init_timeout = float(init_timeout)
        self.probe = probe if probe is not None else probe_wandb_server
        self.verbose = bool(verbose)
        self.mode: str | None = None
        self.reason: str | None = None
        self.run: Any = None
        self.summary: dict[str, Any] = {}
        self._state = "new"  # new -> running -> finished

    # ------------------------------------------------------------------------------------------------ lifecycle

    def __repr__(self) -> str:
        return f"Tracker(project={self.project!r}, mode={self.mode!r}, state={self._state!r})"

    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish(exit_code=0 if exc_type is None else 1)

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`finish`."""
        return self._state == "running"

    @property
    def run_dir(self) -> Path | None:
        """The run's local folder (the one ``wandb sync`` takes); None when disabled or not started."""
        if self.run is None:
            return None
        sync_dir = getattr(getattr(self.run, "settings", None), "sync_dir", None)
        return Path(sync_dir) if sync_dir else Path(self.run.dir).parent

    @property
    def sync_command(self) -> str | None:
        """``wandb sync <run_dir>`` for an offline run, else None."""
        return f"wandb sync {self.run_dir}" if self.mode == "offline" and self.run_dir is not None else None

    def _say(self, message: str) -> None:
        if self.verbose:
            print(message, file=sys.stdout, flush=True)

    def start(self) -> Tracker:
        """Resolve the mode and start the run (once; calling again returns the same tracker)."""
        if self._state == "running":
            return self
        if self._state == "finished":
            raise RuntimeError("this Tracker has finished; create a new Tracker for a new run")
        mode, reason = resolve_mode(self.requested_mode, os.environ, self.probe, timeout=PROBE_TIMEOUT)
        if mode == "disabled":
            self.mode, self.reason, self._state = mode, reason, "running"
            self._say(f"W&B disabled ({reason}): logging calls do nothing and no files are written.")
            return self
        wandb = _wandb()
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
        if mode == "online":
            try:
                self.run = self._init(wandb, "online")
            except Exception as err:  # noqa: BLE001 - any failure to go online: log offline instead
                first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
                mode, reason = "offline", f"the online start failed ({type(err).__name__}: {first_line})"
        if mode == "offline":
            self.run = self._init(wandb, "offline")
        self.mode, self.reason, self._state = mode, reason, "running"
        if mode == "online":
            self._say(f"W&B online ({reason}): {getattr(self.run, 'url', '')}")
        else:
            self._say(f"W&B offline: {reason}. The run is saved in {self.run_dir}; upload it later with: "
                      f"{self.sync_command}")
        return self

    def _init(self, wandb: Any, mode: str) -> Any:
        settings = wandb.Settings(init_timeout=self.init_timeout)
        return wandb.init(
            project=self.project, entity=self.entity, name=self.name, tags=self.tags, config=dict(self.config),
            dir=None if self.dir is None else str(self.dir), mode=mode, settings=settings,
            reinit=_reinit_value(wandb),
        )

    def finish(self, exit_code: int = 0) -> None:
        """End the run (upload in online mode); safe to call twice. A non-zero ``exit_code`` marks it failed."""
        if self._state != "running":
            return
        self._state = "finished"
        if self.run is not None:
            self.run.finish(exit_code=exit_code)

    def _active(self) -> bool:
        """True when there is a wandb run to write to; raises if the tracker is not running."""
        if self._state == "new":
            raise RuntimeError("the run has not started: call start() or use `with Tracker(...) as run:`")
        if self._state == "finished":
            raise RuntimeError("the run has finished; start a new Tracker to log more")
        return self.run is not None

    # ---------------------------------------------------------------------------------------------------- logging

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Add hyperparameters (also before :meth:`start`; later values replace earlier ones)."""
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        for key in config:
            _check_name("config key", key)
        self.config.update(config)
        if self._state == "running" and self.run is not None:
            self.run.config.update(dict(config), allow_val_change=True)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log scalars (numbers, NumPy scalars, 1-element tensors) or wandb media objects at ``step``.

        ``step`` must not decrease across calls (W&B drops earlier steps); ``None`` uses W&B's own counter.
        """
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a dict of name -> value, got {type(metrics).__name__}")
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0):
            raise ValueError(f"step must be a non-negative integer or None, got {step!r}")
        clean: dict[str, Any] = {}
        for key, value in metrics.items():
            _check_name("metric name", key)
            clean[key] = _scalar(value)
        active = self._active()
        for key, value in clean.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.summary[key] = value
        if active:
            self.run.log(clean, step=None if step is None else int(step))

    def log_history(self, history: Any, *, prefix: str = "") -> None:
        """Log a :class:`~exowavenet_lib.train.History` epoch by epoch (x axis ``epoch``) and its best epoch.

        Each epoch becomes one W&B step with ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy``, the extra
        metrics and ``lr`` (names prefixed by ``prefix``, e.g. ``"lstm/"``); the summary gets ``best_epoch``,
        ``best_<monitor>`` and ``stopped_early``.
        """
        if not (hasattr(history, "to_pandas") and hasattr(history, "epochs")):
            raise TypeError(f"history must be an exowavenet_lib.train.History, got {type(history).__name__}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
        table = history.to_pandas()
        active = self._active()
        if active:
            self.run.define_metric(f"{prefix}epoch")
            for column in table.columns:
                self.run.define_metric(f"{prefix}{column}", step_metric=f"{prefix}epoch")
        for epoch, row in table.iterrows():
            values = {f"{prefix}{k}": float(v) for k, v in row.items() if not math.isnan(float(v))}
            self.log_metrics({f"{prefix}epoch": int(epoch), **values})
        best = {f"{prefix}stopped_early": bool(getattr(history, "stopped_early", False))}
        if getattr(history, "best_epoch", None) is not None:
            best[f"{prefix}best_epoch"] = int(history.best_epoch)
            best[f"{prefix}best_{history.monitor}"] = float(history.best_value)
        self.summary.update(best)
        if active:
            self.run.summary.update(best)

    def log_confusion_matrix(
        self, y_true: Any, y_pred: Any, class_names: Sequence[str], *, name: str = "confusion_matrix",
        title: str | None = None,
    ) -> np.ndarray:
        """Log a confusion-matrix chart; returns the counts (rows: true class, columns: predicted class).

        Labels are class indices or names, checked by :class:`~exowavenet_lib.metrics.MetricsTracker`.
        """
        from exowavenet_lib.metrics import MetricsTracker

        _check_name("name", name)
        metrics = MetricsTracker(list(class_names))
        true_idx = metrics._labels("y_true", y_true)
        pred_idx = metrics._labels("y_pred", y_pred)
        metrics.update(true_idx, pred_idx)
        if self._active():
            chart = _wandb().plot.confusion_matrix(
                y_true=true_idx.tolist(), preds=pred_idx.tolist(), class_names=list(metrics.classes),
                title=title or f"Confusion matrix (n = {metrics.n_samples})",
            )
            self.run.log({name: chart})
        return metrics.confusion_matrix()

    def log_table(self, name: str, table: pd.DataFrame) -> None:
        """Log a DataFrame as a W&B Table (a named or non-default index becomes a column)."""
        import pandas as pd

        _check_name("name", name)
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
        if not self._active():
            return
        frame = table
        if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        frame = frame.rename(columns=str)
        self.run.log({name: _wandb().Table(dataframe=frame)})

    def log_figure(self, name: str, figure: Figure, *, dpi: int = 100) -> None:
        """Log a matplotlib Figure (e.g. light curves with predictions) as a PNG image. The figure stays open."""
        _check_name("name", name)
        if not (hasattr(figure, "savefig") and hasattr(figure, "axes")):
            raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
        if not self._active():
            return
        from PIL import Image

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        buffer.seek(0)
        with Image.open(buffer) as image:
            self.run.log({name: _wandb().Image(image.convert("RGB"))})

    def log_checkpoint(
        self, path: str | os.PathLike[str], name: str, aliases: Sequence[str] = ("latest",), *,
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        """Log a checkpoint file (or folder) as a ``model`` artifact with ``aliases``; returns the artifact.

        The file is copied at call time, so overwriting it later does not change what was logged. In offline mode
        the artifact is uploaded by ``wandb sync``. Returns None when disabled.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"checkpoint path does not exist: {path}")
        if not isinstance(name, str) or not _ARTIFACT_NAME.match(name):
            raise ValueError(f"name must use only letters, digits, '-', '_' and '.', got {name!r}")
        if isinstance(aliases, str) or not all(isinstance(a, str) and _ARTIFACT_NAME.match(a) for a in aliases):
            raise ValueError(f"aliases must be a list of names (letters, digits, '-', '_', '.'), got {aliases!r}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
        if not self._active():
            return None
        wandb = _wandb()
        artifact = wandb.Artifact(name, type="model", metadata=dict(metadata or {}))
        if path.is_dir():
            artifact.add_dir(str(path))
        else:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact, aliases=list(aliases))
        return artifact


#: The curriculum's name for :class:`Tracker`.
WandBExperimentTracker = Tracker
