/*
** functions.c: ONNX local functions (ModelProto.functions, FunctionProto),
** inlined at load.
**
** TorchDynamo exports (opset 18, the Depth-Anything-ONNX static files) put
** each module in a function of a custom domain and call it from the graph:
** a node whose (domain, op_type) names a local function. The loader sees
** the graph with every such call replaced by the function's nodes:
** the function's inputs and outputs renamed to the caller's, its internal
** values to "<function>#<call>/<name>" (unique per call), and attributes
** that refer to the caller's (ref_attr_name) taken from the call. Calls
** inside functions are inlined the same way, 16 levels deep at most (a
** function calling itself is an error, as ONNX forbids it). The protobuf
** nodes made here live in an arena freed after loading.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "functions.h"

#define MAX_DEPTH 16
#define MAX_INLINED_NODES (1 << 20)

typedef struct inliner {
    const Onnx__ModelProto *mp;
    const char *file;
    di_fn_arena *arena;
    Onnx__NodeProto **out;
    size_t n, cap;
    unsigned calls;
} inliner;

static void *arena_alloc(di_fn_arena *a, size_t bytes)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        void **p = realloc(a->blocks, cap * sizeof *p);
        if (!p)
            return NULL;
        a->blocks = p;
        a->cap = cap;
    }
    void *m = calloc(1, bytes ? bytes : 1);
    if (m)
        a->blocks[a->n++] = m;
    return m;
}

void di_fn_arena_free(di_fn_arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

static bool default_domain(const char *d)
{
    return !d || !*d || !strcmp(d, "ai.onnx");
}

const Onnx__FunctionProto *di_fn_find(const Onnx__ModelProto *mp, const Onnx__NodeProto *n)
{
    for (size_t i = 0; i < mp->n_functions; i++) {
        const Onnx__FunctionProto *f = mp->functions[i];
        if (!f->name || !n->op_type || strcmp(f->name, n->op_type))
            continue;
        if (default_domain(f->domain) ? default_domain(n->domain)
                                      : (n->domain && !strcmp(f->domain, n->domain)))
            return f;
    }
    return NULL;
}

static int emit(inliner *L, Onnx__NodeProto *n, di_error *err)
{
    if (L->n == L->cap) {
        if (L->cap >= MAX_INLINED_NODES)
            return di_fail(err, DI_EUNSUPPORTED,
                           "%s: inlining local functions makes more than %d nodes", L->file,
                           MAX_INLINED_NODES);
        size_t cap = L->cap ? 2 * L->cap : 256;
        Onnx__NodeProto **p = realloc(L->out, cap * sizeof *p);
        if (!p)
            return di_fail(err, DI_ENOMEM, "out of memory");
        L->out = p;
        L->cap = cap;
    }
    L->out[L->n++] = n;
    return DI_OK;
}

/* name within a call: a function input or output maps to the caller's,
** anything else gets the call's prefix; "" stays "" (an omitted input) */
static char *rename_value(inliner *L, const Onnx__FunctionProto *f, const Onnx__NodeProto *call,
                          const char *prefix, const char *name)
{
    if (!name || !*name)
        return "";
    for (size_t i = 0; i < f->n_input; i++)
        if (f->input[i] && !strcmp(f->input[i], name))
            return i < call->n_input ? call->input[i] : "";
    for (size_t i = 0; i < f->n_output; i++)
        if (f->output[i] && !strcmp(f->output[i], name) && i < call->n_output && call->output[i] &&
            *call->output[i])
            return call->output[i];
    size_t len = strlen(prefix) + strlen(name) + 2;
    char *s = arena_alloc(L->arena, len);
    if (s)
        snprintf(s, len, "%s/%s", prefix, name);
    return s;
}

static int expand(inliner *L, Onnx__NodeProto *n, const Onnx__FunctionProto **stack, int depth,
                  di_error *err);

