//! Readers that answer right or say why: absent default columns, KPIs through path tables, names
//! holding the separator, one trimming rule, one person-id rule, files that are not patterns, late
//! type changes in CSVs, misspelt result columns.
use polars::prelude::*;
use touchpoint_core::{attribute, Dimension, Journeys, ModelSpec};
use touchpoint_frame::{
    journeys_from_events, journeys_from_paths, paths_frame, read_table, rows_frame, Error, EventOptions,
    PathOptions,
};

fn log() -> (DataFrame, DataFrame) {
    let t = df!(
        "user_id" => ["u1", "u1", "u2"],
        "ts" => ["2024-01-01", "2024-01-02", "2024-01-03"],
        "channel" => ["search", "email", "social"],
    )
    .unwrap();
    let c = df!(
        "user_id" => ["u1", "u2"],
        "ts" => ["2024-01-05", "2024-01-04"],
        "kpi" => ["sales", "leads"],
        "revenue" => [10.0, 0.0],
    )
    .unwrap();
    (t, c)
}

#[test]
fn an_absent_default_value_column_warns_and_a_named_one_is_an_error() {
    let (t, c) = log();
    let j = journeys_from_events(&t, &c, &EventOptions::default()).unwrap();
    assert_eq!(j.values().iter().sum::<f64>(), 0.0);
    assert_eq!(j.warnings().len(), 1, "{:?}", j.warnings());
    assert!(j.warnings()[0].contains("no `value` column"), "{}", j.warnings()[0]);
    // Every attribution repeats it.
    let r = attribute(&j, &[ModelSpec::from_name("linear").unwrap()], Dimension::Channel).unwrap();
    assert!(r.warnings.iter().any(|w| w.contains("no `value` column")), "{:?}", r.warnings);
    // The same name given by the caller is an error naming the column.
    let named = EventOptions { value_is_default: false, ..EventOptions::default() };
    match journeys_from_events(&t, &c, &named) {
        Err(Error::MissingColumn { column, .. }) => assert_eq!(column, "value"),
        other => panic!("expected MissingColumn, got {:?}", other.map(|j| j.len())),
    }
    // A present column is read, with no warning.
    let revenue =
        EventOptions { value: Some("revenue".into()), value_is_default: false, ..EventOptions::default() };
    let j = journeys_from_events(&t, &c, &revenue).unwrap();
    assert_eq!(j.values().iter().sum::<f64>(), 10.0);
    assert!(j.warnings().is_empty());
}

fn kpi_totals(j: &Journeys) -> Vec<(String, f64, f64)> {
    let mut out: Vec<(String, f64, f64)> = j
        .kpis()
        .names()
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let (c, n) = j
                .iter()
                .filter(|r| r.kpi == k as u32)
                .fold((0.0, 0.0), |(c, n), r| (c + r.conversions, n + r.nulls));
            (name.clone(), c, n)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn path_tables_keep_their_kpis_through_to_paths() {
    let (t, c) = log();
    let j = journeys_from_events(&t, &c, &EventOptions::default()).unwrap();
    let table = paths_frame(&j, ">").unwrap();
    let back =
        journeys_from_paths(&table, &PathOptions::default().tolerate_default_absences(&table)).unwrap();
    assert_eq!(kpi_totals(&back), kpi_totals(&j));
    assert_eq!(back.kpis().len(), 2);
    // A null KPI is an error naming the column and row.
    let mut bad = table.clone();
    let kpis: Vec<Option<String>> = table
        .column("kpi")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, v)| if i == 1 { None } else { v.map(str::to_owned) })
        .collect();
    bad.replace("kpi", Column::new("kpi".into(), kpis)).unwrap();
    match journeys_from_paths(&bad, &PathOptions::default()) {
        Err(Error::NullValue { column, row, .. }) => assert_eq!((column.as_str(), row), ("kpi", 2)),
        other => panic!("expected NullValue, got {:?}", other.map(|j| j.len())),
    }
}

