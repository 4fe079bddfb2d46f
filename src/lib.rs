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
//! # Example
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
