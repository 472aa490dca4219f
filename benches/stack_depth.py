"""Worst-case stack depth of the firmware, from the compiler's own numbers.

The binary is built by nightly rustc with `-Z emit-stack-sizes`: LLVM records each function's
frame size in a `.stack_sizes` section (read with `llvm-readobj --stack-sizes`). The call graph
comes from the disassembly (`bl` calls and `b.w` tail calls between functions). The deepest
path from `Reset` is the stack the program needs, plus the deepest exception handler on top
of it (hardware exception frame included).

Calls through a register (`blx rN`: trait objects, function pointers; core::fmt's `write` is
one) are bounded, not guessed: such a call can only reach a function whose address is stored in
the binary's data (a vtable, a function pointer), so the worst case lets each one reach any of
those. The chain with direct calls only is printed too; the functions with indirect calls are
listed. Recursion (a cycle in the graph) is cut and shown in the chain.

usage: python3 stack_depth.py ELF LLVM_BIN_DIR
"""

import re
import subprocess
import sys

# Cortex-M4F: the hardware stacks 8 words on exception entry, 26 with lazy FP state.
EXCEPTION_FRAME = 26 * 4


def stack_sizes(elf, bindir):
    out = subprocess.run([f"{bindir}/llvm-readobj", "--stack-sizes", elf],
                         check=True, capture_output=True, text=True).stdout
    sizes = {}
    for names, size in re.findall(r"Functions: \[([^\]]*)\]\s*\n\s*Size: (0x[0-9A-Fa-f]+)", out):
        for name in names.split(","):
            sizes[name.strip()] = int(size, 16)
    return sizes


def call_graph(elf, bindir):
    out = subprocess.run([f"{bindir}/llvm-objdump", "-d", "--no-show-raw-insn", elf],
                         check=True, capture_output=True, text=True).stdout
    calls, indirect, starts, targets = {}, set(), {}, []
    current = None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.+)>:$", line)
        if m:
            current = m.group(2)
            starts[int(m.group(1), 16)] = current
            calls.setdefault(current, set())
            continue
        if current is None:
            continue
        m = re.search(r"\s(bl|b\.w|b)\s+0x([0-9a-f]+)\b", line)
        if m:
            targets.append((current, int(m.group(2), 16)))
        elif re.search(r"\sblx\s+r\d+", line):
            indirect.add(current)
    # (the function starts are also what address_taken() matches data words against)
    # A branch to the start of another function is a call (`b`/`b.w`: a tail call); a branch
    # inside the function is a jump.
    for caller, addr in targets:
        callee = starts.get(addr) or starts.get(addr & ~1)
        if callee is not None and callee != caller:
            calls[caller].add(callee)
    return calls, indirect, starts


def address_taken(elf, bindir, starts):
    """Functions whose address is stored in the binary's data (vtables, function pointers):
    the only places a call through a register can go. Thumb addresses carry bit 0."""
    # Literal pools live in .text: a word there that is a Thumb function start is counted too
    # (an instruction that happens to look like one only makes the bound more careful).
    out = subprocess.run([f"{bindir}/llvm-objdump", "-s", "-j", ".rodata", "-j", ".data",
                          "-j", ".text", elf],
                         check=True, capture_output=True, text=True).stdout
    data = {}
    for line in out.splitlines():
        m = re.match(r"^ ([0-9a-f]{4,}) ((?:[0-9a-f]{2,8} ){1,4})", line)
        if m:
            base = int(m.group(1), 16)
            for i, byte in enumerate(bytes.fromhex(m.group(2).replace(" ", ""))):
                data[base + i] = byte
    taken = set()
    for addr in data:
        if addr % 4 == 0 and all(addr + i in data for i in range(4)):
            word = int.from_bytes(bytes(data[addr + i] for i in range(4)), "little")
            if word & 1 and (word & ~1) in starts:
                taken.add(starts[word & ~1])
    # An address built in a register: `movw rN, #lo` then `movt rN, #hi`.
    dis = subprocess.run([f"{bindir}/llvm-objdump", "-d", "--no-show-raw-insn", elf],
                         check=True, capture_output=True, text=True).stdout
    low = {}
    for m in re.finditer(r"\s(movw|movt)\s+(r\d+|lr|ip), #(0x[0-9a-f]+|\d+)", dis):
        op, reg, imm = m.group(1), m.group(2), int(m.group(3), 0)
        if op == "movw":
            low[reg] = imm
        elif reg in low:
            word = (imm << 16) | low.pop(reg)
            if word & 1 and (word & ~1) in starts:
                taken.add(starts[word & ~1])
    return taken


