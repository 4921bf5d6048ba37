"""Plausible wrong answers for notebook 05 (custom Datasets for light-curve data).

Each part has a correct baseline (``_features``, ``_encode``, ``_Dataset``, ``_collate``, ``_AddNoise``, …) that
follows the solution notebook; a mutant changes one thing, named in its docstring.
"""

from collections import Counter

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from exowavenet_lib.lightcurves import TransientLightCurve

TIME_SCALE = 100.0


def with_columns(lc, **changes):
    """The notebook's helper: a new TransientLightCurve like ``lc`` with some columns (or peak_mjd) replaced."""
    fields = {"mjd": lc.mjd, "flux": lc.flux, "flux_err": lc.flux_err, "band": lc.band, "peak_mjd": lc.peak_mjd}
    return TransientLightCurve(**{**fields, **changes}, object_id=lc.object_id, transient_type=lc.transient_type,
                               redshift=lc.redshift, meta=dict(lc.meta))


# ---------------------------------------------------------------- 1a lightcurve_features


def _features(lc, bands=("g", "r"), *, time=None, scale=None, err_scale=None, onehot_bands=None, dtype=np.float32,
              check_bands=True):
    bands = list(bands)
    if check_bands:
        unknown = sorted(set(lc.band.tolist()) - set(bands))
        if unknown:
            raise ValueError(f"band(s) {unknown} not in bands {bands}")
    scale = np.max(np.abs(lc.flux)) if scale is None else scale
    if np.all(np.asarray(scale) == 0):
        raise ValueError("every flux is zero")
    onehot_bands = bands if onehot_bands is None else onehot_bands
    x = np.zeros((len(lc), 3 + len(onehot_bands)), dtype=dtype)
    x[:, 0] = (lc.mjd - lc.mjd[0]) / TIME_SCALE if time is None else time
    x[:, 1] = lc.flux / scale
    x[:, 2] = lc.flux_err / (scale if err_scale is None else err_scale)
    for j, band in enumerate(onehot_bands):
        x[:, 3 + j] = lc.band == band
    return x


def features_per_band_scale(lc, bands=("g", "r")):
    """Divides each band by its own largest |flux|: both bands peak at 1 and the colour (g/r ratio) is erased."""
    scale = np.ones(len(lc))
    for band in set(lc.band.tolist()):
        rows = lc.band == band
        scale[rows] = np.max(np.abs(lc.flux[rows]))
    return _features(lc, bands, scale=scale)


def features_absolute_time(lc, bands=("g", "r")):
    """Uses the absolute MJD / 100 as time instead of the time since the first observation."""
    return _features(lc, bands, time=lc.mjd / TIME_SCALE)


def features_time_in_days(lc, bands=("g", "r")):
    """Measures time from the first observation but forgets to divide by TIME_SCALE (days, not hundreds of days)."""
    return _features(lc, bands, time=lc.mjd - lc.mjd[0])


def features_time_from_peak(lc, bands=("g", "r")):
    """Measures time from the brightest point, which an early classifier does not know yet (negative times)."""
    return _features(lc, bands, time=(lc.mjd - lc.mjd[np.argmax(lc.flux)]) / TIME_SCALE)


def features_max_not_abs(lc, bands=("g", "r")):
    """Scales by the largest flux, not the largest |flux|: a deep negative flux ends up below -1."""
    return _features(lc, bands, scale=np.max(lc.flux))


def features_error_not_scaled(lc, bands=("g", "r")):
    """Scales the fluxes but leaves flux_err in FLUXCAL, so the signal-to-noise ratio of the features is wrong."""
    return _features(lc, bands, err_scale=1.0)


def features_onehot_of_present_bands(lc, bands=("g", "r")):
    """One-hot over the bands this light curve happens to have (lc.bands), not over the dataset's band list."""
    return _features(lc, bands, onehot_bands=list(lc.bands))


def features_float64(lc, bands=("g", "r")):
    """Returns float64 features (np.zeros' default dtype): PyTorch models want float32."""
    return _features(lc, bands, dtype=np.float64)


def features_unknown_band_ignored(lc, bands=("g", "r")):
    """Silently gives an observation in a band outside `bands` an all-zero one-hot instead of raising ValueError."""
    return _features(lc, bands, check_bands=False)


