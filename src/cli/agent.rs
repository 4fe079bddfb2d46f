//! `kubox agent`: one node (kubelet, its HTTPS API, the service proxy) joining a server.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use kubox::cluster::{join_client, Cluster, NetworkMode, NodeRuntime, NodeSpec};
use kubox::core::api::core_v1::Node;
use kubox::core::client::{Api, Client};
use kubox::node::runtime::process::{NetworkConfig, ProcessConfig};

use super::join::{valid_node_name, AgentToken};
use super::{parse_shim, print_progress, shutdown_signal, ProxyArg};

/// The container runtime of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RuntimeArg {
    /// Containers are supervised host processes (no daemon).
    Process,
    /// A CRI v1 runtime (containerd) at `--cri-socket` (needs the cri feature).
    Cri,
}

/// `kubox agent`.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// The server's API URL (`https://host:port`).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The agent token (the content of the server's `DIR/agent-token`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "KUBOX_TOKEN",
        hide_env_values = true,
        required_unless_present = "token_file"
    )]
    token: Option<String>,
    /// A file holding the agent token (instead of `--token`).
    #[arg(long, value_name = "PATH", conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// The cluster CA the server's certificate is signed by (the server's `DIR/pki/ca.crt`).
    #[arg(long, value_name = "PATH")]
    ca_file: PathBuf,
    /// The node's name (default: the host name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The container runtime.
    #[arg(long, value_enum, default_value_t = RuntimeArg::Process)]
    runtime: RuntimeArg,
    /// The CRI socket (`--runtime cri`).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/containerd/containerd.sock"
    )]
    cri_socket: PathBuf,
    /// The node's InternalIP (default: detected); the kubelet API listens on it.
    #[arg(long, value_name = "IP")]
    node_ip: Option<IpAddr>,
    /// Data directory: runtime state, pod logs, the kubelet API's certificate (default
    /// `.kubox/agent-<name>`).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// This node's pod CIDR (process runtime, as root): give every agent its own.
    #[arg(long, value_name = "A.B.C.0/24", default_value = "10.244.0.0/24")]
    pod_cidr: String,
    /// The node bridge (process runtime, as root); pods' network namespaces are named
    /// `<bridge>-<id>`.
    #[arg(long, value_name = "NAME", default_value = "kubox0")]
    bridge: String,
    /// Pods share the host network even as root.
    #[arg(long)]
    host_network: bool,
    /// Service proxy backend.
    #[arg(long, value_enum, default_value_t = ProxyArg::Auto)]
    proxy: ProxyArg,
    /// The nftables table of the proxy.
    #[arg(long, value_name = "NAME", default_value = "kubox")]
    nft_table: String,
    /// How containers are supervised: `auto`, `in-process`, or a kubox-shim path.
    #[arg(long, value_name = "auto|in-process|PATH", default_value = "auto")]
    shim: String,
    /// The node Lease's duration in seconds; the kubelet renews it every quarter of it.
    #[arg(long, value_name = "SECONDS", default_value_t = 40)]
    node_lease_duration_seconds: i32,
    /// How often the kubelet computes the node status (`--node-status-update-frequency`).
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = super::parse_duration)]
    node_status_update_frequency: Duration,
    /// Extra node label `key=value` (repeatable).
    #[arg(long = "node-label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
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

/// `a.b.0.0/16` for a pod CIDR `a.b.c.0/24`.
fn cluster_cidr_of(pod_cidr: &str) -> anyhow::Result<String> {
    let bad = || anyhow::anyhow!("--pod-cidr {pod_cidr:?}: want A.B.C.0/24");
    let (ip, len) = pod_cidr.split_once('/').ok_or_else(bad)?;
    let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let o = ip.octets();
    if len != "24" || o[3] != 0 {
        return Err(bad());
    }
    Ok(format!("{}.{}.0.0/16", o[0], o[1]))
}

