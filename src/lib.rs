//! Touchpoint: attribution of an organisation's goals to channels, campaigns and people.
//!
//! The facade over the workspace: [`core`] holds journeys, models and reports (no polars);
//! [`mmm`] the media-mix model, its scenarios and comparisons of plans (no polars);
//! [`panel`] the panel estimators (staggered rollouts; no polars); [`report`] the HTML report for the
//! people who decide (no polars); [`frame`] (feature `frame`)
//! reads path tables, event logs and panels with polars and writes results as DataFrames.
//!
//! ```
//! use touchpoint::prelude::*;
//!
//! let mut b = JourneysBuilder::new(&[]);
//! b.push_path(1, "sales", &["search", "email"], Weights { conversions: 1.0, value: 50.0, nulls: 3.0 })?;
//! let r = attribute(&b.build(), &[ModelSpec::from_name("linear")?], Dimension::Channel)?;
//! assert_eq!(r.conversions_of("linear", "sales", "email"), Some(0.5));
//! # Ok::<(), touchpoint::core::Error>(())
//! ```
pub use touchpoint_core as core;
#[cfg(feature = "frame")]
pub use touchpoint_frame as frame;
pub use touchpoint_mmm as mmm;
pub use touchpoint_panel as panel;
pub use touchpoint_report as report;

/// The names most programs need.
pub mod prelude {
    pub use touchpoint_core::{
        attribute, Attribution, Dimension, Journeys, JourneysBuilder, Model, ModelSpec, Result, Weights,
    };
}

/// The README's Rust quick start, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
