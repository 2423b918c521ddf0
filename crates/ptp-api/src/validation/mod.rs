//! The pure validation function shared by the operator (PtpConfig conditions) and the agent
//! (before applying a profile). It checks what the CRD's CEL rules check, for input that never
//! passed an API server, and everything CEL cannot express. Every finding names the profile and
//! the field. Nothing beyond these rules is rejected: odd but well-formed profiles are valid and
//! the agent reports what fails at run time. The rules include what the agent refuses to run:
//! options that do not split, and options or keys that override what the agent owns
//! ([`crate::options::owned`]), for the programs the profile runs.

pub(crate) mod go_syntax;
mod settings;

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::ApiError;
use crate::cel_rules::NODE_LABEL_PATTERN;
use crate::options::getopt::{Opt, scan};
use crate::options::{Program, check_conf, check_options, check_timemaster_conf, split_options};
use crate::ptp_config::{PtpConfigSpec, PtpProfile, SchedulingPolicy};
use crate::ptp4l_conf::Ptp4lConf;
use crate::timemaster_conf::TimemasterConf;

pub use go_syntax::{parse_go_duration, parse_go_uint};

/// Whether a finding makes the profile (or PtpConfig) invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// Machine-readable category of a finding; the operator uses it as a condition reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    DuplicateProfile,
    UnknownProfile,
    InvalidMatch,
    MissingSchedulingPriority,
    InvalidPtp4lConf,
    InterfaceSectionNotAllowed,
    InvalidSpp,
    InvalidSetting,
    UnknownSetting,
    InvalidOptions,
    AgentOwnedOption,
    InvalidTimemasterConf,
    ConflictingProcesses,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::DuplicateProfile => "DuplicateProfile",
            Code::UnknownProfile => "UnknownProfile",
            Code::InvalidMatch => "InvalidMatch",
            Code::MissingSchedulingPriority => "MissingSchedulingPriority",
            Code::InvalidPtp4lConf => "InvalidPtp4lConf",
            Code::InterfaceSectionNotAllowed => "InterfaceSectionNotAllowed",
            Code::InvalidSpp => "InvalidSpp",
            Code::InvalidSetting => "InvalidSetting",
            Code::UnknownSetting => "UnknownSetting",
            Code::InvalidOptions => "InvalidOptions",
            Code::AgentOwnedOption => "AgentOwnedOption",
            Code::InvalidTimemasterConf => "InvalidTimemasterConf",
            Code::ConflictingProcesses => "ConflictingProcesses",
        }
    }
}

/// One problem found in a PtpConfig or profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    /// The profile concerned, when the finding is about one.
    pub profile: Option<String>,
    /// Path of the field, e.g. `ptpSettings.clockType` or `recommend[2].profile`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(profile) = &self.profile {
            write!(f, "profile {profile:?}: ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Finding {
    fn error(code: Code, profile: Option<&str>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            code,
            profile: profile.map(str::to_string),
            field: field.into(),
            message: message.into(),
        }
    }

    fn warning(code: Code, profile: Option<&str>, field: impl Into<String>, message: impl Into<String>) -> Self {
        Finding { severity: Severity::Warning, ..Finding::error(code, profile, field, message) }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Findings of one validation run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        !self.findings.iter().any(Finding::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.is_error())
    }
    /// The error messages joined with "; " (empty when valid).
    pub fn error_summary(&self) -> String {
        self.errors().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    }
}

static NODE_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(NODE_LABEL_PATTERN).expect("static pattern"));

/// Validates a whole PtpConfig spec: the CEL rules' checks plus every profile.
pub fn validate_spec(spec: &PtpConfigSpec) -> Report {
    let mut findings = Vec::new();
    for (i, p) in spec.profile.iter().enumerate() {
        if spec.profile[..i].iter().any(|q| q.name == p.name) {
            findings.push(Finding::error(
                Code::DuplicateProfile,
                Some(&p.name),
                format!("profile[{i}].name"),
                "profile names must be unique within a PtpConfig",
            ));
        }
    }
    for (i, rule) in spec.recommend.iter().enumerate() {
        if !spec.profile.iter().any(|p| p.name == rule.profile) {
            findings.push(Finding::error(
                Code::UnknownProfile,
                None,
                format!("recommend[{i}].profile"),
                format!("{:?} is not a profile of this PtpConfig", rule.profile),
            ));
        }
        for (j, m) in rule.r#match.iter().flatten().enumerate() {
            let field = format!("recommend[{i}].match[{j}]");
            let label = m.node_label.as_deref().unwrap_or("");
            let name = m.node_name.as_deref().unwrap_or("");
            if label.is_empty() && name.is_empty() {
                findings.push(Finding::error(Code::InvalidMatch, None, field.clone(), "set nodeLabel or nodeName"));
            }
            if !label.is_empty() && !NODE_LABEL.is_match(label) {
                findings.push(Finding::error(
                    Code::InvalidMatch,
                    None,
                    format!("{field}.nodeLabel"),
                    format!("{label:?} is not a label key or key=value"),
                ));
            }
        }
    }
    for p in &spec.profile {
        findings.extend(validate_profile(p).findings);
    }
    Report { findings }
}

