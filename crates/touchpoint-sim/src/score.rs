//! Scoring attribution models against a simulation's truths, and the benchmark that simulates named
//! scenarios, runs every model and scores each per KPI.
//!
//! Per model and KPI, with shares taken over the channels (the baseline is in no share):
//! total variation distance `0.5 * sum_c |share_model(c) - share_truth(c)|`, Spearman's (1904) rank
//! correlation of the credits with average ranks for ties, and the signed error of the social
//! channels' total share, model minus Shapley truth.
use serde::{Deserialize, Serialize};
use touchpoint_core::shapley::{Game, Shapley};
use touchpoint_core::{
    attribute_with, AdditiveHazard, Attribution, Baseline, Control, Dimension, Markov, ModelSpec, Unattended,
};

use crate::error::{Error, Result};
use crate::params::SimParams;
use crate::simulate::{simulate_with, Simulation};
use crate::truth::TruthRow;

/// Column names of the benchmark table, in [`ScoreRow`] field order.
pub const SCORE_COLUMNS: [&str; 10] = [
    "scenario",
    "kpi",
    "model",
    "tv_shapley",
    "tv_removal",
    "spearman_shapley",
    "spearman_removal",
    "social_share_error",
    "incremental",
    "incremental_truth",
];

/// How one model did on one KPI of one scenario. Metrics are `None` when the model or the truth has
/// no share to compare (no credited conversions, a zero truth total, a constant ranking).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    /// Scenario name (the parameters' `name`).
    pub scenario: String,
    /// KPI name.
    pub kpi: String,
    /// Model label, as in the attribution.
    pub model: String,
    /// Total variation distance between the model's and the Shapley truth's channel shares.
    pub tv_shapley: Option<f64>,
    /// Total variation distance between the model's and the removal truth's channel shares.
    pub tv_removal: Option<f64>,
    /// Spearman rank correlation of the model's credit with the Shapley truth.
    pub spearman_shapley: Option<f64>,
    /// Spearman rank correlation of the model's credit with the removal truth.
    pub spearman_removal: Option<f64>,
    /// Social channels' total share under the model minus under the Shapley truth.
    pub social_share_error: Option<f64>,
    /// Conversions the model credits to channels (for a model with a baseline, its incremental
    /// conversions; for the others, every attributed conversion).
    pub incremental: f64,
    /// Conversions the channels cause in the Shapley truth (the truth's channel rows summed).
    pub incremental_truth: f64,
}

/// The benchmark's models: the default models of attribution ([`touchpoint_core::default_models`];
/// the simulator's journeys carry person timelines), plus the variants a benchmark compares:
/// time_decay, markov of order 2, shapley with the rate game, and the additive-hazard model with a
/// constant and an activity baseline.
pub fn benchmark_models() -> Vec<ModelSpec> {
    // Each variant right after the model it varies, so tables group them.
    let mut models = Vec::new();
    for m in touchpoint_core::default_models(true) {
        let variants: Vec<ModelSpec> = match &m {
            ModelSpec::PositionBased(_) => vec![ModelSpec::from_name("time_decay").expect("a known model")],
            ModelSpec::Markov(_) => vec![ModelSpec::Markov(Markov { order: 2 })],
            ModelSpec::Shapley(_) => {
                vec![ModelSpec::Shapley(Shapley { game: Game::Rate, ..Shapley::default() })]
            }
            ModelSpec::AdditiveHazard(_) => [Baseline::Constant, Baseline::Activity]
                .map(|baseline| {
                    ModelSpec::AdditiveHazard(AdditiveHazard { baseline, ..AdditiveHazard::default() })
                })
                .to_vec(),
            _ => Vec::new(),
        };
        models.push(m);
        models.extend(variants);
    }
    models
}

/// Half the L1 distance between two share vectors.
pub fn total_variation(a: &[f64], b: &[f64]) -> f64 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// Ranks from 1, ties sharing their average rank.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation: Pearson's correlation of the average ranks. `None` with fewer than
/// two items or when either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let (ra, rb) = (average_ranks(&a[..n]), average_ranks(&b[..n]));
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - mean) * (y - mean);
        saa += (x - mean) * (x - mean);
        sbb += (y - mean) * (y - mean);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// Scores every model of `attribution` (made by channel from `simulation.journeys`) on every KPI
/// against the simulation's truths. Rows by model, then KPI, in the attribution's and the
/// parameters' order. Channels a model does not credit count as zero credit.
pub fn score(attribution: &Attribution, simulation: &Simulation) -> Vec<ScoreRow> {
    score_truth(attribution, &simulation.params, &simulation.truth).expect("a simulation has every truth row")
}

