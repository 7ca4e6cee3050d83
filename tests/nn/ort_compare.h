/*
** ort_compare.h: the check every onnxruntime comparison of tests/nn makes:
** the largest |ours - reference| within tol of the reference's range (a
** NaN anywhere in ours makes it fail), and a range that is not degenerate.
** Prints the figures so that a passing run still shows its margin. And the
** reference itself: onnxruntime's output for a model file and an NPY input.
*/
#ifndef DI_TEST_ORT_COMPARE_H
#define DI_TEST_ORT_COMPARE_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "check.h"
#include "test_files.h"

static void ort_compare(const char *what, const float *y, const float *ref, size_t n, double tol)
{
    float lo = ref[0], hi = ref[0];
    double md = 0;
    for (size_t i = 0; i < n; i++) {
        lo = fminf(lo, ref[i]);
        hi = fmaxf(hi, ref[i]);
        double d = fabs((double)y[i] - ref[i]);
        if (!(d <= md)) md = d; /* NaN sticks */
    }
    double range = (double)hi - lo;
    printf("%s: max |ours - onnxruntime| = %.3g, output range %.4g, ratio %.3g\n", what, md, range,
           md / range);
    CHECKF(range > 1e-3 && isfinite(range), "%s: output range %g", what, range);
    CHECKF(md <= tol * range, "%s differs: %.3g > %g of %.4g", what, md, tol, range);
}

/* onnxruntime's output (tests/nn/ort_run.js, `threads` threads) for the model
** file on the NPY input xin, written to xref and read back: n floats
** (malloc'd), or NULL after a failed check that says which step failed. */
static inline float *ort_reference(const char *src, const char *model, const char *xin,
                                   const char *xref, int threads, size_t n)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "node '%s/tests/nn/ort_run.js' '%s' '%s' '%s' --threads %d", src,
             model, xin, xref, threads);
    int rc = system(cmd);
    CHECKF(rc == 0, "onnxruntime failed: %s", cmd);
    float *ref = rc == 0 ? read_npy(xref, n) : NULL;
    CHECKF(rc != 0 || ref != NULL, "onnxruntime's output %s: missing or not %zu values", xref, n);
    return ref;
}

#endif
