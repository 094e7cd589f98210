/* test_grad.c - every backward pass against central finite differences of its forward pass.
   cc -std=c99 -O2 tests/test_grad.c -lm

   For a layer y = f(x) we take the scalar L = sum_i y_i * R_i with a fixed random R, so that
   dL/dy = R is what backward receives, and compare dL/dx from backward with
   (L(x + e) - L(x - e)) / (2e) for sampled entries. L is summed in double; the step e is the
   float difference actually applied, so the only noise left is the forward's float rounding.
   The error of a variable is max |numeric - analytic| / max |analytic| over the sampled entries. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "check.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

static cnn_rng rng;

static float *rnd(size_t n, float lo, float hi)
{
    float *p = (float *)malloc(n * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = lo + (hi - lo) * cnn_rng_uniform(&rng);
    return p;
}

static float *zeros(size_t n) { return (float *)calloc(n, sizeof(float)); }

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Largest error over up to `samples` entries of x (spread evenly), relative to the largest
   analytic gradient. An entry whose difference quotient moves by more than half the tolerance
   when the step is halved, or whose one-sided quotients (x to x + eps, x - eps to x) differ by
   as much, has a kink (a ReLU or a pool's pick changing) within the step, or rounding noise as
   large: the central quotient there measures nothing, so the entry is skipped; more than one
   entry in four skipped fails the check (returns 1). (The one-sided test catches a kink at x
   itself, within a few 1e-6 of it, which moves both central quotients alike: the left and the
   right derivatives' mean, where the analytic gradient is one of the two.) */
static double grad_error(loss_fn f, void *ctx, float *x, const float *g, size_t n, float eps, int samples, double tol)
{
    double gmax = 1e-12, emax = 0.0;
    size_t i, step = n > (size_t)samples ? n / (size_t)samples : 1, seen = 0, kinks = 0;
    for (i = 0; i < n; i++) if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
    for (i = 0; i < n; i += step) {
        const float save = x[i];
        const double l0 = f(ctx);
        double num[2], side[2] = {0.0, 0.0};
        int h;
        for (h = 0; h < 2; h++) {
            const float e = h ? eps * 0.5f : eps, hi = save + e, lo = save - e;
            double lp, lm;
            x[i] = hi; lp = f(ctx);
            x[i] = lo; lm = f(ctx);
            x[i] = save;
            num[h] = (lp - lm) / ((double)hi - (double)lo);
            if (!h) {
                side[0] = (lp - l0) / ((double)hi - (double)save);
                side[1] = (l0 - lm) / ((double)save - (double)lo);
            }
        }
        seen++;
        if (fabs(num[0] - num[1]) > 0.5 * tol * gmax || fabs(side[0] - side[1]) > 0.5 * tol * gmax) {
            kinks++;
            continue;
        }
        if (getenv("GRAD_DEBUG") && fabs(num[0] - g[i]) > 1e-2 * gmax)
            printf("  [%zu] num %.6g analytic %.6g\n", i, num[0], (double)g[i]);
        if (fabs(num[0] - g[i]) > emax) emax = fabs(num[0] - g[i]);
    }
    if (getenv("GRAD_DEBUG")) printf("  %zu of %zu entries at a kink\n", kinks, seen);
    return kinks * 4 > seen ? 1.0 : emax / gmax;
}

/* A checker that cannot fail proves nothing: spoil one analytic entry by 5% of the largest and
   make sure the same comparison now reports an error. */
static void check_has_teeth(const char *what, loss_fn f, void *ctx, float *x, float *g, size_t n, float eps, double tol)
{
    double gmax = 0.0;
    size_t i, at = 0;
    for (i = 0; i < n; i++) if (fabs(g[i]) > gmax) { gmax = fabs(g[i]); at = i; }
    g[at] += (float)(0.05 * gmax);
    CHECK(grad_error(f, ctx, x, g, n, eps, 1 << 30, tol) > tol, "%s: a 5%% error in one gradient entry went unnoticed", what);
    g[at] -= (float)(0.05 * gmax);
}

