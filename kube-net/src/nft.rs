//! The nftables backend: a table of our own (`ip kubox` by default), applied with `nft -f -`
//! transactions, one per sync.
//!
//! The layout follows Kubernetes' nftables proxier (`pkg/proxy/nftables/proxier.go`):
//!
//! - base chains `nat-prerouting`/`nat-output` (hook priority dstnat) jump to `services`, which
//!   dispatches `ip daddr . meta l4proto . th dport` through the verdict map `service-ips` to
//!   a per-Service-port chain `service-<hash>-<ns>/<name>/<proto>/<port>`, and local
//!   destinations (`fib daddr type local`, not 127/8) by `meta l4proto . th dport` through
//!   `service-nodeports` to `external-…`;
//! - `nat-postrouting` jumps to `masquerading`, which masquerades packets carrying bit
//!   0x4000 set by `mark-for-masquerade` (hairpin traffic, NodePort traffic with policy
//!   Cluster, and ClusterIP traffic from outside the cluster CIDR or with masquerade-all);
//! - filter chains (priority dstnat−10, written as numbers: nft accepts the names only for
//!   some hooks) send new connections through `service-endpoints-check`
//!   and `nodeport-endpoints-check`, which look up `no-endpoint-services` /
//!   `no-endpoint-nodeports` and `goto reject-chain` (or drop, for a Local policy whose
//!   endpoints are all on other nodes).
//!
//! The endpoint choice is uniform: `numgen random mod N`. One deliberate difference from
//! Kubernetes, for speed: a Service port *without* session affinity needs no per-endpoint
//! chains; its service chain ends in `dnat to numgen random mod N offset B map
//! @endpoints-<proto>`, where `B..B+N` are the port's slots in one global map from slot number
//! to `ip . port` (anonymous per-rule maps would make the kernel's set-name allocation
//! quadratic: 2,000 Services took 2.5 s that way). Hairpin traffic (a pod reaching itself
//! through its Service) is masqueraded by one rule in `nat-postrouting` over the set
//! `endpoint-hairpin` of `ip . ip` pairs. A Service port *with*
//! `sessionAffinity: ClientIP` gets Kubernetes' structure: a chain
//! `endpoint-<hash>-…__<ip>/<port>` per endpoint that updates a per-endpoint dynamic set
//! `affinity-<hash>-…` (timeout = `timeoutSeconds`) and DNATs, and the service chain first
//! sends clients found in an affinity set to that endpoint, then `numgen random mod N offset B
//! vmap @endpoint-chains` (again one global map). A first sync of 10,000 Services × 10
//! endpoints is thus 10,000 chains and three big maps instead of 110,000 chains.
//!
//! Syncs: the first (and any after an error or [`resync`](NetworkRules::resync)) recreates the
//! whole table in one transaction (`add table; delete table; table … { … }`); later ones
//! rewrite only the chains of changed Service ports and add/delete only the changed map
//! elements, also in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::model::{DesiredState, ServicePortName, ServicePortRules};
use crate::rules::{diff, Error, NetworkRules, Report, Result};

/// The masquerade bit, as Kubernetes (`0x4000`).
pub const MASQUERADE_MARK: u32 = 0x4000;

/// Settings of the nftables backend.
#[derive(Clone, Debug)]
pub struct NftConfig {
    /// The table name (family `ip`).
    pub table: String,
    /// The network namespace to program (a path such as `/run/netns/node1`); `None`: the
    /// current one. Commands run as `nsenter --net=<path> nft -f -`.
    pub netns: Option<PathBuf>,
    /// The `nft` binary.
    pub nft: String,
    /// Masquerade all ClusterIP traffic (`--masquerade-all`).
    pub masquerade_all: bool,
    /// The pod CIDR: ClusterIP traffic from outside it is masqueraded (`--cluster-cidr`).
    pub cluster_cidr: Option<(Ipv4Addr, u8)>,
}

impl Default for NftConfig {
    fn default() -> Self {
        NftConfig {
            table: "kubox".into(),
            netns: None,
            nft: "nft".into(),
            masquerade_all: false,
            cluster_cidr: None,
        }
    }
}

