//! Real traffic through the nftables backend in network namespaces (root; see common/).

mod common;

use common::*;
use kube_net::nft::{NftConfig, Nftables};
use kube_net::NetworkRules;

fn nft_for(topo: &Topology) -> Nftables {
    Nftables::new(NftConfig {
        netns: Some(topo.node.path()),
        ..NftConfig::default()
    })
}

#[tokio::test]
async fn nftables_traffic_scenarios() {
    let topo = Topology::new(3);
    let mut nft = nft_for(&topo);
    scenarios(&topo, &mut nft).await;
    // cleanup removed the table.
    assert!(
        nft.list().await.is_err(),
        "table must be gone after cleanup"
    );
}

#[tokio::test]
async fn nftables_conformance() {
    let topo = Topology::new(0);
    let mut nft = nft_for(&topo);
    kube_net::testing::test_all(&mut nft).await;
}

#[tokio::test]
async fn nftables_full_resync_replaces_a_foreign_or_stale_table() {
    let topo = Topology::new(1);
    let mut nft = nft_for(&topo);
    let svcs = vec![service("web", "10.96.0.10", 80, "TCP", None, false)];
    nft.sync(&desired(&svcs, &[slice("web", "TCP", &[0])]))
        .await
        .unwrap();
    // A second backend instance (a restarted proxy) starts with a full resync over the old
    // table, and the rules still work.
    let mut again = nft_for(&topo);
    let r = again
        .sync(&desired(&svcs, &[slice("web", "TCP", &[0])]))
        .await
        .unwrap();
    assert!(r.full);
    assert_spread(&topo.tcp_spread(sa("10.96.0.10:80"), 3), &[0], 3);
    let listing = again.list().await.unwrap();
    assert!(listing.contains("numgen random mod 1"), "{listing}");
    // The restarted backend built its table next to the old one and switched atomically.
    assert!(listing.contains("table ip kubox-b"), "{listing}");
    assert!(nft.list().await.unwrap() == listing);
    again.cleanup().await.unwrap();
}

#[tokio::test]
async fn probe_fails_for_a_missing_namespace() {
    let cfg = NftConfig {
        netns: Some("/run/netns/kube-net-does-not-exist".into()),
        ..NftConfig::default()
    };
    let err = Nftables::probe(&cfg).await.unwrap_err();
    assert!(err.to_string().contains("nsenter"), "{err}");
}

