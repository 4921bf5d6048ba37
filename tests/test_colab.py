"""Colab: every notebook's real set-up cell, executed in a simulated Colab; the Colab links and runtime notes.

The simulation: a fake ``google.colab`` module in ``sys.modules`` (how the cell recognises Colab),
``importlib.util.find_spec("exowavenet_lib")`` answering None (the library is not installed yet), and
``subprocess.run`` replaced by a recorder, so the pip command is inspected instead of run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types

import matplotlib
import nbformat
import pytest

from exowavenet_lib.curriculum.catalog import BRANCH, NOTEBOOKS, REPOSITORY_URL, colab_url
from exowavenet_lib.curriculum.exercises import render_colab_readme
from tests.conftest import EXERCISES, ROOT, SOLUTIONS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ALL = SOLUTIONS + EXERCISES
REQUIREMENT = f"exowavenet @ git+{REPOSITORY_URL}"
REAL_FIND_SPEC = importlib.util.find_spec


def _setup_source(path) -> str:
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "setup" in c.metadata.get("tags", [])]
    return cell.source


def _run_setup(path, monkeypatch, *, on_colab: bool, installed: bool) -> list[tuple[list[str], dict]]:
    """Execute the notebook's set-up cell in this process; return the subprocess.run calls it made."""
    calls: list[tuple[list[str], dict]] = []

    def record(cmd, *args, **kwargs):
        calls.append((list(cmd), kwargs))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    def forbidden(*args, **kwargs):
        raise AssertionError(f"the set-up cell must install with subprocess.run only, got {args}")

    monkeypatch.setattr(subprocess, "run", record)
    for name in ("call", "check_call", "check_output", "Popen"):
        monkeypatch.setattr(subprocess, name, forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)

    def find_spec(name, *args, **kwargs):
        if name == "exowavenet_lib" and not installed:
            return None
        return REAL_FIND_SPEC(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    matplotlib.use("Agg")  # the cell imports pyplot; no window in tests
    namespace = {"__name__": "__main__"}
    exec(compile(_setup_source(path), f"{path.name}[setup]", "exec", dont_inherit=True), namespace)  # noqa: S102
    assert "get_device" in namespace, "the set-up cell goes on to import the library"
    return calls


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_on_colab_the_setup_cell_installs_the_library_quietly_without_pins_or_torch(path, monkeypatch):
    calls = _run_setup(path, monkeypatch, on_colab=True, installed=False)
    assert len(calls) == 1, f"exactly one install command, got {calls}"
    cmd, kwargs = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"], "pip of the running interpreter (the kernel's)"
    assert "-q" in cmd or "--quiet" in cmd, "installs quietly"
    assert [arg for arg in cmd[4:] if not arg.startswith("-")] == [REQUIREMENT], "the library from the repository"
    assert not any("torch" in arg.lower() for arg in cmd), "never names torch: Colab's own build is kept"
    assert not re.search(r"[<>=!~]=|[<>]", REQUIREMENT.split(" @ ")[0]), "no version pin"
    fights = {"-U", "--upgrade", "--force-reinstall", "--ignore-installed", "-I", "--upgrade-strategy"}
    assert not fights & set(cmd), "nothing that would upgrade or reinstall Colab's packages"
    assert kwargs.get("check") is True, "a failed install stops the cell instead of failing later on import"


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_outside_colab_or_once_installed_nothing_is_installed(path, monkeypatch):
    assert _run_setup(path, monkeypatch, on_colab=False, installed=False) == []
    assert _run_setup(path, monkeypatch, on_colab=True, installed=True) == [], "re-running the cell reinstalls nothing"


def test_the_package_colab_installs_has_no_hard_pins():
    """What pip resolves on Colab: a lower bound for torch (Colab's 2.x satisfies it), no == pins anywhere."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "exowavenet", "the name in the Colab requirement"
    deps = project["dependencies"]
    assert not [d for d in deps if "==" in d or "===" in d], "no exact pins"
    (torch,) = [d for d in deps if re.match(r"torch\b", d)]
    assert re.fullmatch(r"torch>=[\d.]+", torch.replace(" ", "")), f"torch needs a lower bound only, got {torch!r}"


def test_colab_readme_links_every_notebook_from_the_one_repository_url_with_a_runtime_note():
    """What `build-exercises` writes to colab/README.md (`build-exercises --check` says if the file is current)."""
    text = render_colab_readme(ROOT)
    owner_repo = REPOSITORY_URL.removeprefix("https://github.com/")
    links = re.findall(r"https://colab\.research\.google\.com/github/[^\s)]+", text)
    assert links and all(link.startswith(f"https://colab.research.google.com/github/{owner_repo}/blob/{BRANCH}/")
                         for link in links)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if re.match(r"\| \d\d \|", line)}
    assert set(rows) == {info.number for info in NOTEBOOKS}
    for info in NOTEBOOKS:
        row = rows[info.number]
        assert row.rstrip(" |").endswith(info.gpu), f"notebook {info.number}: runtime note from the catalogue"
        if (ROOT / "solutions" / info.filename).exists():
            for kind in ("exercises", "solutions"):
                assert colab_url(f"{kind}/{info.filename}") in row
        else:
            assert "planned" in row
