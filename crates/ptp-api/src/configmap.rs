//! The `ptp-configmap` value of one node: a JSON array of that node's profiles, byte-identical to
//! what the Go ptp-operator writes (`json.Marshal` of `[]PtpProfile`), and its inverse.
//!
//! Go semantics reproduced here: fields in struct order; `nil` pointers, empty maps and zero
//! `int64` values of `ptpClockThreshold`'s `holdOverTimeout`/`maxOffsetThreshold`/
//! `minOffsetThreshold` (plain `int64` with `omitempty`) are omitted; empty strings are kept.

use serde_json::Value;

use crate::ApiError;
use crate::go_json::{write_string, write_value};
use crate::ptp_config::{ProcessDowntimeThresholds, PtpClockThreshold, PtpProfile};

/// Encodes a node's profiles as the ConfigMap value (`[]` for none).
pub fn encode_node_profiles(profiles: &[PtpProfile]) -> String {
    let mut out = String::with_capacity(64 + profiles.len() * 256);
    out.push('[');
    for (i, profile) in profiles.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_profile(&mut out, profile);
    }
    out.push(']');
    out
}

/// Writes `{` ... `}` with comma handling for fields that may be omitted.
struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }
    fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_string(self.out, key);
        self.out.push(':');
        self.out
    }
    fn string(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            write_string(self.key(key), v);
        }
    }
    fn int(&mut self, key: &str, value: Option<i64>) {
        if let Some(v) = value {
            self.key(key).push_str(&v.to_string());
        }
    }
    fn close(self) {
        self.out.push('}');
    }
}

/// Encodes one profile as a JSON object (an element of the node's array).
pub fn encode_profile(profile: &PtpProfile) -> String {
    let mut out = String::with_capacity(256);
    write_profile(&mut out, profile);
    out
}

/// Joins already-encoded profiles (from [`encode_profile`]) into a node's value.
pub fn join_encoded_profiles<'a>(encoded: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, item) in encoded.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

fn write_profile(out: &mut String, p: &PtpProfile) {
    let mut o = ObjectWriter::open(out);
    o.string("name", Some(&p.name));
    o.string("interface", p.interface.as_deref());
    o.string("ptp4lOpts", p.ptp4l_opts.as_deref());
    o.string("phc2sysOpts", p.phc2sys_opts.as_deref());
    o.string("ts2phcOpts", p.ts2phc_opts.as_deref());
    o.string("synce4lOpts", p.synce4l_opts.as_deref());
    o.string("chronydOpts", p.chronyd_opts.as_deref());
    // Not in the Go API (this operator's extension): absent, nothing is written.
    o.string("timemasterOpts", p.timemaster_opts.as_deref());
    o.string("ptp4lConf", p.ptp4l_conf.as_deref());
    o.string("phc2sysConf", p.phc2sys_conf.as_deref());
    o.string("ts2phcConf", p.ts2phc_conf.as_deref());
    o.string("synce4lConf", p.synce4l_conf.as_deref());
    o.string("chronydConf", p.chronyd_conf.as_deref());
    o.string("timemasterConf", p.timemaster_conf.as_deref());
    o.string("ptpSchedulingPolicy", p.ptp_scheduling_policy.map(super::ptp_config::SchedulingPolicy::as_str));
    o.int("ptpSchedulingPriority", p.ptp_scheduling_priority);
    if let Some(t) = &p.ptp_clock_threshold {
        write_threshold(o.key("ptpClockThreshold"), t);
    }
    if let Some(settings) = p.ptp_settings.as_ref().filter(|m| !m.is_empty()) {
        // BTreeMap iterates in byte order of the keys, as Go sorts map keys.
        let mut m = ObjectWriter::open(o.key("ptpSettings"));
        for (k, v) in settings {
            m.string(k, Some(v));
        }
        m.close();
    }
    if let Some(plugins) = p.plugins.as_ref().filter(|m| !m.is_empty()) {
        let mut m = ObjectWriter::open(o.key("plugins"));
        for (k, v) in plugins {
            write_value(m.key(k), v);
        }
        m.close();
    }
    o.close();
}

