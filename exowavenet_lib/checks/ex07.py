"""Checks for notebook 07 — a Time2Vec transformer for irregular light curves.

Every check builds its own tiny inputs (a few sequences of a few steps, laid out as the curriculum's features
``[t, flux, flux_err, onehot(g), onehot(r)]``) and small models, so each runs in well under a second on a CPU.
Models are compared in ``eval()`` mode with dropout 0, with and without autograd (PyTorch's inference fast path
differs from the autograd path at padded steps, which must not matter).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from exowavenet_lib.checks._core import attempt, check, expect, show

_N_FEATURES = 5  # t, flux, flux_err, band g, band r
_SMALL = {"d_model": 16, "n_heads": 2, "n_layers": 2, "dim_feedforward": 32, "dropout": 0.0, "time2vec_dim": 8}


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _brief(tensor: Any, digits: int = 4) -> str:
    """A short, rounded, one-line description of a tensor (or whatever it is instead)."""
    if not isinstance(tensor, torch.Tensor):
        return f"a {type(tensor).__name__}: {show(tensor)}"
    values = tensor.detach().flatten()[:6].tolist()
    shown = [round(v, digits) if isinstance(v, float) else v for v in values]
    more = ", …" if tensor.numel() > 6 else ""
    return f"{tuple(tensor.shape)} {str(tensor.dtype).replace('torch.', '')} [{', '.join(map(str, shown))}{more}]"


def _close(a: Any, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype
            and bool(torch.allclose(a.detach(), b, atol=atol, rtol=1e-4)))


def _batch(lengths: tuple[int, ...] = (6, 4, 1), seed: int = 0, t0: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded feature batch: irregular increasing times from ``t0``, fluxes, errors and a g/r one-hot."""
    gen = _generator(seed)
    steps = max(lengths)
    x = torch.zeros(len(lengths), steps, _N_FEATURES)
    mask = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    for row, n in enumerate(lengths):
        gaps = torch.rand(n, generator=gen) * 0.08 + 0.005
        gaps[0] = 0.0
        x[row, :n, 0] = t0 + gaps.cumsum(0)
        x[row, :n, 1] = torch.randn(n, generator=gen) * 0.5
        x[row, :n, 2] = torch.rand(n, generator=gen) * 0.1 + 0.02
        band = torch.randint(0, 2, (n,), generator=gen)
        x[row, torch.arange(n), 3 + band] = 1.0
    return x, mask


def _padded(x: torch.Tensor, mask: torch.Tensor, extra: int, fill: float | None = None, seed: int = 1):
    """The batch with ``extra`` more padded steps; padded entries hold zeros or, with ``fill``, random garbage."""
    b, t, f = x.shape
    x2 = torch.cat([x, torch.zeros(b, extra, f)], dim=1)
    mask2 = torch.cat([mask, torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    if fill is not None:
        garbage = (torch.rand(x2.shape, generator=_generator(seed)) - 0.5) * 2 * fill
        x2 = torch.where(mask2.unsqueeze(-1), x2, garbage)
    return x2, mask2


def _model(cls: Callable[..., Any], seed: int = 0, **overrides: Any) -> Any:
    torch.manual_seed(seed)
    model = attempt(cls, _N_FEATURES, 3, **{**_SMALL, **overrides})
    expect(isinstance(model, nn.Module), f"{getattr(cls, '__name__', 'the class')}(...) to be a torch nn.Module",
           type(model).__name__)
    return model.eval()


def _logits(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, *, grad: bool = False,
            method: str = "forward") -> torch.Tensor:
    call = getattr(model, method)
    if grad:
        return call(x, mask).detach()
    with torch.no_grad():
        return call(x, mask)


def _expect_logits(out: Any, shape: tuple[int, ...], what: str) -> None:
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == shape,
           f"{what} to be a tensor of shape {shape}", _brief(out))
    expect(bool(torch.isfinite(out).all()), f"{what} to be finite (NaN appears when a step may attend to nothing: "
           "check the key padding mask and any attention mask)", _brief(out))


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().abs().max())


