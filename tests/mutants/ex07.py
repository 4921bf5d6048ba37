"""Plausible wrong answers for notebook 07 (a Time2Vec transformer for irregular light curves).

The underscored classes and functions are correct (they follow the solution notebook); each mutant differs from them
in one mistake of one part.
"""

import math

import torch
from torch import nn

# ---------------------------------------------------------------- correct building blocks


class _Time2Vec(nn.Module):
    """A correct Time2Vec."""

    def __init__(self, out_features, min_period=0.05, max_period=5.0):
        super().__init__()
        periods = torch.logspace(math.log10(max_period), math.log10(min_period), out_features - 1)
        self.omega = nn.Parameter(torch.cat([torch.ones(1), 2 * math.pi / periods]))
        self.phi = nn.Parameter(torch.cat([torch.zeros(1), 2 * math.pi * torch.rand(out_features - 1)]))

    def _times(self, t):
        return t.squeeze(-1) if t.dim() == 3 else t

    def forward(self, t):
        z = self._times(t).unsqueeze(-1) * self.omega + self.phi
        return torch.cat([z[..., :1], torch.sin(z[..., 1:])], dim=-1)


class _PositionalTime2Vec(nn.Module):
    """A correct PositionalTime2Vec."""

    def __init__(self, out_features, d_model, **time2vec_kwargs):
        super().__init__()
        self.time2vec = _Time2Vec(out_features, **time2vec_kwargs)
        self.projection = nn.Linear(out_features, d_model)

    def forward(self, t):
        return self.projection(self.time2vec(t))


def _masked_mean(h, mask):
    total = torch.where(mask.unsqueeze(-1), h, torch.zeros((), dtype=h.dtype)).sum(dim=1)
    return total / mask.sum(dim=1, keepdim=True).clamp_min(1).to(h.dtype)


def _causal_mask(n_steps, device=None):
    return torch.ones(n_steps, n_steps, dtype=torch.bool, device=device).triu(diagonal=1)


class _Transformer(nn.Module):
    """A correct LightCurveTransformer."""

    def __init__(self, n_features, n_classes, d_model=32, n_heads=4, n_layers=2, dim_feedforward=64, dropout=0.1,
                 time2vec_dim=16, min_period=0.05, max_period=5.0):
        super().__init__()
        self.value_embedding = nn.Linear(n_features - 1, d_model)
        self.time_embedding = _PositionalTime2Vec(time2vec_dim, d_model, min_period=min_period, max_period=max_period)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward, dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.head = nn.Linear(d_model, n_classes)

    def embed(self, x, mask):
        x = torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype))
        return self.value_embedding(x[..., 1:]) + self.time_embedding(x[..., 0])

    def encode_steps(self, x, mask, attn_mask=None):
        return self.encoder(self.embed(x, mask), mask=attn_mask, src_key_padding_mask=~mask)

    def pool(self, h, mask):
        return _masked_mean(h, mask)

    def forward(self, x, mask):
        return self.head(self.pool(self.encode_steps(x, mask), mask))


class _Causal(_Transformer):
    """A correct CausalLightCurveTransformer."""

    def attn_mask(self, x):
        return _causal_mask(x.shape[1], x.device)

    def forward(self, x, mask):
        return self.head(_masked_mean(self.encode_steps(x, mask, self.attn_mask(x)), mask))

    def running_mean(self, h, mask):
        valid = mask.unsqueeze(-1)
        return torch.where(valid, h, 0.0).cumsum(1) / valid.cumsum(1).clamp_min(1).to(h.dtype)

    def forward_sequence(self, x, mask):
        return self.head(self.running_mean(self.encode_steps(x, mask, self.attn_mask(x)), mask))


# ---------------------------------------------------------------- 1a Time2Vec


class T2VAllPeriodic(_Time2Vec):
    """sin on every component: there is no linear (non-periodic) term."""

    def forward(self, t):
        return torch.sin(self._times(t).unsqueeze(-1) * self.omega + self.phi)


