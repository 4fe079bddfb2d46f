//! The `kubernetes` Service in `default`, its Endpoints and EndpointSlice (kube-apiserver's
//! `pkg/controlplane/controller/kubernetesservice` and the endpoint reconciler).

use crate::auth::UserInfo;
use crate::errors::Result;
use crate::ApiServer;
use kubox_core::client::{GroupVersionResource, Request, Verb};
use serde_json::{json, Value};
use std::net::IpAddr;

/// Name of the Service, Endpoints and EndpointSlice.
const NAME: &str = "kubernetes";
/// Namespace they live in.
const NAMESPACE: &str = "default";
/// The Service port (`https`).
pub(crate) const SERVICE_PORT: u16 = 443;

fn gvr(group: &str, resource: &str) -> GroupVersionResource {
    GroupVersionResource {
        group: group.into(),
        version: "v1".into(),
        resource: resource.into(),
    }
}

fn request(
    group: &str,
    resource: &str,
    name: Option<&str>,
    verb: Verb,
    body: Option<Value>,
) -> Request {
    Request {
        resource: gvr(group, resource),
        namespace: Some(NAMESPACE.into()),
        name: name.map(str::to_string),
        subresource: None,
        verb,
        body,
    }
}

impl ApiServer {
    /// Creates or reconciles the `kubernetes` Service in `default` (labels
    /// `provider=kubernetes`, `component=apiserver`; ClusterIP = the service CIDR's first usable
    /// address; port `https` 443/TCP → `target_port`; no selector; SingleStack) and its
    /// Endpoints and EndpointSlice pointing at `advertise:target_port`. Idempotent: an existing
    /// Service whose ports or type differ is updated; an Endpoints object keeps the addresses of
    /// other API servers with the same port and gains `advertise` (stale addresses are not
    /// removed: there is no lease-based reconciler yet).
    #[doc(alias = "CreateOrUpdateMasterServiceIfNeeded")]
    pub async fn ensure_kubernetes_service(
        &self,
        advertise: IpAddr,
        target_port: u16,
    ) -> Result<()> {
        let admin = UserInfo::admin();
        let ports = json!([{
            "name": "https",
            "protocol": "TCP",
            "port": SERVICE_PORT,
            "targetPort": target_port,
        }]);
        let first_ip = self.allocators().cidr.first_ip().to_string();
        let svc = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": {"provider": "kubernetes", "component": "apiserver"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": first_ip,
                "ports": ports,
                "sessionAffinity": "None",
                "ipFamilyPolicy": "SingleStack",
            },
        });
        let get = request("", "services", Some(NAME), Verb::Get, None);
        match self.handle(&admin, get).await {
            Ok(mut cur) => {
                let same = cur.pointer("/spec/ports") == Some(&ports)
                    && cur.pointer("/spec/type").and_then(Value::as_str) == Some("ClusterIP");
                if !same {
                    if let Some(Value::Object(spec)) = cur.get_mut("spec") {
                        spec.insert("ports".into(), ports.clone());
                        spec.insert("type".into(), json!("ClusterIP"));
                    }
                    let put = request(
                        "",
                        "services",
                        Some(NAME),
                        Verb::Replace(Default::default()),
                        Some(cur),
                    );
                    self.handle(&admin, put).await?;
                }
            }
            Err(e) if e.code() == 404 => {
                let post = request(
                    "",
                    "services",
                    None,
                    Verb::Create(Default::default()),
                    Some(svc),
                );
                match self.handle(&admin, post).await {
                    Ok(_) => {}
                    Err(e) if e.reason() == "AlreadyExists" => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        self.ensure_kubernetes_endpoints(&admin, advertise, target_port)
            .await
    }

    async fn ensure_kubernetes_endpoints(
        &self,
        admin: &UserInfo,
        advertise: IpAddr,
        port: u16,
    ) -> Result<()> {
        let ep_ports = json!([{"name": "https", "port": port, "protocol": "TCP"}]);
        let ip = advertise.to_string();
        // Endpoints: keep other servers' addresses on the same port.
        for _ in 0..16 {
            let get = request("", "endpoints", Some(NAME), Verb::Get, None);
            let (mut addrs, cur) = match self.handle(admin, get).await {
                Ok(cur) => {
                    let same_ports = cur.pointer("/subsets/0/ports") == Some(&ep_ports);
                    let addrs: Vec<String> = if same_ports {
                        cur.pointer("/subsets/0/addresses")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(|x| x.get("ip").and_then(Value::as_str))
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    (addrs, Some(cur))
                }
                Err(e) if e.code() == 404 => (Vec::new(), None),
                Err(e) => return Err(e),
            };
            let skip_mirror = cur
                .as_ref()
                .and_then(|c| {
                    c.pointer("/metadata/labels/endpointslice.kubernetes.io~1skip-mirror")
                })
                .is_some();
            if addrs.contains(&ip) && skip_mirror {
                break;
            }
            if !addrs.contains(&ip) {
                addrs.push(ip.clone());
            }
            addrs.sort();
            let subsets = json!([{
                "addresses": addrs.iter().map(|a| json!({"ip": a})).collect::<Vec<_>>(),
                "ports": ep_ports,
            }]);
            let mut body = json!({
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": NAME,
                    "namespace": NAMESPACE,
                    "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                },
                "subsets": subsets,
            });
            let req = match &cur {
                Some(c) => {
                    if let Some(rv) = c.pointer("/metadata/resourceVersion") {
                        body["metadata"]["resourceVersion"] = rv.clone();
                    }
                    request(
                        "",
                        "endpoints",
                        Some(NAME),
                        Verb::Replace(Default::default()),
                        Some(body),
                    )
                }
                None => request(
                    "",
                    "endpoints",
                    None,
                    Verb::Create(Default::default()),
                    Some(body),
                ),
            };
            match self.handle(admin, req).await {
                Ok(_) => break,
                Err(e) if matches!(e.reason(), "Conflict" | "AlreadyExists") => continue,
                Err(e) => return Err(e),
            }
        }
        // EndpointSlice: this server's address (kube-proxy reads slices).
        let family = if advertise.is_ipv4() { "IPv4" } else { "IPv6" };
        let slice = json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": NAME,
                "namespace": NAMESPACE,
                "labels": {"kubernetes.io/service-name": NAME},
            },
            "addressType": family,
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        });
        let get = request(
            "discovery.k8s.io",
            "endpointslices",
            Some(NAME),
            Verb::Get,
            None,
        );
        match self.handle(admin, get).await {
            Ok(cur) => {
                let same = cur.get("endpoints") == slice.get("endpoints")
                    && cur.get("ports") == slice.get("ports")
                    && cur.get("addressType") == slice.get("addressType");
                if !same {
                    let put = request(
                        "discovery.k8s.io",
                        "endpointslices",
                        Some(NAME),
                        Verb::Replace(Default::default()),
                        Some(slice),
                    );
                    self.handle(admin, put).await?;
                }
            }
            Err(e) if e.code() == 404 => {
                let post = request(
                    "discovery.k8s.io",
                    "endpointslices",
                    None,
                    Verb::Create(Default::default()),
                    Some(slice),
                );
                match self.handle(admin, post).await {
                    Ok(_) => {}
                    Err(e) if e.reason() == "AlreadyExists" => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Everything a fresh server does at start: the system namespaces, a [`repair`] of the
    /// service IP and node-port allocations, and the `kubernetes` Service pointing at
    /// `advertise:port`.
    ///
    /// [`repair`]: crate::alloc::repair
    pub async fn bootstrap(&self, advertise: IpAddr, port: u16) -> Result<()> {
        self.ensure_system_namespaces().await?;
        super::repair(self).await.map_err(crate::errors::internal)?;
        self.ensure_kubernetes_service(advertise, port).await
    }
}
