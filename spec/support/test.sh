#!/usr/bin/env bash
# The test command: set up (packages, build, engine, image), run the specs against build/,
# then build with AddressSanitizer + UBSan into build-asan/ and run the specs again.
#   spec/support/test.sh [FILES|DIRS] [BUSTED OPTIONS]   e.g. spec/support/test.sh spec/unit
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

# Every spec file runs in a busted of its own under a watchdog: a file still running after
# DPTY_SPEC_TIMEOUT seconds (default 300) is stopped and counted as failed, with the test it
# was in (spec/support/watched_output.lua writes that down), the processes then running and the
# engine's last log lines; the next file goes on. Past DPTY_TEST_BUDGET seconds from the start
# of this script (default 4500) no further file is started, so a run always ends, with a report,
# well inside CI's 90 minutes.
file_timeout=${DPTY_SPEC_TIMEOUT:-300}
budget=${DPTY_TEST_BUDGET:-4500}

# spec_files: the files of the default run, or what was named on the command line
spec_files=()
busted_opts=()
for a in "$@"; do
  if [ -d "$a" ]; then
    while IFS= read -r f; do spec_files+=("$f"); done < <(find "$a" -name '*_spec.lua' | sort)
  elif [ -f "$a" ]; then
    spec_files+=("$a")
  else
    busted_opts+=("$a")
  fi
done
if ((${#spec_files[@]} == 0)); then
  while IFS= read -r f; do spec_files+=("$f"); done < <(find spec/unit spec/engine -name '*_spec.lua' | sort)
fi

# What was running when a file hung: the process tree (without kernel threads) and the engine.
hang_report() { # LABEL FILE NOW_FILE
  say "$1: $2 still running after ${file_timeout}s; stopping it"
  say "it was in: $(cat "$3" 2>/dev/null || echo '(nothing recorded)')"
  say "processes:"
  ps -eo pid,ppid,etime,args --forest | awk '$2 != 2 && $1 != 2' | cut -c1-200 >&2 || true
  say "last lines of /var/log/dpty-dockerd.log:"
  tail -n 15 /var/log/dpty-dockerd.log >&2 2>/dev/null || true
}

# spec_file LABEL FILE [VAR=VALUE...]: one file in a busted of its own; adds up its summary.
# Shows busted's output but for its progress marks and summary, then one line for the file.
spec_file() {
  local label=$1 file=$2 out now rc line s f e started watcher
  shift 2
  out=$(mktemp)
  now=$(mktemp)
  started=$SECONDS
  # the watchdog reports shortly before timeout(1) stops busted and everything in its group
  (
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$((file_timeout > 10 ? file_timeout - 5 : file_timeout))" </dev/null >/dev/null 2>&1 &
    sleeper=$!
    wait "$sleeper"
    hang_report "$label" "$file" "$now"
  ) &
  watcher=$!
  set +e
  timeout -k 15 "$file_timeout" env "$@" DPTY_SPEC_NOW="$now" \
    lua5.4 /usr/bin/busted -o spec/support/watched_output.lua "${busted_opts[@]}" "$file" </dev/null >"$out" 2>&1
  rc=$?
  set -e
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  sed 's/\x1b\[[0-9;]*m//g' "$out" |
    grep -v -E '^[-+*.]*$|^[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' >&2 || true
  line=$(sed 's/\x1b\[[0-9;]*m//g' "$out" |
    grep -E '^[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' | tail -n 1 || true)
  rm -f "$out" "$now"
  if [ -z "$line" ]; then
    if ((rc == 124 || rc == 137)); then
      say "$label: $file: stopped after ${file_timeout}s (see above)"
    else
      say "$label: $file: busted printed no summary (exit $rc)"
    fi
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
  printf 'test: %-11s %-38s %4d passed, %d failed  %4ds\n' "$label" "$file" "$s" "$((f + e))" \
    "$((SECONDS - started))" >&2
}

# specs LABEL [VAR=VALUE...]: every spec file with that environment
specs() {
  local label=$1 file
  shift
  say "specs against $label"
  for file in "${spec_files[@]}"; do
    if ((SECONDS >= budget)); then
      say "$label: $file not run: the run's time budget (${budget}s) is spent"
      failed=$((failed + 1))
      status=1
      continue
    fi
    spec_file "$label" "$file" "$@"
  done
}

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
