//! A whole cluster in one process: the [`Cluster`] builder and its handle.
//!
//! [`Cluster::builder`] composes the crates as a Kubernetes cluster does, every component
//! talking to the API only through kubox-core's [`Client`]:
//!
//! | part | component | crate | builder knobs |
//! |---|---|---|---|
//! | server | store (etcd) | `kube-store` | [`ClusterBuilder::store`] |
//! | server | API server, HTTPS, PKI, kubeconfig | `kube-api` | [`listen`](ClusterBuilder::listen), [`kubeconfig`](ClusterBuilder::kubeconfig), [`data_dir`](ClusterBuilder::data_dir), [`authorization`](ClusterBuilder::authorization) |
//! | server | scheduler | `kube-sched` | [`scheduler`](ClusterBuilder::scheduler) |
//! | server | controller manager | `kube-ctrl` | [`controllers`](ClusterBuilder::controllers) |
//! | node | kubelet + runtime + kubelet API | `kube-node` | [`process_nodes`](ClusterBuilder::process_nodes), [`simulated_nodes`](ClusterBuilder::simulated_nodes), [`node`](ClusterBuilder::node), [`pod_network`](ClusterBuilder::pod_network) |
//! | node | service proxy | `kube-net` | [`proxy`](ClusterBuilder::proxy), [`nft_table`](ClusterBuilder::nft_table) |
//!
//! [`ClusterBuilder::start`] brings them up in that order and returns a [`Cluster`]: an
//! in-process admin [`Client`], the API URL and admin kubeconfig (with HTTPS), per-component
//! shutdown, and [`Cluster::shutdown`], which stops everything in reverse order and cleans up
//! (process-runtime pods stopped and removed, the nftables table deleted, the store closed).
//!
//! # Server and nodes apart
//!
//! The two halves start separately too. A server alone: no nodes and
//! [`ProxyMode::None`]. Nodes alone, joining a server elsewhere:
//! [`ClusterBuilder::join`] with a [`Client`] for that server — typically
//! [`join_client`] (kube-api's `HttpClient` from the server's URL, CA and a token) — starts
//! only kubelets and the proxy; no store, API server, scheduler or controllers. Give both
//! sides the same [`kubelet_token`](ClusterBuilder::kubelet_token) so that the server's
//! `pods/log` and `pods/exec` reach the agents' kubelets, and let the server accept the
//! agents' bearer token with [`token`](ClusterBuilder::token).
//!
//! # In one process
//!
//! All nodes share the host's network namespace, so **one** proxy serves them all (it runs
//! for the first node). Process-runtime nodes each get a bridge and a pod CIDR of their own
//! (`<prefix><i>` and the `i`-th /24 of [`PodNetwork::cidr`]); without root, pods use the
//! host network (see [`Cluster::network_notes`]). Every node with [`NodeSpec::serve`] gets
//! the kubelet HTTPS API on a port of its own, published in its Node's
//! `status.daemonEndpoints`, accepting only [`Cluster::kubelet_token`] — the credential the
//! API server uses for `pods/log` and `pods/exec`.
//!
//! # Example
//!
//! ```
//! use kubox::cluster::Cluster;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = Cluster::builder().simulated_nodes(2).start().await?;
//! let nodes: kubox::core::client::Api<kubox::core::api::core_v1::Node> =
//!     kubox::core::client::Api::all(cluster.client());
//! # let _ = nodes;
//! cluster.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod node;
mod proxy;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kube_api::admission::Chain;
use kube_api::http::{self, StaticTokens, Union};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::rbac::{
    ensure_bootstrap_policy, NodeAuthorizer, NodeRestriction, RbacAuthorizer, RbacEscalation,
};
use kube_api::tls::TlsAssets;
use kube_api::tokens::{ServiceAccountKeys, ServiceAccountTokens};
use kube_api::{ApiServer, LocalClient, UserInfo};
use kube_ctrl::manager::{ControllerManager, Options as ControllerOptions};
use kube_net::model::ServicePortName;
use kube_net::nft::NftConfig;
use kube_net::userspace::UserspaceConfig;
use kube_node::runtime::process::ProcessConfig;
use kube_node::runtime::sim::SimConfig;
use kube_node::runtime::Runtime;
use kube_sched::scheduler::{DefaultScheduler, Scheduler, SchedulerConfig};
use kube_store::Store;
use kubox_core::client::Client;
use kubox_core::Quantity;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use kube_node::runtime::process::LocalImage;
pub use kube_node::runtime::process::{NetworkMode, ShimMode};
pub use node::KUBELET_CLIENT_USER;

use node::{NodeContext, NodeNetwork, RunningNode};
use proxy::RunningProxy;

/// What went wrong while starting or stopping a cluster: one variant per component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The builder's settings contradict each other or are malformed (not retryable).
    #[error("invalid cluster configuration: {0}")]
    Config(String),
    /// The store could not be opened or closed.
    #[error("store: {0}")]
    Store(#[source] kube_store::Error),
    /// A data directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The PKI (CA, serving certificate, admin token, service-account key) could not be
    /// loaded or generated.
    #[error("TLS material in {}: {source}", dir.display())]
    Tls {
        /// The PKI directory.
        dir: PathBuf,
        /// The cause.
        source: kube_api::tls::Error,
    },
    /// The API server could not bootstrap (system namespaces, allocations, RBAC policy).
    #[error("API server bootstrap ({what}): {source}")]
    Bootstrap {
        /// The step.
        what: &'static str,
        /// The cause.
        source: kube_api::Error,
    },
    /// The API server could not listen.
    #[error("API server: cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The admin kubeconfig could not be written.
    #[error("writing the kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        /// Its path.
        path: PathBuf,
        /// The cause.
        source: kube_api::kubeconfig::Error,
    },
    /// A client for a remote API server could not be made.
    #[error("API client for {url}: {message}")]
    Client {
        /// The server URL.
        url: String,
        /// The cause.
        message: String,
    },
    /// A node's container runtime failed to start or to clean up.
    #[error("node {node}: runtime: {source}")]
    Runtime {
        /// The node.
        node: String,
        /// The cause.
        source: kube_node::runtime::Error,
    },
    /// A node's kubelet HTTPS API could not listen.
    #[error("node {node}: kubelet API: {source}")]
    KubeletServer {
        /// The node.
        node: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The service proxy could not start or clean up.
    #[error("proxy: {0}")]
    Proxy(#[source] kube_net::rules::Error),
}

/// Where the cluster's objects live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreConfig {
    /// The embedded store in memory (gone with the process); the default.
    #[default]
    Memory,
    /// The embedded store, durable in this directory.
    Embedded(PathBuf),
    /// etcd v3 at these endpoints, keys under `prefix` (`""`: kube-apiserver's layout).
    #[cfg(feature = "etcd")]
    Etcd {
        /// `http://host:port` endpoints.
        endpoints: Vec<String>,
        /// The key prefix.
        prefix: String,
    },
}

