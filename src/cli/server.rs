//! `kubox server` and `kubox all-in-one`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use kubox::cluster::{Cluster, ClusterBuilder, PodNetwork, StoreConfig};
use kubox::ctrl::controllers::nodelifecycle;

use super::join::{load_or_create_secret, write_private, AgentToken, JoinAuthenticator};
use super::{backup, print_progress, shutdown_signal, AllInOneArgs, ServerArgs};

/// `DIR/agent-token`: what `kubox agent --token` wants.
pub(crate) const AGENT_TOKEN_FILE: &str = "agent-token";

/// Absolute form of `p` (relative to the current directory), for printed commands.
pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The store of `args`: etcd with `--etcd`, else the embedded store in `DIR/store`.
fn store_config(args: &ServerArgs) -> anyhow::Result<StoreConfig> {
    if args.etcd.is_empty() {
        return Ok(StoreConfig::Embedded(args.data_dir.join("store")));
    }
    #[cfg(feature = "etcd")]
    {
        Ok(StoreConfig::Etcd {
            endpoints: args.etcd.clone(),
            prefix: args.etcd_prefix.clone(),
        })
    }
    #[cfg(not(feature = "etcd"))]
    {
        bail!(
            "--etcd needs kubox built with the etcd feature \
             (cargo install --path . --features etcd)"
        )
    }
}

