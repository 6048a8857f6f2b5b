//! The media-mix model for Python: fit, save and load, and the fit's tables as JSON rows (the Python
//! wrapper makes polars frames of them).
use std::sync::Arc;

use pyo3::prelude::*;
use touchpoint_core::GoalBook;
use touchpoint_mmm::{
    Fit, FitOptions, Future, LiftMeasurement, MediaMix, Plan, PlanOptions, PredictOptions, Series,
};
use touchpoint_sim::{weekly, WeeklyParams};

use crate::control::PyControl;
use crate::error::{mmm_error, parameter_error, PyTpErr};

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| parameter_error(format!("invalid {what}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

/// A fitted media-mix model.
#[derive(Debug)]
#[pyclass(name = "MmmFit", module = "touchpoint._touchpoint", frozen)]
pub struct PyMmmFit {
    inner: Arc<Fit>,
}

/// Fits a media-mix model: the model, lift measurements and options as JSON, the columns as lists.
#[pyfunction]
#[pyo3(signature = (model, dates, target, channels, controls, lifts, options, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn mmm_fit(
    py: Python<'_>,
    model: &str,
    dates: Vec<i32>,
    target: Vec<f64>,
    channels: Vec<Vec<f64>>,
    controls: Vec<Vec<f64>>,
    lifts: &str,
    options: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyMmmFit> {
    let model: MediaMix = from_json("model", model)?;
    let lifts: Vec<LiftMeasurement> = from_json("lift measurements", lifts)?;
    let options: FitOptions = from_json("fit options", options)?;
    let series = Series { dates, target, channels, controls };
    let control = PyControl::new(progress);
    let fit =
        py.detach(|| touchpoint_mmm::fit(&model, &series, &lifts, &options, &control)).map_err(mmm_error)?;
    Ok(PyMmmFit { inner: Arc::new(fit) })
}

/// Checks a model given as JSON (names, options, priors); returns it normalised.
#[pyfunction]
pub fn mmm_validate(model: &str) -> PyResult<String> {
    let model: MediaMix = from_json("model", model)?;
    model.validate().map_err(mmm_error)?;
    Ok(to_json(&model))
}

/// The default priors as JSON.
#[pyfunction]
pub fn mmm_default_priors() -> String {
    to_json(&touchpoint_mmm::Priors::default())
}

/// The default priors with overrides (JSON) laid over them one level deep, validated, as JSON.
#[pyfunction]
pub fn mmm_priors(overrides: &str) -> PyResult<String> {
    touchpoint_mmm::Priors::with_overrides(overrides).map(|p| to_json(&p)).map_err(mmm_error)
}

/// A weekly media-mix series with known contributions (the `social_care` generator, or parameters
/// as JSON): the series and its truth as JSON.
#[pyfunction]
#[pyo3(signature = (weeks, seed, params=None))]
pub fn simulate_weekly(weeks: usize, seed: u64, params: Option<&str>) -> PyResult<String> {
    let p: WeeklyParams = match params {
        Some(text) => from_json("weekly parameters", text)?,
        None => WeeklyParams::social_care(weeks, seed),
    };
    let s = weekly(&p).map_err(|e| parameter_error(e.to_string()))?;
    Ok(to_json(&s))
}

/// The true response of the weeks after a simulated series (its full parameters as JSON) to a plan
/// (JSON: channel -> level per week): the `WeeklyResponse` as JSON.
#[pyfunction]
pub fn weekly_respond(params: &str, plan: &str) -> PyResult<String> {
    let p: WeeklyParams = from_json("weekly parameters", params)?;
    let plan: std::collections::BTreeMap<String, Vec<f64>> = from_json("plan", plan)?;
    let s = weekly(&p).map_err(|e| parameter_error(e.to_string()))?;
    let r = s.respond(&plan).map_err(|e| parameter_error(e.to_string()))?;
    Ok(to_json(&r))
}

impl PyMmmFit {
    /// The fit, shared (to use it without the GIL).
    pub fn shared(&self) -> Arc<Fit> {
        self.inner.clone()
    }
}

#[pymethods]
impl PyMmmFit {
    /// The whole fit as JSON (model, priors, data, settings, draws, diagnostics, version).
    fn to_json(&self) -> PyResult<String> {
        self.inner.to_json().map_err(mmm_error)
    }

    /// A fit saved by `to_json`.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<PyMmmFit> {
        let f = py.detach(|| Fit::from_json(text)).map_err(mmm_error)?;
        Ok(PyMmmFit { inner: Arc::new(f) })
    }

    /// A fit saved to a file (a regular file only, of bounded size; see `Fit::load`).
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<PyMmmFit> {
        let f = py.detach(|| Fit::load(&path)).map_err(mmm_error)?;
        Ok(PyMmmFit { inner: Arc::new(f) })
    }

    /// The model (with priors) as JSON.
    fn model_json(&self) -> String {
        to_json(&self.inner.model)
    }

    /// The fit options as JSON.
    fn options_json(&self) -> String {
        to_json(&self.inner.options)
    }

    /// Per-parameter summaries and diagnostics, as JSON rows.
    fn parameters_json(&self) -> String {
        to_json(&self.inner.parameters)
    }

    /// Per-component totals (KPI per unit of spend for media), as JSON rows: over the whole series, or
    /// over the periods dated in `window` (days since 1970, both ends included).
    #[pyo3(signature = (window=None))]
    fn summary_json(&self, py: Python<'_>, window: Option<(i32, i32)>) -> PyResult<String> {
        py.detach(|| match window {
            None => Ok(to_json(&self.inner.summary())),
            Some(w) => self.inner.summary_between(w).map(|s| to_json(&s)),
        })
        .map_err(mmm_error)
    }

    /// Per channel: name, mean level per period, largest level observed.
    fn channel_levels(&self) -> Vec<(String, f64, f64)> {
        self.inner.channel_levels()
    }

    /// Per-period contributions, as JSON rows.
    fn contributions_json(&self, py: Python<'_>) -> String {
        py.detach(|| to_json(&self.inner.contributions()))
    }

    /// The fitted mean per period, as JSON rows.
    fn fitted_json(&self, py: Python<'_>) -> String {
        py.detach(|| to_json(&self.inner.fitted()))
    }

    /// Response curves, as JSON rows.
    fn response_curves_json(&self, py: Python<'_>, points: usize, max_multiple: f64) -> PyResult<String> {
        let rows = py.detach(|| self.inner.response_curves(points, max_multiple)).map_err(mmm_error)?;
        Ok(to_json(&rows))
    }

    /// A scenario: the future periods' inputs (a JSON `Future`) and options (JSON; keys left out
    /// take the defaults) -> the `Scenario` as JSON.
    fn predict_json(&self, py: Python<'_>, future: &str, options: &str) -> PyResult<String> {
        let future: Future = from_json("future", future)?;
        let options: PredictOptions = from_json("predict options", options)?;
        let s = py.detach(|| self.inner.predict(&future, &options)).map_err(mmm_error)?;
        Ok(to_json(&s))
    }

    /// What `plan` adds over `against` (JSON `Future`s of one length) -> the `Comparison` as JSON.
    fn compare_json(&self, py: Python<'_>, plan: &str, against: &str) -> PyResult<String> {
        let plan: Future = from_json("plan", plan)?;
        let against: Future = from_json("against", against)?;
        let c = py.detach(|| self.inner.compare(&plan, &against)).map_err(mmm_error)?;
        Ok(to_json(&c))
    }

    /// For a level of `channel` above the largest the fit saw: (its factor over that level, the
    /// warning); `None` within it.
    fn beyond_observed(&self, channel: &str, level: f64) -> PyResult<Option<(f64, String)>> {
        self.inner.beyond_observed(channel, level).map_err(mmm_error)
    }

    /// The modelled lift of raising `channel` from `x` to `x + delta_x` per period: (mean, lower,
    /// upper, and for the higher level above the largest the fit saw: its factor and the warning).
    #[allow(clippy::type_complexity)]
    fn lift(&self, channel: &str, x: f64, delta_x: f64) -> PyResult<(f64, f64, f64, Option<(f64, String)>)> {
        let e = self.inner.lift(channel, x, delta_x).map_err(mmm_error)?;
        let beyond = self.inner.beyond_observed(channel, x.max(x + delta_x)).map_err(mmm_error)?;
        Ok((e.mean, e.lower, e.upper, beyond))
    }

    /// Warnings: convergence, divergences, MAP without intervals.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// Divergent transitions after tuning, per chain.
    #[getter]
    fn divergences(&self) -> Vec<u64> {
        self.inner.divergences.clone()
    }

    /// Wall time of the fit in seconds.
    #[getter]
    fn seconds(&self) -> f64 {
        self.inner.seconds
    }

    /// Version of Touchpoint that made the fit.
    #[getter]
    fn version(&self) -> String {
        self.inner.version.clone()
    }

    /// Dates (days since 1970-01-01) and target of the data.
    fn data(&self) -> (Vec<i32>, Vec<f64>) {
        (self.inner.series.dates.clone(), self.inner.series.target.clone())
    }

    /// Summed spend or volume per channel, in the model's order.
    fn channel_totals(&self) -> Vec<f64> {
        self.inner.series.channels.iter().map(|c| c.iter().sum()).collect()
    }
}

/// A budget plan across goals.
#[derive(Debug)]
#[pyclass(name = "Plan", module = "touchpoint._touchpoint", frozen)]
pub struct PyPlan {
    inner: Plan,
}

/// Plans the channels of media-mix fits keyed by KPI, valued by a goal book (JSON), with options
/// (JSON `PlanOptions`; keys left out take the defaults).
#[pyfunction]
#[pyo3(signature = (fits, goals, options, progress=None))]
pub fn plan(
    py: Python<'_>,
    fits: Vec<(String, PyRef<'_, PyMmmFit>)>,
    goals: &str,
    options: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<PyPlan> {
    let book = GoalBook::from_json(goals, "goals").map_err(PyTpErr::from)?;
    let options: PlanOptions = from_json("plan options", options)?;
    let fits: Vec<(String, Arc<Fit>)> = fits.iter().map(|(k, f)| (k.clone(), f.shared())).collect();
    let control = PyControl::new(progress);
    let p = py
        .detach(|| {
            let responses: Vec<touchpoint_mmm::Response> =
                fits.iter().map(|(k, f)| touchpoint_mmm::Response::from_fit(k, f)).collect();
            touchpoint_mmm::plan(&responses, &book, &options, &control)
        })
        .map_err(mmm_error)?;
    Ok(PyPlan { inner: p })
}

#[pymethods]
impl PyPlan {
    /// The plan as JSON: allocation, outcome, contributions, against the run rate, marginal
    /// values, the KKT check, the decision's spread, budget, probability, warnings.
    fn json(&self) -> String {
        to_json(&self.inner)
    }

    /// The plan against another (JSON object: channel -> level per period), draw by draw.
    fn compare_json(&self, py: Python<'_>, against: &str) -> PyResult<String> {
        let against: std::collections::BTreeMap<String, Vec<f64>> =
            from_json("plan compared against", against)?;
        let c = py.detach(|| self.inner.compare(&against)).map_err(mmm_error)?;
        Ok(to_json(&c))
    }

    /// Each KPI's horizon contribution per draw under the plan, as JSON.
    fn outcome_draws_json(&self, py: Python<'_>) -> String {
        py.detach(|| to_json(&self.inner.outcome_draws()))
    }

    /// Steady-state response curves with the plan's and the run rate's levels, as JSON rows.
    fn curves_json(&self, py: Python<'_>, points: usize, max_multiple: f64) -> PyResult<String> {
        let rows = py.detach(|| self.inner.curves(points, max_multiple)).map_err(mmm_error)?;
        Ok(to_json(&rows))
    }
}
