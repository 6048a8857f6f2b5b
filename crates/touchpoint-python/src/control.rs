//! Progress and interrupts for long calls: Rust loops check for signals and report to a Python callback.
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use touchpoint_core::{Control, Error};

/// Checks Python's signal handlers (Ctrl-C, kernel interrupt) and forwards progress to `callback`.
#[derive(Debug)]
pub struct PyControl {
    callback: Option<Py<PyAny>>,
    /// Set when Ctrl-C surfaced inside the progress callback (Python ran the signal handler there).
    interrupted: AtomicBool,
}

impl PyControl {
    /// A control reporting to `callback(stage, done, total)` when given.
    pub fn new(callback: Option<Py<PyAny>>) -> Self {
        PyControl { callback, interrupted: AtomicBool::new(false) }
    }
}

impl Control for PyControl {
    fn checkpoint(&self) -> Result<(), Error> {
        if self.interrupted.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        Python::attach(|py| py.check_signals()).map_err(|_| Error::Interrupted)
    }

    fn progress(&self, stage: &str, done: u64, total: u64) {
        if let Some(cb) = &self.callback {
            Python::attach(|py| {
                // A failing progress bar must not fail the computation, but a Ctrl-C that Python
                // delivered while running it must stop the work at the next checkpoint.
                if let Err(e) = cb.call1(py, (stage, done, total)) {
                    if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                        self.interrupted.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    }
}
