//! The `touchpoint` binary: see [`touchpoint_cli::run`].
use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(touchpoint_cli::run(std::env::args_os()))
}
