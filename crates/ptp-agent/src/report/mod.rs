//! Reporting: keeps `status.devices` of this node's NodePtpDevice equal to what discovery finds.
//!
//! Discovery runs at start, after link notifications (debounced) and on a slow resync. The status
//! is patched only when the devices differ from what it holds. The agent never creates the
//! NodePtpDevice: while it is missing (404) the loop waits for the operator with a capped
//! backoff, and API errors are retried the same way while discovery keeps running.

pub mod backoff;
pub mod status;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use ptp_api::{NodePtpDevice, NodePtpDeviceStatus, PtpDevice};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::Error;
use crate::nic::{Discovery, LinkWatcher, Nic, Selection, devices};
use backoff::Backoff;
use status::devices_status;

pub use status::DEVICES_MANAGER;

/// Settings of the reporting loop.
#[derive(Clone, Debug)]
pub struct ReportSettings {
    /// The node, and so the NodePtpDevice's name.
    pub node_name: String,
    /// Namespace of the NodePtpDevice (`openshift-ptp`).
    pub namespace: String,
    /// Full rediscovery and status re-read interval.
    pub resync: Duration,
    /// Quiet time after a link notification before rediscovering.
    pub debounce: Duration,
    /// Backoff while the object is missing or the API fails: initial delay and cap.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub selection: Selection,
    /// Discover in this network namespace instead of the current one (lab and tests).
    pub netns: Option<PathBuf>,
}

impl ReportSettings {
    pub fn new(node_name: impl Into<String>, namespace: impl Into<String>) -> Self {
        ReportSettings {
            node_name: node_name.into(),
            namespace: namespace.into(),
            resync: Duration::from_secs(300),
            debounce: Duration::from_millis(200),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            selection: Selection::default(),
            netns: None,
        }
    }
}

/// Where the loop gets its NICs from (blocking; called on the blocking pool).
pub trait Probe: Send + Sync + 'static {
    fn discover(&self) -> Result<Vec<Nic>, Error>;
}

impl Probe for Discovery {
    fn discover(&self) -> Result<Vec<Nic>, Error> {
        Discovery::discover(self)
    }
}

/// Real discovery scoped to a selection: the candidates from one TSINFO dump for the default
/// (PTP-capable NICs), the complete view (with link and driver facts for every interface) when
/// software-only interfaces or all of them are wanted.
struct SelectionProbe {
    discovery: Discovery,
    complete: bool,
}

impl Probe for SelectionProbe {
    fn discover(&self) -> Result<Vec<Nic>, Error> {
        if self.complete { self.discovery.discover() } else { self.discovery.candidates() }
    }
}

/// Runs the reporting loop until `shutdown` becomes `true`: real discovery and link
/// notifications in the current network namespace (or `settings.netns`).
pub async fn run(client: kube::Client, settings: ReportSettings, shutdown: watch::Receiver<bool>) -> Result<(), Error> {
    let discovery = Discovery { netns: settings.netns.clone(), ..Discovery::default() };
    let (links_tx, links_rx) = mpsc::channel(1);
    let watcher = match LinkWatcher::open(settings.netns.as_deref()) {
        Ok(watcher) => Some(tokio::spawn(forward_link_changes(watcher, links_tx).instrument(info_span!("link_watch")))),
        Err(e) => {
            warn!(error = %e, "cannot subscribe to link notifications; relying on the periodic resync");
            None
        }
    };
    let complete = settings.selection.all || settings.selection.include_software;
    let probe = SelectionProbe { discovery, complete };
    let result = run_with(client, &settings, Arc::new(probe), links_rx, shutdown).await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    result
}

/// Sends one `()` on `tx` per link notification of `watcher` (dropped while one is pending),
/// until `tx` closes or the notifications stop: [`run`]'s link-change channel for [`run_with`]
/// (public so that a test can drive the loop with real notifications and a probe of its own).
pub async fn forward_link_changes(mut watcher: LinkWatcher, tx: mpsc::Sender<()>) {
    loop {
        match watcher.changed().await {
            Ok(()) => {
                // A full channel already holds a pending "changed".
                if let Err(mpsc::error::TrySendError::Closed(())) = tx.try_send(()) {
                    return;
                }
            }
            Err(e) => {
                warn!(error = %e, "link notifications stopped; relying on the periodic resync");
                return;
            }
        }
    }
}

