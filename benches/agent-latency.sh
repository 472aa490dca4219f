#!/usr/bin/env bash
# Agent latency and throughput with `ecrlink-sim load`: a bank simulator (no delay) and N agents
# (virtual terminals, the card presented at once, journal in memory) in one process on
# loopback, N concurrent tills, each till on its own agent. Prints a markdown table.
#
# The latency is a whole transaction as the till sees it (connect, request, acknowledgements,
# card, ISO 8583 round trip to the bank, answer, confirmation), so it bounds from above what
# the agent adds. Till, agents and bank share this machine's cores: once the cores are busy,
# latency is queueing (Little's law: in flight / throughput), not protocol work.
#
# usage: benches/agent-latency.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "agent-latency: building ecrlink-sim (release)" >&2
sim=$(cargo build --release -p ecrlink-host-sim --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "ecrlink-sim" and m.get("executable"):
        print(m["executable"])')
[[ -x "$sim" ]] || { echo "agent-latency: ecrlink-sim did not build" >&2; exit 1; }

echo "| dialect | tills = agents | transactions | throughput (tx/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | p99 ≤ 1 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
for dialect in concert csob; do
    for spec in "1 2000" "10 5000" "100 10000"; do
        set -- $spec
        "$sim" load --tills "$1" --agents "$1" --transactions "$2" --dialect "$dialect" --json |
            python3 "$root/benches/load_row.py" "$dialect"
    done
done
echo
echo "nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
