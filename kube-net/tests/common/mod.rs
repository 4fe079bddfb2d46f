//! Network-namespace test bed: a "node" namespace holding the rules, a "client" namespace
//! behind it, and "pod" namespaces on a bridge in the node, each running TCP and UDP echo
//! servers on port 8080 that answer with their identity (`pod-<i>`).
//!
//! ```text
//!  client 192.168.77.2 ──veth── 192.168.77.1 node 10.244.0.1 (br0) ──veth── pod-i 10.244.0.(10+i)
//! ```
//!
//! Needs root and `ip netns`; without them the tests fail with a clear message (CI runs as
//! root). Every namespace is deleted by a Drop guard.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);
pub const POD_PORT: u16 = 8080;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {args:?}: {e} (the network tests need iproute2 and root)")
        });
    assert!(
        out.status.success(),
        "{args:?} failed: {} (the network tests need root and `ip netns`; run them as root, as CI does)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(role: &str) -> Netns {
        let name = format!(
            "kn-{}-{}-{role}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        run(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    pub fn ip(&self, args: &[&str]) {
        let mut v = vec!["ip", "-n", self.name.as_str()];
        v.extend_from_slice(args);
        run(&v);
    }

    pub fn sysctl(&self, key: &str, value: &str) {
        run(&[
            "ip",
            "netns",
            "exec",
            &self.name,
            "sysctl",
            "-qw",
            &format!("{key}={value}"),
        ]);
    }

    /// Runs `f` on a thread inside this namespace.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = self.path();
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
        .join()
        .expect("thread in netns panicked")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn enter(path: &std::path::Path) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&f),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .unwrap_or_else(|e| panic!("setns {}: {e} (needs root)", path.display()));
}

