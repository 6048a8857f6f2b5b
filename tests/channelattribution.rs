//! Through the facade, on ChannelAttribution's example data: heuristics equal its reference exactly,
//! the order-1 chain reproduces the empirical conversion rate, Markov credit is close to its (Monte
//! Carlo) reference. Skips with a message when `../shared/datasets` is absent.
use std::path::PathBuf;

use touchpoint::core::markov::Chain;
use touchpoint::core::{attribute, Dimension, KpiView, ModelSpec};
use touchpoint_frame::{journeys_from_path_file, read_table, PathOptions};

fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent (the shared datasets are not next to this checkout)", p.display());
        None
    }
}

fn data() -> Option<touchpoint::core::Journeys> {
    let file = shared("channelattribution-pathdata/Data.csv")?;
    let opts = PathOptions { delimiter: b';', ..PathOptions::default() };
    Some(journeys_from_path_file(&file, &opts).unwrap())
}

/// A column of a file read by `read_table` (text) as numbers.
fn numbers(
    df: &touchpoint_frame::polars::prelude::DataFrame,
    name: &str,
) -> touchpoint_frame::polars::prelude::Float64Chunked {
    let col = df.column(name).unwrap();
    touchpoint_frame::f64_column(col, name).unwrap().f64().unwrap().clone()
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs())
}

#[test]
fn heuristics_equal_the_reference() {
    let (Some(j), Some(reference)) = (data(), shared("channelattribution-reference/heuristic_models.csv"))
    else {
        return;
    };
    let specs: Vec<ModelSpec> =
        ["first_touch", "last_touch", "linear"].iter().map(|m| ModelSpec::from_name(m).unwrap()).collect();
    let r = attribute(&j, &specs, Dimension::Channel).unwrap();
    let df = read_table(&reference, b',').unwrap();
    let names = df.column("channel_name").unwrap().str().unwrap().clone();
    let mut checked = 0;
    for (model, prefix) in
        [("first_touch", "first_touch"), ("last_touch", "last_touch"), ("linear", "linear_touch")]
    {
        let conv = numbers(&df, &format!("{prefix}_conversions"));
        let value = numbers(&df, &format!("{prefix}_value"));
        for i in 0..df.height() {
            let name = names.get(i).unwrap();
            let c = r.credits.iter().find(|c| c.model == model && c.player == name).unwrap();
            assert!(rel_close(c.conversions, conv.get(i).unwrap(), 1e-9), "{model} {name} conversions");
            assert!(rel_close(c.value, value.get(i).unwrap(), 1e-9), "{model} {name} value");
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * df.height());
}

#[test]
fn order_one_chain_reproduces_the_empirical_rate() {
    let Some(j) = data() else { return };
    let players = j.player_column(Dimension::Channel);
    let names = j.player_names(Dimension::Channel);
    let view = KpiView::new(&j, 0, None, &players, &names);
    let p = Chain::estimate(&view, 1).conversion_probability().unwrap();
    assert!((p - 19785.0 / 88387.0).abs() < 1e-9, "{p}");
}

#[test]
fn markov_order_one_is_within_three_percent_of_the_reference() {
    let (Some(j), Some(reference)) =
        (data(), shared("channelattribution-reference/markov_order1_result.csv"))
    else {
        return;
    };
    let r = attribute(&j, &[ModelSpec::from_name("markov").unwrap()], Dimension::Channel).unwrap();
    let df = read_table(&reference, b',').unwrap();
    let names = df.column("channel_name").unwrap().str().unwrap().clone();
    let conv = numbers(&df, "total_conversions");
    let mut rows: Vec<(String, f64)> =
        (0..df.height()).map(|i| (names.get(i).unwrap().to_owned(), conv.get(i).unwrap())).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, want) in rows.iter().take(6) {
        let got = r.conversions_of("markov", "conversions", name).unwrap();
        assert!((got / want - 1.0).abs() < 0.03, "{name}: {got} vs {want}");
    }
    let total: f64 = r.credits.iter().map(|c| c.conversions).sum();
    assert!(rel_close(total, 19785.0, 1e-12));
}
