/*
** ops_deconv.c: ConvTranspose (1-D to 3-D; groups, strides, dilations,
** pads, output_padding, output_shape, auto_pad) through oneDNN's
** deconvolution primitive. ONNX's weights [C_in, C_out/group, k...] are
** oneDNN's "iohw" (per group), so they are described, not copied.
*/
#include <stdlib.h>
#include <string.h>

#include "../op.h"

typedef struct deconv_state {
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst, scratch;
} deconv_state;

static void deconv_release(void *p)
{
    deconv_state *s = p;
    if (!s)
        return;
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    dnnl_memory_t m[] = {s->src, s->wei, s->bias, s->dst, s->scratch};
    for (size_t i = 0; i < 5; i++)
        if (m[i])
            dnnl_memory_destroy(m[i]);
    free(s);
}

static int deconv_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    int rc = di_nn_check_window_attrs(n, err);
    if (rc)
        return rc;
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") &&
        strcmp(ap, "SAME_LOWER"))
        return di_nn_unsupported(err, n, "auto_pad=%s", ap);
    return DI_OK;
}

#define DN(call, what) DI_NN_DNNL(n, call, what)

static int deconv_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    di_nn_tensor *x = k->in[0], *w = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL, *y = k->out[0];
    if (x->dtype != DI_DT_FLOAT || w->dtype != DI_DT_FLOAT || (b && b->dtype != DI_DT_FLOAT))
        return di_nn_unsupported(err, n, "element type %s", di_dtype_name(x->dtype));
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 3 || w->ndim != x->ndim)
        return di_nn_unsupported(err, n, "a %d-D transposed convolution", sp);
    if (!w->is_const)
        return di_nn_unsupported(err, n, "weights that are not constant");
    int64_t G = di_nn_attr_int(n, "group", 1), C = x->dims[1];
    if (G < 1 || w->dims[0] != C || C % G)
        return di_nn_shape_error(
            err, n, "weights [%lld, ...] do not fit %lld input channels in %lld groups",
            (long long)w->dims[0], (long long)C, (long long)G);
    int64_t OC = w->dims[1] * G;
    if (b && di_nn_numel(b) != OC)
        return di_nn_shape_error(err, n, "bias has %lld values for %lld output channels",
                                 (long long)di_nn_numel(b), (long long)OC);
    int64_t st[3], dl[3], op[3], pads[6], os[3], ks[3];
    if (di_nn_attr_ints_exact(n, "strides", sp, st, 1) ||
        di_nn_attr_ints_exact(n, "dilations", sp, dl, 1) ||
        di_nn_attr_ints_exact(n, "output_padding", sp, op, 0) ||
        di_nn_attr_ints_exact(n, "pads", 2 * sp, pads, 0) ||
        di_nn_attr_ints_exact(n, "kernel_shape", sp, ks, 0))
        return di_nn_shape_error(
            err, n, "strides, dilations, pads or output_padding do not fit a %d-D input", sp);
    const di_nn_attr *osa = di_nn_node_attr(n, "output_shape");
    if (osa && osa->n != sp && osa->n != sp + 2)
        return di_nn_shape_error(err, n, "output_shape has %d values", osa->n);
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    int64_t od[5] = {x->dims[0], OC}, extra[3] = {0, 0, 0};
    for (int i = 0; i < sp; i++) {
        int64_t in = x->dims[2 + i], ek = (w->dims[2 + i] - 1) * dl[i] + 1;
        if (st[i] < 1 || dl[i] < 1)
            return di_nn_shape_error(err, n, "non-positive stride or dilation");
        if (ks[i] && ks[i] != w->dims[2 + i])
            return di_nn_shape_error(err, n, "kernel_shape does not match the weights");
        int64_t full = st[i] * (in - 1) + op[i] + ek;
        if (osa || !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            os[i] = osa ? osa->ints[osa->n - sp + i] : in * st[i];
            int64_t total = full - os[i];
            if (total < 0) { /* a larger output: rows at the end that no window reaches */
                extra[i] = -total;
                total = 0;
            }
            bool upper = !strcmp(ap, "SAME_UPPER");
            pads[i] = upper ? total / 2 : total - total / 2;
            pads[i + sp] = total - pads[i];
        } else if (!strcmp(ap, "VALID")) {
            pads[i] = pads[i + sp] = 0;
        }
        od[2 + i] = full - pads[i] - pads[i + sp] + extra[i];
        if (od[2 + i] < 1)
            return di_nn_shape_error(err, n, "the output would be empty");
    }
    di_nn_set_shape(y, DI_DT_FLOAT, x->ndim, od);
    int rc = DI_OK;
    deconv_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
    dnnl_dims_t wd, bd = {OC}, sd, dld, pl, pr;
    static const dnnl_format_tag_t wt[] = {dnnl_bac, dnnl_bacd, dnnl_bacde},
                                   gwt[] = {dnnl_acbd, dnnl_acbde, dnnl_acbdef};
    for (int i = 0; i < sp; i++) {
        sd[i] = st[i];
        dld[i] = dl[i] - 1;
        pl[i] = pads[i];
        /* output_padding adds rows at the end that no window reaches */
        pr[i] = pads[i + sp] - op[i] - extra[i];
    }
    if (G == 1) {
        wd[0] = OC;
        wd[1] = C;
        for (int i = 0; i < sp; i++)
            wd[2 + i] = w->dims[2 + i];
        DN(dnnl_memory_desc_init_by_tag(&wei_md, x->ndim, wd, dnnl_f32, wt[sp - 1]), "memory desc");
    } else {
        wd[0] = G;
        wd[1] = OC / G;
        wd[2] = C / G;
        for (int i = 0; i < sp; i++)
            wd[3 + i] = w->dims[2 + i];
        DN(dnnl_memory_desc_init_by_tag(&wei_md, x->ndim + 1, wd, dnnl_f32, gwt[sp - 1]),
           "memory desc");
    }
    if (di_nn_plain_md(x, &src_md) || di_nn_plain_md(y, &dst_md)) {
        rc = di_nn_unsupported(err, n, "its layout");
        goto fail;
    }
    DN(dnnl_memory_desc_init_by_tag(&bias_md, 1, bd, dnnl_f32, dnnl_a), "memory desc");
    dnnl_deconvolution_desc_t desc;
    DN(dnnl_dilated_deconvolution_forward_desc_init(&desc, dnnl_forward_inference,
                                                    dnnl_deconvolution_direct, &src_md, &wei_md,
                                                    b ? &bias_md : NULL, &dst_md, sd, dld, pl, pr),
       "deconvolution desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    DN(dnnl_primitive_desc_create(&pd, &desc, attr, k->env->engine, NULL),
       "deconvolution primitive desc");
    DN(dnnl_primitive_create(&s->prim, pd), "deconvolution primitive");
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    DN(dnnl_memory_create(&s->src, &src_md, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->dst, &dst_md, k->env->engine, DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->wei, &wei_md, k->env->engine, w->data), "memory");
    if (b)
        DN(dnnl_memory_create(&s->bias, &bias_md, k->env->engine, b->data), "memory");
    if (scr && dnnl_memory_desc_get_size(scr)) {
        DN(dnnl_memory_create(&s->scratch, scr, k->env->engine, DNNL_MEMORY_NONE), "memory");
        k->scratch_bytes = dnnl_memory_desc_get_size(scr);
    }
    k->state = s;
    s = NULL;
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    deconv_release(s);
    return rc;
}

