
"""Alerts for interesting transients: rules on classifier output, notifiers, and delivery that survives restarts.

::

    system = TransientAlertSystem(
        rules=[AlertRule("TDE", min_probability=0.8, max_uncertainty=0.3)],
        notifiers=[LogNotifier(), JSONLNotifier("alerts.jsonl"), WebhookNotifier("https://example.org/hook")],
        state_path="alert_state.json",
    )
    new = system.process(classifier.classify_with_uncertainty(lightcurves))   # list of Alert created now

``results`` are the dicts of :meth:`~exowavenet_lib.ztf.classifier.ProductionTransientClassifier.
classify_with_uncertainty` (``object_id``, ``probabilities``, ``uncertainty`` and the rest). A rule fires when the
probability of its class is at least ``min_probability`` and the normalised predictive entropy ``uncertainty`` is
at most ``max_uncertainty``.

Delivery semantics
------------------
* **Deduplication.** An alert is identified by ``(object_id, class_name)``. Once created it is never created again —
  not in later calls, not after a restart with the same ``state_path`` — however often the object is re-classified.
* **Nothing lost.** A new alert is written to the state file, as pending for every notifier, *before* anything is
  sent. A notifier that fails (webhook down, SMTP refused) leaves the alert pending for that notifier; every later
  :meth:`~TransientAlertSystem.process` call (also with no results) retries it, before and after a restart.
* **At least once, per notifier.** After a notifier accepts an alert, the delivery is recorded and the state saved at
  once. A crash between the send and that save means the alert is sent again after the restart: a duplicate, never
  a loss. We choose at-least-once over at-most-once because a missed TDE (a few tens a year, time-critical
  follow-up) costs far more than a repeated message, and receivers can drop repeats by the stable ``alert_id``
  (``"<object_id>/<class_name>"``) that every notifier includes.
* **State file.** One JSON document rewritten atomically (temp file + ``os.replace``) at each change, so a crash
  leaves the old or the new state, never a torn one. It holds every alert ever created (that is the deduplication
  memory), so it grows by one small record per alert; one process per state file. ``state_path=None`` keeps the
  state in memory only (no deduplication across restarts).
"""

from __future__ import annotations

import json
import logging
import math
import os
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from numbers import Real
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from exowavenet_lib.runtime import write_json_atomic

__all__ = [
    "DEFAULT_LINK_TEMPLATE",
    "Alert",
    "AlertRule",
    "EmailNotifier",
    "JSONLNotifier",
    "LogNotifier",
    "NotificationError",
    "Notifier",
    "TransientAlertSystem",
    "WebhookNotifier",
]

#: Link to an object's page in the ALeRCE ZTF explorer (``{object_id}`` is replaced).
DEFAULT_LINK_TEMPLATE = "https://alerce.online/object/{object_id}"
_STATE_VERSION = 1
_LOGGER = logging.getLogger(__name__)