# ---------------------------------------------------------------------------------------------------------- 1a


def _param(module: nn.Module, name: str, k: int) -> torch.Tensor:
    value = getattr(module, name, None)
    expect(isinstance(value, nn.Parameter),
           f"self.{name} to be an nn.Parameter (learnable) — wrap the tensor in nn.Parameter(...)",
           "no attribute" if value is None else f"a {type(value).__name__}")
    expect(tuple(value.shape) == (k,), f"self.{name} of shape ({k},), one value per output component",
           tuple(value.shape))
    expect(any(p is value for p in module.parameters()), f"self.{name} among the module's parameters()",
           "not registered")
    return value


@check("07", "1a", hint="In __init__: `periods = torch.logspace(math.log10(max_period), math.log10(min_period), "
       "out_features - 1)`, `self.omega = nn.Parameter(torch.cat([torch.ones(1), 2 * math.pi / periods]))`, "
       "`self.phi = nn.Parameter(torch.cat([torch.zeros(1), 2 * math.pi * torch.rand(out_features - 1)]))`. In "
       "forward: squeeze a trailing size-1 axis, then `z = t.unsqueeze(-1) * self.omega + self.phi` (B, T, k) and "
       "`torch.cat([z[..., :1], torch.sin(z[..., 1:])], dim=-1)`: component 0 stays linear, the others go through "
       "sin.")
def q1a(Time2Vec):  # noqa: N803 - the notebook's class name
    """Time2Vec(k): component 0 = ω₀t + φ₀ (linear), components 1..k-1 = sin(ωᵢt + φᵢ); learnable ω, φ."""
    torch.manual_seed(0)
    t2v = attempt(Time2Vec, 6, min_period=0.1, max_period=2.0)
    expect(isinstance(t2v, nn.Module), "Time2Vec(...) to be a torch nn.Module", type(t2v).__name__)
    omega, phi = _param(t2v, "omega", 6), _param(t2v, "phi", 6)
    expect(abs(float(omega[0].detach()) - 1.0) < 1e-6 and abs(float(phi[0].detach())) < 1e-6,
           "the linear component to start as the identity: omega[0] = 1 and phi[0] = 0",
           f"omega[0] = {float(omega[0].detach()):.4g}, phi[0] = {float(phi[0].detach()):.4g}")
    periods = sorted((2 * math.pi / omega[1:].detach()).tolist())
    want = sorted(torch.logspace(math.log10(2.0), math.log10(0.1), 5).tolist())
    expect(all(abs(p - w) < 1e-4 * w for p, w in zip(periods, want, strict=True)),
           f"initial periods 2π/omega[1:] spaced geometrically from max_period to min_period, "
           f"{[round(w, 4) for w in want]} for min_period=0.1, max_period=2.0 (omega holds angular frequencies, "
           "2π / period)", [round(p, 4) for p in periods])
    expect(bool(((phi[1:] >= 0) & (phi[1:] < 2 * math.pi)).all()), "initial phases phi[1:] in [0, 2π)",
           _brief(phi))

    t = torch.tensor([[0.0, 0.13, 0.4, 1.7, 2.05], [0.3, 0.31, 0.9, 1.0, 4.5]])
    out = t2v(t)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 5, 6),
           "Time2Vec(6) of times of shape (2, 5) to have shape (2, 5, 6)", _brief(out))
    out3 = t2v(t.unsqueeze(-1))
    expect(isinstance(out3, torch.Tensor) and tuple(out3.shape) == (2, 5, 6),
           "times of shape (2, 5, 1) to give the same (2, 5, 6) embedding (squeeze the trailing axis)",
           _brief(out3))
    expect(_close(out3, out.detach()), "the same values for t of shape (2, 5, 1) as for (2, 5)", _brief(out3))

    grid = torch.linspace(0.0, 3.0, 13).unsqueeze(0)
    first = t2v(grid)[0, :, 0].detach()
    second_diff = first[2:] - 2 * first[1:-1] + first[:-2]
    expect(float(second_diff.abs().max()) < 1e-5,
           "component 0 linear in t: zero second differences on evenly spaced times", _brief(second_diff))
    expect(_close(first, grid[0] * float(omega[0].detach()) + float(phi[0].detach())),
           "component 0 = omega[0] * t + phi[0] (the identity at initialisation, so equal to t)", _brief(first))
    periodic = t2v(grid).detach()[0, :, 1:]
    expect(float(periodic.abs().max()) <= 1.0 + 1e-6, "components 1..k-1 bounded in [-1, 1] (sinusoids)",
           _brief(periodic))
    for i in range(1, 6):
        period = 2 * math.pi / float(omega[i].detach())
        later = t2v(grid + period).detach()[0, :, i]
        expect(_close(later, periodic[:, i - 1], atol=1e-4),
               f"component {i} periodic with period 2π/omega[{i}] = {period:.4f}: f(t + period) = f(t)",
               f"differences up to {_max_diff(later, periodic[:, i - 1]):.3g}")

    with torch.no_grad():
        omega.copy_(torch.tensor([0.5, 1.0, 2.0, 3.0, 5.0, 7.0]))
        phi.copy_(torch.tensor([0.3, 0.1, 0.2, 1.0, 2.0, 3.0]))
    got = t2v(t).detach()
    z = t.unsqueeze(-1) * omega.detach() + phi.detach()
    expect(_close(got[..., 0], z[..., 0]), "component 0 = omega[0] * t + phi[0] after setting omega and phi",
           _brief(got[..., 0]))
    expect(_close(got[..., 1:], torch.sin(z[..., 1:])),
           "components 1..k-1 = sin(omega_i * t + phi_i) (sin, as in Kazemi et al., not cos)", _brief(got[0, 0]))

    loss = (t2v(t) ** 2).sum()
    loss.backward()
    for name, param in (("omega", omega), ("phi", phi)):
        expect(param.grad is not None and bool((param.grad != 0).all()),
               f"gradients reaching every entry of {name} (all of them are learned)",
               "no gradient" if param.grad is None else _brief(param.grad))
    only_linear = Time2Vec(1)(t)
    expect(isinstance(only_linear, torch.Tensor) and tuple(only_linear.shape) == (2, 5, 1),
           "Time2Vec(1) to give just the linear component, shape (2, 5, 1)", _brief(only_linear))
    return "one linear and k − 1 periodic components with learnable frequencies and phases"


