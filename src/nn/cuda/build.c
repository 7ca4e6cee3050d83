/*
** build.c: host plan -> GPU plan, and the plan cache (launching a plan is
** launch.c's).
**
** The host planner (plan.c) does everything that depends on shapes:
** concrete shapes, constant folding, fusion, the liveness memory plan. Here
** every step of its plan becomes a GPU step with the same inputs, outputs
** and fused post-ops; every activation keeps its arena offset, so the device
** arena is exactly as large as the host one. The host plan (and its host
** arena) is freed when the mirror is built.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Ops that only ever run folded (at plan time, on the host). */
static const char *const fold_only_ops[] = {
    "Shape", "Size", "Constant", "ConstantOfShape", "Range", NULL,
};

static const struct {
    const char *op;
    cu_setup_fn fn;
} setups[] = {
    {"Conv", cu_setup_conv},
    {"ConvTranspose", cu_setup_deconv},
    {"MatMul", cu_setup_matmul},
    {"Gemm", cu_setup_gemm},
    {"MaxPool", cu_setup_pool},
    {"AveragePool", cu_setup_pool},
    {"GlobalAveragePool", cu_setup_pool},
    {"Max", cu_setup_binary},
    {"Min", cu_setup_binary},
    {"PRelu", cu_setup_binary},
    {"Add", cu_setup_binary},
    {"Sub", cu_setup_binary},
    {"Mul", cu_setup_binary},
    {"Div", cu_setup_binary},
    {"Pow", cu_setup_binary},
    {"Equal", cu_setup_binary},
    {"Less", cu_setup_binary},
    {"Greater", cu_setup_binary},
    {"Where", cu_setup_where},
    {"Resize", cu_setup_resize},
    {"Softmax", cu_setup_softmax},
    {"LogSoftmax", cu_setup_softmax},
    {"LayerNormalization", cu_setup_layernorm},
    {"BatchNormalization", cu_setup_batchnorm},
    {"ReduceMean", cu_setup_reduce},
    {"ReduceSum", cu_setup_reduce},
    {"ReduceMax", cu_setup_reduce},
    {"ReduceMin", cu_setup_reduce},
    {"Transpose", cu_setup_transpose},
    {"Concat", cu_setup_concat},
    {"Split", cu_setup_split},
    {"Slice", cu_setup_slice},
    {"Expand", cu_setup_expand},
    {"Gather", cu_setup_gather},
    {"Pad", cu_setup_pad},
    {"Tile", cu_setup_tile},
    {"Cast", cu_setup_cast},
};

/* The setup of a node's op: by its properties (op.h) for the unary
** elementwise ops and the views, else by name from setups[]. */
cu_setup_fn cu_find_setup(const di_nn_node *n, bool *fold_only)
{
    *fold_only = false;
    if (n->op && n->op->unary != DI_U_NONE)
        return cu_setup_unary;
    if (n->op && (n->op->flags & DI_OP_VIEW))
        return cu_setup_copy;
    for (size_t i = 0; i < sizeof setups / sizeof setups[0]; i++)
        if (!strcmp(setups[i].op, n->op_type))
            return setups[i].fn;
    for (int i = 0; fold_only_ops[i]; i++)
        if (!strcmp(fold_only_ops[i], n->op_type))
            *fold_only = true;
    return NULL;
}

/* Ops of float16 and quantized files that only the CPU backend runs. A
** host fallback in the middle of a graph would copy activations both ways
** per step, so a CUDA session refuses them at attach and says what they are;
** weight-only forms (DequantizeLinear of an initializer) fold away and run. */
static const struct {
    const char *op, *what;
} cpu_only_ops[] = {
    {"RoundFloat16", "a float16 file's Cast to float16"},
    {"DynamicQuantizeLinear", "an integer op of a quantized file"},
    {"QuantizeLinear", "an integer op of a quantized file"},
    {"DequantizeLinear", "an integer op of a quantized file"},
    {"MatMulInteger", "an integer op of a quantized file"},
    {"ConvInteger", "an integer op of a quantized file"},
};

