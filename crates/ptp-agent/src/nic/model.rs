//! Pure decisions of discovery: grouping TSINFO replies by interface, merging them with the link
//! dump and the sysfs/driver facts into a [`Nic`], the PTP capability rule, which interfaces to
//! report, and the mapping to the API's [`PtpDevice`].

use std::collections::BTreeMap;

use ptp_api::{HardwareInfo, PtpDevice};
use serde::{Deserialize, Serialize};

use super::drvinfo::DrvInfo;
use super::link::Link;
use super::names::{HARDWARE_RAW_CLOCK, HARDWARE_RECEIVE, HARDWARE_TRANSMIT, SOFTWARE_RECEIVE, SOFTWARE_SYSTEM_CLOCK};
use super::sysfs::SysfsFacts;
use super::tsinfo::{BitSet, TsInfo};

/// Where an interface's timestamping facts come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TsSource {
    /// The TSINFO dump.
    #[default]
    Dump,
    /// A per-device TSINFO request (the dump skipped the device).
    Request,
    /// Neither answered: software receive and system clock assumed (what the kernel reports
    /// for a device without a tsinfo hook).
    Fallback,
}

/// The TSINFO of one interface: the first reply and how many providers the kernel reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouped {
    pub info: TsInfo,
    pub providers: usize,
    pub source: TsSource,
}

/// One network interface with everything discovery learnt about it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nic {
    pub name: String,
    pub ifindex: u32,
    /// Capability names exactly as `ethtool -T` prints them.
    pub timestamping: Vec<String>,
    pub tx_types: Vec<String>,
    pub rx_filters: Vec<String>,
    pub phc_index: Option<u32>,
    /// Hardware transmit, receive and raw clock timestamping and a PHC.
    pub ptp_capable: bool,
    pub pci_address: Option<String>,
    pub driver: Option<String>,
    pub vendor_id: Option<String>,
    pub device_id: Option<String>,
    pub firmware_version: Option<String>,
    /// An SR-IOV virtual function.
    pub virtual_function: bool,
    pub loopback: bool,
    /// rtnetlink link kind of virtual devices (`veth`, `bridge`, ...).
    pub kind: Option<String>,
    /// Operational state as sysfs spells it (`up`, `down`, ...).
    pub link_status: Option<String>,
    pub link_speed_mbps: Option<u64>,
    /// Timestamping providers the kernel reported (several on kernels ≥ 6.14).
    pub providers: usize,
    pub source: TsSource,
}

/// Which interfaces to report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Every interface of the network namespace.
    pub all: bool,
    /// Also interfaces with software timestamping only (virtual machines, the local lab).
    pub include_software: bool,
    /// Also SR-IOV virtual functions.
    pub include_vfs: bool,
}

/// Groups replies by ifindex: the first reply of an interface is the primary one, the others
/// (one per extra timestamping provider) are counted.
pub fn group_by_ifindex(replies: Vec<TsInfo>) -> BTreeMap<u32, Grouped> {
    let mut grouped: BTreeMap<u32, Grouped> = BTreeMap::new();
    for info in replies {
        grouped.entry(info.ifindex).and_modify(|g| g.providers += 1).or_insert(Grouped {
            info,
            providers: 1,
            source: TsSource::Dump,
        });
    }
    grouped
}

/// Links the TSINFO dump did not answer for (devices without a tsinfo hook on kernels ≥ 6.14).
pub fn missing_links(links: &[Link], grouped: &BTreeMap<u32, Grouped>) -> Vec<u32> {
    links.iter().filter(|l| l.ifindex != 0 && !grouped.contains_key(&l.ifindex)).map(|l| l.ifindex).collect()
}

/// What the kernel reports for a device without a tsinfo hook: software receive and the system
/// clock.
pub fn software_fallback(link: &Link) -> TsInfo {
    TsInfo {
        ifindex: link.ifindex,
        name: link.name.clone(),
        timestamping: BitSet { bits: vec![SOFTWARE_RECEIVE, SOFTWARE_SYSTEM_CLOCK], ..Default::default() },
        ..Default::default()
    }
}

