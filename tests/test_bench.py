"""Benchmark plumbing: the measurements are right on known inputs and reports are written (figures not asserted)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from exowavenet_lib.bench.simulator import bench_simulator, half_max_times, transient_realism
from exowavenet_lib.lightcurves import TransientLightCurve


def _triangle(rise: float, fade: float, band: str = "g") -> TransientLightCurve:
    t = np.arange(0.0, 2 * (rise + fade) + 20.0, 2.0)  # the kinks fall on the 2-day grid: interpolation is exact
    flux = np.interp(t, [0.0, 2 * rise, 2 * rise + 2 * fade], [0.0, 1000.0, 0.0]) + 10.0
    return TransientLightCurve(t + 60000.0, flux, np.ones_like(t), band, object_id=f"tri{rise}-{fade}")


@pytest.mark.parametrize(("rise", "fade"), [(5.0, 15.0), (10.0, 30.0)])
def test_half_max_times_on_a_triangle(rise, fade):
    measured_rise, measured_fade = half_max_times(_triangle(rise, fade))
    # half of the peak (1010) is 505, reached (505 - 10) / 1000 of the way up a linear ramp of 2*rise days
    assert measured_rise == pytest.approx(2 * rise * (1 - 495 / 1000), abs=0.01)
    assert measured_fade == pytest.approx(2 * fade * (1 - 495 / 1000), abs=0.01)


def test_half_max_is_nan_when_the_curve_never_reaches_half_maximum():
    t = np.arange(10.0)
    lc = TransientLightCurve(t, 1000.0 - t, np.ones(10), "r", object_id="flat")
    rise, fade = half_max_times(lc)
    assert np.isnan(rise) and np.isnan(fade)


def test_transient_realism_reads_cadence_and_class_times():
    lcs = [_triangle(5.0, 15.0, "g") for _ in range(3)]
    report = transient_realism(lcs, ["SNIa"] * 3)
    assert report["same_band_revisit_days"]["simulated"]["median"] == pytest.approx(2.0)
    assert report["same_band_revisit_days"]["inside"] is True
    assert report["rise_days_SNIa"]["simulated"]["median"] == pytest.approx(5.05, abs=0.01)
    assert report["rise_days_SNIa"]["inside"] is False  # 5 d is below the published 6.6-13.9 d
    assert report["class_counts"] == {"SNIa": 3}


def test_bench_simulator_writes_json_and_plot(tmp_path):
    report = bench_simulator(n_transients=60, n_throughput=20, n_transits=20, seed=3, output_dir=tmp_path)
    saved = json.loads((tmp_path / "simulator.json").read_text())
    assert saved["transients"]["n_objects"] == 60 and report["seed"] == 3
    assert saved["transient_throughput_lc_per_s"]["median_per_s"] > 0
    assert saved["transit_throughput_lc_per_s"]["median_per_s"] > 0
    assert saved["transits_kepler"]["fraction_with_planet"] == 0.5
    assert 7.0 <= saved["transits_kepler"]["snr"]["median"] <= 30.0
    assert (tmp_path / "simulator_transients.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="n_transients"):
        bench_simulator(n_transients=10, output_dir=tmp_path)


def test_bench_transit_smoke_writes_json_and_plots(tmp_path):
    from exowavenet_lib.bench.transit import bench_transit

    bench_transit(seed=1, output_dir=tmp_path, smoke=True)
    saved = json.loads((tmp_path / "transit.json").read_text())
    assert saved["benchmark"] == "transit" and saved["smoke"] is True and saved["seed"] == 1
    snrs = [f"{s:g}" for s in saved["parameters"]["snr_values"]]
    for noise in ("white", "variable"):
        for method in ("ExoWaveNet", "BLS"):
            recall = saved["recall"][noise][method]
            assert list(recall) == snrs and all(0.0 <= r <= 1.0 for r in recall.values())
    rows = saved["injection_recovery"]
    assert len(rows) == 2 * 2 * len(snrs) and all(0.0 <= r["fpr"] <= 0.01 for r in rows)
    assert all(np.isfinite(r["threshold"]) and r["n"] == saved["parameters"]["n_per_snr"] for r in rows)
    for backend in ("eager", "torchscript", "onnxruntime"):
        rate = saved["throughput"][backend]["windows_per_s"]
        assert np.isfinite(rate) and rate > 0
    targets = saved["targets"]
    for key in ("white", "variable", "throughput"):
        assert isinstance(targets[key]["met"], bool) and np.isfinite(targets[key]["margin"])
    assert targets["throughput"]["best_backend"] in ("eager", "torchscript", "onnxruntime")
    assert saved["model"]["checkpoint_sha256"] and saved["model"]["window"] > 0
    for name in ("transit_recall.png", "transit_throughput.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    with pytest.raises(ValueError, match="parameters"):
        bench_transit(output_dir=tmp_path, smoke=True, parameters={"n_windows": 3})
