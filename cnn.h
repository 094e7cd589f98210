/* cnn.h - train small convolutional networks on a CPU, in one C99 header. MIT licence (end of file).

   Do this in *one* C or C++ file of your project:

       #define CNN_IMPLEMENTATION
       #include "cnn.h"

   and include "cnn.h" without the define everywhere else. Link with -lm; add -fopenmp to use
   every core (OpenMP never changes a single bit of the results, see >>determinism).

   A complete training run (examples/quickstart.c is the same thing with generated data):

       cnn_rng rng; cnn_net *net = NULL; cnn_error err; cnn_net_desc d;
       cnn_net_desc_init(&d, 1, 28, 28, 10);               // input C,H,W and classes
       if (cnn_spec_parse("(64, (3,3), (1,1), 'relu', 0.2, 2, 'max') "
                          "(32, (2,2), (1,1), 'relu', 0.2, 2, 'max')",
                          d.blocks, CNN_MAX_BLOCKS, &d.nblocks, &err) ||
           cnn_net_create(&net, &d, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
       cnn_rng_seed(&rng, 42);
       cnn_net_init(net, &rng);                            // Glorot uniform, zero biases
       cnn_train_opts o; cnn_train_opts_init(&o);          // Keras defaults, patience 20
       o.epochs = 100; o.batch = 128; o.val_split = 0.1; o.seed = 42;
       cnn_train_result r;
       if (cnn_net_train(net, x, y, n, &o, &r, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
       cnn_net_evaluate(net, xt, yt, nt, 256, &acc, &loss, &err);
       cnn_net_free(net);

   x is float, NCHW (n x C x H x W, here n x 1 x 28 x 28) scaled to [0,1]; y holds class indices.

   CONFIGURATION (define before the #include that carries CNN_IMPLEMENTATION)
     CNN_MALLOC(sz) / CNN_REALLOC(p,sz) / CNN_FREE(p)   malloc/realloc/free      all three or none
     CNN_ASSERT(x)       assert(x)           programming errors only (wrong shape passed to a kernel)
     CNN_STATIC          (off)               make every function static to the including file
     CNN_API             extern / static     linkage of every public symbol
     CNN_NO_STDIO        (off)               drop every function that takes a path or FILE*
     CNN_MAX_BLOCKS      16                  conv blocks per network
     CNN_DATA_DIR_DEFAULT /usr/share/datasets/fashion-mnist   where the data package puts it
     CNN_GEMM_PORTABLE   (off)               plain-C GEMM kernel instead of GCC/clang vector types
     CNN_NO_INTRINSICS   (off)               no AVX-512 intrinsics: no Winograd convolution (>>conv
                                             winograd), its shapes take the portable wide path
     CNN_NO_OPTIMIZE_PRAGMA (off)            GCC: compile the implementation at the caller's -O
                                             level, not at -O3 (see the #pragma GCC optimize)

   ERRORS
     Anything that comes from data or the environment returns a cnn_status; when the caller
     passes a cnn_error*, its msg says what and where (byte offset, expected vs found, shapes).
     The library never prints and never exits. CNN_ASSERT is reserved for caller bugs.

   OWNERSHIP
     cnn_*_create / cnn_*_load return objects that the matching cnn_*_free releases (NULL is fine).
     Buffers the caller passes in are only borrowed for the duration of the call.

   CONTENTS (grep for the markers)
     >>api          declarations          >>rng          random numbers, seed contract
     >>tensor       shapes, allocation    >>conv         convolution: naive, then im2col+GEMM
     >>gemm         matrix multiply       >>pool         max / min / average pooling
     >>batchnorm    batch normalisation   >>act          relu, sigmoid, tanh
     >>dropout      inverted dropout      >>dense        fully connected layer
     >>loss         softmax cross-entropy >>adam         Adam optimiser, Glorot init
     >>spec         the study's notation  >>net          network build, forward, backward
     >>train        training loop         >>study        the 22 configurations
     >>idx          IDX files, limits     >>gzip         gzip/DEFLATE decoder, CRC-32
     >>dataset      Fashion-MNIST loading >>model        save and load a trained net
     >>metrics      confusion matrix, classification report
     >>conv wide, >>conv winograd   the fast convolutions at stride 1 (Winograd: 2x2 filters)
     >>licence
*/
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>

#define CNN_VERSION "0.1.0"

#ifndef CNN_API
#ifdef CNN_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define CNN_API static __attribute__((unused))   /* a private copy need not use every function */
#else
#define CNN_API static
#endif
#else
#define CNN_API extern
#endif
#endif

#ifndef CNN_MAX_BLOCKS
#define CNN_MAX_BLOCKS 16
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* >>api ---------------------------------------------------------------------------------- */

/* One list gives both the status enum and its default text (an X-macro). */
#define CNN_STATUS_LIST(X)                                                   \
    X(CNN_OK,                 "ok")                                          \
    X(CNN_ERR_NOMEM,          "out of memory")                               \
    X(CNN_ERR_ARG,            "invalid argument")                            \
    X(CNN_ERR_SPEC,           "malformed spec string")                       \
    X(CNN_ERR_SHAPE,          "shape does not fit")                          \
    X(CNN_ERR_OPEN,           "cannot open file")                            \
    X(CNN_ERR_READ,           "read error")                                  \
    X(CNN_ERR_WRITE,          "write error")                                 \
    X(CNN_ERR_NOT_IDX,        "not an IDX file")                             \
    X(CNN_ERR_IDX_TYPE,       "unsupported IDX element type")                \
    X(CNN_ERR_IDX_DIMS,       "bad IDX dimension count")                     \
    X(CNN_ERR_OVERFLOW,       "size overflow")                               \
    X(CNN_ERR_LIMIT,          "over the configured limit")                   \
    X(CNN_ERR_TRUNCATED,      "truncated input")                             \
    X(CNN_ERR_TRAILING,       "trailing bytes after the data")               \
    X(CNN_ERR_GZIP_HEADER,    "bad gzip header")                             \
    X(CNN_ERR_DEFLATE,        "bad DEFLATE stream")                          \
    X(CNN_ERR_CRC,            "CRC-32 mismatch")                             \
    X(CNN_ERR_LENGTH,         "gzip length mismatch")                        \
    X(CNN_ERR_COUNT_MISMATCH, "image and label counts differ")               \
    X(CNN_ERR_LABEL_RANGE,    "label out of range")                          \
    X(CNN_ERR_DIVERGED,       "training diverged")                           \
    X(CNN_ERR_FORMAT,         "bad model file")

typedef enum cnn_status {
#define CNN__ENUM(name, text) name,
    CNN_STATUS_LIST(CNN__ENUM)
#undef CNN__ENUM
    CNN_STATUS_COUNT
} cnn_status;

/* Filled by every fallible call that is given one; msg always names what went wrong and where. */
typedef struct cnn_error {
    cnn_status status;
    char msg[256];
} cnn_error;

CNN_API const char *cnn_status_name(cnn_status s);   /* "CNN_ERR_SPEC" */
CNN_API const char *cnn_status_text(cnn_status s);   /* "malformed spec string" */

/* >>rng
   Seed contract: cnn_rng_seed(&r, s) followed by the same sequence of calls yields the same
   numbers on every platform, compiler and thread count, for as long as CNN_VERSION's major
   number stays the same. The generator is SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit
   counter stepped by the golden ratio and scrambled; its whole state is the struct, so a copy
   of it is a checkpoint of the stream. */
typedef struct cnn_rng { uint64_t state; } cnn_rng;

CNN_API void     cnn_rng_seed(cnn_rng *r, uint64_t seed);
CNN_API uint32_t cnn_rng_u32(cnn_rng *r);
CNN_API float    cnn_rng_uniform(cnn_rng *r);                /* [0,1), 24 random bits  */
CNN_API uint32_t cnn_rng_below(cnn_rng *r, uint32_t n);      /* [0,n), unbiased; n > 0 */
CNN_API float    cnn_rng_normal(cnn_rng *r);                 /* mean 0, variance 1     */
CNN_API void     cnn_rng_shuffle(cnn_rng *r, uint32_t *idx, size_t n);  /* Fisher-Yates */

/* >>tensor ------------------------------------------------------------------------------
   Every array is float32 in NCHW order: element (n,c,h,w) of an (N,C,H,W) array sits at
   ((n*C + c)*H + h)*W + w. Counts are size_t; a single dimension is an int. */
typedef struct cnn_tensor {
    float *data;          /* owned: cnn_tensor_free releases it */
    int n, c, h, w;
} cnn_tensor;

CNN_API cnn_status cnn_tensor_create(cnn_tensor *t, int n, int c, int h, int w, cnn_error *err); /* zeroed */
CNN_API void       cnn_tensor_free(cnn_tensor *t);
CNN_API size_t     cnn_tensor_count(const cnn_tensor *t);

typedef enum cnn_padding   { CNN_PAD_VALID = 0, CNN_PAD_SAME = 1 } cnn_padding;
typedef enum cnn_act       { CNN_ACT_RELU = 0, CNN_ACT_SIGMOID = 1, CNN_ACT_TANH = 2, CNN_ACT_LINEAR = 3 } cnn_act;
typedef enum cnn_pool_type { CNN_POOL_MAX = 0, CNN_POOL_MIN = 1, CNN_POOL_AVG = 2 } cnn_pool_type;
/* The caller picks the convolution algorithm; nothing picks it behind their back. */
typedef enum cnn_conv_algo { CNN_CONV_IM2COL = 0, CNN_CONV_NAIVE = 1 } cnn_conv_algo;
/* Order inside a block. The study says "batch normalisation after every convolution", which
   reads either way; both are offered. Pool and dropout always come last, in that order. */
typedef enum cnn_order     { CNN_ORDER_CONV_BN_ACT = 0, CNN_ORDER_CONV_ACT_BN = 1 } cnn_order;

CNN_API const char *cnn_act_name(cnn_act a);              /* "relu", "sigmoid", "tanh", "linear" */
CNN_API const char *cnn_pool_type_name(cnn_pool_type t);  /* "max", "min", "average" */

/* >>conv -------------------------------------------------------------------------------- */
typedef struct cnn_conv_shape {
    int n, c, h, w;              /* input   x (N,C,H,W)            */
    int k, r, s;                 /* weights w (K,C,R,S), bias b (K) */
    int stride_h, stride_w;
    int pad_top, pad_left;       /* zeros before the first row / column; the rest pad the end */
    int p, q;                    /* output  y (N,K,P,Q)            */
} cnn_conv_shape;

/* 'valid': P = floor((H-R)/stride)+1, needs H >= R.  'same' (Keras/TensorFlow rule): P = ceil(H/stride),
   total padding max((P-1)*stride + R - H, 0) split with the smaller half on top/left. */
CNN_API cnn_status cnn_conv_shape_init(cnn_conv_shape *cs, int n, int c, int h, int w, int k, int r, int s,
                                       int stride_h, int stride_w, cnn_padding pad, cnn_error *err);
CNN_API void cnn_conv_forward_naive(const cnn_conv_shape *cs, const float *x, const float *w,
                                    const float *b, float *y);
/* dx, dw, db are accumulated into (+=); any of them may be NULL to skip it. */
CNN_API void cnn_conv_backward_naive(const cnn_conv_shape *cs, const float *x, const float *w,
                                     const float *dy, float *dx, float *dw, float *db);
/* im2col + GEMM. col is a caller-provided workspace of cnn_conv_col_floats() floats; forward fills
   it with the unfolded input, which backward reads for dw and then overwrites while computing dx.
   The workspace ends with a little scratch (the weights packed for the GEMM, dw's partial sums).
   At stride 1 without padding, with 8 or more input channels, in builds with vector types and
   where the workspace has room, forward skips im2col (GEMMs on the shifted input instead) and
   keeps a copy of the input in col for backward; same contract. With 2x2 filters on inputs of
   11 to 31 rows and columns, 8 or more channels in and out, in builds for AVX-512, both run
   Winograd's F(3x3, 2x2) instead (16 multiply-adds a 3x3 output tile and channel, not 36), col
   holding its transforms and the input; the results then differ from the other paths' in the
   last bits. A col on a 64-byte boundary is faster (the net's are): the study's second
   convolution's weight gradient, 20% less time. */
CNN_API size_t cnn_conv_col_floats(const cnn_conv_shape *cs);
CNN_API void cnn_conv_forward_im2col(const cnn_conv_shape *cs, const float *x, const float *w,
                                     const float *b, float *y, float *col);
CNN_API void cnn_conv_backward_im2col(const cnn_conv_shape *cs, float *col, const float *w,
                                      const float *dy, float *dx, float *dw, float *db);

/* >>pool -------------------------------------------------------------------------------- */
typedef struct cnn_pool_shape {
    int n, c, h, w;              /* input  (N,C,H,W) */
    int size, stride;            /* square window; stride 0 at init means stride = size */
    int p, q;                    /* output (N,C,P,Q), P = floor((H-size)/stride)+1 */
} cnn_pool_shape;

CNN_API cnn_status cnn_pool_shape_init(cnn_pool_shape *ps, int n, int c, int h, int w, int size,
                                       int stride, cnn_error *err);
/* arg (N,C,P,Q) receives, for max and min, the index h*W+w of the chosen input in its plane
   (the first one in row-major order on ties); it may be NULL for average pooling. */
CNN_API void cnn_pool_forward(const cnn_pool_shape *ps, cnn_pool_type t, const float *x, float *y,
                              int32_t *arg);
CNN_API void cnn_pool_backward(const cnn_pool_shape *ps, cnn_pool_type t, const int32_t *arg,
                               const float *dy, float *dx);

/* >>batchnorm --------------------------------------------------------------------------- */
/* Per channel c over the N*HW values: xhat = (x - mean) / sqrt(var + eps), y = gamma*xhat + beta.
   Training normalises with the batch's biased variance and moves the running statistics:
   run = momentum*run + (1-momentum)*batch (running variance takes the unbiased batch variance,
   as TensorFlow's fused kernel and PyTorch do). run_mean/run_var may be NULL. xhat (N,C,HW) and
   invstd (C) are kept for backward. */
CNN_API void cnn_bn_forward_train(int n, int c, size_t hw, const float *x, const float *gamma,
                                  const float *beta, float *y, float *xhat, float *invstd,
                                  float *run_mean, float *run_var, float momentum, float eps);
CNN_API void cnn_bn_forward_infer(int n, int c, size_t hw, const float *x, const float *gamma,
                                  const float *beta, const float *run_mean, const float *run_var,
                                  float eps, float *y);
CNN_API void cnn_bn_backward(int n, int c, size_t hw, const float *dy, const float *xhat,
                             const float *gamma, const float *invstd, float *dx, float *dgamma,
                             float *dbeta);

/* >>act --------------------------------------------------------------------------------- */
CNN_API void cnn_act_forward(cnn_act a, size_t count, const float *x, float *y);  /* y may be x */
/* dx += dy * f'(x), with f' written through the output y (relu: y>0, sigmoid: y(1-y), tanh: 1-y^2) */
CNN_API void cnn_act_backward(cnn_act a, size_t count, const float *y, const float *dy, float *dx);

/* >>dropout ----------------------------------------------------------------------------- */
/* Inverted dropout: each mask entry is 0 with probability rate, else 1/(1-rate), so inference
   is the identity. The mask is drawn from r in index order, whatever the thread count: entries
   2j and 2j + 1 from the j-th 64-bit draw, uniforms of 24 bits each (its bits 40-63 and 8-31),
   tested against rate; an odd count's last entry from one more draw's top 24 bits. */
CNN_API void cnn_dropout_mask(cnn_rng *r, float rate, size_t count, float *mask);
CNN_API void cnn_dropout_forward(size_t count, const float *mask, const float *x, float *y);
CNN_API void cnn_dropout_backward(size_t count, const float *mask, const float *dy, float *dx);

/* >>dense ------------------------------------------------------------------------------- */
/* x (N,IN)  w (OUT,IN)  b (OUT)  y (N,OUT):  y = x w^T + b */
CNN_API void cnn_dense_forward(int n, int in, int out, const float *x, const float *w,
                               const float *b, float *y);
CNN_API void cnn_dense_backward(int n, int in, int out, const float *x, const float *w,
                                const float *dy, float *dx, float *dw, float *db);

/* >>loss -------------------------------------------------------------------------------- */
/* Fused softmax + cross-entropy on logits (N,K), via log-sum-exp so large logits never give
   inf or NaN. Returns the mean loss; probs (N,K) and dlogits (N,K) = (p - onehot)/N may be NULL.
   Labels must lie in [0,K) (checked with CNN_ASSERT; cnn_net_train checks data first). */
CNN_API double cnn_softmax_xent(int n, int k, const float *logits, const int *labels, float *probs,
                                float *dlogits);

/* >>adam -------------------------------------------------------------------------------- */
typedef struct cnn_adam {
    float lr, beta1, beta2, eps;  /* Keras defaults: 1e-3, 0.9, 0.999, 1e-7 */
    int64_t t;                    /* steps taken */
} cnn_adam;

CNN_API void cnn_adam_init(cnn_adam *a);
/* One step over n parameters: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
   p -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)   (Keras' form: eps is not bias-corrected) */
CNN_API void cnn_adam_step(cnn_adam *a, size_t n, float *p, const float *g, float *m, float *v);
/* Glorot (Xavier) uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras fans: dense
   (in, out); conv (C*R*S, K*R*S). */
CNN_API void cnn_glorot_uniform(cnn_rng *r, size_t count, int fan_in, int fan_out, float *w);

/* >>spec -------------------------------------------------------------------------------- */
/* One conv block: conv -> batch norm -> activation -> pool -> dropout (or conv -> activation ->
   batch norm -> ..., see cnn_order). The study writes it as
   (filters, (kh,kw), (sh,sw), 'activation', dropout, pool size, 'pool type'). */
typedef struct cnn_block {
    int filters, kernel_h, kernel_w, stride_h, stride_w;
    cnn_padding padding;          /* the study's notation always means 'valid' */
    cnn_act act;
    float dropout;                /* [0,1) */
    int pool, pool_stride;        /* pool size 1 = no pooling; stride 0 = pool size */
    cnn_pool_type pool_type;
} cnn_block;

/* Parses blocks written as in the study's table, e.g.
     (64, (3,3), (1,1), 'relu', 0.2, 2, 'max') (32, (2,2), (1,1), 'relu', 0.2, 2, 'max')
   Whitespace anywhere between tokens; 'single' or "double" quotes; activation relu|sigmoid|tanh,
   pool type max|min|average. On error the message reads
     "spec: byte 14: expected ',' after the kernel size, found 'x'"                          */
CNN_API cnn_status cnn_spec_parse(const char *text, cnn_block *blocks, int max_blocks, int *nblocks,
                                  cnn_error *err);
/* Writes the canonical text (the table's own spelling) into buf; returns the length it needs,
   like snprintf, so a too-small buffer is detectable. */
CNN_API size_t cnn_spec_format(const cnn_block *blocks, int nblocks, char *buf, size_t cap);

/* >>net --------------------------------------------------------------------------------- */
typedef struct cnn_net_desc {
    int in_c, in_h, in_w, classes;
    int nblocks;
    cnn_block blocks[CNN_MAX_BLOCKS];
    cnn_order order;
    cnn_conv_algo algo;
    float bn_momentum, bn_eps;    /* 0.99, 1e-3 (Keras) */
} cnn_net_desc;

typedef enum cnn_layer_kind {
    CNN_LAYER_CONV, CNN_LAYER_BATCHNORM, CNN_LAYER_ACT, CNN_LAYER_POOL, CNN_LAYER_DROPOUT,
    CNN_LAYER_DENSE
} cnn_layer_kind;

typedef struct cnn_layer_info {
    cnn_layer_kind kind;
    int block;                    /* 0-based conv block, -1 for the dense layer */
    int in_c, in_h, in_w, out_c, out_h, out_w;
    size_t params;                /* trainable parameters */
    char text[64];                /* e.g. "conv 64 3x3 /1 valid", "pool max 2 /2" */
} cnn_layer_info;

typedef struct cnn_net cnn_net;

CNN_API void       cnn_net_desc_init(cnn_net_desc *d, int in_c, int in_h, int in_w, int classes);
/* Parses spec into d->blocks (see cnn_spec_parse). */
CNN_API cnn_status cnn_net_desc_parse(cnn_net_desc *d, const char *spec, cnn_error *err);
/* Builds the net: blocks, flatten, dense to d->classes, softmax. Checks every shape first and
   names the block whose input is too small. Parameters are zero until cnn_net_init. */
CNN_API cnn_status cnn_net_create(cnn_net **out, const cnn_net_desc *d, cnn_error *err);
CNN_API void       cnn_net_free(cnn_net *net);
/* Glorot uniform weights, zero biases, batch norm back to gamma 1, beta 0, mean 0, variance 1,
   Adam's moments zeroed: the net is as new, whatever it held. */
CNN_API void       cnn_net_init(cnn_net *net, cnn_rng *r);
CNN_API const cnn_net_desc *cnn_net_get_desc(const cnn_net *net);
CNN_API int        cnn_net_layer_count(const cnn_net *net);
CNN_API void       cnn_net_layer_get(const cnn_net *net, int i, cnn_layer_info *info);
CNN_API void       cnn_net_feature_shape(const cnn_net *net, int *c, int *h, int *w); /* before flatten */

/* The parameter block: every trainable value of the net, layer after layer, in one array;
   grads, and Adam's m and v are parallel arrays of the same length. state holds the batch-norm
   running means and variances (not trained, but part of a saved model). Borrowed pointers,
   valid until cnn_net_free. */
CNN_API size_t     cnn_net_param_count(const cnn_net *net);
CNN_API float     *cnn_net_params(cnn_net *net);
CNN_API float     *cnn_net_grads(cnn_net *net);
CNN_API size_t     cnn_net_state_count(const cnn_net *net);
CNN_API float     *cnn_net_state(cnn_net *net);

/* Make room for batches of up to n samples (the only call that allocates activations). */
CNN_API cnn_status cnn_net_reserve(cnn_net *net, int n, cnn_error *err);
/* Training mode: batch-norm uses batch statistics and moves its running ones, dropout draws
   masks from rng (borrowed; required in training mode). Inference: running statistics, no dropout. */
CNN_API void       cnn_net_set_training(cnn_net *net, int training, cnn_rng *rng);
/* Forward pass on n samples (n <= reserved); returns the logits (N,classes), borrowed until the
   next call on net. */
CNN_API const float *cnn_net_forward(cnn_net *net, const float *x, int n);
/* Backward pass for the last forward (training mode): accumulates into cnn_net_grads. dlogits
   is (N,classes); the input gradient is not computed. */
CNN_API void       cnn_net_backward(cnn_net *net, const float *dlogits);
/* One optimisation step on a batch: zero grads, forward, loss, backward, Adam. Allocates nothing.
   Returns the mean loss; *correct (may be NULL) receives the number of right answers. When the
   loss or any gradient is NaN or infinite, nothing is updated (parameters, Adam's moments and
   the batch-norm statistics stay as they were) and the result is not finite. */
CNN_API double     cnn_net_train_step(cnn_net *net, cnn_adam *opt, const float *x, const int *y,
                                      int n, int *correct);

/* >>train ------------------------------------------------------------------------------- */
typedef struct cnn_epoch_info {
    int epoch;                    /* 1-based */
    int epochs;                   /* the cap */
    double loss, acc;             /* training, averaged over the epoch's batches in training mode */
    double val_loss, val_acc;     /* held-out part, inference mode; NAN without validation */
    int best_epoch;               /* epoch of the best monitored loss so far */
    int improved;                 /* this epoch became the best */
    int wait;                     /* epochs since the best (early stopping fires at patience) */
} cnn_epoch_info;

typedef struct cnn_train_opts {
    int epochs;                   /* cap on epochs (default 100) */
    int batch;                    /* default 32, as Keras */
    double val_split;             /* last fraction of the data held out, as Keras (default 0) */
    int patience;                 /* early stopping on val_loss (train loss without validation); 0 = off; default 20 */
    double min_delta;             /* improvement must exceed this (default 0) */
    int restore_best;             /* put back the best epoch's weights at the end (default 1) */
    int shuffle;                  /* reshuffle the training part every epoch (default 1) */
    uint64_t seed;                /* seeds the rng for shuffling and dropout */
    cnn_adam adam;                /* Keras defaults */
    /* called after every epoch; a non-zero return stops training */
    int (*on_epoch)(const cnn_epoch_info *info, void *user);
    /* called after every batch (progress bars); may be NULL */
    void (*on_batch)(int epoch, int batch, int nbatches, double loss, void *user);
    void *user;
    /* Path of a checkpoint written (atomically) after every epoch: weights, Adam's moments,
       batch-norm statistics, the rng, the data order and the early-stopping state. When the file
       exists, training resumes from it and ends exactly as an uninterrupted run would; one made
       for another net or other options is refused. NULL: none. Not with CNN_NO_STDIO. */
    const char *checkpoint;
} cnn_train_opts;

typedef struct cnn_train_result {
    int epochs_run, best_epoch;
    int resumed_from;             /* epochs taken from a checkpoint (0: started afresh) */
    double best_loss;             /* best monitored loss (val_loss, or train loss without validation) */
    int stopped_early;            /* 1 patience ran out, 2 the hook asked */
} cnn_train_result;

CNN_API void       cnn_train_opts_init(cnn_train_opts *o);
/* x (n, C,H,W) and y (n) are borrowed. Checks labels, reserves memory, then trains. */
CNN_API cnn_status cnn_net_train(cnn_net *net, const float *x, const int *y, size_t n,
                                 const cnn_train_opts *o, cnn_train_result *res, cnn_error *err);
/* Inference mode, batches of `batch`: accuracy and mean log loss (either pointer may be NULL). */
CNN_API cnn_status cnn_net_evaluate(cnn_net *net, const float *x, const int *y, size_t n, int batch,
                                    double *acc, double *loss, cnn_error *err);
/* Inference mode: class probabilities (n, classes) into probs. */
CNN_API cnn_status cnn_net_predict(cnn_net *net, const float *x, size_t n, int batch, float *probs,
                                   cnn_error *err);

/* >>study ------------------------------------------------------------------------------- */
/* The 22 configurations of the study (CS F425 Deep Learning, Assignment 2, Bhaskarpandit, S and
   Kumar: CNNs on Fashion-MNIST), with the figures that study reports for them. */
typedef struct cnn_study_row {
    int model;                    /* 1..22; model 1 is the base model */
    const char *spec;             /* the table's text, verbatim */
    float train_acc, test_acc, train_loss, test_loss;   /* as reported by the study */
} cnn_study_row;

#define CNN_STUDY_MODELS 22
CNN_API const cnn_study_row *cnn_study_row_get(int model);   /* NULL outside 1..22 */
/* Fashion-MNIST input (1,28,28), 10 classes, the model's blocks. */
CNN_API cnn_status cnn_study_desc(cnn_net_desc *d, int model, cnn_error *err);
CNN_API const char *cnn_fashion_class_name(int label);        /* "T-shirt/top" ... "Ankle boot" */

/* >>idx  IDX data files (MNIST-style), plain or gzip-compressed ---------------------------

   An IDX file is a 4-byte magic 00 00 TT NN (TT the element type, NN the number of
   dimensions), NN big-endian uint32 dimensions, then the elements, big-endian, row-major.
   The readers below detect gzip (1f 8b) by its magic and decode it with the decoder in
   >>gzip, so the .gz files of Fashion-MNIST load with one call and no zlib.

   Every reader treats its input as hostile: sizes are multiplied with overflow checks and
   compared with a cnn_limits before anything is allocated, the amount of decoded data comes
   from the IDX header (never from the compressed stream), truncation and trailing bytes are
   errors, and on failure the output is zeroed and nothing is left allocated.

       cnn_dataset train; cnn_error err;
       if (cnn_dataset_load_mnist(data_dir_or_NULL, "train", NULL, &train, &err))
           { fprintf(stderr, "%s\n", err.msg); return 1; }
       ... train.x is (train.n, 1, 28, 28) floats in [0,1], train.y the labels 0..9 ...
       cnn_dataset_free(&train);

   Where the data is (cnn_dataset_find_dir): the directory the caller names (a `--data DIR`
   option), else the environment variable CNN_DATA_DIR, else CNN_DATA_DIR_DEFAULT
   (/usr/share/datasets/fashion-mnist, where Debian's dataset-fashion-mnist package puts it;
   tools/get-data.sh installs it). */

#ifndef CNN_DATA_DIR_DEFAULT
#define CNN_DATA_DIR_DEFAULT "/usr/share/datasets/fashion-mnist"
#endif

/* Limits for every loader. A zero field means "the default"; pass NULL for all defaults.
     max_bytes       largest buffer a loader allocates: the decoded IDX data, the float
                     images of a data set, ...                          default 1 GiB
     max_file_bytes  largest file read into memory, compressed or not
                                         default max_bytes + max_bytes/8 + 1 MiB
     max_dim         largest single IDX dimension                       default 2^30
                     (values above INT_MAX cannot be loaded as a cnn_dataset) */
typedef struct cnn_limits {
    size_t max_bytes;
    size_t max_file_bytes;
    size_t max_dim;
} cnn_limits;

CNN_API cnn_limits cnn_limits_default(void);    /* every field set to its default value */

/* IDX element types (the third magic byte). */
#define CNN_IDX_U8  0x08   /* unsigned char  "ubyte"  */
#define CNN_IDX_I8  0x09   /* signed char    "byte"   */
#define CNN_IDX_I16 0x0B   /* int16_t        "short"  */
#define CNN_IDX_I32 0x0C   /* int32_t        "int"    */
#define CNN_IDX_F32 0x0D   /* float          "float"  */
#define CNN_IDX_F64 0x0E   /* double         "double" */
#define CNN_IDX_MAX_DIMS 8 /* files with more dimensions are refused (CNN_ERR_IDX_DIMS) */

/* A decoded IDX file. data holds count*elem_size bytes in the host's byte order (so a
   CNN_IDX_F32 file's data can be read as float*), owned: release it with cnn_idx_free. */
typedef struct cnn_idx {
    int    type;                       /* one of CNN_IDX_*                                 */
    int    ndims;                      /* 1 .. CNN_IDX_MAX_DIMS                            */
    size_t dims[CNN_IDX_MAX_DIMS];     /* dims[0] is the number of items                   */
    size_t count;                      /* product of the dimensions                        */
    size_t elem_size;                  /* bytes per element: 1, 1, 2, 4, 4 or 8            */
    void  *data;                       /* never NULL after success, even when count is 0   */
    int    gzipped;                    /* 1 if the input was gzip-compressed               */
} cnn_idx;

/* "ubyte", "byte", "short", "int", "float", "double"; NULL for a byte that is no IDX type. */
CNN_API const char *cnn_idx_type_name(int type);

/* Decode an IDX file held in memory (plain or gzip). data is only read during the call. */
CNN_API cnn_status cnn_idx_read_mem(const void *data, size_t size, const cnn_limits *lim,
                                    cnn_idx *out, cnn_error *err);
#ifndef CNN_NO_STDIO
CNN_API cnn_status cnn_idx_read_file(const char *path, const cnn_limits *lim, cnn_idx *out,
                                     cnn_error *err);
#endif
CNN_API void cnn_idx_free(cnn_idx *idx);     /* frees data and zeroes *idx; NULL is fine */

/* >>gzip  gzip (RFC 1952) around DEFLATE (RFC 1951)

   cnn_crc32: the CRC-32 of gzip, zip and PNG. Start with crc = 0 and feed the previous
   result to continue: cnn_crc32(cnn_crc32(0, a, na), b, nb) == CRC of a followed by b.

   cnn_gzip_inflate: decode a whole gzip file (one member or several concatenated) into the
   caller's buffer out of out_cap bytes; *out_size gets the decoded length. It never writes
   past out_cap: more data than that is CNN_ERR_LIMIT. Header flags FTEXT, FHCRC, FEXTRA,
   FNAME and FCOMMENT are handled (FHCRC checked), reserved flags refused, and each member's
   CRC-32 and length are checked. On failure *out_size is 0 and out holds no promised data. */
CNN_API uint32_t   cnn_crc32(uint32_t crc, const void *data, size_t n);
CNN_API cnn_status cnn_gzip_inflate(const void *in, size_t in_size, void *out, size_t out_cap,
                                    size_t *out_size, cnn_error *err);

/* >>dataset  images and labels ready for training

   x holds n images of c x h x w floats (NCHW, c = 1 for IDX files) scaled from bytes to
   [0,1] (byte/255); y holds n labels in [0, classes). Release with cnn_dataset_free. */
typedef struct cnn_dataset {
    float *x;
    int   *y;
    size_t n;
    int    c, h, w;
    int    classes;
} cnn_dataset;

/* Pair an images IDX (ubyte, N x H x W) with a labels IDX (ubyte, N). classes > 0 requires
   every label to be below it; classes == 0 takes the largest label + 1. The inputs are only
   read. lim->max_bytes bounds the float array. */
CNN_API cnn_status cnn_dataset_from_idx(const cnn_idx *images, const cnn_idx *labels,
                                        int classes, const cnn_limits *lim, cnn_dataset *out,
                                        cnn_error *err);
CNN_API void cnn_dataset_free(cnn_dataset *ds);   /* frees x and y, zeroes *ds; NULL is fine */

#ifndef CNN_NO_STDIO
/* Read an images file and a labels file (each plain or .gz) into one data set. */
CNN_API cnn_status cnn_dataset_load_idx(const char *images_path, const char *labels_path,
                                        int classes, const cnn_limits *lim,
                                        cnn_dataset *out, cnn_error *err);

/* Find the directory holding the four MNIST-style files train-images-idx3-ubyte,
   train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each may end in
   .gz). Lookup order: dir when not NULL or empty (the caller's --data DIR), else $CNN_DATA_DIR
   when set and not empty, else CNN_DATA_DIR_DEFAULT. The first of these that is given is the
   one used: a missing file there is CNN_ERR_OPEN naming it, and the message says how to
   install the data. The directory's path is copied to out (out_size bytes, NUL included). */
CNN_API cnn_status cnn_dataset_find_dir(const char *dir, char *out, size_t out_size,
                                        cnn_error *err);

/* Load split "train" or "t10k" (any prefix of the MNIST file names works) from the directory
   that cnn_dataset_find_dir(dir, ...) picks, as a data set of 10 classes. */
CNN_API cnn_status cnn_dataset_load_mnist(const char *dir, const char *split,
                                          const cnn_limits *lim, cnn_dataset *out,
                                          cnn_error *err);
#endif

/* >>model  saving and loading a trained net ---------------------------------------------
   A model file is, in little-endian order whatever the host:
     "CNNHMODL"  8-byte magic          u32 version (1)
     i32 in_c, in_h, in_w, classes, order, nblocks   f32 bn_momentum, bn_eps
     per block: i32 filters, kernel_h, kernel_w, stride_h, stride_w, padding, act,
                f32 dropout, i32 pool, pool_stride, pool_type
     u64 parameter count   u64 state count   f32 parameters...   f32 batch-norm state...
     u32 CRC-32 of every byte before it
   Loading checks each field against the bytes that remain, the architecture by building it,
   both counts against that architecture and the checksum, before anything is returned.
   cnn_net_save writes a temporary file next to path, flushes it and renames it over path, so
   an interrupted save leaves the old file whole. */
CNN_API size_t     cnn_net_save_size(const cnn_net *net);
CNN_API cnn_status cnn_net_save_mem(const cnn_net *net, void *buf, size_t cap, cnn_error *err);
CNN_API cnn_status cnn_net_load_mem(cnn_net **out, const void *data, size_t size, cnn_error *err);
/* Load the parameters of a model file into an existing net of the same architecture; a file
   for another architecture is refused, naming both. */
CNN_API cnn_status cnn_net_load_params_mem(cnn_net *net, const void *data, size_t size, cnn_error *err);
#ifndef CNN_NO_STDIO
CNN_API cnn_status cnn_net_save(const cnn_net *net, const char *path, cnn_error *err);
CNN_API cnn_status cnn_net_load(cnn_net **out, const char *path, const cnn_limits *lim, cnn_error *err);
/* Write len bytes to path atomically: path.tmp.<pid-free counter>, fflush, rename. */
CNN_API cnn_status cnn_file_write_atomic(const char *path, const void *data, size_t len, cnn_error *err);
#endif

/* >>metrics  confusion matrix and the classification report -------------------------------
   matrix is classes x classes, row = true class, column = predicted class. */
typedef struct cnn_class_metrics {
    double precision, recall, f1;
    size_t support;
} cnn_class_metrics;

CNN_API cnn_status cnn_confusion_matrix(const int *truth, const int *pred, size_t n, int classes,
                                        size_t *matrix, cnn_error *err);
/* Per-class precision, recall, F1 and support (per_class has classes entries), their
   unweighted (macro) and support-weighted averages and the accuracy. A ratio whose
   denominator is zero counts as 0, as scikit-learn does by default. Any output may be NULL. */
CNN_API void cnn_metrics_compute(const size_t *matrix, int classes, cnn_class_metrics *per_class,
                                 cnn_class_metrics *macro, cnn_class_metrics *weighted,
                                 double *accuracy);
/* The report in the layout of scikit-learn's classification_report: names may be NULL (rows
   are then numbered from 0), digits as there (2 gives the study's table). Returns the length
   it needs, like snprintf. */
CNN_API size_t cnn_report_format(const size_t *matrix, int classes, const char *const *names, int digits,
                                 char *buf, size_t cap);
/* argmax of each row of probs (n, classes) */
CNN_API void cnn_argmax_rows(const float *probs, size_t n, int classes, int *pred);


#ifdef __cplusplus
}
#endif
#endif /* CNN_H */

/* ======================================================================================== */
#ifdef CNN_IMPLEMENTATION
#ifndef CNN_IMPLEMENTATION_DONE
#define CNN_IMPLEMENTATION_DONE

#include <stdarg.h>
#include <stdio.h>     /* vsnprintf for messages; FILE* functions are under !CNN_NO_STDIO */
#include <string.h>
#include <math.h>
#include <stdlib.h>    /* getenv */
#include <errno.h>     /* errno for the message of a failed fopen */
#include <limits.h>    /* INT_MAX */

/* GCC vectorises few loops below -O3 (at -O2 only those that need neither a scalar tail nor a
   runtime check that two pointers do not overlap; before GCC 12, none), and most of this file's
   time goes to such loops: a plain `cc -O2` build trained the study's base model 2.8x slower
   than `cc -O3`. So when GCC optimises for speed (-O1, -O2, -Og too), the implementation asks
   for -O3 for itself; the caller's code keeps its level, but GCC will not inline these
   functions into it (different options), which matters only with CNN_STATIC or -flto. Same
   bits as before at the default -march (SSE2 has no FMA to contract); with FMA, in GCC's GNU
   modes (which contract), -O1, -O2 and -O3 now give the bits -O3 gave. -Os and -O0 are left
   alone; define CNN_NO_OPTIMIZE_PRAGMA to keep the caller's level. "O3" alone would switch
   -Ofast's fast-math off inside and leave __FAST_MATH__ undefined after pop_options, hence
   the second form. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__INTEL_COMPILER) && !defined(__NVCOMPILER) && \
    defined(__OPTIMIZE__) && !defined(__OPTIMIZE_SIZE__) && !defined(CNN_NO_OPTIMIZE_PRAGMA)
#define CNN__O3_PRAGMA 1
#pragma GCC push_options
#ifdef __FAST_MATH__
#pragma GCC optimize("O3", "fast-math")
#else
#pragma GCC optimize("O3")
#endif
#endif

#if defined(CNN_MALLOC) && defined(CNN_FREE) && defined(CNN_REALLOC)
#elif !defined(CNN_MALLOC) && !defined(CNN_FREE) && !defined(CNN_REALLOC)
#include <stdlib.h>
#define CNN_MALLOC(sz)    malloc(sz)
#define CNN_REALLOC(p,sz) realloc(p,sz)
#define CNN_FREE(p)       free(p)
#else
#error "cnn.h: define all of CNN_MALLOC, CNN_REALLOC and CNN_FREE, or none of them"
#endif

#ifndef CNN_ASSERT
#include <assert.h>
#define CNN_ASSERT(x) assert(x)
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

/* Record a failure in err (if given) and return its status: `return cnn__fail(err, ...)`. */
static cnn_status cnn__fail(cnn_error *err, cnn_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = s;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return s;
}

static void cnn__ok(cnn_error *err) { if (err) { err->status = CNN_OK; err->msg[0] = 0; } }

/* a*b with overflow check: returns 0 and leaves *out untouched on overflow */
static int cnn__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

/* >>determinism
   Floating-point addition is not associative, so a sum split differently gives different
   bits. Every OpenMP loop in this file therefore splits only independent outputs (samples,
   channels, bands of filters, elements), never a sum: each output is summed by one thread, in
   an order that the thread count does not change. Dropout masks and shuffles are drawn by one
   thread, in order. The result: the same weights with OpenMP off, on 1 thread or on 16
   (tests/run.sh compares hashes of trained weights across builds).
   OpenMP pragmas go through _Pragma so that a build without -fopenmp sees no unknown pragma. */
#ifdef _OPENMP
#include <omp.h>
#define CNN__PRAGMA(x) _Pragma(#x)
#define CNN__OMP_FOR(cond) CNN__PRAGMA(omp parallel for schedule(static) if(cond))
#define CNN__THREADS() omp_get_max_threads()   /* for sizing scratch only, never a result */
#else
#define CNN__OMP_FOR(cond)
#define CNN__THREADS() 1
#endif
/* below this many multiply-adds a loop is not worth waking a second thread for */
#define CNN__OMP_MIN_WORK 32768

static const char *const cnn__status_names[] = {
#define CNN__NAME(name, text) #name,
    CNN_STATUS_LIST(CNN__NAME)
#undef CNN__NAME
};
static const char *const cnn__status_texts[] = {
#define CNN__TEXT(name, text) text,
    CNN_STATUS_LIST(CNN__TEXT)
#undef CNN__TEXT
};

CNN_API const char *cnn_status_name(cnn_status s)
{
    return (s >= 0 && s < CNN_STATUS_COUNT) ? cnn__status_names[s] : "CNN_ERR_UNKNOWN";
}

CNN_API const char *cnn_status_text(cnn_status s)
{
    return (s >= 0 && s < CNN_STATUS_COUNT) ? cnn__status_texts[s] : "unknown status";
}

/* >>rng implementation */
CNN_API void cnn_rng_seed(cnn_rng *r, uint64_t seed) { r->state = seed; }

/* SplitMix64: the state steps by a fixed odd constant and each output is a mix of the state */
#define CNN__RNG_GAMMA 0x9E3779B97F4A7C15ull
static uint64_t cnn__rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t cnn__rng_u64(cnn_rng *r)
{
    return cnn__rng_mix(r->state += CNN__RNG_GAMMA);
}

CNN_API uint32_t cnn_rng_u32(cnn_rng *r) { return (uint32_t)(cnn__rng_u64(r) >> 32); }

CNN_API float cnn_rng_uniform(cnn_rng *r)
{
    return (float)(cnn_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

CNN_API uint32_t cnn_rng_below(cnn_rng *r, uint32_t n)
{
    /* rejection sampling: drop the top sliver of 2^32 that n does not divide evenly */
    uint32_t limit = (uint32_t)(0u - n) % n, x;
    CNN_ASSERT(n > 0);
    do x = cnn_rng_u32(r); while (x < limit);
    return x % n;
}

CNN_API float cnn_rng_normal(cnn_rng *r)
{
    /* Box-Muller; u1 in (0,1] so the log is finite */
    double u1 = ((double)(cnn__rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(cnn__rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

CNN_API void cnn_rng_shuffle(cnn_rng *r, uint32_t *idx, size_t n)
{
    size_t i;
    for (i = n; i > 1; i--) {
        uint32_t j = cnn_rng_below(r, (uint32_t)i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* >>tensor implementation */
static void *cnn__alloc_floats(size_t count)
{
    size_t bytes;
    if (!cnn__mul_size(count ? count : 1, sizeof(float), &bytes)) return NULL;
    return CNN_MALLOC(bytes);
}

/* The net's maps and workspaces start on a 64-byte boundary (a cache line, an AVX-512 vector):
   a vector load that straddles two lines costs two, and the study's second convolution's weight
   gradient, whose loads are half from rows that start a whole number of vectors from the slice,
   took 32 -> 26 us an image (one thread) aligned. The gap before the block (1 to 64 bytes) holds
   its own length in its last byte; cnn__free_aligned steps back by it. */
static float *cnn__alloc_floats_aligned(size_t count)
{
    size_t bytes;
    unsigned char *raw, *p;
    if (!cnn__mul_size(count ? count : 1, sizeof(float), &bytes) || bytes > (size_t)-1 - 64) return NULL;
    if (!(raw = (unsigned char *)CNN_MALLOC(bytes + 64))) return NULL;
    p = raw + (64 - (size_t)((uintptr_t)raw & 63));
    p[-1] = (unsigned char)(p - raw);
    return (float *)(void *)p;
}

static void cnn__free_aligned(void *p)
{
    if (p) CNN_FREE((unsigned char *)p - ((unsigned char *)p)[-1]);
}

static void *cnn__calloc_floats(size_t count)
{
    float *p = (float *)cnn__alloc_floats(count);
    if (p) memset(p, 0, (count ? count : 1) * sizeof(float));
    return p;
}

CNN_API size_t cnn_tensor_count(const cnn_tensor *t)
{
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

CNN_API cnn_status cnn_tensor_create(cnn_tensor *t, int n, int c, int h, int w, cnn_error *err)
{
    size_t count = 1;
    t->data = NULL;
    t->n = t->c = t->h = t->w = 0;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return cnn__fail(err, CNN_ERR_ARG, "tensor: dimensions (%d,%d,%d,%d) must be positive", n, c, h, w);
    if (!cnn__mul_size(count, (size_t)n, &count) || !cnn__mul_size(count, (size_t)c, &count) ||
        !cnn__mul_size(count, (size_t)h, &count) || !cnn__mul_size(count, (size_t)w, &count) ||
        count > (size_t)-1 / sizeof(float))
        return cnn__fail(err, CNN_ERR_OVERFLOW, "tensor: (%d,%d,%d,%d) overflows size_t", n, c, h, w);
    t->data = (float *)cnn__calloc_floats(count);
    if (!t->data) return cnn__fail(err, CNN_ERR_NOMEM, "tensor: cannot allocate %zu floats", count);
    t->n = n; t->c = c; t->h = h; t->w = w;
    cnn__ok(err);
    return CNN_OK;
}

CNN_API void cnn_tensor_free(cnn_tensor *t)
{
    if (!t) return;
    CNN_FREE(t->data);
    t->data = NULL;
    t->n = t->c = t->h = t->w = 0;
}

CNN_API const char *cnn_act_name(cnn_act a)
{
    switch (a) {
    case CNN_ACT_RELU: return "relu";
    case CNN_ACT_SIGMOID: return "sigmoid";
    case CNN_ACT_TANH: return "tanh";
    case CNN_ACT_LINEAR: return "linear";
    }
    return "?";
}

CNN_API const char *cnn_pool_type_name(cnn_pool_type t)
{
    switch (t) {
    case CNN_POOL_MAX: return "max";
    case CNN_POOL_MIN: return "min";
    case CNN_POOL_AVG: return "average";
    }
    return "?";
}

/* >>conv implementation
   Every output pixel is a dot product between a filter and the input patch under it:
     y[n][k][p][q] = b[k] + sum_{c,r,s} w[k][c][r][s] * x[n][c][p*sh - pt + r][q*sw - pl + s]
   (input positions outside the image read as zero: that is the padding). */
CNN_API cnn_status cnn_conv_shape_init(cnn_conv_shape *cs, int n, int c, int h, int w, int k, int r, int s,
                                       int stride_h, int stride_w, cnn_padding pad, cnn_error *err)
{
    memset(cs, 0, sizeof *cs);
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || k <= 0 || r <= 0 || s <= 0 || stride_h <= 0 || stride_w <= 0)
        return cnn__fail(err, CNN_ERR_ARG, "conv: every size and stride must be positive "
                         "(input %dx%dx%d, %d filters %dx%d, stride %dx%d)", h, w, c, k, r, s, stride_h, stride_w);
    cs->n = n; cs->c = c; cs->h = h; cs->w = w; cs->k = k; cs->r = r; cs->s = s;
    cs->stride_h = stride_h; cs->stride_w = stride_w;
    if (pad == CNN_PAD_VALID) {
        if (h < r || w < s)
            return cnn__fail(err, CNN_ERR_SHAPE, "conv: %dx%d kernel does not fit a %dx%dx%d input with 'valid' padding",
                             r, s, h, w, c);
        cs->p = (h - r) / stride_h + 1;
        cs->q = (w - s) / stride_w + 1;
    } else {
        long long th, tw;                   /* padded extent - input: may pass INT_MAX */
        cs->p = (h - 1) / stride_h + 1;
        cs->q = (w - 1) / stride_w + 1;
        th = (long long)(cs->p - 1) * stride_h + r - h;
        tw = (long long)(cs->q - 1) * stride_w + s - w;
        if (th + h > INT_MAX || tw + w > INT_MAX)
            return cnn__fail(err, CNN_ERR_OVERFLOW, "conv: %dx%d kernel with stride %dx%d on a %dx%dx%d input: "
                             "the padded input passes INT_MAX", r, s, stride_h, stride_w, h, w, c);
        cs->pad_top = th > 0 ? (int)(th / 2) : 0;
        cs->pad_left = tw > 0 ? (int)(tw / 2) : 0;
    }
    cnn__ok(err);
    return CNN_OK;
}

/* The reference: seven nested loops, every index named. Slow and obviously right. */
CNN_API void cnn_conv_forward_naive(const cnn_conv_shape *cs, const float *x, const float *w,
                                    const float *b, float *y)
{
    int n, k, p, q, c, r, s;
    for (n = 0; n < cs->n; n++)
        for (k = 0; k < cs->k; k++)
            for (p = 0; p < cs->p; p++)
                for (q = 0; q < cs->q; q++) {
                    float acc = b ? b[k] : 0.0f;
                    for (c = 0; c < cs->c; c++)
                        for (r = 0; r < cs->r; r++) {
                            int ih = p * cs->stride_h - cs->pad_top + r;
                            if (ih < 0 || ih >= cs->h) continue;
                            for (s = 0; s < cs->s; s++) {
                                int iw = q * cs->stride_w - cs->pad_left + s;
                                if (iw < 0 || iw >= cs->w) continue;
                                acc += w[((size_t)(k * cs->c + c) * cs->r + r) * cs->s + s] *
                                       x[((size_t)(n * cs->c + c) * cs->h + ih) * cs->w + iw];
                            }
                        }
                    y[((size_t)(n * cs->k + k) * cs->p + p) * cs->q + q] = acc;
                }
}

/* The same loops run backwards: each output gradient flows to the weight and the input pixel
   that met in the forward product (chain rule on a sum of products). */
CNN_API void cnn_conv_backward_naive(const cnn_conv_shape *cs, const float *x, const float *w,
                                     const float *dy, float *dx, float *dw, float *db)
{
    int n, k, p, q, c, r, s;
    for (n = 0; n < cs->n; n++)
        for (k = 0; k < cs->k; k++)
            for (p = 0; p < cs->p; p++)
                for (q = 0; q < cs->q; q++) {
                    float g = dy[((size_t)(n * cs->k + k) * cs->p + p) * cs->q + q];
                    if (db) db[k] += g;
                    for (c = 0; c < cs->c; c++)
                        for (r = 0; r < cs->r; r++) {
                            int ih = p * cs->stride_h - cs->pad_top + r;
                            if (ih < 0 || ih >= cs->h) continue;
                            for (s = 0; s < cs->s; s++) {
                                int iw = q * cs->stride_w - cs->pad_left + s;
                                size_t wi = ((size_t)(k * cs->c + c) * cs->r + r) * cs->s + s;
                                size_t xi = ((size_t)(n * cs->c + c) * cs->h + ih) * cs->w + iw;
                                if (iw < 0 || iw >= cs->w) continue;
                                if (dw) dw[wi] += g * x[xi];
                                if (dx) dx[xi] += g * w[wi];
                            }
                        }
                }
}

/* >>gemm
   C (M,N) += op(A) (M,K) * op(B) (K,N), row-major, op = transpose or not. This is the one routine
   every convolution and dense layer ends in, written the way fast BLAS libraries are:
   - blocks of KC x MC of A and KC x NR of B are copied ("packed") into small contiguous buffers
     on the stack, in exactly the order the micro-kernel reads them, so every load is sequential;
   - the micro-kernel keeps an MR x NR tile of C in local accumulators for the whole KC loop.
     Its loops have fixed trip counts and touch only locals, so a C compiler vectorises them at
     -O2 without any intrinsics (SSE2 by default, AVX/AVX-512 with -march=native).
   Each element of C is summed by one thread, over k in ascending order, in blocks of KC that
   do not depend on the thread count: the result is the same bits for any number of threads. */
/* The tile: MR rows by NR = 2 vectors of C. With GCC or clang the kernel uses their portable
   vector types (no intrinsics: the same source compiles to SSE2, AVX2 or AVX-512 registers);
   CNN_GEMM_PORTABLE (or any other compiler) selects the plain-C kernel below it, which gives
   the same results up to rounding order and is what the tests compare both against. */
/* FLT_EVAL_METHOD: 1 or 2 means floats are evaluated wider (x87, as in -m32 without SSE), where
   vector and scalar code round differently; 0 and 16 (GCC's value in GNU mode when the target has
   AVX512-FP16: only _Float16 is widened) both mean floats are evaluated as floats. */
#include <float.h>
/* cnn__f32(v): v rounded to float. A cast does that, except where floats are evaluated wider
   (x87: FLT_EVAL_METHOD 1 or 2) under GCC's default GNU modes (-fexcess-precision=fast), which
   ignore it; a volatile store rounds there too. Batch norm needs it to recompute xhat with the
   bits a stored xhat has. */
#if defined(FLT_EVAL_METHOD) && (FLT_EVAL_METHOD == 1 || FLT_EVAL_METHOD == 2)
static float cnn__f32(float v)
{
    volatile float r = v;
    return r;
}
#else
#define cnn__f32(v) ((float)(v))
#endif
#if (defined(__GNUC__) || defined(__clang__)) && !defined(CNN_GEMM_PORTABLE) && (FLT_EVAL_METHOD == 0 || FLT_EVAL_METHOD == 16)
#define CNN__GEMM_VECTOR 1
#if defined(__AVX512F__)
#define CNN__VW 16
#define CNN_GEMM_MR 8
#elif defined(__AVX__)
#define CNN__VW 8
#define CNN_GEMM_MR 6
#else
#define CNN__VW 4
#define CNN_GEMM_MR 4
#endif
typedef float cnn__vf __attribute__((vector_size(CNN__VW * sizeof(float))));
#else
#define CNN__VW 4
#define CNN_GEMM_MR 4
#endif
#define CNN_GEMM_NR (2 * CNN__VW)
#define CNN__KC 128
#define CNN__MC 96   /* a multiple of every MR above */

/* C[mr x nr] (+)= Ap (kc x MR, packed) * B panel (kc rows of NR floats, ldbk apart): the panel
   is either packed (ldbk = NR) or read in place from B. store = 1 overwrites C instead of adding.
   bias, when not NULL, is then added to row i of the tile, bias[i], on the way out: the bits of
   a pass that adds it afterwards, without that pass over C (a convolution's whole output). */
#ifdef CNN__GEMM_VECTOR
static void cnn__gemm_kernel(int kc, const float *ap, const float *bp, int ldbk, float *c, int ldc, int mr, int nr,
                             int store, const float *bias)
{
    const cnn__vf zero = {0};
    cnn__vf acc[CNN_GEMM_MR][2], b0, b1, t;
    int k, i, j;
    for (i = 0; i < CNN_GEMM_MR; i++) acc[i][0] = acc[i][1] = zero;
    for (k = 0; k < kc; k++) {
        memcpy(&b0, bp + (size_t)k * ldbk, sizeof b0);            /* unaligned-safe loads */
        memcpy(&b1, bp + (size_t)k * ldbk + CNN__VW, sizeof b1);
        for (i = 0; i < CNN_GEMM_MR; i++) {
            /* a scalar times a vector: the compiler broadcasts straight from memory. (A vector
               made as "zero + scalar" cost a scalar add and a register broadcast per element,
               the latter on the port the FMAs need: conv 2 forward 41 -> 27 us/image.) */
            const float a = ap[(size_t)k * CNN_GEMM_MR + i];
            acc[i][0] += a * b0;
            acc[i][1] += a * b1;
        }
    }
    if (mr == CNN_GEMM_MR && nr == CNN_GEMM_NR) {
        for (i = 0; i < CNN_GEMM_MR; i++) {
            float *ci = c + (size_t)i * ldc;
            cnn__vf t1;
            if (store) {
                t = acc[i][0]; t1 = acc[i][1];
            } else {
                memcpy(&t, ci, sizeof t); t += acc[i][0];
                memcpy(&t1, ci + CNN__VW, sizeof t1); t1 += acc[i][1];
            }
            if (bias) { t += bias[i]; t1 += bias[i]; }
            memcpy(ci, &t, sizeof t);
            memcpy(ci + CNN__VW, &t1, sizeof t1);
        }
    } else {
        float tile[CNN_GEMM_MR][CNN_GEMM_NR];
        memcpy(tile, acc, sizeof tile);
        for (i = 0; i < mr; i++)
            for (j = 0; j < nr; j++) {
                float *cij = c + (size_t)i * ldc + j;
                *cij = (store ? 0.0f : *cij) + tile[i][j];
                if (bias) *cij += bias[i];
            }
    }
}
#else
static void cnn__gemm_kernel(int kc, const float *ap, const float *bp, int ldbk, float *c, int ldc, int mr, int nr,
                             int store, const float *bias)
{
    float acc[CNN_GEMM_MR][CNN_GEMM_NR];
    int k, i, j;
    for (i = 0; i < CNN_GEMM_MR; i++)
        for (j = 0; j < CNN_GEMM_NR; j++) acc[i][j] = 0.0f;
    for (k = 0; k < kc; k++) {
        const float *a = ap + (size_t)k * CNN_GEMM_MR, *b = bp + (size_t)k * ldbk;
        for (i = 0; i < CNN_GEMM_MR; i++) {
            const float av = a[i];
            for (j = 0; j < CNN_GEMM_NR; j++) acc[i][j] += av * b[j];
        }
    }
    for (i = 0; i < mr; i++)
        for (j = 0; j < nr; j++) {   /* cnn__f32: the sum rounded to float before the bias, also on x87 */
            float *cij = c + (size_t)i * ldc + j;
            const float v = cnn__f32((store ? 0.0f : *cij) + acc[i][j]);
            *cij = bias ? v + bias[i] : v;
        }
}
#endif

/* Packs rows [i0, i0+mc) x columns [k0, k0+kc) of op(A) as panels of MR rows, k-major inside a
   panel, zero-padded to a whole panel: the order in which the micro-kernel reads them. */
static void cnn__gemm_pack_a(int ta, int i0, int mc, int k0, int kc, const float *A, int lda, float *ap)
{
    int i, ii, k;
    for (i = 0; i < mc; i += CNN_GEMM_MR) {
        float *dst = ap + (size_t)i * kc;
        for (ii = 0; ii < CNN_GEMM_MR; ii++) {
            const int r = i0 + i + ii;
            if (i + ii >= mc) {
                for (k = 0; k < kc; k++) dst[k * CNN_GEMM_MR + ii] = 0.0f;
            } else if (ta) {
                for (k = 0; k < kc; k++) dst[k * CNN_GEMM_MR + ii] = A[(size_t)(k0 + k) * lda + r];
            } else {
                const float *src = A + (size_t)r * lda + k0;
                for (k = 0; k < kc; k++) dst[k * CNN_GEMM_MR + ii] = src[k];
            }
        }
    }
}

/* C[0..mc) x [0..N) (+)= packed A block (mc x kc) * op(B)[k0..k0+kc) x [0..N), one NR-wide panel of
   B at a time; then + bias[i] on row i, when bias is not NULL */
static void cnn__gemm_block(int tb, int mc, int N, int k0, int kc, const float *ap, const float *B, int ldb,
                            float *C, int ldc, int store, const float *bias)
{
    float bp[CNN__KC * CNN_GEMM_NR];
    int j0, i, j, k;
    for (j0 = 0; j0 < N; j0 += CNN_GEMM_NR) {
        const int nr = N - j0 < CNN_GEMM_NR ? N - j0 : CNN_GEMM_NR;
        const float *panel = bp;
        int ldbk = CNN_GEMM_NR;
        if (!tb && nr == CNN_GEMM_NR) {          /* full-width rows of B: read in place */
            panel = B + (size_t)k0 * ldb + j0;
            ldbk = ldb;
        } else if (tb) {                         /* B^T: read each row of B once */
            for (j = 0; j < CNN_GEMM_NR; j++) {
                const float *src = B + (size_t)(j0 + j) * ldb + k0;
                if (j < nr) for (k = 0; k < kc; k++) bp[(size_t)k * CNN_GEMM_NR + j] = src[k];
                else for (k = 0; k < kc; k++) bp[(size_t)k * CNN_GEMM_NR + j] = 0.0f;
            }
        } else {                                 /* the ragged right edge, zero-padded */
            for (k = 0; k < kc; k++)
                for (j = 0; j < CNN_GEMM_NR; j++)
                    bp[(size_t)k * CNN_GEMM_NR + j] = j < nr ? B[(size_t)(k0 + k) * ldb + j0 + j] : 0.0f;
        }
        for (i = 0; i < mc; i += CNN_GEMM_MR)
            cnn__gemm_kernel(kc, ap + (size_t)i * kc, panel, ldbk, C + (size_t)i * ldc + j0, ldc,
                             mc - i < CNN_GEMM_MR ? mc - i : CNN_GEMM_MR, nr, store, bias ? bias + i : NULL);
    }
}

/* ta/tb: 0 = use A (B) as stored, 1 = use its transpose. lda/ldb/ldc: row strides as stored.
   store = 1: C = op(A) op(B), overwriting C; store = 0: C += op(A) op(B). Only plain-C builds
   call it (weight gradients, the dense layer's input gradient); vector builds have loops of
   their own for those and cnn__gemm_prepacked for the rest. */
#ifndef CNN__GEMM_VECTOR
static void cnn__gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int store)
{
    float ap[CNN__MC * CNN__KC];
    int k0, i0, i;
    if (K == 0 && store)
        for (i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
    for (k0 = 0; k0 < K; k0 += CNN__KC) {
        const int kc = K - k0 < CNN__KC ? K - k0 : CNN__KC;
        for (i0 = 0; i0 < M; i0 += CNN__MC) {
            const int mc = M - i0 < CNN__MC ? M - i0 : CNN__MC;
            cnn__gemm_pack_a(ta, i0, mc, k0, kc, A, lda, ap);
            cnn__gemm_block(tb, mc, N, k0, kc, ap, B, ldb, C + (size_t)i0 * ldc, ldc, store && k0 == 0, NULL);
        }
    }
}
#endif

/* The same product with all of op(A) packed once beforehand (cnn__gemm_pack), for an A that many
   products share, like a layer's weights across the samples of a batch. The packed A holds
   cnn__gemm_packed_floats(M, K) floats: k-blocks one after the other, each the M rows rounded up
   to whole panels, so the block (k0, i0) starts at k0 * Mpad + i0 * kc. Same bits as cnn__gemm. */
static size_t cnn__gemm_packed_floats(int M, int K)
{
    return (size_t)((M + CNN_GEMM_MR - 1) / CNN_GEMM_MR * CNN_GEMM_MR) * (size_t)K;
}

static void cnn__gemm_pack(int ta, int M, int K, const float *A, int lda, float *pa)
{
    const size_t mpad = (size_t)(M + CNN_GEMM_MR - 1) / CNN_GEMM_MR * CNN_GEMM_MR;
    int k0, i0;
    for (k0 = 0; k0 < K; k0 += CNN__KC) {
        const int kc = K - k0 < CNN__KC ? K - k0 : CNN__KC;
        for (i0 = 0; i0 < M; i0 += CNN__MC)
            cnn__gemm_pack_a(ta, i0, M - i0 < CNN__MC ? M - i0 : CNN__MC, k0, kc, A, lda,
                             pa + (size_t)k0 * mpad + (size_t)i0 * kc);
    }
}

/* bias: as in cnn__gemm_block, added in the last block of K */
static void cnn__gemm_prepacked(int tb, int M, int N, int K, const float *pa, const float *B, int ldb, float *C,
                                int ldc, int store, const float *bias)
{
    const size_t mpad = (size_t)(M + CNN_GEMM_MR - 1) / CNN_GEMM_MR * CNN_GEMM_MR;
    int k0, i0, i, j;
    if (K == 0)
        for (i = 0; i < M; i++)
            for (j = 0; j < N; j++) {
                float *cij = C + (size_t)i * ldc + j;
                if (store) *cij = 0.0f;
                if (bias) *cij += bias[i];
            }
    for (k0 = 0; k0 < K; k0 += CNN__KC) {
        const int kc = K - k0 < CNN__KC ? K - k0 : CNN__KC;
        for (i0 = 0; i0 < M; i0 += CNN__MC)
            cnn__gemm_block(tb, M - i0 < CNN__MC ? M - i0 : CNN__MC, N, k0, kc, pa + (size_t)k0 * mpad + (size_t)i0 * kc,
                            B, ldb, C + (size_t)i0 * ldc, ldc, store && k0 == 0,
                            bias && k0 + kc == K ? bias + i0 : NULL);
    }
}

#ifdef CNN__GEMM_VECTOR
/* out[r] = cnn__dot(a, b[r], n) (the plain-C build's, below) for r < 4, the same sums lane for
   lane, with the eight lanes as one vector: four independent chains of multiply-adds and one
   load of a for four. (GCC at -O3 -march=native with AVX-512 turns cnn__dot's lane loop into
   shuffles, 5-9x slower than this, and without its multiply-adds contracted: this one
   contracts as every other build does.) */
typedef float cnn__v8 __attribute__((vector_size(8 * sizeof(float))));
static void cnn__dot4(const float *a, const float *const *b, int n, float *out)
{
    cnn__v8 s[4] = {{0}}, av, bv;
    float t[8];
    int i, r, j;
    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&av, a + i, sizeof av);
        for (r = 0; r < 4; r++) {
            memcpy(&bv, b[r] + i, sizeof bv);
            s[r] += av * bv;
        }
    }
    for (r = 0; r < 4; r++) {
        memcpy(t, &s[r], sizeof t);
        for (j = i; j < n; j++) t[0] += a[j] * b[r][j];
        out[r] = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
    }
}
#else
/* dot product with eight independent partial sums: lets the compiler use vector lanes without
   -ffast-math, and fixes the summation order once and for all */
static float cnn__dot(const float *a, const float *b, int n)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i, l;
    for (i = 0; i + 8 <= n; i += 8)
        for (l = 0; l < 8; l++) s[l] += a[i + l] * b[i + l];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}
#endif

/* C99's restrict where the compiler has it: it promises the compiler that an output does not
   overlap an input, which is what lets the plain loops below vectorise at -O2 */
#if defined(__cplusplus) || !defined(__STDC_VERSION__) || __STDC_VERSION__ < 199901L
#if defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER)
#define CNN__RESTRICT __restrict
#else
#define CNN__RESTRICT
#endif
#else
#define CNN__RESTRICT restrict
#endif

/* sum of x[0..n), with 16 partial sums in a fixed order (vectorisable, and the same bits on
   every run) */
static float cnn__sum(const float *CNN__RESTRICT x, size_t n)
{
    float s[16] = {0};
    size_t i;
    int l;
    for (i = 0; i + 16 <= n; i += 16)
        for (l = 0; l < 16; l++) s[l] += x[i + l];
    for (; i < n; i++) s[0] += x[i];
    for (l = 8; l > 0; l /= 2) {
        int j;
        for (j = 0; j < l; j++) s[j] += s[j + l];
    }
    return s[0];
}

/* the sum of (a - ca) * (b - cb): about a centre, for the first block's Gram matrices
   (cnn__block0_plane_stats) and, with a = b, batch norm's sum of squared deviations
   (cnn__bn_plane_stats; both pointers only read, so restrict allows them equal); 16 float
   lanes in a fixed order, as cnn__sum */
static float cnn__sum_cprod(const float *CNN__RESTRICT a, float ca, const float *CNN__RESTRICT b, float cb, size_t n)
{
    float s[16] = {0};
    size_t i;
    int l;
    for (i = 0; i + 16 <= n; i += 16)
        for (l = 0; l < 16; l++) s[l] += (a[i + l] - ca) * (b[i + l] - cb);
    for (; i < n; i++) s[0] += (a[i] - ca) * (b[i] - cb);
    for (l = 8; l > 0; l /= 2) {
        int j;
        for (j = 0; j < l; j++) s[j] += s[j + l];
    }
    return s[0];
}
/* sum of a * xh with xh = (b - c) * sc: batch norm's xhat, recomputed from its input (c = the
   mean, sc = invstd) or passed as b itself (c = 0, sc = 1, which gives b's exact bits); cnn__f32
   rounds xh to float where floats are evaluated wider (x87), as a stored xhat would be. */
static float cnn__sum_prod(const float *CNN__RESTRICT a, const float *CNN__RESTRICT b, float c, float sc, size_t n)
{
    float s[16] = {0};
    size_t i;
    int l;
    for (i = 0; i + 16 <= n; i += 16)
        for (l = 0; l < 16; l++) s[l] += a[i + l] * cnn__f32((b[i + l] - c) * sc);
    for (; i < n; i++) s[0] += a[i] * cnn__f32((b[i] - c) * sc);
    for (l = 8; l > 0; l /= 2) {
        int j;
        for (j = 0; j < l; j++) s[j] += s[j + l];
    }
    return s[0];
}

/* g = (y > 0 ? dy : 0), the gradient behind a ReLU with output y, as a select on the bits. The
   plain ?: inside the 16-lane sums below is miscompiled by GCC 12 at -O3 -march=x86-64-v3 (it
   loses lanes: tests/test_layers.c caught it); the bit select says the same and is not. */
static float cnn__relu_grad(float dy, float y)
{
    uint32_t b;
    memcpy(&b, &dy, sizeof b);
    b &= 0u - (uint32_t)(y > 0.0f);
    memcpy(&dy, &b, sizeof dy);
    return dy;
}

/* v where k is 1, +0 where it is 0 (k from cnn__dropout_forward_keep). Against the dropout and
   ReLU backwards it replaces, a dropped entry with y > 0 gives +0 where they give dy * 0 = -0
   for dy < 0: a zero of the other sign, which changes no sum it is added to (x + -0 = x + 0 for
   every x, -0 + +0 = +0, and these sums start at +0). */
static float cnn__keep_grad(float v, unsigned char k)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    b &= 0u - (uint32_t)k;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* the gradients behind a sigmoid and a tanh with output y: y' = y (1 - y) and 1 - y^2 */
#define CNN__SIGMOID_GRAD(dy, y) ((dy) * (y) * (1.0f - (y)))
#define CNN__TANH_GRAD(dy, y) ((dy) * (1.0f - (y) * (y)))

/* the same two sums as cnn__sum and cnn__sum_prod of g, in the same lanes: a batch norm fused
   with the ReLU after it gets the bits the two layers give */
static float cnn__sum_relu(const float *CNN__RESTRICT dy, const float *CNN__RESTRICT y, size_t n)
{
    float s[16] = {0};
    size_t i;
    int l;
    for (i = 0; i + 16 <= n; i += 16)
        for (l = 0; l < 16; l++) s[l] += cnn__relu_grad(dy[i + l], y[i + l]);
    for (; i < n; i++) s[0] += cnn__relu_grad(dy[i], y[i]);
    for (l = 8; l > 0; l /= 2) {
        int j;
        for (j = 0; j < l; j++) s[j] += s[j + l];
    }
    return s[0];
}

static float cnn__sum_prod_relu(const float *CNN__RESTRICT dy, const float *CNN__RESTRICT y,
                                const float *CNN__RESTRICT b, float c, float sc, size_t n)
{
    float s[16] = {0};
    size_t i;
    int l;
    for (i = 0; i + 16 <= n; i += 16)
        for (l = 0; l < 16; l++) s[l] += cnn__relu_grad(dy[i + l], y[i + l]) * cnn__f32((b[i + l] - c) * sc);
    for (; i < n; i++) s[0] += cnn__relu_grad(dy[i], y[i]) * cnn__f32((b[i] - c) * sc);
    for (l = 8; l > 0; l /= 2) {
        int j;
        for (j = 0; j < l; j++) s[j] += s[j + l];
    }
    return s[0];
}

/* dx = k * (dy - a - xhat * b) for one plane, xhat recomputed from x as (x - mu) * sc (or given,
   mu = 0, sc = 1): the batch norm's backward and the convolution before it that takes its
   gradient row by row (cnn__bn_gen) share it, so both give the same bits */
static void cnn__bn_dx_row(const float *CNN__RESTRICT dy, const float *CNN__RESTRICT x, float mu, float sc, float k,
                           float a, float b, float *CNN__RESTRICT dx, size_t hw)
{
    size_t i;
    for (i = 0; i < hw; i++) dx[i] = k * (dy[i] - a - cnn__f32((x[i] - mu) * sc) * b);
}

/* >>conv im2col + GEMM
   im2col unfolds one sample into a (C*R*S, P*Q) matrix whose column (p,q) is the patch under
   output pixel (p,q). Then the whole convolution of that sample is one matrix product:
     y_n (K, P*Q) = w (K, C*R*S) * col_n (C*R*S, P*Q)
   and backward is two more:
     dw (K, C*R*S) += sum_n dy_n (K,P*Q) * col_n^T        dcol_n = w^T * dy_n  -> col2im -> dx_n
   The weight gradient is formed as dot products along the output pixels (below), where the
   compiler has vector types; the plain-C build computes it transposed as a GEMM, dw^T (C*R*S, K) =
   sum_n col_n * dy_n^T, in scratch space after the columns: that way the GEMM streams col_n as
   stored and only packs dy_n, and its tile runs along K. */
#ifdef CNN__GEMM_VECTOR
/* >>conv weight gradient, inner-product form
   dw[k][j] = sum_n sum_i dy_n[k][i] * col_n[j][i] sums over the output pixel i, which both dy_n and
   col_n store contiguously. So instead of packing (transposing) one of them for the GEMM kernel,
   a tile of 4 rows of col_n and 4 rows of dy_n is multiplied lane by lane along i: 16 vector
   sums in registers, 8 loads per 16 FMAs, no copy at all. The lanes of every sum are kept in the
   scratch across the samples of the batch and added up once at the end (a horizontal sum per
   sample would cost as much as a short dot product itself). */
#define CNN__DW_T 4

static size_t cnn__conv_dw_lanes_floats(int crs, int k)
{
    return (size_t)((crs + CNN__DW_T - 1) / CNN__DW_T) * (size_t)((k + CNN__DW_T - 1) / CNN__DW_T) *
           CNN__DW_T * CNN__DW_T * CNN__VW;
}

/* one vector from or to any address (memcpy: no alignment assumed) */
static cnn__vf cnn__vload(const float *p)
{
    cnn__vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

typedef int32_t cnn__vi __attribute__((vector_size(CNN__VW * sizeof(int32_t))));
static cnn__vi cnn__vload_i(const int32_t *p)
{
    cnn__vi v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* the lanes of u where mask b is set, of s elsewhere (b: all ones or zero in each lane) */
static cnn__vf cnn__vsel(cnn__vi b, cnn__vf u, cnn__vf s)
{
    return (cnn__vf)(((cnn__vi)u & b) | ((cnn__vi)s & ~b));
}

static void cnn__vstore(float *p, cnn__vf v)
{
    memcpy(p, &v, sizeof v);
}

/* lanes[r][c] += a[r][i] * b[c][i] lane by lane, over i < n (the tail zero-padded). The tail
   is a function of its own, kept out of line: its partial copies in the same function would make
   GCC keep the main loop's accumulators in memory and copy them through the stack each call. */
__attribute__((noinline)) static void cnn__conv_dw_tile_tail(int i, int n, const float *const *a,
                                                            const float *const *b, float *lanes)
{
    const cnn__vf zero = {0};
    cnn__vf av[CNN__DW_T], bv[CNN__DW_T], t;
    int r, c;
    for (r = 0; r < CNN__DW_T; r++) { av[r] = zero; memcpy(&av[r], a[r] + i, (size_t)(n - i) * sizeof(float)); }
    for (c = 0; c < CNN__DW_T; c++) { bv[c] = zero; memcpy(&bv[c], b[c] + i, (size_t)(n - i) * sizeof(float)); }
    for (r = 0; r < CNN__DW_T; r++)
        for (c = 0; c < CNN__DW_T; c++) {
            float *l = lanes + (r * CNN__DW_T + c) * CNN__VW;
            memcpy(&t, l, sizeof t);
            t += av[r] * bv[c];
            memcpy(l, &t, sizeof t);
        }
}

/* The same for ns samples in a row, a and b holding CNN__DW_T rows of each in turn, the sums
   kept in registers from one sample to the next: the lanes go through memory once per ns
   samples. Their order is that of one sample at a time (sample by sample, i in order within
   one), so the same bits. A tail (n not a whole number of vectors) only with ns = 1. */
#define CNN__DW_MB 4   /* samples per call at most */
static void cnn__conv_dw_tile(int n, int ns, const float *const *a, const float *const *b, float *lanes)
{
    cnn__vf acc[CNN__DW_T * CNN__DW_T], av[CNN__DW_T], bv[CNN__DW_T];
    int i = 0, r, c, m;
    CNN_ASSERT(ns == 1 || n % CNN__VW == 0);
    /* unrolled by request: GCC 12 unrolls these two loops too late to keep acc in registers and
       copied it through the stack on every call instead (29% of this function's time) */
#pragma GCC unroll 16
    for (r = 0; r < CNN__DW_T * CNN__DW_T; r++) acc[r] = cnn__vload(lanes + r * CNN__VW);
    for (m = 0; m < ns; m++, a += CNN__DW_T, b += CNN__DW_T)
        for (i = 0; i + CNN__VW <= n; i += CNN__VW) {
            for (r = 0; r < CNN__DW_T; r++) av[r] = cnn__vload(a[r] + i);
            for (c = 0; c < CNN__DW_T; c++) bv[c] = cnn__vload(b[c] + i);
            for (r = 0; r < CNN__DW_T; r++)
                for (c = 0; c < CNN__DW_T; c++) acc[r * CNN__DW_T + c] += av[r] * bv[c];
        }
#pragma GCC unroll 16
    for (r = 0; r < CNN__DW_T * CNN__DW_T; r++) cnn__vstore(lanes + r * CNN__VW, acc[r]);
    if (i < n) cnn__conv_dw_tile_tail(i, n, a - CNN__DW_T, b - CNN__DW_T, lanes);
}

/* Where row j of sample m of the two operands starts: col_n's rows (wide = 0), or for the wide
   convolution below, input channel j / RS shifted by the kernel offset (j % RS) */
/* b's rows made on the fly from the batch norm after the convolution: row k of sample m is that
   batch norm's dx for channel k (cnn__bn_dx_row), written into buf just before the band that
   owns row k uses it, and summed into the bias gradient db; so the first convolution of a net
   never writes or reads its output gradient as a whole map. Only with bands that split K.
   cnn__conv_backward_pool_gen reads dy, x, arg, mean, invstd and kab. */
typedef struct cnn__bn_gen {
    const float *dy, *x;      /* the batch norm's output gradient and input, (N, K, n), or with arg
                                 the output gradient and output of a 2x2 max/min pool after it */
    const float *mean, *invstd, *kab;   /* per channel; kab: k, a and b, K floats each */
    /* cnn__conv_backward_pool_gen, which makes the batch norm's backward too: the batch's mean
       in double, each sample's scatter matrix and mean of its patches (cnn__block0_plane_stats),
       the batch norm's input at the pool's picks, its gamma and their gradients */
    const double *mean_d, *smu;
    const float *xs, *gamma;
    const float *mask;        /* a dropout's mask right after that pool, or NULL: dy is then the
                                 dropout's output gradient, and its backward (dy * mask) is made
                                 here, the same bits, instead of in a pass of its own */
    const unsigned char *keep;   /* or, with a ReLU before the pool, whether each entry passed
                                    both (cnn__dropout_forward_keep), and the mask's nonzero value */
    float scale;
    float *dgamma, *dbeta;
    const int32_t *arg;       /* that pool's picks, or NULL */
    cnn_act act;              /* with arg: the activation between the batch norm and the pool */
    float *db;                /* the convolution's bias gradient, or NULL */
    float *buf;               /* 4 * CNN__DW_T rows of n floats per band */
} cnn__bn_gen;
typedef struct cnn__dw_rows {
    const float *a, *b;       /* sample 0's first row of each operand (b: NULL with gen) */
    const float *a_last;      /* or NULL: the last sample's a, where it is not a + (nsamp - 1) * a_per */
    int nsamp;                /* the samples, with a_last */
    size_t a_per, b_per;      /* floats from one sample to the next */
    size_t a_row, b_row;      /* floats from one row to the next (a: one channel to the next if wide) */
    int wide, rs, s, w;       /* wide: row j is channel j / rs at offset ((j % rs) / s) * w + (j % rs) % s */
    int n;                    /* length of every row: the summed index runs over it */
    const cnn__bn_gen *gen;   /* or NULL */
} cnn__dw_rows;

static const float *cnn__dw_arow(const cnn__dw_rows *d, int m, int j)
{
    const float *base = d->a_last && m == d->nsamp - 1 ? d->a_last : d->a + (size_t)m * d->a_per;
    if (!d->wide) return base + (size_t)j * d->a_row;
    return base + (size_t)(j / d->rs) * d->a_row + (size_t)((j % d->rs) / d->s) * d->w + (size_t)((j % d->rs) % d->s);
}

/* the rows of tile tc of a, then of tile tk of b (or of the band's rows in gbuf), for samples
   m0..m0+mb-1: CNN__DW_T pointers per sample */
static void cnn__dw_arows(const cnn__dw_rows *d, int m0, int mb, int tc, int crs, const float **a)
{
    int m, r;
    for (m = 0; m < mb; m++)
        for (r = 0; r < CNN__DW_T; r++)
            a[m * CNN__DW_T + r] = cnn__dw_arow(d, m0 + m, tc * CNN__DW_T + r < crs ? tc * CNN__DW_T + r : crs - 1);
}

static void cnn__dw_brows(const cnn__dw_rows *d, const float *gbuf, int m0, int mb, int tk, int k0, int K, const float **b)
{
    int m, r;
    for (m = 0; m < mb; m++)
        for (r = 0; r < CNN__DW_T; r++) {
            const int row = tk * CNN__DW_T + r < K ? tk * CNN__DW_T + r : K - 1;
            b[m * CNN__DW_T + r] = gbuf ? gbuf + (size_t)(row - k0 * CNN__DW_T) * d->n
                                        : d->b + (size_t)(m0 + m) * d->b_per + (size_t)row * d->b_row;
        }
}

/* The tiles are split into bands of 4 along whichever of C*R*S and K has more of them; a band
   belongs to one thread, which runs through the samples in order, so every sum is formed in the
   same order for any thread count. Rows past the end of col or dy repeat the last row: their
   sums are computed and dropped. Samples go CNN__DW_MB at a time through each tile (but one at a
   time with gen, or a tail); with bands along C*R*S the band's rows of a are found once per
   group of samples and the tiles run along K outside, along C*R*S inside, so that what one
   group reads stays in L1: the study's second convolution's lanes are 512 KB, and one sample
   per tile had them cross from L2 and back for every 160 multiply-adds a lane (conv 2's weight
   gradient at 37 GFLOP/s). A thread takes a group of consecutive bands, at least one group per
   thread and no more than CNN__DW_GROUP bytes of lanes in one, and runs the samples outside the
   bands: each sample's rows of b are then read once per group, while they are in L2, rather
   than once per band (study model 16's second convolution: 8 bands a thread each read all of
   b, 84 KB a sample; `tools/bench --conv 64,26,26,32,2,2`, its weight gradient at batch 32 on
   2 threads, went from 63.6 to 55.5 us an image). Which thread or group computes a band changes
   no sum. */
#define CNN__DW_GROUP ((size_t)512 * 1024)
/* band's tiles: [c0, c1) along C*R*S and [k0, k1) along K, 4 of the bt tiles on the split axis */
static void cnn__dw_band(int band, int bt, int by_c, int ct, int kt, int *c0, int *c1, int *k0, int *k1)
{
    const int t0 = band * 4, t1 = t0 + 4 < bt ? t0 + 4 : bt;
    *c0 = by_c ? t0 : 0; *c1 = by_c ? t1 : ct; *k0 = by_c ? 0 : t0; *k1 = by_c ? kt : t1;
}

static void cnn__conv_dw_inner(const cnn_conv_shape *cs, const cnn__dw_rows *d, float *dw, float *lanes)
{
    const int K = cs->k, CRS = cs->c * cs->r * cs->s, N = cs->n, T = CNN__DW_T;
    const int ct = (CRS + T - 1) / T, kt = (K + T - 1) / T, by_c = ct >= kt, bt = by_c ? ct : kt;
    const int bands = (bt + 3) / 4, mb_max = d->gen || d->n % CNN__VW ? 1 : CNN__DW_MB;
    const size_t tile = (size_t)T * T * CNN__VW, all = (size_t)ct * kt * tile * sizeof(float);
    const int want = (int)((all + CNN__DW_GROUP - 1) / CNN__DW_GROUP), threads = CNN__THREADS();
    const int at_least = want > threads ? want : threads, groups = bands < at_least ? bands : at_least;
    int g, j;
    CNN_ASSERT(!d->gen || !by_c);
    CNN__OMP_FOR(groups > 1 && (double)N * K * d->n * CRS > CNN__OMP_MIN_WORK)
    for (g = 0; g < groups; g++) {
        const int b0 = g * bands / groups, b1 = (g + 1) * bands / groups;
        int band, m0, tc, tk, r, c0, c1, k0, k1;
        for (band = b0; band < b1; band++) {   /* the group's own lanes, cleared by its thread */
            cnn__dw_band(band, bt, by_c, ct, kt, &c0, &c1, &k0, &k1);
            for (tc = c0; tc < c1; tc++)
                memset(lanes + (size_t)(tc * kt + k0) * tile, 0, (size_t)(k1 - k0) * tile * sizeof(float));
        }
        for (m0 = 0; m0 < N; m0 += mb_max)
            for (band = b0; band < b1; band++) {
                const int mb = N - m0 < mb_max ? N - m0 : mb_max;
                const float *a[4][CNN__DW_MB * CNN__DW_T], *b[CNN__DW_MB * CNN__DW_T];
                float *gbuf = d->gen ? d->gen->buf + (size_t)band * 4 * T * d->n : NULL;
                cnn__dw_band(band, bt, by_c, ct, kt, &c0, &c1, &k0, &k1);
                if (d->gen) {   /* this band's rows of b for sample m0 (mb = 1) */
                    const cnn__bn_gen *gen = d->gen;
                    for (r = k0 * T; r < k1 * T && r < K; r++) {
                        const size_t off = ((size_t)m0 * K + r) * d->n;
                        float *row = gbuf + (size_t)(r - k0 * T) * d->n;
                        cnn__bn_dx_row(gen->dy + off, gen->x + off, gen->mean[r], gen->invstd[r], gen->kab[r],
                                       gen->kab[K + r], gen->kab[2 * K + r], row, (size_t)d->n);
                        if (gen->db) gen->db[r] += cnn__sum(row, (size_t)d->n);
                    }
                }
                if (by_c) {   /* the band's rows of a found once; along K outside, C*R*S inside */
                    for (tc = c0; tc < c1; tc++) cnn__dw_arows(d, m0, mb, tc, CRS, a[tc - c0]);
                    for (tk = k0; tk < k1; tk++) {
                        cnn__dw_brows(d, gbuf, m0, mb, tk, k0, K, b);
                        for (tc = c0; tc < c1; tc++)
                            cnn__conv_dw_tile(d->n, mb, a[tc - c0], b, lanes + (size_t)(tc * kt + tk) * tile);
                    }
                } else {
                    for (tc = c0; tc < c1; tc++) {
                        cnn__dw_arows(d, m0, mb, tc, CRS, a[0]);
                        for (tk = k0; tk < k1; tk++) {
                            cnn__dw_brows(d, gbuf, m0, mb, tk, k0, K, b);
                            cnn__conv_dw_tile(d->n, mb, a[0], b, lanes + (size_t)(tc * kt + tk) * tile);
                        }
                    }
                }
            }
    }
    /* dw[k][j] += the lanes of sum (j, k), added in lane order */
    CNN__OMP_FOR(CRS > 1 && (double)CRS * K * CNN__VW > CNN__OMP_MIN_WORK)
    for (j = 0; j < CRS; j++) {
        int k, l;
        for (k = 0; k < K; k++) {
            const float *v = lanes + (size_t)((j / T) * kt + k / T) * tile + (size_t)((j % T) * T + k % T) * CNN__VW;
            float sum = 0.0f;
            for (l = 0; l < CNN__VW; l++) sum += v[l];
            dw[(size_t)k * CRS + j] += sum;
        }
    }
}
#endif

#ifdef CNN__GEMM_VECTOR
/* >>conv wide: stride 1, no padding, several input channels
   Then output pixel (p,q) of filter tap (r,s) reads x[c][(p+r)*W + q+s]: over the "wide" index
   i = p*W + q, with q running over whole input rows, that is x_c shifted by r*W + s, a plain
   contiguous run. So the convolution is R*S GEMMs that read the input in place, with no im2col:
     y_wide (K, NW) = sum over (r,s) of w_rs (K, C) * x shifted by r*W+s (C, NW),  NW = (P-1)*W + Q
   whose columns q >= Q (wrapped into the next row) are dropped. Backward is the same in reverse:
   dy is spread over the wide index with zeros in those columns, dx (shifted by r*W+s) +=
   w_rs^T dy_wide, and dw is the lane-wise dot products above with the shifted input rows. Each
   sample's slice of the workspace holds a copy of its input (backward has no other) and then
   y_wide or dy_wide; the condition below checks they fit. For the study's second convolution
   (64 channels, 2x2 filters) this skips writing and reading a 4x larger im2col matrix. */
/* Backward pads dy_wide's rows with zeros to whole vectors, so the weight gradient's dot products
   run without a partial vector at the end (its copies cost more than the rest of a short row):
   their last vector reads up to CNN__VW - 1 floats past an input row, from the next channel or
   dy_wide, always inside the sample's slice, and multiplies them by those zeros, which adds
   nothing (the bits of the unpadded sums) as long as the input is finite. */
static size_t cnn__wide_padded(size_t nw)
{
    return (nw + CNN__VW - 1) / CNN__VW * CNN__VW;
}
static int cnn__conv_wide(const cnn_conv_shape *cs)
{
    const size_t hw = (size_t)cs->h * cs->w, nw = (size_t)(cs->p - 1) * cs->w + (size_t)cs->q;
    return cs->c >= 8 && cs->r * cs->s > 1 && cs->stride_h == 1 && cs->stride_w == 1 && cs->pad_top == 0 &&
           cs->pad_left == 0 && cs->p == cs->h - cs->r + 1 && cs->q == cs->w - cs->s + 1 &&
           (size_t)cs->c * hw + (size_t)cs->k * cnn__wide_padded(nw) <= (size_t)cs->c * cs->r * cs->s * cs->p * cs->q;
}

/* scratch: the weights regrouped by tap, wr[rs][k][c], then each tap's w_rs (or w_rs^T) packed */
static size_t cnn__conv_wide_scratch_floats(const cnn_conv_shape *cs)
{
    const size_t a = cnn__gemm_packed_floats(cs->k, cs->c), b = cnn__gemm_packed_floats(cs->c, cs->k);
    return (size_t)cs->k * cs->c * cs->r * cs->s + (size_t)cs->r * cs->s * (a > b ? a : b);
}

static float *cnn__conv_wide_pack(const cnn_conv_shape *cs, const float *w, float *scratch, int transpose)
{
    const int K = cs->k, C = cs->c, RS = cs->r * cs->s;
    const size_t kc = (size_t)K * C, psz = transpose ? cnn__gemm_packed_floats(C, K) : cnn__gemm_packed_floats(K, C);
    float *wr = scratch, *pw = scratch + kc * RS;
    int k, c, t;
    for (k = 0; k < K; k++)
        for (c = 0; c < C; c++)
            for (t = 0; t < RS; t++) wr[(size_t)t * kc + (size_t)k * C + c] = w[((size_t)k * C + c) * RS + t];
    for (t = 0; t < RS; t++)
        if (transpose) cnn__gemm_pack(1, C, K, wr + (size_t)t * kc, C, pw + (size_t)t * psz);
        else cnn__gemm_pack(0, K, C, wr + (size_t)t * kc, C, pw + (size_t)t * psz);
    return pw;
}

/* The forward GEMMs' width: nw rounded up to whole NR-wide panels when the scratch has room
   (an NR-float gap after the input copy, then K rows of that width), else nw. The last panel is
   then read in place and stored as whole vectors like the others, instead of packed with zeros
   and stored a float at a time (the study's conv 2: 155 -> 160 columns, 7% less time). The
   extra columns are discarded like the wrapped ones; for the last channel they read the zeros
   in the gap. */
static size_t cnn__conv_wide_ldy(const cnn_conv_shape *cs)
{
    const size_t hw = (size_t)cs->h * cs->w, nw = (size_t)(cs->p - 1) * cs->w + (size_t)cs->q;
    const size_t nr = CNN_GEMM_NR, ldy = (nw + nr - 1) / nr * nr;
    return (size_t)cs->c * hw + nr + (size_t)cs->k * ldy <= (size_t)cs->c * cs->r * cs->s * cs->p * cs->q ? ldy : nw;
}

/* keep = 0 (the net in inference, where no backward follows) or 2 (the net in training, which
   passes x to the backward again: cnn__conv_wide_backward's x_kept): the GEMMs read each
   sample's input in place, not a copy in col; all but the last sample, whose rounded-up width
   would read past the end of x (the others' read into the next sample's first floats, for columns
   that are discarded), and which the backward reads from col. Same bits either way. keep = 1
   (cnn_conv_forward_im2col): every sample's copy, since the backward has no other. The copies had
   cost the base model's training step 2.2% (one thread). */
static void cnn__conv_wide_forward(const cnn_conv_shape *cs, const float *x, const float *w, const float *b, float *y,
                                   float *col, int keep)
{
    const int K = cs->k, C = cs->c, S = cs->s, RS = cs->r * S, W = cs->w, P = cs->p, Q = cs->q;
    const size_t hw = (size_t)cs->h * W, nw = (size_t)(P - 1) * W + Q, cols = (size_t)C * RS * P * Q;
    const size_t psz = cnn__gemm_packed_floats(K, C), ldy = cnn__conv_wide_ldy(cs), nr = CNN_GEMM_NR;
    const float *pw = cnn__conv_wide_pack(cs, w, col + (size_t)cs->n * cols, 0);
    int n;
    CNN__OMP_FOR(cs->n > 1 && (double)cs->n * K * nw * C * RS > CNN__OMP_MIN_WORK)
    for (n = 0; n < cs->n; n++) {
        float *xs = col + (size_t)n * cols, *yw = xs + (size_t)C * hw + (ldy - nw ? nr : 0);
        const float *in = xs;
        int t, k, p, q;
        if (keep == 1 || n == cs->n - 1) {
            memcpy(xs, x + (size_t)n * C * hw, (size_t)C * hw * sizeof(float));
            if (ldy != nw) memset(xs + (size_t)C * hw, 0, nr * sizeof(float));
        } else {
            in = x + (size_t)n * C * hw;
        }
        for (t = 0; t < RS; t++)
            cnn__gemm_prepacked(0, K, (int)ldy, C, pw + (size_t)t * psz, in + (size_t)(t / S) * W + t % S, (int)hw, yw,
                                (int)ldy, t == 0, NULL);
        for (k = 0; k < K; k++) {
            const float bk = b ? b[k] : 0.0f;
            for (p = 0; p < P; p++) {
                float *CNN__RESTRICT yr = y + (((size_t)n * K + k) * P + p) * Q;
                const float *CNN__RESTRICT wr = yw + (size_t)k * ldy + (size_t)p * W;
                if (b) for (q = 0; q < Q; q++) yr[q] = wr[q] + bk;
                else memcpy(yr, wr, (size_t)Q * sizeof(float));
            }
        }
    }
}

/* dx_set: write dx rather than add to it (the net's layers, whose dx is not cleared first): the
   first tap's GEMM stores, over the wide index's nw columns of each channel, and the rest of the
   channel's plane, the last rows' columns past nw that no first-tap column reaches, is zeroed;
   the other taps add as before. 0 + v is v, so the same sums as adding to a cleared dx (but for
   the sign of an all -0 sum); the clearing pass over dx had taken 1.6% of the base model's
   training step. */
/* x_kept: the forward's input, which it read in place (keep = 2) but for the last sample, whose
   copy is in col; or NULL (every sample's copy in col). The weight gradient's padded reads run up
   to CNN__VW - 1 floats past a sample's last channel: into the next sample's first floats in x, or
   into the last sample's dy_wide in col, as above. */
static void cnn__conv_wide_backward(const cnn_conv_shape *cs, float *col, const float *w, const float *dy, float *dx,
                                    float *dw, int dx_set, const float *x_kept)
{
    const int K = cs->k, C = cs->c, S = cs->s, RS = cs->r * S, W = cs->w, P = cs->p, Q = cs->q, N = cs->n;
    const size_t hw = (size_t)cs->h * W, nw = (size_t)(P - 1) * W + Q, cols = (size_t)C * RS * P * Q;
    const size_t nwp = cnn__wide_padded(nw);   /* dy_wide's rows, zero-padded: see cnn__conv_wide */
    int n;
    CNN__OMP_FOR(N > 1 && (double)N * K * nw > CNN__OMP_MIN_WORK)
    for (n = 0; n < N; n++) {   /* dy_wide, after the sample's input copy */
        float *dyw = col + (size_t)n * cols + (size_t)C * hw;
        int k, p;
        for (k = 0; k < K; k++)
            for (p = 0; p < P; p++) {
                float *d = dyw + (size_t)k * nwp + (size_t)p * W;
                memcpy(d, dy + (((size_t)n * K + k) * P + p) * Q, (size_t)Q * sizeof(float));
                memset(d + Q, 0, (p + 1 < P ? (size_t)(W - Q) : nwp - nw) * sizeof(float));
            }
    }
    if (dw) {
        cnn__dw_rows d;
        d.a = x_kept ? x_kept : col; d.a_per = x_kept ? (size_t)C * hw : cols; d.a_row = hw;
        d.a_last = x_kept ? col + (size_t)(N - 1) * cols : NULL; d.nsamp = N;
        d.b = col + (size_t)C * hw; d.b_per = cols; d.b_row = nwp;
        d.wide = 1; d.rs = RS; d.s = S; d.w = W; d.n = (int)nwp; d.gen = NULL;
        cnn__conv_dw_inner(cs, &d, dw, col + (size_t)N * cols);
    }
    if (dx) {
        const size_t psz = cnn__gemm_packed_floats(C, K);
        const float *pw = cnn__conv_wide_pack(cs, w, col + (size_t)N * cols, 1);
        CNN__OMP_FOR(N > 1 && (double)N * K * nw * C * RS > CNN__OMP_MIN_WORK)
        for (n = 0; n < N; n++) {
            const float *dyw = col + (size_t)n * cols + (size_t)C * hw;
            int t, c;
            for (t = 0; t < RS; t++) {
                cnn__gemm_prepacked(0, C, (int)nw, K, pw + (size_t)t * psz, dyw, (int)nwp,
                                    dx + (size_t)n * C * hw + (size_t)(t / S) * W + t % S, (int)hw, dx_set && t == 0, NULL);
                if (dx_set && t == 0)   /* the planes' last columns, past the first tap's nw */
                    for (c = 0; c < C; c++) memset(dx + ((size_t)n * C + c) * hw + nw, 0, (hw - nw) * sizeof(float));
            }
        }
    }
}

/* >>conv winograd: 2x2 filters, stride 1, no padding: F(3x3, 2x2)
   Each output tile of 3x3 pixels needs a 4x4 tile of the input, and Winograd's minimal filtering
   makes it from 16 products per channel instead of 36 (Lavin and Gray, "Fast Algorithms for
   Convolutional Neural Networks", 2016, for the method; the matrices here are worked out for
   this size, from the points 0, 1, -1 and infinity). In one dimension, y_u = g0 d_u + g1 d_(u+1)
   for u < 3 is
       y = A^T [(G g) . (B^T d)],  B^T d = (d0 - d2, d1 + d2, d2 - d1, d3 - d1),
       G g = (g0, (g0 + g1)/2, (g0 - g1)/2, g1),  A^T m = (m0 + m1 + m2, m1 - m2, m1 + m2 + m3),
   and in two, Y = A^T [U . V] A with U = G g G^T and V = B^T D B: the products at position xi
   of the 4x4 tile, summed over the channels, are a GEMM, U_xi (K x C) times V_xi (C x tiles),
   one for each of the 16 positions. So the convolution is an input transform, 16 GEMMs with
   16/36 of the direct one's multiply-adds, and an output transform. Backward runs the same steps
   transposed: the output gradient's tiles dM = A dY A^T (the output transform's adjoint), dV_xi =
   U_xi^T dM_xi, dx += B dV B^T over each tile (neighbouring tiles share a row or a column and
   both add there), and dU_xi = dM_xi V_xi^T over every tile of the batch, dw += G^T dU G. Every
   coefficient is 0, +-1 or 1/2, so the transforms round little; the tests hold the results to
   the naive loops' within the bound of the other paths, and to finite differences.
   Only for samples of 4 to 10 tiles a side (inputs of 11 to 31 rows and columns: the study's
   second convolutions, 4x4 tiles, and model 16's, 9x9) and with AVX-512, whose permutes take the
   tiles out of whole rows held in registers and put them back: a tile's 16 pixels one by one (or
   by gathers) cost more than the GEMMs saved, and other shapes and builds take the wide path
   above, the portable reference. Pixels past the input's edge read as zeros, and the outputs
   they reach are dropped. Layout: the samples in groups of CNN__WG_GS, so that a group's V (C
   rows of its tiles at each xi) and M (K rows) stay in cache between the transform and the GEMMs;
   a sample's tiles in rows, one after the other. */
#if defined(__AVX512F__) && CNN__VW == 16 && !defined(CNN_NO_INTRINSICS)
#include <immintrin.h>
#define CNN__WG 1
#define CNN__WG_GS 2      /* samples a group */
#define CNN__WG_PAD 16    /* floats between the 16 planes of a V or M: see cnn__wg_input */
#define CNN__WG_SLOTS 8   /* buffers for groups in flight (see cnn__conv_wg_forward) */

/* lane 4a + b of a pick (a, b < 4): pixel 3b + phase of row 3a + r, from the rows taken two at a
   time by a two-source permute (lanes 16 and up index the second source) */
static const int32_t cnn__wg_pick_idx[4][16] = {
    {0, 3, 6, 9, 16, 19, 22, 25, 0, 3, 6, 9, 16, 19, 22, 25},
    {1, 4, 7, 10, 17, 20, 23, 26, 1, 4, 7, 10, 17, 20, 23, 26},
    {2, 5, 8, 11, 18, 21, 24, 27, 2, 5, 8, 11, 18, 21, 24, 27},
    {3, 6, 9, 12, 19, 22, 25, 28, 3, 6, 9, 12, 19, 22, 25, 28}};
/* and back: lane x of a row takes lane 4a + x/3 of a tile vector, or 4a + x/3 - 1 for a tile's
   4th column (j = 3), which lands on the next tile's first; the masks pick the lanes of column j */
static const int32_t cnn__wg_put_idx[2][16] = {
    {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3},
    {0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3}};
static const __mmask16 cnn__wg_put_mask[4] = {0x0249, 0x0492, 0x0924, 0x1248};

static __m512 cnn__wg_pick(const __m512 *rows, int r, int phase)
{
    const __m512i idx = _mm512_loadu_si512((const void *)cnn__wg_pick_idx[phase]);
    const __m512 t01 = _mm512_permutex2var_ps(rows[r], idx, rows[3 + r]);
    const __m512 t23 = _mm512_permutex2var_ps(rows[6 + r], idx, rows[9 + r]);
    return _mm512_mask_blend_ps(0xFF00, t01, t23);
}

/* acc + row 3a + i's share of a tile row's values v[j], j < ncols */
static __m512 cnn__wg_put(__m512 acc, int a, const __m512 *v, int ncols)
{
    const __m512i base = _mm512_set1_epi32(4 * a);
    const __m512i p0 = _mm512_add_epi32(base, _mm512_loadu_si512((const void *)cnn__wg_put_idx[0]));
    const __m512i p3 = _mm512_add_epi32(base, _mm512_loadu_si512((const void *)cnn__wg_put_idx[1]));
    int j;
    for (j = 0; j < ncols; j++)
        acc = _mm512_add_ps(acc, _mm512_maskz_permutexvar_ps(cnn__wg_put_mask[j], j == 3 ? p3 : p0, v[j]));
    return acc;
}

/* rows 0..n-1 of an h x w plane (w <= 16), zeros past its edges */
static void cnn__wg_load_rows(const float *p, int h, int w, int n, __m512 *rows)
{
    const __mmask16 m = (__mmask16)((1u << w) - 1);
    int i;
    for (i = 0; i < n; i++) rows[i] = i < h ? _mm512_maskz_loadu_ps(m, p + (size_t)i * w) : _mm512_setzero_ps();
}

/* u[xi][k][c] = (G w_kc G^T)[xi], xi = 4i + j: the sum over p, q of G[i][p] G[j][q] w_kc[p][q],
   one xi at a time (16 rows written together, a multiple of 4 KiB apart, thrash the L1 cache) */
static void cnn__wg_filters(const cnn_conv_shape *cs, const float *w, float *u)
{
    static const float G[4][2] = {{1.0f, 0.0f}, {0.5f, 0.5f}, {0.5f, -0.5f}, {0.0f, 1.0f}};
    const size_t kc = (size_t)cs->k * cs->c;
    int xi;
    for (xi = 0; xi < 16; xi++) {
        const float g0 = G[xi / 4][0], g1 = G[xi / 4][1], h0 = G[xi % 4][0], h1 = G[xi % 4][1];
        float *CNN__RESTRICT ux = u + (size_t)xi * kc;
        size_t f;
        for (f = 0; f < kc; f++) {
            const float *g = w + 4 * f;
            ux[f] = g0 * (h0 * g[0] + h1 * g[1]) + g1 * (h0 * g[2] + h1 * g[3]);
        }
    }
}

/* The same four transforms for larger samples (cnn__wg_rows: more than 4 tiles a row or a column,
   up to 10 of each; inputs up to 31 wide), a row of tiles at a time: lane t of a vector is tile t of the row, and an input row is
   two vectors, from which a two-source permute picks pixel 3t + j for each lane t; the tiles'
   values are stored with a mask of the row's tiles, and put back with a permute from the tile
   values of each phase (and a second one for the third phase, a row's lanes coming from three
   vectors). Study model 16's second convolution, on 26x26 maps: 9 rows of 9 tiles. */
typedef struct cnn__wg_rowix {
    __m512i pick[4];   /* lane t: pixel 3t + j of a row's two vectors (lanes 16 and up: the second) */
    __m512i put[2], put2[2], put3[2];   /* for each half of a row: lane x takes (x / 3) of v[0] or
                                           v[1], (x / 3) of v[2], (x / 3 - 1) of v[3] */
    __mmask16 m2[2], m3[2];   /* the lanes x % 3 == 2, and x % 3 == 0 past the first tile */
    __mmask16 mt, ml, mh;     /* a row's tiles; a row's lanes in the first and second vector */
} cnn__wg_rowix;

static void cnn__wg_rowix_init(cnn__wg_rowix *ix, int tiles, int width)
{
    int32_t a[16];
    int j, h, l;
    for (j = 0; j < 4; j++) {
        for (l = 0; l < 16; l++) a[l] = (3 * l + j) & 31;   /* lanes past 10 tiles: unused */
        ix->pick[j] = _mm512_loadu_si512((const void *)a);
    }
    for (h = 0; h < 2; h++) {
        int m2 = 0, m3 = 0;
        for (l = 0; l < 16; l++) a[l] = (16 * h + l) / 3 + ((16 * h + l) % 3 == 1 ? 16 : 0);
        ix->put[h] = _mm512_loadu_si512((const void *)a);
        for (l = 0; l < 16; l++) a[l] = (16 * h + l) / 3;
        ix->put2[h] = _mm512_loadu_si512((const void *)a);
        for (l = 0; l < 16; l++) a[l] = (16 * h + l) / 3 > 0 ? (16 * h + l) / 3 - 1 : 0;
        ix->put3[h] = _mm512_loadu_si512((const void *)a);
        for (l = 0; l < 16; l++) {
            m2 |= ((16 * h + l) % 3 == 2) << l;
            m3 |= ((16 * h + l) % 3 == 0 && 16 * h + l >= 3) << l;
        }
        ix->m2[h] = (__mmask16)m2;
        ix->m3[h] = (__mmask16)m3;
    }
    ix->mt = (__mmask16)((1u << tiles) - 1);
    ix->ml = (__mmask16)(width >= 16 ? 0xFFFFu : (1u << width) - 1);
    ix->mh = (__mmask16)(width > 16 ? (1u << (width - 16)) - 1 : 0u);
}

/* half h of a row from the values v[j] of its tiles' phases j < ncols (3, or 4 with the 4th
   phase added onto the next tile's first) */
static __m512 cnn__wg_row_put(const cnn__wg_rowix *ix, const __m512 *v, int ncols, int h)
{
    __m512 r = _mm512_permutex2var_ps(v[0], ix->put[h], v[1]);
    r = _mm512_mask_permutexvar_ps(r, ix->m2[h], ix->put2[h], v[2]);
    if (ncols == 4) r = _mm512_add_ps(r, _mm512_maskz_permutexvar_ps(ix->m3[h], ix->put3[h], v[3]));
    return r;
}

/* row y of an h-row plane (zeros past its edges) picked at phases j < nph: d[j] */
static void cnn__wg_row_pick(const cnn__wg_rowix *ix, const float *p, int y, int h, int w, int nph, cnn__vf *d)
{
    const __m512 lo = y < h ? _mm512_maskz_loadu_ps(ix->ml, p + (size_t)y * w) : _mm512_setzero_ps();
    const __m512 hi = y < h ? _mm512_maskz_loadu_ps(ix->mh, p + (size_t)y * w + 16) : _mm512_setzero_ps();
    int j;
    for (j = 0; j < nph; j++) d[j] = (cnn__vf)_mm512_permutex2var_ps(lo, ix->pick[j], hi);
}

static void cnn__wg_input_rows(const cnn_conv_shape *cs, const float *xn, int nc, float *v, size_t ld, size_t plane)
{
    const int H = cs->h, W = cs->w, th = (cs->p + 2) / 3, tw = (cs->q + 2) / 3;
    cnn__wg_rowix ix;
    int c, ty, r, q, i;
    cnn__wg_rowix_init(&ix, tw, W);
    for (c = 0; c < nc; c++)
        for (ty = 0; ty < th; ty++) {
            float *vt = v + (size_t)c * ld + (size_t)ty * tw;
            cnn__vf d[4][4], e[4][4];
            for (r = 0; r < 4; r++) cnn__wg_row_pick(&ix, xn + (size_t)c * H * W, 3 * ty + r, H, W, 4, d[r]);
            for (q = 0; q < 4; q++) {   /* B^T on the columns of each tile */
                e[0][q] = d[0][q] - d[2][q]; e[1][q] = d[1][q] + d[2][q];
                e[2][q] = d[2][q] - d[1][q]; e[3][q] = d[3][q] - d[1][q];
            }
            for (i = 0; i < 4; i++) {   /* then B on the rows */
                _mm512_mask_storeu_ps(vt + (size_t)(4 * i) * plane, ix.mt, (__m512)(e[i][0] - e[i][2]));
                _mm512_mask_storeu_ps(vt + (size_t)(4 * i + 1) * plane, ix.mt, (__m512)(e[i][1] + e[i][2]));
                _mm512_mask_storeu_ps(vt + (size_t)(4 * i + 2) * plane, ix.mt, (__m512)(e[i][2] - e[i][1]));
                _mm512_mask_storeu_ps(vt + (size_t)(4 * i + 3) * plane, ix.mt, (__m512)(e[i][3] - e[i][1]));
            }
        }
}

static void cnn__wg_output_rows(const cnn_conv_shape *cs, const float *m, size_t ld, size_t plane, const float *bias,
                                float *yn)
{
    const int P = cs->p, Q = cs->q, th = (P + 2) / 3, tw = (Q + 2) / 3;
    cnn__wg_rowix ix;
    int k, ty, i, j;
    cnn__wg_rowix_init(&ix, tw, Q);
    for (k = 0; k < cs->k; k++)
        for (ty = 0; ty < th; ty++) {
            const float *s = m + (size_t)k * ld + (size_t)ty * tw, bk = bias ? bias[k] : 0.0f;
            cnn__vf r[3][4];
            __m512 y[3][3];
            for (j = 0; j < 4; j++) {   /* A^T on the columns */
                const cnn__vf m0 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)j * plane);
                const cnn__vf m1 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)(4 + j) * plane);
                const cnn__vf m2 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)(8 + j) * plane);
                const cnn__vf m3 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)(12 + j) * plane);
                r[0][j] = m0 + m1 + m2; r[1][j] = m1 - m2; r[2][j] = m1 + m2 + m3;
            }
            for (i = 0; i < 3 && 3 * ty + i < P; i++) {   /* A on the rows */
                float *row = yn + ((size_t)k * P + 3 * ty + i) * Q;
                y[i][0] = (__m512)(r[i][0] + r[i][1] + r[i][2] + bk);
                y[i][1] = (__m512)(r[i][1] - r[i][2] + bk);
                y[i][2] = (__m512)(r[i][1] + r[i][2] + r[i][3] + bk);
                _mm512_mask_storeu_ps(row, ix.ml, cnn__wg_row_put(&ix, y[i], 3, 0));
                if (Q > 16) _mm512_mask_storeu_ps(row + 16, ix.mh, cnn__wg_row_put(&ix, y[i], 3, 1));
            }
        }
}

static void cnn__wg_dout_rows(const cnn_conv_shape *cs, const float *dyn, float *m, size_t ld, size_t plane)
{
    const int P = cs->p, Q = cs->q, th = (P + 2) / 3, tw = (Q + 2) / 3;
    cnn__wg_rowix ix;
    int k, ty, i, j;
    cnn__wg_rowix_init(&ix, tw, Q);
    for (k = 0; k < cs->k; k++)
        for (ty = 0; ty < th; ty++) {
            float *o = m + (size_t)k * ld + (size_t)ty * tw;
            cnn__vf d[3][3], s[4][3];
            for (i = 0; i < 3; i++) cnn__wg_row_pick(&ix, dyn + (size_t)k * P * Q, 3 * ty + i, P, Q, 3, d[i]);
            for (j = 0; j < 3; j++) {   /* A on the columns of each tile */
                s[0][j] = d[0][j]; s[1][j] = d[0][j] + d[1][j] + d[2][j];
                s[2][j] = d[0][j] - d[1][j] + d[2][j]; s[3][j] = d[2][j];
            }
            for (i = 0; i < 4; i++) {   /* then A^T on the rows */
                _mm512_mask_storeu_ps(o + (size_t)(4 * i) * plane, ix.mt, (__m512)s[i][0]);
                _mm512_mask_storeu_ps(o + (size_t)(4 * i + 1) * plane, ix.mt, (__m512)(s[i][0] + s[i][1] + s[i][2]));
                _mm512_mask_storeu_ps(o + (size_t)(4 * i + 2) * plane, ix.mt, (__m512)(s[i][0] - s[i][1] + s[i][2]));
                _mm512_mask_storeu_ps(o + (size_t)(4 * i + 3) * plane, ix.mt, (__m512)s[i][2]);
            }
        }
}

/* rows 3 ty + 3 of a row of tiles and 3 (ty + 1) of the next are one row of dx: its two halves
   are summed in acc, 3 th + 1 <= 31 rows, then written or added */
static void cnn__wg_dinput_rows(const cnn_conv_shape *cs, const float *dv, size_t ld, size_t plane, float *dxn, int set)
{
    const int H = cs->h, W = cs->w, th = (cs->p + 2) / 3, tw = (cs->q + 2) / 3;
    cnn__wg_rowix ix;
    int c, ty, i, j, h;
    cnn__wg_rowix_init(&ix, tw, W);
    for (c = 0; c < cs->c; c++) {
        float *xc = dxn + (size_t)c * H * W;
        __m512 acc[32][2];
        for (i = 0; i <= 3 * th; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        for (ty = 0; ty < th; ty++) {
            const float *s = dv + (size_t)c * ld + (size_t)ty * tw;
            __m512 d[4][4];
            for (i = 0; i < 4; i++) {   /* B's adjoint on the rows */
                const cnn__vf v0 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)(4 * i) * plane);
                const cnn__vf v1 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)(4 * i + 1) * plane);
                const cnn__vf v2 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)(4 * i + 2) * plane);
                const cnn__vf v3 = (cnn__vf)_mm512_maskz_loadu_ps(ix.mt, s + (size_t)(4 * i + 3) * plane);
                d[i][0] = (__m512)v0; d[i][1] = (__m512)(v1 - v2 - v3); d[i][2] = (__m512)(v1 + v2 - v0); d[i][3] = (__m512)v3;
            }
            for (j = 0; j < 4; j++) {   /* then B^T's on the columns */
                const cnn__vf e0 = (cnn__vf)d[0][j], e1 = (cnn__vf)d[1][j], e2 = (cnn__vf)d[2][j], e3 = (cnn__vf)d[3][j];
                d[1][j] = (__m512)(e1 - e2 - e3); d[2][j] = (__m512)(e1 + e2 - e0);
            }
            for (i = 0; i < 4; i++)
                for (h = 0; h < 2; h++) acc[3 * ty + i][h] = _mm512_add_ps(acc[3 * ty + i][h], cnn__wg_row_put(&ix, d[i], 4, h));
        }
        for (i = 0; i < H; i++) {
            float *row = xc + (size_t)i * W;
            _mm512_mask_storeu_ps(row, ix.ml, set ? acc[i][0] : _mm512_add_ps(_mm512_maskz_loadu_ps(ix.ml, row), acc[i][0]));
            if (W > 16)
                _mm512_mask_storeu_ps(row + 16, ix.mh,
                                      set ? acc[i][1] : _mm512_add_ps(_mm512_maskz_loadu_ps(ix.mh, row + 16), acc[i][1]));
        }
    }
}

/* whether a sample's tiles are taken a row at a time (below) rather than all 16 at once */
static int cnn__wg_rows(const cnn_conv_shape *cs)
{
    return cs->p > 12 || cs->q > 12;
}

/* channels [0, nc) of one sample: V = B^T D B, its 16 tiles at v[xi * plane + c * ld]. The planes
   lie CNN__WG_PAD floats more than a multiple of 4 KiB apart, which the 16 stores of a channel
   would otherwise all map to one set of the L1 cache (model 4's forward: 3x the GEMMs' time). */
static void cnn__wg_input(const cnn_conv_shape *cs, const float *xn, int nc, float *v, size_t ld, size_t plane)
{
    const size_t hw = (size_t)cs->h * cs->w;
    int c, r, q, i;
    if (cnn__wg_rows(cs)) {
        cnn__wg_input_rows(cs, xn, nc, v, ld, plane);
        return;
    }
    for (c = 0; c < nc; c++) {
        const float *xc = xn + (size_t)c * hw;
        float *vc = v + (size_t)c * ld;
        __m512 rows[13];
        cnn__vf d[4][4], e[4][4];
        size_t f;
        if (c + 2 < nc)   /* mostly from memory: the channel after next asked for now */
            for (f = 0; f < hw; f += 16) __builtin_prefetch(xc + 2 * hw + f);
        cnn__wg_load_rows(xc, cs->h, cs->w, 13, rows);
        for (r = 0; r < 4; r++)
            for (q = 0; q < 4; q++) d[r][q] = (cnn__vf)cnn__wg_pick(rows, r, q);
        for (q = 0; q < 4; q++) {   /* B^T on the columns of each tile */
            e[0][q] = d[0][q] - d[2][q]; e[1][q] = d[1][q] + d[2][q];
            e[2][q] = d[2][q] - d[1][q]; e[3][q] = d[3][q] - d[1][q];
        }
        for (i = 0; i < 4; i++) {   /* then B on the rows */
            cnn__vstore(vc + (size_t)(4 * i) * plane, e[i][0] - e[i][2]);
            cnn__vstore(vc + (size_t)(4 * i + 1) * plane, e[i][1] + e[i][2]);
            cnn__vstore(vc + (size_t)(4 * i + 2) * plane, e[i][2] - e[i][1]);
            cnn__vstore(vc + (size_t)(4 * i + 3) * plane, e[i][3] - e[i][1]);
        }
    }
}

/* one sample: Y = A^T M A + bias from its 16 tiles at m[xi * plane + k * ld], inside P x Q */
static void cnn__wg_output(const cnn_conv_shape *cs, const float *m, size_t ld, size_t plane, const float *bias,
                           float *yn)
{
    const int P = cs->p, Q = cs->q;
    const __mmask16 mq = (__mmask16)((1u << Q) - 1);
    int k, i, j, a;
    if (cnn__wg_rows(cs)) {
        cnn__wg_output_rows(cs, m, ld, plane, bias, yn);
        return;
    }
    for (k = 0; k < cs->k; k++) {
        const float *s = m + (size_t)k * ld, bk = bias ? bias[k] : 0.0f;
        float *yk = yn + (size_t)k * P * Q;
        cnn__vf r[3][4];
        __m512 y[3][3];
        for (j = 0; j < 4; j++) {   /* A^T on the columns */
            const cnn__vf m0 = cnn__vload(s + (size_t)j * plane), m1 = cnn__vload(s + (size_t)(4 + j) * plane);
            const cnn__vf m2 = cnn__vload(s + (size_t)(8 + j) * plane), m3 = cnn__vload(s + (size_t)(12 + j) * plane);
            r[0][j] = m0 + m1 + m2; r[1][j] = m1 - m2; r[2][j] = m1 + m2 + m3;
        }
        for (i = 0; i < 3; i++) {   /* A on the rows */
            y[i][0] = (__m512)(r[i][0] + r[i][1] + r[i][2] + bk);
            y[i][1] = (__m512)(r[i][1] - r[i][2] + bk);
            y[i][2] = (__m512)(r[i][1] + r[i][2] + r[i][3] + bk);
        }
        for (a = 0; a < 4; a++)
            for (i = 0; i < 3 && 3 * a + i < P; i++)
                _mm512_mask_storeu_ps(yk + (size_t)(3 * a + i) * Q, mq, cnn__wg_put(_mm512_setzero_ps(), a, y[i], 3));
    }
}

/* one sample: dM = A dY A^T, its 16 tiles to m[xi * plane + k * ld], dY zero past P x Q */
static void cnn__wg_dout(const cnn_conv_shape *cs, const float *dyn, float *m, size_t ld, size_t plane)
{
    int k, i, j;
    if (cnn__wg_rows(cs)) {
        cnn__wg_dout_rows(cs, dyn, m, ld, plane);
        return;
    }
    for (k = 0; k < cs->k; k++) {
        float *o = m + (size_t)k * ld;
        __m512 rows[12];
        cnn__vf d[3][3], s[4][3];
        cnn__wg_load_rows(dyn + (size_t)k * cs->p * cs->q, cs->p, cs->q, 12, rows);
        for (i = 0; i < 3; i++)
            for (j = 0; j < 3; j++) d[i][j] = (cnn__vf)cnn__wg_pick(rows, i, j);
        for (j = 0; j < 3; j++) {   /* A on the columns of each tile */
            s[0][j] = d[0][j]; s[1][j] = d[0][j] + d[1][j] + d[2][j];
            s[2][j] = d[0][j] - d[1][j] + d[2][j]; s[3][j] = d[2][j];
        }
        for (i = 0; i < 4; i++) {   /* then A^T on the rows */
            cnn__vstore(o + (size_t)(4 * i) * plane, s[i][0]);
            cnn__vstore(o + (size_t)(4 * i + 1) * plane, s[i][0] + s[i][1] + s[i][2]);
            cnn__vstore(o + (size_t)(4 * i + 2) * plane, s[i][0] - s[i][1] + s[i][2]);
            cnn__vstore(o + (size_t)(4 * i + 3) * plane, s[i][2]);
        }
    }
}

/* one sample: dx (+)= B dV B^T from its 16 tiles at dv[xi * plane + c * ld]; set: write dx */
static void cnn__wg_dinput(const cnn_conv_shape *cs, const float *dv, size_t ld, size_t plane, float *dxn, int set)
{
    const int H = cs->h, W = cs->w;
    const __mmask16 mw = (__mmask16)((1u << W) - 1);
    int c, i, j, a;
    if (cnn__wg_rows(cs)) {
        cnn__wg_dinput_rows(cs, dv, ld, plane, dxn, set);
        return;
    }
    for (c = 0; c < cs->c; c++) {
        const float *s = dv + (size_t)c * ld;
        float *xc = dxn + (size_t)c * H * W;
        __m512 acc[13], d[4][4];
        for (i = 0; i < 4; i++) {   /* B's adjoint on the rows */
            const cnn__vf v0 = cnn__vload(s + (size_t)(4 * i) * plane), v1 = cnn__vload(s + (size_t)(4 * i + 1) * plane);
            const cnn__vf v2 = cnn__vload(s + (size_t)(4 * i + 2) * plane), v3 = cnn__vload(s + (size_t)(4 * i + 3) * plane);
            d[i][0] = (__m512)v0; d[i][1] = (__m512)(v1 - v2 - v3); d[i][2] = (__m512)(v1 + v2 - v0); d[i][3] = (__m512)v3;
        }
        for (j = 0; j < 4; j++) {   /* then B^T's on the columns */
            const cnn__vf e0 = (cnn__vf)d[0][j], e1 = (cnn__vf)d[1][j], e2 = (cnn__vf)d[2][j], e3 = (cnn__vf)d[3][j];
            d[1][j] = (__m512)(e1 - e2 - e3); d[2][j] = (__m512)(e1 + e2 - e0);
        }
        for (i = 0; i < 13; i++) acc[i] = _mm512_setzero_ps();
        for (a = 0; a < 4; a++)
            for (i = 0; i < 4; i++) acc[3 * a + i] = cnn__wg_put(acc[3 * a + i], a, d[i], 4);
        for (i = 0; i < H; i++) {
            float *row = xc + (size_t)i * W;
            _mm512_mask_storeu_ps(row, mw, set ? acc[i] : _mm512_add_ps(_mm512_maskz_loadu_ps(mw, row), acc[i]));
        }
    }
}

/* lane p of the result: the sum of the 16 lanes of v[p], for all 16 at once, by a tree of
   two-source permutes that halves the lanes a sum and doubles the sums a vector each level. Each
   sum in the order lane k += lane k + 8, then k + 4, k + 2, k + 1 (cnn__sum's). v is spent. */
static __m512 cnn__sum16x16(__m512 *v)
{
    static const int32_t lo[4][16] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
        {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27},
        {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29},
        {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}};
    int ns = 16, lv, i;
    for (lv = 0; lv < 4; lv++, ns /= 2) {
        const __m512i il = _mm512_loadu_si512((const void *)lo[lv]);
        const __m512i ih = _mm512_add_epi32(il, _mm512_set1_epi32(8 >> lv));
        for (i = 0; i < ns / 2; i++)
            v[i] = _mm512_add_ps(_mm512_permutex2var_ps(v[2 * i], il, v[2 * i + 1]),
                                 _mm512_permutex2var_ps(v[2 * i], ih, v[2 * i + 1]));
    }
    return v[0];
}

/* sums[4r + c] = a[r] . b[c] for r, c < 4, over n floats (a multiple of 16): lane-wise sums in
   the order of cnn__conv_dw_tile's from zero, kept in registers, their lanes then summed by
   cnn__sum16x16. (Through cnn__conv_dw_tile, its lanes cleared and summed in memory, the sums of
   study model 16's 176-long rows ran at a third of the multiply-adds' speed.) */
static void cnn__wg_dots(int n, const float *const *a, const float *const *b, float *sums)
{
    const cnn__vf zero = {0};
    cnn__vf acc[16], av[4], bv[4];
    __m512 v[16];
    int i, r;
#pragma GCC unroll 16
    for (r = 0; r < 16; r++) acc[r] = zero;
    for (i = 0; i < n; i += 16) {
#pragma GCC unroll 4
        for (r = 0; r < 4; r++) {
            av[r] = cnn__vload(a[r] + i);
            bv[r] = cnn__vload(b[r] + i);
        }
#pragma GCC unroll 16
        for (r = 0; r < 16; r++) acc[r] += av[r / 4] * bv[r % 4];
    }
#pragma GCC unroll 16
    for (r = 0; r < 16; r++) v[r] = (__m512)acc[r];
    _mm512_storeu_ps(sums, cnn__sum16x16(v));
}

/* tiles a sample: 16, or with cnn__wg_rows up to 100 */
static int cnn__wg_tiles(const cnn_conv_shape *cs)
{
    return ((cs->p + 2) / 3) * ((cs->q + 2) / 3);
}

/* The workspace (col), from its start: the batch's dM (16 planes of K rows of all N * tiles,
   each row CNN__WG_PAD floats longer: at a power-of-two stride the input gradient's GEMM found
   its rows in a few L1 sets),
   CNN__WG_SLOTS buffers for the groups or tasks in flight (a group's V and M, or 4 channels' V for
   the whole batch), a copy of the input for a backward that is not given it (keep = 1), U (or
   dU) and U packed; cnn__conv_scratch_floats makes room for what does not fit in the samples'
   part. Groups and tasks go to the buffers in fixed ranges and each is computed alone, so no
   result depends on the number of threads. */
static int cnn__wg_groups(const cnn_conv_shape *cs)
{
    return (cs->n + CNN__WG_GS - 1) / CNN__WG_GS;
}
/* the buffers for groups (dw = 0) or for the weight gradient's tasks of 4 channels (dw = 1):
   how many, and the floats of each */
static int cnn__wg_slots(const cnn_conv_shape *cs, int dw)
{
    const int tasks = dw ? (cs->c + CNN__DW_T - 1) / CNN__DW_T : cnn__wg_groups(cs);
    return tasks < CNN__WG_SLOTS ? tasks : CNN__WG_SLOTS;
}
static size_t cnn__wg_slot_floats(const cnn_conv_shape *cs, int dw)
{
    const size_t t = (size_t)cnn__wg_tiles(cs), tg = (CNN__WG_GS * t + 15) / 16 * 16;   /* see cnn__conv_wg_backward_rows */
    const size_t f = dw ? 16 * ((size_t)CNN__DW_T * cs->n * t + CNN__WG_PAD)
                        : 16 * ((size_t)(cs->c + cs->k) * tg + 2 * CNN__WG_PAD);
    return (f + 15) / 16 * 16;
}
/* the batch's dM, or with cnn__wg_rows each group's share of dU */
static size_t cnn__wg_dm_floats(const cnn_conv_shape *cs)
{
    if (cnn__wg_rows(cs)) return (size_t)cnn__wg_groups(cs) * 16 * cs->k * cs->c;
    return (16 * ((size_t)cs->k * ((size_t)cs->n * cnn__wg_tiles(cs) + CNN__WG_PAD) + CNN__WG_PAD) + 15) / 16 * 16;
}

/* 4 to 10 tiles a column and a row: inputs of 11 to 31 rows and columns */
static int cnn__conv_wg(const cnn_conv_shape *cs)
{
    return cs->r == 2 && cs->s == 2 && cs->stride_h == 1 && cs->stride_w == 1 && cs->pad_top == 0 &&
           cs->pad_left == 0 && cs->p == cs->h - 1 && cs->q == cs->w - 1 && cs->p >= 10 && cs->p <= 30 &&
           cs->q >= 10 && cs->q <= 30 && cs->c >= 8 && cs->k >= 8;
}

typedef struct cnn__wg_ws {
    float *dm, *slots, *x, *u, *pu;
} cnn__wg_ws;

/* the floats the workspace holds, and where each part starts when col is given */
static size_t cnn__wg_layout(const cnn_conv_shape *cs, float *col, cnn__wg_ws *ws)
{
    const size_t a = cnn__gemm_packed_floats(cs->k, cs->c), b = cnn__gemm_packed_floats(cs->c, cs->k);
    const size_t s0 = (size_t)cnn__wg_slots(cs, 0) * cnn__wg_slot_floats(cs, 0);
    const size_t s1 = cnn__wg_rows(cs) ? 0 : (size_t)cnn__wg_slots(cs, 1) * cnn__wg_slot_floats(cs, 1);
    const size_t at[5] = {0, cnn__wg_dm_floats(cs), s0 > s1 ? s0 : s1,
                          ((size_t)cs->n * cs->c * cs->h * cs->w + 15) / 16 * 16, (size_t)16 * cs->k * cs->c};
    size_t off[5], end = 0;
    int i;
    for (i = 0; i < 5; i++) off[i] = end += at[i];
    if (col) {
        ws->dm = col + off[0]; ws->slots = col + off[1]; ws->x = col + off[2]; ws->u = col + off[3]; ws->pu = col + off[4];
    }
    return end + 16 * (a > b ? a : b);
}

/* scratch: what the workspace needs past the samples' part */
static size_t cnn__conv_wg_scratch_floats(const cnn_conv_shape *cs)
{
    const size_t all = cnn__wg_layout(cs, NULL, NULL), part = (size_t)cs->n * 4 * cs->c * cs->p * cs->q;
    return all > part ? all - part : 0;
}

/* U into u, then each U_xi packed for the GEMMs into pu: as the A of U_xi V_xi, or with
   transpose, of U_xi^T dM_xi */
static void cnn__wg_weights(const cnn_conv_shape *cs, const float *w, float *u, float *pu, int transpose)
{
    const size_t kc = (size_t)cs->k * cs->c;
    const size_t psz = transpose ? cnn__gemm_packed_floats(cs->c, cs->k) : cnn__gemm_packed_floats(cs->k, cs->c);
    int xi;
    cnn__wg_filters(cs, w, u);
    for (xi = 0; xi < 16; xi++)
        if (transpose) cnn__gemm_pack(1, cs->c, cs->k, u + (size_t)xi * kc, cs->c, pu + (size_t)xi * psz);
        else cnn__gemm_pack(0, cs->k, cs->c, u + (size_t)xi * kc, cs->c, pu + (size_t)xi * psz);
}

static int cnn__wg_threads(int tasks)
{
    return tasks < CNN__THREADS() ? tasks : CNN__THREADS();
}

/* keep as in cnn__conv_wide_forward */
static void cnn__conv_wg_forward(const cnn_conv_shape *cs, const float *x, const float *w, const float *b, float *y,
                                 float *col, int keep)
{
    const int K = cs->k, C = cs->c, N = cs->n, groups = cnn__wg_groups(cs), gs = CNN__WG_GS, ts = cnn__wg_tiles(cs);
    const size_t psz = cnn__gemm_packed_floats(K, C);
    const size_t chw = (size_t)C * cs->h * cs->w, per = cnn__wg_slot_floats(cs, 0);
    const int ns = cnn__wg_threads(cnn__wg_slots(cs, 0));
    cnn__wg_ws ws;
    float *pu, *slots;
    int sl;
    cnn__wg_layout(cs, col, &ws);
    pu = ws.pu; slots = ws.slots;
    cnn__wg_weights(cs, w, ws.u, pu, 0);
    CNN__OMP_FOR(ns > 1 && (double)N * K * C * 256 > CNN__OMP_MIN_WORK)
    for (sl = 0; sl < ns; sl++) {
        float *vg = slots + (size_t)sl * per;
        int grp;
        for (grp = sl * groups / ns; grp < (sl + 1) * groups / ns; grp++) {
            const int n0 = grp * gs, nsg = N - n0 < gs ? N - n0 : gs, tg = ts * nsg;
            const size_t pv = (size_t)C * tg + CNN__WG_PAD, pm = (size_t)K * tg + CNN__WG_PAD;
            float *mg = vg + 16 * pv;
            int m, j;
            for (m = 0; m < nsg; m++) cnn__wg_input(cs, x + (size_t)(n0 + m) * chw, C, vg + (size_t)ts * m, (size_t)tg, pv);
            for (j = 0; j < 16; j++)
                cnn__gemm_prepacked(0, K, tg, C, pu + (size_t)j * psz, vg + (size_t)j * pv, tg, mg + (size_t)j * pm, tg, 1,
                                    NULL);
            for (m = 0; m < nsg; m++)
                cnn__wg_output(cs, mg + (size_t)ts * m, (size_t)tg, pm, b, y + (size_t)(n0 + m) * K * cs->p * cs->q);
        }
    }
    if (keep == 1) memcpy(ws.x, x, (size_t)N * chw * sizeof(float));
}

/* dw += G^T dU G, dU's 16 K x C planes in u */
static void cnn__wg_dw(const cnn_conv_shape *cs, const float *u, float *dw)
{
    const int K = cs->k, C = cs->c;
    const size_t kc = (size_t)K * C;
    int k;
    CNN__OMP_FOR(K > 1 && (double)kc * 64 > CNN__OMP_MIN_WORK)
    for (k = 0; k < K; k++) {
        int c, i;
        for (c = 0; c < C; c++) {
            const size_t f = (size_t)k * C + c;
            float t[2][4];
            for (i = 0; i < 4; i++) {   /* G on the rows of dU: t[j] is column j of dU G */
                const float u0 = u[(size_t)(4 * i) * kc + f], u1 = u[(size_t)(4 * i + 1) * kc + f];
                const float u2 = u[(size_t)(4 * i + 2) * kc + f], u3 = u[(size_t)(4 * i + 3) * kc + f];
                t[0][i] = u0 + 0.5f * (u1 + u2);
                t[1][i] = 0.5f * (u1 - u2) + u3;
            }
            for (i = 0; i < 2; i++) {   /* then G^T on its columns */
                dw[4 * f + i] += t[i][0] + 0.5f * (t[i][1] + t[i][2]);
                dw[4 * f + 2 + i] += 0.5f * (t[i][1] - t[i][2]) + t[i][3];
            }
        }
    }
}

/* dU_xi[k][c] (+)= dM_xi[k] . V_xi[c] over n tiles, a multiple of 16 (rows at m + k * ldm and
   v + c * ldv of each plane, planes pm and pv apart), 4 rows of each at a time (cnn__wg_dots) */
static void cnn__wg_du(const cnn_conv_shape *cs, int n, const float *v, size_t ldv, size_t pv, int c0, int nc,
                       const float *m, size_t ldm, size_t pm, float *u, int add)
{
    const int K = cs->k, C = cs->c;
    const size_t kc = (size_t)K * C;
    int xi, k0, cc;
    for (xi = 0; xi < 16; xi++)
        for (cc = 0; cc < nc; cc += CNN__DW_T)
            for (k0 = 0; k0 < K; k0 += CNN__DW_T) {
                float sums[CNN__DW_T * CNN__DW_T];
                const float *pa[CNN__DW_T], *pb[CNN__DW_T];
                int r, q;
                for (r = 0; r < CNN__DW_T; r++) {   /* rows past nc or K: repeats, dropped below */
                    pa[r] = v + (size_t)xi * pv + (size_t)(cc + r < nc ? cc + r : nc - 1) * ldv;
                    pb[r] = m + (size_t)xi * pm + (size_t)(k0 + r < K ? k0 + r : K - 1) * ldm;
                }
                cnn__wg_dots(n, pa, pb, sums);
                for (r = 0; r < CNN__DW_T && cc + r < nc; r++)
                    for (q = 0; q < CNN__DW_T && k0 + q < K; q++) {
                        float *d = u + (size_t)xi * kc + (size_t)(k0 + q) * C + c0 + cc + r;
                        *d = add ? *d + sums[r * CNN__DW_T + q] : sums[r * CNN__DW_T + q];
                    }
            }
}

/* The backward where a sample has more tiles (cnn__wg_rows): group by group, as the forward, for
   the whole batch's dM (5 MB for study model 16, 81 tiles a sample) would not stay in cache
   between its parts. A group's dM, then its V and its share of dU (written whole, not added, in
   the dM part of the workspace), then its dV over its V, and dx; the shares are summed in the
   order of the groups, so no value depends on the number of threads. A group's rows of V and dM
   are a whole number of vectors long, the tiles past its own zero (nothing else writes there:
   set once a buffer, and again where the last group's fewer samples change the rows' length), so
   that the dot products have no tail to take apart. */
static void cnn__conv_wg_backward_rows(const cnn_conv_shape *cs, float *col, const float *w, const float *dy, float *dx,
                                       float *dw, int dx_set, const float *x)
{
    const int K = cs->k, C = cs->c, N = cs->n, groups = cnn__wg_groups(cs), gs = CNN__WG_GS, ts = cnn__wg_tiles(cs);
    const int ns = cnn__wg_threads(cnn__wg_slots(cs, 0));
    const size_t kc = (size_t)K * C, pq = (size_t)cs->p * cs->q, chw = (size_t)C * cs->h * cs->w;
    const size_t psz = cnn__gemm_packed_floats(C, K), per = cnn__wg_slot_floats(cs, 0), share = 16 * kc;
    cnn__wg_ws ws;
    int sl;
    size_t f;
    cnn__wg_layout(cs, col, &ws);
    if (dx) cnn__wg_weights(cs, w, ws.u, ws.pu, 1);
    CNN__OMP_FOR(ns > 1 && (double)N * K * C * 256 > CNN__OMP_MIN_WORK)
    for (sl = 0; sl < ns; sl++) {
        float *vg = ws.slots + (size_t)sl * per;
        int grp, zeroed = 0;   /* the row length whose pads this buffer has zeroed */
        for (grp = sl * groups / ns; grp < (sl + 1) * groups / ns; grp++) {
            const int n0 = grp * gs, nsg = N - n0 < gs ? N - n0 : gs, tg = ts * nsg, ld = (tg + 15) / 16 * 16;
            const size_t pv = (size_t)C * ld + CNN__WG_PAD, pm = (size_t)K * ld + CNN__WG_PAD;
            float *mg = vg + 16 * pv;
            int m, j, r;
            for (j = 0; ld != zeroed && j < 16; j++) {
                for (r = 0; r < C; r++) memset(vg + (size_t)j * pv + (size_t)r * ld + tg, 0, (size_t)(ld - tg) * sizeof(float));
                for (r = 0; r < K; r++) memset(mg + (size_t)j * pm + (size_t)r * ld + tg, 0, (size_t)(ld - tg) * sizeof(float));
            }
            zeroed = ld;
            for (m = 0; m < nsg; m++) cnn__wg_dout(cs, dy + (size_t)(n0 + m) * K * pq, mg + (size_t)ts * m, (size_t)ld, pm);
            if (dw) {
                for (m = 0; m < nsg; m++) cnn__wg_input(cs, x + (size_t)(n0 + m) * chw, C, vg + (size_t)ts * m, (size_t)ld, pv);
                cnn__wg_du(cs, ld, vg, (size_t)ld, pv, 0, C, mg, (size_t)ld, pm, ws.dm + (size_t)grp * share, 0);
            }
            if (!dx) continue;
            for (j = 0; j < 16; j++)
                cnn__gemm_prepacked(0, C, tg, K, ws.pu + (size_t)j * psz, mg + (size_t)j * pm, ld, vg + (size_t)j * pv, ld, 1,
                                    NULL);
            for (m = 0; m < nsg; m++)
                cnn__wg_dinput(cs, vg + (size_t)ts * m, (size_t)ld, pv, dx + (size_t)(n0 + m) * chw, dx_set);
        }
    }
    if (!dw) return;
    CNN__OMP_FOR(share > 4096 && (double)share * groups > CNN__OMP_MIN_WORK)
    for (f = 0; f < share; f++) {
        float sum = ws.dm[f];
        int g;
        for (g = 1; g < groups; g++) sum += ws.dm[(size_t)g * share + f];
        ws.u[f] = sum;
    }
    cnn__wg_dw(cs, ws.u, dw);
}

/* dx_set: write dx, not add to it. x_kept: the forward's input, or NULL for the copy that a
   forward with keep = 1 left in col. */
static void cnn__conv_wg_backward(const cnn_conv_shape *cs, float *col, const float *w, const float *dy, float *dx,
                                  float *dw, int dx_set, const float *x_kept)
{
    const int K = cs->k, C = cs->c, N = cs->n, groups = cnn__wg_groups(cs), gs = CNN__WG_GS, ts = cnn__wg_tiles(cs);
    const size_t pq = (size_t)cs->p * cs->q;
    const size_t chw = (size_t)C * cs->h * cs->w, T = (size_t)N * ts;
    const size_t ldm = T + CNN__WG_PAD, pdm = (size_t)K * ldm + CNN__WG_PAD;   /* see cnn__wg_dm_floats */
    cnn__wg_ws ws;
    const float *x;
    float *dm, *u, *pu, *slots;
    int n, sl, ns;
    cnn__wg_layout(cs, col, &ws);
    x = x_kept ? x_kept : ws.x;
    if (cnn__wg_rows(cs)) {
        cnn__conv_wg_backward_rows(cs, col, w, dy, dx, dw, dx_set, x);
        return;
    }
    dm = ws.dm; u = ws.u; pu = ws.pu; slots = ws.slots;
    CNN__OMP_FOR(N > 1 && (double)N * K * pq * 16 > CNN__OMP_MIN_WORK)
    for (n = 0; n < N; n++) cnn__wg_dout(cs, dy + (size_t)n * K * pq, dm + (size_t)ts * n, ldm, pdm);
    if (dw) {   /* dU_xi[k][c] = dM_xi[k] . V_xi[c] along the batch's tiles: lane-wise dot products
                   (cnn__conv_dw_tile) of 4 rows of each, whose lanes are then summed. A task: 4
                   channels, whose V it makes again from x into its buffer. */
        const int ct = (C + CNN__DW_T - 1) / CNN__DW_T;
        const size_t pr = (size_t)CNN__DW_T * T + CNN__WG_PAD, per = cnn__wg_slot_floats(cs, 1);
        ns = cnn__wg_threads(cnn__wg_slots(cs, 1));
        CNN__OMP_FOR(ns > 1 && (double)N * K * C * 256 > CNN__OMP_MIN_WORK)
        for (sl = 0; sl < ns; sl++) {
            float *rv = slots + (size_t)sl * per;
            int task;
            for (task = sl * ct / ns; task < (sl + 1) * ct / ns; task++) {
                const int c0 = task * CNN__DW_T, nc = C - c0 < CNN__DW_T ? C - c0 : CNN__DW_T;
                int m;
                for (m = 0; m < N; m++) cnn__wg_input(cs, x + (size_t)m * chw + (size_t)c0 * cs->h * cs->w, nc, rv + (size_t)ts * m, T, pr);
                cnn__wg_du(cs, (int)T, rv, T, pr, c0, nc, dm, ldm, pdm, u, 0);
            }
        }
        cnn__wg_dw(cs, u, dw);
    }
    if (dx) {   /* dV_xi = U_xi^T dM_xi into a group's buffer, then dx (+)= B dV B^T */
        const size_t psz = cnn__gemm_packed_floats(C, K), per = cnn__wg_slot_floats(cs, 0);
        cnn__wg_weights(cs, w, u, pu, 1);
        ns = cnn__wg_threads(cnn__wg_slots(cs, 0));
        CNN__OMP_FOR(ns > 1 && (double)N * K * C * 256 > CNN__OMP_MIN_WORK)
        for (sl = 0; sl < ns; sl++) {
            float *vg = slots + (size_t)sl * per;
            int grp;
            for (grp = sl * groups / ns; grp < (sl + 1) * groups / ns; grp++) {
                const int n0 = grp * gs, nsg = N - n0 < gs ? N - n0 : gs, tg = ts * nsg;
                const size_t pv = (size_t)C * tg + CNN__WG_PAD;
                int m, j;
                for (j = 0; j < 16; j++)
                    cnn__gemm_prepacked(0, C, tg, K, pu + (size_t)j * psz, dm + (size_t)j * pdm + (size_t)ts * n0, (int)ldm,
                                        vg + (size_t)j * pv, tg, 1, NULL);
                for (m = 0; m < nsg; m++)
                    cnn__wg_dinput(cs, vg + (size_t)ts * m, (size_t)tg, pv, dx + (size_t)(n0 + m) * chw, dx_set);
            }
        }
    }
}
#endif
#endif

static size_t cnn__conv_scratch_floats(const cnn_conv_shape *cs)
{
    const int crs = cs->c * cs->r * cs->s;
    size_t a = cnn__gemm_packed_floats(cs->k, crs), b = cnn__gemm_packed_floats(crs, cs->k);
    if (b > a) a = b;   /* w packed, w^T packed; both hold dw^T's C*R*S*K floats too */
#ifdef CNN__GEMM_VECTOR
    b = cnn__conv_dw_lanes_floats(crs, cs->k);
    if (b > a) a = b;   /* the weight gradient's lanes */
    b = cnn__conv_wide_scratch_floats(cs);
    if (cnn__conv_wide(cs) && b > a) a = b;
#ifdef CNN__WG
    b = cnn__conv_wg_scratch_floats(cs);
    if (cnn__conv_wg(cs) && b > a) a = b;
#endif
#endif
    return a;
}

CNN_API size_t cnn_conv_col_floats(const cnn_conv_shape *cs)
{
    const size_t crs = (size_t)cs->c * cs->r * cs->s;
    return (size_t)cs->n * crs * cs->p * cs->q + cnn__conv_scratch_floats(cs);
}

static void cnn__im2col(const cnn_conv_shape *cs, const float *x, float *col)
{
    int c, r, s, p, q;
    const int P = cs->p, Q = cs->q;
    for (c = 0; c < cs->c; c++)
        for (r = 0; r < cs->r; r++)
            for (s = 0; s < cs->s; s++) {
                float *row = col + ((size_t)(c * cs->r + r) * cs->s + s) * P * Q;
                /* output columns q0 <= q < q1 read inside the image; the rest read padding */
                const int sw = cs->stride_w, off = s - cs->pad_left;
                const int q0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int q1 = cs->w - off <= 0 ? 0 : (cs->w - off + sw - 1) / sw;
                if (q1 > Q) q1 = Q;
                for (p = 0; p < P; p++) {
                    int ih = p * cs->stride_h - cs->pad_top + r;
                    float *CNN__RESTRICT out = row + (size_t)p * Q;
                    const float *CNN__RESTRICT src;
                    if (ih < 0 || ih >= cs->h || q0 >= q1) {
                        memset(out, 0, (size_t)Q * sizeof(float));
                        continue;
                    }
                    src = x + ((size_t)c * cs->h + ih) * cs->w + off;
                    for (q = 0; q < q0; q++) out[q] = 0.0f;
                    if (sw == 1) memcpy(out + q0, src + q0, (size_t)(q1 - q0) * sizeof(float));
                    else for (q = q0; q < q1; q++) out[q] = src[q * sw];
                    for (q = q1; q < Q; q++) out[q] = 0.0f;
                }
            }
}

/* the adjoint of im2col: every column entry is added back to the pixel it was copied from */
static void cnn__col2im(const cnn_conv_shape *cs, const float *col, float *dx)
{
    int c, r, s, p, q;
    const int P = cs->p, Q = cs->q;
    for (c = 0; c < cs->c; c++)
        for (r = 0; r < cs->r; r++)
            for (s = 0; s < cs->s; s++) {
                const float *row = col + ((size_t)(c * cs->r + r) * cs->s + s) * P * Q;
                /* the same range of in-image columns as im2col */
                const int sw = cs->stride_w, off = s - cs->pad_left;
                const int q0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int q1 = cs->w - off <= 0 ? 0 : (cs->w - off + sw - 1) / sw;
                if (q1 > Q) q1 = Q;
                for (p = 0; p < P; p++) {
                    const int ih = p * cs->stride_h - cs->pad_top + r;
                    const float *CNN__RESTRICT src = row + (size_t)p * Q;
                    float *CNN__RESTRICT dst;
                    if (ih < 0 || ih >= cs->h) continue;
                    dst = dx + ((size_t)c * cs->h + ih) * cs->w + off;
                    if (sw == 1) for (q = q0; q < q1; q++) dst[q] += src[q];
                    else for (q = q0; q < q1; q++) dst[q * sw] += src[q];
                }
            }
}

/* one sample: its im2col columns into coln (unless they are there already), y_n = w * coln + b
   with w packed (cnn__gemm_pack) */
static void cnn__conv_im2col_sample(const cnn_conv_shape *cs, const float *xn, const float *pw, const float *b,
                                    float *coln, float *yn, int make_col)
{
    const int K = cs->k, CRS = cs->c * cs->r * cs->s, PQ = cs->p * cs->q;
    if (make_col) cnn__im2col(cs, xn, coln);
    cnn__gemm_prepacked(0, K, PQ, CRS, pw, coln, PQ, yn, PQ, 1, b);   /* the bias added in its stores */
}

/* keep = 0: col need not keep the input for a backward (see cnn__conv_wide_forward) */
static void cnn__conv_forward_im2col(const cnn_conv_shape *cs, const float *x, const float *w, const float *b, float *y,
                                     float *col, int keep)
{
    const int K = cs->k, CRS = cs->c * cs->r * cs->s, PQ = cs->p * cs->q;
    const size_t xs = (size_t)cs->c * cs->h * cs->w, cols = (size_t)CRS * PQ, ys = (size_t)K * PQ;
    float *pw = col + (size_t)cs->n * cols;   /* w, packed once for every sample */
    int n;
#ifdef CNN__GEMM_VECTOR
#ifdef CNN__WG
    if (cnn__conv_wg(cs)) {
        cnn__conv_wg_forward(cs, x, w, b, y, col, keep);
        return;
    }
#endif
    if (cnn__conv_wide(cs)) {
        cnn__conv_wide_forward(cs, x, w, b, y, col, keep);
        return;
    }
#else
    (void)keep;
#endif
    cnn__gemm_pack(0, K, CRS, w, CRS, pw);
    CNN__OMP_FOR(cs->n > 1 && (double)cs->n * ys * CRS > CNN__OMP_MIN_WORK)
    for (n = 0; n < cs->n; n++)
        cnn__conv_im2col_sample(cs, x + (size_t)n * xs, pw, b, col + (size_t)n * cols, y + (size_t)n * ys, 1);
}

CNN_API void cnn_conv_forward_im2col(const cnn_conv_shape *cs, const float *x, const float *w,
                                     const float *b, float *y, float *col)
{
    cnn__conv_forward_im2col(cs, x, w, b, y, col, 1);
}

/* dx_set: write dx rather than add to it, for a shape the wide path takes (cnn__conv_wide);
   x_kept: the input of a forward with keep = 2, for the wide path, or NULL */
static void cnn__conv_backward_im2col(const cnn_conv_shape *cs, float *col, const float *w, const float *dy, float *dx,
                                      float *dw, float *db, int dx_set, const float *x_kept)
{
    const int K = cs->k, CRS = cs->c * cs->r * cs->s, PQ = cs->p * cs->q, N = cs->n;
    const size_t xs = (size_t)cs->c * cs->h * cs->w, cols = (size_t)CRS * PQ, ys = (size_t)K * PQ;
    int k, n;
    (void)dx_set; (void)x_kept;
    /* bias gradient: one filter per iteration, samples summed in order */
    if (db) {
        CNN__OMP_FOR(K > 1 && (double)N * ys > CNN__OMP_MIN_WORK)
        for (k = 0; k < K; k++) {
            int m;
            for (m = 0; m < N; m++) db[k] += cnn__sum(dy + (size_t)m * ys + (size_t)k * PQ, (size_t)PQ);
        }
    }
    /* weight gradient: with vector types, lane-wise dot products (cnn__conv_dw_inner); in plain
       C, dw^T = sum_n col_n dy_n^T, sample after sample into the scratch (the first sample
       overwrites it), in two bands for two threads: bands of rows where there are many, else of
       columns, whole tiles each. A band packs dy_n once more, so no more bands than that; bands
       do not change any sum. Then dw += its transpose. */
#ifdef CNN__GEMM_VECTOR
#ifdef CNN__WG
    if (cnn__conv_wg(cs)) {
        cnn__conv_wg_backward(cs, col, w, dy, dx, dw, dx_set, x_kept);
        return;
    }
#endif
    if (cnn__conv_wide(cs)) {
        cnn__conv_wide_backward(cs, col, w, dy, dx, dw, dx_set, x_kept);
        return;
    }
    if (dw) {
        cnn__dw_rows d;
        memset(&d, 0, sizeof d);
        d.a = col; d.a_per = cols; d.a_row = (size_t)PQ;
        d.b = dy; d.b_per = ys; d.b_row = (size_t)PQ;
        d.n = PQ;
        cnn__conv_dw_inner(cs, &d, dw, col + (size_t)N * cols);
    }
#else
    if (dw) {
        float *dwt = col + (size_t)N * cols;
        const int by_rows = CRS >= 8 * CNN_GEMM_MR, len = by_rows ? CRS : K, unit = by_rows ? CNN_GEMM_MR : CNN_GEMM_NR;
        const int band_len = ((len + 1) / 2 + unit - 1) / unit * unit, bands = (len + band_len - 1) / band_len;
        int band, j;
        CNN__OMP_FOR(bands > 1 && (double)N * ys * CRS > CNN__OMP_MIN_WORK)
        for (band = 0; band < bands; band++) {
            const int b0 = band * band_len, bn = len - b0 < band_len ? len - b0 : band_len;
            int m;
            for (m = 0; m < N; m++) {
                const float *coln = col + (size_t)m * cols, *dyn = dy + (size_t)m * ys;
                if (by_rows)
                    cnn__gemm(0, 1, bn, K, PQ, coln + (size_t)b0 * PQ, PQ, dyn, PQ, dwt + (size_t)b0 * K, K, m == 0);
                else
                    cnn__gemm(0, 1, CRS, bn, PQ, coln, PQ, dyn + (size_t)b0 * PQ, PQ, dwt + b0, K, m == 0);
            }
        }
        for (k = 0; k < K; k++)
            for (j = 0; j < CRS; j++) dw[(size_t)k * CRS + j] += dwt[(size_t)j * K + k];
    }
#endif
    /* input gradient: col is no longer needed, so each sample's dcol overwrites its own; w^T is
       packed once, into the scratch that dw^T is done with */
    if (dx) {
        float *pwt = col + (size_t)N * cols;
        cnn__gemm_pack(1, CRS, K, w, CRS, pwt);
        CNN__OMP_FOR(N > 1 && (double)N * ys * CRS > CNN__OMP_MIN_WORK)
        for (n = 0; n < N; n++) {
            float *coln = col + (size_t)n * cols;
            cnn__gemm_prepacked(0, CRS, PQ, K, pwt, dy + (size_t)n * ys, PQ, coln, PQ, 1, NULL);
            cnn__col2im(cs, coln, dx + (size_t)n * xs);
        }
    }
}

CNN_API void cnn_conv_backward_im2col(const cnn_conv_shape *cs, float *col, const float *w,
                                      const float *dy, float *dx, float *dw, float *db)
{
    cnn__conv_backward_im2col(cs, col, w, dy, dx, dw, db, 0, NULL);
}

#ifdef CNN__GEMM_VECTOR
/* The weight and bias gradients of a convolution whose output gradient is made row by row from
   the batch norm after it (cnn__bn_gen), for a net's first layer, which needs no dx: where the
   weight gradient's bands split K and the wide path is not taken (cnn__conv_takes_bn_gen). The
   rows go to gen->buf, after the workspace's scratch (cnn__conv_gen_floats). */
static int cnn__conv_gen_applies(const cnn_conv_shape *cs)
{
    const int ct = (cs->c * cs->r * cs->s + CNN__DW_T - 1) / CNN__DW_T, kt = (cs->k + CNN__DW_T - 1) / CNN__DW_T;
    return ct < kt && !cnn__conv_wide(cs);
}
static size_t cnn__conv_gen_rows_floats(const cnn_conv_shape *cs)
{
    const int kt = (cs->k + CNN__DW_T - 1) / CNN__DW_T;
    return (size_t)((kt + 3) / 4) * 4 * CNN__DW_T * (size_t)cs->p * cs->q;
}
static void cnn__conv_backward_gen(const cnn_conv_shape *cs, float *col, const cnn__bn_gen *gen, float *dw)
{
    const size_t cols = (size_t)cs->c * cs->r * cs->s * cs->p * cs->q;
    cnn__dw_rows d;
    memset(&d, 0, sizeof d);
    d.a = col; d.a_per = cols; d.a_row = (size_t)cs->p * cs->q;
    d.n = cs->p * cs->q;
    d.gen = gen;
    cnn__conv_dw_inner(cs, &d, dw, col + (size_t)cs->n * cols);
}

/* The same for the study's first block, "convolution, batch norm, ReLU, 2x2 max/min pool", with
   the batch norm's part taken out of the sums. Its dx is
     dx = k * (g - a - xhat * b),   xhat = (z - mu) * sc,   z = w_k . col + bias_k
   with g the gradient behind the pool and the ReLU, zero but at one pick in four. So
     dw[k][j] = sum_n,p dx * col_j = k * (R[k][j] - a * s_j - b * sc * (sum_i w[k][i] G[i][j] + (bias_k - mu) * s_j))
   with R = sum g * col_j (cnn__conv_pool_gen_sums), s_j = sum col_j and the Gram matrix
   G[i][j] = sum col_i * col_j over the batch: G and s do not depend on k, so the 26x26 map of
   dx (or of z) is never read, only the pool's 13x13 outputs. The bias gradient likewise,
   db = k * (sum g - a * M - b * sc * (w_k . s + M * (bias_k - mu))), which is zero up to rounding
   (the batch norm removes any bias). Inputs far from zero (a mean hundreds of times their spread)
   would make R and a * s_j, and w.G and (bias_k - mu) * s_j, cancel in float: so every sum runs over the
   columns less their batch means c_j, col_j - c_j, and the terms in c_j are added back:
     dw[k][j] = k * (R' - a * s'_j + c_j * (sum g - a * M) - b * sc * (w_k.G' + e_k * s'_j + c_j * T_k))
   with e_k = w_k . c + bias_k - mu and T_k = sum (z - mu) = w_k . s' + M * e_k (both about 0).
   G', s' and c are summed over the samples in double, in order. */
/* R[k][j] = sum over the batch of g * (col_j - c_j) and rdb[k] = sum of g, for cnn__conv_backward_pool_gen.
   g is nonzero only at the pool's picks, one in four outputs of the convolution, so R is a sum
   over the picks: R[k][.] = sum over the picks i of g_i * colT[arg_i][.], with colT the sample's
   im2col matrix transposed, a row of CRS floats (padded to whole vectors, 64-byte aligned) per
   output pixel: one vector multiply-add per pick for the study's 9 taps, a quarter of a dense
   sum over the map. The samples go to a fixed number of groups, each with its own colT (it
   stays in L1) and partial sums; within a group samples run in order, each channel's sum in 4
   running vectors (pick i in sum i % 4) added as (s0 + s1) + (s2 + s3); the groups' partials
   are added in group order at the end: the same bits for any thread count. */
#define CNN__PG_GROUPS 8
#define CNN__PG_NV 4   /* vectors of taps per pass */

#ifdef CNN__WG
/* o[c] = column c of the 16 rows r[0..15]: pairs of rows' elements interleaved, then columns
   of 4 rows made in each 128-bit lane, then two rounds of lane moves put each column's four
   lanes together (64 two-source permutes for 256 elements; as permutes rather than unpacks and
   lane shuffles, whose GCC 12 definitions set off -Wmaybe-uninitialized in C++) */
static void cnn__transpose16(const __m512 *r, __m512 *o)
{
    static const int32_t ix[6][16] = {
        {0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29},      /* lane L: a[4L] b[4L] a[4L+1] b[4L+1] */
        {2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31},    /* and 4L+2, 4L+3 */
        {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},      /* a[4L] a[4L+1] b[4L] b[4L+1] */
        {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},    /* and 4L+2, 4L+3 */
        {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27},      /* lanes a0 a2 b0 b2 */
        {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31}};   /* lanes a1 a3 b1 b3 */
    __m512i p[6];
    __m512 t[16], u[16];
    int k, j;
    for (k = 0; k < 6; k++) p[k] = _mm512_loadu_si512((const void *)ix[k]);
    for (k = 0; k < 8; k++) {
        t[2 * k] = _mm512_permutex2var_ps(r[2 * k], p[0], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_permutex2var_ps(r[2 * k], p[1], r[2 * k + 1]);
    }
    for (k = 0; k < 4; k++) {   /* u[4k + j], lane L: column 4L + j of rows 4k .. 4k + 3 */
        u[4 * k] = _mm512_permutex2var_ps(t[4 * k], p[2], t[4 * k + 2]);
        u[4 * k + 1] = _mm512_permutex2var_ps(t[4 * k], p[3], t[4 * k + 2]);
        u[4 * k + 2] = _mm512_permutex2var_ps(t[4 * k + 1], p[2], t[4 * k + 3]);
        u[4 * k + 3] = _mm512_permutex2var_ps(t[4 * k + 1], p[3], t[4 * k + 3]);
    }
    for (j = 0; j < 4; j++) {   /* column 4L + j: lane L of u[j], u[4 + j], u[8 + j], u[12 + j] */
        const __m512 v0 = _mm512_permutex2var_ps(u[j], p[4], u[4 + j]), v1 = _mm512_permutex2var_ps(u[j], p[5], u[4 + j]);
        const __m512 v2 = _mm512_permutex2var_ps(u[8 + j], p[4], u[12 + j]);
        const __m512 v3 = _mm512_permutex2var_ps(u[8 + j], p[5], u[12 + j]);
        o[j] = _mm512_permutex2var_ps(v0, p[4], v2);
        o[4 + j] = _mm512_permutex2var_ps(v1, p[4], v3);
        o[8 + j] = _mm512_permutex2var_ps(v0, p[5], v2);
        o[12 + j] = _mm512_permutex2var_ps(v1, p[5], v3);
    }
}
#endif

/* colT[i][j] = col[j][i] - c[j] for the PQ patches i (rows CRSV long, zero past CRS): in AVX-512
   builds 16 patches and 16 taps at a time by cnn__transpose16 (one at a time, the scalar copies
   were a fifth of cnn__conv_pool_gen_sums' time); the same subtractions, the same bits */
static void cnn__pool_gen_colT(const float *col, const float *c, int CRS, int CRSV, int PQ, float *colT)
{
    int i = 0, j;
#ifdef CNN__WG
    for (; i + 16 <= PQ; i += 16) {
        int j0;
        for (j0 = 0; j0 < CRSV; j0 += 16) {
            __m512 r[16], o[16];
            int l;
            for (l = 0; l < 16; l++)
                r[l] = j0 + l < CRS ? _mm512_sub_ps(_mm512_loadu_ps(col + (size_t)(j0 + l) * PQ + i), _mm512_set1_ps(c[j0 + l]))
                                    : _mm512_setzero_ps();
            cnn__transpose16(r, o);
            for (l = 0; l < 16; l++) _mm512_storeu_ps(colT + (size_t)(i + l) * CRSV + j0, o[l]);
        }
    }
#endif
    for (; i < PQ; i++) {
        for (j = 0; j < CRS; j++) colT[(size_t)i * CRSV + j] = col[(size_t)j * PQ + i] - c[j];
        for (; j < CRSV; j++) colT[(size_t)i * CRSV + j] = 0.0f;
    }
}
static size_t cnn__conv_pool_gen_group_floats(const cnn_conv_shape *cs)
{
    const size_t crsv = ((size_t)cs->c * cs->r * cs->s + CNN__VW - 1) / CNN__VW * CNN__VW;
    const size_t ppq = (size_t)(cs->p / 2) * (size_t)(cs->q / 2);
    /* colT, the partial sums of g * col, those of g and g * xhat (2K doubles), g itself; each a
       multiple of 16 floats */
    return ((size_t)cs->p * cs->q * crsv + 15) / 16 * 16 + ((size_t)cs->k * crsv + 15) / 16 * 16 +
           ((size_t)cs->k * 4 + 15) / 16 * 16 + (ppq + 15) / 16 * 16;
}
static size_t cnn__conv_pool_gen_sums_floats(const cnn_conv_shape *cs)
{
    return CNN__PG_GROUPS * cnn__conv_pool_gen_group_floats(cs) + 16;   /* 16: for the alignment */
}
static void cnn__conv_pool_gen_sums(const cnn_conv_shape *cs, const float *col, const float *c, const cnn__bn_gen *gen,
                                    float *work, float *R, double *bsum)
{
    const int K = cs->k, CRS = cs->c * cs->r * cs->s, N = cs->n, PQ = cs->p * cs->q, PPQ = (cs->p / 2) * (cs->q / 2);
    const int CRSV = (CRS + CNN__VW - 1) / CNN__VW * CNN__VW, NV = CRSV / CNN__VW;
    const int groups = N < CNN__PG_GROUPS ? N : CNN__PG_GROUPS;
    const size_t per = cnn__conv_pool_gen_group_floats(cs), lanes_at = ((size_t)PQ * CRSV + 15) / 16 * 16;
    const size_t sums_at = lanes_at + ((size_t)K * CRSV + 15) / 16 * 16, gr_at = sums_at + ((size_t)K * 4 + 15) / 16 * 16;
    float *base = work + (16 - (size_t)((uintptr_t)work % 64) / sizeof(float)) % 16;   /* 64-byte aligned */
    int grp, k, j;
    CNN__OMP_FOR(groups > 1 && (double)N * K * PPQ * CRSV > CNN__OMP_MIN_WORK)
    for (grp = 0; grp < groups; grp++) {
        const cnn__vf zero = {0};
        float *colT = base + (size_t)grp * per, *lanes = colT + lanes_at, *gr = colT + gr_at;
        double *sums = (double *)(void *)(colT + sums_at);   /* sum g, then sum g * xhat */
        int m, kk, i, u, v, v0;
        memset(lanes, 0, (size_t)K * CRSV * sizeof(float));
        memset(sums, 0, (size_t)K * 2 * sizeof(double));
        for (m = grp * N / groups; m < (grp + 1) * N / groups; m++) {
            const float *cm = col + (size_t)m * CRS * PQ;
            cnn__pool_gen_colT(cm, c, CRS, CRSV, PQ, colT);   /* sample m */
            for (kk = 0; kk < K; kk++) {
                const size_t po = ((size_t)m * K + kk) * PPQ;
                const int32_t *at = gen->arg + po;
                const float *dy = gen->dy + po, *y = gen->x + po, *mk = gen->mask ? gen->mask + po : NULL;
                /* the gradient at the picks, behind the dropout (if folded) and the activation */
                if (gen->keep) {   /* dy * mask and the ReLU's: dy * scale where both passed, else 0 */
                    const unsigned char *kp = gen->keep + po;
                    for (i = 0; i < PPQ; i++) gr[i] = cnn__keep_grad(dy[i] * gen->scale, kp[i]);
                } else {
                    for (i = 0; i < PPQ; i++) gr[i] = mk ? dy[i] * mk[i] : dy[i];
                    if (gen->act == CNN_ACT_SIGMOID) for (i = 0; i < PPQ; i++) gr[i] = CNN__SIGMOID_GRAD(gr[i], y[i]);
                    else if (gen->act == CNN_ACT_TANH) for (i = 0; i < PPQ; i++) gr[i] = CNN__TANH_GRAD(gr[i], y[i]);
                    else for (i = 0; i < PPQ; i++) gr[i] = cnn__relu_grad(gr[i], y[i]);
                }
                sums[kk] += (double)cnn__sum(gr, (size_t)PPQ);
                sums[K + kk] += (double)cnn__sum_prod(gr, gen->xs + po, gen->mean[kk], gen->invstd[kk], (size_t)PPQ);
                if (NV == 1) {   /* the study's case, the sums in registers */
                    cnn__vf a0 = zero, a1 = zero, a2 = zero, a3 = zero, x0, x1, x2, x3, lv;
                    for (i = 0; i + 4 <= PPQ; i += 4) {
                        memcpy(&x0, colT + (size_t)at[i] * CRSV, sizeof x0);
                        memcpy(&x1, colT + (size_t)at[i + 1] * CRSV, sizeof x1);
                        memcpy(&x2, colT + (size_t)at[i + 2] * CRSV, sizeof x2);
                        memcpy(&x3, colT + (size_t)at[i + 3] * CRSV, sizeof x3);
                        a0 += gr[i] * x0; a1 += gr[i + 1] * x1; a2 += gr[i + 2] * x2; a3 += gr[i + 3] * x3;
                    }
                    for (; i < PPQ; i++) {
                        memcpy(&x0, colT + (size_t)at[i] * CRSV, sizeof x0);
                        if ((i & 3) == 0) a0 += gr[i] * x0;
                        else if ((i & 3) == 1) a1 += gr[i] * x0;
                        else a2 += gr[i] * x0;
                    }
                    memcpy(&lv, lanes + (size_t)kk * CRSV, sizeof lv);
                    lv += (a0 + a1) + (a2 + a3);
                    memcpy(lanes + (size_t)kk * CRSV, &lv, sizeof lv);
                    continue;
                }
                for (v0 = 0; v0 < NV; v0 += CNN__PG_NV) {   /* CNN__PG_NV vectors of taps at a time */
                    const int nv = NV - v0 < CNN__PG_NV ? NV - v0 : CNN__PG_NV;
                    cnn__vf acc[4][CNN__PG_NV], lv;
                    for (u = 0; u < 4; u++)
                        for (v = 0; v < CNN__PG_NV; v++) acc[u][v] = zero;
                    for (i = 0; i < PPQ; i++) {
                        const float *row = colT + (size_t)at[i] * CRSV + (size_t)v0 * CNN__VW;
                        for (v = 0; v < nv; v++) {
                            cnn__vf x;
                            memcpy(&x, row + (size_t)v * CNN__VW, sizeof x);
                            acc[i & 3][v] += gr[i] * x;
                        }
                    }
                    for (v = 0; v < nv; v++) {
                        float *l = lanes + (size_t)kk * CRSV + (size_t)(v0 + v) * CNN__VW;
                        memcpy(&lv, l, sizeof lv);
                        lv += (acc[0][v] + acc[1][v]) + (acc[2][v] + acc[3][v]);
                        memcpy(l, &lv, sizeof lv);
                    }
                }
            }
        }
    }
    for (k = 0; k < K; k++) {   /* the groups' partial sums, in group order */
        for (j = 0; j < CRS; j++) {
            float sum = 0.0f;
            for (grp = 0; grp < groups; grp++) sum += base[(size_t)grp * per + lanes_at + (size_t)k * CRSV + j];
            R[(size_t)k * CRS + j] = sum;
        }
        bsum[k] = bsum[K + k] = 0.0;
        for (grp = 0; grp < groups; grp++) {
            const double *gs = (const double *)(const void *)(base + (size_t)grp * per + sums_at);
            bsum[k] += gs[k];
            bsum[K + k] += gs[K + k];
        }
    }
}
#undef CNN__PG_GROUPS
#undef CNN__PG_NV

static void cnn__conv_backward_pool_gen(const cnn_conv_shape *cs, float *col, const float *w, const float *bias,
                                        cnn__bn_gen *gen, float *dw, float *db)
{
    const int K = cs->k, CRS = cs->c * cs->r * cs->s, N = cs->n, PQ = cs->p * cs->q;
    const size_t kc = (size_t)K * CRS, kc16 = (kc + 15) / 16 * 16;
    const double M = (double)N * PQ;
    float *raw = gen->buf + (cnn__conv_pool_gen_sums_floats(cs) + 15) / 16 * 16;
    double *bsum = (double *)(void *)(raw + kc16);   /* sum g, sum g * xhat: the batch norm's */
    double *G = (double *)(void *)(raw + (kc16 + (size_t)K * 4 + 15) / 16 * 16), *sj = G + (size_t)CRS * CRS;
    float *c = (float *)(void *)(sj + CRS);
    const size_t per = (size_t)CRS * CRS + CRS;   /* a sample's S_m and mu_m in gen->smu */
    int k, j, i, m;
    for (j = 0; j < CRS; j++) {   /* the centres: each column's mean over the batch */
        double sum = 0.0;
        for (m = 0; m < N; m++) sum += gen->smu[m * per + (size_t)CRS * CRS + j];
        c[j] = (float)(sum / N);
    }
    cnn__conv_pool_gen_sums(cs, col, c, gen, gen->buf, raw, bsum);
    /* G' and s' from the forward's per-sample scatter matrices (cnn__block0_plane_stats): about
       the batch's centres c rather than the sample's mean mu_m,
         G'_ij = sum_m S_m,ij + PQ (mu_m,i - c_i)(mu_m,j - c_j),   s'_i = sum_m PQ (mu_m,i - c_i) */
    for (i = 0; i < CRS; i++) {
        sj[i] = 0.0;
        for (j = 0; j < CRS; j++) G[(size_t)i * CRS + j] = 0.0;
    }
    for (m = 0; m < N; m++) {
        const double *S = gen->smu + m * per, *mu = S + (size_t)CRS * CRS;
        for (i = 0; i < CRS; i++) {
            const double di = mu[i] - c[i];
            sj[i] += PQ * di;
            for (j = 0; j < CRS; j++) G[(size_t)i * CRS + j] += S[(size_t)i * CRS + j] + PQ * di * (mu[j] - c[j]);
        }
    }
    for (k = 0; k < K; k++) {   /* the batch norm's backward (cnn__bn_backward's k, a, b), then dw */
        const double kk = (double)(gen->gamma[k] * gen->invstd[k]), a = bsum[k] / M, b = bsum[K + k] / M;
        const double sc = gen->invstd[k];
        const float *wk = w + (size_t)k * CRS;
        double e = (bias ? (double)bias[k] : 0.0) - gen->mean_d[k], T, g0 = bsum[k] - a * M;
        for (i = 0; i < CRS; i++) e += (double)wk[i] * c[i];
        for (T = M * e, i = 0; i < CRS; i++) T += (double)wk[i] * sj[i];
        for (j = 0; j < CRS; j++) {
            double wg = 0.0;
            for (i = 0; i < CRS; i++) wg += (double)wk[i] * G[(size_t)i * CRS + j];
            dw[(size_t)k * CRS + j] += (float)(kk * ((double)raw[(size_t)k * CRS + j] - a * sj[j] + c[j] * g0 -
                                                     b * sc * (wg + e * sj[j] + c[j] * T)));
        }
        if (db) db[k] += (float)(kk * (g0 - b * sc * T));
        gen->dgamma[k] += (float)bsum[K + k];
        gen->dbeta[k] += (float)bsum[k];
    }
}

/* the workspace after the scratch (gen->buf, 16 floats aligned): cnn__conv_backward_gen's rows,
   or cnn__conv_backward_pool_gen's: cnn__conv_pool_gen_sums' part, R (K*CRS floats) and, each
   from a multiple of 16 floats on, the batch norm's sums (2K doubles), G' and s' in double
   (CRS*CRS + CRS), then c (CRS floats) */
static size_t cnn__conv_gen_floats(const cnn_conv_shape *cs)
{
    const size_t crs = (size_t)cs->c * cs->r * cs->s;
    const size_t raw = (((size_t)cs->k * crs + 15) / 16 * 16 + (size_t)cs->k * 4 + 15) / 16 * 16;
    const size_t rows = cnn__conv_gen_rows_floats(cs);
    const size_t pg = (cnn__conv_pool_gen_sums_floats(cs) + 15) / 16 * 16 + raw + 2 * (crs * crs + crs) + crs;
    return rows > pg ? rows : pg;
}
#endif

/* >>pool implementation
   Max (min) pooling passes through the largest (smallest) value of each window; its gradient
   goes to that one input, remembered in arg. Average pooling spreads the gradient evenly. */
CNN_API cnn_status cnn_pool_shape_init(cnn_pool_shape *ps, int n, int c, int h, int w, int size,
                                       int stride, cnn_error *err)
{
    memset(ps, 0, sizeof *ps);
    if (stride == 0) stride = size;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || size <= 0 || stride <= 0)
        return cnn__fail(err, CNN_ERR_ARG, "pool: sizes must be positive (input %dx%dx%d, pool %d, stride %d)",
                         h, w, c, size, stride);
    if (h < size || w < size)
        return cnn__fail(err, CNN_ERR_SHAPE, "pool: window %d does not fit a %dx%dx%d input", size, h, w, c);
    ps->n = n; ps->c = c; ps->h = h; ps->w = w; ps->size = size; ps->stride = stride;
    ps->p = (h - size) / stride + 1;   /* floor: a partial window at the edge is dropped */
    ps->q = (w - size) / stride + 1;
    cnn__ok(err);
    return CNN_OK;
}

/* the study's pooling (2x2, stride 2) has paths of its own, forward and backward */
static int cnn__pool2_applies(const cnn_pool_shape *ps)
{
    return ps->size == 2 && ps->stride == 2;
}

/* rows output rows of 2x2, stride-2 pooling, the first from input rows r0 and r1 (W: the input's
   row length and at0: the index of r0[0] in its plane, both for arg), each next one from the two
   input rows 2W further on and written Q further on; each window's values in the order of the
   general loop below (so ties and NaNs keep the first position). A plane in one call: choosing
   among the variants below and the call had cost as much as a 13-window row itself. Selects, not
   branches: after ReLU about half the values tie at zero, a pattern no branch predictor guesses.
   The study's rows have Q = 13 or 6 windows: a vectorised loop over 13 leaves 5 to a scalar
   tail, so Q >= 8 runs in blocks of exactly 8 windows, the last block moved back to end at Q
   (a few windows computed twice, to the same values): every window in vector code.
   With arg and zs, zs[q] also receives the value of rows z0, z1 (another map of the same shape)
   at the pick: the fused pool keeps its batch norm's input there (cnn__conv_pool_gen_sums). */
static void cnn__pool2_rows(cnn_pool_type t, int rows, const float *CNN__RESTRICT r0, const float *CNN__RESTRICT r1,
                            int W, int Q, float *CNN__RESTRICT y, int32_t *CNN__RESTRICT arg, int32_t at0,
                            const float *CNN__RESTRICT z0, const float *CNN__RESTRICT z1, float *CNN__RESTRICT zs)
{
    int q0, q, k, row, len = Q < 8 ? Q : 8;
    /* s = mask ? u : s on the bits, mask all ones or zero: no branch even in scalar code (a float
       ?: there compiles to a jump) */
#define CNN__SEL(mask, u, s) (((u) & (mask)) | ((s) & ~(mask)))
#define CNN__POOL2_PICK(BETTER, v, mb, b)                                       \
    b = 0u - (uint32_t)BETTER(v, m); memcpy(&ub, &v, 4);                        \
    mb = CNN__SEL(b, ub, mb); memcpy(&m, &mb, 4);
#define CNN__POOL2_LOOP(BETTER, ARG, ZS)                                        \
    for (k = 0; k < len; k++) {                                                 \
        const float v1 = r0[2 * (q = q0 + k) + 1], v2 = r1[2 * q], v3 = r1[2 * q + 1]; \
        const int32_t i0 = at0 + 2 * q;                                         \
        float m = r0[2 * q];                                                    \
        uint32_t mb, ub, b1, b2, b3;                                            \
        memcpy(&mb, &m, 4);                                                     \
        CNN__POOL2_PICK(BETTER, v1, mb, b1)                                     \
        CNN__POOL2_PICK(BETTER, v2, mb, b2)                                     \
        CNN__POOL2_PICK(BETTER, v3, mb, b3)                                     \
        y[q] = m;                                                               \
        ARG(arg[q] = (int32_t)CNN__SEL(b3, (uint32_t)(i0 + W + 1),              \
               CNN__SEL(b2, (uint32_t)(i0 + W), CNN__SEL(b1, (uint32_t)(i0 + 1), (uint32_t)i0)));) \
        ZS(memcpy(&ub, &z0[2 * q], 4); memcpy(&mb, &z0[2 * q + 1], 4);         \
           ub = CNN__SEL(b1, mb, ub); memcpy(&mb, &z1[2 * q], 4);               \
           ub = CNN__SEL(b2, mb, ub); memcpy(&mb, &z1[2 * q + 1], 4);           \
           ub = CNN__SEL(b3, mb, ub); memcpy(&zs[q], &ub, 4);)                  \
    }
#define CNN__GT(u, v) ((u) > (v))
#define CNN__LT(u, v) ((u) < (v))
#define CNN__KEEP(stmt) stmt
#define CNN__DROP(stmt) (void)b1; (void)b2; (void)b3; (void)i0;
#define CNN__NONE(stmt)
    /* from the second row on, every pointer on by its row's stride (the inputs by 2W: the next
       row pair); not after the last row, where they would point outside their arrays */
#define CNN__POOL2_NEXT                                                         \
    if (row > 0) {                                                              \
        r0 += 2 * (size_t)W; r1 += 2 * (size_t)W; y += Q; at0 += 2 * W;         \
        if (arg) arg += Q;                                                      \
        if (zs) { z0 += 2 * (size_t)W; z1 += 2 * (size_t)W; zs += Q; }          \
    }
#define CNN__POOL2_ROWS(BETTER, ARG, ZS)                                        \
    for (row = 0; row < rows; row++) {                                          \
        CNN__POOL2_NEXT                                                         \
        for (q0 = 0;;) {                                                        \
            CNN__POOL2_LOOP(BETTER, ARG, ZS)                                    \
            if (q0 + len == Q) break;                                           \
            q0 = q0 + 16 <= Q ? q0 + 8 : Q - 8;                                 \
        }                                                                       \
    }
    if (t == CNN_POOL_AVG) {   /* vectorised as it is */
        for (row = 0; row < rows; row++) {
            CNN__POOL2_NEXT
            for (q = 0; q < Q; q++) y[q] = (((r0[2 * q] + r0[2 * q + 1]) + r1[2 * q]) + r1[2 * q + 1]) * 0.25f;
        }
    }
    else if (t == CNN_POOL_MAX && arg && zs) CNN__POOL2_ROWS(CNN__GT, CNN__KEEP, CNN__KEEP)
    else if (arg && zs) CNN__POOL2_ROWS(CNN__LT, CNN__KEEP, CNN__KEEP)
    else if (t == CNN_POOL_MAX && arg) CNN__POOL2_ROWS(CNN__GT, CNN__KEEP, CNN__NONE)
    else if (arg) CNN__POOL2_ROWS(CNN__LT, CNN__KEEP, CNN__NONE)
    else if (t == CNN_POOL_MAX) CNN__POOL2_ROWS(CNN__GT, CNN__DROP, CNN__NONE)
    else CNN__POOL2_ROWS(CNN__LT, CNN__DROP, CNN__NONE)
#undef CNN__POOL2_ROWS
#undef CNN__POOL2_NEXT
#undef CNN__KEEP
#undef CNN__DROP
#undef CNN__NONE
#undef CNN__GT
#undef CNN__LT
#undef CNN__POOL2_LOOP
#undef CNN__POOL2_PICK
#undef CNN__SEL
}

/* One output row of max (min) pooling with any window S and stride st, from x (the window's
   first input row; the rows W apart, at0 its first element's index in the plane): the value of
   each window's first tap, in row-major order, among those equal to its extreme, and its index.
   The plain way scans each window's taps in that order, one compare-and-pick after another
   (the code at the end, which portable builds run for every window). Vector builds instead go
   over a run of columns in two passes: down each column through the window's S rows, keeping
   the extreme and the first row that holds it, then across each window's S columns, where an
   equal value in an earlier row is preferred: of the taps equal to the extreme, that picks the
   least row, and of those the least column, the same tap as the scan. The across pass runs at
   every column (as if a window started at each), of which every st-th is a window of the pool:
   vectors over contiguous columns either way. The scan keeps a NaN only in a window's first tap
   (every compare with a NaN is false); here a column's NaN gives way to the first number below
   it, so that a NaN at the top of a column does not hide the values under it, and a window
   whose first tap is a NaN takes it. Study model 17's 5x5 pool over 26x26x64 maps, forward, in
   tools/layer_times.py at batch 32 on 2 threads: 32.1 us an image by the scan (4 windows
   interleaved), 14.5 this way. */
#define CNN__POOL_COLS 256   /* columns a run, on the stack */
#ifdef CNN__GEMM_VECTOR
static void cnn__pool_runs(int max, int S, int cols, int W, const float *x, float *cm, int32_t *ci, float *am,
                           int32_t *ar, int32_t *ac)
{
    const int starts = cols - S + 1 > CNN__VW ? cols - S + 1 : CNN__VW;
    int c, i, j;
    /* blocks of CNN__VW columns, the last one moved back to end at the run's end (its columns
       done twice, which changes nothing: a pick is kept on a second look) */
    memset(cm + cols, 0, CNN__VW * sizeof(float));   /* read past the run, not used */
    memset(ci + cols, 0, CNN__VW * sizeof(int32_t));
    for (c = 0;; c = c + 2 * CNN__VW <= cols ? c + CNN__VW : cols - CNN__VW) {   /* down */
        cnn__vf m = cnn__vload(x + c);
        cnn__vi r = {0};
        for (i = 1; i < S; i++) {
            const cnn__vf v = cnn__vload(x + (size_t)i * W + c);
            const cnn__vi b = (max ? v > m : v < m) | ((m != m) & (v == v));
            m = cnn__vsel(b, v, m);
            r = (b & i) | (r & ~b);
        }
        cnn__vstore(cm + c, m);
        memcpy(ci + c, &r, sizeof r);
        if (c + CNN__VW >= cols) break;
    }
    for (c = 0;; c = c + 2 * CNN__VW <= starts ? c + CNN__VW : starts - CNN__VW) {   /* across */
        cnn__vf m = cnn__vload(cm + c);
        cnn__vi r = cnn__vload_i(ci + c), k = {0};
        for (j = 1; j < S; j++) {
            const cnn__vf v = cnn__vload(cm + c + j);
            const cnn__vi vr = cnn__vload_i(ci + c + j);
            const cnn__vi b = (max ? v > m : v < m) | ((v == m) & (vr < r));
            m = cnn__vsel(b, v, m);
            r = (b & vr) | (r & ~b);
            k = (b & j) | (k & ~b);
        }
        cnn__vstore(am + c, m);
        memcpy(ar + c, &r, sizeof r);
        memcpy(ac + c, &k, sizeof k);
        if (c + CNN__VW >= starts) break;
    }
}
#endif

static void cnn__pool_extreme_row(cnn_pool_type t, int S, int st, int W, int Q, const float *x, int at0, float *y,
                                  int32_t *arg)
{
    const int max = t == CNN_POOL_MAX;
    int q0 = 0, q, i, j;
#ifdef CNN__GEMM_VECTOR
    float cm[CNN__POOL_COLS + CNN__VW], am[CNN__POOL_COLS + CNN__VW];
    int32_t ci[CNN__POOL_COLS + CNN__VW], ar[CNN__POOL_COLS + CNN__VW], ac[CNN__POOL_COLS + CNN__VW];
    const int per = S <= CNN__POOL_COLS ? (CNN__POOL_COLS - S) / st + 1 : 0;   /* windows a run */
    for (; per && (Q - q0 < per ? Q - q0 : per) * st - st + S >= CNN__VW; q0 += per) {   /* runs of a vector or more */
        const int nq = Q - q0 < per ? Q - q0 : per, c0 = q0 * st;
        cnn__pool_runs(max, S, (nq - 1) * st + S, W, x + c0, cm, ci, am, ar, ac);
        for (q = 0; q < nq; q++) {
            const int at = q * st;
            const int nan = x[c0 + at] != x[c0 + at];   /* a NaN first tap: the window's value */
            y[q0 + q] = nan ? x[c0 + at] : am[at];
            if (arg) arg[q0 + q] = at0 + (nan ? 0 : ar[at] * W + ac[at]) + c0 + at;
        }
    }
#endif
    for (q = q0; q < Q; q++) {   /* the scan: portable builds, narrow maps, windows wider than a run */
        const float *xw = x + q * st;
        float m = xw[0];
        int32_t at = 0;
        for (i = 0; i < S; i++)
            for (j = i ? 0 : 1; j < S; j++)
                if (max ? xw[i * W + j] > m : xw[i * W + j] < m) { m = xw[i * W + j]; at = i * W + j; }
        y[q] = m;
        if (arg) arg[q] = at0 + q * st + at;
    }
}

CNN_API void cnn_pool_forward(const cnn_pool_shape *ps, cnn_pool_type t, const float *x, float *y,
                              int32_t *arg)
{
    const int planes = ps->n * ps->c, S = ps->size, W = ps->w, st = ps->stride, nw = ps->p * ps->q;
    const float inv_area = cnn__f32(1.0f / (float)(S * S));   /* a float also on x87 */
    int pl;
    CNN__OMP_FOR(planes > 1 && (double)planes * ps->h * ps->w > CNN__OMP_MIN_WORK)
    for (pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * ps->h * W;
        float *yp = y + (size_t)pl * nw;
        int32_t *ap = arg ? arg + (size_t)pl * nw : NULL;
        int p, q, i, j;
        if (cnn__pool2_applies(ps)) {   /* the study's pooling, window at once */
            cnn__pool2_rows(t, ps->p, xp, xp + W, W, ps->q, yp, ap, 0, NULL, NULL, NULL);
            continue;
        }
        if (t == CNN_POOL_AVG) {   /* every window's taps summed in row-major order, then scaled */
            for (p = 0; p < ps->p; p++)
                for (q = 0; q < ps->q; q++) {
                    const float *xw = xp + p * st * W + q * st;
                    float m = xw[0];
                    for (i = 0; i < S; i++)
                        for (j = i ? 0 : 1; j < S; j++) m += xw[i * W + j];
                    yp[p * ps->q + q] = m * inv_area;
                    if (ap) ap[p * ps->q + q] = p * st * W + q * st;   /* the window's place, as ever */
                }
            continue;
        }
        for (p = 0; p < ps->p; p++)
            cnn__pool_extreme_row(t, S, st, W, ps->q, xp + (size_t)p * st * W, p * st * W, yp + (size_t)p * ps->q,
                                  ap ? ap + (size_t)p * ps->q : NULL);
    }
}

CNN_API void cnn_pool_backward(const cnn_pool_shape *ps, cnn_pool_type t, const int32_t *arg,
                               const float *dy, float *dx)
{
    const int planes = ps->n * ps->c, S = ps->size;
    const float inv_area = cnn__f32(1.0f / (float)(S * S));   /* a float also on x87 */
    int pl;
    CNN_ASSERT(t == CNN_POOL_AVG || arg);
    CNN__OMP_FOR(planes > 1 && (double)planes * ps->h * ps->w > CNN__OMP_MIN_WORK)
    for (pl = 0; pl < planes; pl++) {
        float *dxp = dx + (size_t)pl * ps->h * ps->w;
        const float *dyp = dy + (size_t)pl * ps->p * ps->q;
        int p, q, i, j;
        for (p = 0; p < ps->p; p++)
            for (q = 0; q < ps->q; q++) {
                float g = dyp[p * ps->q + q];
                if (t == CNN_POOL_AVG) {
                    int h0 = p * ps->stride, w0 = q * ps->stride;
                    for (i = 0; i < S; i++)
                        for (j = 0; j < S; j++) dxp[(h0 + i) * ps->w + w0 + j] += g * inv_area;
                } else {
                    dxp[arg[(size_t)pl * ps->p * ps->q + p * ps->q + q]] += g;
                }
            }
    }
}

/* max/min pooling's backward for the net where the pool applied the ReLU before it
   (cnn__pool_applies_bn_act, windows that do not overlap, dx cleared): each window's gradient
   through the ReLU on the way, y the pool's output (the ReLU's at the pick). An input is picked
   at most once, so 0.0f + relu_grad(g) lands where clear, add and the ReLU's backward give
   relu_grad(0.0f + g): the same bits (see cnn__pool2_backward_write). */
static void cnn__pool_backward_relu(const cnn_pool_shape *ps, const int32_t *arg, const float *dy, const float *y,
                                    float *dx)
{
    const int planes = ps->n * ps->c;
    const size_t nw = (size_t)ps->p * ps->q;
    int pl;
    CNN__OMP_FOR(planes > 1 && (double)planes * ps->h * ps->w > CNN__OMP_MIN_WORK)
    for (pl = 0; pl < planes; pl++) {
        float *dxp = dx + (size_t)pl * ps->h * ps->w;
        const size_t o = (size_t)pl * nw;
        size_t j;
        for (j = 0; j < nw; j++) dxp[arg[o + j]] += cnn__relu_grad(dy[o + j], y[o + j]);
    }
}

/* 2x2, stride-2 pooling's backward for the net: the windows do not overlap, so every dx is
   written (the gradient where the window's pick was, 0 elsewhere and in a dropped odd row or
   column) row pair by row pair, instead of the whole map cleared in one pass and then added to
   in another. 0.0f + g is what clear-and-add computes. */
/* act_y, for max and min pooling only, may be the pool's own output when an activation comes
   right before it: each window's gradient then goes through that activation on the way (the
   pick is the activation's output at the picked place). After a ReLU the batch norm before it
   gets its gradient ready and reads one map fewer; 0.0f + relu_grad(g) gives the bits of
   relu_grad(0.0f + g). After a sigmoid or tanh, dx is that activation's input gradient, and the
   activation's backward, a pass over the whole map, is not run: the same expressions
   (CNN__SIGMOID_GRAD, CNN__TANH_GRAD) on the same values, and everywhere else 0, which is what
   0 * y(1 - y) and 0 * (1 - y^2) give for the outputs of either function (finite, |y| <= 1). */
static void cnn__pool2_backward_write(const cnn_pool_shape *ps, cnn_pool_type t, const int32_t *arg,
                                      const float *dy, cnn_act act, const float *act_y, float *dx)
{
    const int planes = ps->n * ps->c, W = ps->w, Q = ps->q;
    int pl;
    CNN__OMP_FOR(planes > 1 && (double)planes * ps->h * ps->w > CNN__OMP_MIN_WORK)
    for (pl = 0; pl < planes; pl++) {
        float *dxp = dx + (size_t)pl * ps->h * W;
        int p, q;
        for (p = 0; p < ps->p; p++) {
            const float *CNN__RESTRICT g = dy + ((size_t)pl * ps->p + p) * Q;
            float *d0 = dxp + (size_t)2 * p * W, *d1 = d0 + W;
            if (t == CNN_POOL_AVG) {
                for (q = 0; q < Q; q++) {
                    const float v = 0.0f + g[q] * 0.25f;
                    d0[2 * q] = v; d0[2 * q + 1] = v; d1[2 * q] = v; d1[2 * q + 1] = v;
                }
                if (W > 2 * Q) d0[W - 1] = d1[W - 1] = 0.0f;
            } else {   /* clear the two rows while they are in cache, then one store per window */
                const int32_t *a = arg + ((size_t)pl * ps->p + p) * Q;
                memset(d0, 0, (size_t)2 * W * sizeof(float));
                const float *ay = act_y ? act_y + ((size_t)pl * ps->p + p) * Q : NULL;
                if (ay && act == CNN_ACT_RELU) {
                    for (q = 0; q < Q; q++) dxp[a[q]] = 0.0f + cnn__relu_grad(g[q], ay[q]);
                } else if (ay && act == CNN_ACT_SIGMOID) {
                    for (q = 0; q < Q; q++) dxp[a[q]] = CNN__SIGMOID_GRAD(0.0f + g[q], ay[q]);
                } else if (ay && act == CNN_ACT_TANH) {
                    for (q = 0; q < Q; q++) dxp[a[q]] = CNN__TANH_GRAD(0.0f + g[q], ay[q]);
                } else {
                    for (q = 0; q < Q; q++) dxp[a[q]] = 0.0f + g[q];
                }
            }
        }
        if (ps->h > 2 * ps->p) memset(dxp + (size_t)(ps->h - 1) * W, 0, (size_t)W * sizeof(float));
    }
}

/* >>batchnorm implementation
   With M = N*HW values per channel, mean mu, variance var (biased) and xhat = (x-mu)*invstd:
     dxhat = dy * gamma
     dx    = invstd/M * (M*dxhat - sum(dxhat) - xhat * sum(dxhat*xhat))
   (the two sums are how each x moves the batch mean and variance seen by every other x). */
/* act = CNN_ACT_RELU applies a ReLU to y on the way out (the net fuses "batch norm, relu" this
   way, which saves a pass over the largest maps; same expression as cnn_act_forward, so the same
   bits); sigmoid and tanh are applied to each plane once it is written, by cnn_act_forward's own
   loop (cnn__act_forward_range); CNN_ACT_LINEAR: nothing */
/* The statistics read each plane once from memory: its sum, then (from cache) its squared
   deviations from its own mean, merged plane by plane into the channel's mean and sum of squared
   deviations M2 (Chan, Golub and LeVeque's pairwise update, in double):
     mean = mean_a + d * n_b / n,   M2 = M2_a + M2_b + d^2 * n_a * n_b / n,   d = mean_b - mean_a
   No E[x^2] - E[x]^2 cancellation, and one read of x fewer than a separate pass for the mean.
   xhat may be NULL (the net does not keep it; backward recomputes it from x, mean and invstd,
   which gives the same bits); mean_out, when not NULL, receives the float mean used. */
/* A batch norm's output through its activation (act: a ReLU, a sigmoid or tanh, or none), element
   by element: in training gamma * ((x - mean) * invstd) + beta, in inference a * x + b with the
   affine map folded once (a = gamma / sqrt(var + eps), b = beta - a * mean from the running
   statistics). One function for the batch norm layer and for the pool that the net fuses after
   it (cnn__pool2_forward_bn), so both give the same bits. */
typedef struct { float mean, invstd, gamma, beta; int train; cnn_act act; } cnn__bn_act;

static cnn__bn_act cnn__bn_act_infer(const float *gamma, const float *beta, const float *run_mean,
                                     const float *run_var, float eps, int ch)
{
    cnn__bn_act f;
    f.gamma = cnn__f32(gamma[ch] / sqrtf(run_var[ch] + eps));   /* rounded here, also on x87, so */
    f.beta = cnn__f32(beta[ch] - f.gamma * run_mean[ch]);         /* every caller sees the same a, b */
    f.mean = 0.0f; f.invstd = 1.0f; f.train = 0; f.act = CNN_ACT_RELU;
    return f;
}

static void cnn__act_forward_range(cnn_act a, size_t count, const float *x, float *y);
static void cnn__bn_act_row(const cnn__bn_act *f, const float *CNN__RESTRICT x, size_t len, float *CNN__RESTRICT y)
{
    const float fm = f->mean, is = f->invstd, g = f->gamma, bt = f->beta;
    size_t i;
    if (f->act != CNN_ACT_RELU) {   /* sigmoid and tanh over the row once it is written */
        if (f->train) for (i = 0; i < len; i++) y[i] = g * cnn__f32((x[i] - fm) * is) + bt;
        else for (i = 0; i < len; i++) y[i] = g * x[i] + bt;
        if (f->act == CNN_ACT_SIGMOID || f->act == CNN_ACT_TANH) cnn__act_forward_range(f->act, len, y, y);
    } else if (f->train)
        for (i = 0; i < len; i++) {
            const float v = g * cnn__f32((x[i] - fm) * is) + bt;
            y[i] = v < 0.0f ? 0.0f : v;
        }
    else
        for (i = 0; i < len; i++) {
            const float v = g * x[i] + bt;
            y[i] = v < 0.0f ? 0.0f : v;
        }
}

/* one plane's mean and sum of squared deviations from it: in float lanes (vectorised), the
   deviations from the float mean fpm, minus hw*(pm - fpm)^2, which makes them about pm */
static void cnn__bn_plane_stats(const float *xp, size_t hw, double *st)
{
    const double pm = (double)cnn__sum(xp, hw) / (double)hw;
    const float fpm = (float)pm;
    st[0] = pm;
    st[1] = (double)cnn__sum_cprod(xp, fpm, xp, fpm, hw) - (double)hw * (pm - fpm) * (pm - fpm);
}

/* pst, when x is NULL: the planes' statistics taken beforehand (cnn__bn_plane_stats, (n, c, 2)) */
static void cnn__bn_forward_train(int n, int c, size_t hw, const float *x, const double *pst, const float *gamma,
                                  const float *beta, float *y, float *xhat, float *invstd, float *mean_out,
                                  float *run_mean, float *run_var, float momentum, float eps, cnn_act act)
{
    const double M = (double)n * (double)hw;
    const int relu = act == CNN_ACT_RELU;
    int ch;
    CNN__OMP_FOR(c > 1 && (x ? M * c : (double)n * c) > CNN__OMP_MIN_WORK)
    for (ch = 0; ch < c; ch++) {
        double mean = 0.0, m2 = 0.0, var;
        float is, fm, g, bt;
        cnn__bn_act f;
        int m;
        size_t i;
        for (m = 0; m < n; m++) {   /* the planes' statistics, merged in order in double */
            double own[2], pm, pm2, na, d, tot;
            const double *st = own;
            if (x) cnn__bn_plane_stats(x + ((size_t)m * c + ch) * hw, hw, own);
            else st = pst + ((size_t)m * c + ch) * 2;
            pm = st[0]; pm2 = st[1]; na = (double)m * (double)hw;
            d = pm - mean; tot = na + (double)hw;
            mean += d * (double)hw / tot;
            m2 += pm2 + d * d * na * (double)hw / tot;
        }
        if (m2 < 0.0) m2 = 0.0;
        var = m2 / M;
        fm = (float)mean;
        is = (float)(1.0 / sqrt(var + eps));
        invstd[ch] = is;
        if (mean_out) mean_out[ch] = fm;
        g = gamma[ch]; bt = beta[ch];
        f.mean = fm; f.invstd = is; f.gamma = g; f.beta = bt; f.train = 1; f.act = act;
        for (m = 0; y && m < n; m++) {   /* y NULL: only the statistics (cnn__pool2_forward_bn) */
            const size_t off = ((size_t)m * c + ch) * hw;
            const float *CNN__RESTRICT xp = x + off;
            float *CNN__RESTRICT xh = xhat ? xhat + off : NULL, *CNN__RESTRICT yp = y + off;
            if (xh && relu)
                for (i = 0; i < hw; i++) {
                    float v;
                    xh[i] = cnn__f32((xp[i] - fm) * is);
                    v = g * xh[i] + bt;
                    yp[i] = v < 0.0f ? 0.0f : v;
                }
            else if (xh)
                for (i = 0; i < hw; i++) {
                    xh[i] = cnn__f32((xp[i] - fm) * is);
                    yp[i] = g * xh[i] + bt;
                }
            else
                cnn__bn_act_row(&f, xp, hw, yp);   /* applies act itself */
            if (xh && (act == CNN_ACT_SIGMOID || act == CNN_ACT_TANH)) cnn__act_forward_range(act, hw, yp, yp);
        }
        if (run_mean) run_mean[ch] = momentum * run_mean[ch] + (1.0f - momentum) * fm;
        if (run_var) run_var[ch] = momentum * run_var[ch] + (1.0f - momentum) * (float)(M > 1 ? m2 / (M - 1) : var);
    }
}

CNN_API void cnn_bn_forward_train(int n, int c, size_t hw, const float *x, const float *gamma,
                                  const float *beta, float *y, float *xhat, float *invstd,
                                  float *run_mean, float *run_var, float momentum, float eps)
{
    cnn__bn_forward_train(n, c, hw, x, NULL, gamma, beta, y, xhat, invstd, NULL, run_mean, run_var, momentum, eps,
                          CNN_ACT_LINEAR);
}

static void cnn__bn_forward_infer(int n, int c, size_t hw, const float *x, const float *gamma, const float *beta,
                                  const float *run_mean, const float *run_var, float eps, float *y, cnn_act act)
{
    int m, ch;
    for (m = 0; m < n; m++)
        for (ch = 0; ch < c; ch++) {
            const size_t off = ((size_t)m * c + ch) * hw;
            cnn__bn_act f = cnn__bn_act_infer(gamma, beta, run_mean, run_var, eps, ch);   /* y = a*x + b */
            f.act = act;
            cnn__bn_act_row(&f, x + off, hw, y + off);
        }
}

CNN_API void cnn_bn_forward_infer(int n, int c, size_t hw, const float *x, const float *gamma,
                                  const float *beta, const float *run_mean, const float *run_var,
                                  float eps, float *y)
{
    cnn__bn_forward_infer(n, c, hw, x, gamma, beta, run_mean, run_var, eps, y, CNN_ACT_LINEAR);
}

/* add = 1: dx += the gradient, as the public functions promise; add = 0: dx = the gradient, which
   lets the net skip clearing dx first (one pass less over the largest tensors). relu_y, when not
   NULL, is the output of a ReLU fused after this batch norm, and dy is the gradient at that
   output: the ReLU's backward (y > 0 ? dy : 0) is applied on the fly. xhat is either given, with
   mean NULL, or recomputed as (xhat - mean) * invstd from the input passed as xhat, with mean. */
static void cnn__bn_backward(int n, int c, size_t hw, const float *dy, const float *relu_y,
                             const float *xhat, const float *mean, const float *gamma, const float *invstd, float *dx,
                             float *dgamma, float *dbeta, float *kab, int add)
{
    const double M = (double)n * (double)hw;
    int ch;
    CNN__OMP_FOR(c > 1 && M * c > CNN__OMP_MIN_WORK)
    for (ch = 0; ch < c; ch++) {
        const float mu = mean ? mean[ch] : 0.0f, sc = mean ? invstd[ch] : 1.0f;
        double sdy = 0.0, sdyx = 0.0;
        int m;
        size_t i;
        for (m = 0; m < n; m++) {
            const size_t off = ((size_t)m * c + ch) * hw;
            if (relu_y) {
                sdy += cnn__sum_relu(dy + off, relu_y + off, hw);
                sdyx += cnn__sum_prod_relu(dy + off, relu_y + off, xhat + off, mu, sc, hw);
            } else {
                sdy += cnn__sum(dy + off, hw);
                sdyx += cnn__sum_prod(dy + off, xhat + off, mu, sc, hw);
            }
        }
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
        if (kab) {   /* for cnn__bn_dx_row elsewhere */
            kab[ch] = gamma[ch] * invstd[ch]; kab[c + ch] = (float)(sdy / M); kab[2 * c + ch] = (float)(sdyx / M);
        }
        if (dx) {
            /* in terms of dy: dx = gamma*invstd * (dy - mean(dy) - xhat*mean(dy*xhat)) */
            const float k = gamma[ch] * invstd[ch], a = (float)(sdy / M), b = (float)(sdyx / M);
            for (m = 0; m < n; m++) {
                const size_t off = ((size_t)m * c + ch) * hw;
                const float *CNN__RESTRICT dyp = dy + off, *CNN__RESTRICT xh = xhat + off;
                const float *CNN__RESTRICT ry = relu_y ? relu_y + off : NULL;
                float *CNN__RESTRICT dxp = dx + off;
                if (ry && add) for (i = 0; i < hw; i++) dxp[i] += k * (cnn__relu_grad(dyp[i], ry[i]) - a - cnn__f32((xh[i] - mu) * sc) * b);
                else if (ry) for (i = 0; i < hw; i++) dxp[i] = k * (cnn__relu_grad(dyp[i], ry[i]) - a - cnn__f32((xh[i] - mu) * sc) * b);
                else if (add) for (i = 0; i < hw; i++) dxp[i] += k * (dyp[i] - a - cnn__f32((xh[i] - mu) * sc) * b);
                else cnn__bn_dx_row(dyp, xh, mu, sc, k, a, b, dxp, hw);
            }
        }
    }
}

CNN_API void cnn_bn_backward(int n, int c, size_t hw, const float *dy, const float *xhat,
                             const float *gamma, const float *invstd, float *dx, float *dgamma,
                             float *dbeta)
{
    cnn__bn_backward(n, c, hw, dy, NULL, xhat, NULL, gamma, invstd, dx, dgamma, dbeta, NULL, 1);
}

/* cnn__bn_backward with a ReLU and a dropout after it whose forward kept one byte an entry
   (cnn__dropout_forward_keep, cnn__dropout_keeps_bn): dy is the dropout's output gradient. The
   ReLU's output gradient, g = dy * scale where kept, else 0 (cnn__keep_grad), is made a plane at
   a time into dx, summed there in cnn__sum's lanes, then turned into dx in place: the sums and dx
   of the three layers apart, without their two passes over the map and the mask. dx is written. */
static void cnn__bn_backward_keep(int n, int c, size_t hw, const float *dy, const unsigned char *keep, float scale,
                                  const float *x, const float *mean, const float *gamma, const float *invstd,
                                  float *dx, float *dgamma, float *dbeta, float *kab)
{
    const double M = (double)n * (double)hw;
    int ch;
    CNN_ASSERT(dx != NULL);
    CNN__OMP_FOR(c > 1 && M * c > CNN__OMP_MIN_WORK)
    for (ch = 0; ch < c; ch++) {
        const float mu = mean[ch], sc = invstd[ch], k = gamma[ch] * invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        float a, b;
        int m;
        size_t i;
        for (m = 0; m < n; m++) {
            const size_t off = ((size_t)m * c + ch) * hw;
            const float *CNN__RESTRICT dyp = dy + off;
            const unsigned char *CNN__RESTRICT kp = keep + off;
            float *CNN__RESTRICT gp = dx + off;
            for (i = 0; i < hw; i++) gp[i] = cnn__keep_grad(dyp[i] * scale, kp[i]);
            sdy += cnn__sum(gp, hw);
            sdyx += cnn__sum_prod(gp, x + off, mu, sc, hw);
        }
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
        a = (float)(sdy / M);
        b = (float)(sdyx / M);
        if (kab) { kab[ch] = k; kab[c + ch] = a; kab[2 * c + ch] = b; }
        for (m = 0; m < n; m++) {   /* as cnn__bn_backward's: dx = k * (g - a - xhat * b) */
            const size_t off = ((size_t)m * c + ch) * hw;
            const float *CNN__RESTRICT xh = x + off;
            float *CNN__RESTRICT gp = dx + off;
            for (i = 0; i < hw; i++) gp[i] = k * (gp[i] - a - cnn__f32((xh[i] - mu) * sc) * b);
        }
    }
}

/* >>act implementation */
/* activations run in chunks, one thread each: elementwise, so the thread count changes no bit;
   sigmoid's and tanh's exponentials dominate a sigmoid net's step otherwise */
#define CNN__ACT_CHUNK ((size_t)16384)

/* Sigmoid and tanh on our own e^x rather than libm's expf and tanhf, calls that the compiler
   cannot vectorise: glibc's tanhf took 15-24 ns an element here, 70% of study model 9's training
   step. Written without branches (clamps and selects on the bits as integers: a float compare
   may trap on NaN, so GCC keeps it a branch and the loop scalar), so that the compilers run 4,
   8 or 16 lanes of it (GCC -O2 too, with the loop shaped as in cnn__act_forward_range). Per
   element, one core (tools/bench's act_ns_per_element, medians), sigmoid then tanh: about 1.0
   and 1.5 ns with AVX-512, 4 and 5 with SSE2 at -O3, 4 and 6 at GCC -O2; libm's 4-9 and
   22-39. Error against double precision: sigmoid within 2.5 ulp, tanh 1.4 (tests/test_act.c
   holds them to 3, and to 5 under GCC's -ffast-math). NaN passes through all three. */
static uint32_t cnn__f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float cnn__f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^z. With z = k ln2 + r, |r| <= ln2/2: e^z = 2^k e^r, e^r by its Taylor series to r^7 (the
   next term is below 1e-8 relative), 2^k written straight into the exponent bits. Adding 1.5 *
   2^23 rounds z log2(e) to the integer k in the low bits of t; r = z - k ln2 with ln2 split in
   two floats so that k ln2_hi is exact (Cody and Waite), or under -ffast-math, which would
   reassociate the two back into one product (67 ulp), in double in one step (35-45% slower
   here, the same r but for rare last bits). z below -87.33 is clamped there, so that 2^k
   stays a normal float (e^z is then 1.2e-38 instead of smaller); above 88 (not ln FLT_MAX =
   88.72, for the same reason), e^z is infinite, so that sigmoid reaches 0. */
static inline float cnn__expf(float z)
{
    const float shift = 12582912.0f;
    const uint32_t b = cnn__f32_bits(z);
    const int32_t mag = (int32_t)(b & 0x7FFFFFFFu), lim = 0x42B00000 - (int32_t)(b >> 31) * (0x42B00000 - 0x42AEA8F6);
    const uint32_t nan = 0u - (uint32_t)(mag > 0x7F800000);   /* lim: 88 or -87.33's magnitude */
    const uint32_t over = 0u - (uint32_t)((b >> 31) == 0u && mag > 0x42B00000);   /* z > 88 (and NaN: nan wins) */
    const float x = cnn__f32_from_bits((uint32_t)(mag < lim ? mag : lim) | (b & 0x80000000u));
    const uint32_t tb = cnn__f32_bits(cnn__f32(x * 1.44269504f + shift));   /* 0x4B400000 + k */
    const float k = (float)((int32_t)(tb & 0x7FFFFFu) - 0x400000);   /* not t - shift: -ffast-math drops that */
#ifdef __FAST_MATH__
    const float r = (float)((double)x - (double)k * 0.6931471805599453);
#else
    const float r = (x - k * 0.693145751953125f) - k * 1.42860677e-6f;
#endif
    const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                    r * (1.0f / 720 + r * (1.0f / 5040)))))));
    const float y = p * cnn__f32_from_bits((tb - 0x4B400000u + 127u) << 23);
    return cnn__f32_from_bits((((cnn__f32_bits(y) & ~over) | (0x7F800000u & over)) & ~nan) | (b & nan));
}

static inline float cnn__sigmoidf(float x) { return 1.0f / (1.0f + cnn__expf(-x)); }

/* tanh |x| = 1 - 2 / (e^{2|x|} + 1), the sign put back after; below |x| = 0.625 that loses
   bits to cancellation, so there tanh x = x + x u Q(u), u = x^2, with Q of degree 5
   interpolating (tanh(x)/x - 1)/u at Chebyshev nodes of [0, 0.625^2] */
static inline float cnn__tanhf(float x)
{
    const float a = fabsf(x), u = x * x;
    const float near0 = a + a * u * (-3.333333317e-1f + u * (1.333330356e-1f + u * (-5.395925958e-2f +
                        u * (2.176891865e-2f + u * (-8.343945516e-3f + u * 2.292744816e-3f)))));
    const float far = 1.0f - 2.0f / (cnn__expf(2.0f * a) + 1.0f);
    const uint32_t m = 0u - (uint32_t)((int32_t)cnn__f32_bits(a) < 0x3F200000);   /* a < 0.625 */
    return cnn__f32_from_bits((cnn__f32_bits(near0) & m) | (cnn__f32_bits(far) & ~m) | (cnn__f32_bits(x) & 0x80000000u));
}

/* y[i] = f(x[i]) in blocks of 16 through a local array, then the rest one by one: the inner
   loop has a fixed trip count and cannot alias x, so that GCC 12's -O2 vectorises it too
   (its cost model there refuses loops that need a scalar tail or a runtime check for y
   overlapping x: the plain loop ran sigmoid at 11-15 ns an element, this one at about 4 with
   SSE2; before GCC 12, -O2 vectorises nothing). Mostly moot under CNN__O3_PRAGMA, but it
   holds with CNN_NO_OPTIMIZE_PRAGMA, and the loop is no worse for it. Same bits either
   way, the function being applied element by element, except under -ffast-math, which may
   reorder the vector loop's arithmetic and the scalar tail's differently. */
#define CNN__ACT_MAP(f)                                                    \
    do {                                                                   \
        for (i = 0; i + 16 <= count; i += 16) {                            \
            float t_[16];                                                  \
            int j_;                                                        \
            for (j_ = 0; j_ < 16; j_++) t_[j_] = f(x[i + (size_t)j_]);     \
            memcpy(y + i, t_, sizeof t_);                                  \
        }                                                                  \
        for (; i < count; i++) y[i] = f(x[i]);                             \
    } while (0)

static void cnn__act_forward_range(cnn_act a, size_t count, const float *x, float *y)
{
    size_t i;
    switch (a) {
    case CNN_ACT_RELU:    for (i = 0; i < count; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i]; break;  /* NaN passes */
    case CNN_ACT_SIGMOID: CNN__ACT_MAP(cnn__sigmoidf); break;
    case CNN_ACT_TANH:    CNN__ACT_MAP(cnn__tanhf); break;
    case CNN_ACT_LINEAR:  if (y != x) memcpy(y, x, count * sizeof(float)); break;
    }
}
#undef CNN__ACT_MAP

CNN_API void cnn_act_forward(cnn_act a, size_t count, const float *x, float *y)
{
    const int chunks = (int)((count + CNN__ACT_CHUNK - 1) / CNN__ACT_CHUNK);
    int c;
    CNN__OMP_FOR(chunks > 1)
    for (c = 0; c < chunks; c++) {
        const size_t lo = (size_t)c * CNN__ACT_CHUNK, n = count - lo < CNN__ACT_CHUNK ? count - lo : CNN__ACT_CHUNK;
        cnn__act_forward_range(a, n, x + lo, y + lo);
    }
}

static void cnn__act_backward_range(cnn_act a, size_t count, const float *y, const float *dy, float *dx, int add)
{
    size_t i;
#define CNN__DX(expr)                                              \
    do {                                                           \
        if (add) for (i = 0; i < count; i++) dx[i] += (expr);      \
        else for (i = 0; i < count; i++) dx[i] = (expr);           \
    } while (0)
    switch (a) {
    case CNN_ACT_RELU:    CNN__DX(y[i] > 0.0f ? dy[i] : 0.0f); break;
    case CNN_ACT_SIGMOID: CNN__DX(CNN__SIGMOID_GRAD(dy[i], y[i])); break;
    case CNN_ACT_TANH:    CNN__DX(CNN__TANH_GRAD(dy[i], y[i])); break;
    case CNN_ACT_LINEAR:  CNN__DX(dy[i]); break;
    }
#undef CNN__DX
#undef CNN__SIGMOID_GRAD
#undef CNN__TANH_GRAD
}

/* add as in cnn__bn_backward */
static void cnn__act_backward(cnn_act a, size_t count, const float *y, const float *dy, float *dx, int add)
{
    const int chunks = (int)((count + CNN__ACT_CHUNK - 1) / CNN__ACT_CHUNK);
    int c;
    CNN__OMP_FOR(chunks > 1)
    for (c = 0; c < chunks; c++) {
        const size_t lo = (size_t)c * CNN__ACT_CHUNK, n = count - lo < CNN__ACT_CHUNK ? count - lo : CNN__ACT_CHUNK;
        cnn__act_backward_range(a, n, y + lo, dy + lo, dx + lo, add);
    }
}

CNN_API void cnn_act_backward(cnn_act a, size_t count, const float *y, const float *dy, float *dx)
{
    cnn__act_backward(a, count, y, dy, dx, 1);
}

/* >>dropout implementation */
/* mask entry = (uniform >= rate ? keep : 0) in integers: a uniform is k * 2^-24 with k 24 bits
   of the generator's output, exactly, and rate * 2^24 is exact too, so the test is k >= thr, thr
   the least whole number >= rate * 2^24; and the mask's bits are keep's or zero by an AND, not a
   branch (at GCC -O2 a ?: here was a branch, mispredicted at random). Two entries a draw: the
   draw (two 64-bit multiplies) was the cost, and the output's low half is as well mixed as its
   high half. tools/bench's dropout_mask_ns_per_element (AVX-512, -O3): one entry a draw 0.42,
   without the branch 0.37; two a draw 0.27 (a bench of its own, 0.427 -> 0.266). */
CNN_API void cnn_dropout_mask(cnn_rng *r, float rate, size_t count, float *mask)
{
    const float keep = 1.0f / (1.0f - rate), rs = rate > 0.0f ? rate * 16777216.0f : 0.0f;
    uint32_t thr = (uint32_t)rs, kb;
    uint64_t s = r->state;
    size_t i;
    CNN_ASSERT(rate >= 0.0f && rate < 1.0f);
    if ((float)thr < rs) thr++;
    memcpy(&kb, &keep, sizeof kb);
    for (i = 0; i + 2 <= count; i += 2) {   /* two stores of their own: GCC 12 vectorises this */
        const uint64_t z = cnn__rng_mix(s += CNN__RNG_GAMMA);
        const uint32_t b0 = kb & (0u - (uint32_t)((uint32_t)(z >> 40) >= thr));
        const uint32_t b1 = kb & (0u - (uint32_t)((uint32_t)z >> 8 >= thr));
        memcpy(mask + i, &b0, sizeof b0);
        memcpy(mask + i + 1, &b1, sizeof b1);
    }
    if (i < count) {
        const uint32_t b0 = kb & (0u - (uint32_t)((uint32_t)(cnn__rng_mix(s += CNN__RNG_GAMMA) >> 40) >= thr));
        memcpy(mask + i, &b0, sizeof b0);
    }
    r->state = s;
}

CNN_API void cnn_dropout_forward(size_t count, const float *mask, const float *x, float *y)
{
    size_t i;
    for (i = 0; i < count; i++) y[i] = x[i] * mask[i];
}

/* cnn_dropout_mask and cnn_dropout_forward in one pass, for a dropout after a ReLU whose mask
   only the backward of the layers before it reads (cnn__dropout_keeps_at): the mask made a chunk
   at a time in L1, y = x * mask as cnn_dropout_forward has it, and kept of it one byte an entry,
   keep = (mask != 0 and x > 0), all that backward needs. Chunks of an even length take whole
   draws, so the masks are those of one cnn_dropout_mask call over the count. */
static void cnn__dropout_forward_keep(cnn_rng *r, float rate, size_t count, const float *x, float *y,
                                      unsigned char *keep)
{
    enum { CHUNK = 512 };
    float mask[CHUNK];
    size_t i0, i;
    for (i0 = 0; i0 < count; i0 += CHUNK) {
        const size_t c = count - i0 < (size_t)CHUNK ? count - i0 : (size_t)CHUNK;
        cnn_dropout_mask(r, rate, c, mask);
        for (i = 0; i < c; i++) {
            y[i0 + i] = x[i0 + i] * mask[i];
            keep[i0 + i] = (unsigned char)((mask[i] != 0.0f) & (x[i0 + i] > 0.0f));
        }
    }
}

/* in chunks over the threads, like the activations' backward (one thread took study model 16's
   dropout backward, over its 26x26x64 maps, at 25 us an image while the other waited) */
static void cnn__dropout_backward(size_t count, const float *mask, const float *dy, float *dx, int add)
{
    const int chunks = (int)((count + CNN__ACT_CHUNK - 1) / CNN__ACT_CHUNK);
    int c;
    CNN__OMP_FOR(chunks > 1)
    for (c = 0; c < chunks; c++) {
        const size_t lo = (size_t)c * CNN__ACT_CHUNK, hi = count - lo < CNN__ACT_CHUNK ? count : lo + CNN__ACT_CHUNK;
        size_t i;
        if (add) for (i = lo; i < hi; i++) dx[i] += dy[i] * mask[i];
        else for (i = lo; i < hi; i++) dx[i] = dy[i] * mask[i];
    }
}

CNN_API void cnn_dropout_backward(size_t count, const float *mask, const float *dy, float *dx)
{
    cnn__dropout_backward(count, mask, dy, dx, 1);
}

/* >>dense implementation */
CNN_API void cnn_dense_forward(int n, int in, int out, const float *x, const float *w,
                               const float *b, float *y)
{
    int m;
    CNN__OMP_FOR(n > 1 && (double)n * in * out > CNN__OMP_MIN_WORK)
    for (m = 0; m < n; m++) {
        const float *xm = x + (size_t)m * in;
        float *ym = y + (size_t)m * out;
        int o;
#ifdef CNN__GEMM_VECTOR
        for (o = 0; o < out; o += 4) {   /* past the last output: its row again, the sum dropped */
            const float *rows[4];
            float d[4];
            int r;
            for (r = 0; r < 4; r++) rows[r] = w + (size_t)(o + r < out ? o + r : out - 1) * in;
            cnn__dot4(xm, rows, in, d);
            for (r = 0; r < 4 && o + r < out; r++) ym[o + r] = (b ? b[o + r] : 0.0f) + d[r];
        }
#else
        for (o = 0; o < out; o++) ym[o] = (b ? b[o] : 0.0f) + cnn__dot(xm, w + (size_t)o * in, in);
#endif
    }
}

/* In vector builds both products keep a few vectors of their output row in registers across the
   sum: the weight gradient's row across the samples (it was loaded and stored once a sample), the
   input gradient's across the outputs (as a one-row GEMM it filled a tile of 8 rows). Each element
   is summed in the order of the plain loops, and the input gradient's as cnn__gemm sums it (from
   zero over a block of CNN__KC outputs, then added): the same bits. */
CNN_API void cnn_dense_backward(int n, int in, int out, const float *x, const float *w,
                                const float *dy, float *dx, float *dw, float *db)
{
    int o, m;
    if (dw || db) {   /* dw (OUT,IN) += dy^T x; one output row per iteration */
        CNN__OMP_FOR(out > 1 && (double)n * in * out > CNN__OMP_MIN_WORK)
        for (o = 0; o < out; o++) {
            float *wr = dw ? dw + (size_t)o * in : NULL;
            int mm, i = 0;
            if (db)
                for (mm = 0; mm < n; mm++) db[o] += dy[(size_t)mm * out + o];
            if (!wr) continue;
#ifdef CNN__GEMM_VECTOR
            for (; i + 4 * CNN__VW <= in; i += 4 * CNN__VW) {
                cnn__vf a0 = cnn__vload(wr + i), a1 = cnn__vload(wr + i + CNN__VW);
                cnn__vf a2 = cnn__vload(wr + i + 2 * CNN__VW), a3 = cnn__vload(wr + i + 3 * CNN__VW);
                for (mm = 0; mm < n; mm++) {
                    const float g = dy[(size_t)mm * out + o], *xr = x + (size_t)mm * in + i;
                    a0 += g * cnn__vload(xr);
                    a1 += g * cnn__vload(xr + CNN__VW);
                    a2 += g * cnn__vload(xr + 2 * CNN__VW);
                    a3 += g * cnn__vload(xr + 3 * CNN__VW);
                }
                cnn__vstore(wr + i, a0);
                cnn__vstore(wr + i + CNN__VW, a1);
                cnn__vstore(wr + i + 2 * CNN__VW, a2);
                cnn__vstore(wr + i + 3 * CNN__VW, a3);
            }
#endif
            for (mm = 0; mm < n; mm++) {
                const float g = dy[(size_t)mm * out + o], *xr = x + (size_t)mm * in;
                int j;
                for (j = i; j < in; j++) wr[j] += g * xr[j];
            }
        }
    }
    if (dx) {         /* dx (N,IN) += dy w */
        CNN__OMP_FOR(n > 1 && (double)n * in * out > CNN__OMP_MIN_WORK)
        for (m = 0; m < n; m++) {
#ifdef CNN__GEMM_VECTOR
            const float *g = dy + (size_t)m * out;
            float *d = dx + (size_t)m * in;
            int o0, i;
            for (o0 = 0; o0 < out; o0 += CNN__KC) {
                const int o1 = out - o0 < CNN__KC ? out : o0 + CNN__KC;
                for (i = 0; i + 2 * CNN__VW <= in; i += 2 * CNN__VW) {
                    const cnn__vf zero = {0};
                    cnn__vf a0 = zero, a1 = zero;
                    for (o = o0; o < o1; o++) {
                        const float *wr = w + (size_t)o * in + i;
                        a0 += g[o] * cnn__vload(wr);
                        a1 += g[o] * cnn__vload(wr + CNN__VW);
                    }
                    cnn__vstore(d + i, cnn__vload(d + i) + a0);
                    cnn__vstore(d + i + CNN__VW, cnn__vload(d + i + CNN__VW) + a1);
                }
                for (; i < in; i++) {
                    float a = 0.0f;
                    for (o = o0; o < o1; o++) a += g[o] * w[(size_t)o * in + i];
                    d[i] += a;
                }
            }
#else
            cnn__gemm(0, 0, 1, in, out, dy + (size_t)m * out, out, w, in, dx + (size_t)m * in, in, 0);
#endif
        }
    }
}

/* >>loss implementation
   log softmax_j = z_j - max - log(sum_i exp(z_i - max)): subtracting the max keeps every exp <= 1,
   so no logit is too large. d(mean loss)/dz = (softmax - onehot) / N. */
CNN_API double cnn_softmax_xent(int n, int k, const float *logits, const int *labels, float *probs,
                                float *dlogits)
{
    double total = 0.0;
    int m, j;
    for (m = 0; m < n; m++) {
        const float *z = logits + (size_t)m * k;
        double mx = z[0], sum = 0.0, lse;
        const int t = labels[m];
        CNN_ASSERT(t >= 0 && t < k);
        for (j = 1; j < k; j++) if (z[j] > mx) mx = z[j];
        for (j = 0; j < k; j++) sum += exp((double)z[j] - mx);
        lse = mx + log(sum);
        total += lse - z[t];
        for (j = 0; j < k; j++) {
            double p = exp((double)z[j] - lse);
            if (probs) probs[(size_t)m * k + j] = (float)p;
            if (dlogits) dlogits[(size_t)m * k + j] = (float)((p - (j == t ? 1.0 : 0.0)) / n);
        }
    }
    return n > 0 ? total / n : 0.0;
}

/* >>adam implementation */
CNN_API void cnn_adam_init(cnn_adam *a)
{
    a->lr = 1e-3f; a->beta1 = 0.9f; a->beta2 = 0.999f; a->eps = 1e-7f; a->t = 0;
}

CNN_API void cnn_adam_step(cnn_adam *a, size_t n, float *p, const float *g, float *m, float *v)
{
    const float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    float step;
    ptrdiff_t i, nn = (ptrdiff_t)n;
    a->t++;
    step = (float)(a->lr * sqrt(1.0 - pow(b2, (double)a->t)) / (1.0 - pow(b1, (double)a->t)));
    /* an element costs a square root and a division, each worth several multiply-adds, and GCC
       does not vectorise the loop (sqrtf may set errno): split from 4,096 elements on (the
       study's base model, 20,586, took 1.9 us an image of a step at batch 32 on one thread) */
    CNN__OMP_FOR(nn > CNN__OMP_MIN_WORK / 8)
    for (i = 0; i < nn; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) + eps);
    }
}

CNN_API void cnn_glorot_uniform(cnn_rng *r, size_t count, int fan_in, int fan_out, float *w)
{
    const float limit = (float)sqrt(6.0 / ((double)fan_in + (double)fan_out));
    size_t i;
    for (i = 0; i < count; i++) w[i] = (2.0f * cnn_rng_uniform(r) - 1.0f) * limit;
}

/* >>spec implementation: a hand-written recursive-descent parser over the study's notation */
typedef struct cnn__lexer {
    const char *s;     /* whole text, for byte offsets */
    size_t at;
    cnn_error *err;
} cnn__lexer;

static void cnn__skip_ws(cnn__lexer *lx)
{
    while (lx->s[lx->at] == ' ' || lx->s[lx->at] == '\t' || lx->s[lx->at] == '\n' || lx->s[lx->at] == '\r')
        lx->at++;
}

static cnn_status cnn__expected(cnn__lexer *lx, const char *what)
{
    char c = lx->s[lx->at];
    if (c == 0)
        return cnn__fail(lx->err, CNN_ERR_SPEC, "spec: byte %zu: expected %s, found the end of the text", lx->at, what);
    if ((unsigned char)c < 32 || (unsigned char)c > 126)
        return cnn__fail(lx->err, CNN_ERR_SPEC, "spec: byte %zu: expected %s, found byte 0x%02x", lx->at, what,
                         (unsigned)(unsigned char)c);
    return cnn__fail(lx->err, CNN_ERR_SPEC, "spec: byte %zu: expected %s, found '%c'", lx->at, what, c);
}

static cnn_status cnn__expect_char(cnn__lexer *lx, char c, const char *what)
{
    cnn__skip_ws(lx);
    if (lx->s[lx->at] != c) return cnn__expected(lx, what);
    lx->at++;
    return CNN_OK;
}

/* a positive decimal integer, at most 6 digits (nothing in a CNN spec is larger) */
static cnn_status cnn__expect_int(cnn__lexer *lx, int *out, const char *what)
{
    int v = 0, digits = 0;
    cnn__skip_ws(lx);
    while (lx->s[lx->at] >= '0' && lx->s[lx->at] <= '9') {
        if (++digits > 6)
            return cnn__fail(lx->err, CNN_ERR_SPEC, "spec: byte %zu: %s has too many digits", lx->at, what);
        v = v * 10 + (lx->s[lx->at++] - '0');
    }
    if (!digits) return cnn__expected(lx, what);
    if (v == 0)
        return cnn__fail(lx->err, CNN_ERR_SPEC, "spec: byte %zu: %s must be at least 1", lx->at - 1, what);
    *out = v;
    return CNN_OK;
}

/* a decimal fraction in [0,1): "0", "0.2", ".5", "0.25" */
static cnn_status cnn__expect_rate(cnn__lexer *lx, float *out, const char *what)
{
    size_t start;
    double v = 0.0, scale = 1.0;
    int digits = 0;
    cnn__skip_ws(lx);
    start = lx->at;
    while (lx->s[lx->at] >= '0' && lx->s[lx->at] <= '9') { v = v * 10 + (lx->s[lx->at++] - '0'); digits++; }
    if (lx->s[lx->at] == '.') {
        lx->at++;
        while (lx->s[lx->at] >= '0' && lx->s[lx->at] <= '9') {
            scale *= 0.1; v += (lx->s[lx->at++] - '0') * scale; digits++;
        }
    }
    if (!digits || digits > 12) { lx->at = start; return cnn__expected(lx, what); }
    if (v >= 1.0 || (float)v >= 1.0f)       /* 0.99999999999 is 1.0f */
        return cnn__fail(lx->err, CNN_ERR_SPEC, "spec: byte %zu: %s %.*s is out of range: it must be in [0, 1)",
                         start, what, (int)(lx->at - start), lx->s + start);
    *out = (float)v;
    return CNN_OK;
}

/* a quoted word; either quote style, the same one on both sides */
static cnn_status cnn__expect_word(cnn__lexer *lx, const char *const *words, int nwords, int *out, const char *what)
{
    size_t start, len;
    char q;
    int i;
    cnn__skip_ws(lx);
    q = lx->s[lx->at];
    if (q != '\'' && q != '"') return cnn__expected(lx, what);
    start = ++lx->at;
    while ((lx->s[lx->at] >= 'a' && lx->s[lx->at] <= 'z') || (lx->s[lx->at] >= 'A' && lx->s[lx->at] <= 'Z'))
        lx->at++;
    if (lx->s[lx->at] != q) {
        char close[40];
        snprintf(close, sizeof close, "the closing quote %c", q);
        return cnn__expected(lx, close);
    }
    len = lx->at - start;
    for (i = 0; i < nwords; i++)
        if (strlen(words[i]) == len && memcmp(words[i], lx->s + start, len) == 0) {
            lx->at++;
            *out = i;
            return CNN_OK;
        }
    return cnn__fail(lx->err, CNN_ERR_SPEC, "spec: byte %zu: expected %s, found '%.*s'", start, what,
                     (int)(len > 32 ? 32 : len), lx->s + start);
}

static cnn_status cnn__parse_pair(cnn__lexer *lx, int *a, int *b, const char *what)
{
    cnn_status st;
    char msg[64];
    snprintf(msg, sizeof msg, "'(' opening the %s", what);
    if ((st = cnn__expect_char(lx, '(', msg))) return st;
    snprintf(msg, sizeof msg, "the %s's height", what);
    if ((st = cnn__expect_int(lx, a, msg))) return st;
    snprintf(msg, sizeof msg, "',' inside the %s", what);
    if ((st = cnn__expect_char(lx, ',', msg))) return st;
    snprintf(msg, sizeof msg, "the %s's width", what);
    if ((st = cnn__expect_int(lx, b, msg))) return st;
    snprintf(msg, sizeof msg, "')' closing the %s", what);
    return cnn__expect_char(lx, ')', msg);
}

static cnn_status cnn__parse_block(cnn__lexer *lx, cnn_block *b)
{
    static const char *const acts[] = {"relu", "sigmoid", "tanh"};
    static const char *const pools[] = {"max", "min", "average"};
    cnn_status st;
    int act = 0, pool = 0;
    memset(b, 0, sizeof *b);
    b->padding = CNN_PAD_VALID;
    if ((st = cnn__expect_char(lx, '(', "'(' opening a block"))) return st;
    if ((st = cnn__expect_int(lx, &b->filters, "the number of filters"))) return st;
    if ((st = cnn__expect_char(lx, ',', "',' after the number of filters"))) return st;
    if ((st = cnn__parse_pair(lx, &b->kernel_h, &b->kernel_w, "kernel size"))) return st;
    if ((st = cnn__expect_char(lx, ',', "',' after the kernel size"))) return st;
    if ((st = cnn__parse_pair(lx, &b->stride_h, &b->stride_w, "stride"))) return st;
    if ((st = cnn__expect_char(lx, ',', "',' after the stride"))) return st;
    if ((st = cnn__expect_word(lx, acts, 3, &act, "an activation 'relu', 'sigmoid' or 'tanh'"))) return st;
    if ((st = cnn__expect_char(lx, ',', "',' after the activation"))) return st;
    if ((st = cnn__expect_rate(lx, &b->dropout, "a dropout rate"))) return st;
    if ((st = cnn__expect_char(lx, ',', "',' after the dropout rate"))) return st;
    if ((st = cnn__expect_int(lx, &b->pool, "the pool size"))) return st;
    if ((st = cnn__expect_char(lx, ',', "',' after the pool size"))) return st;
    if ((st = cnn__expect_word(lx, pools, 3, &pool, "a pool type 'max', 'min' or 'average'"))) return st;
    if ((st = cnn__expect_char(lx, ')', "')' closing the block"))) return st;
    b->act = (cnn_act)act;
    b->pool_type = (cnn_pool_type)pool;
    return CNN_OK;
}

CNN_API cnn_status cnn_spec_parse(const char *text, cnn_block *blocks, int max_blocks, int *nblocks,
                                  cnn_error *err)
{
    cnn__lexer lx;
    int n = 0;
    *nblocks = 0;
    if (!text) return cnn__fail(err, CNN_ERR_ARG, "spec: no text given");
    lx.s = text; lx.at = 0; lx.err = err;
    cnn__skip_ws(&lx);
    if (!text[lx.at]) return cnn__expected(&lx, "at least one block '(filters, (kh,kw), ...)'");
    while (text[lx.at]) {
        cnn_block b;
        cnn_status st;
        if (n == max_blocks)
            return cnn__fail(err, CNN_ERR_SPEC, "spec: byte %zu: more than %d blocks", lx.at, max_blocks);
        if ((st = cnn__parse_block(&lx, &b))) return st;
        blocks[n++] = b;
        cnn__skip_ws(&lx);
    }
    *nblocks = n;
    cnn__ok(err);
    return CNN_OK;
}

/* A rate as the notation writes it: fixed point (the parser reads no exponent), with the fewest
   digits, at most 11, that cnn__expect_rate reads back as the same float ("0", "0.2", "0.1234567"). */
static void cnn__rate_text(float rate, char *buf, size_t cap)
{
    int digits;
    for (digits = 1; digits <= 11; digits++) {
        cnn__lexer lx;
        float back = -1.0f;
        size_t n;
        snprintf(buf, cap, "%.*f", digits, (double)rate);
        n = strlen(buf);
        while (n > 1 && buf[n - 1] == '0') buf[--n] = 0;       /* "0.20" -> "0.2", "0.0" -> "0." */
        if (n > 1 && buf[n - 1] == '.') buf[--n] = 0;          /* "0." -> "0" */
        lx.s = buf; lx.at = 0; lx.err = NULL;
        if (cnn__expect_rate(&lx, &back, "a rate") == CNN_OK && back == rate) return;
    }
}

CNN_API size_t cnn_spec_format(const cnn_block *blocks, int nblocks, char *buf, size_t cap)
{
    size_t len = 0;
    int i;
    char tmp[160], rate[32];
    for (i = 0; i < nblocks; i++) {
        const cnn_block *b = &blocks[i];
        int k;
        cnn__rate_text(b->dropout, rate, sizeof rate);
        k = snprintf(tmp, sizeof tmp, "%s(%d, (%d,%d), (%d,%d), '%s', %s, %d, '%s')", i ? " " : "",
                     b->filters, b->kernel_h, b->kernel_w, b->stride_h, b->stride_w, cnn_act_name(b->act),
                     rate, b->pool, cnn_pool_type_name(b->pool_type));
        if (k < 0) k = 0;
        if (len < cap) {
            size_t room = cap - len - 1 < (size_t)k ? cap - len - 1 : (size_t)k;
            memcpy(buf + len, tmp, room);
            buf[len + room] = 0;
        }
        len += (size_t)k;
    }
    if (cap && nblocks == 0) buf[0] = 0;
    return len;
}

/* >>net implementation
   A net is a flat list of layers (conv, batchnorm, act, pool, dropout, ..., dense). Layer i reads
   the output of layer i-1 (or the input batch) and writes its own `out`; backward writes the
   gradient for its input into layer i-1's `dout`. */
typedef struct cnn__layer {
    cnn_layer_kind kind;
    int block;
    int in_c, in_h, in_w, out_c, out_h, out_w;
    size_t in_size, out_size;     /* per sample */
    /* parameters: offsets into the net's block (w, b for conv/dense; gamma, beta for BN) */
    size_t w_off, b_off, nw, nb;
    size_t st_off;                /* BN: running mean at st_off, running variance at st_off + C */
    cnn_conv_shape conv;          /* n = 1 here; set to the batch at run time */
    cnn_pool_shape pool;
    cnn_pool_type pool_type;
    cnn_padding pad;
    cnn_act act;
    float rate;
    int fan_in, fan_out;
    /* activations, allocated for `cap` samples */
    float *out, *dout;
    float *cache;                 /* conv: im2col columns; dropout: mask */
    float *invstd;                /* BN: invstd, then the mean, of the last training batch, then
                                     the k, a, b of its last backward (cnn__bn_backward's kab) */
    int32_t *arg;                 /* max/min pool */
    const float *in;              /* input of the last forward (borrowed) */
} cnn__layer;

struct cnn_net {
    cnn_net_desc desc;
    int nlayers;
    cnn__layer *layers;
    size_t nparams, nstate;
    float *params, *grads, *adam_m, *adam_v, *state;
    float *state_saved;           /* state before the current training step, to undo a bad one */
    int cap;                      /* samples the activations have room for */
    int training;
    cnn_rng *rng;                 /* borrowed, for dropout masks */
    int last_n;
    float *dlogits, *probs;       /* (cap, classes) */
    int *labels;                  /* (cap) */
    float *stream;                /* the first block's slot maps (cnn__block0_forward), or NULL */
    double *stream_st;            /* and its planes' statistics, (cap, C, 2), the batch's means (C),
                                     each sample's patch statistics, the weights transposed and
                                     each slot's lanes (cnn__block0_plane_stats) */
};

CNN_API void cnn_net_desc_init(cnn_net_desc *d, int in_c, int in_h, int in_w, int classes)
{
    memset(d, 0, sizeof *d);
    d->in_c = in_c; d->in_h = in_h; d->in_w = in_w; d->classes = classes;
    d->order = CNN_ORDER_CONV_BN_ACT;
    d->algo = CNN_CONV_IM2COL;
    d->bn_momentum = 0.99f;
    d->bn_eps = 1e-3f;
}

CNN_API cnn_status cnn_net_desc_parse(cnn_net_desc *d, const char *spec, cnn_error *err)
{
    return cnn_spec_parse(spec, d->blocks, CNN_MAX_BLOCKS, &d->nblocks, err);
}

static void cnn__layer_text(const cnn__layer *L, char *buf, size_t cap)
{
    switch (L->kind) {
    case CNN_LAYER_CONV:
        snprintf(buf, cap, "conv %d %dx%d /%dx%d %s", L->out_c, L->conv.r, L->conv.s, L->conv.stride_h,
                 L->conv.stride_w, L->pad == CNN_PAD_SAME ? "same" : "valid");
        break;
    case CNN_LAYER_BATCHNORM: snprintf(buf, cap, "batchnorm"); break;
    case CNN_LAYER_ACT: snprintf(buf, cap, "%s", cnn_act_name(L->act)); break;
    case CNN_LAYER_POOL: snprintf(buf, cap, "pool %s %d /%d", cnn_pool_type_name(L->pool_type), L->pool.size, L->pool.stride); break;
    case CNN_LAYER_DROPOUT: snprintf(buf, cap, "dropout %g", (double)L->rate); break;
    case CNN_LAYER_DENSE: snprintf(buf, cap, "dense %d", L->out_c); break;
    }
}

static void cnn__net_release_buffers(cnn_net *net)
{
    int i;
    for (i = 0; i < net->nlayers; i++) {
        cnn__layer *L = &net->layers[i];
        cnn__free_aligned(L->out); cnn__free_aligned(L->dout); cnn__free_aligned(L->cache); CNN_FREE(L->arg);
        L->out = L->dout = L->cache = NULL;
        L->arg = NULL;
    }
    CNN_FREE(net->dlogits); CNN_FREE(net->probs); CNN_FREE(net->labels); cnn__free_aligned(net->stream);
    CNN_FREE(net->stream_st);
    net->dlogits = net->probs = net->stream = NULL;
    net->stream_st = NULL;
    net->labels = NULL;
    net->cap = 0;
}

CNN_API void cnn_net_free(cnn_net *net)
{
    int i;
    if (!net) return;
    cnn__net_release_buffers(net);
    for (i = 0; i < net->nlayers; i++) CNN_FREE(net->layers[i].invstd);
    CNN_FREE(net->layers);
    CNN_FREE(net->params); CNN_FREE(net->grads); CNN_FREE(net->adam_m); CNN_FREE(net->adam_v);
    CNN_FREE(net->state); CNN_FREE(net->state_saved);
    CNN_FREE(net);
}

/* Appends a layer whose input is the current shape (c,h,w); returns it for the caller to finish. */
static cnn__layer *cnn__push(cnn__layer *layers, int *count, cnn_layer_kind kind, int block, int c, int h, int w)
{
    cnn__layer *L = &layers[(*count)++];
    memset(L, 0, sizeof *L);
    L->kind = kind; L->block = block;
    L->in_c = L->out_c = c; L->in_h = L->out_h = h; L->in_w = L->out_w = w;
    return L;
}

/* a*b*c when it is at most INT_MAX (every size of one layer must fit an int), else 0 */
static size_t cnn__int_count(size_t a, size_t b, size_t c)
{
    size_t r;
    if (!cnn__mul_size(a, b, &r) || !cnn__mul_size(r, c, &r) || r > (size_t)INT_MAX) return 0;
    return r;
}

/* cnn_net_create; when want is not NULL (the model loader), the net must have want[0]
   parameters and want[1] statistics, checked before they are allocated. */
static cnn_status cnn__net_create(cnn_net **out, const cnn_net_desc *d, const uint64_t *want, cnn_error *err)
{
    cnn_net *net;
    cnn__layer *layers;
    int count = 0, i, c = d->in_c, h = d->in_h, w = d->in_w;
    size_t np = 0, ns = 0;
    *out = NULL;
    if (d->in_c <= 0 || d->in_h <= 0 || d->in_w <= 0 || d->classes < 2)
        return cnn__fail(err, CNN_ERR_ARG, "net: input %dx%dx%d with %d classes: sizes must be positive and classes >= 2",
                         d->in_h, d->in_w, d->in_c, d->classes);
    if (d->nblocks < 0 || d->nblocks > CNN_MAX_BLOCKS)
        return cnn__fail(err, CNN_ERR_ARG, "net: %d blocks (at most %d)", d->nblocks, CNN_MAX_BLOCKS);
    if (!(d->bn_momentum >= 0.0f && d->bn_momentum <= 1.0f) || !(d->bn_eps > 0.0f))
        return cnn__fail(err, CNN_ERR_ARG, "net: batch-norm momentum %g must be in [0,1] and epsilon %g > 0",
                         (double)d->bn_momentum, (double)d->bn_eps);
    if (!cnn__int_count((size_t)c, (size_t)h, (size_t)w))
        return cnn__fail(err, CNN_ERR_OVERFLOW, "net: input %dx%dx%d has more than INT_MAX values", h, w, c);
    /* at most 5 layers per block plus the dense layer */
    layers = (cnn__layer *)CNN_MALLOC(sizeof(cnn__layer) * (size_t)(5 * d->nblocks + 1));
    if (!layers) return cnn__fail(err, CNN_ERR_NOMEM, "net: cannot allocate the layer list");
    for (i = 0; i < d->nblocks; i++) {
        const cnn_block *b = &d->blocks[i];
        cnn__layer *L;
        cnn_conv_shape cs;
        cnn_pool_shape ps;
        int j;
        if (b->act < CNN_ACT_RELU || b->act > CNN_ACT_LINEAR || b->pool_type < CNN_POOL_MAX ||
            b->pool_type > CNN_POOL_AVG || !(b->dropout >= 0.0f && b->dropout < 1.0f) || b->pool < 1 ||
            b->pool_stride < 0 || (b->padding != CNN_PAD_VALID && b->padding != CNN_PAD_SAME)) {
            CNN_FREE(layers);
            return cnn__fail(err, CNN_ERR_ARG, "net: block %d: invalid activation, pool, padding or dropout %g", i + 1,
                             (double)b->dropout);
        }
        if (cnn_conv_shape_init(&cs, 1, c, h, w, b->filters, b->kernel_h, b->kernel_w, b->stride_h, b->stride_w,
                                b->padding, err)) {
            cnn_status st = err ? err->status : CNN_ERR_SHAPE;
            CNN_FREE(layers);
            return cnn__fail(err, st, "net: block %d: conv %d %dx%d stride %dx%d does not fit its %dx%dx%d input",
                             i + 1, b->filters, b->kernel_h, b->kernel_w, b->stride_h, b->stride_w, h, w, c);
        }
        if (!cnn__int_count((size_t)c, (size_t)b->kernel_h, (size_t)b->kernel_w) ||
            !cnn__int_count((size_t)b->filters, (size_t)b->kernel_h, (size_t)b->kernel_w) ||
            !cnn__int_count((size_t)b->filters, (size_t)cs.p, (size_t)cs.q)) {
            CNN_FREE(layers);
            return cnn__fail(err, CNN_ERR_OVERFLOW, "net: block %d: conv %d %dx%d on its %dx%dx%d input: a fan or "
                             "the output has more than INT_MAX values", i + 1, b->filters, b->kernel_h, b->kernel_w,
                             h, w, c);
        }
        L = cnn__push(layers, &count, CNN_LAYER_CONV, i, c, h, w);
        L->conv = cs;
        L->pad = b->padding;
        L->out_c = c = b->filters; L->out_h = h = cs.p; L->out_w = w = cs.q;
        L->nb = (size_t)b->filters;
        L->fan_in = L->in_c * b->kernel_h * b->kernel_w;   /* all three checked <= INT_MAX above */
        L->fan_out = b->filters * b->kernel_h * b->kernel_w;
        for (j = 0; j < 2; j++) {   /* batchnorm and activation, in the chosen order */
            int bn_first = d->order == CNN_ORDER_CONV_BN_ACT;
            if ((j == 0) == bn_first) {
                L = cnn__push(layers, &count, CNN_LAYER_BATCHNORM, i, c, h, w);
                L->nw = L->nb = (size_t)c;
            } else {
                L = cnn__push(layers, &count, CNN_LAYER_ACT, i, c, h, w);
                L->act = b->act;
            }
        }
        if (b->pool > 1) {
            if (cnn_pool_shape_init(&ps, 1, c, h, w, b->pool, b->pool_stride, err)) {
                cnn_status st = err ? err->status : CNN_ERR_SHAPE;
                CNN_FREE(layers);
                return cnn__fail(err, st, "net: block %d: %s pool %d does not fit the %dx%dx%d output of its conv",
                                 i + 1, cnn_pool_type_name(b->pool_type), b->pool, h, w, c);
            }
            L = cnn__push(layers, &count, CNN_LAYER_POOL, i, c, h, w);
            L->pool = ps;
            L->pool_type = b->pool_type;
            L->out_h = h = ps.p; L->out_w = w = ps.q;
        }
        if (b->dropout > 0.0f) {
            L = cnn__push(layers, &count, CNN_LAYER_DROPOUT, i, c, h, w);
            L->rate = b->dropout;
        }
    }
    {   /* flatten (free: NCHW is already flat per sample) + dense */
        cnn__layer *L = cnn__push(layers, &count, CNN_LAYER_DENSE, -1, c, h, w);
        L->out_c = d->classes; L->out_h = L->out_w = 1;
        L->nb = (size_t)d->classes;                          /* nw: in the layout loop below */
        L->fan_in = c * h * w;
        L->fan_out = d->classes;
    }
    /* lay the parameters out in one block, layer after layer: weights then biases */
    for (i = 0; i < count; i++) {
        cnn__layer *L = &layers[i];
        const size_t most = (size_t)-1 / (4 * sizeof(float));   /* the block and its 3 twins */
        L->in_size = (size_t)L->in_c * L->in_h * L->in_w;      /* each <= INT_MAX, checked above */
        L->out_size = (size_t)L->out_c * L->out_h * L->out_w;
        if ((L->kind == CNN_LAYER_CONV && !cnn__mul_size((size_t)L->fan_in, (size_t)L->out_c, &L->nw)) ||
            (L->kind == CNN_LAYER_DENSE && !cnn__mul_size(L->in_size, (size_t)d->classes, &L->nw)))
            L->nw = (size_t)-1;                                  /* refused just below */
        if (L->nw > most - np || L->nb > most - np - L->nw) {
            CNN_FREE(layers);
            return cnn__fail(err, CNN_ERR_OVERFLOW, "net: the parameters overflow size_t at layer %d", i + 1);
        }
        L->w_off = np; np += L->nw;
        L->b_off = np; np += L->nb;
        if (L->kind == CNN_LAYER_BATCHNORM) { L->st_off = ns; ns += 2 * (size_t)L->out_c; }
    }
    if (want && (want[0] != np || want[1] != ns)) {
        CNN_FREE(layers);
        return cnn__fail(err, CNN_ERR_FORMAT, "model: %llu parameters and %llu statistics stored, the architecture "
                         "has %zu and %zu", (unsigned long long)want[0], (unsigned long long)want[1], np, ns);
    }
    net = (cnn_net *)CNN_MALLOC(sizeof *net);
    if (!net) { CNN_FREE(layers); return cnn__fail(err, CNN_ERR_NOMEM, "net: out of memory"); }
    memset(net, 0, sizeof *net);
    net->desc = *d;
    net->layers = layers;
    net->nlayers = count;
    net->nparams = np;
    net->nstate = ns;
    net->params = (float *)cnn__calloc_floats(np);
    net->grads = (float *)cnn__calloc_floats(np);
    net->adam_m = (float *)cnn__calloc_floats(np);
    net->adam_v = (float *)cnn__calloc_floats(np);
    net->state = (float *)cnn__calloc_floats(ns);
    net->state_saved = (float *)cnn__calloc_floats(ns);
    for (i = 0; i < count; i++)
        if (layers[i].kind == CNN_LAYER_BATCHNORM)   /* invstd, mean, then k, a, b: see cnn__layer */
            layers[i].invstd = (float *)cnn__calloc_floats((size_t)5 * layers[i].out_c);
    if (!net->params || !net->grads || !net->adam_m || !net->adam_v || !net->state || !net->state_saved) goto nomem;
    for (i = 0; i < count; i++) if (layers[i].kind == CNN_LAYER_BATCHNORM && !layers[i].invstd) goto nomem;
    /* Keras' starting values: gamma 1, beta 0, running mean 0, running variance 1 */
    for (i = 0; i < count; i++) {
        cnn__layer *L = &layers[i];
        size_t j;
        if (L->kind != CNN_LAYER_BATCHNORM) continue;
        for (j = 0; j < L->nw; j++) net->params[L->w_off + j] = 1.0f;
        for (j = 0; j < (size_t)L->out_c; j++) net->state[L->st_off + L->out_c + j] = 1.0f;
    }
    *out = net;
    cnn__ok(err);
    return CNN_OK;
nomem:
    cnn_net_free(net);
    return cnn__fail(err, CNN_ERR_NOMEM, "net: cannot allocate %zu parameters", np);
}

CNN_API cnn_status cnn_net_create(cnn_net **out, const cnn_net_desc *d, cnn_error *err)
{
    return cnn__net_create(out, d, NULL, err);
}

CNN_API void cnn_net_init(cnn_net *net, cnn_rng *r)
{
    int i;
    size_t j;
    for (i = 0; i < net->nlayers; i++) {
        cnn__layer *L = &net->layers[i];
        if (L->kind == CNN_LAYER_CONV || L->kind == CNN_LAYER_DENSE) {
            cnn_glorot_uniform(r, L->nw, L->fan_in, L->fan_out, net->params + L->w_off);
            memset(net->params + L->b_off, 0, L->nb * sizeof(float));
        } else if (L->kind == CNN_LAYER_BATCHNORM) {   /* Keras' start: gamma 1, beta 0, mean 0, var 1 */
            for (j = 0; j < (size_t)L->out_c; j++) {
                net->params[L->w_off + j] = 1.0f;
                net->params[L->b_off + j] = 0.0f;
                net->state[L->st_off + j] = 0.0f;
                net->state[L->st_off + L->out_c + j] = 1.0f;
            }
        }
    }
    memset(net->adam_m, 0, net->nparams * sizeof(float));
    memset(net->adam_v, 0, net->nparams * sizeof(float));
}

CNN_API const cnn_net_desc *cnn_net_get_desc(const cnn_net *net) { return &net->desc; }
CNN_API int cnn_net_layer_count(const cnn_net *net) { return net->nlayers; }
CNN_API size_t cnn_net_param_count(const cnn_net *net) { return net->nparams; }
CNN_API float *cnn_net_params(cnn_net *net) { return net->params; }
CNN_API float *cnn_net_grads(cnn_net *net) { return net->grads; }
CNN_API size_t cnn_net_state_count(const cnn_net *net) { return net->nstate; }
CNN_API float *cnn_net_state(cnn_net *net) { return net->state; }

CNN_API void cnn_net_layer_get(const cnn_net *net, int i, cnn_layer_info *info)
{
    const cnn__layer *L;
    CNN_ASSERT(i >= 0 && i < net->nlayers);
    L = &net->layers[i];
    info->kind = L->kind; info->block = L->block;
    info->in_c = L->in_c; info->in_h = L->in_h; info->in_w = L->in_w;
    info->out_c = L->out_c; info->out_h = L->out_h; info->out_w = L->out_w;
    info->params = L->nw + L->nb;
    cnn__layer_text(L, info->text, sizeof info->text);
}

CNN_API void cnn_net_feature_shape(const cnn_net *net, int *c, int *h, int *w)
{
    const cnn__layer *L = &net->layers[net->nlayers - 1];
    *c = L->in_c; *h = L->in_h; *w = L->in_w;
}

/* A batch norm followed by a ReLU (the study's block) runs as one layer: the batch norm writes
   the ReLU's output directly, and its backward takes the ReLU's gradient on the fly, which saves
   two passes over the largest maps in each direction. The bits are those of the two layers. Not
   when the ReLU is the last layer, whose gradient comes from the loss, not from a dout. */
static int cnn__relu_fused_after(const cnn_net *net, int i)
{
    return net->layers[i].kind == CNN_LAYER_BATCHNORM && i + 2 < net->nlayers &&
           net->layers[i + 1].kind == CNN_LAYER_ACT && net->layers[i + 1].act == CNN_ACT_RELU;
}

static int cnn__act_fused_after(const cnn_net *net, int i);

/* the fused pool's buffer (cnn__pool2_plane_bn, cnn__pool_plane_bn), in floats */
#define CNN__POOL2_BUF 2048

/* whether layer i is a max or min pool right after a batch norm and its fused activation, which
   it then applies: a 2x2/2 pool after a ReLU, sigmoid or tanh, or any other pool whose windows
   do not overlap after a ReLU (study model 17: 5x5), with a window's rows fitting the buffer.
   Its forward computes the batch norm's output and the activation on the fly
   (cnn__pool2_forward_bn; the batch norm only takes the statistics, and neither map is written).
   Its backward applies the activation's gradient (cnn__pool2_backward_write,
   cnn__pool_backward_relu): after a ReLU, so the batch norm skips that; after a sigmoid or tanh,
   as cnn__pool_applies_act_grad says. */
static int cnn__pool_applies_bn_act(const cnn_net *net, int i)
{
    const cnn__layer *L = i >= 2 && i < net->nlayers ? &net->layers[i] : NULL;
    if (!L || L->kind != CNN_LAYER_POOL || L->pool_type == CNN_POOL_AVG) return 0;
    if (cnn__pool2_applies(&L->pool)) return cnn__relu_fused_after(net, i - 2) || cnn__act_fused_after(net, i - 2);
    return cnn__relu_fused_after(net, i - 2) && L->pool.stride >= L->pool.size &&
           (size_t)L->pool.size * (size_t)L->pool.w <= CNN__POOL2_BUF;
}

/* whether layer i is a batch norm followed by a sigmoid or tanh: it then writes the activation's
   output, plane by plane while the plane is in cache (cnn__act_forward_range in place, the same
   calls and so the same bits as the activation's own pass), and its own output map is never
   written, so not allocated; its backward and the activation's run as before. */
static int cnn__act_fused_after(const cnn_net *net, int i)
{
    return net->layers[i].kind == CNN_LAYER_BATCHNORM && i + 1 < net->nlayers &&
           net->layers[i + 1].kind == CNN_LAYER_ACT &&
           (net->layers[i + 1].act == CNN_ACT_SIGMOID || net->layers[i + 1].act == CNN_ACT_TANH);
}

/* whether layer i is a 2x2/2 max or min pool right after a sigmoid or tanh that is not the net's
   first layer: its backward then writes that activation's input gradient (cnn__pool2_backward_write
   with the activation), and the activation's backward is skipped; its own gradient map is
   never written, so not allocated (study models 8 and 9: one pass over the 26x26x64 maps less) */
static int cnn__pool_applies_act_grad(const cnn_net *net, int i)
{
    const cnn__layer *L = i >= 2 && i < net->nlayers ? &net->layers[i] : NULL, *A = L ? L - 1 : NULL;
    return L && L->kind == CNN_LAYER_POOL && L->pool_type != CNN_POOL_AVG && cnn__pool2_applies(&L->pool) &&
           A->kind == CNN_LAYER_ACT && (A->act == CNN_ACT_SIGMOID || A->act == CNN_ACT_TANH);
}

/* whether layer i is the net's first layer, a convolution that takes its output gradient row by
   row from the batch norm right after it (cnn__bn_gen), instead of as a map that the batch norm
   writes and the convolution reads back: that batch norm's backward then only takes its sums,
   and the map is never allocated. The first layer needs no dx, so nothing else reads it. */
static int cnn__conv_takes_bn_gen(const cnn_net *net, int i)
{
#ifdef CNN__GEMM_VECTOR
    const cnn__layer *L = &net->layers[0], *B = net->nlayers > 2 ? &net->layers[1] : NULL;
    return i == 0 && B && L->kind == CNN_LAYER_CONV && net->desc.algo == CNN_CONV_IM2COL &&
           B->kind == CNN_LAYER_BATCHNORM && cnn__conv_gen_applies(&L->conv) &&
           (!cnn__relu_fused_after(net, 1) ||
            (cnn__pool_applies_bn_act(net, 3) && cnn__pool2_applies(&net->layers[3].pool)));
#else
    (void)net; (void)i;
    return 0;
#endif
}

/* whether that first convolution and batch norm are followed by an activation and a 2x2 max/min
   pool that applies both (cnn__pool_applies_bn_act): then the convolution's gradient is made from
   the pool's picks and a few sums (cnn__conv_backward_pool_gen), and no 26x26 gradient map is
   written or read at all */
static int cnn__conv_takes_pool_gen(const cnn_net *net, int i)
{
    return cnn__conv_takes_bn_gen(net, i) && cnn__pool_applies_bn_act(net, 3) &&
           cnn__pool2_applies(&net->layers[3].pool);
}

/* whether a dropout follows that first block's pool (layer 4): its backward is then folded into
   the pool-gen sums (cnn__bn_gen.mask), and the pool's output gradient is never written */
static int cnn__dropout_folded(const cnn_net *net)
{
    return cnn__conv_takes_pool_gen(net, 0) && net->nlayers > 4 && net->layers[4].kind == CNN_LAYER_DROPOUT;
}

/* and whether a ReLU comes before that pool: the backward then needs, of the dropout's mask and
   the pool's output, only whether each entry passed both, one byte an entry in the dropout's cache
   (cnn__dropout_forward_keep) instead of two floats read back from memory */
static int cnn__dropout_keeps(const cnn_net *net)
{
    return cnn__dropout_folded(net) && net->layers[2].kind == CNN_LAYER_ACT && net->layers[2].act == CNN_ACT_RELU;
}

/* whether dropout layer i comes right after a ReLU fused after a batch norm (no pool between,
   study model 16's first block): that batch norm's backward then takes the dropout's output
   gradient and the same bytes (cnn__bn_backward_keep), and the dropout's own backward goes */
static int cnn__dropout_keeps_bn(const cnn_net *net, int i)
{
    return i >= 2 && i < net->nlayers && net->layers[i].kind == CNN_LAYER_DROPOUT && cnn__relu_fused_after(net, i - 2);
}

/* whether dropout layer i keeps those bytes in its cache instead of its mask */
static int cnn__dropout_keeps_at(const cnn_net *net, int i)
{
    return (i == 4 && cnn__dropout_keeps(net)) || cnn__dropout_keeps_bn(net, i);
}

/* slot buffers of the streamed first block (cnn__block0_forward): at most this many, one per thread */
#define CNN__STREAM_SLOTS 16

CNN_API cnn_status cnn_net_reserve(cnn_net *net, int n, cnn_error *err)
{
    int i;
    if (n <= 0) return cnn__fail(err, CNN_ERR_ARG, "net: batch size %d must be positive", n);
    if (n <= net->cap) { cnn__ok(err); return CNN_OK; }
    cnn__net_release_buffers(net);
    for (i = 0; i < net->nlayers; i++) {
        cnn__layer *L = &net->layers[i];
        size_t outn, cachen = 0;
        /* maps that fused layers never write: a batch norm with its activation fused writes the
           activation's output (and with a ReLU reads the ReLU's gradient); a pool fused after
           them writes its own output only */
        const int fused_bn = L->kind == CNN_LAYER_BATCHNORM && cnn__relu_fused_after(net, i);
        const int bn_into_act = L->kind == CNN_LAYER_BATCHNORM && cnn__act_fused_after(net, i);
        const int fused_act = L->kind == CNN_LAYER_ACT && i > 0 && cnn__pool_applies_bn_act(net, i + 1);
        /* the first block's picks (see cnn__conv_backward_pool_gen): no gradient map behind its pool,
           which keeps instead its batch norm's input at each pick */
        const int pool_gen = (i == 2 || i == 3) && cnn__conv_takes_pool_gen(net, 0);
        const int streamed = i == 0 && cnn__conv_takes_pool_gen(net, 0);   /* its map: slots in net->stream */
        if (!cnn__mul_size(L->out_size, (size_t)n, &outn)) goto overflow;
        if (!fused_bn && !bn_into_act && !fused_act && !streamed && !(L->out = cnn__alloc_floats_aligned(outn))) goto nomem;
        if (!fused_bn && !cnn__conv_takes_bn_gen(net, i) && !(pool_gen && i == 2) &&
            !(i == 1 && cnn__conv_takes_pool_gen(net, 0)) &&
            !(i == 3 && cnn__dropout_folded(net)) && !cnn__pool_applies_act_grad(net, i + 1) &&
            !(i + 1 < net->nlayers && cnn__dropout_keeps_bn(net, i + 1)) &&
            !(L->dout = cnn__alloc_floats_aligned(outn))) goto nomem;
        if (L->kind == CNN_LAYER_CONV && net->desc.algo == CNN_CONV_IM2COL) {
            cnn_conv_shape cs = L->conv;
            cs.n = n;
            if (!cnn__mul_size((size_t)cs.c * cs.r * cs.s, (size_t)cs.p * cs.q, &cachen) ||
                !cnn__mul_size(cachen, (size_t)n, &cachen)) goto overflow;
            {   /* plus the scratch: cnn_conv_col_floats(&cs), overflow-checked */
                size_t wn = cnn__conv_scratch_floats(&cs);   /* a few times the weights: fits */
#ifdef CNN__GEMM_VECTOR
                if (cnn__conv_takes_bn_gen(net, i)) wn += cnn__conv_gen_floats(&cs) + 16;   /* and its rows */
#endif
                if (cachen > (size_t)-1 - wn) goto overflow;
                cachen += wn;
            }
        } else if (L->kind == CNN_LAYER_DROPOUT || (pool_gen && i == 3)) {   /* the mask; the values at the picks */
            cachen = L->kind == CNN_LAYER_DROPOUT && cnn__dropout_keeps_at(net, i) ? (outn + 3) / 4 : outn;   /* or bytes */
        }
        if (cachen && !(L->cache = cnn__alloc_floats_aligned(cachen))) goto nomem;
        if (L->kind == CNN_LAYER_POOL && L->pool_type != CNN_POOL_AVG) {
            size_t bytes;
            if (!cnn__mul_size(outn, sizeof(int32_t), &bytes)) goto overflow;
            if (!(L->arg = (int32_t *)CNN_MALLOC(bytes))) goto nomem;
        }
    }
    net->dlogits = (float *)cnn__alloc_floats((size_t)n * net->desc.classes);
    net->probs = (float *)cnn__alloc_floats((size_t)n * net->desc.classes);
    net->labels = (int *)CNN_MALLOC((size_t)n * sizeof(int));
    if (!net->dlogits || !net->probs || !net->labels) goto nomem;
    if (cnn__conv_takes_pool_gen(net, 0)) {
        const int slots = n < CNN__STREAM_SLOTS ? n : CNN__STREAM_SLOTS;
        const cnn_conv_shape *c0 = &net->layers[0].conv;
        const size_t crs = (size_t)c0->c * c0->r * c0->s, K = (size_t)net->layers[0].out_c;
        size_t per, stn;   /* stream_st: (n, K, 2), K, n * (S and mu), w' and the slots' lanes */
        if (!cnn__mul_size(crs, crs + 1, &per) || per > (size_t)-1 - 2 * K || !cnn__mul_size(per + 2 * K, (size_t)n, &stn) ||
            !cnn__mul_size(crs + (size_t)slots * 3 + 1, K, &per) || stn > (size_t)-1 - per ||
            !cnn__mul_size(stn + per, sizeof(double), &stn)) goto overflow;
        net->stream = cnn__alloc_floats_aligned((size_t)slots * net->layers[0].out_size);
        net->stream_st = (double *)CNN_MALLOC(stn);
        if (!net->stream || !net->stream_st) goto nomem;
    }
    net->cap = n;
    cnn__ok(err);
    return CNN_OK;
overflow:
    cnn__net_release_buffers(net);
    return cnn__fail(err, CNN_ERR_OVERFLOW, "net: activations for a batch of %d overflow size_t", n);
nomem:
    cnn__net_release_buffers(net);
    return cnn__fail(err, CNN_ERR_NOMEM, "net: cannot allocate activations for a batch of %d", n);
}

CNN_API void cnn_net_set_training(cnn_net *net, int training, cnn_rng *rng)
{
    net->training = training != 0;
    net->rng = rng;
    CNN_ASSERT(!net->training || rng);
}

/* "batch norm, ReLU, 2x2/2 max or min pool" in one pass: a run of row pairs of the batch norm's
   input x (the whole 26x26 plane in the study) goes through cnn__bn_act_row into a buffer that
   stays in L1 and is pooled from there, so the ReLU's map (the largest in the net) is neither
   written nor read back. B is the batch norm layer; the bits are those of the three layers run
   apart. Rows longer than half the buffer go in column chunks. xsel, when not NULL, receives
   the batch norm's input x at each pick (cnn__conv_backward_pool_gen's xhat). */
/* the batch norm's parameters for channel ch, as its forward left them: the batch's statistics in
   training, else the running ones; and the activation after it (B + 1) */
static cnn__bn_act cnn__pool2_bn_params(const cnn_net *net, const cnn__layer *B, int ch)
{
    const float *p = net->params, *mean = net->state + B->st_off;
    cnn__bn_act f;
    if (net->training) {
        f.mean = B->invstd[B->out_c + ch]; f.invstd = B->invstd[ch];
        f.gamma = p[B->w_off + ch]; f.beta = p[B->b_off + ch]; f.train = 1;
    } else {
        f = cnn__bn_act_infer(p + B->w_off, p + B->b_off, mean, mean + B->out_c, net->desc.bn_eps, ch);
    }
    f.act = B[1].act;
    return f;
}

/* relu(a * x + b) is monotonic in x, rounding included (each step rounds a monotonic function of
   x), non-decreasing for a > 0 and non-increasing for a < 0; so the max (min) of a window's
   values is the value at its largest (smallest) x, or the smallest (largest) x when a < 0: pool x
   first, then one batch norm and activation per window instead of one per value. The same holds
   in training, where a x + b is a * ((x - mean) * invstd) + b with invstd > 0. Same bits: values
   that tie are equal bits but for -0 and +0, and a x + b is -0 only for b = -0; a NaN is kept
   only in a window's first place both ways. a = 0 (one value for any x, but a NaN for an
   infinite x), b = -0, a NaN b and, in training, a NaN mean or invstd do not qualify. Returns the
   pool to run on x (max or min), or -1 where the shortcut does not hold.
   Sigmoid and tanh increase too, but cnn__sigmoidf and cnn__tanhf only up to their last bit (a
   one-off walk over all floats in increasing order, GCC 12 -O3 -march=native: the sigmoid
   stepped down by one ulp 920 times, the tanh never): there a window's output may be one ulp
   below the largest of its activations. A quarter of the activations is what counts for them (study model 9's first
   block: 68 us of a training step's 187 an image on one thread, its tanh over every value).
   With picks (training), a window whose outputs tie may pick another place than the pool of the
   activations (the first of the tied values): its largest x rather than its first. After a
   ReLU, ties are at zero, where the gradient is zero wherever it goes; otherwise they are
   distinct x that the batch norm or the activation rounds to one value, and the gradient goes
   to one of them. */
static int cnn__pool_first(const cnn__bn_act *f, cnn_pool_type t)
{
    uint32_t bbits;
    memcpy(&bbits, &f->beta, sizeof bbits);
    if ((f->act != CNN_ACT_RELU && f->act != CNN_ACT_SIGMOID && f->act != CNN_ACT_TANH) ||
        !(f->gamma > 0.0f || f->gamma < 0.0f) || f->beta != f->beta ||
        bbits == 0x80000000u || (f->train && !(f->mean == f->mean && f->invstd > 0.0f)))
        return -1;
    return (t == CNN_POOL_MAX) == (f->gamma > 0.0f) ? CNN_POOL_MAX : CNN_POOL_MIN;
}

/* plane pl (sample pl / C, channel pl % C) of the pool's output, from xp, that plane of the batch
   norm's input */
static void cnn__pool2_plane_bn(const cnn_pool_shape *ps, cnn_pool_type t, const float *xp, int pl,
                                const cnn__bn_act *f, float *y, int32_t *arg, float *xsel)
{
    const int W = ps->w, Q = ps->q, P = ps->p;
    const int rows = 2 * W <= CNN__POOL2_BUF ? CNN__POOL2_BUF / (2 * W) : 0;   /* row pairs per run */
    const int first = cnn__pool_first(f, t);
    float buf[CNN__POOL2_BUF];
    int r, c0;
    if (first >= 0) {   /* see cnn__pool_first; xsel: x at the pick, which is the pooled value
                           itself (a copy of it, where a second select per tap had cost the
                           pool a fifth of its time) */
        const cnn_pool_type tx = (cnn_pool_type)first;
        const int prow = Q <= CNN__POOL2_BUF ? CNN__POOL2_BUF / Q : 0;   /* output rows per run */
        for (r = 0; prow && r < P; r += prow) {
            const int nr = P - r < prow ? P - r : prow;
            const size_t o = ((size_t)pl * P + r) * Q;
            const float *z0 = xp + (size_t)2 * r * W;
            cnn__pool2_rows(tx, nr, z0, z0 + W, W, Q, buf, arg ? arg + o : NULL, 2 * r * W, NULL, NULL, NULL);
            if (xsel) memcpy(xsel + o, buf, (size_t)nr * Q * sizeof(float));
            cnn__bn_act_row(f, buf, (size_t)nr * Q, y + o);
        }
        if (prow) return;
    }
    for (r = 0; rows && r < P; r += rows) {
        const int nr = P - r < rows ? P - r : rows;
        const size_t o = ((size_t)pl * P + r) * Q;
        const float *z0 = xp + (size_t)2 * r * W;
        cnn__bn_act_row(f, z0, (size_t)2 * nr * W, buf);
        cnn__pool2_rows(t, nr, buf, buf + W, W, Q, y + o, arg ? arg + o : NULL, 2 * r * W, z0, z0 + W,
                        xsel ? xsel + o : NULL);
    }
    for (r = 0; !rows && r < P; r++)
        for (c0 = 0; c0 < 2 * Q; c0 += CNN__POOL2_BUF / 2) {
            const int cw = 2 * Q - c0 < CNN__POOL2_BUF / 2 ? 2 * Q - c0 : CNN__POOL2_BUF / 2;
            const size_t o = ((size_t)pl * P + r) * Q + (size_t)c0 / 2;
            cnn__bn_act_row(f, xp + (size_t)2 * r * W + c0, (size_t)cw, buf);
            cnn__bn_act_row(f, xp + (size_t)(2 * r + 1) * W + c0, (size_t)cw, buf + CNN__POOL2_BUF / 2);
            cnn__pool2_rows(t, 1, buf, buf + CNN__POOL2_BUF / 2, W, cw / 2, y + o, arg ? arg + o : NULL,
                            2 * r * W + c0, xp + (size_t)2 * r * W + c0, xp + (size_t)(2 * r + 1) * W + c0,
                            xsel ? xsel + o : NULL);
        }
}

/* the same for a pool of any other size S whose windows do not overlap, after a ReLU: each row of
   windows from its S input rows, put through cnn__bn_act_row into buf (S * W <= CNN__POOL2_BUF,
   cnn__pool_applies_bn_act) and pooled from there by cnn__pool_extreme_row; or x pooled first and
   one batch norm and ReLU per window, where cnn__pool_first allows it */
static void cnn__pool_plane_bn(const cnn_pool_shape *ps, cnn_pool_type t, const float *xp, int pl,
                               const cnn__bn_act *f, float *y, int32_t *arg)
{
    const int W = ps->w, S = ps->size, st = ps->stride, Q = ps->q, first = cnn__pool_first(f, t);
    float buf[CNN__POOL2_BUF];
    int p;
    for (p = 0; p < ps->p; p++) {
        const size_t o = ((size_t)pl * ps->p + p) * Q;
        const float *x0 = xp + (size_t)p * st * W;
        if (first >= 0) {
            cnn__pool_extreme_row((cnn_pool_type)first, S, st, W, Q, x0, p * st * W, buf, arg ? arg + o : NULL);
            cnn__bn_act_row(f, buf, (size_t)Q, y + o);
        } else {
            cnn__bn_act_row(f, x0, (size_t)S * W, buf);
            cnn__pool_extreme_row(t, S, st, W, Q, buf, p * st * W, y + o, arg ? arg + o : NULL);
        }
    }
}

static void cnn__pool2_forward_bn(const cnn_pool_shape *ps, cnn_pool_type t, const float *x, const cnn_net *net,
                                  const cnn__layer *B, float *y, int32_t *arg, float *xsel)
{
    const int planes = ps->n * ps->c;
    int pl;
    CNN__OMP_FOR(planes > 1 && (double)planes * ps->h * ps->w > CNN__OMP_MIN_WORK)
    for (pl = 0; pl < planes; pl++) {
        const cnn__bn_act f = cnn__pool2_bn_params(net, B, pl % ps->c);
        if (cnn__pool2_applies(ps)) cnn__pool2_plane_bn(ps, t, x + (size_t)pl * ps->h * ps->w, pl, &f, y, arg, xsel);
        else cnn__pool_plane_bn(ps, t, x + (size_t)pl * ps->h * ps->w, pl, &f, y, arg);
    }
}

/* >>first block, streamed
   "conv, batch norm, ReLU (sigmoid, tanh), 2x2 max/min pool" as the net's first four layers, when
   the pool's picks make the first convolution's gradient (cnn__conv_takes_pool_gen): then nothing
   reads the convolution's output map after the forward pass, so it is never written whole. Each
   sample's map (26x26x64 floats, 173 KB in the study) is made in a slot buffer, one per thread
   (up to 16), and used at once, while it is still in the core's L2 cache, for "batch norm,
   activation, pool": with the running statistics in inference; in training with the batch's,
   which need a pass over the whole batch first but not the map (cnn__block0_plane_stats: from
   each sample's im2col columns, made in that pass and kept for the backward). Every other value
   is computed by the same calls as the layers run one by one; nothing depends on which slot or
   thread computed it. The saving is the map's trip through memory (written once, read twice),
   in training a GEMM and a pass over the map for the statistics, and the map's allocation. Slot
   sl takes a contiguous run of samples, so that the threads' shares of the slots are shares of
   the batch. (All 16 slots, with 2 threads, had each thread cycle through 8 maps, 1.4 MB, which
   its L2 did not keep: each map written back to memory and read for ownership again; one slot
   per thread took the block's forward from 33-35 to 28-32 us an image on 2 threads.) */
static int cnn__slot_start(int sl, int n, int slots)   /* the first sample of slot sl */
{
    return (int)((size_t)sl * (size_t)n / (size_t)slots);
}

/* The batch norm's per-plane statistics of a convolution's output, from its input: output k of
   sample m at position t is y_t = w_k . col_t + b_k, with col_t the t-th of the PQ patches (the
   im2col columns). With mu the patches' mean and S = sum_t (col_t - mu)(col_t - mu)^T their
   scatter matrix (CRS x CRS, one per sample, whatever K),
     mean_k = w_k . mu + b_k,     sum_t (y_t - mean_k)^2 = w_k^T S w_k,
   which cnn__bn_forward_train merges over the batch as it merges cnn__bn_plane_stats'. For the
   study's first layer (9 taps, 64 filters) S costs 45 sums of 676 products where the map costs
   9 x 64 multiply-adds per position and another pass to sum. Equal to the map's statistics up to
   rounding: mu in double, S in float lanes about mu rounded to float (c), so that inputs far
   from zero do not cancel; about c rather than mu, S gains PQ (mu_i - c_i)(mu_j - c_j), a part in
   (6e-8 * mean / spread)^2 of it, below its own rounding. st: (K, 2); sc: S then mu (CRS * CRS + CRS
   doubles), which the backward reuses (cnn__conv_backward_pool_gen). The K quadratic forms run
   side by side, lanes along k (wt: w transposed, CRS x K, in double; lane: 3K doubles of
   scratch), each in the order of a plane-at-a-time loop, whose chain of CRS^2 dependent
   multiply-adds per plane had cost 7x7 filters about 170 us of a sample's 470 (one thread). */
/* S's entries (i, j), i <= j, for the CNN__SC_T rows from i0 and from j0 (rows past CRS repeat
   the last one, their sums dropped): each the sum cnn__sum_cprod(col_i, mu_i, col_j, mu_j) forms,
   in the same 16 lanes and the same order, so the same bits, for T x T pairs at once. One pair
   at a time, every row chunk was loaded and centred again for each of the CRS pairs it is in:
   for 7x7 filters (1,225 pairs of 484-long rows) the scatter matrices took a fifth of study
   model 7's training step (one thread). T = 4 keeps the 16 sums in 16 AVX-512 registers; with
   narrower vectors, fewer pairs at once, so that they still fit in registers. */
#if defined(CNN__GEMM_VECTOR) && CNN__VW >= 16
#define CNN__SC_T 4
#elif defined(CNN__GEMM_VECTOR) && CNN__VW >= 8
#define CNN__SC_T 2
#else
#define CNN__SC_T 1
#endif
static void cnn__scatter_tile(const float *col, int PQ, const double *mu, int CRS, int i0, int j0, double *S)
{
#ifdef CNN__GEMM_VECTOR
    enum { T = CNN__SC_T, U = 16 / CNN__VW };   /* lane l of a sum: element l % VW of vector l / VW */
    const cnn__vf zero = {0};
    cnn__vf acc[T * T * U], av[T * U], bv[T * U];
    float ca[T], cb[T];
    const float *a[T], *b[T];
    int r, c, u, t;
    for (r = 0; r < T; r++) {
        const int i = i0 + r < CRS ? i0 + r : CRS - 1, j = j0 + r < CRS ? j0 + r : CRS - 1;
        a[r] = col + (size_t)i * PQ; ca[r] = (float)mu[i];
        b[r] = col + (size_t)j * PQ; cb[r] = (float)mu[j];
    }
#pragma GCC unroll 16
    for (r = 0; r < T * T * U; r++) acc[r] = zero;
    for (t = 0; t + 16 <= PQ; t += 16) {
#pragma GCC unroll 16
        for (r = 0; r < T * U; r++) {
            av[r] = cnn__vload(a[r / U] + t + (r % U) * CNN__VW) - ca[r / U];
            bv[r] = cnn__vload(b[r / U] + t + (r % U) * CNN__VW) - cb[r / U];
        }
#pragma GCC unroll 16
        for (r = 0; r < T; r++)
#pragma GCC unroll 16
            for (c = 0; c < T; c++)
#pragma GCC unroll 16
                for (u = 0; u < U; u++) acc[(r * T + c) * U + u] += av[r * U + u] * bv[c * U + u];
    }
#ifdef CNN__WG
    {   /* cnn__sum_cprod's tail into lane 0, then its tree for the 16 pairs at once
           (cnn__sum16x16): on quarters of each pair's lanes (below), GCC took them from a copy
           on the stack, a store of the whole vector that the quarters' loads could not be
           forwarded from: a stall each, 14% of the statistics' time for 7x7 filters */
        __m512 v[T * T];
        float out[T * T];
        for (r = 0; r < T * T; r++) {
            const int ra = r / T, cb_ = r % T;
            float l0 = acc[r][0];
            int k;
            for (k = t; k < PQ; k++) l0 += (a[ra][k] - ca[ra]) * (b[cb_][k] - cb[cb_]);
            v[r] = _mm512_mask_mov_ps((__m512)acc[r], 1, _mm512_set1_ps(l0));   /* in registers, as
                                        the sums: a lane written in memory stalls the vector's load */
        }
        _mm512_storeu_ps(out, cnn__sum16x16(v));
        for (r = 0; r < T; r++)
            for (c = 0; c < T; c++) {
                const int i = i0 + r, j = j0 + c;
                if (i < CRS && j < CRS && i <= j) S[(size_t)i * CRS + j] = S[(size_t)j * CRS + i] = (double)out[r * T + c];
            }
        return;
    }
#endif
    for (r = 0; r < T; r++)
        for (c = 0; c < T; c++) {
            /* cnn__sum_cprod's tail into lane 0, then its tree (lane k += lane k + 8, k + 4,
               k + 2, k + 1) on quarters of the 16 lanes, in registers: through a float[16] the
               tree had cost as much as the 480 multiply-adds of a 7x7 pair */
            typedef float cnn__v4 __attribute__((vector_size(16)));
            const int i = i0 + r, j = j0 + c;
            cnn__v4 q[4], u;
            float s0, s1;
            int k;
            memcpy(q, &acc[(r * T + c) * U], sizeof q);
            for (k = t; k < PQ; k++) q[0][0] += (a[r][k] - ca[r]) * (b[c][k] - cb[c]);
            u = (q[0] + q[2]) + (q[1] + q[3]);
            s0 = u[0] + u[2];
            s1 = u[1] + u[3];
            if (i < CRS && j < CRS && i <= j) S[(size_t)i * CRS + j] = S[(size_t)j * CRS + i] = (double)(s0 + s1);
        }
#else
    if (i0 <= j0)
        S[(size_t)i0 * CRS + j0] = S[(size_t)j0 * CRS + i0] =
            (double)cnn__sum_cprod(col + (size_t)i0 * PQ, (float)mu[i0], col + (size_t)j0 * PQ, (float)mu[j0], (size_t)PQ);
#endif
}

#ifdef CNN__GEMM_VECTOR
/* for filters k0 .. k0 + 8 nv - 1: q_k += w_ki (S_i . w_k), mean_k += w_ki mu_i, for i in order;
   nv (2 or 8) vectors of 8 filters' running sums in registers (called with constants, inlined) */
static inline void cnn__plane_forms(int CRS, int K, int k0, int nv, const double *S, const double *wt, const double *mu,
                                    double *q, double *mean)
{
    typedef double cnn__vd __attribute__((vector_size(8 * sizeof(double))));
    int i, j, v, k;
    for (i = 0; i < CRS; i++) {
        const double *wi = wt + (size_t)i * K + k0;
        const cnn__vd zero = {0};
        cnn__vd a[8], w;
        double acc[64];
        for (v = 0; v < 8; v++) a[v] = zero;   /* all 8: GCC -O1 saw a[v] read unset otherwise */
        for (j = 0; j < CRS; j++) {
            const double sij = S[(size_t)i * CRS + j], *wj = wt + (size_t)j * K + k0;
#pragma GCC unroll 8
            for (v = 0; v < nv; v++) {
                memcpy(&w, wj + 8 * v, sizeof w);
                a[v] += sij * w;
            }
        }
#pragma GCC unroll 8
        for (v = 0; v < nv; v++) memcpy(acc + 8 * v, &a[v], sizeof a[v]);
        for (k = 0; k < 8 * nv; k++) {
            q[k0 + k] += wi[k] * acc[k];
            mean[k0 + k] += wi[k] * mu[i];
        }
    }
}
#endif

static void cnn__block0_plane_stats(int K, int CRS, int PQ, const float *col, const double *wt, const float *b,
                                    double *sc, double *st, double *lane)
{
    double *S = sc, *mu = sc + (size_t)CRS * CRS;
    double *CNN__RESTRICT si = lane, *CNN__RESTRICT q = lane + K, *CNN__RESTRICT mean = lane + 2 * K;
    int i, j, k, k0;
    for (j = 0; j < CRS; j++) {   /* in double: the first block's gradient takes the mean as exact,
                                     and an error d in it moves the weight gradient by about
                                     (d / spread) * (mean / spread) of itself */
        const float *cj = col + (size_t)j * PQ;
        double l[8] = {0};
        int t, u;
        for (t = 0; t + 8 <= PQ; t += 8)
            for (u = 0; u < 8; u++) l[u] += (double)cj[t + u];
        for (; t < PQ; t++) l[0] += (double)cj[t];
        mu[j] = (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) / PQ;
    }
    for (i = 0; i < CRS; i += CNN__SC_T)
        for (j = i; j < CRS; j += CNN__SC_T) cnn__scatter_tile(col, PQ, mu, CRS, i, j, S);
    for (k = 0; k < K; k++) {
        q[k] = 0.0;
        mean[k] = b ? (double)b[k] : 0.0;
    }
    /* q_k += w_ki (S_i . w_k), mean_k += w_ki mu_i, for i in order. In vector builds filters 16 at
       a time, their running sums S_i . w_k in registers through the CRS terms; through si in
       memory each term waited for the last one's store (study model 7, 49 taps: about 20 of 250
       us an image on one thread). Each sum is taken in the same order either way: the same bits.
       64 filters at a time where there are as many: 8 chains of multiply-adds side by side, where
       16 filters' 2 chains each waited for their last multiply-add (13% of model 7's step). */
    k0 = 0;
#ifdef CNN__GEMM_VECTOR
    for (; k0 + 64 <= K; k0 += 64) cnn__plane_forms(CRS, K, k0, 8, S, wt, mu, q, mean);
    for (; k0 + 16 <= K; k0 += 16) cnn__plane_forms(CRS, K, k0, 2, S, wt, mu, q, mean);
#endif
    for (i = 0; k0 < K && i < CRS; i++) {   /* the rest */
        const double *wi = wt + (size_t)i * K;
        for (k = k0; k < K; k++) si[k] = 0.0;
        for (j = 0; j < CRS; j++) {
            const double sij = S[(size_t)i * CRS + j], *wj = wt + (size_t)j * K;
            for (k = k0; k < K; k++) si[k] += sij * wj[k];
        }
        for (k = k0; k < K; k++) {
            q[k] += wi[k] * si[k];
            mean[k] += wi[k] * mu[i];
        }
    }
    for (k = 0; k < K; k++) {
        st[2 * k] = mean[k];
        st[2 * k + 1] = q[k];
    }
}
#undef CNN__SC_T

/* The block's forward for one sample without its convolution's map, where the input has one
   channel, the convolution has stride 1 and no padding, and every channel may pool first
   (cnn__pool_first): each 2x2 window's four outputs are computed side by side and pooled at once.
   Output (2p + a, 2q + b) of a window at (p, q) is sum_rs w_rs x[2p + a + r][2q + b + s], so with
   X_uv[p][q] = x[2p + u][2q + v] (u <= R, v <= S: 16 small maps of the windows for 3x3 filters,
   made once per sample and shared by every filter) the window's phase (a, b) is
   sum_rs w_rs X_{a+r, b+s}: a vector of windows per multiply-add, the four phases in four
   registers. The same products, summed in the same order and with the bias added at the end, as
   the GEMM's tile (cnn__gemm_kernel), and picked in the order of cnn__pool2_rows: the same
   bits. The map through the GEMM and the pool (written, then read back) had cost the base
   model's streamed forward about half its time. scratch: cnn__block0_direct_floats(). */
#ifdef CNN__GEMM_VECTOR
/* its convolutions: one input channel, stride 1, no padding and up to 9 taps. With more, a
   window's four phases cost four multiply-adds per tap where the GEMM's map needs one per output:
   study models 6 and 7 (5x5 and 7x7 filters) forward 5% slower. */
static int cnn__block0_direct_shape(const cnn_conv_shape *cs)
{
    return cs->c == 1 && cs->r * cs->s <= 9 && cs->stride_h == 1 && cs->stride_w == 1 && !cs->pad_top && !cs->pad_left &&
           cs->p == cs->h - cs->r + 1 && cs->q == cs->w - cs->s + 1;
}
static size_t cnn__block0_direct_floats(const cnn_conv_shape *cs, const cnn_pool_shape *ps)
{
    const size_t nvw = ((size_t)ps->p * ps->q + CNN__VW - 1) / CNN__VW * CNN__VW;
    return ((size_t)(cs->r + 1) * (size_t)(cs->s + 1) + 3) * nvw;
}
#endif
static int cnn__block0_direct_applies(const cnn_net *net, const cnn_conv_shape *cs, const cnn_pool_shape *ps)
{
#ifdef CNN__GEMM_VECTOR
    const cnn__layer *B = &net->layers[1];
    int ch;
    if (!cnn__block0_direct_shape(cs) || !cnn__pool2_applies(ps) || cnn__block0_direct_floats(cs, ps) > net->layers[0].out_size)
        return 0;
    for (ch = 0; ch < B->out_c; ch++) {
        const cnn__bn_act f = cnn__pool2_bn_params(net, B, ch);
        if (cnn__pool_first(&f, net->layers[3].pool_type) < 0) return 0;
    }
    return 1;
#else
    (void)net; (void)cs; (void)ps;
    return 0;
#endif
}

#ifdef CNN__GEMM_VECTOR
/* the four phases of vector j of windows; called with R and S as constants for 3x3 filters, where
   the compiler unrolls the taps and loads each of the 16 vectors of X once (36 loads before) */
static void cnn__block0_phases(const float *X, size_t ph, int NVW, const float *wk, int R, int S, int j, cnn__vf *a)
{
    const cnn__vf zero = {0};
    cnn__vf a00 = zero, a01 = zero, a10 = zero, a11 = zero, x00, x01, x10, x11;
    int r, c;
    for (r = 0; r < R; r++)
        for (c = 0; c < S; c++) {
            const float wv = wk[r * S + c];
            const float *xp = X + (size_t)r * ph + (size_t)c * NVW + (size_t)j * CNN__VW;
            memcpy(&x00, xp, sizeof x00);
            memcpy(&x01, xp + NVW, sizeof x01);
            memcpy(&x10, xp + ph, sizeof x10);
            memcpy(&x11, xp + ph + NVW, sizeof x11);
            a00 += wv * x00; a01 += wv * x01; a10 += wv * x10; a11 += wv * x11;
        }
    a[0] = a00; a[1] = a01; a[2] = a10; a[3] = a11;
}

static void cnn__block0_sample_direct(const cnn_net *net, const cnn_conv_shape *cs, const cnn_pool_shape *ps,
                                      const float *xn, int m, float *scratch)
{
    const cnn__layer *L = &net->layers[0], *B = &net->layers[1], *Pl = &net->layers[3];
    const float *w = net->params + L->w_off, *bias = net->params + L->b_off;
    const int R = cs->r, S = cs->s, K = L->out_c, WX = cs->w, WC = ps->w, P2 = ps->p, Q2 = ps->q, WN = P2 * Q2;
    const int NV = (WN + CNN__VW - 1) / CNN__VW, NVW = NV * CNN__VW, US = S + 1;
    const size_t ph = (size_t)US * NVW;   /* from X_uv to X_(u+1)v */
    float *X = scratch, *buf = X + (size_t)(R + 1) * ph;
    int32_t *at = (int32_t *)(void *)(buf + NVW), *ab = at + NVW;
    int u, v, i, j, ch;
    for (u = 0; u <= R; u++)
        for (v = 0; v <= S; v++) {
            float *d = X + (size_t)u * ph + (size_t)v * NVW;
            for (i = 0; i < P2; i++)
                for (j = 0; j < Q2; j++) d[i * Q2 + j] = xn[(size_t)(2 * i + u) * WX + 2 * j + v];
            for (i = WN; i < NVW; i++) d[i] = 0.0f;
        }
    for (i = 0; i < NVW; i++) at[i] = i < WN ? 2 * (i / Q2) * WC + 2 * (i % Q2) : 0;
    for (ch = 0; ch < K; ch++) {
        const cnn__bn_act f = cnn__pool2_bn_params(net, B, ch);
        const int mx = cnn__pool_first(&f, Pl->pool_type) == CNN_POOL_MAX;
        const float *wk = w + (size_t)ch * R * S, bk = bias[ch];
        const size_t o = ((size_t)m * K + ch) * WN;
        /* in training the picks' values and places straight where the backward reads them (made
           in buf and copied there, the copies had cost study model 4 2% of its step) */
        float *val = net->training ? Pl->cache + o : buf;
        int32_t *pick = net->training ? Pl->arg + o : ab;
        for (j = 0; j < NV; j++) {
            cnn__vf a[4], a00, a01, a10, a11, best;
            cnn__vi i0, idx, bt;
            if (R == 3 && S == 3) cnn__block0_phases(X, 4 * (size_t)NVW, NVW, wk, 3, 3, j, a);
            else cnn__block0_phases(X, ph, NVW, wk, R, S, j, a);
            a00 = a[0] + bk; a01 = a[1] + bk; a10 = a[2] + bk; a11 = a[3] + bk;
            i0 = cnn__vload_i(at + (size_t)j * CNN__VW);
            best = a00; idx = i0;
            bt = mx ? (cnn__vi)(a01 > best) : (cnn__vi)(a01 < best);
            best = cnn__vsel(bt, a01, best); idx = (bt & (i0 + 1)) | (~bt & idx);
            bt = mx ? (cnn__vi)(a10 > best) : (cnn__vi)(a10 < best);
            best = cnn__vsel(bt, a10, best); idx = (bt & (i0 + WC)) | (~bt & idx);
            bt = mx ? (cnn__vi)(a11 > best) : (cnn__vi)(a11 < best);
            best = cnn__vsel(bt, a11, best); idx = (bt & (i0 + WC + 1)) | (~bt & idx);
            if (j + 1 < NV) {
                memcpy(val + (size_t)j * CNN__VW, &best, sizeof best);
                memcpy(pick + (size_t)j * CNN__VW, &idx, sizeof idx);
            } else {   /* the plane's last vector: its windows only */
                memcpy(val + (size_t)j * CNN__VW, &best, (size_t)(WN - j * CNN__VW) * sizeof(float));
                memcpy(pick + (size_t)j * CNN__VW, &idx, (size_t)(WN - j * CNN__VW) * sizeof(int32_t));
            }
        }
        cnn__bn_act_row(&f, val, (size_t)WN, Pl->out + o);
    }
}
#endif

static void cnn__block0_forward(cnn_net *net, const float *x, int n)
{
    const cnn__layer *L = &net->layers[0], *B = &net->layers[1];
    cnn__layer *P = &net->layers[3];
    const float *p = net->params, *w = p + L->w_off, *b = p + L->b_off;
    cnn_conv_shape cs = L->conv;
    cnn_pool_shape ps = P->pool;
    const int threads = CNN__THREADS(), most = n < CNN__STREAM_SLOTS ? n : CNN__STREAM_SLOTS;
    const int K = L->out_c, CRS = cs.c * cs.r * cs.s, slots = threads < most ? (threads > 1 ? threads : 1) : most;
    const size_t cols = (size_t)CRS * cs.p * cs.q, xs = L->in_size, map = L->out_size;
    const size_t hw = (size_t)cs.p * cs.q;
    double *pst = net->stream_st;
    float *pw;
    int sl, direct;
    cs.n = n; ps.n = n;
    pw = L->cache + (size_t)n * cols;   /* where cnn_conv_forward_im2col packs w */
    if (net->training) {
        float *mean = net->state + B->st_off;
        double *wt = pst + (size_t)n * K * 2 + K + (size_t)n * (CRS * CRS + CRS);   /* w', then lanes */
        int ch, j;
        for (ch = 0; ch < K; ch++)
            for (j = 0; j < CRS; j++) wt[(size_t)j * K + ch] = (double)w[(size_t)ch * CRS + j];
        CNN__OMP_FOR(slots > 1)
        for (sl = 0; sl < slots; sl++) {
            int m;
            for (m = cnn__slot_start(sl, n, slots); m < cnn__slot_start(sl + 1, n, slots); m++) {
                float *col = L->cache + (size_t)m * cols;
                double *smu = pst + (size_t)n * K * 2 + K + (size_t)m * (CRS * CRS + CRS);   /* kept */
                cnn__im2col(&cs, x + (size_t)m * xs, col);
                cnn__block0_plane_stats(K, CRS, (int)hw, col, wt, b, smu, pst + (size_t)m * K * 2,
                                        wt + (size_t)CRS * K + (size_t)sl * 3 * K);
            }
        }
        cnn__bn_forward_train(n, K, hw, NULL, pst, p + B->w_off, p + B->b_off, NULL, NULL, B->invstd,
                              B->invstd + K, mean, mean + K, net->desc.bn_momentum, net->desc.bn_eps, CNN_ACT_RELU);
        for (ch = 0; ch < K; ch++) {   /* the batch's means in double, for the backward (cnn__bn_gen) */
            double sum = 0.0;
            int m;
            for (m = 0; m < n; m++) sum += pst[((size_t)m * K + ch) * 2];
            pst[(size_t)n * K * 2 + ch] = sum / n;
        }
    }
    direct = cnn__block0_direct_applies(net, &cs, &ps);   /* 0 in builds without vector types */
    if (!direct) cnn__gemm_pack(0, K, CRS, w, CRS, pw);   /* for the GEMM's map */
    CNN__OMP_FOR(slots > 1)
    for (sl = 0; sl < slots; sl++) {
        float *yb = net->stream + (size_t)sl * map;
        int m, ch;
        for (m = cnn__slot_start(sl, n, slots); m < cnn__slot_start(sl + 1, n, slots); m++) {
#ifdef CNN__GEMM_VECTOR
            if (direct) {   /* the slot's buffer as its scratch */
                cnn__block0_sample_direct(net, &cs, &ps, x + (size_t)m * xs, m, yb);
                continue;
            }
#endif
            /* training: from the columns made for the statistics */
            cnn__conv_im2col_sample(&cs, x + (size_t)m * xs, pw, b, L->cache + (size_t)m * cols, yb,
                                    !net->training);
            for (ch = 0; ch < K; ch++) {
                const cnn__bn_act f = cnn__pool2_bn_params(net, B, ch);
                cnn__pool2_plane_bn(&ps, P->pool_type, yb + (size_t)ch * hw, m * K + ch, &f, P->out,
                                    net->training ? P->arg : NULL, net->training ? P->cache : NULL);
            }
        }
    }
}
#undef CNN__POOL2_BUF

CNN_API const float *cnn_net_forward(cnn_net *net, const float *x, int n)
{
    const float *in = x;
    float *p = net->params;
    int i;
    CNN_ASSERT(n > 0 && n <= net->cap);
    net->last_n = n;
    for (i = 0; i < net->nlayers; i++) {
        cnn__layer *L = &net->layers[i];
        const size_t count = (size_t)n * L->out_size;
        L->in = in;
        if (i == 0 && net->stream) {   /* the first four layers at once; their inputs are not kept */
            cnn__block0_forward(net, x, n);
            net->layers[1].in = net->layers[2].in = net->layers[3].in = NULL;
            in = net->layers[3].out;
            i = 3;
            continue;
        }
        switch (L->kind) {
        case CNN_LAYER_CONV: {
            cnn_conv_shape cs = L->conv;
            cs.n = n;
            if (net->desc.algo == CNN_CONV_NAIVE) cnn_conv_forward_naive(&cs, in, p + L->w_off, p + L->b_off, L->out);
            else cnn__conv_forward_im2col(&cs, in, p + L->w_off, p + L->b_off, L->out, L->cache, net->training ? 2 : 0);
            break;
        }
        case CNN_LAYER_BATCHNORM: {
            float *mean = net->state + L->st_off, *var = mean + L->out_c;
            const size_t hw = (size_t)L->out_h * L->out_w;
            const int relu = cnn__relu_fused_after(net, i), pooled = cnn__pool_applies_bn_act(net, i + 2);
            const cnn_act act = relu ? CNN_ACT_RELU : cnn__act_fused_after(net, i) ? net->layers[i + 1].act
                                                                                    : CNN_ACT_LINEAR;
            float *out = pooled ? NULL : act != CNN_ACT_LINEAR ? net->layers[i + 1].out : L->out;   /* NULL: the pool applies it */
            if (net->training)
                cnn__bn_forward_train(n, L->out_c, hw, in, NULL, p + L->w_off, p + L->b_off, out, NULL, L->invstd,
                                      L->invstd + L->out_c, mean, var, net->desc.bn_momentum, net->desc.bn_eps, act);
            else if (out)
                cnn__bn_forward_infer(n, L->out_c, hw, in, p + L->w_off, p + L->b_off, mean, var, net->desc.bn_eps,
                                      out, act);
            break;
        }
        case CNN_LAYER_ACT:
            if (!(i > 0 && (cnn__relu_fused_after(net, i - 1) || cnn__act_fused_after(net, i - 1))))
                cnn_act_forward(L->act, count, in, L->out);
            break;
        case CNN_LAYER_POOL: {
            cnn_pool_shape ps = L->pool;
            ps.n = n;
            if (cnn__pool_applies_bn_act(net, i))   /* the batch norm and activation before it, too */
                cnn__pool2_forward_bn(&ps, L->pool_type, net->layers[i - 2].in, net, &net->layers[i - 2], L->out,
                                      net->training ? L->arg : NULL,
                                      net->training && i == 3 && cnn__conv_takes_pool_gen(net, 0) ? L->cache : NULL);
            else   /* arg only for a backward to come */
                cnn_pool_forward(&ps, L->pool_type, in, L->out, net->training ? L->arg : NULL);
            break;
        }
        case CNN_LAYER_DROPOUT:
            if (net->training) {
                /* one draw from the net's generator per layer and batch; sample m's mask comes from
                   its own generator seeded with output m of a SplitMix64 stream started there
                   (computable directly), so samples run on any thread and give the same bits */
                const uint64_t base = cnn__rng_u64(net->rng);
                const size_t per = L->out_size;
                const int keeps = cnn__dropout_keeps_at(net, i);   /* bytes in the cache, not the mask */
                int m;
                CNN__OMP_FOR(n > 1 && (double)count > CNN__OMP_MIN_WORK)
                for (m = 0; m < n; m++) {
                    cnn_rng r;
                    r.state = cnn__rng_mix(base + (uint64_t)(m + 1) * CNN__RNG_GAMMA);
                    if (keeps) {
                        cnn__dropout_forward_keep(&r, L->rate, per, in + (size_t)m * per, L->out + (size_t)m * per,
                                                  (unsigned char *)L->cache + (size_t)m * per);
                        continue;
                    }
                    cnn_dropout_mask(&r, L->rate, per, L->cache + (size_t)m * per);
                    cnn_dropout_forward(per, L->cache + (size_t)m * per, in + (size_t)m * per, L->out + (size_t)m * per);
                }
                break;
            }
            continue;   /* inference: the identity, so the next layer reads this one's input */
        case CNN_LAYER_DENSE:
            cnn_dense_forward(n, (int)L->in_size, L->out_c, in, p + L->w_off, p + L->b_off, L->out);
            break;
        }
        in = L->out;
    }
    return in;
}

/* whether a convolution's backward in the net writes its dx (the wide path) instead of adding to it */
static int cnn__conv_sets_dx(const cnn_net *net, const cnn__layer *L)
{
#ifdef CNN__GEMM_VECTOR
#ifdef CNN__WG
    if (net->desc.algo != CNN_CONV_NAIVE && cnn__conv_wg(&L->conv)) return 1;
#endif
    return net->desc.algo != CNN_CONV_NAIVE && cnn__conv_wide(&L->conv);
#else
    (void)net; (void)L;
    return 0;
#endif
}

/* p[0..n) = 0 in chunks over the threads, for the backward passes that add to their dx: the
   study's second convolution's input gradient (1.4 MB for a batch of 32), before it wrote its own
   (cnn__conv_sets_dx), took 2 us an image cleared by one thread */
static void cnn__clear_floats(float *p, size_t n)
{
    const size_t chunk = 16384;
    const ptrdiff_t chunks = (ptrdiff_t)((n + chunk - 1) / chunk);
    ptrdiff_t c;
    CNN__OMP_FOR(chunks > 1)
    for (c = 0; c < chunks; c++) {
        const size_t o = (size_t)c * chunk;
        memset(p + o, 0, (n - o < chunk ? n - o : chunk) * sizeof(float));
    }
}

CNN_API void cnn_net_backward(cnn_net *net, const float *dlogits)
{
    const int n = net->last_n;
    float *p = net->params, *g = net->grads;
    int i;
    CNN_ASSERT(net->training);
    for (i = net->nlayers - 1; i >= 0; i--) {
        cnn__layer *L = &net->layers[i];
        const float *dy = i == net->nlayers - 1 ? dlogits : L->dout;
        float *dx = i > 0 ? net->layers[i - 1].dout : NULL;   /* no gradient for the input images */
        const size_t count = (size_t)n * L->out_size;
        /* layers that write every dx themselves skip the clearing (their add = 0) */
        const int writes_dx = L->kind == CNN_LAYER_BATCHNORM || L->kind == CNN_LAYER_ACT ||
                              L->kind == CNN_LAYER_DROPOUT ||
                              (L->kind == CNN_LAYER_POOL && cnn__pool2_applies(&L->pool)) ||
                              (L->kind == CNN_LAYER_CONV && cnn__conv_sets_dx(net, L));
        if (dx && !writes_dx) cnn__clear_floats(dx, (size_t)n * L->in_size);
        switch (L->kind) {
        case CNN_LAYER_CONV: {
            cnn_conv_shape cs = L->conv;
            cs.n = n;
            if (net->desc.algo == CNN_CONV_NAIVE) {
                cnn_conv_backward_naive(&cs, L->in, p + L->w_off, dy, dx, g + L->w_off, g + L->b_off);
#ifdef CNN__GEMM_VECTOR
            } else if (cnn__conv_takes_bn_gen(net, i)) {   /* dy made row by row from the batch norm */
                const cnn__layer *B = &net->layers[i + 1], *P = &net->layers[i + 3];
                const size_t cols = (size_t)cs.c * cs.r * cs.s * cs.p * cs.q;
                cnn__bn_gen gen;
                memset(&gen, 0, sizeof gen);
                gen.dy = B->dout; gen.x = L->out; gen.mean = B->invstd + B->out_c; gen.invstd = B->invstd;
                gen.kab = B->invstd + 2 * B->out_c; gen.arg = NULL; gen.db = g + L->b_off;
                gen.buf = L->cache + ((size_t)n * cols + cnn__conv_scratch_floats(&cs) + 15) / 16 * 16;
                if (cnn__conv_takes_pool_gen(net, i)) {   /* the rows from the pool, the rest from sums */
                    gen.dy = P->dout; gen.x = P->out; gen.arg = P->arg; gen.xs = P->cache;
                    gen.act = net->layers[i + 2].act;
                    if (cnn__dropout_folded(net)) {   /* layer 4 skipped its backward (no dx to write) */
                        gen.dy = net->layers[4].dout;
                        if (cnn__dropout_keeps(net)) {   /* as cnn_dropout_mask computes it */
                            gen.keep = (const unsigned char *)net->layers[4].cache;
                            gen.scale = 1.0f / (1.0f - net->layers[4].rate);
                        } else {
                            gen.mask = net->layers[4].cache;
                        }
                    }
                    gen.mean_d = net->stream_st + (size_t)n * cs.k * 2;   /* the streamed block's */
                    gen.smu = gen.mean_d + cs.k;
                    gen.gamma = p + B->w_off; gen.dgamma = g + B->w_off; gen.dbeta = g + B->b_off;
                    cnn__conv_backward_pool_gen(&cs, L->cache, p + L->w_off, p + L->b_off, &gen, g + L->w_off,
                                                g + L->b_off);
                } else {
                    cnn__conv_backward_gen(&cs, L->cache, &gen, g + L->w_off);
                }
#endif
            } else {
                cnn__conv_backward_im2col(&cs, L->cache, p + L->w_off, dy, dx, g + L->w_off, g + L->b_off,
                                          cnn__conv_sets_dx(net, L), L->in);
            }
            break;
        }
        case CNN_LAYER_BATCHNORM: {
            const size_t hw = (size_t)L->out_h * L->out_w;
            if (i == 1 && cnn__conv_takes_pool_gen(net, 0)) {
                /* nothing: its sums, over the pool's picks, come with the first convolution's
                   (cnn__conv_backward_pool_gen), in the same pass over the pool's maps */
            } else if (cnn__dropout_keeps_bn(net, i + 2)) {   /* and the dropout after that ReLU */
                const cnn__layer *D = &net->layers[i + 2];
                cnn__bn_backward_keep(n, L->out_c, hw, D->dout, (const unsigned char *)D->cache, 1.0f / (1.0f - D->rate),
                                      L->in, L->invstd + L->out_c, p + L->w_off, L->invstd, dx, g + L->w_off, g + L->b_off,
                                      L->invstd + 2 * L->out_c);
            } else if (cnn__relu_fused_after(net, i)) {   /* the gradient and output of the ReLU after it */
                const cnn__layer *R = &net->layers[i + 1];
                const float *relu_y = cnn__pool_applies_bn_act(net, i + 2) ? NULL : R->out;   /* NULL: done */
                cnn__bn_backward(n, L->out_c, hw, R->dout, relu_y, L->in, L->invstd + L->out_c, p + L->w_off,
                                 L->invstd, dx, g + L->w_off, g + L->b_off, L->invstd + 2 * L->out_c, 0);
            } else {
                cnn__bn_backward(n, L->out_c, hw, dy, NULL, L->in, L->invstd + L->out_c, p + L->w_off, L->invstd,
                                 dx, g + L->w_off, g + L->b_off, L->invstd + 2 * L->out_c, 0);
            }
            break;
        }
        case CNN_LAYER_ACT:   /* fused after a batch norm or before a pool: that layer's backward does it */
            if (dx && !(i > 0 && cnn__relu_fused_after(net, i - 1)) && !cnn__pool_applies_act_grad(net, i + 1))
                cnn__act_backward(L->act, count, L->out, dy, dx, 0);
            break;
        case CNN_LAYER_POOL: {
            cnn_pool_shape ps = L->pool;
            ps.n = n;
            if (i == 3 && cnn__conv_takes_pool_gen(net, 0)) {
                /* nothing: the first convolution's backward takes the gradient at the picks */
            } else if (cnn__pool_applies_act_grad(net, i))   /* the activation's input gradient (its
                                                                own gradient, dx, is not allocated) */
                cnn__pool2_backward_write(&ps, L->pool_type, L->arg, dy, net->layers[i - 1].act, L->out,
                                          net->layers[i - 2].dout);
            else if (dx && cnn__pool2_applies(&ps))
                cnn__pool2_backward_write(&ps, L->pool_type, L->arg, dy, CNN_ACT_RELU,
                                          cnn__pool_applies_bn_act(net, i) ? L->out : NULL, dx);
            else if (dx && cnn__pool_applies_bn_act(net, i))   /* dx cleared above */
                cnn__pool_backward_relu(&ps, L->arg, dy, L->out, dx);
            else if (dx)
                cnn_pool_backward(&ps, L->pool_type, L->arg, dy, dx);
            break;
        }
        case CNN_LAYER_DROPOUT:   /* or the batch norm before its ReLU does it (cnn__bn_backward_keep) */
            if (dx && !cnn__dropout_keeps_bn(net, i)) cnn__dropout_backward(count, L->cache, dy, dx, 0);
            break;
        case CNN_LAYER_DENSE:
            cnn_dense_backward(n, (int)L->in_size, L->out_c, L->in, p + L->w_off, dy, dx, g + L->w_off, g + L->b_off);
            break;
        }
    }
}

static int cnn__finite(double v);
static int cnn__all_finite(const float *p, size_t n);

static int cnn__argmax(const float *v, int k)
{
    int j, best = 0;
    for (j = 1; j < k; j++) if (v[j] > v[best]) best = j;
    return best;
}

CNN_API double cnn_net_train_step(cnn_net *net, cnn_adam *opt, const float *x, const int *y, int n, int *correct)
{
    const int k = net->desc.classes;
    const float *logits;
    double loss;
    int m;
    memset(net->grads, 0, net->nparams * sizeof(float));
    memcpy(net->state_saved, net->state, net->nstate * sizeof(float));
    logits = cnn_net_forward(net, x, n);
    loss = cnn_softmax_xent(n, k, logits, y, NULL, net->dlogits);
    if (correct) {
        *correct = 0;
        for (m = 0; m < n; m++) *correct += cnn__argmax(logits + (size_t)m * k, k) == y[m];
    }
    cnn_net_backward(net, net->dlogits);
    if (!cnn__finite(loss) || !cnn__all_finite(net->grads, net->nparams)) {
        /* leave the net as it was: no Adam step, the batch-norm statistics of before */
        memcpy(net->state, net->state_saved, net->nstate * sizeof(float));
        return cnn__finite(loss) ? NAN : loss;
    }
    cnn_adam_step(opt, net->nparams, net->params, net->grads, net->adam_m, net->adam_v);
    return loss;
}

/* >>train implementation */
CNN_API void cnn_train_opts_init(cnn_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 100;
    o->batch = 32;
    o->val_split = 0.0;
    o->patience = 20;
    o->min_delta = 0.0;
    o->restore_best = 1;
    o->shuffle = 1;
    o->seed = 0;
    cnn_adam_init(&o->adam);
}

static cnn_status cnn__check_labels(const int *y, size_t n, int classes, const char *who, cnn_error *err)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= classes)
            return cnn__fail(err, CNN_ERR_LABEL_RANGE, "%s: label %d at index %zu is outside [0,%d)", who, y[i], i, classes);
    return CNN_OK;
}

/* Finite tests that read the exponent bits, so -ffast-math (which lets the compiler assume no
   NaN or infinity exists, and delete a `v != v` test) cannot remove them. */
static int cnn__finite(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x7FF0000000000000ull) != 0x7FF0000000000000ull;
}

static int cnn__all_finite(const float *p, size_t n)
{
    uint32_t bad = 0, u;
    size_t i;
    for (i = 0; i < n; i++) {
        memcpy(&u, &p[i], sizeof u);
        bad |= (u & 0x7F800000u) == 0x7F800000u;
    }
    return !bad;
}

/* After a step went wrong: the first layer (in forward order) whose output, then the first
   whose parameter gradient, holds a NaN or infinity, written into buf. */
static void cnn__locate_nonfinite(const cnn_net *net, int n, char *buf, size_t cap)
{
    int i;
    char text[64];
    if (net->stream && net->training) {   /* a streamed first block keeps no map, but in training
                                              its planes' statistics show a non-finite value */
        const size_t ns = (size_t)n * net->layers[0].out_c * 2;
        size_t j;
        for (j = 0; j < ns && cnn__finite(net->stream_st[j]); j++) {}
        if (j < ns) {
            cnn__layer_text(&net->layers[0], text, sizeof text);
            snprintf(buf, cap, "first in the output of layer 1 (%s, block 1)", text);
            return;
        }
    }
    for (i = 0; i < net->nlayers; i++) {
        const cnn__layer *L = &net->layers[i];
        if (L->out && !cnn__all_finite(L->out, (size_t)n * L->out_size)) {   /* NULL: fused, not kept */
            char blk[24] = "";
            cnn__layer_text(L, text, sizeof text);
            if (L->block >= 0) snprintf(blk, sizeof blk, ", block %d", L->block + 1);
            if (i == 3 && net->stream) {   /* the streamed first block keeps no map before its pool's */
                cnn__layer_text(&net->layers[0], text, sizeof text);
                snprintf(buf, cap, "first in the output of layers 1-4 (%s to pool, one pass)", text);
            } else {
                snprintf(buf, cap, "first in the output of layer %d (%s%s)", i + 1, text, blk);
            }
            return;
        }
    }
    for (i = 0; i < net->nlayers; i++) {
        const cnn__layer *L = &net->layers[i];
        if (!cnn__all_finite(net->grads + L->w_off, L->nw + L->nb)) {
            cnn__layer_text(L, text, sizeof text);
            snprintf(buf, cap, "first in the gradient of layer %d (%s)", i + 1, text);
            return;
        }
    }
    snprintf(buf, cap, "in the loss itself");
}

CNN_API cnn_status cnn_net_evaluate(cnn_net *net, const float *x, const int *y, size_t n, int batch,
                                    double *acc, double *loss, cnn_error *err)
{
    const int k = net->desc.classes;
    const size_t in_size = net->layers[0].in_size;
    double total = 0.0;
    size_t correct = 0, at;
    cnn_status st;
    if (n == 0 || batch <= 0) return cnn__fail(err, CNN_ERR_ARG, "evaluate: %zu samples in batches of %d", n, batch);
    if ((st = cnn__check_labels(y, n, k, "evaluate", err))) return st;
    if ((st = cnn_net_reserve(net, batch, err))) return st;
    cnn_net_set_training(net, 0, NULL);
    for (at = 0; at < n; at += (size_t)batch) {
        int bn = (int)(n - at < (size_t)batch ? n - at : (size_t)batch), m;
        const float *logits = cnn_net_forward(net, x + at * in_size, bn);
        total += cnn_softmax_xent(bn, k, logits, y + at, NULL, NULL) * bn;
        for (m = 0; m < bn; m++) correct += cnn__argmax(logits + (size_t)m * k, k) == y[at + m];
    }
    if (acc) *acc = (double)correct / (double)n;
    if (loss) *loss = total / (double)n;
    cnn__ok(err);
    return CNN_OK;
}

CNN_API cnn_status cnn_net_predict(cnn_net *net, const float *x, size_t n, int batch, float *probs,
                                   cnn_error *err)
{
    const int k = net->desc.classes;
    const size_t in_size = net->layers[0].in_size;
    size_t at;
    cnn_status st;
    if (n == 0 || batch <= 0) return cnn__fail(err, CNN_ERR_ARG, "predict: %zu samples in batches of %d", n, batch);
    if ((st = cnn_net_reserve(net, batch, err))) return st;
    cnn_net_set_training(net, 0, NULL);
    for (at = 0; at < n; at += (size_t)batch) {
        int bn = (int)(n - at < (size_t)batch ? n - at : (size_t)batch), m, j;
        const float *logits = cnn_net_forward(net, x + at * in_size, bn);
        for (m = 0; m < bn; m++) {
            const float *z = logits + (size_t)m * k;
            float *p = probs + (at + (size_t)m) * k;
            double mx = z[cnn__argmax(z, k)], sum = 0.0;
            for (j = 0; j < k; j++) sum += exp((double)z[j] - mx);
            for (j = 0; j < k; j++) p[j] = (float)(exp((double)z[j] - mx) / sum);
        }
    }
    cnn__ok(err);
    return CNN_OK;
}

/* the training state a checkpoint carries (see >>model for the file) */
typedef struct cnn__run {
    int epoch, best_epoch, wait;  /* epochs done; the best; epochs since */
    double best_loss;
    cnn_rng rng;
    cnn_adam adam;
    uint32_t *idx;                /* data order, ntrain entries */
    float *best;                  /* best epoch's params + state, or NULL */
} cnn__run;

#ifndef CNN_NO_STDIO
static cnn_status cnn__ckpt_write(const char *path, const cnn_net *net, const cnn_train_opts *o, size_t n,
                                  size_t ntrain, const cnn__run *run, cnn_error *err);
static cnn_status cnn__ckpt_read(const char *path, cnn_net *net, const cnn_train_opts *o, size_t n, size_t ntrain,
                                 cnn__run *run, int *found, cnn_error *err);
#endif

CNN_API cnn_status cnn_net_train(cnn_net *net, const float *x, const int *y, size_t n,
                                 const cnn_train_opts *o, cnn_train_result *res, cnn_error *err)
{
    const size_t in_size = net->layers[0].in_size;
    const size_t snap_n = net->nparams + net->nstate;
    size_t ntrain, nval, i;
    uint32_t *idx = NULL;
    float *bx = NULL, *best = NULL;
    int *by = NULL, epoch, wait = 0;
    double best_loss = HUGE_VAL;
    cnn_train_result r;
    cnn_adam adam;
    cnn_rng rng;
    cnn_status st = CNN_OK;

    memset(&r, 0, sizeof r);
    r.best_loss = HUGE_VAL;
    if (res) *res = r;
    if (!x || !y || n == 0) return cnn__fail(err, CNN_ERR_ARG, "train: no data");
    if (o->epochs <= 0 || o->batch <= 0 || !(o->val_split >= 0.0 && o->val_split < 1.0) || o->patience < 0 ||
        !(o->min_delta >= 0.0))
        return cnn__fail(err, CNN_ERR_ARG, "train: epochs %d and batch %d must be positive, val_split %g in [0,1), "
                         "patience %d and min_delta %g not negative", o->epochs, o->batch, o->val_split,
                         o->patience, o->min_delta);
    if (n > 0xFFFFFFFFu) return cnn__fail(err, CNN_ERR_LIMIT, "train: %zu samples (at most 2^32-1)", n);
    /* Keras' rule: the first floor(n * (1 - split)) samples train, the rest (taken before any
       shuffling) validate */
    ntrain = (size_t)floor((double)n * (1.0 - o->val_split));
    nval = n - ntrain;
    if (ntrain == 0) return cnn__fail(err, CNN_ERR_ARG, "train: val_split %g leaves no training data", o->val_split);
    if ((st = cnn__check_labels(y, n, net->desc.classes, "train", err))) return st;
    if ((st = cnn_net_reserve(net, o->batch, err))) return st;

    idx = (uint32_t *)CNN_MALLOC(ntrain * sizeof(uint32_t));
    bx = (float *)cnn__alloc_floats((size_t)o->batch * in_size);
    by = (int *)CNN_MALLOC((size_t)o->batch * sizeof(int));
    if (o->restore_best) best = (float *)cnn__alloc_floats(snap_n);
    if (!idx || !bx || !by || (o->restore_best && !best)) {
        st = cnn__fail(err, CNN_ERR_NOMEM, "train: out of memory for the batch buffers");
        goto done;
    }
    for (i = 0; i < ntrain; i++) idx[i] = (uint32_t)i;
    cnn_rng_seed(&rng, o->seed);
    adam = o->adam;
    memset(net->adam_m, 0, net->nparams * sizeof(float));   /* a new run starts Adam afresh */
    memset(net->adam_v, 0, net->nparams * sizeof(float));
    epoch = 1;
    if (o->checkpoint) {
#ifdef CNN_NO_STDIO
        st = cnn__fail(err, CNN_ERR_ARG, "train: checkpoints need stdio (CNN_NO_STDIO is defined)");
        goto done;
#else
        cnn__run run;
        int found = 0;
        memset(&run, 0, sizeof run);
        run.idx = idx; run.best = best;
        if ((st = cnn__ckpt_read(o->checkpoint, net, o, n, ntrain, &run, &found, err))) goto done;
        if (found) {
            epoch = run.epoch + 1;
            r.resumed_from = run.epoch;
            r.epochs_run = run.epoch;
            r.best_epoch = run.best_epoch;
            r.best_loss = best_loss = run.best_loss;
            wait = run.wait;
            rng = run.rng;
            adam = run.adam;
            if (o->patience > 0 && wait >= o->patience) epoch = o->epochs + 1;   /* it had stopped already */
        }
#endif
    }

    for (; epoch <= o->epochs; epoch++) {
        const int nbatches = (int)((ntrain + (size_t)o->batch - 1) / (size_t)o->batch);
        double sum_loss = 0.0;
        size_t correct = 0;
        cnn_epoch_info info;
        int b;
        if (o->shuffle) cnn_rng_shuffle(&rng, idx, ntrain);
        cnn_net_set_training(net, 1, &rng);
        for (b = 0; b < nbatches; b++) {
            const size_t at = (size_t)b * o->batch;
            const int bn = (int)(ntrain - at < (size_t)o->batch ? ntrain - at : (size_t)o->batch);
            int m, ok = 0;
            double loss;
            for (m = 0; m < bn; m++) {   /* gather the batch: rows in shuffled order */
                memcpy(bx + (size_t)m * in_size, x + (size_t)idx[at + m] * in_size, in_size * sizeof(float));
                by[m] = y[idx[at + m]];
            }
            loss = cnn_net_train_step(net, &adam, bx, by, bn, &ok);
            /* a NaN or infinity stops training at once, before Adam's moments carry it into
               every later step and before anything can be kept as "best" */
            if (!cnn__finite(loss)) {
                char where[160];
                cnn__locate_nonfinite(net, bn, where, sizeof where);
                st = cnn__fail(err, CNN_ERR_DIVERGED, "train: diverged at epoch %d, batch %d of %d: loss %g, non-finite "
                               "values %s%s", epoch, b + 1, nbatches, loss, where,
                               best && r.best_epoch > 0 ? "; the best epoch's weights are restored" : "");
                goto restore;
            }
            sum_loss += loss * bn;
            correct += (size_t)ok;
            if (o->on_batch) o->on_batch(epoch, b + 1, nbatches, loss, o->user);
        }
        memset(&info, 0, sizeof info);
        info.epoch = epoch;
        info.epochs = o->epochs;
        info.loss = sum_loss / (double)ntrain;
        info.acc = (double)correct / (double)ntrain;
        info.val_loss = info.val_acc = NAN;
        if (nval && (st = cnn_net_evaluate(net, x + ntrain * in_size, y + ntrain, nval, o->batch, &info.val_acc,
                                           &info.val_loss, err)))
            goto done;
        {
            const double monitored = nval ? info.val_loss : info.loss;
            if (!cnn__finite(monitored)) {
                char where[160];
                cnn__locate_nonfinite(net, net->last_n, where, sizeof where);
                st = cnn__fail(err, CNN_ERR_DIVERGED, "train: diverged at epoch %d: %s loss %g, non-finite values %s%s",
                               epoch, nval ? "validation" : "training", monitored, where,
                               best && r.best_epoch > 0 ? "; the best epoch's weights are restored" : "");
                goto restore;
            }
            if (monitored < best_loss - o->min_delta) {
                best_loss = monitored;
                r.best_epoch = epoch;
                wait = 0;
                info.improved = 1;
                if (best) {
                    memcpy(best, net->params, net->nparams * sizeof(float));
                    memcpy(best + net->nparams, net->state, net->nstate * sizeof(float));
                }
            } else {
                wait++;
            }
        }
        info.best_epoch = r.best_epoch;
        info.wait = wait;
        r.epochs_run = epoch;
        r.best_loss = best_loss;
        /* the hook runs before the checkpoint is written: whatever it records for epoch k is
           there when a checkpoint of epoch k exists (a resumed run may repeat it, never skip it) */
        if (o->on_epoch && o->on_epoch(&info, o->user)) r.stopped_early = 2;
#ifndef CNN_NO_STDIO
        if (o->checkpoint) {
            cnn__run run;
            run.epoch = epoch; run.best_epoch = r.best_epoch; run.wait = wait; run.best_loss = best_loss;
            run.rng = rng; run.adam = adam; run.idx = idx; run.best = r.best_epoch > 0 ? best : NULL;
            if ((st = cnn__ckpt_write(o->checkpoint, net, o, n, ntrain, &run, err))) goto done;
        }
#endif
        if (r.stopped_early == 2) break;
        if (o->patience > 0 && wait >= o->patience) { r.stopped_early = 1; break; }
    }
    cnn__ok(err);
restore:
    if (best && r.best_epoch > 0) {   /* back to the weights of the best epoch */
        memcpy(net->params, best, net->nparams * sizeof(float));
        memcpy(net->state, best + net->nparams, net->nstate * sizeof(float));
    }
done:
    cnn_net_set_training(net, 0, NULL);
    if (res) *res = r;
    CNN_FREE(idx); CNN_FREE(bx); CNN_FREE(by); CNN_FREE(best);
    return st;
}

/* >>study implementation: the table of the study, verbatim, with the figures it reports */
static const cnn_study_row cnn__study[CNN_STUDY_MODELS] = {
#define CNN__BASE2 " (32, (2,2), (1,1), 'relu', 0.2, 2, 'max')"
    { 1, "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.961f, 0.921f, 0.134f, 0.227f},
    { 2, "(32, (3,3), (1,1), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.953f, 0.922f, 0.155f, 0.225f},
    { 3, "(128, (3,3), (1,1), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.96f, 0.923f, 0.129f, 0.226f},
    { 4, "(256, (3,3), (1,1), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.956f, 0.922f, 0.14f, 0.232f},
    { 5, "(64, (2,2), (1,1), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.95f, 0.915f, 0.155f, 0.242f},
    { 6, "(64, (5,5), (1,1), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.955f, 0.909f, 0.143f, 0.252f},
    { 7, "(64, (7,7), (1,1), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.947f, 0.915f, 0.165f, 0.241f},
    { 8, "(64, (3,3), (1,1), 'sigmoid', 0.2, 2, 'max')" CNN__BASE2, 0.878f, 0.865f, 0.326f, 0.367f},
    { 9, "(64, (3,3), (1,1), 'tanh', 0.2, 2, 'max')" CNN__BASE2, 0.945f, 0.918f, 0.165f, 0.232f},
    {10, "(64, (3,3), (2,2), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.906f, 0.88f, 0.278f, 0.342f},
    {11, "(64, (3,3), (5,5), 'relu', 0.2, 2, 'max')" CNN__BASE2, 0.856f, 0.837f, 0.418f, 0.461f},
    {12, "(64, (3,3), (1,1), 'relu', 0, 2, 'max')" CNN__BASE2, 0.956f, 0.917f, 0.132f, 0.239f},
    {13, "(64, (3,3), (1,1), 'relu', 0.5, 2, 'max')" CNN__BASE2, 0.926f, 0.904f, 0.25f, 0.295f},
    {14, "(64, (3,3), (1,1), 'relu', 0.1, 2, 'max')" CNN__BASE2, 0.956f, 0.917f, 0.132f, 0.235f},
    {15, "(64, (3,3), (1,1), 'relu', 0.8, 2, 'max')" CNN__BASE2, 0.873f, 0.861f, 0.395f, 0.422f},
    {16, "(64, (3,3), (1,1), 'relu', 0.2, 1, 'max')" CNN__BASE2, 0.958f, 0.916f, 0.132f, 0.241f},
    {17, "(64, (3,3), (1,1), 'relu', 0.2, 5, 'max')" CNN__BASE2, 0.926f, 0.895f, 0.218f, 0.287f},
    {18, "(64, (3,3), (1,1), 'relu', 0.2, 2, 'average')" CNN__BASE2, 0.96f, 0.918f, 0.124f, 0.233f},
    {19, "(64, (3,3), (1,1), 'relu', 0.2, 2, 'min')" CNN__BASE2, 0.964f, 0.919f, 0.11f, 0.231f},
    {20, "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max') (16, (2,2), (1,1), 'relu', 0.2, 2, 'max')", 0.943f, 0.918f, 0.177f, 0.239f},
    {21, "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max') (16, (2,2), (1,1), 'relu', 0.2, 2, 'average')", 0.958f, 0.923f, 0.125f, 0.229f},
    {22, "(64, (3,3), (1,1), 'relu', 0.2, 2, 'max')", 0.962f, 0.91f, 0.114f, 0.271f},
#undef CNN__BASE2
};

CNN_API const cnn_study_row *cnn_study_row_get(int model)
{
    return model >= 1 && model <= CNN_STUDY_MODELS ? &cnn__study[model - 1] : NULL;
}

CNN_API cnn_status cnn_study_desc(cnn_net_desc *d, int model, cnn_error *err)
{
    const cnn_study_row *row = cnn_study_row_get(model);
    cnn_net_desc_init(d, 1, 28, 28, 10);
    if (!row) return cnn__fail(err, CNN_ERR_ARG, "study: model %d does not exist (the study has 1..%d)", model, CNN_STUDY_MODELS);
    return cnn_net_desc_parse(d, row->spec, err);
}

CNN_API const char *cnn_fashion_class_name(int label)
{
    static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    return label >= 0 && label < 10 ? names[label] : "?";
}


/* >>gzip  DEFLATE and gzip decoding ------------------------------------------------------

   A gzip file (RFC 1952) is one or more "members"; each is a header (magic 1f 8b, method 8,
   flags, optional extra/name/comment/header-CRC fields), a DEFLATE stream (RFC 1951), and an
   8-byte trailer: the CRC-32 and the length (mod 2^32) of the decoded bytes.

   A DEFLATE stream is a sequence of blocks. Each starts with 3 bits: BFINAL (last block?)
   and BTYPE: 0 stored (raw bytes after a length and its complement), 1 Huffman-coded with
   the fixed codes of the RFC, 2 Huffman-coded with codes sent at the start of the block,
   3 reserved (an error). The Huffman-coded blocks are a stream of symbols: 0..255 a literal
   byte, 256 end of block, 257..285 a length 3..258 that, together with a distance 1..32768
   sent right after, says "copy length bytes from distance bytes back in the output".

   Bits are read least significant first from each byte; Huffman codes are packed starting
   from their most significant bit. The codes are "canonical": only each symbol's code
   length is sent, and codes of the same length are consecutive integers in symbol order.

   Decoding speed comes from a lookup table: the next CNN__FAST_BITS input bits index
   `fast`, whose entry gives the symbol and its code length directly when the code is that
   short (almost every code in practice). Longer codes fall back to walking the canonical
   code one bit at a time, which needs only the count of codes of each length.

   The whole output lives in one flat buffer, which is also the window that back-references
   copy from; its size is fixed by the caller, and running out of it is reported, never
   grown. */

/* ---- CRC-32 (polynomial 0xEDB88320, bits reflected, as in gzip, zip and PNG) ----

   t[0][b] is the CRC register's change for the byte b: the classic byte-at-a-time table.
   t[k][b] is the same for b followed by k zero bytes, so 8 bytes can be folded in with 8
   independent lookups ("slicing by 8"), about 4x faster than one byte at a time. */

typedef struct cnn__crc_tables { uint32_t t[8][256]; } cnn__crc_tables;

static void cnn__crc32_init(cnn__crc_tables *ct)
{
    uint32_t n, k, c;
    for (n = 0; n < 256; n++) {
        c = n;
        for (k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        ct->t[0][n] = c;
    }
    for (k = 1; k < 8; k++)
        for (n = 0; n < 256; n++)
            ct->t[k][n] = (ct->t[k - 1][n] >> 8) ^ ct->t[0][ct->t[k - 1][n] & 0xFF];
}

static uint32_t cnn__le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t cnn__crc32_update(const cnn__crc_tables *ct, uint32_t crc,
                                  const unsigned char *p, size_t n)
{
    const uint32_t (*t)[256] = ct->t;
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = crc ^ cnn__le32(p), hi = cnn__le32(p + 4);
        crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^
              t[4][lo >> 24] ^ t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^
              t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    }
    while (n--) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

CNN_API uint32_t cnn_crc32(uint32_t crc, const void *data, size_t n)
{
    cnn__crc_tables ct;                   /* built per call: no shared state, thread safe */
    if (n == 0) return crc;
    cnn__crc32_init(&ct);
    return cnn__crc32_update(&ct, crc, (const unsigned char *)data, n);
}

#define CNN__FAST_BITS 10
#define CNN__MAX_CODE_BITS 15

typedef struct cnn__huff {
    uint16_t fast[1 << CNN__FAST_BITS]; /* (code length << 9) | symbol; 0: not a short code */
    uint16_t count[CNN__MAX_CODE_BITS + 1]; /* count[len]: how many codes have that length */
    uint16_t sym[288];                  /* symbols ordered by (code length, symbol value)  */
} cnn__huff;

typedef struct cnn__inflate {
    const unsigned char *in;    /* the compressed input                                     */
    size_t in_size;
    size_t pos;                 /* next input byte to load into bitbuf                      */
    uint64_t bitbuf;            /* loaded but unconsumed bits; the next bit is bit 0        */
    unsigned bitcnt;            /* how many of its bits count; above them: 0, or look-ahead
                                   bits of the byte at pos (see cnn__refill)                */
    unsigned char *out;         /* the output, which is also the window                     */
    size_t out_cap;
    size_t out_len;
    size_t member_start;        /* output offset where the current gzip member began        */
    int full;                   /* set when decoding stopped because out_cap was reached    */
    const char *name;           /* what we are decoding, for messages                       */
    cnn_error *err;
    int fixed_ready;            /* fixed_lit/fixed_dist built yet?                          */
    cnn__huff lit, dist, fixed_lit, fixed_dist;
    cnn__crc_tables crc;        /* tables for the trailer's CRC-32                          */
} cnn__inflate;

/* ---- the bit reader ---- */

/* Offset of the input byte holding the next unread bit, for messages. */
static size_t cnn__in_at(const cnn__inflate *s) { return s->pos - s->bitcnt / 8; }

/* Top bitbuf up to at least 56 bits, or with all that is left of the input. */
static inline void cnn__refill(cnn__inflate *s)
{
    if (s->bitcnt >= 56) return;
    if (s->in_size - s->pos >= 8) {
        /* Fast path: OR in 8 input bytes at once, then count only the whole bytes that fit
           (bitcnt becomes 56..63). Bits of a byte that did not fit may now sit above
           bitcnt; they are that byte's own bits, so OR-ing it in again later changes
           nothing. */
        const unsigned char *p = s->in + s->pos;
        uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                     (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                     (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        s->bitbuf |= w << s->bitcnt;
        s->pos += (63 - s->bitcnt) >> 3;
        s->bitcnt |= 56;
        return;
    }
    while (s->bitcnt <= 56 && s->pos < s->in_size) {      /* near the end: byte by byte */
        s->bitbuf |= (uint64_t)s->in[s->pos++] << s->bitcnt;
        s->bitcnt += 8;
    }
}

static cnn_status cnn__truncated(cnn__inflate *s, const char *where)
{
    return cnn__fail(s->err, CNN_ERR_TRUNCATED,
                     "%s: truncated: input ends (%zu bytes) inside %s", s->name, s->in_size,
                     where);
}

/* Take the next n (0..16) bits as an unsigned number, first bit least significant. */
static inline cnn_status cnn__getbits(cnn__inflate *s, unsigned n, unsigned *v)
{
    cnn__refill(s);
    *v = 0;
    if (n > s->bitcnt) return cnn__truncated(s, "a DEFLATE block");
    *v = (unsigned)(s->bitbuf & (((uint64_t)1 << n) - 1));
    s->bitbuf >>= n;
    s->bitcnt -= n;
    return CNN_OK;
}

/* Stop because the output buffer is full. No message: the caller knows what full means
   (a limit for cnn_gzip_inflate, trailing data for an IDX file, success while peeking). */
static cnn_status cnn__out_full(cnn__inflate *s) { s->full = 1; return CNN_ERR_LIMIT; }

/* ---- Huffman tables ---- */

/* Reverse the low n bits of x: codes are sent most significant bit first, but the bit
   reader delivers bits least significant first. */
static unsigned cnn__bitrev(unsigned x, unsigned n)
{
    unsigned r = 0;
    while (n--) { r = (r << 1) | (x & 1); x >>= 1; }
    return r;
}

/* Build h for the canonical code whose symbol i has code length lens[i] (0 = unused),
   i < n. A valid code is complete: every bit pattern starts exactly one code. Two
   exceptions, as in zlib, where `sparse` is 1 or 2: a code of a single symbol of length 1
   (a block that uses one distance, RFC 1951 3.2.7, or only the end-of-block symbol), and,
   for sparse == 2, no code at all (a block of literals only needs no distance code). The
   code-length code (sparse == 0) has no exception. kind names the code in messages. */
static cnn_status cnn__huff_build(cnn__inflate *s, cnn__huff *h, const unsigned char *lens,
                                  unsigned n, const char *kind, int sparse)
{
    uint16_t offs[CNN__MAX_CODE_BITS + 2], next[CNN__MAX_CODE_BITS + 1];
    unsigned i, len, code, total = 0;
    long left = 1;       /* bit patterns of the current length not yet taken by a code */

    memset(h->count, 0, sizeof h->count);
    memset(h->fast, 0, sizeof h->fast);
    for (i = 0; i < n; i++) h->count[lens[i]]++;
    h->count[0] = 0;
    for (len = 1; len <= CNN__MAX_CODE_BITS; len++) {
        left = left * 2 - h->count[len];
        total += h->count[len];
        if (left < 0)
            return cnn__fail(s->err, CNN_ERR_DEFLATE,
                             "%s: bad DEFLATE stream: over-subscribed %s Huffman code (too "
                             "many codes of length %u), block header before input byte %zu",
                             s->name, kind, len, cnn__in_at(s));
    }
    if (left > 0 && !(sparse >= 1 && total == 1 && h->count[1] == 1) &&
        !(sparse == 2 && total == 0))
        return cnn__fail(s->err, CNN_ERR_DEFLATE,
                         "%s: bad DEFLATE stream: incomplete %s Huffman code (%u codes leave "
                         "bit patterns unused), block header before input byte %zu",
                         s->name, kind, total, cnn__in_at(s));

    /* symbols in canonical order: by length, then by value */
    offs[1] = 0;
    for (len = 1; len <= CNN__MAX_CODE_BITS; len++)
        offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
    for (i = 0; i < n; i++)
        if (lens[i]) h->sym[offs[lens[i]]++] = (uint16_t)i;

    /* first code of each length (RFC 1951 3.2.2), then the fast table for the short codes:
       a code of length len fills every entry whose low len bits are the code (reversed) */
    code = 0;
    for (len = 1; len <= CNN__MAX_CODE_BITS; len++) {
        code = (code + (len > 1 ? h->count[len - 1] : 0)) << 1;
        next[len] = (uint16_t)code;
    }
    for (i = 0; i < n; i++) {
        unsigned k, step;
        len = lens[i];
        if (len == 0) continue;
        code = next[len]++;
        if (len > CNN__FAST_BITS) continue;
        step = 1u << len;
        for (k = cnn__bitrev(code, len); k < (1u << CNN__FAST_BITS); k += step)
            h->fast[k] = (uint16_t)(len << 9 | i);
    }
    return CNN_OK;
}

/* Read one symbol of code h: the slow way, for codes longer than CNN__FAST_BITS. Walks the
   canonical code: the codes of length len are the integers first .. first+count[len]-1,
   and they stand for the symbols sym[index ...]. */
static cnn_status cnn__huff_slow(cnn__inflate *s, const cnn__huff *h, const char *kind,
                                 unsigned *sym)
{
    unsigned len, code = 0, first = 0, index = 0;
    unsigned bits = (unsigned)(s->bitbuf & ((1u << CNN__MAX_CODE_BITS) - 1));
    for (len = 1; len <= CNN__MAX_CODE_BITS; len++) {
        code |= (bits >> (len - 1)) & 1;
        if (code - first < h->count[len]) {
            if (len > s->bitcnt) return cnn__truncated(s, "a DEFLATE block");
            s->bitbuf >>= len;
            s->bitcnt -= len;
            *sym = h->sym[index + (code - first)];
            return CNN_OK;
        }
        index += h->count[len];
        first = (first + h->count[len]) << 1;
        code <<= 1;
    }
    if (s->bitcnt < CNN__MAX_CODE_BITS) return cnn__truncated(s, "a DEFLATE block");
    return cnn__fail(s->err, CNN_ERR_DEFLATE,
                     "%s: bad DEFLATE stream: no %s code matches the bits at input byte %zu",
                     s->name, kind, cnn__in_at(s));
}

/* Read one symbol of code h: one table lookup for the short codes. Past the end of the
   input bitbuf holds zeros, so a lookup there is harmless; the code's length is checked
   against the bits really present before it is taken. */
static inline cnn_status cnn__huff_decode(cnn__inflate *s, const cnn__huff *h,
                                          const char *kind, unsigned *sym)
{
    unsigned e, len;
    cnn__refill(s);
    *sym = 0;
    e = h->fast[s->bitbuf & ((1u << CNN__FAST_BITS) - 1)];
    if (e == 0) return cnn__huff_slow(s, h, kind, sym);
    len = e >> 9;
    if (len > s->bitcnt) return cnn__truncated(s, "a DEFLATE block");
    s->bitbuf >>= len;
    s->bitcnt -= len;
    *sym = e & 0x1FF;
    return CNN_OK;
}

/* ---- blocks ---- */

/* Decode literal/length and distance symbols until end of block (BTYPE 1 and 2). */
static cnn_status cnn__inflate_codes(cnn__inflate *s, const cnn__huff *lit, const cnn__huff *dist)
{
    /* lengths 3..258 for symbols 257..285: base and number of extra bits (RFC 1951 3.2.5) */
    static const uint16_t len_base[29] = {
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
        35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
    static const unsigned char len_extra[29] = {
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
    /* distances 1..32768 for symbols 0..29 */
    static const uint16_t dist_base[30] = {
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
        1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };
    static const unsigned char dist_extra[30] = {
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11,
        12, 12, 13, 13 };
    cnn_status st;
    for (;;) {
        unsigned sym, extra, length, distance, i;
        unsigned char *to;
        const unsigned char *from;
        if ((st = cnn__huff_decode(s, lit, "literal/length", &sym)) != CNN_OK) return st;
        if (sym < 256) {                                       /* a literal byte */
            if (s->out_len == s->out_cap) return cnn__out_full(s);
            s->out[s->out_len++] = (unsigned char)sym;
            continue;
        }
        if (sym == 256) return CNN_OK;                         /* end of block */
        sym -= 257;
        if (sym >= 29)
            return cnn__fail(s->err, CNN_ERR_DEFLATE,
                             "%s: bad DEFLATE stream: invalid length symbol %u before input "
                             "byte %zu", s->name, sym + 257, cnn__in_at(s));
        if ((st = cnn__getbits(s, len_extra[sym], &extra)) != CNN_OK) return st;
        length = len_base[sym] + extra;
        if ((st = cnn__huff_decode(s, dist, "distance", &sym)) != CNN_OK) return st;
        if (sym >= 30)
            return cnn__fail(s->err, CNN_ERR_DEFLATE,
                             "%s: bad DEFLATE stream: invalid distance symbol %u before input "
                             "byte %zu", s->name, sym, cnn__in_at(s));
        if ((st = cnn__getbits(s, dist_extra[sym], &extra)) != CNN_OK) return st;
        distance = dist_base[sym] + extra;
        if (distance > s->out_len - s->member_start)
            return cnn__fail(s->err, CNN_ERR_DEFLATE,
                             "%s: bad DEFLATE stream: distance %u too far back, only %zu bytes "
                             "decoded (before input byte %zu)", s->name, distance,
                             s->out_len - s->member_start, cnn__in_at(s));
        if (length > s->out_cap - s->out_len) {
            length = (unsigned)(s->out_cap - s->out_len);
            s->full = 1;
        }
        /* When distance < length, source and destination overlap: that is how a run like
           "aaaa..." is sent (distance 1), and it must be copied byte by byte, front to back,
           so that each byte copied becomes a source. Otherwise memcpy is safe. */
        to = s->out + s->out_len;
        from = to - distance;
        if (distance >= length) memcpy(to, from, length);
        else for (i = 0; i < length; i++) to[i] = from[i];
        s->out_len += length;
        if (s->full) return CNN_ERR_LIMIT;
    }
}

/* BTYPE 0: skip to a byte boundary, LEN, NLEN = ~LEN, then LEN raw bytes. */
static cnn_status cnn__inflate_stored(cnn__inflate *s)
{
    unsigned len, nlen;
    size_t room, have;
    cnn_status st;
    s->bitbuf >>= s->bitcnt % 8;                  /* the rest of the current byte is padding */
    s->bitcnt -= s->bitcnt % 8;
    if ((st = cnn__getbits(s, 16, &len)) != CNN_OK) return st;
    if ((st = cnn__getbits(s, 16, &nlen)) != CNN_OK) return st;
    if (len != (~nlen & 0xFFFFu))
        return cnn__fail(s->err, CNN_ERR_DEFLATE,
                         "%s: bad DEFLATE stream: stored block length %u does not match its "
                         "complement 0x%04x (block before input byte %zu)", s->name, len, nlen,
                         cnn__in_at(s));
    while (len > 0 && s->bitcnt > 0) {            /* bytes the bit reader already holds */
        if (s->out_len == s->out_cap) return cnn__out_full(s);
        s->out[s->out_len++] = (unsigned char)(s->bitbuf & 0xFF);
        s->bitbuf >>= 8;
        s->bitcnt -= 8;
        len--;
    }
    if (len == 0) return CNN_OK;
    /* then straight from the input; bitbuf may still hold look-ahead bits of the byte at
       s->pos (see cnn__refill), which the copy consumes, so they must go */
    s->bitbuf = 0;
    have = s->in_size - s->pos;
    room = s->out_cap - s->out_len;
    if (len > have && have < room) {
        return cnn__fail(s->err, CNN_ERR_TRUNCATED,
                         "%s: truncated: stored block needs %u bytes at input byte %zu, %zu "
                         "present", s->name, len, s->pos, have);
    }
    if (len > room) {
        memcpy(s->out + s->out_len, s->in + s->pos, room);
        s->out_len += room;
        s->pos += room;
        return cnn__out_full(s);
    }
    memcpy(s->out + s->out_len, s->in + s->pos, len);
    s->out_len += len;
    s->pos += len;
    return CNN_OK;
}

/* BTYPE 1: the fixed codes of RFC 1951 3.2.6, built once per decode. */
static cnn_status cnn__inflate_fixed(cnn__inflate *s)
{
    if (!s->fixed_ready) {
        unsigned char lens[288];
        unsigned i;
        cnn_status st;
        for (i = 0; i < 144; i++) lens[i] = 8;
        for (; i < 256; i++) lens[i] = 9;
        for (; i < 280; i++) lens[i] = 7;
        for (; i < 288; i++) lens[i] = 8;
        st = cnn__huff_build(s, &s->fixed_lit, lens, 288, "fixed literal/length", 0);
        if (st != CNN_OK) return st;
        for (i = 0; i < 32; i++) lens[i] = 5;   /* 30 and 31 exist as codes but are invalid */
        st = cnn__huff_build(s, &s->fixed_dist, lens, 32, "fixed distance", 0);
        if (st != CNN_OK) return st;
        s->fixed_ready = 1;
    }
    return cnn__inflate_codes(s, &s->fixed_lit, &s->fixed_dist);
}

/* BTYPE 2: the block starts with its codes (RFC 1951 3.2.7). The literal/length and
   distance code lengths are themselves Huffman-coded with a third, "code-length" code. */
static cnn_status cnn__inflate_dynamic(cnn__inflate *s)
{
    static const unsigned char order[19] = {
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 };
    unsigned char lens[286 + 30];
    unsigned hlit, hdist, hclen, i, n, sym, rep, v;
    unsigned char fill;
    cnn__huff cl;
    cnn_status st;

    if ((st = cnn__getbits(s, 5, &hlit)) != CNN_OK) return st;
    if ((st = cnn__getbits(s, 5, &hdist)) != CNN_OK) return st;
    if ((st = cnn__getbits(s, 4, &hclen)) != CNN_OK) return st;
    hlit += 257; hdist += 1; hclen += 4;
    if (hlit > 286 || hdist > 30)
        return cnn__fail(s->err, CNN_ERR_DEFLATE,
                         "%s: bad DEFLATE stream: block declares %u literal/length and %u "
                         "distance codes (at most 286 and 30), before input byte %zu",
                         s->name, hlit, hdist, cnn__in_at(s));

    memset(lens, 0, 19);
    for (i = 0; i < hclen; i++) {
        if ((st = cnn__getbits(s, 3, &v)) != CNN_OK) return st;
        lens[order[i]] = (unsigned char)v;
    }
    if ((st = cnn__huff_build(s, &cl, lens, 19, "code-length", 0)) != CNN_OK) return st;

    /* 0..15: a length; 16: repeat the previous length 3..6 times; 17: 3..10 zeros;
       18: 11..138 zeros. The runs may cross from the literal into the distance lengths. */
    n = 0;
    while (n < hlit + hdist) {
        if ((st = cnn__huff_decode(s, &cl, "code-length", &sym)) != CNN_OK) return st;
        if (sym < 16) { lens[n++] = (unsigned char)sym; continue; }
        if (sym == 16) {
            if (n == 0)
                return cnn__fail(s->err, CNN_ERR_DEFLATE,
                                 "%s: bad DEFLATE stream: repeat code 16 with no previous "
                                 "length, before input byte %zu", s->name, cnn__in_at(s));
            fill = lens[n - 1];
            if ((st = cnn__getbits(s, 2, &rep)) != CNN_OK) return st;
            rep += 3;
        } else if (sym == 17) {
            fill = 0;
            if ((st = cnn__getbits(s, 3, &rep)) != CNN_OK) return st;
            rep += 3;
        } else {
            fill = 0;
            if ((st = cnn__getbits(s, 7, &rep)) != CNN_OK) return st;
            rep += 11;
        }
        if (rep > hlit + hdist - n)
            return cnn__fail(s->err, CNN_ERR_DEFLATE,
                             "%s: bad DEFLATE stream: code-length repeat runs past the %u "
                             "lengths declared, before input byte %zu", s->name, hlit + hdist,
                             cnn__in_at(s));
        while (rep--) lens[n++] = fill;
    }
    if (lens[256] == 0)
        return cnn__fail(s->err, CNN_ERR_DEFLATE,
                         "%s: bad DEFLATE stream: the block's code has no end-of-block symbol, "
                         "before input byte %zu", s->name, cnn__in_at(s));
    if ((st = cnn__huff_build(s, &s->lit, lens, hlit, "literal/length", 1)) != CNN_OK) return st;
    if ((st = cnn__huff_build(s, &s->dist, lens + hlit, hdist, "distance", 2)) != CNN_OK) return st;
    return cnn__inflate_codes(s, &s->lit, &s->dist);
}

/* One whole DEFLATE stream from s->pos; afterwards s->pos is the byte after its end. */
static cnn_status cnn__inflate_stream(cnn__inflate *s)
{
    unsigned final = 0, type;
    cnn_status st;
    s->bitbuf = 0;
    s->bitcnt = 0;
    while (!final) {
        if ((st = cnn__getbits(s, 1, &final)) != CNN_OK) return st;
        if ((st = cnn__getbits(s, 2, &type)) != CNN_OK) return st;
        if (type == 0)      st = cnn__inflate_stored(s);
        else if (type == 1) st = cnn__inflate_fixed(s);
        else if (type == 2) st = cnn__inflate_dynamic(s);
        else
            return cnn__fail(s->err, CNN_ERR_DEFLATE,
                             "%s: bad DEFLATE stream: reserved block type 3 before input byte "
                             "%zu", s->name, cnn__in_at(s));
        if (st != CNN_OK) return st;
    }
    /* hand back the whole bytes the bit reader loaded beyond the stream's last bit */
    s->pos -= s->bitcnt / 8;
    s->bitbuf = 0;
    s->bitcnt = 0;
    return CNN_OK;
}

/* ---- gzip members ---- */

static cnn_status cnn__gzip_short(cnn__inflate *s, const char *what, size_t at, size_t need)
{
    return cnn__fail(s->err, CNN_ERR_TRUNCATED,
                     "%s: truncated: gzip %s at byte %zu needs %zu bytes, %zu present",
                     s->name, what, at, need, s->in_size - at);
}

/* One member: header, DEFLATE stream, trailer. s->pos is at its first byte. */
static cnn_status cnn__gzip_member(cnn__inflate *s)
{
    const unsigned char *p = s->in;
    size_t start = s->pos, i = s->pos, n = s->in_size, len;
    unsigned flags;
    uint32_t crc, size;
    cnn_status st;

    /* ID1 ID2 CM FLG MTIME(4) XFL OS */
    /* check the bytes that are there before asking for more: a short input that starts
       like a gzip header is truncated, one that does not is not gzip */
    if (n - i < 2 ? (n - i == 1 && p[i] != 0x1F) : (p[i] != 0x1F || p[i + 1] != 0x8B))
        return cnn__fail(s->err, CNN_ERR_GZIP_HEADER,
                         "%s: bad gzip header: magic %02x %02x at byte %zu, expected 1f 8b",
                         s->name, p[i], n - i > 1 ? p[i + 1] : 0, i);
    if (n - i > 2 && p[i + 2] != 8)
        return cnn__fail(s->err, CNN_ERR_GZIP_HEADER,
                         "%s: bad gzip header: compression method %u at byte %zu, only 8 "
                         "(deflate) is defined", s->name, p[i + 2], i + 2);
    if (n - i > 3 && (p[i + 3] & 0xE0))
        return cnn__fail(s->err, CNN_ERR_GZIP_HEADER,
                         "%s: bad gzip header: reserved flag bits 0x%02x set in byte %zu",
                         s->name, p[i + 3] & 0xE0, i + 3);
    if (n - i < 10) return cnn__gzip_short(s, "header", i, 10);
    flags = p[i + 3];
    i += 10;
    if (flags & 0x04) {                                        /* FEXTRA: XLEN, then data */
        if (n - i < 2) return cnn__gzip_short(s, "extra field length", i, 2);
        len = (size_t)p[i] | (size_t)p[i + 1] << 8;
        if (n - i - 2 < len) return cnn__gzip_short(s, "extra field", i, len + 2);
        i += 2 + len;
    }
    if (flags & 0x08) {                                        /* FNAME: zero-terminated */
        const unsigned char *z = (const unsigned char *)memchr(p + i, 0, n - i);
        if (!z) return cnn__fail(s->err, CNN_ERR_TRUNCATED,
                                 "%s: truncated: gzip file name from byte %zu has no end",
                                 s->name, i);
        i = (size_t)(z - p) + 1;
    }
    if (flags & 0x10) {                                        /* FCOMMENT: zero-terminated */
        const unsigned char *z = (const unsigned char *)memchr(p + i, 0, n - i);
        if (!z) return cnn__fail(s->err, CNN_ERR_TRUNCATED,
                                 "%s: truncated: gzip comment from byte %zu has no end",
                                 s->name, i);
        i = (size_t)(z - p) + 1;
    }
    if (flags & 0x02) {          /* FHCRC: low 16 bits of the CRC-32 of the header so far */
        unsigned want, got;
        if (n - i < 2) return cnn__gzip_short(s, "header CRC", i, 2);
        want = (unsigned)p[i] | (unsigned)p[i + 1] << 8;
        got = (unsigned)(cnn__crc32_update(&s->crc, 0, p + start, i - start) & 0xFFFF);
        if (want != got)
            return cnn__fail(s->err, CNN_ERR_GZIP_HEADER,
                             "%s: bad gzip header: header CRC-16 at byte %zu is 0x%04x, the "
                             "header's is 0x%04x", s->name, i, want, got);
        i += 2;
    }

    s->pos = i;
    s->member_start = s->out_len;
    if ((st = cnn__inflate_stream(s)) != CNN_OK) return st;

    if (n - s->pos < 8) return cnn__gzip_short(s, "trailer", s->pos, 8);
    crc = cnn__crc32_update(&s->crc, 0, s->out + s->member_start,
                            s->out_len - s->member_start);
    if (crc != cnn__le32(p + s->pos))
        return cnn__fail(s->err, CNN_ERR_CRC,
                         "%s: CRC-32 mismatch: the %zu decoded bytes have 0x%08lx, the trailer "
                         "at byte %zu says 0x%08lx", s->name, s->out_len - s->member_start,
                         (unsigned long)crc, s->pos, (unsigned long)cnn__le32(p + s->pos));
    size = (uint32_t)(s->out_len - s->member_start);    /* ISIZE is the length mod 2^32 */
    if (size != cnn__le32(p + s->pos + 4))
        return cnn__fail(s->err, CNN_ERR_LENGTH,
                         "%s: gzip length mismatch: %zu bytes decoded, the trailer at byte %zu "
                         "says %lu (mod 2^32)", s->name, s->out_len - s->member_start,
                         s->pos + 4, (unsigned long)cnn__le32(p + s->pos + 4));
    s->pos += 8;
    return CNN_OK;
}

/* Decode every member of in[0..in_size) into out[0..out_cap). Returns CNN_ERR_LIMIT with
   s->full set, and no message, when the output would pass out_cap. s can be used for one
   decode after another: the CRC and fixed-code tables are kept. */
static cnn_status cnn__gzip_run(cnn__inflate *s, const char *name, const unsigned char *in,
                                size_t in_size, unsigned char *out, size_t out_cap,
                                cnn_error *err)
{
    cnn_status st;
    s->in = in; s->in_size = in_size; s->pos = 0;
    s->bitbuf = 0; s->bitcnt = 0;
    s->out = out; s->out_cap = out_cap; s->out_len = 0;
    s->member_start = 0; s->full = 0;
    s->name = name; s->err = err;
    do {
        if ((st = cnn__gzip_member(s)) != CNN_OK) return st;
        /* RFC 1952 2.2: members may follow one another; anything else is garbage */
        if (s->pos < in_size && in[s->pos] == 0x1F &&
            (s->pos + 1 == in_size || in[s->pos + 1] == 0x8B))
            continue;
        if (s->pos < in_size)
            return cnn__fail(err, CNN_ERR_TRAILING,
                             "%s: %zu bytes of trailing garbage after the gzip data, from byte "
                             "%zu", name, in_size - s->pos, s->pos);
    } while (s->pos < in_size);
    return CNN_OK;
}

/* The decoder's state is about 19 KiB, so it lives on the heap rather than the stack. */
static cnn__inflate *cnn__inflate_new(const char *name, cnn_error *err)
{
    cnn__inflate *s = (cnn__inflate *)CNN_MALLOC(sizeof *s);
    if (!s) {
        cnn__fail(err, CNN_ERR_NOMEM, "%s: out of memory for the gzip decoder", name);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    cnn__crc32_init(&s->crc);
    return s;
}

CNN_API cnn_status cnn_gzip_inflate(const void *in, size_t in_size, void *out, size_t out_cap,
                                    size_t *out_size, cnn_error *err)
{
    static const unsigned char none[1] = { 0 };
    unsigned char dummy[1];
    cnn__inflate *s;
    cnn_status st;
    CNN_ASSERT(out_size != NULL);
    CNN_ASSERT(in != NULL || in_size == 0);
    CNN_ASSERT(out != NULL || out_cap == 0);
    *out_size = 0;
    if (!(s = cnn__inflate_new("gzip data", err))) return CNN_ERR_NOMEM;
    st = cnn__gzip_run(s, "gzip data", in ? (const unsigned char *)in : none, in_size,
                       out ? (unsigned char *)out : dummy, out ? out_cap : 0, err);
    if (st == CNN_ERR_LIMIT && s->full)
        st = cnn__fail(err, CNN_ERR_LIMIT,
                       "gzip data: decodes to more than the %zu-byte output buffer", out_cap);
    if (st == CNN_OK) {
        *out_size = s->out_len;
        cnn__ok(err);
    }
    CNN_FREE(s);
    return st;
}

/* >>idx  IDX files ---------------------------------------------------------------------- */

CNN_API cnn_limits cnn_limits_default(void)
{
    cnn_limits l;
    l.max_bytes = (size_t)1 << 30;
    l.max_file_bytes = l.max_bytes + l.max_bytes / 8 + ((size_t)1 << 20);
    l.max_dim = (size_t)1 << 30;
    return l;
}

/* lim with its zero fields (or all of it, for NULL) replaced by the defaults */
static cnn_limits cnn__limits(const cnn_limits *lim)
{
    cnn_limits d = cnn_limits_default(), r = d;
    if (!lim) return r;
    if (lim->max_bytes) r.max_bytes = lim->max_bytes;
    if (lim->max_dim) r.max_dim = lim->max_dim;
    if (lim->max_file_bytes) {
        r.max_file_bytes = lim->max_file_bytes;
    } else {                              /* follow max_bytes, saturating instead of wrapping */
        size_t extra = r.max_bytes / 8 + ((size_t)1 << 20);
        r.max_file_bytes = r.max_bytes > (size_t)-1 - extra ? (size_t)-1 : r.max_bytes + extra;
    }
    return r;
}

CNN_API const char *cnn_idx_type_name(int type)
{
    switch (type) {
    case CNN_IDX_U8:  return "ubyte";
    case CNN_IDX_I8:  return "byte";
    case CNN_IDX_I16: return "short";
    case CNN_IDX_I32: return "int";
    case CNN_IDX_F32: return "float";
    case CNN_IDX_F64: return "double";
    default:          return NULL;
    }
}

static size_t cnn__idx_elem_size(int type)
{
    switch (type) {
    case CNN_IDX_U8: case CNN_IDX_I8: return 1;
    case CNN_IDX_I16:                 return 2;
    case CNN_IDX_I32: case CNN_IDX_F32: return 4;
    case CNN_IDX_F64:                 return 8;
    default:                          return 0;
    }
}

CNN_API void cnn_idx_free(cnn_idx *idx)
{
    if (!idx) return;
    CNN_FREE(idx->data);
    memset(idx, 0, sizeof *idx);
}

/* Check the IDX header at h[0..have) (the start of a file, or of its decoded gzip data) and
   fill r's type, ndims, dims, count and elem_size. *hdr_len gets the header's size and
   *data_bytes the payload's; both are checked against the limits. `what` says what the
   bytes are for messages ("file" or "decoded data"). */
static cnn_status cnn__idx_header(const char *name, const char *what, const unsigned char *h,
                                  size_t have, const cnn_limits *lim, cnn_idx *r,
                                  size_t *hdr_len, size_t *data_bytes, cnn_error *err)
{
    size_t k, count = 1, bytes;
    int d, nd;
    if (have < 4) {       /* too short for a magic: truncated if what is there could be one */
        int could = (have < 1 || h[0] == 0) && (have < 2 || h[1] == 0) &&
                    (have < 3 || cnn__idx_elem_size(h[2]) != 0);
        if (could)
            return cnn__fail(err, CNN_ERR_TRUNCATED,
                             "%s: truncated: %s has %zu bytes, an IDX header needs at least 4",
                             name, what, have);
    }
    if (have < 2 || h[0] != 0 || h[1] != 0) {
        char found[16] = "";
        for (k = 0; k < have && k < 4; k++)
            snprintf(found + 3 * k, sizeof found - 3 * k, "%02x ", h[k]);
        if (k) found[3 * k - 1] = 0;
        return cnn__fail(err, CNN_ERR_NOT_IDX,
                         "%s: not an IDX file: %s starts with %s; IDX starts 00 00 <type> "
                         "<dims>, gzip 1f 8b", name, what, found);
    }
    r->type = h[2];
    r->elem_size = cnn__idx_elem_size(h[2]);
    if (r->elem_size == 0)
        return cnn__fail(err, CNN_ERR_IDX_TYPE,
                         "%s: unsupported IDX element type 0x%02x at byte 2; IDX types are 08 "
                         "ubyte, 09 byte, 0b short, 0c int, 0d float, 0e double", name, h[2]);
    nd = h[3];
    if (nd < 1 || nd > CNN_IDX_MAX_DIMS)
        return cnn__fail(err, CNN_ERR_IDX_DIMS,
                         "%s: IDX header byte 3 says %d dimensions; cnn.h reads 1 to %d", name,
                         nd, CNN_IDX_MAX_DIMS);
    r->ndims = nd;
    *hdr_len = 4 + 4 * (size_t)nd;
    if (have < *hdr_len)
        return cnn__fail(err, CNN_ERR_TRUNCATED,
                         "%s: truncated: an IDX header with %d dimensions needs %zu bytes, the "
                         "%s has %zu", name, nd, *hdr_len, what, have);
    for (d = 0; d < nd; d++) {
        const unsigned char *p = h + 4 + 4 * d;
        r->dims[d] = (size_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                              (uint32_t)p[2] << 8 | (uint32_t)p[3]);
    }
    /* overflow first (it is a property of the file), then the configured limits */
    for (d = 0; d < nd; d++)
        if (!cnn__mul_size(count, r->dims[d], &count))
            return cnn__fail(err, CNN_ERR_OVERFLOW,
                             "%s: IDX dimensions overflow size_t: the product of dimensions "
                             "0..%d passes %zu (dimension %d is %zu)", name, d, (size_t)-1, d,
                             r->dims[d]);
    if (!cnn__mul_size(count, r->elem_size, &bytes))
        return cnn__fail(err, CNN_ERR_OVERFLOW,
                         "%s: IDX size overflows size_t: %zu elements of %zu bytes", name,
                         count, r->elem_size);
    for (d = 0; d < nd; d++)
        if (r->dims[d] > lim->max_dim)
            return cnn__fail(err, CNN_ERR_LIMIT,
                             "%s: IDX dimension %d is %zu (header byte %d), over the limit %zu "
                             "(cnn_limits.max_dim)", name, d, r->dims[d], 4 + 4 * d,
                             lim->max_dim);
    if (bytes > lim->max_bytes)
        return cnn__fail(err, CNN_ERR_LIMIT,
                         "%s: IDX data of %zu bytes is over the limit of %zu "
                         "(cnn_limits.max_bytes)", name, bytes, lim->max_bytes);
    r->count = count;
    *data_bytes = bytes;
    return CNN_OK;
}

/* IDX stores elements big-endian; turn them into the host's order in place. */
static void cnn__idx_to_host(cnn_idx *r)
{
    const uint16_t one = 1;
    unsigned char *p = (unsigned char *)r->data, t;
    size_t i, j, n = r->elem_size;
    if (n == 1 || *(const unsigned char *)&one == 0) return;   /* bytes, or a big-endian host */
    for (i = 0; i < r->count; i++, p += n)
        for (j = 0; j < n / 2; j++) { t = p[j]; p[j] = p[n - 1 - j]; p[n - 1 - j] = t; }
}

/* Decode an IDX file in buf[0..size). When owned is not NULL it is buf itself, allocated
   with CNN_MALLOC, and this function takes it: it either becomes out->data or is freed. */
static cnn_status cnn__idx_decode(const char *name, const unsigned char *buf, size_t size,
                                  unsigned char *owned, const cnn_limits *lim_in, cnn_idx *out,
                                  cnn_error *err)
{
    cnn_limits lim = cnn__limits(lim_in);
    cnn_idx r;
    size_t hdr_len = 0, data_bytes = 0, total;
    unsigned char *mem = NULL;
    cnn__inflate *z = NULL;
    cnn_status st;

    memset(&r, 0, sizeof r);
    memset(out, 0, sizeof *out);

    if (size >= 1 && buf[0] == 0x1F && (size == 1 || buf[1] == 0x8B)) {
        /* gzip. Pass 1 decodes only the IDX header (the decoder stops when its small buffer
           is full), which says how large the data is. Pass 2 decodes everything into a
           buffer of exactly that size, so the stream cannot make us allocate more, and a
           stream that decodes to more or fewer bytes is an error. */
        unsigned char head[4 + 4 * CNN_IDX_MAX_DIMS];
        r.gzipped = 1;
        if (!(z = cnn__inflate_new(name, err))) { st = CNN_ERR_NOMEM; goto fail; }
        st = cnn__gzip_run(z, name, buf, size, head, sizeof head, err);
        if (st != CNN_OK && !(st == CNN_ERR_LIMIT && z->full)) goto fail;
        if ((st = cnn__idx_header(name, "decoded data", head, z->out_len, &lim, &r, &hdr_len,
                                  &data_bytes, err)) != CNN_OK) goto fail;
        if (data_bytes > (size_t)-1 - hdr_len) {
            st = cnn__fail(err, CNN_ERR_OVERFLOW, "%s: IDX size overflows size_t", name);
            goto fail;
        }
        total = hdr_len + data_bytes;
        mem = (unsigned char *)CNN_MALLOC(total);
        if (!mem) {
            st = cnn__fail(err, CNN_ERR_NOMEM, "%s: out of memory for %zu decoded bytes",
                           name, total);
            goto fail;
        }
        st = cnn__gzip_run(z, name, buf, size, mem, total, err);
        if (st == CNN_ERR_LIMIT && z->full) {
            st = cnn__fail(err, CNN_ERR_TRAILING,
                           "%s: trailing data: the gzip stream decodes to more than the %zu "
                           "bytes (header %zu + data %zu) the IDX header announces", name,
                           total, hdr_len, data_bytes);
            goto fail;
        }
        if (st != CNN_OK) goto fail;
        if (z->out_len < total) {
            st = cnn__fail(err, CNN_ERR_TRUNCATED,
                           "%s: truncated: IDX header says %zu data bytes, the gzip stream "
                           "holds %zu", name, data_bytes, z->out_len - hdr_len);
            goto fail;
        }
        memmove(mem, mem + hdr_len, data_bytes);
        CNN_FREE(z);
        z = NULL;
        CNN_FREE(owned);
        owned = NULL;
    } else {
        /* plain IDX: the header, then exactly data_bytes bytes */
        if ((st = cnn__idx_header(name, "file", buf, size, &lim, &r, &hdr_len, &data_bytes,
                                  err)) != CNN_OK) goto fail;
        if (size - hdr_len < data_bytes) {
            st = cnn__fail(err, CNN_ERR_TRUNCATED,
                           "%s: truncated: IDX header says %zu data bytes, %zu present", name,
                           data_bytes, size - hdr_len);
            goto fail;
        }
        if (size - hdr_len > data_bytes) {
            st = cnn__fail(err, CNN_ERR_TRAILING,
                           "%s: %zu trailing bytes after the %zu data bytes the IDX header "
                           "announces (from byte %zu)", name, size - hdr_len - data_bytes,
                           data_bytes, hdr_len + data_bytes);
            goto fail;
        }
        if (owned) {                  /* reuse the file's buffer: move the data to its start */
            mem = owned;
            owned = NULL;
        } else {
            mem = (unsigned char *)CNN_MALLOC(data_bytes ? data_bytes : 1);
            if (!mem) {
                st = cnn__fail(err, CNN_ERR_NOMEM, "%s: out of memory for %zu bytes", name,
                               data_bytes);
                goto fail;
            }
        }
        memmove(mem, buf + hdr_len, data_bytes);
    }
    r.data = mem;
    cnn__idx_to_host(&r);
    *out = r;
    cnn__ok(err);
    return CNN_OK;

fail:
    CNN_FREE(z);
    CNN_FREE(mem);
    CNN_FREE(owned);
    return st;
}

CNN_API cnn_status cnn_idx_read_mem(const void *data, size_t size, const cnn_limits *lim,
                                    cnn_idx *out, cnn_error *err)
{
    static const unsigned char none[1] = { 0 };
    CNN_ASSERT(out != NULL);
    CNN_ASSERT(data != NULL || size == 0);
    return cnn__idx_decode("IDX data", data ? (const unsigned char *)data : none, size, NULL,
                           lim, out, err);
}

#ifndef CNN_NO_STDIO
/* Read a whole file, at most cap bytes, into a CNN_MALLOC'd buffer. */
static cnn_status cnn__read_file(const char *path, size_t cap, unsigned char **buf_out,
                                 size_t *len_out, cnn_error *err)
{
    FILE *f;
    unsigned char *buf = NULL, *nb;
    size_t len = 0, capacity = 1 << 16, got;
    long hint;
    int c;
    cnn_status st = CNN_OK;

    *buf_out = NULL;
    *len_out = 0;
    f = fopen(path, "rb");
    if (!f)
        return cnn__fail(err, CNN_ERR_OPEN, "%s: cannot open: %s", path, strerror(errno));
    /* a first read tells a file that cannot be read (a directory, say) from a large one */
    c = fgetc(f);
    if (c == EOF && ferror(f)) {
        st = cnn__fail(err, CNN_ERR_READ, "%s: read error: %s", path, strerror(errno));
        fclose(f);
        return st;
    }
    if (c != EOF) ungetc(c, f);
    /* the size of a seekable file is a hint for the first allocation, and a file over the
       limit is refused before reading it; a pipe is read until its end or the limit */
    if (fseek(f, 0, SEEK_END) == 0) {
        hint = ftell(f);
        if (fseek(f, 0, SEEK_SET) != 0) {
            st = cnn__fail(err, CNN_ERR_READ, "%s: cannot seek back to the start", path);
            fclose(f);
            return st;
        }
        if (hint >= 0 && (unsigned long)hint > cap) {
            fclose(f);
            return cnn__fail(err, CNN_ERR_LIMIT,
                             "%s: file of %ld bytes is over the limit of %zu "
                             "(cnn_limits.max_file_bytes)", path, hint, cap);
        }
        if (hint >= 0) capacity = (size_t)hint + 1;   /* one more, to see the end of file */
    }
    if (capacity > cap && cap < (size_t)-1) capacity = cap + 1;
    buf = (unsigned char *)CNN_MALLOC(capacity);
    if (!buf) {
        st = cnn__fail(err, CNN_ERR_NOMEM, "%s: out of memory for %zu bytes", path, capacity);
        goto done;
    }
    for (;;) {
        if (len == capacity) {            /* grow: double, but never past cap + 1 bytes */
            size_t want = capacity <= ((size_t)-1) / 2 ? capacity * 2 : (size_t)-1;
            if (len > cap) break;
            if (want > cap && cap < (size_t)-1) want = cap + 1;
            nb = (unsigned char *)CNN_REALLOC(buf, want);
            if (!nb) {
                st = cnn__fail(err, CNN_ERR_NOMEM, "%s: out of memory for %zu bytes", path,
                               want);
                goto done;
            }
            buf = nb;
            capacity = want;
        }
        got = fread(buf + len, 1, capacity - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = cnn__fail(err, CNN_ERR_READ, "%s: read error after %zu bytes: %s", path,
                               len, strerror(errno));
            break;
        }
    }
    if (len > cap)
        st = cnn__fail(err, CNN_ERR_LIMIT,
                       "%s: file is over the limit of %zu bytes (cnn_limits.max_file_bytes)",
                       path, cap);
done:
    fclose(f);
    if (st != CNN_OK) { CNN_FREE(buf); return st; }
    *buf_out = buf;
    *len_out = len;
    return CNN_OK;
}

CNN_API cnn_status cnn_idx_read_file(const char *path, const cnn_limits *lim, cnn_idx *out,
                                     cnn_error *err)
{
    cnn_limits l = cnn__limits(lim);
    unsigned char *buf;
    size_t len;
    cnn_status st;
    CNN_ASSERT(path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if ((st = cnn__read_file(path, l.max_file_bytes, &buf, &len, err)) != CNN_OK) return st;
    return cnn__idx_decode(path, buf, len, buf, &l, out, err);    /* takes buf */
}
#endif /* CNN_NO_STDIO */

/* >>dataset ------------------------------------------------------------------------------ */

CNN_API void cnn_dataset_free(cnn_dataset *ds)
{
    if (!ds) return;
    CNN_FREE(ds->x);
    CNN_FREE(ds->y);
    memset(ds, 0, sizeof *ds);
}

static cnn_status cnn__dataset_make(const cnn_idx *im, const cnn_idx *lb, const char *im_name,
                                    const char *lb_name, int classes, const cnn_limits *lim_in,
                                    cnn_dataset *out, cnn_error *err)
{
    cnn_limits lim = cnn__limits(lim_in);
    const unsigned char *px = (const unsigned char *)im->data;
    const unsigned char *lab = (const unsigned char *)lb->data;
    size_t n, i, xbytes, ybytes;
    float scale[256];
    int top = -1;
    cnn_dataset d;

    memset(out, 0, sizeof *out);
    if (im->type != CNN_IDX_U8 || lb->type != CNN_IDX_U8) {
        const cnn_idx *bad = im->type != CNN_IDX_U8 ? im : lb;
        const char *tn = cnn_idx_type_name(bad->type);
        return cnn__fail(err, CNN_ERR_IDX_TYPE,
                         "%s: element type %s (0x%02x); a data set needs ubyte (0x08) images "
                         "and labels", bad == im ? im_name : lb_name, tn ? tn : "?", bad->type);
    }
    if (im->ndims != 3)
        return cnn__fail(err, CNN_ERR_IDX_DIMS,
                         "%s: images have %d dimensions, expected 3 (N, H, W)", im_name,
                         im->ndims);
    if (lb->ndims != 1)
        return cnn__fail(err, CNN_ERR_IDX_DIMS,
                         "%s: labels have %d dimensions, expected 1 (N)", lb_name, lb->ndims);
    n = im->dims[0];
    if (lb->dims[0] != n)
        return cnn__fail(err, CNN_ERR_COUNT_MISMATCH,
                         "%s has %zu images but %s has %zu labels", im_name, n, lb_name,
                         lb->dims[0]);
    if (im->dims[1] > (size_t)INT_MAX || im->dims[2] > (size_t)INT_MAX)
        return cnn__fail(err, CNN_ERR_LIMIT, "%s: image size %zu x %zu does not fit an int",
                         im_name, im->dims[1], im->dims[2]);
    if (classes < 0)
        return cnn__fail(err, CNN_ERR_ARG, "classes is %d, must be >= 0", classes);
    for (i = 0; i < n; i++) {
        if (classes > 0 && lab[i] >= classes)
            return cnn__fail(err, CNN_ERR_LABEL_RANGE,
                             "%s: label %u of item %zu (byte %zu of the decoded file) is "
                             "outside [0,%d)", lb_name, (unsigned)lab[i], i, 8 + i, classes);
        if (lab[i] > top) top = lab[i];
    }
    if (!cnn__mul_size(im->count, sizeof(float), &xbytes) ||
        !cnn__mul_size(n, sizeof(int), &ybytes))
        return cnn__fail(err, CNN_ERR_OVERFLOW, "%s: %zu pixels as floats overflow size_t",
                         im_name, im->count);
    if (xbytes > lim.max_bytes)
        return cnn__fail(err, CNN_ERR_LIMIT,
                         "%s: %zu pixels need %zu bytes as floats, over the limit of %zu "
                         "(cnn_limits.max_bytes)", im_name, im->count, xbytes, lim.max_bytes);

    memset(&d, 0, sizeof d);
    d.x = (float *)CNN_MALLOC(xbytes ? xbytes : 1);
    d.y = (int *)CNN_MALLOC(ybytes ? ybytes : 1);
    if (!d.x || !d.y) {
        CNN_FREE(d.x);
        CNN_FREE(d.y);
        return cnn__fail(err, CNN_ERR_NOMEM, "%s: out of memory for %zu images", im_name, n);
    }
    for (i = 0; i < 256; i++) scale[i] = (float)i / 255.0f;
    for (i = 0; i < im->count; i++) d.x[i] = scale[px[i]];
    for (i = 0; i < n; i++) d.y[i] = lab[i];
    d.n = n;
    d.c = 1;
    d.h = (int)im->dims[1];
    d.w = (int)im->dims[2];
    d.classes = classes > 0 ? classes : top + 1;
    *out = d;
    cnn__ok(err);
    return CNN_OK;
}

CNN_API cnn_status cnn_dataset_from_idx(const cnn_idx *images, const cnn_idx *labels,
                                        int classes, const cnn_limits *lim, cnn_dataset *out,
                                        cnn_error *err)
{
    CNN_ASSERT(images != NULL && labels != NULL && out != NULL);
    return cnn__dataset_make(images, labels, "images", "labels", classes, lim, out, err);
}

#ifndef CNN_NO_STDIO
CNN_API cnn_status cnn_dataset_load_idx(const char *images_path, const char *labels_path,
                                        int classes, const cnn_limits *lim,
                                        cnn_dataset *out, cnn_error *err)
{
    cnn_idx im, lb;
    cnn_status st;
    CNN_ASSERT(images_path != NULL && labels_path != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    memset(&lb, 0, sizeof lb);
    /* labels first: they are small, so a bad pairing is found before decoding the images */
    if ((st = cnn_idx_read_file(labels_path, lim, &lb, err)) != CNN_OK) return st;
    if ((st = cnn_idx_read_file(images_path, lim, &im, err)) != CNN_OK) {
        cnn_idx_free(&lb);
        return st;
    }
    st = cnn__dataset_make(&im, &lb, images_path, labels_path, classes, lim, out, err);
    cnn_idx_free(&im);
    cnn_idx_free(&lb);
    return st;
}

static const char *const cnn__mnist_files[4] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };

static int cnn__file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* path = dir/base.gz if that exists, else dir/base. 0 when neither exists; -1 when the path
   does not fit. */
static int cnn__mnist_path(const char *dir, const char *base, char *path, size_t size)
{
    int n = snprintf(path, size, "%s/%s.gz", dir, base);
    if (n < 0 || (size_t)n >= size) return -1;
    if (cnn__file_exists(path)) return 1;
    path[n - 3] = 0;                                     /* drop ".gz" */
    return cnn__file_exists(path);
}

CNN_API cnn_status cnn_dataset_find_dir(const char *dir, char *out, size_t out_size,
                                        cnn_error *err)
{
    const char *env = getenv("CNN_DATA_DIR");
    const char *how;
    char path[4096];
    int i, r;
    CNN_ASSERT(out != NULL && out_size > 0);
    out[0] = 0;
    if (dir && dir[0])      how = "the directory given";
    else if (env && env[0]) { dir = env; how = "$CNN_DATA_DIR"; }
    else                    { dir = CNN_DATA_DIR_DEFAULT; how = "the default directory"; }
    for (i = 0; i < 4; i++) {
        r = cnn__mnist_path(dir, cnn__mnist_files[i], path, sizeof path);
        if (r < 0)
            return cnn__fail(err, CNN_ERR_ARG, "data directory path too long: %.64s...", dir);
        if (r == 0)
            return cnn__fail(err, CNN_ERR_OPEN,
                             "no %s[.gz] in %s (%s); install Fashion-MNIST with "
                             "tools/get-data.sh (Debian: apt-get install dataset-fashion-mnist)"
                             " or pass --data DIR / set CNN_DATA_DIR", cnn__mnist_files[i],
                             dir, how);
    }
    if (strlen(dir) >= out_size)
        return cnn__fail(err, CNN_ERR_ARG, "data directory path too long for a %zu-byte buffer",
                         out_size);
    memcpy(out, dir, strlen(dir) + 1);
    cnn__ok(err);
    return CNN_OK;
}

CNN_API cnn_status cnn_dataset_load_mnist(const char *dir, const char *split,
                                          const cnn_limits *lim, cnn_dataset *out,
                                          cnn_error *err)
{
    char root[4096], base[256], images[4096], labels[4096];
    cnn_status st;
    int n;
    CNN_ASSERT(split != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if ((st = cnn_dataset_find_dir(dir, root, sizeof root, err)) != CNN_OK) return st;
    n = snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    if (n < 0 || (size_t)n >= sizeof base ||
        cnn__mnist_path(root, base, images, sizeof images) <= 0)
        return cnn__fail(err, CNN_ERR_OPEN, "no %s-images-idx3-ubyte[.gz] in %s", split, root);
    n = snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    if (n < 0 || (size_t)n >= sizeof base ||
        cnn__mnist_path(root, base, labels, sizeof labels) <= 0)
        return cnn__fail(err, CNN_ERR_OPEN, "no %s-labels-idx1-ubyte[.gz] in %s", split, root);
    return cnn_dataset_load_idx(images, labels, 10, lim, out, err);
}
#endif /* CNN_NO_STDIO */

/* >>model implementation */
#define CNN__MODEL_MAGIC "CNNHMODL"
#define CNN__MODEL_VERSION 1u
#define CNN__BLOCK_FIELDS 11

static size_t cnn__model_header_size(int nblocks)
{
    return 8 + 4 + 6 * 4 + 2 * 4 + (size_t)nblocks * CNN__BLOCK_FIELDS * 4 + 2 * 8;
}

CNN_API size_t cnn_net_save_size(const cnn_net *net)
{
    return cnn__model_header_size(net->desc.nblocks) + 4 * (net->nparams + net->nstate) + 4;
}

/* little-endian writers and a bounds-checked reader */
static unsigned char *cnn__put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
    return p + 4;
}
static unsigned char *cnn__putf(unsigned char *p, float f) { uint32_t u; memcpy(&u, &f, 4); return cnn__put32(p, u); }
static unsigned char *cnn__put64(unsigned char *p, uint64_t v) { p = cnn__put32(p, (uint32_t)v); return cnn__put32(p, (uint32_t)(v >> 32)); }

typedef struct cnn__reader { const unsigned char *p; size_t size, at; cnn_error *err; } cnn__reader;

static cnn_status cnn__get32(cnn__reader *r, uint32_t *v, const char *what)
{
    const unsigned char *p;
    if (r->size - r->at < 4)
        return cnn__fail(r->err, CNN_ERR_TRUNCATED, "model: truncated at byte %zu: %s needs 4 bytes, %zu remain",
                         r->at, what, r->size - r->at);
    p = r->p + r->at;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->at += 4;
    return CNN_OK;
}

static cnn_status cnn__geti(cnn__reader *r, int *v, const char *what)
{
    uint32_t u = 0;
    cnn_status st = cnn__get32(r, &u, what);
    if (st) return st;
    if (u > 0x7FFFFFFFu)
        return cnn__fail(r->err, CNN_ERR_FORMAT, "model: byte %zu: %s is %u, out of range", r->at - 4, what, (unsigned)u);
    *v = (int)u;
    return CNN_OK;
}

static cnn_status cnn__getf(cnn__reader *r, float *v, const char *what)
{
    uint32_t u = 0;
    cnn_status st = cnn__get32(r, &u, what);
    if (!st) memcpy(v, &u, 4);
    return st;
}

static cnn_status cnn__get64(cnn__reader *r, uint64_t *v, const char *what)
{
    uint32_t lo = 0, hi = 0;
    cnn_status st;
    if ((st = cnn__get32(r, &lo, what)) || (st = cnn__get32(r, &hi, what))) return st;
    *v = (uint64_t)hi << 32 | lo;
    return CNN_OK;
}

CNN_API cnn_status cnn_net_save_mem(const cnn_net *net, void *buf, size_t cap, cnn_error *err)
{
    const cnn_net_desc *d = &net->desc;
    unsigned char *p = (unsigned char *)buf;
    size_t need = cnn_net_save_size(net), i;
    int b;
    if (cap < need) return cnn__fail(err, CNN_ERR_ARG, "model: buffer of %zu bytes, %zu needed", cap, need);
    memcpy(p, CNN__MODEL_MAGIC, 8); p += 8;
    p = cnn__put32(p, CNN__MODEL_VERSION);
    p = cnn__put32(p, (uint32_t)d->in_c); p = cnn__put32(p, (uint32_t)d->in_h); p = cnn__put32(p, (uint32_t)d->in_w);
    p = cnn__put32(p, (uint32_t)d->classes); p = cnn__put32(p, (uint32_t)d->order); p = cnn__put32(p, (uint32_t)d->nblocks);
    p = cnn__putf(p, d->bn_momentum); p = cnn__putf(p, d->bn_eps);
    for (b = 0; b < d->nblocks; b++) {
        const cnn_block *k = &d->blocks[b];
        p = cnn__put32(p, (uint32_t)k->filters); p = cnn__put32(p, (uint32_t)k->kernel_h); p = cnn__put32(p, (uint32_t)k->kernel_w);
        p = cnn__put32(p, (uint32_t)k->stride_h); p = cnn__put32(p, (uint32_t)k->stride_w); p = cnn__put32(p, (uint32_t)k->padding);
        p = cnn__put32(p, (uint32_t)k->act); p = cnn__putf(p, k->dropout); p = cnn__put32(p, (uint32_t)k->pool);
        p = cnn__put32(p, (uint32_t)k->pool_stride); p = cnn__put32(p, (uint32_t)k->pool_type);
    }
    p = cnn__put64(p, (uint64_t)net->nparams);
    p = cnn__put64(p, (uint64_t)net->nstate);
    for (i = 0; i < net->nparams; i++) p = cnn__putf(p, net->params[i]);
    for (i = 0; i < net->nstate; i++) p = cnn__putf(p, net->state[i]);
    cnn__put32(p, cnn_crc32(0, buf, need - 4));
    cnn__ok(err);
    return CNN_OK;
}

/* Parses and checks a whole model file; on success *out is a new net holding its values. */
CNN_API cnn_status cnn_net_load_mem(cnn_net **out, const void *data, size_t size, cnn_error *err)
{
    cnn__reader r;
    cnn_net_desc d;
    cnn_net *net = NULL;
    uint32_t version = 0, stored, crc;
    uint64_t np = 0, ns = 0, want[2];
    size_t i, need;
    int b, v = 0;
    cnn_status st;
    char what[64];
    *out = NULL;
    r.p = (const unsigned char *)data; r.size = size; r.at = 0; r.err = err;
    if (size < 8 || memcmp(data, CNN__MODEL_MAGIC, 8) != 0)
        return cnn__fail(err, size < 8 ? CNN_ERR_TRUNCATED : CNN_ERR_FORMAT,
                         "model: not a cnn.h model file (%zu bytes; the first 8 should read %s)", size, CNN__MODEL_MAGIC);
    r.at = 8;
    if ((st = cnn__get32(&r, &version, "the version"))) return st;
    if (version != CNN__MODEL_VERSION)
        return cnn__fail(err, CNN_ERR_FORMAT, "model: version %u, this cnn.h reads version %u", (unsigned)version,
                         CNN__MODEL_VERSION);
    cnn_net_desc_init(&d, 1, 1, 1, 2);
    if ((st = cnn__geti(&r, &d.in_c, "the input channels")) || (st = cnn__geti(&r, &d.in_h, "the input height")) ||
        (st = cnn__geti(&r, &d.in_w, "the input width")) || (st = cnn__geti(&r, &d.classes, "the class count")) ||
        (st = cnn__geti(&r, &v, "the block order")))
        return st;
    if (v != CNN_ORDER_CONV_BN_ACT && v != CNN_ORDER_CONV_ACT_BN)
        return cnn__fail(err, CNN_ERR_FORMAT, "model: byte %zu: block order %d unknown", r.at - 4, v);
    d.order = (cnn_order)v;
    if ((st = cnn__geti(&r, &d.nblocks, "the block count"))) return st;
    if (d.nblocks > CNN_MAX_BLOCKS)
        return cnn__fail(err, CNN_ERR_FORMAT, "model: byte %zu: %d blocks (at most %d)", r.at - 4, d.nblocks, CNN_MAX_BLOCKS);
    if ((st = cnn__getf(&r, &d.bn_momentum, "the batch-norm momentum")) || (st = cnn__getf(&r, &d.bn_eps, "the batch-norm epsilon")))
        return st;
    for (b = 0; b < d.nblocks; b++) {
        cnn_block *k = &d.blocks[b];
        int pad = 0, act = 0, pt = 0;
        snprintf(what, sizeof what, "block %d", b + 1);
        if ((st = cnn__geti(&r, &k->filters, what)) || (st = cnn__geti(&r, &k->kernel_h, what)) ||
            (st = cnn__geti(&r, &k->kernel_w, what)) || (st = cnn__geti(&r, &k->stride_h, what)) ||
            (st = cnn__geti(&r, &k->stride_w, what)) || (st = cnn__geti(&r, &pad, what)) || (st = cnn__geti(&r, &act, what)) ||
            (st = cnn__getf(&r, &k->dropout, what)) || (st = cnn__geti(&r, &k->pool, what)) ||
            (st = cnn__geti(&r, &k->pool_stride, what)) || (st = cnn__geti(&r, &pt, what)))
            return st;
        if (pad > CNN_PAD_SAME || act > CNN_ACT_LINEAR || pt > CNN_POOL_AVG)
            return cnn__fail(err, CNN_ERR_FORMAT, "model: block %d: padding %d, activation %d or pool type %d unknown",
                             b + 1, pad, act, pt);
        k->padding = (cnn_padding)pad; k->act = (cnn_act)act; k->pool_type = (cnn_pool_type)pt;
    }
    if ((st = cnn__get64(&r, &np, "the parameter count")) || (st = cnn__get64(&r, &ns, "the state count"))) return st;
    /* the sizes must be known to fit before the architecture is built (it allocates them) */
    if (np > (size - r.at) / 4 || ns > (size - r.at) / 4 || (np + ns) * 4 + 4 != size - r.at)
        return cnn__fail(err, (np + ns) * 4 + 4 > size - r.at ? CNN_ERR_TRUNCATED : CNN_ERR_TRAILING,
                         "model: %llu parameters and %llu statistics need %llu more bytes after byte %zu, the file has %zu",
                         (unsigned long long)np, (unsigned long long)ns, (unsigned long long)((np + ns) * 4 + 4), r.at,
                         size - r.at);
    need = r.at + (size_t)(np + ns) * 4;
    stored = (uint32_t)r.p[need] | (uint32_t)r.p[need + 1] << 8 | (uint32_t)r.p[need + 2] << 16 | (uint32_t)r.p[need + 3] << 24;
    crc = cnn_crc32(0, data, need);
    if (crc != stored)
        return cnn__fail(err, CNN_ERR_CRC, "model: checksum mismatch: stored %08x, computed %08x (corrupt file)",
                         (unsigned)stored, (unsigned)crc);
    want[0] = np; want[1] = ns;
    if ((st = cnn__net_create(&net, &d, want, err))) {
        char msg[256];
        if (st == CNN_ERR_FORMAT) return st;        /* the counts differ: the message says so */
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        if (st == CNN_ERR_NOMEM) return cnn__fail(err, st, "model: %s", msg);   /* the file may be fine */
        return cnn__fail(err, CNN_ERR_FORMAT, "model: the stored architecture is invalid: %s", msg);
    }
    if (np != net->nparams || ns != net->nstate) {
        size_t hp = net->nparams, hs = net->nstate;
        cnn_net_free(net);
        return cnn__fail(err, CNN_ERR_FORMAT, "model: %llu parameters and %llu statistics stored, the architecture has %zu and %zu",
                         (unsigned long long)np, (unsigned long long)ns, hp, hs);
    }
    for (i = 0; i < net->nparams; i++) cnn__getf(&r, &net->params[i], "a parameter");
    for (i = 0; i < net->nstate; i++) cnn__getf(&r, &net->state[i], "a statistic");
    *out = net;
    cnn__ok(err);
    return CNN_OK;
}

/* "1x28x28 -> (64, (3,3), ...) -> 10, conv-bn-act" */
static void cnn__desc_text(const cnn_net_desc *d, char *buf, size_t cap)
{
    char spec[200];
    size_t n = cnn_spec_format(d->blocks, d->nblocks, spec, sizeof spec);
    if (n >= sizeof spec) memcpy(spec + sizeof spec - 4, "...", 4);
    snprintf(buf, cap, "%dx%dx%d -> %s -> %d, %s", d->in_c, d->in_h, d->in_w, spec, d->classes,
             d->order == CNN_ORDER_CONV_BN_ACT ? "conv-bn-act" : "conv-act-bn");
}

static int cnn__desc_same(const cnn_net_desc *a, const cnn_net_desc *b)
{
    int i;
    if (a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w || a->classes != b->classes ||
        a->order != b->order || a->nblocks != b->nblocks)
        return 0;
    for (i = 0; i < a->nblocks; i++) {
        const cnn_block *x = &a->blocks[i], *y = &b->blocks[i];
        if (x->filters != y->filters || x->kernel_h != y->kernel_h || x->kernel_w != y->kernel_w ||
            x->stride_h != y->stride_h || x->stride_w != y->stride_w || x->padding != y->padding || x->act != y->act ||
            x->pool != y->pool || x->pool_type != y->pool_type ||
            (x->pool_stride ? x->pool_stride : x->pool) != (y->pool_stride ? y->pool_stride : y->pool))
            return 0;
    }
    return 1;
}

CNN_API cnn_status cnn_net_load_params_mem(cnn_net *net, const void *data, size_t size, cnn_error *err)
{
    cnn_net *tmp = NULL;
    cnn_status st = cnn_net_load_mem(&tmp, data, size, err);
    if (st) return st;
    if (!cnn__desc_same(&tmp->desc, &net->desc)) {
        char a[240], b[240];
        cnn__desc_text(&tmp->desc, a, sizeof a);
        cnn__desc_text(&net->desc, b, sizeof b);
        cnn_net_free(tmp);
        return cnn__fail(err, CNN_ERR_SHAPE, "model: the file is for %.110s; this net is %.110s", a, b);
    }
    memcpy(net->params, tmp->params, net->nparams * sizeof(float));
    memcpy(net->state, tmp->state, net->nstate * sizeof(float));
    cnn_net_free(tmp);
    cnn__ok(err);
    return CNN_OK;
}

#ifndef CNN_NO_STDIO
CNN_API cnn_status cnn_file_write_atomic(const char *path, const void *data, size_t len, cnn_error *err)
{
    char tmp[4096];
    FILE *f;
    int ok;
    if (strlen(path) + 5 >= sizeof tmp) return cnn__fail(err, CNN_ERR_ARG, "%s: path too long", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) return cnn__fail(err, CNN_ERR_WRITE, "%s: cannot create: %s", tmp, strerror(errno));
    ok = fwrite(data, 1, len, f) == len;
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        remove(tmp);
        return cnn__fail(err, CNN_ERR_WRITE, "%s: write failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        cnn_status st = cnn__fail(err, CNN_ERR_WRITE, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return st;
    }
    cnn__ok(err);
    return CNN_OK;
}

CNN_API cnn_status cnn_net_save(const cnn_net *net, const char *path, cnn_error *err)
{
    size_t n = cnn_net_save_size(net);
    void *buf = CNN_MALLOC(n);
    cnn_status st;
    if (!buf) return cnn__fail(err, CNN_ERR_NOMEM, "%s: out of memory for %zu bytes", path, n);
    st = cnn_net_save_mem(net, buf, n, err);
    if (!st) st = cnn_file_write_atomic(path, buf, n, err);
    CNN_FREE(buf);
    return st;
}

/* >>checkpoint: a model file (architecture, parameters, batch-norm statistics) wrapped with
   everything else a run needs to continue bit for bit, little-endian as the model file:
     "CNNHCKPT"  u32 version (1)  u32 model bytes  <model file>
     the options that shape the run: u64 n  u32 batch  f64 val_split  u32 patience  f64 min_delta
       u64 seed  u32 shuffle  u32 restore_best  u32 epochs
     Adam: f32 lr beta1 beta2 eps  u64 t       progress: u32 epoch  u64 rng  u32 best_epoch
       f64 best_loss  u32 wait                 u32 ntrain  u32 order[ntrain]
     f32 m[params]  f32 v[params]  u32 has_best  [f32 best params + state]   u32 CRC-32 */
#define CNN__CKPT_MAGIC "CNNHCKPT"

static unsigned char *cnn__putd(unsigned char *p, double d) { uint64_t u; memcpy(&u, &d, 8); return cnn__put64(p, u); }

static cnn_status cnn__getd(cnn__reader *r, double *v, const char *what)
{
    uint64_t u = 0;
    cnn_status st = cnn__get64(r, &u, what);
    if (!st) memcpy(v, &u, 8);
    return st;
}

static cnn_status cnn__ckpt_write(const char *path, const cnn_net *net, const cnn_train_opts *o, size_t n,
                                  size_t ntrain, const cnn__run *run, cnn_error *err)
{
    const size_t mb = cnn_net_save_size(net), np = net->nparams, ns = net->nstate;
    size_t size = 8 + 4 + 4 + mb + (8 + 4 + 8 + 4 + 8 + 8 + 4 + 4 + 4) + (16 + 8) + (4 + 8 + 4 + 8 + 4) + 4 + 4 * ntrain +
                  8 * np + 4 + (run->best ? 4 * (np + ns) : 0) + 4, i;
    unsigned char *buf = (unsigned char *)CNN_MALLOC(size), *p;
    cnn_status st;
    if (!buf) return cnn__fail(err, CNN_ERR_NOMEM, "checkpoint %s: out of memory for %zu bytes", path, size);
    memcpy(buf, CNN__CKPT_MAGIC, 8);
    p = cnn__put32(buf + 8, 1);
    p = cnn__put32(p, (uint32_t)mb);
    cnn_net_save_mem(net, p, mb, NULL);
    p += mb;
    p = cnn__put64(p, (uint64_t)n); p = cnn__put32(p, (uint32_t)o->batch); p = cnn__putd(p, o->val_split);
    p = cnn__put32(p, (uint32_t)o->patience); p = cnn__putd(p, o->min_delta); p = cnn__put64(p, o->seed);
    p = cnn__put32(p, (uint32_t)o->shuffle); p = cnn__put32(p, (uint32_t)o->restore_best); p = cnn__put32(p, (uint32_t)o->epochs);
    p = cnn__putf(p, run->adam.lr); p = cnn__putf(p, run->adam.beta1); p = cnn__putf(p, run->adam.beta2);
    p = cnn__putf(p, run->adam.eps); p = cnn__put64(p, (uint64_t)run->adam.t);
    p = cnn__put32(p, (uint32_t)run->epoch); p = cnn__put64(p, run->rng.state); p = cnn__put32(p, (uint32_t)run->best_epoch);
    p = cnn__putd(p, run->best_loss); p = cnn__put32(p, (uint32_t)run->wait);
    p = cnn__put32(p, (uint32_t)ntrain);
    for (i = 0; i < ntrain; i++) p = cnn__put32(p, run->idx[i]);
    for (i = 0; i < np; i++) p = cnn__putf(p, net->adam_m[i]);
    for (i = 0; i < np; i++) p = cnn__putf(p, net->adam_v[i]);
    p = cnn__put32(p, run->best ? 1u : 0u);
    if (run->best) for (i = 0; i < np + ns; i++) p = cnn__putf(p, run->best[i]);
    CNN_ASSERT((size_t)(p - buf) == size - 4);
    cnn__put32(p, cnn_crc32(0, buf, size - 4));
    st = cnn_file_write_atomic(path, buf, size, err);
    CNN_FREE(buf);
    return st;
}

/* Checks a whole checkpoint held in memory and, only when every field is valid, moves its
   state into net (parameters, statistics, Adam's moments) and run (progress, rng, order, best
   weights). On failure nothing of net or run has changed. path only names it in messages. */
static cnn_status cnn__ckpt_parse(const unsigned char *buf, size_t len, const char *path, cnn_net *net,
                                  const cnn_train_opts *o, size_t n, size_t ntrain, cnn__run *run, cnn_error *err)
{
    size_t i, order_at, moments_at, best_at = 0;
    cnn__reader r;
    uint32_t u32 = 0, mb = 0, version = 0, has_best = 0;
    uint64_t u64 = 0;
    double d = 0;
    float f = 0;
    cnn__run got = *run;
    cnn_net *saved = NULL;
    cnn_status st;
    r.p = buf; r.size = len; r.at = 8; r.err = err;
#define CNN__CK(x) do { if ((st = (x))) goto fail; } while (0)
#define CNN__REFUSE(...) do { st = cnn__fail(err, CNN_ERR_FORMAT, __VA_ARGS__); goto fail; } while (0)
    if (len < 16 || memcmp(buf, CNN__CKPT_MAGIC, 8) != 0) CNN__REFUSE("checkpoint %s: not a cnn.h checkpoint", path);
    if (cnn_crc32(0, buf, len - 4) != cnn__le32(buf + len - 4)) {
        st = cnn__fail(err, CNN_ERR_CRC, "checkpoint %s: checksum mismatch (corrupt or truncated file of %zu bytes)", path, len);
        goto fail;
    }
    r.size = len - 4;
    CNN__CK(cnn__get32(&r, &version, "the version"));
    if (version != 1) CNN__REFUSE("checkpoint %s: version %u, this cnn.h reads 1", path, (unsigned)version);
    CNN__CK(cnn__get32(&r, &mb, "the model size"));
    if (mb > r.size - r.at) CNN__REFUSE("checkpoint %s: model of %u bytes, %zu left", path, (unsigned)mb, r.size - r.at);
    if ((st = cnn_net_load_mem(&saved, buf + r.at, mb, err))) goto fail;
    r.at += mb;
    if (!cnn__desc_same(&saved->desc, &net->desc)) {
        char a[240], b[240];
        cnn__desc_text(&saved->desc, a, sizeof a);
        cnn__desc_text(&net->desc, b, sizeof b);
        st = cnn__fail(err, CNN_ERR_SHAPE, "checkpoint %s is for another configuration: %.100s; this run: %.100s", path, a, b);
        goto fail;
    }
    /* the options that shape the run must be the same */
    CNN__CK(cnn__get64(&r, &u64, "n"));
    if (u64 != n) CNN__REFUSE("checkpoint %s: made for %llu samples, this run has %zu", path, (unsigned long long)u64, n);
    CNN__CK(cnn__get32(&r, &u32, "batch"));
    if ((int)u32 != o->batch) CNN__REFUSE("checkpoint %s: made with batch %u, this run uses %d", path, (unsigned)u32, o->batch);
    CNN__CK(cnn__getd(&r, &d, "val_split"));
    if (d != o->val_split) CNN__REFUSE("checkpoint %s: made with val_split %g, this run uses %g", path, d, o->val_split);
    CNN__CK(cnn__get32(&r, &u32, "patience"));
    if ((int)u32 != o->patience) CNN__REFUSE("checkpoint %s: made with patience %u, this run uses %d", path, (unsigned)u32, o->patience);
    CNN__CK(cnn__getd(&r, &d, "min_delta"));
    if (d != o->min_delta) CNN__REFUSE("checkpoint %s: made with min_delta %g, this run uses %g", path, d, o->min_delta);
    CNN__CK(cnn__get64(&r, &u64, "seed"));
    if (u64 != o->seed) CNN__REFUSE("checkpoint %s: made with seed %llu, this run uses %llu", path, (unsigned long long)u64,
                                    (unsigned long long)o->seed);
    CNN__CK(cnn__get32(&r, &u32, "shuffle"));
    if ((int)u32 != o->shuffle) CNN__REFUSE("checkpoint %s: made with shuffle %u, this run uses %d", path, (unsigned)u32, o->shuffle);
    CNN__CK(cnn__get32(&r, &u32, "restore_best"));
    if ((int)u32 != o->restore_best) CNN__REFUSE("checkpoint %s: made with restore_best %u, this run uses %d", path, (unsigned)u32, o->restore_best);
    CNN__CK(cnn__get32(&r, &u32, "epochs"));
    if ((int)u32 != o->epochs) CNN__REFUSE("checkpoint %s: made with an epoch cap of %u, this run uses %d", path, (unsigned)u32, o->epochs);
    CNN__CK(cnn__getf(&r, &f, "lr")); got.adam.lr = f;
    CNN__CK(cnn__getf(&r, &f, "beta1")); got.adam.beta1 = f;
    CNN__CK(cnn__getf(&r, &f, "beta2")); got.adam.beta2 = f;
    CNN__CK(cnn__getf(&r, &f, "eps")); got.adam.eps = f;
    if (got.adam.lr != o->adam.lr || got.adam.beta1 != o->adam.beta1 || got.adam.beta2 != o->adam.beta2 || got.adam.eps != o->adam.eps)
        CNN__REFUSE("checkpoint %s: made with other Adam settings", path);
    CNN__CK(cnn__get64(&r, &u64, "Adam's step")); got.adam.t = (int64_t)(u64 & 0x7FFFFFFFFFFFFFFFull);
    CNN__CK(cnn__get32(&r, &u32, "the epoch")); got.epoch = (int)(u32 & 0x7FFFFFFFu);
    CNN__CK(cnn__get64(&r, &u64, "the rng")); got.rng.state = u64;
    CNN__CK(cnn__get32(&r, &u32, "the best epoch")); got.best_epoch = (int)(u32 & 0x7FFFFFFFu);
    CNN__CK(cnn__getd(&r, &got.best_loss, "the best loss"));
    CNN__CK(cnn__get32(&r, &u32, "the wait")); got.wait = (int)(u32 & 0x7FFFFFFFu);
    CNN__CK(cnn__get32(&r, &u32, "the order's length"));
    if (u32 != ntrain || got.epoch < 1 || got.epoch > o->epochs || got.best_epoch > got.epoch || got.wait > got.epoch)
        CNN__REFUSE("checkpoint %s: inconsistent progress (epoch %d, best %d, wait %d, %u in order)", path, got.epoch,
                    got.best_epoch, got.wait, (unsigned)u32);
    /* check the rest for size and range before anything is copied out */
    if ((r.size - r.at) / 4 < ntrain) CNN__REFUSE("checkpoint %s: truncated data order", path);
    order_at = r.at;
    for (i = 0; i < ntrain; i++) {
        cnn__get32(&r, &u32, "the order");
        if (u32 >= ntrain) CNN__REFUSE("checkpoint %s: data order holds %u, beyond %zu samples", path, (unsigned)u32, ntrain);
    }
    if ((r.size - r.at) / 8 < net->nparams) CNN__REFUSE("checkpoint %s: truncated Adam moments", path);
    moments_at = r.at;
    r.at += 8 * net->nparams;
    CNN__CK(cnn__get32(&r, &has_best, "has_best"));
    if (has_best > 1 || (has_best && !run->best) || (has_best && (r.size - r.at) / 4 != net->nparams + net->nstate) ||
        (!has_best && r.at != r.size) || (has_best != 0) != (got.best_epoch > 0))
        CNN__REFUSE("checkpoint %s: best-weights block does not fit (%zu bytes left)", path, r.size - r.at);
    best_at = r.at;
#undef CNN__CK
#undef CNN__REFUSE
    /* all valid: move it in */
    r.at = order_at;
    for (i = 0; i < ntrain; i++) cnn__get32(&r, &got.idx[i], "the order");
    r.at = moments_at;
    for (i = 0; i < net->nparams; i++) cnn__getf(&r, &net->adam_m[i], "m");
    for (i = 0; i < net->nparams; i++) cnn__getf(&r, &net->adam_v[i], "v");
    r.at = best_at;
    if (has_best) for (i = 0; i < net->nparams + net->nstate; i++) cnn__getf(&r, &got.best[i], "best");
    memcpy(net->params, saved->params, net->nparams * sizeof(float));
    memcpy(net->state, saved->state, net->nstate * sizeof(float));
    cnn_net_free(saved);
    *run = got;
    return CNN_OK;
fail:
    cnn_net_free(saved);
    return st;
}

static cnn_status cnn__ckpt_read(const char *path, cnn_net *net, const cnn_train_opts *o, size_t n, size_t ntrain,
                                 cnn__run *run, int *found, cnn_error *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    cnn_status st;
    FILE *probe = fopen(path, "rb");
    *found = 0;
    if (!probe) return CNN_OK;   /* no checkpoint yet: a fresh start */
    fclose(probe);
    if ((st = cnn__read_file(path, cnn__limits(NULL).max_file_bytes, &buf, &len, err))) return st;
    st = cnn__ckpt_parse(buf, len, path, net, o, n, ntrain, run, err);
    CNN_FREE(buf);
    *found = st == CNN_OK;
    return st;
}

CNN_API cnn_status cnn_net_load(cnn_net **out, const char *path, const cnn_limits *lim, cnn_error *err)
{
    cnn_limits l = cnn__limits(lim);
    unsigned char *buf;
    size_t len;
    cnn_status st;
    *out = NULL;
    if ((st = cnn__read_file(path, l.max_file_bytes, &buf, &len, err))) return st;
    st = cnn_net_load_mem(out, buf, len, err);
    CNN_FREE(buf);
    if (st && err) {   /* name the file in the message */
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        cnn__fail(err, st, "%s: %s", path, msg);
    }
    return st;
}
#endif

/* >>metrics implementation */
CNN_API cnn_status cnn_confusion_matrix(const int *truth, const int *pred, size_t n, int classes,
                                        size_t *matrix, cnn_error *err)
{
    size_t i;
    if (classes <= 0) return cnn__fail(err, CNN_ERR_ARG, "confusion: %d classes", classes);
    memset(matrix, 0, (size_t)classes * classes * sizeof(size_t));
    for (i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= classes || pred[i] < 0 || pred[i] >= classes) {
            memset(matrix, 0, (size_t)classes * classes * sizeof(size_t));
            return cnn__fail(err, CNN_ERR_LABEL_RANGE, "confusion: sample %zu: true %d, predicted %d, classes 0..%d",
                             i, truth[i], pred[i], classes - 1);
        }
        matrix[(size_t)truth[i] * classes + pred[i]]++;
    }
    cnn__ok(err);
    return CNN_OK;
}

CNN_API void cnn_metrics_compute(const size_t *m, int k, cnn_class_metrics *per_class,
                                 cnn_class_metrics *macro, cnn_class_metrics *weighted, double *accuracy)
{
    cnn_class_metrics mac, wei;
    size_t total = 0, diag = 0;
    int c, j;
    memset(&mac, 0, sizeof mac);
    memset(&wei, 0, sizeof wei);
    for (c = 0; c < k; c++) {
        size_t tp = m[(size_t)c * k + c], row = 0, col = 0;
        cnn_class_metrics x;
        for (j = 0; j < k; j++) { row += m[(size_t)c * k + j]; col += m[(size_t)j * k + c]; }
        x.precision = col ? (double)tp / (double)col : 0.0;   /* of those predicted c, how many are c */
        x.recall = row ? (double)tp / (double)row : 0.0;      /* of the true c, how many were found   */
        x.f1 = x.precision + x.recall > 0 ? 2 * x.precision * x.recall / (x.precision + x.recall) : 0.0;
        x.support = row;
        if (per_class) per_class[c] = x;
        mac.precision += x.precision / k; mac.recall += x.recall / k; mac.f1 += x.f1 / k;
        wei.precision += x.precision * (double)row; wei.recall += x.recall * (double)row; wei.f1 += x.f1 * (double)row;
        total += row;
        diag += tp;
    }
    if (total) { wei.precision /= (double)total; wei.recall /= (double)total; wei.f1 /= (double)total; }
    mac.support = wei.support = total;
    if (macro) *macro = mac;
    if (weighted) *weighted = wei;
    if (accuracy) *accuracy = total ? (double)diag / (double)total : 0.0;
}

/* appends to buf like snprintf, tracking the length it would need */
static void cnn__cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) *len += (size_t)n;
}

CNN_API size_t cnn_report_format(const size_t *m, int k, const char *const *names, int digits,
                                 char *buf, size_t cap)
{
    cnn_class_metrics *pc, mac, wei;
    double acc;
    size_t len = 0;
    int c, width = 12;   /* strlen("weighted avg"), scikit-learn's minimum */
    char num[16];
    if (cap) buf[0] = 0;
    pc = (cnn_class_metrics *)CNN_MALLOC(sizeof *pc * (size_t)(k > 0 ? k : 1));
    if (!pc) return 0;
    cnn_metrics_compute(m, k, pc, &mac, &wei, &acc);
    for (c = 0; c < k && names; c++) if ((int)strlen(names[c]) > width) width = (int)strlen(names[c]);
    if (digits > width) width = digits;
    cnn__cat(buf, cap, &len, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support");
    for (c = 0; c < k; c++) {
        if (names) snprintf(num, sizeof num, "%.15s", names[c]); else snprintf(num, sizeof num, "%d", c);
        cnn__cat(buf, cap, &len, "%*s  %9.*f %9.*f %9.*f %9zu\n", width, names ? names[c] : num, digits, pc[c].precision,
                 digits, pc[c].recall, digits, pc[c].f1, pc[c].support);
    }
    cnn__cat(buf, cap, &len, "\n%*s  %9s %9s %9.*f %9zu\n", width, "accuracy", "", "", digits, acc, mac.support);
    cnn__cat(buf, cap, &len, "%*s  %9.*f %9.*f %9.*f %9zu\n", width, "macro avg", digits, mac.precision, digits, mac.recall,
             digits, mac.f1, mac.support);
    cnn__cat(buf, cap, &len, "%*s  %9.*f %9.*f %9.*f %9zu\n", width, "weighted avg", digits, wei.precision, digits,
             wei.recall, digits, wei.f1, wei.support);
    CNN_FREE(pc);
    return len;
}

CNN_API void cnn_argmax_rows(const float *probs, size_t n, int classes, int *pred)
{
    size_t i;
    for (i = 0; i < n; i++) pred[i] = cnn__argmax(probs + i * (size_t)classes, classes);
}

#ifdef CNN__O3_PRAGMA
#pragma GCC pop_options
#undef CNN__O3_PRAGMA
#endif
#endif /* CNN_IMPLEMENTATION_DONE */
#endif /* CNN_IMPLEMENTATION */

/* >>licence ------------------------------------------------------------------------------
   Version history
     0.1.0  layers, naive and im2col convolution, training with early stopping, the study's
            notation and its 22 configurations.

   MIT License

   Copyright (c) 2026 the cnn.h authors

   Permission is hereby granted, free of charge, to any person obtaining a copy of this software
   and associated documentation files (the "Software"), to deal in the Software without
   restriction, including without limitation the rights to use, copy, modify, merge, publish,
   distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
   Software is furnished to do so, subject to the following conditions:

   The above copyright notice and this permission notice shall be included in all copies or
   substantial portions of the Software.

   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
   BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
   NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
   DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
   OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
