//! Event logs to journeys: hand-made logs with the expected journeys written out, time zones,
//! reconciliation, and typed errors.
use polars::prelude::*;
use proptest::prelude::*;
use touchpoint_core::{Dimension, Journeys};
use touchpoint_frame::{journeys_from_events, EventOptions};

/// (kpi, channels, conversions, value, nulls) per journey, in store order.
type Flat = Vec<(String, Vec<String>, f64, f64, f64)>;

fn flat(j: &Journeys) -> Flat {
    let names = j.vocab(Dimension::Channel).names();
    j.iter()
        .map(|r| {
            (
                j.kpis().name(r.kpi).to_owned(),
                r.channels.iter().map(|&c| names[c as usize].clone()).collect(),
                r.conversions,
                r.value,
                r.nulls,
            )
        })
        .collect()
}

fn row(kpi: &str, chans: &[&str], c: f64, v: f64, n: f64) -> (String, Vec<String>, f64, f64, f64) {
    (kpi.to_owned(), chans.iter().map(|s| s.to_string()).collect(), c, v, n)
}

fn touches(rows: &[(&str, &str, &str)]) -> DataFrame {
    df!(
        "user_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "ts" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "channel" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    )
    .unwrap()
}

fn conversions(rows: &[(&str, &str, &str, f64)]) -> DataFrame {
    df!(
        "user_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "ts" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "kpi" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "value" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
    )
    .unwrap()
}

fn opts(lookback: &str) -> EventOptions {
    EventOptions { lookback: lookback.into(), ..EventOptions::default() }
}

fn unattributed(j: &Journeys) -> Vec<(String, String, f64, f64)> {
    j.unattributed().iter().map(|u| (u.kpi.clone(), u.reason.clone(), u.conversions, u.value)).collect()
}

#[test]
fn overlapping_conversions_split_the_touches() {
    let t = touches(&[
        ("u", "2024-01-01T00:00:00", "search"),
        ("u", "2024-01-02T00:00:00", "email"),
        ("u", "2024-01-04T00:00:00", "social"),
    ]);
    let c = conversions(&[
        ("u", "2024-01-03T00:00:00", "sale", 10.0),
        ("u", "2024-01-05T00:00:00", "sale", 20.0),
    ]);
    let j = journeys_from_events(&t, &c, &opts("30d")).unwrap();
    // The second conversion's window starts after the first: only `social`; no touch after the last
    // conversion, so no null journey.
    assert_eq!(
        flat(&j),
        vec![row("sale", &["search", "email"], 1.0, 10.0, 0.0), row("sale", &["social"], 1.0, 20.0, 0.0)]
    );
}

#[test]
fn two_kpis_have_independent_windows_and_null_journeys() {
    let t = touches(&[
        ("u", "2024-01-01", "search"),
        ("u", "2024-01-02", "linkedin"),
        ("u", "2024-01-03", "email"),
    ]);
    let c = conversions(&[("u", "2024-01-02T12:00:00", "hire", 0.0), ("u", "2024-01-03", "sale", 5.0)]);
    let j = journeys_from_events(&t, &c, &opts("30d")).unwrap();
    assert_eq!(
        flat(&j),
        vec![
            row("hire", &["search", "linkedin"], 1.0, 0.0, 0.0),
            row("hire", &["email"], 0.0, 0.0, 1.0),
            row("sale", &["search", "linkedin", "email"], 1.0, 5.0, 0.0),
        ]
    );
}

#[test]
fn conversion_without_touch_in_window_and_unknown_person_are_unattributed() {
    let t = touches(&[("u", "2024-01-01", "search")]);
    let c = conversions(&[("u", "2024-03-01", "sale", 7.0), ("ghost", "2024-01-02", "sale", 3.0)]);
    let j = journeys_from_events(&t, &c, &opts("30d")).unwrap();
    assert!(flat(&j).is_empty(), "{:?}", flat(&j));
    let mut u = unattributed(&j);
    u.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        u,
        vec![
            ("sale".into(), "no_touch_in_window".into(), 1.0, 7.0),
            ("sale".into(), "unknown_person".into(), 1.0, 3.0)
        ]
    );
    let s = &j.summary()[0];
    assert_eq!((s.conversions, s.attributed, s.unattributed), (2.0, 0.0, 2.0));
}

