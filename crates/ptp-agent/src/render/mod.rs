//! Rendering a profile into what runs it: the configuration files to write under the run
//! directory and the linuxptp processes to start, as plain data. Pure: no I/O here; writing the
//! files and starting (and scheduling) the processes is the supervisor's job.
//!
//! For a profile with run id `<id>` (see [`RunIds`]) and run directory `<run-dir>` (default
//! [`DEFAULT_RUN_DIR`], the agent's `--run-dir DIR`):
//!
//! * **ts2phc** runs when `ts2phcOpts` is set and not `""`: file `<run-dir>/ts2phc.<id>.config`,
//!   argv `-f <file> -m <ts2phcOpts>`.
//! * **ptp4l** runs unless `ptp4lOpts` is `""` (absent runs it): file
//!   `<run-dir>/ptp4l.<id>.config`, argv `-f <file> -m <ptp4lOpts>`.
//! * **phc2sys** runs when `phc2sysOpts` is set and not `""`: file `<run-dir>/phc2sys.<id>.config`
//!   only when `phc2sysConf` is set, argv
//!   `[-f <file>] [-z <run-dir>/ptp4l.<id>.socket] -t [ptp4l.<id>.config] -m <phc2sysOpts>`.
//!
//! * **chronyd** runs when `chronydOpts` is set and not `""`: file `<run-dir>/chronyd.<id>.config`
//!   (`chronydConf` as written, chrony's own syntax; empty when absent), argv
//!   `-f <file> [-d] <chronydOpts>`: `-d` (foreground, messages to stderr, where the agent reads
//!   them) unless the options give `-d` or `-n` (foreground, messages to syslog). chronyd
//!   daemonizes otherwise and the supervisor would see it exit.
//! * **timemaster** (an extension of the Go API) runs when `timemasterOpts` is set and not `""`:
//!   file `<run-dir>/timemaster.<id>.config`, argv `-f <file> -m <timemasterOpts>`. The file is
//!   `timemasterConf` (validated as timemaster reads it) with the profile's `interface` as
//!   `interfaces` of every `[ptp_domain N]` section that has none (a `[ptp_domain 0]` is added
//!   when there is no such section and `interface` is set), then the agent's sections, which
//!   timemaster reads last so their settings win: `[timemaster] rundir <run-dir>/timemaster.<id>`
//!   (its ptp4l and chronyd files and sockets) and `[ptp4l] options` = the profile's `[ptp4l]
//!   options` (timemaster's default `-l 5` replaced by `-l 6` when there are none, so ptp4l
//!   prints its offsets) plus `-m` and `--message_tag=[ptp4l.<id>.config]`: every ptp4l timemaster
//!   starts prints to the supervisor's pipe with the profile's ptp4l tag, so its offsets reach
//!   the profile's metrics (a command-line option wins over the `message_tag` timemaster writes
//!   into their files). A profile whose own ptp4l would run on an interface of timemaster's, or
//!   whose own chronyd would run beside timemaster's, is refused
//!   ([`ptp_api::validation`], `ConflictingProcesses`).
//!
//! * Processes are listed (and should be started) in the Go daemon's order: ts2phc, ptp4l,
//!   phc2sys, chronyd — the time source first, phc2sys after ptp4l since it reads its socket —
//!   then timemaster. Files are listed in the same order.
//! * Options are split like a shell would ([`split_options`]); an options string of only
//!   whitespace (`" "`) counts as set: the process runs with just the agent's own arguments.
//! * Options and configuration keys the agent owns (`-f`, `message_tag` and phc2sys's `-t`,
//!   ptp4l's `uds_address` and `uds_ro_address`, `verbose`; in any spelling, see
//!   [`ptp_api::options::owned`]) may not be overridden: such a profile is an [`Error::Profile`]
//!   naming the field and the option, and is refused. In `[global]` of a configuration the
//!   agent's own `message_tag`, `uds_address` and `-m` simply win.
//! * `-m` (and phc2sys's `-z`) are added only when the profile's options do not already give
//!   them (found the way the programs' getopt finds them, so `-mq`, `-z/path` or
//!   `--uds_address=/path` count); the agent's arguments come first, the profile's options after.
//! * ptp4l's configuration is `ptp4lConf` (an empty one with `[global]` when absent) with
//!   `[<interface>]` appended when `interface` is set, not `""` and the section is not there yet
//!   (an `-i IF` in `ptp4lOpts` is kept as well; ptp4l ignores a port named twice), and in
//!   `[global]` `message_tag [ptp4l.<id>.config]` and `uds_address <run-dir>/ptp4l.<id>.socket`,
//!   both replacing any value the profile set (in every `[global]` section, since linuxptp reads
//!   repeated sections in turn): the tag is how log lines are tied to the profile,
//!   and phc2sys and pmc must find the socket. The tag has no `{level}`: stock linuxptp (Debian's
//!   3.1 and 4.x) prints `message_tag` as written.
//! * With linuxptp 4.0 or later ([`RenderEnv::linuxptp`]) ptp4l's `[global]` also gets
//!   `uds_ro_address <run-dir>/ptp4l.<id>.ro.socket`: the default read-only socket,
//!   `/var/run/ptp4lro`, would be shared by every ptp4l of the node. 3.1 does not know the key.
//! * `ptpSettings.haProfiles: "a,b"` (linuxptp 4.2 or later, else the profile is refused): phc2sys
//!   gets one `-z <run-dir>/ptp4l.<id>.socket` per named profile of the node (instead of its own
//!   profile's socket) and `-a` when there are several and its options do not give it (stock
//!   phc2sys follows several domains only in automatic mode); a name that is not a profile of the
//!   node, or a `-z` of its own, refuses the profile. [`RunPlan::ha_profiles`] lists them.
//! * `ptpSettings.controllingProfile: <name>` (a T-BC's time transmitter): `name` must be
//!   another profile of the node, and this one must run ptp4l; [`RunPlan::controlled_by`] says
//!   which ([`crate::tbc`] is what it does).
//! * phc2sys gets `-z` (ptp4l's socket, also when this profile does not run ptp4l, so an
//!   only-phc2sys profile should pass its own `-z` if it needs another ptp4l: phc2sys only
//!   sends to that address) and `-t [ptp4l.<id>.config]`, so its lines carry the same tag as the
//!   profile's ptp4l lines, as with the Go daemon. `phc2sysConf`, when set, is written as is
//!   (normalised, validated) and passed with `-f`; command-line `-z`/`-t` take precedence over
//!   its `uds_address`/`message_tag`.
//! * ts2phc always gets a configuration file: `ts2phcConf` (or an empty one) with
//!   `message_tag [ts2phc.<id>.config]` set in `[global]`.
//! * A configuration is only parsed (and so validated) when its process runs; a parse error is
//!   an [`Error::Profile`] naming the profile, the field and the line, and the whole profile is
//!   refused.
//! * `ptpSchedulingPolicy: SCHED_FIFO` with `ptpSchedulingPriority` (1..=65) gives every process
//!   of the profile `Sched { fifo: true, priority }`; SCHED_OTHER or absent gives `None` (the
//!   priority is then ignored). SCHED_FIFO without a priority, or one out of range, is an error.

