//! The log posterior density of the media-mix model on its unconstrained parameters, with its
//! gradient written by hand (tested against finite differences).
//!
//! Positive parameters are sampled on the log scale and (0, 1) parameters on the logit scale; the
//! log-Jacobians of those maps are part of the density. Constants that do not depend on the
//! parameters are left out.
use crate::spec::{Design, Layout, MediaMix, Saturation};

/// The parameters of one draw, on their natural scales (the scaled model's units).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Intercept.
    pub intercept: f64,
    /// Noise standard deviation.
    pub sigma: f64,
    /// Trend slope over the whole series (0 without a trend).
    pub trend: f64,
    /// Fourier coefficients: sin then cos of each order.
    pub fourier: Vec<f64>,
    /// Control coefficients.
    pub controls: Vec<f64>,
    /// Per channel: coefficient, adstock decay, and the saturation parameters (`lam`, or `ec` and
    /// the slope).
    pub channels: Vec<ChannelParams>,
}

/// One channel's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelParams {
    /// Coefficient.
    pub beta: f64,
    /// Geometric adstock decay.
    pub alpha: f64,
    /// Logistic `lam`, or the Hill half-saturation point.
    pub lam: f64,
    /// Hill slope (1 for the logistic curve, unused).
    pub slope: f64,
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// The normalised geometric adstock weights `alpha^l / sum_m alpha^m`, `l < max_lag`, and their
/// derivatives in `alpha`.
#[cfg(test)]
pub(crate) fn adstock_weights(alpha: f64, max_lag: usize, w: &mut [f64], dw: &mut [f64]) {
    let mut s = 0.0;
    let mut ds = 0.0;
    let mut p = 1.0; // alpha^l
    let mut dp = 0.0; // l alpha^(l-1)
    for l in 0..max_lag {
        w[l] = p;
        dw[l] = dp;
        s += p;
        ds += dp;
        dp = (l + 1) as f64 * p;
        p *= alpha;
    }
    for l in 0..max_lag {
        dw[l] = (dw[l] * s - w[l] * ds) / (s * s);
        w[l] /= s;
    }
}

/// Adstock of `x` with weights `w`: `a_t = sum_l w_l x_(t-l)`, periods before the first taken as 0.
#[cfg(test)]
pub(crate) fn convolve(x: &[f64], w: &[f64], out: &mut [f64]) {
    for t in 0..x.len() {
        let mut acc = 0.0;
        for (l, wl) in w.iter().enumerate().take(t + 1) {
            acc += wl * x[t - l];
        }
        out[t] = acc;
    }
}

/// Normalised geometric adstock of `x` and its derivative in `alpha`, in O(T) rather than
/// O(T max_lag) of the convolution with the normalised weights: with `A_t = sum_(l<L) alpha^l x_(t-l)`, `A_t = x_t + alpha A_(t-1) - alpha^L x_(t-L)`
/// and `A'_t = A_(t-1) + alpha A'_(t-1) - L alpha^(L-1) x_(t-L)`; then `a_t = A_t / S` with
/// `S = sum_(l<L) alpha^l`, `a'_t = (A'_t S - A_t S') / S^2`. Equal to the convolution with
/// the weights up to rounding (tested against it).
pub(crate) fn adstock_recursive(x: &[f64], alpha: f64, max_lag: usize, a: &mut [f64], da: &mut [f64]) {
    let (mut s, mut ds, mut p, mut dp) = (0.0, 0.0, 1.0, 0.0);
    for l in 0..max_lag {
        s += p;
        ds += dp;
        dp = (l + 1) as f64 * p;
        p *= alpha;
    }
    // Here p = alpha^L and dp = L alpha^(L-1).
    let (mut big, mut dbig) = (0.0, 0.0);
    for t in 0..x.len() {
        let old = if t >= max_lag { x[t - max_lag] } else { 0.0 };
        dbig = big + alpha * dbig - dp * old;
        big = x[t] + alpha * big - p * old;
        a[t] = big / s;
        da[t] = (dbig * s - big * ds) / (s * s);
    }
}

