//! The container runtime interface of the kubelet: the [`Runtime`] trait, shaped after CRI v1
//! (`k8s.io/cri-api/pkg/apis/runtime/v1/api.proto`), and its data types.
//!
//! A runtime manages **pod sandboxes** (the shared environment of a pod: network namespace and
//! IP, log directory, hostname) and **containers** inside them, plus images, exec and status.
//! The kubelet drives it the way Kubernetes' `kuberuntime_manager.go` drives CRI:
//! `run_pod_sandbox` → for each container `image_status` (then `pull_image` when absent and
//! the policy allows) → `create_container` → `start_container`; on the way down
//! `stop_container` → `remove_container` → `stop_pod_sandbox` → `remove_pod_sandbox`.
//!
//! Implementations: the process runtime (containers as supervised host processes), the CRI
//! runtime (containerd over gRPC, feature `cri`) and the simulated runtime (no processes).
//! Each one passes the conformance suite in [`crate::testing`].
//!
//! # Contract
//!
//! Every implementation of [`Runtime`] upholds these rules; the conformance suite checks them.
//!
//! - **Identity.** Ids returned by `run_pod_sandbox` and `create_container` are unique for the
//!   runtime's lifetime (also across restarts of the runtime over the same state) and never
//!   reused. Labels and annotations given in the configs are returned unchanged by the status
//!   and list calls: the kubelet keeps its bookkeeping there (pod name/namespace/uid,
//!   container name, restart count, spec hash) and finds its objects again after a restart.
//! - **Ownership.** `list_*` returns only objects this runtime instance manages (for a shared
//!   daemon such as containerd: every object, and the kubelet filters by its labels). Nothing
//!   is ever stopped or removed except through an explicit call with its id.
//! - **States.** A container goes `Created` → `Running` → `Exited` (or `Created` → `Exited`
//!   when its start fails); a sandbox goes `Ready` → `NotReady`. A container's exit is
//!   reported by `container_status` with `finished_at`, `exit_code` and a reason (`Completed`
//!   for exit 0, `Error` otherwise, `OOMKilled`, `StartError`) without the kubelet having to ask
//!   for it first. States never go backwards.
//! - **Idempotence.** `stop_*` on something already stopped and `remove_*` on something
//!   already removed succeed (CRI requires it). `*_status` of an unknown id is
//!   [`Error::NotFound`].
//! - **Stopping.** `stop_container(id, grace)` sends SIGTERM (or the runtime's equivalent),
//!   waits at most `grace`, then kills; it returns once the container is `Exited`.
//!   `stop_pod_sandbox` stops every container of the sandbox first and releases its network.
//! - **Creating.** `create_container` fails with [`Error::ImageNotPresent`] when the image is
//!   not in the runtime's store, and with [`Error::InvalidArgument`] when the config cannot run
//!   on this runtime (for example no command for the process runtime). The container's
//!   stdout/stderr go to `sandbox.log_directory / config.log_path` in CRI log format
//!   (`<RFC3339Nano> <stdout|stderr> <P|F> <line>`), which the kubelet reads for
//!   `kubectl logs`; a runtime without real output (the simulated one) may write nothing.
//! - **Cancellation safety.** Futures may be dropped at an `.await`; a dropped call leaves the
//!   runtime consistent (the object exists or it does not).
//! - All methods are safe to call concurrently from many tasks.

mod types;

pub use types::*;

use std::time::Duration;

use async_trait::async_trait;

/// Errors of a [`Runtime`] call.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// No sandbox, container or image with this id or name.
    #[error("not found: {0}")]
    NotFound(String),
    /// The image is not present in the runtime's image store.
    #[error("image {0:?} is not present")]
    ImageNotPresent(String),
    /// The image could not be pulled (no registry reachable, unknown image...).
    #[error("failed to pull image {image:?}: {message}")]
    PullFailed {
        /// The image reference.
        image: String,
        /// What went wrong.
        message: String,
    },
    /// The request cannot be carried out as given (bad config for this runtime).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The container could not be started (the command does not exist, ...).
    #[error("failed to start container: {0}")]
    StartFailed(String),
    /// The operation is not supported by this runtime.
    #[error("unimplemented: {0}")]
    Unimplemented(String),
    /// The runtime (or the daemon behind it) is not reachable or not ready.
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
    /// The call did not finish in time.
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// Anything else, with the runtime's message.
    #[error("{0}")]
    Other(String),
}

