/*
** kernels.cu: the CUDA backend's own kernels (everything that is not a
** convolution, a pooling or a matrix product, which go to cuDNN and cuBLAS).
** Memory-bound work: grid-stride loops over the output, one element per
** thread and step; rows (Softmax, LayerNormalization) get a block each.
**
** Host mode (cu_set_host_mode, for the tests of a machine without a GPU):
** every elementwise kernel's body is a __host__ __device__ function, and the
** launchers run those same bodies in a host loop over the same index space;
** the row kernels (warp shuffles) have a plain host twin. So the backend's
** own index arithmetic and the plan translation can be checked against the
** CPU engine without a device.
*/
#include <math.h>
#include <stdint.h>

#include "kernels.h"

namespace {

const int THREADS = 256;
thread_local bool host_mode = false; /* per thread: a test in host mode never diverts another thread's launches */

#define HD __host__ __device__ __forceinline__
/* a launcher's loop on the host: BODY(i) for every output index */
#define HOST_LOOP(n, BODY)                                                   \
    do {                                                                     \
        if (host_mode) {                                                     \
            for (int64_t i_ = 0; i_ < (n); i_++) BODY(i_);                   \
            return 0;                                                        \
        }                                                                    \
    } while (0)

unsigned blocks_for(int64_t n)
{
    int64_t b = (n + THREADS - 1) / THREADS;
    if (b < 1) b = 1;
    if (b > 65535LL * 8) b = 65535LL * 8; /* grid-stride beyond this */
    return (unsigned)b;
}

#define GRID_LOOP(i, n)                                                      \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (int64_t)gridDim.x * blockDim.x)

/* Offsets of linear output index i in the two or three strided operands. */
HD void walk_offsets(const cu_walk &w, int64_t i,
                                             int64_t *oa, int64_t *ob,
                                             int64_t *oc)
{
    int64_t a = 0, b = 0, c = 0;
    for (int d = w.nd - 1; d >= 0; d--) {
        int64_t dim = w.dims[d];
        int64_t q = i / dim, r = i - q * dim;
        a += r * w.sa[d];
        b += r * w.sb[d];
        c += r * w.sc[d];
        i = q;
    }
    *oa = a;
    *ob = b;
    *oc = c;
}

int64_t walk_count(const cu_walk *w)
{
    int64_t n = 1;
    for (int d = 0; d < w->nd; d++) n *= w->dims[d];
    return n;
}

/* ---- bodies: one output element each, shared by device and host ---- */

template <typename T>
HD void b_copy(int64_t i, const cu_walk &w, const T *src, T *dst)
{
    int64_t a, b, c;
    walk_offsets(w, i, &a, &b, &c);
    dst[b] = src[a];
}

/* Every kind of unary.h has its case below: a new kind fails the build
** here until it has one. */
static_assert(DI_U_COUNT == DI_U_SOFTSIGN + 1, "a unary kind without its case in unary_op");

HD float unary_op(int op, float x, float a, float b)
{
    switch (op) {
    case DI_U_RELU: return x > 0.f ? x : 0.f;
    case DI_U_CLIP: return fminf(fmaxf(x, a), b);
    case DI_U_SIGMOID: return 1.f / (1.f + expf(-x));
    case DI_U_ERF: return erff(x);
    case DI_U_GELU: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case DI_U_GELU_TANH:
        return 0.5f * x * (1.f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case DI_U_SQRT: return sqrtf(x);
    case DI_U_EXP: return expf(x);
    case DI_U_LOG: return logf(x);
    case DI_U_TANH: return tanhf(x);
    case DI_U_NEG: return -x;
    case DI_U_ABS: return fabsf(x);
    case DI_U_RECIP: return 1.f / x;
    case DI_U_FLOOR: return floorf(x);
    case DI_U_CEIL: return ceilf(x);
    case DI_U_LEAKY: return x >= 0.f ? x : a * x;
    case DI_U_HARDSIGMOID: return fmaxf(0.f, fminf(1.f, a * x + b));
    case DI_U_HARDSWISH: return x * fmaxf(0.f, fminf(1.f, x / 6.f + 0.5f));
    case DI_U_SOFTPLUS: return x > 20.f ? x : log1pf(expf(x));
    case DI_U_ELU: return x >= 0.f ? x : a * (expf(x) - 1.f);
    case DI_U_SELU: return x > 0.f ? b * x : b * a * (expf(x) - 1.f);
    case DI_U_ROUND: return rintf(x); /* half to even, as ONNX */
    case DI_U_SIGN: return (float)((x > 0.f) - (x < 0.f));
    case DI_U_SIN: return sinf(x);
    case DI_U_COS: return cosf(x);
    case DI_U_SOFTSIGN: return x / (1.f + fabsf(x));
    default: return x;
    }
}

HD float binary_op(int op, float a, float b)
{
    switch (op) {
    case CU_ADD: return a + b;
    case CU_SUB: return a - b;
    case CU_MUL: return a * b;
    case CU_DIV: return a / b;
    case CU_POW: return b == 2.f ? a * a : b == 0.5f ? sqrtf(a) : powf(a, b);
    case CU_MAX: return a != a || b != b ? a + b : fmaxf(a, b); /* NaN propagates */
    case CU_MIN: return a != a || b != b ? a + b : fminf(a, b);
    case CU_PRELU: return a >= 0.f ? a : a * b;
    case CU_EQ: return a == b;
    case CU_LT: return a < b;
    default: return a > b;
    }
}

HD void b_binary(int64_t i, int op, bool contig, bool boolout, const cu_walk &w,
                 const float *a, const float *b, void *y)
{
    int64_t oa = i, ob = i, oc;
    if (!contig) walk_offsets(w, i, &oa, &ob, &oc);
    float r = binary_op(op, a[oa], b[ob]);
    if (boolout) ((uint8_t *)y)[i] = r != 0.f;
    else ((float *)y)[i] = r;
}

HD void b_where(int64_t i, const cu_walk &w, const uint8_t *cond, const uint32_t *x,
                const uint32_t *z, uint32_t *y)
{
    int64_t oc, ox, oz;
    walk_offsets(w, i, &oc, &ox, &oz);
    y[i] = cond[oc] ? x[ox] : z[oz];
}

struct epi {
    int npost;
    int kinds[4];
    float lo[4], hi[4];
    const float *addend[4];
    int64_t amod[4];
};

HD void b_epilogue(int64_t i, float *y, const float *bias, int64_t inner, int64_t channels,
                   const epi &e)
{
    float v = y[i];
    if (bias) v += bias[(i / inner) % channels];
    for (int k = 0; k < e.npost; k++) {
        if (e.kinds[k] == 1) v = v > 0.f ? v : 0.f;
        else if (e.kinds[k] == 2) v = fminf(fmaxf(v, e.lo[k]), e.hi[k]);
        else v += e.addend[k][i % e.amod[k]];
    }
    y[i] = v;
}

struct rsz {
    int64_t ih, iw, oh, ow;
    const int32_t *y0, *y1, *x0, *x1;
    const float *wy, *wx;
    int linear;
};

HD void b_resize(int64_t i, const rsz &r, const float *x, float *y)
{
    int64_t ox = i % r.ow, t = i / r.ow, oy = t % r.oh, p = t / r.oh;
    const float *plane = x + p * r.ih * r.iw;
    const float *r0 = plane + (int64_t)r.y0[oy] * r.iw;
    if (!r.linear) {
        y[i] = r0[r.x0[ox]];
        return;
    }
    const float *r1 = plane + (int64_t)r.y1[oy] * r.iw;
    float a0 = r0[r.x0[ox]], a1 = r0[r.x1[ox]], b0 = r1[r.x0[ox]], b1 = r1[r.x1[ox]];
    float top = a0 + r.wx[ox] * (a1 - a0), bot = b0 + r.wx[ox] * (b1 - b0);
    y[i] = top + r.wy[oy] * (bot - top);
}

HD void b_reduce(int64_t i, int op, int64_t r, int64_t inner, const float *x, float *y)
{
    int64_t o = i / inner, in = i - o * inner;
    const float *p = x + o * r * inner + in;
    float acc = op == CU_RMAX ? -INFINITY : op == CU_RMIN ? INFINITY : 0.f;
    for (int64_t j = 0; j < r; j++) {
        float v = p[j * inner];
        acc = op == CU_RMAX ? fmaxf(acc, v) : op == CU_RMIN ? fminf(acc, v) : acc + v;
    }
    y[i] = op == CU_RMEAN ? acc / (float)r : acc;
}

template <typename T>
HD void b_gather(int64_t i, int64_t nidx, int64_t axis_len, int64_t inner, const void *idx,
                 int is64, const T *data, T *y)
{
    int64_t in = i % inner, t = i / inner, j = t % nidx, o = t / nidx;
    int64_t k = is64 ? ((const int64_t *)idx)[j] : ((const int32_t *)idx)[j];
    if (k < 0) k += axis_len;
    /* an index out of range reads element 0 rather than stray memory */
    if (k < 0 || k >= axis_len) k = 0;
    y[i] = data[(o * axis_len + k) * inner + in];
}

/* xw.dims: x's dims; xw.sa: begin pads */
HD void b_pad(int64_t i, const cu_walk &w, const cu_walk &xw, int mode, float value,
              const float *x, float *y)
{
    int64_t t = i, off = 0, stride = 1;
    bool outside = false;
    for (int d = w.nd - 1; d >= 0; d--) {
        int64_t c = t % w.dims[d];
        t /= w.dims[d];
        int64_t s = c - xw.sa[d], len = xw.dims[d];
        if (s < 0 || s >= len) {
            if (mode == CU_PAD_CONST) outside = true;
            else if (mode == CU_PAD_EDGE) s = s < 0 ? 0 : len - 1;
            else if (len == 1) s = 0;
            else {
                int64_t period = 2 * (len - 1);
                s = s < 0 ? -s : s;
                s %= period;
                if (s >= len) s = period - s;
            }
        }
        off += s * stride;
        stride *= len;
    }
    y[i] = outside ? value : x[off];
}

template <typename T>
HD void b_tile(int64_t i, const cu_walk &w, const cu_walk &xw, const T *x, T *y)
{
    int64_t t = i, off = 0, stride = 1;
    for (int d = w.nd - 1; d >= 0; d--) {
        int64_t c = t % w.dims[d];
        t /= w.dims[d];
        off += (c % xw.dims[d]) * stride;
        stride *= xw.dims[d];
    }
    y[i] = x[off];
}

HD double load_as(int t, const void *x, int64_t i)
{
    switch (t) {
    case DI_DT_FLOAT: return ((const float *)x)[i];
    case DI_DT_UINT8: case DI_DT_BOOL: return ((const uint8_t *)x)[i];
    case DI_DT_INT8: return ((const int8_t *)x)[i];
    case DI_DT_INT32: return ((const int32_t *)x)[i];
    case DI_DT_DOUBLE: return ((const double *)x)[i];
    default: return (double)((const int64_t *)x)[i];
    }
}

HD void b_cast(int64_t i, int from, int to, const void *x, void *y)
{
    double v = load_as(from, x, i);
    switch (to) {
    case DI_DT_FLOAT: ((float *)y)[i] = (float)v; break;
    case DI_DT_BOOL: ((uint8_t *)y)[i] = v != 0; break;
    case DI_DT_UINT8: ((uint8_t *)y)[i] = (uint8_t)(int64_t)v; break;
    case DI_DT_INT8: ((int8_t *)y)[i] = (int8_t)(int64_t)v; break;
    case DI_DT_INT32: ((int32_t *)y)[i] = (int32_t)v; break;
    case DI_DT_DOUBLE: ((double *)y)[i] = v; break;
    default: ((int64_t *)y)[i] = (int64_t)v; break;
    }
}

/* ---- kernels: a grid-stride loop around a body ---- */

template <typename T>
__global__ void k_copy(cu_walk w, int64_t n, const T *src, T *dst)
{
    GRID_LOOP(i, n) b_copy<T>(i, w, src, dst);
}

__global__ void k_unary(int op, int64_t n, float a, float b, const float *x, float *y)
{
    GRID_LOOP(i, n) y[i] = unary_op(op, x[i], a, b);
}

template <bool CONTIG, bool BOOLOUT>
__global__ void k_binary(int op, cu_walk w, int64_t n, const float *a, const float *b, void *y)
{
    GRID_LOOP(i, n) b_binary(i, op, CONTIG, BOOLOUT, w, a, b, y);
}

__global__ void k_where(cu_walk w, int64_t n, const uint8_t *cond, const uint32_t *x,
                        const uint32_t *z, uint32_t *y)
{
    GRID_LOOP(i, n) b_where(i, w, cond, x, z, y);
}

__global__ void k_epilogue(int64_t n, float *y, const float *bias, int64_t inner,
                           int64_t channels, epi e)
{
    GRID_LOOP(i, n) b_epilogue(i, y, bias, inner, channels, e);
}

__global__ void k_resize(int64_t n, rsz r, const float *x, float *y)
{
    GRID_LOOP(i, n) b_resize(i, r, x, y);
}

/* Block-wide sum or max of v; every thread gets the result. */
__device__ float block_reduce(float v, bool is_max)
{
    __shared__ float sh[32];
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads(); /* sh may still be read from a previous call */
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    int nw = (blockDim.x + 31) >> 5;
    v = lane < nw ? sh[lane] : (is_max ? -INFINITY : 0.f);
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
    return v;
}

__global__ void k_softmax(int64_t len, int logsoft, const float *x, float *y)
{
    const float *r = x + (int64_t)blockIdx.x * len;
    float *o = y + (int64_t)blockIdx.x * len;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) m = fmaxf(m, r[j]);
    m = block_reduce(m, true);
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += expf(r[j] - m);
    s = block_reduce(s, false);
    if (logsoft) {
        float ls = logf(s);
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) o[j] = r[j] - m - ls;
    } else {
        float inv = 1.f / s;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) o[j] = expf(r[j] - m) * inv;
    }
}