/// The elements written over netlink read back through `nft list` exactly as nft would have
/// written them (keys, data, verdicts), and the table is double-buffered.
#[tokio::test]
async fn nftables_netlink_elements_read_back_through_nft() {
    let topo = Topology::new(0);
    let mut nft = nft_for(&topo);
    let mut local = service("local", "10.96.0.21", 8443, "TCP", Some(30021), false);
    local.spec.as_mut().unwrap().external_traffic_policy = Some("Local".into());
    let svcs = vec![
        service("web", "10.96.0.20", 80, "TCP", Some(30020), false),
        local,
        service("dns", "10.96.0.22", 53, "UDP", None, false),
        service("sticky", "10.96.0.23", 80, "TCP", None, true),
        service("empty", "10.96.0.24", 80, "TCP", Some(30024), false),
    ];
    let slices = vec![
        slice("web", "TCP", &[0, 1]),
        slice("local", "TCP", &[2]),
        slice("dns", "UDP", &[0]),
        slice("sticky", "TCP", &[1]),
    ];
    let r = nft.sync(&desired(&svcs, &slices)).await.unwrap();
    assert!(r.full);
    let l = nft.list().await.unwrap();
    assert!(l.contains("table ip kubox-a"), "{l}");
    for want in [
        "10.96.0.20 . tcp . 80 : goto pick-tcp-2",
        "10.96.0.20 . 80 . 0 : 10.244.0.10 . 8080",
        "10.96.0.20 . 80 . 1 : 10.244.0.11 . 8080",
        "tcp . 30020 : goto nodeport-pick-tcp-2",
        "30020 . 1 : 10.244.0.11 . 8080",
        "tcp . 30021 : goto nodeport-local-tcp-1",
        "30021 . 0 : 10.244.0.12 . 8080",
        "10.96.0.22 . udp . 53 : goto pick-udp-1",
        "10.96.0.22 . 53 . 0 : 10.244.0.10 . 8080",
        "10.96.0.24 . tcp . 80 : goto reject-chain",
        "tcp . 30024 : goto reject-chain",
        "0 : goto endpoint-",
        "10.244.0.10 . 10.244.0.10",
        "dnat ip to ip daddr . tcp dport . numgen random mod 2 map @endpoints-tcp",
    ] {
        assert!(l.contains(want), "missing {want:?} in\n{l}");
    }
    // An incremental change: one endpoint less, one Service gone.
    let svcs2: Vec<_> = svcs[..4].to_vec();
    let slices2 = vec![
        slice("web", "TCP", &[1]),
        slice("local", "TCP", &[2]),
        slice("dns", "UDP", &[0]),
        slice("sticky", "TCP", &[1]),
    ];
    let r = nft.sync(&desired(&svcs2, &slices2)).await.unwrap();
    assert_eq!((r.full, r.updated, r.removed), (false, 1, 1), "{r:?}");
    let l = nft.list().await.unwrap();
    assert!(l.contains("10.96.0.20 . tcp . 80 : goto pick-tcp-1"), "{l}");
    assert!(
        l.contains("10.96.0.20 . 80 . 0 : 10.244.0.11 . 8080"),
        "{l}"
    );
    assert!(!l.contains("10.96.0.20 . 80 . 1 :"), "{l}");
    assert!(!l.contains("pick-tcp-2"), "unused pick chain must go: {l}");
    assert!(!l.contains("30024"), "{l}");
    // A resync switches to the other buffer and drops the first.
    nft.resync();
    nft.sync(&desired(&svcs2, &slices2)).await.unwrap();
    let l2 = nft.list().await.unwrap();
    assert!(l2.contains("table ip kubox-b"), "{l2}");
    // Same content (chains added incrementally are listed in another order).
    let lines = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(lines(&l2.replace("kubox-b", "kubox-a")), lines(&l));
    nft.cleanup().await.unwrap();
    assert!(nft.list().await.is_err());
}

/// Malformed Services and endpoints are skipped with a reason; the rules of the others are
/// programmed and carry traffic.
#[tokio::test]
async fn nftables_bad_input_never_blocks_other_services() {
    let topo = Topology::new(2);
    let mut nft = nft_for(&topo);
    let bad_ip = service("bad", "10.96.0.999", 80, "TCP", None, false);
    let zero = service("zero", "10.96.0.31", 0, "TCP", None, false);
    let good = service("good", "10.96.0.30", 80, "TCP", None, false);
    let mut bad_slice = slice("good", "TCP", &[1]);
    bad_slice.metadata.name = Some("good-broken".into());
    bad_slice.endpoints[0].addresses = vec!["not-an-ip".into()];
    let d = kube_net::model::desired_state(
        &kube_net::model::ModelConfig {
            node_name: "node".into(),
        },
        [&bad_ip, &zero, &good],
        [&slice("good", "TCP", &[0, 1]), &bad_slice],
    );
    let reasons: Vec<String> = d
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.object, s.reason))
        .collect();
    assert!(
        reasons.contains(&"default/bad: invalid clusterIP \"10.96.0.999\"".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("default/zero: port")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .contains(&"default/good-broken: invalid endpoint address \"not-an-ip\"".to_string()),
        "{reasons:?}"
    );
    let r = nft.sync(&d).await.unwrap();
    assert_eq!(r.added, 1, "{r:?}");
    assert_spread(&topo.tcp_spread(sa("10.96.0.30:80"), 30), &[0, 1], 3);
    nft.cleanup().await.unwrap();
}

/// As kube-proxy: the flows DNATed to a UDP endpoint are kept while it serves (also while it
/// terminates) and cleared once it stops serving or leaves, so a client that reuses its
/// 5-tuple reaches a serving endpoint at once.
#[tokio::test]
async fn nftables_udp_flows_follow_serving_endpoints() {
    let topo = Topology::new(3);
    let mut nft = nft_for(&topo);
    udp_flow_scenario(&topo, &mut nft).await;
    nft.cleanup().await.unwrap();
}
