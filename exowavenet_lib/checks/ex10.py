"""Checks for notebook 10 — Bayesian uncertainty and model comparison.

Each check builds its own small inputs: hand-made MC samples whose decomposition is known in closed form, random
Dirichlet samples compared with the library (:mod:`exowavenet_lib.uncertainty`, :mod:`exowavenet_lib.calibration`,
:mod:`exowavenet_lib.active_learning`), scores with ties compared with scikit-learn, confidences placed exactly on
bin edges, synthetic over- and under-confident logits, and two tiny networks (batch norm + dropout; a transformer whose
only dropout is inside its encoder layers).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from exowavenet_lib.active_learning import acquisition_scores, select_top_k
from exowavenet_lib.calibration import TemperatureScaler, expected_calibration_error
from exowavenet_lib.checks._core import CheckFailed, attempt, check, expect, show
from exowavenet_lib.models.transformer import Time2VecTransformerEncoder
from exowavenet_lib.uncertainty import decompose_uncertainty

LOG2 = math.log(2.0)


def _dirichlet(shape: tuple[int, ...], classes: int, seed: int, concentration: float = 0.7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(classes, concentration), size=shape)


def _array(value, what: str, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        out = np.asarray(value, dtype=np.float64)
    except Exception as err:  # noqa: BLE001 - reported to the learner
        raise CheckFailed(f"expected {what} to be an array of numbers; got {type(value).__name__}") from err
    expect(out.shape == shape, f"{what} of shape {shape}", f"shape {out.shape}")
    return out


def _round(values) -> str:
    return show(np.round(np.asarray(values, dtype=np.float64), 4).tolist())


# ---------------------------------------------------------------------------------------------------------- 1a

# Two samples (S = 2) of three inputs, two classes: shared ambiguity, confident disagreement, confident agreement.
_HAND = np.array([
    [[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]],
    [[0.5, 0.5], [0.0, 1.0], [0.9, 0.1]],
])
_H09 = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))


@check("10", "1a", hint="With p of shape (S, N, C): total = H(p.mean(axis=0)) — the entropy of the MEAN prediction; "
       "aleatoric = H(p).mean(axis=0) — the MEAN of the per-sample entropies; epistemic = total - aleatoric, "
       "clipped at 0. H(q) = -(q * log q).sum(axis=-1) with the natural log (nats), and 0 log 0 = 0: "
       "np.log(q, out=np.zeros_like(q), where=q > 0) avoids log(0) = -inf and the NaN of 0 * -inf. The epistemic "
       "part is the mutual information, not the standard deviation of the samples.")
def q1a(decompose):
    """decompose(probs) -> (total, aleatoric, epistemic) in nats, (N,) each, from MC samples (S, N, C)."""
    out = attempt(decompose, _HAND.copy())
    expect(isinstance(out, tuple) and len(out) == 3, "a tuple (total, aleatoric, epistemic)", type(out).__name__)
    total, aleatoric, epistemic = (_array(v, name, (3,)) for v, name in zip(out, ("total", "aleatoric", "epistemic"),
                                                                              strict=True))
    expect(np.isfinite(total).all() and np.isfinite(aleatoric).all() and np.isfinite(epistemic).all(),
           "finite values when a sample puts probability 0 on a class (0 log 0 = 0)",
           f"total {_round(total)}, aleatoric {_round(aleatoric)}, epistemic {_round(epistemic)}")
    expect(np.allclose(total, [LOG2, LOG2, _H09], atol=1e-9),
           f"total = entropy of the mean, in nats: [log 2, log 2, H(0.9, 0.1)] = {_round([LOG2, LOG2, _H09])}",
           _round(total))
    expect(np.allclose(aleatoric, [LOG2, 0.0, _H09], atol=1e-9),
           "aleatoric = mean of the per-sample entropies: [log 2 (shared ambiguity), 0 (each sample is certain), "
           f"H(0.9, 0.1)] = {_round([LOG2, 0.0, _H09])}", _round(aleatoric))
    expect(np.allclose(epistemic, [0.0, LOG2, 0.0], atol=1e-9),
           "epistemic = total - aleatoric: [0, log 2 (the samples disagree completely), 0]", _round(epistemic))
    probs = _dirichlet((6, 9), 4, seed=1)
    ref = decompose_uncertainty(probs)
    total, aleatoric, epistemic = (_array(v, name, (9,)) for v, name in
                                   zip(decompose(probs), ("total", "aleatoric", "epistemic"), strict=True))
    for got, want, name in ((total, ref.total, "total"), (aleatoric, ref.aleatoric, "aleatoric"),
                            (epistemic, ref.epistemic, "epistemic")):
        expect(np.allclose(got, want, atol=1e-8), f"{name} of 6 random samples of 9 inputs, 4 classes = "
               f"{_round(want[:4])}...", f"{_round(got[:4])}...")
    return "entropy of the mean, mean of the entropies and their difference, in nats, with 0 log 0 = 0"


# ---------------------------------------------------------------------------------------------------------- 1b


class _BatchNormNet(nn.Module):
    """Mean over steps -> Linear -> BatchNorm -> ReLU -> Dropout -> Linear."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 16)
        self.bn = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(p)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        return self.head(self.drop(torch.relu(self.bn(self.linear(h)))))


