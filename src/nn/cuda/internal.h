/*
** internal.h: the CUDA backend's own structures (src/nn/cuda only).
**
** A cu_plan mirrors one host plan (plan.c) on the GPU: the same steps in the
** same order, every activation at the same offset of a device arena of the
** same size (the liveness memory plan reused as is), folded constants
** uploaded, weights shared by the session. oneDNN's blocked layouts do not
** exist here: every tensor is plain, and the host plan's reorders become
** device copies.
*/
#ifndef DI_NN_CUDA_INTERNAL_H
#define DI_NN_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "cuda.h"
#include "kernels.h"

typedef struct cu_tensor {
    int dtype, ndim;
    int64_t dims[DI_NN_MAX_DIMS];
    void *dev;        /* NULL for an omitted optional input */
    const void *host; /* constants: the host copy (plan time only) */
    bool is_const;
} cu_tensor;

typedef struct cu_ctx {
    cudaStream_t stream;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    di_nn_precision prec;
} cu_ctx;

struct cu_step;
typedef int (*cu_run_fn)(struct cu_step *st, cu_ctx *c, di_error *err);

typedef struct cu_step {
    const di_nn_node *node; /* NULL for a copy (a host-plan reorder) */
    const char *name;       /* op type, for profiles and messages */
    int nin, nout;
    cu_tensor *in, *out;
    /* fused post-ops (op.h's numbering), applied by cu_epilogue */
    int npost;
    int kinds[4];
    float lo[4], hi[4];
    const float *addend[4];
    int64_t amod[4];
    /* an addend that shares the output's buffer is saved here first */
    void *save_dst;
    const void *save_src;
    size_t save_bytes;
    bool accumulate; /* post 0 is an in-place Add done as beta = 1 */
    cu_run_fn run;
    void (*release)(void *p);
    void *p;  /* op parameters */
    void *ws; /* the plan's workspace */
    size_t ws_bytes;
    double flops;
} cu_step;

typedef struct cu_plan {
    di_nn_plan_key key; /* first: the plan cache's (engine.h) */
    cu_step *steps;
    int nsteps;
    uint8_t *arena;
    size_t arena_bytes;
    void *ws;
    size_t ws_bytes;
    cu_tensor *inputs;  /* per graph input */
    cu_tensor *outputs; /* per graph output */
    void **owned;       /* device buffers: folded constants, tables, saves */
    int nowned, cap_owned;
    cudaGraphExec_t graph;
    bool graph_tried;
    int launches;
    double flops;
} cu_plan;

#define CU_MAX_PLANS 4
#define CU_IN_FLIGHT 2

typedef struct cu_slot {
    bool busy;
    cudaEvent_t uploaded, computed, done;
    void *din, *dout; /* device staging */
    size_t din_bytes, dout_bytes;
    float *host_out;
    size_t out_bytes;
} cu_slot;

struct di_nn_cuda {
    int device;
    cu_ctx c;
    cudaStream_t up_stream, down_stream; /* uploads, downloads */
    int nweights;
    const void **w_host; /* graph initializers, host */
    void **w_dev;        /* and their device copies */
    size_t *w_bytes;
    void *w_block;
    cu_plan *plans[CU_MAX_PLANS];
    uint64_t clock;
    bool use_graphs;
    cu_slot slots[CU_IN_FLIGHT];
    int next, oldest, inflight;
};

/* build.c */
int cu_plan_get(di_nn_session *s, const di_nn_io *ins, int nins, cu_plan **out, di_error *err);
void cu_plan_free(cu_plan *p);
/* A GPU plan for these inputs, translated from a host plan (build.c). */
int cu_plan_build(di_nn_session *s, const di_nn_io *ins, int nins, cu_plan **out, di_error *err);
/* cudaMemcpyAsync, or memcpy in host mode (kernels.h). */
cudaError_t cu_copy_async(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                          cudaStream_t stream);
int cu_plan_launch(di_nn_session *s, cu_plan *p, di_error *err);
int cu_check_ops(di_nn_session *s, const di_nn_io *io, di_error *err);

/* helpers shared by the op files */
/* The DI_E* code for a cudaError_t: see build.c. */
int cu_status_cuda(int code);
int cu_fail_cuda(di_error *err, const cu_step *st, const char *what, int code);
int cu_fail_cudnn(di_error *err, const cu_step *st, const char *what, cudnnStatus_t code);
int cu_fail_cublas(di_error *err, const cu_step *st, const char *what, cublasStatus_t code);
int cu_refuse(di_error *err, const cu_step *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t cu_numel(const cu_tensor *t);
size_t cu_bytes(const cu_tensor *t);
/* A device copy of host data owned by the plan (tables, folded values). */
void *cu_upload(cu_plan *p, const void *host, size_t bytes, di_error *err);
int cu_epilogue_run(cu_step *st, cu_ctx *c, float *y, const float *bias, int64_t inner,
                    int64_t channels, bool skip_first, di_error *err);

/* ops: each fills st->run / st->p from the host step, or refuses. */
typedef int (*cu_setup_fn)(cu_plan *p, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err);
cu_setup_fn cu_find_setup(const di_nn_node *n, bool *fold_only);
int cu_setup_conv(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_deconv(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_matmul(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_gemm(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_pool(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_copy(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_unary(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_binary(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_where(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_resize(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_softmax(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_layernorm(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_batchnorm(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_reduce(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_transpose(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_concat(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_split(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_slice(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_expand(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_gather(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_pad(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_tile(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);
int cu_setup_cast(cu_plan *, cu_ctx *, cu_step *, const di_nn_step *, di_error *);

#endif
