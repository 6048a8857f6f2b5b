//! One mapping from the crates' errors to the Python exceptions of `touchpoint.exceptions`.
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use touchpoint_core::Error as CoreError;
use touchpoint_frame::Error as FrameError;

/// Any error of ours on its way to Python.
#[derive(Debug)]
pub enum PyTpErr {
    /// From touchpoint-core.
    Core(CoreError),
    /// From touchpoint-frame.
    Frame(FrameError),
}

impl From<CoreError> for PyTpErr {
    fn from(e: CoreError) -> Self {
        PyTpErr::Core(e)
    }
}

impl From<FrameError> for PyTpErr {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Core(c) => PyTpErr::Core(c),
            other => PyTpErr::Frame(other),
        }
    }
}

/// The exception class (in `touchpoint.exceptions`) for a core error.
fn core_class(e: &CoreError) -> &'static str {
    match e {
        CoreError::InvalidParameter { .. }
        | CoreError::InvalidOption { .. }
        | CoreError::UnknownModel { .. }
        | CoreError::UnknownDimension { .. } => "ParameterError",
        CoreError::NoTimes
        | CoreError::Unsupported { .. }
        | CoreError::NeedsTimelines { .. }
        | CoreError::Aggregated { .. } => "UnsupportedError",
        CoreError::InvalidPeriod { .. } => "ParameterError",
        CoreError::NotConverged { .. } | CoreError::Remote { .. } => "TouchpointError",
        CoreError::GoalBook { .. } | CoreError::UnknownKpi { .. } => "GoalBookError",
        _ => "InputError",
    }
}

/// A media-mix error as the matching `touchpoint.exceptions` class (Ctrl-C as KeyboardInterrupt).
pub fn mmm_error(e: touchpoint_mmm::Error) -> PyErr {
    use touchpoint_mmm::Error as M;
    let class = match &e {
        M::Interrupted => return PyKeyboardInterrupt::new_err("interrupted"),
        M::InvalidOption { .. } | M::InvalidPrior { .. } | M::TooFewRows { .. } => "ParameterError",
        M::Column { .. } | M::Constant { .. } => "ColumnError",
        M::Value { .. } | M::Periods { .. } | M::Lift { .. } => "InputError",
        M::Load { .. } => "ReadError",
        _ => "TouchpointError",
    };
    raise(class, e.to_string())
}

/// A `touchpoint.exceptions.ParameterError` with `message`.
pub fn parameter_error(message: String) -> PyErr {
    raise("ParameterError", message)
}

fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("touchpoint.exceptions")
            .and_then(|m| m.getattr(class))
            .and_then(|cls| cls.call1((message.clone(),)));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

impl From<PyTpErr> for PyErr {
    fn from(e: PyTpErr) -> PyErr {
        match e {
            PyTpErr::Core(CoreError::Interrupted) => PyKeyboardInterrupt::new_err("interrupted"),
            PyTpErr::Core(c) => raise(core_class(&c), c.to_string()),
            PyTpErr::Frame(f) => {
                let class = match &f {
                    FrameError::MissingColumn { .. }
                    | FrameError::ColumnType { .. }
                    | FrameError::Number { .. } => "ColumnError",
                    FrameError::Read { .. } | FrameError::Write { .. } => "ReadError",
                    FrameError::InvalidOption { .. } => "ParameterError",
                    FrameError::Polars(_) => "TouchpointError",
                    _ => "InputError",
                };
                raise(class, f.to_string())
            }
        }
    }
}