def _bn_net(p: float) -> _BatchNormNet:
    torch.manual_seed(0)
    net = _BatchNormNet(p)
    with torch.no_grad():  # running statistics far from any batch's: batch-mode normalisation shows
        net.bn.running_mean.fill_(-1.0)
        net.bn.running_var.fill_(4.0)
        net.bn.num_batches_tracked.fill_(100)
    return net.eval()


def _samples(value, n: int, batch: int, classes: int, what: str) -> np.ndarray:
    out = _array(value, what, (n, batch, classes))
    expect(np.isfinite(out).all() and (out >= 0).all() and np.allclose(out.sum(-1), 1.0, atol=1e-5),
           f"{what}: softmax probabilities (non-negative, each row summing to 1)",
           f"row sums {_round(out.sum(-1).ravel()[:4])}...")
    return out


@check("10", "1b", hint="model.eval() first (batch norm must use its running statistics and must not update them), "
       "then switch on only the dropout: `for m in model.modules(): if isinstance(m, nn.Dropout): m.train()` — or "
       "`enable_mc_dropout(model)`, which also defeats the transformer layers' fast path (in eval mode under "
       "no_grad they skip their dropout). Run `torch.softmax(model(x, mask), dim=-1)` n_samples times under "
       "torch.no_grad(), stack to (n_samples, B, C), and call model.eval() again at the end so dropout is off.")
def q1b(mc_dropout_predict):
    """mc_dropout_predict(model, x, mask, n_samples): only dropout active, batch norm in eval mode, mode restored."""
    torch.manual_seed(1)
    x = torch.randn(6, 4, 3)
    mask = torch.ones(6, 4, dtype=torch.bool)
    net = _bn_net(0.5)
    before = {k: v.clone() for k, v in net.bn.state_dict().items()}
    out = _samples(attempt(mc_dropout_predict, net, x, mask, 20), 20, 6, 3,
                   "mc_dropout_predict(model, x (6 light curves), mask, 20)")
    expect(out.std(axis=0).max() > 1e-3, "different probabilities from pass to pass (dropout on at inference)",
           "20 identical passes: is dropout switched on?")
    changed = [k for k, v in net.bn.state_dict().items() if not torch.equal(v, before[k])]
    expect(not changed, "batch norm's running statistics unchanged (batch norm in eval mode)",
           f"{changed} changed: model.train() also puts batch norm in training mode")
    expect(not net.training and not net.drop.training, "the model back in eval mode with dropout off afterwards",
           f"model.training = {net.training}, dropout.training = {net.drop.training}")
    # Without dropout (p = 0) every pass must equal the plain eval-mode prediction (running statistics).
    plain = _bn_net(0.0)
    with torch.no_grad():
        expected = torch.softmax(plain(x, mask), dim=-1).numpy()
    out = _samples(mc_dropout_predict(plain, x, mask, 3), 3, 6, 3, "with dropout p = 0")
    expect(np.allclose(out, expected[None], atol=1e-5),
           "with dropout p = 0, every pass equal to the eval-mode softmax (batch norm with running statistics)",
           f"{_round(out[0, 0])} instead of {_round(expected[0])} for light curve 0")
    # A transformer whose only dropout is inside its encoder layers: the fast path must not skip it.
    torch.manual_seed(2)
    transformer = Time2VecTransformerEncoder(5, 3, d_model=8, n_heads=2, n_layers=1, dim_feedforward=16,
                                             dropout=0.3, time2vec_dim=4)
    transformer.embedding_dropout.p = 0.0
    transformer.eval()
    xt = torch.randn(4, 5, 5)
    mt = torch.ones(4, 5, dtype=torch.bool)
    out = _samples(mc_dropout_predict(transformer, xt, mt, 8), 8, 4, 3, "on a transformer")
    expect(out.std(axis=0).max() > 1e-4, "different passes from a transformer whose dropout is inside "
           "nn.TransformerEncoderLayer", "identical passes: in eval mode under no_grad the layers take a fast "
           "path without dropout. Use enable_mc_dropout(model), which also sets the layers' own training flag")
    return "dropout sampled, batch norm frozen in eval mode, transformer dropout included, mode restored"


