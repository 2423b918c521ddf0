//! managementId values (linuxptp tlv.h) and their names as pmc spells them.

use std::fmt;

use serde::Serialize;

/// A managementId. The constants are the ones this module decodes; any other value is kept as
/// is (shown in hex) so a reply for it is still reported, not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ManagementId(pub u16);

impl ManagementId {
    pub const NULL_MANAGEMENT: Self = Self(0x0000);
    pub const DEFAULT_DATA_SET: Self = Self(0x2000);
    pub const CURRENT_DATA_SET: Self = Self(0x2001);
    pub const PARENT_DATA_SET: Self = Self(0x2002);
    pub const TIME_PROPERTIES_DATA_SET: Self = Self(0x2003);
    pub const PORT_DATA_SET: Self = Self(0x2004);
    pub const TIME_STATUS_NP: Self = Self(0xC000);
    pub const GRANDMASTER_SETTINGS_NP: Self = Self(0xC001);
    pub const SUBSCRIBE_EVENTS_NP: Self = Self(0xC003);
    pub const PORT_PROPERTIES_NP: Self = Self(0xC004);
    pub const PORT_STATS_NP: Self = Self(0xC005);

    /// Every id this module decodes, with pmc's name.
    pub const KNOWN: [(ManagementId, &'static str); 11] = [
        (Self::NULL_MANAGEMENT, "NULL_MANAGEMENT"),
        (Self::DEFAULT_DATA_SET, "DEFAULT_DATA_SET"),
        (Self::CURRENT_DATA_SET, "CURRENT_DATA_SET"),
        (Self::PARENT_DATA_SET, "PARENT_DATA_SET"),
        (Self::TIME_PROPERTIES_DATA_SET, "TIME_PROPERTIES_DATA_SET"),
        (Self::PORT_DATA_SET, "PORT_DATA_SET"),
        (Self::TIME_STATUS_NP, "TIME_STATUS_NP"),
        (Self::GRANDMASTER_SETTINGS_NP, "GRANDMASTER_SETTINGS_NP"),
        (Self::SUBSCRIBE_EVENTS_NP, "SUBSCRIBE_EVENTS_NP"),
        (Self::PORT_PROPERTIES_NP, "PORT_PROPERTIES_NP"),
        (Self::PORT_STATS_NP, "PORT_STATS_NP"),
    ];

    /// pmc's name, or `None` for an id this module does not know.
    pub fn name(self) -> Option<&'static str> {
        Self::KNOWN.iter().find(|(id, _)| *id == self).map(|(_, n)| *n)
    }

    /// The id named `word`: exact (case-insensitive) or, as pmc allows, a prefix of exactly one
    /// name (`PARENT` → PARENT_DATA_SET). `None` when nothing or several names match.
    pub fn from_name(word: &str) -> Option<Self> {
        let upper = word.to_ascii_uppercase();
        if let Some((id, _)) = Self::KNOWN.iter().find(|(_, n)| *n == upper) {
            return Some(*id);
        }
        let mut matches = Self::KNOWN.iter().filter(|(_, n)| !upper.is_empty() && n.starts_with(&upper));
        match (matches.next(), matches.next()) {
            (Some((id, _)), None) => Some(*id),
            _ => None,
        }
    }

    /// The dataField size pmc sends with a GET (a zero-filled body of the dataset's size, padded to
    /// even); 0 for ids whose GET pmc sends empty. ptp4l accepts both forms.
    pub fn get_body_len(self) -> usize {
        let len = match self {
            Self::DEFAULT_DATA_SET => 20,
            Self::CURRENT_DATA_SET => 18,
            Self::PARENT_DATA_SET => 32,
            Self::TIME_PROPERTIES_DATA_SET => 4,
            Self::PORT_DATA_SET => 26,
            Self::TIME_STATUS_NP => 50,
            Self::GRANDMASTER_SETTINGS_NP => 8,
            Self::SUBSCRIBE_EVENTS_NP => 66,
            Self::PORT_PROPERTIES_NP => 13,
            Self::PORT_STATS_NP => 266,
            _ => 0,
        };
        len + len % 2
    }
}

impl fmt::Display for ManagementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for ManagementId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_prefixes_must_be_unique() {
        for (id, name) in ManagementId::KNOWN {
            assert_eq!(ManagementId::from_name(name), Some(id));
            assert_eq!(ManagementId::from_name(&name.to_lowercase()), Some(id));
        }
        assert_eq!(ManagementId::from_name("PARENT"), Some(ManagementId::PARENT_DATA_SET));
        assert_eq!(ManagementId::from_name("PORT_"), None, "PORT_DATA_SET, PORT_PROPERTIES_NP, ...");
        assert_eq!(ManagementId::from_name(""), None);
        assert_eq!(ManagementId(0x1234).to_string(), "0x1234");
    }

    #[test]
    fn get_bodies_are_even_like_pmcs() {
        assert_eq!(ManagementId::PORT_PROPERTIES_NP.get_body_len(), 14);
        assert_eq!(ManagementId::PARENT_DATA_SET.get_body_len(), 32);
        assert_eq!(ManagementId::NULL_MANAGEMENT.get_body_len(), 0);
    }
}
