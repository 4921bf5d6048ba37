"""Data layer for the PyTorch notebooks (05 onwards): features, datasets, padding, augmentation, samplers, splits.

Imports torch (the top-level ``exowavenet_lib`` does not)::

    from exowavenet_lib.data import LightCurveDataset, collate_lightcurves, stratified_split

    train_idx, val_idx, test_idx = stratified_split(lcs, labels, seed=0)
    train = LightCurveDataset([lcs[i] for i in train_idx], [labels[i] for i in train_idx])
    loader = DataLoader(train, batch_size=64, shuffle=True, collate_fn=collate_lightcurves)
"""

from exowavenet_lib.data.augment import AddNoise, Augmentation, Compose, DropPoints, TimeShift, TimeStretch
from exowavenet_lib.data.collate import collate_lightcurves
from exowavenet_lib.data.dataset import (
    TRUNCATE_MODES,
    LightCurveDataset,
    classes_from_json,
    read_encoding,
    write_encoding,
)
from exowavenet_lib.data.features import (
    DEFAULT_BANDS,
    FEATURE_NAMES,
    TIME_SCALE,
    feature_names,
    lightcurve_features,
    n_features,
)
from exowavenet_lib.data.samplers import CLASS_WEIGHT_SCHEMES, BalancedBatchSampler, class_weights
from exowavenet_lib.data.splits import stratified_split

__all__ = [
    "CLASS_WEIGHT_SCHEMES",
    "DEFAULT_BANDS",
    "FEATURE_NAMES",
    "TIME_SCALE",
    "TRUNCATE_MODES",
    "AddNoise",
    "Augmentation",
    "BalancedBatchSampler",
    "Compose",
    "DropPoints",
    "LightCurveDataset",
    "TimeShift",
    "TimeStretch",
    "class_weights",
    "classes_from_json",
    "collate_lightcurves",
    "feature_names",
    "lightcurve_features",
    "n_features",
    "read_encoding",
    "stratified_split",
    "write_encoding",
]
