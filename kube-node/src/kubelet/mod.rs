//! The kubelet: registers its Node, heartbeats through a Lease, watches the pods bound to it
//! (and static pods from files or URLs) and converges each one through the
//! [`Runtime`](crate::runtime::Runtime).
//!
//! # Design (after Kubernetes' `pkg/kubelet`)
//!
//! - [`Kubelet::run`] registers the Node ([`node_status`]), starts the node-status and lease
//!   loops, an informer on `spec.nodeName=<node>` pods, and one **pod worker** task per pod
//!   (`pod_workers.go`): updates of a pod are coalesced (the worker always syncs the newest
//!   object) and a pod's syncs never overlap.
//! - Each sync ([`sync`]) follows `kuberuntime_manager.go`'s `SyncPod`: admission, deadline,
//!   the sandbox, init containers in order, then app containers with restart policies,
//!   CrashLoopBackOff ([`backoff`]), spec-hash changes and liveness kills; then the status
//!   ([`status`]) is written through `pods/status` when it changed.
//! - **PLEG**: the runtime is relisted every second; a pod whose containers changed state is
//!   synced at once. Every pod is also resynced periodically.
//! - Probes run in their own tasks ([`prober`]); a result change wakes the pod's worker.
//! - **Ownership**: every runtime object the kubelet creates carries
//!   [`labels::NODE_NAME`](crate::labels::NODE_NAME); the kubelet lists, adopts, stops and
//!   removes only objects with its own node name. On start it adopts running containers
//!   (restart counts from their annotations); containers of pods that no longer exist are
//!   stopped and removed.
//! - Graceful deletion: preStop hook, stop with the grace period, then the final `DELETE` with
//!   `gracePeriodSeconds: 0` and a UID precondition.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use kube_node::kubelet::Kubelet;
//! use kube_node::runtime::Runtime;
//! # async fn f(runtime: Arc<dyn Runtime>, client: Arc<dyn kubox_core::client::Client>) {
//! let kubelet = Kubelet::builder("node-1", runtime, client)
//!     .log_root("/tmp/kubox/pods")
//!     .build();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let task = tokio::spawn(kubelet.run(async {
//!     let _ = stopped.await;
//! }));
//! // ... later: stop the kubelet (its containers keep running; a new kubelet adopts them).
//! let _ = stop.send(());
//! task.await.unwrap();
//! # }
//! ```

pub mod backoff;
pub mod events;
pub mod node_status;
pub mod prober;
pub mod status;
pub mod sync;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use kubox_core::api::core_v1::{NodeAddress, Pod};
use kubox_core::client::{Api, Client, DeleteParams, PostParams};
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::informer::Informer;
use kubox_core::runtime::reflector::{Change, ObjectKey, Store};
use kubox_core::runtime::watcher;
use kubox_core::Quantity;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::clock::{Clock, TokioClock};
use crate::labels;
use crate::runtime::{ContainerFilter, ContainerState, Runtime, SandboxFilter};
use crate::sources::{self, StaticPodSource};

