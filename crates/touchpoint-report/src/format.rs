//! Numbers and text as the page shows them.

/// `x` with `decimals` decimals and a comma between thousands (`12,345.6`); `-` for a non-finite
/// number. The browser test parses what this writes back (`python/tests/test_report.py`).
pub fn number(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "-".to_owned();
    }
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    // -0.0 after rounding shows as 0.
    let negative = x < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    let sign = if negative { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// How many decimals a count or amount of this size shows: none from 100 up, one below.
pub fn decimals_for(x: f64) -> usize {
    if x.abs() >= 100.0 || x == 0.0 {
        0
    } else {
        1
    }
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_thousands_and_round() {
        assert_eq!(number(1234567.891, 1), "1,234,567.9");
        assert_eq!(number(999.5, 0), "1,000");
        assert_eq!(number(-1234.0, 0), "-1,234");
        assert_eq!(number(-0.04, 1), "0.0");
        assert_eq!(number(12.0, 2), "12.00");
        assert_eq!(number(f64::NAN, 1), "-");
        assert_eq!(number(100.0, 0), "100");
    }
}