# ---------------------------------------------------------------------------------------------------------- 1b


@check("07", "1b", hint="`self.time2vec = Time2Vec(out_features, **time2vec_kwargs)` and `self.projection = "
       "nn.Linear(out_features, d_model)`; forward returns `self.projection(self.time2vec(t))`. It must use the "
       "times it is given, never the step index.")
def q1b(PositionalTime2Vec):  # noqa: N803 - the notebook's class name
    """PositionalTime2Vec(k, d_model): Linear(Time2Vec(t)) of shape (B, T, d_model) that depends on the times only."""
    torch.manual_seed(0)
    pe = attempt(PositionalTime2Vec, 8, 12, min_period=0.1, max_period=2.0)
    expect(isinstance(pe, nn.Module), "PositionalTime2Vec(...) to be a torch nn.Module", type(pe).__name__)
    t2v, projection = getattr(pe, "time2vec", None), getattr(pe, "projection", None)
    expect(isinstance(t2v, nn.Module), "self.time2vec, the Time2Vec(out_features, ...) module",
           "no attribute time2vec" if t2v is None else type(t2v).__name__)
    expect(isinstance(projection, nn.Linear) and projection.in_features == 8 and projection.out_features == 12,
           "self.projection = nn.Linear(8, 12) for out_features=8, d_model=12",
           "no attribute projection" if projection is None else repr(projection))
    omega = getattr(t2v, "omega", None)
    if isinstance(omega, torch.Tensor) and omega.numel() == 8:
        periods = sorted((2 * math.pi / omega[1:].detach()).tolist())
        expect(abs(periods[0] - 0.1) < 1e-4 and abs(periods[-1] - 2.0) < 1e-3,
               "min_period=0.1 and max_period=2.0 passed on to Time2Vec (**time2vec_kwargs)",
               f"periods from {periods[0]:.4g} to {periods[-1]:.4g}")
    t = torch.tensor([[0.0, 0.21, 0.35, 1.4, 1.41], [0.0, 0.05, 0.9, 2.6, 3.1]])
    out = pe(t)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 5, 12),
           "an embedding of shape (2, 5, 12) for times (2, 5) and d_model=12", _brief(out))
    expect(_close(out.detach(), projection(t2v(t)).detach()), "self.projection(self.time2vec(t))",
           _brief(out[0, 0]))
    expect(_max_diff(out[0, 1], out[1, 1]) > 1e-3,
           "different times at the same step to give different embeddings (t = 0.21 vs 0.05 at step 1)",
           f"equal embeddings at step 1: {_brief(out[0, 1])}")
    order = torch.tensor([3, 0, 4, 1, 2])
    shuffled = pe(t[:, order]).detach()
    expect(_close(shuffled, out.detach()[:, order]),
           "the embedding of a time to be the same whatever step it sits at (it must not use the index)",
           f"differences up to {_max_diff(shuffled, out.detach()[:, order]):.3g} after reordering the times")
    grid = torch.linspace(0.0, 2.0, 9).unsqueeze(0)
    emb = pe(grid).detach()[0]
    curvature = (emb[2:] - 2 * emb[1:-1] + emb[:-2]).abs().max()
    expect(float(curvature) > 1e-3, "an embedding that is not merely linear in t (the periodic components of "
           "Time2Vec must be in it)", f"second differences at most {float(curvature):.2g}")
    pe(t).pow(2).sum().backward()
    grad = getattr(omega, "grad", None)
    expect(grad is not None and bool(grad.abs().sum() > 0),
           "gradients reaching the Time2Vec frequencies through the projection", "no gradient")
    return "a learned, time-based positional encoding of shape (B, T, d_model)"


