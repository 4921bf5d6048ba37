"""Tests of exowavenet_lib.transit: loaders, preprocessing, ExoWaveNet, training loop, detector, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from exowavenet_lib.lightcurves import LightCurve
from exowavenet_lib.simulate.transits import simulate_transits
from exowavenet_lib.transit import (
    ExoWaveNet,
    TransitDetector,
    bkjd,
    clean,
    concat_windows,
    detrend,
    load_csv,
    load_kepler_fits,
    load_lightcurve,
    load_npz,
    normalize,
    prepare,
    segment,
    train_detector,
    windows_around,
)
from exowavenet_lib.transit.model import FoldPooling, fold_index, masked_max, masked_mean
from exowavenet_lib.transit.preprocess import KEPLER_CADENCE_DAYS

CAD = KEPLER_CADENCE_DAYS
SMALL = {"residual_channels": 8, "skip_channels": 8, "n_stacks": 1, "layers_per_stack": 4}


# ------------------------------------------------------------------------------------------------------- fixtures
def write_kepler_fits(path, n=2000, kepler_id=11446443, bad_quality=(5, 6, 7), nan_rows=(10, 11), seed=0,
                      extname="LIGHTCURVE", columns=("TIME", "PDCSAP_FLUX", "PDCSAP_FLUX_ERR", "SAP_QUALITY"),
                      all_flagged=False):
    """A small Kepler *_llc.fits in the real layout: primary header with KEPLERID, BinTableHDU LIGHTCURVE."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    time = 131.51 + CAD * np.arange(n)
    flux = 1.5e5 * (1 + 1e-4 * rng.standard_normal(n))
    err = np.full(n, 15.0)
    quality = np.zeros(n, dtype=np.int32)
    quality[list(bad_quality)] = 1024
    if all_flagged:
        quality[:] = 1
    time[list(nan_rows[:1])] = np.nan
    flux[list(nan_rows)] = np.nan
    data = {"TIME": time, "PDCSAP_FLUX": flux, "PDCSAP_FLUX_ERR": err, "SAP_QUALITY": quality}
    formats = {"TIME": "D", "PDCSAP_FLUX": "E", "PDCSAP_FLUX_ERR": "E", "SAP_QUALITY": "J"}
    cols = [fits.Column(name=c, format=formats[c], array=data[c]) for c in columns]
    primary = fits.PrimaryHDU()
    if kepler_id is not None:
        primary.header["KEPLERID"] = kepler_id
    primary.header["OBJECT"] = f"KIC {kepler_id}" if kepler_id else "my star"
    table = fits.BinTableHDU.from_columns(cols, name=extname)
    fits.HDUList([primary, table]).writeto(path, overwrite=True)
    return time, flux.astype(np.float32)


@pytest.fixture
def fits_file(tmp_path):
    path = tmp_path / "kplr011446443-2009166043257_llc.fits"
    time, flux = write_kepler_fits(path)
    return path, time, flux


def box_lc(n=4000, depth=0.004, period=3.3, epoch=0.7, duration=0.25, rotation=0.005, noise=2e-4, seed=0,
           t0=55000.0):
    rng = np.random.default_rng(seed)
    t = t0 + CAD * np.arange(n)
    in_tr = np.abs((t - t0 - epoch + 0.5 * period) % period - 0.5 * period) < 0.5 * duration
    flux = (1 + rotation * np.sin(2 * np.pi * (t - t0) / 7.0)) * np.where(in_tr, 1 - depth, 1.0)
    flux = flux + noise * rng.standard_normal(n)
    return LightCurve(t, flux, np.full(n, noise), "kepler"), in_tr


def tiny_detector(**kwargs):
    torch.manual_seed(0)
    return TransitDetector(ExoWaveNet(**SMALL), **kwargs)