fn write_threshold(out: &mut String, t: &PtpClockThreshold) {
    let non_zero = |v: Option<i64>| v.filter(|n| *n != 0);
    let mut o = ObjectWriter::open(out);
    o.int("holdOverTimeout", non_zero(t.hold_over_timeout));
    o.int("maxOffsetThreshold", non_zero(t.max_offset_threshold));
    o.int("minOffsetThreshold", non_zero(t.min_offset_threshold));
    // `*int64` with omitempty in Go: only nil is left out.
    o.int("sysOffsetInSyncThreshold", t.sys_offset_in_sync_threshold);
    o.int("sysOffsetOutOfSyncThreshold", t.sys_offset_out_of_sync_threshold);
    o.int("sysOffsetSamples", t.sys_offset_samples);
    if let Some(d) = &t.process_downtime_thresholds {
        write_downtime(o.key("processDowntimeThresholds"), d);
    }
    o.close();
}

fn write_downtime(out: &mut String, d: &ProcessDowntimeThresholds) {
    let mut o = ObjectWriter::open(out);
    o.int("ptp4l", d.ptp4l);
    o.int("phc2sys", d.phc2sys);
    o.int("ts2phc", d.ts2phc);
    o.int("synce4l", d.synce4l);
    o.int("chronyd", d.chronyd);
    o.int("gpsd", d.gpsd);
    o.int("gpspipe", d.gpspipe);
    o.close();
}

/// The result of reading a node's ConfigMap value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeProfiles {
    /// Profiles that decoded, in value order.
    pub profiles: Vec<PtpProfile>,
    /// Named items that are not valid profiles; the others are still returned.
    pub rejected: Vec<RejectedProfile>,
}

/// An item of the value that has a name but could not be read as a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedProfile {
    /// Position in the array (0 for the legacy single-object form).
    pub index: usize,
    pub name: String,
    pub reason: String,
}

impl std::fmt::Display for RejectedProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "profile {:?} (item {}): {}", self.name, self.index, self.reason)
    }
}

/// How many nameless items an error lists before it only counts the rest.
const LISTED_NAMELESS: usize = 3;

/// Reads a node's ConfigMap value: a JSON array of profiles, or the legacy single object.
///
/// The whole value is an error (nothing of it may be applied) when it is not JSON, is JSON of
/// another shape, or has an item that is not an object with a non-empty string `name`: profiles
/// are keyed by name, so a nameless item cannot say which running profile it replaces, and
/// dropping it would stop that profile. A named item that is not a valid profile only rejects
/// that item. Only a well-formed `[]` means "no profiles".
pub fn decode_node_profiles(value: &str) -> Result<NodeProfiles, ApiError> {
    let bad = |reason: String| ApiError::ConfigMapValue(reason);
    if value.trim().is_empty() {
        return Err(bad("the value is empty; expected a JSON array of profiles".into()));
    }
    let parsed: Value = serde_json::from_str(value).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let (items, legacy) = match parsed {
        Value::Array(items) => (items, false),
        object @ Value::Object(_) => (vec![object], true),
        other => {
            return Err(bad(format!("expected a JSON array of profiles, found {}", json_kind(&other))));
        }
    };
    let at = |index: usize| if legacy { "the profile object".to_string() } else { format!("item {index}") };
    let nameless: Vec<String> = items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| item_name(item).err().map(|problem| format!("{}: {problem}", at(index))))
        .collect();
    if !nameless.is_empty() {
        let mut listed = nameless[..nameless.len().min(LISTED_NAMELESS)].join("; ");
        if nameless.len() > LISTED_NAMELESS {
            listed.push_str(&format!("; and {} more", nameless.len() - LISTED_NAMELESS));
        }
        return Err(bad(format!("{listed}; every profile needs a non-empty string `name`")));
    }
    let mut result = NodeProfiles::default();
    for (index, item) in items.into_iter().enumerate() {
        let name = item_name(&item).unwrap_or_default().to_string();
        match serde_json::from_value::<PtpProfile>(item) {
            Ok(profile) => result.profiles.push(profile),
            Err(e) => result.rejected.push(RejectedProfile { index, name, reason: e.to_string() }),
        }
    }
    Ok(result)
}

/// The item's `name`, or what is wrong with it.
fn item_name(item: &Value) -> Result<&str, String> {
    let Value::Object(fields) = item else {
        return Err(format!("expected a profile object, found {}", json_kind(item)));
    };
    match fields.get("name") {
        None => Err("no `name`".into()),
        Some(Value::Null) => Err("`name` is null".into()),
        Some(Value::String(s)) if s.is_empty() => Err("`name` is empty".into()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("`name` is {}, expected a string", json_kind(other))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
