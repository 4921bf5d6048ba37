"""ZTF alert pipeline: light curves from alerts, quality cuts, the simulated source, and the ALeRCE and Lasair
clients run against fixture answers (written by us, in the real APIs' formats) served on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exowavenet_lib.lightcurves import TransientLightCurve
from exowavenet_lib.photometry import mag_err_to_flux_err, mag_to_flux
from exowavenet_lib.simulate.transients import TRANSIENT_CLASSES
from exowavenet_lib.surveys import to_ztf_alerts
from exowavenet_lib.ztf.pipeline import (
    AlerceClient,
    LasairClient,
    QualityCuts,
    SimulatedAlertSource,
    ZTFDataPipeline,
    ZTFServiceError,
    lightcurve_from_alerts,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ztf"
FAST = {"timeout": 2.0, "retries": 2, "backoff": 0.001, "total_timeout": 10.0}  # tiny backoff: quick tests


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def alerce_frame(letter: str) -> pd.DataFrame:
    return pd.DataFrame(json.loads(fixture_bytes(f"alerce_detections_ZTF24aaaaaa{letter}.json"))).assign(
        oid=f"ZTF24aaaaaa{letter}")


# ----------------------------------------------------------------------------------------------------- fake broker
@dataclass
class Reply:
    """One scripted answer: status, body, headers, and a delay before answering (or between body bytes)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: bool = False  # send the body one byte per ``delay`` seconds


class FakeBroker:
    """A threaded HTTP server on 127.0.0.1 (port 0) answering each path from a script; the last reply repeats."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        broker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                with broker._lock:
                    broker.requests.append({"method": self.command, "path": parts.path,
                                            "query": parse_qs(parts.query), "form": parse_qs(body),
                                            "headers": dict(self.headers)})
                    script = broker.routes.get(parts.path)
                    reply = (script.pop(0) if len(script) > 1 else script[0]) if script else Reply(404, b"{}")
                try:
                    if not reply.trickle:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    for i in range(len(reply.body)):
                        if reply.trickle:
                            time.sleep(reply.delay)
                            self.wfile.write(reply.body[i:i + 1])
                            self.wfile.flush()
                    if not reply.trickle:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, as it should

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if path is None or r["path"] == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def broker():
    fake = FakeBroker()
    yield fake
    fake.close()


def alerce_broker(broker: FakeBroker) -> FakeBroker:
    """Routes of a small ALeRCE ZTF API v1: two pages of objects and four objects' detections."""
    broker.route("/ztf/v1/objects/", Reply(body=fixture_bytes("alerce_objects_page1.json")),
                 Reply(body=fixture_bytes("alerce_objects_page2.json")))
    for letter in "abcd":
        broker.route(f"/ztf/v1/objects/ZTF24aaaaaa{letter}/detections",
                     Reply(body=fixture_bytes(f"alerce_detections_ZTF24aaaaaa{letter}.json")))
    return broker


DETECTIONS_A = "/ztf/v1/objects/ZTF24aaaaaaa/detections"


# ------------------------------------------------------------------------------------- lightcurve_from_alerts
def test_lightcurve_from_alerts_converts_jd_fid_and_magnitudes_to_fluxcal():
    df = pd.read_csv(FIXTURES / "alerts_ZTF24aaaaaae.csv")
    lc = lightcurve_from_alerts(df)
    assert isinstance(lc, TransientLightCurve) and lc.object_id == "ZTF24aaaaaae" and lc.transient_type is None
    np.testing.assert_allclose(lc.mjd, df["jd"] - 2_400_000.5, atol=1e-8)
    assert lc.band.tolist() == ["g", "r", "g", "r", "r", "g"]
    np.testing.assert_allclose(lc.flux, 10 ** (-0.4 * (df["magpsf"] - 27.5)), rtol=1e-12)
    np.testing.assert_allclose(lc.flux_err, lc.flux * df["sigmapsf"] * np.log(10) / 2.5, rtol=1e-12)
    assert lc.meta["survey"] == "ZTF"
    assert lightcurve_from_alerts(df, transient_type="SNIa").transient_type == "SNIa"


