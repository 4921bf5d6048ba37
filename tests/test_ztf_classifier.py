"""Tests for the production ZTF classifier (exowavenet_lib.ztf.classifier) and its shipped model."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from exowavenet_lib.calibration import negative_log_likelihood
from exowavenet_lib.data.augment import DetectionThreshold, ReferenceSubtraction, TruncateEarly
from exowavenet_lib.lightcurves import TransientLightCurve
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES, simulate_transients
from exowavenet_lib.surveys import to_ztf_alerts
from exowavenet_lib.ztf.classifier import (
    DEFAULT_PRETRAINED,
    AlertGRUClassifier,
    ProductionTransientClassifier,
    available_pretrained,
    classify_files,
)

matplotlib.use("Agg")

KEYS = {"object_id", "predicted_class", "probabilities", "confidence", "entropy", "mutual_information",
        "uncertainty", "n_observations"}


@pytest.fixture(scope="module")
def clf() -> ProductionTransientClassifier:
    return ProductionTransientClassifier.from_pretrained()


@pytest.fixture(scope="module")
def sim() -> tuple[list[TransientLightCurve], list[str]]:
    return simulate_transients(60, seed=11)  # balanced: 12 of each class


def test_shipped_model_is_small_and_listed():
    assert DEFAULT_PRETRAINED in available_pretrained()
    root = Path(__file__).resolve().parents[1] / "exowavenet_lib" / "pretrained"
    files = [root / f"{DEFAULT_PRETRAINED}.{ext}" for ext in ("pt", "json", "md")]
    assert sum(f.stat().st_size for f in files) <= 5 * 2**20


def test_from_pretrained_classifies_simulated_lightcurves(clf, sim):
    lcs, labels = sim
    results = clf.classify_with_uncertainty(lcs, mc_samples=5)
    assert len(results) == len(lcs) and clf.classes == TRANSIENT_CLASSES
    for res, lc in zip(results, lcs, strict=True):
        assert set(res) == KEYS and res["object_id"] == lc.object_id
        probs = res["probabilities"]
        assert list(probs) == list(TRANSIENT_CLASSES)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9) and min(probs.values()) >= 0
        assert res["predicted_class"] == max(probs, key=probs.get)
        assert res["confidence"] == pytest.approx(max(probs.values()))
        p = np.array(list(probs.values()))
        assert res["entropy"] == pytest.approx(-(p * np.log(np.clip(p, 1e-12, 1))).sum(), abs=1e-9)
        assert res["uncertainty"] == pytest.approx(res["entropy"] / math.log(5), abs=1e-9)
        assert 0 <= res["uncertainty"] <= 1 and res["mutual_information"] >= 0
        assert res["n_observations"] == min(len(lc), clf.max_sequence_length)
    json.dumps(results)  # plain Python numbers
    # The shipped model has learnt something: far better than chance (0.2) on a balanced simulated set.
    accuracy = np.mean([r["predicted_class"] == y for r, y in zip(results, labels, strict=True)])
    assert accuracy > 0.6


def test_batching_gives_the_same_results_as_one_by_one(clf, sim):
    lcs = sim[0][:25]
    batched = clf.predict_proba(lcs, batch_size=256)
    small = clf.predict_proba(lcs, batch_size=4)
    single = np.vstack([clf.predict_proba([lc]) for lc in lcs])
    np.testing.assert_allclose(small, batched, atol=1e-6)
    np.testing.assert_allclose(single, batched, atol=1e-6)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-9)
    a = clf.classify_with_uncertainty(lcs, mc_samples=1, batch_size=7)
    b = [clf.classify_with_uncertainty([lc], mc_samples=1)[0] for lc in lcs]
    for x, y in zip(a, b, strict=True):
        assert x["predicted_class"] == y["predicted_class"]
        np.testing.assert_allclose(list(x["probabilities"].values()), list(y["probabilities"].values()), atol=1e-6)


def test_probabilities_are_temperature_scaled(clf, sim):
    lcs = sim[0][:10]
    z = clf.logits(lcs)
    expected = torch.softmax(torch.from_numpy(z) / clf.temperature, dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(lcs), expected, atol=1e-9)


def test_fit_temperature_lowers_held_out_nll(clf):
    fit_lcs, fit_labels = simulate_transients(100, seed=21)
    test_lcs, test_labels = simulate_transients(100, seed=22)
    y = [TRANSIENT_CLASSES.index(v) for v in test_labels]
    tuned = ProductionTransientClassifier(clf.model, clf.classes, temperature=0.2)  # badly over-confident
    before = negative_log_likelihood(tuned.predict_proba(test_lcs), y)
    temperature = tuned.fit_temperature(fit_lcs, fit_labels)
    assert temperature == tuned.temperature and temperature > 0.2
    assert negative_log_likelihood(tuned.predict_proba(test_lcs), y) < before - 0.05
    with pytest.raises(ValueError, match="not in classes"):
        tuned.fit_temperature(fit_lcs[:2], ["SNIa", "SLSN"])


def test_mc_uncertainty_zero_without_dropout_positive_with_it(clf, sim):
    lcs = sim[0][:12]
    off = clf.classify_with_uncertainty(lcs, mc_samples=1)
    assert all(r["mutual_information"] == 0.0 for r in off)
    on = clf.classify_with_uncertainty(lcs, mc_samples=10, seed=0)
    assert all(r["mutual_information"] > 0 for r in on)
    assert on == clf.classify_with_uncertainty(lcs, mc_samples=10, seed=0)  # seeded: reproducible
    assert not clf.model.training and all(not m.training for m in clf.model.modules())  # modes restored
    torch.manual_seed(0)
    no_dropout = ProductionTransientClassifier(AlertGRUClassifier(dropout=0.0))
    res = no_dropout.classify_with_uncertainty(lcs, mc_samples=10)
    assert max(r["mutual_information"] for r in res) < 1e-9


@settings(max_examples=15)
@given(lengths=st.lists(st.integers(1, 12), min_size=1, max_size=5), pad=st.integers(0, 6))
def test_logits_do_not_depend_on_padding(lengths, pad):
    torch.manual_seed(0)
    net = AlertGRUClassifier(hidden_size=8, num_layers=2).eval()
    clf = ProductionTransientClassifier(net)
    x, mask = clf._example(lengths)
    x_pad = torch.cat([x, torch.randn(x.shape[0], pad, x.shape[2])], dim=1)
    mask_pad = torch.cat([mask, torch.zeros(mask.shape[0], pad, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(net(x_pad, mask_pad), net(x, mask), atol=1e-5, rtol=0)
        one = torch.cat([net(x[i:i + 1, :n], mask[i:i + 1, :n]) for i, n in enumerate(lengths)])
        torch.testing.assert_close(one, net(x, mask), atol=1e-5, rtol=0)


def test_torchscript_and_onnx_exports_match_eager(clf, sim, tmp_path):
    import onnxruntime as ort

    ts_path = clf.export_torchscript(tmp_path / "clf.pt")
    onnx_path = clf.export_onnx(tmp_path / "clf.onnx")
    scripted = torch.jit.load(str(ts_path))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    eager = clf.exportable()
    batches = [clf._example((30, 1, 9, 64, 2)), clf._example((3,))]
    _, real = next(clf._batches(sim[0][:17], 256))
    batches.append((real["x"], real["mask"]))
    for x, mask in batches:
        with torch.no_grad():
            ref = eager(x, mask).numpy()
            got_ts = scripted(x, mask).numpy()
        got_onnx = session.run(None, {"x": x.numpy(), "mask": mask.numpy()})[0]
        assert np.abs(got_ts - ref).max() <= 1e-5
        assert np.abs(got_onnx - ref).max() <= 1e-5
    # The exported graphs give what predict_proba gives.
    idx, batch = next(clf._batches(sim[0][:17], 256))
    out = session.run(None, {"x": batch["x"].numpy(), "mask": batch["mask"].numpy()})[0]
    np.testing.assert_allclose(out, clf.predict_proba(sim[0][:17])[idx], atol=1e-5)


def test_explain_prediction_gives_one_attribution_per_observation_and_a_plot(clf, sim):
    import matplotlib.pyplot as plt

    lc = sim[0][0]
    fig, ax = plt.subplots()
    table = clf.explain_prediction(lc, ax=ax)
    n = min(len(lc), clf.max_sequence_length)
    assert list(table.columns) == ["mjd", "band", "flux", "flux_err", "attribution"] and len(table) == n
    np.testing.assert_allclose(table["mjd"], lc.mjd[:n])
    assert np.isfinite(table["attribution"]).all() and table["attribution"].abs().max() > 0
    assert table.attrs["predicted_class"] == clf.predict([lc])[0]
    # Removing the observation with the largest attribution lowers the predicted class's probability by that much.
    i = int(table["attribution"].idxmax())
    keep = np.arange(len(lc)) != i
    reduced = TransientLightCurve(lc.mjd[keep], lc.flux[keep], lc.flux_err[keep], lc.band[keep], object_id="x")
    k = clf.classes.index(table.attrs["predicted_class"])
    drop = table.attrs["probability"] - clf.predict_proba([reduced])[0, k]
    assert drop == pytest.approx(table["attribution"].max(), abs=1e-6)
    assert ax.collections and "MJD" in ax.get_xlabel() and "FLUXCAL" in ax.get_ylabel()
    plt.close(fig)


def test_save_and_from_checkpoint_round_trip(clf, sim, tmp_path):
    path = clf.save(tmp_path / "model.pt", note="copy")
    loaded = ProductionTransientClassifier.from_checkpoint(path)
    assert loaded.temperature == clf.temperature and loaded.metadata["note"] == "copy"
    np.testing.assert_allclose(loaded.predict_proba(sim[0][:8]), clf.predict_proba(sim[0][:8]), atol=1e-12)
    bare = tmp_path / "bare.pt"
    torch.save(clf.model.state_dict(), bare)
    from_config = ProductionTransientClassifier.from_checkpoint(bare, config=clf.config)
    np.testing.assert_allclose(from_config.predict_proba(sim[0][:3]), clf.predict_proba(sim[0][:3]), atol=1e-12)
    with pytest.raises(ValueError, match="config="):
        ProductionTransientClassifier.from_checkpoint(bare)


def test_from_wandb_artifact_downloads_and_loads(clf, sim, tmp_path):
    folder = tmp_path / "artifact"
    folder.mkdir()
    clf.save(folder / "ztf.pt")

    class FakeArtifact:
        def download(self, root=None):
            return str(folder)

    class FakeApi:
        refs: list[str] = []

        def artifact(self, ref):
            self.refs.append(ref)
            return FakeArtifact()

    api = FakeApi()
    loaded = ProductionTransientClassifier.from_wandb_artifact("me/ztf/classifier:v3", api=api)
    assert api.refs == ["me/ztf/classifier:v3"]
    np.testing.assert_allclose(loaded.predict_proba(sim[0][:3]), clf.predict_proba(sim[0][:3]), atol=1e-12)
    with pytest.raises(ValueError, match="ref"):
        ProductionTransientClassifier.from_wandb_artifact("", api=api)


def _alert_csv(path: Path, lcs: list[TransientLightCurve]) -> Path:
    frames = [to_ztf_alerts(lc) for lc in lcs]
    frames.append(pd.DataFrame({"oid": [lcs[0].object_id], "jd": [frames[0]["jd"].iloc[0] + 0.5], "fid": [3],
                                "magpsf": [19.0], "sigmapsf": [0.1], "isdiffpos": ["t"]}))  # an i-band row
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_classify_files_reads_ztf_alert_csv_and_reports_json(clf, sim, tmp_path):
    lcs = sim[0][:3]
    many = _alert_csv(tmp_path / "alerts.csv", lcs)
    single = tmp_path / "ZTF21abcdefg.csv"
    to_ztf_alerts(lcs[1]).drop(columns="oid").assign(mjd=lambda d: d["jd"] - 2400000.5).drop(columns="jd").to_csv(
        single, index=False)
    report, status = classify_files([many, single])
    assert status == 0 and report["errors"] == [] and report["model"] == DEFAULT_PRETRAINED
    json.dumps(report)
    ids = [r["object_id"] for r in report["results"]]
    assert ids == [lc.object_id for lc in lcs] + ["ZTF21abcdefg"]
    expected = clf.predict_proba(lcs)
    for res, p in zip(report["results"][:3], expected, strict=True):
        assert set(KEYS) <= set(res) and res["file"] == str(many)
        assert res["predicted_class"] == clf.classes[int(p.argmax())]  # i band dropped, magnitudes round-trip
    assert report["results"][0]["quality_cuts"]["other_filter"] == 1
    assert report["results"][3]["predicted_class"] == report["results"][1]["predicted_class"]


def test_classify_files_reports_bad_files_and_the_cli_writes_json(clf, sim, tmp_path, capsys):
    from exowavenet_lib.cli import main

    good = _alert_csv(tmp_path / "good.csv", sim[0][:1])
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"oid": ["a"], "mjd": [1.0], "fid": [1], "mag": [19.0]}).to_csv(bad, index=False)
    report, status = classify_files([good, bad, tmp_path / "missing.csv"])
    assert status == 1 and len(report["results"]) == 1
    assert [e["file"] for e in report["errors"]] == [str(bad), str(tmp_path / "missing.csv")]
    assert "magpsf" in report["errors"][0]["error"] and "FileNotFoundError" in report["errors"][1]["error"]
    assert main(["classify", str(good)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["object_id"] == sim[0][0].object_id


def test_bad_input_raises_clear_errors(clf, sim):
    lc = sim[0][0]
    with pytest.raises(ValueError, match="empty"):
        clf.predict_proba([])
    with pytest.raises(TypeError, match="list"):
        clf.predict_proba(lc)
    with pytest.raises(TypeError, match=r"lightcurves\[1\]"):
        clf.classify_with_uncertainty([lc, "ZTF21"])
    only_i = TransientLightCurve([1.0, 2.0], [10.0, 20.0], [1.0, 1.0], ["i", "i"], object_id="i-only")
    with pytest.raises(ValueError, match="i-only.*no usable observation"):
        clf.predict_proba([only_i])
    with pytest.raises(ValueError, match="mc_samples"):
        clf.classify_with_uncertainty([lc], mc_samples=0)
    with pytest.raises(ValueError, match="batch_size"):
        clf.predict_proba([lc], batch_size=0)
    with pytest.raises(ValueError, match="no pretrained ZTF classifier 'nope'"):
        ProductionTransientClassifier.from_pretrained("nope")
    with pytest.raises(FileNotFoundError):
        ProductionTransientClassifier.from_checkpoint("/nonexistent/model.pt")
    with pytest.raises(ValueError, match="paths"):
        classify_files([])
    with pytest.raises(ValueError, match="temperature"):
        ProductionTransientClassifier(clf.model, temperature=0.0)


def test_unsorted_and_unusable_rows_are_handled(clf, sim):
    lc = sim[0][3]
    order = np.random.default_rng(0).permutation(len(lc))
    shuffled = TransientLightCurve(lc.mjd[order], lc.flux[order], lc.flux_err[order], lc.band[order], object_id="s")
    np.testing.assert_allclose(clf.predict_proba([shuffled]), clf.predict_proba([lc]), atol=1e-9)


def test_alert_stream_augmentations():
    lcs, labels = simulate_transients(10, seed=4)
    lc = next(c for c, y in zip(lcs, labels, strict=True) if y == "SNIa")
    t = np.arange(0.0, 300.0, 3.0)
    agn = TransientLightCurve(t, 1000 + 300 * np.sin(t / 20), np.full(len(t), 10.0), np.where(t % 2, "g", "r"),
                              object_id="agn", transient_type="AGN")
    early = TruncateEarly(seed=0)(lc)
    assert 3 <= len(early) <= len(lc) and np.array_equal(early.mjd, lc.mjd[:len(early)])
    strict = DetectionThreshold((8.0, 8.0), min_points=1, seed=0)(lc)
    assert np.all(np.abs(strict.flux) >= 8.0 * strict.flux_err) and len(strict) <= len(lc)
    sub = ReferenceSubtraction(p_abs=0.0, seed=0)
    assert sub(lc) is lc  # only AGN are reference-subtracted
    diff = sub(agn)
    assert diff is not agn and np.all(np.abs(diff.flux) >= 5 * diff.flux_err) and diff.flux.min() < 0
    assert 3 <= len(diff) < len(agn) and np.all(np.isin(diff.mjd, agn.mjd))


def test_model_card_matches_the_json_metrics():
    root = Path(__file__).resolve().parents[1] / "exowavenet_lib" / "pretrained"
    meta = json.loads((root / f"{DEFAULT_PRETRAINED}.json").read_text())
    card = (root / f"{DEFAULT_PRETRAINED}.md").read_text()
    rows = dict(re.findall(r"^\| (\w+) \| ([0-9.]+) \|$", card, flags=re.M))
    assert {"macro_f1", "TDE_recall", "ece", "accuracy"} <= set(rows)
    for key, value in rows.items():
        assert float(value) == pytest.approx(meta["test_metrics"][key], abs=5e-5), key
    assert meta["training"]["command"] in card and "scripts/train_ztf_classifier.py" in meta["training"]["command"]
    assert f"T = {meta['temperature']:.4f}" in card


def test_bench_production_reports_targets_and_plots(tmp_path):
    from exowavenet_lib.bench.classifier import PRODUCTION_TARGETS, bench_production, production_metrics

    out = bench_production(n_objects=400, seed=3, output_dir=tmp_path, threads=1)
    saved = json.loads((tmp_path / "classifier_production.json").read_text())
    assert saved["test"]["macro_f1"] == pytest.approx(out["test"]["macro_f1"]) and saved["n_objects"] == 400
    assert set(out["targets"]["met"]) == set(PRODUCTION_TARGETS)
    assert out["macro_f1_gain_over_rf"] == pytest.approx(out["test"]["macro_f1"] - out["random_forest"]["macro_f1"])
    assert 0 < out["timing_ms"]["best"] <= out["timing_ms"]["median"]
    assert "card_matches" not in out  # not the card's test set
    for name in ("classifier_production_confusion.png", "classifier_production_reliability.png"):
        assert (tmp_path / name).stat().st_size > 1000
    # Temperature 1 vs the fitted one: only the calibrated figures change, never the predictions.
    clf = ProductionTransientClassifier.from_pretrained()
    lcs, labels = simulate_transients(40, seed=5)
    m = production_metrics(clf, lcs, labels)
    clf.temperature = 1.0
    m1 = production_metrics(clf, lcs, labels)
    assert m1["macro_f1"] == m["macro_f1"] and m1["ece"] == pytest.approx(m["ece_uncalibrated"])
