//! The follower of one running ptp4l (an edge): a management [`Session`] on its socket that
//! keeps a [`PtpView`] current and hands it to `on_view` whenever it changes (`None` while
//! ptp4l does not answer).
//!
//! * It connects when `running` says ptp4l runs (the runtime sends the child's pid; a new pid is
//!   a restart: the session starts over), retrying with backoff ([`FollowSettings::backoff`])
//!   while the socket is not there yet or does not answer.
//! * Connected: GETs DEFAULT, CURRENT, PARENT, TIME_PROPERTIES and PORT_DATA_SET (every port),
//!   then subscribes to port-state and parent-data-set notifications (the latter exist from
//!   linuxptp 4.2; 3.1 accepts the bit and never sends one). A notification's data set is
//!   published at once; then a port-state notification fetches CURRENT, PARENT and
//!   TIME_PROPERTIES again (on 3.1 a new grandmaster shows as the slave port going UNCALIBRATED)
//!   and a parent notification CURRENT and TIME_PROPERTIES ([`follow_ups`]), published again.
//! * The subscription is renewed at half its duration (linuxptp before 4.4 expires it), and
//!   everything is fetched again every [`FollowSettings::refresh`] as a safety net. A request
//!   that fails (ptp4l gone) drops the view and starts over.
//!
//! Never runs `pmc`.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, info};

use super::MgmtError;
use super::dataset::Event;
use super::id::ManagementId;
use super::message::{Body, Request, Tlv};
use super::socket::{Session, SessionSettings};
use super::view::{Datasets, PtpView};
use crate::tbc::GmQuality;

/// Where and how to follow one ptp4l.
#[derive(Clone, Debug)]
pub struct FollowSettings {
    /// ptp4l's `uds_address`.
    pub socket: PathBuf,
    /// ptp4l's domainNumber.
    pub domain: u8,
    /// Directory of the follower's own socket (default: the temp dir).
    pub local_dir: Option<PathBuf>,
    /// Everything is fetched again this often.
    pub refresh: Duration,
    /// Subscription duration (s); renewed at half of it.
    pub subscription: u16,
    /// Wait this long for a reply.
    pub timeout: Duration,
    /// Reconnect delays: the first, doubled up to the second.
    pub backoff: (Duration, Duration),
    /// The quality this ptp4l is to announce as its own (a T-BC's time transmitter): written with
    /// GRANDMASTER_SETTINGS_NP (read, then set with the class and accuracy changed) after each
    /// connect and each change; `None` in the channel: nothing to write yet.
    pub announce: Option<watch::Receiver<Option<GmQuality>>>,
}

impl FollowSettings {
    /// Refresh every 60 s, subscriptions of 60 s, replies within 1 s, reconnect after 100 ms
    /// doubling to 5 s.
    pub fn new(socket: PathBuf, domain: u8) -> Self {
        FollowSettings {
            socket,
            domain,
            local_dir: None,
            refresh: Duration::from_secs(60),
            subscription: 60,
            timeout: Duration::from_secs(1),
            backoff: (Duration::from_millis(100), Duration::from_secs(5)),
            announce: None,
        }
    }

    fn session(&self) -> SessionSettings {
        let mut s = SessionSettings {
            timeout: self.timeout,
            gather: Duration::from_millis(50),
            local_dir: self.local_dir.clone(),
            ..SessionSettings::default()
        };
        s.header.domain = self.domain;
        s
    }
}

/// The events the follower subscribes to.
pub const EVENTS: [Event; 2] = [Event::NotifyPortState, Event::NotifyParentDataSet];

/// How one connection ended.
enum Ended {
    /// `running` changed (a restart or a stop).
    Running,
    /// `running`'s sender is gone: the follower ends.
    Closed,
    /// A request failed.
    Lost(MgmtError),
}

/// Publishes a view only when it differs from the last one published.
struct Publisher<F: FnMut(Option<&PtpView>)> {
    last: Option<PtpView>,
    on_view: F,
}

impl<F: FnMut(Option<&PtpView>)> Publisher<F> {
    fn publish(&mut self, view: Option<PtpView>) {
        if view != self.last {
            (self.on_view)(view.as_ref());
            self.last = view;
        }
    }
}

/// Follows ptp4l while `running` holds `Some(pid)`; ends when `running`'s sender is gone (the
/// caller may also abort the task: nothing is left behind but the session's socket file,
/// which its drop removes).
pub async fn follow(
    settings: FollowSettings,
    mut running: watch::Receiver<Option<i32>>,
    on_view: impl FnMut(Option<&PtpView>),
) {
    let mut publisher = Publisher { last: None, on_view };
    let mut delay = settings.backoff.0;
    loop {
        let pid = *running.borrow_and_update();
        if pid.is_none() {
            publisher.publish(None);
            if running.changed().await.is_err() {
                return;
            }
            continue;
        }
        match connected(&settings, &mut running, &mut publisher).await {
            Ended::Closed => return,
            Ended::Running => delay = settings.backoff.0,
            Ended::Lost(e) => {
                if publisher.last.is_some() {
                    info!(socket = %settings.socket.display(), error = %e, "ptp4l management: lost; reconnecting");
                } else {
                    debug!(socket = %settings.socket.display(), error = %e, retry_in = ?delay, "ptp4l management: no answer yet");
                }
                publisher.publish(None);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    changed = running.changed() => if changed.is_err() { return },
                }
                delay = (delay * 2).min(settings.backoff.1);
            }
        }
    }
}

