/* make_corpus.c - writes the seed corpora that need cnn.h itself: one model file per layer
   type and option (made with cnn_net_save_mem) for fuzz_model, and every spec string of the
   study plus malformed ones for fuzz_spec. tests/fuzz/make_corpus.sh runs it:
     cc -std=c99 -O1 tests/fuzz/make_corpus.c -lm -o make_corpus && ./make_corpus tests/fuzz/corpus
   Each seed ends with the harness's option bytes (see the top of fuzz_model.c, fuzz_spec.c). */
#define CNN_IMPLEMENTATION
#include "../../cnn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_dir;
static int written;

static void write_seed(const char *harness, const char *name, const void *data, size_t n,
                       const unsigned char *opts, size_t nopts)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fwrite(opts, 1, nopts, f) != nopts || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
    written++;
}

/* A small net, initialised, with batch-norm statistics that are not the defaults, saved. */
static void model(const char *name, int c, int h, int w, int classes, cnn_order order,
                  const char *spec, void (*tweak)(cnn_net_desc *), unsigned char opt)
{
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_error err;
    cnn_rng r;
    unsigned char *buf;
    size_t n, i;
    cnn_net_desc_init(&d, c, h, w, classes);
    d.order = order;
    if ((spec && cnn_net_desc_parse(&d, spec, &err)) || (tweak && (tweak(&d), 0)) ||
        cnn_net_create(&net, &d, &err)) {
        fprintf(stderr, "make_corpus: %s: %s\n", name, err.msg);
        exit(1);
    }
    cnn_rng_seed(&r, 7);
    cnn_net_init(net, &r);
    for (i = 0; i < cnn_net_state_count(net); i++) cnn_net_state(net)[i] = 0.25f + cnn_rng_uniform(&r);
    n = cnn_net_save_size(net);
    if (!(buf = (unsigned char *)malloc(n)) || cnn_net_save_mem(net, buf, n, &err)) {
        fprintf(stderr, "make_corpus: %s: cannot save\n", name);
        exit(1);
    }
    write_seed("fuzz_model", name, buf, n, &opt, 1);
    free(buf);
    cnn_net_free(net);
}

static void same_padding(cnn_net_desc *d) { d->blocks[0].padding = CNN_PAD_SAME; }
static void linear_act(cnn_net_desc *d) { d->blocks[0].act = CNN_ACT_LINEAR; }
static void overlap_pool(cnn_net_desc *d) { d->blocks[0].pool_stride = 2; }

static void spec(const char *name, const char *text, int c, int h, int w, int classes, unsigned o0)
{
    /* options in file order o5 .. o0: format buffer, classes, width-1, height-1, channels-1, flags */
    unsigned char opts[6];
    opts[0] = 48;
    opts[1] = (unsigned char)classes;
    opts[2] = (unsigned char)(w - 1);
    opts[3] = (unsigned char)(h - 1);
    opts[4] = (unsigned char)(c - 1);
    opts[5] = (unsigned char)o0;
    write_seed("fuzz_spec", name, text, strlen(text), opts, sizeof opts);
}

