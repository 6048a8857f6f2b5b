//! Rollouts for Python: the panel DataFrame in (read by touchpoint-frame), the estimate in
//! touchpoint-panel without the GIL, the tables out as DataFrames; the simulated programme.
use polars::prelude::*;
use pyo3::prelude::*;
use pyo3_polars::PyDataFrame;
use touchpoint_frame::{rollout_frames, rollout_rows, RolloutColumns, TimeKind};
use touchpoint_panel::{Panel, RolloutEffect, RolloutOptions};
use touchpoint_sim::{programme, ProgrammeParams};

use crate::control::PyControl;
use crate::error::{panel_error, parameter_error, PyTpErr};

/// The tables of a rollout result, by name.
const TABLES: [&str; 6] = ["group_time", "event_study", "by_cohort", "by_period", "summary", "cohorts"];

/// A rollout's estimate.
#[derive(Debug)]
#[pyclass(name = "RolloutEffect", module = "touchpoint._touchpoint", frozen)]
pub struct PyRolloutEffect {
    inner: RolloutEffect,
    dates: bool,
}

#[pymethods]
impl PyRolloutEffect {
    /// A table by name: group_time, event_study, by_cohort, by_period, summary, cohorts.
    fn table(&self, name: &str) -> PyResult<PyDataFrame> {
        let kind = if self.dates { TimeKind::Date } else { TimeKind::Int };
        let f = rollout_frames(&self.inner, kind).map_err(PyTpErr::from)?;
        let df = match name {
            "group_time" => f.group_time,
            "event_study" => f.event_study,
            "by_cohort" => f.by_cohort,
            "by_period" => f.by_period,
            "summary" => f.summary,
            "cohorts" => f.cohorts,
            other => return Err(parameter_error(format!("unknown table {other:?}: {}", TABLES.join(", ")))),
        };
        Ok(PyDataFrame(df))
    }

    /// Warnings about the design and the data.
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// The options used, as JSON.
    fn options(&self) -> String {
        serde_json::to_string(&self.inner.options).expect("plain data serialises")
    }

    /// (units, periods, clusters).
    fn shape(&self) -> (u64, u64, u64) {
        (self.inner.units, self.inner.periods, self.inner.clusters)
    }

    /// The whole result as JSON (for pickling).
    fn to_json(&self) -> String {
        serde_json::json!({"result": &self.inner, "dates": self.dates}).to_string()
    }

    /// A result saved by `to_json`.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<PyRolloutEffect> {
        #[derive(serde::Deserialize)]
        struct Saved {
            result: RolloutEffect,
            dates: bool,
        }
        let s: Saved = serde_json::from_str(text)
            .map_err(|e| parameter_error(format!("not a saved rollout result: {e}")))?;
        Ok(PyRolloutEffect { inner: s.result, dates: s.dates })
    }
}

/// The default options of a rollout, as JSON (the one owner of the defaults is Rust).
#[pyfunction]
pub fn rollout_defaults() -> String {
    serde_json::to_string(&RolloutOptions::default()).expect("plain data serialises")
}

/// Estimates a rollout: the panel, its column names, and the options the user gave (JSON; keys
/// left out take Rust's defaults).
#[pyfunction]
#[pyo3(signature = (panel, unit, time, outcome, cohort, treatment, covariates, cluster, options, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn rollout_effect(
    py: Python<'_>,
    panel: PyDataFrame,
    unit: String,
    time: String,
    outcome: String,
    cohort: Option<String>,
    treatment: Option<String>,
    covariates: Vec<String>,
    cluster: Option<String>,
    options: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyRolloutEffect> {
    let options: RolloutOptions = serde_json::from_str(options)
        .map_err(|e| parameter_error(format!("invalid rollout options: {e}")))?;
    let cols = RolloutColumns { unit, time, outcome, cohort, treatment, covariates, cluster };
    let df = panel.0;
    let control = PyControl::new(progress);
    let (result, kind) = py.detach(|| -> PyResult<(RolloutEffect, TimeKind)> {
        let (rows, kind) = rollout_rows(&df, &cols).map_err(PyTpErr::from)?;
        let panel = Panel::from_rows(&rows).map_err(panel_error)?;
        let r = touchpoint_panel::rollout_effect(&panel, &options, &control).map_err(panel_error)?;
        Ok((r, kind))
    })?;
    Ok(PyRolloutEffect { inner: result, dates: kind == TimeKind::Date })
}

/// Simulates the advocacy programme: (employee-weeks, truth per cohort and week, naive value
/// difference, naive shares difference, parameters as JSON). `params` is JSON; keys left out take
/// the defaults.
#[pyfunction]
pub fn simulate_programme(params: &str) -> PyResult<(PyDataFrame, PyDataFrame, f64, f64, f64, String)> {
    let p: ProgrammeParams = serde_json::from_str(params)
        .map_err(|e| parameter_error(format!("invalid programme parameters: {e}")))?;
    let sim = programme(&p).map_err(|e| parameter_error(e.to_string()))?;
    let r = &sim.rows;
    let rows = DataFrame::new_infer_height(vec![
        Column::new("employee".into(), r.iter().map(|x| x.employee).collect::<Vec<_>>()),
        Column::new("week".into(), r.iter().map(|x| x.week).collect::<Vec<_>>()),
        Column::new("cohort".into(), r.iter().map(|x| x.cohort).collect::<Vec<_>>()),
        Column::new("level".into(), r.iter().map(|x| x.level).collect::<Vec<_>>()),
        Column::new("shares".into(), r.iter().map(|x| x.shares).collect::<Vec<_>>()),
        Column::new("value".into(), r.iter().map(|x| x.value).collect::<Vec<_>>()),
    ])
    .map_err(|e| PyTpErr::from(touchpoint_frame::Error::from(e)))?;
    let t = &sim.truth;
    let truth = DataFrame::new_infer_height(vec![
        Column::new("level".into(), t.iter().map(|x| x.level).collect::<Vec<_>>()),
        Column::new("cohort".into(), t.iter().map(|x| x.cohort).collect::<Vec<_>>()),
        Column::new("week".into(), t.iter().map(|x| x.week).collect::<Vec<_>>()),
        Column::new("event_time".into(), t.iter().map(|x| x.event_time).collect::<Vec<_>>()),
        Column::new("employees".into(), t.iter().map(|x| x.employees).collect::<Vec<_>>()),
        Column::new("shares".into(), t.iter().map(|x| x.shares).collect::<Vec<_>>()),
        Column::new("value".into(), t.iter().map(|x| x.value).collect::<Vec<_>>()),
    ])
    .map_err(|e| PyTpErr::from(touchpoint_frame::Error::from(e)))?;
    let params = serde_json::to_string(&sim.params).expect("plain data serialises");
    Ok((
        PyDataFrame(rows),
        PyDataFrame(truth),
        sim.naive_value,
        sim.naive_shares,
        sim.naive_second_value,
        params,
    ))
}
