"""Single source: generate ``exercises/`` (and everything else derived) from ``solutions/``.

In a solution notebook, the code a learner must write sits between marker lines::

    ### BEGIN SOLUTION 1a
    ...reference code...
    ### END SOLUTION

Each region becomes ``# YOUR CODE HERE`` + ``raise NotImplementedError("1a")`` at the marker's
indentation (markdown regions become ``YOUR ANSWER HERE``); cells tagged ``solution-only`` are
dropped; outputs and execution counts are stripped; the kernelspec is kept.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from exowavenet_lib.curriculum.catalog import (
    NOTEBOOKS,
    REPOSITORY_URL,
    colab_badge,
    colab_url,
    info_for_path,
)

SOLUTION_ONLY_TAG = "solution-only"
SETUP_TAG = "setup"
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?:[ \t]+(?P<part>\S+))?[ \t]*$")
_END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
_PART = re.compile(r"^\d{1,2}[a-z]$")
_COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"']+")
_REPO_LINE = re.compile(r'^REPO_URL = ".*"$', re.MULTILINE)
_MAP_BEGIN, _MAP_END = "<!-- BEGIN CURRICULUM MAP -->", "<!-- END CURRICULUM MAP -->"


class MarkerError(ValueError):
    """A malformed solution marker; the message names the notebook, cell and line."""


@dataclass
class Stripped:
    """A cell's source with solution regions replaced, and the parts it contained."""

    source: str
    parts: list[str]


