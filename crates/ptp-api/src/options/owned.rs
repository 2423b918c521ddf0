//! The options and configuration keys the agent owns, and the decision whether a profile tries
//! to override one. Pure; the agent refuses such a profile (its running version is kept) and
//! the operator marks the PtpConfig invalid.
//!
//! The agent gives every program `-f <run-dir>/<program>.<id>.config` and tags its lines with
//! `message_tag`; ptp4l gets `uds_address <run-dir>/ptp4l.<id>.socket` in `[global]`; phc2sys
//! gets `-z` (that socket, unless the profile gives its own) and `-t`; all get `-m`. What a
//! profile may not do, for each program (every configuration key is also a long option
//! `--key=value` / `--key value`, and glibc accepts any unambiguous prefix, `--uds=/x`):
//!
//! | owned            | programs        | in `*Opts`                         | in `[global]` of `*Conf`      | in other sections |
//! |------------------|-----------------|------------------------------------|-------------------------------|-------------------|
//! | `-f`             | all             | refused (`-f X`, `-fX`, `-2mf X`)  | –                             | –                 |
//! | `message_tag`    | all             | refused (phc2sys: also `-t`)       | agent's value wins            | refused           |
//! | `uds_address`    | ptp4l           | refused                            | agent's value wins            | refused           |
//! | `uds_ro_address` | ptp4l           | refused                            | refused                       | refused           |
//! | `verbose`        | all             | refused                            | agent's `-m` wins             | refused           |
//!
//! * A key the agent writes (`message_tag`, `uds_address` of ptp4l) or fixes on the command line
//!   (`-m`, phc2sys `-t`, which take precedence over the file) is simply overridden in
//!   `[global]`: Go-era profiles commonly carry `message_tag [ptp4l.0.config:{level}]`.
//! * `uds_ro_address` is refused everywhere: the agent cannot set it (linuxptp 3.1 does not
//!   know the key and would refuse the file) and ptp4l replaces and deletes whatever path it
//!   names.
//! * These are global keys: linuxptp refuses them in a port section, so there they are refused
//!   up front with a clear reason instead of a crash-looping program.
//! * chronyd and timemaster: only `-f` (the agent writes `chronydConf` / `timemasterConf` to
//!   `<run-dir>/<program>.<id>.config`). chronyd's configuration is chrony's own syntax and not
//!   checked. In `timemasterConf`, the agent owns `rundir` of `[timemaster]` (its value wins:
//!   the agent appends its own `[timemaster]` section) and adds `-m --message_tag=[ptp4l.<id>.config]`
//!   to `options` of `[ptp4l]`, the command line of every ptp4l timemaster starts: there the
//!   options ptp4l's own `ptp4lOpts` may not give are refused too ([`check_timemaster_conf`]).
//! * Not owned: `-m` and `-q` (the agent adds `-m` when missing; `-q` only turns syslog off),
//!   ptp4l `-i` (adds a port, ptp4l ignores one named twice), phc2sys `-z`/`uds_address` and
//!   ts2phc's `uds_address` (a client address: phc2sys only sends to it; an only-phc2sys profile
//!   needs it to reach another profile's ptp4l).

use std::fmt;

use super::Program;
use super::getopt::{Opt, scan};
use crate::ptp4l_conf::Ptp4lConf;
use crate::timemaster_conf::TimemasterConf;

/// One way a profile would override something the agent owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The profile field: `ptp4lOpts`, `phc2sysConf`, ...
    pub field: &'static str,
    /// What the profile wrote: `` `--uds_address=/tmp/x` ``, `` `-f` in `-2mf` ``,
    /// `` `uds_address` in [eth0] ``.
    pub found: String,
    /// The option or key it sets: `-f`, `uds_address`, ...
    pub owned: &'static str,
    /// Why the agent owns it.
    pub why: String,
}

impl Conflict {
    /// The reason without the field: what was found, what it sets and why the agent owns it.
    pub fn message(&self) -> String {
        format!("{} sets {}, which the agent owns: {}", self.found, self.owned, self.why)
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// What happens to an owned key in `[global]` of the program's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InGlobal {
    /// The agent overwrites it or fixes it on the command line.
    AgentWins,
    Refused,
}

/// An owned configuration key (also a long option).
struct OwnedKey {
    key: &'static str,
    /// The program's short option for the same setting, if the agent owns it too.
    short: Option<char>,
    in_global: InGlobal,
}

const MESSAGE_TAG: OwnedKey = OwnedKey { key: "message_tag", short: None, in_global: InGlobal::AgentWins };
const VERBOSE: OwnedKey = OwnedKey { key: "verbose", short: None, in_global: InGlobal::AgentWins };

fn owned_keys(program: Program) -> &'static [OwnedKey] {
    match program {
        Program::Ptp4l => &[
            MESSAGE_TAG,
            OwnedKey { key: "uds_address", short: None, in_global: InGlobal::AgentWins },
            OwnedKey { key: "uds_ro_address", short: None, in_global: InGlobal::Refused },
            VERBOSE,
        ],
        Program::Phc2sys => &[OwnedKey { short: Some('t'), ..MESSAGE_TAG }, VERBOSE],
        Program::Ts2phc => &[MESSAGE_TAG, VERBOSE],
        Program::Chronyd | Program::Timemaster => &[],
    }
}

