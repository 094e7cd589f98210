/* cc -std=c99 -O2 tests/test_idx.c -o test_idx -lm && ./test_idx   (from the repo root)

   The IDX reader and data-set loader of cnn.h: small IDX files plain and gzipped, every
   kind of bad header, every prefix and every changed byte, hostile dimensions and a zip
   bomb (checked through the allocator hook), running out of memory at each allocation, the
   data directory lookup, and the real Fashion-MNIST files when they are installed (their
   absence is a failure when CI=true or CNN_REQUIRE_DATA=1). Uses popen/mkdtemp: POSIX. */
#define _POSIX_C_SOURCE 200809L
#include "test_helpers.h"
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "data/vectors.h"

static int idx_zeroed(const cnn_idx *r)
{
    cnn_idx z;
    memset(&z, 0, sizeof z);
    return memcmp(r, &z, sizeof z) == 0;
}

/* Read data with read_mem and expect `want` (and frag in the message on failure), output
   zeroed and nothing allocated after a failure. Returns the status. */
static cnn_status expect_mem(const char *what, const void *data, size_t n, const cnn_limits *lim,
                             cnn_status want, const char *frag, cnn_idx *keep)
{
    cnn_idx r;
    cnn_error e;
    cnn_status st;
    memset(&e, 0, sizeof e);
    memset(&r, 0x55, sizeof r);             /* garbage in, to see that failure zeroes it */
    st = cnn_idx_read_mem(data, n, lim, &r, &e);
    CHECK(st == want, "%s: got %s, want %s (%s)", what, cnn_status_name(st), cnn_status_name(want),
          st ? e.msg : "no message");
    if (st != CNN_OK) {
        CHECK(idx_zeroed(&r), "%s: output not zeroed after failure", what);
        CHECK(t_live == 0, "%s: %ld blocks left allocated after failure", what, t_live);
        CHECK(e.status == st, "%s: err.status differs", what);
        if (frag && st == want)
            CHECK(strstr(e.msg, frag) != NULL, "%s: message \"%s\" lacks \"%s\"", what, e.msg,
                  frag);
    }
    if (keep && st == CNN_OK) *keep = r;
    else cnn_idx_free(&r);
    return st;
}

/* an IDX header: type, then ndims dimensions */
static tbuf idx_header(int type, int ndims, const uint32_t *dims)
{
    tbuf b = { NULL, 0, 0 };
    int i;
    tb_byte(&b, 0); tb_byte(&b, 0); tb_byte(&b, (unsigned)type); tb_byte(&b, (unsigned)ndims);
    for (i = 0; i < ndims; i++) tb_be32(&b, dims[i]);
    return b;
}

/* ---- the small files of tests/data/vectors.h ---- */

static const unsigned char *small_images_gz(size_t *n)
{
    *n = sizeof vec_small_images;
    return vec_small_images;
}

static void check_small_images(const char *what, const cnn_idx *r, int gz)
{
    CHECK(r->type == CNN_IDX_U8 && r->ndims == 3 && r->dims[0] == 5 && r->dims[1] == 7 &&
          r->dims[2] == 6 && r->count == 210 && r->elem_size == 1 && r->gzipped == gz,
          "%s: header read as type %d, %d dims %zu x %zu x %zu, count %zu, gzipped %d", what,
          r->type, r->ndims, r->dims[0], r->dims[1], r->dims[2], r->count, r->gzipped);
    CHECK(r->data && memcmp(r->data, vec_small_images_idx + 16, 210) == 0, "%s: pixels", what);
}

static void test_small(void)
{
    cnn_idx r;
    size_t n;
    const unsigned char *gz = small_images_gz(&n);
    if (expect_mem("small images", vec_small_images_idx, sizeof vec_small_images_idx, NULL,
                   CNN_OK, NULL, &r) == CNN_OK) {
        check_small_images("small images", &r, 0);
        cnn_idx_free(&r);
        CHECK(idx_zeroed(&r), "cnn_idx_free zeroes");
    }
    if (expect_mem("small images .gz", gz, n, NULL, CNN_OK, NULL, &r) == CNN_OK) {
        check_small_images("small images .gz", &r, 1);
        cnn_idx_free(&r);
    }
    if (expect_mem("small labels .gz", vec_small_labels, sizeof vec_small_labels, NULL, CNN_OK,
                   NULL, &r) == CNN_OK) {
        CHECK(r.type == CNN_IDX_U8 && r.ndims == 1 && r.dims[0] == 5 &&
              memcmp(r.data, "\3\1\4\1\5", 5) == 0, "small labels");
        cnn_idx_free(&r);
    }
    cnn_idx_free(NULL);
    CHECK(strcmp(cnn_idx_type_name(CNN_IDX_F32), "float") == 0 && cnn_idx_type_name(7) == NULL,
          "type names");
}

