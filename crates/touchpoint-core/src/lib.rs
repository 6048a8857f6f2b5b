//! Touchpoint's core: journeys, attribution models and reports, with no polars and no Python.
//!
//! Journeys are built once into a columnar [`Journeys`] store; every [`Model`] credits one KPI's
//! journeys to players of a [`Dimension`]; [`attribute`] runs models over every KPI into an
//! [`Attribution`].
pub mod attribution;
pub mod bootstrap;
pub mod duration;
pub mod error;
pub mod goals;
pub mod hazard;
pub mod journeys;
pub mod markov;
pub mod model;
pub mod rules;
pub mod shapley;
pub mod timelines;
pub mod vocab;

pub use attribution::{
    attribute, attribute_remote, attribute_with, attribute_with_intervals, Attribution, Credit,
};
pub use bootstrap::{Bootstrap, Resampling, Unit};
pub use error::{Error, Result};
pub use goals::{
    contribution, contribution_with, ContributionReport, ExternalCredit, ExternalKpi, GoalBook, GoalTotal,
    Kpi, KpiSource, JOURNEYS_SOURCE,
};
pub use hazard::{AdditiveHazard, Baseline, LiftTest};
pub use journeys::{
    Aggregated, Dimension, JourneyRef, Journeys, JourneysBuilder, KpiSummary, Spans, Unattributed, Weights,
};
pub use markov::{choose_order, Markov, OrderChoice};
pub use model::{
    default_models, Column, Control, KpiCredit, KpiView, Model, ModelSpec, Reweight, Table, Unattended,
    Values, MODEL_NAMES,
};
pub use rules::{FirstTouch, LastNonDirect, LastTouch, Linear, PositionBased, TimeDecay};
pub use shapley::{Game, Shapley};
pub use timelines::{Cut, PersonKey, PersonKeys, PersonRef, Timelines, WindowRule};
pub use vocab::{Vocab, BASELINE_PLAYER, NONE_PLAYER};
