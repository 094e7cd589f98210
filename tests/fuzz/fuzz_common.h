/* tests/fuzz/fuzz_common.h - what the libFuzzer harnesses share (include it first, before cnn.h):
   - FUZZ_CHECK: an invariant; when it fails it prints what and aborts, which libFuzzer records
     as a crash and the replay program (replay_main.h) as a failure;
   - fuzz_take: options come from the trailing bytes of the input, last byte first;
   - an allocator hook for cnn.h that counts live blocks and refuses (returns NULL for, and
     records) any request over a per-call cap, so "the loader asked for 40 GB for a 100-byte
     file" is a finding and never a real allocation;
   - fuzz_check_err: the cnn_error contract (status equals the return, message set on failure);
   - reference models, written here from the documentation and independent of cnn.h's code:
     the raw IDX format (fuzz_ref_idx) and network shape inference (fuzz_ref_plan). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L      /* opendir/readdir in replay_main.h */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <limits.h>

#if defined(__GNUC__) || defined(__clang__)
#define FUZZ_UNUSED static __attribute__((unused))
#else
#define FUZZ_UNUSED static
#endif

static const char *fuzz_current = "(libFuzzer input)";   /* the replayed file, for messages */

#define FUZZ_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n  input: %s\n  ",        \
                    __FILE__, __LINE__, #cond, fuzz_current);                              \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* The last byte of the input, removed from it; 0 once the input is empty. */
FUZZ_UNUSED unsigned fuzz_take(size_t *size, const uint8_t *data)
{
    if (*size == 0) return 0;
    return data[--*size];
}

/* ---- allocator hook ---- */

static long   fuzz_live;                 /* blocks allocated and not yet freed              */
static size_t fuzz_alloc_cap = (size_t)-1; /* larger requests are refused and recorded      */
static size_t fuzz_over;                 /* largest refused request (0: none)               */

static void *fuzz_malloc(size_t n)
{
    void *p;
    if (n > fuzz_alloc_cap) { if (n > fuzz_over) fuzz_over = n; return NULL; }
    p = malloc(n ? n : 1);
    if (p) fuzz_live++;
    return p;
}
static void *fuzz_realloc(void *old, size_t n)
{
    void *p;
    if (n > fuzz_alloc_cap) { if (n > fuzz_over) fuzz_over = n; return NULL; }
    p = realloc(old, n ? n : 1);
    if (p && !old) fuzz_live++;
    return p;
}
static void fuzz_free(void *p)
{
    if (p) fuzz_live--;
    free(p);
}
#define CNN_MALLOC(n)     fuzz_malloc(n)
#define CNN_REALLOC(p, n) fuzz_realloc(p, n)
#define CNN_FREE(p)       fuzz_free(p)

/* Start a call under an allocation cap; fuzz_alloc_done checks it and that nothing leaked
   (call it after the outputs have been freed). */
FUZZ_UNUSED void fuzz_alloc_begin(size_t cap)
{
    fuzz_alloc_cap = cap;
    fuzz_over = 0;
    fuzz_live = 0;
}
#define fuzz_alloc_done(what)                                                              \
    do {                                                                                   \
        FUZZ_CHECK(fuzz_over == 0, "%s asked for %zu bytes, over the %zu this input "      \
                   "justifies", what, fuzz_over, fuzz_alloc_cap);                          \
        FUZZ_CHECK(fuzz_live == 0, "%s leaked %ld blocks", what, fuzz_live);               \
        fuzz_alloc_cap = (size_t)-1;                                                       \
    } while (0)

#define CNN_IMPLEMENTATION
#include "../../cnn.h"

/* ---- the error contract ---- */

/* Fill err with junk before a call, so a field the library forgot to set shows. */
FUZZ_UNUSED void fuzz_err_poison(cnn_error *e) { memset(e, 0xA5, sizeof *e); }

