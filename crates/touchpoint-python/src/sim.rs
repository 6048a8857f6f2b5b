//! The simulator and the benchmark for Python.
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3_polars::PyDataFrame;
use touchpoint_core::ModelSpec;
use touchpoint_frame::rows_frame;
use touchpoint_sim::{benchmark_with, simulate_with, SimParams, SCORE_COLUMNS, TRUTH_COLUMNS};

use crate::control::PyControl;
use crate::error::PyTpErr;
use crate::journeys::PyJourneys;

fn sim_err(e: touchpoint_sim::Error) -> PyErr {
    match e {
        touchpoint_sim::Error::Core(c) => PyTpErr::from(c).into(),
        other => crate::error::parameter_error(other.to_string()),
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Simulates a named scenario, or one given as TOML text or as JSON `params`: (journeys, truth
/// table, parameters as JSON, truth rows as JSON for `score`).
#[pyfunction]
#[pyo3(signature = (scenario, people=None, seed=None, toml=None, progress=None, params=None))]
pub fn simulate(
    py: Python<'_>,
    scenario: &str,
    people: Option<u64>,
    seed: Option<u64>,
    toml: Option<&str>,
    progress: Option<Py<PyAny>>,
    params: Option<&str>,
) -> PyResult<(PyJourneys, PyDataFrame, String, String)> {
    let mut params = match (toml, params) {
        (Some(text), _) => SimParams::from_toml(text),
        (None, Some(json)) => SimParams::from_json(json),
        (None, None) => SimParams::scenario(scenario),
    }
    .map_err(sim_err)?;
    if let Some(p) = people {
        params.people = p;
    }
    if let Some(s) = seed {
        params.seed = s;
    }
    let control = PyControl::new(progress);
    let sim = py.detach(|| simulate_with(&params, threads(), &control)).map_err(sim_err)?;
    let truth = rows_frame(&sim.truth, &TRUTH_COLUMNS).map_err(PyTpErr::from)?;
    let params_json = serde_json::to_string(&sim.params).expect("parameters serialise");
    let truth_json = serde_json::to_string(&sim.truth).expect("truth rows serialise");
    Ok((PyJourneys { inner: Arc::new(sim.journeys) }, PyDataFrame(truth), params_json, truth_json))
}

/// Scores an attribution (by channel) against a simulation's parameters and truth rows (JSON, as
/// `simulate` returns them): one row per model and KPI, the benchmark's columns.
#[pyfunction]
pub fn score(
    attribution: &crate::attribution::PyAttribution,
    params: &str,
    truth: &str,
) -> PyResult<PyDataFrame> {
    let params = SimParams::from_json(params).map_err(sim_err)?;
    let rows: Vec<touchpoint_sim::TruthRow> = serde_json::from_str(truth)
        .map_err(|e| crate::error::parameter_error(format!("invalid truth rows: {e}")))?;
    let scores = touchpoint_sim::score_truth(attribution.inner(), &params, &rows).map_err(sim_err)?;
    Ok(PyDataFrame(rows_frame(&scores, &SCORE_COLUMNS).map_err(PyTpErr::from)?))
}

/// Simulates scenarios, runs the models (JSON specs; the default set when empty) and scores them.
#[pyfunction]
#[pyo3(signature = (scenarios, people, seed, specs, progress=None))]
pub fn benchmark(
    py: Python<'_>,
    scenarios: Vec<String>,
    people: u64,
    seed: u64,
    specs: Vec<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyDataFrame> {
    let specs: Vec<ModelSpec> =
        specs.iter().map(|s| ModelSpec::from_json(s).map_err(PyTpErr::from)).collect::<Result<_, _>>()?;
    let names: Vec<&str> = scenarios.iter().map(String::as_str).collect();
    let control = PyControl::new(progress);
    let rows =
        py.detach(|| benchmark_with(&names, people, seed, &specs, threads(), &control)).map_err(sim_err)?;
    Ok(PyDataFrame(rows_frame(&rows, &SCORE_COLUMNS).map_err(PyTpErr::from)?))
}

/// A simulated randomised holdout of one channel on a fresh cohort of a scenario:
/// (per_exposure, se, treated, control, exposures).
#[pyfunction]
#[pyo3(signature = (scenario, channel, kpi, people, seed, toml=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn lift_test(
    py: Python<'_>,
    scenario: &str,
    channel: &str,
    kpi: &str,
    people: u64,
    seed: u64,
    toml: Option<&str>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(f64, f64, u64, u64, u64)> {
    let params = match toml {
        Some(text) => SimParams::from_toml(text),
        None => SimParams::scenario(scenario),
    }
    .map_err(sim_err)?;
    let control = PyControl::new(progress);
    let m = py
        .detach(|| touchpoint_sim::lift::lift_test_with(&params, channel, kpi, people, seed, &control))
        .map_err(sim_err)?;
    Ok((m.per_exposure, m.se, m.treated, m.control, m.exposures))
}

/// The names of the built-in scenarios.
#[pyfunction]
pub fn scenario_names() -> Vec<&'static str> {
    touchpoint_sim::SCENARIO_NAMES.to_vec()
}
