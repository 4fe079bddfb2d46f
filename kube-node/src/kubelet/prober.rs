//! Liveness, readiness and startup probes (Kubernetes `pkg/kubelet/prober`): one task per
//! running container and probe kind.
//!
//! - Initial results: readiness Failure, liveness Success, startup Unknown (not started).
//! - The first probe runs when the worker starts, then every `periodSeconds`; nothing is
//!   probed before `initialDelaySeconds` after the container's `startedAt`.
//! - Only the startup probe runs until the container has started; then it stops and
//!   liveness and readiness begin.
//! - A result changes only after `successThreshold` / `failureThreshold` identical results in
//!   a row; a probe error is reported as an event and discarded.
//! - After a liveness or startup failure the worker stops (the container is restarted and
//!   gets new workers); the pod worker is woken on every result change.
//! - exec runs [`Runtime::exec_sync`](crate::runtime::Runtime::exec_sync); httpGet is an
//!   HTTP/1.1 GET (200–399 is success, redirects are not followed); tcpSocket succeeds when the
//!   connection opens. Named ports resolve from the container's ports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use jiff::Timestamp;
use kubox_core::api::core_v1::{Container, HTTPGetAction, Pod, Probe};
use kubox_core::IntOrString;
use tokio::task::JoinHandle;

use super::events::{pod_ref, WARNING};
use super::status::ProbeState;
use super::Inner;
use crate::runtime::Error as RtError;

/// The kind of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `livenessProbe`.
    Liveness,
    /// `readinessProbe`.
    Readiness,
    /// `startupProbe`.
    Startup,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The probe succeeded.
    Success,
    /// The probe failed, with its output.
    Failure(String),
}

#[derive(Debug, Clone, Default)]
struct Results {
    pod_uid: String,
    /// None: no readiness probe.
    ready: Option<bool>,
    /// None: no startup probe.
    started: Option<bool>,
    liveness_failed: bool,
    startup_failed: bool,
}

#[derive(Default)]
struct State {
    workers: HashMap<(String, Kind), JoinHandle<()>>,
    results: HashMap<String, Results>,
}

/// The probe workers of all containers, and their results by container id.
#[derive(Default)]
pub(crate) struct Manager {
    state: Mutex<State>,
}

