//! Shapley-value attribution: a cooperative game per KPI whose players are the KPI's distinct players.
//!
//! - `conversions` game (Zhao, Mahboobi & Bagheri 2018, "Shapley Value Methods for Attribution
//!   Modeling in Online Advertising", arXiv:1804.05327, section 3): v(S) = conversions of the journeys
//!   whose player set lies inside S. Its Shapley value has the closed form
//!   phi_i = sum over player sets T containing i of conv(T) / |T|.
//! - `rate` game (after Dalessandro, Perlich, Stitelman & Provost 2012, "Causally motivated attribution
//!   for online advertising", ADKDD): r(T) = conversions / (conversions + nulls) of journeys whose player
//!   set is exactly T, for the T with enough support; v(S) = max r(T) over those T inside S, v(empty) = 0.
//!   The game is monotone, so every phi >= 0. Exact by a max-zeta subset transform (O(m 2^m)) up to 20
//!   players; permutation sampling above (Castro, Gomez & Tejada 2009) with standard errors.
//! - `ordered` (Zhao et al. 2018, section 4): the conversions game's credit booked at the position where
//!   each player first appears.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Control, Details, JourneyCredit, KpiCredit, KpiView, Model};
use touchpoint_util::rng::SplitMix64;

/// Most players for the exact `rate` game.
pub const EXACT_LIMIT: usize = 20;

/// Which cooperative game is played.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Game {
    /// v(S) = conversions of journeys whose player set lies inside S.
    Conversions,
    /// v(S) = best conversion rate of an observed player set inside S.
    Rate,
}

/// Shapley-value attribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Shapley {
    /// The game.
    pub game: Game,
    /// Book credit by first position (conversions game only).
    pub ordered: bool,
    /// `rate` game: `None` exact up to 20 players and sampled above; `Some(true)` exact or an error;
    /// `Some(false)` always sampled.
    pub exact: Option<bool>,
    /// Permutations drawn when sampling.
    pub samples: u32,
    /// Seed of the permutation stream.
    pub seed: u64,
    /// `rate` game: least weight (conversions + nulls) for a player set to count.
    pub min_support: f64,
}

impl Default for Shapley {
    fn default() -> Self {
        Shapley {
            game: Game::Conversions,
            ordered: false,
            exact: None,
            samples: 10_000,
            seed: 0,
            min_support: 1.0,
        }
    }
}

fn invalid(parameter: &'static str, value: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidParameter { model: "shapley", parameter, value: value.to_string(), reason: reason.into() }
}

impl Model for Shapley {
    fn name(&self) -> &'static str {
        "shapley"
    }

    fn reads_nulls(&self) -> bool {
        self.game == Game::Rate
    }
    fn reads_times(&self) -> bool {
        false
    }
    fn validate(&self) -> Result<()> {
        if self.ordered && self.game == Game::Rate {
            return Err(invalid("ordered", true, "the ordered variant exists for the conversions game only"));
        }
        if self.samples < 2 {
            return Err(invalid(
                "samples",
                self.samples,
                "at least 2 permutations are needed for a standard error",
            ));
        }
        if !(self.min_support.is_finite() && self.min_support >= 0.0) {
            return Err(invalid("min_support", self.min_support, "must be finite and >= 0"));
        }
        Ok(())
    }

    fn credit(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        match self.game {
            Game::Conversions => Ok(self.conversions_game(view)),
            Game::Rate => self.rate_game(view, control),
        }
    }

    /// The conversions game splits each journey equally over its distinct players (its closed form);
    /// the rate game splits it in proportion to the players' values.
    fn journey_credits(
        &self,
        view: &KpiView<'_>,
        credit: &KpiCredit,
        control: &dyn Control,
        emit: &mut dyn FnMut(JourneyCredit),
    ) -> Result<()> {
        if self.game == Game::Rate {
            return crate::model::split_by_credit(view, credit, control, emit);
        }
        let ones = KpiCredit {
            conversions: vec![1.0; view.n_players],
            value: vec![1.0; view.n_players],
            ..Default::default()
        };
        crate::model::split_by_credit(view, &ones, control, emit)
    }
}

impl Shapley {
    /// Closed form of the conversions game; ordered credit when asked.
    fn conversions_game(&self, view: &KpiView<'_>) -> KpiCredit {
        let mut out = KpiCredit::zeros(view.n_players);
        let mut stamp = vec![u32::MAX; view.n_players];
        let mut firsts: Vec<(u32, u32)> = Vec::new();
        let mut positions: HashMap<(u32, u32), (f64, f64)> = HashMap::new();
        for (n, (j, players)) in view.iter().enumerate() {
            if j.conversions <= 0.0 {
                continue;
            }
            firsts.clear();
            for (pos, &p) in players.iter().enumerate() {
                if stamp[p as usize] != n as u32 {
                    stamp[p as usize] = n as u32;
                    firsts.push((p, pos as u32 + 1));
                }
            }
            let k = firsts.len() as f64;
            let (c, v) = (j.conversions / k, j.value / k);
            for &(p, pos) in &firsts {
                out.conversions[p as usize] += c;
                out.value[p as usize] += v;
                if self.ordered {
                    let e = positions.entry((p, pos)).or_insert((0.0, 0.0));
                    e.0 += c;
                    e.1 += v;
                }
            }
        }
        if self.ordered {
            let mut pc: Vec<(u32, u32, f64, f64)> =
                positions.into_iter().map(|((p, pos), (c, v))| (p, pos, c, v)).collect();
            pc.sort_by_key(|e| (e.0, e.1));
            out.details.position_credits = Some(pc);
        }
        out
    }

