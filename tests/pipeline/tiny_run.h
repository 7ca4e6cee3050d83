/*
** tiny_run.h: what the pipeline tests that drive di_pipeline directly with
** a tiny model share (test_start_fail.c, test_engine_thread.c,
** test_side_sched.c, test_streams_threads.c): the process's thread count, a
** temporary folder with a demo database, its images and
** tests/pipeline/tiny_onnx.py's model, made through the CLI, and the
** configuration of a CPU run over them.
*/
#ifndef DI_TEST_TINY_RUN_H
#define DI_TEST_TINY_RUN_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "pipeline/pipeline.h"

/* The process's threads (/proc/self/task), or -1. */
static inline int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

typedef struct tiny_run {
    char url[256], images[256], model[256];
} tiny_run;

/* In the folder tmp: `cli init` of faces demo faces of face_size pixels into
** t.db and img/, and tiny_onnx.py's model at model_size (python and
** tiny_py: the test's arguments). 0 when both commands succeeded. */
static inline int tiny_run_setup(tiny_run *t, const char *tmp, const char *cli, const char *python,
                                 const char *tiny_py, int faces, int face_size, int model_size)
{
    char cmd[4096];
    snprintf(t->url, sizeof t->url, "sqlite:%s/t.db", tmp);
    snprintf(t->images, sizeof t->images, "%s/img", tmp);
    snprintf(t->model, sizeof t->model, "%s/tiny.onnx", tmp);
    snprintf(cmd, sizeof cmd, "'%s' init --db '%s' --demo %d --images '%s' --size %d "
             ">/dev/null && '%s' '%s' '%s' %d", cli, t->url, faces, t->images, face_size, python,
             tiny_py, t->model, model_size);
    return system(cmd);
}

/* cfg: the defaults, then a CPU run of t's model over its images and
** database that scores every face again (--force). */
static inline void tiny_run_config(const tiny_run *t, di_pipeline_config *cfg)
{
    di_pipeline_config_default(cfg);
    cfg->store.url = t->url;
    cfg->force = true;
    cfg->images_dir = t->images;
    cfg->model_path = t->model;
    cfg->nn.device = DI_NN_CPU;
}

#endif
