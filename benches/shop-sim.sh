#!/usr/bin/env bash
# The whole-shop simulation (core/tests/shop_sim.rs) over many seeds in release mode, with the
# number of seeds per second and what the seeds exercised. Each seed is one shop day: two tills
# speaking Concert (serial) or ČSOB (TCP) through core's sessions over a faulty byte link
# (core/tests/shop_sim/link.rs; 1 seed in 8 uses the older request-level till channel), the
# payment application with card reader, journal and printer, a faulty bank link and a bank
# model with a ledger, crashes included; then the invariants of issue 13 are checked against
# what each till's session reported.
#
# usage: benches/shop-sim.sh [SEEDS]      (default 1 000 000; uses every core)
#   SHOP_SIM_FIRST=S starts at seed S (default 0), to run another million.
# A failing seed is printed with its trace and the one command that replays it.
set -euo pipefail

seeds="${1:-1000000}"
case "$seeds" in
  ''|*[!0-9]*) echo "usage: benches/shop-sim.sh [SEEDS]  (SEEDS: a whole number, got '$seeds')" >&2; exit 2 ;;
esac
first="${SHOP_SIM_FIRST:-0}"
case "$first" in
  ''|*[!0-9]*) echo "SHOP_SIM_FIRST must be a whole number, got '$first'" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
echo "building the simulation (release)…" >&2
cargo test --release -p ecrlink-core --test shop_sim --no-run >&2
echo "running $seeds seeds from $first on $(nproc) cores…" >&2
SHOP_SIM_SEEDS="$seeds" SHOP_SIM_FIRST="$first" \
  cargo test --release -p ecrlink-core --test shop_sim shop_simulation_holds_its_invariants \
  -- --exact --nocapture
