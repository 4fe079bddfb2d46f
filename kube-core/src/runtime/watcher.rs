//! The watcher: a never-ending [`Stream`] of [`Event`]s for one kind over any [`Client`]:
//! list, then watch, re-watch, re-list.
//!
//! The state machine is client-go's `Reflector.ListAndWatch` and kube-rs' `watcher()`:
//!
//! 1. **List** (paginated: `limit` = [`Config::page_size`], following `continue` tokens), at
//!    the most recent resourceVersion: [`Event::Init`], one [`Event::InitApply`] per object,
//!    then [`Event::InitDone`] carrying the list's resourceVersion.
//! 2. **Watch** from that resourceVersion with `allowWatchBookmarks`: [`Event::Apply`] for
//!    `ADDED`/`MODIFIED`, [`Event::Delete`] for `DELETED`, [`Event::Bookmark`] for `BOOKMARK`.
//!    Every event and bookmark advances the watcher's resourceVersion.
//! 3. When the watch ends (server timeout, connection closed) the watcher **re-watches** from
//!    the last resourceVersion it saw: nothing is lost and nothing is listed again.
//! 4. On **410 Gone/Expired** (as the watch call's error or as an `ERROR` event) the history
//!    it needs is compacted away: the error is yielded and the next poll **re-lists** (back
//!    to 1); a consumer replaces its state at [`Event::InitDone`], so objects deleted during
//!    the gap disappear.
//!
//! With [`InitialListStrategy::StreamingList`] step 1 is one watch with `sendInitialEvents`
//! (compat.md §1): `ADDED` events become [`Event::InitApply`], the `BOOKMARK` annotated
//! `k8s.io/initial-events-end` becomes [`Event::InitDone`], and the same watch continues.
//!
//! # Errors and backoff
//!
//! Every failure is yielded as an `Err` item and the watcher recovers on the next poll (retry
//! the list, re-watch, or re-list after a 410). The watcher never sleeps — kube-core has no
//! timer — so the driver applies a backoff between the error and the next poll: wrap the
//! stream in [`StreamBackoff`](super::backoff::StreamBackoff) with a
//! [`Backoff`](super::backoff::Backoff) policy and the caller's
//! [`Sleep`](super::backoff::Sleep) (the [`Informer`](super::informer::Informer) does this).
//! Polling again at once is allowed but hammers the API server.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde_json::Value;

use super::backoff::BoxFuture;
use crate::client::{self, Client, GroupVersionResource, ListParams, Request, Verb, WatchParams};
use crate::meta::{List, Resource, Status, WatchEventType};

/// The annotation of the `BOOKMARK` that ends the initial events of a streaming list.
pub const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// `Result` with the watcher's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the watcher reports; every error is retryable: the watcher recovers on the next poll.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A page of the initial list failed. The next poll starts the list over (with a new
    /// [`Event::Init`]).
    #[error("failed to perform initial object list: {0}")]
    InitialListFailed(#[source] client::Error),
    /// Starting the watch failed. The next poll re-watches from the same resourceVersion, or
    /// re-lists after a 410.
    #[error("failed to start watching object: {0}")]
    WatchStartFailed(#[source] client::Error),
    /// The server sent an `ERROR` event. After a 410 the next poll re-lists; otherwise the
    /// watcher keeps reading (and re-watches when the server ends the stream).
    #[error(
        "error returned by apiserver during watch: {} ({}): {}",
        .0.reason.as_deref().unwrap_or("Unknown"),
        .0.code.unwrap_or(0),
        .0.message.as_deref().unwrap_or("")
    )]
    WatchError(Box<Status>),
    /// The watch stream failed (transport) or carried an object that does not decode as the
    /// kind. The watcher keeps reading, then re-watches.
    #[error("watch stream failed: {0}")]
    WatchFailed(#[source] client::Error),
    /// A list or watch event had no `metadata.resourceVersion`; the next poll re-lists.
    #[error("no metadata.resourceVersion in list or watch result")]
    NoResourceVersion,
}

