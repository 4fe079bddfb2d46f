//! How every component reaches the cluster: the [`Client`] trait, request parameters, and the
//! typed [`Api`] handle on top of it.
//!
//! A [`Client`] executes one [`Request`] against the API server: kube-api provides an
//! in-process implementation (the same authentication, authorization and admission path as
//! HTTP, without sockets) and an HTTPS implementation built from a kubeconfig. The scheduler,
//! controllers, kubelet and proxy depend only on this trait, so each of them runs in the
//! API server's process or on another machine without a code change.
//!
//! Objects cross the trait as [`serde_json::Value`] (the wire form); [`Api<K>`] converts to and
//! from the typed kinds of [`crate::api`].

use crate::meta::{List, Resource, Status, WatchEvent};
use async_trait::async_trait;
use futures_core::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

/// `Result` with the client's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a [`Client`] call can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API server answered with a `Status` (404, 409, 410, 422, …). Whether retrying helps
    /// depends on the reason: `Conflict` after re-reading, `Expired`/`Gone` after a re-list,
    /// `TooManyRequests`/`ServerTimeout` after `details.retryAfterSeconds`.
    #[error("{} ({}): {}", .0.reason.as_deref().unwrap_or("Unknown"), .0.code.unwrap_or(0), .0.message.as_deref().unwrap_or(""))]
    Api(Box<Status>),
    /// The request could not be sent or the response not received (connection refused, TLS,
    /// timeout). Retryable.
    #[error("transport error: {0}")]
    Transport(String),
    /// The response was not what the request expects (invalid JSON, wrong kind). Not retryable.
    #[error("decode error: {0}")]
    Decode(String),
}

impl Error {
    /// The HTTP status code of an [`Error::Api`], if this is one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Api(s) => s.code,
            _ => None,
        }
    }
    /// The `Status.reason` of an [`Error::Api`] (`NotFound`, `Conflict`, …), if this is one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::Api(s) => s.reason.as_deref(),
            _ => None,
        }
    }
    /// True for a 404 `NotFound`.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }
    /// True for a 409 `Conflict` (stale resourceVersion).
    pub fn is_conflict(&self) -> bool {
        self.reason() == Some("Conflict")
    }
    /// True for a 409 `AlreadyExists`.
    pub fn is_already_exists(&self) -> bool {
        self.reason() == Some("AlreadyExists")
    }
    /// True for a 410 (`Expired` or `Gone`): the resourceVersion is too old; re-list.
    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }
}

/// A resource collection: API group, version and plural resource name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupVersionResource {
    /// API group (`""` for core, `apps`, …).
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Plural resource name (`pods`).
    pub resource: String,
}

impl GroupVersionResource {
    /// The collection of kind `K`.
    pub fn of<K: Resource>() -> Self {
        GroupVersionResource {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            resource: K::PLURAL.to_string(),
        }
    }
}

/// The operation of a [`Request`].
#[derive(Clone, Debug, PartialEq)]
pub enum Verb {
    /// `GET` of one object (or a subresource).
    Get,
    /// `GET` of one object with parameters (`resourceVersion`); `GetWith(default)` is `Get`.
    GetWith(GetParams),
    /// `GET` of a collection.
    List(ListParams),
    /// `POST` to a collection (or a subresource such as `binding`, `eviction`).
    Create(PostParams),
    /// `PUT` of one object (or `status`, `scale`).
    Replace(PostParams),
    /// `PATCH` of one object (or a subresource).
    Patch(Patch, PatchParams),
    /// `DELETE` of one object.
    Delete(DeleteParams),
    /// `DELETE` of a collection.
    DeleteCollection(DeleteParams, ListParams),
}

/// One API call, independent of transport.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The collection addressed.
    pub resource: GroupVersionResource,
    /// Namespace, for namespaced resources (`None`: cluster-scoped, or all namespaces for a
    /// list/watch).
    pub namespace: Option<String>,
    /// Object name (`None` for collection verbs).
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `binding`, `eviction`, …).
    pub subresource: Option<String>,
    /// The operation.
    pub verb: Verb,
    /// Request body (create, replace, patch).
    pub body: Option<Value>,
}