impl Manager {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the probe workers of a running container (once per container id).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ensure(
        &self,
        inner: &Arc<Inner>,
        pod: &Arc<Pod>,
        container: &Container,
        is_init: bool,
        container_id: &str,
        started_at: Timestamp,
        pod_ip: &str,
    ) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut st = self.lock();
        if st.results.contains_key(container_id) {
            return;
        }
        st.results.insert(
            container_id.to_string(),
            Results {
                pod_uid: uid,
                ready: container.readiness_probe.as_ref().map(|_| false),
                started: container.startup_probe.as_ref().map(|_| false),
                ..Default::default()
            },
        );
        for (kind, probe) in [
            (Kind::Startup, &container.startup_probe),
            (Kind::Liveness, &container.liveness_probe),
            (Kind::Readiness, &container.readiness_probe),
        ] {
            let Some(probe) = probe.clone() else { continue };
            let worker = Worker {
                inner: inner.clone(),
                pod: pod.clone(),
                container: container.clone(),
                is_init,
                container_id: container_id.to_string(),
                started_at,
                pod_ip: pod_ip.to_string(),
                kind,
                probe,
            };
            let handle = tokio::spawn(worker.run());
            st.workers.insert((container_id.to_string(), kind), handle);
        }
    }

    /// The probe state of a container for its status.
    pub(crate) fn state(&self, container_id: &str) -> ProbeState {
        let st = self.lock();
        match st.results.get(container_id) {
            Some(r) => ProbeState {
                ready: r.ready.unwrap_or(true),
                started: r.started.unwrap_or(true),
            },
            None => ProbeState {
                ready: true,
                started: true,
            },
        }
    }

    /// Whether a liveness (or startup) probe failed for this container.
    pub(crate) fn failed(&self, container_id: &str) -> Option<Kind> {
        let st = self.lock();
        st.results.get(container_id).and_then(|r| {
            if r.startup_failed {
                Some(Kind::Startup)
            } else if r.liveness_failed {
                Some(Kind::Liveness)
            } else {
                None
            }
        })
    }

    /// Stops the workers of containers of pod `uid` not in `live`.
    pub(crate) fn retain(&self, uid: &str, live: &[String]) {
        let mut st = self.lock();
        let dead: Vec<String> = st
            .results
            .iter()
            .filter(|(id, r)| r.pod_uid == uid && !live.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            st.results.remove(&id);
            st.workers.retain(|(cid, _), h| {
                if *cid == id {
                    h.abort();
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Stops every worker of pod `uid`.
    pub(crate) fn remove_pod(&self, uid: &str) {
        self.retain(uid, &[]);
    }

    /// Stops every worker.
    pub(crate) fn stop_all(&self) {
        let mut st = self.lock();
        for h in st.workers.values() {
            h.abort();
        }
        st.workers.clear();
        st.results.clear();
    }

    fn set(&self, container_id: &str, kind: Kind, ok: bool) -> Option<String> {
        let mut st = self.lock();
        let r = st.results.get_mut(container_id)?;
        let changed = match kind {
            Kind::Readiness => {
                let c = r.ready != Some(ok);
                r.ready = Some(ok);
                c
            }
            Kind::Startup => {
                let c = r.started != Some(ok) || (!ok && !r.startup_failed);
                if ok {
                    r.started = Some(true);
                } else {
                    r.startup_failed = true;
                }
                c
            }
            Kind::Liveness => {
                let c = r.liveness_failed == ok;
                r.liveness_failed = !ok;
                c
            }
        };
        changed.then(|| r.pod_uid.clone())
    }

    fn started(&self, container_id: &str) -> bool {
        let st = self.lock();
        st.results
            .get(container_id)
            .is_some_and(|r| r.started.unwrap_or(true))
    }
}

struct Worker {
    inner: Arc<Inner>,
    pod: Arc<Pod>,
    container: Container,
    is_init: bool,
    container_id: String,
    started_at: Timestamp,
    pod_ip: String,
    kind: Kind,
    probe: Probe,
}

impl Worker {
    async fn run(self) {
        let period = Duration::from_secs(self.probe.period_seconds.unwrap_or(10).max(1) as u64);
        let initial_delay = i64::from(self.probe.initial_delay_seconds.unwrap_or(0).max(0));
        let success_threshold = self.probe.success_threshold.unwrap_or(1).max(1);
        let failure_threshold = self.probe.failure_threshold.unwrap_or(3).max(1);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: Option<bool> = None;
        let mut run = 0;
        let manager = &self.inner.prober;
        loop {
            tick.tick().await;
            let started = manager.started(&self.container_id);
            if self.kind == Kind::Startup && started {
                return;
            }
            if self.kind != Kind::Startup && !started {
                continue;
            }
            let since = self
                .inner
                .clock
                .now()
                .duration_since(self.started_at)
                .as_secs();
            if since < initial_delay {
                continue;
            }
            let outcome = match run_probe(
                &self.inner,
                &self.probe,
                &self.container,
                &self.container_id,
                &self.pod_ip,
            )
            .await
            {
                Ok(o) => o,
                Err(e) => {
                    self.event(&format!(
                        "{} probe errored and resulted in Failure state: {e}",
                        self.kind.name()
                    ));
                    continue;
                }
            };
            let ok = outcome == Outcome::Success;
            if let Outcome::Failure(output) = &outcome {
                self.event(&format!("{} probe failed: {output}", self.kind.name()));
            }
            if last == Some(ok) {
                run += 1;
            } else {
                last = Some(ok);
                run = 1;
            }
            if (!ok && run < failure_threshold) || (ok && run < success_threshold) {
                continue;
            }
            if let Some(uid) = manager.set(&self.container_id, self.kind, ok) {
                self.inner.poke(&uid);
            }
            if !ok && matches!(self.kind, Kind::Liveness | Kind::Startup) {
                // On hold until the container is restarted (new id, new worker).
                return;
            }
        }
    }

    fn event(&self, message: &str) {
        self.inner.recorder.event(
            pod_ref(&self.pod, Some((&self.container.name, self.is_init))),
            WARNING,
            "Unhealthy",
            message,
        );
    }
}

/// Resolves a probe or hook port (a number, or the name of one of the container's ports).
pub fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("invalid port number: {p}")),
        IntOrString::String(name) => {
            if let Ok(n) = name.parse::<i32>() {
                return resolve_port(&IntOrString::Int(n), container);
            }
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| {
                    format!("couldn't find port: {name} in container {}", container.name)
                })
        }
    }
}

