"""Argument checks made before a call crosses into Rust, so a wrong type is a ParameterError naming
the argument rather than an OverflowError or TypeError from the binding layer."""

from __future__ import annotations

from typing import Any

from .exceptions import ParameterError

__all__ = ["whole"]


def whole(name: str, value: Any, low: int, *, optional: bool = False) -> None:
    """Refuses anything but a whole number in ``[low, 2**64)`` (or None when ``optional``)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**64:
        allowed = " or None" if optional else ""
        raise ParameterError(f"{name} must be a whole number >= {low}{allowed}, got {value!r}")
