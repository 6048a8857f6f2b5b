//! Charts as inline SVG, drawn here: bars with interval whiskers, and response curves with their
//! band. Every chart carries its axis title with units, and ticks at "nice" numbers (1, 2 or 5 times
//! a power of ten; Heckbert 1990, "Nice numbers for graph labels", Graphics Gems).

use std::fmt::Write;

use crate::format::{escape, number};

/// An element id made of `[A-Za-z0-9_-]` only (names from the data go into ids).
pub fn safe_id(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// One bar: a label, the value and its interval.
#[derive(Clone, Debug)]
pub struct Bar {
    /// Shown left of the bar.
    pub label: String,
    /// Length of the bar.
    pub value: f64,
    /// Whisker ends, when the value has an interval.
    pub interval: Option<(f64, f64)>,
}

/// Ticks from `lo` to at least `hi`: about `n` steps of a nice size.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let mut out = Vec::new();
    let mut k = 0;
    loop {
        let t = first + k as f64 * step;
        // Snap away the binary noise of k * step (0.30000000000000004): round to the step's decimals.
        let scale = 10f64.powi((-step.log10().floor()).max(0.0) as i32);
        let t = (t * scale).round() / scale;
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        if t >= hi - step * 1e-9 || k > 100 {
            break;
        }
        k += 1;
    }
    out
}

/// A horizontal bar chart: one row per bar, whiskers for intervals, a value axis titled `axis`.
pub fn bars(bars: &[Bar], axis: &str, id: &str) -> String {
    let id = safe_id(id);
    let label_w = 150.0;
    let plot_w = 440.0;
    let row_h = 26.0;
    let top = 10.0;
    let h = top + row_h * bars.len() as f64 + 50.0;
    let w = label_w + plot_w + 30.0;
    let lo = bars.iter().map(|b| b.interval.map_or(b.value, |i| i.0.min(b.value))).fold(0.0, f64::min);
    let hi = bars.iter().map(|b| b.interval.map_or(b.value, |i| i.1.max(b.value))).fold(0.0, f64::max);
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    let ticks = nice_ticks(lo, hi, 5);
    let (t0, t1) = (ticks[0], *ticks.last().unwrap_or(&hi));
    let x = |v: f64| label_w + (v - t0) / (t1 - t0) * plot_w;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" id="{id}" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">"#
    );
    let axis_y = top + row_h * bars.len() as f64;
    for t in &ticks {
        let tx = x(*t);
        let _ = write!(
            s,
            r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{top}" y2="{axis_y}" stroke="#e3e3e3"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
            axis_y + 16.0,
            number(*t, tick_decimals(&ticks))
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let (a, z) = (x(0f64.max(t0)), x(b.value));
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#222">{}</text><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#3b6ea5"><title>{}: {}</title></rect>"##,
            label_w - 8.0,
            y + row_h * 0.62,
            escape(&b.label),
            a.min(z),
            y + 5.0,
            (z - a).abs(),
            row_h - 10.0,
            escape(&b.label),
            number(b.value, 1)
        );
        if let Some((l, u)) = b.interval {
            let (xl, xu, ym) = (x(l), x(u), y + row_h / 2.0);
            let _ = write!(
                s,
                r##"<line x1="{xl:.1}" x2="{xu:.1}" y1="{ym:.1}" y2="{ym:.1}" stroke="#111" stroke-width="1.5"/><line x1="{xl:.1}" x2="{xl:.1}" y1="{:.1}" y2="{:.1}" stroke="#111"/><line x1="{xu:.1}" x2="{xu:.1}" y1="{:.1}" y2="{:.1}" stroke="#111"/>"##,
                ym - 5.0,
                ym + 5.0,
                ym - 5.0,
                ym + 5.0
            );
        }
    }
    let _ = write!(
        s,
        r##"<line x1="{label_w}" x2="{:.1}" y1="{axis_y}" y2="{axis_y}" stroke="#888"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">{}</text></svg>"##,
        label_w + plot_w,
        label_w + plot_w / 2.0,
        axis_y + 38.0,
        escape(axis)
    );
    s
}