def test_lightcurve_from_alerts_uses_mjd_and_the_object_id_argument():
    df = alerce_frame("b").drop(columns="oid")
    lc = lightcurve_from_alerts(df, object_id="ZTF24aaaaaab")
    np.testing.assert_allclose(np.sort(lc.mjd), np.sort(df["mjd"]))
    assert lc.object_id == "ZTF24aaaaaab"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.iloc[:0], "empty"),
        (lambda df: df.drop(columns="magpsf"), r"lacks the column\(s\) \['magpsf'\]"),
        (lambda df: df.drop(columns="jd"), r"mjd or jd"),
        (lambda df: df.assign(objectId=["ZTF24aaaaaae"] * 5 + ["ZTF24zzzzzzz"]), "mixes 2 object ids"),
        (lambda df: df.assign(fid=[1, 2, 1, 2, 4, 1]), r"unknown filter id\(s\) \['4'\]"),
        (lambda df: df.assign(sigmapsf=[0.1, np.nan, 0.1, 0.1, 0.1, 0.1]), r"1 row\(s\) with a NaN"),
        (lambda df: df.drop(columns="objectId"), "pass object_id"),
    ],
)
def test_lightcurve_from_alerts_refuses_bad_frames(change, message):
    df = pd.read_csv(FIXTURES / "alerts_ZTF24aaaaaae.csv")
    with pytest.raises(ValueError, match=message):
        lightcurve_from_alerts(change(df))


def test_lightcurve_from_alerts_checks_its_arguments():
    df = pd.read_csv(FIXTURES / "alerts_ZTF24aaaaaae.csv")
    with pytest.raises(TypeError, match="DataFrame"):
        lightcurve_from_alerts(df.to_dict(orient="records"))
    with pytest.raises(ValueError, match="disagrees"):
        lightcurve_from_alerts(df, object_id="ZTF24zzzzzzz")


@given(
    mags=st.lists(st.floats(12.0, 23.0), min_size=1, max_size=30),
    errs=st.lists(st.floats(0.005, 0.5), min_size=30, max_size=30),
    g_first=st.booleans(),
)
def test_magnitudes_survive_the_round_trip_through_fluxcal(mags, errs, g_first):
    n = len(mags)
    df = pd.DataFrame({"oid": "ZTF24roundtr", "mjd": 60000.0 + np.arange(n) * 1.5,
                       "fid": [1 if (i % 2 == 0) == g_first else 2 for i in range(n)],
                       "magpsf": mags, "sigmapsf": errs[:n]})
    lc = lightcurve_from_alerts(df)
    np.testing.assert_allclose(lc.flux, mag_to_flux(mags), rtol=1e-12)
    np.testing.assert_allclose(lc.flux_err, mag_err_to_flux_err(errs[:n], lc.flux), rtol=1e-12)
    back = to_ztf_alerts(lc)
    np.testing.assert_allclose(back["magpsf"], mags, atol=1e-9)
    np.testing.assert_allclose(back["sigmapsf"], errs[:n], rtol=1e-9)
    assert back["fid"].tolist() == df["fid"].tolist()


# ----------------------------------------------------------------------------------------------------- quality cuts
def test_quality_cuts_drop_each_bad_row_once_and_report_it():
    raw = alerce_frame("a")
    before = raw.copy()
    clean, report = QualityCuts().apply_with_report(raw)
    assert report == {"rows_in": 13, "non_detection": 0, "bad_value": 1, "other_filter": 1, "negative_difference": 1,
                      "large_error": 1, "duplicate": 1, "objects_in": 1, "too_few_detections": 0,
                      "objects_dropped": 0, "rows_out": 8}
    assert len(clean) == 8 and clean["candid"].is_unique and set(clean["fid"]) == {1, 2}
    assert clean["sigmapsf"].max() <= 0.5 and (clean["isdiffpos"] == 1).all()
    assert clean.attrs["quality_report"] == report
    pd.testing.assert_frame_equal(raw, before)  # a new frame; the input is untouched
    pd.testing.assert_frame_equal(QualityCuts().apply(raw), clean)


