/*
** ops_move.c: the data movement ops on the backend's own kernels: Transpose,
** Concat, Split, Slice, Expand (the strided copy), Gather, Pad, Tile, Cast.
** Shapes, starts and the like come from the planned shapes and constant
** inputs, once per plan.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simple.h"

/* ---- data movement through the strided copy ---- */

static int copy1_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_copy(c->stream, &p->w, st->in[0].dev, p->x0, st->out[0].dev, 0,
                     (int)di_dtype_size(st->out[0].dtype)),
             "kernel");
    return DI_OK;
}

static int esize_ok(cu_step *st, const cu_tensor *t, di_error *err)
{
    size_t e = di_dtype_size(t->dtype);
    return e == 1 || e == 2 || e == 4 || e == 8
               ? DI_OK
               : cu_refuse(err, st, "element type %s", di_dtype_name(t->dtype));
}

int cu_setup_transpose(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    if (esize_ok(st, x, err))
        return err->code;
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    const di_nn_attr *perm = di_nn_node_attr(st->node, "perm");
    int64_t xs[DI_NN_MAX_DIMS];
    di_nn_contiguous_strides(x->ndim, x->dims, xs);
    cu_walk_of(&p->w, y);
    di_nn_contiguous_strides(y->ndim, y->dims, p->w.sb);
    for (int d = 0; d < y->ndim; d++) {
        int64_t src = perm && perm->n == x->ndim ? perm->ints[d] : x->ndim - 1 - d;
        if (src < 0 || src >= x->ndim)
            return cu_refuse(err, st, "perm");
        p->w.sa[d] = xs[src];
    }
    st->run = copy1_run;
    return DI_OK;
}

int cu_setup_expand(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    if (esize_ok(st, x, err))
        return err->code;
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    cu_walk_of(&p->w, y);
    di_nn_contiguous_strides(y->ndim, y->dims, p->w.sb);
    if (!cu_bcast_strides(x, p->w.nd, p->w.dims, p->w.sa))
        return cu_refuse(err, st, "a shape that does not broadcast");
    st->run = copy1_run;
    return DI_OK;
}

int cu_setup_slice(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    if (esize_ok(st, x, err))
        return err->code;
    int64_t starts[DI_NN_MAX_DIMS], ends[DI_NN_MAX_DIMS], axes[DI_NN_MAX_DIMS],
        steps[DI_NN_MAX_DIMS];
    int ns = 0, ne = 0, na = 0, nst = 0;
    const di_nn_kctx *k = &hs->k;
    if (k->nin >= 3) {
        if (!k->in[1]->is_const || !k->in[2]->is_const ||
            di_nn_const_ints(k->in[1], starts, DI_NN_MAX_DIMS, &ns) ||
            di_nn_const_ints(k->in[2], ends, DI_NN_MAX_DIMS, &ne))
            return cu_refuse(err, st, "starts / ends that are not constant");
        if (k->nin > 3 && k->in[3] &&
            (!k->in[3]->is_const || di_nn_const_ints(k->in[3], axes, DI_NN_MAX_DIMS, &na)))
            return cu_refuse(err, st, "axes that are not constant");
        if (k->nin > 4 && k->in[4] &&
            (!k->in[4]->is_const || di_nn_const_ints(k->in[4], steps, DI_NN_MAX_DIMS, &nst)))
            return cu_refuse(err, st, "steps that are not constant");
    } else {
        const di_nn_attr *s = di_nn_node_attr(st->node, "starts"),
                         *a = di_nn_node_attr(st->node, "axes");
        if (!s)
            return cu_refuse(err, st, "no starts");
        for (int i = 0; i < s->n && i < DI_NN_MAX_DIMS; i++)
            starts[ns++] = s->ints[i];
        for (int i = 0; a && i < a->n && i < DI_NN_MAX_DIMS; i++)
            axes[na++] = a->ints[i];
    }
    if (!na)
        for (int i = 0; i < ns; i++)
            axes[na++] = i;
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    int64_t xs[DI_NN_MAX_DIMS], start[DI_NN_MAX_DIMS] = {0}, step[DI_NN_MAX_DIMS];
    di_nn_contiguous_strides(x->ndim, x->dims, xs);
    for (int d = 0; d < x->ndim; d++)
        step[d] = 1;
    for (int i = 0; i < ns && i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x->ndim : axes[i];
        if (a < 0 || a >= x->ndim)
            return cu_refuse(err, st, "axis %lld", (long long)axes[i]);
        int64_t dim = x->dims[a], s = starts[i], sp = i < nst ? steps[i] : 1;
        if (sp == 0)
            return cu_refuse(err, st, "a zero step");
        if (s < 0)
            s += dim;
        if (sp > 0)
            s = s < 0 ? 0 : s > dim ? dim : s;
        else
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
        start[a] = s;
        step[a] = sp;
    }
    cu_walk_of(&p->w, y);
    di_nn_contiguous_strides(y->ndim, y->dims, p->w.sb);
    p->x0 = 0;
    for (int d = 0; d < x->ndim; d++) {
        p->w.sa[d] = xs[d] * step[d];
        p->x0 += start[d] * xs[d];
    }
    st->run = copy1_run;
    return DI_OK;
}

