"""Train the shipped ZTF transient classifier (final project) on simulated alert light curves, CPU, ~20 minutes.

    OMP_NUM_THREADS=2 .venv/bin/python scripts/train_ztf_classifier.py
    # writes exowavenet_lib/pretrained/ztf-transient-classifier.{pt,json,md}

Data: ``simulate_transients`` with the realistic class mix (TDEs ~2 %). Training and validation sets come from their
own seeds (``seed + 1``, ``seed + 2``); the test set is the test split of the benchmark's simulation
(:func:`exowavenet_lib.bench.classifier.simulated_split`, ``--bench-objects`` objects, seed ``--bench-seed``), so
``exowavenet bench classifier`` re-measures exactly the card's figures. Training: focal loss (gamma 2) with
effective-number class weights (beta 0.999) — notebook 08's best strategy —, AdamW, cosine schedule, early stopping
on validation macro-F1, the sim-to-real :func:`~exowavenet_lib.ztf.classifier.alert_stream_augmentation` on a share
of the training examples; then the temperature is fitted on the (un-augmented) validation set.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads crawl on shared cores

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from exowavenet_lib.bench.classifier import production_metrics, simulated_split, time_per_lightcurve  # noqa: E402
from exowavenet_lib.data import LightCurveDataset, collate_lightcurves, n_features  # noqa: E402
from exowavenet_lib.data.augment import RandomApply  # noqa: E402
from exowavenet_lib.data.features import DEFAULT_BANDS  # noqa: E402
from exowavenet_lib.imbalance import make_loss  # noqa: E402
from exowavenet_lib.runtime import atomic_path, seed_everything  # noqa: E402
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES, simulate_transients  # noqa: E402
from exowavenet_lib.train import EarlyStopping, fit  # noqa: E402
from exowavenet_lib.transit.detector import PRETRAINED_DIR  # noqa: E402
from exowavenet_lib.ztf.classifier import (  # noqa: E402
    DEFAULT_PRETRAINED,
    AlertGRUClassifier,
    ProductionTransientClassifier,
    alert_stream_augmentation,
)


class TimedEarlyStopping(EarlyStopping):
    """Early stopping that also stops once a wall-clock budget is spent (the best epoch is still kept)."""

    def __init__(self, patience: int, seconds: float) -> None:
        super().__init__(patience=patience, mode="max")
        self.deadline = time.perf_counter() + seconds

    def step(self, value: float) -> bool:
        stop = super().step(value)
        return stop or time.perf_counter() > self.deadline


CARD = """# {name}

The **production ZTF transient classifier** of the final project (notebook 11): five classes {classes},
loaded by `ProductionTransientClassifier.from_pretrained()` and used by `exowavenet classify FILE...`.

- **Architecture**: `AlertGRUClassifier` — per-step scale-free inputs derived from the library features (log time
  since first detection, log gap to the previous detection, flux and error scaled by the maximum |flux|, asinh S/N,
  magnitude below the brightest detection, g/r one-hot) → Linear({hidden}) + ReLU → {layers} stacked unidirectional
  GRUs ({hidden} units, run over the padded batch, no packing) with `nn.Dropout` ({dropout}) between → [output at the
  last valid step, masked mean, masked max] → MLP head. {n_parameters:,} parameters ({size_kb:.0f} KB float32).
  The first {max_len} detections of a light curve are used; ZTF `i`-band detections are dropped.
- **Calibration**: temperature T = {temperature:.4f}, fitted on the validation set (NLL).
- **Uncertainty**: MC dropout over the `nn.Dropout` modules (`classify_with_uncertainty`, 20 passes by default).

## Training data and command

Simulated only (`simulate_transients`, realistic class mix: SN Ia 50 %, SN II 25 %, AGN 12 %, CV 11 %, TDE 2 %):
{n_train} light curves for training (seed {train_seed}), {n_val} for validation (seed {val_seed}). Class counts in
training: {train_counts}.
Loss: focal (gamma {gamma}) with effective-number class weights (beta {beta}); AdamW (lr {lr}, weight decay
{weight_decay}), batch {batch_size}, gradient clipping at 1, cosine decay of the rate over the {budget_min:.0f}-minute
wall-clock budget (at most {epochs} epochs), early stopping on validation macro-F1 (patience {patience});
{epochs_run} epoch(s) run, best epoch {best_epoch}; {train_minutes:.1f} min of training on a shared 2-core CPU.
The learning-rate schedule follows wall-clock time, so a re-run on a machine under a different load runs a
different number of epochs and gives somewhat different weights and figures; `exowavenet bench classifier`
re-measures the shipped weights exactly.

