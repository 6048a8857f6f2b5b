//! Fuzzing the readers on stable Rust (proptest): random path tables and event logs of random column
//! types must give journeys or a typed error, never a panic, and journeys that account for every
//! conversion. Run by `make fuzz` (`cargo test --release -- --ignored fuzz_`), with `FUZZ_CASES` cases
//! each (default 2,000); not part of `make test`. Crashes found become tests in `trust.rs`.
use polars::prelude::*;
use proptest::prelude::*;
use touchpoint_frame::{journeys_from_events, journeys_from_paths, EventOptions, PathOptions};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

/// Text of the kinds that break parsers: separators, whitespace of every kind, reserved names,
/// empty strings, long names, non-ASCII.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{1,3}",
        Just(String::new()),
        Just(">".to_owned()),
        Just(" > ".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("(start)".to_owned()),
        Just("(baseline)".to_owned()),
        Just("(none)".to_owned()),
        "\\PC{0,6}",
        "[a-z]{20,40}",
    ]
}

fn path_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        12 => prop::collection::vec(token(), 0..6).prop_map(|t| Some(t.join(" > "))),
        2 => "\\PC{0,30}".prop_map(Some),
    ]
}

fn weight() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(f64::NAN)),
        1 => Just(Some(f64::INFINITY)),
        1 => Just(Some(-1.0)),
        1 => Just(Some(f64::MAX)),
        10 => (0u32..5).prop_map(|x| Some(f64::from(x))),
        3 => (0.0f64..10.0).prop_map(Some),
    ]
}

/// A column of `n` values in one of several types: numbers, text, booleans, nulls.
fn any_column(name: &'static str, n: usize) -> impl Strategy<Value = Column> {
    prop_oneof![
        prop::collection::vec(weight(), n).prop_map(move |v| Column::new(name.into(), v)),
        prop::collection::vec(prop::option::of(any::<i64>()), n)
            .prop_map(move |v| Column::new(name.into(), v)),
        prop::collection::vec(prop::option::of("\\PC{0,8}"), n)
            .prop_map(move |v| Column::new(name.into(), v)),
        prop::collection::vec(prop::option::of(any::<bool>()), n)
            .prop_map(move |v| Column::new(name.into(), v)),
        prop::collection::vec(prop::option::of(any::<u64>()), n)
            .prop_map(move |v| Column::new(name.into(), v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    #[ignore = "fuzzing: make fuzz"]
    fn fuzz_path_tables(
        rows in prop::collection::vec((path_text(), weight(), weight(), weight()), 0..12),
        sep in prop_oneof![Just(">".to_owned()), Just("|".to_owned()), Just(" ".to_owned()), Just("->".to_owned()), Just(String::new())],
    ) {
        let df = df!(
            "path" => rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            "total_conversions" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "total_conversion_value" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "total_null" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        ).unwrap();
        let opts = PathOptions { sep, ..PathOptions::default() };
        if let Ok(j) = journeys_from_paths(&df, &opts) {
            // Every row became one journey, with its weights.
            prop_assert_eq!(j.len(), rows.len());
            let total: f64 = rows.iter().map(|r| r.1.unwrap_or(0.0)).sum();
            let got: f64 = j.conversions().iter().sum();
            prop_assert!((got - total).abs() <= 1e-9 * total.max(1.0));
        }
    }

    #[test]
    #[ignore = "fuzzing: make fuzz"]
    fn fuzz_path_tables_of_any_column_type(
        (path, conv, value) in (1usize..8).prop_flat_map(|n| (any_column("path", n), any_column("total_conversions", n), any_column("total_conversion_value", n))),
    ) {
        let df = DataFrame::new_infer_height(vec![path, conv, value]).unwrap();
        let _ = journeys_from_paths(&df, &PathOptions::default().tolerate_default_absences(&df));
    }

    #[test]
    #[ignore = "fuzzing: make fuzz"]
    fn fuzz_event_logs(
        (person_t, time_t, channel, person_c, time_c, kpi, value) in (0usize..10, 0usize..6).prop_flat_map(|(n, m)| (
            any_column("user_id", n),
            prop_oneof![any_column("ts", n), prop::collection::vec(prop::option::of(timestamp()), n).prop_map(|v| Column::new("ts".into(), v))],
            any_column("channel", n),
            any_column("user_id", m),
            prop_oneof![any_column("ts", m), prop::collection::vec(prop::option::of(timestamp()), m).prop_map(|v| Column::new("ts".into(), v))],
            any_column("kpi", m),
            any_column("value", m),
        )),
        lookback in prop_oneof![Just("30d".to_owned()), Just("0s".to_owned()), Just("1h".to_owned()), "\\PC{0,4}"],
        max_touches in prop::option::of(0usize..4),
        population in prop::option::of(0u64..20),
    ) {
        let touches = DataFrame::new_infer_height(vec![person_t, time_t, channel]).unwrap();
        let conversions = DataFrame::new_infer_height(vec![person_c, time_c, kpi, value]).unwrap();
        let opts = EventOptions { lookback, max_touches, population, ..EventOptions::default() };
        if let Ok(j) = journeys_from_events(&touches, &conversions, &opts) {
            // Nothing is lost: attributed plus unattributed is every conversion row.
            let entered: f64 = j.summary().iter().map(|s| s.conversions).sum();
            prop_assert!((entered - conversions.height() as f64).abs() < 1e-9, "{} vs {}", entered, conversions.height());
        }
    }
}

fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        (2000i32..2030, 1u32..13, 1u32..29, 0u32..24)
            .prop_map(|(y, m, d, h)| format!("{y}-{m:02}-{d:02}T{h:02}:00:00")),
        (1u32..29).prop_map(|d| format!("2024-01-{d:02}")),
        Just("2024-13-45".to_owned()),
        Just("9999-12-31T23:59:59Z".to_owned()),
        Just("0001-01-01".to_owned()),
        "\\PC{0,12}",
    ]
}
