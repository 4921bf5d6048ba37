"""Grade a folder of learner notebooks: run each in a fresh kernel, evaluate the official checks, report.

How one submission is graded
----------------------------
1. The file is read and identified by ``metadata.exowavenet.notebook`` (never by its name). A file that is not a
   notebook, or a notebook of another exercise, is reported and scored 0 without running anything.
2. The learner's code cells run in a fresh ``python3`` kernel, in an empty temporary folder, errors allowed, with
   ``timeout`` seconds for all of them together. When the time is up the running cell is interrupted and the rest
   are skipped. A cell that kills the kernel (``os._exit``, a segfault, SIGKILL) is skipped on a fresh kernel.
3. The grader then appends one cell per part that it wrote itself. Each reloads the check machinery and the
   notebook's checks from their files (so a notebook that patched the imported checks gains nothing), looks up
   the objects named by ``Check.arguments`` in the learner's namespace, runs ``Check.evaluate`` under a time
   limit, and displays the result under a private MIME type together with a random nonce that exists only in the
   grader's memory and in that appended cell. Only those outputs, with that nonce, are read back: the learner's own
   check calls, anything the notebook prints, and any results file are ignored.

This is not a sandbox: learner code runs with the grader's permissions, and code in the same kernel can still
hook the appended cells (see docs/INSTRUCTORS.md for what this does and does not protect against).
"""

from __future__ import annotations

import asyncio
import csv
import html
import importlib
import importlib.util
import io
import json
import math
import os
import re
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook

from exowavenet_lib.checks import CHECK_LOG_ENV, Status, checks_of
from exowavenet_lib.curriculum.catalog import notebook_info
from exowavenet_lib.runtime import SMOKE_ENV

#: Exit codes of ``exowavenet grade``.
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

#: Outcome of one submission. Anything but GRADED makes ``exowavenet grade`` exit with EXIT_PROBLEMS.
GRADED = "graded"  # ran to the end (errors in cells allowed) and every check was evaluated
TIMEOUT = "timeout"  # ran out of time: the checks ran on what the notebook had defined by then
CRASHED = "crashed"  # the kernel died at least once; graded on a fresh kernel without the fatal cell
WRONG_EXERCISE = "wrong exercise"  # metadata names another notebook: not run, scored 0
UNREADABLE = "unreadable"  # not a notebook (corrupt JSON, another format): not run, scored 0
GRADER_ERROR = "grader error"  # the grader itself failed (e.g. no kernel could start): scored 0

#: Part status when the grader could not evaluate the check at all (besides pass / fail / not_attempted).
NOT_GRADED = "not_graded"

_MIME = "application/vnd.exowavenet.grade+json"
_ICON = {Status.PASS.value: "✅", Status.FAIL.value: "❌", Status.NOT_ATTEMPTED.value: "⏳", NOT_GRADED: "⛔"}
_LABEL = {Status.PASS.value: "passed", Status.FAIL.value: "not yet right",
          Status.NOT_ATTEMPTED.value: "not attempted", NOT_GRADED: "not graded"}
_MAX_TEXT = 2_000  # characters kept of any learner-controlled text (messages, error values)
_GRACE = 10  # seconds an interrupted kernel has to answer again, and beyond a check's own limit before interrupting


class UsageError(ValueError):
    """Bad arguments to the grader (missing folder, unknown exercise, nothing to grade)."""


@dataclass(frozen=True)
class PartGrade:
    """The grade of one part (one check) of one submission."""

    part: str
    status: str  # pass | fail | not_attempted | not_graded
    message: str

    def __str__(self) -> str:
        return f"{_ICON[self.status]} Part {self.part} {_LABEL[self.status]}: {self.message}"


@dataclass
class Submission:
    """One learner notebook: how it ran and what it scored."""

    learner: str
    path: Path
    notebook: str  # the id in its metadata ("" when it has none or is unreadable)
    outcome: str
    parts: dict[str, PartGrade]
    problems: list[str] = field(default_factory=list)  # what went wrong while running, for the report
    seconds: float = 0.0

    @property
    def score(self) -> int:
        """Number of parts that passed."""
        return sum(p.status == Status.PASS.value for p in self.parts.values())

    @property
    def max_score(self) -> int:
        """Number of parts."""
        return len(self.parts)


