//! Label selectors as `kubectl` writes them (`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
//! `k notin (a,b)`), for choosing the nodes that run the agent.

use std::collections::BTreeMap;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// All requirements must hold; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

impl LabelSelector {
    /// Parses a selector; errors name the bad term.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_term(term)?);
        }
        Ok(LabelSelector(requirements))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
        })
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

fn parse_term(term: &str) -> Result<Requirement, String> {
    let bad = || format!("invalid label selector term {term:?}");
    let key_ok = |k: &str| !k.is_empty() && !k.contains(char::is_whitespace);
    if let Some(key) = term.strip_prefix('!') {
        let key = key.trim();
        return if key_ok(key) { Ok(Requirement::NotExists(key.to_string())) } else { Err(bad()) };
    }
    for (op, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((key, set)) = term.split_once(op) {
            let set = set.trim().strip_prefix('(').and_then(|s| s.strip_suffix(')')).ok_or_else(bad)?;
            let values: Vec<String> = set.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
            let key = key.trim().to_string();
            if !key_ok(&key) || values.is_empty() {
                return Err(bad());
            }
            return Ok(if negated { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
        }
    }
    for (op, negated) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = term.split_once(op) {
            let (key, value) = (key.trim().to_string(), value.trim().to_string());
            if !key_ok(&key) || value.contains(char::is_whitespace) {
                return Err(bad());
            }
            return Ok(if negated { Requirement::NotEquals(key, value) } else { Requirement::Equals(key, value) });
        }
    }
    if key_ok(term) { Ok(Requirement::Exists(term.to_string())) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_and_matches_every_form() {
        let linux = labels(&[("kubernetes.io/os", "linux"), ("zone", "a")]);
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
        ] {
            let s = LabelSelector::parse(selector).unwrap();
            assert_eq!(s.matches(&linux), on_linux, "{selector} on linux");
            assert_eq!(s.matches(&windows), on_windows, "{selector} on windows");
        }
    }

    #[test]
    fn rejects_malformed_terms() {
        for bad in ["a b", "x in a,b", "x in ()", "=v", "!", "k=v w"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }
}
