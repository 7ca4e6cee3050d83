/*
** ops_resize.c: Resize, linear, nearest and cubic, over the last two axes.
**
** Coordinate modes: half_pixel, pytorch_half_pixel, align_corners,
** asymmetric; nearest modes: round_prefer_floor/ceil, floor, ceil. Scales or
** sizes as (constant) inputs. The source index and weight of every output
** row and column are worked out once per plan. Works on plain NCHW and on
** oneDNN's channels-inner layouts (nChw8c, nChw16c, nhwc), so a decoder's
** Resize between two convs costs no reorder.
**
** Cubic (cubic_coeff_a, exclude_outside) takes four source rows and columns
** per output one, edges repeated as in the ONNX reference; DINOv2 (Depth
** Anything) resizes its position embedding that way when the input is not
** its 518x518, a constant the plan folds.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../op.h"

enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC };
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL };

typedef struct resize_state {
    di_nn_resize_tables t; /* the backend-neutral part (op.h) */
    int64_t planes, block; /* block: channels per pixel (1 plain) */
} resize_state;

const di_nn_resize_tables *di_nn_resize_tables_of(const di_nn_kctx *k)
{
    return k->state ? &((const resize_state *)k->state)->t : NULL;
}

static void resize_release(void *p)
{
    resize_state *s = p;
    if (!s)
        return;
    free(s->t.y0);
    free(s->t.y1);
    free(s->t.x0);
    free(s->t.x1);
    free(s->t.wy);
    free(s->t.wx);
    free(s->t.cy);
    free(s->t.cx);
    free(s->t.wcy);
    free(s->t.wcx);
    free(s);
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

static int resize_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
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

static int axis_tables(bool linear, int ct, int nm, int64_t in, int64_t out, double scale,
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
    return DI_OK;
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

/* Which oneDNN layout with channels innermost a tensor has: nChw16c,
** nChw8c or nhwc (all channels per pixel); 0 for another one. */
static dnnl_format_tag_t channel_layout(const di_nn_tensor *t, int64_t *block)
{
    static const dnnl_format_tag_t tags[] = {dnnl_aBcd16b, dnnl_aBcd8b, dnnl_acdb};
    if (t->ndim != 4)
        return 0;
    dnnl_dims_t d = {t->dims[0], t->dims[1], t->dims[2], t->dims[3]};
    for (size_t i = 0; i < 3; i++) {
        dnnl_memory_desc_t md;
        if (dnnl_memory_desc_init_by_tag(&md, 4, d, dnnl_f32, tags[i]) == dnnl_success &&
            dnnl_memory_desc_equal(&md, &t->md)) {
            *block = i == 0 ? 16 : i == 1 ? 8 : t->dims[1];
            return tags[i];
        }
    }
    return 0;
}

static int resize_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    di_nn_tensor *x = k->in[0], *y = k->out[0];
    const di_nn_tensor *scales = k->nin > 2 ? k->in[2] : NULL,
                       *sizes = k->nin > 3 ? k->in[3] : NULL;
    if (x->dtype != DI_DT_FLOAT)
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim < 2)
        return di_nn_unsupported(err, n, "a %d-D input", x->ndim);
    int64_t block = 1;
    dnnl_format_tag_t tag = 0;
    if (x->blocked && !(tag = channel_layout(x, &block)))
        return DI_NN_NEED_PLAIN;
    int nd = x->ndim;
    int64_t od[DI_NN_MAX_DIMS];
    double sc[DI_NN_MAX_DIMS];
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
    resize_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    s->t.linear = !strcmp(di_nn_attr_string(n, "mode", "nearest"), "linear");
    s->t.cubic = !strcmp(di_nn_attr_string(n, "mode", "nearest"), "cubic");
    int ct = coord_mode(di_nn_attr_string(n, "coordinate_transformation_mode", "half_pixel"));
    int nm = nearest_mode(di_nn_attr_string(n, "nearest_mode", "round_prefer_floor"));
    s->t.ih = x->dims[nd - 2];
    s->t.iw = x->dims[nd - 1];
    s->t.oh = od[nd - 2];
    s->t.ow = od[nd - 1];
    s->block = block;
    s->planes = 1;
    for (int i = 0; i < nd - 2; i++)
        s->planes *= x->dims[i];
    if (tag)
        s->planes = x->dims[0] * ((x->dims[1] + block - 1) / block);
    size_t hn = (size_t)s->t.oh + 1, wn = (size_t)s->t.ow + 1;
    s->t.y0 = malloc(hn * sizeof(int64_t));
    s->t.y1 = malloc(hn * sizeof(int64_t));
    s->t.wy = malloc(hn * sizeof(float));
    s->t.x0 = malloc(wn * sizeof(int64_t));
    s->t.x1 = malloc(wn * sizeof(int64_t));
    s->t.wx = malloc(wn * sizeof(float));
    if (!s->t.y0 || !s->t.y1 || !s->t.wy || !s->t.x0 || !s->t.x1 || !s->t.wx) {
        resize_release(s);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    axis_tables(s->t.linear, ct, nm, s->t.ih, s->t.oh, sc[nd - 2], s->t.y0, s->t.y1, s->t.wy);
    axis_tables(s->t.linear, ct, nm, s->t.iw, s->t.ow, sc[nd - 1], s->t.x0, s->t.x1, s->t.wx);
    if (s->t.cubic) {
        double a = di_nn_attr_float(n, "cubic_coeff_a", -0.75f);
        bool excl = di_nn_attr_int(n, "exclude_outside", 0) != 0;
        s->t.cy = malloc(4 * hn * sizeof(int64_t));
        s->t.cx = malloc(4 * wn * sizeof(int64_t));
        s->t.wcy = malloc(4 * hn * sizeof(float));
        s->t.wcx = malloc(4 * wn * sizeof(float));
        if (!s->t.cy || !s->t.cx || !s->t.wcy || !s->t.wcx) {
            resize_release(s);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
        cubic_tables(ct, s->t.ih, s->t.oh, sc[nd - 2], a, excl, s->t.cy, s->t.wcy);
        cubic_tables(ct, s->t.iw, s->t.ow, sc[nd - 1], a, excl, s->t.cx, s->t.wcx);
    }
    di_nn_set_shape(y, DI_DT_FLOAT, nd, od);
    if (tag) {
        dnnl_dims_t d = {od[0], od[1], od[2], od[3]};
        dnnl_memory_desc_init_by_tag(&y->md, 4, d, dnnl_f32, tag);
        y->blocked = true;
    }
    k->state = s;
    return DI_OK;
}

static int resize_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const resize_state *s = k->state;
    const float *x = k->in[0]->data;
    float *y = k->out[0]->data;
    const int64_t b = s->block, iw = s->t.iw, ow = s->t.ow;
    const int64_t rows = s->planes * s->t.oh;
#pragma omp parallel for num_threads(k->env->threads) if (rows * ow * b > 32768) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t p = r / s->t.oh, oy = r % s->t.oh;
        const float *plane = x + p * s->t.ih * iw * b;
        const float *r0 = plane + s->t.y0[oy] * iw * b, *r1 = plane + s->t.y1[oy] * iw * b;
        float *out = y + (p * s->t.oh + oy) * ow * b;
        if (s->t.cubic) {
            const int64_t *ry = s->t.cy + 4 * oy;
            const float *wy4 = s->t.wcy + 4 * oy;
            for (int64_t ox = 0; ox < ow; ox++) {
                const int64_t *cx = s->t.cx + 4 * ox;
                const float *wx4 = s->t.wcx + 4 * ox;
                for (int64_t c = 0; c < b; c++) {
                    float acc = 0.f;
                    for (int jy = 0; jy < 4; jy++) {
                        const float *row = plane + ry[jy] * iw * b + c;
                        float h = wx4[0] * row[cx[0] * b] + wx4[1] * row[cx[1] * b] +
                                  wx4[2] * row[cx[2] * b] + wx4[3] * row[cx[3] * b];
                        acc += wy4[jy] * h;
                    }
                    out[ox * b + c] = acc;
                }
            }
            continue;
        }
        if (!s->t.linear) {
            for (int64_t ox = 0; ox < ow; ox++)
                for (int64_t c = 0; c < b; c++)
                    out[ox * b + c] = r0[s->t.x0[ox] * b + c];
            continue;
        }
        const float wy = s->t.wy[oy];
        for (int64_t ox = 0; ox < ow; ox++) {
            const float wx = s->t.wx[ox];
            const float *a0 = r0 + s->t.x0[ox] * b, *a1 = r0 + s->t.x1[ox] * b;
            const float *b0 = r1 + s->t.x0[ox] * b, *b1 = r1 + s->t.x1[ox] * b;
            for (int64_t c = 0; c < b; c++) {
                float top = a0[c] + wx * (a1[c] - a0[c]);
                float bot = b0[c] + wx * (b1[c] - b0[c]);
                out[ox * b + c] = top + wy * (bot - top);
            }
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Resize = {
    .name = "Resize",
    .min_in = 1,
    .max_in = 4,
    .flags = DI_OP_BLOCKED_OK | DI_OP_PER_IMAGE,
    .check = resize_check,
    .prepare = resize_prepare,
    .run = resize_run,
    .release = resize_release,
};
