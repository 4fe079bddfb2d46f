//! The userspace backend: tokio TCP and UDP forwarders, for hosts where no packet filter is
//! usable (kube-proxy's old `userspace` mode, and what the Windows kernelspace proxy replaced).
//!
//! Every Service port with endpoints gets a listener on `ClusterIP:port` (when the address can
//! be bound: it must be local, e.g. on a dummy interface or covered by a `local` route) or,
//! failing that, on a node-local port (`0.0.0.0:<ephemeral>`, reported in
//! [`Report::notes`] and [`Userspace::listeners`]); a NodePort gets a listener on
//! `0.0.0.0:<nodePort>`. Connections (TCP) and flows (UDP, by client address, closed after
//! [`UserspaceConfig::udp_idle_timeout`], or at their next datagram once their endpoint stopped
//! serving, as kube-proxy clears such conntrack entries) go round-robin over the
//! endpoints; with
//! `sessionAffinity: ClientIP` a client stays on its endpoint until the timeout passes without
//! traffic. A Service port without endpoints has no listener, so clients are refused (TCP RST,
//! ICMP port unreachable) as with the nftables backend's reject.
//!
//! All sockets live on one dedicated thread that first enters the configured network namespace
//! (`setns`) and then runs a single-threaded tokio runtime: sockets belong to the namespace of
//! the thread that creates them.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::model::{DesiredState, ServicePortName, ServicePortRules};
use crate::rules::{diff, Error, NetworkRules, Report, Result};

/// Settings of the userspace backend.
#[derive(Clone, Debug)]
pub struct UserspaceConfig {
    /// The network namespace the sockets live in (`/run/netns/<name>`); `None`: the current one.
    pub netns: Option<PathBuf>,
    /// Try to bind `ClusterIP:port`; when false (or when that fails) listen on a node-local
    /// port instead.
    pub bind_cluster_ips: bool,
    /// The address NodePort listeners bind (`0.0.0.0`: all node addresses).
    pub node_port_address: Ipv4Addr,
    /// How long a UDP flow lives without traffic.
    pub udp_idle_timeout: Duration,
    /// How long to wait for a TCP connection to an endpoint before trying the next one.
    pub connect_timeout: Duration,
}

