"""Monte-Carlo dropout: predictive uncertainty from a network trained with dropout (Gal & Ghahramani 2016).

Keep dropout switched on at inference, run the same inputs ``S`` times and treat the ``S`` softmax vectors as samples
of the predictive distribution. With ``p_s`` the class probabilities of sample ``s`` and ``p̄ = mean_s p_s``
(entropies ``H`` in nats):

- total uncertainty = ``H(p̄)`` (entropy of the mean prediction);
- aleatoric = ``mean_s H(p_s)`` (expected entropy: noise the model sees in the data itself);
- epistemic = total − aleatoric = mutual information between the prediction and the weights (BALD). It is >= 0
  (entropy is concave) and 0 exactly when every sample gives the same probabilities.

:func:`enable_mc_dropout` switches on *only* the dropout of a model in eval mode: BatchNorm keeps using (and not
updating) its running statistics, and LayerNorm has no mode at all. :func:`mc_predict` runs the passes and restores
every module's mode afterwards; :class:`BayesianTransformerEncoder` is the library's Time2Vec transformer with MC
dropout on by default at inference.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from exowavenet_lib.models._common import positive_int
from exowavenet_lib.models.transformer import Time2VecTransformerEncoder

__all__ = [
    "BayesianTransformerEncoder",
    "MCResult",
    "decompose_uncertainty",
    "enable_mc_dropout",
    "mc_predict",
    "predictive_entropy",
]

#: Modules whose dropout is *functional* (``F.dropout(..., training=self.training)`` or an equivalent kernel
#: argument) rather than an ``nn.Dropout`` child, or whose ``training`` flag decides whether a dropout-free inference
#: fast path is taken. For these only the module's own ``training`` flag is set (not its children's).
_FUNCTIONAL_DROPOUT = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.RNNBase)


def _dropout_rate(module: nn.Module) -> float:
    """The dropout probability a module applies itself (0.0 for modules without dropout)."""
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return float(module.p)
    if isinstance(module, (nn.MultiheadAttention, nn.RNNBase)):
        return float(module.dropout)
    if isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
        # Its dropouts are nn.Dropout children; its own flag only gates the fast path that skips them.
        return max((float(m.p) for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)), default=0.0)
    return 0.0


def enable_mc_dropout(model: nn.Module) -> list[str]:
    """Switch on the dropout of ``model`` (in place) and nothing else; return the names of the modules switched.

    Call it after ``model.eval()``. Every ``nn.Dropout*`` module (``Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``,
    ``FeatureAlphaDropout``) is put in training mode. Some modules apply dropout *functionally*, controlled by
    their own ``module.training`` rather than by an ``nn.Dropout`` child:

    - ``nn.MultiheadAttention`` passes ``dropout_p=self.dropout, training=self.training`` to the attention kernel
      (dropout on the attention weights);
    - ``nn.LSTM``/``nn.GRU``/``nn.RNN`` pass ``self.dropout, self.training`` to the fused kernel (dropout between
      stacked layers);
    - ``nn.TransformerEncoderLayer``/``DecoderLayer`` (and ``nn.TransformerEncoder`` through its first layer) take a
      fused "fast path" without any dropout when the layer is in eval mode and autograd is off, even if their
      ``nn.Dropout`` children are in training mode.

    For those, only the module's own flag is set (``module.training = True``, *not* ``module.train()``, which would
    recurse into children such as ``LayerNorm`` or ``Linear``), and only when its dropout rate is > 0. Normalisation
    layers are never touched: ``BatchNorm`` stays in eval mode (running statistics used, not updated); ``LayerNorm``
    behaves the same in both modes. Dropout written as ``F.dropout(x, p, training=self.training)`` inside a custom
    module cannot be found this way: use ``nn.Dropout`` modules.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    switched: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()  # no children
        elif isinstance(module, _FUNCTIONAL_DROPOUT) and _dropout_rate(module) > 0:
            module.training = True
        else:
            continue
        switched.append(name or type(module).__name__)
    return switched


