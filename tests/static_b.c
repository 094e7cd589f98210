/* see static_a.c */
#define CNN_STATIC
#define CNN_IMPLEMENTATION
#include "../cnn.h"

int static_b_params(void);

int static_b_params(void)
{
    cnn_net_desc d;
    cnn_net *net = NULL;
    int n;
    cnn_study_desc(&d, 22, NULL);
    if (cnn_net_create(&net, &d, NULL)) return -1;
    n = (int)cnn_net_param_count(net);
    cnn_net_free(net);
    return n;
}