/// The Go daemon's rule: hardware transmit, hardware receive, hardware raw clock and a PHC.
pub fn is_ptp_capable(info: &TsInfo) -> bool {
    let ts = &info.timestamping;
    ts.contains(HARDWARE_TRANSMIT)
        && ts.contains(HARDWARE_RECEIVE)
        && ts.contains(HARDWARE_RAW_CLOCK)
        && phc(info).is_some()
}

/// The PHC index; the kernel omits the attribute without a PHC, an old one may send -1.
fn phc(info: &TsInfo) -> Option<u32> {
    info.phc_index.filter(|i| (*i as i32) >= 0)
}

fn useful(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s != "N/A").then(|| s.to_string())
}

/// Merges everything known about one interface.
pub fn build_nic(grouped: &Grouped, link: Option<&Link>, sysfs: &SysfsFacts, drv: Option<&DrvInfo>) -> Nic {
    let info = &grouped.info;
    let name = link.map(|l| l.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| info.name.clone());
    let drv_bus = drv.and_then(|d| useful(&d.bus_info)).filter(|b| super::sysfs::is_pci_address(b));
    Nic {
        name,
        ifindex: info.ifindex,
        timestamping: info.timestamping_names(),
        tx_types: info.tx_type_names(),
        rx_filters: info.rx_filter_names(),
        phc_index: phc(info),
        ptp_capable: is_ptp_capable(info),
        pci_address: sysfs.pci_address.clone().or(drv_bus),
        driver: sysfs.driver.clone().or_else(|| drv.and_then(|d| useful(&d.driver))),
        vendor_id: sysfs.vendor_id.clone(),
        device_id: sysfs.device_id.clone(),
        firmware_version: drv.and_then(|d| useful(&d.firmware_version)),
        virtual_function: sysfs.virtual_function,
        loopback: link.is_some_and(Link::is_loopback),
        kind: link.and_then(|l| l.kind.clone()),
        link_status: link.and_then(|l| l.operstate_name().map(str::to_string)).or_else(|| sysfs.operstate.clone()),
        link_speed_mbps: sysfs.speed_mbps,
        providers: grouped.providers,
        source: grouped.source,
    }
}

/// Whether `nic` is reported under `selection`. By default: PCI NICs that are PTP-capable,
/// without virtual functions.
pub fn is_selected(nic: &Nic, selection: &Selection) -> bool {
    if selection.all {
        return true;
    }
    if nic.virtual_function && !selection.include_vfs {
        return false;
    }
    if nic.ptp_capable && nic.pci_address.is_some() {
        return true;
    }
    let software = ["software-transmit", "software-receive"].iter().all(|c| nic.timestamping.iter().any(|t| t == c));
    selection.include_software && !nic.loopback && (software || nic.ptp_capable)
}

/// The interfaces to report, sorted by name.
pub fn select(nics: &[Nic], selection: &Selection) -> Vec<Nic> {
    let mut chosen: Vec<Nic> = nics.iter().filter(|n| is_selected(n, selection)).cloned().collect();
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    chosen
}

/// The API's view of a NIC (Go-compatible field names).
pub fn to_ptp_device(nic: &Nic) -> PtpDevice {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let hardware = HardwareInfo {
        pci_address: text(&nic.pci_address),
        vendor_id: text(&nic.vendor_id),
        device_id: text(&nic.device_id),
        driver: text(&nic.driver),
        firmware_version: text(&nic.firmware_version),
        link_status: text(&nic.link_status),
        link_speed: nic.link_speed_mbps.map(|s| format!("{s}Mb/s")).unwrap_or_default(),
    };
    PtpDevice {
        name: nic.name.clone(),
        profile: String::new(),
        hardware_info: (hardware != HardwareInfo::default()).then_some(hardware),
        timestamping: Some(nic.timestamping.clone()),
        phc_index: nic.phc_index.and_then(|i| i32::try_from(i).ok()),
        ptp_capable: Some(nic.ptp_capable),
    }
}