#[test]
fn touches_after_the_last_conversion_form_a_null_journey() {
    let t = touches(&[
        ("u", "2024-01-01", "search"),
        ("u", "2024-01-03", "email"),
        ("u", "2024-01-04", "social"),
        ("v", "2024-01-01", "display"),
    ]);
    let c = conversions(&[("u", "2024-01-02", "sale", 1.0)]);
    let j = journeys_from_events(&t, &c, &opts("30d")).unwrap();
    assert_eq!(
        flat(&j),
        vec![
            row("sale", &["search"], 1.0, 1.0, 0.0),
            row("sale", &["email", "social"], 0.0, 0.0, 1.0),
            row("sale", &["display"], 0.0, 0.0, 1.0),
        ]
    );
    // The null window is measured from the last touch: with 2 days, `display` of v stays, u keeps only
    // the touches within 2 days of its last touch.
    let t = touches(&[("u", "2024-01-01", "a"), ("u", "2024-01-10", "b"), ("u", "2024-01-11", "c")]);
    let j = journeys_from_events(&t, &conversions(&[("x", "2024-01-01", "sale", 0.0)]), &opts("2d")).unwrap();
    assert_eq!(flat(&j), vec![row("sale", &["b", "c"], 0.0, 0.0, 1.0)]);
}

#[test]
fn a_touch_at_the_previous_conversion_time_belongs_to_the_earlier_one() {
    let t = touches(&[("u", "2024-01-01", "a"), ("u", "2024-01-02", "b"), ("u", "2024-01-03", "c")]);
    let c = conversions(&[("u", "2024-01-02", "sale", 1.0), ("u", "2024-01-03", "sale", 2.0)]);
    let j = journeys_from_events(&t, &c, &opts("30d")).unwrap();
    assert_eq!(flat(&j), vec![row("sale", &["a", "b"], 1.0, 1.0, 0.0), row("sale", &["c"], 1.0, 2.0, 0.0)]);
}

#[test]
fn equal_timestamps_order_by_names_whatever_the_row_order() {
    let rows = [
        ("u", "2024-01-01T10:00:00", "search"),
        ("u", "2024-01-01T10:00:00", "email"),
        ("u", "2024-01-01T10:00:00", "display"),
        ("u", "2024-01-01T09:00:00", "social"),
    ];
    let c = conversions(&[("u", "2024-01-01T11:00:00", "sale", 1.0)]);
    let a = journeys_from_events(&touches(&rows), &c, &opts("1d")).unwrap();
    let mut shuffled = rows;
    shuffled.reverse();
    shuffled.swap(0, 2);
    let b = journeys_from_events(&touches(&shuffled), &c, &opts("1d")).unwrap();
    assert_eq!(flat(&a), vec![row("sale", &["social", "display", "email", "search"], 1.0, 1.0, 0.0)]);
    assert_eq!(flat(&a), flat(&b));
}

#[test]
fn same_instant_conversions_merge() {
    let t = touches(&[("u", "2024-01-01", "a")]);
    let c = conversions(&[
        ("u", "2024-01-02", "sale", 1.0),
        ("u", "2024-01-02", "sale", 2.5),
        ("u", "2024-01-02", "sale", 4.0),
    ]);
    let j = journeys_from_events(&t, &c, &opts("30d")).unwrap();
    assert_eq!(flat(&j), vec![row("sale", &["a"], 3.0, 7.5, 0.0)]);
}

#[test]
fn lookback_per_kpi() {
    let t = touches(&[("u", "2024-01-01", "a"), ("u", "2024-01-09", "b")]);
    let c = conversions(&[("u", "2024-01-10", "sale", 0.0), ("u", "2024-01-10", "hire", 0.0)]);
    let o = EventOptions { lookback_by_kpi: vec![("hire".into(), "90d".into())], ..opts("7d") };
    let j = journeys_from_events(&t, &c, &o).unwrap();
    assert_eq!(flat(&j), vec![row("hire", &["a", "b"], 1.0, 0.0, 0.0), row("sale", &["b"], 1.0, 0.0, 0.0)]);
}