mod key;
mod run_ids;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use ptp_api::options::getopt::{Opt, scan};
use ptp_api::options::{Program, check_conf, check_options, check_timemaster_conf};
use ptp_api::ptp4l_conf::Ptp4lConf;
use ptp_api::timemaster_conf::TimemasterConf;
use ptp_api::validation::{timemaster_conf, timemaster_interfaces};
use ptp_api::{ApiError, Code, PtpProfile, SchedulingPolicy, validate_profile};

use crate::Error;
use crate::linuxptp::{HA_PHC2SYS, Linuxptp};
use ptp_api::settings::ProfileSettings;

pub use key::ProcessKey;
pub use ptp_api::options::{SplitError, join, quote, split_options};
pub use run_ids::{RUN_IDS_FILE, RunIds, index_text, parse_index};

/// Run directory when `--run-dir` is not given.
pub const DEFAULT_RUN_DIR: &str = "/var/run";

/// Process names as log lines and metrics carry them ([`Program::name`]).
pub const PTP4L: &str = "ptp4l";
pub const PHC2SYS: &str = "phc2sys";
pub const TS2PHC: &str = "ts2phc";
pub const CHRONYD: &str = "chronyd";
pub const TIMEMASTER: &str = "timemaster";

/// Range of `ptpSchedulingPriority` (the CRD schema's).
const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = 1..=65;

