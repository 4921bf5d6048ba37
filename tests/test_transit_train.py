"""Tests of the transit training recipe: exact resume, LR schedule, SNR curriculum, per-window SNR, window sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from exowavenet_lib.transit.train import (
    _lr_factor,
    inject_transits,
    load_windows,
    save_windows,
    simulated_windows,
    train_detector,
    window_snr,
)

TINY = {"residual_channels": 4, "skip_channels": 4, "n_stacks": 1, "layers_per_stack": 3}


@pytest.fixture(scope="module")
def windows():
    w, snr, params = simulated_windows(12, seed=4, window=128, snr_range=(8.0, 30.0), noise="white",
                                       period_range=(0.5, 1.0))
    return w, snr, params


def test_simulated_windows_control_the_per_window_snr():
    w, snr, params = simulated_windows(16, seed=2, window=256, snr_range=(10.0, 20.0), noise="variable",
                                       period_range=(0.5, 2.0))
    assert len(w) == 16 and w.x.shape == (16, 256)  # one window per light curve
    has = params.has_transit.to_numpy()
    np.testing.assert_array_equal(w.y, has)
    assert np.all(snr[~has] == 0)
    # cleaning may drop an in-transit cadence or two, so the window SNR is at most a little below the simulator's
    np.testing.assert_allclose(snr[has], params.snr[has], rtol=0.15)
    assert np.all((snr[has] > 8.0) & (snr[has] <= 20.0 * 1.001))


def test_window_snr_counts_only_the_in_window_part():
    w, snr, params = simulated_windows(6, seed=1, window=256, stride=256, n_cadences=1024, snr_range=(20.0, 20.0),
                                       transit_fraction=1.0, noise="white", period_range=(1.0, 3.0))
    assert len(w) > 6
    for i in range(6):
        part = snr[w.source == i]
        # SNR adds in quadrature over disjoint windows (each transit cadence in exactly one window here)
        total = params.depth[i] / (params.noise_ppm[i] * 1e-6) * math.sqrt(w.labels[w.source == i].sum())
        assert math.sqrt(np.sum(part**2)) == pytest.approx(total)
        assert np.all(part <= 20.0 * 1.001)
    np.testing.assert_allclose(window_snr(w, params), snr)


def test_simulated_windows_rejects_unknown_noise():
    with pytest.raises(ValueError, match="noise"):
        simulated_windows(2, noise="pink")


def test_validation_records_recall_at_one_percent_fpr(windows):
    w, _, _ = windows
    result = train_detector(w, w, model_config=TINY, epochs=1, batch_size=4, seed=0)
    from exowavenet_lib.transit.injection import recall_at_fpr
    from exowavenet_lib.transit.train import predict_windows

    score, _ = predict_windows(result.model, w)
    assert result.history[0]["val_recall_at_1fpr"] == recall_at_fpr(score[w.y == 0], score[w.y == 1], 0.01)


def test_lr_schedule_warmup_and_cosine():
    assert _lr_factor("constant", 5, 10, 2) == 1.0
    assert _lr_factor("cosine", 0, 100, 10) == pytest.approx(0.1)
    assert _lr_factor("cosine", 10, 100, 10) == pytest.approx(1.0)
    assert _lr_factor("cosine", 55, 100, 10) == pytest.approx(0.51)
    assert _lr_factor("cosine", 100, 100, 10) == pytest.approx(0.02)
    assert _lr_factor("cosine", 20, 100, 10, time_fraction=1.0) == pytest.approx(0.02)  # the clock ran out first


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(windows, tmp_path, monkeypatch):
    import exowavenet_lib.transit.train as train_module

    w, snr, _ = windows
    kwargs = {"model_config": TINY, "epochs": 3, "batch_size": 4, "lr": 3e-3, "lr_schedule": "cosine",
              "warmup_steps": 2, "augment": True, "train_snr": snr, "snr_floor": [15.0, 0.0], "seed": 3}
    full = train_detector(w, w, checkpoint_path=tmp_path / "full.pt", **kwargs)
    # the same run, killed during the evaluation of epoch 2 (its checkpoint holds epoch 1) ...
    evaluate, calls = train_module._evaluate, []

    def crash_on_second(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate(*args, **kw)

    monkeypatch.setattr(train_module, "_evaluate", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        train_detector(w, w, checkpoint_path=tmp_path / "run.pt", **kwargs)
    monkeypatch.setattr(train_module, "_evaluate", evaluate)
    # ... then resumed in a process whose global RNG state is different
    torch.manual_seed(123)
    np.random.seed(123)
    resumed = train_detector(w, w, checkpoint_path=tmp_path / "run.pt", resume=True, **kwargs)
    assert [r["epoch"] for r in resumed.history] == [1.0, 2.0, 3.0]
    assert resumed.best_epoch == full.best_epoch
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    for ra, rb in zip(full.history, resumed.history, strict=True):
        assert {k: v for k, v in ra.items() if k != "seconds"} == {k: v for k, v in rb.items() if k != "seconds"}
    # and training did change the weights (the comparison above is not between two untouched models)
    torch.manual_seed(3)
    untouched = train_module.ExoWaveNet(**TINY)
    assert not torch.equal(untouched.inp.weight, full.model.inp.weight)


def test_epochs_one_schedule_differs_from_three(windows):
    """Guard for the test above: the 1-epoch run's first epoch uses a different LR than the 3-epoch run's."""
    w, snr, _ = windows
    one = train_detector(w, w, model_config=TINY, epochs=1, batch_size=4, lr_schedule="cosine", seed=3)
    three = train_detector(w, w, model_config=TINY, epochs=3, batch_size=4, lr_schedule="cosine", seed=3)
    assert one.history[0]["lr"] < three.history[0]["lr"]


def test_snr_curriculum_leaves_weak_positives_out(windows):
    w, snr, _ = windows
    base = {"model_config": TINY, "epochs": 2, "batch_size": 4, "lr": 1e-2, "seed": 0}
    none_pos = train_detector(w, w, train_snr=snr, snr_floor=1e9, **base)  # sees only negatives
    all_pos = train_detector(w, w, train_snr=snr, snr_floor=0.0, **base)
    assert [r["snr_floor"] for r in none_pos.history] == [1e9, 1e9]
    from exowavenet_lib.transit.train import predict_windows

    s_none, _ = predict_windows(none_pos.model, w)
    s_all, _ = predict_windows(all_pos.model, w)
    assert s_none[w.y == 1].mean() < s_all[w.y == 1].mean()
    with pytest.raises(ValueError, match="train_snr"):
        train_detector(w, w, model_config=TINY, epochs=1, snr_floor=5.0)
    with pytest.raises(ValueError, match="train_snr"):
        train_detector(w, w, model_config=TINY, epochs=1, train_snr=snr[:-1])
    with pytest.raises(ValueError, match="lr_schedule"):
        train_detector(w, w, model_config=TINY, epochs=1, lr_schedule="step")


def test_window_sets_round_trip(windows, tmp_path):
    w, snr, _ = windows
    path = save_windows(tmp_path / "sub" / "w.npz", w, snr=snr)
    back, extra = load_windows(path)
    for k in w.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(back, k), getattr(w, k))
    np.testing.assert_array_equal(extra["snr"], snr)
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left behind
    with pytest.raises(ValueError, match="rows"):
        save_windows(tmp_path / "bad.npz", w, snr=snr[:-1])
    with pytest.raises(ValueError, match="may not be named"):
        save_windows(tmp_path / "bad.npz", w, y=snr)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a window set"):
        load_windows(tmp_path / "other.npz")


def test_inject_transits_adds_a_transit_of_the_requested_snr():
    w, _, _ = simulated_windows(8, seed=6, window=512, noise="white", transit_fraction=0.0)
    inj, snr = inject_transits(w, seed=0, snr_range=(30.0, 30.0), period_range=(1.0, 5.0))
    assert np.all(snr == pytest.approx(30.0)) and np.all(inj.y == 1)
    n_in = inj.labels.sum(axis=1)
    assert np.all(n_in >= 3) and not (inj.labels & ~inj.mask).any()
    near = inj.labels | np.roll(inj.labels, 1, axis=1) | np.roll(inj.labels, -1, axis=1)  # exposure smearing
    np.testing.assert_array_equal(inj.x[~near], w.x[~near])  # nothing changes out of transit ...
    assert np.all(inj.x[~inj.mask] == 0)
    # ... and in transit the flux drops by SNR/√n_in σ at the centre (less at the limb-darkened edges and ramps)
    drop = np.array([(w.x[i] - inj.x[i])[inj.labels[i]].sum() / np.sqrt(n_in[i]) for i in range(len(w))])
    assert np.all((drop > 0.5 * 30.0) & (drop <= 30.0 * 1.001))
    np.testing.assert_array_equal(w.y, 0)  # the input is untouched
    with pytest.raises(ValueError, match="transit-free"):
        inject_transits(inj)
