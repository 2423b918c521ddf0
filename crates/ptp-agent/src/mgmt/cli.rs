//! `ptp-agent pmc`: linuxptp's `pmc -u -b 0` without pmc. Commands are pmc's words
//! (`GET <ID>`, ids case-insensitive, a unique prefix is enough); output is pmc's text
//! (`sending: GET <ID>` then each reply as pmc prints it) or, with `-o json`, one JSON object
//! per reply (`{"command", "source", "sequenceId", "action", "id", "data"}` or `"error"`).
//!
//! The socket: `-s PATH`; else `--run-id N` → `<run-dir>/ptp4l.<N>.socket` (the agent's
//! naming); else `--profile NAME` → its run id from the agent's `<run-dir>/run-ids.json`; else
//! the default `/var/run/ptp4l`.
//!
//! A command that gets no reply prints the error and the others still run; the exit status is
//! then non-zero.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::MgmtError;
use super::id::ManagementId;
use super::message::{Action, Body, Message, Request};
use super::socket::{Session, SessionSettings};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

/// `ptp-agent pmc` arguments.
#[derive(Args, Debug, Clone)]
pub struct PmcArgs {
    /// ptp4l's socket (`uds_address`).
    #[arg(short = 's', long = "socket")]
    pub socket: Option<PathBuf>,
    /// domainNumber of ptp4l (a request for another domain is dropped silently).
    #[arg(short = 'd', long = "domain", default_value_t = 0)]
    pub domain: u8,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Run id of the agent's profile: the socket is `<run-dir>/ptp4l.<id>.socket`.
    #[arg(long, conflicts_with = "socket")]
    pub run_id: Option<u32>,
    /// An applied profile's name: its run id is read from `<run-dir>/run-ids.json`, which the
    /// agent writes.
    #[arg(long, conflicts_with_all = ["socket", "run_id"])]
    pub profile: Option<String>,
    /// The agent's run directory.
    #[arg(long, default_value = crate::render::DEFAULT_RUN_DIR)]
    pub run_dir: PathBuf,
    /// Milliseconds to wait for a reply.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Commands: `GET <ID>` (one argument each, as with pmc).
    #[arg(required = true)]
    pub commands: Vec<String>,
}

/// Parses a pmc command: `GET <ID>`. Only GET is supported.
pub fn parse_command(text: &str) -> Result<Request, MgmtError> {
    let mut words = text.split_whitespace();
    let (Some(action), Some(id), None) = (words.next(), words.next(), words.next()) else {
        return Err(MgmtError::Command(format!("bad command: {text} (expected `GET <ID>`)")));
    };
    if !action.eq_ignore_ascii_case("GET") {
        return Err(MgmtError::Command(format!("bad command: {text}: only GET is supported")));
    }
    let id = ManagementId::from_name(id).ok_or_else(|| {
        let known: Vec<&str> = ManagementId::KNOWN.iter().map(|(_, n)| *n).collect();
        MgmtError::Command(format!("bad command: {text}: unknown or ambiguous id {id} (known: {})", known.join(" ")))
    })?;
    Ok(Request::get(id))
}

/// The socket named by the arguments.
pub fn socket_path(args: &PmcArgs) -> Result<PathBuf, MgmtError> {
    if let Some(s) = &args.socket {
        return Ok(s.clone());
    }
    if let Some(id) = args.run_id {
        return Ok(args.run_dir.join(format!("ptp4l.{id}.socket")));
    }
    if let Some(name) = &args.profile {
        let index_path = args.run_dir.join(crate::render::RUN_IDS_FILE);
        let text = std::fs::read_to_string(&index_path).map_err(|e| {
            MgmtError::Command(format!(
                "--profile {name}: cannot read {} ({e}): is an agent running with --run-dir {}? \
                 Found there: {}; use --run-id N (<run-dir>/ptp4l.<N>.socket)",
                index_path.display(),
                args.run_dir.display(),
                describe_run_ids(&args.run_dir)
            ))
        })?;
        let index = crate::render::parse_index(&text).map_err(MgmtError::Command)?;
        let Some(id) = index.get(name) else {
            let known: Vec<&str> = index.keys().map(String::as_str).collect();
            return Err(MgmtError::Command(format!(
                "--profile {name}: no such applied profile in {} (applied: {})",
                args.run_dir.display(),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        };
        return Ok(args.run_dir.join(format!("ptp4l.{id}.socket")));
    }
    Ok(PathBuf::from("/var/run/ptp4l"))
}

/// `0 (ens1f0 ens1f1), 1 (...)`: run ids with a ptp4l config, and that config's port sections.
fn describe_run_ids(dir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir) else { return "nothing (cannot read the directory)".into() };
    let mut found: Vec<(u32, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_prefix("ptp4l.")?.strip_suffix(".config")?.parse().ok()?;
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            Some((id, run_id_ports(&text).join(" ")))
        })
        .collect();
    found.sort();
    if found.is_empty() {
        return "no ptp4l.<id>.config".into();
    }
    found.iter().map(|(id, ports)| format!("{id} ({ports})")).collect::<Vec<_>>().join(", ")
}

/// The port sections (`[ens1f0]`) of a ptp4l configuration.
pub fn run_id_ports(config: &str) -> Vec<String> {
    config
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']').map(str::to_string))
        .filter(|s| s != "global" && s != "unicast_master_table" && !s.starts_with("ptp4l."))
        .collect()
}

