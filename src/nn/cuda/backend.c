/*
** backend.c: CUDA sessions: the device, the stream and handles, the weights
** (uploaded once), synchronous and asynchronous runs.
**
** Streams: a session computes on its own stream, uploads on a second and
** downloads on a third. An asynchronous run uploads its batch into one of
** two device staging slots on the upload stream; the compute stream waits
** for it, copies it into the plan's input, runs the plan (a CUDA graph in the
** steady state) and copies the output to the slot; the download stream
** waits for that and downloads it. No stream ever waits behind another
** batch's copy in the other direction, so the
** upload of batch k+1 and the download of batch k-1 overlap the compute of
** batch k. From pinned host memory (di_nn_alloc_host) the copies are truly
** asynchronous; from pageable memory they still work, synchronously.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int di_nn_cuda_count(char *why, size_t why_size)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why)
            snprintf(why, why_size, "%s", cudaGetErrorString(e));
        cudaGetLastError();
        return 0;
    }
    if (n == 0 && why)
        snprintf(why, why_size, "no device found");
    return n;
}

void *di_nn_cuda_host_alloc(size_t bytes)
{
    void *p = NULL;
    if (di_nn_cuda_count(NULL, 0) > 0 &&
        cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable) == cudaSuccess)
        return p;
    cudaGetLastError();
    return NULL;
}

bool di_nn_cuda_host_free(void *p)
{
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) == cudaSuccess && a.type == cudaMemoryTypeHost) {
        cudaFreeHost(p);
        return true;
    }
    cudaGetLastError();
    return false;
}

static int upload_weights(di_nn_session *s, di_error *err)
{
    struct di_nn_cuda *cu = s->cuda;
    const di_nn_graph *g = s->g;
    int n = 0;
    size_t total = 0;
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i].data) {
            n++;
            total += (di_shape_numel(g->values[i].ndim, g->values[i].dims) *
                          di_dtype_size(g->values[i].dtype) +
                      255) &
                     ~(size_t)255;
        }
    cu->w_host = calloc((size_t)n + 1, sizeof *cu->w_host);
    cu->w_dev = calloc((size_t)n + 1, sizeof *cu->w_dev);
    cu->w_bytes = calloc((size_t)n + 1, sizeof *cu->w_bytes);
    if (!cu->w_host || !cu->w_dev || !cu->w_bytes)
        return di_fail(err, DI_ENOMEM, "out of memory");
    cudaError_t e = cudaMalloc(&cu->w_block, total ? total : 256);
    if (e != cudaSuccess)
        return di_fail(err, DI_ENOMEM, "%s: CUDA: %zu bytes for the weights: %s", g->path, total,
                       cudaGetErrorString(e));
    size_t off = 0;
    for (int i = 0; i < g->nvalues; i++) {
        const di_nn_value *v = &g->values[i];
        if (!v->data)
            continue;
        size_t bytes = (size_t)di_shape_numel(v->ndim, v->dims) * di_dtype_size(v->dtype);
        void *d = (uint8_t *)cu->w_block + off;
        if (bytes && (e = cudaMemcpy(d, v->data, bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
            return di_fail(err, cu_status_cuda(e), "%s: CUDA: uploading '%s': %s", g->path, v->name,
                           cudaGetErrorString(e));
        cu->w_host[cu->nweights] = v->data;
        cu->w_dev[cu->nweights] = d;
        cu->w_bytes[cu->nweights++] = bytes;
        off += (bytes + 255) & ~(size_t)255;
    }
    return DI_OK;
}

static int init_device(di_nn_session *s, di_error *err)
{
    struct di_nn_cuda *cu = s->cuda;
    char why[160];
    int count = di_nn_cuda_count(why, sizeof why);
    if (count == 0)
        return di_fail(err, DI_EUNSUPPORTED, "no CUDA device: %s", why);
    if (s->opt.device_index < 0 || s->opt.device_index >= count)
        return di_fail(err, DI_EINVAL, "no CUDA device %d: %d present", s->opt.device_index, count);
    cu->device = s->opt.device_index;
    cudaError_t e = cudaSetDevice(cu->device);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&cu->c.stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&cu->up_stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&cu->down_stream, cudaStreamNonBlocking);
    for (int i = 0; i < CU_IN_FLIGHT && e == cudaSuccess; i++) {
        cu_slot *sl = &cu->slots[i];
        e = cudaEventCreateWithFlags(&sl->uploaded, cudaEventDisableTiming);
        if (e == cudaSuccess)
            e = cudaEventCreateWithFlags(&sl->computed, cudaEventDisableTiming);
        if (e == cudaSuccess)
            e = cudaEventCreateWithFlags(&sl->done, cudaEventDisableTiming);
    }
    if (e != cudaSuccess)
        return di_fail(err, DI_EUNSUPPORTED, "CUDA device %d: %s", cu->device,
                       cudaGetErrorString(e));
    cublasStatus_t bs = cublasCreate(&cu->c.blas);
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetStream(cu->c.blas, cu->c.stream);
    if (bs != CUBLAS_STATUS_SUCCESS)
        return di_fail(err, DI_EUNSUPPORTED, "cuBLAS: no handle (status %d)", (int)bs);
    cudnnStatus_t ds = cudnnCreate(&cu->c.dnn);
    if (ds == CUDNN_STATUS_SUCCESS)
        ds = cudnnSetStream(cu->c.dnn, cu->c.stream);
    if (ds != CUDNN_STATUS_SUCCESS)
        return di_fail(err, DI_EUNSUPPORTED, "cuDNN: %s", cudnnGetErrorString(ds));
    cu->c.prec = s->opt.precision;
    /* DEPTHINDEX_CUDA_GRAPHS=0 turns the graph capture off */
    const char *cg = getenv("DEPTHINDEX_CUDA_GRAPHS");
    cu->use_graphs = !(cg && !strcmp(cg, "0"));
    return DI_OK;
}

