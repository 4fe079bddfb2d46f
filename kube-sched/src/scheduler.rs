//! The scheduler process: informers feed the [`Cache`] and the [`SchedulingQueue`]; one
//! scheduling loop pops pods, runs the profile's algorithm on an O(1) snapshot, assumes the
//! pod and hands it to an asynchronous binding cycle (Permit wait, PreBind, Bind through
//! `pods/binding`); failures produce FailedScheduling Events, the `PodScheduled=False`
//! condition and preemption. Pending pods whose `activeDeadlineSeconds` (from
//! creationTimestamp) ran out are failed with reason `DeadlineExceeded`.
//!
//! With [`SchedulerConfig::leader_election`] set, the scheduler only schedules while it holds
//! the Lease, so two instances never both bind.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kubox_core::api::apps_v1::ReplicaSet;
use kubox_core::api::core_v1::{
    Namespace, Node, ObjectReference, Pod, ReplicationController, Service,
};
use kubox_core::api::policy_v1::PodDisruptionBudget;
use kubox_core::api::scheduling_v1::PriorityClass;
use kubox_core::client::{Api, Client, DeleteParams, Patch, PatchParams};
use kubox_core::runtime::backoff::sleep_fn;
use kubox_core::runtime::events::{EventType, Recorder};
use kubox_core::runtime::leader::{self, Clock, LeaderElector};
use kubox_core::runtime::{watcher, Change, Informer, Store};
use kubox_core::selector::Selector;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use crate::cache::Cache;
use crate::framework::*;
use crate::metrics::{AttemptResult, Metrics, MetricsSnapshot};
use crate::nodeinfo::{selector_of, PodInfo, VolumeCatalog, Workloads};
use crate::profile::{Profile, ScheduleError};
use crate::queue::{QueueSizes, QueuedPod, SchedulingQueue};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A scheduler: watches pending pods and binds them to nodes.
pub trait Scheduler: Send + Sync + 'static {
    /// Runs until `shutdown` completes (or leadership is lost).
    fn run(self: Arc<Self>, shutdown: BoxFuture<()>) -> BoxFuture<()>;
    /// The metrics now.
    fn metrics(&self) -> MetricsSnapshot;
    /// The queue sizes now.
    fn queue_sizes(&self) -> QueueSizes;
}

/// Configuration of [`DefaultScheduler`].
#[derive(Clone)]
pub struct SchedulerConfig {
    /// Profiles; pods naming another `schedulerName` are ignored.
    pub profiles: Vec<Profile>,
    /// This instance's identity (Events' reportingInstance, the Lease holder).
    pub identity: String,
    /// Leader election on a Lease (`kube-system/kube-scheduler` by default when enabled).
    pub leader_election: Option<leader::Config>,
    /// Write a `Scheduled` Event for every bound pod (Kubernetes does).
    pub record_scheduled_events: bool,
    /// Wall clock (deadlines, Events, the Lease).
    pub clock: Clock,
    /// Random seed for host selection (None: from entropy).
    pub seed: Option<u64>,
    /// PVC → PV placements for volume locality.
    pub volumes: Arc<VolumeCatalog>,
}

impl std::fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerConfig")
            .field("profiles", &self.profiles)
            .field("identity", &self.identity)
            .field("leader_election", &self.leader_election)
            .finish_non_exhaustive()
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            profiles: vec![crate::plugins::default_profile(
                crate::DEFAULT_SCHEDULER_NAME,
            )],
            identity: "kube-sched".into(),
            leader_election: None,
            record_scheduled_events: true,
            clock: leader::system_clock(),
            seed: None,
            volumes: Arc::new(VolumeCatalog::default()),
        }
    }
}

struct State {
    queue: SchedulingQueue,
    cache: Cache,
    /// node → pods nominated to it.
    nominated: Arc<foldhash::HashMap<String, Vec<Arc<PodInfo>>>>,
    /// pod key → nominated node.
    nominated_by_pod: HashMap<String, String>,
    /// (deadline unix seconds, pod key) of queued pods with activeDeadlineSeconds.
    deadlines: BTreeSet<(i64, String)>,
    side_dirty: bool,
}

struct Stores {
    priority_classes: Store<PriorityClass>,
    namespaces: Store<Namespace>,
    pdbs: Store<PodDisruptionBudget>,
    services: Store<Service>,
    rcs: Store<ReplicationController>,
    rss: Store<ReplicaSet>,
}

