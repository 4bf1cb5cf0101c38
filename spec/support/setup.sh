#!/usr/bin/env bash
# Set up a Debian 12 machine to build, run and test dpty. Idempotent; fast when all is done.
#   1. install the Debian packages that are missing
#   2. build dpty into build/ (warnings are errors)
#   3. start a Docker Engine if none answers        (spec/support/start-engine.sh)
#   4. build the busybox:latest image if it is missing (spec/support/busybox-image.sh)
# Busted runs under Lua 5.4 as `lua5.4 /usr/bin/busted` (never through /usr/bin/lua).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

say() { printf 'setup: %s\n' "$*" >&2; }

packages=(
  liblua5.4-dev lua5.4 lua-cjson-dev lua-cjson lua-busted
  libcurl4-openssl-dev libvterm-dev
  docker.io busybox-static
  pkg-config cmake make gcc
  python3-pexpect python3-dockerpty python3-docker
  openssl procps
  docker-registry openssh-server openssh-client
)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "not root and no sudo: install ${missing[*]} yourself"; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A third-party source that cannot be reached makes update fail; install then tells
  # whether Debian's archive was enough.
  "${sudo[@]}" apt-get update -qq || say "apt-get update reported errors; trying the install anyway"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  say "packages: all installed"
fi

# run LABEL CMD...: run quietly; on failure show the output and stop
run() {
  local label=$1 log
  shift
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "$label failed"
    exit 1
  fi
  rm -f "$log"
}

say "building build/"
run "cmake configure" cmake -S . -B build -DDPTY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
run "build" cmake --build build -j2

say "engine"
spec/support/start-engine.sh
say "busybox image"
spec/support/busybox-image.sh
say "local registries (for the pull specs)"
spec/support/registry.sh
say "TLS engine and sshd (for the transport specs)"
spec/support/tls-engine.sh >/dev/null
spec/support/sshd.sh >/dev/null
say "ready: build/dpty, engine on /var/run/docker.sock, busybox:latest"
