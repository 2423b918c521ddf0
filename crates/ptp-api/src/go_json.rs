//! JSON text exactly as Go's `encoding/json` writes it (`json.Marshal`): compact, object keys
//! sorted by bytes, `<` `>` `&` U+2028 U+2029 escaped as `\u003c` `\u003e` `\u0026` `\u2028`
//! `\u2029`, control characters as `\b \f \n \r \t` or `\u00XX`, and floats in Go's layout.

use serde_json::{Number, Value};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a Go-escaped JSON string literal.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            _ => None,
        };
        let needs_hex = matches!(c, '\u{0}'..='\u{1f}' | '<' | '>' | '&');
        if escape.is_none() && !needs_hex {
            continue;
        }
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends any JSON value the way Go marshals the same data read from the API server
/// (`map[string]interface{}` with `int64`/`float64` numbers).
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Integers that fit `int64` print as integers; everything else went through `float64` in Go.
fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&go_float(f));
    }
}

/// Go's `encoding/json` float64 layout: shortest round-trip digits, positional notation for
/// 1e-6 <= |f| < 1e21 (and 0), otherwise `d.ddde±X` with no zero padding of the exponent.
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let abs = f.abs();
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-7", "1e21".
    let sci = format!("{abs:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(1e-6..1e21).contains(&abs) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{exp_sign}{}", exp.abs());
    }
    let positional = if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            format!("{digits}{}", "0".repeat(int_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        }
    } else {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    };
    format!("{sign}{positional}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, v);
        out
    }

    #[test]
    fn escapes_like_go_with_html_escaping() {
        assert_eq!(s("[<synce1>]\n"), r#""[\u003csynce1\u003e]\n""#);
        assert_eq!(s("a&b"), r#""a\u0026b""#);
        assert_eq!(s("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(s("q\"b\\"), r#""q\"b\\""#);
        assert_eq!(s("\u{8}\u{c}\r\t"), r#""\b\f\r\t""#);
        assert_eq!(s("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(s("héllo ✓"), "\"héllo ✓\"");
        assert_eq!(s(""), "\"\"");
    }

    #[test]
    fn objects_are_compact_with_sorted_keys() {
        let mut out = String::new();
        write_value(&mut out, &json!({"b": [1, true, null], "a": {"z": "x", "B": 2.5}, "A": -3}));
        assert_eq!(out, r#"{"A":-3,"a":{"B":2.5,"z":"x"},"b":[1,true,null]}"#);
    }

    #[test]
    fn floats_use_go_layout() {
        for (f, want) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e21, "1e+21"),
            (1.2345678e22, "1.2345678e+22"),
            (123456789012345680000.0, "123456789012345680000"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (0.0, "0"),
        ] {
            assert_eq!(go_float(f), want, "{f:e}");
        }
    }

    #[test]
    fn big_unsigned_numbers_go_through_float64() {
        let mut out = String::new();
        write_value(&mut out, &json!(18446744073709551615u64));
        assert_eq!(out, "18446744073709552000");
    }
}
