/*
** plan.c: from the graph and concrete input shapes to a list of steps.
**
** Walks the nodes in topological order: folds nodes whose inputs are all
** known, fuses Relu/Clip/Add into a preceding Conv, lets kernels pick oneDNN
** layouts and inserts reorders only where a kernel needs plain data, then
** lays every non-constant tensor into one arena by liveness (greedy
** best-offset: a buffer may reuse the bytes of any tensor whose life does
** not overlap its own: plan_memory.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

size_t di_nn_max_tensor_bytes = (size_t)1 << 34;

/* The layouts the kernels choose (engine.h): the planner runs the CPU
** kernels' prepare, so they are the CPU backend's. */
static const di_nn_layout_hooks *const layouts = &di_nn_cpu_layouts;

size_t di_nn_tensor_bytes(const di_nn_tensor *t)
{
    if (t->blocked)
        return layouts->bytes(t);
    int64_t n = di_nn_numel(t);
    return n < 0 ? 0 : (size_t)n * di_dtype_size(t->dtype);
}

void *di_nn_aligned(size_t bytes)
{
    size_t b = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, b ? b : 64);
}

typedef struct builder {
    di_nn_session *s;
    di_nn_plan *p;
    int flags;
    int cap_steps, cap_shadows, cap_owned;
    int *consumers;         /* per value: number of consuming nodes (+1 if output) */
    int *first_consumer;    /* per value: the first node that reads it, or -1 */
    bool *not_bf16;         /* per value: a consumer does not read blocked bf16 */
    bool *absorbed;         /* per node: fused into an earlier node */
    di_nn_tensor **live_of; /* per value: the tensor consumers read (shadow) */
} builder;

static di_nn_step *new_step(builder *b, di_error *err)
{
    di_nn_plan *p = b->p;
    if (p->nsteps == b->cap_steps) {
        int cap = b->cap_steps ? 2 * b->cap_steps : 64;
        di_nn_step *s = realloc(p->steps, (size_t)cap * sizeof *s);
        if (!s) {
            di_fail(err, DI_ENOMEM, "out of memory");
            return NULL;
        }
        p->steps = s;
        b->cap_steps = cap;
    }
    di_nn_step *st = &p->steps[p->nsteps++];
    memset(st, 0, sizeof *st);
    st->node = -1;
    return st;
}

static int own(builder *b, void *ptr, di_error *err)
{
    di_nn_plan *p = b->p;
    if (p->nowned == b->cap_owned) {
        int cap = b->cap_owned ? 2 * b->cap_owned : 32;
        void **o = realloc(p->owned, (size_t)cap * sizeof *o);
        if (!o)
            return di_fail(err, DI_ENOMEM, "out of memory");
        p->owned = o;
        b->cap_owned = cap;
    }
    p->owned[p->nowned++] = ptr;
    return DI_OK;
}

static di_nn_tensor *new_shadow(builder *b, di_error *err)
{
    di_nn_plan *p = b->p;
    if (p->nshadows == b->cap_shadows) {
        int cap = b->cap_shadows ? 2 * b->cap_shadows : 32;
        di_nn_tensor **sh = realloc(p->shadows, (size_t)cap * sizeof *sh);
        if (!sh) {
            di_fail(err, DI_ENOMEM, "out of memory");
            return NULL;
        }
        p->shadows = sh;
        b->cap_shadows = cap;
    }
    di_nn_tensor *t = calloc(1, sizeof *t);
    void *l = t ? layouts->make(t, 1) : NULL;
    if (!l || own(b, l, err)) {
        free(l);
        free(t);
        di_fail(err, DI_ENOMEM, "out of memory");
        return NULL;
    }
    p->shadows[p->nshadows++] = t;
    return t;
}

/* A step that reorders `from` (blocked) into a new plain tensor. */
static di_nn_tensor *add_plain_copy(builder *b, di_nn_tensor *from, di_error *err)
{
    di_nn_tensor *to = new_shadow(b, err);
    if (!to)
        return NULL;
    di_nn_set_shape(to, from->dtype, from->ndim, from->dims);
    di_nn_step *st = new_step(b, err);
    if (!st)
        return NULL;
    /* a bf16 value made float32 has its own name: the profile counts the
    ** precision changes apart from layout changes */
    st->name = layouts->is_bf16(from) ? "Reorder bf16" : "Reorder";
    st->from = from;
    st->to = to;
    if (layouts->convert_step(&b->s->env, st, err))
        return NULL;
    return to;
}

