/* test_layers.c - properties and hand-computed values: im2col against the naive convolution on
   random shapes, pooling against a plain reference and min against max, batch-norm statistics, Adam's first steps,
   Glorot limits, the random number generator, the net's fused layers against the public ones.
   cc -std=c99 -O2 tests/test_layers.c -lm */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "check.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

static cnn_rng rng;

static float *rnd(size_t n, float lo, float hi)
{
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = lo + (hi - lo) * cnn_rng_uniform(&rng);
    return p;
}

static float *zeros(size_t n) { return (float *)calloc(n ? n : 1, sizeof(float)); }

/* max |a-b| / max(max|a|, tiny): relative to the array's scale */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double scale = 1e-30, d = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        if (fabs(a[i]) > scale) scale = fabs(a[i]);
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    }
    return d / scale;
}

/* the largest relative difference between cnn_conv_*_im2col and the naive loops over y, dx,
   dw and db on random data; added_to: dx and dw start from the same non-zero values on both
   sides (backward adds to them) */
static double conv_vs_naive(const cnn_conv_shape *cs, int added_to)
{
    const size_t nx = (size_t)cs->n * cs->c * cs->h * cs->w, nw = (size_t)cs->k * cs->c * cs->r * cs->s;
    const size_t ny = (size_t)cs->n * cs->k * cs->p * cs->q, k = (size_t)cs->k;
    float *x = rnd(nx, -1, 1), *wt = rnd(nw, -1, 1), *b = rnd(k, -1, 1), *dy = rnd(ny, -1, 1);
    float *y1 = zeros(ny), *y2 = zeros(ny), *col = rnd(cnn_conv_col_floats(cs), -9, 9);
    float *dx1 = added_to ? rnd(nx, -1, 1) : zeros(nx), *dx2 = zeros(nx), *dw1 = added_to ? rnd(nw, -1, 1) : zeros(nw);
    float *dw2 = zeros(nw), *db1 = zeros(k), *db2 = zeros(k);
    double e;
    memcpy(dx2, dx1, nx * sizeof(float));
    memcpy(dw2, dw1, nw * sizeof(float));
    cnn_conv_forward_naive(cs, x, wt, b, y1);
    cnn_conv_forward_im2col(cs, x, wt, b, y2, col);
    cnn_conv_backward_naive(cs, x, wt, dy, dx1, dw1, db1);
    cnn_conv_backward_im2col(cs, col, wt, dy, dx2, dw2, db2);
    e = rel_diff(y1, y2, ny);
    {   /* the net's inference forward (no input copy kept for a backward): the same bits */
        float *y3 = rnd(ny, -9, 9), *col3 = rnd(cnn_conv_col_floats(cs), -9, 9);
        cnn__conv_forward_im2col(cs, x, wt, b, y3, col3, 0);
        if (memcmp(y2, y3, ny * sizeof(float))) e = 1.0;
        free(y3); free(col3);
    }
    if (rel_diff(dx1, dx2, nx) > e) e = rel_diff(dx1, dx2, nx);
    if (rel_diff(dw1, dw2, nw) > e) e = rel_diff(dw1, dw2, nw);
    if (rel_diff(db1, db2, k) > e) e = rel_diff(db1, db2, k);
    free(x); free(wt); free(b); free(dy); free(y1); free(y2); free(col);
    free(dx1); free(dx2); free(dw1); free(dw2); free(db1); free(db2);
    return e;
}

static void test_im2col_vs_naive(void)
{
    int trial, worst_trial = -1;
    double worst = 0.0;
    for (trial = 0; trial < 60; trial++) {
        cnn_conv_shape cs;
        int n = 1 + (int)cnn_rng_below(&rng, 3), c = 1 + (int)cnn_rng_below(&rng, 4);
        int h = 3 + (int)cnn_rng_below(&rng, 14), w = 3 + (int)cnn_rng_below(&rng, 14);
        int k = 1 + (int)cnn_rng_below(&rng, 6), r = 1 + (int)cnn_rng_below(&rng, 7), s = 1 + (int)cnn_rng_below(&rng, 7);
        int sh = 1 + (int)cnn_rng_below(&rng, 5), sw = 1 + (int)cnn_rng_below(&rng, 5);
        cnn_padding pad = (cnn_padding)cnn_rng_below(&rng, 2);
        double e;
        if (pad == CNN_PAD_VALID && (r > h || s > w)) pad = CNN_PAD_SAME;
        if (cnn_conv_shape_init(&cs, n, c, h, w, k, r, s, sh, sw, pad, NULL) != CNN_OK) {
            CHECK(0, "trial %d: shape refused", trial);
            continue;
        }
        e = conv_vs_naive(&cs, 0);
        if (e > worst) { worst = e; worst_trial = trial; }
        CHECK(e < 1e-5, "im2col vs naive, trial %d: n%d c%d %dx%d k%d %dx%d stride %dx%d %s: relative difference %.3g",
              trial, n, c, h, w, k, r, s, sh, sw, pad ? "same" : "valid", e);
    }
    printf("im2col vs naive: worst relative difference %.3g (trial %d)\n", worst, worst_trial);
}

/* Stride 1 without padding and several input channels goes the wide way (cnn__conv_wide: R*S
   GEMMs on the shifted input, no im2col) where the compiler has vector types: checked against
   the naive loops on shapes on both sides of its workspace condition, with dx and dw starting
   non-zero to check they are added to. */
static void test_conv_wide_vs_naive(void)
{
    int trial, wide = 0, other = 0, padded = 0;
    double worst = 0.0;
    for (trial = 0; trial < 43; trial++) {
        cnn_conv_shape cs;
        double e;
        int n = 1 + (int)cnn_rng_below(&rng, 3), c = 8 + (int)cnn_rng_below(&rng, 13), k = 1 + (int)cnn_rng_below(&rng, 40);
        int h = 1 + (int)cnn_rng_below(&rng, 16), w = 1 + (int)cnn_rng_below(&rng, 16);
        int r = 1 + (int)cnn_rng_below(&rng, h < 5 ? h : 5), s = 1 + (int)cnn_rng_below(&rng, w < 5 ? w : 5);
        if (trial == 40) { n = 2; c = 136; h = 6; w = 7; k = 100; r = 2; s = 3; }  /* GEMM blocks: C > 128, K > 96 */
        if (trial == 41) { n = 1; c = 9; h = 10; w = 10; k = 130; r = 3; s = 3; }
        if (trial == 42) { n = 2; c = 8; h = 9; w = 9; k = 17; r = 2; s = 2; }   /* AVX-512: no room to round up */
        if (cnn_conv_shape_init(&cs, n, c, h, w, k, r, s, 1, 1, CNN_PAD_VALID, NULL) != CNN_OK) {
            CHECK(0, "wide trial %d: shape refused", trial);
            continue;
        }
#ifdef CNN__GEMM_VECTOR
        if (cnn__conv_wide(&cs)) {
            const size_t nw = (size_t)(cs.p - 1) * cs.w + (size_t)cs.q;
            wide++;
            padded += cnn__conv_wide_ldy(&cs) != nw;   /* the forward's width rounded up */
        } else {
            other++;
        }
#endif
        e = conv_vs_naive(&cs, 1);
        if (e > worst) worst = e;
        CHECK(e < 1e-5, "stride-1 conv vs naive, trial %d: n%d c%d %dx%d k%d %dx%d: relative difference %.3g", trial,
              n, c, h, w, k, r, s, e);
    }
#ifdef CNN__GEMM_VECTOR
    CHECK(wide >= 15 && other >= 3, "stride-1 conv: %d trials took the wide path, %d im2col; want both", wide, other);
    CHECK(padded >= 5 && wide - padded >= 1, "stride-1 conv: %d wide trials with the forward's width rounded up, %d without; want both",
          padded, wide - padded);
#endif
    printf("stride-1 conv vs naive: worst relative difference %.3g (%d wide, %d of them rounded up, %d im2col)\n", worst,
           wide, padded, other);
}

/* The Winograd path (cnn__conv_wg: 2x2 filters on inputs of 11 to 31 rows and columns, 8 or more
   channels in and out, AVX-512 builds; 16 tiles a sample at once, or a row of tiles at a time past
   13) against the naive loops, dx and dw added to; then called
   the net's way (the forward keeps no copy and the backward is given the input again, dx written
   over what was there) for the same values, and with OpenMP, 1 and 2 threads for the same bits */
