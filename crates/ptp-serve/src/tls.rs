//! TLS server configurations: a certificate and key from PEM files (re-read when they change,
//! e.g. a renewed Secret), or a self-signed certificate made at start (as kube-rbac-proxy does
//! when given none). rustls with the ring provider, the one kube already uses.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tracing::{info, warn};

use crate::Error;

/// Where the server's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// Generated at start for these names (DNS names or IP addresses).
    SelfSigned { names: Vec<String> },
    /// PEM files: the certificate chain (leaf first) and its private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// How often, at most, the files' metadata is looked at during handshakes.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// The ring provider (kube's; never the process-wide default, which may be unset).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration for `source`; errors name the file and what is wrong with it.
pub fn server_config(source: &TlsSource) -> Result<Arc<ServerConfig>, Error> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth();
    let mut config = match source {
        TlsSource::SelfSigned { names } => {
            let (chain, key) = self_signed(names)?;
            builder.with_single_cert(chain, key).map_err(|e| Error::Tls(e.to_string()))?
        }
        TlsSource::Files { cert, key } => {
            let resolver = ReloadingFiles::load(cert.clone(), key.clone(), provider)?;
            builder.with_cert_resolver(Arc::new(resolver))
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The names of a self-signed certificate: `localhost`, the loopback addresses, the host name
/// and `extra` (e.g. the node and pod names), without duplicates or empty names.
pub fn self_signed_names(extra: &[&str]) -> Vec<String> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for name in ["localhost", "127.0.0.1", "::1", hostname.trim()].into_iter().chain(extra.iter().copied()) {
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// A fresh ECDSA P-256 key and a self-signed certificate for `names`.
pub fn self_signed(names: &[String]) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| Error::Tls(format!("self-signed certificate: {e}")))?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der()).map_err(|e| Error::Tls(e.to_string()))?;
    Ok((vec![made.cert.der().clone()], key))
}

/// Reads and checks a certificate chain and key from PEM files.
pub fn load_files(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, Error> {
    let file_error =
        |what, path: &Path, message: String| Error::TlsFile { what, path: path.display().to_string(), message };
    let cert_pem = std::fs::read(cert).map_err(|e| file_error("certificate", cert, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error("certificate", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error("certificate", cert, "no CERTIFICATE PEM block".into()));
    }
    let key_pem = std::fs::read(key).map_err(|e| file_error("key", key, e.to_string()))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| file_error("key", key, e.to_string()))?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| file_error("key", key, e.to_string()))
}

/// What identifies a version of a file: modification time, size and inode (a Secret volume
/// swaps a symlink, so the inode changes).
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Serves the files' certificate; at most once a second, during a handshake, looks whether
/// either file changed and loads the new pair. A pair that does not load (half-written, key not
/// matching) is logged and the previous one kept; it is tried again at the next check.
#[derive(Debug)]
struct ReloadingFiles {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    state: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    stamps: (Stamp, Stamp),
    key: Arc<CertifiedKey>,
    checked: Instant,
}

impl ReloadingFiles {
    fn load(cert: PathBuf, key: PathBuf, provider: Arc<CryptoProvider>) -> Result<Self, Error> {
        let stamps = (stamp(&cert), stamp(&key));
        let loaded = load_files(&cert, &key, &provider)?;
        let state = Mutex::new(Loaded { stamps, key: Arc::new(loaded), checked: Instant::now() });
        Ok(ReloadingFiles { cert, key, provider, state })
    }

    fn current(&self, now: Instant) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if now.duration_since(state.checked) >= RELOAD_CHECK {
            state.checked = now;
            let stamps = (stamp(&self.cert), stamp(&self.key));
            if stamps != state.stamps {
                match load_files(&self.cert, &self.key, &self.provider) {
                    Ok(fresh) => {
                        info!(cert = %self.cert.display(), "loaded the changed TLS certificate");
                        state.key = Arc::new(fresh);
                        state.stamps = stamps;
                    }
                    Err(e) => {
                        warn!(error = %e, "the changed TLS files do not load; still serving the previous certificate");
                    }
                }
            }
        }
        state.key.clone()
    }
}

impl ResolvesServerCert for ReloadingFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
        let made =
            rcgen::generate_simple_self_signed(names.iter().map(std::string::ToString::to_string).collect::<Vec<_>>())
                .unwrap();
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    /// Replaces `dst` by a copy of `src` the way a Secret volume does: a new file renamed over it.
    fn replace(src: &Path, dst: &Path) {
        let tmp = dst.with_extension("tmp");
        std::fs::copy(src, &tmp).unwrap();
        std::fs::rename(&tmp, dst).unwrap();
    }

    #[test]
    fn self_signed_config_builds() {
        let names = self_signed_names(&["node-a", "localhost", ""]);
        assert_eq!(names.iter().filter(|n| *n == "localhost").count(), 1);
        assert!(names.contains(&"node-a".to_string()) && !names.contains(&String::new()));
        server_config(&TlsSource::SelfSigned { names }).unwrap();
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), &["a"]);
        let missing = dir.path().join("nope.crt");
        let e = server_config(&TlsSource::Files { cert: missing.clone(), key: key.clone() }).unwrap_err().to_string();
        assert!(e.contains("certificate") && e.contains("nope.crt"), "{e}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not pem").unwrap();
        let e = server_config(&TlsSource::Files { cert: garbage.clone(), key: key.clone() }).unwrap_err().to_string();
        assert!(e.contains("no CERTIFICATE") && e.contains("garbage.pem"), "{e}");
        let e = server_config(&TlsSource::Files { cert: cert.clone(), key: garbage }).unwrap_err().to_string();
        assert!(e.starts_with("TLS key") && e.contains("garbage.pem"), "{e}");
        // a key of another certificate
        let other = tempfile::tempdir().unwrap();
        let (_, other_key) = write_pair(other.path(), &["b"]);
        let e = server_config(&TlsSource::Files { cert, key: other_key }).unwrap_err().to_string();
        assert!(e.starts_with("TLS key"), "{e}");
    }

    #[test]
    fn changed_files_are_reloaded_and_bad_ones_keep_the_previous_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), &["first"]);
        let r = ReloadingFiles::load(cert.clone(), key.clone(), provider()).unwrap();
        let t0 = Instant::now();
        let first = r.current(t0).cert[0].clone();
        // a half-written renewal: new certificate, old key
        let next = tempfile::tempdir().unwrap();
        let (new_cert, new_key) = write_pair(next.path(), &["second"]);
        replace(&new_cert, &cert);
        let later = t0 + RELOAD_CHECK;
        assert_eq!(r.current(later).cert[0], first, "a mismatching pair is not served");
        // the key arrives: served from the next check on
        replace(&new_key, &key);
        assert_eq!(r.current(later).cert[0], first, "checked at most once a second");
        let second = r.current(later + RELOAD_CHECK).cert[0].clone();
        assert_ne!(second, first);
        assert_eq!(
            second.as_ref(),
            std::fs::read(&new_cert).map(|pem| CertificateDer::from_pem_slice(&pem).unwrap()).unwrap().as_ref()
        );
        // removed files keep the last good pair
        std::fs::remove_file(&cert).unwrap();
        assert_eq!(r.current(later + RELOAD_CHECK * 2).cert[0], second);
    }
}
