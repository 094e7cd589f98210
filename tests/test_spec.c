/* test_spec.c - the study's notation: all 22 rows parse, print back verbatim, build nets of the
   right shapes; malformed text and blocks that do not fit fail with the documented messages.
   cc -std=c99 -O2 tests/test_spec.c -lm */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "check.h"
#include <string.h>

/* feature map (H, W, C) before flatten, worked out by hand from the 'valid' rule
   out = floor((in - k)/stride) + 1 and pool floor((in - p)/p) + 1 */
static const int want_shape[22][3] = {
    {6, 6, 32}, {6, 6, 32}, {6, 6, 32}, {6, 6, 32},   /*  1-4: 28 -3-> 26 -/2-> 13 -2-> 12 -/2-> 6 */
    {6, 6, 32},                                       /*  5: 27 -> 13 -> 12 -> 6  */
    {5, 5, 32},                                       /*  6: 24 -> 12 -> 11 -> 5  */
    {5, 5, 32},                                       /*  7: 22 -> 11 -> 10 -> 5  */
    {6, 6, 32}, {6, 6, 32},                           /*  8-9 activations         */
    {2, 2, 32},                                       /* 10: 13 -> 6 -> 5 -> 2     */
    {1, 1, 32},                                       /* 11: 6 -> 3 -> 2 -> 1      */
    {6, 6, 32}, {6, 6, 32}, {6, 6, 32}, {6, 6, 32},   /* 12-15 dropout             */
    {12, 12, 32},                                     /* 16: 26 -> 25 -> 12        */
    {2, 2, 32},                                       /* 17: 26 -/5-> 5 -> 4 -> 2  */
    {6, 6, 32}, {6, 6, 32},                           /* 18-19 pool type           */
    {6, 6, 16}, {6, 6, 16},                           /* 20-21 16 filters          */
    {13, 13, 64},                                     /* 22: one block             */
};

static void test_study_rows(void)
{
    int m;
    for (m = 1; m <= CNN_STUDY_MODELS; m++) {
        const cnn_study_row *row = cnn_study_row_get(m);
        cnn_net_desc d;
        cnn_error err;
        cnn_net *net = NULL;
        char text[512];
        int c, h, w;
        CHECK(row && row->model == m, "model %d missing", m);
        if (!row) continue;
        CHECK(cnn_study_desc(&d, m, &err) == CNN_OK, "model %d: %s", m, err.msg);
        CHECK(d.nblocks == (m == 22 ? 1 : 2), "model %d: %d blocks", m, d.nblocks);
        CHECK(cnn_spec_format(d.blocks, d.nblocks, text, sizeof text) == strlen(row->spec) && strcmp(text, row->spec) == 0,
              "model %d prints back as\n  %s\ninstead of\n  %s", m, text, row->spec);
        CHECK(cnn_net_create(&net, &d, &err) == CNN_OK, "model %d: %s", m, err.msg);
        if (!net) continue;
        cnn_net_feature_shape(net, &c, &h, &w);
        CHECK(h == want_shape[m - 1][0] && w == want_shape[m - 1][1] && c == want_shape[m - 1][2],
              "model %d ends in %dx%dx%d before the dense layer, expected %dx%dx%d", m, h, w, c,
              want_shape[m - 1][0], want_shape[m - 1][1], want_shape[m - 1][2]);
        cnn_net_free(net);
    }
    CHECK(cnn_study_row_get(0) == NULL && cnn_study_row_get(23) == NULL, "rows outside 1..22 exist");
    {
        cnn_net_desc d;
        cnn_error err;
        CHECK(cnn_study_desc(&d, 23, &err) == CNN_ERR_ARG && strstr(err.msg, "model 23"), "model 23: %s", err.msg);
    }
}

static void test_base_model_counts(void)
{
    /* Keras' summary of the base model: conv 640, conv 8224, dense 11530, batch norm 2x64 and
       2x32 trainable (gamma, beta) plus as many running statistics */
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_layer_info li;
    int i;
    char order[256] = "";
    cnn_study_desc(&d, 1, NULL);
    CHECK(cnn_net_create(&net, &d, NULL) == CNN_OK, "base model");
    if (!net) return;
    CHECK(cnn_net_param_count(net) == 640 + 128 + 8224 + 64 + 11530, "base model: %zu trainable parameters, Keras has 20586",
          cnn_net_param_count(net));
    CHECK(cnn_net_state_count(net) == 128 + 64, "base model: %zu running statistics", cnn_net_state_count(net));
    for (i = 0; i < cnn_net_layer_count(net); i++) {
        cnn_net_layer_get(net, i, &li);
        strcat(order, li.text);
        strcat(order, i + 1 < cnn_net_layer_count(net) ? ", " : "");
    }
    CHECK(strcmp(order, "conv 64 3x3 /1x1 valid, batchnorm, relu, pool max 2 /2, dropout 0.2, conv 32 2x2 /1x1 valid, "
                        "batchnorm, relu, pool max 2 /2, dropout 0.2, dense 10") == 0, "base model layers: %s", order);
    cnn_net_free(net);
    d.order = CNN_ORDER_CONV_ACT_BN;
    CHECK(cnn_net_create(&net, &d, NULL) == CNN_OK, "base model, conv-act-bn");
    if (!net) return;
    cnn_net_layer_get(net, 1, &li);
    CHECK(li.kind == CNN_LAYER_ACT, "conv-act-bn: layer 2 is %s", li.text);
    cnn_net_layer_get(net, 2, &li);
    CHECK(li.kind == CNN_LAYER_BATCHNORM, "conv-act-bn: layer 3 is %s", li.text);
    cnn_net_free(net);
}

