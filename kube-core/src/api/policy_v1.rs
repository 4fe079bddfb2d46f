//! `policy/v1`: PodDisruptionBudget.

use crate::meta::{Condition, LabelSelector, ObjectMeta};
use crate::{IntOrString, Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

resource! {
    PodDisruptionBudget, PodDisruptionBudgetList, "policy/v1",
    group: "policy", version: "v1", plural: "poddisruptionbudgets", namespaced: true,
    fields: [metadata, spec, status],
}

/// PodDisruptionBudget is an object to define the max disruption that can be caused to a collection of pods.
#[doc(alias = "pdb")]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudget {
    /// `apiVersion`: the versioned schema of this representation (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `kind`: the REST resource this object represents (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Specification of the desired behavior of the PodDisruptionBudget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PodDisruptionBudgetSpec>,
    /// Most recently observed status of the PodDisruptionBudget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PodDisruptionBudgetStatus>,
}

/// PodDisruptionBudgetSpec is a description of a PodDisruptionBudget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// An eviction is allowed if at most "maxUnavailable" pods selected by "selector" are unavailable after the eviction, i.e.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// An eviction is allowed if at least "minAvailable" pods selected by "selector" will still be available after the eviction, i.e.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    /// Label query over pods whose evictions are managed by the disruption budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// UnhealthyPodEvictionPolicy defines the criteria for when unhealthy pods should be considered for eviction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_pod_eviction_policy: Option<String>,
}

/// PodDisruptionBudgetStatus represents information about the status of a PodDisruptionBudget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetStatus {
    /// Conditions contain conditions for PDB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// current number of healthy pods.
    #[serde(default)]
    pub current_healthy: i32,
    /// minimum desired number of healthy pods.
    #[serde(default)]
    pub desired_healthy: i32,
    /// DisruptedPods contains information about pods whose eviction was processed by the API server eviction subresource handler but has not yet been observed by the PodDisruptionBudget controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disrupted_pods: Option<BTreeMap<String, Time>>,
    /// Number of pod disruptions that are currently allowed.
    #[serde(default)]
    pub disruptions_allowed: i32,
    /// total number of pods counted by this disruption budget.
    #[serde(default)]
    pub expected_pods: i32,
    /// Most recent generation observed when updating this PDB status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