/// The kubelet's version as reported in `nodeInfo.kubeletVersion`.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// The kubelet's settings (Kubernetes' `KubeletConfiguration`, the parts that apply here).
#[derive(Debug, Clone)]
pub struct Config {
    /// The node's name.
    pub node_name: String,
    /// Capacity (`cpu`, `memory`, `pods`, `ephemeral-storage`); `None`: detected from the host
    /// with `pods` = [`Config::max_pods`].
    pub capacity: Option<BTreeMap<String, Quantity>>,
    /// Allocatable; `None`: capacity minus the default hard-eviction thresholds (memory
    /// 100Mi, ephemeral-storage 10%).
    pub allocatable: Option<BTreeMap<String, Quantity>>,
    /// Maximum pods (`maxPods`, 110).
    pub max_pods: i64,
    /// Extra node labels (the kubelet always sets hostname, os and arch).
    pub labels: BTreeMap<String, String>,
    /// Node addresses; empty: InternalIP detected from the host, Hostname = node name.
    pub addresses: Vec<NodeAddress>,
    /// The kubelet's port for `daemonEndpoints.kubeletEndpoint` (10250).
    pub port: u16,
    /// The root of the pod log directories (`/var/log/pods`).
    pub log_root: PathBuf,
    /// How often the node status is computed (10 s).
    pub status_update_frequency: Duration,
    /// How often the node status is written even if unchanged (5 min).
    pub status_report_frequency: Duration,
    /// The node lease's duration in seconds (40; renewed every quarter of it).
    pub lease_duration_seconds: i32,
    /// How often every pod is resynced without an event (10 s).
    pub resync_interval: Duration,
    /// How often the runtime is relisted (PLEG, 1 s).
    pub pleg_period: Duration,
    /// How often orphans are cleaned up and mirror pods checked (2 s).
    pub housekeeping_period: Duration,
    /// Static pod sources (files, URLs).
    pub static_pod_sources: Vec<StaticPodSource>,
    /// Keep this many dead instances of each container (1: the one `--previous` shows).
    pub max_dead_per_container: usize,
}

impl Config {
    /// The defaults for `node_name`.
    pub fn new(node_name: &str) -> Self {
        Config {
            node_name: node_name.to_string(),
            capacity: None,
            allocatable: None,
            max_pods: 110,
            labels: BTreeMap::new(),
            addresses: Vec::new(),
            port: 10250,
            log_root: PathBuf::from("/var/log/pods"),
            status_update_frequency: Duration::from_secs(10),
            status_report_frequency: Duration::from_secs(300),
            lease_duration_seconds: 40,
            resync_interval: Duration::from_secs(10),
            pleg_period: Duration::from_secs(1),
            housekeeping_period: Duration::from_secs(2),
            static_pod_sources: Vec::new(),
            max_dead_per_container: 1,
        }
    }
}

/// Builds a [`Kubelet`].
pub struct Builder {
    config: Config,
    runtime: Arc<dyn Runtime>,
    client: Arc<dyn Client>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Replaces the whole configuration (the node name included).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
    /// The clock (default [`TokioClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Sets the capacity (simulation); allocatable follows from it unless set.
    pub fn capacity(mut self, capacity: BTreeMap<String, Quantity>) -> Self {
        self.config.capacity = Some(capacity);
        self
    }
    /// Sets the allocatable resources.
    pub fn allocatable(mut self, allocatable: BTreeMap<String, Quantity>) -> Self {
        self.config.allocatable = Some(allocatable);
        self
    }
    /// Adds a node label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.config.labels.insert(key.into(), value.into());
        self
    }
    /// Adds a node address (`InternalIP`, `Hostname`, …).
    pub fn address(mut self, type_: &str, address: &str) -> Self {
        self.config.addresses.push(NodeAddress {
            address: address.into(),
            type_: type_.into(),
        });
        self
    }
    /// The kubelet's port (for `daemonEndpoints`).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }
    /// The root of the pod log directories.
    pub fn log_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.log_root = dir.into();
        self
    }
    /// Adds a static pod source.
    pub fn static_pod_source(mut self, source: StaticPodSource) -> Self {
        self.config.static_pod_sources.push(source);
        self
    }
    /// The kubelet.
    pub fn build(self) -> Kubelet {
        Kubelet {
            cfg: self.config,
            runtime: self.runtime,
            client: self.client,
            clock: self.clock,
        }
    }
}

/// The node agent. See the [module documentation](self).
pub struct Kubelet {
    cfg: Config,
    runtime: Arc<dyn Runtime>,
    client: Arc<dyn Client>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubelet")
            .field("node", &self.cfg.node_name)
            .finish_non_exhaustive()
    }
}

