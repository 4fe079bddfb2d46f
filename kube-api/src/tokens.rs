//! Service-account tokens: the JWTs the server signs for the `serviceaccounts/token`
//! subresource (TokenRequest) and the [`ServiceAccountTokens`] authenticator that accepts them.
//!
//! - [`ServiceAccountKeys`]: the ES256 (ECDSA P-256) signing key, kept in a data directory as
//!   `sa.key` ([`ServiceAccountKeys::load_or_generate`]; kube-apiserver's
//!   `--service-account-signing-key-file`), with the issuer and the audiences the API accepts.
//! - [`ServiceAccountKeys::issue`] signs [`Claims`] shaped as Kubernetes' bound tokens
//!   (`pkg/serviceaccount/claims.go`): `iss`, `sub` = `system:serviceaccount:<ns>:<name>`,
//!   `aud`, `iat`, `nbf`, `exp` and `kubernetes.io: {namespace, serviceaccount{name,uid},
//!   pod{name,uid}?}`.
//! - `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token` with an
//!   `authentication.k8s.io/v1` `TokenRequest` (`spec.audiences`, `spec.expirationSeconds`,
//!   default 3600, at least 600) answers the request with `status.token` and
//!   `status.expirationTimestamp`; the [`crate::ApiServer`] does it when built with
//!   [`crate::Builder::service_account_keys`] (501 otherwise).
//! - [`ServiceAccountTokens`] (an [`Authenticator`]) verifies the signature, the issuer, an
//!   audience of the API, `nbf`/`exp` against the server's clock, and that the ServiceAccount
//!   still exists with the same uid; the user is `system:serviceaccount:<ns>:<name>` in
//!   `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.
//!
//! ```
//! use kube_api::tokens::{Claims, ServiceAccountKeys};
//!
//! let keys = ServiceAccountKeys::generate("https://kubernetes.default.svc").unwrap();
//! let claims = Claims::new(&keys, "default", "build-bot", "uid-1", None, &[], 0, 3600);
//! let token = keys.issue(&claims).unwrap();
//! assert_eq!(keys.verify(&token).unwrap(), claims);
//! let other = ServiceAccountKeys::generate("https://kubernetes.default.svc").unwrap();
//! assert!(other.verify(&token).is_none());
//! ```

use crate::auth::UserInfo;
use crate::clock::Clock;
use crate::errors::{self, FieldError, Result};
use crate::http::Authenticator;
use crate::server::{ApiServer, WeakApiServer};
use crate::tls;
use async_trait::async_trait;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kubox_core::client::{GroupVersionResource, Request, Verb};
use rcgen::KeyPair;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// The issuer kube-apiserver installers configure by default (`--service-account-issuer`),
/// also the default API audience.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The user-name prefix of service accounts (`serviceaccount.ServiceAccountUsernamePrefix`).
pub const USER_PREFIX: &str = "system:serviceaccount:";

/// The group of every service account (`serviceaccount.AllServiceAccountsGroup`).
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";

/// Default `spec.expirationSeconds` of a TokenRequest (1 hour).
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// Smallest `spec.expirationSeconds` a TokenRequest may ask for (10 minutes).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;

/// A name and uid (`kubernetes.io.serviceaccount`, `kubernetes.io.pod`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    /// Object name.
    pub name: String,
    /// Object uid.
    pub uid: String,
}

/// The private `kubernetes.io` claim of a bound token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    /// The service account's namespace.
    pub namespace: String,
    /// The service account.
    pub serviceaccount: Ref,
    /// The pod the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
}

/// The claims of a service-account token (`serviceaccount.privateClaims` plus the JWT ones).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: `system:serviceaccount:<ns>:<name>`.
    pub sub: String,
    /// Audiences.
    pub aud: Vec<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Namespace, service account and bound object.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

impl Claims {
    /// The claims of a token for service account `namespace/name` (uid `uid`), optionally
    /// bound to `pod`, for `audiences` (empty: the API's audiences), issued at `now` (Unix
    /// seconds) and valid for `expiration_seconds`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        keys: &ServiceAccountKeys,
        namespace: &str,
        name: &str,
        uid: &str,
        pod: Option<Ref>,
        audiences: &[String],
        now: i64,
        expiration_seconds: i64,
    ) -> Self {
        let aud = if audiences.is_empty() {
            keys.audiences.clone()
        } else {
            audiences.to_vec()
        };
        Claims {
            iss: keys.issuer.clone(),
            sub: format!("{USER_PREFIX}{namespace}:{name}"),
            aud,
            iat: now,
            nbf: now,
            exp: now + expiration_seconds,
            kubernetes: KubernetesClaims {
                namespace: namespace.to_string(),
                serviceaccount: Ref {
                    name: name.to_string(),
                    uid: uid.to_string(),
                },
                pod,
            },
        }
    }

    /// The user these claims authenticate (without checking that the account exists).
    pub fn user(&self) -> UserInfo {
        let ns = &self.kubernetes.namespace;
        let mut u = UserInfo::new(
            format!("{USER_PREFIX}{ns}:{}", self.kubernetes.serviceaccount.name),
            &[ALL_SERVICE_ACCOUNTS_GROUP],
        );
        u.groups.push(format!("{ALL_SERVICE_ACCOUNTS_GROUP}:{ns}"));
        u.groups.push("system:authenticated".into());
        u.uid = self.kubernetes.serviceaccount.uid.clone();
        if let Some(pod) = &self.kubernetes.pod {
            u.extra.insert(
                "authentication.kubernetes.io/pod-name".into(),
                vec![pod.name.clone()],
            );
            u.extra.insert(
                "authentication.kubernetes.io/pod-uid".into(),
                vec![pod.uid.clone()],
            );
        }
        u
    }
}

