//! The desired state: a pure translation of Services and EndpointSlices into what every backend
//! programs (kube-proxy's `ServicePortMap` + `EndpointsMap` + `CategorizeEndpoints`).
//!
//! [`desired_state`] is sans-IO: it takes the cached objects and returns a [`DesiredState`],
//! one [`ServicePortRules`] per (Service, port). Malformed data (bad IPs, port 0, duplicate
//! ports, unknown protocols) is skipped with a logged reason (`tracing::warn!`) and recorded in
//! [`DesiredState::skipped`]; it never blocks the rules of other Services.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use kubox_core::api::core_v1::Service;
use kubox_core::api::discovery_v1::EndpointSlice;

/// The label that ties an EndpointSlice to its Service (`discovery.LabelServiceName`).
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// The default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours), as in Kubernetes.
pub const DEFAULT_AFFINITY_TIMEOUT_SECONDS: u32 = 10800;

/// The largest allowed `timeoutSeconds` (one day), as in Kubernetes' validation.
pub const MAX_AFFINITY_TIMEOUT_SECONDS: u32 = 86400;

/// A transport protocol the proxy handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// Parses a Kubernetes protocol name (`TCP`, `UDP`; unset means TCP). SCTP and anything
    /// else are `None` (not handled by this proxy).
    pub fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            _ => None,
        }
    }

    /// The lower-case name (`tcp`, `udp`), as nftables spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of one Service port (kube-proxy's `ServicePortName`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// The port's name (empty for a single unnamed port).
    pub port: String,
    /// The port's protocol.
    pub protocol: Protocol,
}

impl fmt::Display for ServicePortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.namespace, self.name, self.protocol, self.port
        )
    }
}

/// One endpoint of a Service port, with the conditions that decide whether it is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointInfo {
    /// The endpoint's address and target port.
    pub addr: SocketAddrV4,
    /// `conditions.ready` (unset means ready).
    pub ready: bool,
    /// `conditions.serving` (unset means the value of ready).
    pub serving: bool,
    /// `conditions.terminating` (unset means false).
    pub terminating: bool,
    /// Whether the endpoint runs on this node (its `nodeName` is the proxy's node).
    pub local: bool,
}

/// `sessionAffinity: ClientIP`: the stickiness timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Affinity {
    /// Seconds a client stays on its endpoint after its last packet.
    pub timeout_seconds: u32,
}

/// What one Service port needs on this node: its addresses and the endpoints each address
/// leads to (after Kubernetes' traffic-policy and terminating-endpoint rules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortRules {
    /// Which Service port this is.
    pub name: ServicePortName,
    /// The ClusterIP.
    pub cluster_ip: Ipv4Addr,
    /// The Service port.
    pub port: u16,
    /// The NodePort (`type: NodePort` or `LoadBalancer`), if any.
    pub node_port: Option<u16>,
    /// Session affinity, if `sessionAffinity: ClientIP`.
    pub affinity: Option<Affinity>,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
    /// `externalTrafficPolicy: Local` (only meaningful with a NodePort).
    pub external_local: bool,
    /// The endpoints ClusterIP traffic goes to (sorted, unique). Empty: reject.
    pub cluster_endpoints: Vec<SocketAddrV4>,
    /// The endpoints NodePort traffic goes to (sorted, unique). Empty: see
    /// [`external_drop`](Self::external_drop).
    pub external_endpoints: Vec<SocketAddrV4>,
    /// Whether the Service has usable endpoints anywhere in the cluster.
    pub has_any_endpoints: bool,
    /// Every endpoint of the port that still serves (ready, or terminating but serving),
    /// anywhere in the cluster (sorted, unique). A UDP flow to one of these is left alone even
    /// when new flows no longer go there; flows to any other endpoint are stale (kube-proxy
    /// clears the conntrack entries of UDP endpoints that stopped serving).
    pub serving_endpoints: Vec<SocketAddrV4>,
}