/* Concat and Split: one strided copy per part, into / out of a window of
** the big tensor along the axis. */
static int parts_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    bool concat = !strcmp(st->name, "Concat");
    int es = (int)di_dtype_size(concat ? st->out[0].dtype : st->in[0].dtype);
    for (int i = 0; i < p->n; i++) {
        if (concat && st->in[i].dev)
            LAUNCHED(
                cu_copy(c->stream, &p->parts[i], st->in[i].dev, 0, st->out[0].dev, p->offs[i], es),
                "kernel");
        else if (!concat && st->out[i].dev)
            LAUNCHED(
                cu_copy(c->stream, &p->parts[i], st->in[0].dev, p->offs[i], st->out[i].dev, 0, es),
                "kernel");
    }
    return DI_OK;
}

/* split: Split's params (where each part starts: an omitted output still
** moves the parts after it), or NULL for a Concat */
static int setup_parts(cu_step *st, const di_nn_split_params *split, di_error *err)
{
    bool concat = !split;
    const cu_tensor *big = concat ? &st->out[0] : &st->in[0];
    if (esize_ok(st, big, err))
        return err->code;
    int n = concat ? st->nin : st->nout;
    int axis = cu_axis_of(st, big->ndim, concat ? 0 : 0);
    if (axis < 0 || axis >= big->ndim)
        return cu_refuse(err, st, "axis");
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    p->n = n;
    p->parts = calloc((size_t)n + 1, sizeof *p->parts);
    p->offs = calloc((size_t)n + 1, sizeof *p->offs);
    if (!p->parts || !p->offs)
        return di_fail(err, DI_ENOMEM, "out of memory");
    int64_t bs[DI_NN_MAX_DIMS], at = 0;
    di_nn_contiguous_strides(big->ndim, big->dims, bs);
    for (int i = 0; i < n; i++) {
        const cu_tensor *t = concat ? &st->in[i] : &st->out[i];
        if (!t->dev || t->ndim != big->ndim) {
            if (t->dev)
                return cu_refuse(err, st, "parts of another rank");
            continue;
        }
        cu_walk *w = &p->parts[i];
        cu_walk_of(w, t);
        int64_t ts[DI_NN_MAX_DIMS];
        di_nn_contiguous_strides(t->ndim, t->dims, ts);
        for (int d = 0; d < t->ndim; d++) {
            (concat ? w->sa : w->sb)[d] = ts[d];
            (concat ? w->sb : w->sa)[d] = bs[d];
        }
        p->offs[i] = (split ? split->start[i] : at) * bs[axis];
        at += t->dims[axis];
    }
    st->run = parts_run;
    return DI_OK;
}

int cu_setup_concat(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    return setup_parts(st, NULL, err);
}

int cu_setup_split(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    return setup_parts(st, hs->k.params, err);
}

/* ---- Gather, Pad, Tile, Cast ---- */

static int gather_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_gather(c->stream, p->x0, p->x1, p->x2, st->in[1].dev,
                       st->in[1].dtype == DI_DT_INT64, cu_numel(&st->in[1]), st->in[0].dev,
                       st->out[0].dev, (int)di_dtype_size(st->in[0].dtype)),
             "kernel");
    return DI_OK;
}

int cu_setup_gather(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    const cu_tensor *x = &st->in[0], *idx = &st->in[1];
    size_t es = di_dtype_size(x->dtype);
    if (es != 1 && es != 4 && es != 8)
        return cu_refuse(err, st, "element type %s", di_dtype_name(x->dtype));
    if (idx->dtype != DI_DT_INT64 && idx->dtype != DI_DT_INT32)
        return cu_refuse(err, st, "indices of type %s", di_dtype_name(idx->dtype));
    int axis = cu_axis_of(st, x->ndim, 0);
    if (axis < 0 || axis >= x->ndim)
        return cu_refuse(err, st, "axis");
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    p->x0 = p->x2 = 1;
    for (int d = 0; d < axis; d++)
        p->x0 *= x->dims[d];
    p->x1 = x->dims[axis];
    for (int d = axis + 1; d < x->ndim; d++)
        p->x2 *= x->dims[d];
    st->run = gather_run;
    return DI_OK;
}

