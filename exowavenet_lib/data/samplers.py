"""Class imbalance: ``BalancedBatchSampler`` (equal class counts per batch) and ``class_weights`` for the loss."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["CLASS_WEIGHT_SCHEMES", "BalancedBatchSampler", "class_weights"]

CLASS_WEIGHT_SCHEMES = ("inverse", "effective")


def _labels_array(labels: Any) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, np.ndarray)):
        raise TypeError(f"labels must be a sequence, array or tensor of class labels, got {type(labels).__name__}")
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError("labels is empty")
    return arr


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class BalancedBatchSampler(Sampler[list[int]]):
    """Yield batches of indices with equal counts of every class (within one when ``batch_size`` is not a multiple).

    Each class present in ``labels`` gets ``batch_size // n_classes`` places per batch, and the remaining places go
    to classes picked at random each batch. A class's indices are drawn by walking through a fresh random
    permutation of them, so rare classes repeat (oversampling with replacement across passes) and common classes
    are subsampled. Use it as ``DataLoader(dataset, batch_sampler=BalancedBatchSampler(dataset.targets, 64))``.

    Parameters
    ----------
    labels : sequence, array or tensor
        Class of each dataset item (any hashable labels, e.g. ``dataset.targets``).
    batch_size : int
        Indices per batch.
    num_batches : int, optional
        Batches per iteration (epoch); default ``ceil(len(labels) / batch_size)``, as many items as the dataset.
    seed : int, optional
        Seed of the draws; successive epochs differ but the sequence is reproducible. None: each epoch is seeded
        from PyTorch's global generator, so :func:`exowavenet_lib.seed_everything` makes it reproducible.
    """

    def __init__(
        self,
        labels: Sequence[Any] | np.ndarray | torch.Tensor,
        batch_size: int,
        *,
        num_batches: int | None = None,
        seed: int | None = None,
    ) -> None:
        arr = _labels_array(labels)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.num_batches = (
            -(-len(arr) // self.batch_size) if num_batches is None else _positive_int("num_batches", num_batches)
        )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        self.classes, codes = np.unique(arr, return_inverse=True)
        self._members = [np.flatnonzero(codes == c) for c in range(len(self.classes))]
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = self._rng
        if rng is None:
            rng = np.random.default_rng(int(torch.empty((), dtype=torch.int64).random_().item()))
        n_classes = len(self._members)
        base, extra = divmod(self.batch_size, n_classes)
        queues = [rng.permutation(m) for m in self._members]
        positions = [0] * n_classes
        for _ in range(self.num_batches):
            counts = np.full(n_classes, base)
            counts[rng.choice(n_classes, size=extra, replace=False)] += 1
            batch: list[int] = []
            for c, count in enumerate(counts):
                for _ in range(count):
                    if positions[c] == len(queues[c]):
                        queues[c], positions[c] = rng.permutation(self._members[c]), 0
                    batch.append(int(queues[c][positions[c]]))
                    positions[c] += 1
            yield [batch[j] for j in rng.permutation(len(batch))]


def class_weights(
    labels: Sequence[int] | np.ndarray | torch.Tensor,
    n_classes: int,
    scheme: str = "inverse",
    beta: float = 0.999,
) -> torch.Tensor:
    """Per-class loss weights (float32, shape (n_classes,)) for weighted cross-entropy or a focal-loss alpha.

    ``"inverse"``: proportional to ``1 / n_c``. ``"effective"`` (Cui et al. 2019, class-balanced loss): proportional
    to ``(1 - beta) / (1 - beta**n_c)``, the inverse "effective number" of examples; ``beta -> 1`` approaches
    ``"inverse"`` and ``beta = 0`` gives equal weights. Weights are normalised to average 1 over the classes that
    occur, so a balanced set gets all ones; a class absent from ``labels`` gets weight 0.

    Parameters
    ----------
    labels : sequence, array or tensor of int
        Class indices in ``[0, n_classes)`` (e.g. ``dataset.targets``).
    n_classes : int
        Number of classes (the model's output size).
    scheme : {"inverse", "effective"}
    beta : float
        In [0, 1); only for ``"effective"``.
    """
    arr = _labels_array(labels)
    n_classes = _positive_int("n_classes", n_classes)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"labels must be integer class indices, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}) for n_classes={n_classes}, got {arr.min()}..{arr.max()}")
    if scheme not in CLASS_WEIGHT_SCHEMES:
        raise ValueError(f"scheme must be one of {CLASS_WEIGHT_SCHEMES}, got {scheme!r}")
    if isinstance(beta, bool) or not isinstance(beta, Real) or not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be a number in [0, 1), got {beta!r}")
    counts = np.bincount(arr, minlength=n_classes).astype(float)
    present = counts > 0
    weights = np.zeros(n_classes)
    if scheme == "inverse":
        weights[present] = 1.0 / counts[present]
    else:
        weights[present] = (1.0 - beta) / (1.0 - float(beta) ** counts[present]) if beta > 0 else 1.0
    weights *= present.sum() / weights.sum()
    return torch.as_tensor(weights, dtype=torch.float32)
