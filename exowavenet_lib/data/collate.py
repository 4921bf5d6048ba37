"""``collate_lightcurves``: pad variable-length dataset items into the contract's batch dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["collate_lightcurves"]


def _features(i: int, item: Any) -> torch.Tensor:
    if not isinstance(item, Mapping) or "x" not in item:
        raise TypeError(f"items[{i}] must be a dict with an 'x' entry (a LightCurveDataset item), got {item!r:.80}")
    x = item["x"]
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError(f"items[{i}]['x'] must be a 2-D (T, F) tensor or array, got {getattr(x, 'shape', x)!r}")
    if x.shape[0] == 0:
        raise ValueError(f"items[{i}]['x'] has no time steps; every sequence needs at least one")
    length = item.get("length", x.shape[0])
    if int(length) != x.shape[0]:
        raise ValueError(f"items[{i}]['length'] is {length} but its 'x' has {x.shape[0]} time steps")
    return x


def collate_lightcurves(items: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad items to the longest sequence in the batch.

    Returns ``{"x": float32 (B, T, F) zero-padded after each end, "mask": bool (B, T) True on real steps,
    "lengths": int64 (B,), "y": int64 (B,)}``; ``"y"`` is present only when every item has one (all or none must).
    Attention layers want ``~mask`` as ``key_padding_mask``.
    """
    if isinstance(items, Mapping) or not isinstance(items, Sequence):
        raise TypeError(f"items must be a list of dataset items (dicts), got {type(items).__name__}")
    if not items:
        raise ValueError("items is empty; a batch needs at least one item")
    xs = [_features(i, item) for i, item in enumerate(items)]
    widths = {x.shape[1] for x in xs}
    if len(widths) > 1:
        raise ValueError(f"items have different numbers of features {sorted(widths)}; they must share one")
    labelled = ["y" in item for item in items]
    if any(labelled) and not all(labelled):
        raise ValueError(f"items[{labelled.index(False)}] has no 'y' while others do; label all items or none")
    lengths = torch.tensor([x.shape[0] for x in xs], dtype=torch.int64)
    x = torch.zeros(len(xs), int(lengths.max()), widths.pop(), dtype=torch.float32)
    for i, xi in enumerate(xs):
        x[i, : xi.shape[0]] = xi
    batch = {"x": x, "mask": torch.arange(x.shape[1]) < lengths[:, None], "lengths": lengths}
    if all(labelled):
        batch["y"] = torch.tensor([int(item["y"]) for item in items], dtype=torch.int64)
    return batch
