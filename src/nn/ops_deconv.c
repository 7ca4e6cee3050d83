/*
** ops_deconv.c: ConvTranspose (2-D; pads, strides, dilations, group,
** output_padding, output_shape, auto_pad) through oneDNN's deconvolution.
**
** ONNX weights are [C_in, C_out / group, kH, kW]: to oneDNN that is the
** "iohw" order of its [OC, IC, kH, kW] weights (with groups [G, OC/G, IC/G,
** kH, kW] stored as acbde). The primitive picks its layouts (format any);
** the weights are reordered once per plan, the input is reordered into
** scratch when its layout differs, and the output stays in oneDNN's layout
** for the next kernel, as Conv's does. output_padding adds rows and columns
** at the end: it is given to oneDNN as less right padding.
*/
#include <stdlib.h>
#include <string.h>

#include "op.h"

typedef struct deconv_state {
    dnnl_primitive_t prim, src_reorder;
    dnnl_memory_t src_user, src, wei, bias, dst, scratch;
    void *wei_data;
    size_t src_bytes, scratch_off;
    double flops;
} deconv_state;

static void deconv_release(void *p)
{
    deconv_state *s = p;
    if (!s) return;
    if (s->prim) dnnl_primitive_destroy(s->prim);
    if (s->src_reorder) dnnl_primitive_destroy(s->src_reorder);
    dnnl_memory_t mems[] = {s->src_user, s->src, s->wei, s->bias, s->dst, s->scratch};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    free(s->wei_data);
    free(s);
}

static int deconv_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") && strcmp(ap, "SAME_LOWER"))
        return di_nn_unsupported(err, n, "auto_pad=%s", ap);
    const di_nn_attr *ks = di_nn_node_attr(n, "kernel_shape");
    if (ks && ks->n != 2) return di_nn_unsupported(err, n, "a %d-D transposed convolution", ks->n);
    if (n->in[1] < 0) return di_nn_unsupported(err, n, "a ConvTranspose without weights");
    if (g->values[n->in[1]].data && g->values[n->in[1]].ndim != 4)
        return di_nn_unsupported(err, n, "a %d-D transposed convolution", g->values[n->in[1]].ndim - 2);
    return DI_OK;
}

static int pair(const di_nn_node *n, const char *name, int64_t *v, int64_t dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    v[0] = v[1] = dflt;
    if (!a) return DI_OK;
    if (a->n != 2) return -1;
    v[0] = a->ints[0];
    v[1] = a->ints[1];
    return DI_OK;
}

#define DN(call, what)                                                       \
    do {                                                                     \
        dnnl_status_t st_ = (call);                                          \
        if (st_ != dnnl_success) {                                           \
            rc = di_nn_dnnl_fail(err, n, what, st_);                         \
            goto fail;                                                       \
        }                                                                    \
    } while (0)

