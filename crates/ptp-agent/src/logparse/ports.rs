//! Port roles and which port of each ptp4l instance is currently slave.

use std::collections::HashMap;

use serde::Serialize;

use super::{Kind, Line};

/// Port role as the Go daemon's `openshift_ptp_interface_role` metric encodes it, plus LISTENING.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Passive,
    Slave,
    Master,
    Faulty,
    Unknown,
    Listening,
}

impl Role {
    /// The metric value: 0 PASSIVE, 1 SLAVE, 2 MASTER, 3 FAULTY, 4 UNKNOWN, 5 LISTENING.
    pub fn metric_value(self) -> i64 {
        match self {
            Role::Passive => 0,
            Role::Slave => 1,
            Role::Master => 2,
            Role::Faulty => 3,
            Role::Unknown => 4,
            Role::Listening => 5,
        }
    }

    /// The role a port has after moving to `to_state` on `event`.
    pub fn from_state(to_state: &str, event: Option<&str>) -> Self {
        if event.is_some_and(|e| e.starts_with("FAULT_DETECTED") || e.starts_with("SYNCHRONIZATION_FAULT")) {
            return Role::Faulty;
        }
        match to_state {
            "SLAVE" | "TIME_RECEIVER" => Role::Slave,
            "MASTER" | "GRAND_MASTER" | "PRE_MASTER" | "TIME_TRANSMITTER" | "PRE_TIME_TRANSMITTER" => Role::Master,
            "PASSIVE" => Role::Passive,
            "FAULTY" => Role::Faulty,
            "LISTENING" | "INITIALIZING" => Role::Listening,
            _ => Role::Unknown,
        }
    }
}

/// Per configuration: port names (from `port N (iface):` lines, or seeded from the rendered
/// config's port sections, which ptp4l numbers from 1 in order) and the current slave port.
#[derive(Debug, Default)]
pub struct PortTracker {
    names: HashMap<(String, u32), String>,
    slave: HashMap<String, u32>,
}

impl PortTracker {
    /// Names port `number` of `config` (linuxptp 3.1 does not print port names).
    pub fn seed(&mut self, config: &str, number: u32, name: &str) {
        self.names.insert((config.to_string(), number), name.to_string());
    }

    /// Updates the state from a line; returns the (port name, role) a port state change implies.
    pub fn observe(&mut self, line: &Line<'_>) -> Option<(String, Role)> {
        if line.kind != Some(Kind::Port) {
            return None;
        }
        let config = line.config.unwrap_or_default();
        let port = line.port?;
        let key = (config.to_string(), port);
        if let Some(name) = line.port_name {
            self.names.insert(key, name.to_string());
        }
        let role = line.role()?;
        Some(self.set_role(config, port, role))
    }

    /// Port `port` of `config` has `role` now (from a line or from management data); returns its
    /// name and the role.
    pub fn set_role(&mut self, config: &str, port: u32, role: Role) -> (String, Role) {
        if role == Role::Slave {
            self.slave.insert(config.to_string(), port);
        } else if self.slave.get(config) == Some(&port) {
            self.slave.remove(config);
        }
        (self.name(config, port, None), role)
    }

    /// Whether port `port` of `config` is the slave port.
    pub fn is_slave(&self, config: &str, port: u32) -> bool {
        self.slave.get(config) == Some(&port)
    }

    /// The name port `port` of `config` has, or gets from a line naming it `named`: that name,
    /// else the one seen or seeded before, else `port<N>`.
    pub fn name(&self, config: &str, port: u32, named: Option<&str>) -> String {
        match named {
            Some(name) => name.to_string(),
            None => self.names.get(&(config.to_string(), port)).cloned().unwrap_or_else(|| format!("port{port}")),
        }
    }

    /// The name of the port of `config` that is currently slave, when known.
    pub fn slave_port(&self, config: &str) -> Option<&str> {
        let port = self.slave.get(config)?;
        self.names.get(&(config.to_string(), *port)).map(String::as_str)
    }

    /// Whether `config` currently has a slave port (named or not).
    pub fn has_slave(&self, config: &str) -> bool {
        self.slave.contains_key(config)
    }

    /// Whether `config` has a port named `name` (seeded or seen).
    pub fn has_port_named(&self, config: &str, name: &str) -> bool {
        self.names.iter().any(|((c, _), n)| c == config && n == name)
    }

    /// Forgets everything about `config` (its process restarted or its profile went away).
    pub fn forget(&mut self, config: &str) {
        self.slave.remove(config);
        self.names.retain(|(c, _), _| c != config);
    }
}