# ------------------------------------------------------------------------------------------------------- io
def test_kepler_fits_round_trip(fits_file):
    path, time, flux = fits_file
    lc = load_kepler_fits(path)
    good = np.ones(len(time), bool)
    good[[5, 6, 7, 10, 11]] = False
    assert len(lc) == good.sum()
    np.testing.assert_allclose(lc.mjd, time[good] + 54832.5)
    np.testing.assert_allclose(bkjd(lc), time[good], atol=1e-6)
    np.testing.assert_allclose(lc.flux, flux[good])
    assert lc.bands == ("kepler",)
    assert lc.meta["flux_unit"] == "e-/s" and lc.meta["time_system"] == "MJD" and lc.meta["bkjd_offset"] == 54832.5
    assert lc.meta["object_id"] == "KIC 11446443" and lc.meta["kepler_id"] == 11446443
    assert lc.meta["n_dropped_quality"] == 3 and lc.meta["n_dropped_nan"] == 2
    assert load_lightcurve(path) == lc


def test_kepler_fits_object_fallback_and_bad_files(tmp_path):
    p = tmp_path / "obj.fits"
    write_kepler_fits(p, n=50, kepler_id=None)
    assert load_kepler_fits(p).meta["object_id"] == "my star"
    p = tmp_path / "noext.fits"
    write_kepler_fits(p, n=50, extname="OTHER")
    with pytest.raises(ValueError, match="LIGHTCURVE"):
        load_kepler_fits(p)
    p = tmp_path / "nocol.fits"
    write_kepler_fits(p, n=50, columns=("TIME", "PDCSAP_FLUX", "SAP_QUALITY"))
    with pytest.raises(ValueError, match="PDCSAP_FLUX_ERR"):
        load_kepler_fits(p)
    p = tmp_path / "flagged.fits"
    write_kepler_fits(p, n=50, all_flagged=True)
    with pytest.raises(ValueError, match="no good cadences"):
        load_kepler_fits(p)
    with pytest.raises(ValueError, match="unknown light-curve format"):
        load_lightcurve(tmp_path / "x.txt")


def test_csv_and_npz_loaders(tmp_path):
    t = 55000 + CAD * np.arange(100)
    f = 1 + 1e-3 * np.random.default_rng(1).standard_normal(100)
    pd.DataFrame({"time": t, "flux": f}).to_csv(tmp_path / "a.csv", index=False)
    lc = load_csv(tmp_path / "a.csv")
    np.testing.assert_allclose(lc.mjd, t)
    assert np.all(lc.flux_err > 0) and np.ptp(lc.flux_err) == 0  # estimated from the scatter
    f2 = f.copy()
    f2[3] = np.nan
    np.savez(tmp_path / "b.npz", mjd=t, flux=f2, flux_err=np.full(100, 1e-3))
    lc2 = load_lightcurve(tmp_path / "b.npz")
    assert len(lc2) == 99 and np.all(lc2.flux_err == 1e-3)
    assert load_npz(tmp_path / "b.npz") == lc2
    pd.DataFrame({"t": t, "flux": f}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="mjd"):
        load_csv(tmp_path / "bad.csv")


# ------------------------------------------------------------------------------------------------------- preprocess
@pytest.mark.parametrize(("method", "rotation"), [("polynomial", 0.01), ("polynomial", 0.002), ("median", 0.002)])
def test_detrend_preserves_transit_depth(method, rotation):
    depth = 0.004
    lc, in_tr = box_lc(depth=depth, rotation=rotation)
    flat = detrend(normalize(lc), method=method, window_days=1.5)
    f = flat.flux
    measured = np.median(f[~in_tr]) - np.mean(f[in_tr])
    assert abs(measured - depth) < 0.1 * depth
    assert np.std(f[~in_tr]) < 3 * 2e-4  # the rotation (1 %) is gone


def test_clean_clips_only_positive_outliers():
    lc, in_tr = box_lc(rotation=0.0)
    f = np.array(lc.flux)
    f[[100, 2000]] += 0.01
    spiky = LightCurve(lc.mjd, f, lc.flux_err, "kepler")
    out = clean(spiky)
    assert len(out) == len(lc) - 2
    assert np.isin(lc.mjd[in_tr], out.mjd).all()


