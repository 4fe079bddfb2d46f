//! The service proxy (kube-proxy) as a library.
//!
//! This crate will hold the `NetworkRules` trait, its nftables (and iptables) implementations and
//! a userspace forwarder for machines without a usable packet filter. It talks to the cluster
//! only through kubox-core's `Client`. Tracked by issue 7; nothing is implemented yet.
