/*
** load.c: ONNX ModelProto (protobuf-c, generated at build time) -> graph IR.
**
** This file reads the model and owns the graph's lifetime (and the attribute
** and element type helpers); the graph is built in load_graph.c, tensors are
** decoded in load_tensor.c, external data read in load_external.c.
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "functions.h"
#include "load.h"

#define MAX_MODEL_BYTES ((size_t)4 << 30)

size_t di_dtype_size(int dtype)
{
    switch (dtype) {
    case DI_DT_FLOAT:
    case DI_DT_INT32: return 4;
    case DI_DT_INT64:
    case DI_DT_DOUBLE: return 8;
    case DI_DT_UINT8:
    case DI_DT_INT8:
    case DI_DT_BOOL: return 1;
    default: return 0;
    }
}

const char *di_dtype_name(int dtype)
{
    switch (dtype) {
    case DI_DT_FLOAT: return "float32";
    case DI_DT_INT32: return "int32";
    case DI_DT_INT64: return "int64";
    case DI_DT_DOUBLE: return "float64";
    case DI_DT_UINT8: return "uint8";
    case DI_DT_INT8: return "int8";
    case DI_DT_BOOL: return "bool";
    case 10: return "float16";
    case 16: return "bfloat16";
    case 8: return "string";
    default: return "unknown";
    }
}

int64_t di_shape_numel(int ndim, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return -1;
        if (dims[i] && n > INT64_MAX / dims[i])
            return -1;
        n *= dims[i];
    }
    return n;
}

static int load_mem(const uint8_t *data, size_t size, const char *name, const char *base_dir,
                    int flags, di_nn_graph **out, di_error *err)
{
    *out = NULL;
    if (size == 0)
        return di_fail(err, DI_EFORMAT, "%s: empty file, not an ONNX model", name);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (!mp)
        return di_fail(
            err, DI_EFORMAT,
            "%s: not a valid ONNX model (protobuf does not parse; truncated or corrupt?)", name);
    loader L = {name, base_dir, flags, 0};
    di_nn_graph *g = calloc(1, sizeof *g);
    int rc;
    if (!g || !(g->path = strdup(name))) {
        free(g);
        g = NULL;
        rc = di_fail(err, DI_ENOMEM, "out of memory");
    } else {
        /* local functions: the graph with their calls inlined (functions.c) */
        Onnx__GraphProto inlined;
        di_fn_arena arena = {0};
        if (!mp->graph)
            rc = di_fail(err, DI_EFORMAT, "%s: not an ONNX model (no graph)", name);
        else if (mp->n_functions)
            rc = di_fn_inline(mp, name, &arena, &inlined, err);
        else
            rc = DI_OK;
        if (!rc)
            rc = di_nn_graph_build(&L, mp, mp->n_functions ? &inlined : mp->graph, g, err);
        di_fn_arena_free(&arena);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc) {
        di_nn_graph_free(g);
        return rc;
    }
    *out = g;
    return DI_OK;
}

int di_nn_graph_load_mem(const uint8_t *data, size_t size, const char *name, const char *base_dir,
                         di_nn_graph **out, di_error *err)
{
    return load_mem(data, size, name, base_dir, 0, out, err);
}

int di_nn_graph_load(const char *path, di_nn_graph **out, di_error *err)
{
    return di_nn_graph_load_flags(path, 0, out, err);
}

int di_nn_graph_load_flags(const char *path, int flags, di_nn_graph **out, di_error *err)
{
    uint8_t *data;
    size_t size;
    *out = NULL;
    int rc = di_read_file(path, MAX_MODEL_BYTES, &data, &size, err);
    if (rc)
        return rc;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    rc = load_mem(data, size, path, dir, flags, out, err);
    free(data);
    return rc;
}

void di_nn_graph_free(di_nn_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nvalues; i++) {
        free(g->values[i].name);
        free(g->values[i].data);
    }
    for (int i = 0; i < g->nnodes; i++) {
        di_nn_node *n = &g->nodes[i];
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->out);
        for (int j = 0; j < n->nattr; j++) {
            free(n->attrs[j].name);
            free(n->attrs[j].s);
            free(n->attrs[j].ints);
            free(n->attrs[j].floats);
            free(n->attrs[j].t_data);
        }
        free(n->attrs);
    }
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    for (int i = 0; i < g->nunsupported; i++)
        free(g->unsupported[i]);
    free(g->unsupported);
    free(g->path);
    free(g->file_info);
    free(g);
}

const di_nn_attr *di_nn_node_attr(const di_nn_node *n, const char *name)
{
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

int64_t di_nn_attr_int(const di_nn_node *n, const char *name, int64_t dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a ? a->i : dflt;
}

float di_nn_attr_float(const di_nn_node *n, const char *name, float dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a ? a->f : dflt;
}

const char *di_nn_attr_string(const di_nn_node *n, const char *name, const char *dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a && a->s ? a->s : dflt;
}
