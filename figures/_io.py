"""Writing a figure or table analogue (one PNG or one Markdown table per name), and reading
the records it shows."""

from __future__ import annotations

import io
import pathlib
from typing import Iterable

import bounds
from bounds import Record


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
    """A Markdown table cell, escaped as the report escapes its cells (`bounds.markdown_cell`)."""
    return bounds.markdown_cell(text)


def claim_records(records: Iterable[Record], claim: str, *, level: str | None = None,
                  data_model: str | None = None) -> list[Record]:
    """The records of ``claim`` (at ``level``, of the measurement on ``data_model``), in ledger
    order: what a figure shows of the verdicts, read from the records, never judged again."""
    return [r for r in records if r.claim == claim and (level is None or r.level == level)
            and (data_model is None or r.params.get("data_model") == data_model)]
