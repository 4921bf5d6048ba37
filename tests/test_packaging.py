"""Packaging: pyproject and environment.yml agree; the README's commands are the ones CI and make run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pip_specs() -> dict[str, SpecifierSet]:
    project = _pyproject()["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    return {_norm(r.name): r.specifier for r in reqs}


def _conda_specs() -> tuple[dict[str, SpecifierSet], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip = dep["pip"]
            continue
        name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", dep).groups()
        conda[_norm(CONDA_NAMES.get(name, name))] = SpecifierSet(spec.replace(" ", ""))
    return conda, pip


def test_environment_yml_has_the_same_packages_and_bounds_as_pyproject():
    conda, pip = _conda_specs()
    python = conda.pop("python")
    conda.pop("pip")
    assert conda == _pip_specs()
    assert pip == ["-e ."], "conda installs the project itself (and nothing else) with pip"
    assert python == SpecifierSet(_pyproject()["project"]["requires-python"])


def test_torch_is_a_range_not_a_pin():
    (spec,) = _pip_specs()["torch"]
    assert spec.operator == ">="


def test_console_script_and_package():
    project = _pyproject()["project"]
    assert project["scripts"] == {"exowavenet": "exowavenet_lib.cli:main"}
    assert project["requires-python"] == ">=3.10"
    exe = shutil.which("exowavenet", path=str(ROOT / ".venv" / "bin")) or shutil.which("exowavenet")
    assert exe, "the exowavenet console script is installed"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    for command in ("build-exercises", "run"):
        assert command in result.stdout


def test_readme_two_commands_are_make_targets_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make lab" in readme and "make test" in readme
    assert re.search(r"^lab: \$\(STAMP\)$", makefile, re.MULTILINE)
    assert re.search(r"^test: \$\(STAMP\)$", makefile, re.MULTILINE)
    assert 'pip install -e ".[dev]"' in makefile
    ci_commands = [line for line in ci.splitlines() if line.strip() and not line.lstrip().startswith(("#", "echo"))]
    assert ci_commands[-1] == "make test", "CI ends with the README's test command"
    assert "pip install torch==2.13.0" in ci and "pip install torch==2.13.0" in readme
