/*
** dav2_model.c: writes the Depth Anything V2 small-shaped graph of
** tests/nn/dav2_graph.h (torch.onnx.export's form, dynamic batch) with
** deterministic weights, for bench/run-dav2.sh. Default: the full size,
** ViT-S/14 (384 wide, 6 heads, 12 blocks) at 518x518, DPT head with 64
** features.
**
** usage: dav2_model [--dynamic-hw] [--quantized] OUT.onnx [GRID BLOCKS]
** (input GRID*14 pixels square; --dynamic-hw: the height and width
** symbolic as the onnx-community/HF export writes them, the patch grid from
** the input's Shape and the position embedding (trained at GRID) resized
** bicubically to it: any multiple of 14 runs; --quantized: rewritten as
** onnxruntime's dynamic quantization lays it out (tests/nn/quant_convert.h:
** DynamicQuantizeLinear -> MatMulInteger with int8 per-column and uint8
** per-tensor weights alternately, ConvInteger for the patch embedding, Cast,
** Mul by the scales), the form of the onnx-community model_quantized /
** model_int8 / model_uint8 files, for bench/run-quant.sh)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav2_graph.h"
#include "quant_convert.h"

int main(int argc, char **argv)
{
    dav2_cfg c = {.dim = 384, .heads = 6, .grid = 37, .blocks = 12, .features = 64};
    int dyn_hw = 0, quant = 0;
    for (; argc > 1 && !strncmp(argv[1], "--", 2); argc--, argv++) {
        if (!strcmp(argv[1], "--dynamic-hw"))
            dyn_hw = 1;
        else if (!strcmp(argv[1], "--quantized"))
            quant = 1;
        else
            break; /* not ours: the usage line below */
    }
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: dav2_model [--dynamic-hw] [--quantized] OUT.onnx [GRID BLOCKS]\n");
        return 2;
    }
    if (argc == 4) {
        c.grid = atoi(argv[2]);
        c.blocks = atoi(argv[3]);
    }
    if (c.grid < 2 || c.grid > 100 || c.blocks < 4 || c.blocks > 40) {
        fprintf(stderr, "dav2_model: GRID must be 2..100 and BLOCKS 4..40\n");
        return 2;
    }
    ob b;
    c.dynamic_hw = dyn_hw;
    dav2_build(&b, &c);
    if (quant)
        ob_to_dynamic_quant(&b);
    size_t len;
    uint8_t *m = ob_pack(&b, &len);
    ob_free(&b);
    FILE *f = fopen(argv[1], "wb");
    int ok = f && fwrite(m, 1, len, f) == len;
    if (f && fclose(f)) ok = 0;
    free(m);
    if (!ok) {
        fprintf(stderr, "dav2_model: cannot write %s\n", argv[1]);
        return 1;
    }
    printf("DA-V2 small-shaped%s: ViT-S/14, %d blocks, input 3x%dx%d\n",
           quant ? ", dynamically quantized" : "", c.blocks, 14 * c.grid, 14 * c.grid);
    return 0;
}