#define fuzz_check_err(st, e, what)                                                        \
    do {                                                                                   \
        FUZZ_CHECK((e)->status == (st), "%s returned %s but err.status is %d", what,       \
                   cnn_status_name(st), (int)(e)->status);                                 \
        FUZZ_CHECK(memchr((e)->msg, 0, sizeof (e)->msg) != NULL,                           \
                   "%s: err.msg is not NUL-terminated", what);                             \
        if ((st) != CNN_OK)                                                                \
            FUZZ_CHECK((e)->msg[0] != 0, "%s failed with %s and no message", what,         \
                       cnn_status_name(st));                                               \
        else                                                                               \
            FUZZ_CHECK((e)->msg[0] == 0, "%s succeeded but left message '%.80s'", what,    \
                       (e)->msg);                                                          \
    } while (0)

/* ---- IDX, from the format's description (cnn.h >>idx) ---- */

enum { FUZZ_IDX_HEADER_BAD, FUZZ_IDX_OVERFLOW, FUZZ_IDX_LIMIT, FUZZ_IDX_TRUNCATED,
       FUZZ_IDX_TRAILING, FUZZ_IDX_OK };

typedef struct fuzz_idx_ref {
    int verdict;            /* one of the above                                          */
    cnn_status want;        /* the exact status, where the format decides it (else -1)  */
    int type, ndims;
    size_t dims[8], count, elem, hdr, bytes;
} fuzz_idx_ref;

FUZZ_UNUSED size_t fuzz_idx_elem(int t)
{
    return t == 0x08 || t == 0x09 ? 1 : t == 0x0B ? 2 : t == 0x0C || t == 0x0D ? 4 : t == 0x0E ? 8 : 0;
}

/* Classify raw IDX bytes under the limits max_bytes/max_dim (already defaulted). */
FUZZ_UNUSED void fuzz_ref_idx(const uint8_t *p, size_t n, size_t max_bytes, size_t max_dim,
                              fuzz_idx_ref *r)
{
    size_t k, count = 1;
    int overflow = 0, over_limit = 0;
    memset(r, 0, sizeof *r);
    r->want = (cnn_status)-1;
    r->verdict = FUZZ_IDX_HEADER_BAD;
    if (n < 4) return;                                /* truncated or not IDX: either is fair */
    if (p[0] || p[1]) { r->want = CNN_ERR_NOT_IDX; return; }
    if (!fuzz_idx_elem(p[2])) { r->want = CNN_ERR_IDX_TYPE; return; }
    if (p[3] < 1 || p[3] > 8) { r->want = CNN_ERR_IDX_DIMS; return; }
    r->type = p[2]; r->ndims = p[3]; r->elem = fuzz_idx_elem(p[2]);
    r->hdr = 4 + 4 * (size_t)r->ndims;
    if (n < r->hdr) { r->want = CNN_ERR_TRUNCATED; return; }
    for (k = 0; k < (size_t)r->ndims; k++) {
        const uint8_t *d = p + 4 + 4 * k;
        r->dims[k] = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
        if (r->dims[k] > max_dim) over_limit = 1;
        if (r->dims[k] && count > (size_t)-1 / r->dims[k]) overflow = 1;
        else count *= r->dims[k];
    }
    if (!overflow && count > (size_t)-1 / r->elem) overflow = 1;
    if (overflow) { r->verdict = FUZZ_IDX_OVERFLOW; return; }   /* OVERFLOW or LIMIT */
    r->count = count;
    r->bytes = count * r->elem;
    if (over_limit || r->bytes > max_bytes) {
        r->verdict = FUZZ_IDX_LIMIT; r->want = CNN_ERR_LIMIT; return;
    }
    if (n - r->hdr < r->bytes) { r->verdict = FUZZ_IDX_TRUNCATED; r->want = CNN_ERR_TRUNCATED; return; }
    if (n - r->hdr > r->bytes) { r->verdict = FUZZ_IDX_TRAILING; r->want = CNN_ERR_TRAILING; return; }
    r->verdict = FUZZ_IDX_OK;
    r->want = CNN_OK;
}

