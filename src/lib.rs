//! kubox: a whole Kubernetes cluster as an embeddable Rust library.
//!
//! This facade re-exports the component crates so that an application depends on one package:
//!
//! | module | Kubernetes component | crate |
//! |---|---|---|
//! | [`core`] | API objects, apimachinery | `kubox-core` |
//! | [`store`] | etcd | `kube-store` |
//! | [`api`] | kube-apiserver | `kube-api` |
//! | [`sched`] | kube-scheduler | `kube-sched` |
//! | [`ctrl`] | kube-controller-manager | `kube-ctrl` |
//! | [`node`] | kubelet + container runtime | `kube-node` |
//! | [`net`] | kube-proxy | `kube-net` |
//!
//! and [`cluster`] composes them: [`Cluster::builder`] starts a whole cluster in one process
//! (store, API server with HTTPS and an admin kubeconfig, scheduler, controllers, kubelets on
//! the process, simulated or CRI runtime, the service proxy) and hands back a [`Cluster`]
//! with an admin client and per-component shutdown.
//!
//! # Example: a cluster
//!
//! Five simulated nodes, a Deployment, and its pods Running:
//!
//! ```
//! use kubox::core::api::apps_v1::Deployment;
//! use kubox::core::api::core_v1::Pod;
//! use kubox::core::client::{Api, ListParams, PostParams};
//! use kubox::Cluster;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = Cluster::builder()
//!     .store(kubox::cluster::StoreConfig::Memory)
//!     .simulated_nodes(5)
//!     .start()
//!     .await?;
//! let deployment: Deployment = serde_json::from_str(r#"{
//!     "metadata": {"name": "web"},
//!     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
//!         "template": {"metadata": {"labels": {"app": "web"}},
//!             "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}"#)?;
//! Api::<Deployment>::namespaced(cluster.client(), "default")
//!     .create(&PostParams::default(), &deployment)
//!     .await?;
//! let pods: Api<Pod> = Api::namespaced(cluster.client(), "default");
//! let running = loop {
//!     let list = pods.list(&ListParams::default()).await?;
//!     let running = list.items.iter().filter(|p| {
//!         p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
//!     });
//!     if running.count() == 3 {
//!         break list.items;
//!     }
//!     tokio::time::sleep(std::time::Duration::from_millis(100)).await;
//! };
//! assert!(running.iter().all(|p| p.spec.as_ref().unwrap().node_name.is_some()));
//! cluster.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Example: the store alone
//!
//! ```
//! use kubox::store::{embedded::EmbeddedStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = EmbeddedStore::in_memory();
//! store.create("/registry/namespaces/default", br#"{"kind":"Namespace"}"#.to_vec().into()).await?;
//! assert_eq!(store.current_revision().await?, 1);
//! # Ok(())
//! # }
//! ```

pub mod cluster;

pub use cluster::{Cluster, ClusterBuilder};

pub use kube_api as api;
pub use kube_ctrl as ctrl;
pub use kube_net as net;
pub use kube_node as node;
pub use kube_sched as sched;
pub use kube_store as store;
pub use kubox_core as core;

/// The README's code samples, compiled and run as doctests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
