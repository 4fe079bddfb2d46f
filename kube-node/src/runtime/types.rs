//! The data types of the [`Runtime`](super::Runtime) calls (CRI v1 messages, trimmed to what
//! a kubelet uses, in Rust shapes).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Labels or annotations of a runtime object.
pub type Labels = BTreeMap<String, String>;

/// The runtime's name and version (CRI `VersionResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The runtime's name, such as `containerd` or `kubox-process`.
    pub runtime_name: String,
    /// The runtime's version.
    pub runtime_version: String,
    /// The CRI API version the runtime speaks (`v1`).
    pub runtime_api_version: String,
}

/// Readiness of the runtime (CRI `StatusResponse` conditions `RuntimeReady`, `NetworkReady`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeStatus {
    /// The runtime can run containers.
    pub runtime_ready: bool,
    /// The pod network is ready: sandboxes get their own network and IP.
    pub network_ready: bool,
    /// Why a condition is false (for example "running without root: pods use the host
    /// network"), empty when both are true.
    pub message: String,
}

/// A port a pod asks the runtime to map on the host (`hostPort`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port inside the pod.
    pub container_port: u16,
    /// The port on the host (0: none).
    pub host_port: u16,
    /// The host address to bind (empty: all).
    pub host_ip: String,
}

/// The DNS settings of a sandbox (written to its resolv.conf where the runtime has one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsConfig {
    /// Name servers.
    pub servers: Vec<String>,
    /// Search domains.
    pub searches: Vec<String>,
    /// resolv.conf options.
    pub options: Vec<String>,
}

/// Compute resources of a container (CRI `LinuxContainerResources`, in plain units).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resources {
    /// CPU request in millicores (CRI `cpu_shares` derive from it).
    pub cpu_request_millis: Option<u64>,
    /// CPU limit in millicores (CRI `cpu_quota`/`cpu_period`).
    pub cpu_limit_millis: Option<u64>,
    /// Memory request in bytes.
    pub memory_request_bytes: Option<u64>,
    /// Memory limit in bytes.
    pub memory_limit_bytes: Option<u64>,
}

/// Identity of a sandbox (CRI `PodSandboxMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SandboxMetadata {
    /// The pod's name.
    pub name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's UID.
    pub uid: String,
    /// How many sandboxes were created for this pod before this one.
    pub attempt: u32,
}

/// The configuration of a pod sandbox (CRI `PodSandboxConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSandboxConfig {
    /// The pod this sandbox is for.
    pub metadata: SandboxMetadata,
    /// The hostname inside the sandbox (empty for host-network pods).
    pub hostname: String,
    /// The directory for the containers' log files
    /// (`/var/log/pods/<ns>_<pod>_<uid>` in Kubernetes).
    pub log_directory: PathBuf,
    /// Use the host's network namespace (`spec.hostNetwork`).
    pub host_network: bool,
    /// DNS settings.
    pub dns: Option<DnsConfig>,
    /// Host port mappings.
    pub port_mappings: Vec<PortMapping>,
    /// Labels (the kubelet's bookkeeping; returned unchanged).
    pub labels: Labels,
    /// Annotations (returned unchanged).
    pub annotations: Labels,
    /// Pod-level resources (sum of the containers'), where the runtime enforces them.
    pub resources: Option<Resources>,
}

/// The state of a sandbox (CRI `PodSandboxState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxState {
    /// Running: containers may be created in it.
    Ready,
    /// Stopped.
    NotReady,
}

/// A sandbox as listed (CRI `PodSandbox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSandbox {
    /// The sandbox id.
    pub id: String,
    /// The pod it belongs to.
    pub metadata: SandboxMetadata,
    /// Its state.
    pub state: SandboxState,
    /// When it was created.
    pub created_at: Timestamp,
    /// Labels from its config.
    pub labels: Labels,
    /// Annotations from its config.
    pub annotations: Labels,
}

/// The status of a sandbox (CRI `PodSandboxStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSandboxStatus {
    /// The sandbox id.
    pub id: String,
    /// The pod it belongs to.
    pub metadata: SandboxMetadata,
    /// Its state.
    pub state: SandboxState,
    /// When it was created.
    pub created_at: Timestamp,
    /// The pod's IP (None for host-network sandboxes: the kubelet uses the node's IP).
    pub ip: Option<String>,
    /// Further pod IPs (dual stack).
    pub additional_ips: Vec<String>,
    /// Whether the sandbox shares the host's network.
    pub host_network: bool,
    /// Labels from its config.
    pub labels: Labels,
    /// Annotations from its config.
    pub annotations: Labels,
}

/// Selects sandboxes in [`Runtime::list_pod_sandboxes`](super::Runtime::list_pod_sandboxes).
/// Empty fields match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SandboxFilter {
    /// Only this id.
    pub id: Option<String>,
    /// Only sandboxes in this state.
    pub state: Option<SandboxState>,
    /// Only sandboxes carrying all these labels.
    pub labels: Labels,
}

impl SandboxFilter {
    /// Whether a sandbox passes the filter.
    pub fn matches(&self, sandbox: &PodSandbox) -> bool {
        self.id.as_ref().is_none_or(|id| *id == sandbox.id)
            && self.state.is_none_or(|s| s == sandbox.state)
            && labels_match(&self.labels, &sandbox.labels)
    }
}

/// A volume mount (CRI `Mount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The path inside the container.
    pub container_path: PathBuf,
    /// The path on the host.
    pub host_path: PathBuf,
    /// Mounted read-only.
    pub readonly: bool,
}