/* An IDX result on success: matches the reference; data is the payload in host order. */
FUZZ_UNUSED void fuzz_check_idx_ok(const cnn_idx *x, const fuzz_idx_ref *r, const uint8_t *payload)
{
    const uint16_t one = 1;
    const int little = *(const unsigned char *)&one == 1;
    size_t i, j;
    FUZZ_CHECK(x->type == r->type && x->ndims == r->ndims && x->count == r->count &&
               x->elem_size == r->elem, "idx: type %d/%d ndims %d/%d count %zu/%zu elem %zu/%zu",
               x->type, r->type, x->ndims, r->ndims, x->count, r->count, x->elem_size, r->elem);
    for (i = 0; i < (size_t)r->ndims; i++)
        FUZZ_CHECK(x->dims[i] == r->dims[i], "idx: dim %zu is %zu, header says %zu", i, x->dims[i], r->dims[i]);
    for (; i < 8; i++) FUZZ_CHECK(x->dims[i] == 0, "idx: unused dim %zu is %zu", i, x->dims[i]);
    FUZZ_CHECK(x->data != NULL, "idx: data is NULL after success");
    for (i = 0; i < r->count; i++)
        for (j = 0; j < r->elem; j++) {
            size_t src = i * r->elem + (little ? r->elem - 1 - j : j);
            FUZZ_CHECK(((const uint8_t *)x->data)[i * r->elem + j] == payload[src],
                       "idx: element %zu byte %zu differs from the file", i, j);
        }
}

FUZZ_UNUSED int fuzz_idx_zeroed(const cnn_idx *x)
{
    static const cnn_idx zero;
    return memcmp(x, &zero, sizeof zero) == 0;
}

/* The result of reading IDX bytes whose (decoded) content the reference classified: success
   exactly when it says so, with the file's elements; else the status the format decides, and
   an all-zero output. msg is err.msg or "" (for messages). */
FUZZ_UNUSED void fuzz_check_idx_result(cnn_status st, const cnn_idx *out, const fuzz_idx_ref *ref,
                                       const uint8_t *content, size_t size, const char *msg)
{
    if (ref->verdict == FUZZ_IDX_OK) {
        FUZZ_CHECK(st == CNN_OK, "a valid %zu-byte IDX file was refused: %s (%s)", size,
                   cnn_status_name(st), msg);
        fuzz_check_idx_ok(out, ref, content + ref->hdr);
        return;
    }
    FUZZ_CHECK(st != CNN_OK, "invalid IDX bytes accepted (reference verdict %d)", ref->verdict);
    FUZZ_CHECK(fuzz_idx_zeroed(out), "output not zeroed after %s", cnn_status_name(st));
    if (ref->verdict == FUZZ_IDX_OVERFLOW)
        FUZZ_CHECK(st == CNN_ERR_OVERFLOW || st == CNN_ERR_LIMIT, "size overflow gave %s (%s)",
                   cnn_status_name(st), msg);
    else if (ref->want != (cnn_status)-1)
        FUZZ_CHECK(st == ref->want, "status %s, the format says %s (%s)", cnn_status_name(st),
                   cnn_status_name(ref->want), msg);
    else
        FUZZ_CHECK(st == CNN_ERR_TRUNCATED || st == CNN_ERR_NOT_IDX || st == CNN_ERR_IDX_TYPE,
                   "%zu bytes gave %s (%s)", size, cnn_status_name(st), msg);
}

/* ---- network shape inference, from the documentation (cnn.h >>spec, >>net, >>conv, >>pool) ---- */

typedef struct fuzz_ref_layer {
    int kind, in_c, in_h, in_w, out_c, out_h, out_w;
    double params, work;            /* work: multiply-adds per sample, roughly */
} fuzz_ref_layer;

typedef struct fuzz_ref_plan {
    cnn_status want;                /* CNN_OK, CNN_ERR_ARG or CNN_ERR_SHAPE                 */
    int bad_block;                  /* 1-based block that fails, 0 for the input/dense     */
    int nlayers;
    fuzz_ref_layer layers[5 * CNN_MAX_BLOCKS + 1];
    double params, state;           /* exact while below 2^53                              */
    double largest_int;             /* largest product the net keeps in an int (fans, sizes) */
} fuzz_ref_plan;

static void fuzz_plan_push(fuzz_ref_plan *p, int kind, int c, int h, int w)
{
    fuzz_ref_layer *L = &p->layers[p->nlayers++];
    L->kind = kind; L->in_c = L->out_c = c; L->in_h = L->out_h = h; L->in_w = L->out_w = w;
    L->params = 0;
    L->work = (double)c * h * w;
}

