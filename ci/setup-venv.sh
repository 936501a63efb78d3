#!/usr/bin/env bash
# Create .venv (if missing) and install this project with the extras given as argument (default: all,test:
# every user extra plus the test tools; `all` alone is what a user gets, without the test suite's tools).
# Works on a fresh Debian/Ubuntu machine: installs python3-venv with apt when the venv module is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all,test}"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    echo "pytest-executorlib needs Python >= 3.10, $python is $("$python" --version 2>&1)" >&2; exit 1; }
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    else
        echo "the Python venv module is missing: install python3-venv (e.g. sudo apt-get install python3-venv)" >&2; exit 1
    fi
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# editable_mode=compat: a plain path entry instead of an import hook that costs every worker ~10 ms at start.
.venv/bin/python -m pip install -q -e ".[$extras]" --config-settings editable_mode=compat
