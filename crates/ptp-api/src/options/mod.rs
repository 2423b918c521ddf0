//! The programs of a profile (linuxptp's, and chronyd) and their command lines: shell-like splitting of the
//! `*Opts` strings ([`split_options`]), getopt as the programs read an argv ([`getopt`]), and
//! the options and configuration keys the agent owns ([`owned`]), which a profile may not
//! override. Shared by the agent (which refuses such a profile) and the operator (which marks
//! the PtpConfig invalid).

pub mod getopt;
pub mod owned;
mod split;

pub use owned::{Conflict, check_conf, check_options, check_timemaster_conf};
pub use split::{SplitError, join, quote, split_options};

use crate::ptp_config::PtpProfile;

/// A program the agent runs for a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Program {
    Ptp4l,
    Phc2sys,
    Ts2phc,
    /// chrony's NTP daemon (`chronydOpts`, the Go API's NTP fallback).
    Chronyd,
    /// linuxptp's timemaster (`timemasterOpts`, an extension of the Go API), which runs its
    /// own ptp4l, phc2sys and chronyd (or ntpd).
    Timemaster,
}

impl Program {
    /// In the order the agent starts them: the time source first, phc2sys after ptp4l, then
    /// chronyd (after phc2sys, as the Go daemon), timemaster (independent of the others) last.
    pub const ALL: [Program; 5] =
        [Program::Ts2phc, Program::Ptp4l, Program::Phc2sys, Program::Chronyd, Program::Timemaster];

    /// The program name (also the name looked up on `PATH`).
    pub fn name(self) -> &'static str {
        match self {
            Program::Ptp4l => "ptp4l",
            Program::Phc2sys => "phc2sys",
            Program::Ts2phc => "ts2phc",
            Program::Chronyd => "chronyd",
            Program::Timemaster => "timemaster",
        }
    }

    /// Whether it is a linuxptp program (found in the agent's linuxptp directory, when it has
    /// one); chronyd is not.
    pub fn is_linuxptp(self) -> bool {
        self != Program::Chronyd
    }

    /// The profile field with its command-line options.
    pub fn opts_field(self) -> &'static str {
        match self {
            Program::Ptp4l => "ptp4lOpts",
            Program::Phc2sys => "phc2sysOpts",
            Program::Ts2phc => "ts2phcOpts",
            Program::Chronyd => "chronydOpts",
            Program::Timemaster => "timemasterOpts",
        }
    }

    /// The profile field with its configuration file.
    pub fn conf_field(self) -> &'static str {
        match self {
            Program::Ptp4l => "ptp4lConf",
            Program::Phc2sys => "phc2sysConf",
            Program::Ts2phc => "ts2phcConf",
            Program::Chronyd => "chronydConf",
            Program::Timemaster => "timemasterConf",
        }
    }

    /// The getopt option string: the union of stock linuxptp 3.1 and 4.x (and `-D` of the
    /// phc2sys HA patches some distributions ship). No letter takes a value in one version and
    /// not in another; a letter a version does not know makes that version exit. chronyd's is
    /// chrony 4.x's.
    pub fn optstring(self) -> &'static str {
        match self {
            Program::Ptp4l => "AEP246HSLf:i:p:sl:mqvh",
            Program::Phc2sys => "arc:d:f:s:E:P:I:S:F:R:N:O:L:M:D:i:u:wn:xz:l:t:mqvh",
            Program::Ts2phc => "ac:f:hi:l:mqs:v",
            Program::Chronyd => "46df:F:hl:L:mnpP:qQrRst:u:Uvx",
            Program::Timemaster => "f:hl:mnqv",
        }
    }

    /// The profile's options for this program, as written.
    pub fn opts(self, profile: &PtpProfile) -> Option<&str> {
        match self {
            Program::Ptp4l => profile.ptp4l_opts.as_deref(),
            Program::Phc2sys => profile.phc2sys_opts.as_deref(),
            Program::Ts2phc => profile.ts2phc_opts.as_deref(),
            Program::Chronyd => profile.chronyd_opts.as_deref(),
            Program::Timemaster => profile.timemaster_opts.as_deref(),
        }
    }

    /// The profile's configuration for this program, as written.
    pub fn conf(self, profile: &PtpProfile) -> Option<&str> {
        match self {
            Program::Ptp4l => profile.ptp4l_conf.as_deref(),
            Program::Phc2sys => profile.phc2sys_conf.as_deref(),
            Program::Ts2phc => profile.ts2phc_conf.as_deref(),
            Program::Chronyd => profile.chronyd_conf.as_deref(),
            Program::Timemaster => profile.timemaster_conf.as_deref(),
        }
    }

    /// Whether the agent runs this program for the profile: ptp4l unless `ptp4lOpts` is `""`
    /// (absent runs it), the others when their options are set and not `""`.
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
        let p = |ptp4l: Option<&str>, others: Option<&str>| PtpProfile {
            ptp4l_opts: ptp4l.map(str::to_string),
            phc2sys_opts: others.map(str::to_string),
            ts2phc_opts: others.map(str::to_string),
            chronyd_opts: others.map(str::to_string),
            timemaster_opts: others.map(str::to_string),
            ..PtpProfile::named("p")
        };
        let runs = |profile: &PtpProfile| Program::ALL.into_iter().filter(|p| p.runs(profile)).collect::<Vec<_>>();
        assert_eq!(runs(&p(None, None)), vec![Program::Ptp4l]);
        assert_eq!(runs(&p(Some(""), Some(""))), vec![]);
        assert_eq!(runs(&p(Some(" "), Some(" "))), Program::ALL.to_vec());
        let only_chronyd =
            PtpProfile { ptp4l_opts: Some("".into()), chronyd_opts: Some("-x".into()), ..PtpProfile::named("p") };
        assert_eq!(runs(&only_chronyd), vec![Program::Chronyd]);
    }

    #[test]
    fn fields_and_names() {
        let profile = PtpProfile {
            ptp4l_conf: Some("a".into()),
            phc2sys_conf: Some("b".into()),
            ts2phc_conf: Some("c".into()),
            chronyd_conf: Some("d".into()),
            timemaster_conf: Some("e".into()),
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
                ("chronyd", "chronydOpts", "chronydConf", "d"),
                ("timemaster", "timemasterOpts", "timemasterConf", "e"),
            ]
        );
        assert!(!Program::Chronyd.is_linuxptp() && Program::Timemaster.is_linuxptp());
        for p in Program::ALL {
            assert!(getopt::takes_value(p.optstring(), 'f'), "{p:?}");
            assert!(!getopt::takes_value(p.optstring(), 'm'), "{p:?}");
        }
    }
}