static int pad_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_pad(c->stream, &p->w, p->xdims, p->pb, p->op, p->a, st->in[0].dev, st->out[0].dev),
             "kernel");
    return DI_OK;
}

int cu_setup_pad(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    if (!cu_is_float(x))
        return cu_refuse(err, st, "element type %s", di_dtype_name(x->dtype));
    int64_t pads[2 * DI_NN_MAX_DIMS];
    int np = 0;
    const di_nn_kctx *k = &hs->k;
    if (k->nin > 1 && k->in[1]) {
        if (!k->in[1]->is_const || di_nn_const_ints(k->in[1], pads, 2 * DI_NN_MAX_DIMS, &np))
            return cu_refuse(err, st, "pads that are not constant");
    } else {
        const di_nn_attr *a = di_nn_node_attr(st->node, "pads");
        for (int i = 0; a && i < a->n && i < 2 * DI_NN_MAX_DIMS; i++)
            pads[np++] = a->ints[i];
    }
    if (k->nin > 3 && k->in[3])
        return cu_refuse(err, st, "the axes input");
    if (np != 2 * x->ndim)
        return cu_refuse(err, st, "%d pads for %d dimensions", np, x->ndim);
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    const char *mode = di_nn_attr_string(st->node, "mode", "constant");
    p->op = !strcmp(mode, "reflect") ? CU_PAD_REFLECT
            : !strcmp(mode, "edge")  ? CU_PAD_EDGE
                                     : CU_PAD_CONST;
    if (strcmp(mode, "constant") && p->op == CU_PAD_CONST)
        return cu_refuse(err, st, "mode=%s", mode);
    p->a = di_nn_attr_float(st->node, "value", 0.f);
    if (k->nin > 2 && k->in[2] && di_nn_numel(k->in[2]) > 0) {
        if (!k->in[2]->is_const || k->in[2]->dtype != DI_DT_FLOAT)
            return cu_refuse(err, st, "a constant_value that is not a constant float");
        p->a = *(const float *)k->in[2]->data;
    }
    cu_walk_of(&p->w, y);
    for (int d = 0; d < x->ndim; d++) {
        p->pb[d] = pads[d];
        p->xdims[d] = x->dims[d];
    }
    st->run = pad_run;
    return DI_OK;
}

static int tile_run(cu_step *st, cu_ctx *c, di_error *err)
{
    simple_p *p = st->p;
    LAUNCHED(cu_tile(c->stream, &p->w, p->xdims, st->in[0].dev, st->out[0].dev,
                     (int)di_dtype_size(st->in[0].dtype)),
             "kernel");
    return DI_OK;
}

int cu_setup_tile(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    const cu_tensor *x = &st->in[0], *y = &st->out[0];
    size_t es = di_dtype_size(x->dtype);
    if (es != 1 && es != 4 && es != 8)
        return cu_refuse(err, st, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim != y->ndim)
        return cu_refuse(err, st, "a rank change");
    simple_p *p = cu_new_p(st, err);
    if (!p)
        return DI_ENOMEM;
    cu_walk_of(&p->w, y);
    for (int d = 0; d < x->ndim; d++)
        p->xdims[d] = x->dims[d];
    st->run = tile_run;
    return DI_OK;
}

static int cast_run(cu_step *st, cu_ctx *c, di_error *err)
{
    LAUNCHED(cu_cast(c->stream, cu_numel(&st->out[0]), st->in[0].dtype, st->out[0].dtype,
                     st->in[0].dev, st->out[0].dev),
             "kernel");
    return DI_OK;
}

int cu_setup_cast(cu_plan *pl, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)pl;
    (void)c;
    (void)hs;
    static const int ok[] = {DI_DT_FLOAT, DI_DT_UINT8, DI_DT_INT8,  DI_DT_INT32,
                             DI_DT_INT64, DI_DT_BOOL,  DI_DT_DOUBLE};
    bool fi = false, fo = false;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        fi |= st->in[0].dtype == ok[i];
        fo |= st->out[0].dtype == ok[i];
    }
    if (!fi || !fo)
        return cu_refuse(err, st, "a cast from %s to %s", di_dtype_name(st->in[0].dtype),
                         di_dtype_name(st->out[0].dtype));
    st->run = cast_run;
    return DI_OK;
}