# ---------------------------------------------------------------------------------------------------------- 2a


@check("10", "2a", hint="Compare every out-score with every in-score: "
       "`greater = (out[:, None] > in_[None, :]).mean()`, `ties = (out[:, None] == in_[None, :]).mean()`, "
       "AUROC = greater + 0.5 * ties. The OOD (out) scores should be the HIGHER ones; a tie counts one half, and the "
       "two arrays may have different lengths.")
def q2a(ood_auroc):
    """ood_auroc(scores_in, scores_out) = P(out > in) + P(out == in) / 2, the AUROC of the score."""
    got = attempt(ood_auroc, np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))
    expect(isinstance(got, (float, np.floating)) or (hasattr(got, "item") and np.ndim(got) == 0),
           "a number", type(got).__name__)
    expect(abs(float(got) - 7 / 9) < 1e-9, "in = [1, 2, 3], out = [2, 3, 4]: 6 of 9 pairs with out > in and 2 ties "
           "-> 6/9 + 0.5 * 2/9 = 0.7778", f"{float(got):.4f}")
    got = float(ood_auroc(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), np.array([0.35, 0.05])))
    expect(abs(got - 0.3) < 1e-9, "in = [0.1, ..., 0.5], out = [0.35, 0.05] (different lengths): 3 of 10 pairs with "
           "out > in -> 0.3", f"{got:.4f}")
    rng = np.random.default_rng(3)
    s_in, s_out = rng.integers(0, 4, 40).astype(float), rng.integers(1, 5, 25).astype(float)
    want = roc_auc_score(np.r_[np.zeros(40), np.ones(25)], np.r_[s_in, s_out])
    got = float(ood_auroc(s_in, s_out))
    expect(abs(got - want) < 1e-9, f"scikit-learn's roc_auc_score on 40 in / 25 out scores with many ties = "
           f"{want:.4f}", f"{got:.4f}")
    return "P(out > in) + ties / 2 over all pairs, equal to scikit-learn's AUROC"


# ---------------------------------------------------------------------------------------------------------- 3a

# Confidences exactly on the edges of 4 bins [0, .25), [.25, .5), [.5, .75), [.75, 1]: 0.5 -> bin 2, 0.75 and 1.0
# -> bin 3, 0.4 -> bin 1. Labels: rows 0 and 4 correct; rows 1, 2 (at confidence 1.0) and 3 wrong.
_EDGE_PROBS = np.array([
    [0.5, 0.3, 0.2],
    [0.75, 0.25, 0.0],
    [1.0, 0.0, 0.0],
    [0.4, 0.35, 0.25],
    [0.5, 0.5 - 1e-9, 1e-9],
])
_EDGE_Y = np.array([0, 1, 1, 1, 0])


