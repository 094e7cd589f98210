#!/usr/bin/env bash
# tests/run.sh - the whole test suite: warning-free builds (gcc, clang, C++, CNN_STATIC), every
# test program plain, with OpenMP at 1 and 2 threads, and under ASan+UBSan with gcc and clang,
# the same weights from every build, the examples. Ends with "N passed, N failed".
#   bash tests/run.sh            (QUICK=1 skips the sanitizer builds)
set -u
cd "$(dirname "$0")/.."
out=${BUILD_DIR:-build/tests}
mkdir -p "$out"
passed=0 failed=0

# step NAME COMMAND...: run it, keep its output in $out/NAME.log, show the tail on failure
step() {
    local name=$1; shift
    if "$@" >"$out/$name.log" 2>&1; then
        passed=$((passed + 1)); printf 'ok    %s\n' "$name"
    else
        failed=$((failed + 1)); printf 'FAIL  %s\n' "$name"; tail -n 25 "$out/$name.log" | sed 's/^/      /'
    fi
}

WARN="-std=c99 -Wall -Wextra -Wpedantic -Werror"
TESTS=$(ls tests/test_*.c | sed 's|tests/||; s|\.c$||')

# 1. the header and the examples compile without a warning
for cc in gcc clang; do
    step "build-$cc-c99" $cc $WARN -O2 tests/header_only.c -o "$out/header_$cc" -lm
    step "build-$cc-c99-openmp" $cc $WARN -O2 -fopenmp -c tests/header_only.c -o "$out/header_${cc}_omp.o"
    step "build-$cc-no-stdio" $cc $WARN -DCNN_NO_STDIO -c tests/header_only.c -o "$out/header_${cc}_nostdio.o"
done
step build-g++ g++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -c tests/header_only.c -o "$out/header_gxx.o"
step build-clang++ clang++ -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -c tests/header_only.c -o "$out/header_clangxx.o"
# and with this machine's vector extensions, optimised: the AVX-512 paths' intrinsics (in GCC 12
# some of them set off -Wmaybe-uninitialized in C++ only) and vector-extension code
for cxx in g++ clang++; do
    step "build-$cxx-native" $cxx -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O2 -march=native -c tests/header_only.c \
        -o "$out/header_${cxx}_native.o"
