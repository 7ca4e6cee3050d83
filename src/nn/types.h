/*
** types.h: the engine's element types and its largest rank, for every
** backend: graph.h includes it, and so does cuda/kernels.h (plain C with no
** includes: nvcc compiles it too).
*/
#ifndef DI_NN_TYPES_H
#define DI_NN_TYPES_H

#define DI_NN_MAX_DIMS 8

/* Element types, numbered as ONNX's TensorProto.DataType. */
enum {
    DI_DT_UNDEFINED = 0,
    DI_DT_FLOAT = 1,
    DI_DT_UINT8 = 2,
    DI_DT_INT8 = 3,
    DI_DT_INT32 = 6,
    DI_DT_INT64 = 7,
    DI_DT_BOOL = 9,
    DI_DT_FLOAT16 = 10, /* read from files only: widened to float32 at load (fp16.c) */
    DI_DT_DOUBLE = 11,
};

#endif
