//! Three API servers over one etcd: a highly available control plane in miniature.
//!
//! ```text
//! cargo run --features etcd --example etcd_backend
//! cargo run --features etcd --example etcd_backend -- --endpoints http://127.0.0.1:2379
//! ```
//!
//! Without `--endpoints`, a throw-away single-member etcd is started (the `etcd` binary from
//! `PATH` or `KUBOX_ETCD_BIN`, Debian package `etcd-server`; a fresh temporary data directory
//! and free loopback ports, removed again at exit — kube-store's etcd test harness). If
//! there is no etcd binary, the program says so and exits with status 1. With `--endpoints`,
//! the servers use that etcd, under the key prefix `--prefix` (default
//! `/kubox-example-<unix time>`, so runs never collide).
//!
//! Three [`Cluster`]s share the etcd (`StoreConfig::Etcd`), each with its own etcd connection
//! and HTTPS listener, as three kube-apiserver processes would, and one PKI (same CA, admin
//! token and service-account key). Server 1 is the full control plane — scheduler,
//! controllers and two simulated nodes; servers 2 and 3 serve the API only. The program shows:
//!
//! 1. a ConfigMap created through server 1 arrives in a watch opened on server 2 (same uid
//!    and resourceVersion), and server 3 reads it;
//! 2. two writers on servers 2 and 3 that read the same resourceVersion: the second update
//!    is a `409 Conflict` (etcd's compare-and-swap across servers); a create of the same name
//!    through server 3 is `AlreadyExists`;
//! 3. a Deployment created through server 3 over HTTPS is run by server 1's controllers,
//!    scheduler and nodes, and its pods are watched Running through server 2.
//!
//! It prints each step and exits 0 when everything behaved.

#[cfg(feature = "etcd")]
use demo::run;

#[cfg(feature = "etcd")]
#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match demo::parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let say = |line: String| println!("{line}");
    match run(args, &say).await {
        Ok(_) => println!("done: one API over one etcd, through three servers"),
        Err(demo::Failure::NoEtcd(msg)) => {
            eprintln!("etcd is not installed (no etcd binary to start): {msg}");
            eprintln!(
                "install it (Debian: apt-get install etcd-server), set KUBOX_ETCD_BIN, or pass \
                 --endpoints URL"
            );
            std::process::exit(1);
        }
        Err(demo::Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(feature = "etcd"))]
fn main() {
    eprintln!(
        "this example needs the `etcd` feature (etcd-client needs protoc to build):\n  \
         cargo run --features etcd --example etcd_backend"
    );
    std::process::exit(1);
}

/// The demonstration, also run by `tests/etcd_backend.rs`.
#[cfg(feature = "etcd")]
pub(crate) mod demo {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use anyhow::{bail, ensure, Context as _};
    use futures::StreamExt;
    use kubox::cluster::{join_client, Cluster, NodeSpec, ProxyMode, StoreConfig};
    use kubox::core::api::apps_v1::Deployment;
    use kubox::core::api::core_v1::{ConfigMap, Pod};
    use kubox::core::client::{Api, Client, ListParams, PostParams, WatchParams};
    use kubox::core::meta::WatchEventType;
    use kubox::store::etcd::testing::EtcdServer;

    /// Options.
    #[derive(Debug, Default)]
    pub(crate) struct Args {
        /// An etcd to use instead of starting one.
        pub(crate) endpoints: Vec<String>,
        /// The key prefix (with `endpoints`).
        pub(crate) prefix: Option<String>,
    }

    const USAGE: &str = "usage: etcd_backend [--endpoints URL[,URL…]] [--prefix /KEY/PREFIX]";