/// The saturation `s(a)` and its derivatives in `a`, in the first parameter's log and in the
/// second's log (Hill slope; 0 for the logistic curve).
#[inline]
pub(crate) fn saturate(kind: Saturation, a: f64, p1: f64, p2: f64) -> (f64, f64, f64, f64) {
    match kind {
        Saturation::Logistic => {
            // (1 - e^(-lam a)) / (1 + e^(-lam a)) = tanh(lam a / 2); lam a >= 0, so e is in (0, 1]
            // and one exp is cheaper than tanh.
            let e = (-p1 * a).exp();
            let s = (1.0 - e) / (1.0 + e);
            let d = 0.5 * (1.0 - s * s);
            (s, p1 * d, p1 * a * d, 0.0)
        }
        Saturation::Hill => {
            if a <= 0.0 {
                return (0.0, 0.0, 0.0, 0.0);
            }
            let lr = a.ln() - p1.ln();
            let u = (p2 * lr).exp();
            let s = if u.is_finite() { u / (1.0 + u) } else { 1.0 };
            let ss = s * (1.0 - s);
            (s, p2 * ss / a, -p2 * ss, p2 * ss * lr)
        }
    }
}

/// The posterior of one model on one design.
#[derive(Clone, Debug)]
pub(crate) struct Posterior {
    pub model: MediaMix,
    pub design: Design,
    pub layout: Layout,
    beta_sigma: Vec<f64>,
}

/// Scratch buffers for one evaluation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    mu: Vec<f64>,
    resid: Vec<f64>,
    a: Vec<f64>,
    da: Vec<f64>,
    s: Vec<Vec<f64>>,
    ds_da: Vec<Vec<f64>>,
    ds_dp1: Vec<Vec<f64>>,
    ds_dp2: Vec<Vec<f64>>,
    da_dalpha: Vec<Vec<f64>>,
}

impl Posterior {
    pub fn new(model: MediaMix, design: Design) -> Posterior {
        let layout = Layout::new(&model);
        let beta_sigma = model
            .channels
            .iter()
            .map(|c| model.priors.beta_by_channel.get(&c.name).map_or(model.priors.beta.sigma, |p| p.sigma))
            .collect();
        Posterior { model, design, layout, beta_sigma }
    }

    pub fn dim(&self) -> usize {
        self.layout.dim
    }

    pub fn scratch(&self) -> Scratch {
        let t = self.design.t;
        let c = self.model.channels.len();
        Scratch {
            mu: vec![0.0; t],
            resid: vec![0.0; t],
            a: vec![0.0; t],
            da: vec![0.0; t],
            s: vec![vec![0.0; t]; c],
            ds_da: vec![vec![0.0; t]; c],
            ds_dp1: vec![vec![0.0; t]; c],
            ds_dp2: vec![vec![0.0; t]; c],
            da_dalpha: vec![vec![0.0; t]; c],
        }
    }

    /// `ln beta` of the channel block at `o`. With the logistic curve a block starts with
    /// `ln(beta lam)` rather than `ln beta`: where a channel is far from saturation only the product
    /// (its initial slope) is identified, and sampling the product and `lam` apart takes the ridge
    /// away from the sampler.
    #[inline]
    fn log_beta(&self, theta: &[f64], o: usize) -> f64 {
        match self.model.saturation {
            Saturation::Logistic => theta[o] - theta[o + 2],
            Saturation::Hill => theta[o],
        }
    }

    /// The natural-scale parameters of an unconstrained vector.
    pub fn params(&self, theta: &[f64]) -> Params {
        let lay = &self.layout;
        let channels = (0..self.model.channels.len())
            .map(|c| {
                let o = lay.channel(c);
                ChannelParams {
                    beta: self.log_beta(theta, o).exp(),
                    alpha: sigmoid(theta[o + 1]),
                    lam: theta[o + 2].exp(),
                    slope: if self.model.saturation == Saturation::Hill { theta[o + 3].exp() } else { 1.0 },
                }
            })
            .collect();
        Params {
            intercept: theta[0],
            sigma: theta[1].exp(),
            trend: lay.trend.map_or(0.0, |i| theta[i]),
            fourier: theta[lay.fourier..lay.fourier + lay.n_fourier].to_vec(),
            controls: theta[lay.controls..lay.controls + lay.n_controls].to_vec(),
            channels,
        }
    }

    /// The saturated, adstocked series of channel `c` (scaled units), into `s`.
    pub fn channel_curve(&self, c: usize, p: &ChannelParams, scale: f64, s: &mut [f64]) {
        let t = self.design.t;
        let (mut a, mut da) = (vec![0.0; t], vec![0.0; t]);
        adstock_recursive(&self.design.x[c], p.alpha, self.model.max_lag, &mut a, &mut da);
        // The adstock is linear: scaling the channel scales it.
        for (st, at) in s.iter_mut().zip(&a) {
            *st = saturate(self.model.saturation, at * scale, p.lam, p.slope).0;
        }
    }

    /// Log posterior density (up to a constant) at `theta`, with its gradient in `grad`. Returns
    /// `None` where the density is not finite.
    pub fn logp(&self, theta: &[f64], grad: &mut [f64], sc: &mut Scratch) -> Option<f64> {
        self.logp_with(theta, grad, sc, true)
    }

