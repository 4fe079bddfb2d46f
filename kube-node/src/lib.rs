//! The node agent (kubelet) as a library.
//!
//! # Tour
//!
//! - [`runtime`]: the [`Runtime`](runtime::Runtime) trait, shaped after CRI v1, with its
//!   contract, and the runtimes: [`runtime::process`] (containers as supervised host
//!   processes, the embedded default), [`runtime::sim`] (no processes; thousands of nodes in
//!   one process) and `runtime::cri` (containerd over CRI v1 gRPC, feature `cri`).
//! - [`testing`]: the conformance suite every runtime runs.
//! - [`kubelet`]: the node agent: registers its Node, heartbeats through a Lease, watches the
//!   pods bound to it and converges each one through the runtime (sandbox, init containers,
//!   containers, probes, restarts with back-off, status, graceful deletion), static pods.
//! - [`server`]: the kubelet's HTTP API (container logs and exec) that the API server's
//!   `pods/log` and `pods/exec` proxy to.
//! - [`sources`]: static pods from a directory or URL, and their mirror pods.
//! - [`clock`]: timestamps that follow tokio's clock, for tests under paused time.
//! - [`labels`]: the bookkeeping labels on runtime objects.
//!
//! The kubelet reaches the cluster only through kubox-core's
//! [`Client`](kubox_core::client::Client), in-process or over HTTPS.
//!
//! # Example
//!
//! A sandbox and a container on the simulated runtime:
//!
//! ```
//! use kube_node::runtime::{ContainerConfig, PodSandboxConfig, Runtime, SandboxMetadata};
//! use kube_node::runtime::sim::SimRuntime;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = SimRuntime::new(Default::default());
//! let sandbox = PodSandboxConfig {
//!     metadata: SandboxMetadata { name: "web".into(), namespace: "default".into(), uid: "u1".into(), attempt: 0 },
//!     ..Default::default()
//! };
//! let sandbox_id = runtime.run_pod_sandbox(&sandbox).await?;
//! let container = ContainerConfig { name: "app".into(), image: "busybox".into(), ..Default::default() };
//! let id = runtime.create_container(&sandbox_id, &container, &sandbox).await?;
//! runtime.start_container(&id).await?;
//! # Ok(())
//! # }
//! ```

pub mod clock;
pub mod kubelet;
pub mod labels;
pub mod logs;
pub mod runtime;
pub mod server;
pub mod sources;
pub mod testing;
