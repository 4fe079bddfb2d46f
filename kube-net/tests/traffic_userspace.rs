//! Real traffic through the userspace backend in network namespaces (root; see common/).

mod common;

use common::*;
use kube_net::userspace::{Userspace, UserspaceConfig};
use kube_net::NetworkRules;

#[tokio::test]
async fn userspace_traffic_scenarios() {
    let topo = Topology::new(3);
    // The node's service CIDR is local, so the forwarders can bind the ClusterIPs.
    topo.node
        .ip(&["route", "add", "local", "10.96.0.0/16", "dev", "lo"]);
    let mut us = Userspace::new(UserspaceConfig {
        netns: Some(topo.node.path()),
        ..UserspaceConfig::default()
    })
    .unwrap();
    scenarios(&topo, &mut us).await;
    assert!(us.listeners().is_empty(), "cleanup closes every listener");
}

#[tokio::test]
async fn userspace_conformance() {
    let topo = Topology::new(0);
    topo.node
        .ip(&["route", "add", "local", "10.96.0.0/16", "dev", "lo"]);
    let mut us = Userspace::new(UserspaceConfig {
        netns: Some(topo.node.path()),
        ..UserspaceConfig::default()
    })
    .unwrap();
    kube_net::testing::test_all(&mut us).await;
}

#[tokio::test]
async fn userspace_falls_back_to_node_local_ports_when_the_vip_cannot_be_bound() {
    let topo = Topology::new(2);
    // No local route for the service CIDR here: 10.96.0.10 cannot be bound.
    let mut us = Userspace::new(UserspaceConfig {
        netns: Some(topo.node.path()),
        ..UserspaceConfig::default()
    })
    .unwrap();
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

/// A UDP flow (one client socket) whose endpoint is removed moves to a live endpoint with its
/// next datagram, as kube-proxy clears the conntrack entries of removed UDP endpoints; it
/// used to stay with the removed pod until the flow went idle.
#[tokio::test]
async fn a_udp_flow_leaves_a_removed_endpoint() {
    let topo = Topology::new(2);
    topo.node
        .ip(&["route", "add", "local", "10.96.0.0/16", "dev", "lo"]);
    let mut us = Userspace::new(UserspaceConfig {
        netns: Some(topo.node.path()),
        ..UserspaceConfig::default()
    })
    .unwrap();
    let svcs = vec![service("dns", "10.96.0.11", 53, "UDP", None, false)];
    us.sync(&desired(&svcs, &[slice("dns", "UDP", &[0, 1])]))
        .await
        .unwrap();
    // One socket in the client's namespace: every datagram below is one flow.
    let sock = topo.client.run(|| {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        s.connect("10.96.0.11:53").unwrap();
        s
    });
    let ask = |s: &std::net::UdpSocket| {
        s.send(b"hi").unwrap();
        let mut buf = [0u8; 64];
        let n = s.recv(&mut buf).expect("an answer");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = ask(&sock);
    assert_eq!(ask(&sock), first, "one flow, one endpoint");
    let other = if first == "pod-0" { 1 } else { 0 };
    us.sync(&desired(&svcs, &[slice("dns", "UDP", &[other])]))
        .await
        .unwrap();
    assert_eq!(ask(&sock), format!("pod-{other}"));
    us.cleanup().await.unwrap();
}
