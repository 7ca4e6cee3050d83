/*
** functions.h: ONNX local functions inlined at load (functions.c), for
** load.c. Protobuf-level: the loader builds its graph from the inlined copy.
*/
#ifndef DI_NN_FUNCTIONS_H
#define DI_NN_FUNCTIONS_H

#include <stdbool.h>

#include "../core/core.h"
#include "onnx.pb-c.h"

/* what inlining allocates, freed together after loading */
typedef struct di_fn_arena {
    void **blocks;
    size_t n, cap;
} di_fn_arena;

void di_fn_arena_free(di_fn_arena *a);
/* The local function a node calls, or NULL. */
const Onnx__FunctionProto *di_fn_find(const Onnx__ModelProto *mp, const Onnx__NodeProto *n);
/* *out: mp->graph with every call of a local function replaced by the
** function's nodes (recursively); its node list lives in arena. */
int di_fn_inline(const Onnx__ModelProto *mp, const char *file, di_fn_arena *arena,
                 Onnx__GraphProto *out, di_error *err);

#endif
