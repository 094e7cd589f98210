/* test_alloc_fail.c - running out of memory at every allocation, one at a time, inside each
   loader (cnn_gzip_inflate, cnn_idx_read_mem on .gz and plain IDX, cnn_dataset_from_idx,
   cnn_net_load_mem) and in network construction (cnn_net_create, cnn_net_reserve,
   cnn_net_train). For every k below the number of allocations the call makes, the k-th one
   fails (returns NULL) through the allocator hooks, and the call must return exactly
   CNN_ERR_NOMEM with its outputs cleared, no block leaked and no block freed twice; once k
   reaches that number it must succeed. A net whose reserve or training ran out of memory
   must still work afterwards.
   cc -std=c99 -O2 tests/test_alloc_fail.c -lm && ./a.out */
#include "check.h"
#include <stdlib.h>
#include <string.h>

/* ---- allocator hook: counts allocations, fails the k-th, tracks every live block ---- */

#define MAX_LIVE 4096
static void *live[MAX_LIVE];
static long nlive;          /* blocks allocated through the hook and not yet freed          */
static long nallocs;        /* allocations (malloc and realloc) since hook_arm              */
static long fail_at = -1;   /* the allocation that fails, counted from 0; -1: none          */
static long bad_frees;      /* frees (or reallocs) of a block that is not live: double free */
static int  overflowed;     /* more than MAX_LIVE live blocks: the test itself is too small */

static void hook_arm(long k) { nallocs = 0; fail_at = k; }
static void hook_disarm(void) { fail_at = -1; }

static int untrack(void *p)
{
    long i;
    for (i = nlive - 1; i >= 0; i--)
        if (live[i] == p) { live[i] = live[--nlive]; return 1; }
    return 0;
}
static void track(void *p)
{
    if (nlive == MAX_LIVE) { overflowed = 1; return; }
    live[nlive++] = p;
}
static void *h_malloc(size_t n)
{
    void *p;
    if (nallocs++ == fail_at) return NULL;
    p = malloc(n ? n : 1);
    if (p) track(p);
    return p;
}
static void *h_realloc(void *old, size_t n)
{
    void *p;
    if (nallocs++ == fail_at) return NULL;
    if (old && !untrack(old)) { bad_frees++; return NULL; }
    p = realloc(old, n ? n : 1);
    if (p) track(p);
    else if (old) track(old);
    return p;
}
static void h_free(void *p)
{
    if (!p) return;
    if (!untrack(p)) { bad_frees++; return; }    /* never pass a bad pointer on to free */
    free(p);
}
#define CNN_MALLOC(n)     h_malloc(n)
#define CNN_REALLOC(p, n) h_realloc(p, n)
#define CNN_FREE(p)       h_free(p)
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "data/vectors.h"

#define MAX_K 500           /* more allocations than any call here makes */

static int idx_zeroed(const cnn_idx *r)
{
    static const cnn_idx z;
    return memcmp(r, &z, sizeof z) == 0;
}

/* how many allocations the call made, without failures: the runs below must match it */
#define CLEAN_RUN(count, call)                                                            \
    do { hook_arm(-1); call; count = nallocs; hook_disarm(); } while (0)

/* ---- the loaders ---- */

static void test_gzip(void)
{
    size_t v;
    for (v = 0; v < TEST_VECTOR_COUNT; v++) {
        const test_vector *t = &test_vectors[v];
        unsigned char *out = (unsigned char *)malloc(t->want_size + 1);
        size_t got = 1;
        long k, want, base = nlive;
        cnn_error e;
        cnn_status st;
        if (!out) { printf("out of memory\n"); exit(2); }
        CLEAN_RUN(want, st = cnn_gzip_inflate(t->gz, t->gz_size, out, t->want_size, &got, &e));
        CHECK(st == CNN_OK && got == t->want_size, "%s: decodes without failures: %s", t->name, e.msg);
        for (k = 0; k < MAX_K; k++) {
            hook_arm(k);
            st = cnn_gzip_inflate(t->gz, t->gz_size, out, t->want_size, &got, &e);
            hook_disarm();
            if (st == CNN_OK) break;
            CHECK(st == CNN_ERR_NOMEM && e.status == st && got == 0 && nlive == base,
                  "gzip %s, allocation %ld failing: %s (%s), out_size %zu, %ld blocks leaked", t->name, k,
                  cnn_status_name(st), e.msg, got, nlive - base);
        }
        CHECK(k == want && got == t->want_size, "gzip %s: succeeds from k = %ld, makes %ld allocations",
              t->name, k, want);
        free(out);
    }
}

