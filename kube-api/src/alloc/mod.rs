//! Service IP and node-port allocation: kube-apiserver's service registry allocators
//! (`pkg/registry/core/service/{ipallocator,portallocator}`, `storage/alloc.go`), their
//! repair controllers and the `kubernetes` Service.
//!
//! # What is allocated
//!
//! - **ClusterIP** from the service CIDR ([`ServiceCidr`], default `10.0.0.0/24`,
//!   [`Builder::service_cidr`](crate::Builder::service_cidr)): a random free address, never
//!   the network address nor (IPv4) the broadcast address; the first usable address is only
//!   handed out on request (the `kubernetes` Service takes it). A requested `clusterIP` is
//!   honoured if it is free and in the range, else 422
//!   (`spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: provided IP
//!   is already allocated`). `clusterIP: None` (headless) and `ExternalName` Services get none.
//!   `ipFamilyPolicy` (SingleStack; RequireDualStack for headless selectorless Services),
//!   `ipFamilies`, `clusterIP` and `clusterIPs` are set as kube-apiserver sets them. The
//!   cluster is single-stack, IPv4 or IPv6.
//! - **NodePorts** from the node-port range ([`PortRange`], default 30000–32767,
//!   [`Builder::service_node_port_range`](crate::Builder::service_node_port_range)) for every
//!   port of a NodePort or LoadBalancer Service lacking one (LoadBalancer only with
//!   `allocateLoadBalancerNodePorts` unset or true), plus `healthCheckNodePort` for a
//!   LoadBalancer with `externalTrafficPolicy: Local`.
//! - Updates: a client that leaves out the allocated `clusterIP`/`nodePort`s keeps them; type
//!   changes allocate (ExternalName → ClusterIP, ClusterIP → NodePort) and release
//!   (NodePort → ClusterIP, * → ExternalName) what they must; clusterIPs are immutable.
//!   Deletes release everything. A write that fails after allocating releases what it took.
//! - A full range answers 500 `Internal error occurred: failed to allocate a serviceIP: range is
//!   full` (`… a nodePort: range is full`), as kube-apiserver does.
//!
//! # Persisted format and concurrency
//!
//! Each range is one key, as in kube-apiserver: `/registry/ranges/serviceips` and
//! `/registry/ranges/servicenodeports`. The value is JSON shaped like `v1 RangeAllocation`:
//!
//! ```json
//! {"apiVersion": "v1", "kind": "RangeAllocation", "range": "10.0.0.0/24",
//!  "data": "<base64 bitmap>", "recent": {"17": 1764170000}}
//! ```
//!
//! `data` is a bitmap over offsets (offset 0 = network + 1 for IPs, the range's first port for
//! node ports): bit `i` is byte `i / 8`, bit `i % 8`, least significant first; trailing zero
//! bytes are dropped. `recent` maps offsets allocated in the last 60 s to the (server clock)
//! second they were taken.
//!
//! Every allocation and release is a compare-and-swap on the key's `mod_revision` (create when
//! absent), retried on conflict, so any number of API servers over one store never hand out an
//! address or port twice. All offsets a Service needs from one range are taken in a single
//! swap. [`repair`] (kube-apiserver's repair controllers) rebuilds both bitmaps from the stored
//! Services: it marks what Services hold, frees what none holds — except offsets in `recent`,
//! whose Service write may still be in flight — and writes by compare-and-swap against the
//! revision it read *before* listing the Services, so a concurrent allocation or release makes
//! it start over. A crash between allocation and the Service write therefore leaks the offset
//! only until the next repair after 60 s.
//!
//! # The `kubernetes` Service
//!
//! [`ApiServer::ensure_kubernetes_service`](crate::ApiServer::ensure_kubernetes_service)
//! creates or reconciles `default/kubernetes` (first usable IP, `https` 443 → the server's
//! port) with its Endpoints and EndpointSlice; [`ApiServer::bootstrap`](crate::ApiServer::bootstrap)
//! runs it together with the system namespaces and [`repair`].
//! The Endpoints list the servers whose master lease is live (kube-apiserver's lease endpoint
//! reconciler, module `endpoints`): [`ApiServer::start_kubernetes_service_controller`] keeps
//! a server's lease and its identity Lease (`kube-system/apiserver-<hash>`) fresh every 10 s;
//! a server that stops refreshing drops out of the Endpoints 15 s later.

mod bootstrap;
mod endpoints;
mod persist;
mod range;
mod service;

pub use endpoints::{
    identity_lease_name, master_leases, EndpointReconcilerConfig, IDENTITY_LABEL,
    LEASE_EXPIRES_ANNOTATION, MASTER_LEASES_PREFIX,
};
pub use persist::RepairReport;
pub use range::{Family, PortRange, ServiceCidr, MAX_HOST_BITS};

pub(crate) use service::{prepare_update, Allocators, Txn};

use crate::clock::Clock;
use crate::ApiServer;
use kube_store::Store;
use persist::RangeStore;
use std::sync::Arc;

/// The key of the service IP range allocation.
pub const SERVICE_IPS_KEY: &str = "/registry/ranges/serviceips";
/// The key of the node-port range allocation.
pub const NODE_PORTS_KEY: &str = "/registry/ranges/servicenodeports";
/// kube-apiserver's default `--service-cluster-ip-range`.
pub const DEFAULT_SERVICE_CIDR: &str = "10.0.0.0/24";

