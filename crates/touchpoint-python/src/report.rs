//! Bindings of the report (`touchpoint-report`): one self-contained HTML page.
use std::path::PathBuf;

use pyo3::prelude::*;
use touchpoint_core::GoalBook;
use touchpoint_report::{Inputs, ReportOptions};

use crate::attribution::PyAttribution;
use crate::error::{parameter_error, report_error, PyTpErr};
use crate::mmm::PyMmmFit;

/// The report's HTML for `attribution` valued with `goals` (JSON), with media-mix fits per KPI, and
/// the page's plain-words summary (one sentence per goal) and warnings. `options` is a JSON object of
/// the options the user gave (the rest take Rust's defaults). Writes the page to `path` when given.
#[pyfunction]
#[pyo3(signature = (attribution, goals, mmm=None, options=None, path=None, breakdowns=None))]
pub fn report(
    py: Python<'_>,
    attribution: &PyAttribution,
    goals: &str,
    mmm: Option<Vec<(String, PyRef<'_, PyMmmFit>)>>,
    options: Option<&str>,
    path: Option<PathBuf>,
    breakdowns: Option<Vec<PyRef<'_, PyAttribution>>>,
) -> PyResult<(String, Vec<String>, Vec<String>)> {
    let book = GoalBook::from_json(goals, "(in memory)").map_err(PyTpErr::from)?;
    let opts: ReportOptions = match options {
        None => ReportOptions::default(),
        Some(text) => {
            serde_json::from_str(text).map_err(|e| parameter_error(format!("invalid report option: {e}")))?
        }
    };
    let fits: Vec<(String, std::sync::Arc<touchpoint_mmm::Fit>)> =
        mmm.unwrap_or_default().iter().map(|(k, f)| (k.clone(), f.shared())).collect();
    let journeys = attribution.held_journeys();
    let extra: Vec<std::sync::Arc<touchpoint_core::Attribution>> =
        breakdowns.unwrap_or_default().iter().map(|b| b.shared()).collect();
    py.detach(|| {
        let breakdowns: Vec<&touchpoint_core::Attribution> = extra.iter().map(|b| b.as_ref()).collect();
        let refs: Vec<(String, &touchpoint_mmm::Fit)> =
            fits.iter().map(|(k, f)| (k.clone(), f.as_ref())).collect();
        let inputs = Inputs {
            attribution: attribution.inner(),
            goals: &book,
            mmm: &refs,
            journeys,
            breakdowns: &breakdowns,
        };
        let page = touchpoint_report::page(&inputs, &opts)?;
        let html = touchpoint_report::render(&page)?;
        if let Some(p) = &path {
            touchpoint_report::write_html(&html, p)?;
        }
        Ok((html, page.headline, page.warnings))
    })
    .map_err(report_error)
}

/// The report's default options as JSON (Rust owns them; Python's signature is checked against it).
#[pyfunction]
pub fn report_defaults() -> PyResult<String> {
    serde_json::to_string(&ReportOptions::default()).map_err(|e| parameter_error(e.to_string()))
}
