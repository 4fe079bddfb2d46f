//! From an HTTP request (method, path, query, Content-Type, body) to a transport-independent
//! [`Request`] or a watch: pure functions, unit-tested without sockets.

use super::query::{percent_decode, Query};
use crate::errors::{self, Result};
use kubox_core::client::{
    DeleteParams, FieldValidation, GetParams, GroupVersionResource, ListParams, Patch, PatchParams,
    PostParams, PropagationPolicy, Request, Verb, WatchParams,
};
use kubox_core::registry::{self, ResourceInfo};
use serde_json::Value;

/// A resource URL, resolved against the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePath {
    /// The resource.
    pub info: &'static ResourceInfo,
    /// The namespace segment, if any.
    pub namespace: Option<String>,
    /// The object name, if any.
    pub name: Option<String>,
    /// The subresource, if any.
    pub subresource: Option<String>,
    /// The deprecated `/watch/` prefix was used (`/api/v1/watch/pods`).
    pub watch_prefix: bool,
}

/// What the HTTP layer does with a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// One request through [`crate::ApiServer::serve`].
    Call(Box<Request>),
    /// A watch through [`crate::ApiServer::watch`].
    Watch {
        /// The collection.
        resource: GroupVersionResource,
        /// Namespace (`None`: all, or cluster-scoped).
        namespace: Option<String>,
        /// Parameters.
        params: WatchParams,
    },
}

fn path_decode(s: &str) -> String {
    // Paths use percent-escapes only (`+` is a literal plus).
    percent_decode(&s.replace('+', "%2B"))
}

/// Resolves a path under `/api/v1/…` or `/apis/{group}/{version}/…` naming a resource
/// (`Ok(None)` for any other path, including the discovery documents `/api/v1` and
/// `/apis/g/v` themselves); 404 for an unknown group-version or resource.
pub fn parse_resource_path(path: &str) -> Result<Option<ResourcePath>> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] if !rest.is_empty() && !rest[0].is_empty() => ("", *v, rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() && !rest[0].is_empty() => (*g, *v, rest),
        _ => return Ok(None),
    };
    if crate::discovery::find_group_version(group, version).is_none() {
        return Err(errors::resource_not_found());
    }
    let (watch_prefix, rest) = match rest {
        ["watch", r @ ..] if !r.is_empty() => (true, r),
        r => (false, r),
    };
    if rest.iter().any(|s| s.is_empty()) {
        return Err(errors::resource_not_found());
    }
    let find = |plural: &str| registry::find(group, version, plural);
    let nf = errors::resource_not_found;
    let rp = |info, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| ResourcePath {
        info,
        namespace: ns.map(path_decode),
        name: name.map(path_decode),
        subresource: sub.map(str::to_string),
        watch_prefix,
    };
    let out = match rest {
        // namespaces/{ns}/{plural}[/{name}[/{sub}]] for a namespaced resource…
        ["namespaces", ns, plural, more @ ..]
            if find(plural).is_some_and(|i| i.namespaced) && more.len() <= 2 =>
        {
            let info = find(plural).ok_or_else(nf)?;
            rp(info, Some(ns), more.first().copied(), more.get(1).copied())
        }
        // …otherwise a cluster-scoped path: {plural}[/{name}[/{sub}]].
        [plural, more @ ..] if more.len() <= 2 => {
            let info = find(plural).ok_or_else(nf)?;
            if info.namespaced && !more.is_empty() {
                // `/api/v1/pods/x`: a namespaced object needs its namespace.
                return Err(nf());
            }
            rp(info, None, more.first().copied(), more.get(1).copied())
        }
        _ => return Err(nf()),
    };
    if let Some(sub) = &out.subresource {
        if out.info.subresource(sub).is_none() {
            return Err(nf());
        }
    }
    if watch_prefix && (out.subresource.is_some()) {
        return Err(nf());
    }
    Ok(Some(out))
}

/// The media type of a `Content-Type` header, lower-cased, without parameters.
pub fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

const ACCEPTED: &[&str] = &["application/json", "application/yaml"];
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn protobuf_unsupported() -> errors::Error {
    let mut e = errors::unsupported_media_type(PROTOBUF, ACCEPTED);
    e.0.message = Some(format!(
        "the body of the request was in an unknown format - accepted media types include: {} \
         (protobuf is read for create and update bodies of the served kinds, not for patches)",
        ACCEPTED.join(", ")
    ));
    e
}