/// Validates one profile (what the agent checks before applying it).
pub fn validate_profile(profile: &PtpProfile) -> Report {
    let mut findings = Vec::new();
    let name = Some(profile.name.as_str());
    if profile.ptp_scheduling_policy == Some(SchedulingPolicy::SchedFifo) && profile.ptp_scheduling_priority.is_none() {
        findings.push(Finding::error(
            Code::MissingSchedulingPriority,
            name,
            "ptpSchedulingPriority",
            "must be set (1..65) when ptpSchedulingPolicy is SCHED_FIFO",
        ));
    }
    if let Some(text) = &profile.ptp4l_conf {
        check_ptp4l_conf(profile, text, &mut findings);
    }
    check_programs(profile, &mut findings);
    if let Some(settings) = &profile.ptp_settings {
        for (key, value) in settings {
            findings.extend(settings::check(&profile.name, key, value));
        }
    }
    Report { findings }
}

fn check_ptp4l_conf(profile: &PtpProfile, text: &str, findings: &mut Vec<Finding>) {
    let name = Some(profile.name.as_str());
    let conf = match Ptp4lConf::parse(text) {
        Ok(conf) => conf,
        Err(ApiError::ConfParse { line, message }) => {
            findings.push(Finding::error(Code::InvalidPtp4lConf, name, "ptp4lConf", format!("line {line}: {message}")));
            return;
        }
        Err(other) => {
            findings.push(Finding::error(Code::InvalidPtp4lConf, name, "ptp4lConf", other.to_string()));
            return;
        }
    };
    if let Some(iface) = profile.interface.as_deref().filter(|i| !i.is_empty()) {
        for section in conf.interface_names().filter(|s| *s != iface) {
            findings.push(Finding::error(
                Code::InterfaceSectionNotAllowed,
                name,
                "ptp4lConf",
                format!("section [{section}] is not allowed when interface is {iface:?}; only [global] and [{iface}]"),
            ));
        }
    }
    for section in &conf.sections {
        let Some(spp) = section.get("spp") else { continue };
        if section.is_global() {
            if spp != "-1" {
                findings.push(Finding::error(
                    Code::InvalidSpp,
                    name,
                    "ptp4lConf",
                    format!("spp in [global] must be -1 (authentication off on the local socket), got {spp:?}"),
                ));
            }
        } else if !matches!(parse_go_int(spp), Some(0..=255)) {
            findings.push(Finding::error(
                Code::InvalidSpp,
                name,
                "ptp4lConf",
                format!("spp in [{}] must be between 0 and 255, got {spp:?}", section.name),
            ));
        }
    }
}

/// For every program the agent runs for the profile: its options split (shell-like), and neither
/// they nor its configuration override what the agent owns (see [`crate::options::owned`]). A
/// configuration that does not parse is left to [`check_ptp4l_conf`] (ptp4lConf) or the agent.
fn check_programs(profile: &PtpProfile, findings: &mut Vec<Finding>) {
    let name = Some(profile.name.as_str());
    for program in Program::ALL.into_iter().filter(|p| p.runs(profile)) {
        let mut conflicts = Vec::new();
        match program.opts(profile).map(split_options) {
            Some(Ok(args)) => conflicts.extend(check_options(program, &args)),
            Some(Err(e)) => {
                findings.push(Finding::error(Code::InvalidOptions, name, program.opts_field(), e.to_string()));
            }
            None => {}
        }
        match program {
            // chrony's own syntax: written as is.
            Program::Chronyd => {}
            Program::Timemaster => match timemaster_conf(profile) {
                Ok(conf) => {
                    conflicts.extend(check_timemaster_conf(&conf));
                    check_timemaster(profile, &conf, findings);
                }
                Err(message) => {
                    findings.push(Finding::error(Code::InvalidTimemasterConf, name, "timemasterConf", message));
                }
            },
            _ => {
                if let Some(Ok(conf)) = program.conf(profile).map(Ptp4lConf::parse) {
                    conflicts.extend(check_conf(program, &conf));
                }
            }
        }
        findings
            .extend(conflicts.into_iter().map(|c| Finding::error(Code::AgentOwnedOption, name, c.field, c.message())));
    }
}