    /// [`Posterior::logp`], with the log-Jacobians of the transforms or without them. Without, its
    /// maximum is the mode of the parameters on their natural scales (what PyMC's `find_MAP`
    /// computes); with, the density that NUTS samples on the unconstrained scale.
    pub fn logp_with(
        &self,
        theta: &[f64],
        grad: &mut [f64],
        sc: &mut Scratch,
        jacobian: bool,
    ) -> Option<f64> {
        let jac = if jacobian { 1.0 } else { 0.0 };
        let m = &self.model;
        let d = &self.design;
        let lay = &self.layout;
        let pr = &m.priors;
        let t = d.t;
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut lp = 0.0;

        // Priors (with the log-Jacobians of the transforms).
        let b0 = theta[0];
        lp += -0.5 * ((b0 - pr.intercept.mu) / pr.intercept.sigma).powi(2);
        grad[0] += -(b0 - pr.intercept.mu) / (pr.intercept.sigma * pr.intercept.sigma);
        let log_sigma = theta[1];
        let sigma = log_sigma.exp();
        lp += -0.5 * (sigma / pr.noise.sigma).powi(2) + jac * log_sigma;
        grad[1] += -(sigma * sigma) / (pr.noise.sigma * pr.noise.sigma) + jac;
        if let Some(i) = lay.trend {
            let v = theta[i];
            lp += -0.5 * ((v - pr.trend.mu) / pr.trend.sigma).powi(2);
            grad[i] += -(v - pr.trend.mu) / (pr.trend.sigma * pr.trend.sigma);
        }
        for j in 0..lay.n_fourier {
            let i = lay.fourier + j;
            let v = theta[i] - pr.seasonality.mu;
            lp += -v.abs() / pr.seasonality.b;
            grad[i] += -v.signum() / pr.seasonality.b * if v == 0.0 { 0.0 } else { 1.0 };
        }
        for k in 0..lay.n_controls {
            let i = lay.controls + k;
            let v = theta[i];
            lp += -0.5 * ((v - pr.control.mu) / pr.control.sigma).powi(2);
            grad[i] += -(v - pr.control.mu) / (pr.control.sigma * pr.control.sigma);
        }
        for c in 0..m.channels.len() {
            let o = lay.channel(c);
            let log_beta = self.log_beta(theta, o);
            let beta = log_beta.exp();
            let bs = self.beta_sigma[c];
            lp += -0.5 * (beta / bs).powi(2) + jac * log_beta;
            grad[o] += -(beta * beta) / (bs * bs) + jac;
            let alpha = sigmoid(theta[o + 1]);
            // Beta(a, b) on alpha with the logit Jacobian alpha (1 - alpha): a ln alpha + b ln(1 - alpha).
            // ln alpha = -softplus(-u) and ln(1 - alpha) = -softplus(u), exact far into the tails.
            let (ea, eb) = (pr.adstock.alpha - 1.0 + jac, pr.adstock.beta - 1.0 + jac);
            let u = theta[o + 1];
            lp += -ea * softplus(-u) - eb * softplus(u);
            grad[o + 1] += ea * (1.0 - alpha) - eb * alpha;
            match m.saturation {
                Saturation::Logistic => {
                    // Gamma(a, rate b) on lam with the log Jacobian: a u - b e^u.
                    let u = theta[o + 2];
                    lp += (pr.lam.alpha - 1.0 + jac) * u - pr.lam.beta * u.exp();
                    grad[o + 2] += pr.lam.alpha - 1.0 + jac - pr.lam.beta * u.exp();
                }
                Saturation::Hill => {
                    for (i, p) in [(o + 2, pr.hill_ec), (o + 3, pr.hill_slope)] {
                        let v = theta[i] - p.mu;
                        lp += -0.5 * (v / p.sigma).powi(2) - (1.0 - jac) * theta[i];
                        grad[i] += -v / (p.sigma * p.sigma) - (1.0 - jac);
                    }
                }
            }
        }

        // Mean.
        sc.mu.iter_mut().for_each(|v| *v = b0);
        if let Some(i) = lay.trend {
            for (mu, tr) in sc.mu.iter_mut().zip(&d.trend) {
                *mu += theta[i] * tr;
            }
        }
        for j in 0..lay.n_fourier {
            let coef = theta[lay.fourier + j];
            for (mu, f) in sc.mu.iter_mut().zip(&d.fourier[j]) {
                *mu += coef * f;
            }
        }
        for k in 0..lay.n_controls {
            let coef = theta[lay.controls + k];
            for (mu, z) in sc.mu.iter_mut().zip(&d.z[k]) {
                *mu += coef * z;
            }
        }
        let l = m.max_lag;
        for c in 0..m.channels.len() {
            let o = lay.channel(c);
            let beta = self.log_beta(theta, o).exp();
            let alpha = sigmoid(theta[o + 1]);
            let p1 = theta[o + 2].exp();
            let p2 = if m.saturation == Saturation::Hill { theta[o + 3].exp() } else { 1.0 };
            adstock_recursive(&d.x[c], alpha, l, &mut sc.a, &mut sc.da);
            for i in 0..t {
                let (s, ds_da, ds_dp1, ds_dp2) = saturate(m.saturation, sc.a[i], p1, p2);
                sc.s[c][i] = s;
                sc.ds_da[c][i] = ds_da;
                sc.ds_dp1[c][i] = ds_dp1;
                sc.ds_dp2[c][i] = ds_dp2;
                sc.da_dalpha[c][i] = sc.da[i];
                sc.mu[i] += beta * s;
            }
        }

        // Likelihood: y_t ~ Normal(mu_t, sigma).
        let inv_var = 1.0 / (sigma * sigma);
        let mut sse = 0.0;
        for i in 0..t {
            let e = d.y[i] - sc.mu[i];
            sse += e * e;
            sc.resid[i] = e * inv_var;
        }
        lp += -(t as f64) * log_sigma - 0.5 * sse * inv_var;
        grad[1] += -(t as f64) + sse * inv_var;
        grad[0] += sc.resid.iter().sum::<f64>();
        if let Some(i) = lay.trend {
            grad[i] += sc.resid.iter().zip(&d.trend).map(|(r, x)| r * x).sum::<f64>();
        }
        for j in 0..lay.n_fourier {
            grad[lay.fourier + j] += sc.resid.iter().zip(&d.fourier[j]).map(|(r, x)| r * x).sum::<f64>();
        }
        for k in 0..lay.n_controls {
            grad[lay.controls + k] += sc.resid.iter().zip(&d.z[k]).map(|(r, x)| r * x).sum::<f64>();
        }
        for c in 0..m.channels.len() {
            let o = lay.channel(c);
            let beta = self.log_beta(theta, o).exp();
            let alpha = sigmoid(theta[o + 1]);
            let (mut gb, mut ga, mut g1, mut g2) = (0.0, 0.0, 0.0, 0.0);
            for i in 0..t {
                let r = sc.resid[i];
                gb += r * sc.s[c][i];
                ga += r * sc.ds_da[c][i] * sc.da_dalpha[c][i];
                g1 += r * sc.ds_dp1[c][i];
                g2 += r * sc.ds_dp2[c][i];
            }
            grad[o] += gb * beta;
            grad[o + 1] += beta * ga * alpha * (1.0 - alpha);
            grad[o + 2] += beta * g1;
            if m.saturation == Saturation::Hill {
                grad[o + 3] += beta * g2;
            }
        }

        // Lift measurements: delta_y ~ Normal(beta (s(x + dx) - s(x)), sigma), at steady state (the
        // normalised adstock of a constant level is that level).
        for lift in &d.lifts {
            let o = lay.channel(lift.channel);
            let beta = self.log_beta(theta, o).exp();
            let p1 = theta[o + 2].exp();
            let p2 = if m.saturation == Saturation::Hill { theta[o + 3].exp() } else { 1.0 };
            let (s0, _, d01, d02) = saturate(m.saturation, lift.x, p1, p2);
            let (s1, _, d11, d12) = saturate(m.saturation, lift.x + lift.delta_x, p1, p2);
            let model_lift = beta * (s1 - s0);
            let e = (lift.delta_y - model_lift) / (lift.sigma * lift.sigma);
            lp += -0.5 * (lift.delta_y - model_lift).powi(2) / (lift.sigma * lift.sigma);
            grad[o] += e * model_lift;
            grad[o + 2] += e * beta * (d11 - d01);
            if m.saturation == Saturation::Hill {
                grad[o + 3] += e * beta * (d12 - d02);
            }
        }

        // The logistic blocks are sampled as (ln(beta lam), logit alpha, ln lam): with ln beta =
        // u0 - u2, d/du2 = d/d(ln lam) - d/d(ln beta). A linear map, so no Jacobian term.
        if m.saturation == Saturation::Logistic {
            for c in 0..m.channels.len() {
                let o = lay.channel(c);
                grad[o + 2] -= grad[o];
            }
        }

        if lp.is_finite() && grad.iter().all(|g| g.is_finite()) {
            Some(lp)
        } else {
            None
        }
    }

