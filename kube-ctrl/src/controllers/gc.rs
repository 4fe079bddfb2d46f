//! The garbage collector (`pkg/controller/garbagecollector`): deletes objects whose owners are
//! gone, and carries out foreground and orphan deletion of owners.
//!
//! # What it watches
//!
//! Every resource of kubox-core's [`registry`] that supports `delete`, `list` and `watch`
//! (Kubernetes' `GetDeletableResources`), except [`IGNORED_RESOURCES`] (events, as
//! kube-controller-manager's default). No kind is chosen here: the filter is
//! [`monitored_resources`]. Each is watched through the process' shared informer of its Rust
//! type (kubox-core's informers are typed; the table from registry entry to type is
//! [`has_typed_monitor`]'s, and a test checks that it covers every monitored resource).
//!
//! # The graph
//!
//! One task (the graph builder) applies every change, in order, to a graph of nodes keyed by
//! uid: a node's owners are its `ownerReferences`, its dependents the nodes that name it. An
//! owner not seen yet becomes a *virtual* node that is verified with a live GET. The builder
//! queues work as `delete:<uid>` (attemptToDelete) and `orphan:<uid>` (attemptToOrphan):
//!
//! - a node removed from the graph queues its dependents (their owner is gone) and its owners
//!   that wait for their dependents;
//! - an object that starts being deleted with the `orphan` finalizer queues `orphan:`;
//! - one that starts being deleted with `foregroundDeletion` is marked *deleting dependents*
//!   and queues itself and every dependent;
//! - a dependent that drops (or stops blocking with) an owner reference queues that owner.
//!
//! # The decisions (reconcile)
//!
//! - `delete:<uid>`: the object is read live (absent or another uid: the node is removed with
//!   a virtual delete event). A node deleting its dependents keeps its `foregroundDeletion`
//!   finalizer while a dependent with `blockOwnerDeletion: true` remains (those are queued),
//!   then the finalizer is removed. Otherwise each owner reference is classified by a live GET
//!   of the owner (identity is the uid): *dangling* (absent or another uid), *waiting* (being
//!   deleted with `foregroundDeletion`) or *solid*. With a solid owner, dangling and waiting
//!   references are patched away; with only waiting owners and dependents of its own, the
//!   object is deleted in the foreground; with no owner left it is deleted with the policy of
//!   its own finalizers (`orphan`, `foregroundDeletion`, else background), with a uid
//!   precondition.
//! - `orphan:<uid>`: the owner's reference is removed from each of its dependents, then the
//!   `orphan` finalizer from the owner.
//!
//! Failures are retried with the work queue's per-key backoff.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use futures::StreamExt;
use kubox_core::api::{
    apps_v1, coordination_v1, core_v1, discovery_v1, policy_v1, rbac_v1, scheduling_v1,
};
use kubox_core::client::{
    DeleteParams, GroupVersionResource, Patch, PatchParams, Preconditions, PropagationPolicy,
    Request, Verb,
};
use kubox_core::meta::{ObjectMeta, OwnerReference, Resource};
use kubox_core::registry::{self, ResourceInfo};
use kubox_core::runtime::{Change, Informer};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::runtime::{Action, Context, Controller, Error, Result, SharedInformers, WorkQueue};

/// The finalizer of an owner deleted in the foreground (`metav1.FinalizerDeleteDependents`).
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
/// The finalizer of an owner whose dependents are orphaned (`metav1.FinalizerOrphanDependents`).
pub const FINALIZER_ORPHAN: &str = "orphan";
/// `(group, resource)` the collector never watches (`garbagecollector.DefaultIgnoredResources`).
pub const IGNORED_RESOURCES: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];
/// How many absent owners are remembered (the `absentOwnerCache` size).
const ABSENT_OWNER_CACHE_SIZE: usize = 500;

/// The resources the collector watches: every registry resource with the verbs `delete`,
/// `list` and `watch`, minus [`IGNORED_RESOURCES`].
pub fn monitored_resources() -> Vec<&'static ResourceInfo> {
    registry::RESOURCES
        .iter()
        .filter(|r| ["delete", "list", "watch"].iter().all(|v| r.supports(v)))
        .filter(|r| !IGNORED_RESOURCES.contains(&(r.group, r.plural)))
        .collect()
}

/// The key of an attemptToDelete item.
fn delete_key(uid: &str) -> String {
    format!("delete:{uid}")
}

/// The key of an attemptToOrphan item.
fn orphan_key(uid: &str) -> String {
    format!("orphan:{uid}")
}

/// Who an object is: its coordinates and uid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Identity {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    uid: String,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}/{}, namespace: {}, name: {}, uid: {}]",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or(""),
            self.name,
            self.uid
        )
    }
}