/// Checks the flags that clap cannot and prepares the data directory.
fn validate(args: &ServerArgs) -> anyhow::Result<()> {
    if args.node_monitor_period.is_zero() {
        bail!("--node-monitor-period must be positive");
    }
    if args.node_monitor_grace_period.is_zero() {
        bail!("--node-monitor-grace-period must be positive");
    }
    if args.backup_dir.is_some() && args.backup_interval.is_zero() {
        bail!("--backup-interval must be positive");
    }
    if args.pod_eviction_timeout.as_secs() > u64::from(u32::MAX) {
        bail!("--pod-eviction-timeout is too long");
    }
    if args.data_dir.exists() && !args.data_dir.is_dir() {
        bail!(
            "--data-dir {}: exists and is not a directory",
            args.data_dir.display()
        );
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating --data-dir {}", args.data_dir.display()))?;
    Ok(())
}

/// The builder for the server side of `args` (store, HTTPS, controllers, timings, agents'
/// authentication). Returns it with the agent token.
fn server_builder(
    args: &ServerArgs,
    started: Instant,
) -> anyhow::Result<(ClusterBuilder, AgentToken)> {
    validate(args)?;
    let pki = args.data_dir.join("pki");
    let token = AgentToken {
        join_secret: load_or_create_secret(&pki.join("join.token"))?,
        // The same file the cluster builder would generate it in.
        kubelet_token: load_or_create_secret(&pki.join("kubelet-client.token"))?,
    };
    let eviction = u32::try_from(args.pod_eviction_timeout.as_secs()).unwrap_or(u32::MAX);
    let mut b = Cluster::builder()
        .listen(args.listen)
        .data_dir(&args.data_dir)
        .store(store_config(args)?)
        .controllers_flag(&args.controllers)
        .scheduler(args.scheduler)
        .kubelet_token(token.kubelet_token.clone())
        .authenticator(Arc::new(JoinAuthenticator::new(token.join_secret.clone())))
        .node_lifecycle(nodelifecycle::Config {
            monitor_period: args.node_monitor_period,
            grace_period: args.node_monitor_grace_period,
            startup_grace_period: args.node_startup_grace_period,
        })
        .on_progress(print_progress(started));
    if eviction != 300 {
        // kube-apiserver's default is 300 s; only a different value needs the plugin swapped.
        b = b.default_toleration_seconds(eviction, eviction);
    }
    for san in &args.san {
        b = b.san(san.clone());
    }
    if let Some(ip) = args.advertise_address {
        b = b.san(ip.to_string()).advertise_address(ip);
    }
    if let Some(kc) = &args.kubeconfig {
        b = b.kubeconfig(kc);
    }
    Ok((b, token))
}

/// Everything that runs beside the cluster: scheduled backups and the control socket.
struct Extras {
    scheduler: Option<kubox::store::backup::Scheduler>,
    control: Option<backup::ControlServer>,
}

impl Extras {
    fn start(cluster: &Cluster, args: &ServerArgs) -> anyhow::Result<Extras> {
        let mut extras = Extras {
            scheduler: None,
            control: None,
        };
        if let Some(dir) = &args.backup_dir {
            let config = kubox::store::backup::ScheduleConfig {
                dir: dir.clone(),
                interval: args.backup_interval,
                keep: args.backup_keep,
            };
            let scheduler = match (cluster.embedded_store(), cluster.store()) {
                (Some(s), _) => kubox::store::backup::Scheduler::start_embedded(s.clone(), config),
                (None, Some(s)) => kubox::store::backup::Scheduler::start(s, config),
                (None, None) => bail!("the cluster has no store to back up"),
            };
            println!(
                "scheduled backups every {:?} into {} (keeping {})",
                args.backup_interval,
                absolute(dir).display(),
                if args.backup_keep == 0 {
                    "all".to_string()
                } else {
                    args.backup_keep.to_string()
                }
            );
            extras.scheduler = Some(scheduler);
        }
        if let Some(store) = cluster.store() {
            extras.control = Some(backup::ControlServer::start(
                &args.data_dir,
                store,
                cluster.embedded_store().cloned(),
            )?);
        }
        Ok(extras)
    }

    fn stop(self) {
        if let Some(s) = self.scheduler {
            s.stop();
        }
        if let Some(c) = self.control {
            c.stop();
        }
    }
}

/// Writes the agent token and prints how to use the cluster and join agents.
fn announce(
    cluster: &Cluster,
    args: &ServerArgs,
    token: &AgentToken,
    started: Instant,
) -> anyhow::Result<()> {
    let token_path = args.data_dir.join(AGENT_TOKEN_FILE);
    write_private(&token_path, &token.encode())?;
    let url = cluster.url().unwrap_or_default().to_string();
    let agent_url = match args.advertise_address {
        Some(ip) => {
            let host = if ip.is_ipv6() {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            format!(
                "https://{host}:{}",
                url.rsplit(':').next().unwrap_or("6443")
            )
        }
        None => url.clone(),
    };
    let kubeconfig = cluster.kubeconfig().map(absolute).unwrap_or_default();
    let ca = absolute(&args.data_dir.join("pki").join("ca.crt"));
    println!(
        "\nkubox server up in {:.2}s: API {url}",
        started.elapsed().as_secs_f64()
    );
    println!("admin kubeconfig: {}", kubeconfig.display());
    println!("agent token:      {}", absolute(&token_path).display());
    println!(
        "\ntry:\n  kubectl --kubeconfig {} get nodes",
        kubeconfig.display()
    );
    println!("\njoin an agent (on this machine or another that reaches {agent_url}):");
    if args.listen.ip().is_unspecified() && args.advertise_address.is_none() {
        println!(
            "  (listening on all addresses: give --advertise-address IP so that the URL and \
             the serving certificate name an address other machines reach)"
        );
    }
    println!(
        "  kubox agent --server {agent_url} --token $(cat {}) --ca-file {} --name NODE_NAME",
        absolute(&token_path).display(),
        ca.display()
    );
    println!(
        "\nonline backup:\n  kubox backup --data-dir {} --out backup.kbak",
        absolute(&args.data_dir).display()
    );
    println!("\nCtrl-C or SIGTERM stops the server.");
    Ok(())
}

async fn serve_until_signal(cluster: Cluster, extras: Extras) -> anyhow::Result<()> {
    let signal = shutdown_signal().await?;
    println!("\n{signal}: shutting down…");
    extras.stop();
    cluster.shutdown().await.context("shutting down")?;
    Ok(())
}

/// `kubox server`.
pub(crate) async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (builder, token) = server_builder(&args, started)?;
    let cluster = builder.start().await.context("starting the server")?;
    let extras = match Extras::start(&cluster, &args) {
        Ok(e) => e,
        Err(e) => {
            let _ = cluster.shutdown().await;
            return Err(e);
        }
    };
    announce(&cluster, &args, &token, started)?;
    serve_until_signal(cluster, extras).await
}

/// `kubox all-in-one`.
pub(crate) async fn run_all_in_one(args: AllInOneArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (builder, token) = server_builder(&args.server, started)?;
    let cluster = builder
        .process_nodes(args.nodes)
        .pod_network(PodNetwork {
            cidr: args.pod_cidr.clone(),
            bridge_prefix: args.bridge_prefix.clone(),
            ..PodNetwork::default()
        })
        .proxy(args.proxy.into())
        .nft_table(args.nft_table.clone())
        .shim(super::parse_shim(&args.shim))
        .start()
        .await
        .context("starting the cluster")?;
    let extras = match Extras::start(&cluster, &args.server) {
        Ok(e) => e,
        Err(e) => {
            let _ = cluster.shutdown().await;
            return Err(e);
        }
    };
    if !cluster.network_notes().is_empty() {
        eprintln!("\n!!! This cluster runs degraded:");
        for note in cluster.network_notes() {
            eprintln!("!!!   {note}");
        }
        eprintln!("!!! Run as root (with nft installed) for per-pod IPs and nftables Services.");
    }
    println!(
        "{} node(s): {}",
        cluster.node_names().len(),
        cluster.node_names().join(", ")
    );
    announce(&cluster, &args.server, &token, started)?;
    serve_until_signal(cluster, extras).await
}