static void accepts(const char *text, int nblocks)
{
    cnn_block b[4];
    int n = -1;
    cnn_error err;
    cnn_status st = cnn_spec_parse(text, b, 4, &n, &err);
    CHECK(st == CNN_OK && n == nblocks, "refused \"%s\": %s", text, st ? err.msg : "wrong block count");
}

/* status CNN_ERR_SPEC and a message containing `want` */
static void refuses(const char *text, const char *want)
{
    cnn_block b[4];
    int n = -1;
    cnn_error err;
    cnn_status st = cnn_spec_parse(text, b, 4, &n, &err);
    CHECK(st == CNN_ERR_SPEC && err.status == CNN_ERR_SPEC && strstr(err.msg, want) && n == 0,
          "\"%s\": status %s, message \"%s\", expected one containing \"%s\"", text, cnn_status_name(st),
          st ? err.msg : "", want);
}

static void test_malformed(void)
{
    cnn_block b[4];
    int n;
    accepts("(64, (3,3), (1,1), \"relu\", 0.2, 2, \"max\")", 1);
    accepts("\n\t( 64 ,(3, 3),(1 ,1),'tanh',.5,2,'average' )   (8,(1,2),(2,1),'sigmoid',0,1,\"min\")\r\n", 2);
    refuses("", "byte 0: expected at least one block");
    refuses("   ", "byte 3: expected at least one block");
    refuses("64, (3,3)", "byte 0: expected '(' opening a block, found '6'");
    refuses("(64 (3,3), (1,1), 'relu', 0.2, 2, 'max')", "byte 4: expected ',' after the number of filters, found '('");
    refuses("(64, 3, (1,1), 'relu', 0.2, 2, 'max')", "byte 5: expected '(' opening the kernel size, found '3'");
    refuses("(64, (3,3), (1,1), 'relu', 0.2, 2, 'max'", "byte 40: expected ')' closing the block, found the end of the text");
    refuses("(64, (3,3), (1,1), 'gelu', 0.2, 2, 'max')", "byte 20: expected an activation 'relu', 'sigmoid' or 'tanh', found 'gelu'");
    refuses("(64, (3,3), (1,1), 'relu', 0.2, 2, 'mean')", "byte 36: expected a pool type 'max', 'min' or 'average', found 'mean'");
    refuses("(64, (3,3), (1,1), 'relu\", 0.2, 2, 'max')", "byte 24: expected the closing quote ', found '\"'");
    refuses("(64, (3,3), (1,1), 'relu', 1.5, 2, 'max')", "byte 27: a dropout rate 1.5 is out of range");
    refuses("(64, (3,3), (1,1), 'relu', -0.2, 2, 'max')", "byte 27: expected a dropout rate, found '-'");
    refuses("(0, (3,3), (1,1), 'relu', 0.2, 2, 'max')", "byte 1: the number of filters must be at least 1");
    refuses("(64, (3,0), (1,1), 'relu', 0.2, 2, 'max')", "the kernel size's width must be at least 1");
    refuses("(64, (3,3), (1,1), 'relu', 0.2, 2, 'max') x", "byte 42: expected '(' opening a block, found 'x'");
    refuses("(64, (3,3), (1,1), 'relu', 0.2, 2, 'max'), (32, (2,2), (1,1), 'relu', 0.2, 2, 'max')",
            "byte 41: expected '(' opening a block, found ','");
    refuses("(9999999, (3,3), (1,1), 'relu', 0.2, 2, 'max')", "number of filters has too many digits");
    refuses("(64, (3,3), (1,1), 'relu', 0.2, 2, 'max')\x01", "found byte 0x01");
    /* more blocks than the caller has room for */
    CHECK(cnn_spec_parse("(1,(1,1),(1,1),'relu',0,1,'max') (1,(1,1),(1,1),'relu',0,1,'max')", b, 1, &n, NULL) == CNN_ERR_SPEC,
          "two blocks accepted into room for one");
}

static void test_shape_errors(void)
{
    struct { const char *spec; const char *want; } cases[] = {
        {"(64, (3,3), (5,5), 'relu', 0.2, 2, 'max') (32, (3,3), (1,1), 'relu', 0.2, 2, 'max')",
         "block 2: max pool 2 does not fit the 1x1x32 output of its conv"},
        {"(64, (7,7), (5,5), 'relu', 0.2, 2, 'max') (32, (3,3), (1,1), 'relu', 0.2, 2, 'max')",
         "block 2: conv 32 3x3 stride 1x1 does not fit its 2x2x64 input"},
        {"(8, (29,3), (1,1), 'relu', 0, 1, 'max')", "block 1: conv 8 29x3 stride 1x1 does not fit its 28x28x1 input"},
        {"(8, (3,3), (1,1), 'relu', 0, 27, 'min')", "block 1: min pool 27 does not fit the 26x26x8 output of its conv"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cnn_net_desc d;
        cnn_net *net = (cnn_net *)&d;   /* must come back NULL */
        cnn_error err;
        cnn_status st;
        cnn_net_desc_init(&d, 1, 28, 28, 10);
        CHECK(cnn_net_desc_parse(&d, cases[i].spec, &err) == CNN_OK, "%s: %s", cases[i].spec, err.msg);
        st = cnn_net_create(&net, &d, &err);
        CHECK(st == CNN_ERR_SHAPE && net == NULL && strstr(err.msg, cases[i].want),
              "case %zu: status %s, message \"%s\", expected \"%s\"", i, cnn_status_name(st), err.msg, cases[i].want);
    }
}

int main(void)
{
    test_study_rows();
    test_base_model_counts();
    test_malformed();
    test_shape_errors();
    return check_done("test_spec");
}
