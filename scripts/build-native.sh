#!/usr/bin/env bash
# Builds the native parts: the N-API addon (native/addon) and the shim (native/shim).
# node-gyp ships inside npm; npm is configured to build against the installed Node headers.
set -euo pipefail
cd "$(dirname "$0")/.."
gyp=""
for c in "$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" \
         /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
         /usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js; do
  if [ -f "$c" ]; then gyp="$c"; break; fi
done
if [ -z "$gyp" ]; then echo "build-native: node-gyp not found next to npm" >&2; exit 1; fi
addon=native/addon/build/Release/stevedore_native.node
if [ ! -f "$addon" ] || [ native/addon/stevedore_native.c -nt "$addon" ] || [ native/addon/binding.gyp -nt "$addon" ]; then
  nodedir="$(npm config get nodedir 2>/dev/null || true)"
  args=(rebuild --release)
  if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ]; then args+=("--nodedir=$nodedir"); fi
  (cd native/addon && node "$gyp" "${args[@]}" >/dev/null)
fi
if [ -f native/shim/Makefile ]; then
  make -s -C native/shim
fi
# The Ryuk-compatible reaper that the testcontainers e2e test runs as an image (FROM scratch).
if [ -f native/reaper/Makefile ]; then
  make -s -C native/reaper
fi
