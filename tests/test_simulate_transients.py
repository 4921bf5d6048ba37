"""Tests of the ZTF transient simulator: API contract, alert-photometry invariants and class physics.

The physics checks measure the simulated light curves the way one would measure real alerts and compare them with
``astro-facts.md``: loose enough to hold for any seed, tight enough to catch a wrong sign or a wrong unit.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exowavenet_lib.lightcurves import TransientLightCurve
from exowavenet_lib.photometry import flux_err_to_mag_err, flux_to_mag, mag_to_flux
from exowavenet_lib.simulate.models import (
    bazin_time_scales,
    bazin_unit,
    colour_evolution,
    dwarf_nova_outburst,
    level_crossings,
    peak_time,
    tde_unit,
    villar,
)
from exowavenet_lib.simulate.transients import (
    MIN_DETECTIONS,
    REALISTIC_CLASS_WEIGHTS,
    TRANSIENT_CLASSES,
    simulate_transients,
)
from exowavenet_lib.simulate.ztf import (
    ZTF_DEEPEST_MAG_LIMIT,
    ZTF_MEDIAN_MAG_LIMIT,
    ztf_epochs,
    ztf_flux_error,
    ztf_limiting_magnitude,
)

# Published observer-frame half-max rise and fade: median and 10-90 % range (astro-facts.md).
RISE = {"SNIa": (9.7, 6.6, 13.9), "SNII": (11.3, 4.1, 28.1), "TDE": (12.8, 7.8, 25.7)}
FADE = {"SNIa": (14.3, 9.8, 20.6), "SNII": (24.2, 11.8, 50.0), "TDE": (32.4, 17.3, 58.8)}
EXTRAGALACTIC = {"SNIa", "SNII", "TDE", "AGN"}


@pytest.fixture(scope="module")
def sample() -> dict[str, list[TransientLightCurve]]:
    """Some 300 light curves per class, grouped by label."""
    light_curves, labels = simulate_transients(1500, seed=2024)
    groups: dict[str, list[TransientLightCurve]] = {}
    for lc, label in zip(light_curves, labels, strict=True):
        groups.setdefault(label, []).append(lc)
    return groups


# ----------------------------------------------------------------------------------------------------- helpers
def _half_max_times(lc: TransientLightCurve) -> tuple[float, float]:
    """Rise and fade (days) in the best-sampled band, by linear interpolation between detections; NaN if unseen."""
    band = max(lc.bands, key=lambda b: int(np.sum(lc.band == b)))
    t, f = lc.mjd[lc.band == band], lc.flux[lc.band == band]
    peak = int(np.argmax(f))
    below = f < f[peak] / 2

    def crossing(step: int) -> float:
        j = peak + step
        while 0 <= j < len(f) and not below[j]:
            j += step
        if not 0 <= j < len(f):
            return math.nan
        k = j - step
        return float(t[j] + (f[peak] / 2 - f[j]) * (t[k] - t[j]) / (f[k] - f[j]))

    return float(t[peak] - crossing(-1)), float(crossing(+1) - t[peak])


def _colour_near(lc: TransientLightCurve, t: float, half_width: float) -> float:
    """g − r from the mean fluxes of each band within ``half_width`` days of ``t`` (NaN if a band is missing)."""
    near = np.abs(lc.mjd - t) <= half_width
    fluxes = [lc.flux[near & (lc.band == b)] for b in ("g", "r")]
    if any(len(f) == 0 or f.mean() <= 0 for f in fluxes):
        return math.nan
    return float(-2.5 * np.log10(fluxes[0].mean() / fluxes[1].mean()))


def _same_band_gaps(lcs: list[TransientLightCurve]) -> np.ndarray:
    return np.concatenate([np.diff(lc.mjd[lc.band == b]) for lc in lcs for b in lc.bands])


# ----------------------------------------------------------------------------------------------------- API contract
def test_same_seed_same_light_curves_and_different_seed_different():
    first, labels = simulate_transients(12, seed=7)
    second, labels_again = simulate_transients(12, seed=7)
    assert labels == labels_again
    assert first == second, "TransientLightCurve equality covers columns, meta, id, type, peak and redshift"
    other, _ = simulate_transients(12, seed=8)
    assert [lc.object_id for lc in other] != [lc.object_id for lc in first]
    assert not any(np.array_equal(a.flux[:3], b.flux[:3]) for a, b in zip(first, other, strict=True))


def test_balanced_by_default_exactly_and_shuffled():
    light_curves, labels = simulate_transients(50, seed=1)
    assert len(light_curves) == len(labels) == 50
    assert Counter(labels) == {name: 10 for name in TRANSIENT_CLASSES}
    assert labels != sorted(labels, key=TRANSIENT_CLASSES.index), "classes come in random order"
    _, labels = simulate_transients(7, seed=1)
    assert sorted(Counter(labels).values()) == [1, 1, 1, 2, 2], "the remainder of n / 5 goes to random classes"


def test_realistic_mix_makes_tde_rarest_and_mappings_choose_classes():
    _, labels = simulate_transients(200, seed=3, class_weights="realistic")
    counts = Counter(labels)
    assert counts == {name: round(200 * w) for name, w in REALISTIC_CLASS_WEIGHTS.items()}
    assert min(counts, key=counts.get) == "TDE" and max(counts, key=counts.get) == "SNIa"
    _, labels = simulate_transients(9, seed=3, class_weights={"AGN": 2.0, "CV": 1, "TDE": 0.0})
    assert Counter(labels) == {"AGN": 6, "CV": 3}


def test_ids_labels_and_redshifts():
    light_curves, labels = simulate_transients(40, seed=11, class_weights="realistic")
    assert len({lc.object_id for lc in light_curves}) == 40
    for lc, label in zip(light_curves, labels, strict=True):
        assert lc.transient_type == label == lc.meta["class"]
        if label in EXTRAGALACTIC:
            assert lc.redshift is not None and lc.redshift > 0
        else:
            assert lc.redshift is None


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=6))
def test_every_light_curve_looks_like_ztf_alert_photometry(seed, n):
    light_curves, labels = simulate_transients(n, seed=seed)
    assert len(light_curves) == len(labels) == n
    for lc, label in zip(light_curves, labels, strict=True):
        assert isinstance(lc, TransientLightCurve) and lc.transient_type == label
        assert set(lc.band.tolist()) == {"g", "r"}, "g and r, at least one detection in each"
        assert len(lc) >= MIN_DETECTIONS
        assert np.all(np.diff(lc.mjd) > 0), "sorted, one exposure at a time"
        assert np.all(lc.flux > 0) and np.all(lc.flux_err > 0)
        mags = flux_to_mag(lc.flux)
        assert mags.max() <= ZTF_DEEPEST_MAG_LIMIT <= 21.0, "detections only: brighter than the exposure's limit"
        assert np.isfinite(lc.peak_mjd) and lc.meta["flux_unit"] == "FLUXCAL"


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"n": 0}, ValueError, "n must be a positive int"),
    ({"n": -3}, ValueError, "n must be a positive int"),
    ({"n": 2.5}, TypeError, "n must be a positive int"),
    ({"n": "10"}, TypeError, "n must be a positive int"),
    ({"n": True}, TypeError, "n must be a positive int"),
    ({"n": 5, "seed": -1}, ValueError, "seed"),
    ({"n": 5, "seed": 1.5}, TypeError, "seed"),
    ({"n": 5, "class_weights": "balanced"}, ValueError, "class_weights"),
    ({"n": 5, "class_weights": [1, 1, 1, 1, 1]}, TypeError, "class_weights"),
    ({"n": 5, "class_weights": {"SNIa": 1, "Nova": 1}}, ValueError, "class_weights has unknown class.*'Nova'"),
    ({"n": 5, "class_weights": {"SNIa": -1.0}}, ValueError, r"class_weights\['SNIa'\] must be a finite number"),
    ({"n": 5, "class_weights": {"SNIa": float("nan")}}, ValueError, r"class_weights\['SNIa'\]"),
    ({"n": 5, "class_weights": {"SNIa": math.inf}}, ValueError, r"class_weights\['SNIa'\]"),
    ({"n": 5, "class_weights": {"SNIa": "1"}}, TypeError, r"class_weights\['SNIa'\] must be a number"),
    ({"n": 5, "class_weights": {"SNIa": 0, "TDE": 0}}, ValueError, "class_weights must give at least one class"),
])
def test_bad_arguments_raise_naming_them(kwargs, error, match):
    n = kwargs.pop("n")
    with pytest.raises(error, match=match):
        simulate_transients(n, **kwargs)


# ----------------------------------------------------------------------------------------------------- observing
def test_cadence_seasons_and_noise_follow_ztf(sample):
    everything = [lc for group in sample.values() for lc in group]
    gaps = _same_band_gaps(everything)
    revisit = gaps[(gaps > 0.5) & (gaps < 60)]
    assert 2.5 <= np.median(revisit) <= 3.5, "same-band revisit median 3 d"
    assert 1.7 <= np.percentile(revisit, 25) and np.percentile(revisit, 75) <= 5.0, "IQR 2-4 d"
    agn_gaps = _same_band_gaps(sample["AGN"])
    assert 90 <= np.median(agn_gaps[agn_gaps >= 60]) <= 135, "seasonal gaps: median 111 d"
    mags = flux_to_mag(np.concatenate([lc.flux for lc in everything]))
    errs = flux_err_to_mag_err(np.concatenate([lc.flux_err for lc in everything]),
                               np.concatenate([lc.flux for lc in everything]))
    for (low, high), published in {(17, 18): 0.054, (18, 19): 0.088, (19, 20): 0.144}.items():
        in_bin = (mags >= low) & (mags < high)
        assert np.median(errs[in_bin]) == pytest.approx(published, rel=0.25)


def test_typical_transient_has_tens_of_detections_over_weeks():
    light_curves, labels = simulate_transients(400, seed=5, class_weights="realistic")
    transients = [lc for lc, label in zip(light_curves, labels, strict=True) if label in ("SNIa", "SNII", "TDE")]
    assert 15 <= np.median([len(lc) for lc in transients]) <= 40, "~26 detections"
    assert 25 <= np.median([lc.duration for lc in transients]) <= 90, "over ~50 d"


# ----------------------------------------------------------------------------------------------------- class physics
@pytest.mark.parametrize("name", ["SNIa", "SNII", "TDE"])
def test_measured_rise_and_fade_times_match_the_published_ranges(sample, name):
    times = np.array([_half_max_times(lc) for lc in sample[name]])
    for measured, (_, low, high) in ((times[:, 0], RISE[name]), (times[:, 1], FADE[name])):
        seen = measured[np.isfinite(measured)]
        assert len(seen) > 50
        assert low <= np.median(seen) <= high
    true_rise = np.median([lc.meta["rise_time"] for lc in sample[name]])
    true_fade = np.median([lc.meta["fade_time"] for lc in sample[name]])
    assert true_rise == pytest.approx(RISE[name][0], rel=0.2)
    assert true_fade == pytest.approx(FADE[name][0], rel=0.2)


def test_sn_ia_reddens_after_peak_and_tdes_are_bluer(sample):
    at_peak = np.array([_colour_near(lc, lc.peak_mjd, 3.0) for lc in sample["SNIa"]])
    month_later = np.array([_colour_near(lc, lc.peak_mjd + 30.0, 5.0) for lc in sample["SNIa"]])
    assert -0.3 < np.nanmedian(at_peak) < 0.15, "SN Ia: g − r near 0 or slightly blue at peak"
    both = np.isfinite(at_peak) & np.isfinite(month_later)
    assert both.sum() > 30
    assert np.median(month_later[both] - at_peak[both]) > 0.5, "SN Ia: ~1 mag redder a month after peak"
    tde_at_peak = np.array([_colour_near(lc, lc.peak_mjd, 3.0) for lc in sample["TDE"]])
    assert np.nanmedian(tde_at_peak) < np.nanmedian(at_peak) - 0.05, "TDEs are blue"
    assert np.median([lc.meta["colour_peak"] for lc in sample["TDE"]]) < -0.1


def test_peak_magnitudes_distances_and_luminosities(sample):
    for name, published in (("SNIa", -19.2), ("SNII", -17.7), ("TDE", -19.5)):
        group = sample[name]
        assert np.mean([lc.meta["peak_abs_mag"] for lc in group]) == pytest.approx(published, abs=0.3)
        brightest = np.array([min(lc.peak_magnitudes.values()) for lc in group])
        assert 17.5 <= np.median(brightest) <= 19.7, "alert-sample transients peak at ~17-20 mag"
        assert 0.1 <= np.mean(brightest < 18.5) <= 0.8, "a BTS-like share brighter than 18.5"
        for lc in group[:20]:
            apparent = 0.5 * (lc.meta["peak_mag_g"] + lc.meta["peak_mag_r"])
            assert apparent - lc.meta["distance_modulus"] == pytest.approx(lc.meta["peak_abs_mag"])
    redshifts = {name: np.median([lc.redshift for lc in sample[name]]) for name in ("SNIa", "SNII", "TDE")}
    assert redshifts["SNII"] < redshifts["SNIa"] < 0.2, "fainter SNe II are seen nearer"


def test_sn_iip_plateaus_last_months(sample):
    plateaus = [lc for lc in sample["SNII"] if lc.meta["subtype"] == "IIP"]
    assert 0.1 <= len(plateaus) / len(sample["SNII"]) <= 0.5
    assert np.median([lc.meta["plateau_days"] for lc in plateaus]) > 80
    assert np.median([lc["r"].duration for lc in plateaus]) > 1.5 * np.median([lc["r"].duration
                                                                             for lc in sample["SNIa"]])


def test_agn_vary_stochastically_over_several_seasons(sample):
    agn = sample["AGN"]
    assert np.median([lc.duration for lc in agn]) > 365
    assert np.mean([np.any(_same_band_gaps([lc]) > 60) for lc in agn]) > 0.8, "multi-season baselines"
    spread = [np.std(flux_to_mag(lc["r"].flux)) for lc in agn]
    assert 0.08 < np.median(spread) < 0.4, "DRW variability of a few tenths of a magnitude"
    assert all(300 <= lc.meta["tau_rest"] <= 400 and 0.2 <= lc.meta["sf_inf_r"] <= 0.35 for lc in agn)


def test_dwarf_novae_are_seen_in_outburst(sample):
    cvs = sample["CV"]
    assert np.mean([lc.meta["quiescent_mag"] > ZTF_MEDIAN_MAG_LIMIT for lc in cvs]) > 0.6, "quiescence mostly unseen"
    assert all(2.0 <= lc.meta["amplitude"] <= 9.0 for lc in cvs)
    assert {"U Gem", "SU UMa"} <= {lc.meta["subtype"] for lc in cvs}
    ranges = [np.ptp(flux_to_mag(lc.flux)) for lc in cvs]
    assert np.median(ranges) > 1.0, "outbursts: magnitudes change by more than a magnitude"


# ----------------------------------------------------------------------------------------------------- helpers
def test_ztf_epochs_are_sorted_inside_windows_and_realistically_deep():
    rng = np.random.default_rng(0)
    start = np.array([59_000.0, 59_100.0, 59_500.0])
    end = start + np.array([30.0, 400.0, 0.0])
    epochs = ztf_epochs(start, end, rng=rng)
    assert np.all(np.diff(epochs.obj) >= 0)
    for i in range(3):
        t = epochs.mjd[epochs.obj == i]
        assert np.all(np.diff(t) > 0) and np.all((t >= start[i]) & (t <= end[i]))
    assert set(epochs.band.tolist()) == {0, 1}
    depth = ztf_epochs(np.full(300, 59_000.0), np.full(300, 59_400.0), rng=rng).mag_limit
    assert np.median(depth) == pytest.approx(20.2, abs=0.1)
    assert np.percentile(depth, 10) == pytest.approx(19.2, abs=0.15)
    assert np.percentile(depth, 90) == pytest.approx(20.8, abs=0.1)
    assert ztf_limiting_magnitude([0.1, 0.5, 0.9]).tolist() == pytest.approx([19.2, 20.2, 20.8])
    with pytest.raises(ValueError, match="t_end must be >= t_start"):
        ztf_epochs([1.0], [0.0], rng=rng)
    with pytest.raises(TypeError, match="rng"):
        ztf_epochs([0.0], [1.0], rng=0)


def test_flux_error_scales_with_the_epoch_depth():
    bright, faint = mag_to_flux(17.0), mag_to_flux(20.0)
    assert ztf_flux_error(bright, mag_limit=19.0) == pytest.approx(ztf_flux_error(bright), rel=0.35)
    median_epoch = ztf_flux_error([bright, mag_to_flux(19.5)], mag_limit=ZTF_MEDIAN_MAG_LIMIT)
    assert median_epoch == pytest.approx(ztf_flux_error([bright, mag_to_flux(19.5)]))
    assert ztf_flux_error(faint, mag_limit=19.5) > 2 * ztf_flux_error(faint, mag_limit=21.0)
    assert ztf_flux_error(0.0, mag_limit=20.0) == pytest.approx(mag_to_flux(20.0) / 5)
    with pytest.raises(ValueError, match="mag_limit"):
        ztf_flux_error(1.0, mag_limit=np.nan)


@given(st.floats(min_value=2.0, max_value=30.0), st.floats(min_value=0.2, max_value=5.0))
def test_bazin_time_scales_give_the_requested_half_max_times(rise, ratio):
    fade = rise * ratio
    tau_rise, tau_fall = bazin_time_scales(rise, fade)
    first, last = level_crossings(lambda t: bazin_unit(t, 0.0, tau_rise, tau_fall), np.zeros(1))
    assert -first[0] == pytest.approx(rise, rel=1e-3) and last[0] == pytest.approx(fade, rel=1e-3)
    assert bazin_unit(0.0, 0.0, tau_rise, tau_fall) == pytest.approx(1.0)


def test_shapes_peak_where_they_should():
    t = np.linspace(-100.0, 300.0, 4001)
    tde = tde_unit(t, 0.0, 10.0, 40.0)
    assert t[np.argmax(tde)] == pytest.approx(0.0) and tde.max() == pytest.approx(1.0)
    first, last = level_crossings(lambda x: tde_unit(x, 0.0, 10.0, 40.0), np.zeros(1))
    assert -first[0] == pytest.approx(10.0 * math.sqrt(2 * math.log(2)), rel=1e-4)
    assert last[0] == pytest.approx(40.0 * (2 ** 0.6 - 1), rel=1e-4)
    plateau = villar(t, 1.0, 0.0, 100.0, 0.4, 2.0, 10.0)
    end = np.searchsorted(t, 100.0)
    assert plateau[end - 1] == pytest.approx(plateau[end], rel=1e-2), "continuous at the end of the plateau"
    assert plateau[np.searchsorted(t, 50.0)] > 0.75 and plateau[np.searchsorted(t, 150.0)] < 0.02
    peak = peak_time(lambda x: villar(x, 1.0, 0.0, 100.0, 0.4, 2.0, 10.0), np.array([-20.0]), np.array([100.0]))
    assert t[np.argmax(plateau)] == pytest.approx(peak[0], abs=0.2)
    assert colour_evolution(np.array([-5.0, 0.0, 1e4]), -0.1, 1.0, 15.0, 2.0).tolist() == pytest.approx(
        [-0.1, -0.1, 0.9])
    burst = dwarf_nova_outburst(np.array([-1.0, 0.0, 1.0, 2.0, 40.0]), 4.0, 1.0, 1.0, 0.1, 2.0)
    assert burst.tolist() == pytest.approx([0.0, 0.0, 4.0, 3.9, 0.0])
