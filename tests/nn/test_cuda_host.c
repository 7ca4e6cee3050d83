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
** the check cannot pass by refusing everything. Last, a session that plans
** only for the CUDA backend makes no oneDNN engine (so no primitive either),
** folded constants and Resize's tables included. And the ops of quantized and
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

/* x (N x 2 x H x W, H and W symbolic) -> Resize (linear, x2) -> Mul by
** Sqrt(k) (a constant the plan folds) -> Relu -> y */
static uint8_t *build_graph(size_t *len)
{
    ob b;
    ob_init(&b, 17);
    const int64_t dims[4] = {-1, 2, -1, -1}, sd[1] = {4}, kd[1] = {1};
    const float scales[4] = {1, 1, 2, 2}, kv[1] = {4.0f};
    ob_input(&b, "x", 4, dims, "N");
    ob_init_f(&b, "scales", 1, sd, scales);
    ob_init_f(&b, "k", 1, kd, kv);
    Onnx__NodeProto *r = ob_node(&b, "Resize", "x,,scales", "r");
    Onnx__AttributeProto *a = ob_attr(&b, r, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str(&b, "linear");
    a->s.len = 6;
    ob_node(&b, "Sqrt", "k", "sk");
    ob_node(&b, "Mul", "r,sk", "m");
    ob_node(&b, "Relu", "m", "y");
    ob_output(&b, "y");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

static int no_onednn(void)
{
    size_t len;
    uint8_t *bytes = build_graph(&len);
    di_error err;
    di_nn_graph *g = NULL;
    di_nn_session *s = NULL;
    long engines = di_nn_cpu_engines_made();
    int rc = di_nn_graph_load_mem(bytes, len, "resize", NULL, &g, &err);
    free(bytes);
    if (!rc)
        rc = di_nn_session_create_graph(g, NULL, &s, &err);
    float x[2 * 2 * 3] = {1, -2, 3, 4, 5, -6, 0.5f, 1, 2, 3, 4, 5};
    di_nn_io in = {DI_DT_FLOAT, 4, {1, 2, 2, 3}, x}, out = {0}, ref = {0};
    if (!rc)
        rc = di_nn_cuda_host_run(s, &in, 1, &out, 1, &err);
    long made = di_nn_cpu_engines_made() - engines;
    if (!rc)
        rc = (di_nn_run_io)(s, &in, 1, &ref, 1, &err); /* the CPU's (not the macro), to compare */
    int bad = rc != 0 || made != 0;
    if (rc)
        printf("no-oneDNN graph: %s\n", err.msg);
    else if (made)
        printf("a host-mode CUDA plan made %ld oneDNN engines\n", made);
    if (!rc) {
        bad |= out.ndim != 4 || out.dims[2] != 4 || out.dims[3] != 6;
        for (int i = 0; !bad && i < 2 * 4 * 6; i++)
            bad |= fabsf(((float *)out.data)[i] - ((float *)ref.data)[i]) > 1e-5f;
        printf("host mode: Resize and a folded Sqrt without oneDNN: %s\n", bad ? "FAIL" : "ok");
    }
    free(out.data);
    free(ref.data);
    di_nn_session_destroy(s);
    return bad;
}

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
    if (rc != SKIP)
        rc |= no_onednn();
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
