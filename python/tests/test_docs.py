"""docs/python.md is what the docstrings say now (regenerate with `make docs`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_reference_is_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_python_api.py"), "--check"], timeout=120)
    assert out.returncode == 0, "docs/python.md is stale: run `make docs`"


def test_every_public_name_has_a_docstring() -> None:
    import touchpoint as tp

    missing = [n for n in tp.__all__ if n != "__version__" and not (getattr(tp, n).__doc__ or "").strip()]
    assert not missing, missing
