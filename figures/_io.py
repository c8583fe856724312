"""Writing a figure or table analogue: one PNG or one Markdown table per name."""

from __future__ import annotations

import pathlib


def save_figure(fig, out_dir, name: str) -> pathlib.Path:
    """Write a matplotlib figure as ``out_dir/name.png`` (folder created), close it, return the path."""
    import matplotlib.pyplot as plt

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_table(markdown: str, out_dir, name: str) -> pathlib.Path:
    """Write a Markdown table as ``out_dir/name.md`` (folder created) and return the path."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.md"
    path.write_text(markdown, encoding="utf-8")
    return path


def cell(text) -> str:
    """A Markdown table cell: ``|`` escaped so that e.g. ``|Ā|`` does not split the row."""
    return str(text).replace("|", "\\|")
