//! A model of linuxptp configuration files (`ptp4l.conf`, and the same syntax for ts2phc/phc2sys):
//! `[section]` headers, `key value` options and `#` comments, kept in order so that a parsed file
//! renders back the way it was written. Parsing follows linuxptp's own `config.c`: lines are
//! trimmed, blank lines and lines starting with `#` are comments, an option needs a value
//! separated by whitespace, `[global]` is matched case-insensitively, and an option before the
//! first section is an error. A line longer than linuxptp reads at once ([`MAX_LINE`]) is an
//! error too: linuxptp would read its end as another line.

use std::fmt::Write as _;

use crate::ApiError;

/// The longest line linuxptp reads as one: it reads lines with `fgets` into 1024 bytes, so the
/// rest of a longer line would be read as a line of its own. Lines are written back trimmed, so
/// this bounds the trimmed line.
pub const MAX_LINE: usize = 1023;

/// Name of linuxptp's unicast master table section (not an interface).
pub const UNICAST_MASTER_TABLE: &str = "unicast_master_table";

/// A parsed configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ptp4lConf {
    /// Comments and blank lines before the first section.
    pub preamble: Vec<Line>,
    pub sections: Vec<Section>,
}

/// One `[name]` section with its lines in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, trimmed (`global`, `eth0`, ...).
    pub name: String,
    pub lines: Vec<Line>,
}

/// A line inside a section (or the preamble).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// `key value`; the value is everything after the first run of whitespace, trimmed.
    Option {
        key: String,
        value: String,
    },
    /// A `#` comment, as written (trimmed).
    Comment(String),
    Blank,
}

impl Section {
    pub fn new(name: impl Into<String>) -> Self {
        Section { name: name.into(), lines: Vec::new() }
    }

    /// `[global]`, matched case-insensitively as linuxptp does.
    pub fn is_global(&self) -> bool {
        self.name.eq_ignore_ascii_case("global")
    }

    /// A section naming a port (neither `[global]` nor `[unicast_master_table]`).
    pub fn is_interface(&self) -> bool {
        !self.is_global() && !self.name.eq_ignore_ascii_case(UNICAST_MASTER_TABLE)
    }

    /// The effective value of `key`: the last occurrence wins, as in linuxptp.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().rev().find_map(|l| match l {
            Line::Option { key: k, value } if k == key => Some(value.as_str()),
            _ => None,
        })
    }

    /// Options in file order.
    pub fn options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Option { key, value } => Some((key.as_str(), value.as_str())),
            _ => None,
        })
    }

    /// Sets `key` to `value`: the first occurrence is replaced in place and later ones removed;
    /// a new key is appended.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        let mut seen = false;
        self.lines.retain_mut(|line| match line {
            Line::Option { key: k, value: v } if k == key => {
                if seen {
                    return false;
                }
                seen = true;
                *v = value.clone();
                true
            }
            _ => true,
        });
        if !seen {
            self.lines.push(Line::Option { key: key.to_string(), value });
        }
    }
}