/// State shared by the kubelet's tasks.
pub(crate) struct Inner {
    pub(crate) cfg: Config,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) client: Arc<dyn Client>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) recorder: events::Recorder,
    pub(crate) runtime_name: OnceLock<String>,
    pub(crate) node_ip: OnceLock<String>,
    pub(crate) node_uid: OnceLock<String>,
    pub(crate) allocatable: OnceLock<BTreeMap<String, Quantity>>,
    pub(crate) pods: OnceLock<Store<Pod>>,
    /// Admitted pods and their requests (uid → requests).
    pub(crate) admitted: Mutex<HashMap<String, sync::Requests>>,
    /// Wakes the worker of a pod (uid → notify).
    pub(crate) pokes: Mutex<HashMap<String, Arc<Notify>>>,
    pub(crate) prober: prober::Manager,
}

impl Inner {
    pub(crate) fn node_name(&self) -> &str {
        &self.cfg.node_name
    }
    pub(crate) fn runtime_name(&self) -> &str {
        self.runtime_name
            .get()
            .map(String::as_str)
            .unwrap_or("unknown")
    }
    pub(crate) fn node_ip(&self) -> &str {
        self.node_ip.get().map(String::as_str).unwrap_or("")
    }
    pub(crate) fn owner_labels(&self) -> crate::runtime::Labels {
        let mut l = BTreeMap::new();
        l.insert(labels::NODE_NAME.to_string(), self.cfg.node_name.clone());
        l
    }
    /// Wakes the worker of pod `uid`.
    pub(crate) fn poke(&self, uid: &str) {
        let n = self
            .pokes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uid)
            .cloned();
        if let Some(n) = n {
            n.notify_one();
        }
    }
}

/// What a pod worker is told.
#[derive(Clone, Debug)]
pub(crate) struct PodWork {
    pub(crate) pod: Arc<Pod>,
    /// The pod is gone from its source (deleted from the API, or removed from a static source).
    pub(crate) removed: bool,
    /// A static pod (its status goes to the mirror pod).
    pub(crate) is_static: bool,
}

struct WorkerHandle {
    tx: watch::Sender<PodWork>,
    task: JoinHandle<()>,
}

impl Kubelet {
    /// A builder for a kubelet on node `node_name`.
    pub fn builder(node_name: &str, runtime: Arc<dyn Runtime>, client: Arc<dyn Client>) -> Builder {
        Builder {
            config: Config::new(node_name),
            runtime,
            client,
            clock: Arc::new(TokioClock::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Runs the kubelet until `shutdown` resolves. Containers keep running after it returns
    /// (a restarted kubelet adopts them).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let inner = Arc::new(Inner {
            recorder: events::Recorder::new(
                self.client.clone(),
                &self.cfg.node_name,
                self.clock.clone(),
            ),
            cfg: self.cfg,
            runtime: self.runtime,
            client: self.client,
            clock: self.clock,
            runtime_name: OnceLock::new(),
            node_ip: OnceLock::new(),
            node_uid: OnceLock::new(),
            allocatable: OnceLock::new(),
            pods: OnceLock::new(),
            admitted: Mutex::new(HashMap::new()),
            pokes: Mutex::new(HashMap::new()),
            prober: prober::Manager::default(),
        });
        tokio::pin!(shutdown);
        let mut main = std::pin::pin!(run_main(inner.clone()));
        tokio::select! {
            _ = &mut shutdown => {}
            _ = &mut main => {}
        }
        inner.prober.stop_all();
    }
}

/// Tasks aborted when the kubelet stops.
#[derive(Default)]
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

struct Workers(HashMap<String, WorkerHandle>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in self.0.values() {
            w.task.abort();
        }
    }
}