/// One reply as JSON.
pub fn json(command: &str, m: &Message) -> serde_json::Value {
    let mut v = serde_json::json!({
        "command": command,
        "source": m.header.source.to_string(),
        "sequenceId": m.header.sequence_id,
        "action": m.header.action.as_str(),
        "id": m.body.id().to_string(),
    });
    match &m.body {
        Body::Data(tlv) => {
            let data = serde_json::to_value(tlv).ok().and_then(|t| t.get("data").cloned());
            v["data"] = data.unwrap_or(serde_json::Value::Null);
        }
        Body::Error(e) => v["error"] = serde_json::json!({"name": e.error_name(), "code": e.error, "text": e.display}),
    }
    v
}

/// Runs the command; `Err` is the message to print (after the output of what worked).
pub fn run(args: PmcArgs) -> Result<(), String> {
    let requests: Vec<(String, Request)> = args
        .commands
        .iter()
        .map(|c| parse_command(c).map(|r| (c.split_whitespace().collect::<Vec<_>>().join(" "), r)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let server = socket_path(&args).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let mut settings = SessionSettings { timeout: Duration::from_millis(args.timeout_ms), ..Default::default() };
        settings.header.domain = args.domain;
        let mut session = Session::connect(&server, settings).map_err(|e| e.to_string())?;
        let mut failures = Vec::new();
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) ends the command quietly.
        let write_error = |e: std::io::Error| format!("writing stdout: {e}");
        for (command, request) in &requests {
            if args.output == Output::Text {
                writeln!(out, "sending: {} {}", Action::Get.as_str(), request.id).map_err(write_error)?;
            }
            match session.request(request).await {
                Ok(replies) => {
                    for m in &replies {
                        match args.output {
                            Output::Text => write!(out, "{}", super::text::format(m)),
                            Output::Json => writeln!(out, "{}", json(command, m)),
                        }
                        .map_err(write_error)?;
                    }
                }
                Err(e) => failures.push(format!("{command}: {e}")),
            }
        }
        out.flush().map_err(write_error)?;
        if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_pmcs_words() {
        assert_eq!(parse_command("GET PARENT_DATA_SET").unwrap().id, ManagementId::PARENT_DATA_SET);
        assert_eq!(parse_command("  get  time_status_np ").unwrap().id, ManagementId::TIME_STATUS_NP);
        assert_eq!(parse_command("GET PARENT_DATA_SET").unwrap().data.len(), 32);
        for bad in ["", "GET", "SET PRIORITY1 3", "GET NOPE", "GET PORT_", "GET A B"] {
            assert!(parse_command(bad).is_err(), "{bad}");
        }
        assert!(parse_command("GET NOPE").unwrap_err().to_string().contains("PARENT_DATA_SET"));
    }

    #[test]
    fn socket_from_flags() {
        let mut args = PmcArgs {
            socket: None,
            domain: 0,
            output: Output::Text,
            run_id: Some(3),
            profile: None,
            run_dir: PathBuf::from("/run/x"),
            timeout_ms: 1,
            commands: vec![],
        };
        assert_eq!(socket_path(&args).unwrap(), PathBuf::from("/run/x/ptp4l.3.socket"));
        args.run_id = None;
        assert_eq!(socket_path(&args).unwrap(), PathBuf::from("/var/run/ptp4l"));
        args.profile = Some("oc".into());
        let e = socket_path(&args).unwrap_err().to_string();
        assert!(e.contains("--run-id") && e.contains("--profile oc") && e.contains("run-ids.json"), "{e}");

        // The index the agent writes names the profile's run id.
        let dir = tempfile::tempdir().unwrap();
        args.run_dir = dir.path().to_path_buf();
        std::fs::write(dir.path().join(crate::render::RUN_IDS_FILE), r#"{"oc":2,"bc":0}"#).unwrap();
        assert_eq!(socket_path(&args).unwrap(), dir.path().join("ptp4l.2.socket"));
        args.profile = Some("gm".into());
        let e = socket_path(&args).unwrap_err().to_string();
        assert!(e.contains("no such applied profile") && e.contains("bc, oc"), "{e}");
        std::fs::write(dir.path().join(crate::render::RUN_IDS_FILE), "not json").unwrap();
        let e = socket_path(&args).unwrap_err().to_string();
        assert!(e.contains("run-ids.json: not a JSON object"), "{e}");
    }

    #[test]
    fn port_sections() {
        assert_eq!(run_id_ports("[global]\nx 1\n[ens1f0]\n[ens1f1]\n"), ["ens1f0", "ens1f1"]);
    }
}
