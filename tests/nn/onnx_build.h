/*
** onnx_build.h: building small ONNX models in C tests with protobuf-c (the
** code the loader is generated from). Everything a model holds is allocated
** through the builder and freed by ob_free().
**
**   ob b; ob_init(&b, 17);
**   ob_input(&b, "x", 3, dims, "N");       // float input; "N": symbolic dim 0
**   ob_init_f(&b, "w", 2, wdims, values);  // float initializer (copied)
**   Onnx__NodeProto *n = ob_node(&b, "MatMul", "x,w", "y");
**   ob_attr_i(&b, n, "axis", 1);
**   ob_output(&b, "y");
**   uint8_t *bytes = ob_pack(&b, &len);    // malloc'd
**   ob_write(&b, path);                    // or the same into a file
*/
#ifndef DI_TEST_ONNX_BUILD_H
#define DI_TEST_ONNX_BUILD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

typedef struct ob {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op, *ops[1];
    void **allocs;
    size_t nallocs, cap;
    size_t cap_node, cap_init, cap_in, cap_out;
} ob;

static void *ob_alloc(ob *b, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    if (b->nallocs == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->allocs = realloc(b->allocs, b->cap * sizeof(void *));
        if (!b->allocs) abort();
    }
    b->allocs[b->nallocs++] = p;
    return p;
}

static char *ob_str(ob *b, const char *s)
{
    char *p = ob_alloc(b, strlen(s) + 1);
    memcpy(p, s, strlen(s));
    return p;
}

static void ob_init(ob *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->op);
    b->op.domain = ob_str(b, "");
    b->op.has_version = 1;
    b->op.version = opset;
    b->ops[0] = &b->op;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->ops;
    b->m.graph = &b->g;
    b->g.name = ob_str(b, "test");
}

/* Grows one of the graph's pointer arrays (kept in the builder's list). */
static void **ob_grow(ob *b, void **arr, size_t n, size_t *cap)
{
    if (n < *cap) return arr;
    size_t nc = *cap ? 2 * *cap : 16;
    void **na = ob_alloc(b, nc * sizeof(void *));
    if (n) memcpy(na, arr, n * sizeof(void *));
    *cap = nc;
    return na;
}

static Onnx__ValueInfoProto *ob_value(ob *b, const char *name, int nd,
                                      const int64_t *dims, const char *dim0_param)
{
    Onnx__ValueInfoProto *v = ob_alloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = ob_str(b, name);
    Onnx__TypeProto *t = ob_alloc(b, sizeof *t);
    onnx__type_proto__init(t);
    Onnx__TypeProto__Tensor *tt = ob_alloc(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    if (nd >= 0) {
        Onnx__TensorShapeProto *sh = ob_alloc(b, sizeof *sh);
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)nd;
        sh->dim = ob_alloc(b, sizeof(void *) * (size_t)(nd + 1));
        for (int i = 0; i < nd; i++) {
            Onnx__TensorShapeProto__Dimension *d = ob_alloc(b, sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (i == 0 && dim0_param) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = ob_str(b, dim0_param);
            } else if (i > 0 && dims[i] < 0) { /* symbolic: "height", "width", "d<i>" */
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = ob_str(b, nd == 4 && i == 2 ? "height" : nd == 4 && i == 3 ? "width" : "d");
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            }
            sh->dim[i] = d;
        }
        tt->shape = sh;
    }
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->type = t;
    return v;
}

static void ob_input(ob *b, const char *name, int nd, const int64_t *dims, const char *dim0_param)
{
    b->g.input = (Onnx__ValueInfoProto **)ob_grow(b, (void **)b->g.input, b->g.n_input, &b->cap_in);
    b->g.input[b->g.n_input++] = ob_value(b, name, nd, dims, dim0_param);
}

static void ob_output(ob *b, const char *name)
{
    b->g.output = (Onnx__ValueInfoProto **)ob_grow(b, (void **)b->g.output, b->g.n_output, &b->cap_out);
    b->g.output[b->g.n_output++] = ob_value(b, name, -1, NULL, NULL);
}

