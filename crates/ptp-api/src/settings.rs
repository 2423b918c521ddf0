//! `ptpSettings` as typed values: what the agent does with a profile's settings. Pure. Values
//! are read the way [`crate::validation`] checks them; a value that does not read is an error
//! naming the key (the agent then refuses the profile), unknown keys are ignored.

use std::time::Duration;

use crate::ptp_config::PtpProfile;
use crate::validation::go_syntax::{parse_go_duration, parse_go_uint};

/// `clockType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockType {
    /// `T-GM`: telecom grandmaster.
    Gm,
    /// `T-BC`: telecom boundary clock.
    Bc,
}

/// `logReduce`: which of a process's lines reach the agent's output (the parser sees all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogReduce {
    /// `false` (or absent, or empty): every line.
    #[default]
    Off,
    /// `true` or `basic`: no per-sample `offset` lines.
    Basic,
    /// `enhanced [interval] [threshold]`: per-sample lines are summarised once per `interval`; a
    /// sample whose offset is beyond `threshold` (ns, absolute; 0: none) is printed as it comes.
    Enhanced { interval: Duration, threshold_ns: u64 },
}

/// Default interval of `logReduce: enhanced` without one.
pub const ENHANCED_DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default threshold of `logReduce: enhanced` without one: 0, no sample is printed for its offset.
pub const ENHANCED_DEFAULT_THRESHOLD_NS: u64 = 0;

/// A profile's settings the agent acts on.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProfileSettings {
    pub clock_type: Option<ClockType>,
    pub log_reduce: LogReduce,
    /// `stdoutFilter`: lines matching it do not reach the agent's output.
    pub stdout_filter: Option<String>,
    /// `haProfiles`: the profiles (names as in the node's value) whose ptp4l this profile's
    /// phc2sys follows; empty when not set.
    pub ha_profiles: Vec<String>,
    /// `controllingProfile`: the profile whose clock state this one's follows (T-BC).
    pub controlling_profile: Option<String>,
    /// `upstreamPort`: the time receiver's upstream ports (comma-separated); empty when not set.
    pub upstream_ports: Vec<String>,
    pub leading_interface: Option<String>,
    /// `inSyncConditionThreshold` (ns).
    pub in_sync_threshold_ns: Option<u32>,
    /// `inSyncConditionTimes`: consecutive samples within the threshold.
    pub in_sync_times: Option<u32>,
}

