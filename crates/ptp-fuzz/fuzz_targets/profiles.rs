//! `scripts/fuzz.sh 60 profiles`: a node's ptp-configmap value (the
//! profile JSON) through the decoder, the validation and the renderer must return, never panic;
//! and whatever renders keeps what the agent owns: every argv reads the agent's configuration
//! file and tag only, every configuration file parses back, and ptp4l's socket and tag are the
//! agent's in every `[global]` section.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ptp_agent::render::{ptp4l_message_tag, ptp4l_socket_path, render_profile};
use ptp_api::options::{Program, check_conf, check_options, check_timemaster_conf};
use ptp_api::timemaster_conf::TimemasterConf;
use ptp_api::ptp4l_conf::{MAX_LINE, Ptp4lConf};
use ptp_api::{Code, decode_node_profiles, validate_profile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(node) = decode_node_profiles(text) else { return };
    let run_dir = Path::new("/var/run");
    for (id, profile) in (0u32..).zip(&node.profiles) {
        let owned_findings = validate_profile(profile).findings.iter().any(|f| f.code == Code::AgentOwnedOption);
        let Ok(rendered) = render_profile(profile, id, run_dir) else { continue };
        // The operator's validation and the renderer agree on what the agent owns.
        assert!(!owned_findings, "validation refuses what the renderer runs: {profile:?}");
        let _ = rendered.to_string();
        for (path, content) in &rendered.files {
            let program = program_of(path);
            match program {
                // chrony's own syntax, written as the profile gives it.
                Program::Chronyd => continue,
                Program::Timemaster => {
                    let conf = TimemasterConf::parse(content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert!(check_timemaster_conf(&conf).is_empty(), "{}: owned options in\n{content}", path.display());
                    let tag = format!("--message_tag={}", ptp4l_message_tag(id));
                    let options = conf.get("ptp4l", "options").unwrap_or_default();
                    assert!(options.ends_with(&tag), "timemaster's ptp4l without the tag:\n{content}");
                    continue;
                }
                _ => {}
            }
            assert!(content.lines().all(|l| l.len() <= MAX_LINE), "{}: a line linuxptp would split", path.display());
            let conf = Ptp4lConf::parse(content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(check_conf(program, &conf).is_empty(), "{}: owned keys in\n{content}", path.display());
            if program == Program::Ptp4l {
                let socket = ptp4l_socket_path(run_dir, id);
                let tag = ptp4l_message_tag(id);
                for (key, value) in [("uds_address", socket.to_str().unwrap_or_default()), ("message_tag", &tag)] {
                    let values: Vec<&str> = conf
                        .sections
                        .iter()
                        .filter(|s| s.is_global())
                        .flat_map(|s| s.options().filter(|(k, _)| *k == key).map(|(_, v)| v))
                        .collect();
                    assert_eq!(values, vec![value], "{key} in\n{content}");
                }
            }
        }
        for process in &rendered.processes {
            let program = process.program;
            // The agent's own -f (and phc2sys's -t) are the only owned options of the argv.
            let mut expected = Vec::new();
            if process.config_file.is_some() {
                expected.push("-f");
            }
            if program == Program::Phc2sys {
                expected.push("message_tag");
            }
            let owned: Vec<&str> = check_options(program, &process.args).into_iter().map(|c| c.owned).collect();
            assert_eq!(owned, expected, "{} {:?}", program.name(), process.args);
        }
    }
});

fn program_of(path: &Path) -> Program {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name.starts_with("ptp4l") {
        Program::Ptp4l
    } else if name.starts_with("phc2sys") {
        Program::Phc2sys
    } else if name.starts_with("chronyd") {
        Program::Chronyd
    } else if name.starts_with("timemaster") {
        Program::Timemaster
    } else {
        Program::Ts2phc
    }
}
