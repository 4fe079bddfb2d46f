//! The namespace controller (`pkg/controller/namespace`): empties a deleted namespace, then
//! removes the `kubernetes` finalizer so the API server deletes it.
//!
//! For a namespace with a `deletionTimestamp` and `kubernetes` in `spec.finalizers`:
//!
//! 1. The phase is set to `Terminating` (the API server already does it on delete).
//! 2. Every namespaced resource of kubox-core's [`registry`] that supports `delete` is emptied
//!    (no kind is named here): `deletecollection` with `propagationPolicy: Background` when the
//!    resource supports it, else `list` and one `delete` per item. Pods go first and alone
//!    (OrderedNamespaceDeletion, on by default since Kubernetes 1.33): nothing else is deleted
//!    while pods remain.
//! 3. What remains is counted (per resource and per finalizer) into the five conditions
//!    Kubernetes keeps on `status.conditions` (see [`CONDITION_TYPES`]), with Kubernetes'
//!    reasons and messages; unchanged conditions are not written.
//! 4. While content remains, the namespace is requeued after `estimate / 2 + 1` seconds, where
//!    the estimate is the longest `terminationGracePeriodSeconds` of its non-terminal pods
//!    (zero once that long has passed since the namespace's deletion), or 15 s when remaining
//!    objects carry finalizers. Remaining objects with neither are an error
//!    (`unexpected items still remain …`), retried with the queue's backoff.
//! 5. Once empty, `namespaces/{name}/finalize` is called with `kubernetes` removed from
//!    `spec.finalizers`; with no finalizer left the API server deletes the namespace.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use kubox_core::api::core_v1::{Namespace, NamespaceCondition, NamespaceStatus, Pod};
use kubox_core::client::{
    Api, DeleteParams, GroupVersionResource, ListParams, PostParams, PropagationPolicy, Request,
    Verb,
};
use kubox_core::meta::ObjectMeta;
use kubox_core::registry::{self, ResourceInfo};
use kubox_core::runtime::{Change, Informer};
use kubox_core::Time;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::runtime::{enqueue_on, key_of, Action, Context, Controller, Error, Result, WorkQueue};

/// The finalizer token this controller owns in `spec.finalizers`.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";

