//! One person's random draws, fixed before any counting (common random numbers): intent, exposures,
//! and every source's candidate conversion events with their times, values and thinning uniforms.
//!
//! The hazard of a conversion of KPI j is additive over sources (after Zhang, Wei & Ren 2014, "A
//! probabilistic multi-touch attribution model", ICDM): `h_j(t) = b_j intent^e_j + sum over exposures
//! (c, a, k) of lambda_cj d_c(k) 2^(-(t - a) / h_c) m_cj(t)` for t > a, with `d_c(k) = 1 / (1 + gamma_c
//! (k - 1))` the diminishing return of the channel's k-th exposure and `m_cj(t)` the product of `1 +
//! factor` over the synergies whose `from` channel is active and was seen in the window before t.
//! Each source fires from its own stream: candidates come from the dominating rate (with m_cj at its
//! largest, `M_cj`), each with a fixed uniform `u`, and a candidate counts under the active channels S
//! exactly when `u M_cj < m_cj(t; S)` (thinning; Lewis & Shedler 1979). A person's conversions under
//! any S are thus a deterministic function of S.
use serde::{Deserialize, Serialize};
use touchpoint_util::rng::SplitMix64;

use crate::error::Result;
use crate::params::{SimParams, ValueDist};
use crate::sampling::{exponential, gamma, normal, poisson};

/// Microseconds per day.
pub const DAY_US: f64 = 86_400e6;

/// Day 0 of every simulation: 2024-01-01T00:00:00Z, in microseconds since the Unix epoch.
pub const START_US: i64 = 1_704_067_200_000_000;

/// Source and channel marker of the baseline.
pub(crate) const BASELINE: u32 = u32::MAX;

/// A day offset in microseconds since the Unix epoch.
#[inline]
pub(crate) fn to_us(days: f64) -> i64 {
    START_US + (days * DAY_US).round() as i64
}

/// The parameters compiled into flat arrays, channels and KPIs by position.
#[derive(Debug)]
pub(crate) struct Model {
    pub n_channels: usize,
    pub n_kpis: usize,
    pub horizon: f64,
    /// Conversions are counted up to here (the horizon, or later for lift tests that count until the
    /// effect has run its course); exposures stop at the horizon.
    pub outcome_horizon: f64,
    pub lookback_us: i64,
    pub truth_samples: u32,
    intent_sd: f64,
    max_exposures: u32,
    one_exposure: bool,
    seed_base: u64,
    rate: Vec<f64>,
    rate_elasticity: Vec<f64>,
    /// ln 2 / half-life, per channel.
    theta: Vec<f64>,
    /// Gamma shape of the response kernel per channel (1: exponential).
    shape: Vec<f64>,
    diminishing: Vec<f64>,
    /// Peak lift per (channel, KPI), at `c * n_kpis + j`.
    lift: Vec<f64>,
    /// Dominating synergy multiplier M per (channel, KPI).
    dominate: Vec<f64>,
    /// Synergies per (channel, KPI) as offsets into the three arrays below.
    syn_off: Vec<usize>,
    syn_from: Vec<u32>,
    syn_mult: Vec<f64>,
    syn_window: Vec<f64>,
    baseline: Vec<f64>,
    baseline_elasticity: Vec<f64>,
    values: Vec<ValueDist>,
}

/// A candidate conversion event of one source.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub kpi: u32,
    /// Channel of the source, or [`BASELINE`].
    pub channel: u32,
    /// Index of the exposure in [`Draw`]'s channel-major exposure arrays, or [`BASELINE`].
    pub exposure: u32,
    /// Days since the start.
    pub time: f64,
    pub value: f64,
    /// `u * M`: the candidate counts when the active synergy multiplier exceeds it (0 without synergy).
    pub threshold: f64,
    /// Range in [`Draw::partners`] of the (channel, multiplier) synergy partners seen in the window.
    pub partners: (u32, u32),
}

