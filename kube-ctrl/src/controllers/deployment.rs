//! The Deployment controller (`pkg/controller/deployment`): ReplicaSets per pod template,
//! rolling update (maxSurge / maxUnavailable, 25 % each by default) and Recreate, the
//! `pod-template-hash` label, the `deployment.kubernetes.io/revision` annotation, revision
//! history cleanup, rollback (the template patched back to an old ReplicaSet's: that set
//! becomes the new one and gets the next revision), and the `Progressing` / `Available`
//! conditions and status fields `kubectl rollout status` reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kubox_core::api::apps_v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use kubox_core::api::core_v1::PodTemplateSpec;
use kubox_core::client::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubox_core::meta::{LabelSelector, ObjectMeta};
use kubox_core::runtime::events::{object_reference, EventType, Recorder};
use kubox_core::runtime::{Informer, ObjectKey};
use kubox_core::selector::Selector;
use kubox_core::{IntOrString, Time};
use serde_json::json;
use tokio::task::JoinHandle;

use super::replicaset::owner_reference;
use crate::runtime::informers::controller_ref;
use crate::runtime::{
    enqueue_on, key_of, split_key, Action, Context, Controller, Error, Result, WorkQueue,
};

/// The label carrying the template hash on ReplicaSets and pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The revision annotation on Deployments and ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Former revisions of a reused ReplicaSet.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas, recorded on its ReplicaSets.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// replicas + maxSurge, recorded on its ReplicaSets.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// FNV-32a.
fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// `rand.SafeEncodeString`: maps each character onto consonants and digits that cannot
/// spell words.
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// `ComputeHash`: FNV-32a over the template (its canonical JSON) and the collision count,
/// safe-encoded.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&(c as u32).to_le_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0]);
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

fn strip_hash(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut() {
        if let Some(l) = m.labels.as_mut() {
            l.remove(POD_TEMPLATE_HASH);
            if l.is_empty() {
                m.labels = None;
            }
        }
    }
    t
}

/// `EqualIgnoreHash`: templates equal once the `pod-template-hash` label is dropped.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    serde_json::to_value(strip_hash(a)).ok() == serde_json::to_value(strip_hash(b)).ok()
}

fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// `(maxSurge, maxUnavailable)` resolved against `replicas` (surge rounded up,
/// unavailable down; both 0 → unavailable 1) (`ResolveFenceposts`).
pub fn resolve_fenceposts(
    surge: Option<&IntOrString>,
    unavailable: Option<&IntOrString>,
    replicas: i32,
) -> (i32, i32) {
    let quarter = IntOrString::String("25%".into());
    let s = surge
        .unwrap_or(&quarter)
        .scaled_value(replicas, true)
        .unwrap_or(0);
    let u = unavailable
        .unwrap_or(&quarter)
        .scaled_value(replicas, false)
        .unwrap_or(0);
    if s == 0 && u == 0 {
        (0, 1)
    } else {
        (s, u)
    }
}

fn is_recreate(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let spec = d.spec.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1);
    if is_recreate(d) {
        return (0, 0);
    }
    let ru = spec.strategy.and_then(|s| s.rolling_update);
    resolve_fenceposts(
        ru.as_ref().and_then(|r| r.max_surge.as_ref()),
        ru.as_ref().and_then(|r| r.max_unavailable.as_ref()),
        replicas,
    )
}

/// `NewRSNewReplicas` for a rolling update: how big the new ReplicaSet may be now.
pub fn new_rs_replicas(replicas: i32, surge: i32, current_total: i32, new_rs: i32) -> i32 {
    let max_total = replicas + surge;
    if current_total >= max_total {
        return new_rs;
    }
    let scale_up = (max_total - current_total).min(replicas - new_rs);
    new_rs + scale_up.max(0)
}

fn condition<'a>(st: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    st.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

