"""Runs tutorial.ipynb top to bottom on a Jupyter kernel and stores its outputs in it (`make notebook`).

The notebook itself is the source: edit it in Jupyter (or as JSON), then run this so that the outputs
stored in git are the current ones. `python/tests/test_notebook.py` runs it again and fails when the
stored outputs differ from a fresh run. Progress lines are off (TOUCHPOINT_PROGRESS=0): their timings
would differ from run to run.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parent / "tutorial.ipynb"


def execute(nb: Any) -> Any:
    """`nb` with every code cell run (outputs replaced), as the tests and `make notebook` run it."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    # The kernel inherits the environment when it starts: set the variable for it only.
    before = os.environ.get("TOUCHPOINT_PROGRESS")
    os.environ["TOUCHPOINT_PROGRESS"] = "0"
    try:
        client.execute()
    finally:
        if before is None:
            del os.environ["TOUCHPOINT_PROGRESS"]
        else:
            os.environ["TOUCHPOINT_PROGRESS"] = before
    return nb


NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?")


def _numbers(text: str) -> str:
    """The numbers a result shows, in order: the markup and layout of a table's HTML or text differ
    between polars releases, the numbers must not."""
    text = re.sub(r"<[^>]+>", " ", re.sub(r" at 0x[0-9a-f]+", "", text))
    return " ".join(NUMBER.findall(text))


def comparable(nb: Any) -> list[list[str]]:
    """Per code cell what a reader sees, in a form two runs agree on: printed text, the numbers of
    each result (tables, reprs), and a marker per image (pixels differ between matplotlib builds, so
    an image is compared by its presence)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        seen = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                if o.get("name") == "stdout":
                    seen.append("stdout:" + o.get("text", ""))
                continue
            data = o.get("data", {})
            if "image/png" in data:
                seen.append("<image>")
            for kind in ("text/html", "text/plain"):
                if kind in data and "image/png" not in data:
                    seen.append("result:" + _numbers(data[kind]))
                    break
            if o.get("output_type") == "error":
                seen.append("error:" + o.get("ename", ""))
        out.append(seen)
    return out


def main() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    execute(nb)
    nbformat.write(nb, NOTEBOOK)
    print(f"ran {NOTEBOOK} and stored its outputs", file=sys.stderr)


if __name__ == "__main__":
    main()