impl ProfileSettings {
    /// The settings of `profile`; an error names the key and what is wrong with its value.
    pub fn of(profile: &PtpProfile) -> Result<ProfileSettings, String> {
        let mut out = ProfileSettings::default();
        let Some(settings) = &profile.ptp_settings else { return Ok(out) };
        let non_empty = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        for (key, value) in settings {
            let bad = |why: String| format!("ptpSettings.{key} {value:?}: {why}");
            match key.as_str() {
                "clockType" => {
                    out.clock_type = match value.trim() {
                        "T-GM" => Some(ClockType::Gm),
                        "T-BC" => Some(ClockType::Bc),
                        "" => None,
                        _ => return Err(bad("must be T-GM or T-BC".into())),
                    };
                }
                "logReduce" => out.log_reduce = LogReduce::parse(value).map_err(bad)?,
                "stdoutFilter" => {
                    // Checked here so that a profile whose filter would not compile is refused
                    // (the Go daemon printed every line instead, and said so only in its log).
                    if let Err(e) = regex::Regex::new(value) {
                        return Err(bad(format!("not a regular expression: {}", one_line(&e.to_string()))));
                    }
                    out.stdout_filter = Some(value.clone()).filter(|v| !v.is_empty());
                }
                "haProfiles" => out.ha_profiles = list(value),
                "controllingProfile" => out.controlling_profile = non_empty(value),
                "upstreamPort" => out.upstream_ports = list(value),
                "leadingInterface" => out.leading_interface = non_empty(value),
                "inSyncConditionThreshold" | "inSyncConditionTimes" => {
                    let n = parse_go_uint(value.trim(), 10, 32)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad("must be an unsigned 32-bit integer".into()))?;
                    if key == "inSyncConditionThreshold" {
                        out.in_sync_threshold_ns = Some(n);
                    } else {
                        out.in_sync_times = Some(n);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// `text` on one line: the regex crate's errors point at the column over several lines.
fn one_line(text: &str) -> String {
    text.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A comma-separated list, each item trimmed, empty items left out.
fn list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect()
}

impl LogReduce {
    /// `true|false|basic|enhanced [interval] [threshold]` (mode case-insensitive, empty is
    /// `false`).
    pub fn parse(value: &str) -> Result<LogReduce, String> {
        let mut words = value.split_whitespace();
        let mode = words.next().unwrap_or("false").to_ascii_lowercase();
        match mode.as_str() {
            "false" => Ok(LogReduce::Off),
            "true" | "basic" => Ok(LogReduce::Basic),
            "enhanced" => {
                let interval = match words.next() {
                    None => ENHANCED_DEFAULT_INTERVAL,
                    Some(text) => parse_go_duration(text)
                        .filter(|ns| *ns > 0)
                        .and_then(|ns| u64::try_from(ns).ok())
                        .map(Duration::from_nanos)
                        .ok_or_else(|| format!("interval {text:?} must be a positive duration such as 30s"))?,
                };
                let threshold_ns = match words.next() {
                    None => ENHANCED_DEFAULT_THRESHOLD_NS,
                    Some(text) => parse_go_uint(text.strip_prefix('+').unwrap_or(text), 10, 63)
                        .ok_or_else(|| format!("threshold {text:?} must be a non-negative integer"))?,
                };
                Ok(LogReduce::Enhanced { interval, threshold_ns })
            }
            other => Err(format!("mode {other:?} must be one of true, false, basic, enhanced")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn with(pairs: &[(&str, &str)]) -> PtpProfile {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PtpProfile { ptp_settings: Some(map), ..PtpProfile::named("p") }
    }

    #[test]
    fn settings_read_as_typed_values() {
        let s = ProfileSettings::of(&with(&[
            ("clockType", "T-BC"),
            ("logReduce", "Enhanced 10s 50"),
            ("haProfiles", " a_x , b,c "),
            ("controllingProfile", "cfg_tr"),
            ("upstreamPort", "ens1f0"),
            ("inSyncConditionThreshold", "10"),
            ("inSyncConditionTimes", "12"),
            ("stdoutFilter", "^.*delay.*$"),
            ("somethingNew", "x"),
        ]))
        .unwrap();
        assert_eq!(s.clock_type, Some(ClockType::Bc));
        assert_eq!(s.log_reduce, LogReduce::Enhanced { interval: Duration::from_secs(10), threshold_ns: 50 });
        assert_eq!(s.ha_profiles, ["a_x", "b", "c"]);
        assert_eq!(s.controlling_profile.as_deref(), Some("cfg_tr"));
        assert_eq!(s.upstream_ports, ["ens1f0"]);
        assert_eq!((s.in_sync_threshold_ns, s.in_sync_times), (Some(10), Some(12)));
        assert_eq!(s.stdout_filter.as_deref(), Some("^.*delay.*$"));
        assert_eq!(ProfileSettings::of(&PtpProfile::named("p")).unwrap(), ProfileSettings::default());
    }

    #[test]
    fn log_reduce_modes_and_defaults() {
        assert_eq!(LogReduce::parse(""), Ok(LogReduce::Off));
        assert_eq!(LogReduce::parse("false"), Ok(LogReduce::Off));
        assert_eq!(LogReduce::parse("TRUE"), Ok(LogReduce::Basic));
        assert_eq!(LogReduce::parse("basic"), Ok(LogReduce::Basic));
        assert_eq!(
            LogReduce::parse("enhanced"),
            Ok(LogReduce::Enhanced {
                interval: ENHANCED_DEFAULT_INTERVAL,
                threshold_ns: ENHANCED_DEFAULT_THRESHOLD_NS
            })
        );
        assert_eq!(
            LogReduce::parse("enhanced 1m30s"),
            Ok(LogReduce::Enhanced { interval: Duration::from_secs(90), threshold_ns: ENHANCED_DEFAULT_THRESHOLD_NS })
        );
        for (bad, says) in [
            ("loud", "mode \"loud\""),
            ("enhanced 30", "interval \"30\""),
            ("enhanced 0s", "interval \"0s\""),
            ("enhanced 30s -5", "threshold \"-5\""),
        ] {
            let e = LogReduce::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let e = ProfileSettings::of(&with(&[("inSyncConditionTimes", "many")])).unwrap_err();
        assert_eq!(e, "ptpSettings.inSyncConditionTimes \"many\": must be an unsigned 32-bit integer");
        let e = ProfileSettings::of(&with(&[("clockType", "OC")])).unwrap_err();
        assert!(e.starts_with("ptpSettings.clockType \"OC\""), "{e}");
        let e = ProfileSettings::of(&with(&[("stdoutFilter", "^(master offset")])).unwrap_err();
        assert!(e.starts_with("ptpSettings.stdoutFilter \"^(master offset\": not a regular expression: "), "{e}");
        assert!(e.contains("unclosed group") && !e.contains('\n'), "{e}");
    }
}