async fn run_main(inner: Arc<Inner>) {
    let mut tasks = Tasks::default();
    // The runtime's name (for containerIDs).
    let mut delay = Duration::from_millis(200);
    loop {
        match inner.runtime.version().await {
            Ok(v) => {
                let _ = inner.runtime_name.set(v.runtime_name);
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "container runtime not available");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(7));
            }
        }
    }
    // Register the node, then keep its status and lease.
    let node = node_status::NodeStatusManager::new(inner.clone()).await;
    node.register().await;
    inner.recorder.event(
        events::node_ref(inner.node_name()),
        events::NORMAL,
        "Starting",
        "Starting kubelet.",
    );
    tasks.0.push(tokio::spawn(node.run()));
    tasks
        .0
        .push(tokio::spawn(node_status::lease_loop(inner.clone())));

    // Pods bound to this node.
    let (informer, driver) = Informer::<Pod>::new(
        inner.client.clone(),
        None,
        watcher::Config::default().fields(&format!("spec.nodeName={}", inner.node_name())),
        sleep_fn(tokio::time::sleep),
    );
    tasks.0.push(tokio::spawn(driver.run()));
    let _ = inner.pods.set(informer.store().clone());
    let mut changes = informer.subscribe();
    if informer.wait_until_ready().await.is_err() {
        return;
    }

    let mut workers = Workers(HashMap::new());
    let mut statics: HashMap<String, Arc<Pod>> = HashMap::new();
    let mut static_lists: Vec<Vec<Pod>> = vec![Vec::new(); inner.cfg.static_pod_sources.len()];
    let mut pleg_state: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    let cleaning: Arc<Mutex<HashSet<String>>> = Arc::default();

    let mut pleg = tokio::time::interval(inner.cfg.pleg_period);
    pleg.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut housekeeping = tokio::time::interval(inner.cfg.housekeeping_period);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let static_period = inner
        .cfg
        .static_pod_sources
        .iter()
        .map(|s| s.check_frequency())
        .min()
        .unwrap_or(sources::FILE_CHECK_FREQUENCY);
    let mut static_tick = tokio::time::interval(static_period);
    static_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // Everything known now gets its worker before the first orphan cleanup: the cached
    // pods (adopting their running containers) and the static pods.
    while let Some(change) = changes.try_next() {
        if let Change::Added(pod) = change {
            if !sources::is_mirror_pod(&pod) {
                dispatch(&inner, &mut workers, pod, false, false);
            }
        }
    }
    if !inner.cfg.static_pod_sources.is_empty() {
        static_tick.tick().await;
        for (i, source) in inner.cfg.static_pod_sources.iter().enumerate() {
            match source.list().await {
                Ok(pods) => static_lists[i] = pods,
                Err(e) => tracing::warn!(error = %e, "static pod source"),
            }
        }
        for p in static_lists.iter().flatten() {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            let p = Arc::new(p.clone());
            dispatch(&inner, &mut workers, p.clone(), false, true);
            statics.insert(uid, p);
        }
    }

    loop {
        tokio::select! {
            change = changes.next() => {
                let Some(change) = change else { break };
                match change {
                    Change::Added(pod) | Change::Updated { new: pod, .. } => {
                        if sources::is_mirror_pod(&pod) {
                            // The static pod's worker writes the status to its mirror.
                            let name = pod.metadata.name.clone().unwrap_or_default();
                            let ns = pod.metadata.namespace.clone().unwrap_or_default();
                            if let Some(sp) = statics.values().find(|p| p.metadata.name.as_deref() == Some(&name) && p.metadata.namespace.as_deref() == Some(&ns)) {
                                inner.poke(sp.metadata.uid.as_deref().unwrap_or_default());
                            }
                            continue;
                        }
                        dispatch(&inner, &mut workers, pod, false, false);
                    }
                    Change::Deleted(pod) => {
                        if sources::is_mirror_pod(&pod) {
                            continue;
                        }
                        dispatch(&inner, &mut workers, pod, true, false);
                    }
                }
            }
            _ = pleg.tick() => {
                relist(&inner, &mut pleg_state).await;
            }
            _ = housekeeping.tick() => {
                workers.0.retain(|uid, w| {
                    let done = w.task.is_finished();
                    if done {
                        inner.pokes.lock().unwrap_or_else(|e| e.into_inner()).remove(uid);
                        inner.admitted.lock().unwrap_or_else(|e| e.into_inner()).remove(uid);
                        inner.prober.remove_pod(uid);
                    }
                    !done
                });
                let live: HashSet<String> = workers.0.keys().cloned().collect();
                cleanup_orphans(&inner, &live, &cleaning);
                sync_mirror_pods(&inner, &statics).await;
            }
            _ = static_tick.tick(), if !inner.cfg.static_pod_sources.is_empty() => {
                for (i, source) in inner.cfg.static_pod_sources.iter().enumerate() {
                    match source.list().await {
                        Ok(pods) => static_lists[i] = pods,
                        Err(e) => tracing::warn!(error = %e, "static pod source"),
                    }
                }
                let mut now: HashMap<String, Arc<Pod>> = HashMap::new();
                for p in static_lists.iter().flatten() {
                    let uid = p.metadata.uid.clone().unwrap_or_default();
                    now.insert(uid, Arc::new(p.clone()));
                }
                for (uid, p) in &statics {
                    if !now.contains_key(uid) {
                        dispatch(&inner, &mut workers, p.clone(), true, true);
                    }
                }
                for p in now.values() {
                    let uid = p.metadata.uid.as_deref().unwrap_or_default();
                    if !statics.contains_key(uid) {
                        dispatch(&inner, &mut workers, p.clone(), false, true);
                    }
                }
                statics = now;
                sync_mirror_pods(&inner, &statics).await;
            }
        }
    }
}

