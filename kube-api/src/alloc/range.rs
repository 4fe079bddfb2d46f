//! The pure part of allocation: a service CIDR, a node-port range, and the bitmap of taken
//! offsets (kube-apiserver's `ipallocator`, `portallocator` and `allocator.AllocationBitmap`).

use super::Error;
use rand::Rng;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Most host bits a service CIDR may have (kube-apiserver's limit: 2^20 addresses, so a /12
/// for IPv4 and a /108 for IPv6).
pub const MAX_HOST_BITS: u32 = 20;

/// An IP family (`spec.ipFamilies` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `IPv4`.
    V4,
    /// `IPv6`.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
    /// `IPv4` / `IPv6`, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
    /// The other family.
    pub fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }
}

/// A service CIDR (`--service-cluster-ip-range`): the allocatable addresses are those after
/// the network address, up to the last one (IPv6) or the one before the broadcast address
/// (IPv4). Offset 0 is the first usable address, which the `kubernetes` Service takes.
///
/// ```
/// use kube_api::alloc::ServiceCidr;
///
/// let cidr: ServiceCidr = "10.0.0.0/29".parse().unwrap();
/// assert_eq!(cidr.size(), 6);
/// assert_eq!(cidr.first_ip().to_string(), "10.0.0.1");
/// assert_eq!(cidr.offset_of(&"10.0.0.7".parse().unwrap()), None); // broadcast
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceCidr {
    network: IpAddr,
    prefix: u8,
}

fn to_u128(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

impl ServiceCidr {
    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }
    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    /// The family of the range.
    pub fn family(&self) -> Family {
        Family::of(&self.network)
    }
    fn host_bits(&self) -> u32 {
        let bits = match self.family() {
            Family::V4 => 32,
            Family::V6 => 128,
        };
        bits - u32::from(self.prefix)
    }
    /// Number of allocatable addresses.
    pub fn size(&self) -> u64 {
        let all = 1u64 << self.host_bits();
        match self.family() {
            Family::V4 => all.saturating_sub(2),
            Family::V6 => all.saturating_sub(1),
        }
    }
    /// The address at `offset` (0 = network + 1); `None` beyond the range.
    pub fn ip_at(&self, offset: u64) -> Option<IpAddr> {
        if offset >= self.size() {
            return None;
        }
        let n = to_u128(&self.network) + 1 + u128::from(offset);
        Some(match self.network {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).ok()?)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        })
    }
    /// The offset of an allocatable address; `None` for the network and broadcast addresses,
    /// addresses outside the CIDR and the other family.
    pub fn offset_of(&self, ip: &IpAddr) -> Option<u64> {
        if Family::of(ip) != self.family() {
            return None;
        }
        let d = to_u128(ip).checked_sub(to_u128(&self.network))?;
        if d == 0 {
            return None;
        }
        let off = u64::try_from(d - 1).ok()?;
        (off < self.size()).then_some(off)
    }
    /// The first usable address (network + 1), the `kubernetes` Service's.
    pub fn first_ip(&self) -> IpAddr {
        self.ip_at(0).unwrap_or(self.network)
    }
}

impl fmt::Display for ServiceCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for ServiceCidr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::Config(format!("invalid service CIDR {s:?}: {why}"));
        let (ip, prefix) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("no prefix length"))?;
        let ip: IpAddr = ip.parse().map_err(|_| bad("not an IP address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| bad("bad prefix length"))?;
        let bits: u32 = if ip.is_ipv4() { 32 } else { 128 };
        if u32::from(prefix) > bits {
            return Err(bad("prefix length too long"));
        }
        let host = bits - u32::from(prefix);
        if host > MAX_HOST_BITS {
            return Err(bad(&format!(
                "too large; the mask must be at least /{}",
                bits - MAX_HOST_BITS
            )));
        }
        if host < 2 {
            return Err(bad("too small; no usable addresses"));
        }
        let mask = !((1u128 << host) - 1);
        let n = to_u128(&ip) & mask;
        let network = match ip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(
                u32::try_from(n & u128::from(u32::MAX)).unwrap_or(0),
            )),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        };
        Ok(ServiceCidr { network, prefix })
    }
}

/// A node-port range (`--service-node-port-range`, inclusive): `30000-32767` by default.
///
/// ```
/// use kube_api::alloc::PortRange;
///
/// let r: PortRange = "30000-32767".parse().unwrap();
/// assert_eq!((r.base(), r.size()), (30000, 2768));
/// assert_eq!(r.to_string(), "30000-32767");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    base: u16,
    size: u32,
}

impl PortRange {
    /// The range `first..=last`; `None` if empty.
    pub fn new(first: u16, last: u16) -> Option<PortRange> {
        (first <= last && first > 0).then(|| PortRange {
            base: first,
            size: u32::from(last - first) + 1,
        })
    }
    /// The first port.
    pub fn base(&self) -> u16 {
        self.base
    }
    /// The number of ports.
    pub fn size(&self) -> u32 {
        self.size
    }
    /// Whether `port` is in the range.
    pub fn contains(&self, port: i64) -> bool {
        self.offset_of(port).is_some()
    }
    /// The offset of `port` in the range.
    pub fn offset_of(&self, port: i64) -> Option<u64> {
        let d = port.checked_sub(i64::from(self.base))?;
        (d >= 0 && d < i64::from(self.size)).then(|| d.unsigned_abs())
    }
    /// The port at `offset`.
    pub fn port_at(&self, offset: u64) -> i64 {
        i64::from(self.base) + i64::try_from(offset).unwrap_or(0)
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange {
            base: 30000,
            size: 2768,
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.base, u32::from(self.base) + self.size - 1)
    }
}

