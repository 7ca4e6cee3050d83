/*
** vit_model.c: writes a ViT encoder with a small DPT-like head as an ONNX
** file, with deterministic weights, for timing our engine against
** onnxruntime on the transformer path (bench/run-nnops-vit.sh). Default
** size: ViT-S/14 at 518x518 (384 wide, 6 heads, 12 blocks, MLP 1536), the
** encoder of Depth Anything V2 small. Built through the protobuf-c ONNX
** types; opset 20.
**
** The graph is what torch exports: a patch-embed Conv, the batch taken from
** Shape/Gather/Unsqueeze/Concat into a Reshape, Transpose, a position
** embedding; per block LayerNormalization, MatMul + bias, heads split by
** Reshape/Transpose and Gather or Slice+Squeeze, scaled MatMul, Softmax,
** MatMul, projection and residual, then LayerNorm decomposed (ReduceMean,
** Sub, Pow, Sqrt, Div) and an MLP with the Erf form of GELU; the head is
** ConvTranspose, Gelu (tanh), Resize (linear, align_corners), Conv, Sigmoid.
**
** usage: vit_model OUT.onnx [DIM HEADS PATCH GRID BLOCKS]
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

/* ---- a graph builder over protobuf-c structs; everything in one pool ---- */

typedef struct builder {
    void **pool;
    int npool, cap_pool;
    Onnx__NodeProto *nodes[2048];
    int nnodes;
    Onnx__TensorProto *inits[1024];
    int ninits;
    uint64_t rng;
} builder;

static void *gnew(builder *b, size_t bytes)
{
    if (b->npool == b->cap_pool) {
        b->cap_pool = b->cap_pool ? 2 * b->cap_pool : 256;
        b->pool = realloc(b->pool, (size_t)b->cap_pool * sizeof *b->pool);
        if (!b->pool) abort();
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) abort();
    b->pool[b->npool++] = p;
    return p;
}

static char *gstr(builder *b, const char *s)
{
    char *d = gnew(b, strlen(s) + 1);
    memcpy(d, s, strlen(s) + 1);
    return d;
}

/* names separated by commas; an empty name is an omitted input */
static char **names(builder *b, const char *list, size_t *n)
{
    *n = 0;
    if (!*list) return NULL;
    size_t cnt = 1;
    for (const char *p = list; *p; p++) cnt += *p == ',';
    char **v = gnew(b, cnt * sizeof *v);
    const char *p = list;
    for (size_t i = 0; i < cnt; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        v[i] = gnew(b, len + 1);
        memcpy(v[i], p, len);
        p = e ? e + 1 : p + len;
    }
    *n = cnt;
    return v;
}

static Onnx__NodeProto *node(builder *b, const char *op, const char *ins, const char *outs)
{
    Onnx__NodeProto *n = gnew(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = gstr(b, op);
    char nm[64];
    snprintf(nm, sizeof nm, "%s_%d", op, b->nnodes);
    n->name = gstr(b, nm);
    n->input = names(b, ins, &n->n_input);
    n->output = names(b, outs, &n->n_output);
    n->attribute = gnew(b, 8 * sizeof *n->attribute);
    b->nodes[b->nnodes++] = n;
    return n;
}

static Onnx__AttributeProto *attr(builder *b, Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType t)
{
    Onnx__AttributeProto *a = gnew(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = gstr(b, name);
    a->has_type = 1;
    a->type = t;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_i(builder *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_f(builder *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void attr_s(builder *b, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)gstr(b, v);
    a->s.len = strlen(v);
}

static void attr_ints(builder *b, Onnx__NodeProto *n, const char *name, int cnt, ...)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = gnew(b, (size_t)cnt * sizeof(int64_t));
    a->n_ints = (size_t)cnt;
    va_list ap;
    va_start(ap, cnt);
    for (int i = 0; i < cnt; i++) a->ints[i] = va_arg(ap, int64_t);
    va_end(ap);
}

static Onnx__TensorProto *tensor(builder *b, const char *name, int dtype, int nd, const int64_t *dims, size_t es)
{
    Onnx__TensorProto *t = gnew(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = gstr(b, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)nd;
    t->dims = gnew(b, (size_t)(nd ? nd : 1) * sizeof(int64_t));
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        t->dims[i] = dims[i];
        n *= (size_t)dims[i];
    }
    t->has_raw_data = 1;
    t->raw_data.len = n * es;
    t->raw_data.data = gnew(b, n * es);
    b->inits[b->ninits++] = t;
    return t;
}

static float uniform(builder *b)
{
    b->rng = b->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(b->rng >> 40) / (double)(1 << 24)) * 2.f - 1.f;
}

/* weights uniform in [-scale, scale] */
static void weights(builder *b, const char *name, float scale, int nd, ...)
{
    int64_t dims[8];
    va_list ap;
    va_start(ap, nd);
    for (int i = 0; i < nd; i++) dims[i] = va_arg(ap, int64_t);
    va_end(ap);
    Onnx__TensorProto *t = tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, nd, dims, 4);
    float *f = (float *)(void *)t->raw_data.data;
    for (size_t i = 0; i < t->raw_data.len / 4; i++) f[i] = scale * uniform(b);
}

static void scalar_f(builder *b, const char *name, float v)
{
    Onnx__TensorProto *t = tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, 4);
    memcpy(t->raw_data.data, &v, 4);
}