impl Default for UserspaceConfig {
    fn default() -> Self {
        UserspaceConfig {
            netns: None,
            bind_cluster_ips: true,
            node_port_address: Ipv4Addr::UNSPECIFIED,
            udp_idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

/// Endpoint choice of one listener: round-robin, with optional client-IP affinity.
#[derive(Debug)]
pub struct Balancer {
    endpoints: Vec<SocketAddrV4>,
    /// Endpoints whose existing UDP flows stay (they still serve).
    serving: Vec<SocketAddrV4>,
    next: usize,
    affinity: Option<Duration>,
    sticky: HashMap<Ipv4Addr, (SocketAddrV4, Instant)>,
}

impl Balancer {
    /// A balancer choosing among `endpoints`; `serving`: the endpoints whose existing UDP
    /// flows stay although new flows may go elsewhere (the chosen ones always do);
    /// `affinity`: the client-IP stickiness timeout.
    pub fn new(
        endpoints: Vec<SocketAddrV4>,
        serving: Vec<SocketAddrV4>,
        affinity: Option<Duration>,
    ) -> Self {
        Balancer {
            endpoints,
            serving,
            next: 0,
            affinity,
            sticky: HashMap::new(),
        }
    }

    /// Replaces the endpoints and the serving ones, as in [`new`](Self::new) (affinity entries
    /// of endpoints that went away are dropped).
    pub fn update(
        &mut self,
        endpoints: Vec<SocketAddrV4>,
        serving: Vec<SocketAddrV4>,
        affinity: Option<Duration>,
    ) {
        if affinity != self.affinity {
            self.sticky.clear();
        }
        self.sticky.retain(|_, (ep, _)| endpoints.contains(ep));
        self.endpoints = endpoints;
        self.serving = serving;
        self.affinity = affinity;
    }

    /// Whether an existing flow to `ep` may stay: `ep` still serves.
    pub fn serves(&self, ep: &SocketAddrV4) -> bool {
        self.serving.contains(ep) || self.endpoints.contains(ep)
    }

    /// The endpoint for a new connection from `client` at `now`; `skip`: endpoints that just
    /// failed. `None` when there is none left.
    pub fn pick(
        &mut self,
        client: Ipv4Addr,
        now: Instant,
        skip: &[SocketAddrV4],
    ) -> Option<SocketAddrV4> {
        if let Some(timeout) = self.affinity {
            if let Some((ep, last)) = self.sticky.get(&client).copied() {
                if now.duration_since(last) < timeout
                    && !skip.contains(&ep)
                    && self.endpoints.contains(&ep)
                {
                    self.sticky.insert(client, (ep, now));
                    return Some(ep);
                }
            }
        }
        let candidates: Vec<SocketAddrV4> = self
            .endpoints
            .iter()
            .copied()
            .filter(|e| !skip.contains(e))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let ep = candidates[self.next % candidates.len()];
        self.next = self.next.wrapping_add(1);
        if self.affinity.is_some() {
            self.sticky.insert(client, (ep, now));
        }
        Some(ep)
    }

    /// Refreshes `client`'s affinity entry (traffic seen).
    pub fn touch(&mut self, client: Ipv4Addr, now: Instant) {
        if let Some(e) = self.sticky.get_mut(&client) {
            e.1 = now;
        }
    }
}

type Shared = Arc<Mutex<Balancer>>;

struct Listener {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct PortState {
    cluster: Option<(Shared, Listener)>,
    external: Option<(Shared, Listener)>,
}

enum Cmd {
    Sync(Box<DesiredState>, bool, oneshot::Sender<Result<Report>>),
    Cleanup(oneshot::Sender<()>),
}

/// The userspace [`NetworkRules`] backend.
#[derive(Debug)]
pub struct Userspace {
    tx: mpsc::UnboundedSender<Cmd>,
    applied: Option<DesiredState>,
    listeners: Arc<Mutex<BTreeMap<ServicePortName, Vec<SocketAddr>>>>,
}

impl Userspace {
    /// Starts the forwarding thread (entering `config.netns`).
    pub fn new(config: UserspaceConfig) -> Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let listeners = Arc::new(Mutex::new(BTreeMap::new()));
        let shared = listeners.clone();
        std::thread::Builder::new()
            .name("kube-net-userspace".into())
            .spawn(move || {
                if let Some(ns) = &config.netns {
                    let entered = std::fs::File::open(ns)
                        .and_then(|f| {
                            rustix::thread::move_into_link_name_space(
                                std::os::fd::AsFd::as_fd(&f),
                                Some(rustix::thread::LinkNameSpaceType::Network),
                            )
                            .map_err(std::io::Error::from)
                        })
                        .map_err(|e| Error::Io {
                            context: format!("entering network namespace {}", ns.display()),
                            source: e,
                        });
                    if let Err(e) = entered {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Io {
                            context: "starting the userspace proxy runtime".into(),
                            source: e,
                        }));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                rt.block_on(run(config, rx, shared));
            })
            .map_err(|e| Error::Io {
                context: "spawning the userspace proxy thread".into(),
                source: e,
            })?;
        ready_rx
            .recv()
            .map_err(|_| Error::Unavailable("userspace proxy thread exited".into()))??;
        Ok(Userspace {
            tx,
            applied: None,
            listeners,
        })
    }

    /// The addresses each Service port listens on now (ClusterIP or node-local, NodePort).
    pub fn listeners(&self) -> BTreeMap<ServicePortName, Vec<SocketAddr>> {
        self.listeners.lock().clone()
    }
}

async fn run(
    config: UserspaceConfig,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    listeners: Arc<Mutex<BTreeMap<ServicePortName, Vec<SocketAddr>>>>,
) {
    let config = Arc::new(config);
    let mut ports: BTreeMap<ServicePortName, PortState> = BTreeMap::new();
    let mut applied = DesiredState::default();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Sync(desired, full, reply) => {
                let start = std::time::Instant::now();
                if full {
                    ports.clear();
                    applied = DesiredState::default();
                }
                let d = diff(&applied, &desired);
                let mut report = Report {
                    backend: "userspace",
                    full,
                    added: d.added.len(),
                    updated: d.updated.len(),
                    removed: d.removed.len(),
                    unchanged: d.unchanged,
                    ..Report::default()
                };
                for r in &d.removed {
                    ports.remove(&r.name);
                }
                let changed: Vec<&ServicePortRules> = d
                    .added
                    .iter()
                    .copied()
                    .chain(d.updated.iter().map(|(_, n)| *n))
                    .collect();
                for r in changed {
                    let st = ports.entry(r.name.clone()).or_default();
                    apply_port(&config, r, st, &mut report.notes).await;
                }
                applied = *desired;
                let mut l = BTreeMap::new();
                for (k, st) in &ports {
                    let v: Vec<SocketAddr> = [&st.cluster, &st.external]
                        .into_iter()
                        .flatten()
                        .map(|(_, l)| l.addr)
                        .collect();
                    if !v.is_empty() {
                        l.insert(k.clone(), v);
                    }
                }
                report.rule_count = l.values().map(Vec::len).sum();
                *listeners.lock() = l;
                report.duration = start.elapsed();
                let _ = reply.send(Ok(report));
            }
            Cmd::Cleanup(reply) => {
                ports.clear();
                applied = DesiredState::default();
                listeners.lock().clear();
                let _ = reply.send(());
            }
        }
    }
}

async fn apply_port(
    config: &Arc<UserspaceConfig>,
    r: &ServicePortRules,
    st: &mut PortState,
    notes: &mut Vec<String>,
) {
    let affinity = r
        .affinity
        .map(|a| Duration::from_secs(u64::from(a.timeout_seconds)));
    // ClusterIP.
    if r.cluster_endpoints.is_empty() {
        st.cluster = None;
    } else if let Some((b, _)) = &st.cluster {
        let serving = r.serving_endpoints.clone();
        b.lock()
            .update(r.cluster_endpoints.clone(), serving, affinity);
    } else {
        let b = Arc::new(Mutex::new(Balancer::new(
            r.cluster_endpoints.clone(),
            r.serving_endpoints.clone(),
            affinity,
        )));
        let vip = SocketAddr::V4(SocketAddrV4::new(r.cluster_ip, r.port));
        let mut listener = None;
        if config.bind_cluster_ips {
            match listen(config, r, vip, b.clone()).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    notes.push(format!(
                        "{}: cannot bind {}:{} ({e}), using a node-local port",
                        r.name, r.cluster_ip, r.port
                    ));
                }
            }
        }
        if listener.is_none() {
            let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
            match listen(config, r, addr, b.clone()).await {
                Ok(l) => {
                    if !config.bind_cluster_ips {
                        notes.push(format!("{}: listening on node-local {}", r.name, l.addr));
                    }
                    listener = Some(l);
                }
                Err(e) => {
                    tracing::warn!(service = %r.name, error = %e, "kube-net userspace: cannot listen");
                    notes.push(format!("{}: cannot listen: {e}", r.name));
                }
            }
        }
        st.cluster = listener.map(|l| (b, l));
    }
    // NodePort.
    match r.node_port {
        Some(np) if !r.external_endpoints.is_empty() => {
            if let Some((b, l)) = &st.external {
                if l.addr.port() == np {
                    let serving = r.serving_endpoints.clone();
                    b.lock()
                        .update(r.external_endpoints.clone(), serving, affinity);
                    return;
                }
            }
            st.external = None;
            let b = Arc::new(Mutex::new(Balancer::new(
                r.external_endpoints.clone(),
                r.serving_endpoints.clone(),
                affinity,
            )));
            let addr = SocketAddr::V4(SocketAddrV4::new(config.node_port_address, np));
            match listen(config, r, addr, b.clone()).await {
                Ok(l) => st.external = Some((b, l)),
                Err(e) => {
                    tracing::warn!(service = %r.name, error = %e, "kube-net userspace: cannot listen on the node port");
                    notes.push(format!("{}: cannot listen on node port {np}: {e}", r.name));
                }
            }
        }
        _ => st.external = None,
    }
}