def test_segment_shapes_gaps_and_labels():
    lc, in_tr = box_lc(n=3000)
    keep = np.ones(len(lc), bool)
    keep[1200:1300] = False  # a gap
    lc, in_tr = lc[keep], in_tr[keep]
    flat, m = prepare(lc, in_transit=in_tr)
    w = segment(flat, 1024, 512, in_transit=m)
    assert len(w) == 5  # starts 0, 512, 1024, 1536 and a last one ending at the final cadence
    assert w.x.shape == w.mask.shape == w.labels.shape == w.t.shape == (5, 1024) and w.x.dtype == np.float32
    assert not w.mask[0, 1200 - 0:1300].any() and not w.mask[1, 1200 - 512:1300 - 512].any()
    assert np.all(w.x[~w.mask] == 0)
    assert w.labels.sum() > 0 and np.all(w.y == w.labels.any(axis=1))
    np.testing.assert_allclose(np.diff(w.t[0]), CAD)
    assert w.end_mjd[-1] == pytest.approx(flat.mjd[-1], abs=CAD / 2)
    # labels come from the mask: a window with no in-transit sample is negative
    none = segment(flat, 1024, 512, in_transit=np.zeros(len(flat), bool))
    assert none.y.sum() == 0
    # shorter than a window: one padded window
    short = segment(flat[:300], 1024, 512)
    assert len(short) == 1 and short.mask[0, :300].all() and not short.mask[0, 300:].any()
    both = concat_windows([w, short])
    assert len(both) == 6 and both.subset(np.array([5])).mask.sum() == 300


def test_labels_from_simulator_masks():
    sim = simulate_transits(2, seed=3, transit_fraction=1.0, snr_range=(20, 30))
    lc, mask = sim.lightcurves[0], sim.masks[0]
    flat, m = prepare(lc, in_transit=mask)
    assert m.sum() >= mask.sum() - 5  # transits survive cleaning
    w = segment(flat, 512, 256, in_transit=m)
    assert w.labels.sum() == pytest.approx(m.sum(), abs=2 * m.sum())  # overlapping windows count samples twice
    assert w.y.max() == 1


def test_windows_around_centres_epochs():
    lc, _ = box_lc(n=2000)
    epochs = [lc.mjd[0] + 1.0, lc.mjd[1000], lc.mjd[-1]]
    w = windows_around(lc, epochs, window=128)
    assert w.x.shape == (3, 128)
    np.testing.assert_allclose(w.t[:, 64], epochs, atol=CAD / 2)
    assert not w.mask[2, 65:].any()  # beyond the end


# ------------------------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("head", ["both", "classification", "segmentation"])
@pytest.mark.parametrize("activation", ["gated", "relu"])
def test_model_output_shapes(head, activation):
    model = ExoWaveNet(**SMALL, head=head, activation=activation, attention_pooling=activation == "relu")
    x, mask = torch.randn(3, 200), torch.ones(3, 200, dtype=torch.bool)
    out = model(x, mask)
    assert ("logit" in out) == (head != "segmentation") and ("per_sample" in out) == (head != "classification")
    if "logit" in out:
        assert out["logit"].shape == (3,)
    if "per_sample" in out:
        assert out["per_sample"].shape == (3, 200)
    assert model(torch.randn(2, 2, 50), torch.ones(2, 50, dtype=torch.bool))[
        "logit" if head != "segmentation" else "per_sample"].shape[0] == 2


def test_default_size_and_receptive_field():
    model = ExoWaveNet()
    assert model.n_parameters() <= 1_200_000
    assert model.receptive_field == 1 + 2 * 2 * (2**8 - 1)
    fields = [ExoWaveNet(**{**SMALL, "layers_per_stack": k}).receptive_field for k in (1, 2, 3, 4)]
    assert fields == [3, 7, 15, 31]


