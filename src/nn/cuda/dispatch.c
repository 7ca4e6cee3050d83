/*
** dispatch.c: the public calls that involve the CUDA backend (device count,
** pinned host buffers, asynchronous runs), in every build. Without CUDA
** (DI_HAVE_CUDA 0) the backend's hooks answer "built without CUDA" here.
*/
#include <stdio.h>
#include <stdlib.h>

#include "cuda.h"
#include "di_config.h"

#if !(defined(DI_HAVE_CUDA) && DI_HAVE_CUDA)

static int not_built(di_error *err)
{
    return di_fail(err, DI_EUNSUPPORTED, "--device cuda: this depthindex was built without CUDA");
}

int di_nn_cuda_attach(di_nn_session *s, di_error *err)
{
    (void)s;
    return not_built(err);
}

void di_nn_cuda_detach(di_nn_session *s)
{
    (void)s;
}

int di_nn_cuda_run(di_nn_session *s, const float *input, int batch, float *output, size_t cap, di_error *err)
{
    (void)s, (void)input, (void)batch, (void)output, (void)cap;
    return not_built(err);
}

int di_nn_cuda_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts, di_error *err)
{
    (void)s, (void)ins, (void)nins, (void)outs, (void)nouts;
    return not_built(err);
}

int di_nn_cuda_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err)
{
    (void)s, (void)batch, (void)dims, (void)ndim;
    return not_built(err);
}

double di_nn_cuda_flops(di_nn_session *s, int batch, di_error *err)
{
    (void)s, (void)batch;
    not_built(err);
    return -1;
}

int di_nn_cuda_submit(di_nn_session *s, const float *input, int batch, float *output, size_t cap, di_error *err)
{
    (void)s, (void)input, (void)batch, (void)output, (void)cap;
    return not_built(err);
}

int di_nn_cuda_wait(di_nn_session *s, di_error *err)
{
    (void)s;
    return not_built(err);
}

int di_nn_cuda_count(char *why, size_t why_size)
{
    if (why && why_size) snprintf(why, why_size, "built without CUDA");
    return 0;
}

void *di_nn_cuda_host_alloc(size_t bytes)
{
    (void)bytes;
    return NULL;
}

bool di_nn_cuda_host_free(void *p)
{
    (void)p;
    return false;
}

#endif

int di_nn_cuda_device_count(void)
{
    return di_nn_cuda_count(NULL, 0);
}

int di_nn_cuda_device_status(char *why, size_t why_size)
{
    return di_nn_cuda_count(why, why_size);
}

void *di_nn_alloc_host(size_t bytes)
{
    void *p = di_nn_cuda_host_alloc(bytes);
    if (p) return p;
    size_t b = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, b ? b : 64);
}

void di_nn_free_host(void *p)
{
    if (p && !di_nn_cuda_host_free(p)) free(p);
}

/* On the CPU a run is synchronous: di_nn_run_async runs it now and keeps
** its status for di_nn_wait. */
int di_nn_run_async(di_nn_session *s, const float *input, int batch,
                    float *output, size_t output_capacity, di_error *err)
{
    if (s->cuda) return di_nn_cuda_submit(s, input, batch, output, output_capacity, err);
    if (s->cpu_pending >= 2) return di_fail(err, DI_EINVAL, "2 runs already in flight: di_nn_wait first");
    int rc = di_nn_run(s, input, batch, output, output_capacity, err);
    if (!rc) s->cpu_pending++;
    return rc;
}

int di_nn_wait(di_nn_session *s, di_error *err)
{
    if (s->cuda) return di_nn_cuda_wait(s, err);
    if (s->cpu_pending == 0) return di_fail(err, DI_EINVAL, "no run in flight");
    s->cpu_pending--;
    return DI_OK;
}