impl ServicePortRules {
    /// Whether NodePort traffic without endpoints is dropped (policy Local, endpoints only on
    /// other nodes) rather than rejected.
    pub fn external_drop(&self) -> bool {
        self.external_endpoints.is_empty() && self.external_local && self.has_any_endpoints
    }

    /// Whether ClusterIP traffic without endpoints is dropped rather than rejected
    /// (`internalTrafficPolicy: Local` with endpoints only on other nodes).
    pub fn cluster_drop(&self) -> bool {
        self.cluster_endpoints.is_empty() && self.internal_local && self.has_any_endpoints
    }

    /// Every endpoint any of this port's addresses leads to (sorted, unique).
    pub fn all_endpoints(&self) -> Vec<SocketAddrV4> {
        let mut all: BTreeSet<SocketAddrV4> = self.cluster_endpoints.iter().copied().collect();
        all.extend(self.external_endpoints.iter().copied());
        all.into_iter().collect()
    }
}

/// A Service, port or endpoint left out of the desired state, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// `namespace/name` of the object.
    pub object: String,
    /// Why it was skipped.
    pub reason: String,
}

/// The rules the node should have: every proxied Service port, keyed by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// The Service ports, keyed by name.
    pub services: BTreeMap<ServicePortName, ServicePortRules>,
    /// What was left out, and why (also logged).
    pub skipped: Vec<Skipped>,
}

impl DesiredState {
    /// The total number of (Service port, endpoint) pairs.
    pub fn endpoint_count(&self) -> usize {
        self.services
            .values()
            .map(|s| s.all_endpoints().len())
            .sum()
    }
}

/// Settings of the translation.
#[derive(Clone, Debug, Default)]
pub struct ModelConfig {
    /// This node's name: endpoints with this `nodeName` are local.
    pub node_name: String,
}

fn skip(skipped: &mut Vec<Skipped>, object: String, reason: String) {
    tracing::warn!(object = %object, reason = %reason, "kube-net: skipping");
    skipped.push(Skipped { object, reason });
}

