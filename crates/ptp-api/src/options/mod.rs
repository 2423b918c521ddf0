//! The linuxptp programs of a profile and their command lines: shell-like splitting of the
//! `*Opts` strings ([`split_options`]), getopt as the programs read an argv ([`getopt`]), and
//! the options and configuration keys the agent owns ([`owned`]), which a profile may not
//! override. Shared by the agent (which refuses such a profile) and the operator (which marks
//! the PtpConfig invalid).

pub mod getopt;
pub mod owned;
mod split;

pub use owned::{Conflict, check_conf, check_options};
pub use split::{SplitError, join, quote, split_options};

use crate::ptp_config::PtpProfile;

/// A linuxptp program the agent runs for a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Program {
    Ptp4l,
    Phc2sys,
    Ts2phc,
}

impl Program {
    /// In the order the agent starts them: the time source first, phc2sys last.
    pub const ALL: [Program; 3] = [Program::Ts2phc, Program::Ptp4l, Program::Phc2sys];

    /// The program name (also the name looked up on `PATH`).
    pub fn name(self) -> &'static str {
        match self {
            Program::Ptp4l => "ptp4l",
            Program::Phc2sys => "phc2sys",
            Program::Ts2phc => "ts2phc",
        }
    }

    /// The profile field with its command-line options.
    pub fn opts_field(self) -> &'static str {
        match self {
            Program::Ptp4l => "ptp4lOpts",
            Program::Phc2sys => "phc2sysOpts",
            Program::Ts2phc => "ts2phcOpts",
        }
    }

    /// The profile field with its configuration file.
    pub fn conf_field(self) -> &'static str {
        match self {
            Program::Ptp4l => "ptp4lConf",
            Program::Phc2sys => "phc2sysConf",
            Program::Ts2phc => "ts2phcConf",
        }
    }

    /// The getopt option string: the union of stock linuxptp 3.1 and 4.x (and `-D` of the
    /// phc2sys HA patches some distributions ship). No letter takes a value in one version and
    /// not in another; a letter a version does not know makes that version exit.
    pub fn optstring(self) -> &'static str {
        match self {
            Program::Ptp4l => "AEP246HSLf:i:p:sl:mqvh",
            Program::Phc2sys => "arc:d:f:s:E:P:I:S:F:R:N:O:L:M:D:i:u:wn:xz:l:t:mqvh",
            Program::Ts2phc => "ac:f:hi:l:mqs:v",
        }
    }

    /// The profile's options for this program, as written.
    pub fn opts(self, profile: &PtpProfile) -> Option<&str> {
        match self {
            Program::Ptp4l => profile.ptp4l_opts.as_deref(),
            Program::Phc2sys => profile.phc2sys_opts.as_deref(),
            Program::Ts2phc => profile.ts2phc_opts.as_deref(),
        }
    }

    /// The profile's configuration for this program, as written.
    pub fn conf(self, profile: &PtpProfile) -> Option<&str> {
        match self {
            Program::Ptp4l => profile.ptp4l_conf.as_deref(),
            Program::Phc2sys => profile.phc2sys_conf.as_deref(),
            Program::Ts2phc => profile.ts2phc_conf.as_deref(),
        }
    }

    /// Whether the agent runs this program for the profile: ptp4l unless `ptp4lOpts` is `""`
    /// (absent runs it), phc2sys and ts2phc when their options are set and not `""`.
    pub fn runs(self, profile: &PtpProfile) -> bool {
        match (self, self.opts(profile)) {
            (_, Some("")) => false,
            (Program::Ptp4l, None) => true,
            (_, None) => false,
            (_, Some(_)) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_programs_run() {
        let p = |ptp4l: Option<&str>, phc2sys: Option<&str>, ts2phc: Option<&str>| PtpProfile {
            ptp4l_opts: ptp4l.map(str::to_string),
            phc2sys_opts: phc2sys.map(str::to_string),
            ts2phc_opts: ts2phc.map(str::to_string),
            ..PtpProfile::named("p")
        };
        let runs = |profile: &PtpProfile| Program::ALL.into_iter().filter(|p| p.runs(profile)).collect::<Vec<_>>();
        assert_eq!(runs(&p(None, None, None)), vec![Program::Ptp4l]);
        assert_eq!(runs(&p(Some(""), Some(""), Some(""))), vec![]);
        assert_eq!(runs(&p(Some(" "), Some("-a"), Some(" "))), Program::ALL.to_vec());
    }

    #[test]
    fn fields_and_names() {
        let profile = PtpProfile {
            ptp4l_conf: Some("a".into()),
            phc2sys_conf: Some("b".into()),
            ts2phc_conf: Some("c".into()),
            ..PtpProfile::named("p")
        };
        let table: Vec<_> = Program::ALL
            .into_iter()
            .map(|p| (p.name(), p.opts_field(), p.conf_field(), p.conf(&profile).unwrap_or_default()))
            .collect();
        assert_eq!(
            table,
            vec![
                ("ts2phc", "ts2phcOpts", "ts2phcConf", "c"),
                ("ptp4l", "ptp4lOpts", "ptp4lConf", "a"),
                ("phc2sys", "phc2sysOpts", "phc2sysConf", "b"),
            ]
        );
        for p in Program::ALL {
            assert!(getopt::takes_value(p.optstring(), 'f'), "{p:?}");
            assert!(!getopt::takes_value(p.optstring(), 'm'), "{p:?}");
        }
    }
}
