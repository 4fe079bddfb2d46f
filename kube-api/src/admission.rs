//! Admission: the plugins every write passes after authorization and before the store.
//!
//! An [`Admission`] plugin may mutate the incoming object ([`Admission::admit`]) and may reject
//! it ([`Admission::validate`]). The [`Chain`] runs every plugin's `admit` in order, then every
//! plugin's `validate` in order, as kube-apiserver runs its mutating then validating admission.
//! The default chain ([`Chain::default_for`]) is:
//!
//! 1. [`Defaults`]: Kubernetes' defaulting (kubox-core's `defaults`); first, because
//!    kube-apiserver defaults while decoding, before admission.
//! 2. [`NamespaceLifecycle`]: no creates in a missing (404) or terminating (403) namespace;
//!    the system namespaces can't be deleted.
//! 3. [`ServiceAccount`]: pods get `serviceAccountName: default` when they name none.
//! 4. [`DefaultTolerationSeconds`]: pods tolerate `not-ready`/`unreachable` for 300 s.
//! 5. [`Validation`]: per-kind validation (kubox-core's `validation`), 422 Invalid.

use crate::auth::UserInfo;
use crate::errors::{self, Result};
use crate::object::meta_str;
use async_trait::async_trait;
use kube_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The operation being admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// POST (and a PUT or apply that creates).
    Create,
    /// PUT or PATCH of an existing object (or of its status/scale).
    Update,
    /// DELETE (the object is the one being deleted).
    Delete,
}

/// What an admission plugin sees besides the object (`admission.Attributes`).
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The operation.
    pub operation: Operation,
    /// The requesting user.
    pub user: &'a UserInfo,
    /// API group of the resource.
    pub group: &'a str,
    /// API version.
    pub version: &'a str,
    /// Resource plural.
    pub resource: &'a str,
    /// Subresource (empty for the main resource).
    pub subresource: &'a str,
    /// Kind of the object.
    pub kind: &'a str,
    /// Namespace (empty for cluster-scoped).
    pub namespace: &'a str,
    /// Object name (may be empty on create before a generated name is chosen).
    pub name: &'a str,
    /// The stored object, for updates and deletes.
    pub old_object: Option<&'a Value>,
    /// Whether this is a dry run (plugins must not have side effects then).
    pub dry_run: bool,
}

/// An admission plugin.
///
/// # Contract
///
/// - `admit` (mutating) runs for create and update with the object about to be stored and may
///   change it; `validate` runs afterwards, on the final object, and must not change anything.
///   For a delete, both see the stored object; only `validate`'s verdict matters.
/// - A rejection is an [`errors::Error`] (a Kubernetes Status: 403, 404, 422 …), returned to
///   the client as is; nothing is written.
/// - Plugins are called concurrently for different requests and must have no side effects
///   when [`Request::dry_run`] is set.
/// - Object safe (`Arc<dyn Admission>`), via `async-trait` (plugins read the store or caches).
#[async_trait]
pub trait Admission: Send + Sync + 'static {
    /// The plugin's name (`NamespaceLifecycle`).
    fn name(&self) -> &str;

    /// Mutating admission; the default does nothing.
    async fn admit(&self, _req: &Request<'_>, _obj: &mut Value) -> Result<()> {
        Ok(())
    }

    /// Validating admission; the default accepts.
    async fn validate(&self, _req: &Request<'_>, _obj: &Value) -> Result<()> {
        Ok(())
    }
}

/// An ordered chain of admission plugins.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<dyn Admission>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name().to_string()))
            .finish()
    }
}

impl Chain {
    /// An empty chain (admits everything).
    pub fn new() -> Self {
        Chain::default()
    }

    /// The default chain over `store`: [`Defaults`] (first, as kube-apiserver defaults while
    /// decoding), [`NamespaceLifecycle`], [`ServiceAccount`], [`DefaultTolerationSeconds`],
    /// [`Validation`].
    pub fn default_for(store: Arc<dyn Store>) -> Self {
        Chain::default_with_tolerations(store, DefaultTolerationSeconds::default())
    }

