//! Mergeable statistics of journeys: distinct paths with what their journeys add up to.
//!
//! The path models (rule-based without times, Markov, Shapley) read a journey only through its KPI,
//! its path of players and its weights, so journeys with one path can be summed into one row without
//! changing any credit. Parts of a log split by person (Spark partitions) each give such rows; the
//! rows of every part, summed by path, are those of the whole log, and [`journeys_from_statistics`]
//! turns them back into [`Journeys`] that every path model reads as usual.
//!
//! Columns of a statistics table: `kpi`, `path` (the channels, a list of text), `path_<dim>` for each
//! other dimension carried, `conversions`, `value`, `nulls`, `journeys` (with conversions) and
//! `null_journeys`.
use polars::prelude::*;
use touchpoint_core::{Aggregated, Dimension, Journeys, JourneysBuilder, Unattributed, Weights};
use touchpoint_util::hashing::FastMap;

use crate::error::{Error, Result};
use crate::table::{f64_column, require};

/// The statistics column holding the path of players of `dim`.
pub fn path_column(dim: Dimension) -> String {
    if dim == Dimension::Channel {
        "path".to_owned()
    } else {
        format!("path_{dim}")
    }
}

/// The dimensions `j` carries, channel first.
fn carried(j: &Journeys) -> Vec<Dimension> {
    Dimension::ALL.iter().copied().filter(|d| j.has_dimension(*d)).collect()
}

/// Per distinct (KPI, path in every dimension): conversions, value and nulls summed, and the
/// journeys with conversions and the null journeys counted. Rows in first-seen order.
pub fn path_statistics(j: &Journeys) -> Result<DataFrame> {
    let dims = carried(j);
    let cols: Vec<std::borrow::Cow<'_, [u32]>> = dims.iter().map(|&d| j.player_column(d)).collect();
    let spans = j.spans();
    let mut index: FastMap<Vec<u32>, usize> = FastMap::default();
    let mut keys: Vec<(u32, usize)> = Vec::new(); // (kpi, a journey with the path)
    let mut sums: Vec<(f64, f64, f64, u64, u64)> = Vec::new();
    let mut key = Vec::new();
    for i in 0..j.len() {
        key.clear();
        key.push(j.kpi_ids()[i]);
        for t in spans.range(i) {
            key.extend(cols.iter().map(|c| c[t]));
        }
        let at = match index.get(&key) {
            Some(&at) => at,
            None => {
                index.insert(key.clone(), keys.len());
                keys.push((j.kpi_ids()[i], i));
                sums.push((0.0, 0.0, 0.0, 0, 0));
                keys.len() - 1
            }
        };
        let s = &mut sums[at];
        s.0 += j.conversions()[i];
        s.1 += j.values()[i];
        s.2 += j.nulls()[i];
        s.3 += u64::from(j.conversions()[i] > 0.0);
        s.4 += u64::from(j.nulls()[i] > 0.0);
    }
    drop(index);
    let kpi_names = j.kpis().names();
    let mut columns = vec![Column::new(
        "kpi".into(),
        keys.iter().map(|&(k, _)| kpi_names[k as usize].as_str()).collect::<Vec<_>>(),
    )];
    for (d, col) in dims.iter().zip(&cols) {
        let names = j.vocab(*d).names();
        let touches: usize = keys.iter().map(|&(_, i)| spans.range(i).len()).sum();
        let mut b = ListStringChunkedBuilder::new(path_column(*d).into(), keys.len(), touches);
        for &(_, i) in &keys {
            b.append_values_iter(col[spans.range(i)].iter().map(|&p| names[p as usize].as_str()));
        }
        columns.push(b.finish().into_column());
    }
    columns.push(Column::new("conversions".into(), sums.iter().map(|s| s.0).collect::<Vec<f64>>()));
    columns.push(Column::new("value".into(), sums.iter().map(|s| s.1).collect::<Vec<f64>>()));
    columns.push(Column::new("nulls".into(), sums.iter().map(|s| s.2).collect::<Vec<f64>>()));
    columns.push(Column::new("journeys".into(), sums.iter().map(|s| s.3).collect::<Vec<u64>>()));
    columns.push(Column::new("null_journeys".into(), sums.iter().map(|s| s.4).collect::<Vec<u64>>()));
    Ok(DataFrame::new_infer_height(columns)?)
}

