//! Build script shared by the packages whose binaries and tests link polars (see the Makefile).
//!
//! The Python bindings use pyo3-polars, which turns on polars' `python` feature; cargo unifies features
//! across the workspace, so every binary linking polars then references libpython. Maturin builds with
//! `PYO3_BUILD_EXTENSION_MODULE=1` (an extension must not link libpython), and `make test` runs cargo
//! with the same environment so that polars is compiled once. Under that variable this script links
//! libpython into this package's own binaries and tests (with an rpath), so they link and run.
use std::process::Command;

fn main() {
    // The `touchpoint` command is a position-dependent executable: a position-independent one has
    // its 2.5 MB of vtables and other pointer tables rewritten by the loader at every start, a page
    // fault per page, which costs more than a small Markov run. Only the final link changes.
    let cli = std::env::var("CARGO_PKG_NAME").as_deref() == Ok("touchpoint-cli");
    if cli && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=touchpoint=-no-pie");
    }
    println!("cargo:rerun-if-env-changed=PYO3_BUILD_EXTENSION_MODULE");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    if std::env::var_os("PYO3_BUILD_EXTENSION_MODULE").is_none() {
        return; // pyo3 links libpython itself, or Python is not in the build at all
    }
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script =
        "import sysconfig as s; print(s.get_config_var('LIBDIR')); print(s.get_config_var('LDVERSION'))";
    let Ok(out) = Command::new(&python).args(["-c", script]).output() else { return };
    if !out.status.success() {
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    if let (Some(dir), Some(version)) = (lines.next(), lines.next()) {
        println!("cargo:rustc-link-arg=-L{dir}");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg=-lpython{version}");
    }
}