FUZZ_UNUSED void fuzz_ref_plan_make(const cnn_net_desc *d, fuzz_ref_plan *p)
{
    long long c = d->in_c, h = d->in_h, w = d->in_w;
    int i;
    memset(p, 0, sizeof *p);
    p->want = CNN_ERR_ARG;
    if (c <= 0 || h <= 0 || w <= 0 || d->classes < 2 || d->nblocks < 0 || d->nblocks > CNN_MAX_BLOCKS ||
        !(d->bn_momentum >= 0.0f && d->bn_momentum <= 1.0f) || !(d->bn_eps > 0.0f))
        return;
    for (i = 0; i < d->nblocks; i++) {
        const cnn_block *b = &d->blocks[i];
        long long oh, ow, ps;
        double fan;
        p->bad_block = i + 1;
        p->want = CNN_ERR_ARG;
        if ((int)b->act < 0 || (int)b->act > 3 || (int)b->pool_type < 0 || (int)b->pool_type > 2 ||
            !(b->dropout >= 0.0f && b->dropout < 1.0f) || b->pool < 1 || b->pool_stride < 0 ||
            ((int)b->padding != 0 && (int)b->padding != 1) || b->filters <= 0 || b->kernel_h <= 0 ||
            b->kernel_w <= 0 || b->stride_h <= 0 || b->stride_w <= 0)
            return;
        p->want = CNN_ERR_SHAPE;
        if (b->padding == CNN_PAD_VALID) {
            if (h < b->kernel_h || w < b->kernel_w) return;
            oh = (h - b->kernel_h) / b->stride_h + 1;
            ow = (w - b->kernel_w) / b->stride_w + 1;
        } else {
            oh = (h + b->stride_h - 1) / b->stride_h;
            ow = (w + b->stride_w - 1) / b->stride_w;
            fan = (double)h + b->stride_h - 1;                                 /* the ceiling's sum */
            if (fan > p->largest_int) p->largest_int = fan;
            fan = (double)w + b->stride_w - 1;
            if (fan > p->largest_int) p->largest_int = fan;
            fan = (double)(oh - 1) * b->stride_h + b->kernel_h;          /* padded extent */
            if (fan > p->largest_int) p->largest_int = fan;
            fan = (double)(ow - 1) * b->stride_w + b->kernel_w;
            if (fan > p->largest_int) p->largest_int = fan;
        }
        fuzz_plan_push(p, CNN_LAYER_CONV, (int)c, (int)h, (int)w);
        fan = (double)c * b->kernel_h * b->kernel_w;                       /* fan in  */
        if (fan > p->largest_int) p->largest_int = fan;
        fan = (double)b->filters * b->kernel_h * b->kernel_w;              /* fan out */
        if (fan > p->largest_int) p->largest_int = fan;
        p->layers[p->nlayers - 1].params = (double)b->filters * c * b->kernel_h * b->kernel_w + b->filters;
        c = b->filters; h = oh; w = ow;
        p->layers[p->nlayers - 1].out_c = (int)c;
        p->layers[p->nlayers - 1].out_h = (int)h;
        p->layers[p->nlayers - 1].out_w = (int)w;
        p->layers[p->nlayers - 1].work = p->layers[p->nlayers - 1].params * (double)h * w +
                                         (double)c * h * w;
        if (d->order == CNN_ORDER_CONV_BN_ACT) {
            fuzz_plan_push(p, CNN_LAYER_BATCHNORM, (int)c, (int)h, (int)w);
            p->layers[p->nlayers - 1].params = 2.0 * c;
            fuzz_plan_push(p, CNN_LAYER_ACT, (int)c, (int)h, (int)w);
        } else {
            fuzz_plan_push(p, CNN_LAYER_ACT, (int)c, (int)h, (int)w);
            fuzz_plan_push(p, CNN_LAYER_BATCHNORM, (int)c, (int)h, (int)w);
            p->layers[p->nlayers - 1].params = 2.0 * c;
        }
        p->state += 2.0 * c;
        if (b->pool > 1) {
            ps = b->pool_stride ? b->pool_stride : b->pool;
            if (h < b->pool || w < b->pool) return;
            fuzz_plan_push(p, CNN_LAYER_POOL, (int)c, (int)h, (int)w);
            h = (h - b->pool) / ps + 1;
            w = (w - b->pool) / ps + 1;
            p->layers[p->nlayers - 1].out_h = (int)h;
            p->layers[p->nlayers - 1].out_w = (int)w;
            p->layers[p->nlayers - 1].work = (double)c * h * w * b->pool * b->pool;
        }
        if (b->dropout > 0.0f) fuzz_plan_push(p, CNN_LAYER_DROPOUT, (int)c, (int)h, (int)w);
        if ((double)c * h * w > p->largest_int) p->largest_int = (double)c * h * w;
    }
    p->bad_block = 0;
    p->want = CNN_OK;
    fuzz_plan_push(p, CNN_LAYER_DENSE, (int)c, (int)h, (int)w);
    p->layers[p->nlayers - 1].out_c = d->classes;
    p->layers[p->nlayers - 1].out_h = p->layers[p->nlayers - 1].out_w = 1;
    p->layers[p->nlayers - 1].params = (double)d->classes * c * h * w + d->classes;
    p->layers[p->nlayers - 1].work = p->layers[p->nlayers - 1].params;
    if ((double)c * h * w > p->largest_int) p->largest_int = (double)c * h * w;
    for (i = 0; i < p->nlayers; i++) p->params += p->layers[i].params;
}