/// Default estimate (seconds) for objects whose finalizers are still pending.
pub const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// `NamespaceDeletionDiscoveryFailure`.
pub const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
/// `NamespaceDeletionGroupVersionParsingFailure`.
pub const GV_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
/// `NamespaceDeletionContentFailure`.
pub const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
/// `NamespaceContentRemaining`.
pub const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
/// `NamespaceFinalizersRemaining`.
pub const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// The condition types the controller maintains, in Kubernetes' order, with the reason and
/// message of their `False` ("all is well") variant.
pub const CONDITION_TYPES: [(&str, &str, &str); 5] = [
    (
        DISCOVERY_FAILURE,
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        GV_PARSING_FAILURE,
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        CONTENT_FAILURE,
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        CONTENT_REMAINING,
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        FINALIZERS_REMAINING,
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// The namespaced resources the controller empties: every namespaced registry resource that
/// supports `delete`, in discovery order.
pub fn deletable_resources() -> Vec<&'static ResourceInfo> {
    registry::RESOURCES
        .iter()
        .filter(|r| r.namespaced && r.supports("delete"))
        .collect()
}

/// What is left of one resource after a deletion pass.
#[derive(Debug, Default)]
struct Remaining {
    /// Seconds before the remaining objects are expected to be gone.
    estimate: i64,
    /// Objects still listed.
    count: usize,
    /// Remaining objects per finalizer.
    finalizers: BTreeMap<String, usize>,
}

/// The outcome of [`NamespaceController::delete_all_content`].
#[derive(Debug, Default)]
struct ContentTotals {
    estimate: i64,
    /// `plural.group` → remaining objects.
    resources: BTreeMap<String, usize>,
    finalizers: BTreeMap<String, usize>,
    errors: Vec<String>,
}

/// Empties deleted namespaces and finalizes them.
pub struct NamespaceController {
    ctx: Context,
    namespaces: Informer<Namespace>,
}

impl NamespaceController {
    /// The controller over `ctx`'s shared informers.
    pub fn new(ctx: &Context) -> Self {
        NamespaceController {
            namespaces: ctx.informers.get::<Namespace>(),
            ctx: ctx.clone(),
        }
    }

    fn gvr(info: &ResourceInfo) -> GroupVersionResource {
        GroupVersionResource {
            group: info.group.to_string(),
            version: info.version.to_string(),
            resource: info.plural.to_string(),
        }
    }

    async fn list(&self, info: &ResourceInfo, ns: &str) -> Result<Vec<Value>> {
        let resp = self
            .ctx
            .client
            .call(Request {
                resource: Self::gvr(info),
                namespace: Some(ns.to_string()),
                name: None,
                subresource: None,
                verb: Verb::List(ListParams::default()),
                body: None,
            })
            .await?;
        Ok(match resp.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        })
    }

    /// Deletes what it can of one resource in `ns` and reports what remains.
    async fn delete_resource(
        &self,
        info: &ResourceInfo,
        ns: &str,
        deleted_at: jiff::Timestamp,
    ) -> std::result::Result<Remaining, (Remaining, String)> {
        let gvr = Self::gvr(info);
        let gvr_text = format!("{{{} {} {}}}", gvr.group, gvr.version, gvr.resource);
        let fail = |estimate: i64, e: String| {
            (
                Remaining {
                    estimate,
                    ..Remaining::default()
                },
                e,
            )
        };
        // Graceful pods: the longest grace period, while it has not elapsed since the
        // namespace's deletion.
        let mut estimate = 0;
        if (info.group, info.plural) == (registry::of::<Pod>().group, registry::of::<Pod>().plural)
        {
            let pods = self
                .list(info, ns)
                .await
                .map_err(|e| fail(0, e.to_string()))?;
            for p in &pods {
                let phase = p.pointer("/status/phase").and_then(Value::as_str);
                if matches!(phase, Some("Succeeded" | "Failed")) {
                    continue;
                }
                if let Some(g) = p
                    .pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
                {
                    estimate = estimate.max(g);
                }
            }
            let since = self.ctx.now().as_second() - deleted_at.as_second();
            if since >= estimate {
                estimate = 0;
            }
        }
        let opts = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        if info.supports("deletecollection") {
            self.ctx
                .client
                .call(Request {
                    resource: gvr.clone(),
                    namespace: Some(ns.to_string()),
                    name: None,
                    subresource: None,
                    verb: Verb::DeleteCollection(opts.clone(), ListParams::default()),
                    body: None,
                })
                .await
                .map_err(|e| fail(estimate, e.to_string()))?;
        } else if info.supports("list") {
            for item in self
                .list(info, ns)
                .await
                .map_err(|e| fail(estimate, e.to_string()))?
            {
                let Some(name) = item.pointer("/metadata/name").and_then(Value::as_str) else {
                    continue;
                };
                let r = self
                    .ctx
                    .client
                    .call(Request {
                        resource: gvr.clone(),
                        namespace: Some(ns.to_string()),
                        name: Some(name.to_string()),
                        subresource: None,
                        verb: Verb::Delete(opts.clone()),
                        body: None,
                    })
                    .await;
                match r {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(fail(estimate, e.to_string())),
                }
            }
        }
        if !info.supports("list") {
            return Ok(Remaining {
                estimate,
                ..Remaining::default()
            });
        }
        let items = self
            .list(info, ns)
            .await
            .map_err(|e| fail(estimate, e.to_string()))?;
        let mut finalizers = BTreeMap::new();
        for item in &items {
            let meta: ObjectMeta = item
                .get("metadata")
                .cloned()
                .and_then(|m| serde_json::from_value(m).ok())
                .unwrap_or_default();
            for f in meta.finalizers.unwrap_or_default() {
                *finalizers.entry(f).or_insert(0) += 1;
            }
        }
        let count = items.len();
        if count == 0 || estimate != 0 {
            return Ok(Remaining {
                estimate,
                count,
                finalizers,
            });
        }
        if !finalizers.is_empty() {
            return Ok(Remaining {
                estimate: FINALIZER_ESTIMATE_SECONDS,
                count,
                finalizers,
            });
        }
        Err((
            Remaining {
                estimate,
                count,
                finalizers,
            },
            format!("unexpected items still remain in namespace: {ns} for gvr: {gvr_text}"),
        ))
    }

    /// Deletes the content of `ns`: pods first, then everything else.
    async fn delete_all_content(&self, ns: &str, deleted_at: jiff::Timestamp) -> ContentTotals {
        let mut totals = ContentTotals::default();
        let pods = registry::of::<Pod>();
        let r = self.delete_resource(pods, ns, deleted_at).await;
        add_remaining(&mut totals, pods, r);
        let pods_remain = totals
            .resources
            .contains_key(&format!("{}.{}", pods.plural, pods.group));
        if !pods_remain {
            for info in deletable_resources() {
                if std::ptr::eq(info, pods) {
                    continue;
                }
                let r = self.delete_resource(info, ns, deleted_at).await;
                add_remaining(&mut totals, info, r);
            }
        }
        totals
    }

    /// Writes the conditions for `totals` if they changed.
    async fn update_conditions(&self, ns: &Namespace, totals: &ContentTotals) {
        let now = Time(self.ctx.now());
        let mut failing: BTreeMap<&str, (String, String)> = BTreeMap::new();
        if !totals.resources.is_empty() {
            let list: Vec<String> = totals
                .resources
                .iter()
                .map(|(r, n)| format!("{r} has {n} resource instances"))
                .collect();
            failing.insert(
                CONTENT_REMAINING,
                (
                    "SomeResourcesRemain".into(),
                    format!("Some resources are remaining: {}", list.join(", ")),
                ),
            );
        }
        if !totals.finalizers.is_empty() {
            let list: Vec<String> = totals
                .finalizers
                .iter()
                .map(|(f, n)| format!("{f} in {n} resource instances"))
                .collect();
            failing.insert(
                FINALIZERS_REMAINING,
                (
                    "SomeFinalizersRemain".into(),
                    format!(
                        "Some content in the namespace has finalizers remaining: {}",
                        list.join(", ")
                    ),
                ),
            );
        }
        if !totals.errors.is_empty() {
            let mut msgs = totals.errors.clone();
            msgs.sort();
            failing.insert(
                CONTENT_FAILURE,
                (
                    "ContentDeletionFailed".into(),
                    format!(
                        "Failed to delete all resource types, {} remaining: {}",
                        msgs.len(),
                        msgs.join(", ")
                    ),
                ),
            );
        }
        let mut updated = ns.clone();
        let status = updated.status.get_or_insert_with(NamespaceStatus::default);
        if !update_conditions(status, &failing, now) {
            return;
        }
        let api: Api<Namespace> = Api::all(self.ctx.client.clone());
        let name = ns.metadata.name.clone().unwrap_or_default();
        if let Err(e) = api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            tracing::warn!(namespace = %name, error = %e, "couldn't update status conditions");
        }
    }

    /// Removes `kubernetes` from `spec.finalizers` through `namespaces/{name}/finalize`.
    async fn finalize(&self, mut ns: Namespace) -> Result<()> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let api: Api<Namespace> = Api::all(self.ctx.client.clone());
        for _ in 0..5 {
            let spec = ns.spec.get_or_insert_with(Default::default);
            let mut rest: Vec<String> = spec
                .finalizers
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f != FINALIZER_KUBERNETES)
                .collect();
            rest.sort();
            rest.dedup();
            spec.finalizers = Some(rest);
            let body = serde_json::to_value(&ns)
                .map_err(|e| Error::Other(format!("encoding namespace {name}: {e}")))?;
            let r = self
                .ctx
                .client
                .call(Request {
                    resource: GroupVersionResource::of::<Namespace>(),
                    namespace: None,
                    name: Some(name.clone()),
                    subresource: Some("finalize".into()),
                    verb: Verb::Replace(PostParams::default()),
                    body: Some(body),
                })
                .await;
            match r {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() => {
                    let uid = ns.metadata.uid.clone();
                    match api.get_opt(&name).await? {
                        None => return Ok(()),
                        Some(latest) if latest.metadata.uid != uid => {
                            return Err(Error::Other(
                                "namespace uid has changed across retries".into(),
                            ))
                        }
                        Some(latest) => ns = latest,
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Other(format!(
            "finalizing namespace {name}: too many conflicts"
        )))
    }
}

