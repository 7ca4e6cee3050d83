/*
** scene.h: the street canyon behind src/demo (internal). A scene is a list of
** axis-aligned boxes standing on the ground plane y = 0 (buildings, parked
** cars, lamp posts) on both sides of a street that runs along z; the camera
** stands on the street at about 2.5 m. Generated from a seed with
** splitmix64, in double precision with + - * / only, so the same seed gives
** the same bits everywhere.
*/
#ifndef DI_DEMO_SCENE_H
#define DI_DEMO_SCENE_H

#include <stdint.h>

#define SCENE_MAX_BOXES 320
#define SCENE_SKY_DEPTH 1000.0 /* metres along the optical axis */

enum box_kind { BOX_BUILDING, BOX_CAR, BOX_POLE };

typedef struct box {
    double x0, x1, z0, z1, height; /* x0 < x1, z0 < z1; y from 0 to height */
    int kind;
    uint8_t colour[3];
    double floor_height, window_pitch; /* buildings: facade grid */
} box;

typedef struct scene {
    double cam_x, cam_y;  /* camera at (cam_x, cam_y, 0) */
    double road_half;     /* kerb at |x| = road_half */
    int nboxes;
    box boxes[SCENE_MAX_BOXES];
} scene;

uint64_t scene_splitmix64(uint64_t *state);
void scene_generate(uint64_t seed, scene *s);

#endif
