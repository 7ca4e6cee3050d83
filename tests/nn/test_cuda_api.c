/*
** test_cuda_api.c (nn-cuda-api): the device-facing API on any machine:
** di_nn_alloc_host / di_nn_free_host (pinned with a device, plain aligned
** memory without), and di_nn_run_async / di_nn_wait on a CPU session: two
** runs in flight at most, waited in order, outputs equal to di_nn_run's;
** a third submit and a wait with nothing in flight are refused.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "nn/nn.h"
#include "onnx_build.h"
#include "test_files.h"
#include "test_session.h"

int main(void)
{
    /* pinned (or plain) host buffers: aligned, writable, freed */
    float *big = di_nn_alloc_host((size_t)1 << 20);
    CHECK(big != NULL && ((uintptr_t)big & 63) == 0);
    if (big) {
        memset(big, 0x5a, (size_t)1 << 20);
        di_nn_free_host(big);
    }
    di_nn_free_host(NULL);

    const char *build = getenv("DEPTHINDEX_BUILD_ROOT");
    char dir[1024], model[1100];
    snprintf(dir, sizeof dir, "%s/tests/nn/tmp-cuda", build && *build ? build : "/tmp");
    mkdir(dir, 0755);
    snprintf(model, sizeof model, "%s/api.onnx", dir);
    /* x [N,2,3,3] -> Mul by 2 -> Sigmoid -> y, symbolic batch */
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", 4, (int64_t[]){-1, 2, 3, 3}, "N");
    float two = 2.f;
    ob_init_f(&b, "two", 0, NULL, &two);
    ob_node(&b, "Mul", "x,two", "m");
    ob_node(&b, "Sigmoid", "m", "y");
    ob_output(&b, "y");
    CHECK(ob_write(&b, model) == 0);
    ob_free(&b);

    di_error err;
    di_error_clear(&err);
    di_nn_options opt = test_options(1);
    di_nn_session *s = test_session(model, &opt, "api.onnx");
    if (!s) return check_summary();
    enum { B = 3, PER = 18 };
    float *x = di_nn_alloc_host(B * PER * sizeof(float));
    float *y1 = di_nn_alloc_host(B * PER * sizeof(float)), *y2 = di_nn_alloc_host(B * PER * sizeof(float));
    float ref[B * PER];
    for (int i = 0; i < B * PER; i++) x[i] = (float)(i - 20) / 10.f;
    CHECKF(di_nn_run(s, x, B, ref, B * PER, &err) == 0, "%s", err.msg);
    CHECK(di_nn_wait(s, &err) == DI_EINVAL); /* nothing in flight */
    CHECKF(di_nn_run_async(s, x, B, y1, B * PER, &err) == 0, "%s", err.msg);
    CHECKF(di_nn_run_async(s, x, 1, y2, B * PER, &err) == 0, "%s", err.msg);
    CHECK(di_nn_run_async(s, x, 1, y2, B * PER, &err) == DI_EINVAL);
    CHECKF(strstr(err.msg, "di_nn_wait") != NULL, "%s", err.msg);
    CHECKF(di_nn_wait(s, &err) == 0, "%s", err.msg);
    CHECKF(di_nn_wait(s, &err) == 0, "%s", err.msg);
    CHECK(di_nn_wait(s, &err) == DI_EINVAL);
    CHECK(memcmp(y1, ref, sizeof ref) == 0);
    CHECK(memcmp(y2, ref, PER * sizeof(float)) == 0);
    /* a failing submit leaves nothing in flight */
    CHECK(di_nn_run_async(s, x, B, y1, 1, &err) == DI_ESHAPE);
    CHECK(di_nn_wait(s, &err) == DI_EINVAL);
    di_nn_free_host(x);
    di_nn_free_host(y1);
    di_nn_free_host(y2);
    di_nn_session_destroy(s);
    return check_summary();
}