/// What a log's statistics hold besides the paths: read from each part and summed.
#[derive(Clone, Debug, Default)]
pub struct Gathered {
    /// Extra dimensions carried (channel always is).
    pub dims: Vec<Dimension>,
    /// Every KPI of the log, including those no path reaches.
    pub kpis: Vec<String>,
    /// Conversions without a journey, by KPI and reason.
    pub unattributed: Vec<Unattributed>,
    /// Touches dropped by `max_touches`, by KPI.
    pub trimmed: Vec<(String, u64)>,
    /// Touches that entered, by dimension and player.
    pub input_touches: Vec<(Dimension, String, f64)>,
    /// What the readers noticed.
    pub warnings: Vec<String>,
    /// Where the statistics were gathered, for messages ("on Spark").
    pub origin: String,
}

/// A list-of-text column as its values and one `(start, end)` range into them per row; a null list
/// or element is an error naming the row.
fn lists(col: &Column, name: &str) -> Result<(StringChunked, Vec<(usize, usize)>)> {
    let wrong = || Error::ColumnType {
        column: name.to_owned(),
        expected: "a list of text",
        found: col.dtype().to_string(),
    };
    let ca = col.list().map_err(|_| wrong())?.rechunk();
    let inner = ca.get_inner();
    let values = match inner.dtype() {
        DataType::String => inner.str()?.clone(),
        DataType::Null => inner.cast(&DataType::String)?.str()?.clone(),
        _ => return Err(wrong()),
    };
    let nulls = values.null_count() > 0;
    let mut ranges = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        for i in 0..arr.len() {
            let (a, b) = arr.offsets().start_end(i);
            if arr.validity().is_some_and(|v| !v.get_bit(i))
                || nulls && (a..b).any(|k| values.get(k).is_none())
            {
                return Err(Error::NullValue { column: name.to_owned(), table: None, row: ranges.len() + 1 });
            }
            ranges.push((a, b));
        }
    }
    Ok((values, ranges))
}

