//! Touchpoint's panel estimators: effects estimated from units observed over periods.
//!
//! The first is the staggered rollout ([`rollout`]): did a programme that reached units at
//! different times (employees trained in waves, belt levels, regions switched on one after
//! another) change their outcome? It estimates group-time average effects on the treated and
//! their aggregations by the method of Callaway & Sant'Anna (2021), from a balanced [`Panel`]
//! built once from long rows ([`panel`]), with the two-period estimators of [`twobytwo`].
//!
//! No polars and no Python here: a Rust service passes columns as vectors. The table edge
//! (DataFrames in and out) is `touchpoint-frame`'s `rollout` module.
//!
//! ```
//! use touchpoint_panel::{rollout_effect, Ids, Panel, PanelRows, RolloutOptions, Treatment};
//! // Four units over three periods; unit 3 is treated from period 2 and gains 5.
//! let mut unit = Vec::new();
//! let mut time = Vec::new();
//! let mut outcome = Vec::new();
//! let mut cohort = Vec::new();
//! for u in 0..4i64 {
//!     for t in 0..3i64 {
//!         unit.push(u);
//!         time.push(t);
//!         outcome.push(10.0 * u as f64 + t as f64 + if u == 3 && t >= 2 { 5.0 } else { 0.0 });
//!         cohort.push(if u == 3 { Some(2) } else { None });
//!     }
//! }
//! let rows = PanelRows::new(Ids::Int(unit), time, outcome, Treatment::Cohort(cohort));
//! let panel = Panel::from_rows(&rows).unwrap();
//! let options = RolloutOptions { bootstrap: 0, ..RolloutOptions::default() };
//! let result = rollout_effect(&panel, &options, &touchpoint_core::Unattended).unwrap();
//! let cell = result.group_time.iter().find(|r| r.time == 2).unwrap();
//! assert!((cell.effect - 5.0).abs() < 1e-12);
//! ```
pub mod error;
pub mod panel;
pub mod rollout;
pub mod twobytwo;

pub use error::{Error, Result};
pub use panel::{ColumnNames, Ids, Key, Panel, PanelRows, Period, Treatment, MAX_LEVELS};
pub use rollout::{
    rollout_effect, AggregateRow, Comparison, GroupTimeRow, Levels, RolloutEffect, RolloutOptions, MAX_CELLS,
};
pub use twobytwo::Estimand;