def test_quality_cuts_drop_objects_with_too_few_detections():
    raw = pd.concat([alerce_frame("a"), alerce_frame("c")], ignore_index=True)
    clean, report = QualityCuts(min_detections=5).apply_with_report(raw)
    assert set(clean["oid"]) == {"ZTF24aaaaaaa"}
    assert report["too_few_detections"] == 3 and report["objects_in"] == 2 and report["objects_dropped"] == 1
    assert set(QualityCuts(min_detections=3).apply(raw)["oid"]) == {"ZTF24aaaaaaa", "ZTF24aaaaaac"}


def test_quality_cuts_options_keep_negative_differences_and_the_i_band():
    raw = alerce_frame("a")
    kept = QualityCuts(drop_negative=False, fids=(1, 2, 3), max_sigmapsf=1.0).apply(raw)
    assert len(kept) == 11 and 3 in set(kept["fid"])
    lc = lightcurve_from_alerts(kept)
    assert (lc.flux < 0).sum() == 1 and "i" in lc.bands  # the negative subtraction keeps its sign


def test_quality_cuts_find_duplicate_epochs_without_candid():
    raw = alerce_frame("b").drop(columns="candid")
    doubled = pd.concat([raw, raw.iloc[:2]], ignore_index=True)
    clean, report = QualityCuts().apply_with_report(doubled)
    assert report["duplicate"] == 2 and len(clean) == len(raw)


@pytest.mark.parametrize(
    "kwargs",
    [{"min_detections": 0}, {"min_detections": 2.5}, {"max_sigmapsf": 0.0}, {"max_sigmapsf": float("nan")},
     {"fids": ()}, {"fids": (4,)}, {"fids": "12"}],
)
def test_quality_cuts_validate_their_settings(kwargs):
    with pytest.raises(ValueError):
        QualityCuts(**kwargs)


# ----------------------------------------------------------------------------------------------------- simulated source
def test_simulated_source_is_deterministic_and_knows_the_truth():
    source = SimulatedAlertSource(seed=7)
    oids = source.recent_objects(3)
    assert oids == ["sim-7-000000", "sim-7-000001", "sim-7-000002"]
    again = SimulatedAlertSource(seed=7)
    pd.testing.assert_frame_equal(source.detections(oids[1]), again.detections(oids[1]))
    assert source.detections(oids[0])["oid"].unique().tolist() == [oids[0]]
    assert source.detections(oids[0])["candid"].is_unique
    late = "sim-7-000060"  # in the second batch: the same object however many are asked for
    pd.testing.assert_frame_equal(SimulatedAlertSource(seed=7).detections(late), again.detections(late))
    assert all(source.label(oid) in TRANSIENT_CLASSES for oid in oids)
    assert source.label(oids[0]) == source.truth(oids[0]).transient_type
    assert not SimulatedAlertSource(seed=8).detections("sim-8-000000").equals(source.detections(oids[0]))
    with pytest.raises(KeyError, match="not an object"):
        source.detections("sim-8-000000")


def test_simulated_alerts_round_trip_to_the_same_light_curve():
    source = SimulatedAlertSource(seed=11)
    for oid in source.recent_objects(5):
        truth = source.truth(oid)
        lc = lightcurve_from_alerts(source.detections(oid))
        assert lc.object_id == oid and lc.band.tolist() == truth.band.tolist()
        np.testing.assert_allclose(lc.mjd, truth.mjd, rtol=0, atol=1e-7)  # jd keeps ~1e-9 d
        np.testing.assert_allclose(lc.flux, truth.flux, rtol=1e-10)
        np.testing.assert_allclose(lc.flux_err, truth.flux_err, rtol=1e-10)


def test_simulated_source_validates_arguments():
    with pytest.raises(ValueError, match="seed"):
        SimulatedAlertSource(seed=-1)
    with pytest.raises(ValueError, match="class_weights"):
        SimulatedAlertSource(class_weights={"Nova": 1.0})
    with pytest.raises(ValueError, match="n must be"):
        SimulatedAlertSource().recent_objects(0)