/* the host twin of k_softmax: the same arithmetic, one row at a time */
void h_softmax(int64_t rows, int64_t len, int logsoft, const float *x, float *y)
{
    for (int64_t row = 0; row < rows; row++) {
        const float *r = x + row * len;
        float *o = y + row * len;
        float m = -INFINITY, s = 0.f;
        for (int64_t j = 0; j < len; j++) m = fmaxf(m, r[j]);
        for (int64_t j = 0; j < len; j++) s += expf(r[j] - m);
        float ls = logf(s), inv = 1.f / s;
        for (int64_t j = 0; j < len; j++) o[j] = logsoft ? r[j] - m - ls : expf(r[j] - m) * inv;
    }
}

__global__ void k_layernorm(int64_t len, float eps, const float *x, const float *scale,
                            const float *bias, float *y, float *mo, float *io)
{
    const float *r = x + (int64_t)blockIdx.x * len;
    float *o = y + (int64_t)blockIdx.x * len;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += r[j];
    float mean = block_reduce(s, false) / (float)len;
    float v = 0.f;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
        float d = r[j] - mean;
        v += d * d;
    }
    float inv = rsqrtf(block_reduce(v, false) / (float)len + eps);
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
        o[j] = (r[j] - mean) * inv * scale[j] + (bias ? bias[j] : 0.f);
    if (threadIdx.x == 0 && mo) mo[blockIdx.x] = mean;
    if (threadIdx.x == 0 && io) io[blockIdx.x] = inv;
}