static const char *cpu_only(const char *op)
{
    for (size_t i = 0; i < sizeof cpu_only_ops / sizeof cpu_only_ops[0]; i++)
        if (!strcmp(cpu_only_ops[i].op, op))
            return cpu_only_ops[i].what;
    return NULL;
}

static bool all_initializers(const di_nn_graph *g, const di_nn_node *n)
{
    for (int i = 0; i < n->nin; i++)
        if (n->in[i] >= 0 && !g->values[n->in[i]].data)
            return false;
    return true;
}

/* What the GPU cannot run, found before the device is touched: with known
** input shapes, every step of the host plan (nodes folded into constants
** need no kernel, whatever their op); otherwise every node's op type. */
int cu_check_ops(di_nn_session *s, const di_nn_io *io, di_error *err)
{
    const di_nn_graph *g = s->g;
    di_nn_plan *hp = NULL;
    if (io) {
        int rc = di_nn_plan_build_flags(s, io, 1, DI_NN_PLAN_NEUTRAL, &hp, err);
        if (rc)
            return rc;
    }
    int rc = DI_OK;
    int n = hp ? hp->nsteps : g->nnodes;
    for (int i = 0; i < n && !rc; i++) {
        int ni = hp ? hp->steps[i].node : i;
        if (ni < 0)
            continue; /* a reorder */
        const di_nn_node *node = &g->nodes[ni];
        bool fold_only;
        if (cu_find_setup(node, &fold_only))
            continue;
        const char *what = cpu_only(node->op_type);
        if (what && !hp && all_initializers(g, node))
            continue; /* folds at plan time (a weight-only DequantizeLinear) */
        if (what)
            rc = di_fail(err, DI_EUNSUPPORTED,
                         "%s: node '%s' (%s): %s, which the CUDA backend does not run; use "
                         "--device cpu",
                         g->path, node->name, node->op_type, what);
        else if (!fold_only)
            rc = di_fail(err, DI_EUNSUPPORTED,
                         "%s: node '%s' (%s): no CUDA kernel for this op; use --device cpu",
                         g->path, node->name, node->op_type);
        else if (hp)
            rc = di_fail(err, DI_EUNSUPPORTED,
                         "%s: node '%s' (%s): its inputs are only known at run time (the CUDA "
                         "backend takes it folded to a constant)",
                         g->path, node->name, node->op_type);
    }
    if (hp)
        di_nn_plan_free(hp, s);
    return rc;
}

/* ---- helpers for the op files ---- */

static const char *step_name(const cu_step *st)
{
    return st->node ? st->node->name : "reorder";
}

/* What a library's failure means to the caller. Out of device memory fails
** the one batch (DI_ENOMEM) and the next may run; an execution failure is the
** device's (DI_EDEVICE: the pipeline stops cleanly, the faces stay pending);
** a refused argument is a bug here (DI_EINTERNAL). */
int cu_status_cuda(int code)
{
    switch ((cudaError_t)code) {
    case cudaErrorMemoryAllocation:
        if (!cu_host_mode())
            cudaGetLastError(); /* not sticky: the next batch may run */
        return DI_ENOMEM;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidConfiguration:
    case cudaErrorInvalidDeviceFunction:
    case cudaErrorInvalidResourceHandle: return DI_EINTERNAL;
    case cudaErrorNoKernelImageForDevice: return DI_EUNSUPPORTED;
    default: return DI_EDEVICE;
    }
}

