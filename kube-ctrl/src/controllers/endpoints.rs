//! The Endpoints and EndpointSlice controllers (`pkg/controller/endpoint`,
//! `pkg/controller/endpointslice`): for every Service with a selector, the addresses of its
//! pods, their readiness and the resolved (possibly named) target ports.
//!
//! - Endpoints: ready pods (all pods with `publishNotReadyAddresses`) in `addresses`, the
//!   rest in `notReadyAddresses`, grouped into subsets by port set; Succeeded/Failed pods, pods
//!   without an IP and (unless `publishNotReadyAddresses`) terminating pods are left out.
//! - EndpointSlices (`discovery.k8s.io/v1`): labelled `kubernetes.io/service-name` and
//!   `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`, owned by the
//!   Service, at most 100 endpoints each, grouped by address type and port set; each endpoint
//!   carries `ready` / `serving` / `terminating`. Existing slices are updated in place.
//! - Nothing is written when nothing changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kubox_core::api::core_v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use kubox_core::api::discovery_v1::{self, Endpoint, EndpointConditions, EndpointSlice};
use kubox_core::client::{Api, DeleteParams, PostParams};
use kubox_core::meta::ObjectMeta;
use kubox_core::runtime::{Change, Informer, ObjectKey};
use kubox_core::selector::Selector;
use kubox_core::IntOrString;
use tokio::task::JoinHandle;

use super::replicaset::{is_pod_ready, owner_reference};
use crate::runtime::{
    enqueue_on, key_of, split_key, Action, Context, Controller, Result, WorkQueue,
};

/// Label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming a slice's manager.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// Default `--max-endpoints-per-slice`.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// Resolves a Service port's `targetPort` for `pod` (`podutil.FindPort`): a number as is
/// (default: the Service port), a name through the pod's container ports with the same
/// protocol. `None` when a named port is not found.
pub fn find_port(pod: &Pod, sp: &ServicePort) -> Option<i32> {
    let proto = sp.protocol.as_deref().unwrap_or("TCP");
    match &sp.target_port {
        None => Some(sp.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            pod.spec.as_ref()?.containers.iter().find_map(|c| {
                c.ports.as_ref()?.iter().find_map(|p| {
                    (p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == proto)
                        .then_some(p.container_port)
                })
            })
        }
    }
}

fn pod_ref(p: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: p.metadata.namespace.clone(),
        name: p.metadata.name.clone(),
        uid: p.metadata.uid.clone(),
        ..Default::default()
    }
}

fn pod_ip(p: &Pod) -> Option<&str> {
    p.status
        .as_ref()?
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
}

/// `ShouldPodBeInEndpoints`.
pub fn should_be_in_endpoints(p: &Pod, include_terminating: bool) -> bool {
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    if phase == Some("Succeeded") || phase == Some("Failed") || pod_ip(p).is_none() {
        return false;
    }
    include_terminating || p.metadata.deletion_timestamp.is_none()
}

