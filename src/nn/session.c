/*
** session.c: the public session API (nn.h) over graphs, plans and backends.
**
** A session holds the graph, the options, the plan cache (one plan per set
** of input shapes, least recently used out) and its backend (engine.h's
** di_nn_backend: cpu/backend.c, or the CUDA module through cuda/dispatch.c).
** What runs where is the backend's business: this file checks arguments
** and calls the backend's table.
*/
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

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

int di_nn_batch_io(const di_nn_session *s, int n, di_nn_io *io, di_error *err)
{
    const di_nn_graph *g = s->g;
    if (g->ninputs != 1)
        return di_fail(err, DI_EUNSUPPORTED, "%s: the model has %d inputs; the batch API takes one",
                       g->path, g->ninputs);
    const di_nn_value *v = &g->values[g->inputs[0]];
    if (v->ndim < 1)
        return di_fail(err, DI_EUNSUPPORTED, "%s: input '%s' has no declared shape", g->path,
                       v->name);
    memset(io, 0, sizeof *io);
    io->dtype = v->dtype ? v->dtype : DI_DT_FLOAT;
    io->ndim = v->ndim;
    for (int d = 0; d < v->ndim; d++) {
        io->dims[d] = d == 0 ? n : v->dims[d];
        if (io->dims[d] < 0 && v->ndim == 4 && d >= 2)
            io->dims[d] = s->in_hw[d - 2] ? s->in_hw[d - 2] : -1;
        if (io->dims[d] < 0)
            return di_fail(err, DI_EUNSUPPORTED,
                           "%s: input '%s': dimension %d is symbolic and no input size is set "
                           "(--size)",
                           g->path, v->name, d);
    }
    return DI_OK;
}

int di_nn_session_create_graph(di_nn_graph *g, const di_nn_options *opt, di_nn_session **out,
                               di_error *err)
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
    if (opt)
        s->opt = *opt;
    else
        di_nn_options_default(&s->opt);
    if (s->opt.device != DI_NN_CPU && s->opt.device != DI_NN_CUDA) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EINVAL, "unknown device %d", (int)s->opt.device);
    }
    /* oneDNN first (where it is loaded on first use): the bf16 check below
    ** asks it about the CPU, and every plan's layouts, a CUDA session's
    ** too, are oneDNN memory descriptors */
    int lrc = di_nn_cpu_load(err);
    if (lrc) {
        di_nn_session_destroy(s);
        return lrc;
    }
    if (s->opt.device == DI_NN_CPU && s->opt.precision == DI_NN_FP16) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EUNSUPPORTED,
                       "the CPU backend computes in fp32 or bf16 (fp16 is for the CUDA backend)");
    }
    /* emulated bf16 (no native dot product) is slower than fp32: refuse it */
    if (s->opt.device == DI_NN_CPU && s->opt.precision == DI_NN_BF16 && !di_nn_cpu_bf16()) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EUNSUPPORTED,
                       "bf16 needs a CPU with native bf16 (AVX512-BF16 or AMX); oneDNN "
                       "dispatches to %s here, where bf16 would be slower than fp32",
                       di_nn_cpu_isa());
    }
    s->env.bf16 = s->opt.device == DI_NN_CPU && s->opt.precision == DI_NN_BF16;
    s->env.nodes = g->nodes;
    if (s->env.bf16) {
        int prc = di_nn_precision_policy(g, &s->env.keep_fp32, err);
        if (prc) {
            di_nn_session_destroy(s);
            return prc;
        }
    }
    if (s->opt.threads < 0 || s->opt.threads > 1024) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_EINVAL, "threads must be 0 (all cores) to 1024, not %d",
                       s->opt.threads);
    }
    s->env.threads = s->opt.threads ? s->opt.threads : omp_get_num_procs();
    s->env.opset = g->opset;
    s->persist = calloc((size_t)g->nnodes + 1, sizeof(void *));
    if (!s->persist) {
        di_nn_session_destroy(s);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    /* The planner's kernels run on the CPU (constant folding at plan time,
    ** and the host plans that the CUDA backend translates): every session
    ** has a CPU environment, whose oneDNN engine is made when a kernel
    ** first asks for it (cpu/layout.c). */
    /* set before attach: a failed attach is undone by detach at destroy */
    s->backend = s->opt.device == DI_NN_CUDA ? &di_nn_backend_cuda : &di_nn_backend_cpu;
    int rc = s->backend->attach(s, err);
    if (rc) {
        di_nn_session_destroy(s);
        return rc;
    }
    *out = s;
    return DI_OK;
}

