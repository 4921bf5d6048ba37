"""The training loop every notebook shares: :func:`fit`, its pieces, early stopping, checkpoints and distributed runs.

Batches follow the data contract: a dict with ``"x"`` (B, T, F) float32, ``"mask"`` (B, T) bool (True = valid step),
``"lengths"`` (B,) and ``"y"`` (B,) class indices; models are called as ``model(x, mask)`` and return logits (B, K).
Loss functions take ``(logits, y)`` and return the batch mean; "mean loss" below is the mean over samples (each batch
mean weighted by its batch size).

Distributed data parallel
-------------------------
:func:`fit` runs unchanged under ``torchrun --nproc_per_node=N script.py``. It reads ``WORLD_SIZE``/``RANK``/
``LOCAL_RANK`` (:func:`distributed_env`), initialises the process group if nobody has (``gloo`` on CPU, ``nccl`` on
CUDA, one GPU per local rank) and destroys it at the end only if it created it (:func:`distributed_context`;
each group it creates gets a fresh rendezvous key prefix, so a script may call ``fit`` several times). The
model is wrapped in ``DistributedDataParallel`` (rank 0's initial weights are broadcast, gradients are averaged, so
every rank holds the same weights after every step). The training loader is rebuilt with the same dataset,
batch size, collate function and worker settings around a ``DistributedSampler`` (shuffled iff the original loader
shuffled, with one seed drawn on rank 0 and broadcast; ``set_epoch`` every epoch). ``DistributedSampler`` repeats a
few samples so that every rank gets the same number of batches, so the training loss may count those twice. The
validation loader is split across ranks without repeats, evaluated with the bare module (no collective in the
forward pass, so uneven shards cannot hang), and the predictions are gathered: every rank computes the same
history, scheduler step and early-stopping decision from the same numbers. Only rank 0 writes checkpoints and shows
the progress bar. ``fit`` returns the same :class:`History` on every rank, and the model (the bare module) holds the
same best weights on every rank.

Loaders with a custom sampler or batch sampler (e.g. a class-balanced sampler) cannot be re-sharded safely, so under
DDP they raise ``ValueError``; a sampler that already is a ``torch.utils.data.DistributedSampler`` is used as given
(and ``set_epoch`` is called on it). BatchNorm statistics are not synchronised (no ``SyncBatchNorm`` conversion).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from exowavenet_lib.metrics import MetricsTracker
from exowavenet_lib.runtime import atomic_path, get_device

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "MONITORS",
    "DistributedContext",
    "EarlyStopping",
    "EvalResult",
    "History",
    "distributed_context",
    "distributed_env",
    "evaluate_model",
    "fit",
    "load_checkpoint",
    "mixup_batch",
    "save_checkpoint",
    "train_epoch",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: Values :func:`fit` can monitor, and whether lower or higher is better.
MONITORS: dict[str, str] = {"val_loss": "min", "val_accuracy": "max", "val_macro_f1": "max", "train_loss": "min"}
CHECKPOINT_FORMAT = "exowavenet-checkpoint"
CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------------------------------------- batches


def _unwrap(model: nn.Module) -> nn.Module:
    """The bare module inside a ``DistributedDataParallel`` wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def _to_device(batch: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate a contract batch and move ``x``, ``mask`` and ``y`` to ``device``."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"batch must be a dict with keys 'x', 'mask', 'lengths', 'y', got {type(batch).__name__}")
    missing = [k for k in ("x", "mask", "y") if k not in batch]
    if missing:
        raise ValueError(f"batch is missing key(s) {missing}; training and evaluation need 'x', 'mask' and 'y'")
    x, mask, y = batch["x"], batch["mask"], batch["y"]
    if not (isinstance(x, torch.Tensor) and isinstance(mask, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise TypeError("batch['x'], batch['mask'] and batch['y'] must be tensors")
    if mask.dtype != torch.bool or x.dim() != 3 or mask.shape != x.shape[:2] or y.shape != x.shape[:1]:
        raise ValueError(
            f"batch must hold x (B, T, F), a bool mask (B, T) and y (B,); got x {tuple(x.shape)}, "
            f"mask {tuple(mask.shape)} {mask.dtype}, y {tuple(y.shape)}"
        )
    nb = device.type == "cuda"
    return x.to(device, non_blocking=nb), mask.to(device, non_blocking=nb), y.to(device, non_blocking=nb)


def _check_loader(name: str, loader: Any) -> None:
    if not isinstance(loader, DataLoader):
        raise TypeError(f"{name} must be a torch.utils.data.DataLoader, got {type(loader).__name__}")


def mixup_batch(
    x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mix every sample of a padded batch with a random partner: ``(x, mask, y_a, y_b, lam)``.

    ``lam ~ Beta(alpha, alpha)`` (one per batch, from torch's global RNG), ``x = lam * x + (1 - lam) * x[perm]``,
    ``mask = mask | mask[perm]`` (the union: a step is valid if it is valid in either sample), ``y_a = y`` and
    ``y_b = y[perm]``; train on ``lam * loss(logits, y_a) + (1 - lam) * loss(logits, y_b)``.

    Caveat for irregular time series: step ``i`` of two light curves is generally a different time and band, so
    the mix interpolates the time feature and the one-hot bands too, and where only one sample is valid the other's
    zero padding scales its values by ``lam`` (or ``1 - lam``). This is input-space mixup as a regulariser, not a
    physically meaningful blend of two transients; mixing pooled embeddings (manifold mixup) or light curves
    resampled onto a common time grid are the principled alternatives.
    """
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not alpha > 0 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a positive finite number, got {alpha!r}")
    lam = float(torch.distributions.Beta(float(alpha), float(alpha)).sample())
    perm = torch.randperm(x.shape[0], device=x.device)
    mixed = lam * x + (1.0 - lam) * x[perm]
    return mixed, mask | mask[perm], y, y[perm], lam


def _train_sums(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    mixup_alpha: float,
    grad_clip: float | None,
) -> tuple[float, int]:
    """One pass over ``loader`` with parameter updates; returns (sum of per-sample losses, number of samples)."""
    model.train()
    total, count = 0.0, 0
    for batch in loader:
        x, mask, y = _to_device(batch, device)
        optimizer.zero_grad(set_to_none=True)
        if mixup_alpha > 0:
            x, mask, y_a, y_b, lam = mixup_batch(x, mask, y, mixup_alpha)
            logits = model(x, mask)
            loss = lam * loss_fn(logits, y_a) + (1.0 - lam) * loss_fn(logits, y_b)
        else:
            loss = loss_fn(model(x, mask), y)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total += float(loss.detach()) * len(y)
        count += len(y)
    return total, count


def _check_alpha_clip(mixup_alpha: float, grad_clip: float | None) -> None:
    if isinstance(mixup_alpha, bool) or not isinstance(mixup_alpha, (int, float)) or not 0 <= mixup_alpha < math.inf:
        raise ValueError(f"mixup_alpha must be a finite number >= 0 (0 = no mixup), got {mixup_alpha!r}")
    if grad_clip is not None and (
        isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or not 0 < grad_clip < math.inf
    ):
        raise ValueError(f"grad_clip must be None or a positive finite max gradient norm, got {grad_clip!r}")


def train_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    *,
    mixup_alpha: float = 0.0,
    grad_clip: float | None = None,
) -> float:
    """Train for one pass over ``loader`` and return the mean loss over its samples.

    Parameters
    ----------
    model : nn.Module
        ``model(x, mask) -> logits``; already on ``device``.
    loader : DataLoader
        Yields contract batches (``"x"``, ``"mask"``, ``"y"``).
    loss_fn : callable
        ``loss_fn(logits, y) -> scalar`` (batch mean).
    optimizer : torch.optim.Optimizer
    device : torch.device or str
    mixup_alpha : float, default 0.0
        ``> 0`` trains on mixed pairs, see :func:`mixup_batch` (and its caveat for irregular time series); the
        reported loss is then the mixed loss. ``0`` is plain training and draws no random numbers.
    grad_clip : float, optional
        Clip the total gradient norm to this value before each step.

    Under DDP this is the mean over this rank's samples; :func:`fit` averages over ranks.
    """
    _check_loader("loader", loader)
    _check_alpha_clip(mixup_alpha, grad_clip)
    total, count = _train_sums(model, loader, loss_fn, optimizer, torch.device(device), mixup_alpha, grad_clip)
    if count == 0:
        raise ValueError("loader yielded no samples")
    return total / count


@dataclass
class EvalResult:
    """What :func:`evaluate_model` returns: mean loss, accuracy, and per-sample labels/predictions/probabilities."""

    loss: float
    accuracy: float
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray

    def metrics(self, classes: int | list[str] | None = None, rare_classes: list[str] | None = None) -> MetricsTracker:
        """A :class:`~exowavenet_lib.metrics.MetricsTracker` fed with these predictions."""
        tracker = MetricsTracker(self.probs.shape[1] if classes is None else classes, rare_classes)
        tracker.update(self.y_true, self.y_pred, self.probs)
        return tracker


def _eval_arrays(
    model: nn.Module, loader: DataLoader, loss_fn: LossFn, device: torch.device
) -> tuple[float, np.ndarray, np.ndarray]:
    """(sum of per-sample losses, y_true, probs) over ``loader``, in eval mode and without gradients."""
    was_training = model.training
    model.eval()
    total = 0.0
    ys: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for batch in loader:
                x, mask, y = _to_device(batch, device)
                logits = model(x, mask)
                total += float(loss_fn(logits, y)) * len(y)
                ys.append(y.cpu().numpy())
                probs.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    finally:
        model.train(was_training)
    if not ys:
        return total, np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return total, np.concatenate(ys).astype(np.int64), np.concatenate(probs)


def _eval_result(loss_sum: float, y_true: np.ndarray, probs: np.ndarray) -> EvalResult:
    if len(y_true) == 0:
        raise ValueError("the evaluation loader yielded no samples")
    y_pred = probs.argmax(axis=1)
    return EvalResult(loss_sum / len(y_true), float((y_pred == y_true).mean()), y_true, y_pred, probs)


def evaluate_model(model: nn.Module, loader: DataLoader, loss_fn: LossFn, device: torch.device | str) -> EvalResult:
    """Evaluate ``model`` on ``loader`` under ``model.eval()`` and ``torch.no_grad()`` (the mode is restored after).

    Returns
    -------
    EvalResult
        ``loss`` (mean over samples), ``accuracy``, ``y_true`` and ``y_pred`` (int64, loader order) and ``probs``
        (softmax of the logits, shape (n, K)).
    """
    _check_loader("loader", loader)
    return _eval_result(*_eval_arrays(_unwrap(model), loader, loss_fn, torch.device(device)))


# -------------------------------------------------------------------------------------------------- early stopping


class EarlyStopping:
    """Stop when the monitored value has not improved for ``patience`` consecutive epochs.

    An epoch improves when ``value < best - min_delta`` (``mode="min"``) or ``value > best + min_delta``
    (``mode="max"``); the first value always improves. ``step`` returns True once ``patience`` epochs in a row
    did not improve. Epochs are counted from 1, so ``best_epoch`` is the 1-based number of the best ``step``.

    Parameters
    ----------
    patience : int, default 5
        Non-negative; 0 stops at the first epoch that does not improve.
    min_delta : float, default 0.0
        Smallest change that counts as an improvement (non-negative).
    mode : {"min", "max"}
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min") -> None:
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"patience must be a non-negative integer, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not 0 <= min_delta < math.inf:
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        """Forget all values seen (``fit`` calls this at the start of every run)."""
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.epoch = 0
        self.num_bad_epochs = 0
        self.improved = False
        self.should_stop = False

    def step(self, value: float) -> bool:
        """Record one epoch's value; return True when training should stop."""
        if isinstance(value, torch.Tensor):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"value must be a number, got {type(value).__name__}")
        value = float(value)
        if math.isnan(value):
            raise ValueError("value is NaN: the monitored metric diverged; lower the learning rate or check the data")
        self.epoch += 1
        if self.best is None:
            self.improved = True
        elif self.mode == "min":
            self.improved = value < self.best - self.min_delta
        else:
            self.improved = value > self.best + self.min_delta
        if self.improved:
            self.best, self.best_epoch, self.num_bad_epochs = value, self.epoch, 0
        else:
            self.num_bad_epochs += 1
        self.should_stop = self.num_bad_epochs >= self.patience and not self.improved
        return self.should_stop

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, mode={self.mode!r}; "
                f"best={self.best} at epoch {self.best_epoch})")


# ----------------------------------------------------------------------------------------------------- checkpoints

_PLAIN_SCALARS = (type(None), bool, int, float, str)  # exact types: np.float64 subclasses float but is no plain


def _check_plain(where: str, value: Any) -> None:
    """Raise TypeError unless ``value`` is made of what ``torch.load(weights_only=True)`` reads back."""
    if type(value) in _PLAIN_SCALARS or isinstance(value, torch.Tensor):
        return
    if type(value) in (list, tuple):
        for i, v in enumerate(value):
            _check_plain(f"{where}[{i}]", v)
        return
    if type(value) in (dict, OrderedDict):
        for k, v in value.items():
            if type(k) not in (str, int):
                raise TypeError(f"{where} has key {k!r}: checkpoint dict keys must be str or int")
            _check_plain(f"{where}[{k!r}]", v)
        return
    raise TypeError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}; checkpoints store state dicts and plain "
        "Python (None, bool, int, float, str, tensors, lists, tuples, dicts) only: convert it (float(x), .tolist())"
    )


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, **extra: Any
) -> Path:
    """Write the model's (and optimizer's) state dict plus plain-Python ``extra`` values to ``path`` atomically.

    The file is written to a temporary file in the same folder, flushed to disk, then moved over ``path`` with
    ``os.replace``: a crash mid-write leaves any previous checkpoint intact and no temporary file behind. A
    ``DistributedDataParallel`` model is saved as its bare module (no ``module.`` prefix). Returns the path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    _check_plain("extra", extra)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path {str(path)!r} is a directory; give a file name such as 'best.pt'")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": _unwrap(model).state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "extra": extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file (``weights_only=True``) into ``model`` (and ``optimizer``); return extras."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"path {str(path)!r} is not a checkpoint written by save_checkpoint")
    _unwrap(model).load_state_dict(payload["model"])
    if optimizer is not None:
        if payload["optimizer"] is None:
            raise ValueError(f"an optimizer was given but checkpoint {str(path)!r} holds no optimizer state")
        optimizer.load_state_dict(payload["optimizer"])
    return dict(payload["extra"])


# --------------------------------------------------------------------------------------------------------- history


@dataclass
class History:
    """Per-epoch record of a :func:`fit` run (epoch ``i + 1`` is index ``i`` of every list).

    ``lr`` is the learning rate used during the epoch; ``extra`` holds further validation metrics (``fit`` records
    ``val_macro_f1``); ``best_epoch`` (1-based) and ``best_value`` refer to ``monitor``; ``stopped_early`` says
    whether early stopping ended the run.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)
    monitor: str = "val_loss"
    best_epoch: int | None = None
    best_value: float | None = None
    stopped_early: bool = False

    def append(self, *, train_loss: float, val_loss: float, val_accuracy: float, lr: float, **extra: float) -> None:
        """Add one epoch's values."""
        n = len(self)
        if set(self.extra) and set(extra) != set(self.extra):
            raise ValueError(f"extra metrics must stay the same every epoch: had {sorted(self.extra)}, got "
                             f"{sorted(extra)}")
        self.train_loss.append(float(train_loss))
        self.val_loss.append(float(val_loss))
        self.val_accuracy.append(float(val_accuracy))
        self.lr.append(float(lr))
        for key, value in extra.items():
            self.extra.setdefault(key, [math.nan] * n).append(float(value))

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers, from 1."""
        return list(range(1, len(self) + 1))

    def metric(self, name: str) -> list[float]:
        """The per-epoch list of ``name`` (``train_loss``, ``val_loss``, ``val_accuracy``, ``lr`` or an extra)."""
        if name in ("train_loss", "val_loss", "val_accuracy", "lr"):
            return getattr(self, name)
        if name in self.extra:
            return self.extra[name]
        known = ["train_loss", "val_loss", "val_accuracy", "lr", *self.extra]
        raise ValueError(f"unknown metric {name!r}; known: {known}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python copy (JSON- and checkpoint-friendly)."""
        return asdict(self)  # asdict copies the lists and dicts

    def to_pandas(self) -> pd.DataFrame:
        """One row per epoch (index ``epoch`` from 1), one column per metric."""
        import pandas as pd

        columns = {"train_loss": self.train_loss, "val_loss": self.val_loss, "val_accuracy": self.val_accuracy}
        columns.update(self.extra)
        columns["lr"] = self.lr
        return pd.DataFrame(columns, index=pd.Index(self.epochs, name="epoch"))

    def plot(self) -> Figure:
        """Two panels: train/validation loss vs epoch, and validation accuracy (and F1-type metrics) vs epoch."""
        import matplotlib.pyplot as plt

        if len(self) == 0:
            raise ValueError("history is empty: nothing to plot")
        fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 4))
        ax_loss.plot(self.epochs, self.train_loss, "o-", label="train")
        ax_loss.plot(self.epochs, self.val_loss, "o-", label="validation")
        ax_loss.set(xlabel="Epoch", ylabel="Loss (mean per sample)", title="Loss")
        ax_score.plot(self.epochs, self.val_accuracy, "o-", label="validation accuracy")
        for key, values in self.extra.items():
            ax_score.plot(self.epochs, values, "s--", label=key.replace("_", " ").replace("val ", "validation "))
        ax_score.set(xlabel="Epoch", ylabel="Score (0 to 1)", title="Validation accuracy and F1", ylim=(0, 1.02))
        for ax in (ax_loss, ax_score):
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch, color="grey", linestyle=":", label=f"best epoch ({self.monitor})")
            ax.legend()
            ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig


