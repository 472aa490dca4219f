#!/usr/bin/env bash
# One run, one machine: ecrlink's codecs next to peer libraries on the same message bytes,
# instruction counts per message, and the firmware's flash and RAM. Prints markdown tables
# (docs/PERFORMANCE.md holds a copy of the output).
#
# Peers, installed here and never vendored: the `iso8583_rs` crate (a throwaway cargo project
# under target/compare/ that depends on it), the Python packages `pyiso8583` and
# `pyTeliumManager` (throwaway venvs under target/compare/: one on the `python3` first on PATH,
# one on Debian's /usr/bin/python3 when there is one). Needs cargo, python3 (with venv),
# valgrind, and network access for crates.io and PyPI on the first run; the Cortex-M4 counts
# (benches/cortex-m-count.sh) install Debian's qemu-system-arm when run as root.
#
# Wall-clock numbers vary with machine load, so every implementation is timed in the same run,
# three rounds interleaved; the table reports the ratio of the best times and, beside it, the
# range of the ratios within each round. Instruction counts (callgrind, qemu) do not vary with
# load.
#
# usage: benches/compare.sh [--quick] [--no-firmware]
#   --quick: one timing round, no stack analysis
#   --no-firmware: leave out benches/firmware-size.sh (its tables are kept in PERFORMANCE.md)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/compare"
rounds=3
quick=0
firmware=1
for arg in "$@"; do
    case "$arg" in
        --quick) rounds=1; quick=1 ;;
        --no-firmware) firmware=0 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "compare: unknown argument: $arg (usage: $0 [--quick] [--no-firmware])" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
t0=$(date +%s)
log() { echo "compare: [$(($(date +%s) - t0))s] $*" >&2; }
for tool in cargo python3 valgrind; do
    command -v "$tool" >/dev/null || { echo "compare: $tool is needed" >&2; exit 1; }
done

