//! The default plugins, one per scheduling factor, and the default profile wiring them with
//! Kubernetes' weights (TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
//! InterPodAffinity 2, NodeResourcesFit 1, BalancedAllocation 1, ImageLocality 1).

use std::sync::Arc;

use kubox_core::api::core_v1::Pod;
use kubox_core::client::{GroupVersionResource, PostParams, Request, Verb};
use serde_json::json;

use crate::framework::*;
use crate::nodeinfo::PodInfo;
use crate::profile::Profile;

pub mod interpod;
pub mod node;
pub mod resources;
pub mod spread;

pub use interpod::InterPodAffinity;
pub use node::{
    NodeAffinity, NodeName, NodePorts, NodeUnschedulable, TaintToleration, VolumeLocality,
};
pub use resources::{BalancedAllocation, ImageLocality, NodeResourcesFit, ScoringStrategy};
pub use spread::PodTopologySpread;

/// `DefaultBinder`: POSTs a `Binding` to `pods/{name}/binding`.
#[derive(Clone, Debug, Default)]
pub struct DefaultBinder;

impl Plugin for DefaultBinder {
    fn name(&self) -> &str {
        "DefaultBinder"
    }
}

/// The `pods/binding` request binding `pod` to `node`.
pub fn binding_request(pod: &PodInfo, node: &str) -> Request {
    Request {
        resource: GroupVersionResource::of::<Pod>(),
        namespace: Some(pod.namespace.clone()),
        name: Some(pod.name.clone()),
        subresource: Some("binding".into()),
        verb: Verb::Create(PostParams::default()),
        body: Some(json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        })),
    }
}

impl BindPlugin for DefaultBinder {
    fn bind(&self, _: &CycleState, pod: &PodInfo, node: &str) -> Result<Option<Request>, Status> {
        Ok(Some(binding_request(pod, node)))
    }
}

/// The default profile for `scheduler_name`: every default plugin at its default weight,
/// DefaultPreemption as PostFilter and DefaultBinder.
pub fn default_profile(scheduler_name: &str) -> Profile {
    let fit = Arc::new(NodeResourcesFit::default());
    let aff = Arc::new(NodeAffinity);
    let taint = Arc::new(TaintToleration);
    let ports = Arc::new(NodePorts);
    let vol = Arc::new(VolumeLocality);
    let spread = Arc::new(PodTopologySpread::default());
    let ipa = Arc::new(InterPodAffinity::default());
    let bal = Arc::new(BalancedAllocation::default());
    let img = Arc::new(ImageLocality);
    Profile::new(scheduler_name)
        .with_pre_filter(aff.clone())
        .with_pre_filter(ports.clone())
        .with_pre_filter(fit.clone())
        .with_pre_filter(vol.clone())
        .with_pre_filter(spread.clone())
        .with_pre_filter(ipa.clone())
        .with_filter(Arc::new(NodeUnschedulable))
        .with_filter(Arc::new(NodeName))
        .with_filter(taint.clone())
        .with_filter(aff.clone())
        .with_filter(ports)
        .with_filter(fit.clone())
        .with_filter(vol)
        .with_filter(spread.clone())
        .with_filter(ipa.clone())
        .with_post_filter(Arc::new(crate::preemption::DefaultPreemption::default()))
        .with_pre_score(taint.clone())
        .with_pre_score(aff.clone())
        .with_pre_score(spread.clone())
        .with_pre_score(ipa.clone())
        .with_pre_score(bal.clone())
        .with_pre_score(img.clone())
        .with_score(taint, 3)
        .with_score(aff, 2)
        .with_score(fit, 1)
        .with_score(spread, 2)
        .with_score(ipa, 2)
        .with_score(bal, 1)
        .with_score(img, 1)
        .with_bind(Arc::new(DefaultBinder))
}

#[cfg(test)]
mod tests;
