//! The socket edge: one management session with one ptp4l over its UNIX datagram socket
//! (`uds_address`). ptp4l answers to the sender's address, so the session binds its own path
//! (`<dir>/ptp-agent-mgmt.<pid>.<n>.sock`, in the given directory, e.g. the run dir, or the temp
//! dir), unlinking a stale file first and removing it on drop.
//!
//! * [`Session::request`] sends one request and collects its replies: the first within
//!   `timeout`; for port-scoped ids (one reply per port with the wildcard target) more until
//!   `gather` passes without one. A reply is a datagram with the request's sequenceId and
//!   managementId (or an error status about it).
//! * [`Session::get`] is the one-reply form: the dataset, or the error status as an error.
//! * [`Session::subscribe`] sets SUBSCRIBE_EVENTS_NP; [`Session::next_notification`] then waits
//!   for the next pushed message (PORT_DATA_SET for port states, PARENT_DATA_SET on 4.2+,
//!   TIME_STATUS_NP). It is cancel-safe (a `select!` arm next to a refresh timer), and
//!   notifications that arrive while a request waits are kept for it, in order. ptp4l numbers
//!   notifications with its own per-subscriber counter: one that happens to carry the sequenceId
//!   and id of the request in flight is taken as its reply (same dataset, so nothing is lost but
//!   the notification). Subscriptions expire after `duration` seconds before linuxptp 4.4: the
//!   caller renews them.
//! * A datagram that does not decode is logged and skipped; when no reply comes, the timeout
//!   error says so and names the decode error instead.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::UnixDatagram;
use tokio::time::Instant;
use tracing::debug;

use super::MgmtError;
use super::dataset::{Event, StatsOrder, SubscribeEventsNp};
use super::id::ManagementId;
use super::message::{Action, Body, Message, Request, RequestHeader, Tlv, decode};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Largest datagram ptp4l sends (its message buffer).
const MAX_DATAGRAM: usize = 1500;

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub header: RequestHeader,
    /// Wait this long for the first reply.
    pub timeout: Duration,
    /// After a reply to a port-scoped id, wait this long for the next port's.
    pub gather: Duration,
    /// How to read PORT_STATS_NP counters.
    pub stats_order: StatsOrder,
    /// Directory of the session's own socket (default: the temp dir).
    pub local_dir: Option<PathBuf>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            header: RequestHeader::default(),
            timeout: Duration::from_secs(1),
            gather: Duration::from_millis(100),
            stats_order: StatsOrder::Auto,
            local_dir: None,
        }
    }
}

/// The session's own socket file, removed on drop.
#[derive(Debug)]
struct LocalPath(PathBuf);

impl Drop for LocalPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One management session with one ptp4l.
#[derive(Debug)]
pub struct Session {
    socket: UnixDatagram,
    server: PathBuf,
    settings: SessionSettings,
    sequence: u16,
    subscribed: Vec<Event>,
    pending: VecDeque<Message>,
    // Last, so the socket closes before its file goes.
    local: LocalPath,
}

fn port_scoped(id: ManagementId) -> bool {
    matches!(id, ManagementId::PORT_DATA_SET | ManagementId::PORT_PROPERTIES_NP | ManagementId::PORT_STATS_NP)
        || id.name().is_none()
}

fn notification_id(e: Event) -> ManagementId {
    match e {
        Event::NotifyPortState => ManagementId::PORT_DATA_SET,
        Event::NotifyTimeSync => ManagementId::TIME_STATUS_NP,
        Event::NotifyParentDataSet => ManagementId::PARENT_DATA_SET,
        Event::NotifyCmlds => ManagementId(0xC00B),
    }
}

