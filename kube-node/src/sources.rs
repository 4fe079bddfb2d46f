//! Pod sources besides the API server: static pods from a directory (or one file) and from an
//! HTTP URL, and the mirror pods that make them visible in the API.
//!
//! Kubernetes' kubelet reads a static-pod path (`--pod-manifest-path`, re-listed every
//! `fileCheckFrequency` = 20 s) and a URL (`--manifest-url`, polled every
//! `httpCheckFrequency` = 20 s) besides the pods bound to it through the API
//! (`pkg/kubelet/config/{file,http,common}.go`). Each source yields whole sets of pods; the
//! kubelet runs them like API pods and posts a **mirror pod** for each, so that `kubectl get
//! pods` shows them; the mirror's status is the static pod's status, and deleting the mirror
//! does not stop the static pod (the kubelet recreates the mirror).
//!
//! # Defaulting (as `applyDefaults` in `pkg/kubelet/config/common.go`)
//!
//! - `metadata.uid` (when empty): a 128-bit hash of the pod, the node name and the file path
//!   (or of the pod and the URL), as 32 hex digits; also stored as the
//!   `kubernetes.io/config.hash` annotation. The same manifest on the same node gives the same
//!   UID, so a kubelet restart finds its static pods again; any change to the manifest gives a
//!   new UID, so the old pod is stopped and the new one started.
//! - `metadata.name` becomes `<name>-<lowercase node name>`; the namespace defaults to
//!   `default`; `spec.nodeName` is the node.
//! - Pods from files tolerate every `NoExecute` taint (`operator: Exists`), so node problems do
//!   not evict them.
//! - Annotations `kubernetes.io/config.source` (`file` or `http`) and
//!   `kubernetes.io/config.seen` (when the kubelet first saw this version).
//! - The pod is defaulted like an API pod (restartPolicy, dnsPolicy, …) and validated; a file
//!   that does not decode or validate is skipped with a logged reason, never failing the
//!   other files.
//!
//! # Example
//!
//! ```
//! use kube_node::sources::{is_static_pod, StaticPodSource};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("web.yaml"),
//!     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: busybox:1.36\n    command: [sleep, '3600']\n",
//! )?;
//! let source = StaticPodSource::file(dir.path(), "node-1");
//! let pods = source.list().await?;
//! assert_eq!(pods[0].metadata.name.as_deref(), Some("web-node-1"));
//! assert!(is_static_pod(&pods[0]));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use kubox_core::api::core_v1::{Pod, Toleration};
use kubox_core::defaults::SetDefaults;
use kubox_core::meta::{ObjectMeta, OwnerReference};
use kubox_core::time::Time;
use md5::{Digest, Md5};
use serde::Deserialize;

/// How often the kubelet re-lists the static-pod path (`fileCheckFrequency`).
pub const FILE_CHECK_FREQUENCY: Duration = Duration::from_secs(20);
/// How often the kubelet polls the manifest URL (`httpCheckFrequency`).
pub const HTTP_CHECK_FREQUENCY: Duration = Duration::from_secs(20);

/// Annotation: where the kubelet got the pod from (`file`, `http` or `api`).
pub const CONFIG_SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";
/// Annotation: the hash of a static pod (its UID).
pub const CONFIG_HASH_ANNOTATION: &str = "kubernetes.io/config.hash";
/// Annotation: when the kubelet first saw this pod.
pub const CONFIG_SEEN_ANNOTATION: &str = "kubernetes.io/config.seen";
/// Annotation: marks a mirror pod; its value is the static pod's hash.
pub const CONFIG_MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// `kubernetes.io/config.source` of file pods.
pub const SOURCE_FILE: &str = "file";
/// `kubernetes.io/config.source` of pods from a URL.
pub const SOURCE_HTTP: &str = "http";
/// `kubernetes.io/config.source` of pods from the API server.
pub const SOURCE_API: &str = "api";

/// Largest manifest body read from a URL (10 MiB).
const MAX_HTTP_BODY: usize = 10 << 20;

