#!/usr/bin/env bash
# Makes (once) the throwaway venv with Playwright from PyPI, pinned, under
# target/ui-browser/venv, makes sure Debian's chromium-headless-shell is installed (apt-get, as
# root; Playwright's own browser download is never used), and prints two lines: the venv's
# python and the browser binary. Exit status 3 when either cannot be had (no python3 venv
# module, no network to PyPI or Debian, not root): the caller decides whether that is a
# failure (CI) or a skip.
#
# usage: tests/ui_browser/venv.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/target/ui-browser"
venv="$dir/venv"
pins="playwright==1.65.2"
mkdir -p "$dir"

# The Debian package puts the real binary here (/usr/bin/chromium-headless-shell is a wrapper
# script).
browser=/usr/lib/chromium/chromium-headless-shell
if [[ ! -x "$browser" ]]; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "venv.sh: $browser missing and cannot apt-get install chromium-headless-shell (not root or no apt-get)" >&2
        exit 3
    fi
    if ! { apt-get install -y chromium-headless-shell || { apt-get update && apt-get install -y chromium-headless-shell; }; } >"$dir/apt.log" 2>&1; then
        echo "venv.sh: apt-get install chromium-headless-shell failed (see $dir/apt.log)" >&2
        exit 3
    fi
fi

if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]]; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >"$dir/venv.log" 2>&1; then
        echo "venv.sh: python3 -m venv failed (see $dir/venv.log)" >&2
        exit 3
    fi
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: the package alone; the browser is Debian's.
    # shellcheck disable=SC2086
    if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$venv/bin/pip" install --quiet --disable-pip-version-check $pins >>"$dir/venv.log" 2>&1; then
        echo "venv.sh: pip install $pins failed (see $dir/venv.log)" >&2
        rm -rf "$venv"
        exit 3
    fi
    echo "$pins" >"$venv/.pins"
fi
echo "$venv/bin/python"
echo "$browser"
