//! [`ApiServer`]: the request path (authorization → admission → storage) for every resource
//! of kubox-core's registry.

use crate::admission::Chain;
use crate::auth::{
    non_resource_forbidden_message, AllowAll, Attributes, Authorizer, Decision, UserInfo,
};
use crate::clock::{Clock, SystemClock};
use crate::errors::{self, Result};
use crate::rest::{Ctx, Rest};
use crate::storage::Storage;
use crate::strategy::Strategy;
use crate::tokens::{self, ServiceAccountKeys};
use crate::watch::{self, Timing, WatchStream};
use kube_store::Store;
use kubox_core::client::{GroupVersionResource, Request, Verb, WatchParams};
use kubox_core::registry::{self, ResourceInfo};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A response: the HTTP status code the REST layer answers with, and the body.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// 200, or 201 for a create (and for a PATCH that created the object), as
    /// kube-apiserver answers.
    pub code: u16,
    /// The object, list or `Status`.
    pub body: Value,
    /// Warnings for the client (`Warning: 299 - "…"` headers), e.g. unknown fields under
    /// `fieldValidation=Warn`.
    pub warnings: Vec<String>,
}

impl Response {
    /// A response without warnings.
    pub fn new(code: u16, body: Value) -> Response {
        Response {
            code,
            body,
            warnings: Vec::new(),
        }
    }
}

