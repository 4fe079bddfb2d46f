//! The Kubernetes controller manager (kube-controller-manager) as a library.
//!
//! This crate will hold the controller runtime (informers, workqueue with rate limiting, leader
//! election) and the node lifecycle, replication, deployment, endpoints, service-account/token,
//! namespace and garbage-collector controllers. It talks to the cluster only through
//! kubox-core's `Client`. Tracked by issue 6; nothing is implemented yet.
