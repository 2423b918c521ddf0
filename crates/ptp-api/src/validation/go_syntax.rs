//! The few Go standard-library parsers whose exact acceptance the Go operator's checks relied
//! on: `strconv.ParseUint` (no sign, no prefix) and `time.ParseDuration`.

/// `strconv.ParseUint(s, base, bits)` for base 10 or 16: digits only, no sign, no `0x`, no `_`.
pub fn parse_go_uint(s: &str, base: u32, bits: u32) -> Option<u64> {
    if s.is_empty() || !s.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    let value = u64::from_str_radix(s, base).ok()?;
    (bits >= 64 || value < (1u64 << bits)).then_some(value)
}

/// `time.ParseDuration`: an optional sign and a sequence of decimal numbers with units
/// (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), or `0`. Returns nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return None;
        }
        let value: f64 = format!("{}.{}", if int_part.is_empty() { "0" } else { int_part }, frac_part)
            .trim_end_matches('.')
            .parse()
            .ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let nanos = total as i128;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_accepts_only_plain_digits_in_range() {
        assert_eq!(parse_go_uint("42", 10, 32), Some(42));
        assert_eq!(parse_go_uint("4294967295", 10, 32), Some(u32::MAX as u64));
        assert_eq!(parse_go_uint("4294967296", 10, 32), None);
        for bad in ["", "+1", "-1", "0x10", "1_000", " 1", "1.0"] {
            assert_eq!(parse_go_uint(bad, 10, 32), None, "{bad:?}");
        }
        assert_eq!(parse_go_uint("ffffffffffffffff", 16, 64), Some(u64::MAX));
        assert_eq!(parse_go_uint("10000000000000000", 16, 64), None);
        assert_eq!(parse_go_uint("0x1f", 16, 64), None);
    }

    #[test]
    fn durations_follow_go_grammar() {
        assert_eq!(parse_go_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration(".5ms"), Some(500_000));
        assert_eq!(parse_go_duration("-2us"), Some(-2_000));
        assert_eq!(parse_go_duration("3µs"), Some(3_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        for bad in ["", "30", "s", "1x", "1.2.3s", ".s", "+", "1s 2s", "30 s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
