//! How big the rendered ConfigMap is against the API server's limit, in words: the
//! `ConfigMapWithinLimit` condition, its Event and the `render` warning all say the real size and
//! the limit that applies.

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

/// The warning for a ConfigMap `name` of `bytes` (keys and values) holding `nodes` keys; `None`
/// at or below [`CONFIGMAP_WARN_BYTES`].
pub fn size_warning(name: &str, bytes: usize, nodes: usize) -> Option<SizeWarning> {
    let size = format!(
        "{name} is {} ({} bytes) for {} node{}",
        human(bytes),
        thousands(bytes),
        thousands(nodes),
        plural(nodes)
    );
    let limit = format!("1 MiB ({} bytes) object limit", thousands(CONFIGMAP_LIMIT_BYTES));
    if bytes > CONFIGMAP_LIMIT_BYTES {
        Some(SizeWarning {
            reason: "OverSizeLimit",
            message: format!(
                "{size}, over the {limit}; it cannot be stored: the API server refuses the write and nodes keep the last stored version"
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
        let w = size_warning("ptp-configmap", 11_493_376, 5000).unwrap();
        assert_eq!(w.reason, "OverSizeLimit");
        assert_eq!(
            w.message,
            "ptp-configmap is 10.96 MiB (11,493,376 bytes) for 5,000 nodes, over the 1 MiB (1,048,576 bytes) object \
             limit; it cannot be stored: the API server refuses the write and nodes keep the last stored version"
        );
        let just_over = size_warning("cm", CONFIGMAP_LIMIT_BYTES + 1, 1).unwrap();
        assert_eq!(just_over.reason, "OverSizeLimit");
        assert!(
            just_over.message.starts_with("cm is 1.00 MiB (1,048,577 bytes) for 1 node, over"),
            "{}",
            just_over.message
        );
    }

    #[test]
    fn near_the_limit_says_the_size_the_threshold_and_the_limit() {
        let w = size_warning("ptp-configmap", 972_800, 1003).unwrap();
        assert_eq!(w.reason, "NearSizeLimit");
        assert_eq!(
            w.message,
            "ptp-configmap is 950.00 KiB (972,800 bytes) for 1,003 nodes, above the 900 KiB (921,600 bytes) warning \
             threshold and close to the 1 MiB (1,048,576 bytes) object limit"
        );
        assert_eq!(
            size_warning("cm", CONFIGMAP_LIMIT_BYTES, 2).unwrap().reason,
            "NearSizeLimit",
            "the limit itself is allowed"
        );
    }

    #[test]
    fn at_or_below_the_threshold_nothing_is_said() {
        assert_eq!(size_warning("cm", CONFIGMAP_WARN_BYTES, 10), None);
        assert_eq!(size_warning("cm", 0, 0), None);
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
