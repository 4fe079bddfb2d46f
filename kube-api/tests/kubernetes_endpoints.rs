//! The `kubernetes` Service's Endpoints under the lease endpoint reconciler: two API servers
//! over one store both appear; one that stops refreshing its master lease leaves 15 s later;
//! identity Leases in `kube-system`. Time is tokio's paused clock.

use kube_api::alloc::{self, EndpointReconcilerConfig};
use kube_api::clock::TokioClock;
use kube_api::{ApiServer, UserInfo};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use kubox_core::client::{GroupVersionResource, ListParams, Request, Verb};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

fn server(store: &Arc<dyn Store>) -> ApiServer {
    ApiServer::builder(store.clone())
        .clock(Arc::new(TokioClock::new()))
        .build()
}

async fn get(s: &ApiServer, group: &str, resource: &str, ns: &str, name: &str) -> Value {
    let req = Request {
        resource: GroupVersionResource {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
        },
        namespace: Some(ns.into()),
        name: Some(name.into()),
        subresource: None,
        verb: Verb::Get,
        body: None,
    };
    s.handle(&UserInfo::admin(), req).await.unwrap()
}

/// The `kubernetes` Endpoints' addresses and the EndpointSlice's, checked to agree.
async fn addresses(s: &ApiServer) -> Vec<String> {
    let ep = get(s, "", "endpoints", "default", "kubernetes").await;
    assert_eq!(
        ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"],
        "true"
    );
    let subsets = ep["subsets"].as_array().unwrap();
    assert_eq!(subsets.len(), 1, "{ep}");
    assert_eq!(
        subsets[0]["ports"],
        json!([{"name": "https", "port": 6443, "protocol": "TCP"}])
    );
    let ips: Vec<String> = subsets[0]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ip"].as_str().unwrap().to_string())
        .collect();
    let slice = get(
        s,
        "discovery.k8s.io",
        "endpointslices",
        "default",
        "kubernetes",
    )
    .await;
    assert_eq!(
        slice["metadata"]["labels"]["kubernetes.io/service-name"],
        "kubernetes"
    );
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["ports"],
        json!([{"name": "https", "port": 6443, "protocol": "TCP"}])
    );
    let slice_ips: Vec<String> = slice["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["conditions"]["ready"], true);
            e["addresses"][0].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ips, slice_ips);
    ips
}

const A: &str = "192.168.1.10";
const B: &str = "192.168.1.9";
const TTL: Duration = Duration::from_secs(15);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_server_whose_lease_expires_leaves_the_endpoints() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let (a, b) = (server(&store), server(&store));
    a.bootstrap(ip(A), 6443).await.unwrap();
    assert_eq!(addresses(&a).await, [A]);
    let svc = get(&a, "", "services", "default", "kubernetes").await;
    assert_eq!(svc["spec"]["clusterIP"], "10.0.0.1");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}])
    );

    // The second server joins: both, in lexicographic order, on either server.
    b.ensure_kubernetes_service(ip(B), 6443).await.unwrap();
    assert_eq!(addresses(&a).await, [A, B]);
    assert_eq!(addresses(&b).await, [A, B]);
    let leases = alloc::master_leases(&*store).await.unwrap();
    assert_eq!(leases.len(), 2);

    // An unchanged pass writes nothing.
    let rv = get(&a, "", "endpoints", "default", "kubernetes").await["metadata"]["resourceVersion"]
        .clone();
    a.reconcile_kubernetes_endpoints(ip(A), 6443, TTL)
        .await
        .unwrap();
    assert_eq!(
        get(&a, "", "endpoints", "default", "kubernetes").await["metadata"]["resourceVersion"],
        rv
    );

    // B stops refreshing; A keeps reconciling. Within the TTL B stays…
    tokio::time::advance(Duration::from_secs(10)).await;
    a.reconcile_kubernetes_endpoints(ip(A), 6443, TTL)
        .await
        .unwrap();
    assert_eq!(addresses(&a).await, [A, B]);
    // …past it, B's lease is gone and so is its address.
    tokio::time::advance(Duration::from_secs(6)).await;
    a.reconcile_kubernetes_endpoints(ip(A), 6443, TTL)
        .await
        .unwrap();
    assert_eq!(addresses(&a).await, [A]);
    let leases = alloc::master_leases(&*store).await.unwrap();
    assert_eq!(leases.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(), [A]);

    // B comes back, then shuts down cleanly.
    b.reconcile_kubernetes_endpoints(ip(B), 6443, TTL)
        .await
        .unwrap();
    assert_eq!(addresses(&b).await, [A, B]);
    b.remove_kubernetes_endpoints(ip(B), 6443).await.unwrap();
    assert_eq!(addresses(&a).await, [A]);

    // A hand-edited Endpoints object is put right on the next pass.
    let mut ep = get(&a, "", "endpoints", "default", "kubernetes").await;
    ep["subsets"] = json!([{"addresses": [{"ip": "10.9.9.9"}], "ports": [{"name": "x", "port": 1, "protocol": "TCP"}]}]);
    let put = Request {
        resource: GroupVersionResource {
            group: String::new(),
            version: "v1".into(),
            resource: "endpoints".into(),
        },
        namespace: Some("default".into()),
        name: Some("kubernetes".into()),
        subresource: None,
        verb: Verb::Replace(Default::default()),
        body: Some(ep),
    };
    a.handle(&UserInfo::admin(), put).await.unwrap();
    a.reconcile_kubernetes_endpoints(ip(A), 6443, TTL)
        .await
        .unwrap();
    assert_eq!(addresses(&a).await, [A]);

    // Once every lease is gone, nothing is erased: the reconciler refuses an empty list.
    a.store()
        .delete(&format!("{}{A}", alloc::MASTER_LEASES_PREFIX), None)
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(20)).await;
    let e = a
        .remove_kubernetes_endpoints(ip(A), 6443)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 500);
    assert!(
        e.message().contains("refusing to erase all endpoints"),
        "{e:?}"
    );
    assert_eq!(addresses(&a).await, [A]);
}

