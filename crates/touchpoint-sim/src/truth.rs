//! The two truths of a simulation, per KPI and channel, in conversions and value, summed over people:
//! removal (`v(N) - v(N \ c)`) and Shapley (Shapley 1953) of each person's game
//! `v(S) = conversions with only S active - conversions with none`.
//!
//! With thinning on fixed uniforms a person's game is a sum of one game per candidate event, and
//! Shapley values and removal effects are linear in the game. A candidate of an exposure of channel c
//! with synergy partners P seen before it plays `g(S) = [c in S] [u M < prod over p in P and S of
//! (1 + factor_p)]` on the players {c} and P only (every other channel is a null player of it). When
//! `u M` lies below the smallest such product (always, without synergy) g is additive and gives c one
//! conversion in both truths; when it lies at or above the largest, g is zero; otherwise g is solved
//! exactly over its `1 + |P|` players when they are at most 12, and by permutation sampling (Castro,
//! Gomez & Tejada 2009, "Polynomial calculation of the Shapley value based on sampling", Computers &
//! Operations Research 36(5)) with `truth_samples` orders above, with a standard error.
use serde::{Deserialize, Serialize};
use touchpoint_util::rng::SplitMix64;

use crate::person::{Candidate, Draw, Model, BASELINE};

/// Most players of a candidate's game solved exactly (2^12 coalitions).
pub const EXACT_LIMIT: usize = 12;

/// Column names of the truth table, in [`TruthRow`] field order.
pub const TRUTH_COLUMNS: [&str; 11] = [
    "kpi",
    "channel",
    "removal",
    "shapley",
    "removal_value",
    "shapley_value",
    "removal_share",
    "shapley_share",
    "shapley_se",
    "fired",
    "social",
];

/// The truth for one KPI and channel (or the `(baseline)` row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthRow {
    /// KPI name.
    pub kpi: String,
    /// Channel name, or `(baseline)` for the conversions no channel caused.
    pub channel: String,
    /// conversions(all channels) - conversions(all but this one), summed over people.
    pub removal: f64,
    /// Shapley value of the person-level game, summed over people.
    pub shapley: f64,
    /// Removal truth in value.
    pub removal_value: f64,
    /// Shapley truth in value.
    pub shapley_value: f64,
    /// Part of the channels' total removal truth; `None` for the baseline row or when the total is 0.
    pub removal_share: Option<f64>,
    /// Part of the channels' total Shapley truth; `None` for the baseline row or when the total is 0.
    pub shapley_share: Option<f64>,
    /// Standard error of `shapley` from permutation sampling (0 when every game was exact).
    pub shapley_se: f64,
    /// Conversions the channel's exposures fired in the actual world (the baseline row: the baseline's).
    /// An intensity split with the true parameters credits this in expectation; with synergy it differs
    /// from the Shapley truth, which shares a synergy's extra conversions between the two channels.
    pub fired: f64,
    /// Whether the channel is social (false for the baseline row).
    pub social: bool,
}

/// Running sums of the truths, per (KPI, channel) at `j * channels + c`.
#[derive(Clone, Debug)]
pub(crate) struct TruthAcc {
    n_channels: usize,
    removal: Vec<f64>,
    shapley: Vec<f64>,
    removal_value: Vec<f64>,
    shapley_value: Vec<f64>,
    /// Variance of the sampled Shapley conversions.
    se_var: Vec<f64>,
    base: Vec<f64>,
    base_value: Vec<f64>,
    fired: Vec<f64>,
}

/// Scratch of the per-candidate games, reused across candidates and people.
#[derive(Debug, Default)]
pub(crate) struct GameScratch {
    prod: Vec<f64>,
    phi: Vec<f64>,
    delta: Vec<f64>,
    var: Vec<f64>,
    order: Vec<u32>,
    sum_sq: Vec<f64>,
}

impl TruthAcc {
    pub fn new(n_kpis: usize, n_channels: usize) -> Self {
        let z = vec![0.0; n_kpis * n_channels];
        TruthAcc {
            n_channels,
            removal: z.clone(),
            shapley: z.clone(),
            removal_value: z.clone(),
            shapley_value: z.clone(),
            se_var: z.clone(),
            fired: z,
            base: vec![0.0; n_kpis],
            base_value: vec![0.0; n_kpis],
        }
    }