static bool is_graph_output(const di_nn_graph *g, int v)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* The single node consuming value v (and not a graph output), or -1. */
static int sole_consumer(const builder *b, int v)
{
    const di_nn_graph *g = b->s->g;
    if (b->consumers[v] != 1 || is_graph_output(g, v))
        return -1;
    return b->first_consumer[v];
}

/* A bf16 session may hand value v to its consumers in bf16: each of them
** reads bf16 (the planner would reorder it to float32 for any other, a pass
** more than writing float32 at once) and v is no graph output. */
static bool bf16_consumers(const builder *b, int v)
{
    const di_nn_graph *g = b->s->g;
    if (!b->s->env.bf16 || v < 0 || !b->consumers[v] || is_graph_output(g, v))
        return false;
    return !b->not_bf16[v];
}

/* Fuses the nodes that follow node ni and whose op has a post_kind: Relu,
** Clip (constant bounds), Add (same shape, other operand already computed),
** Gelu (CPU plans only: another backend's translation knows no such post-op,
** op.h); returns the value the fused node finally writes. */
static int plan_fusion(builder *b, int ni, di_nn_kctx *k, int *fused)
{
    const di_nn_graph *g = b->s->g;
    di_nn_plan *p = b->p;
    int v = g->nodes[ni].out[0];
    while (k->npost < 4) {
        int c = sole_consumer(b, v);
        if (c < 0)
            break;
        const di_nn_node *cn = &g->nodes[c];
        di_nn_postop po = {0};
        int kind = cn->op->post_kind;
        if (kind == DI_POST_RELU) {
            po.kind = DI_POST_RELU;
        } else if (kind == DI_POST_CLIP) {
            po.kind = DI_POST_CLIP;
            po.lo = -INFINITY;
            po.hi = INFINITY;
            if (cn->nin > 1 && cn->in[1] >= 0) {
                di_nn_tensor *t = &p->vals[cn->in[1]];
                if (!t->is_const || t->dtype != DI_DT_FLOAT || di_nn_numel(t) != 1)
                    break;
                po.lo = *(float *)t->data;
            }
            if (cn->nin > 2 && cn->in[2] >= 0) {
                di_nn_tensor *t = &p->vals[cn->in[2]];
                if (!t->is_const || t->dtype != DI_DT_FLOAT || di_nn_numel(t) != 1)
                    break;
                po.hi = *(float *)t->data;
            }
        } else if (kind == DI_POST_GELU) {
            if (b->flags & DI_NN_PLAN_NEUTRAL)
                break;
            po.kind = strcmp(di_nn_attr_string(cn, "approximate", "none"), "tanh")
                          ? DI_POST_GELU
                          : DI_POST_GELU_TANH;
        } else if (kind == DI_POST_SUM && cn->nin == 2) {
            int other = cn->in[0] == v ? cn->in[1] : cn->in[0];
            if (other < 0 || other == v)
                break;
            int prod = g->values[other].producer;
            /* the addend must exist when the fused node runs */
            if (prod >= ni)
                break;
            di_nn_tensor *t = b->live_of[other] ? b->live_of[other] : &p->vals[other];
            if (t->ndim < 0)
                break;
            po.kind = DI_POST_SUM;
            po.addend = t;
        } else {
            break;
        }
        fused[k->npost] = c;
        k->post[k->npost++] = po;
        b->absorbed[c] = true;
        v = cn->out[0];
    }
    return v;
}