/// The profile's `timemasterConf` parsed (absent: an empty one), or why it does not parse.
pub fn timemaster_conf(profile: &PtpProfile) -> Result<TimemasterConf, String> {
    TimemasterConf::parse(profile.timemaster_conf.as_deref().unwrap_or_default()).map_err(|e| match e {
        ApiError::ConfParse { line, message } => format!("line {line}: {message}"),
        other => other.to_string(),
    })
}

/// The interfaces timemaster's ptp4l run on for the profile: those of its `[ptp_domain N]`
/// sections, with the profile's `interface` in a section without `interfaces` (and in
/// `[ptp_domain 0]` when there is no such section); an error names a section left without any.
pub fn timemaster_interfaces<'a>(profile: &'a PtpProfile, conf: &'a TimemasterConf) -> Result<Vec<&'a str>, String> {
    let iface = profile.interface.as_deref().filter(|i| !i.is_empty());
    let domains = conf.ptp_domains();
    if domains.is_empty() {
        return Ok(iface.into_iter().collect());
    }
    let mut all: Vec<&str> = Vec::new();
    for domain in domains {
        let interfaces = match (domain.interfaces.is_empty(), iface) {
            (false, _) => domain.interfaces,
            (true, Some(iface)) => vec![iface],
            (true, None) => {
                return Err(format!(
                    "[ptp_domain {}] has no interfaces and the profile has no interface to put there",
                    domain.domain
                ));
            }
        };
        for i in interfaces {
            if !all.contains(&i) {
                all.push(i);
            }
        }
    }
    Ok(all)
}

/// The interfaces the profile's own ptp4l runs on: `interface`, the port sections of
/// `ptp4lConf`, `-i` in `ptp4lOpts` (none when it does not run ptp4l).
fn own_ptp4l_interfaces(profile: &PtpProfile) -> Vec<String> {
    if !Program::Ptp4l.runs(profile) {
        return Vec::new();
    }
    let mut all: Vec<String> = profile.interface.iter().filter(|i| !i.is_empty()).cloned().collect();
    if let Some(Ok(conf)) = profile.ptp4l_conf.as_deref().map(Ptp4lConf::parse) {
        all.extend(conf.interface_names().map(str::to_string));
    }
    if let Some(Ok(args)) = profile.ptp4l_opts.as_deref().map(split_options) {
        for opt in scan(&args, Program::Ptp4l.optstring()) {
            if let Opt::Short { flag: 'i', value: Some(iface), .. } = opt {
                all.push(iface.to_string());
            }
        }
    }
    all
}

/// A profile running timemaster: its `[ptp_domain N]` sections get interfaces, and timemaster
/// does not run on what the profile's own processes run: its ptp4l on an interface the
/// profile's ptp4l uses, or its chronyd beside the profile's chronyd (two daemons steering one
/// clock, and one socket and pidfile for both).
fn check_timemaster(profile: &PtpProfile, conf: &TimemasterConf, findings: &mut Vec<Finding>) {
    let name = Some(profile.name.as_str());
    let interfaces = match timemaster_interfaces(profile, conf) {
        Ok(interfaces) => interfaces,
        Err(message) => {
            findings.push(Finding::error(Code::InvalidTimemasterConf, name, "timemasterConf", message));
            return;
        }
    };
    let own = own_ptp4l_interfaces(profile);
    let shared: Vec<&str> = interfaces.iter().copied().filter(|i| own.iter().any(|o| o == i)).collect();
    if !shared.is_empty() {
        findings.push(Finding::error(
            Code::ConflictingProcesses,
            name,
            "timemasterOpts",
            format!(
                "timemaster runs ptp4l on {} and so does the profile's own ptp4l (an absent ptp4lOpts runs it): \
                 set ptp4lOpts to \"\" to leave PTP to timemaster",
                shared.join(", ")
            ),
        ));
    }
    if conf.runs_chronyd() && Program::Chronyd.runs(profile) {
        findings.push(Finding::error(
            Code::ConflictingProcesses,
            name,
            "timemasterOpts",
            "timemaster runs chronyd and so does the profile (chronydOpts): configure chronyd in [chrony.conf] \
             of timemasterConf, or run it without timemaster",
        ));
    }
}

/// Go's `strconv.Atoi`: optional sign, decimal digits.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = i64::try_from(parse_go_uint(digits, 10, 64)?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests;
