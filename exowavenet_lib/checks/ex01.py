"""Checks for notebook 01 — functions and decorators for light-curve processing."""

from __future__ import annotations

import copy
import io
import math
import re
import time
from contextlib import redirect_stdout

from exowavenet_lib.checks._core import attempt, check, expect, expect_raises, show

# A tiny hand-written light curve: three bands, unsorted times, ties in flux, on purpose.
_OBS = [
    {"mjd": 10.0, "flux": 15.0, "flux_err": 1.0, "band": "g"},
    {"mjd": 11.0, "flux": 19.0, "flux_err": 2.0, "band": "r"},
    {"mjd": 12.0, "flux": 25.0, "flux_err": 1.5, "band": "g"},
    {"mjd": 9.0, "flux": 30.0, "flux_err": 3.0, "band": "g"},
    {"mjd": 14.0, "flux": 19.0, "flux_err": 0.5, "band": "i"},
    {"mjd": 15.0, "flux": -4.0, "flux_err": 2.5, "band": "r"},
]


def _obs() -> list[dict]:
    return copy.deepcopy(_OBS)


def _rows(indices: list[int]) -> list[dict]:
    return [_OBS[i] for i in indices]


def _mag(flux: float, zeropoint: float = 27.5) -> float | None:
    return zeropoint - 2.5 * math.log10(flux) if flux > 0 else None


@check("01", "1a", hint="Loop over `filters.items()`. For a key ending in '_min' or '_max', the column is the key "
       "without that suffix (use `key[:-4]`, not `key.split('_')`: think of 'flux_err_max'). Bounds are inclusive. "
       "Raise ValueError naming any key whose column is not in the data.")
def q1a(filter_lightcurve):
    """filter_lightcurve(data, **filters): exact matches, inclusive _min/_max bounds, clear error for unknown keys."""
    data = _obs()
    got = attempt(filter_lightcurve, data, band="g")
    expect(data == _OBS, "the input list to be left unchanged (return a new list)", "the input list was modified")
    expect(got == _rows([0, 2, 3]), "the three g-band rows, in their original order", got)
    cases = [
        ({"mjd_min": 10, "flux_min": 19}, [1, 2, 4], "mjd >= 10 and flux >= 19 (bounds are inclusive)"),
        ({"band": "g", "mjd_max": 11}, [0, 3], "g-band rows with mjd <= 11"),
        ({"flux_err_max": 1.5}, [0, 2, 4], "rows with flux_err <= 1.5 (the column is 'flux_err')"),
        ({"flux_max": 0}, [5], "only the negative-flux row for flux_max=0"),
        ({"band": "z"}, [], "an empty list when nothing matches"),
        ({}, [0, 1, 2, 3, 4, 5], "every row when no filter is given"),
    ]
    for filters, indices, what in cases:
        got = filter_lightcurve(_obs(), **filters)
        expect(got == _rows(indices), f"{what}: mjd {[_OBS[i]['mjd'] for i in indices]}",
               f"mjd {[r.get('mjd') for r in got] if isinstance(got, list) else show(got)} for {filters}")
    expect_raises(ValueError, filter_lightcurve, _obs(), mentions="colour", colour="blue")
    expect_raises(ValueError, filter_lightcurve, _obs(), mentions="magnitude", magnitude_min=18)
    return "exact matches, inclusive bounds, and a clear error for unknown filters"


@check("01", "1b", hint="Only a positive flux has a magnitude: `if flux <= 0: return None`, "
       "else `zeropoint - 2.5 * math.log10(flux)`. Note log10, not the natural log.")
def q1b(flux_to_magnitude):
    """flux_to_magnitude(flux, zeropoint=27.5): Pogson's law; None for non-positive flux."""
    got = attempt(flux_to_magnitude, 1000.0)
    expect(isinstance(got, (int, float)) and abs(got - 20.0) < 1e-9, "flux 1000 → magnitude 20.0", got)
    for flux, zp in [(1.0, 27.5), (2512.0, 27.5), (1e5, 27.5), (1000.0, 30.0), (37, 25.0)]:
        got = flux_to_magnitude(flux, zeropoint=zp)
        expect(isinstance(got, (int, float)) and abs(got - _mag(flux, zp)) < 1e-9,
               f"flux {flux}, zeropoint {zp} → {_mag(flux, zp):.4f}", got)
    got = flux_to_magnitude(1000.0, 30.0)
    expect(isinstance(got, (int, float)) and abs(got - 22.5) < 1e-9, "zeropoint also accepted by position: 22.5",
           got)
    for flux in (0.0, -3.5, 0):
        try:
            got = flux_to_magnitude(flux)
        except NotImplementedError:
            raise
        except Exception as err:  # noqa: BLE001
            got = f"{type(err).__name__}: {err}"
        expect(got is None, f"None for flux {flux} (no magnitude exists, and NaN would spread silently)", got)
    return "Pogson's law with any zeropoint, and None where no magnitude exists"


