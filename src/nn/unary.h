/*
** unary.h: the kinds of unary elementwise op, one list for every backend
** (op.h's di_nn_op.unary names an op's kind; the CPU kernels in cpu/ops_math.c
** and cpu/ops_elem.c and the CUDA kernels in cuda/kernels.cu switch on it).
** Plain C with no includes: nvcc compiles it too.
*/
#ifndef DI_NN_UNARY_H
#define DI_NN_UNARY_H

enum di_nn_unary_kind {
    DI_U_NONE = 0, /* not a unary elementwise op */
    DI_U_RELU,
    DI_U_CLIP,
    DI_U_SIGMOID,
    DI_U_ERF,
    DI_U_GELU,
    DI_U_GELU_TANH,
    DI_U_SQRT,
    DI_U_EXP,
    DI_U_LOG,
    DI_U_TANH,
    DI_U_NEG,
    DI_U_ABS,
    DI_U_RECIP,
    DI_U_FLOOR,
    DI_U_CEIL,
    DI_U_LEAKY,
    DI_U_HARDSIGMOID,
    DI_U_HARDSWISH,
    DI_U_SOFTPLUS,
    DI_U_ELU,
    DI_U_SELU,
    DI_U_ROUND,
    DI_U_SIGN,
    DI_U_SIN,
    DI_U_COS,
    DI_U_SOFTSIGN,
    DI_U_COUNT /* a new kind goes before this, with its case in every backend */
};

#endif