/* every prefix of the plain and the gzipped file is truncation */
static void test_prefixes(void)
{
    size_t k, n;
    const unsigned char *gz = small_images_gz(&n);
    int bad = 0;
    for (k = 0; k < sizeof vec_small_images_idx; k++) {
        cnn_idx r;
        cnn_error e;
        cnn_status st = cnn_idx_read_mem(vec_small_images_idx, k, NULL, &r, &e);
        if ((st != CNN_ERR_TRUNCATED || !idx_zeroed(&r) || t_live) && bad++ < 3)
            CHECK(0, "plain prefix %zu: %s (%s)", k, cnn_status_name(st), st ? e.msg : "");
        if (st == CNN_OK) cnn_idx_free(&r);
    }
    for (k = 0; k < n; k++) {
        cnn_idx r;
        cnn_error e;
        cnn_status st = cnn_idx_read_mem(gz, k, NULL, &r, &e);
        if ((st != CNN_ERR_TRUNCATED || !idx_zeroed(&r) || t_live) && bad++ < 6)
            CHECK(0, "gzip prefix %zu: %s (%s)", k, cnn_status_name(st), st ? e.msg : "");
        if (st == CNN_OK) cnn_idx_free(&r);
    }
    CHECK(bad == 0, "%d prefixes not rejected as truncated", bad);
}

/* Every byte of a small .gz (with a header CRC, so the header is covered too) changed: by
   every bit and by ^ 0xff everywhere, to every other value in the gzip header, the first
   bytes of the DEFLATE data and the trailer. The load fails, or, for the few bits DEFLATE
   ignores (padding) or that pick an equal copy, gives the same data; ^ 0xff always fails. */
static void test_changes(void)
{
    static const unsigned masks[9] = { 1, 2, 4, 8, 16, 32, 64, 128, 255 };
    tbuf g = gz_wrap(vec_small_images + 10, sizeof vec_small_images - 18, vec_small_images_idx,
                     sizeof vec_small_images_idx, 2 | 8);
    size_t i;
    unsigned k, v;
    int missed = 0, harmless = 0, tried = 0;
    for (i = 0; i < g.n; i++)
        for (k = 0; k < 255; k++) {
            cnn_idx r;
            int every = i < 40 || i + 8 >= g.n;     /* header (21 bytes), data start, trailer */
            if (!every && k >= 9) break;
            v = every ? k + 1 : masks[k];
            g.p[i] ^= (unsigned char)v;
            tried++;
            if (cnn_idx_read_mem(g.p, g.n, NULL, &r, NULL) == CNN_OK) {
                int same = r.count == 210 && r.dims[1] == 7 &&
                           memcmp(r.data, vec_small_images_idx + 16, 210) == 0;
                if (same && v != 255) harmless++;
                else if (missed++ < 3)
                    CHECK(0, "byte %zu ^ 0x%02x of the small .gz loaded without an error", i, v);
                cnn_idx_free(&r);
            }
            g.p[i] ^= (unsigned char)v;
        }
    CHECK(missed == 0, "%d changed bytes loaded without an error", missed);
    CHECK(harmless * 100 < tried, "%d of %d changes harmless, too many", harmless, tried);
    CHECK(t_live == 0, "changes: %ld blocks leaked", t_live);
    tb_free(&g);
}

