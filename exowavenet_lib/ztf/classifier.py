"""Production ZTF transient classifier (final project, notebook 11): a masked GRU over alert photometry.

:class:`ProductionTransientClassifier` wraps a trained :class:`AlertGRUClassifier` with everything production needs:
loading (:meth:`~ProductionTransientClassifier.from_pretrained` for the model shipped in ``exowavenet_lib/pretrained/``,
:meth:`~ProductionTransientClassifier.from_checkpoint`, :meth:`~ProductionTransientClassifier.from_wandb_artifact`),
batched temperature-scaled probabilities, MC-dropout uncertainty, TorchScript/ONNX export, per-observation
explanations, and :func:`classify_files` behind ``exowavenet classify FILE...``::

    clf = ProductionTransientClassifier.from_pretrained()
    results = clf.classify_with_uncertainty(lightcurves)     # one dict per light curve
    clf.explain_prediction(lightcurves[0])                   # DataFrame + plot: which observations mattered

Input encoding is the library's (:func:`exowavenet_lib.data.lightcurve_features`: time since the first detection,
flux and error scaled by the object's maximum ``|flux|``, one-hot g/r), so neither absolute time nor absolute flux
reaches the model. Observations in bands the model was not trained on (ZTF ``i``) are dropped. The network derives
scale-free per-step inputs from it (log time since first detection, log gap to the previous detection, S/N,
magnitude below the brightest detection) and reads them with a unidirectional GRU run over the *padded* batch: a
step never sees later steps, so padding after a sequence's end cannot change its outputs, and no packed sequences
are needed (the forward pass exports to TorchScript and ONNX). The representation is the output at each sequence's
last valid step plus the masked mean and max of all outputs. Dropout is ``nn.Dropout`` modules only, so MC dropout
(:func:`exowavenet_lib.uncertainty.enable_mc_dropout`) switches exactly those.

The sim-to-real augmentations used to train the shipped model (:func:`alert_stream_augmentation`) mimic what real
alert streams do to a light curve: truncation to early phases, dropped epochs, extra noise, a brighter detection
threshold (fewer, noisier detections: higher redshift), time stretch (redshift, cadence), and for AGN reference-image
subtraction (alert fluxes of AGN are differences from a reference, so they can be negative or have lost their sign).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from exowavenet_lib.calibration import TemperatureScaler
from exowavenet_lib.data.augment import (
    AddNoise,
    Compose,
    DetectionThreshold,
    DropPoints,
    RandomApply,
    ReferenceSubtraction,
    TimeStretch,
    TruncateEarly,
)
from exowavenet_lib.data.collate import collate_lightcurves
from exowavenet_lib.data.dataset import LightCurveDataset
from exowavenet_lib.data.features import DEFAULT_BANDS, TIME_SCALE
from exowavenet_lib.lightcurves import LightCurve, TransientLightCurve
from exowavenet_lib.models._common import check_batch, positive_int, probability
from exowavenet_lib.models.pooling import masked_max, masked_mean
from exowavenet_lib.runtime import json_safe, write_json_atomic
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES
from exowavenet_lib.train import save_checkpoint
from exowavenet_lib.transit.detector import PRETRAINED_DIR
from exowavenet_lib.uncertainty import mc_predict, predictive_entropy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CLASSIFIER_FORMAT",
    "DEFAULT_PRETRAINED",
    "AlertGRUClassifier",
    "ProductionTransientClassifier",
    "alert_stream_augmentation",
    "available_pretrained",
    "classify_files",
]

#: Name of the model shipped in ``exowavenet_lib/pretrained/`` that :meth:`ProductionTransientClassifier.
#: from_pretrained` loads by default.
DEFAULT_PRETRAINED = "ztf-transient-classifier"
CLASSIFIER_FORMAT = "exowavenet-ztf-classifier"
#: Per-step inputs the network derives from the library features ``[t, flux, flux_err, band_g, band_r]``.
DERIVED_FEATURES = ("log_t", "log_dt", "flux", "flux_err", "snr", "mag_below_peak", "band_g", "band_r")
_MIN_ERR = 1e-4
_MIN_FLUX = 1e-3  # 7.5 mag below the brightest detection


def available_pretrained() -> list[str]:
    """Names of the ZTF classifiers shipped in ``exowavenet_lib/pretrained/``."""
    names = []
    for path in sorted(PRETRAINED_DIR.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text(encoding="utf-8")).get("format") == CLASSIFIER_FORMAT:
                names.append(path.stem)
    return names


# ------------------------------------------------------------------------------------------------------- network
class AlertGRUClassifier(nn.Module):
    """Masked unidirectional GRU classifier, ``forward(x, mask) -> logits``, exportable (no packed sequences).

    Parameters
    ----------
    n_features : int
        Width of the library features (``3 + n_bands``); the network derives :data:`DERIVED_FEATURES` from them.
    n_classes : int
    hidden_size : int, default 64
    num_layers : int, default 2
        Stacked single-layer GRUs with ``nn.Dropout`` between them.
    dropout : float, default 0.2
        Rate of every ``nn.Dropout`` (after the input projection, between GRUs, in the head).
    """

    def __init__(self, n_features: int = 5, n_classes: int = len(TRANSIENT_CLASSES), hidden_size: int = 64,
                 num_layers: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        self.n_features = positive_int("n_features", n_features)
        if self.n_features < 4:
            raise ValueError(f"n_features must be >= 4 ([t, flux, flux_err] and at least one band), got {n_features}")
        self.n_classes = positive_int("n_classes", n_classes)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("num_layers", num_layers)
        self.dropout_rate = probability("dropout", dropout)
        n_in = 6 + (self.n_features - 3)
        self.embed = nn.Sequential(nn.Linear(n_in, self.hidden_size), nn.ReLU(), nn.Dropout(self.dropout_rate))
        self.grus = nn.ModuleList(nn.GRU(self.hidden_size, self.hidden_size, batch_first=True)
                                  for _ in range(self.num_layers))
        self.between = nn.ModuleList(nn.Dropout(self.dropout_rate) for _ in range(self.num_layers - 1))
        self.head = nn.Sequential(
            nn.Dropout(self.dropout_rate), nn.Linear(3 * self.hidden_size, self.hidden_size), nn.ReLU(),
            nn.Dropout(self.dropout_rate), nn.Linear(self.hidden_size, self.n_classes),
        )

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-ready)."""
        return {"n_features": self.n_features, "n_classes": self.n_classes, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "dropout": self.dropout_rate}

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @staticmethod
    def derive(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Scale-free per-step inputs (B, T, 6 + n_bands) from library features; zero at padded steps."""
        t, flux, err = x[..., 0], x[..., 1], x[..., 2]
        days = t * TIME_SCALE
        prev = torch.cat([days[:, :1], days[:, :-1]], dim=1)
        log_t = torch.log1p(days.clamp_min(0.0)) / 5.0
        log_dt = torch.log1p((days - prev).clamp_min(0.0)) / 3.0
        z = flux / err.clamp_min(_MIN_ERR) / 5.0
        snr = torch.sign(z) * torch.log(z.abs() + torch.sqrt(z * z + 1.0))  # asinh, which ONNX opset 17 lacks
        mag_below = -2.5 * torch.log10(flux.clamp_min(_MIN_FLUX)) / 5.0
        derived = torch.cat([torch.stack([log_t, log_dt, flux, err, snr, mag_below], dim=-1), x[..., 3:]], dim=-1)
        return derived * mask.unsqueeze(-1).to(derived.dtype)

    def forward_unchecked(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without input validation (what the exported graphs run); padded steps of ``x`` must be 0."""
        h = self.embed(self.derive(x, mask))
        for i, gru in enumerate(self.grus):
            if i > 0:
                h = self.between[i - 1](h)
            h, _ = gru(h)
        lengths = mask.sum(dim=1)
        index = (lengths - 1).clamp_min(0).view(-1, 1, 1).expand(-1, 1, h.shape[-1])
        last = h.gather(1, index).squeeze(1)
        z = torch.cat([last, masked_mean(h, mask), masked_max(h, mask)], dim=-1)
        return self.head(z)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) for library features ``x`` (B, T, n_features) and ``mask`` (B, T)."""
        x, _ = check_batch(x, mask, self.n_features)
        return self.forward_unchecked(x, mask)


class _Exportable(nn.Module):
    """``(x, mask) -> temperature-scaled probabilities`` with no validation: the graph TorchScript/ONNX receive."""

    def __init__(self, net: AlertGRUClassifier, temperature: float) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("inv_temperature", torch.tensor(1.0 / temperature, dtype=torch.float32))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x * mask.unsqueeze(-1).to(x.dtype)
        return torch.softmax(self.net.forward_unchecked(x, mask) * self.inv_temperature, dim=-1)


class _Tempered(nn.Module):
    """Logits divided by a temperature (so MC-dropout samples are calibrated like the point prediction)."""

    def __init__(self, net: nn.Module, temperature: float) -> None:
        super().__init__()
        self.net = net
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(x, mask) / self.temperature


# ------------------------------------------------------------------------------------------------ augmentations
def alert_stream_augmentation(seed: int = 0) -> Compose:
    """The sim-to-real augmentation the shipped model is trained with (see the module docstring).

    AGN reference subtraction (p 0.5), time stretch 0.75-1.35 (p 0.5), dropped epochs 0-40 % (p 0.5), extra noise
    of 0.5-1 error (p 0.3, errors inflated), a 5-10 sigma detection threshold (p 0.3), truncation to the first
    ``k >= 3`` detections (p 0.3).
    """
    seeds = np.random.SeedSequence(seed).spawn(12)
    return Compose([
        RandomApply(ReferenceSubtraction(seed=seeds[0]), 0.5, seed=seeds[1]),
        RandomApply(TimeStretch((0.75, 1.35), seed=seeds[2]), 0.5, seed=seeds[3]),
        RandomApply(DropPoints(0.25, seed=seeds[4]), 0.5, seed=seeds[5]),
        RandomApply(AddNoise(0.7, inflate_errors=True, seed=seeds[6]), 0.3, seed=seeds[7]),
        RandomApply(DetectionThreshold(seed=seeds[8]), 0.3, seed=seeds[9]),
        RandomApply(TruncateEarly(seed=seeds[10]), 0.3, seed=seeds[11]),
    ])


# ------------------------------------------------------------------------------------------------ input checks
def _check_lightcurves(lightcurves: Any, bands: tuple[str, ...]) -> list[LightCurve]:
    """Validate a list of light curves and drop observations in other bands and with non-finite values."""
    if isinstance(lightcurves, LightCurve):
        raise TypeError("lightcurves must be a list of light curves; wrap a single one as [lc]")
    if isinstance(lightcurves, (str, bytes)) or not isinstance(lightcurves, Sequence):
        raise TypeError(f"lightcurves must be a list of LightCurve objects, got {type(lightcurves).__name__}")
    if len(lightcurves) == 0:
        raise ValueError("lightcurves is empty; give at least one light curve")
    out = []
    for i, lc in enumerate(lightcurves):
        if not isinstance(lc, LightCurve):
            raise TypeError(f"lightcurves[{i}] must be a LightCurve or TransientLightCurve, got {type(lc).__name__}")
        keep = (np.isin(lc.band, bands) & np.isfinite(lc.mjd) & np.isfinite(lc.flux) & np.isfinite(lc.flux_err)
                & (lc.flux_err > 0))
        name = getattr(lc, "object_id", None) or f"lightcurves[{i}]"
        if not keep.any() or not np.any(lc.flux[keep] != 0):
            raise ValueError(f"{name} has no usable observation in the bands {list(bands)} (finite, flux_err > 0, "
                             f"non-zero flux); found bands {list(lc.bands)} and {len(lc)} observation(s)")
        if not keep.all():
            lc = lc[keep]
        if np.any(np.diff(lc.mjd) < 0):
            lc = lc[np.argsort(lc.mjd, kind="stable")]
        out.append(lc)
    return out


# ------------------------------------------------------------------------------------------------- classifier
class ProductionTransientClassifier:
    """A trained :class:`AlertGRUClassifier` with its encoding, temperature and loaders (see the module docstring).

    Parameters
    ----------
    model : AlertGRUClassifier
    classes : sequence of str
        Output order of the model (default :data:`TRANSIENT_CLASSES`).
    bands : sequence of str
        Bands of the one-hot features; other bands are dropped at inference.
    max_sequence_length : int
        The first this many detections are classified (as in training).
    temperature : float
        Logits are divided by it (fit with :meth:`fit_temperature`).
    name : str, optional
    metadata : dict, optional
        What the model card and JSON say (training, metrics); kept as is.
    """

    def __init__(self, model: AlertGRUClassifier, classes: Sequence[str] = TRANSIENT_CLASSES, *,
                 bands: Sequence[str] = DEFAULT_BANDS, max_sequence_length: int = 64, temperature: float = 1.0,
                 name: str | None = None, metadata: Mapping[str, Any] | None = None) -> None:
        if not isinstance(model, AlertGRUClassifier):
            raise TypeError(f"model must be an AlertGRUClassifier, got {type(model).__name__}")
        self.classes: tuple[str, ...] = tuple(str(c) for c in classes)
        if len(self.classes) != model.n_classes:
            raise ValueError(f"classes has {len(self.classes)} names but the model has {model.n_classes} outputs")
        self.bands = tuple(bands)
        if model.n_features != 3 + len(self.bands):
            raise ValueError(f"bands {self.bands} need n_features {3 + len(self.bands)}, model has {model.n_features}")
        self.max_sequence_length = positive_int("max_sequence_length", max_sequence_length)
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        self.temperature = float(temperature)
        self.model = model.eval()
        self.name = name
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return (f"ProductionTransientClassifier({self.name or 'unnamed'}: {self.model.n_parameters()} params, "
                f"classes {list(self.classes)}, T={self.temperature:.3f})")

    # ------------------------------------------------------------------------------------------------- config / io
    @property
    def config(self) -> dict[str, Any]:
        """Plain-Python configuration that rebuilds this classifier with its weights."""
        return {"format": CLASSIFIER_FORMAT, "version": 1, "model": self.model.config, "classes": list(self.classes),
                "bands": list(self.bands), "time_scale": TIME_SCALE, "max_sequence_length": self.max_sequence_length,
                "temperature": self.temperature}

    def save(self, path: str | os.PathLike, **metadata: Any) -> Path:
        """Write weights + config to ``path`` (.pt, atomic) and config + ``metadata`` to ``path`` with ``.json``."""
        path = Path(path)
        save_checkpoint(path, self.model, classifier_config=self.config)
        os.chmod(path, 0o644)
        write_json_atomic(path.with_suffix(".json"), json_safe({**metadata, **self.config}), sort_keys=True,
                          allow_nan=False)
        return path

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, config: str | os.PathLike | Mapping[str, Any] | None = None
                        ) -> ProductionTransientClassifier:
        """Load a checkpoint written by :meth:`save` (``weights_only=True``).

        ``config``: a JSON file or dict overriding the checkpoint's configuration (a bare state dict needs one).
        Metadata comes from the ``.json`` next to the checkpoint, when there is one.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no classifier checkpoint at {str(path)!r}")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        state = payload.get("model") if isinstance(payload, dict) and "model" in payload else payload
        saved = payload.get("extra", {}).get("classifier_config") if isinstance(payload, dict) else None
        sidecar = path.with_suffix(".json")
        metadata = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
        if isinstance(config, (str, os.PathLike)):
            config = json.loads(Path(config).read_text(encoding="utf-8"))
        cfg = dict(config) if config is not None else saved
        if not isinstance(cfg, dict) or cfg.get("format", CLASSIFIER_FORMAT) != CLASSIFIER_FORMAT or "model" not in cfg:
            raise ValueError(f"{str(path)!r} is not a ZTF classifier checkpoint (written by "
                             f"ProductionTransientClassifier.save); pass config= for a bare state dict")
        if cfg.get("time_scale", TIME_SCALE) != TIME_SCALE:
            raise ValueError(f"{str(path)!r} was trained with time_scale {cfg['time_scale']}, "
                             f"features use {TIME_SCALE}")
        model = AlertGRUClassifier(**cfg["model"])
        model.load_state_dict(state)
        return cls(model, cfg.get("classes", TRANSIENT_CLASSES), bands=cfg.get("bands", DEFAULT_BANDS),
                   max_sequence_length=cfg.get("max_sequence_length", 64), temperature=cfg.get("temperature", 1.0),
                   name=path.stem, metadata=metadata)

    @classmethod
    def from_pretrained(cls, name: str | None = None) -> ProductionTransientClassifier:
        """Load a model shipped in ``exowavenet_lib/pretrained/`` (default :data:`DEFAULT_PRETRAINED`)."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}")
        name = name or DEFAULT_PRETRAINED
        path = PRETRAINED_DIR / f"{name}.pt"
        if not path.is_file() or name not in available_pretrained():
            raise ValueError(f"no pretrained ZTF classifier {name!r}; available: {available_pretrained()}")
        return cls.from_checkpoint(path)

    @classmethod
    def from_wandb_artifact(cls, ref: str, *, api: Any = None, root: str | os.PathLike | None = None
                            ) -> ProductionTransientClassifier:
        """Download a W&B artifact (``"entity/project/name:alias"``) holding one ``.pt`` written by :meth:`save`.

        ``api`` defaults to ``wandb.Api()`` (needs a W&B login); the artifact is downloaded to ``root``.
        """
        if not isinstance(ref, str) or not ref:
            raise ValueError(f"ref must be an artifact reference such as 'entity/project/name:v0', got {ref!r}")
        if api is None:
            import wandb

            api = wandb.Api()
        folder = Path(api.artifact(ref).download(root=None if root is None else str(root)))
        checkpoints = sorted(folder.glob("*.pt"))
        if len(checkpoints) != 1:
            raise ValueError(f"artifact {ref!r} must hold exactly one .pt checkpoint, found {len(checkpoints)}")
        return cls.from_checkpoint(checkpoints[0])

    @classmethod
    def load(cls, spec: str | os.PathLike | None = None) -> ProductionTransientClassifier:
        """A checkpoint path if ``spec`` names an existing file, else a shipped model name (None: the default)."""
        if spec is not None and Path(spec).is_file():
            return cls.from_checkpoint(spec)
        return cls.from_pretrained(None if spec is None else str(spec))

    # ------------------------------------------------------------------------------------------------ inference
    def _batches(self, lightcurves: Sequence[LightCurve], batch_size: int):
        """``(indices, batch)`` pairs over the light curves, shortest first; ``indices`` are input positions."""
        lcs = _check_lightcurves(lightcurves, self.bands)
        batch_size = positive_int("batch_size", batch_size)
        dataset = LightCurveDataset(lcs, bands=self.bands, max_sequence_length=self.max_sequence_length)
        items = [dataset[i] for i in range(len(dataset))]
        # Sort by length so that batches carry little padding; results are put back in input order.
        order = np.argsort([int(item["length"]) for item in items], kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            yield idx, collate_lightcurves([items[i] for i in idx])

    def logits(self, lightcurves: Sequence[LightCurve], *, batch_size: int = 256) -> np.ndarray:
        """Uncalibrated logits (n, n_classes), float64 (dropout off)."""
        out: np.ndarray | None = None
        self.model.eval()
        with torch.inference_mode():
            for idx, batch in self._batches(lightcurves, batch_size):
                z = self.model(batch["x"], batch["mask"]).double().numpy()
                if out is None:
                    out = np.empty((len(lightcurves), z.shape[1]))
                out[idx] = z
        assert out is not None
        return out

    def predict_proba(self, lightcurves: Sequence[LightCurve], *, batch_size: int = 256) -> np.ndarray:
        """Temperature-scaled class probabilities (n, n_classes) in the order of :attr:`classes`."""
        z = self.logits(lightcurves, batch_size=batch_size) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, lightcurves: Sequence[LightCurve], *, batch_size: int = 256) -> list[str]:
        """The most probable class of each light curve."""
        return [self.classes[i] for i in self.predict_proba(lightcurves, batch_size=batch_size).argmax(axis=1)]

    def classify_with_uncertainty(self, lightcurves: Sequence[LightCurve], *, mc_samples: int = 20,
                                  batch_size: int = 256, seed: int | None = 0) -> list[dict[str, Any]]:
        """One dict per light curve: prediction, probabilities and uncertainty.

        Keys: ``object_id``, ``predicted_class``, ``probabilities`` (class → p), ``confidence`` (max p),
        ``entropy`` (nats, of the probabilities: total predictive uncertainty), ``mutual_information`` (epistemic,
        nats), ``uncertainty`` (entropy / log(n_classes), in [0, 1]), ``n_observations`` (used by the model).
        The probabilities are the deterministic temperature-scaled ones of :meth:`predict_proba` (dropout off: what
        the calibration was fitted and benchmarked on), so ``predicted_class`` agrees with :meth:`predict`. The
        mutual information comes from ``mc_samples`` temperature-scaled MC-dropout passes (BALD, seeded by ``seed``,
        see :func:`exowavenet_lib.uncertainty.mc_predict`); ``mc_samples=1`` skips them (mutual information 0).
        """
        lcs = _check_lightcurves(lightcurves, self.bands)
        mc_samples = positive_int("mc_samples", mc_samples)
        n, c = len(lcs), len(self.classes)
        probs = np.empty((n, c))
        mi = np.zeros(n)
        lengths = np.empty(n, dtype=int)
        tempered = _Tempered(self.model, self.temperature)
        for k, (idx, batch) in enumerate(self._batches(lcs, batch_size)):
            lengths[idx] = batch["lengths"].numpy()
            self.model.eval()
            with torch.inference_mode():
                z = self.model(batch["x"], batch["mask"]).double() / self.temperature
            probs[idx] = torch.softmax(z, dim=1).numpy()
            if mc_samples > 1:
                result = mc_predict(tempered, batch, n_samples=mc_samples, seed=None if seed is None else seed + k)
                mi[idx] = np.clip(result.epistemic, 0.0, None)
        self.model.eval()
        entropy = predictive_entropy(probs)
        out = []
        for i, lc in enumerate(lcs):
            best = int(probs[i].argmax())
            out.append({
                "object_id": getattr(lc, "object_id", None) or None,
                "predicted_class": self.classes[best],
                "probabilities": {cls: float(p) for cls, p in zip(self.classes, probs[i], strict=True)},
                "confidence": float(probs[i, best]),
                "entropy": float(entropy[i]),
                "mutual_information": float(mi[i]),
                "uncertainty": float(np.clip(entropy[i] / math.log(c), 0.0, 1.0)),
                "n_observations": int(lengths[i]),
            })
        return out

    def fit_temperature(self, lightcurves: Sequence[LightCurve], labels: Sequence[str]) -> float:
        """Fit the temperature on held-out labelled light curves (NLL, :class:`~exowavenet_lib.calibration.
        TemperatureScaler`); sets and returns it."""
        if isinstance(labels, str) or not isinstance(labels, (Sequence, np.ndarray)):
            raise TypeError(f"labels must be a sequence of class names, got {type(labels).__name__}")
        if len(labels) != len(lightcurves):
            raise ValueError(f"labels has {len(labels)} entries but lightcurves has {len(lightcurves)}")
        unknown = sorted(set(map(str, labels)) - set(self.classes))
        if unknown:
            raise ValueError(f"labels contains {unknown}, not in classes {list(self.classes)}")
        y = np.array([self.classes.index(str(v)) for v in labels])
        self.temperature = TemperatureScaler().fit(self.logits(lightcurves), y).temperature
        return self.temperature

    # ------------------------------------------------------------------------------------------------ export
    def _example(self, lengths: Sequence[int] = (7, 3)) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        b, t = len(lengths), max(lengths)
        mask = torch.arange(t) < torch.tensor(lengths).unsqueeze(1)
        x = torch.zeros(b, t, self.model.n_features)
        x[..., 0] = torch.sort(torch.rand(b, t, generator=g), dim=1).values
        x[..., 1] = torch.rand(b, t, generator=g)
        x[..., 2] = 0.05 + 0.05 * torch.rand(b, t, generator=g)
        x[..., 3] = 1.0
        return x * mask.unsqueeze(-1), mask

    def exportable(self) -> nn.Module:
        """The eval-mode module ``(x, mask) -> temperature-scaled probabilities`` that the exports hold."""
        return _Exportable(self.model, self.temperature).eval()

    def export_torchscript(self, path: str | os.PathLike) -> Path:
        """Trace ``(x float (B, T, F), mask bool (B, T)) -> probabilities (B, C)`` to TorchScript at ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            traced = torch.jit.trace(self.exportable(), self._example(), check_inputs=[self._example((4, 9, 1))])
        traced.save(str(path))
        return path

    def export_onnx(self, path: str | os.PathLike, *, opset: int = 17) -> Path:
        """Export ``(x, mask) -> probabilities`` to ONNX (dynamic batch and time axes) at ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with torch.no_grad(), contextlib.redirect_stdout(None):
            torch.onnx.export(
                self.exportable(), self._example(), str(path), input_names=["x", "mask"],
                output_names=["probabilities"], opset_version=opset, dynamo=False,
                dynamic_axes={"x": {0: "batch", 1: "time"}, "mask": {0: "batch", 1: "time"},
                              "probabilities": {0: "batch"}},
            )
        return path

    # ------------------------------------------------------------------------------------------------ explain
    def explain_prediction(self, lightcurve: LightCurve, ax: Axes | None = None) -> pd.DataFrame:
        """Per-observation attribution by occlusion, and a plot of it.

        ``attribution`` of an observation is how much the probability of the predicted class drops when that one
        observation is removed (positive: it supported the decision; negative: it argued against). Observations
        past ``max_sequence_length`` are not used by the model and get 0. Returns a DataFrame with columns
        ``mjd, band, flux, flux_err, attribution`` (one row per observation used) with ``attrs["predicted_class"]``
        and ``attrs["probability"]``; draws the light curve coloured by attribution on ``ax`` (a new figure if None).
        """
        import matplotlib.pyplot as plt

        if not isinstance(lightcurve, LightCurve):
            raise TypeError(f"lightcurve must be a LightCurve, got {type(lightcurve).__name__}")
        lc = _check_lightcurves([lightcurve], self.bands)[0]
        if len(lc) > self.max_sequence_length:
            lc = lc[np.arange(len(lc)) < self.max_sequence_length]
        full = self.predict_proba([lc])[0]
        best = int(full.argmax())
        n = len(lc)
        if n > 1:
            removed = [lc[np.arange(n) != i] for i in range(n)]
            usable = [i for i, r in enumerate(removed) if np.any(r.flux != 0)]
            drop = np.zeros(n)
            if usable:
                drop[usable] = full[best] - self.predict_proba([removed[i] for i in usable])[:, best]
        else:
            drop = np.array([full[best]])
        table = pd.DataFrame({"mjd": lc.mjd, "band": lc.band, "flux": lc.flux, "flux_err": lc.flux_err,
                              "attribution": drop})
        table.attrs.update(predicted_class=self.classes[best], probability=float(full[best]))
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        limit = max(float(np.abs(drop).max()), 1e-6)
        markers = {"g": "o", "r": "s", "i": "^"}
        for band in lc.bands:
            sel = table["band"] == band
            ax.errorbar(table.loc[sel, "mjd"], table.loc[sel, "flux"], yerr=table.loc[sel, "flux_err"], fmt="none",
                        ecolor="0.6", elinewidth=0.8, zorder=1)
            points = ax.scatter(table.loc[sel, "mjd"], table.loc[sel, "flux"], c=table.loc[sel, "attribution"],
                                cmap="coolwarm", vmin=-limit, vmax=limit, marker=markers.get(band, "o"),
                                edgecolors="k", linewidths=0.4, label=f"{band} band", zorder=2)
        ax.figure.colorbar(points, ax=ax, label=f"attribution (drop in p({self.classes[best]}) when removed)")
        name = getattr(lightcurve, "object_id", None) or "light curve"
        ax.set(xlabel="Time (MJD, days)", ylabel="Flux (FLUXCAL, zeropoint 27.5)",
               title=f"{name}: {self.classes[best]} (p = {full[best]:.2f}) — which detections drove it")
        ax.legend(loc="best", fontsize=8)
        return table


# ------------------------------------------------------------------------------------------------------- CLI
def _read_alert_csv(path: Path) -> tuple[list[TransientLightCurve], dict[str, int]]:
    """Light curves from one CSV of ZTF alert detections (one object, or several told apart by ``oid``/``objectId``),
    after :class:`~exowavenet_lib.ztf.pipeline.QualityCuts` (``min_detections=1``: every object is classified, its
    ``n_observations`` and uncertainty say how much to trust it); also returns the cuts' report."""
    from exowavenet_lib.ztf.pipeline import QualityCuts, lightcurve_from_alerts

    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a readable CSV file: {err}") from err
    if df.empty:
        raise ValueError(f"{path} holds no detections")
    key = next((c for c in ("oid", "objectId") if c in df.columns), None)
    clean, report = QualityCuts(min_detections=1).apply_with_report(df)
    if clean.empty:
        raise ValueError(f"{path}: no detection passes the quality cuts (g/r band, finite, sigmapsf <= 0.5, "
                         f"positive difference): {report}")
    if key is None:
        return [lightcurve_from_alerts(clean, object_id=path.stem)], report
    return [lightcurve_from_alerts(group) for _, group in clean.groupby(key, sort=False)], report