# ---------------------------------------------------------------- 2a encode_labels


def _encode(labels, classes=None, *, order=None):
    labels = list(labels)
    if classes is None:
        classes = sorted(set(labels)) if order is None else order(labels)
    classes = tuple(classes)
    unknown = sorted(set(labels) - set(classes), key=str)
    if unknown:
        raise ValueError(f"labels {unknown} are not in classes {list(classes)}")
    lookup = {c: i for i, c in enumerate(classes)}
    return classes, np.array([lookup[label] for label in labels], dtype=np.int64)


def encode_order_of_appearance(labels, classes=None):
    """Classes in order of first appearance: the encoding changes whenever the data are shuffled."""
    return _encode(labels, classes, order=lambda labels: list(dict.fromkeys(labels)))


def encode_by_frequency(labels, classes=None):
    """Classes from most to least common: a subset or another sample reorders them."""
    return _encode(labels, classes, order=lambda labels: [c for c, _ in Counter(labels).most_common()])


def encode_sorts_in_place(labels, classes=None):
    """Sorts the caller's list in place to find the classes (labels.sort()), scrambling the caller's data."""
    if classes is None:
        labels.sort()
        classes = list(dict.fromkeys(labels))
    return _encode(labels, classes)


def encode_ignores_classes(labels, classes=None):
    """Ignores the given class list and always uses the sorted unique labels."""
    return _encode(labels)


def encode_drops_absent_classes(labels, classes=None):
    """Keeps only the given classes that occur in labels, so a subset without TDEs gets fewer outputs."""
    if classes is not None:
        classes = [c for c in classes if c in set(labels)]
    return _encode(labels, classes)


def encode_unknown_as_minus_one(labels, classes=None):
    """Encodes a label missing from the given classes as -1 instead of raising ValueError."""
    labels = list(labels)
    classes = tuple(sorted(set(labels)) if classes is None else classes)
    lookup = {c: i for i, c in enumerate(classes)}
    return classes, np.array([lookup.get(label, -1) for label in labels], dtype=np.int64)


def encode_returns_list(labels, classes=None):
    """Returns the classes as a list, which any caller can append to or reorder by accident."""
    classes, targets = _encode(labels, classes)
    return list(classes), targets


def encode_targets_as_list(labels, classes=None):
    """Returns the targets as a Python list instead of an int64 array."""
    classes, targets = _encode(labels, classes)
    return classes, targets.tolist()


# ---------------------------------------------------------------- 2b LightCurveDataset


class _Dataset(Dataset):
    """A correct dataset (part 2b), with hooks for the mutants."""

    def __init__(self, lightcurves, labels, *, classes=None, bands=("g", "r"), max_sequence_length=None,
                 augment=None):
        self.lightcurves = list(lightcurves)
        self.bands = tuple(bands)
        self.max_sequence_length = max_sequence_length
        self.augment = augment
        self.classes, self.targets = self._encode(labels, classes)

    def _encode(self, labels, classes):
        return _encode(labels, classes)

    def __len__(self):
        return len(self.lightcurves)

    def _truncate(self, lc):
        return lc if self.max_sequence_length is None else lc[: self.max_sequence_length]

    def _augmented(self, index):
        lc = self.lightcurves[index]
        return lc if self.augment is None else self.augment(lc)

    def _x(self, lc):
        return torch.from_numpy(_features(lc, self.bands))

    def __getitem__(self, index):
        x = self._x(self._truncate(self._augmented(index)))
        return {"x": x, "length": len(x), "y": int(self.targets[index])}


class DatasetKeepsLast(_Dataset):
    """Truncation keeps the LAST max_sequence_length points: the fading tail an early classifier never has."""

    def _truncate(self, lc):
        return lc if self.max_sequence_length is None else lc[-self.max_sequence_length:]


class DatasetTruncatesFeatures(_Dataset):
    """Computes features on the whole light curve, then cuts rows: the flux scale comes from future points."""

    def _truncate(self, lc):
        return lc

    def _x(self, lc):
        x = torch.from_numpy(_features(lc, self.bands))
        return x if self.max_sequence_length is None else x[: self.max_sequence_length]