/// Translates Services and EndpointSlices into the desired state of this node.
///
/// Follows kube-proxy: headless Services (`clusterIP: None`), ExternalName Services and
/// Services without a ClusterIP are not proxied; only IPv4 is handled (IPv6 ClusterIPs and
/// slices of other address types are ignored without a warning); EndpointSlices are matched
/// by their `kubernetes.io/service-name` label and ports by name and protocol; endpoints are
/// chosen by `CategorizeEndpoints` (ready ones, else serving+terminating ones; Local policies
/// restrict to this node's endpoints).
pub fn desired_state<'a>(
    config: &ModelConfig,
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
) -> DesiredState {
    let mut skipped = Vec::new();
    // (namespace, service) -> (port name, protocol) -> endpoint addr -> info
    type PortEndpoints = BTreeMap<(String, Protocol), BTreeMap<SocketAddrV4, EndpointInfo>>;
    let mut by_service: BTreeMap<(String, String), PortEndpoints> = BTreeMap::new();
    for slice in slices {
        collect_slice(config, slice, &mut by_service, &mut skipped);
    }

    let mut out = BTreeMap::new();
    for svc in services {
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let object = format!("{ns}/{name}");
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let cluster_ip = match spec.cluster_ip.as_deref() {
            None | Some("") | Some("None") => continue,
            Some(ip) => match ip.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(v4)) if !v4.is_unspecified() => v4,
                Ok(std::net::IpAddr::V6(_)) => continue,
                _ => {
                    skip(&mut skipped, object, format!("invalid clusterIP {ip:?}"));
                    continue;
                }
            },
        };
        let affinity = if spec.session_affinity.as_deref() == Some("ClientIP") {
            let t = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            match t {
                None => Some(Affinity {
                    timeout_seconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS,
                }),
                Some(t) if t > 0 && t as u32 <= MAX_AFFINITY_TIMEOUT_SECONDS => Some(Affinity {
                    timeout_seconds: t as u32,
                }),
                Some(t) => {
                    skip(
                        &mut skipped,
                        object,
                        format!("sessionAffinityConfig.clientIP.timeoutSeconds {t} must be in 1..=86400"),
                    );
                    continue;
                }
            }
        } else {
            None
        };
        let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");
        let external_local = spec.external_traffic_policy.as_deref() == Some("Local");
        let externally = matches!(
            spec.type_.as_deref(),
            Some("NodePort") | Some("LoadBalancer")
        );

        let ports = spec.ports.as_deref().unwrap_or(&[]);
        let mut seen_ports = BTreeSet::new();
        let mut seen_names = BTreeSet::new();
        let mut seen_node_ports = BTreeSet::new();
        let endpoints_of = by_service.get(&(ns.clone(), name.clone()));
        for p in ports {
            let port_name = p.name.clone().unwrap_or_default();
            let what = format!("port {:?} ({})", port_name, p.port);
            let Some(protocol) = Protocol::parse(p.protocol.as_deref()) else {
                skip(
                    &mut skipped,
                    object.clone(),
                    format!(
                        "{what}: unsupported protocol {:?}",
                        p.protocol.as_deref().unwrap_or("")
                    ),
                );
                continue;
            };
            let port = match u16::try_from(p.port) {
                Ok(port) if port != 0 => port,
                _ => {
                    skip(
                        &mut skipped,
                        object.clone(),
                        format!("{what}: port must be in 1..=65535"),
                    );
                    continue;
                }
            };
            if !seen_ports.insert((port, protocol))
                || !seen_names.insert((port_name.clone(), protocol))
            {
                skip(
                    &mut skipped,
                    object.clone(),
                    format!("{what}: duplicate port"),
                );
                continue;
            }
            let node_port = match (externally, p.node_port) {
                (true, Some(np)) => match u16::try_from(np) {
                    Ok(np) if np != 0 => {
                        if !seen_node_ports.insert((np, protocol)) {
                            skip(
                                &mut skipped,
                                object.clone(),
                                format!("{what}: duplicate nodePort {np}"),
                            );
                            continue;
                        }
                        Some(np)
                    }
                    _ => {
                        skip(
                            &mut skipped,
                            object.clone(),
                            format!("{what}: invalid nodePort {np}"),
                        );
                        continue;
                    }
                },
                _ => None,
            };
            let eps: Vec<EndpointInfo> = endpoints_of
                .and_then(|m| m.get(&(port_name.clone(), protocol)))
                .map(|m| m.values().copied().collect())
                .unwrap_or_default();
            let cat = categorize(
                &eps,
                internal_local,
                externally && external_local,
                externally,
            );
            let key = ServicePortName {
                namespace: ns.clone(),
                name: name.clone(),
                port: port_name,
                protocol,
            };
            out.insert(
                key.clone(),
                ServicePortRules {
                    name: key,
                    cluster_ip,
                    port,
                    node_port,
                    affinity,
                    internal_local,
                    external_local: externally && external_local,
                    cluster_endpoints: cat.cluster,
                    external_endpoints: cat.external,
                    has_any_endpoints: cat.has_any,
                    serving_endpoints: cat.serving,
                },
            );
        }
    }
    // Node ports are node-wide: two Services on one nodePort would fight; keep the first.
    let mut node_ports: BTreeMap<(u16, Protocol), ServicePortName> = BTreeMap::new();
    let mut dups = Vec::new();
    for (k, s) in &out {
        if let Some(np) = s.node_port {
            if let Some(first) = node_ports.get(&(np, k.protocol)) {
                dups.push((k.clone(), format!("nodePort {np} already used by {first}")));
            } else {
                node_ports.insert((np, k.protocol), k.clone());
            }
        }
    }
    for (k, reason) in dups {
        out.remove(&k);
        skip(&mut skipped, format!("{}/{}", k.namespace, k.name), reason);
    }
    DesiredState {
        services: out,
        skipped,
    }
}

