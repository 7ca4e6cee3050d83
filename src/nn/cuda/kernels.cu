/*
** kernels.cu: the CUDA backend's own kernels (everything that is not a
** convolution, a pooling or a matrix product, which go to cuDNN and cuBLAS).
** Memory-bound work: grid-stride loops over the output, one element per
** thread and step; rows (Softmax, LayerNormalization) get a block each.
*/
#include <math.h>
#include <stdint.h>

#include "kernels.h"

namespace {

const int THREADS = 256;

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
__device__ __forceinline__ void walk_offsets(const cu_walk &w, int64_t i,
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

template <typename T>
__global__ void k_copy(cu_walk w, int64_t n, const T *src, T *dst)
{
    GRID_LOOP(i, n) {
        int64_t a, b, c;
        walk_offsets(w, i, &a, &b, &c);
        dst[b] = src[a];
    }
}

__device__ __forceinline__ float unary_op(int op, float x, float a, float b)
{
    switch (op) {
    case CU_RELU: return x > 0.f ? x : 0.f;
    case CU_CLIP: return fminf(fmaxf(x, a), b);
    case CU_SIGMOID: return 1.f / (1.f + expf(-x));
    case CU_ERF: return erff(x);
    case CU_GELU: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case CU_GELU_TANH:
        return 0.5f * x * (1.f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case CU_SQRT: return sqrtf(x);
    case CU_EXP: return expf(x);
    case CU_LOG: return logf(x);
    case CU_TANH: return tanhf(x);
    case CU_NEG: return -x;
    case CU_ABS: return fabsf(x);
    case CU_RECIP: return 1.f / x;
    case CU_FLOOR: return floorf(x);
    case CU_CEIL: return ceilf(x);
    case CU_LEAKY: return x >= 0.f ? x : a * x;
    case CU_HARDSIGMOID: return fmaxf(0.f, fminf(1.f, a * x + b));
    case CU_HARDSWISH: return x * fmaxf(0.f, fminf(1.f, x / 6.f + 0.5f));
    case CU_SOFTPLUS: return x > 20.f ? x : log1pf(expf(x));
    case CU_ELU: return x >= 0.f ? x : a * (expf(x) - 1.f);
    case CU_SELU: return x > 0.f ? b * x : b * a * (expf(x) - 1.f);
    case CU_ROUND: return rintf(x); /* half to even, as ONNX */
    case CU_SIGN: return (float)((x > 0.f) - (x < 0.f));
    case CU_SIN: return sinf(x);
    case CU_COS: return cosf(x);
    case CU_SOFTSIGN: return x / (1.f + fabsf(x));
    default: return x;
    }
}

__global__ void k_unary(int op, int64_t n, float a, float b, const float *x, float *y)
{
    GRID_LOOP(i, n) y[i] = unary_op(op, x[i], a, b);
}

__device__ __forceinline__ float binary_op(int op, float a, float b)
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

template <bool CONTIG, bool BOOLOUT>
__global__ void k_binary(int op, cu_walk w, int64_t n, const float *a, const float *b, void *y)
{
    GRID_LOOP(i, n) {
        int64_t oa = i, ob = i, oc;
        if (!CONTIG) walk_offsets(w, i, &oa, &ob, &oc);
        float r = binary_op(op, a[oa], b[ob]);
        if (BOOLOUT) ((uint8_t *)y)[i] = r != 0.f;
        else ((float *)y)[i] = r;
    }
}

__global__ void k_where(cu_walk w, int64_t n, const uint8_t *cond, const uint32_t *x,
                        const uint32_t *z, uint32_t *y)
{
    GRID_LOOP(i, n) {
        int64_t oc, ox, oz;
        walk_offsets(w, i, &oc, &ox, &oz);
        y[i] = cond[oc] ? x[ox] : z[oz];
    }
}

struct epi {
    int npost;
    int kinds[4];
    float lo[4], hi[4];
    const float *addend[4];
    int64_t amod[4];
};

__global__ void k_epilogue(int64_t n, float *y, const float *bias, int64_t inner,
                           int64_t channels, epi e)
{
    GRID_LOOP(i, n) {
        float v = y[i];
        if (bias) v += bias[(i / inner) % channels];
        for (int k = 0; k < e.npost; k++) {
            if (e.kinds[k] == 1) v = v > 0.f ? v : 0.f;
            else if (e.kinds[k] == 2) v = fminf(fmaxf(v, e.lo[k]), e.hi[k]);
            else v += e.addend[k][i % e.amod[k]];
        }
        y[i] = v;
    }
}

__global__ void k_resize(int64_t n, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                         const int32_t *y0, const int32_t *y1, const float *wy,
                         const int32_t *x0, const int32_t *x1, const float *wx,
                         int linear, const float *x, float *y)
{
    GRID_LOOP(i, n) {
        int64_t ox = i % ow, t = i / ow, oy = t % oh, p = t / oh;
        const float *plane = x + p * ih * iw;
        const float *r0 = plane + (int64_t)y0[oy] * iw;
        if (!linear) {
            y[i] = r0[x0[ox]];
            continue;
        }
        const float *r1 = plane + (int64_t)y1[oy] * iw;
        float a0 = r0[x0[ox]], a1 = r0[x1[ox]], b0 = r1[x0[ox]], b1 = r1[x1[ox]];
        float top = a0 + wx[ox] * (a1 - a0), bot = b0 + wx[ox] * (b1 - b0);
        y[i] = top + wy[oy] * (bot - top);
    }
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

__global__ void k_layernorm(int64_t len, float eps, const float *x, const float *scale,
                            const float *bias, float *y)
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
}

__global__ void k_reduce(int op, int64_t n, int64_t r, int64_t inner, const float *x, float *y)
{
    GRID_LOOP(i, n) {
        int64_t o = i / inner, in = i - o * inner;
        const float *p = x + o * r * inner + in;
        float acc = op == CU_RMAX ? -INFINITY : op == CU_RMIN ? INFINITY : 0.f;
        for (int64_t j = 0; j < r; j++) {
            float v = p[j * inner];
            acc = op == CU_RMAX ? fmaxf(acc, v) : op == CU_RMIN ? fminf(acc, v) : acc + v;
        }
        y[i] = op == CU_RMEAN ? acc / (float)r : acc;
    }
}

template <typename T>
__global__ void k_gather(int64_t n, int64_t nidx, int64_t axis_len, int64_t inner,
                         const void *idx, int is64, const T *data, T *y)
{
    GRID_LOOP(i, n) {
        int64_t in = i % inner, t = i / inner, j = t % nidx, o = t / nidx;
        int64_t k = is64 ? ((const int64_t *)idx)[j] : ((const int32_t *)idx)[j];
        if (k < 0) k += axis_len;
        /* an index out of range reads element 0 rather than stray memory */
        if (k < 0 || k >= axis_len) k = 0;
        y[i] = data[(o * axis_len + k) * inner + in];
    }
}

__global__ void k_pad(cu_walk w, int64_t n, cu_walk xw, int mode, float value,
                      const float *x, float *y)
{
    /* xw.dims: x's dims; xw.sa: begin pads */
    GRID_LOOP(i, n) {
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
}

template <typename T>
__global__ void k_tile(cu_walk w, int64_t n, cu_walk xw, const T *x, T *y)
{
    GRID_LOOP(i, n) {
        int64_t t = i, off = 0, stride = 1;
        for (int d = w.nd - 1; d >= 0; d--) {
            int64_t c = t % w.dims[d];
            t /= w.dims[d];
            off += (c % xw.dims[d]) * stride;
            stride *= xw.dims[d];
        }
        y[i] = x[off];
    }
}

__device__ __forceinline__ double load_as(int t, const void *x, int64_t i)
{
    switch (t) {
    case CU_F32: return ((const float *)x)[i];
    case CU_U8: case CU_BOOL: return ((const uint8_t *)x)[i];
    case CU_I8: return ((const int8_t *)x)[i];
    case CU_I32: return ((const int32_t *)x)[i];
    default: return (double)((const int64_t *)x)[i];
    }
}

__global__ void k_cast(int64_t n, int from, int to, const void *x, void *y)
{
    GRID_LOOP(i, n) {
        double v = load_as(from, x, i);
        switch (to) {
        case CU_F32: ((float *)y)[i] = (float)v; break;
        case CU_BOOL: ((uint8_t *)y)[i] = v != 0; break;
        case CU_U8: ((uint8_t *)y)[i] = (uint8_t)(int64_t)v; break;
        case CU_I8: ((int8_t *)y)[i] = (int8_t)(int64_t)v; break;
        case CU_I32: ((int32_t *)y)[i] = (int32_t)v; break;
        default: ((int64_t *)y)[i] = (int64_t)v; break;
        }
    }
}

__global__ void k_affine(int64_t n, int64_t inner, int64_t channels, const float *a,
                         const float *b, const float *x, float *y)
{
    GRID_LOOP(i, n) {
        int64_t c = (i / inner) % channels;
        y[i] = x[i] * a[c] + b[c];
    }
}

int launched()
{
    return (int)cudaGetLastError();
}

} // namespace

extern "C" int cu_copy(cudaStream_t st, const cu_walk *w, const void *src, int64_t soff,
                       void *dst, int64_t doff, int esize)
{
    int64_t n = walk_count(w);
    if (n == 0) return 0;
    unsigned g = blocks_for(n);
    switch (esize) {
    case 1: k_copy<uint8_t><<<g, THREADS, 0, st>>>(*w, n, (const uint8_t *)src + soff, (uint8_t *)dst + doff); break;
    case 2: k_copy<uint16_t><<<g, THREADS, 0, st>>>(*w, n, (const uint16_t *)src + soff, (uint16_t *)dst + doff); break;
    case 4: k_copy<uint32_t><<<g, THREADS, 0, st>>>(*w, n, (const uint32_t *)src + soff, (uint32_t *)dst + doff); break;
    case 8: k_copy<uint64_t><<<g, THREADS, 0, st>>>(*w, n, (const uint64_t *)src + soff, (uint64_t *)dst + doff); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launched();
}

extern "C" int cu_unary(cudaStream_t st, int op, int64_t n, float a, float b,
                        const float *x, float *y)
{
    if (n == 0) return 0;
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
    k_where<<<blocks_for(n), THREADS, 0, st>>>(*w, n, cond, (const uint32_t *)x,
                                                (const uint32_t *)z, (uint32_t *)y);
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
    k_epilogue<<<blocks_for(n), THREADS, 0, st>>>(n, y, bias, inner > 0 ? inner : 1,
                                                 channels > 0 ? channels : 1, e);
    return launched();
}

extern "C" int cu_resize(cudaStream_t st, int64_t planes, int64_t ih, int64_t iw,
                         int64_t oh, int64_t ow, const int32_t *y0, const int32_t *y1,
                         const float *wy, const int32_t *x0, const int32_t *x1,
                         const float *wx, int linear, const float *x, float *y)
{
    int64_t n = planes * oh * ow;
    if (n == 0) return 0;
    k_resize<<<blocks_for(n), THREADS, 0, st>>>(n, ih, iw, oh, ow, y0, y1, wy, x0, x1, wx,
                                               linear, x, y);
    return launched();
}

extern "C" int cu_softmax(cudaStream_t st, int64_t rows, int64_t len, int logsoft,
                          const float *x, float *y)
{
    if (rows == 0 || len == 0) return 0;
    if (rows > 0x7fffffffLL) return (int)cudaErrorInvalidValue;
    k_softmax<<<(unsigned)rows, THREADS, 0, st>>>(len, logsoft, x, y);
    return launched();
}

extern "C" int cu_layernorm(cudaStream_t st, int64_t rows, int64_t len, float eps,
                            const float *x, const float *scale, const float *bias,
                            float *y)
{
    if (rows == 0 || len == 0) return 0;
    if (rows > 0x7fffffffLL) return (int)cudaErrorInvalidValue;
    k_layernorm<<<(unsigned)rows, THREADS, 0, st>>>(len, eps, x, scale, bias, y);
    return launched();
}

extern "C" int cu_reduce(cudaStream_t st, int op, int64_t outer, int64_t r,
                         int64_t inner, const float *x, float *y)
{
    int64_t n = outer * inner;
    if (n == 0) return 0;
    k_reduce<<<blocks_for(n), THREADS, 0, st>>>(op, n, r, inner, x, y);
    return launched();
}

extern "C" int cu_gather(cudaStream_t st, int64_t outer, int64_t axis_len, int64_t inner,
                         const void *idx, int idx_is64, int64_t nidx, const void *data,
                         void *y, int esize)
{
    int64_t n = outer * nidx * inner;
    if (n == 0) return 0;
    unsigned g = blocks_for(n);
    switch (esize) {
    case 1: k_gather<uint8_t><<<g, THREADS, 0, st>>>(n, nidx, axis_len, inner, idx, idx_is64, (const uint8_t *)data, (uint8_t *)y); break;
    case 4: k_gather<uint32_t><<<g, THREADS, 0, st>>>(n, nidx, axis_len, inner, idx, idx_is64, (const uint32_t *)data, (uint32_t *)y); break;
    case 8: k_gather<uint64_t><<<g, THREADS, 0, st>>>(n, nidx, axis_len, inner, idx, idx_is64, (const uint64_t *)data, (uint64_t *)y); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launched();
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
    k_pad<<<blocks_for(n), THREADS, 0, st>>>(*w, n, xw, mode, value, x, y);
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
    unsigned g = blocks_for(n);
    switch (esize) {
    case 1: k_tile<uint8_t><<<g, THREADS, 0, st>>>(*w, n, xw, (const uint8_t *)x, (uint8_t *)y); break;
    case 4: k_tile<uint32_t><<<g, THREADS, 0, st>>>(*w, n, xw, (const uint32_t *)x, (uint32_t *)y); break;
    case 8: k_tile<uint64_t><<<g, THREADS, 0, st>>>(*w, n, xw, (const uint64_t *)x, (uint64_t *)y); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launched();
}

extern "C" int cu_cast(cudaStream_t st, int64_t n, int from, int to, const void *x, void *y)
{
    if (n == 0) return 0;
    k_cast<<<blocks_for(n), THREADS, 0, st>>>(n, from, to, x, y);
    return launched();
}

extern "C" int cu_affine(cudaStream_t st, int64_t n, int64_t inner, int64_t channels,
                         const float *a, const float *b, const float *x, float *y)
{
    if (n == 0) return 0;
    k_affine<<<blocks_for(n), THREADS, 0, st>>>(n, inner > 0 ? inner : 1,
                                               channels > 0 ? channels : 1, a, b, x, y);
    return launched();
}