/// One object in the graph.
#[derive(Clone, Debug)]
struct Node {
    identity: Identity,
    owners: Vec<OwnerReference>,
    dependents: HashSet<String>,
    being_deleted: bool,
    deleting_dependents: bool,
    /// Known only from a dependent's reference; not observed through an informer yet.
    virtual_: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventType {
    Add,
    Update,
    Delete,
}

/// A change fed to the graph builder (from an informer, or virtual: "this object is gone").
#[derive(Clone, Debug)]
struct GraphEvent {
    ty: EventType,
    virtual_: bool,
    identity: Identity,
    owners: Vec<OwnerReference>,
    being_deleted: bool,
    finalizers: Vec<String>,
    /// `(being deleted, finalizers)` of the previous state, for updates.
    old: Option<(bool, Vec<String>)>,
}

fn has(finalizers: &[String], f: &str) -> bool {
    finalizers.iter().any(|x| x == f)
}

fn identity_of(info: &ResourceInfo, m: &ObjectMeta) -> Identity {
    Identity {
        api_version: info.api_version(),
        kind: info.kind.to_string(),
        name: m.name.clone().unwrap_or_default(),
        namespace: m.namespace.clone().filter(|n| !n.is_empty()),
        uid: m.uid.clone().unwrap_or_default(),
    }
}

fn event_of<K: Resource>(info: &ResourceInfo, change: &Change<K>) -> GraphEvent {
    let (ty, old) = match change {
        Change::Added(_) => (EventType::Add, None),
        Change::Updated { old, .. } => (
            EventType::Update,
            Some((
                old.meta().deletion_timestamp.is_some(),
                old.meta().finalizers.clone().unwrap_or_default(),
            )),
        ),
        Change::Deleted(_) => (EventType::Delete, None),
    };
    let m = change.object().meta();
    GraphEvent {
        ty,
        virtual_: false,
        identity: identity_of(info, m),
        owners: m.owner_references.clone().unwrap_or_default(),
        being_deleted: m.deletion_timestamp.is_some(),
        finalizers: m.finalizers.clone().unwrap_or_default(),
        old,
    }
}

/// The uid → node graph (`GraphBuilder.uidToNode`). Pure: [`Graph::process`] returns the keys
/// to queue.
#[derive(Debug, Default)]
struct Graph {
    nodes: HashMap<String, Node>,
}

impl Graph {
    /// Applies one change; returns the work-queue keys it calls for (`processGraphChanges`).
    fn process(&mut self, ev: &GraphEvent, absent: &mut AbsentOwners) -> Vec<String> {
        let mut out = Vec::new();
        let uid = ev.identity.uid.clone();
        if uid.is_empty() {
            return out;
        }
        // A virtual node observed for real.
        if !ev.virtual_ && ev.ty != EventType::Delete {
            if let Some(n) = self.nodes.get_mut(&uid) {
                if n.virtual_ {
                    if n.identity != ev.identity {
                        // Dependents may name the owner with other coordinates: re-check them.
                        out.extend(n.dependents.iter().map(|d| delete_key(d)));
                        n.identity = ev.identity.clone();
                    }
                    n.virtual_ = false;
                }
            }
        }
        match ev.ty {
            EventType::Add | EventType::Update => {
                if !self.nodes.contains_key(&uid) {
                    self.nodes.insert(
                        uid.clone(),
                        Node {
                            identity: ev.identity.clone(),
                            owners: ev.owners.clone(),
                            dependents: HashSet::new(),
                            being_deleted: ev.being_deleted,
                            deleting_dependents: ev.being_deleted
                                && has(&ev.finalizers, FINALIZER_FOREGROUND),
                            virtual_: false,
                        },
                    );
                    self.add_dependent_to_owners(&ev.identity, &ev.owners, &mut out);
                    self.process_transitions(None, ev, &mut out);
                } else {
                    let old_owners = self.nodes[&uid].owners.clone();
                    let (added, removed, changed) = references_diffs(&old_owners, &ev.owners);
                    if !added.is_empty() || !removed.is_empty() || !changed.is_empty() {
                        // Owners waiting for this dependent may be unblocked.
                        for r in &removed {
                            if r.block_owner_deletion == Some(true)
                                && self.nodes.contains_key(&r.uid)
                            {
                                out.push(delete_key(&r.uid));
                            }
                        }
                        for (old, new) in &changed {
                            if old.block_owner_deletion == Some(true)
                                && new.block_owner_deletion != Some(true)
                                && self.nodes.contains_key(&new.uid)
                            {
                                out.push(delete_key(&new.uid));
                            }
                        }
                        if let Some(n) = self.nodes.get_mut(&uid) {
                            n.owners = ev.owners.clone();
                        }
                        self.add_dependent_to_owners(&ev.identity, &added, &mut out);
                        for r in &removed {
                            if let Some(o) = self.nodes.get_mut(&r.uid) {
                                o.dependents.remove(&uid);
                            }
                        }
                    }
                    if ev.being_deleted {
                        if let Some(n) = self.nodes.get_mut(&uid) {
                            n.being_deleted = true;
                        }
                    }
                    self.process_transitions(ev.old.as_ref(), ev, &mut out);
                }
            }
            EventType::Delete => {
                let keep = match self.nodes.get(&uid) {
                    None => true,
                    // An observed object is not removed on another identity's word.
                    Some(n) => ev.virtual_ && !n.virtual_ && n.identity != ev.identity,
                };
                if keep {
                    return out;
                }
                let Some(existing) = self.nodes.remove(&uid) else {
                    return out;
                };
                for o in &existing.owners {
                    if let Some(owner) = self.nodes.get_mut(&o.uid) {
                        owner.dependents.remove(&uid);
                    }
                }
                if !existing.dependents.is_empty() {
                    absent.insert(&existing.identity);
                }
                out.extend(existing.dependents.iter().map(|d| delete_key(d)));
                for o in &existing.owners {
                    if self
                        .nodes
                        .get(&o.uid)
                        .is_some_and(|owner| owner.deleting_dependents)
                    {
                        out.push(delete_key(&o.uid));
                    }
                }
            }
        }
        out
    }

