//! What the Service registry allocates and releases on create, update and delete
//! (kube-apiserver's `pkg/registry/core/service/storage/alloc.go` and the strategy's
//! `patchAllocatedValues` / `dropTypeDependentFields`), over JSON Services.

use super::persist::{AllocError, RangeStore, Want};
use super::range::{Family, PortRange, ServiceCidr};
use crate::errors::{self, FieldError, Result};
use crate::object::meta_str;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The allocators of one server: service IPs and node ports.
#[derive(Clone)]
pub(crate) struct Allocators {
    pub(crate) cidr: ServiceCidr,
    pub(crate) node_ports: PortRange,
    pub(crate) ips: RangeStore,
    pub(crate) ports: RangeStore,
}

/// What one write did to the ranges: offsets it allocated (released again if the write
/// fails) and offsets the old object held that it gives up (released once the write
/// succeeded).
#[derive(Debug, Default)]
#[must_use = "a Txn must be committed or reverted"]
pub(crate) struct Txn {
    ips: Vec<u64>,
    ports: Vec<u64>,
    free_ips: Vec<u64>,
    free_ports: Vec<u64>,
}

// ---- reading Services ----------------------------------------------------------------------

fn spec(svc: &Value) -> Option<&Map<String, Value>> {
    svc.get("spec").and_then(Value::as_object)
}

fn spec_mut(svc: &mut Value) -> &mut Map<String, Value> {
    if !svc.is_object() {
        *svc = json!({});
    }
    let m = svc.as_object_mut().expect("an object");
    let s = m.entry("spec").or_insert_with(|| json!({}));
    if !s.is_object() {
        *s = json!({});
    }
    s.as_object_mut().expect("an object")
}

fn spec_str<'a>(svc: &'a Value, f: &str) -> &'a str {
    spec(svc)
        .and_then(|s| s.get(f))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn type_of(svc: &Value) -> &str {
    match spec_str(svc, "type") {
        "" => "ClusterIP",
        t => t,
    }
}

fn needs_cluster_ip(svc: &Value) -> bool {
    type_of(svc) != "ExternalName"
}

fn needs_node_port(svc: &Value) -> bool {
    matches!(type_of(svc), "NodePort" | "LoadBalancer")
}

fn needs_hc(svc: &Value) -> bool {
    type_of(svc) == "LoadBalancer" && spec_str(svc, "externalTrafficPolicy") == "Local"
}

fn externally_accessible(svc: &Value) -> bool {
    needs_node_port(svc)
        || (type_of(svc) == "ClusterIP"
            && spec(svc)
                .and_then(|s| s.get("externalIPs"))
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty()))
}

