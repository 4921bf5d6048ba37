"""Notebook execution and anatomy: solutions run and pass every check; exercises fail only with stubs."""

from __future__ import annotations

import importlib
import json
import re

import nbformat
import pytest

from exowavenet_lib.checks import CHECK_LOG_ENV, checks_of
from exowavenet_lib.curriculum.catalog import REPOSITORY_URL, colab_url, info_for_path
from exowavenet_lib.curriculum.execute import cell_errors, execute_allowing_errors, run_notebook
from exowavenet_lib.runtime import SMOKE_ENV
from tests.conftest import EXERCISES, SOLUTIONS

ALL = SOLUTIONS + EXERCISES
_CHECK_CALL = re.compile(r"^ex(\d\d)\.q(\w+)\.check\(", re.MULTILINE)


def _parts(path) -> set[str]:
    number = info_for_path(path).number
    return set(checks_of(importlib.import_module(f"exowavenet_lib.checks.ex{number}")))


def _log(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_solution_has_its_exercise():
    assert [p.name for p in SOLUTIONS] == [p.name for p in EXERCISES]
    assert SOLUTIONS, "no notebooks found"


@pytest.mark.notebook
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_runs_under_papermill_with_smoke_parameters_and_passes_every_check(path, tmp_path):
    log = tmp_path / "checks.jsonl"
    out = run_notebook(path, output_dir=tmp_path, smoke=True, parameters={"SEED": 7}, env={CHECK_LOG_ENV: str(log)})
    executed = nbformat.read(out, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "SEED = 7" in injected[0].source
    results = _log(log)
    assert {r["part"] for r in results} == _parts(path), "every check must be called by the solution"
    failures = [f"{r['part']}: {r['message']}" for r in results if r["status"] != "pass"]
    assert not failures


@pytest.mark.notebook
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_exercise_run_unmodified_raises_only_not_implemented_and_reports_not_attempted(path, tmp_path):
    log = tmp_path / "checks.jsonl"
    nb = execute_allowing_errors(path, env={CHECK_LOG_ENV: str(log), SMOKE_ENV: "1"}, timeout=300)
    errors = cell_errors(nb)
    assert errors, "an exercise with nothing to do"
    others = [(i, name, msg) for i, name, msg in errors if name != "NotImplementedError"]
    assert not others, f"cells failing with something other than a stub: {others}"
    results = _log(log)
    assert {r["part"] for r in results} == _parts(path)
    assert {r["status"] for r in results} == {"not_attempted"}


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_anatomy(path):
    nb = nbformat.read(path, as_version=4)
    info = info_for_path(path)
    kind = path.parent.name
    title = nb.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith(f"# {info.number} · ")
    for needle in ("**Learning objectives**", "**Estimated time:**", "**Prerequisites:**", "**Hardware:**"):
        assert needle in title.source, f"title cell lacks {needle}"
    assert colab_url(f"{kind}/{path.name}") in title.source, "Colab badge must point at this notebook"

    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = {tag: [c for c in code if tag in c.metadata.get("tags", [])] for tag in ("setup", "parameters")}
    assert len(tagged["setup"]) == 1 and code[0] is tagged["setup"][0], "first code cell is the one set-up cell"
    setup = tagged["setup"][0].source
    assert f'REPO_URL = "{REPOSITORY_URL}"' in setup and '"google.colab" in sys.modules' in setup
    assert "from exowavenet_lib" in setup and "get_device()" in setup
    assert len(tagged["parameters"]) == 1 and code[1] is tagged["parameters"][0], "parameters cell follows set-up"
    assert "SMOKE = smoke_mode()" in tagged["parameters"][0].source and "SEED = " in tagged["parameters"][0].source
    assert any("seed_everything(SEED)" in c.source for c in code), "seed from the parameters"

    headings = re.findall(r"^### (\d+[a-z]) · ", "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"),
                          re.MULTILINE)
    calls = [(n, p) for c in code for n, p in _CHECK_CALL.findall(c.source)]
    assert {p for _, p in calls} == _parts(path) and len(calls) == len(_parts(path)), "each part checked once"
    assert all(n == info.number for n, _ in calls)
    assert set(headings) == _parts(path), "every checked part has a numbered '### 1a · ' heading"
    assert nb.cells[-1].cell_type == "markdown" and nb.cells[-1].source.startswith("## Summary")
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["exowavenet"] == {"notebook": info.number, "kind": kind[:-1]}
    for cell in code:
        assert not re.search(r"^\s*[%!]", cell.source, re.MULTILINE), "plain Python only (no magics)"