def test_receptive_field_matches_gradient_support():
    torch.manual_seed(0)
    model = ExoWaveNet(**SMALL).double()
    widths = []
    for pos in range(40, 61, 4):
        x = torch.randn(1, 101, dtype=torch.double, requires_grad=True)
        model(x, torch.ones(1, 101, dtype=torch.bool))["per_sample"][0, pos].backward()
        support = np.flatnonzero(x.grad[0].abs().numpy() > 0)
        if len(support):  # a ReLU can silence one output
            assert support.min() >= pos - 15 and support.max() <= pos + 15
            widths.append(support.max() - support.min() + 1)
    assert max(widths) == model.receptive_field == 31


def test_causal_output_ignores_the_future():
    torch.manual_seed(0)
    model = ExoWaveNet(**SMALL, causal=True).eval()
    x, mask = torch.randn(1, 120), torch.ones(1, 120, dtype=torch.bool)
    y = x.clone()
    y[0, 70:] = torch.randn(50)
    a, b = model(x, mask)["per_sample"], model(y, mask)["per_sample"]
    torch.testing.assert_close(a[0, :70], b[0, :70])
    assert not torch.allclose(a[0, 70:], b[0, 70:])
    noncausal = ExoWaveNet(**SMALL).eval()
    assert not torch.allclose(noncausal(x, mask)["per_sample"][0, 60:70], noncausal(y, mask)["per_sample"][0, 60:70])


@pytest.mark.parametrize("attention", [False, True])
def test_masked_pooling_ignores_invalid_samples(attention):
    h = torch.randn(2, 4, 10)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[:, :6] = True
    h2 = h.clone()
    h2[:, :, 6:] = 1e6
    torch.testing.assert_close(masked_mean(h, mask), masked_mean(h2, mask))
    torch.testing.assert_close(masked_max(h, mask), masked_max(h2, mask))
    torch.testing.assert_close(masked_mean(h, mask), h[:, :, :6].mean(-1))
    torch.manual_seed(0)
    model = ExoWaveNet(**SMALL, attention_pooling=attention).eval()
    x = torch.randn(2, 64)
    m = torch.ones(2, 64, dtype=torch.bool)
    m[:, 40:] = False
    x2 = x.clone()
    x2[:, 40:] = 50.0  # garbage where the mask says invalid
    torch.testing.assert_close(model(x, m)["logit"], model(x2, m)["logit"])
    assert torch.isfinite(model(x, torch.zeros(2, 64, dtype=torch.bool))["logit"]).all()


@settings(max_examples=20, deadline=None)
@given(length=st.integers(40, 160), min_period=st.floats(2.0, 10.0), span=st.floats(1.5, 6.0),
       tolerance=st.floats(0.5, 3.0))
def test_fold_index_rows_are_phase_bins_of_trial_periods(length, min_period, span, tolerance):
    max_period = min(min_period * span, 0.9 * length)
    assume(max_period > min_period + 0.5)
    groups = fold_index(length, min_period, max_period, tolerance)
    assert groups and all(g.ndim == 2 and g.shape[1] >= 2 for g in groups)
    assert [g.shape[1] for g in groups] == sorted({g.shape[1] for g in groups})  # one group per member count
    n_periods = int(np.ceil(np.log(max_period / min_period) / np.log1p(tolerance / length))) + 1
    periods = min_period * (1 + tolerance / length) ** np.arange(n_periods)
    assert periods[-2] < max_period <= periods[-1]
    for g in groups:
        assert g.min() >= 0 and g.max() < length and (np.diff(g, axis=1) >= np.floor(min_period)).all()
        phase_bins = np.floor(np.mod(g[:, :, None], periods))  # (rows, members, periods)
        assert (phase_bins == phase_bins[:, :1]).all(axis=1).any(axis=1).all()  # one phase bin of a trial period
    assert sum(g.size for g in groups) <= n_periods * length