#define GRAD_OK(what, f, ctx, x, g, n, eps, tol)                                                        \
    do {                                                                                                \
        double e_ = grad_error(f, ctx, x, g, n, eps, 64, tol);                                           \
        CHECK(e_ < (tol), "%s: gradient error %.3g exceeds %.3g", what, e_, (double)(tol));            \
    } while (0)

/* ---- convolution ---------------------------------------------------------------------- */
typedef struct { cnn_conv_shape cs; int algo; float *x, *w, *b, *y, *r, *col; } conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *c = (conv_ctx *)p;
    size_t ny = (size_t)c->cs.n * c->cs.k * c->cs.p * c->cs.q;
    if (c->algo) cnn_conv_forward_im2col(&c->cs, c->x, c->w, c->b, c->y, c->col);
    else cnn_conv_forward_naive(&c->cs, c->x, c->w, c->b, c->y);
    return dot_d(c->y, c->r, ny);
}

static void test_conv(void)
{
    static const int strides[] = {1, 2, 5}, kernels[] = {2, 3, 5, 7};
    int algo, si, ki, pad, teeth = 0;
    for (algo = 0; algo < 2; algo++)
        for (si = 0; si < 3; si++)
            for (ki = 0; ki < 4; ki++)
                for (pad = 0; pad < 2; pad++) {
                    conv_ctx c;
                    char what[96];
                    size_t nx, nw, ny;
                    float *dx, *dw, *db;
                    const int k = kernels[ki], s = strides[si];
                    /* non-square input, one dimension not a multiple of the stride */
                    if (cnn_conv_shape_init(&c.cs, 2, 2, 12, 9, 3, k, k == 2 ? 3 : k, s, s, (cnn_padding)pad, NULL)) {
                        CHECK(0, "conv shape %dx%d stride %d refused", k, k, s);
                        continue;
                    }
                    c.algo = algo;
                    nx = (size_t)2 * 2 * 12 * 9; nw = (size_t)3 * 2 * c.cs.r * c.cs.s;
                    ny = (size_t)2 * 3 * c.cs.p * c.cs.q;
                    c.x = rnd(nx, -1, 1); c.w = rnd(nw, -1, 1); c.b = rnd(3, -1, 1);
                    c.y = zeros(ny); c.r = rnd(ny, -1, 1); c.col = zeros(cnn_conv_col_floats(&c.cs) + 1);
                    dx = zeros(nx); dw = zeros(nw); db = zeros(3);
                    conv_loss(&c);
                    if (algo) cnn_conv_backward_im2col(&c.cs, c.col, c.w, c.r, dx, dw, db);
                    else cnn_conv_backward_naive(&c.cs, c.x, c.w, c.r, dx, dw, db);
                    snprintf(what, sizeof what, "conv %s k%dx%d s%d %s dx", algo ? "im2col" : "naive", c.cs.r, c.cs.s, s,
                             pad ? "same" : "valid");
                    GRAD_OK(what, conv_loss, &c, c.x, dx, nx, 1e-2f, 2e-3);
                    what[strlen(what) - 1] = 'w';
                    GRAD_OK(what, conv_loss, &c, c.w, dw, nw, 1e-2f, 2e-3);
                    what[strlen(what) - 2] = 'b'; what[strlen(what) - 1] = 0;
                    strcat(what, "db");
                    GRAD_OK(what, conv_loss, &c, c.b, db, 3, 1e-2f, 2e-3);
                    if (!teeth++) check_has_teeth("conv dw", conv_loss, &c, c.w, dw, nw, 1e-2f, 2e-3);
                    free(c.x); free(c.w); free(c.b); free(c.y); free(c.r); free(c.col); free(dx); free(dw); free(db);
                }
}

/* ---- pooling -------------------------------------------------------------------------- */
typedef struct { cnn_pool_shape ps; cnn_pool_type t; float *x, *y, *r; int32_t *arg; } pool_ctx;

