#!/usr/bin/env bash
# Flash and RAM of the firmware-shaped binary (firmware/, thumbv7em-none-eabihf, opt-level z,
# LTO, panic abort) against issue 18's budgets, one build per dialect set:
#
#   flash without the application (feature `app` off: the till link alone)
#     Concert only <= 10 KiB, ČSOB only <= 16 KiB, all dialects (Concert, ČSOB, ZVT) <= 24 KiB
#   with the payment application (core::terminal, its bank link, journal, printer)
#     flash, all dialects <= 48 KiB
#     total RAM = static RAM (.data + .bss + .uninit) + worst-case stack:
#     Concert only <= 2 KiB, ČSOB only <= 5 KiB, all dialects <= 6 KiB; no heap
#   reported beside them, never a miss: the link alone's total RAM against the same figures
#
# Prints one row per build (flash, static RAM, worst-case stack, total RAM), then one line per
# budget, "met" or "MISSED by N bytes" with the figure, and exits 1 when any budget is missed
# (2 on a usage error). The worst-case stack comes from the compiler's per-function frame
# sizes (nightly `-Z emit-stack-sizes`) along the call graph (benches/stack_depth.py); every
# build is made by nightly rustc with that flag, and flash and static RAM are read from the
# same ELF (the .stack_sizes section is not loaded). Without a nightly toolchain the RAM
# budgets cannot be checked and count as missed.
#
# usage: benches/firmware-size.sh [--all] [--no-stack] [--detail]
#   --all       also measure the dialect sets no budget names (ZVT only, two of three), with
#               and without the application (report only)
#   --no-stack  stable rustc, flash and static RAM only; the RAM budgets are not checked
#   --detail    print the sections and the deepest call chain of each build
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stack=1
all=0
detail=0
while (($#)); do
    case "$1" in
        --all) all=1 ;;
        --no-stack) stack=0 ;;
        --detail) detail=1 ;;
        -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (usage: $0 [--all] [--no-stack] [--detail]; --help says more)" >&2; exit 2 ;;
    esac
    shift
done

host=$(rustc -vV | sed -n 's/^host: //p')
toolchain=()
if ((stack)); then
    if ! rustup toolchain list | grep -q '^nightly' || ! rustup +nightly target add thumbv7em-none-eabihf >/dev/null 2>&1; then
        echo "no nightly toolchain with thumbv7em-none-eabihf: the stack cannot be measured (rustup toolchain install nightly)" >&2
        stack=0
        no_nightly=1
    else
        toolchain=(+nightly)
    fi
fi
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
rustup component add llvm-tools >/dev/null 2>&1 || rustup component add llvm-tools-preview >/dev/null 2>&1 || true
bin="$(rustc --print sysroot)/lib/rustlib/$host/bin"
[[ -x "$bin/llvm-size" ]] || { echo "llvm-size not found in $bin (rustup component add llvm-tools)" >&2; exit 1; }

cd "$root/firmware"
out="target/budget"
mkdir -p "$out/elf"

# build NAME FEATURES: builds one configuration, leaves its ELF at $out/elf/NAME.
build() {
    local name=$1 features=$2
    if ((stack)); then
        RUSTFLAGS="-C link-arg=-Tlink.x -Z emit-stack-sizes" cargo "${toolchain[@]}" build --release --quiet \
            --target-dir "$out/target" --no-default-features --features "$features"
    else
        cargo build --release --quiet --target-dir "$out/target" --no-default-features --features "$features"
    fi
    cp "$out/target/thumbv7em-none-eabihf/release/ecrlink-firmware" "$out/elf/$name"
}

section() { "$bin/llvm-size" -A "$1" | awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }'; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

declare -A FLASH RAM STACK
# measure NAME: fills FLASH, RAM, STACK (empty when not measured) for the ELF of NAME.
measure() {
    local name=$1 elf="$out/elf/$1"
    local vt text ro data bss uninit
    vt=$(section "$elf" .vector_table); text=$(section "$elf" .text); ro=$(section "$elf" .rodata)
    data=$(section "$elf" .data); bss=$(section "$elf" .bss); uninit=$(section "$elf" .uninit)
    FLASH[$name]=$((vt + text + ro + data))
    RAM[$name]=$((data + bss + uninit))
    STACK[$name]=""
    if ((detail)); then
        echo "--- $name: sections"
        for s in .vector_table .text .rodata .data .bss .uninit; do printf '  %-14s %8d\n' "$s" "$(section "$elf" "$s")"; done
    fi
    if ((stack)); then
        local report
        report=$(python3 "$root/benches/stack_depth.py" "$elf" "$bin")
        STACK[$name]=$(echo "$report" | sed -n 's/.* = \([0-9]*\) bytes worst case$/\1/p')
        if ((detail)); then echo "--- $name: stack"; echo "$report"; fi
    fi
}

