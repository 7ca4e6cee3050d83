/*
** cpu/backend.c: the CPU backend's side of a session (engine.h's
** di_nn_backend): runs the planner's plans step by step, oneDNN primitives
** and plain C kernels on the calling thread and its OpenMP team.
**
** Threads: Debian's oneDNN runs on OpenMP. omp_set_num_threads() changes the
** calling thread's own ICV only, so a session sets its thread count around
** its own work and puts the caller's value back: other threads' work is not
** affected.
*/
#include "di_config.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../engine.h"
#include "cpu.h"

typedef struct thread_scope {
    int prev;
} thread_scope;

static thread_scope threads_enter(const di_nn_session *s)
{
    thread_scope t = {omp_get_max_threads()};
    omp_set_num_threads(s->env.threads);
    return t;
}

static void threads_leave(thread_scope t)
{
    omp_set_num_threads(t.prev);
}

/* Plans the declared shapes now, so that shape errors and unsupported
** layouts show at load time. Inputs without a full declared shape are
** planned at their first run. */
int di_nn_cpu_load(di_error *err)
{
#ifdef DI_DNNL_SONAME
    /* oneDNN is loaded on first use (dnnl_lazy.c): load it here, where a
    ** missing library can still be an error rather than an exit */
    const char *why = di_dnnl_lazy_error();
    if (why)
        return di_fail(err, DI_EUNSUPPORTED, "cannot load oneDNN (%s): %s", di_dnnl_lazy_library(),
                       why);
#else
    (void)err;
#endif
    return DI_OK;
}

static int cpu_attach(di_nn_session *s, di_error *err)
{
    int rc = di_nn_cpu_load(err);
    if (rc)
        return rc;
    const di_nn_graph *g = s->g;
    di_nn_io ins[8];
    if (g->ninputs > 8)
        return DI_OK;
    for (int i = 0; i < g->ninputs; i++) {
        const di_nn_value *v = &g->values[g->inputs[i]];
        if (v->ndim < 0 || !v->dtype)
            return DI_OK;
        memset(&ins[i], 0, sizeof ins[i]);
        ins[i].dtype = v->dtype;
        ins[i].ndim = v->ndim;
        for (int d = 0; d < v->ndim; d++) {
            ins[i].dims[d] = v->dims[d] < 0 && i == 0 && d == 0 ? 1 : v->dims[d];
            if (ins[i].dims[d] < 0)
                return DI_OK;
        }
    }
    di_nn_plan *p;
    thread_scope ts = threads_enter(s);
    rc = di_nn_get_plan(s, ins, g->ninputs, &p, err);
    threads_leave(ts);
    return rc;
}

static void cpu_detach(di_nn_session *s)
{
    (void)s;
}

static bool batch_major(const di_nn_tensor *t, int64_t n)
{
    return t->is_const || (t->ndim >= 1 && t->dims[0] == n);
}

/* Whether running a batch image by image gives the same result: every op
** per-image (DI_OP_PER_IMAGE), and in the batch-2 plan every activation has
** 2 as its leading dimension and no constant operand of an element-wise op
** has a batch of its own. Decided once per session. */
static int per_sample(di_nn_session *s, di_error *err)
{
    if (s->per_sample >= 0)
        return s->per_sample;
    s->per_sample = 0;
    for (int i = 0; i < s->g->nnodes; i++)
        if (!(s->g->nodes[i].op->flags & DI_OP_PER_IMAGE))
            return 0;
    di_nn_io io;
    di_nn_plan *p;
    if (di_nn_batch_io(s, 2, &io, err) || di_nn_get_plan(s, &io, 1, &p, err))
        return -1;
    for (int si = 0; si < p->nsteps; si++) {
        const di_nn_step *st = &p->steps[si];
        if (st->node < 0)
            continue;
        bool elementwise = s->g->nodes[st->node].op->flags & DI_OP_BROADCAST;
        for (int j = 0; j < st->k.nout; j++)
            if (st->k.out[j] && !batch_major(st->k.out[j], 2))
                return 0;
        for (int j = 0; j < st->k.nin; j++) {
            const di_nn_tensor *t = st->k.in[j];
            if (!t)
                continue;
            if (!batch_major(t, 2))
                return 0;
            if (elementwise && t->is_const && t->ndim == st->k.out[0]->ndim && t->dims[0] != 1)
                return 0;
        }
        for (int j = 0; j < st->k.npost; j++) {
            const di_nn_tensor *a = st->k.post[j].addend;
            if (a && (!batch_major(a, 2) || a->is_const))
                return 0;
        }
    }
    for (int i = 0; i < s->g->noutputs; i++)
        if (!batch_major(p->outputs[i], 2) || p->outputs[i]->is_const)
            return 0;
    s->per_sample = 1;
    return 1;
}