class T2VCosine(_Time2Vec):
    """cos instead of sin for the periodic components (cos(ωt + φ) = sin(ωt + φ + π/2): not the specified form)."""

    def forward(self, t):
        z = self._times(t).unsqueeze(-1) * self.omega + self.phi
        return torch.cat([z[..., :1], torch.cos(z[..., 1:])], dim=-1)


class T2VLinearLast(_Time2Vec):
    """Linear term on the last component and sin on the others, including component 0."""

    def forward(self, t):
        z = self._times(t).unsqueeze(-1) * self.omega + self.phi
        return torch.cat([torch.sin(z[..., :-1]), z[..., -1:]], dim=-1)


class T2VFrozen(nn.Module):
    """omega and phi are plain tensors, not nn.Parameters: the frequencies can never be learned."""

    def __init__(self, out_features, min_period=0.05, max_period=5.0):
        super().__init__()
        periods = torch.logspace(math.log10(max_period), math.log10(min_period), out_features - 1)
        self.omega = torch.cat([torch.ones(1), 2 * math.pi / periods])
        self.phi = torch.cat([torch.zeros(1), 2 * math.pi * torch.rand(out_features - 1)])

    def forward(self, t):
        z = (t.squeeze(-1) if t.dim() == 3 else t).unsqueeze(-1) * self.omega + self.phi
        return torch.cat([z[..., :1], torch.sin(z[..., 1:])], dim=-1)


class T2VPeriodsAsFrequencies(_Time2Vec):
    """Initialises omega with the periods themselves instead of the angular frequencies 2π / period."""

    def __init__(self, out_features, min_period=0.05, max_period=5.0):
        super().__init__(out_features, min_period, max_period)
        periods = torch.logspace(math.log10(max_period), math.log10(min_period), out_features - 1)
        with torch.no_grad():
            self.omega[1:] = periods


class T2VNoSqueeze(_Time2Vec):
    """Does not squeeze times of shape (B, T, 1): returns (B, T, 1, k)."""

    def forward(self, t):
        z = t.unsqueeze(-1) * self.omega + self.phi
        return torch.cat([z[..., :1], torch.sin(z[..., 1:])], dim=-1)


# ---------------------------------------------------------------- 1b PositionalTime2Vec


class PTVIndexPositions(_PositionalTime2Vec):
    """Encodes the step index 0, 1, 2, ... instead of the observation times."""

    def forward(self, t):
        index = torch.arange(t.shape[1], dtype=t.dtype).expand(t.shape[0], -1)
        return self.projection(self.time2vec(index))


class PTVNoProjection(nn.Module):
    """Returns Time2Vec(t) itself: width out_features, not d_model (no projection)."""

    def __init__(self, out_features, d_model, **time2vec_kwargs):
        super().__init__()
        self.time2vec = _Time2Vec(out_features, **time2vec_kwargs)
        self.projection = nn.Linear(out_features, d_model)

    def forward(self, t):
        return self.time2vec(t)


class PTVLinearTimeOnly(nn.Module):
    """Projects the raw time, Linear(1, d_model)(t): a linear trend with no periodic components."""

    def __init__(self, out_features, d_model, **time2vec_kwargs):
        super().__init__()
        self.time2vec = _Time2Vec(out_features, **time2vec_kwargs)
        self.projection = nn.Linear(out_features, d_model)
        self.raw = nn.Linear(1, d_model)

    def forward(self, t):
        return self.raw(t.unsqueeze(-1))


class PTVDropsKwargs(_PositionalTime2Vec):
    """Forgets to pass min_period/max_period on to Time2Vec: the defaults are used instead."""

    def __init__(self, out_features, d_model, **time2vec_kwargs):
        super().__init__(out_features, d_model)


# ---------------------------------------------------------------- 2a masked_mean


def mean_over_all_steps(h, mask):
    """Plain mean over all T steps, padded ones included."""
    return h.mean(dim=1)


def divides_by_total_steps(h, mask):
    """Sums the valid steps correctly but divides by T instead of the number of valid steps."""
    return torch.where(mask.unsqueeze(-1), h, 0.0).sum(dim=1) / h.shape[1]


