/* modelio.c: what a model expects and gives, between the face and the score:
** the keep-aspect input size of a face (Depth Anything's preprocessor) and
** metric depth turned into the relative inverse depth the score is defined
** on. Pure functions, shared by the decode and post stages and their tests. */
#include "pipeline.h"

#include <math.h>

int di_depth_to_inverse(const float *in, float *out, size_t n, di_error *err)
{
    /* m: the nearest real depth. A zero or negative one is no distance at
    ** all (a sigmoid head underflows to 0 for the nearest pixels): it gets
    ** m, the nearest the map has, rather than an infinite 1/d that would
    ** squash every other pixel into one 8-bit level. */
    float m = INFINITY;
    for (size_t i = 0; i < n; i++)
        if (in[i] > 0 && in[i] < m)
            m = in[i];
    if (!(m < INFINITY))
        return di_fail(err, DI_EFORMAT,
                       "--output depth: no positive finite depth in the map (every value is "
                       "zero, negative or not finite)");
    for (size_t i = 0; i < n; i++) {
        float d = in[i];
        /* m / d, not 1 / d: in (0, 1] for every finite d >= m, so that no
        ** tiny depth can overflow; the scale is lost anyway in the score's
        ** min-max step */
        out[i] = isfinite(d) ? m / (d > m ? d : m) : d;
    }
    return DI_OK;
}

/* NumPy's round (half to even) of x / m, times m: Depth Anything's
** constrain_to_multiple_of, with its bounds. */
static int multiple_of(double x, int m, int min_val, int max_val)
{
    int y = (int)nearbyint(x / m) * m;
    if (max_val > 0 && y > max_val)
        y = (int)floor(x / m) * m;
    if (y < min_val)
        y = (int)ceil(x / m) * m;
    return y < m ? m : y;
}

void di_pipeline_keep_aspect_size(int fw, int fh, int W, int H, int patch, int *w, int *h)
{
    if (patch < 1)
        patch = 1;
    double sw = (double)W / fw, sh = (double)H / fh;
    /* lower_bound: the larger scale for both sides, so that each reaches
    ** the target */
    double s = sw > sh ? sw : sh;
    int nw = multiple_of(s * fw, patch, W, 0), nh = multiple_of(s * fh, patch, H, 0);
    if (nw > 2 * W || nh > 2 * H) {
        /* too elongated: the long side at twice the target at most (the
        ** buffers are sized for that), aspect still kept */
        s = 2.0 * W / fw < 2.0 * H / fh ? 2.0 * W / fw : 2.0 * H / fh;
        nw = multiple_of(s * fw, patch, 0, 2 * W);
        nh = multiple_of(s * fh, patch, 0, 2 * H);
    }
    *w = nw;
    *h = nh;
}
