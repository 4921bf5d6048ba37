"""``exowavenet bench simulator``: are the simulated light curves like the real sky, and how fast are they made?

Each simulated distribution is measured on the light curves themselves (as one would on real alerts) and set
beside the published numbers in ``astro-facts.md``; ``inside`` says whether the simulated figure falls in the
published range. Nothing here is asserted: this is a report.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from exowavenet_lib.bench._common import machine, write_json
from exowavenet_lib.lightcurves import LightCurve, TransientLightCurve
from exowavenet_lib.photometry import flux_err_to_mag_err, flux_to_mag

#: Published anchors (astro-facts.md): (median, low, high) where low-high is the 10-90 % or IQR range given.
REFERENCE: dict[str, tuple[float, float, float]] = {
    "same_band_revisit_days": (3.0, 2.0, 4.0),  # median, IQR
    "season_gap_days": (111.0, 70.0, 196.0),  # median, 10-90 %
    # "a typical transient has ~26 detections over ~50 d" (SNe and TDEs); the ranges are our tolerance, not published
    "detections_per_object": (26.0, 13.0, 52.0),
    "baseline_days": (50.0, 25.0, 100.0),
    "rise_days_SNIa": (9.7, 6.6, 13.9),
    "rise_days_SNII": (11.3, 4.1, 28.1),
    "rise_days_TDE": (12.8, 7.8, 25.7),
    "fade_days_SNIa": (14.3, 9.8, 20.6),
    "fade_days_SNII": (24.2, 11.8, 50.0),
    "fade_days_TDE": (32.4, 17.3, 58.8),
}
#: Median ZTF alert magnitude error in magnitude bins (astro-facts.md).
MAG_ERROR_TABLE: dict[tuple[float, float], float] = {
    (16.0, 17.0): 0.038, (17.0, 18.0): 0.054, (18.0, 19.0): 0.088, (19.0, 20.0): 0.144, (20.0, 20.5): 0.21,
    (20.5, 21.0): 0.26,
}
SEASON_GAP_MIN_DAYS = 60.0
TRANSIENT_CLASSES_WITH_TIMES = ("SNIa", "SNII", "TDE")


def _summary(values: Sequence[float]) -> dict[str, float | int]:
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if arr.size == 0:
        return {"n": 0}
    p10, p25, p50, p75, p90 = np.percentile(arr, [10, 25, 50, 75, 90])
    return {"n": int(arr.size), "median": float(p50), "p25": float(p25), "p75": float(p75), "p10": float(p10),
            "p90": float(p90)}


def _compare(name: str, values: Sequence[float]) -> dict[str, Any]:
    median, low, high = REFERENCE[name]
    measured = _summary(values)
    inside = measured.get("n", 0) > 0 and low <= measured["median"] <= high
    return {"simulated": measured, "published": {"median": median, "range": [low, high]}, "inside": bool(inside)}


def _half_max_crossing(t: np.ndarray, f: np.ndarray, peak: int, step: int) -> float:
    """Time where the flux first falls below half of ``f[peak]`` walking from the peak by ``step`` (±1)."""
    half = f[peak] / 2.0
    j = peak + step
    while 0 <= j < len(f):
        if f[j] < half:
            k = j - step  # the neighbour nearer the peak, still at or above half maximum
            return float(t[j] + (half - f[j]) * (t[k] - t[j]) / (f[k] - f[j]))
        j += step
    return float("nan")


def half_max_times(lc: LightCurve) -> tuple[float, float]:
    """Rise (half-max → peak) and fade (peak → half-max) times in days, measured on the best-sampled band.

    Linear interpolation between detections; NaN where the light curve does not reach half maximum.
    """
    band = max(lc.bands, key=lambda b: int(np.sum(lc.band == b)))
    t, f = lc.mjd[lc.band == band], lc.flux[lc.band == band]
    peak = int(np.argmax(f))
    return float(t[peak] - _half_max_crossing(t, f, peak, -1)), float(_half_max_crossing(t, f, peak, +1) - t[peak])


def transient_realism(lightcurves: Sequence[TransientLightCurve], labels: Sequence[str]) -> dict[str, Any]:
    """Measure cadence, noise, sampling and class time scales of simulated light curves against astro-facts."""
    revisits, seasons, detections, baselines = [], [], [], []
    mags, mag_errs = [], []
    for lc, label in zip(lightcurves, labels, strict=True):
        if label in TRANSIENT_CLASSES_WITH_TIMES:  # "a typical transient": explosive classes only
            detections.append(len(lc))
            baselines.append(lc.duration)
        for b in lc.bands:
            gaps = np.diff(lc.mjd[lc.band == b])
            revisits.extend(gaps[(gaps > 0.5) & (gaps < SEASON_GAP_MIN_DAYS)].tolist())
            if label == "AGN":  # seasons show in persistent sources; CV gaps between outbursts are not seasons
                seasons.extend(gaps[gaps >= SEASON_GAP_MIN_DAYS].tolist())
        positive = lc.flux > 0
        mags.extend(flux_to_mag(lc.flux[positive]).tolist())
        mag_errs.extend(flux_err_to_mag_err(lc.flux_err[positive], lc.flux[positive]).tolist())
    report: dict[str, Any] = {
        "n_objects": len(lightcurves),
        "class_counts": {c: int(sum(1 for lab in labels if lab == c)) for c in sorted(set(labels))},
        "same_band_revisit_days": _compare("same_band_revisit_days", revisits),
        "season_gap_days": _compare("season_gap_days", seasons),
        "detections_per_object": _compare("detections_per_object", detections),
        "baseline_days": _compare("baseline_days", baselines),
    }
    mags_arr, errs_arr = np.asarray(mags), np.asarray(mag_errs)
    report["mag_error_by_mag"] = {}
    for (lo, hi), published in MAG_ERROR_TABLE.items():
        sel = (mags_arr >= lo) & (mags_arr < hi)
        simulated = float(np.median(errs_arr[sel])) if sel.any() else float("nan")
        report["mag_error_by_mag"][f"{lo}-{hi}"] = {
            "simulated_median": simulated, "published_median": published, "n": int(sel.sum()),
            "inside": bool(np.isfinite(simulated) and 0.75 <= simulated / published <= 1.33),
        }
    by_class: dict[str, list[TransientLightCurve]] = {}
    for lc, label in zip(lightcurves, labels, strict=True):
        by_class.setdefault(label, []).append(lc)
    report["peak_mag_by_class"] = {
        c: _summary([float(flux_to_mag(np.max(lc.flux))) for lc in group if np.max(lc.flux) > 0])
        for c, group in sorted(by_class.items())
    }
    for c in TRANSIENT_CLASSES_WITH_TIMES:
        times = np.array([half_max_times(lc) for lc in by_class.get(c, [])]).reshape(-1, 2)
        report[f"rise_days_{c}"] = _compare(f"rise_days_{c}", times[:, 0].tolist())
        report[f"fade_days_{c}"] = _compare(f"fade_days_{c}", times[:, 1].tolist())
    return report


def throughput(make: Callable[[], Sequence[Any]], repeats: int = 3) -> dict[str, float]:
    """Median items per second of ``make()`` over ``repeats`` runs."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = len(make())
        rates.append(n / (time.perf_counter() - start))
    return {"median_per_s": statistics.median(rates), "runs_per_s": rates}