fn set_condition(st: &mut DeploymentStatus, mut c: DeploymentCondition) {
    let conds = st.conditions.get_or_insert_with(Vec::new);
    if let Some(old) = conds.iter().find(|o| o.type_ == c.type_) {
        if old.status == c.status && old.reason == c.reason {
            if old.message == c.message && c.reason.as_deref() != Some("ReplicaSetUpdated") {
                return;
            }
            c.last_transition_time = old.last_transition_time;
        } else if old.status == c.status {
            c.last_transition_time = old.last_transition_time;
        }
    }
    conds.retain(|o| o.type_ != c.type_);
    conds.push(c);
}

fn cond(
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    now: Time,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now),
        last_transition_time: Some(now),
    }
}

/// The Deployment controller.
pub struct DeploymentController {
    ctx: Context,
    deployments: Informer<Deployment>,
    replica_sets: Informer<ReplicaSet>,
    recorder: Arc<Recorder>,
}

impl DeploymentController {
    /// The controller over `ctx`'s shared informers.
    pub fn new(ctx: &Context) -> Self {
        DeploymentController {
            deployments: ctx.informers.get::<Deployment>(),
            replica_sets: ctx.informers.get::<ReplicaSet>(),
            recorder: Arc::new(ctx.recorder("deployment-controller")),
            ctx: ctx.clone(),
        }
    }

    fn record(&self, d: &Deployment, reason: &str, message: String) {
        let rec = self.recorder.clone();
        let r = object_reference(d);
        let reason = reason.to_string();
        tokio::spawn(async move {
            let _ = rec.record(&r, EventType::Normal, &reason, &message).await;
        });
    }

