"""Train the small shipped ExoWaveNet transit detector on simulated Kepler light curves (CPU, a few minutes).

    .venv/bin/python scripts/train_pretrained.py   # writes exowavenet_lib/pretrained/exowavenet-kepler-small.*

Data: ``simulate_transits`` Kepler light curves (4096 long cadences ≈ 83.7 d, gaps, red noise, stellar
variability, outliers), preprocessed by the detector's own pipeline and cut into 1024-sample windows (stride 512).
Train/validation/test come from different seeds; the test set uses the simulator's default SNR range. Writes the
checkpoint (.pt), its config (.json, with the test metrics) and the model card (.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from exowavenet_lib.runtime import seed_everything
from exowavenet_lib.simulate.transits import simulate_transits
from exowavenet_lib.transit.detector import DEFAULT_PRETRAINED, PRETRAINED_DIR, TransitDetector
from exowavenet_lib.transit.preprocess import concat_windows, prepare, segment
from exowavenet_lib.transit.train import precision_recall, predict_windows, roc_auc, train_detector

SMALL = {"residual_channels": 16, "skip_channels": 32, "n_stacks": 2, "layers_per_stack": 8, "kernel_size": 3}


def make_windows(n: int, seed: int, snr_range: tuple[float, float], window: int, stride: int):
    sim = simulate_transits(n, seed=seed, mission="kepler", snr_range=snr_range)
    parts = []
    for i, (lc, mask) in enumerate(zip(sim.lightcurves, sim.masks, strict=True)):
        flat, m = prepare(lc, in_transit=mask)
        parts.append(segment(flat, window, stride, in_transit=m, source=i))
    return concat_windows(parts), sim.params


def evaluate(detector: TransitDetector, w, params, threshold: float) -> dict:
    score, per = predict_windows(detector.model, w)
    precision, recall = precision_recall(w.y, score, threshold)
    lc_score = np.full(len(params), -np.inf)
    np.maximum.at(lc_score, w.source, score)
    lc_p, lc_r = precision_recall(params.has_transit.to_numpy(), lc_score, threshold)
    return {
        "n_windows": len(w), "positive_window_fraction": float(w.y.mean()),
        "window_roc_auc": roc_auc(w.y, score), "window_precision": precision, "window_recall": recall,
        "sample_roc_auc": roc_auc(w.labels[w.mask], per[w.mask]),
        "n_lightcurves": len(params), "lightcurve_roc_auc_max_window": roc_auc(params.has_transit, lc_score),
        "lightcurve_precision": lc_p, "lightcurve_recall": lc_r,
    }


CARD = """# exowavenet-kepler-small

A small **discriminative WaveNet-style transit detector** (`exowavenet_lib.transit.ExoWaveNet`) shipped with the
curriculum so that `TransitDetector.from_pretrained()` and `exowavenet detect` work out of the box.

- **Architecture**: {n_stacks}×{layers_per_stack} dilated residual blocks (dilations 1…{max_dilation}), kernel
  {kernel_size}, gated tanh·sigmoid, residual {residual_channels} / skip {skip_channels} channels, non-causal; masked
  mean+max pooling → window logit; 1×1 segmentation head → per-sample logit.
- **Size**: {n_params:,} parameters ({size_kb:.0f} KB float32); receptive field {receptive_field} cadences
  ≈ {rf_days:.1f} d.
- **Input**: 1024 Kepler long cadences (≈ 20.9 d): flux normalised, detrended by a local quadratic (1.5 d,
  iteratively transit-masked), positive outliers clipped, standardised by the point-to-point σ; plus a validity
  mask (gaps, padding).
- **Output**: window score ("contains a transit") and per-cadence in-transit probability.

## Training data and command

Simulated only: `simulate_transits(mission="kepler")` light curves of 4096 cadences (gaps, red noise, stellar
rotation/granulation, spikes and flares; trapezoid limb-darkened transits, periods 0.5–20 d, white-noise SNR over the
whole light curve log-uniform in {train_snr}); {n_train} light curves for training (seed {seed}), {n_val} for
validation (seed {seed_val}), cut into windows of 1024 with stride 512. Loss: window BCE + per-sample BCE over valid
cadences. AdamW (lr {lr}), batch {batch_size}, random crops of {crop} cadences, {seconds:.0f} s of training on a
shared 2-core CPU ({epochs_done} epoch(s); best epoch by validation window ROC-AUC: {best_epoch}).

```
{command}
```

## Held-out metrics (simulated, never seen in training)

{n_test} new light curves (seed {seed_test}) at the simulator's **default** SNR range (7–30 over the whole light
curve, so a single 20.9-d window often holds only part of that signal); threshold {threshold}.

| metric | value |
|---|---|
{metrics_table}

## Limitations (read before use)