static void ints(builder *b, const char *name, int scalar, int cnt, ...)
{
    int64_t d = cnt;
    Onnx__TensorProto *t = tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, scalar ? 0 : 1, &d, 8);
    va_list ap;
    va_start(ap, cnt);
    for (int i = 0; i < cnt; i++) {
        int64_t v = va_arg(ap, int64_t);
        memcpy(t->raw_data.data + 8 * (size_t)i, &v, 8);
    }
    va_end(ap);
}

static Onnx__ValueInfoProto *value_info(builder *b, const char *name, int nd, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = gnew(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = gstr(b, name);
    Onnx__TypeProto *tp = gnew(b, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = gnew(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    Onnx__TensorShapeProto *sh = gnew(b, sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)nd;
    sh->dim = gnew(b, (size_t)nd * sizeof *sh->dim);
    for (int i = 0; i < nd; i++) {
        Onnx__TensorShapeProto__Dimension *d = gnew(b, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = gstr(b, "N");
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        sh->dim[i] = d;
    }
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->type = tp;
    return v;
}

/* The network's size. The test uses a tiny one; --write-model makes a
** ViT-S/14-sized one for timing against onnxruntime. */
typedef struct vit_cfg {
    int dim, heads, patch, grid, blocks, mlp;
} vit_cfg;

static const char *nm(builder *b, int blk, const char *name)
{
    char buf[96];
    snprintf(buf, sizeof buf, "b%d_%s", blk, name);
    return gstr(b, buf);
}

/* "b<blk>_a,b<blk>_b,...": the block's own names; a leading '=' keeps a
** name global */
static const char *nms(builder *b, int blk, const char *list)
{
    char out[512] = "";
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char one[96];
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        if (one[0] == '=') snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", *out || p != list ? "," : "", one + 1);
        else if (one[0]) snprintf(out + strlen(out), sizeof out - strlen(out), "%sb%d_%s", *out || p != list ? "," : "", blk, one);
        else snprintf(out + strlen(out), sizeof out - strlen(out), ",");
        p = e ? e + 1 : p + len;
    }
    return gstr(b, out);
}

/* One transformer block from value `in` to value `out` (global names). */
static void vit_block(builder *b, const vit_cfg *c, int k, const char *in, const char *out)
{
    int64_t D = c->dim, T = (int64_t)c->grid * c->grid, H = c->heads, HD = D / H, M = c->mlp;
    const float sd = 1.f / sqrtf((float)D), sm = 1.f / sqrtf((float)M);
    char buf[256];
    snprintf(buf, sizeof buf, "=%s,ln1_s,ln1_b", in);
    weights(b, nm(b, k, "ln1_s"), 1.f, 1, D);
    weights(b, nm(b, k, "ln1_b"), 0.2f, 1, D);
    Onnx__NodeProto *n = node(b, "LayerNormalization", nms(b, k, buf), nms(b, k, "ln1"));
    attr_i(b, n, "axis", -1);
    attr_f(b, n, "epsilon", 1e-5f);
    weights(b, nm(b, k, "wqkv"), sd, 2, D, 3 * D);
    weights(b, nm(b, k, "bqkv"), 0.1f, 1, 3 * D);
    node(b, "MatMul", nms(b, k, "ln1,wqkv"), nms(b, k, "qkv0"));
    node(b, "Add", nms(b, k, "qkv0,bqkv"), nms(b, k, "qkv"));
    ints(b, nm(b, k, "qkv_shape"), 0, 5, (int64_t)0, T, (int64_t)3, H, HD);
    node(b, "Reshape", nms(b, k, "qkv,qkv_shape"), nms(b, k, "qkv5"));
    attr_ints(b, node(b, "Transpose", nms(b, k, "qkv5"), nms(b, k, "qkvT")), "perm", 5, (int64_t)2, (int64_t)0, (int64_t)3, (int64_t)1, (int64_t)4);
    attr_i(b, node(b, "Gather", nms(b, k, "qkvT,=i0"), nms(b, k, "q")), "axis", 0);
    attr_i(b, node(b, "Gather", nms(b, k, "qkvT,=i1"), nms(b, k, "k")), "axis", 0);
    node(b, "Slice", nms(b, k, "qkvT,=s2,=e3,=axes0"), nms(b, k, "v5"));
    node(b, "Squeeze", nms(b, k, "v5,=axes0"), nms(b, k, "v"));
    attr_ints(b, node(b, "Transpose", nms(b, k, "k"), nms(b, k, "kT")), "perm", 4, (int64_t)0, (int64_t)1, (int64_t)3, (int64_t)2);
    node(b, "MatMul", nms(b, k, "q,kT"), nms(b, k, "scores0"));
    scalar_f(b, nm(b, k, "qk_scale"), 1.f / sqrtf((float)HD));
    node(b, "Mul", nms(b, k, "scores0,qk_scale"), nms(b, k, "scores"));
    attr_i(b, node(b, "Softmax", nms(b, k, "scores"), nms(b, k, "att")), "axis", -1);
    node(b, "MatMul", nms(b, k, "att,v"), nms(b, k, "o4"));
    attr_ints(b, node(b, "Transpose", nms(b, k, "o4"), nms(b, k, "o4T")), "perm", 4, (int64_t)0, (int64_t)2, (int64_t)1, (int64_t)3);
    node(b, "Reshape", nms(b, k, "o4T,=tok_d"), nms(b, k, "o"));
    weights(b, nm(b, k, "wo"), sd, 2, D, D);
    weights(b, nm(b, k, "bo"), 0.1f, 1, D);
    node(b, "MatMul", nms(b, k, "o,wo"), nms(b, k, "proj0"));
    node(b, "Add", nms(b, k, "proj0,bo"), nms(b, k, "proj"));
    snprintf(buf, sizeof buf, "=%s,proj", in);
    node(b, "Add", nms(b, k, buf), nms(b, k, "h1"));
    /* MLP, LayerNorm decomposed as older exports write it */
    node(b, "ReduceMean", nms(b, k, "h1,=axes_m1"), nms(b, k, "mu"));
    node(b, "Sub", nms(b, k, "h1,mu"), nms(b, k, "dev"));
    node(b, "Pow", nms(b, k, "dev,=two"), nms(b, k, "dev2"));
    node(b, "ReduceMean", nms(b, k, "dev2,=axes_m1"), nms(b, k, "var"));
    node(b, "Add", nms(b, k, "var,=eps"), nms(b, k, "var_e"));
    node(b, "Sqrt", nms(b, k, "var_e"), nms(b, k, "std"));
    node(b, "Div", nms(b, k, "dev,std"), nms(b, k, "nrm"));
    weights(b, nm(b, k, "ln2_s"), 1.f, 1, D);
    weights(b, nm(b, k, "ln2_b"), 0.2f, 1, D);
    node(b, "Mul", nms(b, k, "nrm,ln2_s"), nms(b, k, "ln2a"));
    node(b, "Add", nms(b, k, "ln2a,ln2_b"), nms(b, k, "ln2"));
    weights(b, nm(b, k, "w1"), sd, 2, D, M);
    weights(b, nm(b, k, "b1"), 0.1f, 1, M);
    node(b, "MatMul", nms(b, k, "ln2,w1"), nms(b, k, "fc1a"));
    node(b, "Add", nms(b, k, "fc1a,b1"), nms(b, k, "fc1"));
    node(b, "Div", nms(b, k, "fc1,=sqrt2"), nms(b, k, "g_a"));
    node(b, "Erf", nms(b, k, "g_a"), nms(b, k, "g_e"));
    node(b, "Add", nms(b, k, "g_e,=one"), nms(b, k, "g_p"));
    node(b, "Mul", nms(b, k, "fc1,g_p"), nms(b, k, "g_m"));
    node(b, "Mul", nms(b, k, "g_m,=half"), nms(b, k, "gelu"));
    weights(b, nm(b, k, "w2"), sm, 2, M, D);
    weights(b, nm(b, k, "b2"), 0.1f, 1, D);
    node(b, "MatMul", nms(b, k, "gelu,w2"), nms(b, k, "fc2a"));
    node(b, "Add", nms(b, k, "fc2a,b2"), nms(b, k, "fc2"));
    node(b, "Add", nms(b, k, "h1,fc2"), gstr(b, out));
}

/* Builds the network; returns the packed model (malloc'd). */
static uint8_t *build_model(const vit_cfg *c, size_t *size)
{
    builder b = {.rng = 20240601};
    int64_t D = c->dim, P = c->patch, G = c->grid, T = G * G, img = P * G;
    /* patch embedding */
    weights(&b, "pe_w", 1.f / sqrtf((float)(3 * P * P)), 4, D, (int64_t)3, P, P);
    weights(&b, "pe_b", 0.1f, 1, D);
    Onnx__NodeProto *n = node(&b, "Conv", "x,pe_w,pe_b", "pe");
    attr_ints(&b, n, "strides", 2, P, P);
    attr_ints(&b, n, "kernel_shape", 2, P, P);
    /* the batch from the shape, as exporters write it */
    node(&b, "Shape", "pe", "pe_shape");
    ints(&b, "i0", 1, 1, (int64_t)0);
    ints(&b, "i1", 1, 1, (int64_t)1);
    attr_i(&b, node(&b, "Gather", "pe_shape,i0", "batch"), "axis", 0);
    ints(&b, "axes0", 0, 1, (int64_t)0);
    node(&b, "Unsqueeze", "batch,axes0", "batch1");
    ints(&b, "c_d", 0, 1, D);
    ints(&b, "c_m1", 0, 1, (int64_t)-1);
    attr_i(&b, node(&b, "Concat", "batch1,c_d,c_m1", "tok_shape"), "axis", 0);
    node(&b, "Reshape", "pe,tok_shape", "tok");
    attr_ints(&b, node(&b, "Transpose", "tok", "tokT"), "perm", 3, (int64_t)0, (int64_t)2, (int64_t)1);
    weights(&b, "pos", 0.5f, 3, (int64_t)1, T, D);
    node(&b, "Add", "tokT,pos", "h_0");
    /* constants the blocks share */
    ints(&b, "s2", 0, 1, (int64_t)2);
    ints(&b, "e3", 0, 1, (int64_t)3);
    ints(&b, "tok_d", 0, 3, (int64_t)0, T, D);
    ints(&b, "axes_m1", 0, 1, (int64_t)-1);
    scalar_f(&b, "two", 2.f);
    scalar_f(&b, "eps", 1e-5f);
    scalar_f(&b, "sqrt2", sqrtf(2.f));
    scalar_f(&b, "one", 1.f);
    scalar_f(&b, "half", 0.5f);
    char hin[32], hout[32];
    for (int k = 0; k < c->blocks; k++) {
        snprintf(hin, sizeof hin, "h_%d", k);
        snprintf(hout, sizeof hout, "h_%d", k + 1);
        vit_block(&b, c, k, hin, hout);
    }
    /* head: tokens to a map, up-sampled twice, one channel out */
    attr_ints(&b, node(&b, "Transpose", hout, "h2T"), "perm", 3, (int64_t)0, (int64_t)2, (int64_t)1);
    ints(&b, "map_shape", 0, 4, (int64_t)0, D, G, G);
    node(&b, "Reshape", "h2T,map_shape", "map");
    weights(&b, "wt", 1.f / sqrtf((float)D), 4, D, (int64_t)16, (int64_t)2, (int64_t)2);
    weights(&b, "bt", 0.1f, 1, (int64_t)16);
    attr_ints(&b, node(&b, "ConvTranspose", "map,wt,bt", "up"), "strides", 2, (int64_t)2, (int64_t)2);
    attr_s(&b, node(&b, "Gelu", "up", "upg"), "approximate", "tanh");
    float sc[4] = {1, 1, 2, 2};
    int64_t four = 4;
    Onnx__TensorProto *t = tensor(&b, "scales", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, &four, 4);
    memcpy(t->raw_data.data, sc, sizeof sc);
    n = node(&b, "Resize", "upg,,scales", "rs");
    attr_s(&b, n, "mode", "linear");
    attr_s(&b, n, "coordinate_transformation_mode", "align_corners");
    weights(&b, "w3", 6.f / sqrtf(16 * 9), 4, (int64_t)1, (int64_t)16, (int64_t)3, (int64_t)3);
    weights(&b, "b3", 0.1f, 1, (int64_t)1);
    n = node(&b, "Conv", "rs,w3,b3", "c3");
    attr_ints(&b, n, "pads", 4, (int64_t)1, (int64_t)1, (int64_t)1, (int64_t)1);
    node(&b, "Sigmoid", "c3", "y");

    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = gstr(&b, "tiny_vit_dpt");
    g.n_node = (size_t)b.nnodes;
    g.node = b.nodes;
    g.n_initializer = (size_t)b.ninits;
    g.initializer = b.inits;
    int64_t xd[4] = {-1, 3, img, img}, yd[4] = {-1, 1, 4 * G, 4 * G};
    Onnx__ValueInfoProto *in = value_info(&b, "x", 4, xd), *out = value_info(&b, "y", 4, yd);
    g.n_input = 1;
    g.input = &in;
    g.n_output = 1;
    g.output = &out;
    Onnx__OperatorSetIdProto ops;
    onnx__operator_set_id_proto__init(&ops);
    ops.domain = gstr(&b, "");
    ops.has_version = 1;
    ops.version = 20;
    Onnx__OperatorSetIdProto *opsp = &ops;
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 9;
    m.producer_name = gstr(&b, "depthindex test_vit");
    m.n_opset_import = 1;
    m.opset_import = &opsp;
    m.graph = &g;
    *size = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(*size);
    if (buf) onnx__model_proto__pack(&m, buf);
    for (int i = 0; i < b.npool; i++) free(b.pool[i]);
    free(b.pool);
    return buf;
}

int main(int argc, char **argv)
{
    vit_cfg c = {.dim = 384, .heads = 6, .patch = 14, .grid = 37, .blocks = 12, .mlp = 1536};
    if (argc != 2 && argc != 7) {
        fprintf(stderr, "usage: vit_model OUT.onnx [DIM HEADS PATCH GRID BLOCKS]\n");
        return 2;
    }
    if (argc == 7) {
        c.dim = atoi(argv[2]);
        c.heads = atoi(argv[3]);
        c.patch = atoi(argv[4]);
        c.grid = atoi(argv[5]);
        c.blocks = atoi(argv[6]);
        c.mlp = 4 * c.dim;
    }
    if (c.dim < 1 || c.heads < 1 || c.dim % c.heads || c.patch < 1 || c.grid < 1 || c.grid > 100 || c.blocks < 1 || c.blocks > 40) {
        fprintf(stderr, "vit_model: bad model size\n");
        return 2;
    }
    size_t size;
    uint8_t *m = build_model(&c, &size);
    FILE *f = m ? fopen(argv[1], "wb") : NULL;
    int ok = f && fwrite(m, 1, size, f) == size;
    if (f && fclose(f)) ok = 0;
    free(m);
    if (!ok) {
        fprintf(stderr, "vit_model: cannot write %s\n", argv[1]);
        return 1;
    }
    printf("ViT %d wide, %d heads, %d blocks, patch %d, input 3x%dx%d\n", c.dim, c.heads, c.blocks, c.patch, c.patch * c.grid, c.patch * c.grid);
    return 0;
}
