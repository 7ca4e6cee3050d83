/*
** session.c: the public session API (nn.h) over graphs and plans.
**
** Threads: Debian's oneDNN runs on OpenMP. omp_set_num_threads() changes the
** calling thread's own ICV only, so a session sets its thread count around
** its own work and puts the caller's value back: other threads' work is not
** affected.
*/
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "cuda/cuda.h"

void di_nn_options_default(di_nn_options *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 0;
    o->device = DI_NN_CPU;
    o->precision = DI_NN_FP32;
}

const di_nn_graph *di_nn_session_graph(const di_nn_session *s)
{
    return s->g;
}

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

/* The declared shape of input 0 with its batch set to n. */
static int batch_io(const di_nn_session *s, int n, di_nn_io *io, di_error *err)
{
    const di_nn_graph *g = s->g;
    if (g->ninputs != 1) return di_fail(err, DI_EUNSUPPORTED, "%s: the model has %d inputs; the batch API takes one", g->path, g->ninputs);
    const di_nn_value *v = &g->values[g->inputs[0]];
    if (v->ndim < 1)
        return di_fail(err, DI_EUNSUPPORTED, "%s: input '%s' has no declared shape", g->path, v->name);
    memset(io, 0, sizeof *io);
    io->dtype = v->dtype ? v->dtype : DI_DT_FLOAT;
    io->ndim = v->ndim;
    for (int d = 0; d < v->ndim; d++) {
        io->dims[d] = d == 0 ? n : v->dims[d];
        if (io->dims[d] < 0)
            return di_fail(err, DI_EUNSUPPORTED, "%s: input '%s': dimension %d is symbolic; only the batch may be", g->path, v->name, d);
    }
    return DI_OK;
}

int di_nn_session_create_graph(di_nn_graph *g, const di_nn_options *opt,
                               di_nn_session **out, di_error *err)
{
    *out = NULL;
    di_nn_session *s = calloc(1, sizeof *s);
    if (!s) {
        di_nn_graph_free(g);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    s->g = g;
    s->per_sample = -1;
    if (g->nunsupported) {
        int rc = di_fail(err, DI_EUNSUPPORTED, "%s", g->unsupported[0]);
        di_nn_session_destroy(s);
        return rc;
    }
    if (opt) s->opt = *opt;
    else di_nn_options_default(&s->opt);
    if (s->opt.device != DI_NN_CPU && s->opt.device != DI_NN_CUDA) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EINVAL, "unknown device %d", (int)s->opt.device);
    }
    if (s->opt.device == DI_NN_CPU && (s->opt.precision == DI_NN_FP16 || s->opt.precision == DI_NN_BF16)) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EUNSUPPORTED, "the CPU backend computes in fp32 only (fp16 and bf16 are for the CUDA backend)");
    }
    if (s->opt.threads < 0 || s->opt.threads > 1024) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EINVAL, "threads must be 0 (all cores) to 1024, not %d", s->opt.threads);
    }
    s->env.threads = s->opt.threads ? s->opt.threads : omp_get_num_procs();
    s->env.opset = g->opset;
    s->persist = calloc((size_t)g->nnodes + 1, sizeof(void *));
    if (!s->persist) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    if (dnnl_engine_create(&s->env.engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&s->env.stream, s->env.engine, dnnl_stream_default_flags) != dnnl_success) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EUNSUPPORTED, "oneDNN: no CPU engine");
    }
    /* Build the plan for the declared shapes now, so that shape errors and
    ** unsupported layouts show at load time. Inputs without a full declared
    ** shape are planned at their first run. */
    di_nn_io ins[8];
    bool all_known = g->ninputs <= 8;
    for (int i = 0; i < g->ninputs && all_known; i++) {
        const di_nn_value *v = &g->values[g->inputs[i]];
        if (v->ndim < 0 || !v->dtype) {
            all_known = false;
            break;
        }
        memset(&ins[i], 0, sizeof ins[i]);
        ins[i].dtype = v->dtype;
        ins[i].ndim = v->ndim;
        for (int d = 0; d < v->ndim; d++) {
            ins[i].dims[d] = v->dims[d] < 0 && i == 0 && d == 0 ? 1 : v->dims[d];
            if (ins[i].dims[d] < 0) all_known = false;
        }
    }
    /* CUDA hook (cuda/cuda.h): the backend mirrors this session's plans on
    ** the GPU; it plans the declared shapes itself */
    if (s->opt.device == DI_NN_CUDA) {
        int rc = di_nn_cuda_attach(s, err);
        if (rc) {
            di_nn_session_destroy(s);
            return rc;
        }
        all_known = false;
    }
    if (all_known) {
        di_nn_plan *p;
        thread_scope ts = threads_enter(s);
        int rc = di_nn_get_plan(s, ins, g->ninputs, &p, err);
        threads_leave(ts);
        if (rc) {
            di_nn_session_destroy(s);
            return rc;
        }
    }
    *out = s;
    return DI_OK;
}

