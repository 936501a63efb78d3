#!/usr/bin/env bash
# Graphviz's `dot` program, which drawing dependency graphs as svg/png/pdf needs (the `graph` extra's pydot only
# writes DOT). Installed with apt when missing and we are root (CI); otherwise a note, and those tests skip
# (with CI=true they fail instead).
set -euo pipefail
command -v dot >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends graphviz >/dev/null
else
    echo "note: Graphviz's dot program is missing (apt install graphviz): svg/png/pdf graph tests will skip" >&2
fi
