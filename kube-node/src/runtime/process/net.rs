//! Pod networking as the CNI bridge plugin does it: a node bridge carrying the gateway address
//! of the node's pod CIDR, and for each sandbox a network namespace (`ip netns add`) joined to
//! the bridge by a veth pair, with its own address, a default route through the gateway and
//! loopback up. Everything goes through `ip -batch` (two `ip` processes per sandbox).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

/// An IPv4 CIDR such as `10.244.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The network address.
    pub network: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/n` (the host bits are cleared).
    pub fn parse(text: &str) -> Result<Ipv4Cidr, String> {
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR {text:?}: expected a.b.c.d/n"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|e| format!("invalid CIDR {text:?}: {e}"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("invalid CIDR {text:?}: the prefix must be 8..=30"))?;
        let mask = u32::MAX << (32 - prefix);
        Ok(Ipv4Cidr {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    /// The gateway (first host address), which the bridge carries.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The addresses pods may get: from the second host address to the last before the
    /// broadcast address.
    pub fn pod_addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        let base = u32::from(self.network);
        let size = 1u32 << (32 - self.prefix);
        (2..size - 1).map(move |offset| Ipv4Addr::from(base + offset))
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Runs `ip [args] -batch -` with the given commands.
async fn ip_batch(args: &[&str], commands: &str) -> Result<(), String> {
    let mut child = tokio::process::Command::new("ip")
        .args(args)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .await
            .map_err(|e| format!("cannot write to ip: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("ip failed: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            commands.lines().next().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Runs one `ip` command; errors carry its stderr.
async fn ip(args: &[&str]) -> Result<(), String> {
    let output = tokio::process::Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The path of a named network namespace.
pub(crate) fn netns_path(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// Creates the bridge (if missing), gives it the gateway address and brings it up.
pub(crate) async fn ensure_bridge(bridge: &str, cidr: Ipv4Cidr) -> Result<(), String> {
    if bridge.is_empty() || bridge.len() > 15 {
        return Err(format!(
            "invalid bridge name {bridge:?}: 1 to 15 characters"
        ));
    }
    if !std::path::Path::new("/sys/class/net").join(bridge).exists() {
        if let Err(e) = ip(&["link", "add", "name", bridge, "type", "bridge"]).await {
            // Lost a race with another runtime creating the same bridge: fine.
            if !std::path::Path::new("/sys/class/net").join(bridge).exists() {
                return Err(e);
            }
        }
    }
    let gateway = format!("{}/{}", cidr.gateway(), cidr.prefix);
    ip(&["addr", "replace", &gateway, "dev", bridge]).await?;
    ip(&["link", "set", bridge, "up"]).await
}

/// The host-side veth name of a sandbox (at most 15 characters).
pub(crate) fn host_veth_name(sandbox_id: &str) -> String {
    format!("vkx{}", &sandbox_id[..sandbox_id.len().min(12)])
}

/// Runs the host-side `ip` commands of concurrent sandbox setups in one `ip -force -batch`
/// process (one process spawn per burst instead of one per sandbox); failures are attributed
/// to their sandbox through `ip`'s "Command failed -:<line>" messages.
#[derive(Debug, Clone)]
pub(crate) struct HostBatcher {
    tx: tokio::sync::mpsc::UnboundedSender<HostRequest>,
}

type HostRequest = (String, tokio::sync::oneshot::Sender<Result<(), String>>);

impl HostBatcher {
    /// Starts the batching task (it ends when the last handle is dropped).
    pub(crate) fn start() -> HostBatcher {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<HostRequest>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = rx.try_recv() {
                    batch.push(next);
                }
                run_host_batch(batch).await;
            }
        });
        HostBatcher { tx }
    }

    async fn run(&self, commands: String) -> Result<(), String> {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        self.tx
            .send((commands, reply_tx))
            .map_err(|_| "the network batcher is gone".to_string())?;
        reply_rx
            .await
            .map_err(|_| "the network batcher is gone".to_string())?
    }
}

async fn run_host_batch(batch: Vec<HostRequest>) {
    let mut script = String::new();
    // The last line number (1-based) of each request.
    let mut ends = Vec::with_capacity(batch.len());
    let mut line = 0;
    for (commands, _) in &batch {
        script.push_str(commands);
        line += commands.lines().count();
        ends.push(line);
    }
    let result = ip_batch_output(&["-force"], &script).await;
    let failed_lines: Vec<(usize, String)> = match &result {
        Ok(stderr) | Err(stderr) => {
            let mut failed = Vec::new();
            let mut message = Vec::new();
            for text in stderr.lines() {
                match text
                    .strip_prefix("Command failed -:")
                    .and_then(|n| n.trim().parse().ok())
                {
                    Some(n) => failed.push((n, std::mem::take(&mut message).join("; "))),
                    None => message.push(text.to_string()),
                }
            }
            failed
        }
    };
    let spawn_error = match &result {
        Err(e) if failed_lines.is_empty() => Some(e.clone()),
        _ => None,
    };
    let mut start = 0;
    for ((_, reply), end) in batch.into_iter().zip(ends) {
        let outcome = if let Some(e) = &spawn_error {
            Err(e.clone())
        } else {
            match failed_lines.iter().find(|(n, _)| *n > start && *n <= end) {
                Some((_, message)) => Err(format!("ip: {message}")),
                None => Ok(()),
            }
        };
        let _ = reply.send(outcome);
        start = end;
    }
}

/// Runs `ip [args] -batch -`; Ok(stderr) on success, Err(stderr) on failure.
async fn ip_batch_output(args: &[&str], commands: &str) -> Result<String, String> {
    let mut child = tokio::process::Command::new("ip")
        .args(args)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(commands.as_bytes())
            .await
            .map_err(|e| format!("cannot write to ip: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("ip failed: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if output.status.success() {
        Ok(stderr)
    } else {
        Err(stderr)
    }
}

/// Creates the sandbox's namespace and veth pair and configures its address.
pub(crate) async fn setup_sandbox(
    batcher: &HostBatcher,
    netns: &str,
    veth: &str,
    bridge: &str,
    ip_addr: Ipv4Addr,
    cidr: Ipv4Cidr,
) -> Result<(), String> {
    let host = format!(
        "netns add {netns}\nlink add {veth} type veth peer name eth0 netns {netns}\nlink set {veth} master {bridge} up\n"
    );
    batcher.run(host).await?;
    super::netlink::configure_pod_interface(netns_path(netns), ip_addr, cidr.prefix, cidr.gateway())
        .await
}

/// Deletes the sandbox's veth pair and namespace. Idempotent.
pub(crate) async fn teardown_sandbox(netns: &str, veth: &str) {
    let mut commands = String::new();
    // Deleting the veth explicitly makes its removal synchronous (a namespace's devices go
    // away asynchronously after `netns del`).
    if std::path::Path::new("/sys/class/net").join(veth).exists() {
        commands.push_str(&format!("link del {veth}\n"));
    }
    if netns_path(netns).exists() {
        commands.push_str(&format!("netns del {netns}\n"));
    }
    if commands.is_empty() {
        return;
    }
    if let Err(e) = ip_batch(&["-force"], &commands).await {
        tracing::warn!("tearing down the pod network {netns}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing_and_addresses() {
        let cidr = Ipv4Cidr::parse("10.244.3.7/24").unwrap();
        assert_eq!(cidr.to_string(), "10.244.3.0/24");
        assert_eq!(cidr.gateway(), Ipv4Addr::new(10, 244, 3, 1));
        let addrs: Vec<_> = cidr.pod_addresses().collect();
        assert_eq!(addrs.len(), 253);
        assert_eq!(addrs[0], Ipv4Addr::new(10, 244, 3, 2));
        assert_eq!(addrs[252], Ipv4Addr::new(10, 244, 3, 254));
        assert!(Ipv4Cidr::parse("10.0.0.0").is_err());
        assert!(Ipv4Cidr::parse("10.0.0.0/31").is_err());
        assert!(Ipv4Cidr::parse("x/24").is_err());
    }

    #[test]
    fn veth_names_fit() {
        assert_eq!(host_veth_name("0123456789abcdef0123").len(), 15);
    }
}