/// The service-account signing key, the issuer and the audiences the API accepts.
#[derive(Clone)]
pub struct ServiceAccountKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The `iss` of issued tokens, and the only one accepted.
    pub issuer: String,
    /// The API's audiences (`--api-audiences`, default: the issuer): a token must name one of
    /// them to authenticate; a TokenRequest without audiences gets them.
    pub audiences: Vec<String>,
}

impl std::fmt::Debug for ServiceAccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKeys")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKeys {
    /// Keys from a PKCS#8 PEM ECDSA P-256 private key (what [`Self::load_or_generate`]
    /// writes).
    pub fn from_pem(key_pem: &str, issuer: &str) -> tls::Result<Self> {
        let key = KeyPair::from_pem(key_pem)?;
        Ok(Self::from_key_pair(&key, issuer))
    }

    fn from_key_pair(key: &KeyPair, issuer: &str) -> Self {
        ServiceAccountKeys {
            encoding: EncodingKey::from_ec_der(&key.serialize_der()),
            decoding: DecodingKey::from_ec_der(key.public_key_raw()),
            issuer: issuer.to_string(),
            audiences: vec![issuer.to_string()],
        }
    }

    /// Fresh keys (not saved anywhere).
    pub fn generate(issuer: &str) -> tls::Result<Self> {
        Ok(Self::from_key_pair(&KeyPair::generate()?, issuer))
    }

    /// Loads `dir/sa.key`, generating it (and `dir`) when missing: tokens stay valid across
    /// restarts with the same data directory.
    pub fn load_or_generate(dir: &Path, issuer: &str) -> tls::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| tls::Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("sa.key");
        match tls::read(&path)? {
            Some(pem) => Self::from_pem(&pem, issuer),
            None => {
                let key = KeyPair::generate()?;
                tls::write(&path, &key.serialize_pem(), true)?;
                Ok(Self::from_key_pair(&key, issuer))
            }
        }
    }

    /// Signs `claims` (ES256).
    pub fn issue(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &self.encoding)
            .map_err(|e| errors::internal(format!("signing a service-account token: {e}")))
    }

    /// The claims of `token` if this key signed it and its issuer is ours; neither the
    /// audience nor the validity window is checked here (see [`ServiceAccountTokens`]).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::ES256);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        v.set_issuer(&[&self.issuer]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// The user `token` authenticates at `now` (Unix seconds), if it is ours, for one of the
    /// API's audiences and not expired (60 s of leeway, as kube-apiserver) — without the
    /// existence check of [`ServiceAccountTokens`].
    pub fn validate(&self, token: &str, now: i64) -> Option<Claims> {
        self.validate_for(token, now, &self.audiences)
    }

    /// [`ServiceAccountKeys::validate`] for other `audiences` than the API's (a TokenReview
    /// asking for `vault`): the token must name one of them.
    pub fn validate_for(&self, token: &str, now: i64, audiences: &[String]) -> Option<Claims> {
        const LEEWAY: i64 = 60;
        let c = self.verify(token)?;
        let for_us = c.aud.iter().any(|a| audiences.contains(a));
        let fresh = c.nbf <= now + LEEWAY && now < c.exp + LEEWAY;
        let shaped = c.sub
            == format!(
                "{USER_PREFIX}{}:{}",
                c.kubernetes.namespace, c.kubernetes.serviceaccount.name
            );
        (for_us && fresh && shaped).then_some(c)
    }
}

