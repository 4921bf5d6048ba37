"""Checks for notebook 05 — custom Datasets for light-curve data.

Every check builds its own small light curves (hand-made ones with known answers, and a few simulated ZTF ones that
are compared with the library's reference implementation in :mod:`exowavenet_lib.data`).
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from exowavenet_lib.checks._core import attempt, check, expect, expect_error, outcome, show
from exowavenet_lib.data import LightCurveDataset as _LibraryDataset
from exowavenet_lib.data import collate_lightcurves as _library_collate
from exowavenet_lib.data import lightcurve_features as _library_features
from exowavenet_lib.lightcurves import TransientLightCurve

_TOL = 1e-6  # float32 features: compare with a tolerance far below any real mistake


def _lc(mjd, flux, flux_err, band, *, object_id="check-000", transient_type="SNIa", peak_mjd=None,
        writeable=False) -> TransientLightCurve:
    """A TransientLightCurve; ``writeable=True`` unlocks its columns so that an in-place change is seen, not refused."""
    lc = TransientLightCurve(mjd, flux, flux_err, band, object_id=object_id, transient_type=transient_type,
                             peak_mjd=peak_mjd)
    if writeable:
        for column in (lc.mjd, lc.flux, lc.flux_err, lc.band):
            column.setflags(write=True)
    return lc


@functools.cache
def _simulated() -> tuple[tuple[TransientLightCurve, ...], tuple[str, ...]]:
    """Ten simulated ZTF alert light curves (two of each class), the same every time."""
    from exowavenet_lib.simulate.transients import simulate_transients

    lcs, labels = simulate_transients(10, seed=2024)
    return tuple(lcs), tuple(labels)


def _rounded(values: Any, digits: int = 4) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def _columns(lc: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.array(getattr(lc, c)) for c in ("mjd", "flux", "flux_err", "band"))


def _same_columns(a: Any, b: Any) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_columns(a), _columns(b), strict=True))


def _bases(obj: Any) -> str:
    return f"{type(obj).__name__} with bases {[b.__name__ for b in type(obj).__mro__[1:]]}"


def _expect_lightcurve(result: Any, what: str) -> None:
    expect(isinstance(result, TransientLightCurve),
           f"{what} to return a new TransientLightCurve (build it with with_columns(lc, ...))", type(result).__name__)


# ---------------------------------------------------------------------------------------------------------- 1a

# Three observations in two bands: the largest |flux| (250) is negative and in r, the g peak is 200.
_HAND = {"mjd": [60000.5, 60003.0, 60010.5], "flux": [40.0, -250.0, 200.0], "flux_err": [4.0, 10.0, 8.0],
         "band": ["g", "r", "g"]}
_HAND_X = np.array([
    [0.0, 0.16, 0.016, 1.0, 0.0],
    [0.025, -1.0, 0.04, 0.0, 1.0],
    [0.1, 0.8, 0.032, 1.0, 0.0],
])


@check("05", "1a", hint="`x = np.zeros((len(lc), 3 + len(bands)), dtype=np.float32)`; column 0: "
       "`(lc.mjd - lc.mjd[0]) / TIME_SCALE`; `scale = np.max(np.abs(lc.flux))` over ALL bands; columns 1 and 2: "
       "`lc.flux / scale` and `lc.flux_err / scale`; then for `j, band in enumerate(bands)`: "
       "`x[:, 3 + j] = lc.band == band`. Raise ValueError first if a band of lc is not in `bands`, or if scale is 0.")
def q1a(lightcurve_features):
    """[t (days since first obs / 100), flux / max|flux|, flux_err / max|flux|, one-hot band], float32 (T, 3+B)."""
    lc = _lc(**_HAND)
    x = attempt(lightcurve_features, lc)
    expect(isinstance(x, np.ndarray), "a NumPy array", type(x).__name__)
    expect(x.shape == (3, 5), "shape (3, 5): 3 observations × [t, flux, flux_err, band_g, band_r]", x.shape)
    expect(x.dtype == np.float32, "dtype float32 (what PyTorch models use)", x.dtype)
    expect(np.allclose(x[:, 0], _HAND_X[:, 0], atol=_TOL),
           "t = [0, 0.025, 0.1]: days since the FIRST observation (MJD 60000.5) divided by TIME_SCALE = 100, "
           "not the absolute MJD", _rounded(x[:, 0]))
    expect(np.allclose(x[:, 1], _HAND_X[:, 1], atol=_TOL),
           "flux = [0.16, -1.0, 0.8]: every flux divided by the object's largest |flux|, 250, taken over both bands "
           "together (one scale per object keeps the g/r ratio; use np.abs, the largest |flux| here is negative)",
           _rounded(x[:, 1]))
    expect(np.allclose(x[:, 2], _HAND_X[:, 2], atol=_TOL),
           "flux_err = [0.016, 0.04, 0.032]: the errors divided by the same scale, 250, as the fluxes",
           _rounded(x[:, 2]))
    expect(np.array_equal(x[:, 3:], _HAND_X[:, 3:]),
           "one-hot bands [[1, 0], [0, 1], [1, 0]]: column 3 is g, column 4 is r, in the order of `bands`",
           x[:, 3:].tolist())
    swapped = lightcurve_features(lc, bands=("r", "g"))
    expect(isinstance(swapped, np.ndarray) and np.array_equal(swapped[:, 3:], _HAND_X[:, [4, 3]]),
           "bands=('r', 'g') to swap the one-hot columns: [[0, 1], [1, 0], [0, 1]] (one-hot over the `bands` "
           "argument, in its order)", swapped[:, 3:].tolist() if isinstance(swapped, np.ndarray) else show(swapped))
    three = lightcurve_features(lc, bands=("g", "r", "i"))
    expect(isinstance(three, np.ndarray) and three.shape == (3, 6) and not three[:, 5].any(),
           "bands=('g', 'r', 'i') to give 6 columns, the i column all zero", getattr(three, "shape", three))
    expect_error(ValueError, "an i-band observation with bands=('g', 'r')", lightcurve_features,
                        _lc([1.0, 2.0], [5.0, 6.0], [1.0, 1.0], ["g", "i"]), bands=("g", "r"), mentions="i")
    expect_error(ValueError, "a light curve whose fluxes are all zero (nothing to divide by)", lightcurve_features,
                        _lc([1.0, 2.0], [0.0, 0.0], [1.0, 1.0], ["g", "r"]))
    shifted = lightcurve_features(_lc(np.add(_HAND["mjd"], 1234.0), *list(_HAND.values())[1:]))
    expect(np.allclose(shifted, x, atol=_TOL), "the same features when the whole light curve is observed 1234 days "
           "later (time relative to the first observation)", _rounded(shifted[:, 0]))
    brighter = lightcurve_features(_lc(_HAND["mjd"], np.multiply(_HAND["flux"], 7.0),
                                       np.multiply(_HAND["flux_err"], 7.0), _HAND["band"]))
    expect(np.allclose(brighter, x, atol=_TOL), "the same features for an object 7 times brighter (a nearer twin)",
           _rounded(brighter[:, 1]))
    lcs, _ = _simulated()
    for lc in lcs:
        got, want = lightcurve_features(lc), _library_features(lc)
        expect(isinstance(got, np.ndarray) and got.shape == want.shape and np.allclose(got, want, atol=_TOL),
               f"the library's features for the simulated {lc.transient_type} {lc.object_id} ({len(lc)} points)",
               f"max difference {np.max(np.abs(got - want)) if got.shape == want.shape else got.shape}")
    return "relative time, one flux scale per object (colour kept), one-hot bands; matches the library"


# ---------------------------------------------------------------------------------------------------------- 2a

_LABELS = ["SNII", "SNIa", "CV", "SNII", "AGN", "SNIa"]
_ZTF_CLASSES = ("SNIa", "SNII", "CV", "AGN", "TDE")


@check("05", "2a", hint="Default: `classes = tuple(sorted(set(labels)))` — sorted, so the same labels in any order "
       "give the same list. Given classes: `classes = tuple(classes)` and raise ValueError naming any label not in "
       "it. Then `lookup = {c: i for i, c in enumerate(classes)}` and "
       "`targets = np.array([lookup[label] for label in labels], dtype=np.int64)`. Never sort `labels` in place.")
def q2a(encode_labels):
    """encode_labels(labels, classes=None) -> (classes tuple: sorted unique or as given, int64 targets)."""
    labels = list(_LABELS)
    result = attempt(encode_labels, labels)
    expect(labels == _LABELS, "the caller's labels list left unchanged (sorted(set(labels)) makes a new list)",
           labels)
    expect(isinstance(result, tuple) and len(result) == 2, "a pair (classes, targets)", show(result))
    classes, targets = result
    want = ("AGN", "CV", "SNII", "SNIa")
    expect(isinstance(classes, tuple), "classes as a tuple (an immutable class list)", type(classes).__name__)
    expect(classes == want, f"classes {want}: the sorted unique labels, not the order of appearance "
           "('SNII', 'SNIa', 'CV', 'AGN'), which changes whenever the data are shuffled", classes)
    expect(isinstance(targets, np.ndarray) and targets.dtype == np.int64,
           "targets as a NumPy int64 array (the dtype of PyTorch class indices)",
           f"{type(targets).__name__}" + (f" of {targets.dtype}" if hasattr(targets, "dtype") else ""))
    expect(targets.tolist() == [2, 3, 1, 2, 0, 3], "targets [2, 3, 1, 2, 0, 3]: each label's index in classes",
           targets.tolist())
    shuffled = [_LABELS[i] for i in (4, 2, 5, 0, 3, 1)]
    again, again_targets = encode_labels(shuffled)
    expect(tuple(again) == want, "the same classes for the same labels in another order (a persistent encoding)",
           again)
    expect(list(again_targets) == [0, 1, 3, 2, 2, 3], "targets [0, 1, 3, 2, 2, 3] for the shuffled labels",
           list(again_targets))
    given, given_targets = encode_labels(labels, classes=list(_ZTF_CLASSES))
    expect(tuple(given) == _ZTF_CLASSES, f"classes={list(_ZTF_CLASSES)} used as given, in that order, with TDE "
           "kept although no label is TDE (the model keeps 5 outputs)", given)
    expect(isinstance(given, tuple), "the given classes returned as a tuple", type(given).__name__)
    expect(list(given_targets) == [1, 0, 2, 1, 3, 0], "targets [1, 0, 2, 1, 3, 0] for the given class order",
           list(given_targets))
    expect_error(ValueError, "a label 'SLSN' that is not in the given classes", encode_labels, ["SNIa", "SLSN"],
                        classes=_ZTF_CLASSES, mentions="SLSN")
    numbers, number_targets = encode_labels(np.array([7, 3, 7, 5]))
    expect(tuple(numbers) == (3, 5, 7) and list(number_targets) == [2, 0, 2, 1],
           "integer labels [7, 3, 7, 5] (a NumPy array) -> classes (3, 5, 7), targets [2, 0, 2, 1]",
           (numbers, list(number_targets)))
    return f"sorted, persistent class list {want}; given class lists are kept as they are"


# ---------------------------------------------------------------------------------------------------------- 2b


def _dataset_lcs() -> tuple[list[TransientLightCurve], list[str]]:
    """Four hand-made light curves: 8 points rising to the end, 3, 1 and 5 points."""
    rising = _lc(60000.0 + np.array([0.0, 1.5, 4.0, 6.0, 9.5, 12.0, 20.0, 31.0]),
                 [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0], [2.0] * 8, ["g", "r"] * 4, object_id="rising")
    three = _lc([59000.0, 59002.0, 59003.5], [5.0, 9.0, 3.0], [1.0, 1.0, 0.5], ["r", "r", "g"], object_id="three")
    one = _lc([61000.0], [12.0], [3.0], ["g"], object_id="one")
    five = _lc([58000.0, 58001.0, 58030.0, 58031.0, 58090.0], [3.0, 4.0, 8.0, 7.0, 1.0], [1.0] * 5,
               ["g", "r", "g", "r", "g"], object_id="five")
    return [rising, three, one, five], ["SNII", "SNIa", "SNII", "AGN"]


def _features_tensor(lc: TransientLightCurve, bands=("g", "r")) -> torch.Tensor:
    return torch.from_numpy(_library_features(lc, bands))


def _check_item(item: Any, want_x: torch.Tensor, want_y: int, what: str) -> None:
    expect(isinstance(item, dict) and {"x", "length", "y"} <= set(item),
           f"{what} to be a dict with keys 'x', 'length' and 'y'",
           sorted(item) if isinstance(item, dict) else type(item).__name__)
    x = item["x"]
    expect(isinstance(x, torch.Tensor) and x.dtype == torch.float32,
           f"{what}['x'] to be a float32 torch tensor (torch.from_numpy(features))",
           f"{type(x).__name__} of {getattr(x, 'dtype', '?')}")
    expect(tuple(x.shape) == tuple(want_x.shape), f"{what}['x'] of shape {tuple(want_x.shape)}", tuple(x.shape))
    expect(torch.allclose(x, want_x, atol=_TOL), f"{what}['x'] to be lightcurve_features of that light curve "
           f"(t from 0, flux / max|flux| of the points kept): flux {_rounded(want_x[:, 1])}", _rounded(x[:, 1]))
    length = item["length"]
    expect(isinstance(length, (int, np.integer)) and not isinstance(length, bool) and length == want_x.shape[0],
           f"{what}['length'] == {want_x.shape[0]}, a plain int: the number of time steps in x", show(length))
    y = item["y"]
    expect(isinstance(y, (int, np.integer)) and not isinstance(y, bool) and y == want_y,
           f"{what}['y'] == {want_y}, the class index as an int", show(y))


@check("05", "2b", hint="In `__init__` store the light curves (a list), bands, max_sequence_length and augment, and "
       "`self.classes, self.targets = encode_labels(labels, classes)`. `__len__`: `len(self.lightcurves)`. "
       "`__getitem__(index)`: `lc = self.lightcurves[index]`; `if self.augment is not None: lc = self.augment(lc)`; "
       "`if self.max_sequence_length is not None: lc = lc[:self.max_sequence_length]` (the EARLIEST points, before "
       "computing features); `x = torch.from_numpy(lightcurve_features(lc, self.bands))`; return "
       "`{'x': x, 'length': len(x), 'y': int(self.targets[index])}`.")
def q2b(LightCurveDataset):  # noqa: N803 - the notebook's class name
    """A map-style Dataset: len, persistent classes, items {x, length, y}; truncation keeps the earliest points."""
    lcs, labels = _dataset_lcs()
    ds = attempt(LightCurveDataset, lcs, labels)
    expect(isinstance(ds, Dataset), "a subclass of torch.utils.data.Dataset", _bases(ds))
    expect(len(ds) == 4, "len(dataset) == 4, one item per light curve", len(ds))
    classes = tuple(getattr(ds, "classes", ()))
    expect(classes == ("AGN", "SNII", "SNIa"), "dataset.classes == ('AGN', 'SNII', 'SNIa') (use encode_labels)",
           classes)
    targets = getattr(ds, "targets", None)
    expect(targets is not None and list(targets) == [1, 2, 1, 0], "dataset.targets == [1, 2, 1, 0]",
           None if targets is None else list(targets))
    for i, (lc, y) in enumerate(zip(lcs, [1, 2, 1, 0], strict=True)):
        _check_item(ds[i], _features_tensor(lc), y, f"dataset[{i}]")
    given = LightCurveDataset(lcs, labels, classes=_ZTF_CLASSES)
    expect(tuple(given.classes) == _ZTF_CLASSES and given[3]["y"] == 3 and given[0]["y"] == 1,
           f"classes={_ZTF_CLASSES} passed on: dataset[3]['y'] == 3 (AGN), dataset[0]['y'] == 1 (SNII)",
           (tuple(given.classes), given[3]["y"], given[0]["y"]))
    short = LightCurveDataset(lcs, labels, max_sequence_length=4)
    item = short[0]
    _check_item(item, _features_tensor(lcs[0][:4]), 1, "with max_sequence_length=4, dataset[0]")
    expect(torch.allclose(item["x"][:, 1], torch.tensor([0.25, 0.5, 0.75, 1.0])),
           "the 4 EARLIEST points of the rising light curve, scaled by their own maximum (flux [0.25, 0.5, 0.75, "
           "1.0]): truncate first, then compute features — the later, brighter points are the future",
           _rounded(item["x"][:, 1]))
    _check_item(short[1], _features_tensor(lcs[1]), 2, "with max_sequence_length=4, dataset[1] (3 points, untouched)")
    three_bands = LightCurveDataset(lcs, labels, bands=("g", "r", "i"))
    _check_item(three_bands[3], _features_tensor(lcs[3], ("g", "r", "i")), 0, "with bands=('g', 'r', 'i'), dataset[3]")
    calls: list[str] = []

    def drop_first(lc: TransientLightCurve) -> TransientLightCurve:
        calls.append(lc.object_id)
        return lc[1:] if len(lc) > 1 else lc

    augmented = LightCurveDataset(lcs, labels, max_sequence_length=4, augment=drop_first)
    n_before = len(calls)
    first, second = augmented[0], augmented[0]
    expect(len(calls) - n_before == 2, "augment called at every access (twice for two reads of dataset[0]), so every "
           "epoch sees a new random version", f"{len(calls) - n_before} call(s)")
    _check_item(first, _features_tensor(lcs[0][1:5]), 1, "with augment=drop_first and max_sequence_length=4, "
                "dataset[0] (augment first, then truncate)")
    _check_item(second, _features_tensor(lcs[0][1:5]), 1, "the second read of that item")
    sim_lcs, sim_labels = _simulated()
    sim = LightCurveDataset(list(sim_lcs), list(sim_labels), max_sequence_length=20)
    reference = _LibraryDataset(list(sim_lcs), list(sim_labels), max_sequence_length=20)
    for i in range(len(sim_lcs)):
        want = reference[i]
        _check_item(sim[i], want["x"], want["y"], f"item {i} of the simulated dataset (max_sequence_length=20)")
    return "len, sorted classes, items {x, length, y}; truncation keeps the earliest points; augment per access"


# ---------------------------------------------------------------------------------------------------------- 3a


def _items(lengths: list[int], n_features: int = 5, *, seed: int = 0) -> list[dict[str, Any]]:
    """Dataset-like items with non-zero features, so that zero padding is recognisable."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, n in enumerate(lengths):
        x = torch.rand(n, n_features, generator=gen) + 0.5
        out.append({"x": x, "length": n, "y": (3 * i + 1) % 5})
    return out


