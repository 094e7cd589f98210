/* bench.c - how fast cnn.h trains and runs the study's networks on this machine (issue 5).

     cc -O2 tools/bench.c -lm -o bench                                     one thread
     cc -O3 -march=native -fopenmp tools/bench.c -lm -o bench              every core
     cc -O3 -march=native -fopenmp -DCNN_BENCH_CBLAS tools/bench.c -lopenblas -lm -o bench
                                                                           and OpenBLAS's GEMMs
     ./bench [--quick] [--json] [--model N | --conv C,H,W,K,R,S]

   One "name: value" line per figure, its parameters in the name; --json prints the same figures
   as one JSON object. Every figure is the median of several timed repetitions after one warm-up.
   Lines starting with '#' are comments. A FLOP is one multiply or one add; a convolution costs
   2*N*K*C*R*S*P*Q of them in each direction (forward, weight gradient, input gradient). */
#define _POSIX_C_SOURCE 200809L
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef CNN_BENCH_CBLAS
#include <cblas.h>
#endif

enum { MAX_FIGS = 160, MAX_REPS = 25, NAIVE_BATCH = 8, BIG_BATCH = 128, EPOCH_IMAGES = 54000 };

static int quick, json, only_model;
static int only_conv, conv_shape[6];

/* ---- figures: printed as they come (text), or collected and printed at the end (--json) ---- */
static struct { char name[96]; double value; } figs[MAX_FIGS];
static int nfigs;

static void print_value(double v)
{
    if (!isfinite(v)) printf("null");               /* JSON has no inf or nan */
    else if (fabs(v) >= 100) printf("%.0f", v);
    else if (fabs(v) >= 10) printf("%.1f", v);
    else printf("%.3g", v);
}

static void emit(double value, const char *fmt, ...)
{
    va_list ap;
    if (nfigs == MAX_FIGS) { fprintf(stderr, "bench: more than %d figures\n", MAX_FIGS); exit(1); }
    va_start(ap, fmt);
    vsnprintf(figs[nfigs].name, sizeof figs[nfigs].name, fmt, ap);
    va_end(ap);
    figs[nfigs].value = value;
    if (!json) { printf("%s: ", figs[nfigs].name); print_value(value); printf("\n"); fflush(stdout); }
    nfigs++;
}

static void note(const char *text) { if (!json) printf("# %s\n", text); }

/* ---- timing: fn runs the work once and returns the seconds of its timed part ---- */
typedef double (*timed_fn)(void *ctx);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One warm-up, then as many repetitions as fit a time budget, at least 5 (1 with --quick) and at
   most MAX_REPS; returns the median. */
static double median_seconds(timed_fn fn, void *ctx)
{
    double t[MAX_REPS], budget = quick ? 0.2 : 2.0, first = fn(ctx);
    int i, reps = first > 0 ? (int)(budget / first) : MAX_REPS, min_reps = quick ? 1 : 5;
    if (reps < min_reps) reps = min_reps;
    if (reps > MAX_REPS) reps = MAX_REPS;
    for (i = 0; i < reps; i++) t[i] = fn(ctx);
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
}

static void set_threads(int t)
{
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(t);      /* OpenBLAS has threads of its own */
#endif
    (void)t;
}

static float *random_floats(cnn_rng *r, size_t n)
{
    float *p = (float *)malloc(n * sizeof *p);
    size_t i;
    if (!p) { fprintf(stderr, "bench: out of memory (%lu floats)\n", (unsigned long)n); exit(1); }
    for (i = 0; i < n; i++) p[i] = cnn_rng_uniform(r);
    return p;
}

/* ---- peak: independent multiply-adds in PEAK_LANES accumulators, eight or more vector
   registers of the target's width, enough to hide the latency of each; fmaf where the target
   has a fused multiply-add (FP_FAST_FMAF), a*b+c otherwise. So it is the peak of the
   instruction set this build targets, as this compiler vectorises: the kernels' own ceiling.
   GCC at -O2 keeps the accumulators in memory, hence its -O3 for this one function. ---- */
