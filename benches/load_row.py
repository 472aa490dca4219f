"""One markdown row of benches/agent-latency.sh from `ecrlink-sim load --json` on stdin.

usage: ecrlink-sim load ... --json | python3 load_row.py DIALECT
"""

import json
import sys

r = json.load(sys.stdin)
lat = r["latency"]
ok = "met" if lat["p99_us"] <= 1000 else "**MISSED**"
missing = "" if r["other"] == 0 else f" ({r['other']} without answer)"
cells = [
    sys.argv[1],
    str(r["tills"]),
    f"{r['transactions']}{missing}",
    f"{r['throughput_tps']:.0f}",
] + [f"{lat[k] / 1000:.3f}" for k in ("p50_us", "p90_us", "p99_us", "max_us")] + [ok]
print("| " + " | ".join(cells) + " |")