static int deconv_run(di_nn_kctx *k, di_error *err)
{
    deconv_state *s = k->state;
    const di_nn_node *n = k->node;
    int rc = DI_OK;
    dnnl_memory_set_data_handle(s->src, k->in[0]->data);
    dnnl_memory_set_data_handle(s->dst, k->out[0]->data);
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, s->src}, {DNNL_ARG_WEIGHTS, s->wei}, {DNNL_ARG_DST, s->dst}};
    int na = 3;
    if (s->bias)
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, k->scratch);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    DN(dnnl_primitive_execute(s->prim, k->env->stream, na, args), "deconvolution");
    DN(dnnl_stream_wait(k->env->stream), "stream wait");
fail:
    return rc;
}

static double deconv_flops(const di_nn_kctx *k)
{
    const di_nn_tensor *x = k->in[0], *w = k->in[1];
    double f = 2.0 * (double)di_nn_numel(x) * (double)w->dims[1];
    for (int i = 2; i < w->ndim; i++)
        f *= (double)w->dims[i];
    return f;
}

const di_nn_op di_op_ConvTranspose = {
    .name = "ConvTranspose",
    .min_in = 2,
    .max_in = 3,
    .flags = DI_OP_PER_IMAGE,
    .check = deconv_check,
    .prepare = deconv_prepare,
    .run = deconv_run,
    .release = deconv_release,
    .flops = deconv_flops,
};