# ----------------------------------------------------------------------------------------------------- distributed


def distributed_env() -> tuple[int, int, int]:
    """``(world_size, rank, local_rank)`` from the ``torchrun`` environment variables; ``(1, 0, 0)`` without them."""
    values = []
    for name, default in (("WORLD_SIZE", 1), ("RANK", 0), ("LOCAL_RANK", 0)):
        raw = os.environ.get(name, "").strip()
        try:
            values.append(int(raw) if raw else default)
        except ValueError:
            raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None
    world, rank, local = values
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"inconsistent torchrun environment: WORLD_SIZE={world}, RANK={rank}, LOCAL_RANK={local}")
    return world, rank, local


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a distributed run (``world_size == 1``: a plain single-process run)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str | None = None
    created: bool = False  # True if distributed_context initialised the process group (and will destroy it)

    @property
    def is_distributed(self) -> bool:
        """True with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and shows progress."""
        return self.rank == 0


def _default_device(local_rank: int) -> torch.device:
    device = get_device()
    if device.type == "cuda":
        return torch.device("cuda", local_rank)
    return device


_GROUPS_CREATED = itertools.count()  # same sequence on every rank: ranks call fit the same number of times


@contextlib.contextmanager
def distributed_context(device: torch.device | str | None = None) -> Iterator[DistributedContext]:
    """Join the distributed run ``torchrun`` started, if any, for the duration of a ``with`` block.

    If a process group is already initialised it is used and left alone. Otherwise, with ``WORLD_SIZE > 1`` in the
    environment, the group is initialised (``nccl`` for a CUDA ``device``, ``gloo`` otherwise; the CUDA device of
    this local rank is made current) and destroyed when the block exits. Without either, the context is a
    single-process one and nothing is initialised.
    """
    if dist.is_available() and dist.is_initialized():
        yield DistributedContext(dist.get_world_size(), dist.get_rank(), distributed_env()[2], dist.get_backend())
        return
    world, rank, local = distributed_env()
    if world == 1:
        yield DistributedContext()
        return
    if not dist.is_available():
        raise RuntimeError(f"WORLD_SIZE={world} asks for a distributed run but this PyTorch has no torch.distributed")
    device = _default_device(local) if device is None else torch.device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device if device.index is not None else torch.device("cuda", local))
    # A fresh key prefix per group: re-initialising the default group on torchrun's store after a destroy would
    # otherwise read the previous group's stale addresses and hang (so fit can be called several times per script).
    store, rank, world = next(dist.rendezvous("env://"))
    store = dist.PrefixStore(f"exowavenet_fit/{next(_GROUPS_CREATED)}", store)
    dist.init_process_group(backend=backend, store=store, rank=rank, world_size=world)
    try:
        yield DistributedContext(dist.get_world_size(), dist.get_rank(), local, backend, created=True)
    finally:
        dist.destroy_process_group()


