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
** the check cannot pass by refusing everything. And the ops of quantized and
** float16 files that only the CPU runs (DynamicQuantizeLinear, MatMulInteger,
** a Cast to float16...) are refused by the plan translation too, naming the
** node and saying --device cpu, while a weight-only DequantizeLinear folds
** and runs.
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

#include "onnx_build.h"

/* the host-mode run of a graph built in b: rc, message in err */
static int host_try(ob *b, di_error *err)
{
    size_t len;
    uint8_t *bytes = ob_pack(b, &len);
    ob_free(b);
    di_nn_graph *g = NULL;
    int rc = di_nn_graph_load_mem(bytes, len, "host.onnx", NULL, &g, err);
    free(bytes);
    if (rc) return rc;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    di_nn_session *s = NULL;
    if ((rc = di_nn_session_create_graph(g, &opt, &s, err))) return rc;
    float x[8] = {0.5f, -1, 2, 3, -4, 0.25f, 1, 7};
    di_nn_io in = {.dtype = DI_DT_FLOAT, .ndim = 2, .dims = {2, 4}, .data = x}, out = {0};
    rc = host_run_io(s, &in, 1, &out, 1, err);
    free(out.data);
    di_nn_session_destroy(s);
    return rc;
}

static int quant_refusals(void)
{
    int bad = 0;
    di_error err;
    int8_t w[12] = {1, -2, 3, 4, -5, 6, 7, 8, -9, 10, 11, 12};
    ob b;
    /* DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul */
    ob_init(&b, 13);
    ob_input(&b, "x", 2, (int64_t[]){2, 4}, NULL);
    ob_init_t(&b, ob_tensor(&b, "w", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 2, (int64_t[]){4, 3}, w, 12));
    Onnx__NodeProto *n = ob_node(&b, "DynamicQuantizeLinear", "x", "xq,xs,xz");
    n->name = ob_str(&b, "dql");
    ob_node(&b, "MatMulInteger", "xq,w,xz", "acc");
    n = ob_node(&b, "Cast", "acc", "accf");
    ob_attr_i(&b, n, "to", 1);
    ob_node(&b, "Mul", "accf,xs", "y");
    ob_output(&b, "y");
    int rc = host_try(&b, &err);
    printf("host mode, DynamicQuantizeLinear: rc %d: %s\n", rc, rc ? err.msg : "ran");
    if (rc != DI_EUNSUPPORTED || !strstr(err.msg, "'dql'") || !strstr(err.msg, "--device cpu")) bad++;
    /* a Cast to float16 (RoundFloat16) */
    ob_init(&b, 13);
    ob_input(&b, "x", 2, (int64_t[]){2, 4}, NULL);
    n = ob_node(&b, "Cast", "x", "h");
    n->name = ob_str(&b, "to_half");
    ob_attr_i(&b, n, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16);
    n = ob_node(&b, "Cast", "h", "y");
    ob_attr_i(&b, n, "to", 1);
    ob_output(&b, "y");
    rc = host_try(&b, &err);
    printf("host mode, RoundFloat16: rc %d: %s\n", rc, rc ? err.msg : "ran");
    if (rc != DI_EUNSUPPORTED || !strstr(err.msg, "'to_half'") || !strstr(err.msg, "--device cpu")) bad++;
    /* DequantizeLinear of a weight, then Add: folds, and the Add runs */
    ob_init(&b, 13);
    ob_input(&b, "x", 2, (int64_t[]){2, 4}, NULL);
    ob_init_t(&b, ob_tensor(&b, "w8", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 2, (int64_t[]){2, 4}, w, 8));
    ob_init_f(&b, "ws", 0, NULL, (float[]){0.5f});
    ob_node(&b, "DequantizeLinear", "w8,ws", "wf");
    ob_node(&b, "Add", "x,wf", "y");
    ob_output(&b, "y");
    rc = host_try(&b, &err);
    printf("host mode, weight-only DequantizeLinear: rc %d: %s\n", rc, rc ? err.msg : "ran");
    if (rc) bad++;
    if (bad) printf("%d quantized/float16 checks failed\n", bad);
    return bad;
}

int main(int argc, char **argv)
{
    int rc = conformance_main(argc, argv);
    if (rc == SKIP) return rc;
    int quant_bad = quant_refusals();
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
    return rc || missing || quant_bad ? 1 : 0;
}