@check("01", "1c", hint="Build a new dict per observation: `{**obs, 'mag': func(obs['flux'], *args, **kwargs)}`. "
       "Keep observations whose magnitude is None — dropping them loses data.")
def q1c(apply_magnitude_conversion):
    """apply_magnitude_conversion(data, func, *args, **kwargs): new records with 'mag', args forwarded."""
    calls = []

    def spy(flux, *args, **kwargs):
        expect(isinstance(flux, (int, float)), "func to be called with the observation's flux (a number)", flux)
        calls.append((flux, args, kwargs))
        return None if flux <= 0 else -flux

    data = _obs()
    got = attempt(apply_magnitude_conversion, data, spy, 1, 2, zeropoint=30.0)
    expect(data == _OBS, "the input records to be left unchanged (copy each dict)", "the input was modified")
    expect(isinstance(got, list) and len(got) == len(_OBS),
           f"a list with all {len(_OBS)} observations (none dropped, even when the magnitude is None)",
           f"{len(got)} items" if isinstance(got, list) else show(got))
    expect(all(isinstance(r, dict) for r in got), "a list of observation dicts", got)
    expect([c[0] for c in calls] == [o["flux"] for o in _OBS], "func to be called once per observation with its flux",
           [c[0] for c in calls])
    expect(all(c[1] == (1, 2) and c[2] == {"zeropoint": 30.0} for c in calls),
           "the extra *args (1, 2) and **kwargs {'zeropoint': 30.0} forwarded to func", calls[0][1:])
    want = [{**o, "mag": None if o["flux"] <= 0 else -o["flux"]} for o in _OBS]
    expect(got == want, "each observation with its original keys plus 'mag' = func(flux, ...)", got[0])
    return "func is applied per observation, extra arguments are forwarded, and nothing is lost"


_DURATION = re.compile(
    r"(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(milliseconds?|microseconds?|seconds?|secs?|ms|µs|us|s)\b"
)
_SECONDS_PER = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3,
                "millisecond": 1e-3, "milliseconds": 1e-3, "us": 1e-6, "µs": 1e-6, "microsecond": 1e-6,
                "microseconds": 1e-6}


def _parse_seconds(text: str) -> float | None:
    match = _DURATION.search(text)
    return None if match is None else float(match.group(1)) * _SECONDS_PER[match.group(2)]


@check("01", "2a", hint="Define `wrapper(*args, **kwargs)` inside the decorator, decorate it with "
       "`@functools.wraps(func)`, start a `time.perf_counter()` inside the wrapper, call func, print "
       "f'{func.__name__} took {elapsed:.4f} s', and return the result.")
def q2a(timing_decorator):
    """timing_decorator: prints the elapsed time of each call, returns the result, keeps name and docstring."""

    def slow_add(a, b=0):
        """Add two numbers, slowly."""
        time.sleep(0.05)
        return a + b

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        wrapped = attempt(timing_decorator, slow_add)
    expect(callable(wrapped), "timing_decorator(func) to return a callable wrapper", wrapped)
    expect(buffer.getvalue() == "", "nothing printed at decoration time (time each call instead)", buffer.getvalue())
    time.sleep(0.2)  # a timer started at decoration time would now be 0.2 s ahead
    with redirect_stdout(buffer):
        result = wrapped(2, b=3)
    expect(result == 5, "the wrapper to pass on arguments and return the result: slow_add(2, b=3) == 5", result)
    printed = buffer.getvalue()
    expect(printed.strip() != "", "a printed line with the elapsed time", "nothing printed")
    expect("slow_add" in printed, "the printed line to name the function ('slow_add')", printed.strip())
    seconds = _parse_seconds(printed)
    expect(seconds is not None, "a time with a unit, e.g. 'slow_add took 0.0502 s'", printed.strip())
    expect(0.045 <= seconds <= 0.2, "about 0.05 s for a call that sleeps 0.05 s",
           f"{seconds:.4g} s read from {printed.strip()!r}")
    expect(wrapped.__name__ == "slow_add", "functools.wraps to keep the name 'slow_add'", wrapped.__name__)
    expect(wrapped.__doc__ == slow_add.__doc__, "functools.wraps to keep the docstring", wrapped.__doc__)
    return f"printed {printed.strip()!r}, returned the result, kept name and docstring"


