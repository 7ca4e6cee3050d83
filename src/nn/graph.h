/*
** graph.h: the engine's graph IR, built from an ONNX ModelProto by load.c.
**
** Values are every named tensor of the graph (inputs, initializers, node
** outputs); nodes refer to values by index. The IR keeps no protobuf
** objects: everything it needs is copied out, so the protobuf tree is freed
** right after loading. Shapes here are the ones the file declares; the
** concrete shapes for a batch size are worked out per plan (plan.c).
*/
#ifndef DI_NN_GRAPH_H
#define DI_NN_GRAPH_H

#include "../core/core.h"
#include "types.h" /* DI_NN_MAX_DIMS, DI_DT_* */

size_t di_dtype_size(int dtype); /* 0 for types the engine does not hold */
const char *di_dtype_name(int dtype);

typedef struct di_nn_attr {
    char *name;
    int type; /* ONNX AttributeType: 1 float, 2 int, 3 string, 4 tensor, 6 floats, 7 ints */
    float f;
    int64_t i;
    char *s; /* NUL-terminated copy */
    int n;   /* element count of ints / floats */
    int64_t *ints;
    float *floats;
    int t_dtype; /* tensor attribute (Constant's value) */
    int t_ndim;
    int64_t t_dims[DI_NN_MAX_DIMS];
    void *t_data;
} di_nn_attr;

typedef struct di_nn_value {
    char *name;
    int dtype;                    /* DI_DT_*, 0 when not known from the file */
    int ndim;                     /* -1 when not known from the file */
    int64_t dims[DI_NN_MAX_DIMS]; /* -1 for a symbolic dimension */
    void *data;                   /* initializer data (owned), else NULL */
    int producer;                 /* node index, or -1 */
} di_nn_value;

struct di_nn_op;

typedef struct di_nn_node {
    char *name; /* the node's name, or "OpType#index" when the file has none */
    char *op_type;
    int nin, nout;
    int *in; /* value indices; -1 for an omitted optional input */
    int *out;
    int nattr;
    di_nn_attr *attrs;
    const struct di_nn_op *op; /* kernel table entry, set at load */
} di_nn_node;

typedef struct di_nn_graph {
    char *path;    /* the model file, for messages */
    int64_t opset; /* default-domain opset version */
    int nvalues, nnodes;
    di_nn_value *values;
    di_nn_node *nodes; /* in topological order after loading */
    int ninputs, noutputs;
    int *inputs; /* graph inputs that are not initializers */
    int *outputs;
    int64_t param_count;  /* elements in float initializers */
    int missing_external; /* initializers zero-filled (DI_NN_LOAD_INFO) */
    int nunsupported;     /* DI_NN_LOAD_INFO: what a session would refuse */
    char **unsupported;   /* one message per node */
    char *file_info;      /* describe.c: what the file declares (domains, local
                          ** functions, symbolic dimensions, element types), lines */
} di_nn_graph;

/* Loader flags. DI_NN_LOAD_INFO is for describing a model (`depthindex
** model`): missing external data is zero-filled (counted) and unsupported
** ops are listed instead of failing the load. */
enum { DI_NN_LOAD_INFO = 1 };

/* Loads an ONNX file (external data resolved relative to its folder). Every
** node is checked against the kernel table: an unsupported op or attribute
** value fails here, naming the node and the op. */
int di_nn_graph_load(const char *path, di_nn_graph **out, di_error *err);
/* The same from memory; base_dir is where external data files are looked up
** (NULL: external data is refused). name is used in messages. */
int di_nn_graph_load_mem(const uint8_t *data, size_t size, const char *name, const char *base_dir,
                         di_nn_graph **out, di_error *err);
int di_nn_graph_load_flags(const char *path, int flags, di_nn_graph **out, di_error *err);
void di_nn_graph_free(di_nn_graph *g);
/* rewrite.c: exported patterns into single nodes (the Div/Erf/Add/Mul/Mul
** form of GELU into Gelu, the nine-node LayerNorm into LayerNormalization);
** done by the loader, except for DI_NN_LOAD_INFO. */
int di_nn_rewrite(di_nn_graph *g);

/* opset.c: a file of opset 7 to 10 into the opset-11 forms the kernels know
** (Upsample and Resize-10 into Resize, attribute forms of Slice, Pad, Clip
** into inputs); nothing for opset 11 and later. */
int di_nn_opset_convert(di_nn_graph *g, di_error *err);

/* fp16.c: float16 <-> float32 (nearest even), a float16 tensor widened
** (malloc'd), and a file's float16 values read as float32 with its Casts to
** float16 turned into RoundFloat16 (after loading, before the checks). */
float di_fp16_to_f32(uint16_t h);
uint16_t di_f32_to_fp16(float f);
float di_fp16_round(float f);
float *di_nn_fp16_widen(const uint16_t *h, int64_t n);
int di_nn_fp16_convert(di_nn_graph *g, di_error *err);

/* quant.c: the ops of other domains the loader takes (com.microsoft
** MatMulNBits, MatMulBnb4), and their conversion at load (dequantized into MatMul). */
bool di_nn_quant_domain_op(const char *domain, const char *op_type);
int di_nn_quant_convert(di_nn_graph *g, di_error *err);

/* describe.c: g->file_info from the file's ModelProto (a const
** Onnx__ModelProto *, passed as void * to keep protobuf out of this
** header); NULL on out of memory, which only loses the description. */
void di_nn_file_info_fill(di_nn_graph *g, const void *model_proto);

const di_nn_attr *di_nn_node_attr(const di_nn_node *n, const char *name);
int64_t di_nn_attr_int(const di_nn_node *n, const char *name, int64_t dflt);
float di_nn_attr_float(const di_nn_node *n, const char *name, float dflt);
const char *di_nn_attr_string(const di_nn_node *n, const char *name, const char *dflt);

int64_t di_shape_numel(int ndim, const int64_t *dims);

#endif
