/* scene.c: a seeded street canyon (see scene.h). */
#include "scene.h"

uint64_t scene_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi): 53 random bits, exact in double. */
static double uniform(uint64_t *st, double lo, double hi)
{
    double u = (double)(scene_splitmix64(st) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

static const uint8_t facade_palette[][3] = {
    {176, 148, 118}, {196, 180, 160}, {150, 96, 80},  {210, 205, 195},
    {120, 120, 125}, {185, 160, 110}, {160, 170, 175}, {140, 110, 95},
    {225, 215, 190}, {105, 95, 90},
};
static const uint8_t car_palette[][3] = {
    {180, 30, 30}, {30, 60, 150}, {220, 220, 220}, {30, 30, 35}, {150, 150, 155},
    {40, 110, 60}, {200, 170, 40},
};

static box *add(scene *s)
{
    return s->nboxes < SCENE_MAX_BOXES ? &s->boxes[s->nboxes++] : 0;
}

void scene_generate(uint64_t seed, scene *s)
{
    uint64_t st = seed ^ 0x6a09e667f3bcc908ull; /* seed 0 is fine too */
    s->nboxes = 0;
    s->road_half = uniform(&st, 4.0, 7.5);
    s->cam_x = uniform(&st, -0.4, 0.4) * s->road_half;
    s->cam_y = uniform(&st, 2.3, 2.7);
    const double street_len = 260.0;
    for (int side = -1; side <= 1; side += 2) {
        double sidewalk = uniform(&st, 1.5, 5.0);
        /* Buildings, one after another along the street, sometimes an alley. */
        for (double z = -street_len; z < street_len;) {
            double len = uniform(&st, 8.0, 35.0);
            if (uniform(&st, 0, 1) < 0.15)
                z += uniform(&st, 3.0, 12.0); /* alley: sky and depth behind */
            double setback = s->road_half + sidewalk + (uniform(&st, 0, 1) < 0.3
                                                            ? uniform(&st, 0.5, 6.0)
                                                            : 0.0);
            double depth = uniform(&st, 12.0, 30.0);
            box *b = add(s);
            if (!b)
                break;
            b->kind = BOX_BUILDING;
            b->x0 = side < 0 ? -setback - depth : setback;
            b->x1 = side < 0 ? -setback : setback + depth;
            b->z0 = z;
            b->z1 = z + len;
            b->height = uniform(&st, 6.0, 45.0);
            const uint8_t *c = facade_palette[scene_splitmix64(&st) % 10];
            b->colour[0] = c[0], b->colour[1] = c[1], b->colour[2] = c[2];
            b->floor_height = uniform(&st, 2.9, 3.6);
            b->window_pitch = uniform(&st, 1.8, 3.2);
            z += len;
        }
        /* Lamp posts at the kerb. */
        for (double z = -street_len + uniform(&st, 0, 30); z < street_len;
             z += uniform(&st, 22.0, 34.0)) {
            box *b = add(s);
            if (!b)
                break;
            double x = side * (s->road_half + 0.5);
            b->kind = BOX_POLE;
            b->x0 = x - 0.12, b->x1 = x + 0.12;
            b->z0 = z - 0.12, b->z1 = z + 0.12;
            b->height = uniform(&st, 6.0, 8.0);
            b->colour[0] = b->colour[1] = b->colour[2] = 85;
            b->floor_height = b->window_pitch = 0;
        }
        /* Parked cars along the kerb near the camera. */
        for (double z = -90 + uniform(&st, 0, 6); z < 90;) {
            if (uniform(&st, 0, 1) < 0.6) {
                box *b = add(s);
                if (!b)
                    break;
                double len = uniform(&st, 3.8, 4.9), wid = uniform(&st, 1.7, 1.9);
                double xc = side * (s->road_half - 0.3 - wid / 2);
                b->kind = BOX_CAR;
                b->x0 = xc - wid / 2, b->x1 = xc + wid / 2;
                b->z0 = z, b->z1 = z + len;
                b->height = uniform(&st, 1.4, 1.9);
                const uint8_t *c = car_palette[scene_splitmix64(&st) % 7];
                b->colour[0] = c[0], b->colour[1] = c[1], b->colour[2] = c[2];
                b->floor_height = b->window_pitch = 0;
                z += len + uniform(&st, 0.8, 3.0);
            } else {
                z += uniform(&st, 4.0, 12.0);
            }
        }
    }
    /* The camera is never inside a box: |cam_x| <= 0.4 * road_half while the
    ** cars' inner sides are at least road_half - 2.2 >= 0.45 * road_half
    ** from the middle (road_half >= 4), and cars are lower than the camera. */
}