    fn rate_game(&self, view: &KpiView<'_>, control: &dyn Control) -> Result<KpiCredit> {
        if view.total_nulls() <= 0.0 {
            return Err(Error::Unsupported {
                model: "shapley(game=rate)".into(),
                kpi: view.kpi_name.to_owned(),
                reason: "the rate game needs null (non-converting) journeys; use game=\"conversions\" or add nulls"
                    .into(),
            });
        }
        // Compact ids of the players present, in name order: the sampled orders and the exact masks
        // then depend on who the players are, not on where they first appear in the table.
        let mut present = vec![false; view.n_players];
        for (_, ps) in view.iter() {
            for &p in ps {
                present[p as usize] = true;
            }
        }
        let mut players: Vec<u32> = (0..view.n_players as u32).filter(|&p| present[p as usize]).collect();
        players.sort_by(|&a, &b| view.player_names[a as usize].cmp(&view.player_names[b as usize]));
        let mut compact = vec![u32::MAX; view.n_players];
        for (i, &p) in players.iter().enumerate() {
            compact[p as usize] = i as u32;
        }
        let m = players.len();
        let exact = match self.exact {
            Some(true) if m > EXACT_LIMIT => {
                return Err(invalid(
                    "exact",
                    true,
                    format!(
                        "KPI `{}` has {m} players; exact rate Shapley is limited to {EXACT_LIMIT} (pass exact=None to sample)",
                        view.kpi_name
                    ),
                ))
            }
            Some(e) => e,
            None => m <= EXACT_LIMIT,
        };
        // Totals summed in a canonical order, so that the same records give the same bits.
        let (mut conv, mut vals): (Vec<f64>, Vec<f64>) =
            view.iter().map(|(j, _)| (j.conversions, j.value)).unzip();
        let (total_conv, total_value) = (order_free_sum(&mut conv), order_free_sum(&mut vals));
        let mut out = KpiCredit::zeros(view.n_players);
        let (phi, phi_v, se) = if exact {
            let (phi, phi_v) = self.exact_rate(view, &compact, m, control)?;
            (phi, phi_v, None)
        } else {
            let (phi, phi_v, se) = self.sampled_rate(view, &compact, m, control)?;
            (phi, phi_v, Some(se))
        };
        let (sum, sum_v): (f64, f64) = (phi.iter().sum(), phi_v.iter().sum());
        if sum <= 0.0 {
            out.warnings.push(format!(
                "no player set with conversions reaches min_support = {}: the rate game gives no credit",
                self.min_support
            ));
        }
        let mut se_full = vec![0.0; view.n_players];
        for (i, &p) in players.iter().enumerate() {
            if sum > 0.0 {
                out.conversions[p as usize] = total_conv * phi[i] / sum;
            }
            if sum_v > 0.0 {
                out.value[p as usize] = total_value * phi_v[i] / sum_v;
            }
            if let Some(se) = &se {
                se_full[p as usize] = if sum > 0.0 { total_conv * se[i] / sum } else { 0.0 };
            }
        }
        if se.is_some() {
            out.details = Details { standard_errors: Some(se_full), ..Details::default() };
        }
        Ok(out)
    }

    /// Exact Shapley of the rate game over `m <= 20` players, for conversions and value.
    fn exact_rate(
        &self,
        view: &KpiView<'_>,
        compact: &[u32],
        m: usize,
        control: &dyn Control,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        let size = 1usize << m;
        // Weights (conversions, nulls, value) of each exact player set.
        let mut agg = vec![[0.0f64; 3]; size];
        for (n, (j, ps)) in view.iter().enumerate() {
            if n % crate::rules::CHECK_EVERY == 0 {
                control.checkpoint()?;
            }
            let mask = ps.iter().fold(0usize, |m, &p| m | (1 << compact[p as usize]));
            let a = &mut agg[mask];
            a[0] += j.conversions;
            a[1] += j.nulls;
            a[2] += j.value;
        }
        let mut v = vec![0.0f64; size];
        let mut vv = vec![0.0f64; size];
        for mask in 1..size {
            let [c, nl, val] = agg[mask];
            let w = c + nl;
            if w > 0.0 && w >= self.min_support {
                v[mask] = c / w;
                vv[mask] = val / w;
            }
        }
        drop(agg);
        // Max-zeta transform: v(S) = max over observed T inside S.
        for i in 0..m {
            let bit = 1usize << i;
            for mask in 0..size {
                if mask & bit != 0 {
                    v[mask] = v[mask].max(v[mask ^ bit]);
                    vv[mask] = vv[mask].max(vv[mask ^ bit]);
                }
            }
        }
        control.checkpoint()?;
        // Shapley weights |S|! (m - |S| - 1)! / m! by coalition size.
        let mut w = vec![0.0f64; m.max(1)];
        for (s, ws) in w.iter_mut().enumerate() {
            // 1 / (m * C(m - 1, s))
            let mut binom = 1.0f64;
            for t in 0..s {
                binom = binom * (m - 1 - t) as f64 / (t + 1) as f64;
            }
            *ws = 1.0 / (m as f64 * binom);
        }
        let (mut phi, mut phi_v) = (vec![0.0; m], vec![0.0; m]);
        for mask in 0..size {
            let ws = w[(mask.count_ones() as usize).min(m - 1)];
            let (base, base_v) = (v[mask], vv[mask]);
            for i in 0..m {
                let bit = 1usize << i;
                if mask & bit == 0 {
                    phi[i] += ws * (v[mask | bit] - base);
                    phi_v[i] += ws * (vv[mask | bit] - base_v);
                }
            }
        }
        Ok((phi, phi_v))
    }

