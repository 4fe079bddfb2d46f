//! The service proxy (kube-proxy) as a library.
//!
//! A tour:
//! - [`model`]: the pure translation of Services and EndpointSlices into a [`DesiredState`]
//!   (which endpoints each ClusterIP and NodePort leads to, session affinity, traffic
//!   policies), skipping malformed data with a logged reason.
//! - [`rules`]: the [`NetworkRules`] trait (idempotent `sync(desired) -> Report`, full resync
//!   first, incremental afterwards) that every backend implements.
//! - [`nft`]: the nftables backend (a table of our own, one `nft -f -` transaction per sync).
//! - [`userspace`]: tokio TCP/UDP forwarders for hosts without a usable packet filter.
//! - [`proxy`]: the proxy itself: informers on Services and EndpointSlices, burst coalescing
//!   (min sync period), backend choice, `/healthz` and metrics.
//! - [`testing`]: the conformance suite of [`NetworkRules`], run against every backend.
//!
//! ```
//! use kube_net::model::{desired_state, ModelConfig};
//! use kubox_core::api::core_v1::Service;
//!
//! let svc: Service = serde_json::from_str(
//!     r#"{"metadata":{"namespace":"default","name":"web"},
//!         "spec":{"clusterIP":"10.96.0.10","ports":[{"port":80}]}}"#,
//! ).unwrap();
//! let desired = desired_state(&ModelConfig::default(), [&svc], []);
//! let port = desired.services.values().next().unwrap();
//! assert_eq!(port.port, 80);
//! assert!(port.cluster_endpoints.is_empty()); // no endpoints: the backends reject
//! ```

pub mod model;
pub mod nft;
pub mod proxy;
pub mod rules;
pub mod testing;
pub mod userspace;

pub use model::DesiredState;
pub use rules::{NetworkRules, Report};