    /// Records `dependent` under each of `owners`, creating virtual nodes for owners not seen
    /// yet (queued, so that a live GET confirms or removes them).
    fn add_dependent_to_owners(
        &mut self,
        dependent: &Identity,
        owners: &[OwnerReference],
        out: &mut Vec<String>,
    ) {
        for o in owners {
            if o.uid.is_empty() {
                continue;
            }
            match self.nodes.get_mut(&o.uid) {
                Some(n) => {
                    n.dependents.insert(dependent.uid.clone());
                }
                None => {
                    let namespaced = registry::for_api_version_kind(&o.api_version, &o.kind)
                        .map(|r| r.namespaced)
                        .unwrap_or(true);
                    let mut dependents = HashSet::new();
                    dependents.insert(dependent.uid.clone());
                    self.nodes.insert(
                        o.uid.clone(),
                        Node {
                            identity: Identity {
                                api_version: o.api_version.clone(),
                                kind: o.kind.clone(),
                                name: o.name.clone(),
                                namespace: if namespaced {
                                    dependent.namespace.clone()
                                } else {
                                    None
                                },
                                uid: o.uid.clone(),
                            },
                            owners: Vec::new(),
                            dependents,
                            being_deleted: false,
                            deleting_dependents: false,
                            virtual_: true,
                        },
                    );
                    out.push(delete_key(&o.uid));
                }
            }
        }
    }

    /// Deletion starting with the `orphan` or `foregroundDeletion` finalizer.
    fn process_transitions(
        &mut self,
        old: Option<&(bool, Vec<String>)>,
        ev: &GraphEvent,
        out: &mut Vec<String>,
    ) {
        let starts = |f: &str| {
            ev.being_deleted
                && has(&ev.finalizers, f)
                && !old.is_some_and(|(deleting, fs)| *deleting && has(fs, f))
        };
        let uid = &ev.identity.uid;
        if starts(FINALIZER_ORPHAN) {
            out.push(orphan_key(uid));
            return;
        }
        if starts(FINALIZER_FOREGROUND) {
            if let Some(n) = self.nodes.get_mut(uid) {
                n.deleting_dependents = true;
                out.extend(n.dependents.iter().map(|d| delete_key(d)));
            }
            out.push(delete_key(uid));
        }
    }
}

/// Owner references added, removed and changed (same uid, other content) between two lists.
#[allow(clippy::type_complexity)]
fn references_diffs(
    old: &[OwnerReference],
    new: &[OwnerReference],
) -> (
    Vec<OwnerReference>,
    Vec<OwnerReference>,
    Vec<(OwnerReference, OwnerReference)>,
) {
    let old_by: HashMap<&str, &OwnerReference> = old.iter().map(|r| (r.uid.as_str(), r)).collect();
    let new_by: HashMap<&str, &OwnerReference> = new.iter().map(|r| (r.uid.as_str(), r)).collect();
    let added = new
        .iter()
        .filter(|r| !old_by.contains_key(r.uid.as_str()))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|r| !new_by.contains_key(r.uid.as_str()))
        .cloned()
        .collect();
    let changed = new
        .iter()
        .filter_map(|r| {
            old_by
                .get(r.uid.as_str())
                .filter(|o| **o != r)
                .map(|o| ((*o).clone(), r.clone()))
        })
        .collect();
    (added, removed, changed)
}