type SliceMap =
    BTreeMap<(String, String), BTreeMap<(String, Protocol), BTreeMap<SocketAddrV4, EndpointInfo>>>;

fn collect_slice(
    config: &ModelConfig,
    slice: &EndpointSlice,
    out: &mut SliceMap,
    skipped: &mut Vec<Skipped>,
) {
    if slice.address_type != "IPv4" {
        return;
    }
    let ns = slice.metadata.namespace.clone().unwrap_or_default();
    let slice_name = slice.metadata.name.clone().unwrap_or_default();
    let object = format!("{ns}/{slice_name}");
    let Some(svc) = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_SERVICE_NAME))
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let ports = slice.ports.as_deref().unwrap_or(&[]);
    let entry = out.entry((ns, svc.clone())).or_default();
    for p in ports {
        let pname = p.name.clone().unwrap_or_default();
        let Some(protocol) = Protocol::parse(p.protocol.as_deref()) else {
            continue;
        };
        let port = match p.port.map(u16::try_from) {
            Some(Ok(port)) if port != 0 => port,
            _ => {
                skip(
                    skipped,
                    object.clone(),
                    format!(
                        "endpoint port {pname:?}: port must be in 1..=65535, got {:?}",
                        p.port
                    ),
                );
                continue;
            }
        };
        let eps = entry.entry((pname, protocol)).or_default();
        for ep in &slice.endpoints {
            let Some(addr) = ep.addresses.first() else {
                continue;
            };
            let ip: Ipv4Addr = match addr.parse() {
                Ok(ip) => ip,
                Err(_) => {
                    skip(
                        skipped,
                        object.clone(),
                        format!("invalid endpoint address {addr:?}"),
                    );
                    continue;
                }
            };
            if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || ip.is_broadcast() {
                skip(
                    skipped,
                    object.clone(),
                    format!("unusable endpoint address {addr:?}"),
                );
                continue;
            }
            let c = ep.conditions.as_ref();
            let ready = c.and_then(|c| c.ready).unwrap_or(true);
            let serving = c.and_then(|c| c.serving).unwrap_or(ready);
            let terminating = c.and_then(|c| c.terminating).unwrap_or(false);
            let local = !config.node_name.is_empty()
                && ep.node_name.as_deref() == Some(config.node_name.as_str());
            let info = EndpointInfo {
                addr: SocketAddrV4::new(ip, port),
                ready,
                serving,
                terminating,
                local,
            };
            // The same endpoint in two slices (during a slice migration): keep the better one.
            eps.entry(info.addr)
                .and_modify(|old| {
                    if info.ready && !old.ready {
                        *old = info;
                    }
                })
                .or_insert(info);
        }
    }
}

struct Categorized {
    cluster: Vec<SocketAddrV4>,
    external: Vec<SocketAddrV4>,
    has_any: bool,
    serving: Vec<SocketAddrV4>,
}

