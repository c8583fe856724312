"""Writing a figure or table analogue: one PNG or one Markdown table per name."""

from __future__ import annotations

import io
import pathlib

import bounds


def save_figure(fig, out_dir, name: str) -> pathlib.Path:
    """Write a matplotlib figure as ``out_dir/name.png`` (folder created, file written atomically),
    close it, return the path."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    path = pathlib.Path(out_dir) / f"{name}.png"
    bounds.write_atomic(path, buffer.getvalue())  # never half a PNG, even if the run is killed
    return path


def save_table(markdown: str, out_dir, name: str) -> pathlib.Path:
    """Write a Markdown table as ``out_dir/name.md`` (folder created) and return the path."""
    path = pathlib.Path(out_dir) / f"{name}.md"
    bounds.write_atomic(path, markdown)
    return path


def cell(text) -> str:
    """A Markdown table cell: ``|`` escaped so that e.g. ``|Ā|`` does not split the row."""
    return str(text).replace("|", "\\|")
