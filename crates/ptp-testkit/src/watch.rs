//! Watch plumbing: recorded events, per-watch filters (resource, namespace, selectors) with the
//! API server's transition rules, and the newline-delimited JSON rendering.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::selector::{FieldSelector, LabelSelector};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the history.
#[derive(Debug)]
pub struct Record {
    pub rv: u64,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub kind: EventType,
    /// The object after the change (for deletes: the deleted object).
    pub object: Arc<Value>,
    /// The object before the change (modifications only).
    pub old: Option<Arc<Value>>,
}

/// What a watch stream carries.
#[derive(Debug, Clone)]
pub enum WatchItem {
    Event(EventType, Arc<Value>),
    Bookmark {
        rv: u64,
        initial_events_end: bool,
    },
    /// An ERROR event carrying a Status (e.g. 410 Expired); the stream ends after it.
    Error(Value),
}

/// Which events a watch wants.
#[derive(Debug, Clone)]
pub struct Filter {
    pub group: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches_object(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    /// The event this watch sees for a record, if any: objects moving into the selector appear
    /// as ADDED, objects moving out as DELETED, as the real watch cache does.
    pub fn translate(&self, record: &Record) -> Option<WatchItem> {
        if record.group != self.group || record.plural != self.plural {
            return None;
        }
        if self.namespace.as_deref().is_some_and(|ns| ns != record.namespace) {
            return None;
        }
        let now = self.matches_object(&record.object);
        match (record.kind, &record.old) {
            (EventType::Modified, Some(old)) => {
                let before = self.matches_object(old);
                match (before, now) {
                    (true, true) => Some(WatchItem::Event(EventType::Modified, record.object.clone())),
                    (false, true) => Some(WatchItem::Event(EventType::Added, record.object.clone())),
                    (true, false) => Some(WatchItem::Event(EventType::Deleted, record.object.clone())),
                    (false, false) => None,
                }
            }
            (kind, _) => now.then(|| WatchItem::Event(kind, record.object.clone())),
        }
    }
}

/// A registered watch.
#[derive(Debug)]
pub struct Watcher {
    pub filter: Filter,
    pub bookmarks: bool,
    pub tx: mpsc::UnboundedSender<WatchItem>,
}

/// Renders one watch item as a line of the watch stream; `api_version`/`kind` are those the
/// client asked for.
pub fn render(item: &WatchItem, api_version: &str, kind: &str) -> Vec<u8> {
    let value = match item {
        WatchItem::Event(t, object) => {
            if object.get("apiVersion").and_then(Value::as_str) == Some(api_version) {
                let mut out = br#"{"type":""#.to_vec();
                out.extend_from_slice(t.as_str().as_bytes());
                out.extend_from_slice(br#"","object":"#);
                if serde_json::to_writer(&mut out, object.as_ref()).is_err() {
                    return Vec::new();
                }
                out.extend_from_slice(b"}\n");
                return out;
            }
            let mut object = object.as_ref().clone();
            object["apiVersion"] = json!(api_version);
            json!({"type": t.as_str(), "object": object})
        }
        WatchItem::Bookmark { rv, initial_events_end } => {
            let mut metadata = json!({"resourceVersion": rv.to_string()});
            if *initial_events_end {
                metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": metadata}})
        }
        WatchItem::Error(status) => json!({"type": "ERROR", "object": status}),
    };
    let mut out = serde_json::to_vec(&value).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(labels: &str) -> Filter {
        Filter {
            group: String::new(),
            plural: "configmaps".into(),
            namespace: Some("ns".into()),
            labels: LabelSelector::parse(labels).unwrap(),
            fields: FieldSelector::default(),
        }
    }

    fn record(kind: EventType, labels_now: Value, labels_before: Option<Value>) -> Record {
        let obj = |l: Value| Arc::new(json!({"metadata": {"name": "a", "namespace": "ns", "labels": l}}));
        Record {
            rv: 2,
            group: String::new(),
            plural: "configmaps".into(),
            namespace: "ns".into(),
            kind,
            object: obj(labels_now),
            old: labels_before.map(obj),
        }
    }

    fn kind_of(item: Option<WatchItem>) -> Option<EventType> {
        match item {
            Some(WatchItem::Event(t, _)) => Some(t),
            _ => None,
        }
    }

    #[test]
    fn selector_transitions() {
        let f = filter("app=x");
        let on = json!({"app": "x"});
        let off = json!({"app": "y"});
        assert_eq!(
            kind_of(f.translate(&record(EventType::Modified, on.clone(), Some(off.clone())))),
            Some(EventType::Added)
        );
        assert_eq!(
            kind_of(f.translate(&record(EventType::Modified, off.clone(), Some(on.clone())))),
            Some(EventType::Deleted)
        );
        assert_eq!(
            kind_of(f.translate(&record(EventType::Modified, on.clone(), Some(on.clone())))),
            Some(EventType::Modified)
        );
        assert_eq!(kind_of(f.translate(&record(EventType::Modified, off.clone(), Some(off)))), None);
        assert_eq!(kind_of(f.translate(&record(EventType::Added, on, None))), Some(EventType::Added));
    }

    #[test]
    fn other_namespace_or_resource_is_invisible() {
        let mut f = filter("");
        f.namespace = Some("other".into());
        assert!(f.translate(&record(EventType::Added, json!({}), None)).is_none());
        f.namespace = None;
        f.plural = "pods".into();
        assert!(f.translate(&record(EventType::Added, json!({}), None)).is_none());
    }

    #[test]
    fn renders_bookmarks_kube_can_parse() {
        let line = render(&WatchItem::Bookmark { rv: 7, initial_events_end: true }, "v1", "ConfigMap");
        let ev: kube::core::WatchEvent<k8s_openapi::api::core::v1::ConfigMap> = serde_json::from_slice(&line).unwrap();
        match ev {
            kube::core::WatchEvent::Bookmark(b) => {
                assert_eq!(b.metadata.resource_version, "7");
                assert!(b.metadata.annotations.contains_key("k8s.io/initial-events-end"));
            }
            other => panic!("{other:?}"),
        }
    }
}
