//! The ServiceAccount controller (a `default` ServiceAccount in every active namespace) and
//! the token controller, which fills the `kubernetes.io/service-account-token` Secrets users
//! create (annotation `kubernetes.io/service-account.name`) with `token`, `namespace` and,
//! when the namespace has the `kube-root-ca.crt` ConfigMap, `ca.crt`.
//!
//! Since Kubernetes 1.24 no token Secret is created automatically; the token is minted
//! through the API (`serviceaccounts/<name>/token`, TokenRequest), so it is signed by the API
//! server's service-account key and accepted by its authenticator.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kubox_core::api::core_v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use kubox_core::api::ByteString;
use kubox_core::client::Api;
use kubox_core::client::{GroupVersionResource, PostParams, Request, Verb};
use kubox_core::runtime::{Change, Informer, ObjectKey};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::runtime::{
    enqueue_on, key_of, split_key, Action, Context, Controller, Error, Result, WorkQueue,
};

/// The Secret type the token controller fills.
pub const SERVICE_ACCOUNT_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
/// Annotation naming the ServiceAccount of a token Secret.
pub const SERVICE_ACCOUNT_NAME: &str = "kubernetes.io/service-account.name";
/// Annotation with the ServiceAccount's uid.
pub const SERVICE_ACCOUNT_UID: &str = "kubernetes.io/service-account.uid";
/// Lifetime requested for legacy token Secrets (the API's maximum, 2^32 s).
pub const LEGACY_TOKEN_SECONDS: i64 = 1 << 32;

/// Ensures the `default` ServiceAccount in every active namespace.
pub struct ServiceAccountController {
    ctx: Context,
    namespaces: Informer<Namespace>,
    accounts: Informer<ServiceAccount>,
}

impl ServiceAccountController {
    /// The controller over `ctx`'s shared informers.
    pub fn new(ctx: &Context) -> Self {
        ServiceAccountController {
            namespaces: ctx.informers.get::<Namespace>(),
            accounts: ctx.informers.get::<ServiceAccount>(),
            ctx: ctx.clone(),
        }
    }
}

#[async_trait]
impl Controller for ServiceAccountController {
    fn name(&self) -> &'static str {
        "serviceaccount"
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        let ns = enqueue_on(&self.namespaces, queue.clone(), |c| match c {
            Change::Deleted(_) => Vec::new(),
            c => vec![key_of(c.object().as_ref())],
        });
        let sa = enqueue_on(&self.accounts, queue.clone(), |c| match c {
            Change::Deleted(sa) if sa.metadata.name.as_deref() == Some("default") => {
                sa.metadata.namespace.clone().into_iter().collect()
            }
            _ => Vec::new(),
        });
        vec![ns, sa]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(ns) = self.namespaces.store().get(&ObjectKey::cluster(key)) else {
            return Ok(Action::Done);
        };
        let terminating = ns.metadata.deletion_timestamp.is_some()
            || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
        if terminating
            || self
                .accounts
                .store()
                .get(&ObjectKey::namespaced(key, "default"))
                .is_some()
        {
            return Ok(Action::Done);
        }
        let api: Api<ServiceAccount> = Api::namespaced(self.ctx.client.clone(), key);
        let mut sa = ServiceAccount::new("default");
        sa.metadata.namespace = Some(key.to_string());
        match api.create(&PostParams::default(), &sa).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_already_exists() => Ok(Action::Done),
            // The namespace is being deleted: nothing to do.
            Err(e) if e.reason() == Some("Forbidden") => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

/// Fills legacy service-account token Secrets.
pub struct TokenController {
    ctx: Context,
    secrets: Informer<Secret>,
    accounts: Informer<ServiceAccount>,
}

impl TokenController {
    /// The controller over `ctx`'s shared informers.
    pub fn new(ctx: &Context) -> Self {
        TokenController {
            secrets: ctx.informers.get::<Secret>(),
            accounts: ctx.informers.get::<ServiceAccount>(),
            ctx: ctx.clone(),
        }
    }
}

fn is_token_secret(s: &Secret) -> bool {
    s.type_.as_deref() == Some(SERVICE_ACCOUNT_TOKEN_TYPE)
}

#[async_trait]
impl Controller for TokenController {
    fn name(&self) -> &'static str {
        "serviceaccount-token"
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        let secrets = enqueue_on(&self.secrets, queue.clone(), |c| match c {
            Change::Deleted(_) => Vec::new(),
            c if is_token_secret(c.object()) => vec![key_of(c.object().as_ref())],
            _ => Vec::new(),
        });
        // A ServiceAccount appearing late completes its Secrets.
        let store = self.secrets.store().clone();
        let sas = enqueue_on(&self.accounts, queue.clone(), move |c| {
            let sa = c.object();
            store
                .list_by(|s| {
                    is_token_secret(s)
                        && s.metadata.namespace == sa.metadata.namespace
                        && s.metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(SERVICE_ACCOUNT_NAME))
                            == sa.metadata.name.as_ref()
                })
                .iter()
                .map(|s| key_of(s.as_ref()))
                .collect()
        });
        vec![secrets, sas]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let (ns, name) = split_key(key);
        let ns = ns.unwrap_or("");
        let Some(secret) = self.secrets.store().get(&ObjectKey::namespaced(ns, name)) else {
            return Ok(Action::Done);
        };
        if !is_token_secret(&secret) || secret.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let data = secret.data.clone().unwrap_or_default();
        if data.get("token").is_some_and(|t| !t.0.is_empty()) {
            return Ok(Action::Done);
        }
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        let Some(sa_name) = annotations.get(SERVICE_ACCOUNT_NAME) else {
            return Ok(Action::Done);
        };
        let Some(sa) = self
            .accounts
            .store()
            .get(&ObjectKey::namespaced(ns, sa_name))
        else {
            // Filled once the ServiceAccount exists (its add re-queues this Secret).
            return Ok(Action::Done);
        };
        let sa_uid = sa.metadata.uid.clone().unwrap_or_default();
        if annotations
            .get(SERVICE_ACCOUNT_UID)
            .is_some_and(|u| !u.is_empty() && *u != sa_uid)
        {
            // A Secret for an earlier ServiceAccount of that name: left alone.
            return Ok(Action::Done);
        }
        let req = Request {
            resource: GroupVersionResource::of::<ServiceAccount>(),
            namespace: Some(ns.to_string()),
            name: Some(sa_name.clone()),
            subresource: Some("token".into()),
            verb: Verb::Create(PostParams::default()),
            body: Some(json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": LEGACY_TOKEN_SECONDS},
            })),
        };
        let resp = self.ctx.client.call(req).await?;
        let token = resp
            .pointer("/status/token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| Error::Other("TokenRequest answered without status.token".into()))?;
        let mut data: BTreeMap<String, ByteString> = data;
        data.insert("token".into(), ByteString(token.as_bytes().to_vec()));
        data.insert("namespace".into(), ByteString(ns.as_bytes().to_vec()));
        let cms: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), ns);
        if let Some(ca) = cms
            .get_opt("kube-root-ca.crt")
            .await?
            .and_then(|cm| cm.data.and_then(|d| d.get("ca.crt").cloned()))
        {
            data.insert("ca.crt".into(), ByteString(ca.into_bytes()));
        }
        let mut upd = (*secret).clone();
        upd.data = Some(data);
        upd.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(SERVICE_ACCOUNT_UID.into(), sa_uid);
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), ns);
        match api.replace(name, &PostParams::default(), &upd).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}
