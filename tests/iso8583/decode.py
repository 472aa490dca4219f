"""Decodes ISO 8583 messages with pyiso8583's `default_ascii` spec (ISO 8583:1987, ASCII).

usage: decode.py FILE   (one message a line, in hex, without the TCP length prefix)

Prints one JSON object a line: {"t": MTI, "p": primary bitmap, field number: value, ...},
or {"error": "..."} for a message pyiso8583 refuses.
"""

import json
import sys

import iso8583
from iso8583.specs import default_ascii

with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        try:
            decoded, _ = iso8583.decode(bytes.fromhex(line), default_ascii)
            print(json.dumps(decoded))
        except Exception as e:  # a refusal is a result the test reports
            print(json.dumps({"error": str(e)}))