#[test]
fn a_name_holding_the_separator_is_refused_by_to_paths() {
    let t = df!("user_id" => ["u"], "ts" => ["2024-01-01"], "channel" => ["a > b"]).unwrap();
    let c = df!("user_id" => ["u"], "ts" => ["2024-01-02"], "kpi" => ["sales"], "value" => [1.0]).unwrap();
    let j = journeys_from_events(&t, &c, &EventOptions::default()).unwrap();
    match paths_frame(&j, ">") {
        Err(Error::InvalidOption { option: "sep", reason, .. }) => {
            assert!(reason.contains("`a > b`"), "{reason}")
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // Another separator writes it, and it reads back as one channel.
    let table = paths_frame(&j, "|").unwrap();
    let opts = PathOptions { sep: "|".into(), ..PathOptions::default() }.tolerate_default_absences(&table);
    let back = journeys_from_paths(&table, &opts).unwrap();
    assert_eq!(back.vocab(Dimension::Channel).names(), &["a > b".to_owned()]);
}

#[test]
fn unicode_whitespace_is_trimmed_in_path_tables_as_in_event_logs() {
    let table =
        df!("path" => ["search\u{a0}> email", "\u{2003}email"], "total_conversions" => [1.0, 1.0]).unwrap();
    let j = journeys_from_paths(&table, &PathOptions::default().tolerate_default_absences(&table)).unwrap();
    let mut names = j.vocab(Dimension::Channel).names().to_vec();
    names.sort();
    assert_eq!(names, vec!["email".to_owned(), "search".to_owned()]);
    // A touch that is only whitespace is an empty touch.
    let table = df!("path" => ["search >\u{a0}> email"], "total_conversions" => [1.0]).unwrap();
    let e =
        journeys_from_paths(&table, &PathOptions::default().tolerate_default_absences(&table)).unwrap_err();
    assert!(e.to_string().contains("empty touch"), "{e}");
}

fn matched(t: &DataFrame, c: &DataFrame) -> f64 {
    let j = journeys_from_events(t, c, &EventOptions::default()).unwrap();
    j.conversions().iter().sum()
}

#[test]
fn person_ids_follow_one_rule_whatever_their_types() {
    let c_text =
        df!("user_id" => ["1", " 2 "], "ts" => ["2024-01-05", "2024-01-05"], "value" => [1.0, 1.0]).unwrap();
    let c_int =
        df!("user_id" => [1i64, 2], "ts" => ["2024-01-05", "2024-01-05"], "value" => [1.0, 1.0]).unwrap();
    let t_float =
        df!("user_id" => [1.0f64, 2.0], "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", "b"])
            .unwrap();
    let t_int =
        df!("user_id" => [1i64, 2], "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", "b"]).unwrap();
    let t_text =
        df!("user_id" => ["1", "2"], "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", "b"]).unwrap();
    for t in [&t_float, &t_int, &t_text] {
        for c in [&c_text, &c_int] {
            assert_eq!(
                matched(t, c),
                2.0,
                "{:?} vs {:?}",
                t.column("user_id").unwrap().dtype(),
                c.column("user_id").unwrap().dtype()
            );
        }
    }
    // Unsigned ids above 2^63 match exactly (as text), not as nulls.
    let big = [u64::MAX, u64::MAX - 1];
    let t = df!("user_id" => big, "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", "b"]).unwrap();
    let c = df!("user_id" => [u64::MAX], "ts" => ["2024-01-05"], "value" => [1.0]).unwrap();
    assert_eq!(matched(&t, &c), 1.0);
    let c = df!("user_id" => [u64::MAX.to_string()], "ts" => ["2024-01-05"], "value" => [1.0]).unwrap();
    assert_eq!(matched(&t, &c), 1.0);
}