@dataclass
class GradeBatch:
    """Every submission of one ``exowavenet grade`` run."""

    exercise: str
    title: str
    parts: list[str]
    submissions: list[Submission]
    ignored: list[Path]
    timeout: float
    check_timeout: float
    smoke: bool
    finished: str  # ISO time

    @property
    def exit_code(self) -> int:
        """EXIT_OK when every submission was graded normally, EXIT_PROBLEMS when any needs an instructor's look."""
        return EXIT_OK if all(s.outcome == GRADED for s in self.submissions) else EXIT_PROBLEMS


# --------------------------------------------------------------------------------------------- finding submissions


def normalise_exercise(exercise: str) -> str:
    """``"1"``, ``"01"`` or ``"ex01"`` -> ``"01"``; raises UsageError for an unknown notebook or one without checks."""
    text = str(exercise).strip().lower().removeprefix("ex")
    if not text.isdigit():
        raise UsageError(f"--exercise expects a notebook number such as 01, got {exercise!r}")
    number = f"{int(text):02d}"
    try:
        notebook_info(number)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if importlib.util.find_spec(f"exowavenet_lib.checks.ex{number}") is None:
        raise UsageError(f"notebook {number} has no checks module exowavenet_lib/checks/ex{number}.py yet")
    return number


def find_submissions(folder: Path) -> tuple[dict[str, Path], list[Path]]:
    """Learner name -> notebook for every ``*.ipynb`` under ``folder``, and the other files (ignored).

    The learner name is the file stem, or the path relative to ``folder`` when two files share a stem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"DIR must be an existing folder of learner notebooks, got {folder}")
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    ignored = [p for p in files if p.suffix != ".ipynb"]
    stems = [p.stem for p in notebooks]
    names = {}
    for path in notebooks:
        unique = stems.count(path.stem) == 1
        names[path.stem if unique else path.relative_to(folder).with_suffix("").as_posix()] = path
    return names, ignored


def _identify(path: Path, exercise: str) -> tuple[NotebookNode | None, str, str | None]:
    """(notebook, id in its metadata, reason it cannot be graded or None)."""
    try:
        nb = nbformat.read(path, as_version=4)  # lenient: small schema slips (other editors, Colab) are tolerated
        if not isinstance(nb.get("cells"), list) or not all(
            isinstance(c, dict) and isinstance(c.get("cell_type"), str) and isinstance(c.get("source"), str)
            for c in nb.cells
        ):
            raise ValueError("its cells are not a list of cells with a type and a source")
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported, never fatal
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return None, "", f"{UNREADABLE}: not a Jupyter notebook ({_clip(first, 200)})"
    meta = nb.metadata.get("exowavenet")
    number = str(meta.get("notebook", "")).strip() if isinstance(meta, dict) else ""
    number = f"{int(number):02d}" if number.isdigit() else number
    if number and number != exercise:
        return nb, number, f"{WRONG_EXERCISE}: this is notebook {number}, not {exercise} (metadata.exowavenet.notebook)"
    return nb, number, None


# --------------------------------------------------------------------------------------------- the grading cell

# The appended cell: defined and called in one go, with every parameter in one JSON string.
_GRADING_FUNCTION = '''\
def _exowavenet_grade(params_json):
    """Appended by `exowavenet grade`: evaluate the official check of one part on this notebook's objects."""
    import importlib.util
    import json
    import signal
    import sys

    from IPython.display import display

    namespace = sys._getframe(1).f_globals
    params = json.loads(params_json)
    limit = params["limit"]

    def report(status, message):
        payload = {"nonce": params["nonce"], "part": params["part"], "status": status, "message": str(message)}
        display({params["mime"]: payload}, raw=True)

    class GradingTimeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise GradingTimeout

    try:
        modules = {}
        for name, path in params["modules"]:  # fresh from disk, whatever the notebook did to the imported ones
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            modules[name] = module
        check = modules[params["core"]].checks_of(modules[params["checks"]])[params["part"]]
        missing = [name for name in check.arguments if name not in namespace]
        if missing:
            names = ", ".join(missing)
            report("fail", f"{names} is not defined after running the notebook: the cell defining it is missing, "
                           "failed, or was not reached")
            return
        answers = [namespace[name] for name in check.arguments]
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit, 1.0)
        try:
            result = check.evaluate(*answers)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    except GradingTimeout:
        signal.setitimer(signal.ITIMER_REAL, 0)
        report("fail", f"your code did not finish within {limit:g} s while being checked "
                       "(an infinite loop, or far too slow)")
    except BaseException as err:
        report("fail", f"the check could not run: {type(err).__name__}: {err}")
    else:
        report(result.status.value, result.message)