fn tick_decimals(ticks: &[f64]) -> usize {
    let step = if ticks.len() > 1 { (ticks[1] - ticks[0]).abs() } else { 1.0 };
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

/// A response curve: the mean per level, the interval band, the level of an average period and the
/// largest observed level (right of it the curve is an extrapolation, shaded).
#[derive(Clone, Debug)]
pub struct Curve {
    /// Channel name, the chart's title.
    pub channel: String,
    /// Levels (spend or activity per period).
    pub x: Vec<f64>,
    /// Mean response per period at each level.
    pub mean: Vec<f64>,
    /// Interval of the response, when the fit has draws.
    pub band: Option<Vec<(f64, f64)>>,
    /// The mean observed level per period.
    pub current: f64,
    /// The largest observed level.
    pub observed_max: f64,
}

/// A response curve chart titled by channel, with axes `x_axis` and `y_axis`.
pub fn curve(c: &Curve, x_axis: &str, y_axis: &str, id: &str) -> String {
    let id = safe_id(id);
    let (left, top, pw, ph) = (64.0, 26.0, 300.0, 170.0);
    let (w, h) = (left + pw + 20.0, top + ph + 50.0);
    // A channel that never moved (all zero) still gets an axis from 0 to 1.
    let positive = |m: f64| if m.is_finite() && m > 0.0 { m } else { 1.0 };
    let xmax = positive(c.x.iter().copied().fold(0.0, f64::max));
    let ymax = positive(
        c.band
            .as_ref()
            .map_or(0.0, |b| b.iter().map(|p| p.1).fold(0.0, f64::max))
            .max(c.mean.iter().copied().fold(0.0, f64::max)),
    );
    let xt = nice_ticks(0.0, xmax, 4);
    let yt = nice_ticks(0.0, ymax, 4);
    let (x1, y1) = (*xt.last().unwrap_or(&xmax), *yt.last().unwrap_or(&ymax));
    let px = |v: f64| left + v / x1 * pw;
    let py = |v: f64| top + ph - v / y1 * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" id="{id}" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">"#
    );
    let _ = write!(
        s,
        r##"<text x="{left}" y="14" font-size="13" font-weight="600" fill="#222">{}</text>"##,
        escape(&c.channel)
    );
    // Beyond the largest observed level: extrapolation.
    if c.observed_max < x1 {
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{top}" width="{:.1}" height="{ph}" fill="#f3efe6"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#8a6d3b">extrapolation</text>"##,
            px(c.observed_max),
            px(x1) - px(c.observed_max),
            left + pw - 4.0,
            top + 12.0
        );
    }
    for t in &xt {
        let _ = write!(
            s,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{top}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
            px(*t),
            px(*t),
            top + ph,
            px(*t),
            top + ph + 14.0,
            number(*t, tick_decimals(&xt))
        );
    }
    for t in &yt {
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{}</text>"##,
            left + pw,
            py(*t),
            py(*t),
            left - 6.0,
            py(*t) + 4.0,
            number(*t, tick_decimals(&yt))
        );
    }
    if let Some(band) = &c.band {
        let mut pts: Vec<String> =
            c.x.iter().zip(band).map(|(x, b)| format!("{:.1},{:.1}", px(*x), py(b.1))).collect();
        pts.extend(c.x.iter().zip(band).rev().map(|(x, b)| format!("{:.1},{:.1}", px(*x), py(b.0))));
        let _ = write!(s, r##"<polygon points="{}" fill="#3b6ea5" fill-opacity="0.2"/>"##, pts.join(" "));
    }
    let line: Vec<String> =
        c.x.iter().zip(&c.mean).map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
    let _ = write!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#3b6ea5" stroke-width="2"/>"##,
        line.join(" ")
    );
    let _ = write!(
        s,
        r##"<line x1="{0:.1}" x2="{0:.1}" y1="{top}" y2="{1:.1}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="{2:.1}" y="{3:.1}" fill="#c0392b">average period</text>"##,
        px(c.current),
        top + ph,
        px(c.current) + 3.0,
        top + 26.0
    );
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#888"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">{}</text><text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" fill="#222">{}</text></svg>"##,
        left + pw,
        top + ph,
        top + ph,
        left + pw / 2.0,
        top + ph + 34.0,
        escape(x_axis),
        top + ph / 2.0,
        escape(y_axis)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 95.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(nice_ticks(0.0, 0.3, 3), vec![0.0, 0.1, 0.2, 0.3]);
        let t = nice_ticks(-12.0, 1234.0, 5);
        assert!(t[0] <= -12.0 && *t.last().unwrap() >= 1234.0, "{t:?}");
        assert!(t.windows(2).all(|w| (w[1] - w[0] - 500.0).abs() < 1e-9), "{t:?}");
    }

    #[test]
    fn a_flat_curve_and_hostile_ids_stay_well_formed() {
        let c = Curve {
            channel: "x\" onload=\"alert(1)".into(),
            x: vec![0.0, 0.0],
            mean: vec![0.0, 0.0],
            band: Some(vec![(0.0, 0.0), (0.0, 0.0)]),
            current: 0.0,
            observed_max: 0.0,
        };
        let s = curve(&c, "x", "y", "curve-\"><script>");
        assert!(
            !s.contains("NaN") && !s.contains("inf") && !s.contains("<script") && !s.contains("onload=\""),
            "{s}"
        );
        assert!(s.contains("id=\"curve-___script_\""));
        let b = bars(&[Bar { label: "a".into(), value: 0.0, interval: None }], "v", "k\"x");
        assert!(b.contains("id=\"k_x\"") && !b.contains("NaN"));
    }

    #[test]
    fn bars_escape_labels_and_draw_one_rect_per_bar() {
        let b = vec![
            Bar { label: "<a&b>".into(), value: 10.0, interval: Some((8.0, 12.0)) },
            Bar { label: "c".into(), value: 5.0, interval: None },
        ];
        let s = bars(&b, "value ($)", "x");
        assert_eq!(s.matches("<rect").count(), 2);
        assert!(s.contains("&lt;a&amp;b&gt;") && !s.contains("<a&b>"));
        assert!(s.contains("value ($)"));
    }
}