#[test]
fn impressions_get_a_shorter_window() {
    let t = df!(
        "user_id" => ["u", "u", "u", "u"],
        "ts" => ["2024-01-01", "2024-01-03", "2024-01-09T06:00:00", "2024-01-09T12:00:00"],
        "channel" => ["display", "search", "display", "social"],
        "interaction" => ["impression", "click", "impression", "impression"],
    )
    .unwrap();
    let c = conversions(&[("u", "2024-01-10", "sale", 1.0)]);
    let o = EventOptions {
        dims: vec![Dimension::Interaction],
        interaction_lookback: vec![("impression".into(), "1d".into())],
        ..opts("30d")
    };
    let j = journeys_from_events(&t, &c, &o).unwrap();
    assert_eq!(flat(&j), vec![row("sale", &["search", "display", "social"], 1.0, 1.0, 0.0)]);
    let inter = j.vocab(Dimension::Interaction);
    let ids: Vec<&str> =
        j.touch_ids(Dimension::Interaction).unwrap().iter().map(|&i| inter.name(i)).collect();
    assert_eq!(ids, ["click", "impression", "impression"]);
    // The window skips touches inside the person's run, so these journeys own copies of their touches;
    // without windows, the same interaction column gives views into the timelines.
    assert!(!j.is_view());
    let plain = journeys_from_events(&t, &c, &EventOptions { interaction_lookback: vec![], ..o }).unwrap();
    assert!(plain.is_view());
    assert_eq!(flat(&plain), vec![row("sale", &["display", "search", "display", "social"], 1.0, 1.0, 0.0)]);
}

#[test]
fn max_touches_keeps_the_most_recent_and_counts_the_rest() {
    let t = touches(&[
        ("u", "2024-01-01", "a"),
        ("u", "2024-01-02", "b"),
        ("u", "2024-01-03", "c"),
        ("u", "2024-01-04", "d"),
    ]);
    let c = conversions(&[("u", "2024-01-05", "sale", 1.0)]);
    let o = EventOptions { max_touches: Some(2), ..opts("30d") };
    let j = journeys_from_events(&t, &c, &o).unwrap();
    assert_eq!(flat(&j), vec![row("sale", &["c", "d"], 1.0, 1.0, 0.0)]);
    assert_eq!(j.summary()[0].trimmed_touches, 2);
}

#[test]
fn dimensions_and_missing_values_count_under_none() {
    let t = df!(
        "user_id" => [1i64, 1, 2],
        "ts" => ["2024-01-01", "2024-01-02", "2024-01-01"],
        "channel" => ["linkedin", "search", "twitter"],
        "actor" => [Some("emp_7"), None, Some("brand")],
        "actor_group" => [Some("trained"), None, None],
    )
    .unwrap();
    let c = df!("user_id" => [1i64], "ts" => ["2024-01-03"], "kpi" => ["hire"]).unwrap();
    let o = EventOptions { dims: vec![Dimension::Actor, Dimension::ActorGroup], ..opts("30d") };
    let j = journeys_from_events(&t, &c, &o).unwrap();
    let actors: Vec<&str> =
        j.touch_ids(Dimension::Actor).unwrap().iter().map(|&i| j.vocab(Dimension::Actor).name(i)).collect();
    assert_eq!(actors, ["emp_7", "(none)", "brand"]);
    let groups: Vec<&str> = j
        .touch_ids(Dimension::ActorGroup)
        .unwrap()
        .iter()
        .map(|&i| j.vocab(Dimension::ActorGroup).name(i))
        .collect();
    assert_eq!(groups, ["trained", "(none)", "(none)"]);
    assert_eq!(j.get(0).conversions, 1.0);
    assert_eq!(j.get(1).nulls, 1.0);
}

