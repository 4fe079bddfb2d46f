//! The Kubernetes controller manager (kube-controller-manager) as a library.
//!
//! # Tour
//!
//! - [`runtime`]: the controller runtime. [`runtime::WorkQueue`] (deduplicating, with a
//!   processing set, delayed adds and client-go's default rate limiter: per-key 5 ms → 1000 s
//!   exponential backoff and a 10 qps / 100 burst bucket), [`runtime::SharedInformers`] (one
//!   watch per kind for the whole process), the [`runtime::Controller`] trait (reconcile one
//!   key → [`runtime::Action`]) and its workers, owner-reference helpers, and
//!   [`runtime::Metrics`] (queue depth, adds, retries, reconcile results and latency, in the
//!   Prometheus text format).
//! - [`manager`]: [`manager::ControllerManager`] runs every enabled controller (by name, with
//!   its worker count) over one set of shared informers, optionally gated by leader election
//!   on a Lease (kubox-core's `runtime::leader`), and stops gracefully.
//! - [`controllers`]: the built-in controllers, by their `--controllers` names:
//!   `replicaset` and `replicationcontroller` ([`controllers::replicaset`]), `deployment`,
//!   `endpoints` (Endpoints and EndpointSlices), `serviceaccount` and `serviceaccount-token`,
//!   `nodelifecycle`, `namespace` ([`controllers::namespace`]: empties a deleted namespace,
//!   pods first, over every namespaced resource of kubox-core's registry, with Kubernetes'
//!   `NamespaceDeletion…`/`Namespace…Remaining` conditions, then finalizes it) and
//!   `garbagecollector` ([`controllers::gc`]: an owner → dependents graph keyed by uid over
//!   the shared informers of every registry resource it can delete; background deletion of
//!   dependents whose owners are gone, `foregroundDeletion` and `orphan` finalizers).
//!
//! Controllers reach the cluster only through kubox-core's `Client`, so the manager runs in
//! the API server's process or against a remote one.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use kubox_core::client::Client;
//! use kube_ctrl::manager::{ControllerManager, Options};
//!
//! async fn run(client: Arc<dyn Client>) {
//!     let options = Options {
//!         controllers: vec!["*".into(), "-replicationcontroller".into()],
//!         ..Options::default()
//!     };
//!     let manager = ControllerManager::with_builtin(client, options, kube_ctrl::runtime::tokio_clock());
//!     assert!(manager.enabled().contains(&"replicaset".to_string()));
//!     manager.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! }
//! ```

pub mod controllers;
pub mod manager;
pub mod runtime;