impl Ptp4lConf {
    /// Parses configuration text. Errors name the 1-based line.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut conf = Ptp4lConf::default();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let err = |message: String| ApiError::ConfParse { line: line_no, message };
            let line = raw.trim();
            if line.len() > MAX_LINE {
                return Err(err(format!(
                    "line is {} bytes long; linuxptp reads at most {MAX_LINE} bytes of a line and would read the \
                     rest as a line of its own",
                    line.len()
                )));
            }
            let parsed = if line.is_empty() {
                Line::Blank
            } else if line.starts_with('#') {
                Line::Comment(line.to_string())
            } else if let Some(rest) = line.strip_prefix('[') {
                let Some((name, trailing)) = rest.split_once(']') else {
                    return Err(err(format!("section header `{line}` is missing the closing `]`")));
                };
                let name = name.trim();
                if name.is_empty() {
                    return Err(err("section header `[]` has no name".to_string()));
                }
                if name.contains(char::is_whitespace) {
                    return Err(err(format!("section name `{name}` contains whitespace")));
                }
                let trailing = trailing.trim();
                if !trailing.is_empty() && !trailing.starts_with('#') {
                    return Err(err(format!("unexpected text `{trailing}` after section header [{name}]")));
                }
                conf.sections.push(Section::new(name));
                continue;
            } else {
                let Some((key, value)) = line.split_once(char::is_whitespace) else {
                    return Err(err(format!("option `{line}` has no value")));
                };
                let value = value.trim_start();
                Line::Option { key: key.to_string(), value: value.to_string() }
            };
            match (conf.sections.last_mut(), parsed) {
                (Some(section), line) => section.lines.push(line),
                (None, Line::Option { key, .. }) => {
                    return Err(err(format!("option `{key}` is not in a section (start with [global])")));
                }
                (None, line) => conf.preamble.push(line),
            }
        }
        Ok(conf)
    }

    /// Renders the file: sections in order, one `key value` per option, comments kept.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.preamble {
            render_line(&mut out, line);
        }
        for section in &self.sections {
            let _ = writeln!(out, "[{}]", section.name);
            for line in &section.lines {
                render_line(&mut out, line);
            }
        }
        out
    }

    /// The first section with this name (`global` matches case-insensitively).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| section_matches(s, name))
    }

    /// The `[global]` section, if present.
    pub fn global(&self) -> Option<&Section> {
        self.section("global")
    }

    /// The section with this name, appended if missing (`[global]` is inserted first).
    pub fn section_mut_or_insert(&mut self, name: &str) -> &mut Section {
        let index = match self.sections.iter().position(|s| section_matches(s, name)) {
            Some(i) => i,
            None if name.eq_ignore_ascii_case("global") => {
                self.sections.insert(0, Section::new("global"));
                0
            }
            None => {
                self.sections.push(Section::new(name));
                self.sections.len() - 1
            }
        };
        &mut self.sections[index]
    }

    /// The effective value of `key` in section `name`.
    pub fn get(&self, name: &str, key: &str) -> Option<&str> {
        self.sections.iter().rev().filter(|s| section_matches(s, name)).find_map(|s| s.get(key))
    }

    /// Makes `value` the effective value of `key` in section `name`: set in the first section of
    /// that name (created when needed) and removed from every later one, since linuxptp reads
    /// repeated sections in turn and a later value would win.
    pub fn set(&mut self, name: &str, key: &str, value: impl Into<String>) {
        self.section_mut_or_insert(name).set(key, value);
        for section in self.sections.iter_mut().filter(|s| section_matches(s, name)).skip(1) {
            section.lines.retain(|line| !matches!(line, Line::Option { key: k, .. } if k == key));
        }
    }

    /// Names of the sections that name ports.
    pub fn interface_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().filter(|s| s.is_interface()).map(|s| s.name.as_str())
    }
}

fn section_matches(section: &Section, name: &str) -> bool {
    if name.eq_ignore_ascii_case("global") { section.is_global() } else { section.name == name }
}

