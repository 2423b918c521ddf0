//! The command-line flags both binaries share for their metrics endpoint, and the address flags'
//! parsing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;

use crate::Error;
use crate::auth::Authorizer;
use crate::endpoint::Security;
use crate::kube_review::KubeReviewer;
use crate::tls::{TlsSource, server_config};

/// Who may read /metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum MetricsAuth {
    /// Anyone who reaches the address.
    #[default]
    None,
    /// A bearer token the API server authenticates (TokenReview) and authorizes for `get` on
    /// the non-resource URL /metrics (SubjectAccessReview).
    #[value(name = "tokenreview")]
    TokenReview,
}

/// Whether /metrics is served over TLS, and with which certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum MetricsTls {
    /// Plain HTTP.
    #[default]
    Off,
    /// A certificate generated at start.
    SelfSigned,
    /// --metrics-tls-cert and --metrics-tls-key (PEM), re-read when they change.
    Files,
}

/// `--metrics-auth`, `--metrics-tls`, `--metrics-tls-cert`, `--metrics-tls-key`.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsArgs {
    /// Who may read /metrics: `none`, or `tokenreview` (a bearer token that the API server
    /// authenticates and authorizes for `get` on the non-resource URL /metrics).
    #[arg(long = "metrics-auth", env = "METRICS_AUTH", value_enum, default_value_t = MetricsAuth::None)]
    pub auth: MetricsAuth,
    /// TLS of /metrics: `off`, `self-signed` (a certificate made at start) or `files`
    /// (--metrics-tls-cert and --metrics-tls-key, re-read when they change).
    #[arg(long = "metrics-tls", env = "METRICS_TLS", value_enum, default_value_t = MetricsTls::Off)]
    pub tls: MetricsTls,
    /// PEM certificate chain of /metrics (with --metrics-tls files).
    #[arg(long = "metrics-tls-cert", env = "METRICS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of /metrics (with --metrics-tls files).
    #[arg(long = "metrics-tls-key", env = "METRICS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

impl MetricsArgs {
    /// Where the certificate comes from (`None`: plain HTTP); errors name the flags that do
    /// not fit together. `names` go into a self-signed certificate.
    pub fn tls_source(&self, names: Vec<String>) -> Result<Option<TlsSource>, Error> {
        let empty = |p: &Option<PathBuf>| p.as_ref().is_none_or(|p| p.as_os_str().is_empty());
        let (no_cert, no_key) = (empty(&self.tls_cert), empty(&self.tls_key));
        match self.tls {
            MetricsTls::Files => match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) if !no_cert && !no_key => {
                    Ok(Some(TlsSource::Files { cert: cert.clone(), key: key.clone() }))
                }
                _ => Err(Error::Flags("--metrics-tls files needs --metrics-tls-cert and --metrics-tls-key".into())),
            },
            _ if !no_cert || !no_key => Err(Error::Flags(
                "--metrics-tls-cert and --metrics-tls-key are used only with --metrics-tls files".into(),
            )),
            MetricsTls::SelfSigned => Ok(Some(TlsSource::SelfSigned { names })),
            MetricsTls::Off => Ok(None),
        }
    }

    /// Whether [`MetricsArgs::security`] needs a Kubernetes client.
    pub fn needs_client(&self) -> bool {
        self.auth == MetricsAuth::TokenReview
    }

    /// The endpoint's security: the TLS configuration (a self-signed certificate is made here)
    /// and, with `tokenreview`, an authorizer asking the API server through `client`.
    pub fn security(&self, names: Vec<String>, client: Option<kube::Client>) -> Result<Security, Error> {
        let tls = self.tls_source(names)?.map(|source| server_config(&source)).transpose()?;
        let auth = match (self.auth, client) {
            (MetricsAuth::None, _) => None,
            (MetricsAuth::TokenReview, Some(client)) => {
                Some(Arc::new(Authorizer::new(Arc::new(KubeReviewer::new(client)))))
            }
            (MetricsAuth::TokenReview, None) => {
                return Err(Error::Flags("--metrics-auth tokenreview needs a Kubernetes client".into()));
            }
        };
        if auth.is_some() && tls.is_none() {
            tracing::warn!("--metrics-auth tokenreview without --metrics-tls: bearer tokens travel in clear text");
        }
        Ok(Security { tls, auth })
    }
}

