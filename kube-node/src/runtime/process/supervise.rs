//! The supervisor of one container process, shared by the `kubox-shim` binary (one shim
//! process per container, the robust mode) and the in-process mode (one supervisor thread per
//! container).
//!
//! The supervisor spawns the container's command in its own process group, moves it into its
//! cgroups, reports the pid (or the start error) once, copies stdout and stderr into the CRI
//! log file, waits for the process, kills whatever is left in its process group (as the end of
//! a container's PID namespace would), and writes an [`ExitRecord`] atomically next to the
//! runtime's records. The runtime never has to be alive for the exit code to be kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use serde::{Deserialize, Serialize};

use crate::logs::{CriLogWriter, LogStream, MAX_RECORD_BYTES};

/// What a supervisor runs: written by the runtime as JSON, read by the shim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimSpec {
    /// The program and its arguments (already wrapped in `nsenter` where needed).
    pub argv: Vec<String>,
    /// The complete environment of the process.
    pub env: Vec<(String, String)>,
    /// The working directory (host path).
    pub working_dir: Option<PathBuf>,
    /// The CRI log file (created with its parent directories).
    pub log_path: PathBuf,
    /// Where the exit record goes.
    pub exit_path: PathBuf,
    /// `cgroup.procs` files the process is moved into right after it is spawned.
    pub cgroup_procs: Vec<PathBuf>,
}

/// How a container process ended, as written by its supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit code, 128 + signal number when killed by a signal, 128 on a start error.
    pub exit_code: i32,
    /// The signal that killed the process, if any.
    pub signal: Option<i32>,
    /// When the process ended (or failed to start).
    pub finished_at: Timestamp,
    /// Why the process could not be started.
    pub start_error: Option<String>,
}

/// The identity of a started process: its pid and its start time in clock ticks since boot
/// (field 22 of `/proc/<pid>/stat`), which tells it apart from a later process with the same
/// pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    /// The process id (also its process group id).
    pub pid: u32,
    /// Its start time in clock ticks since boot.
    pub start_ticks: u64,
}

/// A started container process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// Its identity.
    pub identity: ProcessIdentity,
    /// When it was spawned.
    pub started_at: Timestamp,
}

/// Runs the process described by `spec` to its end. `ready` is called exactly once: with the
/// process identity once it runs, or with the start error. Returns the exit record, which has
/// also been written to `spec.exit_path`.
pub fn supervise(spec: &ShimSpec, ready: impl FnOnce(Result<Started, String>)) -> ExitRecord {
    match start(spec) {
        Err(message) => {
            ready(Err(message.clone()));
            let record = ExitRecord {
                exit_code: 128,
                signal: None,
                finished_at: Timestamp::now(),
                start_error: Some(message),
            };
            if let Err(e) = write_exit_record(&spec.exit_path, &record) {
                tracing::error!(path = %spec.exit_path.display(), "cannot write exit record: {e}");
            }
            record
        }
        Ok((mut child, log)) => {
            let started_at = Timestamp::now();
            let pid = child.id();
            let identity = ProcessIdentity {
                pid,
                start_ticks: process_start_ticks(pid).unwrap_or(0),
            };
            ready(Ok(Started {
                identity,
                started_at,
            }));
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            let copiers: Vec<_> = [
                (
                    stdout.map(|s| Box::new(s) as Box<dyn Read + Send>),
                    LogStream::Stdout,
                ),
                (
                    stderr.map(|s| Box::new(s) as Box<dyn Read + Send>),
                    LogStream::Stderr,
                ),
            ]
            .into_iter()
            .filter_map(|(pipe, stream)| {
                let pipe = pipe?;
                let log = log.clone();
                Some(std::thread::spawn(move || {
                    copy_to_cri_log(pipe, stream, &log)
                }))
            })
            .collect();
            // Wait for the exit without reaping, so that the process group id cannot be
            // reused while the leftovers of the group are killed.
            if let Some(pid) = Pid::from_raw(pid as i32) {
                while let Err(rustix::io::Errno::INTR) = rustix::process::waitid(
                    WaitId::Pid(pid),
                    WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
                ) {}
                let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            }
            let status = child.wait();
            for copier in copiers {
                let _ = copier.join();
            }
            let (exit_code, signal) = match status {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(code), _) => (code, None),
                    (None, Some(signal)) => (128 + signal, Some(signal)),
                    (None, None) => (255, None),
                },
                Err(_) => (255, None),
            };
            let record = ExitRecord {
                exit_code,
                signal,
                finished_at: Timestamp::now(),
                start_error: None,
            };
            if let Err(e) = write_exit_record(&spec.exit_path, &record) {
                tracing::error!(path = %spec.exit_path.display(), "cannot write exit record: {e}");
            }
            record
        }
    }
}

type SharedLog = Arc<Mutex<File>>;

