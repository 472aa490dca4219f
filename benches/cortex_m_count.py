"""Counts instructions per case from qemu's execution log, for benches/cortex-m-count.sh.

qemu runs with one instruction per translation block (`-singlestep`) and `-d exec,nochain`,
so its log has one `Trace` line per executed instruction, with the program counter as the
second field in brackets. Case k is everything from the k-th entry into `count_mark` (its
first instruction, address MARK) to the next one.

usage: python3 cortex_m_count.py LOG MARK_ADDRESS_HEX
prints one line per case: `INDEX instructions`
"""

import sys


def main():
    log, mark = sys.argv[1], int(sys.argv[2], 16) & ~1
    counts = []
    with open(log, "rb") as f:
        for line in f:
            if not line.startswith(b"Trace"):
                continue
            pc = int(line.split(b"[", 1)[1].split(b"/", 2)[1], 16)
            if pc == mark:
                counts.append(0)
            if counts:
                counts[-1] += 1
    # The last mark only closes the last case.
    for i, n in enumerate(counts[:-1]):
        print(i, n)


if __name__ == "__main__":
    main()