static void test_conv_wg_vs_naive(void)
{
    int trial, taken = 0, rows = 0;
    double worst = 0.0;
    for (trial = 0; trial < 24; trial++) {
        cnn_conv_shape cs;
        double e;
        int n = 1 + (int)cnn_rng_below(&rng, 5), c = 8 + (int)cnn_rng_below(&rng, 140), k = 8 + (int)cnn_rng_below(&rng, 40);
        int h = 11 + (int)cnn_rng_below(&rng, trial < 14 ? 3 : 21), w = 11 + (int)cnn_rng_below(&rng, trial < 14 ? 3 : 21);
        if (trial == 0) { n = 32; c = 64; h = 13; w = 13; k = 32; }   /* the study's base model, batch 32 */
        if (trial == 1) { n = 17; c = 256; h = 12; w = 11; k = 33; }  /* an odd batch: a group of one sample */
        if (trial == 14) { n = 32; c = 64; h = 26; w = 26; k = 32; }  /* study model 16 */
        if (trial == 15) { n = 3; h = 31; w = 11; }                   /* the edges: 10 tiles, 4 tiles */
        if (trial == 16) { n = 1; h = 11; w = 31; }
        if (trial == 17) { n = 2; h = 17; w = 16; }                   /* a row across two vectors, or just one */
        if (cnn_conv_shape_init(&cs, n, c, h, w, k, 2, 2, 1, 1, CNN_PAD_VALID, NULL) != CNN_OK) {
            CHECK(0, "winograd trial %d: shape refused", trial);
            continue;
        }
        e = conv_vs_naive(&cs, 1);
        if (e > worst) worst = e;
        CHECK(e < 1e-5, "winograd conv vs naive, trial %d: n%d c%d %dx%d k%d: relative difference %.3g", trial, n, c, h, w,
              k, e);
#ifdef CNN__WG
        taken += cnn__conv_wg(&cs);
        rows += cnn__conv_wg(&cs) && cnn__wg_rows(&cs);
        {
            const size_t nx = (size_t)n * c * h * w, nw = (size_t)k * c * 4, ny = (size_t)n * k * cs.p * cs.q;
            const size_t ncol = cnn_conv_col_floats(&cs);
            float *x = rnd(nx, -1, 1), *wt = rnd(nw, -1, 1), *b = rnd((size_t)k, -1, 1), *dy = rnd(ny, -1, 1);
            float *y1 = zeros(ny), *y2 = zeros(ny), *col1 = rnd(ncol, -9, 9), *col2 = rnd(ncol, -9, 9);
            float *dx1 = rnd(nx, -9, 9), *dx2 = zeros(nx), *dw1 = zeros(nw), *dw2 = zeros(nw);
            size_t i;
            int same = 1;
            cnn__conv_forward_im2col(&cs, x, wt, b, y1, col1, 2);
            cnn__conv_backward_im2col(&cs, col1, wt, dy, dx1, dw1, NULL, 1, x);
            cnn_conv_forward_im2col(&cs, x, wt, b, y2, col2);
            cnn_conv_backward_im2col(&cs, col2, wt, dy, dx2, dw2, NULL);
            for (i = 0; i < nx; i++) same &= dx1[i] == dx2[i];
            CHECK(same && !memcmp(y1, y2, ny * sizeof(float)) && !memcmp(dw1, dw2, nw * sizeof(float)),
                  "winograd trial %d: the net's calls give other values than the public ones", trial);
#ifdef _OPENMP
            {
                const int threads = omp_get_max_threads();
                omp_set_num_threads(1);
                memset(dx1, 0, nx * sizeof(float)); memset(dw1, 0, nw * sizeof(float));
                cnn_conv_forward_im2col(&cs, x, wt, b, y1, col1);
                cnn_conv_backward_im2col(&cs, col1, wt, dy, dx1, dw1, NULL);
                omp_set_num_threads(2);
                memset(dx2, 0, nx * sizeof(float)); memset(dw2, 0, nw * sizeof(float));
                cnn_conv_forward_im2col(&cs, x, wt, b, y2, col2);
                cnn_conv_backward_im2col(&cs, col2, wt, dy, dx2, dw2, NULL);
                omp_set_num_threads(threads);
                CHECK(!memcmp(y1, y2, ny * sizeof(float)) && !memcmp(dx1, dx2, nx * sizeof(float)) &&
                          !memcmp(dw1, dw2, nw * sizeof(float)),
                      "winograd trial %d: 1 and 2 threads give other bits", trial);
            }
#endif
            free(x); free(wt); free(b); free(dy); free(y1); free(y2); free(col1); free(col2);
            free(dx1); free(dx2); free(dw1); free(dw2);
        }
#endif
    }
#ifdef CNN__WG
    CHECK(taken == 24 && rows >= 10, "winograd: %d of 24 trials took the path, %d a row of tiles at a time", taken, rows);
#endif
    printf("winograd conv vs naive: worst relative difference %.3g (%d of 24 trials took the path, %d by rows)\n", worst,
           taken, rows);
}

static void test_same_padding(void)
{
    /* Keras/TensorFlow 'same': 28 wide, kernel 3, stride 2 -> 14 out, padding 1 total, 0 on the left */
    cnn_conv_shape cs;
    CHECK(cnn_conv_shape_init(&cs, 1, 1, 28, 28, 1, 3, 3, 2, 2, CNN_PAD_SAME, NULL) == CNN_OK, "same shape");
    CHECK(cs.p == 14 && cs.pad_top == 0, "same 28/k3/s2: P %d pad_top %d, expected 14 and 0", cs.p, cs.pad_top);
    CHECK(cnn_conv_shape_init(&cs, 1, 1, 28, 28, 1, 5, 5, 1, 1, CNN_PAD_SAME, NULL) == CNN_OK, "same shape");
    CHECK(cs.p == 28 && cs.pad_top == 2, "same 28/k5/s1: P %d pad_top %d, expected 28 and 2", cs.p, cs.pad_top);
    CHECK(cnn_conv_shape_init(&cs, 1, 1, 2, 2, 1, 3, 3, 1, 1, CNN_PAD_VALID, NULL) == CNN_ERR_SHAPE,
          "valid 3x3 on 2x2 accepted");
}

static void test_min_pool(void)
{
    /* min pool(x) = -max pool(-x), values and where the gradient goes */
    cnn_pool_shape ps;
    size_t nx = (size_t)2 * 3 * 11 * 13, ny, i;
    float *x = rnd(nx, -1, 1), *nx_ = zeros(nx), *ymin, *ymax, *dy, *dmin, *dmax;
    int32_t *amin, *amax;
    int size;
    for (size = 1; size <= 7; size++) {
        cnn_pool_shape_init(&ps, 2, 3, 11, 13, size, 0, NULL);
        ny = (size_t)2 * 3 * ps.p * ps.q;
        CHECK(ps.p == (11 - size) / size + 1 && ps.q == (13 - size) / size + 1, "pool %d on 11x13 gives %dx%d", size, ps.p, ps.q);
        for (i = 0; i < nx; i++) nx_[i] = -x[i];
        ymin = zeros(ny); ymax = zeros(ny); dy = rnd(ny, -1, 1); dmin = zeros(nx); dmax = zeros(nx);
        amin = (int32_t *)calloc(ny, sizeof(int32_t)); amax = (int32_t *)calloc(ny, sizeof(int32_t));
        cnn_pool_forward(&ps, CNN_POOL_MIN, x, ymin, amin);
        cnn_pool_forward(&ps, CNN_POOL_MAX, nx_, ymax, amax);
        cnn_pool_backward(&ps, CNN_POOL_MIN, amin, dy, dmin);
        cnn_pool_backward(&ps, CNN_POOL_MAX, amax, dy, dmax);
        for (i = 0; i < ny; i++) if (ymin[i] != -ymax[i]) break;
        CHECK(i == ny, "pool %d: min pool differs from -max pool(-x) at output %zu", size, i);
        for (i = 0; i < nx; i++) if (dmin[i] != dmax[i]) break;
        CHECK(i == nx, "pool %d: min pool gradient differs from max pool's on -x at input %zu", size, i);
        if (size == 1) {
            for (i = 0; i < nx; i++) if (ymin[i] != x[i]) break;
            CHECK(i == nx, "pool size 1 is not the identity");
        }
        free(ymin); free(ymax); free(dy); free(dmin); free(dmax); free(amin); free(amax);
    }
    /* the study's model 17: 26x26 pooled by 5 floors to 5x5 */
    CHECK(cnn_pool_shape_init(&ps, 1, 64, 26, 26, 5, 0, NULL) == CNN_OK && ps.p == 5 && ps.q == 5, "26 by 5: %dx%d", ps.p, ps.q);
    free(x); free(nx_);
}

/* pooling written the plainest way: every window scanned in row-major order, the first of equal
   values (or a NaN in first place) kept, averages summed in that order and then scaled */
static void pool_reference(const cnn_pool_shape *ps, cnn_pool_type t, const float *x, float *y, int32_t *arg)
{
    /* rounded to float, also on x87 in GNU mode, which may keep a float variable in an 80-bit
       register: through a volatile, as cnn.h does (cnn__f32) */
    volatile float inv_area_v = 1.0f / (float)(ps->size * ps->size);
    const float inv_area = inv_area_v;
    int pl, p, q, i, j;
    for (pl = 0; pl < ps->n * ps->c; pl++)
        for (p = 0; p < ps->p; p++)
            for (q = 0; q < ps->q; q++) {
                const float *xp = x + (size_t)pl * ps->h * ps->w;
                int at = p * ps->stride * ps->w + q * ps->stride;
                float m = xp[at];
                for (i = 0; i < ps->size; i++)
                    for (j = 0; j < ps->size; j++) {
                        const int k = (p * ps->stride + i) * ps->w + q * ps->stride + j;
                        if (i == 0 && j == 0) continue;
                        if (t == CNN_POOL_AVG) m += xp[k];
                        else if (t == CNN_POOL_MAX ? xp[k] > m : xp[k] < m) { m = xp[k]; at = k; }
                    }
                if (t == CNN_POOL_AVG) m *= inv_area;
                y[((size_t)pl * ps->p + p) * ps->q + q] = m;
                arg[((size_t)pl * ps->p + p) * ps->q + q] = at;
            }
}

