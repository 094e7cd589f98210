#!/bin/sh
# tools/run-study.sh - the main job: install the data if it is missing, build tools/study, run
# the quick study (all 22 configurations on a small budget, see `study --help`) and say where
# the report is. Extra arguments go to study, e.g. `tools/run-study.sh --models 1,22`.
set -eu
cd "$(dirname "$0")/.."
sh tools/get-data.sh
mkdir -p build
# fastest build first; plain C99 when the compiler lacks OpenMP or -march=native
cc -O3 -march=native -fopenmp tools/study.c -lm -o build/study 2>/dev/null ||
    cc -O2 tools/study.c -lm -o build/study
# into out/quick (STUDY_OUT overrides), not results/quick: that one is committed as a reference, and a
# study skips every configuration whose result is already there
out=${STUDY_OUT:-out/quick}
./build/study --quick --out "$out" "$@"
echo "The report is $out/report.md (plots beside it)."
