/* bench_ab.c - two versions of cnn.h in one process, their steps interleaved, and the ratio.

   On a shared machine a model's training rate moves by up to 2x from one minute to the next, so
   two benches run one after the other compare the minutes more than the code. Here both
   versions train the same study model side by side: each repetition times one step of version
   a and one of version b (in alternating order), and the figure of interest is the median of
   the per-repetition ratios b / a, which a slow stretch moves for both at once.

   Built as three objects from this one file (tools/bench_ab.sh does it, from a git revision):
     cc -O3 -march=native -fopenmp -c -DCNN_AB_SIDE=0 -DCNN_AB_HEADER='"old/cnn.h"' tools/bench_ab.c -o a.o
     cc -O3 -march=native -fopenmp -c -DCNN_AB_SIDE=1 -DCNN_AB_HEADER='"../cnn.h"' tools/bench_ab.c -o b.o
     cc -O3 -march=native -fopenmp tools/bench_ab.c a.o b.o -lm -o bench_ab
   Each side includes its cnn.h with CNN_STATIC, so the two implementations do not clash.

     ./bench_ab [--model N] [--batch B] [--reps R] [--what train|forward|infer]

   train: a whole training step (forward, backward, Adam); forward: the forward pass in training
   mode (batch statistics, dropout); infer: the forward pass in inference mode. Prints, in
   microseconds an image, each side's median and least time and the ratio's median and
   quartiles, one "name: value" line each, e.g.
     ab_us_per_image what=train model=9 batch=32 side=a: 260.2
     ab_ratio what=train model=9 batch=32 b_over_a: 0.843 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#if defined(CNN_AB_SIDE)

#define CNN_STATIC
#define CNN_IMPLEMENTATION
#include CNN_AB_HEADER
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if CNN_AB_SIDE == 0
#define CNN_AB(name) cnn_ab0_##name
#else
#define CNN_AB(name) cnn_ab1_##name
#endif

static cnn_net *ab_net;
static cnn_adam ab_opt;
static cnn_rng ab_rng;
static float *ab_x;
static int *ab_y;

/* a net for study model `model`, batches of `batch` random images; 0, or -1 with msg filled */
int CNN_AB(setup)(int model, int batch, char *msg, size_t cap);
int CNN_AB(setup)(int model, int batch, char *msg, size_t cap)
{
    cnn_net_desc d;
    cnn_error err;
    int i;
    cnn_rng_seed(&ab_rng, 42);
    if (cnn_study_desc(&d, model, &err) || cnn_net_create(&ab_net, &d, &err) || cnn_net_reserve(ab_net, batch, &err)) {
        strncpy(msg, err.msg, cap - 1);
        msg[cap - 1] = '\0';
        return -1;
    }
    cnn_net_init(ab_net, &ab_rng);
    cnn_adam_init(&ab_opt);
    ab_x = (float *)malloc(sizeof(float) * (size_t)batch * 784);
    ab_y = (int *)malloc(sizeof(int) * (size_t)batch);
    if (!ab_x || !ab_y) {
        strncpy(msg, "out of memory", cap - 1);
        msg[cap - 1] = '\0';
        return -1;
    }
    for (i = 0; i < batch * 784; i++) ab_x[i] = cnn_rng_uniform(&ab_rng);
    for (i = 0; i < batch; i++) ab_y[i] = i % 10;
    cnn_net_set_training(ab_net, 1, &ab_rng);
    return 0;
}

