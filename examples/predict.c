/* predict.c - load a saved model and classify Fashion-MNIST test images.
   cc -O2 examples/predict.c -lm -o predict
   ./predict fashion.cnn [first N images to show, default 5]                                  */
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    cnn_dataset test;
    cnn_net *net = NULL;
    cnn_error err;
    float *probs;
    int *pred, show = argc > 2 ? atoi(argv[2]) : 5, i, j;
    size_t right = 0, k;

    if (argc < 2) { fprintf(stderr, "usage: predict MODEL.cnn [N]\n"); return 2; }
    if (cnn_net_load(&net, argv[1], NULL, &err) || cnn_dataset_load_mnist(NULL, "t10k", NULL, &test, &err)) {
        fprintf(stderr, "predict: %s\n", err.msg);
        return 1;
    }
    probs = malloc(sizeof(float) * 10 * test.n);
    pred = malloc(sizeof(int) * test.n);
    if (!probs || !pred || cnn_net_predict(net, test.x, test.n, 256, probs, &err)) {
        fprintf(stderr, "predict: %s\n", probs && pred ? err.msg : "out of memory");
        return 1;
    }
    cnn_argmax_rows(probs, test.n, 10, pred);
    for (i = 0; i < show && (size_t)i < test.n; i++) {
        printf("image %d: %-11s (true %-11s)", i, cnn_fashion_class_name(pred[i]), cnn_fashion_class_name(test.y[i]));
        for (j = 0; j < 10; j++) printf(" %.2f", probs[(size_t)i * 10 + j]);
        printf("\n");
    }
    for (k = 0; k < test.n; k++) right += pred[k] == test.y[k];
    printf("accuracy over %zu test images: %.4f\n", test.n, (double)right / (double)test.n);
    free(probs); free(pred);
    cnn_net_free(net);
    cnn_dataset_free(&test);
    return 0;
}
