/* fuzz_onnx.c: libFuzzer target for the ONNX loader and planner: any bytes
** must give a graph or a clean error, and a graph that loads must plan (or
** fail cleanly) without crashing. Tensors are capped at 64 MiB here so that
** a tiny file declaring a huge shape is an error, not an OOM of the fuzzer.
** Seeds (fuzz/corpus/onnx/): the small models tests/nn/test_bad_input writes
** when given a folder, and the ViT block of tests/nn/test_vit; for the load
** paths of issue 9, the opset 7/9/10 files of tests/nn/test_opset, the QDQ,
** MatMulNBits and MatMulBnb4 files of tests/nn/test_quant (their
** build/tests/nn/tmp-* folders), the MatMulInteger and ConvInteger files
** tests/nn/test_quant_int keeps when given a folder, and the tiny float16
** and local-function DA-V2 forms that test_fp16 and test_functions write
** when given a file name. */
#include <stddef.h>
#include <stdint.h>

#include "nn/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    di_nn_max_tensor_bytes = (size_t)64 << 20;
    di_error err;
    di_nn_graph *g;
    if (di_nn_graph_load_mem(data, size, "fuzz.onnx", NULL, &g, &err) != 0)
        return 0;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    di_nn_session *s;
    if (di_nn_session_create_graph(g, &opt, &s, &err) == 0)
        di_nn_session_destroy(s);
    return 0;
}