@check("05", "3a", hint="`lengths = torch.tensor([item['length'] for item in items], dtype=torch.int64)`; "
       "`x = torch.zeros(len(items), int(lengths.max()), n_features)`; for each i copy the item to the FRONT: "
       "`x[i, :lengths[i]] = items[i]['x']`; `mask = torch.arange(x.shape[1]) < lengths[:, None]` (True on real "
       "steps); `y = torch.tensor([item['y'] for item in items], dtype=torch.int64)`.")
def q3a(collate):
    """collate(items) -> {x: float32 (B, T, F) zero-padded at the end, mask: bool True on valid steps, lengths, y}."""
    items = _items([3, 1, 5])
    copies = [item["x"].clone() for item in items]
    batch = attempt(collate, items)
    expect(all(torch.equal(item["x"], c) for item, c in zip(items, copies, strict=True)),
           "the items' tensors left unchanged", "an item was modified")
    expect(isinstance(batch, dict) and {"x", "mask", "lengths", "y"} <= set(batch),
           "a dict with keys 'x', 'mask', 'lengths' and 'y'", sorted(batch) if isinstance(batch, dict) else batch)
    x, mask, lengths, y = (batch[k] for k in ("x", "mask", "lengths", "y"))
    expect(all(isinstance(v, torch.Tensor) for v in (x, mask, lengths, y)), "four torch tensors",
           [type(v).__name__ for v in (x, mask, lengths, y)])
    expect(x.dtype == torch.float32, "x of dtype float32", x.dtype)
    expect(tuple(x.shape) == (3, 5, 5), "x of shape (3, 5, 5): 3 items padded to the longest, 5 steps, 5 features",
           tuple(x.shape))
    expect(lengths.dtype == torch.int64 and lengths.tolist() == [3, 1, 5],
           "lengths == [3, 1, 5] (int64), in the order of the items", f"{lengths.tolist()} ({lengths.dtype})")
    for i, (item, n) in enumerate(zip(items, [3, 1, 5], strict=True)):
        expect(torch.equal(x[i, :n], item["x"]),
               f"x[{i}, :{n}] == items[{i}]['x']: the real steps at the FRONT, unchanged and in order",
               f"x[{i}, :, 0] = {_rounded(x[i, :, 0], 3)}")
        expect(bool((x[i, n:] == 0).all()), f"x[{i}, {n}:] all zeros: padding after the end of each sequence",
               f"x[{i}, :, 0] = {_rounded(x[i, :, 0], 3)}")
    want_mask = torch.tensor([[True, True, True, False, False], [True, False, False, False, False], [True] * 5])
    expect(mask.dtype == torch.bool, "mask of dtype bool", mask.dtype)
    expect(torch.equal(mask, want_mask), f"mask True on real steps, False on padding: {want_mask.int().tolist()}",
           mask.int().tolist())
    expect(y.dtype == torch.int64 and y.tolist() == [item["y"] for item in items],
           f"y == {[item['y'] for item in items]} (int64), in the order of the items", f"{y.tolist()} ({y.dtype})")
    small = collate(_items([2, 1], seed=1))
    expect(tuple(small["x"].shape) == (2, 2, 5), "a batch of lengths [2, 1] padded to 2 steps, the longest in THIS "
           "batch (dynamic padding), not to a fixed maximum", tuple(small["x"].shape))
    single = collate(_items([4], seed=2))
    expect(tuple(single["x"].shape) == (1, 4, 5) and bool(single["mask"].all()),
           "a single item of 4 steps -> x (1, 4, 5), mask all True", tuple(single["x"].shape))
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    want_pooled = torch.stack([item["x"].mean(0) for item in items])
    expect(torch.allclose(pooled, want_pooled, atol=_TOL), "the masked mean over time of each row to equal the "
           "item's own mean (padding must not leak into the values)", _rounded(pooled[:, 0], 3))
    sim_lcs, sim_labels = _simulated()
    dataset = _LibraryDataset(list(sim_lcs), list(sim_labels))
    sim_items = [dataset[i] for i in range(len(dataset))]
    got, want = collate(sim_items), _library_collate(sim_items)
    for key in ("x", "mask", "lengths", "y"):
        expect(got[key].dtype == want[key].dtype and torch.equal(got[key], want[key]),
               f"batch[{key!r}] for the {len(sim_items)} simulated light curves to equal collate_lightcurves'",
               f"shape {tuple(got[key].shape)}, dtype {got[key].dtype}")
    longest = want["x"].shape[1]
    return f"dynamic zero padding, mask and lengths agree; {len(sim_items)} simulated items padded to T={longest}"


