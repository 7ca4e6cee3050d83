/*
** rewrite_resize.c: Conv 1x1 (C -> C channels) after an upsampling Resize
** runs before it instead: Resize(Conv(x)) for Conv(Resize(x)).
**
** DPT's fusion blocks (Depth Anything's head) upsample by 2 and then apply a
** 1x1 "out_conv"; at 518x518 the last one runs at 296x296 on 64 channels:
** 0.72 GFLOP and 45 MB of traffic for the conv alone. On the Resize's input
** (148x148) the same conv does a quarter of the work. Both orders give the
** same values: a 1x1 conv is one affine map of the channels per pixel, and
** Resize's nearest or linear output pixel is a combination of input pixels
** whose weights sum to 1 (each axis' pair (1 - t, t); a pick for nearest), so
** the map goes through it, bias included, to float32 rounding. Not for
** modes or forms where it would not: cubic (left alone, though its weights
** sum to 1 too), tf_crop_and_resize (pixels outside take a constant), an
** `axes` attribute, constant scales that scale the channel axis, and a
** Resize known to downsample (constant scales below 1, constant sizes below
** the input's declared size): there the swap would add work.
**
** The channels must stay C: the Resize's sizes may come from its input's
** shape (torch's interpolate(size=) exports Concat(Shape(x)[:2], size)),
** which after the swap must still hold for the conv's output. A channel
** count the sizes would change makes the original Conv invalid (its weights
** expect C) and the swapped one too: refused at plan time either way.
** Not for DI_NN_LOAD_PORTABLE (the unfused graph is what other backends and
** the tests compare with); DI_NN_RESIZE_CONV=keep in the environment leaves
** the file's order, for comparison.
*/
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "rewrite.h"

/* v is a float initializer of nd dimensions */
static bool float_init(const di_nn_graph *g, int v, int nd)
{
    return v >= 0 && g->values[v].data && g->values[v].dtype == DI_DT_FLOAT &&
           g->values[v].ndim == nd;
}

/* every element of int attribute `name` of n equals want (absent: true) */
static bool ints_all(const di_nn_node *n, const char *name, int64_t want)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    for (int i = 0; a && i < a->n; i++)
        if (a->ints[i] != want)
            return false;
    return true;
}

/* Resize node r may move after a per-pixel affine map of the channels */
static bool resize_commutes(const di_nn_graph *g, const di_nn_node *r)
{
    const char *mode = di_nn_attr_string(r, "mode", "nearest");
    const char *ct = di_nn_attr_string(r, "coordinate_transformation_mode", "half_pixel");
    if (strcmp(r->op_type, "Resize") || r->nout != 1 || r->nin < 3 ||
        (strcmp(mode, "nearest") && strcmp(mode, "linear")) || !strcmp(ct, "tf_crop_and_resize") ||
        di_nn_node_attr(r, "axes"))
        return false;
    int scales = r->in[2], sizes = r->nin > 3 ? r->in[3] : -1;
    const di_nn_value *sv = scales >= 0 ? &g->values[scales] : NULL;
    if (sv && (sv->ndim != 1 || sv->dims[0] != 0)) { /* scales given (not empty) */
        if (!sv->data || sv->dtype != DI_DT_FLOAT || sv->dims[0] < 2)
            return false; /* computed: the channel axis' scale is not known here */
        const float *f = sv->data;
        bool up = true; /* a downsample would give the conv more pixels, not fewer */
        for (int64_t i = 2; i < sv->dims[0]; i++)
            up &= f[i] >= 1.f;
        return f[1] == 1.f && up;
    }
    if (sizes < 0)
        return false;
    /* constant sizes against the input's declared shape, where both are
    ** known; sizes computed at run time (torch's interpolate(size=)) are
    ** taken as an upsample, as in DPT: a downsample would run the conv at the
    ** larger size, the same values for more work */
    const di_nn_value *zv = &g->values[sizes], *xv = &g->values[r->in[0]];
    if (zv->data && zv->dtype == DI_DT_INT64 && zv->ndim == 1 && xv->ndim == zv->dims[0])
        for (int i = 2; i < xv->ndim; i++)
            if (xv->dims[i] > 0 && ((const int64_t *)zv->data)[i] < xv->dims[i])
                return false;
    return true;
}

int di_nn_rewrite_resize_conv(di_nn_graph *g, int *uses, bool *dead, int ri)
{
    (void)dead;
    const char *e = getenv("DI_NN_RESIZE_CONV");
    if (e && !strcmp(e, "keep"))
        return 0;
    di_nn_node *r = &g->nodes[ri];
    if (!resize_commutes(g, r) || r->out[0] < 0 || r->in[0] < 0)
        return 0;
    int y = r->out[0];
    int ci = di_nn_rw_only_consumer(g, uses, y);
    if (ci < 0 || ci <= ri)
        return 0;
    di_nn_node *c = &g->nodes[ci];
    if (strcmp(c->op_type, "Conv") || c->nout != 1 || c->nin < 2 || c->in[0] != y)
        return 0;
    int w = c->in[1], b = c->nin > 2 ? c->in[2] : -1;
    if (!float_init(g, w, 4) || (b >= 0 && !float_init(g, b, 1)))
        return 0;
    const int64_t *wd = g->values[w].dims;
    const char *ap = di_nn_attr_string(c, "auto_pad", "NOTSET");
    const di_nn_attr *grp = di_nn_node_attr(c, "group");
    if (wd[0] != wd[1] || wd[2] != 1 || wd[3] != 1 || !ints_all(c, "strides", 1) ||
        !ints_all(c, "pads", 0) || (grp && grp->i != 1) ||
        (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")))
        return 0;
    /* Node ri becomes the Conv on x, writing y (now at x's size), node ci
    ** the Resize of y into the Conv's output: each node keeps its output
    ** value; the Conv's weights are initializers and the Resize's other
    ** inputs come before ri, so the order stays topological. */
    int x = r->in[0], z = c->out[0];
    if (z < 0)
        return 0;
    di_nn_node t = *r;
    *r = *c;
    *c = t;
    r->in[0] = x;
    r->out[0] = y;
    c->in[0] = y;
    c->out[0] = z;
    g->values[y].ndim = -1; /* its declared shape, if any, was the upsampled one */
    return 1;
}