/// An allocation failure outside the API (configuration, store).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A service CIDR or node-port range that can't be used. Not retryable.
    #[error("{0}")]
    Config(String),
    /// The store failed; retryable if the store's error is.
    #[error("store: {0}")]
    Store(#[from] kube_store::Error),
    /// The stored range allocation can't be decoded; [`repair`] rewrites it.
    #[error("corrupt range allocation: {0}")]
    Corrupt(String),
    /// The stored range is not the configured one (the configuration changed); [`repair`]
    /// rebuilds it for the configured range.
    #[error("the provided range does not match the current range: {key} holds {stored}, configured {configured}")]
    MismatchedRange {
        /// The key.
        key: &'static str,
        /// The stored range.
        stored: String,
        /// The configured range.
        configured: String,
    },
    /// Compare-and-swap kept failing. Retryable.
    #[error("too much contention on {0}")]
    Contention(&'static str),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The ranges a server allocates from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The service CIDR (`--service-cluster-ip-range`).
    pub service_cidr: ServiceCidr,
    /// The node-port range (`--service-node-port-range`).
    pub node_ports: PortRange,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_cidr: DEFAULT_SERVICE_CIDR.parse().expect("a valid default CIDR"),
            node_ports: PortRange::default(),
        }
    }
}

impl Config {
    /// A configuration from the flag spellings (`10.96.0.0/12`, `30000-32767`).
    pub fn new(service_cidr: &str, node_ports: &str) -> Result<Self> {
        Ok(Config {
            service_cidr: service_cidr.parse()?,
            node_ports: node_ports.parse()?,
        })
    }

    pub(crate) fn allocators(&self, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Allocators {
        Allocators {
            cidr: self.service_cidr,
            node_ports: self.node_ports,
            ips: RangeStore {
                store: store.clone(),
                clock: clock.clone(),
                key: SERVICE_IPS_KEY,
                spec: self.service_cidr.to_string(),
                size: self.service_cidr.size(),
                reserved: 1,
            },
            ports: RangeStore {
                store,
                clock,
                key: NODE_PORTS_KEY,
                spec: self.node_ports.to_string(),
                size: u64::from(self.node_ports.size()),
                reserved: 0,
            },
        }
    }
}

/// What [`repair`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// The service IP range.
    pub ips: RepairReport,
    /// The node-port range.
    pub node_ports: RepairReport,
}

/// Rebuilds both range allocations from the stored Services (kube-apiserver's service IP and
/// node-port repair controllers): offsets held by Services are marked taken, offsets no
/// Service holds are freed unless allocated in the last 60 s, a range stored for another
/// configuration is rebuilt. Safe to run at any time, on any number of servers at once.
#[doc(alias = "RepairIPs")]
pub async fn repair(server: &ApiServer) -> Result<Repaired> {
    let a = server.allocators();
    let store = server.store().clone();
    let ips = a.ips.repair(|| held(&store, a, true)).await?;
    let node_ports = a.ports.repair(|| held(&store, a, false)).await?;
    if ips != RepairReport::default() || node_ports != RepairReport::default() {
        tracing::info!(?ips, ?node_ports, "repaired service allocations");
    }
    Ok(Repaired { ips, node_ports })
}

/// How often [`ApiServer::start_background_tasks`] runs [`repair`] (kube-apiserver's
/// repair controllers run every 3 minutes).
pub const REPAIR_INTERVAL: std::time::Duration = std::time::Duration::from_secs(180);

/// Runs [`repair`] now and then every [`REPAIR_INTERVAL`], forever (errors are logged and
/// retried at the next tick).
pub(crate) async fn repair_loop(server: ApiServer) {
    let mut tick = tokio::time::interval(REPAIR_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = repair(&server).await {
            tracing::warn!(error = %e, "service allocation repair failed; retrying later");
        }
    }
}

/// The offsets every stored Service holds (IPs or node ports).
async fn held(store: &Arc<dyn Store>, a: &Allocators, ips: bool) -> Result<Vec<u64>> {
    let res = store
        .list("/registry/services/specs/", Default::default())
        .await?;
    let mut out = Vec::new();
    for kv in &res.kvs {
        let Ok(svc) = serde_json::from_slice::<serde_json::Value>(&kv.value) else {
            tracing::warn!(key = %kv.key, "undecodable service skipped by repair");
            continue;
        };
        let (i, p) = a.held(&svc);
        out.extend(if ips { i } else { p });
    }
    Ok(out)
}

/// The offsets currently marked taken (for tests and diagnostics): `(ips, node ports)`.
pub async fn allocated(server: &ApiServer) -> Result<(Vec<std::net::IpAddr>, Vec<u16>)> {
    let a = server.allocators();
    let ips = a
        .ips
        .snapshot()
        .await?
        .iter()
        .filter_map(|o| a.cidr.ip_at(o))
        .collect();
    let ports = a
        .ports
        .snapshot()
        .await?
        .iter()
        .filter_map(|o| u16::try_from(a.node_ports.port_at(o)).ok())
        .collect();
    Ok((ips, ports))
}