#if defined(__AVX512F__)
#define PEAK_LANES 128
#else
#define PEAK_LANES 64
#endif
#ifdef FP_FAST_FMAF
#define PEAK_MAD(x, a, b) fmaf(x, a, b)
#else
#define PEAK_MAD(x, a, b) ((x) * (a) + (b))
#endif

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
static float peak_loop(long iters, float a, float b)
{
    float acc[PEAK_LANES], sum = 0.0f;
    long it;
    int j;
    for (j = 0; j < PEAK_LANES; j++) acc[j] = (float)j;
    for (it = 0; it < iters; it++)
        for (j = 0; j < PEAK_LANES; j++) acc[j] = PEAK_MAD(acc[j], a, b);
    for (j = 0; j < PEAK_LANES; j++) sum += acc[j];
    return sum;
}

typedef struct { long iters; int threads; volatile float a, b, sink; } peak_ctx;

static double peak_run(void *p)
{
    peak_ctx *pc = (peak_ctx *)p;
    const float a = pc->a, b = pc->b;   /* volatile: the compiler cannot fold the loop away */
    float s = 0.0f;
    double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(pc->threads) reduction(+ : s)
#endif
    s += peak_loop(pc->iters, a, b);
    pc->sink = s;
    return now() - t0;
}

static double bench_peak(int threads)
{
    peak_ctx pc;
    pc.iters = (quick ? 1000000L : 4000000L) * 128 / PEAK_LANES;   /* 5 to 30 ms a repetition */
    pc.threads = threads; pc.a = 0.9999f; pc.b = 1e-4f; pc.sink = 0;
    return 2.0 * PEAK_LANES * pc.iters * threads / median_seconds(peak_run, &pc) * 1e-9;
}

/* ---- one convolution, one direction, one algorithm ---- */
enum { DIR_FWD, DIR_DW, DIR_DX, NDIRS };
enum { ALGO_NAIVE, ALGO_IM2COL, ALGO_CBLAS };
static const char *dir_name[NDIRS] = {"fwd", "dw", "dx"};

typedef struct {
    cnn_conv_shape cs;        /* cs.n is the batch timed */
    int dir, algo;
    float *x, *w, *b, *y, *dy, *dx, *dw, *col;
    float *col_mem;           /* col is col_mem moved on to a 64-byte boundary, as a net's are */
} conv_ctx;

static double conv_run(void *p)
{
    conv_ctx *c = (conv_ctx *)p;
    const cnn_conv_shape *cs = &c->cs;
    const int K = cs->k, CRS = cs->c * cs->r * cs->s;
    float *dx = c->dir == DIR_DX ? c->dx : NULL, *dw = c->dir == DIR_DW ? c->dw : NULL;
    double t0;
    /* untimed: backward accumulates, so zero the gradients; backward_im2col reads the unfolded
       input that forward leaves in col, and overwrites it while computing dx, so refill it */
    if (dx) memset(dx, 0, (size_t)cs->n * cs->c * cs->h * cs->w * sizeof(float));
    if (dw) memset(dw, 0, (size_t)K * CRS * sizeof(float));
    if (c->algo == ALGO_IM2COL && c->dir != DIR_FWD) cnn_conv_forward_im2col(cs, c->x, c->w, c->b, c->y, c->col);
    t0 = now();
    if (c->algo == ALGO_NAIVE) {
        if (c->dir == DIR_FWD) cnn_conv_forward_naive(cs, c->x, c->w, c->b, c->y);
        else cnn_conv_backward_naive(cs, c->x, c->w, c->dy, dx, dw, NULL);
    } else if (c->algo == ALGO_IM2COL) {
        if (c->dir == DIR_FWD) cnn_conv_forward_im2col(cs, c->x, c->w, c->b, c->y, c->col);
        else cnn_conv_backward_im2col(cs, c->col, c->w, c->dy, dx, dw, NULL);
    }
#ifdef CNN_BENCH_CBLAS
    else {
        /* the GEMMs alone, one sample at a time, as im2col does them (col is not refilled: only
           the time matters); dx's GEMM gives the column gradient (CRS,PQ), before col2im */
        const int PQ = cs->p * cs->q;
        int n;
        for (n = 0; n < cs->n; n++) {
            float *col = c->col + (size_t)n * CRS * PQ, *y = c->y + (size_t)n * K * PQ;
            const float *dy = c->dy + (size_t)n * K * PQ;
            if (c->dir == DIR_FWD)       /* y (K,PQ) = w (K,CRS) col (CRS,PQ) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, PQ, CRS, 1.0f, c->w, CRS, col, PQ, 0.0f, y, PQ);
            else if (c->dir == DIR_DW)   /* dw (K,CRS) += dy (K,PQ) col^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, CRS, PQ, 1.0f, dy, PQ, col, PQ, 1.0f, dw, CRS);
            else                         /* dcol (CRS,PQ) = w^T dy */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CRS, PQ, K, 1.0f, c->w, CRS, dy, PQ, 0.0f, col, PQ);
        }
    }
