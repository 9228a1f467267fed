#!/usr/bin/env bash
# The test suite: installs what is missing, then runs every test (Swift Testing, in parallel).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift test "$@"