class DatasetTruncatesOneShort(_Dataset):
    """Off by one: keeps max_sequence_length - 1 points."""

    def _truncate(self, lc):
        if self.max_sequence_length is None or len(lc) <= self.max_sequence_length:
            return lc
        return lc[: self.max_sequence_length - 1]


class DatasetOrderOfAppearance(_Dataset):
    """Label encoding by order of appearance (not persistent): classes ('SNII', 'SNIa', 'AGN')."""

    def _encode(self, labels, classes):
        return encode_order_of_appearance(labels, classes)


class DatasetIgnoresClasses(_Dataset):
    """Ignores the classes argument, so validation and test sets get their own class list."""

    def _encode(self, labels, classes):
        return _encode(labels)


class DatasetLengthOffByOne(_Dataset):
    """Reports length = T - 1 (e.g. counting from zero)."""

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return {**item, "length": item["length"] - 1}


class DatasetYAsName(_Dataset):
    """Returns the class name as y instead of its index."""

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return {**item, "y": self.classes[item["y"]]}


class DatasetXNumpy(_Dataset):
    """Returns x as the NumPy array from lightcurve_features, not a torch tensor."""

    def _x(self, lc):
        return _features(lc, self.bands)


class DatasetAugmentsOnce(_Dataset):
    """Augments every light curve once in __init__: each epoch sees the same 'random' version."""

    def __init__(self, lightcurves, labels, **kwargs):
        super().__init__(lightcurves, labels, **kwargs)
        if self.augment is not None:
            self.lightcurves = [self.augment(lc) for lc in self.lightcurves]
            self.augment = None


class DatasetTruncatesBeforeAugment(_Dataset):
    """Truncates first and augments after, so dropping points leaves fewer than max_sequence_length."""

    def __getitem__(self, index):
        lc = self._truncate(self.lightcurves[index])
        if self.augment is not None:
            lc = self.augment(lc)
        x = self._x(lc)
        return {"x": x, "length": len(x), "y": int(self.targets[index])}


# ---------------------------------------------------------------- 3a collate


def _collate(items, *, front=False, fill="zero", length_shift=0, invert=False, steps=None, mask_dtype=None,
             y_dtype=torch.int64):
    lengths = torch.tensor([int(item["length"]) for item in items], dtype=torch.int64)
    n_steps = int(lengths.max()) if steps is None else steps
    x = torch.zeros(len(items), n_steps, items[0]["x"].shape[1], dtype=torch.float32)
    for i, item in enumerate(items):
        n = int(lengths[i])
        if front:
            x[i, n_steps - n:] = item["x"]
        else:
            x[i, :n] = item["x"]
            if fill == "edge":
                x[i, n:] = item["x"][-1]
    mask = torch.arange(n_steps) < lengths[:, None]
    if invert:
        mask = ~mask
    if mask_dtype is not None:
        mask = mask.to(mask_dtype)
    y = torch.tensor([int(item["y"]) for item in items], dtype=y_dtype)
    return {"x": x, "mask": mask, "lengths": lengths + length_shift, "y": y}


def collate_mask_inverted(items):
    """The mask is True on padding (what attention's key_padding_mask wants), not on the real steps."""
    return _collate(items, invert=True)


def collate_pads_front(items):
    """Pads at the front (left), so the real steps sit at the end of each row."""
    return _collate(items, front=True)


def collate_lengths_off_by_one(items):
    """Reports lengths - 1 (the index of the last step, not the number of steps)."""
    return _collate(items, length_shift=-1)


def collate_pads_to_global_maximum(items):
    """Pads every batch to a fixed 1000 steps instead of the longest item of the batch."""
    return _collate(items, steps=1000)


def collate_pads_with_last_value(items):
    """Fills the padding with each sequence's last step (edge padding) instead of zeros."""
    return _collate(items, fill="edge")


def collate_mask_as_float(items):
    """Returns the mask as float 0/1 instead of bool (~mask then fails, and indexing with it misbehaves)."""
    return _collate(items, mask_dtype=torch.float32)


def collate_y_as_float(items):
    """Returns y as float32: cross-entropy needs int64 class indices."""
    return _collate(items, y_dtype=torch.float32)


