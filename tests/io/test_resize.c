/*
** test_resize.c: the resizer's two paths agree bit for bit: the separable
** path (row buffers) that normally runs, and the allocation-free direct path
** taken when memory is short. The direct path is compiled here from the same
** source with malloc failing. (Agreement with cv2.resize is checked by
** test_io_oracle.py.)
*/
#include "check.h"
#include "imgproc/imgproc.h"

#include <stdlib.h>
#include <string.h>

#define di_resize_bilinear_f32 direct_resize_f32
#define di_resize_bilinear_u8 direct_resize_u8
#define di_resize_scratch_size direct_scratch_size
#define di_resize_bilinear_f32_scratch direct_f32_scratch
#define di_resize_bilinear_u8_scratch direct_u8_scratch
#define di_resize_rows_begin direct_rows_begin
#define di_resize_rows_get direct_rows_get
#define malloc(n) ((void *)0)
#include "../../src/imgproc/resize.c"
#undef malloc
#undef di_resize_bilinear_f32
#undef di_resize_bilinear_u8
#undef di_resize_scratch_size
#undef di_resize_bilinear_f32_scratch
#undef di_resize_bilinear_u8_scratch
#undef di_resize_rows_begin
#undef di_resize_rows_get

int main(void)
{
    /* ... and doubling, which has its own horizontal loop (the model output
    ** at half the face's size): widths 2 (too small for it), 3, 4, odd and
    ** even, with and without vertical doubling. */
    const int sizes[][4] = {{256, 256, 2048, 1031}, {37, 100, 71, 33}, {1, 1, 5, 3},
                            {640, 480, 201, 199}, {9, 7, 1, 1}, {1300, 5, 600, 9},
                            {256, 256, 512, 512}, {2, 5, 4, 10}, {3, 3, 6, 6},
                            {4, 9, 8, 9}, {37, 21, 74, 42}, {518, 3, 1036, 17}};
    srand(7);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int sw = sizes[k][0], sh = sizes[k][1], dw = sizes[k][2], dh = sizes[k][3];
        size_t sn = (size_t)sw * sh, dn = (size_t)dw * dh;
        float *s = malloc(sn * sizeof(float)), *a = malloc(dn * sizeof(float)),
              *b = malloc(dn * sizeof(float));
        uint8_t *s8 = malloc(sn * 3), *a8 = malloc(dn * 3), *b8 = malloc(dn * 3);
        for (size_t i = 0; i < sn; i++)
            s[i] = (float)(rand() % 100000) / 37.0f;
        for (size_t i = 0; i < sn * 3; i++)
            s8[i] = (uint8_t)rand();
        di_resize_bilinear_f32(s, sw, sh, a, dw, dh);
        direct_resize_f32(s, sw, sh, b, dw, dh);
        CHECKF(memcmp(a, b, dn * sizeof(float)) == 0, "f32 %dx%d -> %dx%d", sw, sh, dw, dh);
        di_resize_bilinear_u8(s8, sw, sh, 3, a8, dw, dh);
        direct_resize_u8(s8, sw, sh, 3, b8, dw, dh);
        CHECKF(memcmp(a8, b8, dn * 3) == 0, "u8 %dx%d -> %dx%d", sw, sh, dw, dh);
        /* The caller-scratch versions give the same bytes. */
        void *scratch = malloc(di_resize_scratch_size(dw, 3));
        di_resize_bilinear_f32_scratch(s, sw, sh, b, dw, dh, scratch);
        CHECK(memcmp(a, b, dn * sizeof(float)) == 0);
        di_resize_bilinear_u8_scratch(s8, sw, sh, 3, b8, dw, dh, scratch);
        CHECK(memcmp(a8, b8, dn * 3) == 0);
        free(scratch);
        /* Row by row (in order, and again backwards, which evicts the
        ** cached source rows every time) gives the same rows. */
        scratch = malloc(di_resize_scratch_size(dw, 1));
        float *row = malloc((size_t)(dw > sw ? dw : sw) * sizeof(float));
        di_resize_rows rr;
        di_resize_rows_begin(&rr, s, sw, sh, dw, dh, scratch);
        int rows_ok = 1;
        for (int y = 0; y < dh; y++) {
            di_resize_rows_get(&rr, y, row);
            rows_ok &= memcmp(row, a + (size_t)y * dw, (size_t)dw * sizeof(float)) == 0;
        }
        for (int y = dh - 1; y >= 0; y--) {
            di_resize_rows_get(&rr, y, row);
            rows_ok &= memcmp(row, a + (size_t)y * dw, (size_t)dw * sizeof(float)) == 0;
        }
        CHECKF(rows_ok, "rows %dx%d -> %dx%d", sw, sh, dw, dh);
        di_resize_rows_begin(&rr, s, sw, sh, sw, sh, scratch); /* identity */
        for (int y = 0; y < sh; y++) {
            di_resize_rows_get(&rr, y, row);
            rows_ok &= memcmp(row, s + (size_t)y * sw, (size_t)sw * sizeof(float)) == 0;
        }
        CHECKF(rows_ok, "identity rows %dx%d", sw, sh);
        free(row);
        free(scratch);
        /* Same size is a copy. */
        float *same = malloc(sn * sizeof(float));
        di_resize_bilinear_f32(s, sw, sh, same, sw, sh);
        CHECK(memcmp(s, same, sn * sizeof(float)) == 0);
        free(same);
        free(s), free(a), free(b), free(s8), free(a8), free(b8);
    }
    /* A constant image stays constant; bounds are never exceeded. */
    float c[12], o[35];
    for (int i = 0; i < 12; i++)
        c[i] = 3.25f;
    di_resize_bilinear_f32(c, 4, 3, o, 7, 5);
    for (int i = 0; i < 35; i++)
        CHECK(o[i] == 3.25f);
    return check_summary();
}
