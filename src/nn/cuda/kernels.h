/*
** kernels.h: the CUDA backend's own kernels (kernels.cu), callable from C.
**
** Every launcher queues work on the given stream and returns the launch's
** cudaError_t (0 when queued). Tensors are dense row-major (the engine's
** "plain" layout); shapes and strides are in elements.
*/
#ifndef DI_NN_CUDA_KERNELS_H
#define DI_NN_CUDA_KERNELS_H

#include <stdint.h>
#include <cuda_runtime_api.h>

#include "../types.h" /* DI_NN_MAX_DIMS, the element types DI_DT_* */
#include "../unary.h" /* the unary kinds (DI_U_*), shared with the CPU */

#ifdef __cplusplus
extern "C" {
#endif

/* An n-D walk: dims of the index space; src/dst strides per dim (0 for a
** broadcast dim, negative for a reversed Slice). */
typedef struct cu_walk {
    int nd;
    int64_t dims[DI_NN_MAX_DIMS];
    int64_t sa[DI_NN_MAX_DIMS], sb[DI_NN_MAX_DIMS], sc[DI_NN_MAX_DIMS];
} cu_walk;

/* comparisons (bool out) come last */
enum { CU_ADD, CU_SUB, CU_MUL, CU_DIV, CU_POW, CU_MAX, CU_MIN, CU_PRELU, CU_EQ, CU_LT, CU_GT };
enum { CU_RSUM, CU_RMEAN, CU_RMAX, CU_RMIN };
enum { CU_PAD_CONST, CU_PAD_REFLECT, CU_PAD_EDGE };

/* Host mode: the launchers run the kernels' bodies on the host, on host
** memory (tests without a GPU). Off by default; set per thread. */
void cu_set_host_mode(int on);
int cu_host_mode(void);

/* dst[walk(sb)] = src[walk(sa)] + offsets; esize 1, 2, 4 or 8 bytes. */
int cu_copy(cudaStream_t st, const cu_walk *w, const void *src, int64_t soff, void *dst,
            int64_t doff, int esize);
/* y = f(x) for n floats; a, b: Clip bounds, alpha (LeakyRelu, Elu,
** HardSigmoid) and beta (HardSigmoid) or gamma (Selu). */
int cu_unary(cudaStream_t st, int op, int64_t n, float a, float b, const float *x, float *y);
/* y = a op b with numpy broadcast (walk over y's dims, sa/sb: a/b strides);
** contiguous: a and b have y's shape (no index arithmetic). Comparison ops
** write bytes (bool). */
int cu_binary(cudaStream_t st, int op, const cu_walk *w, int contiguous, const float *a,
              const float *b, void *y);
/* y = cond ? x : z, 4-byte elements, broadcast (sa: cond, sb: x, sc: z). */
int cu_where(cudaStream_t st, const cu_walk *w, const uint8_t *cond, const void *x, const void *z,
             void *y);
/* Fused tail of Conv / MatMul / Gemm: y = post(...post(y + bias[c])...).
** bias (may be NULL) indexed by (i / inner) % channels; addend k indexed
** by i % amod[k]. kinds: 1 Relu, 2 Clip, 3 Add (graph op.h numbering). */
int cu_epilogue(cudaStream_t st, int64_t n, float *y, const float *bias, int64_t inner,
                int64_t channels, int npost, const int *kinds, const float *lo, const float *hi,
                const float *const *addend, const int64_t *amod);
/* Resize over the last two axes with per-row / per-column tables. */
int cu_resize(cudaStream_t st, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
              const int32_t *y0, const int32_t *y1, const float *wy, const int32_t *x0,
              const int32_t *x1, const float *wx, int linear, const float *x, float *y);
/* Softmax (or LogSoftmax) over contiguous rows of len. */
int cu_softmax(cudaStream_t st, int64_t rows, int64_t len, int logsoft, const float *x, float *y);
/* LayerNormalization over contiguous rows; bias, mean and invstd (per row,
** the optional outputs) may be NULL. */
int cu_layernorm(cudaStream_t st, int64_t rows, int64_t len, float eps, const float *x,
                 const float *scale, const float *bias, float *y, float *mean, float *invstd);
/* Reduction of x viewed as [outer, r, inner] over r. */
int cu_reduce(cudaStream_t st, int op, int64_t outer, int64_t r, int64_t inner, const float *x,
              float *y);
/* Gather along an axis: data viewed as [outer, axis_len, inner]; indices
** (int32 or int64, count nidx; negative ones count from the end). */
int cu_gather(cudaStream_t st, int64_t outer, int64_t axis_len, int64_t inner, const void *idx,
              int idx_is64, int64_t nidx, const void *data, void *y, int esize);
/* Pad: y's dims in w->dims, x's in xdims, begin pads pb (negative crops). */
int cu_pad(cudaStream_t st, const cu_walk *w, const int64_t *xdims, const int64_t *pb, int mode,
           float value, const float *x, float *y);
/* Tile: y[c] = x[c mod xdims]. */
int cu_tile(cudaStream_t st, const cu_walk *w, const int64_t *xdims, const void *x, void *y,
            int esize);
/* Cast between the element types of types.h (DI_DT_*). */
int cu_cast(cudaStream_t st, int64_t n, int from, int to, const void *x, void *y);
/* BatchNormalization (inference): y = (x - mean[c]) / sqrt(var[c] + eps)
** * scale[c] + bias[c] with c = (i / inner) % channels. */
int cu_batchnorm(cudaStream_t st, int64_t n, int64_t inner, int64_t channels, float eps,
                 const float *scale, const float *bias, const float *mean, const float *var,
                 const float *x, float *y);

#ifdef __cplusplus
}
#endif
#endif
