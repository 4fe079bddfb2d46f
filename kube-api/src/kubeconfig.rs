//! The kubeconfig file format (client-go `clientcmd/api/v1`), as much of it as kubectl and
//! kube-rs need to reach this API server: clusters with `server` and
//! `certificate-authority-data` (or `insecure-skip-tls-verify`), users with a bearer `token`,
//! contexts, `current-context`.
//!
//! ```
//! use kube_api::kubeconfig::Kubeconfig;
//!
//! let kc = Kubeconfig::admin("https://127.0.0.1:6443", "-----BEGIN CERTIFICATE-----\n", "tok");
//! let yaml = kc.to_yaml().unwrap();
//! let back = Kubeconfig::from_yaml(&yaml).unwrap();
//! let cur = back.current().unwrap();
//! assert_eq!(cur.server, "https://127.0.0.1:6443");
//! assert_eq!(cur.token.as_deref(), Some("tok"));
//! assert_eq!(cur.namespace.as_deref(), Some("default"));
//! ```

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What can go wrong reading a kubeconfig. Not retryable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a valid kubeconfig.
    #[error("invalid kubeconfig: {0}")]
    Parse(String),
    /// The current context, or the cluster or user it names, is missing.
    #[error("kubeconfig: {0}")]
    Missing(String),
}

/// A kubeconfig file (`apiVersion: v1`, `kind: Config`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    /// `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// `Config`.
    #[serde(default)]
    pub kind: String,
    /// Named clusters.
    #[serde(default)]
    pub clusters: Vec<NamedCluster>,
    /// Named users.
    #[serde(default)]
    pub users: Vec<NamedUser>,
    /// Named contexts.
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    /// The context used by default.
    #[serde(default)]
    pub current_context: String,
}

/// A cluster with its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedCluster {
    /// Name.
    pub name: String,
    /// The cluster.
    pub cluster: Cluster,
}

/// How to reach an API server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    /// `https://host:port`.
    pub server: String,
    /// The CA bundle (PEM), base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// A path to the CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<String>,
    /// Skip verification of the server's certificate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    /// Server name to verify instead of the host of `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
}

/// A user with its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedUser {
    /// Name.
    pub name: String,
    /// Credentials.
    pub user: AuthInfo,
}

/// Credentials (only bearer tokens are used by this crate).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuthInfo {
    /// A bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A file holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

/// A context with its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedContext {
    /// Name.
    pub name: String,
    /// The context.
    pub context: Context,
}

/// A (cluster, user, namespace) triple.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Cluster name.
    pub cluster: String,
    /// User name.
    pub user: String,
    /// Default namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The resolved current context: everything a client needs to connect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resolved {
    /// `https://host:port`.
    pub server: String,
    /// The CA bundle, PEM (decoded from `certificate-authority-data` or read from the file).
    pub ca_pem: Option<String>,
    /// Skip server certificate verification.
    pub insecure_skip_tls_verify: bool,
    /// Server name to verify instead of the host.
    pub tls_server_name: Option<String>,
    /// The bearer token (read from `token-file` when needed).
    pub token: Option<String>,
    /// The context's default namespace.
    pub namespace: Option<String>,
}

impl Kubeconfig {
    /// The admin kubeconfig of a server: one cluster `kubox` at `server` trusting `ca_pem`,
    /// one user `admin` with `token`, context `kubox` (namespace `default`) as current.
    pub fn admin(server: &str, ca_pem: &str, token: &str) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
        Kubeconfig {
            api_version: "v1".into(),
            kind: "Config".into(),
            clusters: vec![NamedCluster {
                name: "kubox".into(),
                cluster: Cluster {
                    server: server.into(),
                    certificate_authority_data: Some(b64),
                    ..Default::default()
                },
            }],
            users: vec![NamedUser {
                name: "admin".into(),
                user: AuthInfo {
                    token: Some(token.into()),
                    token_file: None,
                },
            }],
            contexts: vec![NamedContext {
                name: "kubox".into(),
                context: Context {
                    cluster: "kubox".into(),
                    user: "admin".into(),
                    namespace: Some("default".into()),
                },
            }],
            current_context: "kubox".into(),
        }
    }

    /// Parses a kubeconfig (YAML or JSON).
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        serde_norway::from_str(text).map_err(|e| Error::Parse(e.to_string()))
    }

    /// Reads a kubeconfig file.
    pub fn read(path: &Path) -> Result<Self, Error> {
        Self::from_yaml(&std::fs::read_to_string(path)?)
    }

    /// The YAML text.
    pub fn to_yaml(&self) -> Result<String, Error> {
        serde_norway::to_string(self).map_err(|e| Error::Parse(e.to_string()))
    }

    /// Writes the YAML text to `path` (mode 0600: it holds a credential), creating parent
    /// directories.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, self.to_yaml()?)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    /// The current context, resolved.
    pub fn current(&self) -> Result<Resolved, Error> {
        self.context(&self.current_context)
    }

    /// The context named `name`, resolved.
    pub fn context(&self, name: &str) -> Result<Resolved, Error> {
        let ctx = self
            .contexts
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::Missing(format!("context {name:?} not found")))?;
        let cluster = self
            .clusters
            .iter()
            .find(|c| c.name == ctx.context.cluster)
            .ok_or_else(|| {
                Error::Missing(format!("cluster {:?} not found", ctx.context.cluster))
            })?;
        let user = self.users.iter().find(|u| u.name == ctx.context.user);
        let ca_pem = match (
            &cluster.cluster.certificate_authority_data,
            &cluster.cluster.certificate_authority,
        ) {
            (Some(data), _) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| Error::Parse(format!("certificate-authority-data: {e}")))
                    .and_then(|b| {
                        String::from_utf8(b)
                            .map_err(|e| Error::Parse(format!("certificate-authority-data: {e}")))
                    })?,
            ),
            (None, Some(file)) => Some(std::fs::read_to_string(file)?),
            (None, None) => None,
        };
        let token = match user.map(|u| &u.user) {
            Some(AuthInfo { token: Some(t), .. }) => Some(t.clone()),
            Some(AuthInfo {
                token_file: Some(f),
                ..
            }) => Some(std::fs::read_to_string(f)?.trim().to_string()),
            _ => None,
        };
        Ok(Resolved {
            server: cluster.cluster.server.trim_end_matches('/').to_string(),
            ca_pem,
            insecure_skip_tls_verify: cluster.cluster.insecure_skip_tls_verify,
            tls_server_name: cluster.cluster.tls_server_name.clone(),
            token,
            namespace: ctx.context.namespace.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kubectl_style_yaml() {
        let text = r#"
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1/", insecure-skip-tls-verify: true}}]
users:    [{name: u, user: {token: "TOKEN"}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
"#;
        let r = Kubeconfig::from_yaml(text).unwrap().current().unwrap();
        assert_eq!(r.server, "https://127.0.0.1:1");
        assert!(r.insecure_skip_tls_verify);
        assert_eq!(r.token.as_deref(), Some("TOKEN"));
        assert!(r.ca_pem.is_none());
    }

    #[test]
    fn admin_yaml_uses_kebab_case_keys() {
        let y = Kubeconfig::admin("https://h:1", "PEM", "t")
            .to_yaml()
            .unwrap();
        assert!(y.contains("certificate-authority-data"), "{y}");
        assert!(y.contains("current-context: kubox"), "{y}");
        assert!(y.contains("apiVersion: v1"), "{y}");
    }
}