static int deconv_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    di_nn_tensor *x = k->in[0], *w = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL, *y = k->out[0];
    if (x->dtype != DI_DT_FLOAT || w->dtype != DI_DT_FLOAT || (b && b->dtype != DI_DT_FLOAT))
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    if (x->ndim != 4 || w->ndim != 4) return di_nn_unsupported(err, n, "a %d-D transposed convolution", x->ndim - 2);
    if (!w->is_const) return di_nn_unsupported(err, n, "weights that are not constant");
    int64_t G = di_nn_attr_int(n, "group", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t KH = w->dims[2], KW = w->dims[3];
    if (G < 1 || w->dims[0] != C || C % G)
        return di_nn_shape_error(err, n, "input has %lld channels, weights [%lld,%lld,%lld,%lld] with group %lld do not fit",
                                 (long long)C, (long long)w->dims[0], (long long)w->dims[1], (long long)KH, (long long)KW, (long long)G);
    int64_t OC = w->dims[1] * G;
    if (b && (b->ndim != 1 || b->dims[0] != OC)) return di_nn_shape_error(err, n, "bias has the wrong size for %lld output channels", (long long)OC);
    int64_t st[2], dl[2], op[2], ks[2], pads[4] = {0, 0, 0, 0}, os[2] = {0, 0};
    if (pair(n, "strides", st, 1) || pair(n, "dilations", dl, 1) || pair(n, "output_padding", op, 0) || pair(n, "kernel_shape", ks, 0))
        return di_nn_unsupported(err, n, "strides/dilations/output_padding of a rank other than 2");
    if (ks[0] && (ks[0] != KH || ks[1] != KW)) return di_nn_shape_error(err, n, "kernel_shape does not match the weights");
    const di_nn_attr *pa = di_nn_node_attr(n, "pads");
    if (pa) {
        if (pa->n != 4) return di_nn_unsupported(err, n, "pads of %d values", pa->n);
        memcpy(pads, pa->ints, sizeof pads);
    }
    const di_nn_attr *osa = di_nn_node_attr(n, "output_shape");
    if (osa) {
        if (osa->n != 2 && osa->n != 4) return di_nn_unsupported(err, n, "output_shape of %d values", osa->n);
        os[0] = osa->ints[osa->n - 2];
        os[1] = osa->ints[osa->n - 1];
    }
    if (st[0] < 1 || st[1] < 1 || dl[0] < 1 || dl[1] < 1) return di_nn_shape_error(err, n, "strides and dilations must be positive");
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
    int64_t in_sz[2] = {H, W}, k_sz[2] = {KH, KW}, out_sz[2];
    for (int d = 0; d < 2; d++) {
        int64_t ek = (k_sz[d] - 1) * dl[d] + 1, full = st[d] * (in_sz[d] - 1) + op[d] + ek;
        if (!strcmp(ap, "VALID")) pads[d] = pads[d + 2] = 0;
        if (osa || same) {
            int64_t target = osa ? os[d] : in_sz[d] * st[d];
            int64_t total = full - target;
            if (total < 0) { /* more than the convolution gives: zeros (and bias) at the end */
                op[d] -= total;
                total = 0;
                full = target;
            }
            if (!strcmp(ap, "SAME_UPPER")) {
                pads[d] = total / 2;
                pads[d + 2] = total - total / 2;
            } else {
                pads[d] = total - total / 2;
                pads[d + 2] = total / 2;
            }
        }
        out_sz[d] = full - pads[d] - pads[d + 2];
        if (out_sz[d] < 1 || pads[d] < 0 || pads[d + 2] < 0) return di_nn_shape_error(err, n, "pads leave no output");
        if (op[d] < 0 || (!osa && op[d] >= st[d] && op[d] >= dl[d])) return di_nn_shape_error(err, n, "output_padding %lld must be smaller than the stride or dilation", (long long)op[d]);
    }
    int64_t ydims[4] = {N, OC, out_sz[0], out_sz[1]};
    di_nn_set_shape(y, DI_DT_FLOAT, 4, ydims);

    int rc = DI_OK;
    deconv_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_memory_desc_t src_any, wei_any, dst_any, bias_md, x_md, wplain;
    dnnl_dims_t sd = {N, C, H, W}, dd = {N, OC, out_sz[0], out_sz[1]}, bd = {OC};
    dnnl_dims_t strides = {st[0], st[1]}, dil = {dl[0] - 1, dl[1] - 1};
    /* output_padding: rows/columns added at the end = less right padding */
    dnnl_dims_t pl = {pads[0], pads[1]}, pr = {pads[2] - op[0], pads[3] - op[1]};
    DN(dnnl_memory_desc_init_by_tag(&src_any, 4, sd, dnnl_f32, dnnl_format_tag_any), "memory desc");
    DN(dnnl_memory_desc_init_by_tag(&dst_any, 4, dd, dnnl_f32, dnnl_format_tag_any), "memory desc");
    DN(dnnl_memory_desc_init_by_tag(&bias_md, 1, bd, dnnl_f32, dnnl_a), "memory desc");
    if (G == 1) {
        dnnl_dims_t wd = {OC, C, KH, KW};
        DN(dnnl_memory_desc_init_by_tag(&wei_any, 4, wd, dnnl_f32, dnnl_format_tag_any), "memory desc");
        DN(dnnl_memory_desc_init_by_tag(&wplain, 4, wd, dnnl_f32, dnnl_bacd), "memory desc");
    } else {
        dnnl_dims_t wd = {G, OC / G, C / G, KH, KW};
        DN(dnnl_memory_desc_init_by_tag(&wei_any, 5, wd, dnnl_f32, dnnl_format_tag_any), "memory desc");
        DN(dnnl_memory_desc_init_by_tag(&wplain, 5, wd, dnnl_f32, dnnl_acbde), "memory desc");
    }
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    dnnl_deconvolution_desc_t dsc;
    DN(dnnl_dilated_deconvolution_forward_desc_init(&dsc, dnnl_forward_inference, dnnl_deconvolution_direct, &src_any, &wei_any,
                                                    b ? &bias_md : NULL, &dst_any, strides, dil, pl, pr),
       "deconvolution desc");
    DN(dnnl_primitive_desc_create(&pd, &dsc, attr, k->env->engine, NULL), "deconvolution primitive desc");
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *scr_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    DN(dnnl_primitive_create(&s->prim, pd), "deconvolution primitive");

    if (x->blocked) x_md = x->md;
    else if (di_nn_plain_md(x, &x_md)) {
        rc = di_nn_unsupported(err, n, "its input layout");
        goto fail;
    }
    size_t scratch = 0;
    if (!dnnl_memory_desc_equal(&x_md, src_md)) {
        DN(dnnl_reorder_primitive_desc_create(&rpd, &x_md, k->env->engine, src_md, k->env->engine, NULL), "input reorder");
        DN(dnnl_primitive_create(&s->src_reorder, rpd), "input reorder");
        dnnl_primitive_desc_destroy(rpd);
        rpd = NULL;
        DN(dnnl_memory_create(&s->src_user, &x_md, k->env->engine, DNNL_MEMORY_NONE), "memory");
        s->src_bytes = (dnnl_memory_desc_get_size(src_md) + 63) & ~(size_t)63;
        scratch += s->src_bytes;
    }
    s->scratch_off = scratch;
    scratch += scr_md ? dnnl_memory_desc_get_size(scr_md) : 0;
    k->scratch_bytes = scratch;
    DN(dnnl_memory_create(&s->src, src_md, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->dst, dst_md, k->env->engine, DNNL_MEMORY_NONE), "memory");
    if (scr_md && dnnl_memory_desc_get_size(scr_md)) DN(dnnl_memory_create(&s->scratch, scr_md, k->env->engine, DNNL_MEMORY_NONE), "memory");
    if (b) DN(dnnl_memory_create(&s->bias, &bias_md, k->env->engine, b->data), "memory");

    /* weights into the primitive's layout, once per plan */
    s->wei_data = aligned_alloc(64, (dnnl_memory_desc_get_size(wei_md) + 63) & ~(size_t)63);
    if (!s->wei_data) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto fail;
    }
    {
        dnnl_memory_t from = NULL, to = NULL;
        dnnl_primitive_t r = NULL;
        DN(dnnl_reorder_primitive_desc_create(&rpd, &wplain, k->env->engine, wei_md, k->env->engine, NULL), "weights reorder");
        DN(dnnl_primitive_create(&r, rpd), "weights reorder");
        dnnl_primitive_desc_destroy(rpd);
        rpd = NULL;
        dnnl_status_t es = dnnl_memory_create(&from, &wplain, k->env->engine, w->data);
        if (es == dnnl_success) es = dnnl_memory_create(&to, wei_md, k->env->engine, s->wei_data);
        if (es == dnnl_success) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
            es = dnnl_primitive_execute(r, k->env->stream, 2, args);
            if (es == dnnl_success) es = dnnl_stream_wait(k->env->stream);
        }
        dnnl_primitive_destroy(r);
        if (from) dnnl_memory_destroy(from);
        if (to) dnnl_memory_destroy(to);
        DN(es, "weights reorder");
    }
    DN(dnnl_memory_create(&s->wei, wei_md, k->env->engine, s->wei_data), "memory");
    y->blocked = true;
    y->md = *dst_md;
    s->flops = 2.0 * (double)N * (double)C * (double)H * (double)W * (double)(OC / G) * (double)KH * (double)KW;
    k->state = s;
    s = NULL;