Sim-to-real augmentation (`alert_stream_augmentation`) on {augment_share:.0%} of the training examples, drawn afresh
every epoch: AGN reference-image subtraction (difference fluxes, sometimes with the sign lost), time stretch 0.75–1.35
(redshift, cadence), 25 % dropped epochs, extra noise, a brighter 5–10σ detection threshold, truncation to the first
k ≥ 3 detections (early phases).

```
{command}
```

## Held-out metrics (simulated test set)

The test split (stratified 15 %) of `simulated_split({bench_objects}, seed={bench_seed})`, the same objects as
`exowavenet bench classifier` (which re-measures these numbers), {n_test} light curves never seen in training or
validation. Dropout off, temperature-scaled probabilities. ECE: 15 equal-width bins.

| metric | value |
|---|---|
{metric_rows}

Per-class recall / precision:

| class | recall | precision |
|---|---|---|
{class_rows}

Inference time on this machine at training time: {ms:.3f} ms per light curve (`predict_proba`, batch 256,
2 threads, encoding included; machine shared, so indicative).

## Limitations

Trained on simulation only. Real ZTF alert light curves differ (host-galaxy subtraction residuals, bogus detections,
photometric calibration, cadence changes, spectroscopic selection of the labelled set), so expect lower scores on
real data than on the simulated test set; the augmentation above is meant to narrow that gap, not close it. AGN and
CV in real alert streams are difference fluxes; the simulator gives total fluxes (augmentation only approximates
this). No SLSN, SN Ibc, TDE subclasses or other classes exist here: such objects get one of the five labels.
"""

CARD_METRICS = ("macro_f1", "TDE_recall", "accuracy", "ece", "ece_uncalibrated", "nll", "nll_uncalibrated")


def metric_rows(metrics: dict) -> str:
    """The card's metric table rows (a test checks them against the JSON)."""
    return "\n".join(f"| {k} | {metrics[k]:.4f} |" for k in CARD_METRICS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=30000)
    parser.add_argument("--n-val", type=int, default=5000)
    parser.add_argument("--bench-objects", type=int, default=20000)
    parser.add_argument("--bench-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=1200.0, help="training wall-clock budget")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--augment-share", type=float, default=0.7)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--beta", type=float, default=0.999)
    parser.add_argument("--name", default=DEFAULT_PRETRAINED)
    parser.add_argument("--out-dir", type=Path, default=PRETRAINED_DIR)
    args = parser.parse_args(argv)
    command = "OMP_NUM_THREADS=2 .venv/bin/python scripts/train_ztf_classifier.py " + " ".join(
        sys.argv[1:] if argv is None else argv)

    seed_everything(args.seed)
    t0 = time.perf_counter()
    train_lcs, train_labels = simulate_transients(args.n_train, seed=args.seed + 1, class_weights="realistic")
    val_lcs, val_labels = simulate_transients(args.n_val, seed=args.seed + 2, class_weights="realistic")
    print(f"simulated {args.n_train} + {args.n_val} in {time.perf_counter() - t0:.0f} s", flush=True)

    bands = DEFAULT_BANDS
    augment = RandomApply(alert_stream_augmentation(args.seed), args.augment_share, seed=args.seed + 100)
    train_set = LightCurveDataset(train_lcs, train_labels, classes=TRANSIENT_CLASSES, bands=bands,
                                  max_sequence_length=args.max_len, augment=augment)
    val_set = LightCurveDataset(val_lcs, val_labels, classes=TRANSIENT_CLASSES, bands=bands,
                                max_sequence_length=args.max_len)
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, collate_fn=collate_lightcurves,
                              generator=generator)
    val_loader = DataLoader(val_set, batch_size=512, collate_fn=collate_lightcurves)
    loss_fn = make_loss("focal", train_set.targets, len(TRANSIENT_CLASSES), focal_gamma=args.gamma,
                        weight_scheme="effective", beta=args.beta)
    net = AlertGRUClassifier(n_features(bands), len(TRANSIENT_CLASSES), hidden_size=args.hidden,
                             num_layers=args.layers, dropout=args.dropout)
    t_train = time.perf_counter()
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    # Cosine decay over the wall-clock budget (not over epochs): on a shared CPU the number of epochs that fit in
    # the budget is unknown, and the rate should still reach ~0 by the end. Stepped once per epoch by fit.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda _: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.perf_counter() - t_train)
                                                                          / args.seconds))))
    history = fit(net, train_loader, val_loader, epochs=args.epochs, optimizer=optimizer, loss_fn=loss_fn,
                  scheduler=scheduler, early_stopping=TimedEarlyStopping(args.patience, args.seconds),
                  monitor="val_macro_f1", device="cpu", grad_clip=1.0, progress=True)
    train_s = time.perf_counter() - t_train
    print(history.to_pandas().round(4).to_string(), flush=True)

    clf = ProductionTransientClassifier(net.eval(), TRANSIENT_CLASSES, bands=bands,
                                        max_sequence_length=args.max_len, name=args.name)
    clf.fit_temperature(val_lcs, val_labels)
    split = simulated_split(args.bench_objects, args.bench_seed)
    test_lcs, test_labels = split["test"]
    metrics = production_metrics(clf, test_lcs, test_labels)
    timing = time_per_lightcurve(clf, test_lcs)
    print({k: metrics[k] for k in CARD_METRICS}, metrics["recall"], timing, flush=True)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"{args.name}.pt"
    training = {
        "command": command, "n_train": args.n_train, "n_val": args.n_val, "train_seed": args.seed + 1,
        "val_seed": args.seed + 2, "train_counts": dict(sorted(Counter(train_labels).items())),
        "epochs": args.epochs, "epochs_run": len(history), "best_epoch": history.best_epoch, "train_s": train_s,
        "batch_size": args.batch_size, "lr": args.lr, "weight_decay": args.weight_decay, "patience": args.patience,
        "loss": {"kind": "focal", "gamma": args.gamma, "weight_scheme": "effective", "beta": args.beta},
        "augment_share": args.augment_share, "history": history.to_pandas().reset_index().to_dict("records"),
    }
    clf.save(path, training=training, test_metrics=metrics, timing_ms=timing,
             test_set={"n_objects": args.bench_objects, "seed": args.bench_seed, "split": "test"})
    size_kb = path.stat().st_size / 1024
    card = CARD.format(
        name=args.name, classes=", ".join(TRANSIENT_CLASSES), hidden=args.hidden, layers=args.layers,
        dropout=args.dropout, n_parameters=net.n_parameters(), size_kb=size_kb, max_len=args.max_len,
        temperature=clf.temperature, n_train=args.n_train, n_val=args.n_val, train_seed=args.seed + 1,
        val_seed=args.seed + 2, train_counts=", ".join(f"{k} {v}" for k, v in training["train_counts"].items()),
        gamma=args.gamma, beta=args.beta, lr=args.lr, weight_decay=args.weight_decay, batch_size=args.batch_size,
        epochs=args.epochs, budget_min=args.seconds / 60, patience=args.patience, epochs_run=len(history),
        best_epoch=history.best_epoch,
        train_minutes=train_s / 60, augment_share=args.augment_share, command=command,
        bench_objects=args.bench_objects, bench_seed=args.bench_seed, n_test=len(test_lcs),
        metric_rows=metric_rows(metrics),
        class_rows="\n".join(f"| {c} | {metrics['recall'][c]:.4f} | {metrics['precision'][c]:.4f} |"
                             for c in TRANSIENT_CLASSES),
        ms=timing["best"],
    )
    card_path = path.with_suffix(".md")
    with atomic_path(card_path) as tmp:
        tmp.write_text(card, encoding="utf-8")
    print(f"wrote {path} ({size_kb:.0f} KB), {path.with_suffix('.json')} and {card_path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
