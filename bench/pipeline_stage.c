/* pipeline_stage.c: the slowest stage of `depthindex run --depth-dir` alone,
** for bench/run-pipeline.sh: THREADS threads read depth maps and score them
** with exactly the calls a post-processing worker makes (di_depth_read,
** di_feature_compute), with no database, queues or other stages. Prints
** "N images/s".
** usage: pipeline_stage THREADS FILELIST */
#include "feature/feature.h"
#include "io/io.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **files;
static int nfiles;
static atomic_int next, failed;

static void *work(void *arg)
{
    (void)arg;
    di_feature_ws *ws = di_feature_ws_create();
    di_feature_params p;
    di_feature_params_default(&p);
    int i;
    while (ws && (i = atomic_fetch_add(&next, 1)) < nfiles) {
        di_depth d = {0};
        di_feature_result r;
        di_error e = {0};
        if (di_depth_read(files[i], &d, &e) ||
            di_feature_compute(ws, d.data, d.width, d.height, &p, &r, &e))
            atomic_fetch_add(&failed, 1);
        di_depth_free(&d);
    }
    di_feature_ws_destroy(ws);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pipeline_stage THREADS FILELIST\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    FILE *f = fopen(argv[2], "r");
    if (threads < 1 || threads > 256 || !f) {
        fprintf(stderr, "pipeline_stage: bad thread count or file list\n");
        return 2;
    }
    char line[4096];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (nfiles == cap) {
            cap = cap ? 2 * cap : 1024;
            files = realloc(files, (size_t)cap * sizeof *files);
        }
        files[nfiles++] = strdup(line);
    }
    fclose(f);
    pthread_t t[256];
    double t0 = di_now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = di_now() - t0;
    printf("%.1f images/s\n", nfiles / dt);
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return atomic_load(&failed) ? 1 : 0;
}
