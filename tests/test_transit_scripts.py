"""Tests of the transit pipeline scripts: prepare_data.py, train_pretrained.py (tiny run), run_inference.sh."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from exowavenet_lib.transit import ExoWaveNet, TransitDetector, load_csv
from exowavenet_lib.transit.preprocess import KEPLER_CADENCE_DAYS
from exowavenet_lib.transit.train import load_windows

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    det = TransitDetector(ExoWaveNet(residual_channels=4, skip_channels=4, n_stacks=1, layers_per_stack=3),
                          window=256, stride=128)
    return det.save(tmp_path_factory.mktemp("model") / "tiny.pt")


def _csv(path: Path, n: int = 700, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = 55000.0 + KEPLER_CADENCE_DAYS * np.arange(n)
    pd.DataFrame({"mjd": t, "flux": 1 + 1e-4 * rng.standard_normal(n)}).to_csv(path, index=False)
    return path


def test_prepare_data_simulate_writes_labelled_windows(tmp_path, capsys):
    prepare = _script("prepare_data")
    out = tmp_path / "sim.npz"
    assert prepare.main(["simulate", "--n", "6", "--seed", "1", "--window", "256", "--noise", "white",
                         "--snr", "10", "20", "--out", str(out)]) == 0
    w, extra = load_windows(out)
    assert len(w) == 6 and w.x.shape == (6, 256) and w.mask.dtype == bool
    assert set(extra) == {"snr"} and np.all((extra["snr"] > 0) == (w.y == 1))
    assert 0 < w.y.sum() < 6
    assert "6 windows of 256 samples" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        prepare.main(["simulate", "--n", "2", "--window", "0", "--out", str(out)])


def test_prepare_data_reads_files_with_the_detector_pipeline(tmp_path, tiny_checkpoint):
    prepare = _script("prepare_data")
    a, b = _csv(tmp_path / "a.csv"), _csv(tmp_path / "b.csv", n=300, seed=1)
    out = tmp_path / "files.npz"
    assert prepare.main(["files", str(a), str(b), "--model", str(tiny_checkpoint), "--window", "256",
                         "--stride", "128", "--out", str(out)]) == 0
    w, extra = load_windows(out)
    det = TransitDetector.from_checkpoint(tiny_checkpoint)
    expected = det.windows(load_csv(a))
    n_a = len(expected)
    assert len(w) == n_a + len(det.windows(load_csv(b)))
    np.testing.assert_array_equal(w.x[:n_a], expected.x)
    assert list(extra["filename"]) == [str(a)] * n_a + [str(b)] * (len(w) - n_a)
    np.testing.assert_array_equal(w.source, [0] * n_a + [1] * (len(w) - n_a))
    assert not w.labels.any()


def test_prepare_data_hdf5_needs_h5py(tmp_path):
    prepare = _script("prepare_data")
    args = ["simulate", "--n", "2", "--window", "128", "--noise", "white", "--format", "hdf5",
            "--out", str(tmp_path / "w.h5")]
    if importlib.util.find_spec("h5py") is None:
        with pytest.raises(SystemExit, match="h5py"):
            prepare.main(args)
    else:  # pragma: no cover - h5py is not a dependency
        assert prepare.main(args) == 0


def test_train_pretrained_tiny_run_writes_a_consistent_model_and_card(tmp_path):
    train = _script("train_pretrained")
    out = tmp_path / "out"
    train.main(["--n-train", "24", "--n-train-long", "2", "--n-val", "12", "--epochs", "1", "--threads", "1",
                "--eval-size", "0.01", "--name", "tiny", "--out-dir", str(out), "--cache", str(tmp_path / "c")])
    info = json.loads((out / "tiny.json").read_text())
    card = (out / "tiny.md").read_text()
    det = TransitDetector.from_checkpoint(out / "tiny.pt")
    assert det.window == 1024 and det.model.config == {**det.model.config, **train.SMALL}
    assert info["training"]["command"] == (".venv/bin/python scripts/train_pretrained.py --n-train 24 "
                                           "--n-train-long 2 --n-val 12 --epochs 1 --threads 1 --eval-size 0.01 "
                                           "--name tiny")
    assert info["training"]["command"] in card
    assert {r["noise"] for r in info["test_metrics"]["injection_recovery"]} == {"white", "variable"}
    auc = info["test_metrics"]["windows"]["window_roc_auc"]
    assert f"roc_auc {auc:.3f}" in card
    assert len(list((tmp_path / "c").glob("*.npz"))) == 3  # the training (short, long) and validation sets cached


def test_run_inference_script(tmp_path, tiny_checkpoint):
    data = tmp_path / "lcs"
    data.mkdir()
    _csv(data / "a.csv")
    _csv(data / "b.csv", seed=2)
    (data / "notes.txt").write_text("ignored")
    env = {**os.environ, "EXOWAVENET": str(Path(sys.executable).with_name("exowavenet")), "OMP_NUM_THREADS": "1"}
    report = tmp_path / "out" / "report.json"
    run = subprocess.run(["bash", str(SCRIPTS / "run_inference.sh"), "--model", str(tiny_checkpoint),
                          "--threshold", "0", "--out", str(report), str(data)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(report.read_text())
    assert sorted(Path(f["file"]).name for f in result["files"]) == ["a.csv", "b.csv"]
    assert result["threshold"] == 0.0 and all(f["detections"] for f in result["files"])
    bad = subprocess.run(["bash", str(SCRIPTS / "run_inference.sh"), "--bogus"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert bad.returncode == 2 and "unknown option" in bad.stderr
