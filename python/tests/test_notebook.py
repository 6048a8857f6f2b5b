"""The tutorial notebook runs top to bottom on a real Jupyter kernel; any cell error fails."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "tutorial.ipynb"


def test_tutorial_executes() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be stripped in git"
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {}))
    # credit, agreement, transitions, contribution, truth vs models (shares, incremental x2), credit with
    # intervals, media-mix contributions and response curves, the rollout's event study
    assert images == 11
    htmls = [
        o["data"]["text/html"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]
    assert any("Contribution report" in h for h in htmls) and any("<b>Attribution</b>" in h for h in htmls)
    assert any("<b>MMMFit</b>" in h for h in htmls)
    texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("comes from better shares" in t for t in texts) and any("ROI" in t for t in texts)