/// The default scheduler.
pub struct DefaultScheduler {
    client: Arc<dyn Client>,
    config: SchedulerConfig,
    profiles: HashMap<String, Arc<Profile>>,
    profile_plugins: HashMap<String, Vec<Arc<dyn Plugin>>>,
    state: Mutex<State>,
    wake: Notify,
    metrics: Metrics,
    recorder: Recorder,
    stores: Mutex<Option<Arc<Stores>>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Result<(), String>>>>,
    /// The pod informer, once [`Scheduler::run`] started it.
    pod_informer: Mutex<Option<Informer<Pod>>>,
    /// How many of the node and pod informers are synced into the cache and the queue.
    synced: tokio::sync::watch::Sender<u8>,
}

impl std::fmt::Debug for DefaultScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultScheduler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn key_of(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

fn pod_ref(p: &PodInfo) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: Some(p.name.clone()),
        namespace: Some(p.namespace.clone()),
        uid: Some(p.uid.clone()).filter(|u| !u.is_empty()),
        resource_version: None,
        field_path: None,
    }
}

/// Whether two versions of a pod differ in more than status and bookkeeping metadata
/// (`isPodUpdated`).
fn pod_spec_changed(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
        || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
}

const NOTE_LENGTH_LIMIT: usize = 1024;

/// At most this many scheduling cycles run before the loop yields to the runtime
/// ([`BATCH_TIME`] bounds the time they take).
///
/// Yielding after every cycle cost half the throughput: tokio runs a task spawned by a
/// running task next on the same worker (its LIFO slot, which other workers cannot steal),
/// so every binding cycle ran on the scheduling loop's thread while the other workers idled.
/// After a batch, all but the last spawned binding are in the worker's queue, where idle
/// workers steal them.
const BATCH: usize = 32;
/// The longest the loop holds its worker before yielding (informer events and bindings
/// queued behind it wait at most this long).
const BATCH_TIME: Duration = Duration::from_millis(1);

fn truncate(msg: &str) -> String {
    if msg.len() <= NOTE_LENGTH_LIMIT {
        return msg.to_string();
    }
    let mut end = NOTE_LENGTH_LIMIT - 4;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &msg[..end])
}

impl DefaultScheduler {
    /// A scheduler over `client`. Nothing runs until [`Scheduler::run`].
    pub fn new(client: Arc<dyn Client>, config: SchedulerConfig) -> Arc<DefaultScheduler> {
        let mut profiles = HashMap::new();
        let mut profile_plugins = HashMap::new();
        for p in &config.profiles {
            profile_plugins.insert(p.scheduler_name.clone(), p.plugins());
            profiles.insert(p.scheduler_name.clone(), Arc::new(p.clone()));
        }
        let recorder = Recorder::new(client.clone(), "default-scheduler", config.clock.clone())
            .with_host(&config.identity);
        let mut cache = Cache::new();
        cache.snapshot_mut().volumes = config.volumes.clone();
        Arc::new(DefaultScheduler {
            client,
            profiles,
            profile_plugins,
            state: Mutex::new(State {
                queue: SchedulingQueue::new(),
                cache,
                nominated: Arc::default(),
                nominated_by_pod: HashMap::new(),
                deadlines: BTreeSet::new(),
                side_dirty: true,
            }),
            wake: Notify::new(),
            metrics: Metrics::default(),
            recorder,
            stores: Mutex::new(None),
            waiting: Mutex::new(HashMap::new()),
            pod_informer: Mutex::new(None),
            synced: tokio::sync::watch::Sender::new(0),
            config,
        })
    }

    /// The scheduler's pod informer once [`Scheduler::run`] started it: share it (subscribe,
    /// read its store) instead of watching pods a second time, as kube-scheduler's
    /// informer factory is shared.
    pub fn pod_informer(&self) -> Option<Informer<Pod>> {
        self.pod_informer.lock().clone()
    }

    /// Allows a pod waiting at Permit.
    pub fn allow_waiting_pod(&self, key: &str) -> bool {
        self.waiting
            .lock()
            .remove(key)
            .is_some_and(|tx| tx.send(Ok(())).is_ok())
    }

    /// Rejects a pod waiting at Permit.
    pub fn reject_waiting_pod(&self, key: &str, msg: &str) -> bool {
        self.waiting
            .lock()
            .remove(key)
            .is_some_and(|tx| tx.send(Err(msg.to_string())).is_ok())
    }

    fn now_unix(&self) -> i64 {
        (self.config.clock)().as_second()
    }