static double pool_loss(void *p)
{
    pool_ctx *c = (pool_ctx *)p;
    cnn_pool_forward(&c->ps, c->t, c->x, c->y, c->arg);
    return dot_d(c->y, c->r, (size_t)c->ps.n * c->ps.c * c->ps.p * c->ps.q);
}

static void test_pool(void)
{
    static const int sizes[] = {1, 2, 5, 3}, strides[] = {0, 0, 0, 2};   /* 3 with stride 2 overlaps */
    int t, si;
    for (t = 0; t < 3; t++)
        for (si = 0; si < 4; si++) {
            pool_ctx c;
            char what[64];
            size_t nx = (size_t)2 * 3 * 11 * 13, ny, i;
            float *dx;
            /* 11x13: divisible by neither 2 nor 5, so the floor drops a partial window */
            cnn_pool_shape_init(&c.ps, 2, 3, 11, 13, sizes[si], strides[si], NULL);
            c.t = (cnn_pool_type)t;
            ny = (size_t)2 * 3 * c.ps.p * c.ps.q;
            /* distinct values at least 0.01 apart, so a 1e-3 step never changes the winner */
            c.x = zeros(nx);
            for (i = 0; i < nx; i++) c.x[i] = (float)i * 0.01f;
            for (i = nx; i > 1; i--) { size_t j = cnn_rng_below(&rng, (uint32_t)i); float tmp = c.x[i-1]; c.x[i-1] = c.x[j]; c.x[j] = tmp; }
            c.y = zeros(ny); c.r = rnd(ny, -1, 1); c.arg = (int32_t *)calloc(ny, sizeof(int32_t));
            dx = zeros(nx);
            pool_loss(&c);
            cnn_pool_backward(&c.ps, c.t, c.arg, c.r, dx);
            snprintf(what, sizeof what, "pool %s %d/%d on 11x13 dx", cnn_pool_type_name(c.t), c.ps.size, c.ps.stride);
            /* max/min need a step below the 0.01 gap; average is linear and takes a larger one */
            GRAD_OK(what, pool_loss, &c, c.x, dx, nx, t == CNN_POOL_AVG ? 1e-2f : 1e-3f, 2e-3);
            if (t == 1 && si == 1) check_has_teeth("min pool dx", pool_loss, &c, c.x, dx, nx, 1e-3f, 2e-3);
            free(c.x); free(c.y); free(c.r); free(c.arg); free(dx);
        }
}

/* ---- batch norm (training mode) ------------------------------------------------------- */
typedef struct { int n, c; size_t hw; float *x, *gamma, *beta, *y, *xhat, *invstd, *r; } bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = (bn_ctx *)p;
    cnn_bn_forward_train(c->n, c->c, c->hw, c->x, c->gamma, c->beta, c->y, c->xhat, c->invstd, NULL, NULL, 0.99f, 1e-3f);
    return dot_d(c->y, c->r, (size_t)c->n * c->c * c->hw);
}

static void test_bn(void)
{
    bn_ctx c;
    size_t nx;
    float *dx, *dg, *db;
    c.n = 3; c.c = 4; c.hw = 5 * 3;
    nx = (size_t)c.n * c.c * c.hw;
    c.x = rnd(nx, -2, 3); c.gamma = rnd(4, 0.5f, 2); c.beta = rnd(4, -1, 1);
    c.y = zeros(nx); c.xhat = zeros(nx); c.invstd = zeros(4); c.r = rnd(nx, -1, 1);
    dx = zeros(nx); dg = zeros(4); db = zeros(4);
    bn_loss(&c);
    cnn_bn_backward(c.n, c.c, c.hw, c.r, c.xhat, c.gamma, c.invstd, dx, dg, db);
    GRAD_OK("batchnorm dx", bn_loss, &c, c.x, dx, nx, 1e-2f, 5e-3);
    GRAD_OK("batchnorm dgamma", bn_loss, &c, c.gamma, dg, 4, 1e-2f, 2e-3);
    GRAD_OK("batchnorm dbeta", bn_loss, &c, c.beta, db, 4, 1e-2f, 2e-3);
    check_has_teeth("batchnorm dx", bn_loss, &c, c.x, dx, nx, 1e-2f, 5e-3);
    free(c.x); free(c.gamma); free(c.beta); free(c.y); free(c.xhat); free(c.invstd); free(c.r);
    free(dx); free(dg); free(db);
}

