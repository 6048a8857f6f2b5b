//! The `touchpoint` console script: the Rust CLI run in this process.
use pyo3::prelude::*;

/// Runs the `touchpoint` command line `argv` (program name first) with the GIL released; returns the
/// exit code. The console script `touchpoint._cli:main` calls it. A panic (a bug) ends the command
/// with code 101, as it ends the native binary, instead of crossing into Python.
#[pyfunction]
pub fn cli_main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(|| std::panic::catch_unwind(|| touchpoint_cli::run(argv)).unwrap_or(101))
}
