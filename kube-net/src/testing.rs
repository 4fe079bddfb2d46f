//! The conformance suite of [`NetworkRules`], as library code: every backend runs it
//! (`tests/conformance.rs`), and so can third-party backends.
//!
//! It checks the contract's bookkeeping (full first sync, idempotence, incremental reports,
//! resync, cleanup); the traffic itself is checked by the network-namespace tests.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::model::{Affinity, DesiredState, Protocol, ServicePortName, ServicePortRules};
use crate::rules::NetworkRules;

/// A Service port for the suite: `ns/<name>/<proto>/http` on `10.96.0.<n>:80`, endpoints
/// `10.244.<n>.<i>:8080` for `i` in `1..=endpoints`.
pub fn service_port(
    n: u8,
    protocol: Protocol,
    endpoints: u8,
    node_port: Option<u16>,
    affinity: bool,
) -> ServicePortRules {
    let eps: Vec<SocketAddrV4> = (1..=endpoints)
        .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 244, n, i), 8080))
        .collect();
    let name = ServicePortName {
        namespace: "conformance".into(),
        name: format!("svc-{n}"),
        port: "http".into(),
        protocol,
    };
    ServicePortRules {
        name,
        cluster_ip: Ipv4Addr::new(10, 96, 0, n),
        port: 80,
        node_port,
        affinity: affinity.then_some(Affinity {
            timeout_seconds: 120,
        }),
        internal_local: false,
        external_local: false,
        has_any_endpoints: !eps.is_empty(),
        external_endpoints: if node_port.is_some() {
            eps.clone()
        } else {
            Vec::new()
        },
        serving_endpoints: eps.clone(),
        cluster_endpoints: eps,
    }
}

/// A desired state of the given Service ports.
pub fn state(ports: impl IntoIterator<Item = ServicePortRules>) -> DesiredState {
    DesiredState {
        services: ports.into_iter().map(|p| (p.name.clone(), p)).collect(),
        skipped: Vec::new(),
    }
}

/// Runs every check against a fresh backend (nothing synced yet). Panics on a violation, with
/// the check's name.
pub async fn test_all(backend: &mut dyn NetworkRules) {
    let a = state([
        service_port(1, Protocol::Tcp, 3, None, false),
        service_port(2, Protocol::Udp, 2, None, false),
        service_port(3, Protocol::Tcp, 2, Some(30003), true),
        service_port(4, Protocol::Tcp, 0, Some(30004), false),
    ]);

    // First sync: full.
    let r = backend.sync(&a).await.expect("first sync");
    assert!(r.full, "first sync must be full: {r:?}");
    assert_eq!(r.backend, backend.name());
    assert_eq!(r.added, 4, "first sync adds every port: {r:?}");
    assert!(r.rule_count > 0, "rule count after the first sync: {r:?}");
    let count_a = r.rule_count;

    // Idempotent.
    let r = backend.sync(&a).await.expect("repeated sync");
    assert!(
        !r.full && r.is_noop(),
        "repeated sync must be a no-op: {r:?}"
    );
    assert_eq!(r.unchanged, 4);
    assert_eq!(
        r.rule_count, count_a,
        "rule count must not change on a no-op sync"
    );

    // Incremental: one endpoint removed from one port, one port added, one removed.
    let mut b = a.clone();
    let k1 = service_port(1, Protocol::Tcp, 0, None, false).name;
    b.services.get_mut(&k1).unwrap().cluster_endpoints.pop();
    let k2 = service_port(2, Protocol::Udp, 0, None, false).name;
    b.services.remove(&k2);
    let p5 = service_port(5, Protocol::Tcp, 1, None, true);
    b.services.insert(p5.name.clone(), p5);
    let r = backend.sync(&b).await.expect("incremental sync");
    assert!(!r.full, "second sync must be incremental: {r:?}");
    assert_eq!(
        (r.added, r.updated, r.removed, r.unchanged),
        (1, 1, 1, 2),
        "{r:?}"
    );

    // Endpoints of a port with affinity change: an update.
    let mut c = b.clone();
    let k3 = service_port(3, Protocol::Tcp, 0, None, false).name;
    let p3 = c.services.get_mut(&k3).unwrap();
    p3.cluster_endpoints
        .push("10.244.3.9:8080".parse().unwrap());
    p3.external_endpoints
        .push("10.244.3.9:8080".parse().unwrap());
    let r = backend.sync(&c).await.expect("affinity endpoint change");
    assert_eq!((r.added, r.updated, r.removed), (0, 1, 0), "{r:?}");

    // A port losing all its endpoints, and one gaining some.
    let mut d = c.clone();
    d.services.get_mut(&k3).unwrap().cluster_endpoints.clear();
    d.services.get_mut(&k3).unwrap().external_endpoints.clear();
    d.services.get_mut(&k3).unwrap().has_any_endpoints = false;
    let k4 = service_port(4, Protocol::Tcp, 0, None, false).name;
    let p4 = service_port(4, Protocol::Tcp, 2, Some(30004), false);
    d.services.insert(k4, p4);
    let r = backend.sync(&d).await.expect("endpoints to none and back");
    assert_eq!((r.added, r.updated, r.removed), (0, 2, 0), "{r:?}");

    // Resync: full again, same content.
    backend.resync();
    let r = backend.sync(&d).await.expect("resync");
    assert!(r.full, "sync after resync() must be full: {r:?}");
    assert_eq!(r.added, d.services.len());

    // Back to the first state, then everything removed.
    let r = backend.sync(&a).await.expect("back to the first state");
    assert!(!r.full);
    assert_eq!(r.rule_count, count_a, "same state, same rule count: {r:?}");
    let r = backend
        .sync(&DesiredState::default())
        .await
        .expect("empty state");
    assert_eq!(r.removed, 4, "{r:?}");
    let r = backend
        .sync(&DesiredState::default())
        .await
        .expect("empty again");
    assert!(r.is_noop());

    backend.cleanup().await.expect("cleanup");
    // After cleanup the next sync is full again.
    let r = backend.sync(&a).await.expect("sync after cleanup");
    assert!(r.full, "sync after cleanup must be full: {r:?}");
    backend.cleanup().await.expect("final cleanup");
}

