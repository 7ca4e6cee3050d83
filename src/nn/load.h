/*
** load.h: what the parts of the ONNX loader share (src/nn/load*.c only):
** load.c reads the file and owns the graph's lifetime, load_graph.c builds
** the graph from a ModelProto, load_tensor.c decodes TensorProtos,
** load_external.c reads a tensor's external data file.
*/
#ifndef DI_NN_LOAD_H
#define DI_NN_LOAD_H

#include "onnx.pb-c.h"
#include "engine.h"

typedef struct loader {
    const char *name;     /* model file, for messages */
    const char *base_dir; /* for external data; NULL refuses it */
    int flags;
    int missing; /* zero-filled external tensors */
} loader;

int di_nn_read_external(loader *L, const Onnx__TensorProto *t, const char *tname, void *dst,
                        size_t bytes, di_error *err);
int di_nn_tensor_from_proto(loader *L, const Onnx__TensorProto *t, int *dtype, int *ndim,
                            int64_t *dims, void **data, di_error *err);
int di_nn_graph_build(loader *L, const Onnx__ModelProto *mp, const Onnx__GraphProto *gp,
                      di_nn_graph *g, di_error *err);

#endif