static int fold_node(builder *b, int ni, di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = &b->s->g->nodes[ni];
    for (int o = 0; o < k->nout; o++) {
        di_nn_tensor *t = k->out[o];
        if (!t)
            continue;
        size_t bytes = di_nn_tensor_bytes(t);
        t->data = di_nn_aligned(bytes);
        if (!t->data || own(b, t->data, err))
            return di_fail(err, DI_ENOMEM, "node '%s': out of memory folding constants", n->name);
        t->is_const = true;
    }
    bool empty = true;
    for (int o = 0; o < k->nout; o++)
        if (k->out[o] && di_nn_numel(k->out[o]) != 0)
            empty = false;
    if (empty)
        return DI_OK; /* nothing to compute */
    void *scratch = NULL;
    if (k->scratch_bytes && !(scratch = di_nn_aligned(k->scratch_bytes)))
        return di_fail(err, DI_ENOMEM, "out of memory");
    k->scratch = scratch;
    int rc = n->op->run(k, err);
    free(scratch);
    k->scratch = NULL;
    /* constants are kept plain: reorder a blocked result now */
    for (int o = 0; o < k->nout && !rc; o++) {
        di_nn_tensor *t = k->out[o];
        if (!t || !t->blocked)
            continue;
        di_nn_tensor plain = *t;
        plain.blocked = false;
        void *buf = di_nn_aligned(di_nn_tensor_bytes(&plain));
        if (!buf || own(b, buf, err))
            return di_fail(err, DI_ENOMEM, "out of memory");
        rc = layouts->to_plain(&b->s->env, t, buf, err);
        if (rc)
            return di_nn_error_at_node(err, n);
        t->data = buf;
        t->blocked = false;
    }
    return rc;
}

