#!/usr/bin/env bash
# Installs only the docker CLI binary, for machines without one: Debian ships it inside
# docker.io (which also carries dockerd), so the package is downloaded, not installed,
# and just /usr/bin/docker is extracted. Nothing that starts a daemon is installed.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
apt-get download docker.io >/dev/null
dpkg-deb -x docker.io_*.deb root
install -m 0755 root/usr/bin/docker /usr/local/bin/docker
echo "setup: installed the docker CLI at /usr/local/bin/docker" >&2
