//! `scripts/fuzz.sh 60 ptp4l_conf`: the ptp4l.conf parser on any text
//! must return, never panic; what parses renders to lines linuxptp reads whole and parses back
//! to the same model; setting a key leaves it the only value of its section name; the
//! owned-keys check never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptp_api::options::{Program, check_conf};
use ptp_api::ptp4l_conf::{MAX_LINE, Ptp4lConf};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(mut conf) = Ptp4lConf::parse(&text) else { return };
    let rendered = conf.render();
    assert!(rendered.lines().all(|l| l.len() <= MAX_LINE), "a rendered line linuxptp would split:\n{rendered}");
    let reparsed = Ptp4lConf::parse(&rendered).unwrap_or_else(|e| panic!("render does not parse back: {e}\n{rendered}"));
    assert_eq!(reparsed.render(), rendered, "render is not stable");
    for program in Program::ALL {
        let _ = check_conf(program, &conf);
    }
    let _ = conf.interface_names().count();
    conf.set("global", "uds_address", "/var/run/ptp4l.0.socket");
    let values: Vec<&str> = conf
        .sections
        .iter()
        .filter(|s| s.is_global())
        .flat_map(|s| s.options().filter(|(k, _)| *k == "uds_address").map(|(_, v)| v))
        .collect();
    assert_eq!(values, vec!["/var/run/ptp4l.0.socket"]);
    assert_eq!(conf.get("global", "uds_address"), Some("/var/run/ptp4l.0.socket"));
});
