/*
** test_cuda_host.c (nn-cuda-host): the CUDA backend's own code checked
** without a GPU. The official ONNX node tests (the harness of
** test_conformance.c, included below) run through the backend's plan
** translation (host plan -> GPU steps: arena offsets, folded constants, fused
** post-ops, every op's parameters) and its own kernels' bodies executed on the
** host (kernels.h's host mode), against the suite's expected outputs. Ops
** that need cuDNN or cuBLAS (Conv, MatMul, pooling...) cannot run in host
** mode and count as "not claimed", as do the cases the backend refuses.
** Then every op in `required` must have passed at least one test, so that
** the check cannot pass by refusing everything.
*/
#include "nn/engine.h"
#include "nn/cuda/cuda.h"

static int host_run_io(di_nn_session *s, const di_nn_io *ins, int nins,
                       di_nn_io *outs, int nouts, di_error *err)
{
    return di_nn_cuda_host_run(s, ins, nins, outs, nouts, err);
}

#define di_nn_run_io host_run_io
#define DI_CONFORMANCE_CUDA_HOST 1
#define main conformance_main
#include "test_conformance.c"
#undef main

int main(int argc, char **argv)
{
    int rc = conformance_main(argc, argv);
    if (rc == SKIP) return rc;
    static const char *required[] = {
        "Add", "Sub", "Mul", "Div", "Pow", "Relu", "Sigmoid", "Erf", "Sqrt", "Exp",
        "LeakyRelu", "Clip", "Where", "Less", "Greater", "Max", "Min", "PRelu", "HardSwish",
        "Round", "Sign", "Cast", "Transpose", "Slice", "Concat", "ReduceMax", "ReduceMin",
        "Split", "Gather", "Expand", "Tile", "Pad", "Resize", "Softmax", "LogSoftmax",
        "LayerNormalization", "BatchNormalization", "ReduceMean", "ReduceSum", "Reshape",
        "Squeeze", "Unsqueeze", "Flatten", NULL,
    };
    int missing = 0;
    printf("\nhost mode, ops the CUDA backend runs with its own kernels:\n");
    for (int i = 0; required[i]; i++) {
        op_stat *st = stat_for(required[i]);
        printf("  %-22s %d passed%s\n", required[i], st->pass, st->pass ? "" : "  <- none passed");
        if (!st->pass) missing++;
    }
    if (missing) printf("%d required ops passed no test\n", missing);
    return rc || missing ? 1 : 0;
}
