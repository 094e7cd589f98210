/* quickstart.c - train a small CNN on generated images, no download needed.
   cc -O2 examples/quickstart.c -lm -o quickstart && ./quickstart          (add -fopenmp to use every core) */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include <stdio.h>
#include <stdlib.h>

enum { SIDE = 16, CLASSES = 3, N = 3000 };

/* class 0: a horizontal stroke, 1: a vertical stroke, 2: a square outline; noisy, anywhere */
static void draw(cnn_rng *r, float *img, int cls)
{
    int i, at = 3 + (int)cnn_rng_below(r, SIDE - 6);
    for (i = 0; i < SIDE * SIDE; i++) img[i] = 0.4f * cnn_rng_uniform(r);
    for (i = 2; i < SIDE - 2; i++) {
        if (cls == 0) img[at * SIDE + i] = 1.0f;
        if (cls == 1) img[i * SIDE + at] = 1.0f;
        if (cls == 2) img[2 * SIDE + i] = img[(SIDE - 3) * SIDE + i] = img[i * SIDE + 2] = img[i * SIDE + SIDE - 3] = 1.0f;
    }
}

static int report(const cnn_epoch_info *e, void *user)
{
    (void)user;
    printf("epoch %2d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f%s\n", e->epoch, e->loss, e->acc,
           e->val_loss, e->val_acc, e->improved ? "  *" : "");
    return 0;
}

int main(void)
{
    float *x = malloc(sizeof(float) * N * SIDE * SIDE);
    int *y = malloc(sizeof(int) * N), i;
    cnn_rng rng;
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_train_opts o;
    cnn_train_result res;
    cnn_error err;

    cnn_rng_seed(&rng, 1);
    for (i = 0; i < N; i++) draw(&rng, x + (size_t)i * SIDE * SIDE, y[i] = i % CLASSES);
    cnn_net_desc_init(&d, 1, SIDE, SIDE, CLASSES);
    if (cnn_net_desc_parse(&d, "(16, (3,3), (1,1), 'relu', 0.2, 2, 'max') (16, (2,2), (1,1), 'relu', 0.2, 2, 'max')", &err) ||
        cnn_net_create(&net, &d, &err)) {
        fprintf(stderr, "quickstart: %s\n", err.msg);
        return 1;
    }
    cnn_net_init(net, &rng);
    cnn_train_opts_init(&o);
    o.epochs = 10; o.batch = 32; o.val_split = 0.2; o.patience = 3; o.seed = 1; o.on_epoch = report;
    if (cnn_net_train(net, x, y, N, &o, &res, &err)) { fprintf(stderr, "quickstart: %s\n", err.msg); return 1; }
    printf("best epoch %d, validation loss %.4f, %zu parameters\n", res.best_epoch, res.best_loss, cnn_net_param_count(net));
    cnn_net_free(net);
    free(x); free(y);
    return 0;
}
