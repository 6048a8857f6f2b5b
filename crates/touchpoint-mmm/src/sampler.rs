//! Posterior draws by NUTS (the `nuts-rs` crate: the sampler behind nutpie, with its diagonal
//! mass-matrix and step-size adaptation), several chains on threads; and the posterior mode by
//! L-BFGS (Nocedal & Wright 2006, "Numerical Optimization", algorithm 7.4, with a backtracking
//! Armijo line search).
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nuts_rs::rand::{Rng, SeedableRng};
use nuts_rs::{
    Chain, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, HasDims, LogpError, LowRankNutsSettings,
    Settings,
};
use touchpoint_core::Control;
use touchpoint_util::rng::SplitMix64;

use crate::error::{Error, Result};
use crate::posterior::{Posterior, Scratch};

/// A point where the density is not finite: the sampler treats it as a divergence.
#[derive(Debug, thiserror::Error)]
#[error("the log density is not finite here")]
pub(crate) struct NotFinite;

impl LogpError for NotFinite {
    fn is_recoverable(&self) -> bool {
        true
    }
}

struct Density {
    post: Arc<Posterior>,
    scratch: Scratch,
}

impl HasDims for Density {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([
            ("unconstrained_parameter".to_string(), self.post.dim() as u64),
            ("dim".to_string(), self.post.dim() as u64),
        ])
    }
}

impl CpuLogpFunc for Density {
    type LogpError = NotFinite;
    type FlowParameters = ();
    type ExpandedVector = Vec<f64>;

    fn dim(&self) -> usize {
        self.post.dim()
    }

    fn logp(&mut self, position: &[f64], grad: &mut [f64]) -> std::result::Result<f64, NotFinite> {
        self.post.logp(position, grad, &mut self.scratch).ok_or(NotFinite)
    }

    fn expand_vector<R>(&mut self, _rng: &mut R, array: &[f64]) -> std::result::Result<Vec<f64>, CpuMathError>
    where
        R: Rng + ?Sized,
    {
        Ok(array.to_vec())
    }
}

/// The draws of one chain (unconstrained parameters, one vector per draw after tuning) and its
/// divergences after tuning.
#[derive(Clone, Debug)]
pub(crate) struct ChainDraws {
    pub draws: Vec<Vec<f64>>,
    pub divergences: u64,
    pub step_size: f64,
}

/// Settings of a NUTS run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NutsRun {
    pub chains: usize,
    pub tune: u64,
    pub draws: u64,
    pub seed: u64,
    pub threads: usize,
    pub max_depth: u64,
    pub low_rank: bool,
    pub gradient_mass_matrix: bool,
    pub target_accept: f64,
}

fn one_chain(
    post: &Arc<Posterior>,
    run: &NutsRun,
    chain: usize,
    start: &[f64],
    done: &AtomicU64,
    stop: &AtomicBool,
) -> Result<ChainDraws> {
    // The two adaptations have different settings types with the same fields.
    macro_rules! run_with {
        ($settings:expr) => {{
            let mut settings = $settings;
            settings.num_tune = run.tune;
            settings.num_draws = run.draws;
            settings.num_chains = run.chains;
            settings.seed = run.seed;
            settings.maxdepth = run.max_depth;
            settings.adapt_options.step_size_settings.target_accept = run.target_accept;
            chain_with(settings, post, run, chain, start, done, stop)
        }};
    }
    if run.low_rank {
        let settings = LowRankNutsSettings::default();
        run_with!(settings)
    } else {
        // The diagonal from the draws' variances (Stan's and PyMC's windowed estimate) by default,
        // or from the draws' and the gradients' (nutpie's `sqrt(var(x) / var(grad))`).
        let mut settings = DiagNutsSettings::default();
        settings.adapt_options.mass_matrix_options.use_grad_based_estimate = run.gradient_mass_matrix;
        run_with!(settings)
    }
}

