/* fashion.c - train one configuration of the study on Fashion-MNIST and print its table row.
   cc -O3 -march=native -fopenmp examples/fashion.c -lm -o fashion
   ./fashion 1                          the base model, by its number in the study (1..22)
   ./fashion "(32, (3,3), (1,1), 'tanh', 0.2, 2, 'max')" 10     a spec of your own, 10 epochs
   Saves the trained net to fashion.cnn (see predict.c). Data: $CNN_DATA_DIR or the Debian path. */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include <stdio.h>
#include <stdlib.h>

static int progress(const cnn_epoch_info *e, void *user)
{
    (void)user;
    printf("epoch %3d  loss %.4f acc %.4f  val_loss %.4f val_acc %.4f%s\n", e->epoch, e->loss, e->acc, e->val_loss,
           e->val_acc, e->improved ? "  *" : "");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    cnn_dataset train, test;
    cnn_net_desc d;
    cnn_net *net = NULL;
    cnn_train_opts o;
    cnn_error err;
    cnn_rng rng;
    double tr_acc, tr_loss, te_acc, te_loss;
    int model = argc > 1 ? atoi(argv[1]) : 1;
    char spec[512];

    if (model >= 1 ? cnn_study_desc(&d, model, &err)
                   : (cnn_net_desc_init(&d, 1, 28, 28, 10), cnn_net_desc_parse(&d, argv[1], &err))) {
        fprintf(stderr, "fashion: %s\n", err.msg);
        return 2;
    }
    if (cnn_dataset_load_mnist(NULL, "train", NULL, &train, &err) || cnn_dataset_load_mnist(NULL, "t10k", NULL, &test, &err) ||
        cnn_net_create(&net, &d, &err)) {
        fprintf(stderr, "fashion: %s\n", err.msg);
        return 1;
    }
    cnn_rng_seed(&rng, 42);
    cnn_net_init(net, &rng);
    cnn_train_opts_init(&o);   /* the study's protocol: Adam, 10% held out, patience 20 */
    o.epochs = argc > 2 ? atoi(argv[2]) : 200; o.batch = 32; o.val_split = 0.1; o.seed = 42; o.on_epoch = progress;
    if (cnn_net_train(net, train.x, train.y, train.n, &o, NULL, &err) ||
        cnn_net_evaluate(net, train.x, train.y, train.n * 9 / 10, 256, &tr_acc, &tr_loss, &err) ||
        cnn_net_evaluate(net, test.x, test.y, test.n, 256, &te_acc, &te_loss, &err) ||
        cnn_net_save(net, "fashion.cnn", &err)) {
        fprintf(stderr, "fashion: %s\n", err.msg);
        return 1;
    }
    cnn_spec_format(d.blocks, d.nblocks, spec, sizeof spec);
    printf("Model\tTuple(s) of Hyperparameter of each layer(s)\tTrain Accuracy\tTest Accuracy\tTrain Log Loss\tTest Log Loss\n");
    printf("%s\t%s\t%.3f\t%.3f\t%.3f\t%.3f\n", model >= 1 ? argv[1] : "-", spec, tr_acc, te_acc, tr_loss, te_loss);
    cnn_net_free(net);
    cnn_dataset_free(&train);
    cnn_dataset_free(&test);
    return 0;
}