/// Everything needed to run one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunPlan {
    /// The profile's name.
    pub profile: String,
    pub run_id: u32,
    /// Files to write before starting the processes: path and content, in process order.
    pub files: Vec<(PathBuf, String)>,
    /// Processes to start, in start order (ts2phc, ptp4l, phc2sys; each only when it runs).
    pub processes: Vec<ProcessPlan>,
    /// The interfaces of ptp4l's configuration, in the order of its port sections (ptp4l numbers
    /// its ports from 1 in this order); empty when ptp4l does not run.
    pub ptp4l_ports: Vec<String>,
    /// ptp4l's `domainNumber` (its `[global]` value, or `--domainNumber` in `ptp4lOpts`, which
    /// wins as on ptp4l's command line; default 0): management messages must carry it.
    pub ptp4l_domain: u8,
    /// The profiles its phc2sys follows (`haProfiles`): name and run id, in the order given.
    pub ha_profiles: Vec<(String, u32)>,
    /// The profile that controls this one's ptp4l (`controllingProfile`, a T-BC's time
    /// transmitter): name and run id.
    pub controlled_by: Option<(String, u32)>,
}

impl RunPlan {
    /// The key of one of its processes.
    pub fn key(&self, process: &ProcessPlan) -> ProcessKey {
        ProcessKey::new(process.program, self.run_id)
    }

    /// Whether it runs `program`.
    pub fn runs(&self, program: Program) -> bool {
        self.processes.iter().any(|p| p.program == program)
    }
}

/// One process of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessPlan {
    /// The program; its [`Program::name`] is resolved on `PATH` (or in a bin directory) by
    /// whoever starts it.
    pub program: Program,
    /// Arguments, without the program name.
    pub args: Vec<String>,
    /// Real-time scheduling to apply to the child (sched_setscheduler), if any.
    pub sched: Option<Sched>,
    /// The configuration file the process reads (`-f`), one of [`RunPlan::files`].
    pub config_file: Option<PathBuf>,
}

/// Scheduling of a process: `fifo` is SCHED_FIFO at `priority`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sched {
    pub fifo: bool,
    pub priority: i32,
}

/// `<run-dir>/ptp4l.<id>.config`
pub fn ptp4l_config_path(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(ProcessKey::new(Program::Ptp4l, run_id).to_string())
}

/// `<run-dir>/ptp4l.<id>.socket`: ptp4l's `uds_address`, used by phc2sys (`-z`) and pmc (`-s`).
pub fn ptp4l_socket_path(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(format!("ptp4l.{run_id}.socket"))
}

/// `<run-dir>/ptp4l.<id>.ro.socket`: ptp4l's `uds_ro_address` (linuxptp 4.0 and later).
pub fn ptp4l_ro_socket_path(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(format!("ptp4l.{run_id}.ro.socket"))
}

/// `<run-dir>/phc2sys.<id>.config`
pub fn phc2sys_config_path(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(ProcessKey::new(Program::Phc2sys, run_id).to_string())
}

/// `<run-dir>/ts2phc.<id>.config`
pub fn ts2phc_config_path(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(ProcessKey::new(Program::Ts2phc, run_id).to_string())
}

/// `<run-dir>/chronyd.<id>.config`
pub fn chronyd_config_path(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(ProcessKey::new(Program::Chronyd, run_id).to_string())
}

/// `<run-dir>/timemaster.<id>.config`
pub fn timemaster_config_path(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(ProcessKey::new(Program::Timemaster, run_id).to_string())
}

/// `<run-dir>/timemaster.<id>`: timemaster's `rundir` (its ptp4l and chronyd files and sockets).
pub fn timemaster_run_dir(run_dir: &Path, run_id: u32) -> PathBuf {
    run_dir.join(format!("timemaster.{run_id}"))
}