/// Echo servers of one pod (stopped on drop).
struct Servers {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_servers(ns: &Netns, id: String) -> Servers {
    let path = ns.path();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        enter(&path);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let tcp = tokio::net::TcpListener::bind(("0.0.0.0", POD_PORT))
                .await
                .unwrap();
            let udp = tokio::net::UdpSocket::bind(("0.0.0.0", POD_PORT))
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let id2 = id.clone();
            let t = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                while let Ok((mut s, _)) = tcp.accept().await {
                    let id = id2.clone();
                    tokio::spawn(async move {
                        let _ = s.write_all(id.as_bytes()).await;
                        let _ = s.shutdown().await;
                    });
                }
            });
            let u = tokio::spawn(async move {
                let mut buf = [0u8; 1500];
                while let Ok((_, peer)) = udp.recv_from(&mut buf).await {
                    let _ = udp.send_to(id.as_bytes(), peer).await;
                }
            });
            let _ = stop_rx.await;
            t.abort();
            u.abort();
        });
    });
    ready_rx.recv().expect("echo servers did not start");
    Servers {
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// The whole test bed. Field order matters for drop: servers, then namespaces.
pub struct Topology {
    servers: Vec<Servers>,
    pub pods: Vec<Netns>,
    pub client: Netns,
    pub node: Netns,
}

impl Topology {
    pub fn new(pods: usize) -> Topology {
        assert!(
            rustix::process::geteuid().is_root(),
            "the network tests must run as root (they build network namespaces); CI runs them as root"
        );
        let node = Netns::new("node");
        let client = Netns::new("client");
        node.sysctl("net.ipv4.ip_forward", "1");
        // client <-> node
        node.ip(&[
            "link",
            "add",
            "vc",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &client.name,
        ]);
        node.ip(&["addr", "add", "192.168.77.1/24", "dev", "vc"]);
        node.ip(&["link", "set", "vc", "up"]);
        client.ip(&["addr", "add", "192.168.77.2/24", "dev", "eth0"]);
        client.ip(&["link", "set", "eth0", "up"]);
        client.ip(&["route", "add", "default", "via", "192.168.77.1"]);
        // The node's uplink (a veth with nothing behind it): the default route, as on a real
        // node (a default route back to the client would make the node send redirects).
        node.ip(&["link", "add", "up0", "type", "veth", "peer", "name", "up1"]);
        node.ip(&["link", "set", "up1", "up"]);
        node.ip(&["addr", "add", "203.0.113.1/24", "dev", "up0"]);
        node.ip(&["link", "set", "up0", "up"]);
        node.ip(&[
            "route",
            "add",
            "default",
            "via",
            "203.0.113.254",
            "dev",
            "up0",
        ]);
        // the pod bridge
        node.ip(&["link", "add", "br0", "type", "bridge"]);
        node.ip(&["addr", "add", "10.244.0.1/24", "dev", "br0"]);
        node.ip(&["link", "set", "br0", "up"]);
        let mut pod_ns = Vec::new();
        let mut servers = Vec::new();
        for i in 0..pods {
            let p = Netns::new(&format!("pod{i}"));
            let veth = format!("vp{i}");
            node.ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &p.name,
            ]);
            node.ip(&["link", "set", &veth, "master", "br0"]);
            node.ip(&["link", "set", &veth, "up"]);
            let ip = Topology::pod_ip(i);
            p.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
            p.ip(&["link", "set", "eth0", "up"]);
            p.ip(&["route", "add", "default", "via", "10.244.0.1"]);
            servers.push(start_servers(&p, format!("pod-{i}")));
            pod_ns.push(p);
        }
        Topology {
            servers,
            pods: pod_ns,
            client,
            node,
        }
    }

    pub fn pod_ip(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, 0, 10 + i as u8)
    }

    pub fn pod_ep(i: usize) -> SocketAddrV4 {
        SocketAddrV4::new(Topology::pod_ip(i), POD_PORT)
    }

    /// `n` TCP requests from the client (each a new connection); the identities (or the
    /// error kind) that answered, counted.
    pub fn tcp_spread(&self, addr: SocketAddrV4, n: usize) -> BTreeMap<String, usize> {
        self.client.run(move || {
            let mut m = BTreeMap::new();
            for _ in 0..n {
                *m.entry(tcp_get(addr)).or_insert(0) += 1;
            }
            m
        })
    }

    /// `n` UDP requests from the client (each from a new socket, i.e. a new flow).
    pub fn udp_spread(&self, addr: SocketAddrV4, n: usize) -> BTreeMap<String, usize> {
        self.client.run(move || {
            let mut m = BTreeMap::new();
            for _ in 0..n {
                *m.entry(udp_get(addr)).or_insert(0) += 1;
            }
            m
        })
    }
}

/// One TCP request: the identity, or `error:<kind>`.
pub fn tcp_get(addr: SocketAddrV4) -> String {
    let mut s = match TcpStream::connect_timeout(&SocketAddr::V4(addr), Duration::from_secs(2)) {
        Ok(s) => s,
        Err(e) => return format!("error:{:?}", e.kind()),
    };
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.write_all(b"hi");
    let mut out = String::new();
    match s.read_to_string(&mut out) {
        Ok(_) if !out.is_empty() => out,
        Ok(_) => "error:empty".into(),
        Err(e) => format!("error:{:?}", e.kind()),
    }
}

/// One UDP request from a fresh socket: the identity, or `error:<kind>`.
pub fn udp_get(addr: SocketAddrV4) -> String {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    if let Err(e) = s.connect(addr) {
        return format!("error:{:?}", e.kind());
    }
    if let Err(e) = s.send(b"hi") {
        return format!("error:{:?}", e.kind());
    }
    let mut buf = [0u8; 64];
    match s.recv(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) => format!("error:{:?}", e.kind()),
    }
}

