/*
** ops_deconv.c: ConvTranspose (1-D to 3-D; groups, strides, dilations,
** pads, output_padding, output_shape, auto_pad) through oneDNN's
** deconvolution primitive. ONNX's weights [C_in, C_out/group, k...] are
** oneDNN's "iohw" (per group), so they are described, not copied.
**
** A 2-D ConvTranspose whose strides equal its kernel (no pads, no dilation,
** one group: DPT's 4x4/4 and 2x2/2 upsampling of the ViT's patch grid)
** writes each output pixel from one input pixel: it is one GEMM,
** Z[pixel, (oc, i, j)] = x[:, pixel]^T W (dnnl_sgemm, W as it is), and a
** scatter of Z into the output with the bias. oneDNN's deconvolution ran
** these through its gemm-based kernel at 36 GFLOP/s with col2im (48
** channels 37 -> 148: 2.8 ms per image on one Zen 5 core, and 19 ms of CPU
** at two threads), against 1.0 ms for the GEMM and scatter (96 channels
** 37 -> 74: 1.6 against 0.75 ms).
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

typedef struct deconv_state {
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst, scratch;
    /* strides == kernel: the GEMM and scatter instead of prim */
    bool patch;
    int64_t n, c, oc, h, w, k0, k1;
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

/* Whether the conv is a patch upsampling (strides == kernel, 2-D, one
** group, no pad, no dilation, output exactly input x stride, float32) */
static bool patch_fits(const di_nn_kctx *k)
{
    const di_nn_deconv_params *p = k->params;
    const di_nn_tensor *x = k->in[0], *w = k->in[1], *y = k->out[0];
    if (p->spatial != 2 || p->group != 1 || x->blocked || x->dtype != DI_DT_FLOAT ||
        w->dtype != DI_DT_FLOAT || !w->data || w->ndim != 4)
        return false;
    for (int i = 0; i < 2; i++)
        if (p->strides[i] != w->dims[2 + i] || p->dilations[i] != 1 || p->pad_begin[i] ||
            p->pad_end[i] || y->dims[2 + i] != x->dims[2 + i] * p->strides[i])
            return false;
    const char *e = getenv("DI_NN_DECONV_ALGO");
    return !(e && !strcmp(e, "onednn"));
}

/* After di_nn_infer_deconv (padding, output shape): the oneDNN primitive. */
static int deconv_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_deconv_params *p = k->params;
    di_nn_tensor *x = k->in[0], *w = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL, *y = k->out[0];
    int sp = p->spatial;
    int64_t G = p->group, C = x->dims[1], OC = w->dims[1] * G;
    const int64_t *st = p->strides, *dl = p->dilations;
    int rc = DI_OK;
    deconv_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    if (patch_fits(k)) {
        s->patch = true;
        s->n = x->dims[0];
        s->c = C;
        s->oc = OC;
        s->h = x->dims[2];
        s->w = x->dims[3];
        s->k0 = w->dims[2];
        s->k1 = w->dims[3];
        k->scratch_bytes = (size_t)(s->h * s->w * OC * s->k0 * s->k1) * sizeof(float);
        k->state = s;
        return DI_OK;
    }
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
    dnnl_dims_t wd, bd = {OC}, sd, dld, pl, pr;
    static const dnnl_format_tag_t wt[] = {dnnl_bac, dnnl_bacd, dnnl_bacde},
                                   gwt[] = {dnnl_acbd, dnnl_acbde, dnnl_acbdef};
    for (int i = 0; i < sp; i++) {
        sd[i] = st[i];
        dld[i] = dl[i] - 1;
        pl[i] = p->pad_begin[i];
        pr[i] = p->pad_end[i];
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
    DN(dnnl_primitive_desc_create(&pd, &desc, attr, cpu_engine(k), NULL),
       "deconvolution primitive desc");
    DN(dnnl_primitive_create(&s->prim, pd), "deconvolution primitive");
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    DN(dnnl_memory_create(&s->src, &src_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->dst, &dst_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->wei, &wei_md, cpu_engine(k), w->data), "memory");
    if (b)
        DN(dnnl_memory_create(&s->bias, &bias_md, cpu_engine(k), b->data), "memory");
    if (scr && dnnl_memory_desc_get_size(scr)) {
        DN(dnnl_memory_create(&s->scratch, scr, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
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

/* Per image: Z = x^T W into scratch, then each output row from Z's rows */
static int patch_run(di_nn_kctx *k, const deconv_state *s, di_error *err)
{
    const di_nn_node *n = k->node;
    int rc = DI_OK;
    int64_t hw = s->h * s->w, kk = s->k0 * s->k1, nz = s->oc * kk, ow = s->w * s->k1;
    const float *w = k->in[1]->data, *b = k->nin > 2 && k->in[2] ? k->in[2]->data : NULL;
    float *z = k->scratch;
    for (int64_t img = 0; img < s->n; img++) {
        const float *x = (const float *)k->in[0]->data + img * s->c * hw;
        float *y = (float *)k->out[0]->data + img * s->oc * hw * kk;
        DN(dnnl_sgemm('T', 'N', hw, nz, s->c, 1.f, x, hw, w, nz, 0.f, z, nz), "deconvolution gemm");
        int64_t rows = s->oc * s->h * s->k0;
#pragma omp parallel for num_threads(k->env->threads) if (rows * ow > 32768) schedule(static)
        for (int64_t r = 0; r < rows; r++) { /* output row r: channel oc, input row h, tap i */
            int64_t oc = r / (s->h * s->k0), h = r % (s->h * s->k0) / s->k0, i = r % s->k0;
            float *yr = y + r * ow, bias = b ? b[oc] : 0.f;
            const float *zr = z + h * s->w * nz + oc * kk + i * s->k1;
            for (int64_t px = 0; px < s->w; px++)
                for (int64_t j = 0; j < s->k1; j++)
                    yr[px * s->k1 + j] = zr[px * nz + j] + bias;
        }
    }
fail:
    return rc;
}

static int deconv_run(di_nn_kctx *k, di_error *err)
{
    deconv_state *s = k->state;
    const di_nn_node *n = k->node;
    int rc = DI_OK;
    if (s->patch)
        return patch_run(k, s, err);
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
    DN(dnnl_primitive_execute(s->prim, cpu_stream(k), na, args), "deconvolution");
    DN(dnnl_stream_wait(cpu_stream(k)), "stream wait");
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
    .infer = di_nn_infer_deconv,
    .params_size = sizeof(di_nn_deconv_params),
    .prepare = deconv_prepare,
    .run = deconv_run,
    .release = deconv_release,
    .flops = deconv_flops,
};
