"""The exowavenet command line: help, parameter parsing, and `run` on real and broken notebooks."""

from __future__ import annotations

import argparse

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from exowavenet_lib.cli import _parameter, main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "build-exercises" in out and "run" in out


@pytest.mark.parametrize(("text", "expected"), [
    ("SEED=7", ("SEED", 7)), ("LR=1e-3", ("LR", 0.001)), ("NAME=ztf", ("NAME", "ztf")),
    ("SIZES=[1, 2]", ("SIZES", [1, 2])), ("FLAG=True", ("FLAG", True)), ("EMPTY=", ("EMPTY", "")),
])
def test_parameters_are_python_literals_or_strings(text, expected):
    assert _parameter(text) == expected


@pytest.mark.parametrize("text", ["SEED", "1X=3", "=3"])
def test_bad_parameters_are_rejected(text):
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=VALUE"):
        _parameter(text)


def _notebook(path, *sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.notebook
def test_run_executes_with_parameters_and_smoke_and_reports_failures(tmp_path, capsys):
    (tmp_path / "nbs").mkdir()
    good = _notebook(tmp_path / "nbs" / "good.ipynb", "X = 1",
                     "import os\nassert X == 5 and os.environ['EXOWAVENET_SMOKE'] == '1'")
    bad = _notebook(tmp_path / "nbs" / "bad.ipynb", "X = 1", "1 / 0")
    code = main(["run", str(bad), str(good), "--smoke", "-p", "X=5", "--output-dir", str(tmp_path / "out")])
    assert code == 1, "one failing notebook fails the command, after the others ran"
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "bad.ipynb" in captured.err
    assert "ok     " in captured.out and (tmp_path / "out" / "nbs" / "good.ipynb").exists()
    assert main(["run", str(tmp_path / "missing.ipynb")]) == 1