#[tokio::test(start_paused = true)]
async fn controllers_keep_leases_and_identity() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let (a, b) = (server(&store), server(&store));
    a.ensure_system_namespaces().await.unwrap();
    let cfg = |host: &str| EndpointReconcilerConfig {
        hostname: host.into(),
        ..Default::default()
    };
    let _ta = a.start_kubernetes_service_controller(ip(A), 6443, cfg("host-a"));
    let tb = b.start_kubernetes_service_controller(ip(B), 6443, cfg("host-b"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(addresses(&a).await, [A, B]);

    // Identity leases: one per host name, labelled, renewed by each pass.
    let list = Request {
        resource: GroupVersionResource {
            group: "coordination.k8s.io".into(),
            version: "v1".into(),
            resource: "leases".into(),
        },
        namespace: Some("kube-system".into()),
        name: None,
        subresource: None,
        verb: Verb::List(ListParams {
            label_selector: Some("apiserver.kubernetes.io/identity=kube-apiserver".into()),
            ..Default::default()
        }),
        body: None,
    };
    let leases = a.handle(&UserInfo::admin(), list.clone()).await.unwrap();
    let mut names: Vec<&str> = leases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut want = vec![
        alloc::identity_lease_name("host-a"),
        alloc::identity_lease_name("host-b"),
    ];
    want.sort();
    assert_eq!(names, want);
    let la = get(
        &a,
        "coordination.k8s.io",
        "leases",
        "kube-system",
        &alloc::identity_lease_name("host-a"),
    )
    .await;
    assert_eq!(la["metadata"]["labels"]["kubernetes.io/hostname"], "host-a");
    assert_eq!(la["spec"]["leaseDurationSeconds"], 3600);
    let holder = la["spec"]["holderIdentity"].as_str().unwrap();
    assert!(holder.starts_with(&format!("{}_", alloc::identity_lease_name("host-a"))));
    let renewed = la["spec"]["renewTime"].clone();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let la2 = get(
        &a,
        "coordination.k8s.io",
        "leases",
        "kube-system",
        &alloc::identity_lease_name("host-a"),
    )
    .await;
    assert_ne!(la2["spec"]["renewTime"], renewed);

    // B stops: 15 s after its last refresh it is gone from the Endpoints, A stays.
    drop(tb);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(addresses(&a).await, [A]);
    // Its identity Lease stays until it expires (an hour), then it is collected.
    let leases = a.handle(&UserInfo::admin(), list.clone()).await.unwrap();
    assert_eq!(leases["items"].as_array().unwrap().len(), 2);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let leases = a.handle(&UserInfo::admin(), list).await.unwrap();
    assert_eq!(leases["items"].as_array().unwrap().len(), 1);
}
