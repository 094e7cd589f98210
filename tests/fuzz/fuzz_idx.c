/* fuzz_idx.c - libFuzzer harness: cnn_idx_read_mem on plain (not gzip) IDX bytes, checked
   against an independent reading of the format (fuzz_ref_idx in fuzz_common.h).

   Input: IDX bytes, then two option bytes (the last byte is o0):
     o0 & 3      limits: 0 NULL, 1 all fields 0 (defaults), 2 max_bytes = (o1+1) << s,
                 3 max_dim = (o1+1) << s, where s = (o0 >> 2) & 15
     o0 & 0x40   pass err = NULL
   Inputs that start with 1f (gzip) are left to fuzz_idx_any.

   Invariants: success exactly when the reference says the bytes are a complete IDX file
   within the limits, with the type, dims, count and every element (in host order) of the
   file; the status the format decides (not IDX, type, dims, truncated, trailing, limit);
   on failure the output is all zero; err.status is the returned status and msg is set; no
   allocation beyond the input's size (+64 KiB), nothing leaked.
     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_idx.c -lm -o fuzz_idx
     cc -std=c99 -O1 -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_idx.c -lm -o replay_idx            */
#include "fuzz_common.h"
#include "replay_main.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned o0 = fuzz_take(&size, data), o1 = fuzz_take(&size, data);
    unsigned shift = (o0 >> 2) & 15;
    cnn_limits lim, eff = cnn_limits_default();
    const cnn_limits *limp = &lim;
    cnn_error err, *errp = (o0 & 0x40) ? NULL : &err;
    cnn_idx out;
    fuzz_idx_ref ref;
    cnn_status st;

    if (size >= 1 && data[0] == 0x1F) return 0;       /* gzip: fuzz_idx_any's job */
    memset(&lim, 0, sizeof lim);
    switch (o0 & 3) {
    case 0: limp = NULL; break;
    case 1: break;
    case 2: lim.max_bytes = eff.max_bytes = (size_t)(o1 + 1) << shift; break;
    default: lim.max_dim = eff.max_dim = (size_t)(o1 + 1) << shift; break;
    }
    fuzz_ref_idx(data, size, eff.max_bytes, eff.max_dim, &ref);

    fuzz_err_poison(&err);
    memset(&out, 0x5A, sizeof out);
    fuzz_alloc_begin(size + 65536);
    st = cnn_idx_read_mem(data, size, limp, &out, errp);
    if (errp) fuzz_check_err(st, &err, "idx_read_mem");

    fuzz_check_idx_result(st, &out, &ref, data, size, errp ? err.msg : "");
    if (st == CNN_OK) FUZZ_CHECK(out.gzipped == 0, "plain bytes reported as gzipped");
    cnn_idx_free(&out);
    FUZZ_CHECK(fuzz_idx_zeroed(&out), "cnn_idx_free left fields set");
    fuzz_alloc_done("idx_read_mem");
    return 0;
}
