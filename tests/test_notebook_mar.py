"""notebooks/03_mar.py executes top to bottom at smoke size and its summary figure holds data."""

import json
import math
import pathlib

import jupytext
import nbclient

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "03_mar.py"


def test_mar_notebook_executes_and_plots_data(monkeypatch, tmp_path):
    monkeypatch.setenv("DSSL_SIZE", "smoke")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("DSSL_NOTEBOOK_OUT", str(tmp_path))
    notebook = jupytext.read(NOTEBOOK)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert (tmp_path / "03_mar.png").stat().st_size > 0
    plotted = json.loads((tmp_path / "03_mar.json").read_text())
    # every curve has points, all finite; the A-MMD grows with the shift and gamma decays (Eq. 6, Eq. 7)
    assert all(len(v) > 0 and all(math.isfinite(x) for x in v) for v in plotted.values())
    assert plotted["ammd"][-1] > plotted["ammd"][0] and plotted["gamma"][0] > plotted["gamma"][-1]
    assert len(plotted["fig2b_fl_MIM"]) == len(plotted["fig2b_fl_MAR"]) == 4
