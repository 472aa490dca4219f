"""The Python side of benches/compare.sh: pyiso8583 and pyTeliumManager on the frames the
ecrlink probe wrote (target/compare/*.hex). Prints what each peer read (FIELD / CONCERT lines,
checked against ecrlink by the script) and `TIME case ns_per_message bytes_per_message`, the
best of 7 runs of about 0.1 s each, as the Rust probe measures.

Two Concert cases: `concert_decode`, pyTeliumManager as published, and
`concert_decode_nobrand`, the same decoders with its card-brand lookup switched off. Every
TeliumResponse runs `payment_card_identifier.CardIdentifier.from_numbers` on the report field,
a series of regular expressions that names the card brand, which ecrlink does not do (it
finds the card number and masks it). For the second case this process replaces
`telium.payment.CardIdentifier` with a stub that identifies no brand (a patch inside the
throwaway venv's interpreter, nothing on disk); everything else pyTeliumManager does stays.

usage: python py_peers.py FIXTURE_DIR
"""

import sys
import time

import iso8583
from iso8583.specs import default_ascii
from telium.payment import TeliumAsk, TeliumResponse


def best_ns_per_call(fn, calls_per_run_hint=1):
    """Best (lowest) time per call over 7 runs of about 0.1 s."""
    n = calls_per_run_hint
    while True:
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        if time.perf_counter_ns() - t > 20_000_000:
            break
        n *= 2
    n *= 5
    best = float("inf")
    for _ in range(7):
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter_ns() - t) / n)
    return best


def main():
    fixtures = sys.argv[1]

    # ISO 8583: the very bytes ecrlink parses (ASCII MTI, hex bitmap, field 55 as hex).
    with open(f"{fixtures}/iso_0200.hex") as f:
        iso = bytes.fromhex(f.read().strip())
    doc, _ = iso8583.decode(iso, default_ascii)
    for key in sorted((k for k in doc if k.isdigit()), key=int):
        print(f"FIELD {key} {doc[key]}")
    print(f"FIELD 0 {doc['t']}")
    ns = best_ns_per_call(lambda: iso8583.decode(iso, default_ascii))
    print(f"TIME iso8583_parse {ns:.1f} {len(iso)}")

    # Concert: request, full answer and short answer frames (STX … ETX LRC), each with the
    # decoder pyTeliumManager has for its direction.
    with open(f"{fixtures}/concert_frames.hex") as f:
        frames = [bytes.fromhex(line.strip()) for line in f if line.strip()]
    decoders = [(TeliumAsk.decode if len(fr) == 37 else TeliumResponse.decode, fr) for fr in frames]
    for decode, fr in decoders:
        m = decode(fr)
        extra = f" status={m.transaction_result} card={m.card_id}" if isinstance(m, TeliumResponse) else ""
        print(f"CONCERT len={len(fr)} pos={m.pos_number} amount={m.amount:.2f} "
              f"currency={m.currency_numeric}{extra}")

    def decode_all():
        for decode, fr in decoders:
            decode(fr)

    ns = best_ns_per_call(decode_all) / len(decoders)
    size = sum(len(fr) for fr in frames) / len(frames)
    print(f"TIME concert_decode {ns:.1f} {size:.1f}")

    # The same without the card-brand regular expressions (see the module doc).
    import telium.payment

    class NoBrand:
        @staticmethod
        def from_numbers(numbers):
            return None

    published = telium.payment.CardIdentifier
    telium.payment.CardIdentifier = NoBrand
    try:
        for decode, fr in decoders:
            m = decode(fr)
            assert not isinstance(m, TeliumResponse) or m.card_type is None, "the patch did not take"
        ns = best_ns_per_call(decode_all) / len(decoders)
    finally:
        telium.payment.CardIdentifier = published
    print(f"TIME concert_decode_nobrand {ns:.1f} {size:.1f}")


if __name__ == "__main__":
    main()
