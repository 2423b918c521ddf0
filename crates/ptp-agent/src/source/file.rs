//! The profile file as a source (`ptp-agent run --profile FILE`): its text is sent each time it
//! changes, and waited for while the file does not exist.
//!
//! Changes arrive through inotify on the file's directory (kubelet updates a mounted ConfigMap by
//! an atomic swap of the `..data` symlink there). Only events that can change what the file reads
//! trigger a read ([`changes_content`]): opening, reading and closing the file without writing
//! (what the agent's own read causes) do not, so an unchanged file is not re-read in a loop.
//! A burst of events (a write, its close, a rename) is coalesced into one read once the directory
//! has been quiet for [`SETTLE`]. A slow poll backs inotify up, and is the only source when the
//! directory cannot be watched.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::EventKind;
use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::source::SourceValue;

/// The name of kubelet's symlink to the current version of a mounted ConfigMap's files.
pub const KUBELET_DATA_LINK: &str = "..data";
/// How long the directory must be quiet after a relevant event before the file is read.
pub const SETTLE: Duration = Duration::from_millis(100);
/// The longest a steady stream of relevant events delays a read.
pub const SETTLE_MAX: Duration = Duration::from_secs(1);
/// How often the file is read when inotify watches its directory (a safety net).
pub const BACKUP_POLL: Duration = Duration::from_secs(10);
/// How often the file is read when its directory cannot be watched, or before a first value.
pub const POLL: Duration = Duration::from_secs(1);

/// Whether an inotify event on the directory of `profile` can change what `profile` reads.
///
/// Yes for a write that completed (close after write), a data or metadata change (a permission
/// change can make the file readable), a create, a rename, or a removal, of the file itself or of
/// kubelet's `..data` link (the atomic swap is a create or moved-to of `..data`), or of the
/// directory itself; for an event of unknown kind on those; and for any event asking for a rescan
/// (the kernel's event queue overflowed). No for opening, reading or closing without writing,
/// for an access-time change, and for other files of the directory.
pub fn changes_content(kind: &EventKind, paths: &[PathBuf], rescan: bool, profile: &Path) -> bool {
    if rescan {
        return true;
    }
    let mutating = match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Any | EventKind::Other => true,
    };
    mutating && paths.iter().any(|p| concerns(p, profile))
}

/// Whether `path` (from an event of the profile's directory) is the profile file, kubelet's
/// `..data` link beside it, or the directory itself.
fn concerns(path: &Path, profile: &Path) -> bool {
    let dir = profile.parent();
    if dir == Some(path) {
        return true;
    }
    let name = path.file_name();
    path.parent() == dir && (name == profile.file_name() || name == Some(OsStr::new(KUBELET_DATA_LINK)))
}

/// What one read of the file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    Text(String),
    /// The file (or its directory) does not exist.
    Missing,
    /// It exists but cannot be read as text (permissions, a directory, not UTF-8, ...).
    Unreadable(String),
}

/// What the source last delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Delivered {
    #[default]
    Nothing,
    Text(String),
    Unreadable(String),
}

/// Reads the file once.
pub fn read(path: &Path) -> Read {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Read::Text(text),
            Err(e) => Read::Unreadable(format!("not UTF-8 text: {}", e.utf8_error())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Read::Missing,
        Err(e) => Read::Unreadable(e.to_string()),
    }
}

/// What to send after a read, given what was last delivered: a changed text, or a new reason the
/// file cannot be read; nothing when it is unchanged or missing (a missing file, as a missing
/// ConfigMap key, keeps what runs).
pub fn to_send(last: &Delivered, read: &Read) -> Option<SourceValue> {
    match (read, last) {
        (Read::Text(text), Delivered::Text(old)) if text == old => None,
        (Read::Text(text), _) => Some(Ok(text.clone())),
        (Read::Unreadable(why), Delivered::Unreadable(old)) if why == old => None,
        (Read::Unreadable(why), _) => Some(Err(why.clone())),
        (Read::Missing, _) => None,
    }
}

/// Sends the file's value each time it changes (and why it cannot be read, when it exists but
/// cannot be read); waits while it does not exist. Ends when `values` closes.
pub async fn watch(path: PathBuf, values: mpsc::Sender<SourceValue>) {
    // Events name paths under the watched directory: make it absolute so that they compare.
    let path = std::path::absolute(&path).unwrap_or(path);
    let (changed_tx, mut changed) = mpsc::channel::<()>(1);
    let watched = path.clone();
    let watcher = path.parent().and_then(|dir| {
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Runs on notify's thread: irrelevant events end here, without waking the agent.
            let relevant = match &event {
                Ok(e) => changes_content(&e.kind, &e.paths, e.need_rescan(), &watched),
                Err(_) => true,
            };
            if relevant {
                let _ = changed_tx.try_send(());
            }
        })
        .ok()?;
        notify::Watcher::watch(&mut watcher, dir, notify::RecursiveMode::NonRecursive).ok()?;
        Some(watcher)
    });
    let backup = if watcher.is_some() { BACKUP_POLL } else { POLL };
    if watcher.is_none() {
        info!(file = %path.display(), "cannot watch the profile file's directory; polling it every second");
    }
    let mut last = Delivered::Nothing;
    let mut missing_logged = false;
    loop {
        let found = read(&path);
        if let Some(value) = to_send(&last, &found) {
            last = match &value {
                Ok(text) => Delivered::Text(text.clone()),
                Err(why) => Delivered::Unreadable(why.clone()),
            };
            if values.send(value).await.is_err() {
                return;
            }
        }
        match (&found, &last) {
            (Read::Missing, _) if missing_logged => {}
            (Read::Missing, Delivered::Nothing) => {
                // In a cluster the ConfigMap key appears once the operator has rendered this node.
                info!(file = %path.display(), "waiting for the profile file");
                missing_logged = true;
            }
            (Read::Missing, _) => {
                warn!(file = %path.display(), "the profile file is gone; what runs keeps running");
                missing_logged = true;
            }
            _ => missing_logged = false,
        }
        // Until a first value arrived, also poll every second (the directory may not exist yet).
        let wait = if last == Delivered::Nothing { POLL.min(backup) } else { backup };
        tokio::select! {
            Some(()) = changed.recv() => settle(&mut changed).await,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// When to read after a burst of relevant events that began at `first` and whose latest event
/// arrived at `last`: once the directory has been quiet for [`SETTLE`], but not later than
/// [`SETTLE_MAX`] after the first event.
pub fn read_at(first: Instant, last: Instant) -> Instant {
    (last + SETTLE).min(first + SETTLE_MAX)
}

/// Waits until [`read_at`] for a burst that began now.
async fn settle(changed: &mut mpsc::Receiver<()>) {
    let first = Instant::now();
    let mut at = read_at(first, first);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(at) => return,
            Some(()) = changed.recv() => at = read_at(first, Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests;
