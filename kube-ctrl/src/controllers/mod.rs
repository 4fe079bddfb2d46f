//! The built-in controllers.

pub mod deployment;
pub mod endpoints;
pub mod gc;
pub mod namespace;
pub mod nodelifecycle;
pub mod replicaset;
pub mod serviceaccount;

use std::sync::Arc;

use crate::manager::Factory;
use crate::runtime::Controller;

/// Every built-in controller: `(name, factory)`.
pub fn builtin() -> Vec<(&'static str, Factory)> {
    vec![
        (
            "namespace",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(namespace::NamespaceController::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "garbagecollector",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(gc::GarbageCollector::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "nodelifecycle",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(nodelifecycle::NodeLifecycleController::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "endpoints",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(endpoints::EndpointsController::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "serviceaccount",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(serviceaccount::ServiceAccountController::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "serviceaccount-token",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(serviceaccount::TokenController::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "deployment",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(deployment::DeploymentController::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "replicaset",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(replicaset::ReplicaSetController::new(ctx)) as Arc<dyn Controller>
            }) as Factory,
        ),
        (
            "replicationcontroller",
            Arc::new(|ctx: &crate::runtime::Context| {
                Arc::new(replicaset::ReplicationControllerController::new(ctx))
                    as Arc<dyn Controller>
            }) as Factory,
        ),
    ]
}