@check("01", "3a", hint="Keep a dict in the decorator's closure (one per decorated function). The key must hold "
       "everything the result depends on: `(args, tuple(sorted(kwargs.items())))`. Test `key in cache`, "
       "not the cached value's truthiness: 0 is a valid result.")
def q3a(cache_results):
    """cache_results: memoises per function on positional and keyword arguments."""
    calls = []

    def power(x, exponent=2):
        """Raise x to a power."""
        calls.append((x, exponent))
        return x**exponent

    cached = attempt(cache_results, power)
    expect(callable(cached), "cache_results(func) to return a callable", cached)
    expect(cached(3) == 9 and cached(3) == 9, "cached(3) == 9 twice", cached(3))
    expect(len(calls) == 1, "the function to run once for two identical calls", f"{len(calls)} runs")
    expect(cached(4) == 16 and len(calls) == 2, "a new argument to run the function again", f"{len(calls)} runs")
    expect(cached(3, exponent=3) == 27, "keyword arguments to be part of the key: cached(3, exponent=3) == 27",
           cached(3, exponent=3))
    expect(cached(3) == 9 and len(calls) == 3, "earlier results to stay cached (several entries, not just the last)",
           f"{len(calls)} runs after 4 distinct calls and a repeat")
    cached(0)
    cached(0)
    expect(len(calls) == 4, "a result of 0 to be cached too (test `key in cache`, not the value)",
           f"{len(calls)} runs after cached(0) twice")

    def cube(x):
        return x**3

    other = cache_results(cube)
    expect(other(3) == 27, "each decorated function to have its own cache: cube(3) == 27", other(3))
    expect(cached.__name__ == "power", "functools.wraps to keep the name 'power'", cached.__name__)
    return "results are memoised per function, keyed on args and kwargs"


@check("01", "3b", hint="Group observations by `obs['band']` (any band, not just g and r) in their original order, "
       "then return `{band: func(group, *args, **kwargs)}`. Decorate the wrapper with functools.wraps.")
def q3b(band_processor):
    """band_processor: applies a one-band function to each band separately, returns {band: result}."""

    def summary(observations, scale=1):
        """Count observations and list their bands and times."""
        return (len(observations) * scale, sorted({o["band"] for o in observations}), [o["mjd"] for o in observations])

    per_band = attempt(band_processor, summary)
    expect(callable(per_band), "band_processor(func) to return a callable", per_band)
    data = _obs()
    got = per_band(data)
    want = {"g": (3, ["g"], [10.0, 12.0, 9.0]), "r": (2, ["r"], [11.0, 15.0]), "i": (1, ["i"], [14.0])}
    expect(isinstance(got, dict), "a dict {band: result}", got)
    expect(set(got) == set(want), "one entry per band present in the data, i included: ['g', 'i', 'r']",
           sorted(got))
    for band, (count, bands, mjds) in want.items():
        expect(got[band][1] == bands, f"func to see only {band}-band observations", got[band][1])
        expect(got[band] == want[band], f"{band}: {count} observations with mjd {mjds} (original order)", got[band])
    expect(data == _OBS, "the input to be left unchanged", "the input was modified")
    got = per_band(data, scale=10)
    expect(got.get("g", (None,))[0] == 30, "extra arguments forwarded to func: scale=10 gives 30 for g", got.get("g"))
    expect(per_band([]) == {}, "an empty dict for an empty light curve", per_band([]))
    expect(per_band.__name__ == "summary", "functools.wraps to keep the name 'summary'", per_band.__name__)
    return "each band is processed on its own, for whatever bands the data has"


@check("01", "3c", hint="Convert every flux with your `flux_to_magnitude`, drop the None values, and return the "
       "smallest magnitude (smaller = brighter), or None when no flux is positive.")
def q3c(brightest_magnitude):
    """brightest_magnitude(observations): the smallest magnitude among positive fluxes, None if there is none."""
    from exowavenet_lib.simulate import sample_observations

    obs = sample_observations(seed=3, bands=("r",), detections_only=False)
    want = min(_mag(o["flux"]) for o in obs if o["flux"] > 0)
    got = attempt(brightest_magnitude, obs)
    expect(isinstance(got, (int, float)) and abs(got - want) < 1e-9,
           f"{want:.4f} mag, the brightest (smallest) magnitude of the simulated r band", got)
    got = brightest_magnitude(_rows([0, 2, 3]))
    expect(isinstance(got, (int, float)) and abs(got - _mag(30.0)) < 1e-9,
           f"{_mag(30.0):.4f} for fluxes 15, 25, 30 (the largest flux is the brightest)", got)
    got = brightest_magnitude(_rows([5]))
    expect(got is None, "None when no flux is positive", got)
    return f"brightest r-band magnitude {want:.2f}"