/// Adds one resource's outcome to `totals`.
fn add_remaining(
    totals: &mut ContentTotals,
    info: &ResourceInfo,
    r: std::result::Result<Remaining, (Remaining, String)>,
) {
    let r = match r {
        Ok(r) => r,
        Err((r, e)) => {
            totals.errors.push(e);
            r
        }
    };
    totals.estimate = totals.estimate.max(r.estimate);
    if r.count > 0 {
        totals
            .resources
            .insert(format!("{}.{}", info.plural, info.group), r.count);
        for (f, n) in r.finalizers {
            *totals.finalizers.entry(f).or_insert(0) += n;
        }
    }
}

/// Applies `failing` (type → (reason, message) of a `True` condition) to `status`, every other
/// maintained type getting its `False` variant; true when something changed
/// (`updateConditions`).
fn update_conditions(
    status: &mut NamespaceStatus,
    failing: &BTreeMap<&str, (String, String)>,
    now: Time,
) -> bool {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for (ty, ok_reason, ok_message) in CONDITION_TYPES {
        let (st, reason, message) = match failing.get(ty) {
            Some((r, m)) => ("True", r.clone(), m.clone()),
            None => ("False", ok_reason.to_string(), ok_message.to_string()),
        };
        match conditions.iter_mut().find(|c| c.type_ == ty) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: ty.to_string(),
                    status: st.to_string(),
                    last_transition_time: Some(now),
                    reason: Some(reason),
                    message: Some(message),
                });
                changed = true;
            }
            Some(c) => {
                if c.status != st
                    || c.reason.as_deref() != Some(reason.as_str())
                    || c.message.as_deref() != Some(message.as_str())
                {
                    if c.status != st {
                        c.last_transition_time = Some(now);
                    }
                    c.status = st.to_string();
                    c.reason = Some(reason);
                    c.message = Some(message);
                    changed = true;
                }
            }
        }
    }
    changed
}

