/*
** demo.h: deterministic synthetic street panoramas. A panorama is a street
** canyon (ground plane, building facades at varying setbacks and heights,
** open sky far away) seen from a camera on the street; its four horizontal
** cube faces are xm, xp, zm, zp: 90-degree pinhole views looking along -x,
** +x, -z, +z with +y up (turning right from zp faces xp); the street runs
** along z. For a face that is not square the horizontal field of view is 90
** degrees and pixels stay square.
**
** The same seed always gives the same bytes, on every machine: splitmix64
** for randomness, double precision with + - * / sqrt floor only (correctly
** rounded in IEEE 754), no fused multiply-add (switched off in demo.c). The
** rendering functions allocate nothing and cannot fail; a face index outside
** 0..3 or a size below 1 writes nothing.
*/
#ifndef DI_DEMO_H
#define DI_DEMO_H

#include "../core/core.h"

#define DI_DEMO_FACES 4
extern const char *const di_demo_face_names[DI_DEMO_FACES]; /* xm xp zm zp */

/* Depth of face `face` of panorama `seed`: metres along the optical axis,
** finite, the sky at 1000 m; width x height floats into depth, row-major,
** top row first. */
void di_demo_depth(uint64_t seed, int face, int width, int height, float *depth);

/* The same face as an RGB picture (facades, windows, road, sky) consistent
** with its depth; rgb holds width*height*3 bytes. depth may be NULL. */
void di_demo_render(uint64_t seed, int face, int width, int height,
                    float *depth, uint8_t *rgb);

/* ---- Writing faces as files (write.c) ----
** The depth as NPY (float32 metres), 16-bit PNG (1/64 m steps, saturating)
** or PFM; with jpeg_quality 1..100 also the picture as JPEG (0: none). */
typedef enum di_demo_format { DI_DEMO_NPY, DI_DEMO_PNG16, DI_DEMO_PFM } di_demo_format;
typedef struct di_demo_writer {
    int width, height, jpeg_quality;
    di_demo_format format;
    float *depth;  /* buffers for one face */
    uint8_t *rgb;
    uint16_t *d16;
} di_demo_writer;

/* "npy", "png" or "pfm". */
const char *di_demo_format_ext(di_demo_format f);
int di_demo_writer_init(di_demo_writer *w, int width, int height, di_demo_format format,
                        int jpeg_quality, di_error *err);
void di_demo_writer_free(di_demo_writer *w);
/* Face `face` of panorama `seed` as dir/stem.EXT (and dir/stem.jpg); adds
** the files written to *written. */
int di_demo_write_face(di_demo_writer *w, uint64_t seed, int face, const char *dir,
                       const char *stem, int *written, di_error *err);

#endif