void h_layernorm(int64_t rows, int64_t len, float eps, const float *x, const float *scale,
                 const float *bias, float *y, float *mo, float *io)
{
    for (int64_t row = 0; row < rows; row++) {
        const float *r = x + row * len;
        float *o = y + row * len;
        float s = 0.f, v = 0.f;
        for (int64_t j = 0; j < len; j++) s += r[j];
        float mean = s / (float)len;
        for (int64_t j = 0; j < len; j++) v += (r[j] - mean) * (r[j] - mean);
        float inv = 1.f / sqrtf(v / (float)len + eps);
        for (int64_t j = 0; j < len; j++) o[j] = (r[j] - mean) * inv * scale[j] + (bias ? bias[j] : 0.f);
        if (mo) mo[row] = mean;
        if (io) io[row] = inv;
    }
}

__global__ void k_reduce(int op, int64_t n, int64_t r, int64_t inner, const float *x, float *y)
{
    GRID_LOOP(i, n) b_reduce(i, op, r, inner, x, y);
}

template <typename T>
__global__ void k_gather(int64_t n, int64_t nidx, int64_t axis_len, int64_t inner,
                         const void *idx, int is64, const T *data, T *y)
{
    GRID_LOOP(i, n) b_gather<T>(i, nidx, axis_len, inner, idx, is64, data, y);
}

