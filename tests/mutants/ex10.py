"""Plausible wrong answers for notebook 10 (Bayesian uncertainty and model comparison).

``_entropy`` and ``_decompose`` are correct (they follow the solution notebook); each mutant changes one thing and its
docstring says what.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from exowavenet_lib.uncertainty import enable_mc_dropout


def _entropy(q, log=np.log):
    return -(q * log(q, out=np.zeros_like(q), where=q > 0)).sum(axis=-1)


def _decompose(probs, log=np.log):
    p = np.asarray(probs, dtype=np.float64)
    total = _entropy(p.mean(axis=0), log=log)
    aleatoric = _entropy(p, log=log).mean(axis=0)
    return total, aleatoric, np.clip(total - aleatoric, 0.0, None)


# ---------------------------------------------------------------------------------------------------------- 1a


def decompose_log2(probs):
    """Entropies in bits (log base 2) instead of nats."""
    return _decompose(probs, log=np.log2)


def decompose_swapped(probs):
    """Total and aleatoric swapped: the mean of the entropies called total, the entropy of the mean aleatoric."""
    p = np.asarray(probs, dtype=np.float64)
    aleatoric = _entropy(p.mean(axis=0))
    total = _entropy(p).mean(axis=0)
    return total, aleatoric, np.clip(total - aleatoric, 0.0, None)


def decompose_std(probs):
    """Epistemic part = standard deviation of the samples' top-class probability instead of the mutual information."""
    p = np.asarray(probs, dtype=np.float64)
    total, aleatoric, _ = _decompose(p)
    top = p.mean(axis=0).argmax(axis=1)
    return total, aleatoric, p[:, np.arange(p.shape[1]), top].std(axis=0)


def decompose_nan(probs):
    """Plain np.log: 0 * log 0 gives NaN for a sample that puts probability 0 on a class."""
    p = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = -(p.mean(0) * np.log(p.mean(0))).sum(-1)
        aleatoric = (-(p * np.log(p)).sum(-1)).mean(0)
    return total, aleatoric, total - aleatoric


# ---------------------------------------------------------------------------------------------------------- 1b


def mc_train_mode(model, x, mask, n_samples=30):
    """model.train() for the passes: batch norm normalises with batch statistics and updates its running ones."""
    model.train()
    with torch.no_grad():
        samples = [torch.softmax(model(x, mask), dim=-1) for _ in range(n_samples)]
    model.eval()
    return torch.stack(samples)


def mc_no_dropout(model, x, mask, n_samples=30):
    """model.eval() only: dropout stays off, so every pass is identical."""
    model.eval()
    with torch.no_grad():
        return torch.stack([torch.softmax(model(x, mask), dim=-1) for _ in range(n_samples)])


def mc_dropout_modules_only(model, x, mask, n_samples=30):
    """Switches on the nn.Dropout modules only: transformer layers take their dropout-free fast path."""
    model.eval()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.train()
    with torch.no_grad():
        samples = [torch.softmax(model(x, mask), dim=-1) for _ in range(n_samples)]
    model.eval()
    return torch.stack(samples)


def mc_not_restored(model, x, mask, n_samples=30):
    """Leaves dropout switched on after the passes (the model is not put back in eval mode)."""
    model.eval()
    enable_mc_dropout(model)
    with torch.no_grad():
        return torch.stack([torch.softmax(model(x, mask), dim=-1) for _ in range(n_samples)])


def mc_logits(model, x, mask, n_samples=30):
    """Returns the raw logits of each pass instead of softmax probabilities."""
    model.eval()
    enable_mc_dropout(model)
    with torch.no_grad():
        samples = [model(x, mask) for _ in range(n_samples)]
    model.eval()
    return torch.stack(samples)


# ---------------------------------------------------------------------------------------------------------- 2a


def auroc_ties_win(scores_in, scores_out):
    """Counts a tie as a full win (>=) instead of one half."""
    s_in, s_out = np.asarray(scores_in, float), np.asarray(scores_out, float)
    return float((s_out[:, None] >= s_in[None, :]).mean())


def auroc_ties_lose(scores_in, scores_out):
    """Ignores ties (strict > only)."""
    s_in, s_out = np.asarray(scores_in, float), np.asarray(scores_out, float)
    return float((s_out[:, None] > s_in[None, :]).mean())


def auroc_reversed(scores_in, scores_out):
    """The wrong direction: P(in > out) + ties / 2."""
    s_in, s_out = np.asarray(scores_in, float), np.asarray(scores_out, float)
    return float((s_in[None, :] > s_out[:, None]).mean() + 0.5 * (s_in[None, :] == s_out[:, None]).mean())


def auroc_paired(scores_in, scores_out):
    """Compares element i of one array with element i of the other (zip) instead of all pairs."""
    pairs = list(zip(scores_in, scores_out, strict=False))
    return float(np.mean([(o > i) + 0.5 * (o == i) for i, o in pairs]))


# ---------------------------------------------------------------------------------------------------------- 3a


def _ece_from(conf, correct, bins, n_bins):
    return float(sum((bins == m).mean() * abs(correct[bins == m].mean() - conf[bins == m].mean())
                     for m in range(n_bins) if (bins == m).any()))