#endif
    return now() - t0;
}

static double conv_gflops(conv_ctx *c, int algo, int dir, int n)
{
    const cnn_conv_shape *cs = &c->cs;
    double flops;
    c->algo = algo; c->dir = dir; c->cs.n = n;
    flops = 2.0 * n * cs->k * cs->c * cs->r * cs->s * cs->p * cs->q;
    return flops / median_seconds(conv_run, c) * 1e-9;
}

/* buffers for shape s = {C, H, W, K, R, S} (stride 1, 'valid') at batch n; 1 if cnn_conv_shape_init
   refuses the shape, its message in err */
static int conv_ctx_init(conv_ctx *c, const int *s, int n, cnn_rng *rng, cnn_error *err)
{
    size_t xn, wn, yn;
    memset(c, 0, sizeof *c);
    if (cnn_conv_shape_init(&c->cs, n, s[0], s[1], s[2], s[3], s[4], s[5], 1, 1, CNN_PAD_VALID, err)) return 1;
    xn = (size_t)n * s[0] * s[1] * s[2];
    wn = (size_t)s[3] * s[0] * s[4] * s[5];
    yn = (size_t)n * s[3] * c->cs.p * c->cs.q;
    c->x = random_floats(rng, xn); c->dx = random_floats(rng, xn);
    c->w = random_floats(rng, wn); c->dw = random_floats(rng, wn); c->b = random_floats(rng, (size_t)s[3]);
    c->y = random_floats(rng, yn); c->dy = random_floats(rng, yn);
    c->col_mem = random_floats(rng, cnn_conv_col_floats(&c->cs) + 16);
    c->col = c->col_mem + (16 - (size_t)((uintptr_t)c->col_mem % 64) / sizeof(float)) % 16;
    return 0;
}

static void conv_ctx_free(conv_ctx *c)
{
    free(c->x); free(c->dx); free(c->w); free(c->dw); free(c->b); free(c->y); free(c->dy); free(c->col_mem);
}

/* what cnn_conv_*_im2col runs for the shape: "winograd" where the Winograd path takes it (AVX-512
   builds; its GFLOP/s, like every figure here, count the direct convolution's multiply-adds, so
   they can pass the FMA peak), else "im2col" (with or without the unfolded matrix) */
static const char *conv_algo_name(const cnn_conv_shape *cs)
{
#ifdef CNN__WG
    if (cnn__conv_wg(cs)) return "winograd";
#endif
    (void)cs;
    return "im2col";
}

/* conv1: 1x28x28 -> 64 filters 3x3; conv2: 64x13x13 -> 32 filters 2x2 (model 1, 'valid') */
static void bench_convs(const int *threads, int nthreads, const double *peak)
{
    static const int shapes[2][6] = {{1, 28, 28, 64, 3, 3}, {64, 13, 13, 32, 2, 2}};
    int i, d, t;
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    for (i = 0; i < 2; i++) {
        conv_ctx c;
        if (conv_ctx_init(&c, shapes[i], BIG_BATCH, &rng, NULL)) {
            fprintf(stderr, "bench: bad conv shape\n");
            exit(1);
        }
        for (d = 0; d < NDIRS; d++) {
            const char *algo = conv_algo_name(&c.cs);
            double naive, fast;
            set_threads(1);
            naive = conv_gflops(&c, ALGO_NAIVE, d, NAIVE_BATCH);
            emit(naive, "conv_gflops conv=%d dir=%s algo=naive batch=%d threads=1", i + 1, dir_name[d], NAIVE_BATCH);
            for (t = 0; t < nthreads; t++) {
                set_threads(threads[t]);
                fast = conv_gflops(&c, ALGO_IM2COL, d, BIG_BATCH);
                emit(fast, "conv_gflops conv=%d dir=%s algo=%s batch=%d threads=%d", i + 1, dir_name[d], algo, BIG_BATCH,
                     threads[t]);
                emit(100.0 * fast / peak[t], "conv_pct_of_peak conv=%d dir=%s algo=%s batch=%d threads=%d", i + 1,
                     dir_name[d], algo, BIG_BATCH, threads[t]);
                if (t == 0) emit(fast / naive, "conv_speedup conv=%d dir=%s %s/naive threads=1", i + 1, dir_name[d], algo);
#ifdef CNN_BENCH_CBLAS
                fast = conv_gflops(&c, ALGO_CBLAS, d, BIG_BATCH);
                emit(fast, "gemm_gflops conv=%d dir=%s lib=cblas batch=%d threads=%d", i + 1, dir_name[d], BIG_BATCH, threads[t]);
                emit(100.0 * fast / peak[t], "gemm_pct_of_peak conv=%d dir=%s lib=cblas batch=%d threads=%d", i + 1,
                     dir_name[d], BIG_BATCH, threads[t]);
#endif
            }
        }
        conv_ctx_free(&c);
    }
}

