#!/usr/bin/env bash
# Installs Docker 20.10 (Debian's docker.io) as the *reference* engine for end-to-end
# tests (STEVEDORE_TEST_TARGET=docker). Only its binaries are used, started by the test
# harness on a temporary socket; policy-rc.d stops the package from starting its own
# service on /var/run/docker.sock, and the client at /usr/local/bin/docker is kept.
set -euo pipefail
if command -v dockerd >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1; fi
apt-get install -y -qq --no-install-recommends docker.io containerd >/dev/null
[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
echo "setup: installed the reference engine (dockerd $(dockerd --version))" >&2
