#!/usr/bin/env bash
# The whole test suite: unit tests beside the code (dist/src) and end-to-end tests that
# drive real clients against a daemon on a temporary socket (dist/test/e2e).
# STEVEDORE_TEST_TARGET=docker runs the end-to-end tests against Docker's own engine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${STEVEDORE_TEST_TARGET:-}" = docker ]; then
  bash scripts/install-reference-docker.sh
  exec node --test --test-concurrency=1 dist/test/e2e
fi
exec node --test --test-concurrency=1 dist/src dist/test/e2e