/// The message tag of the profile's ptp4l and phc2sys lines: `[ptp4l.<id>.config]`.
pub fn ptp4l_message_tag(run_id: u32) -> String {
    format!("[{}]", ProcessKey::new(Program::Ptp4l, run_id))
}

/// The message tag of the profile's ts2phc lines: `[ts2phc.<id>.config]`.
pub fn ts2phc_message_tag(run_id: u32) -> String {
    format!("[{}]", ProcessKey::new(Program::Ts2phc, run_id))
}

/// What a profile is rendered for: the node's run directory, its linuxptp, and the run ids of
/// the node's profiles (which `haProfiles` names).
#[derive(Clone, Copy, Debug)]
pub struct RenderEnv<'a> {
    pub run_dir: &'a Path,
    pub linuxptp: &'a Linuxptp,
    /// The node's profiles by name; `None`: no other profile is known.
    pub profiles: Option<&'a RunIds>,
}

/// A linuxptp version not known: nothing version-dependent is rendered.
static UNKNOWN: LazyLock<Linuxptp> = LazyLock::new(Linuxptp::default);

impl<'a> RenderEnv<'a> {
    /// Only a run directory: the linuxptp version is not known, no other profile is.
    pub fn plain(run_dir: &'a Path) -> Self {
        RenderEnv { run_dir, linuxptp: &UNKNOWN, profiles: None }
    }
}

/// Renders one profile with only a run directory known (see [`render`]).
pub fn render_profile(profile: &PtpProfile, run_id: u32, run_dir: &Path) -> Result<RunPlan, Error> {
    render(profile, run_id, &RenderEnv::plain(run_dir))
}