@contextlib.contextmanager
def _restore_modes(model: nn.Module) -> Iterator[None]:
    """Put back every module's ``training`` flag on exit, exactly as it was (mixed modes included)."""
    modes = [(module, module.training) for module in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@dataclass
class MCResult:
    """Predictive samples and their uncertainty decomposition (what :func:`mc_predict` returns), as NumPy arrays.

    Attributes
    ----------
    probs : ndarray (S, N, C)
        Softmax probabilities of every stochastic pass (or ensemble member) for every input.
    mean_probs : ndarray (N, C)
        ``probs.mean(0)``: the predictive distribution.
    predictions : ndarray (N,)
        ``mean_probs.argmax(1)``.
    total, aleatoric, epistemic : ndarray (N,)
        Entropy of the mean, expected entropy, and their difference (mutual information), in nats.
    std : ndarray (N,)
        The curriculum's simpler score: the standard deviation over samples of the probability of the predicted
        class (population std, ``ddof=0``). See :func:`decompose_uncertainty` for how it differs from ``epistemic``.
    y_true : ndarray (N,) or None
        Labels, when the batches had ``"y"``.
    """

    probs: np.ndarray
    mean_probs: np.ndarray
    predictions: np.ndarray
    total: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray
    std: np.ndarray
    y_true: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        """Number of stochastic passes (or ensemble members) ``S``."""
        return int(self.probs.shape[0])

    def to_pandas(self) -> Any:
        """One row per input: prediction, its mean probability, the four uncertainty scores (and the label)."""
        import pandas as pd

        n = len(self.predictions)
        table = pd.DataFrame({
            "prediction": self.predictions,
            "confidence": self.mean_probs[np.arange(n), self.predictions],
            "total": self.total,
            "aleatoric": self.aleatoric,
            "epistemic": self.epistemic,
            "std": self.std,
        })
        if self.y_true is not None:
            table.insert(0, "y_true", self.y_true)
        return table


def predictive_entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) over the last axis, with ``0 log 0 = 0``."""
    logp = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -(p * logp).sum(axis=-1)


def decompose_uncertainty(probs: Any, y_true: Any = None) -> MCResult:
    """Decompose predictive samples ``probs`` (S, N, C) into total, aleatoric and epistemic uncertainty.

    Computed in float64: ``total = H(mean_s p_s)``, ``aleatoric = mean_s H(p_s)``, ``epistemic = total -
    aleatoric`` (clipped at 0 against round-off, so ``total == aleatoric + epistemic`` to ~1e-12).

    The curriculum's ``std`` (spread over samples of the probability of the predicted class) is a cheaper proxy for
    the epistemic part. Both are 0 when all samples agree and grow with disagreement, but ``std`` only looks at one
    class (disagreement among the other classes is invisible to it), is not additive with anything, and is bounded
    by 0.5 whatever the number of classes, while the mutual information is in nats, accounts for every class, and
    is at most ``log C``. Rankings by the two mostly agree but are not identical.
    """
    p = probs.detach().cpu().numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs)
    if p.ndim != 3 or p.shape[0] < 1 or p.shape[1] < 1 or p.shape[2] < 2:
        raise ValueError(f"probs must have shape (samples, inputs, classes) with >= 2 classes, got {p.shape}")
    p = p.astype(np.float64)
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(-1), 1.0, atol=1e-3):
        raise ValueError("probs must be finite, non-negative, and sum to 1 over classes (softmax outputs)")
    mean = p.mean(axis=0)
    total = predictive_entropy(mean)
    aleatoric = predictive_entropy(p).mean(axis=0)
    epistemic = np.clip(total - aleatoric, 0.0, None)
    predictions = mean.argmax(axis=1)
    std = p[:, np.arange(p.shape[1]), predictions].std(axis=0)
    if y_true is not None:
        y_true = np.asarray(y_true, dtype=np.int64)
        if y_true.shape != (p.shape[1],):
            raise ValueError(f"y_true must have shape ({p.shape[1]},), got {y_true.shape}")
    return MCResult(p, mean, predictions, total, aleatoric, epistemic, std, y_true)


def _batches(data: Any) -> Iterable[Mapping[str, Any]]:
    """A single contract batch (dict with ``"x"`` and ``"mask"``) as a one-item list, or the loader itself."""
    if isinstance(data, Mapping):
        return [data]
    if isinstance(data, torch.utils.data.DataLoader) or (isinstance(data, Iterable) and not isinstance(data, str)):
        return data
    raise TypeError(f"loader_or_batch must be a DataLoader or a batch dict with 'x' and 'mask', got "
                    f"{type(data).__name__}")


def _model_device(model: nn.Module) -> torch.device:
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")


def _predict_probs(
    model: nn.Module, data: Any, n_samples: int, device: torch.device
) -> tuple[torch.Tensor, np.ndarray | None]:
    """Softmax outputs (S, N, C) of ``n_samples`` passes over every batch of ``data`` (model modes untouched)."""
    chunks: list[torch.Tensor] = []
    labels: list[np.ndarray] = []
    labelled: bool | None = None
    with torch.no_grad():
        for i, batch in enumerate(_batches(data)):
            if not isinstance(batch, Mapping) or "x" not in batch or "mask" not in batch:
                raise TypeError(f"batch {i} must be a dict with 'x' and 'mask' (collate_lightcurves' output)")
            has_y = "y" in batch
            if labelled is not None and has_y != labelled:
                raise ValueError("either every batch or none must carry labels 'y'")
            labelled = has_y
            x, mask = batch["x"].to(device), batch["mask"].to(device)
            chunks.append(torch.stack([torch.softmax(model(x, mask).float(), dim=-1) for _ in range(n_samples)]).cpu())
            if has_y:
                labels.append(torch.as_tensor(batch["y"]).cpu().numpy())
    if not chunks:
        raise ValueError("loader_or_batch yielded no batches")
    return torch.cat(chunks, dim=1), (np.concatenate(labels).astype(np.int64) if labelled else None)


def mc_predict(
    model: nn.Module,
    loader_or_batch: Any,
    n_samples: int = 30,
    device: torch.device | str | None = None,
    *,
    seed: int | None = None,
) -> MCResult:
    """Run ``n_samples`` stochastic forward passes with MC dropout and decompose the predictive uncertainty.

    Parameters
    ----------
    model : nn.Module
        ``model(x, mask) -> logits``, trained with dropout.
    loader_or_batch : DataLoader (or iterable of batches) or a batch dict
        Contract batches with ``"x"`` and ``"mask"`` (``"y"`` optional, copied to ``y_true``).
    n_samples : int, default 30
        Stochastic passes per input.
    device : torch.device or str, optional
        Where to run; the model is moved there. Default: where the model's parameters are.
    seed : int, optional
        Seed the dropout masks (inside ``torch.random.fork_rng``, so the global RNG is left as it was).

    Returns
    -------
    MCResult
        See :func:`decompose_uncertainty`. The model is put in eval mode with only its dropout on
        (:func:`enable_mc_dropout`) for the passes, and every module's mode is restored afterwards. A model without
        dropout gives ``n_samples`` identical passes (epistemic = std = 0).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    n_samples = positive_int("n_samples", n_samples)
    if device is None:
        device = _model_device(model)
    else:
        device = torch.device(device)
        model.to(device)
    fork = contextlib.nullcontext()
    if seed is not None:
        devices = [device] if device.type == "cuda" else []
        fork = torch.random.fork_rng(devices=devices)
    with _restore_modes(model), fork:
        if seed is not None:
            torch.manual_seed(seed)
        model.eval()
        enable_mc_dropout(model)
        probs, y_true = _predict_probs(model, loader_or_batch, n_samples, device)
    return decompose_uncertainty(probs, y_true)


