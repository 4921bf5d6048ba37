"""PyTorch models for padded light-curve batches, and the focal loss.

Every classifier is ``forward(x, mask) -> logits (B, n_classes)`` with ``x`` float (B, T, n_features) laid out as
``[t, flux, flux_err, onehot(band)...]`` and ``mask`` bool (B, T), True on each sequence's valid steps (padding at the
end only). Logits do not depend on the padding. ``encode(x, mask)`` returns the representation fed to the head.
"""

from exowavenet_lib.models.cnn_lstm import CNNLSTMClassifier
from exowavenet_lib.models.losses import FocalLoss
from exowavenet_lib.models.mlp import SimplePhotometryMLP
from exowavenet_lib.models.pooling import masked_cumulative_mean, masked_max, masked_mean
from exowavenet_lib.models.rnn import LightCurveLSTM
from exowavenet_lib.models.time2vec import PositionalTime2Vec, Time2Vec
from exowavenet_lib.models.transformer import Time2VecTransformerEncoder

__all__ = [
    "CNNLSTMClassifier",
    "FocalLoss",
    "LightCurveLSTM",
    "PositionalTime2Vec",
    "SimplePhotometryMLP",
    "Time2Vec",
    "Time2VecTransformerEncoder",
    "masked_cumulative_mean",
    "masked_max",
    "masked_mean",
]