/// The devices to report for `nics` under `selection`, sorted by name.
pub fn devices(nics: &[Nic], selection: &Selection) -> Vec<PtpDevice> {
    select(nics, selection).iter().map(to_ptp_device).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ifindex: u32, name: &str, bits: &[u32], phc: Option<u32>) -> TsInfo {
        TsInfo {
            ifindex,
            name: name.into(),
            timestamping: BitSet { bits: bits.to_vec(), ..Default::default() },
            phc_index: phc,
            ..Default::default()
        }
    }

    fn grouped(info: TsInfo) -> Grouped {
        Grouped { info, providers: 1, source: TsSource::Dump }
    }

    const HW: &[u32] = &[0, 1, 2, 3, 4, 6];
    const SW: &[u32] = &[1, 3, 4];

    fn pci_facts(vf: bool) -> SysfsFacts {
        SysfsFacts {
            pci_address: Some("0000:3b:00.0".into()),
            vendor_id: Some("8086".into()),
            device_id: Some("159b".into()),
            driver: Some("ice".into()),
            virtual_function: vf,
            operstate: Some("down".into()),
            speed_mbps: Some(25000),
        }
    }

    #[test]
    fn several_replies_for_one_ifindex_keep_the_first_and_count_providers() {
        let replies = vec![ts(3, "eth1", HW, Some(0)), ts(1, "lo", SW, None), ts(3, "eth1", SW, None)];
        let g = group_by_ifindex(replies);
        assert_eq!(g.len(), 2);
        assert_eq!(g[&3].providers, 2);
        assert_eq!(g[&3].info.phc_index, Some(0), "first reply is the primary one");
        assert_eq!(g[&1].providers, 1);
    }

    #[test]
    fn links_the_dump_skipped_are_found_and_get_a_software_fallback() {
        let g = group_by_ifindex(vec![ts(1, "lo", SW, None)]);
        let links = vec![
            Link { ifindex: 1, name: "lo".into(), ..Default::default() },
            Link { ifindex: 4, name: "br0".into(), kind: Some("bridge".into()), ..Default::default() },
        ];
        assert_eq!(missing_links(&links, &g), vec![4]);
        let fallback = software_fallback(&links[1]);
        assert_eq!(fallback.timestamping_names(), ["software-receive", "software-system-clock"]);
        assert_eq!((fallback.ifindex, fallback.name.as_str()), (4, "br0"));
    }

    #[test]
    fn ptp_capable_needs_all_three_hardware_bits_and_a_phc() {
        assert!(is_ptp_capable(&ts(2, "a", HW, Some(1))));
        assert!(!is_ptp_capable(&ts(2, "a", HW, None)), "no PHC");
        assert!(!is_ptp_capable(&ts(2, "a", HW, Some(u32::MAX))), "PHC -1");
        assert!(!is_ptp_capable(&ts(2, "a", &[0, 2, 4], Some(1))), "no raw clock");
        assert!(!is_ptp_capable(&ts(2, "a", &[2, 6], Some(1))), "no hardware transmit");
        assert!(!is_ptp_capable(&ts(2, "a", SW, Some(1))));
    }

    #[test]
    fn build_prefers_sysfs_and_link_and_falls_back_to_drvinfo() {
        let link = Link { ifindex: 2, name: "ens1f0".into(), operstate: Some(6), ..Default::default() };
        let drv = DrvInfo {
            driver: "ice".into(),
            firmware_version: "4.40 0x8001b8d1".into(),
            bus_info: "0000:3b:00.0".into(),
        };
        let nic = build_nic(&grouped(ts(2, "ens1f0", HW, Some(1))), Some(&link), &pci_facts(false), Some(&drv));
        assert!(nic.ptp_capable);
        assert_eq!(nic.link_status.as_deref(), Some("up"), "rtnetlink state wins over sysfs");
        assert_eq!(nic.firmware_version.as_deref(), Some("4.40 0x8001b8d1"));
        assert_eq!(nic.timestamping[0], "hardware-transmit");
        // A veth: no sysfs device, driver and no PCI bus from drvinfo, firmware "N/A" dropped.
        let drv = DrvInfo { driver: "veth".into(), firmware_version: "N/A".into(), bus_info: "".into() };
        let link = Link { ifindex: 9, name: "v0".into(), kind: Some("veth".into()), ..Default::default() };
        let nic = build_nic(&grouped(ts(9, "", SW, None)), Some(&link), &SysfsFacts::default(), Some(&drv));
        assert_eq!((nic.name.as_str(), nic.driver.as_deref(), nic.pci_address.as_deref()), ("v0", Some("veth"), None));
        assert_eq!(nic.firmware_version, None);
        assert_eq!(nic.kind.as_deref(), Some("veth"));
        // PCI address from drvinfo when sysfs has none.
        let drv = DrvInfo { driver: "virtio_net".into(), firmware_version: "".into(), bus_info: "0000:00:03.0".into() };
        let nic = build_nic(&grouped(ts(9, "eth0", SW, None)), None, &SysfsFacts::default(), Some(&drv));
        assert_eq!((nic.name.as_str(), nic.pci_address.as_deref()), ("eth0", Some("0000:00:03.0")));
    }

    fn nic(name: &str, bits: &[u32], phc: Option<u32>, facts: SysfsFacts, loopback: bool) -> Nic {
        let link = Link { ifindex: 5, name: name.into(), flags: if loopback { 8 } else { 0 }, ..Default::default() };
        build_nic(&grouped(ts(5, name, bits, phc)), Some(&link), &facts, None)
    }

    #[test]
    fn selection_defaults_to_ptp_capable_pci_nics_without_vfs() {
        let pf = nic("ens1f0", HW, Some(0), pci_facts(false), false);
        let vf = nic("ens1f0v0", HW, Some(0), pci_facts(true), false);
        let pci_sw = nic("eth0", SW, None, pci_facts(false), false);
        let veth = nic("veth0", SW, None, SysfsFacts::default(), false);
        let lo = nic("lo", SW, None, SysfsFacts::default(), true);
        let bridge = nic("br0", &[3, 4], None, SysfsFacts::default(), false);
        let all = [veth.clone(), vf.clone(), pf.clone(), pci_sw.clone(), lo.clone(), bridge.clone()];
        let names = |s: Selection| select(&all, &s).into_iter().map(|n| n.name).collect::<Vec<_>>();
        assert_eq!(names(Selection::default()), ["ens1f0"]);
        assert_eq!(names(Selection { include_vfs: true, ..Default::default() }), ["ens1f0", "ens1f0v0"]);
        assert_eq!(
            names(Selection { include_software: true, ..Default::default() }),
            ["ens1f0", "eth0", "veth0"],
            "software-only interfaces, not loopback, not receive-only"
        );
        assert_eq!(
            names(Selection { all: true, ..Default::default() }),
            ["br0", "ens1f0", "ens1f0v0", "eth0", "lo", "veth0"]
        );
    }

    #[test]
    fn maps_to_the_go_compatible_device() {
        let pf = nic("ens1f0", HW, Some(2), pci_facts(false), false);
        let d = to_ptp_device(&pf);
        assert_eq!(d.name, "ens1f0");
        assert_eq!((d.phc_index, d.ptp_capable), (Some(2), Some(true)));
        let hw = d.hardware_info.unwrap();
        assert_eq!(
            (hw.pci_address.as_str(), hw.vendor_id.as_str(), hw.device_id.as_str()),
            ("0000:3b:00.0", "8086", "159b")
        );
        assert_eq!((hw.link_status.as_str(), hw.link_speed.as_str()), ("down", "25000Mb/s"));
        let json = serde_json::to_value(to_ptp_device(&nic("v0", SW, None, SysfsFacts::default(), false))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "v0", "timestamping": ["software-transmit", "software-receive", "software-system-clock"], "ptpCapable": false})
        );
    }

    #[test]
    fn nic_json_uses_camel_case_and_keeps_null_phc() {
        let v = serde_json::to_value(nic("v0", SW, None, SysfsFacts::default(), false)).unwrap();
        for key in [
            "name",
            "ifindex",
            "timestamping",
            "txTypes",
            "rxFilters",
            "phcIndex",
            "ptpCapable",
            "pciAddress",
            "driver",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert!(v["phcIndex"].is_null());
    }
}
