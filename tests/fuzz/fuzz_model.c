/* fuzz_model.c - libFuzzer harness: cnn_net_load_mem (model and checkpoint files).

   Input: the file's bytes, then one option byte o0:
     o0 & 1   first rewrite the last 4 bytes with the CRC-32 of the rest, so that mutations
              get past the checksum and reach the architecture and the counts
     o0 & 2   pass err = NULL
     o0 & 4   when the loaded net is small, also run a training step and a forward pass

   Invariants: on failure *out is NULL and err.status is the returned status. On success the
   file re-saves (cnn_net_save_mem) to exactly the same bytes; the net has the layers, shapes
   and parameter counts that the architecture in its header gives by the documented rules
   (fuzz_ref_plan, independent of cnn.h); loading the file's parameters into it again
   (cnn_net_load_params_mem) succeeds and changes nothing; a training step and a forward pass
   run (sanitizers watch them). Loading never asks for more memory in one block than the
   file's size + 64 KiB: parameters come from the file, so a 100-byte file cannot justify
   gigabytes. Nothing leaked.
   -DFUZZ_ALLOW_KNOWN skips inputs whose architecture needs more than that or has a count
   past INT_MAX (the bugs in tests/fuzz/regressions/fuzz_model/), to look for other things.
     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_model.c -lm -o fuzz_model
     cc -std=c99 -O1 -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_model.c -lm -o replay_model        */
#include "fuzz_common.h"
#include "replay_main.h"