async fn listen(
    config: &Arc<UserspaceConfig>,
    r: &ServicePortRules,
    addr: SocketAddr,
    b: Shared,
) -> std::io::Result<Listener> {
    // A listener dropped in this sync closes its socket only once the runtime has dropped its
    // aborted task: give it a few turns before giving up on an address in use.
    let mut tries = 0;
    loop {
        match listen_once(config, r, addr, b.clone()).await {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 50 => {
                tries += 1;
                tokio::task::yield_now().await;
                if tries > 10 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            other => return other,
        }
    }
}

async fn listen_once(
    config: &Arc<UserspaceConfig>,
    r: &ServicePortRules,
    addr: SocketAddr,
    b: Shared,
) -> std::io::Result<Listener> {
    match r.name.protocol {
        crate::model::Protocol::Tcp => {
            let l = TcpListener::bind(addr).await?;
            let addr = l.local_addr()?;
            let task = tokio::spawn(tcp_loop(l, b, config.clone()));
            Ok(Listener { addr, task })
        }
        crate::model::Protocol::Udp => {
            let s = UdpSocket::bind(addr).await?;
            let addr = s.local_addr()?;
            let task = tokio::spawn(udp_loop(Arc::new(s), b, config.clone()));
            Ok(Listener { addr, task })
        }
    }
}

fn client_ip(a: SocketAddr) -> Ipv4Addr {
    match a {
        SocketAddr::V4(v) => *v.ip(),
        SocketAddr::V6(v) => v.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

async fn tcp_loop(l: TcpListener, b: Shared, config: Arc<UserspaceConfig>) {
    loop {
        let (mut client, peer) = match l.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "kube-net userspace: accept");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let b = b.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let ip = client_ip(peer);
            let mut failed = Vec::new();
            loop {
                let Some(ep) = b.lock().pick(ip, Instant::now(), &failed) else {
                    return; // no endpoint answered: close the client connection
                };
                match tokio::time::timeout(config.connect_timeout, TcpStream::connect(ep)).await {
                    Ok(Ok(mut upstream)) => {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        b.lock().touch(ip, Instant::now());
                        return;
                    }
                    _ => failed.push(ep),
                }
            }
        });
    }
}