/// Renders one profile (see the module documentation for every rule).
pub fn render(profile: &PtpProfile, run_id: u32, env: &RenderEnv<'_>) -> Result<RunPlan, Error> {
    let fail = |message: String| Error::Profile { profile: profile.name.clone(), message };
    let settings = ProfileSettings::of(profile).map_err(fail)?;
    let run_dir = env.run_dir;
    let run_dir_text =
        run_dir.to_str().ok_or_else(|| fail(format!("run directory {} is not valid UTF-8", run_dir.display())))?;
    let run_dir = Path::new(run_dir_text);
    let sched = scheduling(profile).map_err(fail)?;
    let mut rendered = RunPlan {
        profile: profile.name.clone(),
        run_id,
        files: Vec::new(),
        processes: Vec::new(),
        ptp4l_ports: Vec::new(),
        ptp4l_domain: 0,
        ha_profiles: Vec::new(),
        controlled_by: None,
    };

    if let Some(opts) = options(profile, Program::Ts2phc).map_err(fail)? {
        let mut conf = parse_conf(profile, Program::Ts2phc).map_err(fail)?;
        conf.set("global", "message_tag", ts2phc_message_tag(run_id));
        let file = ts2phc_config_path(run_dir, run_id);
        let mut args = vec!["-f".to_string(), path_arg(&file)];
        if !gives(&opts, Program::Ts2phc, 'm', None) {
            args.push("-m".into());
        }
        args.extend(opts);
        rendered.files.push((file.clone(), conf.render()));
        rendered.processes.push(plan(Program::Ts2phc, args, sched, Some(file)));
    }

    if let Some(opts) = options(profile, Program::Ptp4l).map_err(fail)? {
        let mut conf = parse_conf(profile, Program::Ptp4l).map_err(fail)?;
        conf.set("global", "message_tag", ptp4l_message_tag(run_id));
        conf.set("global", "uds_address", path_arg(&ptp4l_socket_path(run_dir, run_id)));
        if env.linuxptp.uds_ro_address() {
            conf.set("global", "uds_ro_address", path_arg(&ptp4l_ro_socket_path(run_dir, run_id)));
        }
        if let Some(interface) = interface(profile).map_err(fail)?
            && conf.section(interface).is_none()
        {
            conf.section_mut_or_insert(interface);
        }
        let file = ptp4l_config_path(run_dir, run_id);
        let mut args = vec!["-f".to_string(), path_arg(&file)];
        if !gives(&opts, Program::Ptp4l, 'm', None) {
            args.push("-m".into());
        }
        rendered.ptp4l_domain = domain_number(conf.get("global", "domainNumber"), &opts).map_err(fail)?;
        args.extend(opts);
        rendered.ptp4l_ports = conf.interface_names().map(str::to_string).collect();
        rendered.files.push((file.clone(), conf.render()));
        rendered.processes.push(plan(Program::Ptp4l, args, sched, Some(file)));
    }

    if let Some(name) = &settings.controlling_profile {
        rendered.controlled_by = Some(controlling(profile, name, env).map_err(fail)?);
    }

    if let Some(opts) = options(profile, Program::Phc2sys).map_err(fail)? {
        let mut args = Vec::new();
        let mut config_file = None;
        if profile.phc2sys_conf.is_some() {
            let conf = parse_conf(profile, Program::Phc2sys).map_err(fail)?;
            let file = phc2sys_config_path(run_dir, run_id);
            args.extend(["-f".to_string(), path_arg(&file)]);
            rendered.files.push((file.clone(), conf.render()));
            config_file = Some(file);
        }
        if !settings.ha_profiles.is_empty() {
            rendered.ha_profiles = ha_members(&settings.ha_profiles, &opts, env).map_err(fail)?;
            for (_, id) in &rendered.ha_profiles {
                args.extend(["-z".to_string(), path_arg(&ptp4l_socket_path(run_dir, *id))]);
            }
            if rendered.ha_profiles.len() > 1 && !gives(&opts, Program::Phc2sys, 'a', None) {
                args.push("-a".into());
            }
        } else if !gives(&opts, Program::Phc2sys, 'z', Some("uds_address")) {
            args.extend(["-z".to_string(), path_arg(&ptp4l_socket_path(run_dir, run_id))]);
        }
        args.extend(["-t".to_string(), ptp4l_message_tag(run_id)]);
        if !gives(&opts, Program::Phc2sys, 'm', None) {
            args.push("-m".into());
        }
        args.extend(opts);
        rendered.processes.push(plan(Program::Phc2sys, args, sched, config_file));
    }

    if let Some(opts) = options(profile, Program::Chronyd).map_err(fail)? {
        let file = chronyd_config_path(run_dir, run_id);
        let mut args = vec!["-f".to_string(), path_arg(&file)];
        if !gives(&opts, Program::Chronyd, 'd', None) && !gives(&opts, Program::Chronyd, 'n', None) {
            args.push("-d".into());
        }
        args.extend(opts);
        let mut content = profile.chronyd_conf.clone().unwrap_or_default();
        if !content.is_empty() && !content.ends_with('\n') {
            content.push('\n');
        }
        rendered.files.push((file.clone(), content));
        rendered.processes.push(plan(Program::Chronyd, args, sched, Some(file)));
    }

    if let Some(opts) = options(profile, Program::Timemaster).map_err(fail)? {
        let conf = timemaster_file(profile, run_id, run_dir).map_err(fail)?;
        let file = timemaster_config_path(run_dir, run_id);
        let mut args = vec!["-f".to_string(), path_arg(&file)];
        if !gives(&opts, Program::Timemaster, 'm', None) {
            args.push("-m".into());
        }
        args.extend(opts);
        rendered.files.push((file.clone(), conf.render()));
        rendered.processes.push(plan(Program::Timemaster, args, sched, Some(file)));
    }

    Ok(rendered)
}

