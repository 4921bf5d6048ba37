"""End-to-end transit detection: :class:`TransitDetector` (preprocess → windows → ExoWaveNet → scores).

``TransitDetector.from_pretrained()`` loads the small model shipped in ``exowavenet_lib/pretrained/`` (trained on
simulated Kepler light curves only; see its model card). ``detect_files`` is what ``exowavenet detect`` runs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from exowavenet_lib.lightcurves import LightCurve
from exowavenet_lib.runtime import atomic_path, json_safe, write_json_atomic
from exowavenet_lib.train import save_checkpoint
from exowavenet_lib.transit.model import ExoWaveNet
from exowavenet_lib.transit.preprocess import KEPLER_CADENCE_DAYS, Windows, prepare, segment
from exowavenet_lib.transit.train import predict_windows

__all__ = ["DEFAULT_PRETRAINED", "PRETRAINED_DIR", "TransitDetector", "available_pretrained", "detect_files"]

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
DEFAULT_PRETRAINED = "exowavenet-kepler-small"
DETECTOR_FORMAT = "exowavenet-transit-detector"


def available_pretrained() -> list[str]:
    """Names of the models shipped in ``exowavenet_lib/pretrained/``."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))


class _TupleOutputs(torch.nn.Module):
    """The model with a tuple of heads as output (what tracing and ONNX export need) instead of a dict."""

    def __init__(self, model: ExoWaveNet, heads: list[str]) -> None:
        super().__init__()
        self.model, self.heads = model, heads

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x, mask)
        return tuple(out[name] for name in self.heads)


