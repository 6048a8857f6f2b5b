//! Running a simulation: people in fixed blocks (on one or several threads, with the same result bit
//! for bit), journeys cut from the actual world by the event-log rule, and the truths.
//!
//! A conversion at `t` gets the person's exposures in `(max(t - lookback, t_prev), t]`, `t_prev` being
//! the person's previous conversion of the same KPI (as touchpoint-frame's event logs do); conversions
//! at the same microsecond merge into one journey. A conversion with no exposure in its window is
//! unattributed (`no_touch_in_window`). Every person with exposures gets, per KPI, a null journey of
//! the exposures after their last conversion and within the lookback of their last exposure.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use touchpoint_core::Weights;

use serde::{Deserialize, Serialize};
use touchpoint_core::{
    Control, Cut, Dimension, Journeys, JourneysBuilder, Timelines, Unattended, WindowRule,
};

use crate::error::Result;
use crate::params::SimParams;
use crate::person::{to_us, Draw, Model, START_US};
use crate::truth::{GameScratch, TruthAcc, TruthRow};

/// People per block: the unit of work, of interrupt checks and of partial sums. Results do not depend
/// on the number of threads because blocks are summed in block order.
pub const BLOCK: u64 = 4096;

/// Journeys simulated from a scenario, with the truth they were made from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Simulation {
    /// The observed journeys (with times), one per conversion event plus null journeys, cut by the
    /// window rule of touchpoint-core, with every person's timeline (period: the horizon; population:
    /// every simulated person).
    pub journeys: Journeys,
    /// Per KPI: one row per channel in parameter order, then the `(baseline)` row.
    pub truth: Vec<TruthRow>,
    /// The parameters that made it.
    pub params: SimParams,
}

impl Simulation {
    /// The truth row of (KPI, channel), channel `(baseline)` for the baseline.
    pub fn truth_of(&self, kpi: &str, channel: &str) -> Option<&TruthRow> {
        self.truth.iter().find(|r| r.kpi == kpi && r.channel == channel)
    }
}

/// One journey cut from a person, its touches in the block's flat arrays.
#[derive(Clone, Copy, Debug)]
struct JourneyRec {
    kpi: u32,
    /// The journey's run of touches: its first in the block's timeline touches, and how many.
    first: u32,
    touches: u32,
    conversions: f64,
    value: f64,
    nulls: f64,
    time: i64,
    /// The person's index among the block's timelines.
    person: u32,
}

/// What a block of people produces.
#[derive(Debug)]
struct BlockOut {
    journeys: Vec<JourneyRec>,
    /// Unattributed (conversions, value) per KPI.
    unattributed: Vec<(f64, f64)>,
    /// Exposures per channel.
    exposures: Vec<u64>,
    truth: TruthAcc,
    /// Timelines of the people with an event: touches and conversion records per person.
    tl_touches: Vec<u32>,
    tl_chan: Vec<u32>,
    tl_time: Vec<i64>,
    tl_convs: Vec<u32>,
    tl_conv: Vec<(u32, i64, f64, f64)>,
}

/// A worker's buffers, allocated once per run.
#[derive(Debug, Default)]
struct Scratch {
    draw: Draw,
    game: GameScratch,
    observed: Vec<u32>,
    touches: Vec<(i64, u32)>,
    /// Observed events: (KPI, time, candidate index, value).
    events: Vec<(u32, i64, u32, f64)>,
    /// Touch times of the person, and one KPI's merged conversions.
    times: Vec<i64>,
    merged: Vec<(i64, f64, f64)>,
    window: Vec<u32>,
}

/// Simulates `params` on one thread.
pub fn simulate(params: &SimParams) -> Result<Simulation> {
    simulate_with(params, 1, &Unattended)
}