/// Journeys from summed path statistics ([`path_statistics`] of every part, summed by path) and what
/// was gathered besides: one journey per row, with the counts the rows stand for kept for the summary
/// ([`Journeys::aggregated`]). Rows are put in order of KPI and path names and names are interned in
/// sorted order, so the result does not depend on the order of the rows (nor on how the log was
/// split).
pub fn journeys_from_statistics(paths: &DataFrame, g: &Gathered) -> Result<Journeys> {
    let mut dims = vec![Dimension::Channel];
    dims.extend(g.dims.iter().copied().filter(|d| *d != Dimension::Channel));
    dims.sort_by_key(|d| d.index());
    dims.dedup();
    let kpi_col = require(paths, "kpi")?.cast(&DataType::String)?;
    let kpi_col = kpi_col.str()?;
    let path_cols: Vec<Column> =
        dims.iter().map(|d| require(paths, &path_column(*d)).cloned()).collect::<Result<_>>()?;
    let read: Vec<(StringChunked, Vec<(usize, usize)>)> =
        dims.iter().zip(&path_cols).map(|(d, c)| lists(c, &path_column(*d))).collect::<Result<_>>()?;
    // Every dimension's names in one flat vector, and each row's path a slice of it.
    let flats: Vec<Vec<&str>> =
        read.iter().map(|(v, _)| v.iter().map(Option::unwrap_or_default).collect()).collect();
    let path_lists: Vec<Vec<&[&str]>> =
        read.iter().zip(&flats).map(|((_, r), f)| r.iter().map(|&(a, b)| &f[a..b]).collect()).collect();
    let weights: Vec<Column> = ["conversions", "value", "nulls"]
        .iter()
        .map(|n| f64_column(require(paths, n)?, n))
        .collect::<Result<_>>()?;
    let counts: Vec<Column> = ["journeys", "null_journeys"]
        .iter()
        .map(|n| f64_column(require(paths, n)?, n))
        .collect::<Result<_>>()?;
    let (conv, val, nul) = (weights[0].f64()?, weights[1].f64()?, weights[2].f64()?);
    let (njour, nnull) = (counts[0].f64()?, counts[1].f64()?);

    // Vocabularies in sorted order (as from_events interns them).
    let mut b = JourneysBuilder::new(&dims);
    let row_kpis: Vec<&str> = kpi_col
        .iter()
        .enumerate()
        .map(|(i, k)| k.ok_or_else(|| Error::NullValue { column: "kpi".into(), table: None, row: i + 1 }))
        .collect::<Result<_>>()?;
    let mut kpis: Vec<&str> = g.kpis.iter().map(String::as_str).collect();
    kpis.extend(&row_kpis);
    kpis.extend(g.unattributed.iter().map(|u| u.kpi.as_str()));
    kpis.extend(g.trimmed.iter().map(|t| t.0.as_str()));
    kpis.sort_unstable();
    kpis.dedup();
    for k in &kpis {
        b.kpi_id(k);
    }
    for (d, lists) in dims.iter().zip(&path_lists) {
        let mut names: Vec<&str> = lists.iter().flat_map(|p| p.iter()).copied().collect();
        names.extend(g.input_touches.iter().filter(|t| t.0 == *d).map(|t| t.1.as_str()));
        names.sort_unstable();
        names.dedup();
        for name in names {
            b.player_id(*d, name, 0)?;
        }
    }
    let n = paths.height();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| {
        row_kpis[x].cmp(row_kpis[y]).then_with(|| {
            path_lists.iter().map(|l| l[x].cmp(l[y])).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut agg = Aggregated {
        origin: g.origin.clone(),
        touches: vec![0; kpis.len()],
        journeys: vec![0; kpis.len()],
        null_journeys: vec![0; kpis.len()],
    };
    b.reserve(n, path_lists[0].iter().map(|p| p.len()).sum());
    let count = |c: &Float64Chunked, name: &'static str, row: usize| -> Result<u64> {
        let v = c.get(row).unwrap_or(0.0);
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
            Ok(v as u64)
        } else {
            Err(touchpoint_core::Error::InvalidWeight { field: name, row: row + 1, value: v }.into())
        }
    };
    // Rows with one (KPI, path) (from different parts of the log) become one journey.
    let same =
        |x: usize, y: usize| kpi_col.get(x) == kpi_col.get(y) && path_lists.iter().all(|l| l[x] == l[y]);
    let mut at = 0;
    while at < order.len() {
        let r = order[at];
        let mut end = at + 1;
        while end < order.len() && same(r, order[end]) {
            end += 1;
        }
        let len = path_lists[0][r].len();
        for (d, l) in dims.iter().zip(&path_lists).skip(1) {
            if l[r].len() != len {
                return Err(Error::InvalidOption {
                    option: "statistics",
                    value: format!("row {}", r + 1),
                    reason: format!(
                        "`{}` has {} players and `path` has {len}: every dimension's path has one player per touch",
                        path_column(*d),
                        l[r].len()
                    ),
                });
            }
        }
        let k = b.kpi_id(row_kpis[r]);
        for t in 0..len {
            let mut ids = [0u32; 6];
            for (d, l) in dims.iter().zip(&path_lists) {
                ids[d.index()] = b.known_player_id(*d, l[r][t]).expect("interned");
            }
            b.push_touch(ids, None);
        }
        let mut w = Weights { conversions: 0.0, value: 0.0, nulls: 0.0 };
        let (mut jc, mut jn) = (0u64, 0u64);
        for &q in &order[at..end] {
            w.conversions += conv.get(q).unwrap_or(0.0);
            w.value += val.get(q).unwrap_or(0.0);
            w.nulls += nul.get(q).unwrap_or(0.0);
            jc += count(njour, "journeys", q)?;
            jn += count(nnull, "null_journeys", q)?;
        }
        b.finish_journey(r + 1, k, w, None)?;
        agg.touches[k as usize] += len as u64 * (jc + jn);
        agg.journeys[k as usize] += jc;
        agg.null_journeys[k as usize] += jn;
        at = end;
    }
    for d in &dims {
        let mut per = vec![0.0; b.player_count(*d)];
        for (_, name, t) in g.input_touches.iter().filter(|t| t.0 == *d) {
            per[b.known_player_id(*d, name).expect("interned") as usize] += t;
        }
        b.set_input_touches(*d, per);
    }
    for u in &g.unattributed {
        let k = b.kpi_id(&u.kpi);
        b.add_unattributed(k, &u.reason, u.conversions, u.value);
    }
    for (kpi, t) in &g.trimmed {
        let k = b.kpi_id(kpi);
        b.add_trimmed(k, *t);
    }
    for w in &g.warnings {
        b.add_warning(w.clone());
    }
    b.set_aggregated(agg);
    Ok(b.build())
}

/// Touches that entered, per dimension and player: `dimension, player, touches`.
pub fn input_touches_frame(j: &Journeys) -> Result<DataFrame> {
    let (mut dim, mut player, mut touches) = (Vec::new(), Vec::new(), Vec::new());
    for d in carried(j) {
        for (name, t) in j.player_names(d).into_iter().zip(j.input_touches(d)) {
            dim.push(d.as_str());
            player.push(name);
            touches.push(t);
        }
    }
    Ok(DataFrame::new_infer_height(vec![
        Column::new("dimension".into(), dim),
        Column::new("player".into(), player),
        Column::new("touches".into(), touches),
    ])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{journeys_from_events, EventOptions};
    use touchpoint_core::{attribute, Dimension, ModelSpec};

    fn log() -> (DataFrame, DataFrame) {
        let touches = df!(
            "user_id" => ["a", "a", "b", "b", "c", "c", "d", "e"],
            "ts" => ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03", "2024-01-02", "2024-01-04",
                     "2024-01-05", "2024-01-06"],
            "channel" => ["x", "y", "x", "y", "y", "x", "x", "z"],
            "campaign" => ["k1", "k2", "k1", "k2", "k2", "k1", "k3", "k1"],
        )
        .unwrap();
        let conversions = df!(
            "user_id" => ["a", "b", "c", "f"],
            "ts" => ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-05"],
            "kpi" => ["sale", "sale", "lead", "sale"],
            "value" => [10.0, 5.0, 0.0, 7.0],
        )
        .unwrap();
        (touches, conversions)
    }

    fn opts() -> EventOptions {
        EventOptions { dims: vec![Dimension::Campaign], ..EventOptions::default() }
    }

    fn gathered(j: &Journeys) -> Gathered {
        Gathered {
            dims: vec![Dimension::Campaign],
            kpis: j.kpis().names().to_vec(),
            unattributed: j.unattributed().to_vec(),
            trimmed: j.summary().iter().map(|s| (s.kpi.clone(), s.trimmed_touches)).collect(),
            input_touches: carried(j)
                .into_iter()
                .flat_map(|d| {
                    j.player_names(d).into_iter().zip(j.input_touches(d)).map(move |(n, t)| (d, n, t))
                })
                .collect(),
            warnings: j.warnings().to_vec(),
            origin: "in a test".into(),
        }
    }

    /// The parts' path statistics stacked and their side counts gathered, as the driver gets them.
    fn stack(parts: &[Journeys]) -> (DataFrame, Gathered) {
        let mut stacked = path_statistics(&parts[0]).unwrap();
        let mut g = gathered(&parts[0]);
        for p in &parts[1..] {
            stacked.vstack_mut(&path_statistics(p).unwrap()).unwrap();
            let more = gathered(p);
            g.unattributed.extend(more.unattributed);
            g.trimmed.extend(more.trimmed);
            g.input_touches.extend(more.input_touches);
        }
        (stacked, g)
    }

    #[test]
    fn paths_sum_journeys_with_one_path() {
        let (t, c) = log();
        let j = journeys_from_events(&t, &c, &opts()).unwrap();
        let s = path_statistics(&j).unwrap();
        // a: x>y converts (sale); b: x>y converts (sale); both also give null journeys for lead.
        let kpi = s.column("kpi").unwrap().str().unwrap();
        let conv = s.column("conversions").unwrap().f64().unwrap();
        let jour = s.column("journeys").unwrap().u64().unwrap();
        let (values, ranges) = lists(s.column("path").unwrap(), "path").unwrap();
        let flat: Vec<&str> = values.iter().map(Option::unwrap_or_default).collect();
        let path: Vec<&[&str]> = ranges.iter().map(|&(a, b)| &flat[a..b]).collect();
        let row = (0..s.height()).find(|&r| kpi.get(r) == Some("sale") && path[r] == ["x", "y"]).unwrap();
        assert_eq!(conv.get(row), Some(2.0));
        assert_eq!(jour.get(row), Some(2));
        let value = s.column("value").unwrap().f64().unwrap();
        assert_eq!(value.get(row), Some(15.0));
        // Fewer rows than journeys, the same totals.
        assert!(s.height() < j.len());
        assert_eq!(conv.sum().unwrap(), j.conversions().iter().sum::<f64>());
    }

    #[test]
    fn statistics_round_trip_summary_and_credit() {
        let (t, c) = log();
        let j = journeys_from_events(&t, &c, &opts()).unwrap();
        let s = path_statistics(&j).unwrap();
        let back = journeys_from_statistics(&s, &gathered(&j)).unwrap();
        assert_eq!(back.summary(), j.summary());
        assert_eq!(back.unattributed(), j.unattributed());
        for d in [Dimension::Channel, Dimension::Campaign] {
            assert_eq!(back.player_names(d), j.player_names(d));
            assert_eq!(back.input_touches(d), j.input_touches(d));
        }
        assert_eq!(back.aggregated().unwrap().origin, "in a test");
        let models = vec![ModelSpec::from_name("linear").unwrap(), ModelSpec::from_name("markov").unwrap()];
        for by in [Dimension::Channel, Dimension::Campaign] {
            let a = attribute(&j, &models, by).unwrap();
            let b = attribute(&back, &models, by).unwrap();
            assert_eq!(a.credits.len(), b.credits.len());
            for (x, y) in a.credits.iter().zip(&b.credits) {
                assert_eq!((&x.model, &x.kpi, &x.player), (&y.model, &y.kpi, &y.player));
                approx::assert_relative_eq!(x.conversions, y.conversions, max_relative = 1e-12);
                approx::assert_relative_eq!(x.value, y.value, max_relative = 1e-12);
            }
        }
    }

    /// A log big enough to fit the additive-hazard model: 400 people over January 2024, channels
    /// x (which raises the conversion rate), y and z, KPIs sale and lead.
    fn hazard_log() -> (DataFrame, DataFrame) {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let stamp = |minutes: f64| {
            let m = minutes as i64;
            format!("2024-01-{:02}T{:02}:{:02}:00", 1 + m / 1440, (m / 60) % 24, m % 60)
        };
        let (mut tp, mut tt, mut tc) = (Vec::new(), Vec::new(), Vec::new());
        let (mut cp, mut ct, mut ck, mut cv) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for person in 0..400 {
            let id = format!("p{person}");
            for _ in 0..(next() * 4.0) as usize {
                let at = next() * 29.0 * 1440.0;
                let ch = ["x", "y", "z"][(next() * 3.0) as usize];
                tp.push(id.clone());
                tt.push(stamp(at));
                tc.push(ch.to_owned());
                let p = if ch == "x" { 0.5 } else { 0.15 };
                if next() < p {
                    cp.push(id.clone());
                    ct.push(stamp((at + 60.0 + next() * 2880.0).min(30.0 * 1440.0)));
                    ck.push(if next() < 0.7 { "sale" } else { "lead" }.to_owned());
                    cv.push((next() * 100.0).round());
                }
            }
            if next() < 0.1 {
                cp.push(id.clone());
                ct.push(stamp(next() * 30.0 * 1440.0));
                ck.push("sale".to_owned());
                cv.push(10.0);
            }
        }
        let touches = df!("user_id" => tp, "ts" => tt, "channel" => tc).unwrap();
        let conversions = df!("user_id" => cp, "ts" => ct, "kpi" => ck, "value" => cv).unwrap();
        (touches, conversions)
    }

    /// Parts held in memory, answering through bytes as Spark executors do.
    #[derive(Debug)]
    struct InMemory {
        parts: Vec<Journeys>,
        kept: std::sync::Mutex<Vec<Vec<u8>>>,
        population: Option<u64>,
    }

    impl touchpoint_core::hazard::Remote for InMemory {
        fn open(&self, spec: &[u8]) -> touchpoint_core::Result<Vec<Vec<u8>>> {
            let mut kept = self.kept.lock().unwrap();
            kept.clear();
            let mut shapes = Vec::new();
            for p in &self.parts {
                let (shape, part) = touchpoint_core::hazard::parts::build_part(p, spec)?;
                shapes.push(shape);
                kept.push(part);
            }
            Ok(shapes)
        }

        fn run(&self, request: &[u8]) -> touchpoint_core::Result<Vec<Vec<u8>>> {
            let kept = self.kept.lock().unwrap();
            kept.iter().map(|p| touchpoint_core::hazard::parts::answer(p, request)).collect()
        }

        fn population(&self) -> Option<u64> {
            self.population
        }
    }

    #[test]
    fn hazard_fit_on_parts_equals_the_whole() {
        // The additive-hazard fit through per-part sums equals the fit on the whole log: credit,
        // baseline and every parameter with its standard error, for 1, 3 and 8 parts, each baseline,
        // with and without a population and a lift test.
        let (t, c) = hazard_log();
        let period = Some(("2024-01-01".to_owned(), "2024-02-01".to_owned()));
        for (baseline, population, lift) in [
            (touchpoint_core::Baseline::Exposures, Some(1000), false),
            (touchpoint_core::Baseline::Constant, None, true),
            (touchpoint_core::Baseline::Activity, Some(1000), false),
        ] {
            let whole_opts = EventOptions { period: period.clone(), population, ..EventOptions::default() };
            let whole = journeys_from_events(&t, &c, &whole_opts).unwrap();
            let mut model = touchpoint_core::AdditiveHazard { baseline, ..Default::default() };
            if lift {
                model.lift_tests.push(touchpoint_core::LiftTest {
                    channel: "y".into(),
                    kpi: "sale".into(),
                    per_exposure: 0.02,
                    se: 0.01,
                });
            }
            let models = vec![ModelSpec::AdditiveHazard(model), ModelSpec::from_name("linear").unwrap()];
            let a = attribute(&whole, &models, Dimension::Channel).unwrap();
            for k in [1usize, 3, 8] {
                let kpis = whole.kpis().names().to_vec();
                let part = |i: usize| {
                    let keep = |df: &DataFrame| {
                        let mask: BooleanChunked = df
                            .column("user_id")
                            .unwrap()
                            .str()
                            .unwrap()
                            .iter()
                            .map(|p| Some(p.unwrap()[1..].parse::<usize>().unwrap() % k == i))
                            .collect();
                        df.filter(&mask).unwrap()
                    };
                    let o = EventOptions {
                        kpis: kpis.clone(),
                        period: period.clone(),
                        ..EventOptions::default()
                    };
                    journeys_from_events(&keep(&t), &keep(&c), &o).unwrap()
                };
                let parts: Vec<Journeys> = (0..k).map(part).collect();
                let (stacked, mut g) = stack(&parts);
                g.dims = Vec::new();
                let back = journeys_from_statistics(&stacked, &g).unwrap();
                let remote = InMemory { parts, kept: Default::default(), population };
                let b = touchpoint_core::attribute_remote(
                    &back,
                    &models,
                    Dimension::Channel,
                    &remote,
                    &touchpoint_core::Unattended,
                )
                .unwrap();
                assert_eq!(a.credits.len(), b.credits.len());
                for (x, y) in a.credits.iter().zip(&b.credits) {
                    assert_eq!((&x.model, &x.kpi, &x.player), (&y.model, &y.kpi, &y.player));
                    approx::assert_relative_eq!(
                        x.conversions,
                        y.conversions,
                        max_relative = 1e-6,
                        epsilon = 1e-9
                    );
                    approx::assert_relative_eq!(x.value, y.value, max_relative = 1e-6, epsilon = 1e-9);
                }
                let table = |r: &touchpoint_core::Attribution, name: &str| {
                    r.tables.iter().find(|t| t.name == name).unwrap().clone()
                };
                let names = ["hazard_parameters", "hazard_fit"];
                for name in names.iter().chain(if lift { &["lift_tests"][..] } else { &[][..] }) {
                    let (ta, tb) = (table(&a, name), table(&b, name));
                    assert_eq!(ta.height(), tb.height(), "{name}");
                    for (ca, cb) in ta.columns.iter().zip(&tb.columns) {
                        assert_eq!(ca.name, cb.name);
                        match (&ca.values, &cb.values) {
                            (touchpoint_core::Values::Float(x), touchpoint_core::Values::Float(y))
                                if ca.name != "reached" =>
                            {
                                for (u, v) in x.iter().zip(y) {
                                    let (u, v) = (u.unwrap_or(f64::NAN), v.unwrap_or(f64::NAN));
                                    assert!(
                                        (u.is_nan() && v.is_nan())
                                            || (u - v).abs() <= 1e-6 * u.abs().max(1e-6),
                                        "{name}.{} with {k} parts, {baseline:?}: {u} vs {v}",
                                        ca.name
                                    );
                                }
                            }
                            (touchpoint_core::Values::Float(_), _) => {}
                            (x, y) if ca.name == "iterations" => assert!(x.len() == y.len()),
                            (x, y) => assert_eq!(x, y, "{name}.{}", ca.name),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn statistics_of_parts_sum_to_the_whole() {
        // Split the log by person, gather each part, stack the rows: the same journeys.
        let (t, c) = log();
        let whole = journeys_from_events(&t, &c, &opts()).unwrap();
        let kpis = whole.kpis().names().to_vec();
        let part = |people: &[&str]| {
            let keep = |df: &DataFrame| {
                let mask: BooleanChunked = df
                    .column("user_id")
                    .unwrap()
                    .str()
                    .unwrap()
                    .iter()
                    .map(|p| Some(people.contains(&p.unwrap())))
                    .collect();
                df.filter(&mask).unwrap()
            };
            let o = EventOptions { kpis: kpis.clone(), ..opts() };
            journeys_from_events(&keep(&t), &keep(&c), &o).unwrap()
        };
        let parts = [part(&["a", "c", "f"]), part(&["b", "d"]), part(&["e"])];
        let (stacked, g) = stack(&parts);
        let back = journeys_from_statistics(&stacked, &g).unwrap();
        assert_eq!(back.summary(), whole.summary());
        // A path seen in several parts is one row, as in the whole's statistics.
        assert!(stacked.height() > back.len());
        assert_eq!(back.len(), path_statistics(&whole).unwrap().height());
        let models = vec![ModelSpec::from_name("shapley").unwrap()];
        let a = attribute(&whole, &models, Dimension::Channel).unwrap();
        let b = attribute(&back, &models, Dimension::Channel).unwrap();
        for (x, y) in a.credits.iter().zip(&b.credits) {
            assert_eq!(x.player, y.player);
            approx::assert_relative_eq!(x.conversions, y.conversions, max_relative = 1e-12);
        }
    }

    #[test]
    fn aggregated_journeys_refuse_what_needs_times_or_persons() {
        let (t, c) = log();
        let j = journeys_from_events(&t, &c, &opts()).unwrap();
        let back = journeys_from_statistics(&path_statistics(&j).unwrap(), &gathered(&j)).unwrap();
        for spec in ["additive_hazard", "time_decay"] {
            let e = attribute(&back, &[ModelSpec::from_name(spec).unwrap()], Dimension::Channel).unwrap_err();
            assert!(matches!(e, touchpoint_core::Error::Aggregated { .. }), "{spec}: {e}");
            assert!(e.to_string().contains("in a test"), "{e}");
        }
    }

    #[test]
    fn mismatched_dimension_paths_are_errors() {
        let s = df!("kpi" => ["k"], "conversions" => [1.0], "value" => [0.0], "nulls" => [0.0],
                    "journeys" => [1u64], "null_journeys" => [0u64])
        .unwrap();
        let mut b = ListStringChunkedBuilder::new("path".into(), 1, 2);
        b.append_values_iter(["x", "y"].into_iter());
        let mut c = ListStringChunkedBuilder::new("path_campaign".into(), 1, 1);
        c.append_values_iter(["k1"].into_iter());
        let s = s.hstack(&[b.finish().into_column(), c.finish().into_column()]).unwrap();
        let g = Gathered { dims: vec![Dimension::Campaign], ..Gathered::default() };
        let e = journeys_from_statistics(&s, &g).unwrap_err();
        assert!(e.to_string().contains("path_campaign"), "{e}");
    }
}
