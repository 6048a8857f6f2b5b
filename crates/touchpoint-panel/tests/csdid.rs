//! Touchpoint's rollout estimates equal csdid's (the Python port of R's `did`) to 1e-8 on a panel
//! written to CSV: every ATT(g, t), every aggregation and every analytic standard error, for
//! never-treated and not-yet-treated comparisons, without and with covariates, and not-yet-treated
//! without never-treated units (the last cohort is then only a comparison). The answers are
//! frozen in `tests/data/csdid_answers.json` by `tests/data/make_csdid_fixture.py` (csdid 0.4.3).
use std::collections::HashMap;

use serde_json::Value;
use touchpoint_core::Unattended;
use touchpoint_panel::{rollout_effect, Comparison, Ids, Panel, PanelRows, RolloutOptions, Treatment};

fn panel(covariates: bool, treated_only: bool) -> Panel {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rollout_panel.csv"))
        .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (u, t, y, g, x1, x2) = (col("unit"), col("time"), col("y"), col("cohort"), col("x1"), col("x2"));
    let mut rows = PanelRows::new(Ids::Int(vec![]), vec![], vec![], Treatment::Cohort(vec![]));
    if covariates {
        rows.covariates = vec![("x1".into(), vec![]), ("x2".into(), vec![])];
    }
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if treated_only && f[g] == "0" {
            continue;
        }
        let Ids::Int(units) = &mut rows.unit else { unreachable!() };
        units.push(f[u].parse().unwrap());
        rows.time.push(f[t].parse().unwrap());
        rows.outcome.push(f[y].parse().unwrap());
        let Treatment::Cohort(c) = &mut rows.treatment else { unreachable!() };
        let cohort: i64 = f[g].parse().unwrap();
        c.push((cohort != 0).then_some(cohort));
        if covariates {
            rows.covariates[0].1.push(f[x1].parse().unwrap());
            rows.covariates[1].1.push(f[x2].parse().unwrap());
        }
    }
    Panel::from_rows(&rows).unwrap()
}

fn close(what: &str, ours: f64, theirs: f64) {
    assert!((ours - theirs).abs() <= 1e-8 * (1.0 + theirs.abs()), "{what}: ours {ours}, csdid {theirs}");
}

#[test]
fn equals_csdid() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/csdid_answers.json"))
            .unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for (case, answers) in fixture["cases"].as_object().unwrap() {
        let mut parts = case.split('/');
        let (comparison, covariates) = (parts.next().unwrap(), parts.next().unwrap());
        let treated_only = parts.next() == Some("treated_only");
        let options = RolloutOptions {
            comparison: if comparison == "nevertreated" {
                Comparison::NeverTreated
            } else {
                Comparison::NotYetTreated
            },
            bootstrap: 0,
            ..RolloutOptions::default()
        };
        let result =
            rollout_effect(&panel(covariates != "none", treated_only), &options, &Unattended).unwrap();
        let cells: HashMap<(i64, i64), (f64, f64)> =
            result.group_time.iter().map(|r| ((r.cohort, r.time), (r.effect, r.se))).collect();
        let theirs = answers["group_time"].as_array().unwrap();
        assert_eq!(cells.len(), theirs.len(), "{case}: cells");
        for r in theirs {
            let key = (r["cohort"].as_i64().unwrap(), r["time"].as_i64().unwrap());
            let (att, se) = cells[&key];
            close(&format!("{case} ATT{key:?}"), att, r["effect"].as_f64().unwrap());
            close(&format!("{case} se{key:?}"), se, r["se"].as_f64().unwrap());
            checked += 2;
        }
        for (theirs_name, ours_name) in
            [("simple", "simple"), ("dynamic", "event"), ("group", "group"), ("calendar", "calendar")]
        {
            let a = &answers[theirs_name];
            let rows: Vec<_> = result.aggregates.iter().filter(|r| r.aggregation == ours_name).collect();
            let overall = rows.iter().find(|r| r.at.is_none()).unwrap();
            close(&format!("{case} {ours_name} overall"), overall.effect, a["effect"].as_f64().unwrap());
            close(&format!("{case} {ours_name} overall se"), overall.se, a["se"].as_f64().unwrap());
            checked += 2;
            if let Some(at) = a.get("at") {
                let at: Vec<i64> = at.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
                assert_eq!(rows.len() - 1, at.len(), "{case} {ours_name}: rows");
                for (i, k) in at.iter().enumerate() {
                    let row = rows.iter().find(|r| r.at == Some(*k)).unwrap();
                    close(
                        &format!("{case} {ours_name} at {k}"),
                        row.effect,
                        a["effects"][i].as_f64().unwrap(),
                    );
                    close(&format!("{case} {ours_name} se at {k}"), row.se, a["ses"][i].as_f64().unwrap());
                    checked += 2;
                }
            }
        }
    }
    assert!(checked > 300, "{checked} numbers checked");
}