def classify_files(paths: Sequence[str | os.PathLike], model: str | os.PathLike | None = None
                   ) -> tuple[dict[str, Any], int]:
    """Classify CSV files of ZTF alert detections; returns (JSON-ready report, exit status 0 ok / 1 a file failed).

    Each file holds the detections of one object (columns ``mjd`` or ``jd``, ``fid``, ``magpsf``, ``sigmapsf``,
    optional ``isdiffpos``, ``candid``) or of several, told apart by ``oid``/``objectId``; rows are cleaned by
    :class:`~exowavenet_lib.ztf.pipeline.QualityCuts` (``min_detections=1``) and converted by
    :func:`~exowavenet_lib.ztf.pipeline.lightcurve_from_alerts`. ``model`` is a shipped model name or
    a checkpoint path (default: the shipped ZTF classifier).
    """
    if isinstance(paths, (str, bytes, os.PathLike)) or not isinstance(paths, Sequence) or not paths:
        raise ValueError("paths must be a non-empty list of CSV file paths")
    clf = ProductionTransientClassifier.load(model)
    results, errors = [], []
    for raw in paths:
        path = Path(raw)
        try:
            lcs, cuts = _read_alert_csv(path)
            for res in clf.classify_with_uncertainty(lcs):
                results.append({"file": str(path), **res, "quality_cuts": cuts})
        except (OSError, ValueError, TypeError, KeyError) as err:
            errors.append({"file": str(path), "error": f"{type(err).__name__}: {err}"})
    report = {"model": clf.name, "classes": list(clf.classes), "temperature": clf.temperature,
              "results": results, "errors": errors}
    return report, 1 if errors else 0
