//! Leader election on a `coordination.k8s.io/v1` Lease (client-go `tools/leaderelection`).
//!
//! Several replicas of a component (controller manager, scheduler) run at once; exactly one of
//! them acts. Each candidate repeatedly tries to acquire the Lease `namespace/name`:
//!
//! - the Lease does not exist → create it with `holderIdentity` = us;
//! - it is held by us → renew (`renewTime` = now);
//! - it is held by another identity whose record we have **not seen change** for
//!   `leaseDurationSeconds` (measured on our own clock from when we first observed that
//!   record, as client-go does, so clock skew between machines does not matter) → take it
//!   over, bumping `leaseTransitions`;
//! - otherwise wait `retry_period` and try again.
//!
//! Every write is a `PUT` carrying the `resourceVersion` that was read, so of two candidates
//! racing for an expired lease only one succeeds (the other gets `409 Conflict`). A leader that
//! fails to renew for `renew_deadline` stops leading; since `renew_deadline < lease_duration`,
//! it has stopped before any other candidate may take the lease over: never two leaders.
//! On graceful shutdown (with [`Config::release_on_cancel`]) the leader releases the lease
//! (empty holder, duration 1 s) so a successor takes over at once.
//!
//! kube-core has no timer and no clock of its own: the caller passes a
//! [`Sleep`](super::backoff::Sleep) and a [`Clock`].
//!
//! ```
//! # use std::sync::Arc;
//! # use kubox_core::client::Client;
//! use kubox_core::runtime::backoff::sleep_fn;
//! use kubox_core::runtime::leader::{system_clock, Callbacks, Config, LeaderElector};
//! # async fn f(client: Arc<dyn Client>) {
//! # let tokio_sleep = |_d: std::time::Duration| std::future::ready(());
//! let config = Config::new("kube-system", "kube-controller-manager", "host-1_1234");
//! let elector =
//!     LeaderElector::new(client, config, sleep_fn(tokio_sleep), system_clock()).unwrap();
//! let leading = elector.leadership(); // leading.is_leader() at any time
//! let shutdown = std::future::pending::<()>(); // e.g. a ctrl-c future
//! let outcome = elector
//!     .run(Box::pin(shutdown), Callbacks::new(|| println!("leading"), || println!("stopped")))
//!     .await;
//! # let _ = (leading, outcome);
//! # }
//! ```

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::backoff::{BoxFuture, Sleep};
use crate::api::coordination_v1::{Lease, LeaseSpec};
use crate::client::{self, Api, Client, PostParams};
use crate::meta::ObjectMeta;
use crate::MicroTime;

/// The wall clock, supplied by the caller (kube-core reads no clock itself).
///
/// Under paused tokio time, pass a clock that advances with `tokio::time::Instant`.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// The system clock ([`jiff::Timestamp::now`]).
pub fn system_clock() -> Clock {
    Arc::new(jiff::Timestamp::now)
}

/// What can go wrong configuring an elector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The timing parameters break client-go's invariants
    /// (`lease_duration > renew_deadline > 1.2 × retry_period > 0`). Not retryable.
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
}

/// Parameters of a [`LeaderElector`] (client-go `LeaderElectionConfig` with a `LeaseLock`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This candidate's identity (client-go uses `hostname_uuid`).
    pub identity: String,
    /// How long a lease is valid without renewal (`leaseDurationSeconds`), default 15 s.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up, default 10 s.
    pub renew_deadline: Duration,
    /// Wait between attempts, default 2 s.
    pub retry_period: Duration,
    /// Release the lease when [`LeaderElector::run`]'s shutdown future completes
    /// (client-go `ReleaseOnCancel`), default true.
    pub release_on_cancel: bool,
}