/// A UDP listener's flows by client address: the upstream socket, its endpoint, the task
/// relaying answers.
type Flows = Arc<Mutex<HashMap<SocketAddr, Flow>>>;

struct Flow {
    upstream: Arc<UdpSocket>,
    endpoint: SocketAddrV4,
    relay: tokio::task::AbortHandle,
}

/// Ends every flow of a UDP listener when its loop is dropped (the flows hold the socket).
struct FlowsGuard(Flows);

impl Drop for FlowsGuard {
    fn drop(&mut self) {
        for (_, f) in self.0.lock().drain() {
            f.relay.abort();
        }
    }
}

async fn udp_loop(sock: Arc<UdpSocket>, b: Shared, config: Arc<UserspaceConfig>) {
    let flows: Flows = Arc::new(Mutex::new(HashMap::new()));
    let _guard = FlowsGuard(flows.clone());
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "kube-net userspace: udp recv");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let existing = flows
            .lock()
            .get(&peer)
            .map(|f| (f.upstream.clone(), f.endpoint));
        // A flow to an endpoint that stopped serving is over (kube-proxy clears the conntrack
        // entries of such UDP endpoints): the datagram starts a new flow.
        let had_flow = existing.is_some();
        let live = existing.filter(|(_, ep)| {
            let mut b = b.lock();
            b.serves(ep) && {
                b.touch(client_ip(peer), Instant::now());
                true
            }
        });
        if had_flow && live.is_none() {
            if let Some(f) = flows.lock().remove(&peer) {
                f.relay.abort();
            }
        }
        let upstream = match live {
            Some((u, _)) => u,
            None => {
                let Some(ep) = b.lock().pick(client_ip(peer), Instant::now(), &[]) else {
                    continue;
                };
                let u = match UdpSocket::bind(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::UNSPECIFIED,
                    0,
                )))
                .await
                {
                    Ok(u) => u,
                    Err(_) => continue,
                };
                if u.connect(ep).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                let (sock, flows2, u2, timeout) = (
                    sock.clone(),
                    flows.clone(),
                    u.clone(),
                    config.udp_idle_timeout,
                );
                let task = tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(Ok(n)) = tokio::time::timeout(timeout, u2.recv(&mut buf)).await {
                        if sock.send_to(&buf[..n], peer).await.is_err() {
                            break;
                        }
                    }
                    let mut flows = flows2.lock();
                    // Only this flow's own entry (a replacement may hold the address now).
                    if flows
                        .get(&peer)
                        .is_some_and(|f| Arc::ptr_eq(&f.upstream, &u2))
                    {
                        flows.remove(&peer);
                    }
                });
                flows.lock().insert(
                    peer,
                    Flow {
                        upstream: u.clone(),
                        endpoint: ep,
                        relay: task.abort_handle(),
                    },
                );
                u
            }
        };
        let _ = upstream.send(&buf[..n]).await;
    }
}

