"""The exceptions Touchpoint raises. Every one derives from :class:`TouchpointError`.

Where the input is at fault the class also derives from :class:`ValueError`, so code that already
catches ``ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "TouchpointError",
    "InputError",
    "ColumnError",
    "ParameterError",
    "UnsupportedError",
    "GoalBookError",
    "ReadError",
]


class TouchpointError(Exception):
    """Base class of every Touchpoint error."""


class InputError(TouchpointError, ValueError):
    """The data is at fault: an empty path, a negative or NaN weight, a bad timestamp, a reserved name."""


class ColumnError(InputError, KeyError):
    """A column is missing, misnamed or of the wrong type."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ParameterError(TouchpointError, ValueError):
    """A model, dimension or option parameter is out of its domain, or a name is unknown."""


class UnsupportedError(TouchpointError, ValueError):
    """A model cannot run on this data (e.g. time decay by duration on journeys without times)."""


class GoalBookError(TouchpointError, ValueError):
    """A goal book (KPIs, costs, social channels) is malformed or lacks a KPI that is attributed."""


class ReadError(TouchpointError, OSError):
    """A file cannot be read."""
