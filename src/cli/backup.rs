//! `kubox backup` and `kubox restore`, and the server's control socket that takes online
//! backups.
//!
//! # Why a control socket
//!
//! The embedded store belongs to one process (it holds an exclusive lock on `DIR/store`), so
//! a second process cannot read a running server's store. A running `kubox server` therefore
//! listens on a Unix socket in its data directory, `DIR/run/control.sock` (directory mode
//! 0700: only the server's user and root can connect). `kubox backup --data-dir DIR` sends
//! it the output path; the server takes the online snapshot
//! (`kube_store::backup::snapshot_embedded`: one consistent copy at the current revision
//! while writes go on) and writes the file. When no server runs, `kubox backup` opens the
//! stopped server's store itself. With etcd (`--etcd`), `kubox backup` reads etcd directly at
//! one revision. Scheduled backups are `kubox server --backup-dir DIR --backup-interval DUR`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use kubox::store::backup::{self, BackupInfo};
use kubox::store::embedded::{EmbeddedStore, Options};
use kubox::store::Store;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::server::absolute;

/// `kubox backup`.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The server's data directory (running: online backup through its control socket;
    /// stopped: its store is read directly).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "etcd",
        conflicts_with = "etcd"
    )]
    data_dir: Option<PathBuf>,
    /// Back up etcd at these endpoints instead (needs the etcd feature).
    #[arg(long, value_name = "URL,...", value_delimiter = ',')]
    etcd: Vec<String>,
    /// Key prefix in etcd.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    etcd_prefix: String,
    /// The backup file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// `kubox restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The backup file.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// The new server data directory (must not exist or be empty); the store goes to
    /// `NEWDIR/store`.
    #[arg(long, value_name = "NEWDIR")]
    data_dir: PathBuf,
    /// Copy the PKI (CA, serving certificate, admin, join and kubelet tokens,
    /// service-account key) from this old data directory, so that existing kubeconfigs,
    /// agent tokens and service-account tokens stay valid. Without it the new server makes a
    /// new CA and tokens.
    #[arg(long, value_name = "OLDDIR")]
    pki_from: Option<PathBuf>,
}

fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("control.sock")
}

fn describe(info: &BackupInfo) -> String {
    format!(
        "revision {}, {} keys, {} bytes, crc32c {:08x}",
        info.revision, info.keys, info.bytes, info.checksum
    )
}

/// The running server's control socket.
pub(crate) struct ControlServer {
    task: tokio::task::JoinHandle<()>,
    path: PathBuf,
}

impl ControlServer {
    /// Listens on `DATA_DIR/run/control.sock`.
    pub(crate) fn start(
        data_dir: &Path,
        store: Arc<dyn Store>,
        embedded: Option<EmbeddedStore>,
    ) -> anyhow::Result<ControlServer> {
        use std::os::unix::fs::DirBuilderExt as _;
        use std::os::unix::fs::PermissionsExt as _;
        let dir = data_dir.join("run");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("chmod 0700 {}", dir.display()))?;
        let path = socket_path(data_dir);
        // We hold the store's lock: a socket left here is a dead server's.
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("listening on {}", path.display()))?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let store = store.clone();
                let embedded = embedded.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_one(conn, store, embedded).await {
                        tracing::warn!("control socket: {e:#}");
                    }
                });
            }
        });
        Ok(ControlServer { task, path })
    }

    /// Stops listening and removes the socket.
    pub(crate) fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One request: `backup <absolute path>\n` → `ok <revision> <keys> <bytes> <crc>\n` or