/// timemaster's configuration for the profile (see the module documentation).
fn timemaster_file(profile: &PtpProfile, run_id: u32, run_dir: &Path) -> Result<TimemasterConf, String> {
    let field = Program::Timemaster.conf_field();
    let mut conf = timemaster_conf(profile).map_err(|e| format!("{field} {e}"))?;
    refuse_conflicts(check_timemaster_conf(&conf))?;
    let problems: Vec<String> = validate_profile(profile)
        .errors()
        .filter(|f| matches!(f.code, Code::ConflictingProcesses | Code::InvalidTimemasterConf))
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect();
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    timemaster_interfaces(profile, &conf).map_err(|e| format!("{field}: {e}"))?;
    if let Some(iface) = interface(profile)? {
        let mut any = false;
        for section in conf.sections.iter_mut().filter(|s| s.name == "ptp_domain") {
            any = true;
            if section.get("interfaces").is_none_or(|v| v.trim().is_empty()) {
                // After its last line that is not blank, so that it reads as part of the section.
                let at = section.lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
                section.lines.insert(at, format!("interfaces {iface}"));
            }
        }
        if !any {
            conf.push("ptp_domain", Some("0"), [format!("interfaces {iface}")]);
        }
    }
    let mut ptp4l: Vec<String> = match conf.get("ptp4l", "options") {
        Some(given) => given.split_whitespace().map(str::to_string).collect(),
        None => vec!["-l".into(), "6".into()],
    };
    if !gives(&ptp4l, Program::Ptp4l, 'm', None) {
        ptp4l.push("-m".into());
    }
    ptp4l.push(format!("--message_tag={}", ptp4l_message_tag(run_id)));
    let rundir = path_arg(&timemaster_run_dir(run_dir, run_id));
    if rundir.contains(char::is_whitespace) {
        return Err(format!("run directory {rundir:?} has whitespace, which timemaster cannot read in rundir"));
    }
    let note = "# ptp-agent: read last, these settings win".to_string();
    conf.push("timemaster", None, [note.clone(), format!("rundir {rundir}")]);
    conf.push("ptp4l", None, [note, format!("options {}", ptp4l.join(" "))]);
    Ok(conf)
}

/// The profiles of `haProfiles` with their run ids: phc2sys gets one `-z` per profile's ptp4l
/// socket, in the order given, and `-a` when there are several and the options do not give it
/// (stock phc2sys needs automatic configuration to follow several domains). Needs linuxptp
/// [`HA_PHC2SYS`]; each name must be a profile of the node; the options may not give their own
/// `-z`.
fn ha_members(names: &[String], opts: &[String], env: &RenderEnv<'_>) -> Result<Vec<(String, u32)>, String> {
    env.linuxptp.require(HA_PHC2SYS, "ptpSettings.haProfiles (phc2sys following several ptp4l)")?;
    if gives(opts, Program::Phc2sys, 'z', Some("uds_address")) {
        return Err("phc2sysOpts gives -z, and ptpSettings.haProfiles gives phc2sys its ptp4l sockets: keep one".into());
    }
    names
        .iter()
        .map(|name| {
            env.profiles
                .and_then(|ids| ids.get(name))
                .map(|id| (name.clone(), id))
                .ok_or_else(|| format!("ptpSettings.haProfiles names {name:?}, which is not a profile of this node"))
        })
        .collect()
}

/// `controllingProfile`: another profile of the node, and this one runs ptp4l (the ptp4l it
/// controls).
fn controlling(profile: &PtpProfile, name: &str, env: &RenderEnv<'_>) -> Result<(String, u32), String> {
    if name == profile.name {
        return Err("ptpSettings.controllingProfile names the profile itself".into());
    }
    if !Program::Ptp4l.runs(profile) {
        return Err("ptpSettings.controllingProfile is set, but the profile runs no ptp4l to control".into());
    }
    env.profiles
        .and_then(|ids| ids.get(name))
        .map(|id| (name.to_string(), id))
        .ok_or_else(|| format!("ptpSettings.controllingProfile names {name:?}, which is not a profile of this node"))
}

fn plan(program: Program, args: Vec<String>, sched: Option<Sched>, config_file: Option<PathBuf>) -> ProcessPlan {
    ProcessPlan { program, args, sched, config_file }
}

/// A path as an argument; `render_profile` has checked that the run directory is UTF-8.
fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The profile's arguments for a program, or `None` when it does not run
/// ([`Program::runs`]); options that override what the agent owns are an error.
fn options(profile: &PtpProfile, program: Program) -> Result<Option<Vec<String>>, String> {
    if !program.runs(profile) {
        return Ok(None);
    }
    let field = program.opts_field();
    let args = split_options(program.opts(profile).unwrap_or_default()).map_err(|e| format!("{field}: {e}"))?;
    refuse_conflicts(check_options(program, &args))?;
    Ok(Some(args))
}