def sum_not_mean(h, mask):
    """Masked sum: never divides by the number of valid steps."""
    return torch.where(mask.unsqueeze(-1), h, 0.0).sum(dim=1)


def counts_but_sums_padding(h, mask):
    """Divides by the number of valid steps but sums every step, padded ones included."""
    return h.sum(dim=1) / mask.sum(dim=1, keepdim=True)


def mean_in_place(h, mask):
    """Zeroes the padded steps of h in place: the caller's tensor is modified."""
    h[~mask] = 0.0
    return h.sum(dim=1) / mask.sum(dim=1, keepdim=True)


# ---------------------------------------------------------------- 2b LightCurveTransformer


class TransformerIgnoresMask(_Transformer):
    """Never passes a key padding mask: valid steps attend to the padding."""

    def encode_steps(self, x, mask, attn_mask=None):
        return self.encoder(self.embed(x, mask), mask=attn_mask)


class TransformerMaskNotInverted(_Transformer):
    """Passes src_key_padding_mask=mask: attention reads only the padding (and nothing at all in full rows)."""

    def encode_steps(self, x, mask, attn_mask=None):
        return self.encoder(self.embed(x, mask), mask=attn_mask, src_key_padding_mask=mask)


class TransformerMeanOverPadding(_Transformer):
    """Pools with h.mean(1): padded steps enter the mean."""

    def pool(self, h, mask):
        return h.mean(dim=1)


class TransformerLastStep(_Transformer):
    """Pools with h[:, -1], the last step of the padded batch: padding for every shorter sequence."""

    def pool(self, h, mask):
        return h[:, -1]


class TransformerNoTime(_Transformer):
    """Never uses the times: the step embedding is the value embedding alone."""

    def embed(self, x, mask):
        x = torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype))
        return self.value_embedding(x[..., 1:])


class TransformerIndexTime(_Transformer):
    """Feeds Time2Vec the step index instead of the observation time."""

    def embed(self, x, mask):
        x = torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype))
        index = torch.arange(x.shape[1], dtype=x.dtype).expand(x.shape[0], -1)
        return self.value_embedding(x[..., 1:]) + self.time_embedding(index)


# ---------------------------------------------------------------- 3a regular_times


def _regular(x, mask, *, lengths=None, start=True):
    out = x.clone()
    n = mask.sum(dim=1) if lengths is None else lengths
    rows = torch.arange(x.shape[0])
    first = x[:, 0, 0] if start else torch.zeros(x.shape[0])
    last = x[rows, mask.sum(dim=1) - 1, 0]
    step = (last - first) / (n - 1).clamp_min(1)
    times = first[:, None] + torch.arange(x.shape[1]) * step[:, None]
    out[..., 0] = torch.where(mask, times, 0.0)
    return out


def regular_over_padded_length(x, mask):
    """Spreads the span over T - 1 steps of the padded batch instead of the row's own n - 1."""
    return _regular(x, mask, lengths=torch.full((x.shape[0],), x.shape[1]))


def regular_in_place(x, mask):
    """Writes the new times into x itself: the caller's batch is modified."""
    x[..., 0] = _regular(x, mask)[..., 0]
    return x


def regular_raw_index(x, mask):
    """Uses the bare step index 0, 1, 2, ... as the time, ignoring the span of the observations."""
    out = x.clone()
    out[..., 0] = torch.where(mask, torch.arange(x.shape[1], dtype=x.dtype).expand(x.shape[0], -1), 0.0)
    return out


def regular_from_zero(x, mask):
    """Starts every row at time 0 instead of at its first observation time."""
    return _regular(x, mask, start=False)


# ---------------------------------------------------------------- 4a BandEmbedding


class _BandEmbedding(nn.Module):
    def __init__(self, n_bands, d_model):
        super().__init__()
        self.embedding = nn.Embedding(n_bands, d_model)


class BandByPosition(_BandEmbedding):
    """Looks up the vector by step position (step i gets weight[i % n_bands]), not by band."""

    def forward(self, onehot):
        steps = torch.arange(onehot.shape[1]) % self.embedding.num_embeddings
        return self.embedding(steps).expand(onehot.shape[0], -1, -1) * onehot.sum(-1, keepdim=True)


