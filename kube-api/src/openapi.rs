//! The OpenAPI documents kubectl needs for `apply` and `create -f`.
//!
//! - `/openapi/v2`: an empty protobuf document ([`V2_CONTENT_TYPE`]); kubectl 1.27/1.28
//!   then skip client-side schema validation (compat.md, verified on 1.27–1.33).
//! - `/openapi/v3`: the root ([`v3_root`]) lists one document per group-version; each
//!   ([`v3_group_version`]) has, for every resource, a `patch` operation carrying
//!   `x-kubernetes-group-version-kind` and the `fieldValidation` query parameter, which is
//!   what kubectl 1.29+ checks (`query_param_verifier_v3.go`) before sending
//!   `fieldValidation=Strict` and leaving validation to the server.
//!
//! Schemas are empty: strategic-merge metadata comes from kubectl's compiled-in types.

use kubox_core::registry::{self, GroupVersion};
use serde_json::{json, Map, Value};

/// `Content-Type` of `/openapi/v2` (gnostic `openapi_v2.Document` as protobuf). No `@`: Go's
/// `mime` parser rejects it.
pub const V2_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The URL key of a group-version in the v3 root: `api/v1`, `apis/apps/v1`.
pub fn v3_key(gv: GroupVersion) -> String {
    gv.path_prefix().trim_start_matches('/').to_string()
}

/// A stable hash of a document, for the `?hash=` of the v3 root (clients cache by it).
fn hash(doc: &Value) -> String {
    // FNV-1a, 64 bit, twice with different offsets for 128 bits of hex.
    let text = doc.to_string();
    let fnv = |offset: u64| {
        text.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016X}{:016X}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// `GET /openapi/v3`: `{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=…"}}}`.
pub fn v3_root(git_version: &str) -> Value {
    let mut paths = Map::new();
    for gv in registry::GROUP_VERSIONS {
        let key = v3_key(*gv);
        let h = hash(&v3_group_version(*gv, git_version));
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={h}")}),
        );
    }
    json!({ "paths": paths })
}

/// The group-version whose v3 document lives at `/openapi/v3/{key}`.
pub fn v3_lookup(key: &str) -> Option<GroupVersion> {
    let key = key.trim_matches('/');
    registry::GROUP_VERSIONS
        .iter()
        .find(|gv| v3_key(**gv) == key)
        .copied()
}

fn field_validation_param() -> Value {
    json!({
        "name": "fieldValidation",
        "in": "query",
        "description": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.",
        "schema": {"type": "string", "uniqueItems": true},
    })
}

/// `GET /openapi/v3/{api/v1|apis/g/v}`: one `patch` (and `put`, `post`) operation per resource.
pub fn v3_group_version(gv: GroupVersion, git_version: &str) -> Value {
    let mut paths = Map::new();
    for r in gv.resources() {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = |action: &str, id: String| {
            json!({
                "operationId": id,
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [field_validation_param()],
                "responses": {"200": {"description": "OK"}},
            })
        };
        let ns = if r.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let prefix = gv.path_prefix();
        let coll = format!("{prefix}{ns}/{}", r.plural);
        let obj = format!("{coll}/{{name}}");
        if r.supports("create") {
            paths.insert(
                coll,
                json!({ "post": op("post", format!("create{}", r.kind)) }),
            );
        }
        if r.supports("patch") || r.supports("update") {
            paths.insert(
                obj,
                json!({
                    "patch": op("patch", format!("patch{}", r.kind)),
                    "put": op("put", format!("replace{}", r.kind)),
                    "parameters": [field_validation_param()],
                }),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": git_version},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_lists_every_group_version_and_docs_carry_gvk() {
        let root = v3_root("v1.33.1");
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let gv = v3_lookup("apis/apps/v1").unwrap();
        let doc = v3_group_version(gv, "v1.33.1");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert_eq!(patch["parameters"][0]["name"], "fieldValidation");
        assert!(v3_lookup("api/v1").is_some());
        assert!(v3_lookup("apis/nope/v1").is_none());
    }
}
