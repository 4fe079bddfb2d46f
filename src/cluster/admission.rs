//! kube-apiserver's `DefaultTolerationSeconds` admission plugin with its two flags
//! (`--default-not-ready-toleration-seconds`, `--default-unreachable-toleration-seconds`):
//! how long pods stay on a node that went NotReady or Unknown before the node lifecycle
//! controller's taint-based eviction deletes them (kube-controller-manager's old
//! `--pod-eviction-timeout`).

use async_trait::async_trait;
use kube_api::admission::{Admission, Operation, Request};
use serde_json::Value;

/// Adds `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable` NoExecute
/// tolerations (operator Exists) with these seconds to pods that do not tolerate them yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TolerationSeconds {
    pub(super) not_ready: i64,
    pub(super) unreachable: i64,
}

#[async_trait]
impl Admission for TolerationSeconds {
    fn name(&self) -> &str {
        "DefaultTolerationSeconds"
    }

    async fn admit(&self, req: &Request<'_>, obj: &mut Value) -> kube_api::Result<()> {
        let is_pod = req.group.is_empty() && req.resource == "pods" && req.subresource.is_empty();
        if req.operation == Operation::Delete || !is_pod {
            return Ok(());
        }
        let Some(Value::Object(spec)) = obj.get_mut("spec") else {
            return Ok(());
        };
        let tolerations = spec
            .entry("tolerations")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(list) = tolerations else {
            return Ok(());
        };
        for (key, seconds) in [
            ("node.kubernetes.io/not-ready", self.not_ready),
            ("node.kubernetes.io/unreachable", self.unreachable),
        ] {
            // An empty key or an empty effect covers both taints.
            let covered = list.iter().any(|t| {
                let k = t.get("key").and_then(Value::as_str).unwrap_or("");
                let e = t.get("effect").and_then(Value::as_str).unwrap_or("");
                (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
            });
            if !covered {
                list.push(serde_json::json!({
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": seconds
                }));
            }
        }
        Ok(())
    }
}