int di_nn_session_create(const char *onnx_path, const di_nn_options *opt,
                         di_nn_session **out, di_error *err)
{
    di_nn_graph *g;
    *out = NULL;
    int rc = di_nn_graph_load(onnx_path, &g, err);
    if (rc) return rc;
    return di_nn_session_create_graph(g, opt, out, err);
}

void di_nn_session_destroy(di_nn_session *s)
{
    if (!s) return;
    di_nn_cuda_detach(s); /* CUDA hook */
    for (int i = 0; i < DI_NN_MAX_PLANS; i++) di_nn_plan_free(s->plans[i], s);
    if (s->persist && s->g)
        for (int i = 0; i < s->g->nnodes; i++)
            if (s->persist[i] && s->g->nodes[i].op->release_persist) s->g->nodes[i].op->release_persist(s->persist[i]);
    free(s->persist);
    if (s->env.stream) dnnl_stream_destroy(s->env.stream);
    if (s->env.engine) dnnl_engine_destroy(s->env.engine);
    di_nn_graph_free(s->g);
    free(s);
}

static bool plan_matches(const di_nn_plan *p, const di_nn_io *ins, int nins)
{
    if (p->ninputs != nins) return false;
    for (int i = 0; i < nins; i++) {
        if (p->in_ndim[i] != ins[i].ndim || p->in_dtype[i] != ins[i].dtype) return false;
        if (memcmp(p->in_dims[i], ins[i].dims, sizeof(int64_t) * (size_t)ins[i].ndim)) return false;
    }
    return true;
}

int di_nn_get_plan(di_nn_session *s, const di_nn_io *ins, int nins,
                   di_nn_plan **out, di_error *err)
{
    int victim = 0;
    for (int i = 0; i < DI_NN_MAX_PLANS; i++) {
        di_nn_plan *p = s->plans[i];
        if (p && plan_matches(p, ins, nins)) {
            p->last_used = ++s->clock;
            *out = p;
            return DI_OK;
        }
        if (!p) victim = i;
        else if (s->plans[victim] && p->last_used < s->plans[victim]->last_used) victim = i;
    }
    di_nn_plan *p;
    int rc = di_nn_plan_build(s, ins, nins, &p, err);
    if (rc) return rc;
    di_nn_plan_free(s->plans[victim], s);
    s->plans[victim] = p;
    p->last_used = ++s->clock;
    *out = p;
    return DI_OK;
}

int di_nn_input_chw(const di_nn_session *s, int *c, int *h, int *w)
{
    if (s->g->ninputs < 1) return DI_EUNSUPPORTED;
    const di_nn_value *v = &s->g->values[s->g->inputs[0]];
    if (v->ndim != 4 || v->dims[1] < 0 || v->dims[2] < 0 || v->dims[3] < 0) return DI_EUNSUPPORTED;
    *c = (int)v->dims[1];
    *h = (int)v->dims[2];
    *w = (int)v->dims[3];
    return DI_OK;
}

static bool batch_major(const di_nn_tensor *t, int64_t n)
{
    return t->is_const || (t->ndim >= 1 && t->dims[0] == n);
}

/* Whether running a batch image by image gives the same result: every op
** per-image (DI_OP_PER_IMAGE), and in the batch-2 plan every activation has 2 as its leading
** dimension and no constant operand of an element-wise op has a batch of
** its own. Decided once per session. */
static int per_sample(di_nn_session *s, di_error *err)
{
    if (s->per_sample >= 0) return s->per_sample;
    s->per_sample = 0;
    for (int i = 0; i < s->g->nnodes; i++)
        if (!(s->g->nodes[i].op->flags & DI_OP_PER_IMAGE)) return 0;
    di_nn_io io;
    di_nn_plan *p;
    if (batch_io(s, 2, &io, err) || di_nn_get_plan(s, &io, 1, &p, err)) return -1;
    for (int si = 0; si < p->nsteps; si++) {
        const di_nn_step *st = &p->steps[si];
        if (st->node < 0) continue;
        bool elementwise = s->g->nodes[st->node].op->flags & DI_OP_BROADCAST;
        for (int j = 0; j < st->k.nout; j++)
            if (st->k.out[j] && !batch_major(st->k.out[j], 2)) return 0;
        for (int j = 0; j < st->k.nin; j++) {
            const di_nn_tensor *t = st->k.in[j];
            if (!t) continue;
            if (!batch_major(t, 2)) return 0;
            if (elementwise && t->is_const && t->ndim == st->k.out[0]->ndim && t->dims[0] != 1) return 0;
        }
        for (int j = 0; j < st->k.npost; j++) {
            const di_nn_tensor *a = st->k.post[j].addend;
            if (a && (!batch_major(a, 2) || a->is_const)) return 0;
        }
    }
    for (int i = 0; i < s->g->noutputs; i++)
        if (!batch_major(p->outputs[i], 2) || p->outputs[i]->is_const) return 0;
    s->per_sample = 1;
    return 1;
}

