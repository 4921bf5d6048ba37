"""Plausible wrong answers for notebook 12 (ExoWaveNet, a WaveNet-style transit detector).

Each mutant is a correct answer (as in the solution notebook) with one thing changed; its docstring says what.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# ---------------------------------------------------------------------------------------------------------- 1a


def in_transit_no_fold(t, period, epoch, duration):
    """No phase folding: only the transit at the epoch itself is found."""
    return np.abs(np.asarray(t, float) - epoch) < duration / 2


def in_transit_full_duration(t, period, epoch, duration):
    """Uses the total duration as the half-width: transits come out twice as long."""
    phase = (np.asarray(t, float) - epoch + period / 2) % period - period / 2
    return np.abs(phase) < duration


def in_transit_not_centred(t, period, epoch, duration):
    """Folds with `(t − epoch) % period` without centring: the half before each mid-transit is lost."""
    phase = (np.asarray(t, float) - epoch) % period
    return phase < duration / 2


def in_transit_inclusive(t, period, epoch, duration):
    """`<=` instead of `<`: a sample exactly at first/fourth contact counts as in transit."""
    phase = (np.asarray(t, float) - epoch + period / 2) % period - period / 2
    return np.abs(phase) <= duration / 2


# ---------------------------------------------------------------------------------------------------------- 1b


def _check_sigma(sigma):
    if np.any(np.asarray(sigma) <= 0):
        raise ValueError("sigma must be > 0")


def snr_linear_n(depth, sigma, n_in_transit):
    """depth/σ × n: the noise is assumed to average down linearly, not as √n."""
    _check_sigma(sigma)
    return np.asarray(depth) / np.asarray(sigma) * np.asarray(n_in_transit)


def snr_variance(depth, sigma, n_in_transit):
    """Divides by the variance σ² instead of σ."""
    _check_sigma(sigma)
    return np.asarray(depth) / np.asarray(sigma) ** 2 * np.sqrt(n_in_transit)


def snr_no_validation(depth, sigma, n_in_transit):
    """Correct formula but σ = 0 gives inf/NaN instead of a ValueError."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(depth) / np.asarray(sigma) * np.sqrt(n_in_transit)


def snr_python_math(depth, sigma, n_in_transit):
    """Uses math.sqrt: works for scalars, fails for arrays."""
    _check_sigma(sigma)
    return depth / sigma * math.sqrt(n_in_transit)


# ---------------------------------------------------------------------------------------------------------- 2a


def _starts(n, window, stride, tail=True):
    if n <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n - window + 1, stride)
    if tail and starts[-1] + window < n:
        starts = np.append(starts, n - window)
    return starts


def _cut(flux, valid, in_transit, window, stride, tail=True, label_gaps=False, pad_valid=False):
    flux, valid, in_transit = np.asarray(flux, float), np.asarray(valid, bool), np.asarray(in_transit, bool)
    n = len(flux)
    starts = _starts(n, window, stride, tail)
    idx = starts[:, None] + np.arange(window)[None, :]
    inside = idx < n
    safe = np.clip(idx, 0, n - 1)
    mask = (valid[safe] if pad_valid else inside & valid[safe])
    labels = inside & in_transit[safe] & (True if label_gaps else mask)
    x = np.where(mask, flux[safe], 0.0).astype(np.float32)
    return x, mask, labels, labels.any(axis=1).astype(np.float32)


def cut_windows_no_tail(flux, valid, in_transit, window, stride):
    """No extra window at the end: the last samples (and a transit there) are never seen."""
    return _cut(flux, valid, in_transit, window, stride, tail=False)


def cut_windows_labels_in_gaps(flux, valid, in_transit, window, stride):
    """Labels are not restricted to valid samples: a transit sample in a gap counts as a label."""
    return _cut(flux, valid, in_transit, window, stride, label_gaps=True)


def cut_windows_padding_valid(flux, valid, in_transit, window, stride):
    """Padding past the end repeats the last sample and is marked valid."""
    return _cut(flux, valid, in_transit, window, stride, pad_valid=True)


def cut_windows_flux_in_gaps(flux, valid, in_transit, window, stride):
    """The mask is right but x keeps the (interpolated, meaningless) flux in gaps instead of 0."""
    x, mask, labels, y = _cut(flux, valid, in_transit, window, stride)
    n = len(flux)
    idx = _starts(n, window, stride)[:, None] + np.arange(window)[None, :]
    x = np.where(idx < n, np.asarray(flux, float)[np.clip(idx, 0, n - 1)], 0.0).astype(np.float32)
    return x, mask, labels, y


# ---------------------------------------------------------------------------------------------------------- 3a


def gated_swapped(h):
    """sigmoid(f) · tanh(g): the filter and the gate are swapped."""
    f, g = h.chunk(2, dim=1)
    return torch.sigmoid(f) * torch.tanh(g)