/// The Endpoints subsets of `svc` over `pods`.
pub fn desired_subsets(svc: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.unwrap_or_default();
    // Port set → (ready, not ready).
    type Group = (Vec<EndpointAddress>, Vec<EndpointAddress>);
    let mut groups: BTreeMap<Vec<(String, i32, String)>, Group> = BTreeMap::new();
    for p in pods {
        if !should_be_in_endpoints(p, publish) {
            continue;
        }
        let mut eps: Vec<(String, i32, String)> = Vec::new();
        for sp in &ports {
            if let Some(port) = find_port(p, sp) {
                eps.push((
                    sp.name.clone().unwrap_or_default(),
                    port,
                    sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ));
            }
        }
        if eps.is_empty() && !ports.is_empty() {
            continue;
        }
        eps.sort();
        let addr = EndpointAddress {
            ip: pod_ip(p).unwrap_or_default().to_string(),
            node_name: p.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(pod_ref(p)),
            hostname: None,
        };
        let g = groups.entry(eps).or_default();
        if publish || is_pod_ready(p) {
            g.0.push(addr);
        } else {
            g.1.push(addr);
        }
    }
    groups
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| {
                    ports
                        .into_iter()
                        .map(|(name, port, protocol)| EndpointPort {
                            name: (!name.is_empty()).then_some(name),
                            port,
                            protocol: Some(protocol),
                            app_protocol: None,
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// The desired slices' contents: `(addressType, ports, endpoints)` groups, before chunking.
pub fn desired_slice_groups(
    svc: &Service,
    pods: &[Arc<Pod>],
) -> Vec<(String, Vec<discovery_v1::EndpointPort>, Vec<Endpoint>)> {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.unwrap_or_default();
    type Key = (String, Vec<(String, i32, String)>);
    let mut groups: BTreeMap<Key, Vec<Endpoint>> = BTreeMap::new();
    for p in pods {
        // Slices include terminating pods.
        if !should_be_in_endpoints(p, true) {
            continue;
        }
        let mut eps: Vec<(String, i32, String)> = ports
            .iter()
            .filter_map(|sp| {
                find_port(p, sp).map(|port| {
                    (
                        sp.name.clone().unwrap_or_default(),
                        port,
                        sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    )
                })
            })
            .collect();
        eps.sort();
        let ip = pod_ip(p).unwrap_or_default().to_string();
        let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
        let serving = is_pod_ready(p);
        let terminating = p.metadata.deletion_timestamp.is_some();
        groups
            .entry((family.to_string(), eps))
            .or_default()
            .push(Endpoint {
                addresses: vec![ip],
                conditions: Some(EndpointConditions {
                    ready: Some(publish || (serving && !terminating)),
                    serving: Some(serving),
                    terminating: Some(terminating),
                }),
                node_name: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                target_ref: Some(pod_ref(p)),
                ..Default::default()
            });
    }
    groups
        .into_iter()
        .map(|((family, ports), mut eps)| {
            eps.sort_by(|a, b| a.addresses.cmp(&b.addresses));
            let ports = ports
                .into_iter()
                .map(|(name, port, protocol)| discovery_v1::EndpointPort {
                    name: Some(name),
                    port: Some(port),
                    protocol: Some(protocol),
                    app_protocol: None,
                })
                .collect();
            (family, ports, eps)
        })
        .collect()
}

/// The Endpoints and EndpointSlice controller (one controller, both outputs).
pub struct EndpointsController {
    ctx: Context,
    services: Informer<Service>,
    pods: Informer<Pod>,
    endpoints: Informer<Endpoints>,
    slices: Informer<EndpointSlice>,
}

impl EndpointsController {
    /// The controller over `ctx`'s shared informers.
    pub fn new(ctx: &Context) -> Self {
        EndpointsController {
            services: ctx.informers.get::<Service>(),
            pods: ctx.informers.get::<Pod>(),
            endpoints: ctx.informers.get::<Endpoints>(),
            slices: ctx.informers.get::<EndpointSlice>(),
            ctx: ctx.clone(),
        }
    }

    async fn sync_endpoints(&self, svc: &Service, subsets: Vec<EndpointSubset>) -> Result<()> {
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let api: Api<Endpoints> = Api::namespaced(self.ctx.client.clone(), &ns);
        let current = self
            .endpoints
            .store()
            .get(&ObjectKey::namespaced(&ns, &name));
        let subsets = (!subsets.is_empty()).then_some(subsets);
        let labels = svc.metadata.labels.clone();
        match current {
            Some(cur) => {
                if cur.subsets == subsets && cur.metadata.labels == labels {
                    return Ok(());
                }
                let mut upd = (*cur).clone();
                upd.subsets = subsets;
                upd.metadata.labels = labels;
                api.replace(&name, &PostParams::default(), &upd).await?;
            }
            None => {
                let ep = Endpoints {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        labels,
                        ..Default::default()
                    },
                    subsets,
                    ..Endpoints::default()
                };
                match api.create(&PostParams::default(), &ep).await {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {
                        // The cache lags: retry with the live object.
                        let mut live = api.get(&name).await?;
                        if live.subsets != ep.subsets || live.metadata.labels != ep.metadata.labels
                        {
                            live.subsets = ep.subsets;
                            live.metadata.labels = ep.metadata.labels;
                            api.replace(&name, &PostParams::default(), &live).await?;
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    async fn sync_slices(&self, svc: &Service, pods: &[Arc<Pod>]) -> Result<()> {
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let uid = svc.metadata.uid.clone().unwrap_or_default();
        let api: Api<EndpointSlice> = Api::namespaced(self.ctx.client.clone(), &ns);
        let mut existing: Vec<Arc<EndpointSlice>> = self.slices.store().list_by(|s| {
            let l = s.metadata.labels.clone().unwrap_or_default();
            s.metadata.namespace.as_deref() == Some(ns.as_str())
                && l.get(SERVICE_NAME_LABEL) == Some(&name)
                && l.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY)
        });
        existing.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        // Slices of a previous Service with the same name are not ours: delete them.
        let (mut ours, stale): (Vec<_>, Vec<_>) = existing.into_iter().partition(|s| {
            s.metadata
                .owner_references
                .as_ref()
                .is_some_and(|r| r.iter().any(|r| r.uid == uid))
        });
        let mut labels = svc.metadata.labels.clone().unwrap_or_default();
        labels.insert(SERVICE_NAME_LABEL.into(), name.clone());
        labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
        let mut to_delete: Vec<Arc<EndpointSlice>> = stale;
        // What this sync wrote, to wait for in the cache (see `wait_for_cache`).
        let mut written: Vec<(String, Option<u64>)> = Vec::new();
        for (family, ports, eps) in desired_slice_groups(svc, pods) {
            let ports = (!ports.is_empty()).then_some(ports);
            let chunks: Vec<Vec<Endpoint>> = eps
                .chunks(MAX_ENDPOINTS_PER_SLICE)
                .map(<[Endpoint]>::to_vec)
                .collect();
            let chunks = if chunks.is_empty() {
                vec![Vec::new()]
            } else {
                chunks
            };
            for chunk in chunks {
                // Reuse a slice of the same address type and ports, in place.
                let pos = ours
                    .iter()
                    .position(|s| s.address_type == family && s.ports == ports);
                match pos {
                    Some(i) => {
                        let cur = ours.remove(i);
                        if cur.endpoints == chunk && cur.metadata.labels.as_ref() == Some(&labels) {
                            continue;
                        }
                        let mut upd = (*cur).clone();
                        upd.endpoints = chunk;
                        upd.metadata.labels = Some(labels.clone());
                        let done = api
                            .replace(
                                upd.metadata.name.clone().as_deref().unwrap_or(""),
                                &PostParams::default(),
                                &upd,
                            )
                            .await?;
                        written.push(written_slice(&done));
                    }
                    None => {
                        let slice = EndpointSlice {
                            metadata: ObjectMeta {
                                generate_name: Some(format!("{name}-")),
                                namespace: Some(ns.clone()),
                                labels: Some(labels.clone()),
                                owner_references: Some(vec![owner_reference(svc)]),
                                ..Default::default()
                            },
                            address_type: family.clone(),
                            endpoints: chunk,
                            ports: ports.clone(),
                            ..EndpointSlice::default()
                        };
                        let done = api.create(&PostParams::default(), &slice).await?;
                        written.push(written_slice(&done));
                    }
                }
            }
        }
        to_delete.extend(ours);
        for s in to_delete {
            match api
                .delete(
                    s.metadata.name.as_deref().unwrap_or(""),
                    &DeleteParams::default(),
                )
                .await
            {
                Ok(_) => written.push((s.metadata.name.clone().unwrap_or_default(), None)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.wait_for_cache(&ns, &written).await;
        Ok(())
    }

    /// Waits (at most 5 s) until the slice cache shows this sync's writes: created and
    /// replaced slices at their new resourceVersion or later, deleted ones gone. The next
    /// sync of the Service then never works from a cache that misses them — which would
    /// create a second slice for the same endpoints (Kubernetes' EndpointSliceTracker
    /// guards against the same stale cache).
    async fn wait_for_cache(&self, ns: &str, written: &[(String, Option<u64>)]) {
        let store = self.slices.store();
        let seen = |name: &str, rv: Option<u64>| {
            let cached = store.get(&ObjectKey::namespaced(ns, name));
            match rv {
                Some(rv) => cached.is_some_and(|c| slice_rv(&c) >= rv),
                None => cached.is_none(),
            }
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while !written.iter().all(|(n, rv)| seen(n, *rv)) {
            if tokio::time::Instant::now() >= deadline {
                tracing::debug!(
                    namespace = ns,
                    "endpoint slice cache lags behind our writes"
                );
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

fn slice_rv(s: &EndpointSlice) -> u64 {
    s.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn written_slice(s: &EndpointSlice) -> (String, Option<u64>) {
    (
        s.metadata.name.clone().unwrap_or_default(),
        Some(slice_rv(s)),
    )
}

fn services_selecting(services: &Informer<Service>, pod: &Pod) -> Vec<String> {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    services
        .store()
        .list_by(|s| {
            s.metadata.namespace == pod.metadata.namespace
                && s.spec
                    .as_ref()
                    .and_then(|sp| sp.selector.as_ref())
                    .is_some_and(|sel| !sel.is_empty() && Selector::from_set(sel).matches(&labels))
        })
        .iter()
        .map(|s| key_of(s.as_ref()))
        .collect()
}

#[async_trait]
impl Controller for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn watch(&self, queue: &WorkQueue) -> Vec<JoinHandle<()>> {
        let svcs = enqueue_on(&self.services, queue.clone(), |c| {
            vec![key_of(c.object().as_ref())]
        });
        let services = self.services.clone();
        let pods = enqueue_on(&self.pods, queue.clone(), move |c| match c {
            Change::Updated { old, new } => {
                let mut keys = services_selecting(&services, new);
                if old.metadata.labels != new.metadata.labels {
                    keys.extend(services_selecting(&services, old));
                }
                keys
            }
            other => services_selecting(&services, other.object()),
        });
        // Changes made by others to our outputs are put right.
        let eps = enqueue_on(&self.endpoints, queue.clone(), |c| match c {
            Change::Updated { .. } | Change::Deleted(_) => vec![key_of(c.object().as_ref())],
            Change::Added(_) => Vec::new(),
        });
        let slices = enqueue_on(&self.slices, queue.clone(), |c| {
            let s = c.object();
            let l = s.metadata.labels.clone().unwrap_or_default();
            match (l.get(MANAGED_BY_LABEL), l.get(SERVICE_NAME_LABEL), c) {
                (Some(m), Some(svc), Change::Updated { .. } | Change::Deleted(_))
                    if m == MANAGED_BY =>
                {
                    vec![format!(
                        "{}/{svc}",
                        s.metadata.namespace.as_deref().unwrap_or("")
                    )]
                }
                _ => Vec::new(),
            }
        });
        vec![svcs, pods, eps, slices]
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let (ns, name) = split_key(key);
        let ns = ns.unwrap_or("");
        let Some(svc) = self.services.store().get(&ObjectKey::namespaced(ns, name)) else {
            // Service gone: remove its Endpoints (its slices are garbage-collected).
            let api: Api<Endpoints> = Api::namespaced(self.ctx.client.clone(), ns);
            if self
                .endpoints
                .store()
                .get(&ObjectKey::namespaced(ns, name))
                .is_some()
            {
                match api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(Action::Done);
        };
        let Some(selector) = svc
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .filter(|s| !s.is_empty())
        else {
            return Ok(Action::Done);
        };
        let selector = Selector::from_set(&selector);
        let pods = self.pods.store().list_by(|p| {
            p.metadata.namespace.as_deref() == Some(ns)
                && selector.matches(&p.metadata.labels.clone().unwrap_or_default())
        });
        self.sync_endpoints(&svc, desired_subsets(&svc, &pods))
            .await?;
        self.sync_slices(&svc, &pods).await?;
        Ok(Action::Done)
    }
}
