"""The exceptions Touchpoint raises. Every one derives from :class:`TouchpointError`.

Where the input is at fault the class also derives from :class:`ValueError`, so code that already
catches ``ValueError`` keeps working. The classes are made by the native extension, which raises
them itself (one mapping from the Rust errors, in `crates/touchpoint-python/src/error.rs`); the
hierarchy:

- ``TouchpointError(Exception)``: base class of every Touchpoint error;
- ``InputError(TouchpointError, ValueError)``: the data is at fault (an empty path, a negative or
  NaN weight, a bad timestamp, a reserved name);
- ``ColumnError(InputError, KeyError)``: a column is missing, misnamed or of the wrong type;
- ``ParameterError(TouchpointError, ValueError)``: a model, dimension or option parameter is out of
  its domain, or a name is unknown;
- ``UnsupportedError(TouchpointError, ValueError)``: a model cannot run on this data;
- ``GoalBookError(TouchpointError, ValueError)``: a goal book is malformed or lacks an attributed KPI;
- ``ReadError(TouchpointError, OSError)``: a file cannot be read.
"""

from __future__ import annotations

from touchpoint._touchpoint import (
    ColumnError,
    GoalBookError,
    InputError,
    ParameterError,
    ReadError,
    TouchpointError,
    UnsupportedError,
)

__all__ = [
    "TouchpointError",
    "InputError",
    "ColumnError",
    "ParameterError",
    "UnsupportedError",
    "GoalBookError",
    "ReadError",
]
