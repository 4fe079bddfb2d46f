//! The ReplicaSet and ReplicationController controllers (`pkg/controller/replicaset`): keep
//! exactly `spec.replicas` active pods matching the selector.
//!
//! One generic [`ReplicaController<K>`] serves both kinds through [`ReplicaOwner`]. Per sync:
//!
//! 1. Claim pods (`controller_ref_manager.go`): owned pods that stopped matching the selector
//!    are released; matching orphans are adopted after a fresh GET confirms the owner's UID
//!    and that it is not being deleted.
//! 2. If the owner's [`Expectations`] are satisfied (every create/delete of the previous sync
//!    was observed through the informer, or 5 minutes passed), create or delete the
//!    difference: at most 500 per sync (`BurstReplicas`), creations in slow-start batches
//!    1, 2, 4, … that stop at the first failure, deletions in the order of
//!    [`deletion_order`].
//! 3. Write the status (`replicas`, `fullyLabeledReplicas`, `readyReplicas`,
//!    `availableReplicas` with `minReadySeconds`, `observedGeneration`, the `ReplicaFailure`
//!    condition) when it changed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use kubox_core::api::apps_v1::{ReplicaSet, ReplicaSetCondition};
use kubox_core::api::core_v1::{
    Pod, PodTemplateSpec, ReplicationController, ReplicationControllerCondition,
};
use kubox_core::client::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubox_core::meta::{ObjectMeta, OwnerReference, Resource};
use kubox_core::runtime::events::{object_reference, EventType, Recorder};
use kubox_core::runtime::{Change, Informer, ObjectKey};
use kubox_core::selector::Selector;
use kubox_core::Time;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::runtime::{
    enqueue_on, key_of, split_key, Action, Context, Controller, Error, Result, WorkQueue,
};

/// At most this many pods are created or deleted per sync (`BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;
/// Expectations older than this are considered satisfied (`ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(300);
/// Annotation ranking pods for scale-down.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The status fields the replication controllers maintain.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicaStatus {
    /// `status.replicas`.
    pub replicas: i32,
    /// `status.fullyLabeledReplicas`.
    pub fully_labeled_replicas: i32,
    /// `status.readyReplicas`.
    pub ready_replicas: i32,
    /// `status.availableReplicas`.
    pub available_replicas: i32,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// The `ReplicaFailure` condition: `(reason, message, lastTransitionTime)`.
    pub failure: Option<(String, String, Option<Time>)>,
}

/// A kind whose pods are kept at a replica count (ReplicaSet, ReplicationController).
pub trait ReplicaOwner: Resource {
    /// The controller's name.
    const CONTROLLER: &'static str;
    /// The pod selector; `Err` for an invalid one.
    fn selector(&self) -> std::result::Result<Selector, String>;
    /// `spec.replicas` (default 1).
    fn replicas(&self) -> i32;
    /// `spec.minReadySeconds`.
    fn min_ready_seconds(&self) -> i32;
    /// `spec.template`.
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// The status as the controller sees it.
    fn replica_status(&self) -> ReplicaStatus;
    /// Replaces the controller-maintained status fields.
    fn set_replica_status(&mut self, status: ReplicaStatus);
}

