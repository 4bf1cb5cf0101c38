#!/bin/sh
# Test-rig benchmark: N (50) concurrent busybox sessions from one dpty process against N
# docker CLI processes driven by pexpect, side by side (wall time, total memory as summed
# PSS/RSS of each side's processes, CPU); and s:expect over 10-100 MB of output (time per MB,
# peak RSS). Medians of interleaved rounds.
#
#   spec/bench/rigs.sh [--quick] [rigs.py options, e.g. --rounds 3 --sizes 10,100 --parts big]
#
# Full mode: 5 rounds of sessions, sizes 10,25,50,100 MB x 3 rounds, a container at 10 and
# 100 MB (~6 min here); --quick: 1 round, 10,25 MB once, container 5 MB (~1 min).
# Writes spec/bench/rigs-results.md (overwritten) and prints it.
# Environment: DPTY (default build/dpty, built if missing), DOCKER (default: docker on PATH).
# Containers carry the labels dpty.bench=1 and dpty.bench.run=<this run>; this run's
# leftovers (only) are removed on exit, so a concurrent spec/bench/run.sh is left alone.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
py=/usr/bin/python3

docker=${DOCKER:-$(command -v docker || true)}
[ -n "$docker" ] || { echo "rigs.sh: no docker CLI on PATH (set DOCKER=...)" >&2; exit 1; }

dpty=${DPTY:-$top/build/dpty}
if [ ! -x "$dpty" ] && [ -z "${DPTY:-}" ]; then
  echo "rigs.sh: building dpty" >&2
  cmake -S "$top" -B "$top/build" -DDPTY_WERROR=ON >/dev/null
  cmake --build "$top/build" >/dev/null
fi
[ -x "$dpty" ] || { echo "rigs.sh: no dpty executable at $dpty" >&2; exit 1; }

"$py" -c 'import pexpect' 2>/dev/null || {
  echo "rigs.sh: $py needs pexpect: apt-get install python3-pexpect" >&2
  exit 1
}
"$docker" image inspect busybox >/dev/null 2>&1 || {
  echo "rigs.sh: no local busybox image (spec/support/busybox-image.sh builds one)" >&2
  exit 1
}

run_id=$(date +%s)-$$
run_label=dpty.bench.run=$run_id
tmp=$(mktemp -d /tmp/dpty-rigs.XXXXXX)
cleanup() {
  ids=$("$docker" ps -aq --filter "label=$run_label" 2>/dev/null || true)
  if [ -n "$ids" ]; then
    echo "rigs.sh: removing leftover containers: $(echo $ids)" >&2
    "$docker" rm -f $ids >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Measure a private copy: the build tree may be rebuilt while the benchmark runs.
cp "$dpty" "$tmp/dpty"
cc -O2 -o "$tmp/launch" "$here/launch.c"
commit=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
[ -z "${DPTY:-}" ] || commit="$commit; DPTY=$DPTY"

set +e
DPTY_COMMIT="$commit" "$py" "$here/rigs.py" --dpty "$tmp/dpty" --dpty-shown "$dpty" \
  --launch "$tmp/launch" --docker "$docker" --run-label "$run_label" "$@"
rc=$?
set -e
exit $rc
