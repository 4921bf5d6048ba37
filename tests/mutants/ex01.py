"""Plausible wrong answers for notebook 01 (functions and decorators)."""

import functools
import math
import time

# ---------------------------------------------------------------- 1a filter_lightcurve


def _conditions(data, filters, *, ge=lambda v, r: v >= r, le=lambda v, r: v <= r):
    columns = {key for obs in data for key in obs}
    out = []
    for key, value in filters.items():
        if key in columns:
            out.append((key, lambda v, r: v == r, value))
        elif key.endswith("_min") and key[:-4] in columns:
            out.append((key[:-4], ge, value))
        elif key.endswith("_max") and key[:-4] in columns:
            out.append((key[:-4], le, value))
        else:
            raise ValueError(f"unknown filter {key!r}")
    return out


def filter_exclusive_bounds(data, **filters):
    """Uses > and < where the bounds are inclusive."""
    conds = _conditions(data, filters, ge=lambda v, r: v > r, le=lambda v, r: v < r)
    return [o for o in data if all(t(o[c], r) for c, t, r in conds)]


def filter_swapped_bounds(data, **filters):
    """Treats _min as an upper bound and _max as a lower bound."""
    conds = _conditions(data, filters, ge=lambda v, r: v <= r, le=lambda v, r: v >= r)
    return [o for o in data if all(t(o[c], r) for c, t, r in conds)]


def filter_split_first_underscore(data, **filters):
    """Splits keys on the first underscore, so 'flux_err_max' is never understood."""
    columns = {key for obs in data for key in obs}
    out = list(data)
    for key, value in filters.items():
        column, _, suffix = key.partition("_")
        if column not in columns:
            raise ValueError(f"unknown filter {key!r}")
        if suffix == "min":
            out = [o for o in out if o[column] >= value]
        elif suffix == "max":
            out = [o for o in out if o[column] <= value]
        else:
            out = [o for o in out if o.get(key) == value]
    return out


def filter_ignores_unknown_keys(data, **filters):
    """Silently ignores filters it does not understand, so a typo returns everything."""
    out = list(data)
    for key, value in filters.items():
        if key.endswith("_min"):
            out = [o for o in out if key[:-4] not in o or o[key[:-4]] >= value]
        elif key.endswith("_max"):
            out = [o for o in out if key[:-4] not in o or o[key[:-4]] <= value]
        else:
            out = [o for o in out if key not in o or o[key] == value]
    return out


def filter_raises_keyerror(data, **filters):
    """Lets an unknown key surface as a bare KeyError instead of a ValueError naming it."""
    out = list(data)
    for key, value in filters.items():
        if key.endswith("_min"):
            out = [o for o in out if o[key[:-4]] >= value]
        elif key.endswith("_max"):
            out = [o for o in out if o[key[:-4]] <= value]
        else:
            out = [o for o in out if o[key] == value]
    return out


def filter_mutates_input(data, **filters):
    """Removes non-matching observations from the caller's list."""
    conds = _conditions(data, filters)
    data[:] = [o for o in data if all(t(o[c], r) for c, t, r in conds)]
    return data


def filter_first_filter_only(data, **filters):
    """Returns after applying the first filter."""
    conds = _conditions(data, filters)
    for column, test, ref in conds:
        return [o for o in data if test(o[column], ref)]
    return list(data)


def filter_any_instead_of_all(data, **filters):
    """Keeps observations that match any filter instead of all of them."""
    conds = _conditions(data, filters)
    return [o for o in data if not conds or any(t(o[c], r) for c, t, r in conds)]


# ---------------------------------------------------------------- 1b flux_to_magnitude


def mag_natural_log(flux, zeropoint=27.5):
    """Uses the natural logarithm."""
    return None if flux <= 0 else zeropoint - 2.5 * math.log(flux)


def mag_wrong_sign(flux, zeropoint=27.5):
    """Adds instead of subtracting: brighter objects get larger magnitudes."""
    return None if flux <= 0 else zeropoint + 2.5 * math.log10(flux)


def mag_pogson_ratio_as_factor(flux, zeropoint=27.5):
    """Confuses the factor 2.5 with the Pogson ratio 2.512."""
    return None if flux <= 0 else zeropoint - 2.512 * math.log10(flux)


def mag_ignores_zeropoint(flux, zeropoint=27.5):
    """Always uses 27.5, whatever zeropoint is passed."""
    return None if flux <= 0 else 27.5 - 2.5 * math.log10(flux)


def mag_nan_for_nonpositive(flux, zeropoint=27.5):
    """Returns NaN for non-positive flux, which spreads silently."""
    return float("nan") if flux <= 0 else zeropoint - 2.5 * math.log10(flux)