def _reference_ece(probs: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return float(sum((bins == m).mean() * abs(correct[bins == m].mean() - conf[bins == m].mean())
                     for m in range(n_bins) if (bins == m).any()))


@check("10", "3a", hint="confidence = probs.max(axis=1) (the LARGEST probability, not the true class's); correct = "
       "probs.argmax(axis=1) == y. Bin index = min(int(confidence * n_bins), n_bins - 1): bins are [m/M, (m+1)/M), "
       "so 0.5 with 4 bins is in bin 2, and 1.0 joins the last bin. ECE = sum over non-empty bins of "
       "(bin count / N) * |mean correct - mean confidence| — weighted by the bin's share, not a plain mean.")
def q3a(ece_equal_width):
    """ece_equal_width(probs, y, n_bins): top-label ECE with equal-width bins [m/M, (m+1)/M), 1.0 in the last."""
    want = _reference_ece(_EDGE_PROBS, _EDGE_Y, 4)
    got = attempt(ece_equal_width, _EDGE_PROBS.copy(), _EDGE_Y.copy(), 4)
    expect(isinstance(got, (float, np.floating)) or (hasattr(got, "item") and np.ndim(got) == 0),
           "a number", type(got).__name__)
    expect(abs(float(got) - want) < 1e-9, f"confidences [0.5, 0.75, 1.0, 0.4, 0.5] in 4 bins (0.5 in [0.5, 0.75), "
           f"0.75 and 1.0 in [0.75, 1]) -> ECE {want:.4f}", f"{float(got):.4f}")
    rng = np.random.default_rng(4)
    probs = _dirichlet((300,), 4, seed=5, concentration=0.4)
    y = np.where(rng.random(300) < 0.7, probs.argmax(1), rng.integers(0, 4, 300))
    for n_bins in (10, 7):
        want = expected_calibration_error(probs, y, n_bins)
        got = float(ece_equal_width(probs, y, n_bins))
        expect(abs(got - want) < 1e-9, f"300 random predictions, {n_bins} bins: ECE {want:.4f} (the library's)",
               f"{got:.4f}")
    perfect = np.tile([[0.7, 0.2, 0.1]], (10, 1))
    labels = np.array([0] * 7 + [1] * 3)  # 70 % correct at confidence 0.7
    got = float(ece_equal_width(perfect, labels, 10))
    expect(abs(got) < 1e-9, "0 for 10 predictions at confidence 0.7 of which 7 are right (perfectly calibrated)",
           f"{got:.4f}")
    return "top-label confidences, equal-width bins with the right edges, weighted by bin size"


# ---------------------------------------------------------------------------------------------------------- 3b


def _calibration_case(scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the logits returned are scale * z (over-confident when scale > 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, size=(1500, 4))
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (rng.random(1500)[:, None] > p.cumsum(1)).sum(1).clip(0, 3)
    return scale * z, y


@check("10", "3b", hint="Minimise NLL(T) = cross_entropy(logits / T, y) over T > 0 — DIVIDE the logits by T, use the "
       "TRUE labels y, and apply T to the logits (before the softmax), not to probabilities. Optimise log T so T "
       "stays positive and can go below 1 (under-confident models need T < 1): "
       "scipy.optimize.minimize_scalar(lambda s: nll(exp(s)), bounds=(-3, 3), method='bounded').")
def q3b(fit_temperature):
    """fit_temperature(logits, y) -> the T minimising the NLL of softmax(logits / T), for T above and below 1."""
    logits, y = _calibration_case(2.5, seed=6)
    got = attempt(fit_temperature, logits.copy(), y.copy())
    expect(isinstance(got, (float, np.floating, int)) or (hasattr(got, "item") and np.ndim(got) == 0),
           "a number T", type(got).__name__)
    want = TemperatureScaler().fit(logits, y).temperature
    expect(abs(float(got) - want) < 0.01 * want, f"over-confident logits (2.5 x the true ones): T = {want:.3f}",
           f"{float(got):.3f}")
    logits, y = _calibration_case(0.5, seed=7)
    want = TemperatureScaler().fit(logits, y).temperature
    got = float(fit_temperature(logits, y))
    expect(abs(got - want) < 0.01 * want, f"under-confident logits (0.5 x the true ones): T = {want:.3f} (< 1)",
           f"{got:.3f}")
    return "the NLL-optimal temperature for over- and under-confident logits"


# ---------------------------------------------------------------------------------------------------------- 5a

# Pool of 5, two samples, two classes. Entropy order: 1 = 2 (log 2) > 3 > 4 > 0; BALD order: 2 > 3 > others (0).
_POOL = np.array([
    [[0.99, 0.01], [0.5, 0.5], [1.0, 0.0], [0.9, 0.1], [0.7, 0.3]],
    [[0.99, 0.01], [0.5, 0.5], [0.0, 1.0], [0.5, 0.5], [0.7, 0.3]],
])


@check("10", "5a", hint="scores = total (predictive entropy) for 'entropy' and epistemic (mutual information) for "
       "'bald' — your decompose from 1a gives both. Then the k LARGEST scores, largest first: "
       "np.argsort(-scores, kind='stable')[:k] (np.argsort(scores) alone sorts from the smallest).")
def q5a(acquire):
    """acquire(probs, k, strategy) -> indices of the k highest entropy / BALD scores, best first."""
    got = attempt(acquire, _POOL.copy(), 2, "bald")
    idx = np.asarray(got)
    expect(idx.shape == (2,) and np.issubdtype(idx.dtype, np.integer), "2 integer indices", show(got))
    expect(idx.tolist() == [2, 3], "BALD top 2 = [2, 3]: input 2 (the samples disagree completely), then input 3; "
           "input 1 ([0.5, 0.5] twice) is ambiguous but the samples agree: BALD 0", show(idx.tolist()))
    idx = np.asarray(acquire(_POOL.copy(), 3, "entropy"))
    expect(idx.tolist() == [1, 2, 3], "entropy top 3 = [1, 2, 3] (total uncertainty log 2, log 2, then input 3)",
           show(idx.tolist()))
    probs = _dirichlet((5, 40), 4, seed=8, concentration=1.5)
    for strategy in ("bald", "entropy"):
        want = select_top_k(acquisition_scores(probs, strategy), 7).tolist()
        idx = np.asarray(acquire(probs, 7, strategy)).tolist()
        expect(idx == want, f"{strategy}: the 7 highest scores of a random pool of 40 = {want}", show(idx))
    return "entropy and BALD scores, the top k, highest first"