#[test]
fn mixed_time_zones_equal_utc() {
    let utc = touches(&[
        ("u", "2024-01-01T10:00:00Z", "a"),
        ("u", "2024-01-01T11:30:00Z", "b"),
        ("u", "2024-01-01T12:00:00Z", "c"),
    ]);
    let mixed = touches(&[
        ("u", "2024-01-01T12:00:00+02:00", "a"),
        ("u", "2024-01-01T06:30:00-05:00", "b"),
        ("u", "2024-01-01 12:00:00", "c"),
    ]);
    let c = conversions(&[("u", "2024-01-01T11:45:00Z", "sale", 1.0)]);
    let a = journeys_from_events(&utc, &c, &opts("1d")).unwrap();
    let b = journeys_from_events(&mixed, &c, &opts("1d")).unwrap();
    assert_eq!(flat(&a), flat(&b));
    assert_eq!(flat(&a)[0].1, ["a", "b"]);
    let times = |j: &Journeys| j.iter().map(|r| r.times.unwrap().to_vec()).collect::<Vec<_>>();
    assert_eq!(times(&a), times(&b));
    // Naive times read in another zone shift by its offset.
    let paris = EventOptions { tz: "Europe/Paris".into(), ..opts("1d") };
    let naive = touches(&[("u", "2024-01-01 11:00:00", "a")]);
    let j = journeys_from_events(&naive, &conversions(&[("u", "2024-01-01T10:30:00Z", "sale", 0.0)]), &paris)
        .unwrap();
    assert_eq!(j.get(0).times.unwrap()[0], 1_704_103_200_000_000); // 2024-01-01T10:00:00Z
                                                                   // Datetime columns (naive, read as UTC) give the same instants.
    let ms: Vec<i64> = vec![1_704_103_200_000, 1_704_108_600_000, 1_704_110_400_000];
    let ts = Column::new("ts".into(), ms).cast(&DataType::Datetime(TimeUnit::Milliseconds, None)).unwrap();
    let dt = DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), ["u", "u", "u"]),
        ts,
        Column::new("channel".into(), ["a", "b", "c"]),
    ])
    .unwrap();
    let j = journeys_from_events(&dt, &c, &opts("1d")).unwrap();
    assert_eq!(times(&j), times(&a));
}