- **Trained and evaluated on simulation only; not validated on real Kepler data.** Real systematics (momentum dumps,
  rolling-band noise, PDC residuals, eclipsing binaries, blends) are absent or simplified; expect more false
  positives and a different score calibration on real light curves.
- Undertrained (a time-boxed few CPU minutes, {epochs_done} epoch(s)): the held-out window ROC-AUC above is modest and
  the validation AUC was still rising; retrain longer (or on a GPU) before relying on the scores.
- Tiny model: it is a teaching baseline and a smoke-test fixture, not a
  planet-search tool. Scores are not calibrated probabilities. Compare with a BLS baseline before trusting it.
- Kepler long cadence only (29.4 min grid); other cadences or missions need retraining.
- Window-level detection only: no period search, no vetting (secondary eclipses, odd/even depths).
"""


def write_card(out_dir: Path, name: str) -> Path:
    """Render the model card from the saved checkpoint's JSON (config, training settings, test metrics)."""
    info = json.loads((out_dir / f"{name}.json").read_text())
    detector = TransitDetector.from_checkpoint(out_dir / f"{name}.pt")
    m, tr, metrics = detector.model, info["training"], info["test_metrics"]
    aucs = [row.get("val_auc") or -1.0 for row in tr["history"]]
    command = (f".venv/bin/python scripts/train_pretrained.py --n-train {tr['n_train']} --n-val {tr['n_val']} "
               f"--n-test {tr.get('n_test', 200)} --seconds {tr.get('budget_s', 360):g} "
               f"--epochs {tr.get('epochs', 20)} --crop {tr.get('crop', 256)} --seed {tr['seed']}")
    table = "\n".join(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    snr = tr["train_snr_range"]
    card = CARD.format(
        **m.config, max_dilation=max(m.dilations), n_params=m.n_parameters(), size_kb=m.n_parameters() * 4 / 1024,
        receptive_field=m.receptive_field, rf_days=m.receptive_field * detector.cadence_days,
        train_snr=f"{snr[0]:g}–{snr[1]:g}", n_train=tr["n_train"], n_val=tr["n_val"], seed=tr["seed"],
        seed_val=tr["seed"] + 1, seed_test=tr["seed"] + 2, n_test=tr.get("n_test", 200), lr=tr.get("lr", 3e-3),
        batch_size=tr.get("batch_size", 32), crop=tr.get("crop", 256), seconds=tr["seconds"],
        epochs_done=len(tr["history"]), best_epoch=int(np.argmax(aucs)) + 1, command=command,
        threshold=detector.threshold, metrics_table=table,
    )
    path = out_dir / f"{name}.md"
    path.write_text(card)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-val", type=int, default=120)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=360.0, help="training time budget")
    parser.add_argument("--crop", type=int, default=256, help="train on random crops of this many cadences")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default=DEFAULT_PRETRAINED)
    parser.add_argument("--out-dir", type=Path, default=PRETRAINED_DIR)
    parser.add_argument("--card-only", action="store_true", help="only re-render the model card from the saved JSON")
    args = parser.parse_args()
    if args.card_only:
        print(f"wrote {write_card(args.out_dir, args.name)}")
        return
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    train_snr, window, stride, crop, lr, batch = (10.0, 60.0), 1024, 512, args.crop, 3e-3, 32
    t0 = time.monotonic()
    train_w, _ = make_windows(args.n_train, args.seed, train_snr, window, stride)
    val_w, _ = make_windows(args.n_val, args.seed + 1, train_snr, window, stride)
    test_w, test_params = make_windows(args.n_test, args.seed + 2, (7.0, 30.0), window, stride)
    print(f"windows: train {len(train_w)} val {len(val_w)} test {len(test_w)} ({time.monotonic() - t0:.0f} s)",
          flush=True)
    result = train_detector(train_w, val_w, model_config=SMALL, epochs=args.epochs, batch_size=batch, lr=lr,
                            crop=crop, time_budget_s=args.seconds, seed=args.seed, verbose=True)
    detector = TransitDetector(result.model, window=window, stride=stride, threshold=0.5, name=args.name)
    metrics = evaluate(detector, test_w, test_params, detector.threshold)
    print(json.dumps(metrics, indent=2, default=str), flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    detector.save(args.out_dir / f"{args.name}.pt", test_metrics=metrics, training={
        "n_train": args.n_train, "n_val": args.n_val, "n_test": args.n_test, "seed": args.seed,
        "train_snr_range": list(train_snr), "seconds": result.history[-1]["seconds"], "budget_s": args.seconds,
        "epochs": args.epochs, "crop": crop, "lr": lr, "batch_size": batch, "history": result.history})
    print(f"wrote {write_card(args.out_dir, args.name)} (+ .pt, .json) in {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