static int cu_status_cudnn(cudnnStatus_t code)
{
    int c = (int)code;
    if (c == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
        c == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
        return DI_ENOMEM;
    if (c >= CUDNN_STATUS_NOT_SUPPORTED && c < CUDNN_STATUS_INTERNAL_ERROR)
        return DI_EUNSUPPORTED;
    if (c >= CUDNN_STATUS_EXECUTION_FAILED)
        return DI_EDEVICE;
    return DI_EINTERNAL;
}

static int cu_status_cublas(cublasStatus_t code)
{
    switch (code) {
    case CUBLAS_STATUS_ALLOC_FAILED: return DI_ENOMEM;
    case CUBLAS_STATUS_NOT_SUPPORTED: return DI_EUNSUPPORTED;
    case CUBLAS_STATUS_EXECUTION_FAILED: return DI_EDEVICE;
    default: return DI_EINTERNAL;
    }
}

static int step_fail(di_error *err, int code, const cu_step *st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int step_fail(di_error *err, int code, const cu_step *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    di_nn_step_failv(err, code, step_name(st), st->name, fmt, ap);
    va_end(ap);
    return code;
}

int cu_fail_cuda(di_error *err, const cu_step *st, const char *what, int code)
{
    return step_fail(err, cu_status_cuda(code), st, "%s: %s", what,
                     cudaGetErrorString((cudaError_t)code));
}

int cu_fail_cudnn(di_error *err, const cu_step *st, const char *what, cudnnStatus_t code)
{
    return step_fail(err, cu_status_cudnn(code), st, "cuDNN %s: %s", what,
                     cudnnGetErrorString(code));
}

int cu_fail_cublas(di_error *err, const cu_step *st, const char *what, cublasStatus_t code)
{
    return step_fail(err, cu_status_cublas(code), st, "cuBLAS %s: status %d", what, (int)code);
}

int cu_refuse(di_error *err, const cu_step *st, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return step_fail(err, DI_EUNSUPPORTED, st, "not supported on CUDA: %s", msg);
}

int64_t cu_numel(const cu_tensor *t)
{
    return di_shape_numel(t->ndim, t->dims);
}

size_t cu_bytes(const cu_tensor *t)
{
    return (size_t)cu_numel(t) * di_dtype_size(t->dtype);
}

/* Device memory, or host memory in host mode (kernels.h). */
static cudaError_t dev_alloc(void **d, size_t bytes)
{
    if (!cu_host_mode())
        return cudaMalloc(d, bytes);
    *d = malloc(bytes ? bytes : 1);
    return *d ? cudaSuccess : cudaErrorMemoryAllocation;
}

static void dev_free(void *d)
{
    if (cu_host_mode())
        free(d);
    else if (d)
        cudaFree(d);
}

cudaError_t cu_copy_async(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                          cudaStream_t st)
{
    if (!cu_host_mode())
        return cudaMemcpyAsync(dst, src, bytes, kind, st);
    memmove(dst, src, bytes);
    return cudaSuccess;
}

static int own(cu_plan *p, void *d, di_error *err)
{
    if (p->nowned == p->cap_owned) {
        int cap = p->cap_owned ? 2 * p->cap_owned : 32;
        void **o = realloc(p->owned, (size_t)cap * sizeof *o);
        if (!o) {
            dev_free(d);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
        p->owned = o;
        p->cap_owned = cap;
    }
    p->owned[p->nowned++] = d;
    return DI_OK;
}

void *cu_upload(cu_plan *p, const void *host, size_t bytes, di_error *err)
{
    void *d = NULL;
    cudaError_t e = dev_alloc(&d, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        di_fail(err, DI_ENOMEM, "CUDA: %zu bytes of device memory: %s", bytes,
                cudaGetErrorString(e));
        return NULL;
    }
    if (own(p, d, err))
        return NULL;
    if (cu_host_mode()) {
        if (bytes && host)
            memcpy(d, host, bytes);
        return d;
    }
    if (bytes && host && (e = cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice)) != cudaSuccess) {
        di_fail(err, cu_status_cuda(e), "CUDA: upload of %zu bytes: %s", bytes,
                cudaGetErrorString(e));
        return NULL;
    }
    return d;
}

int cu_epilogue_run(cu_step *st, cu_ctx *c, float *y, const float *bias, int64_t inner,
                    int64_t channels, bool skip_first, di_error *err)
{
    int first = skip_first ? 1 : 0;
    if (!bias && st->npost <= first)
        return DI_OK;
    int e = cu_epilogue(c->stream, cu_numel(&st->out[0]), y, bias, inner, channels,
                        st->npost - first, st->kinds + first, st->lo + first, st->hi + first,
                        st->addend + first, st->amod + first);
    return e ? cu_fail_cuda(err, st, "epilogue kernel", e) : DI_OK;
}

/* ---- host plan -> GPU plan ---- */

typedef struct xlate {
    di_nn_session *s;
    di_nn_plan *hp;
    cu_plan *p;
    const void **fh; /* folded constants already uploaded: host -> device */
    void **fd;
    int nf, capf;
} xlate;

static int dev_tensor(xlate *x, const di_nn_tensor *t, cu_tensor *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    if (!t)
        return DI_OK;
    out->dtype = t->dtype;
    out->ndim = t->ndim;
    memcpy(out->dims, t->dims, sizeof(int64_t) * (size_t)(t->ndim > 0 ? t->ndim : 0));
    size_t bytes = (size_t)di_nn_numel(t) * di_dtype_size(t->dtype);
    if (!t->is_const) {
        const uint8_t *h = t->data, *a = x->hp->arena;
        if (bytes == 0) {
            out->dev = x->p->arena;
            return DI_OK;
        }
        if (!h || h < a || h + bytes > a + x->hp->arena_bytes)
            return di_fail(err, DI_EINVAL, "CUDA: a tensor outside the memory plan"); /* a bug */
        out->dev = x->p->arena + (h - a);
        return DI_OK;
    }
    out->is_const = true;
    out->host = t->data;
    struct di_nn_cuda *cu = x->s->cuda;
    for (int i = 0; i < cu->nweights; i++)
        if (cu->w_host[i] == t->data) {
            out->dev = cu->w_dev[i];
            return DI_OK;
        }
    for (int i = 0; i < x->nf; i++)
        if (x->fh[i] == t->data) {
            out->dev = x->fd[i];
            return DI_OK;
        }
    void *d = cu_upload(x->p, t->data, bytes, err);
    if (!d)
        return err ? err->code : DI_ENOMEM;
    if (x->nf == x->capf) {
        int cap = x->capf ? 2 * x->capf : 32;
        const void **fh = realloc(x->fh, (size_t)cap * sizeof *fh);
        if (fh)
            x->fh = fh;
        void **fd = realloc(x->fd, (size_t)cap * sizeof *fd);
        if (fd)
            x->fd = fd;
        if (!fh || !fd)
            return di_fail(err, DI_ENOMEM, "out of memory");
        x->capf = cap;
    }
    x->fh[x->nf] = t->data;
    x->fd[x->nf++] = d;
    out->dev = d;
    return DI_OK;
}

static int copy_run(cu_step *st, cu_ctx *c, di_error *err)
{
    size_t bytes = cu_bytes(&st->out[0]);
    if (!bytes || st->in[0].dev == st->out[0].dev)
        return DI_OK;
    cudaError_t e =
        cu_copy_async(st->out[0].dev, st->in[0].dev, bytes, cudaMemcpyDeviceToDevice, c->stream);
    return e ? cu_fail_cuda(err, st, "device copy", e) : DI_OK;
}

int cu_setup_copy(cu_plan *p, cu_ctx *c, cu_step *st, const di_nn_step *hs, di_error *err)
{
    (void)p;
    (void)c;
    (void)hs;
    if (cu_bytes(&st->in[0]) != cu_bytes(&st->out[0]))
        return cu_refuse(err, st, "a copy that changes the size");
    st->run = copy_run;
    return DI_OK;
}

static bool overlaps(const cu_tensor *a, const cu_tensor *b)
{
    const uint8_t *x = a->dev, *y = b->dev;
    size_t nx = cu_bytes(a), ny = cu_bytes(b);
    return x && y && nx && ny && x < y + ny && y < x + nx;
}

static int xlate_step(xlate *x, const di_nn_step *hs, cu_step *st, di_error *err)
{
    const di_nn_graph *g = x->s->g;
    cu_plan *p = x->p;
    st->flops = hs->flops;
    if (hs->node < 0) { /* a reorder to the plain layout: here a copy */
        st->name = "Reorder";
        st->nin = st->nout = 1;
        st->in = calloc(1, sizeof *st->in);
        st->out = calloc(1, sizeof *st->out);
        if (!st->in || !st->out)
            return di_fail(err, DI_ENOMEM, "out of memory");
        int rc = dev_tensor(x, hs->from, &st->in[0], err);
        if (!rc)
            rc = dev_tensor(x, hs->to, &st->out[0], err);
        st->in[0].ndim = st->out[0].ndim; /* the plain bytes only */
        memcpy(st->in[0].dims, st->out[0].dims, sizeof st->in[0].dims);
        st->run = copy_run;
        return rc;
    }
    const di_nn_node *n = &g->nodes[hs->node];
    const di_nn_kctx *k = &hs->k;
    st->node = n;
    st->name = n->op_type;
    st->nin = k->nin;
    st->nout = k->nout;
    st->in = calloc((size_t)k->nin + 1, sizeof *st->in);
    st->out = calloc((size_t)k->nout + 1, sizeof *st->out);
    if (!st->in || !st->out)
        return di_fail(err, DI_ENOMEM, "out of memory");
    for (int i = 0; i < k->nin; i++) {
        int rc = dev_tensor(x, k->in[i], &st->in[i], err);
        if (rc)
            return rc;
    }
    for (int i = 0; i < k->nout; i++) {
        int rc = dev_tensor(x, k->out[i], &st->out[i], err);
        if (rc)
            return rc;
    }
    bool fold_only;
    cu_setup_fn fn = cu_find_setup(n, &fold_only);
    const char *what = cpu_only(n->op_type);
    if (!fn && what)
        return cu_refuse(err, st, "%s; use --device cpu", what);
    if (!fn)
        return cu_refuse(err, st,
                         fold_only ? "its inputs are only known at run time (the CUDA backend "
                                     "takes it folded to a constant)"
                                   : "no CUDA kernel for this op; use --device cpu");
    int alias_post = -1;
    st->npost = k->npost;
    for (int j = 0; j < k->npost; j++) {
        const di_nn_postop *po = &k->post[j];
        st->kinds[j] = po->kind;
        st->lo[j] = po->lo;
        st->hi[j] = po->hi;
        if (po->kind == DI_POST_RELU || po->kind == DI_POST_CLIP)
            continue;
        if (po->kind != DI_POST_SUM)
            return cu_refuse(err, st, "fused post-op kind %d", po->kind);
        cu_tensor a;
        int rc = dev_tensor(x, po->addend, &a, err);
        if (rc)
            return rc;
        const cu_tensor *o = &st->out[0];
        /* the addend must broadcast as a suffix of the output's shape */
        if (a.dtype != DI_DT_FLOAT || a.ndim > o->ndim)
            return cu_refuse(err, st, "a fused Add of this shape");
        for (int d = 0; d < a.ndim; d++) {
            int64_t ad = a.dims[a.ndim - 1 - d], od = o->dims[o->ndim - 1 - d];
            if (ad != od) {
                /* only leading ones may differ */
                for (int e = 0; e <= a.ndim - 1 - d; e++)
                    if (a.dims[e] != 1)
                        return cu_refuse(err, st, "a fused Add that broadcasts inside the shape");
                break;
            }
        }
        st->addend[j] = a.dev;
        st->amod[j] = cu_numel(&a) > 0 ? cu_numel(&a) : 1;
        if (overlaps(&a, o))
            alias_post = j;
    }
    int rc = fn(p, &x->s->cuda->c, st, hs, err);
    if (rc)
        return rc;
    bool can_accumulate = st->accumulate;
    st->accumulate = can_accumulate && alias_post == 0;
    if (alias_post >= 0 && !st->accumulate) {
        /* the op writes the addend's buffer before the epilogue reads it */
        size_t bytes = (size_t)st->amod[alias_post] * sizeof(float);
        void *d = cu_upload(p, NULL, bytes, err);
        if (!d)
            return err ? err->code : DI_ENOMEM;
        st->save_src = st->addend[alias_post];
        st->save_dst = d;
        st->save_bytes = bytes;
        st->addend[alias_post] = d;
    }
    return DI_OK;
}

void cu_plan_free(cu_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nsteps; i++) {
        cu_step *st = &p->steps[i];
        if (st->release)
            st->release(st->p);
        else
            free(st->p);
        free(st->in);
        free(st->out);
    }
    free(p->steps);
    if (p->graph)
        cudaGraphExecDestroy(p->graph);
    for (int i = 0; i < p->nowned; i++)
        dev_free(p->owned[i]);
    free(p->owned);
    dev_free(p->arena);
    dev_free(p->ws);
    free(p->inputs);
    free(p->outputs);
    free(p);
}

int cu_plan_build(di_nn_session *s, const di_nn_io *ins, int nins, cu_plan **out, di_error *err)
{
    *out = NULL;
    di_nn_plan *hp;
    int rc = di_nn_plan_build_flags(s, ins, nins, DI_NN_PLAN_NEUTRAL, &hp, err);
    if (rc)
        return rc;
    const di_nn_graph *g = s->g;
    cu_plan *p = calloc(1, sizeof *p);
    xlate x = {s, hp, p, NULL, NULL, 0, 0};
    if (!p) {
        di_nn_plan_free(hp, s);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    di_nn_plan_key_set(&p->key, ins, nins);
    p->flops = hp->flops;
    p->arena_bytes = hp->arena_bytes;
    cudaError_t e = dev_alloc((void **)&p->arena, p->arena_bytes ? p->arena_bytes : 64);
    if (e != cudaSuccess)
        rc = di_fail(err, cu_status_cuda(e), "CUDA: %zu bytes of activations: %s", p->arena_bytes,
                     cudaGetErrorString(e));
    p->steps = calloc((size_t)hp->nsteps + 1, sizeof *p->steps);
    p->inputs = calloc((size_t)g->ninputs + 1, sizeof *p->inputs);
    p->outputs = calloc((size_t)g->noutputs + 1, sizeof *p->outputs);
    if (!rc && (!p->steps || !p->inputs || !p->outputs))
        rc = di_fail(err, DI_ENOMEM, "out of memory");
    for (int i = 0; i < g->ninputs && !rc; i++)
        rc = dev_tensor(&x, &hp->vals[g->inputs[i]], &p->inputs[i], err);
    for (int i = 0; i < g->noutputs && !rc; i++)
        rc = dev_tensor(&x, hp->outputs[i], &p->outputs[i], err);
    for (int i = 0; i < hp->nsteps && !rc; i++) {
        rc = xlate_step(&x, &hp->steps[i], &p->steps[i], err);
        p->nsteps = i + 1;
    }
    for (int i = 0; i < p->nsteps && !rc; i++)
        if (p->steps[i].ws_bytes > p->ws_bytes)
            p->ws_bytes = p->steps[i].ws_bytes;
    if (!rc && p->ws_bytes && (e = dev_alloc(&p->ws, p->ws_bytes)) != cudaSuccess)
        rc = di_fail(err, cu_status_cuda(e), "CUDA: %zu bytes of workspace: %s", p->ws_bytes,
                     cudaGetErrorString(e));
    for (int i = 0; i < p->nsteps && !rc; i++)
        p->steps[i].ws = p->ws;
    free(x.fh);
    free(x.fd);
    di_nn_plan_free(hp, s);
    /* the CPU kernels' reordered weights are of no use to a CUDA session (in
    ** host mode the session is a CPU one whose plans still use them) */
    if (s->opt.device == DI_NN_CUDA)
        di_nn_release_persist(s);
    if (rc) {
        if (err && g->path && !(err->named & DI_NAMED_FILE)) {
            di_error_prefix(err, "%s", g->path);
            err->named |= DI_NAMED_FILE;
        }
        cu_plan_free(p);
        return rc;
    }
    *out = p;
    return DI_OK;
}

int cu_plan_get(di_nn_session *s, const di_nn_io *ins, int nins, cu_plan **out, di_error *err)
{
    struct di_nn_cuda *cu = s->cuda;
    int victim;
    int hit =
        di_nn_cache_lookup((void *const *)cu->plans, CU_MAX_PLANS, ins, nins, &cu->clock, &victim);
    if (hit >= 0) {
        *out = cu->plans[hit];
        return DI_OK;
    }
    cu_plan *p;
    int rc = cu_plan_build(s, ins, nins, &p, err);
    if (rc)
        return rc;
    if (cu->plans[victim]) {
        /* runs in flight may still use the evicted plan */
        cudaStreamSynchronize(cu->c.stream);
        cu_plan_free(cu->plans[victim]);
    }
    cu->plans[victim] = p;
    p->key.last_used = ++cu->clock;
    *out = p;
    return DI_OK;
}