/// Parses a program's configuration (absent is an empty one); keys that override what the
/// agent owns are an error.
fn parse_conf(profile: &PtpProfile, program: Program) -> Result<Ptp4lConf, String> {
    let field = program.conf_field();
    let conf = Ptp4lConf::parse(program.conf(profile).unwrap_or_default()).map_err(|e| match e {
        ApiError::ConfParse { line, message } => format!("{field} line {line}: {message}"),
        other => format!("{field}: {other}"),
    })?;
    refuse_conflicts(check_conf(program, &conf))?;
    Ok(conf)
}

fn refuse_conflicts(conflicts: Vec<ptp_api::options::Conflict>) -> Result<(), String> {
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(conflicts.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
}

/// The interface to add a section for: set, not `""`, and usable as a section name.
fn interface(profile: &PtpProfile) -> Result<Option<&str>, String> {
    match profile.interface.as_deref() {
        None | Some("") => Ok(None),
        Some(name) if name.chars().any(|c| c.is_whitespace() || matches!(c, '[' | ']' | '/')) => {
            Err(format!("interface {name:?} is not a valid interface name"))
        }
        Some(name) => Ok(Some(name)),
    }
}

fn scheduling(profile: &PtpProfile) -> Result<Option<Sched>, String> {
    match profile.ptp_scheduling_policy {
        None | Some(SchedulingPolicy::SchedOther) => Ok(None),
        Some(SchedulingPolicy::SchedFifo) => match profile.ptp_scheduling_priority {
            None => Err("ptpSchedulingPolicy SCHED_FIFO needs ptpSchedulingPriority (1..65)".into()),
            Some(p) if PRIORITY_RANGE.contains(&p) => {
                let priority = i32::try_from(p).map_err(|_| format!("ptpSchedulingPriority {p} is out of range"))?;
                Ok(Some(Sched { fifo: true, priority }))
            }
            Some(p) => Err(format!("ptpSchedulingPriority {p} is out of range (1..65)")),
        },
    }
}

/// Whether the profile's options give short option `flag`, or the long option `key` (any
/// prefix getopt accepts), the way the program's getopt reads them.
fn gives(args: &[String], program: Program, flag: char, key: Option<&str>) -> bool {
    scan(args, program.optstring()).iter().any(|opt| match opt {
        Opt::Short { flag: f, .. } => *f == flag,
        Opt::Long { name, .. } => key.is_some_and(|k| !name.is_empty() && k.starts_with(name)),
    })
}

/// ptp4l's domain: `--domainNumber` in its options, else the `[global]` value, else 0.
fn domain_number(global: Option<&str>, opts: &[String]) -> Result<u8, String> {
    let mut words = opts.iter();
    let mut given = None;
    while let Some(word) = words.next() {
        if let Some(rest) = word.strip_prefix("--domainNumber") {
            given = match rest.strip_prefix('=') {
                Some(value) => Some(value),
                None if rest.is_empty() => words.next().map(String::as_str),
                None => given,
            };
        }
    }
    match given.or(global) {
        None => Ok(0),
        Some(text) => text
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|d| *d <= 127)
            .ok_or_else(|| format!("ptp4l domainNumber {text:?} is not a number in 0..=127")),
    }
}

impl fmt::Display for RunPlan {
    /// A readable listing: each file's path and content, then each process's scheduling, config
    /// file and argv (shell-quoted). Used by the golden tests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "profile {} (run id {})", self.profile, self.run_id)?;
        for (path, content) in &self.files {
            writeln!(f, "\n=== file {}", path.display())?;
            f.write_str(content)?;
            if !content.is_empty() && !content.ends_with('\n') {
                writeln!(f)?;
            }
            writeln!(f, "=== end of file")?;
        }
        for process in &self.processes {
            writeln!(f, "\n=== process {}", process.program.name())?;
            match process.sched {
                Some(Sched { fifo: true, priority }) => writeln!(f, "sched: SCHED_FIFO {priority}")?,
                Some(Sched { fifo: false, priority }) => writeln!(f, "sched: SCHED_OTHER {priority}")?,
                None => writeln!(f, "sched: default")?,
            }
            if let Some(file) = &process.config_file {
                writeln!(f, "config: {}", file.display())?;
            }
            let mut argv = vec![process.program.name().to_string()];
            argv.extend(process.args.iter().cloned());
            writeln!(f, "argv: {}", join(&argv))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
