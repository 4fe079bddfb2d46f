//! `autoscaling/v1`: Scale, the body of the `scale` subresource of Deployments, ReplicaSets and
//! ReplicationControllers.

use crate::meta::ObjectMeta;
use serde::{Deserialize, Serialize};

kind! {
    Scale, "autoscaling/v1",
    fields: [metadata, spec, status],
}

/// Scale represents a scaling request for a resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scale {
    /// `apiVersion`: the versioned schema of this representation (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `kind`: the REST resource this object represents (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// spec defines the behavior of the scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ScaleSpec>,
    /// status is the current status of the scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ScaleStatus>,
}

/// ScaleSpec describes the attributes of a scale subresource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSpec {
    /// replicas is the desired number of instances for the scaled object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}

/// ScaleStatus represents the current status of a scale subresource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStatus {
    /// replicas is the actual number of observed instances of the scaled object.
    #[serde(default)]
    pub replicas: i32,
    /// selector is the label query over pods that should match the replicas count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}
