/*
** fp16_convert.h: a float32 ONNX graph built with onnx_build.h rewritten as
** the onnx-community model_fp16.onnx files are laid out (onnxconverter's
** float16 conversion with keep_io_types): every float initializer stored as
** float16, except the inputs of Resize beyond the first (roi, scales: the
** op wants float32 there); the graph input Cast to float16 first and the
** output Cast back to float32 last, so that the file's I/O stays float32.
** Header-only, for tests/nn (the test's generator; no file is committed).
*/
#ifndef DI_TEST_FP16_CONVERT_H
#define DI_TEST_FP16_CONVERT_H

#include <string.h>

#include "onnx_build.h"
#include "nn/graph.h" /* di_f32_to_fp16 */

static int fp16c_kept(const ob *b, const char *name)
{
    for (size_t i = 0; i < b->g.n_node; i++) {
        const Onnx__NodeProto *n = b->g.node[i];
        if (strcmp(n->op_type, "Resize")) continue;
        for (size_t j = 1; j < n->n_input; j++)
            if (!strcmp(n->input[j], name)) return 1;
    }
    return 0;
}

/* moves the last node to position 0 (its inputs are graph inputs) */
static void fp16c_to_front(ob *b)
{
    Onnx__NodeProto *last = b->g.node[b->g.n_node - 1];
    memmove(&b->g.node[1], &b->g.node[0], sizeof(void *) * (b->g.n_node - 1));
    b->g.node[0] = last;
}

static void ob_to_fp16(ob *b, const char *input, const char *output)
{
    for (size_t i = 0; i < b->g.n_initializer; i++) {
        Onnx__TensorProto *t = b->g.initializer[i];
        if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || fp16c_kept(b, t->name)) continue;
        size_t n = t->raw_data.len / 4;
        uint16_t *h = ob_alloc(b, 2 * n + 1);
        for (size_t k = 0; k < n; k++) {
            float f;
            memcpy(&f, t->raw_data.data + 4 * k, 4);
            h[k] = di_f32_to_fp16(f);
        }
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
        t->raw_data.data = (uint8_t *)h;
        t->raw_data.len = 2 * n;
    }
    char in16[128], out16[128];
    snprintf(in16, sizeof in16, "%s_fp16", input);
    snprintf(out16, sizeof out16, "%s_fp16", output);
    for (size_t i = 0; i < b->g.n_node; i++) {
        Onnx__NodeProto *n = b->g.node[i];
        for (size_t j = 0; j < n->n_input; j++)
            if (!strcmp(n->input[j], input)) n->input[j] = ob_str(b, in16);
        for (size_t j = 0; j < n->n_output; j++)
            if (!strcmp(n->output[j], output)) n->output[j] = ob_str(b, out16);
    }
    char io[300];
    snprintf(io, sizeof io, "%s", input);
    Onnx__NodeProto *c = ob_node(b, "Cast", io, in16);
    ob_attr_i(b, c, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16);
    fp16c_to_front(b);
    c = ob_node(b, "Cast", out16, output);
    ob_attr_i(b, c, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
}

#endif
