//! Set and map elements written over netlink: `NFT_MSG_NEWSETELEM` / `NFT_MSG_DELSETELEM`
//! messages between `NFNL_MSG_BATCH_BEGIN` and `NFNL_MSG_BATCH_END` on a `NETLINK_NETFILTER`
//! socket, i.e. one nf_tables transaction (what `nft -f` sends for `add element`, without
//! parsing text). Attribute numbers are those of `include/uapi/linux/netfilter/nf_tables.h`
//! and `nfnetlink.h`.
//!
//! Keys and data are the concatenated fields of the set's type, each padded to 4 bytes
//! (`NFT_REG32_SIZE`): addresses and ports in network byte order, `numgen` slots in host
//! byte order (nft's `typeof numgen …` is a host-endian integer). Verdicts are
//! `NFTA_DATA_VERDICT { NFTA_VERDICT_CODE (be32), NFTA_VERDICT_CHAIN }`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFPROTO_IPV4: u8 = 2;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NLA_F_NESTED: u16 = 1 << 15;
/// `NF_DROP`.
pub(super) const NF_DROP: i32 = 0;
/// `NFT_GOTO`.
pub(super) const NFT_GOTO: i32 = -4;
/// The element list is one nested attribute, whose length is a `u16`.
const MAX_LIST_BYTES: usize = 60_000;

/// The data of one element.
#[derive(Clone, Copy, Debug)]
pub(super) enum Value<'a> {
    /// A set element (no data), or a delete.
    None,
    /// A map's data value.
    Bytes(&'a [u8]),
    /// A verdict map's verdict, with its chain for jump/goto.
    Verdict(i32, Option<&'a str>),
}

/// Whether a message adds or deletes elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Add,
    Delete,
}

/// One nfnetlink batch (one nf_tables transaction) of element changes.
pub(super) struct Batch {
    buf: Vec<u8>,
    seq: u32,
    /// The open message: (start offset, start of the element list, op, set).
    open: Option<(usize, usize, Op, String)>,
    /// Start offset and description of every element message.
    messages: Vec<(usize, u32, String)>,
    table: String,
    elements: usize,
    count_in_open: usize,
}

impl Batch {
    /// An empty batch for elements of `table` (family `ip`).
    pub(super) fn new(table: &str) -> Batch {
        let mut b = Batch {
            buf: Vec::with_capacity(1 << 16),
            seq: 1,
            open: None,
            messages: Vec::new(),
            table: table.to_string(),
            elements: 0,
            count_in_open: 0,
        };
        b.header(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES);
        b
    }

