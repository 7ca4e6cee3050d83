/* sched.c: how the engine and the CPU-side threads share the cores: the
** split of the threads between them and the scheduling of the side threads
** around the engine's batches (di_side_sched, pipeline.h). */
#include "internal.h"

#include <unistd.h>

di_side_sched di_pipeline_side_sched(const di_pipeline_config *c, int engine_threads,
                                     int cores)
{
    if (c->side_sched != DI_SIDE_AUTO)
        return c->side_sched;
    /* on CUDA the CPU stages must keep up with the device beside it; with
    ** depth maps from files there is no engine to yield to; an engine that
    ** leaves cores free leaves them to the side threads */
    return !c->depth_dir && c->nn.device != DI_NN_CUDA && engine_threads >= cores
               ? DI_SIDE_GATE
               : DI_SIDE_NORMAL;
}

void di_pipe_engine_on(di_pipeline *p, bool on)
{
    if (p->side != DI_SIDE_GATE) {
        atomic_store(&p->engine_on, on);
        return;
    }
    pthread_mutex_lock(&p->gate_lock);
    atomic_store(&p->engine_on, on);
    if (!on)
        pthread_cond_broadcast(&p->gate_cond);
    pthread_mutex_unlock(&p->gate_lock);
}

void di_pipe_gate_wait(di_pipeline *p)
{
    if (p->side != DI_SIDE_GATE) {
        if (p->model_mode && atomic_load(&p->engine_on))
            atomic_fetch_add(&p->side_overlap, 1);
        return;
    }
    pthread_mutex_lock(&p->gate_lock);
    while (atomic_load(&p->engine_on))
        pthread_cond_wait(&p->gate_cond, &p->gate_lock);
    pthread_mutex_unlock(&p->gate_lock);
}

int di_pipe_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* On a CPU-only machine the engine and the pools share the cores. Inference
** is by far the heaviest stage (tens of ms per image against about a
** millisecond to decode or score one), so it gets the cores and the pools
** get a small share; on a small machine the engine takes every core and the
** pools wait for its gaps (DI_SIDE_GATE, set after this: then they get a
** thread per core, di_pipeline_create). */
void di_pipe_choose_split(di_pipeline *p)
{
    int n = di_pipe_cores();
    const di_pipeline_config *c = &p->cfg;
    if (!p->model_mode) {
        p->nworkers = c->workers > 0 ? c->workers : n;
        p->ndecoders = 0;
        return;
    }
    int side = n / 8 > 1 ? n / 8 : 1;
    if (c->nn.device == DI_NN_CUDA) {
        /* the GPU does the inference: the CPU feeds and drains it */
        int half = n / 2 > 1 ? n / 2 : 1;
        p->ndecoders = c->decoders > 0 ? c->decoders : half;
        p->nworkers = c->workers > 0 ? c->workers : half;
        if (p->cfg.nn.threads <= 0)
            p->cfg.nn.threads = 1;
    } else {
        p->ndecoders = c->decoders > 0 ? c->decoders : side;
        p->nworkers = c->workers > 0 ? c->workers : side;
        /* The engine's threads (--threads, or the cores less the pools'
        ** share) are the total for all streams: each stream's session runs
        ** its own OpenMP team, so N sessions of every thread would put N
        ** times the cores to work, and libgomp, counting more threads than
        ** cores, throttles every thread's spin (bench/RESULTS.md, OpenMP
        ** wait policy). Each stream gets its share, at least one. */
        int total = c->nn.threads > 0 ? c->nn.threads : n <= 4 ? n : n - side;
        int streams = p->ninfer > 0 ? p->ninfer : 1;
        p->cfg.nn.threads = total / streams > 1 ? total / streams : 1;
    }
}