# ---------------------------------------------------------------------------------------------------------- 2a


@check("07", "2a", hint="Zero the padded steps with `torch.where(mask.unsqueeze(-1), h, 0.0)` (safer than multiplying "
       "by the mask), sum over dim=1, and divide by the number of valid steps, `mask.sum(dim=1, keepdim=True)`, "
       "clamped to at least 1 and cast to h's dtype.")
def q2a(masked_mean):
    """masked_mean(h, mask): the mean of h over the valid steps only, (B, T, D) → (B, D)."""
    gen = _generator(3)
    h = torch.randn(3, 5, 4, generator=gen)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [True, False, False, False, False]])
    h_before, mask_before = h.clone(), mask.clone()
    got = attempt(masked_mean, h, mask)
    want = torch.stack([h[0].mean(0), h[1, :2].mean(0), h[2, 0]])
    expect(h.equal(h_before) and mask.equal(mask_before), "h and mask left unchanged", "they were modified")
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (3, 4), "a (3, 4) tensor for h (3, 5, 4)",
           _brief(got))
    expect(_close(got[0], want[0]), "row 0 (no padding) = the plain mean over its 5 steps", _brief(got[0]))
    expect(_close(got[1], want[1]), "row 1 (2 valid steps) = the mean of h[1, :2]: divide by the number of valid "
           "steps, not by T", f"{_brief(got[1])} instead of {_brief(want[1])}")
    expect(_close(got[2], want[2]), "row 2 (1 valid step) = h[2, 0] itself", f"{_brief(got[2])} instead of "
           f"{_brief(want[2])}")
    garbage = torch.where(mask.unsqueeze(-1), h, torch.full_like(h, 1e4))
    expect(_close(masked_mean(garbage, mask), want), "the same result when padded steps hold large values "
           "(padded steps must not contribute)", _brief(masked_mean(garbage, mask)))
    longer = torch.cat([h, torch.randn(3, 2, 4, generator=gen)], dim=1)
    mask_longer = torch.cat([mask, torch.zeros(3, 2, dtype=torch.bool)], dim=1)
    expect(_close(masked_mean(longer, mask_longer), want), "the same result with two more padded steps",
           _brief(masked_mean(longer, mask_longer)))
    wide = torch.randn(2, 7, 3, dtype=torch.float64, generator=gen)
    wide_mask = torch.arange(7)[None, :] < torch.tensor([[7], [3]])
    out = masked_mean(wide, wide_mask)
    expect(isinstance(out, torch.Tensor) and out.dtype == torch.float64 and _close(out[1], wide[1, :3].mean(0)),
           "float64 in, float64 out, and the right mean for another batch", _brief(out))
    return "padded steps never contribute to the mean"


