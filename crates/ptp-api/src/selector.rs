//! Label selectors as `kubectl` and the API's `labelSelector` parameter write them (`k=v`, `k==v`,
//! `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, `k>1`, `k<1`), parsed and matched. Pure. The
//! operator chooses the nodes that run the agent with one; the test API server filters lists and
//! watches with it.

use std::collections::BTreeMap;

/// What one requirement asks of its key's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Equals(String),
    NotEquals(String),
    Exists,
    NotExists,
    In(Vec<String>),
    NotIn(Vec<String>),
    GreaterThan(i64),
    LessThan(i64),
}

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
}

impl Requirement {
    /// Whether the label value `value` (`None`: no such label) satisfies it; `!=` and `notin`
    /// match objects without the label, as in Kubernetes.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::Exists, v) => v.is_some(),
            (Op::NotExists, v) => v.is_none(),
            (Op::Equals(want), v) => v == Some(want.as_str()),
            (Op::NotEquals(want), v) => v != Some(want.as_str()),
            (Op::In(set), v) => v.is_some_and(|v| set.iter().any(|s| s == v)),
            (Op::NotIn(set), v) => v.is_none_or(|v| !set.iter().any(|s| s == v)),
            (Op::GreaterThan(n), v) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
            (Op::LessThan(n), v) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
        }
    }
}

/// All requirements must hold; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

impl LabelSelector {
    /// Parses a selector; an error names the bad term and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        split_terms(text)
            .into_iter()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(parse_term)
            .collect::<Result<Vec<_>, _>>()
            .map(LabelSelector)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Matches labels read through `label` (key → value).
    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| r.matches(label(&r.key)))
    }
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

/// A label key as Kubernetes allows it: `[prefix/]name` of letters, digits, `-`, `_`, `.`.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 317
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    let bad = |why: &str| format!("invalid label selector term {term:?}: {why}");
    let key_of = |k: &str| {
        let k = k.trim();
        if valid_key(k) { Ok(k.to_string()) } else { Err(bad("invalid key")) }
    };
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement { key: key_of(key)?, op: Op::NotExists });
    }
    for (word, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((key, set)) = term.split_once(word) {
            let set = set
                .trim()
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| bad("expected (values)"))?;
            let values: Vec<String> = set.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
            if values.is_empty() {
                return Err(bad("the set of values is empty"));
            }
            let op = if negated { Op::NotIn(values) } else { Op::In(values) };
            return Ok(Requirement { key: key_of(key)?, op });
        }
    }
    for token in ["!=", "==", "=", ">", "<"] {
        if let Some((key, value)) = term.split_once(token) {
            let value = value.trim();
            if value.contains(char::is_whitespace) {
                return Err(bad("a value has no spaces"));
            }
            let number = || value.parse::<i64>().map_err(|_| bad("not an integer"));
            let op = match token {
                "!=" => Op::NotEquals(value.to_string()),
                ">" => Op::GreaterThan(number()?),
                "<" => Op::LessThan(number()?),
                _ => Op::Equals(value.to_string()),
            };
            return Ok(Requirement { key: key_of(key)?, op });
        }
    }
    Ok(Requirement { key: key_of(term)?, op: Op::Exists })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_and_matches_every_form() {
        let linux = labels(&[("kubernetes.io/os", "linux"), ("zone", "a"), ("n", "5")]);
        let windows = labels(&[("kubernetes.io/os", "windows")]);
        for (selector, on_linux, on_windows) in [
            ("", true, true),
            ("kubernetes.io/os=linux", true, false),
            ("kubernetes.io/os==linux", true, false),
            ("kubernetes.io/os!=linux", false, true),
            ("zone", true, false),
            ("!zone", false, true),
            ("zone in (a, b)", true, false),
            ("zone notin (a)", false, true),
            ("kubernetes.io/os=linux,zone in (b,c)", false, false),
            ("kubernetes.io/os in (linux,windows), !gpu", true, true),
            ("n>3", true, false),
            ("n<3", false, false),
            ("zone!=b", true, true),
        ] {
            let s = LabelSelector::parse(selector).unwrap();
            assert_eq!(s.matches(&linux), on_linux, "{selector} on linux");
            assert_eq!(s.matches(&windows), on_windows, "{selector} on windows");
        }
    }

    #[test]
    fn rejects_malformed_terms_naming_them() {
        for bad in ["a b", "x in a,b", "x in ()", "=v", "!", "k=v w", "env in prod", "a b c=d", "n>x"] {
            let e = LabelSelector::parse(bad).unwrap_err();
            assert!(e.starts_with("invalid label selector term"), "{bad}: {e}");
        }
    }
}