/// Parameters of a list or delete-collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Label selector in string syntax (`app=web,tier!=db`).
    pub label_selector: Option<String>,
    /// Field selector in string syntax (`spec.nodeName=n1`).
    pub field_selector: Option<String>,
    /// Page size.
    pub limit: Option<i64>,
    /// Continue token of the previous page.
    pub continue_token: Option<String>,
    /// resourceVersion semantics (unset: most recent; `"0"`: any).
    pub resource_version: Option<String>,
    /// `Exact` or `NotOlderThan`.
    pub resource_version_match: Option<String>,
}

/// Parameters of a watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchParams {
    /// Label selector in string syntax.
    pub label_selector: Option<String>,
    /// Field selector in string syntax.
    pub field_selector: Option<String>,
    /// Start after this resourceVersion (unset or `"0"`: synthetic ADDED events first).
    pub resource_version: Option<String>,
    /// `NotOlderThan` (the only value a watch accepts, and only with `send_initial_events`).
    pub resource_version_match: Option<String>,
    /// Server-side timeout of the watch.
    pub timeout_seconds: Option<u32>,
    /// Ask for BOOKMARK events.
    pub allow_bookmarks: bool,
    /// Ask for the current state as ADDED events followed by an initial-events-end BOOKMARK.
    pub send_initial_events: bool,
}

/// Parameters of a get.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetParams {
    /// `resourceVersion`: unset reads the latest state; `"0"` any state the server has;
    /// `"N"` a state not older than N (the server waits briefly for N, then answers 504).
    pub resource_version: Option<String>,
}

/// Parameters of create and replace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostParams {
    /// Run the whole request path without persisting.
    pub dry_run: bool,
    /// Field manager recorded in managedFields.
    pub field_manager: Option<String>,
    /// How unknown and duplicate fields are handled (`fieldValidation`; `None`: the server's
    /// default, `Warn`).
    pub field_validation: Option<FieldValidation>,
}

/// `fieldValidation`: what the server does with unknown or duplicate fields in a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and answer with a `Warning` header per field (the server default).
    Warn,
    /// Refuse the request: 400 `strict decoding error: unknown field "spec.foo"`.
    Strict,
}

impl FieldValidation {
    /// The query value (`Ignore`, `Warn`, `Strict`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldValidation::Ignore => "Ignore",
            FieldValidation::Warn => "Warn",
            FieldValidation::Strict => "Strict",
        }
    }
}

/// Parameters of a patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchParams {
    /// Run the whole request path without persisting.
    pub dry_run: bool,
    /// Field manager (required for server-side apply).
    pub field_manager: Option<String>,
    /// Server-side apply: take ownership of conflicting fields.
    pub force: bool,
    /// How unknown and duplicate fields are handled (`fieldValidation`).
    pub field_validation: Option<FieldValidation>,
}

/// A patch body with its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Patch {
    /// RFC 7396 JSON merge patch (`application/merge-patch+json`).
    Merge(Value),
    /// RFC 6902 JSON patch (`application/json-patch+json`), an array of operations.
    Json(Value),
    /// Strategic merge patch (`application/strategic-merge-patch+json`).
    Strategic(Value),
    /// Server-side apply (`application/apply-patch+yaml`; JSON is valid YAML).
    Apply(Value),
}

impl Patch {
    /// The `Content-Type` this patch is sent with.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Json(_) => "application/json-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Apply(_) => "application/apply-patch+yaml",
        }
    }
    /// The patch document.
    pub fn body(&self) -> &Value {
        match self {
            Patch::Merge(v) | Patch::Json(v) | Patch::Strategic(v) | Patch::Apply(v) => v,
        }
    }
}

/// How dependents are handled when an owner is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PropagationPolicy {
    /// Dependents are orphaned.
    Orphan,
    /// The owner goes at once; the garbage collector deletes dependents afterwards.
    Background,
    /// The owner stays (with `foregroundDeletion`) until blocking dependents are gone.
    Foreground,
}

/// `metav1.Preconditions` of a delete.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// The object's uid must be this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The object's resourceVersion must be this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// Parameters of a delete (the body of `metav1.DeleteOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteParams {
    /// Run the whole request path without persisting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Grace period; `Some(0)` deletes at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    /// Dependents' fate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_policy: Option<PropagationPolicy>,
    /// Conditions the object must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Preconditions>,
}

/// Parameters of a pod eviction (`pods/{name}/eviction`, a `policy/v1` `Eviction`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvictParams {
    /// The eviction's `deleteOptions`, passed to the pod's delete.
    pub delete_options: Option<DeleteParams>,
    /// Query parameters of the POST (`dryRun`).
    pub post_options: PostParams,
}