# ---------------------------------------------------------------------------------------------------------- 4a-4c


def _noise_lc(*, writeable: bool = True) -> TransientLightCurve:
    """400 points, alternating small (5) and large (50) errors, so noise scaled by flux_err is recognisable."""
    n = 400
    mjd = 60000.0 + np.cumsum(np.linspace(0.5, 2.0, n))
    flux = 1000.0 + 400.0 * np.sin(np.arange(n) / 25.0)
    err = np.where(np.arange(n) % 2 == 0, 5.0, 50.0)
    band = np.where(np.arange(n) % 3 == 0, "r", "g")
    return _lc(mjd, flux, err, band, object_id="noise-lc", transient_type="AGN", writeable=writeable)


def _expect_untouched(lc: TransientLightCurve, before: tuple[np.ndarray, ...], what: str) -> None:
    expect(all(np.array_equal(a, b) for a, b in zip(_columns(lc), before, strict=True)),
           f"{what} to leave its input light curve unchanged (build new arrays: `lc.flux + noise`, not "
           "`lc.flux += noise`) — an augmentation that edits the dataset's light curves piles up epoch after epoch",
           "the input's columns changed")


def _expect_metadata(result: Any, lc: TransientLightCurve, what: str) -> None:
    got = (getattr(result, "object_id", None), getattr(result, "transient_type", None))
    expect(got == (lc.object_id, lc.transient_type), f"{what} to keep object_id and transient_type "
           f"{(lc.object_id, lc.transient_type)}", got)


