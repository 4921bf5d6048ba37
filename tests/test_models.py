"""exowavenet_lib.models: padding invariance, packing, focal loss, Time2Vec, causal attention, and training."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from exowavenet_lib.models import (
    FocalLoss,
    LightCurveLSTM,
    PositionalTime2Vec,
    SimplePhotometryMLP,
    Time2Vec,
    Time2VecTransformerEncoder,
    masked_max,
    masked_mean,
)

N_BANDS = 2
N_FEATURES = 3 + N_BANDS  # [t, flux, flux_err, onehot(g, r)]
N_CLASSES = 3

SMALL_TRANSFORMER = {"d_model": 16, "n_heads": 2, "n_layers": 2, "dim_feedforward": 32, "time2vec_dim": 8}
MODELS: dict[str, Callable[[], nn.Module]] = {
    "mlp-mean": lambda: SimplePhotometryMLP(N_FEATURES, N_CLASSES, hidden=(16, 16), pooling="mean"),
    "mlp-max": lambda: SimplePhotometryMLP(N_FEATURES, N_CLASSES, hidden=(16,), pooling="max"),
    "mlp-meanmax": lambda: SimplePhotometryMLP(N_FEATURES, N_CLASSES, hidden=(16, 16), pooling="meanmax"),
    "lstm": lambda: LightCurveLSTM(N_FEATURES, N_CLASSES, hidden_size=16),
    "lstm-bi-2layers": lambda: LightCurveLSTM(N_FEATURES, N_CLASSES, hidden_size=8, num_layers=2,
                                              bidirectional=True, dropout=0.1),
    "gru-bi": lambda: LightCurveLSTM(N_FEATURES, N_CLASSES, hidden_size=8, bidirectional=True, cell="gru"),
    "transformer": lambda: Time2VecTransformerEncoder(N_FEATURES, N_CLASSES, **SMALL_TRANSFORMER),
    "transformer-causal-bands": lambda: Time2VecTransformerEncoder(
        N_FEATURES, N_CLASSES, **SMALL_TRANSFORMER, n_bands=N_BANDS, band_embeddings=True, causal=True
    ),
}
_EVAL_MODELS: dict[str, nn.Module] = {}


def eval_model(name: str) -> nn.Module:
    """One seeded instance per configuration, in eval mode (built once: hypothesis calls the tests many times)."""
    if name not in _EVAL_MODELS:
        torch.manual_seed(0)
        _EVAL_MODELS[name] = MODELS[name]().eval()
    return _EVAL_MODELS[name]


def make_batch(lengths: Sequence[int], seed: int, labels: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
    """A zero-padded batch in the contract's layout; with ``labels``, flux levels separate the classes."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(lengths), max(lengths), N_FEATURES)
    for row, n in enumerate(lengths):
        t = torch.sort(torch.rand(n, generator=gen) * 2.0).values
        x[row, :n, 0] = t - t[0]
        x[row, :n, 1] = torch.randn(n, generator=gen) * 0.3 + (0.0 if labels is None else labels[row] - 1.0)
        x[row, :n, 2] = torch.rand(n, generator=gen) * 0.1
        x[row, torch.arange(n), 3 + torch.randint(0, N_BANDS, (n,), generator=gen)] = 1.0
    mask = torch.arange(max(lengths)) < torch.tensor(lengths).unsqueeze(1)
    return x, mask


