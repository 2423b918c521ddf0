//! Label selectors (equality- and set-based) and field selectors, parsed from their query-string
//! form and matched against JSON objects. Pure.

use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Exists,
    NotExists,
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::Exists, v) => v.is_some(),
            (Op::NotExists, v) => v.is_none(),
            (Op::Eq(want), Some(v)) => v == want,
            (Op::Eq(_), None) => false,
            // `!=` and `notin` match objects without the label, as in Kubernetes.
            (Op::NotEq(want), v) => v != Some(want.as_str()),
            (Op::In(set), Some(v)) => set.iter().any(|s| s == v),
            (Op::In(_), None) => false,
            (Op::NotIn(set), v) => v.is_none_or(|v| !set.iter().any(|s| s == v)),
            (Op::Gt(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v > *n),
            (Op::Lt(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v < *n),
            (Op::Gt(_) | Op::Lt(_), None) => false,
        }
    }
}

/// A parsed `labelSelector`; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_set(rest: &str, original: &str) -> Result<Vec<String>> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| Error::BadRequest(format!("unable to parse requirement: {original}: expected (values)")))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 317
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_requirement(raw: &str) -> Result<Requirement> {
    let s = raw.trim();
    let bad = |why: &str| Error::BadRequest(format!("unable to parse requirement: {s}: {why}"));
    if let Some(key) = s.strip_prefix('!') {
        let key = key.trim();
        return if valid_key(key) {
            Ok(Requirement { key: key.into(), op: Op::NotExists })
        } else {
            Err(bad("invalid key"))
        };
    }
    // Set-based: `key in (...)`, `key notin (...)`.
    let words: Vec<&str> = s.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let rest = words[1].trim_start();
        if let Some(set) = rest.strip_prefix("notin") {
            return Ok(Requirement { key: words[0].into(), op: Op::NotIn(parse_set(set, s)?) });
        }
        if let Some(set) = rest.strip_prefix("in") {
            return Ok(Requirement { key: words[0].into(), op: Op::In(parse_set(set, s)?) });
        }
    }
    for (token, make) in [
        ("!=", (|v: String| Ok(Op::NotEq(v))) as fn(String) -> Result<Op>),
        ("==", |v| Ok(Op::Eq(v))),
        ("=", |v| Ok(Op::Eq(v))),
        (">", |v: String| v.parse().map(Op::Gt).map_err(|_| Error::BadRequest(format!("{v}: not an integer")))),
        ("<", |v: String| v.parse().map(Op::Lt).map_err(|_| Error::BadRequest(format!("{v}: not an integer")))),
    ] {
        if let Some((key, value)) = s.split_once(token) {
            let key = key.trim();
            if !valid_key(key) {
                return Err(bad("invalid key"));
            }
            return Ok(Requirement { key: key.into(), op: make(value.trim().to_string())? });
        }
    }
    if valid_key(s) { Ok(Requirement { key: s.into(), op: Op::Exists }) } else { Err(bad("invalid key")) }
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
    pub fn parse(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Ok(LabelSelector::default());
        }
        split_top_level(s).into_iter().map(parse_requirement).collect::<Result<Vec<_>>>().map(LabelSelector)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        self.0.iter().all(|r| r.matches(labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str)))
    }
}

/// A parsed `fieldSelector`: `path=value`, `path==value`, `path!=value`, comma-separated.
/// Any dotted path is accepted (`metadata.name`, `metadata.namespace`, `spec.nodeName`, ...);
/// a missing field compares as the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Ok(FieldSelector::default());
        }
        s.split(',')
            .map(|part| {
                let part = part.trim();
                let (path, equal, value) = if let Some((p, v)) = part.split_once("!=") {
                    (p, false, v)
                } else if let Some((p, v)) = part.split_once("==") {
                    (p, true, v)
                } else if let Some((p, v)) = part.split_once('=') {
                    (p, true, v)
                } else {
                    return Err(Error::BadRequest(format!("invalid selector: '{part}'; can't understand '{part}'")));
                };
                Ok((path.trim().to_string(), equal, value.trim().to_string()))
            })
            .collect::<Result<Vec<_>>>()
            .map(FieldSelector)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, equal, want)| {
            let found = path.split('.').try_fold(object, |v, k| v.get(k));
            let actual = match found {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *want) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "n1", "namespace": "ns1", "labels": labels}, "spec": {"nodeName": "w1"}})
    }

    fn sel(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap()
    }

    #[test]
    fn equality_and_inequality() {
        let o = obj(json!({"app": "ptp", "tier": "agent"}));
        assert!(sel("app=ptp").matches(&o));
        assert!(sel("app==ptp,tier=agent").matches(&o));
        assert!(!sel("app=other").matches(&o));
        assert!(sel("app!=other").matches(&o));
        assert!(!sel("app!=ptp").matches(&o));
        assert!(sel("missing!=x").matches(&o), "!= matches objects without the label");
    }

    #[test]
    fn set_based() {
        let o = obj(json!({"env": "prod"}));
        assert!(sel("env in (prod, staging)").matches(&o));
        assert!(!sel("env in (dev)").matches(&o));
        assert!(sel("env notin (dev,qa)").matches(&o));
        assert!(!sel("env notin (prod)").matches(&o));
        assert!(sel("other notin (prod)").matches(&o));
        assert!(sel("env").matches(&o));
        assert!(!sel("!env").matches(&o));
        assert!(sel("!other").matches(&o));
        assert!(sel("env in (prod,x),!other,env").matches(&o));
    }

    #[test]
    fn numeric_and_empty() {
        let o = obj(json!({"n": "5"}));
        assert!(sel("n>3").matches(&o));
        assert!(!sel("n<3").matches(&o));
        assert!(sel("").matches(&o));
        assert!(sel("").is_empty());
        assert!(LabelSelector::parse("env in prod").is_err());
        assert!(LabelSelector::parse("a b c=d").is_err());
    }

    #[test]
    fn no_labels_at_all() {
        let o = json!({"metadata": {"name": "x"}});
        assert!(!sel("app").matches(&o));
        assert!(sel("!app").matches(&o));
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        let f = |s: &str| FieldSelector::parse(s).unwrap().matches(&o);
        assert!(f("metadata.name=n1"));
        assert!(f("metadata.name==n1,metadata.namespace=ns1"));
        assert!(!f("metadata.name=n2"));
        assert!(f("metadata.name!=n2"));
        assert!(f("spec.nodeName=w1"));
        assert!(f("spec.missing="));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
