//! An application's own controller on kube-ctrl's controller runtime, inside a [`Cluster`].
//!
//! `namespace-info` keeps a ConfigMap `namespace-info` in every active Namespace (except the
//! `kube-*` system ones) holding the namespace's name and owning team — the value of its
//! `example.com/team` label, `unassigned` without one. It is level-triggered like the
//! built-in controllers: it watches Namespaces and ConfigMaps through the shared informers,
//! puts the namespace's name on the work queue on every relevant change, and its reconcile
//! compares the cached ConfigMap with the desired one, creating or overwriting it. So
//! relabelling a namespace updates its ConfigMap, and deleting or editing the ConfigMap by
//! hand brings it back. Each write is recorded as an Event (`NamespaceInfoCreated`,
//! `NamespaceInfoUpdated`) on the ConfigMap. The controller runs under its own
//! [`ControllerManager`] next to the cluster's (which keeps running the built-in controllers:
//! deleting a namespace still empties it).
//!
//! ```text
//! cargo run --example custom_controller                 # serve a cluster until Ctrl-C
//! cargo run --example custom_controller -- --check      # run the tour below, then exit
//! cargo run --example custom_controller -- [--listen ADDR] [--kubeconfig PATH]
//! ```
//!
//! Without `--check`, the cluster serves HTTPS on `ADDR` (default `127.0.0.1:6444`) and
//! writes its admin kubeconfig to `PATH` (default `.kubox/custom-controller.kubeconfig`).
//! Then observe the controller with kubectl:
//!
//! ```text
//! export KUBECONFIG=.kubox/custom-controller.kubeconfig
//! kubectl create namespace demo
//! kubectl get configmap namespace-info -n demo -o yaml      # team: unassigned
//! kubectl label namespace demo example.com/team=payments
//! kubectl get configmap namespace-info -n demo -o jsonpath='{.data.team}'   # payments
//! kubectl delete configmap namespace-info -n demo
//! kubectl get configmap -n demo                             # it is back
//! kubectl get events -n demo                                # NamespaceInfoCreated, …Updated
//! kubectl delete namespace demo                             # the ConfigMap goes with it
//! ```
//!
//! With `--check` the same tour runs through the in-process client, each step is printed
//! with what was observed, and the program exits 0 when every step behaved (1 otherwise).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use async_trait::async_trait;
use kubox::cluster::{Cluster, ProxyMode};
use kubox::core::api::core_v1::{ConfigMap, Event, Namespace};
use kubox::core::client::{Api, Client, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kubox::core::meta::ObjectMeta;
use kubox::core::runtime::events::{object_reference, EventType, Recorder};
use kubox::core::runtime::{Change, Informer, ObjectKey};
use kubox::ctrl::manager::{ControllerManager, Options};
use kubox::ctrl::runtime::{
    enqueue_on, key_of, tokio_clock, Action, Context, Controller, Metrics, Result, WorkQueue,
};
use serde_json::json;
use tokio::task::JoinHandle;

/// The controller's name (in the manager, metrics and logs).
pub(crate) const NAME: &str = "namespace-info";
/// The ConfigMap it keeps in every namespace.
pub(crate) const CONFIGMAP: &str = "namespace-info";
/// The namespace label naming the owning team.
pub(crate) const TEAM_LABEL: &str = "example.com/team";
/// The Event source of the controller's Events.
const COMPONENT: &str = "namespace-info-controller";

/// Keeps `namespace-info` ConfigMaps (see the crate documentation).
struct NamespaceInfo {
    ctx: Context,
    namespaces: Informer<Namespace>,
    configmaps: Informer<ConfigMap>,
    recorder: Recorder,
}

impl NamespaceInfo {
    fn new(ctx: &Context) -> Self {
        NamespaceInfo {
            namespaces: ctx.informers.get::<Namespace>(),
            configmaps: ctx.informers.get::<ConfigMap>(),
            recorder: ctx.recorder(COMPONENT),
            ctx: ctx.clone(),
        }
    }

    /// What the ConfigMap of `ns` should hold.
    fn desired(ns: &Namespace) -> BTreeMap<String, String> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let team = ns
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(TEAM_LABEL))
            .cloned()
            .unwrap_or_else(|| "unassigned".into());
        BTreeMap::from([("namespace".into(), name), ("team".into(), team)])
    }

    async fn event(&self, cm: &ConfigMap, reason: &str, message: String) {
        // An Event that cannot be written is not worth a retry of the key.
        if let Err(e) = self
            .recorder
            .record(&object_reference(cm), EventType::Normal, reason, &message)
            .await
        {
            tracing::debug!(error = %e, "event not recorded");
        }
    }
}

