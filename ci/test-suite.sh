#!/usr/bin/env bash
# The whole test suite (MPI tests included: the `all` extra brings mpi4py and the mpich wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup-venv.sh all
bash ci/install-graphviz.sh
.venv/bin/python -m pytest "$@"