/// The [`ReplicaOwner`] methods that read and write fields both kinds spell alike; `$cond`
/// is the kind's condition type.
macro_rules! replica_owner_fields {
    ($cond:ident) => {
        fn replicas(&self) -> i32 {
            self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
        }
        fn min_ready_seconds(&self) -> i32 {
            self.spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0)
        }
        fn template(&self) -> Option<&PodTemplateSpec> {
            self.spec.as_ref()?.template.as_ref()
        }
        fn replica_status(&self) -> ReplicaStatus {
            let s = self.status.clone().unwrap_or_default();
            ReplicaStatus {
                replicas: s.replicas,
                fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
                ready_replicas: s.ready_replicas.unwrap_or(0),
                available_replicas: s.available_replicas.unwrap_or(0),
                observed_generation: s.observed_generation.unwrap_or(0),
                failure: s
                    .conditions
                    .unwrap_or_default()
                    .into_iter()
                    .find(|c| c.type_ == "ReplicaFailure")
                    .map(|c| {
                        (
                            c.reason.unwrap_or_default(),
                            c.message.unwrap_or_default(),
                            c.last_transition_time,
                        )
                    }),
            }
        }
        fn set_replica_status(&mut self, st: ReplicaStatus) {
            let mut status = self.status.take().unwrap_or_default();
            let mut conditions: Vec<_> = status
                .conditions
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.type_ != "ReplicaFailure")
                .collect();
            if let Some((reason, message, t)) = st.failure {
                conditions.push($cond {
                    type_: "ReplicaFailure".into(),
                    status: "True".into(),
                    reason: Some(reason),
                    message: Some(message),
                    last_transition_time: t,
                });
            }
            status.replicas = st.replicas;
            status.fully_labeled_replicas = Some(st.fully_labeled_replicas);
            status.ready_replicas = Some(st.ready_replicas);
            status.available_replicas = Some(st.available_replicas);
            status.observed_generation = Some(st.observed_generation);
            status.conditions = (!conditions.is_empty()).then_some(conditions);
            self.status = Some(status);
        }
    };
}

impl ReplicaOwner for ReplicaSet {
    const CONTROLLER: &'static str = "replicaset";
    fn selector(&self) -> std::result::Result<Selector, String> {
        let spec = self.spec.as_ref().ok_or("missing spec")?;
        Selector::from_label_selector(Some(&spec.selector)).map_err(|e| e.to_string())
    }
    replica_owner_fields!(ReplicaSetCondition);
}

impl ReplicaOwner for ReplicationController {
    const CONTROLLER: &'static str = "replicationcontroller";
    fn selector(&self) -> std::result::Result<Selector, String> {
        let spec = self.spec.as_ref().ok_or("missing spec")?;
        match &spec.selector {
            Some(s) if !s.is_empty() => Ok(Selector::from_set(s)),
            _ => Err("empty selector".into()),
        }
    }
    replica_owner_fields!(ReplicationControllerCondition);
}

#[derive(Debug)]
struct Expectation {
    adds: i64,
    deletes: HashSet<String>,
    since: Instant,
}

/// Outstanding creates and deletes per owner key (`ControllerExpectations`, deletions tracked
/// by pod UID as `UIDTrackingControllerExpectations`).
#[derive(Debug, Default)]
pub struct Expectations {
    map: Mutex<HashMap<String, Expectation>>,
}

impl Expectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Expectation>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// True when nothing is outstanding for `key` (or the expectation expired).
    pub fn satisfied(&self, key: &str) -> bool {
        match self.lock().get(key) {
            None => true,
            Some(e) => {
                (e.adds <= 0 && e.deletes.is_empty()) || e.since.elapsed() > EXPECTATIONS_TIMEOUT
            }
        }
    }
    /// Expects `n` creations.
    pub fn expect_creations(&self, key: &str, n: usize) {
        self.lock().insert(
            key.to_string(),
            Expectation {
                adds: n as i64,
                deletes: HashSet::new(),
                since: Instant::now(),
            },
        );
    }
    /// Expects the deletion of these pod UIDs.
    pub fn expect_deletions(&self, key: &str, uids: impl IntoIterator<Item = String>) {
        self.lock().insert(
            key.to_string(),
            Expectation {
                adds: 0,
                deletes: uids.into_iter().collect(),
                since: Instant::now(),
            },
        );
    }
    /// One creation was observed (or will never happen).
    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.adds -= 1;
        }
    }
    /// The deletion of pod `uid` was observed (or will never happen).
    pub fn deletion_observed(&self, key: &str, uid: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.deletes.remove(uid);
        }
    }
    /// Forgets `key`.
    pub fn delete(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// Whether the pod is active: not Succeeded/Failed and not being deleted
/// (`controller.FilterActivePods`).
pub fn is_pod_active(p: &Pod) -> bool {
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    phase != Some("Succeeded") && phase != Some("Failed") && p.metadata.deletion_timestamp.is_none()
}

/// The pod's `Ready` condition, if `True`: its last transition time.
pub fn pod_ready_since(p: &Pod) -> Option<Option<Time>> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time)
}