# ---------------------------------------------------------------------------------------------------------- 2b


class _Recorder:
    """Forward pre-hooks that remember what the model's encoder and time embedding were called with."""

    def __init__(self, model: nn.Module) -> None:
        self.padding_mask: Any = "never called"
        self.times: Any = None
        self.handles = []
        encoder = getattr(model, "encoder", None)
        if isinstance(encoder, nn.Module):
            self.handles.append(encoder.register_forward_pre_hook(self._encoder, with_kwargs=True))
        time_embedding = getattr(model, "time_embedding", None)
        if isinstance(time_embedding, nn.Module):
            self.handles.append(time_embedding.register_forward_pre_hook(self._time))

    def _encoder(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        mask = kwargs.get("src_key_padding_mask", args[2] if len(args) > 2 else None)
        self.padding_mask = mask.detach().clone() if isinstance(mask, torch.Tensor) else mask

    def _time(self, module: nn.Module, args: tuple) -> None:
        self.times = args[0].detach().clone() if args and isinstance(args[0], torch.Tensor) else None

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


@check("07", "2b", hint="Step embedding `h = self.value_embedding(x[..., 1:]) + self.time_embedding(x[..., 0])`, "
       "then `self.encoder(h, mask=attn_mask, src_key_padding_mask=~mask)` — PyTorch's key padding mask is True "
       "where a step must be IGNORED, the opposite of our mask. forward pools with masked_mean(h, mask) (never "
       "h.mean(1) or h[:, -1]: those read padding) and applies self.head.")
def q2b(LightCurveTransformer):  # noqa: N803 - the notebook's class name
    """LightCurveTransformer: Time2Vec step embedding, key padding mask ~mask, masked mean pooling, linear head."""
    model = _model(LightCurveTransformer)
    for name in ("value_embedding", "time_embedding", "encoder", "head"):
        expect(isinstance(getattr(model, name, None), nn.Module), f"a submodule self.{name}",
               f"no attribute {name}" if not hasattr(model, name) else type(getattr(model, name)).__name__)
    x, mask = _batch()
    recorder = _Recorder(model)
    try:
        out = _logits(model, x, mask)
    finally:
        recorder.remove()
    _expect_logits(out, (3, 3), "logits for 3 light curves and 3 classes")
    padding_mask = recorder.padding_mask
    expect(not (isinstance(padding_mask, torch.Tensor) and padding_mask.equal(mask)),
           "src_key_padding_mask=~mask: PyTorch wants True on the steps to IGNORE, our mask is True on valid steps",
           "src_key_padding_mask=mask")
    expect(isinstance(padding_mask, torch.Tensor) and padding_mask.equal(~mask),
           "self.encoder(h, ..., src_key_padding_mask=~mask) so that attention never reads padded steps",
           f"src_key_padding_mask {_brief(padding_mask) if isinstance(padding_mask, torch.Tensor) else padding_mask}")
    times = recorder.times
    if times is not None and times.dim() == 3 and times.shape[-1] == 1:
        times = times.squeeze(-1)
    expect(isinstance(times, torch.Tensor) and times.shape == mask.shape and times[mask].equal(x[..., 0][mask]),
           "self.time_embedding called with the times x[..., 0]", _brief(times))

    grad_out = _logits(model, x, mask, grad=True)
    expect(_close(grad_out, out), "the same logits with and without torch.no_grad() in eval mode",
           f"differences up to {_max_diff(grad_out, out):.3g}")
    for extra, fill, what in ((3, None, "3 more zero-padded steps"),
                              (2, 50.0, "garbage (random values up to ±50) in the padded steps")):
        x2, mask2 = _padded(x, mask, extra, fill)
        for grad in (False, True):
            other = _logits(model, x2, mask2, grad=grad)
            expect(_close(other, out, atol=1e-4), f"the same logits with {what} (padding must not matter)",
                   f"differences up to {_max_diff(other, out) if isinstance(other, torch.Tensor) else other:.3g}")
    alone = _logits(model, x[1:2, :4], mask[1:2, :4])
    expect(_close(alone[0], out[1], atol=1e-4), "a light curve's logits not to depend on the rest of the batch (row 1 "
           "alone, unpadded, gives the same logits)", f"differences up to {_max_diff(alone[0], out[1]):.3g}")
    shifted = x.clone()
    shifted[0, :, 0] = torch.where(mask[0], x[0, :, 0] * 3.0, 0.0)
    expect(_max_diff(_logits(model, shifted, mask)[0], out[0]) > 1e-5,
           "the logits to change when the observation times change (the model must use x[..., 0])", "no change")
    flux = x.clone()
    flux[0, :, 1] = -flux[0, :, 1]
    expect(_max_diff(_logits(model, flux, mask)[0], out[0]) > 1e-5,
           "the logits to change when the fluxes change (the model must use x[..., 1:])", "no change")
    steps = model.encode_steps(x, mask) if hasattr(model, "encode_steps") else None
    expect(isinstance(steps, torch.Tensor) and tuple(steps.shape) == (3, 6, 16),
           "encode_steps(x, mask) to return the per-step encoder output (B, T, d_model) = (3, 6, 16)",
           _brief(steps) if steps is not None else "no method encode_steps")
    valid = mask.unsqueeze(-1)
    pooled = torch.where(valid, steps.detach(), 0.0).sum(1) / mask.sum(1, keepdim=True)
    expect(_close(model.head(pooled).detach(), grad_out, atol=1e-4),
           "forward = self.head(masked mean of encode_steps over the valid steps)",
           f"differences up to {_max_diff(model.head(pooled).detach(), grad_out):.3g}")
    model.train()
    loss = nn.functional.cross_entropy(model(x, mask), torch.tensor([0, 1, 2]))
    loss.backward()
    omega = getattr(getattr(getattr(model.time_embedding, "time2vec", None), "omega", None), "grad", None)
    expect(omega is not None and bool(omega.abs().sum() > 0),
           "a training step to send gradients into the Time2Vec frequencies (time_embedding.time2vec.omega)",
           "no gradient")
    return "padding-invariant logits from a Time2Vec transformer that masks padded keys"


# ---------------------------------------------------------------------------------------------------------- 3a


@check("07", "3a", hint="`out = x.clone()`; per row, `n = mask.sum(1)`, `first = x[:, 0, 0]`, `last = x[rows, n - "
       "1, 0]`, `step = (last - first) / (n - 1).clamp_min(1)`; then `out[..., 0] = torch.where(mask, first[:, None] "
       "+ torch.arange(T) * step[:, None], 0.0)`. Never write into x itself.")
def q3a(regular_times):
    """regular_times(x, mask): a copy of x whose times are evenly spaced from the first to the last valid time."""
    x, mask = _batch(lengths=(5, 3, 1, 2), seed=5, t0=0.25)
    before = x.clone()
    got = attempt(regular_times, x, mask)
    expect(x.equal(before), "x left unchanged (work on x.clone())", "x was modified")
    expect(isinstance(got, torch.Tensor) and got.shape == x.shape and got.dtype == x.dtype,
           f"a float32 tensor of the same shape {tuple(x.shape)}", _brief(got))
    expect(got[..., 1:].equal(x[..., 1:]), "every column but the time x[..., 0] unchanged",
           _brief(got[0, :, 1]))
    for row, n in enumerate((5, 3, 1, 2)):
        first, last = float(x[row, 0, 0]), float(x[row, n - 1, 0])
        want = torch.tensor([first + i * (last - first) / max(n - 1, 1) for i in range(n)])
        expect(_close(got[row, :n, 0], want),
               f"row {row} ({n} valid steps, times {first:.3f} … {last:.3f}): evenly spaced times "
               f"{[round(v, 3) for v in want.tolist()]} — from the first to the last VALID time",
               [round(v, 3) for v in got[row, :n, 0].tolist()])
        expect(bool((got[row, n:, 0] == 0).all()), f"padded steps of row {row} left at time 0",
               got[row, n:, 0].tolist())
    return "evenly spaced times with the same span: what an index-based position encoding assumes"


# ---------------------------------------------------------------------------------------------------------- 4a


@check("07", "4a", hint="`self.embedding = nn.Embedding(n_bands, d_model)`; forward returns `onehot @ "
       "self.embedding.weight`: a one-hot row picks out its band's vector and an all-zero (padded) row gives 0. "
       "Band b is column b of the one-hot, whatever step it is at.")
def q4a(BandEmbedding):  # noqa: N803 - the notebook's class name
    """BandEmbedding(n_bands, d_model): one learnable vector per band, looked up from one-hot columns."""
    torch.manual_seed(0)
    module = attempt(BandEmbedding, 3, 4)
    expect(isinstance(module, nn.Module), "BandEmbedding(...) to be a torch nn.Module", type(module).__name__)
    embedding = getattr(module, "embedding", None)
    expect(isinstance(embedding, nn.Embedding) and tuple(embedding.weight.shape) == (3, 4),
           "self.embedding = nn.Embedding(3, 4) for 3 bands and d_model 4", repr(embedding))
    bands = torch.tensor([[2, 0, 0, 1, 2], [1, 1, 2, 0, 0]])
    onehot = nn.functional.one_hot(bands, 3).float()
    onehot[1, 3:] = 0.0  # two padded steps
    got = module(onehot)
    weight = embedding.weight.detach()
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (2, 5, 4),
           "a (2, 5, 4) tensor for a one-hot (2, 5, 3)", _brief(got))
    for row, col in ((0, 0), (0, 1), (0, 3), (1, 0), (1, 2)):
        band = int(bands[row, col])
        expect(_close(got[row, col].detach(), weight[band]),
               f"step {col} of row {row} (band {band}) to get embedding.weight[{band}], its band's vector — not "
               "a vector chosen by position", f"{_brief(got[row, col])} instead of {_brief(weight[band])}")
    expect(bool((got[1, 3:] == 0).all()), "all-zero (padded) one-hot rows to add nothing (zeros)",
           _brief(got[1, 3:]))
    got.sum().backward()
    grad = embedding.weight.grad
    expect(grad is not None and bool((grad.abs().sum(1) > 0).all()),
           "gradients reaching the vector of every band that occurs", "no gradient" if grad is None else _brief(grad))
    return "each step gets its band's learnable vector; padding gets nothing"


