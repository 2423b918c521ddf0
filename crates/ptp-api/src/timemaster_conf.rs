//! A model of timemaster's configuration file (`timemasterConf`), read the way linuxptp's
//! `timemaster.c` reads it: lines trimmed, blank lines and lines starting with `#` skipped,
//! `[name parameter]` section headers (the name matched case-insensitively, the parameter after
//! the first run of whitespace: `[ptp_domain 0]`, `[ntp_server 10.1.1.1]`), settings `name value`
//! (the value may be empty: `options`), a setting before the first section an error. Sections
//! may repeat: each one is read in turn, so a later `options` or `rundir` replaces an earlier one,
//! and every `[ptp_domain N]` / `[ntp_server A]` is one more time source.
//!
//! `[chrony.conf]`, `[ntp.conf]` and `[ptp4l.conf]` lines are copied into the generated files
//! (a leading `>` removed); the other sections' settings are checked here as timemaster checks
//! them (an unknown setting or section makes timemaster exit), so that a mistake is an error
//! naming the line instead of a crash-looping process.

use std::fmt::Write as _;

use crate::ApiError;

/// timemaster reads a line with `fgets` into 4096 bytes: a longer line is read as several.
pub const MAX_LINE: usize = 4094;

/// A parsed timemaster configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimemasterConf {
    /// Comments and blank lines before the first section, as written (trimmed).
    pub preamble: Vec<String>,
    pub sections: Vec<TmSection>,
}

/// One `[name parameter]` section with its lines (trimmed, comments and blanks kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TmSection {
    /// The section's name, lowercase (`ptp_domain`, `ptp4l.conf`, `timemaster`, ...).
    pub name: String,
    /// What follows the name in the header (`0` of `[ptp_domain 0]`), if anything.
    pub parameter: Option<String>,
    /// The 1-based line of its header in the parsed text (0: added, not parsed).
    pub line: usize,
    pub lines: Vec<String>,
}

/// Sections whose lines are copied into a generated file.
const RAW_SECTIONS: [&str; 3] = ["chrony.conf", "ntp.conf", "ptp4l.conf"];

impl TmSection {
    pub fn new(name: &str, parameter: Option<&str>) -> Self {
        TmSection {
            name: name.to_ascii_lowercase(),
            parameter: parameter.map(str::to_string),
            line: 0,
            lines: Vec::new(),
        }
    }

    /// Whether its lines are copied as they are (`[ptp4l.conf]`, ...), not settings.
    pub fn is_raw(&self) -> bool {
        RAW_SECTIONS.contains(&self.name.as_str())
    }

    /// Its settings in order (none for a raw section): name and value (maybe empty).
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str)> {
        let raw = self.is_raw();
        self.lines.iter().filter(move |l| !raw && !l.is_empty() && !l.starts_with('#')).map(|l| split_setting(l))
    }

    /// The effective value of setting `name` in this section (the last one), as timemaster reads
    /// it (names case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.settings().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v).last()
    }

    /// The header as written back: `[name]` or `[name parameter]`.
    pub fn header(&self) -> String {
        match &self.parameter {
            Some(p) => format!("[{} {p}]", self.name),
            None => format!("[{}]", self.name),
        }
    }
}

/// `name value`: the first word, and the rest after the whitespace that follows it.
fn split_setting(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((name, value)) => (name, value.trim_start()),
        None => (line, ""),
    }
}

/// A PTP time source: `[ptp_domain N]` with its effective `interfaces`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtpDomain<'a> {
    pub domain: &'a str,
    pub interfaces: Vec<&'a str>,
}