/// [`simulate`] on `threads` threads (0 counts as 1), with progress reports (stage `simulate`, in
/// people) and interruption every block. The result does not depend on `threads`.
pub fn simulate_with(params: &SimParams, threads: usize, control: &dyn Control) -> Result<Simulation> {
    let model = Model::new(params)?;
    let people = params.people;
    let n_blocks = people.div_ceil(BLOCK);
    let threads = (threads.max(1) as u64).min(n_blocks) as usize;
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let work = |first: u64| -> Result<Vec<(u64, BlockOut)>> {
        let mut scratch = Scratch::default();
        let mut outs = Vec::new();
        for block in (first..n_blocks).step_by(threads) {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if let Err(e) = control.checkpoint() {
                stop.store(true, Ordering::Relaxed);
                return Err(e.into());
            }
            let out = run_block(&model, block, people, &mut scratch);
            let n = (people - block * BLOCK).min(BLOCK);
            let so_far = done.fetch_add(n, Ordering::Relaxed) + n;
            control.progress("simulate", so_far, people);
            outs.push((block, out));
        }
        Ok(outs)
    };
    let parts: Vec<Result<Vec<(u64, BlockOut)>>> = if threads == 1 {
        vec![work(0)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads as u64).map(|t| s.spawn(move || work(t))).collect();
            handles.into_iter().map(|h| h.join().expect("a simulation worker panicked")).collect()
        })
    };
    let mut blocks: Vec<Option<BlockOut>> = (0..n_blocks).map(|_| None).collect();
    for part in parts {
        for (i, out) in part? {
            blocks[i as usize] = Some(out);
        }
    }
    let blocks: Vec<BlockOut> = blocks.into_iter().map(|b| b.expect("every block ran")).collect();
    assemble(params, &model, blocks, control)
}

/// Draws, books and cuts the people of one block.
fn run_block(model: &Model, block: u64, people: u64, s: &mut Scratch) -> BlockOut {
    let (nk, nc) = (model.n_kpis, model.n_channels);
    let mut out = BlockOut {
        journeys: Vec::new(),
        unattributed: vec![(0.0, 0.0); nk],
        exposures: vec![0; nc],
        truth: TruthAcc::new(nk, nc),
        tl_touches: Vec::new(),
        tl_chan: Vec::new(),
        tl_time: Vec::new(),
        tl_convs: Vec::new(),
        tl_conv: Vec::new(),
    };
    let end = ((block + 1) * BLOCK).min(people);
    for i in block * BLOCK..end {
        model.draw(i, &mut s.draw);
        out.truth.person(model, &s.draw, &mut s.game, &mut s.observed);
        cut_journeys(model, s, &mut out);
    }
    out
}

/// Cuts one person's journeys from their exposures and actual-world conversions by the window rule
/// of touchpoint-core (the one `from_events` uses), and records the person's timeline.
fn cut_journeys(model: &Model, s: &mut Scratch, out: &mut BlockOut) {
    let d = &s.draw;
    s.touches.clear();
    for (&t, &c) in d.exp_time.iter().zip(&d.exp_chan) {
        s.touches.push((to_us(t), c));
        out.exposures[c as usize] += 1;
    }
    s.touches.sort_unstable();
    s.times.clear();
    s.times.extend(s.touches.iter().map(|x| x.0));
    s.events.clear();
    for &i in &s.observed {
        let c = &d.cands[i as usize];
        s.events.push((c.kpi, to_us(c.time), i, c.value));
    }
    s.events.sort_unstable_by_key(|e| (e.0, e.1, e.2));
    let rule = WindowRule::lookback(model.lookback_us);
    let conv_before = out.tl_conv.len();
    // The person's index among the block's timelines: a person with a journey has touches, so a timeline.
    let person = out.tl_touches.len() as u32;
    let mut e = 0;
    for j in 0..model.n_kpis as u32 {
        s.merged.clear();
        while e < s.events.len() && s.events[e].0 == j {
            let t = s.events[e].1;
            let (mut conversions, mut value) = (0.0, 0.0);
            while e < s.events.len() && s.events[e].0 == j && s.events[e].1 == t {
                conversions += 1.0;
                value += s.events[e].3;
                e += 1;
            }
            s.merged.push((t, conversions, value));
            out.tl_conv.push((j, t, conversions, value));
        }
        // The person's touches go to the block's timeline touches after the cut, from here.
        let base = out.tl_chan.len() as u32;
        let _ = rule.cut::<()>(&s.times, &s.merged, &mut s.window, |cut| {
            let (idx, rec) = match cut {
                Cut::Unattributed { conversions, value, .. } => {
                    let u = &mut out.unattributed[j as usize];
                    u.0 += conversions;
                    u.1 += value;
                    return Ok(());
                }
                Cut::Journey { touches, time, conversions, value, .. } => (
                    touches,
                    JourneyRec { kpi: j, first: 0, touches: 0, conversions, value, nulls: 0.0, time, person },
                ),
                Cut::Null { touches, time, .. } => (
                    touches,
                    JourneyRec {
                        kpi: j,
                        first: 0,
                        touches: 0,
                        conversions: 0.0,
                        value: 0.0,
                        nulls: 1.0,
                        time,
                        person,
                    },
                ),
            };
            // A lookback alone cuts runs of consecutive touches.
            out.journeys.push(JourneyRec {
                first: base + idx.first().copied().unwrap_or(0),
                touches: idx.len() as u32,
                ..rec
            });
            Ok(())
        });
    }
    let convs = out.tl_conv.len() - conv_before;
    if convs > 0 || !s.touches.is_empty() {
        out.tl_touches.push(s.touches.len() as u32);
        out.tl_convs.push(convs as u32);
        for &(t, c) in &s.touches {
            out.tl_chan.push(c);
            out.tl_time.push(t);
        }
    }
}