class NotificationError(RuntimeError):
    """A notifier could not deliver an alert (the alert stays pending and is retried)."""


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _json_safe(value: Any) -> Any:
    """Plain JSON types from NumPy scalars, arrays, mappings and sequences."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy scalar or array
        return _json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------------------- alerts
@dataclass(frozen=True)
class AlertRule:
    """Fire for ``class_name`` when its probability is >= ``min_probability`` and uncertainty <= ``max_uncertainty``.

    ``uncertainty`` is the classifier's normalised predictive entropy in [0, 1] (0: certain).
    """

    class_name: str
    min_probability: float
    max_uncertainty: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.class_name, str) or not self.class_name:
            raise TypeError(f"class_name must be a non-empty string, got {self.class_name!r}")
        object.__setattr__(self, "min_probability", _probability("min_probability", self.min_probability))
        object.__setattr__(self, "max_uncertainty", _probability("max_uncertainty", self.max_uncertainty))

    def matches(self, result: Mapping[str, Any]) -> bool:
        """True when a (validated) classification result passes both thresholds."""
        probability = float(result["probabilities"].get(self.class_name, 0.0))
        return probability >= self.min_probability and float(result["uncertainty"]) <= self.max_uncertainty


@dataclass(frozen=True)
class Alert:
    """One alert: an object, the class it was flagged as, and the classifier output behind it.

    ``payload`` holds the rest of the classification result (``probabilities``, ``predicted_class``, ``entropy``,
    ...), the rule's thresholds and a ``link`` to the object's page.
    """

    object_id: str
    class_name: str
    probability: float
    uncertainty: float
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        """Stable identifier ``"<object_id>/<class_name>"``: receivers can drop repeats by it."""
        return f"{self.object_id}/{self.class_name}"

    @property
    def key(self) -> tuple[str, str]:
        """``(object_id, class_name)``, the deduplication key."""
        return (self.object_id, self.class_name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``created_at`` as ISO 8601 UTC) with ``alert_id``."""
        return {"alert_id": self.alert_id, "object_id": self.object_id, "class_name": self.class_name,
                "probability": self.probability, "uncertainty": self.uncertainty,
                "created_at": self.created_at.isoformat(), "payload": _json_safe(self.payload)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Inverse of :meth:`to_dict`."""
        return cls(object_id=str(data["object_id"]), class_name=str(data["class_name"]),
                   probability=float(data["probability"]), uncertainty=float(data["uncertainty"]),
                   created_at=datetime.fromisoformat(data["created_at"]), payload=dict(data.get("payload", {})))

    def subject(self) -> str:
        """One-line summary, e.g. ``"TDE candidate ZTF21abcdefg (p = 0.93, uncertainty 0.21)"``."""
        return (f"{self.class_name} candidate {self.object_id} "
                f"(p = {self.probability:.2f}, uncertainty {self.uncertainty:.2f})")

    def text(self) -> str:
        """Plain-text message: class, probability, uncertainty, all class probabilities and the link."""
        lines = [
            f"Object:       {self.object_id}",
            f"Class:        {self.class_name}",
            f"Probability:  {self.probability:.3f}",
            f"Uncertainty:  {self.uncertainty:.3f} (normalised predictive entropy, 0 = certain, 1 = uniform)",
        ]
        if "predicted_class" in self.payload:
            lines.append(f"Top class:    {self.payload['predicted_class']}")
        probabilities = self.payload.get("probabilities") or {}
        if probabilities:
            ranked = sorted(probabilities.items(), key=lambda kv: -float(kv[1]))
            lines.append("All classes:  " + ", ".join(f"{name} {float(p):.3f}" for name, p in ranked))
        if self.payload.get("link"):
            lines.append(f"Link:         {self.payload['link']}")
        lines.append(f"Created:      {self.created_at.isoformat()}")
        lines.append(f"Alert id:     {self.alert_id}")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------- notifiers
@runtime_checkable
class Notifier(Protocol):
    """Anything with a stable ``name`` and ``send(alert)`` that raises when the alert was not delivered."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver one alert or raise."""


class LogNotifier:
    """Write each alert as one log record (``logging``; default logger ``exowavenet_lib.ztf.alerts``)."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.WARNING) -> None:
        if logger is not None and not isinstance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger or None, got {type(logger).__name__}")
        self.logger = logger if logger is not None else _LOGGER
        self.level = int(level)
        self.name = f"log:{self.logger.name}"

    def __repr__(self) -> str:
        return f"LogNotifier(logger={self.logger.name!r})"

    def send(self, alert: Alert) -> None:
        """Log the alert's one-line summary and link."""
        self.logger.log(self.level, "ALERT %s %s", alert.subject(), alert.payload.get("link", ""))


class JSONLNotifier:
    """Append each alert as one JSON line (:meth:`Alert.to_dict`) to ``path`` (flushed and fsynced)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a file path, got {type(path).__name__}")
        self.path = Path(path)
        self.name = f"jsonl:{self.path.resolve()}"

    def __repr__(self) -> str:
        return f"JSONLNotifier({str(self.path)!r})"

    def send(self, alert: Alert) -> None:
        """Append one line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(alert.to_dict(), sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


class WebhookNotifier:
    """POST each alert as JSON (:meth:`Alert.to_dict`) to ``url``; retries connection errors, 429 and 5xx.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` address.
    timeout : float, default 5
        Seconds per attempt.
    retries : int, default 2
        Further attempts after the first one fails (so ``retries + 1`` in all); other 4xx answers are not retried.
    backoff : float, default 0.5
        Seconds before the first retry, doubling each time.
    headers : mapping, optional
        Extra HTTP headers (e.g. an authorisation token).
    """

    def __init__(self, url: str, timeout: float = 5, retries: int = 2, *, backoff: float = 0.5,
                 headers: Mapping[str, str] | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http:// or https:// address, got {url!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        if isinstance(backoff, bool) or not isinstance(backoff, Real) or not backoff >= 0:
            raise ValueError(f"backoff must be a number of seconds >= 0, got {backoff!r}")
        if headers is not None and not isinstance(headers, Mapping):
            raise TypeError(f"headers must be a dict or None, got {type(headers).__name__}")
        self.url = url
        self.timeout = _positive("timeout", timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.headers = dict(headers or {})
        self.name = f"webhook:{url}"

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.url!r}, timeout={self.timeout}, retries={self.retries})"

    def send(self, alert: Alert) -> None:
        """POST the alert; raise :class:`NotificationError` when no attempt got a 2xx answer."""
        body = json.dumps(alert.to_dict()).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "exowavenet-alerts", **self.headers}
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                    response.read()
                return
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code} {err.reason}"
                if err.code != 429 and err.code < 500:
                    break  # the receiver rejects this request: retrying will not help
            except (urllib.error.URLError, OSError) as err:  # refused, unreachable, timed out
                last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
        raise NotificationError(f"webhook {self.url} did not accept alert {alert.alert_id}: {last}")


