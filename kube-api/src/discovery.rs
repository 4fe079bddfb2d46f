//! Discovery documents, built from kubox-core's [`registry`] (the one source of resources):
//! `/version`, `/api` (`APIVersions`), `/apis` (`APIGroupList`), `/apis/{group}` (`APIGroup`),
//! `/api/v1` and `/apis/{g}/{v}` (`APIResourceList`, with subresource entries such as
//! `pods/log` and `deployments/scale` → `autoscaling/v1` `Scale`), and aggregated discovery
//! (`apidiscovery.k8s.io` `v2` and `v2beta1` `APIGroupDiscoveryList`), chosen by the request's
//! `Accept` header with [`negotiate`].
//!
//! ```
//! use kube_api::discovery::{self, Format};
//!
//! let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
//! assert_eq!(discovery::negotiate(Some(accept)), Format::AggregatedV2);
//! let doc = discovery::aggregated(true, Format::AggregatedV2);
//! assert_eq!(doc["items"][0]["metadata"]["name"], "");
//! ```

use kubox_core::registry::{self, GroupVersion, ResourceInfo};
use serde_json::{json, Value};

/// `Content-Type` of an aggregated discovery v2 answer.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// `Content-Type` of an aggregated discovery v2beta1 answer.
pub const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// The server's version, as `/version` reports it.
///
/// What this reports chooses the kubectl a dispatcher runs (compat.md: the gcloud `kubectl`
/// runs `kubectl.1.<minor>` for minors 27–33), so it is configurable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// `"1"`.
    pub major: String,
    /// `"33"`.
    pub minor: String,
    /// `v1.33.1`.
    pub git_version: String,
}

impl Default for VersionInfo {
    fn default() -> Self {
        VersionInfo::new(1, 33, 1)
    }
}

impl VersionInfo {
    /// `v{major}.{minor}.{patch}`.
    pub fn new(major: u32, minor: u32, patch: u32) -> Self {
        VersionInfo {
            major: major.to_string(),
            minor: minor.to_string(),
            git_version: format!("v{major}.{minor}.{patch}"),
        }
    }

    /// Parses `1.31`, `v1.31.2` or `1.31.2`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.trim().trim_start_matches('v').split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        let patch = it.next().map(|p| p.parse().ok()).unwrap_or(Some(0))?;
        Some(VersionInfo::new(major, minor, patch))
    }

    /// The `/version` document (`version.Info`).
    pub fn to_json(&self) -> Value {
        json!({
            "major": self.major,
            "minor": self.minor,
            "gitVersion": self.git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
        })
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The discovery document format a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aggregated discovery `apidiscovery.k8s.io/v2`.
    AggregatedV2,
    /// Aggregated discovery `apidiscovery.k8s.io/v2beta1`.
    AggregatedV2beta1,
    /// The legacy documents (`APIVersions`, `APIGroupList`).
    Legacy,
}

impl Format {
    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::AggregatedV2 => AGGREGATED_V2,
            Format::AggregatedV2beta1 => AGGREGATED_V2BETA1,
            Format::Legacy => "application/json",
        }
    }
}

/// One media range of an `Accept` header: type and parameters (lower-cased keys).
pub(crate) fn media_ranges(accept: &str) -> Vec<(String, Vec<(String, String)>)> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';');
            let ty = it.next()?.trim().to_ascii_lowercase();
            if ty.is_empty() {
                return None;
            }
            let params = it
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_string(),
                    ))
                })
                .collect();
            Some((ty, params))
        })
        .collect()
}

/// The format to answer `/api` and `/apis` with: the first media range of `accept` this server
/// can produce (client-go lists them in order of preference).
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Legacy;
    };
    for (ty, params) in media_ranges(accept) {
        let get = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        let json_like = ty == "application/json" || ty == "*/*" || ty == "application/*";
        if !json_like {
            continue;
        }
        match (get("g"), get("v"), get("as")) {
            (Some("apidiscovery.k8s.io"), Some("v2"), Some("APIGroupDiscoveryList")) => {
                return Format::AggregatedV2
            }
            (Some("apidiscovery.k8s.io"), Some("v2beta1"), Some("APIGroupDiscoveryList")) => {
                return Format::AggregatedV2beta1
            }
            (None, None, None) => return Format::Legacy,
            _ => continue,
        }
    }
    Format::Legacy
}

/// The API groups other than core, in registry order, each with its versions.
fn groups() -> Vec<(&'static str, Vec<GroupVersion>)> {
    let mut out: Vec<(&'static str, Vec<GroupVersion>)> = Vec::new();
    for gv in registry::GROUP_VERSIONS
        .iter()
        .filter(|gv| !gv.group.is_empty())
    {
        match out.iter_mut().find(|(g, _)| *g == gv.group) {
            Some((_, v)) => v.push(*gv),
            None => out.push((gv.group, vec![*gv])),
        }
    }
    out
}

/// `GET /api`: `APIVersions`. `server_address` (`host:port`) is reported for every client.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": registry::GROUP_VERSIONS.iter().filter(|gv| gv.group.is_empty()).map(|gv| gv.version).collect::<Vec<_>>(),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn api_group(group: &str, versions: &[GroupVersion]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|gv| json!({"groupVersion": gv.api_version(), "version": gv.version}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`: `APIGroupList`.
pub fn api_group_list() -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups().iter().map(|(g, v)| api_group(g, v)).collect::<Vec<_>>(),
    })
}

