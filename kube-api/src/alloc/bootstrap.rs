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
    /// address; port `https` 443/TCP → `target_port`; no selector; SingleStack), then runs one
    /// pass of the lease endpoint reconciler
    /// ([`ApiServer::reconcile_kubernetes_endpoints`], default lease TTL 15 s): this server's
    /// master lease for `advertise` is refreshed and the Endpoints and EndpointSlice list every
    /// server whose lease is live. Idempotent: nothing is written when all is right. Servers
    /// that stay up run [`ApiServer::start_kubernetes_service_controller`] to keep their lease.
    #[doc(alias = "CreateOrUpdateMasterServiceIfNeeded")]
    pub async fn ensure_kubernetes_service(
        &self,
        advertise: IpAddr,
        target_port: u16,
    ) -> Result<()> {
        self.ensure_kubernetes_service_only(target_port).await?;
        self.reconcile_kubernetes_endpoints(
            advertise,
            target_port,
            super::EndpointReconcilerConfig::default().lease_ttl,
        )
        .await
    }

    /// The Service half of [`ApiServer::ensure_kubernetes_service`].
    pub(crate) async fn ensure_kubernetes_service_only(&self, target_port: u16) -> Result<()> {
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
