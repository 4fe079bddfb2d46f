//! Real traffic through the userspace backend in network namespaces (root; see common/).

mod common;

use common::*;
use kube_net::userspace::{Userspace, UserspaceConfig};
use kube_net::NetworkRules;

/// A userspace backend in `topo`'s node, whose service CIDR is made local there so that the
/// forwarders can bind the ClusterIPs.
fn userspace_binding_vips(topo: &Topology) -> Userspace {
    topo.node
        .ip(&["route", "add", "local", "10.96.0.0/16", "dev", "lo"]);
    userspace(topo)
}

/// A userspace backend in `topo`'s node.
fn userspace(topo: &Topology) -> Userspace {
    Userspace::new(UserspaceConfig {
        netns: Some(topo.node.path()),
        ..UserspaceConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn userspace_traffic_scenarios() {
    let topo = Topology::new(3);
    let mut us = userspace_binding_vips(&topo);
    scenarios(&topo, &mut us).await;
    assert!(us.listeners().is_empty(), "cleanup closes every listener");
}

#[tokio::test]
async fn userspace_conformance() {
    let topo = Topology::new(0);
    let mut us = userspace_binding_vips(&topo);
    kube_net::testing::test_all(&mut us).await;
}

#[tokio::test]
async fn userspace_falls_back_to_node_local_ports_when_the_vip_cannot_be_bound() {
    let topo = Topology::new(2);
    // No local route for the service CIDR here: 10.96.0.10 cannot be bound.
    let mut us = userspace(&topo);
    let svcs = vec![service("web", "10.96.0.10", 80, "TCP", None, false)];
    let r = us
        .sync(&desired(&svcs, &[slice("web", "TCP", &[0, 1])]))
        .await
        .unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("cannot bind 10.96.0.10:80") && n.contains("node-local port")),
        "{r:?}"
    );
    let l = us.listeners();
    let local = l.values().next().unwrap()[0];
    assert_eq!(local.ip().to_string(), "0.0.0.0");
    let target = std::net::SocketAddrV4::new(NODE_IP, local.port());
    assert_spread(&topo.tcp_spread(target, 20), &[0, 1], 4);
    us.cleanup().await.unwrap();
}

/// UDP flows keep their endpoint while it serves and move once it stops (kube-proxy's
/// conntrack cleanup); they used to stay with a removed pod until the flow went idle.
#[tokio::test]
async fn userspace_udp_flows_follow_serving_endpoints() {
    let topo = Topology::new(3);
    let mut us = userspace_binding_vips(&topo);
    udp_flow_scenario(&topo, &mut us).await;
    us.cleanup().await.unwrap();
}
