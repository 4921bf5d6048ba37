"""ZTF alert data pipeline: broker clients, quality cuts and light curves from alert detections.

``ZTFDataPipeline(source).lightcurves(n=50)`` asks a *source* for recent objects, fetches each object's alert
detections, applies :class:`QualityCuts` and turns what is left into :class:`TransientLightCurve` objects (FLUXCAL)
with :func:`lightcurve_from_alerts`. Three sources share one interface (``.recent_objects(n) -> list[str]`` and
``.detections(oid) -> pd.DataFrame`` of alert rows):

* :class:`AlerceClient` — the ALeRCE ZTF API v1, ``https://api.alerce.online/ztf/v1`` (no token):

  - ``GET /objects/?classifier=&class=&probability=&page=&page_size=&order_by=&order_mode=&count=`` answers
    ``{"total", "page", "next", "has_next", "prev", "has_prev", "items": [{"oid", "ndet", "firstmjd", "lastmjd",
    "meanra", "meandec", "class", "classifier", "probability", ...}]}``; recent objects are
    ``order_by=lastmjd&order_mode=DESC``.
  - ``GET /objects/{oid}/detections`` answers a list of detections ``[{"mjd", "candid" (string), "fid", "pid",
    "diffmaglim", "isdiffpos" (1 or -1), "magpsf", "sigmapsf", "magpsf_corr", "ra", "dec", "rb", "dubious", ...}]``.

* :class:`LasairClient` — the Lasair ZTF API, ``https://lasair-ztf.lsst.ac.uk/api``, with the header
  ``Authorization: Token <token>`` and form-encoded POST requests:

  - ``POST /query/`` (``selected``, ``tables``, ``conditions``, ``limit``, ``offset``) answers a list of rows; recent
    objects are ``objects.jdmax > JDNOW() - days ... ORDER BY objects.jdmax DESC``.
  - ``POST /object/`` (``objectId``, ``lite``, ``lasair_added``) answers ``{"objectId", "objectData": {...},
    "candidates": [...]}``. Detections carry ``candid``, ``jd`` (and ``mjd`` = jd − 2400000.5), ``fid``, ``magpsf``,
    ``sigmapsf``, ``isdiffpos`` ('t'/'f'); the list also holds non-detections (upper limits: no ``candid``, a
    ``diffmaglim``), which :meth:`LasairClient.detections` leaves out. Newest rows come first; we sort by time.

* :class:`SimulatedAlertSource` — :func:`~exowavenet_lib.simulate.transients.simulate_transients` light curves
  written as ZTF alert rows by :func:`~exowavenet_lib.surveys.to_ztf_alerts`, so everything runs offline, with the
  true class of each object from :meth:`SimulatedAlertSource.label`.

The HTTP clients never hang: each request has connect and read timeouts and a total time budget (``total_timeout``,
retries and waits included). Connection errors, timeouts, HTTP 5xx and 429 (honouring ``Retry-After``) are retried
with exponential backoff; other 4xx answers and malformed JSON fail at once. Every failure that is final raises
:class:`ZTFServiceError` naming the URL, the HTTP status and the number of attempts. With ``cache_dir`` the JSON
answers are kept on disk, keyed by method, URL and parameters (never the token), written atomically; a cache hit
makes no request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import quote

import numpy as np
import pandas as pd
import requests
from tqdm.auto import tqdm

from exowavenet_lib.lightcurves import TransientLightCurve
from exowavenet_lib.photometry import ZTF_FID_TO_BAND
from exowavenet_lib.runtime import write_json_atomic
from exowavenet_lib.simulate.transients import simulate_transients
from exowavenet_lib.surveys import ZTFProcessor, to_ztf_alerts

__all__ = [
    "AlerceClient",
    "AlertSource",
    "BrokerClient",
    "LasairClient",
    "QualityCuts",
    "SimulatedAlertSource",
    "ZTFDataPipeline",
    "ZTFServiceError",
    "lightcurve_from_alerts",
]

logger = logging.getLogger(__name__)

JD_TO_MJD = 2_400_000.5
#: ``isdiffpos`` values of a negative subtraction (reference minus science): ZTF 'f'/'0', ALeRCE -1, booleans.
NEGATIVE_ISDIFFPOS = frozenset({"f", "0", "-1", "false"})
_OBJECT_ID_COLUMNS = ("oid", "objectId")


# ----------------------------------------------------------------------------------------------------- errors
class ZTFServiceError(RuntimeError):
    """A broker request that failed for good; ``url``, ``status`` (None: no HTTP answer) and ``attempts`` say how."""

    def __init__(self, message: str, *, url: str, status: int | None = None, attempts: int = 1) -> None:
        shown = "no HTTP status" if status is None else f"HTTP status {status}"
        super().__init__(f"{message} (URL {url}; {shown}; {attempts} attempt(s))")
        self.url = url
        self.status = status
        self.attempts = attempts


class _BudgetExceeded(Exception):
    """The response body did not arrive within the total time budget."""


# ----------------------------------------------------------------------------------------------------- light curves
def lightcurve_from_alerts(
    df: pd.DataFrame, *, object_id: str | None = None, transient_type: str | None = None
) -> TransientLightCurve:
    """One object's ZTF alert detections as a :class:`TransientLightCurve` in FLUXCAL.

    Parameters
    ----------
    df : DataFrame
        Columns ``mjd`` or ``jd`` (``mjd = jd − 2400000.5``), ``fid`` (1 = g, 2 = r, 3 = i), ``magpsf``,
        ``sigmapsf``; optional ``oid``/``objectId`` (one id only) and ``isdiffpos`` (negative subtractions become
        negative fluxes). Clean rows first with :class:`QualityCuts`.
    object_id : str, optional
        The object's id; needed when ``df`` has no id column, and must agree with it when it has one.
    transient_type : str, optional
        Class label to attach (None for unclassified alerts).

    Raises
    ------
    TypeError
        ``df`` is not a DataFrame.
    ValueError
        Empty frame, missing columns, several object ids, no id at all, unknown ``fid``, or rows with
        NaN/infinite values or ``sigmapsf <= 0``.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame of ZTF alert rows, got {type(df).__name__}")
    if df.empty:
        raise ValueError("df is empty: a light curve needs at least one detection")
    _require_alert_columns(df, "df")
    oid = _resolve_object_id(df, object_id)
    fid = pd.to_numeric(df["fid"], errors="coerce").to_numpy(dtype=float)
    unknown = sorted({str(v) for v, f in zip(df["fid"].tolist(), fid, strict=True) if f not in ZTF_FID_TO_BAND})
    if unknown:
        raise ValueError(f"fid contains unknown filter id(s) {unknown}; ZTF uses 1 (g), 2 (r), 3 (i)")
    time_, mag, err = _alert_numbers(df)
    bad = ~(np.isfinite(time_) & np.isfinite(mag) & np.isfinite(err) & (err > 0))
    if bad.any():
        raise ValueError(
            f"df has {int(bad.sum())} row(s) with a NaN/infinite time, magpsf or sigmapsf or sigmapsf <= 0 "
            f"(first at row {int(np.argmax(bad))}); drop them first with QualityCuts().apply(df)"
        )
    records = df.assign(fid=fid.astype(int))
    lc = ZTFProcessor().process_lightcurve(records, object_id=oid)
    if transient_type is None:
        return lc
    return TransientLightCurve(lc.mjd, lc.flux, lc.flux_err, lc.band, object_id=oid, transient_type=transient_type,
                               meta=lc.meta)


