/*
** presets.c: what `run --preset` sets (input size for a symbolic height and
** width, resize, normalisation, what the output means) per model family,
** and the guess `depthindex model` prints from what the file shows.
*/
#include <stdio.h>
#include <string.h>

#include "presets.h"

#define IMAGENET_MEAN {0.485f, 0.456f, 0.406f}
#define IMAGENET_STD {0.229f, 0.224f, 0.225f}

static const di_preset presets[] = {
    /* MiDaS v2.1 small as this project's graph has it: 256 fixed, ImageNet */
    {"midas-small", 256, IMAGENET_MEAN, IMAGENET_STD, DI_RESIZE_STRETCH, DI_OUTPUT_INVERSE},
    /* the official release (opset 9) normalises inside: RGB in 0..1 */
    {"midas-release", 256, {0, 0, 0}, {1, 1, 1}, DI_RESIZE_STRETCH, DI_OUTPUT_INVERSE},
    /* DPT hybrid/large: 384, mean and std 0.5 (its processor stretches by
    ** default: keep_aspect_ratio is off for DPT) */
    {"dpt", 384, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, DI_RESIZE_STRETCH, DI_OUTPUT_INVERSE},
    /* Depth Anything (V1, V2): 518 = 37 patches of 14, ImageNet, aspect kept
    ** (its preprocessor: keep_aspect_ratio, ensure_multiple_of 14,
    ** lower_bound); relative inverse depth out */
    {"depth-anything", 518, IMAGENET_MEAN, IMAGENET_STD, DI_RESIZE_KEEP_ASPECT,
     DI_OUTPUT_INVERSE},
    /* Depth Anything V2 metric (indoor, outdoor): the same input; its head
    ** ends in Sigmoid x max_depth, depth in metres */
    {"depth-anything-metric", 518, IMAGENET_MEAN, IMAGENET_STD, DI_RESIZE_KEEP_ASPECT,
     DI_OUTPUT_DEPTH},
};

const di_preset *di_preset_find(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(presets[i].name, name))
            return &presets[i];
    return NULL;
}

static const char *const resize_names[] = {"stretch", "keep-aspect"};
static const char *const output_names[] = {"inverse", "depth"};

int di_resize_mode_parse(const char *s, di_resize_mode *out)
{
    for (int i = 0; i < 2; i++)
        if (!strcmp(s, resize_names[i])) {
            *out = (di_resize_mode)i;
            return 0;
        }
    return -1;
}

int di_output_kind_parse(const char *s, di_output_kind *out)
{
    for (int i = 0; i < 2; i++)
        if (!strcmp(s, output_names[i])) {
            *out = (di_output_kind)i;
            return 0;
        }
    return -1;
}

const char *di_resize_mode_name(di_resize_mode m)
{
    return (unsigned)m < 2 ? resize_names[m] : "?";
}

const char *di_output_kind_name(di_output_kind k)
{
    return (unsigned)k < 2 ? output_names[k] : "?";
}

const char *di_preset_guess(const di_model_facts *f, char *why, size_t why_size)
{
    /* what the guess read, said first: the input's name and shape */
    char in[160], dim[2][24];
    for (int i = 0; i < 2; i++)
        snprintf(dim[i], sizeof dim[i], "%d", i ? f->w : f->h);
    snprintf(in, sizeof in, "input '%.60s' [%s, 3, %s, %s]", f->input ? f->input : "?",
             f->symbolic & 1 ? "?" : "N", f->symbolic & 4 || !f->h ? "?" : dim[0],
             f->symbolic & 8 || !f->w ? "?" : dim[1]);
    const char *name = NULL;
    char rule[300];
    if (f->opset <= 10) {
        snprintf(rule, sizeof rule, "opset %d, as the official MiDaS release is exported, with "
                                    "the normalisation inside the graph", f->opset);
        name = "midas-release";
    } else if (f->sigmoid_scale) {
        snprintf(rule, sizeof rule, "%sthe output ends in Sigmoid x %g (max_depth): depth in "
                                    "metres, as Depth Anything V2 metric",
                 f->patch == 14 ? "a 14x14 patch embedding (DINOv2), " : "", f->max_depth);
        name = "depth-anything-metric";
    } else if (f->patch == 14) {
        snprintf(rule, sizeof rule, "a 14x14 patch embedding (DINOv2)%s",
                 (f->symbolic & 0xc) == 0xc ? " and a symbolic height and width" : "");
        name = "depth-anything";
    } else if (f->patch == 16 || (f->h == 384 && f->w == 384)) {
        snprintf(rule, sizeof rule, "%s", f->patch == 16 ? "a 16x16 patch embedding (ViT, as DPT)"
                                                         : "a fixed 384x384 input, as DPT");
        name = "dpt";
    } else if (f->h == 256 && f->w == 256) {
        snprintf(rule, sizeof rule, "a fixed 256x256 input, as MiDaS v2.1 small");
        name = "midas-small";
    } else {
        snprintf(rule, sizeof rule, "no rule matched: the defaults (ImageNet normalisation, "
                                    "stretch, inverse depth)");
    }
    snprintf(why, why_size, "%s; %s", rule, in);
    return name;
}