static void read_mem_loop(const char *what, const void *data, size_t n, int gzipped)
{
    cnn_idx r;
    cnn_error e;
    cnn_status st;
    long k, want, base = nlive;
    CLEAN_RUN(want, st = cnn_idx_read_mem(data, n, NULL, &r, &e));
    CHECK(st == CNN_OK && r.gzipped == gzipped, "%s: reads without failures: %s", what, e.msg);
    cnn_idx_free(&r);
    CHECK(want >= 1, "%s: %ld allocations", what, want);
    for (k = 0; k < MAX_K; k++) {
        memset(&r, 0x5A, sizeof r);
        hook_arm(k);
        st = cnn_idx_read_mem(data, n, NULL, &r, &e);
        hook_disarm();
        if (st == CNN_OK) break;
        CHECK(st == CNN_ERR_NOMEM && e.status == st && idx_zeroed(&r) && nlive == base,
              "%s, allocation %ld failing: %s (%s), output %s, %ld blocks leaked", what, k,
              cnn_status_name(st), e.msg, idx_zeroed(&r) ? "zeroed" : "not zeroed", nlive - base);
    }
    CHECK(k == want, "%s: succeeds from k = %ld, makes %ld allocations", what, k, want);
    if (st == CNN_OK)
        CHECK(r.count * r.elem_size + 16 == sizeof vec_small_images_idx || r.ndims == 1,
              "%s: wrong data after the failures", what);
    cnn_idx_free(&r);
    CHECK(nlive == base, "%s: %ld blocks leaked", what, nlive - base);
}

static void test_idx(void)
{
    read_mem_loop("read_mem .gz images", vec_small_images, sizeof vec_small_images, 1);
    read_mem_loop("read_mem .gz labels", vec_small_labels, sizeof vec_small_labels, 1);
    read_mem_loop("read_mem raw images", vec_small_images_idx, sizeof vec_small_images_idx, 0);
    read_mem_loop("read_mem raw labels", vec_small_labels_idx, sizeof vec_small_labels_idx, 0);
}

static void test_dataset(void)
{
    cnn_idx im, lb;
    cnn_dataset d;
    cnn_error e;
    cnn_status st;
    long k, want, base;
    static const cnn_dataset zero;
    if (cnn_idx_read_mem(vec_small_images, sizeof vec_small_images, NULL, &im, &e) ||
        cnn_idx_read_mem(vec_small_labels, sizeof vec_small_labels, NULL, &lb, &e)) {
        CHECK(0, "dataset: the inputs do not load: %s", e.msg);
        return;
    }
    base = nlive;
    CLEAN_RUN(want, st = cnn_dataset_from_idx(&im, &lb, 10, NULL, &d, &e));
    CHECK(st == CNN_OK && d.n > 0, "dataset: builds without failures: %s", e.msg);
    cnn_dataset_free(&d);
    for (k = 0; k < MAX_K; k++) {
        memset(&d, 0x5A, sizeof d);
        hook_arm(k);
        st = cnn_dataset_from_idx(&im, &lb, 10, NULL, &d, &e);
        hook_disarm();
        if (st == CNN_OK) break;
        CHECK(st == CNN_ERR_NOMEM && e.status == st && memcmp(&d, &zero, sizeof d) == 0 && nlive == base,
              "dataset_from_idx, allocation %ld failing: %s (%s), %ld blocks leaked", k, cnn_status_name(st),
              e.msg, nlive - base);
    }
    CHECK(k == want, "dataset_from_idx: succeeds from k = %ld, makes %ld allocations", k, want);
    cnn_dataset_free(&d);
    cnn_idx_free(&im);
    cnn_idx_free(&lb);
}

/* ---- networks ---- */

static const char *const SPEC = "(3, (3,3), (1,1), 'relu', 0.2, 2, 'max') (2, (2,2), (1,1), 'tanh', 0.1, 2, 'min')";
/* 16 filters for 9 taps (more 4-filter tiles than 4-tap tiles, cnn__conv_gen_applies): the first
   block streams (cnn__block0_forward), with buffers of its own */