impl TimemasterConf {
    /// Parses the text; errors name the 1-based line (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut conf = TimemasterConf::default();
        for (index, raw) in text.lines().enumerate() {
            let err = |message: String| ApiError::ConfParse { line: index + 1, message };
            let line = raw.trim();
            if line.len() > MAX_LINE {
                return Err(err(format!("line is {} bytes long; timemaster reads at most {MAX_LINE}", line.len())));
            }
            if let Some(rest) = line.strip_prefix('[') {
                // timemaster takes everything up to the first `]` (or the end) as the header.
                let header = rest.split_once(']').map_or(rest, |(h, _)| h).trim();
                let (name, parameter) = match header.split_once(char::is_whitespace) {
                    Some((name, parameter)) => (name, Some(parameter.trim())),
                    None => (header, None),
                };
                conf.sections.push(TmSection { line: index + 1, ..TmSection::new(name, parameter) });
                continue;
            }
            match conf.sections.last_mut() {
                Some(section) => section.lines.push(line.to_string()),
                None if line.is_empty() || line.starts_with('#') => conf.preamble.push(line.to_string()),
                None => return Err(err(format!("setting `{line}` is not in a section"))),
            }
        }
        for section in &conf.sections {
            check_section(section)?;
        }
        Ok(conf)
    }

    /// Renders the file: the preamble, then each section's header and lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.preamble {
            let _ = writeln!(out, "{line}");
        }
        for section in &self.sections {
            let _ = writeln!(out, "{}", section.header());
            for line in &section.lines {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    /// The sections named `name` (lowercase), in order.
    pub fn sections_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a TmSection> + 'a {
        self.sections.iter().filter(move |s| s.name == name)
    }

    /// The effective value of setting `key` of the program or `[timemaster]` section `name`:
    /// the last one over every section of that name, as timemaster reads them in turn.
    pub fn get(&self, name: &str, key: &str) -> Option<&str> {
        self.sections.iter().rev().filter(|s| s.name == name).find_map(|s| s.get(key))
    }

    /// Every `[ptp_domain N]` with its effective interfaces (empty when it has none).
    pub fn ptp_domains(&self) -> Vec<PtpDomain<'_>> {
        self.sections
            .iter()
            .filter(|s| s.name == "ptp_domain")
            .map(|s| PtpDomain {
                domain: s.parameter.as_deref().unwrap_or_default(),
                interfaces: s.get("interfaces").map(|v| v.split_whitespace().collect()).unwrap_or_default(),
            })
            .collect()
    }

    /// Whether timemaster runs chronyd (`ntp_program chronyd`, the default) rather than ntpd.
    pub fn runs_chronyd(&self) -> bool {
        self.get("timemaster", "ntp_program").is_none_or(|p| p.eq_ignore_ascii_case("chronyd"))
    }

    /// Every interface a ptp4l of timemaster runs on, in order, each once.
    pub fn interfaces(&self) -> Vec<&str> {
        let mut all: Vec<&str> = Vec::new();
        for domain in self.ptp_domains() {
            for iface in domain.interfaces {
                if !all.contains(&iface) {
                    all.push(iface);
                }
            }
        }
        all
    }

    /// Appends a section with these settings; timemaster reads it last, so its settings win.
    pub fn push(&mut self, name: &str, parameter: Option<&str>, lines: impl IntoIterator<Item = String>) {
        let mut section = TmSection::new(name, parameter);
        section.lines.extend(lines);
        self.sections.push(section);
    }
}

/// The settings timemaster knows in each section that holds settings.
fn known_settings(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "ntp_server" => Some(&["minpoll", "maxpoll", "iburst", "ntp_options"]),
        "ptp_domain" => Some(&["delay", "ntp_poll", "phc2sys_poll", "ptp4l_option", "ntp_options", "interfaces"]),
        "chronyd" | "ntpd" | "phc2sys" | "ptp4l" => Some(&["path", "options"]),
        "timemaster" => Some(&["ntp_program", "rundir", "first_shm_segment", "restart_processes", "use_vclocks"]),
        _ => None,
    }
}