/* CRC-32 bit by bit (RFC 1952), independent of cnn.h's */
static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    int k;
    while (n--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The architecture in a model header (cnn.h >>model), read independently; 0 if it cannot be. */
static int read_desc(const uint8_t *p, size_t n, cnn_net_desc *d)
{
    size_t at = 12;
    int b, i;
    uint32_t v[6];
    if (n < 8 + 4 + 24 + 8 || memcmp(p, "CNNHMODL", 8) != 0 || le32(p + 8) != 1) return 0;
    for (i = 0; i < 6; i++, at += 4) if ((v[i] = le32(p + at)) > 0x7FFFFFFFu) return 0;
    if (v[5] > CNN_MAX_BLOCKS || v[4] > 1) return 0;
    cnn_net_desc_init(d, (int)v[0], (int)v[1], (int)v[2], (int)v[3]);
    d->order = (cnn_order)v[4];
    d->nblocks = (int)v[5];
    memcpy(&d->bn_momentum, p + at, 4); at += 4;     /* little-endian host assumed here */
    memcpy(&d->bn_eps, p + at, 4); at += 4;
    if (n - at < (size_t)d->nblocks * 44) return 0;
    for (b = 0; b < d->nblocks; b++, at += 44) {
        cnn_block *k = &d->blocks[b];
        uint32_t f[11];
        for (i = 0; i < 11; i++) if ((f[i] = le32(p + at + 4 * i)) > 0x7FFFFFFFu && i != 7) return 0;
        k->filters = (int)f[0]; k->kernel_h = (int)f[1]; k->kernel_w = (int)f[2];
        k->stride_h = (int)f[3]; k->stride_w = (int)f[4]; k->padding = (cnn_padding)f[5];
        k->act = (cnn_act)f[6]; memcpy(&k->dropout, &f[7], 4); k->pool = (int)f[8];
        k->pool_stride = (int)f[9]; k->pool_type = (cnn_pool_type)f[10];
        if (f[5] > 1 || f[6] > 3 || f[10] > 2) return 0;
    }
    return 1;
}

static void exercise(cnn_net *net, const fuzz_ref_plan *plan)
{
    const cnn_net_desc *d = cnn_net_get_desc(net);
    size_t in = (size_t)d->in_c * d->in_h * d->in_w, i;
    float *x = (float *)malloc(2 * in * sizeof(float));
    const float *logits;
    int y[2] = { 0, 1 }, correct = -1;
    cnn_rng rng;
    cnn_adam adam;
    cnn_error err;
    cnn_status st;
    (void)plan;
    if (!x) abort();
    for (i = 0; i < 2 * in; i++) x[i] = (float)(i % 7) / 7.0f;
    fuzz_err_poison(&err);
    st = cnn_net_reserve(net, 2, &err);
    fuzz_check_err(st, &err, "net_reserve");
    FUZZ_CHECK(st == CNN_OK, "reserve(2) on a small net: %s", err.msg);
    cnn_rng_seed(&rng, 1);
    cnn_adam_init(&adam);
    cnn_net_set_training(net, 1, &rng);
    cnn_net_train_step(net, &adam, x, y, 2, &correct);
    FUZZ_CHECK(correct >= 0 && correct <= 2, "train step: %d correct of 2", correct);
    cnn_net_set_training(net, 0, NULL);
    logits = cnn_net_forward(net, x, 1);
    FUZZ_CHECK(logits != NULL, "forward returned NULL");
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned o0 = fuzz_take(&size, data);
    uint8_t *file = (uint8_t *)malloc(size ? size : 1), *again;
    cnn_error err, *errp = (o0 & 2) ? NULL : &err;
    cnn_net *net = (cnn_net *)&err;              /* anything but NULL: the loader must set it */
    cnn_net_desc hd;
    fuzz_ref_plan plan;
    cnn_status st;
    size_t n;

    if (!file) abort();
    if (size) memcpy(file, data, size);
    if ((o0 & 1) && size >= 4) {
        uint32_t c = ref_crc32(file, size - 4);
        file[size - 4] = (uint8_t)c; file[size - 3] = (uint8_t)(c >> 8);
        file[size - 2] = (uint8_t)(c >> 16); file[size - 1] = (uint8_t)(c >> 24);
    }
#ifdef FUZZ_ALLOW_KNOWN
    if (read_desc(file, size, &hd)) {
        fuzz_ref_plan_make(&hd, &plan);
        if (plan.largest_int > INT_MAX || (plan.want == CNN_OK && plan.params * 4 > (double)size + 65536)) {
            free(file);
            return 0;
        }
    }
#endif

    fuzz_err_poison(&err);
    fuzz_alloc_begin(size + 65536);
    st = cnn_net_load_mem(&net, file, size, errp);
    if (errp) fuzz_check_err(st, &err, "net_load_mem");
    if (st != CNN_OK) {
        FUZZ_CHECK(net == NULL, "*out is not NULL after %s", cnn_status_name(st));
        fuzz_alloc_done("net_load_mem");
        free(file);
        return 0;
    }
    FUZZ_CHECK(net != NULL, "success without a net");

    /* the same bytes back */
    n = cnn_net_save_size(net);
    FUZZ_CHECK(n == size, "loaded a %zu-byte file, cnn_net_save_size says %zu", size, n);
    again = (uint8_t *)malloc(n ? n : 1);
    if (!again) abort();
    fuzz_err_poison(&err);
    st = cnn_net_save_mem(net, again, n, &err);
    fuzz_check_err(st, &err, "net_save_mem");
    FUZZ_CHECK(st == CNN_OK && memcmp(again, file, size) == 0, "re-saving gives different bytes (%s)", err.msg);

    /* the architecture by the documented rules */
    FUZZ_CHECK(read_desc(file, size, &hd), "loaded a file whose header the reference cannot read");
    fuzz_ref_plan_make(&hd, &plan);
    FUZZ_CHECK(plan.want == CNN_OK, "loaded an architecture that does not fit: %s at block %d",
               cnn_status_name(plan.want), plan.bad_block);
    fuzz_check_net_plan(net, &plan);

    /* its own parameters again: accepted, nothing changes */
    fuzz_err_poison(&err);
    st = cnn_net_load_params_mem(net, file, size, &err);
    fuzz_check_err(st, &err, "net_load_params_mem");
    FUZZ_CHECK(st == CNN_OK, "the file's parameters do not load into its own net: %s", err.msg);
    st = cnn_net_save_mem(net, again, n, &err);
    FUZZ_CHECK(st == CNN_OK && memcmp(again, file, size) == 0, "load_params_mem changed the net");
    free(again);

    fuzz_alloc_cap = (size_t)-1;                   /* activations may outgrow the file */
    if ((o0 & 4) && plan.params <= 1e6 && fuzz_plan_work(&plan) <= 4e6) exercise(net, &plan);
    cnn_net_free(net);
    fuzz_alloc_done("net_load_mem");
    free(file);
    return 0;
}
