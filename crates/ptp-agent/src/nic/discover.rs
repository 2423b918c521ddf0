//! Discovery: one link dump and one TSINFO dump over netlink, a per-device request for links the
//! dump skipped, then sysfs and driver facts per interface. The decisions live in `model.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tracing::debug;

use super::NicError;
use super::drvinfo::DrvInfoSocket;
use super::link::Link;
use super::model::{
    Grouped, Nic, TsSource, build_nic, group_by_ifindex, is_ptp_capable, missing_links, software_fallback,
};
use super::netns::in_netns;
use super::socket::{Ethtool, dump_links};
use super::sysfs::{self, SysfsFacts};

/// Where to discover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// `/sys/class/net` of the namespace.
    pub class_net: PathBuf,
    /// Ask for compact bitsets (names from our table) instead of verbose ones (the kernel's
    /// names).
    pub compact: bool,
    /// A network namespace to discover in (`/run/netns/NAME`); `None` = the current one.
    pub netns: Option<PathBuf>,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery { class_net: PathBuf::from("/sys/class/net"), compact: false, netns: None }
    }
}

impl Discovery {
    /// Every interface of the namespace.
    pub fn discover(&self) -> Result<Vec<Nic>, NicError> {
        match &self.netns {
            None => discover_here(&self.class_net, self.compact),
            Some(path) => {
                let (class_net, compact) = (self.class_net.clone(), self.compact);
                in_netns(path, move || discover_here(&class_net, compact))
            }
        }
    }

    /// What the default selections can pick, from one TSINFO dump: PTP capability needs hardware
    /// timestamping, which only devices with a tsinfo hook have, and those are all in the dump;
    /// devices the dump skips (bridges, ifb) have software receive only. Only PTP-capable
    /// interfaces get sysfs and driver facts. `discover` is the complete (`--all`) view.
    pub fn candidates(&self) -> Result<Vec<Nic>, NicError> {
        match &self.netns {
            None => candidates_here(&self.class_net, self.compact),
            Some(path) => {
                let (class_net, compact) = (self.class_net.clone(), self.compact);
                in_netns(path, move || candidates_here(&class_net, compact))
            }
        }
    }

    /// One interface, by name (a per-device TSINFO request).
    pub fn discover_one(&self, name: &str) -> Result<Nic, NicError> {
        let here = {
            let (class_net, compact, name) = (self.class_net.clone(), self.compact, name.to_string());
            move || -> Result<Nic, NicError> {
                let info = Ethtool::open()?.tsinfo_by_name(&name, compact)?;
                let link = dump_links()?.into_iter().find(|l| l.ifindex == info.ifindex);
                let grouped = Grouped { info, providers: 1, source: TsSource::Request };
                Ok(facts_and_build(&class_net, &grouped, link.as_ref(), DrvInfoSocket::open().as_ref()))
            }
        };
        match &self.netns {
            None => here(),
            Some(path) => in_netns(path, here),
        }
    }
}

fn discover_here(class_net: &Path, compact: bool) -> Result<Vec<Nic>, NicError> {
    let links = dump_links()?;
    let mut ethtool = Ethtool::open()?;
    let mut grouped = group_by_ifindex(ethtool.dump_tsinfo(compact)?);
    for ifindex in missing_links(&links, &grouped) {
        let Some(link) = links.iter().find(|l| l.ifindex == ifindex) else { continue };
        let entry = match ethtool.tsinfo(ifindex, compact) {
            Ok(info) => Grouped { info, providers: 1, source: TsSource::Request },
            Err(e) => {
                debug!(interface = %link.name, error = %e, "TSINFO request failed; assuming software receive only");
                Grouped { info: software_fallback(link), providers: 1, source: TsSource::Fallback }
            }
        };
        grouped.insert(ifindex, entry);
    }
    let drv = DrvInfoSocket::open();
    let by_index: BTreeMap<u32, &Link> = links.iter().map(|l| (l.ifindex, l)).collect();
    Ok(grouped
        .values()
        .map(|g| facts_and_build(class_net, g, by_index.get(&g.info.ifindex).copied(), drv.as_ref()))
        .collect())
}

/// The loopback device has ifindex 1 in every network namespace.
const LOOPBACK_IFINDEX: u32 = 1;

fn candidates_here(class_net: &Path, compact: bool) -> Result<Vec<Nic>, NicError> {
    let grouped = group_by_ifindex(Ethtool::open()?.dump_tsinfo(compact)?);
    let drv = grouped.values().any(|g| is_ptp_capable(&g.info)).then(DrvInfoSocket::open).flatten();
    Ok(grouped
        .values()
        .map(|g| {
            if is_ptp_capable(&g.info) {
                facts_and_build(class_net, g, None, drv.as_ref())
            } else {
                let mut nic = build_nic(g, None, &SysfsFacts::default(), None);
                nic.loopback = g.info.ifindex == LOOPBACK_IFINDEX;
                nic
            }
        })
        .collect())
}

fn facts_and_build(class_net: &Path, grouped: &Grouped, link: Option<&Link>, drv: Option<&DrvInfoSocket>) -> Nic {
    let name = link.map(|l| l.name.as_str()).filter(|n| !n.is_empty()).unwrap_or(&grouped.info.name);
    // Virtual devices (rtnetlink names their kind: veth, bridge, ...) have no PCI device, so
    // sysfs is read only for the others; and only when it describes this very interface (see
    // `sysfs::ifindex`).
    let virtual_device = link.is_some_and(|l| l.kind.is_some() || l.is_loopback());
    let facts = if !virtual_device && sysfs::ifindex(class_net, name) == Some(grouped.info.ifindex) {
        sysfs::read_facts(class_net, name)
    } else {
        SysfsFacts::default()
    };
    let drv = drv.and_then(|s| s.query(name));
    build_nic(grouped, link, &facts, drv.as_ref())
}