impl Session {
    /// Binds the session's own socket and targets `server` (ptp4l's `uds_address`).
    pub fn connect(server: &Path, settings: SessionSettings) -> Result<Session, MgmtError> {
        let dir = settings.local_dir.clone().unwrap_or_else(std::env::temp_dir);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("ptp-agent-mgmt.{}.{n}.sock", std::process::id()));
        let error = |message: String| MgmtError::Socket { path: path.clone(), message };
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).map_err(|e| error(format!("binding: {e}")))?;
        let local = LocalPath(path);
        Ok(Session {
            socket,
            server: server.to_path_buf(),
            settings,
            sequence: 0,
            subscribed: Vec::new(),
            pending: VecDeque::new(),
            local,
        })
    }

    /// The session's own socket path.
    pub fn local_path(&self) -> &Path {
        &self.local.0
    }

    /// ptp4l's socket path.
    pub fn server(&self) -> &Path {
        &self.server
    }

    fn socket_error(&self, what: &str, e: std::io::Error) -> MgmtError {
        MgmtError::Socket { path: self.server.clone(), message: format!("{what}: {e}") }
    }

    /// Sends `request` and returns every reply (see the module docs).
    pub async fn request(&mut self, request: &Request) -> Result<Vec<Message>, MgmtError> {
        let sequence = self.sequence;
        self.sequence = self.sequence.wrapping_add(1);
        let datagram = request.encode(&self.settings.header, sequence)?;
        self.socket.send_to(&datagram, &self.server).await.map_err(|e| self.socket_error("sending", e))?;
        let mut replies = Vec::new();
        let mut last_error = None;
        let mut deadline = Instant::now() + self.settings.timeout;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let received = match tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
                Err(_elapsed) => break,
                Ok(r) => r.map_err(|e| self.socket_error("receiving", e))?,
            };
            let message = match decode(&buf[..received], self.settings.stats_order) {
                Ok(m) => m,
                Err(e) => {
                    debug!(server = %self.server.display(), "skipping a datagram that does not decode: {e}");
                    last_error = Some(e);
                    continue;
                }
            };
            let is_reply = message.header.sequence_id == sequence
                && message.body.id() == request.id
                && matches!(message.header.action, Action::Response | Action::Acknowledge);
            if is_reply {
                replies.push(message);
                if !port_scoped(request.id) {
                    break;
                }
                deadline = Instant::now() + self.settings.gather;
            } else {
                self.keep_if_notification(message);
            }
        }
        if replies.is_empty() {
            return Err(match last_error {
                Some(e) => e,
                None => MgmtError::Timeout {
                    path: self.server.clone(),
                    request: format!("{} {}", request.action.as_str(), request.id),
                    timeout: self.settings.timeout,
                    domain: self.settings.header.domain,
                },
            });
        }
        Ok(replies)
    }

    fn keep_if_notification(&mut self, message: Message) {
        let id = message.body.id();
        if self.subscribed.iter().any(|e| notification_id(*e) == id) {
            self.pending.push_back(message);
        } else {
            debug!(server = %self.server.display(), seq = message.header.sequence_id, %id, "dropping a late or unexpected message");
        }
    }

    /// GET `id`: the first reply's dataset; an error status is [`MgmtError::Status`].
    pub async fn get(&mut self, id: ManagementId) -> Result<Tlv, MgmtError> {
        let mut replies = self.request(&Request::get(id)).await?;
        match replies.swap_remove(0).body {
            Body::Data(tlv) => Ok(tlv),
            Body::Error(e) => Err(MgmtError::from(&e)),
        }
    }

    /// GET a port-scoped `id`: one dataset per port, in the order they came.
    pub async fn get_ports(&mut self, id: ManagementId) -> Result<Vec<Tlv>, MgmtError> {
        self.request(&Request::get(id))
            .await?
            .into_iter()
            .map(|m| match m.body {
                Body::Data(tlv) => Ok(tlv),
                Body::Error(e) => Err(MgmtError::from(&e)),
            })
            .collect()
    }

    /// Subscribes to `events` for `duration` seconds (read-write socket only; renew before it
    /// expires on linuxptp before 4.4).
    pub async fn subscribe(&mut self, events: &[Event], duration: u16) -> Result<(), MgmtError> {
        // Notifications may come as soon as ptp4l has the subscription, before its reply.
        self.subscribed = events.to_vec();
        let request = Request::subscribe(&SubscribeEventsNp::new(duration, events));
        let mut replies = self.request(&request).await?;
        match replies.swap_remove(0).body {
            Body::Error(e) => {
                self.subscribed.clear();
                Err(MgmtError::from(&e))
            }
            Body::Data(_) => Ok(()),
        }
    }

    /// The next notification (kept ones first). Cancel-safe.
    pub async fn next_notification(&mut self) -> Result<Message, MgmtError> {
        if let Some(m) = self.pending.pop_front() {
            return Ok(m);
        }
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let received = self.socket.recv(&mut buf).await.map_err(|e| self.socket_error("receiving", e))?;
            match decode(&buf[..received], self.settings.stats_order) {
                Ok(m) => {
                    self.keep_if_notification(m);
                    if let Some(m) = self.pending.pop_front() {
                        return Ok(m);
                    }
                }
                Err(e) => debug!(server = %self.server.display(), "skipping a datagram that does not decode: {e}"),
            }
        }
    }
}
