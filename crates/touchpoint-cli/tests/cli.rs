//! The `touchpoint` binary end to end: table, CSV and JSON output, and errors on stderr.
use std::process::Command;

fn touchpoint(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_touchpoint")).args(args).output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn sample(dir: &std::path::Path) -> String {
    let p = dir.join("paths.csv");
    std::fs::write(&p, "path;total_conversions;total_conversion_value;total_null\na > b;2;20;1\nb;1;5;3\n")
        .unwrap();
    p.display().to_string()
}

#[test]
fn attribute_prints_a_table_csv_and_json() {
    let dir = std::env::temp_dir().join(format!("tp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = sample(&dir);
    let (code, out, err) = touchpoint(&[
        "attribute",
        "--paths",
        &file,
        "--delimiter",
        ";",
        "--model",
        "linear",
        "--model",
        "last_touch",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("KPI `conversions`: credited conversions by channel"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("a ") && l.contains("1.00") && l.contains("0.00")), "{out}");

    let (code, out, _) = touchpoint(&[
        "attribute",
        "--paths",
        &file,
        "--delimiter",
        ";",
        "--model",
        "linear",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "model,kpi,channel,conversions,value,share");
    assert_eq!(lines[1], "linear,conversions,a,1.0,10.0,0.3333333333333333");

    let (code, out, _) = touchpoint(&[
        "attribute",
        "--paths",
        &file,
        "--delimiter",
        ";",
        "--model",
        "markov",
        "--order",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("\"order\": 2"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_reported_not_panicked() {
    let (code, _, err) = touchpoint(&["attribute", "--paths", "/nonexistent/p.csv"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read `/nonexistent/p.csv`: no such file"), "{err}");
    let dir = std::env::temp_dir().join(format!("tp-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = sample(&dir);
    let (code, _, err) =
        touchpoint(&["attribute", "--paths", &file, "--delimiter", ";", "--model", "lastclick"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown model `lastclick`"), "{err}");
    let (code, _, err) = touchpoint(&["attribute", "--paths", &file, "--model", "linear"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing column `path`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn additive_hazard_with_period_population_and_lift_tests() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data");
    let (touches, conversions) = (format!("{root}/touches.csv"), format!("{root}/conversions.csv"));
    let dir = std::env::temp_dir().join(format!("tp-cli-ah-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tests = dir.join("lift.csv");
    std::fs::write(&tests, "channel,kpi,per_exposure,se\nsearch,sales,0.02,0.005\n").unwrap();
    let base = [
        "attribute",
        "--touches",
        &touches,
        "--conversions",
        &conversions,
        "--population",
        "10000",
        "--model",
        "additive_hazard",
        "--format",
        "csv",
    ];
    let (code, out, err) = touchpoint(&base);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.starts_with("additive_hazard,sales,(baseline),")), "{out}");
    let mut with_test = base.to_vec();
    let path = tests.display().to_string();
    with_test.extend(["--lift-test", &path]);
    let (code, out, err) = touchpoint(&with_test);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("additive_hazard,sales,search,"), "{out}");
    // A lift test without the model it calibrates, a period that excludes conversions, a bad period.
    let (code, _, err) = touchpoint(&[
        "attribute",
        "--touches",
        &touches,
        "--conversions",
        &conversions,
        "--model",
        "linear",
        "--lift-test",
        &path,
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("add --model additive_hazard"), "{err}");
    let (code, _, err) = touchpoint(&[
        "attribute",
        "--touches",
        &touches,
        "--conversions",
        &conversions,
        "--period",
        "2026-05-01,2026-06-01",
        "--model",
        "linear",
    ]);
    // A period that leaves out conversions: left out and said, not an error.
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("lie outside the observation period"), "{err}");
    let (code, _, err) = touchpoint(&[
        "attribute",
        "--touches",
        &touches,
        "--conversions",
        &conversions,
        "--period",
        "2030-01-01",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("START,END"), "{err}");
    // The report: report.html with the page's summary, beside the CSV and Markdown files.
    let goals = format!("{root}/goals.toml");
    let out_dir = dir.join("report");
    let out_s = out_dir.display().to_string();
    let (code, _, err) = touchpoint(&[
        "report",
        "--touches",
        &touches,
        "--conversions",
        &conversions,
        "--population",
        "10000",
        "--goals",
        &goals,
        "--model",
        "additive_hazard",
        "--lift-test",
        &path,
        "--intervals",
        "0.9",
        "--resamples",
        "20",
        "--title",
        "Quarter <2>",
        "--out",
        &out_s,
    ]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("Service, tickets deflected: the channels added"), "{html}");
    // The title is escaped, not markup.
    assert!(html.contains("<title>Quarter &lt;2&gt;</title>"));
    assert!(out_dir.join("contribution.csv").exists() && err.contains("report.html"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `touchpoint mmm` on pymc-marketing's example: MAP (quick), its tables and the fit, and the errors
/// a user meets first (a missing column, a missing week), on stderr with exit code 2.
#[test]
fn mmm_fits_a_weekly_table() {
    let data =
        format!("{}/../../../shared/datasets/pymc-marketing-mmm/mmm_example.csv", env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("tp-cli-mmm-{}", std::process::id()));
    let out_dir = dir.display().to_string();
    let args = [
        "mmm",
        "--data",
        &data,
        "--date",
        "date_week",
        "--target",
        "y",
        "--media",
        "x1,x2",
        "--controls",
        "event_1,event_2,t",
        "--no-trend",
        "--method",
        "map",
        "--out",
        &out_dir,
    ];
    let (code, out, err) = touchpoint(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("| x1 | media |"), "{out}");
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let x1: Vec<&str> = summary.lines().find(|l| l.starts_with("x1,")).unwrap().split(',').collect();
    let contribution: f64 = x1[2].parse().unwrap();
    // The mode lands near the truth, 274,848.
    assert!((contribution - 274_848.0).abs() < 0.1 * 274_848.0, "{contribution}");
    assert!(err.contains("method=\"map\""), "{err}");
    let fit = std::fs::read_to_string(dir.join("fit.json")).unwrap();
    assert!(touchpoint_mmm::Fit::from_json(&fit).is_ok());
    assert!(std::fs::read_to_string(dir.join("contributions.csv")).unwrap().lines().count() > 179);

    // Plan the two channels from the saved fit: the budget is the run rate's, spent in full.
    let goals = dir.join("goals.toml");
    std::fs::write(&goals, "[[kpi]]\nname = \"y\"\nfunction = \"sales\"\nunit_value = 1.0\n").unwrap();
    let fit_arg = format!("y={}", dir.join("fit.json").display());
    let goals_arg = goals.display().to_string();
    let plan_out = dir.join("plan").display().to_string();
    let plan = ["plan", "--fit", &fit_arg, "--goals", &goals_arg, "--periods", "8", "--out", &plan_out];
    let (code, out, err) = touchpoint(&plan);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Plan: budget") && out.contains("| value |") && out.contains("Optimality"),
        "{out}"
    );
    let alloc = std::fs::read_to_string(dir.join("plan/allocation.csv")).unwrap();
    assert_eq!(alloc.lines().count(), 1 + 2 * 8);
    let spend: f64 =
        alloc.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().parse::<f64>().unwrap()).sum();
    let current: f64 =
        alloc.lines().skip(1).map(|l| l.split(',').nth(5).unwrap().parse::<f64>().unwrap()).sum();
    assert!((spend - current).abs() < 1e-6 * current, "{spend} vs {current}");
    assert!(dir.join("plan/plan.json").exists() && dir.join("plan/marginal.csv").exists());
    let mut capped = plan.to_vec();
    capped.extend(["--bound", "x1=:1", "--bound", "x2=0:1", "--target", "y=1e9"]);
    let (code, _, err) = touchpoint(&capped);
    assert_eq!(code, 2);
    assert!(err.contains("kpi `y`: no plan within the bounds reaches 1000000000"), "{err}");
    let mut unknown = plan.to_vec();
    unknown.extend(["--lock", "tv"]);
    let (code, _, err) = touchpoint(&unknown);
    assert_eq!(code, 2);
    assert!(err.contains("invalid `locked`: \"tv\""), "{err}");

    let mut bad = args.to_vec();
    bad[8] = "x1,x9";
    let (code, _, err) = touchpoint(&bad);
    assert_eq!(code, 2);
    assert!(err.contains("column `x9` is not in the data"), "{err}");
    // Drop week 10: a missing period named by its row.
    let text = std::fs::read_to_string(&data).unwrap();
    let gap: Vec<&str> = text.lines().enumerate().filter(|(i, _)| *i != 11).map(|(_, l)| l).collect();
    let gap_file = dir.join("gap.csv");
    std::fs::write(&gap_file, gap.join("\n")).unwrap();
    let gap_path = gap_file.display().to_string();
    let mut with_gap = args.to_vec();
    with_gap[2] = &gap_path;
    let (code, _, err) = touchpoint(&with_gap);
    assert_eq!(code, 2);
    assert!(err.contains("column `date_week`, row 10") && err.contains("missing"), "{err}");
}

/// `touchpoint rollout` on the panel of the csdid fixture: its summary equals csdid's (the CLI
/// reads the CSV as text and types it itself), with covariates; then the errors a user meets.
#[test]
fn rollout_reads_a_panel_and_equals_csdid() {
    let panel = format!("{}/../touchpoint-panel/tests/data/rollout_panel.csv", env!("CARGO_MANIFEST_DIR"));
    let answers: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../touchpoint-panel/tests/data/csdid_answers.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("tp-cli-rollout-{}", std::process::id()));
    let out_dir = dir.display().to_string();
    let args = [
        "rollout",
        "--panel",
        &panel,
        "--unit",
        "unit",
        "--time",
        "time",
        "--outcome",
        "y",
        "--cohort",
        "cohort",
        "--covariates",
        "x1,x2",
        "--control",
        "not_yet",
        "--bootstrap",
        "0",
        "--out",
        &out_dir,
    ];
    let (code, out, err) = touchpoint(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("| simple |") || out.contains("simple"), "{out}");
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let simple: Vec<&str> = summary.lines().find(|l| l.contains(",simple,")).unwrap().split(',').collect();
    let effect: f64 = simple[2].parse().unwrap();
    let want = answers["cases"]["notyettreated/x1_x2"]["simple"]["effect"].as_f64().unwrap();
    assert!((effect - want).abs() < 1e-8, "{effect} vs csdid {want}");
    for name in ["group_time", "event_study", "by_cohort", "by_period"] {
        assert!(dir.join(format!("{name}.csv")).exists(), "{name}.csv");
    }

    // A missing column, and a cohort that is not a period: exit code 2, the problem named.
    let mut bad = args.to_vec();
    bad[8] = "revenue";
    let (code, _, err) = touchpoint(&bad);
    assert_eq!(code, 2);
    assert!(err.contains("revenue"), "{err}");
    let (code, _, err) =
        touchpoint(&["rollout", "--panel", &panel, "--unit", "unit", "--time", "time", "--outcome", "y"]);
    assert_ne!(code, 0);
    assert!(err.contains("--cohort") || err.contains("treatment"), "{err}");
    let mut bad = args.to_vec();
    bad.extend(["--levels", "belts"]);
    let (code, _, err) = touchpoint(&bad);
    assert_eq!(code, 2);
    assert!(err.contains("levels") && err.contains("belts") && err.contains("reached or step"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
