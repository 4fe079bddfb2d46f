//! `pods/eviction`: a `policy/v1` `Eviction` deletes a pod unless that would violate its
//! PodDisruptionBudget — kube-apiserver's `pkg/registry/core/pod/storage/eviction.go`.
//!
//! - Pods that are `Succeeded`, `Failed`, `Pending` or already being deleted are deleted
//!   without looking at budgets.
//! - Otherwise the PodDisruptionBudgets of the pod's namespace whose selector matches the pod
//!   are looked up: more than one is a 500; none deletes the pod.
//! - An unready pod is deleted without spending the budget when the budget's
//!   `unhealthyPodEvictionPolicy` is `AlwaysAllow`, or when the budget is currently healthy
//!   (`currentHealthy >= desiredHealthy > 0`, the `IfHealthyBudget` default); the delete then
//!   carries the pod's resourceVersion as a precondition (a conflict answers 429).
//! - Otherwise `status.disruptionsAllowed` is checked and decremented, and the pod recorded in
//!   `status.disruptedPods`, with a compare-and-swap on the budget (conflicts retried); a
//!   budget whose status is older than its spec, or with no disruptions left, answers 429
//!   `TooManyRequests` with a `DisruptionBudget` cause.
//! - Before the delete the pod gets the `DisruptionTarget=True` condition
//!   (`EvictionByEvictionAPI`); the eviction's `deleteOptions` are passed to the delete.

use crate::errors::{self, Result};
use crate::object::{meta_str, string_map};
use crate::rest::{check_body, Ctx, OnMissing, Rest};
use crate::strategy::Strategy;
use kubox_core::client::{DeleteParams, ListParams, PostParams, Preconditions};
use kubox_core::meta::{LabelSelector, StatusCause};
use kubox_core::registry;
use kubox_core::selector::Selector;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// `MaxDisruptedPodSize`: more pending evictions than this in `status.disruptedPods` are
/// refused until the disruption controller catches up.
const MAX_DISRUPTED_POD_SIZE: usize = 2000;

/// `EvictionsRetry`: 20 steps 500 ms apart.
const RETRY_STEPS: usize = 20;
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// The 429 message of an eviction that would violate the budget.
pub(crate) const VIOLATES_BUDGET: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";

/// The 500 message of a pod with several budgets.
pub(crate) const MULTIPLE_BUDGETS: &str =
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";

/// 429 `TooManyRequests` with `retryAfterSeconds` and a `DisruptionBudget` cause.
fn too_many_requests(retry_after: i32, cause: String) -> errors::Error {
    let mut e = errors::new(429, "TooManyRequests", VIOLATES_BUDGET);
    let d = e.0.details.get_or_insert_with(Default::default);
    d.retry_after_seconds = Some(retry_after);
    d.causes = Some(vec![StatusCause {
        reason: Some("DisruptionBudget".into()),
        message: Some(cause),
        field: None,
    }]);
    e
}