/// The reference implementation of [`NetworkRules`]: keeps the desired state in memory and
/// records every applied state. Used by the proxy's tests; runs the conformance suite too.
#[derive(Debug, Default)]
pub struct MemoryRules {
    applied: Option<DesiredState>,
    log: std::sync::Arc<parking_lot::Mutex<Vec<DesiredState>>>,
    fail: std::sync::Arc<parking_lot::Mutex<bool>>,
}

impl MemoryRules {
    /// The states applied by every sync that changed something (shared handle).
    pub fn log(&self) -> std::sync::Arc<parking_lot::Mutex<Vec<DesiredState>>> {
        self.log.clone()
    }

    /// A switch that makes every sync fail while it is `true` (fault injection).
    pub fn fail_switch(&self) -> std::sync::Arc<parking_lot::Mutex<bool>> {
        self.fail.clone()
    }
}

#[async_trait::async_trait]
impl NetworkRules for MemoryRules {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn sync(&mut self, desired: &DesiredState) -> crate::rules::Result<crate::rules::Report> {
        if *self.fail.lock() {
            self.applied = None;
            return Err(crate::rules::Error::Unavailable("injected failure".into()));
        }
        let empty = DesiredState::default();
        let full = self.applied.is_none();
        let old = self.applied.as_ref().unwrap_or(&empty);
        let d = crate::rules::diff(old, desired);
        let report = crate::rules::Report {
            backend: "memory",
            full,
            added: d.added.len(),
            updated: d.updated.len(),
            removed: d.removed.len(),
            unchanged: d.unchanged,
            rule_count: desired
                .services
                .values()
                .map(|s| 1 + s.all_endpoints().len())
                .sum(),
            ..Default::default()
        };
        if full || !report.is_noop() {
            self.log.lock().push(desired.clone());
        }
        self.applied = Some(desired.clone());
        Ok(report)
    }

    fn resync(&mut self) {
        self.applied = None;
    }

    async fn cleanup(&mut self) -> crate::rules::Result<()> {
        self.applied = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_rules_conform() {
        super::test_all(&mut super::MemoryRules::default()).await;
    }
}