static void test_headers(void)
{
    uint32_t dims[9] = { 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    tbuf b, g;
    cnn_limits lim;
    int i;

    expect_mem("zip file", "PK\3\4rest of it", 14, NULL, CNN_ERR_NOT_IDX, "starts with 50 4b 03 04", NULL);
    expect_mem("text file", "hello", 5, NULL, CNN_ERR_NOT_IDX, "68 65 6c 6c", NULL);
    expect_mem("1f then not 8b", "\x1f\x00\x08\x01", 4, NULL, CNN_ERR_NOT_IDX, "1f 00 08 01", NULL);
    expect_mem("one odd byte", "\x01", 1, NULL, CNN_ERR_NOT_IDX, "starts with 01", NULL);
    expect_mem("empty", "", 0, NULL, CNN_ERR_TRUNCATED, "0 bytes", NULL);
    expect_mem("NULL, 0", NULL, 0, NULL, CNN_ERR_TRUNCATED, "0 bytes", NULL);

    b = idx_header(0x07, 1, dims);
    expect_mem("type 07", b.p, b.n, NULL, CNN_ERR_IDX_TYPE, "type 0x07", NULL);
    tb_free(&b);
    b = idx_header(0x0A, 1, dims);
    expect_mem("type 0a", b.p, b.n, NULL, CNN_ERR_IDX_TYPE, "type 0x0a", NULL);
    tb_free(&b);
    b = idx_header(0x08, 0, dims);
    expect_mem("0 dimensions", b.p, b.n, NULL, CNN_ERR_IDX_DIMS, "0 dimensions", NULL);
    tb_free(&b);
    b = idx_header(0x08, 9, dims);
    expect_mem("9 dimensions", b.p, b.n, NULL, CNN_ERR_IDX_DIMS, "9 dimensions", NULL);
    tb_free(&b);
    b = idx_header(0x08, 1, dims);               /* 2 bytes of data promised */
    tb_bytes(&b, "ab", 2);
    expect_mem("exact", b.p, b.n, NULL, CNN_OK, NULL, NULL);
    tb_byte(&b, 'c');
    expect_mem("trailing byte", b.p, b.n, NULL, CNN_ERR_TRAILING, "1 trailing bytes", NULL);
    g = gz_stored(b.p, b.n, 0);
    expect_mem("trailing byte in .gz", g.p, g.n, NULL, CNN_ERR_TRAILING, "more than the 10 bytes", NULL);
    tb_free(&g);
    b.n -= 2;
    expect_mem("short data", b.p, b.n, NULL, CNN_ERR_TRUNCATED, "says 2 data bytes, 1 present", NULL);
    g = gz_stored(b.p, b.n, 0);
    expect_mem("short data in .gz", g.p, g.n, NULL, CNN_ERR_TRUNCATED, "the gzip stream holds 1", NULL);
    tb_free(&g);
    g = gz_stored(b.p, 6, 0);
    expect_mem("short header in .gz", g.p, g.n, NULL, CNN_ERR_TRUNCATED, "needs 8 bytes", NULL);
    tb_free(&g);
    g = gz_stored("PK\3\4", 4, 0);
    expect_mem("zip in .gz", g.p, g.n, NULL, CNN_ERR_NOT_IDX, "decoded data starts with 50 4b", NULL);
    tb_free(&g);
    tb_free(&b);

    /* an empty data set is valid: 0 items of 28 x 28 */
    dims[0] = 0; dims[1] = 28; dims[2] = 28;
    b = idx_header(0x08, 3, dims);
    {
        cnn_idx r;
        if (expect_mem("0 items", b.p, b.n, NULL, CNN_OK, NULL, &r) == CNN_OK) {
            CHECK(r.count == 0 && r.data != NULL, "0 items: count %zu", r.count);
            cnn_idx_free(&r);
        }
    }
    tb_free(&b);

    /* Dimension products that overflow 64 bits, and 32 bits. Nothing large is allocated:
       the header is refused before any buffer for the data exists. */
    for (i = 0; i < 8; i++) dims[i] = 0xFFFFFFFFu;
    t_largest = 0;
    b = idx_header(0x08, 3, dims);
    expect_mem("2^96 elements", b.p, b.n, NULL, CNN_ERR_OVERFLOW, "overflow size_t", NULL);
    g = gz_stored(b.p, b.n, 0);
    expect_mem("2^96 elements, .gz", g.p, g.n, NULL, CNN_ERR_OVERFLOW, "overflow size_t", NULL);
    tb_free(&g); tb_free(&b);
    b = idx_header(0x0E, 8, dims);
    expect_mem("2^256 doubles", b.p, b.n, NULL, CNN_ERR_OVERFLOW, "overflow", NULL);
    tb_free(&b);
    dims[0] = 0x10000; dims[1] = 0x10000;        /* 2^32 bytes: past a 32-bit size_t */
    b = idx_header(0x08, 2, dims);
    expect_mem("2^32 bytes", b.p, b.n, NULL, sizeof(size_t) > 4 ? CNN_ERR_LIMIT : CNN_ERR_OVERFLOW,
               sizeof(size_t) > 4 ? "max_bytes" : "overflow", NULL);
    g = gz_stored(b.p, b.n, 0);
    expect_mem("2^32 bytes, .gz", g.p, g.n, NULL,
               sizeof(size_t) > 4 ? CNN_ERR_LIMIT : CNN_ERR_OVERFLOW, NULL, NULL);
    tb_free(&g); tb_free(&b);
    dims[0] = 0x40000000; dims[1] = 4;           /* 2^32 bytes of int32 */
    b = idx_header(0x0C, 2, dims);
    expect_mem("2^30 x 4 ints", b.p, b.n, NULL,
               sizeof(size_t) > 4 ? CNN_ERR_LIMIT : CNN_ERR_OVERFLOW, NULL, NULL);
    tb_free(&b);
    CHECK(t_largest < 64 * 1024, "hostile dimensions: an allocation of %zu bytes", t_largest);

    /* the limits */
    memset(&lim, 0, sizeof lim);
    lim.max_dim = 100;
    dims[0] = 101; dims[1] = 1;
    b = idx_header(0x08, 2, dims);
    expect_mem("dimension over max_dim", b.p, b.n, &lim, CNN_ERR_LIMIT, "max_dim", NULL);
    tb_free(&b);
    memset(&lim, 0, sizeof lim);
    lim.max_bytes = 209;
    expect_mem("over max_bytes", vec_small_images_idx, sizeof vec_small_images_idx, &lim,
               CNN_ERR_LIMIT, "210 bytes is over the limit of 209", NULL);
    lim.max_bytes = 210;
    expect_mem("at max_bytes", vec_small_images_idx, sizeof vec_small_images_idx, &lim, CNN_OK,
               NULL, NULL);
    {
        cnn_limits d = cnn_limits_default();
        CHECK(d.max_bytes == (size_t)1 << 30 && d.max_dim == (size_t)1 << 30 &&
              d.max_file_bytes > d.max_bytes, "default limits");
    }
}

/* the other element types come out in the host's byte order */
static void test_types(void)
{
    uint32_t dims[1] = { 2 };
    tbuf b;
    cnn_idx r;

    b = idx_header(CNN_IDX_I8, 1, dims);
    tb_byte(&b, 0xFF); tb_byte(&b, 0x7F);
    if (expect_mem("byte", b.p, b.n, NULL, CNN_OK, NULL, &r) == CNN_OK) {
        const signed char *v = (const signed char *)r.data;
        CHECK(r.elem_size == 1 && v[0] == -1 && v[1] == 127, "byte values");
        cnn_idx_free(&r);
    }
    tb_free(&b);
    b = idx_header(CNN_IDX_I16, 1, dims);
    tb_byte(&b, 0xFF); tb_byte(&b, 0xFE); tb_byte(&b, 0x12); tb_byte(&b, 0x34);
    if (expect_mem("short", b.p, b.n, NULL, CNN_OK, NULL, &r) == CNN_OK) {
        const int16_t *v = (const int16_t *)r.data;
        CHECK(r.elem_size == 2 && v[0] == -2 && v[1] == 0x1234, "short values %d %d", v[0], v[1]);
        cnn_idx_free(&r);
    }
    tb_free(&b);
    b = idx_header(CNN_IDX_I32, 1, dims);
    tb_be32(&b, 0xFFFFFFFDu); tb_be32(&b, 0x12345678u);
    if (expect_mem("int", b.p, b.n, NULL, CNN_OK, NULL, &r) == CNN_OK) {
        const int32_t *v = (const int32_t *)r.data;
        CHECK(r.elem_size == 4 && v[0] == -3 && v[1] == 0x12345678, "int values");
        cnn_idx_free(&r);
    }
    tb_free(&b);
    b = idx_header(CNN_IDX_F32, 1, dims);
    tb_be32(&b, 0x3FC00000u); tb_be32(&b, 0xC0200000u);            /* 1.5, -2.5 */
    if (expect_mem("float", b.p, b.n, NULL, CNN_OK, NULL, &r) == CNN_OK) {
        const float *v = (const float *)r.data;
        CHECK(r.elem_size == 4 && v[0] == 1.5f && v[1] == -2.5f, "float values");
        cnn_idx_free(&r);
    }
    tb_free(&b);
    b = idx_header(CNN_IDX_F64, 1, dims);
    tb_be32(&b, 0x3FF80000u); tb_be32(&b, 0);                      /* 1.5 */
    tb_be32(&b, 0xC0590000u); tb_be32(&b, 0);                      /* -100 */
    if (expect_mem("double", b.p, b.n, NULL, CNN_OK, NULL, &r) == CNN_OK) {
        const double *v = (const double *)r.data;
        CHECK(r.elem_size == 8 && v[0] == 1.5 && v[1] == -100.0, "double values");
        cnn_idx_free(&r);
    }
    tb_free(&b);
}

static void test_dataset(void)
{
    cnn_idx im, lb, other;
    cnn_dataset d;
    cnn_error e;
    cnn_status st;
    cnn_limits lim;
    uint32_t dims[3] = { 4, 2, 2 };
    tbuf b;
    size_t i;
    int ok = 1;

    memset(&im, 0, sizeof im);
    memset(&lb, 0, sizeof lb);
    expect_mem("images", vec_small_images_idx, sizeof vec_small_images_idx, NULL, CNN_OK, NULL, &im);
    expect_mem("labels", vec_small_labels_idx, sizeof vec_small_labels_idx, NULL, CNN_OK, NULL, &lb);

    st = cnn_dataset_from_idx(&im, &lb, 10, NULL, &d, &e);
    CHECK(st == CNN_OK, "data set: %s", st ? e.msg : "");
    if (st == CNN_OK) {
        CHECK(d.n == 5 && d.c == 1 && d.h == 7 && d.w == 6 && d.classes == 10, "data set shape");
        for (i = 0; i < 210; i++)
            ok &= d.x[i] == (float)((float)vec_small_images_idx[16 + i] / 255.0f) && d.x[i] >= 0.0f &&
                  d.x[i] <= 1.0f;
        CHECK(ok, "pixels are byte / 255");
        CHECK(d.y[0] == 3 && d.y[1] == 1 && d.y[2] == 4 && d.y[3] == 1 && d.y[4] == 5, "labels");
        cnn_dataset_free(&d);
        CHECK(d.x == NULL && d.y == NULL && d.n == 0, "cnn_dataset_free zeroes");
    }
    cnn_dataset_free(NULL);
    st = cnn_dataset_from_idx(&im, &lb, 0, NULL, &d, &e);
    CHECK(st == CNN_OK && d.classes == 6, "classes 0 takes the largest label + 1");
    cnn_dataset_free(&d);

    memset(&d, 0x55, sizeof d);
    st = cnn_dataset_from_idx(&im, &lb, 5, NULL, &d, &e);
    CHECK(st == CNN_ERR_LABEL_RANGE && strstr(e.msg, "label 5 of item 4") && d.x == NULL,
          "label out of range: %s %s", cnn_status_name(st), e.msg);
    st = cnn_dataset_from_idx(&im, &lb, -1, NULL, &d, &e);
    CHECK(st == CNN_ERR_ARG, "negative classes: %s", cnn_status_name(st));
    memset(&lim, 0, sizeof lim);
    lim.max_bytes = 210 * 4 - 1;
    st = cnn_dataset_from_idx(&im, &lb, 10, &lim, &d, &e);
    CHECK(st == CNN_ERR_LIMIT && strstr(e.msg, "as floats"), "floats over max_bytes: %s", e.msg);

    b = idx_header(CNN_IDX_U8, 3, dims);          /* 4 images: one fewer than the labels */
    for (i = 0; i < 16; i++) tb_byte(&b, (unsigned)i);
    expect_mem("4 images", b.p, b.n, NULL, CNN_OK, NULL, &other);
    st = cnn_dataset_from_idx(&other, &lb, 10, NULL, &d, &e);
    CHECK(st == CNN_ERR_COUNT_MISMATCH && strstr(e.msg, "4 images but labels has 5 labels"),
          "count mismatch: %s %s", cnn_status_name(st), e.msg);
    st = cnn_dataset_from_idx(&im, &other, 10, NULL, &d, &e);
    CHECK(st == CNN_ERR_IDX_DIMS && strstr(e.msg, "3 dimensions, expected 1"),
          "images as labels: %s %s", cnn_status_name(st), e.msg);
    st = cnn_dataset_from_idx(&lb, &lb, 10, NULL, &d, &e);
    CHECK(st == CNN_ERR_IDX_DIMS && strstr(e.msg, "expected 3"), "labels as images: %s", e.msg);
    cnn_idx_free(&other);
    tb_free(&b);
    b = idx_header(CNN_IDX_F32, 3, dims);
    for (i = 0; i < 16; i++) tb_be32(&b, 0);
    expect_mem("float images", b.p, b.n, NULL, CNN_OK, NULL, &other);
    st = cnn_dataset_from_idx(&other, &lb, 10, NULL, &d, &e);
    CHECK(st == CNN_ERR_IDX_TYPE && strstr(e.msg, "float (0x0d)"), "float images: %s", e.msg);
    cnn_idx_free(&other);
    tb_free(&b);
    CHECK(t_live == 2, "data set failures: %ld blocks live, want the 2 inputs", t_live);
    cnn_idx_free(&im);
    cnn_idx_free(&lb);
}

/* ---- files ---- */

static char tmpdir[256];

static void write_file(const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        printf("test: cannot write %s\n", path);
        exit(2);
    }
}

