//! Progress and interrupts for long calls: Rust loops check for signals and report to a Python callback.
use pyo3::prelude::*;
use touchpoint_core::{Control, Error};

/// Checks Python's signal handlers (Ctrl-C, kernel interrupt) and forwards progress to `callback`.
#[derive(Debug)]
pub struct PyControl {
    callback: Option<Py<PyAny>>,
}

impl PyControl {
    /// A control reporting to `callback(stage, done, total)` when given.
    pub fn new(callback: Option<Py<PyAny>>) -> Self {
        PyControl { callback }
    }
}

impl Control for PyControl {
    fn checkpoint(&self) -> Result<(), Error> {
        Python::attach(|py| py.check_signals()).map_err(|_| Error::Interrupted)
    }

    fn progress(&self, stage: &str, done: u64, total: u64) {
        if let Some(cb) = &self.callback {
            Python::attach(|py| {
                // A failing progress bar must not fail the computation.
                let _ = cb.call1(py, (stage, done, total));
            });
        }
    }
}
