#!/usr/bin/env bash
# tests/study_e2e.sh - tools/study end to end on a small budget (2 configurations, 3000 training
# images, 2 epochs): result files parse, the report carries the study's numbers, every SVG is
# well-formed XML, a second run with the same seed gives the same numbers, a study killed with
# SIGKILL resumes without redoing finished runs, --merge and --list-commands. Needs the
# Fashion-MNIST package.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/tests/study}
rm -rf "$out"; mkdir -p "$out"
fail() { echo "FAIL: $*"; exit 1; }

gcc -std=c99 -O2 -fopenmp tools/study.c -o "$out/study" -lm
args=(--models 1,22 --limit 3000 --test-limit 1000 --epochs 2 --patience 2 --batch 32 --no-progress)

"$out/study" "${args[@]}" --out "$out/a" > "$out/a.log" || fail "study run a: $(tail -3 "$out/a.log")"
n=$(ls -d "$out"/a/m*/ | wc -l)
[ "$n" = 2 ] || fail "expected 2 run directories, found $n"

# result.json has the promised keys and parses; history.csv has Keras' CSVLogger columns
for d in "$out"/a/m*/; do
    python3 - "$d" <<'PY' || fail "bad result files in $d"
import csv, json, sys
d = sys.argv[1]
r = json.load(open(d + "/result.json"))
for k in ["train_acc", "test_acc", "train_loss", "test_loss", "epochs", "best_epoch", "seconds", "seed", "spec", "config"]:
    assert k in r, k
assert 0 <= r["test_acc"] <= 1 and r["test_loss"] > 0 and 1 <= r["best_epoch"] <= r["epochs"] <= 2
assert sum(r["confusion"]) == 1000 and len(r["confusion"]) == 100
rows = list(csv.DictReader(open(d + "/history.csv")))
assert [k for k in rows[0]] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "seconds"], rows[0].keys()
assert len(rows) == r["epochs"]
PY
    [ -s "$d/model.cnn" ] && [ -s "$d/report.txt" ] || fail "$d: model or report missing"
done

# the report shows the study's own figures for these rows beside ours
rep="$out/a/report.md"
for want in "| 1 | \`(64, (3,3), (1,1), 'relu', 0.2, 2, 'max') (32, (2,2), (1,1), 'relu', 0.2, 2, 'max')\` | 0.961 |" \
            "| 22 | \`(64, (3,3), (1,1), 'relu', 0.2, 2, 'max')\` | 0.962 |" "0.271" "## Pool type" "macro avg"; do
    grep -qF "$want" "$rep" || fail "report.md lacks: $want"
done

# every SVG is well-formed XML
svgs=$(find "$out/a" -name '*.svg')
[ "$(echo "$svgs" | wc -l)" -ge 7 ] || fail "expected at least 7 SVG files"
xmllint --noout $svgs || fail "malformed SVG"

# same seed, same numbers (everything but the timings)
strip() { grep -v '"seconds"' "$1"; }
"$out/study" "${args[@]}" --out "$out/b" > "$out/b.log"
for m in m01_bnact_s42 m22_bnact_s42; do
    diff <(strip "$out/a/$m/result.json") <(strip "$out/b/$m/result.json") > /dev/null || fail "$m differs between two runs"
done

# kill -9 once the second configuration has checkpointed its first epoch, then run the same
# command again: the finished run is skipped, the killed one resumes from its checkpoint, and
# everything ends exactly as the uninterrupted run a did
"$out/study" "${args[@]}" --out "$out/c" > "$out/c1.log" 2>&1 &
pid=$!
# (up to 5 minutes: on a loaded machine the first configuration alone can take a minute)
for _ in $(seq 1 6000); do [ -f "$out/c/m22_bnact_s42/checkpoint.bin" ] && break; sleep 0.05; done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -f "$out/c/m01_bnact_s42/result.json" ] || fail "the first run never finished"
[ -f "$out/c/m22_bnact_s42/result.json" ] && fail "the kill came too late to test a resume"
"$out/study" "${args[@]}" --out "$out/c" > "$out/c2.log"
grep -q "m01_bnact_s42: finished before, skipped" "$out/c2.log" || fail "the finished run was redone"
grep -q "m22 s42 resumed from its checkpoint after epoch 1" "$out/c2.log" || fail "m22 did not resume from its checkpoint"
for m in m01_bnact_s42 m22_bnact_s42; do
    python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$out/c/$m/result.json" || fail "$m/result.json half-written"
    diff <(strip "$out/a/$m/result.json") <(strip "$out/c/$m/result.json") > /dev/null || fail "$m differs after resuming"
    diff <(cut -d, -f1-5 "$out/a/$m/history.csv") <(cut -d, -f1-5 "$out/c/$m/history.csv") > /dev/null ||
        fail "$m: history differs after resuming"
    [ ! -e "$out/c/$m/checkpoint.bin" ] || fail "$m: checkpoint left after the run finished"
done

# --merge builds the same report from the run directories
"$out/study" --merge "$out/a" --out "$out/merged" > /dev/null
grep -qF "| 22 | \`(64, (3,3), (1,1), 'relu', 0.2, 2, 'max')\` | 0.962 |" "$out/merged/report.md" || fail "--merge report"
# ... stating the budget the runs were made with, not the merge's default options
grep -qF "(patience 2, best weights restored, cap 2 epochs), batch 32; 2700 training images after the hold-out, 1000 test images." \
    "$out/merged/report.md" || fail "--merge report does not state the runs' budget"

# --list-commands: one command per configuration, each with --no-report, so that parallel jobs
# sharing OUT never rewrite its report at the same time; such a run leaves the report alone
cmds=$("$out/study" --list-commands "${args[@]}" --out "$out/a")
[ "$(echo "$cmds" | wc -l)" = 2 ] || fail "--list-commands: expected 2 commands, got: $cmds"
{ echo "$cmds" | grep -q -- "--models 1 .*--no-report" && echo "$cmds" | grep -q -- "--models 22 .*--no-report"; } ||
    fail "--list-commands: $cmds"
rm "$out/a/report.md"
eval "$(echo "$cmds" | head -1)" > "$out/d.log" || fail "a listed command failed: $(tail -3 "$out/d.log")"
grep -q "finished before, skipped" "$out/d.log" || fail "the listed command redid a finished run"
[ ! -e "$out/a/report.md" ] || fail "--no-report wrote the report"
echo "study end to end: ok"
