#!/usr/bin/python3
"""bench_torch.py - the study's base model (model 1) in PyTorch on the CPU, the yardstick of issue 5.

    apt-get install -y python3-torch          (Debian's PyTorch; PyPI is not needed)
    /usr/bin/python3 tools/bench_torch.py [--quick] [--json]

The same network, optimiser and loss as cnn.h's model 1:
    Conv2D(64, 3x3) -> BatchNorm -> ReLU -> MaxPool 2 -> Dropout 0.2
    Conv2D(32, 2x2) -> BatchNorm -> ReLU -> MaxPool 2 -> Dropout 0.2 -> Flatten -> Dense(10)
Adam (Keras' defaults), softmax cross-entropy, random inputs in [0,1), labels i % 10.
Prints the same kind of lines as tools/bench.c: one "name: value" per figure, each the median of
several timed repetitions after warm-up (--json: one JSON object)."""
import json
import statistics
import sys
import time

import torch
from torch import nn


def base_model():
    # Keras' BatchNormalization: momentum 0.99 (PyTorch counts the other way: 0.01), epsilon 1e-3
    def block(c_in, c_out, k):
        return [nn.Conv2d(c_in, c_out, k), nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01), nn.ReLU(),
                nn.MaxPool2d(2), nn.Dropout(0.2)]
    return nn.Sequential(*block(1, 64, 3), *block(64, 32, 2), nn.Flatten(), nn.Linear(32 * 6 * 6, 10))


def median_seconds(fn, quick):
    """Three warm-ups (PyTorch's first calls allocate and pick kernels), then as many repetitions as
    fit the budget (at least 5, 1 with --quick; at most 25)."""
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
    budget, min_reps = (0.2, 1) if quick else (2.0, 5)
    reps = max(min_reps, min(25, int(budget / first) if first > 0 else 25))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv):
    quick, as_json = "--quick" in argv, "--json" in argv
    if any(a not in ("--quick", "--json") for a in argv):
        print(__doc__)
        return 0 if ("--help" in argv or "-h" in argv) else 2
    torch.manual_seed(42)
    model = base_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    figures = {}

    def emit(name, value):
        figures[name] = round(value, 1)
        if not as_json:
            print(f"{name}: {value:.0f}", flush=True)

    if not as_json:
        print(f"# torch {torch.__version__}, CPU, {torch.get_num_interop_threads()} inter-op thread(s); "
              f"medians of {'1 or more (--quick)' if quick else '5 to 25'} repetitions after 3 warm-ups")
    for train in (True, False):
        for batch in (32, 128):
            x = torch.rand(batch, 1, 28, 28)
            y = torch.arange(batch) % 10
            for threads in (1, 2):
                torch.set_num_threads(threads)
                if train:
                    model.train()

                    def step():
                        opt.zero_grad(set_to_none=True)
                        loss = loss_fn(model(x), y)
                        loss.backward()
                        opt.step()
                else:
                    model.eval()

                    def step():
                        with torch.inference_mode():
                            model(x)
                ips = batch / median_seconds(step, quick)
                emit(f"torch_{'train' if train else 'infer'}_images_per_s batch={batch} threads={threads}", ips)
    if as_json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