/// An address flag: `host:port` with an IP address (`0.0.0.0:9091`, `127.0.0.1:9091`,
/// `[::1]:9091`), or `none`/empty to turn the endpoint off. Errors name the flag.
pub fn parse_addr(flag: &str, value: &str) -> Result<Option<SocketAddr>, String> {
    let value = value.trim();
    if value.is_empty() || value == "none" {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|e| format!("--{flag} {value:?}: {e} (expected IP:PORT such as 127.0.0.1:9091, or none)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        metrics: MetricsArgs,
    }

    fn parse(args: &[&str]) -> Result<MetricsArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|c| c.metrics)
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("metrics-addr", "127.0.0.1:9091"), Ok(Some(([127, 0, 0, 1], 9091).into())));
        assert_eq!(parse_addr("metrics-addr", "0.0.0.0:9091"), Ok(Some(([0, 0, 0, 0], 9091).into())));
        assert_eq!(parse_addr("metrics-addr", "[::1]:9091").map(|a| a.map(|a| a.is_ipv6())), Ok(Some(true)));
        assert_eq!(parse_addr("health-addr", "none"), Ok(None));
        assert_eq!(parse_addr("health-addr", ""), Ok(None));
        for bad in ["localhost:9091", "9091", ":9091", "127.0.0.1", "127.0.0.1:99999"] {
            let e = parse_addr("health-addr", bad).unwrap_err();
            assert!(e.starts_with("--health-addr ") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn defaults_are_plain_and_open() {
        let a = parse(&[]).unwrap();
        assert_eq!((a.auth, a.tls), (MetricsAuth::None, MetricsTls::Off));
        assert_eq!(a.tls_source(vec![]).unwrap(), None);
        assert!(!a.needs_client());
    }

    #[test]
    fn flag_values() {
        let a = parse(&["--metrics-auth", "tokenreview", "--metrics-tls", "self-signed"]).unwrap();
        assert_eq!((a.auth, a.tls), (MetricsAuth::TokenReview, MetricsTls::SelfSigned));
        assert!(a.needs_client());
        assert_eq!(a.tls_source(vec!["n".into()]).unwrap(), Some(TlsSource::SelfSigned { names: vec!["n".into()] }));
        let a = parse(&["--metrics-tls", "files", "--metrics-tls-cert", "/c", "--metrics-tls-key", "/k"]).unwrap();
        assert_eq!(a.tls_source(vec![]).unwrap(), Some(TlsSource::Files { cert: "/c".into(), key: "/k".into() }));
        assert!(parse(&["--metrics-auth", "token-review"]).is_err());
        assert!(parse(&["--metrics-tls", "on"]).is_err());
    }

    #[test]
    fn flags_that_do_not_fit_together() {
        for args in [
            &["--metrics-tls", "files"][..],
            &["--metrics-tls", "files", "--metrics-tls-cert", "/c"],
            &["--metrics-tls", "files", "--metrics-tls-key", "/k"],
        ] {
            let e = parse(args).unwrap().tls_source(vec![]).unwrap_err().to_string();
            assert!(e.contains("needs --metrics-tls-cert and --metrics-tls-key"), "{args:?}: {e}");
        }
        for args in [&["--metrics-tls-cert", "/c"][..], &["--metrics-tls", "self-signed", "--metrics-tls-key", "/k"]] {
            let e = parse(args).unwrap().tls_source(vec![]).unwrap_err().to_string();
            assert!(e.contains("only with --metrics-tls files"), "{args:?}: {e}");
        }
        assert!(parse(&["--metrics-tls", "files", "--metrics-tls-cert", "", "--metrics-tls-key", "/k"]).is_err());
        let e = parse(&["--metrics-auth", "tokenreview"]).unwrap().security(vec![], None).unwrap_err();
        assert!(e.to_string().contains("needs a Kubernetes client"), "{e}");
    }
}
