/*
** ops_conv.c: Conv (2-D; grouped and depthwise; pads, strides, dilations,
** auto_pad) through oneDNN, with fused Relu / Clip / Add post-ops.
**
** The primitive is created with format `any` for source, weights and
** destination: oneDNN picks its blocked layouts (nChw16c on AVX-512), the
** output stays in that layout, and the next conv takes it as is; reorders
** happen only where a kernel needs plain data. Weights are reordered once
** per session (k->persist) into the layout the primitive wants. Dense 3x3
** stride-1 convs with enough channels use Winograd or im2col + sgemm
** (conv_algo.c).
**
** In bf16 (env->bf16) the same primitive takes bf16 source, weights and
** output: the planner hands a bf16 output to the next conv or pool as it is
** and reorders it to plain float32 for any other consumer (DI_OP_BF16_OK).
*/
#include <stdlib.h>
#include <string.h>

#include "conv_algo.h"
#include "conv_narrow.h"
#include "cpu.h"

/* Reordered weights, one per layout a plan asked for (usually one). */
typedef struct conv_weights {
    dnnl_memory_desc_t md;
    void *data;
    struct conv_weights *next;
} conv_weights;

typedef struct conv_state {
    dnnl_primitive_t prim;
    dnnl_primitive_t src_reorder; /* input layout -> primitive's, or NULL */
    dnnl_primitive_t sum_reorder; /* addend -> output layout, or NULL (memcpy) */
    dnnl_memory_t src_user, src, wei, bias, dst, scratch, addend;
    size_t src_bytes, scratch_off, dst_bytes;
    int sum_index;       /* post-op with the addend, or -1 */
    conv_narrow *narrow; /* conv_narrow.c's kernel instead of a primitive, or NULL */
} conv_state;

static void release_weights(void *p)
{
    conv_weights *w = p;
    while (w) {
        conv_weights *next = w->next;
        free(w->data);
        free(w);
        w = next;
    }
}

static void conv_release(void *p)
{
    conv_state *s = p;
    if (!s)
        return;
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    if (s->src_reorder)
        dnnl_primitive_destroy(s->src_reorder);
    if (s->sum_reorder)
        dnnl_primitive_destroy(s->sum_reorder);
    di_nn_conv_narrow_free(s->narrow);
    dnnl_memory_t mems[] = {s->src_user, s->src, s->wei, s->bias, s->dst, s->scratch, s->addend};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    free(s);
}

static int conv_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    int rc = di_nn_check_window_attrs(n, err);
    if (rc)
        return rc;
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") &&
        strcmp(ap, "SAME_LOWER"))
        return di_nn_unsupported(err, n, "auto_pad=%s", ap);
    const di_nn_attr *ks = di_nn_node_attr(n, "kernel_shape");
    if (ks && ks->n != 2)
        return di_nn_unsupported(err, n, "a %d-D convolution", ks->n);
    if (n->in[1] < 0)
        return di_nn_unsupported(err, n, "a Conv without weights");
    if (g->values[n->in[1]].data && g->values[n->in[1]].ndim != 4)
        return di_nn_unsupported(err, n, "a %d-D convolution", g->values[n->in[1]].ndim - 2);
    return DI_OK;
}

#define DN(call, what) DI_NN_DNNL(n, call, what)

/* The shape conv_algo.c decides by */
static di_nn_conv_shape conv_shape(const di_nn_conv_params *p, int64_t N, int64_t C, int64_t OC,
                                   int64_t KH, int64_t KW, const int64_t out[2])
{
    return (di_nn_conv_shape){.n = N,
                              .c = C,
                              .oc = OC,
                              .kh = KH,
                              .kw = KW,
                              .group = p->group,
                              .stride = {p->strides[0], p->strides[1]},
                              .dil = {p->dilations[0], p->dilations[1]},
                              .out = {out[0], out[1]}};
}

/* In a bf16 session a conv that conv_algo gives Winograd could run direct in
** bf16 (oneDNN's brgconv, avx512_core_bf16 or AMX) or Winograd in float32
** (oneDNN has no bf16 Winograd; accuracy would only improve). Measured per
** layer on this project's Zen 5 (AVX512-BF16, no AMX), one thread, every
** such conv of MiDaS v2.1 small (32 to 512 channels, 8x8 to 256x256),
** medians of 3 interleaved runs: bf16 direct was faster for every one, by
** 1.24x (128 channels at 32x32) to 2.15x (136 to 256 at 16x16); the whole
** model took 28-32 against 39-48 CPU-ms per image. So bf16 takes direct
** everywhere; DI_NN_BF16_WINOGRAD=on takes Winograd float32 for these
** convs instead (bench/run-bf16.sh compares both on each machine: on AMX
** direct bf16 should win by more). */
static bool conv_winograd_bf16(void)
{
    const char *e = getenv("DI_NN_BF16_WINOGRAD");
    return e && !strcmp(e, "on");
}