static void remove_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    remove(path);
}

static void test_files(void)
{
    char path[512], path2[512], found[512];
    cnn_dataset d, d2;
    cnn_error e;
    cnn_status st;
    cnn_idx r;
    cnn_limits lim;
    long k;
    const char *env0 = getenv("CNN_DATA_DIR");
    char saved_env[512];

    snprintf(saved_env, sizeof saved_env, "%s", env0 ? env0 : "");
    /* a data directory: train files gzipped, t10k files plain */
    write_file("train-images-idx3-ubyte.gz", vec_small_images, sizeof vec_small_images);
    write_file("train-labels-idx1-ubyte.gz", vec_small_labels, sizeof vec_small_labels);
    write_file("t10k-images-idx3-ubyte", vec_small_images_idx, sizeof vec_small_images_idx);
    write_file("t10k-labels-idx1-ubyte", vec_small_labels_idx, sizeof vec_small_labels_idx);

    st = cnn_dataset_find_dir(tmpdir, found, sizeof found, &e);
    CHECK(st == CNN_OK && strcmp(found, tmpdir) == 0, "find_dir(dir): %s", st ? e.msg : found);
    st = cnn_dataset_find_dir("/nonexistent/cnn-data", found, sizeof found, &e);
    CHECK(st == CNN_ERR_OPEN && strstr(e.msg, "train-images-idx3-ubyte") &&
          strstr(e.msg, "/nonexistent/cnn-data") && strstr(e.msg, "get-data.sh") && found[0] == 0,
          "find_dir of a missing directory: %s", e.msg);
    setenv("CNN_DATA_DIR", tmpdir, 1);
    st = cnn_dataset_find_dir(NULL, found, sizeof found, &e);
    CHECK(st == CNN_OK && strcmp(found, tmpdir) == 0, "find_dir through $CNN_DATA_DIR: %s",
          st ? e.msg : found);
    st = cnn_dataset_find_dir("", found, sizeof found, &e);
    CHECK(st == CNN_OK && strcmp(found, tmpdir) == 0, "an empty --data falls back to the env");
    st = cnn_dataset_find_dir("/nonexistent/cnn-data", found, sizeof found, &e);
    CHECK(st == CNN_ERR_OPEN, "--data wins over $CNN_DATA_DIR");
    st = cnn_dataset_find_dir(tmpdir, found, 4, &e);
    CHECK(st == CNN_ERR_ARG, "find_dir into a short buffer: %s", cnn_status_name(st));
    setenv("CNN_DATA_DIR", "/nonexistent/env-dir", 1);
    st = cnn_dataset_find_dir(NULL, found, sizeof found, &e);
    CHECK(st == CNN_ERR_OPEN && strstr(e.msg, "$CNN_DATA_DIR"), "a wrong $CNN_DATA_DIR: %s", e.msg);
    if (env0) setenv("CNN_DATA_DIR", saved_env, 1);     /* as the user had it */
    else unsetenv("CNN_DATA_DIR");

    st = cnn_dataset_load_mnist(tmpdir, "train", NULL, &d, &e);
    CHECK(st == CNN_OK && d.n == 5 && d.h == 7 && d.w == 6 && d.classes == 10,
          "load_mnist train (.gz): %s", st ? e.msg : "");
    st = cnn_dataset_load_mnist(tmpdir, "t10k", NULL, &d2, &e);
    CHECK(st == CNN_OK && d2.n == 5, "load_mnist t10k (plain): %s", st ? e.msg : "");
    if (d.x && d2.x)
        CHECK(memcmp(d.x, d2.x, 210 * sizeof(float)) == 0 &&
              memcmp(d.y, d2.y, 5 * sizeof(int)) == 0, "gzipped and plain files load the same");
    cnn_dataset_free(&d);
    cnn_dataset_free(&d2);
    st = cnn_dataset_load_mnist(tmpdir, "valid", NULL, &d, &e);
    CHECK(st == CNN_ERR_OPEN && strstr(e.msg, "valid-images"), "a missing split: %s", e.msg);

    /* errors through files */
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", tmpdir);
    snprintf(path2, sizeof path2, "%s/t10k-labels-idx1-ubyte", tmpdir);
    st = cnn_dataset_load_idx(path, "/nonexistent/labels", 10, NULL, &d, &e);
    CHECK(st == CNN_ERR_OPEN && strstr(e.msg, "/nonexistent/labels: cannot open"),
          "missing labels file: %s", e.msg);
    st = cnn_dataset_load_idx("/nonexistent/images", path2, 10, NULL, &d, &e);
    CHECK(st == CNN_ERR_OPEN && t_live == 0, "missing images file: %s", e.msg);
    st = cnn_dataset_load_idx(path2, path2, 10, NULL, &d, &e);
    CHECK(st == CNN_ERR_IDX_DIMS && strstr(e.msg, path2), "labels as images: %s", e.msg);
    st = cnn_idx_read_file(tmpdir, NULL, &r, &e);
    CHECK(st == CNN_ERR_READ || st == CNN_ERR_OPEN, "reading a directory: %s %s", cnn_status_name(st), e.msg);
    memset(&lim, 0, sizeof lim);
    lim.max_file_bytes = sizeof vec_small_images - 1;
    st = cnn_idx_read_file(path, &lim, &r, &e);
    CHECK(st == CNN_ERR_LIMIT && strstr(e.msg, "max_file_bytes"), "file over the limit: %s", e.msg);
    lim.max_file_bytes = sizeof vec_small_images;
    st = cnn_idx_read_file(path, &lim, &r, &e);
    CHECK(st == CNN_OK && r.gzipped == 1, "file at the limit: %s", st ? e.msg : "");
    if (st == CNN_OK) check_small_images("read_file", &r, 1);
    cnn_idx_free(&r);
    CHECK(t_live == 0, "files: %ld blocks leaked", t_live);

    /* running out of memory at each allocation in turn: NOMEM, nothing leaked, until it
       has enough */
    for (k = 0; k < 50; k++) {
        t_fail_in = k;
        st = cnn_dataset_load_idx(path, path2, 10, NULL, &d, &e);
        t_fail_in = -1;
        if (st == CNN_OK) { cnn_dataset_free(&d); break; }
        CHECK(st == CNN_ERR_NOMEM && d.x == NULL && t_live == 0,
              "allocation %ld failing: %s (%s), %ld blocks live", k, cnn_status_name(st), e.msg, t_live);
    }
    CHECK(k > 3 && k < 50, "load_idx makes %ld allocations", k);
}

