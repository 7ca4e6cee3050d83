/*
** fuzz_jpeg.c: the JPEG decoder, at full size and with DCT scaling. Images
** declaring more than 4 Mpixels are only sized, not decoded: their cost is
** the decoder's normal work on a big picture, not a bug (the size limit
** itself is tested in tests/io).
*/
#include "fuzz_common.h"

#define FUZZ_MAX_PIXELS (1 << 22)

static void check_image(int rc, di_image *img, const di_error *e, int min_w, int min_h,
                        int fw, int fh)
{
    if (rc != DI_OK) {
        fuzz_check_error(rc, e);
        if (img->data)
            abort();
        return;
    }
    if (!img->data || img->channels != 3 || img->width <= 0 || img->height <= 0 ||
        img->width > fw || img->height > fh)
        abort();
    /* The scaled image covers the request (or is the full image). */
    if ((img->width < min_w || img->height < min_h) && (img->width != fw || img->height != fh))
        abort();
    volatile unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++)
        sum += img->data[i];
    (void)sum;
    di_image_free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    di_error e = {0};
    int w, h;
    int rc = di_jpeg_read_size_mem(data, size, "fuzz.jpg", &w, &h, &e);
    if (rc != DI_OK) {
        fuzz_check_error(rc, &e);
        return 0;
    }
    if ((uint64_t)w * (uint64_t)h > FUZZ_MAX_PIXELS)
        return 0;
    di_image img;
    int fw, fh;
    rc = di_jpeg_decode_mem(data, size, "fuzz.jpg", 0, 0, &img, &fw, &fh, &e);
    check_image(rc, &img, &e, 0, 0, fw, fh);
    int min_w = w / 3 + 1, min_h = h / 5 + 1;
    rc = di_jpeg_decode_mem(data, size, "fuzz.jpg", min_w, min_h, &img, &fw, &fh, &e);
    check_image(rc, &img, &e, min_w, min_h, fw, fh);
    return 0;
}
