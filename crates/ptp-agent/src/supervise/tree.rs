//! Finding a child's whole tree through /proc, for the processes that left its process group.
//!
//! Every child gets a mark in its environment, [`CHILD_ENV`] = a value unique to that start of
//! that child (the agent's pid and start time, and a sequence number). Its descendants inherit
//! the environment, also those that started a session of their own (`setsid`, a daemon's double
//! fork), so that stopping the child can find and end them: its process group is signalled, then
//! every marked process outside it. A descendant that clears its environment (`env -i`) escapes
//! the mark; the agent, a child subreaper (see [`super::reaper`]), adopts it when its parent dies
//! and ends it when the agent stops.
//!
//! Parsing is pure ([`parse_stat`], [`env_value`]); the rest reads /proc.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tracing::warn;

/// The environment variable marking a child and its descendants.
pub const CHILD_ENV: &str = "PTP_AGENT_CHILD";

/// What /proc/<pid>/stat says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    /// State `Z` (or `X`): exited, not yet reaped.
    pub zombie: bool,
    /// Clock ticks after boot at which it started: with the pid, names one process for good.
    pub starttime: u64,
}

/// Parses the text of /proc/<pid>/stat. The command name (in parentheses) may hold anything,
/// spaces and parentheses included: the fields follow its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once(" (")?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Field 3 (state) is the first after the name; starttime is field 22.
    let state = *fields.first()?;
    Some(Stat {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        zombie: state == "Z" || state == "X",
        starttime: fields.get(22 - 3)?.parse().ok()?,
    })
}

/// The value of `name` in an environment block (/proc/<pid>/environ: `NAME=value` entries, each
/// ended by a NUL).
pub fn env_value<'a>(environ: &'a [u8], name: &str) -> Option<&'a [u8]> {
    environ.split(|&b| b == 0).find_map(|entry| entry.strip_prefix(name.as_bytes())?.strip_prefix(b"="))
}

/// The stat of `pid`, if it exists.
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether the process `s` names is still there and not a zombie (not another process that got
/// its pid since).
pub fn alive(s: &Stat) -> bool {
    stat(s.pid).is_some_and(|now| now.starttime == s.starttime && !now.zombie)
}

/// A value for [`CHILD_ENV`] no other child of any agent has: `<agent pid>-<agent start>-<n>`.
pub fn new_child_id() -> String {
    static SELF: OnceLock<(u32, u64)> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let (pid, start) = *SELF.get_or_init(|| {
        let pid = std::process::id();
        let start = i32::try_from(pid).ok().and_then(stat).map_or(0, |s| s.starttime);
        (pid, start)
    });
    format!("{pid}-{start}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Every process, this one excepted, whose stat passes `keep`.
pub fn processes(mut keep: impl FnMut(&Stat) -> bool) -> Vec<Stat> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(stat)
        .filter(|s| keep(s))
        .collect()
}

/// Every live process (this one excepted) whose environment has `name=value`.
pub fn marked(name: &str, value: &str) -> Vec<Stat> {
    processes(|s| {
        !s.zombie
            && std::fs::read(format!("/proc/{}/environ", s.pid))
                .is_ok_and(|environ| env_value(&environ, name) == Some(value.as_bytes()))
    })
}

/// Sends `signal` to each of `found` that is still the same process, and to the group of each
/// that leads one.
pub fn signal_all(found: &[Stat], signal: Signal) {
    for s in found {
        // The start time is checked right before: the pid cannot have been reused since, short
        // of the process exiting and its pid being reallocated within these few instructions.
        if !alive(s) {
            continue;
        }
        let pid = Pid::from_raw(s.pid);
        let result = if s.pgid == s.pid { killpg(pid, signal) } else { kill(pid, signal) };
        match result {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => warn!(pid = s.pid, %signal, error = %e, "signalling a descendant failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_follow_the_last_parenthesis_of_the_name() {
        let fields = "S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 100";
        let s = parse_stat(&format!("42 (sleep) {fields}")).unwrap();
        assert_eq!(s, Stat { pid: 42, ppid: 1, pgid: 42, zombie: false, starttime: 123456 });
        // Names with spaces and parentheses, as a process may choose.
        let s = parse_stat(&format!("7 (a) b (c)) {fields}")).unwrap();
        assert_eq!((s.pid, s.ppid, s.starttime), (7, 1, 123456));
        let z = parse_stat("9 (x) Z 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0").unwrap();
        assert!(z.zombie && z.starttime == 77);
        for bad in ["", "42 (sleep)", "42 (sleep) S 1 42", "x (sleep) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn env_values_match_whole_names_only() {
        let environ = b"PATH=/bin\0PTP_AGENT_CHILD_X=no\0PTP_AGENT_CHILD=1-2-3\0EMPTY=\0";
        assert_eq!(env_value(environ, "PTP_AGENT_CHILD"), Some(&b"1-2-3"[..]));
        assert_eq!(env_value(environ, "PTP_AGENT_CHILD_X"), Some(&b"no"[..]));
        assert_eq!(env_value(environ, "EMPTY"), Some(&b""[..]));
        assert_eq!(env_value(environ, "PTP_AGENT"), None);
        assert_eq!(env_value(environ, "ATH"), None);
        assert_eq!(env_value(b"", "PATH"), None);
    }

    #[test]
    fn this_process_is_seen_and_child_ids_are_unique() {
        let me = stat(std::process::id() as i32).expect("own stat");
        assert!(alive(&me));
        assert!(!alive(&Stat { starttime: me.starttime + 1, ..me }), "another start time is another process");
        let (a, b) = (new_child_id(), new_child_id());
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("{}-{}-", me.pid, me.starttime)), "{a}");
    }
}
