//! The `kubox` command line: clap definitions, shared helpers, and dispatch to the
//! subcommands ([`server`], [`agent`], [`backup`]).

mod agent;
mod backup;
mod join;
mod server;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use kubox::cluster::Progress;

/// A Kubernetes cluster from one binary: server, agents, all-in-one, backups.
#[derive(Debug, Parser)]
#[command(
    name = "kubox",
    version,
    about = "A Kubernetes cluster from one binary: server, agents, all-in-one, backup and restore."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// API server, scheduler and controllers (embedded store or etcd); writes the admin
    /// kubeconfig and the agents' join token, prints the `kubox agent` command.
    Server(ServerArgs),
    /// Kubelet and service proxy of one node joining a server.
    Agent(agent::AgentArgs),
    /// Server and N process-runtime nodes in one process.
    AllInOne(AllInOneArgs),
    /// Online backup of a server's store to a file (a running server takes it through its
    /// data directory's control socket; a stopped server's store is read directly).
    Backup(backup::BackupArgs),
    /// Verifies a backup and restores it into a new server data directory.
    Restore(backup::RestoreArgs),
}

/// The server side: shared by `server` and `all-in-one`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerArgs {
    /// HTTPS address of the API (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:6443")]
    pub(crate) listen: SocketAddr,
    /// Data directory: store (`DIR/store`), PKI (`DIR/pki`), admin kubeconfig, agent token.
    #[arg(long, value_name = "DIR", default_value = ".kubox/server")]
    pub(crate) data_dir: PathBuf,
    /// etcd v3 endpoints (comma-separated `http://host:port`) instead of the embedded store
    /// (needs kubox built with `--features etcd`).
    #[arg(long, value_name = "URL,...", value_delimiter = ',')]
    pub(crate) etcd: Vec<String>,
    /// Key prefix in etcd (empty: kube-apiserver's layout).
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub(crate) etcd_prefix: String,
    /// Where to write the admin kubeconfig (default `DIR/admin.kubeconfig`).
    #[arg(long, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Controllers to run, kube-controller-manager syntax: `*` all, `name`, `-name`.
    #[arg(long, value_name = "LIST", default_value = "*")]
    pub(crate) controllers: String,
    /// Run the scheduler.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) scheduler: bool,
    /// Extra host name or IP for the serving certificate (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) san: Vec<String>,
    /// The address agents reach the API at (used in the printed join command and added to
    /// the serving certificate); default: the listen address.
    #[arg(long, value_name = "IP")]
    pub(crate) advertise_address: Option<IpAddr>,
    /// How often the node lifecycle controller checks nodes (`--node-monitor-period`).
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub(crate) node_monitor_period: Duration,
    /// How long a node may stay silent before it is marked Unknown
    /// (`--node-monitor-grace-period`).
    #[arg(long, value_name = "DUR", default_value = "50s", value_parser = parse_duration)]
    pub(crate) node_monitor_grace_period: Duration,
    /// Grace for a node that never posted Ready (`--node-startup-grace-period`).
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    pub(crate) node_startup_grace_period: Duration,
    /// How long pods stay on a NotReady/Unknown node before they are evicted: the
    /// `tolerationSeconds` of the default not-ready/unreachable tolerations (kube-apiserver's
    /// `--default-{not-ready,unreachable}-toleration-seconds`), whole seconds.
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = parse_duration)]
    pub(crate) pod_eviction_timeout: Duration,
    /// Take scheduled backups into this directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) backup_dir: Option<PathBuf>,
    /// Time between scheduled backups.
    #[arg(long, value_name = "DUR", default_value = "1h", value_parser = parse_duration)]
    pub(crate) backup_interval: Duration,
    /// Scheduled backups to keep (0: all).
    #[arg(long, value_name = "N", default_value_t = 24)]
    pub(crate) backup_keep: usize,
}