static const char *const STREAM_SPEC = "(16, (3,3), (1,1), 'relu', 0.2, 2, 'max') (2, (2,2), (1,1), 'relu', 0.1, 2, 'max')";

static void spec_desc(cnn_net_desc *d, const char *spec)
{
    cnn_error e;
    cnn_net_desc_init(d, 1, 10, 10, 3);
    if (cnn_net_desc_parse(d, spec, &e)) { printf("spec: %s\n", e.msg); exit(2); }
}

static void small_desc(cnn_net_desc *d) { spec_desc(d, SPEC); }

static void test_create(void)
{
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_error e;
    cnn_status st;
    long k, want, base = nlive;
    small_desc(&d);
    CLEAN_RUN(want, st = cnn_net_create(&net, &d, &e));
    CHECK(st == CNN_OK, "create: %s", e.msg);
    cnn_net_free(net);
    for (k = 0; k < MAX_K; k++) {
        net = (cnn_net *)&e;
        hook_arm(k);
        st = cnn_net_create(&net, &d, &e);
        hook_disarm();
        if (st == CNN_OK) break;
        CHECK(st == CNN_ERR_NOMEM && e.status == st && net == NULL && nlive == base,
              "net_create, allocation %ld failing: %s (%s), %ld blocks leaked", k, cnn_status_name(st),
              e.msg, nlive - base);
    }
    CHECK(k == want, "net_create: succeeds from k = %ld, makes %ld allocations", k, want);
    cnn_net_free(net);
    CHECK(nlive == base, "net_create: %ld blocks leaked", nlive - base);
}

static void test_load(void)
{
    cnn_net_desc d;
    cnn_net *net = NULL, *back;
    cnn_error e;
    cnn_status st;
    cnn_rng r;
    unsigned char *buf;
    size_t n;
    long k, want, base = nlive;
    small_desc(&d);
    if (cnn_net_create(&net, &d, &e)) { CHECK(0, "load: create: %s", e.msg); return; }
    cnn_rng_seed(&r, 5);
    cnn_net_init(net, &r);
    n = cnn_net_save_size(net);
    buf = (unsigned char *)malloc(n);
    if (!buf || cnn_net_save_mem(net, buf, n, &e)) { printf("save failed\n"); exit(2); }
    cnn_net_free(net);
    CLEAN_RUN(want, st = cnn_net_load_mem(&back, buf, n, &e));
    CHECK(st == CNN_OK, "load: %s", e.msg);
    cnn_net_free(back);
    for (k = 0; k < MAX_K; k++) {
        back = (cnn_net *)&e;
        hook_arm(k);
        st = cnn_net_load_mem(&back, buf, n, &e);
        hook_disarm();
        if (st == CNN_OK) break;
        CHECK(st == CNN_ERR_NOMEM && e.status == st && back == NULL && nlive == base,
              "net_load_mem, allocation %ld failing: %s (%s), %ld blocks leaked", k, cnn_status_name(st),
              e.msg, nlive - base);
    }
    CHECK(k == want, "net_load_mem: succeeds from k = %ld, makes %ld allocations", k, want);
    cnn_net_free(back);
    free(buf);
    CHECK(nlive == base, "net_load_mem: %ld blocks leaked", nlive - base);
}

/* Training data: 12 images of 10x10 in 3 classes. */
static float tx[12 * 100];
static int ty[12];

static void make_data(void)
{
    cnn_rng r;
    int i;
    cnn_rng_seed(&r, 11);
    for (i = 0; i < 12 * 100; i++) tx[i] = cnn_rng_uniform(&r);
    for (i = 0; i < 12; i++) ty[i] = i % 3;
}

static cnn_status train(cnn_net *net, cnn_error *e)
{
    cnn_train_opts o;
    cnn_train_result res;
    cnn_train_opts_init(&o);
    o.epochs = 2;
    o.batch = 4;
    o.val_split = 0.25;
    o.seed = 3;
    return cnn_net_train(net, tx, ty, 12, &o, &res, e);
}

