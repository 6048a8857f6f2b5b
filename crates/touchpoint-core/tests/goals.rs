//! Goal books and contribution reports: a hand-computed report with every cell checked, conservation
//! across dimensions, bad goal files.
use std::collections::BTreeMap;
use touchpoint_core::Weights;

use touchpoint_core::{attribute, contribution, Dimension, GoalBook, JourneysBuilder, Kpi, ModelSpec};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * 1f64.max(a.abs()).max(b.abs())
}

fn journeys() -> touchpoint_core::Journeys {
    let mut b = JourneysBuilder::new(&[]);
    b.push_path(1, "sales", &["facebook", "search"], Weights { conversions: 2.0, value: 300.0, nulls: 0.0 })
        .unwrap();
    b.push_path(2, "sales", &["search"], Weights { conversions: 1.0, value: 50.0, nulls: 0.0 }).unwrap();
    b.push_path(3, "tickets_deflected", &["facebook"], Weights { conversions: 4.0, value: 0.0, nulls: 0.0 })
        .unwrap();
    b.push_path(
        4,
        "tickets_deflected",
        &["linkedin", "facebook"],
        Weights { conversions: 2.0, value: 0.0, nulls: 0.0 },
    )
    .unwrap();
    b.push_path(5, "hires", &["linkedin"], Weights { conversions: 0.0, value: 0.0, nulls: 3.0 }).unwrap();
    b.build()
}

fn goals() -> GoalBook {
    let costs: BTreeMap<String, f64> = [("search".to_owned(), 100.0), ("linkedin".to_owned(), 0.0)].into();
    GoalBook::new(
        vec![
            Kpi::new("sales", "sales"),
            Kpi::new("tickets_deflected", "service").with_unit_value(12.5, Some("ticket")),
            Kpi::new("hires", "hr").with_unit_value(4000.0, Some("hire")),
        ],
        costs,
        vec!["facebook".into(), "linkedin".into(), "twitter".into()],
    )
    .unwrap()
}

#[test]
fn hand_computed_report() {
    let specs = [ModelSpec::from_name("first_touch").unwrap(), ModelSpec::from_name("last_touch").unwrap()];
    let r = attribute(&journeys(), &specs, Dimension::Channel).unwrap();
    let rep = contribution(&r, &goals(), None).unwrap();
    let cell = |model: &str, player: &str, kpi: &str| {
        rep.rows
            .iter()
            .find(|x| x.model == model && x.player == player && x.kpi == kpi)
            .map(|x| (x.conversions, x.value, x.function.as_str()))
    };
    assert_eq!(cell("first_touch", "facebook", "sales"), Some((2.0, 300.0, "sales")));
    assert_eq!(cell("first_touch", "search", "sales"), Some((1.0, 50.0, "sales")));
    assert_eq!(cell("first_touch", "facebook", "tickets_deflected"), Some((4.0, 50.0, "service")));
    assert_eq!(cell("first_touch", "linkedin", "tickets_deflected"), Some((2.0, 25.0, "service")));
    assert_eq!(cell("first_touch", "linkedin", "hires"), Some((0.0, 0.0, "hr")));
    assert_eq!(cell("last_touch", "search", "sales"), Some((3.0, 350.0, "sales")));
    assert_eq!(cell("last_touch", "facebook", "tickets_deflected"), Some((6.0, 75.0, "service")));
    assert_eq!(cell("last_touch", "linkedin", "tickets_deflected"), Some((0.0, 0.0, "service")));
    assert_eq!(rep.rows.len(), 2 * 5);

    let s = |model: &str, player: &str| {
        rep.summary.iter().find(|x| x.model == model && x.player == player).unwrap()
    };
    let fb = s("first_touch", "facebook");
    assert_eq!((fb.value, fb.touches, fb.cost, fb.roi, fb.social), (350.0, 8.0, None, None, Some(true)));
    assert!(close(fb.value_share.unwrap(), 350.0 / 425.0) && close(fb.value_per_touch.unwrap(), 43.75));
    let se = s("first_touch", "search");
    assert_eq!(
        (se.value, se.touches, se.cost, se.roi, se.social),
        (50.0, 3.0, Some(100.0), Some(-0.5), Some(false))
    );
    let li = s("first_touch", "linkedin");
    // Zero cost: ROI is null, not infinite.
    assert_eq!((li.value, li.touches, li.cost, li.roi), (25.0, 5.0, Some(0.0), None));
    assert!(close(li.value_per_touch.unwrap(), 5.0));
    let se = s("last_touch", "search");
    assert_eq!((se.value, se.roi), (350.0, Some(2.5)));
    assert!(close(se.value_share.unwrap(), 350.0 / 425.0));

    let social: Vec<_> = rep.social.iter().filter(|x| x.model == "first_touch").collect();
    assert_eq!(
        (social[0].social, social[0].value, social[0].cost, social[0].roi),
        (false, 50.0, 100.0, Some(-0.5))
    );
    assert_eq!((social[1].social, social[1].value, social[1].cost, social[1].roi), (true, 375.0, 0.0, None));
    // The KPI with no conversions is flagged.
    assert!(
        rep.warnings.iter().any(|w| w.contains("`hires` has no attributed conversions")),
        "{:?}",
        rep.warnings
    );
}