/// `all-in-one`: the server flags plus nodes.
#[derive(Debug, Args)]
pub(crate) struct AllInOneArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// Number of process-runtime nodes.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) nodes: usize,
    /// Pod network of the nodes: node i gets the i-th /24.
    #[arg(long, value_name = "A.B.0.0/16", default_value = "10.244.0.0/16")]
    pub(crate) pod_cidr: String,
    /// Node bridges are named PREFIX0, PREFIX1, … (at most 12 characters).
    #[arg(long, value_name = "PREFIX", default_value = "kubox")]
    pub(crate) bridge_prefix: String,
    /// Service proxy backend.
    #[arg(long, value_enum, default_value_t = ProxyArg::Auto)]
    pub(crate) proxy: ProxyArg,
    /// The nftables table of the proxy.
    #[arg(long, value_name = "NAME", default_value = "kubox")]
    pub(crate) nft_table: String,
    /// How containers are supervised: `auto` (the kubox-shim binary when found, else
    /// in-process), `in-process`, or a path to a kubox-shim binary.
    #[arg(long, value_name = "auto|in-process|PATH", default_value = "auto")]
    pub(crate) shim: String,
}

/// The service proxy backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProxyArg {
    /// nftables when usable, else userspace.
    Auto,
    /// nftables only.
    Nftables,
    /// The userspace forwarder.
    Userspace,
    /// No proxy.
    None,
}

impl From<ProxyArg> for kubox::cluster::ProxyMode {
    fn from(p: ProxyArg) -> Self {
        match p {
            ProxyArg::Auto => kubox::cluster::ProxyMode::Auto,
            ProxyArg::Nftables => kubox::cluster::ProxyMode::Nftables,
            ProxyArg::Userspace => kubox::cluster::ProxyMode::Userspace,
            ProxyArg::None => kubox::cluster::ProxyMode::None,
        }
    }
}

/// `--shim`.
pub(crate) fn parse_shim(s: &str) -> kubox::cluster::ShimMode {
    match s {
        "auto" => kubox::cluster::ShimMode::Auto,
        "in-process" => kubox::cluster::ShimMode::InProcess,
        path => kubox::cluster::ShimMode::Path(PathBuf::from(path)),
    }
}

/// Parses a Go-style duration: `1h30m`, `45s`, `500ms`, `2m`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("duration {s:?}: missing unit (ms, s, m, h)"))?;
        if digits == 0 {
            return Err(format!("duration {s:?}: want e.g. 30s, 5m, 1h30m, 500ms"));
        }
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("duration {s:?}: bad number {:?}", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            other => {
                return Err(format!(
                    "duration {s:?}: unknown unit {other:?} (want ms, s, m or h)"
                ))
            }
        };
        total += Duration::from_secs_f64(secs);
    }
    Ok(total)
}

/// Prints components' progress with the time since `started` (warnings to stderr).
pub(crate) fn print_progress(started: Instant) -> impl Fn(&Progress) + Send + Sync + 'static {
    move |p: &Progress| {
        let t = started.elapsed().as_secs_f64();
        if p.warning {
            eprintln!("[{t:6.2}s] WARNING {:11} {}", p.component, p.message);
        } else {
            println!("[{t:6.2}s] {:11} {}", p.component, p.message);
        }
    }
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM; returns the signal's name.
pub(crate) async fn shutdown_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

/// Prints an error with its causes.
fn report_error(e: &anyhow::Error) {
    eprintln!("kubox: error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Parses the command line, runs the command, and maps failure to exit code 1 (clap exits
/// with 2 on usage errors).
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kubox: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => server::run_server(args).await,
            Command::AllInOne(args) => server::run_all_in_one(args).await,
            Command::Agent(args) => agent::run(args).await,
            Command::Backup(args) => backup::run_backup(args).await,
            Command::Restore(args) => backup::run_restore(args).await,
        }
    });
    // Pods' supervisors and the like may still hold blocking threads: do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10 s").is_err());
    }

    #[test]
    fn command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "kubox",
            "server",
            "--listen",
            "0.0.0.0:0",
            "--etcd",
            "http://a:2379,http://b:2379",
            "--node-monitor-grace-period",
            "10s",
        ])
        .unwrap();
        let Command::Server(s) = cli.command else {
            panic!("not server")
        };
        assert_eq!(s.etcd, vec!["http://a:2379", "http://b:2379"]);
        assert_eq!(s.node_monitor_grace_period, Duration::from_secs(10));
        assert!(Cli::try_parse_from(["kubox", "server", "--listen", "nope"]).is_err());
        assert!(Cli::try_parse_from(["kubox", "agent"]).is_err());
    }
}
