#!/usr/bin/env bash
# Makes (once) the throwaway venv with pyiso8583 from PyPI, pinned, under
# target/iso8583/venv, and prints its python. Exit status 3 when the venv cannot be made (no
# python3 venv module, no network to PyPI): the caller decides whether that is a failure (CI)
# or a skip.
#
# usage: tests/iso8583/venv.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/target/iso8583"
venv="$dir/venv"
pins="pyiso8583==4.0.1"
mkdir -p "$dir"
if [[ -x "$venv/bin/python" && "$(cat "$venv/.pins" 2>/dev/null)" == "$pins" ]]; then
    echo "$venv/bin/python"
    exit 0
fi
rm -rf "$venv"
if ! python3 -m venv "$venv" >"$dir/venv.log" 2>&1; then
    echo "venv.sh: python3 -m venv failed (see $dir/venv.log)" >&2
    exit 3
fi
# shellcheck disable=SC2086
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check $pins >>"$dir/venv.log" 2>&1; then
    echo "venv.sh: pip install $pins failed (see $dir/venv.log)" >&2
    rm -rf "$venv"
    exit 3
fi
echo "$pins" >"$venv/.pins"
echo "$venv/bin/python"
