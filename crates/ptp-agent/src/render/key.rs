//! Which process of which profile: [`ProcessKey`]. Formatted, never parsed back: whoever needs to
//! know a process's program or run id keeps the key itself.

use std::fmt;

use ptp_api::options::Program;

/// One process of one applied profile: its program and the profile's run id. Its text form,
/// `<program>.<run id>.config`, is the process's configuration file name, its supervisor key and
/// the `config` label of its `openshift_ptp_process_*` metrics (as the Go daemon names them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessKey {
    pub program: Program,
    pub run_id: u32,
}

impl ProcessKey {
    pub fn new(program: Program, run_id: u32) -> Self {
        ProcessKey { program, run_id }
    }

    /// The `config` its log lines carry (their message tag without brackets): ptp4l and phc2sys
    /// lines share the profile's `ptp4l.<id>.config`, and so do the lines of timemaster's ptp4l;
    /// ts2phc lines have `ts2phc.<id>.config`; chronyd's lines have no tag (its key).
    pub fn tag_config(self) -> String {
        let tagged_as = match self.program {
            Program::Ptp4l | Program::Phc2sys | Program::Timemaster => Program::Ptp4l,
            other => other,
        };
        ProcessKey { program: tagged_as, ..self }.to_string()
    }
}

impl fmt::Display for ProcessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.config", self.program.name(), self.run_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_config_and_the_tag_its_lines_carry() {
        let key = |program| ProcessKey::new(program, 7);
        assert_eq!(key(Program::Ptp4l).to_string(), "ptp4l.7.config");
        assert_eq!(key(Program::Phc2sys).to_string(), "phc2sys.7.config");
        assert_eq!(key(Program::Ts2phc).to_string(), "ts2phc.7.config");
        assert_eq!(key(Program::Ptp4l).tag_config(), "ptp4l.7.config");
        assert_eq!(key(Program::Phc2sys).tag_config(), "ptp4l.7.config", "phc2sys runs with -t [ptp4l.N.config]");
        assert_eq!(key(Program::Ts2phc).tag_config(), "ts2phc.7.config");
        assert_eq!(key(Program::Chronyd).to_string(), "chronyd.7.config");
        assert_eq!(key(Program::Chronyd).tag_config(), "chronyd.7.config");
        assert_eq!(key(Program::Timemaster).to_string(), "timemaster.7.config");
        assert_eq!(key(Program::Timemaster).tag_config(), "ptp4l.7.config", "its ptp4l get --message_tag");
    }
}
