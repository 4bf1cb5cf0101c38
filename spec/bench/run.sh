#!/bin/sh
# Side-by-side benchmark: dpty vs the docker CLI vs dockerpty 0.4.1 (plus a bare socket reader),
# one run, clients interleaved round by round, medians and ratios.
#
#   spec/bench/run.sh [--quick] [measure.py options, e.g. --rounds 5 --bulk-mb 50]
#
# Full mode: 3 rounds, 100 MB of tty output per client per round (~25 min here);
# --quick: 1 round, 10 MB (~2 min). Writes spec/bench/results.md (overwritten) and prints it.
# Environment: DPTY (default build/dpty, built if missing), DOCKER (default: docker on PATH).
# Every container carries the label dpty.bench=1; leftovers are removed on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
label=dpty.bench=1

docker=${DOCKER:-$(command -v docker || true)}
[ -n "$docker" ] || { echo "run.sh: no docker CLI on PATH (set DOCKER=...)" >&2; exit 1; }

dpty=${DPTY:-$top/build/dpty}
if [ ! -x "$dpty" ] && [ -z "${DPTY:-}" ]; then
  echo "run.sh: building dpty" >&2
  cmake -S "$top" -B "$top/build" -DDPTY_WERROR=ON >/dev/null
  cmake --build "$top/build" >/dev/null
fi
[ -x "$dpty" ] || { echo "run.sh: no dpty executable at $dpty" >&2; exit 1; }

"$py" -c 'import docker, dockerpty' 2>/dev/null || {
  echo "run.sh: $py needs docker-py and dockerpty: apt-get install python3-docker python3-dockerpty" >&2
  exit 1
}
"$docker" image inspect busybox >/dev/null 2>&1 || {
  echo "run.sh: no local busybox image (spec/support/busybox-image.sh builds one)" >&2
  exit 1
}

tmp=$(mktemp -d /tmp/dpty-bench.XXXXXX)
cleanup() {
  ids=$("$docker" ps -aq --filter "label=$label" 2>/dev/null || true)
  if [ -n "$ids" ]; then
    echo "run.sh: removing leftover containers: $(echo $ids)" >&2
    "$docker" rm -f $ids >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cleanup_first=$("$docker" ps -aq --filter "label=$label")
[ -z "$cleanup_first" ] || "$docker" rm -f $cleanup_first >/dev/null

# Measure a private copy: the build tree may be rebuilt while the benchmark runs.
cp "$dpty" "$tmp/dpty"
cc -O2 -o "$tmp/launch" "$here/launch.c"
cc -O2 -o "$tmp/libcurl_floor" "$here/libcurl_floor.c" -lcurl
commit=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)

set +e
DPTY_COMMIT="$commit" "$py" "$here/measure.py" --dpty "$tmp/dpty" --dpty-shown "$dpty" --launch "$tmp/launch" --floor "$tmp/libcurl_floor" --docker "$docker" "$@"
rc=$?
set -e
exit $rc
