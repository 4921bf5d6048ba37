"""LightCurve and TransientLightCurve: invariants (hypothesis), conversions and validation at the boundary."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exowavenet_lib.lightcurves import KNOWN_BANDS, LightCurve, TransientLightCurve
from exowavenet_lib.simulate import sample_observations

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def light_curves(draw, min_size=1, max_size=40):
    n = draw(st.integers(min_size, max_size))
    mjd = draw(st.lists(st.floats(50_000, 70_000), min_size=n, max_size=n))
    flux = draw(st.lists(finite, min_size=n, max_size=n))
    err = draw(st.lists(st.floats(0, 1e4), min_size=n, max_size=n))
    band = draw(st.lists(st.sampled_from(["g", "r", "i"]), min_size=n, max_size=n))
    return LightCurve(mjd, flux, err, band)


def _sample(**kwargs) -> TransientLightCurve:
    return TransientLightCurve.from_records(sample_observations(seed=1), object_id="ZTF21aaaaaaa", **kwargs)


@given(light_curves())
def test_sorted_by_time_and_bands_partition_the_curve(lc):
    assert np.all(np.diff(lc.mjd) >= 0)
    assert set(lc.bands) == set(lc.band.tolist())
    assert sum(len(lc[b]) for b in lc.bands) == len(lc)
    for b in lc.bands:
        assert set(lc[b].band.tolist()) == {b}
    assert lc.duration == pytest.approx(lc.mjd.max() - lc.mjd.min())


@given(light_curves())
def test_pandas_and_astropy_round_trips(lc):
    df = lc.to_pandas()
    assert list(df.columns) == ["mjd", "flux", "flux_err", "band"]
    assert LightCurve.from_pandas(df) == lc
    assert LightCurve.from_table(lc.to_table()) == lc
    assert LightCurve.from_records(lc.to_records()) == lc


@given(light_curves(), light_curves())
def test_merge_is_sorted_without_duplicates(a, b):
    merged = a + b
    assert np.all(np.diff(merged.mjd) >= 0)
    keys = list(zip(merged.mjd.tolist(), merged.band.tolist(), strict=True))
    assert len(keys) == len(set(keys))
    assert set(keys) == set(zip(a.mjd.tolist(), a.band.tolist(), strict=True)) | set(
        zip(b.mjd.tolist(), b.band.tolist(), strict=True)
    )


@given(light_curves())
def test_merging_with_itself_changes_nothing_when_points_are_unique(lc):
    keys = list(zip(lc.mjd.tolist(), lc.band.tolist(), strict=True))
    if len(keys) == len(set(keys)):
        assert lc + lc == lc


@settings(max_examples=50)
@given(light_curves(min_size=2), st.floats(0.1, 50.0))
def test_phase_fold_is_in_range_and_periodic(lc, period):
    folded = lc.phase_fold(period)
    assert folded["phase"].between(-0.5, 0.5, inclusive="left").all()
    assert folded["phase"].is_monotonic_increasing and len(folded) == len(lc)
    shifted = LightCurve(lc.mjd + 3 * period, lc.flux, lc.flux_err, lc.band).phase_fold(period, epoch=lc.mjd[0])
    np.testing.assert_allclose(np.sort(shifted["phase"]), np.sort(folded["phase"]), atol=1e-6)


def test_indexing_by_position_slice_band_and_mask():
    lc = _sample()
    first = lc[0]
    assert set(first) == {"mjd", "flux", "flux_err", "band"} and isinstance(first["mjd"], float)
    assert lc[-1]["mjd"] == lc.mjd[-1]
    assert len(lc[2:5]) == 3 and isinstance(lc[2:5], TransientLightCurve)
    assert lc["g"].bands == ("g",) and lc["g"].object_id == "ZTF21aaaaaaa"
    assert len(lc[lc.flux > 3000]) == int(np.sum(lc.flux > 3000))
    assert [obs["mjd"] for obs in lc] == lc.mjd.tolist()
    with pytest.raises(IndexError, match="out of range"):
        lc[len(lc)]
    with pytest.raises(KeyError, match="band 'i' has no observations"):
        lc["i"]
    with pytest.raises(KeyError, match="unknown band 'V'"):
        lc["V"]
    with pytest.raises(ValueError, match="selection is empty"):
        lc[lc.flux < -1e9]
    with pytest.raises(IndexError, match="boolean mask"):
        lc[np.array([True, False])]


def test_columns_are_read_only():
    lc = _sample()
    with pytest.raises(ValueError):
        lc.flux[0] = 0.0


def test_normalize_per_band():
    lc = _sample().normalize()
    for b in lc.bands:
        assert np.median(lc[b].flux) == pytest.approx(1.0)
    assert lc.meta["flux_unit"] == "relative to median"
    assert np.max(_sample().normalize("max")["r"].flux) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="method"):
        _sample().normalize("mean")
    with pytest.raises(ValueError, match="cannot normalize band 'g'"):
        LightCurve([1.0, 2.0], [-1.0, -2.0], [1.0, 1.0], "g").normalize()


def test_transient_fields_peak_and_display():
    lc = _sample(transient_type="SNIa", redshift=0.05)
    assert lc.peak_mjd == lc.mjd[np.argmax(lc.flux)]
    assert set(lc.peak_magnitudes) == {"g", "r"}
    g = lc["g"]
    assert lc.peak_magnitude("g") == pytest.approx(27.5 - 2.5 * np.log10(g.flux.max()))
    assert "ZTF21aaaaaaa (SNIa)" in repr(lc) and "bands g r" in repr(lc)
    assert "flux_err" in str(lc)
    assert lc[:4].redshift == 0.05 and lc[:4].peak_mjd == lc.peak_mjd
    assert lc != _sample(transient_type="SNII", redshift=0.05)
    with pytest.raises(ValueError, match="band 'i' has no observations"):
        lc.peak_magnitude("i")
    with pytest.raises(TypeError):
        hash(lc)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mjd": []}, ValueError, "mjd is empty"),
        ({"flux": [1.0, np.nan, 3.0]}, ValueError, "flux contains 1 NaN"),
        ({"mjd": [1.0, np.inf, 3.0]}, ValueError, "mjd contains 1 NaN or infinite"),
        ({"flux_err": [1.0, -0.1, 1.0]}, ValueError, "flux_err must be >= 0"),
        ({"band": ["g", "V", "r"]}, ValueError, r"unknown band\(s\) \['V'\]"),
        ({"band": [1, 2, 1]}, TypeError, "band must hold strings"),
        ({"flux": ["a", "b", "c"]}, TypeError, "flux must be numeric"),
        ({"flux": [1.0, 2.0]}, ValueError, "flux has 2 values but mjd has 3"),
        ({"band": ["g", "r"]}, ValueError, "band has 2 values"),
        ({"mjd": [[1.0, 2.0, 3.0]]}, ValueError, "one-dimensional"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    args = {"mjd": [3.0, 1.0, 2.0], "flux": [1.0, 2.0, 3.0], "flux_err": [0.1, 0.1, 0.1], "band": "g", **kwargs}
    with pytest.raises(error, match=match):
        LightCurve(**args)


def test_unsorted_input_is_sorted_with_its_columns():
    lc = LightCurve([3.0, 1.0, 2.0], [30.0, 10.0, 20.0], [3.0, 1.0, 2.0], ["r", "g", "g"])
    assert lc.mjd.tolist() == [1.0, 2.0, 3.0] and lc.flux.tolist() == [10.0, 20.0, 30.0]
    assert lc.band.tolist() == ["g", "g", "r"]


def test_constructor_helpers_validate_their_input():
    with pytest.raises(ValueError, match=r"records lack the key\(s\) \['flux_err'\]"):
        LightCurve.from_records([{"mjd": 1.0, "flux": 2.0, "band": "g"}])
    with pytest.raises(TypeError, match="records must be a list"):
        LightCurve.from_records("mjd,flux")
    with pytest.raises(ValueError, match=r"df lacks the column\(s\) \['band'\]"):
        LightCurve.from_pandas(pd.DataFrame({"mjd": [1.0], "flux": [1.0], "flux_err": [1.0]}))
    with pytest.raises(TypeError, match="df must be a pandas DataFrame"):
        LightCurve.from_pandas({"mjd": [1.0]})
    with pytest.raises(TypeError, match="object_id"):
        TransientLightCurve([1.0], [1.0], [1.0], "g", object_id="")
    with pytest.raises(ValueError, match="redshift"):
        TransientLightCurve([1.0], [1.0], [1.0], "g", object_id="x", redshift=-0.1)
    with pytest.raises(ValueError, match="period"):
        _sample().phase_fold(0)
    with pytest.raises(ValueError, match="cannot merge flux units"):
        _sample() + _sample().normalize()


def test_lightkurve_bridge():
    from astropy import units as u
    from astropy.time import Time

    fake = SimpleNamespace(
        time=Time([55000.0, 55000.02], format="mjd"),
        flux=np.array([1.0, 0.99]) * u.dimensionless_unscaled,
        flux_err=np.array([0.001, 0.001]) * u.dimensionless_unscaled,
    )
    lc = LightCurve.from_lightkurve(fake)
    assert lc.bands == ("kepler",) and lc.mjd.tolist() == [55000.0, 55000.02]
    try:
        import lightkurve  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install lightkurve"):
            lc.to_lightkurve()


def test_known_bands_are_ordered_blue_to_red():
    assert KNOWN_BANDS.index("g") < KNOWN_BANDS.index("r") < KNOWN_BANDS.index("i") < KNOWN_BANDS.index("y")
    assert LightCurve([1.0, 2.0, 3.0], [1.0] * 3, [1.0] * 3, ["i", "u", "g"]).bands == ("u", "g", "i")