static void test_pool_vs_reference(void)
{
    /* sizes and strides that take the 2x2/stride-2 fast path and the general one; values drawn
       from a few levels so that windows hold ties, plus NaNs at fixed places. Widths 11, 26 and
       37 give 2x2 rows of 5, 13 and 18 windows: shorter than one block of 8, one block and a
       block moved back, two blocks and a moved one. Width 600 takes the general path's runs of
       256 columns (CNN__POOL_COLS) in pieces, and the 260x260 window is wider than a run. Zeros
       of both signs tie, and the pick decides which sign comes out. Max and min also run
       without arg. */
    static const int cfg[][2] = {{2, 2}, {2, 1}, {3, 2}, {1, 1}, {5, 5}, {3, 3}, {4, 3}, {260, 3}};
    static const int hw[][2] = {{13, 11}, {5, 26}, {4, 37}, {9, 600}, {263, 266}};
    static const float level[6] = {-1.5f, -0.5f, 0.5f, 1.5f, 0.0f, -0.0f};
    int c, t, s;
    for (s = 0; s < (int)(sizeof hw / sizeof hw[0]); s++) {
        const int H = hw[s][0], W = hw[s][1];
        const size_t nx = (size_t)2 * 3 * H * W;
        float *x = zeros(nx);
        size_t i;
        for (i = 0; i < nx; i++) x[i] = level[cnn_rng_below(&rng, 6)];
        x[0] = NAN; x[5] = NAN; x[W + 3] = NAN; x[nx - 1] = NAN; x[2 * W + 20] = NAN;
        for (c = 0; c < (int)(sizeof cfg / sizeof cfg[0]); c++)
            for (t = CNN_POOL_MAX; t <= CNN_POOL_AVG; t++) {
                cnn_pool_shape ps;
                size_t ny, bad = 0, bad_noarg = 0;
                float *y, *yr, *y2;
                int32_t *a, *ar;
                if (cnn_pool_shape_init(&ps, 2, 3, H, W, cfg[c][0], cfg[c][1], NULL) != CNN_OK) continue;
                ny = (size_t)2 * 3 * ps.p * ps.q;
                y = zeros(ny); yr = zeros(ny); y2 = zeros(ny);
                a = (int32_t *)calloc(ny, sizeof *a); ar = (int32_t *)calloc(ny, sizeof *ar);
                cnn_pool_forward(&ps, (cnn_pool_type)t, x, y, t == CNN_POOL_AVG ? NULL : a);
                cnn_pool_forward(&ps, (cnn_pool_type)t, x, y2, NULL);
                pool_reference(&ps, (cnn_pool_type)t, x, yr, ar);
                for (i = 0; i < ny; i++) {
                    const int same = memcmp(&y[i], &yr[i], sizeof(float)) == 0 || (isnan(y[i]) && isnan(yr[i]));
                    const int same2 = memcmp(&y2[i], &yr[i], sizeof(float)) == 0 || (isnan(y2[i]) && isnan(yr[i]));
                    if (!bad && (!same || (t != CNN_POOL_AVG && a[i] != ar[i]))) bad = i + 1;
                    if (!bad_noarg && !same2) bad_noarg = i + 1;
                }
                CHECK(!bad, "%s pool %d stride %d on %dx%d: output %zu is %g at %d, the reference %g at %d",
                      cnn_pool_type_name((cnn_pool_type)t), cfg[c][0], cfg[c][1], H, W, bad - 1, bad ? y[bad - 1] : 0.0,
                      bad ? a[bad - 1] : 0, bad ? yr[bad - 1] : 0.0, bad ? ar[bad - 1] : 0);
                CHECK(!bad_noarg, "%s pool %d stride %d on %dx%d without arg: output %zu is %g, the reference %g",
                      cnn_pool_type_name((cnn_pool_type)t), cfg[c][0], cfg[c][1], H, W, bad_noarg - 1,
                      bad_noarg ? y2[bad_noarg - 1] : 0.0, bad_noarg ? yr[bad_noarg - 1] : 0.0);
                free(y); free(yr); free(y2); free(a); free(ar);
            }
        free(x);
    }
}

/* the net's 2x2/stride-2 pooling backward writes every dx instead of clearing and adding: it must
   give the bits of clear + cnn_pool_backward, also over odd sizes (a dropped row and column) and
   whatever the buffer held before */
static void test_pool2_backward_write(void)
{
    static const int hw[][2] = {{13, 11}, {12, 12}, {26, 26}, {3, 2}};
    int c, t;
    for (c = 0; c < 4; c++)
        for (t = CNN_POOL_MAX; t <= CNN_POOL_AVG; t++) {
            cnn_pool_shape ps;
            size_t nx, ny, i;
            float *x, *y, *dy, *dx1, *dx2;
            int32_t *a;
            cnn_pool_shape_init(&ps, 2, 3, hw[c][0], hw[c][1], 2, 2, NULL);
            nx = (size_t)2 * 3 * ps.h * ps.w; ny = (size_t)2 * 3 * ps.p * ps.q;
            x = rnd(nx, -1, 1); y = zeros(ny); dy = rnd(ny, -1, 1); dx1 = zeros(nx); dx2 = rnd(nx, 5, 9);
            for (i = 0; i < ny; i += 5) dy[i] = -0.0f;
            a = (int32_t *)calloc(ny, sizeof *a);
            cnn_pool_forward(&ps, (cnn_pool_type)t, x, y, t == CNN_POOL_AVG ? NULL : a);
            cnn_pool_backward(&ps, (cnn_pool_type)t, a, dy, dx1);
            CHECK(cnn__pool2_applies(&ps), "2x2 path not taken");
            cnn__pool2_backward_write(&ps, (cnn_pool_type)t, t == CNN_POOL_AVG ? NULL : a, dy, CNN_ACT_RELU, NULL, dx2);
            for (i = 0; i < nx; i++) if (memcmp(&dx1[i], &dx2[i], sizeof(float))) break;
            CHECK(i == nx, "%s pool 2x2 on %dx%d: written dx differs from clear + add at %zu (%g vs %g)",
                  cnn_pool_type_name((cnn_pool_type)t), ps.h, ps.w, i, i < nx ? dx2[i] : 0.0, i < nx ? dx1[i] : 0.0);
            if (t != CNN_POOL_AVG) {
                /* after a ReLU (inputs >= 0, many ties at 0, a NaN): the gradient through the
                   ReLU as well, from the pool's output, bit for bit */
                for (i = 0; i < nx; i++) x[i] = x[i] < 0.0f ? 0.0f : x[i];
                x[3] = NAN;
                cnn_pool_forward(&ps, (cnn_pool_type)t, x, y, a);
                memset(dx1, 0, nx * sizeof(float));
                cnn_pool_backward(&ps, (cnn_pool_type)t, a, dy, dx1);
                for (i = 0; i < nx; i++) dx1[i] = cnn__relu_grad(dx1[i], x[i]);
                cnn__pool2_backward_write(&ps, (cnn_pool_type)t, a, dy, CNN_ACT_RELU, y, dx2);
                for (i = 0; i < nx; i++) if (memcmp(&dx1[i], &dx2[i], sizeof(float))) break;
                CHECK(i == nx, "%s pool 2x2 on %dx%d after a ReLU: written dx differs at %zu (%g vs %g)",
                      cnn_pool_type_name((cnn_pool_type)t), ps.h, ps.w, i, i < nx ? dx2[i] : 0.0, i < nx ? dx1[i] : 0.0);
                /* after a sigmoid or tanh (outputs that tie where they saturate): dx is the
                   activation's input gradient, the bits of clear + add + its backward */
                {
                    const cnn_act acts[2] = {CNN_ACT_SIGMOID, CNN_ACT_TANH};
                    int k;
                    for (k = 0; k < 2; k++) {
                        float *z = rnd(nx, -4, 4), *dz = zeros(nx);
                        for (i = 0; i < nx; i += 7) z[i] = 30.0f;
                        cnn_act_forward(acts[k], nx, z, x);
                        cnn_pool_forward(&ps, (cnn_pool_type)t, x, y, a);
                        memset(dx1, 0, nx * sizeof(float));
                        cnn_pool_backward(&ps, (cnn_pool_type)t, a, dy, dx1);
                        cnn__act_backward(acts[k], nx, x, dx1, dz, 0);   /* as the net runs it */
                        cnn__pool2_backward_write(&ps, (cnn_pool_type)t, a, dy, acts[k], y, dx2);
                        for (i = 0; i < nx; i++) if (memcmp(&dz[i], &dx2[i], sizeof(float))) break;
                        CHECK(i == nx, "%s pool 2x2 on %dx%d after %s: written dx differs at %zu (%g vs %g)",
                              cnn_pool_type_name((cnn_pool_type)t), ps.h, ps.w, cnn_act_name(acts[k]), i,
                              i < nx ? dx2[i] : 0.0, i < nx ? dz[i] : 0.0);
                        free(z); free(dz);
                    }
                }
            }
            free(x); free(y); free(dy); free(dx1); free(dx2); free(a);
        }
}

/* the generator's next 64-bit output: SplitMix64 written out again from its definition (its top
   32 bits are checked against cnn_rng_u32's below) */
static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* cnn_dropout_mask against its definition: entries 2j and 2j + 1 from the j-th 64-bit draw, the
   uniforms k * 2^-24 of its bits 40-63 and 8-31 as floats compared with the rate (it tests k
   against a threshold instead), an odd count's last entry from one more draw's top bits: the
   same masks and the same generator state after. Besides plain rates, ones where the
   threshold's rounding decides: the first draw's own value u0 (kept), the floats just below and
   above it, and u0 plus half a 2^-24 step (dropped), so that the first entry sits on the
   threshold's edge every time; with a seed whose u0 is below 1/4, where floats are finer than
   the steps. */
static void test_dropout_mask_definition(void)
{
    enum { N = 20001, PLAIN = 6 };
    float rates[PLAIN + 4] = {0.0f, 0.2f, 0.5f, 0.8f, 1.0e-30f, 0.99999994f};
    static float got[N];
    size_t k, i;
    for (k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        float rate, keep;
        cnn_rng a, b;
        size_t bad = 0;
        cnn_rng_seed(&a, 1000 + k);
        cnn_rng_seed(&b, 1000 + k);
        if (k >= PLAIN) {
            cnn_rng c = a;
            float u0;
            while ((u0 = cnn_rng_uniform(&c)) >= 0.25f) {   /* the next seed */
                cnn_rng_seed(&a, a.state + 1);
                c = b = a;
            }
            const float edge[4] = {u0, nextafterf(u0, 0.0f), nextafterf(u0, 1.0f), u0 + 0.5f / 16777216.0f};
            rates[k] = edge[k - PLAIN];
        }
        rate = rates[k];
        keep = 1.0f / (1.0f - rate);
        cnn_dropout_mask(&a, rate, N, got);
        {
            uint64_t st = b.state, z = 0;
            cnn_rng c = b;
            CHECK((uint32_t)(splitmix64_next(&st) >> 32) == cnn_rng_u32(&c), "the test's SplitMix64 is not cnn_rng's");
            st = b.state;
            for (i = 0; i < N; i++) {
                const uint32_t k = i % 2 ? (uint32_t)z >> 8 : (uint32_t)((z = splitmix64_next(&st)) >> 40);
                const float want = (float)k / 16777216.0f >= rate ? keep : 0.0f;
                bad += memcmp(&want, &got[i], sizeof want) != 0;
            }
            b.state = st;
        }
        CHECK(bad == 0, "rate %.9g: %zu of %d mask entries differ from the definition", (double)rate, bad, N);
        CHECK(a.state == b.state, "rate %.9g: the generator's state after the mask differs", (double)rate);
    }
}