impl DeleteParams {
    /// The wire form of `metav1.DeleteOptions` (`dryRun: ["All"]`, `preconditions`, …).
    pub fn to_delete_options(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("kind".into(), "DeleteOptions".into());
        m.insert("apiVersion".into(), "v1".into());
        if self.dry_run {
            m.insert("dryRun".into(), serde_json::json!(["All"]));
        }
        if let Some(g) = self.grace_period_seconds {
            m.insert("gracePeriodSeconds".into(), g.into());
        }
        if let Some(p) = self.propagation_policy {
            m.insert(
                "propagationPolicy".into(),
                serde_json::to_value(p).unwrap_or_default(),
            );
        }
        if let Some(p) = &self.preconditions {
            m.insert(
                "preconditions".into(),
                serde_json::to_value(p).unwrap_or_default(),
            );
        }
        Value::Object(m)
    }
}

/// A stream of watch events in wire form; it ends when the server ends the watch.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent<Value>>> + Send>>;

/// Access to the Kubernetes API, by any transport.
///
/// # Contract
///
/// - `call` performs exactly one API operation with the full server-side semantics of that
///   operation (authentication, authorization, admission, validation, optimistic concurrency);
///   errors the server reports arrive as [`Error::Api`] carrying the server's `Status`.
/// - `watch` starts a watch with Kubernetes' semantics: events after `resource_version`, in
///   order; a too old version yields a 410 either as the call's error or as an `ERROR` event
///   whose object is a `Status`.
/// - Implementations are cheap to clone behind an `Arc` and safe to use concurrently.
#[async_trait]
pub trait Client: Send + Sync + 'static {
    /// Executes one request; returns the response object (an object, a list, or a `Status`).
    async fn call(&self, request: Request) -> Result<Value>;

    /// Starts a watch on a collection.
    async fn watch(
        &self,
        resource: &GroupVersionResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream>;
}

