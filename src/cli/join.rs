//! How agents join a server.
//!
//! The server keeps a random **join secret** (`DIR/pki/join.token`) and the token its API
//! presents to kubelets (`DIR/pki/kubelet-client.token`, see
//! [`kubox::cluster::ClusterBuilder::kubelet_token`]). The **agent token** it hands out
//! (`DIR/agent-token`) carries both: `kubox1.<join secret>.<kubelet token>`.
//!
//! An agent then authenticates with bearer tokens derived from the join secret:
//!
//! - its kubelet as `kubox-node:<node name>:<join secret>` → user `system:node:<node name>`
//!   in `system:nodes`: the Node authorizer and NodeRestriction admission let it write only
//!   its own Node, Lease and its pods' status (kube-apiserver's Node,RBAC mode);
//! - its service proxy as `kubox-proxy:<join secret>` → user `system:kube-proxy`, bound to
//!   `system:node-proxier` by the bootstrap policy (Services, EndpointSlices, Nodes: read).
//!
//! Anyone holding the agent token can join as any node name, as with k3s' agent token or a
//! kubeadm bootstrap token: keep it secret.

use std::path::Path;

use anyhow::{bail, Context};
use async_trait::async_trait;
use kubox::api::http::Authenticator;
use kubox::api::UserInfo;

const AGENT_PREFIX: &str = "kubox1.";
const NODE_PREFIX: &str = "kubox-node:";
const PROXY_PREFIX: &str = "kubox-proxy:";

/// The parts of an agent token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentToken {
    pub(crate) join_secret: String,
    pub(crate) kubelet_token: String,
}

impl AgentToken {
    /// `kubox1.<join>.<kubelet>`.
    pub(crate) fn encode(&self) -> String {
        format!("{AGENT_PREFIX}{}.{}", self.join_secret, self.kubelet_token)
    }

    /// Parses an agent token (surrounding whitespace ignored).
    pub(crate) fn parse(token: &str) -> anyhow::Result<AgentToken> {
        let token = token.trim();
        let Some(rest) = token.strip_prefix(AGENT_PREFIX) else {
            bail!(
                "malformed agent token: want `kubox1.<secret>.<secret>` as written by \
                 `kubox server` to DIR/agent-token"
            );
        };
        let Some((join, kubelet)) = rest.split_once('.') else {
            bail!("malformed agent token: missing the second part");
        };
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
        if !ok(join) || !ok(kubelet) {
            bail!("malformed agent token: the secrets must be non-empty and alphanumeric");
        }
        Ok(AgentToken {
            join_secret: join.to_string(),
            kubelet_token: kubelet.to_string(),
        })
    }

    /// The kubelet's bearer token for node `name`.
    pub(crate) fn node_bearer(&self, name: &str) -> String {
        format!("{NODE_PREFIX}{name}:{}", self.join_secret)
    }

    /// The service proxy's bearer token.
    pub(crate) fn proxy_bearer(&self) -> String {
        format!("{PROXY_PREFIX}{}", self.join_secret)
    }
}

/// Whether `name` is a valid node name (a DNS-1123 subdomain).
pub(crate) fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Equality in time independent of where the strings differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The server's authenticator for agents' bearer tokens.
#[derive(Clone)]
pub(crate) struct JoinAuthenticator {
    secret: String,
}

impl JoinAuthenticator {
    pub(crate) fn new(secret: String) -> Self {
        JoinAuthenticator { secret }
    }
}

#[async_trait]
impl Authenticator for JoinAuthenticator {
    async fn authenticate(&self, token: &str) -> Option<UserInfo> {
        if let Some(rest) = token.strip_prefix(NODE_PREFIX) {
            let (name, secret) = rest.rsplit_once(':')?;
            if !valid_node_name(name)
                || !constant_time_eq(secret.as_bytes(), self.secret.as_bytes())
            {
                return None;
            }
            return Some(UserInfo::new(
                format!("system:node:{name}"),
                &["system:nodes", "system:authenticated"],
            ));
        }
        if let Some(secret) = token.strip_prefix(PROXY_PREFIX) {
            if !constant_time_eq(secret.as_bytes(), self.secret.as_bytes()) {
                return None;
            }
            return Some(UserInfo::new(
                "system:kube-proxy",
                &["system:authenticated"],
            ));
        }
        None
    }
}

/// Reads the secret at `path`, or writes a new random one there (mode 0600).
pub(crate) fn load_or_create_secret(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let secret: String = (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    write_private(path, &secret)?;
    Ok(secret)
}

/// Writes `content` to `path` with mode 0600 (creating parent directories).
pub(crate) fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_token_round_trip() {
        let t = AgentToken {
            join_secret: "abc123".into(),
            kubelet_token: "def456".into(),
        };
        assert_eq!(t.encode(), "kubox1.abc123.def456");
        assert_eq!(AgentToken::parse(" kubox1.abc123.def456\n").unwrap(), t);
        for bad in [
            "",
            "abc",
            "kubox1.",
            "kubox1.abc",
            "kubox1..x",
            "kubox1.a-b.c",
        ] {
            assert!(AgentToken::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn authenticates_nodes_and_the_proxy() {
        let a = JoinAuthenticator::new("s3cret".into());
        let t = AgentToken {
            join_secret: "s3cret".into(),
            kubelet_token: "k".into(),
        };
        let node = a
            .authenticate(&t.node_bearer("node-a.example"))
            .await
            .unwrap();
        assert_eq!(node.name, "system:node:node-a.example");
        assert!(node.groups.iter().any(|g| g == "system:nodes"));
        let proxy = a.authenticate(&t.proxy_bearer()).await.unwrap();
        assert_eq!(proxy.name, "system:kube-proxy");
        assert!(a.authenticate("kubox-node:n1:wrong").await.is_none());
        assert!(a.authenticate("kubox-node:Bad_Name:s3cret").await.is_none());
        assert!(a.authenticate("kubox-proxy:wrong").await.is_none());
        assert!(a.authenticate("s3cret").await.is_none());
    }

    #[test]
    fn node_names() {
        assert!(valid_node_name("node-1"));
        assert!(valid_node_name("a.b-c"));
        for bad in ["", "-a", "a-", "A", "a_b", "a..b", "a:b"] {
            assert!(!valid_node_name(bad), "{bad:?}");
        }
    }
}