    fn priority_of(&self, pod: &Pod) -> i32 {
        if let Some(p) = pod.spec.as_ref().and_then(|s| s.priority) {
            return p;
        }
        let stores = self.stores.lock().clone();
        let Some(stores) = stores else { return 0 };
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.priority_class_name.as_deref())
            .unwrap_or("");
        if !name.is_empty() {
            if let Some(pc) = stores
                .priority_classes
                .get(&kubox_core::runtime::ObjectKey::cluster(name))
            {
                return pc.value;
            }
            return 0;
        }
        stores
            .priority_classes
            .list()
            .iter()
            .find(|pc| pc.global_default == Some(true))
            .map(|pc| pc.value)
            .unwrap_or(0)
    }

    fn responsible(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(crate::DEFAULT_SCHEDULER_NAME);
        self.profiles.contains_key(name)
    }

    fn plugins_for(&self, pod: &PodInfo) -> Vec<Arc<dyn Plugin>> {
        self.profile_plugins
            .get(pod.scheduler_name())
            .cloned()
            .unwrap_or_default()
    }

    fn on_event(&self, st: &mut State, ev: ClusterEvent, obj: EventObject) {
        let now = Instant::now();
        st.queue.on_event(ev, obj, &|p| self.plugins_for(p), now);
        self.wake.notify_one();
    }

    fn remove_nomination(st: &mut State, key: &str) {
        if let Some(node) = st.nominated_by_pod.remove(key) {
            let m = Arc::make_mut(&mut st.nominated);
            if let Some(v) = m.get_mut(&node) {
                v.retain(|p| p.key != key);
                if v.is_empty() {
                    m.remove(&node);
                }
            }
        }
    }

    fn add_nomination(st: &mut State, pod: Arc<PodInfo>, node: &str) {
        Self::remove_nomination(st, &pod.key);
        st.nominated_by_pod
            .insert(pod.key.clone(), node.to_string());
        Arc::make_mut(&mut st.nominated)
            .entry(node.to_string())
            .or_default()
            .push(pod);
    }

    fn handle_pod(&self, change: Change<Pod>) {
        match change {
            Change::Added(p) => self.upsert_pod(None, p),
            Change::Updated { old, new } => self.upsert_pod(Some(old), new),
            Change::Deleted(p) => {
                let key = key_of(&p);
                let mut st = self.state.lock();
                st.queue.delete(&key);
                Self::remove_nomination(&mut st, &key);
                if let Some(info) = st.cache.remove_pod(&key) {
                    self.on_event(&mut st, ClusterEvent::POD_DELETE, EventObject::Pod(info));
                }
            }
        }
    }

    fn upsert_pod(&self, old: Option<Arc<Pod>>, p: Arc<Pod>) {
        let key = key_of(&p);
        let assigned = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("");
        let terminal = phase == "Succeeded" || phase == "Failed";
        if assigned {
            let mut st = self.state.lock();
            st.queue.delete(&key);
            Self::remove_nomination(&mut st, &key);
            if terminal {
                if let Some(info) = st.cache.remove_pod(&key) {
                    self.on_event(&mut st, ClusterEvent::POD_DELETE, EventObject::Pod(info));
                }
                return;
            }
            let prio = st
                .cache
                .pod(&key)
                .filter(|i| i.pod.spec == p.spec)
                .map(|i| i.priority);
            drop(st);
            let prio = prio.unwrap_or_else(|| self.priority_of(&p));
            let info = Arc::new(PodInfo::new(p, prio));
            let mut st = self.state.lock();
            let was_assumed = st.cache.is_assumed(&key);
            let known = st.cache.contains_pod(&key) && !was_assumed;
            st.cache.upsert_pod(info.clone());
            if !was_assumed {
                let ev = if known {
                    ClusterEvent::POD_UPDATE
                } else {
                    ClusterEvent::POD_ADD
                };
                if st.queue.sizes_unschedulable() > 0 {
                    self.on_event(&mut st, ev, EventObject::Pod(info));
                }
            }
            return;
        }
        if terminal || !self.responsible(&p) {
            self.state.lock().queue.delete(&key);
            return;
        }
        if p.metadata.deletion_timestamp.is_some() {
            return;
        }
        let prio = self.priority_of(&p);
        let info = Arc::new(PodInfo::new(p.clone(), prio));
        let mut st = self.state.lock();
        if st.cache.is_assumed(&key) {
            return; // binding in flight
        }
        let moved = old.as_ref().is_none_or(|o| pod_spec_changed(o, &p));
        if let Some(d) = info.deadline {
            st.deadlines.insert((d, key.clone()));
        }
        let now = Instant::now();
        if moved {
            st.queue.add(info, now);
        } else {
            st.queue.update_in_place(info);
        }
        drop(st);
        self.wake.notify_one();
    }

    fn handle_node(&self, change: Change<Node>) {
        let mut st = self.state.lock();
        match change {
            Change::Added(n) => {
                st.cache.upsert_node(n.clone());
                self.on_event(
                    &mut st,
                    ClusterEvent::NODE_ADD,
                    EventObject::Node { old: None, new: n },
                );
            }
            Change::Updated { old, new } => {
                st.cache.upsert_node(new.clone());
                self.on_event(
                    &mut st,
                    ClusterEvent::NODE_UPDATE,
                    EventObject::Node {
                        old: Some(old),
                        new,
                    },
                );
            }
            Change::Deleted(n) => {
                st.cache
                    .remove_node(n.metadata.name.as_deref().unwrap_or(""));
            }
        }
    }

    fn refresh_side_data(&self, st: &mut State) {
        if !st.side_dirty {
            return;
        }
        let Some(stores) = self.stores.lock().clone() else {
            return;
        };
        st.side_dirty = false;
        let snap = st.cache.snapshot_mut();
        snap.namespaces = Arc::new(
            stores
                .namespaces
                .list()
                .iter()
                .map(|n| {
                    (
                        n.metadata.name.clone().unwrap_or_default(),
                        n.metadata.labels.clone().unwrap_or_default(),
                    )
                })
                .collect(),
        );
        snap.pdbs = Arc::new(stores.pdbs.list());
        let mut w = Workloads::default();
        for s in stores.services.list() {
            if let Some(sel) = s
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .filter(|m| !m.is_empty())
            {
                w.selectors
                    .entry(s.metadata.namespace.clone().unwrap_or_default())
                    .or_default()
                    .push(Selector::from_set(sel));
            }
        }
        for rc in stores.rcs.list() {
            if let Some(sel) = rc
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .filter(|m| !m.is_empty())
            {
                w.selectors
                    .entry(rc.metadata.namespace.clone().unwrap_or_default())
                    .or_default()
                    .push(Selector::from_set(sel));
            }
        }
        for rs in stores.rss.list() {
            if let Some(spec) = rs.spec.as_ref() {
                w.selectors
                    .entry(rs.metadata.namespace.clone().unwrap_or_default())
                    .or_default()
                    .push(selector_of(Some(&spec.selector)));
            }
        }
        snap.workloads = Arc::new(w);
    }

    /// Fails pending pods whose activeDeadlineSeconds ran out; returns the next deadline.
    fn enforce_deadlines(self: &Arc<Self>, st: &mut State) -> Option<i64> {
        let now = self.now_unix();
        while let Some((d, key)) = st.deadlines.first().cloned() {
            if d > now {
                return Some(d);
            }
            st.deadlines.pop_first();
            let pending = st
                .queue
                .location(&key)
                .is_some_and(|l| l != crate::queue::Location::InFlight);
            let Some(info) = st.queue.pending_pod(&key).filter(|_| pending) else {
                continue;
            };
            if info.deadline != Some(d) {
                continue;
            }
            st.queue.delete(&key);
            let this = self.clone();
            tokio::spawn(async move { this.fail_deadline(info).await });
        }
        None
    }

    async fn fail_deadline(&self, info: Arc<PodInfo>) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &info.namespace);
        let msg =
            format!(
            "Pod was pending longer than its activeDeadlineSeconds ({}s) without being scheduled",
            info.pod.spec.as_ref().and_then(|s| s.active_deadline_seconds).unwrap_or(0)
        );
        let patch =
            json!({"status": {"phase": "Failed", "reason": "DeadlineExceeded", "message": msg}});
        if let Err(e) = api
            .patch_status(&info.name, &PatchParams::default(), Patch::Merge(patch))
            .await
        {
            tracing::warn!(pod = %info.key, error = %e, "failing pod past its deadline");
        }
        let _ = self
            .recorder
            .record(
                &pod_ref(&info),
                EventType::Warning,
                "DeadlineExceeded",
                &msg,
            )
            .await;
    }

    async fn scheduling_loop(self: Arc<Self>, leading: Option<leader::Leadership>) {
        let mut rng = match self.config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_rng(&mut rand::rng()),
        };
        let mut start = 0usize;
        // Like kube-scheduler, schedule only after the informers' first lists are in the
        // cache: a cycle over a half-listed cluster fails pods that fit.
        let _ = self.synced.subscribe().wait_for(|n| *n >= 2).await;
        let stores = self.stores.lock().clone();
        if let Some(s) = stores {
            // Side data (namespace labels, PDBs, workload selectors) is worth a short wait,
            // not a scheduler that never starts when one of those kinds cannot be listed.
            let side = async {
                let _ = s.namespaces.wait_until_ready().await;
                let _ = s.pdbs.wait_until_ready().await;
                let _ = s.services.wait_until_ready().await;
                let _ = s.rcs.wait_until_ready().await;
                let _ = s.rss.wait_until_ready().await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(10), side).await;
            self.state.lock().side_dirty = true;
        }
        let mut last_flush = Instant::now();
        let (mut batch, mut batch_start) = (0usize, last_flush);
        loop {
            if let Some(l) = &leading {
                if !l.is_leader() {
                    return;
                }
            }
            let now = Instant::now();
            let (next, wakeup, deadline) = {
                let mut st = self.state.lock();
                if now.duration_since(last_flush) >= Duration::from_secs(30) {
                    st.queue.flush_unschedulable_leftover(now);
                    last_flush = now;
                }
                let deadline = self.enforce_deadlines(&mut st);
                let next = st.queue.pop(now);
                (next, st.queue.next_wakeup(), deadline)
            };
            match next {
                Some(qp) => {
                    self.schedule_one(qp, &mut start, &mut rng);
                    batch += 1;
                    if batch >= BATCH || batch_start.elapsed() >= BATCH_TIME {
                        tokio::task::yield_now().await;
                        batch = 0;
                        batch_start = Instant::now();
                    }
                }
                None => {
                    let mut until = wakeup.unwrap_or(now + Duration::from_secs(30));
                    until = until.min(last_flush + Duration::from_secs(30));
                    if let Some(d) = deadline {
                        let secs = (d - self.now_unix()).max(0) as u64;
                        until =
                            until.min(now + Duration::from_secs(secs) + Duration::from_millis(10));
                    }
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep_until(until) => {}
                    }
                    // Waiting yielded: a new batch starts.
                    batch = 0;
                    batch_start = Instant::now();
                }
            }
        }
    }

    fn schedule_one(self: &Arc<Self>, qp: QueuedPod, start: &mut usize, rng: &mut StdRng) {
        let pod = qp.info.clone();
        let Some(profile) = self.profiles.get(pod.scheduler_name()).cloned() else {
            self.state.lock().queue.done(&pod.key);
            return;
        };
        if pod.is_terminating() {
            self.state.lock().queue.done(&pod.key);
            return;
        }
        let snapshot = {
            let mut st = self.state.lock();
            self.refresh_side_data(&mut st);
            let mut snapshot = st.cache.snapshot();
            snapshot.nominated = st.nominated.clone();
            snapshot
        };
        let nominated = snapshot.nominated.clone();
        let mut state = CycleState::default();
        let nominated_fn = |node: &str| -> Vec<Arc<PodInfo>> {
            if nominated.is_empty() {
                return Vec::new();
            }
            nominated.get(node).cloned().unwrap_or_default()
        };
        let result = profile.schedule(&mut state, &pod, &snapshot, start, rng, &nominated_fn);
        match result {
            Ok(r) => {
                // Without other holders of the snapshot, assuming the pod updates the cached
                // node list in place instead of copying it.
                drop(snapshot);
                self.assume_and_bind(profile, state, qp, r.node)
            }
            Err(ScheduleError::Fit(mut fe)) => {
                let mut nominated_node = None;
                for p in &profile.post_filter {
                    let r = p.post_filter(&state, &pod, &snapshot, &fe.statuses, &profile);
                    if r.status.is_success() {
                        if let Some(n) = r.nominated_node {
                            self.metrics.preemption(r.victims.len());
                            let mut st = self.state.lock();
                            Self::add_nomination(&mut st, pod.clone(), &n);
                            drop(st);
                            let this = self.clone();
                            let (p2, n2, victims) = (pod.clone(), n.clone(), r.victims);
                            let sched_name = profile.scheduler_name.clone();
                            tokio::spawn(async move {
                                this.execute_preemption(p2, n2, victims, sched_name).await
                            });
                            nominated_node = Some(n);
                        }
                        break;
                    } else if !r.status.reasons.is_empty() {
                        fe.post_filter_msg = Some(r.status.message());
                    }
                }
                let plugins = fe.unschedulable_plugins.clone();
                self.fail(
                    qp,
                    fe.to_string(),
                    "Unschedulable",
                    plugins,
                    false,
                    nominated_node,
                );
            }
            Err(ScheduleError::NoNodes) => self.fail(
                qp,
                ScheduleError::NoNodes.to_string(),
                "Unschedulable",
                HashSet::new(),
                false,
                None,
            ),
            Err(e @ ScheduleError::Plugin(_)) => self.fail(
                qp,
                e.to_string(),
                "SchedulerError",
                HashSet::new(),
                true,
                None,
            ),
        }
    }

    fn fail(
        self: &Arc<Self>,
        qp: QueuedPod,
        msg: String,
        reason: &'static str,
        plugins: HashSet<String>,
        error: bool,
        nominated: Option<String>,
    ) {
        self.metrics.attempt(if error {
            AttemptResult::Error
        } else {
            AttemptResult::Unschedulable
        });
        let pod = qp.info.clone();
        {
            let mut st = self.state.lock();
            let plugins_list = self.plugins_for(&pod);
            st.queue
                .add_unschedulable(qp, plugins, error, &plugins_list, Instant::now());
        }
        let this = self.clone();
        tokio::spawn(async move { this.report_failure(pod, msg, reason, nominated).await });
    }

    async fn report_failure(
        &self,
        pod: Arc<PodInfo>,
        msg: String,
        reason: &str,
        nominated: Option<String>,
    ) {
        let msg = truncate(&msg);
        if let Err(e) = self
            .recorder
            .record(&pod_ref(&pod), EventType::Warning, "FailedScheduling", &msg)
            .await
        {
            tracing::debug!(pod = %pod.key, error = %e, "recording FailedScheduling");
        }
        let status = pod.pod.status.as_ref();
        let cur = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let same = cur.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(msg.as_str())
        });
        let cur_nom = status.and_then(|s| s.nominated_node_name.clone());
        let nom_changed = nominated.is_some() && nominated != cur_nom;
        if same && !nom_changed {
            return;
        }
        let now = (self.config.clock)();
        let mut st = json!({"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": reason, "message": msg,
            "lastProbeTime": null,
            "lastTransitionTime": kubox_core::time::Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)),
        }]});
        if let Some(n) = nominated {
            st["nominatedNodeName"] = json!(n);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
        if let Err(e) = api
            .patch_status(
                &pod.name,
                &PatchParams::default(),
                Patch::Strategic(json!({"status": st})),
            )
            .await
        {
            tracing::debug!(pod = %pod.key, error = %e, "updating PodScheduled condition");
        }
    }

    async fn execute_preemption(
        &self,
        pod: Arc<PodInfo>,
        node: String,
        victims: Vec<Arc<PodInfo>>,
        sched_name: String,
    ) {
        for v in victims {
            if self.reject_waiting_pod(&v.key, "preempted") {
                continue;
            }
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &v.namespace);
            let cond = json!({"status": {"conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                "message": format!("{sched_name}: preempting to accommodate a higher priority pod"),
            }]}});
            let _ = api
                .patch_status(&v.name, &PatchParams::default(), Patch::Strategic(cond))
                .await;
            match api.delete(&v.name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::warn!(victim = %v.key, error = %e, "deleting preemption victim"),
            }
            let _ = self
                .recorder
                .record(
                    &pod_ref(&v),
                    EventType::Normal,
                    "Preempted",
                    &format!("Preempted by pod {} on node {}", pod.uid, node),
                )
                .await;
        }
    }

    fn assume_and_bind(
        self: &Arc<Self>,
        profile: Arc<Profile>,
        mut state: CycleState,
        qp: QueuedPod,
        node: String,
    ) {
        let pod = qp.info.clone();
        {
            let mut st = self.state.lock();
            st.cache.assume(pod.clone(), &node);
            st.queue.done(&pod.key);
            Self::remove_nomination(&mut st, &pod.key);
        }
        for (i, p) in profile.reserve.iter().enumerate() {
            let s = p.reserve(&mut state, &pod, &node);
            if !s.is_success() {
                for q in profile.reserve[..=i].iter().rev() {
                    q.unreserve(&mut state, &pod, &node);
                }
                self.state.lock().cache.forget(&pod.key);
                let msg = format!("running Reserve plugin {:?}: {}", p.name(), s.message());
                self.requeue_failed(qp, msg, s.is_rejected(), p.name());
                return;
            }
        }
        let mut wait: Option<Duration> = None;
        for p in &profile.permit {
            let (s, d) = p.permit(&state, &pod, &node);
            match s.code {
                Code::Success | Code::Skip => {}
                Code::Wait => wait = Some(wait.map_or(d, |w| w.max(d))),
                _ => {
                    for q in profile.reserve.iter().rev() {
                        q.unreserve(&mut state, &pod, &node);
                    }
                    self.state.lock().cache.forget(&pod.key);
                    self.requeue_failed(qp, s.message(), s.is_rejected(), p.name());
                    return;
                }
            }
        }
        let this = self.clone();
        tokio::spawn(async move { this.binding_cycle(profile, state, qp, node, wait).await });
    }

    fn requeue_failed(self: &Arc<Self>, qp: QueuedPod, msg: String, rejected: bool, plugin: &str) {
        let pod = qp.info.clone();
        self.metrics.attempt(if rejected {
            AttemptResult::Unschedulable
        } else {
            AttemptResult::Error
        });
        {
            let mut st = self.state.lock();
            let mut plugins = HashSet::new();
            if rejected {
                plugins.insert(plugin.to_string());
            }
            st.queue
                .requeue_after_failure(qp, plugins, !rejected, Instant::now());
        }
        self.wake.notify_one();
        let this = self.clone();
        let reason = if rejected {
            "Unschedulable"
        } else {
            "SchedulerError"
        };
        tokio::spawn(async move { this.report_failure(pod, msg, reason, None).await });
    }

    async fn binding_cycle(
        self: Arc<Self>,
        profile: Arc<Profile>,
        mut state: CycleState,
        qp: QueuedPod,
        node: String,
        wait: Option<Duration>,
    ) {
        let pod = qp.info.clone();
        let outcome: Result<(), (String, bool, String)> = async {
            if let Some(d) = wait {
                let (tx, rx) = oneshot::channel();
                self.waiting.lock().insert(pod.key.clone(), tx);
                match tokio::time::timeout(d, rx).await {
                    Ok(Ok(Ok(()))) => {}
                    Ok(Ok(Err(m))) => return Err((m, true, "Permit".to_string())),
                    _ => {
                        self.waiting.lock().remove(&pod.key);
                        return Err((
                            "rejected due to timeout after waiting at permit".into(),
                            true,
                            "Permit".into(),
                        ));
                    }
                }
            }
            for p in &profile.pre_bind {
                let reqs = p
                    .pre_bind(&state, &pod, &node)
                    .map_err(|s| (s.message(), false, p.name().to_string()))?;
                for r in reqs {
                    self.client
                        .call(r)
                        .await
                        .map_err(|e| (e.to_string(), false, p.name().to_string()))?;
                }
            }
            for p in &profile.bind {
                match p.bind(&state, &pod, &node) {
                    Ok(None) => continue,
                    Ok(Some(req)) => {
                        self.client.call(req).await.map_err(|e| {
                            (
                                format!("Binding rejected: {e}"),
                                false,
                                p.name().to_string(),
                            )
                        })?;
                        return Ok(());
                    }
                    Err(s) => return Err((s.message(), false, p.name().to_string())),
                }
            }
            Err(("no bind plugin bound the pod".into(), false, String::new()))
        }
        .await;
        match outcome {
            Ok(()) => {
                self.metrics.attempt(AttemptResult::Scheduled);
                self.metrics.observe_e2e(qp.initial_timestamp.elapsed());
                if self.config.record_scheduled_events {
                    let msg = format!("Successfully assigned {} to {}", pod.key, node);
                    let _ = self
                        .recorder
                        .record(&pod_ref(&pod), EventType::Normal, "Scheduled", &msg)
                        .await;
                }
            }
            Err((msg, rejected, plugin)) => {
                for q in profile.reserve.iter().rev() {
                    q.unreserve(&mut state, &pod, &node);
                }
                self.state.lock().cache.forget(&pod.key);
                self.requeue_failed(qp, msg, rejected, &plugin);
            }
        }
    }

    fn start_informers(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let sleep = sleep_fn(tokio::time::sleep);
        let mut tasks = Vec::new();
        macro_rules! informer {
            ($k:ty) => {{
                let (inf, driver) = Informer::<$k>::new(
                    self.client.clone(),
                    None,
                    watcher::Config::default(),
                    sleep.clone(),
                );
                tasks.push(tokio::spawn(driver.run()));
                inf
            }};
        }
        let nodes = informer!(Node);
        let pods = informer!(Pod);
        let stores = Arc::new(Stores {
            priority_classes: informer!(PriorityClass).store().clone(),
            namespaces: informer!(Namespace).store().clone(),
            pdbs: informer!(PodDisruptionBudget).store().clone(),
            services: informer!(Service).store().clone(),
            rcs: informer!(ReplicationController).store().clone(),
            rss: informer!(ReplicaSet).store().clone(),
        });
        *self.stores.lock() = Some(stores.clone());
        // Side data: mark dirty on any change.
        macro_rules! dirty {
            ($store:expr) => {{
                let mut sub = $store.subscribe();
                let this = self.clone();
                tasks.push(tokio::spawn(async move {
                    while sub.next().await.is_some() {
                        this.state.lock().side_dirty = true;
                        this.wake.notify_one();
                    }
                }));
            }};
        }
        dirty!(stores.namespaces);
        dirty!(stores.pdbs);
        dirty!(stores.services);
        dirty!(stores.rcs);
        dirty!(stores.rss);
        *self.pod_informer.lock() = Some(pods.clone());
        let this = self.clone();
        let mut sub = nodes.subscribe();
        let node_store = nodes.store().clone();
        tasks.push(tokio::spawn(async move {
            // WaitForCacheSync: every node of the first list is in the cache before the first
            // cycle (the subscription's replay of the same nodes then only refreshes them).
            if node_store.wait_until_ready().await.is_ok() {
                let list = node_store.list();
                this.state.lock().cache.upsert_nodes(list);
            }
            this.synced.send_modify(|n| *n += 1);
            while let Some(c) = sub.next().await {
                this.handle_node(c);
            }
        }));
        let this = self.clone();
        let mut sub = pods.subscribe();
        let pod_store = pods.store().clone();
        let pc_store = stores.priority_classes.clone();
        tasks.push(tokio::spawn(async move {
            // Priorities need the PriorityClasses: wait for their first list.
            let _ = pc_store.wait_until_ready().await;
            // The pods of the first list are cached (assigned) or queued (pending) before
            // the first cycle.
            if pod_store.wait_until_ready().await.is_ok() {
                for p in pod_store.list() {
                    this.handle_pod(Change::Added(p));
                }
            }
            this.synced.send_modify(|n| *n += 1);
            while let Some(c) = sub.next().await {
                this.handle_pod(c);
                while let Some(c) = sub.try_next() {
                    this.handle_pod(c);
                }
            }
        }));
        tasks
    }
}

