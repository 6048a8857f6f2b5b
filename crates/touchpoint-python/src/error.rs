//! The exception classes of `touchpoint.exceptions`, made here, and one mapping from the crates'
//! errors to them.
//!
//! pyo3's `create_exception!` gives a class one base; ours have two (`InputError` is a
//! `TouchpointError` and a `ValueError`, so code catching `ValueError` keeps working), so the classes
//! are made the way that macro makes them, by calling `type(name, bases, namespace)` once, and are
//! held as typed handles ([`Class`]) rather than looked up by name.
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use touchpoint_core::Error as CoreError;
use touchpoint_frame::Error as FrameError;

/// One exception class of `touchpoint.exceptions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `TouchpointError(Exception)`.
    Touchpoint,
    /// `InputError(TouchpointError, ValueError)`.
    Input,
    /// `ColumnError(InputError, KeyError)`.
    Column,
    /// `ParameterError(TouchpointError, ValueError)`.
    Parameter,
    /// `UnsupportedError(TouchpointError, ValueError)`.
    Unsupported,
    /// `GoalBookError(TouchpointError, ValueError)`.
    GoalBook,
    /// `ReadError(TouchpointError, OSError)`.
    Read,
}

impl Class {
    /// Every class, parents before children.
    pub const ALL: [Class; 7] = [
        Class::Touchpoint,
        Class::Input,
        Class::Column,
        Class::Parameter,
        Class::Unsupported,
        Class::GoalBook,
        Class::Read,
    ];

    /// The class name.
    pub fn name(self) -> &'static str {
        match self {
            Class::Touchpoint => "TouchpointError",
            Class::Input => "InputError",
            Class::Column => "ColumnError",
            Class::Parameter => "ParameterError",
            Class::Unsupported => "UnsupportedError",
            Class::GoalBook => "GoalBookError",
            Class::Read => "ReadError",
        }
    }

    /// Its parent among ours and the built-in exception it also derives from.
    fn bases(self) -> (Option<Class>, Option<&'static str>) {
        match self {
            Class::Touchpoint => (None, None),
            Class::Input | Class::Parameter | Class::Unsupported | Class::GoalBook => {
                (Some(Class::Touchpoint), Some("ValueError"))
            }
            Class::Column => (Some(Class::Input), Some("KeyError")),
            Class::Read => (Some(Class::Touchpoint), Some("OSError")),
        }
    }

    fn doc(self) -> &'static str {
        match self {
            Class::Touchpoint => "Base class of every Touchpoint error.",
            Class::Input => {
                "The data is at fault: an empty path, a negative or NaN weight, a bad timestamp, a reserved name."
            }
            Class::Column => "A column is missing, misnamed or of the wrong type.",
            Class::Parameter => {
                "A model, dimension or option parameter is out of its domain, or a name is unknown."
            }
            Class::Unsupported => {
                "A model cannot run on this data (e.g. time decay by duration on journeys without times)."
            }
            Class::GoalBook => {
                "A goal book (KPIs, costs, social channels) is malformed or lacks a KPI that is attributed."
            }
            Class::Read => "A file cannot be read.",
        }
    }

    /// The class object (made on first use).
    pub fn get(self, py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
        static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();
        let all = CLASSES.get_or_try_init(py, || make_classes(py))?;
        Ok(all[self as usize].bind(py).clone())
    }

    /// An exception of this class with `message`.
    pub fn err(self, message: impl Into<String>) -> PyErr {
        let message = message.into();
        Python::attach(|py| match self.get(py) {
            Ok(cls) => PyErr::from_type(cls, message),
            Err(e) => e,
        })
    }
}

/// `type(name, bases, namespace)` for every class, in [`Class::ALL`] order.
fn make_classes(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let builtins = py.import("builtins")?;
    let mut made: Vec<Py<PyType>> = Vec::with_capacity(Class::ALL.len());
    for class in Class::ALL {
        let (parent, builtin) = class.bases();
        let mut bases = vec![match parent {
            Some(p) => made[p as usize].bind(py).clone().into_any(),
            None => py.get_type::<PyException>().into_any(),
        }];
        if let Some(b) = builtin {
            bases.push(builtins.getattr(b)?);
        }
        let namespace = PyDict::new(py);
        namespace.set_item("__module__", "touchpoint.exceptions")?;
        namespace.set_item("__doc__", class.doc())?;
        if class == Class::Column {
            // KeyError's `__str__` quotes the message; the message reads as it is.
            namespace.set_item("__str__", builtins.getattr("BaseException")?.getattr("__str__")?)?;
        }
        let made_class =
            builtins.getattr("type")?.call1((class.name(), PyTuple::new(py, bases)?, namespace))?;
        made.push(made_class.cast_into::<PyType>()?.unbind());
    }
    Ok(made)
}

