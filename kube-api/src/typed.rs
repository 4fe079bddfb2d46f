//! Decoding checks: a body must decode as its kind's typed struct (kubox-core's `api`), as
//! kube-apiserver decodes every body into its Go type; a body that doesn't is a 400.

use kubox_core::api::{
    apps_v1, autoscaling_v1, coordination_v1, core_v1, discovery_v1, policy_v1, rbac_v1,
    scheduling_v1,
};
use serde_json::Value;

/// The outcome of decoding a body as its typed kind.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Why it does not decode, if it doesn't.
    pub(crate) error: Option<String>,
    /// The fields the kind does not have, as paths (`spec.containers[0].foo`), in order.
    pub(crate) unknown: Vec<Vec<Seg>>,
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Kubernetes' rendering of a field path: `spec.containers[0].foo`.
pub(crate) fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn segments(path: &serde_ignored::Path<'_>, out: &mut Vec<Seg>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            segments(parent, out);
            out.push(Seg::Index(*index));
        }
        Path::Map { parent, key } => {
            segments(parent, out);
            out.push(Seg::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent, out),
    }
}

fn check<T: serde::de::DeserializeOwned>(v: &Value) -> Decoded {
    let mut unknown = Vec::new();
    let res: Result<T, _> = serde_ignored::deserialize(v, |path| {
        let mut segs = Vec::new();
        segments(&path, &mut segs);
        unknown.push(segs);
    });
    Decoded {
        error: res.err().map(|e| e.to_string()),
        unknown,
    }
}

/// Decodes `obj` as `api_version`/`kind` (unknown kinds pass with no unknown fields).
pub(crate) fn decode(api_version: &str, kind: &str, obj: &Value) -> Decoded {
    match (api_version, kind) {
        ("v1", "Namespace") => check::<core_v1::Namespace>(obj),
        ("v1", "Node") => check::<core_v1::Node>(obj),
        ("v1", "Pod") => check::<core_v1::Pod>(obj),
        ("v1", "Service") => check::<core_v1::Service>(obj),
        ("v1", "Endpoints") => check::<core_v1::Endpoints>(obj),
        ("v1", "ServiceAccount") => check::<core_v1::ServiceAccount>(obj),
        ("v1", "Secret") => check::<core_v1::Secret>(obj),
        ("v1", "ConfigMap") => check::<core_v1::ConfigMap>(obj),
        ("v1", "Event") => check::<core_v1::Event>(obj),
        ("v1", "Binding") => check::<core_v1::Binding>(obj),
        ("v1", "ReplicationController") => check::<core_v1::ReplicationController>(obj),
        ("apps/v1", "Deployment") => check::<apps_v1::Deployment>(obj),
        ("apps/v1", "ReplicaSet") => check::<apps_v1::ReplicaSet>(obj),
        ("autoscaling/v1", "Scale") => check::<autoscaling_v1::Scale>(obj),
        ("coordination.k8s.io/v1", "Lease") => check::<coordination_v1::Lease>(obj),
        ("discovery.k8s.io/v1", "EndpointSlice") => check::<discovery_v1::EndpointSlice>(obj),
        ("policy/v1", "PodDisruptionBudget") => check::<policy_v1::PodDisruptionBudget>(obj),
        ("rbac.authorization.k8s.io/v1", "Role") => check::<rbac_v1::Role>(obj),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => check::<rbac_v1::ClusterRole>(obj),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => check::<rbac_v1::RoleBinding>(obj),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            check::<rbac_v1::ClusterRoleBinding>(obj)
        }
        ("scheduling.k8s.io/v1", "PriorityClass") => check::<scheduling_v1::PriorityClass>(obj),
        _ => Decoded::default(),
    }
}

/// Removes the field at `path` from `obj`.
pub(crate) fn remove(obj: &mut Value, path: &[Seg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for seg in parents {
        let next = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get_mut(k.as_str()),
            (Seg::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let (Seg::Key(k), Value::Object(m)) = (last, cur) {
        m.shift_remove(k.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_with_kubernetes_paths() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1},
            "spec": {"foo": true, "containers": [{"name": "c", "image": "i", "bar": "x"}]}});
        let d = decode("v1", "Pod", &pod);
        assert!(d.error.is_none());
        let paths: Vec<String> = d.unknown.iter().map(|p| render(p)).collect();
        assert_eq!(
            paths,
            ["metadata.bogus", "spec.foo", "spec.containers[0].bar"]
        );
        let mut cleaned = pod.clone();
        for p in &d.unknown {
            remove(&mut cleaned, p);
        }
        assert!(decode("v1", "Pod", &cleaned).unknown.is_empty());
        assert_eq!(cleaned["spec"]["containers"][0]["image"], "i");
    }
}
