/*
** ops_pool.c: MaxPool, AveragePool and GlobalAveragePool (1-D to 3-D)
** through oneDNN's pooling primitive. They take oneDNN's blocked layouts as
** they come (a pool between two convs costs no reorder) and hand theirs on.
** ceil_mode is done by padding more on the right (max: never chosen; avg:
** excluded from the count).
*/
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

typedef struct pool_state {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scratch;
} pool_state;

static void pool_release(void *p)
{
    pool_state *s = p;
    if (!s)
        return;
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    if (s->src)
        dnnl_memory_destroy(s->src);
    if (s->dst)
        dnnl_memory_destroy(s->dst);
    if (s->scratch)
        dnnl_memory_destroy(s->scratch);
    free(s);
}

static int pool_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    if (n->nout > 1)
        return di_nn_unsupported(err, n, "the Indices output");
    int rc = di_nn_check_window_attrs(n, err);
    if (rc)
        return rc;
    if (!strcmp(n->op_type, "GlobalAveragePool"))
        return DI_OK;
    const char *ap = di_nn_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") &&
        strcmp(ap, "SAME_LOWER"))
        return di_nn_unsupported(err, n, "auto_pad=%s", ap);
    if (!di_nn_node_attr(n, "kernel_shape"))
        return di_nn_unsupported(err, n, "a pool without kernel_shape");
    if (di_nn_attr_int(n, "storage_order", 0))
        return di_nn_unsupported(err, n, "storage_order=1");
    if (!strcmp(n->op_type, "AveragePool") && di_nn_attr_int(n, "ceil_mode", 0) &&
        di_nn_attr_int(n, "count_include_pad", 0))
        return di_nn_unsupported(err, n, "ceil_mode with count_include_pad");
    if (!strcmp(n->op_type, "AveragePool") && di_nn_node_attr(n, "dilations")) {
        const di_nn_attr *d = di_nn_node_attr(n, "dilations");
        for (int i = 0; i < d->n; i++)
            if (d->ints[i] != 1)
                return di_nn_unsupported(err, n, "AveragePool with dilations");
    }
    return DI_OK;
}

#define DN(call, what) DI_NN_DNNL(n, call, what)

/* After di_nn_infer_pool (window, output shape): the oneDNN primitive. */
static int pool_prepare(di_nn_kctx *k, di_error *err)
{
    const di_nn_node *n = k->node;
    const di_nn_pool_params *p = k->params;
    di_nn_tensor *x = k->in[0], *y = k->out[0];
    int sp = p->spatial;
    const int64_t *ks = p->kernel, *st = p->strides, *dl = p->dilations, *pads = p->pads,
                  *od = y->dims;
    int rc = DI_OK;
    pool_state *s = calloc(1, sizeof *s);
    if (!s)
        return di_fail(err, DI_ENOMEM, "out of memory");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t src_md, dst_any;
    dnnl_dims_t dd, kd, sd, dld, pl, pr;
    for (int i = 0; i < x->ndim; i++)
        dd[i] = od[i];
    for (int i = 0; i < sp; i++) {
        kd[i] = ks[i];
        sd[i] = st[i];
        dld[i] = dl[i] - 1;
        pl[i] = pads[i];
        pr[i] = pads[i + sp];
    }
    if (x->blocked)
        src_md = x->layout->md;
    else if (di_nn_plain_md(x, &src_md)) {
        rc = di_nn_unsupported(err, n, "its input layout");
        goto fail;
    }
    /* a bf16 input (a bf16 Conv's output) pools in bf16 */
    DN(dnnl_memory_desc_init_by_tag(&dst_any, x->ndim, dd, src_md.data_type, dnnl_format_tag_any),
       "memory desc");
    dnnl_alg_kind_t alg = p->algorithm == DI_POOL_MAX ? dnnl_pooling_max
                          : p->algorithm == DI_POOL_AVG_INCLUDE_PAD
                              ? dnnl_pooling_avg_include_padding
                              : dnnl_pooling_avg_exclude_padding;
    dnnl_pooling_v2_desc_t desc;
    DN(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, alg, &src_md, &dst_any, sd,
                                         kd, dld, pl, pr),
       "pooling desc");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    DN(dnnl_primitive_desc_create(&pd, &desc, attr, cpu_engine(k), NULL), "pooling primitive desc");
    DN(dnnl_primitive_create(&s->prim, pd), "pooling primitive");
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    DN(dnnl_memory_create(&s->src, &src_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    DN(dnnl_memory_create(&s->dst, dst_md, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
    if (scr && dnnl_memory_desc_get_size(scr)) {
        DN(dnnl_memory_create(&s->scratch, scr, cpu_engine(k), DNNL_MEMORY_NONE), "memory");
        k->scratch_bytes = dnnl_memory_desc_get_size(scr);
    }
    y->blocked = true;
    y->layout->md = *dst_md;
    k->state = s;
    s = NULL;
fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    pool_release(s);
    return rc;
}

static int pool_run(di_nn_kctx *k, di_error *err)
{
    pool_state *s = k->state;
    const di_nn_node *n = k->node;
    int rc = DI_OK;
    dnnl_memory_set_data_handle(s->src, k->in[0]->data);
    dnnl_memory_set_data_handle(s->dst, k->out[0]->data);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, s->src}, {DNNL_ARG_DST, s->dst}};
    int na = 2;
    if (s->scratch) {
        dnnl_memory_set_data_handle(s->scratch, k->scratch);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    DN(dnnl_primitive_execute(s->prim, cpu_stream(k), na, args), "pooling");
    DN(dnnl_stream_wait(cpu_stream(k)), "stream wait");
fail:
    return rc;
}

#define POOL_OP(NAME)                                                                              \
    const di_nn_op di_op_##NAME = {                                                                \
        .name = #NAME,                                                                             \
        .min_in = 1,                                                                               \
        .max_in = 1,                                                                               \
        .flags = DI_OP_BLOCKED_OK | DI_OP_BF16_OK | DI_OP_PER_IMAGE,                               \
        .check = pool_check,                                                                       \
        .infer = di_nn_infer_pool,                                                                 \
        .params_size = sizeof(di_nn_pool_params),                                                  \
        .prepare = pool_prepare,                                                                   \
        .run = pool_run,                                                                           \
        .release = pool_release,                                                                   \
    };
POOL_OP(MaxPool)
POOL_OP(AveragePool)
POOL_OP(GlobalAveragePool)