/* ---- activations and dropout ---------------------------------------------------------- */
typedef struct { cnn_act a; size_t n; float *x, *y, *r, *mask; } ew_ctx;

static double act_loss(void *p)
{
    ew_ctx *c = (ew_ctx *)p;
    cnn_act_forward(c->a, c->n, c->x, c->y);
    return dot_d(c->y, c->r, c->n);
}

static double dropout_loss(void *p)
{
    ew_ctx *c = (ew_ctx *)p;
    cnn_dropout_forward(c->n, c->mask, c->x, c->y);
    return dot_d(c->y, c->r, c->n);
}

static void test_elementwise(void)
{
    ew_ctx c;
    int a;
    size_t i;
    float *dx;
    c.n = 200;
    c.x = rnd(c.n, -3, 3); c.y = zeros(c.n); c.r = rnd(c.n, -1, 1); c.mask = zeros(c.n);
    for (i = 0; i < c.n; i++) if (fabsf(c.x[i]) < 0.05f) c.x[i] = 0.05f;   /* keep relu off its kink */
    dx = zeros(c.n);
    for (a = 0; a < 4; a++) {
        char what[32];
        c.a = (cnn_act)a;
        memset(dx, 0, c.n * sizeof(float));
        act_loss(&c);
        cnn_act_backward(c.a, c.n, c.y, c.r, dx);
        snprintf(what, sizeof what, "%s dx", cnn_act_name(c.a));
        GRAD_OK(what, act_loss, &c, c.x, dx, c.n, 1e-3f, 2e-3);
        if (a == CNN_ACT_SIGMOID) check_has_teeth("sigmoid dx", act_loss, &c, c.x, dx, c.n, 1e-3f, 2e-3);
    }
    cnn_dropout_mask(&rng, 0.5f, c.n, c.mask);     /* fixed mask for the whole check */
    memset(dx, 0, c.n * sizeof(float));
    cnn_dropout_backward(c.n, c.mask, c.r, dx);
    GRAD_OK("dropout dx (fixed mask)", dropout_loss, &c, c.x, dx, c.n, 1e-2f, 2e-3);
    free(c.x); free(c.y); free(c.r); free(c.mask); free(dx);
}

/* ---- dense ---------------------------------------------------------------------------- */
typedef struct { int n, in, out; float *x, *w, *b, *y, *r; } dense_ctx;

static double dense_loss(void *p)
{
    dense_ctx *c = (dense_ctx *)p;
    cnn_dense_forward(c->n, c->in, c->out, c->x, c->w, c->b, c->y);
    return dot_d(c->y, c->r, (size_t)c->n * c->out);
}

static void test_dense(void)
{
    dense_ctx c;
    float *dx, *dw, *db;
    c.n = 4; c.in = 37; c.out = 10;
    c.x = rnd(148, -1, 1); c.w = rnd(370, -1, 1); c.b = rnd(10, -1, 1); c.y = zeros(40); c.r = rnd(40, -1, 1);
    dx = zeros(148); dw = zeros(370); db = zeros(10);
    cnn_dense_backward(c.n, c.in, c.out, c.x, c.w, c.r, dx, dw, db);
    GRAD_OK("dense dx", dense_loss, &c, c.x, dx, 148, 1e-2f, 2e-3);
    GRAD_OK("dense dw", dense_loss, &c, c.w, dw, 370, 1e-2f, 2e-3);
    GRAD_OK("dense db", dense_loss, &c, c.b, db, 10, 1e-2f, 2e-3);
    check_has_teeth("dense dx", dense_loss, &c, c.x, dx, 148, 1e-2f, 2e-3);
    free(c.x); free(c.w); free(c.b); free(c.y); free(c.r); free(dx); free(dw); free(db);
}

