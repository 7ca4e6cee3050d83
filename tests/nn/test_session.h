/*
** test_session.h: the engine sessions the nn tests open and run, so that a
** test says only what it checks: a session on a model file or on the bytes
** of one built in memory (onnx_build.h), float32 on 2 threads unless opt
** says otherwise, one run of explicit inputs, and a model run on the first
** 1, 2 .. B images against onnxruntime's outputs. A failure is a failed
** CHECK naming `what` and the engine's message, and NULL or nonzero, so that
** the test goes on to its other cases.
*/
#ifndef DI_TEST_SESSION_H
#define DI_TEST_SESSION_H

#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "nn/engine.h"
#include "ort_compare.h"

/* float32 on the CPU, `threads` threads */
static inline di_nn_options test_options(int threads)
{
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = threads;
    return opt;
}

/* A session on the model file at path (opt NULL: test_options(2)), or NULL. */
static inline di_nn_session *test_session(const char *path, const di_nn_options *opt,
                                          const char *what)
{
    di_nn_options two = test_options(2);
    di_nn_session *s = NULL;
    di_error err;
    CHECKF(di_nn_session_create(path, opt ? opt : &two, &s, &err) == 0, "%s: %s", what, err.msg);
    return s;
}

/* A session on the model in bytes, loaded under the name `what` (opt NULL:
** test_options(2)), or NULL. */
static inline di_nn_session *test_session_mem(const void *bytes, size_t len, const char *what,
                                              const di_nn_options *opt)
{
    di_nn_options two = test_options(2);
    di_nn_graph *g = NULL;
    di_nn_session *s = NULL;
    di_error err;
    di_error_clear(&err);
    CHECKF(di_nn_graph_load_mem(bytes, len, what, NULL, &g, &err) == 0, "%s: %s", what, err.msg);
    if (g)
        CHECKF(di_nn_session_create_graph(g, opt ? opt : &two, &s, &err) == 0, "%s: %s", what,
               err.msg);
    return s;
}

/* di_nn_run_io, its failure a failed check: 0 or the engine's status */
static inline int test_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs,
                              int nouts, const char *what)
{
    di_error err;
    int rc = di_nn_run_io(s, ins, nins, outs, nouts, &err);
    CHECKF(rc == 0, "%s: %s", what, err.msg);
    return rc;
}

/* The session on the first 1, 2 .. B images of x (on output values an image),
** each output against as many images of ref, within tol of its range:
** "LABEL, batch N". */
static inline void test_batches_against(di_nn_session *s, const float *x, const float *ref, int B,
                                        size_t on, const char *label, double tol)
{
    float *y = calloc((size_t)B * on, sizeof(float));
    for (int batch = 1; batch <= B; batch++) {
        di_error err;
        CHECKF(di_nn_run(s, x, batch, y, (size_t)batch * on, &err) == 0, "%s: %s", label, err.msg);
        char what[96];
        snprintf(what, sizeof what, "%s, batch %d", label, batch);
        ort_compare(what, y, ref, (size_t)batch * on, tol);
    }
    free(y);
}

#endif