/// The background tasks of [`ApiServer::start_background_tasks`]; dropping it stops them.
#[derive(Debug)]
pub struct BackgroundTasks {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl BackgroundTasks {
    /// Tasks that stop when the handle is dropped.
    pub(crate) fn from_tasks(tasks: Vec<tokio::task::JoinHandle<()>>) -> Self {
        BackgroundTasks { tasks }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Builds an [`ApiServer`].
pub struct Builder {
    store: Arc<dyn Store>,
    authorizer: Arc<dyn Authorizer>,
    admission: Option<Chain>,
    clock: Arc<dyn Clock>,
    bookmark_interval: Duration,
    min_request_timeout: Duration,
    alloc: crate::alloc::Config,
    sa_keys: Option<Arc<ServiceAccountKeys>>,
    kubelet: crate::proxy::KubeletClientConfig,
}

impl Builder {
    /// The authorizer (default [`AllowAll`]).
    #[must_use]
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }
    /// The admission chain (default [`Chain::default_for`] the store).
    #[must_use]
    pub fn admission(mut self, chain: Chain) -> Self {
        self.admission = Some(chain);
        self
    }
    /// The clock for creation and deletion timestamps (default [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// How often a watch with `allowWatchBookmarks` gets a BOOKMARK (default 60 s).
    #[must_use]
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }
    /// `--min-request-timeout`: a watch without `timeoutSeconds` lasts this × (1 + rand[0,1))
    /// (default 1800 s).
    #[must_use]
    pub fn min_request_timeout(mut self, t: Duration) -> Self {
        self.min_request_timeout = t;
        self
    }
    /// The service CIDR ClusterIPs are allocated from (`--service-cluster-ip-range`, default
    /// `10.0.0.0/24`), e.g. `"10.96.0.0/12"`.
    ///
    /// # Panics
    ///
    /// If `cidr` is not a usable CIDR (see [`alloc::ServiceCidr`](crate::alloc::ServiceCidr));
    /// [`Builder::allocation`] takes a checked [`alloc::Config`](crate::alloc::Config).
    #[must_use]
    pub fn service_cidr(mut self, cidr: &str) -> Self {
        self.alloc.service_cidr = cidr.parse().unwrap_or_else(|e| panic!("service CIDR: {e}"));
        self
    }
    /// The node-port range (`--service-node-port-range`, default `30000-32767`).
    ///
    /// # Panics
    ///
    /// If `range` is not a port range (`30000-32767`, `30000+2767`).
    #[must_use]
    pub fn service_node_port_range(mut self, range: &str) -> Self {
        self.alloc.node_ports = range
            .parse()
            .unwrap_or_else(|e| panic!("node port range: {e}"));
        self
    }
    /// The service CIDR and node-port range together.
    #[must_use]
    pub fn allocation(mut self, config: crate::alloc::Config) -> Self {
        self.alloc = config;
        self
    }
    /// The service-account signing keys: the server then answers TokenRequests
    /// (`serviceaccounts/token`, 501 without them); pair with
    /// [`tokens::ServiceAccountTokens`] to accept the tokens.
    #[must_use]
    pub fn service_account_keys(mut self, keys: Arc<ServiceAccountKeys>) -> Self {
        self.sa_keys = Some(keys);
        self
    }
    /// How the server reaches kubelets for `pods/log` and `pods/exec` (default
    /// [`KubeletClientConfig::default`](crate::proxy::KubeletClientConfig): no token, any
    /// serving certificate, InternalIP first, port 10250 unless the Node says otherwise).
    #[must_use]
    pub fn kubelet_client(mut self, config: crate::proxy::KubeletClientConfig) -> Self {
        self.kubelet = config;
        self
    }
    /// The server.
    pub fn build(self) -> ApiServer {
        let admission = self
            .admission
            .unwrap_or_else(|| Chain::default_for(self.store.clone()));
        ApiServer {
            inner: Arc::new(Inner {
                rest: Rest {
                    alloc: self
                        .alloc
                        .allocators(self.store.clone(), self.clock.clone()),
                    storage: Storage { store: self.store },
                    admission,
                    clock: self.clock,
                },
                authorizer: self.authorizer,
                sa_keys: self.sa_keys,
                token_authenticator: std::sync::OnceLock::new(),
                kubelet: self.kubelet,
                timing: Timing {
                    bookmark_interval: self.bookmark_interval,
                    min_request_timeout: self.min_request_timeout,
                },
            }),
        }
    }
}

struct Inner {
    rest: Rest,
    authorizer: Arc<dyn Authorizer>,
    sa_keys: Option<Arc<ServiceAccountKeys>>,
    /// What TokenReviews are answered with (`crate::reviews`).
    token_authenticator: std::sync::OnceLock<Arc<dyn crate::http::Authenticator>>,
    kubelet: crate::proxy::KubeletClientConfig,
    timing: Timing,
}

/// The API server: a cheap-to-clone handle; clones share everything.
///
/// Several `ApiServer`s may share one store (two instances over one [`kube_store::Store`], as
/// several kube-apiservers share one etcd): each sees the others' writes, watches on one see
/// writes through another, and optimistic concurrency holds across them — all state is in the
/// store.
#[derive(Clone)]
pub struct ApiServer {
    inner: Arc<Inner>,
}

/// A handle that does not keep an [`ApiServer`] alive (what a component the server itself
/// holds, such as its token authenticator, keeps of it, so that no reference cycle outlives
/// the server).
#[derive(Clone)]
pub(crate) struct WeakApiServer {
    inner: std::sync::Weak<Inner>,
}

impl WeakApiServer {
    /// The server, while any strong handle to it lives.
    pub(crate) fn upgrade(&self) -> Option<ApiServer> {
        self.inner.upgrade().map(|inner| ApiServer { inner })
    }
}

impl ApiServer {
    /// A handle that does not keep this server alive.
    pub(crate) fn downgrade(&self) -> WeakApiServer {
        WeakApiServer {
            inner: Arc::downgrade(&self.inner),
        }
    }
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("admission", &self.inner.rest.admission)
            .finish_non_exhaustive()
    }
}

/// The Kubernetes verb of a request (`get`, `list`, `create`, …).
pub fn verb_name(verb: &Verb) -> &'static str {
    match verb {
        Verb::Get | Verb::GetWith(_) => "get",
        Verb::List(_) => "list",
        Verb::Create(_) => "create",
        Verb::Replace(_) => "update",
        Verb::Patch(..) => "patch",
        Verb::Delete(_) => "delete",
        Verb::DeleteCollection(..) => "deletecollection",
    }
}