static bool tile_batch(di_nn_session *s, int batch, di_error *err)
{
    if (batch < 2 || s->opt.whole_batch) return false;
    di_error e;
    int r = per_sample(s, &e);
    if (r < 0) { /* the batch-2 plan failed: say nothing here, the real run will */
        (void)err;
        return false;
    }
    return r == 1;
}

int di_nn_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim,
                       di_error *err)
{
    if (batch < 1) return di_fail(err, DI_EINVAL, "batch must be at least 1, not %d", batch);
    if (s->g->ninputs != 1) return di_fail(err, DI_EUNSUPPORTED, "%s: the model has %d inputs; the batch API takes one", s->g->path, s->g->ninputs);
    if (s->cuda) return di_nn_cuda_output_shape(s, batch, dims, ndim, err); /* CUDA hook */
    di_nn_io io;
    thread_scope ts = threads_enter(s);
    bool tiled = tile_batch(s, batch, err);
    int rc = batch_io(s, tiled ? 1 : batch, &io, err);
    di_nn_plan *p;
    if (!rc) rc = di_nn_get_plan(s, &io, 1, &p, err);
    threads_leave(ts);
    if (rc) return rc;
    const di_nn_tensor *t = p->outputs[0];
    *ndim = t->ndim;
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
    if (tiled) dims[0] = batch;
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
    if (s->nprof < DI_NN_MAX_PROFILE) s->prof[s->nprof++] = (di_nn_profile_entry){op, sec, 1};
}

static int run_plan(di_nn_session *s, di_nn_plan *p, di_error *err)
{
    int rc = DI_OK;
    for (int i = 0; i < p->nsteps && !rc; i++) {
        di_nn_step *st = &p->steps[i];
        double t0 = s->opt.profile ? di_now() : 0;
        if (st->node < 0) {
            dnnl_memory_set_data_handle(st->rsrc, st->from->data);
            dnnl_memory_set_data_handle(st->rdst, st->to->data);
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, st->rsrc}, {DNNL_ARG_TO, st->rdst}};
            if (dnnl_primitive_execute(st->reorder, s->env.stream, 2, args) != dnnl_success ||
                dnnl_stream_wait(s->env.stream) != dnnl_success)
                rc = di_fail(err, DI_EUNSUPPORTED, "oneDNN reorder failed");
        } else {
            rc = s->g->nodes[st->node].op->run(&st->k, err);
            if (rc) di_nn_error_at_node(err, &s->g->nodes[st->node]);
        }
        if (s->opt.profile) profile_add(s, st->name, di_now() - t0);
    }
    return rc;
}

static int copy_inputs(di_nn_session *s, di_nn_plan *p, const di_nn_io *ins)
{
    for (int i = 0; i < s->g->ninputs; i++) {
        di_nn_tensor *t = &p->vals[s->g->inputs[i]];
        if (t->data && ins[i].data)
            memcpy(t->data, ins[i].data, (size_t)di_nn_numel(t) * di_dtype_size(t->dtype));
    }
    return DI_OK;
}