/// Asserts that `spread` holds exactly the `pods` (by index), each with at least `min` hits.
pub fn assert_spread(spread: &BTreeMap<String, usize>, pods: &[usize], min: usize) {
    let want: Vec<String> = pods.iter().map(|i| format!("pod-{i}")).collect();
    let got: Vec<String> = spread.keys().cloned().collect();
    assert_eq!(got, want, "answers: {spread:?}");
    for (k, v) in spread {
        assert!(*v >= min, "{k} got only {v} of the requests: {spread:?}");
    }
}

/// A Service object: `default/<name>` on `cluster_ip:port` (`protocol`), optionally a
/// NodePort and `sessionAffinity: ClientIP`.
pub fn service(
    name: &str,
    cluster_ip: &str,
    port: u16,
    protocol: &str,
    node_port: Option<u16>,
    affinity: bool,
) -> kubox_core::api::core_v1::Service {
    let mut p = serde_json::json!({"name": "p", "port": port, "protocol": protocol, "targetPort": POD_PORT});
    let mut spec = serde_json::json!({"clusterIP": cluster_ip, "selector": {"app": name}});
    if let Some(np) = node_port {
        p["nodePort"] = serde_json::json!(np);
        spec["type"] = serde_json::json!("NodePort");
    }
    if affinity {
        spec["sessionAffinity"] = serde_json::json!("ClientIP");
        spec["sessionAffinityConfig"] = serde_json::json!({"clientIP": {"timeoutSeconds": 600}});
    }
    spec["ports"] = serde_json::json!([p]);
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": "default", "name": name},
        "spec": spec
    }))
    .unwrap()
}

/// The EndpointSlice of Service `svc` with the given pods (by index) as ready endpoints.
pub fn slice(
    svc: &str,
    protocol: &str,
    pods: &[usize],
) -> kubox_core::api::discovery_v1::EndpointSlice {
    let eps: Vec<(usize, bool, bool, bool)> =
        pods.iter().map(|i| (*i, true, true, false)).collect();
    slice_with(svc, protocol, &eps)
}

/// The EndpointSlice of Service `svc` with endpoints `(pod index, ready, serving, terminating)`.
pub fn slice_with(
    svc: &str,
    protocol: &str,
    eps: &[(usize, bool, bool, bool)],
) -> kubox_core::api::discovery_v1::EndpointSlice {
    let eps: Vec<serde_json::Value> = eps
        .iter()
        .map(|(i, ready, serving, terminating)| {
            serde_json::json!({
            "addresses": [Topology::pod_ip(*i).to_string()],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "nodeName": "node"})
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"namespace": "default", "name": format!("{svc}-abcde"),
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "endpoints": eps,
        "ports": [{"name": "p", "port": POD_PORT, "protocol": protocol}]
    }))
    .unwrap()
}

