#!/usr/bin/env bash
# The test command: set up (packages, build, engine, image), run the specs against build/,
# then build with AddressSanitizer + UBSan into build-asan/ and run the specs again.
#   spec/support/test.sh [BUSTED ARGS...]     e.g. spec/support/test.sh spec/unit
#   DPTY_SKIP_ASAN=1 spec/support/test.sh     skip the sanitizer pass
# Ends with "N passed, M failed" (both passes together); exits non-zero if anything failed.
# This run's containers (label dpty.test=$DPTY_TEST_RUN) are removed at the end, whatever
# happened; other runs sharing the engine keep theirs. Sweep every run's leftovers by hand with
#   docker ps -aq --filter label=dpty.test | xargs -r docker rm -f
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

passed=0
failed=0
status=0

say() { printf 'test: %s\n' "$*" >&2; }

if [ -z "${DPTY_TEST_RUN:-}" ]; then
  DPTY_TEST_RUN=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
fi
export DPTY_TEST_RUN

cleanup() {
  if command -v docker >/dev/null 2>&1; then
    env -u LD_PRELOAD docker ps -aq --filter "label=dpty.test=$DPTY_TEST_RUN" 2>/dev/null |
      xargs -r env -u LD_PRELOAD docker rm -f >/dev/null 2>&1 || true
  fi
}
finish() {
  local rc=$?
  trap - EXIT
  cleanup
  if ((rc != 0 && status == 0)); then status=$rc; fi
  echo "$passed passed, $failed failed"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! spec/support/setup.sh; then
  say "setup failed"
  failed=$((failed + 1))
  status=1
  exit 1
fi

# specs LABEL [VAR=VALUE...]: run busted with that environment; add up its summary line
specs() {
  local label=$1 out rc line s f e
  shift
  say "specs against $label"
  out=$(mktemp)
  set +e
  env "$@" lua5.4 /usr/bin/busted "${busted_args[@]}" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  line=$(sed 's/\x1b\[[0-9;]*m//g' "$out" |
    grep -E '^[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' | tail -n 1 || true)
  rm -f "$out"
  if [ -z "$line" ]; then
    say "$label: busted printed no summary (exit $rc)"
    failed=$((failed + 1))
    status=1
    return
  fi
  read -r s _ _ f _ _ e _ <<<"$line"
  passed=$((passed + s))
  failed=$((failed + f + e))
  if ((rc != 0 || f + e > 0)); then
    status=1
  fi
}

busted_args=("$@")

specs build DPTY_BUILD=build

if [ "${DPTY_SKIP_ASAN:-}" = 1 ]; then
  say "DPTY_SKIP_ASAN=1: no sanitizer pass"
else
  say "building build-asan/ (AddressSanitizer, UBSan)"
  log=$(mktemp)
  if cmake -S . -B build-asan -DDPTY_SANITIZE=ON -DDPTY_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >"$log" 2>&1 &&
    cmake --build build-asan -j2 >>"$log" 2>&1; then
    rm -f "$log"
    specs build-asan DPTY_BUILD=build-asan \
      LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
      ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  else
    cat "$log" >&2
    rm -f "$log"
    say "sanitizer build failed"
    failed=$((failed + 1))
    status=1
  fi
fi