int di_nn_run(di_nn_session *s, const float *input, int batch, float *output,
              size_t output_capacity, di_error *err)
{
    if (batch < 1) return di_fail(err, DI_EINVAL, "batch must be at least 1, not %d", batch);
    if (!input || !output) return di_fail(err, DI_EINVAL, "no input or output buffer");
    if (s->g->ninputs != 1) return di_fail(err, DI_EUNSUPPORTED, "%s: the model has %d inputs; the batch API takes one", s->g->path, s->g->ninputs);
    if (s->cuda) return di_nn_cuda_run(s, input, batch, output, output_capacity, err); /* CUDA hook */
    thread_scope ts = threads_enter(s);
    bool tiled = tile_batch(s, batch, err);
    int per_run = tiled ? 1 : batch, runs = tiled ? batch : 1;
    di_nn_io io;
    int rc = batch_io(s, per_run, &io, err);
    if (!rc && io.dtype != DI_DT_FLOAT) rc = di_fail(err, DI_EUNSUPPORTED, "%s: input is %s, not float32", s->g->path, di_dtype_name(io.dtype));
    di_nn_plan *p;
    if (!rc) rc = di_nn_get_plan(s, &io, 1, &p, err);
    if (!rc) {
        const di_nn_tensor *o = p->outputs[0];
        size_t n = (size_t)di_nn_numel(o), in_n = (size_t)di_shape_numel(io.ndim, io.dims);
        if (o->dtype != DI_DT_FLOAT)
            rc = di_fail(err, DI_EUNSUPPORTED, "%s: output is %s, not float32", s->g->path, di_dtype_name(o->dtype));
        else if (n * (size_t)runs > output_capacity)
            rc = di_fail(err, DI_ESHAPE, "%s: the output needs %zu floats, the buffer holds %zu", s->g->path, n * (size_t)runs, output_capacity);
        for (int r = 0; r < runs && !rc; r++) {
            io.data = (void *)(input + (size_t)r * in_n);
            copy_inputs(s, p, &io);
            rc = run_plan(s, p, err);
            if (!rc) memcpy(output + (size_t)r * n, o->data, n * sizeof(float));
        }
    }
    if (s->opt.profile) s->runs_profiled++;
    threads_leave(ts);
    return rc;
}

int di_nn_run_io(di_nn_session *s, const di_nn_io *ins, int nins,
                 di_nn_io *outs, int nouts, di_error *err)
{
    for (int i = 0; i < nouts; i++) outs[i].data = NULL;
    if (s->cuda) return di_nn_cuda_run_io(s, ins, nins, outs, nouts, err); /* CUDA hook */
    thread_scope ts = threads_enter(s);
    di_nn_plan *p;
    int rc = di_nn_get_plan(s, ins, nins, &p, err);
    if (!rc) {
        copy_inputs(s, p, ins);
        rc = run_plan(s, p, err);
        if (s->opt.profile) s->runs_profiled++;
    }
    for (int i = 0; i < nouts && !rc; i++) {
        if (i >= s->g->noutputs) {
            rc = di_fail(err, DI_EINVAL, "%s: the model has %d outputs", s->g->path, s->g->noutputs);
            break;
        }
        const di_nn_tensor *o = p->outputs[i];
        size_t bytes = (size_t)di_nn_numel(o) * di_dtype_size(o->dtype);
        outs[i].dtype = o->dtype;
        outs[i].ndim = o->ndim;
        memcpy(outs[i].dims, o->dims, sizeof(int64_t) * (size_t)o->ndim);
        outs[i].data = malloc(bytes ? bytes : 1);
        if (!outs[i].data) rc = di_fail(err, DI_ENOMEM, "out of memory");
        else memcpy(outs[i].data, o->data, bytes);
    }
    threads_leave(ts);
    if (rc)
        for (int i = 0; i < nouts; i++) {
            free(outs[i].data);
            outs[i].data = NULL;
        }
    return rc;
}

double di_nn_flops(di_nn_session *s, int batch, di_error *err)
{
    if (s->cuda) return di_nn_cuda_flops(s, batch, err); /* CUDA hook */
    di_nn_io io;
    thread_scope ts = threads_enter(s);
    bool tiled = tile_batch(s, batch, err);
    di_nn_plan *p;
    int rc = batch_io(s, tiled ? 1 : batch, &io, err);
    if (!rc) rc = di_nn_get_plan(s, &io, 1, &p, err);
    threads_leave(ts);
    return rc ? -1 : p->flops * (tiled ? batch : 1);
}

int di_nn_profile(const di_nn_session *s, di_nn_op_time *times, int max,
                  int *runs)
{
    int n = s->nprof < max ? s->nprof : max;
    for (int i = 0; i < n; i++) {
        times[i].op = s->prof[i].op;
        times[i].seconds = s->prof[i].seconds;
        times[i].calls = s->prof[i].count;
    }
    *runs = s->runs_profiled;
    return n;
}

void di_nn_profile_reset(di_nn_session *s)
{
    s->nprof = 0;
    s->runs_profiled = 0;
}