/// One person's draws; the buffers are reused from person to person.
#[derive(Debug, Default)]
pub(crate) struct Draw {
    pub index: u64,
    pub seed: u64,
    pub log_intent: f64,
    /// Exposure times (days), channel-major, each channel's in time order.
    pub exp_time: Vec<f64>,
    /// Channel of each exposure.
    pub exp_chan: Vec<u32>,
    /// Offsets of each channel's exposures (length channels + 1).
    pub chan_off: Vec<usize>,
    pub cands: Vec<Candidate>,
    /// Synergy partners of the candidates: (channel, 1 + factor), merged per channel.
    pub partners: Vec<(u32, f64)>,
}

impl Model {
    /// Validates and compiles the parameters.
    pub fn new(p: &SimParams) -> Result<Self> {
        p.validate()?;
        let (nc, nk) = (p.channels.len(), p.kpis.len());
        let kpi_index = |name: &str| p.kpis.iter().position(|k| k.name == name).expect("validated");
        let chan_index = |name: &str| p.channels.iter().position(|c| c.name == name).expect("validated");
        let mut lift = vec![0.0; nc * nk];
        for (c, ch) in p.channels.iter().enumerate() {
            for (k, &l) in &ch.lift {
                lift[c * nk + kpi_index(k)] = l;
            }
        }
        let mut syn_off = vec![0usize; nc * nk + 1];
        let (mut syn_from, mut syn_mult, mut syn_window) = (Vec::new(), Vec::new(), Vec::new());
        let mut dominate = vec![1.0; nc * nk];
        for c in 0..nc {
            for j in 0..nk {
                let slot = c * nk + j;
                for s in &p.synergies {
                    let applies =
                        chan_index(&s.to) == c && s.kpi.as_deref().is_none_or(|k| kpi_index(k) == j);
                    if applies && s.factor != 0.0 {
                        syn_from.push(chan_index(&s.from) as u32);
                        syn_mult.push(1.0 + s.factor);
                        syn_window.push(s.window_days);
                        dominate[slot] *= (1.0 + s.factor).max(1.0);
                    }
                }
                syn_off[slot + 1] = syn_from.len();
            }
        }
        Ok(Model {
            n_channels: nc,
            n_kpis: nk,
            horizon: p.horizon_days,
            outcome_horizon: p.horizon_days,
            lookback_us: (p.lookback_days * DAY_US).round() as i64,
            truth_samples: p.truth_samples,
            intent_sd: p.intent_sd,
            max_exposures: p.max_exposures,
            one_exposure: p.one_exposure,
            seed_base: SplitMix64::new(p.seed).next_u64(),
            rate: p.channels.iter().map(|c| c.rate).collect(),
            rate_elasticity: p.channels.iter().map(|c| c.intent_elasticity).collect(),
            theta: p.channels.iter().map(|c| std::f64::consts::LN_2 / c.half_life_days).collect(),
            shape: p.channels.iter().map(|c| c.delay_shape).collect(),
            diminishing: p.channels.iter().map(|c| c.diminishing).collect(),
            lift,
            dominate,
            syn_off,
            syn_from,
            syn_mult,
            syn_window,
            baseline: p.kpis.iter().map(|k| k.baseline).collect(),
            baseline_elasticity: p.kpis.iter().map(|k| k.intent_elasticity).collect(),
            values: p.kpis.iter().map(|k| k.value.clone()).collect(),
        })
    }