class _StridedShard(Sampler[int]):
    """Indices ``rank, rank + world, ...`` of a map-style dataset: every sample on exactly one rank, no repeats."""

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, n, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _sharded_loader(name: str, loader: DataLoader, ctx: DistributedContext, *, train: bool, seed: int) -> DataLoader:
    """Rebuild ``loader`` around a per-rank sampler (training: DistributedSampler; validation: strided, no repeats)."""
    if isinstance(loader.sampler, DistributedSampler):
        return loader  # the caller already sharded it; fit still calls set_epoch
    if isinstance(loader.dataset, IterableDataset):
        raise ValueError(f"{name} wraps an IterableDataset, which fit cannot shard across ranks under DDP")
    plain_random = type(loader.sampler) is RandomSampler and not loader.sampler.replacement and (
        loader.sampler._num_samples is None  # rejects RandomSampler(num_samples=...)
    )
    if loader.batch_sampler is None:
        raise ValueError(f"{name} has batch_size=None (no automatic batching), which fit cannot shard under DDP")
    custom: Any = None
    if loader.batch_size is None or type(loader.batch_sampler) is not BatchSampler:  # DataLoader(batch_sampler=...)
        custom = loader.batch_sampler
        inner = getattr(custom, "sampler", None)  # name the sampler inside BatchSampler(WeightedRandomSampler(...))
        if inner is not None and type(inner) not in (SequentialSampler, RandomSampler):
            custom = inner
    elif not (type(loader.sampler) is SequentialSampler or plain_random):
        custom = loader.sampler
    if custom is not None:
        raise ValueError(
            f"{name} uses a custom sampler ({type(custom).__name__}), which fit cannot shard across ranks under DDP. "
            "Use shuffle=True/False with a batch_size (and a class-weighted loss instead of a balanced sampler), "
            "or pass a loader whose sampler is a torch.utils.data.DistributedSampler you built yourself"
        )
    n = len(loader.dataset)
    if train:
        sampler: Sampler[int] = DistributedSampler(
            loader.dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=plain_random, seed=seed,
            drop_last=False,
        )
    else:
        sampler = _StridedShard(n, ctx.rank, ctx.world_size)
    workers = loader.num_workers
    return DataLoader(
        loader.dataset, batch_size=loader.batch_size, sampler=sampler, collate_fn=loader.collate_fn,
        num_workers=workers, pin_memory=loader.pin_memory, drop_last=loader.drop_last, timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn, multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator, prefetch_factor=loader.prefetch_factor if workers > 0 else None,
        persistent_workers=loader.persistent_workers if workers > 0 else False, in_order=loader.in_order,
    )