/// A block of endpoint slots: numbers `base..base+len` in the global `endpoints` (or
/// `endpoint-chains`) map, one per endpoint of a Service port's dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    base: u32,
    len: u32,
}

/// The slot ranges of a Service port: ClusterIP dispatch and (Local policy) NodePort dispatch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PortSlots {
    cluster: Option<Range>,
    local: Option<Range>,
}

/// The nftables [`NetworkRules`] backend.
#[derive(Debug)]
pub struct Nftables {
    config: NftConfig,
    /// The state the table holds (after the last successful sync); `None`: resync next.
    applied: Option<DesiredState>,
    slots: BTreeMap<ServicePortName, PortSlots>,
    next_slot: u32,
    /// Endpoint IPs (with reference counts) in the `endpoint-hairpin` set.
    hairpin: BTreeMap<Ipv4Addr, usize>,
    rules: BTreeMap<ServicePortName, usize>,
}

impl Nftables {
    /// A backend with `config`. Nothing is run until the first sync.
    pub fn new(config: NftConfig) -> Self {
        Nftables {
            config,
            applied: None,
            slots: BTreeMap::new(),
            next_slot: 0,
            hairpin: BTreeMap::new(),
            rules: BTreeMap::new(),
        }
    }

    /// Whether nftables is usable: runs `nft` to create and delete a scratch table.
    pub async fn probe(config: &NftConfig) -> Result<()> {
        let name = format!("{}-probe-{}", config.table, std::process::id());
        run_nft(
            config,
            format!("add table ip {name}\ndelete table ip {name}\n"),
        )
        .await
    }

