"""Prepare ExoWaveNet training/inference data: simulate or read light curves → preprocessed windows → .npz.

    # simulated, labelled windows (per-window SNR controlled when --n-cadences equals --window)
    .venv/bin/python scripts/prepare_data.py simulate --n 2000 --seed 0 --noise variable --out data/train.npz
    # real light curves (.fits Kepler *_llc.fits, .csv, .npz), unlabelled, with the shipped detector's preprocessing
    .venv/bin/python scripts/prepare_data.py files kplr*.fits --out data/kepler.npz

The first step of the guide's prepare → train (``scripts/train_pretrained.py``) → infer (``scripts/run_inference.sh``)
pipeline; a thin wrapper over ``exowavenet_lib.transit`` (``simulated_windows``, ``TransitDetector.windows``,
``save_windows``). The output holds the :class:`~exowavenet_lib.transit.Windows` arrays (``x, mask, t, labels, y,
start_mjd, end_mjd, source``) plus ``snr`` (simulated: per-window SNR) or ``filename`` (read: the file of each window);
read it back with ``exowavenet_lib.transit.train.load_windows``. ``--format hdf5`` needs ``h5py`` (not a dependency
of this project; ``.npz`` is the default and the only format the library reads back).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from exowavenet_lib.transit.detector import TransitDetector
from exowavenet_lib.transit.io import load_lightcurve
from exowavenet_lib.transit.preprocess import Windows, concat_windows
from exowavenet_lib.transit.train import TRAINING_NOISE, save_windows, simulated_windows


def _write_hdf5(path: Path, windows: Windows, arrays: dict[str, np.ndarray]) -> Path:
    try:
        import h5py
    except ImportError as err:
        raise SystemExit("--format hdf5 needs h5py, which is not installed; use the default --format npz") from err
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        for k in Windows.__dataclass_fields__:
            f.create_dataset(k, data=getattr(windows, k), compression="gzip")
        for k, v in arrays.items():
            f.create_dataset(k, data=v.astype("S") if v.dtype.kind == "U" else v, compression="gzip")
    tmp.replace(path)
    return path


def write(path: Path, windows: Windows, arrays: dict[str, np.ndarray], fmt: str) -> Path:
    """Write ``windows`` and the per-window ``arrays`` as .npz (atomically) or HDF5."""
    if fmt == "hdf5":
        return _write_hdf5(path, windows, arrays)
    return save_windows(path, windows, **arrays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="source", required=True)
    sim = sub.add_parser("simulate", help="simulated Kepler light curves with injected transits (labelled)")
    sim.add_argument("--n", type=int, default=1000, help="number of light curves")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--n-cadences", type=int, default=None, help="light-curve length (default: one window)")
    sim.add_argument("--snr", type=float, nargs=2, default=(4.0, 40.0), metavar=("LOW", "HIGH"),
                     help="transit SNR range (per window when --n-cadences equals --window)")
    sim.add_argument("--noise", choices=sorted(TRAINING_NOISE), default="variable")
    sim.add_argument("--transit-fraction", type=float, default=0.5)
    files = sub.add_parser("files", help="light-curve files (.fits, .csv, .npz), unlabelled")
    files.add_argument("files", nargs="+", type=Path, metavar="FILE")
    files.add_argument("--model", default=None, metavar="NAME|PATH",
                       help="take window, stride and preprocessing from this detector (default: the shipped one)")
    for p in (sim, files):
        p.add_argument("--window", type=int, default=1024)
        p.add_argument("--stride", type=int, default=512)
        p.add_argument("--out", type=Path, required=True, help="output file (.npz, or .h5 with --format hdf5)")
        p.add_argument("--format", choices=["npz", "hdf5"], default="npz")
    args = parser.parse_args(argv)
    if args.window < 1 or args.stride < 1:
        parser.error("--window and --stride must be >= 1")
    if args.source == "simulate":
        w, snr, _ = simulated_windows(args.n, seed=args.seed, window=args.window, stride=args.stride,
                                      n_cadences=args.n_cadences, snr_range=tuple(args.snr), noise=args.noise,
                                      transit_fraction=args.transit_fraction, progress=sys.stderr.isatty())
        arrays = {"snr": snr}
    else:
        detector = TransitDetector.load(args.model)
        detector.window, detector.stride = args.window, args.stride
        parts, names = [], []
        for i, path in enumerate(args.files):
            part = detector.windows(load_lightcurve(path))
            part.source[:] = i
            parts.append(part)
            names += [str(path)] * len(part)
        w, arrays = concat_windows(parts), {"filename": np.array(names)}
    out = write(args.out, w, arrays, args.format)
    print(f"wrote {out}: {len(w)} windows of {w.x.shape[1]} samples"
          + (f", {int(w.y.sum())} with a transit" if args.source == "simulate" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