/// Why a source could not be listed at all. (A single bad manifest is skipped and logged,
/// not an error of the whole source.)
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The static-pod path could not be read.
    #[error("reading static pod path {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The URL could not be fetched.
    #[error("fetching manifest URL {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The URL's body is neither a Pod nor a PodList.
    #[error("manifest URL {url}: {message}")]
    Decode {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

#[derive(Debug, Clone)]
enum Kind {
    File(PathBuf),
    Url(String),
}

/// A source of static pods: a directory (or one file) of manifests, or a URL.
#[derive(Debug, Clone)]
pub struct StaticPodSource {
    kind: Kind,
    node_name: String,
    headers: Vec<(String, String)>,
}

impl StaticPodSource {
    /// Manifests in a directory (entries not starting with `.`, sorted, no recursion; each
    /// file one Pod in YAML or JSON) or a single manifest file.
    pub fn file(path: impl AsRef<Path>, node_name: &str) -> Self {
        StaticPodSource {
            kind: Kind::File(path.as_ref().to_path_buf()),
            node_name: node_name.to_string(),
            headers: Vec::new(),
        }
    }

    /// Manifests served at an `http://` URL: one Pod or a PodList, in YAML or JSON.
    pub fn url(url: &str, node_name: &str) -> Self {
        StaticPodSource {
            kind: Kind::Url(url.to_string()),
            node_name: node_name.to_string(),
            headers: Vec::new(),
        }
    }

    /// Adds a header to every request to the URL (`--manifest-url-header`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `file` or `http`: the value of [`CONFIG_SOURCE_ANNOTATION`] on this source's pods.
    pub fn source_name(&self) -> &'static str {
        match self.kind {
            Kind::File(_) => SOURCE_FILE,
            Kind::Url(_) => SOURCE_HTTP,
        }
    }

    /// How often the kubelet should call [`list`](Self::list).
    pub fn check_frequency(&self) -> Duration {
        match self.kind {
            Kind::File(_) => FILE_CHECK_FREQUENCY,
            Kind::Url(_) => HTTP_CHECK_FREQUENCY,
        }
    }

    /// The current pods of this source, defaulted (see the [module docs](self)). Manifests
    /// that do not decode or validate are skipped with a logged reason.
    pub async fn list(&self) -> Result<Vec<Pod>, SourceError> {
        match &self.kind {
            Kind::File(path) => {
                let path = path.clone();
                let node = self.node_name.clone();
                tokio::task::spawn_blocking(move || list_path(&path, &node))
                    .await
                    .map_err(|e| SourceError::Io {
                        path: PathBuf::new(),
                        source: std::io::Error::other(e.to_string()),
                    })?
            }
            Kind::Url(url) => {
                let body = fetch(url, &self.headers).await?;
                let pods = decode_url_body(url, &body)?;
                let mut out = Vec::with_capacity(pods.len());
                for pod in pods {
                    match prepare(pod, url, false, &self.node_name) {
                        Ok(pod) => out.push(pod),
                        Err(reason) => tracing::warn!(%url, %reason, "skipping static pod"),
                    }
                }
                Ok(out)
            }
        }
    }
}

fn list_path(path: &Path, node: &str) -> Result<Vec<Pod>, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    tracing::debug!(path = %entry.path().display(), "not recursing into directory")
                }
                Ok(_) => files.push(entry.path()),
                Err(e) => tracing::warn!(path = %entry.path().display(), error = %e, "skipping"),
            }
        }
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut pods = Vec::with_capacity(files.len());
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(path = %file.display(), error = %e, "skipping static pod file");
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let source = file.display().to_string();
        let pod = decode_pod(&text).and_then(|pod| prepare(pod, &source, true, node));
        match pod {
            Ok(pod) => pods.push(pod),
            Err(reason) => tracing::warn!(path = %source, %reason, "skipping static pod file"),
        }
    }
    Ok(pods)
}

/// Decodes one Pod manifest (YAML or JSON), checking apiVersion and kind.
fn decode_pod(text: &str) -> Result<Pod, String> {
    let value: serde_json::Value =
        serde_norway::from_str(text).map_err(|e| format!("invalid manifest: {e}"))?;
    pod_from_value(value)
}

fn pod_from_value(value: serde_json::Value) -> Result<Pod, String> {
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let api_version = value
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .unwrap_or("");
    if kind != "Pod" || api_version != "v1" {
        return Err(format!(
            "expected apiVersion v1 and kind Pod, got apiVersion {api_version:?} kind {kind:?}"
        ));
    }
    Pod::deserialize(value).map_err(|e| format!("invalid Pod: {e}"))
}

