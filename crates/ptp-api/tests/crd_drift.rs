//! The checked-in CRD files are exactly what `crdgen` generates from the Rust types.

use std::path::Path;

#[test]
fn checked_in_crds_match_the_generated_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files = ptp_api::crd::generated_files().expect("CRDs serialise");
    assert_eq!(files.len(), 2);
    for dir in ["config/crd", "charts/ptp-operator/crds"] {
        for (name, generated) in &files {
            let path = root.join(dir).join(name);
            let checked_in = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(checked_in == *generated, "{} differs from the generated CRD; run `just crdgen`", path.display());
        }
    }
}

#[test]
fn generated_crds_parse_back_and_carry_the_api_surface() {
    for (name, text) in ptp_api::crd::generated_files().unwrap() {
        assert!(text.starts_with(ptp_api::crd::HEADER), "{name}");
        let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(crd.spec.group, "ptp.openshift.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1");
        assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some(), "{name}: status subresource");
        let columns: Vec<&str> = version.additional_printer_columns.iter().flatten().map(|c| c.name.as_str()).collect();
        let short = crd.spec.names.short_names.clone().unwrap_or_default();
        match crd.spec.names.kind.as_str() {
            "PtpConfig" => {
                assert_eq!(columns, ["Profiles", "Nodes", "Valid", "Age"]);
                assert_eq!(crd.spec.names.singular.as_deref(), Some("ptpconfig"));
                assert_eq!(short, ["ptpcfg"]);
            }
            "NodePtpDevice" => {
                assert_eq!(columns, ["Devices", "Profiles", "State", "Class", "Offset", "Age"]);
                assert_eq!(crd.spec.names.singular.as_deref(), Some("nodeptpdevice"));
                assert_eq!(short, ["npd"]);
            }
            other => panic!("unexpected kind {other}"),
        }
        assert!(!text.contains("nullable"), "{name}: schema should prune nulls like the Go CRD");
    }
}
