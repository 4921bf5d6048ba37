"""ExoWaveNet transit detection: loaders, preprocessing, the WaveNet-style model, training and the detector."""

from exowavenet_lib.transit.bls import bls_search, bls_window_scores
from exowavenet_lib.transit.detector import TransitDetector, available_pretrained, detect_files
from exowavenet_lib.transit.injection import injection_recovery, plot_injection_recovery, recall_at_fpr
from exowavenet_lib.transit.io import bkjd, load_csv, load_kepler_fits, load_lightcurve, load_npz
from exowavenet_lib.transit.model import ExoWaveNet, FoldPooling
from exowavenet_lib.transit.preprocess import (
    Windows,
    clean,
    concat_windows,
    detrend,
    normalize,
    prepare,
    segment,
    windows_around,
)
from exowavenet_lib.transit.train import train_detector

__all__ = [
    "ExoWaveNet",
    "FoldPooling",
    "TransitDetector",
    "Windows",
    "available_pretrained",
    "bkjd",
    "bls_search",
    "bls_window_scores",
    "clean",
    "concat_windows",
    "detect_files",
    "detrend",
    "injection_recovery",
    "load_csv",
    "load_kepler_fits",
    "load_lightcurve",
    "load_npz",
    "normalize",
    "plot_injection_recovery",
    "prepare",
    "recall_at_fpr",
    "segment",
    "train_detector",
    "windows_around",
]
