//! `ptp-agent parse`: linuxptp log lines in (ptp4l/phc2sys/ts2phc output, or the agent's own log
//! over `kubectl logs`), one JSON object per line out, in order; a [`PortTracker`] remembers which
//! port is slave so that a ptp4l `master offset` line names it.
//!
//! Per line it only parses and serializes: the agent-log prefix finder is built once, each object
//! is serialized into a reused buffer (no allocation per line), the input buffer is reused. `cargo bench -p ptp-agent --bench parse` measures it as a command.

use std::io::{BufRead, Write};

use memchr::memmem::Finder;

use crate::Error;
use crate::logparse::{AGENT_LOG_TARGET, LineJson, PortTracker, parse};

/// The parse loop's state: the prefix finder (built once) and the port tracker.
pub struct ParseCommand {
    prefix: Finder<'static>,
    tracker: PortTracker,
    /// One line's JSON, reused: serializing into a `Vec` is cheaper than into the `BufWriter`.
    json: Vec<u8>,
}

impl Default for ParseCommand {
    fn default() -> Self {
        ParseCommand {
            prefix: Finder::new(AGENT_LOG_TARGET.as_bytes()).into_owned(),
            tracker: PortTracker::default(),
            json: Vec::new(),
        }
    }
}

impl ParseCommand {
    /// The linuxptp part of `line`: what follows the agent's log target when present (as
    /// [`crate::logparse::strip_agent_log_prefix`]), else the line.
    pub fn strip_prefix<'a>(&self, line: &'a str) -> &'a str {
        match self.prefix.find(line.as_bytes()) {
            Some(at) => line[at + AGENT_LOG_TARGET.len()..].trim_start(),
            None => line,
        }
    }

    /// Parses one line (without its line ending) and writes its JSON object and a newline.
    pub fn line(&mut self, text: &str, out: &mut impl Write) -> Result<(), Error> {
        let line = parse(self.strip_prefix(text));
        self.tracker.observe(&line);
        let slave = line.config.and_then(|c| self.tracker.slave_port(c));
        self.json.clear();
        serde_json::to_writer(&mut self.json, &LineJson::new(&line, slave))?;
        self.json.push(b'\n');
        out.write_all(&self.json).map_err(|e| write_error(&e))
    }

    /// Every line of `input` to `out` (flushed at the end); returns the number of lines.
    /// Invalid UTF-8 is replaced, not refused.
    pub fn run(&mut self, input: &mut impl BufRead, out: &mut impl Write) -> Result<u64, Error> {
        let mut raw = Vec::new();
        let mut lines = 0;
        loop {
            raw.clear();
            let read = input
                .read_until(b'\n', &mut raw)
                .map_err(|e| Error::Stream { what: "reading stdin", message: e.to_string() })?;
            if read == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&raw);
            self.line(text.trim_end_matches(['\n', '\r']), out)?;
            lines += 1;
        }
        out.flush().map_err(|e| write_error(&e))?;
        Ok(lines)
    }
}

fn write_error(e: &std::io::Error) -> Error {
    Error::Stream { what: "writing stdout", message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::ParseCommand;
    use crate::logparse::strip_agent_log_prefix;

    fn run(input: &str) -> String {
        let mut out = Vec::new();
        ParseCommand::default().run(&mut input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strips_the_agent_log_prefix_as_logparse_does() {
        let command = ParseCommand::default();
        for line in [
            "2024-01-01T00:00:00Z  INFO ptp_agent::child_output: ptp4l[1.0]: [a] master offset 1 s2 freq 2 path delay 3",
            "ptp4l[1.0]: [a] master offset 1 s2 freq 2 path delay 3",
            "ptp_agent::child_output:",
            "",
        ] {
            assert_eq!(command.strip_prefix(line), strip_agent_log_prefix(line), "{line}");
        }
    }

    #[test]
    fn one_object_per_line_in_order_and_the_slave_port_names_master_offsets() {
        let out = run(concat!(
            "ptp4l[1.0]: [ptp4l.0.config] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED\n",
            "ptp4l[2.0]: [ptp4l.0.config] master offset -5 s2 freq 10 path delay 80\r\n",
            "not linuxptp \u{fffd}\n",
            "last line without newline",
        ));
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(lines[1]["iface"], "ens1f0", "{out}");
        assert_eq!(lines[1]["offset_ns"], -5, "{out}");
        assert_eq!(lines[2]["kind"], lines[3]["kind"], "{out}");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let mut out = Vec::new();
        let lines = ParseCommand::default().run(&mut &b"\xff\xfe\nptp4l[1.0]: x\n"[..], &mut out).unwrap();
        assert_eq!(lines, 2);
    }
}