# ---------------------------------------------------------------------------------------------------------- 5a


@check("07", "5a", hint="`torch.ones(n_steps, n_steps, dtype=torch.bool, device=device).triu(diagonal=1)`: True "
       "(blocked) strictly above the diagonal, so row i (the query) may read columns 0..i (the keys) — itself "
       "and the past.")
def q5a(causal_mask):
    """causal_mask(T): bool (T, T), True strictly above the diagonal — step i may attend to steps 0..i only."""
    got = attempt(causal_mask, 4)
    want = torch.tensor([[False, True, True, True], [False, False, True, True], [False, False, False, True],
                         [False, False, False, False]])
    expect(isinstance(got, torch.Tensor) and got.dtype == torch.bool,
           "a bool tensor (True = blocked; a float mask would be ADDED to the attention scores)", _brief(got))
    expect(tuple(got.shape) == (4, 4), "shape (4, 4)", _brief(got))
    expect(not got.equal(want.T), "row i (query) to block the FUTURE columns j > i; this is the transpose "
           "(each step sees the future)", got.int().tolist())
    expect(not got.equal(~want), "True where attention is blocked (the future), not where it is allowed",
           got.int().tolist())
    expect(bool(not got.diagonal().any()), "False on the diagonal: every step attends at least to itself "
           "(otherwise step 0 attends to nothing → NaN)", got.int().tolist())
    expect(got.equal(want), f"True strictly above the diagonal: {want.int().tolist()}", got.int().tolist())
    one = causal_mask(1)
    expect(isinstance(one, torch.Tensor) and one.dtype == torch.bool and one.tolist() == [[False]],
           "causal_mask(1) == [[False]]", _brief(one))
    torch.manual_seed(0)
    attention = nn.MultiheadAttention(4, 1, batch_first=True).eval()
    h = torch.randn(1, 5, 4)
    changed = h.clone()
    changed[0, 3:] += 5.0
    mask5 = causal_mask(5)
    with torch.no_grad():
        a = attention(h, h, h, attn_mask=mask5)[0]
        b = attention(changed, changed, changed, attn_mask=mask5)[0]
    expect(_close(a[0, :3], b[0, :3]), "inside attention, steps 0-2 unaffected by a change at steps 3-4",
           f"differences up to {_max_diff(a[0, :3], b[0, :3]):.3g}")
    return "a causal mask: each step sees itself and the past, never the future"


