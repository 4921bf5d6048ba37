"""The library's timing decorator: the notebook 01 check accepts it, and the logger form logs."""

from __future__ import annotations

import logging

import pytest

from exowavenet_lib.checks import Status, ex01
from exowavenet_lib.decorators import timing_decorator


def test_library_timing_decorator_passes_the_notebook_01_check():
    assert ex01.q2a.evaluate(timing_decorator).status is Status.PASS


def test_logger_form_logs_and_records_elapsed(caplog):
    log = logging.getLogger("exowavenet.test")

    @timing_decorator(logger=log)
    def add(a, b=1):
        """Add."""
        return a + b

    with caplog.at_level(logging.INFO, logger="exowavenet.test"):
        assert add(1, b=2) == 3
    assert add.__name__ == "add" and add.__doc__ == "Add."
    assert "add took" in caplog.text and add.last_elapsed >= 0


def test_elapsed_is_reported_even_when_the_function_raises(capsys):
    @timing_decorator
    def boom():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        boom()
    assert "boom took" in capsys.readouterr().out


def test_non_callable_is_rejected():
    with pytest.raises(TypeError, match="func must be callable"):
        timing_decorator(3)