impl Config {
    /// Lease `namespace/name` for candidate `identity` with client-go's defaults
    /// (15 s / 10 s / 2 s, release on cancel).
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Config {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            release_on_cancel: true,
        }
    }

    /// Checks client-go's invariants.
    pub fn validate(&self) -> Result<(), Error> {
        if self.lease_duration <= self.renew_deadline {
            return Err(Error::InvalidConfig(
                "leaseDuration must be greater than renewDeadline".into(),
            ));
        }
        if self.renew_deadline <= self.retry_period.mul_f64(1.2) {
            return Err(Error::InvalidConfig(
                "renewDeadline must be greater than retryPeriod*JitterFactor".into(),
            ));
        }
        if self.retry_period.is_zero() {
            return Err(Error::InvalidConfig(
                "retryPeriod must be greater than zero".into(),
            ));
        }
        if self.lease_duration.as_secs() < 1 {
            return Err(Error::InvalidConfig(
                "leaseDuration must be at least 1s".into(),
            ));
        }
        if self.identity.is_empty() {
            return Err(Error::InvalidConfig("Lock identity is empty".into()));
        }
        if self.name.is_empty() || self.namespace.is_empty() {
            return Err(Error::InvalidConfig(
                "Lease namespace and name must be set".into(),
            ));
        }
        Ok(())
    }
}

/// A cheap, cloneable view of whether the elector currently leads.
#[derive(Clone, Debug, Default)]
pub struct Leadership(Arc<AtomicBool>);

impl Leadership {
    /// True while this candidate holds the lease (between "started" and "stopped leading").
    pub fn is_leader(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The callbacks of [`LeaderElector::run`] (client-go `LeaderCallbacks`).
///
/// They are synchronous: start the work by spawning it (or by flipping a flag), and stop it
/// when `on_stopped_leading` is called.
pub struct Callbacks {
    on_started_leading: Box<dyn FnMut() + Send>,
    on_stopped_leading: Box<dyn FnMut() + Send>,
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks").finish_non_exhaustive()
    }
}

impl Callbacks {
    /// Callbacks for acquiring and for losing (or releasing) the lease.
    pub fn new(
        on_started_leading: impl FnMut() + Send + 'static,
        on_stopped_leading: impl FnMut() + Send + 'static,
    ) -> Self {
        Callbacks {
            on_started_leading: Box::new(on_started_leading),
            on_stopped_leading: Box::new(on_stopped_leading),
        }
    }
}

/// Why [`LeaderElector::run`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The shutdown future completed before the lease was ever acquired.
    CancelledBeforeLeading,
    /// The leader stopped leading because of the shutdown future (the lease was released if
    /// [`Config::release_on_cancel`]).
    Cancelled,
    /// The leader could not renew within `renew_deadline`, or another holder took the lease:
    /// leadership is lost (client-go exits the process here).
    LostLease,
}

/// The result of one [`LeaderElector::try_acquire_or_renew`] attempt.
#[derive(Clone, Debug)]
pub enum Attempt {
    /// We hold the lease now (acquired or renewed).
    Acquired,
    /// Another identity holds a lease that has not expired.
    HeldBy(String),
    /// The write lost a race (409 Conflict / AlreadyExists): someone else wrote first.
    Conflict,
    /// The API call failed.
    Failed(client::Error),
}

impl PartialEq for Attempt {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Attempt::Acquired, Attempt::Acquired) | (Attempt::Conflict, Attempt::Conflict) => true,
            (Attempt::HeldBy(a), Attempt::HeldBy(b)) => a == b,
            (Attempt::Failed(a), Attempt::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// A candidate for leadership of one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: Config,
    sleep: Sleep,
    clock: Clock,
    leading: Leadership,
    /// The last lease spec we read and when (on our clock) we first saw it.
    observed: Option<(LeaseSpec, jiff::Timestamp)>,
}

impl fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderElector")
            .field("config", &self.config)
            .field("leading", &self.leading.is_leader())
            .finish_non_exhaustive()
    }
}

fn since(now: jiff::Timestamp, then: jiff::Timestamp) -> Duration {
    Duration::try_from(now.duration_since(then)).unwrap_or(Duration::ZERO)
}

