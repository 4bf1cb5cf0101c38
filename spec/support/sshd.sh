#!/usr/bin/env bash
# A private sshd for the ssh:// transport specs: 127.0.0.1:2222, root by key only, its own
# host key, config and logs; the system's sshd (if any) and ~/.ssh are left alone.
# Idempotent; fast when it already answers.
#   spec/support/sshd.sh          set up, then print the environment that reaches the local
#                                 Engine through it:
#                                   DOCKER_HOST=ssh://root@127.0.0.1:2222
#                                   DPTY_SSH_OPTS=-F $dir/ssh_config
#   spec/support/sshd.sh stop     stop that sshd
# Files under $DPTY_SSHD_DIR (default /tmp/dpty-sshd):
#   sshd_config, ssh_host_ed25519_key[.pub], authorized_keys, sshd.log   the server
#   id_ed25519[.pub]     the client key
#   known_hosts          the server's key for [127.0.0.1]:2222
#   ssh_config           a client config using both: `ssh -F ssh_config -p 2222 root@127.0.0.1`
#                        works without a prompt
#   ssh_config.unknown   the same with an empty known_hosts: "Host key verification failed."
# dpty runs ssh with DPTY_SSH_OPTS (split on spaces) before its own options; ssh reads the
# user's ~/.ssh/config by itself (from the passwd entry's home, not $HOME), hence -F here.
# The remote side runs `docker system dial-stdio`, i.e. the docker CLI on this machine talks
# to its default Engine (/var/run/docker.sock).
# Installs openssh-server if it is missing (apt-get; the package's own service is kept from
# starting when no policy-rc.d says otherwise).
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
dir=${DPTY_SSHD_DIR:-/tmp/dpty-sshd}
port=2222
say() { printf 'sshd: %s\n' "$*" >&2; }

mkdir -p "$dir"
chmod 700 "$dir"
exec 9>"$dir/.lock"
flock 9

pidfile=$dir/sshd.pid
sshd_pid() {
  local pid
  [ -s "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ] && echo "$pid"
}

if [ "${1:-}" = stop ]; then
  if pid=$(sshd_pid); then
    kill "$pid"
  fi
  exit 0
fi

if ! command -v sshd >/dev/null || ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    say "openssh-server is not installed and this is not root: install openssh-server"
    exit 1
  fi
  say "installing openssh-server"
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then # keep the package from starting the system's sshd on :22
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  ok=1
  if ! apt-get install -y -qq --no-install-recommends openssh-server openssh-client >"$dir/apt.log" 2>&1; then
    apt-get update -qq >>"$dir/apt.log" 2>&1 || true
    apt-get install -y -qq --no-install-recommends openssh-server openssh-client >>"$dir/apt.log" 2>&1 || ok=
  fi
  [ -n "$made_policy" ] && rm -f "$policy"
  if [ -z "$ok" ]; then
    tail -n 20 "$dir/apt.log" >&2
    say "could not install openssh-server"
    exit 1
  fi
fi

if [ ! -s "$dir/ssh_host_ed25519_key" ] || [ ! -s "$dir/id_ed25519" ]; then
  rm -f "$dir"/ssh_host_ed25519_key* "$dir"/id_ed25519*
  ssh-keygen -q -t ed25519 -N '' -C dpty-test-host -f "$dir/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C dpty-test-client -f "$dir/id_ed25519"
  if pid=$(sshd_pid); then # it has the old keys
    kill "$pid"
    sleep 0.5
  fi
fi
cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"
: >"$dir/known_hosts.empty"

cat >"$dir/sshd_config.new" <<EOF
# dpty test sshd (spec/support/sshd.sh)
Port $port
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_ed25519_key
PidFile $pidfile
AuthorizedKeysFile $dir/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
MaxStartups 100:30:200
MaxSessions 50
EOF
if ! cmp -s "$dir/sshd_config.new" "$dir/sshd_config" 2>/dev/null; then
  mv "$dir/sshd_config.new" "$dir/sshd_config"
  if pid=$(sshd_pid); then
    kill "$pid"
    sleep 0.5
  fi
else
  rm -f "$dir/sshd_config.new"
fi

client_config() { # client_config KNOWN_HOSTS
  cat <<EOF
# dpty test ssh client (spec/support/sshd.sh)
Host *
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $1
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  LogLevel ERROR
EOF
}
client_config "$dir/known_hosts" >"$dir/ssh_config"
client_config "$dir/known_hosts.empty" >"$dir/ssh_config.unknown"

answers() {
  timeout 10 ssh -F "$dir/ssh_config" -o BatchMode=yes -p "$port" root@127.0.0.1 true </dev/null >/dev/null 2>&1
}

if ! answers; then
  if ! sshd_pid >/dev/null; then
    rm -f "$pidfile"
    mkdir -p /run/sshd # sshd's privilege separation directory
    say "starting sshd on 127.0.0.1:$port (log: $dir/sshd.log)"
    "$(command -v sshd)" -f "$dir/sshd_config" -E "$dir/sshd.log" 9>&- || {
      tail -n 20 "$dir/sshd.log" >&2 || true
      say "sshd did not start"
      exit 1
    }
  fi
  for _ in $(seq 1 50); do
    answers && break
    sleep 0.2
  done
  if ! answers; then
    tail -n 20 "$dir/sshd.log" >&2 || true
    say "ssh -F $dir/ssh_config -p $port root@127.0.0.1 does not work"
    exit 1
  fi
fi
if ! out=$(timeout 20 ssh -F "$dir/ssh_config" -p "$port" root@127.0.0.1 docker version --format '{{.Server.Version}}' </dev/null 2>&1); then
  say "the docker CLI over ssh does not reach an Engine: $out"
  exit 1
fi

printf 'DOCKER_HOST=ssh://root@127.0.0.1:%s\nDPTY_SSH_OPTS=-F %s/ssh_config\n' "$port" "$dir"
