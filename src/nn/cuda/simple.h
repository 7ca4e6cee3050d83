/*
** simple.h: what the op files on the backend's own kernels (ops_simple.c,
** ops_move.c) share: their per-step parameters and a few helpers.
*/
#ifndef DI_NN_CUDA_SIMPLE_H
#define DI_NN_CUDA_SIMPLE_H

#include "internal.h"

/* Launches a kernel inside a setup's run function (`st`, `err` in scope). */
#define LAUNCHED(call, what)                                                                       \
    do {                                                                                           \
        int e_ = (call);                                                                           \
        if (e_)                                                                                    \
            return cu_fail_cuda(err, st, what, e_);                                                \
    } while (0)

typedef struct simple_p {
    int op;
    float a, b;
    cu_walk w;
    int contiguous;
    int64_t x0, x1, x2; /* op-specific sizes */
    int64_t pb[DI_NN_MAX_DIMS], xdims[DI_NN_MAX_DIMS];
    void *t0, *t1, *t2, *t3, *t4, *t5; /* device tables */
    int n;                             /* Concat / Split: parts */
    cu_walk *parts;
    int64_t *offs;
} simple_p;

/* New parameters for st (freed with the step). */
simple_p *cu_new_p(cu_step *st, di_error *err);
/* Strides of t broadcast against out dims (numpy rules, right-aligned). */
bool cu_bcast_strides(const cu_tensor *t, int nd, const int64_t *dims, int64_t *s);
/* The node's axis attribute (dflt when absent), negative ones wrapped. */
int cu_axis_of(const cu_step *st, int ndim, int64_t dflt);
/* A walk over y's dims (at least one). */
void cu_walk_of(cu_walk *w, const cu_tensor *y);

static inline bool cu_is_float(const cu_tensor *t)
{
    return t->dtype == DI_DT_FLOAT;
}

#endif