def gated_time_split(h):
    """Splits the TIME axis (dim −1) instead of the channels."""
    f, g = h.chunk(2, dim=-1)
    return torch.tanh(f) * torch.sigmoid(g)


def gated_no_gate(h):
    """tanh of the first half only: no sigmoid gate."""
    f, _ = h.chunk(2, dim=1)
    return torch.tanh(f)


def gated_same_half(h):
    """tanh(f) · sigmoid(f): both factors from the first half."""
    f, _ = h.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(f)


# ---------------------------------------------------------------------------------------------------------- 3b


class _Block(nn.Module):
    """A correct residual block (the solution's), with switches for the mutants."""

    def __init__(self, channels, skip_channels, kernel_size, dilation, causal=False):
        super().__init__()
        self.causal = causal
        self.pad_total = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip_channels, 1)

    def pad(self, x):
        left = self.pad_total if self.causal else self.pad_total // 2
        return F.pad(x, (left, self.pad_total - left))

    def hidden(self, x):
        f, g = self.conv(self.pad(x)).chunk(2, dim=1)
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(self, x):
        h = self.hidden(x)
        return (x + self.res(h)) * math.sqrt(0.5), self.skip(h)


class BlockNoResidual(_Block):
    """No residual connection: returns self.res(h) without adding the input x."""

    def forward(self, x):
        h = self.hidden(x)
        return self.res(h) * math.sqrt(0.5), self.skip(h)


class BlockCausalRight(_Block):
    """causal=True pads on the RIGHT: each output sees the future instead of the past."""

    def pad(self, x):
        right = self.pad_total if self.causal else self.pad_total - self.pad_total // 2
        return F.pad(x, (self.pad_total - right, right))


class BlockNoDilation(_Block):
    """The dilation is not applied: an ordinary convolution (taps 1 sample apart), padded for kernel_size − 1."""

    def __init__(self, channels, skip_channels, kernel_size, dilation, causal=False):
        super().__init__(channels, skip_channels, kernel_size, dilation, causal)
        self.conv = nn.Conv1d(channels, 2 * channels, kernel_size)
        self.pad_total = kernel_size - 1


class BlockSkipFromResidual(_Block):
    """The skip output is taken from the residual sum instead of from the gated activation h."""

    def __init__(self, channels, skip_channels, kernel_size, dilation, causal=False):
        super().__init__(channels, skip_channels, kernel_size, dilation, causal)

    def forward(self, x):
        h = self.hidden(x)
        res = (x + self.res(h)) * math.sqrt(0.5)
        return res, self.skip(res)


class BlockPadDilationOnly(_Block):
    """Pads `dilation` samples on each side: right for kernel 3 only (kernel 5 shortens the output)."""

    def __init__(self, channels, skip_channels, kernel_size, dilation, causal=False):
        super().__init__(channels, skip_channels, kernel_size, dilation, causal)
        self.dilation = dilation

    def pad(self, x):
        return F.pad(x, (2 * self.dilation, 0) if self.causal else (self.dilation, self.dilation))


# ---------------------------------------------------------------------------------------------------------- 3c


def receptive_field_no_plus_one(kernel_size, layers_per_stack, n_stacks):
    """Forgets the output sample itself (no + 1)."""
    return (kernel_size - 1) * n_stacks * (2**layers_per_stack - 1)


def receptive_field_one_stack(kernel_size, layers_per_stack, n_stacks):
    """Counts only one stack of dilations."""
    return 1 + (kernel_size - 1) * (2**layers_per_stack - 1)


def receptive_field_kernel(kernel_size, layers_per_stack, n_stacks):
    """Multiplies by kernel_size instead of kernel_size − 1."""
    return 1 + kernel_size * n_stacks * (2**layers_per_stack - 1)


def receptive_field_dilations_from_two(kernel_size, layers_per_stack, n_stacks):
    """Dilations 2, 4, …, 2**layers instead of 1, 2, …, 2**(layers − 1)."""
    return 1 + (kernel_size - 1) * n_stacks * sum(2 ** (i + 1) for i in range(layers_per_stack))


# ---------------------------------------------------------------------------------------------------------- 4a


def masked_bce_ignores_mask(logits, labels, mask):
    """The mask is ignored: the mean runs over padding and gaps too."""
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def masked_bce_divides_by_all(logits, labels, mask):
    """Zeroes the invalid samples' losses but divides by ALL samples: the loss shrinks with the padding."""
    per = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    return (per * mask.float()).sum() / mask.numel()


def masked_bce_masks_logits(logits, labels, mask):
    """Multiplies the logits (and labels) by the mask: each invalid sample still costs log 2."""
    m = mask.float()
    return F.binary_cross_entropy_with_logits(logits * m, labels.float() * m)


