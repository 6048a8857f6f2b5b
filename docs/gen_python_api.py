"""Writes docs/python.md, the Python API reference, from the package's docstrings and signatures.

    python docs/gen_python_api.py          (or: make docs)

A test regenerates it and fails when the committed file differs, so the reference stays true.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import touchpoint as tp
from touchpoint import models, plotting, spark

OUT = Path(__file__).with_name("python.md")


def _doc(obj: object) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _sig(obj: object) -> str:
    try:
        return str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"


def _members(cls: type) -> list[str]:
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_") and name not in ("_repr_html_",):
            continue
        if isinstance(member, property):
            out.append(f"- `.{name}` (property): {_first(member)}")
        elif isinstance(member, (classmethod, staticmethod)):
            fn = member.__func__
            out.append(f"- `{cls.__name__}.{name}{_sig(fn)}`\n\n{_indent(_doc(fn))}")
        elif inspect.isfunction(member):
            out.append(f"- `.{name}{_sig(member)}`: {_first(member)}")
    return out


def _first(obj: object) -> str:
    doc = _doc(obj)
    return doc.split("\n\n")[0].replace("\n", " ") if doc else ""


def _indent(text: str) -> str:
    return "\n".join(("    " + line) if line else "" for line in text.splitlines())


def render() -> str:
    parts = [
        "# Python API reference",
        "",
        "Generated from the docstrings by `python docs/gen_python_api.py`; do not edit by hand.",
        f"`import touchpoint as tp` (version {tp.__version__}).",
        "",
    ]
    for name in tp.__all__:
        if name in ("__version__", "models", "spark", "SCENARIOS"):
            continue
        obj = getattr(tp, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            continue
        if inspect.isclass(obj):
            parts += [f"## `tp.{name}`", "", _doc(obj), "", *_members(obj), ""]
        elif callable(obj):
            parts += [f"## `tp.{name}{_sig(obj)}`", "", _doc(obj), ""]
    parts += ["## Models (`tp.models`)", "", _doc(models), ""]
    for name in models.__all__:
        obj = getattr(models, name)
        if inspect.isclass(obj) and obj is not models.Model:
            parts += [f"### `tp.models.{name}{_sig(obj)}`", "", _doc(obj), ""]
        elif inspect.isfunction(obj):
            parts += [f"### `tp.models.{name}{_sig(obj)}`", "", _doc(obj), ""]
    parts += ["## Spark (`tp.spark`)", "", _doc(spark), ""]
    parts += [f"### `tp.spark.journeys{_sig(spark.journeys)}`", "", _doc(spark.journeys), ""]
    parts += ["### `tp.spark.SparkJourneys`", "", _doc(spark.SparkJourneys), "", *_members(spark.SparkJourneys), ""]
    parts += ["## Plots (`touchpoint.plotting`)", "", _doc(plotting), ""]
    for name in plotting.__all__:
        fn = getattr(plotting, name)
        parts += [f"### `plotting.{name}{_sig(fn)}`", "", _doc(fn), ""]
    parts += ["## Exceptions", ""]
    for name in tp.__all__:
        obj = getattr(tp, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            bases = ", ".join(b.__name__ for b in obj.__bases__)
            parts.append(f"- `tp.{name}({bases})`: {_first(obj)}")
    parts += ["", f"Built-in scenarios (`tp.SCENARIOS`): {', '.join(tp.SCENARIOS)}.", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == text else 1)
    OUT.write_text(text)
    print(f"wrote {OUT}")