# ----------------------------------------------------------------------------------------------------- ALeRCE client
def test_alerce_recent_objects_follow_pages_newest_first(broker):
    alerce_broker(broker)
    client = AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST)
    oids = client.recent_objects(10, classifier="lc_classifier", class_name="SNIa")
    assert oids == ["ZTF24aaaaaaa", "ZTF24aaaaaab", "ZTF24aaaaaac", "ZTF24aaaaaad"]
    first, second = broker.requests
    assert first["method"] == "GET" and first["query"]["page"] == ["1"] and second["query"]["page"] == ["2"]
    assert first["query"]["order_by"] == ["lastmjd"] and first["query"]["order_mode"] == ["DESC"]
    assert first["query"]["classifier"] == ["lc_classifier"] and first["query"]["class"] == ["SNIa"]
    assert first["query"]["page_size"] == ["10"]


def test_alerce_recent_objects_stop_when_they_have_enough(broker):
    alerce_broker(broker)
    table = AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).object_table(2)
    assert table["oid"].tolist() == ["ZTF24aaaaaaa", "ZTF24aaaaaab"] and "probability" in table.columns
    assert broker.count() == 1


def test_alerce_pagination_that_does_not_advance_is_an_error(broker):
    broker.route("/ztf/v1/objects/", Reply(body=fixture_bytes("alerce_objects_page1.json")))  # always "next": 2
    with pytest.raises(ZTFServiceError, match="does not advance"):
        AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).recent_objects(10)
    assert broker.count() == 2


def test_alerce_detections_are_alert_rows_sorted_by_time(broker):
    alerce_broker(broker)
    df = AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).detections("ZTF24aaaaaaa")
    assert len(df) == 13 and df.columns[0] == "oid" and (df["oid"] == "ZTF24aaaaaaa").all()
    assert df["mjd"].is_monotonic_increasing
    assert {"candid", "fid", "magpsf", "sigmapsf", "isdiffpos"} <= set(df.columns)
    assert broker.count(DETECTIONS_A) == 1


def test_a_5xx_is_retried_and_then_succeeds(broker):
    broker.route(DETECTIONS_A, Reply(500, b'{"message": "Internal Server Error"}'),
                 Reply(body=fixture_bytes("alerce_detections_ZTF24aaaaaaa.json")))
    df = AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).detections("ZTF24aaaaaaa")
    assert len(df) == 13 and broker.count(DETECTIONS_A) == 2


def test_a_service_that_stays_down_raises_after_the_retries_in_bounded_time(broker):
    broker.route(DETECTIONS_A, Reply(503, b"Service Unavailable"))
    client = AlerceClient(base_url=f"{broker.url}/ztf/v1", timeout=2.0, retries=2, backoff=0.01, total_timeout=10)
    start = time.monotonic()
    with pytest.raises(ZTFServiceError, match="failed after 3 attempt") as info:
        client.detections("ZTF24aaaaaaa")
    assert time.monotonic() - start < 2.0
    assert info.value.status == 503 and info.value.attempts == 3 and DETECTIONS_A in info.value.url
    assert DETECTIONS_A in str(info.value) and "503" in str(info.value)
    assert broker.count(DETECTIONS_A) == 3


def test_a_slow_answer_times_out_instead_of_hanging(broker):
    broker.route(DETECTIONS_A, Reply(body=b"[]", delay=1.5))
    client = AlerceClient(base_url=f"{broker.url}/ztf/v1", timeout=0.2, retries=1, backoff=0.01, total_timeout=10)
    start = time.monotonic()
    with pytest.raises(ZTFServiceError, match="timed out") as info:
        client.detections("ZTF24aaaaaaa")
    assert time.monotonic() - start < 1.2
    assert info.value.status is None and info.value.attempts == 2
    assert broker.count(DETECTIONS_A) == 2


def test_a_trickling_body_cannot_outlast_the_total_budget(broker):
    broker.route(DETECTIONS_A, Reply(body=b"[" + b" " * 40 + b"]", delay=0.05, trickle=True))  # ~2 s in all
    client = AlerceClient(base_url=f"{broker.url}/ztf/v1", timeout=1.0, retries=0, total_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ZTFServiceError, match="timed out"):
        client.detections("ZTF24aaaaaaa")
    assert time.monotonic() - start < 1.2


