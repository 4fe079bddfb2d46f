//! The other core/v1 kinds: Service, Namespace, Node, ConfigMap, Secret, ServiceAccount,
//! Endpoints, Event, ReplicationController, Binding.

use super::field::{BadValue, Error, ErrorList, Path};
use super::meta::{
    validate_finalizers, validate_kube_finalizer_name, validate_labels, validate_nonnegative,
    validate_object_meta, validate_object_meta_update, MetaRules, FIELD_IMMUTABLE,
};
use super::names::{
    is_cidr, is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_port_name, is_valid_port_num, name_is_dns1035_label,
    name_is_dns_label, name_is_dns_subdomain, parse_ip_sloppy, INVALID_CIDR_MSG,
};
use super::pod::{resource_quantity_value, taint_effect, valid_ip, validate_pod_template_spec};
use crate::api::core_v1::{
    Binding, ConfigMap, EndpointAddress, EndpointPort, Endpoints, Event, Namespace, Node,
    PodTemplateSpec, ReplicationController, Secret, Service, ServiceAccount, ServicePort,
    ServiceSpec, Taint,
};
use crate::IntOrString;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

fn s(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or("")
}

fn dns_label(value: &str, path: &Path) -> ErrorList {
    is_dns1123_label(value)
        .iter()
        .map(|m| Error::invalid(path, value, m))
        .collect()
}

fn qualified_name(value: &str, path: &Path) -> ErrorList {
    is_qualified_name(value)
        .iter()
        .map(|m| Error::invalid(path, value, m))
        .collect()
}

pub(crate) const fn core_meta(namespaced: bool, name_fn: super::names::NameFn) -> MetaRules {
    MetaRules {
        namespaced,
        name_fn,
        kube_finalizers: true,
    }
}

fn meta_path() -> Path {
    Path::new("metadata")
}

/// The largest ConfigMap or Secret payload: 1 MiB.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

// ---------------------------------------------------------------------------------------------
// Namespace.

pub(crate) fn validate_namespace(ns: &Namespace) -> ErrorList {
    let mut errs = validate_object_meta(
        &ns.metadata,
        core_meta(false, name_is_dns_label),
        &meta_path(),
    );
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    let fp = Path::new("spec").child("finalizers");
    for f in &finalizers {
        errs.extend(validate_finalizers(std::slice::from_ref(f), &fp));
        errs.extend(validate_kube_finalizer_name(f, &fp));
    }
    errs
}

pub(crate) fn validate_namespace_update(new: &Namespace, old: &Namespace) -> ErrorList {
    let mut errs = validate_namespace(new);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        &meta_path(),
    ));
    errs
}

// ---------------------------------------------------------------------------------------------
// Node.

fn validate_node_taints(taints: &[Taint], path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut unique: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        errs.extend(super::meta::validate_label_name(&t.key, &p.child("key")));
        let value = s(&t.value);
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(Error::invalid(&p.child("value"), value, &msgs.join(";")));
        }
        errs.extend(taint_effect(&t.effect, false, &p.child("effect")));
        if !unique.insert((t.effect.clone(), t.key.clone())) {
            let mut e = Error::duplicate(&p, BadValue::json(t));
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
        }
    }
    errs
}

fn validate_node_common(node: &Node) -> ErrorList {
    let mut errs = ErrorList::new();
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[]);
    if !taints.is_empty() {
        // Kubernetes reports these under `metadata.taints`.
        errs.extend(validate_node_taints(taints, &meta_path().child("taints")));
    }
    if let Some(status) = &node.status {
        for (field, list) in [
            ("capacity", &status.capacity),
            ("allocatable", &status.allocatable),
        ] {
            for (k, v) in list.iter().flatten() {
                errs.extend(resource_quantity_value(
                    k,
                    v,
                    &Path::new("status").child(field).child(k),
                ));
            }
        }
    }
    errs
}