@check("05", "4a", hint="`noise = self.scale * lc.flux_err * self.rng.standard_normal(len(lc))`, then "
       "`return with_columns(lc, flux=lc.flux + noise)`: a new light curve, flux_err as reported. Draw from "
       "self.rng (created once in __init__), so successive calls differ and the same seed repeats them.")
def q4a(AddNoise):  # noqa: N803 - the notebook's class name
    """AddNoise(scale, seed): flux + scale * flux_err * N(0, 1), errors kept, input untouched, scale 0 = identity."""
    lc = _noise_lc()
    before = _columns(lc)
    same = attempt(AddNoise(scale=0.0, seed=1), lc)
    _expect_lightcurve(same, "AddNoise(scale=0)(lc)")
    expect(_same_columns(same, lc), "AddNoise(scale=0) to change nothing (mjd, flux, flux_err and band equal)",
           "different columns")
    noisy_first = AddNoise(scale=1.0, seed=1)
    first = noisy_first(lc)
    _expect_untouched(lc, before, "AddNoise")
    _expect_lightcurve(first, "AddNoise(scale=1)(lc)")
    _expect_metadata(first, lc, "AddNoise")
    expect(len(first) == len(lc) and np.array_equal(first.mjd, lc.mjd) and np.array_equal(first.band, lc.band),
           "the same times and bands: noise only changes fluxes", f"{len(first)} points")
    expect(np.array_equal(first.flux_err, lc.flux_err), "flux_err kept as reported (a re-observation with the same "
           "instrument has the same error bars)", _rounded(first.flux_err[:4]))
    pulls = [(first.flux - lc.flux) / lc.flux_err]
    distinct = np.unique(np.round(pulls[0], 9)).size
    expect(distinct > len(lc) // 2, "an independent draw for every point (self.rng.standard_normal(len(lc)))",
           f"only {distinct} distinct values of (new flux - flux) / flux_err over {len(lc)} points")
    second = noisy_first(lc)
    expect(not np.array_equal(second.flux, first.flux), "a new draw at every call (use self.rng, created once in "
           "__init__, not a generator re-seeded in __call__)", "two calls gave the same fluxes")
    pulls.append((second.flux - lc.flux) / lc.flux_err)
    pulls.append((AddNoise(scale=1.0, seed=99)(lc).flux - lc.flux) / lc.flux_err)
    pull = np.concatenate(pulls)
    small = np.tile(lc.flux_err == 5.0, len(pulls))
    for name, sel in (("small errors (5)", small), ("large errors (50)", ~small)):
        spread = float(np.std(pull[sel]))
        expect(0.85 < spread < 1.15, f"(new flux - flux) / flux_err to have standard deviation ≈ 1 for the points "
               f"with {name}: noise scaled by EACH point's flux_err", round(spread, 3))
    spread = float(np.std(pulls[0]))
    expect(0.85 < spread < 1.15, "(new flux - flux) / flux_err to scatter with standard deviation ≈ 1 across the "
           "points of one light curve (an independent draw per point: rng.standard_normal(len(lc)))", round(spread, 3))
    expect(abs(float(np.mean(pull))) < 0.1, "zero-mean noise: (new flux - flux) / flux_err averaging ≈ 0",
           round(float(np.mean(pull)), 3))
    half = (AddNoise(scale=0.5, seed=3)(lc).flux - lc.flux) / lc.flux_err
    expect(0.4 < float(np.std(half)) < 0.6, "scale=0.5 to give pulls of standard deviation ≈ 0.5",
           round(float(np.std(half)), 3))
    again = AddNoise(scale=1.0, seed=1)(lc)
    expect(np.array_equal(again.flux, first.flux), "the same seed to give the same noise (reproducible runs)",
           "different fluxes for seed=1")
    _expect_untouched(lc, before, "AddNoise")
    return "noise of standard deviation scale × flux_err, a fresh draw per call, input untouched"