def plot_transient_realism(report: dict[str, Any], path: Path) -> None:
    """Six panels: each simulated figure with its published median and range."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never called inside a notebook
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    scalar = [("same_band_revisit_days", "Same-band revisit (d)"), ("season_gap_days", "Season gap (d)"),
              ("detections_per_object", "Detections per object"), ("baseline_days", "Detection baseline (d)")]
    ax = axes[0, 0]
    for i, (key, label) in enumerate(scalar):
        _range_bar(ax, i, report[key], label)
    ax.set_yticks(range(len(scalar)), [label for _, label in scalar])
    ax.set_xscale("log")
    ax.set(xlabel="Value (log scale)", title="Cadence and sampling: simulated vs published")
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[0, 1]
    bins = list(report["mag_error_by_mag"].items())
    centres = [np.mean([float(x) for x in key.split("-")]) for key, _ in bins]
    ax.plot(centres, [v["published_median"] for _, v in bins], "ks--", label="ZTF alerts (published median)")
    ax.plot(centres, [v["simulated_median"] for _, v in bins], "o-", color="tab:blue", label="simulated median")
    ax.set(xlabel="Magnitude", ylabel="Magnitude error (mag)", title="Photometric error vs magnitude")
    ax.legend(fontsize=8)

    ax = axes[0, 2]
    classes = list(report["peak_mag_by_class"])
    for i, c in enumerate(classes):
        s = report["peak_mag_by_class"][c]
        if s.get("n"):
            ax.errorbar(s["median"], i, xerr=[[s["median"] - s["p10"]], [s["p90"] - s["median"]]], fmt="o",
                        color="tab:blue")
    ax.axvline(18.5, color="grey", ls=":", label="BTS-like sample limit (18.5)")
    ax.axvline(20.5, color="black", ls="--", label="alert limit (20.5)")
    ax.set_yticks(range(len(classes)), classes)
    ax.invert_xaxis()
    ax.set(xlabel="Brightest detected magnitude (median, 10-90 %)", title="Peak magnitudes by class")
    ax.legend(fontsize=8)

    for ax, kind in ((axes[1, 0], "rise"), (axes[1, 1], "fade")):
        for i, c in enumerate(TRANSIENT_CLASSES_WITH_TIMES):
            _range_bar(ax, i, report[f"{kind}_days_{c}"], c)
        ax.set_yticks(range(len(TRANSIENT_CLASSES_WITH_TIMES)), TRANSIENT_CLASSES_WITH_TIMES)
        ax.set(xlabel=f"{kind.capitalize()} time, half max ↔ peak (observer frame, d)",
               title=f"{kind.capitalize()} times: simulated (blue) vs published (grey)")
    axes[1, 2].axis("off")
    axes[1, 2].text(0, 0.5, _verdict_text(report), family="monospace", fontsize=9, va="center")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _range_bar(ax: Any, y: int, entry: dict[str, Any], label: str) -> None:
    pub = entry["published"]
    ax.plot(pub["range"], [y + 0.15] * 2, color="grey", lw=6, alpha=0.6,
            label="published median and range" if y == 0 else None)
    ax.plot(pub["median"], y + 0.15, "k|", ms=14)
    sim = entry["simulated"]
    if sim.get("n"):
        ax.errorbar(sim["median"], y - 0.15, xerr=[[sim["median"] - sim["p25"]], [sim["p75"] - sim["median"]]],
                    fmt="o", color="tab:blue", label="simulated median and IQR" if y == 0 else None)


def _verdict_text(report: dict[str, Any]) -> str:
    lines = ["inside published range?"]
    for key, value in report.items():
        if isinstance(value, dict) and "inside" in value:
            lines.append(f"{'yes' if value['inside'] else 'NO ':>3}  {key}")
    for key, value in report["mag_error_by_mag"].items():
        lines.append(f"{'yes' if value['inside'] else 'NO ':>3}  mag error {key}")
    return "\n".join(lines)


def transit_summary(params: Any) -> dict[str, Any]:
    """Distributions of the injected planets and of the data lost to gaps in a ``simulate_transits`` run."""
    planets = params[params["has_transit"]]
    columns = ["noise_ppm", "depth", "duration_hours", "period", "snr", "n_transits_observed"]
    summary = {c: _summary(planets[c].to_numpy(dtype=float) * (1e6 if c == "depth" else 1.0)) for c in columns}
    summary["depth_ppm"] = summary.pop("depth")
    summary["gap_fraction"] = _summary(params["gap_fraction"].to_numpy(dtype=float))
    summary["fraction_with_planet"] = float(params["has_transit"].mean())
    # Transit SNR = (depth / sigma) * sqrt(n_in_transit) (astro-facts.md); the Kepler pipeline threshold is 7.1.
    summary["fraction_above_kepler_threshold_7_1"] = float((planets["snr"] >= 7.1).mean()) if len(planets) else 0.0
    return summary


def bench_simulator(*, n_transients: int = 2000, n_throughput: int = 5000, n_transits: int = 500, seed: int = 0,
                    output_dir: Path = Path("benchmarks/results")) -> dict[str, Any]:
    """Realism of the transient and transit simulators against astro-facts, and their throughput; JSON + plot."""
    from exowavenet_lib.simulate import simulate_transients, simulate_transits

    if n_transients < 50 or n_throughput < 1 or n_transits < 10:
        raise ValueError("n_transients must be >= 50, n_throughput >= 1 and n_transits >= 10")
    simulate_transients(10, seed=seed)  # warm-up: the first call builds the distance-modulus grid
    lightcurves, labels = simulate_transients(n_transients, seed=seed)
    report: dict[str, Any] = {
        "benchmark": "simulator",
        "machine": machine(),
        "seed": seed,
        "transients": transient_realism(lightcurves, labels),
        "transient_throughput_lc_per_s": throughput(lambda: simulate_transients(n_throughput, seed=seed + 1)[0]),
        "transits_kepler": transit_summary(simulate_transits(n_transits, seed=seed).params),
        "transit_throughput_lc_per_s": throughput(lambda: simulate_transits(n_transits, seed=seed + 1).lightcurves),
    }
    output_dir = Path(output_dir)
    write_json(report, output_dir / "simulator.json")
    plot_transient_realism(report["transients"], output_dir / "simulator_transients.png")
    return report
