#!/usr/bin/env python3
"""study_estimate.py - how long the full study takes on this machine, from measured parts.

    for m in $(seq 1 22); do ./bench --model $m; done > bench-models.txt   (a few times)
    python3 tools/study_estimate.py results/full bench-models*.txt

For each model with a result in RESULTS_DIR: its epochs times (54,000 / training images/s +
6,000 / inference images/s), the training and validation passes of one epoch, plus one
pass over 64,000 images at the end (the training and test sets evaluated with the best
weights). Images/s are tools/bench's figures at batch 32 and --threads (default 2), the median
over the files given. Startup, data loading and checkpoints are left out.

    --jobs J: the study as J runs side by side (`study --list-commands --threads N | xargs -P J
    ...`), each on --threads threads: the figures must then come from J benches run at once,

        for m in $(seq 1 22); do
            OMP_NUM_THREADS=1 ./bench --model $m > a.txt & OMP_NUM_THREADS=1 ./bench --model $m > b.txt
            wait; cat a.txt b.txt; done > bench-models-pairs.txt

    and the total is the time until the last run ends, the runs taken in the list's order (model
    1 first), each by the first job to be free, as xargs -P and GNU parallel do.

    --scale FILE: the bench files' training images/s divided by each model's ratio in FILE, the
    output of tools/bench_ab.sh for every model (`ab_ratio what=train model=N ...: R`, a newer
    cnn.h's training step time over the benched one's): an estimate for the newer cnn.h from
    older full runs and fresh interleaved ratios, an inference rather than a measurement.
    Inference images/s are divided likewise by the file's `what=infer` ratios where it has
    them, else left as benched.
"""
import glob, json, os, re, statistics, sys


def fail(msg):
    sys.exit("study_estimate: " + msg)


def main(argv):
    threads, jobs, scale, iscale = 2, 1, None, {}
    while len(argv) > 2 and argv[1] in ("--threads", "--jobs", "--scale"):
        if argv[1] == "--scale":
            scale = {}
            try:
                text = open(argv[2]).read()
            except (OSError, UnicodeDecodeError) as e:
                fail("%s: cannot read: %s" % (argv[2], e))
            for m in re.finditer(r"^ab_ratio what=(train|infer) model=(\d+) batch=32 b_over_a: ([0-9.]+)$", text, re.M):
                (scale if m.group(1) == "train" else iscale)[int(m.group(2))] = float(m.group(3))
            if not scale or min(list(scale.values()) + list(iscale.values())) <= 0:
                fail("%s: no positive 'ab_ratio what=train model=N batch=32 b_over_a: R' lines" % argv[2])
        elif not argv[2].isdigit() or int(argv[2]) < 1:
            fail("%s wants a positive whole number, not %r" % (argv[1], argv[2]))
        elif argv[1] == "--threads":
            threads = int(argv[2])
        else:
            jobs = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 3:
        sys.exit("usage: study_estimate.py [--threads N] [--jobs J] [--scale AB_OUTPUT] RESULTS_DIR BENCH_OUTPUT...")
    results, benches = argv[1], argv[2:]
    ips = {}
    for path in benches:
        try:
            lines = open(path).read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            fail("%s: cannot read: %s" % (path, e))
        for line in lines:
            m = re.match(r"(train|infer)_images_per_s model=(\d+) batch=32 threads=%d: ([0-9.]+)$" % threads,
                         line.strip())
            if m:
                ips.setdefault((m.group(1), int(m.group(2))), []).append(float(m.group(3)))
    paths = sorted(glob.glob(os.path.join(results, "m[0-9][0-9]_*", "result.json")))
    if not paths:
        fail("%s: no study results (mNN_*/result.json) there" % results)
    total = 0.0
    free = [0.0] * jobs   # when each job is next free
    print("model  epochs  train/s  infer/s  estimate_s  measured_s")
    for path in paths:
        try:
            with open(path) as f:
                r = json.load(f)
            model, epochs, seconds = r["model"], int(r["epochs"]), float(r["seconds"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail("%s: not a study result: %s" % (path, e))
        if ("train", model) not in ips or ("infer", model) not in ips:
            fail("no batch=32 threads=%d figures for model %s in the bench files" % (threads, model))
        tr = statistics.median(ips[("train", model)])
        inf = statistics.median(ips[("infer", model)])
        if tr <= 0 or inf <= 0:
            fail("model %s: images/s of zero in the bench files" % model)
        if scale is not None:
            if model not in scale:
                fail("model %s: no ratio in the --scale file" % model)
            tr /= scale[model]
            inf /= iscale.get(model, 1.0)
        sec = epochs * (54000 / tr + 6000 / inf) + 64000 / inf
        total += sec
        free[free.index(min(free))] += sec
        print("%5d  %6d  %7.0f  %7.0f  %10.0f  %10.0f" % (model, epochs, tr, inf, sec, seconds))
    if jobs == 1:
        print("total: %.0f s (%.1f hours) on %d threads" % (total, total / 3600, threads))
    else:
        end = max(free)
        print("total: %.0f s (%.1f hours) as %d jobs side by side on %d threads each (%.0f s of runs)"
              % (end, end / 3600, jobs, threads, total))


if __name__ == "__main__":
    main(sys.argv)