fn decode_url_body(url: &str, body: &[u8]) -> Result<Vec<Pod>, SourceError> {
    let err = |message: String| SourceError::Decode {
        url: url.to_string(),
        message,
    };
    let text = std::str::from_utf8(body).map_err(|e| err(format!("body is not UTF-8: {e}")))?;
    let value: serde_json::Value =
        serde_norway::from_str(text).map_err(|e| err(format!("invalid manifest: {e}")))?;
    match value.get("kind").and_then(|k| k.as_str()) {
        Some("PodList") => {
            let items = value
                .get("items")
                .and_then(|i| i.as_array())
                .cloned()
                .unwrap_or_default();
            let mut pods = Vec::with_capacity(items.len());
            for mut item in items {
                // Items of a list may leave apiVersion/kind out.
                if let Some(obj) = item.as_object_mut() {
                    obj.entry("apiVersion").or_insert("v1".into());
                    obj.entry("kind").or_insert("Pod".into());
                }
                match pod_from_value(item) {
                    Ok(pod) => pods.push(pod),
                    Err(reason) => tracing::warn!(%url, %reason, "skipping item of PodList"),
                }
            }
            Ok(pods)
        }
        _ => pod_from_value(value).map(|p| vec![p]).map_err(err),
    }
}

/// Applies the kubelet's static-pod defaults and validates the result.
fn prepare(mut pod: Pod, source: &str, is_file: bool, node: &str) -> Result<Pod, String> {
    pod.api_version = "v1".into();
    pod.kind = "Pod".into();
    pod.status = None;
    let name = pod
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| "metadata.name: Required value".to_string())?;
    if pod.metadata.uid.as_deref().is_none_or(str::is_empty) {
        pod.metadata.uid = Some(static_pod_uid(&pod, source, is_file, node));
    }
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    pod.metadata.name = Some(format!("{name}-{}", node.to_lowercase()));
    if pod.metadata.namespace.as_deref().is_none_or(str::is_empty) {
        pod.metadata.namespace = Some("default".into());
    }
    let spec = pod
        .spec
        .as_mut()
        .ok_or_else(|| "spec: Required value".to_string())?;
    spec.node_name = Some(node.to_string());
    if is_file {
        let tolerate_all = Toleration {
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            ..Default::default()
        };
        let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
        if !tolerations.contains(&tolerate_all) {
            tolerations.push(tolerate_all);
        }
    }
    pod.set_defaults();
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(CONFIG_HASH_ANNOTATION.into(), uid);
    annotations.insert(
        CONFIG_SOURCE_ANNOTATION.into(),
        if is_file { SOURCE_FILE } else { SOURCE_HTTP }.into(),
    );
    let value = serde_json::to_value(&pod).map_err(|e| e.to_string())?;
    let errors = kubox_core::validation::validate_create_value("", "Pod", &value)
        .map_err(|e| e.to_string())?;
    if !errors.is_empty() {
        return Err(format!("invalid pod: {errors}"));
    }
    Ok(pod)
}