#[test]
fn totals_equal_valued_conversions_and_agree_across_dimensions() {
    let mut b = JourneysBuilder::new(&[Dimension::Actor, Dimension::ActorGroup]);
    let k = b.kpi_id("tickets_deflected");
    let s = b.kpi_id("sales");
    type Row<'a> = (&'a [(&'a str, &'a str, &'a str)], u32, f64, f64);
    let rows: [Row<'_>; 3] = [
        (&[("twitter", "emp_1", "trained"), ("search", "brand", "brand")], k, 3.0, 0.0),
        (&[("linkedin", "emp_2", "untrained")], k, 1.0, 0.0),
        (&[("linkedin", "agency_x", "agency"), ("email", "brand", "brand")], s, 2.0, 90.0),
    ];
    for (i, (touches, kpi, c, v)) in rows.iter().enumerate() {
        for (ch, actor, group) in touches.iter() {
            let ids = [
                b.player_id(Dimension::Channel, ch, i).unwrap(),
                b.none_id(Dimension::Campaign),
                b.none_id(Dimension::Activity),
                b.player_id(Dimension::Actor, actor, i).unwrap(),
                b.player_id(Dimension::ActorGroup, group, i).unwrap(),
                b.none_id(Dimension::Interaction),
            ];
            b.push_touch(ids, None);
        }
        b.finish_journey(i, *kpi, Weights { conversions: *c, value: *v, nulls: 0.0 }, None).unwrap();
    }
    let j = b.build();
    let goals = GoalBook::new(
        vec![
            Kpi::new("sales", "sales"),
            Kpi::new("tickets_deflected", "service").with_unit_value(12.5, None),
        ],
        BTreeMap::new(),
        vec![],
    )
    .unwrap();
    let specs: Vec<ModelSpec> =
        ["linear", "markov", "shapley"].iter().map(|m| ModelSpec::from_name(m).unwrap()).collect();
    let mut totals = Vec::new();
    for by in [Dimension::Channel, Dimension::Actor, Dimension::ActorGroup] {
        let rep = contribution(&attribute(&j, &specs, by).unwrap(), &goals, None).unwrap();
        for m in ["linear", "markov", "shapley"] {
            let tickets: f64 = rep
                .rows
                .iter()
                .filter(|r| r.model == m && r.kpi == "tickets_deflected")
                .map(|r| r.value)
                .sum();
            let sales: f64 =
                rep.rows.iter().filter(|r| r.model == m && r.kpi == "sales").map(|r| r.value).sum();
            assert!(close(tickets, 12.5 * 4.0) && close(sales, 90.0), "{by} {m}: {tickets} {sales}");
            let total: f64 = rep.summary.iter().filter(|r| r.model == m).map(|r| r.value).sum();
            totals.push(total);
        }
    }
    assert!(totals.iter().all(|t| close(*t, 140.0)), "{totals:?}");
}

#[test]
fn unknown_kpi_and_unused_costs() {
    let r = attribute(&journeys(), &[ModelSpec::from_name("linear").unwrap()], Dimension::Channel).unwrap();
    let partial = GoalBook::new(vec![Kpi::new("sales", "sales")], BTreeMap::new(), vec![]).unwrap();
    let e = contribution(&r, &partial, None).unwrap_err().to_string();
    assert!(e.starts_with("KPI `tickets_deflected` is attributed but the goal book has no such KPI"), "{e}");
    let costs: BTreeMap<String, f64> = [("tiktok".to_owned(), 10.0)].into();
    let rep = contribution(&r, &goals(), Some(&costs)).unwrap();
    assert!(
        rep.warnings.iter().any(|w| w == "costs given for players that never appear by channel: tiktok"),
        "{:?}",
        rep.warnings
    );
    // The override replaced the book's costs.
    assert!(rep.summary.iter().all(|s| s.cost.is_none()));
}

#[test]
fn bad_goal_files_are_typed_errors_naming_key_and_file() {
    let cases = [
        (
            "[[kpi]]\nname = \"sales\"\nunit_value = -3.0\n",
            "goals.toml: kpi `sales`: `unit_value` = -3 must be finite and >= 0",
        ),
        (
            "[[kpi]]\nname = \"sales\"\n[[kpi]]\nname = \"sales\"\n",
            "goals.toml: kpi `sales` is defined twice",
        ),
        ("[[kpi]]\nfunction = \"hr\"\n", "goals.toml: kpi #1 has no `name`"),
        ("[[kpi]\nname = \"sales\"\n", "goals.toml: malformed TOML"),
        ("[costs]\nsearch = -1.0\n", "goals.toml: costs: `search` = -1 must be finite and >= 0"),
        ("[[kpi]]\nname = \"x\"\nvalue = 3\n", "goals.toml: malformed TOML"),
    ];
    for (text, want) in cases {
        let e = GoalBook::from_toml(text, "goals.toml").unwrap_err().to_string();
        assert!(e.starts_with(&format!("goal book {want}")), "{e}\nwant: {want}");
    }
    let e = GoalBook::from_json(r#"{"kpi": [{"name": "a", "unit_value": -1}]}"#, "g.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("g.json: kpi `a`: `unit_value` = -1"), "{e}");
}

#[test]
fn load_from_files_and_round_trip() {
    let dir = std::env::temp_dir().join(format!("tp-goals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml_path = dir.join("goals.toml");
    std::fs::write(
        &toml_path,
        "social = [\"facebook\"]\n[[kpi]]\nname = \"sales\"\nfunction = \"sales\"\n[[kpi]]\nname = \"hires\"\nfunction = \"hr\"\nunit_value = 4000.0\nunit = \"hire\"\n[costs]\nfacebook = 10.0\n",
    )
    .unwrap();
    let book = GoalBook::load(&toml_path).unwrap();
    assert_eq!(book.kpis.len(), 2);
    assert_eq!(book.kpi("hires").unwrap().unit_value, Some(4000.0));
    assert_eq!(book.kpi("sales").unwrap().unit_value, None);
    let json_path = dir.join("goals.json");
    std::fs::write(&json_path, serde_json::to_string(&book).unwrap()).unwrap();
    assert_eq!(GoalBook::load(&json_path).unwrap(), book);
    let e = GoalBook::load(&dir.join("missing.toml")).unwrap_err().to_string();
    assert!(e.contains("missing.toml: cannot read"), "{e}");
    // A folder, a device or a FIFO is refused at once, not read until memory runs out (issue 25, 20).
    let folder = dir.join("folder.toml");
    std::fs::create_dir_all(&folder).unwrap();
    let e = GoalBook::load(&folder).unwrap_err().to_string();
    assert!(e.contains("cannot read: it is a folder"), "{e}");
    if std::path::Path::new("/dev/zero").exists() {
        let e = GoalBook::load(std::path::Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn goal_books_of_the_wrong_shape_are_refused() {
    // An array is no goal book (serde would read it as an empty one; issue 25, item 13).
    for text in ["[]", "[[], {}, []]", "  [] "] {
        let e = GoalBook::from_json(text, "g.json").unwrap_err().to_string();
        assert!(e.contains("expected a JSON object"), "{e}");
    }
    // A player named twice in costs keeps neither silently (item 8).
    let e = GoalBook::from_json(r#"{"kpi": [], "costs": {"search": 1.0, "search": 2.0}}"#, "g.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("costs: `search` is given twice"), "{e}");
    let ok = GoalBook::from_json(r#"{"kpi": [], "costs": {"search": 1.0, "email": 2.0}}"#, "g.json").unwrap();
    assert_eq!(ok.costs.len(), 2);
}

#[test]
fn values_past_what_a_number_holds_are_errors_naming_the_kpi() {
    // Issue 25, item 7: 1e308 per conversion times 2 conversions is inf; the report would hold inf
    // values, NaN shares and inf ROI.
    let r =
        attribute(&journeys(), &[ModelSpec::from_name("last_touch").unwrap()], Dimension::Channel).unwrap();
    let book = GoalBook::new(
        vec![
            Kpi::new("sales", "sales").with_unit_value(1e308, None),
            Kpi::new("tickets_deflected", "service"),
            Kpi::new("hires", "hr"),
        ],
        BTreeMap::new(),
        vec![],
    )
    .unwrap();
    let e = contribution(&r, &book, None).unwrap_err().to_string();
    assert!(
        e.contains("kpi `sales`: the value of 3 conversions credited to `search` by last_touch is inf"),
        "{e}"
    );
    // Each row finite, their sum per player not: named as well.
    let book = GoalBook::new(
        vec![
            Kpi::new("sales", "sales").with_unit_value(1e308 / 3.0, None),
            Kpi::new("tickets_deflected", "service").with_unit_value(3.4e307, None),
            Kpi::new("hires", "hr"),
        ],
        BTreeMap::new(),
        vec![],
    )
    .unwrap();
    let r = attribute(&journeys(), &[ModelSpec::from_name("linear").unwrap()], Dimension::Channel).unwrap();
    let e = contribution(&r, &book, None).unwrap_err().to_string();
    assert!(
        e.contains("the value of `facebook` across KPIs under linear is beyond what a number holds"),
        "{e}"
    );
}

fn mmm_tickets(draws: Vec<Vec<f64>>) -> touchpoint_core::ExternalKpi {
    // (baseline), facebook, twitter: point estimates are the draws' means.
    let names = ["(baseline)", "facebook", "twitter"];
    touchpoint_core::ExternalKpi {
        kpi: "tickets_deflected".into(),
        source: "mmm".into(),
        credits: names
            .iter()
            .zip(draws)
            .map(|(p, d)| touchpoint_core::ExternalCredit {
                player: p.to_string(),
                conversions: d.iter().sum::<f64>() / d.len() as f64,
                draws: d,
            })
            .collect(),
        spend: [("search".to_owned(), 100.0)].into(),
        period: None,
        level: 0.9,
    }
}

/// A KPI measured by a media-mix fit joins the report under every model, valued by the goal book;
/// a KPI given both ways needs a choice; the choice replaces, never adds.
#[test]
fn external_kpis_join_the_report_once() {
    use touchpoint_core::{contribution_with, KpiSource};
    let specs = [ModelSpec::from_name("first_touch").unwrap(), ModelSpec::from_name("last_touch").unwrap()];
    let r = attribute(&journeys(), &specs, Dimension::Channel).unwrap();
    let ext = mmm_tickets(vec![vec![100.0; 4], vec![8.0, 10.0, 12.0, 10.0], vec![2.0, 2.0, 2.0, 2.0]]);
    // tickets_deflected is in the journeys too: no choice is an error naming it.
    let e = contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &BTreeMap::new()).unwrap_err();
    assert!(e.to_string().contains("`tickets_deflected` is measured both"), "{e}");
    // Choose the media mix: the journeys' ticket rows go, the fit's come in under both models.
    let choice: BTreeMap<String, KpiSource> = [("tickets_deflected".to_owned(), KpiSource::External)].into();
    let rep = contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &choice).unwrap();
    for model in ["first_touch", "last_touch"] {
        let tickets: Vec<_> =
            rep.rows.iter().filter(|x| x.model == model && x.kpi == "tickets_deflected").collect();
        assert_eq!(tickets.len(), 3);
        assert!(tickets.iter().all(|x| x.source == "mmm"));
        let fb = tickets.iter().find(|x| x.player == "facebook").unwrap();
        // 10 tickets at 12.5: 125, between the draws' 8 x 12.5 and 12 x 12.5.
        assert_eq!((fb.conversions, fb.value), (10.0, 125.0));
        let (lo, hi) = (fb.value_lower.unwrap(), fb.value_upper.unwrap());
        assert!((100.0..=125.0).contains(&lo) && (125.0..=150.0).contains(&hi) && lo < hi, "{lo} {hi}");
    }
    // first_touch: facebook = 300 (sales) + 125 (mmm tickets); the journeys' 50 of tickets is gone.
    let fb = rep.summary.iter().find(|x| x.model == "first_touch" && x.player == "facebook").unwrap();
    assert!(close(fb.value, 425.0));
    // The baseline is its own line, in no share.
    let base = rep.summary.iter().find(|x| x.model == "first_touch" && x.player == "(baseline)").unwrap();
    assert!(close(base.value, 1250.0) && base.value_share.is_none());
    // Shares over players: sales 350 + tickets (10 + 2) x 12.5 = 500.
    assert!(close(fb.value_share.unwrap(), 425.0 / 500.0));
    // twitter is social and only in the fit: it enters the social total.
    let social = rep.social.iter().find(|x| x.model == "first_touch" && x.social).unwrap();
    assert!(close(social.value, 300.0 + 125.0 + 25.0));
    // No resamples: players only the journeys credit get no (zero-width) interval; a warning says why.
    let se = rep.summary.iter().find(|x| x.model == "first_touch" && x.player == "search").unwrap();
    assert_eq!(se.value_lower, None);
    assert!(rep.warnings.iter().any(|w| w.contains("media-mix posterior only")));
    // The fit's spend (100 on search) agrees with the goal book: no cost warning. Another cost warns.
    assert!(!rep.warnings.iter().any(|w| w.contains("saw a spend")));
    let costs: BTreeMap<String, f64> = [("search".to_owned(), 400.0)].into();
    let rep2 = contribution_with(&r, &goals(), Some(&costs), std::slice::from_ref(&ext), &choice).unwrap();
    assert!(rep2.warnings.iter().any(|w| w.contains("`search` is 400") && w.contains("spend of 100")));
    // Choose the journeys: the report equals the plain one.
    let keep: BTreeMap<String, KpiSource> = [("tickets_deflected".to_owned(), KpiSource::Journeys)].into();
    let rep3 = contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &keep).unwrap();
    assert_eq!(rep3.rows, contribution(&r, &goals(), None).unwrap().rows);
    // A choice for a KPI no fit measures is refused too.
    let stray: BTreeMap<String, KpiSource> = [("hires".to_owned(), KpiSource::External)].into();
    assert!(contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &stray).is_err());
}

/// Media-mix credit and journeys over different windows are never added: credit dated outside the
/// journeys' period is refused, naming both windows; inside it, it joins; without a period (a path
/// table) it joins with a warning.
#[test]
fn external_credit_must_lie_in_the_journeys_period() {
    use touchpoint_core::{contribution_with, KpiSource};
    let mut r =
        attribute(&journeys(), &[ModelSpec::from_name("last_touch").unwrap()], Dimension::Channel).unwrap();
    let choice: BTreeMap<String, KpiSource> = [("tickets_deflected".to_owned(), KpiSource::External)].into();
    let day_us = 86_400_000_000_i64;
    // The journeys: [2026-04-01, 2026-07-01) = days 20544 to 20635 (exclusive).
    r.period = Some((20_544 * day_us, 20_635 * day_us));
    let mut ext = mmm_tickets(vec![vec![100.0; 4], vec![10.0; 4], vec![2.0; 4]]);
    // Weeks dated 2023-01-02 to 2025-12-22: outside.
    ext.period = Some((19_359, 20_444));
    let e = contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &choice).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("2023-01-02 to 2025-12-22") && msg.contains("2026-04-01 to 2026-06-30"), "{msg}");
    // A fit that reaches one day past the period's last day is refused too.
    ext.period = Some((20_544, 20_635));
    assert!(contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &choice).is_err());
    // Weeks dated inside the period join.
    ext.period = Some((20_545, 20_629));
    let rep = contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &choice).unwrap();
    assert!(rep.rows.iter().any(|x| x.source == "mmm"));
    // No period on the attribution: joins, and says the windows were not checked.
    r.period = None;
    let rep = contribution_with(&r, &goals(), None, std::slice::from_ref(&ext), &choice).unwrap();
    assert!(rep.warnings.iter().any(|w| w.contains("no observation period")), "{:?}", rep.warnings);
}

/// The days whose midnight UTC lies in a period: the dates a weekly or daily series is matched by.
#[test]
fn period_days_take_the_midnights_inside() {
    use touchpoint_core::goals::period_days;
    let (d, h) = (86_400_000_000_i64, 3_600_000_000_i64);
    // [2026-04-01, 2026-07-01) in UTC: 2026-04-01 to 2026-06-30.
    assert_eq!(period_days(20_544 * d, 20_635 * d), (20_544, 20_634));
    // The same quarter read in New York (UTC-4): [04-01T04:00Z, 07-01T04:00Z) holds the midnights
    // (UTC) of 04-02 to 07-01.
    assert_eq!(period_days(20_544 * d + 4 * h, 20_635 * d + 4 * h), (20_545, 20_635));
    // Before 1970 too.
    assert_eq!(period_days(-d, d), (-1, 0));
}
