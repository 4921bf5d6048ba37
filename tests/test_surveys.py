"""Survey processors: the registry, ZTF alert and LSST DIA formats, and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exowavenet_lib.photometry import flux_to_mag, ztf_band, ztf_fid
from exowavenet_lib.surveys import LSSTProcessor, SurveyConfig, SurveyProcessor, ZTFProcessor

# Three ZTF alert detections in the ALeRCE format (written by us; jd as the API returns it).
ZTF_ALERTS = pd.DataFrame(
    {
        "oid": ["ZTF21abcdefg"] * 3,
        "jd": [2459301.7512, 2459300.6801, 2459303.8123],
        "fid": [2, 1, 1],
        "magpsf": [18.21, 18.52, 18.05],
        "sigmapsf": [0.06, 0.08, 0.05],
        "isdiffpos": ["t", "t", "t"],
    }
)


def test_registry_is_case_insensitive_and_lists_known_names():
    assert isinstance(SurveyProcessor.from_survey_name("ZtF"), ZTFProcessor)
    assert isinstance(SurveyProcessor.from_survey_name("lsst"), LSSTProcessor)
    with pytest.raises(ValueError, match=r"unknown survey 'pan-starrs'; known surveys are \['lsst', 'ztf'\]"):
        SurveyProcessor.from_survey_name("pan-starrs")


def test_abc_refuses_an_incomplete_subclass():
    class Incomplete(SurveyProcessor):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_a_new_survey_is_one_class():
    class ToySurvey(SurveyProcessor):
        config = SurveyConfig("Toy", ("g",), 27.5, 20.0, 1.0)

        def _to_columns(self, df):
            return {c: df[c].to_numpy() for c in ("mjd", "flux", "flux_err", "band")}

    try:
        processor = SurveyProcessor.from_survey_name("toy")
        lc = processor.process_lightcurve([{"mjd": 1.0, "flux": 5.0, "flux_err": 1.0, "band": "g"}])
        assert lc.flux.tolist() == [5.0] and processor.processed_count == 1
    finally:
        SurveyProcessor._registry.pop("toy")


def test_ztf_alerts_become_a_sorted_fluxcal_light_curve():
    processor = ZTFProcessor()
    lc = processor.process_lightcurve(ZTF_ALERTS)
    assert lc.object_id == "ZTF21abcdefg" and lc.meta["survey"] == "ZTF"
    np.testing.assert_allclose(lc.mjd, [59300.1801, 59301.2512, 59303.3123], atol=1e-6)
    assert lc.band.tolist() == ["g", "r", "g"]
    np.testing.assert_allclose(flux_to_mag(lc.flux), [18.52, 18.21, 18.05])
    np.testing.assert_allclose(1.0857 * lc.flux_err / lc.flux, [0.08, 0.06, 0.05], rtol=1e-3)
    assert processor.processed_count == 1


def test_ztf_mjd_column_negative_differences_and_object_id_override():
    df = ZTF_ALERTS.drop(columns="jd").assign(mjd=[59301.0, 59300.0, 59303.0], isdiffpos=["t", "f", "1"])
    lc = ZTFProcessor().process_lightcurve(df, object_id="custom")
    assert lc.object_id == "custom" and lc.flux[0] < 0 < lc.flux[1]


def test_ztf_bad_rows_raise_or_are_dropped_and_counted():
    df = ZTF_ALERTS.copy()
    df.loc[1, "magpsf"] = np.nan
    with pytest.raises(ValueError, match="1 unusable row"):
        ZTFProcessor().process_lightcurve(df)
    processor = ZTFProcessor()
    assert len(processor.process_lightcurve(df, drop_invalid=True)) == 2
    assert processor.rejected_count == 1 and "rejected=1" in repr(processor)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda df: df.drop(columns="magpsf"), ValueError, r"lack the column\(s\) \['magpsf'\]"),
        (lambda df: df.drop(columns="jd"), ValueError, "'mjd' or 'jd'"),
        (lambda df: df.assign(fid=[1, 4, 2]), ValueError, r"unknown filter id\(s\) \[4\]"),
        (lambda df: df.iloc[:0], ValueError, "records are empty"),
        (lambda df: "not records", TypeError, "records must be a DataFrame"),
    ],
)
def test_ztf_bad_input(change, error, match):
    with pytest.raises(error, match=match):
        ZTFProcessor().process_lightcurve(change(ZTF_ALERTS.copy()))


def test_lsst_dia_sources_in_njy_become_fluxcal():
    njy_at_mag_20 = 3631e9 * 10 ** (-0.4 * 20)
    records = [
        {"diaObjectId": 42, "midpointMjdTai": 60001.0, "band": "y", "psfFlux": njy_at_mag_20, "psfFluxErr": 100.0},
        {"diaObjectId": 42, "midpointMjdTai": 60000.0, "band": "u", "psfFlux": -50.0, "psfFluxErr": 80.0},
    ]
    lc = LSSTProcessor().process_lightcurve(records)
    assert lc.object_id == "42" and lc.bands == ("u", "y")
    assert flux_to_mag(lc["y"].flux)[0] == pytest.approx(20.0, abs=1e-3)
    assert lc["u"].flux[0] < 0
    with pytest.raises(ValueError, match=r"band contains \['kepler'\]"):
        LSSTProcessor().process_lightcurve([{**records[0], "band": "kepler"}])


def test_validate_photometry_mask_and_config_validation():
    mask = SurveyProcessor.validate_photometry([1.0, 2.0, np.nan, 4.0], [1.0, np.inf, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0])
    assert mask.tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="equal lengths"):
        SurveyProcessor.validate_photometry([1.0], [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="bands"):
        SurveyConfig("X", ("g", "V"), 27.5, 20.0, 1.0)
    with pytest.raises(ValueError, match="cadence_days"):
        SurveyConfig("X", ("g",), 27.5, 20.0, 0.0)
    assert LSSTProcessor.config.bands == ("u", "g", "r", "i", "z", "y") and ZTFProcessor.SUPPORTED_FORMATS == ("alert",)


def test_ztf_band_codes():
    assert [ztf_band(f) for f in (1, 2, 3)] == ["g", "r", "i"] and ztf_fid("r") == 2
    with pytest.raises(ValueError, match="fid"):
        ztf_band(4)
    with pytest.raises(ValueError, match="band"):
        ztf_fid("u")


def test_simulated_light_curve_round_trips_through_ztf_alerts():
    from exowavenet_lib.lightcurves import TransientLightCurve
    from exowavenet_lib.simulate import sample_observations
    from exowavenet_lib.surveys import to_ztf_alerts

    lc = TransientLightCurve.from_records(sample_observations(seed=2), object_id="ZTF22sim")
    alerts = to_ztf_alerts(lc)
    assert list(alerts.columns) == ["oid", "jd", "fid", "magpsf", "sigmapsf", "isdiffpos"]
    back = ZTFProcessor().process_lightcurve(alerts)
    np.testing.assert_allclose(back.flux, lc.flux, rtol=1e-9)
    np.testing.assert_allclose(back.flux_err, lc.flux_err, rtol=1e-9)
    np.testing.assert_allclose(back.mjd, lc.mjd, atol=1e-6)
    assert back.object_id == "ZTF22sim"
    with pytest.raises(TypeError, match="TransientLightCurve"):
        to_ztf_alerts(alerts)