#[test]
fn bad_input_is_a_typed_error_with_the_culprit() {
    let t = touches(&[("u", "2024-01-01", "a"), ("u", "yesterday", "b")]);
    let c = conversions(&[("u", "2024-01-02", "sale", 1.0)]);
    let e = journeys_from_events(&t, &c, &opts("30d")).unwrap_err().to_string();
    assert_eq!(
        e,
        "timestamp in column `ts` of the touches table at row 2: \"yesterday\" is not an ISO-8601 timestamp (e.g. 2024-05-01T12:30:00Z or 2024-05-01 12:30:00)"
    );
    let t = touches(&[("u", "2024-01-01", "a")]);
    let o = EventOptions { person: "person".into(), ..opts("30d") };
    let e = journeys_from_events(&t, &c, &o).unwrap_err().to_string();
    assert_eq!(e, "missing column `person`; the table has: `user_id`, `ts`, `channel`");
    let c2 = df!("user_id" => ["u"], "when" => ["2024-01-02"]).unwrap();
    let e = journeys_from_events(&t, &c2, &opts("30d")).unwrap_err().to_string();
    assert_eq!(e, "missing column `ts` of the conversions table; the table has: `user_id`, `when`");
    let nully =
        df!("user_id" => [Some("u"), None], "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", "b"])
            .unwrap();
    let e = journeys_from_events(&nully, &c, &opts("30d")).unwrap_err().to_string();
    assert_eq!(e, "null in column `user_id` of the touches table at row 2");
    let neg = conversions(&[("u", "2024-01-02", "sale", -5.0)]);
    let e = journeys_from_events(&t, &neg, &opts("30d")).unwrap_err().to_string();
    assert_eq!(e, "invalid value in row 1: -5 (must be finite and >= 0)");
    for (lb, want) in
        [("1mo", "calendar units"), ("thirty days", "invalid duration"), ("30", "a unit is needed")]
    {
        let e = journeys_from_events(&t, &c, &opts(lb)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("invalid option `lookback` = {lb:?}")) && e.contains(want), "{e}");
    }
    let o = EventOptions { interaction_lookback: vec![("impression".into(), "1d".into())], ..opts("30d") };
    let e = journeys_from_events(&t, &c, &o).unwrap_err().to_string();
    assert!(e.contains("needs the `interaction` dimension"), "{e}");
    let o = EventOptions { lookback_by_kpi: vec![("sails".into(), "1d".into())], ..opts("30d") };
    let e = journeys_from_events(&t, &c, &o).unwrap_err().to_string();
    assert!(e.contains("no such KPI in the conversions table (it has: sale)"), "{e}");
    let o = EventOptions { tz: "Mars/Olympus".into(), ..opts("30d") };
    assert!(journeys_from_events(&t, &c, &o).unwrap_err().to_string().contains("IANA"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_conversion_is_in_a_journey_or_unattributed(
        touch_rows in prop::collection::vec((0u8..6, 0i64..40, 0u8..4), 0..60),
        conv_rows in prop::collection::vec((0u8..8, 0i64..40, 0u8..2, 0.0f64..10.0), 1..30),
        lookback_days in 1i64..15,
        max_touches in prop::option::of(1usize..4),
    ) {
        let day = |d: i64| format!("2024-01-{:02}T00:00:00", 1 + d % 28) + &format!("+0{}:00", d / 28);
        let t = df!(
            "user_id" => touch_rows.iter().map(|r| format!("p{}", r.0)).collect::<Vec<_>>(),
            "ts" => touch_rows.iter().map(|r| day(r.1)).collect::<Vec<_>>(),
            "channel" => touch_rows.iter().map(|r| format!("c{}", r.2)).collect::<Vec<_>>(),
        ).unwrap();
        let c = df!(
            "user_id" => conv_rows.iter().map(|r| format!("p{}", r.0)).collect::<Vec<_>>(),
            "ts" => conv_rows.iter().map(|r| day(r.1)).collect::<Vec<_>>(),
            "kpi" => conv_rows.iter().map(|r| format!("k{}", r.2)).collect::<Vec<_>>(),
            "value" => conv_rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        ).unwrap();
        let o = EventOptions { max_touches, ..opts(&format!("{lookback_days}d")) };
        let j = journeys_from_events(&t, &c, &o).unwrap();
        let in_journeys: f64 = j.conversions().iter().sum();
        let unattributed: f64 = j.unattributed().iter().map(|u| u.conversions).sum();
        prop_assert_eq!(in_journeys + unattributed, conv_rows.len() as f64);
        let value_in: f64 = j.values().iter().sum::<f64>() + j.unattributed().iter().map(|u| u.value).sum::<f64>();
        let value_all: f64 = conv_rows.iter().map(|r| r.3).sum();
        prop_assert!((value_in - value_all).abs() <= 1e-9 * value_all.max(1.0));
        for s in j.summary() {
            prop_assert_eq!(s.conversions, s.attributed + s.unattributed);
        }
    }
}

#[test]
fn the_window_is_open_at_its_lower_bound() {
    // A touch exactly one lookback before the conversion is outside (t - lookback, t].
    let t = touches(&[("u", "2024-01-01", "a"), ("u", "2024-01-01T00:00:01", "b")]);
    let c = conversions(&[("u", "2024-01-02", "sale", 1.0)]);
    let j = journeys_from_events(&t, &c, &opts("1d")).unwrap();
    assert_eq!(flat(&j), vec![row("sale", &["b"], 1.0, 1.0, 0.0)]);
}

#[test]
fn review_cases_person_types_categoricals_tables_and_options() {
    // Integer ids in one table and float ids in the other are the same persons.
    let t =
        df!("user_id" => [1i64, 2], "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", "b"]).unwrap();
    let c = df!("user_id" => [1.0f64], "ts" => ["2024-01-02"], "kpi" => ["sale"]).unwrap();
    let j = journeys_from_events(&t, &c, &opts("30d")).unwrap();
    assert_eq!(flat(&j)[0], row("sale", &["a"], 1.0, 0.0, 0.0));
    assert!(j.unattributed().is_empty());
    let c = df!("user_id" => [1.5f64], "ts" => ["2024-01-02"], "kpi" => ["sale"]).unwrap();
    let e = journeys_from_events(&t, &c, &opts("30d")).unwrap_err().to_string();
    assert_eq!(
        e,
        "person id 1.5 in column `user_id` of the conversions table at row 1 is not a whole number within ±9.2e18 (give ids that large as text)"
    );
    // An id past the 64-bit integers is named as such, not read as a missing one.
    let c = df!("user_id" => [1e20f64], "ts" => ["2024-01-02"], "kpi" => ["sale"]).unwrap();
    let e = journeys_from_events(&t, &c, &opts("30d")).unwrap_err().to_string();
    assert!(e.starts_with("person id 100000000000000000000 in column `user_id`"), "{e}");
    // Categorical channels read as text.
    let cat = t
        .clone()
        .lazy()
        .with_column(col("channel").cast(DataType::from_categories(Categories::global())))
        .collect()
        .unwrap();
    let c = df!("user_id" => [1i64], "ts" => ["2024-01-02"], "kpi" => ["sale"]).unwrap();
    assert_eq!(
        flat(&journeys_from_events(&cat, &c, &opts("30d")).unwrap()),
        flat(&journeys_from_events(&t, &c, &opts("30d")).unwrap())
    );
    // A bad timestamp in the conversions table names that table.
    let c = df!("user_id" => [1i64], "ts" => ["soon"], "kpi" => ["sale"]).unwrap();
    let e = journeys_from_events(&t, &c, &opts("30d")).unwrap_err().to_string();
    assert!(e.starts_with("timestamp in column `ts` of the conversions table at row 1"), "{e}");
    // An empty conversions table is an error, not silence.
    let c = df!("user_id" => Vec::<i64>::new(), "ts" => Vec::<String>::new(), "kpi" => Vec::<String>::new())
        .unwrap();
    let e = journeys_from_events(&t, &c, &opts("30d")).unwrap_err().to_string();
    assert!(e.contains("the conversions table is empty"), "{e}");
    // A misspelt interaction in interaction_lookback is refused.
    let ti =
        df!("user_id" => [1i64], "ts" => ["2024-01-01"], "channel" => ["a"], "interaction" => ["impression"])
            .unwrap();
    let c = df!("user_id" => [1i64], "ts" => ["2024-01-02"], "kpi" => ["sale"]).unwrap();
    let o = EventOptions {
        dims: vec![Dimension::Interaction],
        interaction_lookback: vec![("impresion".into(), "1d".into())],
        ..opts("30d")
    };
    let e = journeys_from_events(&ti, &c, &o).unwrap_err().to_string();
    assert!(
        e.contains("`interaction_lookback` = \"impresion\"") && e.contains("they have: impression"),
        "{e}"
    );
}

