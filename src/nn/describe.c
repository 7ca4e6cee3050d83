/*
** describe.c: what a model's file says about the input it expects, for the
** CLI's choice of input size (and `depthindex model`): its patch size.
*/
#include <string.h>

#include "engine.h"

/* A ViT's patch embedding: a Conv whose kernel equals its stride, reading
** the first graph input (directly, or through Cast/Identity as fp16 exports
** write it). Its stride is the patch size: the input's height and width must
** be multiples of it (else the tokens do not tile the image and a
** Reshape to the grid fails). 1 when there is no such Conv. */
int di_nn_input_patch(const di_nn_session *s)
{
    const di_nn_graph *g = s->g;
    if (g->ninputs < 1)
        return 1;
    int v = g->inputs[0];
    for (int hop = 0; hop < 4; hop++) {
        int next = -1;
        for (int i = 0; i < g->nnodes; i++) {
            const di_nn_node *n = &g->nodes[i];
            if (n->nin < 1 || n->in[0] != v || n->nout < 1)
                continue;
            if (!strcmp(n->op_type, "Conv")) {
                const di_nn_attr *k = di_nn_node_attr(n, "kernel_shape");
                const di_nn_attr *st = di_nn_node_attr(n, "strides");
                if (k && st && k->ints && st->ints && k->n == 2 && st->n == 2 &&
                    k->ints[0] == st->ints[0] && k->ints[1] == st->ints[1] &&
                    k->ints[0] == k->ints[1] && k->ints[0] > 1 && k->ints[0] <= 64)
                    return (int)k->ints[0];
            } else if (!strcmp(n->op_type, "Cast") || !strcmp(n->op_type, "Identity")) {
                next = n->out[0];
            }
        }
        if (next < 0)
            break;
        v = next;
    }
    return 1;
}

/* What the planner makes of the model at this batch, whatever the session's
** backend: the backend-neutral plan (shapes, folding, fusion, the memory
** plan), built here and dropped, so that describing a model builds no CPU
** primitive and leaves the session's plan cache as it was. Its values are
** all plain: a backend's own layout changes are not in it. */
int di_nn_describe(di_nn_session *s, int batch, di_nn_description *d, di_error *err)
{
    if (batch < 1)
        return di_fail(err, DI_EINVAL, "batch must be at least 1, not %d", batch);
    di_nn_io io;
    di_nn_plan *p = NULL;
    int rc = di_nn_batch_io(s, batch, &io, err);
    if (!rc)
        rc = di_nn_plan_build_flags(s, &io, 1, DI_NN_PLAN_NEUTRAL, &p, err);
    if (rc)
        return rc;
    memset(d, 0, sizeof *d);
    d->nodes = s->g->nnodes;
    d->steps = p->nsteps;
    for (int i = 0; i < p->nsteps; i++) {
        d->reorders += p->steps[i].node < 0;
        d->fused += p->steps[i].k.npost;
    }
    d->folded = d->nodes - (d->steps - d->reorders) - d->fused;
    d->activation_bytes = p->arena_bytes;
    d->flops = p->flops;
    di_nn_plan_free(p, s);
    return DI_OK;
}

/* ---- what the file declares, for `depthindex model` ---- */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "onnx.pb-c.h"

typedef struct text {
    char *s;
    size_t n, cap;
    bool oom;
} text;

static void addf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k < 0 || t->oom)
        return;
    size_t len = (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1;
    if (t->n + len + 1 > t->cap) {
        size_t cap = (t->cap + len + 1) * 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->n, buf, len);
    t->n += len;
    t->s[t->n] = 0;
}

/* counts of initializers by element type as stored in the file */
static void dtypes(text *t, const Onnx__GraphProto *gp)
{
    static const int types[] = {1, 10, 16, 11, 2, 3, 6, 7, 9};
    addf(t, "element types:");
    int any = 0;
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        size_t n = 0;
        for (size_t i = 0; i < gp->n_initializer; i++)
            n += gp->initializer[i]->data_type == types[k];
        if (n) {
            addf(t, "%s %s %zu", any ? "," : "", di_dtype_name(types[k]), n);
            any = 1;
        }
    }
    addf(t, "%s initializers\n", any ? "" : " no");
}

void di_nn_file_info_fill(di_nn_graph *g, const void *model_proto)
{
    const Onnx__ModelProto *mp = model_proto;
    const Onnx__GraphProto *gp = mp->graph;
    text t = {0};
    addf(&t, "opset: %lld", (long long)g->opset);
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (o->domain && *o->domain && strcmp(o->domain, "ai.onnx"))
            addf(&t, ", domain %.100s %lld", o->domain, (long long)o->version);
    }
    addf(&t, "\n");
    if (mp->n_functions) {
        addf(&t, "local functions: %zu (inlined at load):", mp->n_functions);
        for (size_t i = 0; i < mp->n_functions && i < 12; i++)
            addf(&t, " %.60s%s", mp->functions[i]->name ? mp->functions[i]->name : "?",
                 i + 1 < mp->n_functions ? "," : "");
        addf(&t, "%s\n", mp->n_functions > 12 ? " ..." : "");
    } else {
        addf(&t, "local functions: none\n");
    }
    /* symbolic dimensions of the graph inputs, by name */
    int nsym = 0;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__TypeProto *tp = gp->input[i]->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type ||
            !tp->tensor_type->shape)
            continue;
        const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
        for (size_t d = 0; d < sh->n_dim; d++)
            if (sh->dim[d]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                addf(&t, "%s%.60s[%zu] = %.40s", nsym ? ", " : "symbolic dimensions: ",
                     gp->input[i]->name ? gp->input[i]->name : "?", d,
                     sh->dim[d]->dim_param && *sh->dim[d]->dim_param ? sh->dim[d]->dim_param : "?");
                nsym++;
            }
    }
    addf(&t, "%s\n", nsym ? "" : "symbolic dimensions: none");
    dtypes(&t, gp);
    if (t.oom) {
        free(t.s);
        return;
    }
    free(g->file_info);
    g->file_info = t.s;
}
