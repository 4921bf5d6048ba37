"""LSTM/GRU light-curve classifier that reads only the valid steps (packed sequences)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from exowavenet_lib.models._common import check_batch, choice, positive_int, probability

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class LightCurveLSTM(nn.Module):
    """Recurrent classifier: run an LSTM (or GRU) over the valid steps, classify its final hidden state.

    Sequences are packed (``pack_padded_sequence`` with ``enforce_sorted=False``), so the recurrence stops at each
    sequence's own last valid step and padding never enters. The representation is the last layer's final hidden
    state; when bidirectional, the forward direction's state after the last valid step concatenated with the
    backward direction's state after the first step.

    Parameters
    ----------
    n_features, n_classes : int
        Features per time step and number of classes.
    hidden_size : int, default 64
        Hidden units per direction.
    num_layers : int, default 1
        Stacked recurrent layers.
    bidirectional : bool, default False
        Also read each sequence backwards.
    dropout : float, default 0.0
        Dropout between stacked layers (when ``num_layers > 1``) and on the final state before the head.
    cell : {"lstm", "gru"}, default "lstm"
        Recurrent cell type.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        cell: str = "lstm",
    ) -> None:
        super().__init__()
        self.n_features = positive_int("n_features", n_features)
        self.n_classes = positive_int("n_classes", n_classes)
        hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("num_layers", num_layers)
        if not isinstance(bidirectional, bool):
            raise TypeError(f"bidirectional must be a bool, got {type(bidirectional).__name__}")
        dropout = probability("dropout", dropout)
        self.cell = choice("cell", cell, tuple(CELLS))

        self.num_directions = 2 if bidirectional else 1
        self.rnn = CELLS[self.cell](
            input_size=self.n_features,
            hidden_size=hidden_size,
            num_layers=self.num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if self.num_layers > 1 else 0.0,  # PyTorch only applies it between layers
        )
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = hidden_size * self.num_directions
        self.head = nn.Linear(self.embedding_dim, self.n_classes)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the final hidden state(s) of the last layer, (B, hidden_size * num_directions)."""
        x, lengths = check_batch(x, mask, self.n_features)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        h_n = state[0] if self.cell == "lstm" else state  # (num_layers * num_directions, B, H), batch order restored
        last_layer = h_n.view(self.num_layers, self.num_directions, x.shape[0], -1)[-1]
        return last_layer.permute(1, 0, 2).reshape(x.shape[0], self.embedding_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return logits (B, n_classes) for ``x`` (B, T, n_features) with ``mask`` (B, T) True on valid steps."""
        return self.head(self.dropout(self.encode(x, mask)))