__global__ void k_pad(cu_walk w, int64_t n, cu_walk xw, int mode, float value,
                      const float *x, float *y)
{
    GRID_LOOP(i, n) b_pad(i, w, xw, mode, value, x, y);
}

template <typename T>
__global__ void k_tile(cu_walk w, int64_t n, cu_walk xw, const T *x, T *y)
{
    GRID_LOOP(i, n) b_tile<T>(i, w, xw, x, y);
}

__global__ void k_cast(int64_t n, int from, int to, const void *x, void *y)
{
    GRID_LOOP(i, n) b_cast(i, from, to, x, y);
}

struct bn {
    int64_t inner, channels;
    float eps;
    const float *scale, *bias, *mean, *var;
};

HD void b_batchnorm(int64_t i, const bn &p, const float *x, float *y)
{
    int64_t c = (i / p.inner) % p.channels;
    y[i] = (x[i] - p.mean[c]) / sqrtf(p.var[c] + p.eps) * p.scale[c] + p.bias[c];
}

__global__ void k_batchnorm(int64_t n, bn p, const float *x, float *y)
{
    GRID_LOOP(i, n) b_batchnorm(i, p, x, y);
}

int launched()
{
    return (int)cudaGetLastError();
}

} // namespace

extern "C" void cu_set_host_mode(int on)
{
    host_mode = on != 0;
}