def test_malformed_json_is_a_clear_error_and_not_retried(broker):
    broker.route(DETECTIONS_A, Reply(body=b'[{"mjd": 60388.21, "fid": 1,'))
    with pytest.raises(ZTFServiceError, match="malformed JSON") as info:
        AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).detections("ZTF24aaaaaaa")
    assert info.value.status == 200 and broker.count(DETECTIONS_A) == 1


def test_a_wrong_shape_is_a_clear_error(broker):
    broker.route(DETECTIONS_A, Reply(body=b'{"items": []}'))
    with pytest.raises(ZTFServiceError, match="not a list of detections"):
        AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).detections("ZTF24aaaaaaa")


def test_a_4xx_fails_at_once(broker):
    broker.route(DETECTIONS_A, Reply(404, b'{"message": "Object not found"}'))
    with pytest.raises(ZTFServiceError, match="HTTP 404.*Object not found") as info:
        AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).detections("ZTF24aaaaaaa")
    assert info.value.status == 404 and info.value.attempts == 1 and broker.count(DETECTIONS_A) == 1


def test_429_waits_as_long_as_retry_after_says(broker):
    broker.route(DETECTIONS_A, Reply(429, b"slow down", {"Retry-After": "0.4"}),
                 Reply(body=fixture_bytes("alerce_detections_ZTF24aaaaaaa.json")))
    start = time.monotonic()
    df = AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST).detections("ZTF24aaaaaaa")
    assert time.monotonic() - start >= 0.4  # not the 0.001 s backoff
    assert len(df) == 13 and broker.count(DETECTIONS_A) == 2


def test_429_with_a_wait_beyond_the_budget_gives_up_at_once(broker):
    broker.route(DETECTIONS_A, Reply(429, b"slow down", {"Retry-After": "3600"}))
    client = AlerceClient(base_url=f"{broker.url}/ztf/v1", timeout=1.0, retries=3, max_backoff=600, total_timeout=5)
    start = time.monotonic()
    with pytest.raises(ZTFServiceError, match="would exceed total_timeout=5") as info:
        client.detections("ZTF24aaaaaaa")
    assert time.monotonic() - start < 1.0 and info.value.status == 429 and broker.count(DETECTIONS_A) == 1


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AlerceClient(base_url=f"http://127.0.0.1:{port}/ztf/v1", timeout=1.0, retries=1, backoff=0.01)
    with pytest.raises(ZTFServiceError, match="connection failed") as info:
        client.detections("ZTF24aaaaaaa")
    assert info.value.status is None and info.value.attempts == 2


def test_the_cache_answers_without_asking_the_service(broker, tmp_path):
    alerce_broker(broker)
    base = f"{broker.url}/ztf/v1"
    first = AlerceClient(base_url=base, cache_dir=tmp_path / "cache", **FAST).detections("ZTF24aaaaaaa")
    assert broker.count() == 1
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json" and not files[0].name.startswith(".tmp")
    second = AlerceClient(base_url=base, cache_dir=tmp_path / "cache", **FAST).detections("ZTF24aaaaaaa")
    assert broker.count() == 1  # the hit made no request
    pd.testing.assert_frame_equal(first, second)
    AlerceClient(base_url=base, cache_dir=tmp_path / "cache", cache_max_age=1e-6, **FAST).detections("ZTF24aaaaaaa")
    assert broker.count() == 2  # an expired entry is fetched again
    AlerceClient(base_url=base, cache_dir=tmp_path / "cache", **FAST).detections("ZTF24aaaaaab")
    assert broker.count() == 3  # other parameters, other key


def test_a_corrupt_cache_file_is_refetched(broker, tmp_path):
    alerce_broker(broker)
    client = AlerceClient(base_url=f"{broker.url}/ztf/v1", cache_dir=tmp_path, **FAST)
    client.detections("ZTF24aaaaaaa")
    (cached,) = tmp_path.glob("*.json")
    cached.write_text("{not json")
    assert len(client.detections("ZTF24aaaaaaa")) == 13 and broker.count() == 2
    client.detections("ZTF24aaaaaaa")
    assert broker.count() == 2  # the refetched answer replaced the corrupt file


