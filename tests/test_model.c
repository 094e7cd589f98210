/* test_model.c - model files and metrics: save -> load -> identical predictions, every
   truncation and every single-byte change refused, a file for another architecture refused
   naming both, and the confusion matrix and classification report against hand-worked values.
   cc -std=c99 -O2 tests/test_model.c -lm */
#define _POSIX_C_SOURCE 200809L
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "check.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cnn_net *small_net(const char *spec, cnn_error *err)
{
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_net_desc_init(&d, 1, 8, 8, 3);
    if (cnn_net_desc_parse(&d, spec, err) || cnn_net_create(&net, &d, err)) return NULL;
    return net;
}

static void test_roundtrip(void)
{
    enum { N = 64 };
    const char *spec = "(3, (3,3), (1,1), 'tanh', 0.2, 2, 'min')";
    float x[N * 64], p1[N * 3], p2[N * 3];
    int y[N], i;
    cnn_rng r;
    cnn_error err;
    cnn_net *a = small_net(spec, &err), *b = NULL;
    cnn_train_opts o;
    unsigned char *buf, *bad;
    size_t n, k, refused = 0;
    char path[64];
    CHECK(a != NULL, "build: %s", err.msg);
    if (!a) return;
    cnn_rng_seed(&r, 3);
    for (i = 0; i < N * 64; i++) x[i] = cnn_rng_uniform(&r);
    for (i = 0; i < N; i++) y[i] = i % 3;
    cnn_net_init(a, &r);
    cnn_train_opts_init(&o);
    o.epochs = 2; o.batch = 16;   /* moves the weights and the batch-norm statistics off their start */
    CHECK(cnn_net_train(a, x, y, N, &o, NULL, &err) == CNN_OK, "train: %s", err.msg);
    n = cnn_net_save_size(a);
    buf = (unsigned char *)malloc(n);
    bad = (unsigned char *)malloc(n);
    CHECK(cnn_net_save_mem(a, buf, n, &err) == CNN_OK, "save: %s", err.msg);
    CHECK(cnn_net_save_mem(a, buf, n - 1, &err) == CNN_ERR_ARG, "a short buffer was accepted");
    CHECK(cnn_net_load_mem(&b, buf, n, &err) == CNN_OK, "load: %s", err.msg);
    if (b) {
        cnn_net_predict(a, x, N, 16, p1, NULL);
        cnn_net_predict(b, x, N, 16, p2, NULL);
        CHECK(memcmp(p1, p2, sizeof p1) == 0, "the loaded model predicts differently");
        CHECK(memcmp(cnn_net_state(a), cnn_net_state(b), cnn_net_state_count(a) * sizeof(float)) == 0,
              "batch-norm statistics differ after loading");
        cnn_net_free(b);
    }
    /* the file version, written atomically: no temporary left behind */
    snprintf(path, sizeof path, "/tmp/cnn_test_model_%d.cnn", (int)getpid());
    CHECK(cnn_net_save(a, path, &err) == CNN_OK, "save %s: %s", path, err.msg);
    {
        char tmp[80];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        CHECK(access(tmp, F_OK) != 0, "%s left behind", tmp);
    }
    b = NULL;
    CHECK(cnn_net_load(&b, path, NULL, &err) == CNN_OK, "load %s: %s", path, err.msg);
    if (b) {
        cnn_net_predict(b, x, N, 7, p2, NULL);
        CHECK(memcmp(p1, p2, sizeof p1) == 0, "the model loaded from a file predicts differently");
        cnn_net_free(b);
    }
    remove(path);
    CHECK(cnn_net_load(&b, path, NULL, &err) == CNN_ERR_OPEN && b == NULL && strstr(err.msg, path), "missing file: %s", err.msg);
    /* every prefix is refused */
    for (k = 0; k < n; k++) {
        b = NULL;
        if (cnn_net_load_mem(&b, buf, k, &err) != CNN_OK && b == NULL) refused++;
        else cnn_net_free(b);
    }
    CHECK(refused == n, "%zu of %zu truncations accepted", n - refused, n);
    /* every single-byte change is refused */
    refused = 0;
    for (k = 0; k < n; k++) {
        memcpy(bad, buf, n);
        bad[k] ^= (unsigned char)(1u << (k % 8));
        b = NULL;
        if (cnn_net_load_mem(&b, bad, n, &err) != CNN_OK && b == NULL) refused++;
        else cnn_net_free(b);
    }
    CHECK(refused == n, "%zu of %zu one-bit changes accepted", n - refused, n);
    memcpy(bad, buf, n);
    bad[n - 1] ^= 1;
    CHECK(cnn_net_load_mem(&b, bad, n, &err) == CNN_ERR_CRC && strstr(err.msg, "checksum"), "bad CRC: %s", err.msg);
    CHECK(cnn_net_load_mem(&b, buf, n - 3, &err) == CNN_ERR_TRUNCATED && strstr(err.msg, "more bytes"), "truncated: %s",
          err.msg);
    {   /* trailing bytes */
        unsigned char *longer = (unsigned char *)calloc(n + 5, 1);
        memcpy(longer, buf, n);
        CHECK(cnn_net_load_mem(&b, longer, n + 5, &err) == CNN_ERR_TRAILING, "trailing bytes: %s", err.msg);
        free(longer);
    }
    /* parameters of another architecture: refused, both named */
    b = small_net("(4, (3,3), (1,1), 'tanh', 0.2, 2, 'min')", &err);
    if (b) {
        CHECK(cnn_net_load_params_mem(b, buf, n, &err) == CNN_ERR_SHAPE && strstr(err.msg, "(3, (3,3)") &&
              strstr(err.msg, "(4, (3,3)"), "another architecture: %s", err.msg);
        cnn_net_free(b);
    }
    b = small_net(spec, &err);
    if (b) {
        CHECK(cnn_net_load_params_mem(b, buf, n, &err) == CNN_OK, "same architecture: %s", err.msg);
        cnn_net_predict(b, x, N, 16, p2, NULL);
        CHECK(memcmp(p1, p2, sizeof p1) == 0, "parameters loaded into a fresh net predict differently");
        cnn_net_free(b);
    }
    cnn_net_free(a);
    free(buf); free(bad);
}

