"""Tests of the BLS baseline, the injection-recovery experiment and the detector's ONNX/TorchScript export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from exowavenet_lib.transit import ExoWaveNet, TransitDetector, prepare, segment
from exowavenet_lib.transit.bls import bls_period_grid, bls_search, bls_window_scores
from exowavenet_lib.transit.injection import (
    injection_recovery,
    make_injection_windows,
    plot_injection_recovery,
    recall_at_fpr,
    threshold_at_fpr,
    wilson_interval,
)
from exowavenet_lib.transit.preprocess import concat_windows
from tests.test_transit import CAD, SMALL, tiny_detector
from tests.test_transit import box_lc as _box_lc


def box_lc(n=2000, depth=0.003, rotation=0.004, noise=3e-4, **kwargs):
    """The transit tests' box-transit light curve with this file's defaults (shorter, shallower, noisier)."""
    return _box_lc(n=n, depth=depth, rotation=rotation, noise=noise, **kwargs)


def windows_of(lc, in_tr, window=512):
    flat, m = prepare(lc, in_transit=in_tr)
    return segment(flat, window, window, in_transit=m)


# ------------------------------------------------------------------------------------------------------- BLS
def test_bls_search_recovers_a_box_transit():
    period, epoch, duration, depth = 3.3, 0.7, 0.25, 0.003
    lc, _ = box_lc(period=period, epoch=epoch, duration=duration, depth=depth)
    res = bls_search(lc, period_range=(1.0, 8.0), frequency_factor=2.0)
    assert res["period"] == pytest.approx(period, rel=0.005)
    t_mid = 55000.0 + epoch
    offset = (res["t0"] - t_mid + 0.5 * period) % period - 0.5 * period
    assert abs(offset) < 2 * CAD
    assert abs(res["duration"] - duration) <= 2.5 * CAD
    assert res["depth"] == pytest.approx(depth, rel=0.15)
    n_in = 2000 * duration / period
    assert res["snr"] == pytest.approx(depth / 3e-4 * np.sqrt(n_in), rel=0.25)  # astro-facts' SNR
    assert res["power"] == res["snr"] and res["n_periods"] > 100


def test_window_scores_are_higher_with_a_transit():
    noise = concat_windows([windows_of(*box_lc(depth=1e-9, seed=s)) for s in range(2)])
    transit = windows_of(*box_lc(depth=0.0015, seed=5))  # ≈ 5 transits × 12 cadences per window: SNR ≈ 39
    assert transit.y.all() and len(noise) == 8
    s_noise = bls_window_scores(noise, frequency_factor=2.0)
    s_transit = bls_window_scores(transit, frequency_factor=2.0)
    assert s_noise.shape == (8,) and np.all(s_noise > 0)
    assert s_transit.min() > s_noise.max() + 3
    likelihood = bls_window_scores(transit, frequency_factor=2.0, objective="likelihood")
    assert np.all(likelihood > bls_window_scores(noise, frequency_factor=2.0, objective="likelihood").max())


def test_window_scores_ignore_masked_samples():
    w = windows_of(*box_lc(depth=0.0015, seed=5))
    base = bls_window_scores(w, frequency_factor=2.0)
    # garbage (deep fake dips) where the mask says invalid changes nothing
    gappy = w.subset(slice(None))
    gappy.mask = w.mask.copy()
    gappy.mask[:, 100:160] = False
    garbage = gappy.subset(slice(None))
    garbage.x = np.where(gappy.mask, w.x, -15.0).astype(np.float32)
    np.testing.assert_allclose(bls_window_scores(garbage, frequency_factor=2.0),
                               bls_window_scores(gappy, frequency_factor=2.0))
    # masking the in-transit samples leaves only noise
    blind = w.subset(slice(None))
    blind.mask = w.mask & ~w.labels
    assert np.all(bls_window_scores(blind, frequency_factor=2.0) < base - 10)
    # a window with (almost) nothing valid scores 0
    empty = w.subset(np.array([0]))
    empty.mask = np.zeros_like(empty.mask)
    assert bls_window_scores(empty)[0] == 0.0


def test_bls_rejects_bad_arguments():
    lc, in_tr = box_lc(n=600)
    w = windows_of(lc, in_tr)
    with pytest.raises(TypeError, match="windows"):
        bls_window_scores(w.x)
    with pytest.raises(ValueError, match="objective"):
        bls_window_scores(w, objective="chi2")
    with pytest.raises(ValueError, match="durations"):
        bls_window_scores(w, durations=[0.1, -0.1])
    with pytest.raises(ValueError, match="durations"):
        bls_window_scores(w, durations=[0.6])  # not shorter than minimum_period
    with pytest.raises(ValueError, match="cadence_days"):
        bls_window_scores(w, cadence_days=0.0)
    with pytest.raises(ValueError, match="oversample"):
        bls_window_scores(w, oversample=0)
    with pytest.raises(ValueError, match="minimum_period"):
        bls_window_scores(w, minimum_period=20.0, durations=[0.1])
    with pytest.raises(TypeError, match="lc"):
        bls_search(w)
    with pytest.raises(ValueError, match="period_range"):
        bls_search(lc, period_range=(5.0, 1.0))
    with pytest.raises(ValueError, match="minimum_n_transit"):
        bls_search(lc, minimum_n_transit=0)
    with pytest.raises(ValueError, match="frequency_factor"):
        bls_period_grid(10.0, 0.5, 5.0, 0.02, frequency_factor=-1.0)


def test_period_grid_is_log_uniform_with_bounded_drift():
    grid = bls_period_grid(20.0, 0.5, 20.0, 0.04)
    assert grid[0] == pytest.approx(0.5) and grid[-1] == pytest.approx(20.0)
    step = np.diff(np.log(grid))
    np.testing.assert_allclose(step, step[0])
    assert 20.0 * step[0] <= 0.04  # transits at the ends of the span drift by at most one shortest duration


# ------------------------------------------------------------------------------------------------------- recall
def test_recall_at_fpr_on_hand_made_scores():
    neg = np.arange(100.0)
    assert threshold_at_fpr(neg, 0.01) == 98.0  # one negative (99) may score above
    assert recall_at_fpr(neg, [97.0, 98.0, 99.0, 100.0], 0.01) == 0.5  # ties with the threshold are misses
    assert threshold_at_fpr(neg, 0.05) == 94.0
    assert recall_at_fpr(neg[::-1], [95.0, 94.0], 0.05) == 0.5  # order of the negatives does not matter
    assert threshold_at_fpr([3.0], 0.01) == 3.0


def test_perfect_and_useless_scorers():
    rng = np.random.default_rng(0)
    neg = rng.normal(size=20_000)
    assert recall_at_fpr(neg, neg.max() + rng.random(50) + 1e-3) == 1.0
    assert recall_at_fpr(np.zeros(500), np.zeros(50)) == 0.0  # constant score
    useless = recall_at_fpr(neg, rng.normal(size=20_000), 0.01)
    assert abs(useless - 0.01) < 0.004  # a scorer blind to the class recalls about its FPR


@settings(max_examples=40, deadline=None)
@given(neg=st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=200),
       pos=st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=50),
       fpr=st.floats(0.001, 0.5), shift=st.integers(-100, 100))
def test_recall_properties(neg, pos, fpr, shift):
    neg, pos = np.array(neg, dtype=float), np.array(pos, dtype=float)  # integers: exact ties, exact shifts
    r = recall_at_fpr(neg, pos, fpr)
    assert 0.0 <= r <= 1.0
    assert np.mean(neg > threshold_at_fpr(neg, fpr)) <= fpr + 1e-12  # the achieved FPR never exceeds the target
    assert recall_at_fpr(neg, pos, min(0.99, 2 * fpr)) >= r  # a looser FPR never loses recall
    assert recall_at_fpr(neg + shift, pos + shift, fpr) == r  # only ranks matter
    assert recall_at_fpr(2 * neg, 2 * pos, fpr) == r


def test_recall_rejects_bad_arguments():
    with pytest.raises(ValueError, match="fpr"):
        recall_at_fpr([1.0, 2.0], [3.0], fpr=0.0)
    with pytest.raises(ValueError, match="fpr"):
        recall_at_fpr([1.0, 2.0], [3.0], fpr=1.0)
    with pytest.raises(ValueError, match="neg_scores"):
        recall_at_fpr([], [3.0])
    with pytest.raises(ValueError, match="pos_scores"):
        recall_at_fpr([1.0], [np.nan])
    with pytest.raises(TypeError, match="neg_scores"):
        recall_at_fpr(["a"], [1.0])


def test_wilson_interval():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


# ------------------------------------------------------------------------------------------------------- injection
def test_injection_windows_carry_the_requested_window_snr():
    w, params = make_injection_windows(6, noise="variable", snr=12.0, window=256, seed=3)
    assert len(w) == 6 and w.x.shape == (6, 256) and w.y.all()
    np.testing.assert_allclose(params["snr"], 12.0)
    np.testing.assert_allclose(params["snr_window"], 12.0, rtol=0.1)  # the SNR inside the scored window
    neg, neg_params = make_injection_windows(4, noise="white", window=256, seed=3)
    assert not neg.y.any() and not neg_params.has_transit.any() and (neg_params.snr_window == 0).all()
    with pytest.raises(ValueError, match="noise"):
        make_injection_windows(2, noise="pink")
    with pytest.raises(ValueError, match="snr"):
        make_injection_windows(2, snr=-1.0)
    with pytest.raises(ValueError, match="window"):
        make_injection_windows(2, window=16)


def test_bls_recall_rises_with_snr_in_white_noise():
    det = tiny_detector(window=256, stride=256)
    df, raw = injection_recovery(det, snr_values=[4.0, 10.0, 25.0], n_per_snr=24, n_negatives=100, noise="white",
                                 window=256, seed=1, return_scores=True,
                                 bls_kwargs={"frequency_factor": 2.0})
    assert list(df.columns[:7]) == ["method", "noise", "snr", "recall", "fpr", "threshold", "n"]
    assert set(df.method) == {"ExoWaveNet", "BLS"} and (df.noise == "white").all() and (df.n == 24).all()
    assert (df.fpr <= 0.01).all() and (df.n_negatives == 100).all()
    assert raw["BLS"]["positives"].shape == (3, 24) and raw["ExoWaveNet"]["negatives"].shape == (100,)
    np.testing.assert_allclose(df.snr_window_median, df.snr, rtol=0.1)
    bls = df[df.method == "BLS"].set_index("snr").recall
    assert bls[25.0] >= 0.9 and bls[4.0] <= 0.5
    assert bls[25.0] >= bls[10.0] - 0.05 and bls[10.0] >= bls[4.0] - 0.05
    assert ((df.recall_low <= df.recall) & (df.recall <= df.recall_high)).all()
    ax = plot_injection_recovery(df)
    assert "SNR" in ax.get_xlabel() and "recall" in ax.get_ylabel() and len(ax.get_legend().get_texts()) == 2
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_injection_recovery_rejects_bad_arguments():
    det = tiny_detector()
    with pytest.raises(TypeError, match="detector"):
        injection_recovery(det.model, snr_values=[10.0], n_per_snr=2)
    with pytest.raises(ValueError, match="noise"):
        injection_recovery(det, snr_values=[10.0], n_per_snr=2, noise="red")
    with pytest.raises(ValueError, match="snr_values"):
        injection_recovery(det, snr_values=[], n_per_snr=2)
    with pytest.raises(ValueError, match="snr_values"):
        injection_recovery(det, snr_values=[0.0], n_per_snr=2)
    with pytest.raises(ValueError, match="n_per_snr"):
        injection_recovery(det, snr_values=[10.0], n_per_snr=0)
    with pytest.raises(ValueError, match="fpr"):
        injection_recovery(det, snr_values=[10.0], n_per_snr=2, fpr=2.0)
    with pytest.raises(ValueError, match="lacks column"):
        plot_injection_recovery(pd.DataFrame({"snr": [1.0]}))


# ------------------------------------------------------------------------------------------------------- export
def _random_windows(batch, length, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, generator=g)
    mask = torch.rand(batch, length, generator=g) > 0.1
    mask[0, length // 3:] = False  # a long gap / padding
    return x, mask


@pytest.mark.parametrize("shipped", [True, False])
def test_torchscript_and_onnx_match_eager(tmp_path, shipped):
    import onnxruntime as ort

    # the shipped model folds (fixed length); a model without fold pooling exports with a dynamic length
    det = TransitDetector.from_pretrained() if shipped else tiny_detector()
    ts_path = det.export_torchscript(tmp_path / "det.ts", window=512)
    onnx_path = det.export_onnx(tmp_path / "det.onnx", window=512)
    assert ts_path.is_file() and onnx_path.is_file()
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    traced = torch.jit.load(str(ts_path))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logit", "per_sample"]
    if shipped:
        assert det.model.fold is not None
        x, mask = _random_windows(2, 700, 1)
        with pytest.raises(RuntimeError):
            traced(x, mask)
        with pytest.raises(Exception, match="(?i)dimension|shape"):
            session.run(None, {"x": x.numpy(), "mask": mask.numpy()})
    for batch, length, seed in ((2, 512, 0), (5, 512 if shipped else 700, 1)):  # another batch (and length)
        x, mask = _random_windows(batch, length, seed)
        with torch.no_grad():
            eager = det.model(x, mask)
            ts_logit, ts_per = traced(x, mask)
        onnx_logit, onnx_per = session.run(None, {"x": x.numpy(), "mask": mask.numpy()})
        for got_logit, got_per in ((ts_logit.numpy(), ts_per.numpy()), (onnx_logit, onnx_per)):
            np.testing.assert_allclose(got_logit, eager["logit"].numpy(), rtol=0, atol=1e-5)
            np.testing.assert_allclose(got_per, eager["per_sample"].numpy(), rtol=0, atol=1e-5)


def test_export_of_a_classification_only_model(tmp_path):
    torch.manual_seed(0)
    det = TransitDetector(ExoWaveNet(**SMALL, head="classification"))
    traced = torch.jit.load(str(det.export_torchscript(tmp_path / "cls.pt", window=64)))
    x, mask = _random_windows(3, 64, 2)
    with torch.no_grad():
        (logit,) = traced(x, mask)
        np.testing.assert_allclose(logit.numpy(), det.model(x, mask)["logit"].numpy(), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="window"):
        det.export_torchscript(tmp_path / "bad.pt", window=0)
