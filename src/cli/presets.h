/* presets.h: model-family presets of `run --preset` (presets.c). */
#ifndef DI_CLI_PRESETS_H
#define DI_CLI_PRESETS_H

#include <stddef.h>

typedef struct di_preset {
    const char *name;
    int size; /* input side for a symbolic height and width */
    float mean[3], std[3];
} di_preset;

/* The preset of that name, or NULL. */
const di_preset *di_preset_find(const char *name);
/* The preset a file looks like (NULL: none) and why, from its opset, its
** first input's symbolic dimensions (bit mask), patch size and fixed size
** (h, w; 0 when symbolic). */
const char *di_preset_guess(int opset, unsigned symbolic, int patch, int h, int w, char *why,
                            size_t why_size);

#endif
