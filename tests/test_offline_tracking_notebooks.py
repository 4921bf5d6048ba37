"""The tracking notebooks (09, 10) run to the end without a network and never wait on one.

Each solution runs in smoke mode under papermill in two environments a learner or CI really has:

* ``no-key``: ``WANDB_MODE`` unset, no ``WANDB_API_KEY``, ``HOME`` an empty folder (so no ``~/.netrc`` either);
* ``fake-key-no-network``: a 40-hex-character ``WANDB_API_KEY`` and ``WANDB_BASE_URL`` pointing at a "black hole" on
  127.0.0.1 that accepts TCP connections and never answers. This is the case where plain ``wandb.init()`` sits for
  about 100 s before giving up (checked by hand: ``wandb.init(mode="online")`` against this server returned only
  after 102 s, with ``CommError: Timed out while retrying``).

Every cell must finish within :data:`CELL_TIMEOUT` seconds, which one such hang would exceed; the executed notebook
must show that the runs were offline (the Tracker's "W&B offline" line or offline run folders) and never online.
Both must keep wandb out of ``HOME`` (runs, caches and staging areas go under the notebook's own folder, through
:func:`exowavenet_lib.tracking.keep_wandb_files_in`); notebook 09 must also print why its runs are offline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import nbformat
import pytest

from exowavenet_lib.curriculum.execute import run_notebook
from tests.conftest import SOLUTIONS

NUMBERS = ("09", "10")
PATHS = [p for p in SOLUTIONS if p.name[:2] in NUMBERS]
#: Seconds any one cell may take: the smoke cells need a few, a network hang ~100.
CELL_TIMEOUT = 60
#: Seconds the whole notebook may take, kernel start included, on a loaded 2-core CI machine.
TOTAL_TIMEOUT = 240
FAKE_KEY = "0123456789abcdef" * 2 + "01234567"  # 40 hex characters: the shape of a real key
ENVIRONMENTS = ("no-key", "fake-key-no-network")
_CLEARED = ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DISABLED", "WANDB_BASE_URL", "WANDB_DIR", "NETRC",
            "WANDB_IDENTITY_TOKEN_FILE", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR",
            "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_SILENT")


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """``http://127.0.0.1:<port>``: a server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)  # so that the accepting thread notices the end
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # keep it open: the client waits for an answer that never comes

    thread = threading.Thread(target=accept, name="black-hole", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        done.set()
        thread.join(timeout=5)
        server.close()
        for conn in held:
            conn.close()


def _outputs(nb: nbformat.NotebookNode) -> str:
    """All text the executed notebook printed (streams and text results)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_the_tracking_solutions_exist():
    """Both tracking notebooks are there, so the parametrisation below cannot silently shrink."""
    assert sorted(p.name[:2] for p in PATHS) == list(NUMBERS), f"expected solutions {NUMBERS}, found {PATHS}"


def test_black_hole_accepts_and_never_answers():
    """The fake server is what the tests need: connections succeed, reads time out."""
    with black_hole() as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"HEAD / HTTP/1.1\r\nHost: api.wandb.ai\r\n\r\n")
            conn.settimeout(0.5)
            with pytest.raises(TimeoutError):
                conn.recv(1)


@pytest.mark.notebook
@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("path", [  # one xdist worker per notebook: its two environments run one after the other
    pytest.param(p, id=p.stem, marks=pytest.mark.xdist_group(name=f"offline-tracking-{p.stem}")) for p in PATHS
])
def test_tracking_notebook_runs_offline_without_waiting(path: Path, environment: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _CLEARED:
        monkeypatch.delenv(var, raising=False)
    # keep matplotlib's font cache (found through HOME otherwise), then give the kernel an empty HOME
    monkeypatch.setenv("MPLCONFIGDIR", matplotlib.get_configdir())
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))  # runs that name no folder of their own
    (tmp_path / "wandb-dir").mkdir()
    run_dir = tmp_path / "runs"
    with contextlib.ExitStack() as stack:
        if environment == "fake-key-no-network":
            monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
            monkeypatch.setenv("WANDB_BASE_URL", stack.enter_context(black_hole()))
        start = time.monotonic()
        out = run_notebook(path, output_dir=tmp_path / "out", smoke=True, parameters={"RUN_DIR": str(run_dir)},
                           timeout=CELL_TIMEOUT)
        elapsed = time.monotonic() - start
    assert elapsed < TOTAL_TIMEOUT, f"{path.name} took {elapsed:.0f} s without a network"

    text = _outputs(nbformat.read(out, as_version=4))
    assert "W&B online" not in text, "a run went online although there is no network"
    wandb_folders = [p for p in tmp_path.rglob("*") if p.is_dir() and p.parent.name == "wandb"
                     and p.name.startswith(("run-", "offline-run-"))]
    online_folders = [p for p in wandb_folders if p.name.startswith("run-")]
    assert not online_folders, f"online run folders were written: {online_folders}"
    offline_folders = [p for p in wandb_folders if p.name.startswith("offline-run-")]
    assert "W&B offline" in text or offline_folders, "no sign of an offline run in the outputs or on disk"
    assert not [p for p in home.rglob("*") if "wandb" in p.name], "wandb wrote into HOME"
    if path.name.startswith("09_"):
        reason = ("no W&B API key was found" if environment == "no-key"
                  else "an API key is set and 127.0.0.1 did not answer within 2 s")
        assert f"W&B mode 'offline' because {reason}" in text
        assert len(list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))) == 4  # baseline, 2 trials, summary