/* ---- softmax cross-entropy ------------------------------------------------------------ */
typedef struct { int n, k; float *z; int *labels; } xent_ctx;

static double xent_loss(void *p)
{
    xent_ctx *c = (xent_ctx *)p;
    return cnn_softmax_xent(c->n, c->k, c->z, c->labels, NULL, NULL);
}

static void test_xent(void)
{
    int labels[5] = {0, 3, 9, 9, 4}, i;
    xent_ctx c;
    float *dz = zeros(50), probs[50], big[4] = {1000.0f, -1000.0f, 3e38f, -3e38f};
    int lbig[2] = {1, 1};
    double loss;
    c.n = 5; c.k = 10; c.z = rnd(50, -4, 4); c.labels = labels;
    cnn_softmax_xent(5, 10, c.z, labels, probs, dz);
    GRAD_OK("softmax cross-entropy dlogits", xent_loss, &c, c.z, dz, 50, 1e-2f, 2e-3);
    check_has_teeth("softmax cross-entropy", xent_loss, &c, c.z, dz, 50, 1e-2f, 2e-3);
    for (i = 0; i < 5; i++) {
        double s = 0.0;
        int j;
        for (j = 0; j < 10; j++) s += probs[i * 10 + j];
        CHECK(fabs(s - 1.0) < 1e-5, "softmax row %d sums to %.8f", i, s);
    }
    /* huge logits: each loss is the gap to the largest logit (2000 and 6e38), finite, never NaN */
    loss = cnn_softmax_xent(2, 2, big, lbig, probs, dz);
    CHECK(isfinite(loss) && fabs(loss - (2000.0 + 6e38) / 2.0) / 3e38 < 1e-6,
          "softmax with logits +-1000 and +-3e38: loss %g", loss);
    CHECK(isfinite(dz[0]) && isfinite(dz[1]) && isfinite(dz[2]) && isfinite(dz[3]), "softmax gradients not finite");
    free(c.z); free(dz);
}

/* ---- a whole net, end to end ---------------------------------------------------------- */
typedef struct { cnn_net *net; const float *x; const int *y; int n; cnn_rng drop; } net_ctx;

static double net_loss(void *p)
{
    net_ctx *c = (net_ctx *)p;
    cnn_rng r = c->drop;            /* the same dropout masks for every evaluation */
    const float *logits;
    cnn_net_set_training(c->net, 1, &r);
    logits = cnn_net_forward(c->net, c->x, c->n);
    return cnn_softmax_xent(c->n, cnn_net_get_desc(c->net)->classes, logits, c->y, NULL, NULL);
}