/// The loop with an injected probe and link-change channel (each message = "links changed").
pub async fn run_with(
    client: kube::Client,
    settings: &ReportSettings,
    probe: Arc<dyn Probe>,
    mut links: mpsc::Receiver<()>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut reporter = Reporter::new(client, settings);
    let mut retry = Backoff::new(settings.retry_initial, settings.retry_max);
    let mut wanted: Option<Vec<PtpDevice>> = None;
    let mut rediscover = true;
    let mut links_open = true;
    let mut next_resync = Instant::now() + settings.resync;
    info!(node = %settings.node_name, namespace = %settings.namespace, "reporting NICs into the NodePtpDevice status");
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        if rediscover {
            match discover(&probe, &settings.selection).await {
                Ok(found) => {
                    wanted = Some(found);
                    rediscover = false;
                }
                Err(e) => warn!(error = %e, "NIC discovery failed; retrying"),
            }
        }
        let mut retry_at = None;
        match &wanted {
            Some(found) if !rediscover => match reporter.sync(found).await {
                Ok(()) => retry.reset(),
                Err(e) => {
                    let delay = retry.next_delay();
                    if e.is_not_found() {
                        reporter.log_missing(delay);
                    } else {
                        warn!(error = %e, retry_in = ?delay, "writing the NodePtpDevice status failed");
                    }
                    retry_at = Some(Instant::now() + delay);
                }
            },
            _ => retry_at = Some(Instant::now() + retry.next_delay()),
        }
        let wake_at = retry_at.map_or(next_resync, |r| r.min(next_resync));
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return Ok(());
                }
            }
            event = links.recv(), if links_open => match event {
                Some(()) => {
                    tokio::select! {
                        _ = tokio::time::sleep(settings.debounce) => {}
                        _ = shutdown.changed() => {}
                    }
                    while links.try_recv().is_ok() {}
                    debug!("links changed; rediscovering");
                    rediscover = true;
                }
                None => links_open = false,
            },
            _ = tokio::time::sleep_until(wake_at) => {
                if Instant::now() >= next_resync {
                    debug!("periodic resync");
                    next_resync = Instant::now() + settings.resync;
                    rediscover = true;
                    reporter.forget();
                }
            }
        }
    }
}

async fn discover(probe: &Arc<dyn Probe>, selection: &Selection) -> Result<Vec<PtpDevice>, Error> {
    let probe = Arc::clone(probe);
    let nics = tokio::task::spawn_blocking(move || probe.discover())
        .await
        .map_err(|e| Error::Socket(format!("discovery task failed: {e}")))??;
    Ok(devices(&nics, selection))
}

/// The API side: the last status seen and the patch.
struct Reporter {
    api: Api<NodePtpDevice>,
    name: String,
    namespace: String,
    /// The status as last read or written; `None` = read it again.
    known: Option<NodePtpDeviceStatus>,
    missing_logged: bool,
}

impl Reporter {
    fn new(client: kube::Client, settings: &ReportSettings) -> Self {
        Reporter {
            api: Api::namespaced(client, &settings.namespace),
            name: settings.node_name.clone(),
            namespace: settings.namespace.clone(),
            known: None,
            missing_logged: false,
        }
    }

    fn forget(&mut self) {
        self.known = None;
    }

    fn log_missing(&mut self, delay: Duration) {
        let (ns, node) = (&self.namespace, &self.name);
        if self.missing_logged {
            debug!(retry_in = ?delay, "NodePtpDevice {ns}/{node} does not exist yet; waiting for the operator to create it");
        } else {
            info!(retry_in = ?delay, "NodePtpDevice {ns}/{node} does not exist yet; waiting for the operator to create it");
            self.missing_logged = true;
        }
    }

    /// Makes the status hold `devices`, writing only when it differs.
    async fn sync(&mut self, devices: &[PtpDevice]) -> Result<(), Error> {
        let current = match &self.known {
            Some(status) => status.clone(),
            None => {
                let object = self.api.get(&self.name).await?;
                if self.missing_logged {
                    info!(namespace = %self.namespace, node = %self.name, "NodePtpDevice exists now");
                    self.missing_logged = false;
                }
                let status = object.status.unwrap_or_default();
                self.known = Some(status.clone());
                status
            }
        };
        let Some(status) = devices_status(&current, devices) else {
            return Ok(());
        };
        let body = ptp_api::node_ptp_device::status_apply_body(&self.name, &status);
        let params = PatchParams::apply(DEVICES_MANAGER).force();
        match self.api.patch_status(&self.name, &params, &Patch::Apply(&body)).await {
            Ok(object) => {
                info!(devices = devices.len(), "NodePtpDevice status updated");
                self.known = Some(object.status.unwrap_or_default());
                Ok(())
            }
            Err(e) => {
                self.known = None;
                Err(e.into())
            }
        }
    }
}