impl FromStr for PortRange {
    type Err = Error;
    /// `30000-32767`, `30000+2767` (base and extra ports, as Kubernetes accepts) or `30000`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Config(format!("invalid node port range {s:?}"));
        let p = |x: &str| x.trim().parse::<u16>().map_err(|_| bad());
        let s2 = s.trim();
        let (first, last) = if let Some((a, b)) = s2.split_once('-') {
            (p(a)?, p(b)?)
        } else if let Some((a, b)) = s2.split_once('+') {
            let a = p(a)?;
            (a, a.checked_add(p(b)?).ok_or_else(bad)?)
        } else {
            let a = p(s2)?;
            (a, a)
        };
        PortRange::new(first, last).ok_or_else(bad)
    }
}

/// A bitmap of taken offsets: bit `i` is byte `i / 8`, bit `i % 8` (least significant first).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Bitmap {
    pub(crate) bytes: Vec<u8>,
}

impl Bitmap {
    pub(crate) fn has(&self, i: u64) -> bool {
        let Ok(b) = usize::try_from(i / 8) else {
            return false;
        };
        self.bytes.get(b).is_some_and(|x| x & (1 << (i % 8)) != 0)
    }
    pub(crate) fn set(&mut self, i: u64) {
        let Ok(b) = usize::try_from(i / 8) else {
            return;
        };
        if self.bytes.len() <= b {
            self.bytes.resize(b + 1, 0);
        }
        self.bytes[b] |= 1 << (i % 8);
    }
    pub(crate) fn clear(&mut self, i: u64) {
        let Ok(b) = usize::try_from(i / 8) else {
            return;
        };
        if let Some(x) = self.bytes.get_mut(b) {
            *x &= !(1 << (i % 8));
        }
    }
    /// Number of set bits.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.bytes.iter().map(|b| u64::from(b.count_ones())).sum()
    }
    /// Offsets of the set bits, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bytes.iter().enumerate().flat_map(|(b, x)| {
            (0..8u64)
                .filter(move |k| x & (1 << k) != 0)
                .map(move |k| b as u64 * 8 + k)
        })
    }
    /// A random free offset in `reserved..size` (kube-apiserver's random scan: a random start,
    /// then the first free offset after it, wrapping around); `None` when all are taken.
    pub(crate) fn random_free(&self, reserved: u64, size: u64) -> Option<u64> {
        if reserved >= size {
            return None;
        }
        let n = size - reserved;
        let start = rand::rng().random_range(0..n);
        (0..n)
            .map(|k| reserved + (start + k) % n)
            .find(|&i| !self.has(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c: ServiceCidr = "10.0.0.0/24".parse().unwrap();
        assert_eq!(c.size(), 254);
        assert_eq!(c.ip_at(253).unwrap().to_string(), "10.0.0.254");
        assert_eq!(c.ip_at(254), None);
        assert_eq!(c.offset_of(&"10.0.0.0".parse().unwrap()), None);
        assert_eq!(c.offset_of(&"10.0.0.255".parse().unwrap()), None);
        assert_eq!(c.offset_of(&"10.0.0.1".parse().unwrap()), Some(0));
        assert_eq!(c.offset_of(&"10.0.1.1".parse().unwrap()), None);
        let masked: ServiceCidr = "10.96.3.4/12".parse().unwrap();
        assert_eq!(masked.to_string(), "10.96.0.0/12");
        assert_eq!(masked.size(), (1 << 20) - 2);
        assert!("10.0.0.0/8".parse::<ServiceCidr>().is_err());
        assert!("10.0.0.0/31".parse::<ServiceCidr>().is_err());
        assert!("10.0.0.0".parse::<ServiceCidr>().is_err());
        let v6: ServiceCidr = "fd00::/120".parse().unwrap();
        assert_eq!(v6.family(), Family::V6);
        assert_eq!(v6.size(), 255);
        assert_eq!(v6.ip_at(254).unwrap().to_string(), "fd00::ff");
        assert_eq!(v6.offset_of(&"10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn port_ranges() {
        let r: PortRange = "30000+2767".parse().unwrap();
        assert_eq!(r, PortRange::default());
        assert!(r.contains(32767) && !r.contains(32768) && !r.contains(29999));
        assert_eq!(r.port_at(r.offset_of(30080).unwrap()), 30080);
        assert!("5-1".parse::<PortRange>().is_err());
        assert_eq!("8080".parse::<PortRange>().unwrap().size(), 1);
    }

    #[test]
    fn bitmaps() {
        let mut b = Bitmap::default();
        for i in [0, 3, 9] {
            b.set(i);
        }
        assert!(b.has(9) && !b.has(8));
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![0, 3, 9]);
        b.clear(3);
        assert_eq!(b.count(), 2);
        for _ in 0..20 {
            let f = b.random_free(1, 10).unwrap();
            assert!((1..10).contains(&f) && f != 9);
        }
        let mut full = Bitmap::default();
        (0..4).for_each(|i| full.set(i));
        assert_eq!(full.random_free(0, 4), None);
    }
}
