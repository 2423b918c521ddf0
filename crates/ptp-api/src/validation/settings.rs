//! Checks of `ptpSettings` keys the agent understands. Unknown keys are accepted with a warning
//! (the Go operator rejected them, which blocked every new setting until it was upgraded).

use std::sync::LazyLock;

use regex::Regex;

use super::go_syntax::{parse_go_duration, parse_go_uint};
use super::{Code, Finding};

/// Valid `clockType` values.
pub const CLOCK_TYPES: &[&str] = &["T-GM", "T-BC"];
/// Keys accepted without any check of the value.
pub const FREE_FORM_KEYS: &[&str] = &["controllingProfile", "upstreamPort", "leadingInterface"];

/// A comma-separated list of profile names (Go's `^([\w\-_]+)(,\s*([\w\-_]+))*$`, ASCII `\w`).
static HA_PROFILES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9A-Za-z_-]+(,[\t\n\x0C\r ]*[0-9A-Za-z_-]+)*$").expect("static pattern"));

/// The finding for one `ptpSettings` entry, if any.
pub fn check(profile: &str, key: &str, value: &str) -> Option<Finding> {
    let field = format!("ptpSettings.{key}");
    let invalid = |message: String| Some(Finding::error(Code::InvalidSetting, Some(profile), field.clone(), message));
    match key {
        "clockType" if !CLOCK_TYPES.contains(&value) => {
            invalid(format!("{value:?} is not one of {}", CLOCK_TYPES.join(", ")))
        }
        "clockType" => None,
        "logReduce" => check_log_reduce(value).err().and_then(invalid),
        "haProfiles" if !HA_PROFILES.is_match(value) => {
            invalid(format!("{value:?} must be a comma-separated list of profile names"))
        }
        "haProfiles" => None,
        "inSyncConditionTimes" | "inSyncConditionThreshold" if parse_go_uint(value, 10, 32).is_none() => {
            invalid(format!("{value:?} must be an unsigned 32-bit integer"))
        }
        "inSyncConditionTimes" | "inSyncConditionThreshold" => None,
        "stdoutFilter" => {
            Regex::new(value).err().and_then(|e| invalid(format!("{value:?} is not a valid regular expression: {e}")))
        }
        k if k.contains("clockId") => {
            let ok = parse_go_uint(value, 10, 64).is_some() || parse_go_uint(value, 16, 64).is_some();
            if ok { None } else { invalid(format!("{value:?} must be an unsigned 64-bit integer in hex, without 0x")) }
        }
        k if FREE_FORM_KEYS.contains(&k) => None,
        _ => Some(Finding::warning(
            Code::UnknownSetting,
            Some(profile),
            field,
            "unknown setting; accepted, but the agent does not use it",
        )),
    }
}

/// `true|false|basic|enhanced [duration] [threshold]`; the mode is case-insensitive and an empty
/// value means `false`.
fn check_log_reduce(value: &str) -> Result<(), String> {
    let mut words = value.split_whitespace();
    let mode = words.next().unwrap_or("false").to_ascii_lowercase();
    if !["true", "false", "basic", "enhanced"].contains(&mode.as_str()) {
        return Err(format!("mode {mode:?} must be one of true, false, basic, enhanced"));
    }
    if mode != "enhanced" {
        return Ok(());
    }
    if let Some(duration) = words.next()
        && parse_go_duration(duration).is_none()
    {
        return Err(format!("time {duration:?} must be a duration such as 30s"));
    }
    if let Some(threshold) = words.next()
        && parse_go_uint(threshold.strip_prefix('+').unwrap_or(threshold), 10, 63).is_none()
    {
        return Err(format!("threshold {threshold:?} must be a non-negative integer"));
    }
    Ok(())
}
