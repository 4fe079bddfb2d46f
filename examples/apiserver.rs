//! The Kubernetes API server over HTTPS with the embedded store.
//!
//! ```text
//! cargo run --release --example apiserver -- --listen 127.0.0.1:6443 --kubeconfig PATH [--data-dir DIR]
//!     [--san NAME_OR_IP]... [--kube-version 1.31] [--token-auth-file FILE] [--anonymous]
//!     [--authorization-mode RBAC|AlwaysAllow] [--service-account-issuer URL]
//!     [--advertise-address IP] [--etcd http://127.0.0.1:2379]   # --etcd with --features etcd
//! kubectl --kubeconfig PATH get ns
//! ```
//!
//! On first start the data directory gets a CA, a serving certificate and an admin token
//! (`DIR/pki`), a service-account signing key (`DIR/pki/sa.key`) and the store (`DIR/store`);
//! later starts reuse them. The admin kubeconfig (CA data, `https://` server, bearer token of
//! `system:admin` in `system:masters`) is written to `--kubeconfig`.
//!
//! Authentication: the admin token, the `--token-auth-file` tokens and service-account tokens
//! (from `kubectl create token SA`); requests without a token are `system:anonymous` only with
//! `--anonymous`. Authorization (`--authorization-mode`, default `RBAC`): the Node authorizer
//! over RBAC with the bootstrap roles, and the NodeRestriction and RBAC escalation admission
//! plugins; `AlwaysAllow` lets every authenticated request through.
//!
//! At start the server creates the system namespaces, repairs the ClusterIP/NodePort
//! allocations and keeps the `kubernetes` Service in `default` pointing at
//! `--advertise-address` (or the listen address when it is neither loopback nor unspecified;
//! as in kube-apiserver a loopback address cannot be advertised, so without one there is no
//! `kubernetes` Service).

use anyhow::{bail, Context};
use kube_api::admission::Chain;
use kube_api::http::{self, StaticTokens, Union};
use kube_api::kubeconfig::Kubeconfig;
use kube_api::metrics::{Metrics, TimedStore};
use kube_api::rbac::{
    ensure_bootstrap_policy, NodeAuthorizer, NodeRestriction, RbacAuthorizer, RbacEscalation,
};
use kube_api::tls::TlsAssets;
use kube_api::tokens::{ServiceAccountKeys, ServiceAccountTokens};
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::{EmbeddedStore, Options};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

struct Args {
    listen: SocketAddr,
    kubeconfig: PathBuf,
    data_dir: PathBuf,
    sans: Vec<String>,
    version: kube_api::discovery::VersionInfo,
    token_file: Option<PathBuf>,
    anonymous: bool,
    rbac: bool,
    issuer: String,
    etcd: Option<String>,
    advertise: Option<std::net::IpAddr>,
}

const USAGE: &str = "usage: apiserver --listen ADDR:PORT --kubeconfig PATH [--data-dir DIR] \
[--san NAME]... [--kube-version 1.NN] [--token-auth-file FILE] [--anonymous] \
[--authorization-mode RBAC|AlwaysAllow] [--service-account-issuer URL] \
[--advertise-address IP] [--etcd URL[,URL...]] (with --features etcd)";

fn parse_args() -> anyhow::Result<Args> {
    let mut listen: Option<SocketAddr> = None;
    let mut kubeconfig: Option<PathBuf> = None;
    let mut data_dir = PathBuf::from(".kubox/apiserver");
    let mut sans = Vec::new();
    let mut version = kube_api::discovery::VersionInfo::default();
    let mut token_file = None;
    let mut anonymous = false;
    let mut rbac = true;
    let mut issuer = kube_api::tokens::DEFAULT_ISSUER.to_string();
    let mut etcd = None;
    let mut advertise = None;
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
            "--listen" => listen = Some(value()?.parse().context("--listen")?),
            "--kubeconfig" => kubeconfig = Some(value()?.into()),
            "--data-dir" => data_dir = value()?.into(),
            "--san" => sans.push(value()?),
            "--kube-version" => {
                let v = value()?;
                version = kube_api::discovery::VersionInfo::parse(&v)
                    .with_context(|| format!("--kube-version {v:?}: want 1.NN[.P]"))?;
            }
            "--token-auth-file" => token_file = Some(value()?.into()),
            "--anonymous" => anonymous = true,
            "--authorization-mode" => {
                rbac = match value()?.as_str() {
                    "RBAC" | "Node,RBAC" => true,
                    "AlwaysAllow" => false,
                    other => bail!("--authorization-mode {other:?}: want RBAC or AlwaysAllow"),
                }
            }
            "--service-account-issuer" => issuer = value()?,
            "--etcd" => etcd = Some(value()?),
            "--advertise-address" => {
                advertise = Some(value()?.parse().context("--advertise-address")?)
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other:?}\n{USAGE}"),
        }
    }
    Ok(Args {
        listen: listen.with_context(|| format!("--listen is required\n{USAGE}"))?,
        kubeconfig: kubeconfig.with_context(|| format!("--kubeconfig is required\n{USAGE}"))?,
        data_dir,
        sans,
        version,
        token_file,
        anonymous,
        rbac,
        issuer,
        etcd,
        advertise,
    })
}

