//! Small helpers for the status fields, conditions and Events both binaries write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// `text` cut to at most `max` (≥ 3) bytes (on a character boundary), ending in `...` when cut: Event
/// notes and condition messages have size limits.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max.saturating_sub(3);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// `at` to the second, as the API server stores a condition's `lastTransitionTime`: so that an
/// unchanged condition compares equal to what was read back.
pub fn to_the_second(at: Timestamp) -> Time {
    Time(Timestamp::from_second(at.as_second()).unwrap_or(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_on_a_character_boundary_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("0123456789abc", 10), "0123456...");
        // "é" is two bytes: a cut inside it moves before it.
        assert_eq!(truncate("abcdeé123456", 9), "abcde...");
        assert_eq!(truncate("abc", 2), "...");
    }

    #[test]
    fn to_the_second_drops_the_fraction() {
        let at: Timestamp = "2026-12-01T01:02:03.987Z".parse().unwrap();
        assert_eq!(to_the_second(at).0.to_string(), "2026-12-01T01:02:03Z");
    }
}
