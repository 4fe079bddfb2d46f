//! `rbac.authorization.k8s.io/v1`: Role, ClusterRole, RoleBinding and ClusterRoleBinding.

use crate::meta::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

resource! {
    Role, RoleList, "rbac.authorization.k8s.io/v1",
    group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", namespaced: true,
    fields: [metadata, rules],
}

resource! {
    ClusterRole, ClusterRoleList, "rbac.authorization.k8s.io/v1",
    group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", namespaced: false,
    fields: [metadata, aggregation_rule, rules],
}

resource! {
    RoleBinding, RoleBindingList, "rbac.authorization.k8s.io/v1",
    group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", namespaced: true,
    fields: [metadata, role_ref, subjects],
}

resource! {
    ClusterRoleBinding, ClusterRoleBindingList, "rbac.authorization.k8s.io/v1",
    group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", namespaced: false,
    fields: [metadata, role_ref, subjects],
}

/// Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// `apiVersion`: the versioned schema of this representation (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `kind`: the REST resource this object represents (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Rules holds all the PolicyRules for this Role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<PolicyRule>>,
}

/// ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRole {
    /// `apiVersion`: the versioned schema of this representation (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `kind`: the REST resource this object represents (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// AggregationRule is an optional field that describes how to build the Rules for this ClusterRole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_rule: Option<AggregationRule>,
    /// Rules holds all the PolicyRules for this ClusterRole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<PolicyRule>>,
}

/// RoleBinding references a role, but does not contain it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleBinding {
    /// `apiVersion`: the versioned schema of this representation (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `kind`: the REST resource this object represents (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.
    #[serde(default)]
    pub role_ref: RoleRef,
    /// Subjects holds references to the objects the role applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<Subject>>,
}

/// ClusterRoleBinding references a ClusterRole, but not contain it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRoleBinding {
    /// `apiVersion`: the versioned schema of this representation (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `kind`: the REST resource this object represents (filled by `Default`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Standard object's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// RoleRef can only reference a ClusterRole in the global namespace.
    #[serde(default)]
    pub role_ref: RoleRef,
    /// Subjects holds references to the objects the role applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<Subject>>,
}

/// PolicyRule holds information that describes a policy rule, but does not contain information about who the rule applies to or which namespace the rule applies to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// APIGroups is the name of the APIGroup that contains the resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_groups: Option<Vec<String>>,
    /// NonResourceURLs is a set of partial urls that a user should have access to.
    #[serde(
        rename = "nonResourceURLs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub non_resource_urls: Option<Vec<String>>,
    /// ResourceNames is an optional white list of names that the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_names: Option<Vec<String>>,
    /// Resources is a list of resources this rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule.
    #[serde(default)]
    pub verbs: Vec<String>,
}

/// AggregationRule describes how to locate ClusterRoles to aggregate into the ClusterRole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationRule {
    /// ClusterRoleSelectors holds a list of selectors which will be used to find ClusterRoles and create the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_role_selectors: Option<Vec<LabelSelector>>,
}

/// RoleRef contains information that points to the role being used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// APIGroup is the group for the resource being referenced.
    #[serde(default)]
    pub api_group: String,
    /// Kind is the type of resource being referenced.
    #[serde(default)]
    pub kind: String,
    /// Name is the name of resource being referenced.
    #[serde(default)]
    pub name: String,
}

/// Subject contains a reference to the object or user identities a role binding applies to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// APIGroup holds the API group of the referenced subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    /// Kind of object being referenced.
    #[serde(default)]
    pub kind: String,
    /// Name of the object being referenced.
    #[serde(default)]
    pub name: String,
    /// Namespace of the referenced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}