/// One UDP flow (one client socket, one 5-tuple) to a Service at `vip` in `topo` (3 pods),
/// through endpoint changes, as kube-proxy keeps and clears conntrack entries: the flow stays
/// on its endpoint while endpoints are added and while its endpoint terminates but still
/// serves (new flows go elsewhere then); it moves at its next datagram once its endpoint
/// stops serving or leaves.
pub async fn udp_flow_scenario(topo: &Topology, backend: &mut dyn kube_net::NetworkRules) {
    let vip = sa("10.96.0.40:53");
    let svcs = vec![service("dns", "10.96.0.40", 53, "UDP", None, false)];
    let sync =
        |eps: Vec<(usize, bool, bool, bool)>| desired(&svcs, &[slice_with("dns", "UDP", &eps)]);
    backend
        .sync(&sync(vec![(0, true, true, false), (1, true, true, false)]))
        .await
        .unwrap();
    let sock = topo.client.run(move || {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.connect(vip).unwrap();
        s
    });
    let ask = |s: &std::net::UdpSocket| {
        s.send(b"hi").unwrap();
        let mut buf = [0u8; 64];
        match s.recv(&mut buf) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(e) => format!("error:{:?}", e.kind()),
        }
    };
    let first = ask(&sock);
    assert!(first.starts_with("pod-"), "{first}");
    assert_eq!(ask(&sock), first, "one flow, one endpoint");
    let on: usize = first["pod-".len()..].parse().unwrap();
    let other = 1 - on;
    // An added endpoint does not move the flow.
    backend
        .sync(&sync(vec![
            (0, true, true, false),
            (1, true, true, false),
            (2, true, true, false),
        ]))
        .await
        .unwrap();
    assert_eq!(ask(&sock), first, "adding an endpoint keeps the flow");
    // Terminating but still serving: the flow stays, new flows avoid it.
    let mut eps = vec![(other, true, true, false), (2, true, true, false)];
    eps.push((on, false, true, true));
    backend.sync(&sync(eps)).await.unwrap();
    assert_eq!(
        ask(&sock),
        first,
        "a terminating endpoint that serves keeps its flow"
    );
    let fresh = topo.udp_spread(vip, 20);
    assert!(
        !fresh.contains_key(&first),
        "new flows avoid the terminating pod: {fresh:?}"
    );
    // No longer serving: the flow moves.
    let eps = vec![
        (other, true, true, false),
        (2, true, true, false),
        (on, false, false, true),
    ];
    backend.sync(&sync(eps)).await.unwrap();
    let moved = ask(&sock);
    assert!(moved != first && moved.starts_with("pod-"), "{moved}");
    // Its new endpoint leaves: it moves again, to the one left.
    let left = if moved == format!("pod-{other}") {
        2
    } else {
        other
    };
    backend
        .sync(&sync(vec![(left, true, true, false)]))
        .await
        .unwrap();
    assert_eq!(ask(&sock), format!("pod-{left}"));
}

/// The desired state of these objects, for node "node".
pub fn desired(
    services: &[kubox_core::api::core_v1::Service],
    slices: &[kubox_core::api::discovery_v1::EndpointSlice],
) -> kube_net::DesiredState {
    let d = kube_net::model::desired_state(
        &kube_net::model::ModelConfig {
            node_name: "node".into(),
        },
        services.iter(),
        slices.iter(),
    );
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);
    d
}

pub fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

