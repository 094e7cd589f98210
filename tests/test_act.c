/* test_act.c - sigmoid and tanh (on cnn.h's own e^x, cnn__expf) against libm in double, in units
   of the last place: 65,536 floats spread over every exponent and sign (denormals, infinities and
   NaNs included), a million random ones, and every float where the errors peak (sigmoid around
   x = -16.6, tanh where it changes formula at |x| = 0.625). tests/run.sh also builds it with
   -ffast-math, whose reassociation must not undo e^x's range reduction (within 5 ulp there); the
   checks of NaN and -0 are skipped there (fast-math assumes neither exists).
   cc -std=c99 -O2 tests/test_act.c -lm */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "check.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>

/* fast-math may also reorder e^x's polynomial, and divide in the vectorised loop by a reciprocal
   estimate refined once: GCC 12 3.9 ulp at -O2 -ffast-math (2.5 while that loop was scalar), 3.3
   at -Ofast -march=native. Clang's -ffast-math is not held to it: at -O2 (SSE2) its refinement
   loses precision on sigmoids below about 1e-28 (x < -64; 4007 ulp at x = -79.07, 2e-4
   relative, tiny in absolute terms), and this test fails there. */
#ifdef __FAST_MATH__
#define ULP_BOUND 5.0
#else
#define ULP_BOUND 3.0
#endif

/* |y - ref| in units of the float spacing of ref's binade (2^-149 among the denormals) */
static double ulp_err(float y, double ref)
{
    int e;
    if (ref == 0.0) return fabs((double)y) / ldexp(1.0, -149);
    (void)frexp(ref, &e);   /* |ref| in [2^(e-1), 2^e) */
    return fabs((double)y - ref) / ldexp(1.0, e - 24 < -149 ? -149 : e - 24);
}

/* ulp_err, except that under -ffast-math, which flushes denormals to zero (inputs and results),
   results below FLT_MIN only need to be within FLT_MIN (a denormal x, read as 0, moves a result
   of FLT_MIN or more by less than an ulp: sigmoid(x) = 1/2 + x/4) */
static double err_of(float y, double ref)
{
#ifdef __FAST_MATH__
    if (fabs(ref) < FLT_MIN) return fabs((double)y - ref) <= FLT_MIN ? 0.0 : 1e30;
#endif
    return ulp_err(y, ref);
}

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static int is_nan(float f) { return (bits_of(f) & 0x7FFFFFFFu) > 0x7F800000u; }   /* also under fast-math */

typedef struct { double worst_s, worst_t; float at_s, at_t; int bad_nan, bad_low; size_t n; } act_err;

/* sigmoid and tanh of x[0..n) through cnn_act_forward, against double precision */
static void act_measure(const float *x, size_t n, act_err *r)
{
    float *s = (float *)malloc(n * sizeof(float)), *t = (float *)malloc(n * sizeof(float));
    size_t i;
    cnn_act_forward(CNN_ACT_SIGMOID, n, x, s);
    cnn_act_forward(CNN_ACT_TANH, n, x, t);
    for (i = 0; i < n; i++) {
        double es, et;
        if (is_nan(x[i])) { r->bad_nan += !is_nan(s[i]) || !is_nan(t[i]); continue; }
        if (x[i] < -88.0f) r->bad_low += s[i] != 0.0f;   /* e^-x is infinite there: exactly 0 */
        else if ((es = err_of(s[i], 1.0 / (1.0 + exp(-(double)x[i])))) > r->worst_s) { r->worst_s = es; r->at_s = x[i]; }
        if ((et = err_of(t[i], tanh((double)x[i]))) > r->worst_t) { r->worst_t = et; r->at_t = x[i]; }
    }
    r->n += n;
    free(s); free(t);
}

/* every float from lo to hi (both positive or both negative), in chunks */
static void act_measure_all(float lo, float hi, act_err *r)
{
    enum { CHUNK = 65536 };
    float *x = (float *)malloc(CHUNK * sizeof(float));
    uint32_t b = bits_of(lo), end = bits_of(hi);
    const uint32_t step = b <= end ? 1u : 0u - 1u;
    for (;;) {
        size_t n = 0;
        while (n < CHUNK) {
            memcpy(&x[n++], &b, sizeof b);
            if (b == end) break;
            b += step;
        }
        act_measure(x, n, r);
        if (bits_of(x[n - 1]) == end) break;
    }
    free(x);
}

int main(void)
{
    enum { SPREAD = 65536, RANDOM = 1000000 };
    float *x = (float *)malloc(RANDOM * sizeof(float)), y[5];
    cnn_rng rng;
    act_err r;
    uint32_t b;
    int i;
    memset(&r, 0, sizeof r);
    for (i = 0; i < SPREAD; i++) {
        b = (uint32_t)i * 65537u;
        memcpy(&x[i], &b, sizeof b);
    }
    act_measure(x, SPREAD, &r);
    cnn_rng_seed(&rng, 11);
    for (i = 0; i < RANDOM; i++) {
        b = cnn_rng_u32(&rng);
        memcpy(&x[i], &b, sizeof b);
    }
    act_measure(x, RANDOM, &r);
    act_measure_all(-16.0f, -17.0f, &r);
    act_measure_all(0.6f, 0.7f, &r);
    act_measure_all(-0.6f, -0.7f, &r);
    printf("sigmoid and tanh against libm in double, %lu floats: worst %.2f ulp (x = %g) and %.2f ulp (x = %g)\n",
           (unsigned long)r.n, r.worst_s, (double)r.at_s, r.worst_t, (double)r.at_t);
    CHECK(r.worst_s <= ULP_BOUND, "sigmoid is %.2f ulp from libm's double at x = %g", r.worst_s, (double)r.at_s);
    CHECK(r.worst_t <= ULP_BOUND, "tanh is %.2f ulp from libm's double at x = %g", r.worst_t, (double)r.at_t);
    CHECK(r.bad_low == 0, "%d sigmoids below x = -88 not exactly 0", r.bad_low);
#ifndef __FAST_MATH__
    CHECK(r.bad_nan == 0, "%d NaN inputs did not give NaN", r.bad_nan);
    x[0] = -0.0f; x[1] = 0.0f;
    cnn_act_forward(CNN_ACT_TANH, 2, x, y);
    CHECK(bits_of(y[0]) == 0x80000000u && bits_of(y[1]) == 0u, "tanh(-0), tanh(0) = %g, %g", (double)y[0], (double)y[1]);
#endif
    x[0] = INFINITY; x[1] = -INFINITY; x[2] = 0.0f;
    cnn_act_forward(CNN_ACT_TANH, 2, x, y);
    cnn_act_forward(CNN_ACT_SIGMOID, 3, x, y + 2);
    CHECK(y[0] == 1.0f && y[1] == -1.0f && y[2] == 1.0f && y[3] == 0.0f && y[4] == 0.5f,
          "tanh(+-inf) = %g, %g; sigmoid(+-inf, 0) = %g, %g, %g", (double)y[0], (double)y[1], (double)y[2],
          (double)y[3], (double)y[4]);
    free(x);
    return check_done("test_act");
}
