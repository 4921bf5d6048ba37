"""ExoWaveNet transit detection: loaders, preprocessing, the WaveNet-style model, training and the detector."""

from exowavenet_lib.transit.detector import TransitDetector, available_pretrained, detect_files
from exowavenet_lib.transit.io import bkjd, load_csv, load_kepler_fits, load_lightcurve, load_npz
from exowavenet_lib.transit.model import ExoWaveNet
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
    "TransitDetector",
    "Windows",
    "available_pretrained",
    "bkjd",
    "clean",
    "concat_windows",
    "detect_files",
    "detrend",
    "load_csv",
    "load_kepler_fits",
    "load_lightcurve",
    "load_npz",
    "normalize",
    "prepare",
    "segment",
    "train_detector",
    "windows_around",
]