#[async_trait]
impl Controller for NamespaceController {
    fn name(&self) -> &'static str {
        "namespace"
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        vec![enqueue_on(&self.namespaces, queue.clone(), |c| match c {
            Change::Deleted(_) => Vec::new(),
            c if c.object().metadata.deletion_timestamp.is_some() => {
                vec![key_of(c.object().as_ref())]
            }
            _ => Vec::new(),
        })]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        // Several controllers edit a terminating namespace: work from its latest state.
        let api: Api<Namespace> = Api::all(self.ctx.client.clone());
        let Some(mut ns) = api.get_opt(key).await? else {
            return Ok(Action::Done);
        };
        let Some(deleted_at) = ns.metadata.deletion_timestamp else {
            return Ok(Action::Done);
        };
        if ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating") {
            let mut upd = ns.clone();
            upd.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
            match api.replace_status(key, &PostParams::default(), &upd).await {
                Ok(n) => ns = n,
                Err(e) if e.is_not_found() => return Ok(Action::Done),
                Err(e) => return Err(e.into()),
            }
        }
        let ours = ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| f.iter().any(|f| f == FINALIZER_KUBERNETES));
        if !ours {
            return Ok(Action::Done);
        }
        let totals = self.delete_all_content(key, deleted_at.0).await;
        self.update_conditions(&ns, &totals).await;
        if !totals.errors.is_empty() {
            let mut msgs = totals.errors.clone();
            msgs.sort();
            return Err(Error::Other(msgs.join(", ")));
        }
        if totals.estimate > 0 {
            let wait = totals.estimate / 2 + 1;
            tracing::debug!(namespace = %key, wait, "content remaining in namespace");
            return Ok(Action::RequeueAfter(Duration::from_secs(wait as u64)));
        }
        // The conditions write bumped the resourceVersion: finalize the latest state.
        let Some(latest) = api.get_opt(key).await? else {
            return Ok(Action::Done);
        };
        self.finalize(latest).await?;
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletable_resources_come_from_the_registry() {
        let names: Vec<_> = deletable_resources().iter().map(|r| r.plural).collect();
        for want in [
            "pods",
            "replicasets",
            "deployments",
            "configmaps",
            "secrets",
            "serviceaccounts",
            "services",
            "endpointslices",
            "leases",
            "events",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        for never in ["bindings", "namespaces", "nodes", "clusterroles"] {
            assert!(!names.contains(&never), "{never} must not be deleted");
        }
    }

    #[test]
    fn conditions_get_their_ok_variant_and_change_only_when_needed() {
        let now = Time(jiff::Timestamp::from_second(1_700_000_000).unwrap());
        let mut st = NamespaceStatus::default();
        let mut failing = BTreeMap::new();
        failing.insert(
            CONTENT_REMAINING,
            (
                "SomeResourcesRemain".to_string(),
                "Some resources are remaining: pods. has 1 resource instances".to_string(),
            ),
        );
        assert!(update_conditions(&mut st, &failing, now));
        let cs = st.conditions.clone().unwrap();
        assert_eq!(cs.len(), 5);
        assert_eq!(cs[0].type_, DISCOVERY_FAILURE);
        assert_eq!(cs[0].status, "False");
        assert_eq!(cs[0].reason.as_deref(), Some("ResourcesDiscovered"));
        assert_eq!(cs[3].status, "True");
        assert_eq!(cs[4].reason.as_deref(), Some("ContentHasNoFinalizers"));
        assert!(!update_conditions(&mut st, &failing, now));
        assert!(update_conditions(&mut st, &BTreeMap::new(), now));
        let c = &st.conditions.unwrap()[3];
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref(), c.message.as_deref()),
            (
                "False",
                Some("ContentRemoved"),
                Some("All content successfully removed")
            )
        );
    }
}