/// Owners known to be absent (`absentOwnerCache`): `(uid, namespace)`; bounded.
#[derive(Debug, Default)]
struct AbsentOwners(HashSet<(String, Option<String>)>);

impl AbsentOwners {
    fn insert(&mut self, id: &Identity) {
        if self.0.len() >= ABSENT_OWNER_CACHE_SIZE {
            self.0.clear();
        }
        self.0.insert((id.uid.clone(), id.namespace.clone()));
    }
    fn contains(&self, uid: &str, namespace: Option<&str>) -> bool {
        self.0
            .contains(&(uid.to_string(), namespace.map(str::to_string)))
    }
}

/// Why an object could not be read.
#[derive(Debug)]
enum GetError {
    /// A cluster-scoped object names a namespaced owner: not retried.
    NamespacedOwnerOfClusterScoped,
    Other(Error),
}

impl From<kubox_core::client::Error> for GetError {
    fn from(e: kubox_core::client::Error) -> Self {
        GetError::Other(e.into())
    }
}

/// A snapshot of a node and its dependents for one decision.
struct View {
    node: Node,
    /// `(node, its reference to the viewed node)` of each dependent.
    dependents: Vec<(Node, Option<OwnerReference>)>,
}

type Ready = Pin<Box<dyn Future<Output = ()> + Send>>;
type Starter = Box<dyn Fn(mpsc::UnboundedSender<GraphEvent>) -> JoinHandle<()> + Send + Sync>;

/// A typed shared informer, erased to what the collector needs.
struct Monitor {
    ready: Box<dyn Fn() -> Ready + Send + Sync>,
    start: Starter,
}

fn monitor<K: Resource>(informers: &SharedInformers, info: &'static ResourceInfo) -> Monitor {
    let informer: Informer<K> = informers.get::<K>();
    let i2 = informer.clone();
    Monitor {
        ready: Box::new(move || {
            let w = i2.wait_until_ready();
            Box::pin(async move {
                let _ = w.await;
            })
        }),
        start: Box::new(move |tx| {
            let mut changes = informer.subscribe();
            tokio::spawn(async move {
                while let Some(c) = changes.next().await {
                    if tx.send(event_of(info, &c)).is_err() {
                        break;
                    }
                }
            })
        }),
    }
}

macro_rules! typed_monitors {
    ($($t:ty),* $(,)?) => {
        /// Whether the collector can watch `info` (kubox-core has a Rust type for it).
        pub fn has_typed_monitor(info: &ResourceInfo) -> bool {
            $(
                if (<$t as Resource>::GROUP, <$t as Resource>::VERSION, <$t as Resource>::PLURAL)
                    == (info.group, info.version, info.plural)
                {
                    return true;
                }
            )*
            false
        }

        fn typed_monitor(informers: &SharedInformers, info: &'static ResourceInfo) -> Option<Monitor> {
            $(
                if (<$t as Resource>::GROUP, <$t as Resource>::VERSION, <$t as Resource>::PLURAL)
                    == (info.group, info.version, info.plural)
                {
                    return Some(monitor::<$t>(informers, info));
                }
            )*
            None
        }
    };
}

// Every stored kind of kubox-core's `api` module.
typed_monitors!(
    core_v1::ConfigMap,
    core_v1::Endpoints,
    core_v1::Event,
    core_v1::Namespace,
    core_v1::Node,
    core_v1::Pod,
    core_v1::ReplicationController,
    core_v1::Secret,
    core_v1::ServiceAccount,
    core_v1::Service,
    apps_v1::Deployment,
    apps_v1::ReplicaSet,
    policy_v1::PodDisruptionBudget,
    rbac_v1::ClusterRoleBinding,
    rbac_v1::ClusterRole,
    rbac_v1::RoleBinding,
    rbac_v1::Role,
    scheduling_v1::PriorityClass,
    coordination_v1::Lease,
    discovery_v1::EndpointSlice,
);