def _require_alert_columns(df: pd.DataFrame, name: str) -> None:
    missing = [c for c in ("fid", "magpsf", "sigmapsf") if c not in df.columns]
    if "mjd" not in df.columns and "jd" not in df.columns:
        missing.insert(0, "mjd or jd")
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}; ZTF alert rows need mjd (or jd), fid, magpsf, "
                         f"sigmapsf; found {list(df.columns)}")


def _alert_numbers(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MJD, magpsf and sigmapsf as float arrays (unparseable values become NaN)."""
    if "mjd" in df.columns:
        t = pd.to_numeric(df["mjd"], errors="coerce").to_numpy(dtype=float)
    else:
        t = pd.to_numeric(df["jd"], errors="coerce").to_numpy(dtype=float) - JD_TO_MJD
    mag = pd.to_numeric(df["magpsf"], errors="coerce").to_numpy(dtype=float)
    err = pd.to_numeric(df["sigmapsf"], errors="coerce").to_numpy(dtype=float)
    return t, mag, err


def _object_ids(df: pd.DataFrame) -> list[str]:
    ids: list[str] = []
    for column in _OBJECT_ID_COLUMNS:
        if column in df.columns:
            ids.extend(str(v) for v in df[column].dropna().unique())
    return sorted(set(ids))


def _object_column(df: pd.DataFrame) -> str | None:
    return next((c for c in _OBJECT_ID_COLUMNS if c in df.columns), None)


def _resolve_object_id(df: pd.DataFrame, object_id: str | None) -> str:
    ids = _object_ids(df)
    if len(ids) > 1:
        shown = ids[:5] + (["..."] if len(ids) > 5 else [])
        raise ValueError(f"df mixes {len(ids)} object ids {shown}; pass one object's rows, e.g. "
                         f"[lightcurve_from_alerts(g) for _, g in df.groupby('oid')]")
    if object_id is not None:
        if not isinstance(object_id, str) or not object_id:
            raise TypeError(f"object_id must be a non-empty string or None, got {object_id!r}")
        if ids and ids[0] != object_id:
            raise ValueError(f"object_id={object_id!r} disagrees with the id {ids[0]!r} in df")
        return object_id
    if not ids:
        raise ValueError("df has no oid/objectId column (or it is empty); pass object_id='ZTF...'")
    return ids[0]


# ----------------------------------------------------------------------------------------------------- quality cuts
@dataclass(frozen=True)
class QualityCuts:
    """Row and object cuts for ZTF alert detections; :meth:`apply` returns a new frame and counts what it dropped.

    Rows are dropped, each under the first reason that applies (the keys of the report):

    * ``non_detection`` — a ``candid`` column exists and the row has none (an upper limit, as Lasair lists them);
    * ``bad_value`` — time, ``magpsf`` or ``sigmapsf`` missing, NaN, infinite or unparseable, or ``sigmapsf <= 0``;
    * ``other_filter`` — ``fid`` not in ``fids`` (ZTF i band, fid 3, is partnership-only and sparse, so it is
      left out by default; the simulator and the shipped classifiers use g and r);
    * ``negative_difference`` — ``isdiffpos`` 'f'/'0'/-1: the source was *fainter* than in the reference image.
      ``magpsf`` is then the magnitude of the flux *deficit*. These come from variables and AGN below their
      reference level and from bad subtractions; the simulated training data (detections of positive flux only)
      never contains them, so keeping them would feed a classifier inputs it never saw. Set
      ``drop_negative=False`` to keep them: :func:`lightcurve_from_alerts` gives them negative flux;
    * ``large_error`` — ``sigmapsf > max_sigmapsf`` (mag);
    * ``duplicate`` — a repeated ``candid``, or a repeated epoch (same object, filter and time to 1e-5 d); the
      first row is kept.

    Then every object (``oid`` or ``objectId`` column; the whole frame when there is none) with fewer than
    ``min_detections`` rows left is dropped (``too_few_detections`` rows, ``objects_dropped`` objects).
    """

    min_detections: int = 5
    max_sigmapsf: float = 0.5
    fids: tuple[int, ...] = (1, 2)
    drop_negative: bool = True
    drop_duplicates: bool = True

    REASONS: ClassVar[tuple[str, ...]] = (
        "non_detection", "bad_value", "other_filter", "negative_difference", "large_error", "duplicate",
    )

    def __post_init__(self) -> None:
        if isinstance(self.min_detections, bool) or not isinstance(self.min_detections, Integral) \
                or self.min_detections < 1:
            raise ValueError(f"min_detections must be an int >= 1, got {self.min_detections!r}")
        if isinstance(self.max_sigmapsf, bool) or not isinstance(self.max_sigmapsf, Real) \
                or math.isnan(self.max_sigmapsf) or self.max_sigmapsf <= 0:
            raise ValueError(f"max_sigmapsf must be a number > 0 (mag; inf disables the cut), "
                             f"got {self.max_sigmapsf!r}")
        fids = tuple(self.fids) if isinstance(self.fids, (list, tuple)) else None
        if not fids or any(isinstance(f, bool) or f not in ZTF_FID_TO_BAND for f in fids):
            raise ValueError(f"fids must be a non-empty tuple of ZTF filter ids from {sorted(ZTF_FID_TO_BAND)}, "
                             f"got {self.fids!r}")
        object.__setattr__(self, "fids", tuple(int(f) for f in fids))

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """The rows that pass, as a new frame; the counts of dropped rows are in ``result.attrs["quality_report"]``."""
        return self.apply_with_report(df)[0]

    def apply_with_report(self, df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
        """The rows that pass and a report: ``rows_in``, one count per reason, ``too_few_detections``,
        ``objects_in``, ``objects_dropped``, ``rows_out``."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame of ZTF alert rows, got {type(df).__name__}")
        report = {"rows_in": len(df), **dict.fromkeys(self.REASONS, 0)}
        object_column = _object_column(df)
        objects = df[object_column].astype(str).to_numpy() if object_column else np.full(len(df), "")
        report["objects_in"] = len(set(objects.tolist()))
        if df.empty:
            report.update(too_few_detections=0, objects_dropped=0, rows_out=0)
            return df.copy(), report
        _require_alert_columns(df, "df")
        t, mag, err = _alert_numbers(df)
        fid = pd.to_numeric(df["fid"], errors="coerce").to_numpy(dtype=float)
        failed = {
            "non_detection": df["candid"].isna().to_numpy() if "candid" in df.columns else np.zeros(len(df), bool),
            "bad_value": ~(np.isfinite(t) & np.isfinite(mag) & np.isfinite(err) & (err > 0)),
            "other_filter": ~np.isin(fid, self.fids),
            "negative_difference": (_negative_difference(df) if self.drop_negative else np.zeros(len(df), bool)),
            "large_error": err > self.max_sigmapsf,
        }
        keep = np.ones(len(df), dtype=bool)
        for reason, mask in failed.items():
            report[reason] = int(np.sum(keep & mask))
            keep &= ~mask
        if self.drop_duplicates:
            duplicate = _duplicates(df, keep, objects, t, fid)
            report["duplicate"] = int(duplicate.sum())
            keep &= ~duplicate
        counts = Counter(objects[keep].tolist())
        too_few = keep & np.array([counts[o] < self.min_detections for o in objects])
        report["too_few_detections"] = int(too_few.sum())
        kept_objects = {o for o, c in counts.items() if c >= self.min_detections}
        report["objects_dropped"] = report["objects_in"] - len(kept_objects)
        keep &= ~too_few
        report["rows_out"] = int(keep.sum())
        out = df.loc[keep].reset_index(drop=True)
        out.attrs["quality_report"] = dict(report)
        dropped = {k: v for k, v in report.items() if k in self.REASONS + ("too_few_detections",) and v}
        logger.info("QualityCuts kept %d of %d rows; dropped %s", report["rows_out"], report["rows_in"],
                    dropped or "none")
        return out, report


