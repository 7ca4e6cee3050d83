/*
** test_cuda_refuse.c (nn-cuda-refuse): a CUDA session refuses, at creation,
** an op that the CPU engine runs but the CUDA backend has no kernel for,
** naming the node and the op. The op check comes before the device is
** touched, so this needs no GPU. A build without CUDA answers "built
** without CUDA" instead. And an op without a CUDA kernel whose inputs are
** constant (folded at plan time) does not stop a CUDA session. The CPU's
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
    size_t len;
    uint8_t *bytes = ob_pack(&b, &len);
    CHECK(write_file(model, bytes, len) == 0);
    free(bytes);
    ob_free(&b);

    di_error err;
    di_error_clear(&err);
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    di_nn_session *s = NULL;
    /* the CPU engine takes it */
    CHECKF(di_nn_session_create(model, &opt, &s, &err) == 0, "%s", err.msg);
    di_nn_session_destroy(s);
    s = NULL;
    opt.device = DI_NN_CUDA;
    int rc = di_nn_session_create(model, &opt, &s, &err);
    printf("CUDA session: rc %d: %s\n", rc, err.msg);
    CHECK(rc == DI_EUNSUPPORTED && s == NULL);
    if (di_nn_cuda_built()) {
        CHECKF(strstr(err.msg, "'d2s'") && strstr(err.msg, "DepthToSpace") && strstr(err.msg, "no CUDA kernel"), "%s", err.msg);
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
    bytes = ob_pack(&b, &len);
    CHECK(write_file(model, bytes, len) == 0);
    free(bytes);
    ob_free(&b);
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
    bytes = ob_pack(&b, &len);
    CHECK(write_file(model, bytes, len) == 0);
    free(bytes);
    ob_free(&b);
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
    return check_summary();
}
