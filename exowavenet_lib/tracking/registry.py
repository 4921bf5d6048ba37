
"""Promote a model to ``production`` only when it beats the current one: a local registry and a W&B artifact alias.

::

    registry = LocalModelRegistry("models/registry")
    if registry.promote("transient-classifier", "checkpoints/best.pt", {"val_macro_f1": 0.81}):
        print("new production model:", registry.production("transient-classifier")["path"])

    # with a running Tracker: the alias moves on W&B only when online and the candidate is better
    promote_wandb_artifact(run, "transient-classifier", "checkpoints/best.pt", {"val_macro_f1": 0.81})

The local registry is a folder: ``index.json`` (written atomically: temp file + ``os.replace``) and one copy of every
checkpoint ever registered, ``<name>/v<k><suffix>``. Every call to :meth:`LocalModelRegistry.promote` records a
version (promoted or not), so :meth:`~LocalModelRegistry.history` shows what was tried; ``production`` points at the
best version that was promoted.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exowavenet_lib.runtime import atomic_path, write_json_atomic

__all__ = ["MODES", "LocalModelRegistry", "beats", "promote_wandb_artifact"]

#: Directions of the comparison metric.
MODES = ("max", "min")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must use only letters, digits, '-', '_' and '.', got {name!r}")
    return name


def _check_metric(metrics: Any, metric: Any, mode: Any) -> float:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict of name -> number, got {type(metrics).__name__}")
    if not isinstance(metric, str) or metric not in metrics:
        raise ValueError(f"metric {metric!r} is not in metrics {sorted(metrics)}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    value = metrics[metric]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ValueError(f"metrics[{metric!r}] must be a finite number, got {value!r}")
    return float(value)


def _plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers (NumPy scalars included) as Python floats; other JSON-able values unchanged."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()
        out[str(key)] = value
    return out


def beats(candidate: float, current: float | None, mode: str = "max") -> bool:
    """True when ``candidate`` is strictly better than ``current`` (None: nothing to beat) in direction ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    if current is None:
        return True
    return candidate > current if mode == "max" else candidate < current


class LocalModelRegistry:
    """A folder of versioned checkpoints with a ``production`` pointer per model name.

    Parameters
    ----------
    root : str or Path
        Registry folder (created if missing).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path, got {type(root).__name__}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.index_path = self.root / "index.json"

    def __repr__(self) -> str:
        return f"LocalModelRegistry({str(self.root)!r}, models={sorted(self._read())})"

    def _read(self) -> dict[str, Any]:
        if not self.index_path.exists():
            return {}
        with open(self.index_path, encoding="utf-8") as handle:
            return json.load(handle)

    def _write(self, index: Mapping[str, Any]) -> None:
        write_json_atomic(self.index_path, index, sort_keys=True)

    def promote(
        self,
        name: str,
        checkpoint_path: str | os.PathLike[str],
        metrics: Mapping[str, Any],
        metric: str = "val_macro_f1",
        mode: str = "max",
    ) -> bool:
        """Register ``checkpoint_path`` as a new version of ``name``; make it ``production`` only if it is better.

        "Better" means strictly better than the current production version's ``metrics[metric]`` in direction
        ``mode`` (the first version of a name always wins). The checkpoint is copied into the registry (atomically),
        so later changes to the original do not affect it. Returns True when the candidate was promoted.
        """
        _check_name(name)
        value = _check_metric(metrics, metric, mode)
        source = Path(checkpoint_path)
        if not source.is_file():
            raise FileNotFoundError(f"checkpoint_path is not a file: {source}")
        index = self._read()
        entry = index.setdefault(name, {"production": None, "versions": []})
        current = self.production(name, index=index)
        if current is not None and current["metric"] != metric:
            raise ValueError(f"the production version of {name!r} was judged on {current['metric']!r}, not "
                             f"{metric!r}: compare like with like")
        promoted = beats(value, None if current is None else current["value"], mode)
        version = len(entry["versions"]) + 1
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        target = folder / f"v{version}{source.suffix}"
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        entry["versions"].append({
            "version": version, "path": str(target.relative_to(self.root)), "source": str(source),
            "metric": metric, "mode": mode, "value": value, "metrics": _plain_metrics(metrics),
            "promoted": promoted, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })
        if promoted:
            entry["production"] = version
        self._write(index)
        return promoted

    def production(self, name: str, *, index: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The current production version of ``name`` (its record, with an absolute ``path``), or None."""
        _check_name(name)
        index = self._read() if index is None else index
        entry = index.get(name)
        if entry is None or entry["production"] is None:
            return None
        record = dict(entry["versions"][entry["production"] - 1])
        record["path"] = str(self.root / record["path"])
        return record

    def history(self, name: str) -> Any:
        """Every version of ``name`` in order (a DataFrame: version, value, promoted, ... and the metrics)."""
        import pandas as pd

        _check_name(name)
        entry = self._read().get(name)
        rows = [] if entry is None else entry["versions"]
        columns = ["version", "metric", "mode", "value", "promoted", "path", "source", "created"]
        table = pd.DataFrame([{k: r[k] for k in columns} for r in rows], columns=columns)
        metrics = pd.DataFrame([r["metrics"] for r in rows], index=table.index)
        return pd.concat([table, metrics.drop(columns=[c for c in metrics.columns if c in columns])], axis=1)


def promote_wandb_artifact(
    tracker: Any,
    name: str,
    checkpoint_path: str | os.PathLike[str],
    metrics: Mapping[str, Any],
    metric: str = "val_macro_f1",
    mode: str = "max",
    *,
    api: Any = None,
    timeout: float = 10.0,
) -> bool | None:
    """Move the W&B ``production`` alias of model artifact ``name`` to ``checkpoint_path`` if it beats the current one.

    Only in online mode: the current ``<entity>/<project>/<name>:production`` artifact's ``metadata[metric]`` is read
    through ``api`` (default ``wandb.Api(timeout=timeout)``); when there is none, or the candidate is strictly better
    in direction ``mode``, the checkpoint is logged with :meth:`Tracker.log_checkpoint` and aliases ``latest`` and
    ``production`` (metrics as metadata) and True is returned; otherwise False. Offline or disabled, the server
    cannot be asked what production is, so nothing is logged and None is returned: use a
    :class:`LocalModelRegistry` there.
    """
    _check_name(name)
    value = _check_metric(metrics, metric, mode)
    if not (hasattr(tracker, "log_checkpoint") and hasattr(tracker, "mode")):
        raise TypeError(f"tracker must be an exowavenet_lib.tracking.Tracker, got {type(tracker).__name__}")
    if not getattr(tracker, "running", False):
        raise RuntimeError("the tracker is not running: use `with Tracker(...) as run:`")
    if tracker.mode != "online" or tracker.run is None:
        return None
    if api is None:
        import wandb

        api = wandb.Api(timeout=timeout)
    run = tracker.run
    path = f"{run.entity}/{run.project}/{name}:production"
    try:
        current = api.artifact(path, type="model")
    except Exception as err:  # noqa: BLE001 - wandb raises CommError / ValueError for a missing artifact
        if "not found" not in str(err).lower() and "does not" not in str(err).lower():
            raise
        current = None
    current_value = None
    if current is not None:
        stored = (getattr(current, "metadata", None) or {}).get(metric)
        current_value = None if stored is None else float(stored)
    if not beats(value, current_value, mode):
        return False
    tracker.log_checkpoint(checkpoint_path, name, aliases=("latest", "production"),
                           metadata={**_plain_metrics(metrics), "promotion_metric": metric, "promotion_mode": mode})
    return True
