/*
** quant_model.c: writes the Depth Anything V2 small-shaped graph of
** tests/nn/dav2_graph.h rewritten as onnxruntime's dynamic quantization lays
** it out (tests/nn/quant_convert.h: DynamicQuantizeLinear -> MatMulInteger
** with int8 per-column and uint8 per-tensor weights alternately, ConvInteger
** for the patch embedding, Cast, Mul by the scales), the form of the
** onnx-community model_quantized / model_int8 / model_uint8 files, for
** bench/run-quant.sh. With --float: the same graph unquantized.
**
** usage: quant_model [--float] OUT.onnx [GRID BLOCKS]
** (default ViT-S/14: 384 wide, 6 heads, 12 blocks, 518x518, 64 features)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav2_graph.h"
#include "quant_convert.h"

int main(int argc, char **argv)
{
    dav2_cfg c = {.dim = 384, .heads = 6, .grid = 37, .blocks = 12, .features = 64};
    int fp = argc > 1 && !strcmp(argv[1], "--float");
    argc -= fp;
    argv += fp;
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: quant_model [--float] OUT.onnx [GRID BLOCKS]\n");
        return 2;
    }
    if (argc == 4) {
        c.grid = atoi(argv[2]);
        c.blocks = atoi(argv[3]);
    }
    if (c.grid < 2 || c.grid > 100 || c.blocks < 4 || c.blocks > 40) {
        fprintf(stderr, "quant_model: GRID must be 2..100 and BLOCKS 4..40\n");
        return 2;
    }
    ob b;
    dav2_build(&b, &c);
    if (!fp) ob_to_dynamic_quant(&b);
    size_t len;
    uint8_t *m = ob_pack(&b, &len);
    ob_free(&b);
    FILE *f = fopen(argv[1], "wb");
    int ok = f && fwrite(m, 1, len, f) == len;
    if (f && fclose(f)) ok = 0;
    free(m);
    if (!ok) {
        fprintf(stderr, "quant_model: cannot write %s\n", argv[1]);
        return 1;
    }
    printf("DA-V2 small-shaped, %s: ViT-S/14, %d blocks, input 3x%dx%d\n",
           fp ? "float32" : "dynamically quantized", c.blocks, 14 * c.grid, 14 * c.grid);
    return 0;
}