def strip_regions(source: str, *, cell_type: str, where: str) -> Stripped:
    """Replace every solution region in one cell's source; ``where`` names the cell in errors."""
    out: list[str] = []
    parts: list[str] = []
    open_at: int | None = None
    for lineno, line in enumerate(source.split("\n"), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            part = begin.group("part")
            if open_at is not None:
                raise MarkerError(f"{where}, line {lineno}: BEGIN SOLUTION inside the region opened on line {open_at}")
            if part is None or not _PART.match(part):
                raise MarkerError(f"{where}, line {lineno}: BEGIN SOLUTION needs a part id like '1a', got {part!r}")
            open_at = lineno
            parts.append(part)
            indent = begin.group("indent")
            if cell_type == "code":
                out += [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("{part}")']
            else:
                out.append(f"**YOUR ANSWER HERE** (part {part})")
        elif end:
            if open_at is None:
                raise MarkerError(f"{where}, line {lineno}: END SOLUTION without a BEGIN SOLUTION")
            open_at = None
        elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            raise MarkerError(f"{where}, line {lineno}: solution markers must stand alone on their line: {line!r}")
        elif open_at is None:
            out.append(line)
    if open_at is not None:
        raise MarkerError(f"{where}, line {open_at}: BEGIN SOLUTION is never closed by END SOLUTION")
    return Stripped("\n".join(out), parts)


def _without_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if not (_BEGIN.match(line) or _END.match(line)))


def sync_managed_content(nb: NotebookNode, relative_path: str) -> NotebookNode:
    """Point Colab links at ``relative_path`` and the set-up cell at :data:`REPOSITORY_URL` (returns a copy)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.source = _COLAB_LINK.sub(colab_url(relative_path), cell.source)
        if SETUP_TAG in cell.metadata.get("tags", []):
            cell.source = _REPO_LINE.sub(f'REPO_URL = "{REPOSITORY_URL}"', cell.source)
    return nb


def _normalise(nb: NotebookNode, kind: str, number: str) -> None:
    keep = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    nb.metadata = nbformat.from_dict({**keep, "exowavenet": {"notebook": number, "kind": kind}})


def make_exercise(solution: NotebookNode, name: str) -> tuple[NotebookNode, dict[str, list[str]]]:
    """Exercise notebook and reference solution cells by part for one (already synced) solution notebook."""
    info = info_for_path(Path(name))
    exercise = copy.deepcopy(solution)
    _normalise(exercise, "exercise", info.number)
    exercise.cells = []
    references: dict[str, list[str]] = {}
    for index, cell in enumerate(solution.cells):
        where = f"solutions/{name} cell {index} (id {cell.get('id', '?')})"
        tags = cell.metadata.get("tags", [])
        stripped = strip_regions(cell.source, cell_type=cell.cell_type, where=where)
        for part in dict.fromkeys(stripped.parts):
            references.setdefault(part, []).append(_without_markers(cell.source))
        if SOLUTION_ONLY_TAG in tags:
            continue
        new = copy.deepcopy(cell)
        new.source = stripped.source
        new.metadata = nbformat.from_dict({"tags": tags} if tags else {})
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        exercise.cells.append(new)
    return sync_managed_content(exercise, f"exercises/{name}"), references


def _dump(nb: NotebookNode) -> str:
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4) + "\n"


def render_curriculum_map(root: Path) -> str:
    """Markdown table of the twelve notebooks with Colab links for those that exist."""
    rows = ["| # | Notebook | Topics | Time (min) | Exercise | Solution |", "|---|---|---|---|---|---|"]
    for info in NOTEBOOKS:
        if (root / "solutions" / info.filename).exists():
            links = [colab_badge(f"{kind}/{info.filename}") for kind in ("exercises", "solutions")]
        else:
            links = ["planned", "planned"]
        rows.append(f"| {info.number} | {info.title} | {info.topics} | {info.minutes} | {links[0]} | {links[1]} |")
    return "\n".join(rows)


def render_colab_readme(root: Path) -> str:
    """The generated ``colab/README.md``: every notebook's Colab links and whether a GPU runtime helps."""
    lines = [
        "# Running the curriculum on Google Colab",
        "",
        "<!-- Generated by `exowavenet build-exercises` from exowavenet_lib/curriculum/catalog.py; do not edit. -->",
        "",
        "Click a badge to open a notebook in Colab. Its first code cell (tagged `setup`) installs the course",
        f"library from `{REPOSITORY_URL}` **only when it runs on Colab**, with no version pins, so",
        "Colab's preinstalled PyTorch is kept. For notebooks marked *GPU*, choose",
        "*Runtime → Change runtime type → T4 GPU*; every notebook also runs on a CPU runtime.",
        "",
        "| # | Notebook | Exercise | Solution | Runtime |",
        "|---|---|---|---|---|",
    ]
    for info in NOTEBOOKS:
        if (root / "solutions" / info.filename).exists():
            ex, sol = (colab_badge(f"{kind}/{info.filename}") for kind in ("exercises", "solutions"))
        else:
            ex = sol = "planned"
        lines.append(f"| {info.number} | {info.title} | {ex} | {sol} | {info.gpu} |")
    return "\n".join(lines) + "\n"


def _with_map(readme: str, table: str) -> str:
    if _MAP_BEGIN not in readme or _MAP_END not in readme:
        raise ValueError(f"README.md must contain the lines {_MAP_BEGIN} and {_MAP_END}")
    head, rest = readme.split(_MAP_BEGIN, 1)
    _, tail = rest.split(_MAP_END, 1)
    return f"{head}{_MAP_BEGIN}\n{table}\n{_MAP_END}{tail}"


def generated_files(root: Path) -> dict[Path, str]:
    """Every file ``build-exercises`` owns, with the content it should have now."""
    files: dict[Path, str] = {}
    for path in sorted((root / "solutions").glob("*.ipynb")):
        info = info_for_path(path)
        solution = sync_managed_content(nbformat.read(path, as_version=4), f"solutions/{path.name}")
        solution.metadata.setdefault("exowavenet", {}).update({"notebook": info.number, "kind": "solution"})
        exercise, references = make_exercise(solution, path.name)
        files[path] = _dump(solution)
        files[root / "exercises" / path.name] = _dump(exercise)
        files[root / "exowavenet_lib" / "checks" / "_reference" / f"ex{info.number}.json"] = (
            json.dumps(references, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        )
    readme = root / "README.md"
    files[readme] = _with_map(readme.read_text(encoding="utf-8"), render_curriculum_map(root))
    files[root / "colab" / "README.md"] = render_colab_readme(root)
    return files


def _orphans(root: Path, files: dict[Path, str]) -> list[Path]:
    owned_dirs = [root / "exercises", root / "exowavenet_lib" / "checks" / "_reference"]
    return [p for d in owned_dirs if d.is_dir() for p in sorted(d.iterdir()) if p.is_file() and p not in files]


def build(root: Path, *, check: bool = False) -> list[Path]:
    """Regenerate derived files under ``root``; with ``check=True`` write nothing and return the stale ones."""
    root = Path(root)
    if not (root / "solutions").is_dir():
        raise ValueError(f"root {root} has no solutions/ folder; run from the repository root or pass --root")
    files = generated_files(root)
    stale = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    stale += _orphans(root, files)
    if not check:
        for path in stale:
            if path in files:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(files[path], encoding="utf-8")
            else:
                path.unlink()
    return stale
