#!/usr/bin/env bash
# Instructions per byte for link framing + Concert decode on a Cortex-M4 (counted under qemu),
# next to the same cases on x86-64 (counted by callgrind), against issue 18's targets:
#   Cortex-M4, one byte per read (firmware/src/uart.rs at 9600 baud)  <= 30 per byte
#   Cortex-M4, whole frames per read                                  <= 20 per byte
#   x86-64,    one byte per read                                      <= 15 per byte
# A benchmark, not a test: a missed target prints MISSED and the exit status stays 0.
#
# How the Cortex-M4 count is made: benches/cortex-m-count/ is the probe's feed loop
# (core/benches/probe.rs `feed_line`) as a bare-metal thumbv7em-none-eabihf program, built with
# the firmware's profile (opt-level z, LTO, one codegen unit), over the very bytes the probe
# writes (`probe fixtures`: three Concert exchanges, ENQ frame EOT each, 154 bytes). Debian's
# qemu-system-arm runs it on the mps2-an386 board (a Cortex-M4) with one instruction per
# translation block (-singlestep) and logs every executed block (-d exec,nochain): one log line
# per instruction. The program calls `count_mark` between cases; benches/cortex_m_count.py
# counts the lines from one call to the next. Each case runs 20 units; the count is exact and
# does not depend on machine load (qemu models no caches or wait states: instructions, not
# cycles). The program exits through semihosting, non-zero unless every unit found its frames.
#
# Needs cargo, python3, valgrind (x86-64 rows), and qemu-system-arm: installed here with
# apt-get when missing and run as root (otherwise the Cortex-M4 rows say why they are empty).
#
# usage: benches/cortex-m-count.sh [--opt-level LEVEL] [--x86 INSTR_FILE]
#   --opt-level: count a build with another opt-level (default: z, the firmware's)
#   --x86: take the x86-64 counts from benches/compare.sh's instr.txt instead of running callgrind
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/compare"
opt=z
x86_file=""
while (($#)); do
    case "$1" in
        --opt-level)
            [[ "${2:-}" =~ ^(0|1|2|3|s|z)$ ]] || { echo "cortex-m-count: --opt-level takes 0, 1, 2, 3, s or z" >&2; exit 2; }
            opt=$2; shift ;;
        --x86)
            [[ -r "${2:-}" ]] || { echo "cortex-m-count: --x86 takes a readable instr.txt from benches/compare.sh" >&2; exit 2; }
            x86_file=$2; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "cortex-m-count: unknown argument: $1 (usage: $0 [--opt-level LEVEL] [--x86 INSTR_FILE])" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$out"
log() { echo "cortex-m-count: $*" >&2; }
for tool in cargo python3; do
    command -v "$tool" >/dev/null || { echo "cortex-m-count: $tool is needed" >&2; exit 1; }
done

