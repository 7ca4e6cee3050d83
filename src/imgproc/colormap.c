/*
** colormap.c: a "turbo"-like rainbow colour map (dark blue, blue, cyan,
** green, yellow, orange, red, dark red) for depth and heat pictures,
** interpolated linearly between control points chosen for this project.
*/
#include "imgproc.h"

static const uint8_t stops[11][3] = {
    {48, 18, 59},   {68, 80, 190},  {62, 140, 250}, {30, 195, 225},
    {35, 235, 165}, {110, 250, 90}, {180, 240, 50}, {240, 195, 55},
    {250, 120, 30}, {210, 50, 10},  {122, 4, 3},
};

void di_colormap(uint8_t v, uint8_t rgb[3])
{
    /* 10 segments over 0..255: position in units of 1/2550. */
    int pos = v * 10;
    int seg = pos / 255;
    if (seg > 9)
        seg = 9;
    int frac = pos - seg * 255; /* 0..255 within the segment */
    for (int c = 0; c < 3; c++) {
        int a = stops[seg][c], b = stops[seg + 1][c];
        rgb[c] = (uint8_t)(a + ((b - a) * frac + 127) / 255);
    }
}
