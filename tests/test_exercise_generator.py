"""The single-source generator: solution regions → exercise stubs, and the staleness check."""

from __future__ import annotations

import ast
import json
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from exowavenet_lib.cli import main
from exowavenet_lib.curriculum.catalog import REPOSITORY_URL, colab_url, info_for_path, notebook_info
from exowavenet_lib.curriculum.exercises import (
    MarkerError,
    build,
    make_exercise,
    strip_regions,
    sync_managed_content,
)
from tests.conftest import ROOT

NAME = "01_functions_decorators.ipynb"


def _strip(source: str, cell_type: str = "code"):
    return strip_regions(source, cell_type=cell_type, where="solutions/x.ipynb cell 3 (id abc)")


def test_region_becomes_stub_with_part_id():
    out = _strip("x = 1\n### BEGIN SOLUTION 1a\ny = x + 1\n### END SOLUTION\nprint(x)")
    assert out.source == 'x = 1\n# YOUR CODE HERE\nraise NotImplementedError("1a")\nprint(x)'
    assert out.parts == ["1a"]


def test_indented_region_keeps_indentation_and_compiles():
    src = (
        "def f(data):\n"
        "    \"\"\"Doc.\"\"\"\n"
        "    for x in data:\n"
        "        ### BEGIN SOLUTION 2b\n"
        "        if x:\n"
        "            return x\n"
        "        ### END SOLUTION\n"
        "    return None\n"
    )
    out = _strip(src)
    assert "        # YOUR CODE HERE\n        raise NotImplementedError(\"2b\")\n    return None" in out.source
    ast.parse(out.source)


def test_several_regions_in_one_cell():
    src = (
        "def a():\n    ### BEGIN SOLUTION 1a\n    return 1\n    ### END SOLUTION\n\n"
        "def b():\n    ### BEGIN SOLUTION 1b\n    return 2\n    ### END SOLUTION\n"
    )
    out = _strip(src)
    assert out.parts == ["1a", "1b"]
    assert out.source.count("raise NotImplementedError") == 2
    assert "return 1" not in out.source and "return 2" not in out.source
    ast.parse(out.source)


def test_markdown_region_becomes_answer_placeholder():
    out = _strip("**Question.** Why?\n\n### BEGIN SOLUTION 3a\nBecause.\n### END SOLUTION", "markdown")
    assert out.source == "**Question.** Why?\n\n**YOUR ANSWER HERE** (part 3a)"
    assert "Because" not in out.source


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION 1a\nx = 1\n", "line 1: BEGIN SOLUTION is never closed"),
        ("x = 1\n### END SOLUTION\n", "line 2: END SOLUTION without a BEGIN"),
        ("### BEGIN SOLUTION 1a\n### BEGIN SOLUTION 1b\n### END SOLUTION\n", "line 2: BEGIN SOLUTION inside"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "needs a part id like '1a', got None"),
        ("### BEGIN SOLUTION part-one\nx = 1\n### END SOLUTION\n", "got 'part-one'"),
        ("x = 1  ### BEGIN SOLUTION 1a\n### END SOLUTION\n", "line 1: solution markers must stand alone"),
        ("### BEGIN SOLUTION 1a\nx = 1\n### END SOLUTION here\n", "line 3: solution markers must stand alone"),
    ],
    ids=["unclosed", "end-without-begin", "nested", "no-part-id", "bad-part-id", "inline-begin", "trailing-end"],
)
def test_malformed_markers_raise_naming_notebook_cell_and_line(source, message):
    with pytest.raises(MarkerError) as err:
        _strip(source)
    assert "solutions/x.ipynb cell 3 (id abc)" in str(err.value)
    assert message in str(err.value)


def _solution_notebook() -> nbformat.NotebookNode:
    task = new_code_cell("def f():\n    ### BEGIN SOLUTION 1a\n    return 1\n    ### END SOLUTION", execution_count=4)
    task.outputs = [new_output("stream", name="stdout", text="hi\n")]
    task.metadata = {"tags": ["task"], "collapsed": True, "execution": {"iopub.status.busy": "x"}}
    task.id = "task-1a"
    plain = new_code_cell("print(1)", execution_count=5, outputs=[new_output("stream", name="stdout", text="1\n")])
    secret = new_code_cell("ANSWER = 42", metadata={"tags": ["solution-only"]})
    question = new_markdown_cell("Why?\n### BEGIN SOLUTION 1a\nBecause.\n### END SOLUTION")
    badge = new_markdown_cell("[![Open](b.svg)](https://colab.research.google.com/github/someone/fork/blob/dev/x.ipynb)")
    nb = new_notebook(cells=[badge, task, plain, secret, question])
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "widgets": {"state": {}},
        "papermill": {"duration": 3.2},
    }
    return nb