def mag_raises_for_nonpositive(flux, zeropoint=27.5):
    """Lets math.log10 raise a domain error for non-positive flux."""
    return zeropoint - 2.5 * math.log10(flux)


def mag_abs_flux(flux, zeropoint=27.5):
    """Takes the absolute value, inventing a magnitude for negative flux."""
    return None if flux == 0 else zeropoint - 2.5 * math.log10(abs(flux))


def mag_zero_flux_crashes(flux, zeropoint=27.5):
    """Guards negative flux only; flux 0 still reaches log10."""
    return None if flux < 0 else zeropoint - 2.5 * math.log10(flux)


# ---------------------------------------------------------------- 1c apply_magnitude_conversion


def convert_mutates_input(data, func, *args, **kwargs):
    """Adds 'mag' to the caller's dicts in place."""
    for obs in data:
        obs["mag"] = func(obs["flux"], *args, **kwargs)
    return data


def convert_copies_list_not_dicts(data, func, *args, **kwargs):
    """Copies the list but not the dicts inside it, so the caller's dicts still change."""
    out = list(data)
    for obs in out:
        obs["mag"] = func(obs["flux"], *args, **kwargs)
    return out


def convert_drops_missing(data, func, *args, **kwargs):
    """Drops observations without a magnitude, losing data."""
    out = [{**obs, "mag": func(obs["flux"], *args, **kwargs)} for obs in data]
    return [obs for obs in out if obs["mag"] is not None]


def convert_ignores_args(data, func, *args, **kwargs):
    """Forwards keyword arguments but not positional ones."""
    return [{**obs, "mag": func(obs["flux"], **kwargs)} for obs in data]


def convert_ignores_kwargs(data, func, *args, **kwargs):
    """Forwards positional arguments but not keyword ones."""
    return [{**obs, "mag": func(obs["flux"], *args)} for obs in data]


def convert_passes_record(data, func, *args, **kwargs):
    """Passes the whole observation to func instead of its flux."""
    return [{**obs, "mag": func(obs, *args, **kwargs)} for obs in data]


def convert_returns_values_only(data, func, *args, **kwargs):
    """Returns a list of magnitudes instead of observations."""
    return [func(obs["flux"], *args, **kwargs) for obs in data]


# ---------------------------------------------------------------- 2a timing_decorator


def timing_without_wraps(func):
    """Forgets functools.wraps: the wrapper is called 'wrapper'."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        print(f"{func.__name__} took {time.perf_counter() - start:.4f} s")
        return result

    return wrapper


def timing_drops_result(func):
    """Forgets to return the wrapped function's result."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        func(*args, **kwargs)
        print(f"{func.__name__} took {time.perf_counter() - start:.4f} s")

    return wrapper


def timing_started_at_decoration(func):
    """Starts the clock when decorating, not when calling."""
    start = time.perf_counter()

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        print(f"{func.__name__} took {time.perf_counter() - start:.4f} s")
        return result

    return wrapper


def timing_before_call(func):
    """Prints the elapsed time before calling the function, so it measures nothing."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        print(f"{func.__name__} took {time.perf_counter() - start:.4f} s")
        return func(*args, **kwargs)

    return wrapper


def timing_milliseconds_labelled_seconds(func):
    """Prints milliseconds with the unit 's'."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        print(f"{func.__name__} took {1000 * (time.perf_counter() - start):.1f} s")
        return result

    return wrapper


def timing_drops_kwargs(func):
    """The wrapper accepts positional arguments only."""

    @functools.wraps(func)
    def wrapper(*args):
        start = time.perf_counter()
        result = func(*args)
        print(f"{func.__name__} took {time.perf_counter() - start:.4f} s")
        return result

    return wrapper


def timing_anonymous(func):
    """Does not say which function was timed."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = func(*args, **kwargs)
        print(f"took {time.perf_counter() - start:.4f} s")
        return result

    return wrapper


# ---------------------------------------------------------------- 3a cache_results


def cache_nothing(func):
    """Never stores anything."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def cache_ignores_kwargs(func):
    """Keys on positional arguments only, so f(3, exponent=3) returns f(3)'s result."""
    cache = {}

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if args not in cache:
            cache[args] = func(*args, **kwargs)
        return cache[args]

    return wrapper


def cache_last_only(func):
    """Remembers only the most recent call."""
    last = {}

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if last.get("key") != key:
            last.update(key=key, value=func(*args, **kwargs))
        return last["value"]

    return wrapper


def cache_falsy_recomputed(func):
    """Tests the cached value instead of the key, so a result of 0 is recomputed every time."""
    cache = {}

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if not cache.get(key):
            cache[key] = func(*args, **kwargs)
        return cache[key]

    return wrapper


