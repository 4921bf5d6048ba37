"""Transformer encoder for irregular light curves, with Time2Vec time encoding and optional causal attention."""

from __future__ import annotations

import torch
from torch import nn

from exowavenet_lib.models._common import check_batch, positive_int, probability
from exowavenet_lib.models.pooling import masked_cumulative_mean, masked_mean
from exowavenet_lib.models.time2vec import PositionalTime2Vec

FIRST_BAND_COLUMN = 3  # layout [t, flux, flux_err, onehot(band)...]


class Time2VecTransformerEncoder(nn.Module):
    """Classify padded light curves with a Transformer encoder whose notion of time is Time2Vec of ``x[..., 0]``.

    Step embedding = ``Linear(non-time features)`` + ``Linear(Time2Vec(t))`` (+ a learnable band vector); then a
    pre-norm ``nn.TransformerEncoder`` with ``src_key_padding_mask=~mask``, a final LayerNorm, the mean over the
    valid steps, and a linear head. Padded steps are zeroed on input and masked as keys, so no valid step ever sees
    them and the logits do not depend on how much padding a batch carries. Nested tensors are disabled, and
    PyTorch's inference fast path (eval mode without autograd) matches the autograd path on the valid steps; what it
    leaves at padded steps differs, which pooling ignores.

    Parameters
    ----------
    n_features, n_classes : int
        Features per step (``x[..., 0]`` is the time) and number of classes.
    d_model, n_heads, n_layers, dim_feedforward : int, default 64, 4, 2, 128
        Embedding width (divisible by ``n_heads``), attention heads, encoder layers, feed-forward width.
    dropout : float, default 0.1
        Dropout on the embedding and inside every encoder layer.
    time2vec_dim : int, default 16
        Width of the Time2Vec encoding before its projection to ``d_model``.
    n_bands : int, default 2
        Number of one-hot band columns ``x[..., 3:3 + n_bands]`` (used when ``band_embeddings``).
    band_embeddings : bool, default False
        Take the band one-hot columns out of the feature projection and add a learnable vector per band instead
        (``nn.Embedding`` looked up through the one-hot, so an all-zero row adds nothing). The capacity is the same
        as projecting the one-hot columns; what changes is an explicit, inspectable vector per band.
    causal : bool, default False
        Each step attends only to itself and earlier steps, for real-time classification; enables
        :meth:`forward_sequence`.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        time2vec_dim: int = 16,
        n_bands: int = 2,
        band_embeddings: bool = False,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.n_features = positive_int("n_features", n_features)
        self.n_classes = positive_int("n_classes", n_classes)
        d_model = positive_int("d_model", d_model)
        n_heads = positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        n_layers = positive_int("n_layers", n_layers)
        dim_feedforward = positive_int("dim_feedforward", dim_feedforward)
        dropout = probability("dropout", dropout)
        time2vec_dim = positive_int("time2vec_dim", time2vec_dim)
        self.n_bands = positive_int("n_bands", n_bands)
        for name, flag in (("band_embeddings", band_embeddings), ("causal", causal)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        self.causal = causal

        band_columns = list(range(FIRST_BAND_COLUMN, FIRST_BAND_COLUMN + self.n_bands))
        if band_embeddings:
            if self.n_features < FIRST_BAND_COLUMN + self.n_bands:
                raise ValueError(
                    f"n_features={self.n_features} is too small for band_embeddings with n_bands={self.n_bands}: "
                    f"the layout [t, flux, flux_err, onehot(band)...] needs at least {FIRST_BAND_COLUMN + self.n_bands}"
                )
            value_columns = [c for c in range(1, self.n_features) if c not in band_columns]
            self.band_embedding: nn.Embedding | None = nn.Embedding(self.n_bands, d_model)
            nn.init.normal_(self.band_embedding.weight, std=0.02)
        else:
            if self.n_features < 2:
                raise ValueError(f"n_features must be >= 2 (the time plus at least one feature), got {self.n_features}")
            value_columns = list(range(1, self.n_features))
            self.band_embedding = None
        self.register_buffer("value_columns", torch.tensor(value_columns, dtype=torch.long), persistent=False)
        self.register_buffer("band_columns", torch.tensor(band_columns, dtype=torch.long), persistent=False)

        self.value_embedding = nn.Linear(len(value_columns), d_model)
        self.time_embedding = PositionalTime2Vec(time2vec_dim, d_model)
        self.embedding_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        self.embedding_dim = d_model
        self.head = nn.Linear(d_model, self.n_classes)

    def encode_steps(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the encoder output per step (B, T, d_model); values at padded steps are meaningless."""
        x, _ = check_batch(x, mask, self.n_features)
        h = self.value_embedding(x.index_select(-1, self.value_columns)) + self.time_embedding(x[..., 0])
        if self.band_embedding is not None:
            h = h + x.index_select(-1, self.band_columns) @ self.band_embedding.weight
        h = self.embedding_dropout(h)
        attn_mask = None
        if self.causal:
            steps = x.shape[1]
            attn_mask = torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(diagonal=1)  # True = blocked
        return self.encoder(h, mask=attn_mask, src_key_padding_mask=~mask)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the mean of the encoder outputs over the valid steps, (B, d_model)."""
        return masked_mean(self.encode_steps(x, mask), mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return logits (B, n_classes) for ``x`` (B, T, n_features) with ``mask`` (B, T) True on valid steps."""
        return self.head(self.encode(x, mask))

    def forward_sequence(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return per-step logits (B, T, n_classes): step ``i`` classifies the light curve seen up to step ``i``.

        Uses the running mean of the causal encoder outputs, so the logits at a sequence's last valid step (and at
        every padded step after it) equal :meth:`forward`'s. Requires ``causal=True``: otherwise every step would
        already have seen the future.
        """
        if not self.causal:
            raise ValueError("forward_sequence needs a model built with causal=True (steps must not see the future)")
        return self.head(masked_cumulative_mean(self.encode_steps(x, mask), mask))