@pytest.mark.parametrize(
    "kwargs",
    [{"base_url": "api.alerce.online"}, {"timeout": 0}, {"timeout": (1.0,)}, {"retries": -1}, {"backoff": -1.0},
     {"total_timeout": float("inf")}, {"cache_max_age": 0}],
)
def test_client_settings_are_validated(kwargs):
    with pytest.raises(ValueError):
        AlerceClient(**kwargs)


def test_clients_default_to_the_real_services():
    assert AlerceClient().base_url == "https://api.alerce.online/ztf/v1"
    assert LasairClient().base_url == "https://lasair-ztf.lsst.ac.uk/api"
    with pytest.raises(TypeError, match="oid"):
        AlerceClient().detections("")


# ----------------------------------------------------------------------------------------------------- Lasair client
def lasair_broker(broker: FakeBroker) -> FakeBroker:
    broker.route("/api/object/", Reply(body=fixture_bytes("lasair_object_ZTF24aaaaaab.json")))
    broker.route("/api/query/", Reply(body=fixture_bytes("lasair_query.json")))
    return broker


def test_lasair_detections_post_the_object_id_with_the_token(broker, tmp_path):
    lasair_broker(broker)
    client = LasairClient(base_url=f"{broker.url}/api", token="s3cret-token", cache_dir=tmp_path, **FAST)
    df = client.detections("ZTF24aaaaaab")
    (request,) = broker.requests
    assert request["method"] == "POST" and request["form"]["objectId"] == ["ZTF24aaaaaab"]
    assert request["headers"]["Authorization"] == "Token s3cret-token"
    assert len(df) == 5 and df.attrs["non_detections"] == 2 and df["candid"].notna().all()
    assert df["jd"].is_monotonic_increasing and (df["oid"] == "ZTF24aaaaaab").all()
    lc = lightcurve_from_alerts(QualityCuts(min_detections=3).apply(df))
    np.testing.assert_allclose(lc.mjd, [60390.25, 60393.19, 60399.22, 60402.27])  # the 'f' row is cut
    assert "s3cret" not in "".join(p.read_text() for p in tmp_path.iterdir())  # the token is never cached


def test_lasair_recent_objects_query_the_objects_table(broker):
    lasair_broker(broker)
    oids = LasairClient(base_url=f"{broker.url}/api", token="t", **FAST).recent_objects(5, days=3)
    assert oids == ["ZTF24aaaaaad", "ZTF24aaaaaab"]
    form = broker.requests[0]["form"]
    assert form["tables"] == ["objects"] and form["limit"] == ["5"]
    assert "objects.jdmax > JDNOW() - 3" in form["conditions"][0]


def test_lasair_without_a_token_explains_the_401(broker):
    broker.route("/api/object/", Reply(401, b'{"detail": "Authentication credentials were not provided."}'))
    with pytest.raises(ZTFServiceError, match="needs an API token") as info:
        LasairClient(base_url=f"{broker.url}/api", **FAST).detections("ZTF24aaaaaab")
    assert info.value.status == 401 and broker.count() == 1
    assert "Authorization" not in broker.requests[0]["headers"]


def test_lasair_error_answers_are_errors(broker):
    broker.route("/api/object/", Reply(body=b'{"error": "Object ZTF24aaaaaab not found"}'))
    with pytest.raises(ZTFServiceError, match="not found"):
        LasairClient(base_url=f"{broker.url}/api", token="t", **FAST).detections("ZTF24aaaaaab")