/// The result type of [`Runtime`] calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A container runtime, shaped after CRI v1's `RuntimeService` and `ImageService`.
///
/// See the [module documentation](self) for the contract every implementation upholds; the
/// conformance suite [`crate::testing::run_all`] checks it.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's name and version (CRI `Version`).
    async fn version(&self) -> Result<VersionInfo>;

    /// Whether the runtime and its pod network are ready (CRI `Status`).
    async fn status(&self) -> Result<RuntimeStatus>;

    /// Creates and starts a pod sandbox; returns its id (CRI `RunPodSandbox`). For pods that
    /// are not `host_network`, the sandbox gets its own network and IP where the runtime can
    /// provide one.
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String>;

    /// Stops every container of the sandbox and releases its network (CRI
    /// `StopPodSandbox`). Idempotent.
    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()>;

    /// Removes a stopped sandbox and its containers (CRI `RemovePodSandbox`). Idempotent.
    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()>;

    /// The status of one sandbox (CRI `PodSandboxStatus`).
    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus>;

    /// The sandboxes matching the filter (CRI `ListPodSandbox`).
    async fn list_pod_sandboxes(&self, filter: &SandboxFilter) -> Result<Vec<PodSandbox>>;

    /// Creates a container in a sandbox; returns its id (CRI `CreateContainer`). `sandbox` is
    /// the config the sandbox was created with.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String>;

    /// Starts a created container (CRI `StartContainer`).
    async fn start_container(&self, container_id: &str) -> Result<()>;

    /// Stops a container: SIGTERM, then a kill after `grace` (CRI `StopContainer`).
    /// Idempotent; returns once the container has exited.
    async fn stop_container(&self, container_id: &str, grace: Duration) -> Result<()>;

    /// Removes a container (CRI `RemoveContainer`); a running one is killed first. Idempotent.
    async fn remove_container(&self, container_id: &str) -> Result<()>;

    /// The containers matching the filter (CRI `ListContainers`).
    async fn list_containers(&self, filter: &ContainerFilter) -> Result<Vec<Container>>;

    /// The status of one container (CRI `ContainerStatus`).
    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus>;

    /// Runs a command in a running container and collects its output (CRI `ExecSync`).
    /// Exceeding `timeout` is [`Error::DeadlineExceeded`].
    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput>;

    /// Starts an interactive command in a running container and hands back its streams (CRI
    /// `Exec`, with the streaming already connected).
    async fn exec(&self, container_id: &str, request: &ExecRequest) -> Result<ExecSession>;

    /// Resource usage of a container, where the runtime measures it (CRI `ContainerStats`).
    async fn container_stats(&self, container_id: &str) -> Result<ContainerStats>;

    /// The images in the runtime's store (CRI `ListImages`).
    async fn list_images(&self) -> Result<Vec<Image>>;

    /// One image by reference (name:tag, name@digest or id); `None` when absent (CRI
    /// `ImageStatus`: absence is not an error).
    async fn image_status(&self, image: &str) -> Result<Option<Image>>;

    /// Pulls an image; returns its id (CRI `PullImage`).
    async fn pull_image(&self, image: &str) -> Result<String>;

    /// Removes an image. Idempotent (CRI `RemoveImage`).
    async fn remove_image(&self, image: &str) -> Result<()>;
}

/// How long `stop_*` waits by default (Kubernetes' `terminationGracePeriodSeconds` default).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

pub mod process;
pub mod sim;

#[cfg(feature = "cri")]
pub mod cri;