def _collective_device(ctx: DistributedContext, device: torch.device) -> torch.device:
    return device if ctx.backend == "nccl" else torch.device("cpu")


def _gather_sum(ctx: DistributedContext, device: torch.device, values: list[float]) -> list[float]:
    """Sum ``values`` over ranks, adding in rank order so that every rank gets bit-identical results."""
    if not ctx.is_distributed:
        return list(values)
    local = torch.tensor(values, dtype=torch.float64, device=_collective_device(ctx, device))
    parts = [torch.empty_like(local) for _ in range(ctx.world_size)]
    dist.all_gather(parts, local)
    total = parts[0].clone()
    for part in parts[1:]:
        total += part
    return total.cpu().tolist()


def _broadcast_int(ctx: DistributedContext, device: torch.device, value: int) -> int:
    """Rank 0's ``value`` on every rank."""
    if not ctx.is_distributed:
        return value
    t = torch.tensor([value], dtype=torch.int64, device=_collective_device(ctx, device))
    dist.broadcast(t, src=0)
    return int(t.item())


def _validate_everywhere(
    model: nn.Module, loader: DataLoader, loss_fn: LossFn, device: torch.device, ctx: DistributedContext
) -> EvalResult:
    """Evaluate this rank's shard and gather every rank's predictions back into loader order on every rank."""
    loss_sum, y_true, probs = _eval_arrays(_unwrap(model), loader, loss_fn, device)
    if not ctx.is_distributed:
        return _eval_result(loss_sum, y_true, probs)
    parts: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(parts, (loss_sum, y_true, probs))
    n = sum(len(p[1]) for p in parts)
    width = max(p[2].shape[1] for p in parts)
    all_y = np.zeros(n, dtype=np.int64)
    all_probs = np.zeros((n, width), dtype=np.float32)
    for rank, (_, y, p) in enumerate(parts):  # rank r evaluated indices r, r + world, ... (drop_last: fewer)
        idx = np.arange(rank, n, ctx.world_size)[: len(y)]
        all_y[idx] = y
        if len(y):
            all_probs[idx] = p
    total = 0.0
    for part in parts:  # rank order: the same float sum on every rank
        total += part[0]
    return _eval_result(total, all_y, all_probs)