/// A node's container runtime.
#[derive(Clone)]
#[non_exhaustive]
pub enum NodeRuntime {
    /// The process runtime, configured by the cluster: state under the data directory, the
    /// node's bridge and pod CIDR from [`PodNetwork`], the builder's [`ShimMode`].
    Process,
    /// The process runtime with this exact configuration.
    ProcessWith(Box<ProcessConfig>),
    /// The simulated runtime (no processes).
    Simulated(Box<SimConfig>),
    /// A CRI v1 runtime (containerd) at this socket.
    #[cfg(feature = "cri")]
    Cri {
        /// The CRI socket.
        socket: PathBuf,
    },
    /// Any runtime.
    Custom(Arc<dyn Runtime>),
}

impl std::fmt::Debug for NodeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeRuntime::Process => f.write_str("Process"),
            NodeRuntime::ProcessWith(c) => f.debug_tuple("ProcessWith").field(c).finish(),
            NodeRuntime::Simulated(c) => f.debug_tuple("Simulated").field(c).finish(),
            #[cfg(feature = "cri")]
            NodeRuntime::Cri { socket } => f.debug_struct("Cri").field("socket", socket).finish(),
            NodeRuntime::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// One node: its name, runtime and kubelet settings.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The Node's name.
    pub name: String,
    /// The runtime.
    pub runtime: NodeRuntime,
    /// Extra node labels.
    pub labels: BTreeMap<String, String>,
    /// The capacity; `None`: detected from the host (simulated nodes: 32 CPUs, 256Gi, 110
    /// pods).
    pub capacity: Option<BTreeMap<String, Quantity>>,
    /// Serve the kubelet's HTTPS API (logs, exec). Default: true, except for simulated
    /// nodes (thousands of listeners would exhaust file descriptors).
    pub serve: bool,
    /// Images a [`NodeRuntime::Process`] node knows beyond the host's programs: each maps an
    /// image reference to an entrypoint, cmd, environment and root directory (used when a
    /// container sets no `command`); other images still run their `command`.
    pub images: BTreeMap<String, LocalImage>,
}

impl NodeSpec {
    /// A node `name` on the process runtime.
    pub fn process(name: impl Into<String>) -> Self {
        Self::new(name, NodeRuntime::Process)
    }

    /// A node `name` on the simulated runtime with the default [`SimConfig`].
    pub fn simulated(name: impl Into<String>) -> Self {
        Self::new(name, NodeRuntime::Simulated(Box::default()))
    }

    /// A node `name` on `runtime`.
    pub fn new(name: impl Into<String>, runtime: NodeRuntime) -> Self {
        let serve = !matches!(runtime, NodeRuntime::Simulated(_));
        NodeSpec {
            name: name.into(),
            runtime,
            labels: BTreeMap::new(),
            capacity: None,
            serve,
            images: BTreeMap::new(),
        }
    }

    /// Adds a node label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sets the capacity (`cpu`, `memory`, `pods`, …).
    pub fn capacity(mut self, capacity: BTreeMap<String, Quantity>) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Makes image `reference` known to this node's process runtime (see
    /// [`images`](Self::images)): `kubectl set image` then changes what the pods run.
    pub fn image(mut self, reference: impl Into<String>, image: LocalImage) -> Self {
        self.images.insert(reference.into(), image);
        self
    }
}

/// Which service proxy backend runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyMode {
    /// nftables when a table can be created (root, `nft` installed), else userspace.
    #[default]
    Auto,
    /// nftables only (starting fails without it).
    Nftables,
    /// The userspace forwarder.
    Userspace,
    /// No proxy.
    None,
}

/// How requests over HTTPS are authorized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Authorization {
    /// The Node authorizer over RBAC with the bootstrap policy, NodeRestriction and RBAC
    /// escalation checks (kube-apiserver's `--authorization-mode=Node,RBAC`).
    #[default]
    Rbac,
    /// Every authenticated request is allowed.
    AlwaysAllow,
}

/// The pod network of process-runtime nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodNetwork {
    /// Own network namespaces when possible (root), or always the host network.
    pub mode: NetworkMode,
    /// Node `i` (0-based, counting process nodes) gets bridge `<bridge_prefix><i>` and
    /// network namespaces `<bridge_prefix><i>-<id>`; at most 12 characters.
    pub bridge_prefix: String,
    /// A `/16` (`a.b.0.0/16`): node `i` gets `a.b.i.0/24`.
    pub cidr: String,
}

impl Default for PodNetwork {
    fn default() -> Self {
        PodNetwork {
            mode: NetworkMode::Auto,
            bridge_prefix: "kubox".into(),
            cidr: "10.244.0.0/16".into(),
        }
    }
}