impl Error {
    /// True when the resourceVersion was too old (410): the watcher re-lists.
    pub fn is_gone(&self) -> bool {
        match self {
            Error::InitialListFailed(e) | Error::WatchStartFailed(e) | Error::WatchFailed(e) => {
                e.is_gone()
            }
            Error::WatchError(s) => s.code == Some(410),
            Error::NoResourceVersion => false,
        }
    }
}

/// What the watcher saw.
///
/// kube-rs 0.9x's event shape, with one difference: [`Event::InitDone`] carries the list's
/// resourceVersion and bookmarks are events ([`Event::Bookmark`]), so that a cache downstream
/// knows exactly which resourceVersion it reflects.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<K> {
    /// An object was added or modified (a watch `ADDED` or `MODIFIED`).
    Apply(K),
    /// An object was deleted (or stopped matching the selectors), in its last state.
    ///
    /// Deletions that happen while the watcher re-lists are not reported as `Delete`: they
    /// show as absences at [`Event::InitDone`]. Don't use this for cleanup that must happen;
    /// use finalizers.
    Delete(K),
    /// A (re-)list starts: [`Event::InitApply`]s follow until [`Event::InitDone`].
    Init,
    /// An object of the (re-)list in progress.
    InitApply(K),
    /// The (re-)list is complete: the objects of the `InitApply`s since the last `Init` are
    /// the whole state at `resource_version`. Anything else a consumer holds was deleted.
    InitDone {
        /// The resourceVersion of the list.
        resource_version: String,
    },
    /// The server's progress notification: the watch has seen everything up to
    /// `resource_version` (nothing else changed).
    Bookmark {
        /// The resourceVersion the watch has reached.
        resource_version: String,
    },
}

impl<K> Event<K> {
    /// The object of an `Apply`, `Delete` or `InitApply`.
    pub fn object(&self) -> Option<&K> {
        match self {
            Event::Apply(k) | Event::Delete(k) | Event::InitApply(k) => Some(k),
            _ => None,
        }
    }

    /// Maps the object of the event (e.g. to drop `managedFields` before caching).
    pub fn map<L>(self, f: impl FnOnce(K) -> L) -> Event<L> {
        match self {
            Event::Apply(k) => Event::Apply(f(k)),
            Event::Delete(k) => Event::Delete(f(k)),
            Event::InitApply(k) => Event::InitApply(f(k)),
            Event::Init => Event::Init,
            Event::InitDone { resource_version } => Event::InitDone { resource_version },
            Event::Bookmark { resource_version } => Event::Bookmark { resource_version },
        }
    }
}

/// How the initial state is fetched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InitialListStrategy {
    /// A paginated LIST, then a WATCH from its resourceVersion (client-go's default).
    #[default]
    ListWatch,
    /// One WATCH with `sendInitialEvents=true&resourceVersionMatch=NotOlderThan` (Kubernetes
    /// 1.27+ streaming lists): less memory on the server for large collections.
    StreamingList,
}

/// What to watch and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Label selector (`app=web,tier!=db`); `None`: everything.
    pub label_selector: Option<String>,
    /// Field selector (`spec.nodeName=n1`); `None`: everything.
    pub field_selector: Option<String>,
    /// Page size of the LIST (`limit`); default 500 as client-go's pager. `None`: one page.
    pub page_size: Option<u32>,
    /// `timeoutSeconds` of each WATCH; default 290 (kube-rs). The watcher re-watches when
    /// it ends.
    pub timeout_seconds: Option<u32>,
    /// Ask for `BOOKMARK`s (`allowWatchBookmarks`); default on. Bookmarks keep the
    /// resourceVersion fresh, so that a re-watch after a quiet period is not a 410.
    pub bookmarks: bool,
    /// How the initial state is fetched.
    pub initial_list_strategy: InitialListStrategy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            label_selector: None,
            field_selector: None,
            page_size: Some(500),
            timeout_seconds: Some(290),
            bookmarks: true,
            initial_list_strategy: InitialListStrategy::ListWatch,
        }
    }
}

