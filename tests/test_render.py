"""`exowavenet run --all` renders executed solutions as HTML with an index, checked in headless Chromium.

Kept cheap: the "repository" here is a temporary folder whose solutions/ holds notebook 01 only (smoke run).
Without Chromium the browser test is skipped, unless ``CI`` is set: CI installs it (.ci/run), so there it fails.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess

import matplotlib.image
import nbformat
import pytest

from exowavenet_lib.cli import main
from tests.conftest import ROOT

NAME = "01_functions_decorators"
TITLE = "01 · Functions and decorators for light-curve processing"
_IMG = re.compile(r'<img\b[^>]*\bsrc="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')


def _chromium() -> str | None:
    return next((found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))),
                None)


@pytest.fixture(scope="module")
def browser() -> str:
    found = _chromium()
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("CI is set but Chromium is missing: .ci/run installs it (apt-get install -y chromium)")
    pytest.skip("Chromium is not installed (Debian: apt-get install -y --no-install-recommends chromium); "
                "CI installs it and runs this test")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    (root / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / f"{NAME}.ipynb", root / "solutions")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        code = main(["run", "--all", "--smoke", "--output-dir", "build"])
    return root / "build", code


def dump_dom(browser: str, page, profile) -> str:
    """The DOM of a local page after Chromium loaded it (no network needed: figures are inlined)."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.notebook
@pytest.mark.xdist_group(name="render")
def test_run_all_executes_every_solution_and_writes_html_and_an_index(rendered):
    out, code = rendered
    assert code == 0
    executed = nbformat.read(out / "solutions" / f"{NAME}.ipynb", as_version=4)
    page = (out / "solutions" / f"{NAME}.html").read_text(encoding="utf-8")
    figures = sum("image/png" in o.get("data", {}) for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert figures >= 1 and len(_IMG.findall(page)) == figures, "every figure is inlined in the page"
    assert f"<title>{TITLE}</title>" in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="solutions/{NAME}.html"' in index and TITLE in index and ">ok<" in index


@pytest.mark.notebook
@pytest.mark.xdist_group(name="render")
def test_pages_load_in_headless_chromium_with_title_and_figures(browser, rendered, tmp_path):
    out, _ = rendered
    dom = dump_dom(browser, out / "solutions" / f"{NAME}.html", tmp_path / "profile")
    assert f"<title>{TITLE}</title>" in dom and "Learning objectives" in dom
    assert "</html>" in dom, "the whole page loaded"
    images = _IMG.findall(dom)
    assert images, "figures are <img> elements with base64 PNG data"
    for data in images:
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and pixels.std() > 0.01, "a real, non-blank figure"
    index = dump_dom(browser, out / "index.html", tmp_path / "profile")
    assert f'href="solutions/{NAME}.html"' in index and TITLE in index


def test_run_needs_notebooks_or_all_but_not_both(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 2
    assert main(["run", "--all"]) == 2, "no solutions/ here"
    assert main(["run", "--all", "x.ipynb"]) == 2
    assert "--all" in capsys.readouterr().err
