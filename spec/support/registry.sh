#!/usr/bin/env bash
# Private registries on 127.0.0.1 for the pull specs, with busybox pushed to them. Idempotent.
#   spec/support/registry.sh          start what is not running, push busybox (the default)
#   spec/support/registry.sh stop     stop the registries this script started
# What it sets up (ports and state directory can be moved with the variables below):
#   http://127.0.0.1:5000  open registry          127.0.0.1:5000/dpty-test/busybox:latest
#   http://127.0.0.1:5001  registry with htpasswd 127.0.0.1:5001/dpty-test/busybox:latest
#                          user "dpty", password "dpty-secret" (a bcrypt line made here)
# Both run Debian's docker-registry (distribution 2.8) in the background with their own config
# and storage under $DPTY_REGISTRY_DIR; nothing of the package's own service is used. dockerd
# treats 127.0.0.0/8 registries as insecure by default, so plain HTTP is enough. The local
# tags made for pushing are removed again (busybox:latest itself is left alone).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
# under the specs' sanitizer pass LD_PRELOAD holds libasan, of no use to the tools run here
unset LD_PRELOAD

port=${DPTY_REGISTRY_PORT:-5000}
auth_port=${DPTY_REGISTRY_AUTH_PORT:-5001}
dir=${DPTY_REGISTRY_DIR:-/tmp/dpty-registry}
user=dpty
password=dpty-secret
repo=dpty-test/busybox:latest

say() { printf 'registry: %s\n' "$*" >&2; }
docker() { command "${DOCKER:-docker}" "$@"; }

# HTTP status of GET /v2/ on a port ("000" when nothing answers)
probe() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/v2/" || true; }

stop_one() { # NAME
  local pidfile=$dir/$1/pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    say "stopped $1"
  fi
  rm -f "$pidfile"
}

if [ "${1:-start}" = stop ]; then
  stop_one open
  stop_one auth
  exit 0
fi

if ! command -v docker-registry >/dev/null; then
  say "installing docker-registry"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends docker-registry >&2 ||
    { "${sudo[@]}" apt-get update -qq || true; "${sudo[@]}" apt-get install -y -qq --no-install-recommends docker-registry >&2; }
fi

# The bcrypt line for htpasswd: Python's crypt (libxcrypt does $2b$), else apache2-utils.
bcrypt_line() {
  if python3 -W ignore -c 'import crypt' 2>/dev/null; then
    python3 -W ignore -c 'import crypt, sys
print(sys.argv[1] + ":" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))' "$user" "$password"
  elif command -v htpasswd >/dev/null; then
    htpasswd -nbB "$user" "$password" | head -n 1
  else
    return 1
  fi
}

# start_one NAME PORT EXPECTED_STATUS [auth]: a registry in the background, unless it answers
start_one() {
  local name=$1 p=$2 want=$3 auth=${4:-} d=$dir/$1
  local code
  code=$(probe "$p")
  # already up (ours, or one another run started a moment ago)
  [ "$code" = "$want" ] && return 0
  if [ "$code" != 000 ]; then
    say "something else answers on 127.0.0.1:$p (GET /v2/ -> $code); set DPTY_REGISTRY_PORT/DPTY_REGISTRY_AUTH_PORT"
    return 1
  fi
  mkdir -p "$d/storage"
  {
    printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s/storage\n  delete:\n    enabled: true\n' "$d"
    printf 'http:\n  addr: 127.0.0.1:%s\n  secret: dpty-test-%s\n' "$p" "$name"
    if [ -n "$auth" ]; then
      printf 'auth:\n  htpasswd:\n    realm: dpty-test\n    path: %s/htpasswd\n' "$d"
    fi
  } >"$d/config.yml"
  # Specs delete their manifests when done; their blobs go here, while nothing is served.
  docker-registry garbage-collect --delete-untagged "$d/config.yml" >"$d/gc.log" 2>&1 ||
    say "garbage collection of $name failed (see $d/gc.log); starting anyway"
  # 9>&-: the registry must not inherit the lock below, or it holds it for its whole life and
  # the next run of this script waits on flock forever
  setsid docker-registry serve "$d/config.yml" </dev/null 9>&- >"$d/log" 2>&1 &
  echo $! >"$d/pid"
  for _ in $(seq 100); do
    [ "$(probe "$p")" = "$want" ] && { say "$name registry on 127.0.0.1:$p"; return 0; }
    kill -0 "$(cat "$d/pid")" 2>/dev/null || break
    sleep 0.1
  done
  cat "$d/log" >&2
  say "the $name registry did not come up on 127.0.0.1:$p"
  return 1
}

# push_to HOST:PORT [DOCKER CLI OPTIONS...]: tag busybox there, push, drop the local tag
push_to() {
  local ref=$1/$repo
  shift
  docker tag busybox:latest "$ref"
  local log
  log=$(mktemp)
  if ! docker "$@" push "$ref" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    docker rmi "$ref" >/dev/null 2>&1 || true
    say "push of $ref failed"
    return 1
  fi
  rm -f "$log"
  docker rmi "$ref" >/dev/null
}

# Runs sharing the machine start at most one of each.
mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9

docker image inspect busybox:latest >/dev/null 2>&1 || spec/support/busybox-image.sh

start_one open "$port" 200
push_to "127.0.0.1:$port"

mkdir -p "$dir/auth" "$dir/auth/docker-config"
if [ ! -s "$dir/auth/htpasswd" ]; then
  if ! bcrypt_line >"$dir/auth/htpasswd.new"; then
    rm -f "$dir/auth/htpasswd.new"
    say "no way to make a bcrypt password (python3 crypt or htpasswd): no registry with auth"
    exit 0
  fi
  mv "$dir/auth/htpasswd.new" "$dir/auth/htpasswd"
fi
start_one auth "$auth_port" 401 auth
# A docker CLI config of its own, so the person's ~/.docker is not touched.
log=$(mktemp)
if ! printf '%s' "$password" | docker --config "$dir/auth/docker-config" login -u "$user" --password-stdin \
  "127.0.0.1:$auth_port" >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  say "docker login to 127.0.0.1:$auth_port failed"
  exit 1
fi
rm -f "$log"
push_to "127.0.0.1:$auth_port" --config "$dir/auth/docker-config"
say "ready: 127.0.0.1:$port/$repo, 127.0.0.1:$auth_port/$repo ($user:$password)"