static void test_net(void)
{
    static const char *specs[] = {
        "(4, (3,3), (1,1), 'relu', 0.3, 2, 'max') (3, (2,2), (1,1), 'tanh', 0.2, 2, 'min')",
        "(3, (3,2), (2,1), 'sigmoid', 0, 3, 'average') (4, (2,2), (1,1), 'relu', 0.5, 1, 'max')",
        /* 24 filters: the first convolution's gradient is made from the pool's picks (im2col,
           conv-bn-act; cnn__conv_backward_pool_gen) */
        "(24, (3,3), (1,1), 'relu', 0, 2, 'max') (4, (2,2), (1,1), 'relu', 0, 1, 'max')",
        /* on 28x26 images, the second convolution (8 channels in and out, 2x2 filters on 13x12)
           takes the Winograd path where it is built (AVX-512) */
        "(8, (3,3), (1,1), 'relu', 0.2, 2, 'max') (8, (2,2), (1,1), 'relu', 0, 1, 'max')",
        /* on 19x17 images, the second convolution (2x2 on 17x15) takes it a row of tiles at a
           time (cnn__wg_rows: 6 rows of 5 tiles), 3 samples in a group of 2 and one of 1 */
        "(8, (3,3), (1,1), 'relu', 0.2, 1, 'max') (8, (2,2), (1,1), 'relu', 0, 2, 'max')",
    };
    int s, order, algo;
    for (s = 0; s < 5; s++)
        for (order = 0; order < 2; order++)
            for (algo = 0; algo < 2; algo++) {
                cnn_net_desc d;
                cnn_error err;
                net_ctx c;
                int y[3] = {0, 2, 1};
                const int ih = s == 3 ? 28 : s == 4 ? 19 : 13, iw = s == 3 ? 26 : s == 4 ? 17 : 12;
                float *x = rnd((size_t)3 * 2 * ih * iw, 0, 1), *g;
                char what[96];
                cnn_rng init;
                size_t np;
                cnn_net_desc_init(&d, 2, ih, iw, 3);
                d.order = (cnn_order)order;
                d.algo = (cnn_conv_algo)algo;
                if (cnn_net_desc_parse(&d, specs[s], &err) || cnn_net_create(&c.net, &d, &err) ||
                    cnn_net_reserve(c.net, 3, &err)) {
                    CHECK(0, "net %d: %s", s, err.msg);
                    free(x);
                    continue;
                }
                cnn_rng_seed(&init, 7);
                cnn_net_init(c.net, &init);
                np = cnn_net_param_count(c.net);
#ifdef CNN__GEMM_VECTOR
                CHECK(cnn__conv_takes_pool_gen(c.net, 0) == (s == 2 && order == 0 && algo == 0),
                      "net %d: first convolution's gradient from the pool's picks %d", s + 1,
                      cnn__conv_takes_pool_gen(c.net, 0));
#endif
#ifdef CNN__WG
                {
                    int i, wg = 0, rows = 0;
                    for (i = 0; i < c.net->nlayers; i++)
                        if (c.net->layers[i].kind == CNN_LAYER_CONV && cnn__conv_wg(&c.net->layers[i].conv)) {
                            wg++;
                            rows += cnn__wg_rows(&c.net->layers[i].conv);
                        }
                    CHECK(wg == (s >= 3) && rows == (s == 4), "net %d: %d convolutions take the Winograd path, %d by rows",
                          s + 1, wg, rows);
                }
#endif
                /* net 1's second block, conv-bn-act: its min pool writes the tanh's input gradient */
                CHECK(cnn__pool_applies_act_grad(c.net, 8) == (s == 0 && order == 0),
                      "net %d: the pool after the tanh makes its gradient %d", s + 1, cnn__pool_applies_act_grad(c.net, 8));
                c.x = x; c.y = y; c.n = 3;
                cnn_rng_seed(&c.drop, 99);
                memset(cnn_net_grads(c.net), 0, np * sizeof(float));
                net_loss(&c);
                {
                    cnn_rng r = c.drop;
                    float dl[9];
                    const float *logits;
                    cnn_net_set_training(c.net, 1, &r);
                    logits = cnn_net_forward(c.net, x, 3);
                    cnn_softmax_xent(3, 3, logits, y, NULL, dl);
                    cnn_net_backward(c.net, dl);
                }
                g = (float *)malloc(np * sizeof(float));
                memcpy(g, cnn_net_grads(c.net), np * sizeof(float));
                snprintf(what, sizeof what, "net %d %s %s: every parameter", s + 1,
                         order ? "conv-act-bn" : "conv-bn-act", algo ? "naive" : "im2col");
                /* a small step: with relu, max/min pooling and batch statistics in one net, a 1e-2
                   step moves some values across a kink and the difference quotient is then wrong */
                GRAD_OK(what, net_loss, &c, cnn_net_params(c.net), g, np, 1e-4f, 1e-2);
                if (s == 0 && order == 0 && algo == 0)
                    check_has_teeth("whole net", net_loss, &c, cnn_net_params(c.net), g, np, 1e-4f, 1e-2);
                free(g); free(x);
                cnn_net_free(c.net);
            }
}

int main(void)
{
    cnn_rng_seed(&rng, 12345);
    test_conv();
    test_pool();
    test_bn();
    test_elementwise();
    test_dense();
    test_xent();
    test_net();
    return check_done("test_grad");
}
