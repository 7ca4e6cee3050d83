/*
** test_cuda_refuse.c (nn-cuda-refuse): a CUDA session refuses, at creation,
** an op that the CPU engine runs but the CUDA backend has no kernel for,
** naming the node and the op. The op check comes before the device is
** touched, so this needs no GPU. A build without CUDA answers "built
** without CUDA" instead. And an op without a CUDA kernel whose inputs are
** constant (folded at plan time) does not stop a CUDA session. The ops of
** quantized and float16 files that only the CPU runs (DynamicQuantizeLinear,
** MatMulInteger, ConvInteger, QuantizeLinear, DequantizeLinear of an
** activation, a Cast to float16) are refused the same way, with one line that
** names the node and says to use --device cpu; a DequantizeLinear of a weight
** folds away and is not refused. The CPU's
** fused attention is not made for a CUDA session, and refused when given.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "nn/engine.h"
#include "nn/nn.h"
#include "onnx_build.h"
#include "test_files.h"
#include "test_session.h"

/* a CUDA session on `model` must fail naming `node` and `op` in one line
** that says --device cpu (or "built without CUDA") */
static void expect_refused(const char *model, const char *node, const char *op)
{
    di_nn_options opt = test_options(1);
    /* the CPU runs it */
    di_nn_session_destroy(test_session(model, &opt, op));
    opt.device = DI_NN_CUDA;
    di_nn_session *s = NULL;
    di_error err;
    di_error_clear(&err);
    int rc = di_nn_session_create(model, &opt, &s, &err);
    printf("CUDA session, %s: rc %d: %s\n", op, rc, err.msg);
    CHECK(rc == DI_EUNSUPPORTED && s == NULL);
    if (!di_nn_cuda_built()) {
        CHECKF(strstr(err.msg, "built without CUDA") != NULL, "%s", err.msg);
        return;
    }
    char named[200];
    snprintf(named, sizeof named, "'%s'", node);
    CHECKF(strstr(err.msg, named) && strstr(err.msg, op) && strstr(err.msg, "--device cpu") &&
               !strchr(err.msg, '\n'),
           "%s", err.msg);
    di_nn_session_destroy(s);
}

static void write_model(ob *b, const char *model)
{
    CHECK(ob_write(b, model) == 0);
    ob_free(b);
}