#[test]
fn a_file_path_is_never_a_pattern() {
    let dir = std::env::temp_dir().join(format!("tp-glob-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data1.csv"), "path,total_conversions\na,1\n").unwrap();
    std::fs::write(dir.join("data[1].csv"), "path,total_conversions\nb,1\nc,1\n").unwrap();
    let df = read_table(&dir.join("data[1].csv"), b',').unwrap();
    assert_eq!(df.height(), 2, "the file itself, not the pattern");
    let e = read_table(&dir.join("data*.csv"), b',').unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_types_are_inferred_from_every_row() {
    let dir = std::env::temp_dir().join(format!("tp-infer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("path,total_conversions,total_null\n");
    for _ in 0..10_050 {
        text.push_str("a > b,1,2\n");
    }
    text.push_str("b,0.5,1\n");
    let file = dir.join("late_fraction.csv");
    std::fs::write(&file, text).unwrap();
    let df = read_table(&file, b',').unwrap();
    let j = journeys_from_paths(&df, &PathOptions::default().tolerate_default_absences(&df)).unwrap();
    assert_eq!(j.conversions().iter().sum::<f64>(), 10_050.5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[derive(serde::Serialize)]
struct Row {
    model: String,
    value: f64,
}

#[test]
fn a_misspelt_result_column_is_an_error_not_nulls() {
    let rows = vec![Row { model: "linear".into(), value: 1.0 }];
    let df = rows_frame(&rows, &["model", "value"]).unwrap();
    assert_eq!(df.width(), 2);
    match rows_frame(&rows, &["model", "valeu"]) {
        Err(Error::MissingColumn { column, available, .. }) => {
            assert_eq!(column, "valeu");
            assert!(available.contains("value"), "{available}");
        }
        other => panic!("expected MissingColumn, got {other:?}"),
    }
}

#[test]
fn the_streaming_csv_reader_equals_the_dataframe_reader() {
    use touchpoint_frame::journeys_from_path_csv;
    let dir = std::env::temp_dir().join(format!("tp-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("paths.csv");
    std::fs::write(
        &file,
        "kpi,path,total_conversions,total_conversion_value,total_null\n\
         sales,search > email,2,30.5,4\n\
         leads,\"a, b > c\",1,0,0\n\
         sales, direct ,0,0,7\n",
    )
    .unwrap();
    let streamed = journeys_from_path_csv(&file, &PathOptions::default()).unwrap();
    let df = read_table(&file, b',').unwrap();
    let framed = journeys_from_paths(&df, &PathOptions::default().tolerate_default_absences(&df)).unwrap();
    assert_eq!(kpi_totals(&streamed), kpi_totals(&framed));
    assert_eq!(streamed.vocab(Dimension::Channel).names(), framed.vocab(Dimension::Channel).names());
    assert_eq!(streamed.values(), framed.values());
    assert_eq!(streamed.nulls(), framed.nulls());
    // Errors name the row and column, as the DataFrame reader's do.
    std::fs::write(&file, "path,total_conversions\na,1\nb,one\n").unwrap();
    let e = journeys_from_path_csv(&file, &PathOptions::default()).unwrap_err().to_string();
    assert!(e.contains("`total_conversions`") && e.contains("row 2") && e.contains("\"one\""), "{e}");
    std::fs::write(&file, "route,total_conversions\na,1\n").unwrap();
    let e = journeys_from_path_csv(&file, &PathOptions::default()).unwrap_err().to_string();
    assert!(e.contains("missing column `path`") && e.contains("`route`"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every journey as (KPI name, channel names, conversions, value, nulls), in store order.
fn journey_rows(j: &Journeys) -> Vec<(String, Vec<String>, f64, f64, f64)> {
    let names = j.vocab(Dimension::Channel).names();
    j.iter()
        .map(|r| {
            let path = r.channels.iter().map(|&c| names[c as usize].clone()).collect();
            (j.kpis().name(r.kpi).to_owned(), path, r.conversions, r.value, r.nulls)
        })
        .collect()
}

/// A file large enough to be read in byte ranges on several threads gives the journeys, in order, and
/// the vocabulary, in first-seen order, that the DataFrame reader gives; with or without a last line
/// break, and with a quoted record or a carriage return deep in the file (read by the csv reader).
/// An error deep in the file names its row.
#[test]
fn a_large_csv_read_in_ranges_equals_the_dataframe_reader() {
    use touchpoint_frame::journeys_from_path_csv;
    let dir = std::env::temp_dir().join(format!("tp-ranges-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("paths.csv");
    let names =
        ["search", "email", "\u{a0}social\u{a0}", "display", "a_channel_with_a_long_name", "café", "x"];
    let mut rows = Vec::new();
    let mut state = 12345u64;
    let mut next = |m: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    for i in 0..40_000 {
        let len = 1 + next(12) as usize;
        let path: Vec<&str> = (0..len).map(|_| names[next(names.len() as u64) as usize]).collect();
        let kpi = if i % 3 == 0 { "leads" } else { "sales" };
        let conversions = next(3);
        let value = if conversions > 0 { format!("{}.{}", next(1000), next(100)) } else { "0".into() };
        rows.push(format!("{kpi},{},{conversions},{value},{}.0", path.join(" > "), next(50)));
    }
    let header = "kpi,path,total_conversions,total_conversion_value,total_null";
    let check = |body: &str| {
        std::fs::write(&file, format!("{header}\n{body}")).unwrap();
        assert!(std::fs::metadata(&file).unwrap().len() > 2 << 20, "large enough for ranges");
        let streamed = journeys_from_path_csv(&file, &PathOptions::default()).unwrap();
        let df = read_table(&file, b',').unwrap();
        let framed = journeys_from_paths(&df, &PathOptions::default()).unwrap();
        assert_eq!(streamed.vocab(Dimension::Channel).names(), framed.vocab(Dimension::Channel).names());
        assert_eq!(streamed.kpis().names(), framed.kpis().names());
        assert_eq!(journey_rows(&streamed), journey_rows(&framed));
    };
    let body = rows.join("\n");
    check(&format!("{body}\n"));
    check(&body);
    let mut quoted = rows.clone();
    quoted[30_000] = "sales,\"search > email\",1,2.5,3".into();
    check(&format!("{}\n", quoted.join("\n")));
    check(&format!("{}\r\n", rows.join("\r\n")));
    // Records of one length, as many as every thread count up to 8 divides: every range starts
    // exactly at a record.
    let fixed: Vec<String> = (0..840 * 60)
        .map(|i| {
            let path: Vec<String> = (0..8).map(|_| format!("ch{}", next(10))).collect();
            format!("sales,{},{},12.5,{}", path.join(" > "), 1 + i % 9, next(10))
        })
        .collect();
    check(&format!("{}\n", fixed.join("\n")));
    // Errors: a bad number and an empty touch deep in the second half, named by their rows.
    let mut bad = rows.clone();
    bad[31_000] = "sales,search,1,x7,0".into();
    std::fs::write(&file, format!("{header}\n{}\n", bad.join("\n"))).unwrap();
    let e = journeys_from_path_csv(&file, &PathOptions::default()).unwrap_err().to_string();
    assert!(e.contains("`total_conversion_value`") && e.contains("row 31001") && e.contains("x7"), "{e}");
    bad[31_000] = "sales,search >  > email,1,1,0".into();
    std::fs::write(&file, format!("{header}\n{}\n", bad.join("\n"))).unwrap();
    let e = journeys_from_path_csv(&file, &PathOptions::default()).unwrap_err().to_string();
    assert!(e.contains("row 31001"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The credit CSV written straight from the credits is what polars writes from the credit frame, with
/// and without interval columns (the command line's `--format csv`).
#[test]
fn the_credit_csv_is_the_credit_frame_written_by_polars() {
    use touchpoint_core::{attribute_with_intervals, Resampling, Unattended};
    use touchpoint_frame::{credits_frame, write_credits_csv};
    let (t, c) = log();
    let j =
        journeys_from_events(&t, &c, &EventOptions { value: Some("revenue".into()), ..Default::default() })
            .unwrap();
    let models = [ModelSpec::from_name("linear").unwrap(), ModelSpec::from_name("markov").unwrap()];
    let settings = Resampling { level: 0.9, resamples: 20, seed: 3 };
    for r in [
        attribute(&j, &models, Dimension::Channel).unwrap(),
        attribute_with_intervals(&j, &models, Dimension::Channel, &settings, 1, &Unattended).unwrap(),
    ] {
        let mut ours = Vec::new();
        write_credits_csv(&r, &mut ours).unwrap();
        let mut polars = Vec::new();
        CsvWriter::new(&mut polars).include_header(true).finish(&mut credits_frame(&r).unwrap()).unwrap();
        assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(polars).unwrap());
    }
}

/// Issue 25, items 11 and 24: a header naming a column twice is refused (which of the two a reader
/// takes is arbitrary), and bad UTF-8 is named by the file's line, in both readers.
#[test]
fn duplicate_headers_and_bad_utf8_are_named() {
    use touchpoint_frame::{csv_header, first_non_utf8_line, journeys_from_path_csv};
    let dir = std::env::temp_dir().join(format!("tp-frame-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("paths.csv");
    std::fs::write(&file, "path,total_conversions,path\na > b,1,c\n").unwrap();
    let want = "column `path` must be named once in the header, found columns 1 and 3";
    assert_eq!(journeys_from_path_csv(&file, &PathOptions::default()).unwrap_err().to_string(), want);
    assert_eq!(csv_header(&file, b',').unwrap_err().to_string(), want);
    std::fs::write(&file, b"path,total_conversions\na,1\nb,2\nc,3\n\xff\xfe,4\n").unwrap();
    let e = journeys_from_path_csv(&file, &PathOptions::default()).unwrap_err().to_string();
    assert!(e.contains("line 5: field 1 is not UTF-8 text"), "{e}");
    assert_eq!(first_non_utf8_line(&file).unwrap().unwrap(), "line 5: not UTF-8 text, at byte 1 of the line");
    std::fs::write(&file, "path,total_conversions\na,1\n").unwrap();
    assert_eq!(first_non_utf8_line(&file).unwrap(), None);
    // A record with a field too many names its line too.
    std::fs::write(&file, "path,total_conversions\na,1\nb,2,3\n").unwrap();
    let e = journeys_from_path_csv(&file, &PathOptions::default()).unwrap_err().to_string();
    assert!(e.contains("line 3: 3 fields where the header has 2"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 25, items 10, 19 and 25: a local time that occurs twice, a year past 9999, a population
/// smaller than the log and a conversion outside the period are each named as what they are.
#[test]
fn timestamps_and_population_name_the_real_problem() {
    let t = df!("user_id" => [1i64, 1], "ts" => ["2024-10-26 12:00", "2024-10-27 02:30"], "channel" => ["a", "b"])
        .unwrap();
    let c = df!("user_id" => [1i64], "ts" => ["2024-10-28 10:00"], "value" => [1.0]).unwrap();
    let paris = EventOptions { tz: "Europe/Paris".into(), ..EventOptions::default() };
    let e = journeys_from_events(&t, &c, &paris).unwrap_err().to_string();
    assert!(e.contains("row 2") && e.contains("occurs twice in Europe/Paris"), "{e}");
    assert!(e.contains("02:30+02:00 or 02:30+01:00"), "{e}");
    // The gap is still refused, and UTC has neither.
    let gap = df!("user_id" => [1i64], "ts" => ["2024-03-31 02:30"], "channel" => ["a"]).unwrap();
    let e = journeys_from_events(&gap, &c, &paris).unwrap_err().to_string();
    assert!(e.contains("does not exist in Europe/Paris"), "{e}");
    assert!(journeys_from_events(&t, &c, &EventOptions::default()).is_ok());
    // Year 10000.
    let far = df!("user_id" => [1i64], "ts" => ["+10000-01-01T00:00:00Z"], "channel" => ["a"]).unwrap();
    let e = journeys_from_events(&far, &c, &EventOptions::default()).unwrap_err().to_string();
    assert!(e.contains("outside the years 1 to 9999"), "{e}");
    // Population below the people of the log: said at once, naming the option.
    let pop = EventOptions { population: Some(1), ..EventOptions::default() };
    let two =
        df!("user_id" => [1i64, 2], "ts" => ["2024-10-26", "2024-10-26"], "channel" => ["a", "b"]).unwrap();
    let e = journeys_from_events(&two, &c, &pop).unwrap_err().to_string();
    assert!(e.starts_with("invalid option `population` = \"1\": the log holds 2 people"), "{e}");
    // A conversion outside a given period is left out and counted under `outside_period` (never
    // called unparseable, never an error).
    let period =
        EventOptions { period: Some(("2024-10-01".into(), "2024-10-27".into())), ..EventOptions::default() };
    let j = journeys_from_events(&two, &c, &period).unwrap();
    // The one conversion (2024-10-28, after the period) is counted with its value; none is left in.
    let outside: Vec<_> = j.unattributed().iter().filter(|u| u.reason == "outside_period").collect();
    assert_eq!(outside.len(), 1, "{:?}", j.unattributed());
    assert_eq!((outside[0].conversions, outside[0].value), (1.0, 1.0));
    assert_eq!(j.summary().iter().map(|s| s.attributed).sum::<f64>(), 0.0);
    assert_eq!(j.timelines().map(|t| t.conversions_of(0)), Some((0.0, 0.0)));
}

/// Issue 25, item 4: journeys of two time halves of one log share people; merged, each would be two
/// people with half a timeline. Refused, naming one; halves split by person merge as before.
#[test]
fn merge_refuses_parts_that_share_people() {
    let t = df!(
        "user_id" => ["u1", "u2", "u1", "u3"],
        "ts" => ["2024-01-01", "2024-01-01", "2024-01-10", "2024-01-10"],
        "channel" => ["a", "b", "a", "b"],
    )
    .unwrap();
    let c =
        df!("user_id" => ["u1", "u3"], "ts" => ["2024-01-02", "2024-01-11"], "value" => [1.0, 1.0]).unwrap();
    let opts = EventOptions {
        period: Some(("2024-01-01".into(), "2024-01-20".into())),
        population: Some(10),
        ..EventOptions::default()
    };
    let half = |from: &str, to: &str| {
        let keep = |df: &DataFrame| {
            let ts = df.column("ts").unwrap().str().unwrap();
            let mask: BooleanChunked = ts.iter().map(|v| v.map(|v| v >= from && v < to)).collect();
            df.filter(&mask).unwrap()
        };
        journeys_from_events(&keep(&t), &keep(&c), &opts).unwrap()
    };
    let e = half("2024-01-01", "2024-01-05").merge(half("2024-01-05", "2024-01-20")).unwrap_err().to_string();
    assert!(e.contains("both hold person `u1`"), "{e}");
    let by_person = |ids: &[&str]| {
        let keep = |df: &DataFrame| {
            let col = df.column("user_id").unwrap().str().unwrap();
            let mask: BooleanChunked = col.iter().map(|v| v.map(|v| ids.contains(&v))).collect();
            df.filter(&mask).unwrap()
        };
        journeys_from_events(&keep(&t), &keep(&c), &EventOptions { population: Some(5), ..opts.clone() })
            .unwrap()
    };
    let merged = by_person(&["u1"]).merge(by_person(&["u2", "u3"])).unwrap();
    assert_eq!(merged.timelines().unwrap().persons(), 3);
    assert_eq!(merged.timelines().unwrap().population, Some(10));
}

/// Also seen by the red team (issue 25): a name equal to the missing-value label, and an empty
/// required name, are each named for what they are.
#[test]
fn names_that_would_merge_with_missing_values_are_refused() {
    let c = df!("user_id" => [1i64], "ts" => ["2024-01-02"], "value" => [1.0]).unwrap();
    let t = df!("user_id" => [1i64, 1], "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", "(none)"])
        .unwrap();
    let e = journeys_from_events(&t, &c, &EventOptions::default()).unwrap_err().to_string();
    assert_eq!(
        e,
        "the name `(none)`, which labels missing values (rename it) in column `channel` of the touches table at row 2"
    );
    let t =
        df!("user_id" => [1i64, 1], "ts" => ["2024-01-01", "2024-01-01"], "channel" => ["a", " "]).unwrap();
    let e = journeys_from_events(&t, &c, &EventOptions::default()).unwrap_err().to_string();
    assert_eq!(e, "empty text where a name is required in column `channel` of the touches table at row 2");
    let t = df!("user_id" => [1i64, 1], "ts" => ["2024-01-01", "2024-01-01"], "channel" => [Some("a"), None])
        .unwrap();
    let e = journeys_from_events(&t, &c, &EventOptions::default()).unwrap_err().to_string();
    assert_eq!(e, "null in column `channel` of the touches table at row 2");
}
