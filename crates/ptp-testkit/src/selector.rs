//! Label selectors (equality- and set-based) and field selectors, parsed from their query-string
//! form and matched against JSON objects. Pure.

use serde_json::Value;

use crate::error::{Error, Result};

/// A parsed `labelSelector` ([`ptp_api::selector`], the project's one parser), matched against
/// an object's `metadata.labels`; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(ptp_api::selector::LabelSelector);

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k,n>1`.
    pub fn parse(s: &str) -> Result<Self> {
        ptp_api::selector::LabelSelector::parse(s).map(LabelSelector).map_err(Error::BadRequest)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        self.0.matches_with(|key| labels.and_then(|l| l.get(key)).and_then(Value::as_str))
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
