//! The CRI runtime: [`Runtime`] over CRI v1 gRPC (the `k8s-cri` bindings on tonic) to a
//! container runtime daemon such as containerd, reached through its Unix socket.
//!
//! Every [`Runtime`] call is one CRI call (plus, for `create_container`, creating the log
//! directory on this host as the kubelet does). Ids are the daemon's. gRPC status codes map
//! to [`Error`]s: `NotFound` → [`Error::NotFound`] (and success for the idempotent
//! `stop_*`/`remove_*` calls), `Unavailable` → [`Error::Unavailable`], and so on.
//! `pull_image` always asks the daemon to contact the registry (containerd does even for a
//! local image), so the kubelet calls `image_status` first.
//!
//! Interactive exec uses CRI `Exec`, which returns a URL on the daemon's streaming server;
//! [`CriRuntime`] connects to it as a WebSocket client with the `v4.channel.k8s.io`
//! subprotocol (containerd's streaming server speaks Kubernetes' remotecommand protocol over
//! WebSockets) and turns the channels into an [`ExecSession`].
//!
//! Listing returns everything in the daemon's namespace (the daemon is shared): the kubelet
//! filters by its labels.
//!
//! [`testing`] starts a throw-away containerd with local images for tests.
//!
//! ```no_run
//! use kube_node::runtime::Runtime;
//! use kube_node::runtime::cri::CriRuntime;
//!
//! # async fn demo() -> kube_node::runtime::Result<()> {
//! let runtime = CriRuntime::connect("/run/containerd/containerd.sock").await?;
//! println!("{:?}", runtime.version().await?);
//! # Ok(())
//! # }
//! ```

mod exec;
pub mod testing;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint};

use super::{
    Container, ContainerConfig, ContainerFilter, ContainerState, ContainerStats, ContainerStatus,
    Error, ExecOutput, ExecRequest, ExecSession, Image, Labels, PodSandbox, PodSandboxConfig,
    PodSandboxStatus, Resources, Result, Runtime, RuntimeStatus, SandboxFilter, SandboxMetadata,
    SandboxState, VersionInfo,
};

/// The CPU period the kubelet uses for CFS quotas (100 ms, in microseconds).
const CPU_PERIOD_US: i64 = 100_000;

/// A [`Runtime`] talking CRI v1 to a daemon over its Unix socket.
#[derive(Debug, Clone)]
pub struct CriRuntime {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    socket: PathBuf,
}

impl CriRuntime {
    /// Connects to the daemon listening on the Unix socket `socket` (containerd:
    /// `/run/containerd/containerd.sock`). Fails with [`Error::Unavailable`] when nothing
    /// answers there.
    pub async fn connect(socket: impl AsRef<Path>) -> Result<CriRuntime> {
        let socket = socket.as_ref().to_path_buf();
        let path = socket.clone();
        // The URI is a placeholder: the connector ignores it and dials the socket.
        let channel = Endpoint::from_static("http://[::]:0")
            .connect_timeout(Duration::from_secs(5))
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .map_err(|e| {
                Error::Unavailable(format!(
                    "cannot connect to the CRI socket {}: {e}",
                    socket.display()
                ))
            })?;
        Ok(CriRuntime {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            socket,
        })
    }

    /// The socket this runtime talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn rt(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    fn img(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }
}

/// Maps a gRPC status to an [`Error`], naming the call.
fn grpc(call: &'static str) -> impl Fn(tonic::Status) -> Error {
    move |s| {
        let msg = format!("{call}: {}", s.message());
        match s.code() {
            tonic::Code::NotFound => Error::NotFound(msg),
            tonic::Code::InvalidArgument => Error::InvalidArgument(msg),
            tonic::Code::Unimplemented => Error::Unimplemented(msg),
            tonic::Code::Unavailable => Error::Unavailable(msg),
            tonic::Code::DeadlineExceeded => Error::DeadlineExceeded(msg),
            _ => Error::Other(msg),
        }
    }
}

/// `Ok(())` for [`Error::NotFound`]: the idempotent calls.
fn ignore_not_found(r: Result<()>) -> Result<()> {
    match r {
        Err(Error::NotFound(_)) => Ok(()),
        other => other,
    }
}

