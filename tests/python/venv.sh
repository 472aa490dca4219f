#!/usr/bin/env bash
# Makes (once) a throwaway venv named NAME under target/NAME/venv with the pinned PyPI packages
# PINS, and prints its python. Exit status 3 when the venv cannot be made (no python3 venv
# module, no network to PyPI): the caller decides whether that is a failure (CI) or a skip.
# The test suites call it through `ecrlink_tests::python::venv`.
#
# usage: tests/python/venv.sh NAME PIN...
#   e.g. tests/python/venv.sh concert-clients pyTeliumManager==2.4.2 pypostelium==0.0.5
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 NAME PIN..." >&2
    exit 2
fi
name=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/target/$name"
venv="$dir/venv"
pins="$*"
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