    /// The seed of person `index`: the index-th output of a SplitMix64 stream keyed by the scenario
    /// seed, so a person's draws depend on nothing but (seed, index).
    pub fn person_seed(&self, index: u64) -> u64 {
        SplitMix64::new(self.seed_base.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))).next_u64()
    }

    /// Draws person `index` into `d`: intent, exposures and every candidate event.
    pub fn draw(&self, index: u64, d: &mut Draw) {
        let (nc, nk, h) = (self.n_channels, self.n_kpis, self.horizon);
        d.index = index;
        d.seed = self.person_seed(index);
        d.exp_time.clear();
        d.exp_chan.clear();
        d.chan_off.clear();
        d.cands.clear();
        d.partners.clear();
        let mut rng = SplitMix64::new(d.seed);
        let sd = self.intent_sd;
        d.log_intent = sd * normal(&mut rng) - 0.5 * sd * sd;
        let li = d.log_intent;

        // Exposures: a Poisson process per channel on [0, horizon), rate * intent^elasticity.
        if self.one_exposure {
            let weight = |c: usize| self.rate[c] * (self.rate_elasticity[c] * li).exp();
            let total: f64 = (0..nc).map(weight).sum();
            let mut u = rng.next_f64() * total;
            let mut pick = nc - 1;
            for c in 0..nc {
                let w = weight(c);
                if u < w {
                    pick = c;
                    break;
                }
                u -= w;
            }
            while self.rate[pick] == 0.0 {
                pick -= 1; // rounding ran past the last channel of positive rate
            }
            let t = rng.next_f64() * h;
            for c in 0..nc {
                d.chan_off.push(d.exp_time.len());
                if c == pick {
                    d.exp_time.push(t);
                    d.exp_chan.push(c as u32);
                }
            }
        } else {
            for c in 0..nc {
                d.chan_off.push(d.exp_time.len());
                let r = self.rate[c] * (self.rate_elasticity[c] * li).exp();
                if r <= 0.0 {
                    continue;
                }
                let mut t = 0.0;
                for _ in 0..self.max_exposures {
                    t += exponential(&mut rng, r);
                    if t >= h {
                        break;
                    }
                    d.exp_time.push(t);
                    d.exp_chan.push(c as u32);
                }
            }
        }
        d.chan_off.push(d.exp_time.len());

        // Baseline: a homogeneous Poisson process per KPI.
        for j in 0..nk {
            let m = self.baseline[j] * (self.baseline_elasticity[j] * li).exp() * h;
            for _ in 0..poisson(&mut rng, m) {
                let time = rng.next_f64() * h;
                let value = self.values[j].draw(&mut rng);
                d.cands.push(Candidate {
                    kpi: j as u32,
                    channel: BASELINE,
                    exposure: BASELINE,
                    time,
                    value,
                    threshold: 0.0,
                    partners: (0, 0),
                });
            }
        }

        // Exposures: intensity lambda d(k) M 2^(-(t - a) / h) on (a, horizon); the count is Poisson with
        // mean lambda d(k) M q / theta, q = 1 - e^(-theta (horizon - a)), and each time is an inverted
        // truncated exponential.
        let h = self.outcome_horizon;
        for c in 0..nc {
            let theta = self.theta[c];
            let shape = self.shape[c];
            for (k, e) in (d.chan_off[c]..d.chan_off[c + 1]).enumerate() {
                let a = d.exp_time[e];
                // Exponential kernel: candidates on (a, h) by inversion. Gamma kernel: the untruncated
                // process (mean lift / theta), then the candidates past h dropped, which is the same
                // Poisson process restricted to (a, h).
                let q = if shape == 1.0 { -(-theta * (h - a)).exp_m1() } else { 1.0 };
                let dim = 1.0 / (1.0 + self.diminishing[c] * k as f64);
                for j in 0..nk {
                    let slot = c * nk + j;
                    let lift = self.lift[slot];
                    if lift == 0.0 {
                        continue;
                    }
                    let big_m = self.dominate[slot];
                    let syn = self.syn_off[slot]..self.syn_off[slot + 1];
                    for _ in 0..poisson(&mut rng, lift * dim * big_m * q / theta) {
                        let time = if shape == 1.0 {
                            (a - (-rng.next_f64() * q).ln_1p() / theta).min(h)
                        } else {
                            a + gamma(&mut rng, shape) / theta
                        };
                        let value = self.values[j].draw(&mut rng);
                        if time >= h {
                            continue;
                        }
                        let (mut threshold, start) = (0.0, d.partners.len());
                        if !syn.is_empty() {
                            threshold = rng.next_f64() * big_m;
                            for s in syn.clone() {
                                let from = self.syn_from[s] as usize;
                                let times = &d.exp_time[d.chan_off[from]..d.chan_off[from + 1]];
                                let before = times.partition_point(|&x| x < time);
                                if before == 0 || times[before - 1] < time - self.syn_window[s] {
                                    continue;
                                }
                                let f = self.syn_from[s];
                                match d.partners[start..].iter_mut().find(|p| p.0 == f) {
                                    Some(p) => p.1 *= self.syn_mult[s],
                                    None => d.partners.push((f, self.syn_mult[s])),
                                }
                            }
                        }
                        d.cands.push(Candidate {
                            kpi: j as u32,
                            channel: c as u32,
                            exposure: e as u32,
                            time,
                            value,
                            threshold,
                            partners: (start as u32, (d.partners.len() - start) as u32),
                        });
                    }
                }
            }
        }
    }
}