/* the net draws each sample's dropout mask from its own generator, seeded with output m + 1 of
   a SplitMix64 stream that starts at one draw from the net's generator per dropout layer, in
   layer order (cnn_net_forward): the masks are rebuilt here from that definition. Each dropout's
   output must be its input times its mask, bit for bit, and its cache the mask, or, where the net
   keeps a byte an entry instead (cnn__dropout_keeps_at; the first block's dropout, made with
   the streamed block in vector builds), 1 exactly where the mask is not 0 and the input > 0.
   Each mask must drop about the rate, and two samples' masks be independent (agree on about half
   the units at rate 0.5). */
static void test_net_dropout_masks(void)
{
    enum { B = 6 };
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_error err;
    cnn_rng r, draws;
    float *x;
    int i, m, found = 0, keeps_seen = 0;
    if (cnn_study_desc(&d, 13, &err) || cnn_net_create(&net, &d, &err) || cnn_net_reserve(net, B, &err)) {
        CHECK(0, "model 13: %s", err.msg);
        cnn_net_free(net);
        return;
    }
    x = rnd((size_t)B * 28 * 28, 0, 1);
    cnn_rng_seed(&r, 7);
    cnn_net_init(net, &r);
    cnn_net_set_training(net, 1, &r);
    draws = r;
    cnn_net_forward(net, x, B);
    for (i = 1; i < net->nlayers; i++) {
        const cnn__layer *L = &net->layers[i];
        const float *in = net->layers[i - 1].out;
        const size_t per = L->out_size;
        const int keeps = cnn__dropout_keeps_at(net, i);
        const unsigned char *kp = (const unsigned char *)L->cache;
        float *mask;
        uint64_t base;
        size_t j, bad = 0;
        if (L->kind != CNN_LAYER_DROPOUT) continue;
        keeps_seen |= keeps;
        base = cnn__rng_u64(&draws);
        mask = (float *)malloc((size_t)B * per * sizeof(float));
        for (m = 0; m < B; m++) {
            cnn_rng s;
            s.state = cnn__rng_mix(base + (uint64_t)(m + 1) * CNN__RNG_GAMMA);
            cnn_dropout_mask(&s, L->rate, per, mask + (size_t)m * per);
        }
        for (j = 0; j < (size_t)B * per && !bad; j++) {
            const float want = in[j] * mask[j];
            if (memcmp(&want, &L->out[j], sizeof want) ||
                (keeps ? kp[j] != (mask[j] != 0.0f && in[j] > 0.0f) : memcmp(&mask[j], &L->cache[j], sizeof want)))
                bad = j + 1;
        }
        CHECK(!bad, "layer %d (dropout%s): entry %zu: input %.9g, output %.9g, mask by its definition %.9g, kept %.9g",
              i, keeps ? ", bytes kept" : "", bad - 1, bad ? in[bad - 1] : 0.0, bad ? L->out[bad - 1] : 0.0,
              bad ? mask[bad - 1] : 0.0, bad ? (keeps ? (double)kp[bad - 1] : L->cache[bad - 1]) : 0.0);
        if (L->rate == 0.5f) {
            found++;
            for (m = 0; m < B; m++) {
                size_t dropped = 0, agree = 0;
                for (j = 0; j < per; j++) {
                    dropped += mask[m * per + j] == 0.0f;
                    agree += (mask[m * per + j] == 0.0f) == (mask[((m + 1) % B) * per + j] == 0.0f);
                }
                CHECK(fabs((double)dropped / per - 0.5) < 0.02, "sample %d drops %zu of %zu units at rate 0.5", m, dropped, per);
                CHECK(fabs((double)agree / per - 0.5) < 0.02, "samples %d and %d agree on %zu of %zu units", m, (m + 1) % B,
                      agree, per);
            }
        }
        free(mask);
    }
    CHECK(found == 1, "model 13 has %d dropout layers at rate 0.5, expected 1", found);
#ifdef CNN__GEMM_VECTOR
    CHECK(keeps_seen, "model 13's first dropout keeps its mask as floats, expected bytes (cnn__dropout_keeps)");
#else
    (void)keeps_seen;   /* no streamed first block without vector types */
#endif
    cnn_net_free(net);
    free(x);
}

/* "convolution, batch norm with the batch's statistics, ReLU, 2x2/2 pool" backward, all in double
   and by the definitions, from the gradient behind the pool (dpool): the reference for the net's
   first-block gradient made from the pool's picks. It starts from the convolution's output in
   float (map, (N,K,P,Q)): on inputs far from zero (300 + [0, 1) here) that rounding alone moves
   the weight gradient by a few percent, in any float implementation. The discrete choices are the
   net's: the pool's picks (arg) and whether its output passed the ReLU (pout > 0), since float
   and double may decide a near tie differently (the picks are checked on their own); after a
   sigmoid or tanh instead, the gradient at a pick is dpool y (1 - y) or dpool (1 - y^2), with y
   the net's pool output. Out, as floats: the gradients of the weights (K*C*R*S), of the bias,
   gamma and beta (K each). */
static void ref_block0_backward(const cnn_conv_shape *cs, cnn_act act, const float *x, const float *map,
                                const float *gamma, double eps, const int32_t *arg, const float *pout,
                                const float *dpool, float *dw, float *dbias, float *dg, float *dbeta)
{
    const int N = cs->n, K = cs->k, C = cs->c, R = cs->r, S = cs->s, P = cs->p, Q = cs->q, PP = P / 2, QQ = Q / 2;
    const size_t pq = (size_t)P * Q;
    const double M = (double)N * pq;
    double *z = (double *)malloc(sizeof(double) * pq * N), *dy = (double *)malloc(sizeof(double) * pq * N);
    int m, k, c, i, j, u, v;
    for (k = 0; k < K; k++) {
        double mean = 0.0, var = 0.0, sd, g = gamma[k], sdy = 0.0, sdyx = 0.0;
        for (m = 0; m < N; m++)   /* z: channel k of the convolution's output */
            for (i = 0; i < (int)pq; i++) {
                z[m * pq + (size_t)i] = map[((size_t)m * K + k) * pq + (size_t)i];
                mean += z[m * pq + (size_t)i];
            }
        mean /= M;
        for (i = 0; i < N * (int)pq; i++) var += (z[i] - mean) * (z[i] - mean);
        sd = sqrt(var / M + eps);
        memset(dy, 0, sizeof(double) * pq * N);
        for (m = 0; m < N; m++)   /* the gradient reaches the batch norm's output at the picks only */
            for (i = 0; i < PP * QQ; i++) {
                const size_t o = ((size_t)m * K + k) * PP * QQ + (size_t)i;
                const double y = pout[o];
                if (act == CNN_ACT_SIGMOID) dy[m * pq + (size_t)arg[o]] = dpool[o] * y * (1.0 - y);
                else if (act == CNN_ACT_TANH) dy[m * pq + (size_t)arg[o]] = dpool[o] * (1.0 - y * y);
                else if (y > 0.0) dy[m * pq + (size_t)arg[o]] = dpool[o];
            }
        for (i = 0; i < N * (int)pq; i++) { sdy += dy[i]; sdyx += dy[i] * (z[i] - mean) / sd; }
        dg[k] = (float)sdyx; dbeta[k] = (float)sdy;
        for (i = 0; i < N * (int)pq; i++)   /* dz = g / sd * (dy - mean(dy) - xhat * mean(dy * xhat)) */
            dy[i] = g / sd * (dy[i] - sdy / M - (z[i] - mean) / sd * sdyx / M);
        for (c = 0; c < C; c++)
            for (u = 0; u < R; u++)
                for (v = 0; v < S; v++) {
                    double a = 0.0;
                    for (m = 0; m < N; m++)
                        for (i = 0; i < P; i++)
                            for (j = 0; j < Q; j++) {
                                const int ih = i * cs->stride_h - cs->pad_top + u, iw = j * cs->stride_w - cs->pad_left + v;
                                if (ih >= 0 && ih < cs->h && iw >= 0 && iw < cs->w)
                                    a += dy[m * pq + (size_t)i * Q + j] * x[(((size_t)m * C + c) * cs->h + ih) * cs->w + iw];
                            }
                    dw[((k * C + c) * R + u) * S + v] = (float)a;
                }
        {
            double a = 0.0;
            for (i = 0; i < N * (int)pq; i++) a += dy[i];
            dbias[k] = (float)a;
        }
    }
    free(z); free(dy);
}

/* the batch norm's statistics of a streamed first block (kept in the layer as invstd, then the
   mean) against the map's, summed here in double from the map the convolution apart made */