/// A log of `people` persons with about ten touches each over January 2024 (campaigns per channel,
/// equal timestamps on purpose), integer person ids spaced by `spacing`.
fn big_log(people: i64, spacing: i64) -> (DataFrame, DataFrame) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let (mut tp, mut tt, mut tc, mut tk) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cp, mut ct, mut cv) = (Vec::new(), Vec::new(), Vec::new());
    let channels = ["search", "direct", " email", "display", "social"];
    for person in 0..people {
        let id = person * spacing - 7;
        for _ in 0..next(20) {
            tp.push(id);
            // Hours only: many touches of a person share an instant.
            tt.push(1_704_067_200_000_000i64 + next(24 * 30) as i64 * 3_600_000_000);
            tc.push(channels[next(5) as usize]);
            tk.push(format!("k{}", next(3)));
        }
        if next(4) == 0 {
            cp.push(id);
            ct.push(1_704_067_200_000_000i64 + next(24 * 31) as i64 * 3_600_000_000);
            cv.push(next(100) as f64);
        }
    }
    let ts = |v: Vec<i64>| {
        Series::new("ts".into(), v).cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap()
    };
    let touches = DataFrame::new_infer_height(vec![
        Series::new("user_id".into(), tp).into(),
        ts(tt).into(),
        Series::new("channel".into(), tc).into(),
        Series::new("campaign".into(), tk).into(),
    ])
    .unwrap();
    let conversions = DataFrame::new_infer_height(vec![
        Series::new("user_id".into(), cp).into(),
        ts(ct).into(),
        Series::new("value".into(), cv).into(),
    ])
    .unwrap();
    (touches, conversions)
}