fn managed(ns: &str) -> bool {
    !ns.starts_with("kube-")
}

#[async_trait]
impl Controller for NamespaceInfo {
    fn name(&self) -> &'static str {
        NAME
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        // Keys are namespace names: a namespace appearing or changing …
        let namespaces = enqueue_on(&self.namespaces, queue.clone(), |c| match c {
            Change::Deleted(_) => Vec::new(),
            c => vec![key_of(c.object().as_ref())],
        });
        // … or its ConfigMap being changed or deleted by someone else.
        let configmaps = enqueue_on(&self.configmaps, queue.clone(), |c| {
            let cm = c.object();
            if cm.metadata.name.as_deref() == Some(CONFIGMAP) {
                cm.metadata.namespace.clone().into_iter().collect()
            } else {
                Vec::new()
            }
        });
        vec![namespaces, configmaps]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(ns) = self.namespaces.store().get(&ObjectKey::cluster(key)) else {
            return Ok(Action::Done);
        };
        let terminating = ns.metadata.deletion_timestamp.is_some()
            || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
        if terminating || !managed(key) {
            return Ok(Action::Done);
        }
        let data = Self::desired(&ns);
        let api: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), key);
        let cached = self
            .configmaps
            .store()
            .get(&ObjectKey::namespaced(key, CONFIGMAP));
        match cached {
            Some(cm) if cm.data.as_ref() == Some(&data) => Ok(Action::Done),
            Some(cm) => {
                // Overwrite what differs; the cached resourceVersion makes a concurrent edit
                // a Conflict, retried with backoff once the cache caught up.
                let mut want = (*cm).clone();
                let before = want.data.replace(data.clone()).unwrap_or_default();
                match api.replace(CONFIGMAP, &PostParams::default(), &want).await {
                    Ok(saved) => {
                        let msg = format!(
                            "set team={} (was {})",
                            data["team"],
                            before.get("team").map(String::as_str).unwrap_or("<none>")
                        );
                        self.event(&saved, "NamespaceInfoUpdated", msg).await;
                        Ok(Action::Done)
                    }
                    // Deleted meanwhile: its delete event brings the key back.
                    Err(e) if e.is_not_found() => Ok(Action::Done),
                    Err(e) => Err(e.into()),
                }
            }
            None => {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(CONFIGMAP.into()),
                        namespace: Some(key.into()),
                        labels: Some(BTreeMap::from([(
                            "app.kubernetes.io/managed-by".into(),
                            COMPONENT.into(),
                        )])),
                        ..Default::default()
                    },
                    data: Some(data.clone()),
                    ..Default::default()
                };
                match api.create(&PostParams::default(), &cm).await {
                    Ok(saved) => {
                        let msg = format!("created with team={}", data["team"]);
                        self.event(&saved, "NamespaceInfoCreated", msg).await;
                        Ok(Action::Done)
                    }
                    // The cache has not seen our own create yet: look again shortly.
                    Err(e) if e.is_already_exists() => Ok(Action::Requeue),
                    // The namespace started terminating: nothing to keep.
                    Err(e) if e.reason() == Some("Forbidden") => Ok(Action::Done),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

/// A controller manager running only `namespace-info` over `client`.
pub(crate) fn manager(client: Arc<dyn Client>) -> ControllerManager {
    let options = Options {
        controllers: vec![NAME.into()],
        ..Options::default()
    };
    let mut m = ControllerManager::new(client, options, tokio_clock());
    m.register(
        NAME,
        Arc::new(|ctx: &Context| Arc::new(NamespaceInfo::new(ctx)) as Arc<dyn Controller>),
    );
    m
}

/// The running manager: stop it with [`Running::stop`].
pub(crate) struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<kubox::ctrl::manager::Outcome>,
    /// The manager's metrics (reconciles, retries, queue depth).
    pub(crate) metrics: Metrics,
}

