#!/usr/bin/env bash
# The main job: the example downstream test suite on the local backend, with its coverage report
# (lines that run only inside executor workers are counted).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup-venv.sh all,test
cd examples/downstream
../../.venv/bin/python -m pytest --xlib-backend=local --cov=mysim --cov-report=term-missing "$@"
