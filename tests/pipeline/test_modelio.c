/*
** test_modelio.c: what `run` does between a face and its score for the
** model's own conventions (src/pipeline/modelio.c): the keep-aspect input
** size (Depth Anything's lower_bound with ensure_multiple_of, NumPy's half
** to even rounding, the 2:1 cap), and metric depth into the inverse depth
** the score is defined on (same 8-bit depth and score as an inverse model's
** output of the scene; zero and negative depths by a rule, never a NaN).
*/
#include "check.h"
#include "pipeline/pipeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void size_case(int fw, int fh, int W, int H, int patch, int want_w, int want_h)
{
    int w = -1, h = -1;
    di_pipeline_keep_aspect_size(fw, fh, W, H, patch, &w, &h);
    CHECKF(w == want_w && h == want_h, "face %dx%d, target %dx%d, patch %d: %dx%d, want %dx%d",
           fw, fh, W, H, patch, w, h, want_w, want_h);
}

/* The values below are Depth Anything's Resize.get_size (lower_bound,
** keep_aspect_ratio, ensure_multiple_of=14) worked out in Python. */
static void test_sizes(void)
{
    size_case(100, 100, 518, 518, 14, 518, 518);   /* square: the target */
    size_case(1920, 1080, 518, 518, 14, 924, 518); /* 920.9 -> 924 */
    size_case(1080, 1920, 518, 518, 14, 518, 924);
    size_case(640, 480, 518, 518, 14, 686, 518);   /* 690.7 -> 686 */
    size_case(665, 518, 518, 518, 14, 672, 518);   /* 47.5 patches: to even, 48 */
    size_case(651, 518, 518, 518, 14, 644, 518);   /* 46.5 patches: to even, 46 */
    size_case(100, 60, 266, 266, 14, 448, 266);
    size_case(100, 100, 266, 392, 14, 392, 392);   /* WxH: both sides reach it */
    size_case(200, 100, 50, 50, 1, 100, 50);       /* no patch */
    /* 2.5:1 would be 672x266: capped at twice the target, aspect kept */
    size_case(100, 40, 266, 266, 14, 532, 210);
    size_case(40, 100, 266, 266, 14, 210, 532);
    size_case(1000, 10, 266, 266, 14, 532, 14);    /* at least one patch */
}

static double score_of(di_feature_ws *ws, const float *d, int w, int h)
{
    di_feature_params p;
    di_feature_params_default(&p);
    di_feature_result r;
    di_error e = {0};
    int rc = di_feature_compute(ws, d, w, h, &p, &r, &e);
    CHECKF(rc == 0, "%s", e.msg);
    return rc ? -1 : r.score;
}

static void test_inverse(void)
{
    di_error e = {0};
    float a[3] = {1, 2, 4};
    CHECK(di_depth_to_inverse(a, a, 3, &e) == 0); /* in place */
    CHECK(a[0] == 1 && a[1] == 0.5f && a[2] == 0.25f);
    /* zero and negative: the nearest depth of the map */
    float b[4] = {0, -1, 2, 4}, bo[4];
    CHECK(di_depth_to_inverse(b, bo, 4, &e) == 0);
    CHECK(bo[0] == 1 && bo[1] == 1 && bo[2] == 1 && bo[3] == 0.5f);
    CHECK(b[0] == 0 && b[1] == -1); /* in is left alone */
    /* tiny depths do not overflow: m / d stays in (0, 1] */
    float c[3] = {1e-40f, 1e30f, 3e38f}, co[3];
    CHECK(di_depth_to_inverse(c, co, 3, &e) == 0);
    CHECK(co[0] == 1 && isfinite(co[1]) && isfinite(co[2]) && co[2] >= 0);
    /* non-finite values stay non-finite (the score refuses them) */
    float d[3] = {NAN, 1, INFINITY}, dout[3];
    CHECK(di_depth_to_inverse(d, dout, 3, &e) == 0);
    CHECK(isnan(dout[0]) && dout[1] == 1 && isinf(dout[2]));
    /* nothing positive: an error naming the option, not NaNs */
    float z[3] = {0, -2, NAN}, zo[3];
    CHECK(di_depth_to_inverse(z, zo, 3, &e) == DI_EFORMAT);
    CHECKF(strstr(e.msg, "--output depth") && strstr(e.msg, "no positive"), "%s", e.msg);

    /* a scene: metric depth from 0.5 to 80 m (a street and two walls) and
    ** what a relative model gives for it (s / d + t); with the conversion
    ** both score the same, without it they do not */
    enum { W = 96, H = 80 };
    float *depth = malloc(sizeof(float) * W * H), *inv = malloc(sizeof(float) * W * H),
          *conv = malloc(sizeof(float) * W * H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double street = 0.5 + 79.5 * pow((double)(H - y) / H, 3);
            double wall = x < 20 ? 3 + 0.2 * x : x > 70 ? 6 + 0.1 * (W - x) : 1e9;
            double dd = street < wall ? street : wall;
            depth[y * W + x] = (float)dd;
            inv[y * W + x] = (float)(3.7 / dd + 0.2);
        }
    di_feature_ws *ws = di_feature_ws_create();
    CHECK(di_depth_to_inverse(depth, conv, (size_t)W * H, &e) == 0);
    double s_inv = score_of(ws, inv, W, H), s_conv = score_of(ws, conv, W, H),
           s_raw = score_of(ws, depth, W, H);
    CHECKF(fabs(s_inv - s_conv) <= 1e-3 * s_inv, "converted metric %.6f, inverse %.6f", s_conv,
           s_inv);
    CHECKF(fabs(s_inv - s_raw) > 0.05 * s_inv, "the raw metric map scores like the inverse "
           "one (%.6f vs %.6f): the scene does not tell the meanings apart", s_raw, s_inv);
    di_feature_ws_destroy(ws);
    free(depth);
    free(inv);
    free(conv);
}

/* Workers of one table must agree on what changes the scores: the output's
** meaning and the resize are in the settings' fingerprint (only when not the
** default, so that runs made before these options keep theirs). */
static void test_fingerprint(void)
{
    di_pipeline_config c;
    di_pipeline_config_default(&c);
    c.depth_dir = "maps";
    char plain[DI_FINGERPRINT_MAX], depth[DI_FINGERPRINT_MAX], keep[DI_FINGERPRINT_MAX];
    di_error e = {0};
    CHECK(di_pipeline_fingerprint(&c, plain, sizeof plain, &e) == 0);
    c.output = DI_OUTPUT_DEPTH;
    CHECK(di_pipeline_fingerprint(&c, depth, sizeof depth, &e) == 0);
    c.output = DI_OUTPUT_INVERSE;
    c.resize = DI_RESIZE_KEEP_ASPECT;
    CHECK(di_pipeline_fingerprint(&c, keep, sizeof keep, &e) == 0);
    CHECKF(!strstr(plain, "output=") && !strstr(plain, "resize="), "%s", plain);
    CHECKF(strstr(depth, ";output=depth") && strcmp(plain, depth), "%s", depth);
    CHECKF(strstr(keep, ";resize=keep-aspect") && strcmp(plain, keep), "%s", keep);
}

int main(void)
{
    test_sizes();
    test_inverse();
    test_fingerprint();
    return check_summary();
}