/* the quantized and float16 forms, each op the CUDA backend leaves to the CPU */
static void quant_forms(const char *dir)
{
    char model[1100];
    ob b;
    /* x -> DynamicQuantizeLinear -> MatMulInteger(W int8) -> Cast -> Mul */
    snprintf(model, sizeof model, "%s/refuse_dql.onnx", dir);
    ob_init(&b, 13);
    ob_input(&b, "x", 2, (int64_t[]){2, 4}, NULL);
    int8_t w[12] = {1, -2, 3, 4, -5, 6, 7, 8, -9, 10, 11, 12};
    ob_init_t(&b, ob_tensor(&b, "w", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 2, (int64_t[]){4, 3}, w, 12));
    ob_init_f(&b, "ws", 0, NULL, (float[]){0.1f});
    Onnx__NodeProto *n = ob_node(&b, "DynamicQuantizeLinear", "x", "xq,xs,xz");
    n->name = ob_str(&b, "dql");
    n = ob_node(&b, "MatMulInteger", "xq,w,xz", "acc");
    n->name = ob_str(&b, "mmi");
    n = ob_node(&b, "Cast", "acc", "accf");
    ob_attr_i(&b, n, "to", 1);
    ob_node(&b, "Mul", "xs,ws", "sc");
    ob_node(&b, "Mul", "accf,sc", "y");
    ob_output(&b, "y");
    write_model(&b, model);
    expect_refused(model, "dql", "DynamicQuantizeLinear");

    /* x (uint8) -> ConvInteger -> Cast */
    snprintf(model, sizeof model, "%s/refuse_convi.onnx", dir);
    ob_init(&b, 13);
    ob_input(&b, "x", 4, (int64_t[]){1, 1, 3, 3}, NULL);
    b.g.input[0]->type->tensor_type->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    uint8_t cw[4] = {1, 2, 3, 4};
    ob_init_t(&b, ob_tensor(&b, "cw", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 4, (int64_t[]){1, 1, 2, 2}, cw, 4));
    n = ob_node(&b, "ConvInteger", "x,cw", "acc");
    n->name = ob_str(&b, "convi");
    n = ob_node(&b, "Cast", "acc", "y");
    ob_attr_i(&b, n, "to", 1);
    ob_output(&b, "y");
    write_model(&b, model);
    expect_refused(model, "convi", "ConvInteger");

    /* QDQ of an activation: QuantizeLinear -> DequantizeLinear */
    snprintf(model, sizeof model, "%s/refuse_qdq.onnx", dir);
    ob_init(&b, 13);
    ob_input(&b, "x", 2, (int64_t[]){2, 4}, NULL);
    ob_init_f(&b, "s", 0, NULL, (float[]){0.05f});
    n = ob_node(&b, "QuantizeLinear", "x,s", "q");
    n->name = ob_str(&b, "ql");
    n = ob_node(&b, "DequantizeLinear", "q,s", "y");
    n->name = ob_str(&b, "dq");
    ob_output(&b, "y");
    write_model(&b, model);
    expect_refused(model, "ql", "QuantizeLinear");

    /* a Cast to float16 (RoundFloat16 after loading) between float32 ops */
    snprintf(model, sizeof model, "%s/refuse_fp16.onnx", dir);
    ob_init(&b, 13);
    ob_input(&b, "x", 2, (int64_t[]){2, 4}, NULL);
    ob_node(&b, "Relu", "x", "r");
    n = ob_node(&b, "Cast", "r", "h");
    n->name = ob_str(&b, "to_half");
    ob_attr_i(&b, n, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16);
    n = ob_node(&b, "Cast", "h", "y");
    ob_attr_i(&b, n, "to", 1);
    ob_output(&b, "y");
    write_model(&b, model);
    expect_refused(model, "to_half", "RoundFloat16");

    /* weight-only QDQ: DequantizeLinear of an initializer folds away, with
    ** the input's shape known at attach or not (a symbolic row count: the
    ** check then goes by the nodes, and this one's inputs are initializers) */
    for (int sym = 0; sym <= 1; sym++) {
        snprintf(model, sizeof model, "%s/qdq_weight.onnx", dir);
        ob_init(&b, 13);
        ob_input(&b, "x", 3, (int64_t[]){1, sym ? -1 : 2, 4}, NULL);
        ob_init_t(&b, ob_tensor(&b, "w", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 2, (int64_t[]){4, 3}, w, 12));
        ob_init_f(&b, "ws", 0, NULL, (float[]){0.1f});
        n = ob_node(&b, "DequantizeLinear", "w,ws", "wf");
        n->name = ob_str(&b, "dq_weight");
        ob_node(&b, "MatMul", "x,wf", "y");
        ob_output(&b, "y");
        write_model(&b, model);
        di_nn_options opt;
        di_nn_options_default(&opt);
        opt.threads = 1;
        opt.device = DI_NN_CUDA;
        di_nn_session *s = NULL;
        di_error err;
        int rc = di_nn_session_create(model, &opt, &s, &err);
        printf("CUDA session, folded DequantizeLinear%s: rc %d: %s\n", sym ? " (symbolic rows)" : "", rc,
               rc ? err.msg : "created");
        CHECKF(rc == 0 || !strstr(err.msg, "dq_weight"), "%s", err.msg);
        di_nn_session_destroy(s);
        s = NULL;
    }
}