impl Scheduler for DefaultScheduler {
    fn run(self: Arc<Self>, shutdown: BoxFuture<()>) -> BoxFuture<()> {
        Box::pin(async move {
            let tasks = self.start_informers();
            match self.config.leader_election.clone() {
                None => {
                    let lp = tokio::spawn(self.clone().scheduling_loop(None));
                    shutdown.await;
                    lp.abort();
                }
                Some(cfg) => {
                    match LeaderElector::new(
                        self.client.clone(),
                        cfg,
                        sleep_fn(tokio::time::sleep),
                        self.config.clock.clone(),
                    ) {
                        Ok(elector) => {
                            let leading = elector.leadership();
                            let started = Arc::new(Notify::new());
                            let s2 = started.clone();
                            let this = self.clone();
                            let l2 = leading.clone();
                            let lp = tokio::spawn(async move {
                                s2.notified().await;
                                this.scheduling_loop(Some(l2)).await;
                            });
                            let s3 = started.clone();
                            let outcome = elector
                                .run(
                                    shutdown,
                                    leader::Callbacks::new(move || s3.notify_one(), || {}),
                                )
                                .await;
                            tracing::info!(?outcome, "leader election ended");
                            lp.abort();
                        }
                        Err(e) => tracing::error!(error = %e, "invalid leader election config"),
                    }
                }
            }
            for t in tasks {
                t.abort();
            }
        })
    }

    fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot(self.queue_sizes())
    }

    fn queue_sizes(&self) -> QueueSizes {
        self.state.lock().queue.sizes()
    }
}

/// The identity of this process for events and leases: `hostname_pid`-like.
pub fn default_identity() -> String {
    format!(
        "kube-sched_{}_{:x}",
        std::process::id(),
        rand::rng().random::<u32>()
    )
}
