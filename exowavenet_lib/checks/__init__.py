"""Learner checks, one module per notebook: ``from exowavenet_lib.checks import ex01``.

Each part is a :class:`~exowavenet_lib.checks._core.Check` with ``.check(obj)``, ``.hint()`` and
``.solution()``. Checks print ✅/❌ feedback and never raise into the learner's notebook.
"""

from exowavenet_lib.checks._core import (
    CHECK_LOG_ENV,
    Check,
    CheckResult,
    Status,
    checks_of,
)

__all__ = ["CHECK_LOG_ENV", "Check", "CheckResult", "Status", "checks_of"]
