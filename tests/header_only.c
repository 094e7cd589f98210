/* The header included twice, with and without the implementation, and with CNN_NO_STDIO:
   compiled as C99 and as C++ by tests/run.sh with every warning turned into an error. */
#include "../cnn.h"
#define CNN_IMPLEMENTATION
#include "../cnn.h"
#include "../cnn.h"

int main(void)
{
    cnn_rng r;
    cnn_rng_seed(&r, 1);
    return cnn_status_name(CNN_OK)[0] == 'C' && cnn_rng_below(&r, 3) < 3 ? 0 : 1;
}
