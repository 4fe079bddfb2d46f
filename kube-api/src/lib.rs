//! The Kubernetes API server (kube-apiserver) as a library: the request path over a
//! [`kube_store::Store`]; the HTTP(S) front maps each REST call onto [`ApiServer::serve`] and
//! [`ApiServer::watch`].
//!
//! # Tour
//!
//! - [`ApiServer`] (module [`server`]): a cheap-clone handle with
//!   [`handle`](ApiServer::handle) / [`serve`](ApiServer::serve) for one
//!   [`Request`](kubox_core::client::Request) and [`watch`](ApiServer::watch) for a watch. The
//!   request path is: resolve the resource in kubox-core's registry → [`auth::Authorizer`] →
//!   the generic registry (per-resource strategy) with [`admission`] (mutating, then
//!   validating) → the store. Authentication is outside (an HTTP layer maps credentials to an
//!   [`auth::UserInfo`]).
//! - The generic registry (private `rest`, `strategy`, `storage` modules): create (generateName,
//!   uid, creationTimestamp, generation, status reset), get, update with optimistic
//!   concurrency and internal retries, patch (merge, JSON, strategic merge, server-side apply
//!   with managedFields, all from kubox-core's `patch`), graceful delete with finalizers and
//!   propagation policies, delete-collection, and the `status`, `scale`, `binding` and
//!   namespace `finalize` subresources (`attach`, `portforward`, `proxy`… answer 501).
//! - [`reviews`]: TokenReview, SelfSubjectReview and SelfSubjectRulesReview (answered, never
//!   stored); [`oneshot`]: `pods/log` (the whole log) and `pods/exec` (400) through
//!   [`ApiServer::serve`].
//! - [`proxy`]: `pods/log` and `pods/exec` proxied to the kubelet (HTTPS with a bearer token,
//!   [`KubeletClientConfig`]): log streams, exec WebSocket relays, the kubelet's errors as
//!   `Status`; [`ApiServer::pod_logs`] reads a log in process.
//! - [`spdy`]: the SPDY/3.1 side of `pods/exec` for kubectl 1.27–1.29 (and 1.30+'s
//!   fallback): upgrade handshake, frames with zlib header compression, the session as the
//!   same channel frames the WebSocket relay uses.
//! - [`watch`]: Kubernetes watch semantics over [`kube_store::Store::watch`] (initial events,
//!   resume, 410, selector transitions, bookmarks, initial-events-end, timeouts).
//! - [`errors`]: every failure as a Kubernetes `Status` with kube-apiserver's reason, code and
//!   message.
//! - [`LocalClient`]: kubox-core's [`Client`](kubox_core::client::Client) over an
//!   [`ApiServer`] in process.
//! - [`rbac`]: Kubernetes' RBAC authorizer ([`rbac::RbacAuthorizer`], an in-memory cache of
//!   Roles and bindings fed by a store watch), the Node authorizer for kubelets, the default
//!   ClusterRoles and bindings ([`rbac::ensure_bootstrap_policy`]) and
//!   SelfSubjectAccessReview.
//! - [`alloc`]: Service ClusterIP and NodePort allocation (ranges persisted in the store,
//!   changed by compare-and-swap), the repair pass and the `kubernetes` Service with its
//!   lease endpoint reconciler ([`ApiServer::start_kubernetes_service_controller`]).
//! - [`clock`]: the time source for timestamps ([`clock::ManualClock`] in tests).
//!
//! # Storage layout
//!
//! Objects are JSON at kube-apiserver's etcd keys: `/registry/{resource}/{namespace}/{name}`
//! and `/registry/{resource}/{name}` (cluster-scoped), where `{resource}` is the plural without
//! the group (`/registry/deployments/default/web`, `/registry/clusterroles/admin`), except for
//! `services/specs`, `services/endpoints`, `minions` (nodes) and `controllers`
//! (replication controllers). `metadata.resourceVersion` is never stored: it is the key's
//! `mod_revision`, set on every object read out. Several servers over one store are one
//! consistent API.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use kube_api::{ApiServer, LocalClient};
//! use kube_store::embedded::EmbeddedStore;
//! use kubox_core::api::core_v1::ConfigMap;
//! use kubox_core::client::{Api, PostParams};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
//! server.ensure_system_namespaces().await?;
//! let client = LocalClient::admin(server.clone()).into_client();
//! let cms: Api<ConfigMap> = Api::namespaced(client, "default");
//!
//! let created = cms.create(&PostParams::default(), &ConfigMap::new("settings")).await?;
//! assert!(created.metadata.uid.is_some());
//! let err = cms.create(&PostParams::default(), &ConfigMap::new("settings")).await.unwrap_err();
//! assert_eq!(err.reason(), Some("AlreadyExists"));
//! assert_eq!(cms.get("settings").await?.metadata.resource_version, created.metadata.resource_version);
//! # Ok(())
//! # }
//! ```

pub mod admission;
pub mod alloc;
pub mod auth;
pub mod clock;
pub mod errors;
pub mod rbac;
pub mod server;
pub mod watch;
// HTTP(S) front: discovery, OpenAPI, tables, metrics, TLS, kubeconfig, server and client.
pub mod discovery;
pub mod http;
pub mod http_client;
pub mod kubeconfig;
pub mod metrics;
pub mod openapi;
pub mod protobuf;
pub mod proxy;
pub mod reviews;
pub mod spdy;
pub mod table;
pub mod tls;
pub mod tokens;

mod client;
mod eviction;
mod nscache;
mod object;
pub mod oneshot;
mod rest;
mod storage;
mod strategy;
mod typed;

pub use auth::UserInfo;
pub use client::LocalClient;
pub use errors::{Error, Result};
pub use proxy::{KubeletClientConfig, PodLogOptions};
pub use server::{ApiServer, BackgroundTasks, Builder, Response};
pub use watch::WatchStream;