/// `GET /apis/{group}`: `APIGroup`, or `None` for an unknown group.
pub fn api_group_doc(group: &str) -> Option<Value> {
    let (g, v) = groups().into_iter().find(|(g, _)| *g == group)?;
    let mut doc = api_group(g, &v);
    let m = doc.as_object_mut()?;
    m.insert("kind".into(), "APIGroup".into());
    m.insert("apiVersion".into(), "v1".into());
    Some(doc)
}

/// The served group-version `group`/`version`, if any.
pub fn find_group_version(group: &str, version: &str) -> Option<GroupVersion> {
    registry::GROUP_VERSIONS
        .iter()
        .find(|gv| gv.group == group && gv.version == version)
        .copied()
}

fn resource_entry(r: &ResourceInfo) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), r.plural.into());
    m.insert("singularName".into(), r.singular.into());
    m.insert("namespaced".into(), r.namespaced.into());
    m.insert("kind".into(), r.kind.into());
    m.insert("verbs".into(), json!(r.verbs));
    if !r.short_names.is_empty() {
        m.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        m.insert("categories".into(), json!(r.categories));
    }
    if !r.storage_version_hash.is_empty() {
        m.insert("storageVersionHash".into(), r.storage_version_hash.into());
    }
    Value::Object(m)
}

/// `GET /api/v1` or `/apis/{g}/{v}`: `APIResourceList`, resources followed by their
/// subresources (`pods`, `pods/attach`, …).
pub fn api_resource_list(gv: GroupVersion) -> Value {
    let mut resources = Vec::new();
    for r in gv.resources() {
        resources.push(resource_entry(r));
        for s in r.subresources {
            let mut m = serde_json::Map::new();
            m.insert("name".into(), format!("{}/{}", r.plural, s.name).into());
            m.insert("singularName".into(), "".into());
            m.insert("namespaced".into(), r.namespaced.into());
            if s.group != r.group || s.version != r.version {
                m.insert("group".into(), s.group.into());
                m.insert("version".into(), s.version.into());
            }
            m.insert("kind".into(), s.kind.into());
            m.insert("verbs".into(), json!(s.verbs));
            resources.push(Value::Object(m));
        }
    }
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv.api_version(),
        "resources": resources,
    })
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("resource".into(), r.plural.into());
    m.insert(
        "responseKind".into(),
        json!({"group": r.group, "version": r.version, "kind": r.kind}),
    );
    m.insert(
        "scope".into(),
        if r.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }
        .into(),
    );
    m.insert("singularResource".into(), r.singular.into());
    m.insert("verbs".into(), json!(r.verbs));
    if !r.short_names.is_empty() {
        m.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        m.insert("categories".into(), json!(r.categories));
    }
    if !r.subresources.is_empty() {
        let subs: Vec<Value> = r
            .subresources
            .iter()
            .map(|s| {
                json!({
                    "subresource": s.name,
                    "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                    "verbs": s.verbs,
                })
            })
            .collect();
        m.insert("subresources".into(), Value::Array(subs));
    }
    Value::Object(m)
}

fn aggregated_group(name: &str, versions: &[GroupVersion]) -> Value {
    json!({
        "metadata": {"name": name, "creationTimestamp": null},
        "versions": versions.iter().map(|gv| json!({
            "version": gv.version,
            "resources": gv.resources().map(aggregated_resource).collect::<Vec<_>>(),
            "freshness": "Current",
        })).collect::<Vec<_>>(),
    })
}

/// Aggregated discovery: the core group (`/api`, `core == true`) or every other group
/// (`/apis`) as an `APIGroupDiscoveryList` of `format` (which must be an aggregated one;
/// [`Format::Legacy`] is answered as v2).
pub fn aggregated(core: bool, format: Format) -> Value {
    let version = match format {
        Format::AggregatedV2beta1 => "apidiscovery.k8s.io/v2beta1",
        _ => "apidiscovery.k8s.io/v2",
    };
    let items: Vec<Value> = if core {
        let core_gvs: Vec<GroupVersion> = registry::GROUP_VERSIONS
            .iter()
            .filter(|gv| gv.group.is_empty())
            .copied()
            .collect();
        vec![aggregated_group("", &core_gvs)]
    } else {
        groups()
            .iter()
            .map(|(g, v)| aggregated_group(g, v))
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": version,
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_client_order() {
        let v130 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        let v127 =
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(Some(v130)), Format::AggregatedV2);
        assert_eq!(negotiate(Some(v127)), Format::AggregatedV2beta1);
        assert_eq!(negotiate(Some("application/json")), Format::Legacy);
        assert_eq!(negotiate(None), Format::Legacy);
        assert_eq!(negotiate(Some("*/*")), Format::Legacy);
    }

    #[test]
    fn resource_list_has_subresources_with_their_kinds() {
        let apps = find_group_version("apps", "v1").unwrap();
        let doc = api_resource_list(apps);
        let scale = doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["version"], "v1");
        assert_eq!(scale["kind"], "Scale");
        let core = api_resource_list(find_group_version("", "v1").unwrap());
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"pods/log") && names.contains(&"pods"));
    }

    #[test]
    fn version_parses() {
        let v = VersionInfo::parse("v1.31.2").unwrap();
        assert_eq!(
            (v.minor.as_str(), v.git_version.as_str()),
            ("31", "v1.31.2")
        );
        assert_eq!(VersionInfo::parse("1.29").unwrap().git_version, "v1.29.0");
        assert_eq!(VersionInfo::default().to_json()["minor"], "33");
    }
}
