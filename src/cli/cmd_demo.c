/*
** cmd_demo.c: `depthindex demo`: writes synthetic street-canyon panoramas
** (four cube faces each) as depth maps, and with --jpeg their RGB pictures.
*/
#include "cli.h"
#include "demo/demo.h"
#include "io/io.h"
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: depthindex demo [OPTIONS] OUTDIR\n\n"
            "Writes N synthetic street panoramas (a street canyon: road, pavements,\n"
            "building facades at varying setbacks and heights, parked cars, lamp posts,\n"
            "open sky) as the depth maps of their four horizontal cube faces xm xp zm zp\n"
            "(90-degree pinhole views from 2.3-2.7 m), named demo{ID}_{face}.{ext} with\n"
            "ID = seed + i in six digits. Depth is metres along the optical axis; the sky\n"
            "is at 1000 m. The same seed always gives the same bytes.\n\n"
            "options:\n"
            "  --count N        panoramas to write (default 4)\n"
            "  --seed S         seed of the first panorama (default 1)\n"
            "  --size WxH       face size in pixels (default 512x512)\n"
            "  --format F       npy (float32 metres, default), png16 (uint16, 1/64 m),\n"
            "                   pfm (float32 metres)\n"
            "  --jpeg           also write each face's RGB picture as demo{ID}_{face}.jpg\n"
            "  --quality Q      JPEG quality 1..100 (default 90)\n"
            "  -h, --help       this help\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return 0;
    *v = x;
    return 1;
}

int di_cmd_demo(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        usage(stdout);
        return DI_EXIT_OK;
    }
    uint64_t count = 4, seed = 1, quality = 90;
    int width = 512, height = 512, jpeg = 0;
    const char *format = "npy", *outdir = NULL, *v;
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        if ((v = di_opt_value(argc, argv, &i, "--count", &bad))) {
            if (!parse_u64(v, &count) || count > 1000000) {
                di_cli_error("demo: --count wants a number from 0 to 1000000, not '%s'", v);
                return DI_EXIT_USAGE;
            }
        } else if ((v = di_opt_value(argc, argv, &i, "--seed", &bad))) {
            if (!parse_u64(v, &seed) || seed > 100000000000ull) {
                di_cli_error("demo: --seed wants a number from 0 to 1e11, not '%s'", v);
                return DI_EXIT_USAGE;
            }
        } else if ((v = di_opt_value(argc, argv, &i, "--quality", &bad))) {
            if (!parse_u64(v, &quality) || quality < 1 || quality > 100) {
                di_cli_error("demo: --quality wants 1..100, not '%s'", v);
                return DI_EXIT_USAGE;
            }
        } else if ((v = di_opt_value(argc, argv, &i, "--size", &bad))) {
            char extra;
            if (sscanf(v, "%dx%d%c", &width, &height, &extra) != 2 || width < 1 ||
                height < 1 || width > 16384 || height > 16384) {
                di_cli_error("demo: --size wants WxH (1..16384 each), not '%s'", v);
                return DI_EXIT_USAGE;
            }
        } else if ((v = di_opt_value(argc, argv, &i, "--format", &bad))) {
            if (strcmp(v, "npy") != 0 && strcmp(v, "png16") != 0 && strcmp(v, "pfm") != 0) {
                di_cli_error("demo: --format wants npy, png16 or pfm, not '%s'", v);
                return DI_EXIT_USAGE;
            }
            format = v;
        } else if (bad) {
            return DI_EXIT_USAGE; /* di_opt_value said what is missing */
        } else if (di_opt_flag(argv, i, "--jpeg")) {
            jpeg = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != 0) {
            di_cli_error("demo: unknown option '%s' (see depthindex demo --help)", argv[i]);
            return DI_EXIT_USAGE;
        } else if (!outdir) {
            outdir = argv[i];
        } else {
            di_cli_error("demo: one OUTDIR only ('%s' and '%s')", outdir, argv[i]);
            return DI_EXIT_USAGE;
        }
    }
    if (!outdir) {
        di_cli_error("demo: OUTDIR is missing (see depthindex demo --help)");
        return DI_EXIT_USAGE;
    }
    di_error derr;
    if (di_make_dirs(outdir, &derr)) {
        di_cli_error("demo: %s", derr.msg);
        return DI_EXIT_USAGE;
    }
    di_demo_format fmt = strcmp(format, "png16") == 0 ? DI_DEMO_PNG16
                         : strcmp(format, "pfm") == 0 ? DI_DEMO_PFM : DI_DEMO_NPY;
    di_demo_writer w;
    if (di_demo_writer_init(&w, width, height, fmt, jpeg ? (int)quality : 0, &derr)) {
        di_cli_error("demo: %s", derr.msg);
        return DI_EXIT_USAGE;
    }
    int status = DI_EXIT_OK;
    int written = 0;
    for (uint64_t p = 0; p < count && status == DI_EXIT_OK; p++) {
        uint64_t id = seed + p;
        for (int f = 0; f < DI_DEMO_FACES && status == DI_EXIT_OK; f++) {
            di_error e = {0};
            char stem[64];
            snprintf(stem, sizeof stem, "demo%06" PRIu64 "_%s", id, di_demo_face_names[f]);
            if (di_demo_write_face(&w, id, f, outdir, stem, &written, &e)) {
                di_cli_error("demo: %s", e.msg);
                status = DI_EXIT_SOME_FAILED;
            }
        }
    }
    di_demo_writer_free(&w);
    printf("wrote %d files (%" PRIu64 " panoramas x %d faces, %dx%d, %s%s) to %s\n",
           written, count, DI_DEMO_FACES, width, height, format, jpeg ? " + jpeg" : "",
           outdir);
    return status;
}