# ----------------------------------------------------------------------------------------------------- pipeline
def test_pipeline_end_to_end_on_a_fake_alerce(broker, tmp_path):
    alerce_broker(broker)
    client = AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST)
    pipeline = ZTFDataPipeline(client, cache_dir=tmp_path, progress=False)
    lcs = pipeline.lightcurves(n=10)
    assert [lc.object_id for lc in lcs] == ["ZTF24aaaaaaa", "ZTF24aaaaaab", "ZTF24aaaaaad"]
    assert [len(lc) for lc in lcs] == [8, 6, 7] and all(set(lc.bands) == {"g", "r"} for lc in lcs)
    assert pipeline.report["requested"] == 4 and pipeline.report["kept"] == 3
    assert "fewer than min_detections=5" in pipeline.report["skipped"]["ZTF24aaaaaac"]
    rows = pipeline.report["rows"]
    assert rows["rows_in"] == 13 + 6 + 3 + 7 and rows["rows_out"] == 21 and rows["too_few_detections"] == 3
    assert broker.count("/ztf/v1/objects/") == 2 and broker.count() == 2 + 4
    # A second pipeline over the same cache asks the service for nothing but the listing it is given.
    again = ZTFDataPipeline(AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST), cache_dir=tmp_path, progress=False)
    cached = again.lightcurves(oids=["ZTF24aaaaaaa", "ZTF24aaaaaab", "ZTF24aaaaaad"])
    assert broker.count() == 6
    for a, b in zip(lcs, cached, strict=True):
        np.testing.assert_allclose(a.flux, b.flux)
        np.testing.assert_array_equal(a.band, b.band)


def test_pipeline_skips_or_raises_on_service_errors(broker):
    alerce_broker(broker)
    broker.route(DETECTIONS_A, Reply(404, b'{"message": "Object not found"}'))
    base = f"{broker.url}/ztf/v1"
    with pytest.raises(ZTFServiceError, match="404"):
        ZTFDataPipeline(AlerceClient(base_url=base, **FAST), progress=False).lightcurves(oids=["ZTF24aaaaaaa"])
    pipeline = ZTFDataPipeline(AlerceClient(base_url=base, **FAST), on_error="skip", progress=False)
    lcs = pipeline.lightcurves(oids=["ZTF24aaaaaaa", "ZTF24aaaaaab"])
    assert [lc.object_id for lc in lcs] == ["ZTF24aaaaaab"]
    assert pipeline.report["skipped"]["ZTF24aaaaaaa"].startswith("service error: ALeRCE refused the request: HTTP 404")


def test_pipeline_reports_objects_without_detections(broker):
    alerce_broker(broker)
    broker.route(DETECTIONS_A, Reply(body=b"[]"))
    pipeline = ZTFDataPipeline(AlerceClient(base_url=f"{broker.url}/ztf/v1", **FAST), progress=False)
    assert [lc.object_id for lc in pipeline.lightcurves(oids=["ZTF24aaaaaaa", "ZTF24aaaaaad"])] == ["ZTF24aaaaaad"]
    assert pipeline.report["skipped"] == {"ZTF24aaaaaaa": "no detections"}


def test_pipeline_on_the_simulated_source_keeps_labels_available():
    source = SimulatedAlertSource(seed=5, class_weights="realistic")
    pipeline = ZTFDataPipeline(source, QualityCuts(min_detections=5), progress=False)
    lcs = pipeline.lightcurves(n=8)
    assert len(lcs) == 8 - len(pipeline.report["skipped"]) and len(lcs) >= 6
    labels = [source.label(lc.object_id) for lc in lcs]
    assert set(labels) <= set(TRANSIENT_CLASSES)
    assert all(lc.transient_type is None for lc in lcs)  # no label leaks into the classifier's input


def test_pipeline_validates_its_arguments():
    source = SimulatedAlertSource(seed=1)
    with pytest.raises(TypeError, match="recent_objects"):
        ZTFDataPipeline(object())
    with pytest.raises(TypeError, match="QualityCuts"):
        ZTFDataPipeline(source, quality={"min_detections": 3})
    with pytest.raises(ValueError, match="on_error"):
        ZTFDataPipeline(source, on_error="ignore")
    pipeline = ZTFDataPipeline(source, progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        pipeline.lightcurves()
    with pytest.raises(ValueError, match="exactly one"):
        pipeline.lightcurves(oids=["sim-1-000000"], n=1)
    with pytest.raises(TypeError, match="list of object ids"):
        pipeline.lightcurves(oids="sim-1-000000")
