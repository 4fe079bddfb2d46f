//! One node of a cluster: its runtime, its kubelet and (optionally) the kubelet's HTTPS API.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kube_node::kubelet::Kubelet;
use kube_node::runtime::process::{NetworkConfig, NetworkMode, ProcessConfig, ProcessRuntime};
use kube_node::runtime::sim::SimRuntime;
use kube_node::runtime::Runtime;
use kube_node::server::{KubeletServer, StaticToken};
use kubox_core::client::Client;
use kubox_core::Quantity;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Error, NodeRuntime, NodeSpec, ShimMode};

/// The user the kubelets' HTTPS API knows the API server as (kube-apiserver's
/// `--kubelet-client-certificate` identity).
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";

/// The pod network a process node gets.
#[derive(Debug, Clone)]
pub(super) struct NodeNetwork {
    pub(super) mode: NetworkMode,
    pub(super) bridge: String,
    pub(super) pod_cidr: String,
    pub(super) netns_prefix: String,
}

/// What every node of a cluster shares.
pub(super) struct NodeContext {
    pub(super) client: Arc<dyn Client>,
    pub(super) data_dir: PathBuf,
    pub(super) shim: ShimMode,
    pub(super) kubelet_token: String,
    pub(super) kubelet_ip: IpAddr,
    pub(super) tls: Option<Arc<rustls::ServerConfig>>,
    /// Adjusts each kubelet's configuration ([`super::ClusterBuilder::kubelet_config`]).
    pub(super) kubelet_config: Option<super::KubeletConfigFn>,
}

/// The default capacity of a simulated node: 32 CPUs, 256 GiB, 110 pods.
pub(super) fn sim_capacity() -> BTreeMap<String, Quantity> {
    [("cpu", "32"), ("memory", "256Gi"), ("pods", "110")]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), Quantity::parse(v).ok()?)))
        .collect()
}

/// A running node.
pub(super) struct RunningNode {
    pub(super) name: String,
    pub(super) runtime: Arc<dyn Runtime>,
    pub(super) runtime_kind: &'static str,
    pub(super) process: Option<ProcessRuntime>,
    pub(super) network_note: Option<String>,
    pub(super) kubelet_addr: Option<SocketAddr>,
    /// The node bridge the cluster had the runtime create (removed at stop).
    bridge: Option<String>,
    kubelet: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    server: Option<(oneshot::Sender<()>, JoinHandle<io::Result<()>>)>,
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningNode")
            .field("name", &self.name)
            .field("runtime", &self.runtime_kind)
            .field("kubelet_addr", &self.kubelet_addr)
            .finish_non_exhaustive()
    }
}

fn node_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("nodes").join(name)
}