/// The UID Kubernetes derives for a static pod: a hash of the manifest and where it came from
/// (node and file path, or URL), as 32 hex digits.
fn static_pod_uid(pod: &Pod, source: &str, is_file: bool, node: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(serde_json::to_vec(pod).unwrap_or_default());
    if is_file {
        hasher.update(format!("host:{node}"));
        hasher.update(format!("file:{source}"));
    } else {
        hasher.update(format!("url:{source}"));
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn fetch(url: &str, headers: &[(String, String)]) -> Result<Vec<u8>, SourceError> {
    let err = |message: String| SourceError::Http {
        url: url.to_string(),
        message,
    };
    let uri: http::Uri = url.parse().map_err(|e| err(format!("invalid URL: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(err("only http:// manifest URLs are supported".into()));
    }
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let mut request = http::Request::get(uri);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Empty::new())
        .map_err(|e| err(format!("invalid request: {e}")))?;
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(request))
        .await
        .map_err(|_| err("timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_HTTP_BODY)
        .collect()
        .await
        .map_err(|e| err(format!("reading body: {e}")))?
        .to_bytes();
    if !status.is_success() {
        return Err(err(format!("{status}: {}", String::from_utf8_lossy(&body))));
    }
    Ok(body.to_vec())
}

/// The mirror pod the kubelet posts for a static pod: a copy carrying
/// [`CONFIG_MIRROR_ANNOTATION`] (the static pod's hash) and a controller ownerReference to the
/// Node (`pkg/kubelet/pod/mirror_client.go`). The API server gives it its own UID.
pub fn mirror_pod(static_pod: &Pod, node_name: &str, node_uid: &str) -> Pod {
    let mut mirror = static_pod.clone();
    let hash = static_pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CONFIG_HASH_ANNOTATION).cloned())
        .or_else(|| static_pod.metadata.uid.clone())
        .unwrap_or_default();
    mirror.metadata = ObjectMeta {
        name: static_pod.metadata.name.clone(),
        namespace: static_pod.metadata.namespace.clone(),
        labels: static_pod.metadata.labels.clone(),
        annotations: static_pod.metadata.annotations.clone(),
        ..Default::default()
    };
    mirror
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(CONFIG_MIRROR_ANNOTATION.into(), hash);
    mirror.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: node_name.to_string(),
        uid: node_uid.to_string(),
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    mirror.status = None;
    mirror
}

/// Whether the pod is a mirror pod (it carries [`CONFIG_MIRROR_ANNOTATION`]).
pub fn is_mirror_pod(pod: &Pod) -> bool {
    annotation(pod, CONFIG_MIRROR_ANNOTATION).is_some()
}

/// Whether the pod came from a file or URL source (not from the API server).
pub fn is_static_pod(pod: &Pod) -> bool {
    matches!(config_source(pod), Some(SOURCE_FILE | SOURCE_HTTP))
}

/// The pod's [`CONFIG_SOURCE_ANNOTATION`].
pub fn config_source(pod: &Pod) -> Option<&str> {
    annotation(pod, CONFIG_SOURCE_ANNOTATION)
}

/// The static-pod hash a mirror pod stands for ([`CONFIG_MIRROR_ANNOTATION`]), or of a static
/// pod ([`CONFIG_HASH_ANNOTATION`]).
pub fn static_pod_hash(pod: &Pod) -> Option<&str> {
    annotation(pod, CONFIG_MIRROR_ANNOTATION).or_else(|| annotation(pod, CONFIG_HASH_ANNOTATION))
}

/// Marks when the kubelet first saw the pod ([`CONFIG_SEEN_ANNOTATION`]), if not yet marked.
pub fn mark_seen(pod: &mut Pod, now: Time) {
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations
        .entry(CONFIG_SEEN_ANNOTATION.into())
        .or_insert_with(|| now.to_string());
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: busybox:1.36\n    command: [sleep, '3600']\n";

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[tokio::test]
    async fn file_pods_are_defaulted_like_kubelet() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "web.yaml", WEB);
        let pods = StaticPodSource::file(dir.path(), "node-a")
            .list()
            .await
            .unwrap();
        assert_eq!(pods.len(), 1);
        let pod = &pods[0];
        assert_eq!(pod.metadata.name.as_deref(), Some("web-node-a"));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
        let uid = pod.metadata.uid.clone().unwrap();
        assert_eq!(uid.len(), 32);
        assert!(uid.chars().all(|c| c.is_ascii_hexdigit()));
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("node-a"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        let tolerations = spec.tolerations.as_ref().unwrap();
        assert!(tolerations
            .iter()
            .any(|t| t.operator.as_deref() == Some("Exists")
                && t.effect.as_deref() == Some("NoExecute")
                && t.key.is_none()));
        assert_eq!(config_source(pod), Some(SOURCE_FILE));
        assert_eq!(static_pod_hash(pod), Some(uid.as_str()));
        assert!(is_static_pod(pod) && !is_mirror_pod(pod));
    }

    #[tokio::test]
    async fn uid_is_stable_and_follows_content_node_and_path() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "web.yaml", WEB);
        let uid = |node: &'static str| {
            let dir = dir.path().to_path_buf();
            async move {
                StaticPodSource::file(&dir, node).list().await.unwrap()[0]
                    .metadata
                    .uid
                    .clone()
                    .unwrap()
            }
        };
        let first = uid("n1").await;
        assert_eq!(first, uid("n1").await, "same manifest, same node: same UID");
        assert_ne!(first, uid("n2").await, "another node: another UID");
        write(dir.path(), "web.yaml", &WEB.replace("3600", "3601"));
        assert_ne!(first, uid("n1").await, "changed manifest: new UID");
        let other = tempfile::tempdir().unwrap();
        write(other.path(), "web.yaml", WEB);
        let moved = StaticPodSource::file(other.path(), "n1")
            .list()
            .await
            .unwrap();
        assert_ne!(moved[0].metadata.uid.as_deref(), Some(first.as_str()));
    }

    #[tokio::test]
    async fn directory_listing_skips_hidden_subdirs_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.yaml", &WEB.replace("name: web", "name: b"));
        write(
            dir.path(),
            "a.json",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"kube-system"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}"#,
        );
        write(
            dir.path(),
            ".hidden.yaml",
            &WEB.replace("name: web", "name: hidden"),
        );
        write(
            dir.path(),
            "broken.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: [",
        );
        write(
            dir.path(),
            "service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
        );
        write(
            dir.path(),
            "invalid.yaml",
            &WEB.replace("name: app", "name: Not_A_Name"),
        );
        write(dir.path(), "empty.yaml", "\n");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write(
            &dir.path().join("sub"),
            "c.yaml",
            &WEB.replace("name: web", "name: c"),
        );
        let pods = StaticPodSource::file(dir.path(), "n").list().await.unwrap();
        let names: Vec<_> = pods
            .iter()
            .map(|p| {
                (
                    p.metadata.namespace.clone().unwrap(),
                    p.metadata.name.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("kube-system".to_string(), "a-n".to_string()),
                ("default".to_string(), "b-n".to_string())
            ]
        );
    }

    #[tokio::test]
    async fn single_file_and_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "web.yaml", WEB);
        let pods = StaticPodSource::file(dir.path().join("web.yaml"), "n")
            .list()
            .await
            .unwrap();
        assert_eq!(pods.len(), 1);
        let err = StaticPodSource::file(dir.path().join("nope"), "n")
            .list()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    async fn serve_once(body: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let (status, body) = if request.contains("x-token: secret") {
                    ("200 OK", body)
                } else {
                    ("403 Forbidden", "no token")
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            }
        });
        format!("http://{addr}/manifests")
    }

    #[tokio::test]
    async fn url_source_reads_a_pod_list_with_headers() {
        let url = serve_once(
            r#"{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}},{"metadata":{"name":"Bad Name"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}]}"#,
        )
        .await;
        let source = StaticPodSource::url(&url, "n").header("x-token", "secret");
        let pods = source.list().await.unwrap();
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].metadata.name.as_deref(), Some("x-n"));
        assert_eq!(config_source(&pods[0]), Some(SOURCE_HTTP));
        // URL pods get no blanket NoExecute toleration.
        assert!(pods[0].spec.as_ref().unwrap().tolerations.is_none());
        let denied = StaticPodSource::url(&url, "n").list().await.unwrap_err();
        assert!(denied.to_string().contains("403"), "{denied}");
        let bad = StaticPodSource::url("https://example.invalid/x", "n")
            .list()
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("only http://"), "{bad}");
    }

    #[test]
    fn mirror_pods_point_at_the_node() {
        let pod = prepare(decode_pod(WEB).unwrap(), "/etc/kubox/web.yaml", true, "n1").unwrap();
        let mut seen = pod.clone();
        mark_seen(&mut seen, Time::parse("2026-11-26T10:00:00Z").unwrap());
        assert!(seen
            .metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key(CONFIG_SEEN_ANNOTATION));
        let mirror = mirror_pod(&pod, "n1", "node-uid");
        assert!(is_mirror_pod(&mirror));
        assert_eq!(static_pod_hash(&mirror), pod.metadata.uid.as_deref());
        assert!(
            mirror.metadata.uid.is_none(),
            "the API server assigns the mirror's UID"
        );
        let owner = &mirror.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Node", "n1", "node-uid")
        );
        assert_eq!(owner.controller, Some(true));
        assert_eq!(mirror.metadata.name, pod.metadata.name);
    }
}
