"""Which W&B mode a run gets: :func:`resolve_mode`, and the two facts it needs (an API key, a server that answers).

The rule, first match wins:

1. an explicit ``mode=`` argument;
2. the ``WANDB_MODE`` environment variable (``WANDB_DISABLED=true`` also means ``"disabled"``);
3. nothing asked for: ``"online"`` if it can work, else ``"offline"``.

"online" -- whether asked for or not -- is only granted when an API key exists (``WANDB_API_KEY``, or a netrc entry
for the W&B host written by ``wandb login``) **and** the W&B host answers a plain HTTPS request within ``timeout``
seconds (2 s). Otherwise the run is ``"offline"`` and the returned reason says why, so the learner can fix it and
upload later with ``wandb sync``. Without a key the network is never touched. ``wandb.init`` itself is never used to
find out: with a key and no network it waits ~100 s before giving up.
"""

from __future__ import annotations

import netrc
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["MODES", "PROBE_TIMEOUT", "default_base_url", "find_api_key", "probe_wandb_server", "resolve_mode"]

#: The modes a :class:`~exowavenet_lib.tracking.Tracker` can run in.
MODES = ("online", "offline", "disabled")
#: Seconds the default probe waits for the W&B server.
PROBE_TIMEOUT = 2.0
_ALIASES = {"dryrun": "offline", "run": "online"}  # wandb's legacy spellings
_TRUE = {"1", "true", "yes", "on"}
_PUBLIC_HOSTS = {"api.wandb.ai", "api.forge.coreweave.com"}

Probe = Callable[[str, float], bool]


def default_base_url(env: Mapping[str, str] | None = None) -> str:
    """The W&B server URL wandb would contact: ``WANDB_BASE_URL`` or the installed wandb's default."""
    env = os.environ if env is None else env
    if env.get("WANDB_BASE_URL"):
        return env["WANDB_BASE_URL"].rstrip("/")
    try:  # the default moved between wandb releases (api.wandb.ai -> api.forge.coreweave.com)
        from wandb.sdk.lib.urls import DEFAULT_BASE_URL

        return str(DEFAULT_BASE_URL).rstrip("/")
    except Exception:  # noqa: BLE001 - any import problem: fall back to the classic host
        return "https://api.wandb.ai"


def _netrc_paths(env: Mapping[str, str]) -> list[Path]:
    if env.get("NETRC"):
        return [Path(env["NETRC"]).expanduser()]
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return [home / ".netrc", home / "_netrc"]


def find_api_key(env: Mapping[str, str] | None = None, base_url: str | None = None) -> str | None:
    """Where a W&B credential was found (``"WANDB_API_KEY"`` or the netrc path), or None. The key is never returned.

    Looks at ``WANDB_API_KEY``, ``WANDB_IDENTITY_TOKEN_FILE``, then the netrc file (``NETRC``, else ``~/.netrc`` or
    ``~/_netrc``, with ``HOME`` taken from ``env``) for an entry for the server's host -- ``api.wandb.ai`` for the
    public cloud, which is what ``wandb login`` writes. Reading files only: no network, no wandb import.
    """
    env = os.environ if env is None else env
    if env.get("WANDB_API_KEY", "").strip():
        return "WANDB_API_KEY"
    if env.get("WANDB_IDENTITY_TOKEN_FILE", "").strip():
        return "WANDB_IDENTITY_TOKEN_FILE"
    host = urlsplit(base_url or env.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or ""
    hosts = {host} | (_PUBLIC_HOSTS if host in _PUBLIC_HOSTS or not env.get("WANDB_BASE_URL") else set())
    for path in _netrc_paths(env):
        try:
            entries = netrc.netrc(str(path))
        except (OSError, netrc.NetrcParseError):
            continue
        for h in sorted(hosts):
            auth = entries.authenticators(h)
            if auth and auth[2]:
                return str(path)
    return None


def probe_wandb_server(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True if ``url`` answers an HTTP(S) request within ``timeout`` seconds (any HTTP status counts).

    The request runs in a daemon thread that is abandoned after ``timeout`` (+0.5 s), so a DNS lookup or a TLS
    handshake that hangs cannot hold the caller longer than that. Proxies from the environment are honoured.
    """
    result: list[bool] = []

    def attempt() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                result.append(True)
        except urllib.error.HTTPError:  # the server answered, just not with 2xx
            result.append(True)
        except Exception:  # noqa: BLE001 - DNS failure, refused, timeout, TLS error: not reachable
            result.append(False)

    thread = threading.Thread(target=attempt, name="wandb-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def _normalise(value: str, source: str) -> str:
    mode = _ALIASES.get(value.strip().lower(), value.strip().lower())
    if mode not in MODES:
        raise ValueError(f"{source} must be one of {list(MODES)}, got {value!r}")
    return mode


def resolve_mode(
    explicit: str | None = None,
    env: Mapping[str, str] = os.environ,
    probe: Probe = probe_wandb_server,
    *,
    timeout: float = PROBE_TIMEOUT,
) -> tuple[str, str]:
    """Decide the W&B mode without blocking: returns ``(mode, reason)``, ``mode`` one of :data:`MODES`.

    Parameters
    ----------
    explicit : {"online", "offline", "disabled"}, optional
        The ``mode=`` a caller passed; wins over everything. ``"online"`` is still only granted with a key and a
        server that answers (otherwise ``"offline"``, with the reason).
    env : mapping, default ``os.environ``
        Where ``WANDB_MODE``, ``WANDB_DISABLED``, ``WANDB_API_KEY``, ``WANDB_BASE_URL``, ``NETRC`` and ``HOME``
        are read.
    probe : callable ``(url, timeout) -> bool``
        Asks whether the W&B server answers; called at most once, and only when a key exists and online is
        possible. Exceptions count as "no answer".
    timeout : float
        Seconds passed to ``probe``.

    Raises
    ------
    ValueError
        ``explicit`` or ``WANDB_MODE`` is not a known mode.
    """
    if explicit is not None:
        if not isinstance(explicit, str):
            raise TypeError(f"mode must be a string or None, got {type(explicit).__name__}")
        requested, source = _normalise(explicit, "mode"), f"mode={explicit!r} was passed"
    elif env.get("WANDB_MODE", "").strip():
        requested, source = _normalise(env["WANDB_MODE"], "WANDB_MODE"), f"WANDB_MODE={env['WANDB_MODE']}"
    elif env.get("WANDB_DISABLED", "").strip().lower() in _TRUE:
        return "disabled", f"WANDB_DISABLED={env['WANDB_DISABLED']}"
    else:
        requested, source = None, None
    if requested in ("offline", "disabled"):
        return requested, source  # type: ignore[return-value]
    prefix = f"{source}, but " if source else ""
    if find_api_key(env) is None:
        return "offline", f"{prefix}no W&B API key was found (set WANDB_API_KEY or run `wandb login`)"
    base_url = default_base_url(env)
    host = urlsplit(base_url).hostname or base_url
    try:
        answered = bool(probe(base_url, timeout))
    except Exception:  # noqa: BLE001 - a broken probe must not break a learner's run
        answered = False
    if not answered:
        return "offline", f"{prefix}an API key is set and {host} did not answer within {timeout:g} s (no network?)"
    return "online", (source or "no mode was set") + f"; an API key is set and {host} answered"