    /// A starting point at the centre of the priors: the intercept at the target's mean, the noise
    /// at its standard deviation, channel coefficients at half their prior scale, decays and
    /// saturations at their prior medians, the rest at 0.
    pub fn centre(&self) -> Vec<f64> {
        let m = &self.model;
        let d = &self.design;
        let lay = &self.layout;
        let pr = &m.priors;
        let mut th = vec![0.0; lay.dim];
        let mean = d.y.iter().sum::<f64>() / d.t as f64;
        let var = d.y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.t as f64;
        th[0] = mean;
        th[1] = var.sqrt().max(1e-3).ln();
        for c in 0..m.channels.len() {
            let o = lay.channel(c);
            th[o] = (0.5 * self.beta_sigma[c]).ln();
            if m.saturation == Saturation::Logistic {
                th[o] += (pr.lam.alpha / pr.lam.beta).ln();
            }
            let a = pr.adstock.alpha / (pr.adstock.alpha + pr.adstock.beta);
            th[o + 1] = (a / (1.0 - a)).ln();
            match m.saturation {
                Saturation::Logistic => th[o + 2] = (pr.lam.alpha / pr.lam.beta).ln(),
                Saturation::Hill => {
                    th[o + 2] = pr.hill_ec.mu;
                    th[o + 3] = pr.hill_slope.mu;
                }
            }
        }
        th
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adstock_weights_are_normalised_geometric_with_exact_derivatives() {
        let (mut w, mut dw) = (vec![0.0; 4], vec![0.0; 4]);
        adstock_weights(0.5, 4, &mut w, &mut dw);
        // 1, 0.5, 0.25, 0.125 over 1.875.
        for (l, expect) in [1.0, 0.5, 0.25, 0.125].iter().enumerate() {
            assert!((w[l] - expect / 1.875).abs() < 1e-15);
        }
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let h = 1e-6;
        let (mut wp, mut wm, mut scratch) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
        adstock_weights(0.5 + h, 4, &mut wp, &mut scratch);
        adstock_weights(0.5 - h, 4, &mut wm, &mut scratch);
        for l in 0..4 {
            assert!((dw[l] - (wp[l] - wm[l]) / (2.0 * h)).abs() < 1e-8, "lag {l}");
        }
    }

    #[test]
    fn recursive_adstock_equals_the_convolution() {
        let x: Vec<f64> = (0..50).map(|i| ((i * 7919) % 13) as f64 / 13.0).collect();
        for (alpha, lag) in [(0.3, 8), (0.9, 4), (0.01, 1), (0.6, 60)] {
            let (mut w, mut dw) = (vec![0.0; lag], vec![0.0; lag]);
            adstock_weights(alpha, lag, &mut w, &mut dw);
            let (mut a1, mut da1, mut a2, mut da2) =
                (vec![0.0; 50], vec![0.0; 50], vec![0.0; 50], vec![0.0; 50]);
            convolve(&x, &w, &mut a1);
            convolve(&x, &dw, &mut da1);
            adstock_recursive(&x, alpha, lag, &mut a2, &mut da2);
            for t in 0..50 {
                assert!((a1[t] - a2[t]).abs() < 1e-12, "alpha {alpha} lag {lag} t {t}");
                assert!(
                    (da1[t] - da2[t]).abs() < 1e-10,
                    "alpha {alpha} lag {lag} t {t}: {} {}",
                    da1[t],
                    da2[t]
                );
            }
        }
    }

    #[test]
    fn convolution_by_hand() {
        let x = [1.0, 0.0, 2.0, 0.0];
        let w = [0.5, 0.3, 0.2];
        let mut a = [0.0; 4];
        convolve(&x, &w, &mut a);
        // a0 = .5, a1 = .3, a2 = .2 + 1.0 = 1.2, a3 = .6
        for (got, want) in a.iter().zip([0.5, 0.3, 1.2, 0.6]) {
            assert!((got - want).abs() < 1e-15);
        }
    }

    #[test]
    fn saturations_match_their_formulas() {
        let (lam, a) = (3.0f64, 0.4f64);
        let e = (-lam * a).exp();
        assert!((saturate(Saturation::Logistic, a, lam, 1.0).0 - (1.0 - e) / (1.0 + e)).abs() < 1e-15);
        let (ec, s) = (0.5f64, 1.7f64);
        let want = a.powf(s) / (a.powf(s) + ec.powf(s));
        assert!((saturate(Saturation::Hill, a, ec, s).0 - want).abs() < 1e-14);
        assert_eq!(saturate(Saturation::Hill, 0.0, ec, s), (0.0, 0.0, 0.0, 0.0));
    }
}