int di_nn_session_create(const char *onnx_path, const di_nn_options *opt, di_nn_session **out,
                         di_error *err)
{
    di_nn_graph *g;
    *out = NULL;
    /* the CUDA backend has no kernel for the CPU's fused attention */
    int flags = opt && opt->device == DI_NN_CUDA ? DI_NN_LOAD_PORTABLE : 0;
    int rc = di_nn_graph_load_flags(onnx_path, flags, &g, err);
    if (rc)
        return rc;
    return di_nn_session_create_graph(g, opt, out, err);
}

void di_nn_release_persist(di_nn_session *s)
{
    if (!s->persist || !s->g)
        return;
    for (int i = 0; i < s->g->nnodes; i++) {
        if (s->persist[i] && s->g->nodes[i].op->release_persist)
            s->g->nodes[i].op->release_persist(s->persist[i]);
        s->persist[i] = NULL;
    }
}

void di_nn_session_destroy(di_nn_session *s)
{
    if (!s)
        return;
    if (s->backend)
        s->backend->detach(s);
    for (int i = 0; i < DI_NN_MAX_PLANS; i++)
        di_nn_plan_free(s->plans[i], s);
    di_nn_release_persist(s);
    free(s->persist);
    di_nn_cpu_env_release(&s->env);
    free(s->env.keep_fp32);
    di_nn_graph_free(s->g);
    free(s);
}

static bool key_matches(const di_nn_plan_key *k, const di_nn_io *ins, int nins)
{
    if (k->ninputs != nins)
        return false;
    for (int i = 0; i < nins; i++) {
        if (k->in_ndim[i] != ins[i].ndim || k->in_dtype[i] != ins[i].dtype)
            return false;
        if (memcmp(k->in_dims[i], ins[i].dims, sizeof(int64_t) * (size_t)ins[i].ndim))
            return false;
    }
    return true;
}

void di_nn_plan_key_set(di_nn_plan_key *k, const di_nn_io *ins, int nins)
{
    k->ninputs = nins;
    for (int i = 0; i < nins && i < 8; i++) {
        k->in_ndim[i] = ins[i].ndim;
        k->in_dtype[i] = ins[i].dtype;
        memcpy(k->in_dims[i], ins[i].dims, sizeof(int64_t) * (size_t)ins[i].ndim);
    }
}

int di_nn_cache_lookup(void *const *slots, int n, const di_nn_io *ins, int nins, uint64_t *clock,
                       int *victim)
{
    *victim = 0;
    for (int i = 0; i < n; i++) {
        di_nn_plan_key *k = slots[i];
        if (k && key_matches(k, ins, nins)) {
            k->last_used = ++*clock;
            return i;
        }
        const di_nn_plan_key *v = slots[*victim];
        if (!k)
            *victim = i;
        else if (v && k->last_used < v->last_used)
            *victim = i;
    }
    return -1;
}

int di_nn_get_plan(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_plan **out, di_error *err)
{
    int victim;
    int hit =
        di_nn_cache_lookup((void *const *)s->plans, DI_NN_MAX_PLANS, ins, nins, &s->clock, &victim);
    if (hit >= 0) {
        *out = s->plans[hit];
        return DI_OK;
    }
    di_nn_plan *p;
    int rc = di_nn_plan_build(s, ins, nins, &p, err);
    if (rc)
        return rc;
    di_nn_plan_free(s->plans[victim], s);
    s->plans[victim] = p;
    p->key.last_used = ++s->clock;
    *out = p;
    return DI_OK;
}

int di_nn_input_chw(const di_nn_session *s, int *c, int *h, int *w)
{
    if (s->g->ninputs < 1)
        return DI_EUNSUPPORTED;
    const di_nn_value *v = &s->g->values[s->g->inputs[0]];
    if (v->ndim != 4 || v->dims[1] < 0)
        return DI_EUNSUPPORTED;
    int64_t hh = v->dims[2] >= 0 ? v->dims[2] : s->in_hw[0];
    int64_t ww = v->dims[3] >= 0 ? v->dims[3] : s->in_hw[1];
    if (hh <= 0 || ww <= 0)
        return DI_EUNSUPPORTED;
    *c = (int)v->dims[1];
    *h = (int)hh;
    *w = (int)ww;
    return DI_OK;
}

