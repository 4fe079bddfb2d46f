//! The node agent (kubelet) as a library.
//!
//! This crate will hold the `Runtime` trait (CRI-shaped), the pod sync loop, probes, node status
//! and lease, static pods, and the runtimes: an embedded process runtime, containerd over CRI v1
//! (feature `cri`) and a simulated runtime for thousands of nodes in one process. It talks to the
//! cluster only through kubox-core's `Client`. Tracked by issue 4; nothing is implemented yet.