int di_nn_cuda_attach(di_nn_session *s, di_error *err)
{
    s->cuda = calloc(1, sizeof *s->cuda);
    if (!s->cuda)
        return di_fail(err, DI_ENOMEM, "out of memory");
    /* plan the declared shapes now, so that what the GPU cannot do shows
    ** at load time (first on the host: no device needed to refuse) */
    di_nn_io io;
    di_error ignore = {0};
    bool known = s->g->ninputs == 1 && di_nn_batch_io(s, 1, &io, &ignore) == DI_OK;
    int rc = cu_check_ops(s, known ? &io : NULL, err);
    if (!rc)
        rc = init_device(s, err);
    if (!rc)
        rc = upload_weights(s, err);
    if (!rc && known) {
        cu_plan *p;
        rc = cu_plan_get(s, &io, 1, &p, err);
    }
    return rc;
}

void di_nn_cuda_detach(di_nn_session *s)
{
    struct di_nn_cuda *cu = s->cuda;
    if (!cu)
        return;
    if (cu->c.stream)
        cudaSetDevice(cu->device); /* maybe another thread than attach's */
    if (cu->c.stream)
        cudaStreamSynchronize(cu->c.stream);
    if (cu->up_stream)
        cudaStreamSynchronize(cu->up_stream);
    if (cu->down_stream)
        cudaStreamSynchronize(cu->down_stream);
    for (int i = 0; i < CU_MAX_PLANS; i++)
        cu_plan_free(cu->plans[i]);
    for (int i = 0; i < CU_IN_FLIGHT; i++) {
        cu_slot *sl = &cu->slots[i];
        if (sl->uploaded)
            cudaEventDestroy(sl->uploaded);
        if (sl->computed)
            cudaEventDestroy(sl->computed);
        if (sl->done)
            cudaEventDestroy(sl->done);
        cudaFree(sl->din);
        cudaFree(sl->dout);
    }
    if (cu->w_block)
        cudaFree(cu->w_block);
    free(cu->w_host);
    free(cu->w_dev);
    free(cu->w_bytes);
    if (cu->c.blas)
        cublasDestroy(cu->c.blas);
    if (cu->c.dnn)
        cudnnDestroy(cu->c.dnn);
    if (cu->c.stream)
        cudaStreamDestroy(cu->c.stream);
    if (cu->up_stream)
        cudaStreamDestroy(cu->up_stream);
    if (cu->down_stream)
        cudaStreamDestroy(cu->down_stream);
    free(cu);
    s->cuda = NULL;
}