/// What timemaster refuses in a section: an unknown name or setting, a `[ptp_domain]` without
/// a number, an `[ntp_server]` without an address.
fn check_section(section: &TmSection) -> Result<(), ApiError> {
    let header = section.header();
    let err = |message: String| ApiError::ConfParse { line: section.line, message };
    if section.is_raw() {
        return Ok(());
    }
    let Some(known) = known_settings(&section.name) else {
        return Err(err(format!(
            "unknown section {header} (timemaster knows ntp_server, ptp_domain, chronyd, chrony.conf, ntpd, \
             ntp.conf, phc2sys, ptp4l, ptp4l.conf, timemaster)"
        )));
    };
    match (section.name.as_str(), section.parameter.as_deref()) {
        ("ptp_domain", p) if p.and_then(|p| p.parse::<i32>().ok()).is_none() => {
            return Err(err(format!("{header} needs a domain number: [ptp_domain 0]")));
        }
        ("ntp_server", None) => return Err(err(format!("{header} needs the server's address: [ntp_server ADDRESS]"))),
        _ => {}
    }
    for (offset, line) in section.lines.iter().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, _) = split_setting(line);
        if !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err(ApiError::ConfParse {
                line: section.line + offset + 1,
                message: format!("unknown setting `{name}` in {header} (known: {})", known.join(", ")),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# comment\n\n[ptp_domain 0]\ninterfaces eth0 eth1\nptp4l_option delay_mechanism P2P\n\n\
        [ptp_domain  1]\n[timemaster]\nrundir /x\n[chronyd]\noptions\n[ptp4l.conf]\nanything goes here\n\
        >[unicast_master_table]\n[PTP4L]\noptions -l 6\n[ptp4l]\noptions -l 7\n";

    #[test]
    fn parses_and_renders_back() {
        let conf = TimemasterConf::parse(SAMPLE).unwrap();
        assert_eq!(conf.preamble, vec!["# comment", ""]);
        let names: Vec<String> = conf.sections.iter().map(TmSection::header).collect();
        assert_eq!(
            names,
            ["[ptp_domain 0]", "[ptp_domain 1]", "[timemaster]", "[chronyd]", "[ptp4l.conf]", "[ptp4l]", "[ptp4l]"]
        );
        assert_eq!(
            conf.ptp_domains(),
            vec![
                PtpDomain { domain: "0", interfaces: vec!["eth0", "eth1"] },
                PtpDomain { domain: "1", interfaces: vec![] }
            ]
        );
        assert_eq!(conf.get("ptp4l", "options"), Some("-l 7"), "the last section wins, names in any case");
        assert_eq!(conf.get("chronyd", "options"), Some(""), "an empty value");
        assert_eq!(conf.get("timemaster", "rundir"), Some("/x"));
        assert!(conf.runs_chronyd());
        let again = TimemasterConf::parse(&conf.render()).unwrap();
        assert_eq!(again, conf, "{}", conf.render());
    }

    #[test]
    fn refuses_what_timemaster_refuses() {
        let err = |text: &str| TimemasterConf::parse(text).unwrap_err().to_string();
        assert_eq!(err("interfaces eth0\n"), "ptp4l.conf line 1: setting `interfaces eth0` is not in a section");
        assert!(err("[ptp_domain]\ninterfaces eth0\n").contains("[ptp_domain] needs a domain number"));
        assert!(err("[ptp_domain x]\n").contains("needs a domain number"));
        assert!(err("[ntp_server]\n").contains("needs the server's address"));
        assert!(err("[global]\n").contains("unknown section [global]"));
        let e = err("# c\n[ptp_domain 0]\n\ninterface eth0\n");
        assert!(e.contains("line 4") && e.contains("unknown setting `interface` in [ptp_domain 0]"), "{e}");
        assert!(err(&format!("[ptp4l]\noptions {}\n", "x".repeat(MAX_LINE))).contains("at most"));
        assert!(TimemasterConf::parse("[chrony.conf]\nwhatever you like\n").is_ok());
    }

    #[test]
    fn ntpd_and_interfaces() {
        let conf = TimemasterConf::parse(
            "[timemaster]\nntp_program ntpd\n[ptp_domain 0]\ninterfaces a b\n[ptp_domain 1]\ninterfaces b c\n",
        )
        .unwrap();
        assert!(!conf.runs_chronyd());
        assert_eq!(conf.interfaces(), vec!["a", "b", "c"]);
    }
}