def ece_true_class(probs, y, n_bins=10):
    """Bins by the probability of the TRUE class instead of the top-label confidence."""
    probs, y = np.asarray(probs, float), np.asarray(y)
    conf = probs[np.arange(len(y)), y]
    correct = (probs.argmax(1) == y).astype(float)
    return _ece_from(conf, correct, np.minimum((conf * n_bins).astype(int), n_bins - 1), n_bins)


def ece_right_closed(probs, y, n_bins=10):
    """Off by one at the bin edges: bins (m/M, (m+1)/M], so a confidence of 0.5 lands in the bin below."""
    probs, y = np.asarray(probs, float), np.asarray(y)
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(float)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    return _ece_from(conf, correct, bins, n_bins)


def ece_unweighted(probs, y, n_bins=10):
    """Plain mean of the per-bin gaps (not weighted by the bins' sizes)."""
    probs, y = np.asarray(probs, float), np.asarray(y)
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    gaps = [abs(correct[bins == m].mean() - conf[bins == m].mean()) for m in range(n_bins) if (bins == m).any()]
    return float(np.mean(gaps))


def ece_drops_one(probs, y, n_bins=10):
    """int(conf * M) without the clip: a confidence of exactly 1.0 falls in bin M, which the loop never visits."""
    probs, y = np.asarray(probs, float), np.asarray(y)
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(float)
    return _ece_from(conf, correct, (conf * n_bins).astype(int), n_bins)


def ece_global(probs, y, n_bins=10):
    """No binning: |overall accuracy - overall mean confidence|."""
    probs, y = np.asarray(probs, float), np.asarray(y)
    return float(abs((probs.argmax(1) == y).mean() - probs.max(1).mean()))


# ---------------------------------------------------------------------------------------------------------- 3b


def _fit_log_t(nll, low=-3.0, high=3.0):
    from scipy.optimize import minimize_scalar

    return float(math.exp(minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-6}).x))


def temperature_multiplied(logits, y):
    """Multiplies the logits by T instead of dividing: returns 1 / T."""
    z, t = torch.as_tensor(np.asarray(logits, float)), torch.as_tensor(np.asarray(y, np.int64))
    return _fit_log_t(lambda s: float(F.cross_entropy(z * math.exp(s), t)))


def temperature_predicted_labels(logits, y):
    """Fits the NLL of the model's own predictions (argmax) instead of the true labels: T collapses towards 0."""
    z = torch.as_tensor(np.asarray(logits, float))
    t = z.argmax(1)
    return _fit_log_t(lambda s: float(F.cross_entropy(z / math.exp(s), t)))


def temperature_on_probabilities(logits, y):
    """Applies T to the softmax probabilities (softmax(softmax(z) / T)) instead of to the logits."""
    z, t = torch.as_tensor(np.asarray(logits, float)), torch.as_tensor(np.asarray(y, np.int64))
    p = torch.softmax(z, dim=1)
    return _fit_log_t(lambda s: float(F.cross_entropy(p / math.exp(s), t)))


def temperature_at_least_one(logits, y):
    """Searches only T >= 1 (log T in [0, 3]): cannot sharpen an under-confident model."""
    z, t = torch.as_tensor(np.asarray(logits, float)), torch.as_tensor(np.asarray(y, np.int64))
    return _fit_log_t(lambda s: float(F.cross_entropy(z / math.exp(s), t)), low=0.0)


# ---------------------------------------------------------------------------------------------------------- 5a


def acquire_lowest(probs, k, strategy="bald"):
    """Picks the k LOWEST scores (np.argsort without the minus sign): the most certain light curves."""
    total, _, epistemic = _decompose(probs)
    return np.argsort({"entropy": total, "bald": epistemic}[strategy], kind="stable")[:k]


def acquire_bald_aleatoric(probs, k, strategy="bald"):
    """BALD scored with the aleatoric part (expected entropy) instead of the mutual information."""
    total, aleatoric, _ = _decompose(probs)
    return np.argsort(-{"entropy": total, "bald": aleatoric}[strategy], kind="stable")[:k]


def acquire_entropy_of_first_sample(probs, k, strategy="bald"):
    """'entropy' from the first MC sample only instead of the mean prediction."""
    total, _, epistemic = _decompose(probs)
    first = _entropy(np.asarray(probs, float)[0])
    return np.argsort(-{"entropy": first, "bald": epistemic}[strategy], kind="stable")[:k]


def acquire_off_by_one(probs, k, strategy="bald"):
    """Returns k + 1 indices (slicing [:k + 1])."""
    total, _, epistemic = _decompose(probs)
    return np.argsort(-{"entropy": total, "bald": epistemic}[strategy], kind="stable")[:k + 1]


MUTANTS = {
    "1a": [decompose_log2, decompose_swapped, decompose_std, decompose_nan],
    "1b": [mc_train_mode, mc_no_dropout, mc_dropout_modules_only, mc_not_restored, mc_logits],
    "2a": [auroc_ties_win, auroc_ties_lose, auroc_reversed, auroc_paired],
    "3a": [ece_true_class, ece_right_closed, ece_unweighted, ece_drops_one, ece_global],
    "3b": [temperature_multiplied, temperature_predicted_labels, temperature_on_probabilities,
           temperature_at_least_one],
    "5a": [acquire_lowest, acquire_bald_aleatoric, acquire_entropy_of_first_sample, acquire_off_by_one],
}