static void check_stream_stats(const char *spec, int h, int w, int n, const cnn__layer *B, const float *map, size_t hw,
                               double eps)
{
    int ch, m, bad = -1;
    double got_m = 0.0, want_m = 0.0, got_s = 0.0, want_s = 0.0;
    for (ch = 0; ch < B->out_c; ch++) {
        double sum = 0.0, sq = 0.0, mean, sd, big = 0.0;
        size_t i;
        for (m = 0; m < n; m++)
            for (i = 0; i < hw; i++) sum += map[((size_t)m * B->out_c + ch) * hw + i];
        mean = sum / ((double)n * hw);
        for (m = 0; m < n; m++)
            for (i = 0; i < hw; i++) {
                const double v = map[((size_t)m * B->out_c + ch) * hw + i];
                sq += (v - mean) * (v - mean);
                big = fabs(v) > big ? fabs(v) : big;
            }
        sd = sqrt(sq / ((double)n * hw) + eps);
        /* the map's values and the kept mean are rounded to float (half an ulp of the largest
           value each); the inverse spread to a few float ulps */
        if (bad < 0 && (!(fabs(B->invstd[B->out_c + ch] - mean) <= 2e-7 * big + 1e-6 * sd) ||
                        !(fabs(B->invstd[ch] * sd - 1.0) <= 1e-5))) {
            bad = ch;
            got_m = B->invstd[B->out_c + ch]; want_m = mean; got_s = 1.0 / B->invstd[ch]; want_s = sd;
        }
    }
    CHECK(bad < 0, "%s on %dx%d, streamed first block: channel %d's mean %.9g and spread %.9g, the map's %.9g and %.9g",
          spec, h, w, bad, got_m, got_s, want_m, want_s);
}

/* the net runs "batch norm, ReLU (sigmoid, tanh), 2x2 max/min pool" as one pass
   (cnn__pool2_forward_bn): the pool's output and picks must be the bits of the three public
   layers, in training (the batch's
   statistics) and in inference (the running ones, no picks kept). Where the first block streams
   (16 filters and more, cnn__block0_forward) its training statistics come from the im2col
   columns: checked against the map's in double, and the outputs against the layers' up to
   rounding. Maps of 11x10 (odd: a dropped row), 26x26 (the study's), 38x298 (row pairs in several
   runs of the buffer) and 3x1201 (rows longer than the buffer, in column chunks); gamma of both
   signs. Backward: the gradients of the first convolution and of the batch norm against the
   public layers' backward: the same bits with 3 filters; with 16, 17 and 18 (an odd count and 2x2
   filters for the blocks of cnn__conv_pool_gen_sums) made from the pool's picks and sums, so
   equal up to rounding, and against a reference in double (ref_block0_backward). Specs 6 and 7
   put a sigmoid and a tanh between the batch norm and the pool; the last two pool 3x3 and 4x4
   (cnn__pool_plane_bn: the same bits, and the backward that of the layers apart). */