/// A protobuf object body through the schema-driven decoder ([`crate::protobuf`]): 415 for
/// a kind without a schema or an encoded envelope, 400 for a malformed body.
fn parse_protobuf(body: &[u8]) -> Result<Value> {
    use crate::protobuf::DecodeError;
    match crate::protobuf::decode(body) {
        Ok(d) => {
            if d.unknown_fields > 0 {
                tracing::debug!(unknown = d.unknown_fields, "protobuf body: unknown fields");
            }
            Ok(d.object)
        }
        Err(e @ (DecodeError::UnsupportedKind { .. } | DecodeError::UnsupportedEncoding(_))) => {
            let mut s = errors::unsupported_media_type(PROTOBUF, ACCEPTED);
            s.0.message = Some(e.to_string());
            Err(s)
        }
        Err(e) => Err(errors::bad_request(format!(
            "couldn't decode the protobuf body: {e}"
        ))),
    }
}

fn parse_json(body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| {
        errors::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

fn parse_yaml(body: &[u8]) -> Result<Value> {
    serde_norway::from_slice(body)
        .map_err(|e| errors::bad_request(format!("error converting YAML to JSON: yaml: {e}")))
}

/// Decodes an object body (create, replace): JSON, or YAML with `application/yaml`. A missing
/// Content-Type is read as JSON; protobuf for the kinds [`crate::protobuf`] knows; anything
/// else is 415.
pub fn decode_object(content_type: Option<&str>, body: &[u8]) -> Result<Value> {
    let mt = media_type(content_type);
    match mt.as_str() {
        "application/json" | "" | "*/*" => parse_json(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => parse_yaml(body),
        PROTOBUF => parse_protobuf(body),
        other => Err(errors::unsupported_media_type(other, ACCEPTED)),
    }
}

/// What strict decoding found in a request body: repeated keys (and a JSON patch's
/// operation issues), for `fieldValidation` to refuse or warn about (see
/// [`crate::http::strict`]). Empty when nothing was found or nothing was checked.
#[derive(Debug, Default)]
pub(crate) struct BodyIssues {
    /// How the body was read.
    pub(crate) format: BodyFormat,
    /// The repeated keys.
    pub(crate) dups: Vec<super::strict::Dup>,
    /// A JSON patch's `json patch duplicate field …` / `json patch unknown field …`.
    pub(crate) patch_ops: Vec<String>,
    /// The YAML bodies' `line N: key "k" already set in map`, one per repeated key.
    pub(crate) yaml_lines: Vec<String>,
}

impl BodyIssues {
    /// Nothing to report.
    pub(crate) fn is_empty(&self) -> bool {
        self.dups.is_empty() && self.patch_ops.is_empty()
    }
}

/// The kind of body [`BodyIssues`] describes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// A JSON object body (create, update).
    #[default]
    JsonObject,
    /// A YAML object body.
    YamlObject,
    /// A merge or strategic-merge patch.
    Patch,
    /// A JSON patch.
    JsonPatch,
    /// A server-side apply body (read as YAML).
    Apply,
}

fn yaml_checked(body: &[u8], format: BodyFormat) -> Result<(Value, BodyIssues)> {
    let (v, dups) = super::strict::yaml_with_duplicates(body)
        .map_err(|e| errors::bad_request(format!("error converting YAML to JSON: yaml: {e}")))?;
    let yaml_lines = if dups.is_empty() {
        Vec::new()
    } else {
        super::strict::yaml_duplicate_lines(body, dups.len())
    };
    Ok((
        v,
        BodyIssues {
            format,
            dups,
            patch_ops: Vec::new(),
            yaml_lines,
        },
    ))
}

fn json_checked(body: &[u8], format: BodyFormat) -> Result<(Value, BodyIssues)> {
    let (v, dups) = super::strict::json_with_duplicates(body).map_err(|e| {
        errors::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })?;
    Ok((
        v,
        BodyIssues {
            format,
            dups,
            ..BodyIssues::default()
        },
    ))
}

/// [`decode_object`], also finding repeated keys.
pub(crate) fn decode_object_checked(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Value, BodyIssues)> {
    match media_type(content_type).as_str() {
        "application/json" | "" | "*/*" => json_checked(body, BodyFormat::JsonObject),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            yaml_checked(body, BodyFormat::YamlObject)
        }
        _ => decode_object(content_type, body).map(|v| (v, BodyIssues::default())),
    }
}

/// [`decode_patch`], also finding repeated keys (and a JSON patch's operation issues).
pub(crate) fn decode_patch_checked(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Patch, BodyIssues)> {
    match media_type(content_type).as_str() {
        "application/merge-patch+json" => {
            json_checked(body, BodyFormat::Patch).map(|(v, i)| (Patch::Merge(v), i))
        }
        "application/strategic-merge-patch+json" => {
            json_checked(body, BodyFormat::Patch).map(|(v, i)| (Patch::Strategic(v), i))
        }
        "application/json-patch+json" => {
            let (v, mut issues) = json_checked(body, BodyFormat::JsonPatch)?;
            issues.patch_ops = super::strict::json_patch_issues(&v, &issues.dups);
            issues.dups.clear();
            Ok((Patch::Json(v), issues))
        }
        "application/apply-patch+yaml" => {
            yaml_checked(body, BodyFormat::Apply).map(|(v, i)| (Patch::Apply(v), i))
        }
        _ => decode_patch(content_type, body).map(|p| (p, BodyIssues::default())),
    }
}

/// Decodes a PATCH body by its Content-Type (merge, JSON, strategic merge, apply).
pub fn decode_patch(content_type: Option<&str>, body: &[u8]) -> Result<Patch> {
    const PATCH_TYPES: &[&str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    let mt = media_type(content_type);
    match mt.as_str() {
        "application/merge-patch+json" => Ok(Patch::Merge(parse_json(body)?)),
        "application/json-patch+json" => Ok(Patch::Json(parse_json(body)?)),
        "application/strategic-merge-patch+json" => Ok(Patch::Strategic(parse_json(body)?)),
        "application/apply-patch+yaml" => Ok(Patch::Apply(parse_yaml(body)?)),
        PROTOBUF => Err(protobuf_unsupported()),
        other => Err(errors::unsupported_media_type(other, PATCH_TYPES)),
    }
}

fn list_params(q: &Query) -> Result<ListParams> {
    Ok(ListParams {
        label_selector: q.string("labelSelector"),
        field_selector: q.string("fieldSelector"),
        limit: q.int("limit")?.filter(|l| *l > 0),
        continue_token: q.string("continue"),
        resource_version: q.string("resourceVersion"),
        resource_version_match: q.string("resourceVersionMatch"),
    })
}

fn watch_params(q: &Query) -> Result<WatchParams> {
    let timeout = q.int("timeoutSeconds")?;
    Ok(WatchParams {
        label_selector: q.string("labelSelector"),
        field_selector: q.string("fieldSelector"),
        resource_version: q.string("resourceVersion"),
        resource_version_match: q.string("resourceVersionMatch"),
        timeout_seconds: timeout
            .filter(|t| *t > 0)
            .map(|t| u32::try_from(t).unwrap_or(u32::MAX)),
        allow_bookmarks: q.bool("allowWatchBookmarks")?.unwrap_or(false),
        send_initial_events: q.bool("sendInitialEvents")?.unwrap_or(false),
    })
}

fn field_validation(q: &Query) -> Result<Option<FieldValidation>> {
    match q.get("fieldValidation") {
        None | Some("") => Ok(None),
        Some("Ignore") => Ok(Some(FieldValidation::Ignore)),
        Some("Warn") => Ok(Some(FieldValidation::Warn)),
        Some("Strict") => Ok(Some(FieldValidation::Strict)),
        Some(v) => Err(errors::bad_request(format!(
            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {v:?}"
        ))),
    }
}

fn post_params(q: &Query) -> Result<PostParams> {
    Ok(PostParams {
        dry_run: q.dry_run()?,
        field_manager: q.string("fieldManager"),
        field_validation: field_validation(q)?,
    })
}

fn patch_params(q: &Query) -> Result<PatchParams> {
    Ok(PatchParams {
        dry_run: q.dry_run()?,
        field_manager: q.string("fieldManager"),
        force: q.bool("force")?.unwrap_or(false),
        field_validation: field_validation(q)?,
    })
}

fn propagation(s: &str) -> Result<PropagationPolicy> {
    match s {
        "Orphan" => Ok(PropagationPolicy::Orphan),
        "Background" => Ok(PropagationPolicy::Background),
        "Foreground" => Ok(PropagationPolicy::Foreground),
        other => Err(errors::bad_request(format!(
            "invalid propagationPolicy {other:?}: must be one of Orphan, Background, Foreground"
        ))),
    }
}

/// `DeleteOptions` from the query, then overridden by the body's fields (kube-apiserver
/// decodes the body over the query's values).
pub fn delete_params(q: &Query, content_type: Option<&str>, body: &[u8]) -> Result<DeleteParams> {
    let mut p = DeleteParams {
        dry_run: q.dry_run()?,
        grace_period_seconds: q.int("gracePeriodSeconds")?,
        propagation_policy: q
            .string("propagationPolicy")
            .as_deref()
            .map(propagation)
            .transpose()?,
        preconditions: None,
    };
    if q.bool("orphanDependents")? == Some(true) && p.propagation_policy.is_none() {
        p.propagation_policy = Some(PropagationPolicy::Orphan);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(p);
    }
    let v = decode_object(content_type, body)?;
    merge_delete_options(&mut p, &v)?;
    Ok(p)
}

/// Merges a `DeleteOptions` body (`v`) into `p` (the body wins over the query, as
/// kube-apiserver decodes the body over the query parameters).
pub(crate) fn merge_delete_options(p: &mut DeleteParams, v: &Value) -> Result<()> {
    if !v.is_object() {
        return Err(errors::bad_request("DeleteOptions must be a JSON object"));
    }
    if let Some(pp) = v.get("propagationPolicy").and_then(Value::as_str) {
        p.propagation_policy = Some(propagation(pp)?);
    } else if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
        p.propagation_policy = Some(PropagationPolicy::Orphan);
    }
    if let Some(g) = v.get("gracePeriodSeconds") {
        p.grace_period_seconds = Some(
            g.as_i64()
                .ok_or_else(|| errors::bad_request("gracePeriodSeconds must be an integer"))?,
        );
    }
    if let Some(d) = v.get("dryRun").and_then(Value::as_array) {
        if d.iter().any(|x| x.as_str() != Some("All")) {
            return Err(errors::bad_request(
                "Invalid dryRun value: the only supported value is \"All\"",
            ));
        }
        p.dry_run = p.dry_run || !d.is_empty();
    }
    if let Some(pre) = v.get("preconditions").filter(|v| !v.is_null()) {
        p.preconditions = Some(
            serde_json::from_value(pre.clone())
                .map_err(|e| errors::bad_request(format!("invalid preconditions: {e}")))?,
        );
    }
    Ok(())
}

fn method_not_allowed() -> errors::Error {
    errors::new(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
}

/// The [`Action`] for `method` on `rp`, with the query and (already size-checked) body.
pub fn build(
    rp: &ResourcePath,
    method: &http::Method,
    q: &Query,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Action> {
    build_checked(rp, method, q, content_type, body).map(|(a, _)| a)
}

/// [`build`], also reporting the body's repeated keys when `fieldValidation` is not
/// `Ignore` (the parse that finds them is the parse that builds the body).
pub(crate) fn build_checked(
    rp: &ResourcePath,
    method: &http::Method,
    q: &Query,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Action, BodyIssues)> {
    use http::Method;
    let validate = !matches!(method, &Method::GET | &Method::DELETE | &Method::HEAD)
        && field_validation(q)? != Some(FieldValidation::Ignore);
    let mut issues = BodyIssues::default();
    let info = rp.info;
    let resource = GroupVersionResource {
        group: info.group.to_string(),
        version: info.version.to_string(),
        resource: info.plural.to_string(),
    };
    let is_watch = rp.watch_prefix || q.bool("watch")?.unwrap_or(false);
    let call = |verb: Verb, body: Option<Value>| {
        Action::Call(Box::new(Request {
            resource: resource.clone(),
            namespace: rp.namespace.clone(),
            name: rp.name.clone(),
            subresource: rp.subresource.clone(),
            verb,
            body,
        }))
    };
    let mut object = || -> Result<Value> {
        if validate {
            let (v, found) = decode_object_checked(content_type, body)?;
            issues = found;
            Ok(v)
        } else {
            decode_object(content_type, body)
        }
    };
    let action = match (rp.name.is_some(), rp.subresource.is_some(), method) {
        // Collection.
        (false, _, &Method::GET) if is_watch => Ok(Action::Watch {
            resource: resource.clone(),
            namespace: rp.namespace.clone(),
            params: watch_params(q)?,
        }),
        (false, _, &Method::GET) => Ok(call(Verb::List(list_params(q)?), None)),
        (false, _, &Method::POST) if !rp.watch_prefix => {
            Ok(call(Verb::Create(post_params(q)?), Some(object()?)))
        }
        (false, _, &Method::DELETE) if !rp.watch_prefix => Ok(call(
            Verb::DeleteCollection(delete_params(q, content_type, body)?, list_params(q)?),
            None,
        )),
        (false, _, _) => Err(method_not_allowed()),
        // A single object under the /watch/ prefix: a watch on metadata.name.
        (true, false, &Method::GET) if is_watch => {
            let mut params = watch_params(q)?;
            let by_name = format!("metadata.name={}", rp.name.as_deref().unwrap_or(""));
            params.field_selector = Some(match params.field_selector {
                Some(f) => format!("{f},{by_name}"),
                None => by_name,
            });
            Ok(Action::Watch {
                resource: resource.clone(),
                namespace: rp.namespace.clone(),
                params,
            })
        }
        (true, _, _) if rp.watch_prefix => Err(method_not_allowed()),
        // Object or subresource.
        (true, _, &Method::GET) => match q.string("resourceVersion") {
            Some(rv) if !rv.is_empty() => Ok(call(
                Verb::GetWith(GetParams {
                    resource_version: Some(rv),
                }),
                None,
            )),
            _ => Ok(call(Verb::Get, None)),
        },
        (true, _, &Method::PUT) => Ok(call(Verb::Replace(post_params(q)?), Some(object()?))),
        (true, _, &Method::PATCH) => {
            let patch = if validate {
                let (p, found) = decode_patch_checked(content_type, body)?;
                issues = found;
                p
            } else {
                decode_patch(content_type, body)?
            };
            Ok(call(Verb::Patch(patch, patch_params(q)?), None))
        }
        (true, _, &Method::DELETE) => Ok(call(
            Verb::Delete(delete_params(q, content_type, body)?),
            None,
        )),
        // POST to a subresource (binding, eviction, token, exec…).
        (true, true, &Method::POST) => Ok(call(Verb::Create(post_params(q)?), Some(object()?))),
        _ => Err(method_not_allowed()),
    }?;
    Ok((action, issues))
}

/// kube-apiserver's verb label for metrics (`LIST`, `WATCH`, `POST`…).
pub fn metrics_verb(action: &Action) -> &'static str {
    match action {
        Action::Watch { .. } => "WATCH",
        Action::Call(r) => match r.verb {
            Verb::Get | Verb::GetWith(_) => "GET",
            Verb::List(_) => "LIST",
            Verb::Create(_) => "POST",
            Verb::Replace(_) => "PUT",
            Verb::Patch(..) => "PATCH",
            Verb::Delete(_) => "DELETE",
            Verb::DeleteCollection(..) => "DELETECOLLECTION",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use serde_json::json;

    fn rp(path: &str) -> ResourcePath {
        parse_resource_path(path).unwrap().unwrap()
    }

    fn act(
        method: Method,
        path: &str,
        query: &str,
        ct: Option<&str>,
        body: &str,
    ) -> Result<Action> {
        build(
            &rp(path),
            &method,
            &Query::parse(Some(query)),
            ct,
            body.as_bytes(),
        )
    }

    fn req(a: Action) -> Request {
        match a {
            Action::Call(r) => *r,
            other => panic!("not a call: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        let p = rp("/api/v1/namespaces/default/pods/web/log");
        assert_eq!(p.info.plural, "pods");
        assert_eq!(p.namespace.as_deref(), Some("default"));
        assert_eq!(p.name.as_deref(), Some("web"));
        assert_eq!(p.subresource.as_deref(), Some("log"));
        let p = rp("/api/v1/namespaces/kube-system");
        assert_eq!(
            (p.info.plural, p.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let p = rp("/api/v1/namespaces/x/status");
        assert_eq!(
            (p.name.as_deref(), p.subresource.as_deref()),
            (Some("x"), Some("status"))
        );
        let p = rp("/apis/apps/v1/deployments");
        assert_eq!((p.info.kind, p.namespace.as_deref()), ("Deployment", None));
        let p = rp("/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Anode");
        assert_eq!(p.name.as_deref(), Some("system:node"));
        assert!(rp("/api/v1/watch/namespaces/default/pods").watch_prefix);
        assert_eq!(parse_resource_path("/api/v1").unwrap(), None);
        assert_eq!(parse_resource_path("/apis/apps/v1/").unwrap(), None);
        assert_eq!(parse_resource_path("/version").unwrap(), None);
        for bad in [
            "/api/v1/nopes",
            "/apis/nope/v1/things",
            "/api/v2/pods",
            "/api/v1/pods/x",
            "/api/v1/namespaces/d/pods/x/nosub",
            "/api/v1/namespaces/d/pods/x/log/extra",
        ] {
            assert_eq!(parse_resource_path(bad).unwrap_err().code(), 404, "{bad}");
        }
    }

    #[test]
    fn verbs_from_methods() {
        let r = req(act(
            Method::GET,
            "/api/v1/pods",
            "&limit=500&labelSelector=a%3Db",
            None,
            "",
        )
        .unwrap());
        let Verb::List(p) = r.verb else { panic!() };
        assert_eq!(
            (p.limit, p.label_selector.as_deref()),
            (Some(500), Some("a=b"))
        );
        match act(
            Method::GET,
            "/api/v1/namespaces/d/pods",
            "watch=1&resourceVersion=5&allowWatchBookmarks=true&timeoutSeconds=290",
            None,
            "",
        )
        .unwrap()
        {
            Action::Watch {
                namespace, params, ..
            } => {
                assert_eq!(namespace.as_deref(), Some("d"));
                assert_eq!(params.resource_version.as_deref(), Some("5"));
                assert!(params.allow_bookmarks);
                assert_eq!(params.timeout_seconds, Some(290));
            }
            other => panic!("{other:?}"),
        }
        let r = req(act(
            Method::POST,
            "/api/v1/namespaces/d/configmaps",
            "fieldManager=kubectl-create&fieldValidation=Strict&dryRun=All",
            Some("application/json"),
            r#"{"kind":"ConfigMap"}"#,
        )
        .unwrap());
        assert_eq!(
            r.verb,
            Verb::Create(PostParams {
                dry_run: true,
                field_manager: Some("kubectl-create".into()),
                field_validation: Some(FieldValidation::Strict),
            })
        );
        assert_eq!(r.body, Some(json!({"kind":"ConfigMap"})));
        let r = req(act(
            Method::POST,
            "/api/v1/namespaces/d/configmaps",
            "",
            Some("application/yaml"),
            "kind: ConfigMap\nmetadata:\n  name: c\n",
        )
        .unwrap());
        assert_eq!(r.body.unwrap()["metadata"]["name"], "c");
        let r = req(act(
            Method::PATCH,
            "/apis/apps/v1/namespaces/d/deployments/w/scale",
            "",
            Some("application/merge-patch+json"),
            r#"{"spec":{"replicas":3}}"#,
        )
        .unwrap());
        assert!(matches!(r.verb, Verb::Patch(Patch::Merge(_), _)));
        assert_eq!(r.subresource.as_deref(), Some("scale"));
        let r = req(act(
            Method::PATCH,
            "/api/v1/namespaces/d/configmaps/c",
            "fieldManager=kubectl&force=true",
            Some("application/apply-patch+yaml"),
            "{\"data\":{\"a\":\"1\"}}",
        )
        .unwrap());
        let Verb::Patch(Patch::Apply(body), pp) = r.verb else {
            panic!()
        };
        assert_eq!(body["data"]["a"], "1");
        assert!(pp.force);
        let r = req(act(
            Method::DELETE,
            "/api/v1/namespaces/d/pods/p",
            "gracePeriodSeconds=0",
            Some("application/json"),
            r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}"#,
        )
        .unwrap());
        assert_eq!(
            r.verb,
            Verb::Delete(DeleteParams {
                grace_period_seconds: Some(0),
                propagation_policy: Some(PropagationPolicy::Background),
                ..Default::default()
            })
        );
        let r = req(act(
            Method::DELETE,
            "/api/v1/namespaces/d/pods",
            "labelSelector=a%3Db&propagationPolicy=Foreground",
            None,
            "",
        )
        .unwrap());
        let Verb::DeleteCollection(dp, lp) = r.verb else {
            panic!()
        };
        assert_eq!(dp.propagation_policy, Some(PropagationPolicy::Foreground));
        assert_eq!(lp.label_selector.as_deref(), Some("a=b"));
        let r = req(act(
            Method::PUT,
            "/api/v1/nodes/n1/status",
            "",
            Some("application/json"),
            "{}",
        )
        .unwrap());
        assert!(matches!(r.verb, Verb::Replace(_)));
    }

    #[test]
    fn errors_are_statuses() {
        let code = |r: Result<Action>| r.unwrap_err().code();
        assert_eq!(
            code(act(
                Method::PUT,
                "/api/v1/namespaces/d/pods",
                "",
                None,
                "{}"
            )),
            405
        );
        assert_eq!(
            code(act(
                Method::POST,
                "/api/v1/namespaces/d/pods/p",
                "",
                None,
                "{}"
            )),
            405
        );
        assert_eq!(
            code(act(
                Method::POST,
                "/api/v1/namespaces/d/pods",
                "",
                Some("text/plain"),
                "{}"
            )),
            415
        );
        // Protobuf: an envelope without apiVersion/kind is 400; a kind without a protobuf
        // schema (batch/v1 Job) is 415; a PATCH is never protobuf.
        let e = act(
            Method::POST,
            "/api/v1/namespaces/d/pods",
            "",
            Some("application/vnd.kubernetes.protobuf"),
            "k8s\0",
        )
        .unwrap_err();
        assert_eq!((e.code(), e.reason()), (400, "BadRequest"));
        assert!(e.message().contains("protobuf"));
        let job = "k8s\0\x0a\x0f\x0a\x08batch/v1\x12\x03Job\x12\x00";
        let e = act(
            Method::POST,
            "/api/v1/namespaces/d/pods",
            "",
            Some("application/vnd.kubernetes.protobuf"),
            job,
        )
        .unwrap_err();
        assert_eq!((e.code(), e.reason()), (415, "UnsupportedMediaType"));
        assert!(e.message().contains("batch/v1/Job"), "{}", e.message());
        let e = act(
            Method::PATCH,
            "/api/v1/namespaces/d/pods/p",
            "",
            Some("application/vnd.kubernetes.protobuf"),
            "k8s\0",
        )
        .unwrap_err();
        assert_eq!(e.code(), 415);
        // A ConfigMap body decodes to its JSON form.
        let cm = "k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x0d\x0a\x03\x0a\x01c\x12\x06\x0a\x01a\x12\x01b";
        let r = req(act(
            Method::POST,
            "/api/v1/namespaces/d/configmaps",
            "",
            Some("application/vnd.kubernetes.protobuf"),
            cm,
        )
        .unwrap());
        assert_eq!(
            r.body,
            Some(json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "c"}, "data": {"a": "b"}}))
        );
        assert_eq!(
            code(act(
                Method::PATCH,
                "/api/v1/namespaces/d/pods/p",
                "",
                Some("application/json"),
                "{}"
            )),
            415
        );
        assert_eq!(
            code(act(
                Method::POST,
                "/api/v1/namespaces/d/pods",
                "",
                None,
                "{not json"
            )),
            400
        );
        assert_eq!(
            code(act(Method::GET, "/api/v1/pods", "limit=ten", None, "")),
            400
        );
        assert_eq!(
            code(act(
                Method::POST,
                "/api/v1/namespaces/d/pods",
                "fieldValidation=Nope",
                None,
                "{}"
            )),
            400
        );
    }
}
