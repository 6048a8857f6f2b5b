//! A randomised holdout (conversion-lift study) run on the simulator: what an analyst gets from a
//! platform's lift test, to calibrate incremental models with.
//!
//! A fresh cohort of the scenario (people drawn from a seed derived from the caller's, so they never
//! coincide with a benchmark's people) is split at random in two halves; the tested channel is held
//! out of the control half (its exposures are drawn, as ghost ads are, but not shown). Conversions of
//! the KPI are counted in both halves until every effect has run its course (30 half-lives past the
//! horizon; exposures still stop at the horizon). The effect per exposure is
//! `r = (mean Y_treated - mean Y_control) / mean E_treated`, with `E` the tested channel's exposures,
//! and its standard error by the delta method for a ratio of means (Kohavi, Tang & Xu 2020, "Trustworthy
//! Online Controlled Experiments", chapter 18): `Var(r) = (Var(Ybar_T - Ybar_C) + r^2 Var(Ebar_T) - 2 r
//! Cov(Ybar_T, Ebar_T)) / Ebar_T^2`.
use serde::{Deserialize, Serialize};
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::params::SimParams;
use crate::person::{Draw, Model};

/// What a simulated lift test measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiftMeasure {
    /// The channel held out.
    pub channel: String,
    /// The KPI counted.
    pub kpi: String,
    /// Incremental conversions per exposure.
    pub per_exposure: f64,
    /// Its standard error.
    pub se: f64,
    /// People in the treated and the control half.
    pub treated: u64,
    /// People in the control half.
    pub control: u64,
    /// Exposures of the channel shown to the treated half.
    pub exposures: u64,
}

/// Most people of one simulated holdout (its people are drawn one at a time, so memory does not grow
/// with them; time does, about half a microsecond each).
pub const MAX_LIFT_PEOPLE: u64 = 1_000_000_000;

/// Runs a 50% holdout of `channel` on a fresh cohort of `people` people of `params`' scenario.
pub fn lift_test(
    params: &SimParams,
    channel: &str,
    kpi: &str,
    people: u64,
    seed: u64,
) -> Result<LiftMeasure> {
    lift_test_with(params, channel, kpi, people, seed, &touchpoint_core::Unattended)
}

/// [`lift_test`], asking `control` every 65,536 people whether to stop (Ctrl-C) and reporting progress.
pub fn lift_test_with(
    params: &SimParams,
    channel: &str,
    kpi: &str,
    people: u64,
    seed: u64,
    control: &dyn touchpoint_core::Control,
) -> Result<LiftMeasure> {
    let c = params.channels.iter().position(|x| x.name == channel).ok_or_else(|| Error::UnknownChannel {
        parameter: "channel".into(),
        name: channel.to_owned(),
        known: params.channels.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    let j = params.kpis.iter().position(|x| x.name == kpi).ok_or_else(|| Error::UnknownKpi {
        parameter: "kpi".into(),
        name: kpi.to_owned(),
        known: params.kpis.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    if people < 4 {
        return Err(Error::invalid("people", people, "a holdout needs at least 4 people"));
    }
    if people > MAX_LIFT_PEOPLE {
        return Err(Error::invalid("people", people, format!("at most {MAX_LIFT_PEOPLE} in one holdout")));
    }
    // "LIFTTEST" keys the cohort's seed away from every benchmark's.
    let cohort_seed = SplitMix64::new(seed ^ 0x4C49_4654_5445_5354).next_u64();
    // The cohort is drawn one person at a time, never held: the simulation's bound on people (its
    // journeys in memory) does not apply, MAX_LIFT_PEOPLE does.
    let p = SimParams { people: people.min(crate::params::MAX_PEOPLE), seed: cohort_seed, ..params.clone() };
    let mut model = Model::new(&p)?;
    let longest = params.channels.iter().map(|x| x.half_life_days * x.delay_shape).fold(0.0, f64::max);
    model.outcome_horizon = p.horizon_days + 30.0 * longest;
    let nc = params.channels.len();
    let all = vec![true; nc];
    let mut held = all.clone();
    held[c] = false;
    let mut d = Draw::default();
    // Sums per arm: n, sum Y, sum Y^2, and for the treated sum E, sum E^2, sum Y E.
    let (mut nt, mut nc_, mut yt, mut yt2, mut yc, mut yc2) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut et, mut et2, mut yet) = (0.0, 0.0, 0.0);
    for i in 0..people {
        if i % 65_536 == 0 {
            control.checkpoint()?;
            control.progress("lift test", i, people);
        }
        model.draw(i, &mut d);
        // The arm comes from the person's own seed, so it is independent of every draw that matters.
        let treated = SplitMix64::new(d.seed ^ 0xA5A5_5A5A_0F0F_F0F0).next_u64() & 1 == 1;
        let active = if treated { &all } else { &held };
        let y = d.cands.iter().filter(|x| x.kpi as usize == j && d.counts(x, active)).count() as f64;
        if treated {
            let e = d.exp_chan.iter().filter(|&&x| x as usize == c).count() as f64;
            nt += 1.0;
            yt += y;
            yt2 += y * y;
            et += e;
            et2 += e * e;
            yet += y * e;
        } else {
            nc_ += 1.0;
            yc += y;
            yc2 += y * y;
        }
    }
    if nt < 2.0 || nc_ < 2.0 || et <= 0.0 {
        return Err(Error::invalid(
            "people",
            people,
            "too few people or no exposure of the channel in the treated half: raise people",
        ));
    }
    let (my_t, my_c, me) = (yt / nt, yc / nc_, et / nt);
    let var = |s2: f64, s: f64, n: f64| (s2 - s * s / n) / (n - 1.0);
    let v_yt = var(yt2, yt, nt);
    let v_yc = var(yc2, yc, nc_);
    let v_e = var(et2, et, nt);
    let cov_ye = (yet - yt * et / nt) / (nt - 1.0);
    let r = (my_t - my_c) / me;
    let v_delta = v_yt / nt + v_yc / nc_;
    let v_r = (v_delta + r * r * v_e / nt - 2.0 * r * cov_ye / nt) / (me * me);
    Ok(LiftMeasure {
        channel: channel.to_owned(),
        kpi: kpi.to_owned(),
        per_exposure: r,
        se: v_r.max(0.0).sqrt(),
        treated: nt as u64,
        control: nc_ as u64,
        exposures: et as u64,
    })
}
