//! Facts about an interface from sysfs (`/sys/class/net/<name>`): PCI address and IDs, driver,
//! SR-IOV virtual function, link state and speed. The root is a parameter so tests can build a
//! fake tree.

use std::path::{Path, PathBuf};

/// What sysfs says about one interface; absent facts are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysfsFacts {
    pub pci_address: Option<String>,
    pub vendor_id: Option<String>,
    pub device_id: Option<String>,
    pub driver: Option<String>,
    pub virtual_function: bool,
    pub operstate: Option<String>,
    pub speed_mbps: Option<u64>,
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `dddd:bb:dd.f`
pub(crate) fn is_pci_address(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b'.'
        && s.chars().enumerate().all(|(i, c)| matches!(i, 4 | 7 | 10) || c.is_ascii_hexdigit())
}

/// The PCI device directory the interface hangs off, if any (its own device or an ancestor,
/// as with virtio).
fn pci_dir(device: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(device).ok()?;
    real.ancestors().find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(is_pci_address)).map(Path::to_path_buf)
}

/// The ifindex sysfs lists for `name`. A thread that entered another network namespace still
/// sees the sysfs of the namespace it was mounted in, so discovery checks that the ifindex
/// matches before trusting the other facts.
pub fn ifindex(class_net: &Path, name: &str) -> Option<u32> {
    read_trimmed(&class_net.join(name).join("ifindex")).and_then(|s| s.parse().ok())
}

/// Reads the facts of `name` under `class_net` (normally `/sys/class/net`).
pub fn read_facts(class_net: &Path, name: &str) -> SysfsFacts {
    let dir = class_net.join(name);
    let device = dir.join("device");
    let pci = pci_dir(&device);
    let hex_id = |file: &str| {
        pci.as_ref().and_then(|p| read_trimmed(&p.join(file))).map(|v| v.trim_start_matches("0x").to_string())
    };
    let driver = std::fs::read_link(device.join("driver"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    SysfsFacts {
        pci_address: pci.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()),
        vendor_id: hex_id("vendor"),
        device_id: hex_id("device"),
        driver,
        virtual_function: pci.as_ref().is_some_and(|p| p.join("physfn").exists()),
        operstate: read_trimmed(&dir.join("operstate")),
        // Reading `speed` fails with EINVAL while the link is down; -1 means unknown.
        speed_mbps: read_trimmed(&dir.join("speed"))
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|s| *s > 0)
            .map(|s| s as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_a_fake_pci_vf_tree() {
        let root = std::env::temp_dir().join(format!("ptp-sysfs-{}", std::process::id()));
        let pci = root.join("devices/pci0000:00/0000:3b:00.1");
        let driver = root.join("bus/pci/drivers/iavf");
        let net = root.join("class/net/ens1f0v0");
        for d in [&pci, &driver, &net] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(pci.join("vendor"), "0x8086\n").unwrap();
        std::fs::write(pci.join("device"), "0x1889\n").unwrap();
        symlink(&driver, pci.join("driver")).unwrap();
        symlink(&pci, pci.join("physfn")).unwrap();
        symlink(&pci, net.join("device")).unwrap();
        std::fs::write(net.join("operstate"), "up\n").unwrap();
        std::fs::write(net.join("speed"), "25000\n").unwrap();
        let facts = read_facts(&root.join("class/net"), "ens1f0v0");
        assert_eq!(facts.pci_address.as_deref(), Some("0000:3b:00.1"));
        assert_eq!(facts.vendor_id.as_deref(), Some("8086"));
        assert_eq!(facts.device_id.as_deref(), Some("1889"));
        assert_eq!(facts.driver.as_deref(), Some("iavf"));
        assert!(facts.virtual_function);
        assert_eq!(facts.operstate.as_deref(), Some("up"));
        assert_eq!(facts.speed_mbps, Some(25000));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn virtual_interfaces_have_no_pci_facts() {
        let facts = read_facts(Path::new("/sys/class/net"), "lo");
        assert_eq!(facts.pci_address, None);
        assert!(!facts.virtual_function);
        assert!(is_pci_address("0000:00:03.0"));
        assert!(!is_pci_address("virtio2"));
        assert_eq!(ifindex(Path::new("/sys/class/net"), "lo"), Some(1));
        assert_eq!(ifindex(Path::new("/sys/class/net"), "no-such-if"), None);
    }
}