# ------------------------------------------------------------------------------------------------------------- fit


def _make_scheduler(
    scheduler: Any, optimizer: torch.optim.Optimizer, epochs: int, mode: str
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    if scheduler is None:
        return None
    if scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=0.5, patience=2)
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    if isinstance(scheduler, (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)):
        if scheduler.optimizer is not optimizer:
            raise ValueError("scheduler was built for a different optimizer than the one fit uses")
        return scheduler
    raise ValueError(f"scheduler must be None, 'plateau', 'cosine' or an LR scheduler instance, got {scheduler!r}")


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    loss_fn: LossFn | None = None,
    scheduler: str | Any | None = None,
    early_stopping: EarlyStopping | None = None,
    monitor: str = "val_loss",
    checkpoint_path: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
    mixup_alpha: float = 0.0,
    grad_clip: float | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` for up to ``epochs`` epochs, validating after each, and end with its best weights.

    Parameters
    ----------
    model : nn.Module
        ``model(x, mask) -> logits``; moved to ``device``.
    train_loader, val_loader : DataLoader
        Yield contract batches. Under DDP both are re-sharded across ranks (see the module docstring).
    epochs : int
        Maximum number of epochs (early stopping may end sooner).
    optimizer : torch.optim.Optimizer, optional
        Default ``AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)``; ``lr``/``weight_decay`` are
        ignored when an optimizer is given.
    loss_fn : callable, optional
        ``loss_fn(logits, y)``; default ``nn.CrossEntropyLoss()``. A module loss (e.g. with class weights) is moved
        to ``device``.
    scheduler : None, "plateau", "cosine" or a scheduler instance
        ``"plateau"``: ``ReduceLROnPlateau(mode=<monitor's mode>, factor=0.5, patience=2)`` stepped with the
        monitored value; ``"cosine"``: ``CosineAnnealingLR(T_max=epochs)`` stepped once per epoch.
    early_stopping : EarlyStopping, optional
        Reset, then stepped with the monitored value; its ``mode`` must match the monitor's. Its ``min_delta``
        also decides which epoch counts as best.
    monitor : {"val_loss", "val_accuracy", "val_macro_f1", "train_loss"}
        The value that picks the best epoch, drives early stopping and the plateau scheduler.
    checkpoint_path : path, optional
        Where the best epoch is saved (atomically, rank 0 only) with the optimizer state and the extras
        ``epoch``, ``monitor``, ``best_value``, ``history`` (and ``scheduler`` state); read with
        :func:`load_checkpoint`.
    device : torch.device or str, optional
        Default :func:`exowavenet_lib.get_device` (the local rank's GPU under DDP).
    mixup_alpha, grad_clip : see :func:`train_epoch`.
    progress : bool, default True
        A ``tqdm.auto`` bar over epochs with the latest losses (rank 0 only).

    Returns
    -------
    History
        Identical on every rank under DDP. The model holds the best epoch's weights (kept in memory, so this works
        without a checkpoint too).
    """
    from tqdm.auto import tqdm

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, DistributedDataParallel):
        raise TypeError("model must be the bare module: fit wraps it in DistributedDataParallel itself")
    _check_loader("train_loader", train_loader)
    _check_loader("val_loader", val_loader)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    epochs = int(epochs)
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {list(MONITORS)}, got {monitor!r}")
    mode = MONITORS[monitor]
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(f"early_stopping must be an EarlyStopping or None, got {type(early_stopping).__name__}")
        if early_stopping.mode != mode:
            raise ValueError(f"early_stopping.mode={early_stopping.mode!r} but monitor={monitor!r} is a "
                             f"{mode!r} metric; use EarlyStopping(mode={mode!r})")
    _check_alpha_clip(mixup_alpha, grad_clip)
    if optimizer is None and not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and 0 < lr < math.inf):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    if checkpoint_path is not None and not isinstance(checkpoint_path, (str, os.PathLike)):
        raise TypeError(f"checkpoint_path must be a str, os.PathLike or None, got {type(checkpoint_path).__name__}")

    world, _, local_rank = distributed_env()
    if device is None:
        device = _default_device(local_rank) if world > 1 else get_device()
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and world > 1:
        device = torch.device("cuda", local_rank)

    with distributed_context(device) as ctx:
        model.to(device)
        if optimizer is None:
            optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        if loss_fn is None:
            loss_fn = nn.CrossEntropyLoss()
        if isinstance(loss_fn, nn.Module):
            loss_fn.to(device)
        sched = _make_scheduler(scheduler, optimizer, epochs, mode)
        tracker = early_stopping if early_stopping is not None else EarlyStopping(patience=epochs, mode=mode)
        tracker.reset()

        net: nn.Module = model
        if ctx.is_distributed:
            seed = _broadcast_int(ctx, device, int(torch.randint(0, 2**31 - 1, ()).item()))
            train_loader = _sharded_loader("train_loader", train_loader, ctx, train=True, seed=seed)
            val_loader = _sharded_loader("val_loader", val_loader, ctx, train=False, seed=seed)
            net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

        history = History(monitor=monitor)
        best_state: dict[str, torch.Tensor] | None = None
        bar = tqdm(range(1, epochs + 1), desc="epochs", unit="epoch", disable=not (progress and ctx.is_main))
        for epoch in bar:
            sampler = getattr(train_loader, "sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            current_lr = float(optimizer.param_groups[0]["lr"])
            loss_sum, count = _train_sums(net, train_loader, loss_fn, optimizer, device, mixup_alpha, grad_clip)
            loss_sum, count = _gather_sum(ctx, device, [loss_sum, float(count)])
            if count == 0:
                raise ValueError("train_loader yielded no samples")
            train_loss = loss_sum / count
            if not math.isfinite(train_loss):
                raise FloatingPointError(f"training loss is {train_loss} at epoch {epoch}: training diverged; lower "
                                         "lr, set grad_clip, or check the inputs for NaN")
            val = _validate_everywhere(net, val_loader, loss_fn, device, ctx)
            macro_f1 = val.metrics(max(2, val.probs.shape[1])).compute()["macro_f1"]
            history.append(train_loss=train_loss, val_loss=val.loss, val_accuracy=val.accuracy, lr=current_lr,
                           val_macro_f1=macro_f1)
            value = history.metric(monitor)[-1]
            stop = tracker.step(value)
            if tracker.improved:
                history.best_epoch, history.best_value = epoch, float(tracker.best)
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if checkpoint_path is not None and ctx.is_main:
                    extra = {"epoch": epoch, "monitor": monitor, "best_value": float(tracker.best),
                             "history": history.to_dict()}
                    if sched is not None:
                        with contextlib.suppress(TypeError):
                            state = sched.state_dict()
                            _check_plain("scheduler", state)
                            extra["scheduler"] = state
                    save_checkpoint(checkpoint_path, model, optimizer, **extra)
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(value)
            elif sched is not None:
                sched.step()
            bar.set_postfix(train_loss=f"{train_loss:.4f}", val_loss=f"{val.loss:.4f}",
                            val_acc=f"{val.accuracy:.3f}", lr=f"{current_lr:.2e}")
            stop = bool(_broadcast_int(ctx, device, int(stop)))  # rank 0 decides; equal inputs make it a formality
            if stop:
                history.stopped_early = True
                break
        bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        if ctx.is_distributed:
            dist.barrier()  # the checkpoint exists for every rank once fit returns
        # Drop the DDP wrapper (and its reducer) while its process group still exists: freed after the group is
        # destroyed, it left a rank blocked in teardown under load in CI.
        del net
    return history
