//! Link notifications: a route socket bound to `RTNLGRP_LINK`, read through tokio's `AsyncFd`.
//! Each wake-up drains the socket; callers debounce and rediscover.

use std::io::ErrorKind;
use std::path::Path;

use neli::consts::socket::Msg;
use neli::socket::NlSocket;
use tokio::io::unix::AsyncFd;

use super::NicError;
use super::link::{RTM_DELLINK, RTM_NEWLINK};
use super::netlink::messages;
use super::netns::in_netns;
use super::socket::link_notifications;

/// A subscription to link changes of one network namespace.
pub struct LinkWatcher {
    socket: AsyncFd<NlSocket>,
    buf: Vec<u8>,
}

impl LinkWatcher {
    /// Subscribes in the current namespace, or in `netns`. Needs a tokio runtime.
    #[allow(unsafe_code)] // a syscall without a safe wrapper: see the SAFETY comment
    pub fn open(netns: Option<&Path>) -> Result<Self, NicError> {
        let socket = match netns {
            None => link_notifications()?,
            Some(path) => in_netns(path, link_notifications)?,
        };
        // SAFETY: `NlSocket` owns its descriptor, closes it only when dropped and always returns
        // the same one from `as_raw_fd`; the `AsyncFd` owns the socket, so the descriptor stays
        // open and unchanged for the registration's whole life.
        let socket = unsafe { AsyncFd::register(socket) }.map_err(|e| NicError::Socket(e.to_string()))?;
        Ok(LinkWatcher { socket, buf: vec![0; 64 * 1024] })
    }

    /// Waits until a link appears, disappears or changes. A receive-buffer overrun (`ENOBUFS`,
    /// notifications lost) also counts as a change.
    pub async fn changed(&mut self) -> Result<(), NicError> {
        loop {
            let mut guard = self.socket.readable().await.map_err(|e| NicError::Socket(e.to_string()))?;
            let mut changed = false;
            loop {
                match self.socket.get_ref().recv(&mut self.buf[..], Msg::empty()) {
                    Ok((0, _)) => return Err(NicError::Socket("link notification socket closed".into())),
                    Ok((len, _)) => {
                        changed |= messages(&self.buf[..len.min(self.buf.len())])
                            .any(|m| m.is_err() || m.is_ok_and(|m| m.kind == RTM_NEWLINK || m.kind == RTM_DELLINK));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        guard.clear_ready();
                        break;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => changed = true,
                    Err(e) => return Err(NicError::Socket(e.to_string())),
                }
            }
            if changed {
                return Ok(());
            }
        }
    }
}