def collate_sorts_by_length(items):
    """Sorts the items by length (as packing likes) but keeps y in the original order: labels misaligned."""
    batch = _collate(sorted(items, key=lambda item: -int(item["length"])))
    batch["y"] = torch.tensor([int(item["y"]) for item in items], dtype=torch.int64)
    return batch


# ---------------------------------------------------------------- 4a AddNoise


class _AddNoise:
    def __init__(self, scale=1.0, seed=None):
        self.scale = float(scale)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def __call__(self, lc):
        noise = self.scale * lc.flux_err * self.rng.standard_normal(len(lc))
        return with_columns(lc, flux=lc.flux + noise)


class NoiseNotScaledByErrors(_AddNoise):
    """Noise of standard deviation `scale` flux units for every point, not scale * flux_err."""

    def __call__(self, lc):
        return with_columns(lc, flux=lc.flux + self.scale * self.rng.standard_normal(len(lc)))


class NoiseScaledByMeanError(_AddNoise):
    """One standard deviation for all points, scale * mean(flux_err): too much noise for the precise points."""

    def __call__(self, lc):
        sigma = self.scale * np.mean(lc.flux_err)
        return with_columns(lc, flux=lc.flux + sigma * self.rng.standard_normal(len(lc)))


class NoiseOneDrawPerCurve(_AddNoise):
    """Draws one normal number per light curve: every point moves by the same number of sigmas."""

    def __call__(self, lc):
        return with_columns(lc, flux=lc.flux + self.scale * lc.flux_err * self.rng.standard_normal())


class NoiseMutatesInput(_AddNoise):
    """Adds the noise in place, `lc.flux += noise`: the dataset's light curve gets noisier every epoch."""

    def __call__(self, lc):
        flux = lc.flux
        flux += self.scale * lc.flux_err * self.rng.standard_normal(len(lc))
        return with_columns(lc, flux=flux.copy())


class NoiseReseedsEveryCall(_AddNoise):
    """Creates the generator from the seed inside __call__: every call adds the same noise."""

    def __call__(self, lc):
        rng = np.random.default_rng(self.seed)
        return with_columns(lc, flux=lc.flux + self.scale * lc.flux_err * rng.standard_normal(len(lc)))


class NoiseInflatesErrors(_AddNoise):
    """Also inflates flux_err by sqrt(1 + scale**2), although the errors are to stay as reported."""

    def __call__(self, lc):
        noisy = super().__call__(lc)
        return with_columns(noisy, flux_err=lc.flux_err * np.sqrt(1 + self.scale**2))


class NoiseVarianceAsScale(_AddNoise):
    """Uses scale * flux_err as the VARIANCE: standard deviation sqrt(scale * flux_err)."""

    def __call__(self, lc):
        sigma = np.sqrt(self.scale * lc.flux_err)
        return with_columns(lc, flux=lc.flux + sigma * self.rng.standard_normal(len(lc)))


# ---------------------------------------------------------------- 4b DropPoints


class _DropPoints:
    def __init__(self, fraction=0.2, seed=None):
        self.fraction = float(fraction)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def _keep(self, n):
        keep = self.rng.random(n) >= self.fraction
        if not keep.any():
            keep[self.rng.integers(n)] = True
        return keep

    def __call__(self, lc):
        keep = self._keep(len(lc))
        return with_columns(lc, mjd=lc.mjd[keep], flux=lc.flux[keep], flux_err=lc.flux_err[keep], band=lc.band[keep])


class DropNoMinimum(_DropPoints):
    """Forgets to keep at least one point: a short light curve can become empty (and fail to build)."""

    def _keep(self, n):
        return self.rng.random(n) >= self.fraction


class DropKeepsFraction(_DropPoints):
    """Keeps each point with probability `fraction` instead of dropping it."""

    def _keep(self, n):
        keep = self.rng.random(n) < self.fraction
        if not keep.any():
            keep[self.rng.integers(n)] = True
        return keep


class DropAlwaysKeepsFirst(_DropPoints):
    """When every point would be dropped, always keeps the first one instead of a random one."""

    def _keep(self, n):
        keep = self.rng.random(n) >= self.fraction
        if not keep.any():
            keep[0] = True
        return keep