/// Builds the journeys and the truth rows from the blocks, in block order.
fn assemble(
    params: &SimParams,
    model: &Model,
    blocks: Vec<BlockOut>,
    control: &dyn Control,
) -> Result<Simulation> {
    let mut b = JourneysBuilder::with_times(&[]);
    b.view_timelines();
    for k in &params.kpis {
        b.kpi_id(&k.name);
    }
    for (i, c) in params.channels.iter().enumerate() {
        b.player_id(Dimension::Channel, &c.name, i + 1)?;
    }
    let n_journeys: usize = blocks.iter().map(|o| o.journeys.len()).sum();
    b.reserve(n_journeys, 0);
    let mut truth = TruthAcc::new(model.n_kpis, model.n_channels);
    let mut exposures = vec![0u64; model.n_channels];
    let mut row = 0usize;
    // The horizon's last microsecond included: an event drawn just below the horizon can round onto it.
    let period = (START_US, to_us(params.horizon_days) + 1);
    let mut timelines = Timelines::new(period, Some(params.people), &[])?;
    for (i, out) in blocks.into_iter().enumerate() {
        if i % 64 == 0 {
            control.checkpoint()?;
            control.progress("journeys", row as u64, n_journeys as u64);
        }
        let first_person = timelines.persons() as u32;
        let first_touch = timelines.touch_count();
        for r in &out.journeys {
            b.set_person(first_person + r.person);
            b.push_view(first_touch + r.first as usize, r.touches as usize);
            row += 1;
            b.finish_journey(
                row,
                r.kpi,
                Weights { conversions: r.conversions, value: r.value, nulls: r.nulls },
                Some(r.time),
            )?;
        }
        for (j, &(c, v)) in out.unattributed.iter().enumerate() {
            if c > 0.0 {
                b.add_unattributed(j as u32, "no_touch_in_window", c, v);
            }
        }
        for (sum, e) in exposures.iter_mut().zip(&out.exposures) {
            *sum += e;
        }
        let (mut tt, mut cc) = (0usize, 0usize);
        for (&nt, &nv) in out.tl_touches.iter().zip(&out.tl_convs) {
            for k in tt..tt + nt as usize {
                timelines.push_touch([out.tl_chan[k], 0, 0, 0, 0, 0], out.tl_time[k]);
            }
            for &(kpi, t, c, v) in &out.tl_conv[cc..cc + nv as usize] {
                timelines.push_conversion(kpi, t, c, v);
            }
            timelines.finish_person();
            tt += nt as usize;
            cc += nv as usize;
        }
        truth.add(&out.truth);
    }
    control.progress("journeys", n_journeys as u64, n_journeys as u64);
    b.set_input_touches(Dimension::Channel, exposures.iter().map(|&e| e as f64).collect());
    b.set_timelines(timelines);
    let kpis: Vec<String> = params.kpis.iter().map(|k| k.name.clone()).collect();
    let channels: Vec<String> = params.channels.iter().map(|c| c.name.clone()).collect();
    let social: Vec<bool> = params.channels.iter().map(|c| c.social).collect();
    Ok(Simulation {
        journeys: b.build(),
        truth: truth.rows(&kpis, &channels, &social),
        params: params.clone(),
    })
}
