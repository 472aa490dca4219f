#!/bin/sh
# Runs end-to-end tests against the agent as it was before issue 13's payment application
# (commit 0c237e0, `process::exit(70)` and all), to show that they fail without the fixes.
# docs/TESTING.md, "Checked against the old engine", lists what fails and why.
#
# The old tree gets the same test hooks as today's e2e binaries (0c237e0-fault-hooks.patch:
# ECRLINK_AGENT_FAULT, `load --bank-ledger`); they change nothing unless a test arms them.
# Bank simulators and tills stay today's (the tests' own binaries): only the agent, and the
# `ecrlink-sim` whose `load` runs agents in process, are the old ones
# (ECRLINK_AGENT_BIN, ECRLINK_LOAD_BIN; tests/src/procs.rs).
#
# Usage: tests/old-engine/check.sh [TEST …]   (default: payment_app payment_app_faults)
# OLD_SRC / OLD_TARGET: where the old tree and its build go (default under target/old-engine).
set -eu
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
src=${OLD_SRC:-$root/target/old-engine/src}
tgt=${OLD_TARGET:-$root/target/old-engine/target}
if [ ! -d "$src" ]; then
    git -C "$root" worktree add --detach "$src" 0c237e0
    git -C "$src" apply "$root/tests/old-engine/0c237e0-fault-hooks.patch"
fi
CARGO_TARGET_DIR=$tgt cargo build --manifest-path "$src/Cargo.toml" -p ecrlink-tests --bins
ECRLINK_AGENT_BIN=$tgt/debug/ecrlink-agent-e2e
ECRLINK_LOAD_BIN=$tgt/debug/ecrlink-sim-e2e
export ECRLINK_AGENT_BIN ECRLINK_LOAD_BIN
[ $# -gt 0 ] || set -- payment_app payment_app_faults
cd "$root"
status=0
for t in "$@"; do
    echo "== $t against the old agent ($ECRLINK_AGENT_BIN)"
    cargo test -p ecrlink-tests --test "$t" -- --test-threads 1 || status=1
done
echo "(failures are expected: each shows a defect of the old engine)"
exit $status
