/*
** demo.h: deterministic synthetic street panoramas. A panorama is a street
** canyon (ground plane, building facades at varying setbacks and heights,
** open sky far away) seen from a camera on the street; its four horizontal
** cube faces are xm, xp, zm, zp. The same seed always gives the same bytes.
*/
#ifndef DI_DEMO_H
#define DI_DEMO_H

#include "../core/core.h"

#define DI_DEMO_FACES 4
extern const char *const di_demo_face_names[DI_DEMO_FACES]; /* xm xp zm zp */

/* Depth (metres, finite, sky at a large finite distance) of face `face` of
** panorama `seed`, width x height floats into depth. */
void di_demo_depth(uint64_t seed, int face, int width, int height, float *depth);

/* The same face as an RGB picture (facades, windows, road, sky) consistent
** with its depth; rgb holds width*height*3 bytes. depth may be NULL. */
void di_demo_render(uint64_t seed, int face, int width, int height,
                    float *depth, uint8_t *rgb);

#endif