/* The zip bomb: an IDX header for 8192 x 8192 bytes, then 64 MiB of zeros in ~100 KB. With a
   1 MiB cap it is refused from the header alone; with a header for 16 x 16 it is trailing
   data after 256 bytes. Neither allocates anything near the data's size. */
static void test_bomb(void)
{
    uint32_t dims[3] = { 1, 8192, 8192 };
    const size_t big = (size_t)64 << 20;
    cnn_limits lim;
    tbuf h = idx_header(CNN_IDX_U8, 3, dims), g;
    cnn_idx r;
    cnn_error e;
    cnn_status st;
    char path[512];

    memset(&lim, 0, sizeof lim);
    lim.max_bytes = (size_t)1 << 20;
    g = gz_zero_bomb(h.p, h.n, big, 0);
    set_isize(&g, (uint32_t)(big + h.n));
    t_largest = 0;
    expect_mem("bomb, 1 MiB cap", g.p, g.n, &lim, CNN_ERR_LIMIT, "max_bytes", NULL);
    CHECK(t_largest < 64 * 1024, "bomb, 1 MiB cap: an allocation of %zu bytes", t_largest);

    write_file("bomb.gz", g.p, g.n);
    snprintf(path, sizeof path, "%s/bomb.gz", tmpdir);
    t_largest = 0;
    st = cnn_idx_read_file(path, &lim, &r, &e);
    CHECK(st == CNN_ERR_LIMIT, "bomb file, 1 MiB cap: %s (%s)", cnn_status_name(st), e.msg);
    CHECK(t_largest <= g.n + 1 + 64 * 1024, "bomb file: an allocation of %zu bytes for a %zu-byte file",
          t_largest, g.n);
    remove_file("bomb.gz");
    tb_free(&g);
    tb_free(&h);

    dims[1] = 16; dims[2] = 16;
    h = idx_header(CNN_IDX_U8, 3, dims);
    g = gz_zero_bomb(h.p, h.n, big, 0);
    t_largest = 0;
    expect_mem("bomb under a small header", g.p, g.n, NULL, CNN_ERR_TRAILING,
               "more than the 272 bytes", NULL);
    CHECK(t_largest < 64 * 1024, "bomb under a small header: an allocation of %zu", t_largest);
    tb_free(&g);
    tb_free(&h);
}