static Onnx__TensorProto *ob_tensor(ob *b, const char *name, int dtype, int nd,
                                    const int64_t *dims, const void *vals, size_t bytes)
{
    Onnx__TensorProto *t = ob_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = ob_str(b, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)nd;
    t->dims = ob_alloc(b, sizeof(int64_t) * (size_t)(nd + 1));
    if (nd) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)nd);
    t->has_raw_data = 1;
    t->raw_data.data = ob_alloc(b, bytes);
    if (bytes) memcpy(t->raw_data.data, vals, bytes);
    t->raw_data.len = bytes;
    return t;
}

static void ob_init_t(ob *b, Onnx__TensorProto *t)
{
    b->g.initializer = (Onnx__TensorProto **)ob_grow(b, (void **)b->g.initializer, b->g.n_initializer, &b->cap_init);
    b->g.initializer[b->g.n_initializer++] = t;
}

static void ob_init_f(ob *b, const char *name, int nd, const int64_t *dims, const float *vals)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    ob_init_t(b, ob_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, nd, dims, vals, n * sizeof(float)));
}

static void ob_init_i64(ob *b, const char *name, int nd, const int64_t *dims, const int64_t *vals)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    ob_init_t(b, ob_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, nd, dims, vals, n * sizeof(int64_t)));
}

/* ins and outs are comma-separated names; an empty name is an omitted input. */
static void ob_names(ob *b, const char *list, char ***out, size_t *n)
{
    size_t cnt = *list ? 1 : 0;
    for (const char *p = list; *p; p++) cnt += *p == ',';
    *out = ob_alloc(b, sizeof(char *) * (cnt + 1));
    *n = 0;
    const char *s = list;
    while (cnt && *n < cnt) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *nm = ob_alloc(b, len + 1);
        memcpy(nm, s, len);
        (*out)[(*n)++] = nm;
        s = e ? e + 1 : s + len;
    }
}

static Onnx__NodeProto *ob_node(ob *b, const char *op, const char *ins, const char *outs)
{
    Onnx__NodeProto *n = ob_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = ob_str(b, op);
    char name[64];
    snprintf(name, sizeof name, "%s_%zu", op, b->g.n_node);
    n->name = ob_str(b, name);
    ob_names(b, ins, &n->input, &n->n_input);
    ob_names(b, outs, &n->output, &n->n_output);
    n->attribute = ob_alloc(b, sizeof(void *) * 8);
    b->g.node = (Onnx__NodeProto **)ob_grow(b, (void **)b->g.node, b->g.n_node, &b->cap_node);
    b->g.node[b->g.n_node++] = n;
    return n;
}

static Onnx__AttributeProto *ob_attr(ob *b, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = ob_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = ob_str(b, name);
    a->has_type = 1;
    a->type = type;
    if (n->n_attribute < 8) n->attribute[n->n_attribute++] = a;
    return a;
}

static void ob_attr_i(ob *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void ob_attr_f(ob *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void ob_attr_ints(ob *b, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)cnt;
    a->ints = ob_alloc(b, sizeof(int64_t) * (size_t)cnt);
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
}

static uint8_t *ob_pack(ob *b, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = malloc(*len + 1);
    if (!buf) abort();
    onnx__model_proto__pack(&b->m, buf);
    return buf;
}

/* The model packed into the file at path (b stays as it is, for ob_free):
** 0, or -1 when the file cannot be written. */
static inline int ob_write(ob *b, const char *path)
{
    size_t len;
    uint8_t *bytes = ob_pack(b, &len);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f && fclose(f))
        ok = 0;
    free(bytes);
    return ok ? 0 : -1;
}

static void ob_free(ob *b)
{
    for (size_t i = 0; i < b->nallocs; i++) free(b->allocs[i]);
    free(b->allocs);
    memset(b, 0, sizeof *b);
}

#endif
