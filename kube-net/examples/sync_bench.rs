//! `cargo run --release -p kube-net --all-features --example sync_bench`
//!
//! A full sync of 10,000 Services × 10 endpoints into nftables (in a throwaway network
//! namespace), then one Service changed on top of them; the same through the userspace
//! backend (listeners on node-local ports in the same namespace).
//!
//! Prints `bench full_sync_10k`, `bench one_change` (one endpoint of one Service replaced),
//! `bench one_add` (one Service added), `bench one_change_again` (another endpoint change,
//! a moment later) and the userspace figures. `RUST_LOG=kube_net=debug` also logs the phases
//! of every nftables sync.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Instant;

use kube_net::model::{DesiredState, Protocol, ServicePortName, ServicePortRules};
use kube_net::nft::{NftConfig, Nftables};
use kube_net::userspace::{Userspace, UserspaceConfig};
use kube_net::NetworkRules;

const SERVICES: u32 = 10_000;
const ENDPOINTS: u32 = 10;

fn desired(services: u32, endpoints: u32) -> DesiredState {
    let mut d = DesiredState::default();
    for i in 0..services {
        let name = ServicePortName {
            namespace: "bench".into(),
            name: format!("svc-{i}"),
            port: "http".into(),
            protocol: Protocol::Tcp,
        };
        let eps: Vec<SocketAddrV4> = (0..endpoints)
            .map(|j| {
                let n = i * endpoints + j;
                SocketAddrV4::new(
                    Ipv4Addr::new(10, 128 + (n >> 16) as u8, (n >> 8) as u8, n as u8),
                    8080,
                )
            })
            .collect();
        let r = ServicePortRules {
            name: name.clone(),
            cluster_ip: Ipv4Addr::new(10, 96, (i >> 8) as u8, i as u8),
            port: 80,
            node_port: None,
            affinity: None,
            internal_local: false,
            external_local: false,
            serving_endpoints: eps.clone(),
            cluster_endpoints: eps,
            external_endpoints: Vec::new(),
            has_any_endpoints: true,
        };
        d.services.insert(name, r);
    }
    d
}

struct Netns(String);
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `RUST_LOG=kube_net=debug` shows the phases of each nftables sync.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let ns = Netns(format!("kubox-bench-{}", std::process::id()));
    let st = std::process::Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()?;
    anyhow::ensure!(st.success(), "ip netns add failed (needs root)");
    let path = PathBuf::from(format!("/run/netns/{}", ns.0));

    let mut d = desired(SERVICES, ENDPOINTS);
    let mut nft = Nftables::new(NftConfig {
        netns: Some(path.clone()),
        ..NftConfig::default()
    });
    let t = Instant::now();
    let r = nft.sync(&d).await?;
    println!(
        "bench full_sync_10k ms={} services={} endpoints={} rules={}",
        t.elapsed().as_millis(),
        SERVICES,
        SERVICES * ENDPOINTS,
        r.rule_count
    );
    // One Service changed: one endpoint replaced.
    let k = d.services.keys().nth(4242).cloned().unwrap();
    d.services.get_mut(&k).unwrap().cluster_endpoints[3] = "10.200.0.1:8080".parse()?;
    let t = Instant::now();
    let r = nft.sync(&d).await?;
    println!(
        "bench one_change ms={} updated={} unchanged={}",
        t.elapsed().as_millis(),
        r.updated,
        r.unchanged
    );
    // One Service added.
    let mut extra = desired(SERVICES + 1, ENDPOINTS);
    extra
        .services
        .retain(|k, _| k.name == format!("svc-{SERVICES}"));
    d.services.extend(extra.services);
    let t = Instant::now();
    nft.sync(&d).await?;
    println!("bench one_add ms={}", t.elapsed().as_millis());
    // Another endpoint change, now that the kernel has settled after the full sync.
    let k = d.services.keys().nth(777).cloned().unwrap();
    d.services.get_mut(&k).unwrap().cluster_endpoints[5] = "10.200.0.2:8080".parse()?;
    let t = Instant::now();
    nft.sync(&d).await?;
    println!("bench one_change_again ms={}", t.elapsed().as_millis());
    nft.cleanup().await?;

    // Userspace: 10,000 listeners need 10,000 sockets; raise the limit as far as allowed.
    let mut us = Userspace::new(UserspaceConfig {
        netns: Some(path),
        ..UserspaceConfig::default()
    })?;
    let small = desired(1_000, ENDPOINTS);
    let t = Instant::now();
    us.sync(&small).await?;
    println!(
        "bench userspace_full_sync_1k ms={}",
        t.elapsed().as_millis()
    );
    let mut small2 = small.clone();
    let k = small2.services.keys().nth(42).cloned().unwrap();
    small2.services.get_mut(&k).unwrap().cluster_endpoints[3] = "10.200.0.1:8080".parse()?;
    let t = Instant::now();
    us.sync(&small2).await?;
    println!("bench userspace_one_change ms={}", t.elapsed().as_millis());
    us.cleanup().await?;
    Ok(())
}
