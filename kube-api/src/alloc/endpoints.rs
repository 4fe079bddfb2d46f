//! The lease endpoint reconciler of the `kubernetes` Service (kube-apiserver's
//! `pkg/controlplane/reconcilers/lease.go`, `--endpoint-reconciler-type=lease`) and the API
//! server identity Lease (`APIServerIdentity`).
//!
//! - **Master leases.** Every server refreshes a key `/registry/masterleases/<ip>` (an
//!   `Endpoints` object holding its address) on every pass; in kube-apiserver the key carries an
//!   etcd TTL of [`EndpointReconcilerConfig::lease_ttl`] (15 s). The [`Store`] has no TTLs, so
//!   the expiry time is written into the object (annotation [`LEASE_EXPIRES_ANNOTATION`],
//!   read with the server's [`Clock`](crate::clock::Clock)); an expired key is treated as
//!   gone and deleted by compare-and-swap, as etcd would drop it.
//! - **Reconcile** (`doReconcile`): the live master IPs (refusing to write an empty list),
//!   `default/kubernetes` Endpoints with one subset holding exactly those addresses
//!   (lexicographic order) and the ports `https` → the secure port, labelled
//!   `endpointslice.kubernetes.io/skip-mirror=true`; then the EndpointSlice `kubernetes`
//!   mirrors it (`EnsureEndpointSliceFromEndpoints`). Nothing is written when all is right.
//! - **Identity.** Each server also holds a `coordination.k8s.io/v1` Lease in `kube-system`
//!   named `apiserver-<first 26 hex digits of sha256(hostname)>` with labels
//!   `apiserver.kubernetes.io/identity=kube-apiserver` and `kubernetes.io/hostname`, holder
//!   `<name>_<uuid>`, `leaseDurationSeconds` 3600, renewed on every pass; expired identity
//!   Leases (servers gone for an hour) are garbage collected.
//! - [`ApiServer::start_kubernetes_service_controller`] runs the pass every
//!   [`EndpointReconcilerConfig::interval`] (10 s); [`ApiServer::remove_kubernetes_endpoints`]
//!   is the shutdown half (drop the lease, reconcile without this server).

use crate::auth::UserInfo;
use crate::errors::{self, Result};
use crate::ApiServer;
use kube_store::Store;
use kubox_core::client::{GroupVersionResource, Request, Verb};
use serde_json::{json, Value};
use sha2::Digest;
use std::net::IpAddr;
use std::time::Duration;

/// Where master leases live (`/registry/masterleases/<ip>`).
pub const MASTER_LEASES_PREFIX: &str = "/registry/masterleases/";
/// The annotation holding a master lease's expiry time (RFC 3339), standing in for etcd's TTL.
pub const LEASE_EXPIRES_ANNOTATION: &str = "kubox.dev/lease-expires-at";
/// The label of API server identity Leases.
pub const IDENTITY_LABEL: &str = "apiserver.kubernetes.io/identity";
/// `skip-mirror`: the EndpointSlice mirroring controller leaves these Endpoints alone.
const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
const NAME: &str = "kubernetes";
const NAMESPACE: &str = "default";

/// How the `kubernetes` Service controller runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointReconcilerConfig {
    /// How often the Service and the Endpoints are reconciled (`--endpoint-reconciler`
    /// interval, 10 s).
    pub interval: Duration,
    /// How long a master lease lives without a refresh (`DefaultEndpointReconcilerTTL`, 15 s).
    pub lease_ttl: Duration,
    /// The host name the identity Lease is named after (default: this machine's).
    pub hostname: String,
    /// How long an identity Lease is valid (`leaseDurationSeconds`, 3600 s).
    pub identity_lease_duration: Duration,
}

impl Default for EndpointReconcilerConfig {
    fn default() -> Self {
        EndpointReconcilerConfig {
            interval: Duration::from_secs(10),
            lease_ttl: Duration::from_secs(15),
            hostname: hostname(),
            identity_lease_duration: Duration::from_secs(3600),
        }
    }
}