def masked_bce_sum(logits, labels, mask):
    """Sums over the valid samples instead of averaging."""
    per = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    return (per * mask.float()).sum()


def masked_bce_nan_when_empty(logits, labels, mask):
    """Correct mean over valid samples, but NaN (0/0) when none is valid."""
    per = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    return per[mask].mean()


# ---------------------------------------------------------------------------------------------------------- 5a


def _runs(mask):
    edges = np.diff(np.concatenate([[0], np.asarray(mask).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _event_iou(pred, truth, valid, *, use_valid=True, measure="iou", first=False):
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if use_valid:
        pred, truth = pred & valid, truth & valid
    out = []
    for a0, a1 in _runs(truth):
        best = 0.0
        for b0, b1 in _runs(pred):
            inter = max(0, min(a1, b1) - max(a0, b0))
            if inter:
                value = inter / (a1 - a0) if measure == "recall" else inter / (max(a1, b1) - min(a0, b0))
                best = max(best, value)
                if first:
                    break
        out.append(best)
    return np.array(out)


def event_iou_ignores_valid(pred, truth, valid):
    """IoU computed on all samples: predictions in padding and gaps enlarge the union."""
    return _event_iou(pred, truth, valid, use_valid=False)


def event_iou_recall(pred, truth, valid):
    """Intersection over the TRUE event's length (a recall), not over the union."""
    return _event_iou(pred, truth, valid, measure="recall")


def event_iou_first_match(pred, truth, valid):
    """Takes the first overlapping predicted event instead of the best one."""
    return _event_iou(pred, truth, valid, first=True)


def event_iou_global(pred, truth, valid):
    """One global sample-level IoU repeated for every event instead of a per-event IoU."""
    pred, truth = np.asarray(pred, bool) & valid, np.asarray(truth, bool) & valid
    union = (pred | truth).sum()
    value = (pred & truth).sum() / union if union else 0.0
    return np.full(len(_runs(truth)), value)


# ---------------------------------------------------------------------------------------------------------- 6a


def _check_fpr(fpr):
    if not 0 < fpr < 1:
        raise ValueError(f"fpr must be in (0, 1), got {fpr}")


def recall_at_fpr_wrong_quantile(neg_scores, pos_scores, fpr=0.01):
    """Threshold at the negatives' fpr quantile instead of 1 − fpr (99 % false positives)."""
    _check_fpr(fpr)
    return float(np.mean(np.asarray(pos_scores) > np.quantile(neg_scores, fpr)))


def recall_at_fpr_pooled(neg_scores, pos_scores, fpr=0.01):
    """Threshold from the pooled positive and negative scores."""
    _check_fpr(fpr)
    threshold = np.quantile(np.concatenate([neg_scores, pos_scores]), 1 - fpr)
    return float(np.mean(np.asarray(pos_scores) > threshold))


def recall_at_fpr_returns_fpr(neg_scores, pos_scores, fpr=0.01):
    """Returns the fraction of NEGATIVES above the threshold (the realised FPR), not the recall."""
    _check_fpr(fpr)
    threshold = np.quantile(neg_scores, 1 - fpr)
    return float(np.mean(np.asarray(neg_scores) > threshold))


def recall_at_fpr_no_validation(neg_scores, pos_scores, fpr=0.01):
    """Correct for valid fpr, but accepts fpr = 0 or 1 silently."""
    threshold = np.quantile(neg_scores, 1 - fpr)
    return float(np.mean(np.asarray(pos_scores) > threshold))


MUTANTS = {
    "1a": [in_transit_no_fold, in_transit_full_duration, in_transit_not_centred, in_transit_inclusive],
    "1b": [snr_linear_n, snr_variance, snr_no_validation, snr_python_math],
    "2a": [cut_windows_no_tail, cut_windows_labels_in_gaps, cut_windows_padding_valid, cut_windows_flux_in_gaps],
    "3a": [gated_swapped, gated_time_split, gated_no_gate, gated_same_half],
    "3b": [BlockNoResidual, BlockCausalRight, BlockNoDilation, BlockSkipFromResidual, BlockPadDilationOnly],
    "3c": [receptive_field_no_plus_one, receptive_field_one_stack, receptive_field_kernel,
           receptive_field_dilations_from_two],
    "4a": [masked_bce_ignores_mask, masked_bce_divides_by_all, masked_bce_masks_logits, masked_bce_sum,
           masked_bce_nan_when_empty],
    "5a": [event_iou_ignores_valid, event_iou_recall, event_iou_first_match, event_iou_global],
    "6a": [recall_at_fpr_wrong_quantile, recall_at_fpr_pooled, recall_at_fpr_returns_fpr,
           recall_at_fpr_no_validation],
}
