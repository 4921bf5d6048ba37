"""What every benchmark report shares: the machine it ran on, and writing JSON."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> dict:
    """The machine a figure was measured on (figures only compare on the same machine)."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (None where the platform has none): how busy the machine was."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def write_json(report: dict, path: Path) -> None:
    """Write a report as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