# ---- ecrlink: the probe (core/benches/probe.rs), release profile -------------------------
log "building the ecrlink probe (release)"
probe=$(cd "$root" && cargo bench -p ecrlink-core --bench probe --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "probe" and m.get("executable"):
        print(m["executable"])')
[[ -x "$probe" ]] || { echo "compare: probe did not build" >&2; exit 1; }
"$probe" fixtures "$out"

# ---- peer: iso8583_rs (Rust), throwaway project ------------------------------------------
rs_peer=""
log "building the iso8583_rs peer"
mkdir -p "$out/iso8583_rs_peer/src"
cat >"$out/iso8583_rs_peer/Cargo.toml" <<'EOF'
[package]
name = "iso8583_rs_peer"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
iso8583_rs = "=0.1.10"

[workspace]
EOF
cp "$root/benches/peers/iso8583_rs_peer.rs" "$out/iso8583_rs_peer/src/main.rs"
if (cd "$out/iso8583_rs_peer" && cargo build --release --quiet --target-dir target 2>"$out/iso8583_rs_peer.build.log"); then
    rs_peer="$out/iso8583_rs_peer/target/release/iso8583_rs_peer"
else
    log "iso8583_rs peer did not build (see $out/iso8583_rs_peer.build.log); its rows stay empty"
fi
run_rs_peer() { SPEC_FILE="$root/benches/peers/iso8583_rs_spec.yaml" "$rs_peer" "$out/iso_0200_binary_bitmap.hex"; }

# ---- peers: pyiso8583 and pyTeliumManager (Python), throwaway venv -----------------------
log "installing the Python peers in a venv"
[[ -x "$out/venv/bin/python" ]] || python3 -m venv "$out/venv"
"$out/venv/bin/pip" install --quiet --disable-pip-version-check pyiso8583==4.0.1 pyTeliumManager==2.4.2
run_py_peers() { "$out/venv/bin/python" "$root/benches/peers/py_peers.py" "$out"; }
# The same peers on Debian's own python3 (built with PGO and LTO; the python3 first on PATH may
# be a local build without them). Skipped, and said so, where there is none.
debian_py=""
path_py=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
if [[ -x /usr/bin/python3 && "$(readlink -f /usr/bin/python3)" != "$path_py" ]]; then
    log "installing the Python peers in a venv on Debian's python3"
    if [[ -x "$out/venv-debian/bin/python" ]] || /usr/bin/python3 -m venv "$out/venv-debian" 2>"$out/venv-debian.log" ||
        { [[ $(id -u) == 0 ]] && apt-get install -y python3-venv >>"$out/venv-debian.log" 2>&1 && /usr/bin/python3 -m venv "$out/venv-debian"; }; then
        "$out/venv-debian/bin/pip" install --quiet --disable-pip-version-check pyiso8583==4.0.1 pyTeliumManager==2.4.2 &&
            debian_py="$out/venv-debian/bin/python"
    fi
    [[ -n "$debian_py" ]] || log "no venv on Debian's python3 (see $out/venv-debian.log): its rows stay empty"
fi
run_py_debian() { "$debian_py" "$root/benches/peers/py_peers.py" "$out"; }

# ---- every peer must read what ecrlink reads ----------------------------------------------
log "checking that the peers read the same values"
sort "$out/iso_0200_fields.txt" >"$out/fields.ours"
run_py_peers >"$out/py.check"
grep '^FIELD ' "$out/py.check" | cut -d' ' -f2- | sort >"$out/fields.py"
diff "$out/fields.ours" "$out/fields.py" >/dev/null ||
    { echo "compare: pyiso8583 reads other values than ecrlink:" >&2; diff "$out/fields.ours" "$out/fields.py" >&2; exit 1; }
if [[ -n "$rs_peer" ]]; then
    run_rs_peer | grep '^FIELD ' | cut -d' ' -f2- | sort >"$out/fields.rs"
    diff "$out/fields.ours" "$out/fields.rs" >/dev/null ||
        { echo "compare: iso8583_rs reads other values than ecrlink:" >&2; diff "$out/fields.ours" "$out/fields.rs" >&2; exit 1; }
fi
# Concert: position, status, amount and currency as pyTeliumManager reads them (its card
# number is the full PAN; ecrlink's is masked, so that column is not compared).
grep '^CONCERT ' "$out/py.check" | sed 's/ card=.*//' >"$out/concert.py"
sed 's/ card=.*//' "$out/concert_decoded.txt" >"$out/concert.ours"
diff "$out/concert.ours" "$out/concert.py" >/dev/null ||
    { echo "compare: pyTeliumManager reads other values than ecrlink:" >&2; diff "$out/concert.ours" "$out/concert.py" >&2; exit 1; }
if [[ -n "$debian_py" ]]; then
    run_py_debian >"$out/py-debian.check"
    diff <(grep -v '^TIME ' "$out/py.check") <(grep -v '^TIME ' "$out/py-debian.check") >/dev/null ||
        { echo "compare: the peers read other values on Debian's python3" >&2; exit 1; }
fi

# ---- wall clock: all implementations, interleaved rounds -----------------------------------
: >"$out/times.txt"
for round in $(seq 1 "$rounds"); do
    log "timing round $round of $rounds"
    "$probe" time | sed "s/^/$round ecrlink /" >>"$out/times.txt"
    [[ -n "$rs_peer" ]] && run_rs_peer | grep '^TIME ' | sed "s/^TIME /$round iso8583_rs /" >>"$out/times.txt"
    run_py_peers | grep '^TIME ' | sed "s/^TIME /$round python /" >>"$out/times.txt"
    [[ -n "$debian_py" ]] && run_py_debian | grep '^TIME ' | sed "s/^TIME /$round python-debian /" >>"$out/times.txt"
done

# ---- instructions per message (callgrind): N messages minus the N = 0 baseline -------------
log "counting instructions with callgrind"
: >"$out/instr.txt"
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$probe" count "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
"$probe" cases | cut -d'#' -f1 | while read -r case msgs bytes; do
    base=$(count "$case" 0)
    runs=$(count "$case" 2000)
    echo "$case $msgs $bytes 2000 $base $runs" >>"$out/instr.txt"
done

# ---- report ---------------------------------------------------------------------------------
log "report"
python3 "$root/benches/compare_report.py" "$out" "$($out/venv/bin/python --version 2>&1 | cut -d' ' -f2)" \
    "$([[ -n "$debian_py" ]] && "$debian_py" --version 2>&1 | cut -d' ' -f2)"

# ---- zvt (issue 16): begin --------------------------------------------------------------------
# ZVT decode next to Concert's: core/benches/zvt_probe.rs, same method (N = 2000 units minus
# the N = 0 run under callgrind; wall clock best of 7, as noisy as the machine). Kept in its own
# block (and its own probe) so the Concert/Cortex-M parts of this script can change apart.
log "zvt: building zvt_probe, counting instructions"
zprobe=$(cd "$root" && cargo bench -p ecrlink-core --bench zvt_probe --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "zvt_probe" and m.get("executable"):
        print(m["executable"])')
if [[ -x "$zprobe" ]]; then
    "$zprobe" time >"$out/zvt_times.txt"
    : >"$out/zvt_instr.txt"
    "$zprobe" cases | cut -d'#' -f1 | while read -r case msgs bytes; do
        zb=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$zprobe" count "$case" 0 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        zr=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$zprobe" count "$case" 2000 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        echo "$case $msgs $bytes 2000 $zb $zr" >>"$out/zvt_instr.txt"
    done
    echo
    echo "### ZVT decode: time and instructions per message"
    echo
    echo "| case | bytes/msg | ns/msg | instructions/msg | instructions/byte |"
    echo "|---|---:|---:|---:|---:|"
    while read -r case msgs bytes n zb zr; do
        ns=$(awk -v c="$case" '$1 == c { print $2 }' "$out/zvt_times.txt")
        awk -v c="$case" -v m="$msgs" -v b="$bytes" -v n="$n" -v zb="$zb" -v zr="$zr" -v ns="${ns:-nan}" \
            'BEGIN { per = (zr - zb) / (n * m); printf "| %s | %.1f | %s | %.0f | %.1f |\n", c, b / m, ns, per, per / (b / m) }'
    done <"$out/zvt_instr.txt"
    echo
    echo "Frames: a till's 06 01 authorisation (15 bytes), a captured 04 0F status information"
    echo "(93 bytes) and a captured 06 D3 text block (1126 bytes, a whole receipt); the framing cases"
    echo "take the three in one read each, over TCP (bare APDUs) and over serial (DLE STX … DLE ETX"
    echo "CRC, the CRC checked). The ZVT row to set beside Concert's framing+concert_decode is"
    echo "zvt_framing+decode."
else
    log "zvt: zvt_probe did not build; no ZVT rows"
fi
# ---- zvt (issue 16): end ----------------------------------------------------------------------
echo
log "Cortex-M4 instruction counts (benches/cortex-m-count.sh)"
"$root/benches/cortex-m-count.sh" --x86 "$out/instr.txt" | sed 's/^### /#### /'
if ((firmware)); then
    echo
    echo "### Firmware (benches/firmware-size.sh)"
    echo
    echo '```text'
    # A missed budget is printed as MISSED; the comparison goes on (CI fails on it instead).
    if ((quick)); then "$root/benches/firmware-size.sh" --no-stack || true; else "$root/benches/firmware-size.sh" || true; fi
    echo
    echo "sizes on the host (x86_64), for comparison:"
    "$probe" sizes | sed 's/^/  /'
    echo '```'
fi
echo
echo "### Machine"
echo
echo '```text'
echo "nproc: $(nproc); CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(rustc --version); $(cargo --version); $(python3 --version); $(valgrind --version)"
echo "peers: iso8583_rs 0.1.10, pyiso8583 4.0.1, pyTeliumManager 2.4.2 ($("$out/venv/bin/python" --version) from $path_py$([[ -n "$debian_py" ]] && echo "; Debian's $("$debian_py" --version) from /usr/bin/python3"))"
echo "script time: $(($(date +%s) - t0)) s"
echo '```'
