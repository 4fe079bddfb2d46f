#!/usr/bin/env bash
# Runs every test of the workspace, installing what the tests need when it is missing.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# A run of this script builds everything once: incremental caches would only take disk
# (tens of GB over ~75 test binaries). Export CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo test --workspace --all-features --no-fail-fast
