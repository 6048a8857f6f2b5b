//! Goal books and contribution reports for Python.
use std::collections::BTreeMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3_polars::PyDataFrame;
use touchpoint_core::{ContributionReport, GoalBook};
use touchpoint_frame as frame;

use crate::attribution::PyAttribution;
use crate::error::PyTpErr;

/// An attribution valued with a goal book.
#[pyclass(module = "touchpoint._touchpoint", name = "ContributionReport", frozen, skip_from_py_object)]
#[derive(Clone, Debug)]
pub struct PyContribution {
    inner: Arc<ContributionReport>,
}

fn frame_result(df: frame::Result<polars::prelude::DataFrame>) -> PyResult<PyDataFrame> {
    Ok(PyDataFrame(df.map_err(PyTpErr::from)?))
}

#[pymethods]
impl PyContribution {
    /// Long rows: model, <by>, kpi, function, conversions, value.
    fn rows(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::contribution_frame(&self.inner))
    }

    /// Per model and player: value, value_share, touches, value_per_touch, cost, roi (+ social).
    fn summary(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::contribution_summary_frame(&self.inner))
    }

    /// Per model and KPI: the players' total and the baseline, with intervals.
    fn goals(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::goals_frame(&self.inner))
    }

    /// Social vs non-social totals per model (by channel only).
    fn social(&self) -> PyResult<PyDataFrame> {
        frame_result(frame::social_frame(&self.inner))
    }

    /// Things to know.
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// The player dimension.
    fn by(&self) -> &'static str {
        self.inner.by.as_str()
    }

    /// The report as JSON.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&*self.inner)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
    }

    /// A report back from [`PyContribution::to_json`].
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let inner: ContributionReport = serde_json::from_str(text)
            .map_err(|e| crate::error::parameter_error(format!("not a contribution report: {e}")))?;
        Ok(PyContribution { inner: Arc::new(inner) })
    }
}

/// Loads a goal book (TOML or JSON) and returns it as JSON, validated.
#[pyfunction]
pub fn load_goal_book(path: std::path::PathBuf) -> PyResult<String> {
    let book = GoalBook::load(&path).map_err(PyTpErr::from)?;
    Ok(serde_json::to_string(&book).expect("goal books serialise"))
}

/// Validates a goal book given as JSON and returns it normalised.
#[pyfunction]
pub fn validate_goal_book(json: &str) -> PyResult<String> {
    let book = GoalBook::from_json(json, "(in memory)").map_err(PyTpErr::from)?;
    Ok(serde_json::to_string(&book).expect("goal books serialise"))
}

/// Values an attribution with a goal book (JSON); `costs` (JSON object) overrides the book's costs;
/// `mmm` adds KPIs measured by media-mix fits, `sources` (JSON object KPI -> "journeys" or "mmm")
/// settles the KPIs measured both ways.
#[pyfunction]
#[pyo3(signature = (attribution, goals, costs=None, mmm=None, sources=None))]
pub fn contribution(
    py: Python<'_>,
    attribution: &PyAttribution,
    goals: &str,
    costs: Option<&str>,
    mmm: Option<Vec<(String, PyRef<'_, crate::mmm::PyMmmFit>)>>,
    sources: Option<&str>,
) -> PyResult<PyContribution> {
    let book = GoalBook::from_json(goals, "(in memory)").map_err(PyTpErr::from)?;
    let costs: Option<BTreeMap<String, f64>> = costs
        .map(|c| {
            serde_json::from_str(c).map_err(|e| {
                PyTpErr::Core(touchpoint_core::Error::GoalBook {
                    source_name: "costs".into(),
                    reason: e.to_string(),
                })
            })
        })
        .transpose()?;
    let fits: Vec<(String, Arc<touchpoint_mmm::Fit>)> =
        mmm.unwrap_or_default().iter().map(|(kpi, fit)| (kpi.clone(), fit.shared())).collect();
    let sources: BTreeMap<String, touchpoint_core::KpiSource> = match sources {
        None => BTreeMap::new(),
        Some(text) => {
            let raw: BTreeMap<String, String> = serde_json::from_str(text)
                .map_err(|e| crate::error::parameter_error(format!("invalid `sources`: {e}")))?;
            raw.into_iter()
                .map(|(k, v)| match v.as_str() {
                    "journeys" => Ok((k, touchpoint_core::KpiSource::Journeys)),
                    "mmm" => Ok((k, touchpoint_core::KpiSource::External)),
                    other => Err(crate::error::parameter_error(format!(
                        "`sources[{k:?}]` is \"journeys\" or \"mmm\", got {other:?}"
                    ))),
                })
                .collect::<PyResult<_>>()?
        }
    };
    // Each fit's credit over the journeys' period (the whole series for a path table); a fit the
    // report does not use (sources = journeys) is not windowed.
    let period = attribution.inner().period;
    let unused = |kpi: &str| sources.get(kpi) == Some(&touchpoint_core::KpiSource::Journeys);
    let external: Vec<touchpoint_core::ExternalKpi> = py
        .detach(|| {
            fits.iter()
                .map(|(kpi, f)| if unused(kpi) { Ok(f.external(kpi)) } else { f.external_for(kpi, period) })
                .collect::<Result<_, _>>()
        })
        .map_err(crate::error::mmm_error)?;
    let rep = py
        .detach(|| {
            touchpoint_core::contribution_with(
                attribution.inner(),
                &book,
                costs.as_ref(),
                &external,
                &sources,
            )
        })
        .map_err(PyTpErr::from)?;
    Ok(PyContribution { inner: Arc::new(rep) })
}
