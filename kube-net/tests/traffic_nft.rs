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
