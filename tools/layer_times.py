#!/usr/bin/env python3
"""layer_times.py - where a training step's time goes, layer by layer.

    python3 tools/layer_times.py [--model N] [--batch B] [--steps S] [--threads T] [--cc "CC FLAGS"]

Writes build/layer_times/cnn_timed.h, a copy of cnn.h with a wall-clock timer around each
layer of cnn_net_forward and cnn_net_backward and around the Adam step, and a driver that
trains study model N (default 1) on random images for S steps (default 150, after 30 of
warm-up) at batch B (default 32); builds them with CC FLAGS (default "cc -O3 -march=native
-fopenmp") and prints the microseconds an image spent in each layer, forward and backward,
with OMP_NUM_THREADS=T (default 2). cnn.h itself is not changed; a timer costs two clock reads
a layer. A layer fused into another's pass shows about 0 (the streamed first block:
convolution, batch norm, ReLU and pool all under layer 0).
If cnn.h's code around a timer's place changes, this script stops and names the place.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TIMERS = '''#include <time.h>
static double cnn__lt_s[3][256];   /* forward, backward, step: seconds summed per layer */
static double cnn__lt_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
'''

# (anchor in cnn.h, its replacement): each anchor must occur exactly once
PATCHES = [
    ('static int cnn__slot_start(int sl, int n, int slots)',
     TIMERS + 'static int cnn__slot_start(int sl, int n, int slots)'),
    ('''    for (i = 0; i < net->nlayers; i++) {
        cnn__layer *L = &net->layers[i];
        const size_t count = (size_t)n * L->out_size;
        L->in = in;''',
     '''    double lt0 = cnn__lt_now();
    int lti = 0;
    for (i = 0; i < net->nlayers; i++) {
        cnn__layer *L = &net->layers[i];
        const size_t count = (size_t)n * L->out_size;
        {
            const double t1 = cnn__lt_now();
            if (i > 0) cnn__lt_s[0][lti] += t1 - lt0;
            lt0 = t1;
            lti = i;
        }
        L->in = in;'''),
    ('''        in = L->out;
    }
    return in;
}''',
     '''        in = L->out;
    }
    cnn__lt_s[0][lti] += cnn__lt_now() - lt0;
    return in;
}'''),
    ('''    for (i = net->nlayers - 1; i >= 0; i--) {
        cnn__layer *L = &net->layers[i];
        const float *dy = i == net->nlayers - 1 ? dlogits : L->dout;''',
     '''    double lt0 = cnn__lt_now();
    for (i = net->nlayers - 1; i >= 0; i--, cnn__lt_s[1][i + 1] += cnn__lt_now() - lt0, lt0 = cnn__lt_now()) {
        cnn__layer *L = &net->layers[i];
        const float *dy = i == net->nlayers - 1 ? dlogits : L->dout;'''),
    ('''    cnn_adam_step(opt, net->nparams, net->params, net->grads, net->adam_m, net->adam_v);
    return loss;''',
     '''    {
        const double lt0 = cnn__lt_now();
        cnn_adam_step(opt, net->nparams, net->params, net->grads, net->adam_m, net->adam_v);
        cnn__lt_s[2][0] += cnn__lt_now() - lt0;
    }
    return loss;'''),
]

DRIVER = r'''#define _POSIX_C_SOURCE 199309L
#define CNN_IMPLEMENTATION
#include "cnn_timed.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    const int model = atoi(argv[1]), batch = atoi(argv[2]), steps = atoi(argv[3]);
    cnn_net_desc d;
    cnn_error err;
    cnn_net *net;
    cnn_rng rng;
    cnn_adam opt;
    float *x;
    int *y, i, k;
    double t0, total, sum = 0.0;
    char text[64];
    (void)argc;
    cnn_rng_seed(&rng, 42);
    if (cnn_study_desc(&d, model, &err) || cnn_net_create(&net, &d, &err) || cnn_net_reserve(net, batch, &err)) {
        fprintf(stderr, "layer_times: %s\n", err.msg);
        return 1;
    }
    if (net->nlayers > 256) { fprintf(stderr, "layer_times: more than 256 layers\n"); return 1; }
    cnn_net_init(net, &rng);
    cnn_adam_init(&opt);
    x = (float *)malloc(sizeof(float) * (size_t)batch * d.in_c * d.in_h * d.in_w);
    y = (int *)malloc(sizeof(int) * (size_t)batch);
    if (!x || !y) { fprintf(stderr, "layer_times: out of memory\n"); return 1; }
    for (i = 0; i < batch * d.in_c * d.in_h * d.in_w; i++) x[i] = cnn_rng_uniform(&rng);
    for (i = 0; i < batch; i++) y[i] = i % d.classes;
    cnn_net_set_training(net, 1, &rng);
    for (i = 0; i < 30; i++) cnn_net_train_step(net, &opt, x, y, batch, NULL);
    memset(cnn__lt_s, 0, sizeof cnn__lt_s);
    t0 = cnn__lt_now();
    for (i = 0; i < steps; i++) cnn_net_train_step(net, &opt, x, y, batch, NULL);
    total = cnn__lt_now() - t0;
    printf("# study model %d, batch %d, %d training steps: microseconds an image\n", model, batch, steps);
    for (k = 0; k < 2; k++)
        for (i = 0; i < net->nlayers; i++) {
            const double us = cnn__lt_s[k][i] / steps / batch * 1e6;
            cnn__layer_text(&net->layers[i], text, sizeof text);
            printf("%s layer %2d (%s): %.2f\n", k ? "backward" : "forward ", i, text, us);
            sum += us;
        }
    printf("adam: %.2f\n", cnn__lt_s[2][0] / steps / batch * 1e6);
    sum += cnn__lt_s[2][0] / steps / batch * 1e6;
    printf("timed: %.1f, whole steps: %.1f (%.0f images/s)\n", sum, total / steps / batch * 1e6, steps * batch / total);
    cnn_net_free(net);
    free(x);
    free(y);
    return 0;
}
'''


def fail(msg):
    sys.exit("layer_times: " + msg)


def main(argv):
    opts = {"--model": "1", "--batch": "32", "--steps": "150", "--threads": "2",
            "--cc": "cc -O3 -march=native -fopenmp"}
    args = argv[1:]
    while args:
        if args[0] not in opts or len(args) < 2:
            fail("usage: layer_times.py [--model N] [--batch B] [--steps S] [--threads T] [--cc \"CC FLAGS\"]")
        opts[args[0]] = args[1]
        args = args[2:]
    for k in ("--model", "--batch", "--steps", "--threads"):
        if not opts[k].isdigit() or int(opts[k]) < 1:
            fail("%s wants a positive whole number, not %r" % (k, opts[k]))
    src = open(os.path.join(ROOT, "cnn.h")).read()
    for anchor, repl in PATCHES:
        n = src.count(anchor)
        if n != 1:
            fail("cnn.h has %d copies of the place for a timer that starts %r (want 1): update PATCHES"
                 % (n, anchor.strip().splitlines()[0]))
        src = src.replace(anchor, repl)
    out = os.path.join(ROOT, "build", "layer_times")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "cnn_timed.h"), "w") as f:
        f.write(src)
    with open(os.path.join(out, "driver.c"), "w") as f:
        f.write(DRIVER)
    exe = os.path.join(out, "layer_times")
    cmd = opts["--cc"].split() + [os.path.join(out, "driver.c"), "-o", exe, "-lm"]
    if subprocess.call(cmd) != 0:
        fail("the build failed: " + " ".join(cmd))
    env = dict(os.environ, OMP_NUM_THREADS=opts["--threads"])
    sys.exit(subprocess.call([exe, opts["--model"], opts["--batch"], opts["--steps"]], env=env))


if __name__ == "__main__":
    main(sys.argv)