done
step build-cnn-static-two-units gcc $WARN -O1 tests/static_a.c tests/static_b.c -o "$out/static" -lm
step run-cnn-static-two-units "$out/static"
for f in examples/*.c tools/*.c; do
    [ -f "$f" ] || continue
    n=$(basename "$f" .c)
    [ "$n" = bench_ab ] && continue   # two versions of cnn.h, three objects: tools/bench_ab.sh (step bench-ab)
    step "build-$n" gcc $WARN -O2 "$f" -o "$out/$n" -lm
done

# 2. every test: plain, OpenMP with 1 and 2 threads
for t in $TESTS; do
    step "build-$t" gcc $WARN -O2 "tests/$t.c" -o "$out/$t" -lm
    step "run-$t" "$out/$t"
    step "build-$t-openmp" gcc $WARN -O2 -fopenmp "tests/$t.c" -o "$out/${t}_omp" -lm
    step "run-$t-omp1" env OMP_NUM_THREADS=1 "$out/${t}_omp"
    step "run-$t-omp2" env OMP_NUM_THREADS=2 "$out/${t}_omp"
done

# the GEMM micro-kernel comes in three widths (SSE2 by default, AVX2/AVX-512 with -march) and a
# plain-C fallback: the im2col-vs-naive and gradient tests run against each variant
step build-gemm-portable gcc $WARN -O2 -DCNN_GEMM_PORTABLE tests/test_layers.c -o "$out/layers_portable" -lm
step run-gemm-portable "$out/layers_portable"
for arch in native x86-64-v3; do
    if gcc -march=$arch -E -x c /dev/null >/dev/null 2>&1; then
        step "build-gemm-march-$arch" gcc $WARN -O3 -march=$arch tests/test_grad.c -o "$out/grad_$arch" -lm
        step "run-gemm-march-$arch" "$out/grad_$arch"
        step "build-layers-march-$arch" gcc $WARN -O3 -march=$arch tests/test_layers.c -o "$out/layers_$arch" -lm
        step "run-layers-march-$arch" "$out/layers_$arch"
        # with OpenMP: the Winograd convolution (AVX-512) at 1 and 2 threads, bit for bit
        step "build-layers-march-$arch-openmp" gcc $WARN -O3 -march=$arch -fopenmp tests/test_layers.c \
            -o "$out/layers_${arch}_omp" -lm
        step "run-layers-march-$arch-openmp" env OMP_NUM_THREADS=2 "$out/layers_${arch}_omp"
        step "build-layers-march-$arch-no-intrinsics" gcc $WARN -O3 -march=$arch -DCNN_NO_INTRINSICS tests/test_layers.c \
            -o "$out/layers_${arch}_noint" -lm
        step "run-layers-march-$arch-no-intrinsics" "$out/layers_${arch}_noint"
    fi
done

# 32-bit builds (size_t of 32 bits, x87 floats) where the toolchain has them (gcc-multilib)
if printf 'int main(void){return 0;}\n' | gcc -m32 -x c - -o "$out/m32_probe" >/dev/null 2>&1; then
    for t in $TESTS; do
        step "build-$t-m32" gcc $WARN -m32 -O2 "tests/$t.c" -o "$out/${t}_m32" -lm
        step "run-$t-m32" "$out/${t}_m32"
    done
    # GCC's GNU modes keep x87 excess precision through casts: batch norm must still give the
    # bits of the public layers there (cnn__f32)
    step build-test_layers-m32-gnu99 gcc -std=gnu99 -Wall -Wextra -Wpedantic -Werror -m32 -O2 tests/test_layers.c -o "$out/layers_m32_gnu" -lm
    step run-test_layers-m32-gnu99 "$out/layers_m32_gnu"
else
    echo "skip  -m32 builds: gcc cannot build 32-bit programs here (install gcc-multilib)"
fi

# divergence is caught by reading exponent bits, so it survives -ffast-math
step build-test_train-fast-math gcc $WARN -O2 -ffast-math tests/test_train.c -o "$out/train_fastmath" -lm
step run-test_train-fast-math "$out/train_fastmath"
# sigmoid's and tanh's e^x keeps its accuracy there (its range reduction in double when __FAST_MATH__)
step build-test_act-fast-math gcc $WARN -O2 -ffast-math tests/test_act.c -o "$out/act_fastmath" -lm
step run-test_act-fast-math "$out/act_fastmath"
# ... and under -Ofast, whose fast-math cnn.h's "#pragma GCC optimize" must keep
step build-test_act-ofast gcc $WARN -Ofast tests/test_act.c -o "$out/act_ofast" -lm
step run-test_act-ofast "$out/act_ofast"

# 3. OpenMP never changes a bit: the trained weights' hash is the same in every build
same_hash() {
    local a b c
    a=$(grep 'weights hash' "$out/run-test_train.log")
    b=$(grep 'weights hash' "$out/run-test_train-omp1.log")
    c=$(grep 'weights hash' "$out/run-test_train-omp2.log")
    echo "plain: $a"; echo "omp 1: $b"; echo "omp 2: $c"
    [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ]
}
step same-weights-with-and-without-openmp same_hash
# nor does GCC's -O level: the implementation compiles at -O3 whatever the caller's (#pragma GCC
# optimize in cnn.h), so with FMA to contract (GNU mode, -march=native on a machine with FMA)
# an -O1 and an -O3 build train the same weights (without the pragma they differ)
if grep -qw fma /proc/cpuinfo 2>/dev/null && gcc -march=native -E -x c /dev/null >/dev/null 2>&1; then
    for o in O1 O3; do
        step "build-test_train-$o-native" gcc -std=gnu99 -Wall -Wextra -Wpedantic -Werror -$o -march=native tests/test_train.c \
            -o "$out/train_${o}_native" -lm
        step "run-test_train-$o-native" "$out/train_${o}_native"
    done
    same_hash_olevel() {
        local a b
        a=$(grep 'weights hash' "$out/run-test_train-O1-native.log")
        b=$(grep 'weights hash' "$out/run-test_train-O3-native.log")
        echo "-O1: $a"; echo "-O3: $b"
        [ -n "$a" ] && [ "$a" = "$b" ]
    }
    step same-weights-at-O1-and-O3 same_hash_olevel
else
    echo "skip  same-weights-at-O1-and-O3: no FMA here, so nothing for the -O level to change"
fi

# 4. sanitizers: every test under ASan + UBSan, gcc and clang, any report is fatal
if [ "${QUICK:-0}" != 1 ]; then
    SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
    for cc in gcc clang; do
        for t in $TESTS; do
            step "build-$t-asan-ubsan-$cc" $cc $WARN $SAN "tests/$t.c" -o "$out/${t}_san_$cc" -lm
            step "run-$t-asan-ubsan-$cc" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
                "$out/${t}_san_$cc"
        done
    done
    # the AVX-512 code (the Winograd convolution) is built only with -march on such a machine
    if grep -qw avx512f /proc/cpuinfo 2>/dev/null && gcc -march=native -E -x c /dev/null >/dev/null 2>&1; then
        for cc in gcc clang; do
            for t in test_layers test_grad; do
                step "build-$t-native-asan-ubsan-$cc" $cc $WARN $SAN -march=native "tests/$t.c" -o "$out/${t}_san_native_$cc" -lm
                step "run-$t-native-asan-ubsan-$cc" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
                    UBSAN_OPTIONS=print_stacktrace=1 "$out/${t}_san_native_$cc"
            done
        done
    else
        echo "skip  native sanitizer builds: no AVX-512 here, so no Winograd code to check"
    fi
fi

# valgrind on the gcc build: the tests that read files and parse input (the training tests
# are too slow under it; ASan covers them)
if [ "${QUICK:-0}" != 1 ]; then
    for t in test_layers test_spec test_model test_gzip test_idx test_alloc_fail; do
        [ -x "$out/$t" ] && step "run-$t-valgrind" valgrind -q --error-exitcode=1 --leak-check=full "$out/$t"
    done
fi

# 5. fuzzing: every harness replays its corpus and regressions under ASan+UBSan and valgrind,
# then fuzzes for FUZZ_SECONDS (10) under libFuzzer; any finding fails
if [ "${QUICK:-0}" != 1 ]; then
    step fuzz env FUZZ_BUILD_DIR="$out/fuzz" bash tests/fuzz/run.sh
fi

# 6. the examples and tools run
step run-quickstart "$out/quickstart"
bench_smoke() { "$out/bench" --quick > "$out/bench.txt" && grep -q '^train_images_per_s model=1 batch=32 threads=1: [0-9]' "$out/bench.txt" &&
                grep -q '^peak_gflops' "$out/bench.txt" && grep -q '^act_ns_per_element fn=tanh impl=cnn threads=1: [0-9]' "$out/bench.txt" &&
                grep -q '^dropout_mask_ns_per_element rate=0.2 threads=1: [0-9]' "$out/bench.txt"; }
step run-bench-quick bench_smoke
bench_model() { "$out/bench" --quick --model 22 > "$out/bench22.txt" && grep -q '^infer_images_per_s model=22 batch=128 threads=1: [0-9]' "$out/bench22.txt" &&
                ! grep -q '^peak_gflops\|model=1 ' "$out/bench22.txt" && ! "$out/bench" --model 23 2>/dev/null; }
step run-bench-one-model bench_model
bench_conv() { "$out/bench" --quick --conv 8,9,9,4,2,2 > "$out/bench_conv.txt" &&
               grep -q '^conv_us_per_image shape=8x9x9-4x2x2 dir=dx batch=32 threads=1: [0-9]' "$out/bench_conv.txt" &&
               ! grep -q '^peak_gflops\|images_per_s' "$out/bench_conv.txt" &&
               ! "$out/bench" --conv 8,9,9,4,12,2 2>/dev/null && "$out/bench" --conv 8,9,9,4,2 2>&1 | grep -q 'C,H,W,K,R,S'; }
step run-bench-one-conv bench_conv
idxinfo_smoke() {
    local d=${CNN_DATA_DIR:-/usr/share/datasets/fashion-mnist}
    "$out/idxinfo" "$d/train-labels-idx1-ubyte.gz" | grep -q '6000' && ! "$out/idxinfo" tests/run.sh
}
step run-idxinfo idxinfo_smoke

# 7. the study end to end on a small budget, with a kill -9 and a resume
step study-end-to-end bash tests/study_e2e.sh "$out/study"
predict_smoke() { "$out/predict" "$out/study/a/m22_bnact_s42/model.cnn" 3 | grep -q '^accuracy over 10000 test images: 0\.[5-9]'; }
step run-predict-on-a-study-model predict_smoke
# the README's main job trains (a committed results/quick must not make it skip everything) and
# says where its report is; one configuration here, all 22 in the README's command
main_job() {
    local d="$out/main-job"
    rm -rf "$d"
    STUDY_OUT="$d" sh tools/run-study.sh --models 22 --no-progress > "$out/main-job.txt" 2>&1 &&
        grep -q "^The report is $d/report.md" "$out/main-job.txt" && [ -s "$d/report.md" ] &&
        [ -s "$d/m22_bnact_s42/result.json" ] && ! grep -q 'finished before' "$out/main-job.txt"
}
step main-job-trains main_job
estimate_smoke() {
    python3 tools/study_estimate.py results/full results/bench/bench-models-*-run*.txt > "$out/estimate.txt" &&
        [ "$(grep -c '^ *[0-9]' "$out/estimate.txt")" -eq 22 ] && grep -q '^total: [0-9]* s' "$out/estimate.txt" &&
        ! python3 tools/study_estimate.py results/full tests/run.sh >/dev/null 2>&1 &&
        python3 tools/study_estimate.py --jobs 2 --threads 1 results/full results/bench/bench-models-*-pairs-run*.txt \
            > "$out/estimate-jobs.txt" &&
        python3 - "$out/estimate-jobs.txt" <<'PY'
import re, sys
# two jobs end no sooner than half the runs' sum and no later than the sum less the shortest run
text = open(sys.argv[1]).read()
rows = [float(l.split()[4]) for l in text.splitlines() if re.match(r" *[0-9]", l)]
m = re.search(r"^total: ([0-9]+) s \([0-9.]+ hours\) as 2 jobs side by side on 1 threads each \(([0-9]+) s of runs\)$", text, re.M)
ok = len(rows) == 22 and m and abs(float(m.group(2)) - sum(rows)) <= 22 and \
    sum(rows) / 2 - 1 <= float(m.group(1)) <= sum(rows) - min(rows) + 1
sys.exit(0 if ok else 1)
PY
}
step study-estimate estimate_smoke
# --scale: each model's training images/s divided by its ratio in a tools/bench_ab.sh output,
# inference as benched; a file without ratios is refused
estimate_scale() {
    local ab=results/bench/ab-models-e6f41f2-vs-803b2a3.txt pairs="results/bench/bench-models-*-e6f41f2-pairs-run*.txt"
    # shellcheck disable=SC2086  # $pairs: a glob, to be expanded
    python3 tools/study_estimate.py --jobs 2 --threads 1 results/full $pairs > "$out/estimate-e6.txt" &&
        python3 tools/study_estimate.py --jobs 2 --threads 1 --scale "$ab" results/full $pairs > "$out/estimate-scaled.txt" &&
        ! python3 tools/study_estimate.py --scale tests/run.sh results/full $pairs >/dev/null 2>&1 &&
        python3 - "$out/estimate-e6.txt" "$out/estimate-scaled.txt" "$ab" <<'PY'
import re, sys
def rows(path):
    return {int(l.split()[0]): (float(l.split()[2]), float(l.split()[3]))
            for l in open(path).read().splitlines() if re.match(r" *[0-9]", l)}
before, after = rows(sys.argv[1]), rows(sys.argv[2])
ratio = {(m.group(1), int(m.group(2))): float(m.group(3)) for m in
         re.finditer(r"^ab_ratio what=(train|infer) model=(\d+) batch=32 b_over_a: ([0-9.]+)$", open(sys.argv[3]).read(), re.M)}
ok = len(before) == 22 and before.keys() == after.keys() and all(
    abs(after[k][i] - before[k][i] / ratio[(w, k)]) <= 1 + 1e-3 * after[k][i] for k in before for i, w in
    ((0, "train"), (1, "infer")))
sys.exit(0 if ok else 1)
PY
}
step study-estimate-scaled estimate_scale
# the two-version bench builds warning-free, compares cnn.h with itself and refuses what it
# cannot run
bench_ab_smoke() {
    CFLAGS="$WARN -O2" sh tools/bench_ab.sh cnn.h --model 22 --batch 4 --reps 4 > "$out/bench_ab.txt" &&
        grep -q '^ab_us_per_image what=train model=22 batch=4 side=a: [0-9]' "$out/bench_ab.txt" &&
        grep -q '^ab_us_per_image what=train model=22 batch=4 side=b: [0-9]' "$out/bench_ab.txt" &&
        grep -q '^ab_ratio what=train model=22 batch=4 b_over_a: [0-9]*\.[0-9]*$' "$out/bench_ab.txt" &&
        ! sh tools/bench_ab.sh no-such-revision-or-file 2>/dev/null && ! build/ab/bench_ab --model 23 2>/dev/null &&
        ! build/ab/bench_ab --what backward 2>/dev/null
}
step bench-ab bench_ab_smoke
# the per-layer timer of the README's breakdown still finds its places in cnn.h, builds
# warning-free and times every layer
layer_times_smoke() {
    python3 tools/layer_times.py --model 22 --batch 4 --steps 2 --threads 1 --cc "gcc $WARN -O2" > "$out/layer_times.txt" &&
        grep -q '^forward  layer  0 (conv' "$out/layer_times.txt" && grep -q '^backward layer  0 (conv' "$out/layer_times.txt" &&
        grep -q '^timed: [0-9.]*, whole steps: [0-9.]*' "$out/layer_times.txt" &&
        ! python3 tools/layer_times.py --steps 0 >/dev/null 2>&1
}
step layer-times layer_times_smoke

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
