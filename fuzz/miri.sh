#!/usr/bin/env bash
# The full miri suite of ecrlink-core: every unit test and the session properties on x86-64,
# then every unit test again as a 32-bit target runs them (core's SWAR scans work in machine
# words). CI (.ci/run) runs a sample of this; run it whole before a release (about 30-40 min on
# 2 cores). Installs nightly with miri, and Debian's gcc-multilib for the 32-bit target.
#
# usage: fuzz/miri.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly component add miri rust-src
if ! dpkg -s gcc-multilib >/dev/null 2>&1; then
  (apt-get install -y gcc-multilib || { apt-get update && apt-get install -y gcc-multilib; }) >/dev/null
fi
export MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-ignore-leaks" PROPTEST_CASES=4
echo "miri: x86-64, all of core's unit tests and the session properties" >&2
cargo +nightly miri test -p ecrlink-core --lib --test session_props
echo "miri: i686, all of core's unit tests" >&2
cargo +nightly miri test -p ecrlink-core --lib --target i686-unknown-linux-gnu
echo "miri: full suite passed" >&2