impl PodNetwork {
    fn base(&self) -> Result<(u8, u8), Error> {
        let bad = || Error::Config(format!("pod network CIDR {:?}: want a.b.0.0/16", self.cidr));
        let (ip, len) = self.cidr.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let o = ip.octets();
        if len != "16" || o[2] != 0 || o[3] != 0 {
            return Err(bad());
        }
        if self.bridge_prefix.is_empty() || self.bridge_prefix.len() > 12 {
            return Err(Error::Config(format!(
                "bridge prefix {:?}: want 1 to 12 characters",
                self.bridge_prefix
            )));
        }
        Ok((o[0], o[1]))
    }

    fn for_node(&self, i: usize) -> Result<NodeNetwork, Error> {
        let (a, b) = self.base()?;
        if i > 255 {
            return Err(Error::Config(format!(
                "at most 256 process nodes fit in the pod network {}",
                self.cidr
            )));
        }
        Ok(NodeNetwork {
            mode: self.mode,
            bridge: format!("{}{i}", self.bridge_prefix),
            pod_cidr: format!("{a}.{b}.{i}.0/24"),
            netns_prefix: format!("{}{i}-", self.bridge_prefix),
        })
    }
}

/// A step of a cluster coming up (or going down), for progress output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The component: `store`, `pki`, `apiserver`, `scheduler`, `controllers`, `node`,
    /// `proxy`, `shutdown`.
    pub component: &'static str,
    /// What happened, for people.
    pub message: String,
    /// True for conditions that degrade the cluster (host-network fallback, no nftables).
    pub warning: bool,
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Builds a [`Cluster`]. See the [module documentation](self).
pub struct ClusterBuilder {
    store: StoreConfig,
    data_dir: Option<PathBuf>,
    nodes: Vec<NodeSpec>,
    pod_network: PodNetwork,
    shim: ShimMode,
    proxy: ProxyMode,
    nft_table: String,
    listen: Option<SocketAddr>,
    sans: Vec<String>,
    kubeconfig: Option<PathBuf>,
    authorization: Authorization,
    controllers: Vec<String>,
    scheduler: bool,
    tokens: Vec<(String, UserInfo)>,
    kubelet_ip: IpAddr,
    advertise: Option<IpAddr>,
    kubelet_token: Option<String>,
    join: Option<Arc<dyn Client>>,
    ip_forward: bool,
    progress: Option<ProgressFn>,
    authenticators: Vec<Arc<dyn http::Authenticator>>,
    proxy_client: Option<Arc<dyn Client>>,
    node_lifecycle: Option<kube_ctrl::controllers::nodelifecycle::Config>,
    toleration_seconds: Option<kube_api::admission::DefaultTolerationSeconds>,
    kubelet_config: Option<KubeletConfigFn>,
}

pub(crate) type KubeletConfigFn = Arc<dyn Fn(&mut kube_node::kubelet::Config) + Send + Sync>;

impl std::fmt::Debug for ClusterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterBuilder")
            .field("store", &self.store)
            .field("data_dir", &self.data_dir)
            .field("nodes", &self.nodes.len())
            .field("proxy", &self.proxy)
            .field("listen", &self.listen)
            .field("controllers", &self.controllers)
            .field("scheduler", &self.scheduler)
            .field("join", &self.join.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            store: StoreConfig::Memory,
            data_dir: None,
            nodes: Vec::new(),
            pod_network: PodNetwork::default(),
            shim: ShimMode::Auto,
            proxy: ProxyMode::Auto,
            nft_table: "kubox".into(),
            listen: None,
            sans: Vec::new(),
            kubeconfig: None,
            authorization: Authorization::Rbac,
            controllers: vec!["*".into()],
            scheduler: true,
            tokens: Vec::new(),
            kubelet_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            advertise: None,
            kubelet_token: None,
            join: None,
            ip_forward: true,
            progress: None,
            authenticators: Vec::new(),
            proxy_client: None,
            node_lifecycle: None,
            toleration_seconds: None,
            kubelet_config: None,
        }
    }
}

impl ClusterBuilder {
    /// The store (default: [`StoreConfig::Memory`]).
    pub fn store(mut self, store: StoreConfig) -> Self {
        self.store = store;
        self
    }

    /// The data directory: PKI (`pki/`), node state and pod logs (`nodes/<name>/`), the admin
    /// kubeconfig (`admin.kubeconfig`) unless [`kubeconfig`](Self::kubeconfig) says
    /// otherwise. Default: a temporary directory removed at shutdown.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Adds `n` process-runtime nodes (named `node-<k>`, counting all nodes from 1).
    pub fn process_nodes(mut self, n: usize) -> Self {
        for _ in 0..n {
            let name = format!("node-{}", self.nodes.len() + 1);
            self.nodes.push(NodeSpec::process(name));
        }
        self
    }

    /// Adds `n` simulated nodes (named `node-<k>`, counting all nodes from 1).
    pub fn simulated_nodes(mut self, n: usize) -> Self {
        for _ in 0..n {
            let name = format!("node-{}", self.nodes.len() + 1);
            self.nodes.push(NodeSpec::simulated(name));
        }
        self
    }

    /// Adds a node.
    pub fn node(mut self, node: NodeSpec) -> Self {
        self.nodes.push(node);
        self
    }

    /// The pod network of process-runtime nodes (default: bridges `kubox<i>`,
    /// `10.244.<i>.0/24`).
    pub fn pod_network(mut self, network: PodNetwork) -> Self {
        self.pod_network = network;
        self
    }

    /// How process-runtime containers are supervised (default [`ShimMode::Auto`]: the
    /// `kubox-shim` binary when found, so containers survive a restart of the process).
    pub fn shim(mut self, shim: ShimMode) -> Self {
        self.shim = shim;
        self
    }

    /// Set `net.ipv4.ip_forward=1` when process nodes get pod networks (as root), so pods on
    /// different node bridges reach each other (default: true).
    pub fn ip_forward(mut self, on: bool) -> Self {
        self.ip_forward = on;
        self
    }

