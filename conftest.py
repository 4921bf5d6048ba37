"""Repository-wide pytest hooks (applies to tests/ and to the notebooks nbval collects from solutions/)."""

import pytest


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """nbval runs a notebook's cells as separate items sharing one kernel: keep them on one xdist worker."""
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.xdist_group(name=item.path.stem))