def _negative_difference(df: pd.DataFrame) -> np.ndarray:
    if "isdiffpos" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    text = df["isdiffpos"].map(lambda v: str(v).strip().lower().removesuffix(".0"))
    return text.isin(NEGATIVE_ISDIFFPOS).to_numpy()


def _duplicates(df: pd.DataFrame, keep: np.ndarray, objects: np.ndarray, t: np.ndarray, fid: np.ndarray) -> np.ndarray:
    """Rows (among ``keep``) repeating an earlier kept row's candid, or its object, filter and epoch."""
    duplicate = np.zeros(len(df), dtype=bool)
    seen_candid: set[str] = set()
    seen_epoch: set[tuple[str, float, int]] = set()
    candid = df["candid"].astype(str).to_numpy() if "candid" in df.columns else None
    for i in np.flatnonzero(keep):
        epoch = (objects[i], round(float(t[i]), 5), int(fid[i]))
        key = candid[i] if candid is not None else None
        if epoch in seen_epoch or (key is not None and key in seen_candid):
            duplicate[i] = True
            continue
        seen_epoch.add(epoch)
        if key is not None:
            seen_candid.add(key)
    return duplicate


# ----------------------------------------------------------------------------------------------------- sources
@runtime_checkable
class AlertSource(Protocol):
    """What :class:`ZTFDataPipeline` needs from a source of ZTF alerts."""

    def recent_objects(self, n: int) -> list[str]:
        """Ids of up to ``n`` recently active objects, newest first."""
        ...

    def detections(self, oid: str) -> pd.DataFrame:
        """The alert detections of one object (ZTF alert columns and an ``oid`` column)."""
        ...