    /// [`Chain::default_for`] with other toleration seconds (kube-apiserver's
    /// `--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`).
    pub fn default_with_tolerations(
        store: Arc<dyn Store>,
        tolerations: DefaultTolerationSeconds,
    ) -> Self {
        Chain::new()
            .with(Defaults)
            .with(NamespaceLifecycle::new(store))
            .with(ServiceAccount)
            .with(tolerations)
            .with(Validation)
    }

    /// Appends a plugin.
    #[must_use]
    pub fn with(mut self, plugin: impl Admission) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// Appends a shared plugin.
    #[must_use]
    pub fn with_arc(mut self, plugin: Arc<dyn Admission>) -> Self {
        self.plugins.push(plugin);
        self
    }

    /// Runs every `admit`, then every `validate`.
    pub async fn run(&self, req: &Request<'_>, obj: &mut Value) -> Result<()> {
        self.mutate(req, obj).await?;
        self.validate(req, obj).await
    }

    /// Runs every plugin's `admit` (the mutating phase).
    pub async fn mutate(&self, req: &Request<'_>, obj: &mut Value) -> Result<()> {
        for p in &self.plugins {
            p.admit(req, obj).await?;
        }
        Ok(())
    }

    /// Runs every plugin's `validate` (the validating phase).
    pub async fn validate(&self, req: &Request<'_>, obj: &Value) -> Result<()> {
        for p in &self.plugins {
            p.validate(req, obj).await?;
        }
        Ok(())
    }
}

/// Namespaces that exist from the start and can't be deleted.
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// kube-apiserver's `NamespaceLifecycle` plugin.
///
/// - Create of a namespaced object: 404 `namespaces "x" not found` if the namespace does not
///   exist; 403 `… is forbidden: unable to create new content in namespace x because it is
///   being terminated` if it has a deletionTimestamp or phase Terminating.
/// - Delete of `default`, `kube-system` or `kube-public`: 403 `namespaces "default" is
///   forbidden: this namespace may not be deleted`.
///
/// Namespaces are read from a watched cache (spawned on first use); a namespace the cache
/// does not have, or one deleted through this plugin in the last 30 s, is read from the
/// store, as kube-apiserver's plugin falls back from its informer to a live lookup.
#[derive(Clone)]
pub struct NamespaceLifecycle {
    cache: Arc<crate::nscache::NsCache>,
}

impl NamespaceLifecycle {
    /// The plugin over the namespaces in `store` (`/registry/namespaces/{name}`).
    pub fn new(store: Arc<dyn Store>) -> Self {
        NamespaceLifecycle {
            cache: Arc::new(crate::nscache::NsCache::new(store)),
        }
    }
}

#[async_trait]
impl Admission for NamespaceLifecycle {
    fn name(&self) -> &str {
        "NamespaceLifecycle"
    }

    async fn validate(&self, req: &Request<'_>, _obj: &Value) -> Result<()> {
        if req.operation == Operation::Delete
            && req.group.is_empty()
            && req.resource == "namespaces"
            && req.subresource.is_empty()
            && IMMORTAL_NAMESPACES.contains(&req.name)
        {
            return Err(errors::forbidden(
                "",
                "namespaces",
                req.name,
                "this namespace may not be deleted",
            ));
        }
        if req.operation == Operation::Delete
            && req.group.is_empty()
            && req.resource == "namespaces"
            && req.subresource.is_empty()
        {
            self.cache.deleted(req.name);
        }
        if req.operation != Operation::Create || req.namespace.is_empty() {
            return Ok(());
        }
        let state = self
            .cache
            .state(req.namespace)
            .await
            .map_err(errors::internal)?;
        if state == crate::nscache::NsState::Missing {
            return Err(errors::not_found("", "namespaces", req.namespace));
        }
        if state == crate::nscache::NsState::Terminating {
            return Err(errors::forbidden(
                req.group,
                req.resource,
                req.name,
                &format!(
                    "unable to create new content in namespace {} because it is being terminated",
                    req.namespace
                ),
            ));
        }
        Ok(())
    }
}

/// Kubernetes' defaulting, as a mutating plugin: kubox-core's [`kubox_core::defaults`] on
/// every create and update body (not on deletes, and not on `pods/binding`, which bypasses the
/// strategy as in Kubernetes). Kinds kubox-core does not model are left as they are; a body that
/// does not decode as its kind is a 400.
#[derive(Clone, Copy, Debug, Default)]
pub struct Defaults;