/* A net that cnn_net_create built (or a model loaded) agrees with the plan, layer by layer. */
FUZZ_UNUSED void fuzz_check_net_plan(const cnn_net *net, const fuzz_ref_plan *p)
{
    int i, c, h, w;
    double sum = 0;
    FUZZ_CHECK(cnn_net_layer_count(net) == p->nlayers, "net: %d layers, the plan has %d",
               cnn_net_layer_count(net), p->nlayers);
    FUZZ_CHECK((double)cnn_net_param_count(net) == p->params && (double)cnn_net_state_count(net) == p->state,
               "net: %zu parameters and %zu statistics, the plan has %.0f and %.0f",
               cnn_net_param_count(net), cnn_net_state_count(net), p->params, p->state);
    for (i = 0; i < p->nlayers && i < cnn_net_layer_count(net); i++) {
        cnn_layer_info li;
        const fuzz_ref_layer *L = &p->layers[i];
        memset(&li, 0, sizeof li);
        cnn_net_layer_get(net, i, &li);
        FUZZ_CHECK((int)li.kind == L->kind && li.in_c == L->in_c && li.in_h == L->in_h && li.in_w == L->in_w &&
                   li.out_c == L->out_c && li.out_h == L->out_h && li.out_w == L->out_w &&
                   (double)li.params == L->params,
                   "layer %d (%s): kind %d %dx%dx%d -> %dx%dx%d, %zu params; the plan: kind %d "
                   "%dx%dx%d -> %dx%dx%d, %.0f params", i, li.text, (int)li.kind, li.in_c, li.in_h,
                   li.in_w, li.out_c, li.out_h, li.out_w, li.params, L->kind, L->in_c, L->in_h,
                   L->in_w, L->out_c, L->out_h, L->out_w, L->params);
        FUZZ_CHECK(memchr(li.text, 0, sizeof li.text) && li.text[0], "layer %d: no text", i);
        sum += (double)li.params;
    }
    FUZZ_CHECK(sum == p->params, "net: the layers' parameters add up to %.0f, not %.0f", sum, p->params);
    cnn_net_feature_shape(net, &c, &h, &w);
    FUZZ_CHECK(c == p->layers[p->nlayers - 1].in_c && h == p->layers[p->nlayers - 1].in_h &&
               w == p->layers[p->nlayers - 1].in_w, "net: feature shape %dx%dx%d, the plan %dx%dx%d",
               c, h, w, p->layers[p->nlayers - 1].in_c, p->layers[p->nlayers - 1].in_h,
               p->layers[p->nlayers - 1].in_w);
}

/* Work of one training step on one sample, roughly in multiply-adds (to skip huge nets). */
FUZZ_UNUSED double fuzz_plan_work(const fuzz_ref_plan *p)
{
    double work = 0;
    int i;
    for (i = 0; i < p->nlayers; i++) work += p->layers[i].work;
    return work;
}

#endif