extern "C" int cu_host_mode(void)
{
    return host_mode;
}

template <typename T>
int copy_t(cudaStream_t st, const cu_walk *w, int64_t n, const void *src, int64_t soff,
           void *dst, int64_t doff)
{
    const T *s = (const T *)src + soff;
    T *d = (T *)dst + doff;
    HOST_LOOP(n, [&](int64_t i) { b_copy<T>(i, *w, s, d); });
    k_copy<T><<<blocks_for(n), THREADS, 0, st>>>(*w, n, s, d);
    return launched();
}

extern "C" int cu_copy(cudaStream_t st, const cu_walk *w, const void *src, int64_t soff,
                       void *dst, int64_t doff, int esize)
{
    int64_t n = walk_count(w);
    if (n == 0) return 0;
    switch (esize) {
    case 1: return copy_t<uint8_t>(st, w, n, src, soff, dst, doff);
    case 2: return copy_t<uint16_t>(st, w, n, src, soff, dst, doff);
    case 4: return copy_t<uint32_t>(st, w, n, src, soff, dst, doff);
    case 8: return copy_t<uint64_t>(st, w, n, src, soff, dst, doff);
    default: return (int)cudaErrorInvalidValue;
    }
}

extern "C" int cu_unary(cudaStream_t st, int op, int64_t n, float a, float b,
                        const float *x, float *y)
{
    if (n == 0) return 0;
    HOST_LOOP(n, [&](int64_t i) { y[i] = unary_op(op, x[i], a, b); });
    k_unary<<<blocks_for(n), THREADS, 0, st>>>(op, n, a, b, x, y);
    return launched();
}

extern "C" int cu_binary(cudaStream_t st, int op, const cu_walk *w, int contiguous,
                         const float *a, const float *b, void *y)
{
    int64_t n = walk_count(w);
    if (n == 0) return 0;
    unsigned g = blocks_for(n);
    bool boolout = op >= CU_EQ;
    HOST_LOOP(n, [&](int64_t i) { b_binary(i, op, contiguous != 0, boolout, *w, a, b, y); });
    if (contiguous && boolout) k_binary<true, true><<<g, THREADS, 0, st>>>(op, *w, n, a, b, y);
    else if (contiguous) k_binary<true, false><<<g, THREADS, 0, st>>>(op, *w, n, a, b, y);
    else if (boolout) k_binary<false, true><<<g, THREADS, 0, st>>>(op, *w, n, a, b, y);
    else k_binary<false, false><<<g, THREADS, 0, st>>>(op, *w, n, a, b, y);
    return launched();
}