impl Config {
    /// Only objects whose labels match `selector`.
    #[must_use]
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }
    /// Only objects whose fields match `selector`.
    #[must_use]
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }
    /// LIST in pages of `n` objects.
    #[must_use]
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n);
        self
    }
    /// End each WATCH after `seconds` (then re-watch).
    #[must_use]
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }
    /// Don't ask for bookmarks.
    #[must_use]
    pub fn disable_bookmarks(mut self) -> Self {
        self.bookmarks = false;
        self
    }
    /// Fetch the initial state with a streaming list.
    #[must_use]
    pub fn streaming_lists(mut self) -> Self {
        self.initial_list_strategy = InitialListStrategy::StreamingList;
        self
    }

    fn list_params(&self, continue_token: Option<String>) -> ListParams {
        ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            limit: self.page_size.map(i64::from),
            continue_token,
            resource_version: None,
            resource_version_match: None,
        }
    }

    fn watch_params(&self, resource_version: Option<String>, initial: bool) -> WatchParams {
        WatchParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            resource_version,
            resource_version_match: initial.then(|| "NotOlderThan".to_string()),
            timeout_seconds: self.timeout_seconds,
            allow_bookmarks: self.bookmarks || initial,
            send_initial_events: initial,
        }
    }
}

/// The state machine; every transition is one step of [`step`].
enum State<K> {
    /// Next: start a (re-)list.
    Empty,
    /// Paginating through the list: hand out `objects`, then fetch the next page.
    InitPage {
        continue_token: Option<String>,
        objects: VecDeque<K>,
        resource_version: Option<String>,
    },
    /// A streaming list in progress.
    InitialWatch { stream: client::WatchStream },
    /// Listed (or the watch ended): next, watch from `resource_version`.
    InitListed { resource_version: String },
    /// Watching.
    Watching {
        resource_version: String,
        stream: client::WatchStream,
    },
}

struct Target {
    client: Arc<dyn Client>,
    resource: GroupVersionResource,
    namespace: Option<String>,
    config: Config,
}

type Step<K> = (Result<Event<K>>, State<K>);

/// A stream of [`Event`]s of kind `K`; see the [module docs](self). Never ends.
///
/// Created by [`watcher()`].
pub struct Watcher<K> {
    target: Arc<Target>,
    state: Option<State<K>>,
    pending: Option<BoxFuture<Step<K>>>,
    _kind: PhantomData<fn() -> K>,
}

// The watcher is never pinned structurally: its fields are moved in and out freely.
impl<K> Unpin for Watcher<K> {}

impl<K> fmt::Debug for Watcher<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("resource", &self.target.resource)
            .field("namespace", &self.target.namespace)
            .field("config", &self.target.config)
            .finish_non_exhaustive()
    }
}

/// Watches objects of kind `K` in `namespace` (`None`: cluster-scoped kinds, or all
/// namespaces) through `client`.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use kubox_core::api::core_v1::Pod;
/// # use kubox_core::client::Client;
/// use kubox_core::runtime::watcher::{self, watcher};
/// # fn f(client: Arc<dyn Client>) {
/// let pods = watcher::<Pod>(client, Some("default"), watcher::Config::default().labels("app=web"));
/// # let _ = pods;
/// # }
/// ```
#[doc(alias = "ListWatch")]
pub fn watcher<K: Resource>(
    client: Arc<dyn Client>,
    namespace: Option<&str>,
    config: Config,
) -> Watcher<K> {
    Watcher {
        target: Arc::new(Target {
            client,
            resource: GroupVersionResource::of::<K>(),
            namespace: namespace.map(str::to_string),
            config,
        }),
        state: Some(State::Empty),
        pending: None,
        _kind: PhantomData,
    }
}

impl<K: Resource> Stream for Watcher<K> {
    type Item = Result<Event<K>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let fut = this.pending.get_or_insert_with(|| {
            let state = this.state.take().unwrap_or(State::Empty);
            Box::pin(step(this.target.clone(), state))
        });
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((item, state)) => {
                this.pending = None;
                this.state = Some(state);
                Poll::Ready(Some(item))
            }
        }
    }
}

/// Runs steps until one yields an item.
async fn step<K: Resource>(target: Arc<Target>, mut state: State<K>) -> Step<K> {
    loop {
        match step_once(&target, state).await {
            (Some(item), next) => return (item, next),
            (None, next) => state = next,
        }
    }
}