/* Whether the graph has an op whose result for one image depends on the
** whole batch (DI_OP_BATCH_STATS): then every image runs on its own, so that
** a face scores the same whichever faces share its batch (as onnxruntime
** gives at batch 1). */
static bool batch_coupled(const di_nn_session *s)
{
    for (int i = 0; i < s->g->nnodes; i++)
        if (s->g->nodes[i].op->flags & DI_OP_BATCH_STATS)
            return true;
    return false;
}

static bool tile_batch(di_nn_session *s, int batch)
{
    if (batch < 2)
        return false;
    if (batch_coupled(s))
        return true;
    if (s->opt.whole_batch)
        return false;
    di_error e;
    /* the batch-2 plan failed: say nothing here, the real run will */
    return per_sample(s, &e) == 1;
}

static int cpu_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err)
{
    di_nn_io io;
    thread_scope ts = threads_enter(s);
    bool tiled = tile_batch(s, batch);
    int rc = di_nn_batch_io(s, tiled ? 1 : batch, &io, err);
    di_nn_plan *p;
    if (!rc)
        rc = di_nn_get_plan(s, &io, 1, &p, err);
    threads_leave(ts);
    if (rc)
        return rc;
    const di_nn_tensor *t = p->outputs[0];
    *ndim = t->ndim;
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
    if (tiled)
        dims[0] = batch;
    return DI_OK;
}

static void profile_add(di_nn_session *s, const char *op, double sec)
{
    for (int i = 0; i < s->nprof; i++)
        if (!strcmp(s->prof[i].op, op)) {
            s->prof[i].seconds += sec;
            s->prof[i].count++;
            return;
        }
    if (s->nprof < DI_NN_MAX_PROFILE)
        s->prof[s->nprof++] = (di_nn_profile_entry){op, sec, 1};
}

static int run_plan(di_nn_session *s, di_nn_plan *p, di_error *err)
{
    int rc = DI_OK;
    for (int i = 0; i < p->nsteps && !rc; i++) {
        di_nn_step *st = &p->steps[i];
        double t0 = s->opt.profile ? di_now() : 0;
        if (st->node < 0) {
            rc = di_nn_cpu_convert_run(&s->env, st, err);
        } else {
            rc = s->g->nodes[st->node].op->run(&st->k, err);
            if (rc)
                di_nn_error_at_node(err, &s->g->nodes[st->node]);
        }
        if (s->opt.profile)
            profile_add(s, st->name, di_now() - t0);
    }
    return rc;
}

static void copy_inputs(di_nn_session *s, di_nn_plan *p, const di_nn_io *ins)
{
    for (int i = 0; i < s->g->ninputs; i++) {
        di_nn_tensor *t = &p->vals[s->g->inputs[i]];
        if (t->data && ins[i].data)
            memcpy(t->data, ins[i].data, (size_t)di_nn_numel(t) * di_dtype_size(t->dtype));
    }
}