/// A typed handle on one kind, in one namespace or across all of them.
#[derive(Clone)]
pub struct Api<K> {
    client: Arc<dyn Client>,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Resource> Api<K> {
    /// Objects of kind `K` in `namespace`.
    pub fn namespaced(client: Arc<dyn Client>, namespace: &str) -> Self {
        Api {
            client,
            namespace: Some(namespace.to_string()),
            _kind: PhantomData,
        }
    }
    /// Cluster-scoped objects of kind `K`, or namespaced ones across all namespaces (list and
    /// watch only).
    pub fn all(client: Arc<dyn Client>) -> Self {
        Api {
            client,
            namespace: None,
            _kind: PhantomData,
        }
    }

    fn request(&self, name: Option<&str>, subresource: Option<&str>, verb: Verb) -> Request {
        Request {
            resource: GroupVersionResource::of::<K>(),
            namespace: self.namespace.clone(),
            name: name.map(str::to_string),
            subresource: subresource.map(str::to_string),
            verb,
            body: None,
        }
    }

    async fn send<T: serde::de::DeserializeOwned>(&self, request: Request) -> Result<T> {
        let value = self.client.call(request).await?;
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    fn to_body<T: Serialize>(obj: &T) -> Result<Value> {
        let mut v = serde_json::to_value(obj).map_err(|e| Error::Decode(e.to_string()))?;
        if let Value::Object(m) = &mut v {
            m.entry("apiVersion")
                .or_insert_with(|| Value::String(K::api_version()));
            m.entry("kind")
                .or_insert_with(|| Value::String(K::KIND.to_string()));
        }
        Ok(v)
    }

    /// Reads one object.
    pub async fn get(&self, name: &str) -> Result<K> {
        self.send(self.request(Some(name), None, Verb::Get)).await
    }

    /// Reads one object with [`GetParams`] (`resourceVersion` semantics).
    pub async fn get_with(&self, name: &str, params: &GetParams) -> Result<K> {
        self.send(self.request(Some(name), None, Verb::GetWith(params.clone())))
            .await
    }

    /// Reads one object, `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects.
    pub async fn list(&self, params: &ListParams) -> Result<List<K>> {
        self.send(self.request(None, None, Verb::List(params.clone())))
            .await
    }

    /// Creates an object.
    pub async fn create(&self, params: &PostParams, obj: &K) -> Result<K> {
        let mut req = self.request(None, None, Verb::Create(params.clone()));
        req.body = Some(Self::to_body(obj)?);
        self.send(req).await
    }

    /// Replaces an object (optimistic concurrency on `metadata.resourceVersion`).
    pub async fn replace(&self, name: &str, params: &PostParams, obj: &K) -> Result<K> {
        let mut req = self.request(Some(name), None, Verb::Replace(params.clone()));
        req.body = Some(Self::to_body(obj)?);
        self.send(req).await
    }

    /// Replaces an object's status (the `status` subresource).
    pub async fn replace_status(&self, name: &str, params: &PostParams, obj: &K) -> Result<K> {
        let mut req = self.request(Some(name), Some("status"), Verb::Replace(params.clone()));
        req.body = Some(Self::to_body(obj)?);
        self.send(req).await
    }

    /// Patches an object.
    pub async fn patch(&self, name: &str, params: &PatchParams, patch: Patch) -> Result<K> {
        self.send(self.request(Some(name), None, Verb::Patch(patch, params.clone())))
            .await
    }

    /// Patches an object's status.
    pub async fn patch_status(&self, name: &str, params: &PatchParams, patch: Patch) -> Result<K> {
        self.send(self.request(
            Some(name),
            Some("status"),
            Verb::Patch(patch, params.clone()),
        ))
        .await
    }

    /// Deletes an object. Returns the object when it still exists (graceful deletion,
    /// finalizers) or was returned by the server, else the server's `Status`.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<DeleteOutcome<K>> {
        let v = self
            .client
            .call(self.request(Some(name), None, Verb::Delete(params.clone())))
            .await?;
        if v.get("kind").and_then(Value::as_str) == Some("Status") {
            let s: Status = serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))?;
            Ok(DeleteOutcome::Status(Box::new(s)))
        } else {
            let k: K = serde_json::from_value(v).map_err(|e| Error::Decode(e.to_string()))?;
            Ok(DeleteOutcome::Object(Box::new(k)))
        }
    }

    /// Watches objects; events are decoded into `K` (an `ERROR` event's `Status` becomes
    /// an [`Error::Api`] item).
    pub async fn watch(
        &self,
        params: &WatchParams,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<WatchEvent<K>>> + Send>>> {
        let raw = self
            .client
            .watch(
                &GroupVersionResource::of::<K>(),
                self.namespace.as_deref(),
                params,
            )
            .await?;
        Ok(Box::pin(TypedWatch {
            inner: raw,
            _kind: PhantomData,
        }))
    }
}

/// The outcome of [`Api::delete`].
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome<K> {
    /// The object, still present (deletionTimestamp set) or as deleted.
    Object(Box<K>),
    /// The server's `Success` status.
    Status(Box<Status>),
}

struct TypedWatch<K> {
    inner: WatchStream,
    _kind: PhantomData<fn() -> K>,
}

impl Api<crate::api::core_v1::Pod> {
    /// Evicts a pod (`POST pods/{name}/eviction` with a `policy/v1` `Eviction`): the server
    /// deletes it unless that would violate its PodDisruptionBudget (429 `TooManyRequests`,
    /// retry later). Returns the server's `Status`.
    pub async fn evict(&self, name: &str, params: &EvictParams) -> Result<Status> {
        let mut body = serde_json::json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": self.namespace.clone().unwrap_or_default()},
        });
        if let Some(d) = &params.delete_options {
            body["deleteOptions"] = d.to_delete_options();
        }
        let mut req = self.request(
            Some(name),
            Some("eviction"),
            Verb::Create(params.post_options.clone()),
        );
        req.body = Some(body);
        self.send(req).await
    }
}

impl<K: Resource> Stream for TypedWatch<K> {
    type Item = Result<WatchEvent<K>>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use crate::meta::WatchEventType;
        self.inner.as_mut().poll_next(cx).map(|item| {
            item.map(|res| {
                res.and_then(|ev| {
                    if ev.type_ == WatchEventType::Error {
                        let s: Status = serde_json::from_value(ev.object)
                            .map_err(|e| Error::Decode(e.to_string()))?;
                        return Err(Error::Api(Box::new(s)));
                    }
                    let object: K = serde_json::from_value(ev.object)
                        .map_err(|e| Error::Decode(e.to_string()))?;
                    Ok(WatchEvent {
                        type_: ev.type_,
                        object,
                    })
                })
            })
        })
    }
}
