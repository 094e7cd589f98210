/* fuzz_spec.c - libFuzzer harness: cnn_spec_parse, cnn_spec_format and the shape inference
   of cnn_net_create on the parsed blocks.

   Input: spec text (up to the first NUL), then six option bytes (the last byte is o0):
     o0 & 15     max_blocks - 1 (the blocks array has exactly max_blocks entries)
     o0 & 0x10   'same' padding in every block (the C API offers it; the notation does not)
     o0 & 0x20   order conv -> act -> bn
     o0 & 0x40   parse with err = NULL
     o0 & 0x80   pool stride 1 in every block (overlapping windows)
     o1 & 15     input channels - 1        o2, o3   input height - 1, width - 1
     o4 & 15     classes (0 and 1 are refused)   o5   the buffer size given to cnn_spec_format

   Invariants: parse failure is CNN_ERR_SPEC with no blocks and a message "spec: byte N: ..."
   with N inside the text; success gives 1..max_blocks blocks whose every field is in its
   documented range; cnn_spec_format returns the same length whatever the buffer, writes a
   NUL-terminated prefix into a small one, and its text parses back to the same blocks;
   cnn_net_create on those blocks and the chosen input succeeds or fails exactly as the
   documented shape rules say (fuzz_ref_plan), with the status and the block named, and on
   success has the planned layers, shapes and parameter counts; allocations within what the
   plan needs; nothing leaked.
   -DFUZZ_ALLOW_KNOWN skips the four known problems with dropout rates (see
   tests/fuzz/regressions/fuzz_spec/), to look for other things.
     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_spec.c -lm -o fuzz_spec
     cc -std=c99 -O1 -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_spec.c -lm -o replay_spec          */
#include "fuzz_common.h"
#include "replay_main.h"

static void check_block(const cnn_block *b, int i)
{
    FUZZ_CHECK(b->filters >= 1 && b->filters <= 999999 && b->kernel_h >= 1 && b->kernel_w >= 1 &&
               b->stride_h >= 1 && b->stride_w >= 1 && b->pool >= 1 && b->pool_stride == 0 &&
               b->padding == CNN_PAD_VALID, "block %d: filters %d kernel %dx%d stride %dx%d pool %d/%d "
               "padding %d", i, b->filters, b->kernel_h, b->kernel_w, b->stride_h, b->stride_w, b->pool,
               b->pool_stride, (int)b->padding);
    FUZZ_CHECK((int)b->act >= 0 && (int)b->act <= 2 && (int)b->pool_type >= 0 && (int)b->pool_type <= 2,
               "block %d: activation %d, pool type %d", i, (int)b->act, (int)b->pool_type);
    FUZZ_CHECK(b->dropout >= 0.0f && b->dropout < 1.0f, "block %d: dropout %.9g is outside [0,1)", i,
               (double)b->dropout);
}

