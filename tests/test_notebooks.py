"""Every notebook executes top to bottom at smoke size (jupytext percent -> nbclient), and
every figure it draws is shown (an inline PNG per ``plt.subplots``) with data in it (each
notebook asserts ``Axes.has_data()`` before showing)."""

import base64
import io
import json
import math
import pathlib

import jupytext
import matplotlib.image
import nbclient
import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parent.parent / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_shows_its_figures(path, monkeypatch, tmp_path):
    monkeypatch.setenv("DSSL_SIZE", "smoke")
    monkeypatch.setenv("DSSL_NOTEBOOK_OUT", str(tmp_path))  # where notebooks write the data they plot
    # The inline backend, as in Jupyter: plt.show() then emits the figure as an image output
    # (under Agg it emits nothing, and a broken plot would go unseen).
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    drawn = sum(cell.source.count("plt.subplots(") for cell in notebook.cells if cell.cell_type == "code")
    assert drawn and len(images) == drawn
    for png in images:
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(png)), format="png")
        assert pixels.shape[0] > 100 and pixels.std() > 0.05  # not a blank canvas
    if path.stem == "03_mar":
        _check_mar_data(json.loads((tmp_path / "03_mar.json").read_text()))


def _check_mar_data(plotted):
    # Every curve has points, all finite; the A-MMD grows with the shift of z-bar (Eq. 6) and
    # gamma decays with participation (Eq. 7); Fig. 2b has one point per Dirichlet alpha.
    assert all(len(v) > 0 and all(math.isfinite(x) for x in v) for v in plotted.values())
    assert plotted["ammd"][-1] > plotted["ammd"][0] and plotted["gamma"][0] > plotted["gamma"][-1]
    assert len(plotted["fig2b_fl_MIM"]) == len(plotted["fig2b_fl_MAR"]) == 4


def test_there_is_a_notebook():
    assert len(NOTEBOOKS) >= 3, "notebooks/ holds the jupytext .py notebooks 01, 02 and 03"
