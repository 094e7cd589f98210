/* fuzz_ckpt.c - libFuzzer harness: the checkpoint reader (cnn__ckpt_parse, what
   cnn_net_train runs on cnn_train_opts.checkpoint before resuming).

   Input: the checkpoint's bytes, then one option byte o0:
     o0 & 1   first rewrite the last 4 bytes with the CRC-32 of the rest, so that mutations
              get past the checksum and reach the fields
     o0 & 2   pass err = NULL
   The checkpoint is read for one fixed small net and fixed options (ckpt_setup below, the
   ones the seed was written with: -DFUZZ_CKPT_SEED builds a program that writes it).

   Invariants: on failure err.status is the returned status and nothing changed: not the
   net's parameters, statistics or Adam moments, not the caller's data order or best-weights
   buffers. On success the progress is consistent (1 <= epoch <= cap, best <= epoch, wait <=
   epoch), the data order holds indices below the training count, the net is finite where
   the file said so. Nothing leaks; no allocation beyond what the input justifies.
     clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all tests/fuzz/fuzz_ckpt.c -lm -o fuzz_ckpt
     cc -std=c99 -O1 -DFUZZ_REPLAY_MAIN tests/fuzz/fuzz_ckpt.c -lm -o replay_ckpt           */
#include "fuzz_common.h"
#include "replay_main.h"

enum { CK_N = 16, CK_NTRAIN = 12 };
static cnn_net *ck_net;
static cnn_train_opts ck_opts;

static void ckpt_setup(void)
{
    cnn_net_desc d;
    cnn_rng r;
    if (ck_net) return;
    cnn_net_desc_init(&d, 1, 6, 6, 3);
    if (cnn_net_desc_parse(&d, "(2, (3,3), (1,1), 'relu', 0.1, 2, 'max')", NULL) || cnn_net_create(&ck_net, &d, NULL)) abort();
    cnn_rng_seed(&r, 1);
    cnn_net_init(ck_net, &r);
    cnn_train_opts_init(&ck_opts);
    ck_opts.epochs = 4; ck_opts.batch = 4; ck_opts.val_split = 0.25; ck_opts.seed = 1;
}

static uint32_t ck_crc(const uint8_t *p, size_t n) { return cnn_crc32(0, p, n); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf, o0;
    size_t n, np, ns, i;
    float *before, *best, *best0;
    uint32_t idx[CK_NTRAIN], idx0[CK_NTRAIN];
    cnn__run run;
    cnn_error e;
    cnn_status st;
    if (size < 1) return 0;
    ckpt_setup();
    o0 = data[size - 1];
    n = size - 1;
    buf = (uint8_t *)malloc(n ? n : 1);
    memcpy(buf, data, n);
    if ((o0 & 1) && n >= 4) {
        uint32_t c = ck_crc(buf, n - 4);
        buf[n - 4] = (uint8_t)c; buf[n - 3] = (uint8_t)(c >> 8); buf[n - 2] = (uint8_t)(c >> 16); buf[n - 1] = (uint8_t)(c >> 24);
    }
    np = cnn_net_param_count(ck_net);
    ns = cnn_net_state_count(ck_net);
    before = (float *)malloc((4 * np + ns) * sizeof(float));
    best = (float *)malloc((np + ns) * sizeof(float));
    best0 = (float *)malloc((np + ns) * sizeof(float));
    memcpy(before, cnn_net_params(ck_net), np * sizeof(float));
    memcpy(before + np, cnn_net_state(ck_net), ns * sizeof(float));
    memcpy(before + np + ns, ck_net->adam_m, np * sizeof(float));
    memcpy(before + 2 * np + ns, ck_net->adam_v, np * sizeof(float));
    for (i = 0; i < np + ns; i++) best[i] = best0[i] = (float)i;
    for (i = 0; i < CK_NTRAIN; i++) idx[i] = idx0[i] = (uint32_t)(CK_NTRAIN - 1 - i);
    memset(&run, 0, sizeof run);
    run.idx = idx; run.best = best;
    fuzz_err_poison(&e);
    fuzz_alloc_begin(n + 65536);
    st = cnn__ckpt_parse(buf, n, "fuzz", ck_net, &ck_opts, CK_N, CK_NTRAIN, &run, (o0 & 2) ? NULL : &e);
    fuzz_alloc_done("cnn__ckpt_parse");
    if (!(o0 & 2)) fuzz_check_err(st, &e, "cnn__ckpt_parse");
    if (st != CNN_OK) {
        FUZZ_CHECK(memcmp(before, cnn_net_params(ck_net), np * sizeof(float)) == 0 &&
                   memcmp(before + np, cnn_net_state(ck_net), ns * sizeof(float)) == 0 &&
                   memcmp(before + np + ns, ck_net->adam_m, np * sizeof(float)) == 0 &&
                   memcmp(before + 2 * np + ns, ck_net->adam_v, np * sizeof(float)) == 0,
                   "a refused checkpoint changed the net (%s)", cnn_status_name(st));
        FUZZ_CHECK(memcmp(idx, idx0, sizeof idx) == 0 && memcmp(best, best0, (np + ns) * sizeof(float)) == 0,
                   "a refused checkpoint changed the caller's buffers (%s)", cnn_status_name(st));
    } else {
        FUZZ_CHECK(run.epoch >= 1 && run.epoch <= ck_opts.epochs && run.best_epoch <= run.epoch && run.wait <= run.epoch,
                   "accepted inconsistent progress: epoch %d best %d wait %d", run.epoch, run.best_epoch, run.wait);
        for (i = 0; i < CK_NTRAIN; i++) FUZZ_CHECK(idx[i] < CK_NTRAIN, "accepted data order entry %u", (unsigned)idx[i]);
        /* put the net back for the next input */
        memcpy(cnn_net_params(ck_net), before, np * sizeof(float));
        memcpy(cnn_net_state(ck_net), before + np, ns * sizeof(float));
        memcpy(ck_net->adam_m, before + np + ns, np * sizeof(float));
        memcpy(ck_net->adam_v, before + 2 * np + ns, np * sizeof(float));
    }
    free(buf); free(before); free(best); free(best0);
    return 0;
}

#ifdef FUZZ_CKPT_SEED
/* writes a real checkpoint of the setup above, after 2 of its 4 epochs, plus the option byte */
static int stop2(const cnn_epoch_info *e, void *u) { (void)u; return e->epoch == 2; }
int main(int argc, char **argv)
{
    float x[CK_N * 36];
    int y[CK_N], i;
    cnn_rng r;
    FILE *f;
    long len;
    unsigned char *b;
    if (argc < 2) return 2;
    ckpt_setup();
    cnn_rng_seed(&r, 2);
    for (i = 0; i < CK_N * 36; i++) x[i] = cnn_rng_uniform(&r);
    for (i = 0; i < CK_N; i++) y[i] = i % 3;
    remove(argv[1]);
    ck_opts.checkpoint = argv[1];
    ck_opts.on_epoch = stop2;
    if (cnn_net_train(ck_net, x, y, CK_N, &ck_opts, NULL, NULL)) return 1;
    f = fopen(argv[1], "rb");               /* append the option byte */
    if (!f) return 1;
    fseek(f, 0, SEEK_END); len = ftell(f); fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)len + 1);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) return 1;
    fclose(f);
    b[len] = 0;
    f = fopen(argv[1], "wb");
    fwrite(b, 1, (size_t)len + 1, f);
    fclose(f);
    free(b);
    return 0;
}
#endif