    /// Adds `other`'s sums, element by element.
    pub fn add(&mut self, other: &TruthAcc) {
        let pairs = [
            (&mut self.removal, &other.removal),
            (&mut self.shapley, &other.shapley),
            (&mut self.removal_value, &other.removal_value),
            (&mut self.shapley_value, &other.shapley_value),
            (&mut self.se_var, &other.se_var),
            (&mut self.base, &other.base),
            (&mut self.base_value, &other.base_value),
            (&mut self.fired, &other.fired),
        ];
        for (mine, theirs) in pairs {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }

    #[inline]
    fn book(&mut self, kpi: u32, channel: u32, removal: f64, shapley: f64, value: f64) {
        let i = kpi as usize * self.n_channels + channel as usize;
        self.removal[i] += removal;
        self.shapley[i] += shapley;
        self.removal_value[i] += removal * value;
        self.shapley_value[i] += shapley * value;
    }

    /// Books every candidate of person `d` and returns, through `observed`, the candidates that count
    /// in the actual world (all channels active).
    pub fn person(&mut self, model: &Model, d: &Draw, g: &mut GameScratch, observed: &mut Vec<u32>) {
        observed.clear();
        for (i, c) in d.cands.iter().enumerate() {
            if c.channel == BASELINE {
                self.base[c.kpi as usize] += 1.0;
                self.base_value[c.kpi as usize] += c.value;
                observed.push(i as u32);
                continue;
            }
            let partners = d.partners_of(c);
            let (lo, hi) =
                partners.iter().fold((1.0f64, 1.0f64), |(lo, hi), p| (lo * p.1.min(1.0), hi * p.1.max(1.0)));
            let fired = if c.threshold < lo {
                self.book(c.kpi, c.channel, 1.0, 1.0, c.value);
                true
            } else {
                c.threshold < hi && self.game(model, d, i, c, partners, g)
            };
            if fired {
                observed.push(i as u32);
                self.fired[c.kpi as usize * self.n_channels + c.channel as usize] += 1.0;
            }
        }
    }

    /// Solves candidate `c`'s game over {channel} and its partners and books it; returns g(all).
    fn game(
        &mut self,
        model: &Model,
        d: &Draw,
        index: usize,
        c: &Candidate,
        partners: &[(u32, f64)],
        g: &mut GameScratch,
    ) -> bool {
        let q = partners.len();
        let n = q + 1;
        g.phi.clear();
        g.phi.resize(n, 0.0);
        g.delta.clear();
        g.delta.resize(n, 0.0);
        g.var.clear();
        g.var.resize(n, 0.0);
        let full: f64 = partners.iter().map(|p| p.1).product();
        let kept_all = c.threshold < full;
        // Removal: g(all) - g(all without i), on the game's own players.
        g.delta[0] = f64::from(u8::from(kept_all));
        for b in 0..q {
            let without: f64 =
                partners.iter().enumerate().filter(|&(o, _)| o != b).map(|(_, p)| p.1).product();
            g.delta[b + 1] = f64::from(u8::from(kept_all)) - f64::from(u8::from(c.threshold < without));
        }
        if n <= EXACT_LIMIT {
            // prod[T] over subsets T of the partners, then
            // phi_c = sum_T w(|T|) g(T + c) and phi_p = sum_{T not containing p} w(|T| + 1) (g(T + p + c) - g(T + c)),
            // w(s) = s! (n - 1 - s)! / n! = 1 / (n C(n - 1, s)).
            let size = 1usize << q;
            g.prod.clear();
            g.prod.resize(size, 1.0);
            for mask in 1..size {
                let low = mask.trailing_zeros() as usize;
                g.prod[mask] = g.prod[mask & (mask - 1)] * partners[low].1;
            }
            let w = |s: usize| {
                let mut binom = 1.0f64;
                for t in 0..s {
                    binom = binom * (n - 1 - t) as f64 / (t + 1) as f64;
                }
                1.0 / (n as f64 * binom)
            };
            let mut weights = [0.0f64; EXACT_LIMIT + 1];
            for (s, ws) in weights.iter_mut().enumerate().take(n) {
                *ws = w(s);
            }
            for mask in 0..size {
                let kept = c.threshold < g.prod[mask];
                let s = mask.count_ones() as usize;
                if kept {
                    g.phi[0] += weights[s];
                }
                for b in 0..q {
                    let bit = 1usize << b;
                    if mask & bit == 0 {
                        let with = c.threshold < g.prod[mask | bit];
                        let diff = f64::from(u8::from(with)) - f64::from(u8::from(kept));
                        if diff != 0.0 {
                            g.phi[b + 1] += weights[s + 1] * diff;
                        }
                    }
                }
            }
        } else {
            // Permutation sampling: the mean marginal contribution over random orders of the n players
            // (player 0 is the candidate's channel), seeded from the person's seed and the candidate.
            let mut rng = SplitMix64::new(d.seed ^ (index as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
            g.order.clear();
            g.order.extend(0..n as u32);
            g.sum_sq.clear();
            g.sum_sq.resize(n, 0.0);
            let r = model.truth_samples as usize;
            for _ in 0..r {
                rng.shuffle(&mut g.order);
                let (mut has_c, mut prod, mut before) = (false, 1.0f64, 0.0f64);
                for &i in &g.order {
                    if i == 0 {
                        has_c = true;
                    } else {
                        prod *= partners[i as usize - 1].1;
                    }
                    let now = f64::from(u8::from(has_c && c.threshold < prod));
                    let m = now - before;
                    g.phi[i as usize] += m;
                    g.sum_sq[i as usize] += m * m;
                    before = now;
                }
            }
            let rf = r as f64;
            for i in 0..n {
                let mean = g.phi[i] / rf;
                let var = ((g.sum_sq[i] / rf - mean * mean) * rf / (rf - 1.0)).max(0.0);
                g.phi[i] = mean;
                g.var[i] = var / rf;
            }
        }
        let channel_of = |i: usize| if i == 0 { c.channel } else { partners[i - 1].0 };
        for i in 0..n {
            let ch = channel_of(i);
            self.book(c.kpi, ch, g.delta[i], g.phi[i], c.value);
            self.se_var[c.kpi as usize * self.n_channels + ch as usize] += g.var[i];
        }
        kept_all
    }

    /// The truth rows: per KPI, one row per channel in parameter order, then `(baseline)`; `social`
    /// flags the social channels.
    pub fn rows(&self, kpis: &[String], channels: &[String], social: &[bool]) -> Vec<TruthRow> {
        let nc = self.n_channels;
        let mut out = Vec::with_capacity(kpis.len() * (nc + 1));
        for (j, kpi) in kpis.iter().enumerate() {
            let range = j * nc..(j + 1) * nc;
            let total_r: f64 = self.removal[range.clone()].iter().sum();
            let total_s: f64 = self.shapley[range].iter().sum();
            for (c, channel) in channels.iter().enumerate() {
                let i = j * nc + c;
                out.push(TruthRow {
                    kpi: kpi.clone(),
                    channel: channel.clone(),
                    removal: self.removal[i],
                    shapley: self.shapley[i],
                    removal_value: self.removal_value[i],
                    shapley_value: self.shapley_value[i],
                    removal_share: (total_r != 0.0).then(|| self.removal[i] / total_r),
                    shapley_share: (total_s != 0.0).then(|| self.shapley[i] / total_s),
                    shapley_se: self.se_var[i].sqrt(),
                    fired: self.fired[i],
                    social: social[c],
                });
            }
            out.push(TruthRow {
                kpi: kpi.clone(),
                channel: crate::params::BASELINE_ROW.to_owned(),
                removal: self.base[j],
                shapley: self.base[j],
                removal_value: self.base_value[j],
                shapley_value: self.base_value[j],
                removal_share: None,
                shapley_share: None,
                shapley_se: 0.0,
                fired: self.base[j],
                social: false,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{ChannelParams, SimParams, Synergy};

    /// The person's whole game v(S) over the channels they saw, solved by brute force: (Shapley,
    /// removal) per (KPI, channel), in conversions.
    fn brute_force(model: &Model, d: &Draw) -> (Vec<f64>, Vec<f64>) {
        let (nk, nc) = (model.n_kpis, model.n_channels);
        let seen: Vec<usize> = (0..nc).filter(|&c| d.chan_off[c + 1] > d.chan_off[c]).collect();
        let n = seen.len();
        let size = 1usize << n;
        let mut v = vec![0.0; size * nk];
        let mut active = vec![false; nc];
        for mask in 0..size {
            for (b, &c) in seen.iter().enumerate() {
                active[c] = mask & (1 << b) != 0;
            }
            for cand in &d.cands {
                if cand.channel != BASELINE && d.counts(cand, &active) {
                    v[mask * nk + cand.kpi as usize] += 1.0;
                }
            }
        }
        let mut w = vec![0.0; n.max(1)];
        for (s, ws) in w.iter_mut().enumerate() {
            let mut binom = 1.0f64;
            for t in 0..s {
                binom = binom * (n - 1 - t) as f64 / (t + 1) as f64;
            }
            *ws = 1.0 / (n as f64 * binom);
        }
        let (mut phi, mut removal) = (vec![0.0; nk * nc], vec![0.0; nk * nc]);
        for j in 0..nk {
            for (b, &c) in seen.iter().enumerate() {
                let bit = 1usize << b;
                for mask in 0..size {
                    if mask & bit == 0 {
                        phi[j * nc + c] +=
                            w[mask.count_ones() as usize] * (v[(mask | bit) * nk + j] - v[mask * nk + j]);
                    }
                }
                removal[j * nc + c] = v[(size - 1) * nk + j] - v[((size - 1) ^ bit) * nk + j];
            }
        }
        (phi, removal)
    }

    #[test]
    fn per_candidate_games_add_up_to_the_persons_game() {
        let mut p = SimParams::scenario("synergy").unwrap();
        // Strong, frequent synergies (one damping) so that many candidates depend on several partners.
        p.synergies.push(Synergy {
            from: "display".into(),
            to: "search".into(),
            factor: -0.5,
            window_days: 30.0,
            kpi: None,
        });
        p.synergies.push(Synergy {
            from: "twitter".into(),
            to: "search".into(),
            factor: 3.0,
            window_days: 30.0,
            kpi: None,
        });
        let model = Model::new(&p).unwrap();
        let (mut d, mut g, mut observed) = (Draw::default(), GameScratch::default(), Vec::new());
        let mut games = 0;
        for i in 0..3_000 {
            model.draw(i, &mut d);
            let mut acc = TruthAcc::new(model.n_kpis, model.n_channels);
            acc.person(&model, &d, &mut g, &mut observed);
            let (phi, removal) = brute_force(&model, &d);
            for k in 0..phi.len() {
                assert!(
                    (acc.shapley[k] - phi[k]).abs() < 1e-9,
                    "person {i}, slot {k}: {} vs {}",
                    acc.shapley[k],
                    phi[k]
                );
                assert!((acc.removal[k] - removal[k]).abs() < 1e-9, "person {i}, slot {k}");
            }
            games += d.cands.iter().filter(|c| c.partners.1 > 0).count();
        }
        assert!(games > 20, "the test needs candidates with synergy partners: {games}");
    }

    #[test]
    fn games_above_the_exact_limit_are_sampled_with_a_standard_error() {
        // One target channel raised by 13 others seen constantly: candidates' games have 14 players.
        let mut p = SimParams { horizon_days: 20.0, truth_samples: 4_000, ..SimParams::default() };
        p.channels = (0..14)
            .map(|i| ChannelParams {
                name: format!("c{i}"),
                social: false,
                rate: if i == 0 { 0.3 } else { 2.0 },
                intent_elasticity: 0.0,
                lift: [("sales".to_owned(), if i == 0 { 0.5 } else { 0.0 })].into(),
                half_life_days: 3.0,
                diminishing: 0.0,
                delay_shape: 1.0,
            })
            .collect();
        p.synergies = (1..14)
            .map(|i| Synergy {
                from: format!("c{i}"),
                to: "c0".into(),
                factor: if i % 3 == 0 { -0.3 } else { 0.4 },
                window_days: 5.0,
                kpi: None,
            })
            .collect();
        let model = Model::new(&p).unwrap();
        let (mut d, mut g, mut observed) = (Draw::default(), GameScratch::default(), Vec::new());
        let mut sampled = 0;
        for i in 0..6 {
            model.draw(i, &mut d);
            let mut acc = TruthAcc::new(model.n_kpis, model.n_channels);
            acc.person(&model, &d, &mut g, &mut observed);
            let (phi, removal) = brute_force(&model, &d);
            for k in 0..phi.len() {
                let se = acc.se_var[k].sqrt();
                assert!(
                    (acc.shapley[k] - phi[k]).abs() <= 5.0 * se + 1e-9,
                    "person {i}, channel {k}: {} vs {} (se {se})",
                    acc.shapley[k],
                    phi[k]
                );
                assert!((acc.removal[k] - removal[k]).abs() < 1e-9);
            }
            let total: f64 = acc.shapley.iter().sum();
            let exact: f64 = phi.iter().sum();
            assert!((total - exact).abs() < 1e-9, "efficiency holds per permutation: {total} vs {exact}");
            sampled += usize::from(acc.se_var.iter().any(|&v| v > 0.0));
        }
        assert!(sampled > 0, "no game was sampled");
    }
}