/// One session: fetch, subscribe, follow until something fails or `running` changes.
async fn connected<F: FnMut(Option<&PtpView>)>(
    settings: &FollowSettings,
    running: &mut watch::Receiver<Option<i32>>,
    publisher: &mut Publisher<F>,
) -> Ended {
    let mut session = match Session::connect(&settings.socket, settings.session()) {
        Ok(s) => s,
        Err(e) => return Ended::Lost(e),
    };
    let mut datasets = Datasets::default();
    if let Err(e) = fetch_all(&mut session, &mut datasets).await {
        return Ended::Lost(e);
    }
    if let Err(e) = session.subscribe(&EVENTS, settings.subscription).await {
        return Ended::Lost(e);
    }
    let mut announce = settings.announce.clone();
    if let Some(wanted) = announce.as_mut().and_then(|a| *a.borrow_and_update())
        && let Err(e) = write_quality(&mut session, &mut datasets, wanted).await
    {
        return Ended::Lost(e);
    }
    publisher.publish(datasets.view());
    info!(socket = %settings.socket.display(), "ptp4l management: following");
    let renew_every = Duration::from_secs(u64::from(settings.subscription.max(2) / 2));
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
    let mut refresh = tokio::time::interval_at(tokio::time::Instant::now() + settings.refresh, settings.refresh);
    loop {
        enum Wake {
            Notified(Result<super::Message, MgmtError>),
            Renew,
            Refresh,
            Announce(Option<GmQuality>),
        }
        let announce_changed = async {
            let Some(a) = announce.as_mut() else { return std::future::pending().await };
            if a.changed().await.is_err() {
                return std::future::pending().await;
            }
            *a.borrow_and_update()
        };
        let wake = tokio::select! {
            changed = running.changed() => return if changed.is_err() { Ended::Closed } else { Ended::Running },
            wanted = announce_changed => Wake::Announce(wanted),
            notification = session.next_notification() => Wake::Notified(notification),
            _ = renew.tick() => Wake::Renew,
            _ = refresh.tick() => Wake::Refresh,
        };
        let step = match wake {
            Wake::Notified(Ok(m)) => match m.body {
                Body::Data(tlv) => {
                    // What the notification says is published at once: the follow-up reads can
                    // take ptp4l ~30 ms right after a fault, and a FAULTY port must not wait.
                    datasets.take(&tlv);
                    publisher.publish(datasets.view());
                    read_again(&mut session, &mut datasets, follow_ups(&tlv)).await
                }
                Body::Error(_) => Ok(()),
            },
            Wake::Notified(Err(e)) => Err(e),
            Wake::Renew => session.subscribe(&EVENTS, settings.subscription).await,
            Wake::Refresh => fetch_all(&mut session, &mut datasets).await,
            Wake::Announce(Some(wanted)) => write_quality(&mut session, &mut datasets, wanted).await,
            Wake::Announce(None) => Ok(()),
        };
        if let Err(e) = step {
            return Ended::Lost(e);
        }
        publisher.publish(datasets.view());
    }
}

/// What to read again after a notification: a port state change can come with a new parent
/// (on 3.1 a new grandmaster shows only as the slave port going UNCALIBRATED), a parent change
/// with a new current and time properties data set.
pub fn follow_ups(tlv: &Tlv) -> &'static [ManagementId] {
    match tlv {
        Tlv::PortDataSet(_) => {
            &[ManagementId::PARENT_DATA_SET, ManagementId::CURRENT_DATA_SET, ManagementId::TIME_PROPERTIES_DATA_SET]
        }
        Tlv::ParentDataSet(_) => &[ManagementId::CURRENT_DATA_SET, ManagementId::TIME_PROPERTIES_DATA_SET],
        _ => &[],
    }
}

/// Sets the clock class and accuracy ptp4l announces as its own (GRANDMASTER_SETTINGS_NP: the
/// other settings as ptp4l has them), then reads PARENT_DATA_SET again (a grandmaster announces
/// its own quality there).
async fn write_quality(session: &mut Session, datasets: &mut Datasets, wanted: GmQuality) -> Result<(), MgmtError> {
    let Tlv::GrandmasterSettingsNp(mut settings) = session.get(ManagementId::GRANDMASTER_SETTINGS_NP).await? else {
        return Err(MgmtError::Malformed {
            what: "GRANDMASTER_SETTINGS_NP",
            message: "another dataset in reply".into(),
        });
    };
    if (settings.clock_quality.clock_class, settings.clock_quality.clock_accuracy)
        != (wanted.clock_class, wanted.clock_accuracy)
    {
        settings.clock_quality.clock_class = wanted.clock_class;
        settings.clock_quality.clock_accuracy = wanted.clock_accuracy;
        let mut replies = session.request(&Request::set_grandmaster_settings(&settings)).await?;
        if let Body::Error(e) = replies.swap_remove(0).body {
            return Err(MgmtError::from(&e));
        }
        info!(socket = %session.server().display(), clock_class = wanted.clock_class, "ptp4l management: announced clock class set");
    }
    datasets.take(&session.get(ManagementId::PARENT_DATA_SET).await?);
    Ok(())
}