'''


@dataclass(frozen=True)
class _Exercise:
    number: str
    parts: dict[str, tuple[str, ...]]  # part -> argument names
    modules: tuple[tuple[str, str], ...]  # (module name, file) loaded fresh in the kernel, in order


def _exercise(number: str) -> _Exercise:
    name = f"exowavenet_lib.checks.ex{number}"
    checks = checks_of(importlib.import_module(name))
    files = []
    for module in ("exowavenet_lib.checks._core", name):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin:
            raise UsageError(f"cannot locate the source of {module}")
        files.append((module, spec.origin))
    return _Exercise(number, {part: c.arguments for part, c in checks.items()}, tuple(files))


def grading_cell_source(exercise: _Exercise, part: str, nonce: str, limit: float) -> str:
    """Source of the cell appended to grade ``part`` (exposed for tests)."""
    params = {
        "nonce": nonce, "mime": _MIME, "part": part, "limit": float(limit),
        "modules": [list(m) for m in exercise.modules],
        "core": exercise.modules[0][0], "checks": exercise.modules[1][0],
    }
    return (f"{_GRADING_FUNCTION}\n\ntry:\n    _exowavenet_grade({json.dumps(params)!r})\n"
            "finally:\n    del _exowavenet_grade\n")


# --------------------------------------------------------------------------------------------- running one notebook


class _Client(NotebookClient):
    """nbclient that keeps only what grading needs: error names of learner cells, grading payloads of ours."""

    def __init__(self, nb: NotebookNode, *, n_learner: int, **kw) -> None:
        super().__init__(nb, **kw)
        self.n_learner = n_learner
        self.forged = 0  # grading payloads displayed by the learner's own cells
        self.timed_out = False

    def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201 - nbclient's signature
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            out = nbformat.from_dict({"output_type": "error", "ename": _clip(str(content.get("ename", "")), 200),
                                      "evalue": _clip(str(content.get("evalue", "")), _MAX_TEXT), "traceback": []})
            outs.append(out)
            return out
        data = content.get("data") if kind in ("display_data", "execute_result") else None
        if isinstance(data, dict) and _MIME in data:
            if cell_index < self.n_learner:
                self.forged += 1
                return None
            out = nbformat.from_dict({"output_type": "display_data", "data": {_MIME: data[_MIME]}, "metadata": {}})
            outs.append(out)
            return out
        return None  # printed text, figures, huge outputs: not needed, never kept

    async def _async_handle_timeout(self, timeout, cell=None):  # noqa: ANN001, ANN202
        self.timed_out = True
        return await super()._async_handle_timeout(timeout, cell)


@dataclass
class _RunState:
    """What one kernel run found; the submission keeps the last run's cell errors."""

    errors: list[str] = field(default_factory=list)
    not_implemented: int = 0
    timeout_note: str | None = None
    crash_cell: int | None = None  # learner cell index that killed the kernel
    hang_cell: int | None = None  # learner cell index that ignored the interrupt
    lost_part: str | None = None  # part whose check killed or hung the kernel
    lost_how: str = ""


def _describe(cell_source: str, position: int) -> str:
    """``cell 12 (while True:)``: the cell's number in the notebook and its first telling line."""
    lines = [line.strip() for line in cell_source.splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith(("#", "import ", "from "))]
    return f"cell {position + 1} ({_clip((telling or lines or [''])[0], 60)})"


class _SubmissionRun:
    def __init__(self, nb: NotebookNode, exercise: _Exercise, *, timeout: float, check_timeout: float,
                 env: dict[str, str], max_runs: int, grace: float) -> None:
        self.cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
        self.exercise = exercise
        self.timeout = timeout
        self.check_timeout = check_timeout
        self.env = env
        self.max_runs = max_runs
        self.grace = max(1, math.ceil(grace))

    async def grade(self) -> tuple[str, dict[str, PartGrade], list[str]]:
        grades: dict[str, PartGrade] = {}
        notes: list[str] = []
        skip: set[int] = set()
        stop_at: int | None = None
        outcome = GRADED
        state = _RunState()
        for _ in range(self.max_runs):
            pending = [p for p in self.exercise.parts if p not in grades]
            with tempfile.TemporaryDirectory(prefix="exowavenet-grade-", ignore_cleanup_errors=True) as workdir:
                state = await self._run(skip, stop_at, pending, grades, workdir)
            if state.crash_cell is not None:
                skip.add(state.crash_cell)
                outcome = CRASHED
                notes.append(f"{_describe(self.cells[state.crash_cell][1], self.cells[state.crash_cell][0])} "
                             "stopped the Python kernel; the notebook was run again on a fresh kernel without it")
            elif state.hang_cell is not None:
                stop_at = state.hang_cell
                outcome = TIMEOUT
            elif state.lost_part is not None:
                outcome = CRASHED if outcome == GRADED else outcome
                if any(p not in grades for p in self.exercise.parts):
                    notes.append(f"checking part {state.lost_part} {state.lost_how}; the notebook was run again on "
                                 "a fresh kernel to check the remaining parts")
            else:
                break
            if all(p in grades for p in self.exercise.parts):
                break
        else:
            notes.append(f"gave up after {self.max_runs} runs of the notebook")
        for part in self.exercise.parts:
            grades.setdefault(part, PartGrade(part, NOT_GRADED, "the grader could not evaluate this part "
                                                                "(see the notes on running the notebook)"))
        if state.timeout_note:
            outcome = TIMEOUT
            notes.insert(0, state.timeout_note)
        if stop_at is not None:
            notes.insert(0, f"time ran out ({self.timeout:g} s for the whole notebook) while "
                            f"{_describe(self.cells[stop_at][1], self.cells[stop_at][0])} was running, and it ignored "
                            "the interrupt: graded on a fresh kernel that ran only the cells before it")
        if state.not_implemented:
            notes.append(f"{state.not_implemented} cell(s) still raise NotImplementedError (parts left to do)")
        notes.extend(state.errors)
        return outcome, {p: grades[p] for p in self.exercise.parts}, notes

    async def _run(self, skip: set[int], stop_at: int | None, pending: list[str],
                   grades: dict[str, PartGrade], workdir: str) -> _RunState:
        state = _RunState()
        learner = [new_code_cell(source) for _, source in self.cells]
        # One fresh nonce per appended cell: it exists only here and in that cell, never on disk.
        nonces = {part: secrets.token_hex(16) for part in pending}
        grading = [new_code_cell(grading_cell_source(self.exercise, part, nonces[part], self.check_timeout))
                   for part in pending]
        nb = new_notebook(cells=[*learner, *grading, new_code_cell("pass")])
        client = _Client(nb, n_learner=len(learner), kernel_name="python3", allow_errors=True,
                         interrupt_on_timeout=True, shutdown_kernel="immediate", record_timing=False,
                         iopub_timeout=min(4, self.grace),  # after a timeout: how long to wait for the last output
                         error_on_timeout={"ename": "TimeoutError", "evalue": "timed out", "traceback": []})
        client.km = client.create_kernel_manager()
        try:
            await client.async_start_new_kernel(cwd=workdir, env=self.env, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await client.async_start_new_kernel_client()
            deadline = time.monotonic() + self.timeout
            for k, cell in enumerate(learner):
                if k in skip:
                    continue
                if stop_at is not None and k >= stop_at:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    state.timeout_note = (f"ran out of time ({self.timeout:g} s) before "
                                          f"{_describe(cell.source, self.cells[k][0])}; the cells from there on "
                                          "were not run and the checks used what was defined by then")
                    break
                client.timeout = max(1, math.ceil(remaining))
                client.timed_out = False
                try:
                    await client.async_execute_cell(cell, k)
                except DeadKernelError:
                    state.crash_cell = k
                    return state
                if client.timed_out:
                    where = _describe(cell.source, self.cells[k][0])
                    if not await self._responsive(client, len(nb.cells) - 1):
                        state.hang_cell = k
                        return state
                    state.timeout_note = (f"time ran out ({self.timeout:g} s for the whole notebook) while {where} was "
                                          "running: it was interrupted, the cells after it were not run, and the "
                                          "checks used what was defined by then")
                    break
                for out in cell.outputs:
                    if out.output_type != "error":
                        continue
                    if out.ename == "NotImplementedError":
                        state.not_implemented += 1
                    else:
                        detail = f": {_clip(out.evalue, 300)}" if out.evalue else ""
                        state.errors.append(f"{_describe(cell.source, self.cells[k][0])} raised {out.ename}{detail}")
            if client.forged:
                state.errors.append(f"the notebook itself displayed {client.forged} grading result(s); ignored "
                                    "(only the grader's own cells count)")
            for part, cell in zip(pending, grading, strict=True):
                index = len(learner) + pending.index(part)
                client.timeout = math.ceil(self.check_timeout) + self.grace
                client.timed_out = False
                try:
                    await client.async_execute_cell(cell, index, store_history=False)
                except DeadKernelError:
                    grades[part] = PartGrade(part, Status.FAIL.value, "your code stopped the Python kernel while "
                                                                      "this part was checked")
                    state.lost_part, state.lost_how = part, "stopped the kernel"
                    return state
                if client.timed_out:
                    grades[part] = PartGrade(part, Status.FAIL.value, "your code did not finish while being "
                                             f"checked (more than {self.check_timeout:g} s, interrupts ignored)")
                    if not await self._responsive(client, len(nb.cells) - 1):
                        state.lost_part, state.lost_how = part, "never finished and ignored interrupts (kernel killed)"
                        return state
                    continue
                grades[part] = self._read_grade(part, cell, nonces[part])
        finally:
            await client._async_cleanup_kernel()
        return state

    async def _responsive(self, client: _Client, ping_index: int) -> bool:
        """After a timeout (the kernel was interrupted): does it answer a trivial cell again?"""
        client.timeout = self.grace
        client.timed_out = False
        try:
            await client.async_execute_cell(client.nb.cells[ping_index], ping_index, store_history=False)
        except DeadKernelError:
            return False
        return not client.timed_out

    @staticmethod
    def _read_grade(part: str, cell: NotebookNode, nonce: str) -> PartGrade:
        payloads = [out.data[_MIME] for out in cell.outputs if out.output_type == "display_data"]
        genuine = [p for p in payloads if isinstance(p, dict) and p.get("nonce") == nonce]
        valid = [p for p in genuine if p.get("part") == part and p.get("status") in {s.value for s in Status}]
        if len(genuine) == 1 and len(valid) == 1:
            return PartGrade(part, valid[0]["status"], _clip(str(valid[0].get("message", "")), _MAX_TEXT))
        if len(genuine) > 1:
            return PartGrade(part, Status.FAIL.value, "the notebook interfered with grading (several results were "
                                                      "reported for this part)")
        errors = [f"{out.ename}: {out.evalue}" for out in cell.outputs if out.output_type == "error"]
        detail = f" ({_clip(errors[0], 300)})" if errors else ""
        return PartGrade(part, Status.FAIL.value, f"the grader's check of this part did not report a result{detail}; "
                                                  "the notebook may interfere with Python itself")


# --------------------------------------------------------------------------------------------- the batch


_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_KEY|PRIVATE_KEY", re.IGNORECASE)


def _kernel_env(smoke: bool) -> dict[str, str]:
    """The grader's environment for the learner's kernel, minus the check log and anything that looks secret."""
    env = {k: v for k, v in os.environ.items() if k != CHECK_LOG_ENV and not _SECRET.search(k)}
    if smoke:
        env[SMOKE_ENV] = "1"
    return env


async def _grade_one(learner: str, path: Path, exercise: _Exercise, limit: asyncio.Semaphore, *, timeout: float,
                     check_timeout: float, smoke: bool, max_runs: int, grace: float) -> Submission:
    nb, number, reason = _identify(path, exercise.number)
    if reason is not None:
        parts = {p: PartGrade(p, NOT_GRADED, "the notebook was not run") for p in exercise.parts}
        return Submission(learner, path, number, reason.split(":", 1)[0], parts, [reason])
    notes = [] if number else [f"has no metadata.exowavenet.notebook: graded as exercise {exercise.number}"]
    run = _SubmissionRun(nb, exercise, timeout=timeout, check_timeout=check_timeout, env=_kernel_env(smoke),
                         max_runs=max_runs, grace=grace)
    async with limit:
        start = time.monotonic()
        try:
            outcome, parts, more = await run.grade()
        except Exception as err:  # noqa: BLE001 - one broken submission (or kernel start) never stops the batch
            reason = f"the grader failed on this notebook: {type(err).__name__}: {_clip(str(err), 300)}"
            parts = {p: PartGrade(p, NOT_GRADED, reason) for p in exercise.parts}
            return Submission(learner, path, number, GRADER_ERROR, parts, [*notes, reason], time.monotonic() - start)
    return Submission(learner, path, number, outcome, parts, [*notes, *more], time.monotonic() - start)


def grade_folder(
    folder: Path,
    exercise: str,
    *,
    timeout: float = 600.0,
    check_timeout: float = 30.0,
    jobs: int = 1,
    smoke: bool = False,
    max_runs: int = 3,
    grace: float = _GRACE,
    progress: Callable[[Submission, int, int], None] | None = None,
) -> GradeBatch:
    """Grade every ``*.ipynb`` under ``folder`` as exercise ``exercise``; never stops on a bad submission.

    ``timeout`` bounds the learner's cells of one notebook (all together), ``check_timeout`` each check,
    ``jobs`` is the number of notebooks run at once, ``max_runs`` the kernels one notebook may use (a cell that
    kills the kernel is skipped on the next), ``grace`` the seconds an interrupted kernel has to answer again
    before it is killed. ``progress(submission, done, total)`` is called as each finishes.
    Raises :class:`UsageError` for a missing folder, an unknown exercise or a folder without notebooks.
    """
    number = normalise_exercise(exercise)
    for name, value in (("timeout", timeout), ("check_timeout", check_timeout)):
        if not value > 0:
            raise UsageError(f"{name} must be a positive number of seconds, got {value!r}")
    if jobs < 1 or max_runs < 1 or not grace > 0:
        raise UsageError(f"jobs and max_runs must be at least 1 and grace positive, got {jobs}, {max_runs}, {grace}")
    names, ignored = find_submissions(folder)
    if not names:
        raise UsageError(f"no *.ipynb files under {folder}")
    spec = _exercise(number)

    async def main() -> list[Submission]:
        limit = asyncio.Semaphore(jobs)
        done: list[Submission] = []

        async def one(learner: str, path: Path) -> Submission:
            result = await _grade_one(learner, path, spec, limit, timeout=timeout, check_timeout=check_timeout,
                                      smoke=smoke, max_runs=max_runs, grace=grace)
            done.append(result)
            if progress is not None:
                progress(result, len(done), len(names))
            return result

        return list(await asyncio.gather(*(one(learner, path) for learner, path in names.items())))

    submissions = asyncio.run(main())
    return GradeBatch(number, notebook_info(number).title, list(spec.parts), submissions, ignored, timeout,
                      check_timeout, smoke, datetime.now(timezone.utc).isoformat(timespec="seconds"))


# --------------------------------------------------------------------------------------------- reports


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table_rows(batch: GradeBatch) -> list[dict[str, str]]:
    """One row per learner: learner, file, notebook, score, max, outcome, then each part's status."""
    rows = []
    for sub in sorted(batch.submissions, key=lambda s: s.learner):
        row = {"learner": sub.learner, "file": sub.path.name, "notebook": sub.notebook, "score": str(sub.score),
               "max": str(sub.max_score), "outcome": sub.outcome}
        row.update({part: sub.parts[part].status for part in batch.parts})
        rows.append(row)
    return rows


def render_csv(batch: GradeBatch) -> str:
    """The score table as CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["learner", "file", "notebook", "score", "max", "outcome",
                                                *batch.parts], lineterminator="\n")
    writer.writeheader()
    for row in table_rows(batch):
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_safe(value: str) -> str:
    # A learner-chosen file name must not become a spreadsheet formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _md(text: str) -> str:
    """Learner-controlled text made inert in Markdown: one line, every character that could start markup or HTML
    (and table pipes) backslash-escaped, so it renders as the same text."""
    return re.sub(r"([\\`*_\[\]<>|#!])", r"\\\1", " ".join(str(text).split()))


def _summary(batch: GradeBatch) -> str:
    subs = batch.submissions
    mean = sum(s.score for s in subs) / len(subs) if subs else 0.0
    problems = sum(s.outcome != GRADED for s in subs)
    return (f"{len(subs)} notebook(s), mean score {mean:.1f} / {len(batch.parts)}; "
            f"{problems} need(s) a look (outcome other than '{GRADED}')")


def render_markdown(batch: GradeBatch) -> str:
    """The readable report: summary table, then per-learner feedback with every check message."""
    subs = sorted(batch.submissions, key=lambda s: s.learner)
    lines = [
        f"# Grades · exercise {batch.exercise} · {_md(batch.title)}",
        "",
        f"Graded by `exowavenet grade` on {batch.finished}: {_summary(batch)}. Time allowed: {batch.timeout:g} s "
        f"per notebook, {batch.check_timeout:g} s per check{', smoke mode' if batch.smoke else ''}.",
        "",
        "| Learner | Score | Outcome | " + " | ".join(batch.parts) + " |",
        "|---|---|---|" + "---|" * len(batch.parts),
    ]
    for sub in subs:
        icons = " | ".join(_ICON[sub.parts[p].status] for p in batch.parts)
        lines.append(f"| [{_md(sub.learner)}](#{_anchor(sub.learner)}) | {sub.score}/{sub.max_score} | "
                     f"{_md(sub.outcome)} | {icons} |")
    lines += ["", "✅ passed · ❌ not yet right · ⏳ not attempted · ⛔ not graded"]
    if batch.ignored:
        lines += ["", "Ignored (not `*.ipynb`): " + ", ".join(_md(p.name) for p in batch.ignored)]
    for sub in subs:
        lines += ["", f'<a id="{_anchor(sub.learner)}"></a>', "",
                  f"## {_md(sub.learner)} · {sub.score}/{sub.max_score}", "",
                  f"File {_md(sub.path.name)} · notebook {_md(sub.notebook or '?')} · {_md(sub.outcome)} · "
                  f"{sub.seconds:.1f} s", ""]
        lines += [f"- {_ICON[g.status]} **{_md(g.part)}** {_LABEL[g.status]}: {_md(g.message)}"
                  for g in sub.parts.values()]
        if sub.problems:
            lines += ["", "Running the notebook:", ""] + [f"- {_md(p)}" for p in sub.problems]
    return "\n".join(lines) + "\n"


def _anchor(learner: str) -> str:
    return "learner-" + (re.sub(r"[^a-z0-9]+", "-", learner.lower()).strip("-") or "x")


_CSS = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
.pass{color:#176f2c}.fail{color:#a4161a}.not_attempted{color:#7a5b00}.not_graded{color:#555}
.outcome{font-size:.9em;color:#555}section{border-top:1px solid #ddd;margin-top:1.5rem}"""


def render_html(batch: GradeBatch) -> str:
    """The readable report as a self-contained HTML page (no scripts; every learner string escaped)."""
    e = html.escape
    subs = sorted(batch.submissions, key=lambda s: s.learner)
    head = "".join(f"<th>{e(p)}</th>" for p in batch.parts)
    rows = []
    for sub in subs:
        cells = "".join(f'<td class="{g.status}" title="{e(_LABEL[g.status])}">{_ICON[g.status]}</td>'
                        for g in sub.parts.values())
        rows.append(f'<tr><td><a href="#{_anchor(sub.learner)}">{e(sub.learner)}</a></td>'
                    f"<td>{sub.score}/{sub.max_score}</td><td>{e(sub.outcome)}</td>{cells}</tr>")
    sections = []
    for sub in subs:
        items = "".join(f'<li class="{g.status}">{_ICON[g.status]} <b>{e(g.part)}</b> {_LABEL[g.status]}: '
                        f"{e(g.message)}</li>" for g in sub.parts.values())
        notes = "".join(f"<li>{e(p)}</li>" for p in sub.problems)
        sections.append(
            f'<section id="{_anchor(sub.learner)}"><h2>{e(sub.learner)} · {sub.score}/{sub.max_score}</h2>'
            f'<p class="outcome">File {e(sub.path.name)} · notebook {e(sub.notebook or "?")} · {e(sub.outcome)} · '
            f"{sub.seconds:.1f} s</p><ul>{items}</ul>"
            + (f"<p>Running the notebook:</p><ul>{notes}</ul>" if notes else "") + "</section>")
    ignored = (f"<p>Ignored (not *.ipynb): {e(', '.join(p.name for p in batch.ignored))}</p>"
               if batch.ignored else "")
    title = f"Grades · exercise {batch.exercise} · {batch.title}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"
            f"<p>Graded by <code>exowavenet grade</code> on {e(batch.finished)}: {e(_summary(batch))}. "
            f"Time allowed: {batch.timeout:g} s per notebook, {batch.check_timeout:g} s per check"
            f"{', smoke mode' if batch.smoke else ''}.</p>"
            f"<table><tr><th>Learner</th><th>Score</th><th>Outcome</th>{head}</tr>{''.join(rows)}</table>"
            "<p>✅ passed · ❌ not yet right · ⏳ not attempted · ⛔ not graded</p>"
            f"{ignored}{''.join(sections)}</body></html>\n")


def write_report(batch: GradeBatch, report: Path) -> tuple[Path, Path]:
    """Write the report (HTML when ``report`` ends with .html, else Markdown) and the CSV table beside it."""
    report = Path(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    is_html = report.suffix.lower() in (".html", ".htm")
    report.write_text(render_html(batch) if is_html else render_markdown(batch), encoding="utf-8")
    table = report.with_suffix(".csv")
    table.write_text(render_csv(batch), encoding="utf-8")
    return report, table


def run_cli(args) -> int:  # noqa: ANN001 - the argparse namespace of `exowavenet grade`
    """``exowavenet grade``: grade, print progress and a summary, write the report and CSV; return the exit code."""
    import sys

    def progress(sub: Submission, done: int, total: int) -> None:
        print(f"[{done}/{total}] {sub.learner}: {sub.score}/{sub.max_score} ({sub.outcome}, {sub.seconds:.0f} s)",
              file=sys.stderr, flush=True)

    try:
        batch = grade_folder(args.folder, args.exercise, timeout=args.timeout, check_timeout=args.check_timeout,
                             jobs=args.jobs, smoke=args.smoke, progress=progress)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    report, table = write_report(batch, args.report or Path(f"grades-ex{batch.exercise}.md"))
    print(f"{_summary(batch)}\nreport: {report}\ntable:  {table}")
    for sub in sorted(batch.submissions, key=lambda s: s.learner):
        if sub.outcome != GRADED:
            print(f"  check {sub.learner} ({sub.path}): {sub.problems[0] if sub.problems else sub.outcome}")
    return batch.exit_code