class _JSONCache:
    """JSON answers on disk, one file per request key (sha256 of method, URL and parameters); atomic writes."""

    def __init__(self, directory: str | os.PathLike[str], max_age: float | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_age = max_age

    def _path(self, key: Mapping[str, Any]) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        return self.directory / f"{digest}.json"

    def get(self, key: Mapping[str, Any]) -> tuple[bool, Any]:
        """``(True, payload)`` on a fresh hit, ``(False, None)`` otherwise (missing, expired or unreadable)."""
        path = self._path(key)
        if not path.exists():
            return False, None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            saved_at, payload = float(record["saved_at"]), record["payload"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            logger.warning("ignoring unreadable cache file %s (%s)", path, err)
            return False, None
        if self.max_age is not None and time.time() - saved_at > self.max_age:
            return False, None
        return True, payload

    def put(self, key: Mapping[str, Any], payload: Any) -> None:
        """Write atomically: a temporary file in the same folder, then ``os.replace``."""
        record = {"key": key, "saved_at": time.time(), "payload": payload}
        write_json_atomic(self._path(key), record, indent=None, default=str)


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 (seconds), got {value!r}")
    return float(value)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class BrokerClient:
    """Shared HTTP behaviour of the broker clients: timeouts, retries with exponential backoff, a total time budget
    and an on-disk JSON cache.

    Parameters
    ----------
    base_url : str, optional
        Root of the API (default: the real service's).
    timeout : float or (float, float)
        Connect and read timeouts in seconds (one number: both).
    retries : int
        Extra attempts after the first for connection errors, timeouts, HTTP 5xx and 429.
    backoff : float
        First wait in seconds; doubles after each failed attempt (capped at ``max_backoff``).
    max_backoff : float
        Longest single wait (also caps ``Retry-After``).
    total_timeout : float
        Budget in seconds for one call, all attempts and waits included: a call never takes much longer.
    cache_dir : path, optional
        Folder for cached JSON answers (created if needed); None: no cache.
    cache_max_age : float, optional
        Seconds after which a cached answer is fetched again; None: cached answers never expire.
    """

    DEFAULT_BASE_URL: ClassVar[str] = ""
    SERVICE: ClassVar[str] = "broker"

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        total_timeout: float = 120.0,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_max_age: float | None = None,
    ) -> None:
        base_url = self.DEFAULT_BASE_URL if base_url is None else base_url
        if not isinstance(base_url, str) or not re.match(r"https?://[^/]+", base_url):
            raise ValueError(f"base_url must be an http(s) URL such as {self.DEFAULT_BASE_URL!r}, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        if isinstance(timeout, tuple):
            if len(timeout) != 2:
                raise ValueError(f"timeout must be seconds or a (connect, read) pair, got {timeout!r}")
            self.timeout = (_positive("timeout[0]", timeout[0]), _positive("timeout[1]", timeout[1]))
        else:
            seconds = _positive("timeout", timeout)
            self.timeout = (seconds, seconds)
        if isinstance(retries, bool) or not isinstance(retries, Integral) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        self.retries = int(retries)
        if isinstance(backoff, bool) or not isinstance(backoff, Real) or not (math.isfinite(backoff) and backoff >= 0):
            raise ValueError(f"backoff must be a finite number >= 0 (seconds), got {backoff!r}")
        self.backoff = float(backoff)
        self.max_backoff = _positive("max_backoff", max_backoff)
        self.total_timeout = _positive("total_timeout", total_timeout)
        if cache_max_age is not None:
            cache_max_age = _positive("cache_max_age", cache_max_age)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._cache = None if cache_dir is None else _JSONCache(cache_dir, cache_max_age)
        self._session: requests.Session | None = None

    @property
    def cache_namespace(self) -> str:
        """Identifies this source's data in :class:`ZTFDataPipeline`'s cache."""
        return f"{type(self).__name__}:{self.base_url}"

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": "exowavenet (ZTFDataPipeline)"}

    def close(self) -> None:
        """Close the HTTP connection pool (a new one opens on the next request)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> BrokerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_url={self.base_url!r}, timeout={self.timeout}, retries={self.retries}, "
                f"cache_dir={None if self.cache_dir is None else str(self.cache_dir)!r})")

    # ------------------------------------------------------------------------------------------------- requests
    def _request_json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      data: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON answer of one request, from the cache when it holds it."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        key = {"method": method, "url": url, "params": dict(params or {}), "data": dict(data or {})}
        if self._cache is not None:
            hit, payload = self._cache.get(key)
            if hit:
                logger.debug("cache hit for %s %s", method, url)
                return payload
        payload = self._fetch(method, url, params=params, data=data)
        if self._cache is not None:
            self._cache.put(key, payload)
        return payload

    def _fetch(self, method: str, url: str, *, params: Mapping[str, Any] | None,
               data: Mapping[str, Any] | None) -> Any:
        if self._session is None:
            self._session = requests.Session()
        deadline = time.monotonic() + self.total_timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ZTFServiceError(f"{self.SERVICE} request gave up: total_timeout={self.total_timeout:g} s spent",
                                      url=url, attempts=attempt - 1)
            timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
            status: int | None = None
            wait_hint: float | None = None
            try:
                response = self._session.request(method, url, params=params, data=data, headers=self._headers(),
                                                 timeout=timeout, stream=True, allow_redirects=True)
                try:
                    body = _read_body(response, deadline)
                finally:
                    response.close()
            except (requests.Timeout, _BudgetExceeded) as err:
                failure = f"timed out ({type(err).__name__})"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                failure = f"connection failed ({type(err).__name__}: {err})"
            except requests.RequestException as err:
                raise ZTFServiceError(f"{self.SERVICE} request could not be sent ({err})", url=url,
                                      attempts=attempt) from err
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return _decode_json(body, url, status, attempt, self.SERVICE)
                if status != 429 and status < 500:
                    raise ZTFServiceError(
                        f"{self.SERVICE} refused the request: HTTP {status} {response.reason or ''}".rstrip()
                        + f" {_snippet(body)}{self._hint(status)}", url=url, status=status, attempts=attempt)
                failure = f"HTTP {status} {response.reason or ''}".rstrip()
                wait_hint = _retry_after(response.headers.get("Retry-After"))
            if attempt > self.retries:
                raise ZTFServiceError(f"{self.SERVICE} request failed after {attempt} attempt(s); last: {failure}",
                                      url=url, status=status, attempts=attempt)
            wait = self.backoff * 2 ** (attempt - 1) if wait_hint is None else wait_hint
            wait = min(wait, self.max_backoff)
            if time.monotonic() + wait >= deadline:
                raise ZTFServiceError(
                    f"{self.SERVICE} request gave up: {failure}, and waiting {wait:.3g} s to retry would exceed "
                    f"total_timeout={self.total_timeout:g} s", url=url, status=status, attempts=attempt)
            logger.warning("%s %s: %s; retry %d/%d in %.3g s", method, url, failure, attempt, self.retries, wait)
            time.sleep(wait)

    def _hint(self, status: int) -> str:
        return ""


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """The whole body, read as bytes arrive, so that a server trickling bytes cannot outlast the budget.

    ``read1`` returns whatever one socket read gives (each read is bounded by the read timeout); the deadline is
    checked between reads. Without it (old urllib3), fixed-size chunks are read instead.
    """
    chunks = []
    read1 = getattr(response.raw, "read1", None)
    pieces = iter(lambda: read1(65536, decode_content=True) or b"", b"") if read1 else response.iter_content(65536)
    for chunk in pieces:
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise _BudgetExceeded("the response body did not arrive within the total time budget")
    return b"".join(chunks)


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return repr(text[:limit] + ("..." if len(text) > limit else "")) if text else "(empty body)"


def _decode_json(body: bytes, url: str, status: int, attempts: int, service: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ZTFServiceError(f"{service} answered with malformed JSON ({err}); body starts {_snippet(body, 80)}",
                              url=url, status=status, attempts=attempts) from err


def _check_oid(oid: Any) -> str:
    if not isinstance(oid, str) or not oid.strip():
        raise TypeError(f"oid must be a non-empty string such as 'ZTF21abcdefg', got {oid!r}")
    return oid.strip()


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return int(n)


def _with_oid(df: pd.DataFrame, oid: str) -> pd.DataFrame:
    """``df`` with an ``oid`` column first (added when missing) and rows sorted by time."""
    if "oid" not in df.columns:
        df.insert(0, "oid", oid)
    time_column = "mjd" if "mjd" in df.columns else "jd" if "jd" in df.columns else None
    if time_column is not None:
        df = df.sort_values(time_column, kind="stable").reset_index(drop=True)
    return df


class AlerceClient(BrokerClient):
    """The ALeRCE ZTF API v1 (``https://api.alerce.online/ztf/v1``): object listings and alert detections.

    See :class:`BrokerClient` for ``timeout``, ``retries``, ``backoff``, ``max_backoff``, ``total_timeout``,
    ``cache_dir`` and ``cache_max_age``.
    """

    DEFAULT_BASE_URL = "https://api.alerce.online/ztf/v1"
    SERVICE = "ALeRCE"
    MAX_PAGE_SIZE: ClassVar[int] = 1000

    def object_table(
        self,
        n: int,
        *,
        classifier: str | None = None,
        class_name: str | None = None,
        min_probability: float | None = None,
        order_by: str = "lastmjd",
    ) -> pd.DataFrame:
        """Up to ``n`` objects from ``GET /objects/`` (newest ``order_by`` first), one row per object.

        ``classifier`` (e.g. ``"lc_classifier"``), ``class_name`` (e.g. ``"SNIa"``) and ``min_probability`` filter
        on ALeRCE's own classification; the columns are the API's (``oid``, ``ndet``, ``firstmjd``, ``lastmjd``,
        ``class``, ``probability``, ...).
        """
        n = _check_n(n)
        page_size = min(n, self.MAX_PAGE_SIZE)
        params: dict[str, Any] = {"page_size": page_size, "order_by": order_by, "order_mode": "DESC", "count": "false"}
        if classifier is not None:
            params["classifier"] = classifier
        if class_name is not None:
            params["class"] = class_name
        if min_probability is not None:
            params["probability"] = float(min_probability)
        rows: list[dict[str, Any]] = []
        page = 1
        while len(rows) < n:
            url_path = "objects/"
            payload = self._request_json("GET", url_path, params={**params, "page": page})
            if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
                raise ZTFServiceError(f"ALeRCE objects answer has no 'items' list (got {_shape(payload)})",
                                      url=f"{self.base_url}/{url_path}", status=200)
            items = [item for item in payload["items"] if isinstance(item, dict) and item.get("oid")]
            rows.extend(items)
            next_page = payload.get("next")
            if not payload["items"] or not payload.get("has_next", next_page is not None) or next_page is None:
                break
            if int(next_page) <= page:
                raise ZTFServiceError(f"ALeRCE pagination does not advance (page {page}, next {next_page})",
                                      url=f"{self.base_url}/{url_path}", status=200)
            page = int(next_page)
        return pd.DataFrame(rows[:n])

    def recent_objects(self, n: int, **filters: Any) -> list[str]:
        """Ids of up to ``n`` objects with the latest detections (filters as in :meth:`object_table`)."""
        table = self.object_table(n, **filters)
        return [] if table.empty else table["oid"].astype(str).tolist()

    def detections(self, oid: str) -> pd.DataFrame:
        """All alert detections of ``oid`` (``GET /objects/{oid}/detections``), sorted by ``mjd``, with ``oid``."""
        oid = _check_oid(oid)
        path = f"objects/{quote(oid, safe='')}/detections"
        payload = self._request_json("GET", path)
        if not isinstance(payload, list) or not all(isinstance(row, dict) for row in payload):
            raise ZTFServiceError(f"ALeRCE detections answer is not a list of detections (got {_shape(payload)})",
                                  url=f"{self.base_url}/{path}", status=200)
        return _with_oid(pd.DataFrame(payload), oid)


class LasairClient(BrokerClient):
    """The Lasair ZTF API (``https://lasair-ztf.lsst.ac.uk/api``), authenticated with ``token``.

    ``token`` is sent as ``Authorization: Token <token>`` (get one from your Lasair profile page); it is never
    written to the cache. See :class:`BrokerClient` for the other parameters.
    """

    DEFAULT_BASE_URL = "https://lasair-ztf.lsst.ac.uk/api"
    SERVICE = "Lasair"

    def __init__(self, base_url: str | None = None, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise TypeError("token must be a non-empty string or None")
        self._token = token

    def _headers(self) -> dict[str, str]:
        headers = super()._headers()
        if self._token:
            headers["Authorization"] = f"Token {self._token}"
        return headers

    def _hint(self, status: int) -> str:
        if status in (401, 403):
            return "; Lasair needs an API token: LasairClient(token=...)" if not self._token else "; check the token"
        return ""

    def _post(self, endpoint: str, data: Mapping[str, Any]) -> Any:
        payload = self._request_json("POST", f"{endpoint}/", data=data)
        if isinstance(payload, dict) and "error" in payload:
            raise ZTFServiceError(f"Lasair answered with an error: {payload['error']}",
                                  url=f"{self.base_url}/{endpoint}/", status=200)
        return payload

    def recent_objects(self, n: int, *, days: float = 7.0, min_candidates: int = 1) -> list[str]:
        """Ids of up to ``n`` objects detected in the last ``days`` days, latest first (``POST /query/``)."""
        n = _check_n(n)
        days = _positive("days", days)
        if isinstance(min_candidates, bool) or not isinstance(min_candidates, Integral) or min_candidates < 1:
            raise ValueError(f"min_candidates must be an int >= 1, got {min_candidates!r}")
        data = {
            "selected": "objects.objectId, objects.ncand, objects.jdmax",
            "tables": "objects",
            "conditions": f"objects.jdmax > JDNOW() - {days:g} AND objects.ncand >= {int(min_candidates)} "
                          "ORDER BY objects.jdmax DESC",
            "limit": n,
            "offset": 0,
        }
        rows = self._post("query", data)
        if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get("objectId") for r in rows):
            raise ZTFServiceError(f"Lasair query answer is not a list of rows with objectId (got {_shape(rows)})",
                                  url=f"{self.base_url}/query/", status=200)
        rows = sorted(rows, key=lambda r: -float(r.get("jdmax") or 0.0))  # newest first even if ORDER BY is ignored
        return [str(r["objectId"]) for r in rows[:n]]

    def detections(self, oid: str) -> pd.DataFrame:
        """The alert detections of ``oid`` (``POST /object/``), sorted by time, with ``oid``; non-detections
        (rows without ``candid``) are left out and counted in ``result.attrs["non_detections"]``."""
        oid = _check_oid(oid)
        payload = self._post("object", {"objectId": oid, "lite": True, "lasair_added": False})
        candidates = payload.get("candidates") if isinstance(payload, dict) else None
        if not isinstance(candidates, list) or not all(isinstance(c, dict) for c in candidates):
            raise ZTFServiceError(f"Lasair object answer has no 'candidates' list (got {_shape(payload)})",
                                  url=f"{self.base_url}/object/", status=200)
        detected = [c for c in candidates if c.get("candid") is not None]
        df = _with_oid(pd.DataFrame(detected), oid)
        df.attrs["non_detections"] = len(candidates) - len(detected)
        return df


def _shape(payload: Any) -> str:
    if isinstance(payload, dict):
        return f"an object with keys {sorted(payload)[:8]}"
    if isinstance(payload, list):
        return f"a list of {len(payload)}"
    return type(payload).__name__


class SimulatedAlertSource:
    """Simulated ZTF objects served as alert rows, so the pipeline runs offline; :meth:`label` gives the truth.

    Objects are simulated in batches of :attr:`BATCH_SIZE` with seeds derived from ``seed``, so object ``k`` is the
    same however many objects are asked for. Ids are ``"sim-<seed>-<k:06d>"``; rows have the columns of
    :func:`~exowavenet_lib.surveys.to_ztf_alerts` plus a unique ``candid``.

    Parameters
    ----------
    seed : int
        Seed (>= 0); the same seed gives the same objects.
    class_weights : None, "realistic" or mapping
        As in :func:`~exowavenet_lib.simulate.transients.simulate_transients`.
    """

    BATCH_SIZE: ClassVar[int] = 50
    _ID = re.compile(r"sim-(\d+)-(\d{6})")

    def __init__(self, seed: int = 0, class_weights: str | Mapping[str, float] | None = None) -> None:
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.seed = int(seed)
        self.class_weights = class_weights
        self._batches: dict[int, tuple[list[TransientLightCurve], list[str]]] = {}
        self._batch(0)  # validates class_weights now rather than at the first request

    @property
    def cache_namespace(self) -> str:
        """Identifies this source's data in :class:`ZTFDataPipeline`'s cache."""
        return f"SimulatedAlertSource:{self.seed}:{self.class_weights!r}"

    def _batch(self, index: int) -> tuple[list[TransientLightCurve], list[str]]:
        if index not in self._batches:
            batch_seed = int(np.random.SeedSequence([self.seed, index]).generate_state(1)[0])
            self._batches[index] = simulate_transients(self.BATCH_SIZE, seed=batch_seed,
                                                       class_weights=self.class_weights)
        return self._batches[index]

    def _index(self, oid: str) -> int:
        match = self._ID.fullmatch(_check_oid(oid))
        if match is None or int(match.group(1)) != self.seed:
            raise KeyError(f"{oid!r} is not an object of SimulatedAlertSource(seed={self.seed}); "
                           f"ids look like 'sim-{self.seed}-000000'")
        return int(match.group(2))

    def _object(self, oid: str) -> tuple[TransientLightCurve, str]:
        index = self._index(oid)
        light_curves, labels = self._batch(index // self.BATCH_SIZE)
        return light_curves[index % self.BATCH_SIZE], labels[index % self.BATCH_SIZE]

    def recent_objects(self, n: int) -> list[str]:
        """The ids of the first ``n`` simulated objects."""
        return [f"sim-{self.seed}-{k:06d}" for k in range(_check_n(n))]

    def detections(self, oid: str) -> pd.DataFrame:
        """The object's detections as ZTF alert rows: ``oid, candid, jd, fid, magpsf, sigmapsf, isdiffpos``."""
        lc, _ = self._object(oid)
        df = to_ztf_alerts(lc)
        df["oid"] = oid
        df.insert(1, "candid", (self._index(oid) + 1) * 100_000 + np.arange(len(df), dtype=np.int64))
        return df

    def label(self, oid: str) -> str:
        """The true class of ``oid`` (one of ``TRANSIENT_CLASSES``)."""
        return self._object(oid)[1]

    def truth(self, oid: str) -> TransientLightCurve:
        """The simulated light curve behind ``oid`` (true class, peak and parameters in ``meta``)."""
        return self._object(oid)[0]

    def __repr__(self) -> str:
        return f"SimulatedAlertSource(seed={self.seed}, class_weights={self.class_weights!r})"


# ----------------------------------------------------------------------------------------------------- pipeline
class ZTFDataPipeline:
    """Source → detections → :class:`QualityCuts` → :class:`TransientLightCurve` (FLUXCAL), one object at a time.

    Parameters
    ----------
    source : AlertSource
        :class:`AlerceClient`, :class:`LasairClient`, :class:`SimulatedAlertSource` or any object with
        ``recent_objects(n)`` and ``detections(oid)``.
    quality : QualityCuts, optional
        Cuts applied to each object's detections (default ``QualityCuts()``).
    cache_dir : path, optional
        Folder where each object's raw detections are kept (JSON, atomic writes), keyed by the source's
        ``cache_namespace`` and the object id; a hit does not ask the source.
    on_error : "raise" or "skip"
        What to do when the source fails for one object: raise the :class:`ZTFServiceError`, or skip the object
        and record why in :attr:`report`.
    progress : bool
        Show a progress bar over objects.

    After :meth:`lightcurves`, :attr:`report` says how many objects were asked for and kept, why the others were
    skipped, and the summed row counts of :meth:`QualityCuts.apply_with_report`.
    """

    def __init__(
        self,
        source: AlertSource,
        quality: QualityCuts | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        on_error: str = "raise",
        progress: bool = True,
    ) -> None:
        if not isinstance(source, AlertSource):
            raise TypeError(f"source must have recent_objects(n) and detections(oid) methods, got "
                            f"{type(source).__name__}")
        quality = QualityCuts() if quality is None else quality
        if not isinstance(quality, QualityCuts):
            raise TypeError(f"quality must be a QualityCuts, got {type(quality).__name__}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.source = source
        self.quality = quality
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._cache = None if cache_dir is None else _JSONCache(cache_dir)
        self.on_error = on_error
        self.progress = bool(progress)
        self.report: dict[str, Any] = {}

    def detections(self, oid: str) -> pd.DataFrame:
        """Raw detections of ``oid`` from the cache or the source (before quality cuts)."""
        oid = _check_oid(oid)
        key = {"source": getattr(self.source, "cache_namespace", type(self.source).__name__), "oid": oid}
        if self._cache is not None:
            hit, payload = self._cache.get(key)
            if hit:
                return pd.DataFrame(payload)
        df = self.source.detections(oid)
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{type(self.source).__name__}.detections must return a DataFrame, got {type(df).__name__}")
        if self._cache is not None:
            self._cache.put(key, df.astype(object).where(df.notna(), None).to_dict(orient="list"))
        return df

    def lightcurves(self, oids: Sequence[str] | None = None, n: int | None = None) -> list[TransientLightCurve]:
        """Light curves of ``oids``, or of the source's ``n`` most recent objects; objects that fail the cuts are
        left out and listed in :attr:`report`."""
        if (oids is None) == (n is None):
            raise ValueError("pass exactly one of oids (a list of object ids) or n (how many recent objects)")
        if oids is None:
            oids = self.source.recent_objects(_check_n(n))
        if isinstance(oids, str) or not isinstance(oids, Sequence):
            raise TypeError(f"oids must be a list of object ids, got {type(oids).__name__}")
        oids = [_check_oid(oid) for oid in oids]
        light_curves: list[TransientLightCurve] = []
        skipped: dict[str, str] = {}
        rows: Counter[str] = Counter()
        for oid in tqdm(oids, desc="ZTF objects", unit="obj", disable=not self.progress):
            try:
                raw = self.detections(oid)
            except ZTFServiceError as err:
                if self.on_error == "raise":
                    raise
                skipped[oid] = f"service error: {err}"
                continue
            if raw.empty:
                skipped[oid] = "no detections"
                continue
            if _object_column(raw) is None:
                raw = raw.assign(oid=oid)
            clean, counts = self.quality.apply_with_report(raw)
            rows.update(counts)
            if clean.empty:
                skipped[oid] = (f"{counts['rows_out'] + counts['too_few_detections']} detection(s) pass the row cuts, "
                                f"fewer than min_detections={self.quality.min_detections}")
                continue
            light_curves.append(lightcurve_from_alerts(clean, object_id=oid))
        self.report = {"requested": len(oids), "kept": len(light_curves), "skipped": skipped, "rows": dict(rows)}
        if skipped:
            logger.info("ZTFDataPipeline kept %d of %d objects; skipped %s", len(light_curves), len(oids), skipped)
        return light_curves

    def __repr__(self) -> str:
        return f"ZTFDataPipeline(source={self.source!r}, quality={self.quality!r})"