/* Source, destination and weights descriptors of element type dt (the
** destination float32 where dst_f32), layouts of the primitive's choosing. */
static dnnl_status_t any_descs(dnnl_data_type_t dt, bool dst_f32, const dnnl_dims_t sd,
                               const dnnl_dims_t dd, int wnd, const dnnl_dims_t wd,
                               dnnl_memory_desc_t *src, dnnl_memory_desc_t *dst,
                               dnnl_memory_desc_t *wei)
{
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(src, 4, sd, dt, dnnl_format_tag_any);
    if (st == dnnl_success)
        st = dnnl_memory_desc_init_by_tag(dst, 4, dd, dst_f32 ? dnnl_f32 : dt, dnnl_format_tag_any);
    if (st == dnnl_success)
        st = dnnl_memory_desc_init_by_tag(wei, wnd, wd, dt, dnnl_format_tag_any);
    return st;
}

/* A 1x1 conv whose input is already in a channel-blocked layout (nChw16c,
** from a Winograd conv or an op after one) reads it as it is (oneDNN's jit
** 1x1 kernel) instead of reordering it to the brgemm kernel's nhwc first:
** in MiDaS v2.1 small's decoder that removes 12 of 18 reorders per image
** (each its own parallel region) and the output stays blocked for the next
** Winograd conv; whole model at one thread, 6 pairs in turns on a loaded
** machine: 48.4 against 50.1 CPU-ms per image (medians), lower in every
** pair rank (measured with the last conv included, before the rule on its
** channels below). Only a jit kernel is taken (conv_prepare), else reorder. */
static bool conv_keeps_input_layout(const di_nn_conv_params *p, int64_t OC, int64_t KH, int64_t KW,
                                    const di_nn_tensor *x)
{
    if (!x->blocked || p->group != 1 || KH != 1 || KW != 1 || p->strides[0] != 1 ||
        p->strides[1] != 1 || x->layout->md.format_kind != dnnl_blocked ||
        x->layout->md.format_desc.blocking.inner_nblks != 1)
        return false;
    /* the output takes the same layout: with fewer channels than a block
    ** (MiDaS's last conv has one) it would be padded to 16 and need a plain
    ** copy after it */
    if (OC % x->layout->md.format_desc.blocking.inner_blks[0])
        return false;
    const char *e = getenv("DI_NN_CONV_ALGO");
    return !(e && !strcmp(e, "direct"));
}

