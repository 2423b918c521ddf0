//! Printing discovered NICs: a table for people, JSON for tools.

use super::model::Nic;

/// Output format of `ptp-agent nics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// Renders `nics` in `format` (with a trailing newline).
pub fn render(nics: &[Nic], format: Format) -> Result<String, serde_json::Error> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(nics)? + "\n"),
        Format::Table => Ok(table(nics)),
    }
}

fn table(nics: &[Nic]) -> String {
    let header = ["NAME", "IFINDEX", "PTP", "PHC", "DRIVER", "PCI", "LINK", "TIMESTAMPING"].map(String::from);
    let rows: Vec<[String; 8]> = nics
        .iter()
        .map(|n| {
            [
                n.name.clone(),
                n.ifindex.to_string(),
                if n.ptp_capable { "yes" } else { "no" }.to_string(),
                n.phc_index.map(|p| format!("/dev/ptp{p}")).unwrap_or_else(|| "-".into()),
                n.driver.clone().unwrap_or_else(|| "-".into()),
                n.pci_address.clone().unwrap_or_else(|| "-".into()),
                n.link_status.clone().unwrap_or_else(|| "-".into()),
                n.timestamping.join(","),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_json_is_an_array() {
        let nics = vec![
            Nic { name: "lo".into(), ifindex: 1, timestamping: vec!["software-transmit".into()], ..Default::default() },
            Nic {
                name: "ens1f0".into(),
                ifindex: 12,
                ptp_capable: true,
                phc_index: Some(3),
                driver: Some("ice".into()),
                ..Default::default()
            },
        ];
        let text = render(&nics, Format::Table).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("NAME    IFINDEX  PTP  PHC"), "{text}");
        assert!(lines[2].contains("yes  /dev/ptp3  ice"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&render(&nics, Format::Json).unwrap()).unwrap();
        assert_eq!(json.as_array().map(Vec::len), Some(2));
        assert_eq!(json[1]["phcIndex"], 3);
    }
}
