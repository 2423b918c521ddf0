//! One agent per run directory, and what a previous one left there.
//!
//! The run directory holds the configuration files and ptp4l's UNIX sockets: two agents on one
//! would overwrite each other's files and take each other's sockets. [`lock`] takes an exclusive
//! `flock` on `<run-dir>/ptp-agent.lock` for the agent's lifetime (the kernel releases it when
//! the agent dies, however it dies; children do not inherit it) and writes the agent's pid
//! there, so that a second agent refuses to start with an error naming the directory and the
//! holder.
//!
//! Every child gets [`RUN_DIR_ENV`] = the canonical run directory in its environment, which its
//! descendants inherit. An agent killed with SIGKILL leaves the descendants that escaped the
//! parent-death signal (those in a session of their own); the next agent on the directory finds
//! them by that mark before starting anything, and kills them ([`kill_leftovers`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::Signal;
use tracing::warn;

use super::tree;
use crate::Error;

/// The lock file's name in the run directory.
pub const LOCK_FILE: &str = "ptp-agent.lock";
/// The environment variable marking the processes started for a run directory.
pub const RUN_DIR_ENV: &str = "PTP_AGENT_RUN_DIR";

/// The run directory's lock, held until dropped (or the process exits).
#[derive(Debug)]
pub struct RunDirLock {
    _file: Flock<File>,
    path: PathBuf,
}

impl RunDirLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the run directory (creating it): fails with [`Error::RunDirInUse`] while another agent
/// holds it.
pub fn lock(run_dir: &Path) -> Result<RunDirLock, Error> {
    let dir = run_dir.display().to_string();
    let io = |what: &str, e: std::io::Error| Error::RunDir { dir: dir.clone(), message: format!("{what}: {e}") };
    std::fs::create_dir_all(run_dir).map_err(|e| io("creating it", e))?;
    let path = run_dir.join(LOCK_FILE);
    // Not truncated on open: the holder's pid must stay readable until the lock is ours.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io(&format!("opening {}", path.display()), e))?;
    let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => locked,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(Error::RunDirInUse { dir, lock_file: path.display().to_string(), holder: holder_pid(&text) });
        }
        Err((_, e)) => return Err(io(&format!("locking {}", path.display()), e.into())),
    };
    let written = file
        .set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(format!("pid {}\n", std::process::id()).as_bytes()));
    if let Err(e) = written {
        // The lock is what matters; the pid only makes the other agent's error clearer.
        warn!(file = %path.display(), error = %e, "cannot write the pid into the lock file");
    }
    Ok(RunDirLock { _file: file, path })
}

/// The pid a lock file's text names (`pid 1234`).
pub fn holder_pid(text: &str) -> Option<u32> {
    text.lines().find_map(|l| l.strip_prefix("pid ")?.trim().parse().ok())
}

/// The [`RUN_DIR_ENV`] value of a run directory: its device and inode, which name it whatever
/// path leads there (`/var/run` and `/run`, another mount namespace), then its canonical path for
/// people: `<dev>:<ino>:<path>`. Just the path when it cannot be read.
pub fn marker(run_dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let path = std::fs::canonicalize(run_dir).unwrap_or_else(|_| run_dir.to_path_buf());
    match std::fs::metadata(&path) {
        Ok(m) => format!("{}:{}:{}", m.dev(), m.ino(), path.display()),
        Err(_) => path.display().to_string(),
    }
}

/// SIGKILLs every process marked with `run_dir` (left by an agent that died without stopping its
/// children) and the groups they lead, and waits (a few seconds at most) for them to exit.
/// Returns their pids. Call with the run directory locked, before starting any child.
pub fn kill_leftovers(run_dir: &Path) -> Vec<i32> {
    let marker = marker(run_dir);
    let found = tree::marked(RUN_DIR_ENV, &marker);
    if found.is_empty() {
        return Vec::new();
    }
    let pids: Vec<i32> = found.iter().map(|s| s.pid).collect();
    warn!(run_dir = %marker, ?pids, "killing processes a previous agent left running");
    tree::signal_all(&found, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while found.iter().any(tree::alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if found.iter().any(tree::alive) {
        warn!(?pids, "processes left by a previous agent still run after SIGKILL");
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_pid_is_read_from_the_lock_file() {
        assert_eq!(holder_pid("pid 1234\n"), Some(1234));
        assert_eq!(holder_pid("pid 99"), Some(99));
        for text in ["", "\n", "pid\n", "pid x\n", "1234\n", "pid -1\n"] {
            assert_eq!(holder_pid(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_second_lock_on_the_directory_fails_naming_it_and_the_holder() {
        let dir = std::env::temp_dir().join(format!("ptp-rundir-lock-{}", std::process::id()));
        let first = lock(&dir).expect("first lock");
        assert_eq!(std::fs::read_to_string(first.path()).unwrap(), format!("pid {}\n", std::process::id()));
        // flock conflicts between open file descriptions, also within one process.
        let e = lock(&dir).expect_err("second lock");
        let text = e.to_string();
        assert!(
            text.contains(&dir.display().to_string()) && text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        let again = lock(&dir).expect("free again once dropped");
        drop(again);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_marker_names_the_directory_whatever_the_path() {
        let dir = std::env::temp_dir().join(format!("ptp-rundir-marker-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::os::unix::fs::symlink(dir.join("run"), dir.join("alias")).unwrap();
        let marker = marker(&dir.join("run"));
        assert_eq!(marker, super::marker(&dir.join("alias")));
        assert_eq!(marker, super::marker(&dir.join("run/../run")));
        assert!(marker.ends_with(&format!(":{}", dir.join("run").display())), "{marker}");
        assert_ne!(marker, super::marker(&dir), "another directory");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_uncreatable_directory_is_a_clear_error() {
        let e = lock(Path::new("/proc/self/no/such/dir")).expect_err("cannot create");
        assert!(e.to_string().contains("/proc/self/no/such/dir"), "{e}");
    }
}