@check("05", "4b", hint="`keep = self.rng.random(len(lc)) >= self.fraction` (each point survives with probability "
       "1 - fraction); `if not keep.any(): keep[self.rng.integers(len(lc))] = True`; then "
       "`return with_columns(lc, mjd=lc.mjd[keep], flux=lc.flux[keep], flux_err=lc.flux_err[keep], "
       "band=lc.band[keep])` — the same mask for all four columns.")
def q4b(DropPoints):  # noqa: N803 - the notebook's class name
    """DropPoints(fraction, seed): each point dropped with probability fraction, at least one kept, rows intact."""
    lc = _noise_lc()
    before = _columns(lc)
    kept_all = attempt(DropPoints(fraction=0.0, seed=1), lc)
    _expect_lightcurve(kept_all, "DropPoints(fraction=0)(lc)")
    expect(_same_columns(kept_all, lc), "fraction=0 to keep every point", f"{len(kept_all)} of {len(lc)} points")
    dropper = DropPoints(fraction=0.5, seed=2)
    results = [dropper(lc) for _ in range(3)]
    _expect_untouched(lc, before, "DropPoints")
    rows = {(t, f, e, b) for t, f, e, b in zip(*before, strict=True)}
    for result in results:
        _expect_lightcurve(result, "DropPoints(0.5)(lc)")
        _expect_metadata(result, lc, "DropPoints")
        got_rows = list(zip(*_columns(result), strict=True))
        expect(all(row in rows for row in got_rows), "every kept point to keep its own time, flux, error and band "
               "(index all four columns with the same mask)", "a point that is not in the input")
        expect(np.all(np.diff(result.mjd) >= 0), "the kept points in time order", _rounded(result.mjd[:5], 2))
    kept = [len(r) for r in results]
    expect(all(140 <= k <= 260 for k in kept), "about half of the 400 points kept with fraction=0.5",
           f"{kept} points kept")
    expect(len({tuple(r.mjd) for r in results}) == 3, "a different random set of points at every call (draw from "
           "self.rng)", "identical calls")
    mostly = DropPoints(fraction=0.9, seed=3)
    kept = [len(mostly(lc)) for _ in range(3)]
    expect(all(15 <= k <= 70 for k in kept), "about 10 % of the points kept with fraction=0.9 (fraction is the share "
           "DROPPED)", f"{kept} of 400 points kept")
    tiny = _lc([60000.0, 60001.0, 60002.0], [10.0, 20.0, 30.0], [1.0, 1.0, 1.0], ["g", "r", "g"], object_id="tiny")
    sizes: Counter = Counter()
    survivors: Counter = Counter()
    for _ in range(200):
        out, err = outcome(mostly, tiny)
        expect(err is None, "a 3-point light curve to survive fraction=0.9 (keep at least one point when all would "
               "be dropped)", f"{type(err).__name__}: {err}")
        sizes[len(out)] += 1
        if len(out) == 1:
            survivors[float(out.mjd[0]) - 60000.0] += 1
    expect(sizes[1] > 100, "mostly a single survivor from 3 points with fraction=0.9", dict(sizes))
    expect(max(survivors.values()) < 0.6 * sizes[1], "the lone survivor chosen at random (each of the 3 points "
           "about a third of the time), not always the same point", f"survivors (days after the first point) "
           f"{dict(survivors)}")
    one = _lc([60000.0], [10.0], [1.0], ["g"], object_id="single")
    expect(all(len(mostly(one)) == 1 for _ in range(20)), "a 1-point light curve to keep its point", "an empty result")
    again = DropPoints(fraction=0.5, seed=2)(lc)
    expect(np.array_equal(again.mjd, results[0].mjd), "the same seed to drop the same points", "a different draw")
    return "points dropped at random with the right rate, rows kept intact, never an empty light curve"


