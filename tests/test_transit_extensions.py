"""Tests of the detector extensions: depth/duration regression heads and masked-span reconstruction pretraining."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from exowavenet_lib.transit.extensions import (
    ReconstructionHead,
    TransitParameterHeads,
    masked_reconstruction_loss,
    masked_span_mask,
    multitask_loss,
    parameter_targets,
    predict_hidden,
    pretrain_masked_reconstruction,
    regression_loss,
    train_multitask,
)
from exowavenet_lib.transit.injection import make_injection_windows
from exowavenet_lib.transit.model import ExoWaveNet, masked_max, masked_mean
from exowavenet_lib.transit.preprocess import Windows, concat_windows
from exowavenet_lib.transit.train import detector_loss, train_detector

TINY = {"residual_channels": 4, "skip_channels": 4, "n_stacks": 1, "layers_per_stack": 3}


def tiny(seed: int = 0, **kw) -> ExoWaveNet:
    torch.manual_seed(seed)
    return ExoWaveNet(**{**TINY, **kw})


@pytest.fixture(scope="module")
def injected():
    """Six windows with a transit, then four without (one table; sources offset to match)."""
    pos, p_pos = make_injection_windows(6, snr=20.0, window=256, seed=1)
    neg, p_neg = make_injection_windows(4, window=256, seed=2)
    neg = dataclasses.replace(neg, source=neg.source + len(p_pos))
    return concat_windows([pos, neg]), pd.concat([p_pos, p_neg], ignore_index=True)


def sine_windows(n: int = 8, length: int = 128, seed: int = 0) -> Windows:
    """Standardised-flux windows of noisy sinusoids (predictable from context) with one gap each."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = 2 * np.sin(2 * np.pi * t / rng.uniform(30, 60, (n, 1)) + rng.uniform(0, 2 * np.pi, (n, 1)))
    x = (x + 0.1 * rng.standard_normal((n, length))).astype(np.float32)
    mask = np.ones((n, length), bool)
    mask[:, 50:60] = False
    x[~mask] = 0.0
    return Windows(x=x, mask=mask, t=np.tile(t, (n, 1)).astype(float), labels=np.zeros((n, length), bool),
                   y=np.zeros(n, np.float32), start_mjd=np.zeros(n), end_mjd=np.zeros(n), source=np.arange(n))


def batch(w: Windows, n_pos: int = 2, n_neg: int = 2):
    index = np.r_[np.flatnonzero(w.y == 1)[:n_pos], np.flatnonzero(w.y == 0)[:n_neg]]
    sub = w.subset(index)
    return (torch.from_numpy(sub.x), torch.from_numpy(sub.mask), torch.from_numpy(sub.y),
            torch.from_numpy(sub.labels))


# ------------------------------------------------------------------------------------------------ multi-task heads
@pytest.mark.parametrize("downsample", [1, 2])
def test_heads_add_parameters_to_the_backbone_outputs(downsample):
    backbone = tiny(downsample=downsample)
    heads = TransitParameterHeads(backbone)
    x, mask = torch.randn(3, 130), torch.ones(3, 130, dtype=torch.bool)
    mask[1, 20:70] = False
    out = heads(x, mask)
    assert out["log_depth"].shape == out["log_duration"].shape == (3,)
    assert out["per_sample"].shape == (3, 130)
    ref = backbone(x, mask)
    torch.testing.assert_close(out["logit"], ref["logit"])  # the wrapper leaves the detector outputs alone
    torch.testing.assert_close(out["per_sample"], ref["per_sample"])
    z, zmask = backbone.features(x, mask)
    expected = heads.regressor(torch.cat([masked_mean(z, zmask), masked_max(z, zmask)], dim=1))
    torch.testing.assert_close(out["log_depth"], expected[:, 0])
    torch.testing.assert_close(out["log_duration"], expected[:, 1])


def test_heads_start_at_the_typical_values():
    heads = TransitParameterHeads(tiny(), depth_init=2e-3, duration_init_hours=4.0)
    torch.testing.assert_close(heads.regressor[-1].bias, torch.tensor([np.log(2e-3), np.log(4.0)]).float())
    with pytest.raises(TypeError, match="model"):
        TransitParameterHeads(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="depth_init"):
        TransitParameterHeads(tiny(), depth_init=0.0)
    with pytest.raises(ValueError, match="hidden"):
        TransitParameterHeads(tiny(), hidden=0)