    /// Parses `--endpoints` and `--prefix`.
    pub(crate) fn parse_args(mut it: impl Iterator<Item = String>) -> anyhow::Result<Args> {
        let mut args = Args::default();
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--endpoints" => {
                    let v = it.next().context("--endpoints needs a value")?;
                    args.endpoints = v.split(',').map(|s| s.trim().to_string()).collect();
                }
                "--prefix" => args.prefix = Some(it.next().context("--prefix needs a value")?),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown flag {other:?}\n{USAGE}"),
            }
        }
        Ok(args)
    }

    /// Why [`run`] failed.
    #[derive(Debug)]
    pub(crate) enum Failure {
        /// No etcd binary to start (the message says how to get one).
        NoEtcd(String),
        /// Anything else.
        Other(anyhow::Error),
    }

    impl From<anyhow::Error> for Failure {
        fn from(e: anyhow::Error) -> Self {
            Failure::Other(e)
        }
    }

    /// What was observed, for the test.
    #[derive(Debug, Default)]
    pub(crate) struct Report {
        /// The watch on server 2 saw the create through server 1 with the same uid and
        /// resourceVersion.
        pub(crate) watch_matched: bool,
        /// The reason of the losing update (`Conflict`).
        pub(crate) conflict_reason: String,
        /// The reason of the duplicate create (`AlreadyExists`).
        pub(crate) duplicate_reason: String,
        /// Pods of the Deployment seen Running through server 2's watch.
        pub(crate) pods_running: usize,
        /// The nodes those pods ran on.
        pub(crate) pod_nodes: Vec<String>,
    }

    const REPLICAS: usize = 3;

    /// Starts (or uses) etcd and three servers, runs the steps, stops everything.
    pub(crate) async fn run(args: Args, say: &(dyn Fn(String) + Sync)) -> Result<Report, Failure> {
        // The etcd: given, or a throw-away one.
        let mut local = None;
        let (endpoints, prefix) = if args.endpoints.is_empty() {
            let etcd = EtcdServer::start().await.map_err(|e| {
                let msg = e.to_string();
                if msg.contains("not in PATH") || msg.contains("is not a file") {
                    Failure::NoEtcd(msg)
                } else {
                    Failure::Other(anyhow::anyhow!("starting etcd: {msg}"))
                }
            })?;
            say(format!(
                "etcd: started a throw-away member at {} (data in {})",
                etcd.endpoint(),
                etcd.data_dir().display()
            ));
            let endpoint = etcd.endpoint().to_string();
            local = Some(etcd);
            (vec![endpoint], String::new())
        } else {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let prefix = args
                .prefix
                .unwrap_or_else(|| format!("/kubox-example-{secs}"));
            say(format!(
                "etcd: using {} with key prefix {prefix}",
                args.endpoints.join(",")
            ));
            (args.endpoints, prefix)
        };
        let tmp = tempfile::Builder::new()
            .prefix("kubox-etcd-backend-")
            .tempdir()
            .context("temporary directory")?;

        // Three servers, started one after the other (the first one generates the PKI the
        // others load; the bootstrap of the others finds the system objects in place).
        let mut servers: Vec<Cluster> = Vec::new();
        let mut result = Ok(Report::default());
        for i in 1..=3 {
            let mut b = Cluster::builder()
                .store(StoreConfig::Etcd {
                    endpoints: endpoints.clone(),
                    prefix: prefix.clone(),
                })
                .data_dir(tmp.path())
                .kubeconfig(tmp.path().join(format!("server-{i}.kubeconfig")))
                .listen("127.0.0.1:0".parse().expect("an address"))
                .proxy(ProxyMode::None);
            b = if i == 1 {
                b.node(NodeSpec::simulated("sim-1"))
                    .node(NodeSpec::simulated("sim-2"))
            } else {
                b.scheduler(false).controllers(Vec::<String>::new())
            };
            match b.start().await {
                Ok(c) => {
                    say(format!(
                        "server {i}: API on {} ({})",
                        c.url().unwrap_or_default(),
                        if i == 1 {
                            "with scheduler, controllers and 2 simulated nodes"
                        } else {
                            "API only"
                        }
                    ));
                    servers.push(c);
                }
                Err(e) => {
                    result = Err(anyhow::Error::new(e).context(format!("starting server {i}")));
                    break;
                }
            }
        }
        if result.is_ok() {
            result = steps(&servers, say).await;
        }
        for (i, s) in servers.into_iter().enumerate().rev() {
            if let Err(e) = s.shutdown().await {
                result = result.and(Err(
                    anyhow::Error::new(e).context(format!("stopping server {}", i + 1))
                ));
            }
        }
        drop(local);
        Ok(result?)
    }

    fn cm(name: &str, value: &str) -> ConfigMap {
        let mut c = ConfigMap::new(name);
        c.data = Some(BTreeMap::from([("owner".to_string(), value.to_string())]));
        c
    }

    async fn steps(servers: &[Cluster], say: &(dyn Fn(String) + Sync)) -> anyhow::Result<Report> {
        let mut report = Report::default();
        let clients: Vec<Arc<dyn Client>> = servers.iter().map(|s| s.client()).collect();
        let cms = |i: usize| Api::<ConfigMap>::namespaced(clients[i].clone(), "default");

        // 1. A write through server 1, seen in a watch on server 2.
        let start = cms(1)
            .list(&ListParams::default())
            .await?
            .metadata
            .resource_version;
        let mut watch = cms(1)
            .watch(&WatchParams {
                resource_version: start,
                ..Default::default()
            })
            .await?;
        let created = cms(0)
            .create(&PostParams::default(), &cm("shared", "server-1"))
            .await?;
        let ev = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .context("no watch event on server 2 within 10s")?
            .context("the watch on server 2 ended")??;
        ensure!(
            ev.type_ == WatchEventType::Added,
            "want ADDED, got {:?}",
            ev.type_
        );
        report.watch_matched = ev.object.metadata.uid == created.metadata.uid
            && ev.object.metadata.resource_version == created.metadata.resource_version;
        ensure!(
            report.watch_matched,
            "the watch saw another object: {:?}",
            ev.object.metadata
        );
        say(format!(
            "1. created configmap default/shared through server 1 (uid {}, resourceVersion {}); \
             server 2's watch: ADDED, same uid and resourceVersion",
            created.metadata.uid.as_deref().unwrap_or(""),
            created.metadata.resource_version.as_deref().unwrap_or("")
        ));
        let read = cms(2).get("shared").await?;
        ensure!(
            read.metadata.uid == created.metadata.uid,
            "server 3 reads another object"
        );
        say("   server 3 reads the same object".into());

        // 2. Two writers on servers 2 and 3 with the same resourceVersion.
        let via2 = cms(1).get("shared").await?;
        let via3 = cms(2).get("shared").await?;
        ensure!(via2.metadata.resource_version == via3.metadata.resource_version);
        let mut w2 = via2.clone();
        w2.data = Some(BTreeMap::from([("owner".into(), "server-2".into())]));
        let mut w3 = via3.clone();
        w3.data = Some(BTreeMap::from([("owner".into(), "server-3".into())]));
        let won = cms(1)
            .replace("shared", &PostParams::default(), &w2)
            .await?;
        let lost = cms(2)
            .replace("shared", &PostParams::default(), &w3)
            .await
            .err()
            .context("the second update with a stale resourceVersion succeeded")?;
        report.conflict_reason = lost.reason().unwrap_or_default().to_string();
        ensure!(lost.is_conflict(), "want Conflict, got {lost}");
        say(format!(
            "2. servers 2 and 3 both read resourceVersion {}; server 2's update won \
             (now {}), server 3's: {} ({lost})",
            via2.metadata.resource_version.as_deref().unwrap_or(""),
            won.metadata.resource_version.as_deref().unwrap_or(""),
            report.conflict_reason
        ));
        let ev = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .context("no MODIFIED event within 10s")?
            .context("the watch ended")??;
        ensure!(
            ev.type_ == WatchEventType::Modified
                && ev
                    .object
                    .data
                    .as_ref()
                    .and_then(|d| d.get("owner"))
                    .map(String::as_str)
                    == Some("server-2"),
            "want MODIFIED owner=server-2, got {:?} {:?}",
            ev.type_,
            ev.object.data
        );
        say("   server 2's watch: MODIFIED owner=server-2".into());
        let dup = cms(2)
            .create(&PostParams::default(), &cm("shared", "server-3"))
            .await
            .err()
            .context("a duplicate create succeeded")?;
        report.duplicate_reason = dup.reason().unwrap_or_default().to_string();
        ensure!(dup.is_already_exists(), "want AlreadyExists, got {dup}");
        say(format!(
            "   creating default/shared again through server 3: {dup}"
        ));
        drop(watch);

        // 3. A Deployment through server 3 over HTTPS, run by server 1's control plane and
        //    nodes, watched through server 2.
        //    The servers share one PKI: server 1's CA and admin token work on server 3.
        let (s1, s3) = (&servers[0], &servers[2]);
        ensure!(s1.ca_pem() == s3.ca_pem(), "the servers have different CAs");
        let https = join_client(
            s3.url().context("server 3 serves HTTPS")?,
            s1.ca_pem().context("a CA")?,
            s1.admin_token().context("an admin token")?,
        )?;
        let pods2: Api<Pod> = Api::namespaced(clients[1].clone(), "default");
        let start = pods2
            .list(&ListParams::default())
            .await?
            .metadata
            .resource_version;
        let mut pod_watch = pods2
            .watch(&WatchParams {
                resource_version: start,
                label_selector: Some("app=hello".into()),
                ..Default::default()
            })
            .await?;
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "hello"},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "hello"}},
                "template": {"metadata": {"labels": {"app": "hello"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}]}}}
        }))?;
        Api::<Deployment>::namespaced(https, "default")
            .create(&PostParams::default(), &d)
            .await?;
        say(format!(
            "3. created deployment default/hello ({REPLICAS} replicas) through server 3 over \
             HTTPS, with server 1's CA and admin token"
        ));
        let mut running: BTreeMap<String, String> = BTreeMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while running.len() < REPLICAS {
            let ev = tokio::time::timeout_at(deadline, pod_watch.next())
                .await
                .with_context(|| format!("only {} pods Running after 30s", running.len()))?
                .context("the pod watch ended")??;
            let p = ev.object;
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            if let (Some("Running"), Some(node), Some(name)) =
                (phase, node, p.metadata.name.clone())
            {
                if running.insert(name.clone(), node.clone()).is_none() {
                    say(format!("   server 2's watch: pod {name} Running on {node}"));
                }
            }
        }
        report.pods_running = running.len();
        report.pod_nodes = running.into_values().collect();
        Ok(report)
    }
}