# ---- the bytes: the probe's fixtures --------------------------------------------------------
log "building the ecrlink probe (release)"
probe=$(cd "$root" && cargo bench -p ecrlink-core --bench probe --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "probe" and m.get("executable"):
        print(m["executable"])')
[[ -x "$probe" ]] || { echo "cortex-m-count: probe did not build" >&2; exit 1; }
"$probe" fixtures "$out"

cases=(framing framing+concert_decode framing_1 framing_1+concert_decode concert_decode framing_byte framing_byte+concert_decode session_1+concert_decode session+concert_decode)
units=20

# ---- x86-64: callgrind, N units minus the N = 0 run (as benches/compare.sh) -------------------
declare -A x86
if [[ -n "$x86_file" ]]; then
    while read -r case msgs bytes n base runs; do
        x86[$case]=$(python3 -c "print(f'{($runs - $base) / $n / $bytes:.1f}')")
    done <"$x86_file"
elif command -v valgrind >/dev/null; then
    log "counting x86-64 instructions with callgrind"
    count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$probe" count "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
    while read -r case msgs bytes; do
        for c in "${cases[@]}"; do
            if [[ "$c" == "$case" ]]; then
                base=$(count "$case" 0)
                runs=$(count "$case" 2000)
                x86[$case]=$(python3 -c "print(f'{($runs - $base) / 2000 / $bytes:.1f}')")
            fi
        done
    done < <("$probe" cases | cut -d'#' -f1)
else
    log "valgrind not found: no x86-64 column"
fi

# ---- Cortex-M4: qemu ------------------------------------------------------------------------------
m4_note=""
if ! command -v qemu-system-arm >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing Debian's qemu-system-arm"
        apt-get install -y qemu-system-arm >"$out/qemu-install.log" 2>&1 ||
            { apt-get update >>"$out/qemu-install.log" 2>&1 && apt-get install -y qemu-system-arm >>"$out/qemu-install.log" 2>&1; } ||
            m4_note="qemu-system-arm did not install (see $out/qemu-install.log)"
    else
        m4_note="qemu-system-arm is missing (apt-get install qemu-system-arm, as root)"
    fi
fi
declare -A m4
if [[ -z "$m4_note" ]]; then
    rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
    rustup component add llvm-tools >/dev/null 2>&1 || rustup component add llvm-tools-preview >/dev/null 2>&1 || true
    host=$(rustc -vV | sed -n 's/^host: //p')
    nm="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-nm"
    log "building the Cortex-M4 program (opt-level $opt)"
    target_dir="$root/target/cortex-m-count/opt-$opt"
    (cd "$root/benches/cortex-m-count" &&
        ECRLINK_CONCERT_LINE="$out/concert_line.bin" CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt" \
            cargo build --release --quiet --target-dir "$target_dir")
    elf="$target_dir/thumbv7em-none-eabihf/release/ecrlink-cortex-m-count"
    mark=$("$nm" "$elf" | sed -n 's/^\([0-9a-f]*\) T count_mark$/\1/p')
    [[ -n "$mark" ]] || { echo "cortex-m-count: no count_mark in $elf" >&2; exit 1; }
    log "running it under qemu (mps2-an386, one instruction per block)"
    fifo="$out/qemu-exec.fifo"
    rm -f "$fifo"
    mkfifo "$fifo"
    python3 "$root/benches/cortex_m_count.py" "$fifo" "$mark" >"$out/m4-counts.txt" &
    counter=$!
    status=0
    timeout 600 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$elf" \
        -singlestep -d exec,nochain -D "$fifo" || status=$?
    wait "$counter"
    rm -f "$fifo"
    if ((status != 0)); then
        m4_note="the Cortex-M4 program failed (qemu exit status $status): no Cortex-M4 column"
    else
        bytes=$(stat -c %s "$out/concert_line.bin")
        frame_bytes=$((bytes - 6)) # concert_decode: the frames without ENQ and EOT
        while read -r i n; do
            case=${cases[$i]}
            b=$bytes
            [[ "$case" == concert_decode ]] && b=$frame_bytes
            m4[$case]=$(python3 -c "print(f'{$n / $units / $b:.1f}')")
        done <"$out/m4-counts.txt"
    fi
fi

# ---- report -------------------------------------------------------------------------------------
verdict() { python3 -c "import sys; v, t = sys.argv[1], float(sys.argv[2]); print('not measured' if not v else ('met' if float(v) <= t else '**MISSED**'))" "$1" "$2"; }
echo "### Instructions per byte: Cortex-M4 (qemu) and x86-64 (callgrind)"
echo
echo "| case | reads | x86-64 instructions/byte | Cortex-M4 instructions/byte (opt-level $opt) |"
echo "|---|---|---:|---:|"
for c in "${cases[@]}"; do
    case "$c" in
        framing*_1*) reads="1 byte per feed call" ;;
        framing_byte*) reads="1 byte per feed_byte call" ;;
        session_1*) reads="1 byte per LinkSession::handle_bytes call, then poll_transmit and poll_note" ;;
        session*) reads="ENQ, whole frame, EOT to LinkSession::handle_bytes, then poll_transmit and poll_note" ;;
        framing*) reads="ENQ, whole frame, EOT" ;;
        *) reads="whole frame" ;;
    esac
    echo "| $c | $reads | ${x86[$c]:-} | ${m4[$c]:-} |"
done
echo
echo "| target (framing + Concert decode) | measured | |"
echo "|---|---:|---|"
for api in byte 1; do
    c="framing_$api+concert_decode"
    how=$([[ $api == byte ]] && echo "feed_byte" || echo "feed of a 1-byte slice")
    echo "| Cortex-M4, 1-byte reads ≤ 30 ($how) | ${m4[$c]:-} | $(verdict "${m4[$c]:-}" 30) |"
done
echo "| Cortex-M4, 1-byte reads ≤ 30 (the firmware's path: LinkSession::handle_bytes and the driver's polls) | ${m4[session_1+concert_decode]:-} | $(verdict "${m4[session_1+concert_decode]:-}" 30) |"
echo "| Cortex-M4, whole frames ≤ 20 | ${m4[framing+concert_decode]:-} | $(verdict "${m4[framing+concert_decode]:-}" 20) |"
for api in byte 1; do
    c="framing_$api+concert_decode"
    how=$([[ $api == byte ]] && echo "feed_byte" || echo "feed of a 1-byte slice")
    echo "| x86-64, 1-byte reads ≤ 15 ($how) | ${x86[$c]:-} | $(verdict "${x86[$c]:-}" 15) |"
done
echo
[[ -n "$m4_note" ]] && { echo "Cortex-M4: $m4_note."; echo; }
echo "Bytes: the probe's Concert line, $(stat -c %s "$out/concert_line.bin") bytes per unit (three exchanges, ENQ frame EOT each; concert_decode: the 148 bytes of the three frames). Cortex-M4: thumbv7em-none-eabihf, the firmware's profile unless --opt-level says otherwise, Debian's qemu-system-arm ($(qemu-system-arm --version 2>/dev/null | head -1 | sed 's/QEMU emulator version //')) on mps2-an386, one instruction per translation block, every executed instruction logged and counted between calls of count_mark, $units units per case. x86-64: callgrind, N = 2000 units minus the N = 0 run."
