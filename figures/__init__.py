"""Synthetic analogues of the paper's figures and tables, one module per figure.

Each module names the producer whose measurement it plots (``PRODUCER``) and draws it with
``make(measurement, out_dir) -> list[pathlib.Path]``: a figure shows exactly the numbers the
ledger's records were judged on, never a second draw.

    >>> sorted(FIGURES)[:2]
    ['bounds_vs_d', 'fig1_data']
"""

from __future__ import annotations

import importlib
import pathlib
from typing import Any, Mapping, Sequence

#: Figure name -> module (imported when drawn: the modules pull in matplotlib).
FIGURES: Mapping[str, str] = {
    "bounds_vs_d": "figures.bounds_vs_d",
    "fig1_data": "figures.fig1_data",
    "fig2a_connectivity": "figures.fig2a_connectivity",
    "fig2b_mar": "figures.fig2b_mar",
    "fig3_features": "figures.fig3_features",
    "fig3_mar": "figures.fig3_mar",
    "table1": "figures.table1",
    "table5": "figures.table5",
    "table6": "figures.table6",
    "table7": "figures.table7",
    "table8": "figures.table8",
}


def _check(only: Sequence[str] | None) -> list[str]:
    names = list(FIGURES) if not only else list(only)
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise ValueError(f"figure names {unknown} must be among {sorted(FIGURES)}")
    return names


def producers_for(only: Sequence[str] | None = None) -> list[str]:
    """The producers whose measurements the named figures (all by default) need."""
    names = _check(only)
    return sorted({importlib.import_module(FIGURES[n]).PRODUCER for n in names})


def make_figures(measurements: Mapping[str, Any], out_dir, *, only: Sequence[str] | None = None,
                 progress=None) -> list[pathlib.Path]:
    """Draw the named figures (all by default) from the producers' ``measurements`` (by
    producer name) into ``out_dir``; figures whose producer did not run are skipped. The
    matplotlib backend is the caller's (the CLI uses Agg)."""
    say = progress or (lambda message: None)
    written: list[pathlib.Path] = []
    for name in _check(only):
        module = importlib.import_module(FIGURES[name])
        if module.PRODUCER not in measurements:
            continue
        say(f"figure {name}")
        written.extend(module.make(measurements[module.PRODUCER], pathlib.Path(out_dir)))
    return written


__all__ = ["FIGURES", "make_figures", "producers_for"]