static int cuda_err(di_nn_session *s, di_error *err, const char *what, cudaError_t e)
{
    return di_fail(err, cu_status_cuda(e), "%s: CUDA %s: %s", s->g->path, what,
                   cudaGetErrorString(e));
}

/* The plan for a batch, with its float output checked against capacity. */
static int batch_plan(di_nn_session *s, int batch, size_t cap, cu_plan **out, di_error *err)
{
    if (batch < 1)
        return di_fail(err, DI_EINVAL, "batch must be at least 1, not %d", batch);
    di_nn_io io;
    int rc = di_nn_batch_io(s, batch, &io, err);
    if (rc)
        return rc;
    if (io.dtype != DI_DT_FLOAT)
        return di_fail(err, DI_EUNSUPPORTED, "%s: input is %s, not float32", s->g->path,
                       di_dtype_name(io.dtype));
    cudaSetDevice(s->cuda->device);
    rc = cu_plan_get(s, &io, 1, out, err);
    if (rc)
        return rc;
    const cu_tensor *o = &(*out)->outputs[0];
    if (o->dtype != DI_DT_FLOAT)
        return di_fail(err, DI_EUNSUPPORTED, "%s: output is %s, not float32", s->g->path,
                       di_dtype_name(o->dtype));
    if ((size_t)cu_numel(o) > cap)
        return di_fail(err, DI_ESHAPE, "%s: the output needs %lld floats, the buffer holds %zu",
                       s->g->path, (long long)cu_numel(o), cap);
    return DI_OK;
}

int di_nn_cuda_run(di_nn_session *s, const float *input, int batch, float *output,
                   size_t output_capacity, di_error *err)
{
    int rc = di_nn_cuda_submit(s, input, batch, output, output_capacity, err);
    if (rc)
        return rc;
    return di_nn_cuda_wait(s, err);
}

static int grow(void **buf, size_t *have, size_t need)
{
    if (*have >= need)
        return cudaSuccess;
    cudaFree(*buf);
    *buf = NULL;
    *have = 0;
    cudaError_t e = cudaMalloc(buf, need);
    if (e == cudaSuccess)
        *have = need;
    return e;
}

int di_nn_cuda_submit(di_nn_session *s, const float *input, int batch, float *output,
                      size_t output_capacity, di_error *err)
{
    struct di_nn_cuda *cu = s->cuda;
    if (!input || !output)
        return di_fail(err, DI_EINVAL, "no input or output buffer");
    if (cu->inflight >= CU_IN_FLIGHT)
        return di_fail(err, DI_EINVAL, "%s: %d runs already in flight: di_nn_wait first",
                       s->g->path, CU_IN_FLIGHT);
    cu_plan *p;
    int rc = batch_plan(s, batch, output_capacity, &p, err);
    if (rc)
        return rc;
    cu_slot *sl = &cu->slots[cu->next];
    const cu_tensor *in = &p->inputs[0], *out = &p->outputs[0];
    size_t ib = cu_bytes(in), ob = cu_bytes(out);
    cudaError_t e = grow(&sl->din, &sl->din_bytes, ib ? ib : 1);
    if (e == cudaSuccess)
        e = grow(&sl->dout, &sl->dout_bytes, ob ? ob : 1);
    if (e != cudaSuccess)
        return cuda_err(s, err, "staging buffers", e);
    /* upload, compute and download each on their own stream */
    e = cudaMemcpyAsync(sl->din, input, ib, cudaMemcpyHostToDevice, cu->up_stream);
    if (e == cudaSuccess)
        e = cudaEventRecord(sl->uploaded, cu->up_stream);
    if (e == cudaSuccess)
        e = cudaStreamWaitEvent(cu->c.stream, sl->uploaded, 0);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(in->dev, sl->din, ib, cudaMemcpyDeviceToDevice, cu->c.stream);
    if (e != cudaSuccess)
        return cuda_err(s, err, "upload", e);
    rc = cu_plan_launch(s, p, err);
    if (rc)
        return rc;
    e = cudaMemcpyAsync(sl->dout, out->dev, ob, cudaMemcpyDeviceToDevice, cu->c.stream);
    if (e == cudaSuccess)
        e = cudaEventRecord(sl->computed, cu->c.stream);
    if (e == cudaSuccess)
        e = cudaStreamWaitEvent(cu->down_stream, sl->computed, 0);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(output, sl->dout, ob, cudaMemcpyDeviceToHost, cu->down_stream);
    if (e == cudaSuccess)
        e = cudaEventRecord(sl->done, cu->down_stream);
    if (e != cudaSuccess)
        return cuda_err(s, err, "download", e);
    sl->busy = true;
    sl->host_out = output;
    sl->out_bytes = ob;
    cu->next = (cu->next + 1) % CU_IN_FLIGHT;
    cu->inflight++;
    return DI_OK;
}