class DropReseedsEveryCall(_DropPoints):
    """Creates the generator from the seed inside __call__: every call drops the same points."""

    def _keep(self, n):
        self.rng = np.random.default_rng(self.seed)
        return super()._keep(n)


class DropEveryKth(_DropPoints):
    """Thins regularly (drops every k-th point), so the same points go at every call."""

    def _keep(self, n):
        if self.fraction == 0:
            return np.ones(n, dtype=bool)
        step = max(1, round(1 / self.fraction))
        keep = np.arange(n) % step != 0
        if not keep.any():
            keep[-1] = True
        return keep


class DropMisalignsBands(_DropPoints):
    """Masks mjd, flux and flux_err but takes the first bands (lc.band[:k]): points get the wrong band."""

    def __call__(self, lc):
        keep = self._keep(len(lc))
        return with_columns(lc, mjd=lc.mjd[keep], flux=lc.flux[keep], flux_err=lc.flux_err[keep],
                            band=lc.band[: int(keep.sum())])


# ---------------------------------------------------------------- 4c TimeStretch


class _TimeStretch:
    def __init__(self, factors=(0.8, 1.25), seed=None):
        self.factors = (float(factors[0]), float(factors[1]))
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def _factor(self):
        low, high = self.factors
        return float(np.exp(self.rng.uniform(np.log(low), np.log(high))))

    def __call__(self, lc):
        factor = self._factor()
        t0 = lc.mjd[0]
        return with_columns(lc, mjd=t0 + factor * (lc.mjd - t0), peak_mjd=t0 + factor * (lc.peak_mjd - t0))


class StretchAboutZero(_TimeStretch):
    """Multiplies the absolute MJD by the factor, which also moves the light curve by thousands of years."""

    def __call__(self, lc):
        factor = self._factor()
        return with_columns(lc, mjd=factor * lc.mjd, peak_mjd=factor * lc.peak_mjd)


class StretchUniform(_TimeStretch):
    """Draws the factor uniformly in (low, high): stretching is favoured over compressing (median 1.25 for (0.5, 2))."""

    def _factor(self):
        return float(self.rng.uniform(*self.factors))


class StretchDivides(_TimeStretch):
    """Divides the time differences by the factor instead of multiplying."""

    def __call__(self, lc):
        factor = self._factor()
        t0 = lc.mjd[0]
        return with_columns(lc, mjd=t0 + (lc.mjd - t0) / factor, peak_mjd=t0 + (lc.peak_mjd - t0) / factor)


class StretchForgetsPeak(_TimeStretch):
    """Stretches the observation times but leaves peak_mjd where it was."""

    def __call__(self, lc):
        factor = self._factor()
        t0 = lc.mjd[0]
        return with_columns(lc, mjd=t0 + factor * (lc.mjd - t0))


class StretchPerPoint(_TimeStretch):
    """Draws a separate factor for every point (jitter): durations are not scaled consistently."""

    def __call__(self, lc):
        low, high = self.factors
        factor = np.exp(self.rng.uniform(np.log(low), np.log(high), len(lc)))
        t0 = lc.mjd[0]
        return with_columns(lc, mjd=t0 + factor * (lc.mjd - t0), peak_mjd=t0 + factor.mean() * (lc.peak_mjd - t0))


class StretchDimsFlux(_TimeStretch):
    """Also divides the fluxes by the factor (mixing dimming into a time-dilation augmentation)."""

    def __call__(self, lc):
        factor = self._factor()
        t0 = lc.mjd[0]
        return with_columns(lc, mjd=t0 + factor * (lc.mjd - t0), peak_mjd=t0 + factor * (lc.peak_mjd - t0),
                            flux=lc.flux / factor, flux_err=lc.flux_err / factor)


class StretchMutatesInput(_TimeStretch):
    """Stretches lc.mjd in place (lc.mjd[:] = ...): the dataset's light curve is stretched again every epoch."""

    def __call__(self, lc):
        factor = self._factor()
        t0 = lc.mjd[0]
        peak = lc.peak_mjd
        lc.mjd[:] = t0 + factor * (lc.mjd - t0)
        return with_columns(lc, mjd=lc.mjd.copy(), peak_mjd=t0 + factor * (peak - t0))