fn labels(map: std::collections::HashMap<String, String>) -> Labels {
    map.into_iter().collect()
}

fn hash_map(labels: &Labels) -> std::collections::HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A CRI timestamp (nanoseconds since the epoch; 0 = unset).
fn timestamp(nanos: i64) -> Option<Timestamp> {
    if nanos == 0 {
        return None;
    }
    Timestamp::from_nanosecond(i128::from(nanos)).ok()
}

/// Whole seconds for CRI, rounding a partial second up.
fn seconds_ceil(d: Duration) -> i64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(s).unwrap_or(i64::MAX)
}

fn sandbox_metadata(m: Option<cri::PodSandboxMetadata>) -> SandboxMetadata {
    let m = m.unwrap_or_default();
    SandboxMetadata {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        attempt: m.attempt,
    }
}

fn sandbox_state(state: i32) -> SandboxState {
    if state == cri::PodSandboxState::SandboxReady as i32 {
        SandboxState::Ready
    } else {
        SandboxState::NotReady
    }
}

fn container_state(state: i32) -> ContainerState {
    match cri::ContainerState::try_from(state) {
        Ok(cri::ContainerState::ContainerCreated) => ContainerState::Created,
        Ok(cri::ContainerState::ContainerRunning) => ContainerState::Running,
        Ok(cri::ContainerState::ContainerExited) => ContainerState::Exited,
        _ => ContainerState::Unknown,
    }
}

fn cri_container_state(state: ContainerState) -> cri::ContainerState {
    match state {
        ContainerState::Created => cri::ContainerState::ContainerCreated,
        ContainerState::Running => cri::ContainerState::ContainerRunning,
        ContainerState::Exited => cri::ContainerState::ContainerExited,
        ContainerState::Unknown => cri::ContainerState::ContainerUnknown,
    }
}

fn image(i: cri::Image) -> Image {
    Image {
        id: i.id,
        repo_tags: i.repo_tags,
        repo_digests: i.repo_digests,
        size_bytes: i.size,
    }
}

fn namespace_options(host_network: bool) -> cri::NamespaceOption {
    cri::NamespaceOption {
        network: if host_network {
            cri::NamespaceMode::Node as i32
        } else {
            cri::NamespaceMode::Pod as i32
        },
        pid: cri::NamespaceMode::Container as i32,
        ipc: cri::NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// The kubelet's CPU shares for a request (`milliCPUToShares`: 1024 per core, at least 2).
fn cpu_shares(millis: u64) -> i64 {
    i64::try_from((millis * 1024 / 1000).max(2)).unwrap_or(i64::MAX)
}

/// The kubelet's CFS quota for a limit (`milliCPUToQuota`: at least 1 ms per period).
fn cpu_quota(millis: u64) -> i64 {
    let quota = i64::try_from(millis).unwrap_or(i64::MAX / CPU_PERIOD_US) * CPU_PERIOD_US / 1000;
    quota.max(1000)
}

fn linux_resources(r: &Resources) -> cri::LinuxContainerResources {
    let mut out = cri::LinuxContainerResources {
        cpu_shares: cpu_shares(r.cpu_request_millis.or(r.cpu_limit_millis).unwrap_or(0)),
        ..Default::default()
    };
    if let Some(limit) = r.cpu_limit_millis {
        out.cpu_period = CPU_PERIOD_US;
        out.cpu_quota = cpu_quota(limit);
    }
    if let Some(mem) = r.memory_limit_bytes {
        out.memory_limit_in_bytes = i64::try_from(mem).unwrap_or(i64::MAX);
    }
    out
}

fn cri_sandbox_config(config: &PodSandboxConfig) -> cri::PodSandboxConfig {
    let m = &config.metadata;
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: m.name.clone(),
            uid: m.uid.clone(),
            namespace: m.namespace.clone(),
            attempt: m.attempt,
        }),
        // runc cannot set a hostname without a private UTS namespace: host-network pods
        // share the host's.
        hostname: if config.host_network {
            String::new()
        } else {
            config.hostname.clone()
        },
        log_directory: config.log_directory.to_string_lossy().into_owned(),
        dns_config: config.dns.as_ref().map(|d| cri::DnsConfig {
            servers: d.servers.clone(),
            searches: d.searches.clone(),
            options: d.options.clone(),
        }),
        port_mappings: config
            .port_mappings
            .iter()
            .map(|p| cri::PortMapping {
                protocol: match p.protocol.as_str() {
                    "UDP" => cri::Protocol::Udp as i32,
                    "SCTP" => cri::Protocol::Sctp as i32,
                    _ => cri::Protocol::Tcp as i32,
                },
                container_port: i32::from(p.container_port),
                host_port: i32::from(p.host_port),
                host_ip: p.host_ip.clone(),
            })
            .collect(),
        labels: hash_map(&config.labels),
        annotations: hash_map(&config.annotations),
        linux: Some(cri::LinuxPodSandboxConfig {
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(config.host_network)),
                ..Default::default()
            }),
            resources: config.resources.as_ref().map(linux_resources),
            ..Default::default()
        }),
        windows: None,
    }
}