#[async_trait]
impl NetworkRules for Userspace {
    fn name(&self) -> &'static str {
        "userspace"
    }

    async fn sync(&mut self, desired: &DesiredState) -> Result<Report> {
        let full = self.applied.is_none();
        if let Some(old) = &self.applied {
            if old.services == desired.services {
                return Ok(Report {
                    backend: "userspace",
                    unchanged: desired.services.len(),
                    rule_count: self.listeners.lock().values().map(Vec::len).sum(),
                    ..Report::default()
                });
            }
        }
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Sync(Box::new(desired.clone()), full, tx))
            .map_err(|_| Error::Unavailable("userspace proxy thread exited".into()))?;
        let report = rx
            .await
            .map_err(|_| Error::Unavailable("userspace proxy thread exited".into()))??;
        self.applied = Some(desired.clone());
        Ok(report)
    }

    fn resync(&mut self) {
        self.applied = None;
    }

    async fn cleanup(&mut self) -> Result<()> {
        self.applied = None;
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Cleanup(tx))
            .map_err(|_| Error::Unavailable("userspace proxy thread exited".into()))?;
        rx.await
            .map_err(|_| Error::Unavailable("userspace proxy thread exited".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eps(n: u8) -> Vec<SocketAddrV4> {
        (1..=n)
            .map(|i| SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 80))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn round_robin_spreads_evenly() {
        let mut b = Balancer::new(eps(3), eps(3), None);
        let mut counts = HashMap::new();
        for i in 0..30u8 {
            let ep = b
                .pick(Ipv4Addr::new(192, 168, 0, i), Instant::now(), &[])
                .unwrap();
            *counts.entry(ep).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 3);
        assert!(counts.values().all(|&c| c == 10));
    }

    #[tokio::test(start_paused = true)]
    async fn affinity_sticks_until_the_timeout() {
        let mut b = Balancer::new(eps(3), eps(3), Some(Duration::from_secs(60)));
        let c = Ipv4Addr::new(192, 168, 0, 1);
        let first = b.pick(c, Instant::now(), &[]).unwrap();
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(30)).await;
            assert_eq!(b.pick(c, Instant::now(), &[]), Some(first));
        }
        // Another client moves the round-robin on; after 61 s idle the client is re-balanced.
        b.pick(Ipv4Addr::new(192, 168, 0, 2), Instant::now(), &[]);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_ne!(b.pick(c, Instant::now(), &[]), Some(first));
    }

    #[tokio::test(start_paused = true)]
    async fn removed_or_failed_endpoints_are_not_chosen() {
        let mut b = Balancer::new(eps(2), eps(2), Some(Duration::from_secs(60)));
        let c = Ipv4Addr::new(192, 168, 0, 1);
        let first = b.pick(c, Instant::now(), &[]).unwrap();
        let rest: Vec<_> = eps(2).into_iter().filter(|e| *e != first).collect();
        b.update(rest.clone(), rest.clone(), Some(Duration::from_secs(60)));
        assert_eq!(b.pick(c, Instant::now(), &[]), Some(rest[0]));
        assert_eq!(b.pick(c, Instant::now(), &rest), None);
    }
}