/// Whether network interface `name` exists in this process's network namespace (`ip link`,
/// not /sys, which may show another namespace's interfaces).
async fn link_exists(name: &str) -> bool {
    tokio::process::Command::new("ip")
        .args(["link", "show", "dev", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default()
}

fn bearer_client(url: &str, ca: &str, token: &str) -> anyhow::Result<std::sync::Arc<dyn Client>> {
    join_client(url, ca, token).with_context(|| format!("an API client for {url}"))
}

/// Waits until the server answers as this node (up to a minute while it is unreachable);
/// fails at once when it rejects the credentials.
async fn check_server(
    client: std::sync::Arc<dyn Client>,
    url: &str,
    name: &str,
) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut said = false;
    loop {
        match nodes.get(name).await {
            Ok(_) => return Ok(()),
            Err(e) if e.code() == Some(404) => return Ok(()),
            Err(e) if e.code() == Some(401) => {
                bail!("the server at {url} rejected the agent token (401 Unauthorized): {e}")
            }
            Err(e) if e.code() == Some(403) => {
                bail!("the server at {url} forbids node {name:?}: {e}")
            }
            Err(e) if Instant::now() < deadline => {
                if !said {
                    eprintln!("waiting for the server at {url}: {e}");
                    said = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => bail!("cannot reach the server at {url}: {e}"),
        }
    }
}

/// `kubox agent`.
pub(crate) async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let token_text = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("--token-file {}", f.display()))?
        }
        (None, None) => bail!("--token or --token-file is required"),
    };
    let token = AgentToken::parse(&token_text).context("--token")?;
    let name = args.name.clone().unwrap_or_else(host_name);
    if !valid_node_name(&name) {
        bail!("node name {name:?} is not a valid DNS subdomain (lowercase letters, digits, '-', '.'); set --name");
    }
    if !args.server.starts_with("https://") {
        bail!("--server {:?}: want an https:// URL", args.server);
    }
    let ca = std::fs::read_to_string(&args.ca_file)
        .with_context(|| format!("--ca-file {}", args.ca_file.display()))?;
    if !ca.contains("-----BEGIN CERTIFICATE-----") {
        bail!(
            "--ca-file {}: not a PEM certificate",
            args.ca_file.display()
        );
    }
    if args.node_lease_duration_seconds < 4 {
        bail!("--node-lease-duration-seconds must be at least 4");
    }
    let labels: Vec<(String, String)> = args
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--node-label {l:?}: want key=value"))
        })
        .collect::<anyhow::Result<_>>()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!(".kubox/agent-{name}")));

    let node_client = bearer_client(&args.server, &ca, &token.node_bearer(&name))?;
    let proxy_client = bearer_client(&args.server, &ca, &token.proxy_bearer())?;
    check_server(node_client.clone(), &args.server, &name).await?;

    let runtime = match args.runtime {
        RuntimeArg::Process => {
            let mut cfg = ProcessConfig::new(data_dir.join("nodes").join(&name).join("runtime"));
            cfg.shim = parse_shim(&args.shim);
            cfg.network = NetworkConfig {
                mode: if args.host_network {
                    NetworkMode::Host
                } else {
                    NetworkMode::Auto
                },
                bridge: args.bridge.clone(),
                pod_cidr: args.pod_cidr.clone(),
                netns_prefix: format!("{}-", args.bridge),
            };
            NodeRuntime::ProcessWith(Box::new(cfg))
        }
        #[cfg(feature = "cri")]
        RuntimeArg::Cri => NodeRuntime::Cri {
            socket: args.cri_socket.clone(),
        },
        #[cfg(not(feature = "cri"))]
        RuntimeArg::Cri => bail!(
            "--runtime cri needs kubox built with the cri feature \
             (cargo install --path . --features cri); socket {}",
            args.cri_socket.display()
        ),
    };
    if args.bridge.is_empty() || args.bridge.len() > 15 {
        bail!("--bridge {:?}: want 1 to 15 characters", args.bridge);
    }
    let bridge_existed = link_exists(&args.bridge).await;
    let mut spec = NodeSpec::new(&name, runtime);
    for (k, v) in labels {
        spec = spec.label(k, v);
    }
    let node_ip = args.node_ip;
    let lease = args.node_lease_duration_seconds;
    let status_every = args.node_status_update_frequency;
    let node_name = name.clone();
    // The proxy's cluster CIDR (traffic from outside it to a Service is masqueraded): the
    // /16 around this node's pod CIDR.
    let cluster_cidr = cluster_cidr_of(&args.pod_cidr)?;
    if args.runtime == RuntimeArg::Process && !args.host_network && is_root() {
        // Pods on this node's bridge reach other nodes (and are reached) through this
        // network namespace's routes.
        if let Err(e) = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1") {
            eprintln!("!!! cannot set net.ipv4.ip_forward=1: {e}");
        }
    }
    let mut builder = Cluster::builder()
        .join(node_client)
        .pod_network(kubox::cluster::PodNetwork {
            cidr: cluster_cidr,
            ..kubox::cluster::PodNetwork::default()
        })
        .proxy_client(proxy_client)
        .data_dir(&data_dir)
        .kubelet_token(token.kubelet_token.clone())
        .node(spec)
        .proxy(args.proxy.into())
        .nft_table(args.nft_table.clone())
        .kubelet_config(move |c| {
            c.lease_duration_seconds = lease;
            c.status_update_frequency = status_every;
            if let Some(ip) = node_ip {
                c.addresses = vec![
                    kubox::core::api::core_v1::NodeAddress {
                        address: ip.to_string(),
                        type_: "InternalIP".into(),
                    },
                    kubox::core::api::core_v1::NodeAddress {
                        address: node_name.clone(),
                        type_: "Hostname".into(),
                    },
                ];
            }
        })
        .on_progress(print_progress(started));
    if let Some(ip) = node_ip {
        builder = builder.kubelet_address(ip);
    }
    let cluster = builder.start().await.context("starting the node")?;
    for note in cluster.network_notes() {
        eprintln!("!!! {note}");
    }
    println!(
        "\nkubox agent up in {:.2}s: node {name} joined {}",
        started.elapsed().as_secs_f64(),
        args.server
    );
    println!("Ctrl-C or SIGTERM stops the node (its pods are stopped, the Node object stays).");
    let signal = shutdown_signal().await?;
    println!("\n{signal}: shutting down…");
    let result = cluster.shutdown().await.context("shutting down");
    if args.runtime == RuntimeArg::Process && !bridge_existed && !args.host_network {
        // The runtime creates the node bridge but leaves it; this agent named it.
        if link_exists(&args.bridge).await {
            let out = tokio::process::Command::new("ip")
                .args(["link", "delete", &args.bridge, "type", "bridge"])
                .output()
                .await;
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "cannot remove bridge {}: {}",
                    args.bridge,
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => eprintln!("cannot remove bridge {}: {e}", args.bridge),
            }
        }
    }
    result
}
