//! Touchpoint's simulator: journeys from a generative model with a known truth, and a benchmark that
//! scores attribution models against it (see `docs/benchmark.md`).
//!
//! People have a latent intent; each channel exposes them by a Poisson process whose rate may ride on
//! intent (selection bias). Conversions of each KPI come from additive hazards (after Zhang, Wei & Ren
//! 2014, "A probabilistic multi-touch attribution model", ICDM): the baseline and every exposure fire
//! events from their own random streams, an exposure's rate decaying with a half-life after it, with
//! optional diminishing returns and synergies. Every draw of a person is fixed first (common random
//! numbers), so a person's conversions are a deterministic function of which channels are active, and
//! two truths follow per KPI and channel: the removal effect and the Shapley value of each person's
//! game, summed over people ([`TruthRow`]).
//!
//! [`simulate()`] gives the journeys (one per conversion event, cut as event logs are, plus null
//! journeys) and the truths; [`score()`] compares an attribution with them; [`benchmark`] does both for
//! named scenarios ([`SimParams::scenario`]).
pub mod error;
pub mod lift;
pub mod params;
pub mod person;
pub mod programme;
mod sampling;
pub mod score;
pub mod simulate;
pub mod truth;
pub mod weekly;

pub use error::{Error, Result};
pub use lift::{lift_test, LiftMeasure};
pub use params::{ChannelParams, KpiParams, SimParams, Synergy, ValueDist, BASELINE_ROW, SCENARIO_NAMES};
pub use person::{person, ConversionEvent, Exposure, Person, START_US};
pub use programme::{programme, Programme, ProgrammeParams, ProgrammeRow, ProgrammeTruth};
pub use score::{
    benchmark, benchmark_models, benchmark_with, score, score_truth, spearman, total_variation, ScoreRow,
    SCORE_COLUMNS,
};
pub use simulate::{simulate, simulate_with, Simulation};
pub use truth::{TruthRow, EXACT_LIMIT, TRUTH_COLUMNS};
pub use weekly::{weekly, ChannelResponse, WeeklyChannel, WeeklyParams, WeeklyResponse, WeeklySeries};