fn chain_with<S: Settings>(
    settings: S,
    post: &Arc<Posterior>,
    run: &NutsRun,
    chain: usize,
    start: &[f64],
    done: &AtomicU64,
    stop: &AtomicBool,
) -> Result<ChainDraws> {
    let math = CpuMath::new(Density { post: post.clone(), scratch: post.scratch() });
    let mut rng = nuts_rs::rand::rngs::ChaCha8Rng::seed_from_u64(
        SplitMix64::new(run.seed ^ (chain as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64(),
    );
    let sampler_err = |reason: String| Error::Sampler { chain: chain as u64, reason };
    let mut ch = settings.new_chain(chain as u64, math, &mut rng).map_err(|e| sampler_err(e.to_string()))?;
    ch.set_position(start).map_err(|e| sampler_err(format!("cannot start at the initial point: {e}")))?;
    let mut out =
        ChainDraws { draws: Vec::with_capacity(run.draws as usize), divergences: 0, step_size: f64::NAN };
    for _ in 0..run.tune + run.draws {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let (pos, progress) = ch.draw().map_err(|e| sampler_err(e.to_string()))?;
        if !progress.tuning {
            out.draws.push(pos.to_vec());
            if progress.diverging {
                out.divergences += 1;
            }
            out.step_size = progress.step_size;
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(out)
}

/// Starting points: each chain at `centre` plus a uniform jitter in [-1, 1] per coordinate (as
/// PyMC's `jitter+adapt_diag` initialisation), drawn from the seed; a jittered point whose density
/// is not finite is drawn again (then the centre is used).
pub(crate) fn starts(post: &Posterior, centre: &[f64], chains: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_57A7);
    let mut sc = post.scratch();
    let mut g = vec![0.0; centre.len()];
    (0..chains)
        .map(|_| {
            for _ in 0..20 {
                let p: Vec<f64> = centre.iter().map(|c| c + 2.0 * rng.next_f64() - 1.0).collect();
                if post.logp(&p, &mut g, &mut sc).is_some() {
                    return p;
                }
            }
            centre.to_vec()
        })
        .collect()
}

/// Runs the chains on up to `run.threads` threads; the calling thread reports progress and polls
/// `control` every 50 ms. Chain `k`'s draws depend only on the seed and `k`, not on the threads.
pub(crate) fn nuts(
    post: Arc<Posterior>,
    run: NutsRun,
    starts: &[Vec<f64>],
    control: &dyn Control,
) -> Result<Vec<ChainDraws>> {
    let total = (run.tune + run.draws) * run.chains as u64;
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<Option<Result<ChainDraws>>>> = Mutex::new((0..run.chains).map(|_| None).collect());
    let finished = AtomicU64::new(0);
    let workers = run.threads.clamp(1, run.chains.max(1));
    let mut interrupted = false;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                if k >= run.chains {
                    break;
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    one_chain(&post, &run, k, &starts[k], &done, &stop)
                }))
                .unwrap_or_else(|_| {
                    Err(Error::Sampler { chain: k as u64, reason: "the sampler panicked".into() })
                });
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(r);
                finished.fetch_add(1, Ordering::Relaxed);
            });
        }
        loop {
            control.progress("nuts", done.load(Ordering::Relaxed), total);
            if finished.load(Ordering::Relaxed) as usize >= run.chains || stop.load(Ordering::Relaxed) {
                break;
            }
            if control.checkpoint().is_err() {
                interrupted = true;
                stop.store(true, Ordering::Relaxed);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    if interrupted {
        return Err(Error::Interrupted);
    }
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(run.chains);
    let mut first_err = None;
    for r in results {
        match r {
            Some(Ok(c)) => out.push(c),
            Some(Err(e)) => {
                // An interrupt seen by one worker because another failed is not the cause.
                if first_err.is_none() || matches!(first_err, Some(Error::Interrupted)) {
                    first_err = Some(e);
                }
            }
            None => first_err = first_err.or(Some(Error::Interrupted)),
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The posterior mode by L-BFGS (memory 10) on the negative log density, from `start`. Converged
/// when the gradient's largest component is below `tol`, or when an iteration lowers the objective by
/// less than 1e-10 of its size (scipy's `ftol` criterion: the Laplace prior on the seasonality has a
/// kink at 0 where the gradient never vanishes); stops after `max_iter` iterations. Returns the point,
/// its log density and whether it converged. `jacobian`: maximise the density of the unconstrained
/// parameters (a start for NUTS) or, without the log-Jacobians, of the natural ones (the MAP).
/// Checks `control` every 64 iterations.
pub(crate) fn map(
    post: &Posterior,
    start: &[f64],
    max_iter: usize,
    tol: f64,
    jacobian: bool,
    control: &dyn Control,
) -> Result<(Vec<f64>, f64, bool)> {
    let n = start.len();
    let mut sc = post.scratch();
    let mut x = start.to_vec();
    let mut g = vec![0.0; n];
    let Some(mut f) = post.logp_with(&x, &mut g, &mut sc, jacobian).map(|v| -v) else {
        return Err(Error::Optimiser {
            reason: "the log density is not finite at the starting point".into(),
        });
    };
    g.iter_mut().for_each(|v| *v = -*v);
    let mem = 10;
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut g_new = vec![0.0; n];
    for iter in 0..max_iter {
        if iter % 64 == 63 {
            control.checkpoint()?;
        }
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < tol {
            return Ok((x, -f, true));
        }
        // Two-loop recursion for the direction -H g.
        let mut q = g.clone();
        let k = s_hist.len();
        let mut alphas = vec![0.0; k];
        for i in (0..k).rev() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            alphas[i] = rho * dot(&s_hist[i], &q);
            for (qj, yj) in q.iter_mut().zip(&y_hist[i]) {
                *qj -= alphas[i] * yj;
            }
        }
        let gamma = if k > 0 {
            dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1])
        } else {
            1e-2
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for i in 0..k {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            let beta = rho * dot(&y_hist[i], &q);
            for (qj, sj) in q.iter_mut().zip(&s_hist[i]) {
                *qj += sj * (alphas[i] - beta);
            }
        }
        let mut dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &dir);
        if slope >= 0.0 {
            dir = g.iter().map(|v| -v).collect();
            slope = dot(&g, &dir);
            s_hist.clear();
            y_hist.clear();
        }
        // Backtracking line search (Armijo, c = 1e-4).
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let xn: Vec<f64> = x.iter().zip(&dir).map(|(a, d)| a + step * d).collect();
            if let Some(v) = post.logp_with(&xn, &mut g_new, &mut sc, jacobian) {
                let fn_ = -v;
                if fn_ <= f + 1e-4 * step * slope {
                    accepted = Some((xn, fn_));
                    break;
                }
            }
            step *= 0.5;
        }
        let Some((xn, fn_)) = accepted else {
            // No progress along the direction: at the mode to floating-point precision.
            return Ok((x, -f, g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < tol.sqrt()));
        };
        g_new.iter_mut().for_each(|v| *v = -*v);
        // Only a full quasi-Newton step that barely lowers the objective says "converged"; a step that
        // backtracking shrank says nothing about stationarity.
        let small_decrease = step == 1.0 && f - fn_ <= 1e-10 * f.abs().max(1.0);
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        if dot(&s, &y) > 1e-12 {
            if s_hist.len() == mem {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        x = xn;
        f = fn_;
        g.copy_from_slice(&g_new);
        if small_decrease {
            return Ok((x, -f, true));
        }
    }
    let converged = g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < tol;
    Ok((x, -f, converged))
}