static void test_net_bn_relu_pool(void)
{
    static const int hw[][2] = {{13, 12}, {28, 28}, {40, 300}, {5, 1203}, {28, 28}, {28, 28}};
    static const char *specs[] = {"(3, (3,3), (1,1), 'relu', 0, 2, 'max')", "(16, (3,3), (1,1), 'relu', 0.2, 2, 'min')",
                                  "(18, (3,3), (1,1), 'relu', 0, 2, 'max')", "(17, (2,2), (1,1), 'relu', 0, 2, 'max')",
                                  "(24, (3,3), (1,1), 'relu', 0, 2, 'max')", "(24, (3,3), (1,1), 'sigmoid', 0.2, 2, 'max')",
                                  "(17, (2,2), (1,1), 'tanh', 0, 2, 'min')", "(16, (3,3), (1,1), 'relu', 0.2, 3, 'max')",
                                  "(3, (2,2), (1,1), 'relu', 0, 4, 'min')"};
    int s, k, i, b, streamed = 0, streamed_inf = 0, direct = 0, direct_c2 = 0;
    for (s = 0; s < 6; s++)
        for (k = 0; k < (int)(sizeof specs / sizeof specs[0]); k++) {
            /* the last two maps: 20 samples (more than the 8 groups of cnn__conv_pool_gen_sums and
               the 16 slots of cnn__block0_forward) and images of 300 + [0, 1), where sums not taken
               about the columns' means cancel (errors of 2-5%, against 1e-3 here); with 2 channels
               (18 taps for 3x3: more than a vector of 16), then with 1, which the first block's
               direct forward takes (cnn__block0_sample_direct) */
            const int offset = s >= 4, N = offset ? 20 : 2, C = s == 4 ? 2 : 1;
            const float off = offset ? 300.0f : 0.0f;
            cnn_net_desc d;
            cnn_net *net = NULL;
            cnn_error err;
            cnn_rng r;
            cnn__layer *C0, *B, *P;
            cnn_conv_shape cs;
            cnn_pool_shape ps;
            float *x, *ybn, *yr, *yp, *prm, *st, *xh, *is, *dl, *dpool, *drelu, *dxr, *dg, *db, *col, *dw, *dc;
            float *cmap, *ccol, *pdy = NULL;
            const float *bin;
            int32_t *a;
            size_t cnt, ny, hw2, nw, j, bad = 0, bad_arg = 0, bad_inf = 0, bad_g = 0;
            cnn_act act;
            cnn_net_desc_init(&d, C, hw[s][0], hw[s][1], 3);
            if (cnn_net_desc_parse(&d, specs[k], &err) || cnn_net_create(&net, &d, &err) ||
                cnn_net_reserve(net, N, &err)) {
                CHECK(0, "%s on %dx%d: %s", specs[k], hw[s][0], hw[s][1], err.msg);
                cnn_net_free(net);
                continue;
            }
            for (b = 0; b < net->nlayers && net->layers[b].kind != CNN_LAYER_BATCHNORM; b++) {}
            /* pools other than 2x2 fuse where a window's rows fit the buffer (2048 floats) */
            CHECK(b + 2 < net->nlayers && (cnn__pool_applies_bn_act(net, b + 2) ==
                                           (net->layers[b + 2].pool.size == 2 ||
                                            net->layers[b + 2].pool.size * net->layers[b].out_w <= 2048)),
                  "%s: the pool after layer %d fuses %d", specs[k], b, cnn__pool_applies_bn_act(net, b + 2));
            if (!(b + 2 < net->nlayers && cnn__pool_applies_bn_act(net, b + 2))) { cnn_net_free(net); continue; }
            C0 = &net->layers[0]; B = &net->layers[b]; P = &net->layers[b + 2];
            act = net->layers[b + 1].act;
            cnn_rng_seed(&r, 11);
            cnn_net_init(net, &r);
            prm = cnn_net_params(net);
            for (i = 0; i < B->out_c; i++) {   /* gamma of both signs, so min and max trade places */
                prm[B->w_off + i] = i % 2 ? -0.8f - 0.1f * (float)i : 1.2f;
                prm[B->b_off + i] = 0.1f * (float)(i % 3) - 0.1f;
                if (b == 1) prm[C0->b_off + i] = 0.05f * (float)(i % 4) - 0.07f;   /* a bias the mean must have */
            }
            hw2 = (size_t)B->out_h * B->out_w;
            cnt = (size_t)N * B->out_c * hw2;
            x = rnd((size_t)N * C * hw[s][0] * hw[s][1], off, off + 1.0f);
            ps = P->pool; ps.n = N;
            ny = (size_t)N * P->out_size;
            ybn = zeros(cnt); yr = zeros(cnt); yp = zeros(ny); xh = zeros(cnt); is = zeros((size_t)B->out_c);
            cs = C0->conv; cs.n = N;
            nw = (size_t)cs.k * cs.c * cs.r * cs.s;
            dl = rnd((size_t)N * 3, -1, 1); dpool = zeros(cnt); drelu = zeros(cnt); dxr = zeros(cnt);
            dg = zeros((size_t)B->out_c); db = zeros((size_t)B->out_c); dw = zeros(nw); dc = zeros((size_t)cs.k);
            col = zeros(cnn_conv_col_floats(&cs));
            cmap = zeros(cnt); ccol = zeros(cnn_conv_col_floats(&cs));
            a = (int32_t *)calloc(ny, sizeof *a);
            cnn_net_set_training(net, 1, &r);
            cnn_net_forward(net, x, N);
            /* the convolution apart, for a net that streamed its first block and kept no map */
            cnn_conv_forward_im2col(&cs, x, prm + C0->w_off, prm + C0->b_off, cmap, ccol);
            bin = B->in ? B->in : cmap;
            if (!B->in) streamed++;
            CHECK(B->in || (b == 1 && cnn__conv_takes_pool_gen(net, 0)), "%s: layer %d's input not kept", specs[k],
                  b + 1);
            if (!B->in && cnn__block0_direct_applies(net, &C0->conv, &P->pool)) {   /* without the map */
                direct++;
                direct_c2 += C != 1;
            }
            cnn_bn_forward_train(N, B->out_c, hw2, bin, prm + B->w_off, prm + B->b_off, ybn, xh, is, NULL, NULL,
                                 0.9f, net->desc.bn_eps);
            cnn_act_forward(act, cnt, ybn, yr);
            cnn_pool_forward(&ps, P->pool_type, yr, yp, a);
            if (B->in) {   /* the layers' own calls: their bits; but the net pools the batch norm's
                              input first (cnn__pool_first), so a pick may differ between outputs
                              that tie, and after a sigmoid or tanh an output may be an ulp low */
                const size_t ppl = (size_t)P->out_h * P->out_w;
                const double tu = act == CNN_ACT_RELU ? 0.0 : 2.5e-7;
                for (j = 0; j < ny; j++) {
                    const size_t pl = j / ppl * hw2;
                    if (!bad && memcmp(&yp[j], &P->out[j], sizeof(float)) &&
                        !(fabs((double)yp[j] - P->out[j]) <= tu * fabs(yp[j])))
                        bad = j + 1;
                    if (!bad_arg && a[j] != P->arg[j] &&
                        !(fabs((double)yr[pl + (size_t)a[j]] - yr[pl + (size_t)P->arg[j]]) <= tu * fabs(yp[j])))
                        bad_arg = j + 1;
                }
            } else {   /* streamed: the statistics from the im2col columns (cnn__block0_plane_stats), so
                          equal up to rounding; a pick may differ only between outputs that tie */
                const double ty = offset ? 1e-3 : 1e-5;   /* with the offset, the layers apart's own error: 5e-4 */
                const size_t ppl = (size_t)P->out_h * P->out_w;
                double worst = 0.0;
                check_stream_stats(specs[k], hw[s][0], hw[s][1], N, B, cmap, hw2, net->desc.bn_eps);
                for (j = 0; j < ny; j++) {
                    const double e = fabs((double)yp[j] - P->out[j]) / (1.0 + fabs(yp[j]));
                    const size_t pl = j / ppl * hw2;
                    worst = e > worst ? e : worst;
                    if (!bad && !(e <= ty)) bad = j + 1;
                    if (!bad_arg && a[j] != P->arg[j] &&
                        !(fabs((double)yr[pl + (size_t)a[j]] - yr[pl + (size_t)P->arg[j]]) <= ty * (1.0 + fabs(yp[j]))))
                        bad_arg = j + 1;
                }
                if ((s == 1 && k == 1) || (offset && k == 4))
                    printf("streamed first block, training: pooled outputs against the layers apart: worst relative "
                           "difference %.3g (%s)\n", worst, s == 5 ? "1 channel, images 300 + [0, 1)" :
                           s == 4 ? "2 channels, images 300 + [0, 1)" : "the study's shape");
            }
            CHECK(!bad, "%s on %dx%d, training: pooled output %zu is %.9g, the layers apart give %.9g", specs[k],
                  hw[s][0], hw[s][1], bad - 1, bad ? P->out[bad - 1] : 0.0, bad ? yp[bad - 1] : 0.0);
            CHECK(!bad_arg, "%s on %dx%d, training: pick %zu is %d, the layers apart pick %d", specs[k], hw[s][0],
                  hw[s][1], bad_arg - 1, bad_arg ? P->arg[bad_arg - 1] : 0, bad_arg ? a[bad_arg - 1] : 0);
            /* backward: the first convolution makes the batch norm's dx row by row where its
               weight gradient's bands split K (cnn__conv_takes_bn_gen: 16 and 18 filters) */
            memset(cnn_net_grads(net), 0, cnn_net_param_count(net) * sizeof(float));
            cnn_net_backward(net, dl);
            if (!P->dout) {   /* a dropout after the pool, whose backward the net folded into the first
                                 convolution's (cnn__dropout_folded): here it runs apart */
                const cnn__layer *D = &net->layers[b + 3];
                CHECK(D->kind == CNN_LAYER_DROPOUT && cnn__dropout_folded(net), "%s: no gradient behind the pool",
                      specs[k]);
                pdy = zeros(ny);
                if (b + 3 == 4 && cnn__dropout_keeps(net)) {   /* bytes kept, not the mask: a mask from them */
                    const unsigned char *kp = (const unsigned char *)D->cache;
                    float *mk = zeros(ny);
                    for (j = 0; j < ny; j++) mk[j] = kp[j] ? 1.0f / (1.0f - D->rate) : 0.0f;
                    cnn_dropout_backward(ny, mk, D->dout, pdy);   /* where it differs, the ReLU's gradient is 0 */
                    free(mk);
                } else {
                    cnn_dropout_backward(ny, D->cache, D->dout, pdy);
                }
            }
            cnn_pool_backward(&ps, P->pool_type, a, P->dout ? P->dout : pdy, dpool);
            cnn_act_backward(act, cnt, yr, dpool, drelu);
            cnn_bn_backward(N, B->out_c, hw2, drelu, xh, prm + B->w_off, is, dxr, dg, db);
            cnn_conv_forward_im2col(&cs, x, prm + C0->w_off, prm + C0->b_off, ybn, col);
            cnn_conv_backward_im2col(&cs, col, prm + C0->w_off, dxr, NULL, dw, dc);
            if (!cnn__conv_takes_pool_gen(net, 0)) {   /* the same sums in the same order: the same bits */
                for (j = 0; j < nw && !bad_g; j++) if (memcmp(&dw[j], cnn_net_grads(net) + C0->w_off + j, 4)) bad_g = j + 1;
                for (j = 0; j < (size_t)cs.k && !bad_g; j++)
                    if (memcmp(&dc[j], cnn_net_grads(net) + C0->b_off + j, 4) || memcmp(&dg[j], cnn_net_grads(net) + B->w_off + j, 4) ||
                        memcmp(&db[j], cnn_net_grads(net) + B->b_off + j, 4)) bad_g = nw + j + 1;
                CHECK(!bad_g, "%s on %dx%d: gradient %zu of the first convolution (weights, then bias, gamma, beta) "
                      "differs from the layers apart", specs[k], hw[s][0], hw[s][1], bad_g - 1);
            } else {   /* made from the pool's picks and the Gram matrix: the same up to rounding, against
                          the layers apart (in float) and against a reference in double */
                const float *gn = cnn_net_grads(net);
                float *rw = zeros(nw), *rb = zeros((size_t)cs.k), *rg = zeros((size_t)cs.k), *rbt = zeros((size_t)cs.k);
                int pass;
                ref_block0_backward(&cs, act, x, cmap, prm + B->w_off, net->desc.bn_eps, P->arg, P->out, P->dout ? P->dout : pdy, rw, rb,
                                    rg, rbt);
                /* with the offset, the layers apart lose a few percent to their float batch norm
                   (a mean rounded to float, in a formula that takes it as exact): only the reference */
                for (pass = offset; pass < 2; pass++) {
                    const float *w0 = pass ? rw : dw, *c0 = pass ? rb : dc, *g0 = pass ? rg : dg, *b0 = pass ? rbt : db;
                    const double ew = rel_diff(w0, gn + C0->w_off, nw), eg = rel_diff(g0, gn + B->w_off, (size_t)cs.k);
                    const double eb = rel_diff(b0, gn + B->b_off, (size_t)cs.k);
                    double ec = 0.0, sw = 0.0;   /* the bias: zero up to rounding, against the weights' scale */
                    const double tol = offset ? 1e-3 : 2e-5;
                    for (j = 0; j < nw; j++) sw = fabs(w0[j]) > sw ? fabs(w0[j]) : sw;
                    for (j = 0; j < (size_t)cs.k; j++) ec = fmax(ec, fabs((double)gn[C0->b_off + j] - c0[j]) / sw);
                    CHECK(ew < tol && eg < tol && eb < tol && ec < tol,
                          "%s on %dx%d: first convolution's gradient from the pool's picks against %s: "
                          "relative error weights %.3g, bias %.3g, gamma %.3g, beta %.3g", specs[k], hw[s][0], hw[s][1],
                          pass ? "the reference in double" : "the layers apart", ew, ec, eg, eb);
                    if ((s == 1 && k == 1) || (offset && k == 4))
                        printf("first block's gradient from the picks vs %s: weights %.3g, bias %.3g, gamma %.3g, "
                               "beta %.3g (%s)\n", pass ? "the reference in double" : "the layers apart", ew, ec, eg, eb,
                               s == 5 ? "1 channel, images 300 + [0, 1)" :
                               s == 4 ? "2 channels, images 300 + [0, 1)" : "the study's shape");
                }
                free(rw); free(rb); free(rg); free(rbt);
            }
#ifdef CNN__GEMM_VECTOR
            {   /* the first convolution's gradient from the pool's picks where the weight gradient's
                   tiles of 4 split K: 16 filters or more for 9 taps; 17 and 24 for 8 and 18 */
                const int picks = (C == 1 ? k > 0 : k >= 3) && P->pool.size == 2;
                CHECK(cnn__conv_takes_bn_gen(net, 0) == picks && cnn__conv_takes_pool_gen(net, 0) == picks,
                      "%s: row-by-row gradient path %d, from the picks %d", specs[k], cnn__conv_takes_bn_gen(net, 0),
                      cnn__conv_takes_pool_gen(net, 0));
            }
#endif
            cnn_net_set_training(net, 0, NULL);
            cnn_net_forward(net, x, N);
            st = net->state + B->st_off;
            bin = B->in ? B->in : cmap;
            if (!B->in) streamed_inf++;
            CHECK(B->in || (b == 1 && cnn__conv_takes_pool_gen(net, 0)), "%s, inference: layer %d's input not kept",
                  specs[k], b + 1);
            cnn_bn_forward_infer(N, B->out_c, hw2, bin, prm + B->w_off, prm + B->b_off, st, st + B->out_c,
                                 net->desc.bn_eps, ybn);
            cnn_act_forward(act, cnt, ybn, yr);
            cnn_pool_forward(&ps, P->pool_type, yr, yp, NULL);
            for (j = 0; j < ny && !bad_inf; j++)
                if (memcmp(&yp[j], &P->out[j], sizeof(float))) bad_inf = j + 1;
            CHECK(!bad_inf, "%s on %dx%d, inference: pooled output %zu is %.9g, the layers apart give %.9g", specs[k],
                  hw[s][0], hw[s][1], bad_inf - 1, bad_inf ? P->out[bad_inf - 1] : 0.0, bad_inf ? yp[bad_inf - 1] : 0.0);
            free(x); free(ybn); free(yr); free(yp); free(a); free(xh); free(is); free(dl); free(dpool); free(drelu);
            free(dxr); free(dg); free(db); free(dw); free(dc); free(col); free(cmap); free(ccol); free(pdy);
            cnn_net_free(net);
        }
#ifdef CNN__GEMM_VECTOR
    CHECK(streamed >= 5 && streamed_inf == streamed, "the first block streamed in %d cases in training and %d in "
          "inference, want at least 5 and the same", streamed, streamed_inf);
    /* so that the comparisons above cover the direct forward, and not only the GEMM's map */
    CHECK(direct >= 5 && direct_c2 == 0, "the streamed first block went without its map in %d cases (%d with 2 input "
          "channels), want at least 5 (none)", direct, direct_c2);
    printf("streamed first block: %d cases in training, %d of them without the map\n", streamed, direct);
#endif
}