/// The garbage collector.
pub struct GarbageCollector {
    ctx: Context,
    graph: Arc<Mutex<Graph>>,
    absent: Arc<Mutex<AbsentOwners>>,
    tx: mpsc::UnboundedSender<GraphEvent>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<GraphEvent>>>,
    monitors: Vec<Monitor>,
    queue: OnceLock<WorkQueue>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl GarbageCollector {
    /// The collector over `ctx`'s shared informers (one per [`monitored_resources`] entry).
    pub fn new(ctx: &Context) -> Self {
        let monitors = monitored_resources()
            .into_iter()
            .filter_map(|info| {
                let m = typed_monitor(&ctx.informers, info);
                if m.is_none() {
                    tracing::warn!(
                        resource = info.plural,
                        group = info.group,
                        "no typed informer: not garbage collected"
                    );
                }
                m
            })
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        GarbageCollector {
            ctx: ctx.clone(),
            graph: Arc::default(),
            absent: Arc::default(),
            tx,
            rx: Mutex::new(Some(rx)),
            monitors,
            queue: OnceLock::new(),
        }
    }

    fn view(&self, uid: &str) -> Option<View> {
        let g = lock(&self.graph);
        let node = g.nodes.get(uid)?.clone();
        let dependents = node
            .dependents
            .iter()
            .filter_map(|d| g.nodes.get(d))
            .map(|d| {
                let r = d.owners.iter().find(|o| o.uid == uid).cloned();
                (d.clone(), r)
            })
            .collect();
        Some(View { node, dependents })
    }

    fn virtual_delete(&self, id: &Identity) {
        let _ = self.tx.send(GraphEvent {
            ty: EventType::Delete,
            virtual_: true,
            identity: id.clone(),
            owners: Vec::new(),
            being_deleted: false,
            finalizers: Vec::new(),
            old: None,
        });
    }

    fn mapping(api_version: &str, kind: &str) -> Result<&'static ResourceInfo> {
        registry::for_api_version_kind(api_version, kind).ok_or_else(|| {
            Error::Other(format!(
                "unable to get REST mapping for {api_version}/{kind}."
            ))
        })
    }

    fn gvr(info: &ResourceInfo) -> GroupVersionResource {
        GroupVersionResource {
            group: info.group.to_string(),
            version: info.version.to_string(),
            resource: info.plural.to_string(),
        }
    }

    fn request(info: &ResourceInfo, id: &Identity, verb: Verb, body: Option<Value>) -> Request {
        Request {
            resource: Self::gvr(info),
            namespace: if info.namespaced {
                id.namespace.clone()
            } else {
                None
            },
            name: Some(id.name.clone()),
            subresource: None,
            verb,
            body,
        }
    }

