"""`exowavenet grade` on submissions built from the real notebooks: full marks, zero, and every hostile case.

All the hostile submissions of exercise 01 are graded in ONE batch (kernel starts are the cost), then several tests
read its score table and report. Nothing here trusts a notebook's own check calls: the tampered submission edits
its check cells, writes a results file and forges grading output, and still scores what its code deserves.
"""

from __future__ import annotations

import csv
import importlib.util
import inspect
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from exowavenet_lib.checks import CHECK_LOG_ENV, checks_of
from exowavenet_lib.checks import ex01 as checks_ex01
from exowavenet_lib.cli import main
from exowavenet_lib.curriculum import grade
from exowavenet_lib.curriculum.catalog import NOTEBOOKS
from exowavenet_lib.curriculum.grade import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    GradeBatch,
    PartGrade,
    Submission,
    grading_cell_source,
    render_csv,
    render_html,
    render_markdown,
)
from tests.conftest import ROOT
from tests.mutants import ex01 as mutants01

PARTS_01 = list(checks_of(checks_ex01))  # 1a 1b 1c 2a 3a 3b 3c
ALL_01 = str(len(PARTS_01))
TIMEOUT, CHECK_TIMEOUT = 40, 5  # seconds per notebook (all cells) and per check; the loop submission hits both


# ------------------------------------------------------------------------------------------- building submissions


def _notebook(kind: str, number: str) -> nbformat.NotebookNode:
    (path,) = (ROOT / kind).glob(f"{number}_*.ipynb")
    return nbformat.read(path, as_version=4)


def _index(nb, needle: str) -> int:
    hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and needle in c.source]
    assert len(hits) == 1, f"{needle!r} found in cells {hits}"
    return hits[0]


def _set(nb, needle: str, source: str) -> None:
    nb.cells[_index(nb, needle)].source = source


def _drop(nb, *needles: str) -> None:
    for needle in needles:
        del nb.cells[_index(nb, needle)]


def _insert_after(nb, needle: str, source: str) -> None:
    nb.cells.insert(_index(nb, needle) + 1, new_code_cell(source))


def _mutant(func, name: str) -> str:
    return inspect.getsource(func).replace(f"def {func.__name__}(", f"def {name}(", 1)


def _check_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith("ex01.q")]


TAMPERED_CHECK_CELL = '''\
# A learner's "improved" check cell: fake feedback, a fake results file, forged grading output, patched checks.
import json, os
from IPython.display import display
import exowavenet_lib.checks._core as _core
_core.Check.evaluate = lambda self, *a: _core.CheckResult(self.notebook, self.part, _core.Status.PASS, "well done")
print("✅ Part {part} passed: well done")
for _path in filter(None, [os.environ.get("EXOWAVENET_CHECK_LOG"), "results.jsonl", "{log}"]):
    with open(_path, "a") as _fh:
        for _part in {parts!r}:
            _fh.write(json.dumps({{"notebook": "01", "part": _part, "status": "pass", "message": ""}}) + "\\n")
for _part in {parts!r}:
    _payload = {{"nonce": "0" * 32, "part": _part, "status": "pass", "message": "forged"}}
    display({{"application/vnd.exowavenet.grade+json": _payload}}, raw=True)
{call}
'''