/// The embedded store in `DATA_DIR/store`, or etcd with `--etcd`.
async fn open_store(args: &Args) -> anyhow::Result<Arc<dyn kube_store::Store>> {
    match &args.etcd {
        #[cfg(feature = "etcd")]
        Some(urls) => {
            let endpoints: Vec<&str> = urls.split(',').collect();
            let store = kube_store::etcd::EtcdStore::connect(&endpoints, "")
                .await
                .with_context(|| format!("connecting to etcd at {urls}"))?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "etcd"))]
        Some(_) => bail!("--etcd needs the example built with `--features etcd`"),
        None => {
            let store = EmbeddedStore::open(args.data_dir.join("store"), Options::default())
                .await
                .context("opening the store")?;
            Ok(Arc::new(store))
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = parse_args()?;

    let mut sans = args.sans.clone();
    if !args.listen.ip().is_unspecified() {
        sans.push(args.listen.ip().to_string());
    }
    let pki =
        TlsAssets::load_or_generate(&args.data_dir.join("pki"), &sans).context("TLS material")?;
    let store = open_store(&args).await?;
    let metrics = Arc::new(Metrics::default());
    let store = Arc::new(TimedStore::new(store, metrics.clone()));
    let store: Arc<dyn kube_store::Store> = store;
    let sa_keys = Arc::new(
        ServiceAccountKeys::load_or_generate(&args.data_dir.join("pki"), &args.issuer)
            .context("service-account signing key")?,
    );
    let builder = ApiServer::builder(store.clone()).service_account_keys(sa_keys.clone());
    let (server, rbac) = if args.rbac {
        let rbac = RbacAuthorizer::new(store.clone());
        let server = builder
            .authorizer(Arc::new(NodeAuthorizer::new(rbac.clone())))
            .admission(
                Chain::default_for(store)
                    .with(NodeRestriction)
                    .with(RbacEscalation::new(rbac.clone())),
            )
            .build();
        (server, Some(rbac))
    } else {
        (builder.build(), None)
    };
    // System namespaces, service IP/NodePort allocation repair, and the `kubernetes` Service
    // pointing at this server when it has an address other servers and pods can reach.
    let listen_ip = args.listen.ip();
    let advertise = args
        .advertise
        .or((!listen_ip.is_loopback() && !listen_ip.is_unspecified()).then_some(listen_ip));
    match advertise {
        Some(ip) => server
            .bootstrap(ip, args.listen.port())
            .await
            .context("bootstrap: system namespaces, allocations, kubernetes Service")?,
        None => {
            server
                .ensure_system_namespaces()
                .await
                .context("system namespaces")?;
            kube_api::alloc::repair(&server)
                .await
                .context("repairing service IP and node port allocations")?;
            eprintln!(
                "no --advertise-address and a loopback/unspecified --listen address: \
                 not creating the `kubernetes` Service"
            );
        }
    }
    if let Some(rbac) = &rbac {
        ensure_bootstrap_policy(&server)
            .await
            .context("bootstrap RBAC policy")?;
        rbac.wait_synced().await;
    }

    let mut tokens = match &args.token_file {
        Some(f) => StaticTokens::read(f).with_context(|| format!("{}", f.display()))?,
        None => StaticTokens::new(),
    };
    tokens = tokens.with(pki.admin_token.clone(), UserInfo::admin());
    let authn = Union(vec![
        Arc::new(tokens),
        Arc::new(ServiceAccountTokens::new(sa_keys, server.clone())),
    ]);
    let mut cfg = http::Config::new(pki.server_config()?, Arc::new(authn));
    cfg.anonymous = args.anonymous;
    cfg.version = args.version.clone();
    cfg.metrics = metrics;

    let running = http::bind(args.listen, server.clone(), cfg)
        .await
        .context("listen")?;
    // kube-apiserver's `kubernetes` Service controller: this server's master lease, renewed
    // every 10 s, keeps its address in the endpoints next to every other server's over the
    // same store.
    let port = running.local_addr().port();
    let kubernetes_service = advertise.map(|ip| {
        server.start_kubernetes_service_controller(
            ip,
            port,
            kube_api::alloc::EndpointReconcilerConfig::default(),
        )
    });
    let addr = running.local_addr();
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let url = format!("https://{host}:{}", addr.port());
    Kubeconfig::admin(&url, &pki.ca_pem, &pki.admin_token)
        .write(&args.kubeconfig)
        .context("writing the kubeconfig")?;
    println!(
        "serving the Kubernetes API ({}) on {url}; admin kubeconfig: {}",
        args.version.git_version,
        args.kubeconfig.display()
    );

    tokio::signal::ctrl_c().await?;
    if let (Some(ip), Some(controller)) = (advertise, kubernetes_service) {
        drop(controller);
        if let Err(e) = server.remove_kubernetes_endpoints(ip, port).await {
            eprintln!("removing this server from the kubernetes endpoints: {e}");
        }
    }
    running.shutdown();
    Ok(())
}
