/*
** ops_simple.c: the ops that run on the backend's own kernels (kernels.cu):
** elementwise and broadcasting math, Resize, Softmax, LayerNormalization,
** BatchNormalization and reductions (the data movement ops: ops_move.c). Everything shape
** dependent is worked out here once per plan, from the planned shapes and
** the constant inputs; a run only launches.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simple.h"

static void simple_release(void *v)
{
    simple_p *p = v;
    if (!p)
        return;
    free(p->parts);
    free(p->offs);
    free(p);
}

simple_p *cu_new_p(cu_step *st, di_error *err)
{
    simple_p *p = calloc(1, sizeof *p);
    if (!p) {
        di_fail(err, DI_ENOMEM, "out of memory");
        return NULL;
    }
    st->p = p;
    st->release = simple_release;
    return p;
}

bool cu_bcast_strides(const cu_tensor *t, int nd, const int64_t *dims, int64_t *s)
{
    int64_t ts[DI_NN_MAX_DIMS];
    if (t->ndim > nd || t->ndim < 0)
        return false;
    di_nn_contiguous_strides(t->ndim, t->dims, ts);
    for (int d = 0; d < nd; d++) {
        int td = d - (nd - t->ndim);
        if (td < 0)
            s[d] = 0;
        else if (t->dims[td] == dims[d])
            s[d] = dims[d] == 1 ? 0 : ts[td];
        else if (t->dims[td] == 1)
            s[d] = 0;
        else
            return false;
    }
    return true;
}

void cu_walk_of(cu_walk *w, const cu_tensor *y)
{
    memset(w, 0, sizeof *w);
    w->nd = y->ndim > 0 ? y->ndim : 1;
    w->dims[0] = 1;
    for (int d = 0; d < y->ndim; d++)
        w->dims[d] = y->dims[d];
}

/* ---- unary ---- */

static int unary_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_unary(c->stream, p->op, cu_numel(&st->out[0]), p->a, p->b, st->in[0].dev,
                      st->out[0].dev),
             "kernel");
    return cu_epilogue_run(st, c, st->out[0].dev, NULL, 1, 1, false, err);
}

int cu_setup_unary(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    if (!cu_is_float(&st->in[0]))
        return cu_refuse(err, st, "element type %s", di_dtype_name(st->in[0].dtype));
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    /* the kind and constants as the op's infer decoded them (op.h) */
    const di_nn_unary_params *pp = di_nn_unary_params_in(&hs->k);
    if (!pp)
        return cu_refuse(err, st, "a unary step without its params");
    di_nn_unary_params up = *pp;
    p->op = up.kind;
    p->a = up.alpha;
    p->b = up.kind == DI_U_SELU ? up.gamma : up.beta;
    if (p->op == DI_U_CLIP) {
        p->a = -INFINITY;
        p->b = INFINITY;
        if (st->node && hs->k.nin == 1) { /* opset < 11: attributes */
            p->a = di_nn_attr_float(st->node, "min", -INFINITY);
            p->b = di_nn_attr_float(st->node, "max", INFINITY);
        }
        for (int i = 1; i <= 2 && i < st->nin; i++) {
            const cu_tensor *t = &st->in[i];
            if (!t->dev)
                continue;
            if (!t->is_const || !cu_is_float(t) || cu_numel(t) != 1)
                return cu_refuse(err, st, "Clip bounds that are not constant");
            (i == 1 ? &p->a : &p->b)[0] = *(const float *)t->host;
        }
    }
    st->run = unary_run;
    return DI_OK;
}

/* ---- binary, Where ---- */

static int binary_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_binary(c->stream, p->op, &p->w, p->contiguous, st->in[0].dev, st->in[1].dev,
                       st->out[0].dev),
             "kernel");
    return p->op < CU_EQ ? cu_epilogue_run(st, c, st->out[0].dev, NULL, 1, 1, false, err) : DI_OK;
}

