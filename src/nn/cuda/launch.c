/*
** launch.c: launching a GPU plan (build.c's), plainly or as a captured CUDA
** graph, and host mode: the plan translation and the own kernels run on the
** CPU, for tests without a GPU.
*/
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- launching ---- */

static int launch_steps(di_nn_session *s, cu_plan *p, bool profile, di_error *err)
{
    cu_ctx *c = &s->cuda->c;
    for (int i = 0; i < p->nsteps; i++) {
        cu_step *st = &p->steps[i];
        double t0 = profile ? di_now() : 0;
        if (st->save_bytes) {
            cudaError_t e = cu_copy_async(st->save_dst, st->save_src, st->save_bytes,
                                          cudaMemcpyDeviceToDevice, c->stream);
            if (e)
                return cu_fail_cuda(err, st, "saving a fused Add's operand", e);
        }
        int rc = st->run(st, c, err);
        if (rc)
            return rc;
        if (profile && !cu_host_mode()) {
            cudaError_t e = cudaStreamSynchronize(c->stream);
            if (e)
                return cu_fail_cuda(err, st, "run", e);
            double sec = di_now() - t0;
            int j;
            for (j = 0; j < s->nprof; j++)
                if (!strcmp(s->prof[j].op, st->name))
                    break;
            if (j < s->nprof) {
                s->prof[j].seconds += sec;
                s->prof[j].count++;
            } else if (s->nprof < DI_NN_MAX_PROFILE) {
                s->prof[s->nprof++] = (di_nn_profile_entry){st->name, sec, 1};
            }
        }
    }
    return DI_OK;
}

/* The steady state as one CUDA graph per plan, captured at the plan's
** second launch (the first, plain, lets cuBLAS and cuDNN make their lazy
** allocations, which a capture would not allow); a capture that fails (an
** op that cannot be captured) leaves the plan on plain launches. */
static void try_capture(di_nn_session *s, cu_plan *p)
{
    cu_ctx *c = &s->cuda->c;
    p->graph_tried = true;
    if (cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        cudaGetLastError();
        return;
    }
    di_error scratch = {0};
    int rc = launch_steps(s, p, false, &scratch);
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(c->stream, &graph);
    if (!rc && e == cudaSuccess && graph &&
        cudaGraphInstantiate(&p->graph, graph, 0) != cudaSuccess)
        p->graph = NULL;
    if (graph)
        cudaGraphDestroy(graph);
    cudaGetLastError(); /* a failed capture leaves no error behind */
}

int cu_plan_launch(di_nn_session *s, cu_plan *p, di_error *err)
{
    bool profile = s->opt.profile;
    if (s->cuda->use_graphs && !profile && p->launches++ > 0) {
        if (!p->graph_tried)
            try_capture(s, p);
        if (p->graph) {
            cudaError_t e = cudaGraphLaunch(p->graph, s->cuda->c.stream);
            if (e == cudaSuccess)
                return DI_OK;
            return di_fail(err, cu_status_cuda(e), "%s: CUDA graph launch: %s", s->g->path,
                           cudaGetErrorString(e));
        }
    }
    int rc = launch_steps(s, p, profile, err);
    if (profile && !rc)
        s->runs_profiled++;
    return rc;
}

/* ---- host mode: the plan translation and the own kernels on the CPU ---- */

int di_nn_cuda_host_run(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                        di_error *err)
{
    for (int i = 0; i < nouts; i++)
        outs[i].data = NULL;
    if (s->cuda)
        return di_fail(err, DI_EINVAL, "host mode needs a CPU session");
    struct di_nn_cuda host = {0};
    host.device = -1;
    host.c.prec = DI_NN_FP32;
    s->cuda = &host;
    cu_set_host_mode(1);
    cu_plan *p = NULL;
    int rc = cu_plan_build(s, ins, nins, &p, err);
    for (int i = 0; i < nins && !rc; i++)
        if (ins[i].data)
            memcpy(p->inputs[i].dev, ins[i].data, cu_bytes(&p->inputs[i]));
    if (!rc)
        rc = launch_steps(s, p, false, err);
    for (int i = 0; i < nouts && !rc; i++) {
        const cu_tensor *o = &p->outputs[i];
        size_t bytes = cu_bytes(o);
        rc = di_nn_io_output(s, i, o->dtype, o->ndim, o->dims, bytes, &outs[i], err);
        if (!rc)
            memcpy(outs[i].data, o->dev, bytes);
    }
    cu_plan_free(p);
    cu_set_host_mode(0);
    s->cuda = NULL;
    if (rc)
        for (int i = 0; i < nouts; i++) {
            free(outs[i].data);
            outs[i].data = NULL;
        }
    return rc;
}