static int inline_call(inliner *L, const Onnx__FunctionProto *f, const Onnx__NodeProto *call,
                       const Onnx__FunctionProto **stack, int depth, di_error *err)
{
    const char *cname = call->name && *call->name ? call->name : call->op_type;
    for (int i = 0; i < depth; i++)
        if (stack[i] == f)
            return di_fail(err, DI_EFORMAT, "%s: node '%s': local function %s calls itself",
                           L->file, cname, f->name);
    if (depth >= MAX_DEPTH)
        return di_fail(err, DI_EUNSUPPORTED,
                       "%s: node '%s': local functions nested more than %d deep", L->file, cname,
                       MAX_DEPTH);
    if (call->n_input > f->n_input || call->n_output > f->n_output)
        return di_fail(err, DI_EFORMAT,
                       "%s: node '%s': %zu inputs and %zu outputs for local function %s, which "
                       "has %zu and %zu",
                       L->file, cname, call->n_input, call->n_output, f->name, f->n_input,
                       f->n_output);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%.200s#%u", f->name, L->calls++);
    stack[depth] = f;
    for (size_t k = 0; k < f->n_node; k++) {
        const Onnx__NodeProto *src = f->node[k];
        Onnx__NodeProto *n = arena_alloc(L->arena, sizeof *n);
        char **ins = arena_alloc(L->arena, (src->n_input + 1) * sizeof(char *));
        char **outs = arena_alloc(L->arena, (src->n_output + 1) * sizeof(char *));
        Onnx__AttributeProto **attrs =
            arena_alloc(L->arena, (src->n_attribute + 1) * sizeof(Onnx__AttributeProto *));
        size_t nlen = strlen(prefix) + strlen(src->name ? src->name : "") + 16;
        char *nm = arena_alloc(L->arena, nlen);
        if (!n || !ins || !outs || !attrs || !nm)
            return di_fail(err, DI_ENOMEM, "out of memory");
        *n = *src;
        snprintf(nm, nlen, "%s/%s", prefix, src->name && *src->name ? src->name : "node");
        if (!src->name || !*src->name)
            snprintf(nm, nlen, "%s/%s_%zu", prefix, src->op_type ? src->op_type : "node", k);
        n->name = nm;
        for (size_t j = 0; j < src->n_input; j++)
            if (!(ins[j] = rename_value(L, f, call, prefix, src->input[j])))
                return di_fail(err, DI_ENOMEM, "out of memory");
        for (size_t j = 0; j < src->n_output; j++)
            if (!(outs[j] = rename_value(L, f, call, prefix, src->output[j])))
                return di_fail(err, DI_ENOMEM, "out of memory");
        n->input = ins;
        n->output = outs;
        /* attributes referring to the caller's: its value under the
        ** function node's attribute name; dropped when the caller has none */
        size_t na = 0;
        for (size_t j = 0; j < src->n_attribute; j++) {
            Onnx__AttributeProto *a = src->attribute[j];
            if (!a->ref_attr_name || !*a->ref_attr_name) {
                attrs[na++] = a;
                continue;
            }
            for (size_t c = 0; c < call->n_attribute; c++)
                if (call->attribute[c]->name &&
                    !strcmp(call->attribute[c]->name, a->ref_attr_name)) {
                    Onnx__AttributeProto *copy = arena_alloc(L->arena, sizeof *copy);
                    if (!copy)
                        return di_fail(err, DI_ENOMEM, "out of memory");
                    *copy = *call->attribute[c];
                    copy->name = a->name;
                    attrs[na++] = copy;
                    break;
                }
        }
        n->attribute = attrs;
        n->n_attribute = na;
        int rc = expand(L, n, stack, depth + 1, err);
        if (rc)
            return rc;
    }
    return DI_OK;
}

static int expand(inliner *L, Onnx__NodeProto *n, const Onnx__FunctionProto **stack, int depth,
                  di_error *err)
{
    const Onnx__FunctionProto *f = di_fn_find(L->mp, n);
    return f ? inline_call(L, f, n, stack, depth, err) : emit(L, n, err);
}

int di_fn_inline(const Onnx__ModelProto *mp, const char *file, di_fn_arena *arena,
                 Onnx__GraphProto *out, di_error *err)
{
    inliner L = {.mp = mp, .file = file, .arena = arena};
    const Onnx__FunctionProto *stack[MAX_DEPTH + 1];
    *out = *mp->graph;
    for (size_t i = 0; i < mp->graph->n_node; i++) {
        int rc = expand(&L, mp->graph->node[i], stack, 0, err);
        if (rc) {
            free(L.out);
            return rc;
        }
    }
    /* the list itself goes into the arena too, freed with it */
    Onnx__NodeProto **list = arena_alloc(arena, (L.n + 1) * sizeof *list);
    if (!list) {
        free(L.out);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    if (L.n)
        memcpy(list, L.out, L.n * sizeof *list);
    free(L.out);
    out->node = list;
    out->n_node = L.n;
    return DI_OK;
}
