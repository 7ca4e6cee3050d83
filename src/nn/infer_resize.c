/*
** infer_resize.c: Resize's meaning, for every backend: its attributes
** checked at load, and per plan its output shape and coordinate tables
** (the source rows and columns of every output one, with their weights),
** kept in its params (di_nn_resize_params) and freed with the plan through
** the op's release_params. The CPU kernel (cpu/ops_resize.c) and the CUDA
** module (cuda/ops_simple.c) read the same tables.
**
** Coordinate modes: half_pixel, pytorch_half_pixel, align_corners,
** asymmetric; nearest modes: round_prefer_floor/ceil, floor, ceil. Scales or
** sizes as (constant) inputs; only the last two axes resize.
**
** Cubic (cubic_coeff_a, exclude_outside) takes four source rows and columns
** per output one, edges repeated as in the ONNX reference; DINOv2 (Depth
** Anything) resizes its position embedding that way when the input is not
** its 518x518, a constant the plan folds.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC };
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL };

const di_nn_resize_tables *di_nn_resize_tables_of(const di_nn_kctx *k)
{
    if (!k->node || k->node->op->infer != di_nn_infer_resize || !k->params)
        return NULL;
    const di_nn_resize_tables *t = &((const di_nn_resize_params *)k->params)->t;
    return t->y0 ? t : NULL;
}

void di_nn_resize_release_params(void *params)
{
    di_nn_resize_tables *t = &((di_nn_resize_params *)params)->t;
    free(t->y0);
    free(t->y1);
    free(t->x0);
    free(t->x1);
    free(t->wy);
    free(t->wx);
    free(t->cy);
    free(t->cx);
    free(t->wcy);
    free(t->wcx);
    memset(t, 0, sizeof *t);
}

static int coord_mode(const char *m)
{
    if (!strcmp(m, "half_pixel"))
        return CT_HALF_PIXEL;
    if (!strcmp(m, "pytorch_half_pixel"))
        return CT_PYTORCH_HALF_PIXEL;
    if (!strcmp(m, "align_corners"))
        return CT_ALIGN_CORNERS;
    if (!strcmp(m, "asymmetric"))
        return CT_ASYMMETRIC;
    return -1;
}

static int nearest_mode(const char *m)
{
    if (!strcmp(m, "round_prefer_floor"))
        return NM_ROUND_FLOOR;
    if (!strcmp(m, "round_prefer_ceil"))
        return NM_ROUND_CEIL;
    if (!strcmp(m, "floor"))
        return NM_FLOOR;
    if (!strcmp(m, "ceil"))
        return NM_CEIL;
    return -1;
}

int di_nn_check_resize(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *mode = di_nn_attr_string(n, "mode", "nearest");
    if (strcmp(mode, "nearest") && strcmp(mode, "linear") && strcmp(mode, "cubic"))
        return di_nn_unsupported(err, n, "mode=%s", mode);
    const char *ct = di_nn_attr_string(n, "coordinate_transformation_mode", "half_pixel");
    if (coord_mode(ct) < 0)
        return di_nn_unsupported(err, n, "coordinate_transformation_mode=%s", ct);
    const char *nm = di_nn_attr_string(n, "nearest_mode", "round_prefer_floor");
    if (nearest_mode(nm) < 0)
        return di_nn_unsupported(err, n, "nearest_mode=%s", nm);
    if (di_nn_attr_int(n, "antialias", 0))
        return di_nn_unsupported(err, n, "antialias=1");
    if (di_nn_node_attr(n, "axes"))
        return di_nn_unsupported(err, n, "the axes attribute");
    const char *kp = di_nn_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(kp, "stretch"))
        return di_nn_unsupported(err, n, "keep_aspect_ratio_policy=%s", kp);
    return DI_OK;
}

static double source_coord(int ct, int64_t o, int64_t in, int64_t out, double scale)
{
    switch (ct) {
    case CT_HALF_PIXEL: return ((double)o + 0.5) / scale - 0.5;
    case CT_PYTORCH_HALF_PIXEL: return out > 1 ? ((double)o + 0.5) / scale - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: {
        /* the ONNX reference divides by (in * scale - 1), unrounded */
        double len = (double)in * scale;
        return out == 1 || len <= 1.0 ? 0.0 : (double)o * (double)(in - 1) / (len - 1.0);
    }
    default: return (double)o / scale;
    }
}

