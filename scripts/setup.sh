#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine, run by `npm start` and `npm test`
# (through `npm run setup`): Debian packages, npm packages, the native build and the
# TypeScript build. Each step is skipped when its result is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages. Runtime: runc (crun also works), iptables, iproute2, tini (--init),
# zstd (zstd layers). Build: make and a C compiler for native/. Tests: busybox-static
# (the test image), docker-registry (a real registry on 127.0.0.1), docker-compose and
# python3-docker (real clients), strace (the exec hardening test). Never a package that starts a daemon on
# /var/run/docker.sock: the docker CLI is only installed where none is on PATH, and
# Debian ships it only inside docker.io, so then we take the client binary alone.
pkgs=(runc crun iptables iproute2 tini zstd make gcc g++ python3 libseccomp-dev busybox-static docker-registry docker-compose python3-docker openssl apache2-utils strace)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then say "missing Debian packages (${missing[*]}); run as root"; exit 1; fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps packages such as docker-registry from starting services.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1; fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
fi
if ! command -v docker >/dev/null 2>&1; then
  bash scripts/install-docker-cli.sh
fi

# npm packages, reinstalled only when package-lock.json changed.
stamp=node_modules/.stevedore-lock-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -d node_modules/better-sqlite3/build ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
fi

# Native addon and shim, then TypeScript.
bash scripts/build-native.sh
npx tsc -p tsconfig.build.json