def test_make_exercise_strips_outputs_drops_solution_only_and_keeps_kernelspec():
    exercise, refs = make_exercise(_solution_notebook(), NAME)
    sources = [c.source for c in exercise.cells]
    assert "ANSWER = 42" not in "\n".join(sources)
    assert len(exercise.cells) == 4
    for cell in exercise.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert exercise.cells[1].metadata == {"tags": ["task"]}
    assert exercise.cells[1].id == "task-1a"
    assert exercise.metadata["kernelspec"]["name"] == "python3"
    assert exercise.metadata["exowavenet"] == {"notebook": "01", "kind": "exercise"}
    assert "widgets" not in exercise.metadata and "papermill" not in exercise.metadata
    assert refs == {"1a": ["def f():\n    return 1", "Why?\nBecause."]}
    assert colab_url(f"exercises/{NAME}") in exercise.cells[0].source


def test_make_exercise_error_names_the_notebook_and_cell():
    nb = _solution_notebook()
    nb.cells[2].source = "### BEGIN SOLUTION 1b\nx = 1"
    with pytest.raises(MarkerError, match=rf"solutions/{NAME} cell 2 \(id .+\), line 1"):
        make_exercise(nb, NAME)


def test_sync_points_links_and_setup_cell_at_the_configured_repository():
    nb = _solution_notebook()
    nb.cells.append(new_code_cell('REPO_URL = "https://github.com/old/place"\nx = 1', metadata={"tags": ["setup"]}))
    synced = sync_managed_content(nb, f"solutions/{NAME}")
    assert synced.cells[0].source.endswith(f"({colab_url(f'solutions/{NAME}')})")
    assert synced.cells[-1].source == f'REPO_URL = "{REPOSITORY_URL}"\nx = 1'
    assert "someone/fork" in nb.cells[0].source, "sync must not modify its input"


def test_catalogue_helpers_validate_their_input():
    assert colab_url("a/b.ipynb", "https://github.com/o/r.git", "dev") == (
        "https://colab.research.google.com/github/o/r/blob/dev/a/b.ipynb"
    )
    with pytest.raises(ValueError, match="repository_url"):
        colab_url("a.ipynb", "https://gitlab.com/o/r")
    with pytest.raises(ValueError, match="number"):
        notebook_info("13")
    with pytest.raises(ValueError, match="should be named 01_functions_decorators.ipynb"):
        info_for_path(ROOT / "solutions" / "01_decorators.ipynb")


@pytest.fixture
def repo(tmp_path):
    """A copy of the parts of the repository the generator owns."""
    for folder in ("solutions", "exercises", "colab"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copytree(ROOT / "exowavenet_lib" / "checks" / "_reference", tmp_path / "exowavenet_lib/checks/_reference")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def test_repository_exercises_are_up_to_date():
    assert build(ROOT, check=True) == []


def test_check_fails_after_editing_a_solution_region_and_build_fixes_it(repo, capsys):
    path = repo / "solutions" / NAME
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "### BEGIN SOLUTION 1b" in c.source)
    cell.source = cell.source.replace("if flux <= 0:", "if flux < 0:")
    nbformat.write(nb, path)
    assert main(["build-exercises", "--check", "--root", str(repo)]) == 1
    assert "stale: exowavenet_lib/checks/_reference/ex01.json" in capsys.readouterr().out
    assert main(["build-exercises", "--root", str(repo)]) == 0
    assert main(["build-exercises", "--check", "--root", str(repo)]) == 0
    refs = json.loads((repo / "exowavenet_lib/checks/_reference/ex01.json").read_text())
    assert "if flux < 0:" in refs["1b"][0]


def test_check_fails_when_an_exercise_is_edited_by_hand_or_orphaned(repo):
    exercise = repo / "exercises" / NAME
    exercise.write_text(exercise.read_text().replace("YOUR CODE HERE", "my code"))
    (repo / "exercises" / "99_extra.ipynb").write_text("{}")
    assert set(build(repo, check=True)) == {exercise, repo / "exercises" / "99_extra.ipynb"}
    build(repo)
    assert build(repo, check=True) == [] and not (repo / "exercises" / "99_extra.ipynb").exists()


def test_malformed_solution_gives_a_clear_cli_error(repo, capsys):
    path = repo / "solutions" / NAME
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source += "\n### END SOLUTION"
    nbformat.write(nb, path)
    assert main(["build-exercises", "--check", "--root", str(repo)]) == 2
    err = capsys.readouterr().err
    assert f"solutions/{NAME} cell {len(nb.cells) - 1}" in err and "END SOLUTION without a BEGIN" in err


def test_readme_map_lists_all_twelve_notebooks_with_links_for_existing_ones():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- BEGIN CURRICULUM MAP -->")[1].split("<!-- END CURRICULUM MAP -->")[0]
    rows = [line for line in table.strip().splitlines()[2:]]
    assert [r.split("|")[1].strip() for r in rows] == [f"{n:02d}" for n in range(1, 13)]
    assert colab_url(f"exercises/{NAME}") in rows[0] and colab_url(f"solutions/{NAME}") in rows[0]
    colab = (ROOT / "colab" / "README.md").read_text()
    assert colab_url(f"exercises/{NAME}") in colab


def test_build_requires_a_solutions_folder(tmp_path):
    with pytest.raises(ValueError, match="no solutions/ folder"):
        build(tmp_path)