/* --conv C,H,W,K,R,S: one convolution of any shape (stride 1, 'valid'), the fast path's three
   directions at batch 32 as a net runs them, to compare commits on the shape a change was for
   (say a study model's second convolution: 64,26,26,32,2,2 for model 16, 256,13,13,32,2,2 for
   model 4) */
static int parse_conv_shape(const char *arg, int *s)
{
    const char *p = arg;
    cnn_conv_shape cs;
    cnn_error err;
    int i;
    for (i = 0; i < 6; i++) {   /* six positive whole numbers, comma-separated, nothing else */
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000 || *end != (i < 5 ? ',' : '\0')) {
            fprintf(stderr, "bench: --conv wants C,H,W,K,R,S (six whole numbers from 1 to 1000000), got '%s'\n", arg);
            return 1;
        }
        s[i] = (int)v;
        p = end + 1;
    }
    if (cnn_conv_shape_init(&cs, 32, s[0], s[1], s[2], s[3], s[4], s[5], 1, 1, CNN_PAD_VALID, &err)) {
        fprintf(stderr, "bench: --conv %s: %s\n", arg, err.msg);
        return 1;
    }
    return 0;
}

static void bench_conv_shape(const int *s, const int *threads, int nthreads)
{
    int d, t;
    char label[96];
    conv_ctx c;
    cnn_rng rng;
    cnn_rng_seed(&rng, 1);
    if (conv_ctx_init(&c, s, 32, &rng, NULL)) exit(1);   /* checked by parse_conv_shape */
    snprintf(label, sizeof label, "%dx%dx%d-%dx%dx%d", s[0], s[1], s[2], s[3], s[4], s[5]);
    note("conv_us_per_image: the whole batch's call divided by its 32 images");
    for (d = 0; d < NDIRS; d++)
        for (t = 0; t < nthreads; t++) {
            const double flops = 2.0 * c.cs.k * c.cs.c * c.cs.r * c.cs.s * c.cs.p * c.cs.q;
            double gf;
            set_threads(threads[t]);
            gf = conv_gflops(&c, ALGO_IM2COL, d, 32);
            emit(gf, "conv_gflops shape=%s dir=%s algo=%s batch=32 threads=%d", label, dir_name[d], conv_algo_name(&c.cs),
                 threads[t]);
            emit(flops / (gf * 1e9) * 1e6, "conv_us_per_image shape=%s dir=%s batch=32 threads=%d", label, dir_name[d],
                 threads[t]);
        }
    conv_ctx_free(&c);
}

/* ---- activations: ns per element of cnn_act_forward's sigmoid and tanh, which run on cnn.h's
   own e^x, beside the same functions on libm (expf, tanhf), one thread, on 64 Ki floats drawn
   uniformly from [-4, 4] (the span of a batch norm's output), which stay in the L2 cache ---- */
typedef struct { cnn_act act; int libm; const float *x; float *y; size_t n; } act_ctx;

