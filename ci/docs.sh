#!/usr/bin/env bash
# Build the documentation site (mkdocs.yml, docs/) into site/ with --strict: any warning (a broken link, a
# docstring mkdocstrings cannot render, an unknown API placeholder) fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup-venv.sh all,test,docs
NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict --site-dir site "$@"
