"""Transient alerts (exowavenet_lib.ztf.alerts) against a webhook and an SMTP server run on 127.0.0.1 here."""

from __future__ import annotations

import json
import logging
import socketserver
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from exowavenet_lib.tracking import Tracker
from exowavenet_lib.ztf.alerts import (
    Alert,
    AlertRule,
    EmailNotifier,
    JSONLNotifier,
    LogNotifier,
    NotificationError,
    TransientAlertSystem,
    WebhookNotifier,
)

CLASSES = ("SNIa", "SNII", "CV", "AGN", "TDE")
TDE_RULE = AlertRule("TDE", min_probability=0.8, max_uncertainty=0.3)


def result(object_id: str, tde: float = 0.9, uncertainty: float = 0.2, **extra: Any) -> dict[str, Any]:
    """A classify_with_uncertainty-like result with probability ``tde`` for TDE, the rest spread evenly."""
    rest = (1.0 - tde) / 4
    probabilities = {c: (tde if c == "TDE" else rest) for c in CLASSES}
    top = max(probabilities, key=probabilities.get)
    return {"object_id": object_id, "predicted_class": top, "probabilities": probabilities, "confidence": max(
        probabilities.values()), "entropy": 0.5, "mutual_information": 0.05, "uncertainty": uncertainty, **extra}