    /// The ruleset text of the whole table (`nft list table`), for debugging and tests.
    pub async fn list(&self) -> Result<String> {
        let mut cmd = command(&self.config);
        cmd.args(["list", "table", "ip", &self.config.table]);
        let out = cmd.output().await.map_err(|e| Error::Io {
            context: "running nft list".into(),
            source: e,
        })?;
        if !out.status.success() {
            return Err(Error::Command {
                command: "nft list table".into(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn alloc(&mut self, len: usize) -> Option<Range> {
        if len == 0 {
            return None;
        }
        let len = len as u32;
        let base = self.next_slot;
        self.next_slot = self.next_slot.saturating_add(len);
        Some(Range { base, len })
    }

    fn alloc_port(&mut self, r: &ServicePortRules) -> PortSlots {
        PortSlots {
            cluster: self.alloc(r.cluster_endpoints.len()),
            local: if r.node_port.is_some() && r.external_local {
                self.alloc(r.external_endpoints.len())
            } else {
                None
            },
        }
    }

    fn full_script(&mut self, desired: &DesiredState) -> String {
        let t = self.config.table.clone();
        self.slots.clear();
        self.next_slot = 0;
        self.hairpin.clear();
        self.rules.clear();
        let mut s = String::with_capacity(desired.services.len() * 600 + 4096);
        let _ = writeln!(s, "add table ip {t}\ndelete table ip {t}");
        s.push_str(&base_table(&t));
        let mut elems: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for r in desired.services.values() {
            let names = Names::of(&r.name);
            for chain in port_chains(r, &names) {
                let _ = writeln!(s, "add chain ip {t} {chain}");
            }
            let slots = self.alloc_port(r);
            let n = self.port_rules(&mut s, r, &names, &slots);
            self.rules.insert(r.name.clone(), n);
            for (map, e) in elements(r)
                .into_iter()
                .chain(slot_elements(r, &names, &slots))
            {
                elems.entry(map).or_default().push(e);
            }
            for ep in r.all_endpoints() {
                *self.hairpin.entry(*ep.ip()).or_insert(0) += 1;
            }
            self.slots.insert(r.name.clone(), slots);
        }
        for ip in self.hairpin.keys() {
            elems
                .entry("endpoint-hairpin")
                .or_default()
                .push(format!("{ip} . {ip}"));
        }
        for (map, v) in elems {
            for chunk in v.chunks(4096) {
                let _ = writeln!(s, "add element ip {t} {map} {{ {} }}", chunk.join(", "));
            }
        }
        s
    }

    /// Writes the rules of a Service port into its (existing, empty) chains, and the endpoint
    /// chains / affinity sets it needs. Returns the number of rules written.
    fn port_rules(
        &self,
        s: &mut String,
        r: &ServicePortRules,
        names: &Names,
        slots: &PortSlots,
    ) -> usize {
        let t = &self.config.table;
        let mut n = 0;
        // Endpoint chains and affinity sets first: the service chain refers to them.
        if let Some(aff) = r.affinity {
            let proto = r.name.protocol.as_str();
            for ep in r.all_endpoints() {
                let (chain, set) = names.endpoint(ep);
                let _ = writeln!(
                    s,
                    "add set ip {t} {set} {{ type ipv4_addr; flags dynamic,timeout; timeout {}s; }}",
                    aff.timeout_seconds
                );
                let _ = writeln!(s, "add chain ip {t} {chain}");
                let _ = writeln!(
                    s,
                    "add rule ip {t} {chain} ip saddr {} jump mark-for-masquerade",
                    ep.ip()
                );
                let _ = writeln!(s, "add rule ip {t} {chain} update @{set} {{ ip saddr }}");
                let _ = writeln!(
                    s,
                    "add rule ip {t} {chain} meta l4proto {proto} dnat to {ep}"
                );
                n += 3;
            }
        }
        let svc = &names.service;
        if self.config.masquerade_all {
            let _ = writeln!(s, "add rule ip {t} {svc} jump mark-for-masquerade");
            n += 1;
        } else if let Some((net, len)) = self.config.cluster_cidr {
            let _ = writeln!(
                s,
                "add rule ip {t} {svc} ip saddr != {net}/{len} jump mark-for-masquerade"
            );
            n += 1;
        }
        n += self.dispatch(s, r, svc, &r.cluster_endpoints, slots.cluster, names);
        if r.node_port.is_some() {
            let ext = &names.external;
            if !r.external_local {
                let _ = writeln!(s, "add rule ip {t} {ext} jump mark-for-masquerade");
                let _ = writeln!(s, "add rule ip {t} {ext} goto {svc}");
                n += 2;
            } else {
                let local = &names.local;
                let _ = writeln!(s, "add rule ip {t} {ext} goto {local}");
                n += 1;
                n += self.dispatch(s, r, local, &r.external_endpoints, slots.local, names);
            }
        }
        n
    }

    /// The endpoint choice in `chain` over `eps` (slots `range`). Returns the rule count.
    fn dispatch(
        &self,
        s: &mut String,
        r: &ServicePortRules,
        chain: &str,
        eps: &[SocketAddrV4],
        range: Option<Range>,
        names: &Names,
    ) -> usize {
        let Some(range) = range else {
            return 0;
        };
        let t = &self.config.table;
        let proto = r.name.protocol.as_str();
        if r.affinity.is_some() {
            for ep in eps {
                let (ep_chain, set) = names.endpoint(*ep);
                let _ = writeln!(s, "add rule ip {t} {chain} ip saddr @{set} goto {ep_chain}");
            }
            let _ = writeln!(
                s,
                "add rule ip {t} {chain} numgen random mod {} offset {} vmap @endpoint-chains",
                range.len, range.base
            );
            eps.len() + 1
        } else {
            let _ = writeln!(
                s,
                "add rule ip {t} {chain} meta l4proto {proto} dnat to numgen random mod {} offset {} map @endpoints-{proto}",
                range.len, range.base
            );
            1
        }
    }

    fn incremental_script(&mut self, old: &DesiredState, new: &DesiredState) -> (String, Report) {
        let t = self.config.table.clone();
        let d = diff(old, new);
        let mut pre = String::new(); // service-map elements whose verdict changes or goes away
        let mut s = String::new(); // new chains, rules and elements
        let mut post_elems = String::new(); // old slot and hairpin elements
        let mut post_chains = String::new(); // stale chains and sets
        let mut hairpin_add = Vec::new();
        let mut hairpin_del = Vec::new();
        let mut unref = |hairpin: &mut BTreeMap<Ipv4Addr, usize>, r: &ServicePortRules| {
            for ep in r.all_endpoints() {
                if let Some(c) = hairpin.get_mut(ep.ip()) {
                    *c -= 1;
                    if *c == 0 {
                        hairpin.remove(ep.ip());
                        hairpin_del.push(*ep.ip());
                    }
                }
            }
        };
        for r in &d.removed {
            let names = Names::of(&r.name);
            for (map, elem) in elements(r) {
                let _ = writeln!(pre, "delete element ip {t} {map} {{ {} }}", key_of(&elem));
            }
            let slots = self.slots.remove(&r.name).unwrap_or_default();
            delete_elements(&mut post_elems, &t, slot_elements(r, &names, &slots));
            // Flush every chain before deleting any: the external chain jumps to the service one.
            for c in port_chains(r, &names) {
                let _ = writeln!(post_chains, "flush chain ip {t} {c}");
            }
            for c in port_chains(r, &names) {
                let _ = writeln!(post_chains, "delete chain ip {t} {c}");
            }
            if r.affinity.is_some() {
                for ep in r.all_endpoints() {
                    let (c, set) = names.endpoint(ep);
                    let _ = writeln!(
                        post_chains,
                        "flush chain ip {t} {c}\ndelete chain ip {t} {c}\ndelete set ip {t} {set}"
                    );
                }
            }
            unref(&mut self.hairpin, r);
            self.rules.remove(&r.name);
        }
        let mut added: Vec<(&ServicePortRules, Option<&ServicePortRules>)> =
            d.added.iter().map(|r| (*r, None)).collect();
        added.extend(d.updated.iter().map(|(o, n)| (*n, Some(*o))));
        for (n, o) in added {
            let names = Names::of(&n.name);
            let new_chains: BTreeSet<String> = port_chains(n, &names).into_iter().collect();
            let old_chains: BTreeSet<String> = o
                .map(|o| port_chains(o, &names).into_iter().collect())
                .unwrap_or_default();
            for c in new_chains.difference(&old_chains) {
                let _ = writeln!(s, "add chain ip {t} {c}");
            }
            for c in new_chains.intersection(&old_chains) {
                let _ = writeln!(s, "flush chain ip {t} {c}");
            }
            for c in old_chains.difference(&new_chains) {
                let _ = writeln!(
                    post_chains,
                    "flush chain ip {t} {c}\ndelete chain ip {t} {c}"
                );
            }
            // Endpoint chains and sets that stay keep their affinity entries; drop the rest.
            let mut keep = BTreeSet::new();
            if let Some(o) = o {
                if o.affinity.is_some() && o.affinity == n.affinity {
                    let new_eps: BTreeSet<_> = n.all_endpoints().into_iter().collect();
                    keep = o
                        .all_endpoints()
                        .into_iter()
                        .filter(|e| new_eps.contains(e))
                        .collect();
                }
                if o.affinity.is_some() {
                    for ep in o.all_endpoints() {
                        let (c, set) = names.endpoint(ep);
                        if keep.contains(&ep) {
                            let _ = writeln!(s, "flush chain ip {t} {c}");
                        } else {
                            let _ = writeln!(post_chains, "flush chain ip {t} {c}\ndelete chain ip {t} {c}\ndelete set ip {t} {set}");
                        }
                    }
                }
            }
            let slots = self.alloc_port(n);
            let count = self.port_rules(&mut s, n, &names, &slots);
            self.rules.insert(n.name.clone(), count);
            add_elements(&mut s, &t, slot_elements(n, &names, &slots));
            if let Some(old_slots) = self.slots.insert(n.name.clone(), slots) {
                if let Some(o) = o {
                    delete_elements(&mut post_elems, &t, slot_elements(o, &names, &old_slots));
                }
            }
            // Service maps: delete the keys that changed or went away, add the new ones.
            let old_e: BTreeMap<(&str, String), String> = o
                .map(|o| {
                    elements(o)
                        .into_iter()
                        .map(|(m, e)| ((m, key_of(&e)), e))
                        .collect()
                })
                .unwrap_or_default();
            let new_e: BTreeMap<(&str, String), String> = elements(n)
                .into_iter()
                .map(|(m, e)| ((m, key_of(&e)), e))
                .collect();
            for ((map, key), e) in &old_e {
                if new_e.get(&(map, key.clone())) != Some(e) {
                    let _ = writeln!(pre, "delete element ip {t} {map} {{ {key} }}");
                }
            }
            for ((map, key), e) in &new_e {
                if old_e.get(&(map, key.clone())) != Some(e) {
                    let _ = writeln!(s, "add element ip {t} {map} {{ {e} }}");
                }
            }
            for ep in n.all_endpoints() {
                let c = self.hairpin.entry(*ep.ip()).or_insert(0);
                *c += 1;
                if *c == 1 {
                    hairpin_add.push(*ep.ip());
                }
            }
            if let Some(o) = o {
                unref(&mut self.hairpin, o);
            }
        }
        // An IP that went 1 -> 0 -> 1 within this sync stays.
        hairpin_del.retain(|ip| !self.hairpin.contains_key(ip));
        hairpin_add.retain(|ip| !hairpin_del.contains(ip));
        let (hd, ha): (BTreeSet<_>, BTreeSet<_>) = (
            hairpin_del.into_iter().collect(),
            hairpin_add.into_iter().collect(),
        );
        for ip in ha.difference(&hd) {
            let _ = writeln!(s, "add element ip {t} endpoint-hairpin {{ {ip} . {ip} }}");
        }
        for ip in &hd {
            let _ = writeln!(
                post_elems,
                "delete element ip {t} endpoint-hairpin {{ {ip} . {ip} }}"
            );
        }
        let report = Report {
            backend: "nftables",
            full: false,
            added: d.added.len(),
            updated: d.updated.len(),
            removed: d.removed.len(),
            unchanged: d.unchanged,
            ..Report::default()
        };
        (format!("{pre}{s}{post_elems}{post_chains}"), report)
    }
}

fn add_elements(s: &mut String, t: &str, elems: Vec<(&'static str, String)>) {
    for (map, e) in elems {
        let _ = writeln!(s, "add element ip {t} {map} {{ {e} }}");
    }
}

fn delete_elements(s: &mut String, t: &str, elems: Vec<(&'static str, String)>) {
    for (map, e) in elems {
        let _ = writeln!(s, "delete element ip {t} {map} {{ {} }}", key_of(&e));
    }
}

/// The slot elements of a Service port: (`endpoints-<proto>` or `endpoint-chains`, `n : target`).
fn slot_elements(
    r: &ServicePortRules,
    names: &Names,
    slots: &PortSlots,
) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    for (range, eps) in [
        (slots.cluster, &r.cluster_endpoints),
        (slots.local, &r.external_endpoints),
    ] {
        let Some(range) = range else { continue };
        for (i, ep) in eps.iter().enumerate() {
            let slot = range.base + i as u32;
            if r.affinity.is_some() {
                let (chain, _) = names.endpoint(*ep);
                v.push(("endpoint-chains", format!("{slot} : goto {chain}")));
            } else {
                let map = match r.name.protocol {
                    crate::model::Protocol::Tcp => "endpoints-tcp",
                    crate::model::Protocol::Udp => "endpoints-udp",
                };
                v.push((map, format!("{slot} : {} . {}", ep.ip(), ep.port())));
            }
        }
    }
    v
}

fn key_of(elem: &str) -> String {
    elem.split(" : ").next().unwrap_or(elem).to_string()
}

/// The chains a Service port owns (besides its endpoint chains).
fn port_chains(r: &ServicePortRules, names: &Names) -> Vec<String> {
    let mut v = vec![names.service.clone()];
    if r.node_port.is_some() {
        v.push(names.external.clone());
        if r.external_local {
            v.push(names.local.clone());
        }
    }
    v
}

/// The map elements of a Service port: (map, `key : verdict`).
fn elements(r: &ServicePortRules) -> Vec<(&'static str, String)> {
    let names = Names::of(&r.name);
    let proto = r.name.protocol.as_str();
    let mut v = Vec::with_capacity(2);
    let key = format!("{} . {proto} . {}", r.cluster_ip, r.port);
    if !r.cluster_endpoints.is_empty() {
        v.push(("service-ips", format!("{key} : goto {}", names.service)));
    } else {
        let verdict = if r.cluster_drop() {
            "drop"
        } else {
            "goto reject-chain"
        };
        v.push(("no-endpoint-services", format!("{key} : {verdict}")));
    }
    if let Some(np) = r.node_port {
        let key = format!("{proto} . {np}");
        if !r.external_endpoints.is_empty() {
            v.push((
                "service-nodeports",
                format!("{key} : goto {}", names.external),
            ));
        } else {
            let verdict = if r.external_drop() {
                "drop"
            } else {
                "goto reject-chain"
            };
            v.push(("no-endpoint-nodeports", format!("{key} : {verdict}")));
        }
    }
    v
}

/// Chain and set names of a Service port, as Kubernetes spells them: a prefix, an 8-character
/// base32 hash and the readable `ns/name/proto/port`.
struct Names {
    suffix: String,
    service: String,
    external: String,
    local: String,
}

impl Names {
    fn of(n: &ServicePortName) -> Names {
        let port = if n.port.is_empty() {
            "_"
        } else {
            n.port.as_str()
        };
        let readable = format!("{}/{}/{}/{}", n.namespace, n.name, n.protocol, port);
        let h = hash8(&readable);
        let suffix = format!("{h}-{readable}");
        Names {
            service: format!("service-{suffix}"),
            external: format!("external-{suffix}"),
            local: format!("local-{suffix}"),
            suffix,
        }
    }

    fn endpoint(&self, ep: SocketAddrV4) -> (String, String) {
        let h = hash8(&format!("{}__{ep}", self.suffix));
        let readable = &self.suffix[9..];
        (
            format!("endpoint-{h}-{readable}__{}/{}", ep.ip(), ep.port()),
            format!("affinity-{h}-{readable}__{}/{}", ep.ip(), ep.port()),
        )
    }
}

/// An 8-character base32 hash (FNV-1a 64), like Kubernetes' sha256-based prefix.
fn hash8(s: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..8)
        .map(|i| ALPHABET[((h >> (i * 5)) & 31) as usize] as char)
        .collect()
}

fn base_table(t: &str) -> String {
    format!(
        r#"table ip {t} {{
  comment "rules for kube-proxy (kubox)"
  map service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict; }}
  map service-nodeports {{ type inet_proto . inet_service : verdict; }}
  map no-endpoint-services {{ type ipv4_addr . inet_proto . inet_service : verdict; }}
  map no-endpoint-nodeports {{ type inet_proto . inet_service : verdict; }}
  map endpoints-tcp {{ typeof numgen random mod 1 : ip daddr . tcp dport; }}
  map endpoints-udp {{ typeof numgen random mod 1 : ip daddr . udp dport; }}
  map endpoint-chains {{ typeof numgen random mod 1 : verdict; }}
  set endpoint-hairpin {{ type ipv4_addr . ipv4_addr; }}
  chain reject-chain {{ reject; }}
  chain mark-for-masquerade {{ meta mark set meta mark | {m:#x}; }}
  chain masquerading {{
    meta mark & {m:#x} == 0 return
    meta mark set meta mark ^ {m:#x}
    masquerade fully-random
  }}
  chain services {{
    ip daddr . meta l4proto . th dport vmap @service-ips
    ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @service-nodeports
  }}
  chain service-endpoints-check {{
    ip daddr . meta l4proto . th dport vmap @no-endpoint-services
  }}
  chain nodeport-endpoints-check {{
    ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports
  }}
  chain filter-input {{
    type filter hook input priority -110; policy accept;
    ct state new jump nodeport-endpoints-check
    ct state new jump service-endpoints-check
  }}
  chain filter-forward {{
    type filter hook forward priority -110; policy accept;
    ct state new jump service-endpoints-check
  }}
  chain filter-output {{
    type filter hook output priority -110; policy accept;
    ct state new jump service-endpoints-check
  }}
  chain nat-prerouting {{
    type nat hook prerouting priority -100; policy accept;
    jump services
  }}
  chain nat-output {{
    type nat hook output priority -100; policy accept;
    jump services
  }}
  chain nat-postrouting {{
    type nat hook postrouting priority 100; policy accept;
    ct status dnat ip saddr . ip daddr @endpoint-hairpin masquerade
    jump masquerading
  }}
}}
"#,
        m = MASQUERADE_MARK
    )
}

const BASE_RULES: usize = 15;

fn command(config: &NftConfig) -> Command {
    let mut cmd = match &config.netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", ns.display())).arg(&config.nft);
            c
        }
        None => Command::new(&config.nft),
    };
    cmd.kill_on_drop(true);
    cmd
}

async fn run_nft(config: &NftConfig, script: String) -> Result<()> {
    let mut cmd = command(config);
    cmd.args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = match &config.netns {
        Some(ns) => format!("nsenter --net={} {} -f -", ns.display(), config.nft),
        None => format!("{} -f -", config.nft),
    };
    let mut child = cmd.spawn().map_err(|e| Error::Io {
        context: format!("running {what}"),
        source: e,
    })?;
    let mut stdin = child.stdin.take().ok_or_else(|| Error::Command {
        command: what.clone(),
        message: "no stdin".into(),
    })?;
    let writer = tokio::spawn(async move {
        let r = stdin.write_all(script.as_bytes()).await;
        drop(stdin);
        r
    });
    let out = child.wait_with_output().await.map_err(|e| Error::Io {
        context: format!("waiting for {what}"),
        source: e,
    })?;
    let _ = writer.await;
    if !out.status.success() {
        let mut message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if message.len() > 4000 {
            let mut cut = 4000;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        return Err(Error::Command {
            command: what,
            message,
        });
    }
    Ok(())
}

#[async_trait]
impl NetworkRules for Nftables {
    fn name(&self) -> &'static str {
        "nftables"
    }

    async fn sync(&mut self, desired: &DesiredState) -> Result<Report> {
        let start = Instant::now();
        // Slot numbers are never reused between full syncs; renumber long before they run out.
        let applied = self
            .applied
            .take()
            .filter(|_| self.next_slot < u32::MAX / 2);
        let (script, mut report) = match &applied {
            None => {
                let report = Report {
                    backend: "nftables",
                    full: true,
                    added: desired.services.len(),
                    ..Report::default()
                };
                (self.full_script(desired), report)
            }
            Some(old) => self.incremental_script(old, desired),
        };
        if !report.full && report.is_noop() {
            report.unchanged = desired.services.len();
        } else {
            // On error `applied` stays None: the next sync is a full one.
            run_nft(&self.config, script).await?;
        }
        self.applied = Some(desired.clone());
        report.rule_count = BASE_RULES + self.rules.values().sum::<usize>();
        report.duration = start.elapsed();
        Ok(report)
    }

    fn resync(&mut self) {
        self.applied = None;
    }

    async fn cleanup(&mut self) -> Result<()> {
        let t = &self.config.table;
        self.applied = None;
        run_nft(
            &self.config,
            format!("add table ip {t}\ndelete table ip {t}\n"),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Affinity, Protocol};

    fn port(name: &str, eps: &[&str], affinity: bool, node_port: Option<u16>) -> ServicePortRules {
        let eps: Vec<SocketAddrV4> = eps.iter().map(|e| e.parse().unwrap()).collect();
        ServicePortRules {
            name: ServicePortName {
                namespace: "ns".into(),
                name: name.into(),
                port: "http".into(),
                protocol: Protocol::Tcp,
            },
            cluster_ip: Ipv4Addr::new(10, 96, 0, 10),
            port: 80,
            node_port,
            affinity: affinity.then_some(Affinity {
                timeout_seconds: 60,
            }),
            internal_local: false,
            external_local: false,
            has_any_endpoints: !eps.is_empty(),
            cluster_endpoints: eps.clone(),
            external_endpoints: if node_port.is_some() { eps } else { Vec::new() },
        }
    }

    fn state(ports: Vec<ServicePortRules>) -> DesiredState {
        DesiredState {
            services: ports.into_iter().map(|p| (p.name.clone(), p)).collect(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn names_look_like_kubernetes() {
        let n = Names::of(&port("web", &[], false, None).name);
        assert!(n.service.starts_with("service-"));
        assert!(n.service.ends_with("-ns/web/tcp/http"));
        assert_eq!(
            n.service.len(),
            "service-".len() + 8 + "-ns/web/tcp/http".len()
        );
        let (c, s) = n.endpoint("10.0.0.1:80".parse().unwrap());
        assert!(
            c.starts_with("endpoint-") && c.ends_with("-ns/web/tcp/http__10.0.0.1/80"),
            "{c}"
        );
        assert!(s.starts_with("affinity-"), "{s}");
    }

    #[test]
    fn full_script_uses_numgen_map_and_reject_map() {
        let mut nft = Nftables::new(NftConfig::default());
        let d = state(vec![
            port(
                "web",
                &["10.0.0.1:8080", "10.0.0.2:8080"],
                false,
                Some(30080),
            ),
            port("empty", &[], false, None),
        ]);
        let s = nft.full_script(&d);
        assert!(s.starts_with("add table ip kubox\ndelete table ip kubox\n"));
        assert!(
            s.contains("dnat to numgen random mod 2 offset 0 map @endpoints-tcp"),
            "{s}"
        );
        assert!(
            s.contains(
                "add element ip kubox endpoints-tcp { 0 : 10.0.0.1 . 8080, 1 : 10.0.0.2 . 8080 }"
            ),
            "{s}"
        );
        assert!(s.contains("add element ip kubox endpoint-hairpin { 10.0.0.1 . 10.0.0.1, 10.0.0.2 . 10.0.0.2 }"), "{s}");
        assert!(
            s.contains("add element ip kubox service-ips { 10.96.0.10 . tcp . 80 : goto service-")
        );
        assert!(s.contains("add element ip kubox service-nodeports { tcp . 30080 : goto external-"));
        assert!(s.contains("add element ip kubox no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }"));
    }

    #[test]
    fn incremental_touches_only_the_changed_port() {
        let mut nft = Nftables::new(NftConfig::default());
        let a = state(vec![
            port("web", &["10.0.0.1:8080", "10.0.0.2:8080"], true, None),
            port("db", &["10.0.0.3:5432"], false, None),
        ]);
        let b = state(vec![
            port("web", &["10.0.0.1:8080"], true, None),
            port("db", &["10.0.0.3:5432"], false, None),
        ]);
        nft.full_script(&a);
        let (s, r) = nft.incremental_script(&a, &b);
        assert_eq!((r.added, r.updated, r.removed, r.unchanged), (0, 1, 0, 1));
        assert!(!s.contains("/db/"), "{s}");
        assert!(s.contains("delete chain ip kubox endpoint-") && s.contains("__10.0.0.2/8080"));
        assert!(s.contains("vmap @endpoint-chains"), "{s}");
        assert!(
            s.lines()
                .any(|l| l.starts_with("delete set") && l.contains("10.0.0.2/8080")),
            "{s}"
        );
        // The stale endpoint stays in the hairpin set only while another port uses it.
        assert!(
            s.contains("delete element ip kubox endpoint-hairpin { 10.0.0.2 . 10.0.0.2 }"),
            "{s}"
        );
        // The kept endpoint keeps its affinity set.
        assert!(!s
            .lines()
            .any(|l| l.starts_with("delete set") && l.contains("10.0.0.1/8080")));
        let (s, r) = nft.incremental_script(&b, &b);
        assert!(r.is_noop() && s.is_empty());
    }
}
