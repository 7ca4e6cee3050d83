/*
** cpu/layout.c: the CPU backend's layouts and environment, the oneDNN side
** of what the planner does with them (engine.h's di_nn_layout_hooks): a
** tensor's layout is a oneDNN memory descriptor (cpu.h); a reorder step
** turns a blocked value plain where a kernel or a graph output needs it,
** and a folded constant computed in a blocked layout is made plain at once.
**
** The oneDNN engine and stream are made on first use, so that a session
** whose plans build no primitive (a CUDA session) makes none.
*/
#include <stdatomic.h>
#include <stdlib.h>

#include "../engine.h"
#include "cpu.h"

static atomic_long engines_made;

long di_nn_cpu_engines_made(void)
{
    return atomic_load(&engines_made);
}

static struct di_nn_cpu_env *env_start(di_nn_env *env)
{
    if (env->cpu)
        return env->cpu;
    struct di_nn_cpu_env *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (dnnl_engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success) {
        free(c);
        return NULL;
    }
    atomic_fetch_add(&engines_made, 1);
    if (dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(c->engine);
        free(c);
        return NULL;
    }
    env->cpu = c;
    return c;
}

dnnl_engine_t di_nn_cpu_engine(di_nn_env *env)
{
    struct di_nn_cpu_env *c = env_start(env);
    return c ? c->engine : NULL;
}

dnnl_stream_t di_nn_cpu_stream(di_nn_env *env)
{
    struct di_nn_cpu_env *c = env_start(env);
    return c ? c->stream : NULL;
}

void di_nn_cpu_env_release(di_nn_env *env)
{
    if (!env->cpu)
        return;
    dnnl_stream_destroy(env->cpu->stream);
    dnnl_engine_destroy(env->cpu->engine);
    free(env->cpu);
    env->cpu = NULL;
}

int di_nn_dnnl_fail(di_error *err, const di_nn_node *n, const char *what, dnnl_status_t st)
{
    /* unimplemented: a shape or layout oneDNN has no primitive for */
    int code = st == dnnl_out_of_memory   ? DI_ENOMEM
               : st == dnnl_unimplemented ? DI_EUNSUPPORTED
                                          : DI_EINTERNAL;
    return di_nn_node_fail(err, code, n, "oneDNN %s failed (status %d)", what, (int)st);
}