impl Running {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Starts [`manager`] on the current runtime.
pub(crate) fn start(client: Arc<dyn Client>) -> Running {
    let m = manager(client);
    let metrics = m.metrics();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(m.run(async move {
        let _ = stopped.await;
    }));
    Running {
        stop,
        task,
        metrics,
    }
}

/// Polls `f` every 50 ms until it yields `Some`, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `ns`'s ConfigMap holds `team`; returns it.
async fn team_is(api: &Api<ConfigMap>, team: &str) -> anyhow::Result<ConfigMap> {
    eventually(10, &format!("namespace-info with team={team}"), || async {
        Ok(api.get_opt(CONFIGMAP).await?.filter(|cm| {
            cm.data
                .as_ref()
                .and_then(|d| d.get("team"))
                .map(String::as_str)
                == Some(team)
        }))
    })
    .await
}

/// The scripted tour (what `--check` runs): creates namespace `ns`, relabels it, deletes and
/// edits its ConfigMap, checks the Events, deletes the namespace. `say` gets one line per
/// step.
pub(crate) async fn check(
    client: Arc<dyn Client>,
    ns: &str,
    say: &(dyn Fn(String) + Send + Sync),
) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    let mut n = Namespace::new(ns);
    n.metadata.labels = Some(BTreeMap::from([(TEAM_LABEL.into(), "payments".into())]));
    namespaces.create(&PostParams::default(), &n).await?;
    let cm = team_is(&cms, "payments").await?;
    let first_uid = cm.metadata.uid.clone();
    ensure!(
        cm.data
            .as_ref()
            .and_then(|d| d.get("namespace"))
            .map(String::as_str)
            == Some(ns),
        "the ConfigMap names its namespace: {:?}",
        cm.data
    );
    say(format!(
        "created namespace {ns} (team=payments) -> configmap {ns}/{CONFIGMAP} {:?}",
        cm.data.unwrap_or_default()
    ));

    let relabel = json!({"metadata": {"labels": {TEAM_LABEL: "search"}}});
    namespaces
        .patch(ns, &PatchParams::default(), Patch::Merge(relabel))
        .await?;
    team_is(&cms, "search").await?;
    say(format!(
        "relabelled {ns} to team=search -> configmap says team=search"
    ));

    cms.delete(CONFIGMAP, &DeleteParams::default()).await?;
    let back = eventually(10, "the ConfigMap to come back", || async {
        Ok(cms
            .get_opt(CONFIGMAP)
            .await?
            .filter(|cm| cm.metadata.uid != first_uid))
    })
    .await?;
    ensure!(
        back.data
            .as_ref()
            .and_then(|d| d.get("team"))
            .map(String::as_str)
            == Some("search"),
        "recreated with the current team: {:?}",
        back.data
    );
    say(format!(
        "deleted the configmap -> recreated (uid {})",
        back.metadata.uid.unwrap_or_default()
    ));

