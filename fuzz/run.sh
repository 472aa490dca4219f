#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS seconds each (default 60) and fails on any crash.
#   fuzz/run.sh 60            all targets
#   fuzz/run.sh 30 tlv_parse  one target
# Needs the nightly toolchain (installed here if missing) and cargo-fuzz (installed if missing).
# Each target starts from fuzz/seeds/<target>/ (valid frames) plus what earlier runs found in
# fuzz/corpus/<target>/. A crash leaves its input in fuzz/artifacts/<target>/: turn it into a
# regression test next to the parser, then fix the parser.
set -euo pipefail
secs=${1:-60}
only=${2:-}
cd "$(dirname "$0")"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

targets=$(cargo +nightly fuzz list)
[ -n "$only" ] && targets=$only
cargo +nightly fuzz build $only

mkdir -p logs
printf '%-22s %12s %10s %8s  %s\n' target executions exec/s seconds result > logs/summary.txt
failed=0
for t in $targets; do
  mkdir -p "corpus/$t"
  if [ -d "seeds/$t" ]; then cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
  set +e
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 \
    >"logs/$t.log" 2>&1
  rc=$?
  set -e
  execs=$(grep -E '^stat::number_of_executed_units' "logs/$t.log" | awk '{print $2}' | tail -1)
  rate=$(grep -oE 'exec/s: [0-9]+' "logs/$t.log" | tail -1 | awk '{print $2}')
  if [ $rc -eq 0 ]; then result=ok; else result="CRASH (see fuzz/logs/$t.log)"; failed=1; fi
  printf '%-22s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$secs" "$result" | tee -a logs/summary.txt
done
echo
cat logs/summary.txt
exit $failed