/* ---- the real Fashion-MNIST files, when installed ---- */

static unsigned char *zcat(const char *path, size_t *n)
{
    char cmd[1100];
    FILE *p;
    size_t cap = (size_t)1 << 20, got;
    unsigned char *buf = (unsigned char *)malloc(cap);
    snprintf(cmd, sizeof cmd, "zcat '%s'", path);
    *n = 0;
    p = popen(cmd, "r");
    if (!p) { free(buf); return NULL; }
    while ((got = fread(buf + *n, 1, cap - *n, p)) > 0) {
        *n += got;
        if (*n == cap) buf = (unsigned char *)realloc(buf, cap *= 2);
    }
    if (pclose(p) != 0) { free(buf); return NULL; }
    return buf;
}

static void test_real(void)
{
    static const char *const files[4] = {
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
    char dir[512], path[1024];
    cnn_error e;
    cnn_dataset tr, te;
    cnn_status st;
    size_t counts[10], i;
    int f, c, ok;
    const char *req = getenv("CNN_REQUIRE_DATA"), *ci = getenv("CI");
    clock_t t0;

    if (cnn_dataset_find_dir(NULL, dir, sizeof dir, &e) != CNN_OK) {
        printf("test_idx: SKIP the real Fashion-MNIST files: %s\n", e.msg);
        CHECK(!(req && req[0] == '1') && !(ci && strcmp(ci, "true") == 0),
              "the data is missing, and CI=true or CNN_REQUIRE_DATA=1 requires it");
        return;
    }
    t0 = clock();
    st = cnn_dataset_load_mnist(NULL, "train", NULL, &tr, &e);
    CHECK(st == CNN_OK, "train: %s", st ? e.msg : "");
    printf("test_idx: loaded %s/train-* in %.2f s CPU\n", dir,
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    st = cnn_dataset_load_mnist(NULL, "t10k", NULL, &te, &e);
    CHECK(st == CNN_OK, "t10k: %s", st ? e.msg : "");
    CHECK(tr.n == 60000 && tr.c == 1 && tr.h == 28 && tr.w == 28 && tr.classes == 10,
          "train is %zu x %d x %d x %d", tr.n, tr.c, tr.h, tr.w);
    CHECK(te.n == 10000 && te.h == 28 && te.w == 28, "t10k is %zu x %d x %d", te.n, te.h, te.w);
    memset(counts, 0, sizeof counts);
    for (i = 0; i < tr.n; i++) counts[tr.y[i]]++;
    for (ok = 1, c = 0; c < 10; c++) ok &= counts[c] == 6000;
    CHECK(ok, "train has 6000 labels of each class");
    memset(counts, 0, sizeof counts);
    for (i = 0; i < te.n; i++) counts[te.y[i]]++;
    for (ok = 1, c = 0; c < 10; c++) ok &= counts[c] == 1000;
    CHECK(ok, "t10k has 1000 labels of each class");
    for (ok = 1, i = 0; i < tr.n * 784; i++) ok &= tr.x[i] >= 0.0f && tr.x[i] <= 1.0f;
    CHECK(ok, "train pixels in [0,1]");
    cnn_dataset_free(&tr);
    cnn_dataset_free(&te);

    /* every file decodes to exactly what zcat gives, through both entry points */
    for (f = 0; f < 4; f++) {
        size_t zn = 0, got = 0, hdr;
        unsigned char *z, *gz, *out;
        FILE *fp;
        long fsz;
        cnn_idx r;
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        z = zcat(path, &zn);
        CHECK(z != NULL && zn > 8, "zcat %s", path);
        if (!z) continue;
        fp = fopen(path, "rb");
        fseek(fp, 0, SEEK_END);
        fsz = ftell(fp);
        rewind(fp);
        gz = (unsigned char *)malloc((size_t)fsz);
        CHECK(fread(gz, 1, (size_t)fsz, fp) == (size_t)fsz, "read %s", path);
        fclose(fp);
        out = (unsigned char *)malloc(zn);
        if (f % 2) {                        /* the label files through cnn_gzip_inflate too */
            st = cnn_gzip_inflate(gz, (size_t)fsz, out, zn, &got, &e);
            CHECK(st == CNN_OK && got == zn && memcmp(out, z, zn) == 0,
                  "%s: cnn_gzip_inflate differs from zcat (%s)", files[f], st ? e.msg : "");
        }
        st = cnn_idx_read_file(path, NULL, &r, &e);
        hdr = 4 + 4 * (size_t)(st == CNN_OK ? r.ndims : 0);
        CHECK(st == CNN_OK && r.gzipped && hdr + r.count == zn &&
              memcmp((unsigned char *)r.data, z + hdr, r.count) == 0,
              "%s: cnn_idx_read_file differs from zcat (%s)", files[f], st ? e.msg : "");
        cnn_idx_free(&r);
        free(out);
        free(gz);
        free(z);
    }
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/cnn_test_idx_XXXXXX", t && t[0] ? t : "/tmp");
    if (!mkdtemp(tmpdir)) { printf("test_idx: cannot make %s\n", tmpdir); return 2; }

    test_small();
    test_prefixes();
    test_changes();
    test_headers();
    test_types();
    test_dataset();
    test_files();
    test_bomb();
    test_real();
    CHECK(t_live == 0, "%ld blocks still allocated at exit", t_live);

    remove_file("train-images-idx3-ubyte.gz");
    remove_file("train-labels-idx1-ubyte.gz");
    remove_file("t10k-images-idx3-ubyte");
    remove_file("t10k-labels-idx1-ubyte");
    rmdir(tmpdir);
    return check_done("test_idx");
}
