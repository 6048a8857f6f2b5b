//! Convergence diagnostics of several chains: rank-normalised split R-hat and bulk effective sample
//! size, as defined by Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
//! folding, and localization: an improved R-hat for assessing convergence of MCMC", Bayesian
//! Analysis 16(2) (equations 6-10 and section 3.2 for the rank normalisation; the autocorrelation
//! sum uses Geyer's initial monotone sequence, as Stan and ArviZ do).
use statrs::distribution::{ContinuousCDF, Normal};

/// Splits each chain in two halves (dropping the middle draw of an odd chain).
fn split(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(2 * chains.len());
    for c in chains {
        let half = c.len() / 2;
        out.push(c[..half].to_vec());
        out.push(c[c.len() - half..].to_vec());
    }
    out
}

/// Replaces every draw by the normal quantile of its fractional rank `(r - 3/8) / (S + 1/4)`
/// (average ranks for ties; Blom's offset, eq. 14 of Vehtari et al.).
fn rank_normalise(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut all: Vec<(f64, usize, usize)> = Vec::new();
    for (ci, c) in chains.iter().enumerate() {
        for (i, &v) in c.iter().enumerate() {
            all.push((v, ci, i));
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let s = all.len() as f64;
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    let mut out: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let z = normal.inverse_cdf((rank - 0.375) / (s + 0.25));
        for item in &all[i..=j] {
            out[item.1][item.2] = z;
        }
        i = j + 1;
    }
    out
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)
}

/// Classic R-hat of equal-length chains (eq. 3-4 of Vehtari et al.).
fn rhat_raw(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let b = n * var(&means);
    let w = mean(&chains.iter().map(|c| var(c)).collect::<Vec<_>>());
    if w <= 0.0 {
        return if b <= 0.0 { 1.0 } else { f64::INFINITY };
    }
    let var_plus = (n - 1.0) / n * w + b / n;
    (var_plus / w).sqrt()
}

/// Rank-normalised split R-hat: the larger of the bulk R-hat and the R-hat of the folded draws
/// (`|x - median|`), so both a shifted location and a different spread are caught. NaN with fewer
/// than 4 draws per chain.
pub fn rhat(chains: &[Vec<f64>]) -> f64 {
    if chains.is_empty() || chains.iter().any(|c| c.len() < 4 || c.len() != chains[0].len()) {
        return f64::NAN;
    }
    let sp = split(chains);
    let bulk = rhat_raw(&rank_normalise(&sp));
    let mut all: Vec<f64> = sp.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let med = quantile_sorted(&all, 0.5);
    let folded: Vec<Vec<f64>> = sp.iter().map(|c| c.iter().map(|x| (x - med).abs()).collect()).collect();
    let tail = rhat_raw(&rank_normalise(&folded));
    bulk.max(tail)
}

/// Effective sample size of equal-length chains (eq. 10 of Vehtari et al., Geyer's initial
/// monotone sequence).
fn ess_raw(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len();
    let n = chains[0].len();
    let nf = n as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let vars: Vec<f64> = chains.iter().map(|c| var(c)).collect();
    let w = mean(&vars);
    let b_over_n = var(&means);
    let var_plus = (nf - 1.0) / nf * w + if m > 1 { b_over_n } else { 0.0 };
    if var_plus <= 0.0 || !var_plus.is_finite() {
        return f64::NAN;
    }
    // rho_t = 1 - (W - mean_m(s_m^2 rho_(t,m))) / var_plus, with rho_(t,m) the chain's autocorrelation.
    let acov = |c: &[f64], cm: f64, lag: usize| -> f64 {
        let mut s = 0.0;
        for i in 0..n - lag {
            s += (c[i] - cm) * (c[i + lag] - cm);
        }
        s / nf
    };
    let acov0: Vec<f64> = chains.iter().zip(&means).map(|(c, &cm)| acov(c, cm, 0)).collect();
    let rho = |lag: usize| -> f64 {
        let mut s = 0.0;
        for k in 0..m {
            let r = if acov0[k] > 0.0 { acov(&chains[k], means[k], lag) / acov0[k] } else { 0.0 };
            s += vars[k] * r;
        }
        1.0 - (w - s / m as f64) / var_plus
    };
    let mut tau = -1.0;
    let mut prev = f64::INFINITY;
    let mut lag = 0;
    while lag + 1 < n {
        let mut p = rho(lag) + rho(lag + 1);
        if p < 0.0 {
            break;
        }
        p = p.min(prev);
        prev = p;
        tau += 2.0 * p;
        lag += 2;
    }
    let tau = tau.max(1.0 / (m as f64 * nf).log10().max(1.0));
    m as f64 * nf / tau
}

/// Bulk effective sample size: the ESS of the rank-normalised split chains. NaN with fewer than 4
/// draws per chain.
pub fn ess_bulk(chains: &[Vec<f64>]) -> f64 {
    if chains.is_empty() || chains.iter().any(|c| c.len() < 4 || c.len() != chains[0].len()) {
        return f64::NAN;
    }
    ess_raw(&rank_normalise(&split(chains)))
}

/// Tail effective sample size: the smaller ESS of the indicators `x <= q05` and `x <= q95` on the
/// split chains (Vehtari et al. 2021, section 4.3): how well the 5% and 95% quantiles, the ends of a
/// 90% interval, are estimated. NaN with fewer than 4 draws per chain.
pub fn ess_tail(chains: &[Vec<f64>]) -> f64 {
    if chains.is_empty() || chains.iter().any(|c| c.len() < 4 || c.len() != chains[0].len()) {
        return f64::NAN;
    }
    let sp = split(chains);
    let mut all: Vec<f64> = sp.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let mut out = f64::INFINITY;
    for q in [0.05, 0.95] {
        let cut = quantile_sorted(&all, q);
        let ind: Vec<Vec<f64>> =
            sp.iter().map(|c| c.iter().map(|&x| f64::from(u8::from(x <= cut))).collect()).collect();
        out = out.min(ess_raw(&ind));
    }
    out
}

/// The type-7 quantile of sorted values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}
