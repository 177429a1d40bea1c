#!/usr/bin/env bash
# The whole test suite: unit tests beside the code (dist-test/src; the test helpers' own in
# dist-test/test/helpers) and end-to-end tests
# that drive real clients against a daemon on a temporary socket (dist-test/test/e2e).
# The tests are built here (tsconfig.test.json → dist-test/); the daemon they start is
# the shipped build (bin/stevedored → dist/, built by setup: tsconfig.build.json).
# STEVEDORE_TEST_TARGET=docker runs the end-to-end tests against Docker's own engine.
set -euo pipefail
cd "$(dirname "$0")/.."
# Docker 20.10 is the reference engine: the target of STEVEDORE_TEST_TARGET=docker, and
# started beside stevedore in every run by the differential suite
# (test/e2e/differential.test.ts). Installed once; never started as a service.
bash scripts/install-reference-docker.sh
npx tsc -p tsconfig.test.json
if [ "${STEVEDORE_TEST_TARGET:-}" = docker ]; then
  exec node --test --test-concurrency=1 dist-test/test/e2e
fi
exec node --test --test-concurrency=1 dist-test/src dist-test/test/helpers dist-test/test/e2e