/// Namespaces a fresh cluster has (kube-apiserver's system namespaces controller).
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

impl ApiServer {
    /// A server over `store` with the defaults: [`AllowAll`], the default admission chain,
    /// the system clock.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::builder(store).build()
    }

    /// A builder over `store`.
    pub fn builder(store: Arc<dyn Store>) -> Builder {
        Builder {
            store,
            authorizer: Arc::new(AllowAll),
            admission: None,
            clock: Arc::new(SystemClock),
            bookmark_interval: Duration::from_secs(60),
            min_request_timeout: Duration::from_secs(1800),
            alloc: crate::alloc::Config::default(),
            sa_keys: None,
            kubelet: crate::proxy::KubeletClientConfig::default(),
        }
    }

    /// How this server reaches kubelets.
    pub(crate) fn kubelet_client_config(&self) -> &crate::proxy::KubeletClientConfig {
        &self.inner.kubelet
    }

    /// Reads a core/v1 object with the server's own rights (no authorization, no
    /// admission): the pod and node lookups of `pods/log` and `pods/exec`.
    pub(crate) async fn read_core_object(
        &self,
        plural: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value> {
        let info = registry::find("", "v1", plural).ok_or_else(errors::resource_not_found)?;
        let admin = UserInfo::admin();
        let c = Ctx {
            user: &admin,
            s: Strategy::of(info),
            ns,
        };
        self.inner.rest.get(&c, name).await
    }

    /// The clock this server stamps objects with.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.rest.clock
    }

    /// The authorizer requests are decided by.
    pub(crate) fn authorizer(&self) -> &Arc<dyn Authorizer> {
        &self.inner.authorizer
    }

    /// Sets the token authenticator TokenReviews are answered with (`tokenreviews`,
    /// [`crate::reviews`]); the first one set stays (false when one was set already).
    /// [`crate::http::router`] sets its [`Config::authenticator`](crate::http::Config) when
    /// none is, so an HTTPS server reviews tokens as it authenticates them.
    pub fn set_token_authenticator(&self, authn: Arc<dyn crate::http::Authenticator>) -> bool {
        self.inner.token_authenticator.set(authn).is_ok()
    }

    /// The token authenticator TokenReviews are answered with, if one was set.
    pub fn token_authenticator(&self) -> Option<&Arc<dyn crate::http::Authenticator>> {
        self.inner.token_authenticator.get()
    }

    /// The API's audiences (`--api-audiences`): those of the service-account keys, none
    /// without them.
    pub fn api_audiences(&self) -> Vec<String> {
        self.inner
            .sa_keys
            .as_ref()
            .map(|k| k.audiences.clone())
            .unwrap_or_default()
    }

    /// Authorizes `verb` (the lower-case HTTP method; `get` for HEAD) on the non-resource
    /// `path` for `user` (what the HTTP layer asks before `/version`, `/healthz`, `/api`,
    /// `/apis/…`, `/openapi/…`, `/metrics`): 403 `forbidden: User "u" cannot get path "/x"`
    /// (plus `: <reason>`) unless the authorizer allows it.
    pub async fn authorize_non_resource(
        &self,
        user: &UserInfo,
        verb: &str,
        path: &str,
    ) -> Result<()> {
        match self
            .inner
            .authorizer
            .authorize_non_resource(user, verb, path)
            .await
        {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) | Decision::NoOpinion(reason) => {
                let mut why = non_resource_forbidden_message(user, verb, path);
                if !reason.is_empty() {
                    why = format!("{why}: {reason}");
                }
                Err(errors::new(403, "Forbidden", format!("forbidden: {why}")))
            }
        }
    }

    /// The store this server reads and writes.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.rest.storage.store
    }

    /// The service IP and node-port allocators.
    pub(crate) fn allocators(&self) -> &crate::alloc::Allocators {
        &self.inner.rest.alloc
    }

    /// The service CIDR and node-port range this server allocates from.
    pub fn allocation_config(&self) -> crate::alloc::Config {
        let a = &self.inner.rest.alloc;
        crate::alloc::Config {
            service_cidr: a.cidr,
            node_ports: a.node_ports,
        }
    }

    /// Starts the server's periodic work on the current tokio runtime: the ClusterIP and
    /// NodePort allocation repair ([`alloc::repair`](crate::alloc::repair)) at once and then
    /// every [`alloc::REPAIR_INTERVAL`](crate::alloc::REPAIR_INTERVAL). The tasks stop when
    /// the returned handle is dropped.
    pub fn start_background_tasks(&self) -> BackgroundTasks {
        BackgroundTasks {
            tasks: vec![tokio::spawn(crate::alloc::repair_loop(self.clone()))],
        }
    }

    /// Creates the system namespaces (`default`, `kube-system`, `kube-public`,
    /// `kube-node-lease`) that don't exist yet.
    pub async fn ensure_system_namespaces(&self) -> Result<()> {
        let admin = UserInfo::admin();
        for ns in SYSTEM_NAMESPACES {
            let req = Request {
                resource: GroupVersionResource {
                    group: String::new(),
                    version: "v1".into(),
                    resource: "namespaces".into(),
                },
                namespace: None,
                name: None,
                subresource: None,
                verb: Verb::Create(Default::default()),
                body: Some(
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                ),
            };
            match self.handle(&admin, req).await {
                Ok(_) => {}
                Err(e) if e.reason() == "AlreadyExists" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Executes one request as `user`; the body of the response.
    pub async fn handle(&self, user: &UserInfo, request: Request) -> Result<Value> {
        self.serve(user, request).await.map(|r| r.body)
    }

    /// Executes one request as `user`; the HTTP code and body of the response (what an HTTP
    /// layer writes).
    pub async fn serve(&self, user: &UserInfo, request: Request) -> Result<Response> {
        let info = resolve(&request.resource)?;
        let sub = request.subresource.as_deref().unwrap_or("");
        let ns = scope(info, request.namespace.as_deref(), request.name.is_some())?;
        if let Some(name) = request.name.as_deref() {
            if name.is_empty() || name.contains('/') {
                return Err(errors::resource_not_found());
            }
        }
        let verb = verb_name(&request.verb);
        if sub.is_empty() {
            if !info.supports(verb) {
                return Err(errors::method_not_supported(info.group, info.plural, verb));
            }
        } else {
            let Some(si) = info.subresource(sub) else {
                return Err(errors::resource_not_found());
            };
            if request.name.is_none() {
                return Err(errors::resource_not_found());
            }
            if !si.verbs.contains(&verb) {
                return Err(errors::method_not_supported(info.group, info.plural, verb));
            }
        }
        tracing::debug!(
            user = %user.name,
            verb,
            group = info.group,
            resource = info.plural,
            subresource = sub,
            namespace = ns.unwrap_or(""),
            name = request.name.as_deref().unwrap_or(""),
            "api request"
        );
        // A list by `metadata.name=x` is authorized for that name, as Kubernetes does (so
        // resourceNames rules apply).
        let list_name = match &request.verb {
            Verb::List(p) => selected_name(p.field_selector.as_deref()),
            _ => None,
        };
        self.authorize(
            user,
            verb,
            info,
            ns,
            sub,
            request.name.as_deref().or(list_name.as_deref()),
        )
        .await?;
        let c = Ctx {
            user,
            s: Strategy::of(info),
            ns,
        };
        let rest = &self.inner.rest;
        let body = || {
            request
                .body
                .as_ref()
                .ok_or_else(|| errors::bad_request("the request body is required"))
        };
        let name = request.name.as_deref().unwrap_or("");
        let ok = |body: Value| Ok(Response::new(200, body));
        match (&request.verb, sub) {
            (Verb::Create(_), "") if info.group == SSAR.0 && info.plural == SSAR.1 => {
                let access = crate::rbac::AuthorizerAccess(&*self.inner.authorizer);
                let body = crate::rbac::self_subject_access_review(&access, user, body()?).await?;
                Ok(Response::new(201, body))
            }
            (Verb::Create(_), "") if crate::reviews::is_review(info) => {
                crate::reviews::answer(self, user, info, body()?).await
            }
            (Verb::Create(_), "token") if self.inner.sa_keys.is_some() => {
                let sa = rest.get(&c, name).await?;
                let keys = self
                    .inner
                    .sa_keys
                    .as_deref()
                    .ok_or_else(errors::resource_not_found)?;
                let body = tokens::token_request(keys, &sa, body()?, rest.clock.now())?;
                Ok(Response::new(201, body))
            }
            (Verb::GetWith(p), "" | "status" | "scale") => {
                // Kubernetes' GET semantics: "0" any, "N" not older than N (waiting briefly
                // for the store to reach it), then the object as it is now.
                if let Some(rv) = p.resource_version.as_deref().filter(|r| !r.is_empty()) {
                    let n = crate::storage::parse_rv(rv)?;
                    if n > 0 {
                        rest.storage.wait_for(n).await?;
                    }
                }
                if sub == "scale" {
                    ok(rest.get_scale(&c, name).await?)
                } else {
                    ok(rest.get(&c, name).await?)
                }
            }
            (Verb::Get, "") => ok(rest.get(&c, name).await?),
            (Verb::Get, "status") => ok(rest.get(&c, name).await?),
            (Verb::Get, "scale") => ok(rest.get_scale(&c, name).await?),
            (Verb::List(p), "") => ok(rest.storage.list(&c.s, ns, p).await?),
            (Verb::Create(p), "") if info.group.is_empty() && info.plural == "bindings" => {
                let pods = Strategy::of(pods_info()?);
                let body = rest.bind(&c, pods, None, body()?, p.dry_run).await?;
                Ok(Response::new(201, body))
            }
            (Verb::Create(p), "") => {
                let mut warnings = Vec::new();
                let body = rest.create(&c, body()?, p, &mut warnings).await?;
                Ok(Response {
                    code: 201,
                    body,
                    warnings,
                })
            }
            (Verb::Create(p), "binding") => {
                let body = rest.bind(&c, c.s, Some(name), body()?, p.dry_run).await?;
                Ok(Response::new(201, body))
            }
            (Verb::Create(p), "eviction") => {
                let body = rest.evict(&c, name, body()?, p).await?;
                Ok(Response::new(201, body))
            }
            (Verb::Replace(p), "" | "status" | "finalize") => {
                let mut warnings = Vec::new();
                let body = rest
                    .replace(&c, name, sub, body()?, p, &mut warnings)
                    .await?;
                Ok(Response {
                    code: 200,
                    body,
                    warnings,
                })
            }
            (Verb::Replace(p), "scale") => {
                ok(rest.update_scale(&c, name, Ok(body()?), p.dry_run).await?)
            }
            (Verb::Patch(patch, p), "" | "status") => {
                // Only server-side apply creates; it answers 201 when it did.
                let before = !matches!(patch, kubox_core::client::Patch::Apply(_))
                    || rest.storage.get(&c.s, &c.s.key(ns, name)).await?.is_some();
                let mut warnings = Vec::new();
                let body = rest.patch(&c, name, sub, patch, p, &mut warnings).await?;
                let code = if before { 200 } else { 201 };
                Ok(Response {
                    code,
                    body,
                    warnings,
                })
            }
            (Verb::Patch(patch, p), "scale") => {
                ok(rest.update_scale(&c, name, Err(patch), p.dry_run).await?)
            }
            (Verb::Delete(p), "") => ok(rest.delete(&c, name, p).await?.body),
            (Verb::DeleteCollection(dp, lp), "") => ok(rest.delete_collection(&c, dp, lp).await?),
            // Streams: over HTTP (`crate::proxy`); one-shot here (`crate::oneshot`).
            (Verb::Get | Verb::GetWith(_), "log") => {
                crate::oneshot::pod_log(self, ns.unwrap_or(""), name, request.body.as_ref()).await
            }
            (_, "exec") => Err(crate::oneshot::exec_needs_upgrade()),
            (_, "attach" | "portforward" | "proxy") => {
                Err(errors::not_implemented(&format!("{}/{sub}", info.plural)))
            }
            (_, "ephemeralcontainers" | "resize" | "token") => {
                Err(errors::not_implemented(&format!("{}/{sub}", info.plural)))
            }
            _ => Err(errors::method_not_supported(info.group, info.plural, verb)),
        }
    }

    /// Starts a watch as `user` on a collection (`namespace: None`: all namespaces, or a
    /// cluster-scoped resource).
    pub async fn watch(
        &self,
        user: &UserInfo,
        resource: &GroupVersionResource,
        namespace: Option<&str>,
        params: &WatchParams,
    ) -> Result<WatchStream> {
        let info = resolve(resource)?;
        if !info.supports("watch") {
            return Err(errors::method_not_supported(
                info.group,
                info.plural,
                "watch",
            ));
        }
        let ns = scope(info, namespace, false)?;
        let name = selected_name(params.field_selector.as_deref());
        self.authorize(user, "watch", info, ns, "", name.as_deref())
            .await?;
        watch::start(
            self.inner.rest.storage.clone(),
            Strategy::of(info),
            ns.map(str::to_string),
            params.clone(),
            self.inner.timing,
        )
        .await
    }

    pub(crate) async fn authorize(
        &self,
        user: &UserInfo,
        verb: &str,
        info: &ResourceInfo,
        ns: Option<&str>,
        sub: &str,
        name: Option<&str>,
    ) -> Result<()> {
        let attrs = Attributes {
            user,
            verb,
            namespace: ns.unwrap_or(""),
            api_group: info.group,
            api_version: info.version,
            resource: info.plural,
            subresource: sub,
            name: name.unwrap_or(""),
        };
        match self.inner.authorizer.authorize(&attrs).await {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) | Decision::NoOpinion(reason) => {
                let mut why = attrs.forbidden_message();
                if !reason.is_empty() {
                    why = format!("{why}: {reason}");
                }
                Err(errors::forbidden(info.group, info.plural, attrs.name, &why))
            }
        }
    }
}

/// The group and resource of SelfSubjectAccessReview (answered, never stored).
const SSAR: (&str, &str) = ("authorization.k8s.io", "selfsubjectaccessreviews");

/// The name a field selector pins (`metadata.name=x` or `metadata.name==x`, alone or among
/// other terms).
fn selected_name(selector: Option<&str>) -> Option<String> {
    selector?.split(',').find_map(|term| {
        let (k, v) = term.split_once("==").or_else(|| term.split_once('='))?;
        (k.trim() == "metadata.name" && !v.trim().is_empty()).then(|| v.trim().to_string())
    })
}

fn resolve(gvr: &GroupVersionResource) -> Result<&'static ResourceInfo> {
    registry::find(&gvr.group, &gvr.version, &gvr.resource).ok_or_else(errors::resource_not_found)
}

fn pods_info() -> Result<&'static ResourceInfo> {
    registry::find("", "v1", "pods").ok_or_else(errors::resource_not_found)
}

/// The namespace a request addresses: required for a named namespaced object; a namespace on a
/// cluster-scoped resource is a path that does not exist (404).
fn scope<'a>(info: &ResourceInfo, ns: Option<&'a str>, named: bool) -> Result<Option<&'a str>> {
    let ns = ns.filter(|n| !n.is_empty());
    match (info.namespaced, ns) {
        (false, Some(_)) => Err(errors::resource_not_found()),
        (true, None) if named => Err(errors::resource_not_found()),
        (_, ns) => Ok(ns),
    }
}