#[async_trait]
impl Admission for Defaults {
    fn name(&self) -> &str {
        "Defaults"
    }

    async fn admit(&self, req: &Request<'_>, obj: &mut Value) -> Result<()> {
        if req.operation == Operation::Delete || req.subresource == "binding" {
            return Ok(());
        }
        match kubox_core::defaults::apply_value(req.group, req.kind, obj) {
            Ok(()) => Ok(()),
            Err(kubox_core::validation::Error::UnknownKind { .. }) => Ok(()),
            Err(e) => Err(errors::Error::from_status(e.to_status())),
        }
    }
}

/// Per-kind validation, as a validating plugin: kubox-core's [`kubox_core::validation`]
/// (create and update rules of each kind, then the generic ObjectMeta rules), answered with
/// 422 Invalid and one cause per field error. Skipped for deletes and `pods/binding`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Validation;

#[async_trait]
impl Admission for Validation {
    fn name(&self) -> &str {
        "Validation"
    }

    async fn validate(&self, req: &Request<'_>, obj: &Value) -> Result<()> {
        use kubox_core::validation::{validate_create_value, validate_update_value, Error as VE};
        if req.operation == Operation::Delete || req.subresource == "binding" {
            return Ok(());
        }
        let res = match (req.operation, req.old_object) {
            (Operation::Update, Some(old)) => validate_update_value(req.group, req.kind, obj, old),
            _ => validate_create_value(req.group, req.kind, obj),
        };
        match res {
            Ok(errs) if errs.is_empty() => Ok(()),
            Ok(errs) => {
                let name = meta_str(obj, "name").unwrap_or("");
                Err(errors::Error::from_status(
                    errs.to_status(req.group, req.kind, name),
                ))
            }
            Err(VE::UnknownKind { .. }) => Ok(()),
            Err(e) => Err(errors::Error::from_status(e.to_status())),
        }
    }
}

fn is_pod(req: &Request<'_>) -> bool {
    req.group.is_empty() && req.resource == "pods" && req.subresource.is_empty()
}

/// The defaulting part of kube-apiserver's `ServiceAccount` plugin: a pod created without
/// `spec.serviceAccountName` gets `default` (mirror pods, annotated
/// `kubernetes.io/config.mirror`, are left alone).
///
/// Not (yet) done here: checking that the service account exists, copying its
/// imagePullSecrets and mounting the projected `kube-api-access-*` token volume — they need
/// the service-account controller and token signer of later layers.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServiceAccount;

#[async_trait]
impl Admission for ServiceAccount {
    fn name(&self) -> &str {
        "ServiceAccount"
    }

    async fn admit(&self, req: &Request<'_>, obj: &mut Value) -> Result<()> {
        if req.operation != Operation::Create || !is_pod(req) {
            return Ok(());
        }
        let mirror = crate::object::meta(obj)
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get("kubernetes.io/config.mirror"))
            .is_some();
        if mirror {
            return Ok(());
        }
        if let Some(Value::Object(spec)) = obj.get_mut("spec") {
            let empty = spec
                .get("serviceAccountName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty {
                spec.insert("serviceAccountName".into(), Value::String("default".into()));
            }
        }
        Ok(())
    }
}

/// kube-apiserver's `DefaultTolerationSeconds` plugin: on pod create and update (not
/// subresources), adds `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable`
/// tolerations (operator Exists, effect NoExecute, 300 s by default) unless an existing
/// toleration already covers them (an empty key or an empty effect covers both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultTolerationSeconds {
    /// Seconds of the `not-ready` toleration (`--default-not-ready-toleration-seconds`).
    pub not_ready: i64,
    /// Seconds of the `unreachable` toleration (`--default-unreachable-toleration-seconds`).
    pub unreachable: i64,
}

impl Default for DefaultTolerationSeconds {
    fn default() -> Self {
        DefaultTolerationSeconds {
            not_ready: 300,
            unreachable: 300,
        }
    }
}

#[async_trait]
impl Admission for DefaultTolerationSeconds {
    fn name(&self) -> &str {
        "DefaultTolerationSeconds"
    }

    async fn admit(&self, req: &Request<'_>, obj: &mut Value) -> Result<()> {
        if req.operation == Operation::Delete || !is_pod(req) {
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
