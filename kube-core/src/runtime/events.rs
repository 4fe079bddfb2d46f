//! Recording core/v1 Events with client-go's aggregation (`tools/record`: `EventRecorder`,
//! `EventCorrelator`).
//!
//! A [`Recorder`] writes an `Event` about an object (`involvedObject`) with a `reason`, a
//! `message` and a type ([`EventType::Normal`] or [`EventType::Warning`]), stamped with the
//! reporting component (`source.component`, `source.host`, `reportingComponent`,
//! `reportingInstance`). As in client-go:
//!
//! - **Deduplication** (`eventLogger`): the same object, type, reason, message and source seen
//!   again within the window (default 10 minutes) is not a new Event: the existing one is
//!   PATCHed with `count + 1`, a new `lastTimestamp` (and the message). If that Event has been
//!   deleted meanwhile, a fresh one is created.
//! - **Aggregation of similar events** (`EventAggregator`): once 10 Events that differ only by
//!   message were recorded for the same object, type and reason within the window, further
//!   ones are folded into one Event whose message starts with
//!   `(combined from similar events): `.
//!
//! Event names are `<object name>.<hex unix nanoseconds>`; Events of cluster-scoped objects
//! go to the `default` namespace. The recorder does no IO besides its client calls and reads
//! time from the caller's [`Clock`].
//!
//! ```
//! # use std::sync::Arc;
//! # use kubox_core::client::Client;
//! use kubox_core::api::apps_v1::ReplicaSet;
//! use kubox_core::runtime::events::{object_reference, EventType, Recorder};
//! use kubox_core::runtime::leader::system_clock;
//! # async fn f(client: Arc<dyn Client>, rs: ReplicaSet) {
//! let recorder = Recorder::new(client, "replicaset-controller", system_clock());
//! recorder
//!     .record(&object_reference(&rs), EventType::Normal, "SuccessfulCreate", "Created pod: web-x")
//!     .await
//!     .ok(); // an Event that cannot be written is logged and dropped by callers
//! # }
//! ```

use foldhash::HashMap;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::leader::Clock;
use crate::api::core_v1::{Event, EventSource, ObjectReference};
use crate::client::{self, Api, Client, Patch, PatchParams, PostParams};
use crate::meta::{ObjectMeta, Resource};
use crate::{MicroTime, Time};

/// Prefix of an aggregated Event's message (client-go `EventAggregatorByReasonMessageFunc`).
pub const AGGREGATED_MESSAGE_PREFIX: &str = "(combined from similar events): ";
/// How many Events differing only by message are kept apart before aggregation (client-go
/// `defaultAggregateMaxEvents`).
pub const AGGREGATE_MAX_EVENTS: usize = 10;
/// Default deduplication/aggregation window (client-go `defaultAggregateIntervalInSeconds`).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(600);
/// How many distinct Events the recorder remembers (client-go `maxLruCacheEntries`).
pub const CACHE_SIZE: usize = 4096;

/// `Event.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `Normal`: nothing to worry about.
    Normal,
    /// `Warning`: something may be wrong.
    Warning,
}