/// Sends a pod to its worker, starting one when needed.
fn dispatch(
    inner: &Arc<Inner>,
    workers: &mut Workers,
    pod: Arc<Pod>,
    removed: bool,
    is_static: bool,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    let work = PodWork {
        pod,
        removed,
        is_static,
    };
    if let Some(w) = workers.0.get(&uid) {
        if !w.task.is_finished() {
            w.tx.send_replace(work);
            return;
        }
        if removed {
            return;
        }
    } else if removed {
        return;
    }
    let (tx, rx) = watch::channel(work);
    let poke = Arc::new(Notify::new());
    inner
        .pokes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(uid.clone(), poke.clone());
    let task = tokio::spawn(sync::pod_worker(inner.clone(), uid.clone(), rx, poke));
    workers.0.insert(uid, WorkerHandle { tx, task });
}

/// PLEG: relists the runtime and wakes the workers of pods whose containers changed.
async fn relist(inner: &Arc<Inner>, last: &mut HashMap<String, Vec<(String, bool)>>) {
    let filter = ContainerFilter {
        labels: inner.owner_labels(),
        ..Default::default()
    };
    let Ok(containers) = inner.runtime.list_containers(&filter).await else {
        return;
    };
    let sandboxes = inner
        .runtime
        .list_pod_sandboxes(&SandboxFilter {
            labels: inner.owner_labels(),
            ..Default::default()
        })
        .await
        .unwrap_or_default();
    let mut now: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for c in &containers {
        if let Some(uid) = c.labels.get(labels::POD_UID) {
            let running = matches!(c.state, ContainerState::Running | ContainerState::Created);
            now.entry(uid.clone())
                .or_default()
                .push((c.id.clone(), running));
        }
    }
    for s in &sandboxes {
        if let Some(uid) = s.labels.get(labels::POD_UID) {
            let ready = s.state == crate::runtime::SandboxState::Ready;
            now.entry(uid.clone())
                .or_default()
                .push((s.id.clone(), ready));
        }
    }
    for v in now.values_mut() {
        v.sort();
    }
    for (uid, v) in &now {
        if last.get(uid) != Some(v) {
            inner.poke(uid);
        }
    }
    for uid in last.keys() {
        if !now.contains_key(uid) {
            inner.poke(uid);
        }
    }
    *last = now;
}

