"""The machinery behind every learner check: evaluate, print feedback, record for grading."""

from __future__ import annotations

import inspect
import json
import os
import reprlib
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from importlib import resources
from types import ModuleType
from typing import Any

#: Environment variable naming a JSON-lines file that every check appends its result to (for grading).
CHECK_LOG_ENV = "EXOWAVENET_CHECK_LOG"

_short = reprlib.Repr()
_short.maxstring = 120
_short.maxother = 120
_short.maxlist = 8
_short.maxdict = 8


class Status(str, Enum):
    """Outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    NOT_ATTEMPTED = "not_attempted"


class CheckFailed(Exception):
    """Raised inside a check function when the learner's answer is wrong."""


class NotAttempted(Exception):
    """Raised inside a check function when the learner's code is still a stub."""


@dataclass(frozen=True)
class CheckResult:
    """What one call of a check found."""

    notebook: str
    part: str
    status: Status
    message: str

    @property
    def passed(self) -> bool:
        """True when the answer is correct."""
        return self.status is Status.PASS

    def __str__(self) -> str:
        icon = {Status.PASS: "✅", Status.FAIL: "❌", Status.NOT_ATTEMPTED: "⏳"}[self.status]
        label = {Status.PASS: "passed", Status.FAIL: "not yet right", Status.NOT_ATTEMPTED: "not attempted"}
        return f"{icon} Part {self.part} {label[self.status]}: {self.message}"


def show(value: Any) -> str:
    """Short repr of a value for feedback messages."""
    return _short.repr(value)


def expect(condition: bool, expected: str, got: Any) -> None:
    """Fail the check with 'expected …, got …' unless ``condition`` holds."""
    if not condition:
        got_text = got if isinstance(got, str) else show(got)
        raise CheckFailed(f"expected {expected}; got {got_text}")


def attempt(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function; a stub (``NotImplementedError``, ``None`` or ``...``) is 'not attempted'."""
    result = func(*args, **kwargs)
    if result is None or result is Ellipsis:
        raise NotAttempted(f"{getattr(func, '__name__', 'your function')} returned {result!r}")
    return result


def outcome(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """``(result, None)`` or ``(None, exception)``; a stub's ``NotImplementedError`` still means 'not attempted'."""
    try:
        return func(*args, **kwargs), None
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - reported to the learner, not swallowed
        return None, err


def describe_outcome(result: Any, err: BaseException | None) -> str:
    """What a call did, for a feedback message: ``ValueError: ...`` or ``it returned ...``."""
    return f"{type(err).__name__}: {err}" if err is not None else f"it returned {show(result)}"


def expect_error(
    exc_type: type[BaseException], what: str, func: Callable[..., Any], *args: Any,
    mentions: str | Sequence[str] = (), **kwargs: Any,
) -> BaseException:
    """Fail unless ``func(*args, **kwargs)`` raises ``exc_type`` mentioning every word of ``mentions``.

    ``what`` describes the call in the feedback, e.g. ``"an empty list"``.
    """
    got, err = outcome(func, *args, **kwargs)
    expect(isinstance(err, exc_type), f"{what} to raise {exc_type.__name__}", describe_outcome(got, err))
    for word in (mentions,) if isinstance(mentions, str) else mentions:
        expect(word in str(err), f"the {exc_type.__name__} for {what} to mention {word!r}", str(err))
    return err


def expect_raises(
    exc_type: type[BaseException], func: Callable[..., Any], *args: Any, mentions: str = "", **kwargs: Any
) -> BaseException:
    """:func:`expect_error` with the call itself as the description."""
    call = f"{getattr(func, '__name__', 'function')}(…, {', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    return expect_error(exc_type, call, func, *args, mentions=mentions, **kwargs)


def _record(result: CheckResult) -> None:
    path = os.environ.get(CHECK_LOG_ENV)
    if not path:
        return
    line = json.dumps({**asdict(result), "status": result.status.value, "time": time.time()})
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError as err:
        warnings.warn(f"could not record check result in {path} ({CHECK_LOG_ENV}): {err}", stacklevel=3)


class Check:
    """One learner check: ``check(*answers)`` prints feedback, ``hint()`` and ``solution()`` help."""

    def __init__(self, notebook: str, part: str, func: Callable[..., str | None], hint: str) -> None:
        self.notebook = notebook
        self.part = part
        self.hint_text = hint
        self._func = func
        self.__doc__ = func.__doc__

    def __repr__(self) -> str:
        return f"<Check ex{self.notebook}.q{self.part}>"

    @property
    def arguments(self) -> tuple[str, ...]:
        """Names of the notebook objects this check takes, e.g. ``("filter_lightcurve",)``."""
        return tuple(inspect.signature(self._func).parameters)

    def evaluate(self, *answers: Any) -> CheckResult:
        """Run the check silently and return its :class:`CheckResult` (used by tests and grading)."""
        if not answers or any(a is None or a is Ellipsis for a in answers):
            return self._result(Status.NOT_ATTEMPTED, "the answer is still None/…; write your code and re-run")
        try:
            message = self._func(*answers)
        except (NotAttempted, NotImplementedError) as err:
            detail = f" ({err})" if str(err) else ""
            return self._result(
                Status.NOT_ATTEMPTED, f"replace `raise NotImplementedError` with your code, then re-run{detail}"
            )
        except CheckFailed as err:
            return self._result(Status.FAIL, str(err))
        except (Exception, SystemExit) as err:  # noqa: BLE001 - learner code may raise anything
            where = traceback.extract_tb(err.__traceback__)[-1]
            return self._result(
                Status.FAIL,
                f"your code raised {type(err).__name__}: {err} (line {where.lineno} of {where.name})",
            )
        return self._result(Status.PASS, message or "well done")

    def check(self, *answers: Any) -> None:
        """Print ✅/❌ feedback for the learner's answer; never raises."""
        result = self.evaluate(*answers)
        _record(result)
        print(result)
        if result.status is Status.FAIL:
            print(f"   Stuck? ex{self.notebook}.q{self.part}.hint()")

    def hint(self) -> None:
        """Print a hint for this part."""
        print(f"💡 Hint for part {self.part}: {self.hint_text}")

    def solution(self) -> None:
        """Print the reference solution of this part, taken from the solution notebook."""
        cells = reference_solutions(self.notebook).get(self.part)
        if not cells:
            print(f"No reference solution is recorded for part {self.part}.")
            return
        print(f"Reference solution for part {self.part} (from solutions/, notebook {self.notebook}):\n")
        print("\n\n# ---\n\n".join(cells))

    def _result(self, status: Status, message: str) -> CheckResult:
        return CheckResult(self.notebook, self.part, status, message)


def check(notebook: str, part: str, hint: str) -> Callable[[Callable[..., str | None]], Check]:
    """Decorator turning a check function (raises ``CheckFailed``; returns a ✅ message) into a :class:`Check`."""

    def wrap(func: Callable[..., str | None]) -> Check:
        return Check(notebook, part, func, hint)

    return wrap


def checks_of(module: ModuleType) -> dict[str, Check]:
    """All checks a notebook's check module defines, by part id, in definition order."""
    return {obj.part: obj for obj in vars(module).values() if isinstance(obj, Check)}


def reference_solutions(notebook: str) -> dict[str, list[str]]:
    """Reference solution cells by part, as generated from ``solutions/`` by ``build-exercises``."""
    ref = resources.files("exowavenet_lib.checks") / "_reference" / f"ex{notebook}.json"
    if not ref.is_file():
        return {}
    return json.loads(ref.read_text(encoding="utf-8"))
