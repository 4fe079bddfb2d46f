//! `scheduling.k8s.io/v1`: PriorityClass.

use crate::meta::ObjectMeta;
use serde::{Deserialize, Serialize};

resource! {
    PriorityClass, PriorityClassList, "scheduling.k8s.io/v1",
    group: "scheduling.k8s.io", version: "v1", plural: "priorityclasses", namespaced: false,
    fields: [metadata, description, global_default, preemption_policy, value],
}

/// PriorityClass defines mapping from a priority class name to the priority integer value.
#[doc(alias = "pc")]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriorityClass {
    /// `apiVersion`: the versioned schema of this representation (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `kind`: the REST resource this object represents (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// description is an arbitrary string that usually provides guidelines on when this priority class should be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_default: Option<bool>,
    /// preemptionPolicy is the Policy for preempting pods with lower priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
    /// value represents the integer value of this priority class.
    #[serde(default)]
    pub value: i32,
}
