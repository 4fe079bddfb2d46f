//! The Kubernetes scheduler (kube-scheduler) as a library.
//!
//! This crate will hold the scheduling framework (queue, cache, Filter/Score/Reserve/Permit/Bind
//! plugins as synchronous, object-safe traits), the default plugins and preemption. It talks to
//! the cluster only through kubox-core's `Client`. Tracked by issue 5; nothing is implemented yet.