#[test]
fn a_log_large_enough_for_threads_gives_what_its_halves_give() {
    // Above a million touches the sort by person and the name interning run on several threads;
    // each half of the people (fewer touches) runs on one. The journeys of the whole are the
    // journeys of the halves, and do not depend on the row order; dense ids (a bitset of the
    // range) and sparse ids (a hash map) give the same journeys.
    let (t, c) = big_log(150_000, 1);
    assert!(t.height() > 1 << 20);
    let o = EventOptions { dims: vec![Dimension::Campaign], ..EventOptions::default() };
    let whole = journeys_from_events(&t, &c, &o).unwrap();
    let period = whole.timelines().unwrap().period;
    let iso = |us: i64| chrono::DateTime::from_timestamp_micros(us).unwrap().to_rfc3339();
    let o = EventOptions {
        period: Some((iso(period.0), iso(period.1))),
        kpis: whole.kpis().names().to_vec(),
        ..o
    };
    let half = |even: bool| {
        let keep = |df: &DataFrame| {
            let mask: BooleanChunked = df
                .column("user_id")
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .map(|p| (p % 2 == 0) == even)
                .collect();
            df.filter(&mask).unwrap()
        };
        journeys_from_events(&keep(&t), &keep(&c), &o).unwrap()
    };
    let (a, b) = (half(true), half(false));
    assert!(a.len() + b.len() == whole.len() && !a.is_empty() && !b.is_empty());
    let mut halves: Flat = flat(&a);
    halves.extend(flat(&b));
    let mut all = flat(&whole);
    let key = |x: &(String, Vec<String>, f64, f64, f64), y: &(String, Vec<String>, f64, f64, f64)| {
        (&x.0, &x.1)
            .cmp(&(&y.0, &y.1))
            .then(x.2.total_cmp(&y.2))
            .then(x.3.total_cmp(&y.3))
            .then(x.4.total_cmp(&y.4))
    };
    halves.sort_by(key);
    all.sort_by(key);
    assert_eq!(all, halves);
    let campaigns = |j: &Journeys| {
        let names = j.vocab(Dimension::Campaign).names().to_vec();
        let col = j.player_column(Dimension::Campaign);
        let spans = j.spans();
        let mut v: Vec<(Vec<String>, f64)> = j
            .iter()
            .map(|r| {
                let ids = &col[spans.range(r.index)];
                (ids.iter().map(|&c| names[c as usize].clone()).collect(), r.conversions)
            })
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        v
    };
    let mut both = campaigns(&a);
    both.extend(campaigns(&b));
    both.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
    assert_eq!(campaigns(&whole), both);
    // Reversed rows: the same store.
    let rev = |df: &DataFrame| df.reverse();
    let reversed = journeys_from_events(
        &rev(&t),
        &rev(&c),
        &EventOptions { dims: vec![Dimension::Campaign], ..EventOptions::default() },
    )
    .unwrap();
    assert_eq!(flat(&reversed), flat(&whole));
    // Ids far apart (hashed, not a bitset): the same journeys, persons in the same order.
    let (ts, cs) = big_log(150_000, 1_000_003_000);
    let sparse = journeys_from_events(
        &ts,
        &cs,
        &EventOptions { dims: vec![Dimension::Campaign], ..EventOptions::default() },
    )
    .unwrap();
    assert_eq!(flat(&sparse), flat(&whole));
}