/* After di_nn_infer_conv (shapes, params): the oneDNN primitive, the input
** and addend reorders, the weights in the primitive's layout. */
static int conv_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_conv_params *p = k->params;
    di_nn_tensor *x = k->in[0], *w = k->in[1], *b = k->nin > 2 ? k->in[2] : NULL;
    di_nn_tensor *y = k->out[0];
    int64_t G = p->group;
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t OC = w->dims[0], KH = w->dims[2], KW = w->dims[3];
    const int64_t *st = p->strides, *dl = p->dilations, *pads = p->pads;
    int64_t out_sz[2] = {y->dims[2], y->dims[3]};

    int rc = DI_OK;
    conv_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    s->sum_index = -1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_memory_desc_t src_any, wei_any, dst_any, bias_md, x_md, wplain;
    dnnl_dims_t sd = {N, C, H, W}, dd = {N, OC, out_sz[0], out_sz[1]}, bd = {OC};
    dnnl_dims_t strides = {st[0], st[1]}, dil = {dl[0] - 1, dl[1] - 1};
    dnnl_dims_t pl = {pads[0], pads[1]}, pr = {pads[2], pads[3]};
    /* bf16: source, weights and output in bf16 (oneDNN accumulates in f32; the
    ** bias and post-ops are f32); the output stays bf16 for the next conv.
    ** A conv that takes Winograd in a bf16 session (conv_winograd_bf16) is
    ** float32 throughout: oneDNN has no bf16 Winograd; so is one the
    ** precision policy keeps in float32 (precision.c). */
    bool bf16 = k->env->bf16 && !(k->env->keep_fp32 && k->env->keep_fp32[n - k->env->nodes]);
    /* the algorithm by shape (conv_algo.c: the measurements and the rule;
    ** DI_NN_CONV_ALGO picks another for comparison) */
    const char *knob = getenv("DI_NN_CONV_ALGO");
    di_nn_conv_shape shape = conv_shape(p, N, C, OC, KH, KW, out_sz);
    di_nn_conv_algo algo = di_nn_conv_pick(knob, &shape);
    bool wino = algo == DI_CONV_WINOGRAD && (!bf16 || conv_winograd_bf16());
    dnnl_data_type_t dt = bf16 && !wino ? dnnl_bf16 : dnnl_f32;
    /* A bf16 conv whose output no consumer reads in bf16 (a graph output,
    ** the Squeeze or Add after the depth head) writes float32 at once: its
    ** consumer would widen it in a pass of its own, and the rounding to bf16
    ** in between would cost precision for nothing (the depth map itself came
    ** out in bf16 steps, 0.06 at 8, about two of the score's 8-bit levels). */
    bool dst_f32 = bf16 && !k->bf16_consumers;
    /* a depth head's last 1x1 conv to one channel, on a Winograd conv's
    ** nChw16c output: conv_narrow.c, the input read once, no reorder */
    if ((rc = di_nn_conv_narrow_prepare(k, bf16, &s->narrow))) {
        rc = di_fail(err, rc, "out of memory");
        goto fail;
    }
    if (s->narrow) {
        y->blocked = false;
        k->state = s;
        return DI_OK;
    }
    dnnl_dims_t wd = {OC, C, KH, KW}, gwd = {G, OC / G, C / G, KH, KW};
    DN(any_descs(dt, dst_f32, sd, dd, G == 1 ? 4 : 5, G == 1 ? wd : gwd, &src_any, &dst_any,
                 &wei_any),
       "memory desc");
    DN(dnnl_memory_desc_init_by_tag(&bias_md, 1, bd, dnnl_f32, dnnl_a), "memory desc");
    if (G == 1)
        DN(dnnl_memory_desc_init_by_tag(&wplain, 4, wd, dnnl_f32, dnnl_abcd), "memory desc");
    else
        DN(dnnl_memory_desc_init_by_tag(&wplain, 5, gwd, dnnl_f32, dnnl_abcde), "memory desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    DN(dnnl_post_ops_create(&po), "post-ops");
    for (int i = 0; i < k->npost; i++) {
        const di_nn_postop *p = &k->post[i];
        if (p->kind == DI_POST_RELU)
            DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f), "relu post-op");
        else if (p->kind == DI_POST_CLIP)
            DN(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip_v2, p->lo, p->hi),
               "clip post-op");
        else if (p->kind == DI_POST_GELU || p->kind == DI_POST_GELU_TANH)
            DN(dnnl_post_ops_append_eltwise(po, 1.f,
                                            p->kind == DI_POST_GELU ? dnnl_eltwise_gelu_erf
                                                                    : dnnl_eltwise_gelu_tanh,
                                            0.f, 0.f),
               "gelu post-op");
        else {
            DN(dnnl_post_ops_append_sum(po, 1.f), "sum post-op");
            s->sum_index = i;
        }
    }
    DN(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
    dnnl_convolution_desc_t cd;
    bool wino_layout = false; /* direct instead of a refused Winograd kernel */
    if (wino) {
        dnnl_status_t ws = dnnl_dilated_convolution_forward_desc_init(
            &cd, dnnl_forward_inference, dnnl_convolution_winograd, &src_any, &wei_any,
            b ? &bias_md : NULL, &dst_any, strides, dil, pl, pr);
        if (ws == dnnl_success)
            ws = dnnl_primitive_desc_create(&pd, &cd, attr, cpu_engine(k), NULL);
        const char *impl = NULL;
        if (ws == dnnl_success &&
            (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
             !di_nn_conv_wino_ok(knob, impl, &shape))) {
            dnnl_primitive_desc_destroy(pd); /* a kernel that runs this shape badly */
            ws = dnnl_unimplemented;
            wino_layout = !bf16;
        }
        if (ws != dnnl_success)
            pd = NULL;   /* no (good) Winograd kernel for it here: direct below */
        if (!pd && bf16) /* and in bf16 after all */
            DN(any_descs(dnnl_bf16, dst_f32, sd, dd, G == 1 ? 4 : 5, G == 1 ? wd : gwd, &src_any,
                         &dst_any, &wei_any),
               "memory desc");
    }
    if (!pd && algo == DI_CONV_GEMM && !bf16) {
        if (dnnl_dilated_convolution_forward_desc_init(
                &cd, dnnl_forward_inference, dnnl_convolution_direct, &src_any, &wei_any,
                b ? &bias_md : NULL, &dst_any, strides, dil, pl, pr) == dnnl_success)
            pd = di_nn_impl_pd(&cd, attr, cpu_engine(k), "gemm:jit", NULL); /* "x64:gemm:jit" */
    }
    if (!pd && conv_keeps_input_layout(p, OC, KH, KW, x)) {
        dnnl_status_t ks = dnnl_dilated_convolution_forward_desc_init(
            &cd, dnnl_forward_inference, dnnl_convolution_direct, &x->layout->md, &wei_any,
            b ? &bias_md : NULL, &dst_any, strides, dil, pl, pr);
        if (ks == dnnl_success)
            ks = dnnl_primitive_desc_create(&pd, &cd, attr, cpu_engine(k), NULL);
        const char *impl = NULL;
        if (ks == dnnl_success &&
            (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
             !impl || (strncmp(impl, "jit", 3) && strncmp(impl, "brg", 3)))) {
            dnnl_primitive_desc_destroy(pd); /* a reference or gemm kernel: reorder instead */
            ks = dnnl_unimplemented;
        }
        if (ks != dnnl_success)
            pd = NULL;
    }
    if (!pd && wino_layout) {
        /* in Winograd's own layout, nChw16c, which the convs, Adds and
        ** Resizes around it have: no reorder before or after it, and no Add
        ** of two layouts (oneDNN's jit direct kernel) */
        dnnl_memory_desc_t sb, db;
        if (dnnl_memory_desc_init_by_tag(&sb, 4, sd, dnnl_f32, dnnl_aBcd16b) == dnnl_success &&
            dnnl_memory_desc_init_by_tag(&db, 4, dd, dnnl_f32, dnnl_aBcd16b) == dnnl_success &&
            dnnl_dilated_convolution_forward_desc_init(
                &cd, dnnl_forward_inference, dnnl_convolution_direct, &sb, &wei_any,
                b ? &bias_md : NULL, &db, strides, dil, pl, pr) == dnnl_success &&
            dnnl_primitive_desc_create(&pd, &cd, attr, cpu_engine(k), NULL) != dnnl_success)
            pd = NULL;
    }
    if (!pd) {
        DN(dnnl_dilated_convolution_forward_desc_init(
               &cd, dnnl_forward_inference, dnnl_convolution_direct, &src_any, &wei_any,
               b ? &bias_md : NULL, &dst_any, strides, dil, pl, pr),
           "convolution desc");
        DN(dnnl_primitive_desc_create(&pd, &cd, attr, cpu_engine(k), NULL),
           "convolution primitive desc");
    }
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *scr_md =
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    DN(dnnl_primitive_create(&s->prim, pd), "convolution primitive");

    /* input layout */
    if (x->blocked)
        x_md = x->layout->md;
    else if (di_nn_plain_md(x, &x_md)) {
        rc = di_nn_unsupported(err, n, "its input layout");
        goto fail;
    }
    size_t scratch = 0;
    if (!dnnl_memory_desc_equal(&x_md, src_md)) {
        DN(dnnl_reorder_primitive_desc_create(&rpd, &x_md, cpu_engine(k), src_md, cpu_engine(k),
                                              NULL),
           "input reorder");
        DN(dnnl_primitive_create(&s->src_reorder, rpd), "input reorder");
        dnnl_primitive_desc_destroy(rpd);
        rpd = NULL;
        DN(dnnl_memory_create(&s->src_user, &x_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        s->src_bytes = (dnnl_memory_desc_get_size(src_md) + 63) & ~(size_t)63;
        scratch += s->src_bytes;
    }
    s->scratch_off = scratch;
    scratch += scr_md ? dnnl_memory_desc_get_size(scr_md) : 0;
    k->scratch_bytes = scratch;
    DN(dnnl_memory_create(&s->src, src_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->dst, dst_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    if (scr_md && dnnl_memory_desc_get_size(scr_md))
        DN(dnnl_memory_create(&s->scratch, scr_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    if (b)
        DN(dnnl_memory_create(&s->bias, &bias_md, cpu_engine(k), b->data), "memory");

    /* weights: reordered once per session (to bf16 too), kept while the layout fits */
    conv_weights *cw = *k->persist;
    while (cw && !dnnl_memory_desc_equal(&cw->md, wei_md))
        cw = cw->next;
    if (!cw) {
        cw = calloc(1, sizeof *cw);
        if (!cw) {
            rc = di_fail(err, DI_ENOMEM, "out of memory");
            goto fail;
        }
        cw->next = *k->persist;
        *k->persist = cw;
        cw->md = *wei_md;
        cw->data = aligned_alloc(64, (dnnl_memory_desc_get_size(wei_md) + 63) & ~(size_t)63);
        if (!cw->data) {
            rc = di_fail(err, DI_ENOMEM, "out of memory");
            goto fail;
        }
        dnnl_memory_t from, to;
        dnnl_primitive_t r;
        DN(dnnl_reorder_primitive_desc_create(&rpd, &wplain, cpu_engine(k), wei_md, cpu_engine(k),
                                              NULL),
           "weights reorder");
        DN(dnnl_primitive_create(&r, rpd), "weights reorder");
        dnnl_primitive_desc_destroy(rpd);
        rpd = NULL;
        dnnl_memory_create(&from, &wplain, cpu_engine(k), w->data);
        dnnl_memory_create(&to, wei_md, cpu_engine(k), cw->data);
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        dnnl_status_t es = dnnl_primitive_execute(r, cpu_stream(k), 2, args);
        dnnl_stream_wait(cpu_stream(k));
        dnnl_primitive_destroy(r);
        dnnl_memory_destroy(from);
        dnnl_memory_destroy(to);
        DN(es, "weights reorder");
    }
    DN(dnnl_memory_create(&s->wei, wei_md, cpu_engine(k), cw->data), "memory");

    /* the addend of a fused Add goes into the output buffer first */
    if (s->sum_index >= 0) {
        di_nn_tensor *a = k->post[s->sum_index].addend;
        dnnl_memory_desc_t a_md;
        if (a->blocked)
            a_md = a->layout->md;
        else
            di_nn_plain_md(a, &a_md);
        if (!dnnl_memory_desc_equal(&a_md, dst_md)) {
            DN(dnnl_reorder_primitive_desc_create(&rpd, &a_md, cpu_engine(k), dst_md, cpu_engine(k),
                                                  NULL),
               "addend reorder");
            DN(dnnl_primitive_create(&s->sum_reorder, rpd), "addend reorder");
            dnnl_primitive_desc_destroy(rpd);
            rpd = NULL;
        }
        DN(dnnl_memory_create(&s->addend, &a_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    }
    s->dst_bytes = dnnl_memory_desc_get_size(dst_md);
    /* gemm:jit writes plain NCHW: its consumers read it as any plain tensor */
    dnnl_memory_desc_t y_plain;
    y->blocked = di_nn_plain_md(y, &y_plain) || !dnnl_memory_desc_equal(&y_plain, dst_md);
    y->layout->md = *dst_md;
    k->state = s;
    s = NULL;
fail:
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    conv_release(s);
    return rc;
}

static int conv_run(di_nn_kctx *k, di_error *err)
{
    conv_state *s = k->state;
    const di_nn_node *n = k->node;
    dnnl_stream_t stream = cpu_stream(k);
    uint8_t *scratch = k->scratch;
    int rc = DI_OK;
    if (s->narrow) {
        di_nn_conv_narrow_run(k, s->narrow);
        return DI_OK;
    }
    if (s->sum_index >= 0) {
        di_nn_tensor *a = k->post[s->sum_index].addend;
        if (s->sum_reorder) {
            dnnl_memory_set_data_handle(s->addend, a->data);
            dnnl_memory_set_data_handle(s->dst, k->out[0]->data);
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, s->addend}, {DNNL_ARG_TO, s->dst}};
            DN(dnnl_primitive_execute(s->sum_reorder, stream, 2, args), "addend reorder");
        } else if (a->data != k->out[0]->data) {
            memcpy(k->out[0]->data, a->data, s->dst_bytes);
        }
    }
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
    if (s->bias)
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, scratch + s->scratch_off);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    DN(dnnl_primitive_execute(s->prim, stream, na, args), "convolution");
    DN(dnnl_stream_wait(stream), "stream wait");
fail:
    return rc;
}

const di_nn_op di_op_Conv = {
    .name = "Conv",
    .min_in = 2,
    .max_in = 3,
    .flags = DI_OP_BLOCKED_OK | DI_OP_BF16_OK | DI_OP_POSTOPS | DI_OP_PER_IMAGE,
    .check = conv_check,
    .infer = di_nn_infer_conv,
    .params_size = sizeof(di_nn_conv_params),
    .prepare = conv_prepare,
    .run = conv_run,
    .release = conv_release,
    .release_persist = release_weights,
    .flops = di_nn_conv_flops,
};