/// Runs one probe. `Err` is a probe error (the result is discarded).
pub(crate) async fn run_probe(
    inner: &Inner,
    probe: &Probe,
    container: &Container,
    container_id: &str,
    pod_ip: &str,
) -> Result<Outcome, String> {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(exec) = &probe.exec {
        let cmd = exec.command.clone().unwrap_or_default();
        return match inner.runtime.exec_sync(container_id, &cmd, timeout).await {
            Ok(out) if out.exit_code == 0 => Ok(Outcome::Success),
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).to_string();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                Ok(Outcome::Failure(text.trim_end().to_string()))
            }
            Err(RtError::DeadlineExceeded(_)) => Ok(Outcome::Failure(format!(
                "command \"{}\" timed out",
                cmd.join(" ")
            ))),
            Err(e) => Err(e.to_string()),
        };
    }
    if let Some(h) = &probe.http_get {
        return http_get(h, container, pod_ip, timeout).await;
    }
    if let Some(t) = &probe.tcp_socket {
        let port = resolve_port(&t.port, container)?;
        let host = t
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        let addr = format!("{host}:{port}");
        return match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(_)) => Ok(Outcome::Success),
            Ok(Err(e)) => Ok(Outcome::Failure(format!("dial tcp {addr}: {e}"))),
            Err(_) => Ok(Outcome::Failure(format!("dial tcp {addr}: i/o timeout"))),
        };
    }
    if probe.grpc.is_some() {
        return Err("gRPC probes are not supported by this kubelet".to_string());
    }
    Err("probe has no handler".to_string())
}

/// An HTTP GET probe or hook: 200–399 is success.
pub(crate) async fn http_get(
    h: &HTTPGetAction,
    container: &Container,
    pod_ip: &str,
    timeout: Duration,
) -> Result<Outcome, String> {
    let port = resolve_port(&h.port, container)?;
    let host = h
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| pod_ip.to_string());
    let scheme = h.scheme.clone().unwrap_or_else(|| "HTTP".into());
    if scheme.eq_ignore_ascii_case("HTTPS") {
        return Err("HTTPS probes are not supported by this kubelet".to_string());
    }
    let mut path = h.path.clone().unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let url = format!("http://{host}:{port}{path}");
    let addr = format!("{host}:{port}");
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("Get \"{url}\": dial tcp {addr}: {e}"))?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<bytes::Bytes>>(io)
                .await
                .map_err(|e| format!("Get \"{url}\": {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = http::Request::builder()
            .method("GET")
            .uri(&path)
            .header("Host", &addr)
            .header("User-Agent", "kube-probe/1.33")
            .header("Accept", "*/*")
            .header("Connection", "close");
        for hd in h.http_headers.iter().flatten() {
            req = req.header(hd.name.as_str(), hd.value.as_str());
        }
        let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("Get \"{url}\": {e}"))?;
        let code = resp.status().as_u16();
        // Read (at most a little of) the body so the connection ends cleanly.
        let _ = tokio::time::timeout(Duration::from_millis(100), resp.into_body().collect()).await;
        Ok::<u16, String>(code)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(code)) if (200..400).contains(&code) => Ok(Outcome::Success),
        Ok(Ok(code)) => Ok(Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))),
        Ok(Err(e)) => Ok(Outcome::Failure(e)),
        Err(_) => Ok(Outcome::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        ))),
    }
}