pub(crate) fn validate_node(node: &Node) -> ErrorList {
    let mut errs = validate_object_meta(
        &node.metadata,
        core_meta(false, name_is_dns_subdomain),
        &meta_path(),
    );
    errs.extend(validate_node_common(node));
    let cidrs = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidrs.as_deref())
        .unwrap_or(&[]);
    let cp = Path::new("spec").child("podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        if !is_cidr(c) {
            errs.push(Error::invalid(&cp.index(i), c, INVALID_CIDR_MSG));
        }
    }
    if cidrs.len() > 1 {
        let v4 = cidrs
            .iter()
            .filter(|c| {
                c.split('/')
                    .next()
                    .and_then(parse_ip_sloppy)
                    .is_some_and(|ip| ip.is_ipv4())
            })
            .count();
        if cidrs.len() > 2 || v4 != 1 {
            errs.push(Error::invalid(
                &cp,
                BadValue::json(cidrs),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(c) {
                errs.push(Error::duplicate(&cp.index(i), c));
            }
        }
    }
    errs
}

pub(crate) fn validate_node_update(new: &Node, old: &Node) -> ErrorList {
    let mut errs = validate_node(new);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        &meta_path(),
    ));
    errs.extend(validate_node_common(new));
    let new_spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    let old_cidrs = old_spec.pod_cidrs.unwrap_or_default();
    let new_cidrs = new_spec.pod_cidrs.unwrap_or_default();
    const CIDR_MSG: &str = "node updates may not change podCIDR except from \"\" to valid";
    let cp = Path::new("spec").child("podCIDRs");
    if !old_cidrs.is_empty() {
        if old_cidrs.len() != new_cidrs.len() {
            errs.push(Error::forbidden(&cp, CIDR_MSG));
        } else {
            for (o, n) in old_cidrs.iter().zip(&new_cidrs) {
                if o != n {
                    errs.push(Error::forbidden(&cp, CIDR_MSG));
                }
            }
        }
    }
    let old_pid = s(&old_spec.provider_id);
    if !old_pid.is_empty() && old_pid != s(&new_spec.provider_id) {
        errs.push(Error::forbidden(
            &Path::new("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    if new_spec.external_id != old_spec.external_id {
        errs.push(Error::forbidden(
            &Path::new("spec").child("externalID"),
            "may not be updated",
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// ConfigMap and Secret.

pub(crate) fn validate_config_map(cm: &ConfigMap) -> ErrorList {
    let mut errs = validate_object_meta(
        &cm.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    );
    let mut total = 0;
    let empty_bin = BTreeMap::new();
    let binary = cm.binary_data.as_ref().unwrap_or(&empty_bin);
    for (k, v) in cm.data.iter().flatten() {
        let p = Path::new("data").key(k);
        for m in is_config_map_key(k) {
            errs.push(Error::invalid(&p, k, &m));
        }
        if binary.contains_key(k) {
            errs.push(Error::invalid(
                &p,
                k,
                "duplicate of key present in binaryData",
            ));
        }
        total += v.len();
    }
    for (k, v) in binary {
        for m in is_config_map_key(k) {
            errs.push(Error::invalid(&Path::new("binaryData").key(k), k, &m));
        }
        total += v.0.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(Error::too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
    errs
}

pub(crate) fn validate_config_map_update(new: &ConfigMap, old: &ConfigMap) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    if old.immutable == Some(true) {
        const MSG: &str = "field is immutable when `immutable` is set";
        if new.immutable != Some(true) {
            errs.push(Error::forbidden(&Path::new("immutable"), MSG));
        }
        if new.data != old.data {
            errs.push(Error::forbidden(&Path::new("data"), MSG));
        }
        if new.binary_data != old.binary_data {
            errs.push(Error::forbidden(&Path::new("binaryData"), MSG));
        }
    }
    errs.extend(validate_config_map(new));
    errs
}

/// Go's `json.Unmarshal` error for a few common cases (serde's wording otherwise).
fn json_object_error(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some("unexpected end of JSON input".into());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(_)) => None,
        Ok(v) => {
            let t = match v {
                serde_json::Value::Array(_) => "array",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::Bool(_) => "bool",
                _ => return None,
            };
            Some(format!(
                "json: cannot unmarshal {t} into Go value of type map[string]interface {{}}"
            ))
        }
        Err(e) => Some(e.to_string()),
    }
}

/// The Secret's data as the API server sees it: `stringData` merged over `data`.
fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.as_bytes().to_vec());
    }
    data
}

pub(crate) fn validate_secret(secret: &Secret) -> ErrorList {
    let mut errs = validate_object_meta(
        &secret.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    );
    let dp = Path::new("data");
    let data = secret_data(secret);
    let mut total = 0;
    for (k, v) in &data {
        for m in is_config_map_key(k) {
            errs.push(Error::invalid(&dp.key(k), k, &m));
        }
        total += v.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(Error::too_long(&dp, MAX_SECRET_SIZE));
    }
    let json_key = |key: &str, errs: &mut ErrorList| match data.get(key) {
        None => errs.push(Error::required(&dp.key(key), "")),
        Some(bytes) => {
            if let Some(e) = json_object_error(bytes) {
                errs.push(Error::invalid(
                    &dp.key(key),
                    "<secret contents redacted>",
                    &e,
                ));
            }
        }
    };
    match s(&secret.type_) {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .map(String::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(Error::required(
                    &meta_path()
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => json_key(".dockercfg", &mut errs),
        "kubernetes.io/dockerconfigjson" => json_key(".dockerconfigjson", &mut errs),
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            errs.push(Error::required(&dp.key("username"), ""));
            errs.push(Error::required(&dp.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(Vec::is_empty) => {
            errs.push(Error::required(&dp.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    errs.push(Error::required(&dp.key(key), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

pub(crate) fn validate_secret_update(new: &Secret, old: &Secret) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    if s(&new.type_) != s(&old.type_) {
        errs.push(Error::invalid(
            &Path::new("type"),
            s(&new.type_),
            FIELD_IMMUTABLE,
        ));
    }
    if old.immutable == Some(true) {
        const MSG: &str = "field is immutable when `immutable` is set";
        if new.immutable != Some(true) {
            errs.push(Error::forbidden(&Path::new("immutable"), MSG));
        }
        if secret_data(new) != secret_data(old) {
            errs.push(Error::forbidden(&Path::new("data"), MSG));
        }
    }
    errs.extend(validate_secret(new));
    errs
}

// ---------------------------------------------------------------------------------------------
// ServiceAccount.

pub(crate) fn validate_service_account(sa: &ServiceAccount) -> ErrorList {
    validate_object_meta(
        &sa.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    )
}

pub(crate) fn validate_service_account_update(
    new: &ServiceAccount,
    old: &ServiceAccount,
) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(validate_service_account(new));
    errs
}

// ---------------------------------------------------------------------------------------------
// Service.

/// The spec with `clusterIPs` filled from `clusterIP` when only the latter is set (what the
/// service strategy's `PrepareForCreate`/`PrepareForUpdate` do before validation).
fn normalized_spec(svc: &Service) -> ServiceSpec {
    let mut spec = svc.spec.clone().unwrap_or_default();
    let ip = s(&spec.cluster_ip).to_string();
    if !ip.is_empty() && spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
        spec.cluster_ips = Some(vec![ip]);
    }
    spec
}

fn is_headless(spec: &ServiceSpec) -> bool {
    spec.cluster_ips
        .as_deref()
        .is_some_and(|ips| ips.len() == 1 && ips[0] == "None")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    let t = s(&spec.type_);
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()))
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    s(&spec.type_) == "LoadBalancer" && s(&spec.external_traffic_policy) == "Local"
}

/// `ValidateNonSpecialIP`.
pub(crate) fn non_special_ip(value: &str, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(ip) = parse_ip_sloppy(value) else {
        return Error::invalid(path, value, "must be a valid IP address").into();
    };
    let (unspecified, loopback, link_local, link_local_mc) = match ip {
        IpAddr::V4(v4) => (
            v4.is_unspecified(),
            v4.is_loopback(),
            v4.is_link_local(),
            v4.octets()[..3] == [224, 0, 0],
        ),
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            (
                v6.is_unspecified(),
                v6.is_loopback(),
                seg[0] & 0xffc0 == 0xfe80,
                seg[0] & 0xff0f == 0xff02,
            )
        }
    };
    if unspecified {
        errs.push(Error::invalid(
            path,
            value,
            &format!("may not be unspecified ({value})"),
        ));
    }
    if loopback {
        errs.push(Error::invalid(
            path,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if link_local {
        errs.push(Error::invalid(
            path,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_mc {
        errs.push(Error::invalid(
            path,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

fn validate_service_port(
    sp: &ServicePort,
    require_name: bool,
    names: &mut BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let name = s(&sp.name);
    if require_name && name.is_empty() {
        errs.push(Error::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(dns_label(name, &path.child("name")));
        if !names.insert(name.to_string()) {
            errs.push(Error::duplicate(&path.child("name"), name));
        }
    }
    for m in is_valid_port_num(i64::from(sp.port)) {
        errs.push(Error::invalid(&path.child("port"), sp.port, &m));
    }
    let protocol = s(&sp.protocol);
    if protocol.is_empty() {
        errs.push(Error::required(&path.child("protocol"), ""));
    } else if !PROTOCOLS.contains(&protocol) {
        errs.push(Error::not_supported(
            &path.child("protocol"),
            protocol,
            &PROTOCOLS,
        ));
    }
    let tp = path.child("targetPort");
    match sp.target_port.clone().unwrap_or_default() {
        IntOrString::Int(i) => {
            for m in is_valid_port_num(i64::from(i)) {
                errs.push(Error::invalid(&tp, i, &m));
            }
        }
        IntOrString::String(n) => {
            for m in is_valid_port_name(&n) {
                errs.push(Error::invalid(&tp, &n, &m));
            }
        }
    }
    if let Some(ap) = &sp.app_protocol {
        errs.extend(qualified_name(ap, &path.child("appProtocol")));
    }
    errs
}

pub(crate) fn validate_service(svc: &Service) -> ErrorList {
    let mut errs = validate_object_meta(
        &svc.metadata,
        core_meta(true, name_is_dns1035_label),
        &meta_path(),
    );
    let spec = normalized_spec(svc);
    let sp = Path::new("spec");
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    let type_ = s(&spec.type_);
    let headless = is_headless(&spec);
    let cluster_ips = spec.cluster_ips.clone().unwrap_or_default();
    if ports.is_empty() && !headless && type_ != "ExternalName" {
        errs.push(Error::required(&sp.child("ports"), ""));
    }
    match type_ {
        "LoadBalancer" | "NodePort" if headless => {
            errs.push(Error::invalid(
                &sp.child("clusterIPs").index(0),
                &cluster_ips[0],
                &format!("may not be set to 'None' for {type_} services"),
            ));
        }
        "ExternalName" => {
            if !cluster_ips.is_empty() {
                errs.push(Error::forbidden(
                    &sp.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(Error::forbidden(
                    &sp.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(Error::forbidden(
                    &sp.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = s(&spec.external_name);
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errs.push(Error::required(&sp.child("externalName"), ""));
            } else {
                for m in is_dns1123_subdomain(cname) {
                    errs.push(Error::invalid(&sp.child("externalName"), cname, &m));
                }
            }
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(validate_service_port(
            p,
            ports.len() > 1,
            &mut names,
            &sp.child("ports").index(i),
        ));
    }
    if spec.selector.is_some() {
        errs.extend(validate_labels(
            spec.selector.as_ref(),
            &sp.child("selector"),
        ));
    }
    let affinity = s(&spec.session_affinity);
    match affinity {
        "" => errs.push(Error::required(&sp.child("sessionAffinity"), "")),
        "ClientIP" | "None" => {}
        other => errs.push(Error::not_supported(
            &sp.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    let cp = sp.child("sessionAffinityConfig");
    if affinity == "ClientIP" {
        const WHEN: &str = "when session affinity type is ClientIP";
        match spec
            .session_affinity_config
            .as_ref()
            .map(|c| c.client_ip.as_ref())
        {
            None => errs.push(Error::required(&cp, WHEN)),
            Some(None) => errs.push(Error::required(&cp.child("clientIP"), WHEN)),
            Some(Some(c)) => match c.timeout_seconds {
                None => errs.push(Error::required(
                    &cp.child("clientIP").child("timeoutSeconds"),
                    WHEN,
                )),
                Some(t) if t <= 0 || t > 86400 => errs.push(Error::invalid(
                    &cp.child("clientIP").child("timeoutSeconds"),
                    t,
                    "must be greater than 0 and less than 86400",
                )),
                Some(_) => {}
            },
        }
    } else if affinity == "None" && spec.session_affinity_config.is_some() {
        errs.push(Error::forbidden(
            &cp,
            "must not be set when session affinity is None",
        ));
    }
    if type_ != "ExternalName" {
        errs.extend(cluster_ips_related(&spec, &cluster_ips, headless));
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let p = sp.child("externalIPs").index(i);
        let e = valid_ip(&p, ip);
        if e.is_empty() {
            errs.extend(non_special_ip(ip, &p));
        } else {
            errs.extend(e);
        }
    }
    const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if type_.is_empty() {
        errs.push(Error::required(&sp.child("type"), ""));
    } else if !TYPES.contains(&type_) {
        errs.push(Error::not_supported(&sp.child("type"), type_, &TYPES));
    }
    if type_ == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if p.node_port.unwrap_or(0) != 0 {
                errs.push(Error::forbidden(
                    &sp.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let np = p.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((s(&p.protocol).to_string(), np)) {
            errs.push(Error::duplicate(
                &sp.child("ports").index(i).child("nodePort"),
                np,
            ));
        }
    }
    for (i, p) in ports.iter().enumerate() {
        if !port_keys.insert((s(&p.protocol).to_string(), p.port)) {
            errs.push(Error::duplicate(
                &sp.child("ports").index(i),
                BadValue::json(&serde_json::json!({"port": p.port, "protocol": s(&p.protocol)})),
            ));
        }
    }
    let ranges = spec.load_balancer_source_ranges.as_deref().unwrap_or(&[]);
    if !ranges.is_empty() {
        let p = sp.child("LoadBalancerSourceRanges");
        if type_ != "LoadBalancer" {
            errs.push(Error::forbidden(
                &p,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            let r = r.trim();
            if !is_cidr(r) {
                errs.push(Error::invalid(&p.index(i), r, INVALID_CIDR_MSG));
            }
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && type_ != "LoadBalancer" {
        errs.push(Error::forbidden(
            &sp.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if type_ == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        // Kubernetes reports this one without the `spec.` prefix.
        errs.push(Error::required(
            &Path::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    if let Some(class) = &spec.load_balancer_class {
        if type_ != "LoadBalancer" {
            errs.push(Error::forbidden(
                &sp.child("loadBalancerClass"),
                "may only be used when service type is 'LoadBalancer'",
            ));
        } else {
            errs.extend(qualified_name(class, &sp.child("loadBalancerClass")));
        }
    }
    let etp = s(&spec.external_traffic_policy);
    if !externally_accessible(&spec) {
        if !etp.is_empty() {
            errs.push(Error::invalid(
                &sp.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(Error::required(&sp.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(Error::not_supported(
            &sp.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(&spec) {
        if hc != 0 {
            errs.push(Error::invalid(&sp.child("healthCheckNodePort"), hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
        }
    } else if hc == 0 {
        errs.push(Error::required(&sp.child("healthCheckNodePort"), ""));
    } else {
        for m in is_valid_port_num(i64::from(hc)) {
            errs.push(Error::invalid(&sp.child("healthCheckNodePort"), hc, &m));
        }
    }
    match &spec.internal_traffic_policy {
        None if matches!(type_, "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errs.push(Error::required(&sp.child("internalTrafficPolicy"), ""));
        }
        Some(p) if p != "Cluster" && p != "Local" => {
            errs.push(Error::not_supported(
                &sp.child("internalTrafficPolicy"),
                p,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    if let Some(td) = &spec.traffic_distribution {
        if td != "PreferClose" {
            errs.push(Error::not_supported(
                &sp.child("trafficDistribution"),
                td,
                &["PreferClose"],
            ));
        }
    }
    errs
}

fn cluster_ips_related(spec: &ServiceSpec, cluster_ips: &[String], headless: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    let sp = Path::new("spec");
    let cp = sp.child("clusterIPs");
    let families = spec.ip_families.as_deref().unwrap_or(&[]);
    let cluster_ip = s(&spec.cluster_ip);
    if !cluster_ip.is_empty() {
        if cluster_ips.is_empty() {
            errs.push(Error::required(&cp, ""));
        } else if cluster_ips[0] != cluster_ip {
            errs.push(Error::invalid(
                &cp,
                BadValue::json(cluster_ips),
                "first value must match `clusterIP`",
            ));
        }
    } else if !cluster_ips.is_empty() {
        errs.push(Error::invalid(
            &cp,
            BadValue::json(cluster_ips),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, f) in families.iter().enumerate() {
        if f != "IPv4" && f != "IPv6" {
            errs.push(Error::not_supported(
                &sp.child("ipFamilies").index(i),
                f,
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(f) {
            errs.push(Error::duplicate(&sp.child("ipFamilies").index(i), f));
        }
    }
    const POLICIES: [&str; 3] = ["PreferDualStack", "RequireDualStack", "SingleStack"];
    if let Some(p) = spec
        .ip_family_policy
        .as_deref()
        .filter(|p| !POLICIES.contains(p))
    {
        errs.push(Error::not_supported(
            &sp.child("ipFamilyPolicy"),
            p,
            &POLICIES,
        ));
    }
    let mut invalid = false;
    for (i, ip) in cluster_ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if cluster_ips.len() > 1 {
                invalid = true;
                errs.push(Error::invalid(
                    &cp,
                    BadValue::json(cluster_ips),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = valid_ip(&cp.index(i), ip);
        invalid |= !e.is_empty();
        errs.extend(e);
    }
    if cluster_ips.len() > 2 {
        errs.push(Error::invalid(
            &cp,
            BadValue::json(cluster_ips),
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return errs;
    }
    if cluster_ips.len() > 1 {
        let v4 = cluster_ips
            .iter()
            .filter(|ip| parse_ip_sloppy(ip).is_some_and(|a| a.is_ipv4()))
            .count();
        if v4 != 1 {
            errs.push(Error::invalid(
                &cp,
                BadValue::json(cluster_ips),
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    if !headless {
        for (i, (ip, fam)) in cluster_ips.iter().zip(families).enumerate() {
            let is_v6 = parse_ip_sloppy(ip).is_some_and(|a| a.is_ipv6());
            if fam == "IPv4" && is_v6 {
                errs.push(Error::invalid(
                    &cp.index(i),
                    ip,
                    &format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if fam == "IPv6" && !is_v6 {
                errs.push(Error::invalid(
                    &cp.index(i),
                    ip,
                    &format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}

pub(crate) fn validate_service_update(new: &Service, old: &Service) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    let n = normalized_spec(new);
    let o = normalized_spec(old);
    let external = s(&n.type_) == "ExternalName" || s(&o.type_) == "ExternalName";
    let both_headless = is_headless(&n) && is_headless(&o);
    if !(external || both_headless) {
        let new_ips = n.cluster_ips.clone().unwrap_or_default();
        let old_ips = o.cluster_ips.clone().unwrap_or_default();
        let cp = Path::new("spec").child("clusterIPs");
        const CHANGED: &str = "may not change once set";
        if new_ips.len() == old_ips.len() {
            for (i, (a, b)) in old_ips.iter().zip(&new_ips).enumerate() {
                if a != b {
                    errs.push(Error::invalid(
                        &cp.index(i),
                        BadValue::json(&new_ips),
                        CHANGED,
                    ));
                }
            }
        } else if old_ips.len() > new_ips.len() {
            if new_ips.is_empty() {
                errs.push(Error::invalid(
                    &cp.index(0),
                    BadValue::json(&new_ips),
                    "primary clusterIP can not be unset",
                ));
            }
            if !old_ips.is_empty() && !new_ips.is_empty() && new_ips[0] != old_ips[0] {
                errs.push(Error::invalid(
                    &cp.index(0),
                    BadValue::json(&new_ips),
                    CHANGED,
                ));
            }
            if new_ips.len() == 1 && s(&n.ip_family_policy) != "SingleStack" {
                errs.push(Error::invalid(
                    &Path::new("spec").child("ipFamilyPolicy"),
                    n.ip_family_policy.clone(),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(Error::invalid(
                &cp.index(0),
                BadValue::json(&new_ips),
                CHANGED,
            ));
        }
    }
    if needs_health_check(&o)
        && needs_health_check(&n)
        && o.health_check_node_port != n.health_check_node_port
    {
        errs.push(Error::forbidden(
            &Path::new("spec").child("healthCheckNodePort"),
            FIELD_IMMUTABLE,
        ));
    }
    errs.extend(validate_service(new));
    errs
}

/// Checks every `nodePort` of `svc` against the cluster's node port range
/// (`--service-node-port-range`, 30000-32767 by default), as the node port allocator does on
/// create: `spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range.
/// The range of valid ports is 30000-32767`.
pub fn validate_node_port_range(svc: &Service, range: std::ops::RangeInclusive<i32>) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, p) in svc
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .enumerate()
    {
        let np = p.node_port.unwrap_or(0);
        if np != 0 && !range.contains(&np) {
            errs.push(Error::invalid(
                &Path::new("spec").child("ports").index(i).child("nodePort"),
                np,
                &format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    range.start(),
                    range.end()
                ),
            ));
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Endpoints.

fn endpoint_address(a: &EndpointAddress, path: &Path) -> ErrorList {
    let mut errs = valid_ip(&path.child("ip"), &a.ip);
    let host = s(&a.hostname);
    if !host.is_empty() {
        errs.extend(dns_label(host, &path.child("hostname")));
    }
    if let Some(node) = &a.node_name {
        for m in name_is_dns_subdomain(node, false) {
            errs.push(Error::invalid(&path.child("nodeName"), node, &m));
        }
    }
    errs.extend(non_special_ip(&a.ip, &path.child("ip")));
    errs
}

fn endpoint_port(p: &EndpointPort, require_name: bool, path: &Path) -> ErrorList {
    let mut errs = ErrorList::new();
    let name = s(&p.name);
    if require_name && name.is_empty() {
        errs.push(Error::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(dns_label(name, &path.child("name")));
    }
    for m in is_valid_port_num(i64::from(p.port)) {
        errs.push(Error::invalid(&path.child("port"), p.port, &m));
    }
    let protocol = s(&p.protocol);
    if protocol.is_empty() {
        errs.push(Error::required(&path.child("protocol"), ""));
    } else if !PROTOCOLS.contains(&protocol) {
        errs.push(Error::not_supported(
            &path.child("protocol"),
            protocol,
            &PROTOCOLS,
        ));
    }
    if let Some(ap) = &p.app_protocol {
        errs.extend(qualified_name(ap, &path.child("appProtocol")));
    }
    errs
}

pub(crate) fn validate_endpoints(ep: &Endpoints) -> ErrorList {
    let mut errs = validate_object_meta(
        &ep.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    );
    let path = Path::new("subsets");
    for (i, ss) in ep.subsets.iter().flatten().enumerate() {
        let p = path.index(i);
        let addrs = ss.addresses.as_deref().unwrap_or(&[]);
        let not_ready = ss.not_ready_addresses.as_deref().unwrap_or(&[]);
        if addrs.is_empty() && not_ready.is_empty() {
            errs.push(Error::required(
                &p,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (j, a) in addrs.iter().enumerate() {
            errs.extend(endpoint_address(a, &p.child("addresses").index(j)));
        }
        for (j, a) in not_ready.iter().enumerate() {
            errs.extend(endpoint_address(a, &p.child("notReadyAddresses").index(j)));
        }
        let ports = ss.ports.as_deref().unwrap_or(&[]);
        for (j, port) in ports.iter().enumerate() {
            errs.extend(endpoint_port(
                port,
                ports.len() > 1,
                &p.child("ports").index(j),
            ));
        }
    }
    errs
}

pub(crate) fn validate_endpoints_update(new: &Endpoints, old: &Endpoints) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(validate_endpoints(new));
    errs
}

// ---------------------------------------------------------------------------------------------
// Event (core/v1 legacy rules).

pub(crate) fn validate_event(ev: &Event) -> ErrorList {
    let mut errs = ErrorList::new();
    let ns = s(&ev.metadata.namespace);
    let involved_ns = s(&ev.involved_object.namespace);
    let ip = Path::new("involvedObject").child("namespace");
    const MISMATCH: &str = "does not match event.namespace";
    if ev.event_time.is_none() {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(Error::invalid(&ip, involved_ns, MISMATCH));
            }
        } else if ns != involved_ns {
            errs.push(Error::invalid(&ip, involved_ns, MISMATCH));
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(Error::invalid(&ip, involved_ns, MISMATCH));
        }
        let rc = s(&ev.reporting_component);
        if rc.is_empty() {
            errs.push(Error::required(&Path::new("reportingComponent"), ""));
        }
        errs.extend(qualified_name(rc, &Path::new("reportingComponent")));
        for (field, value, limit, required) in [
            ("reportingInstance", s(&ev.reporting_instance), 128, true),
            ("action", s(&ev.action), 128, true),
            ("reason", s(&ev.reason), 128, true),
            ("message", s(&ev.message), 1024, false),
        ] {
            if required && value.is_empty() {
                errs.push(Error::required(&Path::new(field), ""));
            }
            if value.len() > limit {
                errs.push(Error::invalid(
                    &Path::new(field),
                    "",
                    &format!("can have at most {limit} characters"),
                ));
            }
        }
    }
    for m in is_dns1123_subdomain(ns) {
        errs.push(Error::invalid(&Path::new("namespace"), ns, &m));
    }
    errs
}

pub(crate) fn validate_event_update(new: &Event, old: &Event) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(validate_event(new));
    errs
}

// ---------------------------------------------------------------------------------------------
// ReplicationController.

fn rc_template(
    t: Option<&PodTemplateSpec>,
    selector: &BTreeMap<String, String>,
    path: &Path,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(t) = t else {
        errs.push(Error::required(path, ""));
        return errs;
    };
    let labels = t
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if !selector.is_empty() && !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        errs.push(Error::invalid(
            &path.child("metadata").child("labels"),
            BadValue::json(&labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_pod_template_spec(t, path));
    let spec = t.spec.clone().unwrap_or_default();
    let rp = s(&spec.restart_policy);
    if rp != "Always" {
        errs.push(Error::not_supported(
            &path.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    if spec.active_deadline_seconds.is_some() {
        errs.push(Error::forbidden(
            &path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
    errs
}

fn rc_spec(rc: &ReplicationController) -> ErrorList {
    let mut errs = ErrorList::new();
    let sp = Path::new("spec");
    let spec = rc.spec.clone().unwrap_or_default();
    errs.extend(validate_nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &sp.child("minReadySeconds"),
    ));
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        errs.push(Error::required(&sp.child("selector"), ""));
    }
    errs.extend(validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &sp.child("replicas"),
    ));
    errs.extend(rc_template(
        spec.template.as_ref(),
        &selector,
        &sp.child("template"),
    ));
    errs
}

pub(crate) fn validate_replication_controller(rc: &ReplicationController) -> ErrorList {
    let mut errs = validate_object_meta(
        &rc.metadata,
        core_meta(true, name_is_dns_subdomain),
        &meta_path(),
    );
    errs.extend(rc_spec(rc));
    errs
}

pub(crate) fn validate_replication_controller_update(
    new: &ReplicationController,
    old: &ReplicationController,
) -> ErrorList {
    let mut errs = validate_object_meta_update(&new.metadata, &old.metadata, true, &meta_path());
    errs.extend(rc_spec(new));
    errs
}

// ---------------------------------------------------------------------------------------------
// Binding.

pub(crate) fn validate_binding(b: &Binding) -> ErrorList {
    let mut errs = ErrorList::new();
    let kind = s(&b.target.kind);
    if !kind.is_empty() && kind != "Node" {
        errs.push(Error::not_supported(
            &Path::new("target").child("kind"),
            kind,
            &["Node", "<empty>"],
        ));
    }
    if s(&b.target.name).is_empty() {
        errs.push(Error::required(&Path::new("target").child("name"), ""));
    }
    errs
}
