"""``LightCurveDataset``: variable-length multi-band light curves as a PyTorch ``Dataset``, plus class-list I/O.

An item is the contract's dict ``{"x": float32 tensor (T, F), "length": int, "y": int}`` (``"y"`` only with labels,
``"mask"`` — bool ones of shape (T,) — only with ``return_mask=True``); :func:`collate_lightcurves` pads items into a
batch. Features are those of :mod:`exowavenet_lib.data.features`.

The class list is the model's output order, so it must outlive the training run: :meth:`LightCurveDataset.to_json`
writes it (with the band list and time scale) and :func:`classes_from_json` reads it back for inference::

    train = LightCurveDataset(lcs, labels)                       # classes = sorted unique labels
    train.to_json("model_classes.json")
    test = LightCurveDataset(new_lcs, classes=classes_from_json("model_classes.json"))
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from exowavenet_lib.data.augment import SeedLike, WorkerRNG
from exowavenet_lib.data.features import (
    DEFAULT_BANDS,
    TIME_SCALE,
    band_indices,
    check_bands,
    encode_columns,
    feature_names,
)
from exowavenet_lib.lightcurves import LightCurve
from exowavenet_lib.runtime import write_json_atomic

__all__ = ["TRUNCATE_MODES", "LightCurveDataset", "classes_from_json", "read_encoding", "write_encoding"]

#: Which observations ``max_sequence_length`` keeps: the earliest, the latest, or a random contiguous window.
TRUNCATE_MODES = ("first", "last", "random")
_COLUMNS = ("mjd", "flux", "flux_err")

Label = str | int


def _check_label(name: str, value: Any) -> Label:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{name} must be a class name (str) or an int, got {value!r} of type {type(value).__name__}")
    return value


def _check_classes(classes: Any) -> tuple[Label, ...]:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (Sequence, np.ndarray)):
        raise TypeError(f"classes must be a sequence of class names, got {type(classes).__name__}")
    checked = tuple(_check_label(f"classes[{i}]", c) for i, c in enumerate(classes))
    if not checked:
        raise ValueError("classes must name at least one class, got an empty sequence")
    if len(set(checked)) != len(checked):
        raise ValueError(f"classes must not repeat a class, got {list(checked)}")
    return checked


class LightCurveDataset(Dataset):
    """Light curves (and optional labels) as a ``torch.utils.data.Dataset`` of feature dicts.

    Parameters
    ----------
    lightcurves : sequence of LightCurve
        Usually :class:`~exowavenet_lib.lightcurves.TransientLightCurve` objects; every band must be in ``bands``.
    labels : sequence of str or int, optional
        One class per light curve; None for unlabelled data (items then have no ``"y"``).
    classes : sequence of str or int, optional
        The class list, in model output order: used as is (a label not in it raises ``ValueError``). Default: the
        sorted unique labels. Pass the training set's ``classes`` to validation, test and inference sets.
    bands : sequence of str
        Band list of the one-hot features (default ``("g", "r")``).
    max_sequence_length : int, optional
        Keep at most this many observations per light curve; which ones is set by ``truncate``. The light curve is
        cut *before* computing features, so times start at 0 and fluxes are scaled by the kept window's maximum.
    truncate : {"first", "last", "random"}
        Keep the first (earliest) ``max_sequence_length`` observations — what an early classifier has seen —, the
        last (latest) ones, or a random contiguous window drawn afresh at every access (training augmentation).
    augment : callable, optional
        ``lc -> new lc`` (see :mod:`exowavenet_lib.data.augment`), applied at every access before truncation.
    return_mask : bool
        Also give each item a ``"mask"`` (bool ones of shape (T,)).
    seed : int, Generator or None
        Seed of the ``truncate="random"`` windows (re-seeded per DataLoader worker, like the augmentations).

    Without ``augment`` and random windows, features are computed once here, so an epoch only indexes tensors.
    """

    def __init__(
        self,
        lightcurves: Sequence[LightCurve],
        labels: Sequence[Label] | np.ndarray | None = None,
        *,
        classes: Sequence[Label] | None = None,
        bands: Sequence[str] = DEFAULT_BANDS,
        max_sequence_length: int | None = None,
        truncate: str = "first",
        augment: Callable[[LightCurve], LightCurve] | None = None,
        return_mask: bool = False,
        seed: SeedLike = None,
    ) -> None:
        if isinstance(lightcurves, (str, bytes)) or not isinstance(lightcurves, Sequence):
            raise TypeError(f"lightcurves must be a list of light curves, got {type(lightcurves).__name__}")
        if not lightcurves:
            raise ValueError("lightcurves is empty; a dataset needs at least one light curve")
        for i, lc in enumerate(lightcurves):
            if not isinstance(lc, LightCurve):
                raise TypeError(f"lightcurves[{i}] must be a LightCurve, got {type(lc).__name__}")
        self.bands = check_bands(bands)
        if max_sequence_length is not None and (
            isinstance(max_sequence_length, bool)
            or not isinstance(max_sequence_length, (int, np.integer))
            or max_sequence_length < 1
        ):
            raise ValueError(f"max_sequence_length must be a positive int or None, got {max_sequence_length!r}")
        if truncate not in TRUNCATE_MODES:
            raise ValueError(f"truncate must be one of {TRUNCATE_MODES}, got {truncate!r}")
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be a callable lc -> lc or None, got {type(augment).__name__}")
        self.lightcurves = tuple(lightcurves)
        self.max_sequence_length = None if max_sequence_length is None else int(max_sequence_length)
        self.truncate = truncate
        self.augment = augment
        self.return_mask = bool(return_mask)
        self._rng = WorkerRNG(seed)
        self.classes, self.targets = self._encode_labels(labels, classes)
        self.class_to_index: dict[Label, int] = {c: i for i, c in enumerate(self.classes)}
        # Band indices validate every light curve's bands now, not in the middle of an epoch.
        self._band_index = [band_indices(lc, self.bands) for lc in self.lightcurves]
        self._features: list[torch.Tensor] | None = None
        if augment is None and not self._random_window:
            self._features = [self._encode(i, self.lightcurves[i], self._band_index[i]) for i in range(len(self))]

    def _encode_labels(self, labels: Any, classes: Any) -> tuple[tuple[Label, ...], np.ndarray | None]:
        if labels is None:
            return (() if classes is None else _check_classes(classes)), None
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
            raise TypeError(f"labels must be a sequence of class labels or None, got {type(labels).__name__}")
        labels = [_check_label(f"labels[{i}]", v) for i, v in enumerate(labels)]
        if len(labels) != len(self.lightcurves):
            raise ValueError(f"labels has {len(labels)} entries but lightcurves has {len(self.lightcurves)}")
        if classes is None:
            kinds = {type(v) for v in labels}
            if len(kinds) > 1:
                raise TypeError(f"labels mixes types {sorted(k.__name__ for k in kinds)}; use one type for all")
            classes = tuple(sorted(set(labels)))
        else:
            classes = _check_classes(classes)
            unknown = sorted({v for v in labels if v not in classes}, key=str)
            if unknown:
                raise ValueError(f"labels contains {unknown}, which are not in classes {list(classes)}")
        lookup = {c: i for i, c in enumerate(classes)}
        return classes, np.array([lookup[v] for v in labels], dtype=np.int64)

    # ------------------------------------------------------------------ properties
    @property
    def n_classes(self) -> int:
        """Number of classes (the model's output size)."""
        return len(self.classes)

    @property
    def n_features(self) -> int:
        """Features per time step: ``3 + len(bands)``."""
        return len(self.feature_names)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the feature columns."""
        return feature_names(self.bands)

    @property
    def _random_window(self) -> bool:
        return self.max_sequence_length is not None and self.truncate == "random"

    def class_counts(self) -> dict[Label, int]:
        """Number of light curves of each class, in class order (classes without examples count 0)."""
        if self.targets is None:
            raise ValueError("this dataset has no labels, so no class counts; pass labels=...")
        counts = np.bincount(self.targets, minlength=self.n_classes)
        return {c: int(n) for c, n in zip(self.classes, counts, strict=True)}

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        return len(self.lightcurves)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)} light curves")
        index = int(index) % len(self)
        if self._features is not None:
            x = self._features[index]
        else:
            lc = self.lightcurves[index]
            band_index = self._band_index[index]
            if self.augment is not None:
                lc = self.augment(lc)
                if not isinstance(lc, LightCurve):
                    raise TypeError(f"augment returned {type(lc).__name__}, not a light curve")
                band_index = band_indices(lc, self.bands)
            x = self._encode(index, lc, band_index)
        item: dict[str, Any] = {"x": x, "length": int(x.shape[0])}
        if self.targets is not None:
            item["y"] = int(self.targets[index])
        if self.return_mask:
            item["mask"] = torch.ones(x.shape[0], dtype=torch.bool)
        return item

    def _window(self, n: int) -> slice:
        """The observations kept from a light curve of ``n`` points."""
        m = self.max_sequence_length
        if m is None or n <= m:
            return slice(0, n)
        if self.truncate == "first":
            return slice(0, m)
        if self.truncate == "last":
            return slice(n - m, n)
        start = int(self._rng.generator.integers(n - m + 1))
        return slice(start, start + m)

    def _encode(self, index: int, lc: LightCurve, band_index: np.ndarray) -> torch.Tensor:
        keep = self._window(len(lc))
        cols = [getattr(lc, c)[keep] for c in _COLUMNS]
        name = getattr(lc, "object_id", "") or f"#{index}"
        return torch.from_numpy(encode_columns(*cols, band_index[keep], len(self.bands), name=name))

    # ------------------------------------------------------------------ persistence
    def encoding(self) -> dict[str, Any]:
        """What a model trained on this dataset needs at inference: classes, bands, feature names, time scale."""
        return {
            "classes": list(self.classes),
            "bands": list(self.bands),
            "feature_names": list(self.feature_names),
            "time_scale": TIME_SCALE,
        }

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`encoding` as JSON (atomically) and return the path; read it with :func:`read_encoding`."""
        if not self.classes:
            raise ValueError("this dataset has no class list to save; pass labels or classes")
        return write_encoding(self.encoding(), path)

    def __repr__(self) -> str:
        labelled = f"{self.n_classes} classes" if self.targets is not None else "unlabelled"
        return f"<LightCurveDataset {len(self)} light curves, {labelled}, bands {' '.join(self.bands)}>"


def write_encoding(encoding: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write an encoding dict as JSON atomically (a temporary file in the same folder, then ``os.replace``)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return write_json_atomic(path, encoding)


def read_encoding(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a file written by :meth:`LightCurveDataset.to_json`: ``classes`` and ``bands`` come back as tuples."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or "classes" not in data:
        raise ValueError(f"{path} holds no class list; expected a JSON object with 'classes' (see to_json)")
    scale = data.get("time_scale", TIME_SCALE)
    if scale != TIME_SCALE:
        raise ValueError(f"{path} was written with time_scale {scale}, but features now use TIME_SCALE {TIME_SCALE}")
    return {
        **data,
        "classes": _check_classes(data["classes"]),
        "bands": check_bands(data.get("bands", DEFAULT_BANDS)),
    }


def classes_from_json(path: str | os.PathLike[str]) -> tuple[Label, ...]:
    """The class list saved by :meth:`LightCurveDataset.to_json`, in model output order."""
    return read_encoding(path)["classes"]