static void test_reserve_and_train(const char *spec, int streams)
{
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_error e;
    cnn_status st;
    cnn_rng r;
    long k, want, base = nlive, built;
    spec_desc(&d, spec);

    /* reserve: activations for a batch of 5; after a failure the net reserves and runs */
    if (cnn_net_create(&net, &d, &e)) { CHECK(0, "reserve: create: %s", e.msg); return; }
    built = nlive;
    CLEAN_RUN(want, st = cnn_net_reserve(net, 5, &e));
    CHECK(st == CNN_OK, "reserve: %s", e.msg);
    CHECK((net->stream != NULL) == streams, "%s: the first block %s", spec, streams ? "does not stream" : "streams");
    {   /* the maps and workspaces start on 64-byte boundaries, whatever the allocator gives */
        const float *maps[4];
        int i, j;
        for (i = 0; i < net->nlayers; i++) {
            maps[0] = net->layers[i].out; maps[1] = net->layers[i].dout; maps[2] = net->layers[i].cache;
            maps[3] = i == 0 ? net->stream : NULL;
            for (j = 0; j < 4; j++)
                CHECK((uintptr_t)maps[j] % 64 == 0, "%s: layer %d's buffer %d at %p, not 64-byte aligned", spec, i, j,
                      (const void *)maps[j]);
        }
    }
    cnn_net_free(net);
    for (k = 0; k < MAX_K; k++) {
        if (cnn_net_create(&net, &d, &e)) { CHECK(0, "reserve: create: %s", e.msg); return; }
        hook_arm(k);
        st = cnn_net_reserve(net, 5, &e);
        hook_disarm();
        if (st == CNN_OK) { cnn_net_free(net); break; }
        CHECK(st == CNN_ERR_NOMEM && e.status == st && nlive == built,
              "net_reserve, allocation %ld failing: %s (%s), %ld activation blocks kept", k,
              cnn_status_name(st), e.msg, nlive - built);
        st = cnn_net_reserve(net, 5, &e);
        CHECK(st == CNN_OK, "net_reserve after a failure at %ld: %s", k, e.msg);
        if (st == CNN_OK) {
            cnn_net_set_training(net, 0, NULL);
            cnn_net_forward(net, tx, 5);
        }
        cnn_net_free(net);
        CHECK(nlive == base, "net_reserve, allocation %ld failing: %ld blocks leaked", k, nlive - base);
    }
    CHECK(k == want, "net_reserve: succeeds from k = %ld, makes %ld allocations", k, want);

    /* train: its reserve and its own buffers; after a failure the same net trains */
    if (cnn_net_create(&net, &d, &e)) { CHECK(0, "train: create: %s", e.msg); return; }
    cnn_rng_seed(&r, 1);
    cnn_net_init(net, &r);
    CLEAN_RUN(want, st = train(net, &e));
    CHECK(st == CNN_OK, "train: %s", e.msg);
    cnn_net_free(net);
    for (k = 0; k < MAX_K; k++) {
        if (cnn_net_create(&net, &d, &e)) { CHECK(0, "train: create: %s", e.msg); return; }
        cnn_rng_seed(&r, 1);
        cnn_net_init(net, &r);
        hook_arm(k);
        st = train(net, &e);
        hook_disarm();
        if (st == CNN_OK) { cnn_net_free(net); break; }
        CHECK(st == CNN_ERR_NOMEM && e.status == st, "net_train, allocation %ld failing: %s (%s)", k,
              cnn_status_name(st), e.msg);
        st = train(net, &e);
        CHECK(st == CNN_OK, "net_train after a failure at %ld: %s", k, e.msg);
        cnn_net_free(net);
        CHECK(nlive == base, "net_train, allocation %ld failing: %ld blocks leaked", k, nlive - base);
    }
    CHECK(k == want, "net_train: succeeds from k = %ld, makes %ld allocations", k, want);
    CHECK(nlive == base, "reserve and train: %ld blocks leaked", nlive - base);
}

int main(void)
{
    make_data();
    test_gzip();
    test_idx();
    test_dataset();
    test_create();
    test_load();
    test_reserve_and_train(SPEC, 0);
#ifdef CNN__GEMM_VECTOR   /* the stream needs the vector GEMM's row generator */
    test_reserve_and_train(STREAM_SPEC, 1);
#else
    test_reserve_and_train(STREAM_SPEC, 0);
#endif
    CHECK(bad_frees == 0, "%ld frees of a block that was not allocated or already freed", bad_frees);
    CHECK(!overflowed, "more than %d live blocks: raise MAX_LIVE", MAX_LIVE);
    CHECK(nlive == 0, "%ld blocks still allocated at exit", nlive);
    return check_done("test_alloc_fail");
}
