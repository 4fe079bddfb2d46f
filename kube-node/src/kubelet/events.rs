//! The kubelet's event recorder: core/v1 Events about pods and the node, with
//! source `kubelet`/<node>, aggregated as client-go's correlator does for repeats (the same
//! object, reason and message bump `count` and `lastTimestamp` of one Event).
//!
//! Recording never blocks the caller: each write runs on its own task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kubox_core::api::core_v1::{Event, EventSource, ObjectReference, Pod};
use kubox_core::client::{Api, Client, Patch, PatchParams, PostParams};
use kubox_core::meta::ObjectMeta;
use kubox_core::Time;
use serde_json::json;

use crate::clock::Clock;

/// Event type `Normal`.
pub const NORMAL: &str = "Normal";
/// Event type `Warning`.
pub const WARNING: &str = "Warning";

/// Records Events through the API.
#[derive(Clone)]
pub struct Recorder {
    client: Arc<dyn Client>,
    node_name: String,
    clock: Arc<dyn Clock>,
    seen: Arc<Mutex<HashMap<EventKey, SeenEvent>>>,
    seq: Arc<AtomicU64>,
}

/// Involved object uid, field path, reason, message.
type EventKey = (String, String, String, String);
/// Event name, namespace, count.
type SeenEvent = (String, String, i32);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("node", &self.node_name)
            .finish_non_exhaustive()
    }
}

/// A reference to a pod, or to one of its containers (`fieldPath`
/// `spec.containers{name}` / `spec.initContainers{name}`).
pub fn pod_ref(pod: &Pod, container: Option<(&str, bool)>) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        field_path: container.map(|(name, init)| {
            if init {
                format!("spec.initContainers{{{name}}}")
            } else {
                format!("spec.containers{{{name}}}")
            }
        }),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        resource_version: None,
        uid: pod.metadata.uid.clone(),
    }
}

/// A reference to a node (events about nodes carry the node name as uid, as Kubernetes').
pub fn node_ref(node_name: &str) -> ObjectReference {
    ObjectReference {
        api_version: None,
        field_path: None,
        kind: Some("Node".into()),
        name: Some(node_name.to_string()),
        namespace: None,
        resource_version: None,
        uid: Some(node_name.to_string()),
    }
}

impl Recorder {
    /// A recorder writing through `client`.
    pub fn new(client: Arc<dyn Client>, node_name: &str, clock: Arc<dyn Clock>) -> Self {
        Recorder {
            client,
            node_name: node_name.to_string(),
            clock,
            seen: Arc::new(Mutex::new(HashMap::new())),
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records an event about `object` (in the background).
    pub fn event(&self, object: ObjectReference, type_: &str, reason: &str, message: &str) {
        tracing::debug!(object = ?object.name, reason, message, "event");
        let now = self.clock.now();
        let namespace = object
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let obj_name = object.name.clone().unwrap_or_default();
        let key = (
            object.uid.clone().unwrap_or_default(),
            object.field_path.clone().unwrap_or_default(),
            reason.to_string(),
            message.to_string(),
        );
        // Unique even when the clock stands still (paused time): nanoseconds plus a sequence.
        let name = format!(
            "{obj_name}.{:x}",
            (now.as_nanosecond() as u128)
                .wrapping_add(u128::from(self.seq.fetch_add(1, Ordering::Relaxed)))
        );
        let repeat = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() > 4096 {
                seen.clear();
            }
            match seen.get_mut(&key) {
                Some((name, ns, count)) => {
                    *count += 1;
                    Some((name.clone(), ns.clone(), *count))
                }
                None => {
                    seen.insert(key, (name.clone(), namespace.clone(), 1));
                    None
                }
            }
        };
        let client = self.client.clone();
        let ts = Time::from_unix_seconds(now.as_second());
        match repeat {
            Some((name, ns, count)) => {
                tokio::spawn(async move {
                    let api: Api<Event> = Api::namespaced(client, &ns);
                    let patch = json!({"count": count, "lastTimestamp": ts});
                    if let Err(e) = api
                        .patch(&name, &PatchParams::default(), Patch::Merge(patch))
                        .await
                    {
                        tracing::debug!(error = %e, "updating event");
                    }
                });
            }
            None => {
                let event = Event {
                    metadata: ObjectMeta {
                        name: Some(name),
                        namespace: Some(namespace.clone()),
                        ..Default::default()
                    },
                    count: Some(1),
                    event_time: None,
                    first_timestamp: Some(ts),
                    last_timestamp: Some(ts),
                    involved_object: object,
                    message: Some(message.to_string()),
                    reason: Some(reason.to_string()),
                    reporting_component: Some("kubelet".into()),
                    reporting_instance: Some(self.node_name.clone()),
                    source: Some(EventSource {
                        component: Some("kubelet".into()),
                        host: Some(self.node_name.clone()),
                    }),
                    type_: Some(type_.to_string()),
                    ..Default::default()
                };
                tokio::spawn(async move {
                    let api: Api<Event> = Api::namespaced(client, &namespace);
                    if let Err(e) = api.create(&PostParams::default(), &event).await {
                        tracing::debug!(error = %e, "recording event");
                    }
                });
            }
        }
    }
}
