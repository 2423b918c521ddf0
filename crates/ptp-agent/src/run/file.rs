//! File mode: `ptp-agent run --profile FILE` without a cluster (the quick-start lab, a node run
//! by hand); the profiles come from the file ([`crate::source::file`]), nothing is written to an
//! API.

use tokio::sync::mpsc;
use tracing::{Instrument, info_span};

use super::{RunSettings, run_loop};
use crate::Error;

/// Runs with the profile file of `settings` (none: no profile ever arrives) until `shutdown`
/// resolves, then stops every child.
pub async fn run(settings: RunSettings, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let (texts_tx, texts) = mpsc::channel(4);
    let source = settings
        .profile
        .as_ref()
        .map_or_else(|| "no profile source".to_string(), |p| format!("profile file {}", p.display()));
    let poller = settings
        .profile
        .clone()
        .map(|path| tokio::spawn(crate::source::file::watch(path, texts_tx).instrument(info_span!("profile_file"))));
    let result = run_loop(settings, source, texts, |_| {}, shutdown).await;
    if let Some(p) = poller {
        p.abort();
    }
    result
}