/// The shared traffic scenarios, run against any backend programmed in `topo.node`.
pub async fn scenarios(topo: &Topology, backend: &mut dyn kube_net::NetworkRules) {
    let addr = |_: &dyn kube_net::NetworkRules, a: SocketAddrV4| a;
    let all = [0, 1, 2];
    let svcs = vec![
        service("web", "10.96.0.10", 80, "TCP", Some(30080), false),
        service("dns", "10.96.0.11", 53, "UDP", Some(30053), false),
        service("sticky", "10.96.0.12", 80, "TCP", None, true),
        service("empty", "10.96.0.13", 80, "TCP", Some(30013), false),
        service("emptyu", "10.96.0.14", 53, "UDP", None, false),
    ];
    let slices = vec![
        slice("web", "TCP", &all),
        slice("dns", "UDP", &all),
        slice("sticky", "TCP", &all),
    ];
    let r = backend
        .sync(&desired(&svcs, &slices))
        .await
        .expect("first sync");
    assert!(r.full);
    assert_eq!(r.added, 5);

    // ClusterIP and NodePort reach every ready endpoint, roughly evenly (60 requests, each
    // pod expected 20; at least 6 each).
    let web = addr(&*backend, sa("10.96.0.10:80"));
    assert_spread(&topo.tcp_spread(web, 60), &all, 6);
    let web_np = addr(&*backend, SocketAddrV4::new(NODE_IP, 30080));
    assert_spread(&topo.tcp_spread(web_np, 60), &all, 6);
    let dns = addr(&*backend, sa("10.96.0.11:53"));
    assert_spread(&topo.udp_spread(dns, 60), &all, 6);
    let dns_np = addr(&*backend, SocketAddrV4::new(NODE_IP, 30053));
    assert_spread(&topo.udp_spread(dns_np, 60), &all, 6);

    // Session affinity sticks.
    let sticky = addr(&*backend, sa("10.96.0.12:80"));
    let s = topo.tcp_spread(sticky, 20);
    assert_eq!(
        s.len(),
        1,
        "affinity must keep one client on one endpoint: {s:?}"
    );
    assert!(s.keys().next().unwrap().starts_with("pod-"), "{s:?}");

    // No endpoints: rejected, quickly.
    for a in [sa("10.96.0.13:80"), SocketAddrV4::new(NODE_IP, 30013)] {
        let a = addr(&*backend, a);
        let t = std::time::Instant::now();
        let r = topo.tcp_spread(a, 1);
        assert_eq!(
            r.keys().next().unwrap(),
            "error:ConnectionRefused",
            "{a}: {r:?}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "reject must be quick: {:?}",
            t.elapsed()
        );
    }
    let r = topo.udp_spread(addr(&*backend, sa("10.96.0.14:53")), 1);
    assert_eq!(r.keys().next().unwrap(), "error:ConnectionRefused", "{r:?}");

    // Removed endpoints stop receiving traffic; the sticky client moves off a removed pod.
    let stuck_on: usize = s.keys().next().unwrap()["pod-".len()..].parse().unwrap();
    let rest: Vec<usize> = all.iter().copied().filter(|i| *i != stuck_on).collect();
    let slices2 = vec![
        slice("web", "TCP", &[0, 1]),
        slice("dns", "UDP", &[0, 1]),
        slice("sticky", "TCP", &rest),
    ];
    let r = backend
        .sync(&desired(&svcs, &slices2))
        .await
        .expect("incremental sync");
    assert!(!r.full);
    assert_eq!((r.added, r.updated, r.removed), (0, 3, 0), "{r:?}");
    assert_spread(
        &topo.tcp_spread(addr(&*backend, sa("10.96.0.10:80")), 40),
        &[0, 1],
        6,
    );
    assert_spread(
        &topo.udp_spread(addr(&*backend, sa("10.96.0.11:53")), 40),
        &[0, 1],
        6,
    );
    assert_spread(
        &topo.tcp_spread(addr(&*backend, SocketAddrV4::new(NODE_IP, 30080)), 40),
        &[0, 1],
        6,
    );
    let s2 = topo.tcp_spread(addr(&*backend, sa("10.96.0.12:80")), 10);
    assert_eq!(s2.len(), 1, "{s2:?}");
    assert_ne!(s2.keys().next().unwrap(), &format!("pod-{stuck_on}"));

    // Endpoints appear for the empty Service: it starts answering; the web Service loses
    // all endpoints: rejected.
    let slices3 = vec![
        slice("empty", "TCP", &[2]),
        slice("dns", "UDP", &[0, 1]),
        slice("sticky", "TCP", &rest),
    ];
    backend
        .sync(&desired(&svcs, &slices3))
        .await
        .expect("third sync");
    assert_spread(
        &topo.tcp_spread(addr(&*backend, sa("10.96.0.13:80")), 5),
        &[2],
        5,
    );
    assert_spread(
        &topo.tcp_spread(addr(&*backend, SocketAddrV4::new(NODE_IP, 30013)), 5),
        &[2],
        5,
    );
    let r = topo.tcp_spread(addr(&*backend, sa("10.96.0.10:80")), 1);
    assert_eq!(r.keys().next().unwrap(), "error:ConnectionRefused", "{r:?}");

    // A Service removed: its address no longer answers.
    let svcs4: Vec<_> = svcs
        .iter()
        .filter(|s| s.metadata.name.as_deref() != Some("dns"))
        .cloned()
        .collect();
    let r = backend
        .sync(&desired(&svcs4, &slices3))
        .await
        .expect("fourth sync");
    assert_eq!(r.removed, 1);

    backend.cleanup().await.expect("cleanup");
}
