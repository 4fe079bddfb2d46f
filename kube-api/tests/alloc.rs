//! Service ClusterIP and NodePort allocation through kubox-core's `Api<Service>` over
//! `LocalClient`: random and requested IPs, duplicates, headless and ExternalName Services,
//! node ports, type changes, release on delete, exhaustion, rollback, two servers over one
//! store, the repair pass and the `kubernetes` Service.

use kube_api::alloc::{self, Repaired};
use kube_api::clock::ManualClock;
use kube_api::{ApiServer, LocalClient};
use kube_store::embedded::EmbeddedStore;
use kube_store::Store;
use kubox_core::api::core_v1::{Endpoints, Service};
use kubox_core::client::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

async fn boot(server: ApiServer) -> (ApiServer, Api<Service>) {
    server.ensure_system_namespaces().await.unwrap();
    let client = LocalClient::admin(server.clone()).into_client();
    (server, Api::namespaced(client, "default"))
}

async fn setup() -> (ApiServer, Api<Service>) {
    boot(ApiServer::new(Arc::new(EmbeddedStore::in_memory()))).await
}

fn svc(v: Value) -> Service {
    serde_json::from_value(v).unwrap()
}

fn cluster_ip(name: &str) -> Service {
    svc(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}
    }))
}

fn with_spec(name: &str, spec: Value) -> Service {
    let mut v = json!({"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}});
    for (k, x) in spec.as_object().unwrap() {
        v["spec"][k] = x.clone();
    }
    svc(v)
}

fn to_json(s: &Service) -> Value {
    serde_json::to_value(s).unwrap()
}

fn message(e: kubox_core::client::Error) -> (i32, String) {
    match e {
        kubox_core::client::Error::Api(s) => (s.code.unwrap_or(0), s.message.unwrap_or_default()),
        other => panic!("not an API error: {other}"),
    }
}

fn ip_of(s: &Service) -> String {
    to_json(s)["spec"]["clusterIP"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn node_ports(s: &Service) -> Vec<i64> {
    to_json(s)["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["nodePort"].as_i64())
        .collect()
}

async fn allocated(server: &ApiServer) -> (BTreeSet<String>, BTreeSet<u16>) {
    let (ips, ports) = alloc::allocated(server).await.unwrap();
    (
        ips.iter().map(IpAddr::to_string).collect(),
        ports.into_iter().collect(),
    )
}

fn create() -> PostParams {
    PostParams::default()
}

#[tokio::test]
async fn allocates_a_random_cluster_ip_with_families() {
    let (server, api) = setup().await;
    let s = api.create(&create(), &cluster_ip("web")).await.unwrap();
    let v = to_json(&s);
    let ip: IpAddr = ip_of(&s).parse().unwrap();
    let cidr = server.allocation_config().service_cidr;
    assert_eq!(cidr.to_string(), "10.0.0.0/24");
    let off = cidr.offset_of(&ip).expect("in the range");
    assert!(off > 0, "the first usable IP is the kubernetes Service's");
    assert_eq!(v["spec"]["clusterIPs"], json!([ip.to_string()]));
    assert_eq!(v["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(v["spec"]["ipFamilyPolicy"], "SingleStack");
    assert!(v["spec"]["ports"][0].get("nodePort").is_none());
    assert_eq!(api.get("web").await.unwrap().spec, s.spec);
    assert_eq!(allocated(&server).await.0, BTreeSet::from([ip.to_string()]));
}

#[tokio::test]
async fn requested_ips_duplicates_and_ranges() {
    let (_server, api) = setup().await;
    let a = api
        .create(&create(), &with_spec("a", json!({"clusterIP": "10.0.0.5"})))
        .await
        .unwrap();
    assert_eq!(ip_of(&a), "10.0.0.5");
    let cases = [
        (
            "10.0.0.5",
            r#"Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: provided IP is already allocated"#,
        ),
        (
            "10.1.0.5",
            r#"Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.1.0.5"]: failed to allocate IP 10.1.0.5: the provided IP (10.1.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/24"#,
        ),
        (
            "10.0.0.255",
            r#"Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.255"]: failed to allocate IP 10.0.0.255: the provided IP (10.0.0.255) is not in the valid range. The range of valid IPs is 10.0.0.0/24"#,
        ),
        (
            "10.0.0.0",
            r#"Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.0"]: failed to allocate IP 10.0.0.0: the provided IP (10.0.0.0) is not in the valid range. The range of valid IPs is 10.0.0.0/24"#,
        ),
        (
            "fd00::5",
            r#"Service "b" is invalid: spec.clusterIPs[0]: Invalid value: ["fd00::5"]: IPv6 is not configured on this cluster"#,
        ),
    ];
    for (ip, want) in cases {
        let err = api
            .create(&create(), &with_spec("b", json!({"clusterIP": ip})))
            .await
            .unwrap_err();
        assert_eq!(message(err), (422, want.to_string()), "{ip}");
    }
    // clusterIPs alone works too.
    let c = api
        .create(
            &create(),
            &with_spec("c", json!({"clusterIPs": ["10.0.0.6"]})),
        )
        .await
        .unwrap();
    assert_eq!(ip_of(&c), "10.0.0.6");
    // The first usable IP may be requested explicitly.
    let d = api
        .create(&create(), &with_spec("d", json!({"clusterIP": "10.0.0.1"})))
        .await
        .unwrap();
    assert_eq!(ip_of(&d), "10.0.0.1");
    let err = api
        .create(
            &create(),
            &with_spec("e", json!({"ipFamilyPolicy": "RequireDualStack"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        message(err).1,
        r#"Service "e" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services"#
    );
}

#[tokio::test]
async fn headless_and_external_name_allocate_nothing() {
    let (server, api) = setup().await;
    let h = to_json(
        &api.create(&create(), &with_spec("h", json!({"clusterIP": "None"})))
            .await
            .unwrap(),
    );
    assert_eq!(h["spec"]["clusterIP"], "None");
    assert_eq!(h["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(h["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(h["spec"]["ipFamilyPolicy"], "SingleStack");
    // Headless and selectorless: RequireDualStack with both families, as kube-apiserver.
    let hs = to_json(
        &api.create(
            &create(),
            &svc(json!({"metadata": {"name": "hs"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}})),
        )
        .await
        .unwrap(),
    );
    assert_eq!(hs["spec"]["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(hs["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    let x = to_json(
        &api.create(
            &create(),
            &svc(json!({"metadata": {"name": "x"}, "spec": {"type": "ExternalName", "externalName": "example.com"}})),
        )
        .await
        .unwrap(),
    );
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        assert!(x["spec"].get(f).is_none(), "{f}: {x}");
    }
    assert_eq!(allocated(&server).await, (BTreeSet::new(), BTreeSet::new()));
}

#[tokio::test]
async fn node_ports_for_node_port_and_load_balancer_services() {
    let (server, api) = setup().await;
    let two_ports = json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}]);
    let np = api
        .create(
            &create(),
            &with_spec("np", json!({"type": "NodePort", "ports": two_ports})),
        )
        .await
        .unwrap();
    let ports = node_ports(&np);
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1]);
    assert!(ports.iter().all(|p| (30000..=32767).contains(p)));
    assert!(!ip_of(&np).is_empty());

    let req = api
        .create(
            &create(),
            &with_spec(
                "req",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(node_ports(&req), vec![30080]);
    let err = api
        .create(
            &create(),
            &with_spec(
                "dup",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        (
            422,
            r#"Service "dup" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#.to_string()
        )
    );
    let err = api
        .create(
            &create(),
            &with_spec(
                "far",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 40000}]}),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        (
            422,
            r#"Service "far" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767"#.to_string()
        )
    );
    // TCP and UDP on one port number share a node port.
    let dns = api
        .create(
            &create(),
            &with_spec(
                "dns",
                json!({"type": "NodePort", "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP"}
                ]}),
            ),
        )
        .await
        .unwrap();
    let p = node_ports(&dns);
    assert_eq!((p.len(), p[0]), (2, p[1]));

    let lb = api
        .create(&create(), &with_spec("lb", json!({"type": "LoadBalancer"})))
        .await
        .unwrap();
    assert_eq!(node_ports(&lb).len(), 1);
    let lb_none = api
        .create(
            &create(),
            &with_spec(
                "lb-none",
                json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false}),
            ),
        )
        .await
        .unwrap();
    assert!(node_ports(&lb_none).is_empty());
    let local = to_json(
        &api.create(
            &create(),
            &with_spec(
                "local",
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local"}),
            ),
        )
        .await
        .unwrap(),
    );
    let hc = local["spec"]["healthCheckNodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&hc));

    let mut want: BTreeSet<u16> = BTreeSet::new();
    for s in [&np, &req, &dns, &lb] {
        want.extend(node_ports(s).iter().map(|p| *p as u16));
    }
    want.insert(hc as u16);
    want.extend(
        local["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["nodePort"].as_i64().unwrap() as u16),
    );
    assert_eq!(allocated(&server).await.1, want);
}

#[tokio::test]
async fn type_changes_allocate_and_release() {
    let (server, api) = setup().await;
    let s = api.create(&create(), &cluster_ip("t")).await.unwrap();
    let ip = ip_of(&s);
    let pp = PatchParams::default();
    // ClusterIP -> NodePort allocates node ports and keeps the IP.
    let np = api
        .patch(
            "t",
            &pp,
            Patch::Merge(json!({"spec": {"type": "NodePort"}})),
        )
        .await
        .unwrap();
    let ports = node_ports(&np);
    assert_eq!((ports.len(), ip_of(&np)), (1, ip.clone()));
    assert!(allocated(&server).await.1.contains(&(ports[0] as u16)));
    // A re-sent manifest without clusterIP and nodePort keeps both.
    let mut again = with_spec("t", json!({"type": "NodePort"}));
    again.metadata.resource_version = np.metadata.resource_version.clone();
    let kept = api.replace("t", &create(), &again).await.unwrap();
    assert_eq!(
        (ip_of(&kept), node_ports(&kept)),
        (ip.clone(), ports.clone())
    );
    // clusterIP is immutable.
    let err = api
        .patch(
            "t",
            &pp,
            Patch::Merge(json!({"spec": {"clusterIP": "10.0.0.9"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        (
            422,
            r#"Service "t" is invalid: spec.clusterIPs[0]: Invalid value: ["10.0.0.9"]: may not change once set"#.to_string()
        )
    );
    // A node port changed by the client: the new one is taken, the old one given back.
    let moved = api
        .patch(
            "t",
            &pp,
            Patch::Json(
                json!([{"op": "replace", "path": "/spec/ports/0/nodePort", "value": 30090}]),
            ),
        )
        .await
        .unwrap();
    assert_eq!(node_ports(&moved), vec![30090]);
    assert_eq!(allocated(&server).await.1, BTreeSet::from([30090]));
    // NodePort -> ClusterIP releases them.
    let back = api
        .patch(
            "t",
            &pp,
            Patch::Merge(json!({"spec": {"type": "ClusterIP"}})),
        )
        .await
        .unwrap();
    assert!(node_ports(&back).is_empty());
    assert_eq!(ip_of(&back), ip);
    assert!(allocated(&server).await.1.is_empty());
    // ClusterIP -> ExternalName releases the IP; back to ClusterIP allocates a new one.
    let ext = to_json(
        &api.patch(
            "t",
            &pp,
            Patch::Merge(json!({"spec": {"type": "ExternalName", "externalName": "example.com"}})),
        )
        .await
        .unwrap(),
    );
    assert!(ext["spec"].get("clusterIP").is_none(), "{ext}");
    assert!(ext["spec"].get("ipFamilies").is_none(), "{ext}");
    assert!(allocated(&server).await.0.is_empty());
    let again = api
        .patch(
            "t",
            &pp,
            Patch::Merge(json!({"spec": {"type": "ClusterIP", "externalName": null}})),
        )
        .await
        .unwrap();
    let ip2 = ip_of(&again);
    assert!(!ip2.is_empty());
    assert_eq!(to_json(&again)["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(allocated(&server).await.0, BTreeSet::from([ip2]));
}

#[tokio::test]
async fn status_load_balancer_is_untouched() {
    let (_server, api) = setup().await;
    let s = api
        .create(&create(), &with_spec("lb", json!({"type": "LoadBalancer"})))
        .await
        .unwrap();
    let with_status = api
        .patch_status(
            "lb",
            &PatchParams::default(),
            Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}})),
        )
        .await
        .unwrap();
    assert_eq!(node_ports(&with_status), node_ports(&s));
    let updated = api
        .patch(
            "lb",
            &PatchParams::default(),
            Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        to_json(&updated)["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.7"
    );
    assert_eq!(node_ports(&updated), node_ports(&s));
}

#[tokio::test]
async fn release_on_delete_and_exhaustion() {
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .service_cidr("10.9.0.0/29")
        .service_node_port_range("30000-30001")
        .build();
    let (server, api) = boot(server).await;
    // A /29 has 6 usable addresses; the first is kept for the kubernetes Service.
    let mut ips = BTreeSet::new();
    for i in 0..5 {
        let s = api
            .create(&create(), &cluster_ip(&format!("s{i}")))
            .await
            .unwrap();
        ips.insert(ip_of(&s));
    }
    assert_eq!(
        ips,
        (2..=6)
            .map(|i| format!("10.9.0.{i}"))
            .collect::<BTreeSet<_>>()
    );
    let err = api
        .create(&create(), &cluster_ip("full"))
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        (
            500,
            "Internal error occurred: failed to allocate a serviceIP: range is full".to_string()
        )
    );
    let freed = ip_of(&api.get("s3").await.unwrap());
    api.delete("s3", &DeleteParams::default()).await.unwrap();
    assert!(!allocated(&server).await.0.contains(&freed));
    let s = api.create(&create(), &cluster_ip("full")).await.unwrap();
    assert_eq!(ip_of(&s), freed);

    // Node ports: a range of two.
    api.delete("s0", &DeleteParams::default()).await.unwrap();
    api.delete("s1", &DeleteParams::default()).await.unwrap();
    let two = json!([{"name": "a", "port": 80}, {"name": "b", "port": 81}]);
    api.create(
        &create(),
        &with_spec("np", json!({"type": "NodePort", "ports": two})),
    )
    .await
    .unwrap();
    let err = api
        .create(&create(), &with_spec("np2", json!({"type": "NodePort"})))
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        (
            500,
            "Internal error occurred: failed to allocate a nodePort: range is full".to_string()
        )
    );
    // The IP np2 took before its node port failed was given back.
    assert_eq!(allocated(&server).await.0.len(), 4);
    api.delete("np", &DeleteParams::default()).await.unwrap();
    assert_eq!(allocated(&server).await.1, BTreeSet::new());
    api.create(&create(), &with_spec("np2", json!({"type": "NodePort"})))
        .await
        .unwrap();
}

#[tokio::test]
async fn failed_creates_roll_back() {
    let (server, api) = setup().await;
    api.create(&create(), &cluster_ip("one")).await.unwrap();
    let before = allocated(&server).await;
    // AlreadyExists after allocating: the IP goes back.
    let err = api.create(&create(), &cluster_ip("one")).await.unwrap_err();
    assert_eq!(message(err).0, 409);
    assert_eq!(allocated(&server).await, before);
    // A missing namespace is refused before anything is allocated.
    let client = LocalClient::admin(server.clone()).into_client();
    let other: Api<Service> = Api::namespaced(client, "nope");
    assert_eq!(
        message(other.create(&create(), &cluster_ip("x")).await.unwrap_err()).0,
        404
    );
    assert_eq!(allocated(&server).await, before);
    // Dry run shows an IP but takes none.
    let dry = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cluster_ip("dry"),
        )
        .await
        .unwrap();
    assert!(!ip_of(&dry).is_empty());
    assert_eq!(allocated(&server).await, before);
    // Deleting through a store-level conflict still releases (delete goes through the loop).
    api.delete("one", &DeleteParams::default()).await.unwrap();
    assert_eq!(allocated(&server).await, (BTreeSet::new(), BTreeSet::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_never_hand_out_the_same_ip_or_port() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let make = || {
        ApiServer::builder(store.clone())
            .service_cidr("10.1.0.0/26")
            .service_node_port_range("30000-30060")
            .build()
    };
    let (one, _) = boot(make()).await;
    let two = make();
    let mut tasks = Vec::new();
    for i in 0..61 {
        let server = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            let api: Api<Service> =
                Api::namespaced(LocalClient::admin(server).into_client(), "default");
            let s = with_spec(&format!("s{i}"), json!({"type": "NodePort"}));
            api.create(&PostParams::default(), &s).await
        }));
    }
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for t in tasks {
        let s = t.await.unwrap().unwrap();
        assert!(ips.insert(ip_of(&s)), "duplicate IP {}", ip_of(&s));
        for p in node_ports(&s) {
            assert!(ports.insert(p), "duplicate node port {p}");
        }
    }
    assert_eq!((ips.len(), ports.len()), (61, 61));
    // Both ranges are now full, seen from either server.
    let api: Api<Service> =
        Api::namespaced(LocalClient::admin(two.clone()).into_client(), "default");
    assert_eq!(
        message(
            api.create(&create(), &cluster_ip("more"))
                .await
                .unwrap_err()
        )
        .0,
        500
    );
    let (a, b) = (allocated(&one).await, allocated(&two).await);
    assert_eq!(a, b);
    assert_eq!(a.0, ips);
    // Repairing changes nothing.
    assert_eq!(alloc::repair(&two).await.unwrap(), Repaired::default());
}

#[tokio::test]
async fn repair_rebuilds_the_bitmaps() {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::in_memory());
    let clock = ManualClock::new(jiff::Timestamp::from_second(1_700_000_000).unwrap());
    let server = ApiServer::builder(store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let (server, api) = boot(server).await;
    let kept = api
        .create(&create(), &with_spec("kept", json!({"type": "NodePort"})))
        .await
        .unwrap();
    let leaked = api
        .create(&create(), &with_spec("leaked", json!({"type": "NodePort"})))
        .await
        .unwrap();
    // A crash between allocation and the Service write: the Service never made it.
    store
        .delete("/registry/services/specs/default/leaked", None)
        .await
        .unwrap();
    // Recent allocations may still be in flight: kept for now.
    assert_eq!(alloc::repair(&server).await.unwrap(), Repaired::default());
    assert!(allocated(&server).await.0.contains(&ip_of(&leaked)));
    clock.advance(61);
    let r = alloc::repair(&server).await.unwrap();
    assert_eq!((r.ips.freed, r.node_ports.freed), (1, 1));
    let (ips, ports) = allocated(&server).await;
    assert_eq!(ips, BTreeSet::from([ip_of(&kept)]));
    assert_eq!(
        ports,
        node_ports(&kept)
            .iter()
            .map(|p| *p as u16)
            .collect::<BTreeSet<_>>()
    );
    // Lost allocation state (a restore, a changed configuration): marked again.
    store.delete(alloc::SERVICE_IPS_KEY, None).await.unwrap();
    store.delete(alloc::NODE_PORTS_KEY, None).await.unwrap();
    let r = alloc::repair(&server).await.unwrap();
    assert_eq!((r.ips.marked, r.node_ports.marked), (1, 1));
    assert_eq!(allocated(&server).await, (ips, ports));
    let err = api
        .create(
            &create(),
            &with_spec("clash", json!({"clusterIP": ip_of(&kept)})),
        )
        .await
        .unwrap_err();
    assert_eq!(message(err).0, 422);
    // Another service CIDR: the stored range is rebuilt for it.
    let other = ApiServer::builder(store.clone())
        .service_cidr("10.2.0.0/24")
        .build();
    let r = alloc::repair(&other).await.unwrap();
    assert!(r.ips.range_changed);
    assert!(allocated(&other).await.0.is_empty());
}

#[tokio::test]
async fn kubernetes_service_bootstrap() {
    let (server, api) = setup().await;
    let advertise: IpAddr = "192.168.1.10".parse().unwrap();
    server.bootstrap(advertise, 6443).await.unwrap();
    let k = to_json(&api.get("kubernetes").await.unwrap());
    assert_eq!(
        k["metadata"]["labels"],
        json!({"provider": "kubernetes", "component": "apiserver"})
    );
    assert_eq!(k["spec"]["clusterIP"], "10.0.0.1");
    assert_eq!(k["spec"]["type"], "ClusterIP");
    assert_eq!(k["spec"]["ipFamilyPolicy"], "SingleStack");
    assert!(k["spec"].get("selector").is_none());
    assert_eq!(
        k["spec"]["ports"],
        json!([{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}])
    );
    let client = LocalClient::admin(server.clone()).into_client();
    let eps: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let ep = serde_json::to_value(eps.get("kubernetes").await.unwrap()).unwrap();
    assert_eq!(
        ep["subsets"],
        json!([{"addresses": [{"ip": "192.168.1.10"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}])
    );
    // Idempotent.
    let rv = |v: &Value| v["metadata"]["resourceVersion"].clone();
    server.bootstrap(advertise, 6443).await.unwrap();
    assert_eq!(rv(&to_json(&api.get("kubernetes").await.unwrap())), rv(&k));
    assert_eq!(
        rv(&serde_json::to_value(eps.get("kubernetes").await.unwrap()).unwrap()),
        rv(&ep)
    );
    // A new port is reconciled.
    server
        .ensure_kubernetes_service(advertise, 7443)
        .await
        .unwrap();
    let k2 = to_json(&api.get("kubernetes").await.unwrap());
    assert_eq!(k2["spec"]["ports"][0]["targetPort"], 7443);
    assert_eq!(k2["spec"]["clusterIP"], "10.0.0.1");
    let ep2 = serde_json::to_value(eps.get("kubernetes").await.unwrap()).unwrap();
    assert_eq!(ep2["subsets"][0]["ports"][0]["port"], 7443);
    // The first IP is never handed out at random.
    for i in 0..20 {
        let s = api
            .create(&create(), &cluster_ip(&format!("r{i}")))
            .await
            .unwrap();
        assert_ne!(ip_of(&s), "10.0.0.1");
    }
}

#[tokio::test]
async fn ipv6_single_stack() {
    let server = ApiServer::builder(Arc::new(EmbeddedStore::in_memory()))
        .service_cidr("fd00:10::/112")
        .build();
    let (server, api) = boot(server).await;
    let s = to_json(&api.create(&create(), &cluster_ip("v6")).await.unwrap());
    let ip: IpAddr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
    assert!(ip.is_ipv6());
    assert_eq!(s["spec"]["ipFamilies"], json!(["IPv6"]));
    server
        .ensure_kubernetes_service("fd00::1".parse().unwrap(), 6443)
        .await
        .unwrap();
    assert_eq!(ip_of(&api.get("kubernetes").await.unwrap()), "fd00:10::1");
}