def test_parameter_targets_are_logs_of_depth_and_duration_in_hours(injected):
    w, params = injected
    tg = parameter_targets(w, params)
    pos = w.y == 1
    np.testing.assert_array_equal(tg.positive, pos)
    np.testing.assert_allclose(tg.log_depth[pos], np.log(params.depth.to_numpy()[w.source[pos]]), rtol=1e-6)
    np.testing.assert_allclose(tg.log_duration[pos], np.log(params.duration_hours.to_numpy()[w.source[pos]]),
                               rtol=1e-6)
    assert np.all(tg.log_depth[~pos] == 0) and np.all(tg.log_duration[~pos] == 0)  # finite, not NaN
    assert tg.log_depth.dtype == np.float32


def test_parameter_targets_validate(injected):
    w, params = injected
    with pytest.raises(ValueError, match="rows"):
        parameter_targets(w, params.iloc[:5])
    with pytest.raises(ValueError, match="duration_hours"):
        parameter_targets(w, params.drop(columns="duration_hours"))
    bad = params.copy()
    bad.loc[w.source[0], "depth"] = 0.0
    with pytest.raises(ValueError, match=r"params\['depth'\].*window 0"):
        parameter_targets(w, bad)
    bad = params.copy()
    bad.loc[w.source[1], "duration_hours"] = np.nan
    with pytest.raises(ValueError, match=r"params\['duration_hours'\].*window 1"):
        parameter_targets(w, bad)
    with pytest.raises(TypeError, match="windows"):
        parameter_targets(w.x, params)
    with pytest.raises(TypeError, match="params"):
        parameter_targets(w, [1, 2])
    # a mapping of arrays works too, and NaN on negatives is fine
    tg = parameter_targets(w, {"depth": params.depth.to_numpy(), "duration_hours": params.duration_hours.to_numpy()})
    assert np.isfinite(tg.log_depth).all()


def test_regression_loss_ignores_negative_windows(injected):
    w, params = injected
    heads = TransitParameterHeads(tiny())
    x, mask, y, labels = batch(w)
    tg = parameter_targets(w, params)
    ld, lt = torch.tensor(tg.log_depth[:2].tolist() + [0.0, 0.0]), torch.tensor(tg.log_duration[:2].tolist() + [0, 0])
    out = heads(x, mask)
    base = multitask_loss(out, y, labels, mask, ld, lt)
    for value in (5.0, -100.0, float("nan")):
        ld2, lt2 = ld.clone(), lt.clone()
        ld2[2:], lt2[3] = value, value
        changed = multitask_loss(out, y, labels, mask, ld2, lt2)
        assert torch.equal(changed, base)
    ld2 = ld.clone()
    ld2[2:] = float("nan")
    heads.zero_grad()
    multitask_loss(heads(x, mask), y, labels, mask, ld2, lt).backward()
    assert all(torch.isfinite(p.grad).all() for p in heads.parameters() if p.grad is not None)
    ld2 = ld.clone()
    ld2[0] += 1.0  # a positive target does count
    assert not torch.equal(multitask_loss(out, y, labels, mask, ld2, lt), base)


def test_multitask_loss_is_the_detector_loss_plus_weighted_regression(injected):
    w, params = injected
    heads = TransitParameterHeads(tiny())
    x, mask, y, labels = batch(w)
    ld, lt = torch.full((4,), -7.0), torch.full((4,), 1.0)
    out = heads(x, mask)
    det = detector_loss(out, y, labels, mask, 0.5)
    reg_d = regression_loss(out, ld, lt, y > 0.5, depth_weight=1.0, duration_weight=0.0)
    reg_t = regression_loss(out, ld, lt, y > 0.5, depth_weight=0.0, duration_weight=1.0)
    total = multitask_loss(out, y, labels, mask, ld, lt, seg_weight=0.5, depth_weight=2.0, duration_weight=3.0)
    torch.testing.assert_close(total, det + 2.0 * reg_d + 3.0 * reg_t)
    diff = out["log_depth"][:2] - ld[:2]  # Huber with delta 1, mean over the two positives
    huber = torch.where(diff.abs() < 1, 0.5 * diff**2, diff.abs() - 0.5)
    torch.testing.assert_close(reg_d, huber.mean())


def test_all_negative_batch_gives_zero_regression_and_finite_gradients(injected):
    w, _ = injected
    heads = TransitParameterHeads(tiny())
    x, mask, y, labels = batch(w, n_pos=0, n_neg=3)
    nan = torch.full((3,), float("nan"))
    out = heads(x, mask)
    loss = multitask_loss(out, y, labels, mask, nan, nan)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, detector_loss(out, y, labels, mask))
    assert float(regression_loss(out, nan, nan, y > 0.5).detach()) == 0.0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in heads.parameters() if p.grad is not None)