    /// The service proxy (default [`ProxyMode::Auto`]). Without nodes no proxy runs.
    pub fn proxy(mut self, mode: ProxyMode) -> Self {
        self.proxy = mode;
        self
    }

    /// The nftables table the proxy owns (default `kubox`).
    pub fn nft_table(mut self, name: impl Into<String>) -> Self {
        self.nft_table = name.into();
        self
    }

    /// Serve the API over HTTPS on `addr` (port 0: any free port). Without it, the API is
    /// reachable only in process through [`Cluster::client`].
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// An extra name or IP for the serving certificate.
    pub fn san(mut self, name: impl Into<String>) -> Self {
        self.sans.push(name.into());
        self
    }

    /// Where to write the admin kubeconfig (with [`listen`](Self::listen)); default
    /// `<data dir>/admin.kubeconfig`.
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// How HTTPS requests are authorized (default [`Authorization::Rbac`]). In-process
    /// components use the admin identity.
    pub fn authorization(mut self, mode: Authorization) -> Self {
        self.authorization = mode;
        self
    }

    /// Accept this bearer token over HTTPS as `user` (for example for agents joining).
    pub fn token(mut self, token: impl Into<String>, user: UserInfo) -> Self {
        self.tokens.push((token.into(), user));
        self
    }

    /// Which controllers run, in kube-controller-manager's `--controllers` syntax: `*` all,
    /// `name` one, `-name` not that one (default `["*"]`; an empty list runs none).
    pub fn controllers<I, S>(mut self, controllers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.controllers = controllers.into_iter().map(Into::into).collect();
        self
    }