def _factors(result: Any, lc: TransientLightCurve) -> np.ndarray:
    return (np.asarray(result.mjd) - lc.mjd[0])[1:] / (lc.mjd - lc.mjd[0])[1:]


@check("05", "4c", hint="`low, high = self.factors`; `factor = np.exp(self.rng.uniform(np.log(low), np.log(high)))` "
       "(log-uniform: stretching by s and by 1/s equally likely); `t0 = lc.mjd[0]`; then "
       "`with_columns(lc, mjd=t0 + factor * (lc.mjd - t0), peak_mjd=t0 + factor * (lc.peak_mjd - t0))`.")
def q4c(TimeStretch):  # noqa: N803 - the notebook's class name
    """TimeStretch(factors, seed): times (and peak) stretched about the first one by a log-uniform factor."""
    lc = _lc(60000.0 + np.array([0.0, 2.0, 5.0, 11.0, 20.0, 33.0]), [50.0, 120.0, 300.0, 250.0, 150.0, 90.0],
             [5.0, 6.0, 8.0, 7.0, 6.0, 5.0], ["g", "r", "g", "r", "g", "r"], object_id="stretch-me",
             peak_mjd=60004.0, writeable=True)
    before = _columns(lc)
    doubled = attempt(TimeStretch(factors=(2.0, 2.0), seed=0), lc)
    _expect_untouched(lc, before, "TimeStretch")
    _expect_lightcurve(doubled, "TimeStretch((2, 2))(lc)")
    _expect_metadata(doubled, lc, "TimeStretch")
    want = 60000.0 + 2.0 * np.array([0.0, 2.0, 5.0, 11.0, 20.0, 33.0])
    expect(np.allclose(doubled.mjd, want), f"factors=(2, 2) to double every time since the first observation: "
           f"mjd - 60000 = {_rounded(want - 60000.0, 2)} (t0 stays put)", _rounded(np.asarray(doubled.mjd) - 60000, 2))
    expect(abs(doubled.duration - 2 * lc.duration) < 1e-6, f"the duration doubled, {lc.duration} -> "
           f"{2 * lc.duration} days", doubled.duration)
    expect(np.array_equal(doubled.flux, lc.flux) and np.array_equal(doubled.flux_err, lc.flux_err)
           and np.array_equal(doubled.band, lc.band), "fluxes, errors and bands unchanged (only the clock is "
           "stretched)", "changed columns")
    expect(abs(doubled.peak_mjd - 60008.0) < 1e-6, "peak_mjd stretched too: 60000 + 2 × (60004 - 60000) = 60008",
           doubled.peak_mjd)
    stretch = TimeStretch(factors=(0.5, 2.0), seed=1)
    factors = []
    for _ in range(600):
        result = stretch(lc)
        f = _factors(result, lc)
        expect(np.allclose(f, f[0]), "one factor per call, applied to every time difference from the first "
               "observation", _rounded(f, 3))
        factors.append(float(f[0]))
    factors = np.array(factors)
    expect(factors.min() >= 0.5 - 1e-9 and factors.max() <= 2.0 + 1e-9, "every factor within factors=(0.5, 2.0)",
           (round(factors.min(), 3), round(factors.max(), 3)))
    expect(np.unique(np.round(factors, 9)).size > 500, "a new random factor at every call", "repeated factors")
    log_median = float(np.median(np.log(factors)))
    expect(abs(log_median) < 0.1, "a log-uniform factor in (0.5, 2.0): half the draws below 1 (median ≈ 1, "
           "np.exp(rng.uniform(np.log(low), np.log(high))))", f"median factor {np.exp(log_median):.3f}")
    expect(((factors > 0.5) & (factors < 0.707)).mean() > 0.15, "a quarter of the factors between 0.5 and 0.71 "
           "(log-uniform)", f"{((factors > 0.5) & (factors < 0.707)).mean():.2f}")
    same_a = TimeStretch(factors=(0.8, 1.25), seed=5)(lc)
    same_b = TimeStretch(factors=(0.8, 1.25), seed=5)(lc)
    expect(np.array_equal(same_a.mjd, same_b.mjd), "the same seed to give the same stretch", "different times")
    default = _factors(TimeStretch(seed=6)(lc), lc)[0]
    expect(0.8 - 1e-9 <= default <= 1.25 + 1e-9, "the default factors (0.8, 1.25)", round(float(default), 3))
    _expect_untouched(lc, before, "TimeStretch")
    return "durations (and the peak time) scaled by a log-uniform factor about the first observation"