/* one step (0: training step, 1: forward in training mode, 2: inference); seconds */
double CNN_AB(step)(int batch, int what);
double CNN_AB(step)(int batch, int what)
{
    struct timespec t0, t1;
    if (what == 2) cnn_net_set_training(ab_net, 0, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (what == 0) cnn_net_train_step(ab_net, &ab_opt, ab_x, ab_y, batch, NULL);
    else cnn_net_forward(ab_net, ab_x, batch);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (what == 2) cnn_net_set_training(ab_net, 1, &ab_rng);
    return (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
}

#else /* the driver */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cnn_ab0_setup(int model, int batch, char *msg, size_t cap);
int cnn_ab1_setup(int model, int batch, char *msg, size_t cap);
double cnn_ab0_step(int batch, int what);
double cnn_ab1_step(int batch, int what);

static int cmp_double(const void *p, const void *q)
{
    const double a = *(const double *)p, b = *(const double *)q;
    return a < b ? -1 : a > b;
}

static int whole(const char *s, int lo, int hi, int *v)   /* a whole number in [lo, hi] */
{
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || *end || n < lo || n > hi) return 0;
    *v = (int)n;
    return 1;
}

int main(int argc, char **argv)
{
    static const char *whats[] = {"train", "forward", "infer"};
    int model = 1, batch = 32, reps = 60, what = 0, i;
    double *ta, *tb, *r;
    char msg[256];
    for (i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--model") && v && whole(v, 1, 22, &model)) i++;
        else if (!strcmp(argv[i], "--batch") && v && whole(v, 1, 4096, &batch)) i++;
        else if (!strcmp(argv[i], "--reps") && v && whole(v, 3, 100000, &reps)) i++;
        else if (!strcmp(argv[i], "--what") && v && (!strcmp(v, "train") || !strcmp(v, "forward") || !strcmp(v, "infer"))) {
            what = !strcmp(v, "train") ? 0 : !strcmp(v, "forward") ? 1 : 2;
            i++;
        } else {
            fprintf(stderr, "bench_ab: bad argument '%s'%s\nusage: bench_ab [--model 1..22] [--batch B] [--reps R >= 3] "
                            "[--what train|forward|infer]\n", argv[i], v ? "" : " (or its value is missing)");
            return 2;
        }
    }
    if (cnn_ab0_setup(model, batch, msg, sizeof msg) || cnn_ab1_setup(model, batch, msg, sizeof msg)) {
        fprintf(stderr, "bench_ab: model %d: %s\n", model, msg);
        return 1;
    }
    ta = (double *)malloc(sizeof(double) * (size_t)reps);
    tb = (double *)malloc(sizeof(double) * (size_t)reps);
    r = (double *)malloc(sizeof(double) * (size_t)reps);
    if (!ta || !tb || !r) {
        fprintf(stderr, "bench_ab: out of memory\n");
        return 1;
    }
    for (i = 0; i < 5; i++) {   /* warm-up: caches, pages, Adam's first steps */
        cnn_ab0_step(batch, what);
        cnn_ab1_step(batch, what);
    }
    for (i = 0; i < reps; i++) {   /* a first, then b first: neither always follows the other */
        if (i % 2) {
            tb[i] = cnn_ab1_step(batch, what);
            ta[i] = cnn_ab0_step(batch, what);
        } else {
            ta[i] = cnn_ab0_step(batch, what);
            tb[i] = cnn_ab1_step(batch, what);
        }
        r[i] = tb[i] / ta[i];
    }
    qsort(ta, (size_t)reps, sizeof *ta, cmp_double);
    qsort(tb, (size_t)reps, sizeof *tb, cmp_double);
    qsort(r, (size_t)reps, sizeof *r, cmp_double);
    printf("ab_us_per_image what=%s model=%d batch=%d side=a: %.1f\n", whats[what], model, batch, ta[reps / 2] / batch * 1e6);
    printf("ab_us_per_image what=%s model=%d batch=%d side=b: %.1f\n", whats[what], model, batch, tb[reps / 2] / batch * 1e6);
    printf("ab_least_us_per_image what=%s model=%d batch=%d side=a: %.1f\n", whats[what], model, batch, ta[0] / batch * 1e6);
    printf("ab_least_us_per_image what=%s model=%d batch=%d side=b: %.1f\n", whats[what], model, batch, tb[0] / batch * 1e6);
    printf("ab_ratio what=%s model=%d batch=%d b_over_a: %.3f\n", whats[what], model, batch, r[reps / 2]);
    printf("ab_ratio_quartiles what=%s model=%d batch=%d b_over_a: %.3f %.3f\n", whats[what], model, batch, r[reps / 4],
           r[3 * reps / 4]);
    free(ta);
    free(tb);
    free(r);
    return 0;
}

#endif
