"""The check machinery: statuses, never raising, helpful messages, recording for grading."""

from __future__ import annotations

import json

import pytest

from exowavenet_lib.checks import CHECK_LOG_ENV, Status, ex01
from exowavenet_lib.checks._core import attempt, check, expect, expect_error, expect_raises, reference_solutions


@check("99", "1a", hint="double it")
def q_double(double):
    """double(x) returns 2x."""
    got = attempt(double, 21)
    expect(got == 42, "double(21) == 42", got)
    return "doubles"


def test_correct_answer_passes():
    result = q_double.evaluate(lambda x: 2 * x)
    assert result.status is Status.PASS and result.passed
    assert result.message == "doubles"


def test_wrong_answer_fails_with_expected_and_got():
    result = q_double.evaluate(lambda x: x + 2)
    assert result.status is Status.FAIL
    assert "expected double(21) == 42" in result.message and "got 23" in result.message


@pytest.mark.parametrize(
    "stub",
    [None, ..., lambda x: None, lambda x: ..., lambda x: (_ for _ in ()).throw(NotImplementedError("1a"))],
    ids=["None", "Ellipsis", "returns-None", "returns-Ellipsis", "raises-NotImplementedError"],
)
def test_stubs_are_not_attempted(stub):
    assert q_double.evaluate(stub).status is Status.NOT_ATTEMPTED


@pytest.mark.parametrize(
    "exc", [ZeroDivisionError("boom"), SystemExit(3), RecursionError("deep"), KeyError("k")], ids=repr
)
def test_learner_exceptions_become_failures_never_raise(exc, capsys):
    def broken(x):
        raise exc

    q_double.check(broken)  # must not raise
    out = capsys.readouterr().out
    assert "❌" in out and type(exc).__name__ in out and "hint()" in out


def test_check_prints_icons(capsys):
    q_double.check(lambda x: 2 * x)
    q_double.check(None)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✅ Part 1a passed")
    assert out[1].startswith("⏳ Part 1a not attempted")


def test_keyboard_interrupt_is_not_swallowed():
    def interrupted(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        q_double.evaluate(interrupted)


def test_results_are_recorded_when_the_log_variable_is_set(tmp_path, monkeypatch, capsys):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv(CHECK_LOG_ENV, str(log))
    q_double.check(lambda x: 2 * x)
    q_double.check(lambda x: x)
    q_double.check(None)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["notebook"], r["part"], r["status"]) for r in rows] == [
        ("99", "1a", "pass"), ("99", "1a", "fail"), ("99", "1a", "not_attempted")
    ]
    assert all(r["message"] and r["time"] > 0 for r in rows)


def test_unwritable_log_warns_but_does_not_raise(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(CHECK_LOG_ENV, str(tmp_path / "missing-dir" / "log.jsonl"))
    with pytest.warns(UserWarning, match=CHECK_LOG_ENV):
        q_double.check(lambda x: 2 * x)
    assert "✅" in capsys.readouterr().out


def test_nothing_is_recorded_without_the_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(CHECK_LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    q_double.check(lambda x: 2 * x)
    assert list(tmp_path.iterdir()) == []


def test_expect_raises_reports_wrong_exception_and_silence():
    def silent(**kwargs):
        return []

    def wrong(**kwargs):
        raise KeyError("colour")

    with pytest.raises(Exception, match=r"silent\(…, colour='blue'\) to raise ValueError; got it returned \[\]"):
        expect_raises(ValueError, silent, colour="blue")
    with pytest.raises(Exception, match="to raise ValueError; got KeyError: 'colour'"):
        expect_raises(ValueError, wrong, colour="blue")
    def bad_key():
        raise ValueError("bad key")

    with pytest.raises(Exception, match="the ValueError for a typo to mention 'flx'"):
        expect_error(ValueError, "a typo", bad_key, mentions=("bad", "flx"))


def test_hint_and_solution_print_something_useful(capsys):
    ex01.q1a.hint()
    ex01.q1a.solution()
    out = capsys.readouterr().out
    assert "Hint for part 1a" in out
    assert "def filter_lightcurve" in out and "BEGIN SOLUTION" not in out


def test_reference_solutions_cover_every_check_of_notebook_01():
    from exowavenet_lib.checks import checks_of

    assert set(reference_solutions("01")) == set(checks_of(ex01))
    assert reference_solutions("77") == {}


def test_check_arguments_name_the_notebook_objects():
    assert ex01.q1a.arguments == ("filter_lightcurve",)
    assert repr(ex01.q2a) == "<Check ex01.q2a>"


def test_long_values_are_shortened_in_messages():
    result = q_double.evaluate(lambda x: list(range(10_000)))
    assert result.status is Status.FAIL and len(result.message) < 300
