"""The exowavenet command line: help, parameter parsing, and `run` on real and broken notebooks."""

from __future__ import annotations

import argparse
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from exowavenet_lib.cli import _parameter, main
from exowavenet_lib.curriculum.execute import cell_errors, execute_allowing_errors


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


@pytest.mark.notebook
def test_bench_notebooks_writes_json_and_plot(tmp_path, capsys):
    nb = _notebook(tmp_path / "tiny.ipynb", "X = 1", "Y = X + 1")
    out = tmp_path / "results"
    assert main(["bench", "notebooks", str(nb), "--repeats", "1", "--smoke", "--output-dir", str(out)]) == 0
    report = json.loads((out / "notebooks.json").read_text())
    assert report["smoke"] is True and report["repeats"] == 1
    assert report["notebooks"]["tiny"]["median_s"] > 0 and report["empty_notebook_median_s"] > 0
    assert (out / "notebooks.png").stat().st_size > 1000
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "notebooks", str(nb), "--repeats", "0"])
    assert exit_info.value.code == 2 and "positive integer" in capsys.readouterr().err


@pytest.mark.notebook
def test_cell_errors_tells_a_stub_from_a_real_error(tmp_path):
    nb = _notebook(tmp_path / "ex.ipynb", 'raise NotImplementedError("1a")', "undefined_name", "print('fine')")
    executed = execute_allowing_errors(nb, timeout=60)
    assert cell_errors(executed) == [
        (0, "NotImplementedError", "1a"),
        (1, "NameError", "name 'undefined_name' is not defined"),
    ]