static int build_steps(builder *b, di_error *err)
{
    di_nn_session *s = b->s;
    const di_nn_graph *g = s->g;
    di_nn_plan *p = b->p;
    for (int ni = 0; ni < g->nnodes; ni++) {
        if (b->absorbed[ni])
            continue;
        const di_nn_node *n = &g->nodes[ni];
        di_nn_kctx k;
        memset(&k, 0, sizeof k);
        k.node = n;
        k.nin = n->nin;
        k.nout = n->nout;
        k.in = calloc((size_t)n->nin + 1, sizeof(di_nn_tensor *));
        k.out = calloc((size_t)n->nout + 1, sizeof(di_nn_tensor *));
        if (!k.in || !k.out || own(b, k.in, err) || own(b, k.out, err)) {
            free(k.in);
            free(k.out);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
        k.persist = &s->persist[ni];
        k.env = &s->env;
        if (n->op->params_size &&
            (!(k.params = calloc(1, n->op->params_size)) || own(b, k.params, err))) {
            free(k.params);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
        p->node_params[ni] = k.params; /* release_params at plan_free */
        bool all_const = true;
        for (int j = 0; j < n->nin; j++) {
            int v = n->in[j];
            if (v < 0)
                continue;
            k.in[j] = b->live_of[v] ? b->live_of[v] : &p->vals[v];
            if (k.in[j]->ndim < 0)
                return di_nn_node_fail(err, DI_EFORMAT, n, "input '%s' has no known shape",
                                       g->values[v].name);
            all_const &= k.in[j]->is_const;
        }
        for (int o = 0; o < n->nout; o++)
            k.out[o] = n->out[o] >= 0 ? &p->vals[n->out[o]] : NULL;
        bool fold = n->nin > 0 && (all_const || (n->op->flags & DI_OP_SHAPE_ONLY));
        if (n->nin == 0)
            fold = true; /* Constant */

        int fused[4];
        if (!fold && (n->op->flags & DI_OP_POSTOPS)) {
            int v = plan_fusion(b, ni, &k, fused);
            k.out[0] = &p->vals[v];
            k.bf16_consumers = bf16_consumers(b, v);
        } else if (!fold && n->nout > 0) {
            k.bf16_consumers = bf16_consumers(b, n->out[0]);
        }
        /* the CPU kernel's prepare: on a plan for another backend only
        ** where the op has no infer yet, or the node is folded here */
        bool cpu_prepare =
            n->op->prepare && (!(b->flags & DI_NN_PLAN_NEUTRAL) || fold || !n->op->infer);
        /* plain inputs for kernels that need them; bf16 blocked values
        ** only go to ops that read bf16 (the reorder makes them float32) */
        bool want_plain = !(n->op->flags & DI_OP_BLOCKED_OK);
        bool bf16_ok = (n->op->flags & DI_OP_BF16_OK) != 0;
        int rc;
        for (int attempt = 0; attempt < 2; attempt++) {
            for (int j = 0; j < n->nin; j++) {
                if (!k.in[j] || !k.in[j]->blocked)
                    continue;
                if (want_plain || (!bf16_ok && layouts->is_bf16(k.in[j]))) {
                    int v = n->in[j];
                    if (!b->live_of[v] || b->live_of[v]->blocked) {
                        di_nn_tensor *pl = add_plain_copy(b, &p->vals[v], err);
                        if (!pl)
                            return di_nn_error_at_node(err, n);
                        b->live_of[v] = pl;
                    }
                    k.in[j] = b->live_of[v];
                }
            }
            /* shapes and params, for every backend (op.h) */
            rc = DI_OK;
            if (n->op->infer) {
                if (k.params && n->op->release_params)
                    n->op->release_params(k.params); /* a second try */
                if (k.params)
                    memset(k.params, 0, n->op->params_size);
                rc = n->op->infer(&k, err);
            }
            if (!rc && cpu_prepare)
                rc = n->op->prepare(&k, err);
            if (rc == DI_NN_NO_FUSE) { /* e.g. Add that broadcasts: run it on its own */
                for (int f = 0; f < k.npost; f++)
                    b->absorbed[fused[f]] = false;
                k.npost = 0;
                k.out[0] = &p->vals[n->out[0]];
                k.bf16_consumers = bf16_consumers(b, n->out[0]);
                attempt--;
                continue;
            }
            if (rc != DI_NN_NEED_PLAIN)
                break;
            if (want_plain)
                return di_nn_node_fail(err, DI_EUNSUPPORTED, n, "kernel refuses plain inputs");
            want_plain = true;
        }
        if (rc) {
            di_nn_error_at_node(err, n);
            return rc;
        }
        /* a "blocked" layout that is just the plain one is plain */
        for (int o = 0; o < n->nout; o++) {
            di_nn_tensor *t = k.out[o];
            if (t && (!di_nn_shape_sane(t->ndim, t->dims) || di_nn_numel(t) < 0 ||
                      !di_dtype_size(t->dtype) || di_nn_tensor_bytes(t) > di_nn_max_tensor_bytes)) {
                if (n->op->release)
                    n->op->release(k.state);
                return di_nn_node_fail(err, DI_ENOMEM, n, "output '%s' would be absurdly large",
                                       g->values[n->out[o]].name);
            }
            if (t && t->blocked && layouts->is_plain(t))
                t->blocked = false;
        }
        if (fold) {
            rc = fold_node(b, ni, &k, err);
            if (n->op->release)
                n->op->release(k.state);
            if (rc)
                return rc;
            continue;
        }
        if (k.scratch_bytes > p->scratch_bytes)
            p->scratch_bytes = k.scratch_bytes;
        bool empty = true;
        for (int o = 0; o < k.nout; o++)
            if (k.out[o] && di_nn_numel(k.out[o]) != 0)
                empty = false;
        if (empty) { /* an empty output: no step */
            if (n->op->release)
                n->op->release(k.state);
            continue;
        }
        di_nn_step *st = new_step(b, err);
        if (!st)
            return DI_ENOMEM;
        st->node = ni;
        st->name = n->op_type;
        st->k = k;
        st->flops = n->op->flops ? n->op->flops(&st->k) : 0;
        p->flops += st->flops;
    }
    /* graph outputs in plain layout */
    p->outputs = calloc((size_t)g->noutputs + 1, sizeof(di_nn_tensor *));
    if (!p->outputs)
        return di_fail(err, DI_ENOMEM, "out of memory");
    for (int i = 0; i < g->noutputs; i++) {
        int v = g->outputs[i];
        di_nn_tensor *t = &p->vals[v];
        if (t->ndim < 0)
            return di_fail(err, DI_EFORMAT, "graph output '%s' has no shape", g->values[v].name);
        if (t->blocked) {
            t = add_plain_copy(b, t, err);
            if (!t)
                return err ? err->code : DI_EUNSUPPORTED;
        }
        p->outputs[i] = t;
    }
    return DI_OK;
}

/* A value that a kernel reads as float32 while it computes in bf16 (or the
** reverse) costs a conversion pass over it: count them, for the tests and
** the benchmarks of a bf16 session. */
void di_nn_plan_bf16_conversions(const di_nn_plan *p, int *to_f32, int *to_bf16)
{
    *to_f32 = *to_bf16 = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const di_nn_step *st = &p->steps[i];
        if (st->node < 0) {
            *to_f32 += st->from->blocked && layouts->is_bf16(st->from);
            continue;
        }
        bool out_bf16 = false;
        for (int o = 0; o < st->k.nout; o++) {
            const di_nn_tensor *t = st->k.out[o];
            out_bf16 |= t && t->blocked && layouts->is_bf16(t);
        }
        if (st->k.bf16_counted) { /* the kernel's own count (MatMul, LayerNormalization) */
            *to_bf16 += st->k.bf16_cvt;
            continue;
        }
        if (!out_bf16)
            continue;
        for (int j = 0; j < st->k.nin; j++) {
            const di_nn_tensor *t = st->k.in[j];
            *to_bf16 += t && !t->is_const && t->dtype == DI_DT_FLOAT &&
                        !(t->blocked && layouts->is_bf16(t));
        }
    }
}

void di_nn_plan_free(di_nn_plan *p, di_nn_session *s)
{
    if (!p)
        return;
    for (int i = 0; i < p->nsteps; i++) {
        di_nn_step *st = &p->steps[i];
        if (st->node >= 0 && s->g->nodes[st->node].op->release)
            s->g->nodes[st->node].op->release(st->k.state);
        if (st->convert)
            layouts->convert_free(st->convert);
    }
    for (int i = 0; p->node_params && i < s->g->nnodes; i++)
        if (p->node_params[i] && s->g->nodes[i].op->release_params)
            s->g->nodes[i].op->release_params(p->node_params[i]);
    free(p->node_params);
    for (int i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    for (int i = 0; i < p->nshadows; i++)
        free(p->shadows[i]);
    free(p->owned);
    free(p->shadows);
    free(p->outputs);
    free(p->steps);
    free(p->vals);
    free(p->val_layouts);
    free(p->arena);
    free(p->scratch);
    free(p);
}

int di_nn_plan_build(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_plan **out,
                     di_error *err)
{
    return di_nn_plan_build_flags(s, ins, nins, 0, out, err);
}

int di_nn_plan_build_flags(di_nn_session *s, const di_nn_io *ins, int nins, int flags,
                           di_nn_plan **out, di_error *err)
{
    const di_nn_graph *g = s->g;
    *out = NULL;
    if (nins != g->ninputs)
        return di_fail(err, DI_EINVAL, "%s: the model has %d inputs, %d given", g->path, g->ninputs,
                       nins);
    if (nins > 8)
        return di_fail(err, DI_EUNSUPPORTED, "%s: more than 8 graph inputs", g->path);
    di_nn_plan *p = calloc(1, sizeof *p);
    builder b = {s, p, flags, 0, 0, 0, NULL, NULL, NULL, NULL, NULL};
    if (!p)
        return di_fail(err, DI_ENOMEM, "out of memory");
    p->vals = calloc((size_t)g->nvalues + 1, sizeof(di_nn_tensor));
    p->val_layouts = p->vals ? layouts->make(p->vals, g->nvalues) : NULL;
    p->node_params = calloc((size_t)g->nnodes + 1, sizeof(void *));
    b.consumers = calloc((size_t)g->nvalues + 1, sizeof(int));
    b.first_consumer = malloc(((size_t)g->nvalues + 1) * sizeof(int));
    b.not_bf16 = calloc((size_t)g->nvalues + 1, sizeof(bool));
    b.absorbed = calloc((size_t)g->nnodes + 1, sizeof(bool));
    b.live_of = calloc((size_t)g->nvalues + 1, sizeof(di_nn_tensor *));
    int rc = DI_OK;
    if (!p->vals || !p->val_layouts || !p->node_params || !b.consumers || !b.first_consumer ||
        !b.not_bf16 || !b.absorbed || !b.live_of) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto done;
    }
    p->key.ninputs = nins;
    for (int i = 0; i < g->nvalues; i++) {
        const di_nn_value *v = &g->values[i];
        di_nn_tensor *t = &p->vals[i];
        t->ndim = -1;
        if (v->data) {
            di_nn_set_shape(t, v->dtype, v->ndim, v->dims);
            t->data = v->data;
            t->is_const = true;
        }
    }
    for (int i = 0; i < nins; i++) {
        const di_nn_value *v = &g->values[g->inputs[i]];
        const di_nn_io *io = &ins[i];
        if (io->ndim < 0 || io->ndim > DI_NN_MAX_DIMS)
            rc = di_fail(err, DI_ESHAPE, "input '%s': %d dimensions", v->name, io->ndim);
        else if (v->dtype && io->dtype != v->dtype)
            rc = di_fail(err, DI_ESHAPE, "input '%s': element type %s given, the model wants %s",
                         v->name, di_dtype_name(io->dtype), di_dtype_name(v->dtype));
        else if (v->ndim >= 0 && v->ndim != io->ndim)
            rc = di_fail(err, DI_ESHAPE, "input '%s': %d dimensions given, the model wants %d",
                         v->name, io->ndim, v->ndim);
        else
            for (int d = 0; d < io->ndim && !rc; d++) {
                /* the leading dimension of the first input is the batch */
                if (v->ndim >= 0 && v->dims[d] >= 0 && v->dims[d] != io->dims[d] &&
                    !(i == 0 && d == 0))
                    rc = di_fail(err, DI_ESHAPE,
                                 "input '%s': dimension %d is %lld, the model wants %lld", v->name,
                                 d, (long long)io->dims[d], (long long)v->dims[d]);
                if (io->dims[d] < 0)
                    rc = di_fail(err, DI_ESHAPE, "input '%s': negative dimension", v->name);
            }
        if (!rc && (!di_nn_shape_sane(io->ndim, io->dims) ||
                    di_shape_numel(io->ndim, io->dims) * (int64_t)di_dtype_size(io->dtype) >
                        (int64_t)di_nn_max_tensor_bytes))
            rc = di_fail(err, DI_ENOMEM, "input '%s' is absurdly large", v->name);
        if (rc)
            goto done;
        di_nn_set_shape(&p->vals[g->inputs[i]], io->dtype, io->ndim, io->dims);
        p->key.in_ndim[i] = io->ndim;
        p->key.in_dtype[i] = io->dtype;
        memcpy(p->key.in_dims[i], io->dims, sizeof(int64_t) * (size_t)io->ndim);
    }
    /* each value's consumers once per plan, for fusion (sole_consumer) and
    ** the bf16 hand-over (bf16_consumers): a scan of every node per value
    ** was quadratic in the graph's size */
    for (int v = 0; v < g->nvalues; v++)
        b.first_consumer[v] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            int v = g->nodes[i].in[j];
            if (v < 0)
                continue;
            const int need = DI_OP_BLOCKED_OK | DI_OP_BF16_OK;
            b.consumers[v]++;
            if (b.first_consumer[v] < 0)
                b.first_consumer[v] = i;
            b.not_bf16[v] |= (g->nodes[i].op->flags & need) != need;
        }
    for (int i = 0; i < g->noutputs; i++)
        b.consumers[g->outputs[i]]++;

    rc = build_steps(&b, err);
    if (!rc)
        rc = di_nn_plan_memory(g, p, b.flags, err);
done:
    free(b.consumers);
    free(b.first_consumer);
    free(b.not_bf16);
    free(b.absorbed);
    free(b.live_of);
    if (rc) {
        if (err && g->path && !(err->named & DI_NAMED_FILE)) {
            di_error_prefix(err, "%s", g->path);
            err->named |= DI_NAMED_FILE;
        }
        di_nn_plan_free(p, s);
        return rc;
    }
    *out = p;
    return DI_OK;
}