/// kube-proxy's `CategorizeEndpoints` (without topology hints): cluster endpoints are the
/// ready ones, or if there are none the serving+terminating ones; local endpoints are this
/// node's ready ones, or if there are none this node's serving+terminating ones.
fn categorize(
    eps: &[EndpointInfo],
    internal_local: bool,
    external_local: bool,
    externally: bool,
) -> Categorized {
    let pick = |f: &dyn Fn(&EndpointInfo) -> bool| -> Vec<SocketAddrV4> {
        let mut v: Vec<SocketAddrV4> = eps.iter().filter(|e| f(e)).map(|e| e.addr).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut cluster = pick(&|e| e.ready);
    if cluster.is_empty() {
        cluster = pick(&|e| e.serving && e.terminating);
    }
    let has_any = !cluster.is_empty();
    let mut local = pick(&|e| e.local && e.ready);
    if local.is_empty() {
        local = pick(&|e| e.local && e.serving && e.terminating);
    }
    let cluster_eps = if internal_local {
        local.clone()
    } else {
        cluster.clone()
    };
    let external = if !externally {
        Vec::new()
    } else if external_local {
        local
    } else {
        cluster
    };
    Categorized {
        cluster: cluster_eps,
        external,
        has_any,
        serving: pick(&|e| e.serving),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn svc(v: Value) -> Service {
        serde_json::from_value(v).unwrap()
    }
    fn slice(v: Value) -> EndpointSlice {
        serde_json::from_value(v).unwrap()
    }
    fn basic_svc() -> Service {
        svc(json!({
            "metadata": {"namespace": "ns", "name": "web"},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80}]}
        }))
    }
    fn ep(
        ip: &str,
        ready: Option<bool>,
        serving: Option<bool>,
        term: Option<bool>,
        node: &str,
    ) -> Value {
        let mut c = serde_json::Map::new();
        if let Some(r) = ready {
            c.insert("ready".into(), json!(r));
        }
        if let Some(s) = serving {
            c.insert("serving".into(), json!(s));
        }
        if let Some(t) = term {
            c.insert("terminating".into(), json!(t));
        }
        json!({"addresses": [ip], "conditions": c, "nodeName": node})
    }
    fn web_slice(eps: Vec<Value>) -> EndpointSlice {
        slice(json!({
            "metadata": {"namespace": "ns", "name": "web-abc", "labels": {LABEL_SERVICE_NAME: "web"}},
            "addressType": "IPv4",
            "endpoints": eps,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }))
    }
    fn cfg() -> ModelConfig {
        ModelConfig {
            node_name: "node-a".into(),
        }
    }
    fn addrs(v: &[&str]) -> Vec<SocketAddrV4> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn ready_endpoints_are_used() {
        let s = basic_svc();
        let sl = web_slice(vec![
            ep("10.0.0.2", None, None, None, "node-b"),
            ep("10.0.0.1", Some(true), None, None, "node-a"),
            ep("10.0.0.3", Some(false), Some(false), None, "node-a"),
        ]);
        let d = desired_state(&cfg(), [&s], [&sl]);
        assert!(d.skipped.is_empty());
        let r = d.services.values().next().unwrap();
        assert_eq!(r.name.to_string(), "ns/web/tcp/http");
        assert_eq!(r.cluster_ip, Ipv4Addr::new(10, 96, 0, 10));
        assert_eq!(r.port, 80);
        assert_eq!(
            r.cluster_endpoints,
            addrs(&["10.0.0.1:8080", "10.0.0.2:8080"])
        );
        assert!(r.external_endpoints.is_empty());
        assert_eq!(r.node_port, None);
        assert_eq!(r.affinity, None);
    }

    #[test]
    fn terminating_serving_fallback_only_without_ready() {
        let s = basic_svc();
        let sl = web_slice(vec![
            ep("10.0.0.1", Some(false), Some(true), Some(true), "node-a"),
            ep("10.0.0.2", Some(false), Some(false), Some(true), "node-a"),
        ]);
        let d = desired_state(&cfg(), [&s], [&sl]);
        let r = d.services.values().next().unwrap();
        assert_eq!(r.cluster_endpoints, addrs(&["10.0.0.1:8080"]));
        let sl = web_slice(vec![
            ep("10.0.0.1", Some(false), Some(true), Some(true), "node-a"),
            ep("10.0.0.3", Some(true), None, None, "node-b"),
        ]);
        let d = desired_state(&cfg(), [&s], [&sl]);
        let r = d.services.values().next().unwrap();
        assert_eq!(r.cluster_endpoints, addrs(&["10.0.0.3:8080"]));
        // The terminating one still serves: its existing UDP flows stay.
        assert_eq!(
            r.serving_endpoints,
            addrs(&["10.0.0.1:8080", "10.0.0.3:8080"])
        );
    }

    #[test]
    fn no_endpoints_means_empty_and_reject() {
        let s = basic_svc();
        let d = desired_state(&cfg(), [&s], []);
        let r = d.services.values().next().unwrap();
        assert!(r.cluster_endpoints.is_empty());
        assert!(!r.cluster_drop());
        assert!(!r.has_any_endpoints);
    }

    #[test]
    fn node_port_and_traffic_policies() {
        let s = svc(json!({
            "metadata": {"namespace": "ns", "name": "web"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "externalTrafficPolicy": "Local",
                     "internalTrafficPolicy": "Local",
                     "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}
        }));
        let sl = web_slice(vec![
            ep("10.0.0.1", None, None, None, "node-a"),
            ep("10.0.0.2", None, None, None, "node-b"),
        ]);
        let d = desired_state(&cfg(), [&s], [&sl]);
        let r = d.services.values().next().unwrap();
        assert_eq!(r.node_port, Some(30080));
        assert_eq!(r.cluster_endpoints, addrs(&["10.0.0.1:8080"]));
        assert_eq!(r.external_endpoints, addrs(&["10.0.0.1:8080"]));
        // On another node without local endpoints: drop, not reject.
        let other = ModelConfig {
            node_name: "node-c".into(),
        };
        let d = desired_state(&other, [&s], [&sl]);
        let r = d.services.values().next().unwrap();
        assert!(r.external_endpoints.is_empty() && r.external_drop());
        assert!(r.cluster_endpoints.is_empty() && r.cluster_drop());
    }

    #[test]
    fn node_port_cluster_policy_uses_all_endpoints() {
        let s = svc(json!({
            "metadata": {"namespace": "ns", "name": "web"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
                     "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}
        }));
        let sl = web_slice(vec![
            ep("10.0.0.1", None, None, None, "node-a"),
            ep("10.0.0.2", None, None, None, "node-b"),
        ]);
        let d = desired_state(&cfg(), [&s], [&sl]);
        let r = d.services.values().next().unwrap();
        assert_eq!(
            r.external_endpoints,
            addrs(&["10.0.0.1:8080", "10.0.0.2:8080"])
        );
        assert!(!r.external_local);
    }

    #[test]
    fn session_affinity_default_and_explicit_timeout() {
        let mut s = basic_svc();
        s.spec.as_mut().unwrap().session_affinity = Some("ClientIP".into());
        let d = desired_state(&cfg(), [&s], []);
        assert_eq!(
            d.services.values().next().unwrap().affinity,
            Some(Affinity {
                timeout_seconds: 10800
            })
        );
        let s = svc(json!({
            "metadata": {"namespace": "ns", "name": "web"},
            "spec": {"clusterIP": "10.96.0.10", "sessionAffinity": "ClientIP",
                     "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                     "ports": [{"port": 80}]}
        }));
        let d = desired_state(&cfg(), [&s], []);
        assert_eq!(
            d.services.values().next().unwrap().affinity,
            Some(Affinity {
                timeout_seconds: 60
            })
        );
    }

    #[test]
    fn headless_external_name_and_ipv6_are_not_proxied() {
        let a = svc(
            json!({"metadata": {"namespace": "ns", "name": "a"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}),
        );
        let b = svc(
            json!({"metadata": {"namespace": "ns", "name": "b"}, "spec": {"type": "ExternalName", "externalName": "x.example"}}),
        );
        let c = svc(
            json!({"metadata": {"namespace": "ns", "name": "c"}, "spec": {"clusterIP": "fd00::1", "ports": [{"port": 80}]}}),
        );
        let d = desired_state(&cfg(), [&a, &b, &c], []);
        assert!(d.services.is_empty());
        assert!(d.skipped.is_empty());
    }

    #[test]
    fn malformed_data_is_skipped_without_blocking_others() {
        let bad_ip = svc(
            json!({"metadata": {"namespace": "ns", "name": "bad"}, "spec": {"clusterIP": "10.96.0.999", "ports": [{"port": 80}]}}),
        );
        let bad_ports = svc(json!({"metadata": {"namespace": "ns", "name": "ports"},
            "spec": {"clusterIP": "10.96.0.11", "ports": [
                {"name": "zero", "port": 0}, {"name": "a", "port": 81}, {"name": "b", "port": 81},
                {"name": "big", "port": 70000}, {"name": "sctp", "port": 82, "protocol": "SCTP"}]}}));
        let good = basic_svc();
        let sl = web_slice(vec![
            ep("not-an-ip", None, None, None, "node-a"),
            ep("0.0.0.0", None, None, None, "node-a"),
            ep("10.0.0.1", None, None, None, "node-a"),
        ]);
        let zero_port_slice = slice(json!({
            "metadata": {"namespace": "ns", "name": "web-zero", "labels": {LABEL_SERVICE_NAME: "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.9"]}],
            "ports": [{"name": "http", "port": 0, "protocol": "TCP"}]
        }));
        let d = desired_state(
            &cfg(),
            [&bad_ip, &bad_ports, &good],
            [&sl, &zero_port_slice],
        );
        let names: Vec<String> = d.services.keys().map(|k| k.to_string()).collect();
        assert_eq!(names, vec!["ns/ports/tcp/a", "ns/web/tcp/http"]);
        let web = &d.services.values().nth(1).unwrap();
        assert_eq!(web.cluster_endpoints, addrs(&["10.0.0.1:8080"]));
        let reasons: Vec<String> = d
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.object, s.reason))
            .collect();
        for needle in [
            "ns/bad: invalid clusterIP \"10.96.0.999\"",
            "ns/ports: port \"zero\" (0): port must be in 1..=65535",
            "ns/ports: port \"b\" (81): duplicate port",
            "ns/ports: port \"big\" (70000): port must be in 1..=65535",
            "ns/ports: port \"sctp\" (82): unsupported protocol \"SCTP\"",
            "ns/web-abc: invalid endpoint address \"not-an-ip\"",
            "ns/web-abc: unusable endpoint address \"0.0.0.0\"",
            "ns/web-zero: endpoint port \"http\": port must be in 1..=65535, got Some(0)",
        ] {
            assert!(
                reasons.iter().any(|r| r == needle),
                "missing {needle:?} in {reasons:#?}"
            );
        }
    }

    #[test]
    fn duplicate_node_ports_across_services_keep_the_first() {
        let a = svc(
            json!({"metadata": {"namespace": "ns", "name": "a"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.1", "ports": [{"port": 80, "nodePort": 30000}]}}),
        );
        let b = svc(
            json!({"metadata": {"namespace": "ns", "name": "b"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.2", "ports": [{"port": 80, "nodePort": 30000}]}}),
        );
        let d = desired_state(&cfg(), [&a, &b], []);
        assert_eq!(d.services.len(), 1);
        assert_eq!(d.services.keys().next().unwrap().name, "a");
        assert_eq!(
            d.skipped[0].reason,
            "nodePort 30000 already used by ns/a/tcp/"
        );
    }

    #[test]
    fn slices_of_other_services_and_ports_do_not_leak() {
        let s = basic_svc();
        let other = slice(json!({
            "metadata": {"namespace": "ns", "name": "db-1", "labels": {LABEL_SERVICE_NAME: "db"}},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.5"]}],
            "ports": [{"name": "http", "port": 5432, "protocol": "TCP"}]
        }));
        let udp = slice(json!({
            "metadata": {"namespace": "ns", "name": "web-u", "labels": {LABEL_SERVICE_NAME: "web"}},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.6"]}],
            "ports": [{"name": "http", "port": 53, "protocol": "UDP"}]
        }));
        let d = desired_state(&cfg(), [&s], [&other, &udp]);
        assert!(d
            .services
            .values()
            .next()
            .unwrap()
            .cluster_endpoints
            .is_empty());
    }
}
