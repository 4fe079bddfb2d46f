//! End to end through the API: an in-process kube-api, a Service and an EndpointSlice written
//! through kubox-core's `Api`, the proxy watching them and programming nftables in a node
//! namespace, and real traffic from a client namespace (root; see common/).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use kube_api::{ApiServer, LocalClient};
use kube_net::nft::NftConfig;
use kube_net::proxy::{Mode, Proxy, ProxyConfig};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::Service;
use kubox_core::api::discovery_v1::EndpointSlice;
use kubox_core::client::{Api, DeleteParams, PostParams};

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_programs_services_from_the_api() {
    let topo = Topology::new(2);
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server).into_client();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");

    let config = ProxyConfig {
        node_name: "node".into(),
        min_sync_period: Duration::from_millis(100),
        mode: Mode::Auto,
        nftables: NftConfig {
            netns: Some(topo.node.path()),
            ..NftConfig::default()
        },
        ..ProxyConfig::default()
    };
    let proxy = Proxy::new(config).await;
    let handle = proxy.handle();
    assert_eq!(handle.backend_choice(), "nftables: probe succeeded");
    let (http, _server) = handle
        .serve_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let task = tokio::spawn(proxy.run(client));

    services
        .create(
            &PostParams::default(),
            &service("web", "10.0.0.10", 80, "TCP", Some(30080), false),
        )
        .await
        .unwrap();
    slices
        .create(&PostParams::default(), &slice("web", "TCP", &[0, 1]))
        .await
        .unwrap();
    wait_for("the Service to be programmed", || {
        let m = handle.metrics();
        m.service_ports == 1
            && m.rule_count > 14
            && topo
                .tcp_spread(sa("10.0.0.10:80"), 1)
                .keys()
                .all(|k| k.starts_with("pod-"))
    })
    .await;
    assert_spread(&topo.tcp_spread(sa("10.0.0.10:80"), 40), &[0, 1], 5);
    assert_spread(
        &topo.tcp_spread(std::net::SocketAddrV4::new(NODE_IP, 30080), 40),
        &[0, 1],
        5,
    );

    // Healthz and metrics over HTTP.
    let (status, body) = http_get(http, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"lastUpdated\""));
    let (status, body) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds"),
        "{body}"
    );
    assert!(
        body.contains("kubeproxy_sync_proxy_rules_rule_count{backend=\"nftables\"}"),
        "{body}"
    );

    // One endpoint removed through the API.
    let mut s = slices.get("web-abcde").await.unwrap();
    s.endpoints
        .retain(|e| e.addresses[0] != Topology::pod_ip(1).to_string());
    slices
        .replace("web-abcde", &PostParams::default(), &s)
        .await
        .unwrap();
    wait_for("pod-1 to stop receiving", || {
        topo.tcp_spread(sa("10.0.0.10:80"), 10)
            .keys()
            .all(|k| k == "pod-0")
    })
    .await;

    // The slice deleted: the Service has no endpoints and rejects.
    slices
        .delete("web-abcde", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the Service to reject", || {
        topo.tcp_spread(sa("10.0.0.10:80"), 1)
            .keys()
            .all(|k| k == "error:ConnectionRefused")
    })
    .await;
    assert!(handle.healthy());
    task.abort();
    let _ = task.await;
    // Leave nothing behind in the node namespace (the netns is deleted anyway).
    let mut nft = kube_net::nft::Nftables::new(NftConfig {
        netns: Some(topo.node.path()),
        ..NftConfig::default()
    });
    kube_net::NetworkRules::cleanup(&mut nft).await.unwrap();
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}