/// Whether the pod is Ready.
pub fn is_pod_ready(p: &Pod) -> bool {
    pod_ready_since(p).is_some()
}

/// Whether the pod is available: ready for at least `min_ready_seconds`
/// (`podutil.IsPodAvailable`).
pub fn is_pod_available(p: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    match pod_ready_since(p) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(t)) => t.unix_seconds() + i64::from(min_ready_seconds) < now.as_second(),
    }
}

fn phase_rank(p: &Pod) -> u8 {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Running") => 2,
        _ => 1,
    }
}

fn restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn deletion_cost(p: &Pod) -> i64 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn node_of(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// Orders pods for scale-down, first to delete first (`ActivePodsWithRanks.Less`):
/// unassigned, Pending < Unknown < Running, not ready, lower deletion cost, more co-located
/// pods (`rank`: pods of the set on the same node), ready more recently, more restarts,
/// newer.
pub fn deletion_order(a: &Pod, b: &Pod, rank: &HashMap<String, usize>) -> Ordering {
    let assigned = |p: &Pod| !node_of(p).is_empty();
    let rank_of = |p: &Pod| rank.get(node_of(p)).copied().unwrap_or(0);
    assigned(a)
        .cmp(&assigned(b))
        .then(phase_rank(a).cmp(&phase_rank(b)))
        .then(is_pod_ready(a).cmp(&is_pod_ready(b)))
        .then(deletion_cost(a).cmp(&deletion_cost(b)))
        .then(rank_of(b).cmp(&rank_of(a)))
        .then_with(|| match (pod_ready_since(a), pod_ready_since(b)) {
            (Some(Some(ta)), Some(Some(tb))) => tb.cmp(&ta),
            _ => Ordering::Equal,
        })
        .then(restarts(b).cmp(&restarts(a)))
        .then(
            b.metadata
                .creation_timestamp
                .cmp(&a.metadata.creation_timestamp),
        )
}

/// The controller reference an owner puts on its pods.
pub fn owner_reference<K: Resource>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(),
        kind: K::KIND.to_string(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A pod from `template`, named `<owner>-<random>` and controlled by `owner`
/// (`GetPodFromTemplate`).
pub fn pod_from_template<K: Resource>(owner: &K, template: &PodTemplateSpec) -> Pod {
    let tm = template.metadata.clone().unwrap_or_default();
    let name = owner.meta().name.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: owner.meta().namespace.clone(),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner_reference(owner)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        ..Pod::default()
    }
}

fn controller_of<K: ReplicaOwner>(p: &Pod) -> Option<&OwnerReference> {
    p.metadata.owner_references.as_ref()?.iter().find(|r| {
        r.controller == Some(true) && r.kind == K::KIND && r.api_version == K::api_version()
    })
}

/// The ReplicaSet (or ReplicationController) controller.
pub struct ReplicaController<K: ReplicaOwner> {
    ctx: Context,
    owners: Informer<K>,
    pods: Informer<Pod>,
    expectations: Arc<Expectations>,
    recorder: Arc<Recorder>,
    _kind: PhantomData<fn() -> K>,
}

/// The ReplicaSet controller.
pub type ReplicaSetController = ReplicaController<ReplicaSet>;
/// The ReplicationController controller.
pub type ReplicationControllerController = ReplicaController<ReplicationController>;

impl<K: ReplicaOwner> ReplicaController<K> {
    /// The controller over `ctx`'s shared informers.
    pub fn new(ctx: &Context) -> Self {
        ReplicaController {
            owners: ctx.informers.get::<K>(),
            pods: ctx.informers.get::<Pod>(),
            recorder: Arc::new(ctx.recorder(&format!("{}-controller", K::CONTROLLER))),
            ctx: ctx.clone(),
            expectations: Arc::new(Expectations::default()),
            _kind: PhantomData,
        }
    }

    /// The owner's expectations (for tests and diagnostics).
    pub fn expectations(&self) -> Arc<Expectations> {
        self.expectations.clone()
    }

    fn record(&self, owner: &K, type_: EventType, reason: &str, message: String) {
        let rec = self.recorder.clone();
        let r = object_reference(owner);
        let reason = reason.to_string();
        tokio::spawn(async move {
            let _ = rec.record(&r, type_, &reason, &message).await;
        });
    }

    async fn manage(&self, key: &str, owner: &K, filtered: &[Arc<Pod>]) -> Result<()> {
        let diff = filtered.len() as i64 - i64::from(owner.replicas());
        let ns = owner.meta().namespace.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        if diff < 0 {
            let n = ((-diff) as usize).min(BURST_REPLICAS);
            let Some(template) = owner.template() else {
                return Err(Error::Other("missing pod template".into()));
            };
            self.expectations.expect_creations(key, n);
            let pod = pod_from_template(owner, template);
            let pp = PostParams::default();
            let mut created = 0usize;
            let mut batch = 1usize;
            let mut first_err = None;
            while created < n {
                let size = batch.min(n - created);
                let results = join_all((0..size).map(|_| pods.create(&pp, &pod))).await;
                let mut failed = 0;
                for r in results {
                    match r {
                        Ok(p) => self.record(
                            owner,
                            EventType::Normal,
                            "SuccessfulCreate",
                            format!("Created pod: {}", p.metadata.name.unwrap_or_default()),
                        ),
                        Err(e) => {
                            failed += 1;
                            self.expectations.creation_observed(key);
                            self.record(
                                owner,
                                EventType::Warning,
                                "FailedCreate",
                                format!("Error creating: {e}"),
                            );
                            first_err.get_or_insert(e);
                        }
                    }
                }
                created += size;
                if failed > 0 {
                    break;
                }
                batch *= 2;
            }
            // Creations never attempted will not be observed.
            for _ in created..n {
                self.expectations.creation_observed(key);
            }
            if let Some(e) = first_err {
                return Err(e.into());
            }
        } else if diff > 0 {
            let n = (diff as usize).min(BURST_REPLICAS);
            let mut victims: Vec<Arc<Pod>> = filtered.to_vec();
            if n < filtered.len() {
                let mut rank: HashMap<String, usize> = HashMap::new();
                for p in filtered {
                    *rank.entry(node_of(p).to_string()).or_default() += 1;
                }
                victims.sort_by(|a, b| deletion_order(a, b, &rank));
            }
            victims.truncate(n);
            self.expectations
                .expect_deletions(key, victims.iter().filter_map(|p| p.metadata.uid.clone()));
            let results = join_all(victims.iter().map(|p| {
                let name = p.metadata.name.clone().unwrap_or_default();
                let pods = pods.clone();
                async move {
                    (
                        name.clone(),
                        pods.delete(&name, &DeleteParams::default()).await,
                    )
                }
            }))
            .await;
            let mut first_err = None;
            for ((name, r), p) in results.into_iter().zip(&victims) {
                match r {
                    Ok(_) => self.record(
                        owner,
                        EventType::Normal,
                        "SuccessfulDelete",
                        format!("Deleted pod: {name}"),
                    ),
                    Err(e) => {
                        self.expectations
                            .deletion_observed(key, p.metadata.uid.as_deref().unwrap_or(""));
                        if !e.is_not_found() {
                            self.record(
                                owner,
                                EventType::Warning,
                                "FailedDelete",
                                format!("Error deleting: {e}"),
                            );
                            first_err.get_or_insert(e);
                        }
                    }
                }
            }
            if let Some(e) = first_err {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Adopts matching orphans and releases owned pods that no longer match; returns the
    /// pods the owner controls afterwards.
    async fn claim(&self, owner: &K, selector: &Selector) -> Result<Vec<Arc<Pod>>> {
        let ns = owner.meta().namespace.clone().unwrap_or_default();
        let uid = owner.meta().uid.clone().unwrap_or_default();
        let deleting = owner.meta().deletion_timestamp.is_some();
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        let candidates = self
            .pods
            .store()
            .list_by(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()));
        let mut claimed = Vec::new();
        let mut fresh_checked = false;
        for p in candidates {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            let matches = selector.matches(&labels);
            match p
                .metadata
                .owner_references
                .as_ref()
                .and_then(|rs| rs.iter().find(|r| r.controller == Some(true)))
            {
                Some(r) if r.uid == uid => {
                    if matches || deleting {
                        claimed.push(p);
                    } else {
                        // Release.
                        let refs: Vec<_> = p
                            .metadata
                            .owner_references
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|r| r.uid != uid)
                            .collect();
                        let patch = json!({"metadata": {
                            "ownerReferences": refs,
                            "resourceVersion": p.metadata.resource_version,
                        }});
                        let name = p.metadata.name.clone().unwrap_or_default();
                        match pods
                            .patch(&name, &PatchParams::default(), Patch::Merge(patch))
                            .await
                        {
                            Ok(_) => {}
                            Err(e) if e.is_not_found() => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Some(_) => {}
                None => {
                    if !matches || deleting || p.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    if !fresh_checked {
                        // RecheckDeletionTimestamp: adopt only for a live owner with this UID.
                        let api: Api<K> = Api::namespaced(self.ctx.client.clone(), &ns);
                        let fresh = api.get(owner.meta().name.as_deref().unwrap_or("")).await?;
                        if fresh.meta().uid.as_deref() != Some(uid.as_str())
                            || fresh.meta().deletion_timestamp.is_some()
                        {
                            return Ok(claimed);
                        }
                        fresh_checked = true;
                    }
                    let mut refs = p.metadata.owner_references.clone().unwrap_or_default();
                    refs.push(owner_reference(owner));
                    let patch = json!({"metadata": {
                        "ownerReferences": refs,
                        "resourceVersion": p.metadata.resource_version,
                    }});
                    let name = p.metadata.name.clone().unwrap_or_default();
                    match pods
                        .patch(&name, &PatchParams::default(), Patch::Merge(patch))
                        .await
                    {
                        Ok(adopted) => claimed.push(Arc::new(adopted)),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(claimed)
    }

    fn compute_status(
        &self,
        owner: &K,
        filtered: &[Arc<Pod>],
        manage_err: Option<&Error>,
    ) -> ReplicaStatus {
        let now = self.ctx.now();
        let template_labels: BTreeMap<String, String> = owner
            .template()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let min_ready = owner.min_ready_seconds();
        let mut st = ReplicaStatus {
            replicas: filtered.len() as i32,
            observed_generation: owner.meta().generation.unwrap_or(0),
            ..Default::default()
        };
        for p in filtered {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            if template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
            {
                st.fully_labeled_replicas += 1;
            }
            if is_pod_ready(p) {
                st.ready_replicas += 1;
                if is_pod_available(p, min_ready, now) {
                    st.available_replicas += 1;
                }
            }
        }
        let previous = owner.replica_status().failure;
        st.failure = match manage_err {
            None => None,
            Some(e) => {
                let diff = filtered.len() as i64 - i64::from(owner.replicas());
                let reason = if diff < 0 {
                    "FailedCreate"
                } else {
                    "FailedDelete"
                };
                // As `calculateStatus`: set only when absent. The message names a random pod
                // (`pods "web-x7k2p" is forbidden: …`); rewriting it on every failure would
                // write the status, and so requeue the owner at once, on every retry: a hot
                // loop around the backoff.
                match previous {
                    Some(prev) => Some(prev),
                    None => Some((reason.to_string(), e.to_string(), Some(Time(now)))),
                }
            }
        };
        st
    }
}

#[async_trait]
impl<K: ReplicaOwner> Controller for ReplicaController<K> {
    fn name(&self) -> &'static str {
        K::CONTROLLER
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        let owners = enqueue_on(&self.owners, queue.clone(), |c| {
            vec![key_of(c.object().as_ref())]
        });
        let exp = self.expectations.clone();
        let owner_store = self.owners.store().clone();
        let pods = enqueue_on(&self.pods, queue.clone(), move |change| {
            let owner_key = |p: &Pod| {
                controller_of::<K>(p).map(|r| {
                    format!(
                        "{}/{}",
                        p.metadata.namespace.as_deref().unwrap_or(""),
                        r.name
                    )
                })
            };
            let matching_orphan_owners = |p: &Pod| -> Vec<String> {
                let ns = p.metadata.namespace.as_deref();
                let labels = p.metadata.labels.clone().unwrap_or_default();
                owner_store
                    .list_by(|o| {
                        o.meta().namespace.as_deref() == ns
                            && o.selector()
                                .is_ok_and(|s| !s.is_empty() && s.matches(&labels))
                    })
                    .iter()
                    .map(|o| key_of(o.as_ref()))
                    .collect()
            };
            let mut keys = Vec::new();
            match change {
                Change::Added(p) => {
                    if let Some(k) = owner_key(p) {
                        if p.metadata.deletion_timestamp.is_some() {
                            exp.deletion_observed(&k, p.metadata.uid.as_deref().unwrap_or(""));
                        } else {
                            exp.creation_observed(&k);
                        }
                        keys.push(k);
                    } else if p.metadata.deletion_timestamp.is_none() {
                        keys.extend(matching_orphan_owners(p));
                    }
                }
                Change::Updated { old, new } => {
                    let (ko, kn) = (owner_key(old), owner_key(new));
                    if new.metadata.deletion_timestamp.is_some()
                        && old.metadata.deletion_timestamp.is_none()
                    {
                        if let Some(k) = &kn {
                            exp.deletion_observed(k, new.metadata.uid.as_deref().unwrap_or(""));
                        }
                    }
                    let had_owner = ko.is_some();
                    if ko != kn {
                        keys.extend(ko);
                    }
                    match kn {
                        Some(k) => keys.push(k),
                        None => {
                            if old.metadata.labels != new.metadata.labels || had_owner {
                                keys.extend(matching_orphan_owners(new));
                            }
                        }
                    }
                }
                Change::Deleted(p) => {
                    if let Some(k) = owner_key(p) {
                        exp.deletion_observed(&k, p.metadata.uid.as_deref().unwrap_or(""));
                        keys.push(k);
                    }
                }
            }
            keys
        });
        vec![owners, pods]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let (ns, name) = split_key(key);
        let Some(owner) = self
            .owners
            .store()
            .get(&ObjectKey::namespaced(ns.unwrap_or(""), name))
        else {
            self.expectations.delete(key);
            return Ok(Action::Done);
        };
        let selector = match owner.selector() {
            Ok(s) => s,
            Err(e) => {
                // Invalid selectors are rejected by validation; never hot-loop on one.
                tracing::warn!(%key, error = %e, "invalid selector");
                return Ok(Action::Done);
            }
        };
        let needs_sync = self.expectations.satisfied(key);
        let claimed = self.claim(&owner, &selector).await?;
        let filtered: Vec<Arc<Pod>> = claimed.into_iter().filter(|p| is_pod_active(p)).collect();
        let manage_err = if needs_sync && owner.meta().deletion_timestamp.is_none() {
            self.manage(key, &owner, &filtered).await.err()
        } else {
            None
        };
        let status = self.compute_status(&owner, &filtered, manage_err.as_ref());
        if status != owner.replica_status() {
            let mut updated = (*owner).clone();
            updated.set_replica_status(status.clone());
            let api: Api<K> = Api::namespaced(self.ctx.client.clone(), ns.unwrap_or(""));
            match api
                .replace_status(name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(Action::Done),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(e) = manage_err {
            return Err(e);
        }
        let min_ready = owner.min_ready_seconds();
        if min_ready > 0
            && status.ready_replicas != status.available_replicas
            && filtered.len() as i32 == owner.replicas()
        {
            return Ok(Action::RequeueAfter(Duration::from_secs(min_ready as u64)));
        }
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubox_core::api::core_v1::{PodCondition, PodSpec, PodStatus};

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: Option<i64>, created: i64) -> Pod {
        let mut p = Pod::new(name);
        p.metadata.creation_timestamp = Some(Time::from_unix_seconds(created));
        p.spec = Some(PodSpec {
            node_name: node.map(str::to_string),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: ready.map(|t| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time::from_unix_seconds(t)),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn deletion_prefers_unscheduled_then_pending_then_not_ready_then_newest() {
        let pods = [
            pod("ready-old", Some("n1"), "Running", Some(10), 1),
            pod("unscheduled", None, "Pending", None, 1),
            pod("pending", Some("n1"), "Pending", None, 1),
            pod("running-not-ready", Some("n2"), "Running", None, 1),
            pod("ready-recent", Some("n2"), "Running", Some(20), 1),
        ];
        let mut v: Vec<&Pod> = pods.iter().collect();
        let rank = HashMap::new();
        v.sort_by(|a, b| deletion_order(a, b, &rank));
        let names: Vec<_> = v.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
        assert_eq!(
            names,
            [
                "unscheduled",
                "pending",
                "running-not-ready",
                "ready-recent",
                "ready-old"
            ]
        );
        // Deletion cost and co-location.
        let mut a = pod("a", Some("n1"), "Running", Some(10), 1);
        let b = pod("b", Some("n2"), "Running", Some(10), 1);
        let rank: HashMap<String, usize> = [("n1".to_string(), 1), ("n2".to_string(), 3)].into();
        assert_eq!(
            deletion_order(&b, &a, &rank),
            Ordering::Less,
            "more co-located first"
        );
        a.metadata.annotations = Some([(POD_DELETION_COST.to_string(), "-5".to_string())].into());
        assert_eq!(
            deletion_order(&a, &b, &rank),
            Ordering::Less,
            "lower cost first"
        );
        // Newer first at the end.
        let old = pod("o", Some("n1"), "Running", Some(10), 1);
        let new = pod("n", Some("n1"), "Running", Some(10), 5);
        assert_eq!(deletion_order(&new, &old, &HashMap::new()), Ordering::Less);
    }

    #[test]
    fn availability_honours_min_ready_seconds() {
        let p = pod("a", Some("n1"), "Running", Some(100), 1);
        let at = |s| jiff::Timestamp::from_second(s).unwrap();
        assert!(is_pod_available(&p, 0, at(100)));
        assert!(!is_pod_available(&p, 10, at(110)));
        assert!(is_pod_available(&p, 10, at(111)));
        let not_ready = pod("b", Some("n1"), "Running", None, 1);
        assert!(!is_pod_available(&not_ready, 0, at(1000)));
    }

    #[tokio::test(start_paused = true)]
    async fn expectations_track_creates_deletes_and_expire() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/rs"));
        e.expect_creations("ns/rs", 2);
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));
        e.expect_deletions("ns/rs", ["u1".to_string()]);
        e.deletion_observed("ns/rs", "u1");
        e.deletion_observed("ns/rs", "u1");
        assert!(e.satisfied("ns/rs"));
        e.expect_creations("ns/rs", 1);
        tokio::time::advance(EXPECTATIONS_TIMEOUT + Duration::from_secs(1)).await;
        assert!(e.satisfied("ns/rs"), "expired");
    }
}