static void axis_tables(bool linear, int ct, int nm, int64_t in, int64_t out, double scale,
                        int64_t *i0, int64_t *i1, float *w)
{
    for (int64_t o = 0; o < out; o++) {
        double x = source_coord(ct, o, in, out, scale);
        if (linear) {
            if (x < 0)
                x = 0;
            if (x > (double)(in - 1))
                x = (double)(in - 1);
            int64_t f = (int64_t)floor(x);
            i0[o] = f;
            i1[o] = f + 1 < in ? f + 1 : in - 1;
            w[o] = (float)(x - (double)f);
        } else {
            double f = floor(x), r;
            switch (nm) {
            case NM_ROUND_FLOOR: r = x - f == 0.5 ? f : round(x); break;
            case NM_ROUND_CEIL: r = x - f == 0.5 ? f + 1 : round(x); break;
            case NM_FLOOR: r = f; break;
            default: r = ceil(x); break;
            }
            int64_t idx = (int64_t)r;
            if (idx < 0)
                idx = 0;
            if (idx > in - 1)
                idx = in - 1;
            i0[o] = i1[o] = idx;
            w[o] = 0;
        }
    }
}

/* The cubic convolution kernel at distance d (Keys, with coefficient a). */
static double cubic_weight(double d, double a)
{
    d = fabs(d);
    if (d <= 1)
        return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2)
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0;
}

static void cubic_tables(int ct, int64_t in, int64_t out, double scale, double a,
                         bool exclude_outside, int64_t *idx, float *w)
{
    for (int64_t o = 0; o < out; o++) {
        double x = source_coord(ct, o, in, out, scale), f = floor(x), t = x - f, sum = 0, wt[4];
        for (int j = 0; j < 4; j++) {
            int64_t i = (int64_t)f - 1 + j;
            wt[j] = cubic_weight(t + 1 - j, a);
            if (exclude_outside && (i < 0 || i >= in))
                wt[j] = 0;
            sum += wt[j];
            idx[4 * o + j] = i < 0 ? 0 : i >= in ? in - 1 : i; /* edges repeat */
        }
        for (int j = 0; j < 4; j++)
            w[4 * o + j] = (float)(exclude_outside && sum != 0 ? wt[j] / sum : wt[j]);
    }
}

/* The output dims od and per axis its scale sc, from the scales or sizes. */
static int output_dims(const di_nn_kctx *k, int64_t *od, double *sc, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0];
    const di_nn_tensor *scales = k->nin > 2 ? k->in[2] : NULL,
                       *sizes = k->nin > 3 ? k->in[3] : NULL;
    int nd = x->ndim;
    if (scales && di_nn_numel(scales) > 0) {
        if (!scales->is_const || scales->dtype != DI_DT_FLOAT)
            return di_nn_unsupported(err, n, "scales that are not a constant float tensor");
        if (di_nn_numel(scales) != nd)
            return di_nn_shape_error(err, n, "%lld scales for a %d-D input",
                                     (long long)di_nn_numel(scales), nd);
        for (int i = 0; i < nd; i++) {
            sc[i] = ((const float *)scales->data)[i];
            if (!(sc[i] > 0) || !isfinite(sc[i]))
                return di_nn_shape_error(err, n, "scale %g is not positive", sc[i]);
            double o = floor((double)x->dims[i] * sc[i]);
            if (o > (double)((int64_t)1 << 31))
                return di_nn_shape_error(err, n, "scale %g makes the output absurdly large", sc[i]);
            od[i] = (int64_t)o;
            if (od[i] < 1 && x->dims[i] > 0)
                return di_nn_shape_error(err, n, "scale %g of axis %d makes it empty (%lld x %g)",
                                         sc[i], i, (long long)x->dims[i], sc[i]);
        }
    } else if (sizes && di_nn_numel(sizes) > 0) {
        int cnt;
        if (di_nn_const_ints(sizes, od, DI_NN_MAX_DIMS, &cnt))
            return di_nn_unsupported(err, n, "sizes that are not a constant integer tensor");
        if (cnt != nd)
            return di_nn_shape_error(err, n, "%d sizes for a %d-D input", cnt, nd);
        for (int i = 0; i < nd; i++) {
            if (od[i] < 1 || od[i] > ((int64_t)1 << 24))
                return di_nn_shape_error(err, n, "output size %lld", (long long)od[i]);
            sc[i] = x->dims[i] ? (double)od[i] / (double)x->dims[i] : 1;
        }
    } else {
        return di_nn_shape_error(err, n, "neither scales nor sizes given");
    }
    for (int i = 0; i < nd - 2; i++)
        if (od[i] != x->dims[i])
            return di_nn_unsupported(err, n, "resizing axis %d (only the last two axes)", i);
    return DI_OK;
}

