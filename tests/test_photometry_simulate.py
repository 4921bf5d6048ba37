"""Property tests for the numeric core: photometry, the Bazin model and the sample light curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exowavenet_lib.photometry import (
    FLUXCAL_ZEROPOINT,
    flux_err_to_mag_err,
    flux_to_mag,
    mag_err_to_flux_err,
    mag_to_flux,
    rescale_flux,
    zeropoint,
)
from exowavenet_lib.simulate import ZTF_MAG_LIMIT, bazin, sample_observations, ztf_flux_error

mags = st.floats(min_value=-5, max_value=35)
zeropoints = st.floats(min_value=20, max_value=35)


@given(mags, zeropoints)
def test_mag_flux_round_trip(mag, zp):
    assert flux_to_mag(mag_to_flux(mag, zp), zp) == pytest.approx(mag, abs=1e-9)


@given(st.floats(min_value=1e-3, max_value=1e9), st.floats(min_value=1e-6, max_value=0.5))
def test_error_propagation_round_trip_and_1_0857(flux, relative):
    mag_err = flux_err_to_mag_err(relative * flux, flux)
    assert mag_err == pytest.approx(2.5 / math.log(10) * relative)
    assert mag_err_to_flux_err(mag_err, flux) == pytest.approx(relative * flux)


def test_fluxcal_anchor_points():
    assert mag_to_flux(FLUXCAL_ZEROPOINT) == pytest.approx(1.0)
    assert flux_to_mag(1000.0) == pytest.approx(20.0)
    assert flux_to_mag([10.0, 100.0]).tolist() == pytest.approx([25.0, 22.5])


@pytest.mark.parametrize(("func", "args", "match"), [
    (flux_to_mag, ([1.0, 0.0, -2.0],), "flux must be > 0.*2 non-positive"),
    (flux_to_mag, ([1.0, np.nan],), "flux contains NaN"),
    (mag_to_flux, ([np.inf],), "mag contains NaN"),
    (flux_err_to_mag_err, ([-1.0], [5.0]), "flux_err must be non-negative"),
    (flux_err_to_mag_err, ([1.0], [0.0]), "flux must be > 0"),
    (mag_err_to_flux_err, ([-0.1], [5.0]), "mag_err must be non-negative"),
])
def test_bad_photometry_input_raises_naming_the_argument(func, args, match):
    with pytest.raises(ValueError, match=match):
        func(*args)


@given(st.floats(min_value=0.5, max_value=20), st.floats(min_value=1.1, max_value=20))
def test_bazin_peaks_where_the_formula_says(tau_rise, ratio):
    tau_fall = tau_rise * ratio
    t_peak = tau_rise * math.log(tau_fall / tau_rise - 1)
    f_peak = bazin(t_peak, 1.0, 0.0, tau_rise, tau_fall)
    step = 1e-3 * tau_rise
    assert f_peak >= bazin(t_peak - step, 1.0, 0.0, tau_rise, tau_fall)
    assert f_peak >= bazin(t_peak + step, 1.0, 0.0, tau_rise, tau_fall)


def test_bazin_is_stable_far_from_t0_and_validates():
    flux = bazin(np.array([-1e5, 0.0, 1e5]), 100.0, 0.0, 3.0, 20.0, baseline=5.0)
    assert np.all(np.isfinite(flux)) and flux[0] == pytest.approx(5.0) and flux[2] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="tau_rise and tau_fall"):
        bazin([0.0], 1.0, 0.0, 0.0, 20.0)
    with pytest.raises(ValueError, match="t contains NaN"):
        bazin([np.nan], 1.0, 0.0, 3.0, 20.0)


def test_ztf_noise_follows_the_measured_error_relation():
    for mag, expected in [(16.5, 0.038), (18.5, 0.088), (19.5, 0.144)]:
        flux = mag_to_flux(mag)
        assert flux_err_to_mag_err(ztf_flux_error(flux), flux) == pytest.approx(expected, rel=1e-6)
    limit = mag_to_flux(ZTF_MAG_LIMIT)
    assert ztf_flux_error(np.array([-50.0, 0.0])) == pytest.approx([limit / 5, limit / 5])


@given(st.integers(min_value=0, max_value=10_000))
def test_sample_light_curve_is_realistic_for_any_seed(seed):
    obs = sample_observations(seed=seed)
    mjd = [o["mjd"] for o in obs]
    assert mjd == sorted(mjd)
    assert {o["band"] for o in obs} == {"g", "r"}
    limit = mag_to_flux(ZTF_MAG_LIMIT)
    assert all(o["flux"] > limit for o in obs), "alert photometry: detections brighter than the limit only"
    assert 12 <= len(obs) <= 70, "a typical ZTF transient has a few tens of detections"
    g_peak = min(flux_to_mag([o["flux"] for o in obs if o["band"] == "g"]))
    assert 18.0 < g_peak < 19.0, "peak 18.3: noise brightens it a little, a weather gap can hide it"


def test_sample_is_seeded_and_forced_photometry_has_non_positive_flux():
    assert sample_observations(seed=5) == sample_observations(seed=5)
    assert sample_observations(seed=5) != sample_observations(seed=6)
    forced = sample_observations(seed=5, detections_only=False)
    assert any(o["flux"] <= 0 for o in forced) and len(forced) > len(sample_observations(seed=5))
    assert {o["band"] for o in sample_observations(seed=1, bands=("g", "r", "i"))} == {"g", "r", "i"}


@pytest.mark.parametrize(("kwargs", "match"), [({"bands": ("g", "z")}, "bands"), ({"bands": ()}, "bands"),
                                               ({"cadence_days": 0}, "cadence_days")])
def test_sample_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_observations(**kwargs)


@given(mags, zeropoints)
def test_rescaled_flux_keeps_the_magnitude(mag, zp):
    flux_on_zp = mag_to_flux(mag, zp)
    assert flux_to_mag(rescale_flux(flux_on_zp, zp)) == pytest.approx(mag, abs=1e-9)


def test_survey_zeropoints():
    assert zeropoint("LSST") == 31.4 and zeropoint("fluxcal") == FLUXCAL_ZEROPOINT
    with pytest.raises(ValueError, match="survey must be one of"):
        zeropoint("hubble")
