/*
** cpu/cpu.h: what the CPU backend's kernels share and the rest of src/nn
** does not see: oneDNN. The graph, the op definitions and the planner know
** a tensor's layout only as an opaque handle (di_nn_tensor.layout) and the
** oneDNN engine only as di_nn_env.cpu; the types behind both are here.
*/
#ifndef DI_NN_CPU_H
#define DI_NN_CPU_H

#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <string.h>

#include "../op.h"

/* A tensor's layout: when the tensor is blocked, the oneDNN memory
** descriptor of its data (nChw16c and the like). Every tensor of a plan has
** one (the planner asks layout.c for them), plain until a kernel's prepare
** chooses another: kernels write t->blocked and t->layout->md together. */
struct di_nn_layout {
    dnnl_memory_desc_t md; /* valid when the tensor is blocked */
};

/* The oneDNN engine and stream of a session, made on first use: a plan that
** builds no primitive (one for another backend) makes none. */
struct di_nn_cpu_env {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
};

/* The session's oneDNN CPU engine and stream, made when first asked for;
** NULL when oneDNN has none (the oneDNN call that gets it then fails, and
** its kernel says so naming the node). */
dnnl_engine_t di_nn_cpu_engine(di_nn_env *env);
dnnl_stream_t di_nn_cpu_stream(di_nn_env *env);
#define cpu_engine(k) di_nn_cpu_engine((k)->env)

/* Where oneDNN is loaded on first use (dnnl_lazy.c, DI_DNNL_SONAME defined):
** loads it once and says why it could not be loaded, or NULL; and which file
** it loads (DI_DNNL_SONAME, or $DEPTHINDEX_DNNL_LIBRARY). */
const char *di_dnnl_lazy_error(void);
const char *di_dnnl_lazy_library(void);
#define cpu_stream(k) di_nn_cpu_stream((k)->env)

struct di_nn_step;
/* Runs a reorder step of a plan (the layout hooks' convert_step). */
int di_nn_cpu_convert_run(di_nn_env *env, struct di_nn_step *st, di_error *err);

/* Runs a oneDNN call inside a kernel function that has `int rc`, `err` and a
** `fail:` label: on failure rc gets a message naming the node, then goto fail. */
#define DI_NN_DNNL(node, call, what)                                                               \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success) {                                                                 \
            rc = di_nn_dnnl_fail(err, (node), what, st_);                                          \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
/* A oneDNN call failed: a message naming the node. */
int di_nn_dnnl_fail(di_error *err, const di_nn_node *n, const char *what, dnnl_status_t st);
/* The first of oneDNN's implementations of op_desc (a dnnl_*_desc_t; the
** list is oneDNN's, best first) whose implementation string contains want
** ("gemm:jit"), or NULL: none does, the list could not be made, or its
** first (dnnl_primitive_desc_create's choice) contains `unless` (NULL: no
** such test). The caller destroys what it gets. */
dnnl_primitive_desc_t di_nn_impl_pd(const_dnnl_op_desc_t op_desc, const_dnnl_primitive_attr_t attr,
                                    dnnl_engine_t eng, const char *want, const char *unless);
/* dnnl memory_desc for a plain tensor (ndim 0..6). */
int di_nn_plain_md(const di_nn_tensor *t, dnnl_memory_desc_t *md);
/* The plain row-major bf16 descriptor of a float32 tensor's shape: the
** layout of a bf16 activation that a MatMul or LayerNormalization writes
** for consumers reading bf16 (k->bf16_consumers). */
static inline int di_nn_plain_bf16_md(const di_nn_tensor *t, dnnl_memory_desc_t *md)
{
    int rc = t->dtype == DI_DT_FLOAT ? di_nn_plain_md(t, md) : DI_EUNSUPPORTED;
    if (!rc)
        md->data_type = dnnl_bf16; /* strides count elements: the same order */
    return rc;
}

/* bf16 values between kernels (a bf16 session): a float rounded to the
** nearest bf16, ties to even, as oneDNN rounds (NaN stays a NaN), and back.
** Plain C the compiler vectorises: kernels that keep bf16 activations
** compute in float32 between these two. */
static inline uint16_t di_bf16_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float di_bf16_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
