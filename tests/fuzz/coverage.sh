#!/usr/bin/env bash
# tests/fuzz/coverage.sh - line coverage of cnn.h's parsing code (spec parser, gzip/DEFLATE,
# IDX, data set, model format) by the fuzz inputs and the unit tests, with clang's source-based
# coverage (-fprofile-instr-generate -fcoverage-mapping, llvm-profdata, llvm-cov).
#   bash tests/fuzz/coverage.sh [EXTRA_CORPUS_ROOT]
# Two rows per section: the committed inputs (tests/fuzz/corpus and regressions) alone, then
# those plus EXTRA_CORPUS_ROOT/fuzz_<harness> (e.g. build/fuzz/work, what tests/fuzz/run.sh
# fuzzed up) plus the unit tests test_idx, test_gzip, test_model, test_spec, test_alloc_fail.
# Every input is replayed in its own process, so one that aborts loses only its own counts.
set -eu
cd "$(dirname "$0")/../.."
extra=${1:-}
out=${FUZZ_BUILD_DIR:-build/fuzz}/coverage
rm -rf "$out"
mkdir -p "$out/raw_seed" "$out/raw_all"
COV="-O0 -g -fprofile-instr-generate -fcoverage-mapping"
objects=()
zlib=""; printf '#include <zlib.h>\nint main(void){return 0;}\n' | cc -x c - -lz -o "$out/zprobe" 2>/dev/null && zlib="-DFUZZ_ZLIB -lz"

replay() {   # replay BINARY PROFILE_DIR DIR...: every file, one process each
    local bin=$1 prof=$2 f; shift 2
    find "$@" -type f 2>/dev/null | sort | while read -r f; do
        LLVM_PROFILE_FILE="$prof/%p-%m.profraw" "$bin" "$f" >/dev/null 2>&1 || true
    done
}

for h in idx gzip idx_any model spec; do
    z=""; [ "$h" = gzip ] && z=$zlib
    clang $COV -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_$h.c -lm $z -o "$out/replay_$h"
    objects+=(-object "$out/replay_$h")
    dirs=(tests/fuzz/corpus/fuzz_$h)
    [ -d tests/fuzz/regressions/fuzz_$h ] && dirs+=(tests/fuzz/regressions/fuzz_$h)
    replay "$out/replay_$h" "$out/raw_seed" "${dirs[@]}"
    [ -n "$extra" ] && [ -d "$extra/fuzz_$h" ] && dirs+=("$extra/fuzz_$h")
    replay "$out/replay_$h" "$out/raw_all" "${dirs[@]}"
done
for t in test_idx test_gzip test_model test_spec test_alloc_fail; do
    [ -f tests/$t.c ] || continue
    clang $COV tests/$t.c -lm -o "$out/$t"
    objects+=(-object "$out/$t")
    LLVM_PROFILE_FILE="$out/raw_all/%p-%m.profraw" "$out/$t" >/dev/null 2>&1 || true
done
llvm-profdata merge -sparse "$out"/raw_seed/*.profraw -o "$out/seed.profdata"
llvm-profdata merge -sparse "$out"/raw_all/*.profraw -o "$out/all.profdata"

# section boundaries: the implementation markers of cnn.h (the model section's part from memory
# ends where its stdio part, files and checkpoints, begins)
line_of() { grep -n -F -- "$1" cnn.h | awk -F: -v after="${2:-0}" '$1 > after { print $1; exit }'; }
spec_a=$(line_of '>>spec implementation'); spec_b=$(line_of '>>net implementation')
gz_a=$(line_of '>>gzip  DEFLATE'); idx_a=$(line_of '>>idx  IDX files'); ds_a=$(line_of '>>dataset ---')
mod_a=$(line_of '>>model implementation'); mod_b=$(line_of '#ifndef CNN_NO_STDIO' "$mod_a")
met_a=$(line_of '>>metrics implementation')
[ -n "$met_a" ] || met_a=$(wc -l < cnn.h)
[ -n "$mod_b" ] || mod_b=$met_a
sections="spec_parser,$spec_a,$spec_b;gzip/DEFLATE,$gz_a,$idx_a;IDX_(+files),$idx_a,$ds_a;data_set,$ds_a,$mod_a"
sections="$sections;model_from_memory,$mod_a,$mod_b;model_files+checkpoints,$mod_b,$met_a"

report() {   # report PROFDATA LABEL
    llvm-cov show "${objects[1]}" "${objects[@]:2}" -instr-profile="$1" cnn.h 2>/dev/null |
    awk -v label="$2" -v r="$sections" '
        BEGIN { n = split(r, parts, ";"); for (i = 1; i <= n; i++) { split(parts[i], f, ","); name[i] = f[1]; a[i] = f[2]; b[i] = f[3] } }
        /^ *[0-9]+\|/ {
            split($0, c, "|"); ln = c[1] + 0; cnt = c[2]; gsub(/ /, "", cnt)
            if (cnt == "") next
            exec_line[ln] = 1; if (cnt != "0") hit_line[ln] = 1
        }
        END {
            for (i = 1; i <= n; i++) {
                t = 0; h = 0
                for (ln in exec_line) if (ln + 0 >= a[i] && ln + 0 < b[i]) { t++; if (ln in hit_line) h++ }
                nm = name[i]; gsub(/_/, " ", nm)
                printf "%-24s %-40s %5d / %5d lines  %5.1f%%\n", nm, label, h, t, t ? 100 * h / t : 0
            }
        }'
}
echo "coverage of cnn.h's parsing code (lines with code, clang source-based coverage):"
report "$out/seed.profdata" "committed corpus + regressions"
report "$out/all.profdata" "+ ${extra:-no extra corpus} + unit tests"
