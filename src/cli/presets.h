/* presets.h: model-family presets of `run --preset` (presets.c). */
#ifndef DI_CLI_PRESETS_H
#define DI_CLI_PRESETS_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/pipeline.h"

typedef struct di_preset {
    const char *name;
    int size; /* input side for a symbolic height and width */
    float mean[3], std[3];
    di_resize_mode resize;
    di_output_kind output;
} di_preset;

/* The preset of that name, or NULL. */
const di_preset *di_preset_find(const char *name);

/* What `depthindex model` reads from a file for its guess. */
typedef struct di_model_facts {
    int opset;
    const char *input;  /* the first input's name */
    unsigned symbolic;  /* its symbolic dimensions (bit mask, bit 0 the batch) */
    int patch;          /* patch size (1: none) */
    int h, w;           /* its fixed height and width (0 when symbolic) */
    bool sigmoid_scale; /* the first output ends in Sigmoid x a constant */
    float max_depth;    /* that constant */
} di_model_facts;

/* The preset a file looks like (NULL: none) and why. */
const char *di_preset_guess(const di_model_facts *f, char *why, size_t why_size);

/* --resize and --output values: 0, or -1 for a name that is none of them. */
int di_resize_mode_parse(const char *s, di_resize_mode *out);
int di_output_kind_parse(const char *s, di_output_kind *out);
const char *di_resize_mode_name(di_resize_mode m);
const char *di_output_kind_name(di_output_kind k);

#endif
