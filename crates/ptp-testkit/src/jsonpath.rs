//! The "simple JSON path" subset that CRD printer columns use: `.a.b`, `['a.b']`, `[N]`, `[*]`
//! and filters `[?(@.path=="value")]`. Evaluation returns every match in document order; the
//! table converter, like the real one, shows only the first.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    /// `[?(@.path=="value")]` (also `!=`).
    Filter {
        path: Vec<Step>,
        value: String,
        equal: bool,
    },
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

/// Why a path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JSON path {path:?} at byte {at}: {why}")]
pub struct PathError {
    pub path: String,
    pub at: usize,
    pub why: &'static str,
}

impl JsonPath {
    /// Parses `.status.conditions[?(@.type=="Ready")].status`; a `{...}` wrapper is accepted.
    pub fn parse(path: &str) -> Result<JsonPath, PathError> {
        let text = path.trim();
        let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
        let err = |at: usize, why| PathError { path: path.to_string(), at, why };
        let (steps, rest) = parse_steps(text, 0).map_err(|(at, why)| err(at, why))?;
        if rest != text.len() {
            return Err(err(rest, "unexpected character"));
        }
        Ok(JsonPath { steps })
    }

    /// Every value the path reaches, in order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        eval(&self.steps, root)
    }
}

fn parse_steps(text: &str, mut i: usize) -> Result<(Vec<Step>, usize), (usize, &'static str)> {
    let bytes = text.as_bytes();
    let mut steps = Vec::new();
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                let start = i + 1;
                let end = text[start..].find(['.', '[', ']', '=', '!', ')', ' ']).map_or(text.len(), |n| start + n);
                if end == start {
                    return Err((i, "empty field name"));
                }
                steps.push(Step::Field(text[start..end].to_string()));
                i = end;
            }
            b'[' => {
                let close = text[i..].find(']').map(|n| i + n).ok_or((i, "unclosed ["))?;
                let inner = &text[i + 1..close];
                if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                    steps.push(parse_filter(filter).ok_or((i, "filter must be @.path==\"value\""))?);
                } else if inner == "*" {
                    steps.push(Step::All);
                } else if let Some(quoted) = unquote(inner) {
                    steps.push(Step::Field(quoted.to_string()));
                } else {
                    steps.push(Step::Index(inner.parse().map_err(|_| (i, "index must be a number, * or a filter"))?));
                }
                i = close + 1;
            }
            _ => break,
        }
    }
    Ok((steps, i))
}

fn unquote(s: &str) -> Option<&str> {
    s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).or_else(|| s.strip_prefix('"')?.strip_suffix('"'))
}

fn parse_filter(filter: &str) -> Option<Step> {
    let (lhs, rhs, equal) = match filter.split_once("!=") {
        Some((l, r)) => (l, r, false),
        None => filter.split_once("==").map(|(l, r)| (l, r, true))?,
    };
    let lhs = lhs.trim().strip_prefix('@')?;
    let (path, rest) = parse_steps(lhs, 0).ok()?;
    if rest != lhs.len() || path.is_empty() {
        return None;
    }
    let value = unquote(rhs.trim()).unwrap_or(rhs.trim()).to_string();
    Some(Step::Filter { path, value, equal })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn eval<'a>(steps: &[Step], root: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            match step {
                Step::Field(name) => next.extend(v.get(name.as_str())),
                Step::Index(n) => next.extend(v.as_array().and_then(|a| a.get(*n))),
                Step::All => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(o) => next.extend(o.values()),
                    _ => {}
                },
                Step::Filter { path, value, equal } => {
                    let items: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        Value::Object(o) => o.values().collect(),
                        _ => vec![],
                    };
                    next.extend(items.into_iter().filter(|item| {
                        let hit = eval(path, item).first().and_then(|x| scalar_text(x)).is_some_and(|t| &t == value);
                        hit == *equal
                    }));
                }
            }
        }
        current = next;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, v: &Value) -> Vec<Value> {
        JsonPath::parse(path).unwrap().find(v).into_iter().cloned().collect()
    }

    #[test]
    fn fields_indexes_wildcards_and_filters() {
        let v = json!({"spec": {"profile": [{"name": "a"}, {"name": "b"}]},
            "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Valid", "status": "True"}],
                       "n": 3, "list": ["x", "y"]},
            "metadata": {"labels": {"a.b/c": "d"}}});
        assert_eq!(find(".status.n", &v), vec![json!(3)]);
        assert_eq!(find("{.status.n}", &v), vec![json!(3)]);
        assert_eq!(find(".spec.profile[*].name", &v), vec![json!("a"), json!("b")]);
        assert_eq!(find(".spec.profile[1].name", &v), vec![json!("b")]);
        assert_eq!(find(".status.list", &v), vec![json!(["x", "y"])]);
        assert_eq!(find(".status.conditions[?(@.type==\"Valid\")].status", &v), vec![json!("True")]);
        assert_eq!(find(".status.conditions[?(@.type!='Valid')].status", &v), vec![json!("False")]);
        assert_eq!(find(".metadata.labels['a.b/c']", &v), vec![json!("d")]);
        assert!(find(".status.missing.deeper", &v).is_empty());
        assert!(find(".spec.profile[7].name", &v).is_empty());
    }

    #[test]
    fn bad_paths_name_the_position() {
        for (path, at) in [(".a[", 2), (".a[x]", 2), ("..a", 0), (".a]", 2), (".a[?(@==1)]", 2)] {
            let e = JsonPath::parse(path).unwrap_err();
            assert_eq!(e.at, at, "{path}: {e}");
            assert!(e.to_string().contains(path));
        }
    }
}
