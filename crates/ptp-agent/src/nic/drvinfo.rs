//! Driver, firmware version and bus address of an interface through the `SIOCETHTOOL`
//! `ETHTOOL_GDRVINFO` ioctl: what `ethtool -i` prints, without spawning it.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GDRVINFO: u32 = 0x3;
const IFNAMSIZ: usize = 16;

/// `struct ethtool_drvinfo` from `<linux/ethtool.h>`.
#[repr(C)]
struct EthtoolDrvinfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// `struct ifreq` with the `ifr_data` member of its union (40 bytes on 64-bit Linux).
#[repr(C)]
struct IfreqData {
    name: [u8; IFNAMSIZ],
    data: *mut c_void,
    _pad: [u8; 16],
}

/// What `ETHTOOL_GDRVINFO` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrvInfo {
    pub driver: String,
    pub firmware_version: String,
    pub bus_info: String,
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

/// A datagram socket to issue `SIOCETHTOOL` on, opened once per discovery.
pub struct DrvInfoSocket {
    fd: OwnedFd,
}

impl DrvInfoSocket {
    pub fn open() -> Option<Self> {
        socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
            .ok()
            .map(|fd| DrvInfoSocket { fd })
    }

    /// Queries the driver information of `ifname` in the socket's network namespace.
    #[allow(unsafe_code)] // a syscall without a safe wrapper: see the SAFETY comment
    pub fn query(&self, ifname: &str) -> Option<DrvInfo> {
        if ifname.is_empty() || ifname.len() >= IFNAMSIZ {
            return None;
        }
        let mut info = EthtoolDrvinfo {
            cmd: ETHTOOL_GDRVINFO,
            driver: [0; 32],
            version: [0; 32],
            fw_version: [0; 32],
            bus_info: [0; 32],
            erom_version: [0; 32],
            reserved2: [0; 12],
            n_priv_flags: 0,
            n_stats: 0,
            testinfo_len: 0,
            eedump_len: 0,
            regdump_len: 0,
        };
        let mut request =
            IfreqData { name: [0; IFNAMSIZ], data: (&mut info as *mut EthtoolDrvinfo).cast(), _pad: [0; 16] };
        request.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
        // SAFETY: the ethtool ioctl has no safe wrapper. `request` and `info` are valid, properly
        // sized #[repr(C)] structs that outlive the call; the kernel writes at most
        // size_of::<EthtoolDrvinfo>() bytes into `info`. The descriptor is owned by `self`.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), SIOCETHTOOL, &mut request as *mut IfreqData) };
        (rc == 0).then(|| DrvInfo {
            driver: c_string(&info.driver),
            firmware_version: c_string(&info.fw_version),
            bus_info: c_string(&info.bus_info),
        })
    }
}

/// Queries the driver information of `ifname` in the current network namespace.
pub fn drvinfo(ifname: &str) -> Option<DrvInfo> {
    DrvInfoSocket::open()?.query(ifname)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(std::mem::size_of::<EthtoolDrvinfo>(), 196);
        assert_eq!(std::mem::size_of::<IfreqData>(), 40);
    }

    #[test]
    fn loopback_has_no_driver_info_and_bad_names_are_refused() {
        // `lo` has no get_drvinfo in most kernels; whatever it answers must not panic.
        let _ = drvinfo("lo");
        assert!(drvinfo("").is_none());
        assert!(drvinfo("a-name-longer-than-ifnamsiz").is_none());
    }
}