/// [`score`] against a simulation's parameters and truth rows (as kept by a caller that has no
/// [`Simulation`], e.g. Python's). An error when the attribution is not by channel, or a truth row
/// of a (KPI, channel) of the parameters is missing.
pub fn score_truth(
    attribution: &Attribution,
    p: &SimParams,
    truth_rows: &[TruthRow],
) -> Result<Vec<ScoreRow>> {
    if attribution.by != Dimension::Channel {
        return Err(Error::InvalidParameter {
            parameter: "result".into(),
            value: attribution.by.to_string(),
            reason: "the simulation's truth is by channel: score an attribution by channel".into(),
        });
    }
    let nc = p.channels.len();
    let social: Vec<bool> = p.channels.iter().map(|c| c.social).collect();
    let mut rows = Vec::new();
    for m in &attribution.models {
        for k in &p.kpis {
            let truth: Vec<&TruthRow> = p
                .channels
                .iter()
                .map(|c| {
                    truth_rows.iter().find(|r| r.kpi == k.name && r.channel == c.name).ok_or_else(|| {
                        Error::InvalidParameter {
                            parameter: "truth".into(),
                            value: format!("{} / {}", k.name, c.name),
                            reason: "no truth row for this KPI and channel of the scenario".into(),
                        }
                    })
                })
                .collect::<Result<_>>()?;
            let mut credit = vec![0.0; nc];
            for c in attribution.credits.iter().filter(|c| c.model == m.label && c.kpi == k.name) {
                if let Some(i) = p.channels.iter().position(|ch| ch.name == c.player) {
                    credit[i] += c.conversions;
                }
            }
            let total: f64 = credit.iter().sum();
            let model_share: Option<Vec<f64>> =
                (total > 0.0).then(|| credit.iter().map(|c| c / total).collect());
            let shapley: Option<Vec<f64>> = truth.iter().map(|t| t.shapley_share).collect();
            let removal: Option<Vec<f64>> = truth.iter().map(|t| t.removal_share).collect();
            let tv = |t: &Option<Vec<f64>>| match (&model_share, t) {
                (Some(a), Some(b)) => Some(total_variation(a, b)),
                _ => None,
            };
            let rank = |t: &Option<Vec<f64>>| match (&model_share, t) {
                (Some(a), Some(b)) => spearman(a, b),
                _ => None,
            };
            let social_sum =
                |s: &[f64]| s.iter().zip(&social).filter(|(_, &x)| x).map(|(v, _)| v).sum::<f64>();
            rows.push(ScoreRow {
                scenario: p.name.clone(),
                kpi: k.name.clone(),
                model: m.label.clone(),
                tv_shapley: tv(&shapley),
                tv_removal: tv(&removal),
                spearman_shapley: rank(&shapley),
                spearman_removal: rank(&removal),
                social_share_error: match (&model_share, &shapley) {
                    (Some(a), Some(b)) => Some(social_sum(a) - social_sum(b)),
                    _ => None,
                },
                incremental: total,
                incremental_truth: truth.iter().map(|t| t.shapley).sum(),
            });
        }
    }
    Ok(rows)
}

/// Simulates each named scenario with `people` people and `seed`, runs `models` (the
/// [`benchmark_models`] when empty) by channel, and scores each per KPI.
pub fn benchmark(scenarios: &[&str], people: u64, seed: u64, models: &[ModelSpec]) -> Result<Vec<ScoreRow>> {
    benchmark_with(scenarios, people, seed, models, 1, &Unattended)
}

/// [`benchmark`] with the simulation on `threads` threads, progress reports and interruption.
pub fn benchmark_with(
    scenarios: &[&str],
    people: u64,
    seed: u64,
    models: &[ModelSpec],
    threads: usize,
    control: &dyn Control,
) -> Result<Vec<ScoreRow>> {
    let defaults;
    let models = if models.is_empty() {
        defaults = benchmark_models();
        defaults.as_slice()
    } else {
        models
    };
    // Check every name and parameter before any work.
    let params: Vec<SimParams> = scenarios
        .iter()
        .map(|name| {
            let p = SimParams { people, seed, ..SimParams::scenario(name)? };
            p.validate()?;
            Ok(p)
        })
        .collect::<Result<_>>()?;
    for m in models {
        m.model().validate()?;
    }
    let mut rows = Vec::new();
    for p in &params {
        let sim = simulate_with(p, threads, control)?;
        let attribution = attribute_with(&sim.journeys, models, Dimension::Channel, control)?;
        rows.extend(score(&attribution, &sim));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spearman_uses_average_ranks_for_ties() {
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0], &[1.0]), None);
        // Ranks (1.5, 1.5, 3) and (1, 2, 3): r = 1.5 / sqrt(1.5 * 2).
        let r = spearman(&[0.0, 0.0, 5.0], &[1.0, 2.0, 3.0]).unwrap();
        approx::assert_relative_eq!(r, 1.5 / 3f64.sqrt(), epsilon = 1e-15);
        approx::assert_relative_eq!(total_variation(&[0.5, 0.5, 0.0], &[0.2, 0.3, 0.5]), 0.5);
    }

    proptest! {
        #[test]
        fn spearman_is_bounded_and_symmetric(xs in proptest::collection::vec(0.0f64..10.0, 2..12), shift in 0.0f64..5.0) {
            let ys: Vec<f64> = xs.iter().rev().map(|x| (x * 3.0).round()).collect();
            if let Some(r) = spearman(&xs, &ys) {
                prop_assert!((-1.0 - 1e-12..=1.0 + 1e-12).contains(&r));
                prop_assert_eq!(Some(r), spearman(&ys, &xs));
            }
            let moved: Vec<f64> = xs.iter().map(|x| x + shift).collect();
            if spearman(&xs, &xs).is_some() {
                prop_assert!((spearman(&xs, &moved).unwrap() - 1.0).abs() < 1e-12);
            }
        }
    }
}