int cu_setup_binary(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    static const struct {
        const char *name;
        int op;
    } ops[] = {
        {"Add", CU_ADD}, {"Sub", CU_SUB},  {"Mul", CU_MUL},     {"Div", CU_DIV},
        {"Pow", CU_POW}, {"Equal", CU_EQ}, {"Less", CU_LT},     {"Greater", CU_GT},
        {"Max", CU_MAX}, {"Min", CU_MIN},  {"PRelu", CU_PRELU},
    };
    if (st->nin != 2)
        return cu_refuse(err, st, "%d operands (two only)", st->nin);
    const cu_tensor *a = &st->in[0], *b = &st->in[1], *y = &st->out[0];
    if (!cu_is_float(a) || !cu_is_float(b))
        return cu_refuse(err, st, "element type %s",
                         di_dtype_name(cu_is_float(a) ? b->dtype : a->dtype));
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(ops[i].name, st->name))
            p->op = ops[i].op;
    cu_walk_of(&p->w, y);
    if (!cu_bcast_strides(a, p->w.nd, p->w.dims, p->w.sa) ||
        !cu_bcast_strides(b, p->w.nd, p->w.dims, p->w.sb))
        return cu_refuse(err, st, "operands that do not broadcast");
    p->contiguous = cu_numel(a) == cu_numel(y) && cu_numel(b) == cu_numel(y);
    st->run = binary_run;
    return DI_OK;
}

static int where_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(
        cu_where(c->stream, &p->w, st->in[0].dev, st->in[1].dev, st->in[2].dev, st->out[0].dev),
        "kernel");
    return DI_OK;
}

int cu_setup_where(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    const cu_tensor *y = &st->out[0];
    if (st->in[0].dtype != DI_DT_BOOL || di_dtype_size(y->dtype) != 4)
        return cu_refuse(err, st, "only a bool condition and 4-byte values");
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    cu_walk_of(&p->w, y);
    if (!cu_bcast_strides(&st->in[0], p->w.nd, p->w.dims, p->w.sa) ||
        !cu_bcast_strides(&st->in[1], p->w.nd, p->w.dims, p->w.sb) ||
        !cu_bcast_strides(&st->in[2], p->w.nd, p->w.dims, p->w.sc))
        return cu_refuse(err, st, "operands that do not broadcast");
    st->run = where_run;
    return DI_OK;
}

/* ---- Resize: the index tables of its infer (the plan's params), uploaded ---- */

/* An int64 table as the kernel's int32 one (the sizes are checked first). */
static void *upload_i32(cu_plan *pl, const int64_t *v, int64_t n, di_error *err)
{
    int32_t *t = malloc(sizeof(int32_t) * (size_t)(n + 1));
    if (!t) {
        di_fail(err, DI_ENOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        t[i] = (int32_t)v[i];
    void *d = cu_upload(pl, t, sizeof(int32_t) * (size_t)n, err);
    free(t);
    return d;
}

static int resize_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    int nd = x->ndim;
    LAUNCHED(cu_resize(c->stream, p->x0, x->dims[nd - 2], x->dims[nd - 1], y->dims[nd - 2],
                       y->dims[nd - 1], p->t0, p->t1, p->t2, p->t3, p->t4, p->t5, p->op, x->dev,
                       y->dev),
             "kernel");
    return DI_OK;
}

int cu_setup_resize(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)c;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    int nd = x->ndim;
    if (!cu_is_float(x) || nd < 2)
        return cu_refuse(err, st, "only float tensors of 2 or more dimensions");
    for (int i = 0; i < nd - 2; i++)
        if (x->dims[i] != y->dims[i])
            return cu_refuse(err, st, "resizing axis %d", i);
    if (x->dims[nd - 2] > 0x7fffffff || x->dims[nd - 1] > 0x7fffffff)
        return cu_refuse(err, st, "an input this large");
    const di_nn_resize_tables *t = di_nn_resize_tables_of(&hs->k);
    if (!t)
        return cu_refuse(err, st, "a Resize without its tables");
    /* The host engine also has cubic; the GPU kernel has only these two. */
    if (t->cubic)
        return cu_refuse(err, st, "Resize mode 'cubic'");
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    p->op = t->linear;
    p->x0 = 1;
    for (int i = 0; i < nd - 2; i++)
        p->x0 *= x->dims[i];
    int64_t oh = y->dims[nd - 2], ow = y->dims[nd - 1];
    if (t->oh != oh || t->ow != ow)
        return cu_refuse(err, st, "tables of another shape");
    if (!(p->t0 = upload_i32(pl, t->y0, oh, err)) || !(p->t1 = upload_i32(pl, t->y1, oh, err)) ||
        !(p->t2 = cu_upload(pl, t->wy, sizeof(float) * (size_t)oh, err)) ||
        !(p->t3 = upload_i32(pl, t->x0, ow, err)) || !(p->t4 = upload_i32(pl, t->x1, ow, err)) ||
        !(p->t5 = cu_upload(pl, t->wx, sizeof(float) * (size_t)ow, err)))
        return err ? err->code : DI_ENOMEM;
    st->run = resize_run;
    return DI_OK;
}

