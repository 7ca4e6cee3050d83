/*
** fn_wrap.h: wraps a run of nodes of a graph built with onnx_build.h into an
** ONNX local function (FunctionProto, domain "pkg.dav2"), called from the
** graph, as TorchDynamo exports write modules (what onnx.helper.make_function
** makes): the function's inputs are what the run reads from outside
** (weights included: a function sees no initializers), its outputs what is
** read after it. Optionally one attribute of the wrapped nodes of an op type
** becomes a reference (ref_attr_name) to an attribute of the call. Calls can
** be wrapped again (nested functions). Header-only, for tests/nn.
*/
#ifndef DI_TEST_FN_WRAP_H
#define DI_TEST_FN_WRAP_H

#include <string.h>

#include "onnx_build.h"

#define FNW_DOMAIN "pkg.dav2"

static int fnw_in(char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

static void fnw_domain(ob *b)
{
    if (b->m.n_opset_import > 1) return;
    Onnx__OperatorSetIdProto **ops = ob_alloc(b, 2 * sizeof *ops);
    Onnx__OperatorSetIdProto *o = ob_alloc(b, sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = ob_str(b, FNW_DOMAIN);
    o->has_version = 1;
    o->version = 1;
    ops[0] = b->m.opset_import[0];
    ops[1] = o;
    b->m.opset_import = ops;
    b->m.n_opset_import = 2;
}

/* nodes [first, end) into function fname; ref_op/ref_attr/ref_value: that
** attribute of those ops referred to the call's attribute "<ref_attr>_ref" */
static void fn_wrap(ob *b, size_t first, size_t end, const char *fname, const char *ref_op, const char *ref_attr,
                    int64_t ref_value)
{
    fnw_domain(b);
    size_t cap = 4096;
    char **made = ob_alloc(b, cap * sizeof(char *)), **ins = ob_alloc(b, cap * sizeof(char *)),
         **outs = ob_alloc(b, cap * sizeof(char *));
    size_t nmade = 0, nin = 0, nout = 0;
    for (size_t i = first; i < end; i++) {
        Onnx__NodeProto *n = b->g.node[i];
        for (size_t j = 0; j < n->n_input; j++)
            if (*n->input[j] && !fnw_in(made, nmade, n->input[j]) && !fnw_in(ins, nin, n->input[j]))
                ins[nin++] = n->input[j];
        for (size_t j = 0; j < n->n_output; j++) made[nmade++] = n->output[j];
    }
    for (size_t k = 0; k < nmade; k++) {
        int used = 0;
        for (size_t i = 0; i < b->g.n_node && !used; i++) {
            if (i >= first && i < end) continue;
            for (size_t j = 0; j < b->g.node[i]->n_input; j++)
                if (!strcmp(b->g.node[i]->input[j], made[k])) used = 1;
        }
        for (size_t o = 0; o < b->g.n_output; o++)
            if (!strcmp(b->g.output[o]->name, made[k])) used = 1;
        if (used) outs[nout++] = made[k];
    }
    Onnx__FunctionProto *f = ob_alloc(b, sizeof *f);
    onnx__function_proto__init(f);
    f->name = ob_str(b, fname);
    f->domain = ob_str(b, FNW_DOMAIN);
    f->n_input = nin;
    f->input = ins;
    f->n_output = nout;
    f->output = outs;
    f->n_node = end - first;
    f->node = ob_alloc(b, (end - first + 1) * sizeof(void *));
    memcpy(f->node, &b->g.node[first], (end - first) * sizeof(void *));
    f->n_opset_import = b->m.n_opset_import;
    f->opset_import = b->m.opset_import;
    char refname[64];
    snprintf(refname, sizeof refname, "%s_ref", ref_attr ? ref_attr : "");
    if (ref_op) {
        f->n_attribute = 1;
        f->attribute = ob_alloc(b, sizeof(char *));
        f->attribute[0] = ob_str(b, refname);
        for (size_t i = 0; i < f->n_node; i++) {
            Onnx__NodeProto *n = f->node[i];
            if (strcmp(n->op_type, ref_op)) continue;
            for (size_t j = 0; j < n->n_attribute; j++)
                if (!strcmp(n->attribute[j]->name, ref_attr)) {
                    Onnx__AttributeProto *a = ob_alloc(b, sizeof *a);
                    onnx__attribute_proto__init(a);
                    a->name = n->attribute[j]->name;
                    a->ref_attr_name = ob_str(b, refname);
                    a->has_type = 1;
                    a->type = n->attribute[j]->type;
                    n->attribute[j] = a;
                }
        }
    }
    /* the call: replaces the run */
    Onnx__NodeProto *call = ob_alloc(b, sizeof *call);
    onnx__node_proto__init(call);
    call->op_type = ob_str(b, fname);
    call->domain = ob_str(b, FNW_DOMAIN);
    call->name = ob_str(b, fname);
    call->n_input = nin;
    call->input = ins;
    call->n_output = nout;
    call->output = outs;
    call->attribute = ob_alloc(b, sizeof(void *) * 8);
    if (ref_op) ob_attr_i(b, call, refname, ref_value);
    b->g.node[first] = call;
    memmove(&b->g.node[first + 1], &b->g.node[end], (b->g.n_node - end) * sizeof(void *));
    b->g.n_node -= end - first - 1;
    Onnx__FunctionProto **fs = ob_alloc(b, (b->m.n_functions + 1) * sizeof *fs);
    if (b->m.n_functions) memcpy(fs, b->m.functions, b->m.n_functions * sizeof *fs);
    fs[b->m.n_functions++] = f;
    b->m.functions = fs;
}

/* the run of nodes whose first output starts with prefix: [*first, *end) */
static int fn_find_run(const ob *b, const char *prefix, const char *last_output, size_t *first, size_t *end)
{
    size_t i = 0, plen = strlen(prefix);
    while (i < b->g.n_node && strncmp(b->g.node[i]->output[0], prefix, plen)) i++;
    if (i == b->g.n_node) return -1;
    *first = i;
    while (i < b->g.n_node && (!strncmp(b->g.node[i]->output[0], prefix, plen) ||
                               (last_output && !strcmp(b->g.node[i]->output[0], last_output))))
        i++;
    *end = i;
    return 0;
}

#endif
