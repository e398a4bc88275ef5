#!/usr/bin/env bash
# Set up what is missing (tools/setup_env.sh), check the style
# (tools/lint.sh), then run the whole test suite.
# Extra arguments go to pytest (e.g. `-k gan`, `-m "not slow"`).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/tools/setup_env.sh"
bash "$ROOT/tools/lint.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest tests "$@"
