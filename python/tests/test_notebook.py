"""The tutorial notebook is stored with its outputs, and they are current: a fresh run on a real
Jupyter kernel shows what is stored (`make notebook` refreshes them). Any cell error fails."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

HERE = Path(__file__).resolve().parents[2] / "examples" / "notebooks"
NOTEBOOK = HERE / "tutorial.ipynb"


def _runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("run_tutorial", HERE / "run_tutorial.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tutorial_is_stored_with_current_outputs() -> None:
    run = _runner()
    stored = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert sum(1 for c in code if c.get("outputs")) >= len(code) - 2, "stored without outputs: run `make notebook`"
    fresh = run.execute(copy.deepcopy(stored))
    images = sum(1 for c in fresh.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {}))
    # credit, agreement, transitions, contribution, truth vs models (shares, incremental x2), credit with
    # intervals, media-mix contributions and response curves, the quarter's scenario, the rollout's
    # event study, belt 2's step
    assert images == 14
    htmls = [
        o["data"]["text/html"]
        for c in fresh.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]
    assert any("Contribution report" in h for h in htmls) and any("<b>Attribution</b>" in h for h in htmls)
    assert any("<b>MMMFit</b>" in h for h in htmls)
    texts = [o.get("text", "") for c in fresh.cells if c.cell_type == "code" for o in c.outputs]
    assert any("comes from better shares" in t for t in texts) and any("ROI" in t for t in texts)
    assert any("the channels added" in t for t in texts), "the report's summary is printed"
    # What is stored is what a fresh run shows.
    want, got = run.comparable(stored), run.comparable(fresh)
    assert len(want) == len(got)
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        assert w == g, f"code cell {i}: the stored outputs are stale; run `make notebook`"
