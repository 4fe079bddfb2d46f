//! Stale UDP conntrack entries, as kube-proxy clears them: when an endpoint leaves a UDP
//! Service, flows that were DNATed to it are deleted, or a client reusing its 5-tuple would
//! keep reaching the removed endpoint until the entry expires. Talks ctnetlink directly
//! (`IPCTNL_MSG_CT_GET` dump, then `IPCTNL_MSG_CT_DELETE` by original tuple) on a
//! `NETLINK_NETFILTER` socket in the target namespace.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use rustix::net::{RecvFlags, SendFlags};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const AF_INET: u8 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const NLA_TYPE_MASK: u16 = 0x3fff;
const IPPROTO_UDP: u8 = 17;

/// UDP flows to delete: those sent to `dst:dport` (`dst: None`: any address, for NodePorts)
/// and answered by `endpoint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stale {
    pub(super) dst: Option<Ipv4Addr>,
    pub(super) dport: u16,
    pub(super) endpoint: SocketAddrV4,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Tuple {
    src: Option<Ipv4Addr>,
    dst: Option<Ipv4Addr>,
    proto: Option<u8>,
    sport: Option<u16>,
    dport: Option<u16>,
}

/// Iterates the attributes of `buf`: (type without flags, payload, whole attribute).
fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8], &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off + 4 > buf.len() {
            return None;
        }
        let len = u16::from_ne_bytes([buf[off], buf[off + 1]]) as usize;
        let ty = u16::from_ne_bytes([buf[off + 2], buf[off + 3]]) & NLA_TYPE_MASK;
        if len < 4 || off + len > buf.len() {
            return None;
        }
        let item = (ty, &buf[off + 4..off + len], &buf[off..off + len]);
        off += (len + 3) & !3;
        Some(item)
    })
}

fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
}

fn port(b: &[u8]) -> Option<u16> {
    <[u8; 2]>::try_from(b).ok().map(u16::from_be_bytes)
}

