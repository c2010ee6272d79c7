#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harnesses (fuzz/, clang, -fsanitize=fuzzer,address,undefined)
# in $FUZZ_BUILD and runs each for $FUZZ_SECONDS, one after the other (2 cores: one fuzzer at
# a time). Each starts from the committed corpus fuzz/corpus/<target>/ (read only) and keeps
# what it learns in $FUZZ_BUILD/corpus/<target>/, so later runs go on from there. A crash, a
# leak, undefined behaviour, an input slower than 10 s or over 2 GB fails the run and leaves
# the input as $FUZZ_BUILD/crashes/<target>-crash-<sha1>: fix the bug, then commit the
# input to fuzz/corpus/<target>/ (the unit tests replay it; docs/SECURITY.md, "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
# Target and its inputs' longest length: a request line or header past the 16 KiB limit,
# bodies nested deep, signature headers and events.
TARGETS=("http_request 20000" "json_fields 16384" "webhook_signatures 4096")

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S fuzz -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
fi
cmake --build "$BUILD"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$BUILD/crashes"
failed=()
for entry in "${TARGETS[@]}"; do
  read -r target max_len <<<"$entry"
  mkdir -p "$BUILD/corpus/$target"
  log="$BUILD/$target.log"
  echo "fuzz: $target for ${SECONDS_EACH} s (log: $log)"
  if "$BUILD/${target}_fuzzer" -max_total_time="$SECONDS_EACH" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$BUILD/crashes/$target-" -print_final_stats=1 \
       "$BUILD/corpus/$target" "fuzz/corpus/$target" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -n 2 | sed 's/^/  /'
  else
    echo "fuzz: $target FAILED; its last lines:"
    tail -n 40 "$log" | sed 's/^/  /'
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]} (inputs in $BUILD/crashes/)"
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_EACH} s each, no crash"