fn cri_container_config(
    config: &ContainerConfig,
    sandbox: &PodSandboxConfig,
) -> cri::ContainerConfig {
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: config.name.clone(),
            attempt: config.attempt,
        }),
        image: Some(cri::ImageSpec {
            image: config.image.clone(),
            user_specified_image: config.image.clone(),
            ..Default::default()
        }),
        command: config.command.clone(),
        args: config.args.clone(),
        working_dir: config.working_dir.clone().unwrap_or_default(),
        envs: config
            .env
            .iter()
            .map(|(k, v)| cri::KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        mounts: config
            .mounts
            .iter()
            .map(|m| cri::Mount {
                container_path: m.container_path.to_string_lossy().into_owned(),
                host_path: m.host_path.to_string_lossy().into_owned(),
                readonly: m.readonly,
                ..Default::default()
            })
            .collect(),
        labels: hash_map(&config.labels),
        annotations: hash_map(&config.annotations),
        log_path: config.log_path.to_string_lossy().into_owned(),
        stdin: config.stdin,
        stdin_once: config.stdin_once,
        tty: config.tty,
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(linux_resources(&config.resources)),
            security_context: Some(cri::LinuxContainerSecurityContext {
                namespace_options: Some(namespace_options(sandbox.host_network)),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

#[async_trait]
impl Runtime for CriRuntime {
    async fn version(&self) -> Result<VersionInfo> {
        let v = self
            .rt()
            .version(cri::VersionRequest {
                version: "v1".into(),
            })
            .await
            .map_err(grpc("Version"))?
            .into_inner();
        Ok(VersionInfo {
            runtime_name: v.runtime_name,
            runtime_version: v.runtime_version,
            runtime_api_version: v.runtime_api_version,
        })
    }

    async fn status(&self) -> Result<RuntimeStatus> {
        let s = self
            .rt()
            .status(cri::StatusRequest { verbose: false })
            .await
            .map_err(grpc("Status"))?
            .into_inner();
        let conditions = s.status.map(|s| s.conditions).unwrap_or_default();
        let mut out = RuntimeStatus {
            runtime_ready: false,
            network_ready: false,
            message: String::new(),
        };
        let mut messages = Vec::new();
        for c in &conditions {
            match c.r#type.as_str() {
                "RuntimeReady" => out.runtime_ready = c.status,
                "NetworkReady" => out.network_ready = c.status,
                _ => {}
            }
            if !c.status {
                messages.push(format!(
                    "{} is false: {}: {}",
                    c.r#type, c.reason, c.message
                ));
            }
        }
        for (ty, ready) in [
            ("RuntimeReady", out.runtime_ready),
            ("NetworkReady", out.network_ready),
        ] {
            if !ready && !conditions.iter().any(|c| c.r#type == ty) {
                messages.push(format!("{ty} is not reported"));
            }
        }
        out.message = messages.join(", ");
        Ok(out)
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        if !config.log_directory.as_os_str().is_empty() {
            tokio::fs::create_dir_all(&config.log_directory)
                .await
                .map_err(|e| {
                    Error::Other(format!(
                        "cannot create the log directory {}: {e}",
                        config.log_directory.display()
                    ))
                })?;
        }
        let r = self
            .rt()
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(cri_sandbox_config(config)),
                runtime_handler: String::new(),
            })
            .await
            .map_err(grpc("RunPodSandbox"))?;
        Ok(r.into_inner().pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let r = self
            .rt()
            .stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: sandbox_id.into(),
            })
            .await
            .map(drop)
            .map_err(grpc("StopPodSandbox"));
        ignore_not_found(r)
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let r = self
            .rt()
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: sandbox_id.into(),
            })
            .await
            .map(drop)
            .map_err(grpc("RemovePodSandbox"));
        ignore_not_found(r)
    }

    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus> {
        let s = self
            .rt()
            .pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: sandbox_id.into(),
                verbose: false,
            })
            .await
            .map_err(grpc("PodSandboxStatus"))?
            .into_inner()
            .status
            .ok_or_else(|| Error::NotFound(format!("sandbox {sandbox_id:?}")))?;
        let host_network = s
            .linux
            .as_ref()
            .and_then(|l| l.namespaces.as_ref())
            .and_then(|n| n.options.as_ref())
            .is_some_and(|o| o.network == cri::NamespaceMode::Node as i32);
        let network = s.network.unwrap_or_default();
        Ok(PodSandboxStatus {
            id: s.id,
            metadata: sandbox_metadata(s.metadata),
            state: sandbox_state(s.state),
            created_at: timestamp(s.created_at).unwrap_or(Timestamp::UNIX_EPOCH),
            ip: Some(network.ip).filter(|ip| !ip.is_empty() && !host_network),
            additional_ips: network.additional_ips.into_iter().map(|ip| ip.ip).collect(),
            host_network,
            labels: labels(s.labels),
            annotations: labels(s.annotations),
        })
    }

    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandbox>> {
        let items = self
            .rt()
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    id: filter.id.clone().unwrap_or_default(),
                    state: filter.state.map(|s| cri::PodSandboxStateValue {
                        state: match s {
                            SandboxState::Ready => cri::PodSandboxState::SandboxReady as i32,
                            SandboxState::NotReady => cri::PodSandboxState::SandboxNotready as i32,
                        },
                    }),
                    label_selector: hash_map(&filter.labels),
                }),
            })
            .await
            .map_err(grpc("ListPodSandbox"))?
            .into_inner()
            .items;
        Ok(items
            .into_iter()
            .map(|s| PodSandbox {
                id: s.id,
                metadata: sandbox_metadata(s.metadata),
                state: sandbox_state(s.state),
                created_at: timestamp(s.created_at).unwrap_or(Timestamp::UNIX_EPOCH),
                labels: labels(s.labels),
                annotations: labels(s.annotations),
            })
            // The daemon filters; this keeps prefix matches of ids out.
            .filter(|s| filter.matches(s))
            .collect())
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        if !sandbox.log_directory.as_os_str().is_empty() && !config.log_path.as_os_str().is_empty()
        {
            let log = sandbox.log_directory.join(&config.log_path);
            if let Some(dir) = log.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    Error::Other(format!(
                        "cannot create the log directory {}: {e}",
                        dir.display()
                    ))
                })?;
            }
        }
        let r = self
            .rt()
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.into(),
                config: Some(cri_container_config(config, sandbox)),
                sandbox_config: Some(cri_sandbox_config(sandbox)),
            })
            .await;
        match r {
            Ok(r) => Ok(r.into_inner().container_id),
            // containerd: `failed to resolve image "x": ... not found`.
            Err(s) if s.message().contains("failed to resolve image") => {
                Err(Error::ImageNotPresent(config.image.clone()))
            }
            Err(s) => Err(grpc("CreateContainer")(s)),
        }
    }

    async fn start_container(&self, container_id: &str) -> Result<()> {
        let r = self
            .rt()
            .start_container(cri::StartContainerRequest {
                container_id: container_id.into(),
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Err(grpc("StartContainer")(s)),
            Err(s) => Err(Error::StartFailed(s.message().to_string())),
        }
    }

    async fn stop_container(&self, container_id: &str, grace: Duration) -> Result<()> {
        let r = self
            .rt()
            .stop_container(cri::StopContainerRequest {
                container_id: container_id.into(),
                timeout: seconds_ceil(grace),
            })
            .await
            .map(drop)
            .map_err(grpc("StopContainer"));
        ignore_not_found(r)
    }

    async fn remove_container(&self, container_id: &str) -> Result<()> {
        let r = self
            .rt()
            .remove_container(cri::RemoveContainerRequest {
                container_id: container_id.into(),
            })
            .await
            .map(drop)
            .map_err(grpc("RemoveContainer"));
        ignore_not_found(r)
    }

    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<Container>> {
        let items = self
            .rt()
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    id: filter.id.clone().unwrap_or_default(),
                    state: filter.state.map(|s| cri::ContainerStateValue {
                        state: cri_container_state(s) as i32,
                    }),
                    pod_sandbox_id: filter.sandbox_id.clone().unwrap_or_default(),
                    label_selector: hash_map(&filter.labels),
                }),
            })
            .await
            .map_err(grpc("ListContainers"))?
            .into_inner()
            .containers;
        Ok(items
            .into_iter()
            .map(|c| {
                let metadata = c.metadata.unwrap_or_default();
                Container {
                    id: c.id,
                    sandbox_id: c.pod_sandbox_id,
                    name: metadata.name,
                    attempt: metadata.attempt,
                    image: c.image.map(|i| i.image).unwrap_or_default(),
                    image_ref: c.image_ref,
                    state: container_state(c.state),
                    created_at: timestamp(c.created_at).unwrap_or(Timestamp::UNIX_EPOCH),
                    labels: labels(c.labels),
                    annotations: labels(c.annotations),
                }
            })
            .filter(|c| filter.matches(c))
            .collect())
    }

    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus> {
        // CRI's ContainerStatus does not name the sandbox: the listing does. Both calls run
        // concurrently, so this costs no extra round trip in latency.
        let mut rt = self.rt();
        let status = rt.container_status(cri::ContainerStatusRequest {
            container_id: container_id.into(),
            verbose: false,
        });
        let mut rt2 = self.rt();
        let listing = rt2.list_containers(cri::ListContainersRequest {
            filter: Some(cri::ContainerFilter {
                id: container_id.into(),
                ..Default::default()
            }),
        });
        let (status, listing) = tokio::join!(status, listing);
        let s = status
            .map_err(grpc("ContainerStatus"))?
            .into_inner()
            .status
            .ok_or_else(|| Error::NotFound(format!("container {container_id:?}")))?;
        let sandbox_id = listing
            .ok()
            .and_then(|l| l.into_inner().containers.into_iter().find(|c| c.id == s.id))
            .map(|c| c.pod_sandbox_id)
            .unwrap_or_default();
        let state = container_state(s.state);
        let metadata = s.metadata.unwrap_or_default();
        Ok(ContainerStatus {
            id: s.id,
            sandbox_id,
            name: metadata.name,
            attempt: metadata.attempt,
            image: s.image.map(|i| i.image).unwrap_or_default(),
            image_ref: s.image_ref,
            state,
            created_at: timestamp(s.created_at).unwrap_or(Timestamp::UNIX_EPOCH),
            started_at: timestamp(s.started_at),
            finished_at: timestamp(s.finished_at),
            exit_code: (state == ContainerState::Exited).then_some(s.exit_code),
            reason: s.reason,
            message: s.message,
            log_path: PathBuf::from(s.log_path),
            labels: labels(s.labels),
            annotations: labels(s.annotations),
        })
    }

    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let mut rt = self.rt();
        let call = rt.exec_sync(cri::ExecSyncRequest {
            container_id: container_id.into(),
            cmd: cmd.to_vec(),
            timeout: seconds_ceil(timeout),
        });
        // The daemon enforces the timeout; this bound covers a daemon that does not.
        let r = tokio::time::timeout(timeout + Duration::from_secs(2), call)
            .await
            .map_err(|_| {
                Error::DeadlineExceeded(format!("command {cmd:?} timed out after {timeout:?}"))
            })?;
        match r {
            Ok(r) => {
                let r = r.into_inner();
                Ok(ExecOutput {
                    stdout: r.stdout,
                    stderr: r.stderr,
                    exit_code: r.exit_code,
                })
            }
            Err(s) if s.message().contains("timeout") && s.message().contains("exceeded") => Err(
                Error::DeadlineExceeded(format!("ExecSync: {}", s.message())),
            ),
            Err(s) => Err(grpc("ExecSync")(s)),
        }
    }

    async fn exec(&self, container_id: &str, request: &ExecRequest) -> Result<ExecSession> {
        let url = self
            .rt()
            .exec(cri::ExecRequest {
                container_id: container_id.into(),
                cmd: request.cmd.clone(),
                tty: request.tty,
                stdin: request.stdin,
                stdout: request.stdout,
                // With a TTY, stderr is merged into stdout (CRI rejects both).
                stderr: request.stderr && !request.tty,
            })
            .await
            .map_err(grpc("Exec"))?
            .into_inner()
            .url;
        exec::connect(&url, request).await
    }

    async fn container_stats(&self, container_id: &str) -> Result<ContainerStats> {
        let s = self
            .rt()
            .container_stats(cri::ContainerStatsRequest {
                container_id: container_id.into(),
            })
            .await
            .map_err(grpc("ContainerStats"))?
            .into_inner()
            .stats
            .unwrap_or_default();
        Ok(ContainerStats {
            cpu_usage_nanos: s
                .cpu
                .and_then(|c| c.usage_core_nano_seconds)
                .map(|v| v.value),
            memory_working_set_bytes: s.memory.and_then(|m| m.working_set_bytes).map(|v| v.value),
        })
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let images = self
            .img()
            .list_images(cri::ListImagesRequest { filter: None })
            .await
            .map_err(grpc("ListImages"))?
            .into_inner()
            .images;
        Ok(images.into_iter().map(image).collect())
    }

    async fn image_status(&self, reference: &str) -> Result<Option<Image>> {
        let r = self
            .img()
            .image_status(cri::ImageStatusRequest {
                image: Some(cri::ImageSpec {
                    image: reference.into(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await;
        match r {
            Ok(r) => Ok(r.into_inner().image.map(image)),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(grpc("ImageStatus")(s)),
        }
    }

    async fn pull_image(&self, reference: &str) -> Result<String> {
        let r = self
            .img()
            .pull_image(cri::PullImageRequest {
                image: Some(cri::ImageSpec {
                    image: reference.into(),
                    ..Default::default()
                }),
                auth: None,
                sandbox_config: None,
            })
            .await
            .map_err(|s| Error::PullFailed {
                image: reference.into(),
                message: s.message().to_string(),
            })?;
        Ok(r.into_inner().image_ref)
    }

    async fn remove_image(&self, reference: &str) -> Result<()> {
        let r = self
            .img()
            .remove_image(cri::RemoveImageRequest {
                image: Some(cri::ImageSpec {
                    image: reference.into(),
                    ..Default::default()
                }),
            })
            .await
            .map(drop)
            .map_err(grpc("RemoveImage"));
        ignore_not_found(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_conversions_follow_the_kubelet() {
        assert_eq!(cpu_shares(0), 2);
        assert_eq!(cpu_shares(250), 256);
        assert_eq!(cpu_shares(1000), 1024);
        assert_eq!(cpu_quota(500), 50_000);
        assert_eq!(cpu_quota(1), 1000);
    }

    #[test]
    fn timestamps_and_seconds() {
        assert_eq!(timestamp(0), None);
        assert_eq!(
            timestamp(1_500_000_000).unwrap(),
            Timestamp::from_nanosecond(1_500_000_000).unwrap()
        );
        assert_eq!(seconds_ceil(Duration::from_millis(1)), 1);
        assert_eq!(seconds_ceil(Duration::from_secs(2)), 2);
        assert_eq!(seconds_ceil(Duration::ZERO), 0);
    }

    #[test]
    fn grpc_codes_map_to_errors() {
        let e = grpc("X")(tonic::Status::not_found("gone"));
        assert_eq!(e, Error::NotFound("X: gone".into()));
        assert!(matches!(
            grpc("X")(tonic::Status::unavailable("down")),
            Error::Unavailable(_)
        ));
        assert_eq!(ignore_not_found(Err(e)), Ok(()));
    }

    #[test]
    fn host_network_sandboxes_get_no_hostname() {
        let config = PodSandboxConfig {
            hostname: "web".into(),
            host_network: true,
            ..Default::default()
        };
        let c = cri_sandbox_config(&config);
        assert_eq!(c.hostname, "");
        let ns = c
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap();
        assert_eq!(ns.network, cri::NamespaceMode::Node as i32);
    }
}