/// The configuration of a container (CRI `ContainerConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerConfig {
    /// The container's name in the pod.
    pub name: String,
    /// How many times this container was created before (the restart count).
    pub attempt: u32,
    /// The image reference (as in the PodSpec).
    pub image: String,
    /// The entrypoint (`command`); empty: the image's.
    pub command: Vec<String>,
    /// The arguments (`args`); empty: the image's.
    pub args: Vec<String>,
    /// The working directory; `None`: the image's.
    pub working_dir: Option<String>,
    /// Environment variables, in order (already resolved by the kubelet).
    pub env: Vec<(String, String)>,
    /// Volume mounts.
    pub mounts: Vec<Mount>,
    /// The log file, relative to the sandbox's `log_directory`
    /// (`<container>/<attempt>.log` in Kubernetes).
    pub log_path: PathBuf,
    /// Keep stdin open.
    pub stdin: bool,
    /// Stdin closes after the first attach.
    pub stdin_once: bool,
    /// Allocate a TTY.
    pub tty: bool,
    /// Compute resources.
    pub resources: Resources,
    /// Labels (the kubelet's bookkeeping; returned unchanged).
    pub labels: Labels,
    /// Annotations (returned unchanged).
    pub annotations: Labels,
}

/// The state of a container (CRI `ContainerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited (or failed to start).
    Exited,
    /// The runtime does not know.
    Unknown,
}

/// A container as listed (CRI `Container`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The container id.
    pub id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// Its name in the pod.
    pub name: String,
    /// Its attempt (restart count).
    pub attempt: u32,
    /// The image reference it was created with.
    pub image: String,
    /// The image id it runs.
    pub image_ref: String,
    /// Its state.
    pub state: ContainerState,
    /// When it was created.
    pub created_at: Timestamp,
    /// Labels from its config.
    pub labels: Labels,
    /// Annotations from its config.
    pub annotations: Labels,
}

/// The status of a container (CRI `ContainerStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// The container id.
    pub id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// Its name in the pod.
    pub name: String,
    /// Its attempt (restart count).
    pub attempt: u32,
    /// The image reference it was created with.
    pub image: String,
    /// The image id it runs.
    pub image_ref: String,
    /// Its state.
    pub state: ContainerState,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it started (None before).
    pub started_at: Option<Timestamp>,
    /// When it exited (None before).
    pub finished_at: Option<Timestamp>,
    /// Its exit code once exited (128 + signal when killed by a signal).
    pub exit_code: Option<i32>,
    /// A short reason once exited: `Completed`, `Error`, `OOMKilled`, `StartError`.
    pub reason: String,
    /// A human-readable message (the start error, ...).
    pub message: String,
    /// The absolute path of its log file.
    pub log_path: PathBuf,
    /// Labels from its config.
    pub labels: Labels,
    /// Annotations from its config.
    pub annotations: Labels,
}

/// Selects containers in [`Runtime::list_containers`](super::Runtime::list_containers).
/// Empty fields match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerFilter {
    /// Only this id.
    pub id: Option<String>,
    /// Only containers of this sandbox.
    pub sandbox_id: Option<String>,
    /// Only containers in this state.
    pub state: Option<ContainerState>,
    /// Only containers carrying all these labels.
    pub labels: Labels,
}

impl ContainerFilter {
    /// Whether a container passes the filter.
    pub fn matches(&self, container: &Container) -> bool {
        self.id.as_ref().is_none_or(|id| *id == container.id)
            && self
                .sandbox_id
                .as_ref()
                .is_none_or(|id| *id == container.sandbox_id)
            && self.state.is_none_or(|s| s == container.state)
            && labels_match(&self.labels, &container.labels)
    }
}

fn labels_match(want: &Labels, have: &Labels) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// The collected result of [`Runtime::exec_sync`](super::Runtime::exec_sync).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// What the command wrote to stdout.
    pub stdout: Vec<u8>,
    /// What the command wrote to stderr.
    pub stderr: Vec<u8>,
    /// Its exit code.
    pub exit_code: i32,
}

/// An interactive command (CRI `ExecRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecRequest {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// Allocate a TTY (stdout and stderr are then one stream).
    pub tty: bool,
    /// Connect stdin.
    pub stdin: bool,
    /// Connect stdout.
    pub stdout: bool,
    /// Connect stderr.
    pub stderr: bool,
}

/// A terminal size change for a TTY exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

/// The streams of a running [`Runtime::exec`](super::Runtime::exec).
pub struct ExecSession {
    /// The command's stdin, when requested.
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    /// The command's stdout (with a TTY: the terminal output), when requested.
    pub stdout: Option<Pin<Box<dyn AsyncRead + Send>>>,
    /// The command's stderr, when requested and without a TTY.
    pub stderr: Option<Pin<Box<dyn AsyncRead + Send>>>,
    /// Terminal resizes, with a TTY where the runtime supports them.
    pub resize: Option<mpsc::UnboundedSender<TerminalSize>>,
    /// Completes with the exit code when the command ends.
    pub exit: Pin<Box<dyn Future<Output = super::Result<i32>> + Send>>,
}

impl fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecSession")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("resize", &self.resize.is_some())
            .finish_non_exhaustive()
    }
}

/// Resource usage of a container (CRI `ContainerStats`, trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerStats {
    /// CPU time used, in nanoseconds.
    pub cpu_usage_nanos: Option<u64>,
    /// Working-set memory in bytes.
    pub memory_working_set_bytes: Option<u64>,
}

/// An image in the runtime's store (CRI `Image`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The image id (a digest for OCI images).
    pub id: String,
    /// Its `name:tag` references.
    pub repo_tags: Vec<String>,
    /// Its `name@digest` references.
    pub repo_digests: Vec<String>,
    /// Its size in bytes.
    pub size_bytes: u64,
}
