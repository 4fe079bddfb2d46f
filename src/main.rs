//! `kubox`: a Kubernetes cluster from one binary.
//!
//! ```text
//! kubox server     --listen ADDR --data-dir DIR      API server + scheduler + controllers
//! kubox agent      --server URL --token T --ca-file F kubelet + service proxy joining a server
//! kubox all-in-one --listen ADDR --data-dir DIR --nodes N
//! kubox backup     --data-dir DIR --out FILE         online backup of a server's store
//! kubox restore    --from FILE --data-dir NEWDIR     a new server's data directory from a backup
//! ```
//!
//! `kubox <command> --help` describes every flag. See `src/cli/` for the implementation.

mod cli;

/// See the `mimalloc` feature.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