static double act_run(void *p)
{
    act_ctx *c = (act_ctx *)p;
    double t0 = now();
    size_t i;
    if (!c->libm) cnn_act_forward(c->act, c->n, c->x, c->y);
    else if (c->act == CNN_ACT_TANH) for (i = 0; i < c->n; i++) c->y[i] = tanhf(c->x[i]);
    else for (i = 0; i < c->n; i++) c->y[i] = 1.0f / (1.0f + expf(-c->x[i]));
    return now() - t0;
}

static void bench_acts(void)
{
    static const cnn_act acts[2] = {CNN_ACT_SIGMOID, CNN_ACT_TANH};
    act_ctx c;
    cnn_rng rng;
    float *x, *y;
    double ns[2];
    size_t i;
    int a, libm;
    cnn_rng_seed(&rng, 7);
    c.n = (size_t)1 << 16;
    x = random_floats(&rng, c.n);
    y = random_floats(&rng, c.n);
    for (i = 0; i < c.n; i++) x[i] = 8.0f * x[i] - 4.0f;
    c.x = x; c.y = y;
    set_threads(1);
    for (a = 0; a < 2; a++) {
        c.act = acts[a];
        for (libm = 0; libm < 2; libm++) {
            c.libm = libm;
            ns[libm] = median_seconds(act_run, &c) / (double)c.n * 1e9;
            emit(ns[libm], "act_ns_per_element fn=%s impl=%s threads=1", cnn_act_name(acts[a]), libm ? "libm" : "cnn");
        }
        emit(ns[1] / ns[0], "act_speedup fn=%s cnn/libm threads=1", cnn_act_name(acts[a]));
    }
    free(x); free(y);
}

/* ---- dropout masks: ns per element of cnn_dropout_mask at rate 0.2, one thread, 64 Ki floats
   (a generator draw for every two entries, a compare and a store each) ---- */
typedef struct { cnn_rng rng; float *mask; size_t n; } mask_ctx;

static double mask_run(void *p)
{
    mask_ctx *c = (mask_ctx *)p;
    double t0 = now();
    cnn_dropout_mask(&c->rng, 0.2f, c->n, c->mask);
    return now() - t0;
}

static void bench_mask(void)
{
    mask_ctx c;
    cnn_rng_seed(&c.rng, 3);
    c.n = (size_t)1 << 16;
    c.mask = random_floats(&c.rng, c.n);
    set_threads(1);
    emit(median_seconds(mask_run, &c) / (double)c.n * 1e9, "dropout_mask_ns_per_element rate=0.2 threads=1");
    free(c.mask);
}

/* ---- whole networks: one training step, or one inference forward pass, per repetition ---- */
typedef struct {
    cnn_net *net;
    cnn_adam opt;
    const float *x;
    const int *y;
    int batch, train;
} net_ctx;

static double net_run(void *p)
{
    net_ctx *c = (net_ctx *)p;
    double t0 = now();
    if (c->train) cnn_net_train_step(c->net, &c->opt, c->x, c->y, c->batch, NULL);
    else cnn_net_forward(c->net, c->x, c->batch);
    return now() - t0;
}

/* images/s of model `model`, training (train=1) or inference, at each batch and thread count */
static void bench_model(int model, const int *threads, int nthreads, double *train_ips_out)
{
    static const int batches[2] = {32, BIG_BATCH};
    const size_t image = 28 * 28;
    cnn_net_desc d;
    cnn_error err;
    cnn_rng rng;
    net_ctx c;
    int *labels, i, b, t, train;
    float *x;
    cnn_rng_seed(&rng, 42);
    memset(&c, 0, sizeof c);
    if (cnn_study_desc(&d, model, &err) || cnn_net_create(&c.net, &d, &err) ||
        cnn_net_reserve(c.net, BIG_BATCH, &err)) {
        fprintf(stderr, "bench: model %d: %s\n", model, err.msg);
        exit(1);
    }
    cnn_net_init(c.net, &rng);
    cnn_adam_init(&c.opt);
    x = random_floats(&rng, BIG_BATCH * image);
    labels = (int *)malloc(BIG_BATCH * sizeof *labels);
    if (!labels) { fprintf(stderr, "bench: out of memory\n"); exit(1); }
    for (i = 0; i < BIG_BATCH; i++) labels[i] = i % 10;
    c.x = x; c.y = labels;
    for (train = 1; train >= 0; train--) {
        c.train = train;
        cnn_net_set_training(c.net, train, train ? &rng : NULL);
        for (b = 0; b < 2; b++)
            for (t = 0; t < nthreads; t++) {
                double ips;
                c.batch = batches[b];
                set_threads(threads[t]);
                ips = c.batch / median_seconds(net_run, &c);
                emit(ips, "%s_images_per_s model=%d batch=%d threads=%d", train ? "train" : "infer", model,
                     c.batch, threads[t]);
                if (train && train_ips_out) train_ips_out[b * nthreads + t] = ips;
            }
    }
    cnn_net_free(c.net);
    free(x); free(labels);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;   /* Linux reports KiB */
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench [--quick] [--json] [--model N | --conv C,H,W,K,R,S] [--help]\n"
               "  --quick    fewer repetitions (a smoke run of a few seconds)\n"
               "  --json     print the figures as one JSON object instead of name: value lines\n"
               "  --model N  only the images/s of study model N (1-22): a quick before/after check\n"
               "  --conv C,H,W,K,R,S  only one convolution (C channels of HxW in, K filters RxS, stride 1,\n"
               "             'valid'): its forward, weight and input gradients at batch 32\n");
}

