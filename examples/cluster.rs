//! A whole Kubernetes cluster in one process, for stock kubectl.
//!
//! ```text
//! cargo run --release --example cluster -- [--listen ADDR] [--kubeconfig PATH] [--nodes N] [--data-dir DIR]
//! kubectl --kubeconfig PATH get nodes
//! ```
//!
//! The embedded store in `DIR/store` (default `DIR` = `.kubox/cluster`), the API server over
//! HTTPS on `ADDR` (default `127.0.0.1:6443`) with a CA and admin token generated in
//! `DIR/pki` on first start, the scheduler, every controller, `N` nodes (default 3) on the
//! process runtime — as root each pod gets its own network namespace and IP on the node's
//! bridge (`kubox0`, `kubox1`, … with `10.244.<i>.0/24`; see `--bridge-prefix` and
//! `--pod-cidr`); without root pods share the host
//! network, which this program says loudly — and one service proxy (nftables when usable,
//! else the userspace forwarder). The admin kubeconfig is written to `PATH` (default
//! `DIR/admin.kubeconfig`). Ctrl-C stops everything: pods, the proxy's rules, the store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use kubox::cluster::{Cluster, PodNetwork, Progress};

const USAGE: &str = "usage: cluster [--listen ADDR:PORT] [--kubeconfig PATH] [--nodes N] \
[--data-dir DIR] [--pod-cidr A.B.0.0/16] [--bridge-prefix NAME]";

struct Args {
    listen: SocketAddr,
    kubeconfig: Option<PathBuf>,
    nodes: usize,
    data_dir: PathBuf,
    network: PodNetwork,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        listen: "127.0.0.1:6443".parse()?,
        kubeconfig: None,
        nodes: 3,
        data_dir: PathBuf::from(".kubox/cluster"),
        network: PodNetwork::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => args.listen = value()?.parse().context("--listen")?,
            "--kubeconfig" => args.kubeconfig = Some(value()?.into()),
            "--nodes" => args.nodes = value()?.parse().context("--nodes")?,
            "--data-dir" => args.data_dir = value()?.into(),
            "--pod-cidr" => args.network.cidr = value()?,
            "--bridge-prefix" => args.network.bridge_prefix = value()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other:?}\n{USAGE}"),
        }
    }
    Ok(args)
}

fn print_progress(started: Instant) -> impl Fn(&Progress) + Send + Sync + 'static {
    move |p: &Progress| {
        let t = started.elapsed().as_secs_f64();
        if p.warning {
            eprintln!("[{t:6.2}s] WARNING {:11} {}", p.component, p.message);
        } else {
            println!("[{t:6.2}s] {:11} {}", p.component, p.message);
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    let started = Instant::now();
    let mut builder = Cluster::builder()
        .listen(args.listen)
        .data_dir(&args.data_dir)
        .store(kubox::cluster::StoreConfig::Embedded(
            args.data_dir.join("store"),
        ))
        .process_nodes(args.nodes)
        .pod_network(args.network.clone())
        .on_progress(print_progress(started));
    if let Some(kc) = &args.kubeconfig {
        builder = builder.kubeconfig(kc);
    }
    let cluster = builder.start().await.context("starting the cluster")?;
    if !cluster.network_notes().is_empty() {
        eprintln!();
        eprintln!("!!! This cluster runs degraded:");
        for note in cluster.network_notes() {
            eprintln!("!!!   {note}");
        }
        eprintln!("!!! Run as root (with nft installed) for per-pod IPs and nftables Services.");
        eprintln!();
    }
    let kubeconfig = cluster
        .kubeconfig()
        .context("the cluster serves HTTPS, so it has a kubeconfig")?
        .to_path_buf();
    let kc = kubeconfig.display();
    println!(
        "\ncluster up in {:.2}s: {} node(s), API {}",
        started.elapsed().as_secs_f64(),
        cluster.node_names().len(),
        cluster.url().unwrap_or_default()
    );
    println!("try:\n");
    println!("  export KUBECONFIG={kc}");
    println!("  kubectl get nodes -o wide");
    println!(
        "  kubectl create deployment web --image=busybox --replicas=3 -- /bin/busybox sh -c \\\n    \
         'mkdir -p /tmp/www-$HOSTNAME && echo hello from $HOSTNAME > /tmp/www-$HOSTNAME/index.html \
         && exec /bin/busybox httpd -f -p 8080 -h /tmp/www-$HOSTNAME'"
    );
    println!("  kubectl expose deployment web --port=80 --target-port=8080");
    println!("  kubectl get pods,svc,endpoints -o wide");
    println!("  curl http://$(kubectl get svc web -o jsonpath='{{.spec.clusterIP}}')/");
    if cluster.proxy_backend() == Some("userspace") {
        println!(
            "  (userspace proxy: a ClusterIP that is not a local address is served on a \
             node-local port instead; see the proxy's log)"
        );
    }
    println!("\nCtrl-C stops the cluster.");

    tokio::signal::ctrl_c().await?;
    println!("\nshutting down…");
    cluster.shutdown().await.context("shutting down")?;
    Ok(())
}