class EmailNotifier:
    """Send each alert as a plain-text e-mail over SMTP (``smtplib``).

    Parameters
    ----------
    host, port : str, int
        SMTP server.
    sender : str
        ``From`` address.
    recipients : sequence of str
        ``To`` addresses (at least one).
    use_tls : bool, default False
        Upgrade the connection with STARTTLS before logging in.
    username, password : str, optional
        Log in when ``username`` is given.
    timeout : float, default 10
        Seconds for the connection and each command.
    """

    def __init__(self, host: str, port: int, sender: str, recipients: Sequence[str], use_tls: bool = False,
                 username: str | None = None, password: str | None = None, *, timeout: float = 10) -> None:
        if not isinstance(host, str) or not host:
            raise ValueError(f"host must be a non-empty string, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be an int in 1..65535, got {port!r}")
        if not isinstance(sender, str) or "@" not in sender:
            raise ValueError(f"sender must be an e-mail address, got {sender!r}")
        if isinstance(recipients, str) or not isinstance(recipients, Sequence) or not recipients:
            raise ValueError(f"recipients must be a non-empty list of e-mail addresses, got {recipients!r}")
        if not all(isinstance(r, str) and "@" in r for r in recipients):
            raise ValueError(f"recipients must be e-mail addresses, got {list(recipients)!r}")
        if username is not None and password is None:
            raise ValueError("password is required when username is given")
        self.host, self.port, self.sender = host, port, sender
        self.recipients = list(recipients)
        self.use_tls = bool(use_tls)
        self.username, self._password = username, password
        self.timeout = _positive("timeout", timeout)
        self.name = f"email:{host}:{port}:{','.join(self.recipients)}"

    def __repr__(self) -> str:  # the password stays out of reprs and logs
        return f"EmailNotifier({self.host!r}, {self.port}, {self.sender!r}, {self.recipients!r})"

    def message(self, alert: Alert) -> EmailMessage:
        """The e-mail for an alert: subject line and plain-text body (:meth:`Alert.text`)."""
        message = EmailMessage()
        message["Subject"] = f"[ExoWaveNet] {alert.subject()}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["X-Alert-Id"] = alert.alert_id
        message.set_content(alert.text())
        return message

    def send(self, alert: Alert) -> None:
        """Send the e-mail; raise :class:`NotificationError` when the server does not accept it."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.use_tls:
                    smtp.starttls()
                if self.username is not None:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(self.message(alert), from_addr=self.sender, to_addrs=self.recipients)
        except (smtplib.SMTPException, OSError) as err:
            raise NotificationError(f"SMTP {self.host}:{self.port} did not accept alert {alert.alert_id}: "
                                    f"{type(err).__name__}: {err}") from err
        if refused:
            raise NotificationError(f"SMTP {self.host}:{self.port} refused recipient(s) {sorted(refused)}")


# ---------------------------------------------------------------------------------------------------------- system
def _check_result(i: int, result: Any) -> dict[str, Any]:
    if not isinstance(result, Mapping):
        raise TypeError(f"results[{i}] must be a dict from classify_with_uncertainty, got {type(result).__name__}")
    object_id = result.get("object_id")
    if not isinstance(object_id, str) or not object_id:
        raise ValueError(f"results[{i}] needs a non-empty string object_id to be alerted on, got {object_id!r}")
    probabilities = result.get("probabilities")
    if not isinstance(probabilities, Mapping) or not probabilities:
        raise ValueError(f"results[{i}] needs a 'probabilities' dict of class -> probability")
    for name, p in probabilities.items():
        _probability(f"results[{i}]['probabilities'][{name!r}]", float(p) if hasattr(p, "item") else p)
    if "uncertainty" not in result:
        raise ValueError(f"results[{i}] needs an 'uncertainty' in [0, 1] (normalised entropy)")
    raw = result["uncertainty"]
    _probability(f"results[{i}]['uncertainty']", float(raw) if hasattr(raw, "item") else raw)
    return dict(result)


class TransientAlertSystem:
    """Turn classification results into alerts and deliver each to every notifier exactly once or more.

    Parameters
    ----------
    rules : sequence of AlertRule
        An alert is created for every (result, rule) pair that matches; two rules of one class give one alert.
    notifiers : sequence of Notifier
        :class:`LogNotifier`, :class:`JSONLNotifier`, :class:`WebhookNotifier`, :class:`EmailNotifier` or any
        object with a unique, stable ``name`` and ``send(alert)``. A new alert goes to the notifiers configured when
        it is created.
    state_path : str or Path, optional
        JSON file of the alerts created and their deliveries (created if missing, loaded if present). None: state in
        memory only. See the module docstring for the delivery semantics.
    tracker : exowavenet_lib.tracking.Tracker, optional
        Gets ``alerts/results``, ``alerts/new``, ``alerts/new/<class>``, ``alerts/delivered``, ``alerts/failed``
        and ``alerts/pending`` after each :meth:`process` call (started if it has not been).
    link_template : str
        Object page link put in every alert's payload; ``{object_id}`` is replaced.
    """

    def __init__(
        self,
        rules: Sequence[AlertRule],
        notifiers: Sequence[Notifier],
        state_path: str | os.PathLike[str] | None = None,
        tracker: Any = None,
        *,
        link_template: str = DEFAULT_LINK_TEMPLATE,
    ) -> None:
        if isinstance(rules, AlertRule) or not isinstance(rules, Sequence) or not rules:
            raise TypeError(f"rules must be a non-empty list of AlertRule, got {rules!r}")
        if not all(isinstance(rule, AlertRule) for rule in rules):
            raise TypeError("rules must hold AlertRule objects")
        if not isinstance(notifiers, Sequence) or isinstance(notifiers, str):
            raise TypeError(f"notifiers must be a list of notifiers, got {type(notifiers).__name__}")
        for i, notifier in enumerate(notifiers):
            if not isinstance(notifier, Notifier) or not isinstance(notifier.name, str):
                raise TypeError(f"notifiers[{i}] must have a string `name` and a send(alert) method, "
                                f"got {type(notifier).__name__}")
        names = [n.name for n in notifiers]
        if len(set(names)) != len(names):
            raise ValueError(f"notifiers must have distinct names (they key the delivery state), got {names}")
        if state_path is not None and not isinstance(state_path, (str, os.PathLike)):
            raise TypeError(f"state_path must be a file path or None, got {type(state_path).__name__}")
        if tracker is not None and not callable(getattr(tracker, "log_metrics", None)):
            raise TypeError(f"tracker must be an exowavenet_lib.tracking.Tracker or None, got {type(tracker).__name__}")
        if not isinstance(link_template, str) or "{object_id}" not in link_template:
            raise ValueError(f"link_template must be a string containing '{{object_id}}', got {link_template!r}")
        self.rules = tuple(rules)
        self.notifiers = tuple(notifiers)
        self.state_path = None if state_path is None else Path(state_path)
        self.tracker = tracker
        self.link_template = link_template
        # alert_id -> {"alert": Alert.to_dict(), "targets": [names], "delivered": {name: iso}, "attempts": {...},
        #              "last_error": {name: str}}
        self._records: dict[str, dict[str, Any]] = self._load()

    def __repr__(self) -> str:
        return (f"TransientAlertSystem({len(self.rules)} rule(s), {len(self.notifiers)} notifier(s), "
                f"{len(self._records)} alert(s), {len(self.pending())} pending)")

    # ------------------------------------------------------------------------------------------------ state
    def _load(self) -> dict[str, dict[str, Any]]:
        if self.state_path is None or not self.state_path.exists():
            return {}
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read the alert state {self.state_path}: {err}") from err
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise ValueError(f"{self.state_path} is not an alert state file of version {_STATE_VERSION}")
        return {record["alert"]["alert_id"]: record for record in state["alerts"]}

    def _save(self) -> None:
        """Write the state atomically (temp file in the same folder, fsync, os.replace)."""
        if self.state_path is None:
            return
        write_json_atomic(self.state_path, {"version": _STATE_VERSION, "alerts": list(self._records.values())},
                          indent=1)

    # ------------------------------------------------------------------------------------------------ queries
    def alerts(self) -> list[Alert]:
        """Every alert created so far (also in earlier runs with this state), oldest first."""
        return [Alert.from_dict(record["alert"]) for record in self._records.values()]

    def pending(self) -> list[Alert]:
        """Alerts that some configured notifier has not accepted yet."""
        return [Alert.from_dict(record["alert"]) for record in self._records.values() if self._undelivered(record)]

    def deliveries(self, alert_id: str) -> dict[str, Any]:
        """Delivery record of one alert: ``targets``, ``delivered`` (name → UTC time), ``attempts``, ``last_error``."""
        if alert_id not in self._records:
            raise KeyError(f"no alert {alert_id!r}; alert ids are '<object_id>/<class_name>'")
        record = self._records[alert_id]
        return {k: record[k] for k in ("targets", "delivered", "attempts", "last_error")}

    def _undelivered(self, record: Mapping[str, Any]) -> list[Notifier]:
        return [n for n in self.notifiers if n.name in record["targets"] and n.name not in record["delivered"]]

    # ------------------------------------------------------------------------------------------------ processing
    def _new_alerts(self, results: Sequence[Mapping[str, Any]]) -> list[Alert]:
        now = datetime.now(timezone.utc)
        created: dict[str, Alert] = {}
        for i, raw in enumerate(results):
            result = _check_result(i, raw)
            for rule in self.rules:
                alert_id = f"{result['object_id']}/{rule.class_name}"
                if alert_id in self._records or alert_id in created or not rule.matches(result):
                    continue
                payload = {k: v for k, v in result.items() if k != "object_id"}
                payload["rule"] = {"min_probability": rule.min_probability, "max_uncertainty": rule.max_uncertainty}
                payload["link"] = self.link_template.format(object_id=result["object_id"])
                created[alert_id] = Alert(
                    object_id=result["object_id"], class_name=rule.class_name,
                    probability=float(result["probabilities"].get(rule.class_name, 0.0)),
                    uncertainty=float(result["uncertainty"]), created_at=now, payload=_json_safe(payload),
                )
        return list(created.values())

    def process(self, results: Sequence[Mapping[str, Any]]) -> list[Alert]:
        """Create alerts for matching results, deliver them and retry pending ones; returns the alerts created now.

        An empty ``results`` only retries pending deliveries. A notifier that raises is logged and retried next time.
        """
        if isinstance(results, (str, bytes, Mapping)) or not isinstance(results, Sequence):
            raise TypeError(f"results must be a list of dicts from classify_with_uncertainty, "
                            f"got {type(results).__name__}")
        new = self._new_alerts(results)
        targets = [n.name for n in self.notifiers]
        for alert in new:
            self._records[alert.alert_id] = {"alert": alert.to_dict(), "targets": targets, "delivered": {},
                                             "attempts": {}, "last_error": {}}
        if new:
            self._save()  # pending before sending: a crash from here on loses nothing
        delivered = failed = 0
        for record in self._records.values():
            todo = self._undelivered(record)
            if not todo:
                continue
            alert = Alert.from_dict(record["alert"])
            for notifier in todo:
                record["attempts"][notifier.name] = record["attempts"].get(notifier.name, 0) + 1
                try:
                    notifier.send(alert)
                except Exception as err:  # noqa: BLE001 - any notifier failure leaves the alert pending
                    failed += 1
                    record["last_error"][notifier.name] = f"{type(err).__name__}: {err}"
                    _LOGGER.warning("alert %s not delivered by %s (will retry): %s", alert.alert_id, notifier.name,
                                    err)
                    continue
                delivered += 1
                record["delivered"][notifier.name] = datetime.now(timezone.utc).isoformat()
                record["last_error"].pop(notifier.name, None)
                self._save()  # at once: the window for a duplicate after a crash is one send
        if failed:
            self._save()  # attempts and errors
        self._log(len(results), new, delivered, failed)
        return new

    def _log(self, n_results: int, new: list[Alert], delivered: int, failed: int) -> None:
        if self.tracker is None:
            return
        metrics: dict[str, float] = {"alerts/results": n_results, "alerts/new": len(new),
                                     "alerts/delivered": delivered, "alerts/failed": failed,
                                     "alerts/pending": len(self.pending())}
        for rule in self.rules:
            metrics[f"alerts/new/{rule.class_name}"] = sum(a.class_name == rule.class_name for a in new)
        try:
            if not getattr(self.tracker, "running", True):
                self.tracker.start()
            self.tracker.log_metrics(metrics)
        except Exception as err:  # noqa: BLE001 - tracking is auxiliary; the alerts are already saved
            _LOGGER.warning("could not log alert counts to the tracker: %s", err)