dnnl_primitive_desc_t di_nn_impl_pd(const_dnnl_op_desc_t op_desc, const_dnnl_primitive_attr_t attr,
                                    dnnl_engine_t eng, const char *want, const char *unless)
{
    dnnl_primitive_desc_iterator_t it;
    if (dnnl_primitive_desc_iterator_create(&it, op_desc, attr, eng, NULL) != dnnl_success)
        return NULL;
    dnnl_primitive_desc_t pd = NULL;
    bool first = true;
    do {
        dnnl_primitive_desc_t c = dnnl_primitive_desc_iterator_fetch(it);
        const char *impl = NULL;
        if (c && dnnl_primitive_desc_query(c, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
            impl = NULL;
        bool vetoed = first && unless && impl && strstr(impl, unless);
        if (c && impl && !vetoed && strstr(impl, want))
            pd = c;
        else if (c)
            dnnl_primitive_desc_destroy(c);
        if (vetoed)
            break;
        first = false;
    } while (!pd && dnnl_primitive_desc_iterator_next(it) == dnnl_success);
    dnnl_primitive_desc_iterator_destroy(it);
    return pd;
}

int di_nn_plain_md(const di_nn_tensor *t, dnnl_memory_desc_t *md)
{
    static const dnnl_format_tag_t tags[] = {dnnl_a,    dnnl_a,     dnnl_ab,    dnnl_abc,
                                             dnnl_abcd, dnnl_abcde, dnnl_abcdef};
    dnnl_data_type_t dt;
    switch (t->dtype) {
    case DI_DT_FLOAT: dt = dnnl_f32; break;
    case DI_DT_INT32: dt = dnnl_s32; break;
    case DI_DT_INT8: dt = dnnl_s8; break;
    case DI_DT_UINT8:
    case DI_DT_BOOL: dt = dnnl_u8; break;
    default: return DI_EUNSUPPORTED;
    }
    if (t->ndim > 6)
        return DI_EUNSUPPORTED;
    dnnl_dims_t d;
    int nd = t->ndim ? t->ndim : 1;
    for (int i = 0; i < nd; i++)
        d[i] = t->ndim ? t->dims[i] : 1;
    return dnnl_memory_desc_init_by_tag(md, nd, d, dt, tags[nd]) == dnnl_success ? DI_OK
                                                                                 : DI_EUNSUPPORTED;
}

/* ---- the planner's hooks ---- */

static void *layouts_make(di_nn_tensor *ts, int n)
{
    struct di_nn_layout *l = calloc((size_t)n + 1, sizeof *l);
    for (int i = 0; l && i < n; i++)
        ts[i].layout = &l[i];
    return l;
}

static size_t layout_bytes(const di_nn_tensor *t)
{
    return dnnl_memory_desc_get_size(&t->layout->md);
}

static bool layouts_same(const di_nn_tensor *a, const di_nn_tensor *b)
{
    return dnnl_memory_desc_equal(&a->layout->md, &b->layout->md);
}

static bool layout_is_plain(const di_nn_tensor *t)
{
    dnnl_memory_desc_t md;
    return !di_nn_plain_md(t, &md) && dnnl_memory_desc_equal(&md, &t->layout->md);
}

static bool layout_is_bf16(const di_nn_tensor *t)
{
    return t->layout->md.data_type == dnnl_bf16;
}

typedef struct reorder_state {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
} reorder_state;

static void convert_free(void *convert)
{
    reorder_state *r = convert;
    if (!r)
        return;
    if (r->prim)
        dnnl_primitive_destroy(r->prim);
    if (r->src)
        dnnl_memory_destroy(r->src);
    if (r->dst)
        dnnl_memory_destroy(r->dst);
    free(r);
}

static int convert_step(di_nn_env *env, di_nn_step *st, di_error *err)
{
    dnnl_memory_desc_t md;
    if (di_nn_plain_md(st->to, &md))
        return di_fail(err, DI_EUNSUPPORTED, "cannot describe a %d-D tensor for oneDNN",
                       st->to->ndim);
    reorder_state *r = calloc(1, sizeof *r);
    if (!r)
        return di_fail(err, DI_ENOMEM, "out of memory");
    st->convert = r;
    dnnl_engine_t eng = di_nn_cpu_engine(env);
    const dnnl_memory_desc_t *from = &st->from->layout->md;
    dnnl_primitive_desc_t pd;
    dnnl_status_t rs = dnnl_reorder_primitive_desc_create(&pd, from, eng, &md, eng, NULL);
    if (rs == dnnl_success) {
        rs = dnnl_primitive_create(&r->prim, pd);
        dnnl_primitive_desc_destroy(pd);
    }
    if (rs == dnnl_success)
        rs = dnnl_memory_create(&r->src, from, eng, DNNL_MEMORY_NONE);
    if (rs == dnnl_success)
        rs = dnnl_memory_create(&r->dst, &md, eng, DNNL_MEMORY_NONE);
    if (rs != dnnl_success)
        return di_fail(err, DI_EUNSUPPORTED, "oneDNN reorder to plain layout failed (status %d)",
                       (int)rs);
    return DI_OK;
}

int di_nn_cpu_convert_run(di_nn_env *env, di_nn_step *st, di_error *err)
{
    reorder_state *r = st->convert;
    dnnl_stream_t stream = di_nn_cpu_stream(env);
    dnnl_memory_set_data_handle(r->src, st->from->data);
    dnnl_memory_set_data_handle(r->dst, st->to->data);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->src}, {DNNL_ARG_TO, r->dst}};
    if (dnnl_primitive_execute(r->prim, stream, 2, args) != dnnl_success ||
        dnnl_stream_wait(stream) != dnnl_success)
        return di_fail(err, DI_EINTERNAL, "oneDNN reorder failed");
    return DI_OK;
}

static int to_plain(di_nn_env *env, const di_nn_tensor *t, void *dst, di_error *err)
{
    dnnl_engine_t eng = di_nn_cpu_engine(env);
    dnnl_memory_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_status_t st = di_nn_plain_md(t, &md) ? dnnl_unimplemented : dnnl_success;
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&pd, &t->layout->md, eng, &md, eng, NULL);
    if (st == dnnl_success)
        st = dnnl_primitive_create(&r, pd);
    if (st == dnnl_success)
        st = dnnl_memory_create(&from, &t->layout->md, eng, t->data);
    if (st == dnnl_success)
        st = dnnl_memory_create(&to, &md, eng, dst);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        st = dnnl_primitive_execute(r, di_nn_cpu_stream(env), 2, args);
        if (st == dnnl_success)
            st = dnnl_stream_wait(di_nn_cpu_stream(env));
    }
    if (from)
        dnnl_memory_destroy(from);
    if (to)
        dnnl_memory_destroy(to);
    if (r)
        dnnl_primitive_destroy(r);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success)
        return di_fail(err,
                       st == dnnl_out_of_memory   ? DI_ENOMEM
                       : st == dnnl_unimplemented ? DI_EUNSUPPORTED
                                                  : DI_EINTERNAL,
                       "oneDNN reorder of a folded constant failed (status %d)", (int)st);
    return DI_OK;
}

const di_nn_layout_hooks di_nn_cpu_layouts = {
    .make = layouts_make,
    .bytes = layout_bytes,
    .same = layouts_same,
    .is_plain = layout_is_plain,
    .is_bf16 = layout_is_bf16,
    .convert_step = convert_step,
    .convert_free = convert_free,
    .to_plain = to_plain,
};