impl EventType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `ObjectReference` to `obj` (apiVersion, kind, namespace, name, uid, resourceVersion).
pub fn object_reference<K: Resource>(obj: &K) -> ObjectReference {
    let m = obj.meta();
    ObjectReference {
        api_version: Some(K::api_version()),
        kind: Some(K::KIND.to_string()),
        namespace: m.namespace.clone(),
        name: m.name.clone(),
        uid: m.uid.clone(),
        resource_version: m.resource_version.clone(),
        field_path: None,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    api_version: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
    field_path: Option<String>,
    type_: EventType,
    reason: String,
    /// `None` for the aggregate of similar events.
    message: Option<String>,
}

#[derive(Clone, Debug)]
struct Seen {
    name: String,
    count: i32,
    last: jiff::Timestamp,
}

#[derive(Default)]
struct Cache {
    seen: HashMap<Key, Seen>,
    /// Similar-event groups (key without message) → (window start, distinct messages).
    similar: HashMap<Key, (jiff::Timestamp, BTreeSet<String>)>,
}

/// Writes Events for one component, deduplicating and aggregating them as client-go does.
#[doc(alias = "EventRecorder")]
#[doc(alias = "EventBroadcaster")]
pub struct Recorder {
    client: Arc<dyn Client>,
    component: String,
    host: Option<String>,
    instance: String,
    clock: Clock,
    window: Duration,
    cache: Mutex<Cache>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("component", &self.component)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

fn since(now: jiff::Timestamp, then: jiff::Timestamp) -> Duration {
    Duration::try_from(now.duration_since(then)).unwrap_or(Duration::ZERO)
}

impl Recorder {
    /// A recorder for `component` (`source.component` and `reportingComponent`).
    pub fn new(client: Arc<dyn Client>, component: &str, clock: Clock) -> Self {
        Recorder {
            client,
            component: component.to_string(),
            host: None,
            instance: component.to_string(),
            clock,
            window: DEFAULT_WINDOW,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Sets `source.host` (the node the component runs on) and `reportingInstance`.
    #[must_use]
    pub fn with_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self.instance = format!("{}-{host}", self.component);
        self
    }

    /// Sets the deduplication and aggregation window (default 10 minutes).
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Records one Event about `regarding`. Returns the Event as written (created or
    /// patched).
    pub async fn record(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> client::Result<Event> {
        let now = (self.clock)();
        let base = Key {
            api_version: regarding.api_version.clone(),
            kind: regarding.kind.clone(),
            namespace: regarding.namespace.clone(),
            name: regarding.name.clone(),
            uid: regarding.uid.clone(),
            field_path: regarding.field_path.clone(),
            type_,
            reason: reason.to_string(),
            message: None,
        };
        // Decide, under the lock, which key this occurrence belongs to and whether an Event
        // for it exists.
        let (key, message, previous) = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let window = self.window;
            let group = match cache.similar.get_mut(&base) {
                Some(g) => g,
                None => cache
                    .similar
                    .entry(base.clone())
                    .or_insert_with(|| (now, BTreeSet::new())),
            };
            if since(now, group.0) > window {
                *group = (now, BTreeSet::new());
            }
            group.1.insert(message.to_string());
            let aggregate = group.1.len() > AGGREGATE_MAX_EVENTS;
            let (key, message) = if aggregate {
                (base, format!("{AGGREGATED_MESSAGE_PREFIX}{message}"))
            } else {
                (
                    Key {
                        message: Some(message.to_string()),
                        ..base
                    },
                    message.to_string(),
                )
            };
            let previous = cache
                .seen
                .get(&key)
                .filter(|s| since(now, s.last) <= window)
                .cloned();
            (key, message, previous)
        };

        let namespace = regarding
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let stamp = Time(now);
        if let Some(prev) = previous {
            let count = prev.count + 1;
            let patch = json!({
                "count": count,
                "lastTimestamp": stamp,
                "message": message,
            });
            match events
                .patch(&prev.name, &PatchParams::default(), Patch::Merge(patch))
                .await
            {
                Ok(ev) => {
                    self.remember(
                        key,
                        Seen {
                            name: prev.name.clone(),
                            count,
                            last: now,
                        },
                    );
                    return Ok(ev);
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let object_name = regarding.name.clone().unwrap_or_default();
        let nanos = now.as_nanosecond().max(0) as u128;
        let name = format!("{object_name}.{nanos:x}");
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: regarding.clone(),
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(type_.as_str().to_string()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: self.host.clone(),
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.instance.clone()),
            first_timestamp: Some(stamp),
            last_timestamp: Some(stamp),
            event_time: None::<MicroTime>,
            count: Some(1),
            ..Event::default()
        };
        let created = events.create(&PostParams::default(), &event).await?;
        self.remember(
            key,
            Seen {
                name,
                count: 1,
                last: now,
            },
        );
        Ok(created)
    }

    fn remember(&self, key: Key, seen: Seen) {
        let now = (self.clock)();
        let window = self.window;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.seen.len() >= CACHE_SIZE {
            cache.seen.retain(|_, s| since(now, s.last) <= window);
            cache.similar.retain(|_, (t, _)| since(now, *t) <= window);
            // Still mostly live entries: forget the oldest down to three quarters, so that
            // the next full scan is a quarter of the cache away (a constant cost per event on
            // average; forgetting one entry at a time made every event scan the cache twice).
            let keep = CACHE_SIZE - CACHE_SIZE / 4;
            if cache.seen.len() > keep {
                let mut times: Vec<jiff::Timestamp> = cache.seen.values().map(|s| s.last).collect();
                let drop = times.len() - keep;
                let (_, cutoff, _) = times.select_nth_unstable(drop - 1);
                let cutoff = *cutoff;
                // Entries at the cutoff time may tie: drop those strictly older first, then
                // as many at the cutoff as still needed.
                let mut at_cutoff = drop - cache.seen.values().filter(|s| s.last < cutoff).count();
                cache.seen.retain(|_, s| {
                    if s.last < cutoff {
                        false
                    } else if s.last == cutoff && at_cutoff > 0 {
                        at_cutoff -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
        cache.seen.insert(key, seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apps_v1::ReplicaSet;
    use crate::client::{GroupVersionResource, Request, Verb, WatchParams, WatchStream};
    use crate::meta::Status;
    use async_trait::async_trait;
    use serde_json::Value;

    /// Records every request; stores Events by name and applies merge patches.
    #[derive(Default)]
    struct FakeEvents {
        objects: Mutex<std::collections::BTreeMap<String, Value>>,
        verbs: Mutex<Vec<&'static str>>,
    }

    fn not_found() -> client::Error {
        client::Error::Api(Box::new(Status {
            code: Some(404),
            reason: Some("NotFound".into()),
            ..Default::default()
        }))
    }

    #[async_trait]
    impl Client for FakeEvents {
        async fn call(&self, req: Request) -> client::Result<Value> {
            let mut objects = self.objects.lock().unwrap();
            match req.verb {
                Verb::Create(_) => {
                    self.verbs.lock().unwrap().push("create");
                    let body = req.body.unwrap();
                    let name = body["metadata"]["name"].as_str().unwrap().to_string();
                    objects.insert(name, body.clone());
                    Ok(body)
                }
                Verb::Patch(Patch::Merge(p), _) => {
                    self.verbs.lock().unwrap().push("patch");
                    let name = req.name.unwrap();
                    let obj = objects.get_mut(&name).ok_or_else(not_found)?;
                    for (k, v) in p.as_object().unwrap() {
                        obj[k] = v.clone();
                    }
                    Ok(obj.clone())
                }
                _ => Err(not_found()),
            }
        }
        async fn watch(
            &self,
            _: &GroupVersionResource,
            _: Option<&str>,
            _: &WatchParams,
        ) -> client::Result<WatchStream> {
            Err(not_found())
        }
    }

    fn clock_at(secs: Arc<Mutex<i64>>) -> Clock {
        Arc::new(move || jiff::Timestamp::from_second(*secs.lock().unwrap()).unwrap())
    }

    fn rs() -> ObjectReference {
        let mut rs = ReplicaSet::new("web");
        rs.metadata.namespace = Some("prod".into());
        rs.metadata.uid = Some("u1".into());
        object_reference(&rs)
    }

    #[tokio::test]
    async fn a_full_cache_forgets_its_oldest_quarter() {
        let fake = Arc::new(FakeEvents::default());
        let ms = Arc::new(Mutex::new(1_700_000_000_000i64));
        let clock: Clock = {
            let ms = ms.clone();
            Arc::new(move || {
                let mut now = ms.lock().unwrap();
                *now += 1;
                jiff::Timestamp::from_millisecond(*now).unwrap()
            })
        };
        let rec = Recorder::new(fake.clone(), "c", clock);
        // Distinct reasons: events that differ only in their message would be aggregated.
        for i in 0..CACHE_SIZE {
            rec.record(&rs(), EventType::Normal, &format!("R{i}"), "m")
                .await
                .unwrap();
        }
        assert_eq!(rec.cache.lock().unwrap().seen.len(), CACHE_SIZE);
        // Every entry is live: the oldest quarter goes at once.
        rec.record(&rs(), EventType::Normal, "One more", "m")
            .await
            .unwrap();
        let keep = CACHE_SIZE - CACHE_SIZE / 4;
        assert_eq!(rec.cache.lock().unwrap().seen.len(), keep + 1);
        // The newest are remembered (a repeat is a patch), the oldest forgotten (a create).
        fake.verbs.lock().unwrap().clear();
        let newest = format!("R{}", CACHE_SIZE - 1);
        rec.record(&rs(), EventType::Normal, &newest, "m")
            .await
            .unwrap();
        rec.record(&rs(), EventType::Normal, "R0", "m")
            .await
            .unwrap();
        assert_eq!(*fake.verbs.lock().unwrap(), ["patch", "create"]);
    }

    #[tokio::test]
    async fn duplicates_increment_count_with_a_patch() {
        let fake = Arc::new(FakeEvents::default());
        let t = Arc::new(Mutex::new(1_700_000_000));
        let rec = Recorder::new(fake.clone(), "replicaset-controller", clock_at(t.clone()))
            .with_host("cp-1");
        let first = rec
            .record(
                &rs(),
                EventType::Normal,
                "SuccessfulCreate",
                "Created pod: web-a",
            )
            .await
            .unwrap();
        assert_eq!(first.count, Some(1));
        assert_eq!(first.metadata.namespace.as_deref(), Some("prod"));
        assert_eq!(first.involved_object.kind.as_deref(), Some("ReplicaSet"));
        assert_eq!(first.type_.as_deref(), Some("Normal"));
        let src = first.source.clone().unwrap();
        assert_eq!(src.component.as_deref(), Some("replicaset-controller"));
        assert_eq!(src.host.as_deref(), Some("cp-1"));
        assert_eq!(
            first.reporting_component.as_deref(),
            Some("replicaset-controller")
        );
        *t.lock().unwrap() += 30;
        let second = rec
            .record(
                &rs(),
                EventType::Normal,
                "SuccessfulCreate",
                "Created pod: web-a",
            )
            .await
            .unwrap();
        assert_eq!(second.metadata.name, first.metadata.name);
        assert_eq!(second.count, Some(2));
        assert_eq!(second.first_timestamp, first.first_timestamp);
        assert_eq!(second.last_timestamp.unwrap().unix_seconds(), 1_700_000_030);
        // A different message or type is a different Event.
        rec.record(
            &rs(),
            EventType::Warning,
            "SuccessfulCreate",
            "Created pod: web-a",
        )
        .await
        .unwrap();
        assert_eq!(*fake.verbs.lock().unwrap(), ["create", "patch", "create"]);
        // After the window, a new Event starts.
        *t.lock().unwrap() += 601;
        let later = rec
            .record(
                &rs(),
                EventType::Normal,
                "SuccessfulCreate",
                "Created pod: web-a",
            )
            .await
            .unwrap();
        assert_eq!(later.count, Some(1));
        assert_ne!(later.metadata.name, first.metadata.name);
    }

    #[tokio::test]
    async fn deleted_event_is_recreated() {
        let fake = Arc::new(FakeEvents::default());
        let t = Arc::new(Mutex::new(1_700_000_000));
        let rec = Recorder::new(fake.clone(), "c", clock_at(t.clone()));
        let first = rec
            .record(&rs(), EventType::Normal, "R", "m")
            .await
            .unwrap();
        fake.objects.lock().unwrap().clear();
        *t.lock().unwrap() += 1;
        let again = rec
            .record(&rs(), EventType::Normal, "R", "m")
            .await
            .unwrap();
        assert_eq!(again.count, Some(1));
        assert_ne!(again.metadata.name, first.metadata.name);
    }

    #[tokio::test]
    async fn similar_events_are_combined_after_ten() {
        let fake = Arc::new(FakeEvents::default());
        let t = Arc::new(Mutex::new(1_700_000_000));
        let rec = Recorder::new(fake.clone(), "c", clock_at(t.clone()));
        for i in 0..AGGREGATE_MAX_EVENTS {
            *t.lock().unwrap() += 1;
            let ev = rec
                .record(
                    &rs(),
                    EventType::Warning,
                    "FailedCreate",
                    &format!("error {i}"),
                )
                .await
                .unwrap();
            assert_eq!(ev.count, Some(1));
        }
        *t.lock().unwrap() += 1;
        let combined = rec
            .record(&rs(), EventType::Warning, "FailedCreate", "error 10")
            .await
            .unwrap();
        assert_eq!(
            combined.message.as_deref(),
            Some("(combined from similar events): error 10")
        );
        *t.lock().unwrap() += 1;
        let combined2 = rec
            .record(&rs(), EventType::Warning, "FailedCreate", "error 11")
            .await
            .unwrap();
        assert_eq!(combined2.metadata.name, combined.metadata.name);
        assert_eq!(combined2.count, Some(2));
        assert_eq!(fake.objects.lock().unwrap().len(), 11);
    }

    #[test]
    fn cluster_scoped_reference_has_no_namespace() {
        let node = crate::api::core_v1::Node::new("n1");
        let r = object_reference(&node);
        assert_eq!(r.kind.as_deref(), Some("Node"));
        assert_eq!(r.api_version.as_deref(), Some("v1"));
        assert_eq!(r.namespace, None);
    }
}
