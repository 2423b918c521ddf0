//! `ptp-agent parse`: log lines on stdin, one JSON object per line on stdout, in order.

use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn prints_one_json_object_per_line_in_order() {
    let input = "ptp4l[1.0]: [ptp4l.0.config] port 1 (veth1): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED\n\
                 ptp4l[2.0]: [ptp4l.0.config] master offset -12 s2 freq +345 path delay 678\n\
                 \n\
                 ts2phc[3.0]: [ts2phc.0.cfg] /dev/ptp4 offset 0 s2 freq -0 holdover\n\
                 \u{ff}invalid utf-8 is replaced, not fatal\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
        .arg("parse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut bytes = input.as_bytes().to_vec();
    bytes.extend_from_slice(b"\xff\xfe broken\n");
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "one object per input line");
    assert_eq!(lines[0]["kind"], "port");
    assert_eq!(lines[0]["role"], "SLAVE");
    assert_eq!(lines[1]["kind"], "offset");
    assert_eq!(lines[1]["iface"], "veth1", "the slave port names the master offset");
    assert_eq!(lines[1]["offset_ns"], -12);
    assert_eq!(lines[1]["clock_state"], "LOCKED");
    assert_eq!(lines[2], serde_json::json!({"kind": "other"}));
    assert_eq!(lines[3]["iface"], "/dev/ptp4");
    assert_eq!(lines[3]["clock_state"], "HOLDOVER");
    assert_eq!(lines[4]["kind"], "other");
    assert_eq!(lines[5]["kind"], "other");
}