class BandArgmax(_BandEmbedding):
    """embedding(onehot.argmax(-1)): an all-zero padded row gets band 0's vector instead of nothing."""

    def forward(self, onehot):
        return self.embedding(onehot.argmax(dim=-1))


class BandColumnsReversed(_BandEmbedding):
    """Reads the one-hot columns in reverse: band 0 gets the last band's vector."""

    def forward(self, onehot):
        return onehot.flip(-1) @ self.embedding.weight


class BandLinearWithBias(nn.Module):
    """nn.Linear(n_bands, d_model) with a bias: padded rows get the bias, and there is no nn.Embedding."""

    def __init__(self, n_bands, d_model):
        super().__init__()
        self.linear = nn.Linear(n_bands, d_model)

    def forward(self, onehot):
        return self.linear(onehot)


# ---------------------------------------------------------------- 5a causal_mask


def causal_mask_transposed(n_steps, device=None):
    """True below the diagonal: each step sees the future and none of its past."""
    return _causal_mask(n_steps, device).T


def causal_mask_blocks_self(n_steps, device=None):
    """triu(diagonal=0): a step cannot even attend to itself (step 0 attends to nothing)."""
    return torch.ones(n_steps, n_steps, dtype=torch.bool, device=device).triu(diagonal=0)


def causal_mask_float(n_steps, device=None):
    """A float 0/1 mask: PyTorch ADDS float masks to the scores, so 1.0 blocks nothing."""
    return _causal_mask(n_steps, device).float()


def causal_mask_inverted(n_steps, device=None):
    """True where attention is allowed (on and below the diagonal): PyTorch reads True as blocked."""
    return ~_causal_mask(n_steps, device)


# ---------------------------------------------------------------- 5b CausalLightCurveTransformer


class CausalTransposedMask(_Causal):
    """Uses the transposed mask: every step sees the future (and step 0 sees everything)."""

    def attn_mask(self, x):
        return _causal_mask(x.shape[1], x.device).T


class CausalNoMask(_Causal):
    """Forgets attn_mask: the encoder is bidirectional, so early steps see later ones."""

    def attn_mask(self, x):
        return None


class CausalCumulativeSum(_Causal):
    """Running sum instead of running mean: step i's logits grow with i and differ from forward."""

    def running_mean(self, h, mask):
        return torch.where(mask.unsqueeze(-1), h, 0.0).cumsum(1)


class CausalStepOutputOnly(_Causal):
    """Per-step logits from step i's encoder output alone, not the mean over steps 0..i as forward pools."""

    def running_mean(self, h, mask):
        return h


class CausalFullMeanEverywhere(_Causal):
    """Repeats the mean over the whole light curve at every step: early steps see the future through pooling."""

    def running_mean(self, h, mask):
        return _masked_mean(h, mask).unsqueeze(1).expand_as(h)


MUTANTS = {
    "1a": [T2VAllPeriodic, T2VCosine, T2VLinearLast, T2VFrozen, T2VPeriodsAsFrequencies, T2VNoSqueeze],
    "1b": [PTVIndexPositions, PTVNoProjection, PTVLinearTimeOnly, PTVDropsKwargs],
    "2a": [mean_over_all_steps, divides_by_total_steps, sum_not_mean, counts_but_sums_padding, mean_in_place],
    "2b": [TransformerIgnoresMask, TransformerMaskNotInverted, TransformerMeanOverPadding, TransformerLastStep,
           TransformerNoTime, TransformerIndexTime],
    "3a": [regular_over_padded_length, regular_in_place, regular_raw_index, regular_from_zero],
    "4a": [BandByPosition, BandArgmax, BandColumnsReversed, BandLinearWithBias],
    "5a": [causal_mask_transposed, causal_mask_blocks_self, causal_mask_float, causal_mask_inverted],
    "5b": [CausalTransposedMask, CausalNoMask, CausalCumulativeSum, CausalStepOutputOnly, CausalFullMeanEverywhere],
}