def build_batch_01(folder: Path, tamper_log: Path) -> None:
    """Every submission of the exercise-01 batch. Names sort slowest first, so the grader starts those first."""
    folder.mkdir()

    def write(nb, name: str) -> None:
        nbformat.write(nb, folder / f"{name}.ipynb")

    # Infinite loops: 1a's function never returns (its check cell and demo removed, so only the grader calls it),
    # and a top-level loop after part 1b uses up the notebook's time.
    loops = _notebook("solutions", "01")
    _set(loops, "def filter_lightcurve(", 'def filter_lightcurve(data, **filters):\n    """Busy forever."""\n'
                                          "    while True:\n        pass\n")
    _drop(loops, "ex01.q1a.check(", "bright_g = filter_lightcurve(")
    _insert_after(loops, "ex01.q1b.check(", "import time\nwhile True:  # never ends\n    time.sleep(0.2)")
    write(loops, "alice_infinite_loops")

    # A kernel crash: SIGKILL from a cell. The grader reruns the notebook without that cell: nothing else is lost.
    crash = _notebook("solutions", "01")
    _insert_after(crash, "ex01.q1a.check(", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    write(crash, "bob_kernel_crash")

    # Learner errors that must not stop grading: a syntax error in 1b, sys.exit(), a 30 MB print, a huge error
    # message, and every check cell deleted (the grader never needs them).
    errors = _notebook("solutions", "01")
    _set(errors, "def flux_to_magnitude(", errors.cells[_index(errors, "def flux_to_magnitude(")].source.replace(
        "def flux_to_magnitude(flux, zeropoint=27.5):", "def flux_to_magnitude(flux, zeropoint=27.5)"))
    _insert_after(errors, "def filter_lightcurve(", "import sys\nsys.exit()")
    _insert_after(errors, "def apply_magnitude_conversion(",
                  'print("x" * 30_000_000)\nfor i in range(20_000):\n    print(i)\nraise ValueError("y" * 1_000_000)')
    for i in reversed(_check_cells(errors)):
        del errors.cells[i]
    write(errors, "carol_errors_no_checks")

    # Partial and wrong: 1a solved (the solution's cell pasted), 1b and 2a are catalogued mutants, the rest stubs.
    # Every check cell is tampered with: the learner's kernel shows all parts passing and a results file says so.
    partial = _notebook("exercises", "01")
    solution = _notebook("solutions", "01")
    _set(partial, "def filter_lightcurve(", solution.cells[_index(solution, "def filter_lightcurve(")].source)
    _set(partial, "def flux_to_magnitude(", _mutant(mutants01.mag_natural_log, "flux_to_magnitude"))
    _set(partial, "def timing_decorator(", _mutant(mutants01.timing_without_wraps, "timing_decorator"))
    for i in _check_cells(partial):
        call = partial.cells[i].source
        partial.cells[i].source = TAMPERED_CHECK_CELL.format(part=call[6:8], parts=PARTS_01, call=call,
                                                             log=tamper_log)
    write(partial, "dave_partial_wrong_tampered")

    write(_notebook("solutions", "01"), "erin_solution")
    write(_notebook("exercises", "01"), "frank_unmodified")
    write(_notebook("solutions", "02"), "mia_wrong_exercise")
    (folder / "ned_corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "sour', encoding="utf-8")
    (folder / "olga_not_a_notebook.ipynb").write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    (folder / "notes.txt").write_text("not a notebook at all\n", encoding="utf-8")


def _table(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return {row["learner"]: row for row in csv.DictReader(fh)}


def _section(report: str, learner: str) -> str:
    """One learner's part of the Markdown report, as the reader sees it (backslash escapes removed)."""
    report = re.sub(r"\\(.)", r"\1", report)
    start = report.index(f"## {learner} ·")
    end = report.find("\n## ", start + 1)
    return report[start:] if end < 0 else report[start:end]


# ------------------------------------------------------------------------------------------- the exercise-01 batch


@pytest.fixture(scope="module")
def batch01(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grade01")
    instructor_log = tmp / "instructor-checks.jsonl"
    tamper_log = tmp / "tampered.jsonl"
    build_batch_01(tmp / "submissions", tamper_log)
    report = tmp / "out" / "grades.md"
    start = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CHECK_LOG_ENV, str(instructor_log))  # an instructor's shell that happens to set it
        code = main(["grade", str(tmp / "submissions"), "--exercise", "01", "--timeout", str(TIMEOUT),
                     "--check-timeout", str(CHECK_TIMEOUT), "--jobs", "3", "--smoke", "--report", str(report)])
    seconds = time.monotonic() - start
    print(f"grading batch 01 took {seconds:.1f} s", file=sys.stderr)
    return {"code": code, "table": _table(report.with_suffix(".csv")), "report": report.read_text(encoding="utf-8"),
            "instructor_log": instructor_log, "tamper_log": tamper_log, "seconds": seconds}


def batch_test(test):
    """A test reading the exercise-01 batch: kernels run, and all such tests share one xdist worker (one batch)."""
    return pytest.mark.notebook(pytest.mark.xdist_group(name="grade-batch-01")(test))


@batch_test
def test_batch_scores_every_submission_and_exits_1_for_those_that_did_not_run_normally(batch01):
    table = batch01["table"]
    assert set(table) == {"erin_solution", "frank_unmodified", "dave_partial_wrong_tampered",
                          "carol_errors_no_checks", "alice_infinite_loops", "bob_kernel_crash",
                          "mia_wrong_exercise", "ned_corrupt", "olga_not_a_notebook"}
    assert batch01["code"] == EXIT_PROBLEMS
    assert all(row["max"] == ALL_01 for row in table.values())
    assert list(next(iter(table.values())))[-len(PARTS_01):] == PARTS_01, "one column per part, in the checks' order"
    assert "notes.txt" in batch01["report"], "non-notebook files are listed as ignored"


@batch_test
def test_solution_gets_full_marks_and_unmodified_exercise_zero_with_not_attempted_feedback(batch01):
    solution, exercise = batch01["table"]["erin_solution"], batch01["table"]["frank_unmodified"]
    assert (solution["score"], solution["outcome"], solution["notebook"]) == (ALL_01, "graded", "01")
    assert {solution[p] for p in PARTS_01} == {"pass"}
    assert (exercise["score"], exercise["outcome"]) == ("0", "graded")
    assert {exercise[p] for p in PARTS_01} == {"not_attempted"}
    section = _section(batch01["report"], "frank_unmodified")
    assert section.count("⏳") == len(PARTS_01) and "not attempted: replace" in section
    assert "still raise NotImplementedError" in section


@batch_test
def test_partial_and_wrong_answers_score_what_they_deserve_despite_tampered_checks(batch01):
    row = batch01["table"]["dave_partial_wrong_tampered"]
    assert row["score"] == "1", "only 1a is right: faked checks, results files and forged output count for nothing"
    assert (row["1a"], row["1b"], row["2a"]) == ("pass", "fail", "fail")
    assert {row[p] for p in ("1c", "3a", "3b", "3c")} == {"not_attempted"}
    section = _section(batch01["report"], "dave_partial_wrong_tampered")
    assert "expected flux 1000 → magnitude 20.0" in section, "the check's own message is the feedback"
    assert f"displayed {len(PARTS_01) ** 2} grading result(s); ignored" in section, "forged output is noticed"
    assert batch01["tamper_log"].exists(), "the tampered cells did run"
    assert not batch01["instructor_log"].exists(), "learner check calls never write to the instructor's check log"


@batch_test
def test_syntax_error_sys_exit_huge_output_and_deleted_check_cells(batch01):
    row = batch01["table"]["carol_errors_no_checks"]
    assert row["outcome"] == "graded" and row["1b"] == "fail"
    assert {row[p] for p in ("1a", "1c", "2a", "3a", "3b")} == {"pass"}, "deleted check cells do not matter"
    section = _section(batch01["report"], "carol_errors_no_checks")
    assert "flux_to_magnitude is not defined after running the notebook" in section
    assert "raised SyntaxError" in section and "raised SystemExit" in section
    assert "x" * 1000 not in batch01["report"] and "y" * 400 not in batch01["report"], "outputs never flood the report"


@batch_test
def test_infinite_loops_are_interrupted_and_the_rest_is_still_scored(batch01):
    row = batch01["table"]["alice_infinite_loops"]
    assert row["outcome"] == "timeout"
    assert (row["1a"], row["1b"]) == ("fail", "pass")
    assert {row[p] for p in ("1c", "2a", "3a", "3b", "3c")} == {"fail"}, "cells after the loop never ran"
    section = _section(batch01["report"], "alice_infinite_loops")
    assert f"did not finish within {CHECK_TIMEOUT} s while being checked" in section
    assert f"time ran out ({TIMEOUT} s for the whole notebook) while cell" in section
    assert "(while True: # never ends) was running: it was interrupted" in section


@batch_test
def test_a_kernel_crash_is_survived_by_rerunning_without_the_fatal_cell(batch01):
    row = batch01["table"]["bob_kernel_crash"]
    assert (row["outcome"], row["score"]) == ("crashed", ALL_01)
    section = _section(batch01["report"], "bob_kernel_crash")
    assert "(os.kill(os.getpid(), signal.SIGKILL)) stopped the Python kernel; the notebook was run again" in section


@batch_test
def test_wrong_exercise_and_unreadable_files_are_reported_not_run(batch01):
    table = batch01["table"]
    assert (table["mia_wrong_exercise"]["outcome"], table["mia_wrong_exercise"]["notebook"]) == ("wrong exercise", "02")
    for name in ("ned_corrupt", "olga_not_a_notebook"):
        assert table[name]["outcome"] == "unreadable" and table[name]["score"] == "0"
        assert {table[name][p] for p in PARTS_01} == {"not_graded"}
    assert "this is notebook 02, not 01" in batch01["report"]


# ------------------------------------------------------------------------------------------- exercise 02, HTML report


@pytest.mark.notebook
def test_notebook_02_solution_full_marks_exercise_zero_html_report_exit_0(tmp_path, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(_notebook("solutions", "02"), folder / "sol.ipynb")
    nbformat.write(_notebook("exercises", "02"), folder / "ex.ipynb")
    report = tmp_path / "grades.html"
    assert main(["grade", str(folder), "--exercise", "2", "--jobs", "2", "--timeout", "120", "--smoke",
                 "--report", str(report)]) == EXIT_OK
    table = _table(tmp_path / "grades.csv")
    assert table["sol"]["score"] == table["sol"]["max"] != "0"
    assert table["ex"]["score"] == "0" and {v for k, v in table["ex"].items() if k[0].isdigit()} == {"not_attempted"}
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "not attempted" in page
    assert "report:" in capsys.readouterr().out


@pytest.mark.notebook
def test_hangs_that_ignore_interrupts_and_crashes_while_checked_cost_a_kernel_each_not_the_batch(tmp_path):
    """Code that swallows KeyboardInterrupt and the grader's alarm (only killing the kernel stops it), and a function
    that kills the kernel when the grader calls it. A small hand-written notebook keeps the four kernels cheap."""
    cells = [
        "import math\ndef flux_to_magnitude(flux, zeropoint=27.5):\n"
        "    return None if flux <= 0 else zeropoint - 2.5 * math.log10(flux)",
        "def filter_lightcurve(data, **filters):\n    while True:\n        try:\n            while True:\n"
        "                pass\n        except BaseException:\n            pass",
        "def timing_decorator(func):\n    import os\n    os._exit(1)",
        "import time\nwhile True:  # stubborn\n    try:\n        time.sleep(0.1)\n"
        "    except BaseException:\n        pass",
        "def cache_results(func):\n    return func",
    ]
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["exowavenet"] = {"notebook": "01", "kind": "exercise"}
    (tmp_path / "subs").mkdir()
    nbformat.write(nb, tmp_path / "subs" / "stubborn.ipynb")
    batch = grade.grade_folder(tmp_path / "subs", "01", timeout=3, check_timeout=2, grace=1, max_runs=4)
    (sub,) = batch.submissions
    assert sub.outcome == "timeout" and batch.exit_code == EXIT_PROBLEMS
    grades = {part: (g.status, g.message) for part, g in sub.parts.items()}
    assert grades["1b"][0] == "pass", "graded on a fresh kernel that ran the cells before the hang"
    assert grades["1a"][0] == "fail" and "interrupts ignored" in grades["1a"][1]
    assert grades["2a"] == ("fail", "your code stopped the Python kernel while this part was checked")
    assert grades["3a"][0] == "fail" and "not defined" in grades["3a"][1], "defined after the hang: never ran"
    notes = " ".join(" ".join(sub.problems).split())
    assert "(while True: # stubborn) was running, and it ignored the interrupt" in notes
    assert "checking part 1a never finished and ignored interrupts (kernel killed)" in notes
    assert "checking part 2a stopped the kernel" in notes


# ------------------------------------------------------------------------------------------- without a kernel


def test_usage_errors_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "missing"), "--exercise", "01"]) == EXIT_USAGE
    assert main(["grade", str(tmp_path / "empty"), "--exercise", "01"]) == EXIT_USAGE
    assert main(["grade", str(tmp_path), "--exercise", "13"]) == EXIT_USAGE
    assert main(["grade", str(tmp_path), "--exercise", "one"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "existing folder" in err and "no *.ipynb" in err and "must be one of" in err
    without_checks = [i.number for i in NOTEBOOKS if importlib.util.find_spec(f"exowavenet_lib.checks.ex{i.number}")
                      is None]
    if without_checks:  # a planned notebook: nothing to grade against yet
        assert main(["grade", str(tmp_path), "--exercise", without_checks[-1]]) == EXIT_USAGE
        assert "no checks module" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", str(tmp_path), "--exercise", "01", "--timeout", "0"])
    assert exit_info.value.code == EXIT_USAGE


def test_unrunnable_files_are_scored_zero_without_a_kernel(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "broken.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n\x00binary")
    nbformat.write(_notebook("solutions", "03"), tmp_path / "subs" / "other.ipynb")
    assert main(["grade", str(tmp_path / "subs"), "--exercise", "01", "--report", str(tmp_path / "r.md")]) == 1
    table = _table(tmp_path / "r.csv")
    assert table["broken"]["outcome"] == "unreadable" and table["other"]["outcome"] == "wrong exercise"
    assert "check broken" in capsys.readouterr().out


def _hostile_batch() -> GradeBatch:
    evil = '<script>alert("x")</script> | `code` =1+1'
    sub = Submission(evil, Path("=cmd.ipynb"), "01", "graded",
                     {"1a": PartGrade("1a", "fail", f"expected 1; got {evil}")}, [f"cell 1 raised {evil}"], 1.0)
    return GradeBatch("01", "T", ["1a"], [sub], [Path("<img src=x>.txt")], 10, 5, False, "now")


def test_reports_escape_learner_controlled_text():
    batch = _hostile_batch()
    page = render_html(batch)
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img src=x>" not in page
    markdown = render_markdown(batch)
    assert "<script>" not in markdown and "<img src=x>" not in markdown and "\\<script\\>" in markdown
    assert "\\| \\`code\\`" in markdown, "pipes cannot break the table, backticks cannot open code"
    rows = list(csv.DictReader(render_csv(batch).splitlines()))
    assert rows[0]["file"] == "'=cmd.ipynb", "a file name never becomes a spreadsheet formula"


def test_grading_cell_reloads_the_checks_and_ignores_a_patched_copy(monkeypatch):
    """In-process: the appended cell's code, with the imported checks patched to pass everything."""
    from IPython import display as ipython_display

    import exowavenet_lib.checks._core as core

    for name in ("exowavenet_lib.checks._core", "exowavenet_lib.checks.ex01"):
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name) or __import__(name, fromlist=["_"]))
    monkeypatch.setattr(core.Check, "evaluate", lambda self, *a: core.CheckResult("01", self.part, core.Status.PASS,
                                                                                   "patched"))
    shown = []
    monkeypatch.setattr(ipython_display, "display", lambda obj, raw=False: shown.append(obj))
    exercise = grade._exercise("01")
    namespace = {"__name__": "__main__", "flux_to_magnitude": mutants01.mag_wrong_sign}
    exec(grading_cell_source(exercise, "1b", "n0nce", 5), namespace)  # noqa: S102
    exec(grading_cell_source(exercise, "1a", "n0nce", 5), namespace)  # noqa: S102
    (b,), (a,) = ([v for v in s.values()] for s in shown)
    assert (b["nonce"], b["part"], b["status"]) == ("n0nce", "1b", "fail") and "expected" in b["message"]
    assert a["status"] == "fail" and "filter_lightcurve is not defined" in a["message"]
    assert "_exowavenet_grade" not in namespace, "the appended cell cleans up after itself"


def test_kernel_environment_has_no_check_log_and_no_secrets(monkeypatch):
    monkeypatch.setenv(CHECK_LOG_ENV, "/tmp/log.jsonl")
    monkeypatch.setenv("WANDB_API_KEY", "k")
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    env = grade._kernel_env(smoke=True)
    assert not {CHECK_LOG_ENV, "WANDB_API_KEY", "GITHUB_TOKEN"} & set(env)
    assert env["PATH"] == os.environ["PATH"] and env["EXOWAVENET_SMOKE"] == "1"