# ---------------------------------------------------------------------------------------------------------- 5a

# (class, number of objects): imbalanced, with a rare class of 4 objects; each object has 1-3 rows.
_SPLIT_CLASSES = (("SNIa", 30), ("SNII", 20), ("CV", 14), ("AGN", 9), ("TDE", 5))


def _split_data(seed: int = 0) -> tuple[list[str], list[str], dict[str, str]]:
    rng = np.random.default_rng(seed)
    ids, labels, label_of = [], [], {}
    for name, n in _SPLIT_CLASSES:
        for k in range(n):
            oid = f"ZTF-{name}-{k:02d}"
            label_of[oid] = name
            for _ in range(int(rng.integers(1, 4))):
                ids.append(oid)
                labels.append(name)
    order = rng.permutation(len(ids))
    return [ids[i] for i in order], [labels[i] for i in order], label_of


def _expect_split(result: Any, ids: list[str], labels: list[str], label_of: dict[str, str],
                  fractions: tuple[float, float, float], what: str) -> list[set[str]]:
    expect(isinstance(result, tuple) and len(result) == 3, f"{what}: a triple (train_idx, val_idx, test_idx)",
           show(result))
    for name, idx in zip(("train", "val", "test"), result, strict=True):
        expect(isinstance(idx, np.ndarray) and idx.dtype.kind in "iu" and idx.ndim == 1,
               f"{what}: {name}_idx as a 1-D NumPy integer array of row indices", show(idx))
        expect(np.array_equal(idx, np.sort(idx)), f"{what}: {name}_idx sorted", idx[:8].tolist())
    rows = np.concatenate(result)
    expect(len(rows) == len(ids) and np.array_equal(np.sort(rows), np.arange(len(ids))),
           f"{what}: every one of the {len(ids)} rows in exactly one split", f"{len(rows)} indices, "
           f"{len(np.unique(rows))} distinct")
    objects = [{ids[i] for i in idx} for idx in result]
    shared = (objects[0] & objects[1]) | (objects[0] & objects[2]) | (objects[1] & objects[2])
    expect(not shared, f"{what}: no object in two splits (all rows of an object go together — otherwise the test "
           "set holds objects the model has trained on)", f"{len(shared)} shared objects, e.g. {sorted(shared)[:2]}")
    for name, n in _SPLIT_CLASSES:
        counts = [sum(label_of[o] == name for o in objs) for objs in objects]
        target = [f * n for f in fractions]
        expect(all(abs(c - t) <= 1.0 + 1e-9 for c, t in zip(counts, target, strict=True)),
               f"{what}: the {n} {name} objects split (train, val, test) within one of {_rounded(target, 2)} "
               "(stratified: the fractions applied to each class's OBJECTS separately)", counts)
    return objects


@check("05", "5a", hint="`rng = np.random.default_rng(seed)`; collect each class's distinct objects (in first-"
       "appearance order, e.g. with dict.fromkeys), shuffle them with rng, cut at n_val = round(fractions[1] * n), "
       "n_test = round(fractions[2] * n), the rest train; then every ROW whose object is in a split gets that split: "
       "`train_idx = np.array([i for i, oid in enumerate(object_ids) if oid in train_objects])`, etc.")
