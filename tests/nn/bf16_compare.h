/*
** bf16_compare.h: a model in an fp32 and a bf16 session on one input, for
** the tests of bf16 on the CPU (test_bf16.c, test_bf16_act.c): the outputs,
** each plan's precision changes per run and the max difference against the
** fp32 output's range. Needs check.h, engine.h and nn/nn.h first.
*/
#ifndef DI_TEST_BF16_COMPARE_H
#define DI_TEST_BF16_COMPARE_H

#include <math.h>

/* The plan's conversions at batch 1; -1 and -1 when it cannot be built. */
static void conversions(di_nn_session *s, int *to_f32, int *to_bf16)
{
    di_error err;
    di_nn_io io;
    di_nn_plan *p;
    *to_f32 = *to_bf16 = -1;
    if (di_nn_batch_io(s, 1, &io, &err) || di_nn_get_plan(s, &io, 1, &p, &err)) {
        CHECKF(0, "plan: %s", err.msg);
        return;
    }
    di_nn_plan_bf16_conversions(p, to_f32, to_bf16);
}

/* The model at path on x in an fp32 and a bf16 session (2 threads): outputs
** y32 and y16 (ny values), each session's conversions per run ([0] fp32,
** [1] bf16), the max |bf16 - fp32| and the fp32 output's range. */
static void run_fp32_bf16(const char *path, const float *x, int ny, float *y32, float *y16, int f32[2],
                          int b16[2], double *md, double *lo, double *hi)
{
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 2;
    di_error err;
    for (int prec = 0; prec < 2; prec++) {
        opt.precision = prec ? DI_NN_BF16 : DI_NN_FP32;
        di_nn_session *s = NULL;
        CHECKF(di_nn_session_create(path, &opt, &s, &err) == 0, "%s", err.msg);
        CHECKF(s && di_nn_run(s, x, 1, prec ? y16 : y32, (size_t)ny, &err) == 0, "%s", s ? err.msg : "no session");
        if (s) conversions(s, &f32[prec], &b16[prec]);
        di_nn_session_destroy(s);
    }
    *md = 0;
    *lo = *hi = y32[0];
    for (int i = 0; i < ny; i++) {
        *lo = fmin(*lo, y32[i]);
        *hi = fmax(*hi, y32[i]);
        double d = fabs((double)y16[i] - y32[i]);
        if (!(d <= *md)) *md = d;
    }
}

#endif
