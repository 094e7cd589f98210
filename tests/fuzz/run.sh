#!/usr/bin/env bash
# tests/fuzz/run.sh - the fuzz harnesses of tests/fuzz/ as a test:
#   (a) each harness built as a plain replay program (-DFUZZ_REPLAY_MAIN, warning-free) runs
#       its seed corpus and every regression file under ASan+UBSan (clang,
#       -fno-sanitize-recover=all) and under valgrind (gcc build);
#   (b) when clang's libFuzzer links, each harness fuzzes for FUZZ_SECONDS (default 10)
#       under ASan+UBSan, starting from its corpus and dictionary; any crash, leak, timeout
#       or failed invariant fails the step and leaves the input in $out/artifacts/.
# One line per step, then "fuzz: N passed, N failed"; exit status non-zero on any failure.
# The executions per harness are written to $out/fuzz-stats.txt (and printed).
#   bash tests/fuzz/run.sh                    FUZZ_SECONDS=60 bash tests/fuzz/run.sh
# FUZZ_CFLAGS adds flags to the libFuzzer builds only (e.g. -DFUZZ_ALLOW_KNOWN, see
# fuzz_model.c and fuzz_spec.c); FUZZ_HARNESSES picks some (default "idx gzip idx_any model ckpt
# spec"); FUZZ_BUILD_DIR moves the build (default build/fuzz).
set -u
cd "$(dirname "$0")/../.."
out=${FUZZ_BUILD_DIR:-build/fuzz}
secs=${FUZZ_SECONDS:-10}
mkdir -p "$out/logs"
passed=0 failed=0
HARNESSES=${FUZZ_HARNESSES:-idx gzip idx_any model ckpt spec}
declare -A MAXLEN=([idx]=8192 [gzip]=16384 [idx_any]=16384 [model]=4096 [ckpt]=4096 [spec]=1024)

# step NAME COMMAND...: run it, keep its output in $out/logs/NAME.log, show the tail on failure
step() {
    local name=$1; shift
    if "$@" >"$out/logs/$name.log" 2>&1; then
        passed=$((passed + 1)); printf 'ok    %s\n' "$name"
    else
        failed=$((failed + 1)); printf 'FAIL  %s\n' "$name"; tail -n 25 "$out/logs/$name.log" | sed 's/^/      /'
    fi
}

WARN="-std=c99 -Wall -Wextra -Wpedantic -Werror"
SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
# zlib, where installed, is a second decoder that fuzz_gzip compares against
ZLIB=""
if printf '#include <zlib.h>\nint main(void) { return zlibVersion() == 0; }\n' |
   cc -x c - -lz -o "$out/zlib_probe" >/dev/null 2>&1; then
    ZLIB="-DFUZZ_ZLIB"
fi
libs() { if [ "$1" = gzip ] && [ -n "$ZLIB" ]; then echo "-lm -lz"; else echo "-lm"; fi; }
extra() { if [ "$1" = gzip ]; then echo "$ZLIB"; fi; }
inputs() {   # the corpus and the regression files of harness $1
    local d
    for d in tests/fuzz/corpus/fuzz_$1 tests/fuzz/regressions/fuzz_$1; do [ -d "$d" ] && echo "$d"; done
}

# (a) replay: sanitizers, then valgrind
for h in $HARNESSES; do
    step "build-replay-asan-ubsan-$h" clang $WARN $SAN $(extra $h) -DFUZZ_REPLAY_MAIN \
        tests/fuzz/fuzz_$h.c $(libs $h) -o "$out/replay_san_$h"
    step "replay-asan-ubsan-$h" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1 "$out/replay_san_$h" $(inputs $h)
done
if command -v valgrind >/dev/null 2>&1; then
    for h in $HARNESSES; do
        step "build-replay-gcc-$h" gcc $WARN -g -O1 $(extra $h) -DFUZZ_REPLAY_MAIN \
            tests/fuzz/fuzz_$h.c $(libs $h) -o "$out/replay_gcc_$h"
        step "replay-valgrind-$h" valgrind --error-exitcode=1 -q "$out/replay_gcc_$h" $(inputs $h)
    done
else
    echo "skip  replay-valgrind (valgrind is not installed)"
fi

# (b) libFuzzer, a fixed budget per harness
stats="$out/fuzz-stats.txt"
: >"$stats"
fuzz_one() {   # fuzz_one HARNESS: run it from a scratch copy of its corpus, record the numbers
    local h=$1 work="$out/work/fuzz_$h" log="$out/logs/libfuzzer-$h.log" rc
    rm -rf "$work" "$out/artifacts/fuzz_$h"
    mkdir -p "$work" "$out/artifacts/fuzz_$h"
    nice -n 10 "$out/fuzz_$h" -max_total_time="$secs" -max_len="${MAXLEN[$h]}" \
        -dict="tests/fuzz/fuzz_$h.dict" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/fuzz_$h/" \
        "$work" "tests/fuzz/corpus/fuzz_$h" >"$log" 2>&1
    rc=$?
    awk -v h="fuzz_$h" -v s="$secs" '
        /^stat::number_of_executed_units/ { n = $2 }
        /^stat::average_exec_per_sec/     { r = $2 }
        /^stat::new_units_added/          { u = $2 }
        /(DONE|pulse|NEW|REDUCE) +cov:/   { for (i = 1; i < NF; i++) if ($i == "cov:") c = $(i + 1) }
        END { printf "%s: %s executions in %s s (%s/s), %s new inputs, %s edges covered\n", h, n, s, r, u, c }
    ' "$log" >>"$stats" 2>/dev/null
    if [ $rc -ne 0 ]; then
        tail -n 30 "$log"
        echo "finding: $(ls "$out/artifacts/fuzz_$h"/* 2>/dev/null | head -n 3)"
        echo "reproduce: $out/replay_san_$h FILE; keep it as tests/fuzz/regressions/fuzz_$h/NAME"
    fi
    return $rc
}
if echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
   clang -x c - -fsanitize=fuzzer -o "$out/libfuzzer_probe" >/dev/null 2>&1; then
    for h in $HARNESSES; do
        step "build-libfuzzer-$h" clang $SAN -fsanitize=fuzzer $(extra $h) ${FUZZ_CFLAGS:-} \
            tests/fuzz/fuzz_$h.c $(libs $h) -o "$out/fuzz_$h"
        step "fuzz-$h-${secs}s" fuzz_one $h
    done
    sed 's/^/      /' "$stats"
else
    echo "skip  libfuzzer (clang -fsanitize=fuzzer does not link: install libclang-rt-14-dev)"
fi

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