fn tuple(payload: &[u8]) -> Tuple {
    let mut t = Tuple::default();
    for (ty, p, _) in attrs(payload) {
        match ty {
            CTA_TUPLE_IP => {
                for (ty, p, _) in attrs(p) {
                    match ty {
                        CTA_IP_V4_SRC => t.src = ipv4(p),
                        CTA_IP_V4_DST => t.dst = ipv4(p),
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for (ty, p, _) in attrs(p) {
                    match ty {
                        CTA_PROTO_NUM => t.proto = p.first().copied(),
                        CTA_PROTO_SRC_PORT => t.sport = port(p),
                        CTA_PROTO_DST_PORT => t.dport = port(p),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    t
}

fn header(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, payload: &[u8]) {
    let len = (16 + 4 + payload.len()) as u32;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | ty).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&[AF_INET, 0, 0, 0]);
    buf.extend_from_slice(payload);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// The `CTA_TUPLE_ORIG` attributes (raw) of the UDP flows matching `stale`, from one
/// conntrack dump message's attributes.
fn matching<'a>(attrs_buf: &'a [u8], stale: &[Stale]) -> Option<&'a [u8]> {
    let mut orig = None;
    let mut reply = None;
    for (ty, p, whole) in attrs(attrs_buf) {
        match ty {
            CTA_TUPLE_ORIG => orig = Some((tuple(p), whole)),
            CTA_TUPLE_REPLY => reply = Some(tuple(p)),
            _ => {}
        }
    }
    let ((o, raw), r) = (orig?, reply?);
    if o.proto != Some(IPPROTO_UDP) {
        return None;
    }
    stale
        .iter()
        .any(|s| {
            s.dst.is_none_or(|d| o.dst == Some(d))
                && o.dport == Some(s.dport)
                && r.src == Some(*s.endpoint.ip())
                && r.sport == Some(s.endpoint.port())
        })
        .then_some(raw)
}

/// Deletes the UDP conntrack entries of `stale` in `netns`. Returns how many were deleted.
pub(super) fn clear_udp(netns: Option<&Path>, stale: &[Stale]) -> Result<usize, String> {
    if stale.is_empty() {
        return Ok(0);
    }
    let fd = super::netlink::open_socket(netns).map_err(|e| format!("netlink socket: {e}"))?;
    let fd = fd.as_fd();
    let _ = rustix::net::sockopt::set_socket_timeout(
        fd,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_secs(5)),
    );
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size_force(fd, 1 << 22);
    let mut req = Vec::new();
    header(
        &mut req,
        IPCTNL_MSG_CT_GET,
        NLM_F_REQUEST | NLM_F_DUMP,
        1,
        &[],
    );
    rustix::net::send(fd, &req, SendFlags::empty())
        .map_err(|e| format!("conntrack dump request: {e}"))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut doomed: Vec<Vec<u8>> = Vec::new();
    'dump: loop {
        let n = match rustix::net::recv(fd, &mut buf[..], RecvFlags::empty()) {
            Ok((_, n)) => n.min(buf.len()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("conntrack dump: {e}")),
        };
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
            let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if len < 16 || off + len > n {
                break;
            }
            match ty {
                NLMSG_DONE => break 'dump,
                NLMSG_ERROR => {
                    let code =
                        i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or([0; 4]));
                    if code != 0 {
                        return Err(format!(
                            "conntrack dump: {}",
                            std::io::Error::from_raw_os_error(-code)
                        ));
                    }
                }
                _ if len > 20 => {
                    if let Some(raw) = matching(&buf[off + 20..off + len], stale) {
                        doomed.push(raw.to_vec());
                    }
                }
                _ => {}
            }
            off += (len + 3) & !3;
        }
    }
    let mut deleted = 0;
    for (i, raw) in doomed.iter().enumerate() {
        let mut msg = Vec::new();
        header(
            &mut msg,
            IPCTNL_MSG_CT_DELETE,
            NLM_F_REQUEST | NLM_F_ACK,
            2 + i as u32,
            raw,
        );
        rustix::net::send(fd, &msg, SendFlags::empty())
            .map_err(|e| format!("conntrack delete: {e}"))?;
        let n = match rustix::net::recv(fd, &mut buf[..], RecvFlags::empty()) {
            Ok((_, n)) => n.min(buf.len()),
            Err(e) => return Err(format!("conntrack delete: {e}")),
        };
        if n >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == NLMSG_ERROR {
            let code = i32::from_ne_bytes(buf[16..20].try_into().unwrap_or([0; 4]));
            // ENOENT: the flow ended meanwhile.
            if code == 0 {
                deleted += 1;
            } else if code != -2 {
                return Err(format!(
                    "conntrack delete: {}",
                    std::io::Error::from_raw_os_error(-code)
                ));
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(ty: u16, inner: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + inner.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&(ty | 0x8000).to_ne_bytes());
        v.extend_from_slice(inner);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    fn tuple_attr(ty: u16, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let ip = [nested(CTA_IP_V4_SRC, &src), nested(CTA_IP_V4_DST, &dst)].concat();
        let proto = [
            nested(CTA_PROTO_NUM, &[IPPROTO_UDP]),
            nested(CTA_PROTO_SRC_PORT, &sport.to_be_bytes()),
            nested(CTA_PROTO_DST_PORT, &dport.to_be_bytes()),
        ]
        .concat();
        nested(
            ty,
            &[nested(CTA_TUPLE_IP, &ip), nested(CTA_TUPLE_PROTO, &proto)].concat(),
        )
    }

    #[test]
    fn matches_flows_answered_by_a_removed_endpoint() {
        let orig = tuple_attr(
            CTA_TUPLE_ORIG,
            [192, 168, 77, 2],
            [10, 96, 0, 11],
            40000,
            53,
        );
        let reply = tuple_attr(
            CTA_TUPLE_REPLY,
            [10, 244, 0, 12],
            [192, 168, 77, 2],
            8080,
            40000,
        );
        let msg = [orig.clone(), reply].concat();
        let stale = Stale {
            dst: Some(Ipv4Addr::new(10, 96, 0, 11)),
            dport: 53,
            endpoint: "10.244.0.12:8080".parse().unwrap(),
        };
        assert_eq!(matching(&msg, &[stale]), Some(orig.as_slice()));
        let other = Stale {
            endpoint: "10.244.0.10:8080".parse().unwrap(),
            ..stale
        };
        assert_eq!(matching(&msg, &[other]), None);
        let node_port = Stale {
            dst: None,
            dport: 53,
            ..stale
        };
        assert!(matching(&msg, &[node_port]).is_some());
    }
}