def q5a(stratified_object_split):
    """Row indices (train, val, test): each object in one split, each class split by the fractions, seeded."""
    ids, labels, label_of = _split_data()
    ids_before, labels_before = list(ids), list(labels)
    result = attempt(stratified_object_split, ids, labels, fractions=(0.6, 0.2, 0.2), seed=3)
    expect(ids == ids_before and labels == labels_before, "the inputs left unchanged", "modified lists")
    first = _expect_split(result, ids, labels, label_of, (0.6, 0.2, 0.2), "fractions (0.6, 0.2, 0.2), seed 3")
    tde_test = {o for o in first[2] if label_of[o] == "TDE"}
    expect(len(tde_test) >= 1, "at least one of the 5 TDEs in the test set (stratification protects rare classes)",
           "none")
    again = stratified_object_split(ids, labels, fractions=(0.6, 0.2, 0.2), seed=3)
    expect(all(np.array_equal(a, b) for a, b in zip(result, again, strict=True)),
           "the same split for the same seed", "a different split")
    other = stratified_object_split(ids, labels, fractions=(0.6, 0.2, 0.2), seed=4)
    expect(not all(np.array_equal(a, b) for a, b in zip(result, other, strict=True)),
           "a different split for another seed (shuffle the objects with np.random.default_rng(seed))",
           "the same split for seeds 3 and 4")
    for seed, fractions in ((0, (0.7, 0.15, 0.15)), (11, (0.8, 0.1, 0.1)), (5, (0.5, 0.25, 0.25))):
        got = stratified_object_split(ids, labels, fractions=fractions, seed=seed)
        _expect_split(got, ids, labels, label_of, fractions, f"fractions {fractions}, seed {seed}")
    ids2, labels2, label_of2 = _split_data(seed=1)
    default = stratified_object_split(ids2, labels2)
    _expect_split(default, ids2, labels2, label_of2, (0.7, 0.15, 0.15), "the default fractions (0.7, 0.15, 0.15)")
    counts = [len(objs) for objs in first]
    return f"object-disjoint and stratified: {counts} objects (train, val, test) for fractions (0.6, 0.2, 0.2)"


# ---------------------------------------------------------------------------------------------------------- 6a

_SAMPLER_COUNTS = {"SNIa": 60, "SNII": 25, "CV": 10, "TDE": 5}


def _sampler_labels() -> list[str]:
    labels = [name for name, n in _SAMPLER_COUNTS.items() for _ in range(n)]
    order = np.random.default_rng(7).permutation(len(labels))
    return [labels[i] for i in order]


@check("05", "6a", hint="In __init__: `self.classes = sorted(set(labels))`, the indices of each class "
       "`[np.flatnonzero(np.asarray(labels) == c) for c in self.classes]`, ValueError unless batch_size is a "
       "multiple of the number of classes, and `self.rng = np.random.default_rng(seed)` (once). In __iter__: one "
       "queue per class, `self.rng.permutation(members)`, with a position; for each of num_batches batches take "
       "the next batch_size // n_classes indices of every class (a fresh permutation when a queue runs out), "
       "shuffle the batch and `yield` it as a list of ints. `__len__` returns num_batches.")
def q6a(BalancedBatchSampler):  # noqa: N803 - the notebook's class name
    """Batches with equal counts per class; each class's indices walked through shuffled, evenly; seeded epochs."""
    labels = _sampler_labels()
    sampler = attempt(BalancedBatchSampler, labels, 8, num_batches=50, seed=0)
    expect(isinstance(sampler, Sampler), "a subclass of torch.utils.data.Sampler", _bases(sampler))
    expect(len(sampler) == 50, "len(sampler) == num_batches == 50 (the number of batches, for DataLoader's len)",
           len(sampler))
    batches = list(sampler)
    expect(len(batches) == 50, "50 batches per epoch (num_batches)", len(batches))
    label_arr = np.array(labels)
    for b, batch in enumerate(batches):
        expect(isinstance(batch, list) and len(batch) == 8, f"batch {b} to be a list of 8 indices", show(batch))
        expect(all(isinstance(i, (int, np.integer)) and 0 <= i < len(labels) for i in batch),
               f"batch {b} to hold dataset indices 0..{len(labels) - 1}", batch)
        counts = Counter(label_arr[batch].tolist())
        expect(all(counts[c] == 2 for c in _SAMPLER_COUNTS), f"batch {b} to hold 2 of each of the 4 classes "
               "(8 // 4)", dict(counts))
    used = Counter(i for batch in batches for i in batch)
    for name, n in _SAMPLER_COUNTS.items():
        members = np.flatnonzero(label_arr == name)
        uses = [used[int(i)] for i in members]
        expect(max(uses) - min(uses) <= 1, f"the {n} {name} indices used evenly (100 draws: walk through a shuffled "
               "queue of the class, reshuffle when it runs out; random draws with replacement repeat some and skip "
               f"others)", f"uses from {min(uses)} to {max(uses)}")
    expect(all(used[int(i)] == 20 for i in np.flatnonzero(label_arr == "TDE")),
           "each of the 5 TDEs used 20 times (oversampled: 2 per batch × 50 batches)",
           [used[int(i)] for i in np.flatnonzero(label_arr == "TDE")])
    epoch2 = list(sampler)
    expect(epoch2 != batches, "the next epoch (a second iteration) to give different batches (keep one generator "
           "made in __init__, do not re-seed in __iter__)", "the same batches again")
    twin = list(BalancedBatchSampler(labels, 8, num_batches=50, seed=0))
    expect(twin == batches, "a new sampler with the same seed to repeat the first epoch", "different batches")
    other = list(BalancedBatchSampler(labels, 8, num_batches=50, seed=1))
    expect(other != batches, "another seed to give other batches", "the same batches")
    within = [batch for batch in batches if [labels[i] for i in batch] != sorted(labels[i] for i in batch)]
    expect(len(within) > 25, "the indices of a batch shuffled (not grouped class by class)",
           f"{50 - len(within)} of 50 batches in class order")
    expect_error(ValueError, "batch_size=10 with 4 classes (not a multiple)", BalancedBatchSampler, labels, 10,
                        num_batches=5, seed=0, mentions="batch_size")
    small = BalancedBatchSampler([0, 1, 1, 0, 1, 1], 4, num_batches=3, seed=0)
    loader = DataLoader(list(range(100, 106)), batch_sampler=small)
    got = [b.tolist() for b in loader]
    expect(len(got) == 3 and all(len(b) == 4 for b in got), "DataLoader(dataset, batch_sampler=sampler) to give "
           "3 batches of 4", got)
    return "exactly 2 of each class per batch, classes walked through evenly, reproducible and epoch-varying"