/* ---- rows: Softmax, LayerNormalization; BatchNormalization ---- */

int cu_axis_of(const cu_step *st, int ndim, int64_t dflt)
{
    int64_t a = di_nn_attr_int(st->node, "axis", dflt);
    return (int)(a < 0 ? a + ndim : a);
}

static int softmax_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_softmax(c->stream, p->x0, p->x1, p->op, st->in[0].dev, st->out[0].dev), "kernel");
    return DI_OK;
}

int cu_setup_softmax(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    const cu_tensor *x = &st->in[0];
    if (!cu_is_float(x))
        return cu_refuse(err, st, "element type %s", di_dtype_name(x->dtype));
    /* the rows as the op's infer laid them out (op.h) */
    const di_nn_softmax_params *sp = hs->k.params;
    if (!sp)
        return cu_refuse(err, st, "a Softmax step without its params");
    if (sp->inner != 1)
        return cu_refuse(err, st, "axis %d (only the last)", sp->axis);
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    p->x1 = sp->n;
    p->x0 = sp->outer;
    p->op = sp->log;
    st->run = softmax_run;
    return DI_OK;
}

static int layernorm_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    const float *bias = st->nin > 2 && st->in[2].dev ? st->in[2].dev : NULL;
    float *mean = st->nout > 1 ? st->out[1].dev : NULL, *inv = st->nout > 2 ? st->out[2].dev : NULL;
    LAUNCHED(cu_layernorm(c->stream, p->x0, p->x1, p->a, st->in[0].dev, st->in[1].dev, bias,
                          st->out[0].dev, mean, inv),
             "kernel");
    return DI_OK;
}

int cu_setup_layernorm(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    const cu_tensor *x = &st->in[0];
    if (!cu_is_float(x) || !cu_is_float(&st->in[1]))
        return cu_refuse(err, st, "element type %s", di_dtype_name(x->dtype));
    for (int i = 1; i < st->nout; i++)
        if (st->out[i].dev && !cu_is_float(&st->out[i]))
            return cu_refuse(err, st, "Mean / InvStdDev of type %s",
                             di_dtype_name(st->out[i].dtype));
    /* the rows as the op's infer laid them out (op.h) */
    const di_nn_layernorm_params *lp = hs->k.params;
    if (!lp)
        return cu_refuse(err, st, "a LayerNormalization step without its params");
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    p->x1 = lp->n;
    p->x0 = lp->rows;
    if (lp->scale_n != lp->n || (lp->bias_n && lp->bias_n != lp->n))
        return cu_refuse(err, st, "scale or bias that broadcast");
    p->a = lp->epsilon;
    st->run = layernorm_run;
    return DI_OK;
}