extern "C" int cu_where(cudaStream_t st, const cu_walk *w, const uint8_t *cond,
                        const void *x, const void *z, void *y)
{
    int64_t n = walk_count(w);
    if (n == 0) return 0;
    const uint32_t *xx = (const uint32_t *)x, *zz = (const uint32_t *)z;
    uint32_t *yy = (uint32_t *)y;
    HOST_LOOP(n, [&](int64_t i) { b_where(i, *w, cond, xx, zz, yy); });
    k_where<<<blocks_for(n), THREADS, 0, st>>>(*w, n, cond, xx, zz, yy);
    return launched();
}

extern "C" int cu_epilogue(cudaStream_t st, int64_t n, float *y, const float *bias,
                           int64_t inner, int64_t channels, int npost, const int *kinds,
                           const float *lo, const float *hi, const float *const *addend,
                           const int64_t *amod)
{
    if (n == 0) return 0;
    epi e = {};
    e.npost = npost > 4 ? 4 : npost;
    for (int k = 0; k < e.npost; k++) {
        e.kinds[k] = kinds[k];
        e.lo[k] = lo[k];
        e.hi[k] = hi[k];
        e.addend[k] = addend[k];
        e.amod[k] = amod[k] > 0 ? amod[k] : 1;
    }
    int64_t in = inner > 0 ? inner : 1, ch = channels > 0 ? channels : 1;
    HOST_LOOP(n, [&](int64_t i) { b_epilogue(i, y, bias, in, ch, e); });
    k_epilogue<<<blocks_for(n), THREADS, 0, st>>>(n, y, bias, in, ch, e);
    return launched();
}

extern "C" int cu_resize(cudaStream_t st, int64_t planes, int64_t ih, int64_t iw,
                         int64_t oh, int64_t ow, const int32_t *y0, const int32_t *y1,
                         const float *wy, const int32_t *x0, const int32_t *x1,
                         const float *wx, int linear, const float *x, float *y)
{
    int64_t n = planes * oh * ow;
    if (n == 0) return 0;
    rsz r = {ih, iw, oh, ow, y0, y1, x0, x1, wy, wx, linear};
    HOST_LOOP(n, [&](int64_t i) { b_resize(i, r, x, y); });
    k_resize<<<blocks_for(n), THREADS, 0, st>>>(n, r, x, y);
    return launched();
}

extern "C" int cu_softmax(cudaStream_t st, int64_t rows, int64_t len, int logsoft,
                          const float *x, float *y)
{
    if (rows == 0 || len == 0) return 0;
    if (host_mode) {
        h_softmax(rows, len, logsoft, x, y);
        return 0;
    }
    if (rows > 0x7fffffffLL) return (int)cudaErrorInvalidValue;
    k_softmax<<<(unsigned)rows, THREADS, 0, st>>>(len, logsoft, x, y);
    return launched();
}

extern "C" int cu_layernorm(cudaStream_t st, int64_t rows, int64_t len, float eps,
                            const float *x, const float *scale, const float *bias,
                            float *y, float *mean, float *invstd)
{
    if (rows == 0 || len == 0) return 0;
    if (host_mode) {
        h_layernorm(rows, len, eps, x, scale, bias, y, mean, invstd);
        return 0;
    }
    if (rows > 0x7fffffffLL) return (int)cudaErrorInvalidValue;
    k_layernorm<<<(unsigned)rows, THREADS, 0, st>>>(len, eps, x, scale, bias, y, mean, invstd);
    return launched();
}

extern "C" int cu_reduce(cudaStream_t st, int op, int64_t outer, int64_t r,
                         int64_t inner, const float *x, float *y)
{
    int64_t n = outer * inner;
    if (n == 0) return 0;
    HOST_LOOP(n, [&](int64_t i) { b_reduce(i, op, r, inner, x, y); });
    k_reduce<<<blocks_for(n), THREADS, 0, st>>>(op, n, r, inner, x, y);
    return launched();
}