/// `error <message>\n`.
async fn serve_one(
    conn: UnixStream,
    store: Arc<dyn Store>,
    embedded: Option<EmbeddedStore>,
) -> anyhow::Result<()> {
    let (read, mut write) = conn.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let answer = match line.trim_end().split_once(' ') {
        Some(("backup", path)) if Path::new(path).is_absolute() => {
            let result = match &embedded {
                Some(s) => backup::snapshot_embedded(s, path).await,
                None => backup::snapshot_to_file(&*store, path).await,
            };
            match result {
                Ok(info) => {
                    tracing::info!(path, revision = info.revision, "online backup taken");
                    format!(
                        "ok {} {} {} {}\n",
                        info.revision, info.keys, info.bytes, info.checksum
                    )
                }
                Err(e) => format!("error {}\n", e.to_string().replace('\n', " ")),
            }
        }
        Some(("backup", _)) => "error the backup path must be absolute\n".to_string(),
        _ => "error unknown request (want `backup <absolute path>`)\n".to_string(),
    };
    write.write_all(answer.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

/// Asks a running server for a backup. `Ok(None)`: no server listens.
async fn backup_online(data_dir: &Path, out: &Path) -> anyhow::Result<Option<()>> {
    let path = socket_path(data_dir);
    let conn = match UnixStream::connect(&path).await {
        Ok(c) => c,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e).with_context(|| format!("connecting to {}", path.display())),
    };
    let (read, mut write) = conn.into_split();
    let out = out.to_str().context("the --out path is not valid UTF-8")?;
    write
        .write_all(format!("backup {out}\n").as_bytes())
        .await
        .context("sending the backup request")?;
    let mut line = String::new();
    BufReader::new(read)
        .read_line(&mut line)
        .await
        .context("reading the server's answer")?;
    let line = line.trim_end();
    if let Some(msg) = line.strip_prefix("error ") {
        bail!("the server could not take the backup: {msg}");
    }
    if !line.starts_with("ok ") {
        bail!("unexpected answer from the server: {line:?}");
    }
    Ok(Some(()))
}

/// `kubox backup`.
pub(crate) async fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let out = absolute(&args.out);
    if out.is_dir() {
        bail!("--out {}: is a directory; give a file name", out.display());
    }
    if let Some(parent) = out.parent() {
        if !parent.is_dir() {
            bail!(
                "--out {}: directory {} does not exist",
                out.display(),
                parent.display()
            );
        }
    }
    let how;
    if !args.etcd.is_empty() {
        backup_etcd(&args, &out).await?;
        how = format!("etcd at {}", args.etcd.join(","));
    } else {
        let data_dir = args
            .data_dir
            .as_deref()
            .context("--data-dir or --etcd is required")?;
        if !data_dir.is_dir() {
            bail!("--data-dir {}: no such directory", data_dir.display());
        }
        if backup_online(data_dir, &out).await?.is_some() {
            how = format!("running server in {} (online)", data_dir.display());
        } else {
            let store_dir = data_dir.join("store");
            if !store_dir.is_dir() {
                bail!(
                    "{} holds no store: is {} a kubox server data directory?",
                    store_dir.display(),
                    data_dir.display()
                );
            }
            let store = EmbeddedStore::open(&store_dir, Options::default())
                .await
                .with_context(|| {
                    format!(
                        "opening the store in {} (is a server running on it without its \
                         control socket?)",
                        store_dir.display()
                    )
                })?;
            let result = backup::snapshot_embedded(&store, &out).await;
            store.close().await.context("closing the store")?;
            result.context("taking the backup")?;
            how = format!("stopped server's store in {}", store_dir.display());
        }
    }
    let info = backup::verify(&out)
        .await
        .with_context(|| format!("verifying {}", out.display()))?;
    println!(
        "backup of the {how} written to {}: {}",
        out.display(),
        describe(&info)
    );
    Ok(())
}

#[cfg(feature = "etcd")]
async fn backup_etcd(args: &BackupArgs, out: &Path) -> anyhow::Result<()> {
    let store = kubox::store::etcd::EtcdStore::connect(&args.etcd, args.etcd_prefix.clone())
        .await
        .with_context(|| format!("connecting to etcd at {}", args.etcd.join(",")))?;
    backup::snapshot_to_file(&store, out)
        .await
        .context("taking the backup")?;
    Ok(())
}

#[cfg(not(feature = "etcd"))]
async fn backup_etcd(_args: &BackupArgs, _out: &Path) -> anyhow::Result<()> {
    bail!("--etcd needs kubox built with the etcd feature (cargo install --path . --features etcd)")
}

/// `kubox restore`.
pub(crate) async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    if !args.from.is_file() {
        bail!("--from {}: no such file", args.from.display());
    }
    let info = backup::verify(&args.from)
        .await
        .with_context(|| format!("verifying {}", args.from.display()))?;
    println!("{} verified: {}", args.from.display(), describe(&info));
    match std::fs::read_dir(&args.data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "--data-dir {}: not empty (restore needs a new data directory)",
                    args.data_dir.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("--data-dir {}", args.data_dir.display())),
    }
    if let Some(old) = &args.pki_from {
        let from = old.join("pki");
        if !from.is_dir() {
            bail!("--pki-from {}: no pki/ directory there", old.display());
        }
        copy_pki(&from, &args.data_dir.join("pki"))?;
    }
    let store_dir = args.data_dir.join("store");
    backup::restore(&args.from, &store_dir)
        .await
        .with_context(|| format!("restoring into {}", store_dir.display()))?;
    println!(
        "restored revision {} ({} keys) into {}",
        info.revision,
        info.keys,
        absolute(&store_dir).display()
    );
    println!(
        "start a server on it:\n  kubox server --data-dir {} --listen 127.0.0.1:6443",
        absolute(&args.data_dir).display()
    );
    if args.pki_from.is_none() {
        println!(
            "(a new CA and new tokens will be generated: use the new admin kubeconfig, and \
             re-join agents with the new agent token)"
        );
    }
    Ok(())
}

/// Copies the PKI files (not the agent's node state) keeping their modes.
fn copy_pki(from: &Path, to: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)
        .with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            let dest = to.join(entry.file_name());
            std::fs::copy(entry.path(), &dest).with_context(|| {
                format!("copying {} to {}", entry.path().display(), dest.display())
            })?;
        }
    }
    Ok(())
}