static int cpu_run(di_nn_session *s, const float *input, int batch, float *output,
                   size_t output_capacity, di_error *err)
{
    thread_scope ts = threads_enter(s);
    bool tiled = tile_batch(s, batch);
    int per_run = tiled ? 1 : batch, runs = tiled ? batch : 1;
    di_nn_io io;
    int rc = di_nn_batch_io(s, per_run, &io, err);
    if (!rc && io.dtype != DI_DT_FLOAT)
        rc = di_fail(err, DI_EUNSUPPORTED, "%s: input is %s, not float32", s->g->path,
                     di_dtype_name(io.dtype));
    di_nn_plan *p;
    if (!rc)
        rc = di_nn_get_plan(s, &io, 1, &p, err);
    if (!rc) {
        const di_nn_tensor *o = p->outputs[0];
        size_t n = (size_t)di_nn_numel(o), in_n = (size_t)di_shape_numel(io.ndim, io.dims);
        if (o->dtype != DI_DT_FLOAT)
            rc = di_fail(err, DI_EUNSUPPORTED, "%s: output is %s, not float32", s->g->path,
                         di_dtype_name(o->dtype));
        else if (n * (size_t)runs > output_capacity)
            rc = di_fail(err, DI_ESHAPE, "%s: the output needs %zu floats, the buffer holds %zu",
                         s->g->path, n * (size_t)runs, output_capacity);
        for (int r = 0; r < runs && !rc; r++) {
            io.data = (void *)(input + (size_t)r * in_n);
            copy_inputs(s, p, &io);
            rc = run_plan(s, p, err);
            if (!rc)
                memcpy(output + (size_t)r * n, o->data, n * sizeof(float));
        }
    }
    if (s->opt.profile)
        s->runs_profiled++;
    threads_leave(ts);
    return rc;
}

/* On the CPU a run is synchronous: submit runs it now, wait only counts. */
static int cpu_submit(di_nn_session *s, const float *input, int batch, float *output,
                      size_t output_capacity, di_error *err)
{
    if (s->cpu_pending >= 2)
        return di_fail(err, DI_EINVAL, "2 runs already in flight: di_nn_wait first");
    int rc = di_nn_run(s, input, batch, output, output_capacity, err);
    if (!rc)
        s->cpu_pending++;
    return rc;
}

static int cpu_wait(di_nn_session *s, di_error *err)
{
    if (s->cpu_pending == 0)
        return di_fail(err, DI_EINVAL, "no run in flight");
    s->cpu_pending--;
    return DI_OK;
}

static int cpu_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                      di_error *err)
{
    thread_scope ts = threads_enter(s);
    di_nn_plan *p;
    int rc = di_nn_get_plan(s, ins, nins, &p, err);
    if (!rc) {
        copy_inputs(s, p, ins);
        rc = run_plan(s, p, err);
        if (s->opt.profile)
            s->runs_profiled++;
    }
    for (int i = 0; i < nouts && !rc; i++) {
        const di_nn_tensor *o = p->outputs[i];
        size_t bytes = (size_t)di_nn_numel(o) * di_dtype_size(o->dtype);
        rc = di_nn_io_output(s, i, o->dtype, o->ndim, o->dims, bytes, &outs[i], err);
        if (!rc)
            memcpy(outs[i].data, o->data, bytes);
    }
    threads_leave(ts);
    return rc;
}

static double cpu_flops(di_nn_session *s, int batch, di_error *err)
{
    di_nn_io io;
    thread_scope ts = threads_enter(s);
    bool tiled = tile_batch(s, batch);
    di_nn_plan *p;
    int rc = di_nn_batch_io(s, tiled ? 1 : batch, &io, err);
    if (!rc)
        rc = di_nn_get_plan(s, &io, 1, &p, err);
    threads_leave(ts);
    return rc ? -1 : p->flops * (tiled ? batch : 1);
}

const di_nn_backend di_nn_backend_cpu = {
    .name = "cpu",
    .attach = cpu_attach,
    .detach = cpu_detach,
    .output_shape = cpu_output_shape,
    .run = cpu_run,
    .submit = cpu_submit,
    .wait = cpu_wait,
    .run_io = cpu_run_io,
    .flops = cpu_flops,
};