# ------------------------------------------------------------------------------------------------ test servers
class _Webhook:
    """Records POST bodies; answers ``fail_codes`` first (one per request), then 200; ``delay`` s per request."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_codes: list[int] = []
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests += 1
                time.sleep(owner.delay)
                code = owner.fail_codes.pop(0) if owner.fail_codes else 200
                if code == 200:
                    owner.bodies.append(json.loads(body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _SMTPServer(socketserver.ThreadingTCPServer):
    """Just enough SMTP (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT) to record messages."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.refuse: set[str] = set()
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: _SMTPServer = self.server  # type: ignore[assignment]
        envelope: dict[str, Any] = {"from": None, "to": []}
        self.reply("220 127.0.0.1 test SMTP")
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-127.0.0.1")
                self.reply("250 8BITMIME")
            elif verb == "HELO" or verb == "NOOP":
                self.reply("250 OK")
            elif verb == "MAIL":
                envelope = {"from": command.split(":", 1)[1].strip().split()[0].strip("<>"), "to": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>")
                if address in server.refuse:
                    self.reply("550 no such user")
                else:
                    envelope["to"].append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                server.messages.append({**envelope, "message": message_from_bytes(b"".join(data),
                                                                                  policy=default_policy)})
                self.reply("250 OK queued")
            elif verb == "RSET":
                envelope = {"from": None, "to": []}
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    server = _Webhook()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[_SMTPServer]:
    server = _SMTPServer()
    yield server
    server.shutdown()
    server.server_close()


class _Recorder:
    """A notifier that records what it was given; ``fail`` makes it raise, ``crash`` raise a non-Exception."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.sent: list[Alert] = []
        self.fail = False
        self.crash = False

    def send(self, alert: Alert) -> None:
        if self.fail:
            raise NotificationError("down")
        self.sent.append(alert)
        if self.crash:
            raise KeyboardInterrupt("the process dies right after the send")


# ------------------------------------------------------------------------------------------------ rules and alerts
def test_rule_thresholds_and_uncertainty_gate():
    system = TransientAlertSystem([TDE_RULE], [recorder := _Recorder()])
    results = [result("a", 0.9, 0.2), result("b", 0.8, 0.3),  # at both limits: alert
               result("c", 0.79, 0.1), result("d", 0.95, 0.31), result("e", 0.99, 0.9)]
    new = system.process(results)
    assert [a.object_id for a in new] == ["a", "b"] and [a.object_id for a in recorder.sent] == ["a", "b"]
    first = new[0]
    assert (first.class_name, first.probability, first.uncertainty) == ("TDE", 0.9, 0.2)
    assert first.alert_id == "a/TDE" and first.key == ("a", "TDE")
    assert first.payload["link"] == "https://alerce.online/object/a"
    assert first.payload["rule"] == {"min_probability": 0.8, "max_uncertainty": 0.3}
    assert first.payload["probabilities"]["TDE"] == 0.9 and first.payload["predicted_class"] == "TDE"
    assert first.created_at.tzinfo is not None


def test_one_alert_per_object_and_class_within_and_across_calls():
    rules = [TDE_RULE, AlertRule("TDE", 0.5), AlertRule("SNIa", 0.02)]
    system = TransientAlertSystem(rules, [recorder := _Recorder()])
    new = system.process([result("a"), result("a", 0.95)])
    assert sorted(a.alert_id for a in new) == ["a/SNIa", "a/TDE"]
    assert system.process([result("a", 0.99), result("b")]) == [a for a in system.alerts() if a.object_id == "b"]
    assert len(recorder.sent) == 4 and {a.alert_id for a in recorder.sent} == {"a/TDE", "a/SNIa", "b/TDE", "b/SNIa"}


def test_alert_round_trips_and_text_has_the_essentials():
    alert = TransientAlertSystem([TDE_RULE], []).process([result("ZTF21abc", 0.93, 0.21)])[0]
    assert Alert.from_dict(json.loads(json.dumps(alert.to_dict()))) == alert
    text = alert.text()
    for needle in ("ZTF21abc", "TDE", "0.930", "0.210", "https://alerce.online/object/ZTF21abc", "ZTF21abc/TDE"):
        assert needle in text
    assert alert.subject() == "TDE candidate ZTF21abc (p = 0.93, uncertainty 0.21)"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"class_name": "", "min_probability": 0.5}, "class_name"),
     ({"class_name": "TDE", "min_probability": 1.5}, "min_probability"),
     ({"class_name": "TDE", "min_probability": 0.5, "max_uncertainty": -0.1}, "max_uncertainty"),
     ({"class_name": "TDE", "min_probability": True}, "min_probability")],
)
def test_alert_rule_validation(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        AlertRule(**kwargs)


def test_system_validates_results_and_configuration(tmp_path):
    system = TransientAlertSystem([TDE_RULE], [])
    bad_results = [([{"probabilities": {"TDE": 0.9}, "uncertainty": 0.1}], "object_id"),
                   ([result("a", uncertainty=1.2)], "uncertainty"),
                   ([{"object_id": "a", "uncertainty": 0.1}], "probabilities"),
                   ([result("a", 1.3)], "probabilities"),
                   ([{k: v for k, v in result("a").items() if k != "uncertainty"}], "uncertainty"),
                   (["not a dict"], r"results\[0\]"),
                   (result("a"), "results must be a list")]
    for results, match in bad_results:
        with pytest.raises((TypeError, ValueError), match=match):
            system.process(results)
    with pytest.raises(TypeError, match="rules"):
        TransientAlertSystem([], [])
    with pytest.raises(ValueError, match="distinct names"):
        TransientAlertSystem([TDE_RULE], [_Recorder("x"), _Recorder("x")])
    with pytest.raises(TypeError, match=r"notifiers\[0\]"):
        TransientAlertSystem([TDE_RULE], [object()])
    with pytest.raises(ValueError, match="link_template"):
        TransientAlertSystem([TDE_RULE], [], link_template="https://example.org")
    corrupt = tmp_path / "state.json"
    corrupt.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read the alert state"):
        TransientAlertSystem([TDE_RULE], [], state_path=corrupt)
    with pytest.raises(ValueError, match="url"):
        WebhookNotifier("ftp://example.org")
    with pytest.raises(ValueError, match="recipients"):
        EmailNotifier("127.0.0.1", 25, "a@b.org", "c@d.org")
    with pytest.raises(ValueError, match="password"):
        EmailNotifier("127.0.0.1", 25, "a@b.org", ["c@d.org"], username="me")


# ------------------------------------------------------------------------------------------------ notifiers
def test_log_and_jsonl_notifiers(tmp_path, caplog):
    path = tmp_path / "out" / "alerts.jsonl"
    system = TransientAlertSystem([TDE_RULE], [LogNotifier(), JSONLNotifier(path)])
    with caplog.at_level(logging.WARNING, logger="exowavenet_lib.ztf.alerts"):
        system.process([result("a"), result("b", 0.85, 0.25), result("c", 0.1)])
        system.process([result("a")])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["alert_id"] for line in lines] == ["a/TDE", "b/TDE"]
    assert lines[1]["probability"] == 0.85 and lines[1]["uncertainty"] == 0.25
    assert lines[1]["payload"]["probabilities"]["TDE"] == 0.85 and "created_at" in lines[1]
    assert sum("ALERT TDE candidate" in r.getMessage() for r in caplog.records) == 2


def test_webhook_retries_a_500_and_delivers_once(webhook):
    webhook.fail_codes = [500]
    system = TransientAlertSystem([TDE_RULE], [WebhookNotifier(webhook.url, retries=2, backoff=0.0)])
    system.process([result("a")])
    assert webhook.requests == 2 and [b["alert_id"] for b in webhook.bodies] == ["a/TDE"]
    assert webhook.bodies[0]["payload"]["link"].endswith("/a") and system.pending() == []
    system.process([result("a")])
    assert webhook.requests == 2


def test_webhook_failure_keeps_the_alert_pending_until_a_later_call(webhook):
    webhook.fail_codes = [503, 503]  # both attempts of the first call fail
    notifier = WebhookNotifier(webhook.url, retries=1, backoff=0.0)
    system = TransientAlertSystem([TDE_RULE], [notifier])
    assert [a.alert_id for a in system.process([result("a")])] == ["a/TDE"]
    assert webhook.bodies == [] and [a.alert_id for a in system.pending()] == ["a/TDE"]
    record = system.deliveries("a/TDE")
    assert record["attempts"] == {notifier.name: 1} and "HTTP 503" in record["last_error"][notifier.name]
    assert system.process([]) == []  # the retry
    assert [b["alert_id"] for b in webhook.bodies] == ["a/TDE"] and system.pending() == []
    assert system.deliveries("a/TDE")["last_error"] == {}


def test_webhook_does_not_retry_a_client_error_and_times_out(webhook):
    webhook.fail_codes = [400]
    with pytest.raises(NotificationError, match="HTTP 400"):
        WebhookNotifier(webhook.url, retries=3, backoff=0.0).send(Alert("a", "TDE", 0.9, 0.1))
    assert webhook.requests == 1
    webhook.delay = 1.0
    with pytest.raises(NotificationError, match="did not accept"):
        WebhookNotifier(webhook.url, timeout=0.2, retries=0).send(Alert("a", "TDE", 0.9, 0.1))


def test_webhook_unreachable_raises():
    server = _Webhook()
    url = server.url
    server.close()  # nothing listens on that port any more
    with pytest.raises(NotificationError, match="did not accept"):
        WebhookNotifier(url, timeout=1, retries=1, backoff=0.0).send(Alert("a", "TDE", 0.9, 0.1))


def test_email_notifier_sends_a_plain_text_message(smtp):
    notifier = EmailNotifier("127.0.0.1", smtp.port, "alerts@exowavenet.org", ["me@example.org", "you@example.org"])
    TransientAlertSystem([TDE_RULE], [notifier]).process([result("ZTF21abc", 0.93, 0.21)])
    (sent,) = smtp.messages
    assert sent["from"] == "alerts@exowavenet.org" and sent["to"] == ["me@example.org", "you@example.org"]
    message = sent["message"]
    assert message["Subject"] == "[ExoWaveNet] TDE candidate ZTF21abc (p = 0.93, uncertainty 0.21)"
    assert message.get_content_type() == "text/plain" and message["X-Alert-Id"] == "ZTF21abc/TDE"
    body = message.get_content()
    for needle in ("Class:        TDE", "Probability:  0.930", "Uncertainty:  0.210",
                   "Link:         https://alerce.online/object/ZTF21abc"):
        assert needle in body
    assert "password" not in repr(notifier)


def test_email_refusal_and_outage_leave_the_alert_pending(smtp):
    smtp.refuse = {"me@example.org"}
    notifier = EmailNotifier("127.0.0.1", smtp.port, "alerts@exowavenet.org", ["me@example.org"], timeout=2)
    system = TransientAlertSystem([TDE_RULE], [notifier])
    system.process([result("a")])
    assert smtp.messages == [] and len(system.pending()) == 1
    assert "SMTPRecipientsRefused" in system.deliveries("a/TDE")["last_error"][notifier.name]
    smtp.refuse = set()
    system.process([])
    assert len(smtp.messages) == 1 and system.pending() == []
    down = EmailNotifier("127.0.0.1", _closed_port(), "a@b.org", ["c@d.org"], timeout=1)
    with pytest.raises(NotificationError, match="SMTP"):
        down.send(Alert("a", "TDE", 0.9, 0.1))


def _closed_port() -> int:
    server = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return port


# ------------------------------------------------------------------------------------------------ persistence
def test_restart_does_not_resend_and_delivers_what_was_pending(tmp_path, webhook):
    state = tmp_path / "state.json"
    failing = _Recorder("flaky")
    failing.fail = True
    first = TransientAlertSystem([TDE_RULE], [WebhookNotifier(webhook.url, backoff=0.0), failing], state_path=state)
    first.process([result("a"), result("b")])
    assert len(webhook.bodies) == 2 and len(first.pending()) == 2
    del first  # "restart"
    flaky = _Recorder("flaky")
    second = TransientAlertSystem([TDE_RULE], [WebhookNotifier(webhook.url, backoff=0.0), flaky], state_path=state)
    assert [a.alert_id for a in second.alerts()] == ["a/TDE", "b/TDE"]
    assert second.process([result("a"), result("b"), result("c")])[0].alert_id == "c/TDE"
    assert [b["alert_id"] for b in webhook.bodies] == ["a/TDE", "b/TDE", "c/TDE"]  # a and b not sent again
    assert sorted(a.alert_id for a in flaky.sent) == ["a/TDE", "b/TDE", "c/TDE"]  # the pending ones went out
    assert second.pending() == [] and [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp files


def test_crash_after_send_before_save_resends_at_least_once(tmp_path):
    state = tmp_path / "state.json"
    recorder = _Recorder()
    recorder.crash = True
    system = TransientAlertSystem([TDE_RULE], [recorder], state_path=state)
    with pytest.raises(KeyboardInterrupt):
        system.process([result("a")])
    assert len(recorder.sent) == 1
    saved = json.loads(state.read_text())["alerts"]
    assert [r["alert"]["alert_id"] for r in saved] == ["a/TDE"] and saved[0]["delivered"] == {}  # saved as pending
    after = _Recorder()
    TransientAlertSystem([TDE_RULE], [after], state_path=state).process([result("a")])
    assert [a.alert_id for a in after.sent] == ["a/TDE"]  # sent again: a duplicate, never a loss


def test_each_delivery_is_saved_at_once(tmp_path):
    state = tmp_path / "state.json"
    TransientAlertSystem([TDE_RULE], [_Recorder("one")], state_path=state).process([result("a")])
    one, two = _Recorder("one"), _Recorder("two")
    TransientAlertSystem([TDE_RULE], [one, two], state_path=state).process([result("a")])
    assert one.sent == [] and two.sent == []  # a/TDE was delivered and saved before the restart
    ok, dying = _Recorder("ok"), _Recorder("dying")
    dying.crash = True
    with pytest.raises(KeyboardInterrupt):
        TransientAlertSystem([TDE_RULE], [ok, dying], state_path=state).process([result("b")])
    ok_again, dying_again = _Recorder("ok"), _Recorder("dying")
    TransientAlertSystem([TDE_RULE], [ok_again, dying_again], state_path=state).process([])
    assert ok_again.sent == [] and [a.alert_id for a in dying_again.sent] == ["b/TDE"]


def test_new_notifier_after_restart_gets_only_new_alerts(tmp_path):
    state = tmp_path / "state.json"
    TransientAlertSystem([TDE_RULE], [_Recorder("one")], state_path=state).process([result("a")])
    two = _Recorder("two")
    TransientAlertSystem([TDE_RULE], [_Recorder("one"), two], state_path=state).process([result("b")])
    assert [a.alert_id for a in two.sent] == ["b/TDE"]


def test_in_memory_state_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    TransientAlertSystem([TDE_RULE], [_Recorder()]).process([result("a")])
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------ tracking
def test_counts_are_logged_to_a_disabled_tracker():
    tracker = Tracker("alerts-test", mode="disabled", verbose=False, probe=lambda url, timeout: False)
    failing = _Recorder("down")
    failing.fail = True
    system = TransientAlertSystem([TDE_RULE, AlertRule("SNIa", 0.5)], [_Recorder(), failing], tracker=tracker)
    system.process([result("a"), result("b"), result("c", 0.1)])
    assert tracker.running and tracker.mode == "disabled"
    assert tracker.summary["alerts/results"] == 3 and tracker.summary["alerts/new"] == 2
    assert tracker.summary["alerts/new/TDE"] == 2 and tracker.summary["alerts/new/SNIa"] == 0
    assert tracker.summary["alerts/delivered"] == 2 and tracker.summary["alerts/failed"] == 2
    assert tracker.summary["alerts/pending"] == 2
    tracker.finish()
    system.process([result("d")])  # a finished tracker: logging fails, alerting does not
    assert [a.object_id for a in system.alerts()] == ["a", "b", "d"]