def test_regression_gradients_reach_the_backbone(injected):
    w, params = injected
    heads = TransitParameterHeads(tiny())
    x, mask, y, _ = batch(w)
    tg = parameter_targets(w, params)
    out = heads(x, mask)
    regression_loss(out, torch.from_numpy(tg.log_depth[:4]) + 1, torch.from_numpy(tg.log_duration[:4]) + 1,
                    y > 0.5).backward()
    for p in (heads.backbone.inp.weight, heads.backbone.blocks[0].conv.weight, heads.backbone.post.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert heads.backbone.cls[0].weight.grad is None  # the detection head is not on the regression path


def test_train_multitask_overfits_a_tiny_set_and_is_deterministic(injected):
    w, params = injected
    kw = {"model_config": TINY, "epochs": 30, "batch_size": 10, "lr": 1e-2, "seg_weight": 0.0, "seed": 3}
    model, history = train_multitask(w, params, **kw)
    assert len(history) == 30 and set(history[0]) == {"epoch", "loss", "regression_loss"}
    assert history[-1]["regression_loss"] < 0.8 * history[0]["regression_loss"]  # measured ≈ 0.65×
    tg = parameter_targets(w, params)
    with torch.no_grad():
        out = model(torch.from_numpy(w.x), torch.from_numpy(w.mask))
    after = float(regression_loss(out, torch.from_numpy(tg.log_depth), torch.from_numpy(tg.log_duration),
                                  torch.from_numpy(tg.positive)))
    assert after < 0.8 * history[0]["regression_loss"]
    torch.manual_seed(12345)  # the global generator neither matters nor changes
    state = torch.get_rng_state()
    again, history2 = train_multitask(w, params, **kw)
    assert torch.equal(torch.get_rng_state(), state)
    assert history2 == history
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    _, other = train_multitask(w, params, **{**kw, "seed": 4, "epochs": 2})
    assert other[0] != history[0]


def test_train_multitask_validates(injected):
    w, params = injected
    with pytest.raises(ValueError, match="epochs"):
        train_multitask(w, params, model_config=TINY, epochs=0)
    with pytest.raises(TypeError, match="model"):
        train_multitask(w, params, model=tiny(), epochs=1)


# ----------------------------------------------------------------------------------------- masked-span pretraining
def _runs(row: np.ndarray) -> list[int]:
    edges = np.diff(np.r_[0, row.astype(int), 0])
    return list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


@settings(max_examples=40, deadline=None)
@given(batch_size=st.integers(1, 3), length=st.integers(8, 300), span_frac=st.floats(0.01, 0.5),
       fraction=st.floats(0.02, 0.95), seed=st.integers(0, 2**31))
def test_masked_span_mask_hides_about_fraction_in_whole_spans(batch_size, length, span_frac, fraction, seed):
    span = max(1, int(span_frac * length))
    hidden = masked_span_mask((batch_size, length), span, fraction, torch.Generator().manual_seed(seed)).numpy()
    assert hidden.shape == (batch_size, length) and hidden.dtype == bool
    counts = hidden.sum(axis=1)
    assert np.all(counts == counts[0]) and counts[0] % span == 0 and counts[0] >= span
    assert abs(counts[0] / length - fraction) <= span / length + 1e-9
    for row in hidden:  # touching spans merge, so every hidden run is a whole number of spans
        assert all(r % span == 0 for r in _runs(row))


def test_masked_span_mask_is_seeded_and_random():
    a = masked_span_mask((4, 200), 10, 0.2, torch.Generator().manual_seed(1))
    b = masked_span_mask((4, 200), 10, 0.2, torch.Generator().manual_seed(1))
    c = masked_span_mask((4, 200), 10, 0.2, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({tuple(r.tolist()) for r in a}) == 4  # rows differ
    starts = torch.stack([masked_span_mask((1, 100), 5, 0.05, torch.Generator().manual_seed(s))[0]
                          for s in range(200)]).float().argmax(1)
    assert starts.min() <= 5 and starts.max() >= 90  # one span placed anywhere, ends included
    with pytest.raises(TypeError, match="generator"):
        masked_span_mask((2, 50), 5, 0.2, generator=1)


@pytest.mark.parametrize(("args", "match"), [
    (((2, 50), 0, 0.2), "span"), (((2, 50), 51, 0.2), "span"), (((2, 50), 2.5, 0.2), "span"),
    (((2, 50), 5, 0.0), "fraction"), (((2, 50), 5, 1.0), "fraction"), (((2, 50), 5, True), "fraction"),
    (((2, 0), 5, 0.2), "shape"), (((50,), 5, 0.2), "shape"), (((2, 50, 1), 5, 0.2), "shape"),
])
def test_masked_span_mask_validates(args, match):
    with pytest.raises(ValueError, match=match):
        masked_span_mask(*args)


def test_reconstruction_loss_counts_only_hidden_valid_samples():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 40, generator=g), torch.randn(2, 40, generator=g)
    hidden, mask = torch.zeros(2, 40, dtype=torch.bool), torch.ones(2, 40, dtype=torch.bool)
    hidden[:, 10:20] = True
    mask[:, 15:25] = False  # half of the hidden samples were gaps already
    counted = hidden & mask
    loss = masked_reconstruction_loss(pred, target, hidden, mask)
    torch.testing.assert_close(loss, ((pred - target)[counted] ** 2).mean())
    other = target.clone()
    other[~counted] = float("nan")  # visible and hidden-invalid samples do not count
    assert torch.equal(masked_reconstruction_loss(pred, other, hidden, mask), loss)
    p = pred.clone().requires_grad_(True)
    masked_reconstruction_loss(p, other, hidden, mask).backward()
    assert torch.isfinite(p.grad).all() and torch.all(p.grad[~counted] == 0) and torch.all(p.grad[counted] != 0)
    other = target.clone()
    other[0, 12] += 1.0
    assert masked_reconstruction_loss(pred, other, hidden, mask) != loss
    assert float(masked_reconstruction_loss(pred, target, torch.zeros_like(hidden), mask)) == 0.0


@pytest.mark.parametrize("downsample", [1, 2])
def test_predict_hidden_cannot_see_the_hidden_flux(downsample):
    model = tiny(downsample=downsample)
    head = ReconstructionHead(model.config["skip_channels"], model.downsample)
    x, mask = torch.randn(2, 131), torch.ones(2, 131, dtype=torch.bool)
    hidden = masked_span_mask((2, 131), 8, 0.2, torch.Generator().manual_seed(0))
    pred = predict_hidden(model, head, x, mask, hidden)
    assert pred.shape == (2, 131)
    x2 = x.clone()
    x2[hidden] = 50.0
    torch.testing.assert_close(predict_hidden(model, head, x2, mask, hidden), pred)
    x2 = x.clone()
    x2[~hidden] += 1.0
    assert not torch.allclose(predict_hidden(model, head, x2, mask, hidden), pred)
    with pytest.raises(ValueError, match="hidden"):
        predict_hidden(model, head, x, mask, hidden[:, :10])


def test_pretraining_reduces_the_reconstruction_loss_and_keeps_detection_heads():
    w = sine_windows()
    model = tiny(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        head = ReconstructionHead(model.config["skip_channels"])
    x, mask = torch.from_numpy(w.x), torch.from_numpy(w.mask)
    hidden = masked_span_mask(tuple(x.shape), 8, 0.2, torch.Generator().manual_seed(99))

    def loss() -> float:
        with torch.no_grad():
            return float(masked_reconstruction_loss(predict_hidden(model, head, x, mask, hidden), x, hidden, mask))

    before = loss()
    cls, inp = model.cls[0].weight.clone(), model.inp.weight.clone()
    result = pretrain_masked_reconstruction(model, w, epochs=40, batch_size=8, lr=1e-2, span=8, fraction=0.2,
                                            head=head, seed=0)
    assert result.model is model and result.head is head and len(result.history) == 40
    assert loss() < 0.6 * before  # measured ≈ 0.41×
    assert torch.equal(model.cls[0].weight, cls) and not torch.equal(model.inp.weight, inp)
    # the pretrained backbone goes straight into the detector's training loop
    labelled = dataclasses.replace(w, y=(np.arange(len(w)) % 2).astype(np.float32))
    fine = train_detector(labelled, labelled, model=model, epochs=1, batch_size=8)
    assert fine.model is model and len(fine.history) == 1


def test_pretraining_is_deterministic_and_validates():
    w = sine_windows(n=4, length=64)
    kw = {"epochs": 3, "batch_size": 2, "span": 4, "fraction": 0.25, "seed": 5}
    a = pretrain_masked_reconstruction(tiny(2, downsample=2), w, **kw)
    b = pretrain_masked_reconstruction(tiny(2, downsample=2), w, **kw)
    c = pretrain_masked_reconstruction(tiny(2, downsample=2), w, **{**kw, "seed": 6})
    assert a.history == b.history and a.history != c.history
    for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert torch.equal(p, q)
    assert torch.equal(a.head.proj.weight, b.head.proj.weight)
    with pytest.raises(ValueError, match="span"):
        pretrain_masked_reconstruction(tiny(), w, span=65)
    with pytest.raises(ValueError, match="epochs"):
        pretrain_masked_reconstruction(tiny(), w, epochs=0)
    with pytest.raises(TypeError, match="model"):
        pretrain_masked_reconstruction(TransitParameterHeads(tiny()), w)
    with pytest.raises(TypeError, match="windows"):
        pretrain_masked_reconstruction(tiny(), w.x)
    with pytest.raises(TypeError, match="head"):
        pretrain_masked_reconstruction(tiny(), w, epochs=1, head=torch.nn.Conv1d(4, 1, 1))