impl LeaderElector {
    /// A candidate for the lease described by `config`; fails if `config` is invalid.
    pub fn new(
        client: Arc<dyn Client>,
        config: Config,
        sleep: Sleep,
        clock: Clock,
    ) -> Result<Self, Error> {
        config.validate()?;
        Ok(LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            sleep,
            clock,
            leading: Leadership::default(),
            observed: None,
        })
    }

    /// The shared leadership flag.
    pub fn leadership(&self) -> Leadership {
        self.leading.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The holder of the lease as last observed (`None` if unknown or released).
    pub fn observed_holder(&self) -> Option<&str> {
        self.observed
            .as_ref()
            .and_then(|(s, _)| s.holder_identity.as_deref())
            .filter(|h| !h.is_empty())
    }

    fn our_spec(&self, now: jiff::Timestamp, old: Option<&LeaseSpec>) -> LeaseSpec {
        let held_by_us = old
            .and_then(|o| o.holder_identity.as_deref())
            .is_some_and(|h| h == self.config.identity);
        let transitions = old.and_then(|o| o.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.config.lease_duration.as_secs() as i32),
            acquire_time: if held_by_us {
                old.and_then(|o| o.acquire_time).or(Some(MicroTime(now)))
            } else {
                Some(MicroTime(now))
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(match old {
                None => 0,
                Some(_) if held_by_us => transitions,
                Some(_) => transitions + 1,
            }),
            preferred_holder: None,
            strategy: old.and_then(|o| o.strategy.clone()),
        }
    }

    /// One attempt to acquire or renew the lease (client-go `tryAcquireOrRenew`).
    pub async fn try_acquire_or_renew(&mut self) -> Attempt {
        let now = (self.clock)();
        let current = match self.api.get_opt(&self.config.name).await {
            Ok(c) => c,
            Err(e) => return Attempt::Failed(e),
        };
        let Some(mut lease) = current else {
            let spec = self.our_spec(now, None);
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(spec),
                ..Lease::default()
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observed = Some((created.spec.unwrap_or_default(), now));
                    Attempt::Acquired
                }
                Err(e) if e.is_already_exists() || e.is_conflict() => Attempt::Conflict,
                Err(e) => Attempt::Failed(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        // A record we have not seen before restarts the expiry clock (our clock, not theirs).
        match &self.observed {
            Some((seen, _)) if *seen == spec => {}
            _ => self.observed = Some((spec.clone(), now)),
        }
        let observed_at = self.observed.as_ref().map(|(_, t)| *t).unwrap_or(now);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
        if !holder.is_empty()
            && holder != self.config.identity
            && since(now, observed_at) < duration
        {
            return Attempt::HeldBy(holder);
        }
        lease.spec = Some(self.our_spec(now, Some(&spec)));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                self.observed = Some((updated.spec.unwrap_or_default(), now));
                Attempt::Acquired
            }
            Err(e) if e.is_conflict() => Attempt::Conflict,
            Err(e) => Attempt::Failed(e),
        }
    }

    /// Gives the lease up if we hold it (client-go `release`): empty holder, duration 1 s,
    /// transitions kept. Returns whether a release was written.
    pub async fn release(&mut self) -> Result<bool, client::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(false);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(false);
        }
        let now = (self.clock)();
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: spec.lease_transitions,
            preferred_holder: None,
            strategy: spec.strategy,
        });
        let updated = self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await?;
        self.observed = Some((updated.spec.unwrap_or_default(), now));
        Ok(true)
    }

    /// Campaigns until leading, leads while renewing, and returns when leadership ends or
    /// `shutdown` completes (client-go `LeaderElector.Run`).
    ///
    /// `on_started_leading` runs once the lease is acquired; `on_stopped_leading` runs when
    /// leadership ends (lost, or released at shutdown) — only if it had started. The
    /// leadership flag ([`leadership`](Self::leadership)) follows the same transitions.
    pub async fn run(
        mut self,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
        mut callbacks: Callbacks,
    ) -> Outcome {
        let mut shutdown = Fused(Some(shutdown));
        // Acquire.
        loop {
            let attempt = self.try_acquire_or_renew();
            match race(attempt, &mut shutdown).await {
                None => return Outcome::CancelledBeforeLeading,
                Some(Attempt::Acquired) => break,
                Some(_) => {}
            }
            let wait = (self.sleep)(self.config.retry_period);
            if race(wait, &mut shutdown).await.is_none() {
                return Outcome::CancelledBeforeLeading;
            }
        }
        self.leading.0.store(true, Ordering::SeqCst);
        (callbacks.on_started_leading)();
        let mut last_renew = (self.clock)();
        let outcome = loop {
            let wait = (self.sleep)(self.config.retry_period);
            if race(wait, &mut shutdown).await.is_none() {
                break Outcome::Cancelled;
            }
            let remaining = self
                .config
                .renew_deadline
                .saturating_sub(since((self.clock)(), last_renew));
            let deadline = (self.sleep)(remaining);
            let attempt = Box::pin(self.try_acquire_or_renew());
            match race(attempt, &mut shutdown_or(deadline, &mut shutdown)).await {
                Some(Attempt::Acquired) => last_renew = (self.clock)(),
                Some(Attempt::HeldBy(_)) => break Outcome::LostLease,
                Some(_) | None => {}
            }
            // The shutdown future may have completed while racing with the deadline.
            if shutdown.0.is_none() {
                break Outcome::Cancelled;
            }
            if since((self.clock)(), last_renew) >= self.config.renew_deadline {
                break Outcome::LostLease;
            }
        };
        self.leading.0.store(false, Ordering::SeqCst);
        if outcome == Outcome::Cancelled && self.config.release_on_cancel {
            let _ = self.release().await;
        }
        (callbacks.on_stopped_leading)();
        outcome
    }
}