    let edit = json!({"data": {"team": "someone-else"}});
    cms.patch(CONFIGMAP, &PatchParams::default(), Patch::Merge(edit))
        .await?;
    team_is(&cms, "search").await?;
    say("edited data.team by hand -> reverted to team=search".to_string());

    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let reasons = eventually(10, "the controller's Events", || async {
        let list = events.list(&ListParams::default()).await?;
        let mine: Vec<String> = list
            .items
            .iter()
            .filter(|e| e.source.as_ref().and_then(|s| s.component.as_deref()) == Some(COMPONENT))
            .filter_map(|e| e.reason.clone())
            .collect();
        let has = |r: &str| mine.iter().any(|m| m == r);
        Ok((has("NamespaceInfoCreated") && has("NamespaceInfoUpdated")).then_some(mine))
    })
    .await?;
    say(format!("events in {ns} from {COMPONENT}: {reasons:?}"));

    let system = Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .get_opt(CONFIGMAP)
        .await?;
    ensure!(system.is_none(), "kube-system is left alone");
    team_is(&Api::namespaced(client.clone(), "default"), "unassigned").await?;
    say("namespace default got one (team=unassigned); kube-system none".to_string());

    namespaces.delete(ns, &DeleteParams::default()).await?;
    eventually(30, &format!("namespace {ns} to be gone"), || async {
        Ok(namespaces.get_opt(ns).await?.is_none().then_some(()))
    })
    .await?;
    say(format!("deleted namespace {ns} -> gone with its configmap"));
    Ok(())
}

struct Args {
    check: bool,
    listen: SocketAddr,
    kubeconfig: PathBuf,
}

const USAGE: &str = "usage: custom_controller [--check] [--listen ADDR:PORT] [--kubeconfig PATH]";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        check: false,
        listen: "127.0.0.1:6444".parse()?,
        kubeconfig: PathBuf::from(".kubox/custom-controller.kubeconfig"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--check" => args.check = true,
            "--listen" => {
                let v = it.next().context("--listen needs a value")?;
                args.listen = v.parse().with_context(|| format!("--listen {v}"))?;
            }
            "--kubeconfig" => {
                args.kubeconfig = it.next().context("--kubeconfig needs a value")?.into()
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown flag {other:?}\n{USAGE}"),
        }
    }
    Ok(args)
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
    let mut builder = Cluster::builder().proxy(ProxyMode::None);
    if !args.check {
        builder = builder.listen(args.listen).kubeconfig(&args.kubeconfig);
    }
    let cluster = builder.start().await.context("starting the cluster")?;
    let client = cluster.client();
    let running = start(client.clone());
    println!("controller {NAME} running next to the cluster's built-in controllers");

    let outcome = if args.check {
        let say = |line: String| println!("  {line}");
        check(client.clone(), "demo", &say).await
    } else {
        let kc = cluster
            .kubeconfig()
            .context("HTTPS is on")?
            .display()
            .to_string();
        println!("API {} — try:\n", cluster.url().unwrap_or_default());
        println!("  export KUBECONFIG={kc}");
        println!("  kubectl create namespace demo");
        println!("  kubectl get configmap {CONFIGMAP} -n demo -o yaml");
        println!("  kubectl label namespace demo {TEAM_LABEL}=payments");
        println!("  kubectl delete configmap {CONFIGMAP} -n demo && kubectl get configmap -n demo");
        println!("  kubectl get events -n demo");
        println!("\nCtrl-C stops the cluster.");
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
    };
    let m = running.metrics.get(NAME);
    running.stop().await;
    if let Some(m) = m {
        println!(
            "{NAME}: {} reconciles ok, {} requeued, {} failed",
            m.reconcile_success.get(),
            m.reconcile_requeue.get(),
            m.reconcile_errors.get()
        );
    }
    drop(client);
    cluster.shutdown().await.context("shutting down")?;
    match outcome {
        Ok(()) if args.check => {
            println!("check passed");
            Ok(())
        }
        Ok(()) => Ok(()),
        Err(e) => Err(e.context("check failed")),
    }
}