/* In inference the fused "batch norm, ReLU, 2x2 max/min pool" pools the batch norm's input first
   and normalises one value per window (cnn__pool2_plane_bn: relu(a x + b) is monotonic in x,
   decreasing for a < 0). Its bits must still be those of the three layers apart where that
   argument is at its edges: values from a small set, so windows tie (also +0 against -0), NaNs
   in every place of a window, infinities, a < 0 and a = 0, b = 0 and -0, and an odd width (a
   column dropped). */
static void test_pool2_bn_infer_edges(void)
{
    enum { C = 8, H = 6, W = 7 };
    static const float gamma[C] = {1.5f, -0.7f, 0.0f, 2.0f, 1.0f, 1.0f, -2.0f, 0.3f};
    static const float beta[C] = {0.2f, -0.1f, 0.3f, 0.0f, -0.0f, 0.5f, 0.0f, -0.4f};
    static const float mean[C] = {0.0f, 0.5f, -1.0f, 0.0f, 0.0f, 0.25f, 0.0f, 2.0f};
    static const float var[C] = {1.0f, 4.0f, 1.0f, 0.25f, 1.0f, 1.0f, 9.0f, 0.5f};
    const float vals[] = {-2.0f, -1.0f, -0.0f, 0.0f, 0.5f, 1.0f, 1.0f, 3.0f, NAN, INFINITY, -INFINITY, 0.5f};
    const int nv = (int)(sizeof vals / sizeof vals[0]);
    /* set 0: one window each, its places in the pool's order (top left, top right, bottom left,
       bottom right): a NaN in each place, +0 after a negative (channel 4, a > 0 and b = -0, maps
       x = -1 to +0 and x = -0 to -0: equal values, other bits), ties, infinities */
    const float wins[9][4] = {{NAN, 1, 2, 3}, {1, NAN, 2, 3}, {1, 2, NAN, 3}, {1, 2, 3, NAN}, {-1, -0.0f, -2, -0.0f},
                              {0, -0.0f, 0, -0.0f}, {INFINITY, -INFINITY, 1, 1}, {-INFINITY, 2, 2, -1}, {0.5f, 0.5f, 0.5f, 0.5f}};
    cnn_pool_shape ps;
    cnn_error err;
    int t, ch, i, bad, rep;
    for (rep = 0; rep < 4; rep++)
        for (t = 0; t < 2; t++) {
            const cnn_pool_type pt = t ? CNN_POOL_MIN : CNN_POOL_MAX;
            float x[H * W], yr[H * W], ya[C * (H / 2) * (W / 2)], yb[C * (H / 2) * (W / 2)];
            bad = -1;
            CHECK(cnn_pool_shape_init(&ps, 1, 1, H, W, 2, 2, &err) == CNN_OK, "pool shape: %s", err.msg);
            for (ch = 0; ch < C; ch++) {
                const cnn__bn_act f = cnn__bn_act_infer(gamma, beta, mean, var, 1e-3f, ch);
                const size_t o = (size_t)ch * ps.p * ps.q;
                for (i = 0; i < H * W; i++)
                    x[i] = rep == 0 ? (i % W == W - 1 ? 9.0f : wins[(i / W / 2) * 3 + i % W / 2][(i / W % 2) * 2 + i % 2])
                                    : vals[cnn_rng_u32(&rng) % (uint32_t)nv];
                cnn__bn_act_row(&f, x, (size_t)H * W, yr);   /* the layers apart */
                cnn_pool_forward(&ps, pt, yr, ya + o, NULL);
                cnn__pool2_plane_bn(&ps, pt, x, ch, &f, yb, NULL, NULL);
                for (i = 0; i < ps.p * ps.q && bad < 0; i++)
                    if (memcmp(&ya[o + (size_t)i], &yb[o + (size_t)i], sizeof(float))) bad = ch * 1000 + i;
            }
            CHECK(bad < 0, "inference, %s pool after batch norm and ReLU, edge values (set %d): channel %d output %d "
                  "is %.9g, the layers apart give %.9g", cnn_pool_type_name(pt), rep, bad / 1000, bad % 1000,
                  bad < 0 ? 0.0 : yb[bad / 1000 * ps.p * ps.q + bad % 1000], bad < 0 ? 0.0 : ya[bad / 1000 * ps.p * ps.q + bad % 1000]);
        }
}

/* the net runs "batch norm, ReLU" as one layer, without keeping xhat (backward recomputes it
   from x and the mean); it must give the bits of the two public layers. "Batch norm, sigmoid"
   and "batch norm, tanh" are fused in the forward only. */
static void test_bn_act_fused(cnn_act act)
{
    enum { N = 3, C = 4, HW = 37 };   /* 37: a tail after the 16-lane sums */
    const size_t cnt = (size_t)N * C * HW;
    float *x = rnd(cnt, -2, 2), *dy = rnd(cnt, -1, 1), gamma[C] = {1.5f, -0.5f, 2.0f, 0.7f};
    float beta[C] = {0.1f, -0.2f, 0.3f, 0.0f}, is1[C], is2[C], rm1[C] = {0}, rv1[C] = {1, 1, 1, 1};
    float rm2[C] = {0}, rv2[C] = {1, 1, 1, 1}, dg1[C] = {0}, db1[C] = {0}, dg2[C] = {0}, db2[C] = {0};
    float mu[C], is3[C], rm3[C] = {0}, rv3[C] = {1, 1, 1, 1}, dg3[C] = {0}, db3[C] = {0};
    float *bn = zeros(cnt), *y1 = zeros(cnt), *y2 = zeros(cnt), *xh1 = zeros(cnt), *xh2 = zeros(cnt);
    float *dbn = zeros(cnt), *dx1 = zeros(cnt), *dx2 = zeros(cnt), *y3 = zeros(cnt), *dx3 = zeros(cnt);
    size_t i;
    for (i = 0; i < cnt; i += 7) x[i] = 0.0f;   /* some exact zeros and ties */
    cnn_bn_forward_train(N, C, HW, x, gamma, beta, bn, xh1, is1, rm1, rv1, 0.9f, 1e-3f);
    cnn_act_forward(act, cnt, bn, y1);
    cnn__bn_forward_train(N, C, HW, x, NULL, gamma, beta, y2, xh2, is2, NULL, rm2, rv2, 0.9f, 1e-3f, act);
    CHECK(!memcmp(y1, y2, cnt * sizeof(float)) && !memcmp(xh1, xh2, cnt * sizeof(float)) &&
          !memcmp(rm1, rm2, sizeof rm1) && !memcmp(rv1, rv2, sizeof rv1), "fused bn+%s forward differs",
          cnn_act_name(act));
    cnn__bn_forward_train(N, C, HW, x, NULL, gamma, beta, y3, NULL, is3, mu, rm3, rv3, 0.9f, 1e-3f, act);
    CHECK(!memcmp(y1, y3, cnt * sizeof(float)) && !memcmp(is1, is3, sizeof is1) && !memcmp(rm1, rm3, sizeof rm1),
          "fused bn+%s forward without xhat differs", cnn_act_name(act));
    if (act == CNN_ACT_RELU) {   /* the backward is fused for ReLU only */
        cnn_act_backward(CNN_ACT_RELU, cnt, y1, dy, dbn);
        cnn_bn_backward(N, C, HW, dbn, xh1, gamma, is1, dx1, dg1, db1);
        cnn__bn_backward(N, C, HW, dy, y2, xh2, NULL, gamma, is2, dx2, dg2, db2, NULL, 1);
        CHECK(!memcmp(dx1, dx2, cnt * sizeof(float)) && !memcmp(dg1, dg2, sizeof dg1) && !memcmp(db1, db2, sizeof db1),
              "fused bn+relu backward differs");
        cnn__bn_backward(N, C, HW, dy, y3, x, mu, gamma, is3, dx3, dg3, db3, NULL, 0);
        CHECK(!memcmp(dx1, dx3, cnt * sizeof(float)) && !memcmp(dg1, dg3, sizeof dg1) && !memcmp(db1, db3, sizeof db1),
              "fused bn+relu backward with xhat recomputed from x differs");
    }
    cnn__bn_forward_infer(N, C, HW, x, gamma, beta, rm1, rv1, 1e-3f, y2, act);
    cnn_bn_forward_infer(N, C, HW, x, gamma, beta, rm1, rv1, 1e-3f, bn);
    cnn_act_forward(act, cnt, bn, y1);
    CHECK(!memcmp(y1, y2, cnt * sizeof(float)), "fused bn+%s inference differs", cnn_act_name(act));
    free(x); free(dy); free(bn); free(y1); free(y2); free(xh1); free(xh2); free(dbn); free(dx1); free(dx2);
    free(y3); free(dx3);
}

