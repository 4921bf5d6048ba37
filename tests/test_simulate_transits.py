"""Tests of the transit model and the Kepler/TESS-like transit simulator (the training data of notebook 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exowavenet_lib.lightcurves import LightCurve
from exowavenet_lib.simulate.transits import (
    KEPLER_LONG_CADENCE_MINUTES,
    KEPLER_MJD_OFFSET,
    TESS_MJD_OFFSET,
    TransitSimulation,
    in_transit_mask,
    simulate_transits,
    transit_model,
    transit_snr,
)

SHAPES = ["box", "trapezoid"]
#: White noise only: no red noise, no stellar variability, no outliers (gaps kept unless a test says otherwise).
WHITE = {"red_noise": False, "variability": False, "outliers": False}


@st.composite
def ephemerides(draw):
    """(period, epoch, depth, duration, shape, ingress_fraction, impact_parameter) of a valid transit."""
    period = draw(st.floats(min_value=0.3, max_value=50.0))
    return (
        period,
        draw(st.floats(min_value=-100.0, max_value=100.0)),
        draw(st.floats(min_value=1e-4, max_value=0.3)),
        period * draw(st.floats(min_value=0.01, max_value=0.3)),
        draw(st.sampled_from(SHAPES)),
        draw(st.floats(min_value=0.0, max_value=0.5)),
        draw(st.floats(min_value=0.0, max_value=0.95)),
    )


def _model(t, eph, **kwargs):
    period, epoch, depth, duration, shape, ingress, b = eph
    return transit_model(
        t, period=period, epoch=epoch, depth=depth, duration=duration, shape=shape, ingress_fraction=ingress,
        impact_parameter=b, **kwargs,
    )


# ---------------------------------------------------------------------------------------------- transit_model
@given(ephemerides(), st.floats(min_value=0.5, max_value=0.999), st.integers(min_value=-5, max_value=5))
def test_flux_is_one_outside_transits(eph, where, k):
    period, epoch, _, duration, *_ = eph
    offset = duration / 2 + where * (period - duration)  # between fourth contact and the next first contact
    t = epoch + k * period + np.array([offset, -offset])
    np.testing.assert_array_equal(_model(t, eph), 1.0)


@given(ephemerides())
def test_minimum_is_one_minus_depth_at_mid_transit(eph):
    period, epoch, depth, duration, *_ = eph
    assert _model([epoch], eph)[0] == pytest.approx(1.0 - depth, abs=1e-12)
    t = epoch + np.linspace(-duration, duration, 2001)
    flux = _model(t, eph)
    assert flux.min() >= 1.0 - depth - 1e-12
    assert np.all(flux <= 1.0)


@given(ephemerides())
def test_model_is_periodic_and_symmetric(eph):
    period, epoch, _, duration, *_ = eph
    x = np.linspace(-0.6, 0.6, 301) * duration
    x = x[np.abs(np.abs(x) - duration / 2) > 1e-9 * period]  # a box's edge is a step: stay off it
    base = _model(epoch + x, eph)
    np.testing.assert_allclose(_model(epoch + x + 3 * period, eph), base, atol=1e-9)
    np.testing.assert_allclose(_model(epoch - x, eph), base, atol=1e-9)


@given(ephemerides())
def test_box_is_deeper_on_average_than_trapezoid(eph):
    period, epoch, depth, duration, _, ingress, b = eph
    t = epoch + np.linspace(-duration, duration, 4001)
    box = _model(t, (period, epoch, depth, duration, "box", ingress, b))
    trapezoid = _model(t, (period, epoch, depth, duration, "trapezoid", ingress, b))
    assert np.all(trapezoid >= box - 1e-15)
    assert (1 - box).mean() > (1 - trapezoid).mean()


def test_trapezoid_shape_is_limb_darkened_with_linear_ingress():
    kw = {"period": 5.0, "epoch": 0.0, "depth": 0.01, "duration": 0.2, "ingress_fraction": 0.15}
    t = np.linspace(-0.1, 0.1, 20001)
    flux = transit_model(t, **kw)
    deficit = (1 - flux) / 0.01
    bottom = np.abs(t) <= 0.07 - 1e-9
    assert np.all(np.diff(deficit[bottom][: bottom.sum() // 2]) >= -1e-12), "deficit grows towards the centre"
    assert 0.6 < deficit[bottom].min() < 0.95, "limb darkening: the bottom's edge is shallower than its centre"
    ramp = (np.abs(t) > 0.07) & (np.abs(t) < 0.1)
    second = np.diff(deficit[ramp & (t > 0)], 2)
    np.testing.assert_allclose(second, 0.0, atol=1e-9)  # straight egress
    assert 0.7 < deficit[np.abs(t) < 0.1].mean() < 0.9


def test_exposure_time_smooths_the_corners_but_keeps_the_area():
    kw = {"period": 5.0, "epoch": 0.0, "depth": 0.01, "duration": 0.1, "shape": "box"}
    t = np.linspace(-0.5, 0.5, 100_001)
    sharp, smooth = transit_model(t, **kw), transit_model(t, exposure_time=0.02, supersample=40, **kw)
    assert smooth.min() == pytest.approx(1 - 0.01)
    assert (smooth < 1).sum() > (sharp < 1).sum()
    assert (1 - smooth).sum() == pytest.approx((1 - sharp).sum(), rel=1e-3)


@given(ephemerides(), st.floats(min_value=-200.0, max_value=200.0))
@settings(max_examples=50)
def test_in_transit_mask_agrees_with_model(eph, start):
    period, epoch, depth, duration, shape, *_ = eph
    t = start + np.linspace(0.0, 5 * period, 5001)
    mask = in_transit_mask(t, period=period, epoch=epoch, duration=duration)
    dimmer = _model(t, eph) < 1.0
    if shape == "box":
        np.testing.assert_array_equal(mask, dimmer)
    else:  # the trapezoid's deficit tends to 0 at first/fourth contact: compare away from the edges
        dist = np.abs(np.abs(np.mod(t - epoch + period / 2, period) - period / 2) - duration / 2)
        clear = dist > 1e-6 * duration
        np.testing.assert_array_equal(mask[clear], dimmer[clear])
        assert not np.any(dimmer & ~mask)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"period": 0.0}, ValueError, "period"),
    ({"period": -1.0}, ValueError, "period"),
    ({"period": np.nan}, ValueError, "period"),
    ({"period": "3"}, TypeError, "period"),
    ({"duration": 0.0}, ValueError, "duration"),
    ({"duration": 3.0}, ValueError, "duration must be shorter than period"),
    ({"depth": 0.0}, ValueError, "depth"),
    ({"depth": 1.0}, ValueError, "depth"),
    ({"epoch": np.inf}, ValueError, "epoch"),
    ({"shape": "circle"}, ValueError, "shape"),
    ({"ingress_fraction": 0.6}, ValueError, "ingress_fraction"),
    ({"ingress_fraction": -0.1}, ValueError, "ingress_fraction"),
    ({"limb_darkening": (0.8, 0.4)}, ValueError, "limb_darkening"),
    ({"limb_darkening": (0.4,)}, TypeError, "limb_darkening"),
    ({"impact_parameter": 1.0}, ValueError, "impact_parameter"),
    ({"exposure_time": -0.01}, ValueError, "exposure_time"),
    ({"supersample": 0, "exposure_time": 0.02}, ValueError, "supersample"),
])
def test_transit_model_rejects_bad_arguments(kwargs, error, match):
    args = {"period": 3.0, "epoch": 0.0, "depth": 0.01, "duration": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        transit_model(np.linspace(0, 1, 5), **args)


def test_bad_times_and_mask_arguments_raise():
    with pytest.raises(ValueError, match="t contains NaN"):
        transit_model([0.0, np.nan], period=3.0, epoch=0.0, depth=0.01, duration=0.1)
    with pytest.raises(TypeError, match="t must be numeric"):
        in_transit_mask(["a"], period=3.0, epoch=0.0, duration=0.1)
    with pytest.raises(ValueError, match="duration"):
        in_transit_mask([0.0], period=3.0, epoch=0.0, duration=-0.1)


# ---------------------------------------------------------------------------------------------- transit_snr
def test_snr_formula():
    assert transit_snr(1e-3, 1e-4, 16) == pytest.approx(40.0)
    assert isinstance(transit_snr(1e-3, 1e-4, 16), float)
    np.testing.assert_allclose(transit_snr([1e-3, 2e-3], 1e-4, [4, 9]), [20.0, 60.0])
    assert transit_snr(1e-3, 1e-4, 0) == 0.0


@pytest.mark.parametrize(("args", "match"), [
    ((1e-3, 0.0, 4), "sigma"), ((-1e-3, 1e-4, 4), "depth"), ((1e-3, 1e-4, -1), "n_in_transit"),
    ((np.nan, 1e-4, 4), "depth"),
])
def test_snr_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        transit_snr(*args)


# ---------------------------------------------------------------------------------------------- simulate_transits
@pytest.fixture(scope="module")
def kepler() -> TransitSimulation:
    return simulate_transits(60, seed=11)


def test_output_structure(kepler):
    lcs, masks, params = kepler  # unpacks like a tuple
    assert isinstance(kepler, TransitSimulation) and kepler.params is params
    assert len(lcs) == len(masks) == len(params) == 60
    required = [
        "object_id", "mission", "has_transit", "period", "epoch", "depth", "duration_hours", "shape", "snr",
        "n_transits_observed", "n_in_transit", "noise_ppm", "red_noise_ppm", "rotation_period",
        "rotation_amplitude_ppm", "n_cadences", "n_outliers",
    ]
    assert list(params.columns[: len(required)]) == required
    assert params.object_id.is_unique
    for lc, mask, (_, row) in zip(lcs, masks, params.iterrows(), strict=True):
        assert isinstance(lc, LightCurve) and lc.bands == ("kepler",)
        assert mask.dtype == bool and mask.shape == (len(lc),) == (row.n_cadences,)
        assert lc.meta == {"flux_unit": "relative", "mission": "kepler", "object_id": row.object_id}
        assert np.all(np.diff(lc.mjd) > 0)
        assert abs(np.median(lc.flux) - 1) < 0.05
        np.testing.assert_allclose(lc.flux_err, row.noise_ppm * 1e-6, rtol=0.05)


def test_same_seed_same_output_and_different_seeds_differ(kepler):
    again = simulate_transits(60, seed=11)
    pd.testing.assert_frame_equal(again.params, kepler.params)
    for a, b in zip(again.lightcurves, kepler.lightcurves, strict=True):
        assert a == b
    for a, b in zip(again.masks, kepler.masks, strict=True):
        np.testing.assert_array_equal(a, b)
    other = simulate_transits(60, seed=12)
    assert not np.array_equal(other.lightcurves[0].flux[:100], kepler.lightcurves[0].flux[:100])
    assert not other.params.noise_ppm.equals(kepler.params.noise_ppm)


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 1.0])
def test_fraction_with_transits(fraction):
    params = simulate_transits(40, seed=3, transit_fraction=fraction, n_cadences=512, period_range=(0.5, 3.0)).params
    assert abs(params.has_transit.sum() - 40 * fraction) < 1


def test_injected_planets_meet_snr_and_transit_count(kepler):
    lcs, masks, params = kepler
    lo, hi = 7.0, 30.0
    assert params.has_transit.sum() == 30
    for lc, mask, (_, row) in zip(lcs, masks, params.iterrows(), strict=True):
        if not row.has_transit:
            assert not mask.any() and np.isnan(row.period) and row.n_in_transit == 0
            continue
        assert mask.sum() == row.n_in_transit
        snr = transit_snr(row.depth, row.noise_ppm * 1e-6, mask.sum())
        assert snr == pytest.approx(row.snr) and lo <= snr <= hi
        events = np.unique(np.round((lc.mjd[mask] - row.epoch) / row.period))
        assert len(events) >= row.n_transits_observed >= 2
        assert 0.5 <= row.period <= 20.0 and 0 < row.depth < 0.05
        assert 0.5 <= row.duration_hours <= 0.12 * 24 * row.period + 1e-9
        # params describe the mask: epoch is a mid-transit in MJD
        expected = in_transit_mask(lc.mjd, period=row.period, epoch=row.epoch, duration=row.duration_hours / 24)
        np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize(("shape", "low", "high"), [("box", 0.93, 1.05), ("trapezoid", 0.8, 0.98)])
def test_in_transit_flux_is_lower_by_about_depth(shape, low, high):
    lcs, masks, params = simulate_transits(
        12, seed=4, transit_fraction=1.0, shape=shape, snr_range=(150.0, 200.0), period_range=(3.0, 10.0), **WHITE
    )
    ratios = []
    for lc, mask, depth in zip(lcs, masks, params.depth, strict=True):
        ratios.append((np.median(lc.flux[~mask]) - np.median(lc.flux[mask])) / depth)
    assert low < np.median(ratios) < high


def test_gaps_when_enabled_and_not_when_disabled():
    cadence = KEPLER_LONG_CADENCE_MINUTES / 1440
    with_gaps = simulate_transits(10, seed=5, **WHITE)
    for lc, (_, row) in zip(with_gaps.lightcurves, with_gaps.params.iterrows(), strict=True):
        steps = np.diff(lc.mjd)
        assert len(lc) < 4096 and row.gap_fraction > 0
        assert steps.max() > 0.5, "a multi-hour downlink gap in ~84 days"
        np.testing.assert_allclose(np.round(steps / cadence), steps / cadence, atol=1e-6)  # on the cadence grid
    without = simulate_transits(10, seed=5, gaps=False, **WHITE)
    for lc in without.lightcurves:
        assert len(lc) == 4096
        np.testing.assert_allclose(np.diff(lc.mjd), cadence, rtol=1e-6)
    assert (without.params.gap_fraction == 0).all()


def test_outliers_present_when_enabled():
    on = simulate_transits(10, seed=6, transit_fraction=0.0, gaps=False, red_noise=False, variability=False)
    off = simulate_transits(10, seed=6, transit_fraction=0.0, gaps=False, **WHITE)
    signs = []
    for lc_on, lc_off, (_, row) in zip(on.lightcurves, off.lightcurves, on.params.iterrows(), strict=True):
        sigma = row.noise_ppm * 1e-6
        assert row.n_outliers >= 1
        # same seed, same draws up to the outliers: the difference is the spikes (>= 4 sigma) and any flares
        spikes = lc_on.flux - lc_off.flux
        big = np.abs(spikes) >= 4 * sigma * (1 - 1e-9)
        assert big.sum() >= row.n_outliers
        signs.extend(np.sign(spikes[big]))
        assert np.sum(np.abs(lc_off.flux - 1) > 5.5 * sigma) == 0
    assert 0.6 < np.mean(np.array(signs) > 0) < 1.0, "mostly positive (cosmic rays, flares), some negative"
    assert (off.params.n_outliers == 0).all() and (off.params.n_flares == 0).all()


def test_noise_components_follow_their_switches():
    quiet = simulate_transits(5, seed=7, **WHITE).params
    assert (quiet.red_noise_ppm == 0).all() and (quiet.rotation_amplitude_ppm == 0).all()
    assert quiet.rotation_period.isna().all()
    busy = simulate_transits(20, seed=7).params
    assert busy.rotation_period.between(1, 40).all() and busy.rotation_amplitude_ppm.between(100, 1e4).all()
    assert (busy.red_noise_ppm > 0).all() and busy.noise_ppm.between(50, 500).all()


def test_kepler_and_tess_time_systems():
    kep = simulate_transits(5, seed=8, mission="kepler")
    for lc in kep.lightcurves:
        bkjd = lc.mjd - KEPLER_MJD_OFFSET
        assert 131 <= bkjd[0] and bkjd[-1] <= 1592
        assert np.min(np.diff(lc.mjd)) * 1440 == pytest.approx(29.4244, abs=1e-3)
    tess = simulate_transits(5, seed=8, mission="tess", period_range=(0.5, 10.0))
    for lc, (_, row) in zip(tess.lightcurves, tess.params.iterrows(), strict=True):
        btjd = lc.mjd - TESS_MJD_OFFSET
        assert 1325 <= btjd[0] and btjd[-1] <= 3400
        assert lc.bands == ("tess",) and lc.meta["mission"] == "tess"
        assert np.min(np.diff(lc.mjd)) * 1440 == pytest.approx(30.0, abs=1e-3)
        assert 25 < lc.duration < 27.5, "one sector"
        assert row.n_cadences == len(lc)
    fast = simulate_transits(2, seed=8, mission="tess", cadence_minutes=2.0, transit_fraction=0.0)
    assert np.min(np.diff(fast.lightcurves[0].mjd)) * 1440 == pytest.approx(2.0, abs=1e-3)
    assert fast.lightcurves[0].duration > 25


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"n": 0}, ValueError, "n must be"),
    ({"n": 2.5}, TypeError, "n must be an integer"),
    ({"n": True}, TypeError, "n must be an integer"),
    ({"seed": "x"}, TypeError, "seed"),
    ({"mission": "k2"}, ValueError, "mission"),
    ({"shape": "circle"}, ValueError, "shape"),
    ({"transit_fraction": 1.5}, ValueError, "transit_fraction"),
    ({"transit_fraction": -0.1}, ValueError, "transit_fraction"),
    ({"snr_range": (30.0, 7.0)}, ValueError, "snr_range is inverted"),
    ({"snr_range": (0.0, 7.0)}, ValueError, "snr_range must be positive"),
    ({"snr_range": 7.0}, TypeError, "snr_range"),
    ({"period_range": (-1.0, 5.0)}, ValueError, "period_range"),
    ({"period_range": (200.0, 300.0)}, ValueError, "period_range"),
    ({"noise_ppm_range": (500.0, 50.0)}, ValueError, "noise_ppm_range"),
    ({"noise_ppm_range": (50.0, 2e6)}, ValueError, "noise_ppm_range"),
    ({"n_cadences": 10}, ValueError, "n_cadences"),
    ({"n_cadences": 100.0}, TypeError, "n_cadences"),
    ({"cadence_minutes": 0}, ValueError, "cadence_minutes"),
    ({"gaps": "yes"}, TypeError, "gaps"),
    ({"outliers": None}, TypeError, "outliers"),
])
def test_simulate_rejects_bad_arguments(kwargs, error, match):
    args = {"n": 2, "seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        simulate_transits(args.pop("n"), **args)


def test_impossible_planet_requests_raise():
    with pytest.raises(ValueError, match="snr_range"):  # depth would have to exceed 5 %
        simulate_transits(1, seed=0, transit_fraction=1.0, snr_range=(5e3, 6e3), noise_ppm_range=(5e3, 6e3))