/// Adds every class to `module` (the extension, which `touchpoint.exceptions` re-exports).
pub fn add_classes(module: &Bound<'_, PyModule>) -> PyResult<()> {
    for class in Class::ALL {
        module.add(class.name(), class.get(module.py())?)?;
    }
    Ok(())
}

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

/// The exception class for a core error.
fn core_class(e: &CoreError) -> Class {
    match e {
        CoreError::InvalidParameter { .. }
        | CoreError::InvalidOption { .. }
        | CoreError::UnknownModel { .. }
        | CoreError::UnknownDimension { .. } => Class::Parameter,
        CoreError::NoTimes
        | CoreError::Unsupported { .. }
        | CoreError::NeedsTimelines { .. }
        | CoreError::Aggregated { .. } => Class::Unsupported,
        CoreError::InvalidPeriod { .. } => Class::Parameter,
        CoreError::NotConverged { .. } | CoreError::Remote { .. } => Class::Touchpoint,
        CoreError::GoalBook { .. } | CoreError::UnknownKpi { .. } => Class::GoalBook,
        _ => Class::Input,
    }
}

/// A media-mix error as the matching `touchpoint.exceptions` class (Ctrl-C as KeyboardInterrupt).
pub fn mmm_error(e: touchpoint_mmm::Error) -> PyErr {
    use touchpoint_mmm::Error as M;
    let class = match &e {
        M::Interrupted => return PyKeyboardInterrupt::new_err("interrupted"),
        M::InvalidOption { .. } | M::InvalidPrior { .. } | M::TooFewRows { .. } => Class::Parameter,
        M::Column { .. } | M::Constant { .. } => Class::Column,
        M::Value { .. } | M::Periods { .. } | M::Lift { .. } => Class::Input,
        M::Budget { .. } | M::Channel { .. } => Class::Parameter,
        M::Goal { .. } => Class::GoalBook,
        M::Load { .. } => Class::Read,
        _ => Class::Touchpoint,
    };
    class.err(e.to_string())
}

/// A panel-estimator error as the matching `touchpoint.exceptions` class (Ctrl-C as
/// KeyboardInterrupt). Every variant is named: a new one must be placed here.
pub fn panel_error(e: touchpoint_panel::Error) -> PyErr {
    use touchpoint_panel::Error as P;
    let class = match &e {
        P::Interrupted => return PyKeyboardInterrupt::new_err("interrupted"),
        P::InvalidOption { .. } => Class::Parameter,
        P::Column { .. } => Class::Column,
        P::Value { .. }
        | P::Duplicate { .. }
        | P::Unbalanced { .. }
        | P::VariesWithinUnit { .. }
        | P::TreatedBeforePanel { .. }
        | P::CohortNotPeriod { .. }
        | P::Reverts { .. }
        | P::NoComparison(_) => Class::Input,
        P::TooLarge(_) => Class::Unsupported,
        P::Stopped(_) => Class::Touchpoint,
    };
    class.err(e.to_string())
}

/// A report error as the matching `touchpoint.exceptions` class. Every variant is named: a new one
/// must be placed here.
pub fn report_error(e: touchpoint_report::Error) -> PyErr {
    use touchpoint_report::Error as R;
    match e {
        R::Core(c) => PyTpErr::Core(c).into(),
        R::Mmm(m) => mmm_error(m),
        R::InvalidOption { .. } => Class::Parameter.err(e.to_string()),
        R::Write { .. } => Class::Read.err(e.to_string()),
        R::Template(_) => Class::Touchpoint.err(e.to_string()),
    }
}

/// A `touchpoint.exceptions.ParameterError` with `message`.
pub fn parameter_error(message: String) -> PyErr {
    Class::Parameter.err(message)
}

impl From<PyTpErr> for PyErr {
    fn from(e: PyTpErr) -> PyErr {
        match e {
            PyTpErr::Core(CoreError::Interrupted) => PyKeyboardInterrupt::new_err("interrupted"),
            PyTpErr::Core(c) => core_class(&c).err(c.to_string()),
            PyTpErr::Frame(f) => {
                let class = match &f {
                    FrameError::MissingColumn { .. }
                    | FrameError::ColumnType { .. }
                    | FrameError::Number { .. } => Class::Column,
                    FrameError::Read { .. } | FrameError::Write { .. } => Class::Read,
                    FrameError::InvalidOption { .. } => Class::Parameter,
                    FrameError::Polars(_) => Class::Touchpoint,
                    _ => Class::Input,
                };
                class.err(f.to_string())
            }
        }
    }
}