/// Stops and removes the runtime objects (ours only) of pods that have no worker.
fn cleanup_orphans(
    inner: &Arc<Inner>,
    live: &HashSet<String>,
    cleaning: &Arc<Mutex<HashSet<String>>>,
) {
    let inner = inner.clone();
    let live = live.clone();
    let cleaning = cleaning.clone();
    tokio::spawn(async move {
        let filter = SandboxFilter {
            labels: inner.owner_labels(),
            ..Default::default()
        };
        let Ok(sandboxes) = inner.runtime.list_pod_sandboxes(&filter).await else {
            return;
        };
        let cfilter = ContainerFilter {
            labels: inner.owner_labels(),
            ..Default::default()
        };
        let containers = inner
            .runtime
            .list_containers(&cfilter)
            .await
            .unwrap_or_default();
        let mut orphans: HashSet<String> = HashSet::new();
        for uid in sandboxes
            .iter()
            .filter_map(|s| s.labels.get(labels::POD_UID))
            .chain(
                containers
                    .iter()
                    .filter_map(|c| c.labels.get(labels::POD_UID)),
            )
        {
            if !live.contains(uid) {
                orphans.insert(uid.clone());
            }
        }
        for uid in orphans {
            if !cleaning
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(uid.clone())
            {
                continue;
            }
            tracing::info!(pod_uid = %uid, "removing containers of a pod that no longer exists");
            for c in containers
                .iter()
                .filter(|c| c.labels.get(labels::POD_UID) == Some(&uid))
            {
                let grace = c
                    .annotations
                    .get(labels::POD_TERMINATION_GRACE_PERIOD)
                    .and_then(|g| g.parse::<u64>().ok())
                    .unwrap_or(30)
                    .max(2);
                if c.state == ContainerState::Running {
                    let _ = inner
                        .runtime
                        .stop_container(&c.id, Duration::from_secs(grace))
                        .await;
                }
                let _ = inner.runtime.remove_container(&c.id).await;
            }
            for s in sandboxes
                .iter()
                .filter(|s| s.labels.get(labels::POD_UID) == Some(&uid))
            {
                let _ = inner.runtime.stop_pod_sandbox(&s.id).await;
                let _ = inner.runtime.remove_pod_sandbox(&s.id).await;
            }
            cleaning
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&uid);
        }
    });
}

/// Creates missing mirror pods, replaces outdated ones and deletes those without a static pod.
async fn sync_mirror_pods(inner: &Arc<Inner>, statics: &HashMap<String, Arc<Pod>>) {
    let Some(store) = inner.pods.get() else {
        return;
    };
    let node_uid = inner.node_uid.get().cloned().unwrap_or_default();
    let mut wanted: HashSet<ObjectKey> = HashSet::new();
    for sp in statics.values() {
        let ns = sp
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = sp.metadata.name.clone().unwrap_or_default();
        let key = ObjectKey::namespaced(&ns, &name);
        wanted.insert(key.clone());
        let api: Api<Pod> = Api::namespaced(inner.client.clone(), &ns);
        let hash = sources::static_pod_hash(sp).map(str::to_string);
        match store.get(&key) {
            Some(m)
                if sources::is_mirror_pod(&m)
                    && sources::static_pod_hash(&m).map(str::to_string) == hash
                    && m.metadata.deletion_timestamp.is_none() => {}
            Some(m) => {
                if m.metadata.deletion_timestamp.is_some() && !sources::is_mirror_pod(&m) {
                    continue;
                }
                let params = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: m.metadata.uid.clone().map(|uid| {
                        kubox_core::client::Preconditions {
                            uid: Some(uid),
                            resource_version: None,
                        }
                    }),
                    ..Default::default()
                };
                if sources::is_mirror_pod(&m) {
                    let _ = api.delete(&name, &params).await;
                }
            }
            None => {
                let mirror = sources::mirror_pod(sp, inner.node_name(), &node_uid);
                match api.create(&PostParams::default(), &mirror).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => tracing::warn!(error = %e, pod = %key, "creating mirror pod"),
                }
            }
        }
    }
    for m in store.list_by(sources::is_mirror_pod) {
        let key = ObjectKey::of(m.as_ref());
        if !wanted.contains(&key) && m.metadata.deletion_timestamp.is_none() {
            let api: Api<Pod> = Api::namespaced(
                inner.client.clone(),
                key.namespace.as_deref().unwrap_or("default"),
            );
            let _ = api
                .delete(
                    &key.name,
                    &DeleteParams {
                        grace_period_seconds: Some(0),
                        ..Default::default()
                    },
                )
                .await;
        }
    }
}