static void test_metrics(void)
{
    /* truth and predictions of ten samples; by hand:
         confusion  [2 1 0] [0 2 0] [1 1 3]
         precision  2/3, 2/4, 3/3     recall 2/3, 2/2, 3/5     f1 2/3, 2/3, 3/4
         accuracy 7/10; macro avg 0.7222 0.7556 0.6944; weighted avg 0.8 0.7 0.7083 */
    const int truth[10] = {0, 0, 0, 1, 1, 2, 2, 2, 2, 2}, pred[10] = {0, 0, 1, 1, 1, 2, 2, 0, 2, 1};
    const size_t want[9] = {2, 1, 0, 0, 2, 0, 1, 1, 3};
    const char *report =
        "              precision    recall  f1-score   support\n"
        "\n"
        "           0       0.67      0.67      0.67         3\n"
        "           1       0.50      1.00      0.67         2\n"
        "           2       1.00      0.60      0.75         5\n"
        "\n"
        "    accuracy                           0.70        10\n"
        "   macro avg       0.72      0.76      0.69        10\n"
        "weighted avg       0.80      0.70      0.71        10\n";
    size_t m[9];
    cnn_class_metrics pc[3], mac, wei;
    double acc;
    char buf[1024];
    size_t len;
    int bad[10];
    cnn_error err;
    CHECK(cnn_confusion_matrix(truth, pred, 10, 3, m, &err) == CNN_OK && memcmp(m, want, sizeof m) == 0,
          "confusion matrix %zu %zu %zu / %zu %zu %zu / %zu %zu %zu", m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]);
    cnn_metrics_compute(m, 3, pc, &mac, &wei, &acc);
    CHECK(fabs(pc[1].precision - 0.5) < 1e-12 && fabs(pc[2].recall - 0.6) < 1e-12 && fabs(pc[2].f1 - 0.75) < 1e-12 &&
          pc[2].support == 5, "per-class metrics");
    CHECK(fabs(acc - 0.7) < 1e-12 && fabs(mac.recall - (2.0 / 3 + 1 + 0.6) / 3) < 1e-12 && fabs(wei.precision - 0.8) < 1e-12 &&
          fabs(wei.f1 - (2.0 / 3 * 3 + 2.0 / 3 * 2 + 0.75 * 5) / 10) < 1e-12, "averages: acc %g macro recall %g weighted "
          "precision %g", acc, mac.recall, wei.precision);
    len = cnn_report_format(m, 3, NULL, 2, buf, sizeof buf);
    CHECK(len == strlen(report) && strcmp(buf, report) == 0, "report:\n%s\nexpected:\n%s", buf, report);
    CHECK(cnn_report_format(m, 3, NULL, 2, buf, 10) == len && strlen(buf) == 9, "a short buffer is not truncated safely");
    /* a class never predicted: precision 0/0 counts as 0, as scikit-learn does */
    memcpy(bad, pred, sizeof bad);
    bad[3] = bad[4] = 0;
    cnn_confusion_matrix(truth, bad, 10, 3, m, NULL);
    cnn_metrics_compute(m, 3, pc, NULL, NULL, NULL);
    CHECK(pc[1].precision == 0.0 && pc[1].recall == 0.0 && pc[1].f1 == 0.0, "zero division");
    bad[0] = 3;
    CHECK(cnn_confusion_matrix(truth, bad, 10, 3, m, &err) == CNN_ERR_LABEL_RANGE && strstr(err.msg, "sample 0"),
          "prediction out of range: %s", err.msg);
}

int main(void)
{
    test_roundtrip();
    test_metrics();
    return check_done("test_model");
}
