//! Configures the inside of a pod's network namespace over rtnetlink, without spawning `ip`:
//! a short-lived thread enters the namespace (`setns`), opens a `NETLINK_ROUTE` socket there
//! and brings up loopback, adds the pod address to `eth0`, brings it up and adds the default
//! route through the gateway.

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_IFNAME: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const IFF_UP: u32 = 1;
const AF_INET: u8 = 2;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;

struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

fn ifinfomsg(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut body = vec![0u8, 0, 0, 0];
    body.extend_from_slice(&index.to_ne_bytes());
    body.extend_from_slice(&flags.to_ne_bytes());
    body.extend_from_slice(&change.to_ne_bytes());
    body
}

impl Netlink {
    fn open() -> std::io::Result<Netlink> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            // NETLINK_ROUTE is protocol 0.
            None,
        )?;
        Ok(Netlink { fd, seq: 0 })
    }

    /// Sends one request and returns the first reply message (the ack or the answer).
    fn request(&mut self, kind: u16, flags: u16, body: &[u8]) -> Result<Vec<u8>, String> {
        self.seq += 1;
        let mut msg = Vec::with_capacity(16 + body.len());
        msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        rustix::net::send(self.fd.as_fd(), &msg, SendFlags::empty())
            .map_err(|e| format!("netlink send: {e}"))?;
        let mut buf = vec![0u8; 8192];
        loop {
            let (n, _) = rustix::net::recv(self.fd.as_fd(), &mut buf[..], RecvFlags::empty())
                .map_err(|e| format!("netlink recv: {e}"))?;
            let reply = &buf[..n];
            if reply.len() < 16 {
                return Err("short netlink reply".into());
            }
            let seq = u32::from_ne_bytes([reply[8], reply[9], reply[10], reply[11]]);
            if seq != self.seq {
                continue;
            }
            let reply_kind = u16::from_ne_bytes([reply[4], reply[5]]);
            if reply_kind == NLMSG_ERROR && reply.len() >= 20 {
                let errno = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
                if errno != 0 {
                    return Err(std::io::Error::from_raw_os_error(-errno).to_string());
                }
            }
            return Ok(reply.to_vec());
        }
    }

    fn link_index(&mut self, name: &str) -> Result<i32, String> {
        let mut body = ifinfomsg(0, 0, 0);
        let mut name = name.as_bytes().to_vec();
        name.push(0);
        attr(&mut body, IFLA_IFNAME, &name);
        // Without NLM_F_ACK the answer comes alone; with it, the answer comes first.
        let reply = self.request(RTM_GETLINK, 0, &body)?;
        let kind = u16::from_ne_bytes([reply[4], reply[5]]);
        if kind != RTM_NEWLINK || reply.len() < 24 {
            return Err("unexpected answer to RTM_GETLINK".into());
        }
        Ok(i32::from_ne_bytes([
            reply[20], reply[21], reply[22], reply[23],
        ]))
    }

    fn link_up(&mut self, index: i32) -> Result<(), String> {
        self.request(RTM_NEWLINK, 0, &ifinfomsg(index, IFF_UP, IFF_UP))
            .map(drop)
    }

    fn add_address(&mut self, index: i32, ip: Ipv4Addr, prefix: u8) -> Result<(), String> {
        let mut body = vec![AF_INET, prefix, 0, 0];
        body.extend_from_slice(&(index as u32).to_ne_bytes());
        attr(&mut body, IFA_LOCAL, &ip.octets());
        attr(&mut body, IFA_ADDRESS, &ip.octets());
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &body)
            .map(drop)
    }

    fn add_default_route(&mut self, index: i32, gateway: Ipv4Addr) -> Result<(), String> {
        let mut body = vec![AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST];
        body.extend_from_slice(&0u32.to_ne_bytes());
        attr(&mut body, RTA_GATEWAY, &gateway.octets());
        attr(&mut body, RTA_OIF, &(index as u32).to_ne_bytes());
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &body)
            .map(drop)
    }
}

fn configure(netns: PathBuf, ip: Ipv4Addr, prefix: u8, gateway: Ipv4Addr) -> Result<(), String> {
    let ns =
        std::fs::File::open(&netns).map_err(|e| format!("cannot open {}: {e}", netns.display()))?;
    rustix::thread::move_into_link_name_space(
        ns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| format!("cannot enter {}: {e}", netns.display()))?;
    let mut nl = Netlink::open().map_err(|e| format!("cannot open a netlink socket: {e}"))?;
    let lo = nl.link_index("lo")?;
    nl.link_up(lo).map_err(|e| format!("lo up: {e}"))?;
    let eth0 = nl.link_index("eth0")?;
    nl.add_address(eth0, ip, prefix)
        .map_err(|e| format!("adding {ip}/{prefix} to eth0: {e}"))?;
    nl.link_up(eth0).map_err(|e| format!("eth0 up: {e}"))?;
    nl.add_default_route(eth0, gateway)
        .map_err(|e| format!("default route via {gateway}: {e}"))?;
    Ok(())
}

/// Configures loopback, `eth0`'s address and the default route inside a namespace.
pub(crate) async fn configure_pod_interface(
    netns: PathBuf,
    ip: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<(), String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own: it enters the namespace and ends with it (never a pooled thread).
    std::thread::Builder::new()
        .name("kubox-netns".into())
        .spawn(move || {
            let _ = tx.send(configure(netns, ip, prefix, gateway));
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    rx.await
        .map_err(|_| "the namespace thread ended without an answer".to_string())?
}
