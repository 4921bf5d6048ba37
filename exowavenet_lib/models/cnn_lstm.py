"""CNN-LSTM: a masked 1-D convolutional front-end for local shape, then a packed LSTM for the long-range sequence."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from exowavenet_lib.models._common import check_batch, positive_int, probability


class CNNLSTMClassifier(nn.Module):
    """Convolve over neighbouring observations, then run an LSTM over the convolved steps and classify its last state.

    Each conv block is ``Conv1d(kernel_size, padding="same") -> ReLU -> Dropout`` followed by zeroing the padded
    steps again. The convolution's own zero padding and the zeroed padded steps look the same to the kernel, so a
    step near a sequence's end sees zeros beyond it however much padding the batch carries: the valid outputs, and
    hence the logits, do not depend on the padding. The LSTM is packed (``pack_padded_sequence``), so it stops at
    each sequence's last valid step; length-1 sequences work.

    Parameters
    ----------
    n_features, n_classes : int
        Features per time step and number of classes.
    conv_channels : sequence of int, default (32, 32)
        Output channels of the conv blocks (at least one block).
    kernel_size : int, default 5
        Odd kernel width (observations), so the "same" padding is symmetric.
    hidden_size : int, default 64
        LSTM hidden units per direction.
    num_layers : int, default 1
        Stacked LSTM layers.
    bidirectional : bool, default False
    dropout : float, default 0.1
        After every conv block, between LSTM layers (when ``num_layers > 1``) and before the head.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        conv_channels: Sequence[int] = (32, 32),
        kernel_size: int = 5,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.n_features = positive_int("n_features", n_features)
        self.n_classes = positive_int("n_classes", n_classes)
        if isinstance(conv_channels, (str, bytes)) or not isinstance(conv_channels, Sequence):
            raise TypeError(f"conv_channels must be a sequence of channel counts such as (32, 32), got "
                            f"{conv_channels!r}")
        if len(conv_channels) == 0:
            raise ValueError("conv_channels must hold at least one channel count, got an empty sequence")
        channels = [positive_int(f"conv_channels[{i}]", c) for i, c in enumerate(conv_channels)]
        self.kernel_size = positive_int("kernel_size", kernel_size)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (symmetric 'same' padding), got {kernel_size}")
        hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("num_layers", num_layers)
        if not isinstance(bidirectional, bool):
            raise TypeError(f"bidirectional must be a bool, got {type(bidirectional).__name__}")
        dropout = probability("dropout", dropout)

        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(c_in, c_out, self.kernel_size, padding=self.kernel_size // 2),
                nn.ReLU(),
                nn.Dropout(dropout),
            )
            for c_in, c_out in zip([self.n_features, *channels[:-1]], channels, strict=True)
        )
        self.num_directions = 2 if bidirectional else 1
        self.rnn = nn.LSTM(
            channels[-1], hidden_size, num_layers=self.num_layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if self.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = hidden_size * self.num_directions
        self.head = nn.Linear(self.embedding_dim, self.n_classes)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the LSTM's final hidden state(s) of the last layer, (B, hidden_size * num_directions)."""
        x, lengths = check_batch(x, mask, self.n_features)
        valid = mask.unsqueeze(1).to(x.dtype)  # (B, 1, T)
        h = x.transpose(1, 2)  # (B, F, T), padded steps already zero
        for block in self.convs:
            h = block(h) * valid  # padded steps back to zero before the next kernel sees them
        packed = pack_padded_sequence(h.transpose(1, 2), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.rnn(packed)
        last_layer = h_n.view(self.num_layers, self.num_directions, x.shape[0], -1)[-1]
        return last_layer.permute(1, 0, 2).reshape(x.shape[0], self.embedding_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return logits (B, n_classes) for ``x`` (B, T, n_features) with ``mask`` (B, T) True on valid steps."""
        return self.head(self.dropout(self.encode(x, mask)))
