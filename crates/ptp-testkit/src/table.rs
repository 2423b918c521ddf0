//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for
//! (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), built like the real API server's
//! converter for custom resources: a `Name` column, then the CRD's `additionalPrinterColumns`,
//! each showing the first match of its path; `date` cells become ages (`5m3s`).

use serde_json::{Value, json};

use crate::jsonpath::JsonPath;

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: Option<String>,
    pub description: Option<String>,
    pub priority: i32,
    pub path: JsonPath,
    pub json_path: String,
}

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn from_query(value: Option<&str>) -> IncludeObject {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Whether an `Accept` header asks for a table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
}

/// The table of `items` (one for a get, all for a list) at `now` (seconds since the epoch).
pub fn to_table(
    columns: &[PrinterColumn],
    items: &[&Value],
    resource_version: &str,
    include: IncludeObject,
    now: i64,
) -> Value {
    let mut definitions = vec![json!({"name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace.", "priority": 0})];
    for c in columns {
        let description = c
            .description
            .clone()
            .unwrap_or_else(|| format!("Custom resource definition column (in JSONPath format): {}", c.json_path));
        definitions.push(json!({"name": c.name, "type": c.type_, "format": c.format.clone().unwrap_or_default(),
            "description": description, "priority": c.priority}));
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut cells = vec![item.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            cells.extend(columns.iter().map(|c| cell(c, item, now)));
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": item.get("metadata").cloned().unwrap_or(Value::Null)});
                }
                IncludeObject::Object => row["object"] = (*item).clone(),
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions, "rows": rows})
}

fn cell(column: &PrinterColumn, item: &Value, now: i64) -> Value {
    let Some(value) = column.path.find(item).into_iter().next() else { return Value::Null };
    match (column.type_.as_str(), value) {
        (_, Value::Null) => Value::Null,
        // Go's jsonpath prints strings as they are and anything else as JSON.
        ("string", Value::String(s)) => json!(s),
        ("string", other) => json!(other.to_string()),
        ("integer", Value::Number(n)) => {
            n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).map_or(Value::Null, |i| json!(i))
        }
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => match s.parse::<k8s_openapi::jiff::Timestamp>() {
            Ok(t) => json!(human_duration(now - t.as_second())),
            Err(_) => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

/// An age as kubectl shows it: `45s`, `3m20s`, `15m`, `5h10m`, `20h`, `3d4h`, `40d`, `2y30d`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let s = seconds.max(0);
    let (minutes, hours) = (s / 60, s / 3600);
    let (days, years) = (hours / 24, hours / 24 / 365);
    let pair = |big: i64, unit: &str, small: i64, small_unit: &str| {
        if small == 0 { format!("{big}{unit}") } else { format!("{big}{unit}{small}{small_unit}") }
    };
    if s < 120 {
        format!("{s}s")
    } else if minutes < 10 {
        pair(minutes, "m", s % 60, "s")
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        pair(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        pair(days, "d", hours % 24, "h")
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        pair(years, "y", days % 365, "d")
    } else {
        format!("{years}y")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_: &str, path: &str) -> PrinterColumn {
        PrinterColumn {
            name: name.into(),
            type_: type_.into(),
            format: None,
            description: None,
            priority: 0,
            path: JsonPath::parse(path).unwrap(),
            json_path: path.into(),
        }
    }

    #[test]
    fn cells_follow_the_column_types_and_show_the_first_match() {
        let now = "2026-01-01T01:00:00Z".parse::<k8s_openapi::jiff::Timestamp>().unwrap().as_second();
        let item = json!({"metadata": {"name": "n1", "creationTimestamp": "2026-01-01T00:55:00Z"},
            "spec": {"profile": [{"name": "a"}, {"name": "b"}]},
            "status": {"count": 2.0, "list": ["a", "b"], "state": "LOCKED"}});
        let columns = [
            column("First", "string", ".spec.profile[*].name"),
            column("List", "string", ".status.list"),
            column("Count", "integer", ".status.count"),
            column("State", "string", ".status.state"),
            column("Missing", "integer", ".status.offset"),
            column("Age", "date", ".metadata.creationTimestamp"),
        ];
        let table = to_table(&columns, &[&item], "7", IncludeObject::Metadata, now);
        assert_eq!(table["rows"][0]["cells"], json!(["n1", "a", "[\"a\",\"b\"]", 2, "LOCKED", null, "5m"]));
        assert_eq!(table["columnDefinitions"][0]["format"], "name");
        assert_eq!(table["columnDefinitions"].as_array().unwrap().len(), 7);
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(table["metadata"]["resourceVersion"], "7");
        let bare = to_table(&columns, &[&item], "7", IncludeObject::None, now);
        assert!(bare["rows"][0].get("object").is_none());
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (900, "15m"),
            (3 * 3600 + 600, "3h10m"),
            (20 * 3600, "20h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (40 * 86400, "40d"),
            (2 * 365 * 86400 + 30 * 86400, "2y30d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (s, want) in cases {
            assert_eq!(human_duration(s), want, "{s} s");
        }
        assert!(wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
        assert!(!wants_table("application/json"));
    }
}