/// This machine's host name (`/proc/sys/kernel/hostname`, `$HOSTNAME`, else `localhost`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The identity Lease name of `hostname`: `apiserver-` and the first 26 hex digits of its
/// SHA-256.
pub fn identity_lease_name(hostname: &str) -> String {
    let digest = sha2::Sha256::digest(hostname.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("apiserver-{}", &hex[..26])
}

fn request(group: &str, resource: &str, ns: &str, name: Option<&str>, verb: Verb) -> Request {
    Request {
        resource: GroupVersionResource {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
        },
        namespace: Some(ns.into()),
        name: name.map(str::to_string),
        subresource: None,
        verb,
        body: None,
    }
}

fn with_body(mut r: Request, body: Value) -> Request {
    r.body = Some(body);
    r
}

fn store_error(e: kube_store::Error) -> errors::Error {
    errors::internal(format!("master leases: {e}"))
}

/// The endpoint ports of the `kubernetes` Endpoints.
fn endpoint_ports(port: u16) -> Value {
    json!([{"name": "https", "port": port, "protocol": "TCP"}])
}

impl ApiServer {
    fn now_plus(&self, d: Duration) -> jiff::Timestamp {
        let now = self.clock().now();
        jiff::SignedDuration::try_from(d)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .unwrap_or(now)
    }

    /// `UpdateLease`: (re)writes this server's master lease with a fresh expiry.
    async fn update_master_lease(&self, ip: &str, ttl: Duration) -> Result<()> {
        let key = format!("{MASTER_LEASES_PREFIX}{ip}");
        let store = self.store();
        for _ in 0..16 {
            let cur = store.get(&key).await.map_err(store_error)?;
            let generation = cur
                .as_ref()
                .and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
                .and_then(|v| v.pointer("/metadata/generation").and_then(Value::as_i64))
                .unwrap_or(0)
                + 1;
            let body = json!({
                "kind": "Endpoints",
                "apiVersion": "v1",
                "metadata": {
                    "name": ip,
                    "generation": generation,
                    "annotations": {LEASE_EXPIRES_ANNOTATION: self.now_plus(ttl).to_string()},
                },
                "subsets": [{"addresses": [{"ip": ip}]}],
            });
            let bytes = bytes::Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
            let res = match &cur {
                Some(kv) => store.update(&key, bytes, Some(kv.mod_revision)).await,
                None => store.create(&key, bytes).await,
            };
            match res {
                Ok(_) => return Ok(()),
                Err(
                    kube_store::Error::Conflict { .. } | kube_store::Error::AlreadyExists { .. },
                ) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(errors::internal("master leases: too much contention"))
    }

    /// `ListLeases`: the IPs of the live master leases, in key (lexicographic) order; expired
    /// ones are deleted (by compare-and-swap, so a concurrent refresh wins).
    pub(crate) async fn live_master_ips(&self) -> Result<Vec<String>> {
        let store = self.store();
        let list = store
            .list(MASTER_LEASES_PREFIX, Default::default())
            .await
            .map_err(store_error)?;
        let now = self.clock().now();
        let mut ips = Vec::new();
        for kv in list.kvs {
            let Ok(v) = serde_json::from_slice::<Value>(&kv.value) else {
                continue;
            };
            let expires = v
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(LEASE_EXPIRES_ANNOTATION))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<jiff::Timestamp>().ok());
            if expires.is_some_and(|t| t <= now) {
                let _ = store.delete(&kv.key, Some(kv.mod_revision)).await;
                continue;
            }
            if let Some(ip) = v
                .pointer("/subsets/0/addresses/0/ip")
                .and_then(Value::as_str)
                .filter(|ip| !ip.is_empty())
            {
                ips.push(ip.to_string());
            }
        }
        Ok(ips)
    }

    /// One pass of the lease endpoint reconciler (`ReconcileEndpoints`): refreshes this
    /// server's master lease (`advertise`, TTL `ttl`), then makes `default/kubernetes`
    /// Endpoints list exactly the live servers with port `https` → `port`, and mirrors it into
    /// the EndpointSlice `kubernetes`.
    #[doc(alias = "ReconcileEndpoints")]
    pub async fn reconcile_kubernetes_endpoints(
        &self,
        advertise: IpAddr,
        port: u16,
        ttl: Duration,
    ) -> Result<()> {
        self.update_master_lease(&advertise.to_string(), ttl)
            .await?;
        self.reconcile_endpoints_from_leases(port).await
    }

    /// The shutdown half (`RemoveEndpoints`): drops this server's master lease and reconciles
    /// the Endpoints without it (other live servers keep theirs).
    #[doc(alias = "RemoveEndpoints")]
    pub async fn remove_kubernetes_endpoints(&self, advertise: IpAddr, port: u16) -> Result<()> {
        let key = format!("{MASTER_LEASES_PREFIX}{advertise}");
        match self.store().delete(&key, None).await {
            Ok(_) | Err(kube_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
        self.reconcile_endpoints_from_leases(port).await
    }

    /// `doReconcile`.
    async fn reconcile_endpoints_from_leases(&self, port: u16) -> Result<()> {
        let admin = UserInfo::admin();
        let ports = endpoint_ports(port);
        for _ in 0..16 {
            let get = request("", "endpoints", NAMESPACE, Some(NAME), Verb::Get);
            let current = match self.handle(&admin, get).await {
                Ok(v) => Some(v),
                Err(e) if e.code() == 404 => None,
                Err(e) => return Err(e),
            };
            let ips = self.live_master_ips().await?;
            if ips.is_empty() {
                return Err(errors::internal(
                    "no API server IPs were listed in storage, refusing to erase all endpoints \
                     for the kubernetes service",
                ));
            }
            let mut e = current.clone().unwrap_or_else(|| {
                json!({"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": NAME, "namespace": NAMESPACE}})
            });
            let skip_mirror_changed = e
                .pointer(&format!(
                    "/metadata/labels/{}",
                    SKIP_MIRROR.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                != Some("true");
            if skip_mirror_changed {
                let meta = &mut e["metadata"];
                if !meta["labels"].is_object() {
                    meta["labels"] = json!({});
                }
                meta["labels"][SKIP_MIRROR] = json!("true");
            }
            let subsets = e
                .get("subsets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let format_ok = subsets.len() == 1;
            let (ips_ok, ports_ok) = if format_ok {
                let sub = &subsets[0];
                let have: Vec<&str> = sub
                    .get("addresses")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.get("ip").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut sorted_have = have.clone();
                sorted_have.sort_unstable();
                sorted_have.dedup();
                let mut want: Vec<&str> = ips.iter().map(String::as_str).collect();
                want.sort_unstable();
                (
                    have.len() == want.len() && sorted_have == want,
                    sub.get("ports") == Some(&ports),
                )
            } else {
                (false, false)
            };
            if !skip_mirror_changed && format_ok && ips_ok && ports_ok {
                return self.ensure_kubernetes_slice(&admin, &e).await;
            }
            if !format_ok || !ips_ok || !ports_ok {
                let mut sorted = ips.clone();
                sorted.sort();
                let addresses: Vec<Value> = sorted.iter().map(|ip| json!({"ip": ip})).collect();
                e["subsets"] = json!([{"addresses": addresses, "ports": ports}]);
            }
            tracing::info!(ips = ?ips, "resetting endpoints for the kubernetes service");
            let res = match current {
                None => {
                    let post = request(
                        "",
                        "endpoints",
                        NAMESPACE,
                        None,
                        Verb::Create(Default::default()),
                    );
                    match self.handle(&admin, with_body(post, e.clone())).await {
                        Err(err) if err.reason() == "AlreadyExists" => continue,
                        other => other,
                    }
                }
                Some(_) => {
                    let put = request(
                        "",
                        "endpoints",
                        NAMESPACE,
                        Some(NAME),
                        Verb::Replace(Default::default()),
                    );
                    match self.handle(&admin, with_body(put, e.clone())).await {
                        Err(err) if err.reason() == "Conflict" => continue,
                        other => other,
                    }
                }
            };
            let written = res?;
            return self.ensure_kubernetes_slice(&admin, &written).await;
        }
        Err(errors::internal(
            "the kubernetes endpoints kept changing while being reconciled",
        ))
    }

    /// `EnsureEndpointSliceFromEndpoints`: the EndpointSlice `kubernetes` holding the
    /// Endpoints' addresses (ready) and ports.
    async fn ensure_kubernetes_slice(&self, admin: &UserInfo, ep: &Value) -> Result<()> {
        let sub = ep.pointer("/subsets/0").cloned().unwrap_or(Value::Null);
        let ips: Vec<&str> = sub
            .get("addresses")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("ip").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let family = match ips.first().and_then(|ip| ip.parse::<IpAddr>().ok()) {
            Some(IpAddr::V6(_)) => "IPv6",
            _ => "IPv4",
        };
        let endpoints: Vec<Value> = ips
            .iter()
            .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
            .collect();
        let ports = sub.get("ports").cloned().unwrap_or_else(|| json!([]));
        let slice = json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": {"kubernetes.io/service-name": NAME},
            },
            "addressType": family,
            "endpoints": endpoints,
            "ports": ports,
        });
        for _ in 0..16 {
            let get = request(
                "discovery.k8s.io",
                "endpointslices",
                NAMESPACE,
                Some(NAME),
                Verb::Get,
            );
            let res = match self.handle(admin, get).await {
                Ok(cur) => {
                    let same = cur.get("endpoints") == slice.get("endpoints")
                        && cur.get("ports") == slice.get("ports")
                        && cur.get("addressType") == slice.get("addressType")
                        && cur.pointer("/metadata/labels/kubernetes.io~1service-name")
                            == Some(&json!(NAME));
                    if same {
                        return Ok(());
                    }
                    let mut body = slice.clone();
                    body["metadata"]["resourceVersion"] = cur
                        .pointer("/metadata/resourceVersion")
                        .cloned()
                        .unwrap_or(Value::Null);
                    let put = request(
                        "discovery.k8s.io",
                        "endpointslices",
                        NAMESPACE,
                        Some(NAME),
                        Verb::Replace(Default::default()),
                    );
                    self.handle(admin, with_body(put, body)).await
                }
                Err(e) if e.code() == 404 => {
                    let post = request(
                        "discovery.k8s.io",
                        "endpointslices",
                        NAMESPACE,
                        None,
                        Verb::Create(Default::default()),
                    );
                    self.handle(admin, with_body(post, slice.clone())).await
                }
                Err(e) => return Err(e),
            };
            match res {
                Ok(_) => return Ok(()),
                Err(e) if matches!(e.reason(), "Conflict" | "AlreadyExists") => continue,
                Err(e) => return Err(e),
            }
        }
        Err(errors::internal(
            "the kubernetes endpoint slice kept changing while being reconciled",
        ))
    }

    /// Creates or renews this server's identity Lease in `kube-system`
    /// (`apiserver-<hash of hostname>`, holder `<name>_<holder_id>`) and deletes expired
    /// identity Leases of other servers.
    pub async fn renew_identity_lease(
        &self,
        hostname: &str,
        holder_id: &str,
        duration: Duration,
    ) -> Result<()> {
        let admin = UserInfo::admin();
        let name = identity_lease_name(hostname);
        let now = self.clock().now();
        let renew = kubox_core::MicroTime(now).to_string();
        let secs = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
        let leases = |name: Option<&str>, verb: Verb| {
            request("coordination.k8s.io", "leases", "kube-system", name, verb)
        };
        let get = leases(Some(&name), Verb::Get);
        let holder = format!("{name}_{holder_id}");
        match self.handle(&admin, get).await {
            Ok(mut cur) => {
                cur["spec"]["holderIdentity"] = json!(holder);
                cur["spec"]["leaseDurationSeconds"] = json!(secs);
                cur["spec"]["renewTime"] = json!(renew);
                let put = leases(Some(&name), Verb::Replace(Default::default()));
                match self.handle(&admin, with_body(put, cur)).await {
                    Ok(_) => {}
                    // Another writer (a restarted twin) renewed it; the next pass wins.
                    Err(e) if e.reason() == "Conflict" => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.code() == 404 => {
                let lease = json!({
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": name,
                        "namespace": "kube-system",
                        "labels": {IDENTITY_LABEL: "kube-apiserver", "kubernetes.io/hostname": hostname},
                    },
                    "spec": {
                        "holderIdentity": holder,
                        "leaseDurationSeconds": secs,
                        "acquireTime": renew,
                        "renewTime": renew,
                    },
                });
                let post = leases(None, Verb::Create(Default::default()));
                match self.handle(&admin, with_body(post, lease)).await {
                    Ok(_) => {}
                    Err(e) if e.reason() == "AlreadyExists" => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        // Garbage-collect expired identity leases (kube-apiserver's identity lease GC).
        let list = leases(
            None,
            Verb::List(kubox_core::client::ListParams {
                label_selector: Some(format!("{IDENTITY_LABEL}=kube-apiserver")),
                ..Default::default()
            }),
        );
        let items = self.handle(&admin, list).await?;
        for l in items["items"].as_array().into_iter().flatten() {
            let Some(lname) = l.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            if lname == name {
                continue;
            }
            let renewed = l
                .pointer("/spec/renewTime")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            let dur = l
                .pointer("/spec/leaseDurationSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let stale = renewed.is_some_and(|r| {
                r.checked_add(jiff::SignedDuration::from_secs(dur))
                    .is_ok_and(|t| t < now)
            });
            if stale {
                let del = leases(Some(lname), Verb::Delete(Default::default()));
                match self.handle(&admin, del).await {
                    Ok(_) => {}
                    Err(e) if e.code() == 404 => {}
                    Err(e) => tracing::debug!(error = %e, lease = lname, "identity lease GC"),
                }
            }
        }
        Ok(())
    }

    /// Starts kube-apiserver's `kubernetes` Service controller on the current tokio runtime:
    /// every `config.interval` (first pass at once) it ensures the `kubernetes` Service
    /// ([`ApiServer::ensure_kubernetes_service`]), renews this server's master lease and
    /// identity Lease, and reconciles the Endpoints and EndpointSlice from the live leases.
    /// Errors are logged and retried on the next pass. Dropping the handle stops it; call
    /// [`ApiServer::remove_kubernetes_endpoints`] first for a clean shutdown.
    pub fn start_kubernetes_service_controller(
        &self,
        advertise: IpAddr,
        port: u16,
        config: EndpointReconcilerConfig,
    ) -> crate::BackgroundTasks {
        let server = self.clone();
        let holder = crate::rest::new_uid();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(config.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = server.ensure_kubernetes_service_only(port).await {
                    tracing::warn!(error = %e, "the kubernetes service");
                }
                if let Err(e) = server
                    .reconcile_kubernetes_endpoints(advertise, port, config.lease_ttl)
                    .await
                {
                    tracing::warn!(error = %e, "the kubernetes endpoints");
                }
                if let Err(e) = server
                    .renew_identity_lease(&config.hostname, &holder, config.identity_lease_duration)
                    .await
                {
                    tracing::warn!(error = %e, "the API server identity lease");
                }
            }
        });
        crate::BackgroundTasks::from_tasks(vec![task])
    }
}

/// The master-lease store keys (for tests and tools): `(ip, expiry)` of every lease, expired
/// or not.
pub async fn master_leases(store: &dyn Store) -> Result<Vec<(String, Option<jiff::Timestamp>)>> {
    let list = store
        .list(MASTER_LEASES_PREFIX, Default::default())
        .await
        .map_err(store_error)?;
    Ok(list
        .kvs
        .iter()
        .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
        .map(|v| {
            let ip = v
                .pointer("/subsets/0/addresses/0/ip")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let exp = v
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(LEASE_EXPIRES_ANNOTATION))
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok());
            (ip, exp)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_names_hash_the_hostname() {
        let a = identity_lease_name("master-1");
        assert!(a.starts_with("apiserver-"));
        assert_eq!(a.len(), "apiserver-".len() + 26);
        assert!(a["apiserver-".len()..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a, identity_lease_name("master-1"));
        assert_ne!(a, identity_lease_name("master-2"));
    }
}