int main(int argc, char **argv)
{
    static const struct { const char *name, *text; } bad[] = {
        { "bad_empty", "" },
        { "bad_blank", " \t\r\n" },
        { "bad_open", "(" },
        { "bad_no_comma", "(64 (3,3), (1,1), 'relu', 0.2, 2, 'max')" },
        { "bad_kernel_int", "(64, 3, (1,1), 'relu', 0.2, 2, 'max')" },
        { "bad_unclosed", "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max'" },
        { "bad_gelu", "(64, (3,3), (1,1), 'gelu', 0.2, 2, 'max')" },
        { "bad_mean", "(64, (3,3), (1,1), 'relu', 0.2, 2, 'mean')" },
        { "bad_quotes", "(64, (3,3), (1,1), 'relu\", 0.2, 2, 'max')" },
        { "bad_rate_1.5", "(64, (3,3), (1,1), 'relu', 1.5, 2, 'max')" },
        { "bad_rate_1", "(64, (3,3), (1,1), 'relu', 1, 2, 'max')" },
        { "bad_rate_neg", "(64, (3,3), (1,1), 'relu', -0.2, 2, 'max')" },
        { "bad_rate_long", "(64, (3,3), (1,1), 'relu', 0.1234567890123, 2, 'max')" },
        { "bad_zero_filters", "(0, (3,3), (1,1), 'relu', 0.2, 2, 'max')" },
        { "bad_zero_kernel", "(64, (3,0), (1,1), 'relu', 0.2, 2, 'max')" },
        { "bad_zero_pool", "(64, (3,3), (1,1), 'relu', 0.2, 0, 'max')" },
        { "bad_trailing", "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max') x" },
        { "bad_comma_between", "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max'), (32, (2,2), (1,1), 'relu', 0.2, 2, 'max')" },
        { "bad_digits", "(9999999, (3,3), (1,1), 'relu', 0.2, 2, 'max')" },
        { "bad_control", "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max')\x01" },
        { "bad_high_byte", "(64, (3,3), (1,1), 're\xc3\xa9lu', 0.2, 2, 'max')" },
        { "bad_upper", "(64, (3,3), (1,1), 'RELU', 0.2, 2, 'max')" },
        { "ok_double_quotes", "(64, (3,3), (1,1), \"relu\", 0.2, 2, \"max\")" },
        { "ok_whitespace", "\t( 64 ,\n(3 , 3) ,(1,1),'tanh' , .5 ,2,'average' ) \r\n" },
        { "ok_rate_forms", "(1,(1,1),(1,1),'sigmoid',0.,1,'min') (1,(1,1),(1,1),'relu',.25,1,'max')" },
        { "fit_kernel_too_big", "(64, (30,30), (1,1), 'relu', 0.2, 2, 'max')" },
        { "fit_pool_too_big", "(64, (3,3), (1,1), 'relu', 0.2, 27, 'max')" },
        { "fit_third_block", "(8, (3,3), (2,2), 'relu', 0, 2, 'max') (8, (3,3), (2,2), 'relu', 0, 2, 'max') "
                             "(8, (3,3), (1,1), 'relu', 0, 2, 'max')" },
    };
    char text[4096], name[64];
    int m, i;
    size_t k;
    if (argc != 2) { fprintf(stderr, "usage: make_corpus OUT_DIR\n"); return 2; }
    out_dir = argv[1];

    /* models: options 5 = fix the CRC + run a training step, 4 = as saved + step, 2 = err NULL */
    model("dense_only", 1, 4, 4, 3, CNN_ORDER_CONV_BN_ACT, NULL, NULL, 5);
    model("conv_bn_relu", 1, 6, 6, 3, CNN_ORDER_CONV_BN_ACT, "(2, (3,3), (1,1), 'relu', 0, 1, 'max')", NULL, 4);
    model("conv_act_bn", 1, 6, 6, 3, CNN_ORDER_CONV_ACT_BN, "(2, (3,3), (1,1), 'relu', 0, 1, 'max')", NULL, 5);
    model("act_sigmoid", 2, 5, 5, 2, CNN_ORDER_CONV_BN_ACT, "(2, (2,2), (1,1), 'sigmoid', 0, 1, 'max')", NULL, 5);
    model("act_tanh", 1, 5, 7, 2, CNN_ORDER_CONV_BN_ACT, "(3, (2,3), (1,2), 'tanh', 0, 1, 'max')", NULL, 5);
    model("act_linear", 1, 5, 5, 2, CNN_ORDER_CONV_BN_ACT, "(2, (2,2), (1,1), 'relu', 0, 1, 'max')", linear_act, 5);
    model("pool_max", 1, 7, 7, 3, CNN_ORDER_CONV_BN_ACT, "(2, (2,2), (1,1), 'relu', 0, 2, 'max')", NULL, 5);
    model("pool_min", 1, 7, 7, 3, CNN_ORDER_CONV_BN_ACT, "(2, (2,2), (1,1), 'relu', 0, 2, 'min')", NULL, 5);
    model("pool_average", 1, 7, 7, 3, CNN_ORDER_CONV_BN_ACT, "(2, (2,2), (1,1), 'relu', 0, 3, 'average')", NULL, 5);
    model("pool_overlap", 1, 8, 8, 3, CNN_ORDER_CONV_BN_ACT, "(2, (2,2), (1,1), 'relu', 0, 3, 'max')", overlap_pool, 5);
    model("dropout", 1, 6, 6, 3, CNN_ORDER_CONV_BN_ACT, "(2, (3,3), (1,1), 'relu', 0.5, 1, 'max')", NULL, 5);
    model("same_padding", 1, 5, 5, 2, CNN_ORDER_CONV_BN_ACT, "(2, (3,3), (2,2), 'relu', 0, 1, 'max')", same_padding, 5);
    model("two_blocks", 1, 12, 12, 10, CNN_ORDER_CONV_BN_ACT,
          "(4, (3,3), (1,1), 'relu', 0.2, 2, 'max') (2, (2,2), (1,1), 'relu', 0.2, 2, 'max')", NULL, 5);
    model("two_blocks_err_null", 1, 12, 12, 10, CNN_ORDER_CONV_ACT_BN,
          "(4, (3,3), (1,1), 'relu', 0.2, 2, 'max') (2, (2,2), (1,1), 'relu', 0.2, 2, 'average')", NULL, 2);

    /* specs: every row of the study on its 1x28x28 input, 10 classes, room for 16 blocks */
    for (m = 1; m <= CNN_STUDY_MODELS; m++) {
        snprintf(name, sizeof name, "study_m%02d", m);
        spec(name, cnn_study_row_get(m)->spec, 1, 28, 28, 10, 15);
    }
    spec("study_m01_same_actbn", cnn_study_row_get(1)->spec, 1, 28, 28, 10, 15 | 0x10 | 0x20);
    spec("study_m01_overlap", cnn_study_row_get(1)->spec, 1, 28, 28, 10, 15 | 0x80);
    spec("study_m01_one_block_room", cnn_study_row_get(1)->spec, 1, 28, 28, 10, 0);
    spec("study_m20_small_input", cnn_study_row_get(20)->spec, 3, 9, 9, 2, 15 | 0x40);
    spec("study_m01_one_class", cnn_study_row_get(1)->spec, 1, 28, 28, 1, 15);
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) spec(bad[k].name, bad[k].text, 1, 28, 28, 10, 15);
    text[0] = 0;                                   /* 16 blocks: the most; 17: one too many */
    for (i = 0; i < 16; i++) strcat(text, "(1, (1,1), (1,1), 'relu', 0, 1, 'max') ");
    spec("ok_16_blocks", text, 1, 28, 28, 10, 15);
    strcat(text, "(1, (1,1), (1,1), 'relu', 0, 1, 'max')");
    spec("bad_17_blocks", text, 1, 28, 28, 10, 15);
    printf("make_corpus: %d seeds written\n", written);
    return 0;
}
