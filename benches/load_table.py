"""The markdown tables of benches/agent-latency.sh from the `ecrlink-sim load --json` reports
it left in DIR (DIALECT-TILLS-closed.json and DIALECT-TILLS-paced-RATE.json).

usage: python3 load_table.py DIR
"""

import json
import pathlib
import sys

TARGET_US = 1000
d = pathlib.Path(sys.argv[1])


def ms(us):
    return f"{us / 1000:.3f}"


def verdict(us):
    return "met" if us <= TARGET_US else "**MISSED**"


def runs(kind):
    for dialect in ("concert", "csob"):
        for tills in (1, 10, 100):
            ps = sorted(d.glob(f"{dialect}-{tills}-{kind}*.json"))
            if not ps:
                yield dialect, tills, None
            for p in ps:
                yield dialect, tills, json.loads(p.read_text())


def saturation(dialect, tills):
    p = d / f"{dialect}-{tills}-closed.json"
    return json.loads(p.read_text())["throughput_tps"] if p.exists() else 0.0


def missing(r):
    return "" if r["other"] == 0 else f" ({r['other']} without answer)"


print("Saturation (closed loop; latency here is queueing, see the paced table)")
print()
print("| dialect | tills = agents | sales | throughput (sales/s) | p50 (ms) | p99 (ms) |")
print("|---|---:|---:|---:|---:|---:|")
for dialect, tills, r in runs("closed"):
    if r is None:
        print(f"| {dialect} | {tills} | run failed | | | |")
        continue
    lat = r["latency"]
    print(
        f"| {dialect} | {tills} | {r['transactions']}{missing(r)} | {r['throughput_tps']:.0f} "
        f"| {ms(lat['p50_us'])} | {ms(lat['p99_us'])} |"
    )

print()
print("Paced (open loop, latency from the time each sale was due); utilisation = rate / saturation")
print()
print(
    "| dialect | tills = agents | rate (sales/s) | utilisation | end to end p50 (ms) "
    "| end to end p99 (ms) | start lag p99 (ms) | agent service p99 (ms) | agent adds p50 (ms) "
    "| agent adds p99 (ms) | agent adds p99 ≤ 1 ms | end to end p99 ≤ 1 ms |"
)
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
rows = [(dialect, tills, r) for dialect, tills, r in runs("paced")]
rows.sort(key=lambda x: (x[0], x[1], x[2]["rate_tps"] if x[2] else 0))
for dialect, tills, r in rows:
    if r is None:
        print(f"| {dialect} | {tills} | run failed | | | | | | | | **MISSED** | **MISSED** |")
        continue
    lat, add = r["latency"], r["agent_added"]
    added = "**MISSED** (no samples)" if r["agent_samples"] == 0 else verdict(add["p99_us"])
    sat = saturation(dialect, tills)
    util = f"{100 * r['rate_tps'] / sat:.0f} %" if sat > 0 else "?"
    print(
        f"| {dialect} | {tills} | {r['rate_tps']:.0f}{missing(r)} | {util} | {ms(lat['p50_us'])} "
        f"| {ms(lat['p99_us'])} | {ms(r['start_lag']['p99_us'])} "
        f"| {ms(r['agent_service']['p99_us'])} | {ms(add['p50_us'])} | {ms(add['p99_us'])} "
        f"| {added} | {verdict(lat['p99_us'])} |"
    )
