/* fuzz_idx_any.c - libFuzzer harness: cnn_idx_read_mem on anything, plain IDX or gzip (the
   combined path that cnn_idx_read_file and the data set loaders take).

   Input: the file's bytes, then two option bytes (the last byte is o0):
     o0 & 3      limits: 0 NULL, 1 all fields 0 (defaults), 2 max_bytes = (o1+1) << s,
                 3 max_dim = (o1+1) << s, where s = (o0 >> 2) & 15
     o0 & 0x40   pass err = NULL
   For gzip input the default max_bytes (1 GiB) becomes 16 MiB, so that one 40-byte input
   cannot make every run allocate a gigabyte; the rule is the same.

   Invariants: plain input as in fuzz_idx (against the reference reading of the format).
   gzip input is read the same way as its decoded bytes: cnn_gzip_inflate decodes it
   separately, and then success exactly when those bytes are a valid IDX file within the
   limits, with the same elements, gzipped = 1, and the status the format decides; a stream
   that does not decode is refused. Always: err.status is the returned status, the output is
   all zero on failure, no allocation beyond max_bytes + header + the decoder state (plain:
   the input's size + 64 KiB), nothing leaked.
     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_idx_any.c -lm -o fuzz_idx_any
     cc -std=c99 -O1 -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_idx_any.c -lm -o replay_idx_any     */
#include "fuzz_common.h"
#include "replay_main.h"

#define GZ_DEFAULT_MAX ((size_t)16 << 20)
#define GZ_CHECK_MAX   ((size_t)1 << 20)    /* the separate decode's buffer, at most */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned o0 = fuzz_take(&size, data), o1 = fuzz_take(&size, data);
    unsigned shift = (o0 >> 2) & 15;
    int gz = size >= 1 && data[0] == 0x1F && (size == 1 || data[1] == 0x8B);
    cnn_limits lim, eff = cnn_limits_default();
    const cnn_limits *limp = &lim;
    cnn_error err, *errp = (o0 & 0x40) ? NULL : &err;
    const char *msg;
    cnn_idx out;
    fuzz_idx_ref ref;
    cnn_status st, gst = CNN_OK;
    uint8_t *plain = NULL;
    size_t plain_n = 0, plain_cap = 0;

    memset(&lim, 0, sizeof lim);
    switch (o0 & 3) {
    case 0: limp = NULL; break;
    case 1: break;
    case 2: lim.max_bytes = eff.max_bytes = (size_t)(o1 + 1) << shift; break;
    default: lim.max_dim = eff.max_dim = (size_t)(o1 + 1) << shift; break;
    }
    if (gz && eff.max_bytes > GZ_DEFAULT_MAX) {
        limp = &lim;
        lim.max_bytes = eff.max_bytes = GZ_DEFAULT_MAX;
    }

    if (gz) {   /* decode separately first: what the IDX reader must make of it */
        plain_cap = eff.max_bytes + 4 + 4 * 8 + 1;            /* one more than can be valid */
        if (plain_cap > GZ_CHECK_MAX) plain_cap = GZ_CHECK_MAX;
        if (!(plain = (uint8_t *)malloc(plain_cap))) abort();
        fuzz_alloc_begin(65536);
        gst = cnn_gzip_inflate(data, size, plain, plain_cap, &plain_n, NULL);
        fuzz_alloc_done("gzip_inflate");
        fuzz_ref_idx(plain, plain_n, eff.max_bytes, eff.max_dim, &ref);
    } else {
        fuzz_ref_idx(data, size, eff.max_bytes, eff.max_dim, &ref);
    }

    fuzz_err_poison(&err);
    memset(&out, 0x5A, sizeof out);
    fuzz_alloc_begin(gz ? eff.max_bytes + 4 + 4 * 8 + 65536 : size + 65536);
    st = cnn_idx_read_mem(data, size, limp, &out, errp);
    if (errp) fuzz_check_err(st, &err, "idx_read_mem");
    msg = errp ? err.msg : "";

    if (!gz) {
        fuzz_check_idx_result(st, &out, &ref, data, size, msg);
        if (st == CNN_OK) FUZZ_CHECK(out.gzipped == 0, "plain bytes reported as gzipped");
    } else if (gst == CNN_OK) {
        fuzz_check_idx_result(st, &out, &ref, plain, plain_n, msg);
        if (st == CNN_OK) FUZZ_CHECK(out.gzipped == 1, "gzip input not reported as gzipped");
    } else {
        /* the stream does not decode, or decodes to more than any valid file (when the
           buffer had room for that): refused either way */
        if (gst != CNN_ERR_LIMIT || plain_cap == eff.max_bytes + 4 + 4 * 8 + 1)
            FUZZ_CHECK(st != CNN_OK, "gzip data that cnn_gzip_inflate refuses (%s) was read as "
                       "IDX", cnn_status_name(gst));
        if (st != CNN_OK) FUZZ_CHECK(fuzz_idx_zeroed(&out), "output not zeroed after %s", cnn_status_name(st));
    }
    cnn_idx_free(&out);
    fuzz_alloc_done("idx_read_mem");
    free(plain);
    return 0;
}
