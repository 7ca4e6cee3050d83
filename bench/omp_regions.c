/*
** omp_regions.c: an LD_PRELOAD module that counts the OpenMP parallel
** regions a process opens (libgomp's GOMP_parallel, which both oneDNN, built
** on OpenMP in Debian, and our own `omp parallel` loops enter) and prints the
** count on stderr at exit: "omp-regions N". bench/run-transformer-threads.sh
** runs bench_engine with it at two repeat counts and divides the difference
** by the runs between them: regions per image, each a fork and a join in
** which a thread that the machine preempted holds up the other. No other
** effect: each call goes on to libgomp's own.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>

typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);

static atomic_long regions;

void GOMP_parallel(void (*fn)(void *), void *data, unsigned nthreads, unsigned flags);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned nthreads, unsigned flags)
{
    static gomp_parallel_fn next;
    if (!next)
        next = (gomp_parallel_fn)dlsym(RTLD_NEXT, "GOMP_parallel");
    atomic_fetch_add_explicit(&regions, 1, memory_order_relaxed);
    next(fn, data, nthreads, flags);
}

__attribute__((destructor)) static void omp_regions_report(void)
{
    fprintf(stderr, "omp-regions %ld\n", atomic_load(&regions));
}