static int batchnorm_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_batchnorm(c->stream, cu_numel(&st->out[0]), p->x0, p->x1, p->a, st->in[1].dev,
                          st->in[2].dev, st->in[3].dev, st->in[4].dev, st->in[0].dev,
                          st->out[0].dev),
             "kernel");
    return DI_OK;
}

int cu_setup_batchnorm(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    const cu_tensor *x = &st->in[0];
    if (!cu_is_float(x) || x->ndim < 2 || st->nin < 5)
        return cu_refuse(err, st, "this form");
    for (int i = 1; i < st->nout; i++)
        if (st->out[i].dev)
            return cu_refuse(err, st, "training outputs");
    int64_t C = x->dims[1];
    for (int i = 1; i < 5; i++)
        if (!cu_is_float(&st->in[i]) || cu_numel(&st->in[i]) != C)
            return cu_refuse(err, st, "parameters that are not per-channel floats");
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    p->a = di_nn_attr_float(st->node, "epsilon", 1e-5f);
    p->x1 = C;
    p->x0 = C ? cu_numel(x) / (x->dims[0] * C > 0 ? x->dims[0] * C : 1) : 1;
    st->run = batchnorm_run;
    return DI_OK;
}

/* ---- reductions over one contiguous block of axes ---- */

static int reduce_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_reduce(c->stream, p->op, p->x0, p->x1, p->x2, st->in[0].dev, st->out[0].dev),
             "kernel");
    return DI_OK;
}

int cu_setup_reduce(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    const cu_tensor *x = &st->in[0];
    if (!cu_is_float(x))
        return cu_refuse(err, st, "element type %s", di_dtype_name(x->dtype));
    int64_t axes[DI_NN_MAX_DIMS];
    int na = 0;
    const di_nn_attr *aa = di_nn_node_attr(st->node, "axes");
    if (aa) {
        for (int i = 0; i < aa->n && i < DI_NN_MAX_DIMS; i++)
            axes[na++] = aa->ints[i];
    } else if (hs->k.nin > 1 && hs->k.in[1]) {
        if (!hs->k.in[1]->is_const || di_nn_const_ints(hs->k.in[1], axes, DI_NN_MAX_DIMS, &na))
            return cu_refuse(err, st, "axes that are not constant");
    }
    bool reduce[DI_NN_MAX_DIMS] = {false};
    if (na == 0) {
        if (di_nn_attr_int(st->node, "noop_with_empty_axes", 0))
            na = 0;
        else
            for (int d = 0; d < x->ndim; d++)
                reduce[d] = true;
    }
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim)
            return cu_refuse(err, st, "axis %lld", (long long)axes[i]);
        reduce[a] = true;
    }
    int first = -1, last = -1;
    for (int d = 0; d < x->ndim; d++)
        if (reduce[d] && x->dims[d] != 1) {
            if (first < 0)
                first = d;
            last = d;
        }
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    p->x0 = p->x1 = p->x2 = 1;
    for (int d = 0; d < x->ndim; d++) {
        bool in_block = first >= 0 && d >= first && d <= last;
        if (in_block && !reduce[d] && x->dims[d] != 1)
            return cu_refuse(err, st, "reduced axes that are not contiguous");
        if (in_block)
            p->x1 *= x->dims[d];
        else if (first >= 0 && d > last)
            p->x2 *= x->dims[d];
        else
            p->x0 *= x->dims[d];
    }
    if (first < 0)
        p->x0 = cu_numel(x); /* nothing to reduce: a copy */
    const char *n = st->name;
    p->op = !strcmp(n, "ReduceSum")   ? CU_RSUM
            : !strcmp(n, "ReduceMax") ? CU_RMAX
            : !strcmp(n, "ReduceMin") ? CU_RMIN
                                      : CU_RMEAN;
    st->run = reduce_run;
    return DI_OK;
}