impl Draw {
    /// The synergy partners of a candidate.
    pub fn partners_of(&self, c: &Candidate) -> &[(u32, f64)] {
        &self.partners[c.partners.0 as usize..(c.partners.0 + c.partners.1) as usize]
    }

    /// Whether candidate `c` counts when the channels flagged in `active` are active.
    pub fn counts(&self, c: &Candidate, active: &[bool]) -> bool {
        if c.channel == BASELINE {
            return true;
        }
        if !active[c.channel as usize] {
            return false;
        }
        let m: f64 = self.partners_of(c).iter().filter(|p| active[p.0 as usize]).map(|p| p.1).product();
        c.threshold < m
    }
}

/// An exposure of a simulated person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// Channel id: the channel's position in the parameters (and its id in the journeys).
    pub channel: u32,
    /// Microseconds since the Unix epoch.
    pub time_us: i64,
}

/// A conversion event of a simulated person in the actual world (every channel active).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversionEvent {
    /// KPI id: the KPI's position in the parameters (and its id in the journeys).
    pub kpi: u32,
    /// Microseconds since the Unix epoch.
    pub time_us: i64,
    /// Value drawn from the KPI's value distribution.
    pub value: f64,
    /// The source that fired it: an index into [`Person::exposures`], or `None` for the baseline.
    pub source: Option<usize>,
}

/// One simulated person, for inspection: what the simulation draws for person `index`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// The person's index.
    pub index: u64,
    /// Latent intent (mean 1 over people).
    pub intent: f64,
    /// Exposures in time order (ties by channel id).
    pub exposures: Vec<Exposure>,
    /// Conversion events in the actual world, by KPI then time.
    pub conversions: Vec<ConversionEvent>,
}

/// Person `index` of the simulation `params` describes: the same draws [`crate::simulate()`] makes.
pub fn person(params: &SimParams, index: u64) -> Result<Person> {
    let model = Model::new(params)?;
    let mut d = Draw::default();
    model.draw(index, &mut d);
    let mut order: Vec<usize> = (0..d.exp_time.len()).collect();
    order.sort_by_key(|&e| (to_us(d.exp_time[e]), d.exp_chan[e]));
    let mut rank = vec![0usize; order.len()];
    for (r, &e) in order.iter().enumerate() {
        rank[e] = r;
    }
    let all = vec![true; model.n_channels];
    let mut conversions: Vec<ConversionEvent> = d
        .cands
        .iter()
        .filter(|c| d.counts(c, &all))
        .map(|c| ConversionEvent {
            kpi: c.kpi,
            time_us: to_us(c.time),
            value: c.value,
            source: (c.exposure != BASELINE).then(|| rank[c.exposure as usize]),
        })
        .collect();
    conversions.sort_by_key(|c| (c.kpi, c.time_us));
    Ok(Person {
        index,
        intent: d.log_intent.exp(),
        exposures: order
            .iter()
            .map(|&e| Exposure { channel: d.exp_chan[e], time_us: to_us(d.exp_time[e]) })
            .collect(),
        conversions,
    })
}
