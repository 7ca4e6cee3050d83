/*
** fill.h: the scaling pass of di_nn_fill_weights_mode (fill_scale.c), for
** fill.c alone.
*/
#ifndef DI_NN_FILL_H
#define DI_NN_FILL_H

#include "../core/core.h"
#include "onnx.pb-c.h"

/* Rescales the Conv weights of a filled model in place (DI_NN_FILL_SCALED);
** path names the file in messages. */
int di_nn_fill_scale(Onnx__ModelProto *mp, const char *path, di_error *err);

#endif
