"""Light-curve loaders for the transit detector: Kepler long-cadence FITS, CSV and NPZ.

Every loader returns a single-band :class:`~exowavenet_lib.lightcurves.LightCurve` with times in MJD. Kepler files
keep their mission time recoverable: ``meta["time_system"] == "MJD"`` and ``meta["bkjd_offset"] == 54832.5``, so
``bkjd(lc) == lc.mjd - 54832.5`` (BKJD = BJD − 2454833).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from exowavenet_lib.lightcurves import LightCurve

__all__ = ["KEPLER_MJD_OFFSET", "bkjd", "load_csv", "load_kepler_fits", "load_lightcurve", "load_npz"]

#: MJD = BKJD + KEPLER_MJD_OFFSET.
KEPLER_MJD_OFFSET = 54832.5
_FITS_COLUMNS = ("TIME", "PDCSAP_FLUX", "PDCSAP_FLUX_ERR", "SAP_QUALITY")


def bkjd(lc: LightCurve) -> np.ndarray:
    """Barycentric Kepler Julian Date (BJD − 2454833) of a light curve loaded by :func:`load_kepler_fits`."""
    offset = lc.meta.get("bkjd_offset", KEPLER_MJD_OFFSET)
    return np.asarray(lc.mjd) - float(offset)


def _robust_sigma(flux: np.ndarray) -> float:
    """Per-point white noise from the point-to-point scatter (insensitive to trends and transits)."""
    if len(flux) < 3:
        return float(np.std(flux)) if len(flux) > 1 else 0.0
    diff = np.diff(flux)
    return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2.0))


def load_kepler_fits(path: str | os.PathLike) -> LightCurve:
    """Read a Kepler long-cadence ``*_llc.fits`` file (extension ``LIGHTCURVE``) into a :class:`LightCurve`.

    Uses ``PDCSAP_FLUX`` and ``PDCSAP_FLUX_ERR`` (e-/s); drops cadences flagged in ``SAP_QUALITY`` (non-zero) and
    cadences whose time, flux or error is NaN. Times become MJD (``BKJD + 54832.5``); :func:`bkjd` recovers BKJD.
    ``meta`` holds ``flux_unit="e-/s"``, ``mission="kepler"``, ``time_system="MJD"``, ``bkjd_offset``,
    ``object_id`` (``"KIC <KEPLERID>"`` or ``OBJECT`` from the primary header), ``kepler_id`` when known,
    ``source`` (the file name) and ``n_dropped_quality`` / ``n_dropped_nan``.

    Raises
    ------
    ValueError
        The file has no ``LIGHTCURVE`` extension, lacks one of its columns, or has no good cadence.
    """
    from astropy.io import fits

    path = Path(path)
    with fits.open(path, memmap=False) as hdul:
        names = [h.name.upper() for h in hdul]
        if "LIGHTCURVE" not in names:
            raise ValueError(f"{path.name}: no LIGHTCURVE extension (found {names}); is this a Kepler *_llc.fits?")
        data = hdul["LIGHTCURVE"].data
        columns = [] if data is None else [c.upper() for c in data.columns.names]
        missing = [c for c in _FITS_COLUMNS if c not in columns]
        if missing:
            raise ValueError(
                f"{path.name}: LIGHTCURVE extension lacks column(s) {missing}; needs {list(_FITS_COLUMNS)}"
            )
        time = np.asarray(data["TIME"], dtype=float)
        flux = np.asarray(data["PDCSAP_FLUX"], dtype=float)
        err = np.asarray(data["PDCSAP_FLUX_ERR"], dtype=float)
        quality = np.asarray(data["SAP_QUALITY"]).astype(np.int64)
        header = hdul[0].header
        kepler_id = header.get("KEPLERID")
        obj = header.get("OBJECT")
    flagged = quality != 0
    nan = ~(np.isfinite(time) & np.isfinite(flux) & np.isfinite(err))
    good = ~flagged & ~nan
    if not good.any():
        raise ValueError(
            f"{path.name}: no good cadences ({int(flagged.sum())} flagged in SAP_QUALITY, {int(nan.sum())} NaN, "
            f"of {len(time)})"
        )
    meta: dict[str, Any] = {
        "flux_unit": "e-/s", "mission": "kepler", "time_system": "MJD", "bkjd_offset": KEPLER_MJD_OFFSET,
        "source": path.name, "n_dropped_quality": int(flagged.sum()), "n_dropped_nan": int((nan & ~flagged).sum()),
    }
    if kepler_id is not None:
        meta["kepler_id"] = int(kepler_id)
        meta["object_id"] = f"KIC {int(kepler_id)}"
    elif obj:
        meta["object_id"] = str(obj)
    else:
        meta["object_id"] = path.stem
    return LightCurve(time[good] + KEPLER_MJD_OFFSET, flux[good], np.abs(err[good]), "kepler", meta=meta)


def _from_columns(name: str, cols: dict[str, np.ndarray], band: str) -> LightCurve:
    lower = {k.lower(): k for k in cols}
    tkey = lower.get("mjd", lower.get("time"))
    if tkey is None or "flux" not in lower:
        raise ValueError(f"{name}: needs a 'mjd' (or 'time') column and a 'flux' column; found {sorted(cols)}")
    t = np.asarray(cols[tkey], dtype=float)
    flux = np.asarray(cols[lower["flux"]], dtype=float)
    err = np.asarray(cols[lower["flux_err"]], dtype=float) if "flux_err" in lower else None
    good = np.isfinite(t) & np.isfinite(flux) & (np.isfinite(err) if err is not None else True)
    if not good.any():
        raise ValueError(f"{name}: no finite observations")
    t, flux = t[good], flux[good]
    if err is None:
        err = np.full(len(flux), _robust_sigma(flux[np.argsort(t)]))
    else:
        err = np.abs(err[good])
    meta = {"flux_unit": "relative", "time_system": "MJD", "source": name, "object_id": Path(name).stem}
    return LightCurve(t, flux, err, band, meta=meta)


def load_csv(path: str | os.PathLike, band: str = "kepler") -> LightCurve:
    """Read a CSV with columns ``mjd`` (or ``time``, MJD), ``flux`` and optionally ``flux_err``.

    Rows with a non-finite value are dropped; a missing ``flux_err`` is set to the point-to-point scatter.
    """
    import pandas as pd

    df = pd.read_csv(path)
    return _from_columns(Path(path).name, {c: df[c].to_numpy() for c in df.columns}, band)


def load_npz(path: str | os.PathLike, band: str = "kepler") -> LightCurve:
    """Read a ``.npz`` with arrays ``mjd`` (or ``time``), ``flux`` and optionally ``flux_err`` (as :func:`load_csv`)."""
    with np.load(path, allow_pickle=False) as data:
        cols = {k: np.asarray(data[k]) for k in data.files}
    return _from_columns(Path(path).name, cols, band)


def load_lightcurve(path: str | os.PathLike) -> LightCurve:
    """Load ``.fits``/``.fits.gz``/``.fit`` (Kepler), ``.csv`` or ``.npz`` by the file's suffix."""
    name = Path(path).name.lower()
    if name.endswith((".fits", ".fits.gz", ".fit", ".fts")):
        return load_kepler_fits(path)
    if name.endswith(".csv"):
        return load_csv(path)
    if name.endswith(".npz"):
        return load_npz(path)
    raise ValueError(f"{Path(path).name}: unknown light-curve format; use .fits, .fits.gz, .csv or .npz")