# ---------------------------------------------------------------------------------------------------------- 5b


@check("07", "5b", hint="Both methods call `self.encode_steps(x, mask, attn_mask=causal_mask(x.shape[1], "
       "x.device))`. forward pools with masked_mean; forward_sequence takes the running mean over valid steps, "
       "`h.masked_fill(~mask[..., None], 0).cumsum(1) / mask.cumsum(1).clamp_min(1)[..., None]`, then self.head.")
def q5b(CausalLightCurveTransformer):  # noqa: N803 - the notebook's class name
    """Causal transformer: step i sees steps ≤ i; forward_sequence(x, mask)[:, i] classifies the first i+1 steps."""
    model = _model(CausalLightCurveTransformer, seed=1)
    x, mask = _batch(lengths=(6, 4, 1), seed=2)
    seq = _logits(model, x, mask, method="forward_sequence")
    _expect_logits(seq, (3, 6, 3), "forward_sequence logits (B, T, n_classes) for 3 light curves of up to 6 steps")
    out = _logits(model, x, mask)
    _expect_logits(out, (3, 3), "forward logits")
    for row, n in enumerate((6, 4, 1)):
        expect(_close(seq[row, n - 1], out[row], atol=1e-4),
               f"forward_sequence at the last valid step of row {row} (step {n - 1}) = forward: by then the whole "
               "light curve has been seen", f"differences up to {_max_diff(seq[row, n - 1], out[row]):.3g}")
    for j in (4, 2):
        later = x.clone()
        later[0, j, 1] += 3.0
        later[0, j, 0] += 0.01
        changed = _logits(model, later, mask, method="forward_sequence")
        expect(_close(changed[0, :j], seq[0, :j], atol=1e-5),
               f"changing step {j} to leave the per-step logits of steps 0..{j - 1} unchanged (no step may see the "
               "future)", f"step logits moved by up to {_max_diff(changed[0, :j], seq[0, :j]):.3g}")
        expect(_max_diff(changed[0, j], seq[0, j]) > 1e-5, f"changing step {j} to change the logits at step {j}",
               "no change")
    for i in range(6):
        prefix = _logits(model, x[:1, : i + 1], mask[:1, : i + 1])
        expect(_close(seq[0, i], prefix[0], atol=1e-4),
               f"forward_sequence at step {i} = forward on the first {i + 1} steps alone (the running mean of the "
               "causal outputs, not the sum nor step i's output alone)",
               f"differences up to {_max_diff(seq[0, i], prefix[0]):.3g}")
    x2, mask2 = _padded(x, mask, 2, fill=20.0)
    seq2 = _logits(model, x2, mask2, method="forward_sequence", grad=True)
    expect(tuple(seq2.shape) == (3, 8, 3) and _close(seq2[:, :6][mask], seq[mask], atol=1e-4),
           "the same per-step logits on valid steps when the batch carries garbage padding", _brief(seq2))
    return "per-step logits that only ever use the past"