int di_nn_infer_resize(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_tensor *x = k->in[0];
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim < 2)
        return di_nn_unsupported(err, n, "a %d-D input", x->ndim);
    int nd = x->ndim;
    int64_t od[DI_NN_MAX_DIMS];
    double sc[DI_NN_MAX_DIMS];
    int rc = output_dims(k, od, sc, err);
    if (rc)
        return rc;
    di_nn_resize_tables *t = &((di_nn_resize_params *)k->params)->t;
    const char *mode = di_nn_attr_string(n, "mode", "nearest");
    t->linear = !strcmp(mode, "linear");
    t->cubic = !strcmp(mode, "cubic");
    int ct = coord_mode(di_nn_attr_string(n, "coordinate_transformation_mode", "half_pixel"));
    int nm = nearest_mode(di_nn_attr_string(n, "nearest_mode", "round_prefer_floor"));
    t->ih = x->dims[nd - 2];
    t->iw = x->dims[nd - 1];
    t->oh = od[nd - 2];
    t->ow = od[nd - 1];
    size_t hn = (size_t)t->oh + 1, wn = (size_t)t->ow + 1;
    t->y0 = malloc(hn * sizeof(int64_t));
    t->y1 = malloc(hn * sizeof(int64_t));
    t->wy = malloc(hn * sizeof(float));
    t->x0 = malloc(wn * sizeof(int64_t));
    t->x1 = malloc(wn * sizeof(int64_t));
    t->wx = malloc(wn * sizeof(float));
    if (!t->y0 || !t->y1 || !t->wy || !t->x0 || !t->x1 || !t->wx)
        return di_fail(err, DI_ENOMEM, "out of memory");
    axis_tables(t->linear, ct, nm, t->ih, t->oh, sc[nd - 2], t->y0, t->y1, t->wy);
    axis_tables(t->linear, ct, nm, t->iw, t->ow, sc[nd - 1], t->x0, t->x1, t->wx);
    if (t->cubic) {
        double a = di_nn_attr_float(n, "cubic_coeff_a", -0.75f);
        bool excl = di_nn_attr_int(n, "exclude_outside", 0) != 0;
        t->cy = malloc(4 * hn * sizeof(int64_t));
        t->cx = malloc(4 * wn * sizeof(int64_t));
        t->wcy = malloc(4 * hn * sizeof(float));
        t->wcx = malloc(4 * wn * sizeof(float));
        if (!t->cy || !t->cx || !t->wcy || !t->wcx)
            return di_fail(err, DI_ENOMEM, "out of memory");
        cubic_tables(ct, t->ih, t->oh, sc[nd - 2], a, excl, t->cy, t->wcy);
        cubic_tables(ct, t->iw, t->ow, sc[nd - 1], a, excl, t->cx, t->wcx);
    }
    di_nn_set_shape(k->out[0], DI_DT_FLOAT, nd, od);
    return DI_OK;
}
