//! Helpers shared by the core's integration tests.
#![allow(dead_code)]
use touchpoint_core::Weights;
use touchpoint_core::{attribute, Attribution, Dimension, Journeys, JourneysBuilder, ModelSpec};

/// One path-table row: channels, conversions, value, nulls.
pub type Row<'a> = (&'a [&'a str], f64, f64, f64);

/// Journeys of one KPI ("sales") from path rows.
pub fn paths(rows: &[Row<'_>]) -> Journeys {
    let mut b = JourneysBuilder::new(&[]);
    for (i, (p, c, v, n)) in rows.iter().enumerate() {
        b.push_path(i + 1, "sales", p, Weights { conversions: *c, value: *v, nulls: *n }).unwrap();
    }
    b.build()
}

/// One timed row: (channel, time) touches, conversions, value, nulls, conversion time.
pub type TimedRow<'a> = (&'a [(&'a str, i64)], f64, f64, f64, i64);

/// Journeys with touch times (microseconds) and conversion times.
pub fn timed(rows: &[TimedRow<'_>]) -> Journeys {
    let mut b = JourneysBuilder::with_times(&[]);
    let k = b.kpi_id("sales");
    for (i, (touches, c, v, n, t_conv)) in rows.iter().enumerate() {
        for (name, t) in touches.iter() {
            let id = b.player_id(Dimension::Channel, name, i + 1).unwrap();
            b.push_channel(id, Some(*t));
        }
        b.finish_journey(i + 1, k, Weights { conversions: *c, value: *v, nulls: *n }, Some(*t_conv)).unwrap();
    }
    b.build()
}

/// Runs one model by JSON spec.
pub fn run(j: &Journeys, spec: &str) -> Attribution {
    attribute(j, &[ModelSpec::from_json(spec).unwrap()], Dimension::Channel).unwrap()
}

/// Credited (conversions, value) of a player under the only model of `r`.
pub fn credit(r: &Attribution, player: &str) -> (f64, f64) {
    r.credits.iter().find(|c| c.player == player).map(|c| (c.conversions, c.value)).unwrap_or((0.0, 0.0))
}

/// |a - b| <= tol * max(1, |a|, |b|).
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * 1f64.max(a.abs()).max(b.abs())
}