static void test_batchnorm(void)
{
    enum { N = 4, C = 3, HW = 6 };
    float *x = rnd(N * C * HW, -2, 5), gamma[C] = {1.5f, 0.5f, 2.0f}, beta[C] = {0.1f, -0.2f, 0.3f};
    float y[N * C * HW], xhat[N * C * HW], invstd[C], rm[C] = {0.5f, -1.0f, 2.0f}, rv[C] = {1.0f, 2.0f, 0.25f};
    float rm0[C], rv0[C];
    int c, n, i;
    memcpy(rm0, rm, sizeof rm); memcpy(rv0, rv, sizeof rv);
    /* inference: y = gamma (x - running mean) / sqrt(running var + eps) + beta, computed here in double */
    cnn_bn_forward_infer(N, C, HW, x, gamma, beta, rm, rv, 1e-3f, y);
    {
        double e = 0.0;
        for (n = 0; n < N; n++)
            for (c = 0; c < C; c++)
                for (i = 0; i < HW; i++) {
                    int at = (n * C + c) * HW + i;
                    double want = gamma[c] * (x[at] - (double)rm[c]) / sqrt((double)rv[c] + 1e-3) + beta[c];
                    if (fabs(want - y[at]) > e) e = fabs(want - y[at]);
                }
        CHECK(e < 1e-5, "batchnorm inference does not use the running statistics (error %.3g)", e);
    }
    /* training: per-channel batch mean 0 and variance 1 before the affine map; running stats move
       by momentum 0.99 towards the batch mean and the unbiased batch variance */
    cnn_bn_forward_train(N, C, HW, x, gamma, beta, y, xhat, invstd, rm, rv, 0.99f, 1e-3f);
    for (c = 0; c < C; c++) {
        double mean = 0.0, var = 0.0, hm = 0.0, hv = 0.0;
        for (n = 0; n < N; n++) for (i = 0; i < HW; i++) mean += x[(n * C + c) * HW + i];
        mean /= N * HW;
        for (n = 0; n < N; n++) for (i = 0; i < HW; i++) { double d = x[(n * C + c) * HW + i] - mean; var += d * d; }
        for (n = 0; n < N; n++) for (i = 0; i < HW; i++) hm += xhat[(n * C + c) * HW + i];
        hm /= N * HW;
        for (n = 0; n < N; n++) for (i = 0; i < HW; i++) hv += (xhat[(n * C + c) * HW + i] - hm) * (xhat[(n * C + c) * HW + i] - hm);
        hv /= N * HW;
        CHECK(fabs(hm) < 1e-5 && fabs(hv - var / (N * HW) / (var / (N * HW) + 1e-3)) < 1e-4,
              "channel %d: normalised mean %.3g variance %.6g", c, hm, hv);
        CHECK(fabs(rm[c] - (0.99 * rm0[c] + 0.01 * mean)) < 1e-5, "channel %d: running mean %.6g", c, (double)rm[c]);
        CHECK(fabs(rv[c] - (0.99 * rv0[c] + 0.01 * var / (N * HW - 1))) < 1e-5, "channel %d: running var %.6g", c, (double)rv[c]);
    }
    free(x);
}

static void test_adam(void)
{
    /* p0 = 0.5, gradients 0.1, -0.2, 0.3, Keras defaults. By hand:
       t=1: m = 0.01,    v = 1e-5,         step = 1e-3*sqrt(1-0.999)/(1-0.9)
       t=2: m = -0.011,  v = 4.999e-5,     step = 1e-3*sqrt(1-0.999^2)/(1-0.9^2)
       t=3: m = 0.0201,  v = 1.3994001e-4, step = 1e-3*sqrt(1-0.999^3)/(1-0.9^3)
       p_t = p_{t-1} - step * m / (sqrt(v) + 1e-7) */
    const double want_m[3] = {0.01, -0.011, 0.0201}, want_v[3] = {1e-5, 4.999e-5, 1.3994001e-4};
    const double step[3] = {1e-3 * sqrt(0.001) / 0.1, 1e-3 * sqrt(1 - 0.998001) / 0.19,
                            1e-3 * sqrt(1 - 0.997002999) / 0.271};
    const float g[3] = {0.1f, -0.2f, 0.3f};
    double want_p = 0.5;
    float p = 0.5f, m = 0.0f, v = 0.0f;
    cnn_adam a;
    int t;
    cnn_adam_init(&a);
    /* the casts drop x87's excess precision (-m32): a float constant may be wider than a float */
    CHECK(a.lr == (float)1e-3f && a.beta1 == (float)0.9f && a.beta2 == (float)0.999f && a.eps == (float)1e-7f,
          "Adam defaults are not Keras'");
    for (t = 0; t < 3; t++) {
        want_p -= step[t] * want_m[t] / (sqrt(want_v[t]) + 1e-7);
        cnn_adam_step(&a, 1, &p, &g[t], &m, &v);
        /* float32 holds 1-0.999 only to 1.3e-5 relative, hence the tolerance */
        CHECK(fabs(m - want_m[t]) < 1e-5 * fabs(want_m[t]) && fabs(v - want_v[t]) < 2e-5 * want_v[t], "Adam step %d: m %.9g v %.9g", t + 1, (double)m, (double)v);
        CHECK(fabs(p - want_p) < 2e-7, "Adam step %d: p %.9g, by hand %.9g", t + 1, (double)p, want_p);
    }
    CHECK(fabs(want_p - 0.499022891792104) < 1e-12, "hand computation of Adam drifted: %.15g", want_p);
}

static void test_glorot_and_rng(void)
{
    enum { N = 100000 };
    float *w = zeros(N);
    double sum = 0.0, sq = 0.0, limit = sqrt(6.0 / (9 + 576));   /* conv 3x3, 1 -> 64: fans 9 and 576 */
    int i, inside = 1, hist[10] = {0};
    cnn_rng a, b;
    cnn_glorot_uniform(&rng, N, 9, 576, w);
    for (i = 0; i < N; i++) {
        if (fabs(w[i]) > limit) inside = 0;
        sum += w[i]; sq += (double)w[i] * w[i];
    }
    CHECK(inside, "Glorot values outside +-%.4f", limit);
    CHECK(fabs(sum / N) < 0.01 * limit, "Glorot mean %.3g", sum / N);
    CHECK(fabs(sq / N - limit * limit / 3) < 0.02 * limit * limit / 3, "Glorot variance %.4g, uniform gives %.4g",
          sq / N, limit * limit / 3);
    /* seed contract: same seed, same stream; different seeds, different streams */
    cnn_rng_seed(&a, 42); cnn_rng_seed(&b, 42);
    for (i = 0; i < 1000; i++) if (cnn_rng_u32(&a) != cnn_rng_u32(&b)) break;
    CHECK(i == 1000, "same seed, different streams at draw %d", i);
    cnn_rng_seed(&b, 43);
    CHECK(cnn_rng_u32(&a) != cnn_rng_u32(&b), "seeds 42 and 43 agree");
    /* the first value for seed 0 is pinned by the contract (SplitMix64's published first output) */
    cnn_rng_seed(&a, 0);
    CHECK((cnn__rng_u64(&a)) == 0xE220A8397B1DCDAFull, "SplitMix64 seed 0 does not start with e220a8397b1dcdaf");
    for (i = 0; i < N; i++) {
        uint32_t k = cnn_rng_below(&rng, 10);
        float u = cnn_rng_uniform(&rng);
        if (k >= 10 || u < 0.0f || u >= 1.0f) { inside = 0; break; }
        hist[k]++;
    }
    CHECK(inside, "rng out of range");
    for (i = 0; i < 10; i++) CHECK(abs(hist[i] - N / 10) < 500, "rng_below(10): bucket %d has %d of %d", i, hist[i], N);
    free(w);
}

/* the dense layer's backward against plain loops in double: a shape that runs its vector loops
   and their tails (150 inputs: two blocks of four AVX-512 vectors, a tail of 22) and more outputs
   than one GEMM block (CNN__KC), adding to dx, dw and db that start non-zero */
static void test_dense_backward_vs_reference(void)
{
    const int n = 3, in = 150, out = CNN__KC + 12;
    const size_t nx = (size_t)n * in, nw = (size_t)out * in;
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -1, 1), *dy = rnd((size_t)n * out, -1, 1);
    float *dx = rnd(nx, -1, 1), *dw = rnd(nw, -1, 1), *db = rnd((size_t)out, -1, 1);
    float *ex = zeros(nx), *ew = zeros(nw), *eb = zeros((size_t)out);
    double e;
    int m, o, i;
    for (m = 0; m < n; m++)
        for (i = 0; i < in; i++) {
            double a = dx[(size_t)m * in + i];
            for (o = 0; o < out; o++) a += (double)dy[(size_t)m * out + o] * w[(size_t)o * in + i];
            ex[(size_t)m * in + i] = (float)a;
        }
    for (o = 0; o < out; o++) {
        double b = db[o];
        for (m = 0; m < n; m++) b += dy[(size_t)m * out + o];
        eb[o] = (float)b;
        for (i = 0; i < in; i++) {
            double a = dw[(size_t)o * in + i];
            for (m = 0; m < n; m++) a += (double)dy[(size_t)m * out + o] * x[(size_t)m * in + i];
            ew[(size_t)o * in + i] = (float)a;
        }
    }
    cnn_dense_backward(n, in, out, x, w, dy, dx, dw, db);
    e = rel_diff(ex, dx, nx);
    CHECK(e < 1e-5, "dense backward: dx against the reference: relative difference %.3g", e);
    e = rel_diff(ew, dw, nw);
    CHECK(e < 1e-5, "dense backward: dw against the reference: relative difference %.3g", e);
    e = rel_diff(eb, db, (size_t)out);
    CHECK(e < 1e-5, "dense backward: db against the reference: relative difference %.3g", e);
    free(x); free(w); free(dy); free(dx); free(dw); free(db); free(ex); free(ew); free(eb);
}

int main(void)
{
    cnn_rng_seed(&rng, 2024);
    test_im2col_vs_naive();
    test_conv_wide_vs_naive();
    test_conv_wg_vs_naive();
    test_same_padding();
    test_min_pool();
    test_pool_vs_reference();
    test_pool2_backward_write();
    test_batchnorm();
    test_bn_act_fused(CNN_ACT_RELU);
    test_bn_act_fused(CNN_ACT_SIGMOID);
    test_bn_act_fused(CNN_ACT_TANH);
    test_net_bn_relu_pool();
    test_pool2_bn_infer_edges();
    test_dropout_mask_definition();
    test_net_dropout_masks();
    test_adam();
    test_glorot_and_rng();
    test_dense_backward_vs_reference();
    return check_done("test_layers");
}
