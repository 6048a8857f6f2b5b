//! A Bayesian media-mix model for goals and channels without user-level data: weekly (or daily)
//! series of a target (sales, tickets deflected, hires) explained by paid media (spend), organic
//! volumes (posts, employee shares, care replies), a trend, yearly seasonality and controls.
//!
//! `y_t = intercept + trend_t + seasonality_t + sum_c beta_c * s_c(adstock_c(x_c))_t + sum_k gamma_k * z_(k,t) + noise`,
//! on the target and channels scaled by their largest absolute
//! value (as pymc-marketing scales them); results come back in the target's units.
//!
//! The posterior is sampled by NUTS ([`nuts_rs`], several chains on threads) with a gradient written
//! by hand, or its mode found by L-BFGS. Lift experiments calibrate it ([`LiftMeasurement`]).
//!
//! ```
//! use touchpoint_mmm::{fit, FitOptions, MediaMix, Method, Series};
//! let t = 60;
//! let dates: Vec<i32> = (0..t).map(|i| 17_000 + 7 * i).collect();
//! let x: Vec<f64> = (0..t).map(|i| ((i * 7919) % 13) as f64).collect();
//! let y: Vec<f64> = x.iter().enumerate().map(|(i, v)| 10.0 + 0.5 * v + (i % 3) as f64).collect();
//! let mut model = MediaMix::new("week", "sales", &["tv"], &[], &[]);
//! model.seasonality = 0;
//! let series = Series { dates, target: y, channels: vec![x], controls: vec![] };
//! let options = FitOptions { method: Method::Map, ..Default::default() };
//! let f = fit(&model, &series, &[], &options, &touchpoint_core::Unattended).unwrap();
//! assert_eq!(f.summary().len(), 3); // intercept, trend, tv
//! ```
mod diagnostics;
mod error;
mod fit;
mod plan;
mod posterior;
mod sampler;
mod scenario;
mod spec;

pub use diagnostics::{ess_bulk, ess_tail, rhat};
pub use error::{Error, Result};
pub use fit::{
    fit, ComponentSummary, Estimate, Fit, FitOptions, Method, ParamSummary, PeriodContribution, ResponsePoint,
};
pub use plan::{
    plan, plan_fits, AllocationRow, Bound, ChannelCurve, ContributionRow, CurveDraw, CurvePoint, DecisionRow,
    Flighting, Kkt, MarginalRow, OutcomeRow, Plan, PlanComparison, PlanOptions, Response, Risk,
};
pub use posterior::{ChannelParams, Params};
pub use scenario::{
    Comparison, Future, PredictOptions, Scenario, ScenarioContribution, ScenarioPeriod, ScenarioTotal,
    MAX_PERIODS,
};
pub use spec::{
    BetaPrior, ChannelKind, ChannelSpec, GammaPrior, HalfNormalPrior, LaplacePrior, LiftMeasurement,
    LogNormalPrior, MediaMix, NormalPrior, Priors, Saturation, Series,
};

#[doc(hidden)]
pub mod testing {
    //! The log density and its gradient, for the finite-difference test.
    use crate::error::Result;
    use crate::posterior::Posterior;
    use crate::spec::{Design, LiftMeasurement, MediaMix, Series};

    /// Log density and gradient at `theta` (with or without the transforms' log-Jacobians), `None`
    /// where not finite.
    pub fn logp(
        model: &MediaMix,
        series: &Series,
        lifts: &[LiftMeasurement],
        theta: &[f64],
        jacobian: bool,
    ) -> Result<Option<(f64, Vec<f64>)>> {
        let post = Posterior::new(model.clone(), Design::new(model, series, lifts)?);
        let mut g = vec![0.0; post.dim()];
        let mut sc = post.scratch();
        Ok(post.logp_with(theta, &mut g, &mut sc, jacobian).map(|v| (v, g)))
    }
}