/// `createTooManyRequestsError`.
fn still_processing(pdb: &str) -> errors::Error {
    too_many_requests(
        10,
        format!("The disruption budget {pdb} is still being processed by the server."),
    )
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn is_deleting(pod: &Value) -> bool {
    crate::object::is_deleting(pod)
}

/// `canIgnorePDB`.
fn can_ignore_pdb(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending") || is_deleting(pod)
}

/// `shouldEnforceResourceVersion`.
fn should_enforce_rv(pod: &Value) -> bool {
    !(matches!(phase(pod), "Succeeded" | "Failed") || is_deleting(pod))
}

/// `podutil.IsPodReady`.
fn is_pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

fn rv_unset(o: &DeleteParams) -> bool {
    o.preconditions
        .as_ref()
        .is_none_or(|p| p.resource_version.is_none())
}

fn with_rv(o: &DeleteParams, rv: &str) -> DeleteParams {
    let mut o = o.clone();
    o.preconditions
        .get_or_insert_with(Preconditions::default)
        .resource_version = Some(rv.to_string());
    o
}

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn is_conflict(e: &errors::Error) -> bool {
    e.0.code == Some(409)
}

/// What the budget step decided.
enum Budget {
    /// Delete the pod (no budget, or the budget was decremented).
    Delete,
    /// Delete the pod with its resourceVersion as precondition (an unready pod).
    DeleteIfUnchanged(String),
}

impl Rest {
    /// POST of an `Eviction` to `pods/{name}/eviction`.
    pub(crate) async fn evict(
        &self,
        c: &Ctx<'_>,
        name: &str,
        body: &Value,
        params: &PostParams,
    ) -> Result<Value> {
        let version = match body.get("apiVersion").and_then(Value::as_str) {
            Some("policy/v1beta1") => "policy/v1beta1",
            _ => "policy/v1",
        };
        let eviction = check_body(body, version, "Eviction")?;
        if meta_str(&eviction, "name").unwrap_or("") != name {
            return Err(errors::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        // propagateDryRun: the request's dryRun and the body's must agree.
        let mut original = DeleteParams {
            dry_run: params.dry_run,
            ..Default::default()
        };
        if let Some(o) = eviction.get("deleteOptions").filter(|v| !v.is_null()) {
            crate::http::route::merge_delete_options(&mut original, o)?;
        }

        // Pods whose budget can be ignored are deleted directly.
        let retry = rv_unset(&original);
        let mut pod = Value::Null;
        let mut deleted = false;
        for attempt in 0..RETRY_STEPS {
            if attempt > 0 {
                tokio::time::sleep(RETRY_DELAY).await;
            }
            pod = self.get(c, name).await?;
            if !can_ignore_pdb(&pod) {
                break;
            }
            let mut opts = original.clone();
            if should_enforce_rv(&pod) && rv_unset(&original) {
                opts = with_rv(&opts, meta_str(&pod, "resourceVersion").unwrap_or(""));
            }
            match self.add_condition_and_delete(c, name, &opts).await {
                Ok(()) => {
                    deleted = true;
                    break;
                }
                Err(e) if retry && is_conflict(&e) && attempt + 1 < RETRY_STEPS => continue,
                Err(e) => return Err(e),
            }
        }
        if deleted {
            return Ok(success());
        }

        let (decision, pdb_name) = self.check_budgets(c, &pod, original.dry_run).await?;
        let opts = match &decision {
            Budget::Delete => original.clone(),
            Budget::DeleteIfUnchanged(rv) => with_rv(&original, rv),
        };
        match self.add_condition_and_delete(c, name, &opts).await {
            Ok(()) => Ok(success()),
            Err(e)
                if is_conflict(&e)
                    && matches!(decision, Budget::DeleteIfUnchanged(_))
                    && rv_unset(&original) =>
            {
                Err(still_processing(&pdb_name))
            }
            Err(e) => Err(e),
        }
    }

    /// The budget step: the matching budgets, and the check-and-decrement of the one.
    async fn check_budgets(
        &self,
        c: &Ctx<'_>,
        pod: &Value,
        dry_run: bool,
    ) -> Result<(Budget, String)> {
        let info = registry::find("policy", "v1", "poddisruptionbudgets")
            .ok_or_else(errors::resource_not_found)?;
        let s = Strategy::of(info);
        let list = self.storage.list(&s, c.ns, &ListParams::default()).await?;
        let labels = string_map(crate::object::meta(pod).and_then(|m| m.get("labels")));
        let pdbs: Vec<&Value> = list
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|pdb| {
                let selector = pdb
                    .pointer("/spec/selector")
                    .filter(|v| !v.is_null())
                    .map(|v| serde_json::from_value::<LabelSelector>(v.clone()));
                let selector = match selector {
                    None => Selector::from_label_selector(None),
                    Some(Ok(sel)) => Selector::from_label_selector(Some(&sel)),
                    Some(Err(_)) => return false,
                };
                // An invalid selector matches nothing.
                selector.is_ok_and(|sel| sel.matches(&labels))
            })
            .collect();
        if pdbs.len() > 1 {
            return Err(errors::new(500, "", MULTIPLE_BUDGETS));
        }
        let Some(pdb) = pdbs.first() else {
            return Ok((Budget::Delete, String::new()));
        };
        let pdb_name = meta_str(pdb, "name").unwrap_or("").to_string();
        let pod_rv = meta_str(pod, "resourceVersion").unwrap_or("").to_string();
        if !is_pod_ready(pod) {
            let always = pdb
                .pointer("/spec/unhealthyPodEvictionPolicy")
                .and_then(Value::as_str)
                == Some("AlwaysAllow");
            let desired = int(pdb, "/status/desiredHealthy");
            if always || (int(pdb, "/status/currentHealthy") >= desired && desired > 0) {
                return Ok((Budget::DeleteIfUnchanged(pod_rv), pdb_name));
            }
        }
        let pc = Ctx {
            user: c.user,
            s,
            ns: c.ns,
        };
        let pod_name = meta_str(pod, "name").unwrap_or("").to_string();
        let now = self.clock_now();
        let mut f = |cur: &Value| -> Result<Value> { check_and_decrement(cur, &pod_name, &now) };
        if dry_run {
            // Check only.
            let cur = self.get(&pc, &pdb_name).await?;
            f(&cur)?;
        } else {
            match self
                .update_with(&pc, &pdb_name, "status", false, OnMissing::NotFound, &mut f)
                .await
            {
                Ok(_) => {}
                Err(e) if is_conflict(&e) => {
                    return Err(errors::timeout(
                        &format!(
                            "couldn't update PodDisruptionBudget {pdb_name:?} due to conflicts"
                        ),
                        10,
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        Ok((Budget::Delete, pdb_name))
    }

    /// `addConditionAndDeletePod`: sets `DisruptionTarget=True` on the pod (checking the
    /// delete's preconditions against the latest pod), then deletes it.
    async fn add_condition_and_delete(
        &self,
        c: &Ctx<'_>,
        name: &str,
        opts: &DeleteParams,
    ) -> Result<()> {
        let mut opts = opts.clone();
        if !opts.dry_run {
            let now = self.clock_now();
            let pre = opts.preconditions.clone();
            let mut f = |cur: &Value| -> Result<Value> {
                if let Some(p) = &pre {
                    let uid = meta_str(cur, "uid").unwrap_or("");
                    if let Some(want) = p.uid.as_deref().filter(|u| !u.is_empty() && *u != uid) {
                        return Err(errors::conflict("", "Pod", name, &format!(
                            "the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
                        )));
                    }
                    let rv = meta_str(cur, "resourceVersion").unwrap_or("");
                    if let Some(want) = p
                        .resource_version
                        .as_deref()
                        .filter(|r| !r.is_empty() && *r != rv)
                    {
                        return Err(errors::conflict("", "Pod", name, &format!(
                            "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
                        )));
                    }
                }
                let mut pod = cur.clone();
                set_disruption_target(&mut pod, &now);
                Ok(pod)
            };
            let updated = self
                .update_with(c, name, "status", false, OnMissing::NotFound, &mut f)
                .await?;
            if !rv_unset(&opts) {
                // Our own update bumped the version the precondition names.
                let rv = meta_str(&updated, "resourceVersion").unwrap_or("");
                opts = with_rv(&opts, rv);
            }
        }
        self.delete(c, name, &opts).await.map(|_| ())
    }

    fn clock_now(&self) -> String {
        kubox_core::Time(self.clock.now()).to_string()
    }
}

/// `Status{status: Success, code: 201}`, the answer to an eviction that deleted the pod.
fn success() -> Value {
    serde_json::to_value(errors::success(Some(201), None)).unwrap_or_default()
}

/// `checkAndDecrement` on the current budget `cur`: the updated budget, or why the pod may
/// not be evicted.
fn check_and_decrement(cur: &Value, pod: &str, now: &str) -> Result<Value> {
    let name = meta_str(cur, "name").unwrap_or("");
    let generation = crate::object::generation(cur);
    if cur
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        < generation
    {
        return Err(still_processing(name));
    }
    let allowed = int(cur, "/status/disruptionsAllowed");
    if allowed < 0 {
        return Err(errors::forbidden(
            "policy",
            "poddisruptionbudget",
            name,
            "pdb disruptions allowed is negative",
        ));
    }
    let disrupted = cur
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    if disrupted > MAX_DISRUPTED_POD_SIZE {
        return Err(errors::forbidden(
            "policy",
            "poddisruptionbudget",
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        let mut e = too_many_requests(
            0,
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                int(cur, "/status/desiredHealthy"),
                int(cur, "/status/currentHealthy")
            ),
        );
        if let Some(d) = e.0.details.as_mut() {
            d.retry_after_seconds = None;
        }
        return Err(e);
    }
    let mut new = cur.clone();
    let status = new
        .as_object_mut()
        .ok_or_else(|| errors::internal("PodDisruptionBudget is not an object"))?
        .entry("status")
        .or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let Some(st) = status.as_object_mut() else {
        return Err(errors::internal(
            "PodDisruptionBudget status is not an object",
        ));
    };
    st.insert("disruptionsAllowed".into(), json!(allowed - 1));
    if allowed - 1 == 0 {
        let observed = st.get("observedGeneration").cloned().unwrap_or(json!(0));
        set_condition(
            st,
            json!({
                "type": "DisruptionAllowed",
                "status": "False",
                "reason": "InsufficientPods",
                "message": "",
                "observedGeneration": observed,
            }),
            now,
        );
    }
    let pods = st.entry("disruptedPods").or_insert_with(|| json!({}));
    if !pods.is_object() {
        *pods = json!({});
    }
    if let Some(m) = pods.as_object_mut() {
        m.insert(pod.to_string(), json!(now));
    }
    Ok(new)
}

/// `meta.SetStatusCondition`: replaces the condition of the same type, keeping its
/// `lastTransitionTime` unless the status changed.
fn set_condition(status: &mut Map<String, Value>, mut cond: Value, now: &str) {
    let list = status.entry("conditions").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let Some(list) = list.as_array_mut() else {
        return;
    };
    let ty = cond.get("type").cloned();
    match list.iter_mut().find(|c| c.get("type") == ty.as_ref()) {
        Some(old) => {
            let ltt = if old.get("status") == cond.get("status") {
                old.get("lastTransitionTime").cloned().unwrap_or(json!(now))
            } else {
                json!(now)
            };
            cond["lastTransitionTime"] = ltt;
            *old = cond;
        }
        None => {
            cond["lastTransitionTime"] = json!(now);
            list.push(cond);
        }
    }
}

/// `podutil.UpdatePodCondition` with `DisruptionTarget=True`, reason `EvictionByEvictionAPI`.
fn set_disruption_target(pod: &mut Value, now: &str) {
    let Some(m) = pod.as_object_mut() else { return };
    let status = m.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let Some(st) = status.as_object_mut() else {
        return;
    };
    let list = st.entry("conditions").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let Some(list) = list.as_array_mut() else {
        return;
    };
    let mut cond = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "lastTransitionTime": now,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    });
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("DisruptionTarget"))
    {
        Some(old) => {
            if old.get("status") == cond.get("status") {
                if let Some(t) = old.get("lastTransitionTime") {
                    cond["lastTransitionTime"] = t.clone();
                }
            }
            *old = cond;
        }
        None => list.push(cond),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrement_records_the_pod_and_flips_the_condition() {
        let pdb = json!({"metadata": {"name": "b", "generation": 1},
            "status": {"observedGeneration": 1, "disruptionsAllowed": 1, "desiredHealthy": 2, "currentHealthy": 3}});
        let new = check_and_decrement(&pdb, "p", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(new["status"]["disruptionsAllowed"], 0);
        assert_eq!(new["status"]["disruptedPods"]["p"], "2026-01-01T00:00:00Z");
        let c = &new["status"]["conditions"][0];
        assert_eq!(c["type"], "DisruptionAllowed");
        assert_eq!(c["status"], "False");
        assert_eq!(c["reason"], "InsufficientPods");
        let e = check_and_decrement(&new, "q", "2026-01-01T00:00:01Z").unwrap_err();
        assert_eq!(e.0.code, Some(429));
        assert_eq!(e.0.message.as_deref(), Some(VIOLATES_BUDGET));
        let cause = &e.0.details.as_ref().unwrap().causes.as_ref().unwrap()[0];
        assert_eq!(
            cause.message.as_deref(),
            Some("The disruption budget b needs 2 healthy pods and has 3 currently")
        );
    }

    #[test]
    fn stale_or_negative_budgets_refuse() {
        let stale = json!({"metadata": {"name": "b", "generation": 2},
            "status": {"observedGeneration": 1, "disruptionsAllowed": 5}});
        let e = check_and_decrement(&stale, "p", "t").unwrap_err();
        assert_eq!(e.0.code, Some(429));
        assert_eq!(e.0.details.as_ref().unwrap().retry_after_seconds, Some(10));
        let negative = json!({"metadata": {"name": "b"}, "status": {"disruptionsAllowed": -1}});
        let e = check_and_decrement(&negative, "p", "t").unwrap_err();
        assert_eq!(
            e.0.message.as_deref(),
            Some("poddisruptionbudget.policy \"b\" is forbidden: pdb disruptions allowed is negative")
        );
    }

    #[test]
    fn disruption_target_replaces_an_existing_condition() {
        let mut pod = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "DisruptionTarget", "status": "False", "reason": "X", "lastTransitionTime": "old"}]}});
        set_disruption_target(&mut pod, "now");
        let c = &pod["status"]["conditions"][1];
        assert_eq!(c["status"], "True");
        assert_eq!(c["reason"], "EvictionByEvictionAPI");
        assert_eq!(c["lastTransitionTime"], "now");
        assert!(is_pod_ready(&pod));
    }
}
