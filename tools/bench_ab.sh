#!/bin/sh
# bench_ab.sh A [bench_ab options]: cnn.h as of A (a git revision, or a file) as side a against
# the working tree's cnn.h as side b, in one process (tools/bench_ab.c), e.g.
#     sh tools/bench_ab.sh HEAD~1 --model 9 --what train
# CC (default cc) and CFLAGS (default -O3 -march=native -fopenmp) choose the build; the
# objects and the binary go to build/ab/.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: sh tools/bench_ab.sh REVISION|FILE [--model N] [--batch B] [--reps R] [--what train|forward|infer]" >&2
    exit 2
fi
a=$1
shift
case $a in /*) ;; *) if [ -f "$a" ]; then a="$(pwd)/$a"; fi ;; esac   # a file named from here
cd "$(dirname "$0")/.."
dir=build/ab
mkdir -p "$dir"
if [ -f "$a" ]; then
    cp "$a" "$dir/a.h.tmp"
elif ! git show "$a:cnn.h" > "$dir/a.h.tmp" 2>/dev/null; then
    rm -f "$dir/a.h.tmp"
    echo "bench_ab.sh: '$a' is neither a file nor a git revision with a cnn.h" >&2
    exit 2
fi
mv "$dir/a.h.tmp" "$dir/a.h"
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O3 -march=native -fopenmp}
# shellcheck disable=SC2086
$CC $CFLAGS -c -DCNN_AB_SIDE=0 -DCNN_AB_HEADER="\"../$dir/a.h\"" tools/bench_ab.c -o "$dir/a.o"
# shellcheck disable=SC2086
$CC $CFLAGS -c -DCNN_AB_SIDE=1 -DCNN_AB_HEADER='"../cnn.h"' tools/bench_ab.c -o "$dir/b.o"
# shellcheck disable=SC2086
$CC $CFLAGS tools/bench_ab.c "$dir/a.o" "$dir/b.o" -lm -o "$dir/bench_ab"
exec "$dir/bench_ab" "$@"