fail:
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    deconv_release(s);
    return rc;
}

static int deconv_run(di_nn_kctx *k, di_error *err)
{
    deconv_state *s = k->state;
    const di_nn_node *n = k->node;
    dnnl_stream_t stream = k->env->stream;
    uint8_t *scratch = k->scratch;
    int rc = DI_OK;
    if (s->src_reorder) {
        dnnl_memory_set_data_handle(s->src_user, k->in[0]->data);
        dnnl_memory_set_data_handle(s->src, scratch);
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, s->src_user}, {DNNL_ARG_TO, s->src}};
        DN(dnnl_primitive_execute(s->src_reorder, stream, 2, args), "input reorder");
    } else {
        dnnl_memory_set_data_handle(s->src, k->in[0]->data);
    }
    dnnl_memory_set_data_handle(s->dst, k->out[0]->data);
    dnnl_exec_arg_t args[5];
    int na = 0;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->wei};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->dst};
    if (s->bias) args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, scratch + s->scratch_off);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    DN(dnnl_primitive_execute(s->prim, stream, na, args), "deconvolution");
    DN(dnnl_stream_wait(stream), "stream wait");
fail:
    return rc;
}

static double deconv_flops(const di_nn_kctx *k)
{
    const deconv_state *s = k->state;
    return s ? s->flops : 0;
}

const di_nn_op di_op_ConvTranspose = {
    .name = "ConvTranspose", .min_in = 2, .max_in = 3, .flags = DI_OP_BLOCKED_OK,
    .check = deconv_check, .prepare = deconv_prepare, .run = deconv_run,
    .release = deconv_release, .flops = deconv_flops,
};