impl RunningNode {
    /// Creates the runtime, starts the kubelet's HTTPS API (when `spec.serve`) and the
    /// kubelet.
    pub(super) async fn start(
        spec: NodeSpec,
        network: Option<NodeNetwork>,
        ctx: &NodeContext,
    ) -> Result<RunningNode, Error> {
        let dir = node_dir(&ctx.data_dir, &spec.name);
        let node_err = |source| Error::Runtime {
            node: spec.name.clone(),
            source,
        };
        let mut process = None;
        let mut network_note = None;
        let mut capacity = spec.capacity.clone();
        // A bridge that exists already (another cluster's, an earlier run's) is left alone at
        // stop; one the runtime creates now is removed.
        let bridge_existed = network
            .as_ref()
            .is_some_and(|n| Path::new("/sys/class/net").join(&n.bridge).exists());
        let (runtime, kind): (Arc<dyn Runtime>, &'static str) = match spec.runtime.clone() {
            NodeRuntime::Process => {
                let mut cfg = ProcessConfig::new(dir.join("runtime"));
                cfg.shim = ctx.shim.clone();
                cfg.images.extend(spec.images.clone());
                if let Some(net) = &network {
                    cfg.network = NetworkConfig {
                        mode: net.mode,
                        bridge: net.bridge.clone(),
                        pod_cidr: net.pod_cidr.clone(),
                        netns_prefix: net.netns_prefix.clone(),
                    };
                }
                let rt = ProcessRuntime::new(cfg).await.map_err(node_err)?;
                process = Some(rt.clone());
                (Arc::new(rt), "process")
            }
            NodeRuntime::ProcessWith(cfg) => {
                let rt = ProcessRuntime::new(*cfg).await.map_err(node_err)?;
                process = Some(rt.clone());
                (Arc::new(rt), "process")
            }
            NodeRuntime::Simulated(cfg) => {
                capacity.get_or_insert_with(sim_capacity);
                (Arc::new(SimRuntime::new(*cfg)), "simulated")
            }
            #[cfg(feature = "cri")]
            NodeRuntime::Cri { socket } => {
                let rt = kube_node::runtime::cri::CriRuntime::connect(&socket)
                    .await
                    .map_err(node_err)?;
                (Arc::new(rt), "cri")
            }
            NodeRuntime::Custom(rt) => (rt, "custom"),
        };
        let mut bridge = None;
        if process.is_some() {
            let status = runtime.status().await.map_err(node_err)?;
            if status.message.is_empty() {
                if !bridge_existed {
                    bridge = network.as_ref().map(|n| n.bridge.clone());
                }
            } else {
                network_note = Some(status.message);
            }
        }

        // The kubelet's HTTPS API on a port of its own, published in the Node's
        // daemonEndpoints.
        let mut server = None;
        let mut kubelet_addr = None;
        if spec.serve {
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(ctx.kubelet_ip, 0))
                .await
                .map_err(|source| Error::KubeletServer {
                    node: spec.name.clone(),
                    source,
                })?;
            let addr = listener
                .local_addr()
                .map_err(|source| Error::KubeletServer {
                    node: spec.name.clone(),
                    source,
                })?;
            kubelet_addr = Some(addr);
            let srv = KubeletServer::new(runtime.clone(), spec.name.clone()).with_authenticator(
                Arc::new(StaticToken::new(
                    ctx.kubelet_token.clone(),
                    KUBELET_CLIENT_USER,
                )),
            );
            let (tx, rx) = oneshot::channel::<()>();
            let shutdown = async move {
                let _ = rx.await;
            };
            let task = match &ctx.tls {
                Some(tls) => {
                    let tls = tls.clone();
                    tokio::spawn(async move { srv.serve_tls(listener, tls, shutdown).await })
                }
                None => tokio::spawn(async move { srv.serve(listener, shutdown).await }),
            };
            server = Some((tx, task));
        }

        let mut builder = Kubelet::builder(&spec.name, runtime.clone(), ctx.client.clone())
            .log_root(dir.join("pods"));
        if let Some(addr) = kubelet_addr {
            builder = builder.port(addr.port());
        }
        let capacity_for_config = capacity.clone();
        if let Some(cap) = capacity {
            builder = builder.capacity(cap);
        }
        for (k, v) in &spec.labels {
            builder = builder.label(k, v);
        }
        if let Some(f) = &ctx.kubelet_config {
            // The configuration the builder calls above make (keep the two in step),
            // adjusted, replaces the builder's.
            let mut config = kube_node::kubelet::Config::new(&spec.name);
            config.log_root = dir.join("pods");
            if let Some(addr) = kubelet_addr {
                config.port = addr.port();
            }
            config.capacity = capacity_for_config;
            config.labels = spec.labels.clone();
            f(&mut config);
            builder = builder.config(config);
        }
        let kubelet = builder.build();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(kubelet.run(async move {
            let _ = rx.await;
        }));
        Ok(RunningNode {
            name: spec.name,
            runtime,
            runtime_kind: kind,
            process,
            network_note,
            kubelet_addr,
            bridge,
            kubelet: Some((tx, task)),
            server,
        })
    }

    /// Stops the kubelet and its API, then (process runtime) stops and removes every pod
    /// sandbox and container of the node.
    pub(super) async fn stop(&mut self) -> Result<(), Error> {
        if let Some((tx, task)) = self.kubelet.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
        if let Some((tx, task)) = self.server.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
        if let Some(rt) = self.process.take() {
            rt.remove_all().await.map_err(|source| Error::Runtime {
                node: self.name.clone(),
                source,
            })?;
        }
        if let Some(bridge) = self.bridge.take() {
            // The runtime creates the node bridge but leaves it at teardown; the cluster
            // named it, so the cluster removes it.
            let out = tokio::process::Command::new("ip")
                .args(["link", "delete", &bridge, "type", "bridge"])
                .output()
                .await;
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => tracing::warn!(
                    node = %self.name,
                    "cannot remove bridge {bridge}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => tracing::warn!(node = %self.name, "cannot remove bridge {bridge}: {e}"),
            }
        }
        Ok(())
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        if let Some((_, task)) = self.kubelet.take() {
            task.abort();
        }
        if let Some((_, task)) = self.server.take() {
            task.abort();
        }
    }
}
