//! `kubox-shim <spec.json>`: the per-container supervisor of the process runtime (see
//! `kube_node::runtime::process`). It starts the container process described by the spec in
//! its own process group, prints `ok <pid> <start_ticks>` (or `err <message>`) as its only
//! line of output, writes the container's CRI log, and records its exit in the state
//! directory.

fn main() {
    std::process::exit(kube_node::runtime::process::supervise::shim_main(
        std::env::args(),
    ));
}