fn render_line(out: &mut String, line: &Line) {
    match line {
        Line::Option { key, value } => {
            let _ = writeln!(out, "{key} {value}");
        }
        Line::Comment(text) => {
            let _ = writeln!(out, "{text}");
        }
        Line::Blank => out.push('\n'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> (usize, String) {
        match Ptp4lConf::parse(text) {
            Err(ApiError::ConfParse { line, message }) => (line, message),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_sections_options_and_comments_in_order() {
        let text = "# top\n\n[global]\n  domainNumber   24 \n#c\nmessage_tag [x y]\n[ ens1f0 ]\nmasterOnly 0\n";
        let conf = Ptp4lConf::parse(text).unwrap();
        assert_eq!(conf.preamble, vec![Line::Comment("# top".into()), Line::Blank]);
        assert_eq!(conf.sections.len(), 2);
        assert_eq!(conf.get("global", "domainNumber"), Some("24"));
        assert_eq!(conf.get("global", "message_tag"), Some("[x y]"));
        assert_eq!(conf.get("ens1f0", "masterOnly"), Some("0"));
        assert_eq!(conf.interface_names().collect::<Vec<_>>(), vec!["ens1f0"]);
    }

    #[test]
    fn tabs_separate_key_and_value() {
        let conf = Ptp4lConf::parse("[global]\nslaveOnly\t1\n").unwrap();
        assert_eq!(conf.get("global", "slaveOnly"), Some("1"));
    }

    #[test]
    fn render_round_trips_normalised_text() {
        let text = "# top\n[global]\ndomainNumber 24\n\n# note\n[eth0]\nmasterOnly 1\n";
        let conf = Ptp4lConf::parse(text).unwrap();
        assert_eq!(conf.render(), text);
        assert_eq!(Ptp4lConf::parse(&conf.render()).unwrap(), conf);
    }

    #[test]
    fn global_matches_case_insensitively_and_last_value_wins() {
        let conf = Ptp4lConf::parse("[GLOBAL]\na 1\na 2\n").unwrap();
        assert_eq!(conf.get("global", "a"), Some("2"));
        assert!(conf.global().is_some());
        assert_eq!(conf.interface_names().count(), 0);
    }

    #[test]
    fn set_replaces_in_place_and_drops_duplicates() {
        let mut conf = Ptp4lConf::parse("[global]\na 1\nb 2\na 3\n").unwrap();
        conf.set("global", "a", "9");
        assert_eq!(conf.render(), "[global]\na 9\nb 2\n");
        conf.set("global", "c", "x");
        assert_eq!(conf.get("global", "c"), Some("x"));
    }

    #[test]
    fn set_also_drops_the_key_from_later_sections_of_the_same_name() {
        // linuxptp reads every [global] section in turn: a later one would win over the value set.
        let mut conf = Ptp4lConf::parse("[global]\na 1\n[eth0]\na 5\n[Global]\na 2\nb 3\n[global]\na 4\n").unwrap();
        conf.set("global", "a", "9");
        assert_eq!(conf.render(), "[global]\na 9\n[eth0]\na 5\n[Global]\nb 3\n[global]\n");
        assert_eq!(conf.get("global", "a"), Some("9"));
        let mut conf = Ptp4lConf::parse("[eth0]\na 1\n[eth1]\n[eth0]\na 2\n").unwrap();
        conf.set("eth0", "a", "9");
        assert_eq!(conf.render(), "[eth0]\na 9\n[eth1]\n[eth0]\n");
    }

    #[test]
    fn lines_longer_than_linuxptp_reads_at_once_are_refused() {
        // linuxptp reads a line in pieces of at most 1023 bytes: the rest of a longer line would
        // be read as a line of its own (`#xxx...uds_address /tmp/x` sets uds_address).
        let longest = format!("[global]\n#{}\nleapfile /{}\n", "x".repeat(1022), "x".repeat(1013));
        Ptp4lConf::parse(&longest).unwrap();
        let (line, message) = parse_err(&format!("[global]\n#{}uds_address /tmp/x\n", "x".repeat(1022)));
        assert_eq!(line, 2);
        assert_eq!(
            message,
            "line is 1041 bytes long; linuxptp reads at most 1023 bytes of a line and would read the rest as \
             a line of its own"
        );
        assert_eq!(parse_err(&format!("[global]\nleapfile /{}\n", "x".repeat(1014))).0, 2);
        assert_eq!(parse_err(&format!("[{}]\n", "x".repeat(1022))).0, 1);
        // Surrounding whitespace is not written back, so it does not count.
        Ptp4lConf::parse(&format!("[global]\n  \t#{}  \n", "x".repeat(1022))).unwrap();
    }

    #[test]
    fn set_creates_global_first_and_other_sections_last() {
        let mut conf = Ptp4lConf::parse("[eth0]\nmasterOnly 0\n").unwrap();
        conf.set("global", "uds_address", "/var/run/ptp4l.0.socket");
        conf.section_mut_or_insert("eth1");
        assert_eq!(conf.render(), "[global]\nuds_address /var/run/ptp4l.0.socket\n[eth0]\nmasterOnly 0\n[eth1]\n");
    }

    #[test]
    fn unicast_master_table_is_not_an_interface() {
        let conf = Ptp4lConf::parse("[unicast_master_table]\ntable_id 1\n[eth0]\n").unwrap();
        assert_eq!(conf.interface_names().collect::<Vec<_>>(), vec!["eth0"]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse_err("[global]\nslaveOnly\n").0, 2);
        assert!(parse_err("[global]\nslaveOnly\n").1.contains("slaveOnly"));
        let (line, msg) = parse_err("\n\n[global\n");
        assert_eq!(line, 3);
        assert!(msg.contains("missing the closing"), "{msg}");
        let (line, msg) = parse_err("domainNumber 24\n[global]\n");
        assert_eq!(line, 1);
        assert!(msg.contains("not in a section"), "{msg}");
        assert_eq!(parse_err("[global]\n[]\n").0, 2);
        assert!(parse_err("[eth0 eth1]\n").1.contains("whitespace"));
        assert!(parse_err("[eth0] junk\n").1.contains("junk"));
    }

    #[test]
    fn empty_text_and_comments_only_are_valid() {
        assert_eq!(Ptp4lConf::parse("").unwrap(), Ptp4lConf::default());
        let conf = Ptp4lConf::parse("# only\n\n").unwrap();
        assert!(conf.sections.is_empty());
        assert_eq!(conf.render(), "# only\n\n");
    }

    #[test]
    fn error_display_names_line_and_problem() {
        let e = Ptp4lConf::parse("[global]\nx\n").unwrap_err();
        assert_eq!(e.to_string(), "ptp4l.conf line 2: option `x` has no value");
    }
}
