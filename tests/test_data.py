"""exowavenet_lib.data: features, dataset, collate, augmentations, splits and samplers against the shared contract."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from exowavenet_lib.data import (
    DEFAULT_BANDS,
    FEATURE_NAMES,
    TIME_SCALE,
    AddNoise,
    BalancedBatchSampler,
    Compose,
    DropPoints,
    LightCurveDataset,
    TimeShift,
    TimeStretch,
    class_weights,
    classes_from_json,
    collate_lightcurves,
    feature_names,
    lightcurve_features,
    n_features,
    read_encoding,
    stratified_split,
)
from exowavenet_lib.data.augment import WorkerRNG
from exowavenet_lib.lightcurves import LightCurve, TransientLightCurve


def make_lc(n: int, object_id: str = "obj", *, seed: int = 0, transient_type: str | None = None) -> TransientLightCurve:
    """A random g/r light curve of ``n`` points with positive fluxes."""
    rng = np.random.default_rng(seed)
    mjd = 59_000.0 + np.sort(rng.uniform(0.0, 200.0, n))
    flux = rng.uniform(100.0, 2000.0, n)
    return TransientLightCurve(
        mjd, flux, 0.05 * flux + 10.0, rng.choice(["g", "r"], n), object_id=object_id, transient_type=transient_type
    )


def make_set(counts: dict[str, int], *, seed: int = 0) -> tuple[list[TransientLightCurve], list[str]]:
    lcs, labels = [], []
    for label, count in counts.items():
        for k in range(count):
            lcs.append(make_lc(5 + (k % 7), f"{label}-{k}", seed=seed + len(lcs), transient_type=label))
            labels.append(label)
    return lcs, labels


@pytest.fixture(scope="module")
def simulated():
    from exowavenet_lib.simulate.transients import simulate_transients

    return simulate_transients(25, seed=3)


# ------------------------------------------------------------------------------------------------------ features
THREE = TransientLightCurve([100.0, 110.0, 150.0], [2.0, -4.0, 1.0], [0.2, 0.4, 0.1], ["g", "r", "g"], object_id="x")


def test_features_match_hand_computed_values():
    expected = np.array(
        [
            [0.0, 0.5, 0.05, 1.0, 0.0],
            [10 / TIME_SCALE, -1.0, 0.1, 0.0, 1.0],
            [50 / TIME_SCALE, 0.25, 0.025, 1.0, 0.0],
        ],
        dtype=np.float32,
    )
    x = lightcurve_features(THREE)
    assert x.dtype == np.float32 and x.shape == (3, n_features(DEFAULT_BANDS))
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    assert TIME_SCALE == 100.0 and DEFAULT_BANDS == ("g", "r")
    assert FEATURE_NAMES == ("t", "flux", "flux_err", "band_g", "band_r")
    assert n_features(("g", "r", "i")) == 6 and feature_names(("r", "i"))[3:] == ("band_r", "band_i")
    # band order follows the band list given
    np.testing.assert_array_equal(lightcurve_features(THREE, ("r", "g", "i"))[:, 3:], [[0, 1, 0], [1, 0, 0], [0, 1, 0]])


def test_features_reject_bad_inputs():
    with pytest.raises(ValueError, match="all-zero flux"):
        lightcurve_features(TransientLightCurve([1.0, 2.0], [0.0, 0.0], [1.0, 1.0], "g", object_id="dark"))
    with pytest.raises(ValueError, match=r"\['i'\].*\['g', 'r'\]"):
        lightcurve_features(TransientLightCurve([1.0, 2.0], [1.0, 2.0], [1.0, 1.0], ["g", "i"], object_id="y"))
    with pytest.raises(TypeError, match="lc must be"):
        lightcurve_features(THREE.to_pandas())
    with pytest.raises(ValueError, match="unknown band"):
        n_features(("g", "w"))
    with pytest.raises(ValueError, match="repeat"):
        n_features(("g", "g"))
    with pytest.raises(TypeError, match="bands"):
        n_features("gr")
    with pytest.raises(ValueError, match="at least one band"):
        n_features(())


# ------------------------------------------------------------------------------------------------------ dataset
def test_dataset_encodes_labels_and_items():
    lcs, labels = make_set({"b": 3, "a": 2, "c": 1})
    ds = LightCurveDataset(lcs, labels)
    assert len(ds) == 6 and ds.classes == ("a", "b", "c") and ds.n_classes == 3 and ds.n_features == 5
    assert ds.class_to_index == {"a": 0, "b": 1, "c": 2}
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == [1, 1, 1, 0, 0, 2]
    assert ds.class_counts() == {"a": 2, "b": 3, "c": 1}
    item = ds[4]
    assert set(item) == {"x", "length", "y"} and item["y"] == 0 and isinstance(item["y"], int)
    assert item["x"].dtype == torch.float32 and item["x"].shape == (len(lcs[4]), 5) and item["length"] == len(lcs[4])
    np.testing.assert_array_equal(item["x"].numpy(), lightcurve_features(lcs[4]))
    assert ds[-1]["y"] == 2
    masked = LightCurveDataset(lcs, labels, return_mask=True)[0]
    assert masked["mask"].dtype == torch.bool and masked["mask"].shape == (masked["length"],) and masked["mask"].all()


def test_dataset_with_given_classes_and_unlabelled():
    lcs, labels = make_set({"a": 2, "b": 2})
    ds = LightCurveDataset(lcs, labels, classes=["b", "z", "a"])
    assert ds.classes == ("b", "z", "a") and ds.targets.tolist() == [2, 2, 0, 0]
    assert ds.class_counts() == {"b": 2, "z": 0, "a": 2}
    with pytest.raises(ValueError, match=r"\['a'\].*not in classes"):
        LightCurveDataset(lcs, labels, classes=["b"])
    unlabelled = LightCurveDataset(lcs)
    assert "y" not in unlabelled[0] and unlabelled.targets is None and unlabelled.classes == ()
    with pytest.raises(ValueError, match="no labels"):
        unlabelled.class_counts()
    assert LightCurveDataset(lcs, np.array([0, 1, 1, 0])).classes == (0, 1)


def test_class_list_round_trips_through_json(tmp_path):
    lcs, labels = make_set({"SNIa": 2, "AGN": 1, "TDE": 1})
    train = LightCurveDataset(lcs, labels, bands=("g", "r", "i"))
    path = train.to_json(tmp_path / "classes.json")
    assert classes_from_json(path) == train.classes == ("AGN", "SNIa", "TDE")
    encoding = read_encoding(path)
    assert encoding["bands"] == ("g", "r", "i") and encoding["feature_names"] == list(train.feature_names)
    # a later set with only some classes keeps the training order
    later = LightCurveDataset(lcs[:1], labels[:1], classes=classes_from_json(path), bands=encoding["bands"])
    assert later.class_to_index == train.class_to_index and later[0]["y"] == train[0]["y"]
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    (tmp_path / "old.json").write_text(json.dumps({"classes": ["a"], "time_scale": 50.0}))
    with pytest.raises(ValueError, match="time_scale"):
        classes_from_json(tmp_path / "old.json")
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(ValueError, match="not valid JSON"):
        classes_from_json(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="no class list"):
        LightCurveDataset(lcs).to_json(tmp_path / "none.json")


@pytest.mark.parametrize(("truncate", "start"), [("first", 0), ("last", 6)])
def test_truncation_keeps_the_documented_end(truncate, start):
    lc = make_lc(10)
    ds = LightCurveDataset([lc, make_lc(3, "short")], max_sequence_length=4, truncate=truncate)
    assert ds[0]["length"] == 4 and ds[1]["length"] == 3
    np.testing.assert_array_equal(ds[0]["x"].numpy(), lightcurve_features(lc[start : start + 4]))
    assert ds[0]["x"][0, 0] == 0.0 and ds[0]["x"][:, 1].abs().max() == 1.0  # features of the kept window


def test_random_truncation_draws_contiguous_windows_reproducibly():
    lc = make_lc(12)
    windows = [lightcurve_features(lc[s : s + 5]) for s in range(8)]

    def starts(seed):
        ds = LightCurveDataset([lc], max_sequence_length=5, truncate="random", seed=seed)
        found = []
        for _ in range(40):
            x = ds[0]["x"].numpy()
            assert x.shape[0] == 5
            (start,) = [s for s, w in enumerate(windows) if np.array_equal(w, x)]
            found.append(start)
        return found

    assert starts(1) == starts(1) and len(set(starts(1))) > 3


def test_dataset_applies_augmentation_on_the_fly():
    lcs, labels = make_set({"a": 2})
    ds = LightCurveDataset(lcs, labels, augment=AddNoise(1.0, seed=0))
    first, second = ds[0]["x"], ds[0]["x"]
    assert first.shape == second.shape and not torch.equal(first, second)
    np.testing.assert_array_equal(first[:, 0].numpy(), lightcurve_features(lcs[0])[:, 0])  # times untouched
    with pytest.raises(TypeError, match="augment returned"):
        LightCurveDataset(lcs, augment=lambda lc: lc.to_pandas())[0]


def test_dataset_rejects_bad_inputs():
    lcs, labels = make_set({"a": 2})
    with pytest.raises(ValueError, match="lightcurves is empty"):
        LightCurveDataset([])
    with pytest.raises(TypeError, match=r"lightcurves\[1\]"):
        LightCurveDataset([lcs[0], "not a light curve"])
    with pytest.raises(ValueError, match="labels has 1 entries"):
        LightCurveDataset(lcs, labels[:1])
    with pytest.raises(TypeError, match="mixes types"):
        LightCurveDataset(lcs, ["a", 1])
    with pytest.raises(TypeError, match=r"labels\[0\]"):
        LightCurveDataset(lcs, [1.5, 2.5])
    with pytest.raises(ValueError, match="max_sequence_length"):
        LightCurveDataset(lcs, max_sequence_length=0)
    with pytest.raises(ValueError, match="truncate"):
        LightCurveDataset(lcs, max_sequence_length=3, truncate="middle")
    with pytest.raises(TypeError, match="augment"):
        LightCurveDataset(lcs, augment="noise")
    with pytest.raises(ValueError, match="repeat"):
        LightCurveDataset(lcs, labels, classes=["a", "a"])
    with pytest.raises(ValueError, match=r"'obj-i'.*\['i'\].*dataset bands \['g', 'r'\]"):
        LightCurveDataset([TransientLightCurve([1.0], [1.0], [0.1], "i", object_id="obj-i")])
    with pytest.raises(IndexError):
        LightCurveDataset(lcs)[2]


# ------------------------------------------------------------------------------------------------------ collate
@settings(max_examples=30)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=6), st.booleans())
def test_collate_pads_with_zeros_and_mask_matches_lengths(lengths, labelled):
    rng = np.random.default_rng(len(lengths))
    items = [{"x": torch.from_numpy(rng.normal(size=(n, 5)).astype(np.float32)), "length": n} for n in lengths]
    if labelled:
        for i, item in enumerate(items):
            item["y"] = i % 3
    batch = collate_lightcurves(items)
    assert set(batch) == {"x", "mask", "lengths"} | ({"y"} if labelled else set())
    assert batch["x"].shape == (len(lengths), max(lengths), 5) and batch["x"].dtype == torch.float32
    assert batch["mask"].dtype == torch.bool and batch["lengths"].dtype == torch.int64
    assert batch["lengths"].tolist() == lengths and batch["mask"].sum(1).tolist() == lengths
    assert torch.all(batch["x"][~batch["mask"]] == 0)
    for i, item in enumerate(items):
        assert torch.equal(batch["x"][i, : lengths[i]], item["x"])
        assert batch["mask"][i, : lengths[i]].all()
    if labelled:
        assert batch["y"].dtype == torch.int64 and batch["y"].tolist() == [i % 3 for i in range(len(lengths))]


def test_collate_rejects_bad_items():
    good = {"x": torch.ones(2, 5), "length": 2, "y": 0}
    with pytest.raises(ValueError, match="items is empty"):
        collate_lightcurves([])
    with pytest.raises(ValueError, match="different numbers of features"):
        collate_lightcurves([good, {"x": torch.ones(2, 4), "length": 2, "y": 1}])
    with pytest.raises(ValueError, match="label all items or none"):
        collate_lightcurves([good, {"x": torch.ones(3, 5), "length": 3}])
    with pytest.raises(ValueError, match=r"\['length'\] is 3"):
        collate_lightcurves([{"x": torch.ones(2, 5), "length": 3}])
    with pytest.raises(ValueError, match="no time steps"):
        collate_lightcurves([{"x": torch.ones(0, 5)}])
    with pytest.raises(TypeError, match=r"items\[0\]"):
        collate_lightcurves([torch.ones(2, 5)])
    with pytest.raises(TypeError, match="items must be"):
        collate_lightcurves(good)


# ------------------------------------------------------------------------------------------------------ augment
ALL_AUGMENTATIONS = [
    lambda s: AddNoise(0.5, seed=s),
    lambda s: AddNoise(2.0, inflate_errors=True, seed=s),
    lambda s: TimeShift(30.0, seed=s),
    lambda s: TimeStretch(seed=s),
    lambda s: DropPoints(0.4, seed=s),
    lambda s: Compose([DropPoints(0.2, seed=s), TimeStretch((0.5, 2.0), seed=s + 1), AddNoise(1.0, seed=s + 2)]),
]


@pytest.mark.parametrize("make", ALL_AUGMENTATIONS)
def test_augmentations_never_mutate_and_are_reproducible(make):
    lc = make_lc(30, transient_type="SNIa")
    lc.meta["survey"] = "ZTF"
    before = TransientLightCurve.from_pandas(lc.to_pandas(), object_id="obj", transient_type="SNIa", meta=lc.meta)
    out = make(7)(lc)
    assert lc == before and out is not lc and isinstance(out, TransientLightCurve)
    assert (out.object_id, out.transient_type, out.meta) == ("obj", "SNIa", lc.meta) and out.meta is not lc.meta
    again, other = make(7), make(8)
    assert again(lc) == out and again(lc) != out  # same seed, same stream; the stream moves on
    assert other(lc) != out


def test_add_noise_scales_with_errors():
    lc = make_lc(20)
    assert AddNoise(0.0, seed=0)(lc) == lc
    noisy = [AddNoise(1.0, seed=s)(lc) for s in range(300)]
    pulls = np.array([(n.flux - lc.flux) / lc.flux_err for n in noisy])
    assert abs(pulls.std() - 1.0) < 0.05 and abs(pulls.mean()) < 0.05
    assert all(np.array_equal(n.flux_err, lc.flux_err) for n in noisy[:5])
    np.testing.assert_allclose(AddNoise(3.0, inflate_errors=True)(lc).flux_err, lc.flux_err * np.sqrt(10.0))


@settings(max_examples=25)
@given(st.integers(1, 40), st.integers(0, 2**16), st.floats(0.0, 100.0))
def test_time_shift_preserves_differences(n, seed, max_days):
    lc = make_lc(n, seed=seed)
    out = TimeShift(max_days, seed=seed)(lc)
    shift = out.mjd[0] - lc.mjd[0]
    assert abs(shift) <= max_days + 1e-9
    np.testing.assert_allclose(np.diff(out.mjd), np.diff(lc.mjd), atol=1e-6)
    assert out.peak_mjd == pytest.approx(lc.peak_mjd + shift)
    np.testing.assert_array_equal(lightcurve_features(out)[:, 1:], lightcurve_features(lc)[:, 1:])


@settings(max_examples=25)
@given(st.integers(2, 40), st.integers(0, 2**16))
def test_time_stretch_scales_durations_about_the_first_point(n, seed):
    lc = make_lc(n, seed=seed)
    out = TimeStretch((0.5, 2.0), seed=seed)(lc)
    factor = out.duration / lc.duration
    assert 0.5 - 1e-9 <= factor <= 2.0 + 1e-9 and out.mjd[0] == lc.mjd[0]
    np.testing.assert_allclose(out.mjd - lc.mjd[0], factor * (lc.mjd - lc.mjd[0]), atol=1e-6)
    assert out.peak_mjd == pytest.approx(lc.mjd[0] + factor * (lc.peak_mjd - lc.mjd[0]))
    np.testing.assert_array_equal(out.flux, lc.flux)
    factors = [TimeStretch(seed=s)(lc).duration / lc.duration for s in range(200)]
    assert min(factors) >= 0.8 - 1e-9 and max(factors) <= 1.25 + 1e-9 and abs(np.median(np.log(factors))) < 0.05


@settings(max_examples=30)
@given(st.integers(1, 6), st.floats(0.0, 0.99), st.integers(0, 2**16))
def test_drop_points_always_keeps_one_point(n, fraction, seed):
    lc = make_lc(n, seed=seed)
    out = DropPoints(fraction, seed=seed)(lc)
    assert 1 <= len(out) <= n
    kept = set(zip(out.mjd.tolist(), out.flux.tolist(), strict=True))
    assert kept <= set(zip(lc.mjd.tolist(), lc.flux.tolist(), strict=True))


def test_drop_points_drops_the_requested_fraction_on_average():
    lc = make_lc(50)
    drop = DropPoints(0.3, seed=0)
    dropped = np.mean([1 - len(drop(lc)) / len(lc) for _ in range(400)])
    assert abs(dropped - 0.3) < 0.01
    assert DropPoints(0.0, seed=0)(lc) == lc
    assert len(DropPoints(0.9999, seed=0)(make_lc(1))) == 1


def test_augmentations_reject_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        AddNoise(-1.0)
    with pytest.raises(TypeError, match="scale"):
        AddNoise("big")
    with pytest.raises(ValueError, match="max_days"):
        TimeShift(-3)
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\)"):
        DropPoints(1.0)
    with pytest.raises(ValueError, match="low <= high"):
        TimeStretch((1.25, 0.8))
    with pytest.raises(ValueError, match="range"):
        TimeStretch((0.0, 1.0))
    with pytest.raises(TypeError, match="range"):
        TimeStretch(1.2)
    with pytest.raises(TypeError, match="seed"):
        AddNoise(seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        AddNoise(seed=-1)
    with pytest.raises(TypeError, match=r"transforms\[1\]"):
        Compose([AddNoise(), "noise"])
    with pytest.raises(TypeError, match="lc must be"):
        AddNoise()(THREE.to_pandas())
    with pytest.raises(TypeError, match="returned DataFrame"):
        Compose([lambda lc: lc.to_pandas()])(THREE)


def test_plain_light_curves_can_be_augmented():
    lc = LightCurve([1.0, 2.0, 4.0], [1.0, 2.0, 3.0], [0.1, 0.1, 0.1], "g", meta={"flux_unit": "relative"})
    out = Compose([TimeShift(1.0, seed=0), AddNoise(seed=1)])(lc)
    assert type(out) is LightCurve and out.meta == lc.meta


def test_worker_rng_reseeds_once_per_worker(monkeypatch):
    """Workers of a DataLoader hold copies of one generator; each must draw its own numbers, reproducibly."""
    worker = {"info": None}
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: worker["info"])

    def draws(worker_seed):
        worker["info"] = None if worker_seed is None else type("Info", (), {"seed": worker_seed, "id": 0})()
        rng = WorkerRNG(5)
        return rng.generator.random(3).tolist() + rng.generator.random(3).tolist()

    main, w1, w2 = draws(None), draws(101), draws(102)
    assert main == np.random.default_rng(5).random(6).tolist()
    assert len({tuple(main), tuple(w1), tuple(w2)}) == 3 and draws(101) == w1


def test_dataloader_workers_draw_different_augmentations(simulated):
    lcs, labels = simulated
    ds = LightCurveDataset([lcs[0]] * 4, [labels[0]] * 4, augment=AddNoise(1.0, seed=0))

    def run():
        torch.manual_seed(0)
        loader = DataLoader(ds, batch_size=1, num_workers=2, collate_fn=collate_lightcurves)
        return [b["x"][0] for b in loader]

    xs = run()
    assert not torch.equal(xs[0], xs[1])  # items 0 and 1 come from different workers' generators
    assert all(torch.equal(a, b) for a, b in zip(xs, run(), strict=True))  # seeded through torch


# ------------------------------------------------------------------------------------------------------ splits
def test_stratified_split_is_object_level_stratified_and_seeded():
    lcs, labels = make_set({"SNIa": 40, "SNII": 20, "TDE": 3, "CV": 13})
    lcs, labels = lcs + lcs[:10] + lcs[45:50], labels + labels[:10] + labels[45:50]  # repeated objects
    train, val, test = stratified_split(lcs, labels, seed=1)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(lcs)))
    ids = [{lcs[i].object_id for i in split} for split in (train, val, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    for split in (train, val, test):
        assert {labels[i] for i in split} == {"SNIa", "SNII", "TDE", "CV"}
    n_objects = sum(len(s) for s in ids)
    for share, got in zip((0.7, 0.15, 0.15), ids, strict=True):
        assert abs(len(got) / n_objects - share) < 0.05
    again = stratified_split(lcs, labels, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(again, (train, val, test), strict=True))
    assert not np.array_equal(stratified_split(lcs, labels, seed=2)[0], train)
    assert all(a.dtype == np.int64 for a in again)


def test_stratified_split_accepts_ids_and_other_fractions():
    ids = [f"o{i}" for i in range(20)]
    labels = ["a"] * 10 + ["b"] * 10
    train, val, test = stratified_split(ids, labels, fractions=(0.5, 0.5, 0.0), seed=0)
    assert len(train) == 10 and len(val) == 10 and len(test) == 0
    train, val, test = stratified_split(ids[:4], ["a", "a", "b", "c"], seed=0)  # small classes go to train first
    assert len(train) + len(val) + len(test) == 4 and {0, 1} & set(train.tolist())


def test_stratified_split_rejects_bad_inputs():
    lcs, labels = make_set({"a": 3})
    with pytest.raises(ValueError, match="two labels"):
        stratified_split(lcs + lcs[:1], labels + ["b"])
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(lcs, labels, fractions=(0.7, 0.2, 0.2))
    with pytest.raises(ValueError, match="train > 0"):
        stratified_split(lcs, labels, fractions=(0.0, 0.5, 0.5))
    with pytest.raises(TypeError, match="triple"):
        stratified_split(lcs, labels, fractions=(0.5, 0.5))
    with pytest.raises(ValueError, match="labels has 2"):
        stratified_split(lcs, labels[:2])
    with pytest.raises(TypeError, match=r"lightcurves\[0\]"):
        stratified_split([LightCurve([1.0], [1.0], [1.0], "g")], ["a"])
    with pytest.raises(ValueError, match="seed"):
        stratified_split(lcs, labels, seed=-1)
    with pytest.raises(ValueError, match="empty"):
        stratified_split([], [])


# ------------------------------------------------------------------------------------------------------ samplers
def test_balanced_batch_sampler_equalises_a_50_to_1_imbalance():
    labels = np.array([0] * 500 + [1] * 10 + [2] * 50)
    sampler = BalancedBatchSampler(labels, 30, seed=0)
    batches = list(sampler)
    assert len(sampler) == len(batches) == 19  # ceil(560 / 30)
    for batch in batches:
        assert len(batch) == 30 and all(isinstance(i, int) for i in batch)
        assert sorted(Counter(labels[batch].tolist()).values()) == [10, 10, 10]
    rare = [i for b in batches for i in b if labels[i] == 1]
    assert set(rare) == set(range(500, 510))  # oversampled with repeats
    assert batches == list(BalancedBatchSampler(labels, 30, seed=0))
    assert batches != list(sampler)  # the next epoch differs
    odd = list(BalancedBatchSampler(labels.tolist(), 32, num_batches=5, seed=1))
    assert len(odd) == 5
    for batch in odd:
        counts = Counter(labels[batch].tolist())
        assert len(batch) == 32 and max(counts.values()) - min(counts.values()) <= 1


def test_balanced_batch_sampler_follows_torch_seed_and_feeds_a_dataloader():
    lcs, labels = make_set({"a": 20, "b": 2})
    ds = LightCurveDataset(lcs, labels)
    sampler = BalancedBatchSampler(ds.targets, 4)
    torch.manual_seed(0)
    first = list(sampler)
    torch.manual_seed(0)
    assert list(sampler) == first
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate_lightcurves)
    for batch in loader:
        assert batch["y"].tolist().count(0) == batch["y"].tolist().count(1) == 2
    for bad in ({"batch_size": 0}, {"batch_size": 4, "num_batches": -1}, {"batch_size": 4, "seed": "x"}):
        with pytest.raises(ValueError, match=next(iter(k for k in bad if bad[k] in (0, -1, "x")))):
            BalancedBatchSampler(ds.targets, **bad)
    with pytest.raises(ValueError, match="empty"):
        BalancedBatchSampler([], 4)


def test_class_weights_inverse_and_effective():
    labels = np.array([0] * 80 + [1] * 20)
    inverse = class_weights(labels, 3)
    assert inverse.dtype == torch.float32 and inverse.shape == (3,)
    np.testing.assert_allclose(inverse.numpy(), [0.4, 1.6, 0.0], rtol=1e-6)  # 1/80 : 1/20, mean 1, absent class 0
    effective = class_weights(torch.tensor(labels), 2, "effective", beta=0.99)
    raw = (1 - 0.99) / (1 - 0.99 ** np.array([80, 20]))
    np.testing.assert_allclose(effective.numpy(), 2 * raw / raw.sum(), rtol=1e-5)
    assert 1 < effective[1] / effective[0] < inverse[1] / inverse[0]  # milder than inverse frequency
    np.testing.assert_allclose(class_weights(labels, 2, "effective", beta=0.0).numpy(), [1.0, 1.0])
    np.testing.assert_allclose(class_weights([0, 1, 2], 3).numpy(), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        class_weights([0, 2], 2)
    with pytest.raises(ValueError, match="scheme"):
        class_weights([0, 1], 2, "sqrt")
    with pytest.raises(ValueError, match="beta"):
        class_weights([0, 1], 2, "effective", beta=1.0)
    with pytest.raises(TypeError, match="integer class indices"):
        class_weights(["a", "b"], 2)


# ------------------------------------------------------------------------------------------------------ end to end
def test_dataloader_over_simulated_data_gives_the_contract_batch(simulated):
    lcs, labels = simulated
    train_idx, _, _ = stratified_split(lcs, labels, seed=0)
    ds = LightCurveDataset([lcs[i] for i in train_idx], [labels[i] for i in train_idx], max_sequence_length=50)
    loader = DataLoader(ds, batch_size=6, shuffle=True, num_workers=0, collate_fn=collate_lightcurves)
    seen = 0
    for batch in loader:
        b, t, f = batch["x"].shape
        assert set(batch) == {"x", "mask", "lengths", "y"} and f == n_features(DEFAULT_BANDS) == ds.n_features
        assert batch["x"].dtype == torch.float32 and batch["mask"].shape == (b, t) and batch["mask"].dtype == torch.bool
        assert batch["lengths"].dtype == torch.int64 and batch["y"].dtype == torch.int64
        assert int(batch["lengths"].max()) == t <= 50 and torch.equal(batch["mask"].sum(1), batch["lengths"])
        assert torch.all(batch["x"][~batch["mask"]] == 0) and torch.all(batch["x"][batch["mask"]][:, 3:].sum(1) == 1)
        assert batch["y"].min() >= 0 and batch["y"].max() < len(ds.classes)
        seen += b
    assert seen == len(ds) and set(ds.classes) <= {"SNIa", "SNII", "CV", "AGN", "TDE"}
