//! Shared pieces of the kubelet tests: an in-process API server, and a scripted runtime
//! (an implementation of the public `Runtime` trait whose containers behave as their
//! command says), for deterministic tests under paused tokio time.
//!
//! Container commands of the scripted runtime:
//! - `["run"]`: runs until stopped;
//! - `["exit", code, secs]`: exits with `code` `secs` seconds after it started;
//! - anything else: runs until stopped.
//!
//! `exec_sync` answers with the exit code set by [`Scripted::set_exec`] for the container's
//! name (default 0) and records every command.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use kube_api::{ApiServer, LocalClient};
use kube_node::clock::{Clock, TokioClock};
use kube_node::runtime::*;
use kube_store::embedded::EmbeddedStore;
use kubox_core::client::Client;

/// Polls `f` every 100 ms (tokio time) until it returns `Some`, at most `secs` seconds.
pub async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > end {
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An in-process API server whose timestamps follow tokio time, and an admin client.
pub async fn cluster() -> (ApiServer, Arc<dyn Client>) {
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .clock(Arc::new(kube_api::clock::TokioClock::new()))
        .build();
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    (server, client)
}

#[derive(Debug, Clone)]
struct Ctr {
    status: ContainerStatus,
    command: Vec<String>,
}

#[derive(Default)]
struct State {
    next: u64,
    sandboxes: BTreeMap<String, (PodSandboxConfig, PodSandboxStatus)>,
    containers: BTreeMap<String, Ctr>,
    images: HashSet<String>,
    exec_codes: HashMap<String, i32>,
    exec_log: Vec<(String, Vec<String>)>,
    starts: Vec<(String, Timestamp)>,
    network: Option<String>,
    stops: Vec<(String, Duration)>,
}

/// The scripted runtime. Clones share state (a "restarted runtime over the same state").
#[derive(Clone)]
pub struct Scripted {
    state: Arc<Mutex<State>>,
    clock: Arc<TokioClock>,
    pub name: String,
}

impl Scripted {
    pub fn new() -> Self {
        let mut st = State::default();
        for i in ["busybox:1.36", "busybox", "nginx:1.25"] {
            st.images.insert(i.to_string());
        }
        Scripted {
            state: Arc::new(Mutex::new(st)),
            clock: Arc::new(TokioClock::new()),
            name: "scripted".into(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Makes the runtime report its network as not ready with `message` (`None`: ready).
    pub fn set_network_down(&self, message: Option<&str>) {
        self.lock().network = message.map(str::to_string);
    }

    pub fn set_exec(&self, container: &str, code: i32) {
        self.lock().exec_codes.insert(container.to_string(), code);
    }

    pub fn exec_log(&self) -> Vec<(String, Vec<String>)> {
        self.lock().exec_log.clone()
    }

    /// (container name, start time) of every start.
    pub fn starts(&self) -> Vec<(String, Timestamp)> {
        self.lock().starts.clone()
    }

    pub fn stops(&self) -> Vec<(String, Duration)> {
        self.lock().stops.clone()
    }

    pub fn containers(&self) -> Vec<ContainerStatus> {
        let mut st = self.lock();
        let now = self.clock.now();
        st.containers
            .values_mut()
            .map(|c| advance(c, now).status.clone())
            .collect()
    }

    pub fn sandboxes(&self) -> Vec<PodSandboxStatus> {
        self.lock()
            .sandboxes
            .values()
            .map(|s| s.1.clone())
            .collect()
    }

    /// Adds a running container that is not the kubelet's (another node's label).
    pub fn add_foreign(&self, labels: Labels) -> String {
        let mut st = self.lock();
        st.next += 1;
        let id = format!("foreign{}", st.next);
        let now = self.clock.now();
        st.containers.insert(
            id.clone(),
            Ctr {
                command: vec!["run".into()],
                status: ContainerStatus {
                    id: id.clone(),
                    sandbox_id: "none".into(),
                    name: "foreign".into(),
                    attempt: 0,
                    image: "busybox".into(),
                    image_ref: "sha256:busybox".into(),
                    state: ContainerState::Running,
                    created_at: now,
                    started_at: Some(now),
                    finished_at: None,
                    exit_code: None,
                    reason: String::new(),
                    message: String::new(),
                    log_path: Default::default(),
                    labels,
                    annotations: Labels::new(),
                },
            },
        );
        id
    }
}

fn advance(c: &mut Ctr, now: Timestamp) -> &Ctr {
    if c.status.state == ContainerState::Running
        && c.command.first().map(String::as_str) == Some("exit")
    {
        let code: i32 = c.command.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let secs: i64 = c.command.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let end = c
            .status
            .started_at
            .unwrap()
            .saturating_add(SignedDuration::from_secs(secs))
            .unwrap();
        if now >= end {
            c.status.state = ContainerState::Exited;
            c.status.finished_at = Some(end);
            c.status.exit_code = Some(code);
            c.status.reason = if code == 0 {
                "Completed".into()
            } else {
                "Error".into()
            };
        }
    }
    c
}

fn to_container(c: &Ctr) -> Container {
    let s = &c.status;
    Container {
        id: s.id.clone(),
        sandbox_id: s.sandbox_id.clone(),
        name: s.name.clone(),
        attempt: s.attempt,
        image: s.image.clone(),
        image_ref: s.image_ref.clone(),
        state: s.state,
        created_at: s.created_at,
        labels: s.labels.clone(),
        annotations: s.annotations.clone(),
    }
}

#[async_trait]
impl Runtime for Scripted {
    async fn version(&self) -> Result<VersionInfo> {
        Ok(VersionInfo {
            runtime_name: self.name.clone(),
            runtime_version: "0.1.0".into(),
            runtime_api_version: "v1".into(),
        })
    }
    async fn status(&self) -> Result<RuntimeStatus> {
        let network = self.lock().network.clone();
        Ok(RuntimeStatus {
            runtime_ready: true,
            network_ready: network.is_none(),
            message: network.unwrap_or_default(),
        })
    }
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        let mut st = self.lock();
        st.next += 1;
        let id = format!("sb{}", st.next);
        let ip = if config.host_network {
            None
        } else {
            Some(format!("10.88.0.{}", st.next % 250 + 2))
        };
        let status = PodSandboxStatus {
            id: id.clone(),
            metadata: config.metadata.clone(),
            state: SandboxState::Ready,
            created_at: self.clock.now(),
            ip,
            additional_ips: vec![],
            host_network: config.host_network,
            labels: config.labels.clone(),
            annotations: config.annotations.clone(),
        };
        st.sandboxes.insert(id.clone(), (config.clone(), status));
        Ok(id)
    }
    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let now = self.clock.now();
        let mut st = self.lock();
        for c in st
            .containers
            .values_mut()
            .filter(|c| c.status.sandbox_id == sandbox_id)
        {
            advance(c, now);
            if c.status.state == ContainerState::Running {
                c.status.state = ContainerState::Exited;
                c.status.finished_at = Some(now);
                c.status.exit_code = Some(137);
                c.status.reason = "Error".into();
            }
        }
        if let Some(s) = st.sandboxes.get_mut(sandbox_id) {
            s.1.state = SandboxState::NotReady;
        }
        Ok(())
    }
    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let mut st = self.lock();
        st.containers
            .retain(|_, c| c.status.sandbox_id != sandbox_id);
        st.sandboxes.remove(sandbox_id);
        Ok(())
    }
    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus> {
        self.lock()
            .sandboxes
            .get(sandbox_id)
            .map(|s| s.1.clone())
            .ok_or_else(|| Error::NotFound(sandbox_id.into()))
    }
    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandbox>> {
        Ok(self
            .lock()
            .sandboxes
            .values()
            .map(|(_, s)| PodSandbox {
                id: s.id.clone(),
                metadata: s.metadata.clone(),
                state: s.state,
                created_at: s.created_at,
                labels: s.labels.clone(),
                annotations: s.annotations.clone(),
            })
            .filter(|s| filter.matches(s))
            .collect())
    }
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        let mut st = self.lock();
        if !st.images.contains(&config.image) {
            return Err(Error::ImageNotPresent(config.image.clone()));
        }
        if config.command.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "container {:?} has no command",
                config.name
            )));
        }
        st.next += 1;
        let id = format!("c{}", st.next);
        st.containers.insert(
            id.clone(),
            Ctr {
                command: config.command.clone(),
                status: ContainerStatus {
                    id: id.clone(),
                    sandbox_id: sandbox_id.to_string(),
                    name: config.name.clone(),
                    attempt: config.attempt,
                    image: config.image.clone(),
                    image_ref: format!("sha256:{}", config.image),
                    state: ContainerState::Created,
                    created_at: self.clock.now(),
                    started_at: None,
                    finished_at: None,
                    exit_code: None,
                    reason: String::new(),
                    message: String::new(),
                    log_path: sandbox.log_directory.join(&config.log_path),
                    labels: config.labels.clone(),
                    annotations: config.annotations.clone(),
                },
            },
        );
        Ok(id)
    }
    async fn start_container(&self, container_id: &str) -> Result<()> {
        let now = self.clock.now();
        let mut st = self.lock();
        let c = st
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound(container_id.into()))?;
        c.status.state = ContainerState::Running;
        c.status.started_at = Some(now);
        let name = c.status.name.clone();
        st.starts.push((name, now));
        Ok(())
    }
    async fn stop_container(&self, container_id: &str, grace: Duration) -> Result<()> {
        let now = self.clock.now();
        let mut st = self.lock();
        let c = st
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound(container_id.into()))?;
        advance(c, now);
        if c.status.state != ContainerState::Exited {
            c.status.state = ContainerState::Exited;
            c.status.finished_at = Some(now);
            c.status.exit_code = Some(143);
            c.status.reason = "Error".into();
        }
        let name = c.status.name.clone();
        st.stops.push((name, grace));
        Ok(())
    }
    async fn remove_container(&self, container_id: &str) -> Result<()> {
        self.lock().containers.remove(container_id);
        Ok(())
    }
    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<Container>> {
        let now = self.clock.now();
        let mut st = self.lock();
        Ok(st
            .containers
            .values_mut()
            .map(|c| to_container(advance(c, now)))
            .filter(|c| filter.matches(c))
            .collect())
    }
    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus> {
        let now = self.clock.now();
        let mut st = self.lock();
        let c = st
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound(container_id.into()))?;
        Ok(advance(c, now).status.clone())
    }
    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        _timeout: Duration,
    ) -> Result<ExecOutput> {
        let mut st = self.lock();
        let name = st
            .containers
            .get(container_id)
            .map(|c| c.status.name.clone())
            .ok_or_else(|| Error::NotFound(container_id.into()))?;
        st.exec_log.push((name.clone(), cmd.to_vec()));
        let code = st.exec_codes.get(&name).copied().unwrap_or(0);
        Ok(ExecOutput {
            stdout: if code == 0 {
                vec![]
            } else {
                b"probe says no".to_vec()
            },
            stderr: vec![],
            exit_code: code,
        })
    }
    async fn exec(&self, _container_id: &str, _request: &ExecRequest) -> Result<ExecSession> {
        Err(Error::Unimplemented("exec".into()))
    }
    async fn container_stats(&self, _container_id: &str) -> Result<ContainerStats> {
        Ok(ContainerStats::default())
    }
    async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(self
            .lock()
            .images
            .iter()
            .map(|i| Image {
                id: format!("sha256:{i}"),
                repo_tags: vec![i.clone()],
                repo_digests: vec![],
                size_bytes: 1000,
            })
            .collect())
    }
    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        Ok(self.lock().images.contains(image).then(|| Image {
            id: format!("sha256:{image}"),
            repo_tags: vec![image.to_string()],
            repo_digests: vec![],
            size_bytes: 1000,
        }))
    }
    async fn pull_image(&self, image: &str) -> Result<String> {
        if image.starts_with("unreachable/") {
            return Err(Error::PullFailed {
                image: image.into(),
                message: "no registry reachable".into(),
            });
        }
        self.lock().images.insert(image.to_string());
        Ok(format!("sha256:{image}"))
    }
    async fn remove_image(&self, image: &str) -> Result<()> {
        self.lock().images.remove(image);
        Ok(())
    }
}

/// Removes a test's network namespaces (by name prefix) and its node bridge when dropped:
/// the process runtime leaves both at teardown, as the node agent owns them.
pub struct NetGuard {
    /// The node bridge.
    pub bridge: String,
    /// The name prefix of the pods' network namespaces.
    pub prefix: String,
}

impl Drop for NetGuard {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir("/run/netns") {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with(&self.prefix) {
                    let _ = std::process::Command::new("ip")
                        .args(["netns", "del", &name])
                        .status();
                }
            }
        }
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(std::process::Stdio::null())
            .status();
    }
}