async fn read_again(session: &mut Session, datasets: &mut Datasets, ids: &[ManagementId]) -> Result<(), MgmtError> {
    for id in ids {
        datasets.take(&session.get(*id).await?);
    }
    Ok(())
}

async fn fetch_all(session: &mut Session, datasets: &mut Datasets) -> Result<(), MgmtError> {
    for id in [
        ManagementId::DEFAULT_DATA_SET,
        ManagementId::CURRENT_DATA_SET,
        ManagementId::PARENT_DATA_SET,
        ManagementId::TIME_PROPERTIES_DATA_SET,
    ] {
        datasets.take(&session.get(id).await?);
    }
    datasets.take_ports(&session.get_ports(ManagementId::PORT_DATA_SET).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::net::UnixDatagram;

    use super::*;
    use crate::mgmt::dataset::PortState;
    use crate::mgmt::tests_vectors::valid_replies;

    /// (sequence id, management id) of a request datagram.
    fn ids_of(request: &[u8]) -> (u16, u16) {
        (u16::from_be_bytes([request[30], request[31]]), u16::from_be_bytes([request[52], request[53]]))
    }

    /// The vector replying to `id`, with `seq`; PORT_DATA_SET with the port state `state`.
    fn answer(id: u16, seq: u16, state: u8) -> Option<Vec<u8>> {
        let mut reply = valid_replies().into_iter().find(|r| u16::from_be_bytes([r[52], r[53]]) == id)?;
        reply[30..32].copy_from_slice(&seq.to_be_bytes());
        if id == 0x2004 {
            reply[64] = state; // after the TLV header (48..54) and the portIdentity (54..64)
        }
        Some(reply)
    }

    #[test]
    fn port_and_parent_notifications_read_their_companions_again() {
        let replies = valid_replies();
        let tlv = |id: u16| {
            let r = replies.iter().find(|r| u16::from_be_bytes([r[52], r[53]]) == id).unwrap();
            match crate::mgmt::decode(r, crate::mgmt::StatsOrder::Auto).unwrap().body {
                Body::Data(t) => t,
                Body::Error(_) => panic!("an error vector"),
            }
        };
        assert_eq!(follow_ups(&tlv(0x2004)).len(), 3);
        assert_eq!(follow_ups(&tlv(0x2002)), [ManagementId::CURRENT_DATA_SET, ManagementId::TIME_PROPERTIES_DATA_SET]);
        assert!(follow_ups(&tlv(0x2000)).is_empty());
    }

    /// Regression (port_state bench: ~30 ms, management 110x slower than the log line for a
    /// port going FAULTY): a port-state notification is published before the reads that follow
    /// it are answered. The fake ptp4l here never answers them.
    #[tokio::test]
    async fn a_port_state_notification_is_published_before_its_follow_up_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ptp4l");
        let server = UnixDatagram::bind(&path).unwrap();
        let views: Arc<Mutex<Vec<Option<PortState>>>> = Arc::default();
        let seen = views.clone();
        let mut settings = FollowSettings::new(path, 24);
        settings.local_dir = Some(dir.path().to_path_buf());
        settings.timeout = Duration::from_secs(30);
        let (_running, running) = watch::channel(Some(1));
        let follower = tokio::spawn(follow(settings, running, move |view| {
            seen.lock().unwrap().push(view.and_then(|v| v.ports.first().map(|p| p.state)));
        }));
        let mut buf = vec![0u8; 1500];
        let mut subscribed = false;
        loop {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            let (seq, id) = ids_of(&buf[..n]);
            let to = from.as_pathname().unwrap().to_path_buf();
            if subscribed {
                // A follow-up read: never answered (ptp4l busy right after a fault).
                break;
            }
            let reply = answer(id, seq, 9).unwrap_or_else(|| panic!("no vector for {id:#06x}"));
            server.send_to(&reply, &to).await.unwrap();
            if id == 0xC003 {
                subscribed = true;
                let notification = answer(0x2004, 0x7000, 2).unwrap(); // port 1 FAULTY
                server.send_to(&notification, &to).await.unwrap();
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !views.lock().unwrap().contains(&Some(PortState::Faulty)) {
            assert!(tokio::time::Instant::now() < deadline, "FAULTY not published while the read waits: {views:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(views.lock().unwrap().first(), Some(&Some(PortState::Slave)), "the first view, from the GETs");
        follower.abort();
    }
}
