"""``stratified_split``: object-level, class-stratified, seeded train/validation/test indices."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from exowavenet_lib.lightcurves import LightCurve

__all__ = ["stratified_split"]


def _object_id(i: int, item: Any) -> str:
    if isinstance(item, str):
        return item
    object_id = getattr(item, "object_id", None)
    if not isinstance(item, LightCurve) or not isinstance(object_id, str):
        raise TypeError(f"lightcurves[{i}] must be a TransientLightCurve or an object id string, got {item!r:.80}")
    return object_id


def _check_fractions(fractions: Any) -> np.ndarray:
    if isinstance(fractions, str) or not isinstance(fractions, Sequence) or len(fractions) != 3:
        raise TypeError(f"fractions must be a (train, val, test) triple, got {fractions!r}")
    if not all(isinstance(f, Real) and not isinstance(f, bool) and np.isfinite(f) for f in fractions):
        raise TypeError(f"fractions must hold finite numbers, got {fractions!r}")
    arr = np.asarray(fractions, dtype=float)
    if np.any(arr < 0) or arr[0] <= 0 or not np.isclose(arr.sum(), 1.0):
        raise ValueError(f"fractions must be >= 0 with train > 0 and sum to 1, got {fractions!r}")
    return arr / arr.sum()


def _allocate(n: int, fractions: np.ndarray) -> np.ndarray:
    """Split ``n`` objects by largest remainder; every split with a positive fraction gets one when n allows."""
    exact = n * fractions
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    wanted = np.flatnonzero(fractions > 0)
    if n >= len(wanted):
        for split in wanted:
            if counts[split] == 0:
                counts[split] += 1
                counts[np.argmax(counts)] -= 1  # the largest split has >= 2 because n >= len(wanted)
    return counts


def stratified_split(
    lightcurves: Sequence[LightCurve | str],
    labels: Sequence[Any] | np.ndarray,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split indices into train, validation and test sets, by object and stratified by class.

    Parameters
    ----------
    lightcurves : sequence of TransientLightCurve or str
        The light curves (their ``object_id`` is used) or the object ids themselves. Every light curve of an
        object goes to the same split, so repeated or augmented copies of an object never leak across splits.
    labels : sequence
        Class of each light curve; all light curves of one object must share it.
    fractions : (float, float, float)
        Target shares of objects for train, validation and test (>= 0, train > 0, sum 1). They are met per class by
        largest-remainder rounding; a class with at least as many objects as there are non-empty splits (3 by
        default) has at least one object in each of them.
    seed : int or None
        Seed of the shuffle; the same seed and inputs give the same split.

    Returns
    -------
    train_idx, val_idx, test_idx : np.ndarray of int64
        Sorted indices into ``lightcurves``.
    """
    if isinstance(lightcurves, (str, bytes)) or not isinstance(lightcurves, Sequence):
        raise TypeError(f"lightcurves must be a list of light curves or object ids, got {type(lightcurves).__name__}")
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
        raise TypeError(f"labels must be a sequence of class labels, got {type(labels).__name__}")
    if len(labels) != len(lightcurves):
        raise ValueError(f"labels has {len(labels)} entries but lightcurves has {len(lightcurves)}")
    if not lightcurves:
        raise ValueError("lightcurves is empty; there is nothing to split")
    fracs = _check_fractions(fractions)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")

    members: dict[str, list[int]] = {}  # object id -> its indices, in first-appearance order
    object_label: dict[str, Any] = {}
    for i, (item, label) in enumerate(zip(lightcurves, labels, strict=True)):
        label = label.item() if isinstance(label, np.generic) else label
        oid = _object_id(i, item)
        if oid in object_label and object_label[oid] != label:
            raise ValueError(f"object {oid!r} has two labels, {object_label[oid]!r} and {label!r} (lightcurves[{i}])")
        members.setdefault(oid, []).append(i)
        object_label[oid] = label

    by_class: dict[Any, list[str]] = {}
    for oid, label in object_label.items():
        by_class.setdefault(label, []).append(oid)
    rng = np.random.default_rng(seed)
    splits: list[list[int]] = [[], [], []]
    for label in sorted(by_class, key=repr):  # a fixed class order keeps the split deterministic
        objects = by_class[label]
        shuffled = [objects[j] for j in rng.permutation(len(objects))]
        bounds = np.cumsum(_allocate(len(objects), fracs))[:-1]
        for split, chunk in zip(splits, np.split(np.arange(len(objects)), bounds), strict=True):
            split.extend(i for j in chunk for i in members[shuffled[j]])
    train, val, test = (np.sort(np.asarray(s, dtype=np.int64)) for s in splits)
    return train, val, test
