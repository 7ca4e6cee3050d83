/*
** cmd_score.c: `depthindex score [OPTIONS] FILE...`: the depth congestion
** index of depth map files (PNG, NPY, PFM), one line per file.
**
** A file that cannot be read or scored gets one line on stderr naming it and
** the reason; the others are still scored, and the exit code is then 1.
** Usage errors exit 2 before anything is scored. Options and files may be
** mixed; "--" ends the options.
*/
#include "cli.h"
#include "feature/feature.h"
#include "io/io.h"
#include "options.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static void usage(FILE *f)
{
    fprintf(f,
        "usage: depthindex score [OPTIONS] FILE...\n"
        "\n"
        "Scores depth maps (PNG 8/16-bit grey, NPY uint8/uint16/float32/float64,\n"
        "PFM): the depth congestion index, the mean of a Gaussian blur of the\n"
        "edges between the k-means depth layers (see README, What it computes).\n"
        "Prints one line per file: FILE<TAB>SCORE (six decimals).\n"
        "\n"
        "options:\n"
        "  --k N             depth layers (k-means clusters), 1 to %d [4]\n"
        "  --canny LOW,HIGH  Canny hysteresis thresholds [100,200]\n"
        "  --ksize K         Gaussian kernel size, odd, 1 to 4095 [71]\n"
        "  --sigma S         Gaussian sigma; 0 or less: from the kernel size,\n"
        "                    as OpenCV [7]\n"
        "  --save-maps DIR   also write DIR/NAME.png per input (NAME: the file's\n"
        "                    name without its extension): depth, depth layers,\n"
        "                    edges and congestion heatmap, with the name and score\n"
        "  --json            one JSON object per line instead: file, score,\n"
        "                    centres (ascending, 8-bit depth units), k (clusters\n"
        "                    used), edge_fraction, width, height\n"
        "  -h, --help        this help\n"
        "  --                what follows is files, even if it starts with -\n"
        "\n"
        "exit status: 0 all scored; 1 some files failed (each named on stderr);\n"
        "2 usage error.\n",
        DI_KMEANS_MAX_K);
}

static int parse_int(const char *s, int *out)
{
    long long v;
    if (!di_opt_int(s, INT_MIN, INT_MAX, &v))
        return -1;
    *out = (int)v;
    return 0;
}

/* JSON string body with the escapes JSON needs. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* DIR/NAME.png with NAME the base name of path without its extension. */
static void panel_path(const char *dir, const char *path, char *out,
                       size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(out, size, "%s/%.*s.png", dir, len, base);
}

typedef struct panel_name {
    char path[4096];
    const char *file;
} panel_name;

static int panel_cmp(const void *a, const void *b)
{
    return strcmp(((const panel_name *)a)->path, ((const panel_name *)b)->path);
}

/* Two inputs with one base name (a/x.npy, b/x.png) would write one picture
** over the other: refused before anything is scored. */
static int check_panel_names(const char *dir, char **files, int n)
{
    panel_name *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        di_cli_error("score: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        panel_path(dir, files[i], v[i].path, sizeof v[i].path);
        v[i].file = files[i];
    }
    qsort(v, (size_t)n, sizeof *v, panel_cmp);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (strcmp(v[i - 1].path, v[i].path) == 0) {
            di_cli_error("score: --save-maps: %s and %s would both write %s (give files "
                         "with different names, or score them in separate runs)",
                         v[i - 1].file, v[i].file, v[i].path);
            rc = -1;
        }
    free(v);
    return rc;
}

#if defined(__GLIBC__)
/* The first file's buffers (the reader's and the workspace's, about 4 MB at
** 512x512) are first touched one 4 KiB page at a time, a page fault each:
** about 1,000 faults, 10-15 ms on a virtual machine, the cost of 40 maps'
** scores. Marking the heap's next SIZE bytes for transparent huge pages
** (where the kernel leaves that to madvise) makes that a few 2 MiB faults,
** and the scans over the maps then miss the TLB less. The block is given
** back to malloc at once: it stays the top of the heap (the trim threshold
** above), where the buffers are then carved from. Nothing is touched here;
** where huge pages are off this changes nothing.
** Only whole 2 MiB pages can be huge: the part of the block before the first
** 2 MiB boundary stays in 4 KiB pages, and the first buffer carved from the
** top (the reader's file buffer, 1.5 MB at 512x512) used to land there:
** 270 faults of 10-20 us each on this VM, more than the rest of the start-up.
** A block that is never touched (kept, so that malloc does not hand its
** room out again) fills that part, and the buffers start at the boundary. */
static void *heap_pad;

