"""MC dropout and its uncertainty decomposition, calibration (ECE vs torchmetrics, temperature scaling), CNN-LSTM,
model comparison."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassCalibrationError

from exowavenet_lib.calibration import (
    TemperatureScaler,
    brier_score,
    calibration_bins,
    deep_ensemble_predict,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_diagram,
)
from exowavenet_lib.comparison import COLUMNS, ModelComparison, default_architectures
from exowavenet_lib.models._common import check_batch
from exowavenet_lib.models.cnn_lstm import CNNLSTMClassifier
from exowavenet_lib.models.pooling import masked_mean
from exowavenet_lib.models.transformer import Time2VecTransformerEncoder
from exowavenet_lib.uncertainty import (
    BayesianTransformerEncoder,
    decompose_uncertainty,
    enable_mc_dropout,
    mc_predict,
)

matplotlib.use("Agg")

N_FEATURES, N_CLASSES = 5, 3
SMALL = {"d_model": 16, "n_heads": 2, "n_layers": 1, "dim_feedforward": 32, "time2vec_dim": 4}


def make_batch(lengths: list[int], seed: int = 0, pad_to: int | None = None, pad_value: float = 0.0) -> dict:
    """A contract batch with random valid steps, padded (with ``pad_value``) to ``pad_to`` steps."""
    gen = torch.Generator().manual_seed(seed)
    steps = pad_to or max(lengths)
    x = torch.full((len(lengths), steps, N_FEATURES), pad_value)
    mask = torch.zeros(len(lengths), steps, dtype=torch.bool)
    for row, n in enumerate(lengths):
        x[row, :n] = torch.randn(n, N_FEATURES, generator=gen)
        x[row, :n, 0] = torch.sort(torch.rand(n, generator=gen)).values
        mask[row, :n] = True
    return {"x": x, "mask": mask, "lengths": torch.tensor(lengths), "y": torch.arange(len(lengths)) % N_CLASSES}


class NormDropoutModel(nn.Module):
    """Pooled features -> Linear -> BatchNorm -> ReLU -> Dropout -> LayerNorm -> head, plus an attention block."""

    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2, dropout=dropout, batch_first=True)
        self.embed = nn.Linear(N_FEATURES, 8)
        self.body = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(dropout), nn.LayerNorm(8))
        self.head = nn.Linear(8, N_CLASSES)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, _ = check_batch(x, mask, N_FEATURES)
        h = self.embed(x)
        h, _ = self.attention(h, h, h, key_padding_mask=~mask)
        return self.head(self.body(masked_mean(h, mask)))


# ---------------------------------------------------------------------------------------------------- MC dropout


def test_enable_mc_dropout_switches_dropout_and_functional_dropout_only():
    model = nn.ModuleDict({
        "net": NormDropoutModel(),
        "layer": nn.TransformerEncoderLayer(8, 2, 16, 0.1, batch_first=True),
        "lstm": nn.LSTM(4, 4, num_layers=2, dropout=0.2),
        "lstm_no_dropout": nn.LSTM(4, 4, num_layers=2),
    }).eval()
    switched = enable_mc_dropout(model)
    assert set(switched) == {
        "net.attention", "net.body.3", "layer", "layer.self_attn", "layer.dropout", "layer.dropout1",
        "layer.dropout2", "lstm",
    }
    for name, module in model.named_modules():
        assert module.training == (name in switched), name
    assert not model["net"].body[1].training and not model["layer"].norm1.training  # BatchNorm / LayerNorm


def test_transformer_layer_fast_path_skips_dropout_unless_the_layer_flag_is_set():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, 0.5, batch_first=True).eval()
    x = torch.randn(2, 5, 8)
    for module in layer.modules():  # the naive approach: only the nn.Dropout children
        if isinstance(module, nn.Dropout):
            module.train()
    with torch.no_grad():
        assert torch.equal(layer(x), layer(x)), "eval-mode fast path ignores nn.Dropout children"
        enable_mc_dropout(layer)
        assert not torch.equal(layer(x), layer(x))


def test_mc_predict_keeps_batchnorm_stats_and_restores_mixed_modes():
    torch.manual_seed(0)
    model = NormDropoutModel()
    batch = make_batch([3, 5, 2, 4], seed=1)
    model.train()
    model(batch["x"], batch["mask"])  # non-trivial running statistics
    model.head.eval()  # a mixed mode to restore
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = {name: m.training for name, m in model.named_modules()}
    result = mc_predict(model, batch, n_samples=8, seed=0)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "weights and BatchNorm buffers unchanged"
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert result.probs.shape == (8, 4, N_CLASSES)
    assert np.array_equal(result.y_true, batch["y"].numpy())
    # BatchNorm in eval mode: a single input is normalised with the running statistics (train mode would fail).
    single = make_batch([3], seed=2)
    assert mc_predict(model, single, n_samples=2).probs.shape == (2, 1, N_CLASSES)


def test_mc_samples_differ_with_dropout_and_are_identical_without():
    batch = make_batch([4, 7, 1], seed=3)
    torch.manual_seed(0)
    dropout_model = Time2VecTransformerEncoder(N_FEATURES, N_CLASSES, **SMALL, dropout=0.3)
    noisy = mc_predict(dropout_model, batch, 5, seed=0)
    assert not np.allclose(noisy.probs[0], noisy.probs[1])
    assert (noisy.epistemic > 0).all() and (noisy.std > 0).all()
    assert np.array_equal(mc_predict(dropout_model, batch, 5, seed=0).probs, noisy.probs)  # seeded masks
    assert dropout_model.training, "a model in training mode goes back to training mode"
    torch.manual_seed(0)
    model = Time2VecTransformerEncoder(N_FEATURES, N_CLASSES, **SMALL, dropout=0.0).eval()
    exact = mc_predict(model, batch, 5)
    assert all(np.array_equal(exact.probs[0], exact.probs[s]) for s in range(5))
    assert np.all(exact.epistemic == 0) and np.all(exact.std == 0)
    assert not model.training


def test_mc_predict_over_a_loader_matches_the_batches():
    items = [{"x": make_batch([n], seed=n)["x"][0], "length": n, "y": n % N_CLASSES} for n in (2, 5, 3, 6, 1)]
    from exowavenet_lib.data import collate_lightcurves

    loader = DataLoader(items, batch_size=2, collate_fn=collate_lightcurves)
    torch.manual_seed(0)
    model = CNNLSTMClassifier(N_FEATURES, N_CLASSES, conv_channels=(8,), hidden_size=8, dropout=0.2)
    result = mc_predict(model, loader, n_samples=4, seed=1)
    assert result.probs.shape == (4, 5, N_CLASSES)
    assert np.array_equal(result.y_true, [2, 2, 0, 0, 1])
    assert list(result.to_pandas().columns) == ["y_true", "prediction", "confidence", "total", "aleatoric",
                                                "epistemic", "std"]


@settings(max_examples=40)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(2, 5), st.integers(0, 10_000))
def test_decomposition_identities(samples, inputs, classes, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(classes, 0.5), size=(samples, inputs))
    result = decompose_uncertainty(probs)
    np.testing.assert_allclose(result.total, result.aleatoric + result.epistemic, atol=1e-12)
    assert (result.total >= 0).all() and (result.aleatoric >= -1e-12).all() and (result.epistemic >= 0).all()
    assert (result.total <= math.log(classes) + 1e-12).all()
    agreeing = decompose_uncertainty(np.repeat(probs[:1], 4, axis=0))
    np.testing.assert_allclose(agreeing.epistemic, 0.0, atol=1e-12)
    np.testing.assert_allclose(agreeing.total, agreeing.aleatoric, atol=1e-12)
    assert np.all(agreeing.std == 0)


def test_decomposition_hand_values():
    result = decompose_uncertainty([[[1.0, 0.0]], [[0.0, 1.0]]])  # two confident samples that disagree
    np.testing.assert_allclose([result.total[0], result.aleatoric[0], result.epistemic[0], result.std[0]],
                               [math.log(2), 0.0, math.log(2), 0.5])
    noise = decompose_uncertainty([[[0.5, 0.5]], [[0.5, 0.5]]])  # agreeing but unsure: purely aleatoric
    np.testing.assert_allclose([noise.total[0], noise.aleatoric[0], noise.epistemic[0]], [math.log(2)] * 2 + [0])
    with pytest.raises(ValueError, match="sum to 1"):
        decompose_uncertainty(np.ones((2, 1, 3)))


def test_bayesian_transformer_keeps_dropout_at_inference():
    torch.manual_seed(0)
    model = BayesianTransformerEncoder(N_FEATURES, N_CLASSES, **SMALL, dropout=0.3).eval()
    batch = make_batch([3, 6], seed=4)
    with torch.no_grad():
        assert not torch.equal(model(batch["x"], batch["mask"]), model(batch["x"], batch["mask"]))
    assert not model.encoder.layers[0].norm1.training
    result = model.forward_with_uncertainty(batch["x"], batch["mask"], n_samples=6, seed=0)
    assert result.probs.shape == (6, 2, N_CLASSES) and (result.epistemic > 0).all()
    assert model.embedding_dropout.training, "still in MC mode after forward_with_uncertainty"
    model.mc_dropout = False
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(batch["x"], batch["mask"]), model(batch["x"], batch["mask"]))
    with pytest.raises(ValueError, match="dropout must be > 0"):
        BayesianTransformerEncoder(N_FEATURES, N_CLASSES, **SMALL, dropout=0.0)


# ---------------------------------------------------------------------------------------------------- CNN-LSTM


@pytest.mark.parametrize("bidirectional", [False, True])
def test_cnn_lstm_is_padding_invariant(bidirectional):
    torch.manual_seed(0)
    model = CNNLSTMClassifier(N_FEATURES, N_CLASSES, conv_channels=(8, 6), kernel_size=3, hidden_size=8,
                              num_layers=2, bidirectional=bidirectional).eval()
    lengths = [1, 4, 7, 2]
    tight = make_batch(lengths, seed=5)
    loose = make_batch(lengths, seed=5, pad_to=12, pad_value=9.0)  # garbage in the padding
    with torch.no_grad():
        a = model(tight["x"], tight["mask"])
        b = model(loose["x"], loose["mask"])
        alone = model(tight["x"][1:2, :4], tight["mask"][1:2, :4])
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[1:2], alone, atol=1e-5, rtol=1e-5)
    assert a.shape == (4, N_CLASSES)
    with pytest.raises(ValueError, match="odd"):
        CNNLSTMClassifier(N_FEATURES, N_CLASSES, kernel_size=4)


# -------------------------------------------------------------------------------------------------- calibration


def torchmetrics_ece(probs: torch.Tensor, y: torch.Tensor, n_bins: int) -> float:
    metric = MulticlassCalibrationError(num_classes=probs.shape[1], n_bins=n_bins, norm="l1")
    return float(metric(probs, y))


@settings(max_examples=60)
@given(
    st.integers(1, 120), st.integers(2, 6), st.integers(1, 20), st.floats(0.1, 40.0), st.integers(0, 10_000)
)
@example(n=50, classes=3, n_bins=15, scale=60.0, seed=0)  # many confidences of exactly 1.0
@example(n=5, classes=2, n_bins=10, scale=0.0, seed=1)  # every confidence exactly 0.5, a bin edge
def test_uniform_ece_matches_torchmetrics(n, classes, n_bins, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=gen) * scale
    probs = torch.softmax(logits, dim=1)  # float32, like torchmetrics
    y = torch.randint(0, classes, (n,), generator=gen)
    ours = expected_calibration_error(probs, y, n_bins=n_bins)
    assert ours == pytest.approx(torchmetrics_ece(probs, y, n_bins), abs=1e-6)
    assert expected_calibration_error(probs.numpy(), y.numpy(), n_bins=n_bins) == pytest.approx(ours, abs=1e-12)


def test_ece_bin_edges_follow_torchmetrics():
    probs = torch.tensor([[0.6, 0.4], [0.5, 0.5], [1.0, 0.0], [0.8, 0.2]])
    y = torch.tensor([0, 1, 1, 0])
    bins = calibration_bins(probs, y, n_bins=5)
    # edges 0, .2, .4, .6, .8, 1 (float32): 0.6 -> [0.6, 0.8), 0.5 -> [0.4, 0.6), 0.8 -> [0.8, 1), 1.0 -> own bin
    assert bins.count.tolist() == [0, 0, 1, 1, 1, 1]
    assert bins.ece == pytest.approx(torchmetrics_ece(probs, y, 5), abs=1e-7)


@given(st.integers(1, 300), st.integers(1, 20), st.integers(0, 10_000))
def test_adaptive_bins_have_equal_mass(n, n_bins, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4), size=n)
    y = rng.integers(0, 4, size=n)
    bins = calibration_bins(probs, y, n_bins=n_bins, strategy="adaptive")
    assert bins.count.sum() == n and len(bins.count) == min(n, n_bins)
    assert bins.count.max() - bins.count.min() <= 1
    assert np.all(bins.lower[1:] >= bins.upper[:-1])  # consecutive groups of sorted confidences
    conf, correct = probs.max(1), (probs.argmax(1) == y)
    order = np.argsort(conf, kind="stable")
    reference = sum(len(g) / n * abs(correct[g].mean() - conf[g].mean()) for g in np.array_split(order, n_bins)
                    if len(g))
    assert expected_calibration_error(probs, y, n_bins, strategy="adaptive") == pytest.approx(reference, abs=1e-12)


def test_ece_is_near_zero_for_calibrated_and_large_for_overconfident_data():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, size=100_000)
    probs = np.stack([conf, 1 - conf], axis=1)
    y = np.where(rng.uniform(size=conf.size) < conf, 0, 1)  # class 0 comes true with probability conf
    for strategy in ("uniform", "adaptive"):
        assert expected_calibration_error(probs, y, strategy=strategy) < 0.01
    overconfident = np.stack([np.full(conf.size, 0.99), np.full(conf.size, 0.01)], axis=1)
    assert expected_calibration_error(overconfident, y) == pytest.approx(0.99 - (y == 0).mean(), abs=1e-9)


def test_brier_and_nll_hand_values():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    y = np.array([0, 2])
    assert brier_score(probs, y) == pytest.approx(((0.09 + 0.04 + 0.01) + (0.01 + 0.64 + 0.81)) / 2)
    assert negative_log_likelihood(probs, y) == pytest.approx(-(math.log(0.7) + math.log(0.1)) / 2)
    assert brier_score(np.eye(3), [0, 1, 2]) == 0.0 and brier_score(np.eye(3), [1, 2, 0]) == 2.0
    assert math.isfinite(negative_log_likelihood(np.eye(3), [1, 2, 0]))
    with pytest.raises(ValueError, match="sum to 1"):
        brier_score(np.array([[0.7, 0.7]]), [0])
    with pytest.raises(ValueError, match="class indices"):
        negative_log_likelihood(probs, [0, 3])
    with pytest.raises(TypeError, match="integer"):
        expected_calibration_error(probs, [0.0, 1.0])


def test_temperature_scaling_recovers_the_overconfidence_factor():
    gen = torch.Generator().manual_seed(0)
    true_logits = torch.randn(20_000, 5, generator=gen, dtype=torch.float64) * 1.5
    y = torch.multinomial(torch.softmax(true_logits, dim=1), 1, generator=gen).squeeze(1)
    overconfident = 3.0 * true_logits
    scaler = TemperatureScaler().fit(overconfident, y)
    assert scaler.fitted and scaler.temperature == pytest.approx(3.0, abs=0.15)
    before, after = torch.softmax(overconfident, dim=1).numpy(), scaler.transform(overconfident)
    assert expected_calibration_error(after, y) < expected_calibration_error(before, y) / 3
    assert negative_log_likelihood(after, y) < negative_log_likelihood(before, y)
    assert np.array_equal(after.argmax(1), before.argmax(1))
    with pytest.raises(ValueError, match="logits"):
        TemperatureScaler().fit(np.zeros(4), [0, 1, 0, 1])


def test_reliability_diagram_is_labelled():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3) * 0.3, size=500)
    y = rng.integers(0, 3, 500)
    fig = reliability_diagram(probs, y, n_bins=10)
    top, bottom = fig.axes
    assert f"ECE = {expected_calibration_error(probs, y, 10):.4f}" in top.get_title()
    assert top.get_ylabel() and bottom.get_xlabel() and bottom.get_ylabel()
    assert len(top.lines) == 1  # the diagonal
    plt.close(fig)
    saturated = np.vstack([probs, np.eye(3)])  # three confidences of exactly 1.0: an extra ECE bin
    fig = reliability_diagram(saturated, np.append(y, [0, 1, 2]), n_bins=10)
    assert len(fig.axes[1].patches) <= 10  # merged into the last bar for display
    plt.close(fig)


def test_deep_ensemble_averages_members_and_restores_modes():
    batch = make_batch([3, 5, 2], seed=6)
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(CNNLSTMClassifier(N_FEATURES, N_CLASSES, conv_channels=(4,), hidden_size=4, dropout=0.5))
    members[1].eval()  # members 0 and 2 stay in training mode
    result = deep_ensemble_predict(members, batch)
    assert [m.training for m in members] == [True, False, True]
    with torch.no_grad():
        expected = [torch.softmax(m.eval()(batch["x"], batch["mask"]), 1).numpy() for m in members]
    np.testing.assert_allclose(result.probs, np.stack(expected), atol=1e-6)
    np.testing.assert_allclose(result.mean_probs, np.mean(expected, axis=0), atol=1e-6)
    assert (result.epistemic > 0).all()


# ---------------------------------------------------------------------------------------------------- comparison


def test_model_comparison_table_for_the_four_architectures():
    import matplotlib.pyplot as plt

    from exowavenet_lib.data import LightCurveDataset, collate_lightcurves, stratified_split
    from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES, simulate_transients
    from exowavenet_lib.tracking import Tracker

    lcs, labels = simulate_transients(40, seed=0)
    splits = stratified_split(lcs, labels, fractions=(0.5, 0.25, 0.25), seed=0)
    loaders = [
        DataLoader(LightCurveDataset([lcs[i] for i in idx], [labels[i] for i in idx], classes=TRANSIENT_CLASSES,
                                     max_sequence_length=16), batch_size=16, shuffle=k == 0,
                   collate_fn=collate_lightcurves)
        for k, idx in enumerate(splits)
    ]
    architectures = default_architectures(N_FEATURES, len(TRANSIENT_CLASSES), width=8)
    with Tracker("exowavenet-tests", mode="disabled", verbose=False) as tracker:
        comparison = ModelComparison(architectures, *loaders, TRANSIENT_CLASSES, epochs=1, tracker=tracker,
                                     mc_samples=3, device="cpu")
        table = comparison.table()
    assert list(table.index) == ["LSTM", "Transformer", "Bayesian transformer", "CNN-LSTM"]
    assert list(table.columns) == list(COLUMNS)
    assert table.notna().all().all()
    for column in ("accuracy", "macro_f1", "rare_f1", "ece"):
        assert table[column].between(0, 1).all(), column
    assert (table["n_parameters"] > 0).all() and (table["train_time_s"] > 0).all()
    assert table.loc["Bayesian transformer", "mean_epistemic"] > 0
    assert tracker.summary["CNN-LSTM/test_accuracy"] == table.loc["CNN-LSTM", "accuracy"]
    fig = comparison.plot()
    assert len(fig.axes) == 6 and all(ax.get_title() for ax in fig.axes)
    plt.close(fig)
    with pytest.raises(TypeError, match="factory"):
        ModelComparison({"m": architectures["LSTM"]()}, *loaders, TRANSIENT_CLASSES, epochs=1)
    with pytest.raises(ValueError, match="rare_classes"):
        ModelComparison(architectures, *loaders, TRANSIENT_CLASSES, epochs=1, rare_classes=("KN",))


def test_uncertainty_calibration_metrics_and_rejection_curve():
    from exowavenet_lib.calibration import UncertaintyCalibration

    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.45, 0.55]])
    y = np.array([0, 1, 1, 0])  # wrong at rows 1 and 3
    report = UncertaintyCalibration(probs, y, uncertainty=[0.1, 0.9, 0.2, 0.8], n_bins=5)
    metrics = report.metrics()
    assert metrics["accuracy"] == 0.5
    assert metrics["ece"] == pytest.approx(expected_calibration_error(probs, y, 5))
    assert metrics["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.6, 0.45])))
    curve = report.rejection_curve([0.0, 0.5])
    assert curve["accuracy"].tolist() == [0.5, 1.0], "rejecting the two most uncertain removes both errors"
    samples = np.stack([probs, probs[:, ::-1]])
    mc = decompose_uncertainty(samples, y)
    from_mc = UncertaintyCalibration.from_mc(mc, score="epistemic")
    np.testing.assert_allclose(from_mc.uncertainty, mc.epistemic)
    with pytest.raises(ValueError, match="uncertainty"):
        UncertaintyCalibration(probs, y, uncertainty=[0.1])
    with pytest.raises(ValueError, match="y is required"):
        UncertaintyCalibration.from_mc(decompose_uncertainty(samples))
