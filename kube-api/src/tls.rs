//! Certificates and credentials the HTTPS server needs, generated on first start.
//!
//! [`TlsAssets::load_or_generate`] keeps in a data directory what kube-apiserver's
//! installers (kubeadm, k3s) generate once: a self-signed CA (`ca.crt`, `ca.key`), a serving
//! certificate signed by it (`apiserver.crt`, `apiserver.key`) whose subject alternative names
//! are `127.0.0.1`, `::1`, `localhost` plus the configured ones, and an admin bearer token
//! (`admin.token`). Later starts reuse them; when the wanted SANs change, only the serving
//! certificate is re-issued (the CA, and so every kubeconfig handed out, stays valid).
//!
//! rustls runs on the `ring` provider (no cmake/aws-lc build on this machine).
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let a = kube_api::tls::TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
//! let b = kube_api::tls::TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
//! assert_eq!(a.ca_pem, b.ca_pem);
//! assert_eq!(a.admin_token, b.admin_token);
//! a.server_config().unwrap();
//! ```

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What can go wrong loading or generating TLS material. None of these is retryable without
/// fixing the data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file of the data directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// Generating a key or certificate failed.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A PEM file could not be parsed.
    #[error("invalid PEM in {0}")]
    Pem(String),
    /// rustls refused the certificate or key.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// `Result` with this module's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The CA, the serving certificate and the admin token of one API server data directory.
#[derive(Clone, Debug)]
pub struct TlsAssets {
    /// The data directory the files live in.
    pub dir: PathBuf,
    /// The CA certificate (PEM); what kubeconfigs carry as `certificate-authority-data`.
    pub ca_pem: String,
    /// The serving certificate chain (PEM: serving certificate, then the CA).
    pub cert_pem: String,
    /// The serving certificate's private key (PEM, PKCS#8).
    pub key_pem: String,
    /// The admin bearer token (`system:admin` in `system:masters`).
    pub admin_token: String,
}

const CA_CN: &str = "kubox-ca";
const DEFAULT_SANS: &[&str] = &["127.0.0.1", "::1", "localhost"];

pub(crate) fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(crate) fn write(path: &Path, contents: &str, private: bool) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Validity window: from yesterday for ten years (clock skew between machines is common).
fn validity(params: &mut CertificateParams) {
    let now = jiff::Timestamp::now();
    let year = now.to_zoned(jiff::tz::TimeZone::UTC).year();
    let date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let yesterday = date.yesterday().unwrap_or(date);
    let month = |m: i8| u8::try_from(m).unwrap_or(1);
    let day = |d: i8| u8::try_from(d.min(28)).unwrap_or(1);
    params.not_before = rcgen::date_time_ymd(
        i32::from(yesterday.year()),
        month(yesterday.month()),
        day(yesterday.day()),
    );
    params.not_after =
        rcgen::date_time_ymd(i32::from(year) + 10, month(date.month()), day(date.day()));
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_CN);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn random_token() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The SANs a serving certificate gets: the defaults, then `extra` (deduplicated, in order).
pub fn serving_sans(extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = DEFAULT_SANS.iter().map(|s| s.to_string()).collect();
    for s in extra {
        let s = s.trim();
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

impl TlsAssets {
    /// Loads the CA, serving certificate and admin token from `dir`, generating whatever is
    /// missing (and creating `dir`). `extra_sans` are host names or IP addresses the serving
    /// certificate must also be valid for.
    pub fn load_or_generate(dir: &Path, extra_sans: &[String]) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = |name: &str| dir.join(name);

        // The CA: reuse when both halves exist.
        let (ca_pem, ca_key_pem) = match (read(&p("ca.crt"))?, read(&p("ca.key"))?) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let key = KeyPair::generate()?;
                let mut params = ca_params();
                validity(&mut params);
                let cert = params.self_signed(&key)?;
                let (c, k) = (cert.pem(), key.serialize_pem());
                write(&p("ca.key"), &k, true)?;
                write(&p("ca.crt"), &c, false)?;
                // A new CA invalidates any serving certificate signed by an old one.
                let _ = std::fs::remove_file(p("apiserver.sans"));
                (c, k)
            }
        };

        // The serving certificate: re-issued when missing or when the SANs changed.
        let sans = serving_sans(extra_sans);
        let sans_text = sans.join("\n");
        let (cert_pem, key_pem) = match (
            read(&p("apiserver.crt"))?,
            read(&p("apiserver.key"))?,
            read(&p("apiserver.sans"))?,
        ) {
            (Some(c), Some(k), Some(s)) if s.trim() == sans_text => (c, k),
            _ => {
                let ca_key = KeyPair::from_pem(&ca_key_pem)?;
                let issuer = Issuer::new(ca_params(), ca_key);
                let key = KeyPair::generate()?;
                let mut params = CertificateParams::default();
                let mut dn = DistinguishedName::new();
                dn.push(DnType::CommonName, "kube-apiserver");
                params.distinguished_name = dn;
                params.subject_alt_names = sans
                    .iter()
                    .map(|s| match s.parse::<std::net::IpAddr>() {
                        Ok(ip) => Ok(SanType::IpAddress(ip)),
                        Err(_) => Ok(SanType::DnsName(s.clone().try_into()?)),
                    })
                    .collect::<Result<Vec<_>, rcgen::Error>>()?;
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                params.use_authority_key_identifier_extension = true;
                validity(&mut params);
                let cert = params.signed_by(&key, &issuer)?;
                let chain = format!("{}{}", cert.pem(), ca_pem);
                let k = key.serialize_pem();
                write(&p("apiserver.key"), &k, true)?;
                write(&p("apiserver.crt"), &chain, false)?;
                write(&p("apiserver.sans"), &sans_text, false)?;
                (chain, k)
            }
        };

        let admin_token = match read(&p("admin.token"))? {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let t = random_token();
                write(&p("admin.token"), &t, true)?;
                t
            }
        };

        Ok(TlsAssets {
            dir: dir.to_path_buf(),
            ca_pem,
            cert_pem,
            key_pem,
            admin_token,
        })
    }

    /// A rustls server configuration serving the certificate chain (ALPN `h2`, `http/1.1`).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        server_config(&self.cert_pem, &self.key_pem)
    }
}

/// The `ring` crypto provider every TLS configuration of this crate uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration from a PEM certificate chain and PEM private key
/// (ALPN `h2`, `http/1.1`).
pub fn server_config(cert_chain_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>> {
    let certs = parse_certs(cert_chain_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| Error::Pem(format!("private key: {e}")))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The certificates of a PEM bundle.
pub fn parse_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Pem("no certificate found".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reissues_serving_cert_on_new_sans() {
        let dir = tempfile::tempdir().unwrap();
        let a = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
        let b = TlsAssets::load_or_generate(dir.path(), &[]).unwrap();
        assert_eq!(a.cert_pem, b.cert_pem);
        assert_eq!(a.admin_token.len(), 40);
        let c = TlsAssets::load_or_generate(dir.path(), &["api.example".into()]).unwrap();
        assert_eq!(a.ca_pem, c.ca_pem);
        assert_ne!(a.cert_pem, c.cert_pem);
        assert_eq!(parse_certs(&c.cert_pem).unwrap().len(), 2);
        c.server_config().unwrap();
    }

    #[test]
    fn sans_are_deduplicated() {
        assert_eq!(
            serving_sans(&["localhost".into(), "10.0.0.1".into()]),
            ["127.0.0.1", "::1", "localhost", "10.0.0.1"]
        );
    }
}