fn start(spec: &ShimSpec) -> Result<(std::process::Child, SharedLog), String> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err("no command given".to_string());
    };
    if let Some(dir) = spec.log_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create log directory {}: {e}", dir.display()))?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_path)
        .map_err(|e| format!("cannot open log file {}: {e}", spec.log_path.display()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(dir) = &spec.working_dir {
        command.current_dir(dir);
    }
    let child = command
        .spawn()
        .map_err(|e| start_error_message(program, spec, &e))?;
    for procs in &spec.cgroup_procs {
        if let Err(e) = std::fs::write(procs, child.id().to_string()) {
            tracing::warn!(path = %procs.display(), "cannot move the process into its cgroup: {e}");
        }
    }
    Ok((child, Arc::new(Mutex::new(log))))
}

fn start_error_message(program: &str, spec: &ShimSpec, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => {
            if let Some(dir) = spec.working_dir.as_ref().filter(|d| !d.is_dir()) {
                format!(
                    "chdir to cwd ({:?}) set in config.json failed: no such file or directory",
                    dir
                )
            } else {
                format!("exec: {program:?}: executable file not found in $PATH")
            }
        }
        io::ErrorKind::PermissionDenied => format!("exec: {program:?}: permission denied"),
        _ => format!("exec: {program:?}: {e}"),
    }
}

/// The shared log file: each `write` call appends its whole buffer under the lock, so the
/// records of stdout and stderr never interleave within a line.
struct SharedFile(SharedLog);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut file = match self.0.lock() {
            Ok(file) => file,
            Err(poisoned) => poisoned.into_inner(),
        };
        file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies a stream into the CRI log with [`CriLogWriter`]: one record per line, long lines
/// split into partial records.
fn copy_to_cri_log(mut pipe: Box<dyn Read + Send>, stream: LogStream, log: &SharedLog) {
    let mut writer = CriLogWriter::new(SharedFile(log.clone()), stream);
    let mut buf = vec![0u8; MAX_RECORD_BYTES];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if writer.write(Timestamp::now(), &buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let _ = writer.finish(Timestamp::now());
}

/// Writes the exit record atomically (temporary file, then rename).
pub fn write_exit_record(path: &Path, record: &ExitRecord) -> io::Result<()> {
    let json = serde_json::to_vec(record).map_err(io::Error::other)?;
    write_atomic(path, &json)
}

/// Reads an exit record; `None` when there is none (yet).
pub fn read_exit_record(path: &Path) -> Option<ExitRecord> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes a file atomically: a temporary file in the same directory, then a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// The start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts with field 3 (state); field 22 is the 20th from there.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process with this identity is still alive (and not a zombie).
pub fn is_alive(identity: &ProcessIdentity) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", identity.pid)) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let mut fields = stat[close + 1..].split_whitespace();
    let state = fields.next().unwrap_or("");
    if state == "Z" || state == "X" {
        return false;
    }
    identity.start_ticks == 0
        || fields.nth(18).and_then(|s| s.parse::<u64>().ok()) == Some(identity.start_ticks)
}

/// The `kubox-shim` program: `kubox-shim <spec.json>`. Prints `ok <pid> <start_ticks>` or
/// `err <message>` as its only line of output once the container process runs (or failed
/// to start), then supervises it. Returns the shim's exit code.
pub fn shim_main(args: impl IntoIterator<Item = String>) -> i32 {
    let args: Vec<String> = args.into_iter().collect();
    let [_, spec_path] = args.as_slice() else {
        eprintln!("usage: kubox-shim <spec.json>");
        return 2;
    };
    let spec: ShimSpec = match std::fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(e) => {
            println!("err cannot read the shim spec {spec_path}: {e}");
            return 2;
        }
    };
    supervise(&spec, |started| {
        let mut stdout = io::stdout().lock();
        let line = match started {
            Ok(s) => format!(
                "ok {} {} {}\n",
                s.identity.pid, s.identity.start_ticks, s.started_at
            ),
            Err(message) => format!("err {}\n", message.replace('\n', " ")),
        };
        let _ = stdout.write_all(line.as_bytes());
        let _ = stdout.flush();
    });
    0
}

/// Parses the shim's first line of output.
pub fn parse_shim_line(line: &str) -> Result<Started, String> {
    let line = line.trim_end();
    if let Some(rest) = line.strip_prefix("ok ") {
        let mut parts = rest.split(' ');
        let pid = parts.next().and_then(|p| p.parse().ok());
        let start_ticks = parts.next().and_then(|p| p.parse().ok());
        let started_at = parts.next().and_then(|p| p.parse().ok());
        if let (Some(pid), Some(start_ticks), Some(started_at)) = (pid, start_ticks, started_at) {
            return Ok(Started {
                identity: ProcessIdentity { pid, start_ticks },
                started_at,
            });
        }
    }
    if let Some(message) = line.strip_prefix("err ") {
        return Err(message.to_string());
    }
    Err(format!(
        "the shim reported {line:?} instead of the container's pid"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_line_parsing() {
        assert_eq!(
            parse_shim_line("ok 12 345 2026-11-26T14:49:53.877Z\n"),
            Ok(Started {
                identity: ProcessIdentity {
                    pid: 12,
                    start_ticks: 345
                },
                started_at: "2026-11-26T14:49:53.877Z".parse().unwrap(),
            })
        );
        assert!(parse_shim_line("ok 12 345\n").is_err());
        assert_eq!(parse_shim_line("err nope\n"), Err("nope".to_string()));
        assert!(parse_shim_line("garbage").is_err());
    }

    #[test]
    fn own_start_time_is_readable() {
        let me = std::process::id();
        let ticks = process_start_ticks(me).expect("start time");
        assert!(is_alive(&ProcessIdentity {
            pid: me,
            start_ticks: ticks
        }));
        assert!(!is_alive(&ProcessIdentity {
            pid: me,
            start_ticks: ticks + 1
        }));
    }
}