def test_fold_pooling_adds_periodic_evidence_coherently():
    gen = np.random.default_rng(0)
    length, period, n = 400, 17.3, 50
    noise = gen.standard_normal((n, length))
    dips = np.zeros(length)
    dips[np.round(np.arange(5.0, length, period)).astype(int)] = 2.0  # 23 events of 2 σ each: 9.6 σ in all
    fold = FoldPooling(min_period=8.0)
    mask = torch.ones(n, length, dtype=torch.bool)
    periodic = fold(torch.tensor(noise + dips, dtype=torch.float32), mask)
    shuffled = fold(torch.tensor(noise + gen.permuted(np.tile(dips, (n, 1)), axis=1), dtype=torch.float32), mask)
    pure = fold(torch.tensor(noise, dtype=torch.float32), mask)
    assert periodic.median() > shuffled.median() + 2.0 and periodic.median() > pure.median() + 2.0
    assert (periodic > pure.max()).float().mean() > 0.9  # the same 23 events at random times stay in the noise
    # standardised: invariant to the evidence's offset and scale, and blind to invalid samples
    e = torch.tensor(noise[:4] + dips, dtype=torch.float32)
    torch.testing.assert_close(fold(3.0 * e - 7.0, mask[:4]), fold(e, mask[:4]), rtol=1e-4, atol=1e-4)
    m = mask[:4].clone()
    m[:, 100:140] = False
    e2 = e.clone()
    e2[:, 100:140] = 1e3
    torch.testing.assert_close(fold(e2, m), fold(e, m))
    with pytest.raises(ValueError, match="too short"):
        fold(torch.randn(2, 12), torch.ones(2, 12, dtype=torch.bool))
    with pytest.raises(ValueError, match="min_period"):
        fold_index(100, 0.5, 20.0, 1.0)
    with pytest.raises(ValueError, match="max_fraction"):
        FoldPooling(4.0, max_fraction=1.5)
    with pytest.raises(ValueError, match="min_period"):
        FoldPooling(0.5)
    with pytest.raises(ValueError, match="tolerance"):
        fold_index(100, 4.0, 20.0, 0.0)