    async fn scale(
        &self,
        d: &Deployment,
        rs: &ReplicaSet,
        replicas: i32,
        surge: i32,
    ) -> Result<ReplicaSet> {
        let name = rs.metadata.name.clone().unwrap_or_default();
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        let d_replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let desired = d_replicas.to_string();
        let max = (d_replicas + surge).to_string();
        let ann = rs.metadata.annotations.clone().unwrap_or_default();
        if spec_replicas(rs) == replicas
            && ann.get(DESIRED_REPLICAS) == Some(&desired)
            && ann.get(MAX_REPLICAS) == Some(&max)
        {
            return Ok(rs.clone());
        }
        let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &ns);
        let patch = json!({
            "metadata": {"annotations": {DESIRED_REPLICAS: desired, MAX_REPLICAS: max},
                         "resourceVersion": rs.metadata.resource_version},
            "spec": {"replicas": replicas},
        });
        let out = api
            .patch(&name, &PatchParams::default(), Patch::Merge(patch))
            .await?;
        let old = spec_replicas(rs);
        if old != replicas {
            let dir = if replicas > old { "up" } else { "down" };
            self.record(
                d,
                "ScalingReplicaSet",
                format!("Scaled {dir} replica set {name} from {old} to {replicas}"),
            );
        }
        Ok(out)
    }

    async fn create_new_rs(
        &self,
        d: &Deployment,
        revision: i64,
        replicas: i32,
        surge: i32,
    ) -> Result<ReplicaSet> {
        let spec = d.spec.clone().unwrap_or_default();
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision);
        let mut template = spec.template.clone();
        let tm = template.metadata.get_or_insert_with(Default::default);
        tm.labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector: LabelSelector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let d_replicas = spec.replicas.unwrap_or(1);
        let mut annotations: BTreeMap<String, String> = d
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| k != "kubectl.kubernetes.io/last-applied-configuration")
            .collect();
        annotations.insert(REVISION.into(), revision.to_string());
        annotations.insert(DESIRED_REPLICAS.into(), d_replicas.to_string());
        annotations.insert(MAX_REPLICAS.into(), (d_replicas + surge).to_string());
        let name = format!("{}-{hash}", d.metadata.name.as_deref().unwrap_or(""));
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                labels: tm.labels.clone(),
                annotations: Some(annotations),
                owner_references: Some(vec![owner_reference(d)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            ..ReplicaSet::default()
        };
        let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &ns);
        match api.create(&PostParams::default(), &rs).await {
            Ok(created) => {
                self.record(
                    d,
                    "ScalingReplicaSet",
                    format!("Scaled up replica set {name} from 0 to {replicas}"),
                );
                Ok(created)
            }
            Err(e) if e.is_already_exists() => {
                // Same name: ours with an equal template is fine; else a hash collision.
                let existing = api.get(&name).await?;
                let ours = controller_ref(&existing)
                    .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
                if ours
                    && existing
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.as_ref())
                        .is_some_and(|t| equal_ignore_hash(t, &spec.template))
                {
                    return Ok(existing);
                }
                let dapi: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), &ns);
                let count = collision.unwrap_or(0) + 1;
                dapi.patch_status(
                    d.metadata.name.as_deref().unwrap_or(""),
                    &PatchParams::default(),
                    Patch::Merge(json!({"status": {"collisionCount": count}})),
                )
                .await?;
                Err(Error::Other(format!(
                    "hash collision on replica set {name}"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Rolling update step; returns the (possibly updated) new RS and old RSs.
    async fn rollout_rolling(
        &self,
        d: &Deployment,
        new_rs: &ReplicaSet,
        olds: &mut [ReplicaSet],
    ) -> Result<ReplicaSet> {
        let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let (surge, unavailable) = fenceposts(d);
        // Scale up the new RS.
        let total: i32 = olds.iter().map(spec_replicas).sum::<i32>() + spec_replicas(new_rs);
        let target = if spec_replicas(new_rs) > replicas {
            replicas
        } else {
            new_rs_replicas(replicas, surge, total, spec_replicas(new_rs))
        };
        let new_rs = self.scale(d, new_rs, target, surge).await?;
        // Scale down old RSs.
        let old_pods: i32 = olds
            .iter()
            .map(|r| r.status.as_ref().map(|s| s.replicas).unwrap_or(0))
            .sum();
        if old_pods == 0 && olds.iter().all(|r| spec_replicas(r) == 0) {
            return Ok(new_rs);
        }
        let all: i32 = olds.iter().map(spec_replicas).sum::<i32>() + spec_replicas(&new_rs);
        let min_available = replicas - unavailable;
        let new_unavailable = spec_replicas(&new_rs) - available(&new_rs);
        let mut max_scaled_down = all - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(new_rs);
        }
        olds.sort_by_key(|r| r.metadata.creation_timestamp);
        // Unhealthy replicas first.
        for rs in olds.iter_mut() {
            if max_scaled_down <= 0 {
                break;
            }
            let unhealthy = spec_replicas(rs) - available(rs);
            if spec_replicas(rs) == 0 || unhealthy <= 0 {
                continue;
            }
            let down = unhealthy.min(max_scaled_down);
            *rs = self.scale(d, rs, spec_replicas(rs) - down, surge).await?;
            max_scaled_down -= down;
        }
        // Then available ones, keeping minAvailable.
        let available_total: i32 = olds.iter().map(available).sum::<i32>() + available(&new_rs);
        if available_total > min_available {
            let mut total_down = (available_total - min_available).min(max_scaled_down);
            for rs in olds.iter_mut() {
                if total_down <= 0 {
                    break;
                }
                if spec_replicas(rs) == 0 {
                    continue;
                }
                let down = spec_replicas(rs).min(total_down);
                *rs = self.scale(d, rs, spec_replicas(rs) - down, surge).await?;
                total_down -= down;
            }
        }
        Ok(new_rs)
    }

    async fn cleanup(&self, d: &Deployment, olds: &[ReplicaSet]) -> Result<()> {
        let limit = d
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10)
            .max(0) as usize;
        let mut clean: Vec<&ReplicaSet> = olds
            .iter()
            .filter(|r| {
                spec_replicas(r) == 0
                    && r.status.as_ref().map(|s| s.replicas).unwrap_or(0) == 0
                    && r.metadata.generation
                        <= r.status.as_ref().and_then(|s| s.observed_generation)
                    && r.metadata.deletion_timestamp.is_none()
            })
            .collect();
        if clean.len() <= limit {
            return Ok(());
        }
        clean.sort_by_key(|r| (revision_of(r), r.metadata.creation_timestamp));
        let n = clean.len() - limit;
        for rs in clean.into_iter().take(n) {
            let api: Api<ReplicaSet> = Api::namespaced(
                self.ctx.client.clone(),
                rs.metadata.namespace.as_deref().unwrap_or(""),
            );
            match api
                .delete(
                    rs.metadata.name.as_deref().unwrap_or(""),
                    &DeleteParams::default(),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Controller for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        let ds = enqueue_on(&self.deployments, queue.clone(), |c| {
            vec![key_of(c.object().as_ref())]
        });
        let rss = enqueue_on(&self.replica_sets, queue.clone(), |c| {
            let rs = c.object();
            controller_ref(rs.as_ref())
                .filter(|r| r.kind == "Deployment")
                .map(|r| {
                    format!(
                        "{}/{}",
                        rs.metadata.namespace.as_deref().unwrap_or(""),
                        r.name
                    )
                })
                .into_iter()
                .collect()
        });
        vec![ds, rss]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let (ns, name) = split_key(key);
        let ns = ns.unwrap_or("");
        let Some(d) = self
            .deployments
            .store()
            .get(&ObjectKey::namespaced(ns, name))
        else {
            return Ok(Action::Done);
        };
        if d.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let spec = d.spec.clone().unwrap_or_default();
        let selector = match Selector::from_label_selector(Some(&spec.selector)) {
            Ok(s) if !s.is_empty() => s,
            _ => {
                tracing::warn!(%key, "deployment has an empty or invalid selector");
                return Ok(Action::Done);
            }
        };
        let _ = selector;
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let now = Time(self.ctx.now());
        let replicas = spec.replicas.unwrap_or(1);
        let (surge, max_unavailable) = fenceposts(&d);
        let paused = spec.paused.unwrap_or(false);

        let owned: Vec<ReplicaSet> = self
            .replica_sets
            .store()
            .list_by(|r| {
                r.metadata.namespace.as_deref() == Some(ns)
                    && controller_ref(r).is_some_and(|c| c.uid == uid)
            })
            .into_iter()
            .map(|r| (*r).clone())
            .collect();
        let (mut news, mut olds): (Vec<ReplicaSet>, Vec<ReplicaSet>) =
            owned.into_iter().partition(|r| {
                r.spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| equal_ignore_hash(t, &spec.template))
            });
        news.sort_by_key(|r| r.metadata.creation_timestamp);
        let mut existing_new = if news.is_empty() {
            None
        } else {
            Some(news.remove(0))
        };
        olds.extend(news);
        let max_old_revision = olds.iter().map(revision_of).max().unwrap_or(0);
        let mut created_new = false;

        // Keep the new RS's revision the highest (rollback reuses an old RS).
        if let Some(rs) = existing_new.as_mut() {
            let rev = revision_of(rs);
            if rev <= max_old_revision {
                let new_rev = max_old_revision + 1;
                let mut patch =
                    json!({"metadata": {"annotations": {REVISION: new_rev.to_string()}}});
                if rev > 0 {
                    let hist = rs
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(REVISION_HISTORY))
                        .map(|h| format!("{h},{rev}"))
                        .unwrap_or_else(|| rev.to_string());
                    patch["metadata"]["annotations"][REVISION_HISTORY] = json!(hist);
                }
                let api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), ns);
                *rs = api
                    .patch(
                        rs.metadata.name.as_deref().unwrap_or(""),
                        &PatchParams::default(),
                        Patch::Merge(patch),
                    )
                    .await?;
                if rev > 0 {
                    self.record(
                        &d,
                        "DeploymentRollback",
                        format!("Rolled back deployment \"{name}\" to revision {rev}"),
                    );
                }
            }
        }

        let new_rs: Option<ReplicaSet> = if paused {
            // Paused: only proportional scaling of what exists, no rollout.
            if let Some(rs) = existing_new.as_ref() {
                let total_old: i32 = olds.iter().map(spec_replicas).sum();
                if total_old == 0 && spec_replicas(rs) != replicas {
                    Some(self.scale(&d, rs, replicas, surge).await?)
                } else {
                    existing_new.clone()
                }
            } else {
                None
            }
        } else if is_recreate(&d) {
            for rs in olds.iter_mut() {
                if spec_replicas(rs) != 0 {
                    *rs = self.scale(&d, rs, 0, 0).await?;
                }
            }
            let old_running: i32 = olds
                .iter()
                .map(|r| r.status.as_ref().map(|s| s.replicas).unwrap_or(0))
                .sum();
            if old_running > 0 {
                existing_new.clone()
            } else {
                match existing_new.clone() {
                    Some(rs) => Some(self.scale(&d, &rs, replicas, 0).await?),
                    None => {
                        created_new = true;
                        Some(
                            self.create_new_rs(&d, max_old_revision + 1, replicas, 0)
                                .await?,
                        )
                    }
                }
            }
        } else {
            let rs = match existing_new.clone() {
                Some(rs) => rs,
                None => {
                    let total: i32 = olds.iter().map(spec_replicas).sum();
                    let initial = new_rs_replicas(replicas, surge, total, 0);
                    created_new = true;
                    self.create_new_rs(&d, max_old_revision + 1, initial, surge)
                        .await?
                }
            };
            Some(self.rollout_rolling(&d, &rs, &mut olds).await?)
        };

        // The Deployment mirrors the new RS's revision.
        if let Some(rs) = &new_rs {
            let rev = revision_of(rs).to_string();
            if d.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                != Some(&rev)
            {
                let api: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), ns);
                api.patch(
                    name,
                    &PatchParams::default(),
                    Patch::Merge(json!({"metadata": {"annotations": {REVISION: rev}}})),
                )
                .await?;
            }
        }
        self.cleanup(&d, &olds).await?;

        // Status.
        let all: Vec<&ReplicaSet> = olds.iter().chain(new_rs.iter()).collect();
        let sum = |f: &dyn Fn(&ReplicaSet) -> i32| all.iter().map(|r| f(r)).sum::<i32>();
        let total = sum(&|r| r.status.as_ref().map(|s| s.replicas).unwrap_or(0));
        let ready = sum(&|r| {
            r.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0)
        });
        let avail = sum(&available);
        let updated = new_rs
            .as_ref()
            .and_then(|r| r.status.as_ref())
            .map(|s| s.replicas)
            .unwrap_or(0);
        let old_status = d.status.clone().unwrap_or_default();
        let mut st = DeploymentStatus {
            observed_generation: d.metadata.generation,
            replicas: Some(total),
            updated_replicas: Some(updated),
            ready_replicas: Some(ready),
            available_replicas: Some(avail),
            unavailable_replicas: Some((replicas - avail).max(0)),
            collision_count: old_status.collision_count,
            conditions: old_status.conditions.clone(),
            terminating_replicas: old_status.terminating_replicas,
        };
        if avail >= replicas - max_unavailable {
            set_condition(
                &mut st,
                cond(
                    "Available",
                    true,
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.".into(),
                    now,
                ),
            );
        } else {
            set_condition(
                &mut st,
                cond(
                    "Available",
                    false,
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.".into(),
                    now,
                ),
            );
        }
        let mut requeue = None;
        if let Some(deadline) = spec.progress_deadline_seconds.or(Some(600)) {
            let rs_name = new_rs
                .as_ref()
                .and_then(|r| r.metadata.name.clone())
                .unwrap_or_default();
            let complete = updated == replicas
                && total == replicas
                && avail == replicas
                && new_rs
                    .as_ref()
                    .is_some_and(|r| spec_replicas(r) == replicas);
            let current = condition(&old_status, "Progressing").cloned();
            if paused {
            } else if complete {
                set_condition(
                    &mut st,
                    cond(
                        "Progressing",
                        true,
                        "NewReplicaSetAvailable",
                        format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                        now,
                    ),
                );
            } else if created_new {
                set_condition(
                    &mut st,
                    cond(
                        "Progressing",
                        true,
                        "NewReplicaSetCreated",
                        format!("Created new replica set \"{rs_name}\""),
                        now,
                    ),
                );
            } else if new_rs.is_some() && current.is_none() {
                set_condition(
                    &mut st,
                    cond(
                        "Progressing",
                        true,
                        "FoundNewReplicaSet",
                        format!("Found new replica set \"{rs_name}\""),
                        now,
                    ),
                );
            } else {
                let progressed = old_status.updated_replicas.unwrap_or(0) < updated
                    || old_status.replicas.unwrap_or(0) > total
                    || old_status.ready_replicas.unwrap_or(0) < ready
                    || old_status.available_replicas.unwrap_or(0) < avail;
                let timed_out = current.as_ref().is_some_and(|c| {
                    c.reason.as_deref() != Some("NewReplicaSetAvailable")
                        && c.last_update_time.is_some_and(|t| {
                            t.unix_seconds() + i64::from(deadline) < now.unix_seconds()
                        })
                });
                if progressed {
                    set_condition(
                        &mut st,
                        cond(
                            "Progressing",
                            true,
                            "ReplicaSetUpdated",
                            format!("ReplicaSet \"{rs_name}\" is progressing."),
                            now,
                        ),
                    );
                } else if timed_out
                    && current
                        .as_ref()
                        .is_some_and(|c| c.reason.as_deref() != Some("ProgressDeadlineExceeded"))
                {
                    set_condition(
                        &mut st,
                        cond(
                            "Progressing",
                            false,
                            "ProgressDeadlineExceeded",
                            format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                            now,
                        ),
                    );
                }
            }
            let cur = condition(&st, "Progressing");
            if !complete && !paused {
                if let Some(t) = cur
                    .filter(|c| c.status == "True")
                    .and_then(|c| c.last_update_time)
                {
                    let due = t.unix_seconds() + i64::from(deadline) + 1 - now.unix_seconds();
                    requeue = Some(Duration::from_secs(due.max(1) as u64));
                }
            }
        }
        if st != old_status {
            let mut upd = (*d).clone();
            upd.status = Some(st);
            let api: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), ns);
            match api.replace_status(name, &PostParams::default(), &upd).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(Action::Done),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(requeue.map_or(Action::Done, Action::RequeueAfter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        assert_eq!(resolve_fenceposts(None, None, 10), (3, 2));
        assert_eq!(resolve_fenceposts(None, None, 1), (1, 0));
        let zero = IntOrString::Int(0);
        assert_eq!(resolve_fenceposts(Some(&zero), Some(&zero), 5), (0, 1));
        assert_eq!(new_rs_replicas(10, 3, 10, 0), 3);
        assert_eq!(new_rs_replicas(10, 3, 13, 3), 3);
        assert_eq!(new_rs_replicas(10, 3, 11, 8), 10);
    }

    #[test]
    fn hash_is_stable_and_safe_encoded() {
        let t: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        let h = compute_hash(&t, None);
        assert_eq!(h, compute_hash(&t, None));
        assert_ne!(h, compute_hash(&t, Some(1)));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        let mut labelled = t.clone();
        labelled
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(POD_TEMPLATE_HASH.into(), h);
        assert!(equal_ignore_hash(&t, &labelled));
    }
}