# ---------------------------------------------------------------- 5a stratified_object_split


def _split(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0, *, stratify=True, shuffle=True, floor=False):
    rng = np.random.default_rng(seed)
    label_of = dict(zip(object_ids, labels, strict=True))
    groups = [[o for o, lab in label_of.items() if lab == name] for name in sorted(set(label_of.values()))]
    if not stratify:
        groups = [list(label_of)]
    split_of = {}
    for objects in groups:
        if shuffle:
            objects = [objects[i] for i in rng.permutation(len(objects))]
        n = len(objects)
        if floor:
            n_train, n_val, n_test = (int(f * n) for f in fractions)
        else:
            n_val, n_test = round(fractions[1] * n), round(fractions[2] * n)
            n_train = n - n_val - n_test
        for k, oid in enumerate(objects):
            if k < n_val:
                split_of[oid] = 1
            elif k < n_val + n_test:
                split_of[oid] = 2
            elif k < n_val + n_test + n_train:
                split_of[oid] = 0
    rows = [[], [], []]
    for i, oid in enumerate(object_ids):
        if oid in split_of:
            rows[split_of[oid]].append(i)
    return tuple(np.array(r, dtype=np.int64) for r in rows)


def split_by_row(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Stratifies rows, not objects: rows of one object land in train and test (leakage)."""
    rows = [f"row-{i}" for i in range(len(object_ids))]
    return _split(rows, labels, fractions, seed)


def split_not_stratified(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Splits objects but shuffles all classes together: a rare class can miss a split entirely."""
    return _split(object_ids, labels, fractions, seed, stratify=False)


def split_ignores_seed(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Always uses seed 0 (np.random.default_rng() called with a constant)."""
    return _split(object_ids, labels, fractions, 0)


def split_without_shuffle(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Cuts each class's objects in order of appearance without shuffling: the split never changes."""
    return _split(object_ids, labels, fractions, seed, shuffle=False)


def split_floors_every_count(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Takes int(f * n) objects for every split, losing the leftover objects (and their rows)."""
    return _split(object_ids, labels, fractions, seed, floor=True)


def split_first_row_only(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Keeps only the first row of each object (de-duplicated ids), dropping the other rows."""
    train, val, test = _split(object_ids, labels, fractions, seed)
    first = {oid: i for i, oid in reversed(list(enumerate(object_ids)))}
    keep = set(first.values())
    return tuple(np.array([i for i in idx if i in keep], dtype=np.int64) for idx in (train, val, test))


def split_returns_object_indices(object_ids, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Returns indices into the list of distinct objects instead of row indices."""
    objects = list(dict.fromkeys(object_ids))
    position = {oid: k for k, oid in enumerate(objects)}
    result = _split(object_ids, labels, fractions, seed)
    return tuple(np.unique([position[object_ids[i]] for i in idx]).astype(np.int64) for idx in result)


# ---------------------------------------------------------------- 6a BalancedBatchSampler


class _Sampler(Sampler):
    def __init__(self, labels, batch_size, num_batches, seed=0):
        labels = np.asarray(labels)
        self.classes = sorted(set(labels.tolist()))
        if batch_size % len(self.classes) != 0:
            raise ValueError(f"batch_size {batch_size} must be a multiple of {len(self.classes)}")
        self.members = [np.flatnonzero(labels == c) for c in self.classes]
        self.per_class = batch_size // len(self.classes)
        self.num_batches = num_batches
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def _rng(self):
        return self.rng

    def _pick(self, rng, queues, positions, c):
        if positions[c] == len(queues[c]):
            queues[c], positions[c] = rng.permutation(self.members[c]), 0
        positions[c] += 1
        return int(queues[c][positions[c] - 1])

    def _shuffle(self, rng, batch):
        return [batch[j] for j in rng.permutation(len(batch))]

    def __iter__(self):
        rng = self._rng()
        queues = [rng.permutation(m) for m in self.members]
        positions = [0] * len(queues)
        for _ in range(self.num_batches):
            batch = [self._pick(rng, queues, positions, c) for c in range(len(self.members))
                     for _ in range(self.per_class)]
            yield self._shuffle(rng, batch)

    def __len__(self):
        return self.num_batches


class SamplerWithReplacement(_Sampler):
    """Draws each class's indices at random with replacement: some members repeat while others are never used."""

    def _pick(self, rng, queues, positions, c):
        return int(rng.choice(self.members[c]))


class SamplerIgnoresClasses(_Sampler):
    """Draws batch_size random indices regardless of class: rare classes stay rare."""

    def __iter__(self):
        n = sum(len(m) for m in self.members)
        for _ in range(self.num_batches):
            yield [int(i) for i in self.rng.choice(n, self.per_class * len(self.members), replace=False)]


class SamplerReseedsEveryEpoch(_Sampler):
    """Creates the generator from the seed in __iter__: every epoch yields the same batches."""

    def _rng(self):
        return np.random.default_rng(self.seed)


class SamplerGlobalRandom(_Sampler):
    """Uses NumPy's global generator and ignores the seed: runs cannot be reproduced."""

    def _rng(self):
        return np.random.default_rng(np.random.randint(2**31))


class SamplerLenCountsSamples(_Sampler):
    """__len__ returns the number of samples (num_batches * batch_size), not the number of batches."""

    def __len__(self):
        return self.num_batches * self.per_class * len(self.members)


class SamplerBatchSizePerClass(_Sampler):
    """Takes batch_size indices of EVERY class, so batches are n_classes times too large."""

    def __init__(self, labels, batch_size, num_batches, seed=0):
        super().__init__(labels, batch_size, num_batches, seed)
        self.per_class = batch_size


class SamplerClassOrderedBatches(_Sampler):
    """Does not shuffle within the batch: every batch lists its classes in the same order."""

    def _shuffle(self, rng, batch):
        return batch


class SamplerFloorsBatchSize(_Sampler):
    """Accepts a batch_size that is not a multiple of the classes and silently makes smaller batches."""

    def __init__(self, labels, batch_size, num_batches, seed=0):
        n_classes = len(set(np.asarray(labels).tolist()))
        super().__init__(labels, batch_size - batch_size % n_classes, num_batches, seed)


MUTANTS = {
    "1a": [features_per_band_scale, features_absolute_time, features_time_in_days, features_time_from_peak,
           features_max_not_abs, features_error_not_scaled, features_onehot_of_present_bands, features_float64,
           features_unknown_band_ignored],
    "2a": [encode_order_of_appearance, encode_by_frequency, encode_sorts_in_place, encode_ignores_classes,
           encode_drops_absent_classes, encode_unknown_as_minus_one, encode_returns_list, encode_targets_as_list],
    "2b": [DatasetKeepsLast, DatasetTruncatesFeatures, DatasetTruncatesOneShort, DatasetOrderOfAppearance,
           DatasetIgnoresClasses, DatasetLengthOffByOne, DatasetYAsName, DatasetXNumpy, DatasetAugmentsOnce,
           DatasetTruncatesBeforeAugment],
    "3a": [collate_mask_inverted, collate_pads_front, collate_lengths_off_by_one, collate_pads_to_global_maximum,
           collate_pads_with_last_value, collate_mask_as_float, collate_y_as_float, collate_sorts_by_length],
    "4a": [NoiseNotScaledByErrors, NoiseScaledByMeanError, NoiseOneDrawPerCurve, NoiseMutatesInput,
           NoiseReseedsEveryCall, NoiseInflatesErrors, NoiseVarianceAsScale],
    "4b": [DropNoMinimum, DropKeepsFraction, DropAlwaysKeepsFirst, DropReseedsEveryCall, DropEveryKth,
           DropMisalignsBands],
    "4c": [StretchAboutZero, StretchUniform, StretchDivides, StretchForgetsPeak, StretchPerPoint, StretchDimsFlux,
           StretchMutatesInput],
    "5a": [split_by_row, split_not_stratified, split_ignores_seed, split_without_shuffle, split_floors_every_count,
           split_first_row_only, split_returns_object_indices],
    "6a": [SamplerWithReplacement, SamplerIgnoresClasses, SamplerReseedsEveryEpoch, SamplerGlobalRandom,
           SamplerLenCountsSamples, SamplerBatchSizePerClass, SamplerClassOrderedBatches, SamplerFloorsBatchSize],
}