def demangler(elf, bindir):
    """Mangled name -> readable name, from the symbol table read twice."""
    def syms(*flags):
        out = subprocess.run([f"{bindir}/llvm-nm", "--defined-only", *flags, elf],
                             check=True, capture_output=True, text=True).stdout
        return {line.split(" ", 2)[0]: line.split(" ", 2)[2]
                for line in out.splitlines() if line.count(" ") >= 2}
    raw, nice = syms(), syms("--demangle")
    table = {raw[a]: nice[a] for a in raw if a in nice}
    return lambda name: table.get(name, name)


def deepest(root, sizes, calls, memo, path):
    """(bytes, path) of the deepest chain from `root`; cycles are cut and reported."""
    if root in memo:
        return memo[root]
    if root in path:
        return (0, [f"(recursion back to {root})"])
    best = (0, [])
    for callee in calls.get(root, ()):
        d = deepest(callee, sizes, calls, memo, path | {root})
        if d[0] > best[0]:
            best = d
    result = (sizes.get(root, 0) + best[0], [root] + best[1])
    memo[root] = result
    return result


def main():
    elf, bindir = sys.argv[1], sys.argv[2]
    sizes = stack_sizes(elf, bindir)
    calls, indirect, starts = call_graph(elf, bindir)
    show = demangler(elf, bindir)
    memo = {}
    # The reset handler: cortex-m-rt's `Reset`, which objdump may show under its alias.
    root = next(r for r in ("Reset", "__stext", "main") if r in calls)
    total, path = deepest(root, sizes, calls, memo, frozenset())
    # Each branch the program can take from the function that calls the deepest one (in the
    # firmware: one per dialect), so the cost of each shows.
    def heavy(n):
        return [c for c in calls.get(n, ()) if deepest(c, sizes, calls, memo, frozenset())[0] >= 256]

    branch_at = next((n for n in path if len(heavy(n)) > 1), None)
    if branch_at is not None:
        above = sum(sizes.get(n, 0) for n in path[: path.index(branch_at) + 1])
        print(f"stack: by branch below {show(branch_at)[:80]}:")
        for callee in sorted(heavy(branch_at)):
            d = deepest(callee, sizes, calls, memo, frozenset())[0]
            print(f"  {above + d:6d}  via {show(callee)[:110]}")
    handlers = [h for h in ("SysTick", "HardFault", "DefaultHandler") if h in calls]
    irq = max((deepest(h, sizes, calls, memo, frozenset())[0] for h in handlers), default=0)
    print(f"stack: deepest call chain from the reset handler: {total} bytes")
    for name in path:
        print(f"  {sizes.get(name, 0):6d}  {show(name)[:110]}")
    # The bound with calls through a register: each may reach any address-taken function.
    taken = address_taken(elf, bindir, {a: n for a, n in starts.items()})
    wide = {f: set(c) | (taken if f in indirect else set()) for f, c in calls.items()}
    wide_total, wide_path = deepest(root, sizes, wide, {}, frozenset())
    print(f"stack: + deepest exception handler {irq} bytes + exception frame {EXCEPTION_FRAME} bytes"
          f" = {total + irq + EXCEPTION_FRAME} bytes through direct calls")
    wide_irq = max((deepest(h, sizes, wide, {}, frozenset())[0] for h in handlers), default=0)
    print(f"stack: with calls through a register reaching any of the {len(taken)} address-taken"
          f" functions: = {wide_total + wide_irq + EXCEPTION_FRAME} bytes worst case")
    if wide_total > total:
        for name in wide_path:
            print(f"  {sizes.get(name, 0):6d}  {show(name)[:110]}")
    reachable = set()
    todo = [root]
    while todo:
        f = todo.pop()
        if f not in reachable:
            reachable.add(f)
            todo.extend(calls.get(f, ()))
    blind = sorted(f for f in indirect if f in reachable)
    if blind:
        print("stack: functions calling through a register (bounded by the address-taken functions):")
        for f in blind:
            print(f"    {show(f)[:110]}")


if __name__ == "__main__":
    main()