static void heap_in_huge_pages(size_t size)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    char *p = malloc(size);
    if (!p)
        return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t e = ((uintptr_t)p + size) & ~(huge - 1);
    if (e > a)
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
    free(p);
    if (e > a && a - (uintptr_t)p >= 4096)
        heap_pad = malloc(a - (uintptr_t)p);
}
#endif

/* Output is flushed at most this often while files are scored (a reader of
** the pipe still sees progress) instead of after every file: a write per
** file costs more than a percent of a 512x512 map's score. */
#define FLUSH_EVERY_S 0.2

int di_cmd_score(int argc, char **argv)
{
    di_feature_params p;
    di_feature_params_default(&p);
    const char *maps_dir = NULL;
    int json = 0;
    /* Files may come before, between or after options; after "--" every
    ** argument is a file. argv is reordered so that files keep their order. */
    int nfiles = 0;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        di_cli_error("score: out of memory");
        return DI_EXIT_USAGE;
    }
    int rc_usage = -1;
    for (int i = 1; i < argc && rc_usage < 0; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--") == 0) {
            while (++i < argc)
                files[nfiles++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            files[nfiles++] = argv[i];
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            rc_usage = DI_EXIT_OK;
            break;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        /* Options with a value: --opt VALUE or --opt=VALUE. */
        static const char *const with_value[] = {"--k", "--canny", "--ksize",
                                                 "--sigma", "--save-maps"};
        const char *name = NULL;
        bool missing = false;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value && !name && !missing; k++)
            if ((val = di_opt_value(argc, argv, &i, with_value[k], &missing)))
                name = with_value[k];
        if (missing) { /* di_opt_value said so */
            rc_usage = DI_EXIT_USAGE;
            break;
        }
        if (!name) {
            di_cli_error("score: unknown option '%s' (see depthindex score "
                         "--help)", a);
            rc_usage = DI_EXIT_USAGE;
            break;
        }
        int bad = 0;
        if (strcmp(name, "--k") == 0)
            bad = parse_int(val, &p.k);
        else if (strcmp(name, "--canny") == 0) {
            double th[2] = {0, 0};
            bad = !di_opt_doubles(val, 2, th);
            p.canny_low = th[0];
            p.canny_high = th[1];
        } else if (strcmp(name, "--ksize") == 0)
            bad = parse_int(val, &p.ksize);
        else if (strcmp(name, "--sigma") == 0)
            bad = !di_opt_double(val, -DBL_MAX, DBL_MAX, &p.sigma);
        else
            maps_dir = val;
        if (bad) {
            di_cli_error("score: %s '%s': not a valid %s", name, val,
                         strcmp(name, "--canny") == 0 ? "LOW,HIGH pair of numbers"
                         : strcmp(name, "--sigma") == 0 ? "number"
                                                        : "integer");
            rc_usage = DI_EXIT_USAGE;
        }
    }
    di_error err;
    if (rc_usage < 0 && di_feature_params_check(&p, &err)) {
        di_cli_error("score: %s", err.msg);
        rc_usage = DI_EXIT_USAGE;
    }
    if (rc_usage < 0 && nfiles == 0) {
        di_cli_error("score: no depth map files given (see depthindex score "
                     "--help)");
        rc_usage = DI_EXIT_USAGE;
    }
    if (rc_usage < 0 && maps_dir && check_panel_names(maps_dir, files, nfiles))
        rc_usage = DI_EXIT_USAGE;
    if (rc_usage < 0 && maps_dir) {
        di_error derr;
        if (di_make_dirs(maps_dir, &derr)) {
            di_cli_error("score: --save-maps %s", derr.msg);
            rc_usage = DI_EXIT_USAGE;
        }
    }

    di_feature_ws *ws = rc_usage < 0 ? di_feature_ws_create() : NULL;
    di_depth_reader *reader = rc_usage < 0 ? di_depth_reader_create() : NULL;
    if (rc_usage < 0 && (!ws || !reader)) {
        di_cli_error("score: out of memory");
        rc_usage = DI_EXIT_USAGE;
    }
    /* Without pictures neither the 8-bit depth nor the labels are needed
    ** once the next step has read them: the labels and then the edges are
    ** computed over them in place (less memory traffic per map). */
    if (ws && !maps_dir)
        di_feature_ws_keep_images(ws, false);
    if (rc_usage >= 0) {
        di_feature_ws_destroy(ws);
        di_depth_reader_destroy(reader);
        free(files);
        return rc_usage;
    }