def pad(x: torch.Tensor, mask: torch.Tensor, extra: int, fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Append ``extra`` padded steps holding ``fill`` (mask False)."""
    x = torch.cat([x, torch.full((x.shape[0], extra, x.shape[2]), fill)], dim=1)
    return x, torch.cat([mask, torch.zeros(mask.shape[0], extra, dtype=torch.bool)], dim=1)


# ---------------------------------------------------------------------------------------------- padding invariance


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=10)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), extra=st.integers(1, 4),
       seed=st.integers(0, 2**16))
@example(lengths=[1], extra=3, seed=0)
@example(lengths=[1, 1, 1], extra=1, seed=1)
@example(lengths=[6, 1, 3], extra=2, seed=2)
def test_logits_do_not_depend_on_padding_or_batch_company(name, lengths, extra, seed):
    model = eval_model(name)
    x, mask = make_batch(lengths, seed)
    with torch.no_grad():
        logits = model(x, mask)
        padded = model(*pad(x, mask, extra))
        junk = model(*pad(x, mask, extra, fill=math.nan))  # whatever the padding holds is ignored
        alone = [model(x[row : row + 1, :n], mask[row : row + 1, :n]) for row, n in enumerate(lengths)]
    assert logits.shape == (len(lengths), N_CLASSES)
    torch.testing.assert_close(padded, logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(junk, logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat(alone), logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["transformer", "transformer-causal-bands"])
def test_transformer_inference_fast_path_matches_the_autograd_path(name):
    model = eval_model(name)
    x, mask = make_batch([7, 1, 4, 2], seed=5)
    with torch.no_grad():  # PyTorch's fused encoder-layer fast path runs only without autograd
        fast = model(x, mask)
    torch.testing.assert_close(fast, model(x, mask).detach(), atol=1e-5, rtol=0)


def test_masked_pooling_uses_only_valid_steps():
    h = torch.tensor([[[1.0], [3.0], [100.0]], [[-2.0], [-50.0], [-50.0]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    torch.testing.assert_close(masked_mean(h, mask), torch.tensor([[2.0], [-2.0]]))
    torch.testing.assert_close(masked_max(h, mask), torch.tensor([[3.0], [-2.0]]))


# --------------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: SimplePhotometryMLP(0, 3), ValueError, "n_features"),
        (lambda: SimplePhotometryMLP(5, 3, hidden=()), ValueError, "hidden"),
        (lambda: SimplePhotometryMLP(5, 3, hidden=64), TypeError, "hidden"),
        (lambda: SimplePhotometryMLP(5, 3, pooling="sum"), ValueError, "pooling"),
        (lambda: SimplePhotometryMLP(5, 3, dropout=1.0), ValueError, "dropout"),
        (lambda: LightCurveLSTM(5, 3, cell="rnn"), ValueError, "cell"),
        (lambda: LightCurveLSTM(5, 3, hidden_size=2.5), TypeError, "hidden_size"),
        (lambda: Time2VecTransformerEncoder(5, 3, d_model=30, n_heads=4), ValueError, "divisible by n_heads"),
        (lambda: Time2VecTransformerEncoder(5, 3, n_bands=3, band_embeddings=True), ValueError, "n_features=5"),
        (lambda: Time2VecTransformerEncoder(1, 3), ValueError, "n_features"),
        (lambda: Time2Vec(0), ValueError, "out_features"),
        (lambda: FocalLoss(gamma=-1.0), ValueError, "gamma"),
        (lambda: FocalLoss(alpha=[[1.0, 2.0]]), ValueError, "alpha"),
        (lambda: FocalLoss(alpha=[1.0, -2.0]), ValueError, "alpha"),
        (lambda: FocalLoss(alpha=0.25), TypeError, "alpha"),
        (lambda: FocalLoss(reduction="avg"), ValueError, "reduction"),
    ],
)
def test_bad_constructor_arguments_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda x, m: (x, m.float()), TypeError, "mask must be a bool"),
        (lambda x, m: (x[..., :4], m), ValueError, "n_features=5"),
        (lambda x, m: (x, m[:, :2]), ValueError, "mask must have shape"),
        (lambda x, m: (x, m & torch.tensor([[True], [False]])), ValueError, "at least one valid step"),
        (lambda x, m: (x, m & torch.tensor([False, True, True])), ValueError, "first `length` steps"),
        (lambda x, m: (x.index_put((torch.tensor(0), torch.tensor(0), torch.tensor(1)), torch.tensor(math.nan)), m),
         ValueError, "NaN"),
    ],
)
@pytest.mark.parametrize("name", ["mlp-mean", "lstm", "transformer"])
def test_bad_batches_are_rejected_with_a_clear_message(name, change, error, match):
    x, mask = make_batch([3, 2], seed=0)
    with pytest.raises(error, match=match):
        eval_model(name)(*change(x, mask))


# ------------------------------------------------------------------------------------------------------ LSTM/GRU


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_rnn_matches_the_plain_rnn(cell, bidirectional):
    torch.manual_seed(0)
    hidden = 8
    model = LightCurveLSTM(N_FEATURES, N_CLASSES, hidden_size=hidden, num_layers=2, bidirectional=bidirectional,
                           cell=cell).eval()

    def plain_final_state(seq: torch.Tensor) -> torch.Tensor:
        out, _ = model.rnn(seq)  # the same nn.LSTM/GRU on an ordinary tensor, no packing
        last = out[:, -1, :hidden]
        return torch.cat([last, out[:, 0, hidden:]], dim=-1) if bidirectional else last

    with torch.no_grad():
        x, mask = make_batch([6, 6, 6], seed=3)  # equal lengths: nothing to pack away
        torch.testing.assert_close(model(x, mask), model.head(plain_final_state(x)), atol=1e-6, rtol=0)
        lengths = [6, 3, 1]  # unequal: each row equals the plain RNN run on its own valid steps
        x, mask = make_batch(lengths, seed=4)
        expected = torch.cat([plain_final_state(x[row : row + 1, :n]) for row, n in enumerate(lengths)])
        torch.testing.assert_close(model.encode(x, mask), expected, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------------- focal loss


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("alpha", [None, [0.5, 2.0, 1.0, 3.0]])
def test_focal_loss_with_gamma_zero_is_cross_entropy(reduction, alpha):
    gen = torch.Generator().manual_seed(0)
    logits, y = torch.randn(20, 4, generator=gen) * 3, torch.randint(0, 4, (20,), generator=gen)
    weight = None if alpha is None else torch.tensor(alpha)
    expected = F.cross_entropy(logits, y, weight=weight, reduction=reduction)
    torch.testing.assert_close(FocalLoss(gamma=0.0, alpha=alpha, reduction=reduction)(logits, y), expected)


def test_focal_loss_down_weights_easy_examples():
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 3.0, 0.0]])
    y = torch.tensor([0, 0, 0])  # confidently right, barely right, confidently wrong
    ce = F.cross_entropy(logits, y, reduction="none")
    focal = FocalLoss(gamma=2.0, reduction="none")(logits, y)
    p = logits.softmax(-1)[torch.arange(3), y]
    torch.testing.assert_close(focal, (1 - p) ** 2 * ce)
    ratio = focal / ce
    assert focal[0] < ce[0] and ratio[0] < 0.01 < ratio[1] < ratio[2] < 1


def test_focal_loss_mean_is_normalised_by_the_class_weights():
    gen = torch.Generator().manual_seed(1)
    logits, y = torch.randn(12, 3, generator=gen), torch.randint(0, 3, (12,), generator=gen)
    alpha = torch.tensor([0.2, 1.0, 5.0])
    per_example = FocalLoss(gamma=2.0, alpha=alpha, reduction="none")(logits, y)
    torch.testing.assert_close(FocalLoss(gamma=2.0, alpha=alpha)(logits, y), per_example.sum() / alpha[y].sum())
    torch.testing.assert_close(FocalLoss(gamma=2.0, alpha=alpha, reduction="sum")(logits, y), per_example.sum())
    torch.testing.assert_close(FocalLoss(gamma=2.0, alpha=alpha.numpy())(logits, y), FocalLoss(2.0, alpha)(logits, y))


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
def test_focal_loss_gradients_are_finite_for_extreme_logits(gamma):
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [200.0, -200.0, 0.0], [0.0, 0.0, 0.0]],
                          requires_grad=True)
    y = torch.tensor([0, 0, 0, 2])  # certain and right, certain and wrong, saturated, uniform
    loss = FocalLoss(gamma=gamma, alpha=[1.0, 2.0, 0.5])(logits, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_focal_loss_checks_its_inputs():
    loss = FocalLoss(alpha=[1.0, 1.0, 1.0])
    logits = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="class indices in \\[0, 3\\)"):
        loss(logits, torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="int64"):
        loss(logits, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="alpha has 3 class weights but logits have 4"):
        loss(torch.zeros(2, 4), torch.tensor([0, 1]))


# ------------------------------------------------------------------------------------------------------ Time2Vec


def test_time2vec_first_component_is_linear_and_the_others_are_periodic():
    torch.manual_seed(0)
    t2v = Time2Vec(8).double()
    with torch.no_grad():
        t2v.omega[0], t2v.phi[0] = 0.7, -0.3
        t = torch.linspace(0.0, 3.0, 31, dtype=torch.float64).reshape(1, -1)
        out = t2v(t)
        assert out.shape == (1, 31, 8)
        linear = out[0, :, 0]
        torch.testing.assert_close(linear[2:] - 2 * linear[1:-1] + linear[:-2], torch.zeros(29, dtype=torch.float64))
        torch.testing.assert_close(linear, 0.7 * t[0] - 0.3)
        for i in range(1, 8):
            shifted = t2v(t + 2 * math.pi / t2v.omega[i])
            torch.testing.assert_close(shifted[..., i], out[..., i], atol=1e-9, rtol=0)
            assert not torch.allclose(out[..., i], out[0, 0, i])  # really varies with time


def test_time2vec_shapes_and_positional_projection():
    torch.manual_seed(0)
    t = torch.rand(3, 5)
    t2v = Time2Vec(6)
    torch.testing.assert_close(t2v(t.unsqueeze(-1)), t2v(t))
    positional = PositionalTime2Vec(6, 16)
    assert positional(t).shape == (3, 5, 16)
    torch.testing.assert_close(positional(t), positional.projection(positional.time2vec(t)))
    with pytest.raises(ValueError, match="t must have shape"):
        t2v(torch.rand(3, 5, 2))


# ---------------------------------------------------------------------------------------------- causal attention


def test_causal_transformer_ignores_later_observations_and_non_causal_does_not():
    causal, full = eval_model("transformer-causal-bands"), eval_model("transformer")
    x, mask = make_batch([8, 8, 6], seed=7)
    changed = x.clone()
    changed[:, 5, 1] += 3.0  # a later flux...
    changed[:, 5, 0] += 0.1  # ...observed at another time
    with torch.no_grad():
        before, after = causal.forward_sequence(x, mask), causal.forward_sequence(changed, mask)
        assert before.shape == (3, 8, N_CLASSES)
        torch.testing.assert_close(after[:, :5], before[:, :5], atol=1e-6, rtol=0)
        assert (after[:, 5] - before[:, 5]).abs().max() > 1e-3
        steps_before, steps_after = full.encode_steps(x, mask), full.encode_steps(changed, mask)
        assert (steps_after[:, :5] - steps_before[:, :5]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="causal=True"):
        full.forward_sequence(x, mask)


def test_per_step_logits_end_at_the_whole_sequence_logits():
    model = eval_model("transformer-causal-bands")
    lengths = [7, 1, 4]
    x, mask = make_batch(lengths, seed=8)
    with torch.no_grad():
        per_step, logits = model.forward_sequence(x, mask), model(x, mask)
        first_steps = torch.cat([model(x[row : row + 1, :2], mask[row : row + 1, :2]) for row in (0, 2)])
    last = per_step[torch.arange(3), torch.tensor(lengths) - 1]
    torch.testing.assert_close(last, logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(per_step[[0, 2], 1], first_steps, atol=1e-5, rtol=0)  # step i = prefix up to i


# ------------------------------------------------------------------------------------------------------ training


@pytest.mark.parametrize("name", MODELS)
def test_every_model_learns_a_separable_toy_problem(name):
    torch.manual_seed(1)
    model = MODELS[name]()
    labels = [i % N_CLASSES for i in range(18)]
    x, mask = make_batch([3 + i % 5 for i in range(18)], seed=9, labels=labels)
    y = torch.tensor(labels)
    loss_fn = FocalLoss(gamma=1.0) if "lstm" in name else nn.CrossEntropyLoss()

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            logits = model(x, mask)
        assert logits.shape == (18, N_CLASSES)
        return float(loss_fn(logits, y))

    before = eval_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(25):
        optimizer.zero_grad()
        loss_fn(model(x, mask), y).backward()
        optimizer.step()
    assert eval_loss() < 0.7 * before
