"""Every learner check passes the reference solution and rejects every mutant in tests/mutants/."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import exowavenet_lib.checks as checks_pkg
from exowavenet_lib.checks import Status, checks_of
from tests import mutants as mutants_pkg
from tests.conftest import solution_namespace

NOTEBOOKS = sorted(m.name[2:] for m in pkgutil.iter_modules(checks_pkg.__path__) if m.name.startswith("ex"))
CHECKS = {nb: checks_of(importlib.import_module(f"exowavenet_lib.checks.ex{nb}")) for nb in NOTEBOOKS}
MUTANTS = {nb: importlib.import_module(f"tests.mutants.ex{nb}").MUTANTS for nb in NOTEBOOKS}
PARTS = [(nb, part) for nb in NOTEBOOKS for part in CHECKS[nb]]
MUTANT_CASES = [
    pytest.param(nb, part, mutant, id=f"ex{nb}-{part}-{mutant.__name__}")
    for nb, part in PARTS
    for mutant in MUTANTS[nb].get(part, [])
]


def test_every_check_module_has_a_mutant_catalogue():
    catalogues = {m.name[2:] for m in pkgutil.iter_modules(mutants_pkg.__path__) if m.name.startswith("ex")}
    assert catalogues == set(NOTEBOOKS)


@pytest.mark.parametrize(("nb", "part"), PARTS, ids=[f"ex{nb}-{part}" for nb, part in PARTS])
def test_catalogue_has_at_least_three_mutants_per_part(nb, part):
    assert len(MUTANTS[nb].get(part, [])) >= 3, f"ex{nb} part {part} needs at least 3 mutants"
    assert set(MUTANTS[nb]) <= set(CHECKS[nb]), "mutants listed for a part that has no check"


@pytest.mark.parametrize(("nb", "part"), PARTS, ids=[f"ex{nb}-{part}" for nb, part in PARTS])
def test_check_passes_the_reference_solution(nb, part, smoke):
    check = CHECKS[nb][part]
    namespace = solution_namespace(nb)
    result = check.evaluate(*(namespace[name] for name in check.arguments))
    assert result.status is Status.PASS, result.message


@pytest.mark.parametrize(("nb", "part", "mutant"), MUTANT_CASES)
def test_check_rejects_mutant(nb, part, mutant):
    result = CHECKS[nb][part].evaluate(mutant)
    assert result.status is Status.FAIL, f"{mutant.__name__} ({mutant.__doc__}) was not rejected: {result}"
    assert result.message.strip(), "a rejection must say what was expected"