template <typename T>
int gather_t(cudaStream_t st, int64_t n, int64_t nidx, int64_t axis_len, int64_t inner,
             const void *idx, int is64, const void *data, void *y)
{
    const T *d = (const T *)data;
    T *yy = (T *)y;
    HOST_LOOP(n, [&](int64_t i) { b_gather<T>(i, nidx, axis_len, inner, idx, is64, d, yy); });
    k_gather<T><<<blocks_for(n), THREADS, 0, st>>>(n, nidx, axis_len, inner, idx, is64, d, yy);
    return launched();
}

extern "C" int cu_gather(cudaStream_t st, int64_t outer, int64_t axis_len, int64_t inner,
                         const void *idx, int idx_is64, int64_t nidx, const void *data,
                         void *y, int esize)
{
    int64_t n = outer * nidx * inner;
    if (n == 0) return 0;
    switch (esize) {
    case 1: return gather_t<uint8_t>(st, n, nidx, axis_len, inner, idx, idx_is64, data, y);
    case 4: return gather_t<uint32_t>(st, n, nidx, axis_len, inner, idx, idx_is64, data, y);
    case 8: return gather_t<uint64_t>(st, n, nidx, axis_len, inner, idx, idx_is64, data, y);
    default: return (int)cudaErrorInvalidValue;
    }
}

extern "C" int cu_pad(cudaStream_t st, const cu_walk *w, const int64_t *xdims,
                      const int64_t *pb, int mode, float value, const float *x, float *y)
{
    int64_t n = walk_count(w);
    if (n == 0) return 0;
    cu_walk xw = {};
    xw.nd = w->nd;
    for (int d = 0; d < w->nd; d++) {
        xw.dims[d] = xdims[d];
        xw.sa[d] = pb[d];
    }
    HOST_LOOP(n, [&](int64_t i) { b_pad(i, *w, xw, mode, value, x, y); });
    k_pad<<<blocks_for(n), THREADS, 0, st>>>(*w, n, xw, mode, value, x, y);
    return launched();
}

template <typename T>
int tile_t(cudaStream_t st, const cu_walk *w, int64_t n, const cu_walk &xw, const void *x, void *y)
{
    const T *xx = (const T *)x;
    T *yy = (T *)y;
    HOST_LOOP(n, [&](int64_t i) { b_tile<T>(i, *w, xw, xx, yy); });
    k_tile<T><<<blocks_for(n), THREADS, 0, st>>>(*w, n, xw, xx, yy);
    return launched();
}

extern "C" int cu_tile(cudaStream_t st, const cu_walk *w, const int64_t *xdims,
                       const void *x, void *y, int esize)
{
    int64_t n = walk_count(w);
    if (n == 0) return 0;
    cu_walk xw = {};
    xw.nd = w->nd;
    for (int d = 0; d < w->nd; d++) xw.dims[d] = xdims[d];
    switch (esize) {
    case 1: return tile_t<uint8_t>(st, w, n, xw, x, y);
    case 4: return tile_t<uint32_t>(st, w, n, xw, x, y);
    case 8: return tile_t<uint64_t>(st, w, n, xw, x, y);
    default: return (int)cudaErrorInvalidValue;
    }
}

extern "C" int cu_cast(cudaStream_t st, int64_t n, int from, int to, const void *x, void *y)
{
    if (n == 0) return 0;
    HOST_LOOP(n, [&](int64_t i) { b_cast(i, from, to, x, y); });
    k_cast<<<blocks_for(n), THREADS, 0, st>>>(n, from, to, x, y);
    return launched();
}

extern "C" int cu_batchnorm(cudaStream_t st, int64_t n, int64_t inner, int64_t channels,
                            float eps, const float *scale, const float *bias,
                            const float *mean, const float *var, const float *x, float *y)
{
    if (n == 0) return 0;
    bn p = {inner > 0 ? inner : 1, channels > 0 ? channels : 1, eps, scale, bias, mean, var};
    HOST_LOOP(n, [&](int64_t i) { b_batchnorm(i, p, x, y); });
    k_batchnorm<<<blocks_for(n), THREADS, 0, st>>>(n, p, x, y);
    return launched();
}
