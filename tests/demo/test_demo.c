/*
** test_demo.c: the synthetic street canyon. Determinism (the same seed gives
** the same bytes across runs, and the bytes pinned here, which were computed
** once on x86-64: a change of the scene or of floating-point behaviour shows
** up as a changed hash), plausible depth, faces and seeds that differ, and
** `depthindex demo` writing files that read back as the same depth.
*/
#include "check.h"
#include "../io/testutil.h"
#include "demo/demo.h"
#include "io/io.h"

#include <math.h>

enum { W = 96, H = 64 };

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_seed(uint64_t seed, int w, int h)
{
    float *d = malloc((size_t)w * h * sizeof(float));
    uint8_t *rgb = malloc((size_t)w * h * 3);
    uint64_t x = 0xcbf29ce484222325ull;
    for (int f = 0; f < DI_DEMO_FACES; f++) {
        di_demo_render(seed, f, w, h, d, rgb);
        x = fnv1a(d, (size_t)w * h * sizeof(float), x);
        x = fnv1a(rgb, (size_t)w * h * 3, x);
    }
    free(d);
    free(rgb);
    return x;
}

static void test_determinism(void)
{
    /* Pinned: update only when the scene is changed on purpose. */
    const struct { uint64_t seed; int w, h; uint64_t hash; } pinned[] = {
        {1, W, H, 0xf4ea2132dbc9d4d7ull},
        {424242, 257, 129, 0xdf324198a6c21c18ull},
    };
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        uint64_t a = hash_seed(pinned[i].seed, pinned[i].w, pinned[i].h);
        uint64_t b = hash_seed(pinned[i].seed, pinned[i].w, pinned[i].h);
        CHECK(a == b);
        CHECKF(a == pinned[i].hash, "seed %llu %dx%d: hash 0x%016llxull",
               (unsigned long long)pinned[i].seed, pinned[i].w, pinned[i].h,
               (unsigned long long)a);
    }
    CHECK(hash_seed(2, W, H) != hash_seed(3, W, H));
}

static void test_plausible(void)
{
    float d[DI_DEMO_FACES][W * H], d2[W * H];
    uint8_t rgb[W * H * 3];
    for (uint64_t seed = 0; seed < 30; seed++) {
        for (int f = 0; f < DI_DEMO_FACES; f++) {
            di_demo_depth(seed, f, W, H, d[f]);
            int finite = 1, sky = 0, near = 0;
            for (int i = 0; i < W * H; i++) {
                finite &= isfinite(d[f][i]) && d[f][i] > 0.1f && d[f][i] <= 1000.0f;
                sky += d[f][i] == 1000.0f;
                near += d[f][i] < 60.0f;
            }
            CHECKF(finite, "seed %llu face %d", (unsigned long long)seed, f);
            /* Most of every face is street, cars and facades. */
            CHECKF(near > W * H / 2, "seed %llu face %d: %d near pixels",
                   (unsigned long long)seed, f, near);
            /* The bottom row is ground or a car, a few metres away. */
            for (int x = 0; x < W; x += 7)
                CHECK(d[f][(H - 1) * W + x] < 15.0f);
            /* Looking along the street, the sky shows at the vanishing point. */
            if (f >= 2)
                CHECKF(sky > 0, "seed %llu face %s: no sky", (unsigned long long)seed,
                       di_demo_face_names[f]);
            /* The render's depth is the depth. */
            di_demo_render(seed, f, W, H, d2, rgb);
            CHECK(memcmp(d[f], d2, sizeof d2) == 0);
        }
        for (int a = 0; a < DI_DEMO_FACES; a++)
            for (int b = a + 1; b < DI_DEMO_FACES; b++)
                CHECK(memcmp(d[a], d[b], sizeof d[a]) != 0);
    }
    /* Depth is along the optical axis: in the zp face, the facades to the side
    ** of a wall ahead have the same depth across a row only if flat; check
    ** instead that the sky pixel at the top centre of zp is 1000 m. */
    di_demo_depth(7, 3, W, H, d[0]);
    CHECK(d[0][W / 2] == 1000.0f);
    /* A bad face or size writes nothing and does not crash. */
    d2[0] = -1;
    di_demo_depth(7, 4, W, H, d2);
    di_demo_depth(7, -1, W, H, d2);
    di_demo_depth(7, 0, 0, H, d2);
    CHECK(d2[0] == -1);
    /* 1x1 faces work. */
    di_demo_depth(7, 0, 1, 1, d2);
    CHECK(isfinite(d2[0]) && d2[0] > 0);
}

