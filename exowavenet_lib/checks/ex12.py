"""Checks for notebook 12 — ExoWaveNet, a WaveNet-style transit detector.

Every check builds its own tiny inputs: hand-written time grids and masks, a few short light-curve arrays, random
tensors of a few channels and a few dozen samples, and score lists. The residual block is compared with the
library's :class:`exowavenet_lib.transit.model.ResidualBlock` by loading the same weights into both; each check runs
in milliseconds on a CPU.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from exowavenet_lib.checks._core import CheckFailed, attempt, check, expect, expect_error, outcome, show
from exowavenet_lib.simulate.transits import in_transit_mask, transit_snr
from exowavenet_lib.transit.model import ExoWaveNet
from exowavenet_lib.transit.model import ResidualBlock as _LibraryBlock
from exowavenet_lib.transit.preprocess import KEPLER_CADENCE_DAYS


def _array(value: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception as err:  # noqa: BLE001 - reported to the learner
        raise CheckFailed(f"expected {what} to be an array; got {type(value).__name__}") from err


def _where(mask: np.ndarray) -> str:
    return show(np.flatnonzero(mask).tolist())


def _brief(tensor: Any, digits: int = 4) -> str:
    """A short, rounded, one-line description of a tensor (or whatever it is instead)."""
    if not isinstance(tensor, torch.Tensor):
        return f"a {type(tensor).__name__}: {show(tensor)}"
    values = tensor.detach().flatten()[:6].tolist()
    shown = [round(v, digits) if isinstance(v, float) else v for v in values]
    more = ", …" if tensor.numel() > 6 else ""
    return f"{tuple(tensor.shape)} [{', '.join(map(str, shown))}{more}]"


# ---------------------------------------------------------------------------------------------------------- 1a


@check("12", "1a", hint="Fold the times on the period, centred on a transit: `phase = (t - epoch + period / 2) % "
       "period - period / 2` lies in [-P/2, P/2) and is 0 at every mid-transit (before the epoch too). A sample is "
       "in transit when `np.abs(phase) < duration / 2`: `duration` is the TOTAL duration, first to fourth contact. "
       "Return a boolean array shaped like `t`.")
def q1a(in_transit):
    """in_transit(t, period, epoch, duration): True strictly inside every transit, before and after the epoch."""
    t = np.linspace(-7.0, 13.0, 2001)
    period, epoch, duration = 3.0, 1.2, 0.3
    got = _array(attempt(in_transit, t, period, epoch, duration), "in_transit(...)")
    expect(got.shape == t.shape, f"a mask of shape {t.shape}, one value per time", got.shape)
    expect(got.dtype == bool, "a boolean mask (dtype bool)", str(got.dtype))
    want = in_transit_mask(t, period=period, epoch=epoch, duration=duration)
    transits = np.round((t[want] - epoch) / period)
    found = np.round((t[got] - epoch) / period) if got.any() else np.array([])
    expect(set(np.unique(found)) >= set(np.unique(transits)),
           f"a transit every period P = {period} d, before and after the epoch (transit numbers "
           f"{sorted(set(np.unique(transits).astype(int).tolist()))})",
           f"transits at numbers {sorted(set(np.unique(found).astype(int).tolist()))}")
    width = got.sum() / max(len(np.unique(found)), 1)
    expect(np.array_equal(got, want),
           f"{int(want.sum())} in-transit samples: |t − t_mid| < duration / 2 around every mid-transit "
           f"(duration = {duration} d is the total duration)",
           f"{int(got.sum())} samples (≈ {width:.0f} per transit, want ≈ {want.sum() / len(np.unique(transits)):.0f})")
    edge = _array(in_transit(np.array([0.5 + 0.125, 0.5 + 0.124, 0.5 - 0.126, 2.5]), 2.0, 0.5, 0.25), "the mask")
    expect(edge.tolist() == [False, True, False, True],
           "period 2, epoch 0.5, duration 0.25: t = 0.625 (exactly the egress) out, 0.624 in, 0.374 out, "
           "2.5 (next transit) in", edge.tolist())
    return f"{int(want.sum())} in-transit samples in {len(np.unique(transits))} transits, as the library's mask"


# ---------------------------------------------------------------------------------------------------------- 1b


@check("12", "1b", hint="SNR = depth / sigma × sqrt(n_in_transit): averaging n in-transit points beats the "
       "white noise down by √n, not by n. Use numpy (`np.asarray`, `np.sqrt`) so arrays broadcast, and raise "
       "`ValueError('sigma must be > 0')` when any sigma is ≤ 0.")
def q1b(expected_snr):
    """expected_snr(depth, sigma, n_in_transit) = depth/σ·√n, broadcasting, ValueError for σ ≤ 0."""
    got = attempt(expected_snr, 1e-3, 2e-4, 16)
    want = float(transit_snr(1e-3, 2e-4, 16))
    expect(math.isclose(float(got), want, rel_tol=1e-9),
           f"depth 1000 ppm, σ 200 ppm, 16 in-transit points → 5 × √16 = {want:g}",
           f"{show(got)}" + (" (that is depth/σ × n: the noise averages down as √n)"
                             if math.isclose(float(got), 80.0) else ""))
    depth = np.array([[1e-4], [5e-4]])
    sigma = np.array([1e-4, 2e-4, 4e-4])
    n = np.array([1, 9, 100])
    arr = _array(expected_snr(depth, sigma, n), "expected_snr(arrays)")
    ref = transit_snr(depth, sigma, n)
    expect(arr.shape == ref.shape and np.allclose(arr, ref, rtol=1e-9),
           f"broadcast arrays: depth (2, 1) × sigma, n (3,) → (2, 3) {np.round(ref, 3).tolist()}",
           f"{arr.shape} {show(np.round(arr.astype(float), 3).tolist()) if arr.dtype.kind in 'fiu' else show(arr)}")
    expect(math.isclose(float(expected_snr(1e-3, 1e-3, 0)), 0.0), "0 for no in-transit point",
           show(expected_snr(1e-3, 1e-3, 0)))
    expect_error(ValueError, "sigma = 0", expected_snr, 1e-3, 0.0, 10, mentions="sigma")
    expect_error(ValueError, "a negative sigma", expected_snr, 1e-3, np.array([1e-4, -1e-4]), 10, mentions="sigma")
    return "SNR = depth/σ·√n, broadcasting over arrays, and σ ≤ 0 is refused"


# ---------------------------------------------------------------------------------------------------------- 2a


def _reference_windows(flux, valid, labels, window, stride):
    n = len(flux)
    if n <= window:
        starts = np.zeros(1, dtype=np.int64)
    else:
        starts = np.arange(0, n - window + 1, stride)
        if starts[-1] + window < n:
            starts = np.append(starts, n - window)
    idx = starts[:, None] + np.arange(window)[None, :]
    inside = idx < n
    safe = np.clip(idx, 0, n - 1)
    mask = inside & valid[safe]
    lab = mask & labels[safe]
    x = np.where(mask, flux[safe], 0.0).astype(np.float32)
    return x, mask, lab, lab.any(axis=1).astype(np.float32), starts


def _unpack_windows(result: Any, what: str) -> tuple[np.ndarray, ...]:
    expect(isinstance(result, tuple) and len(result) == 4, f"{what} to return a tuple (x, mask, labels, y)",
           type(result).__name__ + (f" of length {len(result)}" if isinstance(result, tuple) else ""))
    return tuple(_array(r, f"{what}[{i}]") for i, r in enumerate(result))


@check("12", "2a", hint="Starts: `range(0, n - window + 1, stride)`, plus one more window starting at "
       "`n - window` when the last one stops before the end (and a single window at 0 when n <= window). For each "
       "window, sample j < n is inside; `mask = inside & valid`, `x = flux where mask else 0`, `labels = in_transit "
       "& mask` (a transit sample in a gap is not a label) and `y = labels.any(axis=1)` as float32.")
def q2a(cut_windows):
    """cut_windows(flux, valid, in_transit, window, stride) → (x, mask, labels, y), padding and gaps masked."""
    rng = np.random.default_rng(3)
    n = 23
    flux = rng.normal(0, 1, n)
    flux_before = flux.copy()
    valid = np.ones(n, bool)
    valid[[4, 5, 17]] = False
    labels = np.zeros(n, bool)
    labels[[5, 6, 7]] = True  # a transit whose first sample falls in a gap
    labels[[21, 22]] = True  # a transit only the tail window sees
    got = _unpack_windows(attempt(cut_windows, flux, valid, labels, 8, 6), "cut_windows(...)")
    expect(np.array_equal(flux, flux_before), "cut_windows to leave its input flux unchanged", "it was modified")
    want = _reference_windows(flux, valid, labels, 8, 6)
    x, mask, lab, y = got
    expect(x.shape == want[0].shape,
           f"n = {n}, window 8, stride 6: windows starting at {want[4].tolist()} (the last one ends at the final "
           f"sample), so x of shape {want[0].shape}",
           f"x of shape {x.shape}" + (" (no window covers the tail)" if x.shape[0] == len(want[4]) - 1 else ""))
    expect(mask.shape == want[1].shape and mask.dtype == bool and np.array_equal(mask, want[1]),
           f"mask (bool) False exactly at the invalid samples; per window at {[_where(~m) for m in want[1]]}",
           [_where(~np.asarray(m, bool)) for m in mask] if mask.shape == want[1].shape else mask.shape)
    expect(np.allclose(x, want[0], atol=1e-6), "x = the flux where valid and 0 where masked",
           f"{show(np.round(x[0].astype(float), 3).tolist())} in window 0")
    expect(np.array_equal(lab.astype(bool), want[2]),
           f"labels only at valid in-transit samples, per window at {[_where(m) for m in want[2]]} (sample 5 is "
           "in transit but in a gap)", [_where(np.asarray(m, bool)) for m in lab])
    expect(np.allclose(np.asarray(y, float), want[3]), f"y = 1 for a window with a labelled sample: "
           f"{want[3].tolist()}", np.asarray(y).tolist())
    # A light curve shorter than one window: one window, padded and masked at the end.
    short = _unpack_windows(cut_windows(np.array([1.0, -2.0, 3.0]), np.ones(3, bool), np.array([False, True, True]),
                                        5, 2), "cut_windows of 3 samples, window 5")
    sx, smask, slab, sy = short
    expect(sx.shape == (1, 5) and np.allclose(sx, [[1.0, -2.0, 3.0, 0.0, 0.0]]),
           "3 samples, window 5 → one window [[1, -2, 3, 0, 0]] (zero padding)", show(np.asarray(sx).tolist()))
    expect(np.array_equal(smask, [[True, True, True, False, False]]),
           "the padding masked: [[True, True, True, False, False]]", show(np.asarray(smask).tolist()))
    expect(np.array_equal(slab.astype(bool), [[False, True, True, False, False]]) and np.allclose(sy, [1.0]),
           "labels [[False, True, True, False, False]] and y [1.0]",
           f"labels {show(np.asarray(slab).tolist())}, y {show(np.asarray(sy).tolist())}")
    return f"{len(want[4])} windows with the tail covered, gaps and padding masked, labels only where valid"


# ---------------------------------------------------------------------------------------------------------- 3a


@check("12", "3a", hint="Split the channels in two halves: `f, g = h.chunk(2, dim=1)` (dim 1 is the channel axis "
       "of a (batch, channels, length) tensor); return `torch.tanh(f) * torch.sigmoid(g)`: the tanh half is the "
       "'filter' (a signed feature), the sigmoid half the 'gate' (how much of it passes, 0 to 1).")
def q3a(gated_activation):
    """gated_activation(h) = tanh(first half of the channels) · sigmoid(second half), shape (B, C, L)."""
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(2, 6, 8, generator=gen) * 2
    before = h.clone()
    got = attempt(gated_activation, h)
    expect(torch.equal(h, before), "gated_activation to leave its input unchanged", "it was modified in place")
    expect(isinstance(got, torch.Tensor) and got.shape == (2, 3, 8),
           "(2, 6, 8) in → (2, 3, 8) out: the CHANNEL axis (dim 1) is halved, the length kept", _brief(got))
    f, g = h[:, :3], h[:, 3:]
    want = torch.tanh(f) * torch.sigmoid(g)
    if not torch.allclose(got, want, atol=1e-6):
        swapped = torch.allclose(got, torch.sigmoid(f) * torch.tanh(g), atol=1e-6)
        expect(False, f"tanh(first half) · sigmoid(second half) = {_brief(want)}",
               _brief(got) + (" — that is sigmoid(f)·tanh(g): tanh takes the FIRST half" if swapped else ""))
    expect(bool((got.abs() < 1).all()), "values in (-1, 1) (tanh times a gate in (0, 1))", _brief(got))
    return "tanh(filter) · sigmoid(gate) over the two channel halves"


# ---------------------------------------------------------------------------------------------------------- 3b


def _influence(block: nn.Module, channels: int, length: int, at: int) -> list[int]:
    """Input positions whose change alters output position ``at`` (residual and skip outputs)."""
    x = torch.randn(1, channels, length, generator=torch.Generator().manual_seed(1), requires_grad=True)
    res, skip = block(x)
    (res[0, :, at].sum() + skip[0, :, at].sum()).backward()
    grad = x.grad[0].abs().sum(0)
    return torch.nonzero(grad > 1e-9).flatten().tolist()


def _block_pair(ResidualBlock, channels, skip_channels, kernel_size, dilation, causal):  # noqa: N803
    torch.manual_seed(0)
    mine = ResidualBlock(channels, skip_channels, kernel_size, dilation, causal=causal)
    expect(isinstance(mine, nn.Module), "ResidualBlock(...) to be an nn.Module", type(mine).__name__)
    ref = _LibraryBlock(channels, skip_channels, kernel_size, dilation, "gated", causal, 0.0)
    shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in mine.state_dict().items()}
    expect(got == shapes, f"parameters {shapes} (self.conv: Conv1d(channels, 2·channels, kernel_size, "
           "dilation=dilation) without padding, self.res and self.skip: 1×1 convolutions)", got)
    mine.load_state_dict(ref.state_dict())
    return mine.eval(), ref.eval()


@check("12", "3b", hint="In forward: pad the input first — `total = (kernel_size - 1) * dilation`; non-causal: "
       "`F.pad(x, (total // 2, total - total // 2))`; causal: everything on the LEFT, `F.pad(x, (total, 0))`, so "
       "an output never sees the future. Then `h = gated_activation(self.conv(padded))`, and return "
       "`((x + self.res(h)) * math.sqrt(0.5), self.skip(h))`: the residual path adds the block's input back; "
       "the skip output is taken from h, not from the residual sum.")
def q3b(ResidualBlock):  # noqa: N803 - the notebook's class name
    """ResidualBlock: dilated conv, gated activation, residual (x + res)·√½ and skip outputs; causal option."""
    channels, skip_channels, length = 3, 5, 40
    mine, ref = _block_pair(ResidualBlock, channels, skip_channels, 3, 4, False)
    x = torch.randn(2, channels, length, generator=torch.Generator().manual_seed(2))
    before = x.clone()
    out = attempt(mine, x)
    expect(torch.equal(x, before), "the block to leave its input unchanged", "it was modified in place")
    expect(isinstance(out, tuple) and len(out) == 2, "forward to return a tuple (residual, skip)",
           type(out).__name__)
    res, skip = out
    expect(isinstance(res, torch.Tensor) and res.shape == x.shape, f"residual output of the input's shape "
           f"{tuple(x.shape)}", _brief(res))
    expect(isinstance(skip, torch.Tensor) and skip.shape == (2, skip_channels, length),
           f"skip output of shape (2, {skip_channels}, {length})", _brief(skip))
    seen = _influence(mine, channels, length, 20)
    expect(seen == [16, 20, 24], "kernel 3, dilation 4, non-causal: output 20 sees inputs [16, 20, 24] (taps "
           "4 samples apart, centred)", show(seen) + (" — the dilation is not applied" if seen == [19, 20, 21]
                                                      else ""))
    with torch.no_grad():
        want_res, want_skip = ref(x)
        res, skip = mine(x)
    expect(torch.allclose(skip, want_skip, atol=1e-5),
           f"skip = self.skip(tanh·sigmoid of the dilated conv): {_brief(want_skip)}", _brief(skip))
    with torch.no_grad():
        no_res = ref.res(torch.tanh(ref.conv(nn.functional.pad(x, (4, 4)))[:, :channels])
                         * torch.sigmoid(ref.conv(nn.functional.pad(x, (4, 4)))[:, channels:])) * math.sqrt(0.5)
    expect(torch.allclose(res, want_res, atol=1e-5),
           f"residual = (x + self.res(h)) · √½: {_brief(want_res)}",
           _brief(res) + (" — the input x is not added back (no residual connection)"
                          if torch.allclose(res, no_res, atol=1e-5) else ""))
    # Causal: everything on the left.
    mine_c, ref_c = _block_pair(ResidualBlock, channels, skip_channels, 3, 4, True)
    seen = _influence(mine_c, channels, length, 20)
    expect(seen == [12, 16, 20], "causal=True, kernel 3, dilation 4: output 20 sees inputs [12, 16, 20] only "
           "(pad on the LEFT: no future sample)", show(seen))
    with torch.no_grad():
        expect(all(torch.allclose(a, b, atol=1e-5) for a, b in zip(mine_c(x), ref_c(x), strict=True)),
               "the causal outputs of the library's ResidualBlock with the same weights", "different values")
    # Another kernel and dilation: the padding must follow (kernel_size − 1) · dilation.
    mine5, ref5 = _block_pair(ResidualBlock, channels, skip_channels, 5, 3, False)
    seen = _influence(mine5, channels, length, 20)
    expect(seen == [14, 17, 20, 23, 26], "kernel 5, dilation 3: output 20 sees [14, 17, 20, 23, 26]", show(seen))
    with torch.no_grad():
        expect(all(torch.allclose(a, b, atol=1e-5) for a, b in zip(mine5(x), ref5(x), strict=True)),
               "kernel 5, dilation 3: the library ResidualBlock's outputs", "different values")
    return "dilated taps, causal padding on the left, residual and skip outputs match the library's block"


# ---------------------------------------------------------------------------------------------------------- 3c


@check("12", "3c", hint="A kernel of size k with dilation d widens the field by (k − 1)·d. The dilations are "
       "1, 2, 4, …, 2**(layers_per_stack − 1), repeated n_stacks times, and the output sample itself counts once: "
       "`1 + (kernel_size - 1) * n_stacks * (2**layers_per_stack - 1)`.")
def q3c(receptive_field):
    """receptive_field(kernel_size, layers_per_stack, n_stacks) = ExoWaveNet(...).receptive_field."""
    got = attempt(receptive_field, 3, 8, 2)
    want = ExoWaveNet(kernel_size=3, layers_per_stack=8, n_stacks=2, residual_channels=2, skip_channels=2)
    expect(int(got) == want.receptive_field, f"kernel 3, 8 layers per stack, 2 stacks (dilations 1…128 twice) → "
           f"{want.receptive_field} samples", show(got))
    for k, layers, stacks in ((2, 4, 1), (5, 3, 3), (3, 1, 1), (3, 10, 1)):
        model = ExoWaveNet(kernel_size=k, layers_per_stack=layers, n_stacks=stacks, residual_channels=2,
                           skip_channels=2)
        value = receptive_field(k, layers, stacks)
        expect(int(value) == model.receptive_field,
               f"kernel {k}, {layers} layers per stack, {stacks} stack(s) → {model.receptive_field}",
               show(value))
    days = want.receptive_field * KEPLER_CADENCE_DAYS
    return f"{want.receptive_field} samples for the shipped architecture (≈ {days:.1f} d of Kepler long cadence)"


# ---------------------------------------------------------------------------------------------------------- 4a


@check("12", "4a", hint="`per = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction='none')`, "
       "then average over the VALID samples only: `m = mask.float(); (per * m).sum() / m.sum().clamp_min(1.0)` "
       "(a batch with no valid sample gives 0, not NaN). Multiplying the logits by the mask does not remove a "
       "sample: a logit of 0 still costs log 2.")
def q4a(masked_bce):
    """masked_bce(logits, labels, mask): per-sample BCE averaged over valid samples only, 0 when none."""
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 10, generator=gen) * 3
    labels = torch.rand(3, 10, generator=gen) < 0.3
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[0, 6:] = False
    mask[2, :3] = False
    got = attempt(masked_bce, logits, labels, mask)
    per = nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
    want = per[mask].mean()
    expect(isinstance(got, torch.Tensor) and got.dim() == 0, "a scalar tensor (0-dim)", _brief(got))
    hints = {float(per.mean()): " — that is the mean over ALL samples: the mask is ignored",
             float((per * mask).sum() / mask.numel()): " — divided by all samples instead of the valid ones",
             float((per * mask).sum()): " — the sum, not the mean over valid samples"}
    note = next((v for k, v in hints.items() if math.isclose(float(got), k, rel_tol=1e-5)), "")
    expect(math.isclose(float(got), float(want), rel_tol=1e-5),
           f"the BCE averaged over the {int(mask.sum())} valid samples = {float(want):.5f}", f"{float(got):.5f}{note}")
    changed = logits.clone()
    changed[~mask] = 50.0  # invalid samples: anything at all
    expect(math.isclose(float(masked_bce(changed, labels, mask)), float(want), rel_tol=1e-5),
           "invalid samples to have no effect (their logits changed to 50)",
           f"{float(masked_bce(changed, labels, mask)):.5f}")
    leaf = logits.clone().requires_grad_(True)
    masked_bce(leaf, labels, mask).backward()
    expect(leaf.grad is not None and bool((leaf.grad[~mask] == 0).all()),
           "zero gradient at the invalid samples", _brief(None if leaf.grad is None else leaf.grad[~mask]))
    empty, err = outcome(masked_bce, logits, labels, torch.zeros_like(mask))
    expect(err is None and isinstance(empty, torch.Tensor) and float(empty) == 0.0,
           "0 (not NaN) when no sample is valid", "NaN" if err is None and isinstance(empty, torch.Tensor)
           and math.isnan(float(empty)) else (str(err) if err else show(empty)))
    return "the per-sample BCE counts valid samples only (gaps and padding cost nothing)"


# ---------------------------------------------------------------------------------------------------------- 5a


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _reference_iou(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    pred, truth = pred & valid, truth & valid
    out = []
    for a0, a1 in _runs(truth):
        best = 0.0
        for b0, b1 in _runs(pred):
            inter = max(0, min(a1, b1) - max(a0, b0))
            if inter:
                best = max(best, inter / (max(a1, b1) - min(a0, b0)))
        out.append(best)
    return np.array(out)


@check("12", "5a", hint="First `pred & valid` and `truth & valid`. Find the events: maximal runs of True "
       "(`np.diff` of the padded 0/1 array gives +1 at starts and −1 at ends). For each TRUE event, the IoU with "
       "every overlapping predicted event is |A ∩ B| / |A ∪ B| (in samples; for two intervals the union is "
       "max(end) − min(start) when they overlap); keep the best one, 0 when none overlaps. One value per true event.")
def q5a(event_iou):
    """event_iou(pred, truth, valid): best IoU of each true event with a predicted event, on valid samples only."""
    n = 40
    truth = np.zeros(n, bool)
    truth[5:11] = True  # event A: 6 samples
    truth[20:24] = True  # event B: 4 samples
    truth[33:36] = True  # event C: missed
    pred = np.zeros(n, bool)
    pred[3:6] = True  # overlaps A a little (IoU 1/8)
    pred[7:12] = True  # overlaps A more (IoU 4/7): the best match, though not the first
    pred[20:30] = True  # overlaps B, spills into padding 26..29
    valid = np.ones(n, bool)
    valid[26:] = False
    valid[33:36] = True
    valid[28] = True
    got = _array(attempt(event_iou, pred.copy(), truth.copy(), valid.copy()), "event_iou(...)")
    want = _reference_iou(pred, truth, valid)
    expect(got.shape == want.shape, f"one IoU per true event: {len(want)} values", show(got.tolist()))
    expect(np.allclose(got.astype(float), want, atol=1e-9),
           f"IoUs {np.round(want, 4).tolist()} (event A: best of two overlapping predictions, 4/7; event B: the "
           "prediction spills into invalid samples, which do not count: 4/6; event C: missed, 0)",
           show(np.round(got.astype(float), 4).tolist()))
    perfect = _array(event_iou(truth.copy(), truth.copy(), np.ones(n, bool)), "event_iou(truth, truth, ...)")
    expect(np.allclose(perfect.astype(float), 1.0) and len(perfect) == 3, "[1.0, 1.0, 1.0] for a perfect prediction",
           show(perfect.tolist()))
    none = _array(event_iou(pred, np.zeros(n, bool), valid), "event_iou with no true event")
    expect(none.size == 0, "an empty array when there is no true event", show(none.tolist()))
    return "per-event IoU with the best-matching prediction, invalid samples excluded"


# ---------------------------------------------------------------------------------------------------------- 6a


@check("12", "6a", hint="The threshold comes from the NEGATIVES only: `threshold = np.quantile(neg_scores, 1 - "
       "fpr)` leaves a fraction fpr of them above it. Recall is then the fraction of POSITIVES strictly above: "
       "`np.mean(np.asarray(pos_scores) > threshold)`. Raise ValueError naming fpr unless 0 < fpr < 1.")
def q6a(recall_at_fpr):
    """recall_at_fpr(neg_scores, pos_scores, fpr): threshold at the negatives' (1 − fpr) quantile, recall above."""
    rng = np.random.default_rng(6)
    neg = rng.normal(0.0, 1.0, 1000)
    pos = rng.normal(2.5, 1.0, 400)
    got = attempt(recall_at_fpr, neg, pos, 0.01)
    threshold = np.quantile(neg, 0.99)
    want = float(np.mean(pos > threshold))
    notes = {float(np.mean(pos > np.quantile(neg, 0.01))): " (threshold at the 1 % quantile: that is a 99 % FPR)",
             float(np.mean(neg > threshold)): " (that is the false-positive rate, not the recall)",
             float(np.mean(pos > np.quantile(np.concatenate([neg, pos]), 0.99))):
                 " (threshold from all scores pooled: it must come from the negatives only)"}
    note = next((v for k, v in notes.items() if math.isclose(float(got), k, abs_tol=1e-12)), "")
    expect(math.isclose(float(got), want, abs_tol=1e-9),
           f"negatives N(0, 1), positives N(2.5, 1), FPR 1 %: threshold {threshold:.3f}, recall {want:.4f}",
           f"{show(got)}{note}")
    loose = recall_at_fpr(neg, pos, 0.2)
    want_loose = float(np.mean(pos > np.quantile(neg, 0.8)))
    expect(math.isclose(float(loose), want_loose, abs_tol=1e-9), f"fpr 0.2 → recall {want_loose:.4f}", show(loose))
    expect(math.isclose(float(recall_at_fpr(list(neg), list(pos[:3]), 0.05)),
                        float(np.mean(pos[:3] > np.quantile(neg, 0.95))), abs_tol=1e-9),
           "lists to work as well as arrays", show(recall_at_fpr(list(neg), list(pos[:3]), 0.05)))
    for bad in (0.0, 1.0, -0.1):
        expect_error(ValueError, f"fpr={bad}", recall_at_fpr, neg, pos, bad, mentions="fpr")
    return f"recall {want:.3f} at 1 % FPR on the test scores; the threshold comes from the negatives"