    /// A live GET of `id`'s metadata; `None` when absent.
    async fn get_object(&self, id: &Identity) -> std::result::Result<Option<ObjectMeta>, GetError> {
        let info = Self::mapping(&id.api_version, &id.kind).map_err(GetError::Other)?;
        if info.namespaced && id.namespace.is_none() {
            return Err(GetError::NamespacedOwnerOfClusterScoped);
        }
        match self
            .ctx
            .client
            .call(Self::request(info, id, Verb::Get, None))
            .await
        {
            Ok(v) => Ok(Some(
                v.get("metadata")
                    .cloned()
                    .and_then(|m| serde_json::from_value(m).ok())
                    .unwrap_or_default(),
            )),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `r` (a reference of `item`) names an absent owner; else the owner's metadata.
    async fn is_dangling(
        &self,
        r: &OwnerReference,
        item: &Identity,
    ) -> std::result::Result<(bool, Option<ObjectMeta>), GetError> {
        let info = Self::mapping(&r.api_version, &r.kind).map_err(GetError::Other)?;
        let ns = if info.namespaced {
            item.namespace.clone()
        } else {
            None
        };
        if lock(&self.absent).contains(&r.uid, ns.as_deref()) {
            return Ok((true, None));
        }
        if info.namespaced && item.namespace.is_none() {
            return Err(GetError::NamespacedOwnerOfClusterScoped);
        }
        let owner_id = Identity {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            namespace: ns,
            uid: r.uid.clone(),
        };
        match self.get_object(&owner_id).await? {
            Some(m) if m.uid.as_deref() == Some(r.uid.as_str()) => Ok((false, Some(m))),
            _ => {
                lock(&self.absent).insert(&owner_id);
                Ok((true, None))
            }
        }
    }

    async fn delete_object(&self, id: &Identity, policy: PropagationPolicy) -> Result<()> {
        let info = Self::mapping(&id.api_version, &id.kind)?;
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(id.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        tracing::debug!(item = %id, ?policy, "garbage collector deleting");
        match self
            .ctx
            .client
            .call(Self::request(info, id, Verb::Delete(params), None))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A strategic merge patch of `id`'s metadata, guarded by its uid.
    async fn patch_owner_refs(&self, id: &Identity, refs: Vec<Value>) -> Result<()> {
        let info = Self::mapping(&id.api_version, &id.kind)?;
        let body = json!({"metadata": {"ownerReferences": refs, "uid": id.uid}});
        match self
            .ctx
            .client
            .call(Self::request(
                info,
                id,
                Verb::Patch(Patch::Strategic(body.clone()), PatchParams::default()),
                Some(body),
            ))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `finalizer` from `id` (a merge patch guarded by the resourceVersion, retried on
    /// conflicts).
    async fn remove_finalizer(&self, id: &Identity, finalizer: &str) -> Result<()> {
        let info = Self::mapping(&id.api_version, &id.kind)?;
        for _ in 0..5 {
            let meta = match self.get_object(id).await {
                Ok(Some(m)) if m.uid.as_deref() == Some(id.uid.as_str()) => m,
                Ok(_) => return Ok(()),
                Err(GetError::NamespacedOwnerOfClusterScoped) => return Ok(()),
                Err(GetError::Other(e)) => return Err(e),
            };
            let finalizers = meta.finalizers.clone().unwrap_or_default();
            if !has(&finalizers, finalizer) {
                return Ok(());
            }
            let rest: Vec<String> = finalizers.into_iter().filter(|f| f != finalizer).collect();
            let body = json!({"metadata": {
                "resourceVersion": meta.resource_version,
                "finalizers": if rest.is_empty() { Value::Null } else { json!(rest) },
            }});
            tracing::debug!(item = %id, finalizer, "garbage collector removing finalizer");
            match self
                .ctx
                .client
                .call(Self::request(
                    info,
                    id,
                    Verb::Patch(Patch::Merge(body.clone()), PatchParams::default()),
                    Some(body),
                ))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Other(format!(
            "removing the {finalizer} finalizer of {id}: too many conflicts"
        )))
    }

    /// `attemptToDeleteItem`.
    async fn attempt_to_delete(&self, uid: &str) -> Result<Action> {
        let Some(view) = self.view(uid) else {
            return Ok(Action::Done);
        };
        let n = &view.node;
        if n.being_deleted && !n.deleting_dependents {
            return Ok(Action::Done);
        }
        let latest = match self.get_object(&n.identity).await {
            Ok(Some(m)) if m.uid.as_deref() == Some(n.identity.uid.as_str()) => m,
            Ok(_) => {
                // Absent (or replaced by another object of the name): drop the node.
                self.virtual_delete(&n.identity);
                return Ok(Action::Done);
            }
            Err(GetError::NamespacedOwnerOfClusterScoped) => {
                tracing::warn!(item = %n.identity, "cluster-scoped objects cannot refer to namespaced owners");
                return Ok(Action::Done);
            }
            Err(GetError::Other(e)) => return Err(e),
        };
        if n.virtual_ {
            // Exists, but not observed through an informer yet: look again later.
            return Ok(Action::Requeue);
        }
        if n.deleting_dependents {
            return self.process_deleting_dependents(&view).await;
        }
        let refs = latest.owner_references.clone().unwrap_or_default();
        if refs.is_empty() {
            return Ok(Action::Done);
        }
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for r in &refs {
            match self.is_dangling(r, &n.identity).await {
                Ok((true, _)) => dangling.push(r.clone()),
                Ok((false, Some(owner)))
                    if owner.deletion_timestamp.is_some()
                        && has(
                            &owner.finalizers.clone().unwrap_or_default(),
                            FINALIZER_FOREGROUND,
                        ) =>
                {
                    waiting.push(r.clone())
                }
                Ok((false, _)) => solid.push(r.clone()),
                Err(GetError::NamespacedOwnerOfClusterScoped) => {
                    tracing::warn!(item = %n.identity, "cluster-scoped objects cannot refer to namespaced owners");
                    return Ok(Action::Done);
                }
                Err(GetError::Other(e)) => return Err(e),
            }
        }
        tracing::trace!(item = %n.identity, solid = solid.len(), dangling = dangling.len(), waiting = waiting.len(), "classified owner references");
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(Action::Done);
            }
            // Keep the solid owners; drop the references to absent or foreground-deleted ones.
            let refs = dangling
                .iter()
                .chain(&waiting)
                .map(|r| json!({"$patch": "delete", "uid": r.uid}))
                .collect();
            self.patch_owner_refs(&n.identity, refs).await?;
            return Ok(Action::Done);
        }
        if !waiting.is_empty() && !view.dependents.is_empty() {
            if view.dependents.iter().any(|(d, _)| d.deleting_dependents) {
                // Possibly a cycle: make this object's references non-blocking first.
                let refs = refs
                    .iter()
                    .filter(|r| r.block_owner_deletion == Some(true))
                    .map(|r| {
                        json!({"apiVersion": r.api_version, "kind": r.kind, "name": r.name,
                               "uid": r.uid, "blockOwnerDeletion": false})
                    })
                    .collect::<Vec<_>>();
                if !refs.is_empty() {
                    self.patch_owner_refs(&n.identity, refs).await?;
                }
            }
            self.delete_object(&n.identity, PropagationPolicy::Foreground)
                .await?;
            return Ok(Action::Done);
        }
        let finalizers = latest.finalizers.unwrap_or_default();
        let policy = if has(&finalizers, FINALIZER_ORPHAN) {
            PropagationPolicy::Orphan
        } else if has(&finalizers, FINALIZER_FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        self.delete_object(&n.identity, policy).await?;
        Ok(Action::Done)
    }

    /// An owner deleted in the foreground: its finalizer goes once no blocking dependent
    /// remains; until then its blocking dependents are queued.
    async fn process_deleting_dependents(&self, view: &View) -> Result<Action> {
        let blocking: Vec<&Node> = view
            .dependents
            .iter()
            .filter(|(_, r)| {
                r.as_ref()
                    .is_some_and(|r| r.block_owner_deletion == Some(true))
            })
            .map(|(d, _)| d)
            .collect();
        if blocking.is_empty() {
            self.remove_finalizer(&view.node.identity, FINALIZER_FOREGROUND)
                .await?;
            return Ok(Action::Done);
        }
        if let Some(q) = self.queue.get() {
            for d in blocking {
                if !d.deleting_dependents {
                    q.add(delete_key(&d.identity.uid));
                }
            }
        }
        Ok(Action::Done)
    }

    /// `attemptToOrphanWorker`: remove the owner from its dependents, then its `orphan`
    /// finalizer.
    async fn attempt_to_orphan(&self, uid: &str) -> Result<Action> {
        let Some(view) = self.view(uid) else {
            return Ok(Action::Done);
        };
        let mut errors = Vec::new();
        for (d, _) in &view.dependents {
            let patch = vec![json!({"$patch": "delete", "uid": uid})];
            if let Err(e) = self.patch_owner_refs(&d.identity, patch).await {
                errors.push(format!("orphaning {}: {e}", d.identity));
            }
        }
        if !errors.is_empty() {
            return Err(Error::Other(errors.join("; ")));
        }
        self.remove_finalizer(&view.node.identity, FINALIZER_ORPHAN)
            .await?;
        Ok(Action::Done)
    }
}

#[async_trait]
impl Controller for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbagecollector"
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        let _ = self.queue.set(queue.clone());
        let mut handles: Vec<JoinHandle<()>> = self
            .monitors
            .iter()
            .map(|m| (m.start)(self.tx.clone()))
            .collect();
        let readies: Vec<Ready> = self.monitors.iter().map(|m| (m.ready)()).collect();
        let Some(mut rx) = lock(&self.rx).take() else {
            return handles;
        };
        let (graph, absent, queue) = (self.graph.clone(), self.absent.clone(), queue.clone());
        handles.push(tokio::spawn(async move {
            // The graph is complete only once every informer has listed.
            for r in readies {
                r.await;
            }
            while let Some(ev) = rx.recv().await {
                if queue.is_shutting_down() {
                    break;
                }
                let keys = {
                    let mut a = lock(&absent);
                    lock(&graph).process(&ev, &mut a)
                };
                for k in keys {
                    queue.add(k);
                }
            }
        }));
        handles
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        if let Some(uid) = key.strip_prefix("delete:") {
            self.attempt_to_delete(uid).await
        } else if let Some(uid) = key.strip_prefix("orphan:") {
            self.attempt_to_orphan(uid).await
        } else {
            Ok(Action::Done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, name: &str, uid: &str) -> Identity {
        let info = registry::RESOURCES.iter().find(|r| r.kind == kind).unwrap();
        Identity {
            api_version: info.api_version(),
            kind: kind.into(),
            name: name.into(),
            namespace: Some("default".into()),
            uid: uid.into(),
        }
    }

    fn owner(i: &Identity, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: i.api_version.clone(),
            kind: i.kind.clone(),
            name: i.name.clone(),
            uid: i.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn ev(
        ty: EventType,
        i: &Identity,
        owners: Vec<OwnerReference>,
        deleting: bool,
        fin: &[&str],
    ) -> GraphEvent {
        GraphEvent {
            ty,
            virtual_: false,
            identity: i.clone(),
            owners,
            being_deleted: deleting,
            finalizers: fin.iter().map(|s| s.to_string()).collect(),
            old: None,
        }
    }

    #[test]
    fn every_monitored_resource_has_a_typed_informer() {
        let monitored = monitored_resources();
        for want in [
            "pods",
            "replicasets",
            "deployments",
            "replicationcontrollers",
            "services",
            "endpoints",
            "endpointslices",
            "configmaps",
            "secrets",
            "serviceaccounts",
        ] {
            assert!(
                monitored.iter().any(|r| r.plural == want),
                "{want} not monitored"
            );
        }
        assert!(!monitored.iter().any(|r| r.plural == "events"));
        assert!(!monitored.iter().any(|r| r.plural == "bindings"));
        for r in monitored {
            assert!(
                has_typed_monitor(r),
                "{}/{} has no typed informer",
                r.group,
                r.plural
            );
        }
    }

    #[test]
    fn owners_not_seen_become_virtual_and_removal_queues_dependents() {
        let mut g = Graph::default();
        let mut absent = AbsentOwners::default();
        let rs = id("ReplicaSet", "web", "rs-1");
        let pod = id("Pod", "web-a", "pod-1");
        let keys = g.process(
            &ev(EventType::Add, &pod, vec![owner(&rs, true)], false, &[]),
            &mut absent,
        );
        assert_eq!(keys, vec![delete_key("rs-1")]);
        assert!(g.nodes["rs-1"].virtual_);
        // Observed for real: no longer virtual, nothing queued.
        let keys = g.process(&ev(EventType::Add, &rs, vec![], false, &[]), &mut absent);
        assert!(keys.is_empty());
        assert!(!g.nodes["rs-1"].virtual_);
        assert!(g.nodes["rs-1"].dependents.contains("pod-1"));
        // Deleted: its dependent is queued, the owner remembered as absent.
        let keys = g.process(&ev(EventType::Delete, &rs, vec![], false, &[]), &mut absent);
        assert_eq!(keys, vec![delete_key("pod-1")]);
        assert!(absent.contains("rs-1", Some("default")));
        assert!(!g.nodes.contains_key("rs-1"));
    }

    #[test]
    fn deletion_with_finalizers_starts_orphaning_or_foreground() {
        let mut g = Graph::default();
        let mut absent = AbsentOwners::default();
        let d = id("Deployment", "web", "d-1");
        let rs = id("ReplicaSet", "web-1", "rs-1");
        g.process(&ev(EventType::Add, &d, vec![], false, &[]), &mut absent);
        g.process(
            &ev(EventType::Add, &rs, vec![owner(&d, true)], false, &[]),
            &mut absent,
        );
        let mut upd = ev(EventType::Update, &d, vec![], true, &[FINALIZER_ORPHAN]);
        upd.old = Some((false, vec![]));
        assert_eq!(g.process(&upd, &mut absent), vec![orphan_key("d-1")]);
        // The same state again starts nothing.
        upd.old = Some((true, vec![FINALIZER_ORPHAN.into()]));
        assert!(g.process(&upd, &mut absent).is_empty());

        let mut fg = ev(EventType::Update, &d, vec![], true, &[FINALIZER_FOREGROUND]);
        fg.old = Some((true, vec![FINALIZER_ORPHAN.into()]));
        assert_eq!(
            g.process(&fg, &mut absent),
            vec![delete_key("rs-1"), delete_key("d-1")]
        );
        assert!(g.nodes["d-1"].deleting_dependents);
        // The dependent goes: the waiting owner is queued.
        let keys = g.process(
            &ev(EventType::Delete, &rs, vec![owner(&d, true)], false, &[]),
            &mut absent,
        );
        assert_eq!(keys, vec![delete_key("d-1")]);
        assert!(g.nodes["d-1"].dependents.is_empty());
    }

    #[test]
    fn dropping_a_blocking_reference_queues_the_owner() {
        let mut g = Graph::default();
        let mut absent = AbsentOwners::default();
        let d = id("Deployment", "web", "d-1");
        let rs = id("ReplicaSet", "web-1", "rs-1");
        g.process(&ev(EventType::Add, &d, vec![], false, &[]), &mut absent);
        g.process(
            &ev(EventType::Add, &rs, vec![owner(&d, true)], false, &[]),
            &mut absent,
        );
        let keys = g.process(
            &ev(EventType::Update, &rs, vec![owner(&d, false)], false, &[]),
            &mut absent,
        );
        assert_eq!(keys, vec![delete_key("d-1")]);
        let keys = g.process(&ev(EventType::Update, &rs, vec![], false, &[]), &mut absent);
        assert!(
            keys.is_empty(),
            "a non-blocking reference unblocks nobody: {keys:?}"
        );
        assert!(g.nodes["d-1"].dependents.is_empty());
    }

    #[test]
    fn a_virtual_delete_does_not_remove_an_observed_object_of_another_identity() {
        let mut g = Graph::default();
        let mut absent = AbsentOwners::default();
        let rs = id("ReplicaSet", "web", "rs-1");
        g.process(&ev(EventType::Add, &rs, vec![], false, &[]), &mut absent);
        let mut other = rs.clone();
        other.name = "other".into();
        let mut v = ev(EventType::Delete, &other, vec![], false, &[]);
        v.virtual_ = true;
        assert!(g.process(&v, &mut absent).is_empty());
        assert!(g.nodes.contains_key("rs-1"));
    }
}