    /// Permutation-sampling Shapley of the rate game (Castro et al. 2009): mean marginal contribution
    /// over `samples` random orders, with the standard error of that mean.
    fn sampled_rate(
        &self,
        view: &KpiView<'_>,
        compact: &[u32],
        m: usize,
        control: &dyn Control,
    ) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        // Each record's player set, then the records sorted by (set, weights) and summed per set in that
        // order: the sums, and so every later bit, do not depend on the row order of the input.
        let mut records: Vec<(Vec<u32>, [f64; 3])> = view
            .iter()
            .map(|(j, ps)| {
                let mut key: Vec<u32> = ps.iter().map(|&p| compact[p as usize]).collect();
                key.sort_unstable();
                key.dedup();
                (key, [j.conversions, j.nulls, j.value])
            })
            .collect();
        records.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.1[0].total_cmp(&b.1[0]))
                .then(a.1[1].total_cmp(&b.1[1]))
                .then(a.1[2].total_cmp(&b.1[2]))
        });
        let mut agg: Vec<(Vec<u32>, [f64; 3])> = Vec::new();
        for (key, w) in records {
            match agg.last_mut() {
                Some((k, a)) if *k == key => {
                    a[0] += w[0];
                    a[1] += w[1];
                    a[2] += w[2];
                }
                _ => agg.push((key, w)),
            }
        }
        // Sets that can raise the maximum.
        let sets: Vec<(Vec<u32>, f64, f64)> = agg
            .into_iter()
            .filter_map(|(t, [c, nl, val])| {
                let w = c + nl;
                (w > 0.0 && w >= self.min_support && (c > 0.0 || val > 0.0)).then(|| (t, c / w, val / w))
            })
            .collect();
        let mut member_of: Vec<Vec<u32>> = vec![Vec::new(); m];
        for (t, (members, _, _)) in sets.iter().enumerate() {
            for &i in members {
                member_of[i as usize].push(t as u32);
            }
        }
        let sizes: Vec<u32> = sets.iter().map(|s| s.0.len() as u32).collect();
        let mut need = sizes.clone();
        let mut rng = SplitMix64::new(self.seed);
        let mut order: Vec<u32> = (0..m as u32).collect();
        let (mut sum, mut sum_sq, mut sum_v) = (vec![0.0; m], vec![0.0; m], vec![0.0; m]);
        let samples = self.samples as usize;
        for s in 0..samples {
            if s % 256 == 0 {
                control.checkpoint()?;
                control.progress("shapley permutations", s as u64, samples as u64);
            }
            need.copy_from_slice(&sizes);
            rng.shuffle(&mut order);
            let (mut cur, mut cur_v) = (0.0f64, 0.0f64);
            for &i in &order {
                let (before, before_v) = (cur, cur_v);
                for &t in &member_of[i as usize] {
                    let t = t as usize;
                    need[t] -= 1;
                    if need[t] == 0 {
                        cur = cur.max(sets[t].1);
                        cur_v = cur_v.max(sets[t].2);
                    }
                }
                let d = cur - before;
                sum[i as usize] += d;
                sum_sq[i as usize] += d * d;
                sum_v[i as usize] += cur_v - before_v;
            }
        }
        control.progress("shapley permutations", samples as u64, samples as u64);
        let n = samples as f64;
        let phi: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let phi_v: Vec<f64> = sum_v.iter().map(|s| s / n).collect();
        let se: Vec<f64> = (0..m)
            .map(|i| {
                let var = ((sum_sq[i] / n - phi[i] * phi[i]) * n / (n - 1.0)).max(0.0);
                (var / n).sqrt()
            })
            .collect();
        Ok((phi, phi_v, se))
    }
}

/// The sum of `xs` in ascending order: the same multiset of values gives the same bits in any order.
fn order_free_sum(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.iter().sum()
}
