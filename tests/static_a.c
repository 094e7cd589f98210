/* static_a.c + static_b.c: two translation units, each with its own private copy of cnn.h
   (CNN_STATIC), linked into one program. A clash of external symbols fails the link. */
#define CNN_STATIC
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include <stdio.h>

int static_b_params(void);

int main(void)
{
    cnn_net_desc d;
    cnn_net *net = NULL;
    int ok;
    cnn_study_desc(&d, 22, NULL);
    ok = cnn_net_create(&net, &d, NULL) == CNN_OK && (int)cnn_net_param_count(net) == static_b_params();
    cnn_net_free(net);
    printf("CNN_STATIC in two translation units: %s\n", ok ? "ok" : "parameter counts differ");
    return ok ? 0 : 1;
}
