//! How big the rendered ConfigMap is against the API server's limit, in words: the
//! `ConfigMapWithinLimit` condition, its Event and the `render` warning all say the real size and
//! the limit that applies. The condition sits on every PtpConfig, so its message is steady: sizes
//! and node counts to two significant figures ([`Precision::Steady`]), or every node added would
//! rewrite every PtpConfig's status (and send each to every agent that watches PtpConfigs); the
//! exact size is the `ptp_operator_configmap_bytes` gauge, and `render` prints it exactly.

/// The API server refuses a ConfigMap whose keys and values exceed this many bytes.
pub const CONFIGMAP_LIMIT_BYTES: usize = 1024 * 1024;
/// Above this size PtpConfigs get `ConfigMapWithinLimit=False` and a Warning Event.
pub const CONFIGMAP_WARN_BYTES: usize = 900 * 1024;

/// A ConfigMap size worth reporting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeWarning {
    /// `NearSizeLimit` (above the warning threshold) or `OverSizeLimit` (cannot be stored).
    pub reason: &'static str,
    pub message: String,
}

/// How exactly a warning states the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Bytes and nodes exactly (the `render` CLI).
    Exact,
    /// Two significant figures (the condition on every PtpConfig: it changes only when the size
    /// does by a few percent).
    Steady,
}

/// The warning for a ConfigMap `name` of `bytes` (keys and values) holding `nodes` keys; `None`
/// at or below [`CONFIGMAP_WARN_BYTES`].
pub fn size_warning(name: &str, bytes: usize, nodes: usize, precision: Precision) -> Option<SizeWarning> {
    let size = match precision {
        Precision::Exact => format!(
            "{name} is {} ({} bytes) for {} node{}",
            human(bytes),
            thousands(bytes),
            thousands(nodes),
            plural(nodes)
        ),
        Precision::Steady => {
            let nodes = significant(nodes);
            format!("{name} is about {} for about {} node{}", human_steady(bytes), thousands(nodes), plural(nodes))
        }
    };
    let limit = format!("1 MiB ({} bytes) object limit", thousands(CONFIGMAP_LIMIT_BYTES));
    if bytes > CONFIGMAP_LIMIT_BYTES {
        Some(SizeWarning {
            reason: "OverSizeLimit",
            message: format!(
                "{size}, over the {limit}; it cannot be stored: the API server refuses the write; agents reading it \
                 (profileSource configmap or file) keep the last stored version, agents rendering their own node \
                 (profileSource api) are not affected"
            ),
        })
    } else if bytes > CONFIGMAP_WARN_BYTES {
        Some(SizeWarning {
            reason: "NearSizeLimit",
            message: format!(
                "{size}, above the 900 KiB ({} bytes) warning threshold and close to the {limit}",
                thousands(CONFIGMAP_WARN_BYTES)
            ),
        })
    } else {
        None
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `10.96 MiB`, `950.00 KiB`, `512 bytes`.
fn human(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.2} MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.2} KiB", b / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// `n` to two significant figures: 1,003 → 1,000; 234 → 230; 56,789 → 57,000.
fn significant(n: usize) -> usize {
    let mut scale = 1;
    while n / scale >= 100 {
        scale *= 10;
    }
    (n + scale / 2) / scale * scale
}

/// [`human`] to two significant figures: `210 MiB`, `11 MiB`, `1.0 MiB`, `950 KiB`.
fn human_steady(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    let (value, unit) = if b >= KIB * KIB { (b / (KIB * KIB), "MiB") } else { (b / KIB, "KiB") };
    if value >= 10.0 { format!("{} {unit}", significant(value.round() as usize)) } else { format!("{value:.1} {unit}") }
}

/// `11,493,376`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_limit_says_the_real_size_and_that_it_cannot_be_stored() {
        let w = size_warning("ptp-configmap", 11_493_376, 5000, Precision::Exact).unwrap();
        assert_eq!(w.reason, "OverSizeLimit");
        assert_eq!(
            w.message,
            "ptp-configmap is 10.96 MiB (11,493,376 bytes) for 5,000 nodes, over the 1 MiB (1,048,576 bytes) object \
             limit; it cannot be stored: the API server refuses the write; agents reading it (profileSource configmap \
             or file) keep the last stored version, agents rendering their own node (profileSource api) are not affected"
        );
        let just_over = size_warning("cm", CONFIGMAP_LIMIT_BYTES + 1, 1, Precision::Exact).unwrap();
        assert_eq!(just_over.reason, "OverSizeLimit");
        assert!(
            just_over.message.starts_with("cm is 1.00 MiB (1,048,577 bytes) for 1 node, over"),
            "{}",
            just_over.message
        );
    }

    #[test]
    fn near_the_limit_says_the_size_the_threshold_and_the_limit() {
        let w = size_warning("ptp-configmap", 972_800, 1003, Precision::Exact).unwrap();
        assert_eq!(w.reason, "NearSizeLimit");
        assert_eq!(
            w.message,
            "ptp-configmap is 950.00 KiB (972,800 bytes) for 1,003 nodes, above the 900 KiB (921,600 bytes) warning \
             threshold and close to the 1 MiB (1,048,576 bytes) object limit"
        );
        assert_eq!(
            size_warning("cm", CONFIGMAP_LIMIT_BYTES, 2, Precision::Exact).unwrap().reason,
            "NearSizeLimit",
            "the limit itself is allowed"
        );
    }

    #[test]
    fn at_or_below_the_threshold_nothing_is_said() {
        for precision in [Precision::Exact, Precision::Steady] {
            assert_eq!(size_warning("cm", CONFIGMAP_WARN_BYTES, 10, precision), None);
            assert_eq!(size_warning("cm", 0, 0, precision), None);
        }
    }

    /// The steady message moves only when the size or the fleet does by a few percent: a node
    /// more does not rewrite every PtpConfig's status (at 50,000 nodes it sent every agent 6 MB
    /// per change).
    #[test]
    fn the_steady_message_says_the_size_and_ignores_small_moves() {
        let w = size_warning("ptp-configmap", 223_650_000, 50_000, Precision::Steady).unwrap();
        assert_eq!(w.reason, "OverSizeLimit");
        assert!(
            w.message.starts_with("ptp-configmap is about 210 MiB for about 50,000 nodes, over the 1 MiB"),
            "{}",
            w.message
        );
        let one_more = size_warning("ptp-configmap", 223_654_473, 50_001, Precision::Steady).unwrap();
        assert_eq!(one_more, w, "one node more: the same condition");
        let near = size_warning("ptp-configmap", 972_800, 1003, Precision::Steady).unwrap();
        assert!(
            near.message.starts_with("ptp-configmap is about 950 KiB for about 1,000 nodes, above"),
            "{}",
            near.message
        );
        let tenfold = size_warning("cm", 11_493_376, 5000, Precision::Steady).unwrap();
        assert!(tenfold.message.starts_with("cm is about 11 MiB for about 5,000 nodes, over"), "{}", tenfold.message);
        let just_over = size_warning("cm", CONFIGMAP_LIMIT_BYTES + 1, 1, Precision::Steady).unwrap();
        assert!(just_over.message.starts_with("cm is about 1.0 MiB for about 1 node, over"), "{}", just_over.message);
        assert_eq!(
            (significant(234), significant(56_789), significant(99), significant(995)),
            (230, 57_000, 99, 1_000)
        );
    }

    #[test]
    fn numbers_are_grouped_and_scaled() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_048_576), "1,048,576");
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(1536), "1.50 KiB");
    }
}
