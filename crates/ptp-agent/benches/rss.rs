//! Agent memory while supervising 3 children (goal: RSS < 20 MiB). Runs the release `ptp-agent
//! run --profile` with three profiles whose ptp4l is a fake (a shell script printing ptp4l's
//! lines), so the agent does its real work (supervision, parsing, metrics) without root.
//! `cargo bench -p ptp-agent --bench rss`

use std::time::Duration;

use ptp_testkit::probe::{agent_run, status_kib};

fn main() {
    let dir = std::env::temp_dir().join(format!("ptp-rss-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("temp dir");
    ptp_testkit::fixtures::install_fake(&bin, "ptp4l", &ptp_testkit::fixtures::locked_ptp4l_body("0.05"))
        .expect("fake ptp4l");
    let profiles: Vec<String> = (1..=3)
        .map(|i| {
            serde_json::json!({"name": format!("p{i}"), "interface": format!("eth{i}"), "ptp4lOpts": "-S"}).to_string()
        })
        .collect();
    std::fs::write(dir.join("profiles.json"), format!("[{}]", profiles.join(","))).expect("profiles");
    let mut agent = agent_run(env!("CARGO_BIN_EXE_ptp-agent"), "bench", &dir.join("profiles.json"), &dir.join("run"))
        .args(["--metrics-addr", "127.0.0.1:0", "--health-addr", "none"])
        .arg("--bin-dir")
        .arg(&bin)
        .spawn()
        .expect("agent starts");
    std::thread::sleep(Duration::from_secs(5));
    let pid = agent.id();
    // Children are started from the supervisor's forker thread: count processes whose parent is the agent.
    let children = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .filter(|e| {
                    std::fs::read_to_string(e.path().join("status"))
                        .unwrap_or_default()
                        .lines()
                        .any(|l| l.strip_prefix("PPid:").is_some_and(|v| v.trim() == pid.to_string()))
                })
                .count()
        })
        .unwrap_or(0);
    let rss = status_kib(pid, "VmRSS:");
    let peak = status_kib(pid, "VmHWM:");
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "agent RSS supervising 3 children (each printing 20 lines/s): {:.1} MiB (peak {:.1} MiB); children seen: {children}; goal < 20 MiB: {}",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        if rss < 20 * 1024 { "met" } else { "NOT met" }
    );
}