static int run(const char *args)
{
    const char *exe = getenv("DEPTHINDEX");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' demo %s >/dev/null 2>&1", exe, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(void)
{
    const char *exe = getenv("DEPTHINDEX");
    if (!exe || access(exe, X_OK) != 0) {
        printf("no DEPTHINDEX executable: CLI part skipped\n");
        return;
    }
    char args[700];
    const char *formats[] = {"npy", "png16", "pfm"};
    const char *exts[] = {"npy", "png", "pfm"};
    float want[W * H];
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args, "--count 2 --seed 41 --size %dx%d --format %s %s '%s'",
                 W, H, formats[k], k == 0 ? "--jpeg" : "", tu_path(formats[k]));
        CHECK(run(args) == 0);
        for (int id = 41; id <= 42; id++)
            for (int f = 0; f < DI_DEMO_FACES; f++) {
                char name[64];
                snprintf(name, sizeof name, "%s/demo%06d_%s.%s", formats[k], id,
                         di_demo_face_names[f], exts[k]);
                di_depth d;
                di_error e = {0};
                CHECKF(di_depth_read(tu_path(name), &d, &e) == 0, "%s", e.msg);
                if (!d.data)
                    continue;
                CHECK(d.width == W && d.height == H);
                di_demo_depth((uint64_t)id, f, W, H, want);
                double maxerr = 0;
                for (int i = 0; i < W * H; i++) {
                    double got = k == 1 ? d.data[i] / 64.0 : d.data[i];
                    double err = fabs(got - (want[i] < 1023.98 ? want[i] : 1023.98));
                    maxerr = err > maxerr ? err : maxerr;
                }
                CHECKF(maxerr <= (k == 1 ? 1.0 / 128 + 1e-6 : 0), "%s: %g", name, maxerr);
                di_depth_free(&d);
                if (k == 0) {
                    snprintf(name, sizeof name, "npy/demo%06d_%s.jpg", id, di_demo_face_names[f]);
                    size_t n;
                    uint8_t *b = tu_read(tu_path(name), &n);
                    di_image img;
                    CHECK(b && di_jpeg_decode_mem(b, n, name, 0, 0, &img, NULL, NULL, &e) == 0 &&
                          img.width == W && img.height == H);
                    di_image_free(&img);
                    free(b);
                }
            }
    }
    CHECK(run("--help") == 0);
    CHECK(run("--count x /tmp") == 2);
    CHECK(run("--format tiff /tmp") == 2);
    CHECK(run("--size 10 /tmp") == 2);
    CHECK(run("--bogus /tmp") == 2);
    CHECK(run("") == 2);
    snprintf(args, sizeof args, "--count 1 '%s/npy/demo000041_xm.npy/sub'", tu_dir);
    CHECK(run(args) == 2); /* OUTDIR under a file */
}

/* The writer of src/demo (what `demo` and `init --demo` use): one face, its
** depth as PFM and its picture as JPEG; a folder that is missing fails with
** the path named. */
static void test_writer(void)
{
    di_demo_writer w;
    di_error e = {0};
    CHECKF(di_demo_writer_init(&w, W, H, DI_DEMO_PFM, 90, &e) == 0, "%s", e.msg);
    int written = 0;
    CHECKF(di_demo_write_face(&w, 7, 2, tu_dir, "writer_zm", &written, &e) == 0, "%s", e.msg);
    CHECK(written == 2);
    di_depth d;
    float want[W * H];
    di_demo_depth(7, 2, W, H, want);
    CHECKF(di_depth_read(tu_path("writer_zm.pfm"), &d, &e) == 0, "%s", e.msg);
    CHECK(d.data && d.width == W && d.height == H && memcmp(d.data, want, sizeof want) == 0);
    di_depth_free(&d);
    CHECK(access(tu_path("writer_zm.jpg"), R_OK) == 0);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir", tu_dir);
    CHECK(di_demo_write_face(&w, 7, 2, missing, "x", &written, &e) != 0);
    CHECKF(strstr(e.msg, "no/such/dir") != NULL, "%s", e.msg);
    CHECK(written == 2);
    di_demo_writer_free(&w);
}

int main(void)
{
    tu_mkdir();
    test_determinism();
    test_writer();
    test_plausible();
    test_cli();
    tu_cleanup();
    return check_summary();
}