# The builds the budgets name, then (--all) the others. NAME FEATURES
configs=(
    "link:concert concert"
    "link:csob csob"
    "link:all concert,csob,zvt"
    "app:concert app,concert"
    "app:csob app,csob"
    "app:all app,concert,csob,zvt"
)
if ((all)); then
    configs+=(
        "link:zvt zvt" "link:concert+csob concert,csob" "link:concert+zvt concert,zvt" "link:csob+zvt csob,zvt"
        "app:zvt app,zvt" "app:concert+csob app,concert,csob" "app:concert+zvt app,concert,zvt" "app:csob+zvt app,csob,zvt"
    )
fi

started=$SECONDS
for c in "${configs[@]}"; do
    name=${c%% *}
    build "$name" "${c#* }"
    measure "$name"
done

rustc_used=$(rustc "${toolchain[@]}" --version)
echo "firmware: thumbv7em-none-eabihf, opt-level z, LTO, panic abort; $rustc_used; $((SECONDS - started)) s"
echo "link: the till link alone (feature app off); app: with the payment application. Bytes."
echo
printf '| %-18s | %8s | %8s | %8s | %9s |\n' build flash static stack "total RAM"
printf '|%s|%s|%s|%s|%s|\n' "--------------------" "---------:" "---------:" "---------:" "----------:"
for c in "${configs[@]}"; do
    name=${c%% *}
    s=${STACK[$name]}
    printf '| %-18s | %8d | %8d | %8s | %9s |\n' "$name" "${FLASH[$name]}" "${RAM[$name]}" "${s:--}" \
        "$([[ -n "$s" ]] && echo $((RAM[$name] + s)) || echo -)"
done
echo

missed=0
# budget WHAT VALUE LIMIT
budget() {
    local what=$1 value=$2 limit=$3
    if [[ -z "$value" ]]; then
        if [[ -n "${no_nightly:-}" ]]; then
            printf '%-52s not measured (no nightly toolchain): MISSED\n' "$what"
            missed=1
        else
            printf '%-52s not checked (--no-stack)\n' "$what"
        fi
    elif ((value <= limit)); then
        printf '%-52s %6d bytes = %5s KiB of %2d KiB: met\n' "$what" "$value" "$(kib "$value")" $((limit / 1024))
    else
        printf '%-52s %6d bytes = %5s KiB of %2d KiB: MISSED by %d bytes\n' "$what" "$value" "$(kib "$value")" $((limit / 1024)) $((value - limit))
        missed=1
    fi
}
total() { [[ -n "${STACK[$1]}" ]] && echo $((RAM[$1] + STACK[$1])) || echo ""; }
# report WHAT VALUE LIMIT: like budget, for a figure no budget names (printed, never a miss).
report() {
    local what=$1 value=$2 limit=$3
    [[ -z "$value" ]] && return
    local verdict="within"
    ((value > limit)) && verdict="over by $((value - limit)) bytes"
    printf '%-52s %6d bytes = %5s KiB, %2d KiB: %s\n' "$what" "$value" "$(kib "$value")" $((limit / 1024)) "$verdict"
}

budget "flash, link alone, Concert only" "${FLASH[link:concert]}" $((10 * 1024))
budget "flash, link alone, ČSOB only" "${FLASH[link:csob]}" $((16 * 1024))
budget "flash, link alone, all dialects" "${FLASH[link:all]}" $((24 * 1024))
budget "flash, with the application, all dialects" "${FLASH[app:all]}" $((48 * 1024))
budget "total RAM, with the application, Concert only" "$(total app:concert)" $((2 * 1024))
budget "total RAM, with the application, ČSOB only" "$(total app:csob)" $((5 * 1024))
budget "total RAM, with the application, all dialects" "$(total app:all)" $((6 * 1024))
echo "reported, no budget (the RAM budgets count the application; these are the link alone):"
report "  total RAM, link alone, Concert only" "$(total link:concert)" $((2 * 1024))
report "  total RAM, link alone, ČSOB only" "$(total link:csob)" $((5 * 1024))
report "  total RAM, link alone, all dialects" "$(total link:all)" $((6 * 1024))
echo "(heap: none, no allocator is linked; the worst-case stack lets every call through a register reach any address-taken function: --detail lists them)"

if ((missed)); then
    echo "firmware budgets: MISSED (see above)"
    exit 1
fi
echo "firmware budgets: all met"