/// Polls `fut` and `stop` together: `Some(output)` if `fut` finished first, `None` if `stop`.
async fn race<F: Future>(
    fut: F,
    stop: &mut (impl Future<Output = ()> + Unpin),
) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if Pin::new(&mut *stop).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// A future that completes once and then stays complete (safe to poll again).
struct Fused(Option<Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Future for Fused {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        match self.0.as_mut() {
            None => Poll::Ready(()),
            Some(f) => {
                let r = f.as_mut().poll(cx);
                if r.is_ready() {
                    self.0 = None;
                }
                r
            }
        }
    }
}

/// A future that completes when either `deadline` or `shutdown` (borrowed, not consumed)
/// completes.
fn shutdown_or<'a>(
    mut deadline: BoxFuture<()>,
    shutdown: &'a mut Fused,
) -> impl Future<Output = ()> + Unpin + 'a {
    poll_fn(move |cx| {
        if deadline.as_mut().poll(cx).is_ready() || Pin::new(&mut *shutdown).poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{GroupVersionResource, Request, Verb, WatchParams, WatchStream};
    use crate::meta::Status;
    use async_trait::async_trait;
    use serde_json::Value;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    /// An in-memory API holding Lease objects, with resourceVersion checks.
    #[derive(Default)]
    struct FakeLeases {
        objects: Mutex<std::collections::BTreeMap<String, Value>>,
        rv: AtomicUsize,
        fail: AtomicBool,
    }

    fn status(code: i32, reason: &str) -> client::Error {
        client::Error::Api(Box::new(Status {
            code: Some(code),
            reason: Some(reason.to_string()),
            ..Default::default()
        }))
    }

    #[async_trait]
    impl Client for FakeLeases {
        async fn call(&self, req: Request) -> client::Result<Value> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(client::Error::Transport("down".into()));
            }
            let mut objects = self.objects.lock().unwrap();
            let next_rv = || (self.rv.fetch_add(1, Ordering::SeqCst) + 1).to_string();
            match req.verb {
                Verb::Get => objects
                    .get(req.name.as_deref().unwrap_or(""))
                    .cloned()
                    .ok_or_else(|| status(404, "NotFound")),
                Verb::Create(_) => {
                    let mut body = req.body.unwrap();
                    let name = body["metadata"]["name"].as_str().unwrap().to_string();
                    if objects.contains_key(&name) {
                        return Err(status(409, "AlreadyExists"));
                    }
                    body["metadata"]["resourceVersion"] = Value::String(next_rv());
                    objects.insert(name, body.clone());
                    Ok(body)
                }
                Verb::Replace(_) => {
                    let mut body = req.body.unwrap();
                    let name = req.name.unwrap();
                    let cur = objects.get(&name).ok_or_else(|| status(404, "NotFound"))?;
                    if cur["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"] {
                        return Err(status(409, "Conflict"));
                    }
                    body["metadata"]["resourceVersion"] = Value::String(next_rv());
                    objects.insert(name, body.clone());
                    Ok(body)
                }
                _ => Err(status(405, "MethodNotAllowed")),
            }
        }

        async fn watch(
            &self,
            _: &GroupVersionResource,
            _: Option<&str>,
            _: &WatchParams,
        ) -> client::Result<WatchStream> {
            Err(status(405, "MethodNotAllowed"))
        }
    }

    fn tokio_sleep() -> Sleep {
        super::super::backoff::sleep_fn(tokio::time::sleep)
    }

    fn paused_clock() -> Clock {
        let start = tokio::time::Instant::now();
        let base = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        Arc::new(move || base + jiff::SignedDuration::try_from(start.elapsed()).unwrap_or_default())
    }

    fn elector(client: &Arc<FakeLeases>, id: &str) -> LeaderElector {
        let client: Arc<dyn Client> = client.clone();
        LeaderElector::new(
            client,
            Config::new("kube-system", "kube-controller-manager", id),
            tokio_sleep(),
            paused_clock(),
        )
        .unwrap()
    }

    fn lease(fake: &FakeLeases) -> LeaseSpec {
        let v = fake.objects.lock().unwrap()["kube-controller-manager"].clone();
        serde_json::from_value::<Lease>(v).unwrap().spec.unwrap()
    }

    #[test]
    fn config_invariants_are_checked() {
        let mut c = Config::new("ns", "l", "a");
        assert!(c.validate().is_ok());
        c.renew_deadline = Duration::from_secs(15);
        assert!(c.validate().is_err());
        c.renew_deadline = Duration::from_secs(2);
        assert!(c.validate().is_err());
        let c = Config::new("ns", "l", "");
        assert_eq!(
            c.validate(),
            Err(Error::InvalidConfig("Lock identity is empty".into()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn first_candidate_creates_then_second_waits_for_expiry() {
        let fake = Arc::new(FakeLeases::default());
        let mut a = elector(&fake, "a");
        let mut b = elector(&fake, "b");
        assert_eq!(a.try_acquire_or_renew().await, Attempt::Acquired);
        let spec = lease(&fake);
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.lease_transitions, Some(0));
        assert_eq!(b.try_acquire_or_renew().await, Attempt::HeldBy("a".into()));
        // a renews: b's expiry clock restarts from the new record.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(a.try_acquire_or_renew().await, Attempt::Acquired);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(b.try_acquire_or_renew().await, Attempt::HeldBy("a".into()));
        // a stops renewing: 15 s after b saw the last record, b takes over.
        tokio::time::advance(Duration::from_secs(14)).await;
        assert_eq!(b.try_acquire_or_renew().await, Attempt::HeldBy("a".into()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.try_acquire_or_renew().await, Attempt::Acquired);
        let spec = lease(&fake);
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(spec.lease_transitions, Some(1));
        // a now sees b's fresh record.
        assert_eq!(a.try_acquire_or_renew().await, Attempt::HeldBy("b".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn stale_resource_version_conflicts() {
        let fake = Arc::new(FakeLeases::default());
        let mut a = elector(&fake, "a");
        assert_eq!(a.try_acquire_or_renew().await, Attempt::Acquired);
        // Two candidates both see an expired lease; only the first write wins.
        let mut b = elector(&fake, "b");
        let mut c = elector(&fake, "c");
        assert!(matches!(b.try_acquire_or_renew().await, Attempt::HeldBy(_)));
        assert!(matches!(c.try_acquire_or_renew().await, Attempt::HeldBy(_)));
        tokio::time::advance(Duration::from_secs(16)).await;
        let stale: Lease =
            serde_json::from_value(fake.objects.lock().unwrap()["kube-controller-manager"].clone())
                .unwrap();
        assert_eq!(b.try_acquire_or_renew().await, Attempt::Acquired);
        // c writes with the resourceVersion it would have read before b's write.
        let mut takeover = stale.clone();
        takeover.spec = Some(c.our_spec((c.clock)(), stale.spec.as_ref()));
        let err = c
            .api
            .replace("kube-controller-manager", &PostParams::default(), &takeover)
            .await
            .unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(lease(&fake).holder_identity.as_deref(), Some("b"));
    }

    #[tokio::test(start_paused = true)]
    async fn run_leads_renews_and_releases_on_shutdown() {
        let fake = Arc::new(FakeLeases::default());
        let a = elector(&fake, "a");
        let leading = a.leadership();
        let events = Arc::new(Mutex::new(Vec::new()));
        let (e1, e2) = (events.clone(), events.clone());
        let callbacks = Callbacks::new(
            move || e1.lock().unwrap().push("started"),
            move || e2.lock().unwrap().push("stopped"),
        );
        let shutdown = Box::pin(tokio::time::sleep(Duration::from_secs(60)));
        let task = tokio::spawn(a.run(shutdown, callbacks));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(leading.is_leader());
        let renew1 = lease(&fake).renew_time;
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_ne!(
            lease(&fake).renew_time,
            renew1,
            "renewed every retry period"
        );
        assert_eq!(task.await.unwrap(), Outcome::Cancelled);
        assert!(!leading.is_leader());
        assert_eq!(*events.lock().unwrap(), ["started", "stopped"]);
        let spec = lease(&fake);
        assert_eq!(spec.holder_identity, None, "released");
        assert_eq!(spec.lease_duration_seconds, Some(1));
        // A released lease is acquired at once by the next candidate.
        let mut b = elector(&fake, "b");
        assert_eq!(b.try_acquire_or_renew().await, Attempt::Acquired);
        assert_eq!(lease(&fake).lease_transitions, Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn leader_that_cannot_renew_stops_before_the_lease_expires() {
        let fake = Arc::new(FakeLeases::default());
        let a = elector(&fake, "a");
        let leading = a.leadership();
        let task = tokio::spawn(a.run(
            Box::pin(std::future::pending()),
            Callbacks::new(|| {}, || {}),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(leading.is_leader());
        let start = tokio::time::Instant::now();
        fake.fail.store(true, Ordering::SeqCst);
        // Meanwhile b campaigns; it must not lead while a still believes it leads.
        let mut b = elector(&fake, "b");
        let mut b_led_at = None;
        fake.fail.store(false, Ordering::SeqCst);
        assert!(matches!(b.try_acquire_or_renew().await, Attempt::HeldBy(_)));
        fake.fail.store(true, Ordering::SeqCst);
        let mut a_lost_at = None;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if a_lost_at.is_none() && !leading.is_leader() {
                a_lost_at = Some(start.elapsed());
                fake.fail.store(false, Ordering::SeqCst);
            }
            if a_lost_at.is_some()
                && b_led_at.is_none()
                && b.try_acquire_or_renew().await == Attempt::Acquired
            {
                b_led_at = Some(start.elapsed());
            }
        }
        assert_eq!(task.await.unwrap(), Outcome::LostLease);
        let (lost, led) = (a_lost_at.unwrap(), b_led_at.unwrap());
        assert!(lost <= Duration::from_secs(11), "a gave up after {lost:?}");
        assert!(led >= Duration::from_secs(15), "b took over after {led:?}");
        assert!(lost < led);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_before_leading_returns_without_callbacks() {
        let fake = Arc::new(FakeLeases::default());
        let mut a = elector(&fake, "a");
        assert_eq!(a.try_acquire_or_renew().await, Attempt::Acquired);
        let b = elector(&fake, "b");
        let called = Arc::new(AtomicBool::new(false));
        let c2 = called.clone();
        let out = b
            .run(
                Box::pin(tokio::time::sleep(Duration::from_secs(5))),
                Callbacks::new(move || c2.store(true, Ordering::SeqCst), || {}),
            )
            .await;
        assert_eq!(out, Outcome::CancelledBeforeLeading);
        assert!(!called.load(Ordering::SeqCst));
    }
}
