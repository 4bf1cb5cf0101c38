#!/usr/bin/env bash
# A second Docker Engine for the transport specs, reachable only over TLS with client
# certificates: tcp://127.0.0.1:2376, --tlsverify. Idempotent; fast when it already answers.
#   spec/support/tls-engine.sh          set up (certificates, dockerd, busybox image), then
#                                       print the environment to use it:
#                                         DOCKER_HOST=tcp://127.0.0.1:2376
#                                         DOCKER_TLS_VERIFY=1
#                                         DOCKER_CERT_PATH=$dir/client
#   spec/support/tls-engine.sh stop     stop that dockerd (its containers go with it)
# Everything lives under $DPTY_TLS_DIR (default /tmp/dpty-tls):
#   ca/          the test CA (ca.pem, ca-key.pem)
#   server/      the Engine's certificate (SAN IP:127.0.0.1, DNS:localhost) and key
#   client/      ca.pem, cert.pem, key.pem: a DOCKER_CERT_PATH that works
#   wrong-ca/    ca.pem of another CA, with the same client cert.pem/key.pem: one that must fail
#   data/ exec/  the dockerd's --data-root and --exec-root (its own containerd runs under exec/)
#   dockerd.log  its log
# The dockerd has no bridge and no iptables rules (containers use NetworkMode none) and
# listens on 127.0.0.1 only. Its busybox:latest is built like spec/support/busybox-image.sh
# (that script, pointed at this Engine). Needs root, dockerd, the docker CLI and openssl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

dir=${DPTY_TLS_DIR:-/tmp/dpty-tls}
addr=127.0.0.1:2376
wait_secs=${DPTY_ENGINE_WAIT:-60}
say() { printf 'tls-engine: %s\n' "$*" >&2; }

mkdir -p "$dir"
chmod 700 "$dir"
# One setup at a time (two spec runs may start together).
exec 9>"$dir/.lock"
flock 9

pidfile=$dir/docker.pid

# the pid in the pidfile, if it is a live dockerd
engine_pid() {
  local pid
  [ -s "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

if [ "${1:-}" = stop ]; then
  if pid=$(engine_pid); then
    say "stopping dockerd $pid"
    kill "$pid"
    for _ in $(seq 1 100); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
  fi
  exit 0
fi

for tool in dockerd docker openssl; do
  command -v "$tool" >/dev/null || { say "$tool not found (spec/support/setup.sh installs it)"; exit 1; }
done

tls_docker() {
  env -u LD_PRELOAD -u DOCKER_CONTEXT DOCKER_HOST="tcp://$addr" DOCKER_TLS_VERIFY=1 \
    DOCKER_CERT_PATH="$dir/client" docker "$@"
}

answers() {
  timeout 10 env -u LD_PRELOAD -u DOCKER_CONTEXT DOCKER_HOST="tcp://$addr" DOCKER_TLS_VERIFY=1 \
    DOCKER_CERT_PATH="$dir/client" docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# ---- certificates ----------------------------------------------------------------------
# new_ca DIR CN: a self-signed CA
new_ca() {
  mkdir -p "$1"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$1/ca-key.pem" -out "$1/ca.pem" 2>/dev/null
}

# signed OUT_CERT OUT_KEY CN EXTENSIONS: a key and a certificate signed by our CA
signed() {
  local csr ext
  csr=$(mktemp) ext=$(mktemp)
  printf '%s\n' "$4" >"$ext"
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$3" -keyout "$2" -out "$csr" 2>/dev/null
  openssl x509 -req -sha256 -days 3650 -in "$csr" -CA "$dir/ca/ca.pem" -CAkey "$dir/ca/ca-key.pem" \
    -CAcreateserial -CAserial "$dir/ca/ca.srl" -extfile "$ext" -out "$1" 2>/dev/null
  rm -f "$csr" "$ext"
}

if [ ! -s "$dir/client/key.pem" ] || [ ! -s "$dir/wrong-ca/ca.pem" ]; then
  say "making certificates in $dir"
  rm -rf "$dir/ca" "$dir/server" "$dir/client" "$dir/wrong-ca"
  new_ca "$dir/ca" "dpty test CA"
  mkdir -p "$dir/server" "$dir/client"
  signed "$dir/server/cert.pem" "$dir/server/key.pem" localhost \
    "$(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment')"
  signed "$dir/client/cert.pem" "$dir/client/key.pem" dpty-client \
    "$(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment')"
  cp "$dir/ca/ca.pem" "$dir/client/ca.pem"
  new_ca "$dir/wrong-ca/other" "not the dpty test CA"
  cp "$dir/wrong-ca/other/ca.pem" "$dir/wrong-ca/ca.pem"
  cp "$dir/client/cert.pem" "$dir/client/key.pem" "$dir/wrong-ca/"
  chmod 600 "$dir"/*/key.pem "$dir"/ca/ca-key.pem
  # a running engine has the old certificates: restart it
  if pid=$(engine_pid); then
    kill "$pid"
    sleep 2
  fi
fi

# ---- the engine ----------------------------------------------------------------------
if ! answers; then
  if pid=$(engine_pid); then
    say "dockerd $pid is running but does not answer yet; waiting"
  else
    rm -f "$pidfile"
    # a dead managed containerd leaves a pidfile that is only noise
    cpid=$dir/exec/containerd/containerd.pid
    if [ -s "$cpid" ] && [ "$(cat "/proc/$(tr -dc '0-9' <"$cpid")/comm" 2>/dev/null)" != containerd ]; then
      rm -f "$cpid"
    fi
    mkdir -p "$dir/data" "$dir/exec"
    printf '{}\n' >"$dir/daemon.json" # not /etc/docker/daemon.json: its "hosts" would clash with -H
    say "starting dockerd on tcp://$addr (log: $dir/dockerd.log)"
    printf '\n==== %s: dpty tls-engine.sh ====\n' "$(date -u +%FT%TZ)" >>"$dir/dockerd.log"
    setsid nohup dockerd --config-file "$dir/daemon.json" \
      -H "tcp://$addr" --tlsverify --tlscacert "$dir/ca/ca.pem" \
      --tlscert "$dir/server/cert.pem" --tlskey "$dir/server/key.pem" \
      --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidfile" \
      --bridge=none --iptables=false --ip-masq=false </dev/null 9>&- \
      >>"$dir/dockerd.log" 2>&1 &
    starter=$!
  fi
  deadline=$((SECONDS + wait_secs))
  until answers; do
    if ((SECONDS >= deadline)); then
      say "the engine did not answer on tcp://$addr within ${wait_secs}s; last lines of $dir/dockerd.log:"
      tail -n 30 "$dir/dockerd.log" >&2 || true
      exit 1
    fi
    if [ -n "${starter:-}" ] && ! kill -0 "$starter" 2>/dev/null; then
      say "dockerd exited; last lines of $dir/dockerd.log:"
      tail -n 30 "$dir/dockerd.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  say "engine is up on tcp://$addr"
fi

# ---- the image -----------------------------------------------------------------------
if ! tls_docker image inspect busybox:latest >/dev/null 2>&1; then
  env -u DOCKER_CONTEXT DOCKER_HOST="tcp://$addr" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$dir/client" \
    spec/support/busybox-image.sh
fi

printf 'DOCKER_HOST=tcp://%s\nDOCKER_TLS_VERIFY=1\nDOCKER_CERT_PATH=%s\n' "$addr" "$dir/client"
