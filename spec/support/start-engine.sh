#!/usr/bin/env bash
# Make sure a Docker Engine answers on /var/run/docker.sock.
# If one already answers, do nothing. Otherwise start Debian's dockerd in the background with no
# bridge network and no iptables rules (tests use NetworkMode "none"), and wait for it.
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
sock=/var/run/docker.sock
pidfile=/var/run/docker.pid
wait_secs=${DPTY_ENGINE_WAIT:-60}

say() { printf 'start-engine: %s\n' "$*" >&2; }

answers() {
  timeout 10 docker -H "unix://$sock" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# pid_alive PIDFILE NAME: the file names a live process whose command is NAME
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc '0-9' <"$1")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# running PID: the process exists and is not a zombie
running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

if answers; then
  exit 0
fi

command -v dockerd >/dev/null || { say "dockerd not found (install docker.io: spec/support/setup.sh)"; exit 1; }
command -v docker >/dev/null || { say "docker CLI not found (install docker.io: spec/support/setup.sh)"; exit 1; }

log=/var/log/dpty-dockerd.log
if ! { : >>"$log"; } 2>/dev/null; then
  log=/tmp/dpty-dockerd.log
fi

# other_dockerd: pid of a dockerd that is running (from the pidfile, else any dockerd process)
other_dockerd() {
  if pid_alive "$pidfile" dockerd; then
    tr -dc '0-9' <"$pidfile"
    return 0
  fi
  pgrep -x dockerd | head -n 1 | grep .
}

# Start our dockerd, after removing the leftovers of one that died: its pidfile makes a new
# dockerd refuse to start; a dead managed containerd's pidfile is only noise (a live
# containerd is reused by dockerd).
start_dockerd() {
  if [ -e "$pidfile" ]; then
    say "removing stale $pidfile"
    rm -f "$pidfile"
  fi
  local cpid=/var/run/docker/containerd/containerd.pid
  if [ -e "$cpid" ] && ! pid_alive "$cpid" containerd; then
    rm -f "$cpid"
  fi
  say "starting dockerd (log: $log)"
  printf '\n==== %s: dpty start-engine.sh ====\n' "$(date -u +%FT%TZ)" >>"$log"
  # setsid + nohup + every std fd redirected: the engine outlives this script and holds no
  # pipe of whoever called us (a CI runner would otherwise wait for it forever).
  setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false \
    </dev/null >>"$log" 2>&1 &
  starter=$!
}

starter=
if other=$(other_dockerd); then
  # A dockerd is running but not answering yet (still starting, e.g. one the docker.io
  # package started): wait for it rather than start a second one. If it dies, start ours.
  say "dockerd (pid $other) is running but does not answer yet; waiting"
fi

deadline=$((SECONDS + wait_secs))
while ((SECONDS < deadline)); do
  if answers; then
    say "engine is up"
    exit 0
  fi
  if [ -n "$starter" ]; then
    # Fail fast when the dockerd we started has died.
    if ! running "$starter"; then
      say "dockerd exited; last lines of $log:"
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
  elif ! other_dockerd >/dev/null; then
    start_dockerd
  fi
  sleep 1
done

if [ -z "$starter" ]; then
  say "a dockerd (pid $(other_dockerd || echo '?')) runs but did not answer on $sock within ${wait_secs}s"
  exit 1
fi
say "engine did not answer within ${wait_secs}s; last lines of $log:"
tail -n 30 "$log" >&2 || true
exit 1