    /// The number of elements in the batch.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.elements
    }

    fn header(&mut self, ty: u16, flags: u16, family: u8, res_id: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched later
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&self.seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        self.buf.push(family);
        self.buf.push(0); // NFNETLINK_V0
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        self.seq += 1;
        if ty == NFNL_MSG_BATCH_BEGIN || ty == NFNL_MSG_BATCH_END {
            self.patch_len(start);
        }
        start
    }

    fn patch_len(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    fn attr(&mut self, ty: u16, payload: &[u8]) {
        let len = (4 + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    fn attr_str(&mut self, ty: u16, s: &str) {
        let len = (4 + s.len() + 1) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn nest(&mut self, ty: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        start
    }

    fn end_nest(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn close(&mut self) {
        if let Some((start, list, op, set)) = self.open.take() {
            self.end_nest(list);
            self.patch_len(start);
            let n = self.count_in_open;
            let seq =
                u32::from_ne_bytes(self.buf[start + 8..start + 12].try_into().unwrap_or([0; 4]));
            let what = match op {
                Op::Add => format!("add {n} element(s) to {set}"),
                Op::Delete => format!("delete {n} element(s) from {set}"),
            };
            self.messages.push((start, seq, what));
        }
    }
}

impl Batch {
    /// Adds (or deletes) one element of `set`: its key bytes and its data.
    pub(super) fn push(&mut self, op: Op, set: &str, key: &[u8], value: Value<'_>) {
        let reopen = match &self.open {
            Some((_, list, o, s)) => *o != op || s != set || self.buf.len() - list > MAX_LIST_BYTES,
            None => true,
        };
        if reopen {
            self.close();
            let flags = match op {
                Op::Add => NLM_F_REQUEST | NLM_F_CREATE,
                Op::Delete => NLM_F_REQUEST,
            };
            let ty = (NFNL_SUBSYS_NFTABLES << 8)
                | match op {
                    Op::Add => NFT_MSG_NEWSETELEM,
                    Op::Delete => NFT_MSG_DELSETELEM,
                };
            let start = self.header(ty, flags, NFPROTO_IPV4, 0);
            let table = std::mem::take(&mut self.table);
            self.attr_str(NFTA_SET_ELEM_LIST_TABLE, &table);
            self.table = table;
            self.attr_str(NFTA_SET_ELEM_LIST_SET, set);
            let list = self.nest(NFTA_SET_ELEM_LIST_ELEMENTS);
            self.open = Some((start, list, op, set.to_string()));
            self.count_in_open = 0;
        }
        let elem = self.nest(NFTA_LIST_ELEM);
        let k = self.nest(NFTA_SET_ELEM_KEY);
        self.attr(NFTA_DATA_VALUE, key);
        self.end_nest(k);
        match value {
            Value::None => {}
            Value::Bytes(b) => {
                let d = self.nest(NFTA_SET_ELEM_DATA);
                self.attr(NFTA_DATA_VALUE, b);
                self.end_nest(d);
            }
            Value::Verdict(code, chain) => {
                let d = self.nest(NFTA_SET_ELEM_DATA);
                let v = self.nest(NFTA_DATA_VERDICT);
                self.attr(NFTA_VERDICT_CODE, &code.to_be_bytes());
                if let Some(chain) = chain {
                    self.attr_str(NFTA_VERDICT_CHAIN, chain);
                }
                self.end_nest(v);
                self.end_nest(d);
            }
        }
        self.end_nest(elem);
        self.elements += 1;
        self.count_in_open += 1;
    }

    /// Closes the batch: the bytes to send, and the descriptions of its messages by
    /// sequence number. The last element message asks for an acknowledgement.
    fn finish(mut self) -> (Vec<u8>, Vec<(u32, String)>, u32) {
        self.close();
        let last_seq = match self.messages.last() {
            Some(&(start, seq, _)) => {
                let flags = u16::from_ne_bytes([self.buf[start + 6], self.buf[start + 7]]);
                self.buf[start + 6..start + 8].copy_from_slice(&(flags | NLM_F_ACK).to_ne_bytes());
                seq
            }
            None => 0,
        };
        self.header(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES);
        let messages = self
            .messages
            .into_iter()
            .map(|(_, seq, w)| (seq, w))
            .collect();
        (self.buf, messages, last_seq)
    }

    /// Sends the batch to the kernel of `netns` (`None`: this one) and waits for its
    /// verdict: `Err` with the kernel's reason if the transaction was rejected (then nothing
    /// changed).
    pub(super) fn send(self, netns: Option<&Path>) -> Result<(), String> {
        if self.elements == 0 {
            return Ok(());
        }
        let (bytes, messages, last_seq) = self.finish();
        let fd = open_socket(netns).map_err(|e| format!("netlink socket: {e}"))?;
        let fd = fd.as_fd();
        let want = bytes.len() + (1 << 16);
        if rustix::net::sockopt::set_socket_send_buffer_size_force(fd, want).is_err() {
            let _ = rustix::net::sockopt::set_socket_send_buffer_size(fd, want);
        }
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size_force(fd, 1 << 22);
        let sent = rustix::net::send(fd, &bytes, SendFlags::empty())
            .map_err(|e| format!("netlink send of {} bytes: {e}", bytes.len()))?;
        if sent != bytes.len() {
            return Err(format!("netlink send: {sent} of {} bytes", bytes.len()));
        }
        // The kernel processes a batch synchronously inside send(): every reply is queued.
        let mut buf = vec![0u8; 1 << 16];
        let mut acked = false;
        let mut errors = Vec::new();
        loop {
            let n = match rustix::net::recv(fd, &mut buf[..], RecvFlags::DONTWAIT) {
                Ok((_, n)) => n.min(buf.len()),
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(format!("netlink receive: {e}")),
            };
            let mut off = 0;
            while off + 16 <= n {
                let len =
                    u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
                let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                if len < 16 || off + len > n {
                    break;
                }
                if ty == NLMSG_ERROR && len >= 20 + 16 {
                    let code =
                        i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or([0; 4]));
                    let seq =
                        u32::from_ne_bytes(buf[off + 28..off + 32].try_into().unwrap_or([0; 4]));
                    if code != 0 {
                        let what = messages
                            .iter()
                            .find(|(s, _)| *s == seq)
                            .map(|(_, w)| w.as_str())
                            .unwrap_or("commit");
                        errors.push(format!(
                            "{what}: {}",
                            std::io::Error::from_raw_os_error(-code)
                        ));
                    } else if seq == last_seq {
                        acked = true;
                    }
                }
                off += (len + 3) & !3;
            }
        }
        if !errors.is_empty() {
            errors.truncate(5);
            return Err(format!(
                "nf_tables rejected the batch: {}",
                errors.join("; ")
            ));
        }
        if !acked {
            return Err("nf_tables did not acknowledge the batch".into());
        }
        Ok(())
    }
}

/// A `NETLINK_NETFILTER` socket in the network namespace at `netns` (a socket stays in the
/// namespace it was created in; a short-lived thread enters the namespace to create it).
pub(super) fn open_socket(netns: Option<&Path>) -> std::io::Result<OwnedFd> {
    let open = || -> std::io::Result<OwnedFd> {
        Ok(rustix::net::socket(
            AddressFamily::NETLINK,
            SocketType::RAW,
            Some(rustix::net::netlink::NETFILTER),
        )?)
    };
    match netns {
        None => open(),
        Some(path) => std::thread::scope(|s| {
            s.spawn(|| {
                let f = std::fs::File::open(path)?;
                rustix::thread::move_into_link_name_space(
                    f.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )?;
                open()
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("netns thread panicked")))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_framing_and_attribute_layout() {
        let mut b = Batch::new("t");
        b.push(
            Op::Add,
            "m",
            &[10, 96, 0, 1],
            Value::Verdict(NFT_GOTO, Some("c")),
        );
        assert_eq!(b.len(), 1);
        let (bytes, msgs, last) = b.finish();
        // begin (20) + message + end (20)
        let begin_len = u32::from_ne_bytes(bytes[0..4].try_into().unwrap());
        assert_eq!(begin_len, 20);
        assert_eq!(
            u16::from_ne_bytes([bytes[4], bytes[5]]),
            NFNL_MSG_BATCH_BEGIN
        );
        assert_eq!(&bytes[18..20], &10u16.to_be_bytes());
        let m = &bytes[20..];
        let len = u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize;
        assert_eq!(
            u16::from_ne_bytes([m[4], m[5]]),
            (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM
        );
        let flags = u16::from_ne_bytes([m[6], m[7]]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK);
        assert_eq!(m[16], NFPROTO_IPV4);
        assert_eq!(msgs, vec![(last, "add 1 element(s) to m".to_string())]);
        // table "t\0" (attr len 6, padded to 8), set "m\0", then the nested list.
        assert_eq!(&m[20..26], &[6, 0, 1, 0, b't', 0]);
        assert_eq!(&m[28..34], &[6, 0, 2, 0, b'm', 0]);
        let list_len = u16::from_ne_bytes([m[36], m[37]]) as usize;
        assert_eq!(u16::from_ne_bytes([m[38], m[39]]), 3 | NLA_F_NESTED);
        assert_eq!(36 + list_len, len);
        // key: elem(4) key(4) value(4+4)
        assert_eq!(&m[48..52], &[8, 0, 1, 0]);
        assert_eq!(&m[52..56], &[10, 96, 0, 1]);
        // verdict code, big endian -4
        assert!(m.windows(4).any(|w| w == (-4i32).to_be_bytes()));
        let end = &bytes[20 + len..];
        assert_eq!(u16::from_ne_bytes([end[4], end[5]]), NFNL_MSG_BATCH_END);
        assert_eq!(end.len(), 20);
    }

    #[test]
    fn long_lists_are_split_below_the_u16_attribute_limit() {
        let mut b = Batch::new("t");
        for i in 0u32..10_000 {
            let k = [i.to_ne_bytes(), [1, 2, 3, 4], [5, 6, 7, 8]].concat();
            b.push(Op::Add, "m", &k, Value::Bytes(&[1, 2, 3, 4, 0, 80, 0, 0]));
        }
        b.push(Op::Delete, "m", &[0; 12], Value::None);
        let (bytes, msgs, _) = b.finish();
        assert!(msgs.len() > 5, "{}", msgs.len());
        assert!(msgs.last().unwrap().1.starts_with("delete 1 element"));
        let total: usize = msgs
            .iter()
            .filter_map(|(_, w)| w.strip_prefix("add "))
            .map(|w| w.split(' ').next().unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(total, 10_000);
        // Every message fits its u16 list.
        let mut off = 0;
        while off < bytes.len() {
            let len = u32::from_ne_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
            assert!(len < 65_535 + 64);
            off += len;
        }
        assert_eq!(off, bytes.len());
    }
}