_SHARED = {}


def cache_shared_between_functions(func):
    """Uses one module-level cache for every decorated function."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in _SHARED:
            _SHARED[key] = func(*args, **kwargs)
        return _SHARED[key]

    return wrapper


def cache_without_wraps(func):
    """Caches correctly but forgets functools.wraps."""
    cache = {}

    def wrapper(*args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = func(*args, **kwargs)
        return cache[key]

    return wrapper


# ---------------------------------------------------------------- 3b band_processor


def bands_hardcoded_g_r(func):
    """Only knows the g and r bands."""

    @functools.wraps(func)
    def wrapper(data, *args, **kwargs):
        out = {}
        for band in ("g", "r"):
            rows = [o for o in data if o["band"] == band]
            if rows:
                out[band] = func(rows, *args, **kwargs)
        return out

    return wrapper


def bands_whole_light_curve(func):
    """Passes every observation to func for each band."""

    @functools.wraps(func)
    def wrapper(data, *args, **kwargs):
        return {band: func(data, *args, **kwargs) for band in dict.fromkeys(o["band"] for o in data)}

    return wrapper


def bands_drops_kwargs(func):
    """Does not forward extra arguments."""

    @functools.wraps(func)
    def wrapper(data, *args, **kwargs):
        groups = {}
        for obs in data:
            groups.setdefault(obs["band"], []).append(obs)
        return {band: func(rows) for band, rows in groups.items()}

    return wrapper


def bands_without_wraps(func):
    """Groups correctly but forgets functools.wraps."""

    def wrapper(data, *args, **kwargs):
        groups = {}
        for obs in data:
            groups.setdefault(obs["band"], []).append(obs)
        return {band: func(rows, *args, **kwargs) for band, rows in groups.items()}

    return wrapper


def bands_last_observation_only(func):
    """Overwrites the group instead of appending, so each band keeps one observation."""

    @functools.wraps(func)
    def wrapper(data, *args, **kwargs):
        groups = {obs["band"]: [obs] for obs in data}
        return {band: func(rows, *args, **kwargs) for band, rows in groups.items()}

    return wrapper


# ---------------------------------------------------------------- 3c brightest_magnitude


def _mags(observations):
    return [27.5 - 2.5 * math.log10(o["flux"]) for o in observations if o["flux"] > 0]


def brightest_is_faintest(observations):
    """Takes the largest magnitude, which is the faintest point."""
    mags = _mags(observations)
    return max(mags) if mags else None


def brightest_returns_flux(observations):
    """Returns the largest flux instead of its magnitude."""
    fluxes = [o["flux"] for o in observations if o["flux"] > 0]
    return max(fluxes) if fluxes else None


def brightest_crashes_on_negative_flux(observations):
    """Takes log10 of every flux, crashing on negative ones."""
    return min(27.5 - 2.5 * math.log10(o["flux"]) for o in observations)


def brightest_empty_crashes(observations):
    """Calls min() on an empty list when no flux is positive."""
    return min(_mags(observations))


def brightest_nan_when_empty(observations):
    """Returns NaN instead of None when no flux is positive."""
    mags = _mags(observations)
    return min(mags) if mags else float("nan")


MUTANTS = {
    "1a": [filter_exclusive_bounds, filter_swapped_bounds, filter_split_first_underscore, filter_ignores_unknown_keys,
           filter_raises_keyerror, filter_mutates_input, filter_first_filter_only, filter_any_instead_of_all],
    "1b": [mag_natural_log, mag_wrong_sign, mag_pogson_ratio_as_factor, mag_ignores_zeropoint, mag_nan_for_nonpositive,
           mag_raises_for_nonpositive, mag_abs_flux, mag_zero_flux_crashes],
    "1c": [convert_mutates_input, convert_copies_list_not_dicts, convert_drops_missing, convert_ignores_args,
           convert_ignores_kwargs, convert_passes_record, convert_returns_values_only],
    "2a": [timing_without_wraps, timing_drops_result, timing_started_at_decoration, timing_before_call,
           timing_milliseconds_labelled_seconds, timing_drops_kwargs, timing_anonymous],
    "3a": [cache_nothing, cache_ignores_kwargs, cache_last_only, cache_falsy_recomputed,
           cache_shared_between_functions, cache_without_wraps],
    "3b": [bands_hardcoded_g_r, bands_whole_light_curve, bands_drops_kwargs, bands_without_wraps,
           bands_last_observation_only],
    "3c": [brightest_is_faintest, brightest_returns_flux, brightest_crashes_on_negative_flux, brightest_empty_crashes,
           brightest_nan_when_empty],
}
