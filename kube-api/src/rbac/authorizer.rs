//! [`RbacAuthorizer`]: Kubernetes' RBAC authorizer over an in-memory [`Policy`] that a
//! background task keeps in step with the store (list, then watch from the list's revision;
//! re-list when the watch ends, e.g. on `Compacted`).

use super::policy::{Policy, KEY_PREFIXES};
use super::{Access, SubjectAccess};
use crate::auth::{Attributes, Authorizer, Decision, UserInfo};
use async_trait::async_trait;
use futures::StreamExt;
use kube_store::{EventKind, ListOptions, Revision, Store};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The group whose members skip authorization (`user.SystemPrivilegedGroup`).
pub const SYSTEM_MASTERS: &str = "system:masters";

/// The key prefix the cache watches: one watch over every API object, so that the cache's
/// revision advances with every write and [`RbacAuthorizer::wait_for_revision`] is exact for
/// any resourceVersion.
const WATCH_PREFIX: &str = "/registry/";

/// How long a request waits for the first sync before it is denied.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

struct Shared {
    store: Arc<dyn Store>,
    policy: RwLock<Policy>,
    /// The revision the policy reflects; -1 until the first list.
    revision: watch::Sender<Revision>,
}

struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Role-based access control (`--authorization-mode=RBAC`), reading Roles, ClusterRoles,
/// RoleBindings and ClusterRoleBindings from the store.
///
/// # Contract
///
/// - Members of `system:masters` are always allowed (without looking at any role).
/// - Otherwise the request is allowed when a rule of a role bound to the user (by a
///   ClusterRoleBinding, or a RoleBinding in the request's namespace) allows it; if none does,
///   the answer is [`Decision::NoOpinion`] with an empty reason, or with `RBAC: …` listing the
///   roles that bindings refer to but that do not exist — as Kubernetes answers.
/// - Authorization is a lookup in memory. The cache is fed by a task spawned by
///   [`RbacAuthorizer::new`] (on the current tokio runtime) that lists the four RBAC
///   prefixes at one revision and then watches the store from that revision; when the watch
///   ends (compaction, lag, a store error) it lists again. The task stops when the last clone
///   of the authorizer is dropped.
/// - A write to an RBAC object at revision `r` is effective once
///   [`wait_for_revision(r)`](Self::wait_for_revision) resolves. Until the first list has
///   completed, requests wait (at most 30 s, then they are denied).
#[derive(Clone)]
pub struct RbacAuthorizer {
    shared: Arc<Shared>,
    _task: Arc<Task>,
}

impl std::fmt::Debug for RbacAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacAuthorizer")
            .field("revision", &*self.shared.revision.borrow())
            .finish_non_exhaustive()
    }
}

impl RbacAuthorizer {
    /// An authorizer over the RBAC objects in `store`; spawns the cache's list/watch task on
    /// the current tokio runtime (panics outside one, as `tokio::spawn` does).
    pub fn new(store: Arc<dyn Store>) -> Self {
        let (tx, _) = watch::channel(-1);
        let shared = Arc::new(Shared {
            store,
            policy: RwLock::new(Policy::new()),
            revision: tx,
        });
        let task = tokio::spawn(run(shared.clone()));
        RbacAuthorizer {
            shared,
            _task: Arc::new(Task(task)),
        }
    }

    /// The store the cache follows.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Resolves once the cache has completed its first list.
    pub async fn wait_synced(&self) {
        self.wait_for_revision(0).await;
    }

    /// Resolves once the cache reflects every write up to `revision` (a resourceVersion the
    /// API server returned: any object's, not only an RBAC object's).
    pub async fn wait_for_revision(&self, revision: Revision) {
        let mut rx = self.shared.revision.subscribe();
        // The sender lives in `shared`, which `self` keeps alive: this cannot fail.
        let _ = rx.wait_for(|r| *r >= revision).await;
    }

    /// The revision the cache reflects (-1 before the first list).
    pub fn revision(&self) -> Revision {
        *self.shared.revision.borrow()
    }

    /// Runs `f` on the cached policy.
    pub fn with_policy<T>(&self, f: impl FnOnce(&Policy) -> T) -> T {
        let policy = self.shared.policy.read().unwrap_or_else(|e| e.into_inner());
        f(&policy)
    }

    async fn synced(&self) -> bool {
        if self.revision() >= 0 {
            return true;
        }
        tokio::time::timeout(SYNC_TIMEOUT, self.wait_synced())
            .await
            .is_ok()
    }

    /// The full answer for a resource request, with Kubernetes' reason (`RBAC: allowed by
    /// ClusterRoleBinding "…" of ClusterRole "…" to Group "…"`), as a SubjectAccessReview
    /// reports it.
    pub async fn subject_access(&self, attrs: &Attributes<'_>) -> Access {
        if is_master(attrs.user) {
            return Access::allowed(String::new());
        }
        if !self.synced().await {
            return Access::no_opinion(not_synced());
        }
        self.with_policy(|p| p.authorize(attrs))
    }