int di_nn_cuda_wait(di_nn_session *s, di_error *err)
{
    struct di_nn_cuda *cu = s->cuda;
    if (cu->inflight == 0)
        return di_fail(err, DI_EINVAL, "%s: no run in flight", s->g->path);
    cu_slot *sl = &cu->slots[cu->oldest];
    cudaError_t e = cudaEventSynchronize(sl->done);
    sl->busy = false;
    cu->oldest = (cu->oldest + 1) % CU_IN_FLIGHT;
    cu->inflight--;
    if (e != cudaSuccess)
        return cuda_err(s, err, "run", e);
    return DI_OK;
}

int di_nn_cuda_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                      di_error *err)
{
    struct di_nn_cuda *cu = s->cuda;
    for (int i = 0; i < nouts; i++)
        outs[i].data = NULL;
    cudaSetDevice(cu->device);
    cu_plan *p;
    int rc = cu_plan_get(s, ins, nins, &p, err);
    cudaError_t e = cudaSuccess;
    for (int i = 0; i < nins && !rc && e == cudaSuccess; i++)
        if (ins[i].data)
            e = cudaMemcpyAsync(p->inputs[i].dev, ins[i].data, cu_bytes(&p->inputs[i]),
                                cudaMemcpyHostToDevice, cu->c.stream);
    if (!rc && e != cudaSuccess)
        rc = cuda_err(s, err, "upload", e);
    if (!rc)
        rc = cu_plan_launch(s, p, err);
    for (int i = 0; i < nouts && !rc; i++) {
        const cu_tensor *o = &p->outputs[i];
        size_t bytes = cu_bytes(o);
        rc = di_nn_io_output(s, i, o->dtype, o->ndim, o->dims, bytes, &outs[i], err);
        if (rc)
            break;
        if ((e = cudaMemcpyAsync(outs[i].data, o->dev, bytes, cudaMemcpyDeviceToHost,
                                 cu->c.stream)) != cudaSuccess)
            rc = cuda_err(s, err, "download", e);
    }
    if (!rc && (e = cudaStreamSynchronize(cu->c.stream)) != cudaSuccess)
        rc = cuda_err(s, err, "run", e);
    if (rc)
        for (int i = 0; i < nouts; i++) {
            free(outs[i].data);
            outs[i].data = NULL;
        }
    return rc;
}

int di_nn_cuda_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err)
{
    cu_plan *p;
    int rc = batch_plan(s, batch, (size_t)-1, &p, err);
    if (rc)
        return rc;
    *ndim = p->outputs[0].ndim;
    memcpy(dims, p->outputs[0].dims, sizeof(int64_t) * (size_t)*ndim);
    return DI_OK;
}

double di_nn_cuda_flops(di_nn_session *s, int batch, di_error *err)
{
    cu_plan *p;
    return batch_plan(s, batch, (size_t)-1, &p, err) ? -1 : p->flops;
}