/// `shouldAllocateNodePorts`: NodePort always, LoadBalancer unless
/// `allocateLoadBalancerNodePorts: false`.
fn should_allocate_node_ports(svc: &Value) -> bool {
    match type_of(svc) {
        "NodePort" => true,
        "LoadBalancer" => spec(svc)
            .and_then(|s| s.get("allocateLoadBalancerNodePorts"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        _ => false,
    }
}

/// `clusterIPs`, or `[clusterIP]` when only that is set.
pub(crate) fn cluster_ips(svc: &Value) -> Vec<String> {
    let list = crate::object::strings(spec(svc).and_then(|s| s.get("clusterIPs")));
    if !list.is_empty() {
        return list;
    }
    match spec_str(svc, "clusterIP") {
        "" => Vec::new(),
        ip => vec![ip.to_string()],
    }
}

fn is_headless(svc: &Value) -> bool {
    spec_str(svc, "clusterIP") == "None"
        || cluster_ips(svc).first().map(String::as_str) == Some("None")
}

fn has_selector(svc: &Value) -> bool {
    spec(svc)
        .and_then(|s| s.get("selector"))
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

fn families(svc: &Value) -> Vec<String> {
    crate::object::strings(spec(svc).and_then(|s| s.get("ipFamilies")))
}

fn ports(svc: &Value) -> Vec<Value> {
    spec(svc)
        .and_then(|s| s.get("ports"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn int(v: &Value, f: &str) -> i64 {
    v.get(f).and_then(Value::as_i64).unwrap_or(0)
}

/// Every non-zero `nodePort` of the ports.
fn node_port_numbers(svc: &Value) -> Vec<i64> {
    ports(svc)
        .iter()
        .map(|p| int(p, "nodePort"))
        .filter(|n| *n != 0)
        .collect()
}

fn hc_port(svc: &Value) -> i64 {
    spec(svc).map_or(0, |s| {
        s.get("healthCheckNodePort")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    })
}

fn set_node_port(svc: &mut Value, i: usize, n: i64) {
    if let Some(Value::Object(p)) = spec_mut(svc).get_mut("ports").and_then(|a| a.get_mut(i)) {
        if n == 0 {
            p.shift_remove("nodePort");
        } else {
            p.insert("nodePort".into(), json!(n));
        }
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

fn invalid(svc: &Value, errs: &[FieldError]) -> errors::Error {
    errors::invalid("", "Service", meta_str(svc, "name").unwrap_or(""), errs)
}

fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// What decoding a v1 Service into kube-apiserver's internal form does: `clusterIPs` from
/// `clusterIP` and `clusterIP` from `clusterIPs[0]`, whichever is missing.
fn convert(svc: &mut Value) {
    let ip = spec_str(svc, "clusterIP").to_string();
    let list = spec(svc)
        .and_then(|s| s.get("clusterIPs"))
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .and_then(|a| a[0].as_str())
        .map(str::to_string);
    match (ip.is_empty(), list) {
        (false, None) => {
            spec_mut(svc).insert("clusterIPs".into(), json!([ip]));
        }
        (true, Some(first)) => {
            spec_mut(svc).insert("clusterIP".into(), json!(first));
        }
        _ => {}
    }
}

/// Whether the clusterIPs are well-formed enough to allocate from (`None` first, or IPs);
/// otherwise validation reports them.
fn well_formed_ips(svc: &Value) -> bool {
    cluster_ips(svc)
        .iter()
        .enumerate()
        .all(|(i, ip)| (i == 0 && ip == "None") || parse_ip(ip).is_some())
}

// ---- before admission ----------------------------------------------------------------------

/// Runs on every update of a Service before admission: keeps what the server allocated when
/// the client left it out (`patchAllocatedValues`: a re-applied manifest without `clusterIP`
/// or `nodePort`s keeps them), and clears the fields a type change makes meaningless when the
/// client left them as they were (`dropTypeDependentFields`).
pub(crate) fn prepare_update(new: &mut Value, old: &Value) {
    convert(new);
    // patchAllocatedValues
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        let s = spec_mut(new);
        let empty_ip = s
            .get("clusterIP")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if empty_ip {
            if let Some(v) = spec(old).and_then(|o| o.get("clusterIP")).cloned() {
                s.insert("clusterIP".into(), v);
            }
        }
        let empty_ips = s
            .get("clusterIPs")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if empty_ips {
            if let Some(v) = spec(old)
                .and_then(|o| o.get("clusterIPs"))
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                .cloned()
            {
                s.insert("clusterIPs".into(), v);
            }
        }
    }
    if needs_node_port(old) && needs_node_port(new) {
        let old_set: BTreeSet<i64> = node_port_numbers(old).into_iter().collect();
        let new_set: BTreeSet<i64> = node_port_numbers(new).into_iter().collect();
        let mut used: BTreeSet<i64> = old_set.intersection(&new_set).copied().collect();
        let by_name: BTreeMap<String, i64> = ports(old)
            .iter()
            .map(|p| {
                (
                    p.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    int(p, "nodePort"),
                )
            })
            .collect();
        for (i, p) in ports(new).iter().enumerate() {
            if int(p, "nodePort") != 0 {
                continue;
            }
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(&n) = by_name.get(name) {
                if n != 0 && !used.contains(&n) {
                    set_node_port(new, i, n);
                    used.insert(n);
                }
            }
        }
    }
    if needs_hc(old) && needs_hc(new) && hc_port(new) == 0 && hc_port(old) != 0 {
        spec_mut(new).insert("healthCheckNodePort".into(), json!(hc_port(old)));
    }

    // NormalizeClusterIPs: a changed clusterIP with clusterIPs left as they were.
    let (new_ip, old_ip) = (
        spec_str(new, "clusterIP").to_string(),
        spec_str(old, "clusterIP"),
    );
    if new_ip != old_ip && cluster_ips(new) == cluster_ips(old) {
        if new_ip.is_empty() {
            spec_mut(new).shift_remove("clusterIPs");
        } else {
            spec_mut(new).insert("clusterIPs".into(), json!([new_ip]));
        }
    }

    // dropTypeDependentFields
    let same =
        |f: &str, new: &Value| spec(new).and_then(|s| s.get(f)) == spec(old).and_then(|s| s.get(f));
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if cluster_ips(new) == cluster_ips(old) {
            let s = spec_mut(new);
            s.shift_remove("clusterIP");
            s.shift_remove("clusterIPs");
        }
        if same("ipFamilies", new) {
            spec_mut(new).shift_remove("ipFamilies");
        }
        if same("ipFamilyPolicy", new) {
            spec_mut(new).shift_remove("ipFamilyPolicy");
        }
    }
    if needs_node_port(old)
        && !needs_node_port(new)
        && node_port_numbers(new) == node_port_numbers(old)
    {
        for i in 0..ports(new).len() {
            set_node_port(new, i, 0);
        }
    }
    if needs_hc(old) && !needs_hc(new) && same("healthCheckNodePort", new) {
        spec_mut(new).shift_remove("healthCheckNodePort");
    }
    if type_of(old) == "LoadBalancer" && type_of(new) != "LoadBalancer" {
        for f in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if same(f, new) {
                spec_mut(new).shift_remove(f);
            }
        }
    }
    if externally_accessible(old)
        && !externally_accessible(new)
        && same("externalTrafficPolicy", new)
    {
        spec_mut(new).shift_remove("externalTrafficPolicy");
    }
}

// ---- allocation ----------------------------------------------------------------------------

/// Where a node port goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// `spec.ports[i].nodePort` (and every later port of the same number that shares it).
    Port(usize),
    /// `spec.healthCheckNodePort`.
    HealthCheck,
}

impl Allocators {
    /// The IP offsets and node-port offsets a stored Service holds (what the repair pass
    /// counts as in use).
    pub(crate) fn held(&self, svc: &Value) -> (Vec<u64>, Vec<u64>) {
        let mut ips = Vec::new();
        if needs_cluster_ip(svc) && !is_headless(svc) {
            for ip in cluster_ips(svc) {
                if let Some(o) = parse_ip(&ip).and_then(|a| self.cidr.offset_of(&a)) {
                    ips.push(o);
                }
            }
        }
        let mut ports: Vec<u64> = node_port_numbers(svc)
            .into_iter()
            .filter_map(|n| self.node_ports.offset_of(n))
            .collect();
        if needs_hc(svc) {
            ports.extend(self.node_ports.offset_of(hc_port(svc)));
        }
        ports.sort_unstable();
        ports.dedup();
        (ips, ports)
    }

    /// `initIPFamilyFields`: defaults `ipFamilyPolicy` and `ipFamilies` and checks they fit
    /// this single-stack cluster.
    fn init_families(&self, svc: &mut Value, old: Option<&Value>) -> Result<()> {
        if !needs_cluster_ip(svc) {
            return Ok(());
        }
        let default = self.cidr.family();
        let headless_selectorless = is_headless(svc) && !has_selector(svc);
        if spec_str(svc, "ipFamilyPolicy").is_empty() {
            let policy = match old.map(|o| spec_str(o, "ipFamilyPolicy")) {
                Some(p) if !p.is_empty() => p.to_string(),
                _ if headless_selectorless => "RequireDualStack".into(),
                _ => "SingleStack".into(),
            };
            spec_mut(svc).insert("ipFamilyPolicy".into(), json!(policy));
        }
        let policy = spec_str(svc, "ipFamilyPolicy").to_string();
        let ips = cluster_ips(svc);
        let mut fams = families(svc);
        let mut errs = Vec::new();
        if policy == "SingleStack" {
            if ips.len() == 2 {
                errs.push(FieldError::invalid(
                    "spec.ipFamilyPolicy",
                    &json_text(&policy),
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
                ));
            }
            if fams.len() == 2 {
                errs.push(FieldError::invalid(
                    "spec.ipFamilyPolicy",
                    &json_text(&policy),
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
                ));
            }
        }
        for (i, ip) in ips.iter().enumerate() {
            if ip == "None" {
                break;
            }
            let Some(fam) = parse_ip(ip).map(|a| Family::of(&a)) else {
                continue;
            };
            if i >= fams.len() {
                if fam != default {
                    errs.push(FieldError::invalid(
                        &format!("spec.clusterIPs[{i}]"),
                        &json_text(&ips),
                        &format!("{} is not configured on this cluster", fam.as_str()),
                    ));
                } else {
                    fams.push(fam.as_str().to_string());
                }
            }
        }
        if !errs.is_empty() {
            return Err(invalid(svc, &errs));
        }
        if headless_selectorless {
            if fams.is_empty() {
                fams.push(default.as_str().into());
            }
            if fams.len() < 2 && policy != "SingleStack" {
                let first = if fams[0] == "IPv6" {
                    Family::V6
                } else {
                    Family::V4
                };
                fams.push(first.other().as_str().into());
            }
            spec_mut(svc).insert("ipFamilies".into(), json!(fams));
            return Ok(());
        }
        if policy == "RequireDualStack" {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                &json_text(&policy),
                "this cluster is not configured for dual-stack services",
            ));
        }
        for (i, f) in fams.iter().enumerate() {
            if f != default.as_str() {
                errs.push(FieldError::invalid(
                    &format!("spec.ipFamilies[{i}]"),
                    &json_text(f),
                    "not configured on this cluster",
                ));
            }
        }
        if !errs.is_empty() {
            return Err(invalid(svc, &errs));
        }
        if fams.is_empty() {
            fams.push(default.as_str().into());
        }
        spec_mut(svc).insert("ipFamilies".into(), json!(fams));
        Ok(())
    }

    /// Allocates the requested or a random cluster IP and writes `clusterIP`/`clusterIPs`.
    async fn alloc_cluster_ip(&self, svc: &mut Value, dry_run: bool) -> Result<Vec<u64>> {
        let ips = cluster_ips(svc);
        let want = match ips.first() {
            None => Want::Next,
            Some(ip) => match parse_ip(ip).and_then(|a| self.cidr.offset_of(&a)) {
                Some(o) => Want::Exact(o),
                None => {
                    return Err(invalid(
                        svc,
                        &[FieldError::invalid(
                            "spec.clusterIPs",
                            &json_text(&ips),
                            &format!(
                                "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                                self.cidr
                            ),
                        )],
                    ))
                }
            },
        };
        match self.ips.allocate(&[want], dry_run).await {
            Ok(got) => {
                let ip = self
                    .cidr
                    .ip_at(got[0])
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let s = spec_mut(svc);
                s.insert("clusterIP".into(), json!(ip));
                s.insert("clusterIPs".into(), json!([ip]));
                Ok(if dry_run { Vec::new() } else { got })
            }
            Err(AllocError::Allocated(_)) => {
                let ip = ips.first().cloned().unwrap_or_default();
                Err(invalid(
                    svc,
                    &[FieldError::invalid(
                        "spec.clusterIPs",
                        &json_text(&ips),
                        &format!("failed to allocate IP {ip}: provided IP is already allocated"),
                    )],
                ))
            }
            Err(AllocError::Full) => Err(errors::internal(
                "failed to allocate a serviceIP: range is full",
            )),
            Err(AllocError::Other(e)) => Err(errors::internal(e)),
        }
    }

    /// Allocates the node ports a NodePort or LoadBalancer Service needs (`initNodePorts`,
    /// `updateNodePorts`, the health-check node port); `old_ports` are node ports the stored
    /// object already holds. Returns the new offsets.
    async fn alloc_node_ports(
        &self,
        svc: &mut Value,
        old_ports: &[i64],
        old_hc: Option<i64>,
        dry_run: bool,
    ) -> Result<Vec<u64>> {
        let range = self.node_ports;
        let not_in_range =
            format!("provided port is not in the valid range. The range of valid ports is {range}");
        let should = should_allocate_node_ports(svc);
        let list = ports(svc);
        let mut wants: Vec<(Slot, Want)> = Vec::new();
        let mut claimed: BTreeSet<i64> = old_ports.iter().copied().collect();
        // Service port number → the slot whose random node port it shares.
        let mut shared: BTreeMap<i64, usize> = BTreeMap::new();
        let mut sharers: Vec<(usize, usize)> = Vec::new();
        for (i, p) in list.iter().enumerate() {
            let mut np = int(p, "nodePort");
            if np == 0 && !should {
                continue;
            }
            let port = int(p, "port");
            if np == 0 {
                // A port of the same number with a requested node port shares it.
                if let Some(req) = list
                    .iter()
                    .find(|q| int(q, "port") == port && int(q, "nodePort") != 0)
                {
                    np = int(req, "nodePort");
                    set_node_port(svc, i, np);
                }
            }
            if np != 0 {
                if claimed.contains(&np) {
                    continue;
                }
                let Some(off) = range.offset_of(np) else {
                    return Err(invalid(
                        svc,
                        &[FieldError::invalid(
                            &format!("spec.ports[{i}].nodePort"),
                            &np.to_string(),
                            &not_in_range,
                        )],
                    ));
                };
                claimed.insert(np);
                wants.push((Slot::Port(i), Want::Exact(off)));
            } else if let Some(&w) = shared.get(&port) {
                sharers.push((i, w));
            } else {
                shared.insert(port, wants.len());
                wants.push((Slot::Port(i), Want::Next));
            }
        }
        if needs_hc(svc) && old_hc.is_none() {
            let hc = hc_port(svc);
            if hc == 0 {
                wants.push((Slot::HealthCheck, Want::Next));
            } else if claimed.contains(&hc) {
                return Err(errors::internal(format!(
                    "failed to allocate requested HealthCheck NodePort {hc}: provided port is already allocated"
                )));
            } else {
                let Some(off) = range.offset_of(hc) else {
                    return Err(errors::internal(format!(
                        "failed to allocate requested HealthCheck NodePort {hc}: {not_in_range}"
                    )));
                };
                wants.push((Slot::HealthCheck, Want::Exact(off)));
            }
        }
        let plain: Vec<Want> = wants.iter().map(|(_, w)| *w).collect();
        match self.ports.allocate(&plain, dry_run).await {
            Ok(got) => {
                for ((slot, _), off) in wants.iter().zip(&got) {
                    let n = range.port_at(*off);
                    match slot {
                        Slot::Port(i) => set_node_port(svc, *i, n),
                        Slot::HealthCheck => {
                            spec_mut(svc).insert("healthCheckNodePort".into(), json!(n));
                        }
                    }
                }
                for (i, w) in sharers {
                    set_node_port(svc, i, range.port_at(got[w]));
                }
                Ok(if dry_run { Vec::new() } else { got })
            }
            Err(AllocError::Allocated(k)) => match wants[k] {
                (Slot::Port(i), Want::Exact(off)) => Err(invalid(
                    svc,
                    &[FieldError::invalid(
                        &format!("spec.ports[{i}].nodePort"),
                        &range.port_at(off).to_string(),
                        "provided port is already allocated",
                    )],
                )),
                (_, w) => {
                    let n = match w {
                        Want::Exact(off) => range.port_at(off),
                        Want::Next => 0,
                    };
                    Err(errors::internal(format!(
                        "failed to allocate requested HealthCheck NodePort {n}: provided port is already allocated"
                    )))
                }
            },
            Err(AllocError::Full) => Err(errors::internal(
                "failed to allocate a nodePort: range is full",
            )),
            Err(AllocError::Other(e)) => Err(errors::internal(e)),
        }
    }

    /// `allocateCreate`: IP family fields, the cluster IP and the node ports of a new Service.
    pub(crate) async fn on_create(&self, svc: &mut Value, dry_run: bool) -> Result<Txn> {
        let mut txn = Txn::default();
        convert(svc);
        if !well_formed_ips(svc) {
            return Ok(txn);
        }
        self.init_families(svc, None)?;
        if needs_cluster_ip(svc) && !is_headless(svc) {
            txn.ips = self.alloc_cluster_ip(svc, dry_run).await?;
        }
        if needs_node_port(svc) {
            match self.alloc_node_ports(svc, &[], None, dry_run).await {
                Ok(p) => txn.ports = p,
                Err(e) => {
                    self.revert(txn).await;
                    return Err(e);
                }
            }
        }
        Ok(txn)
    }

    /// `allocateUpdate`: allocations for the new object of an update, releases of what the
    /// old one held and the new one does not (done by [`Allocators::commit`]).
    pub(crate) async fn on_update(
        &self,
        new: &mut Value,
        old: &Value,
        dry_run: bool,
    ) -> Result<Txn> {
        let mut txn = Txn::default();
        if !well_formed_ips(new) {
            return Ok(txn);
        }
        self.init_families(new, Some(old))?;
        let (old_ips, old_ports) = self.held(old);
        if needs_cluster_ip(new) && !is_headless(new) {
            let ips = cluster_ips(new);
            let kept = !old_ips.is_empty()
                && ips
                    .first()
                    .and_then(|ip| parse_ip(ip))
                    .and_then(|a| self.cidr.offset_of(&a))
                    == old_ips.first().copied();
            if !kept && (!needs_cluster_ip(old) || ips.is_empty()) {
                txn.ips = self.alloc_cluster_ip(new, dry_run).await?;
            }
        } else if needs_cluster_ip(old) && !is_headless(old) {
            txn.free_ips = old_ips.clone();
        }
        if needs_node_port(new) {
            let old_hc = (needs_hc(old) && hc_port(old) != 0).then(|| hc_port(old));
            match self
                .alloc_node_ports(new, &node_port_numbers(old), old_hc, dry_run)
                .await
            {
                Ok(p) => txn.ports = p,
                Err(e) => {
                    self.revert(txn).await;
                    return Err(e);
                }
            }
        }
        let (_, new_ports) = self.held(new);
        txn.free_ports = old_ports
            .into_iter()
            .filter(|o| !new_ports.contains(o))
            .collect();
        if dry_run {
            txn.free_ips.clear();
            txn.free_ports.clear();
        }
        Ok(txn)
    }

    /// The write succeeded: releases what the old object gave up.
    pub(crate) async fn commit(&self, txn: Txn) {
        self.release(&txn.free_ips, &txn.free_ports).await;
    }

    /// The write failed: releases what was allocated for it.
    pub(crate) async fn revert(&self, txn: Txn) {
        self.release(&txn.ips, &txn.ports).await;
    }

    /// The Service is gone: releases everything it held.
    pub(crate) async fn on_delete(&self, svc: &Value) {
        let (ips, ports) = self.held(svc);
        self.release(&ips, &ports).await;
    }

    async fn release(&self, ips: &[u64], ports: &[u64]) {
        // A failure leaves the offset taken until the repair pass frees it.
        if let Err(e) = self.ips.release(ips).await {
            tracing::warn!(error = %e, "releasing service IPs");
        }
        if let Err(e) = self.ports.release(ports).await {
            tracing::warn!(error = %e, "releasing node ports");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(spec: Value) -> Value {
        json!({"metadata": {"name": "s"}, "spec": spec})
    }

    #[test]
    fn re_sent_manifests_keep_allocated_values() {
        let old = svc(json!({
            "type": "NodePort", "clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"],
            "ports": [{"name": "a", "port": 80, "nodePort": 30001}, {"name": "b", "port": 81, "nodePort": 30002}]
        }));
        let mut new = svc(json!({
            "type": "NodePort",
            "ports": [{"name": "b", "port": 81}, {"name": "a", "port": 80}, {"name": "c", "port": 82}]
        }));
        prepare_update(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.0.0.7");
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.0.0.7"]));
        assert_eq!(node_port_numbers(&new), vec![30002, 30001]);
    }

    #[test]
    fn type_changes_drop_dependent_fields() {
        let old = svc(json!({
            "type": "LoadBalancer", "clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"],
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "externalTrafficPolicy": "Local", "healthCheckNodePort": 30009,
            "allocateLoadBalancerNodePorts": true,
            "ports": [{"port": 80, "nodePort": 30001}]
        }));
        let mut to_cluster_ip = old.clone();
        to_cluster_ip["spec"]["type"] = json!("ClusterIP");
        prepare_update(&mut to_cluster_ip, &old);
        let s = &to_cluster_ip["spec"];
        for f in [
            "healthCheckNodePort",
            "externalTrafficPolicy",
            "allocateLoadBalancerNodePorts",
        ] {
            assert!(s.get(f).is_none(), "{f}");
        }
        assert!(s["ports"][0].get("nodePort").is_none());
        assert_eq!(s["clusterIP"], "10.0.0.7");

        let mut to_external = old.clone();
        to_external["spec"]["type"] = json!("ExternalName");
        prepare_update(&mut to_external, &old);
        for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            assert!(to_external["spec"].get(f).is_none(), "{f}");
        }
    }

    #[test]
    fn a_changed_cluster_ip_carries_cluster_ips() {
        let old = svc(json!({"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"]}));
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.0.0.9");
        prepare_update(&mut new, &old);
        assert_eq!(new["spec"]["clusterIPs"], json!(["10.0.0.9"]));
        let mut only_list = svc(json!({"clusterIPs": ["10.0.0.3"]}));
        convert(&mut only_list);
        assert_eq!(only_list["spec"]["clusterIP"], "10.0.0.3");
    }
}