    /// The full answer for a non-resource request: `verb` is the lower-case HTTP method
    /// (`get`, `post`, `put`, `patch`, `delete`, as Kubernetes' request info maps it) on `path`
    /// (`/version`, `/healthz`, `/apis`, `/openapi/v2`, `/metrics`, …).
    pub async fn subject_access_non_resource(
        &self,
        user: &UserInfo,
        verb: &str,
        path: &str,
    ) -> Access {
        if is_master(user) {
            return Access::allowed(String::new());
        }
        if !self.synced().await {
            return Access::no_opinion(not_synced());
        }
        self.with_policy(|p| p.authorize_non_resource(user, verb, path))
    }

    /// Every rule `user` holds in `namespace`, as kube-apiserver's union of the
    /// privileged-group authorizer (`system:masters`: everything) and the RBAC rule resolver
    /// lists them; an unsynced cache or a dangling role reference makes the answer incomplete
    /// or carries an evaluation error.
    #[doc(alias = "RulesFor")]
    pub async fn rules_for(&self, user: &UserInfo, namespace: &str) -> crate::auth::Rules {
        let mut out = if is_master(user) {
            crate::auth::Rules::everything()
        } else {
            crate::auth::Rules::default()
        };
        if !self.synced().await {
            out.incomplete = true;
            out.errors.push(not_synced());
            return out;
        }
        let (rules, errors) = self.with_policy(|p| p.rules_for(user, namespace));
        out.extend(crate::auth::Rules {
            rules,
            incomplete: false,
            errors,
        });
        out
    }

    /// The decision for a non-resource request (what the HTTP layer asks for `/version`,
    /// `/healthz`, `/api`, `/apis`, `/openapi/*`, `/metrics`; the 403 message is
    /// `forbidden: User "u" cannot get path "/x"`, plus `: <reason>` if any).
    pub async fn authorize_non_resource(
        &self,
        user: &UserInfo,
        verb: &str,
        path: &str,
    ) -> Decision {
        self.subject_access_non_resource(user, verb, path)
            .await
            .into_decision()
    }
}

fn is_master(user: &UserInfo) -> bool {
    user.groups.iter().any(|g| g == SYSTEM_MASTERS)
}

fn not_synced() -> String {
    "RBAC: the authorization cache has not synced with the store".to_string()
}

#[async_trait]
impl Authorizer for RbacAuthorizer {
    async fn authorize(&self, attrs: &Attributes<'_>) -> Decision {
        self.subject_access(attrs).await.into_decision()
    }
    async fn authorize_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Decision {
        RbacAuthorizer::authorize_non_resource(self, user, verb, path).await
    }
    async fn rules_for(&self, user: &UserInfo, namespace: &str) -> crate::auth::Rules {
        RbacAuthorizer::rules_for(self, user, namespace).await
    }
}

#[async_trait]
impl SubjectAccess for RbacAuthorizer {
    async fn subject_access(&self, attrs: &Attributes<'_>) -> Access {
        RbacAuthorizer::subject_access(self, attrs).await
    }
    async fn subject_access_non_resource(&self, user: &UserInfo, verb: &str, path: &str) -> Access {
        RbacAuthorizer::subject_access_non_resource(self, user, verb, path).await
    }
}

/// The cache task: list + watch, again and again.
async fn run(shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match list_and_watch(&shared).await {
            Ok(()) => backoff = Duration::from_millis(50),
            // History is gone or the watch fell behind: re-list at once, as a reflector does
            // on 410.
            Err(
                e @ (kube_store::Error::Compacted { .. } | kube_store::Error::WatchLagged { .. }),
            ) => {
                tracing::debug!(error = %e, "rbac: cache watch ended; re-listing");
                backoff = Duration::from_millis(50);
            }
            Err(e) => {
                tracing::warn!(error = %e, "rbac: cache list/watch failed; re-listing");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn publish(shared: &Shared, revision: Revision) {
    shared.revision.send_if_modified(|r| {
        if revision > *r {
            *r = revision;
            true
        } else {
            false
        }
    });
}

/// Lists the RBAC objects at one revision, installs them, then applies watch events until the
/// watch ends. Returns `Ok` when the watch ended without an error (re-list at once).
async fn list_and_watch(shared: &Shared) -> kube_store::Result<()> {
    let store = &shared.store;
    let mut policy = Policy::new();
    let mut at: Option<Revision> = None;
    for prefix in KEY_PREFIXES {
        let list = store
            .list(
                prefix,
                ListOptions {
                    revision: at,
                    ..Default::default()
                },
            )
            .await?;
        at = Some(list.revision);
        for kv in &list.kvs {
            policy.apply(&kv.key, Some(&kv.value));
        }
    }
    let revision = at.unwrap_or(0);
    *shared.policy.write().unwrap_or_else(|e| e.into_inner()) = policy;
    publish(shared, revision);
    tracing::debug!(revision, "rbac: cache listed");

    let mut events = store.watch(WATCH_PREFIX, revision).await?;
    while let Some(event) = events.next().await {
        let event = event?;
        if Policy::is_rbac_key(&event.kv.key) {
            let value = match event.kind {
                EventKind::Put => Some(&event.kv.value[..]),
                EventKind::Delete => None,
            };
            shared
                .policy
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .apply(&event.kv.key, value);
        }
        publish(shared, event.revision());
    }
    Ok(())
}