@pytest.mark.parametrize("length", [256, 203])
def test_downsampled_folding_model_shapes_masking_and_receptive_field(length):
    torch.manual_seed(0)
    model = ExoWaveNet(**SMALL, downsample=2, fold_pooling=True, fold_bin=4, fold_min_period=16.0).eval()
    assert model.receptive_field == 2 * ExoWaveNet(**SMALL).receptive_field
    x = torch.randn(3, length)
    mask = torch.ones(3, length, dtype=torch.bool)
    mask[:, 50:90] = False
    out = model(x, mask)
    assert out["logit"].shape == (3,) and out["per_sample"].shape == (3, length)
    x2 = x.clone()
    x2[:, 50:90] = 40.0  # garbage where the mask says invalid
    torch.testing.assert_close(model(x2, mask)["logit"], out["logit"])
    z, zmask = model.features(x, mask)
    assert z.shape == (3, SMALL["skip_channels"], -(-length // 2)) and zmask.shape == (3, -(-length // 2))
    assert not zmask[:, 26:44].any() and zmask[:, :25].all()
    classification_only = ExoWaveNet(**SMALL, head="classification", fold_pooling=True, fold_min_period=16.0)
    assert set(classification_only(x, mask)) == {"logit"}
    significance = model.fold_significance(x, mask)
    assert significance.shape == (3,) and torch.isfinite(significance).all()
    with pytest.raises(ValueError, match="fold_pooling"):
        ExoWaveNet(**SMALL).fold_significance(x, mask)


def test_folding_model_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="fold_bin"):
        ExoWaveNet(**SMALL, downsample=4, fold_pooling=True, fold_bin=6)
    with pytest.raises(ValueError, match="fold_min_period"):
        ExoWaveNet(**SMALL, fold_pooling=True, fold_bin=4, fold_min_period=6.0)
    with pytest.raises(ValueError, match="fold_tolerance"):
        ExoWaveNet(**SMALL, fold_pooling=True, fold_tolerance=0.0)
    with pytest.raises(ValueError, match="downsample"):
        ExoWaveNet(**SMALL, downsample=0)


# ------------------------------------------------------------------------------------------------------- training
def test_train_detector_checkpoint_and_resume(tmp_path):
    sim = simulate_transits(6, seed=5, n_cadences=600, transit_fraction=0.5, snr_range=(30, 50),
                            period_range=(1.0, 5.0))
    parts = []
    for i, (lc, mask) in enumerate(zip(sim.lightcurves, sim.masks, strict=True)):
        flat, m = prepare(lc, in_transit=mask)
        parts.append(segment(flat, 128, 128, in_transit=m, source=i))
    w = concat_windows(parts)
    ckpt = tmp_path / "run.pt"
    first = train_detector(w, w, model_config=SMALL, epochs=1, batch_size=16, checkpoint_path=ckpt, seed=0)
    assert len(first.history) == 1 and ckpt.is_file()
    assert {"train_loss", "val_loss", "val_auc", "val_precision", "val_recall"} <= set(first.history[0])
    resumed = train_detector(w, w, epochs=2, batch_size=16, checkpoint_path=ckpt, resume=True, crop=64, seed=0)
    assert [r["epoch"] for r in resumed.history] == [1.0, 2.0]
    assert resumed.model.config == first.model.config


# ------------------------------------------------------------------------------------------------------- detector
@pytest.mark.parametrize(("n", "expected"), [(300, 1), (1024, 1), (3000, 5)])
def test_detector_predict_any_length(n, expected):
    lc, _ = box_lc(n=n)
    det = tiny_detector(window=1024, stride=512)
    df = det.predict(lc)
    assert list(df.columns) == ["window", "start_mjd", "end_mjd", "score", "n_valid", "detected"]
    assert len(df) == expected
    assert df.score.between(0, 1).all() and (df.start_mjd < df.end_mjd).all()
    assert df.start_mjd.iloc[0] == pytest.approx(lc.mjd[0]) and df.end_mjd.iloc[-1] == pytest.approx(lc.mjd[-1])
    samples = det.predict_samples(lc)
    assert len(samples) <= n and samples.probability.between(0, 1).all()


def test_detector_save_load_round_trip(tmp_path):
    lc, _ = box_lc(n=1500)
    det = tiny_detector(window=512, stride=256, threshold=0.3)
    path = det.save(tmp_path / "det.pt")
    assert json.loads((tmp_path / "det.json").read_text())["window"] == 512
    back = TransitDetector.from_checkpoint(path)
    assert back.config == det.config
    pd.testing.assert_frame_equal(back.predict(lc), det.predict(lc))
    assert TransitDetector.load(str(path), threshold=0.9).threshold == 0.9
    torch.save({"x": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a TransitDetector"):
        TransitDetector.from_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no pretrained model"):
        TransitDetector.from_pretrained("nope")


def test_pretrained_scores_a_deep_transit_above_a_flat_light_curve():
    det = TransitDetector.from_pretrained()
    assert det.model.n_parameters() * 4 <= 1_000_000
    deep = simulate_transits(1, seed=11, transit_fraction=1.0, snr_range=(60.0, 80.0), n_cadences=2048)
    flat = simulate_transits(1, seed=11, transit_fraction=0.0, n_cadences=2048)
    assert det.score(deep.lightcurves[0]) > det.score(flat.lightcurves[0])


# ------------------------------------------------------------------------------------------------------- CLI
def test_cli_detect_prints_json(fits_file, tmp_path, capsys):
    from exowavenet_lib.cli import main

    path, _, _ = fits_file
    det = tiny_detector(window=512, stride=256)
    ckpt = det.save(tmp_path / "tiny.pt")
    assert main(["detect", str(path), "--model", str(ckpt), "--threshold", "0.0"]) == 0
    report = json.loads(capsys.readouterr().out)
    (entry,) = report["files"]
    assert entry["object_id"] == "KIC 11446443" and report["threshold"] == 0.0
    assert len(entry["windows"]) == len(entry["detections"]) >= 1
    assert {"start_mjd", "end_mjd", "score"} == set(entry["windows"][0])
    assert entry["windows"][0]["start_mjd"] > 54832.5 + 131
    assert main(["detect", str(tmp_path / "missing.csv"), "--model", str(ckpt)]) == 1
    assert "error" in json.loads(capsys.readouterr().out)["files"][0]
