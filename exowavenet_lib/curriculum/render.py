"""Render executed notebooks as self-contained HTML pages (figures embedded) and write an index linking them."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

INDEX_NAME = "index.html"


def notebook_title(nb: NotebookNode, fallback: str) -> str:
    """The ``# NN · Title`` heading of the notebook's first markdown cell, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+?)\s*$", cell.source, re.MULTILINE)
            return match.group(1) if match else fallback
    return fallback


def render_html(executed: Path) -> Path:
    """Write ``executed`` (an executed .ipynb) as HTML next to it, figures inlined as base64 PNG; return the path."""
    from nbconvert import HTMLExporter  # slow to import; only rendering needs it

    executed = Path(executed)
    nb = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(
        nb, resources={"metadata": {"name": notebook_title(nb, executed.stem)}}
    )
    out = executed.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def _status(nb: NotebookNode) -> tuple[str, str]:
    meta = nb.metadata.get("papermill", {})
    duration = meta.get("duration")
    took = f"{duration:.1f} s" if isinstance(duration, (int, float)) else ""
    failed = meta.get("exception") or any(
        out.get("output_type") == "error" for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    return ("failed" if failed else "ok"), took


def write_index(output_dir: Path) -> Path:
    """Write ``output_dir/index.html`` linking every rendered notebook under it (``<folder>/<name>.html``)."""
    output_dir = Path(output_dir)
    rows = []
    for page in sorted(output_dir.glob("*/*.html")):
        executed = page.with_suffix(".ipynb")
        if not executed.is_file():
            continue
        nb = nbformat.read(executed, as_version=4)
        status, took = _status(nb)
        link = page.relative_to(output_dir).as_posix()
        rows.append(
            f'<tr><td><a href="{html.escape(link)}">{html.escape(notebook_title(nb, page.stem))}</a></td>'
            f"<td>{html.escape(page.parent.name)}</td><td class=\"{status}\">{status}</td><td>{took}</td></tr>"
        )
    index = output_dir / INDEX_NAME
    index.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>ExoWaveNet notebooks</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
        ".ok{color:#176f2c}.failed{color:#a4161a}</style></head><body><h1>ExoWaveNet notebooks</h1>"
        "<p>Executed by <code>exowavenet run</code>; each page shows the notebook with its outputs and figures.</p>"
        "<table><tr><th>Notebook</th><th>Folder</th><th>Run</th><th>Time</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n",
        encoding="utf-8",
    )
    return index