int main(void)
{
    const char *build = getenv("DEPTHINDEX_BUILD_ROOT");
    char dir[1024], model[1100];
    snprintf(dir, sizeof dir, "%s/tests/nn/tmp-cuda", build && *build ? build : "/tmp");
    mkdir(dir, 0755);
    snprintf(model, sizeof model, "%s/refuse.onnx", dir);
    /* x [1,4,2,2] -> Relu -> DepthToSpace(2) "d2s" -> [1,1,4,4] */
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", 4, (int64_t[]){1, 4, 2, 2}, NULL);
    ob_node(&b, "Relu", "x", "r");
    Onnx__NodeProto *n = ob_node(&b, "DepthToSpace", "r", "y");
    n->name = ob_str(&b, "d2s");
    ob_attr_i(&b, n, "blocksize", 2);
    ob_output(&b, "y");
    write_model(&b, model);

    di_error err;
    di_error_clear(&err);
    di_nn_options opt = test_options(1);
    /* the CPU engine takes it */
    di_nn_session_destroy(test_session(model, &opt, "DepthToSpace"));
    di_nn_session *s = NULL;
    opt.device = DI_NN_CUDA;
    int rc = di_nn_session_create(model, &opt, &s, &err);
    printf("CUDA session: rc %d: %s\n", rc, err.msg);
    CHECK(rc == DI_EUNSUPPORTED && s == NULL);
    if (di_nn_cuda_built()) {
        CHECKF(strstr(err.msg, "'d2s'") && strstr(err.msg, "DepthToSpace") && strstr(err.msg, "no CUDA kernel") &&
                   strstr(err.msg, "--device cpu"), "%s", err.msg);
    } else {
        CHECKF(strstr(err.msg, "built without CUDA") != NULL, "%s", err.msg);
    }

    /* x + Cast(ArgMax(c)): ArgMax (no CUDA kernel) and Cast fold away */
    snprintf(model, sizeof model, "%s/folded.onnx", dir);
    ob_init(&b, 13);
    ob_input(&b, "x", 4, (int64_t[]){1, 4, 2, 2}, NULL);
    ob_init_f(&b, "c", 1, (int64_t[]){3}, (float[]){1, 5, 2});
    n = ob_node(&b, "ArgMax", "c", "am");
    n->name = ob_str(&b, "argmax");
    Onnx__NodeProto *cast = ob_node(&b, "Cast", "am", "amf");
    ob_attr_i(&b, cast, "to", 1);
    ob_node(&b, "Add", "x,amf", "y");
    ob_output(&b, "y");
    write_model(&b, model);
    rc = di_nn_session_create(model, &opt, &s, &err);
    printf("CUDA session, folded ArgMax: rc %d: %s\n", rc, rc ? err.msg : "created");
    CHECKF(rc == 0 || !strstr(err.msg, "argmax"), "%s", err.msg);
    if (!di_nn_cuda_built()) CHECK(rc == DI_EUNSUPPORTED && strstr(err.msg, "built without CUDA"));
    else if (di_nn_cuda_device_count() == 0) CHECKF(rc != 0 && strstr(err.msg, "no CUDA device"), "%s", err.msg);
    else CHECKF(rc == 0, "%s", err.msg);
    di_nn_session_destroy(s);
    s = NULL;

    /* attention (MatMul, Softmax, MatMul): the CPU loader fuses it into
    ** _FusedAttention, which the CUDA backend has no kernel for. A CUDA
    ** session loads the file without that fusion; a graph loaded fused and
    ** given to a CUDA session is refused, naming the node. */
    snprintf(model, sizeof model, "%s/attention.onnx", dir);
    ob_init(&b, 17);
    ob_input(&b, "x", 4, (int64_t[]){1, 2, 8, 4}, NULL);
    ob_node(&b, "Relu", "x", "q");
    n = ob_node(&b, "Transpose", "q", "kt");
    ob_attr_ints(&b, n, "perm", 4, (int64_t[]){0, 1, 3, 2});
    ob_node(&b, "MatMul", "q,kt", "sc");
    ob_attr_i(&b, ob_node(&b, "Softmax", "sc", "p"), "axis", -1);
    n = ob_node(&b, "MatMul", "p,q", "y");
    n->name = ob_str(&b, "attn");
    ob_output(&b, "y");
    write_model(&b, model);
    rc = di_nn_session_create(model, &opt, &s, &err);
    printf("CUDA session, attention: rc %d: %s\n", rc, rc ? err.msg : "created");
    CHECKF(rc == 0 || !strstr(err.msg, "_FusedAttention"), "%s", err.msg);
    di_nn_session_destroy(s);
    s = NULL;
    di_nn_graph *g = NULL;
    CHECKF(di_nn_graph_load(model, &g, &err) == 0, "%s", err.msg);
    if (g) {
        rc = di_nn_session_create_graph(g, &opt, &s, &err); /* takes g */
        printf("CUDA session, attention loaded fused: rc %d: %s\n", rc, err.msg);
        CHECK(rc == DI_EUNSUPPORTED && s == NULL);
        if (di_nn_cuda_built())
            CHECKF(strstr(err.msg, "'attn'") && strstr(err.msg, "_FusedAttention") &&
                       strstr(err.msg, "no CUDA kernel"),
                   "%s", err.msg);
        di_nn_session_destroy(s);
    }
    quant_forms(dir);
    return check_summary();
}