/// The answer to `POST .../serviceaccounts/{name}/token` for the ServiceAccount `sa`: the
/// TokenRequest `body` with `status.token` and `status.expirationTimestamp`.
pub(crate) fn token_request(
    keys: &ServiceAccountKeys,
    sa: &Value,
    body: &Value,
    now: jiff::Timestamp,
) -> Result<Value> {
    let name = sa["metadata"]["name"].as_str().unwrap_or("");
    let ns = sa["metadata"]["namespace"].as_str().unwrap_or("");
    let uid = sa["metadata"]["uid"].as_str().unwrap_or("");
    if !body.is_object() {
        return Err(errors::bad_request(
            "the request body must be a TokenRequest object",
        ));
    }
    let spec = &body["spec"];
    let invalid = |field: &str, value: &str, detail: &str| {
        errors::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            &[FieldError::invalid(field, value, detail)],
        )
    };
    let expiration = match &spec["expirationSeconds"] {
        Value::Null => DEFAULT_EXPIRATION_SECONDS,
        v => v.as_i64().ok_or_else(|| {
            invalid(
                "spec.expirationSeconds",
                &v.to_string(),
                "must be an integer",
            )
        })?,
    };
    if expiration < MIN_EXPIRATION_SECONDS {
        return Err(invalid(
            "spec.expirationSeconds",
            &expiration.to_string(),
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > 1 << 32 {
        return Err(invalid(
            "spec.expirationSeconds",
            &expiration.to_string(),
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let audiences = crate::object::strings(spec.get("audiences"));
    let bound = &spec["boundObjectRef"];
    let pod = match bound["kind"].as_str() {
        None => None,
        Some("Pod") => Some(Ref {
            name: bound["name"].as_str().unwrap_or("").to_string(),
            uid: bound["uid"].as_str().unwrap_or("").to_string(),
        }),
        Some(other) => {
            return Err(invalid(
                "spec.boundObjectRef.kind",
                &format!("{other:?}"),
                "supported values: \"Pod\"",
            ))
        }
    };
    let claims = Claims::new(
        keys,
        ns,
        name,
        uid,
        pod,
        &audiences,
        now.as_second(),
        expiration,
    );
    let token = keys.issue(&claims)?;
    let expires = jiff::Timestamp::from_second(claims.exp).map_err(errors::internal)?;
    let mut out_spec = spec.as_object().cloned().unwrap_or_default();
    out_spec.insert("audiences".into(), json!(claims.aud));
    out_spec.insert("expirationSeconds".into(), json!(expiration));
    out_spec.entry("boundObjectRef").or_insert(Value::Null);
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
        "spec": out_spec,
        "status": {
            "token": token,
            "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
    }))
}

/// The service-account token authenticator (kube-apiserver's `serviceaccount.JWTTokenAuthenticator`).
///
/// # Contract
///
/// A token authenticates when [`ServiceAccountKeys::validate`] accepts it at the server's
/// current time and the ServiceAccount it names still exists with the uid in the token (a
/// deleted and re-created account does not revive old tokens). Tokens that are not JWTs, or
/// are signed by another key, are left to the next authenticator (`None`).
#[derive(Clone)]
pub struct ServiceAccountTokens {
    keys: Arc<ServiceAccountKeys>,
    /// Weak: the server holds this authenticator (TokenReview), which must not keep it alive.
    server: WeakApiServer,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountTokens {
    /// Verifies tokens signed with `keys`, looking ServiceAccounts up through `server` (and
    /// reading the time from its clock).
    pub fn new(keys: Arc<ServiceAccountKeys>, server: ApiServer) -> Self {
        let clock = server.clock().clone();
        ServiceAccountTokens {
            keys,
            server: server.downgrade(),
            clock,
        }
    }
}

#[async_trait]
impl Authenticator for ServiceAccountTokens {
    async fn authenticate(&self, token: &str) -> Option<UserInfo> {
        self.authenticate_for(token, &[]).await.map(|(u, _)| u)
    }

    /// Audience-aware: the token must name one of `audiences` (empty: the API's), and is
    /// reported valid for those it names.
    async fn authenticate_for(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Option<(UserInfo, Option<Vec<String>>)> {
        let wanted = if audiences.is_empty() {
            &self.keys.audiences[..]
        } else {
            audiences
        };
        let claims = self
            .keys
            .validate_for(token, self.clock.now().as_second(), wanted)?;
        let k = &claims.kubernetes;
        let req = Request {
            resource: GroupVersionResource {
                group: String::new(),
                version: "v1".into(),
                resource: "serviceaccounts".into(),
            },
            namespace: Some(k.namespace.clone()),
            name: Some(k.serviceaccount.name.clone()),
            subresource: None,
            verb: Verb::Get,
            body: None,
        };
        // A server that is gone authenticates nobody.
        let server = self.server.upgrade()?;
        let sa = server.handle(&UserInfo::admin(), req).await.ok()?;
        let uid = sa["metadata"]["uid"].as_str().unwrap_or("");
        if uid != k.serviceaccount.uid {
            tracing::debug!(sub = %claims.sub, "service-account token for a re-created account");
            return None;
        }
        let valid_for: Vec<String> = wanted
            .iter()
            .filter(|a| claims.aud.contains(a))
            .cloned()
            .collect();
        Some((claims.user(), Some(valid_for)))
    }
}