    /// As [`controllers`](Self::controllers) from the flag's comma-separated value
    /// (`"*,-nodelifecycle"`).
    pub fn controllers_flag(self, flag: &str) -> Self {
        self.controllers(
            flag.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    /// Run the scheduler (default: true).
    pub fn scheduler(mut self, on: bool) -> Self {
        self.scheduler = on;
        self
    }

    /// The address other machines and pods reach this API server at (kube-apiserver's
    /// `--advertise-address`): the `kubernetes` Service's endpoints list it while this server
    /// runs (a master lease renewed every 10 s, gone 15 s after the server stops renewing it),
    /// next to every other server's over the same store. Default: the listen address, when
    /// it is neither loopback nor unspecified; otherwise no endpoints are published.
    pub fn advertise_address(mut self, ip: IpAddr) -> Self {
        self.advertise = Some(ip);
        self
    }

    /// The address the kubelets' HTTPS APIs listen on (port chosen per node; default
    /// `0.0.0.0`).
    pub fn kubelet_address(mut self, ip: IpAddr) -> Self {
        self.kubelet_ip = ip;
        self
    }

    /// The token the kubelets' HTTPS APIs accept and the API server presents to them.
    /// Default: generated once into `<data dir>/pki/kubelet-client.token`. A server and the
    /// agents joining it must share it.
    pub fn kubelet_token(mut self, token: impl Into<String>) -> Self {
        self.kubelet_token = Some(token.into());
        self
    }

    /// Join the API server `client` talks to instead of starting one: only nodes and the
    /// proxy start (the node side of a multi-process cluster). See [`join_client`].
    pub fn join(mut self, client: Arc<dyn Client>) -> Self {
        self.join = Some(client);
        self
    }

    /// Also accept the bearer tokens `authenticator` knows over HTTPS (tried after the admin
    /// and [`token`](Self::token) tokens, before service-account tokens). For example agents
    /// authenticating as `system:node:<name>` with a join secret.
    pub fn authenticator(mut self, authenticator: Arc<dyn http::Authenticator>) -> Self {
        self.authenticators.push(authenticator);
        self
    }

    /// The client the service proxy uses (default: the cluster's client). An agent gives its
    /// proxy its own identity (`system:kube-proxy`), as the node identity may not list
    /// EndpointSlices.
    pub fn proxy_client(mut self, client: Arc<dyn Client>) -> Self {
        self.proxy_client = Some(client);
        self
    }

    /// The node lifecycle controller's timing (kube-controller-manager's
    /// `--node-monitor-period`, `--node-monitor-grace-period`, `--node-startup-grace-period`;
    /// default 5 s, 50 s, 60 s).
    pub fn node_lifecycle(mut self, config: kube_ctrl::controllers::nodelifecycle::Config) -> Self {
        self.node_lifecycle = Some(config);
        self
    }

    /// The tolerations the API server's `DefaultTolerationSeconds` admission gives pods for
    /// the `not-ready` and `unreachable` taints (kube-apiserver's
    /// `--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`,
    /// default 300 each): how long pods stay on a failed node before they are evicted.
    pub fn default_toleration_seconds(mut self, not_ready: u32, unreachable: u32) -> Self {
        self.toleration_seconds = Some(kube_api::admission::DefaultTolerationSeconds {
            not_ready: i64::from(not_ready),
            unreachable: i64::from(unreachable),
        });
        self
    }

    /// Adjusts every node's kubelet configuration (addresses, lease duration, status
    /// frequency, …) after the cluster filled in name, port, log root, capacity and labels.
    pub fn kubelet_config(
        mut self,
        f: impl Fn(&mut kube_node::kubelet::Config) + Send + Sync + 'static,
    ) -> Self {
        self.kubelet_config = Some(Arc::new(f));
        self
    }

    /// Calls `f` as components come up and go down.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Same as [`start`](Self::start).
    pub async fn build(self) -> Result<Cluster, Error> {
        self.start().await
    }

    fn report(&self, component: &'static str, message: impl Into<String>, warning: bool) {
        let p = Progress {
            component,
            message: message.into(),
            warning,
        };
        if warning {
            tracing::warn!(component, "{}", p.message);
        } else {
            tracing::info!(component, "{}", p.message);
        }
        if let Some(f) = &self.progress {
            f(&p);
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let mut names = std::collections::HashSet::new();
        for n in &self.nodes {
            if n.name.is_empty() {
                return Err(Error::Config("a node has an empty name".into()));
            }
            if !names.insert(n.name.as_str()) {
                return Err(Error::Config(format!("two nodes are named {:?}", n.name)));
            }
        }
        if self
            .nodes
            .iter()
            .any(|n| matches!(n.runtime, NodeRuntime::Process))
        {
            self.pod_network.base()?;
        }
        if self.join.is_some() && self.listen.is_some() {
            return Err(Error::Config(
                "a joining node set serves no API: drop `listen` or `join`".into(),
            ));
        }
        Ok(())
    }

    /// Starts everything and returns the handle. On failure, what was started is stopped
    /// again and the error names the component that failed.
    pub async fn start(mut self) -> Result<Cluster, Error> {
        self.validate()?;
        let (data_dir, tempdir) = match &self.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("kubox-cluster-")
                    .tempdir()
                    .map_err(|source| Error::Io {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&data_dir).map_err(|source| Error::Io {
            path: data_dir.clone(),
            source,
        })?;
        let mut cluster = Cluster {
            client: None,
            api: None,
            scheduler: None,
            controllers: None,
            nodes: Vec::new(),
            proxy: None,
            store: None,
            backing_store: None,
            kubelet_token: String::new(),
            data_dir: data_dir.clone(),
            tempdir,
            notes: Vec::new(),
            progress: self.progress.clone(),
        };
        match self.start_into(&mut cluster).await {
            Ok(()) => Ok(cluster),
            Err(e) => {
                self.report("shutdown", format!("start failed ({e}); stopping"), true);
                let _ = cluster.shutdown_inner().await;
                Err(e)
            }
        }
    }

    async fn start_into(&mut self, cluster: &mut Cluster) -> Result<(), Error> {
        let data_dir = cluster.data_dir.clone();
        let pki_dir = data_dir.join("pki");
        let mut sans = self.sans.clone();
        if let Some(addr) = self.listen {
            if !addr.ip().is_unspecified() {
                sans.push(addr.ip().to_string());
            }
        }
        let pki = TlsAssets::load_or_generate(&pki_dir, &sans).map_err(|source| Error::Tls {
            dir: pki_dir.clone(),
            source,
        })?;
        let tls = pki.server_config().map_err(|source| Error::Tls {
            dir: pki_dir.clone(),
            source,
        })?;
        cluster.kubelet_token = match &self.kubelet_token {
            Some(t) if !t.is_empty() => t.clone(),
            Some(_) => return Err(Error::Config("the kubelet token is empty".into())),
            None => load_or_create_token(&pki_dir.join("kubelet-client.token"))?,
        };

        let client = match self.join.clone() {
            Some(client) => {
                self.report("apiserver", "joining an existing API server", false);
                client
            }
            None => self.start_server(cluster, &pki, tls.clone()).await?,
        };
        cluster.client = Some(client.clone());

        // Nodes.
        let privileged = is_root();
        if !self.nodes.is_empty() && self.ip_forward && privileged {
            let uses_netns = self.pod_network.mode == NetworkMode::Auto
                && self
                    .nodes
                    .iter()
                    .any(|n| matches!(n.runtime, NodeRuntime::Process));
            if uses_netns {
                match std::fs::write("/proc/sys/net/ipv4/ip_forward", "1") {
                    Ok(()) => self.report("node", "net.ipv4.ip_forward=1", false),
                    Err(e) => self.report("node", format!("cannot set ip_forward: {e}"), true),
                }
            }
        }
        let ctx = NodeContext {
            client: client.clone(),
            data_dir: data_dir.clone(),
            shim: self.shim.clone(),
            kubelet_token: cluster.kubelet_token.clone(),
            kubelet_ip: self.kubelet_ip,
            tls: Some(tls),
            kubelet_config: self.kubelet_config.clone(),
        };
        let mut process_index = 0usize;
        let total = self.nodes.len();
        let many = total > 20;
        for (i, spec) in std::mem::take(&mut self.nodes).into_iter().enumerate() {
            let network = match spec.runtime {
                NodeRuntime::Process => {
                    let n = self.pod_network.for_node(process_index)?;
                    process_index += 1;
                    Some(n)
                }
                _ => None,
            };
            let node = RunningNode::start(spec, network.clone(), &ctx).await?;
            if let Some(note) = &node.network_note {
                let msg = format!(
                    "node {}: {note} — pods share the host network, so two pods cannot \
                     listen on one port",
                    node.name
                );
                self.report("node", msg.clone(), true);
                cluster.notes.push(msg);
            }
            if !many || i + 1 == total || (i + 1) % 100 == 0 {
                let net = match (&network, &node.network_note) {
                    (Some(n), None) => format!(", bridge {} pods {}", n.bridge, n.pod_cidr),
                    (Some(_), Some(_)) => ", host network".into(),
                    _ => String::new(),
                };
                let api = node
                    .kubelet_addr
                    .map(|a| format!(", kubelet API on port {}", a.port()))
                    .unwrap_or_default();
                let what = if many {
                    format!("{} of {total} nodes started (last: {})", i + 1, node.name)
                } else {
                    format!(
                        "node {} started ({} runtime{net}{api})",
                        node.name, node.runtime_kind
                    )
                };
                self.report("node", what, false);
            }
            cluster.nodes.push(node);
        }

        // One proxy for the host (all in-process nodes share its network namespace).
        if self.proxy != ProxyMode::None && !cluster.nodes.is_empty() {
            let cidr = self
                .pod_network
                .base()
                .ok()
                .map(|(a, b)| (Ipv4Addr::new(a, b, 0, 0), 16));
            let nft = NftConfig {
                table: self.nft_table.clone(),
                cluster_cidr: cidr,
                ..NftConfig::default()
            };
            let proxy = RunningProxy::start(
                self.proxy_client.clone().unwrap_or_else(|| client.clone()),
                self.proxy,
                &cluster.nodes[0].name,
                nft,
                UserspaceConfig::default(),
            )
            .await?;
            let warn = proxy.backend() != "nftables";
            let msg = format!("service proxy running ({})", proxy.choice());
            self.report("proxy", msg.clone(), warn);
            if warn {
                cluster.notes.push(msg);
            }
            cluster.proxy = Some(proxy);
        }
        Ok(())
    }

    /// The server side: store, API server (and HTTPS), scheduler, controllers.
    async fn start_server(
        &self,
        cluster: &mut Cluster,
        pki: &TlsAssets,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<Arc<dyn Client>, Error> {
        let pki_dir = pki.dir.clone();
        // Store.
        let store: Arc<dyn Store> = match &self.store {
            StoreConfig::Memory => {
                let s = kube_store::embedded::EmbeddedStore::in_memory();
                cluster.store = Some(s.clone());
                self.report("store", "embedded store in memory", false);
                Arc::new(s)
            }
            StoreConfig::Embedded(dir) => {
                let s = kube_store::embedded::EmbeddedStore::open(
                    dir,
                    kube_store::embedded::Options::default(),
                )
                .await
                .map_err(Error::Store)?;
                cluster.store = Some(s.clone());
                self.report(
                    "store",
                    format!("embedded store in {}", dir.display()),
                    false,
                );
                Arc::new(s)
            }
            #[cfg(feature = "etcd")]
            StoreConfig::Etcd { endpoints, prefix } => {
                let s = kube_store::etcd::EtcdStore::connect(endpoints, prefix.clone())
                    .await
                    .map_err(Error::Store)?;
                self.report("store", format!("etcd at {}", endpoints.join(",")), false);
                Arc::new(s)
            }
        };

        cluster.backing_store = Some(store.clone());

        // API server.
        let sa_keys = Arc::new(
            ServiceAccountKeys::load_or_generate(&pki_dir, kube_api::tokens::DEFAULT_ISSUER)
                .map_err(|source| Error::Tls {
                    dir: pki_dir.clone(),
                    source,
                })?,
        );
        // kube-api proxies `pods/log` and `pods/exec` to the kubelets' HTTPS APIs with the
        // token they accept. Their serving certificates are not verified (as kube-apiserver
        // without `--kubelet-certificate-authority`): kubelets are dialled at their Node's
        // InternalIP, which the serving certificate does not name.
        let builder = ApiServer::builder(store.clone())
            .service_account_keys(sa_keys.clone())
            .kubelet_client(
                kube_api::proxy::KubeletClientConfig::new()
                    .with_token(cluster.kubelet_token.clone()),
            );
        let (server, rbac) = match self.authorization {
            Authorization::Rbac => {
                let rbac = RbacAuthorizer::new(store.clone());
                let server = builder
                    .authorizer(Arc::new(NodeAuthorizer::new(rbac.clone())))
                    .admission(
                        self.admission_chain(store)
                            .with(NodeRestriction)
                            .with(RbacEscalation::new(rbac.clone())),
                    )
                    .build();
                (server, Some(rbac))
            }
            Authorization::AlwaysAllow => {
                (builder.admission(self.admission_chain(store)).build(), None)
            }
        };
        let bootstrap = |what: &'static str| move |source| Error::Bootstrap { what, source };
        server
            .ensure_system_namespaces()
            .await
            .map_err(bootstrap("system namespaces"))?;
        if let Some(rbac) = &rbac {
            ensure_bootstrap_policy(&server)
                .await
                .map_err(bootstrap("RBAC bootstrap policy"))?;
            rbac.wait_synced().await;
        }
        let background = server.start_background_tasks();

        let mut api = ApiHandle {
            server: server.clone(),
            running: None,
            url: None,
            kubeconfig: None,
            ca_pem: pki.ca_pem.clone(),
            admin_token: pki.admin_token.clone(),
            _background: background,
            kubernetes_service: None,
        };
        if let Some(addr) = self.listen {
            let mut tokens = StaticTokens::new().with(pki.admin_token.clone(), UserInfo::admin());
            for (t, u) in &self.tokens {
                tokens = tokens.with(t.clone(), u.clone());
            }
            let mut authns: Vec<Arc<dyn http::Authenticator>> = vec![Arc::new(tokens)];
            authns.extend(self.authenticators.iter().cloned());
            authns.push(Arc::new(ServiceAccountTokens::new(sa_keys, server.clone())));
            let authn = Union(authns);
            let cfg = http::Config::new(tls, Arc::new(authn));
            let running = http::bind(addr, server.clone(), cfg)
                .await
                .map_err(|source| Error::Listen { addr, source })?;
            let local = running.local_addr();
            // The `kubernetes` Service and its endpoints (kube-apiserver's lease endpoint
            // reconciler), when there is an address pods can reach.
            let routable = Some(local.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
            if let Some(ip) = self.advertise.or(routable) {
                server
                    .ensure_kubernetes_service(ip, local.port())
                    .await
                    .map_err(bootstrap("the kubernetes Service"))?;
                api.kubernetes_service = Some((
                    ip,
                    local.port(),
                    server.start_kubernetes_service_controller(
                        ip,
                        local.port(),
                        kube_api::alloc::EndpointReconcilerConfig::default(),
                    ),
                ));
            }
            let host = if local.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else if local.is_ipv6() {
                format!("[{}]", local.ip())
            } else {
                local.ip().to_string()
            };
            let url = format!("https://{host}:{}", local.port());
            let path = self
                .kubeconfig
                .clone()
                .unwrap_or_else(|| cluster.data_dir.join("admin.kubeconfig"));
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            Kubeconfig::admin(&url, &pki.ca_pem, &pki.admin_token)
                .write(&path)
                .map_err(|source| Error::Kubeconfig {
                    path: path.clone(),
                    source,
                })?;
            self.report(
                "apiserver",
                format!(
                    "API server serving HTTPS on {url}; admin kubeconfig {}",
                    path.display()
                ),
                false,
            );
            api.running = Some(running);
            api.url = Some(url);
            api.kubeconfig = Some(path);
        } else {
            self.report("apiserver", "API server running in process", false);
        }
        cluster.api = Some(api);
        let client = LocalClient::admin(server).into_client();

        // Scheduler.
        if self.scheduler {
            let sched = DefaultScheduler::new(client.clone(), SchedulerConfig::default());
            let (tx, rx) = oneshot::channel::<()>();
            let task = tokio::spawn(sched.clone().run(Box::pin(async move {
                let _ = rx.await;
            })));
            cluster.scheduler = Some(Component { stop: tx, task });
            self.report("scheduler", "scheduler running (default profile)", false);
        }

        // Controllers.
        let options = ControllerOptions {
            controllers: self.controllers.clone(),
            ..ControllerOptions::default()
        };
        let mut manager = ControllerManager::with_builtin(
            client.clone(),
            options,
            kube_ctrl::runtime::tokio_clock(),
        );
        if let Some(config) = self.node_lifecycle {
            use kube_ctrl::controllers::nodelifecycle::NodeLifecycleController;
            manager.register(
                "nodelifecycle",
                Arc::new(move |ctx: &kube_ctrl::runtime::Context| {
                    Arc::new(NodeLifecycleController::with_config(ctx, config))
                        as Arc<dyn kube_ctrl::runtime::Controller>
                }),
            );
        }
        let enabled = manager.enabled();
        if !enabled.is_empty() {
            let (tx, rx) = oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                manager
                    .run(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
            cluster.controllers = Some(Component { stop: tx, task });
            self.report(
                "controllers",
                format!("controllers running: {}", enabled.join(", ")),
                false,
            );
        }
        Ok(client)
    }
}

impl ClusterBuilder {
    /// kube-api's default admission chain, with the configured toleration seconds.
    fn admission_chain(&self, store: Arc<dyn Store>) -> Chain {
        Chain::default_with_tolerations(store, self.toleration_seconds.unwrap_or_default())
    }
}

/// A started task with its stop signal.
struct Component {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Component {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

struct ApiHandle {
    server: ApiServer,
    running: Option<http::Running>,
    url: Option<String>,
    kubeconfig: Option<PathBuf>,
    ca_pem: String,
    admin_token: String,
    _background: kube_api::BackgroundTasks,
    /// The advertised address, port and the `kubernetes` Service controller.
    kubernetes_service: Option<(IpAddr, u16, kube_api::BackgroundTasks)>,
}

/// A running cluster. See the [module documentation](self).
///
/// Call [`shutdown`](Self::shutdown) to stop it cleanly: dropping the handle aborts the
/// components' tasks but cannot wait for them, so process-runtime pods keep running and the
/// nftables table stays.
pub struct Cluster {
    client: Option<Arc<dyn Client>>,
    api: Option<ApiHandle>,
    scheduler: Option<Component>,
    controllers: Option<Component>,
    nodes: Vec<RunningNode>,
    proxy: Option<RunningProxy>,
    store: Option<kube_store::embedded::EmbeddedStore>,
    backing_store: Option<Arc<dyn Store>>,
    kubelet_token: String,
    data_dir: PathBuf,
    tempdir: Option<tempfile::TempDir>,
    notes: Vec<String>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.url())
            .field("nodes", &self.nodes.len())
            .field("proxy", &self.proxy_backend())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A builder: memory store, no nodes, the proxy on `Auto`, every controller, the
    /// scheduler, the API in process only.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// An admin client (in process; for a joined node set, the client it joined with).
    pub fn client(&self) -> Arc<dyn Client> {
        self.client
            .clone()
            .expect("a started cluster always has a client")
    }

    /// The API server (none when the cluster joined another one).
    pub fn api_server(&self) -> Option<&ApiServer> {
        self.api.as_ref().map(|a| &a.server)
    }

    /// The HTTPS URL of the API (with [`ClusterBuilder::listen`]).
    pub fn url(&self) -> Option<&str> {
        self.api.as_ref()?.url.as_deref()
    }

    /// The admin kubeconfig (with [`ClusterBuilder::listen`]).
    pub fn kubeconfig(&self) -> Option<&Path> {
        self.api.as_ref()?.kubeconfig.as_deref()
    }

    /// The cluster CA (PEM) the serving certificate is signed by.
    pub fn ca_pem(&self) -> Option<&str> {
        self.api.as_ref().map(|a| a.ca_pem.as_str())
    }

    /// The admin bearer token (`system:admin` in `system:masters`).
    pub fn admin_token(&self) -> Option<&str> {
        self.api.as_ref().map(|a| a.admin_token.as_str())
    }

    /// The token every kubelet API of this cluster accepts (as [`KUBELET_CLIENT_USER`]):
    /// what the API server presents when it proxies `pods/log` and `pods/exec`.
    pub fn kubelet_token(&self) -> &str {
        &self.kubelet_token
    }

    /// The store the API server runs on (none when the cluster joined another server), for
    /// online backups with `kube_store::backup`.
    pub fn store(&self) -> Option<Arc<dyn Store>> {
        self.backing_store.clone()
    }

    /// The embedded store (with [`StoreConfig::Memory`] or [`StoreConfig::Embedded`]), for
    /// `kube_store::backup::snapshot_embedded`'s one-lock copy.
    pub fn embedded_store(&self) -> Option<&kube_store::embedded::EmbeddedStore> {
        self.store.as_ref()
    }

    /// The data directory (PKI, node state, pod logs).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The names of the running nodes.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The runtime of node `name`.
    pub fn node_runtime(&self, name: &str) -> Option<Arc<dyn Runtime>> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.runtime.clone())
    }

    /// The address of node `name`'s kubelet HTTPS API.
    pub fn kubelet_address(&self, name: &str) -> Option<SocketAddr> {
        self.nodes.iter().find(|n| n.name == name)?.kubelet_addr
    }

    /// Degraded conditions found while starting (host-network fallback, userspace proxy).
    pub fn network_notes(&self) -> &[String] {
        &self.notes
    }

    /// The proxy backend in use (`nftables`, `userspace`), if a proxy runs.
    pub fn proxy_backend(&self) -> Option<&'static str> {
        self.proxy.as_ref().map(|p| p.backend())
    }

    /// The proxy's metrics and health, if a proxy runs.
    pub fn proxy_handle(&self) -> Option<&kube_net::proxy::ProxyHandle> {
        self.proxy.as_ref().map(|p| p.handle())
    }

    /// Where the userspace proxy listens for each Service port (the ClusterIP when it could
    /// bind it, else a node-local port); empty with nftables.
    pub async fn proxy_listeners(&self) -> BTreeMap<ServicePortName, Vec<SocketAddr>> {
        match &self.proxy {
            Some(p) => p.listeners().await,
            None => BTreeMap::new(),
        }
    }

    fn report(&self, component: &'static str, message: String) {
        tracing::info!(component, "{message}");
        if let Some(f) = &self.progress {
            f(&Progress {
                component,
                message,
                warning: false,
            });
        }
    }

    /// Stops the scheduler.
    pub async fn stop_scheduler(&mut self) {
        if let Some(s) = self.scheduler.take() {
            s.stop().await;
            self.report("scheduler", "scheduler stopped".into());
        }
    }

    /// Stops the controller manager.
    pub async fn stop_controllers(&mut self) {
        if let Some(c) = self.controllers.take() {
            c.stop().await;
            self.report("controllers", "controllers stopped".into());
        }
    }

    /// Stops node `name`: its kubelet and kubelet API, then its pods (process runtime). The
    /// Node object stays (as when a machine goes away). Returns false if there is no such
    /// running node.
    pub async fn stop_node(&mut self, name: &str) -> Result<bool, Error> {
        let Some(i) = self.nodes.iter().position(|n| n.name == name) else {
            return Ok(false);
        };
        let mut node = self.nodes.remove(i);
        node.stop().await?;
        self.report("node", format!("node {name} stopped"));
        Ok(true)
    }

    /// Stops the proxy and removes its rules (the nftables table) or listeners.
    pub async fn stop_proxy(&mut self) -> Result<(), Error> {
        if let Some(mut p) = self.proxy.take() {
            p.stop().await?;
            self.report("proxy", "proxy stopped, rules removed".into());
        }
        Ok(())
    }

    /// Stops the API server's HTTPS front (in-process clients keep working).
    pub fn stop_https(&mut self) {
        // Stop renewing the master lease (its endpoint goes with the next reconcile of any
        // server, or when it expires).
        if let Some(api) = self.api.as_mut() {
            api.kubernetes_service = None;
        }
        if let Some(running) = self.api.as_mut().and_then(|a| a.running.take()) {
            running.shutdown();
        }
    }

    /// Stops everything in reverse start order — proxy (rules removed), nodes (pods stopped
    /// and removed), controllers, scheduler, HTTPS, store (closed) — and removes the
    /// temporary data directory. The first error is returned after every step ran.
    ///
    /// Clients taken from [`client`](Self::client) keep the API server object alive: drop
    /// them first, or their requests (and the API server's RBAC cache) meet a closed store.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown_inner().await
    }

    async fn shutdown_inner(&mut self) -> Result<(), Error> {
        let mut first: Option<Error> = None;
        if let Err(e) = self.stop_proxy().await {
            first.get_or_insert(e);
        }
        // Nodes are independent: stop them all at once.
        let mut nodes = std::mem::take(&mut self.nodes);
        let results = futures::future::join_all(nodes.iter_mut().rev().map(|n| n.stop())).await;
        for r in results {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        if !nodes.is_empty() {
            self.report("node", format!("{} node(s) stopped", nodes.len()));
        }
        drop(nodes);
        self.stop_controllers().await;
        self.stop_scheduler().await;
        // Take this server out of the `kubernetes` endpoints at once, as kube-apiserver does
        // on a clean shutdown (others over the same store keep theirs).
        if let Some(api) = self.api.as_mut() {
            if let Some((ip, port, controller)) = api.kubernetes_service.take() {
                drop(controller);
                if let Err(e) = api.server.remove_kubernetes_endpoints(ip, port).await {
                    tracing::warn!(error = %e, "removing this server from the kubernetes endpoints");
                }
            }
        }
        self.stop_https();
        self.api = None;
        self.client = None;
        self.backing_store = None;
        if let Some(store) = self.store.take() {
            if let Err(e) = store.close().await {
                first.get_or_insert(Error::Store(e));
            }
        }
        if let Some(t) = self.tempdir.take() {
            let _ = t.close();
        }
        self.report("shutdown", "cluster stopped".into());
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Without `shutdown`, at least stop the control loops (nodes and the proxy abort
        // their own tasks when dropped).
        for c in [self.scheduler.take(), self.controllers.take()]
            .into_iter()
            .flatten()
        {
            c.task.abort();
        }
    }
}

/// A client for an API server elsewhere (the node side of a multi-process cluster): HTTPS
/// to `url`, trusting `ca_pem`, with bearer `token` — kube-api's `HttpClient`.
pub fn join_client(url: &str, ca_pem: &str, token: &str) -> Result<Arc<dyn Client>, Error> {
    let kc = Kubeconfig::admin(url, ca_pem, token);
    kube_api::http_client::HttpClient::from_kubeconfig(&kc)
        .map(|c| c.into_client())
        .map_err(|e| Error::Client {
            url: url.to_string(),
            message: e.to_string(),
        })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Reads the token at `path`, or writes a new random one there (mode 0600).
fn load_or_create_token(path: &Path) -> Result<String, Error> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim();
        if !t.is_empty() {
            return Ok(t.to_string());
        }
    }
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let token: String = (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(token.as_bytes()).map_err(io)?;
    Ok(token)
}