fn decode<K: Resource>(v: Value) -> Result<K> {
    serde_json::from_value(v)
        .map_err(|e| Error::WatchFailed(client::Error::Decode(format!("{}: {e}", K::KIND))))
}

fn resource_version_of(v: &Value) -> Option<String> {
    v.get("metadata")
        .and_then(|m| m.get("resourceVersion"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn status_of(v: Value) -> Box<Status> {
    Box::new(serde_json::from_value(v).unwrap_or_else(|e| Status {
        status: Some("Failure".into()),
        message: Some(format!("undecodable ERROR event: {e}")),
        code: Some(500),
        ..Default::default()
    }))
}

async fn next_event(
    stream: &mut client::WatchStream,
) -> Option<client::Result<crate::meta::WatchEvent<Value>>> {
    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

/// One transition; `None` as the item means "no item yet, step again".
async fn step_once<K: Resource>(
    t: &Target,
    state: State<K>,
) -> (Option<Result<Event<K>>>, State<K>) {
    let c = &t.config;
    match state {
        State::Empty => match c.initial_list_strategy {
            InitialListStrategy::ListWatch => (
                Some(Ok(Event::Init)),
                State::InitPage {
                    continue_token: None,
                    objects: VecDeque::new(),
                    resource_version: None,
                },
            ),
            InitialListStrategy::StreamingList => {
                let params = c.watch_params(None, true);
                match t
                    .client
                    .watch(&t.resource, t.namespace.as_deref(), &params)
                    .await
                {
                    Ok(stream) => (Some(Ok(Event::Init)), State::InitialWatch { stream }),
                    Err(e) => (Some(Err(Error::WatchStartFailed(e))), State::Empty),
                }
            }
        },
        State::InitPage {
            continue_token,
            mut objects,
            resource_version,
        } => {
            if let Some(obj) = objects.pop_front() {
                return (
                    Some(Ok(Event::InitApply(obj))),
                    State::InitPage {
                        continue_token,
                        objects,
                        resource_version,
                    },
                );
            }
            if continue_token.is_none() {
                if let Some(rv) = resource_version {
                    return (
                        Some(Ok(Event::InitDone {
                            resource_version: rv.clone(),
                        })),
                        State::InitListed {
                            resource_version: rv,
                        },
                    );
                }
            }
            let request = Request {
                resource: t.resource.clone(),
                namespace: t.namespace.clone(),
                name: None,
                subresource: None,
                verb: Verb::List(c.list_params(continue_token)),
                body: None,
            };
            let list = match t.client.call(request).await.and_then(|v| {
                serde_json::from_value::<List<K>>(v)
                    .map_err(|e| client::Error::Decode(e.to_string()))
            }) {
                Ok(l) => l,
                Err(e) => return (Some(Err(Error::InitialListFailed(e))), State::Empty),
            };
            let rv = list.metadata.resource_version.filter(|s| !s.is_empty());
            let next = list.metadata.continue_.filter(|s| !s.is_empty());
            if rv.is_none() && next.is_none() {
                return (Some(Err(Error::NoResourceVersion)), State::Empty);
            }
            (
                None,
                State::InitPage {
                    continue_token: next,
                    objects: list.items.into(),
                    resource_version: rv,
                },
            )
        }
        State::InitialWatch { mut stream } => match next_event(&mut stream).await {
            None => (None, State::Empty),
            Some(Err(e)) => {
                let next = if e.is_gone() {
                    State::Empty
                } else {
                    State::InitialWatch { stream }
                };
                (Some(Err(Error::WatchFailed(e))), next)
            }
            Some(Ok(ev)) => match ev.type_ {
                WatchEventType::Added | WatchEventType::Modified => {
                    let item = decode(ev.object).map(Event::InitApply);
                    (Some(item), State::InitialWatch { stream })
                }
                // Not expected during the initial events; the end bookmark settles the state.
                WatchEventType::Deleted => (None, State::InitialWatch { stream }),
                WatchEventType::Bookmark => {
                    let end = ev.object["metadata"]["annotations"][INITIAL_EVENTS_END] == "true";
                    match (end, resource_version_of(&ev.object)) {
                        (false, _) => (None, State::InitialWatch { stream }),
                        (true, None) => (Some(Err(Error::NoResourceVersion)), State::Empty),
                        (true, Some(rv)) => (
                            Some(Ok(Event::InitDone {
                                resource_version: rv.clone(),
                            })),
                            State::Watching {
                                resource_version: rv,
                                stream,
                            },
                        ),
                    }
                }
                WatchEventType::Error => {
                    let s = status_of(ev.object);
                    let next = if s.code == Some(410) {
                        State::Empty
                    } else {
                        State::InitialWatch { stream }
                    };
                    (Some(Err(Error::WatchError(s))), next)
                }
            },
        },
        State::InitListed { resource_version } => {
            let params = c.watch_params(Some(resource_version.clone()), false);
            match t
                .client
                .watch(&t.resource, t.namespace.as_deref(), &params)
                .await
            {
                Ok(stream) => (
                    None,
                    State::Watching {
                        resource_version,
                        stream,
                    },
                ),
                Err(e) => {
                    let next = if e.is_gone() {
                        State::Empty
                    } else {
                        State::InitListed { resource_version }
                    };
                    (Some(Err(Error::WatchStartFailed(e))), next)
                }
            }
        }
        State::Watching {
            resource_version,
            mut stream,
        } => match next_event(&mut stream).await {
            None => (None, State::InitListed { resource_version }),
            Some(Err(e)) => {
                let next = if e.is_gone() {
                    State::Empty
                } else {
                    State::Watching {
                        resource_version,
                        stream,
                    }
                };
                (Some(Err(Error::WatchFailed(e))), next)
            }
            Some(Ok(ev)) => {
                if ev.type_ == WatchEventType::Error {
                    let s = status_of(ev.object);
                    let next = if s.code == Some(410) {
                        State::Empty
                    } else {
                        State::Watching {
                            resource_version,
                            stream,
                        }
                    };
                    return (Some(Err(Error::WatchError(s))), next);
                }
                let Some(rv) = resource_version_of(&ev.object) else {
                    return (Some(Err(Error::NoResourceVersion)), State::Empty);
                };
                let next = State::Watching {
                    resource_version: rv.clone(),
                    stream,
                };
                let item = match ev.type_ {
                    WatchEventType::Added | WatchEventType::Modified => {
                        decode(ev.object).map(Event::Apply)
                    }
                    WatchEventType::Deleted => decode(ev.object).map(Event::Delete),
                    _ => Ok(Event::Bookmark {
                        resource_version: rv,
                    }),
                };
                (Some(item), next)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::core_v1::ConfigMap;
    use crate::meta::WatchEvent;
    use async_trait::async_trait;
    use serde_json::json;
    use std::sync::Mutex;
    use std::task::Waker;

    /// A client that answers from a script: each LIST and WATCH call takes the next
    /// response of its kind; watch streams replay their events and then end.
    #[derive(Default)]
    struct Scripted {
        lists: Mutex<VecDeque<client::Result<Value>>>,
        watches: Mutex<VecDeque<client::Result<Vec<WatchEvent<Value>>>>>,
        calls: Mutex<Vec<String>>,
    }

    struct Replay(VecDeque<WatchEvent<Value>>);
    impl Stream for Replay {
        type Item = client::Result<WatchEvent<Value>>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    #[async_trait]
    impl Client for Scripted {
        async fn call(&self, request: Request) -> client::Result<Value> {
            let Verb::List(p) = request.verb else {
                panic!("unexpected {request:?}")
            };
            self.calls.lock().unwrap().push(format!(
                "list limit={:?} continue={:?}",
                p.limit, p.continue_token
            ));
            self.lists
                .lock()
                .unwrap()
                .pop_front()
                .expect("scripted list")
        }
        async fn watch(
            &self,
            _: &GroupVersionResource,
            _: Option<&str>,
            p: &WatchParams,
        ) -> client::Result<client::WatchStream> {
            self.calls.lock().unwrap().push(format!(
                "watch rv={:?} bookmarks={}",
                p.resource_version, p.allow_bookmarks
            ));
            let events = self
                .watches
                .lock()
                .unwrap()
                .pop_front()
                .expect("scripted watch")?;
            Ok(Box::pin(Replay(events.into())))
        }
    }

    fn obj(name: &str, rv: u64) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "resourceVersion": rv.to_string()}})
    }

    fn list(items: &[Value], rv: u64, cont: Option<&str>) -> client::Result<Value> {
        Ok(
            json!({"metadata": {"resourceVersion": rv.to_string(), "continue": cont}, "items": items}),
        )
    }

    fn ev(t: WatchEventType, object: Value) -> WatchEvent<Value> {
        WatchEvent { type_: t, object }
    }

    fn gone() -> client::Error {
        client::Error::Api(Box::new(Status {
            code: Some(410),
            reason: Some("Expired".into()),
            ..Default::default()
        }))
    }

    /// Polls `n` items; the scripted client never returns `Pending`.
    fn take(w: &mut Watcher<ConfigMap>, n: usize) -> Vec<String> {
        let mut cx = Context::from_waker(Waker::noop());
        (0..n)
            .map(|_| match Pin::new(&mut *w).poll_next(&mut cx) {
                Poll::Ready(Some(Ok(e))) => match e {
                    Event::Init => "init".to_string(),
                    Event::InitApply(c) => format!("init-apply {}", c.metadata.name.unwrap()),
                    Event::InitDone { resource_version } => format!("init-done {resource_version}"),
                    Event::Apply(c) => format!("apply {}", c.metadata.name.unwrap()),
                    Event::Delete(c) => format!("delete {}", c.metadata.name.unwrap()),
                    Event::Bookmark { resource_version } => format!("bookmark {resource_version}"),
                },
                Poll::Ready(Some(Err(e))) => format!("error gone={}", e.is_gone()),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn list_watch_rewatch_and_relist_on_410() {
        let c = Arc::new(Scripted::default());
        c.lists.lock().unwrap().extend([
            Err(client::Error::Transport("connection refused".into())),
            list(&[obj("a", 2)], 5, Some("t1")),
            list(&[obj("b", 3)], 5, None),
            list(&[obj("b", 3)], 20, None),
        ]);
        c.watches.lock().unwrap().extend([
            // Applies, a bookmark, then the stream ends: re-watch from the bookmark.
            Ok(vec![
                ev(WatchEventType::Added, obj("c", 6)),
                ev(WatchEventType::Deleted, obj("a", 7)),
                ev(
                    WatchEventType::Bookmark,
                    json!({"metadata": {"resourceVersion": "9"}}),
                ),
            ]),
            // A transport failure to start: retry the watch, not the list.
            Err(client::Error::Transport("reset".into())),
            // 410 as the call's error: re-list.
            Err(gone()),
            // After the re-list: an ERROR event with a 410 re-lists again.
            Ok(vec![ev(
                WatchEventType::Error,
                json!({"kind": "Status", "code": 410, "reason": "Expired"}),
            )]),
        ]);
        let mut w = watcher::<ConfigMap>(c.clone(), Some("default"), Config::default());
        assert_eq!(
            take(&mut w, 16),
            [
                "init",
                "error gone=false",
                "init",
                "init-apply a",
                "init-apply b",
                "init-done 5",
                "apply c",
                "delete a",
                "bookmark 9",
                "error gone=false",
                "error gone=true",
                "init",
                "init-apply b",
                "init-done 20",
                "error gone=true",
                "init",
            ]
        );
        assert_eq!(
            *c.calls.lock().unwrap(),
            [
                "list limit=Some(500) continue=None",
                "list limit=Some(500) continue=None",
                "list limit=Some(500) continue=Some(\"t1\")",
                "watch rv=Some(\"5\") bookmarks=true",
                "watch rv=Some(\"9\") bookmarks=true",
                "watch rv=Some(\"9\") bookmarks=true",
                "list limit=Some(500) continue=None",
                "watch rv=Some(\"20\") bookmarks=true",
            ]
        );
    }
}