class BayesianTransformerEncoder(Time2VecTransformerEncoder):
    """:class:`~exowavenet_lib.models.Time2VecTransformerEncoder` whose dropout stays on at inference (MC dropout).

    ``model.eval()`` puts the model in eval mode and then calls :func:`enable_mc_dropout`, so every ordinary forward
    pass in eval mode (``evaluate_model`` included) is one Monte-Carlo sample; average many with
    :meth:`forward_with_uncertainty` or :func:`mc_predict`. Set ``mc_dropout = False`` (attribute) for a plain
    deterministic eval mode. Takes the same arguments as the parent plus ``mc_dropout``; ``dropout`` must be > 0.
    """

    def __init__(self, n_features: int, n_classes: int, *args: Any, mc_dropout: bool = True, **kwargs: Any) -> None:
        super().__init__(n_features, n_classes, *args, **kwargs)
        if not isinstance(mc_dropout, bool):
            raise TypeError(f"mc_dropout must be a bool, got {type(mc_dropout).__name__}")
        if self.embedding_dropout.p == 0:
            raise ValueError("dropout must be > 0 for a Bayesian (MC dropout) transformer")
        self.mc_dropout = mc_dropout

    def train(self, mode: bool = True) -> BayesianTransformerEncoder:
        """Set training mode; in eval mode (``mode=False``) keep dropout on when ``mc_dropout`` is True."""
        super().train(mode)
        if not mode and self.mc_dropout:
            enable_mc_dropout(self)
        return self

    def forward_with_uncertainty(
        self, x: torch.Tensor, mask: torch.Tensor, n_samples: int = 30, *, seed: int | None = None
    ) -> MCResult:
        """Average ``n_samples`` MC-dropout passes over the batch ``(x, mask)``; see :func:`mc_predict`."""
        return mc_predict(self, {"x": x, "mask": mask}, n_samples, seed=seed)
