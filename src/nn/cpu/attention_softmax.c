/*
** attention_softmax.c: the fused attention's softmax of a tile's scores
** (ops_attention.c) on AVX-512 (F, BW, VL), chosen at run time; other CPUs run oneDNN's
** softmax primitive.
**
** Two passes over a row of S in L2 (oneDNN's takes three): its maximum,
** then e = exp(s - max) written back (or rounded to bf16 into P) and
** summed. The division by the sum moves after the second product: O's row
** (dv values) is scaled by 1 / sum instead of S's row (Tk values), the same
** result to float32 rounding. The exponential is Cephes' expf (a degree-5
** polynomial on [-ln 2 / 2, ln 2 / 2] and scalef by the power of two:
** relative error about 1e-7), 16 lanes at a time.
*/
#include <math.h>
#include <string.h>

#include "attention.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ATT_AVX512 1
#endif

#ifdef ATT_AVX512
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

AVX512 static inline __m512 exp16(__m512 x)
{
    /* below -104 exp is 0 in float32 (scalef underflows); -inf stays finite */
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.f)));
    return _mm512_scalef_ps(y, n);
}

/* 16 floats rounded to bf16, to nearest even (the values are exponentials:
** no NaN to keep), as oneDNN rounds */
AVX512 static inline __m256i bf16x16(__m512 v)
{
    __m512i u = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    u = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(u, 16));
}

AVX512 static void softmax_rows_avx512(float *s, int64_t m, int64_t n, uint16_t *p, float *inv)
{
    __mmask16 tail = (__mmask16)((1u << (n % 16)) - 1);
    int64_t full = n / 16 * 16;
    for (int64_t r = 0; r < m; r++) {
        float *x = s + r * n;
        uint16_t *y = p ? p + r * n : NULL;
        __m512 mx0 = _mm512_set1_ps(-INFINITY), mx1 = mx0;
        int64_t j = 0;
        for (; j + 32 <= full; j += 32) {
            mx0 = _mm512_max_ps(mx0, _mm512_loadu_ps(x + j));
            mx1 = _mm512_max_ps(mx1, _mm512_loadu_ps(x + j + 16));
        }
        for (; j < full; j += 16)
            mx0 = _mm512_max_ps(mx0, _mm512_loadu_ps(x + j));
        if (tail)
            mx1 = _mm512_max_ps(mx1, _mm512_mask_loadu_ps(mx1, tail, x + full));
        __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(mx0, mx1)));
        __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
        for (j = 0; j + 32 <= full; j += 32) {
            __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), mx));
            __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), mx));
            sum0 = _mm512_add_ps(sum0, e0);
            sum1 = _mm512_add_ps(sum1, e1);
            if (y) {
                _mm256_storeu_si256((__m256i *)(y + j), bf16x16(e0));
                _mm256_storeu_si256((__m256i *)(y + j + 16), bf16x16(e1));
            } else {
                _mm512_storeu_ps(x + j, e0);
                _mm512_storeu_ps(x + j + 16, e1);
            }
        }
        for (; j < full; j += 16) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), mx));
            sum0 = _mm512_add_ps(sum0, e);
            if (y)
                _mm256_storeu_si256((__m256i *)(y + j), bf16x16(e));
            else
                _mm512_storeu_ps(x + j, e);
        }
        if (tail) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + full), mx));
            sum1 = _mm512_mask_add_ps(sum1, tail, sum1, e);
            if (y)
                _mm256_mask_storeu_epi16(y + full, tail, bf16x16(e));
            else
                _mm512_mask_storeu_ps(x + full, tail, e);
        }
        inv[r] = 1.f / _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
    }
}
#endif

bool di_nn_att_softmax_native(void)
{
#ifdef ATT_AVX512
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

void di_nn_att_softmax_rows(float *s, int64_t m, int64_t n, uint16_t *p, float *inv)
{
#ifdef ATT_AVX512
    softmax_rows_avx512(s, m, n, p, inv);
#else
    (void)s, (void)m, (void)n, (void)p, (void)inv;
#endif
}

void di_nn_att_scale_rows(float *o, int64_t m, int64_t dv, const float *inv)
{
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < dv; j++)
            o[r * dv + j] *= inv[r];
}