int main(int argc, char **argv)
{
    int threads[2] = {1, 1}, nthreads = 1, i, t;
    double peak[2], train_ips[4];
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            char *end;
            long m = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || m < 1 || m > CNN_STUDY_MODELS) {
                fprintf(stderr, "bench: --model wants a study model number 1-%d, got '%s'\n", CNN_STUDY_MODELS, argv[i]);
                return 2;
            }
            only_model = (int)m;
        }
        else if (!strcmp(argv[i], "--conv") && i + 1 < argc) {
            if (parse_conv_shape(argv[++i], conv_shape)) return 2;
            only_conv = 1;
        }
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        else { fprintf(stderr, "bench: unknown option '%s'\n", argv[i]); usage(stderr); return 2; }
    }
#ifdef _OPENMP
    threads[1] = omp_get_max_threads();   /* OMP_NUM_THREADS, or every core */
    if (threads[1] > 1) nthreads = 2;
#endif
    if (!json) {
#if defined(__clang__)
        const char *compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
        const char *compiler = "gcc " __VERSION__;
#else
        const char *compiler = "an unknown compiler";
#endif
        printf("# cnn.h %s, bench built with %s, OpenMP %s, threads timed: 1", CNN_VERSION, compiler,
               nthreads > 1 ? "on" : "off or 1 thread");
        if (nthreads > 1) printf(" and %d", threads[1]);
        printf("\n# medians of %s repetitions after a warm-up\n", quick ? "1 or more (--quick)" : "5 to 25");
    }

    if (only_conv) {
        bench_conv_shape(conv_shape, threads, nthreads);
    } else if (only_model) {
        bench_model(only_model, threads, nthreads, NULL);
        emit(peak_rss_mib(), "peak_rss_mib after=model%d", only_model);
    } else {
        for (t = 0; t < nthreads; t++) {
            peak[t] = bench_peak(threads[t]);
            emit(peak[t], "peak_gflops threads=%d", threads[t]);
        }

        note("conv: naive on 8 samples (GFLOP/s is a rate, so it compares with im2col's at batch 128)");
        bench_convs(threads, nthreads, peak);
        bench_acts();
        bench_mask();

        note("peak_rss_mib: the process's peak resident memory so far (getrusage), convolution buffers included");
        bench_model(1, threads, nthreads, train_ips);
        emit(peak_rss_mib(), "peak_rss_mib after=model1");
        bench_model(4, threads, nthreads, NULL);
        emit(peak_rss_mib(), "peak_rss_mib after=model4");

        note("epoch_seconds: 54000 images / train_images_per_s, extrapolated from the median step time");
        for (i = 0; i < 2; i++)
            emit(EPOCH_IMAGES / train_ips[i * nthreads + nthreads - 1], "epoch_seconds model=1 batch=%d threads=%d images=%d",
                 i ? BIG_BATCH : 32, threads[nthreads - 1], EPOCH_IMAGES);
    }

    if (json) {
        printf("{");
        for (i = 0; i < nfigs; i++) {
            printf("%s\n  \"%s\": ", i ? "," : "", figs[i].name);
            print_value(figs[i].value);
        }
        printf("\n}\n");
    }
    return 0;
}