static int same_blocks(const cnn_block *a, const cnn_block *b, int exact_dropout)
{
    return a->filters == b->filters && a->kernel_h == b->kernel_h && a->kernel_w == b->kernel_w &&
           a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->padding == b->padding &&
           a->act == b->act && a->pool == b->pool && a->pool_stride == b->pool_stride &&
           a->pool_type == b->pool_type &&
           (exact_dropout ? a->dropout == b->dropout : (double)a->dropout - b->dropout < 1e-6 &&
                                                        (double)b->dropout - a->dropout < 1e-6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned o0 = fuzz_take(&size, data), o1 = fuzz_take(&size, data), o2 = fuzz_take(&size, data);
    unsigned o3 = fuzz_take(&size, data), o4 = fuzz_take(&size, data), o5 = fuzz_take(&size, data);
    int max_blocks = 1 + (int)(o0 & 15), n = -7, n2 = -7, i, exact = 1;
    char *text = (char *)malloc(size + 1), *full, *small;
    cnn_block *blocks = (cnn_block *)malloc((size_t)max_blocks * sizeof *blocks);
    cnn_block again[CNN_MAX_BLOCKS];
    cnn_error err, *errp = (o0 & 0x40) ? NULL : &err;
    cnn_net_desc d;
    cnn_net *net = (cnn_net *)&err;
    fuzz_ref_plan plan;
    cnn_status st;
    size_t len, len2, at = 0, cap = o5;

    if (!text || !blocks) abort();
    if (size) memcpy(text, data, size);
    text[size] = 0;
    len = strlen(text);

    fuzz_err_poison(&err);
    fuzz_alloc_begin(0);                           /* the parser allocates nothing */
    st = cnn_spec_parse(text, blocks, max_blocks, &n, errp);
    fuzz_alloc_done("spec_parse");
    if (errp) fuzz_check_err(st, &err, "spec_parse");
    if (st != CNN_OK) {
        FUZZ_CHECK(st == CNN_ERR_SPEC && n == 0, "parse failure: %s with %d blocks", cnn_status_name(st), n);
        if (errp)
            FUZZ_CHECK(sscanf(err.msg, "spec: byte %zu:", &at) == 1 && at <= len,
                       "message '%s' does not name a byte of the %zu-byte text", err.msg, len);
        goto done;
    }
    FUZZ_CHECK(n >= 1 && n <= max_blocks, "%d blocks parsed with room for %d", n, max_blocks);
#ifdef FUZZ_ALLOW_KNOWN
    for (i = 0; i < n; i++)        /* a rate 1.0f accepted; %g prints 1e-05 and 0.9999999 as 1 */
        if (!(blocks[i].dropout <= 0.999999f) || (blocks[i].dropout > 0.0f && blocks[i].dropout < 1e-4f)) goto done;
    exact = 0;                                     /* %g keeps 6 digits of the rate */
#endif
    for (i = 0; i < n; i++) check_block(&blocks[i], i + 1);

    /* printed back: one length whatever the buffer, a NUL-terminated prefix, parses again */
    len = cnn_spec_format(blocks, n, NULL, 0);
    if (!(full = (char *)malloc(len + 1))) abort();
    len2 = cnn_spec_format(blocks, n, full, len + 1);
    FUZZ_CHECK(len2 == len && strlen(full) == len, "format: %zu, then %zu and %zu written", len, len2, strlen(full));
    small = cap ? (char *)malloc(cap) : NULL;
    if (cap && !small) abort();
    len2 = cnn_spec_format(blocks, n, small, cap);
    FUZZ_CHECK(len2 == len, "format into %zu bytes returns %zu, not %zu", cap, len2, len);
    if (cap) FUZZ_CHECK(strlen(small) == (len < cap ? len : cap - 1) && memcmp(small, full, strlen(small)) == 0,
                        "format into %zu bytes wrote '%s'", cap, small);
    free(small);
    fuzz_err_poison(&err);
    st = cnn_spec_parse(full, again, CNN_MAX_BLOCKS, &n2, &err);
    FUZZ_CHECK(st == CNN_OK && n2 == n, "the printed spec '%s' does not parse back: %s", full, err.msg);
    for (i = 0; i < n; i++)
        FUZZ_CHECK(same_blocks(&blocks[i], &again[i], exact), "block %d changes when printed and parsed "
                   "again: '%s' (dropout %.9g, then %.9g)", i + 1, full, (double)blocks[i].dropout,
                   (double)again[i].dropout);
    free(full);

    /* shape inference on the blocks, with the input chosen by the options */
    cnn_net_desc_init(&d, 1 + (int)(o1 & 15), 1 + (int)o2, 1 + (int)o3, (int)(o4 & 15));
    d.nblocks = n;
    memcpy(d.blocks, blocks, (size_t)n * sizeof *blocks);
    for (i = 0; i < n; i++) {
        if (o0 & 0x10) d.blocks[i].padding = CNN_PAD_SAME;
        if (o0 & 0x80) d.blocks[i].pool_stride = 1;
    }
    if (o0 & 0x20) d.order = CNN_ORDER_CONV_ACT_BN;
    fuzz_ref_plan_make(&d, &plan);
    if (plan.want == CNN_OK && plan.params > 2e6) goto done;    /* valid, but too big to build often */
    fuzz_err_poison(&err);
    fuzz_alloc_begin(plan.want == CNN_OK ? (size_t)plan.params * 4 + 65536 : 65536);
    st = cnn_net_create(&net, &d, &err);
    fuzz_check_err(st, &err, "net_create");
    FUZZ_CHECK(st == plan.want, "net_create: %s (%s); the shape rules say %s at block %d", cnn_status_name(st),
               err.msg, cnn_status_name(plan.want), plan.bad_block);
    if (st == CNN_OK) {
        fuzz_check_net_plan(net, &plan);
        cnn_net_free(net);
    } else {
        char name[32];
        FUZZ_CHECK(net == NULL, "net_create failed and left *out set");
        snprintf(name, sizeof name, "block %d", plan.bad_block);
        if (plan.bad_block) FUZZ_CHECK(strstr(err.msg, name) != NULL, "message '%s' does not name %s", err.msg, name);
    }
    fuzz_alloc_done("net_create");
done:
    free(text);
    free(blocks);
    return 0;
}