unsigned di_nn_input_symbolic(const di_nn_session *s)
{
    if (s->g->ninputs < 1)
        return 0;
    const di_nn_value *v = &s->g->values[s->g->inputs[0]];
    unsigned m = 0;
    for (int d = 0; d < v->ndim && d < 32; d++)
        if (v->dims[d] < 0)
            m |= 1u << d;
    return m;
}

int di_nn_set_input_size(di_nn_session *s, int height, int width, di_error *err)
{
    const di_nn_graph *g = s->g;
    if (g->ninputs != 1)
        return di_fail(err, DI_EUNSUPPORTED, "%s: the model has %d inputs; the batch API takes one",
                       g->path, g->ninputs);
    const di_nn_value *v = &g->values[g->inputs[0]];
    if (v->ndim != 4)
        return di_fail(err, DI_EUNSUPPORTED, "%s: input '%s' is not N x C x H x W", g->path,
                       v->name);
    if (height < 1 || width < 1 || height > 16384 || width > 16384)
        return di_fail(err, DI_EINVAL, "input size %dx%d: each side must be 1 to 16384", width,
                       height);
    int64_t want[2] = {height, width};
    for (int i = 0; i < 2; i++)
        if (v->dims[2 + i] >= 0 && v->dims[2 + i] != want[i])
            return di_fail(err, DI_EINVAL,
                           "%s: input '%s' is fixed at %lldx%lld (width x height); %dx%d asked",
                           g->path, v->name, (long long)v->dims[3], (long long)v->dims[2], width,
                           height);
    int64_t old[2] = {s->in_hw[0], s->in_hw[1]};
    s->in_hw[0] = height;
    s->in_hw[1] = width;
    int64_t dims[DI_NN_MAX_DIMS];
    int nd;
    int rc = s->backend->output_shape(s, 1, dims, &nd, err);
    if (rc) {
        s->in_hw[0] = old[0];
        s->in_hw[1] = old[1];
    }
    return rc;
}

int di_nn_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err)
{
    if (batch < 1)
        return di_fail(err, DI_EINVAL, "batch must be at least 1, not %d", batch);
    if (s->g->ninputs != 1)
        return di_fail(err, DI_EUNSUPPORTED, "%s: the model has %d inputs; the batch API takes one",
                       s->g->path, s->g->ninputs);
    return s->backend->output_shape(s, batch, dims, ndim, err);
}

int di_nn_run(di_nn_session *s, const float *input, int batch, float *output,
              size_t output_capacity, di_error *err)
{
    if (batch < 1)
        return di_fail(err, DI_EINVAL, "batch must be at least 1, not %d", batch);
    if (!input || !output)
        return di_fail(err, DI_EINVAL, "no input or output buffer");
    if (s->g->ninputs != 1)
        return di_fail(err, DI_EUNSUPPORTED, "%s: the model has %d inputs; the batch API takes one",
                       s->g->path, s->g->ninputs);
    return s->backend->run(s, input, batch, output, output_capacity, err);
}

int di_nn_run_async(di_nn_session *s, const float *input, int batch, float *output,
                    size_t output_capacity, di_error *err)
{
    return s->backend->submit(s, input, batch, output, output_capacity, err);
}

int di_nn_wait(di_nn_session *s, di_error *err)
{
    return s->backend->wait(s, err);
}

int di_nn_io_output(const di_nn_session *s, int i, int dtype, int ndim, const int64_t *dims,
                    size_t bytes, di_nn_io *out, di_error *err)
{
    if (i >= s->g->noutputs)
        return di_fail(err, DI_EINVAL, "%s: the model has %d outputs", s->g->path, s->g->noutputs);
    out->dtype = dtype;
    out->ndim = ndim;
    memcpy(out->dims, dims, sizeof(int64_t) * (size_t)ndim);
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data)
        return di_fail(err, DI_ENOMEM, "out of memory");
    return DI_OK;
}

int di_nn_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                 di_error *err)
{
    for (int i = 0; i < nouts; i++)
        outs[i].data = NULL;
    int rc = s->backend->run_io(s, ins, nins, outs, nouts, err);
    if (rc)
        for (int i = 0; i < nouts; i++) {
            free(outs[i].data);
            outs[i].data = NULL;
        }
    return rc;
}

double di_nn_flops(di_nn_session *s, int batch, di_error *err)
{
    return s->backend->flops(s, batch, err);
}

int di_nn_profile(const di_nn_session *s, di_nn_op_time *times, int max, int *runs)
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
