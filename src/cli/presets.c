/*
** presets.c: what `run --preset` sets (input size for a symbolic height and
** width, normalisation) per model family, and the guess `depthindex model`
** prints from what the file shows.
*/
#include <stdio.h>
#include <string.h>

#include "presets.h"

static const di_preset presets[] = {
    /* MiDaS v2.1 small as this project's graph has it: 256 fixed, ImageNet */
    {"midas-small", 256, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
    /* the official release (opset 9) normalises inside: RGB in 0..1 */
    {"midas-release", 256, {0, 0, 0}, {1, 1, 1}},
    /* DPT hybrid/large: 384, mean and std 0.5 */
    {"dpt", 384, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}},
    /* Depth Anything (V1, V2): 518 = 37 patches of 14, ImageNet */
    {"depth-anything", 518, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
};

const di_preset *di_preset_find(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(presets[i].name, name))
            return &presets[i];
    return NULL;
}

const char *di_preset_guess(int opset, unsigned symbolic, int patch, int h, int w, char *why,
                            size_t why_size)
{
    if (opset <= 10) {
        snprintf(why, why_size, "opset %d, as the official MiDaS release is exported, with the "
                                "normalisation inside the graph", opset);
        return "midas-release";
    }
    if (patch == 14) {
        snprintf(why, why_size, "a 14x14 patch embedding (DINOv2)%s",
                 symbolic & 0xc ? " and a symbolic height and width" : "");
        return "depth-anything";
    }
    if (patch == 16 || (h == 384 && w == 384)) {
        snprintf(why, why_size, "%s", patch == 16 ? "a 16x16 patch embedding (ViT, as DPT)"
                                                  : "a fixed 384x384 input, as DPT");
        return "dpt";
    }
    if (h == 256 && w == 256) {
        snprintf(why, why_size, "a fixed 256x256 input, as MiDaS v2.1 small");
        return "midas-small";
    }
    snprintf(why, why_size, "no rule matched: the defaults (ImageNet normalisation)");
    return NULL;
}