#if defined(__GLIBC__)
    /* NPY files are read into the reader's kept buffer; PNG and PFM
    ** decoders still allocate per file, in blocks of the same few sizes.
    ** Keeping freed large blocks in the heap (instead of returning them to
    ** the kernel at once) lets the next file reuse them without page faults,
    ** which otherwise cost more than the score itself. */
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 1024 << 20);
    heap_in_huge_pages((size_t)64 << 20);
#endif
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    /* SIGINT/SIGTERM: the file being scored is finished and its line
    ** printed, with every line before it, then exit 130/143 (output is
    ** buffered across files: a signal's default action would lose the
    ** lines of files already scored) */
    di_cli_catch_stop_signals();
    double flushed = di_now();
    int failed = 0, done = 0;
    for (int i = 0; i < nfiles && !di_cli_stop_signal; i++, done = i) {
        const char *path = files[i];
        const float *depth;
        int width, height;
        di_feature_result r;
        /* Read in place, unchecked: di_feature_compute refuses non-finite
        ** depth in its own min/max pass (one pass over the map, not two).
        ** read(), not mmap: the kernel's copy costs about 0.04-0.05 ms per
        ** 1 MB map, but mapping a cached file (MAP_POPULATE, MADV_WILLNEED
        ** or MADV_POPULATE_READ alike) and unmapping it cost 0.44-0.69 ms
        ** on the VM of bench/RESULTS.md (page-table updates trap to its
        ** hypervisor), 7-12 times the read and a scan (measured 2026-12-07). */
        int rc = di_depth_reader_read(reader, path, DI_DEPTH_UNCHECKED, &depth,
                                      &width, &height, &err);
        if (rc == DI_OK) {
            rc = di_feature_compute(ws, depth, width, height, &p, &r, &err);
            if (rc)
                di_error_prefix(&err, "%s", path);
        }
        if (rc) {
            /* Reader messages already name the file; the lines before it
            ** go out first, so that stdout and stderr keep their order. */
            fflush(stdout);
            di_cli_error("score: %s", err.msg);
            failed++;
            continue;
        }
        if (json) {
            printf("{\"file\": ");
            json_string(stdout, path);
            printf(", \"score\": %.17g, \"k\": %d, \"centres\": [", r.score,
                   r.k_eff);
            for (int c = 0; c < r.k_eff; c++)
                printf("%s%.17g", c ? ", " : "", r.centres[c]);
            printf("], \"edge_fraction\": %.17g, \"width\": %d, \"height\": %d}\n",
                   r.edge_fraction, r.width, r.height);
        } else {
            printf("%s\t%.6f\n", path, r.score);
        }
        double now = di_now();
        if (now - flushed >= FLUSH_EVERY_S) {
            fflush(stdout);
            flushed = now;
        }
        if (maps_dir) {
            char out[4096];
            panel_path(maps_dir, path, out, sizeof out);
            const char *base = strrchr(path, '/');
            if (di_feature_save_panel(ws, &p, &r, base ? base + 1 : path, out,
                                      &err)) {
                fflush(stdout);
                di_cli_error("score: %s: picture: %s", path, err.msg);
                failed++;
            }
        }
    }
    fflush(stdout);
    di_feature_ws_destroy(ws);
    di_depth_reader_destroy(reader);
    free(files);
#if defined(__GLIBC__)
    free(heap_pad);
    heap_pad = NULL;
#endif
    if (di_cli_stop_signal) {
        di_cli_error("score: %s after %d of %d files; the lines above are theirs",
                     di_cli_stop_signal == SIGTERM ? "terminated" : "interrupted", done, nfiles);
        return di_cli_stop_signal == SIGTERM ? DI_EXIT_SIGTERM : DI_EXIT_SIGINT;
    }
    return failed ? DI_EXIT_SOME_FAILED : DI_EXIT_OK;
}