fn why(program: Program, owned: &str) -> String {
    let name = program.name();
    match owned {
        "-f" => {
            format!("the agent passes -f with the file it writes from {} (put settings there)", program.conf_field())
        }
        "message_tag" => {
            let tag = if program == Program::Ts2phc { "ts2phc" } else { "ptp4l" };
            format!(
                "the agent tags {name}'s lines with [{tag}.<id>.config] to tie them to the profile's metrics and status"
            )
        }
        "uds_address" => "ptp4l replaces that path with its management socket and deletes it when it stops; \
             the agent uses <run-dir>/ptp4l.<id>.socket, where phc2sys and pmc find it"
            .into(),
        "uds_ro_address" => "ptp4l (4.x) replaces that path with its read-only management socket and deletes it \
             when it stops"
            .into(),
        "verbose" => format!("the agent passes -m and reads {name}'s output for its metrics"),
        other => format!("{other} is set by the agent"),
    }
}

fn conflict(program: Program, field: &'static str, found: String, owned: &'static str) -> Conflict {
    Conflict { field, found, owned, why: why(program, owned) }
}

/// The owned key a long option name (as written, maybe abbreviated) can stand for.
fn owned_long(program: Program, name: &str) -> Option<&'static OwnedKey> {
    owned_keys(program).iter().find(|k| k.key.starts_with(name))
}

/// Options in `args` (the program's split `*Opts`) that would override what the agent owns.
pub fn check_options(program: Program, args: &[String]) -> Vec<Conflict> {
    let field = program.opts_field();
    let mut conflicts = Vec::new();
    for opt in scan(args, program.optstring()) {
        match opt {
            Opt::Short { flag: 'f', word, .. } => {
                conflicts.push(conflict(program, field, short_found('f', word), "-f"));
            }
            Opt::Short { flag, word, .. } => {
                if let Some(owned) = owned_keys(program).iter().find(|k| k.short == Some(flag)) {
                    conflicts.push(conflict(program, field, short_found(flag, word), owned.key));
                }
            }
            Opt::Long { name, word, .. } => {
                if let Some(owned) = owned_long(program, name) {
                    let found = if name == owned.key {
                        format!("`{word}`")
                    } else {
                        format!("`{word}` (getopt reads a prefix as --{})", owned.key)
                    };
                    conflicts.push(conflict(program, field, found, owned.key));
                }
            }
        }
    }
    conflicts
}

fn short_found(flag: char, word: &str) -> String {
    if word.len() == 1 + flag.len_utf8() { format!("`-{flag}`") } else { format!("`-{flag}` in `{word}`") }
}

/// What `[ptp4l] options` of a timemaster configuration would override: the options of
/// timemaster's ptp4l that the agent owns ([`check_options`] of ptp4l: `-f`, `message_tag`,
/// `uds_address`, `uds_ro_address`, `verbose`; timemaster gives each ptp4l its own file and
/// socket, the agent its tag), reported against `timemasterConf`.
pub fn check_timemaster_conf(conf: &TimemasterConf) -> Vec<Conflict> {
    let mut conflicts = Vec::new();
    for section in conf.sections_named("ptp4l") {
        let Some(options) = section.get("options") else { continue };
        let words: Vec<String> = options.split_whitespace().map(str::to_string).collect();
        for c in check_options(Program::Ptp4l, &words) {
            let why = match c.owned {
                "-f" | "uds_address" | "uds_ro_address" => {
                    format!("timemaster gives each of its ptp4l its own {} in its rundir", c.owned)
                }
                _ => c.why,
            };
            let found = format!("{} in [ptp4l] options", c.found);
            conflicts.push(Conflict { field: Program::Timemaster.conf_field(), found, owned: c.owned, why });
        }
    }
    conflicts
}

/// Keys of the program's configuration that would override what the agent owns: an owned key
/// the agent does not overwrite in `[global]`, or any owned key in another section.
pub fn check_conf(program: Program, conf: &Ptp4lConf) -> Vec<Conflict> {
    let field = program.conf_field();
    let mut conflicts = Vec::new();
    for section in &conf.sections {
        let global = section.is_global();
        for (key, _) in section.options() {
            let Some(owned) = owned_keys(program).iter().find(|k| k.key == key) else { continue };
            if global && owned.in_global == InGlobal::AgentWins {
                continue;
            }
            let found = format!("`{key}` in [{}]", section.name);
            conflicts.push(conflict(program, field, found, owned.key));
        }
    }
    conflicts
}

#[cfg(test)]
mod tests;
