//! Discovery over 100 veth interfaces (50 pairs in a fresh network namespace) against spawning
//! `ethtool -T` for each of them, as the Go daemon does. Both run from a thread inside the
//! namespace (a child process inherits the thread's namespace). Needs root; skips loudly.
//! Also the agent as a command (`ptp-agent nics`, process start included), which is what a user
//! or a script comparing it with an `ethtool -T` loop gets.
//!
//! `cargo bench -p ptp-agent --bench discovery`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ptp_agent::nic::model::{group_by_ifindex, missing_links};
use ptp_agent::nic::netns::in_netns;
use ptp_agent::nic::socket::{Ethtool, dump_links};
use ptp_agent::nic::{Discovery, NicError};
use ptp_testkit::netns::NetNs;

const PAIRS: usize = 50;
const ROUNDS: usize = 50;
const COMMAND_ROUNDS: usize = 20;

fn main() {
    if !ptp_testkit::root::require_root("bench discovery") {
        return;
    }
    let ns = match NetNs::new("ptpbench") {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("bench discovery: cannot create a network namespace: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = ns.add_veth_pairs("bv", PAIRS) {
        eprintln!("bench discovery: cannot create veth pairs: {e}");
        std::process::exit(1);
    }
    match in_netns(&ns.path(), measure) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("bench discovery failed: {e}");
            std::process::exit(1);
        }
    }
}

fn measure() -> Result<(), NicError> {
    let here = Discovery::default();
    let nics = here.discover()?;
    let names: Vec<String> = nics.iter().filter(|n| !n.loopback).map(|n| n.name.clone()).collect();
    assert_eq!(names.len(), PAIRS * 2, "the namespace holds the veths");

    // Warm-up, then the mean over ROUNDS full discoveries (link dump, TSINFO dump, sysfs, driver
    // info) and over ROUNDS bare TSINFO dumps on an open socket.
    let mut full = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let found = here.discover()?;
        full.push(start.elapsed());
        assert_eq!(found.len(), PAIRS * 2 + 1);
    }
    let mut ethtool = Ethtool::open()?;
    let mut links_and_dumps = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let links = dump_links()?;
        let grouped = group_by_ifindex(ethtool.dump_tsinfo(false)?);
        links_and_dumps.push(start.elapsed());
        assert!(missing_links(&links, &grouped).is_empty());
    }
    let mut candidates = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let found = here.candidates()?;
        candidates.push(start.elapsed());
        assert_eq!(found.len(), PAIRS * 2 + 1);
    }
    let mut dumps = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let replies = ethtool.dump_tsinfo(false)?;
        dumps.push(start.elapsed());
        assert!(replies.len() > PAIRS * 2);
    }

    // What the Go daemon does: one `ethtool -T` process per interface.
    let spawn_start = Instant::now();
    for name in &names {
        let status = Command::new("ethtool")
            .args(["-T", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| NicError::Socket(format!("spawning ethtool: {e}")))?;
        assert!(status.success(), "ethtool -T {name}");
    }
    let spawned = spawn_start.elapsed();

    // The agent as a command, as a user runs it (process start, discovery, printing).
    let command = |args: &[&str]| -> Result<Duration, NicError> {
        let mut took = Vec::with_capacity(COMMAND_ROUNDS);
        for _ in 0..COMMAND_ROUNDS {
            let start = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_ptp-agent"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| NicError::Socket(format!("spawning ptp-agent: {e}")))?;
            took.push(start.elapsed());
            assert!(status.success(), "ptp-agent {args:?}");
        }
        Ok(median(&mut took))
    };
    let command_candidates = command(&["nics", "-o", "json"])?;
    let command_all = command(&["nics", "--all", "-o", "json"])?;

    let full_median = median(&mut full);
    let dump_median = median(&mut dumps);
    let links_median = median(&mut links_and_dumps);
    println!("discovery over {} interfaces ({PAIRS} veth pairs + lo), medians of {ROUNDS} runs:", names.len() + 1);
    let rows = [
        ("agent discovery (candidates: TSINFO dump, facts for PTP NICs)", median(&mut candidates)),
        ("full discovery, --all (link dump, TSINFO dump, sysfs, driver info)", full_median),
        ("link dump + TSINFO dump", links_median),
        ("TSINFO dump alone", dump_median),
    ];
    for (what, took) in rows {
        println!("  {what:<66} {took:>12.1?}   ethtool/this = {:>5.0}x", ratio(spawned, took));
    }
    for (what, took) in [
        ("`ptp-agent nics -o json` (the command, process start included)", command_candidates),
        ("`ptp-agent nics --all -o json` (the command)", command_all),
    ] {
        println!("  {what:<66} {took:>12.1?}   ethtool/this = {:>5.0}x", ratio(spawned, took));
    }
    println!("  {:<66} {spawned:>12.1?}", format!("`ethtool -T` spawned for each of the {} interfaces", names.len()));
    let headline = ratio(spawned, median(&mut candidates));
    println!(
        "agent discovery vs ethtool -T per interface: in-process {headline:.0}x (goal >= 500x: {}), \
         as a command {:.0}x (`ptp-agent nics`) / {:.0}x (`--all`)",
        if headline >= 500.0 { "met" } else { "NOT met" },
        ratio(spawned, command_candidates),
        ratio(spawned, command_all)
    );
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn ratio(slow: Duration, fast: Duration) -> f64 {
    slow.as_secs_f64() / fast.as_secs_f64().max(1e-9)
}