class TransitDetector:
    """Score sliding windows of a light curve for transits.

    Parameters
    ----------
    model : ExoWaveNet
    window, stride : int
        Window length and step, in grid samples at ``cadence_days``.
    threshold : float
        Window score at or above which a window is reported as a detection.
    detrend_method, detrend_window_days, clip_sigma
        Preprocessing (:func:`~exowavenet_lib.transit.preprocess.prepare`).
    cadence_days : float
        Grid spacing (Kepler long cadence by default).
    """

    def __init__(self, model: ExoWaveNet, window: int = 1024, stride: int = 512, threshold: float = 0.5, *,
                 detrend_method: str = "polynomial", detrend_window_days: float = 1.5, clip_sigma: float = 5.0,
                 cadence_days: float = KEPLER_CADENCE_DAYS, name: str | None = None) -> None:
        if not isinstance(model, ExoWaveNet):
            raise TypeError(f"model must be an ExoWaveNet, got {type(model).__name__}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        self.model = model.eval()
        self.window, self.stride, self.threshold = int(window), int(stride), float(threshold)
        self.detrend_method, self.detrend_window_days = detrend_method, float(detrend_window_days)
        self.clip_sigma, self.cadence_days, self.name = float(clip_sigma), float(cadence_days), name

    # ------------------------------------------------------------------------------------------------ config / io
    @property
    def config(self) -> dict[str, Any]:
        """Plain-Python configuration (JSON-serialisable) that rebuilds this detector with its weights."""
        return {
            "format": DETECTOR_FORMAT, "version": 1, "model": dict(self.model.config), "window": self.window,
            "stride": self.stride, "threshold": self.threshold, "detrend_method": self.detrend_method,
            "detrend_window_days": self.detrend_window_days, "clip_sigma": self.clip_sigma,
            "cadence_days": self.cadence_days,
        }

    def save(self, path: str | os.PathLike, **extra: Any) -> Path:
        """Write weights + config atomically to ``path`` (.pt) and the config to ``path`` with suffix ``.json``."""
        path = Path(path)
        save_checkpoint(path, self.model, detector_config=self.config, **json_safe(extra))
        os.chmod(path, 0o644)
        write_json_atomic(path.with_suffix(".json"), json_safe({**self.config, **extra}), sort_keys=True,
                          allow_nan=False)
        return path

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, **overrides: Any) -> TransitDetector:
        """Load a detector written by :meth:`save` (``torch.load(weights_only=True)``); ``overrides`` e.g. threshold."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no detector checkpoint at {str(path)!r}")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        config = payload.get("extra", {}).get("detector_config") if isinstance(payload, dict) else None
        if not isinstance(config, dict) or config.get("format") != DETECTOR_FORMAT:
            raise ValueError(f"{str(path)!r} is not a TransitDetector checkpoint (written by TransitDetector.save)")
        model = ExoWaveNet(**config["model"])
        model.load_state_dict(payload["model"])
        kwargs = {k: config[k] for k in ("window", "stride", "threshold", "detrend_method", "detrend_window_days",
                                         "clip_sigma", "cadence_days")}
        kwargs.update(overrides)
        kwargs.setdefault("name", path.stem)
        return cls(model, **kwargs)

    @classmethod
    def from_pretrained(cls, name: str | None = None, **overrides: Any) -> TransitDetector:
        """Load a model shipped in ``exowavenet_lib/pretrained/`` (default ``exowavenet-kepler-small``)."""
        name = name or DEFAULT_PRETRAINED
        path = PRETRAINED_DIR / f"{name}.pt"
        if not path.is_file():
            raise ValueError(f"no pretrained model {name!r}; available: {available_pretrained()}")
        return cls.from_checkpoint(path, **overrides)

    @classmethod
    def load(cls, spec: str | os.PathLike | None = None, **overrides: Any) -> TransitDetector:
        """A checkpoint path if ``spec`` names an existing file, else a pretrained name (None → the default)."""
        if spec is not None and Path(spec).is_file():
            return cls.from_checkpoint(spec, **overrides)
        return cls.from_pretrained(None if spec is None else str(spec), **overrides)

    # ------------------------------------------------------------------------------------------------ inference
    def windows(self, lc: LightCurve) -> Windows:
        """The preprocessed, standardised windows the model sees."""
        flat = prepare(lc, method=self.detrend_method, window_days=self.detrend_window_days,
                       clip_sigma=self.clip_sigma)
        return segment(flat, self.window, self.stride, cadence_days=self.cadence_days)

    def _run(self, lc: LightCurve) -> tuple[Windows, np.ndarray, np.ndarray]:
        w = self.windows(lc)
        score, per = predict_windows(self.model, w)
        if np.isnan(score).all():  # segmentation-only model: a window scores its most transit-like valid sample
            score = np.where(w.mask, per, 0.0).max(axis=1)
        return w, score, per

    def predict(self, lightcurve: LightCurve) -> pd.DataFrame:
        """One row per window: ``window, start_mjd, end_mjd, score, n_valid, detected`` (score ≥ threshold)."""
        w, score, _ = self._run(lightcurve)
        return pd.DataFrame({
            "window": np.arange(len(w)), "start_mjd": w.start_mjd, "end_mjd": w.end_mjd, "score": score,
            "n_valid": w.mask.sum(axis=1), "detected": score >= self.threshold,
        })

    def predict_samples(self, lightcurve: LightCurve) -> pd.DataFrame:
        """Per-sample in-transit probability on the grid (valid samples only), averaged over overlapping windows.

        Columns ``mjd, flux`` (standardised, as the model sees it) and ``probability``.
        """
        w, _, per = self._run(lightcurve)
        t0 = w.t[0, 0]
        idx = np.round((w.t - t0) / self.cadence_days).astype(np.int64)
        sel = w.mask
        n = int(idx[sel].max()) + 1 if sel.any() else 0
        counts = np.bincount(idx[sel], minlength=n)
        prob = np.bincount(idx[sel], weights=per[sel], minlength=n)
        flux = np.bincount(idx[sel], weights=w.x[sel], minlength=n)
        seen = counts > 0
        return pd.DataFrame({"mjd": t0 + self.cadence_days * np.flatnonzero(seen),
                             "flux": flux[seen] / counts[seen], "probability": prob[seen] / counts[seen]})

    def score(self, lightcurve: LightCurve) -> float:
        """The maximum window score of a light curve."""
        return float(self.predict(lightcurve)["score"].max())

    # ------------------------------------------------------------------------------------------------ export
    def _exportable(self) -> tuple[torch.nn.Module, list[str]]:
        head = self.model.head
        heads = [name for name, has in (("logit", head != "segmentation"), ("per_sample", head != "classification"))
                 if has]
        return _TupleOutputs(self.model, heads).eval(), heads

    def _example(self, window: int) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        x = torch.zeros(2, window)
        mask = torch.ones(2, window, dtype=torch.bool)
        mask[1, window // 2:] = False
        return x, mask

    def export_torchscript(self, path: str | os.PathLike, window: int | None = None) -> Path:
        """Trace the model to TorchScript at ``path`` (atomically); load with ``torch.jit.load``.

        The traced module takes ``(x, mask)`` — ``x`` (B, L) float32 standardised flux, ``mask`` (B, L) bool — and
        returns a tuple of the model's heads in the order ``logit`` (B,), ``per_sample`` (B, L) (logits, before the
        sigmoid). ``window`` is the length of the example input (default: the detector's window); the trace accepts
        any batch size, and any length unless the model folds (``fold_pooling``: its period tables are built for one
        length, so the trace runs at ``window`` only and raises at any other).
        """
        path = Path(path)
        module, _ = self._exportable()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the fold tables become constants
            example = self._example(self.window if window is None else window)
            traced = torch.jit.trace(module, example, check_trace=False)
        with atomic_path(path) as tmp:
            torch.jit.save(traced, str(tmp))
        return path

    def export_onnx(self, path: str | os.PathLike, window: int | None = None, opset: int = 18) -> Path:
        """Export the model to ONNX at ``path`` (atomically): dynamic batch, and length unless the model folds.

        Inputs ``x`` (batch, length) float32 and ``mask`` (batch, length) bool; outputs named ``logit`` and/or
        ``per_sample`` (logits, before the sigmoid), as in :meth:`export_torchscript`. ``window`` is the example
        length (default: the detector's window), and the only length a folding model accepts. Uses the
        ``torch.export``-based exporter (needs ``onnxscript``).
        """
        path = Path(path)
        module, heads = self._exportable()
        example = self._example(self.window if window is None else window)
        batch, length = torch.export.Dim("batch"), torch.export.Dim("length")
        axes = {0: batch} if self.model.fold is not None else {0: batch, 1: length}  # fold tables fix the length
        dynamic = {"x": axes, "mask": axes}

        with atomic_path(path) as tmp, warnings.catch_warnings():
            # the exporter's notice that both inputs share the axis names
            warnings.filterwarnings("ignore", message=".*axis name", category=UserWarning)
            torch.onnx.export(module, example, str(tmp), input_names=["x", "mask"], output_names=heads,
                              dynamic_shapes=dynamic, opset_version=opset, dynamo=True, verbose=False,
                              external_data=False)
        return path

    def __repr__(self) -> str:
        return (f"TransitDetector({self.name or 'unnamed'}: {self.model.n_parameters()} params, window {self.window}, "
                f"stride {self.stride}, threshold {self.threshold})")


def detect_files(paths: Sequence[str | os.PathLike], model: str | None = None, threshold: float | None = None
                 ) -> tuple[dict[str, Any], int]:
    """Run a detector on light-curve files; returns (JSON-ready report, exit status: 0 ok, 1 some file failed)."""
    from exowavenet_lib.transit.io import load_lightcurve

    overrides = {} if threshold is None else {"threshold": float(threshold)}
    detector = TransitDetector.load(model, **overrides)
    results, status = [], 0
    for path in paths:
        try:
            lc = load_lightcurve(path)
            df = detector.predict(lc)
        except (OSError, ValueError, TypeError) as err:
            results.append({"file": str(path), "error": str(err)})
            status = 1
            continue
        rows = [{"start_mjd": float(r.start_mjd), "end_mjd": float(r.end_mjd), "score": float(r.score)}
                for r in df.itertuples()]
        results.append({
            "file": str(path), "object_id": lc.meta.get("object_id"), "n_cadences": len(lc),
            "max_score": float(df["score"].max()), "windows": rows,
            "detections": [r for r in rows if r["score"] >= detector.threshold],
        })
    report = {"model": detector.name, "threshold": detector.threshold, "files": results}
    return report, status
